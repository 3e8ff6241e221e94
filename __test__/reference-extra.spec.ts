/**
 * RMSprop, Adagrad, RAdam, NAdam, Adamax and Adadelta: the native kernels against the plain
 * TypeScript reference (`__test__/oracles/torch-extra.ts`), bit for bit (`Object.is` per element, so
 * NaN equals NaN and 0 differs from -0), on seeded random scenarios: lengths around the SIMD
 * widths and one above the parallel threshold that is not a chunk multiple, random
 * hyperparameters and flags, param group splits, lr changes between steps and null grads.
 * Plus invariants (lr = 0 changes nothing; thread count does not matter; RAdam's un-rectified
 * steps ignore eps; Adagrad's state exists before the first step), stateDict round trips through
 * JSON that continue bit for bit, and option errors that name the option and change nothing.
 */
import test, { type ExecutionContext } from 'ava';
import {
  Adadelta,
  ADADELTA_DEFAULTS,
  Adagrad,
  ADAGRAD_DEFAULTS,
  Adamax,
  ADAMAX_DEFAULTS,
  getNumThreads,
  NAdam,
  NADAM_DEFAULTS,
  Parameter,
  RAdam,
  RADAM_DEFAULTS,
  RMSprop,
  RMSPROP_DEFAULTS,
  setNumThreads,
  type AdadeltaOptions,
  type AdagradOptions,
  type AdamaxOptions,
  type NAdamOptions,
  type Optimizer,
  type ParamStateEntry,
  type RAdamOptions,
  type RMSpropOptions,
} from '../ts/index.js';
import {
  adadeltaReference,
  adagradInitialState,
  adagradReference,
  adamaxReference,
  nadamReference,
  radamReference,
  rmspropReference,
} from './oracles/torch-extra.js';
import { addLongTensors, expectInitial, fixScenario, runSteps, scenarioParams, type ScenarioBase } from './helpers/scenario.js';
import { decode, firstDiff, stateDiff } from './helpers/compare.js';
import { Rng, values } from './helpers/data.js';

type Kind = 'RMSprop' | 'Adagrad' | 'RAdam' | 'NAdam' | 'Adamax' | 'Adadelta';
type Options = RMSpropOptions & AdagradOptions & RAdamOptions & NAdamOptions & AdamaxOptions & AdadeltaOptions;
/** A reference state: step, buffers, and NAdam's scalar muProduct. */
type RefState = { step: number } & { [k: string]: number | Float32Array | undefined };
type Reference = (ps: Float32Array[], gs: Array<Float32Array | null>, st: Array<RefState | undefined>, o: never) => void;

interface Spec {
  ctor: new (params: unknown, options?: unknown) => Optimizer<{ lr: number }>;
  defaults: Readonly<Record<string, unknown>>;
  reference: Reference;
  /** Random group options of this optimizer. */
  options(r: Rng): Options;
  /** State PyTorch creates before the first step (Adagrad), or undefined. */
  initial?: (length: number, o: never) => RefState;
}

const KINDS: readonly Kind[] = ['RMSprop', 'Adagrad', 'RAdam', 'NAdam', 'Adamax', 'Adadelta'];
const SEEDS = 30;

function randomLr(r: Rng): number {
  return r.bool(0.05) ? 0 : r.logUniform(-4, -0.5);
}
function randomEps(r: Rng, typical: number): number {
  return r.bool(0.05) ? 0 : r.pick([typical, r.logUniform(-10, -3)]);
}
function randomDecay(r: Rng): number {
  return r.bool(0.4) ? 0 : r.logUniform(-4, -0.3);
}
/** β1 > 0.5 and <= 0.5 take ATen's two lerp forms; β2 = 0.9 rectifies RAdam from step 6. */
function randomBetas(r: Rng): [number, number] {
  return [r.pick([0, 0.5, 0.8, 0.9, r.uniform(0, 1)]), r.pick([0, 0.5, 0.9, 0.99, 0.999, r.uniform(0, 1)])];
}

const SPECS: Record<Kind, Spec> = {
  RMSprop: {
    ctor: RMSprop as unknown as Spec['ctor'],
    defaults: RMSPROP_DEFAULTS,
    reference: rmspropReference as unknown as Reference,
    // alpha > 0.5 and <= 0.5 take the two lerp forms of the centered average
    options: (r) => ({
      lr: randomLr(r),
      alpha: r.pick([0, 0.3, 0.5, 0.9, 0.99, r.uniform(0, 1)]),
      eps: randomEps(r, 1e-8),
      weightDecay: randomDecay(r),
      momentum: r.pick([0, 0, 0.5, 0.9, r.uniform(0, 1)]),
      centered: r.bool(0.5),
      maximize: r.bool(0.3),
    }),
  },
  Adagrad: {
    ctor: Adagrad as unknown as Spec['ctor'],
    defaults: ADAGRAD_DEFAULTS,
    reference: adagradReference as unknown as Reference,
    options: (r) => ({
      lr: randomLr(r),
      lrDecay: r.pick([0, 0, 0.01, r.uniform(0, 1)]),
      weightDecay: randomDecay(r),
      initialAccumulatorValue: r.pick([0, 0, 0.1, r.uniform(0, 2)]),
      eps: randomEps(r, 1e-10),
      maximize: r.bool(0.3),
    }),
    initial: adagradInitialState as unknown as Spec['initial'],
  },
  RAdam: {
    ctor: RAdam as unknown as Spec['ctor'],
    defaults: RADAM_DEFAULTS,
    reference: radamReference as unknown as Reference,
    options: (r) => ({
      lr: randomLr(r),
      betas: randomBetas(r),
      eps: randomEps(r, 1e-8),
      weightDecay: randomDecay(r),
      decoupledWeightDecay: r.bool(0.5),
      maximize: r.bool(0.3),
    }),
  },
  NAdam: {
    ctor: NAdam as unknown as Spec['ctor'],
    defaults: NADAM_DEFAULTS,
    reference: nadamReference as unknown as Reference,
    options: (r) => ({
      lr: randomLr(r),
      betas: randomBetas(r),
      eps: randomEps(r, 1e-8),
      weightDecay: randomDecay(r),
      momentumDecay: r.pick([4e-3, 4e-3, 0, 0.1, r.uniform(0, 2)]),
      decoupledWeightDecay: r.bool(0.5),
      maximize: r.bool(0.3),
    }),
  },
  Adamax: {
    ctor: Adamax as unknown as Spec['ctor'],
    defaults: ADAMAX_DEFAULTS,
    reference: adamaxReference as unknown as Reference,
    options: (r) => ({ lr: randomLr(r), betas: randomBetas(r), eps: randomEps(r, 1e-8), weightDecay: randomDecay(r), maximize: r.bool(0.3) }),
  },
  Adadelta: {
    ctor: Adadelta as unknown as Spec['ctor'],
    defaults: ADADELTA_DEFAULTS,
    reference: adadeltaReference as unknown as Reference,
    options: (r) => ({
      lr: r.bool(0.05) ? 0 : r.logUniform(-3, 0.5),
      rho: r.pick([0, 0.5, 0.9, 0.99, 1, r.uniform(0, 1)]),
      eps: randomEps(r, 1e-6),
      weightDecay: randomDecay(r),
      maximize: r.bool(0.3),
    }),
  },
};

/** A reproducible run: initial data, groups, and per step the lrs and grads. */
interface Scenario extends ScenarioBase<Options> {
  kind: Kind;
}

function construct(sc: Scenario, params: Parameter[]): Optimizer<{ lr: number }> {
  return new SPECS[sc.kind].ctor(sc.groups.map((g) => ({ params: g.members.map((j) => params[j]!), ...g.options })));
}

/** The difference between a native state entry and a reference state, or null. */
function entryDiff(got: ParamStateEntry | undefined, want: RefState | undefined): string | null {
  if (!got || !want) return got || want ? `native state ${got ? 'present' : 'absent'}, reference state ${want ? 'present' : 'absent'}` : null;
  const names = (o: object) => Object.keys(o).filter((k) => (o as Record<string, unknown>)[k] !== undefined).sort().join(',');
  if (names(got) !== names(want)) return `native state [${names(got)}] vs reference [${names(want)}]`;
  for (const [k, v] of Object.entries(want)) {
    if (v === undefined) continue;
    if (typeof v === 'number') {
      if (!Object.is(got[k], v)) return `${k}: native ${String(got[k])} vs reference ${v}`;
    } else {
      const d = firstDiff(decode(got[k]!), v);
      if (d) return `${k}: ${d}`;
    }
  }
  return null;
}

/** Steps the native optimizer and the reference side by side; returns the first difference. */
function runBoth(sc: Scenario): string | null {
  const spec = SPECS[sc.kind];
  const params = sc.init.map((d, j) => new Parameter(d.slice(), { name: `p${j}` }));
  const ref = sc.init.map((d) => d.slice());
  const opt = construct(sc, params);
  const refOptions = sc.groups.map((g) => ({ ...spec.defaults, ...g.options }));
  const refState: Array<RefState | undefined> = sc.init.map(() => undefined);
  if (spec.initial) sc.groups.forEach((g, gi) => g.members.forEach((j) => (refState[j] = spec.initial!(sc.init[j]!.length, refOptions[gi] as never))));
  for (let t = 1; t <= sc.steps; t++) {
    sc.groups.forEach((_, gi) => {
      const lr = sc.lr?.(t, gi);
      if (lr === undefined) return;
      opt.paramGroups[gi]!.lr = lr;
      refOptions[gi]!.lr = lr;
    });
    const grads = sc.init.map((_, j) => sc.grad(t, j));
    params.forEach((p, j) => (p.grad = grads[j] ?? null));
    opt.step();
    sc.groups.forEach((g, gi) => {
      const st = g.members.map((j) => refState[j]);
      spec.reference(
        g.members.map((j) => ref[j]!),
        g.members.map((j) => grads[j] ?? null),
        st,
        refOptions[gi] as never,
      );
      g.members.forEach((j, k) => (refState[j] = st[k]));
    });
    for (let j = 0; j < params.length; j++) {
      const d = firstDiff(params[j]!.data, ref[j]!);
      if (d) return `after step ${t}, tensor ${j} (length ${ref[j]!.length}): ${d}`;
    }
  }
  const sd = opt.stateDict().state;
  for (let j = 0; j < params.length; j++) {
    const d = entryDiff(sd[`p${j}`], refState[j]);
    if (d) return `tensor ${j}: ${d}`;
  }
  return null;
}

function describe(sc: Scenario): string {
  return JSON.stringify({ kind: sc.kind, lengths: sc.init.map((d) => d.length), steps: sc.steps, groups: sc.groups });
}

function checkBoth(t: ExecutionContext, sc: Scenario): void {
  const diff = runBoth(sc);
  if (diff) t.fail(`${diff}\nscenario: ${describe(sc)}`);
  else t.pass();
}

// ---------------------------------------------------------------- random scenarios

const LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1023, 1025];

/** A length above the parallel threshold (32768 elements) that is not a multiple of the chunk. */
function bigLength(r: Rng): number {
  for (;;) {
    const n = r.int(32769, 60000);
    if (n % 8192 !== 0) return n;
  }
}

/** Random floats with, sometimes, a few exact zeros of both signs. */
function randomData(r: Rng, n: number, scale: number): Float32Array {
  const d = r.floats(n, scale);
  if (n > 0 && r.bool(0.3)) for (let k = 0; k < 3; k++) d[r.int(0, n - 1)] = r.bool() ? 0 : -0;
  return d;
}

function randomScenario(kind: Kind, seed: number, lengths?: number[]): Scenario {
  const r = new Rng(seed);
  if (!lengths) {
    const count = r.int(1, 5);
    lengths = Array.from({ length: count }, () => r.pick(LENGTHS));
    if (r.bool(0.2)) lengths[r.int(0, count - 1)] = bigLength(r);
  }
  const count = lengths.length;
  const pScale = r.pick([1, 1e-3, 100]);
  const gScale = r.pick([1, 1e-4, 1e3]);
  const init = lengths.map((n) => randomData(r, n, pScale));
  const split = count >= 2 && r.bool(0.5) ? r.int(1, count - 1) : count;
  const all = lengths.map((_, j) => j);
  const spec = SPECS[kind];
  const groups = [{ members: all.slice(0, split), options: spec.options(r) }];
  if (split < count) groups.push({ members: all.slice(split), options: spec.options(r) });
  const nulls = r.bool(0.5);
  const schedule = r.bool(0.4);
  return {
    kind,
    init,
    groups,
    steps: r.int(3, 10),
    grad: (_t, j) => (nulls && r.bool(0.2) ? null : randomData(r, lengths[j]!, gScale)),
    lr: schedule ? () => (kind === 'Adadelta' ? r.logUniform(-3, 0.5) : randomLr(r)) : undefined,
  };
}

const matchesReference = test.macro({
  exec(t, kind: Kind, seed: number) {
    checkBoth(t, randomScenario(kind, seed));
  },
  title: (_p, kind: Kind, seed: number) => `${kind} equals the TypeScript reference bit for bit (random scenario ${seed})`,
});

for (const kind of KINDS) {
  for (let s = 1; s <= SEEDS; s++) test(matchesReference, kind, s * 7919 + kind.length * 31);
  test(`${kind} equals the TypeScript reference bit for bit on every awkward length at once, one of them multithreaded`, (t) => {
    checkBoth(t, randomScenario(kind, 4096 + kind.length, [...LENGTHS, 40001]));
  });
}

for (const kind of KINDS) {
  test(`${kind} equals the TypeScript reference bit for bit when gradients hold NaN and infinities`, (t) => {
    for (let s = 1; s <= 4; s++) {
      const sc = randomScenario(kind, 555 + s, [9, 17, 1025]);
      const inner = sc.grad;
      sc.grad = (step, j) => {
        const g = inner(step, j);
        if (g && step === 2) [g[1], g[3], g[5]] = [NaN, Infinity, -Infinity];
        return g;
      };
      checkBoth(t, sc);
    }
  });
}

// ---------------------------------------------------------------- invariants

/** Runs a scenario natively; returns the final parameters and state dict. */
function runNative(sc: Scenario) {
  const params = scenarioParams(sc);
  const opt = construct(sc, params);
  runSteps(sc, params, opt);
  return { data: params.map((p) => p.data), state: opt.stateDict().state };
}

/** A random scenario without -0 in the data and with eps > 0, its grads fixed up front. */
function fixedScenario(kind: Kind, seed: number, patch: (o: Options) => Options): Scenario {
  return fixScenario(randomScenario(kind, seed), patch);
}

for (const kind of KINDS) {
  test(`${kind} with lr 0 leaves the parameters unchanged, whatever the options`, (t) => {
    for (let s = 1; s <= 15; s++) {
      const sc = fixedScenario(kind, 31337 + s, (o) => ({ ...o, lr: 0 }));
      const { data } = runNative(sc);
      expectInitial(t, sc, data, () => describe(sc));
    }
    t.pass();
  });
}

test('native results do not depend on the thread count', (t) => {
  const before = getNumThreads();
  try {
    for (const kind of KINDS) {
      const sc = fixedScenario(kind, 99, (o) => o);
      addLongTensors(sc);
      setNumThreads(1);
      const one = runNative(sc);
      setNumThreads(3);
      const three = runNative(sc);
      one.data.forEach((d, j) => {
        const diff = firstDiff(three.data[j]!, d);
        if (diff) t.fail(`${kind} tensor ${j}: ${diff}`);
      });
      const diff = stateDiff(three.state, one.state);
      if (diff) t.fail(`${kind}: ${diff}`);
    }
    t.pass();
  } finally {
    setNumThreads(before);
  }
});

test('RAdam with beta2 0.999 takes un-rectified momentum steps until step 5, so eps matters only from step 6', (t) => {
  const run = (eps: number, steps: number) => {
    const p = new Parameter(values(3, 0, 0, 100));
    const opt = new RAdam([p], { lr: 0.01, eps });
    for (let s = 1; s <= steps; s++) {
      p.grad = values(3, s, 0, 100);
      opt.step();
    }
    return p.data;
  };
  t.is(firstDiff(run(1e-8, 5), run(1, 5)), null);
  t.not(firstDiff(run(1e-8, 6), run(1, 6)), null);
});

test('NAdam keeps muProduct per parameter, advancing only on steps with a gradient', (t) => {
  const a = new Parameter(new Float32Array([1, 2]), { name: 'a' });
  const b = new Parameter(new Float32Array([3]), { name: 'b' });
  const opt = new NAdam([a, b]);
  const mu = (s: number) => 0.9 * (1 - 0.5 * 0.96 ** (s * 4e-3));
  const f = Math.fround;
  a.grad = new Float32Array([0.1, 0.2]);
  b.grad = new Float32Array([0.3]);
  opt.step();
  b.grad = null;
  opt.step();
  const st = opt.stateDict().state;
  t.is(st.a!.muProduct, f(f(f(1) * f(mu(1))) * f(mu(2))));
  t.is(st.b!.muProduct, f(f(1) * f(mu(1))));
  t.is(st.b!.step, 1);
});

test('Adagrad creates its state before the first step, with each group its own initialAccumulatorValue', (t) => {
  const a = new Parameter(new Float32Array(3), { name: 'a' });
  const b = new Parameter(new Float32Array(2), { name: 'b' });
  const c = new Parameter(new Float32Array(1), { name: 'c' });
  const opt = new Adagrad([{ params: [a] }, { params: [b], initialAccumulatorValue: 0.5 }], { initialAccumulatorValue: 0.1 });
  opt.addParamGroup({ params: [c], initialAccumulatorValue: 2 });
  t.deepEqual(opt.stateDict().state, {
    a: { step: 0, sum: Array.from(Float32Array.of(0.1, 0.1, 0.1)) },
    b: { step: 0, sum: [0.5, 0.5] },
    c: { step: 0, sum: [2] },
  });
  a.grad = new Float32Array([1, 1, 1]);
  b.grad = null;
  c.grad = null;
  opt.step();
  const st = opt.stateDict().state;
  t.is(st.a!.step, 1);
  t.deepEqual(st.a!.sum, Array.from(Float32Array.of(1.1, 1.1, 1.1)));
  t.deepEqual(st.c, { step: 0, sum: [2] });
});

test('RMSprop creates momentumBuffer and gradAvg only when momentum and centering ask for them', (t) => {
  const p = new Parameter(values(1, 0, 0, 5), { name: 'w' });
  const opt = new RMSprop([p], { lr: 0.01 });
  p.grad = values(1, 1, 0, 5);
  opt.step();
  t.deepEqual(Object.keys(opt.stateDict().state.w!).sort(), ['squareAvg', 'step']);
  opt.paramGroups[0]!.momentum = 0.9;
  opt.paramGroups[0]!.centered = true;
  opt.step();
  t.deepEqual(Object.keys(opt.stateDict().state.w!).sort(), ['gradAvg', 'momentumBuffer', 'squareAvg', 'step']);
});

// ---------------------------------------------------------------- state dict round trips

for (const kind of KINDS) {
  test(`${kind} stateDict through JSON, loaded into a new optimizer, continues bit for bit`, (t) => {
    for (let s = 1; s <= 4; s++) {
      const sc = fixedScenario(kind, 2024 + 17 * s, (o) => o);
      sc.steps = Math.max(sc.steps, 4);
      const grads = Array.from({ length: sc.steps }, (_, k) => sc.init.map((n, j) => (k === 1 && j === 0 ? null : values(s, k + 1, j, n.length))));
      sc.grad = (step, j) => grads[step - 1]![j]!;
      const whole = runNative(sc);
      const cut = Math.floor(sc.steps / 2);
      const first = sc.init.map((d, j) => new Parameter(d.slice(), { name: `p${j}` }));
      const optA = construct(sc, first);
      for (let k = 1; k <= cut; k++) {
        first.forEach((p, j) => (p.grad = sc.grad(k, j)));
        optA.step();
      }
      const saved = JSON.parse(JSON.stringify(optA.stateDict())) as ReturnType<typeof optA.stateDict>;
      const second = first.map((p, j) => new Parameter(p.data.slice(), { name: `p${j}` }));
      const optB = construct(sc, second);
      optB.loadStateDict(saved);
      t.is(stateDiff(optB.stateDict().state, optA.stateDict().state), null, 'loaded state equals the saved one');
      for (let k = cut + 1; k <= sc.steps; k++) {
        second.forEach((p, j) => (p.grad = sc.grad(k, j)));
        optB.step();
      }
      second.forEach((p, j) => t.is(firstDiff(p.data, whole.data[j]!), null, `tensor ${j}, scenario ${describe(sc)}`));
      t.is(stateDiff(optB.stateDict().state, whole.state), null, `state, scenario ${describe(sc)}`);
    }
  });
}

// ---------------------------------------------------------------- errors

/** [optimizer, options, error class, expected message]. */
const BAD_OPTIONS: ReadonlyArray<readonly [Kind, Record<string, unknown>, 'TypeError' | 'RangeError', string]> = [
  ['RMSprop', { lr: -1 }, 'RangeError', 'RMSprop: expected lr to be a finite number >= 0, received -1'],
  ['RMSprop', { alpha: -0.5 }, 'RangeError', 'RMSprop: expected alpha to be a finite number >= 0, received -0.5'],
  ['RMSprop', { eps: -1e-8 }, 'RangeError', 'RMSprop: expected eps to be a finite number >= 0, received -1e-8'],
  ['RMSprop', { momentum: -0.1 }, 'RangeError', 'RMSprop: expected momentum to be a finite number >= 0, received -0.1'],
  ['RMSprop', { weightDecay: NaN }, 'RangeError', 'RMSprop: expected weightDecay to be a finite number >= 0, received NaN'],
  ['RMSprop', { centered: 'yes' }, 'TypeError', 'RMSprop: expected centered to be a boolean, received "yes"'],
  ['RMSprop', { amsgrad: true }, 'TypeError', 'RMSprop: unknown option "amsgrad"'],
  ['Adagrad', { lrDecay: -1 }, 'RangeError', 'Adagrad: expected lrDecay to be a finite number >= 0, received -1'],
  ['Adagrad', { initialAccumulatorValue: -0.1 }, 'RangeError', 'Adagrad: expected initialAccumulatorValue to be a finite number >= 0, received -0.1'],
  ['Adagrad', { eps: Infinity }, 'RangeError', 'Adagrad: expected eps to be a finite number >= 0, received Infinity'],
  ['Adagrad', { maximize: 1 }, 'TypeError', 'Adagrad: expected maximize to be a boolean, received 1'],
  ['RAdam', { betas: [1, 0.999] }, 'RangeError', 'RAdam: expected betas[0] to be a finite number >= 0 and < 1, received 1'],
  ['RAdam', { betas: [0.9] }, 'TypeError', 'RAdam: expected betas to be a pair [beta1, beta2], received [0.9]'],
  ['RAdam', { decoupledWeightDecay: 'true' }, 'TypeError', 'RAdam: expected decoupledWeightDecay to be a boolean, received "true"'],
  ['RAdam', { weightDecay: -0.01 }, 'RangeError', 'RAdam: expected weightDecay to be a finite number >= 0, received -0.01'],
  ['NAdam', { momentumDecay: -4e-3 }, 'RangeError', 'NAdam: expected momentumDecay to be a finite number >= 0, received -0.004'],
  ['NAdam', { betas: [0.9, -0.1] }, 'RangeError', 'NAdam: expected betas[1] to be a finite number >= 0 and < 1, received -0.1'],
  ['NAdam', { lr: '1e-3' }, 'TypeError', 'NAdam: expected lr to be a finite number >= 0, received "1e-3"'],
  ['Adamax', { betas: [0.9, 1] }, 'RangeError', 'Adamax: expected betas[1] to be a finite number >= 0 and < 1, received 1'],
  ['Adamax', { eps: -1 }, 'RangeError', 'Adamax: expected eps to be a finite number >= 0, received -1'],
  ['Adadelta', { rho: 1.5 }, 'RangeError', 'Adadelta: expected rho to be a finite number >= 0 and <= 1, received 1.5'],
  ['Adadelta', { rho: -0.1 }, 'RangeError', 'Adadelta: expected rho to be a finite number >= 0 and <= 1, received -0.1'],
  ['Adadelta', { lr: -1 }, 'RangeError', 'Adadelta: expected lr to be a finite number >= 0, received -1'],
];

for (const [kind, options, cls, message] of BAD_OPTIONS) {
  test(`${kind} rejects ${JSON.stringify(options, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))} with a ${cls}`, (t) => {
    const p = new Parameter(new Float32Array([1, 2, 3]));
    const err = t.throws(() => new SPECS[kind].ctor([p], options));
    t.is(err!.constructor.name, cls);
    t.true(err!.message.startsWith(message), err!.message);
    t.deepEqual(Array.from(p.data), [1, 2, 3]);
  });
}

/** A bad value for a group option of each optimizer, set between steps. */
const BAD_GROUP_VALUE: Record<Kind, [string, unknown]> = {
  RMSprop: ['alpha', -1],
  Adagrad: ['lrDecay', -1],
  RAdam: ['betas', [0.9, 1.5]],
  NAdam: ['momentumDecay', -1],
  Adamax: ['weightDecay', -1],
  Adadelta: ['rho', 2],
};

for (const kind of KINDS) {
  test(`${kind} with a bad option in param group 1 throws on step, naming it, and changes nothing`, (t) => {
    const a = new Parameter(values(8, 0, 0, 9), { name: 'a' });
    const b = new Parameter(values(8, 0, 1, 40001), { name: 'b' });
    const opt = new SPECS[kind].ctor([{ params: [a] }, { params: [b] }]);
    for (let s = 1; s <= 2; s++) {
      a.grad = values(8, s, 0, 9);
      b.grad = values(8, s, 1, 40001);
      opt.step();
    }
    const before = { a: a.data.slice(), b: b.data.slice(), state: opt.stateDict().state };
    const [key, value] = BAD_GROUP_VALUE[kind];
    (opt.paramGroups[1] as Record<string, unknown>)[key] = value;
    const err = t.throws(() => opt.step());
    t.true(err instanceof RangeError, String(err));
    t.regex(err!.message, new RegExp(`^${kind}: expected ${key.replace(/[[\]]/g, '\\$&')}(\\[1\\])? \\(param group 1\\)`));
    t.is(firstDiff(a.data, before.a), null);
    t.is(firstDiff(b.data, before.b), null);
    t.is(stateDiff(opt.stateDict().state, before.state), null);
  });
}

test('NAdam.loadStateDict rejects a muProduct that is not a finite number and changes nothing', (t) => {
  const p = new Parameter(values(9, 0, 0, 4), { name: 'w' });
  const opt = new NAdam([p]);
  p.grad = values(9, 1, 0, 4);
  opt.step();
  const sd = opt.stateDict();
  const before = JSON.stringify(sd);
  const bad = JSON.parse(before) as typeof sd;
  bad.state.w!.muProduct = 'x' as unknown as number;
  bad.state.w!.step = 7;
  const err = t.throws(() => opt.loadStateDict(bad), { instanceOf: TypeError });
  t.is(err!.message, 'NAdam.loadStateDict: expected state["w"].muProduct to be a finite number, received "x"');
  bad.state.w!.muProduct = Infinity;
  t.throws(() => opt.loadStateDict(bad), { instanceOf: RangeError });
  t.is(JSON.stringify(opt.stateDict()), before);
});

test('Adagrad.loadStateDict rejects a sum of the wrong length and changes nothing', (t) => {
  const p = new Parameter(values(9, 0, 0, 4), { name: 'w' });
  const opt = new Adagrad([p]);
  const before = JSON.stringify(opt.stateDict());
  const bad = JSON.parse(before) as ReturnType<typeof opt.stateDict>;
  bad.state.w!.sum = [1, 2, 3];
  const err = t.throws(() => opt.loadStateDict(bad), { instanceOf: RangeError });
  t.is(err!.message, 'Adagrad.loadStateDict: expected state["w"].sum to have length 4, received 3');
  t.is(JSON.stringify(opt.stateDict()), before);
});
