/**
 * One worker of the fault benchmark (benchmark/tune/faults.ts): joins the study and runs trials
 * until the study holds `target` finished (COMPLETE or PRUNED) trials. After each trial is stored
 * it prints one JSON line `{ "told": number, "state": ..., "value": ... }`: the acknowledgements
 * the parent checks against the storage at the end (a trial acknowledged here must never be lost).
 *
 *   node --import @oxc-node/core/register benchmark/tune/fault-worker.ts KIND SPEC STUDY TARGET SEED
 */
import { JournalFileStorage, loadStudy, PostgresStorage, TPESampler, TrialPruned, TrialState, type Storage } from '../../tune/src/index.js';

const [kind, spec, studyName, targetText, seedText] = process.argv.slice(2);
const target = Number(targetText);
const seed = Number(seedText);
/** Short heartbeats so that a killed worker's trial is found stale within seconds. */
const beat = { heartbeatInterval: 1, gracePeriod: 4 };

async function open(): Promise<Storage> {
  if (kind === 'postgres') return PostgresStorage.connect(spec!, beat);
  return new JournalFileStorage(spec!, beat);
}

const storage = await open();
const study = await loadStudy({ studyName: studyName!, storage, sampler: new TPESampler({ seed, constantLiar: true }), retryStaleTrials: 5 });
const finished = () => study.trials.filter((t) => t.state === TrialState.COMPLETE || t.state === TrialState.PRUNED).length;
await study.refresh();
while (finished() < target) {
  await study.optimize(
    async (trial) => {
      const x = trial.suggestFloat('x', -5, 5);
      const y = trial.suggestFloat('y', -5, 5);
      const kind = trial.suggestCategorical('kind', ['a', 'b']);
      const value = (x - 1) ** 2 + (y + 2) ** 2 + (kind === 'a' ? 0 : 0.5);
      for (let step = 0; step < 3; step++) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        trial.report(value * (3 - step), step);
        if (await trial.shouldPrune()) throw new TrialPruned();
      }
      return value;
    },
    {
      nTrials: 1,
      callbacks: [
        (_s, t) => {
          process.stdout.write(`${JSON.stringify({ told: t.number, state: t.state, value: t.values?.[0] ?? null })}\n`);
        },
      ],
    },
  );
}
await study.close();
