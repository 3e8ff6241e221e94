/**
 * `npm run bench:tune-faults`: a 2-worker study under SIGKILL, on the journal file and on
 * PostgreSQL (whose server is also restarted once mid-study).
 *
 * Two worker processes (benchmark/tune/fault-worker.ts) share one study; at random moments one
 * of them is killed with SIGKILL and a replacement started. Each worker prints an
 * acknowledgement after every trial it stored. At the end, checked:
 * - no acknowledged trial is lost: each is in the storage, in its state, with its value;
 * - no trial is left RUNNING: once the grace period has passed, the killed workers' trials are
 *   FAIL (with a fail_reason), and their parameters ran again (retryStaleTrials);
 * - the study reached its target of finished trials.
 *
 *   node --import @oxc-node/core/register benchmark/tune/faults.ts [--storage journal|postgres|both] [--trials 60] [--kills 8]
 *
 * PostgreSQL needs FERROPTIM_PG_URL (scripts/pg-cluster.sh start; `url` prints it); its restart
 * uses `scripts/pg-cluster.sh restart`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStudy, JournalFileStorage, loadStudy, PostgresStorage, TrialState, type Storage } from '../../tune/src/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const which = flag('storage', 'both');
const target = Number(flag('trials', '60'));
const kills = Number(flag('kills', '8'));

interface Ack {
  told: number;
  state: number;
  value: number | null;
}

async function scenario(kind: 'journal' | 'postgres'): Promise<boolean> {
  const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-faults-'));
  const studyName = `faults-${kind}-${Date.now()}`;
  let spec: string;
  let storage: Storage;
  if (kind === 'postgres') {
    spec = process.env.FERROPTIM_PG_URL ?? '';
    if (!spec) {
      console.log('postgres: skipped (set FERROPTIM_PG_URL; scripts/pg-cluster.sh start)');
      return true;
    }
    storage = await PostgresStorage.connect(spec, { heartbeatInterval: 1, gracePeriod: 4 });
  } else {
    spec = join(tmp, 'study.log');
    storage = new JournalFileStorage(spec, { heartbeatInterval: 1, gracePeriod: 4 });
  }
  await createStudy({ studyName, storage, direction: 'minimize' });
  const acks: Ack[] = [];
  let killed = 0;
  let restarted = false;
  let started = 0;
  const live = new Set<ChildProcess>();
  const t0 = performance.now();

  const startWorker = () => {
    const child = spawn(process.execPath, ['--import', '@oxc-node/core/register', join(ROOT, 'benchmark/tune/fault-worker.ts'), kind, spec, studyName, String(target), String(started++)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('{')) acks.push(JSON.parse(line) as Ack);
      }
    });
    live.add(child);
    child.on('exit', () => live.delete(child));
  };
  startWorker();
  startWorker();
  // Chaos: every 0.5-2.5 s, SIGKILL a random live worker and start a replacement; for PostgreSQL,
  // restart the server once, half-way through the kills.
  while (live.size > 0) {
    await new Promise((r) => setTimeout(r, 500 + Math.random() * 2000));
    if (killed < kills && live.size > 0) {
      const victims = [...live];
      const victim = victims[Math.floor(Math.random() * victims.length)]!;
      victim.kill('SIGKILL');
      killed++;
      await new Promise((r) => victim.once('exit', r));
      startWorker();
    }
    if (kind === 'postgres' && !restarted && killed >= kills / 2) {
      const r = spawnSync('bash', [join(ROOT, 'scripts/pg-cluster.sh'), 'restart'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`pg-cluster.sh restart failed: ${r.stderr}`);
      restarted = true;
      console.log(`${kind}: PostgreSQL restarted at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  const wall = (performance.now() - t0) / 1000;
  // Wait out the grace period, then a last stale sweep (as the next worker's first ask would do).
  await new Promise((r) => setTimeout(r, 5000));
  const study = await loadStudy({ studyName, storage });
  await study.storage.failStaleTrials(study.studyId);
  await study.refresh();
  const byNumber = new Map(study.trials.map((t) => [t.number, t]));
  const lost = acks.filter((a) => {
    const t = byNumber.get(a.told);
    return !t || t.state !== a.state || (t.values?.[0] ?? null) !== a.value;
  });
  const count = (s: number) => study.trials.filter((t) => t.state === s).length;
  const running = count(TrialState.RUNNING);
  const failed = study.trials.filter((t) => t.state === TrialState.FAIL);
  const unexplained = failed.filter((t) => typeof t.systemAttrs.fail_reason !== 'string');
  const retried = study.trials.filter((t) => typeof t.systemAttrs.failed_trial === 'number').length;
  const finished = count(TrialState.COMPLETE) + count(TrialState.PRUNED);
  const ok = lost.length === 0 && running === 0 && unexplained.length === 0 && finished >= target;
  console.log(
    `${kind}: ${ok ? "PASS" : "FAIL"} in ${wall.toFixed(1)} s: ${killed} SIGKILLs${kind === 'postgres' ? ', 1 server restart' : ''}, ${started} workers started; ` +
      `${study.trials.length} trials: ${count(TrialState.COMPLETE)} COMPLETE, ${count(TrialState.PRUNED)} PRUNED, ${failed.length} FAIL (${retried} retries enqueued), ${running} RUNNING, ${count(TrialState.WAITING)} WAITING; ` +
      `${acks.length} acknowledged trials, ${lost.length} lost`,
  );
  for (const a of lost) console.log(`  lost: trial ${a.told} acknowledged as state ${a.state} value ${a.value}, stored as ${JSON.stringify(byNumber.get(a.told)?.state)}`);
  await study.close();
  rmSync(tmp, { recursive: true, force: true });
  return ok;
}

console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}; target ${target} finished trials, ${kills} SIGKILLs`);
let ok = true;
if (which === 'journal' || which === 'both') ok = (await scenario('journal')) && ok;
if (which === 'postgres' || which === 'both') ok = (await scenario('postgres')) && ok;
process.exit(ok ? 0 : 1);
