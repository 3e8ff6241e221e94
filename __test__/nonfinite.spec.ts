/**
 * `skipNonFinite`: a step whose gradients hold a NaN or an infinity anywhere is skipped, leaving
 * every parameter and the whole state dict bit-identical, and the run then continues exactly as
 * if the step had never happened. Checked for every optimizer class exported by `ts/index.ts`
 * (SGD, Adam, AdamW and whatever else is exported when the suite runs), on tensors of 1 to 40001
 * elements in two param groups, in the multithreaded path. Without the option, PyTorch's
 * behaviour: the step is applied and the NaN reaches the parameters (or, for Lion, whose
 * sign(NaN) = 0 as torch.sign, its momentum).
 */
import test from 'ava';
import * as ferro from '../ts/index.js';
import { GradNormMonitor, getNumThreads, Optimizer, Parameter, setNumThreads, type GradNormEvent, type OptimizerStateDict } from '../ts/index.js';
import { FIXTURE_LENGTHS, fixtureGrad, values } from './helpers/data.js';

type AnyOptimizer = Optimizer<object>;
type Ctor = new (params: unknown, options?: object) => AnyOptimizer;

/** Every optimizer class exported by the package, by export name. */
const OPTIMIZERS: Array<[string, Ctor]> = Object.entries(ferro)
  .filter(([, v]) => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof Optimizer)
  .map(([k, v]) => [k, v as unknown as Ctor] as [string, Ctor])
  .sort(([a], [b]) => a.localeCompare(b));

/** Options giving every class some state to keep (momentum, weight decay). */
const OPTIONS: Record<string, object> = {
  SGD: { lr: 0.01, momentum: 0.9, weightDecay: 0.01 },
  Adam: { lr: 0.01, weightDecay: 0.01 },
  AdamW: { lr: 0.01, weightDecay: 0.01 },
};
/** Optimizers whose update of an element depends only on that element's history. */
const ELEMENTWISE = new Set(['SGD', 'Adam', 'AdamW']);

const SEED = 4242;
const LENGTHS = FIXTURE_LENGTHS; // [1, 7, 17, 1025, 40001]: 41051 elements, past the parallel threshold

function construct(name: string, Ctor: Ctor, params: Parameter[], extra: object = {}): AnyOptimizer {
  const groups = [{ params: params.slice(0, 3) }, { params: params.slice(3), lr: 0.005 }];
  const options = { ...(OPTIONS[name] ?? { lr: 0.01 }), ...extra };
  try {
    return new Ctor(groups, options);
  } catch (e) {
    // An optimizer without an lr option: its defaults.
    if (OPTIONS[name] === undefined && e instanceof TypeError && /unknown option "lr"/.test(e.message)) {
      return new Ctor([{ params: params.slice(0, 3) }, { params: params.slice(3) }], extra);
    }
    throw e;
  }
}

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

interface Poison {
  label: string;
  tensor: number;
  index: number;
  value: number;
}

const POISONS: Poison[] = [
  { label: 'NaN in the 1-element tensor (group 0)', tensor: 0, index: 0, value: NaN },
  { label: '+Infinity at the last element of the 40001-element tensor (group 1)', tensor: 4, index: 40000, value: Infinity },
  { label: 'NaN at a chunk boundary of the 40001-element tensor (group 1)', tensor: 4, index: 8192, value: NaN },
  { label: '-Infinity in the 1025-element tensor (group 1)', tensor: 3, index: 512, value: -Infinity },
  { label: '-Infinity in the 17-element tensor (group 0)', tensor: 2, index: 16, value: -Infinity },
];

const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const copyData = (params: Parameter[]): Float32Array[] => params.map((p) => p.data.slice());
const sameData = (params: Parameter[], data: Float32Array[]): boolean => params.every((p, j) => Buffer.compare(bytesOf(p.data), bytesOf(data[j]!)) === 0);

/** Deep equality with Object.is on numbers (so NaN equals NaN and 0 differs from -0). */
function sameDeep(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameDeep((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Whether a state dict holds a non-finite number (or its JSON-safe string form). */
function hasNonFinite(v: unknown): boolean {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (typeof v === 'string') return v === 'NaN' || v === 'Infinity' || v === '-Infinity';
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasNonFinite);
  return false;
}

/** A state dict deep-copied (it must not share arrays with the optimizer). */
const stateOf = (opt: AnyOptimizer): OptimizerStateDict => structuredClone(opt.stateDict());

let threadsBefore = 1;
test.before(() => {
  threadsBefore = getNumThreads();
  // At least two threads, so 41051-element steps run in the multithreaded path.
  setNumThreads(Math.max(2, threadsBefore));
});
test.after.always(() => setNumThreads(threadsBefore));

test('the optimizers under test include SGD, Adam and AdamW', (t) => {
  const names = OPTIMIZERS.map(([n]) => n);
  for (const n of ['SGD', 'Adam', 'AdamW']) t.true(names.includes(n), n);
  t.log(`optimizers: ${names.join(', ')}; threads: ${getNumThreads()}`);
});

for (const [name, Ctor] of OPTIMIZERS) {
  test(`${name}: a step with NaN / ±Infinity anywhere is skipped bit-exactly and the run continues as if it never happened`, (t) => {
    // The run that never sees a bad step (without the option: it must not change the arithmetic).
    const refParams = makeParams();
    const ref = construct(name, Ctor, refParams);
    for (const s of [1, 2, 4, 5]) {
      setGrads(refParams, s);
      ref.step();
    }
    const refData = copyData(refParams);
    const refState = stateOf(ref);

    for (const poison of POISONS) {
      const params = makeParams();
      const opt = construct(name, Ctor, params, { skipNonFinite: true });
      t.true(opt.skipNonFinite);
      for (const s of [1, 2]) {
        setGrads(params, s);
        opt.step();
        t.true(opt.lastStepApplied);
      }
      const data = copyData(params);
      const state = stateOf(opt);
      setGrads(params, 3, poison);
      const gradsBefore = params.map((p) => p.grad!.slice());
      opt.step();
      t.false(opt.lastStepApplied, poison.label);
      t.is(opt.skippedSteps, 1);
      t.is(opt.appliedSteps, 2);
      t.true(sameData(params, data), `${poison.label}: parameters changed`);
      t.true(sameDeep(stateOf(opt), state), `${poison.label}: state changed`);
      t.true(
        params.every((p, j) => Buffer.compare(bytesOf(p.grad!), bytesOf(gradsBefore[j]!)) === 0),
        `${poison.label}: gradients changed`,
      );
      // Skipping again is still a no-op.
      opt.step();
      t.is(opt.skippedSteps, 2);
      t.true(sameData(params, data));
      for (const s of [4, 5]) {
        setGrads(params, s);
        opt.step();
        t.true(opt.lastStepApplied);
      }
      t.is(opt.appliedSteps, 4);
      t.is(opt.skippedSteps, 2);
      t.true(sameData(params, refData), `${poison.label}: the continued run differs from the one that never saw the bad step`);
      t.true(sameDeep(stateOf(opt), refState), `${poison.label}: state differs from the run that never saw the bad step`);
    }
  });

  test(`${name}: without skipNonFinite the step is applied and the NaN / Infinity gets in (PyTorch)`, (t) => {
    for (const poison of [POISONS[1]!, POISONS[2]!, POISONS[3]!]) {
      const clean = makeParams();
      const cleanOpt = construct(name, Ctor, clean);
      const params = makeParams();
      const opt = construct(name, Ctor, params);
      t.false(opt.skipNonFinite);
      for (const [ps, o] of [
        [clean, cleanOpt],
        [params, opt],
      ] as const) {
        setGrads(ps, 1);
        o.step();
      }
      setGrads(clean, 2);
      cleanOpt.step();
      setGrads(params, 2, poison);
      opt.step();
      t.true(opt.lastStepApplied);
      t.is(opt.appliedSteps, 2);
      t.is(opt.skippedSteps, 0);
      // The bad value reached the parameters or the state (Lion's sign(NaN) = 0, as torch.sign,
      // keeps its parameters finite but not its momentum).
      t.true(params.some((p) => !p.data.every(Number.isFinite)) || hasNonFinite(opt.stateDict()), `${poison.label}: nothing non-finite anywhere`);
      if (ELEMENTWISE.has(name)) {
        const x = params[poison.tensor]!.data[poison.index]!;
        t.false(Number.isFinite(x), `${poison.label}: parameter is ${x}`);
        if (Number.isNaN(poison.value)) t.true(Number.isNaN(x), `${poison.label}: parameter is ${x}`);
        // Every other element is exactly what it would have been.
        params.forEach((p, j) =>
          p.data.forEach((v, i) => {
            if (j === poison.tensor && i === poison.index) return;
            if (!Object.is(v, clean[j]!.data[i])) t.fail(`${poison.label}: ${p.name}[${i}] is ${v}, expected ${clean[j]!.data[i]}`);
          }),
        );
      }
    }
  });

  test(`${name}: skipNonFinite can be toggled on the live optimizer`, (t) => {
    const params = makeParams();
    const opt = construct(name, Ctor, params);
    setGrads(params, 1);
    opt.step();
    opt.skipNonFinite = true;
    const data = copyData(params);
    const state = stateOf(opt);
    setGrads(params, 2, POISONS[2]);
    opt.step();
    t.false(opt.lastStepApplied);
    t.is(opt.skippedSteps, 1);
    t.true(sameData(params, data));
    t.true(sameDeep(stateOf(opt), state));
    opt.skipNonFinite = false;
    opt.step();
    t.true(opt.lastStepApplied);
    t.is(opt.appliedSteps, 2);
    t.true(!params[4]!.data.every(Number.isFinite) || hasNonFinite(opt.stateDict()));
    if (ELEMENTWISE.has(name)) t.true(Number.isNaN(params[4]!.data[8192]!));
  });
}

test('a bad skipNonFinite value is rejected, in the constructor and at step time, before anything changes', (t) => {
  const params = makeParams();
  for (const [name, Ctor] of OPTIMIZERS) {
    const err = t.throws(() => construct(name, Ctor, params, { skipNonFinite: 'yes' }), { instanceOf: TypeError });
    t.regex(err!.message, new RegExp(`^${name}: expected skipNonFinite to be a boolean, received "yes"$`));
  }
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
