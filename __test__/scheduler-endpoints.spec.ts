/**
 * The ends of every learning-rate scheduler (issue 12, "No schedule may stop training"). Each of
 * the 15 schedulers is run at the edges of its options (factors at 0 or tiny, etaMin 0, power 0,
 * baseLr = maxLr, restarts, the last OneCycleLR step, plateaus down to minLr 0, sequences and
 * chains of these) and stepped well past the end of its schedule, with an optimizer really
 * stepping (AdamW or SGD over a small Parameter with a gradient) after every scheduler step. No
 * step may throw, every lr must be finite and ≥ 0, and where a PyTorch fixture exists
 * (`fixtures/schedulers.json`) the lrs equal PyTorch's, with the tolerance of schedulers.spec.ts.
 *
 * The property sweeps draw configurations with fast-check; FERROPTIM_FUZZ_RUNS sets the number of
 * runs per property (default 100). A failure prints the configuration and fast-check's seed.
 */
import test from 'ava';
import fc from 'fast-check';
import { AdamW, Parameter, SGD } from '../ts/index.js';
import {
  ChainedScheduler, ConstantLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, ExponentialLR, LambdaLR, LinearLR, LRScheduler,
  MultiplicativeLR, MultiStepLR, OneCycleLR, PolynomialLR, ReduceLROnPlateau, schedules, SequentialLR, StepLR, warmupCosine,
} from '../ts/schedulers/index.js';
import { LR_RESIDUE, MIN_NORMAL } from '../ts/schedulers/internal.js';
import { ABS, type AnyScheduler, loadSchedulerFixture, makeScheduler, REL, type SchedulerCase, stepScheduler } from './helpers/scheduler-fixtures.js';

const RUNS = (() => {
  const n = Number(process.env.FERROPTIM_FUZZ_RUNS ?? 100);
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

// ---- harness -------------------------------------------------------------------------------

type Kind = 'AdamW' | 'SGD';
type Opt = AdamW | SGD;

/** One group per lr, each holding one Parameter of length 3; SGD groups get momentum 0.9. */
function makeOptimizer(kind: Kind, lrs: readonly number[], extra: Array<Record<string, unknown>> = []): Opt {
  const groups = lrs.map((lr, i) => ({
    params: [new Parameter(Float32Array.of(0.5, -1, 2), { name: `w${i}` })],
    lr,
    ...(kind === 'SGD' ? { momentum: 0.9 } : {}),
    ...extra[i],
  }));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return kind === 'SGD' ? new SGD(groups as any) : new AdamW(groups as any);
}

function setGrads(opt: Opt, k: number): void {
  for (const g of opt.paramGroups) for (const p of g.params) p.grad = Float32Array.of(Math.sin(k + 1), Math.cos(k + 1), 0.25);
}

interface Trace {
  /** The groups' lr after construction, then after each scheduler step. */
  lrs: number[][];
  /** What went wrong: a throw (where) or a bad value. */
  problem?: string;
}

/**
 * Construction, then `steps` times: scheduler step, optimizer step. The optimizer also steps once
 * right after construction, so every lr the scheduler writes is used by an optimizer step. The
 * parameters are not checked: a large lr may make them diverge, which is arithmetic, not a stop.
 */
function train(opt: Opt, schedulerStep: (k: number) => void, steps: number): Trace {
  const lrs: number[][] = [];
  for (let k = 0; k <= steps; k++) {
    if (k > 0) {
      try {
        schedulerStep(k);
      } catch (e) {
        return { lrs, problem: `scheduler step ${k} threw: ${(e as Error).message}` };
      }
    }
    const row = opt.paramGroups.map((g) => g.lr);
    lrs.push(row);
    const bad = row.findIndex((x) => !(Number.isFinite(x) && x >= 0));
    if (bad >= 0) return { lrs, problem: `after scheduler step ${k}, group ${bad} has lr ${row[bad]}` };
    setGrads(opt, k);
    try {
      opt.step();
    } catch (e) {
      return { lrs, problem: `optimizer step after scheduler step ${k} threw: ${(e as Error).message}` };
    }
  }
  return { lrs };
}

const stepOf = (s: AnyScheduler, metric?: (k: number) => number) => (k: number) => {
  if (s instanceof ReduceLROnPlateau) s.step(metric ? metric(k) : 1);
  else s.step();
};

const close = (a: number, b: number, rel = REL) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + ABS;

/** The first difference between two lr tables beyond the fixture tolerance. */
function firstMismatch(got: readonly number[][], want: readonly number[][]): string | undefined {
  if (got.length !== want.length) return `${got.length} rows, want ${want.length}`;
  for (let r = 0; r < want.length; r++) {
    for (let j = 0; j < want[r]!.length; j++) {
      if (!close(got[r]![j]!, want[r]![j]!)) return `row ${r} group ${j}: got ${got[r]![j]}, want ${want[r]![j]}`;
    }
  }
  return undefined;
}

/** PyTorch's recursive LinearLR (`get_lr`), for one group, with PyTorch's operations. */
function torchLinearLr(base: number, s: number, z: number, T: number, steps: number): number[] {
  const out: number[] = [];
  let lr = base;
  for (let e = 0; e <= steps; e++) {
    if (e === 0) lr = lr * s;
    else if (e <= T) lr = lr * (1.0 + (z - s) / (T * s + (e - 1) * (z - s)));
    out.push(lr);
  }
  return out;
}

/** PyTorch's recursive CosineAnnealingLR (`get_lr`), for one group, with PyTorch's operations. */
function torchCosineLr(base: number, m: number, T: number, steps: number): number[] {
  const out: number[] = [base];
  let lr = base;
  for (let e = 1; e <= steps; e++) {
    if ((e - 1 - T) % (2 * T) === 0) lr = lr + ((base - m) * (1 - Math.cos(Math.PI / T))) / 2;
    else lr = ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (lr - m) + m;
    out.push(lr);
  }
  return out;
}

/** The largest rounding residue of a schedule of this scale, and whether a negative lr is one (LRScheduler's rule). */
const residueBound = (scale: number) => Math.max(LR_RESIDUE * scale, MIN_NORMAL);
const isResidue = (lr: number, scale: number) => lr < 0 && -lr <= residueBound(scale);

/**
 * The documented deviation from PyTorch's sequence `torch`: bit-identical until PyTorch first goes
 * below 0, where the value must be residue and ours +0; from there on ours continues from 0, so it
 * stays ≥ 0 and within the residue bound of PyTorch's. Returns the first violation.
 */
function followsTorch(got: readonly number[], torch: readonly number[], scale: number): string | undefined {
  let settled = false;
  for (let e = 0; e < torch.length; e++) {
    const [g, w] = [got[e]!, torch[e]!];
    if (!settled && w < 0) {
      if (!isResidue(w, scale)) return `e = ${e}: PyTorch goes to ${w}, beyond rounding residue`;
      settled = true;
    }
    const ok = settled ? g >= 0 && Math.abs(g - w) <= residueBound(scale) : Object.is(g, w);
    if (!ok) return `e = ${e}: got ${g}, PyTorch ${w}${settled ? ' (after a settled residue)' : ''}`;
  }
  return undefined;
}

// ---- the issue -------------------------------------------------------------------------------

test('LinearLR with endFactor 0 over 5 iterations (the issue) ends at exactly 0 and AdamW keeps stepping', (t) => {
  const opt = makeOptimizer('AdamW', [0.1]);
  const s = new LinearLR(opt, { endFactor: 0, totalIters: 5 });
  const trace = train(opt, stepOf(s), 50);
  t.is(trace.problem, undefined);
  const torch = torchLinearLr(0.1, 1 / 3, 0, 5, 50);
  t.true(torch[5]! < 0 && torch[5]! > -1e-17, `PyTorch ends a few ulps below 0 (${torch[5]})`);
  t.is(followsTorch(trace.lrs.map((r) => r[0]!), torch, 0.1), undefined);
  for (let e = 5; e <= 50; e++) t.true(Object.is(trace.lrs[e]![0], 0), `lr is +0 at step ${e}`);
  t.deepEqual(s.getLastLr(), [0]);
});

test('LinearLR with endFactor 0 trains past the end at every startFactor × totalIters of a 224-point grid', (t) => {
  const failures: string[] = [];
  for (const startFactor of [1, 0.9, 0.7, 0.5, 1 / 3, 0.25, 0.1, 0.01]) {
    for (let totalIters = 1; totalIters <= 28; totalIters++) {
      const opt = makeOptimizer('AdamW', [0.1, 0.03]);
      const trace = train(opt, stepOf(new LinearLR(opt, { startFactor, endFactor: 0, totalIters })), totalIters + 5);
      if (trace.problem) failures.push(`startFactor ${startFactor}, totalIters ${totalIters}: ${trace.problem}`);
    }
  }
  t.deepEqual(failures, []);
});

test('ChainedScheduler of LinearLR (endFactor 0) and a growing ExponentialLR ends at 0 instead of a negative residue', (t) => {
  const opt = makeOptimizer('AdamW', [0.1, 0.03]);
  const s = new ChainedScheduler([new LinearLR(opt, { startFactor: 0.7, endFactor: 0, totalIters: 6 }), new ExponentialLR(opt, { gamma: 1.1 })]);
  const trace = train(opt, stepOf(s), 40);
  t.is(trace.problem, undefined);
  t.deepEqual(trace.lrs.at(-1), [0, 0]);
});

// ---- every PyTorch fixture, with the optimizer stepping after the last scheduler step too --------

const FIX = loadSchedulerFixture();

/** The fixture's optimizer (Adam cases run on AdamW: same groups, and lr is all that matters here). */
function fixtureOptimizer(c: SchedulerCase): Opt {
  const kind: Kind = c.optimizer.type === 'SGD' ? 'SGD' : 'AdamW';
  const lrs = c.optimizer.groups.map((g) => g.lr as number);
  return makeOptimizer(kind, lrs, c.optimizer.groups.map(({ lr: _lr, ...rest }) => rest));
}

function replayFixture(c: SchedulerCase): Trace {
  const opt = fixtureOptimizer(c);
  const s = makeScheduler(opt, c.scheduler);
  return train(opt, (k) => stepScheduler(c, s, k - 1), c.steps);
}

/** PyTorch's OneCycleLR with 'linear' extrapolates below 0 at e = totalSteps (see OneCycleLR's remarks). */
const endsBelowZero = (c: SchedulerCase) => c.lr.at(-1)!.some((x) => x < 0);

for (const c of FIX.cases) {
  if (endsBelowZero(c)) {
    test(`${c.name}: every lr the cycle uses is PyTorch's and ≥ 0; the step past the end is PyTorch's negative extrapolation, which the optimizer refuses`, (t) => {
      t.is(c.scheduler.type, 'OneCycleLR');
      t.true(c.lr.slice(0, -1).every((row) => row.every((x) => x >= 0)), 'PyTorch is ≥ 0 before the last step');
      const trace = replayFixture(c);
      t.is(firstMismatch(trace.lrs, c.lr), undefined, 'every row equals PyTorch, the extrapolated one included');
      t.regex(trace.problem ?? '', new RegExp(`^after scheduler step ${c.steps}, group 0 has lr -`), 'only the step past the end is negative');
      // The same schedule again, to hand the negative lr to the optimizer and the scheduler.
      const opt = fixtureOptimizer(c);
      const s = makeScheduler(opt, c.scheduler) as OneCycleLR;
      for (let k = 0; k < c.steps; k++) s.step();
      setGrads(opt, 0);
      t.throws(() => opt.step(), { instanceOf: RangeError, message: /^SGD: expected lr \(param group 0\) to be a finite number >= 0, received -/ });
      t.throws(() => s.step(), { instanceOf: RangeError, message: /^OneCycleLR: tried to step/ });
    });
  } else {
    test(`${c.name}: matches torch ${FIX.torch} with the optimizer stepping after every scheduler step, the last one included`, (t) => {
      const trace = replayFixture(c);
      t.is(trace.problem, undefined);
      t.is(firstMismatch(trace.lrs, c.lr), undefined);
    });
  }
}

// ---- the edges of each scheduler -----------------------------------------------------------------

interface EdgeCase {
  name: string;
  kind?: Kind;
  lrs?: number[];
  make: (opt: Opt) => AnyScheduler;
  steps: number;
  metric?: (k: number) => number;
  /** Extra checks on the lr table (rows: construction, then each step). */
  check?: (lrs: number[][], t: { true(v: boolean, m?: string): void; is(a: unknown, b: unknown, m?: string): void }) => void;
}

const column = (lrs: number[][], j = 0) => lrs.map((r) => r[j]!);
/** 1 minus min(e, T) steps of 1/T added up one by one, as a training loop would: for T = 9, 11, 18, 20, … it ends below 0. */
const accumulatedDecay = (T: number) => (e: number) => {
  let done = 0;
  for (let i = 0; i < Math.min(e, T); i++) done += 1 / T;
  return 1 - done;
};
const allZeroFrom = (from: number) => (lrs: number[][], t: { true(v: boolean, m?: string): void }) => {
  for (let e = from; e < lrs.length; e++) t.true(lrs[e]!.every((x) => Object.is(x, 0)), `all +0 at step ${e}: ${lrs[e]}`);
};

const EDGES: EdgeCase[] = [
  // LambdaLR
  { name: 'LambdaLR returning 0', make: (o) => new LambdaLR(o, { lrLambda: () => 0 }), steps: 20, check: allZeroFrom(0) },
  {
    name: 'LambdaLR returning -1e-17 (rounding residue of a factor meant to be 0) after step 3',
    make: (o) => new LambdaLR(o, { lrLambda: (e: number) => (e > 3 ? -1e-17 : 1) }),
    steps: 20,
    check: allZeroFrom(4),
  },
  {
    name: 'LambdaLR with a linear decay accumulated in steps of 1/9, which rounds to −2.2e−16 at e = 9, then held',
    make: (o) => new LambdaLR(o, { lrLambda: accumulatedDecay(9) }),
    steps: 40,
    check: (lrs, t) => {
      t.true(accumulatedDecay(9)(9) < 0, 'the lambda itself rounds below 0');
      allZeroFrom(9)(lrs, t);
    },
  },
  {
    name: 'LambdaLR driven by warmupCosine to endLr 0, stepped far past totalSteps',
    make: (o) => {
      const lrAt = warmupCosine({ peakLr: 0.1, warmupSteps: 5, totalSteps: 30 });
      return new LambdaLR(o, { lrLambda: (e: number) => lrAt(e) / 0.1 });
    },
    lrs: [0.1],
    steps: 60,
    check: allZeroFrom(30),
  },
  // MultiplicativeLR
  { name: 'MultiplicativeLR returning 0 from step 1', make: (o) => new MultiplicativeLR(o, { lrLambda: () => 0 }), steps: 20, check: allZeroFrom(1) },
  { name: 'MultiplicativeLR with factor 1e-300 (underflows to 0)', make: (o) => new MultiplicativeLR(o, { lrLambda: () => 1e-300 }), steps: 20, check: allZeroFrom(2) },
  // StepLR, MultiStepLR, ExponentialLR
  { name: 'StepLR stepSize 1 with gamma Number.MIN_VALUE', make: (o) => new StepLR(o, { stepSize: 1, gamma: Number.MIN_VALUE }), steps: 20, check: allZeroFrom(1) },
  { name: 'MultiStepLR with duplicated milestones and gamma 1e-200', make: (o) => new MultiStepLR(o, { milestones: [1, 1, 2, 2, 2], gamma: 1e-200 }), steps: 20, check: allZeroFrom(2) },
  { name: 'ExponentialLR with gamma 1e-300', make: (o) => new ExponentialLR(o, { gamma: 1e-300 }), steps: 20, check: allZeroFrom(2) },
  { name: 'ExponentialLR with gamma 1 (constant)', make: (o) => new ExponentialLR(o, { gamma: 1 }), steps: 20, check: (l, t) => t.true(column(l).every((x) => x === 0.1)) },
  // ConstantLR
  {
    name: 'ConstantLR with the smallest normal factor 2^-1022 for 3 iterations',
    make: (o) => new ConstantLR(o, { factor: MIN_NORMAL, totalIters: 3 }),
    steps: 20,
    check: (l, t) => {
      for (let e = 3; e < l.length; e++) t.true(close(l[e]![0]!, 0.1, 1e-14), `back to the base lr at ${e}: ${l[e]![0]}`);
    },
  },
  { name: 'ConstantLR with factor 1 and totalIters 0', make: (o) => new ConstantLR(o, { factor: 1, totalIters: 0 }), steps: 10, check: (l, t) => t.true(column(l).every((x) => x === 0.1)) },
  // LinearLR
  {
    name: 'LinearLR from startFactor 1 to endFactor 0 in one iteration',
    make: (o) => new LinearLR(o, { startFactor: 1, endFactor: 0, totalIters: 1 }),
    steps: 10,
    check: allZeroFrom(1),
  },
  {
    name: 'LinearLR with endFactor 0 over 1000 iterations',
    make: (o) => new LinearLR(o, { startFactor: 0.37, endFactor: 0, totalIters: 1000 }),
    lrs: [0.1],
    steps: 1100,
    check: (l, t) => t.is(followsTorch(column(l), torchLinearLr(0.1, 0.37, 0, 1000, 1100), 0.1), undefined),
  },
  {
    name: 'LinearLR warmup from startFactor 1e-300',
    make: (o) => new LinearLR(o, { startFactor: 1e-300, totalIters: 5 }),
    lrs: [0.1],
    steps: 20,
    check: (l, t) => t.is(followsTorch(column(l), torchLinearLr(0.1, 1e-300, 1, 5, 20), 0.1), undefined),
  },
  {
    name: 'LinearLR from the smallest normal startFactor 2^-1022 to endFactor 0',
    make: (o) => new LinearLR(o, { startFactor: MIN_NORMAL, endFactor: 0, totalIters: 7 }),
    steps: 20,
    check: allZeroFrom(7),
  },
  // PolynomialLR
  { name: 'PolynomialLR with power 0 (constant, 0^0 = 1 at totalIters)', make: (o) => new PolynomialLR(o, { power: 0, totalIters: 5 }), steps: 20, check: (l, t) => t.true(column(l).every((x) => x === 0.1)) },
  { name: 'PolynomialLR with totalIters 1', make: (o) => new PolynomialLR(o, { totalIters: 1 }), steps: 10, check: allZeroFrom(1) },
  { name: 'PolynomialLR with power 1e-300', make: (o) => new PolynomialLR(o, { power: 1e-300, totalIters: 5 }), steps: 20, check: allZeroFrom(5) },
  { name: 'PolynomialLR with power 500 (underflows before totalIters)', make: (o) => new PolynomialLR(o, { power: 500, totalIters: 8 }), steps: 20, check: allZeroFrom(8) },
  // CosineAnnealingLR
  {
    name: 'CosineAnnealingLR with tMax 1 and etaMin 0 (0 at every odd step)',
    make: (o) => new CosineAnnealingLR(o, { tMax: 1 }),
    steps: 20,
    check: (l, t) => {
      for (let e = 1; e < l.length; e += 2) t.is(l[e]![0], 0, `0 at ${e}`);
    },
  },
  { name: 'CosineAnnealingLR with tMax 7 and etaMin 0 over 30 periods', make: (o) => new CosineAnnealingLR(o, { tMax: 7 }), steps: 420 },
  { name: 'CosineAnnealingLR with etaMin above the base lr', make: (o) => new CosineAnnealingLR(o, { tMax: 5, etaMin: 0.5 }), steps: 60 },
  {
    name: 'CosineAnnealingLR from a base lr of 0 up to etaMin 1e-12 (tMax 28), whose recursion drifts below 0',
    lrs: [0],
    make: (o) => new CosineAnnealingLR(o, { tMax: 28, etaMin: 1e-12 }),
    steps: 400,
    check: (l, t) => {
      const torch = torchCosineLr(0, 1e-12, 28, 400);
      t.true(torch.some((x) => x < 0), 'PyTorch goes below 0');
      t.is(followsTorch(column(l), torch, 1e-12), undefined);
    },
  },
  // CosineAnnealingWarmRestarts
  { name: 'CosineAnnealingWarmRestarts with t0 1 (a restart every step)', make: (o) => new CosineAnnealingWarmRestarts(o, { t0: 1 }), steps: 20, check: (l, t) => t.true(column(l).every((x) => x === 0.1)) },
  {
    name: 'CosineAnnealingWarmRestarts with t0 3, tMult 3 and etaMin 0, through four restarts',
    make: (o) => new CosineAnnealingWarmRestarts(o, { t0: 3, tMult: 3 }),
    steps: 130,
    check: (l, t) => {
      for (const e of [0, 3, 12, 39, 120]) t.is(l[e]![0], 0.1, `restart at ${e}`);
    },
  },
  // CyclicLR
  { name: 'CyclicLR with baseLr = maxLr', kind: 'SGD', make: (o) => new CyclicLR(o, { baseLr: 0.01, maxLr: 0.01, stepSizeUp: 3 }), steps: 30, check: (l, t) => t.true(column(l).every((x) => x === 0.01)) },
  { name: 'CyclicLR with baseLr = maxLr = 0', kind: 'SGD', make: (o) => new CyclicLR(o, { baseLr: 0, maxLr: 0, stepSizeUp: 3 }), steps: 30, check: allZeroFrom(0) },
  { name: 'CyclicLR with maxLr 0 below baseLr', kind: 'SGD', make: (o) => new CyclicLR(o, { baseLr: 0.1, maxLr: 0, stepSizeUp: 2, stepSizeDown: 3 }), steps: 30 },
  {
    name: 'CyclicLR triangular2 after 1100 cycles (the amplitude underflows to 0)',
    kind: 'SGD',
    make: (o) => new CyclicLR(o, { baseLr: 0.001, maxLr: 0.1, stepSizeUp: 1, mode: 'triangular2' }),
    steps: 2300,
    check: (l, t) => t.true(l.slice(2200).every((r) => r[0] === 0.001)),
  },
  { name: 'CyclicLR expRange with gamma 1e-300', kind: 'SGD', make: (o) => new CyclicLR(o, { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 3, mode: 'expRange', gamma: 1e-300 }), steps: 30 },
  { name: 'CyclicLR cycling AdamW beta1 up to 0.999999', make: (o) => new CyclicLR(o, { baseLr: 0.001, maxLr: 0.01, stepSizeUp: 2, baseMomentum: 0, maxMomentum: 0.999999 }), steps: 30 },
  // OneCycleLR: the N optimizer steps of the cycle (the step past the end is tested with the fixtures and below)
  ...(['cos', 'linear'] as const).flatMap((annealStrategy) =>
    [false, true].flatMap((threePhase) =>
      [
        { totalSteps: 10, pctStart: 0.1, what: 'pctStart·totalSteps = 1 (a warmup of no length)' },
        { totalSteps: 10, pctStart: 0, what: 'pctStart 0' },
        { totalSteps: 10, pctStart: 1, what: 'pctStart 1' },
        { totalSteps: 1, pctStart: 0.3, what: 'totalSteps 1' },
        { totalSteps: 3, pctStart: 2 / 3, what: 'totalSteps 3, pctStart 2/3 (2p·N − 2 = N − 1)' },
      ].map(
        ({ totalSteps, pctStart, what }): EdgeCase => ({
          name: `OneCycleLR ${annealStrategy}${threePhase ? ' threePhase' : ''} with ${what}, for its ${totalSteps} optimizer steps`,
          kind: 'SGD',
          make: (o) => new OneCycleLR(o, { maxLr: 0.1, totalSteps, pctStart, annealStrategy, threePhase }),
          steps: totalSteps - 1,
        }),
      ),
    ),
  ),
  // ReduceLROnPlateau
  { name: 'ReduceLROnPlateau with factor 0 and minLr 0 on a flat metric', make: (o) => new ReduceLROnPlateau(o, { patience: 0, factor: 0 }), steps: 20, check: allZeroFrom(2) },
  { name: 'ReduceLROnPlateau with factor 1e-300 and eps 0 on a flat metric', make: (o) => new ReduceLROnPlateau(o, { patience: 0, factor: 1e-300, eps: 0 }), steps: 20, check: allZeroFrom(4) },
  // SequentialLR
  {
    name: 'SequentialLR: LinearLR to endFactor 0, then ExponentialLR from the base lr',
    make: (o) => new SequentialLR(o, { schedulers: [new LinearLR(o, { startFactor: 1, endFactor: 0, totalIters: 5 }), new ExponentialLR(o, { gamma: 0.9 })], milestones: [8] }),
    steps: 40,
  },
  {
    name: 'SequentialLR: CosineAnnealingLR to 0, then LinearLR to endFactor 0',
    make: (o) => new SequentialLR(o, { schedulers: [new CosineAnnealingLR(o, { tMax: 4 }), new LinearLR(o, { startFactor: 1, endFactor: 0, totalIters: 6 })], milestones: [4] }),
    steps: 40,
    check: allZeroFrom(10),
  },
  {
    name: 'SequentialLR: ConstantLR with the smallest normal factor, then PolynomialLR to 0',
    make: (o) => new SequentialLR(o, { schedulers: [new ConstantLR(o, { factor: MIN_NORMAL, totalIters: 3 }), new PolynomialLR(o, { totalIters: 4, power: 2 })], milestones: [3] }),
    steps: 30,
    check: allZeroFrom(7),
  },
  // ChainedScheduler
  {
    name: 'ChainedScheduler: ConstantLR and LinearLR to endFactor 0',
    make: (o) => new ChainedScheduler([new ConstantLR(o, { factor: 0.3, totalIters: 6 }), new LinearLR(o, { startFactor: 0.7, endFactor: 0, totalIters: 6 })]),
    steps: 30,
    check: allZeroFrom(6),
  },
  {
    name: 'ChainedScheduler: CosineAnnealingLR (etaMin 0), PolynomialLR and MultiplicativeLR',
    make: (o) => new ChainedScheduler([new CosineAnnealingLR(o, { tMax: 5 }), new PolynomialLR(o, { totalIters: 9 }), new MultiplicativeLR(o, { lrLambda: () => 0.9 })]),
    steps: 40,
  },
];

for (const c of EDGES) {
  test(`${c.name}: trains past the end with every lr finite and ≥ 0`, (t) => {
    const opt = makeOptimizer(c.kind ?? 'AdamW', c.lrs ?? [0.1, 0.03]);
    const s = c.make(opt);
    const trace = train(opt, stepOf(s, c.metric), c.steps);
    t.is(trace.problem, undefined);
    t.is(trace.lrs.length, c.steps + 1);
    c.check?.(trace.lrs, t);
  });
}

// ---- what is still refused ------------------------------------------------------------------------

test('the optimizer still refuses a negative lr from the user: new AdamW(p, { lr: -1 })', (t) => {
  t.throws(() => new AdamW([new Parameter(new Float32Array(2))], { lr: -1 }), {
    instanceOf: RangeError,
    message: 'AdamW: expected lr to be a finite number >= 0, received -1',
  });
});

test('LambdaLR returning -0.5 (negative on purpose, not rounding) writes -0.05 and the next optimizer step refuses it', (t) => {
  const opt = makeOptimizer('AdamW', [0.1]);
  const s = new LambdaLR(opt, { lrLambda: (e: number) => (e === 0 ? 1 : -0.5) });
  s.step();
  t.deepEqual(s.getLastLr(), [-0.05]);
  setGrads(opt, 0);
  t.throws(() => opt.step(), { instanceOf: RangeError, message: 'AdamW: expected lr (param group 0) to be a finite number >= 0, received -0.05' });
});

test('a residue is settled relative to the schedule: MultiplicativeLR factor −LR_RESIDUE gives 0, ten times that stays negative', (t) => {
  const at = (factor: number) => {
    const opt = makeOptimizer('AdamW', [0.1]);
    const s = new MultiplicativeLR(opt, { lrLambda: () => factor });
    s.step();
    return s.getLastLr()[0];
  };
  t.true(Object.is(at(-LR_RESIDUE), 0));
  t.true(at(-10 * LR_RESIDUE)! < 0);
  t.is(at(0.5), 0.05, 'values ≥ 0 are written as computed');
});

test('subnormal factors, which make PyTorch’s recursion infinite, are rejected at construction', (t) => {
  for (const v of [Number.MIN_VALUE, 1e-310, MIN_NORMAL / 2]) {
    t.throws(() => new LinearLR(makeOptimizer('AdamW', [0.1]), { startFactor: v }), {
      instanceOf: RangeError,
      message: `LinearLR: expected startFactor to be at least 2^-1022 (a subnormal startFactor makes the lr infinite), received ${v}`,
    });
    t.throws(() => new ConstantLR(makeOptimizer('AdamW', [0.1]), { factor: v }), {
      instanceOf: RangeError,
      message: `ConstantLR: expected factor to be at least 2^-1022 (a subnormal factor makes the lr infinite), received ${v}`,
    });
  }
  t.notThrows(() => new LinearLR(makeOptimizer('AdamW', [0.1]), { startFactor: MIN_NORMAL }));
});

test('cycling Adam’s beta1 up to 1, which the optimizer refuses at every step, is rejected at construction', (t) => {
  t.throws(() => new CyclicLR(makeOptimizer('AdamW', [0.1]), { baseLr: 0.001, maxLr: 0.01, maxMomentum: 1 }), {
    instanceOf: RangeError,
    message: 'CyclicLR: expected maxMomentum to be a finite number >= 0 and < 1, received 1',
  });
  t.throws(() => new OneCycleLR(makeOptimizer('AdamW', [0.1]), { maxLr: 0.01, totalSteps: 10, baseMomentum: 1 }), {
    instanceOf: RangeError,
    message: 'OneCycleLR: expected baseMomentum to be a finite number >= 0 and < 1, received 1',
  });
  t.notThrows(() => new CyclicLR(makeOptimizer('SGD', [0.1]), { baseLr: 0.001, maxLr: 0.01, maxMomentum: 1.5 }), 'SGD momentum has no upper bound');
});

test('OneCycleLR with a phase of no length uses the phase’s end instead of dividing by zero (class and pure schedule)', (t) => {
  const opt = makeOptimizer('SGD', [0.1]) as SGD;
  const s = new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 10, pctStart: 0.1 });
  t.deepEqual(s.getLastLr(), [0.1], 'a warmup of no length starts at maxLr');
  t.is(opt.paramGroups[0]!.momentum, 0.85, 'and at baseMomentum');
  const f = schedules.oneCycle({ maxLr: 0.1, totalSteps: 10, pctStart: 1 });
  t.is(f(9), 0.1);
  t.is(f(10), 0.1 / 25 / 1e4, 'pctStart 1: the step past the end is the final lr');
  const g = schedules.oneCycle({ maxLr: 0.1, totalSteps: 10, pctStart: 1, annealStrategy: 'linear' });
  t.true(close(g(10), 0.1 / 25 / 1e4, 1e-9));
});

// ---- generated configurations ---------------------------------------------------------------------

/** Edge-biased draws: the named ends often, any value in the range otherwise. */
const edgy = (ends: readonly number[], min: number, max: number) =>
  fc.oneof(fc.constantFrom(...ends), fc.double({ min, max, noNaN: true, noDefaultInfinity: true }));
const lrArb = edgy([0, 1e-8, 1e-3, 0.1, 1], 0, 10);
const lrsArb = fc.array(lrArb, { minLength: 1, maxLength: 3 });
const kindArb = fc.constantFrom<Kind>('AdamW', 'SGD');
const factorArb = edgy([MIN_NORMAL, 1e-300, 1e-12, 1 / 3, 0.5, 1], MIN_NORMAL, 1);
const endFactorArb = edgy([0, 0, MIN_NORMAL, 1e-12, 0.05, 1], 0, 1);
const gammaArb = edgy([Number.MIN_VALUE, 1e-300, 0.1, 0.5, 0.999, 1], Number.MIN_VALUE, 1);

interface Base {
  kind: Kind;
  lrs: number[];
  extra: number;
}
const base = { kind: kindArb, lrs: lrsArb, extra: fc.integer({ min: 1, max: 60 }) };

/**
 * Children for SequentialLR and ChainedScheduler, as printable data. In a chain the factors stay
 * ≥ 1e−3 and CosineAnnealingLR keeps etaMin 0: its recursion is not a pure factor (the step after
 * each minimum adds (base − etaMin)·(1 − cos(π/T))/2, and etaMin > 0 gives m + r·(lr − m)), so
 * composed with ConstantLR's 1/f at totalIters PyTorch's own formulas can divide an lr by a factor
 * it was never multiplied by (up to ∞ for f near 2^−1022) or leave it below 0. That is
 * composition, not rounding; the tiny factors are swept on their own above.
 */
const childArb = (chained: boolean) => {
  const factor = chained ? edgy([1e-3, 1 / 3, 1], 1e-3, 1) : factorArb;
  return fc.oneof(
    fc.record({ type: fc.constant('LinearLR' as const), startFactor: factor, endFactor: endFactorArb, totalIters: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ type: fc.constant('ConstantLR' as const), factor, totalIters: fc.integer({ min: 0, max: 20 }) }),
    fc.record({ type: fc.constant('CosineAnnealingLR' as const), tMax: fc.integer({ min: 1, max: 20 }), etaMin: chained ? fc.constant(0) : edgy([0], 0, 1) }),
    fc.record({ type: fc.constant('PolynomialLR' as const), totalIters: fc.integer({ min: 1, max: 20 }), power: edgy([0, 1, 2], 0, 5) }),
    fc.record({ type: fc.constant('ExponentialLR' as const), gamma: gammaArb }),
    fc.record({ type: fc.constant('MultiplicativeLR' as const), factor: endFactorArb }),
  );
};
type Child = ReturnType<typeof childArb> extends fc.Arbitrary<infer C> ? C : never;
function child(opt: Opt, c: Child): LRScheduler {
  switch (c.type) {
    case 'LinearLR':
      return new LinearLR(opt, { startFactor: c.startFactor, endFactor: c.endFactor, totalIters: c.totalIters });
    case 'ConstantLR':
      return new ConstantLR(opt, { factor: c.factor, totalIters: c.totalIters });
    case 'CosineAnnealingLR':
      return new CosineAnnealingLR(opt, { tMax: c.tMax, etaMin: c.etaMin });
    case 'PolynomialLR':
      return new PolynomialLR(opt, { totalIters: c.totalIters, power: c.power });
    case 'ExponentialLR':
      return new ExponentialLR(opt, { gamma: c.gamma });
    case 'MultiplicativeLR':
      return new MultiplicativeLR(opt, { lrLambda: () => c.factor });
  }
}

/** Lambdas that end at 0 the way users write them; `T` is where they reach it. */
const LAMBDA_FAMILIES: Record<string, (T: number) => (e: number) => number> = {
  zero: () => () => 0,
  linearToZero: (T) => (e) => 1 - Math.min(e, T) * (1 / T),
  accumulatedToZero: (T) => accumulatedDecay(T),
  cosineToZero: (T) => (e) => 0.5 * (1 + Math.cos((Math.PI * Math.min(e, T)) / T)),
  quarterCosine: (T) => (e) => Math.cos(((Math.PI / 2) * Math.min(e, T)) / T),
  warmupCosine: (T) => {
    const f = warmupCosine({ peakLr: 1, warmupSteps: Math.floor(T / 3), totalSteps: T + 1 });
    return (e) => f(e);
  },
};

interface Sweep<C extends Base> {
  name: string;
  arb: fc.Arbitrary<C>;
  build: (opt: Opt, c: C) => AnyScheduler;
  /** Scheduler steps to take (the end of the schedule plus `extra`). */
  steps: (c: C) => number;
  metric?: (c: C) => (k: number) => number;
  /** Compares the lr table with PyTorch's sequence where the test has it; returns the first difference. */
  verify?: (c: C, lrs: number[][]) => string | undefined;
}
const sweep = <C extends Base>(s: Sweep<C>) => s as unknown as Sweep<Base>;

const SWEEPS: Array<Sweep<Base>> = [
  sweep({
    name: 'LambdaLR with lambdas that reach 0 (by rounding, sometimes just below)',
    arb: fc.record({ ...base, family: fc.constantFrom(...Object.keys(LAMBDA_FAMILIES)), T: fc.integer({ min: 1, max: 120 }) }),
    build: (o, c) => new LambdaLR(o, { lrLambda: LAMBDA_FAMILIES[c.family]!(c.T) }),
    steps: (c) => c.T + c.extra,
  }),
  sweep({
    name: 'MultiplicativeLR with a factor in [0, 1]',
    arb: fc.record({ ...base, factor: endFactorArb }),
    build: (o, c) => new MultiplicativeLR(o, { lrLambda: () => c.factor }),
    steps: (c) => c.extra,
  }),
  sweep({
    name: 'StepLR with gamma in (0, 1]',
    arb: fc.record({ ...base, stepSize: fc.integer({ min: 1, max: 10 }), gamma: gammaArb }),
    build: (o, c) => new StepLR(o, { stepSize: c.stepSize, gamma: c.gamma }),
    steps: (c) => 3 * c.stepSize + c.extra,
  }),
  sweep({
    name: 'MultiStepLR with repeated milestones',
    arb: fc.record({ ...base, milestones: fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 6 }), gamma: gammaArb }),
    build: (o, c) => new MultiStepLR(o, { milestones: c.milestones, gamma: c.gamma }),
    steps: (c) => 30 + c.extra,
  }),
  sweep({
    name: 'ConstantLR with a factor down to 2^-1022',
    arb: fc.record({ ...base, factor: factorArb, totalIters: fc.integer({ min: 0, max: 30 }) }),
    build: (o, c) => new ConstantLR(o, { factor: c.factor, totalIters: c.totalIters }),
    steps: (c) => c.totalIters + c.extra,
  }),
  sweep({
    name: 'LinearLR with a startFactor down to 2^-1022 and an endFactor down to 0',
    arb: fc.record({ ...base, startFactor: factorArb, endFactor: endFactorArb, totalIters: fc.integer({ min: 1, max: 200 }) }),
    build: (o, c) => new LinearLR(o, { startFactor: c.startFactor, endFactor: c.endFactor, totalIters: c.totalIters }),
    steps: (c) => c.totalIters + c.extra,
    verify: (c, lrs) => {
      const steps = c.totalIters + c.extra;
      for (const [j, base] of c.lrs.entries()) {
        const bad = followsTorch(column(lrs, j), torchLinearLr(base, c.startFactor, c.endFactor, c.totalIters, steps), base);
        if (bad) return `group ${j}: ${bad}`;
      }
      return undefined;
    },
  }),
  sweep({
    name: 'ExponentialLR with gamma in (0, 1]',
    arb: fc.record({ ...base, gamma: gammaArb }),
    build: (o, c) => new ExponentialLR(o, { gamma: c.gamma }),
    steps: (c) => c.extra,
  }),
  sweep({
    name: 'PolynomialLR with power from 0 up, stepped past totalIters',
    arb: fc.record({ ...base, totalIters: fc.integer({ min: 1, max: 100 }), power: edgy([0, 1e-300, 0.5, 1, 2, 300], 0, 10) }),
    build: (o, c) => new PolynomialLR(o, { totalIters: c.totalIters, power: c.power }),
    steps: (c) => c.totalIters + c.extra,
  }),
  sweep({
    name: 'CosineAnnealingLR with etaMin 0 or above, over several periods',
    arb: fc.record({ ...base, tMax: fc.integer({ min: 1, max: 60 }), etaMin: edgy([0, 0, 1e-12, 0.5], 0, 2), periods: fc.integer({ min: 1, max: 5 }) }),
    build: (o, c) => new CosineAnnealingLR(o, { tMax: c.tMax, etaMin: c.etaMin }),
    steps: (c) => 2 * c.tMax * c.periods + c.extra,
    verify: (c, lrs) => {
      const steps = 2 * c.tMax * c.periods + c.extra;
      for (const [j, base] of c.lrs.entries()) {
        const bad = followsTorch(column(lrs, j), torchCosineLr(base, c.etaMin, c.tMax, steps), Math.max(base, c.etaMin));
        if (bad) return `group ${j}: ${bad}`;
      }
      return undefined;
    },
  }),
  sweep({
    name: 'CosineAnnealingWarmRestarts through several restarts, by step() or by fractional epochs',
    arb: fc.record({
      ...base,
      t0: fc.integer({ min: 1, max: 30 }),
      tMult: fc.integer({ min: 1, max: 4 }),
      etaMin: edgy([0, 0, 0.5], 0, 2),
      epochStep: fc.constantFrom(0, 0.1, 0.25, 1 / 3, 1),
    }),
    build: (o, c) => {
      const s = new CosineAnnealingWarmRestarts(o, { t0: c.t0, tMult: c.tMult, etaMin: c.etaMin });
      if (c.epochStep === 0) return s;
      // Step by epoch instead: a thin wrapper so the harness can call step().
      const byEpoch = Object.create(s) as CosineAnnealingWarmRestarts;
      let k = 0;
      byEpoch.step = () => s.step(++k * c.epochStep);
      return byEpoch;
    },
    steps: (c) => 4 * c.t0 * c.tMult + c.extra,
  }),
  sweep({
    name: 'CyclicLR with baseLr = maxLr or not, every mode (expRange gamma ≤ 1)',
    arb: fc.record({
      ...base,
      baseLr: lrArb,
      maxLr: lrArb,
      same: fc.boolean(),
      up: edgy([0.5, 1, 2, 7], 0.25, 20),
      down: fc.option(edgy([0.5, 1, 3], 0.25, 20), { nil: undefined }),
      mode: fc.constantFrom('triangular' as const, 'triangular2' as const, 'expRange' as const),
      gamma: gammaArb,
      cycleMomentum: fc.boolean(),
      baseMomentum: edgy([0, 0.8], 0, 0.999999),
      maxMomentum: edgy([0.9, 0.999999], 0, 0.999999),
    }),
    build: (o, c) =>
      new CyclicLR(o, {
        baseLr: c.baseLr,
        maxLr: c.same ? c.baseLr : c.maxLr,
        stepSizeUp: c.up,
        ...(c.down === undefined ? {} : { stepSizeDown: c.down }),
        mode: c.mode,
        gamma: c.gamma,
        cycleMomentum: c.cycleMomentum,
        baseMomentum: c.baseMomentum,
        maxMomentum: c.maxMomentum,
      }),
    steps: (c) => Math.ceil(3 * (c.up + (c.down ?? c.up))) + c.extra,
  }),
  sweep({
    name: 'OneCycleLR for its totalSteps optimizer steps, any pctStart (phases of no length included)',
    arb: fc.record({
      ...base,
      maxLr: lrArb,
      totalSteps: fc.integer({ min: 1, max: 150 }),
      pct: fc.oneof(fc.constantFrom('1/N', '(N+1)/2N', 0, 0.3, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true })),
      annealStrategy: fc.constantFrom('cos' as const, 'linear' as const),
      threePhase: fc.boolean(),
      // ≥ 1, so every lr stays ≤ maxLr ≤ 10 (above that AdamW's decoupled decay diverges, which is not the scheduler's doing).
      divFactor: edgy([1, 25, 1e4], 1, 1e6),
      finalDivFactor: edgy([1, 1e4, 1e12], 1, 1e12),
      cycleMomentum: fc.boolean(),
    }),
    build: (o, c) => {
      const N = c.totalSteps;
      const pctStart = c.pct === '1/N' ? 1 / N : c.pct === '(N+1)/2N' ? (N + 1) / (2 * N) : (c.pct as number);
      return new OneCycleLR(o, { maxLr: c.maxLr, totalSteps: N, pctStart, annealStrategy: c.annealStrategy, threePhase: c.threePhase, divFactor: c.divFactor, finalDivFactor: c.finalDivFactor, cycleMomentum: c.cycleMomentum });
    },
    // The optimizer steps after construction and after each of N − 1 scheduler steps: the cycle's N steps.
    steps: (c) => c.totalSteps - 1,
  }),
  sweep({
    name: 'ReduceLROnPlateau down to minLr 0 on flat, rising and noisy metrics',
    arb: fc.record({
      ...base,
      factor: edgy([0, 1e-300, 0.1, 0.5], 0, 0.999),
      minLr: edgy([0, 0, 1e-12], 0, 0.01),
      patience: fc.integer({ min: 0, max: 3 }),
      cooldown: fc.integer({ min: 0, max: 2 }),
      eps: edgy([0, 1e-8], 0, 1e-3),
      metric: fc.constantFrom('flat', 'rising', 'noisy'),
    }),
    build: (o, c) => new ReduceLROnPlateau(o, { factor: c.factor, minLr: c.minLr, patience: c.patience, cooldown: c.cooldown, eps: c.eps }),
    steps: (c) => 40 + c.extra,
    metric: (c) => (k) => (c.metric === 'flat' ? 1 : c.metric === 'rising' ? k : Math.sin(k)),
  }),
  sweep({
    name: 'SequentialLR of two or three edge schedulers',
    arb: fc.record({ ...base, children: fc.array(childArb(false), { minLength: 1, maxLength: 3 }), gaps: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 2, maxLength: 2 }) }),
    build: (o, c) => {
      const milestones = c.children.slice(1).map((_, i) => c.gaps.slice(0, i + 1).reduce((a, b) => a + b, 0));
      return new SequentialLR(o, { schedulers: c.children.map((d) => child(o, d)), milestones });
    },
    steps: (c) => 40 + c.extra,
  }),
  sweep({
    name: 'ChainedScheduler of one to three edge schedulers',
    arb: fc.record({ ...base, children: fc.array(childArb(true), { minLength: 1, maxLength: 3 }) }),
    build: (o, c) => new ChainedScheduler(c.children.map((d) => child(o, d))),
    steps: (c) => 40 + c.extra,
  }),
];

for (const s of SWEEPS) {
  test(`${s.name}: generated configurations train past the end (${RUNS} runs)`, (t) => {
    fc.assert(
      fc.property(s.arb, (c) => {
        const opt = makeOptimizer(c.kind, c.lrs);
        const trace = train(opt, stepOf(s.build(opt, c), s.metric?.(c)), s.steps(c));
        if (trace.problem) throw new Error(trace.problem);
        const bad = s.verify?.(c, trace.lrs);
        if (bad) throw new Error(bad);
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
    t.pass();
  });
}

test(`LinearLR with endFactor 0: generated configurations equal PyTorch's recursion, residues settled to 0 (${RUNS} runs)`, (t) => {
  fc.assert(
    fc.property(
      fc.record({ kind: kindArb, lr: edgy([1e-8, 0.1, 1], 1e-12, 10), startFactor: factorArb, totalIters: fc.integer({ min: 1, max: 300 }), extra: fc.integer({ min: 1, max: 50 }) }),
      (c) => {
        const opt = makeOptimizer(c.kind, [c.lr]);
        const steps = c.totalIters + c.extra;
        const trace = train(opt, stepOf(new LinearLR(opt, { startFactor: c.startFactor, endFactor: 0, totalIters: c.totalIters })), steps);
        if (trace.problem) throw new Error(trace.problem);
        const torch = torchLinearLr(c.lr, c.startFactor, 0, c.totalIters, steps);
        const bad = followsTorch(column(trace.lrs), torch, c.lr);
        if (bad) throw new Error(bad);
        if (!column(trace.lrs).slice(c.totalIters).every((x) => x <= 1e-12 * c.lr)) throw new Error('the end is not 0 up to rounding');
      },
    ),
    { numRuns: RUNS, includeErrorInReport: true },
  );
  t.pass();
});

test(`OneCycleLR's step past the end: finite, ≥ 0 with 'cos', PyTorch's extrapolation with 'linear', then a RangeError (${RUNS} runs)`, (t) => {
  fc.assert(
    fc.property(
      fc.record({ maxLr: edgy([0.1, 1], 1e-6, 10), totalSteps: fc.integer({ min: 1, max: 100 }), pctStart: edgy([0, 0.3, 1], 0, 1), annealStrategy: fc.constantFrom('cos' as const, 'linear' as const), threePhase: fc.boolean() }),
      (c) => {
        const opt = makeOptimizer('SGD', [0.1]);
        const s = new OneCycleLR(opt, c);
        const f = schedules.oneCycle(c);
        for (let k = 0; k < c.totalSteps; k++) s.step();
        const last = s.getLastLr()[0]!;
        if (!Number.isFinite(last)) throw new Error(`lr ${last} at totalSteps`);
        if (c.annealStrategy === 'cos' && last < 0) throw new Error(`cos lr ${last} < 0 at totalSteps`);
        if (!Object.is(last, isResidue(f(c.totalSteps), c.maxLr) ? 0 : f(c.totalSteps))) {
          throw new Error(`class ${last} and pure schedule ${f(c.totalSteps)} differ`);
        }
        try {
          s.step();
        } catch (e) {
          if (e instanceof RangeError && /^OneCycleLR: tried to step/.test(e.message)) return;
          throw e;
        }
        throw new Error('a step past totalSteps did not throw');
      },
    ),
    { numRuns: RUNS, includeErrorInReport: true },
  );
  t.pass();
});
