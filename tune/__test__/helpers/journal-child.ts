/**
 * A worker process for the journal's concurrency and crash tests (`journal.spec.ts`). One JSON
 * argument says what to do; results are printed as one JSON line (or words the test waits for).
 *
 *   node --import @oxc-node/core/register __test__/helpers/journal-child.ts '{"cmd":"work",...}'
 *
 * - `work`: from time `at`, pop the study's WAITING trials (completing those it wins) while
 *   creating and completing `create` trials of its own; prints `{ created, popped, lost }`.
 * - `run-trial`: creates a RUNNING trial, prints `{ trialId }`, then waits to be killed.
 * - `hold-lock`: takes the journal's lock (and writes its owner record, `path.lock.owner`), prints
 *   `locked`; after `seconds` prints `releasing <ms>` and releases it, or (no `seconds`) waits to
 *   be killed holding it.
 * - `fail-stale`: at time `at`, calls failStaleTrials; prints the ids it failed.
 */
import { floatDistribution, intDistribution } from '../../src/distributions.js';
import { JournalFileStorage, SymlinkLock } from '../../src/storage/journal.js';
import { TrialState, UpdateFinishedTrialError } from '../../src/types.js';

interface Spec {
  cmd: 'work' | 'run-trial' | 'hold-lock' | 'fail-stale';
  path: string;
  study?: string;
  index?: number;
  create?: number;
  at?: number;
  seconds?: number;
  gracePeriod?: number;
}

const spec = JSON.parse(process.argv[2]!) as Spec;
const hang = () => setInterval(() => undefined, 1 << 30);
const waitUntil = async (at: number | undefined) => {
  if (at !== undefined && at > Date.now()) await new Promise((r) => setTimeout(r, at - Date.now()));
};
const print = (v: unknown) => process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v)}\n`);

async function work(storage: JournalFileStorage, studyId: number): Promise<void> {
  const created: number[] = [];
  const popped: number[] = [];
  let lost = 0;
  const me = spec.index ?? 0;
  const pop = async () => {
    for (const t of await storage.getAllTrials(studyId, [TrialState.WAITING])) {
      // As Optuna's _pop_waiting_trial_id: another worker may have run it to the end meanwhile.
      const won = await storage.setTrialStateValues(t.trialId, TrialState.RUNNING).catch((e: unknown) => {
        if (e instanceof UpdateFinishedTrialError) return false;
        throw e;
      });
      if (won) {
        popped.push(t.trialId);
        await storage.setTrialUserAttr(t.trialId, 'popped_by', me);
        await storage.setTrialStateValues(t.trialId, TrialState.COMPLETE, [t.trialId]);
        return;
      }
      lost++;
    }
  };
  await waitUntil(spec.at);
  for (let i = 0; i < (spec.create ?? 0); i++) {
    await pop();
    const id = await storage.createNewTrial(studyId);
    created.push(id);
    await storage.setTrialParam(id, 'x', i / 10, floatDistribution(0, 1));
    await storage.setTrialParam(id, 'worker', me, intDistribution(0, 100));
    await storage.setTrialIntermediateValue(id, 0, me * 1000 + i);
    await storage.setTrialStateValues(id, TrialState.COMPLETE, [me * 1000 + i]);
  }
  // Whatever is left.
  for (let k = 0; k < 100 && (await storage.getAllTrials(studyId, [TrialState.WAITING])).length > 0; k++) await pop();
  print({ created, popped, lost });
}

async function main(): Promise<void> {
  if (spec.cmd === 'hold-lock') {
    const lock = new SymlinkLock(spec.path, 30);
    await lock.acquire();
    print('locked');
    if (spec.seconds === undefined) {
      hang();
      return;
    }
    await new Promise((r) => setTimeout(r, spec.seconds! * 1000));
    print(`releasing ${Date.now()}`);
    await lock.release();
    return;
  }
  const storage = new JournalFileStorage(spec.path, spec.gracePeriod === undefined ? {} : { gracePeriod: spec.gracePeriod, heartbeatInterval: spec.gracePeriod / 3 });
  const studyId = await storage.getStudyIdFromName(spec.study!);
  switch (spec.cmd) {
    case 'work':
      return work(storage, studyId);
    case 'run-trial': {
      const trialId = await storage.createNewTrial(studyId);
      await storage.setTrialParam(trialId, 'x', 0.25, floatDistribution(0, 1));
      print({ trialId });
      hang();
      return;
    }
    case 'fail-stale': {
      await waitUntil(spec.at);
      const failed = await storage.failStaleTrials(studyId);
      print({ failed: failed.map((t) => t.trialId) });
      return;
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
