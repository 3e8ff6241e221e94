/**
 * The pure schedules (`step → lr`): their shapes and ends, their agreement with PyTorch's
 * closed forms (the scheduler classes and the PyTorch fixtures), and their argument checks.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { Parameter, SGD } from '../ts/index.js';
import { CyclicLR, LambdaLR, OneCycleLR, schedules, warmupCosine, joinSchedules, type Schedule } from '../ts/schedulers/index.js';

const { constant, linear, polynomial, exponential, step, multistep, cosineDecay, cosineAnnealing, oneCycle, cyclic } = schedules;

interface FixtureCase {
  name: string;
  scheduler: { type: string; options?: Record<string, unknown> };
  lr: number[][];
}
const FIX = JSON.parse(readFileSync(new URL('./fixtures/schedulers.json', import.meta.url), 'utf8')) as { cases: FixtureCase[] };
const fixture = (name: string) => {
  const c = FIX.cases.find((x) => x.name === name);
  if (!c) throw new Error(`no fixture ${name}`);
  return c;
};

const close = (a: number, b: number, rel = 1e-12) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + 1e-18;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sgd = (lr: number) => new SGD([{ params: [new Parameter(new Float32Array(1), { name: 'w' })], lr, momentum: 0.9 }]);

// ---- warmupCosine ------------------------------------------------------------------------

test('warmupCosine starts at initLr, peaks at warmupSteps and ends at endLr at totalSteps', (t) => {
  const s = warmupCosine({ peakLr: 3e-4, warmupSteps: 100, totalSteps: 1000, initLr: 1e-6, endLr: 3e-5 });
  t.is(s(0), 1e-6);
  t.is(s(100), 3e-4);
  t.is(s(1000), 3e-5);
  t.is(s(5000), 3e-5, 'constant after totalSteps');
  t.true(close(s(50), (1e-6 + 3e-4) / 2), 'linear warmup');
  t.true(close(s(550), (3e-4 + 3e-5) / 2), 'the cosine is halfway at the middle of the decay');
  for (const i of range(99)) t.true(s(i + 1) > s(i), `rising at ${i}`);
  for (const i of range(899)) t.true(s(101 + i) < s(100 + i), `falling at ${100 + i}`);
});

test('warmupCosine defaults initLr and endLr to 0, and allows no warmup', (t) => {
  const s = warmupCosine({ peakLr: 1, warmupSteps: 10, totalSteps: 20 });
  t.is(s(0), 0);
  t.is(s(10), 1);
  t.is(s(20), 0);
  const n = warmupCosine({ peakLr: 1, warmupSteps: 0, totalSteps: 10 });
  t.is(n(0), 1);
  t.is(n(10), 0);
});

test('warmupCosine is Optax joinSchedules([linear, cosineDecay], [warmupSteps]) bit for bit', (t) => {
  const a = warmupCosine({ peakLr: 0.1, warmupSteps: 7, totalSteps: 50, initLr: 0.01, endLr: 0.001, exponent: 2 });
  const b = joinSchedules(
    [linear({ initLr: 0.01, endLr: 0.1, transitionSteps: 7 }), cosineDecay({ initLr: 0.1, decaySteps: 43, endLr: 0.001, exponent: 2 })],
    [7],
  );
  for (const i of range(60)) t.is(a(i), b(i));
});

test('warmupCosine equals OneCycleLR where they coincide (the cosine decay phase, bit for bit)', (t) => {
  // pctStart·N − 1 = 19 and N − 1 = 79: OneCycle's second phase is a cosine from maxLr at 19 to min at 79.
  const maxLr = 0.1;
  const N = 80;
  const opt = sgd(0.1);
  const sched = new OneCycleLR(opt, { maxLr, totalSteps: N, pctStart: 0.25, cycleMomentum: false });
  const lrs = [opt.paramGroups[0]!.lr];
  for (const _ of range(N - 1)) {
    sched.step();
    lrs.push(opt.paramGroups[0]!.lr);
  }
  const initial = maxLr / 25;
  const min = initial / 1e4;
  const wc = warmupCosine({ peakLr: maxLr, warmupSteps: 19, totalSteps: 79, initLr: initial, endLr: min });
  for (let e = 19; e < N; e++) t.is(wc(e), lrs[e]!, `step ${e}`);
  // The warmup is linear in warmupCosine; it matches OneCycle with annealStrategy 'linear' up to rounding.
  const lin = oneCycle({ maxLr, totalSteps: N, pctStart: 0.25, annealStrategy: 'linear' });
  for (let e = 0; e <= 19; e++) t.true(close(wc(e), lin(e), 1e-15), `step ${e}: ${wc(e)} vs ${lin(e)}`);
});

test('warmupCosine drives an optimizer through LambdaLR', (t) => {
  const lrAt = warmupCosine({ peakLr: 0.1, warmupSteps: 5, totalSteps: 20 });
  const opt = sgd(0.1);
  const s = new LambdaLR(opt, { lrLambda: (e) => lrAt(e) / 0.1 });
  for (const e of range(25)) {
    t.true(close(opt.paramGroups[0]!.lr, lrAt(e), 1e-15));
    opt.step();
    s.step();
  }
});

// ---- agreement with PyTorch's closed forms -------------------------------------------------

function matchesFixture(t: { true: (v: boolean, m?: string) => void }, s: Schedule, name: string, group: number, rel = 1e-12): void {
  fixture(name).lr.forEach((row, e) => t.true(close(s(e), row[group]!, rel), `${name} at ${e}: ${s(e)} vs ${row[group]}`));
}

test('oneCycle is the OneCycleLR lr, bit for bit, in every mode', (t) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ maxLr: 0.1, totalSteps: 80 }, 'cos'],
    [{ maxLr: 0.2, totalSteps: 64, annealStrategy: 'linear', pctStart: 0.25 }, 'linear'],
    [{ maxLr: 0.1, totalSteps: 70, threePhase: true }, 'cos threePhase'],
    [{ maxLr: 0.1, totalSteps: 61, threePhase: true, annealStrategy: 'linear', divFactor: 10, finalDivFactor: 100, pctStart: 0.4 }, 'linear threePhase'],
  ];
  for (const [o, label] of cases) {
    const f = oneCycle(o as never);
    const opt = sgd(0.1);
    const s = new OneCycleLR(opt, o as never);
    for (let e = 0; e <= (o.totalSteps as number); e++) {
      if (e > 0) s.step();
      t.is(f(e), opt.paramGroups[0]!.lr, `${label} at ${e}`);
    }
    t.throws(() => f((o.totalSteps as number) + 1), { instanceOf: RangeError, message: /oneCycle: tried to step/ });
  }
});

test('oneCycle and cyclic match the PyTorch fixtures', (t) => {
  matchesFixture(t, oneCycle({ maxLr: 0.1, totalSteps: 80 }), 'OneCycleLR cos cycling SGD momentum', 0);
  matchesFixture(t, oneCycle({ maxLr: 0.1, totalSteps: 70, threePhase: true }), 'OneCycleLR cos threePhase', 0);
  matchesFixture(t, cyclic({ baseLr: 0.01, maxLr: 0.1, stepSizeUp: 5 }), 'CyclicLR triangular cycling SGD momentum', 0);
  matchesFixture(t, cyclic({ baseLr: 0.001, maxLr: 0.02, stepSizeUp: 4, stepSizeDown: 8, mode: 'triangular2' }), 'CyclicLR triangular2 with stepSizeDown 8', 1);
  matchesFixture(t, cyclic({ baseLr: 0.01, maxLr: 0.1, stepSizeUp: 6, mode: 'expRange', gamma: 0.97 }), 'CyclicLR expRange gamma 0.97 with momentum bounds', 0);
  matchesFixture(t, cyclic({ baseLr: 0.01, maxLr: 0.1, stepSizeUp: 4, scaleFn: (x) => 1 / x }), 'CyclicLR custom scaleFn per cycle', 0);
});

test('cyclic is the CyclicLR lr, bit for bit, and accepts PyTorch spelling exp_range', (t) => {
  const f = cyclic({ baseLr: 0.001, maxLr: 0.01, stepSizeUp: 5, mode: 'exp_range', gamma: 0.99 });
  const opt = sgd(0.1);
  const s = new CyclicLR(opt, { baseLr: 0.001, maxLr: 0.01, stepSizeUp: 5, mode: 'expRange', gamma: 0.99 });
  for (const e of range(40)) {
    if (e > 0) s.step();
    t.is(f(e), opt.paramGroups[0]!.lr);
  }
});

test('step, multistep, exponential, polynomial and cosineAnnealing equal the PyTorch closed forms', (t) => {
  // Recursive PyTorch forms drift from the closed forms by a few ulps; exact where every factor is a power of 2.
  matchesFixture(t, step({ baseLr: 0.1, stepSize: 7, gamma: 0.5 }), 'StepLR stepSize 7 gamma 0.5', 0, 0);
  matchesFixture(t, step({ baseLr: 0.03, stepSize: 10 }), 'StepLR stepSize 10 with the default gamma', 1);
  matchesFixture(t, multistep({ baseLr: 0.1, milestones: [10, 25, 25, 40], gamma: 0.3 }), 'MultiStepLR with a duplicated milestone', 0);
  matchesFixture(t, exponential({ initLr: 0.1, gamma: 0.95 }), 'ExponentialLR gamma 0.95', 0);
  matchesFixture(t, polynomial({ initLr: 0.1, power: 2, transitionSteps: 40 }), 'PolynomialLR power 2 over 40 iterations', 0);
  matchesFixture(t, polynomial({ initLr: 0.03, power: 0.5, transitionSteps: 30 }), 'PolynomialLR power 0.5 over 30 iterations', 1);
  matchesFixture(t, cosineAnnealing({ baseLr: 0.1, tMax: 20 }), 'CosineAnnealingLR tMax 20 over three periods', 0);
  matchesFixture(t, cosineAnnealing({ baseLr: 0.03, tMax: 50, etaMin: 0.001 }), 'CosineAnnealingLR tMax 50 etaMin 0.001', 1);
  matchesFixture(t, linear({ initLr: 0.01, endLr: 0.1, transitionSteps: 20 }), 'LinearLR warmup from 0.1 over 20 iterations', 0);
});

// ---- shapes of the Optax-style schedules ---------------------------------------------------

test('constant is constant', (t) => {
  const s = constant(0.25);
  t.is(s(0), 0.25);
  t.is(s(1e6), 0.25);
});

test('linear and polynomial clamp at both ends and honour transitionBegin', (t) => {
  const s = linear({ initLr: 1, endLr: 0, transitionSteps: 10, transitionBegin: 5 });
  t.deepEqual([0, 5, 10, 15, 20].map(s), [1, 1, 0.5, 0, 0]);
  t.is(linear({ initLr: 2, endLr: 0, transitionSteps: 0 })(7), 2, 'transitionSteps 0 is a constant initLr (Optax)');
  const p = polynomial({ initLr: 1, endLr: 0.1, power: 2, transitionSteps: 4 });
  t.is(p(2), 0.9 * 0.25 + 0.1);
  t.is(p(100), 0.1);
});

test('exponential: continuous, staircase, transitionBegin and an endLr bound', (t) => {
  t.is(exponential({ initLr: 1, gamma: 0.5, transitionSteps: 2 })(3), 0.5 ** 1.5);
  t.is(exponential({ initLr: 1, gamma: 0.5, transitionSteps: 2, staircase: true })(3), 0.5);
  t.is(exponential({ initLr: 1, gamma: 0.5, transitionBegin: 4 })(3), 1);
  t.is(exponential({ initLr: 1, gamma: 0.5, endLr: 0.2 })(10), 0.2);
  t.is(exponential({ initLr: 1, gamma: 2, endLr: 5 })(10), 5);
});

test('cosineDecay stops at endLr after decaySteps; exponent sharpens it', (t) => {
  const s = cosineDecay({ initLr: 1, decaySteps: 10, endLr: 0.1 });
  t.is(s(0), 1);
  t.is(s(10), 0.1);
  t.is(s(30), 0.1);
  t.true(close(s(5), 0.55));
  t.true(close(cosineDecay({ initLr: 1, decaySteps: 10, exponent: 2 })(5), 0.25));
});

test('cosineAnnealing is not clamped: it rises again after tMax', (t) => {
  const s = cosineAnnealing({ baseLr: 1, tMax: 10 });
  t.is(s(10), 0);
  t.true(close(s(15), 0.5));
  t.is(s(20), 1);
});

test('joinSchedules hands each schedule the steps since its boundary', (t) => {
  const s = joinSchedules([constant(1), (x) => x, (x) => 100 + x], [3, 5]);
  t.deepEqual(range(8).map(s), [1, 1, 1, 0, 1, 100, 101, 102]);
});

test('fractional steps are allowed', (t) => {
  t.true(close(linear({ initLr: 0, endLr: 1, transitionSteps: 4 })(1.5), 0.375));
});

// ---- errors --------------------------------------------------------------------------------

const ERRORS: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp | string]> = [
  ['warmupCosine with totalSteps not above warmupSteps', () => warmupCosine({ peakLr: 1, warmupSteps: 10, totalSteps: 10 }), RangeError, 'warmupCosine: expected totalSteps to be a finite number > 10, received 10'],
  ['warmupCosine without peakLr', () => warmupCosine({ warmupSteps: 1, totalSteps: 10 } as never), TypeError, 'warmupCosine: expected peakLr to be a finite number, received undefined'],
  ['warmupCosine with a misspelt option', () => warmupCosine({ peakLr: 1, warmupSteps: 1, totalSteps: 10, endLR: 0 } as never), TypeError, /warmupCosine: unknown option "endLR"/],
  ['a schedule called with a negative step', () => linear({ initLr: 1, endLr: 0, transitionSteps: 3 })(-1), RangeError, 'linear: expected step to be a finite number >= 0, received -1'],
  ['a schedule called with NaN', () => constant(1)(NaN), RangeError, 'constant: expected step to be a finite number >= 0, received NaN'],
  ['a schedule called with a string', () => step({ baseLr: 1, stepSize: 2 })('3' as never), TypeError, 'step: expected step to be a finite number >= 0, received "3"'],
  ['step with stepSize 0', () => step({ baseLr: 1, stepSize: 0 }), RangeError, /stepSize to be an integer >= 1, received 0/],
  ['exponential with gamma 0', () => exponential({ initLr: 1, gamma: 0 }), RangeError, /gamma to be a finite number > 0, received 0/],
  ['cyclic with an unknown mode', () => cyclic({ baseLr: 0, maxLr: 1, mode: 'saw' as never }), RangeError, /cyclic: expected mode to be one of/],
  ['cyclic with a scaleFn returning NaN', () => cyclic({ baseLr: 0, maxLr: 1, scaleFn: () => NaN })(1), RangeError, 'cyclic: expected scaleFn(1) to return a finite number, received NaN'],
  ['oneCycle past totalSteps', () => oneCycle({ maxLr: 1, totalSteps: 10 })(11), RangeError, 'oneCycle: tried to step 11 times; the specified number of total steps is 10 (totalSteps)'],
  ['joinSchedules with too few boundaries', () => joinSchedules([constant(1), constant(2)], []), RangeError, 'joinSchedules: expected 1 boundaries for 2 schedules, received 0'],
  ['joinSchedules with decreasing boundaries', () => joinSchedules([constant(1), constant(2), constant(3)], [5, 2]), RangeError, /boundaries to be non-decreasing/],
  ['joinSchedules with a non-function', () => joinSchedules([constant(1), 2 as never], [1]), TypeError, 'joinSchedules: expected schedules[1] to be a function, received 2'],
  ['constant with Infinity', () => constant(Infinity), RangeError, 'constant: expected value to be a finite number, received Infinity'],
];

for (const [name, fn, type, message] of ERRORS) {
  test(`throws ${type.name}: ${name}`, (t) => {
    const err = t.throws(fn, { instanceOf: type });
    if (typeof message === 'string') t.is(err!.message, message);
    else t.regex(err!.message, message);
  });
}
