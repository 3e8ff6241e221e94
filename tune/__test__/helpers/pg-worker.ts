// A child process of postgres.spec.ts, printing one JSON line.
//
//   pg-worker.ts race URL STUDY_ID N   creates N trials (4 at a time) and pops WAITING trials
//                                      until none is left: {"created": [ids], "popped": [ids]}
//   pg-worker.ts connect URL           connects (expected to fail): {"error": message}
import { PostgresStorage } from '../../src/storage/postgres.ts';
import { TrialState } from '../../src/types.ts';

const [cmd, url, ...rest] = process.argv.slice(2);

if (cmd === 'race') {
  const studyId = Number(rest[0]);
  const n = Number(rest[1]);
  const storage = await PostgresStorage.connect(url!, { poolSize: 4 });
  const created: number[] = [];
  const popped: number[] = [];
  let next = 0;
  const creator = async () => {
    while (next < n) {
      next++;
      created.push(await storage.createNewTrial(studyId));
    }
  };
  const popper = async () => {
    for (;;) {
      const waiting = await storage.getAllTrials(studyId, [TrialState.WAITING]);
      if (waiting.length === 0) return;
      for (const t of waiting) {
        if (await storage.setTrialStateValues(t.trialId, TrialState.RUNNING)) popped.push(t.trialId);
      }
    }
  };
  await Promise.all([creator(), creator(), popper(), popper()]);
  await storage.close();
  console.log(JSON.stringify({ created, popped }));
} else if (cmd === 'connect') {
  try {
    const s = await PostgresStorage.connect(url!, { retryTimeout: 1 });
    await s.close();
    console.log(JSON.stringify({ error: null }));
  } catch (e) {
    console.log(JSON.stringify({ error: (e as Error).message }));
  }
} else {
  console.error(`unknown command ${cmd}`);
  process.exit(2);
}
