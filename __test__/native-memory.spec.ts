/**
 * Memory and threads held by the native engine: optimizer state is V8-owned, so synchronous loops
 * that create and drop optimizers or take state dicts keep RSS bounded without waiting for the
 * event loop; `dispose()` frees it at once and turns later use into a clear Error; the thread
 * pool is bounded, and resizing it to its current size keeps the same threads.
 *
 * RSS is measured in child processes, so other tests and earlier allocations do not blur it.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { AdamW } from '../ts/optim/adam.js';
import { Lookahead } from '../ts/optim/lookahead.js';
import { SGD } from '../ts/optim/sgd.js';
import { getNumThreads, setNumThreads } from '../ts/runtime.js';
import { Parameter } from '../ts/tensor.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const url = (path: string) => JSON.stringify(new URL(`../ts/${path}`, import.meta.url).href);

interface Rss {
  startMb: number;
  peakMb: number;
  endMb: number;
  seconds: number;
}

/**
 * Runs `body` (module code with `Parameter`, `AdamW`, `Lookahead` in scope and `sample()` to call
 * once per iteration) in a child process, synchronously from start to end, and returns its RSS.
 */
function rssOf(body: string): Rss {
  const code = `
    const { Parameter } = await import(${url('tensor.ts')});
    const { AdamW } = await import(${url('optim/adam.ts')});
    const { Lookahead } = await import(${url('optim/lookahead.ts')});
    const mb = () => process.memoryUsage.rss() / 2 ** 20;
    const startMb = mb();
    const t0 = performance.now();
    let peakMb = startMb;
    const sample = () => { peakMb = Math.max(peakMb, mb()); };
    ${body}
    console.log(JSON.stringify({ startMb, peakMb, endMb: mb(), seconds: (performance.now() - t0) / 1000 }));
  `;
  const r = spawnSync(process.execPath, ['--import', '@oxc-node/core/register', '--input-type=module', '-e', code], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, FERROPTIM_NUM_THREADS: '2' },
  });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Rss;
}

const bounded = test.macro({
  exec(t, _title: string, body: string, limitMb: number) {
    const r = rssOf(body);
    t.log(`RSS ${r.startMb.toFixed(0)} MB at start, ${r.peakMb.toFixed(0)} MB at peak, ${r.endMb.toFixed(0)} MB at end, ${r.seconds.toFixed(1)} s`);
    t.true(r.peakMb - r.startMb < limitMb, `RSS grew by ${(r.peakMb - r.startMb).toFixed(0)} MB (limit ${limitMb} MB)`);
  },
  title: (_, title: string, _body: string, limitMb: number) => `${title} keeps RSS growth under ${limitMb} MB`,
});

// Each AdamW holds 8 MB of state (expAvg and expAvgSq over 1M float32s); the 200 of them 1.6 GB.
test.serial(
  bounded,
  'a synchronous loop that builds, steps and drops 200 AdamW over 1M parameters each',
  `for (let i = 0; i < 200; i++) {
     const p = new Parameter(new Float32Array(1 << 20), { name: 'w' });
     p.grad.fill(0.1);
     new AdamW([p]).step();
     sample();
   }`,
  400,
);

test.serial(
  bounded,
  'the same loop with dispose() after each step',
  `for (let i = 0; i < 200; i++) {
     const p = new Parameter(new Float32Array(1 << 20), { name: 'w' });
     p.grad.fill(0.1);
     const opt = new AdamW([p]);
     opt.step();
     opt.dispose();
     sample();
   }`,
  400,
);

// Each Lookahead holds 12 MB (the inner state and the slow weights).
test.serial(
  bounded,
  'a synchronous loop that builds, syncs and drops 100 Lookahead(AdamW) over 1M parameters each',
  `for (let i = 0; i < 100; i++) {
     const p = new Parameter(new Float32Array(1 << 20), { name: 'w' });
     p.grad.fill(0.1);
     new Lookahead(new AdamW([p]), { k: 1 }).step();
     sample();
   }`,
  400,
);

// Each stateDict() reads 2 × 20,000 float32s; 5,000 of them copied 800 MB.
test.serial(
  bounded,
  '5,000 stateDict() calls in a synchronous loop on an AdamW over 20,000 parameters',
  `const p = new Parameter(new Float32Array(20000).fill(0.5), { name: 'w' });
   p.grad.fill(0.1);
   const opt = new AdamW([p]);
   opt.step();
   for (let i = 0; i < 5000; i++) {
     opt.stateDict();
     if (i % 50 === 0) sample();
   }`,
  250,
);

// ---------------------------------------------------------------------------------------------
// dispose()

function param(name = 'w', n = 5): Parameter {
  const p = new Parameter(Float32Array.from({ length: n }, (_, i) => i / n), { name });
  p.grad!.fill(0.25);
  return p;
}

const AFTER_DISPOSE: Array<[string, (o: AdamW) => unknown]> = [
  ['step', (o) => o.step()],
  ['zeroGrad', (o) => o.zeroGrad()],
  ['stateDict', (o) => o.stateDict()],
  ['loadStateDict', (o) => o.loadStateDict({ state: {}, paramGroups: [] }, { strict: false })],
  ['addParamGroup', (o) => o.addParamGroup({ params: [param('x')] })],
  ['observeSteps', (o) => o.observeSteps({ wantsGradNorms: false, onStep: () => {} })],
];

for (const [method, call] of AFTER_DISPOSE) {
  test(`AdamW.${method}() after dispose() throws an Error naming the method and touches nothing`, (t) => {
    const p = param();
    const opt = new AdamW([p], { lr: 0.1 });
    opt.step();
    opt.dispose();
    t.true(opt.disposed);
    const data = Float32Array.from(p.data);
    const grad = Float32Array.from(p.grad!);
    const err = t.throws(() => call(opt), { message: `AdamW: ${method}() was called after dispose(), which freed this optimizer's state; create a new one` });
    t.is(err?.constructor, Error);
    t.deepEqual(p.data, data);
    t.deepEqual(p.grad, grad);
  });
}

test('dispose() twice and [Symbol.dispose]() do nothing more, and a new optimizer takes over the parameters', (t) => {
  const p = param();
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
  opt.step();
  t.is(typeof Symbol.dispose, 'symbol');
  t.is(opt[Symbol.dispose], opt[Symbol.dispose]);
  opt[Symbol.dispose]();
  opt.dispose();
  t.true(opt.disposed);
  const next = new SGD([p], { lr: 0.1, momentum: 0.9 });
  const before = Float32Array.from(p.data);
  next.step();
  t.notDeepEqual(p.data, before);
  t.is(next.stateDict().state.w!.step, 1);
});

test('Lookahead.dispose() disposes the inner optimizer too, and later calls throw an Error naming the method', (t) => {
  const p = param();
  const inner = new AdamW([p]);
  const la = new Lookahead(inner, { k: 2 });
  la.step();
  la[Symbol.dispose]();
  t.true(la.disposed && inner.disposed);
  for (const method of ['step', 'zeroGrad', 'stateDict', 'addParamGroup'] as const) {
    t.throws(() => (la[method] as (a?: unknown) => unknown).call(la, method === 'addParamGroup' ? { params: [param('x')] } : undefined), {
      instanceOf: Error,
      message: new RegExp(`^Lookahead: ${method}\\(\\) was called after dispose\\(\\)`),
    });
  }
  t.throws(() => la.loadStateDict({} as never), { message: /^Lookahead: loadStateDict\(\) was called after dispose\(\)/ });
  la.dispose();
});

test('a step that is skipped or rejected creates no state, so a later stateDict() is as before', (t) => {
  const p = param();
  const q = param('q');
  const opt = new AdamW([p, q], { skipNonFinite: true });
  p.grad![0] = NaN;
  opt.step();
  t.false(opt.lastStepApplied);
  t.deepEqual(Object.keys(opt.stateDict().state), []);
  p.grad = new Float32Array(5);
  q.grad = p.grad; // the same buffer twice: rejected before anything is written
  t.throws(() => opt.step(), { instanceOf: RangeError, message: /overlapping memory/ });
  t.deepEqual(Object.keys(opt.stateDict().state), []);
  q.grad = new Float32Array(5).fill(0.5);
  opt.step();
  t.deepEqual(Object.keys(opt.stateDict().state), ['w', 'q']);
});

// ---------------------------------------------------------------------------------------------
// The thread pool

const MAX = Math.max(4 * availableParallelism(), 64);

/**
 * The thread ids of the pool's helpers (Linux; `ferroptim-<i>` thread names): a pool of n threads
 * is the calling thread and n − 1 helpers.
 */
function poolThreadIds(): string[] | null {
  try {
    return readdirSync('/proc/self/task')
      .filter((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('ferroptim-'))
      .sort();
  } catch {
    return null;
  }
}

/** Waits (up to 2 s) until the pool has exactly `n` helper threads, or /proc is not there. */
async function helpers(n: number): Promise<void> {
  for (let i = 0; i < 200 && (poolThreadIds()?.length ?? n) !== n; i++) await new Promise((r) => setTimeout(r, 10));
}

test.serial(`setNumThreads(${MAX + 1}) (above max(4 × cores, 64)) throws a RangeError naming the bound and keeps the pool`, (t) => {
  const before = getNumThreads();
  t.throws(() => setNumThreads(MAX + 1), {
    instanceOf: RangeError,
    message: `setNumThreads: expected n to be an integer >= 1 and <= ${MAX} (4 × the available cores, at least 64), received ${MAX + 1}`,
  });
  t.is(getNumThreads(), before);
});

test.serial('setNumThreads with the current size twenty times keeps the same threads, and a resize retires the old ones', async (t) => {
  const before = getNumThreads();
  try {
    setNumThreads(3);
    // A step above the parallel threshold makes sure the pool's threads run.
    const p = new Parameter(new Float32Array(1 << 18), { name: 'w' });
    new SGD([p]).step();
    // The helpers start asynchronously (a step may finish before the last one runs): wait (up to
    // 2 s) until both are there (the third thread is this one).
    await helpers(2);
    const ids = poolThreadIds();
    if (ids === null) {
      t.log('no /proc/self/task here: thread identities not checked');
      for (let i = 0; i < 20; i++) setNumThreads(3);
      t.is(getNumThreads(), 3);
      return;
    }
    t.is(ids.length, 2);
    for (let i = 0; i < 20; i++) setNumThreads(3);
    t.deepEqual(poolThreadIds(), ids, 'the pool was rebuilt');
    for (let i = 0; i < 20; i++) setNumThreads(i % 2 === 0 ? 8 : 2);
    // The new pool's helper starts, and the old pools' are reaped, asynchronously: wait (up to
    // 2 s) until exactly the new pool's one is there.
    new SGD([p]).step();
    await helpers(1);
    t.is(poolThreadIds()!.length, 1);
    t.is(getNumThreads(), 2);
  } finally {
    setNumThreads(before);
  }
});
