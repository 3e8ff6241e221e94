/**
 * ferroptim's learning-rate schedulers against the real torch.optim.lr_scheduler: every case of
 * `__test__/fixtures/schedulers.json` (made by `scripts/gen_scheduler_fixtures.py`) is replayed
 * on a real ferroptim optimizer with two param groups, and the lr of each group (and the
 * momentum or beta1 of cycling schedulers) is compared after construction and after every step.
 *
 * Tolerance: both sides compute in float64 with the same operations in the same order, so most
 * values are bit-identical; V8's Math.cos / Math.pow / Math.log (fdlibm ports) may differ from
 * glibc's by an ulp, which the recursive forms then carry. Compared with
 * |got − want| <= REL·max(|got|, |want|) + ABS.
 */
import test from 'ava';
import { Adam, AdamW, Lookahead, Parameter, SGD } from '../ts/index.js';
import {
  ChainedScheduler,
  ConstantLR,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  CyclicLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  LRScheduler,
  MultiStepLR,
  OneCycleLR,
  PolynomialLR,
  ReduceLROnPlateau,
  SequentialLR,
  StepLR,
  type SchedulerStateDict,
} from '../ts/schedulers/index.js';
import { ABS, type AnyScheduler, loadSchedulerFixture, makeScheduler, REL, type SchedulerCase, stepScheduler } from './helpers/scheduler-fixtures.js';

const FIX = loadSchedulerFixture();

type Opt = SGD | Adam | AdamW;

function makeOptimizer(spec: SchedulerCase['optimizer']): Opt {
  const groups = spec.groups.map((g, i) => {
    const p = new Parameter(new Float32Array(2), { name: `p${i}` });
    p.grad = null; // as in the generator: no gradients, optimizer.step() changes nothing
    return { params: [p], ...g };
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const input = groups as any;
  return spec.type === 'SGD' ? new SGD(input) : spec.type === 'Adam' ? new Adam(input) : new AdamW(input);
}

const momentumOf = (g: { momentum?: number; betas?: readonly [number, number] }) => (g.betas ? g.betas[0] : g.momentum!);

interface Run {
  opt: Opt;
  sched: AnyScheduler;
  lr: number[][];
  momentum: number[][];
  lastLrMatches: boolean;
}

function start(c: SchedulerCase): Run {
  const opt = makeOptimizer(c.optimizer);
  const sched = makeScheduler(opt, c.scheduler);
  const run: Run = { opt, sched, lr: [], momentum: [], lastLrMatches: true };
  record(run);
  return run;
}

function record(run: Run): void {
  const lrs = run.opt.paramGroups.map((g) => g.lr);
  run.lr.push(lrs);
  run.momentum.push(run.opt.paramGroups.map((g) => momentumOf(g as never)));
  const last = run.sched.getLastLr();
  if (last.length !== lrs.length || last.some((x, i) => !Object.is(x, lrs[i]))) run.lastLrMatches = false;
}

function advance(c: SchedulerCase, run: Run, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    run.opt.step();
    stepScheduler(c, run.sched, i);
    record(run);
  }
}

/** Compares two tables; returns the number of values that differ at all, and the worst relative gap. */
function compare(got: number[][], want: number[][]): { inexact: number; total: number; worst: number; firstBad?: string } {
  let inexact = 0;
  let total = 0;
  let worst = 0;
  let firstBad: string | undefined;
  if (got.length !== want.length) return { inexact: -1, total: 0, worst: Infinity, firstBad: `length ${got.length} vs ${want.length}` };
  want.forEach((row, r) => {
    row.forEach((w, j) => {
      const g = got[r]![j]!;
      total++;
      if (Object.is(g, w)) return;
      inexact++;
      const gap = Math.abs(g - w);
      const scale = Math.max(Math.abs(g), Math.abs(w));
      worst = Math.max(worst, scale > 0 ? gap / scale : gap);
      if (!(gap <= REL * scale + ABS) && firstBad === undefined) firstBad = `row ${r} group ${j}: got ${g}, want ${w}`;
    });
  });
  return { inexact, total, worst, firstBad };
}

const stats = { values: 0, inexact: 0, worst: 0, cases: [] as string[] };

for (const c of FIX.cases) {
  test(`${c.name} matches torch ${FIX.torch}`, (t) => {
    const run = start(c);
    advance(c, run, 0, c.steps);
    const lr = compare(run.lr, c.lr);
    t.is(lr.firstBad, undefined, `lr: ${lr.firstBad}`);
    stats.values += lr.total;
    stats.inexact += lr.inexact;
    stats.worst = Math.max(stats.worst, lr.worst);
    if (lr.inexact > 0) stats.cases.push(`${c.name}: ${lr.inexact}/${lr.total} lr values differ (worst relative ${lr.worst.toExponential(2)})`);
    if (c.momentum) {
      const m = compare(run.momentum, c.momentum);
      t.is(m.firstBad, undefined, `momentum: ${m.firstBad}`);
      stats.values += m.total;
      stats.inexact += m.inexact;
      stats.worst = Math.max(stats.worst, m.worst);
      if (m.inexact > 0) stats.cases.push(`${c.name}: ${m.inexact}/${m.total} momentum values differ (worst relative ${m.worst.toExponential(2)})`);
    }
    t.true(run.lastLrMatches, 'getLastLr() equals the groups lr after every step');
    if (c.stepError) {
      const err = t.throws(() => (run.sched as LRScheduler).step(), { instanceOf: RangeError });
      t.regex(err!.message, /^OneCycleLR: tried to step (\d+) times; the specified number of total steps is (\d+)/);
      const [, a, b] = /(\d+) times.* (\d+)/.exec(c.stepError)!;
      t.true(err!.message.includes(`${a} times`) && err!.message.includes(`is ${b}`), `same numbers as PyTorch: ${c.stepError}`);
      t.deepEqual(run.opt.paramGroups.map((g) => g.lr), run.lr.at(-1), 'a refused step changes nothing');
    }
  });

  test(`${c.name}: stateDict through JSON mid-schedule reproduces the rest`, (t) => {
    const half = Math.floor(c.steps / 2);
    const a = start(c);
    advance(c, a, 0, half);
    const sd = a.sched.stateDict();
    const json = JSON.parse(JSON.stringify(sd)) as SchedulerStateDict;
    t.deepEqual(json, sd, 'the state dict is plain JSON data');
    const optState = JSON.parse(JSON.stringify(a.opt.stateDict()));
    // Resume as PyTorch recommends: construct the scheduler, then load the optimizer, then the scheduler.
    const b = start(c);
    b.opt.loadStateDict(optState);
    b.sched.loadStateDict(json);
    b.lr = a.lr.slice();
    b.momentum = a.momentum.slice();
    advance(c, a, half, c.steps);
    advance(c, b, half, c.steps);
    t.deepEqual(b.lr, a.lr, 'bit-identical to the uninterrupted run');
    t.deepEqual(b.momentum, a.momentum);
    t.is(compare(b.lr, c.lr).firstBad, undefined);
  });
}

test.after('summary of exactness against PyTorch', (t) => {
  t.log(`${stats.values - stats.inexact}/${stats.values} values bit-identical to torch ${FIX.torch}; worst relative gap ${stats.worst.toExponential(2)}`);
  for (const line of stats.cases) t.log(line);
});

// ---- behaviour beyond the fixtures --------------------------------------------------------

const sgd = (...lrs: number[]) =>
  new SGD(lrs.map((lr, i) => ({ params: [new Parameter(new Float32Array(1), { name: `w${i}` })], lr, momentum: 0.9 })));
const adam = (...lrs: number[]) => new Adam(lrs.map((lr, i) => ({ params: [new Parameter(new Float32Array(1), { name: `w${i}` })], lr })));

test('construction writes the step-0 lr and records initialLr, as PyTorch', (t) => {
  const opt = sgd(0.1, 0.03);
  new LinearLR(opt, { startFactor: 0.5, totalIters: 4 });
  t.deepEqual(opt.paramGroups.map((g) => g.lr), [0.05, 0.015]);
  t.deepEqual(opt.paramGroups.map((g) => g.initialLr), [0.1, 0.03]);
  // A second scheduler keeps the existing initialLr (setdefault).
  const s = new StepLR(opt, { stepSize: 2 });
  t.deepEqual(s.baseLrs, [0.1, 0.03]);
});

test('getLastLr returns a copy', (t) => {
  const s = new ExponentialLR(sgd(0.1), { gamma: 0.5 });
  s.getLastLr()[0] = 42;
  t.deepEqual(s.getLastLr(), [0.1]);
});

test('schedulers drive any object exposing paramGroups (a plain object, a wrapper)', (t) => {
  const real = sgd(0.1, 0.01);
  const plain = { paramGroups: [{ lr: 0.1 }, { lr: 0.01 }] };
  const a = new CosineAnnealingLR(real, { tMax: 10, etaMin: 0.001 });
  const b = new CosineAnnealingLR(plain, { tMax: 10, etaMin: 0.001 });
  for (let i = 0; i < 25; i++) {
    a.step();
    b.step();
    t.deepEqual(plain.paramGroups.map((g) => g.lr), real.paramGroups.map((g) => g.lr));
  }
  // A Lookahead-style wrapper exposing its inner optimizer's groups: beta1 is cycled on the inner Adam.
  const inner = adam(0.001);
  const wrapper = {
    inner,
    get paramGroups() {
      return inner.paramGroups;
    },
  };
  const s = new OneCycleLR(wrapper, { maxLr: 0.01, totalSteps: 10 });
  t.is(inner.paramGroups[0]!.betas[0], 0.95);
  for (let i = 0; i < 3; i++) {
    inner.step();
    s.step();
  }
  t.true(inner.paramGroups[0]!.betas[0] < 0.95);
  t.is(inner.paramGroups[0]!.betas[1], 0.999);
  t.is(inner.paramGroups[0]!.lr, s.getLastLr()[0]!);
});

test('per-group lr bounds: maxLr, baseLr and minLr accept one number per group', (t) => {
  const opt = sgd(0.1, 0.01);
  const s = new CyclicLR(opt, { baseLr: [0.01, 0.001], maxLr: [0.1, 0.01], stepSizeUp: 2 });
  s.step();
  s.step();
  const peak = s.getLastLr();
  t.is(peak[0], 0.1);
  t.true(Math.abs(peak[1]! - 0.01) < 1e-17); // 0.001 + (0.01 − 0.001)·1 rounds to 0.010000000000000002
  const opt2 = sgd(1, 1);
  const p = new ReduceLROnPlateau(opt2, { patience: 0, minLr: [0.5, 0.05] });
  for (let i = 0; i < 5; i++) p.step(1);
  t.deepEqual(p.getLastLr(), [0.5, 0.05]);
});

test('a group added after construction: recursive schedulers decay it, base-lr ones leave it (as PyTorch)', (t) => {
  const late = () => ({ params: [new Parameter(new Float32Array(1), { name: 'late' })], lr: 0.2 });
  const opt = sgd(0.1);
  const s = new ExponentialLR(opt, { gamma: 0.5 });
  opt.addParamGroup(late());
  s.step();
  t.deepEqual(opt.paramGroups.map((g) => g.lr), [0.05, 0.1]);
  const opt2 = sgd(0.1);
  const l = new LambdaLR(opt2, { lrLambda: () => 0.5 });
  opt2.addParamGroup(late());
  l.step();
  t.deepEqual(opt2.paramGroups.map((g) => g.lr), [0.05, 0.2]);
});

test('recursive schedulers keep an external lr edit; closed-form ones do not', (t) => {
  const opt = sgd(0.1);
  const s = new ExponentialLR(opt, { gamma: 0.5 });
  opt.paramGroups[0]!.lr = 1;
  s.step();
  t.is(opt.paramGroups[0]!.lr, 0.5);
  const opt2 = sgd(0.1);
  const l = new LambdaLR(opt2, { lrLambda: () => 0.5 });
  opt2.paramGroups[0]!.lr = 1;
  l.step();
  t.is(opt2.paramGroups[0]!.lr, 0.05);
});

test('CosineAnnealingWarmRestarts.step(epoch) accepts fractional epochs and checks them', (t) => {
  const opt = sgd(0.1);
  const s = new CosineAnnealingWarmRestarts(opt, { t0: 10 });
  s.step(5);
  t.is(s.getLastLr()[0], 0.05 + 0.05 * Math.cos(Math.PI * 0.5));
  s.step(12.5);
  t.is(s.tCur, 2.5);
  t.is(s.lastEpoch, 12);
  t.throws(() => s.step(-1), { instanceOf: RangeError, message: /CosineAnnealingWarmRestarts: expected epoch to be a finite number >= 0, received -1/ });
});

test('ReduceLROnPlateau state dict survives JSON with an infinite best', (t) => {
  const opt = sgd(0.1);
  const s = new ReduceLROnPlateau(opt, { mode: 'max' });
  const sd = JSON.parse(JSON.stringify(s.stateDict()));
  t.is(sd.best, '-Infinity');
  const s2 = new ReduceLROnPlateau(sgd(0.1), { mode: 'max' });
  s2.best = 3;
  s2.loadStateDict(sd);
  t.is(s2.best, -Infinity);
  s.step(NaN);
  t.is(s.numBadEpochs, 1, 'a NaN metric is not an improvement');
});

test('a lambda returning a non-finite value throws and leaves the scheduler where it was', (t) => {
  const opt = sgd(0.1);
  const s = new LambdaLR(opt, { lrLambda: (e) => (e === 2 ? NaN : 1) });
  s.step();
  t.throws(() => s.step(), { instanceOf: RangeError, message: 'LambdaLR: expected lrLambda[0](2) to return a finite number, received NaN' });
  t.is(s.lastEpoch, 1);
  t.is(opt.paramGroups[0]!.lr, 0.1);
});

// ---- errors ---------------------------------------------------------------------------------

type Thrower = { name: string; fn: () => unknown; type: typeof TypeError | typeof RangeError; message: RegExp | string };
const ERRORS: Thrower[] = [
  { name: 'StepLR with a negative gamma', fn: () => new StepLR(sgd(0.1), { stepSize: 2, gamma: -1 }), type: RangeError, message: 'StepLR: expected gamma to be a finite number > 0, received -1' },
  { name: 'StepLR without stepSize', fn: () => new StepLR(sgd(0.1), {} as never), type: TypeError, message: 'StepLR: expected stepSize to be an integer >= 1, received undefined' },
  { name: 'StepLR with a fractional stepSize', fn: () => new StepLR(sgd(0.1), { stepSize: 1.5 }), type: RangeError, message: /stepSize to be an integer >= 1, received 1.5/ },
  { name: 'StepLR with a misspelt option', fn: () => new StepLR(sgd(0.1), { stepSize: 2, gama: 0.5 } as never), type: TypeError, message: /StepLR: unknown option "gama"/ },
  { name: 'a scheduler on something that is not an optimizer', fn: () => new ExponentialLR({} as never, { gamma: 0.5 }), type: TypeError, message: /ExponentialLR: expected an optimizer \(an object with a paramGroups array\), received an object/ },
  { name: 'ExponentialLR without gamma', fn: () => new ExponentialLR(sgd(0.1), {} as never), type: TypeError, message: /expected gamma to be a finite number > 0, received undefined/ },
  { name: 'MultiStepLR with a negative milestone', fn: () => new MultiStepLR(sgd(0.1), { milestones: [3, -1] }), type: RangeError, message: /milestones\[1\] to be an integer >= 0, received -1/ },
  { name: 'ConstantLR with factor 0', fn: () => new ConstantLR(sgd(0.1), { factor: 0 }), type: RangeError, message: /factor to be a finite number > 0 and <= 1, received 0/ },
  { name: 'LinearLR with startFactor above 1', fn: () => new LinearLR(sgd(0.1), { startFactor: 1.5 }), type: RangeError, message: /startFactor to be a finite number > 0 and <= 1, received 1.5/ },
  { name: 'PolynomialLR with totalIters 0', fn: () => new PolynomialLR(sgd(0.1), { totalIters: 0 }), type: RangeError, message: /totalIters to be an integer >= 1, received 0/ },
  { name: 'CosineAnnealingLR without tMax', fn: () => new CosineAnnealingLR(sgd(0.1), {} as never), type: TypeError, message: /CosineAnnealingLR: expected tMax to be an integer >= 1, received undefined/ },
  { name: 'CosineAnnealingWarmRestarts with tMult 0', fn: () => new CosineAnnealingWarmRestarts(sgd(0.1), { t0: 5, tMult: 0 }), type: RangeError, message: /tMult to be an integer >= 1, received 0/ },
  { name: 'LambdaLR with one lambda too few', fn: () => new LambdaLR(sgd(0.1, 0.2), { lrLambda: [() => 1] }), type: RangeError, message: 'LambdaLR: expected 2 lrLambdas (one per param group), received 1' },
  { name: 'LambdaLR with a number for lrLambda', fn: () => new LambdaLR(sgd(0.1), { lrLambda: 0.5 as never }), type: TypeError, message: /expected lrLambda to be a function or an array/ },
  { name: 'resuming with lastEpoch without initialLr', fn: () => new StepLR(sgd(0.1), { stepSize: 2, lastEpoch: 5 }), type: RangeError, message: /StepLR: param group 0 has no initialLr; resuming with lastEpoch 5/ },
  { name: 'CyclicLR with a maxLr per group of the wrong length', fn: () => new CyclicLR(sgd(0.1, 0.2), { baseLr: 0.01, maxLr: [0.1, 0.2, 0.3] }), type: RangeError, message: 'CyclicLR: expected maxLr to be a number or one number per param group (2), received 3 values' },
  { name: 'CyclicLR with an unknown mode', fn: () => new CyclicLR(sgd(0.1), { baseLr: 0.01, maxLr: 0.1, mode: 'sine' as never }), type: RangeError, message: 'CyclicLR: expected mode to be one of "triangular", "triangular2", "expRange", received "sine"' },
  { name: 'CyclicLR cycling momentum on an optimizer without momentum', fn: () => new CyclicLR({ paramGroups: [{ lr: 0.1 }] }, { baseLr: 0.01, maxLr: 0.1 }), type: TypeError, message: /CyclicLR: cycleMomentum needs an optimizer whose param groups have momentum \(SGD\) or betas/ },
  { name: 'OneCycleLR without totalSteps or epochs', fn: () => new OneCycleLR(sgd(0.1), { maxLr: 0.1 }), type: TypeError, message: 'OneCycleLR: expected totalSteps, or both epochs and stepsPerEpoch, received neither' },
  { name: 'OneCycleLR with pctStart 1.5', fn: () => new OneCycleLR(sgd(0.1), { maxLr: 0.1, totalSteps: 10, pctStart: 1.5 }), type: RangeError, message: /pctStart to be a finite number >= 0 and <= 1, received 1.5/ },
  { name: 'OneCycleLR with an unknown annealStrategy', fn: () => new OneCycleLR(sgd(0.1), { maxLr: 0.1, totalSteps: 10, annealStrategy: 'exp' as never }), type: RangeError, message: /annealStrategy to be one of "cos", "linear", received "exp"/ },
  {
    name: 'OneCycleLR stepped past totalSteps',
    fn: () => {
      const s = new OneCycleLR(sgd(0.1), { maxLr: 0.1, totalSteps: 3 });
      for (let i = 0; i < 4; i++) s.step();
    },
    type: RangeError,
    message: 'OneCycleLR: tried to step 4 times; the specified number of total steps is 3 (totalSteps)',
  },
  {
    name: 'SequentialLR with too many milestones',
    fn: () => {
      const o = sgd(0.1);
      return new SequentialLR(o, { schedulers: [new StepLR(o, { stepSize: 2 }), new ExponentialLR(o, { gamma: 0.9 })], milestones: [2, 4] });
    },
    type: RangeError,
    message: /SequentialLR: expected one milestone fewer than schedulers \(1\), received 2 milestones for 2 schedulers/,
  },
  {
    name: 'SequentialLR with a ReduceLROnPlateau child',
    fn: () => {
      const o = sgd(0.1);
      return new SequentialLR(o, { schedulers: [new StepLR(o, { stepSize: 2 }), new ReduceLROnPlateau(o) as never], milestones: [2] });
    },
    type: TypeError,
    message: /ReduceLROnPlateau cannot be chained \(its step\(\) needs a metric\), received one at schedulers\[1\]/,
  },
  {
    name: 'ChainedScheduler over two optimizers',
    fn: () => new ChainedScheduler([new StepLR(sgd(0.1), { stepSize: 2 }), new StepLR(sgd(0.1), { stepSize: 2 })]),
    type: RangeError,
    message: /ChainedScheduler: expected every scheduler to drive the same optimizer, but schedulers\[1\] \(StepLR\) drives a different one/,
  },
  { name: 'ChainedScheduler with no schedulers', fn: () => new ChainedScheduler([]), type: RangeError, message: 'ChainedScheduler: expected at least one scheduler, received none' },
  { name: 'ReduceLROnPlateau with factor 1', fn: () => new ReduceLROnPlateau(sgd(0.1), { factor: 1 }), type: RangeError, message: 'ReduceLROnPlateau: expected factor to be a finite number >= 0 and < 1, received 1' },
  { name: 'ReduceLROnPlateau with an unknown mode', fn: () => new ReduceLROnPlateau(sgd(0.1), { mode: 'minimum' as never }), type: RangeError, message: /mode to be one of "min", "max", received "minimum"/ },
  { name: 'ReduceLROnPlateau stepped with a string', fn: () => new ReduceLROnPlateau(sgd(0.1)).step('0.5' as never), type: TypeError, message: 'ReduceLROnPlateau: expected metric to be a number, received "0.5"' },
  { name: 'loadStateDict with an unknown key', fn: () => new StepLR(sgd(0.1), { stepSize: 2 }).loadStateDict({ lastEpok: 3 }), type: RangeError, message: /StepLR.loadStateDict: unknown key "lastEpok"/ },
  { name: 'loadStateDict with a string epoch', fn: () => new StepLR(sgd(0.1), { stepSize: 2 }).loadStateDict({ lastEpoch: '3' }), type: TypeError, message: /StepLR.loadStateDict: expected lastEpoch to be an integer, received "3"/ },
  { name: 'loadStateDict with baseLrs for another number of groups', fn: () => new StepLR(sgd(0.1), { stepSize: 2 }).loadStateDict({ baseLrs: [0.1, 0.2] }), type: RangeError, message: /expected baseLrs to hold one number per param group \(1\), received 2/ },
];

for (const e of ERRORS) {
  test(`throws ${e.type.name}: ${e.name}`, (t) => {
    const err = t.throws(e.fn, { instanceOf: e.type });
    if (typeof e.message === 'string') t.is(err!.message, e.message);
    else t.regex(err!.message, e.message);
  });
}

test('a rejected construction writes nothing to the optimizer', (t) => {
  const opt = sgd(0.1, 0.2);
  t.throws(() => new CyclicLR(opt, { baseLr: 0.01, maxLr: [0.1, 0.2], stepSizeUp: -1 }), { instanceOf: RangeError });
  t.throws(() => new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 10, maxMomentum: [0.9] }), { instanceOf: RangeError });
  t.deepEqual(opt.paramGroups.map((g) => [g.lr, g.momentum, g.initialLr]), [
    [0.1, 0.9, undefined],
    [0.2, 0.9, undefined],
  ]);
});

test('a rejected loadStateDict of a nested scheduler changes nothing', (t) => {
  const opt = sgd(0.1);
  const s = new SequentialLR(opt, { schedulers: [new LinearLR(opt, { totalIters: 3 }), new ExponentialLR(opt, { gamma: 0.9 })], milestones: [3] });
  for (let i = 0; i < 5; i++) s.step();
  const before = JSON.stringify(s.stateDict());
  const bad = JSON.parse(before);
  bad.lastEpoch = 0;
  bad.schedulers[0].lastEpoch = 0;
  bad.schedulers[1].gamma = 'x';
  t.throws(() => s.loadStateDict(bad), { instanceOf: TypeError, message: /ExponentialLR.loadStateDict: expected gamma to be a finite number, received "x"/ });
  t.is(JSON.stringify(s.stateDict()), before);
});

test('with countOnlyAppliedSteps, a scheduler step after a skipped optimizer step does nothing', (t) => {
  const p = new Parameter(new Float32Array([1, 2, 3]), { name: 'w' });
  const opt = new SGD([p], { lr: 0.1, skipNonFinite: true });
  const counted = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
  counted.countOnlyAppliedSteps = true;
  p.grad!.fill(0.1);
  opt.step();
  counted.step();
  t.deepEqual(counted.getLastLr(), [0.05]);
  p.grad![1] = NaN;
  opt.step();
  t.false(opt.lastStepApplied);
  counted.step();
  t.deepEqual(counted.getLastLr(), [0.05]);
  t.is(counted.lastEpoch, 1);
  p.grad![1] = 0.1;
  opt.step();
  counted.step();
  t.deepEqual(counted.getLastLr(), [0.025]);
});

test('with countOnlyAppliedSteps over a Lookahead, a step its inner optimizer skipped is not counted', (t) => {
  const p = new Parameter(new Float32Array([1, 2, 3]), { name: 'w' });
  const opt = new Lookahead(new SGD([p], { lr: 0.1, skipNonFinite: true }), { k: 2 });
  const counted = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
  counted.countOnlyAppliedSteps = true;
  p.grad!.fill(NaN);
  opt.step();
  t.false(opt.lastStepApplied);
  counted.step();
  t.is(counted.lastEpoch, 0);
  p.grad!.fill(0.1);
  opt.step();
  t.true(opt.lastStepApplied);
  counted.step();
  t.deepEqual(counted.getLastLr(), [0.05]);
});

test('without countOnlyAppliedSteps, a scheduler counts every step, as PyTorch', (t) => {
  const p = new Parameter(new Float32Array([1]), { name: 'w' });
  const opt = new SGD([p], { lr: 0.1, skipNonFinite: true });
  const s = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
  p.grad![0] = NaN;
  opt.step();
  s.step();
  t.deepEqual(s.getLastLr(), [0.05]);
});
