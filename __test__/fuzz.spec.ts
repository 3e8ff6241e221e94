/**
 * Property-based fuzzing of the public API (fast-check). For every generated call:
 *
 * - a rejected call throws exactly a TypeError or RangeError, never a generic V8 error
 *   (`Cannot read properties of undefined`), whose message starts with the class (or function)
 *   and names the argument or option, with the received value where one is involved;
 * - a rejected call leaves every parameter's data and grad (bytes and identity), the param groups
 *   and `stateDict()` bit-identical (a rejected `step()` is also rejected again when repeated);
 * - a call known to be invalid (lr: -1, an unknown option, a detached gradient, ...) is rejected;
 * - an accepted call leaves an optimizer that still steps.
 *
 * Optimizers and schedulers are found generically (exported classes extending `Optimizer` or
 * `LRScheduler`), and their option names are read from their own "unknown option" message, so a
 * new class is fuzzed without touching this file.
 *
 * `FERROPTIM_FUZZ_RUNS=n` runs n cases per property (default: a bounded number, for `npm test`);
 * `FERROPTIM_FUZZ_SEED=s` and `FERROPTIM_FUZZ_PATH=p` replay a failure (fast-check prints both).
 */
import test from 'ava';
import fc from 'fast-check';
import * as api from '../ts/index.js';
import {
  ChainedScheduler,
  GradNormMonitor,
  LRScheduler,
  Lookahead,
  Optimizer,
  Parameter,
  ReduceLROnPlateau,
  SequentialLR,
  SGD,
  Adam,
  StepLR,
  clipGradNorm,
  clipGradValue,
  getTotalNorm,
} from '../ts/index.js';
import {
  Canon,
  NO_VALUE,
  applySdMutation,
  attempt,
  check,
  checkNamed,
  checkRejection,
  dbl,
  describe,
  describeApplied,
  extras,
  fail,
  finiteNumber,
  garbage,
  getPath,
  keyed,
  rejects,
  rejectsCleanly,
  returning,
  scalar,
  sdMutation,
  sparseObject,
  type Applied,
  type Mutation,
  type Path,
  type Rec,
} from './helpers/fuzz.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyOptimizer = Optimizer<any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ctor = new (...args: any[]) => any;


// ---------------------------------------------------------------------------------------------
// Discovery: every exported optimizer and scheduler class, with its option names

/** The option names a constructor accepts, read from its message for an unknown option. */
function probeKeys(make: (options: object) => unknown): string[] {
  try {
    make({ __fuzzProbe__: 0 });
  } catch (e) {
    const m = /unknown option "__fuzzProbe__" \(expected one of (.*)\)$/.exec((e as Error).message);
    if (m) return m[1]!.split(', ');
    throw new Error(`cannot read the option names: ${(e as Error).message}`);
  }
  throw new Error('an unknown option was accepted');
}

interface OptimizerInfo {
  name: string;
  ctor: Ctor;
  /** Constructor option keys (group options plus common ones such as skipNonFinite). */
  keys: string[];
  /** Group options and their defaults. */
  defaults: Rec;
  /** Keys a param group may hold. */
  groupKeys: string[];
}

/**
 * The constructor the properties call: an optimizer with `train()` (Schedule-Free, which starts in
 * eval mode, as the reference does, and refuses to step there) comes out in train mode.
 */
function readyToStep(C: Ctor): Ctor {
  if (typeof (C.prototype as { train?: unknown }).train !== 'function') return C;
  return function (...args: unknown[]) {
    const opt = new C(...args) as { train(): void };
    opt.train();
    return opt;
  } as unknown as Ctor;
}

const OPTIMIZERS: OptimizerInfo[] = Object.entries(api)
  .filter(([, v]) => typeof v === 'function' && (v as Ctor).prototype instanceof Optimizer)
  .map(([name, v]) => {
    const ctor = readyToStep(v as Ctor);
    const one = () => [new Parameter(new Float32Array(2))];
    const defaults = { ...(new ctor(one()) as AnyOptimizer).defaults } as Rec;
    return { name, ctor, keys: probeKeys((o) => new ctor(one(), o)), defaults, groupKeys: ['params', 'initialLr', ...Object.keys(defaults)] };
  });
const OPTIMIZER_NAMES = OPTIMIZERS.map((o) => o.name);
const optimizerInfo = (name: string): OptimizerInfo => OPTIMIZERS.find((o) => o.name === name)!;

/** Schedulers whose first argument is the optimizer and second an options object. */
const SCHEDULERS: Array<{ name: string; ctor: Ctor; keys: string[] }> = Object.entries(api)
  .filter(([, v]) => typeof v === 'function' && ((v as Ctor).prototype instanceof LRScheduler || v === ReduceLROnPlateau))
  .filter(([, v]) => v !== SequentialLR && v !== ChainedScheduler)
  .map(([name, v]) => ({ name, ctor: v as Ctor, keys: probeKeys((o) => new (v as Ctor)(new SGD([new Parameter(new Float32Array(2))], { lr: 0.1 }), o)) }));
const SCHEDULER_NAMES = SCHEDULERS.map((s) => s.name);
const schedulerInfo = (name: string) => SCHEDULERS.find((s) => s.name === name)!;

// ---------------------------------------------------------------------------------------------
// Values


/** The i-th parameter of the case's pool (resolved when the case runs). */
class Ref {
  constructor(readonly i: number) {}
  [fc.toStringMethod](): string {
    return `P${this.i}`;
  }
}

/** A Set of parameters (an iterable that is not an array). */
class SetOf {
  constructor(readonly items: unknown[]) {}
  [fc.toStringMethod](): string {
    return `new Set(${fc.stringify(this.items)})`;
  }
}

/** Replaces Refs and SetOfs by the case's objects, copying plain arrays and objects (own `__proto__` keys kept). */
function resolve(v: unknown, pool: readonly Parameter[]): unknown {
  if (v instanceof Ref) return pool[v.i];
  if (v instanceof SetOf) return new Set(v.items.map((x) => resolve(x, pool)));
  if (Array.isArray(v)) return v.map((x) => resolve(x, pool));
  if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return v;
    const out = proto === null ? Object.create(null) : {};
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: resolve((v as Rec)[k], pool), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}


// ---- optimizer options

const OPTIMIZER_SANE: Record<string, fc.Arbitrary<unknown>> = {
  lr: fc.oneof(fc.constant(0), dbl(1e-4, 0.1)),
  betas: fc.tuple(dbl(0, 0.95), dbl(0.5, 0.999)),
  eps: dbl(1e-8, 1e-3),
  weightDecay: fc.oneof(fc.constant(0), dbl(0, 0.1)),
  momentum: fc.oneof(fc.constant(0), dbl(0, 0.95)),
  dampening: fc.oneof(fc.constant(0), dbl(0, 0.5)),
  nesterov: fc.constant(false),
  alpha: dbl(0.5, 0.999),
  rho: dbl(0.5, 0.99),
  lrDecay: dbl(0, 0.1),
  initialAccumulatorValue: dbl(0, 1),
  momentumDecay: dbl(0, 0.01),
  finalLr: dbl(0.01, 0.5),
  gamma: dbl(1e-4, 0.1),
  clampValue: dbl(1, 10),
  baseLr: fc.constantFrom(null, 0.001, 0.01),
};

function saneOption(info: OptimizerInfo, k: string): fc.Arbitrary<unknown> {
  const def = info.defaults[k];
  if (OPTIMIZER_SANE[k]) return OPTIMIZER_SANE[k]!;
  if (typeof def === 'boolean' || k === 'skipNonFinite') return fc.boolean();
  // Low-precision state has its own tests (lowp.spec.ts); the fuzz's oracles are float32.
  if (k === 'stateDtype') return fc.constantFrom(undefined, 'float32');
  if (typeof def === 'number') return dbl(0, def || 1);
  return fc.constant(def);
}

/** A value for option `k`: sane, garbage, or (for pairs such as betas) an array of any length. */
function optionValue(info: OptimizerInfo, k: string): fc.Arbitrary<unknown> {
  const pairs = Array.isArray(info.defaults[k]) ? [{ weight: 1, arbitrary: fc.array(fc.oneof(dbl(0, 1), scalar), { maxLength: 3 }) as fc.Arbitrary<unknown> }] : [];
  return fc.oneof({ weight: 3, arbitrary: saneOption(info, k) }, { weight: 2, arbitrary: garbage }, ...pairs);
}

const saneOptions = (info: OptimizerInfo) => sparseObject(info.keys, (k) => saneOption(info, k), 4, false);

/** Options that must be >= 0 in every optimizer (PyTorch's "Invalid learning rate" family). */
const NON_NEGATIVE = new Set(['lr', 'eps', 'weightDecay', 'momentum', 'alpha', 'rho', 'lrDecay', 'initialAccumulatorValue', 'momentumDecay', 'finalLr', 'gamma', 'clampValue']);
const FLOAT32_MAX = 3.4028234663852886e38;


/** Whether the number `x` breaks `r`. */
function outsideRule(x: number, r: api.NumberRule): boolean {
  return (r.min !== undefined && x < r.min) || (r.above !== undefined && x <= r.above) || (r.max !== undefined && x > r.max) || (r.below !== undefined && x >= r.below);
}

/** The element ranges of a pair option (Rprop's etas have one per element), from the registry; [0, 1] for a class outside it. */
function pairRanges(info: OptimizerInfo, k: string): [api.NumberRule, api.NumberRule] {
  const spec = (api.OPTIMIZERS[info.name.toLowerCase()]?.descriptor.options as Record<string, api.OptionSpec> | undefined)?.[k];
  return spec?.type === 'pair' ? [api.pairRange(spec, 0), api.pairRange(spec, 1)] : [{ min: 0, max: 1 }, { min: 0, max: 1 }];
}

/** Whether `v` is certainly invalid for option `k` (undefined counts: a live group must hold every option). */
function optionInvalid(info: OptimizerInfo, k: string, v: unknown): boolean {
  if (k === 'skipNonFinite') return typeof v !== 'boolean';
  if (k === 'stateDtype') return !((api.OPTIMIZERS[info.name.toLowerCase()]?.descriptor.stateDtypes ?? ['float32']) as readonly unknown[]).includes(v);
  const def = info.defaults[k];
  if (typeof def === 'boolean') return typeof v !== 'boolean';
  if (Array.isArray(def)) {
    const ranges = pairRanges(info, k);
    return !Array.isArray(v) || v.length !== def.length || v.some((x, i) => !finiteNumber(x) || outsideRule(x, ranges[i]!));
  }
  if (def === null) return v !== null && (!finiteNumber(v) || v < 0);
  if (typeof def === 'number') return !finiteNumber(v) || (NON_NEGATIVE.has(k) && v < 0);
  return false;
}

/** Whether an options object given to a constructor is certainly invalid. */
function constructorOptionsInvalid(info: OptimizerInfo, options: unknown): boolean {
  if (options === undefined) return false;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return true;
  return Object.keys(options).some((k) => {
    const v = (options as Rec)[k];
    return !info.keys.includes(k) || (v !== undefined && optionInvalid(info, k, v));
  });
}


function paramState(params: readonly Parameter[]): unknown {
  return params.map((p) => [p, p.data, p.grad]);
}

function optimizerState(opt: AnyOptimizer, params: readonly Parameter[]): unknown {
  return {
    params: paramState(params),
    groups: attempt(() => opt.paramGroups),
    state: attempt(() => opt.stateDict()),
    flags: [opt.skipNonFinite, opt.lastStepApplied, opt.appliedSteps, opt.skippedSteps],
  };
}


// ---------------------------------------------------------------------------------------------
// Parameters and warmed-up optimizers

/** Deterministic values in [-1, 1]. */
function values(seed: number, n: number): Float32Array {
  const out = new Float32Array(n);
  let x = (seed * 0x9e3779b1 + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = ((x % 2001) - 1000) / 1000;
  }
  return out;
}

function makeParams(lengths: readonly number[], seed: number, names?: ReadonlyArray<string | undefined>): Parameter[] {
  return lengths.map((n, i) => {
    const p = new Parameter(values(seed + i, n), names?.[i] === undefined ? {} : { name: names[i] });
    p.grad = values(seed + 100 + i, n);
    return p;
  });
}

function detach(a: Float32Array | null): void {
  if (a && a.byteLength > 0) structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}

interface Warm {
  opt: AnyOptimizer;
  /** P0..P2 registered ([P0, P1] and [P2]), P3 not. */
  pool: Parameter[];
}

/** An optimizer over two groups, stepped `steps` times with fresh gradients; P0's data and P1's grad may live in resizable buffers. */
function warm(info: OptimizerInfo, lengths: readonly number[], options: Rec, steps: number, seed: number, resizable = false, names?: ReadonlyArray<string | undefined>): Warm {
  const pool = makeParams([...lengths, 4], seed, names ?? ['p0', 'p1', 'p2', 'p3']);
  if (resizable) {
    const n = lengths[0]!;
    const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(4 * n, { maxByteLength: 4 * n + 64 });
    const data = new Float32Array(ab);
    data.set(pool[0]!.data);
    const name = (names ?? ['p0'])[0];
    const p = new Parameter(data, name === undefined ? {} : { name });
    p.grad = pool[0]!.grad;
    pool[0] = p;
    // P1's grad too: a length-tracking view that shrinks with its buffer.
    const m = lengths[1]!;
    const gb = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(4 * m, { maxByteLength: 4 * m + 64 });
    const grad = new Float32Array(gb);
    grad.set(pool[1]!.grad!);
    pool[1]!.grad = grad;
  }
  const groups = [{ params: [pool[0]!, pool[1]!] }, { params: [pool[2]!] }];
  let opt: AnyOptimizer;
  try {
    opt = new info.ctor(groups, options);
  } catch {
    opt = new info.ctor(groups);
  }
  for (let s = 0; s < steps; s++) {
    pool.slice(0, 3).forEach((p, i) => p.grad!.set(values(seed + 10 * s + i, p.numel)));
    opt.step();
  }
  pool.forEach((p, i) => (p.grad!.buffer as ArrayBuffer & { resizable?: boolean }).resizable ? p.grad!.set(values(seed + 1000 + i, p.numel)) : (p.grad = values(seed + 1000 + i, p.numel)));
  return { opt, pool };
}

const lengthArb = fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom(15, 16, 17, 33));
const lengthsArb = fc.tuple(fc.integer({ min: 1, max: 9 }), lengthArb, lengthArb);

// ---------------------------------------------------------------------------------------------
// Discovery sanity

test('fuzz: discovery finds every optimizer and scheduler class with its options', (t) => {
  for (const name of ['SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad', 'Lion']) t.true(OPTIMIZER_NAMES.includes(name), name);
  for (const name of ['StepLR', 'OneCycleLR', 'CyclicLR', 'LambdaLR', 'ReduceLROnPlateau']) t.true(SCHEDULER_NAMES.includes(name), name);
  t.deepEqual(optimizerInfo('SGD').keys, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize', 'skipNonFinite', 'stateDtype']);
});

// ---------------------------------------------------------------------------------------------
// Optimizer constructors: options

test('fuzz: optimizer constructors given random options reject the invalid ones by name and value, leaving the parameters untouched', (t) => {
  const arb = fc
    .constantFrom(...OPTIMIZER_NAMES)
    .chain((name) => fc.tuple(fc.constant(name), fc.oneof({ weight: 8, arbitrary: sparseObject(optimizerInfo(name).keys, (k) => optionValue(optimizerInfo(name), k)) }, { weight: 1, arbitrary: garbage })));
  check(
    t,
    fc.property(arb, ([name, options]) => {
      const info = optimizerInfo(name);
      const params = makeParams([3, 17], 1, ['a', 'b']);
      const c = new Canon();
      let opt: AnyOptimizer | undefined;
      const threw = rejectsCleanly(
        () => (opt = new info.ctor(params, options)),
        `${name}: `,
        () => c.of(paramState(params)),
        'the parameters',
        (e) => {
          checkNamed(e.message, [...keyed(options), ...Object.entries(info.defaults)]);
        },
      );
      if (threw) return;
      if (constructorOptionsInvalid(info, options)) fail(`${name} accepted invalid options`);
      opt!.step();
    }),
    1000,
  );
});

// ---------------------------------------------------------------------------------------------
// Optimizer constructors: the params argument

/** One param group spec: params (usually a list of refs), maybe initialLr, a few options, maybe unknown keys. */
function groupArb(info: OptimizerInfo, refs: fc.Arbitrary<Ref>): fc.Arbitrary<Rec> {
  const paramsSpec = fc.oneof(
    { weight: 8, arbitrary: fc.array(fc.oneof({ weight: 8, arbitrary: refs as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), { maxLength: 3 }) as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: garbage },
    { weight: 1, arbitrary: fc.array(refs, { maxLength: 3 }).map((a) => new SetOf(a)) as fc.Arbitrary<unknown> },
  );
  return fc
    .tuple(
      fc.oneof({ weight: 10, arbitrary: paramsSpec.map((p) => [['params', p]] as Array<[string, unknown]>) }, { weight: 1, arbitrary: fc.constant([] as Array<[string, unknown]>) }),
      fc.oneof({ weight: 6, arbitrary: fc.constant([] as Array<[string, unknown]>) }, { weight: 1, arbitrary: fc.oneof(dbl(0, 1), garbage).map((v) => [['initialLr', v]] as Array<[string, unknown]>) }),
      sparseObject(Object.keys(info.defaults), (k) => optionValue(info, k), 2, false).map((o) => Object.entries(o)),
      extras,
    )
    .map((parts) => Object.fromEntries(parts.flat()));
}

/** Whether a group is certainly invalid. `seen` collects its parameters; `taken` are already optimized. */
function groupInvalid(info: OptimizerInfo, g: unknown, seen: Set<Parameter>, taken: ReadonlySet<Parameter> = new Set()): boolean {
  if (g === null || typeof g !== 'object' || Array.isArray(g) || g instanceof Parameter || !Object.hasOwn(g, 'params')) return true;
  const group = g as Rec;
  if (Object.keys(group).some((k) => !info.groupKeys.includes(k))) return true;
  if (Object.keys(info.defaults).some((k) => group[k] !== undefined && optionInvalid(info, k, group[k]))) return true;
  if (group.initialLr !== undefined && (!finiteNumber(group.initialLr) || group.initialLr < 0)) return true;
  const ps = group.params;
  if (ps === null || typeof ps !== 'object' || typeof (ps as Iterable<unknown>)[Symbol.iterator] !== 'function') return true;
  const list = [...(ps as Iterable<unknown>)];
  if (list.length === 0) return true;
  for (const p of list) {
    if (!(p instanceof Parameter)) return true;
    if (seen.has(p) || taken.has(p)) return true;
    seen.add(p);
  }
  return false;
}

/** Whether a constructor's params argument is certainly invalid: PyTorch accepts a list of Parameters or a list of param groups. */
function paramsArgInvalid(info: OptimizerInfo, arg: unknown): boolean {
  if (arg === null || typeof arg !== 'object' || typeof (arg as Iterable<unknown>)[Symbol.iterator] !== 'function') return true;
  const list = [...(arg as Iterable<unknown>)];
  if (list.length === 0) return true;
  if (list.every((x) => x instanceof Parameter)) return new Set(list).size !== list.length;
  const seen = new Set<Parameter>();
  return list.some((g) => groupInvalid(info, g, seen)) || !list.every((g) => g !== null && typeof g === 'object' && !(g instanceof Parameter) && !ArrayBuffer.isView(g));
}

test('fuzz: optimizer constructors given random params (empty, non-Parameters, duplicates, groups with bad keys) reject the invalid ones and leave the parameters untouched', (t) => {
  const refs = fc.integer({ min: 0, max: 3 }).map((i) => new Ref(i));
  const arb = fc.constantFrom(...OPTIMIZER_NAMES).chain((name) => {
    const info = optimizerInfo(name);
    const element = fc.oneof({ weight: 6, arbitrary: refs as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage });
    const groupList = fc.array(fc.oneof({ weight: 8, arbitrary: groupArb(info, refs) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: refs }, { weight: 1, arbitrary: garbage }), { maxLength: 3 });
    const params = fc.oneof(
      { weight: 4, arbitrary: fc.array(element, { maxLength: 4 }) as fc.Arbitrary<unknown> },
      { weight: 5, arbitrary: groupList as fc.Arbitrary<unknown> },
      { weight: 1, arbitrary: garbage },
      { weight: 1, arbitrary: refs as fc.Arbitrary<unknown> },
      { weight: 1, arbitrary: fc.array(refs, { maxLength: 3 }).map((a) => new SetOf(a)) as fc.Arbitrary<unknown> },
    );
    return fc.tuple(fc.constant(name), params);
  });
  check(
    t,
    fc.property(arb, ([name, spec]) => {
      const info = optimizerInfo(name);
      const pool = makeParams([3, 1, 5, 2], 7, ['p0', 'p1', 'p2', 'p3']);
      const arg = resolve(spec, pool);
      const c = new Canon();
      let opt: AnyOptimizer | undefined;
      const threw = rejectsCleanly(
        () => (opt = new info.ctor(arg)),
        `${name}: `,
        () => c.of(paramState(pool)),
        'the parameters',
        (e) => checkNamed(e.message, Object.keys(info.defaults).map((k) => [k, NO_VALUE] as const), ['params', 'param group', 'parameter list', 'initialLr', 'options']),
      );
      if (threw) return;
      if (paramsArgInvalid(info, arg)) fail(`${name} accepted an invalid params argument`);
      opt!.step();
    }),
    1000,
  );
});

// ---------------------------------------------------------------------------------------------
// addParamGroup

test('fuzz: addParamGroup with random groups rejects the invalid ones, changing nothing and registering nothing', (t) => {
  // Mostly the fresh P3 and P4; P0..P2 are already optimized.
  const refs = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 3, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }) }).map((i) => new Ref(i));
  const arb = fc.constantFrom(...OPTIMIZER_NAMES).chain((name) =>
    fc.tuple(
      fc.constant(name),
      fc.oneof({ weight: 8, arbitrary: groupArb(optimizerInfo(name), refs) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }, { weight: 1, arbitrary: refs as fc.Arbitrary<unknown> }),
      fc.integer({ min: 0, max: 2 }),
    ),
  );
  check(
    t,
    fc.property(arb, ([name, spec, steps]) => {
      const info = optimizerInfo(name);
      const { opt, pool } = warm(info, [3, 5, 2], {}, steps, 11);
      pool.push(makeParams([6], 99, ['p4'])[0]!);
      const group = resolve(spec, pool);
      const c = new Canon();
      const threw = rejectsCleanly(
        () => opt.addParamGroup(group as never),
        `${name}: `,
        () => c.of(optimizerState(opt, pool)),
        'the optimizer',
        (e) => checkNamed(e.message, Object.keys(info.defaults).map((k) => [k, (group as Rec | null)?.[k] ?? NO_VALUE] as const), ['params', 'param group', 'initialLr']),
      );
      if (!threw) {
        if (groupInvalid(info, group, new Set(), new Set(pool.slice(0, 3)))) fail(`${name}.addParamGroup accepted an invalid group`);
        opt.step();
        return;
      }
      // Nothing was registered: the fresh parameters can be added, once, and stepped.
      opt.addParamGroup({ params: [pool[3]!, pool[4]!] });
      opt.step();
    }),
    800,
  );
});

// ---------------------------------------------------------------------------------------------
// step() after bad gradients, buffers, live options and groups


function stepMutation(info: OptimizerInfo): fc.Arbitrary<Mutation> {
  const i = fc.integer({ min: 0, max: 2 });
  const g = fc.integer({ min: 0, max: 1 });
  const optionKeys = Object.keys(info.defaults);
  return fc.oneof(
    fc.tuple(fc.constant('detachGrad'), i),
    fc.tuple(fc.constant('detachData'), i),
    fc.tuple(fc.constant('nullGrad'), i),
    fc.tuple(fc.constant('gradIsData'), i),
    fc.tuple(fc.constant('shareGrad'), i, i),
    fc.tuple(fc.constant('gradViewsData'), i, i, fc.nat(8)),
    fc.tuple(fc.constant('nonFiniteGrad'), i, fc.constantFrom(NaN, Infinity, -Infinity)),
    { weight: 3, arbitrary: fc.tuple(g, fc.constantFrom(...optionKeys)).chain(([gi, k]) => fc.tuple(fc.constant('live'), fc.constant(gi), fc.constant(k), optionValue(info, k))) },
    fc.tuple(fc.constant('betaInPlace'), g, fc.integer({ min: 0, max: 2 }), scalar),
    fc.tuple(fc.constant('push'), g, fc.oneof(garbage, fc.constantFrom('P0', 'P2', 'P3'))),
    fc.tuple(fc.constant('replaceGroup'), g, garbage),
    fc.tuple(fc.constant('dropParam'), g),
    fc.tuple(fc.constant('skipNonFinite'), fc.oneof(fc.boolean(), garbage)),
    fc.tuple(fc.constant('shrinkData'), fc.integer({ min: 0, max: 3 })),
    fc.tuple(fc.constant('shrinkGrad'), fc.integer({ min: 0, max: 3 })),
    fc.tuple(fc.constant('live'), g, fc.constant('initialLr'), fc.oneof(dbl(0, 1), garbage)),
  ) as fc.Arbitrary<Mutation>;
}

/** Applies a setup mutation; a setter that refuses it leaves things as they were (the setters have their own property). */
function applyStepMutation(m: Mutation, opt: AnyOptimizer, pool: Parameter[]): void {
  const [kind, a, b, c] = m as [string, number, unknown, unknown];
  const groups = opt.paramGroups as unknown as Rec[];
  const group = () => (groups[a] !== null && typeof groups[a] === 'object' ? groups[a]! : undefined);
  try {
    switch (kind) {
      case 'detachGrad':
        return detach(pool[a]!.grad);
      case 'detachData':
        return detach(pool[a]!.data);
      case 'nullGrad':
        pool[a]!.grad = null;
        return;
      case 'gradIsData':
        pool[a]!.grad = pool[a]!.data;
        return;
      case 'shareGrad':
        pool[b as number]!.grad = pool[a]!.grad;
        return;
      case 'gradViewsData': {
        const d = pool[b as number]!.data;
        const n = pool[a]!.numel;
        const offset = d.byteOffset + 4 * (c as number);
        if (d.byteLength > 0 && offset + 4 * n <= d.buffer.byteLength) pool[a]!.grad = new Float32Array(d.buffer, offset, n);
        return;
      }
      case 'nonFiniteGrad': {
        const gr = pool[a]!.grad;
        if (gr && gr.length > 0) gr[0] = b as number;
        return;
      }
      case 'live': {
        const gr = group();
        if (gr) gr[b as string] = c;
        return;
      }
      case 'betaInPlace': {
        const betas = group()?.betas;
        if (Array.isArray(betas)) betas[b as number] = c;
        return;
      }
      case 'push': {
        const ps = group()?.params;
        if (Array.isArray(ps)) ps.push(b === 'P0' ? pool[0] : b === 'P2' ? pool[2] : b === 'P3' ? pool[3] : b);
        return;
      }
      case 'replaceGroup':
        groups[a] = b as Rec;
        return;
      case 'dropParam': {
        const ps = group()?.params;
        if (Array.isArray(ps)) ps.pop();
        return;
      }
      case 'skipNonFinite':
        opt.skipNonFinite = a as unknown as boolean;
        return;
      case 'shrinkData': {
        const buf = pool[0]!.data.buffer as ArrayBuffer & { resizable?: boolean; resize?: (n: number) => void };
        if (buf.resizable) buf.resize!(4 * Math.min(a, Math.max(0, pool[0]!.numel - 1)));
        return;
      }
      case 'shrinkGrad': {
        const buf = pool[1]!.grad?.buffer as (ArrayBuffer & { resizable?: boolean; resize?: (n: number) => void }) | undefined;
        if (buf?.resizable) buf.resize!(4 * Math.min(a, Math.max(0, pool[1]!.numel - 1)));
        return;
      }
    }
  } catch {
    // refused by a setter: nothing changed
  }
}

function overlaps(x: Float32Array, y: Float32Array): boolean {
  if (x.byteLength === 0 || y.byteLength === 0 || x.buffer !== y.buffer) return false;
  return x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
}

/** Whether `opt.step(closure)` is certainly invalid in the current state. */
function stepInvalid(info: OptimizerInfo, opt: AnyOptimizer, registered: ReadonlySet<Parameter>, closure: unknown): boolean {
  if (closure !== undefined && typeof closure !== 'function') return true;
  if (typeof opt.skipNonFinite !== 'boolean') return true;
  const stepped: Parameter[] = [];
  for (const g of opt.paramGroups as unknown[]) {
    if (g === null || typeof g !== 'object' || !Array.isArray((g as Rec).params)) return true;
    if (Object.keys(info.defaults).some((k) => optionInvalid(info, k, (g as Rec)[k]))) return true;
    for (const p of (g as Rec).params as unknown[]) {
      if (!(p instanceof Parameter) || !registered.has(p)) return true;
      if (p.grad === null) continue;
      if (p.data.length !== p.numel || p.grad.length !== p.numel) return true;
      stepped.push(p);
    }
  }
  if (new Set(stepped).size !== stepped.length) return true;
  const buffers = stepped.flatMap((p) => [p.data, p.grad!]);
  for (let x = 0; x < buffers.length; x++) for (let y = x + 1; y < buffers.length; y++) if (overlaps(buffers[x]!, buffers[y]!)) return true;
  return false;
}

function liveCandidates(info: OptimizerInfo, opt: AnyOptimizer): Array<readonly [string, unknown]> {
  const out: Array<readonly [string, unknown]> = [];
  for (const g of opt.paramGroups as unknown[]) if (g !== null && typeof g === 'object') for (const k of Object.keys(info.defaults)) out.push([k, (g as Rec)[k]]);
  out.push(['skipNonFinite', opt.skipNonFinite]);
  return out;
}

test('fuzz: step() after bad gradients, detached or shrunk buffers, aliasing, bad live options or groups is rejected before anything changes', (t) => {
  const arb = fc.constantFrom(...OPTIMIZER_NAMES).chain((name) => {
    const info = optimizerInfo(name);
    return fc.record({
      name: fc.constant(name),
      lengths: lengthsArb,
      options: saneOptions(info),
      steps: fc.integer({ min: 0, max: 2 }),
      resizable: fc.boolean(),
      mutations: fc.array(stepMutation(info), { minLength: 1, maxLength: 3 }),
      closure: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }),
    });
  });
  check(
    t,
    fc.property(arb, ({ name, lengths, options, steps, resizable, mutations, closure }) => {
      const info = optimizerInfo(name);
      const { opt, pool } = warm(info, lengths, options, steps, 3, resizable);
      const registered = new Set(opt.parameters());
      for (const m of mutations) applyStepMutation(m, opt, pool);
      const invalid = stepInvalid(info, opt, registered, closure);
      const c = new Canon();
      const snapshot = () => c.of(optimizerState(opt, pool));
      const named = (e: Error) =>
        checkNamed(e.message, liveCandidates(info, opt), ['closure', 'param group', 'params', 'parameter', 'grad', 'data', 'overlapping'], [...(opt.paramGroups as unknown[]), closure]);
      const call = () => opt.step(closure as never);
      if (rejectsCleanly(call, name, snapshot, 'the optimizer', named)) {
        // Nothing was half-applied: the same call is rejected again.
        if (!rejectsCleanly(call, name, snapshot, 'the optimizer', named)) fail('a rejected step() succeeded when repeated');
        return;
      }
      if (invalid) fail(`${name}.step() accepted an invalid state`);
      // What stateDict() writes, loadStateDict() reads back; stateDict() may refuse a group it could not load back.
      let saved: unknown;
      try {
        saved = JSON.parse(JSON.stringify(opt.stateDict()));
      } catch (e) {
        checkRejection(e, `${name}.stateDict: `);
        return;
      }
      try {
        opt.loadStateDict(saved as never);
      } catch (e) {
        // A state the next step cannot advance from (Schedule-Free's averaging weight, under a live
        // r or weightLrPower the step just taken could still use) is refused by both, alike.
        const overflow = /averaging weight .* overflows (at k = \d+ \([^)]*\))/;
        const msg = (e as Error).message;
        if (!overflow.test(msg)) fail(`the optimizer's own state dict, through JSON, was refused: ${msg}`);
        let stepped = true;
        try {
          opt.step();
        } catch (s) {
          stepped = false;
          if ((s as Error).message.match(overflow)?.[1] !== msg.match(overflow)![1]) fail(`loadStateDict refused the own state (${msg}), and step() for another reason: ${(s as Error).message}`);
        }
        if (stepped) fail(`loadStateDict refused the own state as one the next step could not advance from (${msg}), yet step() advanced`);
      }
    }),
    1000,
  );
});

// ---------------------------------------------------------------------------------------------
// Parameter: constructor and setters

test('fuzz: Parameter and its data/grad setters reject bad values by name and value, leaving the parameter as it was', (t) => {
  const shapes = fc.oneof(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) as fc.Arbitrary<unknown>, fc.constantFrom([4], [2, 2], [1, 4, 1], [4, 0]), garbage);
  const ctorCase = fc.tuple(
    fc.constant('new' as const),
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 4, 12).map((n) => new Float32Array(n)) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }),
    fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> },
      { weight: 1, arbitrary: garbage },
      { weight: 4, arbitrary: sparseObject(['name', 'shape'], (k) => (k === 'name' ? fc.oneof(fc.string({ maxLength: 3 }), garbage) : shapes)) as fc.Arbitrary<unknown> },
    ),
  );
  const typed = fc.tuple(fc.constantFrom(Float32Array, Float64Array, Int32Array, Uint8Array), fc.integer({ min: 0, max: 9 })).map(([T, n]) => new T(n) as unknown);
  const setCase = fc.integer({ min: 0, max: 9 }).chain((n) =>
    fc.tuple(
      fc.constant('set' as const),
      fc.constantFrom('data', 'grad'),
      fc.oneof({ weight: 3, arbitrary: typed }, { weight: 2, arbitrary: garbage }, { weight: 2, arbitrary: fc.constant(n).map((k) => new Float32Array(k) as unknown) }),
      fc.constant(n),
    ),
  );
  check(
    t,
    fc.property(fc.oneof(ctorCase, setCase), (cs) => {
      if (cs[0] === 'new') {
        const [, data, options] = cs;
        const o = options as Rec | undefined;
        const invalid =
          !(data instanceof Float32Array) ||
          (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) ||
          (o !== undefined && o !== null && typeof o === 'object' && (Object.keys(o).some((k) => k !== 'name' && k !== 'shape') ||
            (o.name !== undefined && typeof o.name !== 'string') ||
            (o.shape !== undefined &&
              (!Array.isArray(o.shape) || !o.shape.every((d) => Number.isInteger(d) && d >= 0) || o.shape.reduce((x: number, y: number) => x * y, 1) !== (data as Float32Array).length))));
        const before = data instanceof Float32Array ? Buffer.from(data.buffer).toString('hex') : '';
        try {
          new Parameter(data as Float32Array, options as never);
        } catch (e) {
          const err = checkRejection(e, 'Parameter');
          checkNamed(err.message, [['data', data], ...keyed(options)]);
          return;
        }
        if (data instanceof Float32Array && Buffer.from(data.buffer).toString('hex') !== before) fail('the constructor changed the data');
        if (invalid) fail('new Parameter accepted invalid arguments');
        return;
      }
      const [, field, value, n] = cs;
      const p = new Parameter(values(5, n), { name: 'w' });
      p.grad = values(6, n);
      const c = new Canon();
      const ok = (field === 'grad' && value === null) || (value instanceof Float32Array && value.length === n);
      const threw = rejectsCleanly(
        () => ((p as unknown as Rec)[field] = value),
        'Parameter "w": ',
        () => c.of(paramState([p])),
        'the parameter',
        (e) => checkNamed(e.message, [[field, value], [field, ArrayBuffer.isView(value) ? (value as Float32Array).length : NO_VALUE]]),
      );
      if (!threw && !ok) fail(`the ${field} setter accepted ${describe(value)}`);
      if (threw && ok) fail(`the ${field} setter refused a valid value`);
    }),
    800,
  );
});

// ---------------------------------------------------------------------------------------------
// zeroGrad

test('fuzz: zeroGrad with bad options, detached gradients or bad groups is rejected before any gradient changes', (t) => {
  const i = fc.integer({ min: 0, max: 2 });
  const g = fc.integer({ min: 0, max: 1 });
  const mutation = fc.oneof(
    fc.tuple(fc.constant('detachGrad'), i),
    fc.tuple(fc.constant('nullGrad'), i),
    fc.tuple(fc.constant('gradIsData'), i),
    fc.tuple(fc.constant('push'), g, fc.oneof(garbage, fc.constantFrom('P3'))),
    fc.tuple(fc.constant('replaceGroup'), g, garbage),
  ) as fc.Arbitrary<Mutation>;
  const arb = fc.record({
    name: fc.constantFrom(...OPTIMIZER_NAMES),
    lengths: lengthsArb,
    mutations: fc.array(mutation, { maxLength: 2 }),
    options: fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> },
      { weight: 1, arbitrary: garbage },
      { weight: 4, arbitrary: sparseObject(['setToNone'], () => fc.oneof(fc.boolean(), garbage)) as fc.Arbitrary<unknown> },
    ),
  });
  check(
    t,
    fc.property(arb, ({ name, lengths, mutations, options }) => {
      const info = optimizerInfo(name);
      const { opt, pool } = warm(info, lengths, {}, 1, 5);
      for (const m of mutations) applyStepMutation(m, opt, pool);
      const o = options as Rec | undefined;
      const badOptions =
        options !== undefined &&
        (options === null || typeof options !== 'object' || Array.isArray(options) || Object.keys(options).some((k) => k !== 'setToNone') || (o!.setToNone !== undefined && typeof o!.setToNone !== 'boolean'));
      const setToNone = !badOptions && o?.setToNone === true;
      const groups = opt.paramGroups as unknown[];
      const badGroups = groups.some((gr) => gr === null || typeof gr !== 'object' || !Array.isArray((gr as Rec).params) || ((gr as Rec).params as unknown[]).some((p) => !(p instanceof Parameter)));
      const detached = !setToNone && pool.some((p) => p.grad !== null && p.grad.length !== p.numel && groups.some((gr) => ((gr as Rec | null)?.params as unknown[] | undefined)?.includes?.(p)));
      const c = new Canon();
      const gradObjects = new Map<Parameter, Float32Array | null>();
      for (const gr of groups) for (const p of ((gr as Rec | null)?.params as unknown[] | undefined) ?? []) if (p instanceof Parameter) gradObjects.set(p, p.grad);
      const threw = rejectsCleanly(
        () => opt.zeroGrad(options as never),
        `${name}.zeroGrad: `,
        () => c.of(optimizerState(opt, pool)),
        'the optimizer',
        (e) => checkNamed(e.message, keyed(options), ['param group', 'grad']),
      );
      if (threw) return;
      if (badOptions || badGroups || detached) fail(`${name}.zeroGrad accepted invalid options or groups`);
      for (const gr of groups) {
        for (const p of (gr as Rec).params as Parameter[]) {
          if (setToNone ? p.grad !== null : p.grad !== null && (p.grad !== gradObjects.get(p) || p.grad.some((x) => !Object.is(x, 0)))) fail(`zeroGrad left ${p.name}'s grad as ${describe(p.grad)}`);
        }
      }
    }),
    600,
  );
});

// ---------------------------------------------------------------------------------------------
// loadStateDict with mutated valid state dicts

type OptimizerStateDictLike = { paramGroups: Array<{ params: string[] }> };

const SPECIAL_STRINGS = ['-0', 'NaN', 'Infinity', '-Infinity'];
const validElement = (v: unknown) => (typeof v === 'number' && (!Number.isFinite(v) || Math.abs(v) <= FLOAT32_MAX)) || SPECIAL_STRINGS.includes(v as string);
const validBuffer = (v: unknown, n: number) => (v instanceof Float32Array && v.length === n) || (Array.isArray(v) && v.length === n && v.every(validElement));
const validStep = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Whether a state dict changed by the single mutation `a` is certainly rejected by an optimizer
 * whose own state dict is `orig` (same structure): a property of the documented format, not of
 * the implementation.
 */
function sdMutationInvalid(info: OptimizerInfo, a: Applied, orig: Rec, strict: boolean): boolean {
  const p = a.path;
  const paramKeys = new Set((orig.paramGroups as Array<{ params: string[] }>).flatMap((g) => g.params));
  const origAt = (path: Path) => getPath(orig, path);
  if (a.kind === 'addKey') {
    if (p.length === 1 && p[0] === 'state') return strict || (paramKeys.has(a.key!) && !(a.value !== null && typeof a.value === 'object' && validStep((a.value as Rec).step)));
    if (p.length === 2 && p[0] === 'state') return strict;
    if (p.length === 2 && p[0] === 'paramGroups') {
      if (a.key === 'initialLr') return a.value !== undefined && (!finiteNumber(a.value) || a.value < 0);
      return strict && !info.groupKeys.includes(a.key!);
    }
    return false;
  }
  if (a.kind === 'set' && Object.is(a.value, a.old)) return false;
  const [top, k1, k2, k3] = p;
  if (top === 'state') {
    if (p.length === 1) return a.kind === 'delete' || (a.kind === 'set' && (a.value === null || typeof a.value !== 'object' || Array.isArray(a.value)));
    if (p.length === 2) return a.kind === 'set';
    const entry = origAt(['state', k1!]) as Rec;
    const n = Object.values(entry).find(Array.isArray)?.length;
    if (p.length === 3 && k2 === 'step') return a.kind === 'delete' || (a.kind === 'set' && !validStep(a.value));
    if (p.length === 3 && typeof entry[k2 as string] === 'number') return a.kind === 'set' && (!finiteNumber(a.value) || Math.abs(a.value) > FLOAT32_MAX);
    if (p.length === 3 && Array.isArray(entry[k2 as string])) {
      if (a.kind === 'delete') return false;
      if (a.kind === 'set') return !validBuffer(a.value, n!);
      return true; // truncate / extend
    }
    if (p.length === 4) return a.kind === 'delete' || (a.kind === 'set' && !validElement(a.value));
    return false;
  }
  if (top === 'paramGroups') {
    if (p.length === 1) return a.kind === 'delete' || (a.kind === 'set' && (!Array.isArray(a.value) || strict)) || (strict && a.kind !== 'set');
    if (p.length === 2) return strict;
    if (k2 === 'params') return strict && !(a.kind === 'set' && p.length === 4 && a.value === a.old);
    if (p.length === 3 && a.kind === 'set' && typeof k2 === 'string' && k2 in info.defaults) return a.value !== undefined && optionInvalid(info, k2, a.value);
    const pair = Array.isArray(origAt(['paramGroups', k1!, k2!]));
    if (pair && ((p.length === 3 && a.kind !== 'set' && a.kind !== 'delete') || (p.length === 4 && a.kind !== 'set'))) return true; // betas of another length
    if (p.length === 4 && a.kind === 'set' && k2 === 'betas') {
      const betas = [...(origAt(['paramGroups', k1!, 'betas']) as unknown[])];
      betas[k3 as number] = a.value;
      return optionInvalid(info, 'betas', betas);
    }
    return false;
  }
  return false;
}

const loadOptionsArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> },
  { weight: 3, arbitrary: sparseObject(['strict'], () => fc.oneof({ weight: 3, arbitrary: fc.boolean() as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage })) as fc.Arbitrary<unknown> },
  { weight: 1, arbitrary: garbage },
);

/** The strict flag of valid load options, or undefined when the options are certainly invalid. */
function strictOf(options: unknown): boolean | undefined {
  if (options === undefined) return true;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return undefined;
  if (Object.keys(options).some((k) => k !== 'strict')) return undefined;
  const s = (options as Rec).strict;
  if (s === undefined) return true;
  return typeof s === 'boolean' ? s : undefined;
}

const NAME_SETS: ReadonlyArray<ReadonlyArray<string | undefined>> = [
  ['w0', 'w1', 'w2', 'w3'],
  ['__proto__', 'constructor', 'toString', 'hasOwnProperty'],
  [undefined, undefined, undefined, undefined],
  ['a', 'a', 'b', 'c'],
  ['', 'x.y', '0', '1'],
];

test('fuzz: loadStateDict with mutated valid state dicts (dropped keys, wrong types and lengths, NaN/1e300, extra and __proto__ keys, bad strict) is all-or-nothing', (t) => {
  const arb = fc.constantFrom(...OPTIMIZER_NAMES).chain((name) => {
    const info = optimizerInfo(name);
    return fc.record({
      name: fc.constant(name),
      names: fc.nat(NAME_SETS.length - 1),
      // Usually the same names on both sides; sometimes the loading optimizer's differ.
      namesB: fc.option(fc.nat(NAME_SETS.length - 1), { freq: 4, nil: undefined }),
      lengths: lengthsArb,
      optionsA: saneOptions(info),
      optionsB: saneOptions(info),
      stepsA: fc.integer({ min: 0, max: 3 }),
      stepsB: fc.integer({ min: 0, max: 2 }),
      json: fc.boolean(),
      mutations: fc.array(sdMutation, { maxLength: 2 }),
      loadOptions: loadOptionsArb,
    });
  });
  check(
    t,
    fc.property(arb, ({ name, names, namesB, lengths, optionsA, optionsB, stepsA, stepsB, json, mutations, loadOptions }) => {
      const info = optimizerInfo(name);
      const A = warm(info, lengths, optionsA, stepsA, 21, false, NAME_SETS[names]);
      const B = warm(info, lengths, optionsB, stepsB, 31, false, NAME_SETS[namesB ?? names]);
      const orig = A.opt.stateDict() as unknown as Rec;
      const sd = json ? JSON.parse(JSON.stringify(orig)) : A.opt.stateDict();
      const applied = mutations.map((m) => applySdMutation(sd, m)).filter((x): x is Applied => x !== undefined);
      const log = applied.map(describeApplied).join('; ') || 'no mutation';
      const strict = strictOf(loadOptions);
      const keysOf = (sdx: unknown) => JSON.stringify((sdx as OptimizerStateDictLike).paramGroups.map((g) => g.params));
      const sameKeys = keysOf(orig) === keysOf(B.opt.stateDict());
      const invalid =
        strict === undefined ||
        (!sameKeys && strict && applied.length === 0) ||
        (sameKeys && applied.length === 1 && sdMutationInvalid(info, applied[0]!, JSON.parse(JSON.stringify(orig)), strict));
      const c = new Canon();
      const threw = rejectsCleanly(
        () => B.opt.loadStateDict(sd, loadOptions as never),
        // Saved group options are checked like live ones, in messages prefixed with the class.
        name,
        () => c.of(optimizerState(B.opt, B.pool)),
        `the optimizer (after: ${log})`,
        (e) => {
          if (strict === undefined) checkNamed(e.message, keyed(loadOptions));
        },
      );
      if (threw) {
        B.opt.step();
        return;
      }
      if (invalid) fail(`${name}.loadStateDict accepted an invalid state (${log}, options ${fc.stringify(loadOptions)})`);
      if (applied.length === 0 && strict === true && sameKeys) {
        const got = c.of(B.opt.stateDict());
        if (got !== c.of(A.opt.stateDict())) fail('an unchanged state dict did not load bit for bit');
      }
      // An accepted state is one the optimizer can step from: at once, or, for a Schedule-Free
      // state saved in eval mode (a group's trainMode false, valid), after train().
      // (A mutation may have left a group or the list not an object: only a real `false` counts.)
      const groups = (sd as Rec).paramGroups;
      const savedInEval = Array.isArray(groups) && groups.some((g) => g !== null && typeof g === 'object' && (g as Rec).trainMode === false);
      try {
        B.opt.step();
      } catch (e) {
        const msg = (e as Error).message;
        const train = (B.opt as { train?: () => void }).train;
        if (!(savedInEval && typeof train === 'function' && /step\(\) was called in eval mode/.test(msg))) {
          fail(`step() after loading an accepted state dict (${log}) threw ${(e as Error).constructor.name}: ${msg}`);
        }
        train.call(B.opt);
        try {
          B.opt.step();
        } catch (e2) {
          fail(`step() after loading an accepted eval-mode state dict (${log}) and train() threw ${(e2 as Error).constructor.name}: ${(e2 as Error).message}`);
        }
      }
    }),
    1000,
  );
});

// ---------------------------------------------------------------------------------------------
// Lookahead: constructor, live k/alpha, loadStateDict

function lookaheadOptionsInvalid(options: unknown): boolean {
  if (options === undefined) return false;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return true;
  const o = options as Rec;
  if (Object.keys(o).some((k) => k !== 'k' && k !== 'alpha')) return true;
  return kInvalid(o.k, true) || alphaInvalid(o.alpha, true);
}
const kInvalid = (k: unknown, optional: boolean) => !(optional && k === undefined) && !(typeof k === 'number' && Number.isInteger(k) && k >= 1);
const alphaInvalid = (a: unknown, optional: boolean) => !(optional && a === undefined) && !(finiteNumber(a) && a >= 0);

test('fuzz: Lookahead rejects bad optimizers, options, live k/alpha and mutated state dicts, changing nothing', (t) => {
  const laOptions = fc.oneof(
    { weight: 5, arbitrary: sparseObject(['k', 'alpha'], (k) => fc.oneof(k === 'k' ? fc.integer({ min: 1, max: 4 }) : dbl(0, 1), garbage)) as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: garbage },
  );
  const arb = fc.record({
    name: fc.constantFrom(...OPTIMIZER_NAMES),
    action: fc.oneof(
      fc.tuple(fc.constant('construct'), fc.oneof({ weight: 4, arbitrary: fc.constant('optimizer') as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), laOptions),
      fc.tuple(fc.constant('live'), fc.constantFrom('k', 'alpha'), garbage),
      fc.tuple(fc.constant('load'), fc.array(sdMutation, { maxLength: 2 }), loadOptionsArb, fc.boolean()),
    ),
    steps: fc.integer({ min: 0, max: 4 }),
    lengths: lengthsArb,
  });
  check(
    t,
    fc.property(arb, ({ name, action, steps, lengths }) => {
      const info = optimizerInfo(name);
      const make = (seed: number) => {
        const w = warm(info, lengths, {}, 0, seed);
        const la = new Lookahead(w.opt, { k: 2, alpha: 0.5 });
        for (let s = 0; s < steps; s++) la.step();
        return { ...w, la };
      };
      const c = new Canon();
      if (action[0] === 'construct') {
        const [, target, options] = action;
        const { opt, pool } = warm(info, lengths, {}, steps, 41);
        const optimizer = target === 'optimizer' ? opt : target;
        let la: Lookahead | undefined;
        const threw = rejectsCleanly(
          () => (la = new Lookahead(optimizer as AnyOptimizer, options as never)),
          'Lookahead: ',
          () => c.of(optimizerState(opt, pool)),
          'the inner optimizer',
          (e) => checkNamed(e.message, [['optimizer', optimizer], ...keyed(options)]),
        );
        if (threw) return;
        if (!(optimizer instanceof Optimizer) || lookaheadOptionsInvalid(options)) fail(`new Lookahead accepted ${describe(optimizer)} with options ${fc.stringify(options)}`);
        la!.step();
        return;
      }
      const { la, pool } = make(43);
      const snapshot = () => c.of({ params: paramState(pool), state: attempt(() => la.stateDict()), inner: optimizerState(la.optimizer, pool), counter: la.counter });
      if (action[0] === 'live') {
        const [, key, value] = action;
        (la as unknown as Rec)[key] = value;
        const threw = rejectsCleanly(() => la.step(), 'Lookahead', snapshot, 'the Lookahead', (e) => checkNamed(e.message, [[key, value]]));
        if (!threw && (key === 'k' ? kInvalid(value, false) : alphaInvalid(value, false))) fail(`Lookahead.step() accepted ${key} = ${describe(value)}`);
        return;
      }
      const [, mutations, loadOptions, json] = action;
      const A = make(47).la;
      const orig = A.stateDict() as unknown as Rec;
      const sd = json ? JSON.parse(JSON.stringify(orig)) : A.stateDict();
      const applied = mutations.map((m) => applySdMutation(sd, m)).filter((x): x is Applied => x !== undefined);
      const log = applied.map(describeApplied).join('; ') || 'no mutation';
      const strict = strictOf(loadOptions);
      let invalid = strict === undefined;
      if (!invalid && applied.length === 1) {
        const a = applied[0]!;
        const [top] = a.path;
        if (top === 'fastState' && a.path.length > 1) invalid = sdMutationInvalid(info, { ...a, path: a.path.slice(1) }, JSON.parse(JSON.stringify(orig.fastState)), strict!);
        else if (a.path.length === 1 && a.kind !== 'addKey' && (top === 'k' || top === 'alpha' || top === 'counter')) {
          const v = a.kind === 'delete' ? undefined : a.value;
          invalid = top === 'k' ? kInvalid(v, false) || !(orig.counter as number < (v as number)) : top === 'alpha' ? alphaInvalid(v, false) : !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < (orig.k as number));
        } else if (top === 'slowState' && a.path.length === 4) invalid = a.kind === 'delete' || (a.kind === 'set' && !validElement(a.value));
        else if (top === 'slowState' && a.path.length === 3 && a.path[2] === 'slowParam') invalid = a.kind !== 'delete' && (a.kind !== 'set' || !validBuffer(a.value, (getPath(orig, a.path) as unknown[]).length));
        else if (a.path.length === 1 && (top === 'fastState' || top === 'slowState')) invalid = a.kind === 'delete' || (a.kind === 'set' && (a.value === null || typeof a.value !== 'object'));
      }
      // The inner optimizer's part is checked (and reported) by the inner optimizer.
      const threw = rejectsCleanly(() => la.loadStateDict(sd, loadOptions as never), '', snapshot, `the Lookahead (after: ${log})`);
      if (threw) return;
      if (invalid) fail(`Lookahead.loadStateDict accepted an invalid state (${log}, options ${fc.stringify(loadOptions)})`);
      try {
        la.step();
      } catch (e) {
        fail(`step() after loading an accepted Lookahead state (${log}) threw ${(e as Error).constructor.name}: ${(e as Error).message}`);
      }
    }),
    800,
  );
});

// ---------------------------------------------------------------------------------------------
// Schedulers

/** Sane values of scheduler options, by name (shared across schedulers). */
const SCHEDULER_SANE: Record<string, fc.Arbitrary<unknown>> = {
  stepSize: fc.integer({ min: 1, max: 5 }),
  gamma: dbl(0.5, 1),
  milestones: fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 3 }),
  factor: dbl(0.1, 0.9),
  totalIters: fc.integer({ min: 1, max: 6 }),
  startFactor: dbl(0.1, 1),
  endFactor: dbl(0, 1),
  power: dbl(0.5, 2),
  tMax: fc.integer({ min: 1, max: 10 }),
  etaMin: dbl(0, 1e-3),
  t0: fc.integer({ min: 1, max: 5 }),
  tMult: fc.integer({ min: 1, max: 3 }),
  baseLr: dbl(1e-4, 1e-2),
  maxLr: dbl(1e-2, 0.1),
  stepSizeUp: fc.integer({ min: 1, max: 5 }),
  stepSizeDown: fc.integer({ min: 1, max: 5 }),
  mode: fc.constantFrom('triangular', 'triangular2', 'expRange', 'exp_range', 'min', 'max'),
  scaleFn: fc.oneof(fc.constant(returning(1)), scalar.map(returning)),
  scaleMode: fc.constantFrom('cycle', 'iterations'),
  cycleMomentum: fc.boolean(),
  baseMomentum: dbl(0.5, 0.85),
  maxMomentum: dbl(0.85, 0.95),
  totalSteps: fc.integer({ min: 1, max: 20 }),
  epochs: fc.integer({ min: 1, max: 4 }),
  stepsPerEpoch: fc.integer({ min: 1, max: 5 }),
  pctStart: dbl(0, 1),
  annealStrategy: fc.constantFrom('cos', 'linear'),
  divFactor: dbl(1, 100),
  finalDivFactor: dbl(1, 1e4),
  threePhase: fc.boolean(),
  lastEpoch: fc.constantFrom(-1, -1, -1, 0, 3),
  lrLambda: fc.oneof(fc.constant(returning(0.5)), scalar.map(returning), fc.array(fc.constant(returning(0.9)), { minLength: 1, maxLength: 2 })),
  patience: fc.integer({ min: 0, max: 3 }),
  threshold: dbl(0, 0.1),
  thresholdMode: fc.constantFrom('rel', 'abs'),
  cooldown: fc.integer({ min: 0, max: 2 }),
  minLr: dbl(0, 1e-4),
  eps: dbl(0, 1e-6),
};

/** Options each scheduler requires (PyTorch's positional arguments). */
const REQUIRED: Record<string, string[][]> = {
  StepLR: [['stepSize']],
  MultiStepLR: [['milestones']],
  ExponentialLR: [['gamma']],
  CosineAnnealingLR: [['tMax']],
  CosineAnnealingWarmRestarts: [['t0']],
  CyclicLR: [['baseLr'], ['maxLr']],
  OneCycleLR: [['maxLr'], ['totalSteps', 'epochs']],
  LambdaLR: [['lrLambda']],
  MultiplicativeLR: [['lrLambda']],
};
const STRING_OPTIONS: Record<string, string[]> = {
  scaleMode: ['cycle', 'iterations'],
  annealStrategy: ['cos', 'linear'],
  thresholdMode: ['rel', 'abs'],
};
const PER_GROUP = new Set(['baseLr', 'maxLr', 'baseMomentum', 'maxMomentum', 'minLr']);

/** Whether scheduler options are certainly invalid (for `groups` param groups). */
function schedulerOptionsInvalid(name: string, keys: readonly string[], options: unknown, groups: number): boolean {
  if (options === undefined) return (REQUIRED[name] ?? []).length > 0;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return true;
  const o = options as Rec;
  if (Object.keys(o).some((k) => !keys.includes(k))) return true;
  if ((REQUIRED[name] ?? []).some((alts) => alts.every((k) => o[k] === undefined))) return true;
  const cycling = o.cycleMomentum === undefined || o.cycleMomentum === true;
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    // As in PyTorch, epochs and stepsPerEpoch are not read when totalSteps is given.
    if ((k === 'epochs' || k === 'stepsPerEpoch') && o.totalSteps !== undefined) continue;
    if (k === 'lrLambda') {
      if (typeof v === 'function') continue;
      if (!Array.isArray(v) || v.length !== groups || v.some((f) => typeof f !== 'function')) return true;
    } else if (k === 'scaleFn') {
      if (typeof v !== 'function') return true;
    } else if (k === 'cycleMomentum' || k === 'threePhase') {
      if (typeof v !== 'boolean') return true;
    } else if (k === 'mode') {
      if (typeof v !== 'string' || !(name === 'ReduceLROnPlateau' ? ['min', 'max'] : ['triangular', 'triangular2', 'expRange', 'exp_range']).includes(v)) return true;
    } else if (STRING_OPTIONS[k]) {
      if (typeof v !== 'string' || !STRING_OPTIONS[k]!.includes(v)) return true;
    } else if (k === 'milestones') {
      if (!Array.isArray(v) || v.some((m) => !Number.isInteger(m) || (m as number) < 0)) return true;
    } else if (PER_GROUP.has(k)) {
      if ((k === 'baseMomentum' || k === 'maxMomentum') && !cycling) continue;
      const list = Array.isArray(v) ? v : [v];
      if ((Array.isArray(v) && v.length !== groups) || list.some((x) => !finiteNumber(x) || x < 0)) return true;
    } else if (k === 'lastEpoch') {
      if (!Number.isInteger(v) || (v as number) < -1) return true;
    } else if (!finiteNumber(v)) return true;
  }
  return false;
}

/** A scheduler's target: a real optimizer (1 or 2 groups, maybe resuming, maybe with a bad live lr) or garbage. */
const schedulerTarget = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom('SGD', 'Adam', 'RMSprop', 'Adagrad'), fc.integer({ min: 1, max: 2 }), fc.boolean(), fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage })) as fc.Arbitrary<unknown> },
  { weight: 1, arbitrary: garbage.map((g) => ({ paramGroups: g })) },
  { weight: 1, arbitrary: garbage },
);

function buildTarget(spec: unknown): { optimizer: unknown; params: Parameter[] } {
  if (!Array.isArray(spec) || spec.length !== 4 || !OPTIMIZER_NAMES.includes(spec[0])) return { optimizer: spec, params: [] };
  const [name, groups, resuming, badLr] = spec as [string, number, boolean, unknown];
  const params = makeParams([3, 2], 51, ['s0', 's1']);
  const info = optimizerInfo(name);
  const opt = new info.ctor(params.slice(0, groups).map((p) => ({ params: [p] })), name === 'SGD' ? { lr: 0.1, momentum: 0.9 } : { lr: 0.01 }) as AnyOptimizer;
  if (resuming) opt.paramGroups.forEach((g) => (g.initialLr = 0.05));
  if (badLr !== undefined) (opt.paramGroups[0] as Rec).lr = badLr;
  return { optimizer: opt, params };
}

function targetInvalid(optimizer: unknown): boolean {
  if (optimizer === null || typeof optimizer !== 'object') return true;
  const groups = (optimizer as Rec).paramGroups;
  if (!Array.isArray(groups) || groups.length === 0) return true;
  return groups.some((g) => g === null || typeof g !== 'object' || !finiteNumber((g as Rec).lr) || ((g as Rec).lr as number) < 0);
}

function targetState(c: Canon, optimizer: unknown, params: readonly Parameter[], extra: unknown = null): string {
  return c.of({ groups: attempt(() => (optimizer as Rec | null)?.paramGroups), params: paramState(params), extra });
}

test('fuzz: scheduler constructors given bad optimizers or options reject them by name and value without touching the param groups, and their steps stay clean', (t) => {
  const arb = fc.constantFrom(...SCHEDULER_NAMES).chain((name) => {
    const { keys } = schedulerInfo(name);
    const value = (k: string) => fc.oneof({ weight: 4, arbitrary: SCHEDULER_SANE[k] ?? garbage }, { weight: 1, arbitrary: garbage });
    const required = (REQUIRED[name] ?? []).map((alts) => alts[0]!);
    const options = fc
      .tuple(
        fc.tuple(...required.map((k) => fc.oneof({ weight: 8, arbitrary: value(k).map((v) => [[k, v]] as Array<[string, unknown]>) }, { weight: 1, arbitrary: fc.constant([] as Array<[string, unknown]>) }))),
        sparseObject(keys.filter((k) => !required.includes(k)), value, 3),
      )
      .map(([req, rest]) => Object.fromEntries([...req.flat(), ...Object.entries(rest)]));
    return fc.tuple(
      fc.constant(name),
      schedulerTarget,
      fc.oneof({ weight: 10, arbitrary: options as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }),
      fc.array(fc.oneof(dbl(0, 2), garbage), { maxLength: 3 }),
    );
  });
  check(
    t,
    fc.property(arb, ([name, targetSpec, options, metrics]) => {
      const { ctor, keys } = schedulerInfo(name);
      const { optimizer, params } = buildTarget(targetSpec);
      const groups = Array.isArray((optimizer as Rec | null)?.paramGroups) ? ((optimizer as Rec).paramGroups as unknown[]).length : 0;
      const c = new Canon();
      let scheduler: LRScheduler | ReduceLROnPlateau | undefined;
      // Judged before the call: construction writes the lr (which may then be negative, as documented).
      const invalid = targetInvalid(optimizer) || schedulerOptionsInvalid(name, keys, options, groups);
      const threw = rejectsCleanly(
        () => (scheduler = new ctor(optimizer, options)),
        `${name}: `,
        () => targetState(c, optimizer, params),
        'the optimizer',
        (e) =>
          checkNamed(
            e.message,
            // OneCycleLR's "expected totalSteps, or both epochs and stepsPerEpoch, received neither" names no value.
            [['optimizer', optimizer], ...keyed(options).map(([k, v]) => [k, name === 'OneCycleLR' && ['totalSteps', 'epochs', 'stepsPerEpoch'].includes(k) ? NO_VALUE : v] as const)],
            ['optimizer', 'param group', 'initialLr', 'totalSteps', 'lrLambda', 'cycleMomentum', 'options', 'milestones', 'required', 'expected'],
          ),
      );
      if (threw) return;
      if (invalid) fail(`new ${name} accepted an invalid optimizer or options`);
      // A few steps: each either works or is rejected cleanly.
      for (const metric of metrics) {
        const s = scheduler!;
        const call = s instanceof ReduceLROnPlateau ? () => s.step(metric as number) : () => (s as LRScheduler).step();
        rejectsCleanly(call, name, () => targetState(c, optimizer, params, attempt(() => s.stateDict())), 'the optimizer and scheduler');
      }
    }),
    1200,
  );
});

test('fuzz: SequentialLR and ChainedScheduler given bad children or milestones reject them without touching the children or the param groups', (t) => {
  const child = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('StepLR', 'ExponentialLR', 'ConstantLR') as fc.Arbitrary<unknown> },
    { weight: 2, arbitrary: scalar.map((v) => ['LambdaLR', v]) as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: fc.constantFrom('ReduceLROnPlateau', 'other optimizer') as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: garbage },
  );
  const arb = fc.record({
    kind: fc.constantFrom('SequentialLR', 'ChainedScheduler'),
    children: fc.oneof({ weight: 8, arbitrary: fc.array(child, { maxLength: 3 }) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }),
    milestones: fc.oneof({ weight: 4, arbitrary: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }),
    lastEpoch: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }),
    passOptimizer: fc.boolean(),
    steps: fc.integer({ min: 0, max: 3 }),
  });
  check(
    t,
    fc.property(arb, ({ kind, children, milestones, lastEpoch, passOptimizer, steps }) => {
      const params = makeParams([3], 61, ['q0']);
      const opt = new SGD(params, { lr: 0.1, momentum: 0.9 });
      const other = new Adam(makeParams([2], 62), { lr: 0.1 });
      let built: unknown = children;
      let childrenInvalid = !Array.isArray(children) || children.length === 0;
      if (Array.isArray(children)) {
        built = children.map((ch) => {
          try {
            if (ch === 'StepLR') return new StepLR(opt, { stepSize: 2 });
            if (ch === 'ExponentialLR') return new api.ExponentialLR(opt, { gamma: 0.9 });
            if (ch === 'ConstantLR') return new api.ConstantLR(opt);
            if (ch === 'ReduceLROnPlateau') return (childrenInvalid = true), new ReduceLROnPlateau(opt);
            if (ch === 'other optimizer') return new StepLR(other, { stepSize: 2 });
            if (Array.isArray(ch) && ch[0] === 'LambdaLR') return new api.LambdaLR(opt, { lrLambda: returning(ch[1]) as never });
          } catch {
            // a child refused its own construction: pass the value it was built from instead
          }
          childrenInvalid = true;
          return ch;
        });
      }
      const c = new Canon();
      const snapshot = () => targetState(c, opt, params, Array.isArray(built) ? built.map((s) => (s instanceof LRScheduler ? attempt(() => s.stateDict()) : null)) : null);
      let s: LRScheduler | undefined;
      const options = kind === 'SequentialLR' ? Object.fromEntries([['schedulers', built], ['milestones', milestones], ...(lastEpoch === undefined ? [] : [['lastEpoch', lastEpoch]])]) : undefined;
      const call = kind === 'SequentialLR' ? () => (s = new SequentialLR(opt, options as never)) : () => (s = new ChainedScheduler(built as never, passOptimizer ? opt : undefined));
      const threw = rejectsCleanly(call, `${kind}: `, snapshot, 'the optimizer and the child schedulers', (e) =>
        checkNamed(e.message, [['milestones', milestones], ['lastEpoch', lastEpoch]], ['schedulers', 'scheduler', 'optimizer', 'param group']),
      );
      if (threw) return;
      const n = Array.isArray(built) ? built.length : 0;
      // Every child must drive the same optimizer: the one given, else the first child's.
      const driven = Array.isArray(built) ? built.map((s) => (s instanceof LRScheduler ? s.optimizer : undefined)) : [];
      const expected = kind === 'SequentialLR' || passOptimizer ? opt : driven[0];
      if (driven.some((o) => o !== expected)) childrenInvalid = true;
      const milestonesInvalid =
        !Array.isArray(milestones) || milestones.length !== n - 1 || milestones.some((m, i) => !Number.isInteger(m) || m < 0 || (i > 0 && m < milestones[i - 1]));
      const lastEpochInvalid = lastEpoch !== undefined && (!Number.isInteger(lastEpoch) || (lastEpoch as number) < -1);
      if (childrenInvalid || (kind === 'SequentialLR' && (milestonesInvalid || lastEpochInvalid))) fail(`new ${kind} accepted invalid children, milestones or lastEpoch`);
      for (let i = 0; i < steps; i++) rejectsCleanly(() => s!.step(), '', snapshot, 'the optimizer and the child schedulers');
    }),
    800,
  );
});

test('fuzz: scheduler loadStateDict with mutated valid state dicts is all-or-nothing', (t) => {
  const arb = fc.record({
    name: fc.constantFrom(...SCHEDULER_NAMES),
    steps: fc.integer({ min: 0, max: 4 }),
    mutations: fc.array(sdMutation, { maxLength: 2 }),
    json: fc.boolean(),
  });
  const make: Record<string, (o: AnyOptimizer) => LRScheduler | ReduceLROnPlateau> = {
    StepLR: (o) => new StepLR(o, { stepSize: 2 }),
    MultiStepLR: (o) => new api.MultiStepLR(o, { milestones: [1, 3] }),
    ExponentialLR: (o) => new api.ExponentialLR(o, { gamma: 0.9 }),
    CosineAnnealingLR: (o) => new api.CosineAnnealingLR(o, { tMax: 5 }),
    CosineAnnealingWarmRestarts: (o) => new api.CosineAnnealingWarmRestarts(o, { t0: 2, tMult: 2 }),
    CyclicLR: (o) => new api.CyclicLR(o, { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 2 }),
    OneCycleLR: (o) => new api.OneCycleLR(o, { maxLr: 0.1, totalSteps: 20 }),
    LambdaLR: (o) => new api.LambdaLR(o, { lrLambda: (e: number) => 0.9 ** e }),
    MultiplicativeLR: (o) => new api.MultiplicativeLR(o, { lrLambda: () => 0.9 }),
    ReduceLROnPlateau: (o) => new ReduceLROnPlateau(o, { patience: 1 }),
  };
  check(
    t,
    fc.property(arb, ({ name, steps, mutations, json }) => {
      const build = make[name] ?? ((o: AnyOptimizer) => new (schedulerInfo(name).ctor)(o, {}));
      const pair = [71, 72].map((seed) => {
        const params = makeParams([3, 2], seed, ['r0', 'r1']);
        const opt = new SGD([{ params: [params[0]!] }, { params: [params[1]!] }], { lr: 0.1, momentum: 0.9 });
        const s = build(opt);
        return { params, opt, s };
      });
      const [A, B] = pair as [(typeof pair)[0], (typeof pair)[0]];
      for (let i = 0; i < steps; i++) A.s instanceof ReduceLROnPlateau ? A.s.step(1) : A.s.step();
      const orig = A.s.stateDict();
      const sd = json ? JSON.parse(JSON.stringify(orig)) : A.s.stateDict();
      const log = mutations.map((m) => applySdMutation(sd, m)).filter((x): x is Applied => x !== undefined).map(describeApplied).join('; ') || 'no mutation';
      const c = new Canon();
      const snapshot = () => targetState(c, B.opt, B.params, attempt(() => B.s.stateDict()));
      const threw = rejectsCleanly(() => B.s.loadStateDict(sd), `${name}.loadStateDict: `, snapshot, `the scheduler (after: ${log})`);
      if (threw) return;
      // An accepted state is one the scheduler can step from.
      rejectsCleanly(() => (B.s instanceof ReduceLROnPlateau ? B.s.step(1) : B.s.step()), name, snapshot, `the scheduler stepped after loading (${log})`);
    }),
    800,
  );
});

// ---------------------------------------------------------------------------------------------
// Gradient clipping and monitoring

test('fuzz: clipGradNorm, clipGradValue and getTotalNorm reject bad maxNorm, normType, options and params before any gradient changes', (t) => {
  const refs = fc.integer({ min: 0, max: 3 }).map((i) => new Ref(i));
  const paramsSpec = fc.oneof(
    { weight: 5, arbitrary: fc.array(fc.oneof({ weight: 8, arbitrary: refs as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), { maxLength: 4 }) as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: refs as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: fc.array(refs, { maxLength: 3 }).map((a) => new SetOf(a)) as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: garbage },
  );
  const options = fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: garbage },
    {
      weight: 5,
      arbitrary: sparseObject(['normType', 'errorIfNonfinite'], (k) => (k === 'normType' ? fc.oneof(fc.constantFrom(1, 2, Infinity, 0.5, 3), garbage) : fc.oneof(fc.boolean(), garbage))) as fc.Arbitrary<unknown>,
    },
  );
  const mutation = fc.oneof(
    fc.tuple(fc.constant('detachGrad'), fc.integer({ min: 0, max: 3 })),
    fc.tuple(fc.constant('nullGrad'), fc.integer({ min: 0, max: 3 })),
    fc.tuple(fc.constant('nonFiniteGrad'), fc.integer({ min: 0, max: 3 }), fc.constantFrom(NaN, Infinity, -Infinity)),
  ) as fc.Arbitrary<Mutation>;
  const arb = fc.record({
    fn: fc.constantFrom('clipGradNorm', 'clipGradValue', 'getTotalNorm'),
    params: paramsSpec,
    limit: fc.oneof({ weight: 3, arbitrary: dbl(0, 5) as fc.Arbitrary<unknown> }, { weight: 2, arbitrary: garbage }),
    options,
    mutations: fc.array(mutation, { maxLength: 2 }),
    lengths: fc.tuple(lengthArb, lengthArb, lengthArb, lengthArb),
  });
  check(
    t,
    fc.property(arb, ({ fn, params, limit, options, mutations, lengths }) => {
      const pool = makeParams(lengths, 81, ['g0', 'g1', 'g2', 'g3']);
      for (const [kind, i, v] of mutations as Array<[string, number, number]>) {
        if (kind === 'detachGrad') detach(pool[i]!.grad);
        else if (kind === 'nullGrad') pool[i]!.grad = null;
        else if (pool[i]!.grad && pool[i]!.grad!.length > 0) pool[i]!.grad![0] = v;
      }
      const arg = resolve(params, pool);
      const o = options as Rec | undefined;
      const optionKeys = fn === 'clipGradNorm' ? ['normType', 'errorIfNonfinite'] : ['normType'];
      const list = arg instanceof Parameter ? [arg] : arg !== null && typeof arg === 'object' && typeof (arg as Iterable<unknown>)[Symbol.iterator] === 'function' ? [...(arg as Iterable<unknown>)] : undefined;
      const badParams = list === undefined || list.some((p) => !(p instanceof Parameter) || (p.grad !== null && p.grad.length !== p.numel));
      const badLimit = fn !== 'getTotalNorm' && (!finiteNumber(limit) || limit < 0);
      const badOptions =
        fn !== 'clipGradValue' &&
        options !== undefined &&
        (options === null ||
          typeof options !== 'object' ||
          Array.isArray(options) ||
          Object.keys(options).some((k) => !optionKeys.includes(k)) ||
          (o!.normType !== undefined && o!.normType !== Infinity && (!finiteNumber(o!.normType) || o!.normType <= 0)) ||
          (o!.errorIfNonfinite !== undefined && typeof o!.errorIfNonfinite !== 'boolean'));
      const nonFinite = fn === 'clipGradNorm' && !badParams && o?.errorIfNonfinite === true && (list as Parameter[]).some((p) => p.grad?.some((x) => !Number.isFinite(x)));
      const c = new Canon();
      const call =
        fn === 'clipGradNorm'
          ? () => clipGradNorm(arg as Parameter[], limit as number, options as never)
          : fn === 'clipGradValue'
            ? () => clipGradValue(arg as Parameter[], limit as number)
            : () => getTotalNorm(arg as Parameter[], options as never);
      const threw = rejectsCleanly(call, `${fn}: `, () => c.of(paramState(pool)), 'the gradients', (e) =>
        checkNamed(e.message, [[fn === 'clipGradNorm' ? 'maxNorm' : 'clipValue', limit], ...(fn === 'clipGradValue' ? [] : keyed(options))], ['params', 'grad', 'norm', 'overlapping']),
      );
      if (!threw && (badParams || badLimit || badOptions || nonFinite)) fail(`${fn} accepted invalid arguments`);
    }),
    1000,
  );
});

test('fuzz: GradNormMonitor given bad options or a non-optimizer rejects them and leaves the optimizer stepping as before', (t) => {
  const keys = ['historySize', 'emaBeta', 'explodeFactor', 'vanishThreshold', 'warmupSteps', 'perParameter', 'onEvent'];
  const sane: Record<string, fc.Arbitrary<unknown>> = {
    historySize: fc.integer({ min: 1, max: 10 }),
    emaBeta: dbl(0, 0.99),
    explodeFactor: dbl(1.5, 20),
    vanishThreshold: dbl(0, 1e-3),
    warmupSteps: fc.integer({ min: 0, max: 5 }),
    perParameter: fc.boolean(),
    onEvent: fc.constant(returning(undefined)),
  };
  const arb = fc.record({
    target: fc.oneof({ weight: 5, arbitrary: fc.constant('optimizer') as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }),
    options: fc.oneof({ weight: 6, arbitrary: sparseObject(keys, (k) => fc.oneof({ weight: 3, arbitrary: sane[k]! }, { weight: 2, arbitrary: garbage })) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }),
  });
  check(
    t,
    fc.property(arb, ({ target, options }) => {
      const { opt, pool } = warm(optimizerInfo('Adam'), [3, 4, 5], {}, 1, 91);
      const optimizer = target === 'optimizer' ? opt : target;
      const c = new Canon();
      const o = options as Rec | null;
      const threw = rejectsCleanly(
        () => new GradNormMonitor(optimizer as AnyOptimizer, options as never),
        'GradNormMonitor: ',
        () => c.of(optimizerState(opt, pool)),
        'the optimizer',
        (e) => checkNamed(e.message, keyed(options), ['optimizer']),
      );
      const invalid =
        (optimizer !== undefined && !(optimizer instanceof Optimizer)) ||
        (options !== undefined &&
          (options === null ||
            typeof options !== 'object' ||
            Array.isArray(options) ||
            Object.keys(o!).some((k) => !keys.includes(k)) ||
            Object.entries(o!).some(([k, v]) => v !== undefined && (k === 'perParameter' ? typeof v !== 'boolean' : k === 'onEvent' ? typeof v !== 'function' : !finiteNumber(v)))));
      if (!threw && invalid) fail('new GradNormMonitor accepted invalid arguments');
      // A rejected monitor left no observer behind: the optimizer steps as before.
      opt.step();
    }),
    500,
  );
});

// ---------------------------------------------------------------------------------------------
// Valid configurations: finite in, finite out

test('fuzz: with sane hyperparameters and finite data and gradients, a few steps of any optimizer keep every parameter finite', (t) => {
  const arb = fc.constantFrom(...OPTIMIZER_NAMES).chain((name) =>
    fc.record({
      name: fc.constant(name),
      options: saneOptions(optimizerInfo(name)).map((o) => ({ ...o, skipNonFinite: false })),
      lengths: lengthsArb,
      scale: fc.constantFrom(1e-6, 1, 100),
      steps: fc.integer({ min: 1, max: 4 }),
      zeroGrads: fc.boolean(),
    }),
  );
  check(
    t,
    fc.property(arb, ({ name, options, lengths, scale, steps, zeroGrads }) => {
      const info = optimizerInfo(name);
      const { opt, pool } = warm(info, lengths, options, 0, 101);
      for (let s = 0; s < steps; s++) {
        pool.slice(0, 3).forEach((p, i) => (p.grad = zeroGrads && s === 0 ? new Float32Array(p.numel) : values(200 + 10 * s + i, p.numel).map((x) => x * scale)));
        opt.step();
      }
      for (const p of pool.slice(0, 3)) {
        const bad = p.data.findIndex((x) => !Number.isFinite(x));
        if (bad >= 0) fail(`${name} with ${fc.stringify(opt.paramGroups.map((g) => ({ ...g, params: undefined })))} made ${p.name}[${bad}] = ${p.data[bad]}`);
      }
    }),
    500,
  );
});

// ---------------------------------------------------------------------------------------------
// Regressions: the minimal counterexamples of bugs the properties found, kept as plain tests.


// LRScheduler construction wrote initialLr (and CyclicLR its lr and momentum) into the param groups
// before the construction-time step called the user's function, and kept them when that step
// rejected the function's value.
test('a LambdaLR or CyclicLR rejected because its function returns NaN leaves the param groups as they were', (t) => {
  const groups = (opt: AnyOptimizer) => JSON.stringify(opt.paramGroups.map((g) => ({ ...g, params: undefined })));
  const a = new SGD([new Parameter(new Float32Array(2))], { lr: 0.1, momentum: 0.9 });
  const beforeA = groups(a);
  rejects(t, () => new api.LambdaLR(a, { lrLambda: () => NaN }), /^LambdaLR: expected lrLambda\[0\]\(0\) to return a finite number, received NaN$/);
  t.is(groups(a), beforeA, 'LambdaLR left initialLr: 0.1 in the group');
  const b = new SGD([new Parameter(new Float32Array(2))], { lr: 0.1, momentum: 0.9 });
  const beforeB = groups(b);
  rejects(t, () => new api.CyclicLR(b, { baseLr: 0.01, maxLr: 0.1, scaleFn: () => NaN }), /^CyclicLR: expected scaleFn\(1\) to return a finite number, received NaN$/);
  t.is(groups(b), beforeB, 'CyclicLR left lr 0.01 and initialLr 0.01 in the group');
});

// LAMB: a direction u below float32's normal range gave a tiny but non-zero ‖u‖, a trust ratio
// φ/‖u‖ ≈ 1e44, and −η·r overflowed float32, writing ±Infinity and NaN (0 · ∞).
test('LAMB with weightDecay 1e-44 and a zero gradient keeps finite weights [1, 0] finite (the trust ratio is 1 below float32\'s normal range)', (t) => {
  const w = new Parameter(new Float32Array([1, 0]), { name: 'w' });
  const opt = new api.LAMB([w], { weightDecay: 1e-44 });
  w.grad = new Float32Array(2);
  opt.step();
  t.true(w.data.every((x) => Number.isFinite(x)), `w = [${Array.from(w.data).join(', ')}]`);
});

// Optimizer.stateDict saved a group's initialLr as it was, while loadStateDict requires a finite
// number >= 0: a saved state that could not be restored. Either refusing to save or loading back
// satisfies this test.
test('after paramGroups[0].initialLr = "", stateDict() refuses the group rather than save what loadStateDict() cannot read', (t) => {
  const w = new Parameter(new Float32Array(2), { name: 'w' });
  const opt = new api.AdaBound([w]);
  (opt.paramGroups[0] as Rec).initialLr = '';
  let saved: unknown;
  try {
    opt.step();
    saved = JSON.parse(JSON.stringify(opt.stateDict()));
  } catch (e) {
    t.true(e instanceof TypeError || e instanceof RangeError, String(e));
    return; // refused when saving: fine
  }
  t.notThrows(() => opt.loadStateDict(saved as never));
});
