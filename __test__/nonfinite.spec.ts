/**
 * `skipNonFinite` beyond what the conformance suite checks for every registered optimizer (a step
 * with NaN / ±Infinity gradients skipped bit-exactly, the run continuing as if it never
 * happened; without the option, the step applied as the oracle applies it; the option toggled
 * live; a wrong type rejected by the constructor): the option checked again at step time, huge
 * but finite gradients, one thread, the monitor's view of a skipped step, and Lookahead, on
 * tensors of 1 to 40001 elements in two param groups, in the multithreaded path.
 */
import test from 'ava';
import * as ferro from '../ts/index.js';
import { GradNormMonitor, getNumThreads, Optimizer, Parameter, setNumThreads, type GradNormEvent, type OptimizerStateDict } from '../ts/index.js';
import { sameDeep } from './helpers/compare.js';
import { FIXTURE_LENGTHS, fixtureGrad, POISONS, values, type Poison } from './helpers/data.js';

type AnyOptimizer = Optimizer<object>;

const SEED = 4242;
const LENGTHS = FIXTURE_LENGTHS; // [1, 7, 17, 1025, 40001]: 41051 elements, past the parallel threshold

function makeParams(): Parameter[] {
  return LENGTHS.map((n, j) => new Parameter(values(SEED, 0, j, n), { name: `t${j}` }));
}

/** Sets the gradients of step t (1-based), optionally with one poisoned element. */
function setGrads(params: Parameter[], t: number, poison?: Poison): void {
  params.forEach((p, j) => {
    p.grad = fixtureGrad(SEED, t, j, p.numel, 1);
  });
  if (poison) params[poison.tensor]!.grad![poison.index] = poison.value;
}

const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const copyData = (params: Parameter[]): Float32Array[] => params.map((p) => p.data.slice());
const sameData = (params: Parameter[], data: Float32Array[]): boolean => params.every((p, j) => Buffer.compare(bytesOf(p.data), bytesOf(data[j]!)) === 0);

/** A state dict deep-copied (it must not share arrays with the optimizer). */
const stateOf = (opt: AnyOptimizer): OptimizerStateDict => structuredClone(opt.stateDict());

let threadsBefore = 1;
test.before(() => {
  threadsBefore = getNumThreads();
  // At least two threads, so 41051-element steps run in the multithreaded path.
  setNumThreads(Math.max(2, threadsBefore));
});
test.after.always(() => setNumThreads(threadsBefore));

test('a bad skipNonFinite value set on the live optimizer is rejected at step time, before anything changes', (t) => {
  const params = makeParams();
  const opt = new ferro.AdamW(params, { skipNonFinite: false });
  setGrads(params, 1);
  opt.step();
  const data = copyData(params);
  const state = stateOf(opt);
  (opt as { skipNonFinite: unknown }).skipNonFinite = 1;
  t.throws(() => opt.step(), { instanceOf: TypeError, message: /^AdamW: expected skipNonFinite to be a boolean, received 1$/ });
  t.true(sameData(params, data));
  t.true(sameDeep(stateOf(opt), state));
  t.is(opt.appliedSteps, 1);
  t.is(opt.skippedSteps, 0);
});

test('huge but finite gradients (±3.4e38) are not skipped', (t) => {
  const params = makeParams();
  const opt = new ferro.SGD(params, { lr: 1e-38, skipNonFinite: true });
  setGrads(params, 1);
  params[4]!.grad!.fill(3.4e38);
  params[3]!.grad!.fill(-3.4e38);
  opt.step();
  t.true(opt.lastStepApplied);
  t.is(opt.skippedSteps, 0);
  t.true(params.every((p) => p.data.every(Number.isFinite)));
});

test('skipping is the same with 1 thread', (t) => {
  const before = getNumThreads();
  try {
    setNumThreads(1);
    const params = makeParams();
    const opt = new ferro.Adam(params, { skipNonFinite: true });
    setGrads(params, 1);
    opt.step();
    const data = copyData(params);
    setGrads(params, 2, POISONS[1]);
    opt.step();
    t.false(opt.lastStepApplied);
    t.true(sameData(params, data));
  } finally {
    setNumThreads(before);
  }
});

test("the monitor sees a skipped step as applied: false with a 'nonfinite' event", (t) => {
  const params = makeParams();
  const opt = new ferro.AdamW(params, { skipNonFinite: true });
  const events: GradNormEvent[] = [];
  const monitor = new GradNormMonitor(opt, { onEvent: (e) => events.push(e) });
  const emitted: GradNormEvent[] = [];
  monitor.on('nonfinite', (e: GradNormEvent) => emitted.push(e));
  setGrads(params, 1);
  opt.step();
  t.true(monitor.last()!.applied);
  setGrads(params, 2, POISONS[1]);
  params[0]!.grad![0] = NaN;
  const finiteNorm = ferro.getTotalNorm(params[2]!);
  opt.step();
  t.false(opt.lastStepApplied);
  const r = monitor.last()!;
  t.is(r.step, 2);
  t.false(r.applied);
  t.false(Number.isFinite(r.norm));
  t.true(Math.abs(r.params['t2']! - finiteNorm) <= 1e-12 * finiteNorm, 'finite parameters still get their norm');
  t.is(events.length, 1);
  t.is(events[0]!.kind, 'nonfinite');
  t.deepEqual(events[0]!.params, ['t0', 't4']);
  t.deepEqual(emitted, events);
  setGrads(params, 3);
  opt.step();
  t.true(monitor.last()!.applied);
  t.deepEqual(
    monitor.history().map((h) => h.applied),
    [true, false, true],
  );
  t.true(monitor.toCSV().split('\n')[2]!.startsWith('2,'));
  t.true(monitor.toCSV().split('\n')[2]!.split(',')[3] === 'false');
});

type LookaheadLike = { step(): unknown; stateDict(): unknown; counter: number };
const LookaheadCtor = (ferro as Record<string, unknown>)['Lookahead'] as (new (inner: AnyOptimizer, options?: object) => LookaheadLike) | undefined;

(LookaheadCtor ? test : test.skip)('Lookahead over AdamW with skipNonFinite: a skipped step does not sync or count, the run continues as if it never happened', (t) => {
  const Lookahead = LookaheadCtor!;
  const refParams = makeParams();
  const ref = new Lookahead(new ferro.AdamW(refParams, { lr: 0.01 }), { k: 2, alpha: 0.5 });
  for (const s of [1, 2, 4, 5, 6]) {
    setGrads(refParams, s);
    ref.step();
  }
  const params = makeParams();
  const inner = new ferro.AdamW(params, { lr: 0.01, skipNonFinite: true });
  const la = new Lookahead(inner, { k: 2, alpha: 0.5 });
  for (const s of [1, 2]) {
    setGrads(params, s);
    la.step();
  }
  const data = copyData(params);
  const state = structuredClone(la.stateDict());
  const counter = la.counter;
  // Step 3 would sync (after inner steps 1, k + 1, 2k + 1, ...): skipped, it must not.
  setGrads(params, 3, POISONS[2]);
  la.step();
  t.false(inner.lastStepApplied);
  t.is(la.counter, counter);
  t.true(sameData(params, data));
  t.true(sameDeep(structuredClone(la.stateDict()), state));
  for (const s of [4, 5, 6]) {
    setGrads(params, s);
    la.step();
  }
  t.true(sameData(params, copyData(refParams)));
  t.true(sameDeep(structuredClone(la.stateDict()), structuredClone(ref.stateDict())));
});
