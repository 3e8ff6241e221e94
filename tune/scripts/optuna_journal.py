"""Round-trip helper for ferroptim-tune's journal tests: the real Optuna reads and writes the file.

    python optuna_journal.py dump PATH STUDY          # load_study, print the study as JSON
    python optuna_journal.py write PATH STUDY N SEED  # run N trials of a small objective, then dump
    python optuna_journal.py hold-lock PATH SECONDS   # take Optuna's lock, print "locked <ms>", hold it
    python optuna_journal.py reprs < numbers.json     # json.dumps(float(s)) of each string

The dump is plain JSON (non-finite floats become the strings "NaN", "Infinity", "-Infinity"),
datetimes are ISO 8601 in UTC with microseconds, distributions are Optuna's JSON, parsed.
"""

from __future__ import annotations

import json
import math
import sys
import time
from datetime import timezone
from typing import Any

import optuna
from optuna.distributions import distribution_to_json
from optuna.storages import JournalStorage

try:  # Optuna >= 4.0
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
except ImportError:  # Optuna 3.x
    from optuna.storages import JournalFileStorage as JournalFileBackend  # type: ignore
    from optuna.storages import JournalFileSymlinkLock  # type: ignore


def plain(v: Any) -> Any:
    """JSON without NaN/Infinity tokens, so that any JSON parser reads it."""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def iso(dt: Any) -> str | None:
    # Optuna's journal gives naive local datetimes; astimezone() reads them as local time.
    return None if dt is None else dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def storage(path: str) -> JournalStorage:
    return JournalStorage(JournalFileBackend(path))


def dump(study: optuna.Study) -> dict[str, Any]:
    trials = []
    for t in study.get_trials(deepcopy=False):
        trials.append(
            {
                "trial_id": t._trial_id,
                "number": t.number,
                "state": t.state.name,
                "values": plain(t.values),
                "params": plain(t.params),
                "param_types": {k: type(v).__name__ for k, v in t.params.items()},
                "distributions": {k: json.loads(distribution_to_json(d)) for k, d in t.distributions.items()},
                "intermediate_values": plain(t.intermediate_values),
                "user_attrs": plain(t.user_attrs),
                "system_attrs": plain(t.system_attrs),
                "datetime_start": iso(t.datetime_start),
                "datetime_complete": iso(t.datetime_complete),
            }
        )
    return {
        "optuna_version": optuna.__version__,
        "study_name": study.study_name,
        "directions": [d.name for d in study.directions],
        "user_attrs": plain(study.user_attrs),
        # Study.system_attrs was removed in Optuna 5; the storage still has them.
        "system_attrs": plain(study._storage.get_study_system_attrs(study._study_id)),
        "trials": trials,
    }


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -10.0, 10.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    q = trial.suggest_float("q", 0.0, 1.0, step=0.25)
    n = trial.suggest_int("n", 1, 9, step=2)
    k = trial.suggest_int("k", 1, 64, log=True)
    kind = trial.suggest_categorical("kind", ["a", "b", None, 3, 2.5, True])
    if kind == "a":
        trial.suggest_float("extra", 0.0, 1.0)  # A conditional parameter.
    for step in range(3):
        trial.report(float("nan") if step == 1 and trial.number % 2 == 0 else x * x + step, step)
    trial.set_user_attr("py", {"n": n, "text": "caf\u00e9", "inf": float("inf")})
    if trial.number % 5 == 3:
        raise optuna.TrialPruned()
    if trial.number % 7 == 6:
        raise ValueError("a failing trial")
    return x * x + q + n + k * lr


def main(argv: list[str]) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    cmd = argv[1]
    if cmd == "dump":
        study = optuna.load_study(study_name=argv[3], storage=storage(argv[2]))
        print(json.dumps(dump(study), allow_nan=False))
    elif cmd == "write":
        path, name, n, seed = argv[2], argv[3], int(argv[4]), int(argv[5])
        study = optuna.create_study(
            study_name=name,
            storage=storage(path),
            load_if_exists=True,
            sampler=optuna.samplers.RandomSampler(seed=seed),
            pruner=optuna.pruners.NopPruner(),
        )
        study.optimize(objective, n_trials=n, catch=(ValueError,))
        print(json.dumps(dump(study), allow_nan=False))
    elif cmd == "hold-lock":
        lock = JournalFileSymlinkLock(argv[2])
        lock.acquire()
        print(f"locked {time.time() * 1000}", flush=True)
        time.sleep(float(argv[3]))
        lock.release()
        print("released", flush=True)
    elif cmd == "reprs":
        print(json.dumps([json.dumps(float(s)) for s in json.load(sys.stdin)]))
    else:
        raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main(sys.argv)
