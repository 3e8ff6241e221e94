/**
 * The journal storages (`JournalFileStorage`, `InMemoryStorage`): every Storage method and its
 * errors, Optuna's replay rules, the exact line format, round trips with the real Optuna (it reads
 * what ferroptim writes, ferroptim reads what it writes, both append to one file), several
 * processes on one file, crashed workers and locks, torn and hostile files.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync, mkdtempSync, promises as fsp, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { categoricalDistribution, distributionToJson, floatDistribution, intDistribution, type Distribution } from '../src/distributions.js';
import { decodeJournalJson, encodeJournalLine, formatJournalDate, JournalFileStorage, MAX_LINE_BYTES, parseJournalDate, SymlinkLock } from '../src/storage/journal.js';
import { pyFloatRepr } from '../src/storage/pyjson.js';
import { InMemoryStorage } from '../src/storage/memory.js';
import { DuplicatedStudyError, TrialState, UpdateFinishedTrialError, type Storage } from '../src/types.js';
import { comparable, ferroptimDump, HAVE_OPTUNA, MISSING_OPTUNA, optunaDump, parseDump, runOptuna, spawnOptuna } from './helpers/optuna.js';

const { RUNNING, COMPLETE, PRUNED, FAIL, WAITING } = TrialState;
const TMP = mkdtempSync(join(tmpdir(), 'ferroptim-journal-'));
const children = new Set<ChildProcess>();
test.after.always(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(TMP, { recursive: true, force: true });
});
let files = 0;
const fresh = (name = 'j') => join(TMP, `${name}-${files++}.log`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const num = (a: number, b: number) => a - b;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

// Tests that need the real Optuna: they fail in CI without it, and are skipped (visibly) elsewhere.
type Impl = (t: ExecutionContext) => Promise<void>;
const optunaTest = (title: string, fn: Impl): void => {
  if (HAVE_OPTUNA) test(`optuna: ${title}`, fn);
  else if (process.env.CI) test(`optuna: ${title}`, (t) => t.fail(`CI needs Optuna: ${MISSING_OPTUNA}`));
  else test.skip(`optuna: ${title} (skipped: ${MISSING_OPTUNA})`, fn);
};
if (!HAVE_OPTUNA && !process.env.CI) console.warn(`journal.spec.ts: the Optuna round-trip tests are skipped: ${MISSING_OPTUNA}`);

// Child processes (helpers/journal-child.ts).
const CHILD = fileURLToPath(new URL('./helpers/journal-child.ts', import.meta.url));
const TUNE = fileURLToPath(new URL('../', import.meta.url));
const outputs = new WeakMap<ChildProcess, Promise<string>>();
/** Watches a child from its start: killed at the end of the tests, its output collected. */
function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.on('exit', () => children.delete(c));
  const done = new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited with ${code}: ${err}`))));
  });
  done.catch(() => undefined);
  outputs.set(c, done);
  return c;
}
function spawnChild(spec: Record<string, unknown>): ChildProcess {
  return track(spawn(process.execPath, ['--import', '@oxc-node/core/register', CHILD, JSON.stringify(spec)], { cwd: TUNE, stdio: ['ignore', 'pipe', 'pipe'] }));
}
/** A tracked child's whole stdout, once it exits (rejects if it fails). */
const collect = (c: ChildProcess): Promise<string> => outputs.get(c)!;
/** Whether the lock (a symbolic link, possibly dangling) exists. */
function lockExists(path: string): boolean {
  try {
    lstatSync(`${path}.lock`);
    return true;
  } catch {
    return false;
  }
}
const runChild = (spec: Record<string, unknown>) => collect(spawnChild(spec));
/** The first stdout line of `c` that starts with `prefix`, with the time it arrived. */
function lineFrom(c: ChildProcess, prefix: string): Promise<{ line: string; at: number }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    c.stdout!.on('data', (d) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.startsWith(prefix));
      if (line !== undefined) resolve({ line, at: Date.now() });
    });
    c.on('close', (code) => reject(new Error(`process ended (${code}) before printing ${prefix}: ${err}`)));
  });
}
const killed = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.on('exit', () => r())));

/** The lines of a journal file, decoded (and checked to be whole lines). */
function lines(path: string): Record<string, unknown>[] {
  const text = readFileSync(path, 'utf8');
  if (text !== '' && !text.endsWith('\n')) throw new Error(`${path} does not end with a newline`);
  return text.split('\n').slice(0, -1).map((l) => decodeJournalJson(l) as Record<string, unknown>);
}

const FX = floatDistribution(-10, 10);
const LR = floatDistribution(1e-5, 1e-1, { log: true });
const Q = floatDistribution(0, 1, { step: 0.25 });
const N = intDistribution(1, 9, { step: 2 });
const K = intDistribution(1, 64, { log: true });
const KIND = categoricalDistribution(['a', 'b', null, 3, 2.5, true]);
const EXTRA = floatDistribution(0, 1);

const kinds: [string, () => Storage][] = [
  ['JournalFileStorage', () => new JournalFileStorage(fresh())],
  ['InMemoryStorage', () => new InMemoryStorage()],
];

// ---------------------------------------------------------------------------------------------
// The Storage methods, on both storages
// ---------------------------------------------------------------------------------------------

for (const [kind, make] of kinds) {
  test(`${kind}: studies: create, find, attributes, duplicates, delete, bad arguments`, async (t) => {
    const s = make();
    const a = await s.createNewStudy(['minimize'], 'a');
    const b = await s.createNewStudy(['maximize', 'minimize'], 'b');
    t.deepEqual([a, b], [0, 1]);
    await t.throwsAsync(s.createNewStudy(['maximize'], 'a'), { instanceOf: DuplicatedStudyError, message: /"a" already exists/ });
    t.is(await s.getStudyIdFromName('b'), b);
    const missing = await t.throwsAsync(s.getStudyIdFromName('nope'));
    t.is((missing as Error & { code?: string }).code, 'ENOSTUDY');
    await s.setStudyUserAttr(a, 'config', { lr: [0.1, 1e-5], name: 'café' });
    await s.setStudyUserAttr(a, 'config', 'replaced');
    await s.setStudySystemAttr(a, 'nan', NaN);
    const sa = await s.getStudy(a);
    t.deepEqual(sa, { studyId: a, studyName: 'a', directions: ['minimize'], userAttrs: { config: 'replaced' }, systemAttrs: { nan: NaN } });
    t.true(Object.isFrozen(sa) && Object.isFrozen(sa.userAttrs));
    t.deepEqual((await s.getStudy(b)).directions, ['maximize', 'minimize']);
    t.deepEqual((await s.getAllStudies()).map((x) => [x.studyId, x.studyName]), [[0, 'a'], [1, 'b']]);

    // Deleting: the study goes, its trials stay readable by id (Optuna keeps them), the name is free.
    const tid = await s.createNewTrial(b);
    await s.deleteStudy(b);
    for (const p of [s.getStudy(b), s.getAllTrials(b), s.createNewTrial(b), s.deleteStudy(b), s.setStudyUserAttr(b, 'k', 1), s.getStudyIdFromName('b')]) {
      t.is(((await t.throwsAsync(p)) as Error & { code?: string }).code, 'ENOSTUDY');
    }
    t.is((await s.getTrial(tid)).number, 0);
    t.is(await s.createNewStudy(['minimize'], 'b'), 2);
    t.deepEqual((await s.getAllStudies()).map((x) => x.studyId), [0, 2]);

    await t.throwsAsync(s.createNewStudy([], 'x'), { instanceOf: TypeError, message: /directions/ });
    await t.throwsAsync(s.createNewStudy(['up' as never], 'x'), { instanceOf: RangeError, message: /directions\[0\].*"up"/ });
    await t.throwsAsync(s.createNewStudy(['minimize'], 3 as never), { instanceOf: TypeError, message: /studyName/ });
    await t.throwsAsync(s.getStudy(-1), { instanceOf: RangeError, message: /studyId/ });
    await t.throwsAsync(s.getStudy('0' as never), { instanceOf: TypeError, message: /studyId/ });
    await t.throwsAsync(s.setStudyUserAttr(a, 'k', undefined as never), { instanceOf: TypeError, message: /value is undefined/ });
    await t.throwsAsync(s.setStudyUserAttr(a, 'k', { when: new Date() } as never), { instanceOf: TypeError, message: /value\.when is a Date/ });
    await t.throwsAsync(s.setStudyUserAttr(a, 7 as never, 1), { instanceOf: TypeError, message: /key/ });
    await s.close();
    await t.throwsAsync(s.getAllStudies(), { message: /closed/ });
  });

  test(`${kind}: trials: create, params, reports, attributes, finish, errors`, async (t) => {
    const s = make();
    const a = await s.createNewStudy(['minimize'], 'a');
    const b = await s.createNewStudy(['minimize'], 'b');
    const t0 = await s.createNewTrial(a);
    const t1 = await s.createNewTrial(b);
    const t2 = await s.createNewTrial(a);
    t.deepEqual([t0, t1, t2], [0, 1, 2]);
    t.deepEqual((await s.getAllTrials(a)).map((x) => [x.trialId, x.number]), [[0, 0], [2, 1]]);
    t.is((await s.getTrial(t1)).number, 0);
    const fresh0 = await s.getTrial(t0);
    t.is(fresh0.state, RUNNING);
    t.true(fresh0.datetimeStart instanceof Date && Math.abs(fresh0.datetimeStart.getTime() - Date.now()) < 5000);
    t.is(fresh0.datetimeComplete, null);
    t.is(fresh0.values, null);

    await s.setTrialParam(t0, 'x', 0.5, FX);
    await s.setTrialParam(t0, 'kind', 2, KIND);
    await s.setTrialParam(t0, 'n', 5, N);
    await s.setTrialParam(t0, 'lr', 1e-3, LR);
    // Another range of the same kind is allowed (Optuna's check_distribution_compatibility).
    await s.setTrialParam(t2, 'x', 3, floatDistribution(0, 5));
    await t.throwsAsync(s.setTrialParam(t2, 'x', 1, intDistribution(0, 3)), { instanceOf: RangeError, message: /"x" was suggested before as float/ });
    await t.throwsAsync(s.setTrialParam(t2, 'kind', 0, categoricalDistribution(['a'])), { instanceOf: RangeError, message: /choices/ });
    await t.throwsAsync(s.setTrialParam(t2, 'lr', 0.5, floatDistribution(0.1, 1)), { instanceOf: RangeError, message: /log/ });
    await t.throwsAsync(s.setTrialParam(t2, 'y', 6, KIND), { instanceOf: RangeError, message: /index of a choice/ });
    await t.throwsAsync(s.setTrialParam(t2, 'y', NaN, FX), { instanceOf: RangeError, message: /NaN/ });
    await t.throwsAsync(s.setTrialParam(t2, 'y', 0.5, { type: 'float', low: 1, high: 0, log: false, step: null }), { instanceOf: TypeError, message: /not a valid distribution/ });
    await t.throwsAsync(s.setTrialParam(t2, 'y', 0.5, { type: 'nope' } as never), { instanceOf: TypeError, message: /distribution/ });

    await s.setTrialIntermediateValue(t0, 0, 1.5);
    await s.setTrialIntermediateValue(t0, 2, NaN);
    await s.setTrialIntermediateValue(t0, 1, Infinity);
    await s.setTrialIntermediateValue(t0, 0, 0.5); // Overwritten in place.
    await s.setTrialUserAttr(t0, 'u', [1, { deep: 'é', inf: -Infinity }]);
    await s.setTrialUserAttr(t0, '__proto__', 'just a key');
    await s.setTrialSystemAttr(t0, 's', null);
    const mutable = { a: 1 };
    await s.setTrialUserAttr(t0, 'm', mutable);
    mutable.a = 2; // The storage keeps a copy.

    const running = await s.getTrial(t0);
    t.deepEqual(running.params, { x: 0.5, kind: null, n: 5, lr: 1e-3 });
    t.deepEqual(
      Object.fromEntries(Object.entries(running.distributions).map(([k, d]) => [k, distributionToJson(d)])),
      { x: distributionToJson(FX), kind: distributionToJson(KIND), n: distributionToJson(N), lr: distributionToJson(LR) },
    );
    t.deepEqual([...running.intermediateValues], [[0, 0.5], [2, NaN], [1, Infinity]]);
    t.deepEqual(running.userAttrs.u, [1, { deep: 'é', inf: -Infinity }]);
    t.deepEqual(running.userAttrs.m, { a: 1 });
    t.true(Object.hasOwn(running.userAttrs, '__proto__'));
    t.is(Object.getPrototypeOf(running.userAttrs), Object.prototype);
    t.is(running.systemAttrs.s, null);
    t.true(Object.isFrozen(running) && Object.isFrozen(running.params) && Object.isFrozen(running.userAttrs.u));

    t.true(await s.setTrialStateValues(t0, COMPLETE, [0.25]));
    const done = await s.getTrial(t0);
    t.is(done.state, COMPLETE);
    t.deepEqual(done.values, [0.25]);
    t.true(done.datetimeComplete instanceof Date && done.datetimeComplete.getTime() >= done.datetimeStart!.getTime());
    t.is(running.state, RUNNING, 'an earlier snapshot does not change');
    for (const p of [
      s.setTrialParam(t0, 'x', 0.1, FX),
      s.setTrialStateValues(t0, FAIL),
      s.setTrialStateValues(t0, RUNNING),
      s.setTrialIntermediateValue(t0, 5, 1),
      s.setTrialUserAttr(t0, 'k', 1),
      s.setTrialSystemAttr(t0, 'k', 1),
    ]) {
      await t.throwsAsync(p, { instanceOf: UpdateFinishedTrialError, message: 'Trial#0 has already finished and can not be updated.' });
    }
    t.true(await s.setTrialStateValues(t2, FAIL));
    t.is((await s.getTrial(t2)).values, null);
    t.true(await s.setTrialStateValues(t1, PRUNED, [Infinity]));
    t.deepEqual((await s.getTrial(t1)).values, [Infinity]);

    t.deepEqual((await s.getAllTrials(a, [COMPLETE])).map((x) => x.trialId), [t0]);
    t.deepEqual((await s.getAllTrials(a, [FAIL, COMPLETE])).map((x) => x.trialId), [t0, t2]);
    t.deepEqual(await s.getAllTrials(a, []), []);

    for (const p of [s.getTrial(99), s.setTrialUserAttr(99, 'k', 1), s.setTrialParam(99, 'x', 0, FX), s.setTrialStateValues(99, COMPLETE, [1]), s.recordHeartbeat(99)]) {
      t.is(((await t.throwsAsync(p)) as Error & { code?: string }).code, 'ENOTRIAL');
    }
    t.is(((await t.throwsAsync(s.createNewTrial(42))) as Error & { code?: string }).code, 'ENOSTUDY');
    await t.throwsAsync(s.getAllTrials(a, [7 as never]), { instanceOf: RangeError, message: /states\[0\]/ });
    await t.throwsAsync(s.setTrialStateValues(t1, 9 as never), { instanceOf: RangeError, message: /state/ });
    await t.throwsAsync(s.setTrialStateValues(t1, COMPLETE, ['1' as never]), { instanceOf: TypeError, message: /values\[0\]/ });
    await t.throwsAsync(s.setTrialIntermediateValue(t1, 0.5, 1), { instanceOf: TypeError, message: /step/ });
    await t.throwsAsync(s.setTrialIntermediateValue(t1, 1, '1' as never), { instanceOf: TypeError, message: /value/ });
  });

  test(`${kind}: enqueued trials, templates and the WAITING → RUNNING pop`, async (t) => {
    const s = make();
    const a = await s.createNewStudy(['minimize'], 'a');
    const w = await s.createNewTrial(a, {
      state: WAITING,
      params: { x: { internal: 0.5, distribution: FX }, kind: { internal: 0, distribution: KIND } },
      userAttrs: { u: 1 },
      systemAttrs: { fixed_params: { x: 0.5, kind: 'a' } },
    });
    const waiting = await s.getTrial(w);
    t.is(waiting.state, WAITING);
    t.is(waiting.datetimeStart, null);
    t.deepEqual(waiting.params, { x: 0.5, kind: 'a' });
    t.deepEqual(waiting.userAttrs, { u: 1 });
    t.true(await s.setTrialStateValues(w, RUNNING));
    t.false(await s.setTrialStateValues(w, RUNNING), 'a trial is popped once');
    const popped = await s.getTrial(w);
    t.is(popped.state, RUNNING);
    t.true(popped.datetimeStart instanceof Date);
    if (s instanceof JournalFileStorage) t.deepEqual(popped.systemAttrs['ferroptim:worker'], { host: hostname(), pid: process.pid });
    else t.false('ferroptim:worker' in popped.systemAttrs);
    await s.setTrialStateValues(w, COMPLETE, [1]);
    await t.throwsAsync(s.setTrialStateValues(w, RUNNING), { instanceOf: UpdateFinishedTrialError });

    // Concurrent pops of one trial, in one process: one winner.
    const w2 = await s.createNewTrial(a, { state: WAITING });
    const wins = await Promise.all(range(4).map(() => s.setTrialStateValues(w2, RUNNING)));
    t.is(wins.filter(Boolean).length, 1);

    // Copies of finished trials: single and multiple values, reports, given dates.
    const m = await s.createNewStudy(['minimize', 'maximize'], 'multi');
    const start = new Date('2024-01-02T03:04:05.678Z');
    const end = new Date('2024-01-02T04:00:00.001Z');
    const c = await s.createNewTrial(m, { state: COMPLETE, values: [1, -Infinity], intermediateValues: new Map([[0, 1], [3, NaN]]), datetimeStart: start, datetimeComplete: end, params: { n: { internal: 3, distribution: N } } });
    const copy = await s.getTrial(c);
    t.deepEqual([copy.state, copy.values, copy.datetimeStart, copy.datetimeComplete, copy.params], [COMPLETE, [1, -Infinity], start, end, { n: 3 }]);
    t.deepEqual([...copy.intermediateValues], [[0, 1], [3, NaN]]);
    const single = await s.getTrial(await s.createNewTrial(a, { state: PRUNED, values: [2] }));
    t.deepEqual(single.values, [2]);
    t.true(single.datetimeComplete instanceof Date, 'a finished copy gets a completion time');
    const r = await s.getTrial(await s.createNewTrial(a, { state: RUNNING, systemAttrs: { 'ferroptim:worker': { host: 'elsewhere', pid: 1 } } }));
    if (s instanceof JournalFileStorage) t.deepEqual(r.systemAttrs['ferroptim:worker'], { host: hostname(), pid: process.pid }, 'a RUNNING trial runs here');

    await t.throwsAsync(s.createNewTrial(a, { state: 7 as never }), { instanceOf: RangeError, message: /template\.state/ });
    await t.throwsAsync(s.createNewTrial(a, { state: WAITING, params: { k: { internal: 6, distribution: KIND } } }), { instanceOf: RangeError, message: /index of a choice/ });
    await t.throwsAsync(s.createNewTrial(a, { state: WAITING, intermediateValues: {} as never }), { instanceOf: TypeError, message: /intermediateValues/ });
    await t.throwsAsync(s.createNewTrial(a, { state: WAITING, userAttrs: 'x' as never }), { instanceOf: TypeError, message: /userAttrs/ });
    await t.throwsAsync(s.createNewTrial(a, { state: WAITING, datetimeStart: new Date(NaN) }), { instanceOf: RangeError, message: /invalid Date/ });
    await t.throwsAsync(s.createNewTrial(a, { state: COMPLETE, values: [1, 'x' as never] }), { instanceOf: TypeError, message: /values\[1\]/ });
  });
}

test('InMemoryStorage: no heartbeats, nothing stale', async (t) => {
  const s = new InMemoryStorage();
  t.is(s.heartbeatInterval, null);
  const a = await s.createNewStudy(['minimize'], 'a');
  const id = await s.createNewTrial(a);
  await s.recordHeartbeat(id);
  t.deepEqual(await s.failStaleTrials(a), []);
  t.deepEqual((await s.getTrial(id)).systemAttrs, {});
  t.is(((await t.throwsAsync(s.failStaleTrials(5))) as Error & { code?: string }).code, 'ENOSTUDY');
});

test('JournalFileStorage: options are checked', (t) => {
  const p = fresh();
  const s = new JournalFileStorage(p);
  t.deepEqual([s.path, s.heartbeatInterval, s.gracePeriod, s.lockGracePeriod], [p, 10, 30, 30]);
  const o = new JournalFileStorage(p, { heartbeatInterval: 2, lockGracePeriod: null });
  t.deepEqual([o.heartbeatInterval, o.gracePeriod, o.lockGracePeriod], [2, 6, null]);
  t.throws(() => new JournalFileStorage(''), { instanceOf: TypeError, message: /path/ });
  t.throws(() => new JournalFileStorage(p, { heartbeatInterval: '10' as never }), { instanceOf: TypeError, message: /heartbeatInterval.*"10"/ });
  t.throws(() => new JournalFileStorage(p, { heartbeatInterval: 0 }), { instanceOf: RangeError, message: /heartbeatInterval.*received 0/ });
  t.throws(() => new JournalFileStorage(p, { heartbeatInterval: NaN }), { instanceOf: RangeError, message: /heartbeatInterval.*NaN/ });
  t.throws(() => new JournalFileStorage(p, { gracePeriod: -1 }), { instanceOf: RangeError, message: /gracePeriod.*-1/ });
  t.throws(() => new JournalFileStorage(p, { gracePeriod: Infinity }), { instanceOf: RangeError, message: /gracePeriod.*Infinity/ });
  t.throws(() => new JournalFileStorage(p, { lockGracePeriod: 0 }), { instanceOf: RangeError, message: /lockGracePeriod/ });
  t.throws(() => new JournalFileStorage(p, { lockGracePeriod: 'x' as never }), { instanceOf: TypeError, message: /lockGracePeriod/ });
  t.throws(() => new JournalFileStorage(p, { heartbeat: 1 } as never), { instanceOf: TypeError, message: /unknown option "heartbeat"/ });
  t.throws(() => new JournalFileStorage(p, null as never), { instanceOf: TypeError, message: /options/ });
  t.throws(() => new JournalFileStorage(join(TMP, 'no', 'such', 'dir.log')), { message: /ENOENT/ });
});

// ---------------------------------------------------------------------------------------------
// The format
// ---------------------------------------------------------------------------------------------

test('JournalFileStorage: writes the lines Optuna writes', async (t) => {
  const p = fresh();
  const s = new JournalFileStorage(p);
  const w = s.workerId;
  t.regex(w, /^[0-9a-f-]{36}-\d+$/);
  const sid = await s.createNewStudy(['minimize', 'maximize'], 'fmt');
  const tid = await s.createNewTrial(sid);
  await s.setTrialParam(tid, 'x', 2, FX);
  await s.setTrialParam(tid, 'n', 3, N);
  await s.setTrialParam(tid, 'kind', 5, KIND);
  await s.setTrialIntermediateValue(tid, 4, NaN);
  await s.setTrialUserAttr(tid, 'é', [Infinity, 'NaN']);
  await s.setTrialStateValues(tid, COMPLETE, [1, -0]);
  const text = readFileSync(p, 'utf8').split('\n');
  const DT = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}\\+00:00';
  const W = `"op_code":(\\d+),"worker_id":"${w}"`;
  t.is(text[0], `{"op_code":0,"worker_id":"${w}","study_name":"fmt","directions":[1,2]}`);
  t.regex(text[1]!, new RegExp(`^\\{${W},"study_id":0,"datetime_start":"${DT}","state":0,"value":null,"values":null,"distributions":\\{\\},"params":\\{\\},"user_attrs":\\{\\},"system_attrs":\\{"ferroptim:worker":\\{"host":${JSON.stringify(hostname())},"pid":${process.pid}\\}\\},"intermediate_values":\\{\\}\\}$`));
  t.is(text[2], `{"op_code":5,"worker_id":"${w}","trial_id":0,"param_name":"x","param_value_internal":2.0,"distribution":${JSON.stringify(distributionToJson(FX))}}`);
  t.is(text[3], `{"op_code":5,"worker_id":"${w}","trial_id":0,"param_name":"n","param_value_internal":3.0,"distribution":${JSON.stringify(distributionToJson(N))}}`);
  t.is(text[4], `{"op_code":5,"worker_id":"${w}","trial_id":0,"param_name":"kind","param_value_internal":5,"distribution":${JSON.stringify(distributionToJson(KIND))}}`);
  t.is(text[5], `{"op_code":7,"worker_id":"${w}","trial_id":0,"step":4,"intermediate_value":NaN}`);
  t.is(text[6], `{"op_code":8,"worker_id":"${w}","trial_id":0,"user_attr":{"\\u00e9":[Infinity,"NaN"]}}`);
  t.regex(text[7]!, new RegExp(`^\\{${W},"trial_id":0,"state":1,"values":\\[1\\.0,-0\\.0\\],"datetime_complete":"${DT}"\\}$`));
  t.is(text[8], '');
  t.is(text.length, 9);
  t.false(lockExists(p), 'the lock is released');
});

test('the JSON codec: Python floats, NaN and Infinity tokens, ASCII, dates', (t) => {
  const reprs: [number, string][] = [
    [1, '1.0'], [-0, '-0.0'], [0, '0.0'], [1e-5, '1e-05'], [1e-4, '0.0001'], [1e16, '1e+16'], [1234567890123456, '1234567890123456.0'],
    [12345678901234567, '1.2345678901234568e+16'], [5e-324, '5e-324'], [1.7976931348623157e308, '1.7976931348623157e+308'], [0.1 + 0.2, '0.30000000000000004'],
    [123.456, '123.456'], [1e22, '1e+22'], [1e-7, '1e-07'], [100, '100.0'], [NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity'], [-2.5e-5, '-2.5e-05'],
  ];
  for (const [v, s] of reprs) t.is(pyFloatRepr(v), s, String(v));
  t.is(
    encodeJournalLine({ op_code: 0, s: 'é\u2028😀\u007f"\\\n', n: NaN, i: -Infinity, arr: [1, 1.5, 1e21, 1e-7, null, true], o: { '': {} } }),
    '{"op_code":0,"s":"\\u00e9\\u2028\\ud83d\\ude00\\u007f\\"\\\\\\n","n":NaN,"i":-Infinity,"arr":[1,1.5,1e+21,1e-07,null,true],"o":{"":{}}}',
  );
  const d = decodeJournalJson('{"a":NaN,"b":[Infinity,-Infinity, -1.5e3],"s":"NaN Infinity","q":"x\\"NaN","NaN":1, "__proto__":{"x":NaN}}') as Record<string, unknown>;
  t.deepEqual(d.a, NaN);
  t.deepEqual(d.b, [Infinity, -Infinity, -1500]);
  t.is(d.s, 'NaN Infinity');
  t.is(d.q, 'x"NaN');
  t.is(d.NaN, 1);
  t.true(Object.hasOwn(d, '__proto__'));
  t.is(Object.getPrototypeOf(d), Object.prototype);
  t.deepEqual(d['__proto__'], { x: NaN });
  for (const bad of ['{NaN:1}', '{"a":nan}', '{"a":-NaN}', '{"a":Infinityx}', '{"a":NaN}x', '{"a":[NaN,]}', '{"a":"NaN', '{"a":NaN,}', '{"a":01,"b":NaN}', `${'['.repeat(600)}NaN${']'.repeat(600)}`, '{"a":"\\x",NaN}', '{"a":"\u0001",NaN:1}']) {
    t.throws(() => decodeJournalJson(bad), { instanceOf: SyntaxError }, bad.slice(0, 30));
  }
  const date = new Date('2024-01-02T03:04:05.678Z');
  t.is(formatJournalDate(date), '2024-01-02T03:04:05.678000+00:00');
  t.is(parseJournalDate('2024-01-02T03:04:05.678901+00:00')?.getTime(), date.getTime());
  t.is(parseJournalDate('2024-01-02T05:04:05.678+02:00')?.getTime(), date.getTime());
  t.is(parseJournalDate('2024-01-02T03:04:05.678Z')?.getTime(), date.getTime());
  t.is(parseJournalDate('2024-01-02T03:04:05')?.getTime(), new Date(2024, 0, 2, 3, 4, 5).getTime(), 'naive: local time, as Python');
  for (const bad of ['2024-02-30T00:00:00+00:00', '2024-13-01T00:00:00+00:00', 'yesterday', '2024-01-02T25:00:00+00:00', '']) t.is(parseJournalDate(bad), null, bad);
  t.throws(() => formatJournalDate(new Date(-1e15)), { instanceOf: RangeError, message: /years 1 to 9999/ });
});

// ---------------------------------------------------------------------------------------------
// Optuna's replay rules
// ---------------------------------------------------------------------------------------------

const DT0 = '2024-03-01T10:00:00.000000+00:00';
const DT1 = '2024-03-01T10:00:01.500000+00:00';
const DT2 = '2024-03-01T10:00:02.000000+00:00';

/** A journal written by other workers (B, C, D), exercising the rules of the replay. */
function otherWorkersJournal(): string {
  const L = (o: Record<string, unknown>) => `${encodeJournalLine(o)}\n`;
  return [
    L({ op_code: 0, worker_id: 'B', study_name: 's', directions: [1] }),
    L({ op_code: 0, worker_id: 'C', study_name: 's', directions: [2] }), // Taken name, other worker: ignored.
    L({ op_code: 0, worker_id: 'B', study_name: 'gone', directions: [2] }),
    L({ op_code: 4, worker_id: 'B', study_id: 0, datetime_start: DT0 }), // Trial 0, RUNNING.
    L({ op_code: 5, worker_id: 'B', trial_id: 0, param_name: 'x', param_value_internal: 0.5, distribution: distributionToJson(FX) }),
    L({ op_code: 4, worker_id: 'B', study_id: 0, datetime_start: null, state: 4, value: null, values: null, distributions: { n: distributionToJson(N) }, params: { n: 3 }, user_attrs: {}, system_attrs: { fixed_params: { n: 3 } }, intermediate_values: {} }),
    L({ op_code: 5, worker_id: 'C', trial_id: 1, param_name: 'x', param_value_internal: 1, distribution: distributionToJson(intDistribution(0, 3)) }), // Incompatible, other worker: ignored.
    L({ op_code: 6, worker_id: 'C', trial_id: 1, state: 0, values: null, datetime_start: DT1 }), // C pops trial 1...
    L({ op_code: 6, worker_id: 'D', trial_id: 1, state: 0, values: null, datetime_start: DT2 }), // ...D loses: ignored.
    L({ op_code: 7, worker_id: 'C', trial_id: 1, step: 0, intermediate_value: NaN }),
    L({ op_code: 6, worker_id: 'B', trial_id: 0, state: 1, values: [1.5], datetime_complete: DT2 }),
    L({ op_code: 8, worker_id: 'C', trial_id: 0, user_attr: { late: 1 } }), // Finished: ignored.
    L({ op_code: 7, worker_id: 'C', trial_id: 0, step: 0, intermediate_value: 1 }), // Finished: ignored.
    L({ op_code: 6, worker_id: 'C', trial_id: 0, state: 3, values: null, datetime_complete: DT2 }), // Finished: ignored.
    L({ op_code: 10, worker_id: 'X', trial_ids: [0] }), // DISCARD_TRIALS: ignored, as by Optuna.
    L({ op_code: 4, worker_id: 'B', study_id: 1, datetime_start: DT0 }), // Trial 2, in "gone".
    L({ op_code: 1, worker_id: 'B', study_id: 1 }),
    L({ op_code: 2, worker_id: 'C', study_id: 1, user_attr: { a: 1 } }), // Deleted study: ignored.
    L({ op_code: 4, worker_id: 'C', study_id: 1, datetime_start: DT0 }), // Deleted study: ignored.
    L({ op_code: 9, worker_id: 'C', trial_id: 2, system_attr: { still: 'writable' } }), // Its trials remain.
    L({ op_code: 3, worker_id: 'B', study_id: 0, system_attr: { k: [1, 2] } }),
  ].join('');
}

test('replay: Optuna\'s rules for entries of other workers', async (t) => {
  const p = fresh();
  writeFileSync(p, otherWorkersJournal());
  const s = new JournalFileStorage(p);
  t.deepEqual((await s.getAllStudies()).map((x) => [x.studyId, x.studyName, x.directions]), [[0, 's', ['minimize']]]);
  t.deepEqual((await s.getStudy(0)).systemAttrs, { k: [1, 2] });
  const [t0, t1] = await s.getAllTrials(0);
  t.deepEqual([t0!.state, t0!.values, t0!.userAttrs, [...t0!.intermediateValues], t0!.params], [COMPLETE, [1.5], {}, [], { x: 0.5 }]);
  t.deepEqual([t1!.state, t1!.params, t1!.datetimeStart, [...t1!.intermediateValues]], [RUNNING, { n: 3 }, parseJournalDate(DT1), [[0, NaN]]]);
  t.deepEqual((await s.getTrial(2)).systemAttrs, { still: 'writable' });
  t.false(await s.setTrialStateValues(1, RUNNING), 'already popped by C');
  // A new study takes the next id; a new trial the next id and its study's next number.
  const g = await s.createNewStudy(['minimize'], 'gone');
  t.is(g, 2);
  const id = await s.createNewTrial(0);
  t.deepEqual([id, (await s.getTrial(id)).number], [3, 2]);
});

test('replay: this worker\'s own refused entries raise, once', async (t) => {
  const p = fresh();
  const s = new JournalFileStorage(p);
  const sid = await s.createNewStudy(['minimize'], 'own');
  const tid = await s.createNewTrial(sid);
  await s.setTrialStateValues(tid, COMPLETE, [1]);
  // As if written by this worker past its checks (possible only when a lock is broken).
  const L = (o: Record<string, unknown>) => appendFileSync(p, `${encodeJournalLine({ worker_id: s.workerId, ...o })}\n`);
  L({ op_code: 0, study_name: 'own', directions: [1] });
  await t.throwsAsync(s.getAllStudies(), { instanceOf: DuplicatedStudyError });
  t.is((await s.getAllStudies()).length, 1, 'consumed: raised once');
  L({ op_code: 8, trial_id: tid, user_attr: { k: 1 } });
  await t.throwsAsync(s.getTrial(tid), { instanceOf: UpdateFinishedTrialError });
  L({ op_code: 1, study_id: 5 });
  await t.throwsAsync(s.getTrial(tid), { message: /only 1 study/ });
});

// ---------------------------------------------------------------------------------------------
// Untrusted files
// ---------------------------------------------------------------------------------------------

test('hostile files: every bad line is a clear error naming the file and line', async (t) => {
  const ok = `${encodeJournalLine({ op_code: 0, worker_id: 'B', study_name: 's', directions: [1] })}\n${encodeJournalLine({ op_code: 4, worker_id: 'B', study_id: 0, datetime_start: DT0 })}\n`;
  const e = (o: Record<string, unknown>) => encodeJournalLine({ op_code: 9, worker_id: 'B', trial_id: 0, system_attr: { k: 1 }, ...o });
  const cases: [string, string | Buffer, RegExp][] = [
    ['bad JSON', '{"op_code":0,', /bad JSON/],
    ['empty line', '', /bad JSON/],
    ['NaN as a key', '{NaN:1}', /bad JSON/],
    ['an array', '[1,2]', /must be a JSON object/],
    ['unknown op code', e({ op_code: 11 }), /unknown op_code 11/],
    ['op code as text', e({ op_code: '4' }), /unknown op_code "4"/],
    ['missing op_code', '{"worker_id":"B"}', /missing field "op_code"/],
    ['worker_id a number', e({ worker_id: 5 }), /"worker_id" must be a string/],
    ['trial_id a string', e({ trial_id: '0' }), /"trial_id" must be a non-negative integer/],
    ['trial id out of range', e({ trial_id: 7 }), /"trial_id" is 7, but only 1 trial was created/],
    ['study id out of range', encodeJournalLine({ op_code: 2, worker_id: 'B', study_id: 3, user_attr: { a: 1 } }), /"study_id" is 3, but only 1 study was created/],
    ['direction 3', encodeJournalLine({ op_code: 0, worker_id: 'B', study_name: 't', directions: [3] }), /directions"\[0\] must be 1 \(minimize\) or 2 \(maximize\)/],
    ['no directions', encodeJournalLine({ op_code: 0, worker_id: 'B', study_name: 't', directions: [] }), /non-empty list/],
    ['study name a number', encodeJournalLine({ op_code: 0, worker_id: 'B', study_name: 1, directions: [1] }), /"study_name" must be a string/],
    ['distribution bad JSON', encodeJournalLine({ op_code: 5, worker_id: 'B', trial_id: 0, param_name: 'x', param_value_internal: 1, distribution: '{' }), /"distribution" is not a valid distribution/],
    ['distribution an object', encodeJournalLine({ op_code: 5, worker_id: 'B', trial_id: 0, param_name: 'x', param_value_internal: 1, distribution: { name: 'FloatDistribution' } }), /distribution's JSON text/],
    ['distribution low > high', encodeJournalLine({ op_code: 5, worker_id: 'B', trial_id: 0, param_name: 'x', param_value_internal: 1, distribution: '{"name": "FloatDistribution", "attributes": {"step": null, "low": 2.0, "high": 1.0, "log": false}}' }), /not a valid distribution.*empty/],
    ['unknown distribution', encodeJournalLine({ op_code: 5, worker_id: 'B', trial_id: 0, param_name: 'x', param_value_internal: 1, distribution: '{"name": "Evil", "attributes": {}}' }), /unknown distribution "Evil"/],
    ['categorical index out of range', encodeJournalLine({ op_code: 5, worker_id: 'B', trial_id: 0, param_name: 'c', param_value_internal: 9, distribution: distributionToJson(KIND) }), /not the index of one of the 6 choices/],
    ['int param infinite', encodeJournalLine({ op_code: 5, worker_id: 'B', trial_id: 0, param_name: 'n', param_value_internal: Infinity, distribution: distributionToJson(N) }), /finite/],
    ['param name missing', encodeJournalLine({ op_code: 5, worker_id: 'B', trial_id: 0, param_value_internal: 1, distribution: distributionToJson(FX) }), /missing field "param_name"/],
    ['state 9', encodeJournalLine({ op_code: 6, worker_id: 'B', trial_id: 0, state: 9, values: null }), /trial state \(0 to 4\), received 9/],
    ['values not a list', encodeJournalLine({ op_code: 6, worker_id: 'B', trial_id: 0, state: 1, values: 1, datetime_complete: DT1 }), /list of numbers or null/],
    ['values of strings', encodeJournalLine({ op_code: 6, worker_id: 'B', trial_id: 0, state: 1, values: ['1'], datetime_complete: DT1 }), /"values"\[0\] must be a number/],
    ['finished without a date', encodeJournalLine({ op_code: 6, worker_id: 'B', trial_id: 0, state: 1, values: [1] }), /missing field "datetime_complete"/],
    ['a bad date', encodeJournalLine({ op_code: 6, worker_id: 'B', trial_id: 0, state: 1, values: [1], datetime_complete: 'soon' }), /not an ISO 8601 date/],
    ['two attributes in one entry', e({ system_attr: { a: 1, b: 2 } }), /exactly one attribute, received 2/],
    ['attribute not an object', e({ system_attr: [1] }), /"system_attr" must be an object/],
    ['step not an integer', encodeJournalLine({ op_code: 7, worker_id: 'B', trial_id: 0, step: 1.5, intermediate_value: 1 }), /"step" must be an integer/],
    ['value and values', encodeJournalLine({ op_code: 4, worker_id: 'B', study_id: 0, datetime_start: null, value: 1, values: [1] }), /both set/],
    ['params without distribution', encodeJournalLine({ op_code: 4, worker_id: 'B', study_id: 0, datetime_start: null, params: { x: 1 } }), /"x", which has no distribution/],
    ['CREATE_TRIAL without datetime_start', encodeJournalLine({ op_code: 4, worker_id: 'B', study_id: 0 }), /missing field "datetime_start"/],
    ['intermediate key not an integer', encodeJournalLine({ op_code: 4, worker_id: 'B', study_id: 0, datetime_start: null, intermediate_values: { a: 1 } }), /not an integer step/],
    ['deeply nested attribute', `{"op_code":9,"worker_id":"B","trial_id":0,"system_attr":{"k":${'['.repeat(600)}${']'.repeat(600)}}}`, /nested more than 512 levels/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /not UTF-8/],
  ];
  for (const [what, line, message] of cases) {
    const p = fresh('hostile');
    writeFileSync(p, Buffer.concat([Buffer.from(ok), Buffer.from(line), Buffer.from(`\n${ok.split('\n')[1]}\n`)]));
    const s = new JournalFileStorage(p);
    const err = await t.throwsAsync(s.getAllStudies(), undefined, what);
    t.true(err!.message.startsWith(`${p}:3: not a valid journal entry`), `${what}: ${err!.message}`);
    t.regex(err!.message, message, what);
    // Nothing is applied past it, nothing is written; the error stays.
    const size = statSync(p).size;
    await t.throwsAsync(s.createNewStudy(['minimize'], 'new'), { message: err!.message }, what);
    t.is(statSync(p).size, size, what);
  }
});

test('hostile files: a line over 16 MiB is an error, not an allocation', async (t) => {
  const head = `${encodeJournalLine({ op_code: 0, worker_id: 'B', study_name: 's', directions: [1] })}\n`;
  for (const tail of ['\n', '']) {
    const p = fresh('huge');
    writeFileSync(p, head + `{"op_code":0,"worker_id":"${'x'.repeat(MAX_LINE_BYTES)}"}` + tail);
    await t.throwsAsync(new JournalFileStorage(p).getAllStudies(), { message: `${p}:2: a line longer than ${MAX_LINE_BYTES} bytes; this is not a journal written by Optuna or ferroptim` });
  }
});

test('a torn last line is ignored by readers and cut before the next append', async (t) => {
  const p = fresh('torn');
  const s = new JournalFileStorage(p);
  const sid = await s.createNewStudy(['minimize'], 'torn');
  await s.setTrialStateValues(await s.createNewTrial(sid), COMPLETE, [1]);
  const whole = readFileSync(p);
  // A writer killed mid-write leaves part of a line (no "\n").
  appendFileSync(p, '{"op_code":4,"worker_id":"dead","study_id":0,"datetime_sta');
  const other = new JournalFileStorage(p);
  t.is((await other.getAllTrials(sid)).length, 1);
  t.is((await s.getAllTrials(sid)).length, 1);
  const id = await other.createNewTrial(sid);
  t.is(id, 1);
  const after = readFileSync(p);
  t.deepEqual(after.subarray(0, whole.length), whole, 'the torn bytes are cut, nothing else');
  t.false(after.includes('datetime_sta"'));
  t.is(lines(p).length, 4);
  t.deepEqual((await s.getAllTrials(sid)).map((x) => x.trialId), [0, 1]);
});

// ---------------------------------------------------------------------------------------------
// Heartbeats and stale trials
// ---------------------------------------------------------------------------------------------

test.serial('failStaleTrials: trials without a heartbeat for the grace period fail, with a reason', async (t) => {
  const p = fresh('stale');
  const s = new JournalFileStorage(p, { heartbeatInterval: 0.2, gracePeriod: 1 });
  t.deepEqual([s.heartbeatInterval, s.gracePeriod], [0.2, 1]);
  const sid = await s.createNewStudy(['minimize'], 'stale');
  const quiet = await s.createNewTrial(sid);
  const beating = await s.createNewTrial(sid);
  const old = formatJournalDate(new Date(Date.now() - 200_000));
  const L = (o: Record<string, unknown>) => appendFileSync(p, `${encodeJournalLine(o)}\n`);
  // Started by Optuna itself (no ferroptim record): never judged, however old.
  L({ op_code: 4, worker_id: 'py', study_id: sid, datetime_start: old });
  // Run elsewhere, with an old heartbeat.
  L({ op_code: 4, worker_id: 'far', study_id: sid, datetime_start: old, state: 0, value: null, values: null, distributions: {}, params: {}, user_attrs: {}, system_attrs: { 'ferroptim:worker': { host: 'elsewhere', pid: 1 }, 'ferroptim:heartbeat': Date.now() / 1000 - 100 }, intermediate_values: {} });
  await sleep(700);
  await s.recordHeartbeat(beating);
  const beat = (await s.getTrial(beating)).systemAttrs['ferroptim:heartbeat'] as number;
  t.true(Math.abs(beat - Date.now() / 1000) < 1);
  await sleep(600);
  const failed = await s.failStaleTrials(sid);
  t.deepEqual(failed.map((x) => x.trialId).sort(num), [quiet, 3]);
  for (const f of failed) t.is(f.state, FAIL);
  t.regex(failed.find((x) => x.trialId === quiet)!.systemAttrs.fail_reason as string, new RegExp(`^Its worker, process ${process.pid} on .*, sent no heartbeat since the trial started for \\d+\\.\\d s, more than the grace period of 1 s\\.$`));
  t.regex(failed.find((x) => x.trialId === 3)!.systemAttrs.fail_reason as string, /^Its worker, process 1 on elsewhere, sent no heartbeat for 10\d\.\d s/);
  t.deepEqual((await s.getAllTrials(sid, [RUNNING])).map((x) => x.trialId), [beating, 2]);
  t.deepEqual(await s.failStaleTrials(sid), []);
  // A finished trial's late heartbeat is ignored (nothing written).
  const size = statSync(p).size;
  await s.recordHeartbeat(quiet);
  t.is(statSync(p).size, size);
});

test.serial('failStaleTrials: a SIGKILLed worker\'s trial is failed once, though two processes ask at once', async (t) => {
  const p = fresh('crash');
  const s = new JournalFileStorage(p);
  const sid = await s.createNewStudy(['minimize'], 'crash');
  const child = spawnChild({ cmd: 'run-trial', path: p, study: 'crash' });
  const { trialId } = JSON.parse((await lineFrom(child, '{')).line) as { trialId: number };
  const pid = child.pid!;
  child.kill('SIGKILL');
  await killed(child);
  const mine = await s.createNewTrial(sid); // Alive, here: not stale.
  const at = Date.now() + 1000;
  const outs = await Promise.all([0, 1].map(() => runChild({ cmd: 'fail-stale', path: p, study: 'crash', at })));
  const failed = outs.map((o) => (JSON.parse(o) as { failed: number[] }).failed);
  t.deepEqual(failed.flat(), [trialId], JSON.stringify(failed));
  const dead = await s.getTrial(trialId);
  t.is(dead.state, FAIL);
  t.deepEqual(dead.params, { x: 0.25 }, "the dead worker's writes are kept");
  t.deepEqual(dead.systemAttrs['ferroptim:worker'], { host: hostname(), pid });
  t.regex(dead.systemAttrs.fail_reason as string, new RegExp(`^Its worker, process ${pid} on .*, is no longer running`));
  t.is((await s.getTrial(mine)).state, RUNNING);
  t.deepEqual(await s.failStaleTrials(sid), []);
  t.is(lines(p).filter((l) => l.op_code === 6 && l.state === FAIL).length, 1, 'one FAIL entry');
});

// ---------------------------------------------------------------------------------------------
// Locks
// ---------------------------------------------------------------------------------------------

test.serial('a lock left by a killed process is broken after lockGracePeriod', async (t) => {
  const p = fresh('lock');
  const child = spawnChild({ cmd: 'hold-lock', path: p });
  await lineFrom(child, 'locked');
  child.kill('SIGKILL');
  await killed(child);
  t.true(lockExists(p), 'the dead process left its lock');
  // Without its owner record (as Optuna's holders, or one killed before writing it, leave the
  // lock) nothing tells its holder is dead: the grace period applies.
  t.true(existsSync(`${p}.lock.owner`));
  rmSync(`${p}.lock.owner`);
  const s = new JournalFileStorage(p, { lockGracePeriod: 0.5 });
  const t0 = Date.now();
  await s.createNewStudy(['minimize'], 'after');
  const waited = Date.now() - t0;
  t.true(waited >= 450 && waited < 5000, `waited ${waited} ms`);
  t.false(lockExists(p));
  t.is(await s.getStudyIdFromName('after'), 0);
});

/** The owner record the child holding `path`'s lock wrote. */
const ownerRecord = (path: string) => JSON.parse(readFileSync(`${path}.lock.owner`, 'utf8')) as Record<string, unknown>;

test.serial('a lock left by a SIGKILLed ferroptim process of this host is broken at once, with the default lockGracePeriod', async (t) => {
  const p = fresh('lock');
  const child = spawnChild({ cmd: 'hold-lock', path: p });
  await lineFrom(child, 'locked');
  const l = lstatSync(`${p}.lock`, { bigint: true });
  t.like(ownerRecord(p), { pid: child.pid, host: hostname(), ino: String(l.ino), ctimeNs: String(l.ctimeNs) });
  t.is(await fsp.readlink(`${p}.lock`), basename(p), 'the link still points at the journal, for Optuna');
  child.kill('SIGKILL');
  await killed(child);
  t.true(lockExists(p), 'the dead process left its lock');
  // Two waiters at once (and their breaks): both get the lock, in turn.
  const a = new JournalFileStorage(p);
  const b = new JournalFileStorage(p);
  t.is(a.lockGracePeriod, 30);
  const t0 = Date.now();
  const ids = await Promise.all([a.createNewStudy(['minimize'], 'a'), b.createNewStudy(['minimize'], 'b')]);
  const waited = Date.now() - t0;
  t.true(waited < 2000, `waited ${waited} ms`);
  t.deepEqual(ids.sort(num), [0, 1]);
  t.deepEqual((await a.getAllStudies()).map((x) => x.studyName).sort(), ['a', 'b']);
  t.false(lockExists(p));
  t.false(existsSync(`${p}.lock.owner`), 'no owner record outlives its lock');
});

test.serial('an owner record vouches only for its own lock instance, on this host: otherwise the grace period applies', async (t) => {
  // A dead process of this host, and a true record of it to alter.
  const deadPath = fresh('lock');
  const dead = spawnChild({ cmd: 'hold-lock', path: deadPath });
  await lineFrom(dead, 'locked');
  const template = ownerRecord(deadPath);
  dead.kill('SIGKILL');
  await killed(dead);
  t.is(template.pid, dead.pid);
  const GRACE = 1;
  type Plant = (p: string) => Promise<void>;
  const lockOf = (p: string, file = false) => {
    if (file) writeFileSync(`${p}.lock`, '', { flag: 'wx' });
    else symlinkSync(basename(p), `${p}.lock`);
    const l = lstatSync(`${p}.lock`, { bigint: true });
    return { ...template, ino: String(l.ino), ctimeNs: String(l.ctimeNs) };
  };
  const record = (p: string, r: unknown) => writeFileSync(`${p}.lock.owner`, typeof r === 'string' ? r : JSON.stringify(r));
  const cases: [string, boolean, Plant][] = [
    ['its own lock (control)', true, async (p) => record(p, lockOf(p))],
    ['its own O_EXCL lock file (control)', true, async (p) => record(p, lockOf(p, true))],
    ['an earlier lock instance (the lock re-created, perhaps on the same inode)', false, async (p) => {
      record(p, lockOf(p));
      unlinkSync(`${p}.lock`);
      await sleep(20);
      lockOf(p);
    }],
    ['ino off by one', false, async (p) => {
      const r = lockOf(p);
      record(p, { ...r, ino: String(BigInt(r.ino) + 1n) });
    }],
    ['ctimeNs off by one', false, async (p) => {
      const r = lockOf(p);
      record(p, { ...r, ctimeNs: String(BigInt(r.ctimeNs) + 1n) });
    }],
    ['another host', false, async (p) => record(p, { ...lockOf(p), host: `not-${hostname()}` })],
    ['another PID namespace', false, async (p) => record(p, { ...lockOf(p), pidns: 'pid:[1]' })],
    ['a process group instead of a pid', false, async (p) => record(p, { ...lockOf(p), pid: -1 })],
    ['malformed', false, async (p) => record(p, JSON.stringify(lockOf(p)).slice(0, -1))],
    ['over 4 KiB', false, async (p) => record(p, JSON.stringify(lockOf(p)) + ' '.repeat(4096))],
    ['a directory', false, async (p) => {
      lockOf(p);
      await fsp.mkdir(`${p}.lock.owner`);
    }],
  ];
  // All at once, each on its own journal.
  const results = await Promise.all(
    cases.map(async ([name, trusted, plant]) => {
      const p = fresh('owner');
      const s = new JournalFileStorage(p, { lockGracePeriod: GRACE });
      await plant(p);
      const t0 = Date.now();
      await s.createNewStudy(['minimize'], 'after');
      return { name, trusted, waited: Date.now() - t0, released: !lockExists(p) };
    }),
  );
  for (const { name, trusted, waited, released } of results) {
    if (trusted) t.true(waited < GRACE * 1000 - 100, `${name}: broken at once, waited ${waited} ms`);
    else t.true(waited >= GRACE * 1000 && waited < 5000, `${name}: ignored, waited ${waited} ms`);
    t.true(released, name);
  }
});

test.serial('a live holder is never broken early, though its owner record is trusted', async (t) => {
  const p = fresh('lock');
  const child = spawnChild({ cmd: 'hold-lock', path: p, seconds: 1 });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await lineFrom(child, 'locked');
  t.like(ownerRecord(p), { pid: child.pid, host: hostname() });
  const releasing = lineFrom(child, 'releasing');
  // Two waiters, watching the live holder's lock and record for longer than the settle time.
  const a = new JournalFileStorage(p);
  const b = new JournalFileStorage(p);
  const t0 = Date.now();
  const got = await Promise.all([a.createNewStudy(['minimize'], 'a'), b.createNewStudy(['minimize'], 'b')].map((op) => op.then(() => Date.now())));
  const released = Number((await releasing).line.split(' ')[1]);
  for (const at of got) t.true(at >= released && at - t0 >= 700, `acquired at ${at}, released at ${released}, waited ${at - t0} ms`);
  await collect(child);
  t.notRegex(err, /broken|breaking/, 'the holder kept its lock');
  t.false(lockExists(p));
});

test.serial('without a lockGracePeriod the lock is waited for, never broken', async (t) => {
  const p = fresh('lock');
  const child = spawnChild({ cmd: 'hold-lock', path: p });
  await lineFrom(child, 'locked');
  child.kill('SIGKILL');
  await killed(child);
  const s = new JournalFileStorage(p, { lockGracePeriod: null });
  let done = false;
  const op = s.createNewStudy(['minimize'], 'x').then(() => (done = true));
  await sleep(600);
  t.false(done);
  rmSync(`${p}.lock`);
  await op;
  t.true(done);
});

test.serial('where symbolic links are refused, an O_EXCL lock file (Optuna\'s JournalFileOpenLock) excludes the symlink lock', async (t) => {
  const p = fresh('openlock');
  const s = new JournalFileStorage(p);
  const lock = new SymlinkLock(p, 30);
  // Serial test: no other test runs while symlink(2) fails as on FAT or unprivileged Windows.
  const symlink = fsp.symlink;
  fsp.symlink = () => Promise.reject(Object.assign(new Error('EPERM: operation not permitted, symlink'), { code: 'EPERM' }));
  try {
    await lock.acquire();
  } finally {
    fsp.symlink = symlink;
  }
  t.true(lstatSync(`${p}.lock`).isFile());
  let done = false;
  const op = s.createNewStudy(['minimize'], 'x').then(() => (done = true));
  await sleep(300);
  t.false(done, 'the symlink lock waits for the lock file');
  await lock.release();
  await op;
  t.false(lockExists(p));
});

// ---------------------------------------------------------------------------------------------
// Several processes
// ---------------------------------------------------------------------------------------------

test.serial('several processes: unique ids, each enqueued trial popped by exactly one, no lost writes', async (t) => {
  const p = fresh('multi');
  const s = new JournalFileStorage(p);
  const sid = await s.createNewStudy(['minimize'], 'multi');
  const waiting: number[] = [];
  for (let i = 0; i < 9; i++) waiting.push(await s.createNewTrial(sid, { state: WAITING, userAttrs: { i } }));
  const workers = 3;
  const create = 5;
  const at = Date.now() + 1200;
  const outs = await Promise.all(range(workers).map((index) => runChild({ cmd: 'work', path: p, study: 'multi', index, create, at })));
  const results = outs.map((o) => JSON.parse(o) as { created: number[]; popped: number[]; lost: number });
  const popped = results.flatMap((r) => r.popped);
  t.deepEqual([...popped].sort(num), waiting, 'every WAITING trial popped exactly once');
  const created = results.flatMap((r) => r.created);
  t.is(new Set(created).size, workers * create);
  t.false(created.some((id) => waiting.includes(id)));
  const all = await s.getAllTrials(sid);
  const total = waiting.length + workers * create;
  t.deepEqual(all.map((x) => x.trialId), range(total));
  t.deepEqual(all.map((x) => x.number), range(total));
  t.true(all.every((x) => x.state === COMPLETE));
  results.forEach((r, index) => {
    r.created.forEach((id, i) => {
      const tr = all[id]!;
      t.deepEqual([tr.values, tr.params, tr.intermediateValues.get(0)], [[index * 1000 + i], { x: i / 10, worker: index }, index * 1000 + i]);
      t.is((tr.systemAttrs['ferroptim:worker'] as { pid: number }).pid > 0, true);
    });
    for (const id of r.popped) t.deepEqual([all[id]!.userAttrs.popped_by, all[id]!.values], [index, [id]]);
  });
  t.is(lines(p).length, 1 + 9 + 9 * 4 + workers * create * 5, 'no lost and no extra entries');
  if (HAVE_OPTUNA) t.deepEqual(comparable(await optunaDump(p, 'multi')), await ferroptimDump(s, 'multi'), 'Optuna reads it the same');
});

// ---------------------------------------------------------------------------------------------
// Round trips with the real Optuna
// ---------------------------------------------------------------------------------------------

/** Writes a study with every kind of parameter, state and value. */
async function writeRichStudy(s: Storage): Promise<void> {
  const sid = await s.createNewStudy(['minimize'], 'rich');
  await s.setStudyUserAttr(sid, 'note', 'café ☕');
  await s.setStudySystemAttr(sid, 'nested', { a: [1, 2.5, null, Infinity] });
  const suggest = async (id: number, v: { x: number; lr: number; q: number; n: number; k: number; kind: number; extra?: number }) => {
    const dists: Record<string, Distribution> = { x: FX, lr: LR, q: Q, n: N, k: K, kind: KIND, extra: EXTRA };
    for (const [name, value] of Object.entries(v)) await s.setTrialParam(id, name, value, dists[name]!);
  };
  const c = await s.createNewTrial(sid);
  await suggest(c, { x: 1.5, lr: 1e-3, q: 0.75, n: 5, k: 8, kind: 0, extra: 0.3 });
  for (const [step, v] of [[0, 3], [1, NaN], [2, 2.25]] as const) await s.setTrialIntermediateValue(c, step, v);
  await s.setTrialUserAttr(c, 'notes', { text: 'é', nested: { inf: Infinity, list: [1, 2.5, null, -Infinity, NaN] } });
  await s.setTrialSystemAttr(c, 'sys', true);
  await s.setTrialStateValues(c, COMPLETE, [2.25]);
  const pr = await s.createNewTrial(sid);
  await suggest(pr, { x: -3, lr: 0.05, q: 0, n: 1, k: 1, kind: 2 });
  await s.setTrialIntermediateValue(pr, 0, 9);
  await s.setTrialStateValues(pr, PRUNED, [9]);
  const f = await s.createNewTrial(sid);
  await suggest(f, { x: 0, lr: 1e-5, q: 1, n: 9, k: 64, kind: 5 });
  await s.setTrialSystemAttr(f, 'fail_reason', 'The objective threw.');
  await s.setTrialStateValues(f, FAIL);
  const inf = await s.createNewTrial(sid);
  await suggest(inf, { x: 10, lr: 0.1, q: 0.25, n: 3, k: 2, kind: 3 });
  await s.setTrialStateValues(inf, COMPLETE, [Infinity]);
  await s.createNewTrial(sid, { state: WAITING, params: { x: { internal: 2, distribution: FX } }, systemAttrs: { fixed_params: { x: 2 } }, userAttrs: { queued: true } });
  const run = await s.createNewTrial(sid);
  await suggest(run, { x: 7.25, lr: 0.01, q: 0.5, n: 7, k: 3, kind: 4 });
  await s.setTrialIntermediateValue(run, 0, -1);
  await s.recordHeartbeat(run);
  await s.createNewTrial(sid, {
    state: COMPLETE,
    values: [0.5],
    params: { x: { internal: 0.5, distribution: FX }, kind: { internal: 1, distribution: KIND } },
    intermediateValues: new Map([[0, 1], [10, 0.5]]),
    datetimeStart: new Date('2024-01-02T03:04:05.678Z'),
    datetimeComplete: new Date('2024-01-02T03:05:00Z'),
  });
  const m = await s.createNewStudy(['maximize', 'minimize'], 'pareto');
  const mt = await s.createNewTrial(m);
  await s.setTrialParam(mt, 'x', 1, FX);
  await s.setTrialStateValues(mt, COMPLETE, [1, -Infinity]);
}

optunaTest('Optuna reads a study ferroptim wrote, value for value', async (t) => {
  const p = fresh('rich');
  const s = new JournalFileStorage(p);
  await writeRichStudy(s);
  const py = await optunaDump(p, 'rich');
  const ours = await ferroptimDump(s, 'rich');
  t.deepEqual(comparable(py), ours);
  t.deepEqual(ours.trials.map((x) => x.state), ['COMPLETE', 'PRUNED', 'FAIL', 'COMPLETE', 'WAITING', 'RUNNING', 'COMPLETE']);
  t.deepEqual(py.param_types[0], { x: 'float', lr: 'float', q: 'float', n: 'int', k: 'int', kind: 'str', extra: 'float' });
  t.deepEqual([py.param_types[1]!.kind, py.param_types[2]!.kind, py.param_types[3]!.kind], ['NoneType', 'bool', 'int']);
  t.deepEqual(comparable(await optunaDump(p, 'pareto')), await ferroptimDump(s, 'pareto'));
  // And an in-memory storage fed the same calls sees the same study (one mechanism).
  const mem = new InMemoryStorage();
  await writeRichStudy(mem);
  const m = await ferroptimDump(mem, 'rich');
  const strip = (d: typeof m) => d.trials.map(({ datetime_start: _a, datetime_complete: _b, system_attrs: _c, ...x }) => x);
  t.deepEqual(strip(m), strip(ours));
});

optunaTest('ferroptim reads trials Optuna wrote (NaN reports, inf attributes, every state)', async (t) => {
  const p = fresh('py');
  const py = parseDump((await runOptuna(['write', p, 'py', '14', '0'])).trim());
  const s = new JournalFileStorage(p);
  const ours = await ferroptimDump(s, 'py');
  t.deepEqual(comparable(py), ours);
  t.deepEqual(new Set(ours.trials.map((x) => x.state)), new Set(['COMPLETE', 'PRUNED', 'FAIL']));
  t.true(ours.trials.some((x) => x.intermediate_values['1'] === 'NaN'));
  t.true(ours.trials.some((x) => 'extra' in x.params), 'the conditional parameter');
  const trials = await s.getAllTrials(await s.getStudyIdFromName('py'));
  py.param_types.forEach((types, i) => {
    for (const [k, ty] of Object.entries(types)) {
      const v = trials[i]!.params[k];
      if (ty === 'int') t.true(Number.isInteger(v), `${k} = ${String(v)}`);
      if (ty === 'float') t.is(typeof v, 'number');
    }
  });
  t.deepEqual(trials[0]!.userAttrs.py, { n: trials[0]!.params.n as number, text: 'café', inf: Infinity });
});

optunaTest('ferroptim and Optuna append to one study in turn (Optuna pops ferroptim\'s enqueued trial)', async (t) => {
  const p = fresh('turns');
  const s = new JournalFileStorage(p);
  const sid = await s.createNewStudy(['minimize'], 'turns');
  const one = async (x: number) => {
    const id = await s.createNewTrial(sid);
    await s.setTrialParam(id, 'x', x, FX);
    await s.setTrialParam(id, 'n', 3, N);
    await s.setTrialIntermediateValue(id, 0, x * x);
    await s.setTrialStateValues(id, COMPLETE, [x * x]);
    return id;
  };
  await one(1);
  const queued = await s.createNewTrial(sid, { state: WAITING, params: { x: { internal: 2, distribution: FX } }, systemAttrs: { fixed_params: { x: 2 } } });
  await one(-1);
  await runOptuna(['write', p, 'turns', '4', '2']);
  const popped = await s.getTrial(queued);
  t.is(popped.state, COMPLETE, 'Optuna ran the enqueued trial');
  t.is(popped.params.x, 2);
  t.false('ferroptim:worker' in popped.systemAttrs);
  const mine = await one(0.5);
  t.is((await s.getTrial(mine)).number, 6);
  // Optuna's earlier trials fix the kinds of their parameters for ferroptim too.
  const id = await s.createNewTrial(sid);
  await t.throwsAsync(s.setTrialParam(id, 'k', 1.5, floatDistribution(1, 64)), { instanceOf: RangeError, message: /"k" was suggested before as int/ });
  await s.setTrialParam(id, 'kind', 1, KIND);
  await s.setTrialStateValues(id, FAIL);
  const py = parseDump((await runOptuna(['write', p, 'turns', '3', '3'])).trim());
  t.is(py.trials.length, 11);
  t.deepEqual(comparable(py), await ferroptimDump(s, 'turns'));
});

optunaTest('ferroptim and Optuna append to one study at the same time', async (t) => {
  const p = fresh('together');
  const s = new JournalFileStorage(p);
  const sid = await s.createNewStudy(['minimize'], 'together');
  const python = runOptuna(['write', p, 'together', '15', '4']);
  const mine: number[] = [];
  for (let i = 0; i < 15; i++) {
    const id = await s.createNewTrial(sid);
    mine.push(id);
    await s.setTrialParam(id, 'x', i - 7, FX);
    await s.setTrialIntermediateValue(id, 0, i);
    await s.setTrialUserAttr(id, 'i', i);
    await s.setTrialStateValues(id, COMPLETE, [i]);
  }
  await python;
  const all = await s.getAllTrials(sid);
  t.deepEqual(all.map((x) => x.number), range(30));
  t.deepEqual(all.filter((x) => 'ferroptim:worker' in x.systemAttrs).map((x) => x.trialId), mine);
  for (const [i, id] of mine.entries()) t.deepEqual([all[id]!.params.x, all[id]!.values, all[id]!.userAttrs.i], [i - 7, [i], i]);
  t.is(all.filter((x) => !mine.includes(x.trialId)).length, 15);
  t.deepEqual(comparable(await optunaDump(p, 'together')), await ferroptimDump(s, 'together'));
});

optunaTest('Optuna reads a file whose torn last line ferroptim ignored, then repaired', async (t) => {
  const p = fresh('torn-py');
  const s = new JournalFileStorage(p);
  await writeRichStudy(s);
  appendFileSync(p, '{"op_code":9,"worker_id":"dead","trial_id":5,"system_attr":{"k');
  t.deepEqual(comparable(await optunaDump(p, 'rich')), await ferroptimDump(s, 'rich'), 'both ignore the torn line');
  const sid = await s.getStudyIdFromName('rich');
  await s.setTrialStateValues(await s.createNewTrial(sid), FAIL);
  const py = await optunaDump(p, 'rich');
  t.is(py.trials.length, 8);
  t.deepEqual(comparable(py), await ferroptimDump(s, 'rich'));
});

optunaTest('Optuna replays the other-workers journal as ferroptim does', async (t) => {
  const p = fresh('rules');
  writeFileSync(p, otherWorkersJournal());
  t.deepEqual(comparable(await optunaDump(p, 's')), await ferroptimDump(new JournalFileStorage(p), 's'));
});

optunaTest('pyFloatRepr is Python\'s repr, on random doubles', async (t) => {
  const values: number[] = [];
  const buf = new DataView(new ArrayBuffer(8));
  for (let i = 0; i < 400; i++) {
    if (i % 2 === 0) {
      for (let b = 0; b < 8; b++) buf.setUint8(b, Math.floor(Math.random() * 256));
      values.push(buf.getFloat64(0));
    } else values.push((Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 40 - 20));
  }
  const finite = values.filter(Number.isFinite);
  const py = JSON.parse(await runOptuna(['reprs'], JSON.stringify(finite.map(String)))) as string[];
  t.deepEqual(finite.map(pyFloatRepr), py);
});

optunaTest('Optuna\'s lock and ferroptim\'s exclude each other', async (t) => {
  const p = fresh('interlock');
  const s = new JournalFileStorage(p);
  // Optuna holds it: ferroptim waits.
  const py = track(spawnOptuna(['hold-lock', p, '1.0']));
  await lineFrom(py, 'locked');
  const t0 = Date.now();
  await s.createNewStudy(['minimize'], 'waited');
  t.true(Date.now() - t0 >= 700, `waited ${Date.now() - t0} ms`);
  await collect(py);
  // ferroptim holds it: Optuna waits.
  const child = spawnChild({ cmd: 'hold-lock', path: p, seconds: 1 });
  await lineFrom(child, 'locked');
  const py2 = track(spawnOptuna(['hold-lock', p, '0']));
  const [releasing, locked] = await Promise.all([lineFrom(child, 'releasing'), lineFrom(py2, 'locked')]);
  t.true(Number(locked.line.split(' ')[1]) >= Number(releasing.line.split(' ')[1]), `${releasing.line} / ${locked.line}`);
  await Promise.all([collect(child), collect(py2)]);
  t.false(lockExists(p));
});
