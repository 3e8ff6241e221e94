#!/usr/bin/env python3
"""The real Optuna on a PostgreSQL storage, for ferroptim-tune's interoperability tests.

Usage (needs optuna and psycopg2; optuna-dashboard for `dashboard`):

    optuna_rdb.py schema URL                 RDBStorage(URL): create Optuna's schema or check it;
                                             prints {"current", "head", "version_info"}
    optuna_rdb.py dump URL STUDY             optuna.load_study(...): prints the study and every
                                             trial as JSON (Python's json: NaN/Infinity literals)
    optuna_rdb.py write URL STUDY N [--heartbeat S] [--directions minimize,...]
                                             runs N trials of a small objective (all kinds of
                                             parameters, reports, attributes, a pruned, a failed
                                             and an infinite trial), creating the study if needed
    optuna_rdb.py running URL STUDY          asks for a trial, records one heartbeat for it and
                                             exits without finishing it (a dead Python worker);
                                             prints {"trial_id", "number"}
    optuna_rdb.py heartbeat URL TRIAL_ID     records a heartbeat of a trial, as Optuna's worker does
    optuna_rdb.py fail-stale URL STUDY GRACE optuna.storages.fail_stale_trials with grace period
                                             GRACE s; prints the ids of the trials it failed
    optuna_rdb.py dashboard URL STUDY        optuna-dashboard's /api/studies and
                                             /api/studies/<id> on the storage; prints a summary
"""

from __future__ import annotations

import datetime
import io
import json
import math
import sys
from typing import Any
import warnings

import optuna
from optuna.distributions import distribution_to_json

warnings.simplefilter("ignore")  # ExperimentalWarning for heartbeat_interval
optuna.logging.set_verbosity(optuna.logging.WARNING)


def out(value: Any) -> None:
    sys.stdout.write(json.dumps(value) + "\n")


def iso(dt: datetime.datetime | None) -> str | None:
    # FrozenTrial datetimes from RDBStorage are naive local time; astimezone() reads them so.
    if dt is None:
        return None
    return dt.astimezone(datetime.timezone.utc).isoformat(timespec="microseconds")


def sa_url(url: str) -> str:
    """SQLAlchemy 2.1 reads a bare postgresql:// URL with psycopg 3; use psycopg2 if that is absent."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def storage(url: str, heartbeat: int | None = None, grace: int | None = None) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(sa_url(url), heartbeat_interval=heartbeat, grace_period=grace)


def cmd_schema(url: str) -> None:
    s = storage(url)
    vm = s._version_manager
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(s.scoped_session) as session:
        info = models.VersionInfoModel.find(session)
        version_info = None if info is None else [info.schema_version, info.library_version]
    out({"current": vm.get_current_version(), "head": vm.get_head_version(), "version_info": version_info})


def cmd_dump(url: str, name: str) -> None:
    study = optuna.load_study(study_name=name, storage=sa_url(url))
    trials = []
    for t in study.get_trials(deepcopy=False):
        trials.append(
            {
                "trial_id": t._trial_id,
                "number": t.number,
                "state": t.state.name,
                "values": t.values,
                "params": t.params,
                "distributions": {k: json.loads(distribution_to_json(d)) for k, d in t.distributions.items()},
                "intermediate_values": {str(k): v for k, v in sorted(t.intermediate_values.items())},
                "user_attrs": t.user_attrs,
                "system_attrs": t.system_attrs,
                "datetime_start": iso(t.datetime_start),
                "datetime_complete": iso(t.datetime_complete),
            }
        )
    out(
        {
            "study_id": study._study_id,
            "study_name": study.study_name,
            "directions": [d.name for d in study.directions],
            "user_attrs": study.user_attrs,
            "system_attrs": study._storage.get_study_system_attrs(study._study_id),
            "trials": trials,
        }
    )


def objective(trial: optuna.Trial, report: bool = True) -> float:
    x = trial.suggest_float("x", -10, 10)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    q = trial.suggest_float("q", 0.0, 1.0, step=0.25)
    n = trial.suggest_int("n", 1, 64, log=True)
    k = trial.suggest_int("k", 0, 10, step=2)
    c = trial.suggest_categorical("c", ["a", None, 1.5, True])
    trial.set_user_attr("from", "optuna")
    trial.set_user_attr("nested", {"a": [1, 2.5, None], "inf": float("inf"), "c": c})
    for step in range(3 if report else 0):
        trial.report([x, float("-inf"), float("nan")][step], step)
    kind = trial.number % 4
    if kind == 1 and report:
        raise optuna.TrialPruned()
    if kind == 2:
        raise ValueError("boom")
    if kind == 3:
        return float("inf")
    return x**2 + lr + q + n + k


def cmd_write(url: str, name: str, n: int, heartbeat: int | None, directions: list[str]) -> None:
    study = optuna.create_study(
        study_name=name,
        storage=storage(url, heartbeat),
        directions=directions,
        load_if_exists=True,
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    if len(directions) == 1:
        study.optimize(objective, n_trials=n, catch=(ValueError,))
    else:
        study.optimize(lambda t: (objective(t, report=False), t.params["x"]), n_trials=n, catch=(ValueError,))
    out({"study_id": study._study_id, "n_trials": len(study.trials)})


def cmd_running(url: str, name: str) -> None:
    s = storage(url, heartbeat=1)
    study = optuna.load_study(study_name=name, storage=s)
    trial = study.ask()
    trial.suggest_float("x", -10, 10)
    s.record_heartbeat(trial._trial_id)
    out({"trial_id": trial._trial_id, "number": trial.number})


def cmd_heartbeat(url: str, trial_id: int) -> None:
    storage(url, heartbeat=1).record_heartbeat(trial_id)
    out({"ok": True})


def cmd_fail_stale(url: str, name: str, grace: int) -> None:
    s = storage(url, heartbeat=1, grace=grace)
    study = optuna.load_study(study_name=name, storage=s)
    failed: list[int] = []
    s.heartbeat_stale_trial_callback = lambda _study, t: failed.append(t._trial_id)
    optuna.storages.fail_stale_trials(study)
    out({"failed": sorted(failed)})


def cmd_dashboard(url: str, name: str) -> None:
    from wsgiref.util import setup_testing_defaults

    from optuna_dashboard import _app

    s = storage(url)
    app = _app.create_app(s)

    def get(path: str) -> Any:
        env: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
        setup_testing_defaults(env)
        status: list[str] = []
        body = b"".join(app(env, lambda st, _headers, *_: status.append(st)))
        if not status[0].startswith("200"):
            raise RuntimeError(f"GET {path}: {status[0]}: {body[:500]!r}")
        return json.loads(body)

    studies = get("/api/studies")["study_summaries"]
    match = [x for x in studies if x["study_name"] == name]
    if not match:
        raise RuntimeError(f"optuna-dashboard does not list the study {name!r}")
    detail = get(f"/api/studies/{match[0]['study_id']}")
    out(
        {
            "study_name": detail["name"],
            "directions": detail["directions"],
            "n_trials": len(detail["trials"]),
            "states": [t["state"] for t in detail["trials"]],
            "best_numbers": [t["number"] for t in detail["best_trials"]],
        }
    )


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, url, rest = argv[0], argv[1], argv[2:]
    if cmd == "schema":
        cmd_schema(url)
    elif cmd == "dump":
        cmd_dump(url, rest[0])
    elif cmd == "write":
        heartbeat = None
        directions = ["minimize"]
        positional = []
        i = 0
        while i < len(rest):
            if rest[i] == "--heartbeat":
                heartbeat = int(rest[i + 1])
                i += 2
            elif rest[i] == "--directions":
                directions = rest[i + 1].split(",")
                i += 2
            else:
                positional.append(rest[i])
                i += 1
        cmd_write(url, positional[0], int(positional[1]), heartbeat, directions)
    elif cmd == "running":
        cmd_running(url, rest[0])
    elif cmd == "heartbeat":
        cmd_heartbeat(url, int(rest[0]))
    elif cmd == "fail-stale":
        cmd_fail_stale(url, rest[0], int(rest[1]))
    elif cmd == "dashboard":
        cmd_dashboard(url, rest[0])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
