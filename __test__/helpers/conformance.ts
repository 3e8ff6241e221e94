/**
 * The machinery of the conformance suite (`__test__/conformance.spec.ts`) and of its child
 * processes (`conformance-child.ts`): every registered optimizer built from its registry entry,
 * its oracle run over a scenario and compared bit for bit with the native run, the scenarios its
 * oracle is checked on, its option variants (derived from the descriptor and the oracle table)
 * and the bad values of each of its options.
 * @module
 */
import { defaultsOf, OPTIMIZERS, Parameter, type NumberRule, type Optimizer, type OptionSpec, type ParamStateEntry, type RegisteredOptimizer } from '../../ts/index.js';
import { pairRange } from '../../ts/optim/descriptor.js';
import { ruleText } from '../../ts/validate.js';
import { ORACLES, randomLr, type OracleEntry, type OracleOptions, type OracleState } from '../oracles/index.js';
import { decode, firstDiff } from './compare.js';
import { Rng } from './data.js';
import { loadFixture } from './fixtures.js';
import { AWKWARD_LENGTHS, finishStep, fixtureScenario, prepareStep, randomScenario, scenarioGroups, scenarioParams, type Options, type Scenario } from './scenario.js';

/** Any registered optimizer, with its options untyped. */
export type AnyOptimizer = Optimizer<{ lr: number } & Record<string, unknown>>;

/** The registry's names, in its (alphabetical) order. */
export const NAMES: readonly string[] = Object.keys(OPTIMIZERS);

/** A registry entry, by name. */
export function registered(name: string): RegisteredOptimizer {
  const r = OPTIMIZERS[name];
  if (!r) throw new Error(`${name} is not in the registry OPTIMIZERS`);
  return r;
}

/** The class name of a registered optimizer (`AdamW`), as its messages and the test titles use it. */
export function className(name: string): string {
  return registered(name).descriptor.name;
}

/** The oracle table's entry of a registered optimizer; throws, naming what is missing, if it has none. */
export function oracleOf(name: string): OracleEntry {
  const e = ORACLES[name];
  if (!e) throw new Error(`${className(name)} (registry name ${JSON.stringify(name)}) has no oracle: add one to __test__/oracles/index.ts`);
  return e;
}

/** The descriptor's options as `[key, spec]` pairs, in order. */
export function optionSpecs(name: string): Array<[string, OptionSpec]> {
  return Object.entries(registered(name).descriptor.options as Record<string, OptionSpec>);
}

/** The descriptor's defaults. */
export function defaultsOfName(name: string): Options {
  return { ...(defaultsOf(registered(name).descriptor) as Options) };
}

/**
 * A new optimizer of the registered class, ready to step: one with `train()` (Schedule-Free,
 * which starts in eval mode as the reference does) is put in train mode.
 */
export function create(name: string, params: unknown, options?: unknown): AnyOptimizer {
  const { Class } = registered(name);
  const opt = new (Class as unknown as new (p: unknown, o?: unknown) => AnyOptimizer & { train?(): void })(params, options);
  opt.train?.();
  return opt;
}

/** The keys of an optimizer's per-group scalar state (Schedule-Free's `k`, `trainMode`, ...). */
export function groupStateKeys(name: string): string[] {
  return Object.keys(registered(name).descriptor.groupState?.entries ?? {});
}

/** The optimizer of a scenario over `params`. */
export function construct(name: string, sc: Scenario, params: readonly Parameter[]): AnyOptimizer {
  return create(name, scenarioGroups(sc, params));
}

// ------------------------------------------------------------------------------------- oracle

/** What the oracle did over a scenario: every tensor after every step, the final state, and each group's final options (which hold its scalar state). */
export interface OracleRun {
  after: Float32Array[][];
  state: Array<OracleState | undefined>;
  groups: OracleOptions[];
}

/** Each group's options, resolved as the optimizer resolves them when the group is added. */
export function resolvedOptions(name: string, sc: Scenario): OracleOptions[] {
  const entry = oracleOf(name);
  const defaults = defaultsOfName(name);
  return sc.groups.map((g) => {
    const o = { ...defaults, ...g.options };
    return entry.resolve ? entry.resolve(o) : o;
  });
}

/** Runs the oracle over a scenario: every tensor after every step, and the final state of each tensor. */
export function runOracle(name: string, sc: Scenario): OracleRun {
  const entry = oracleOf(name);
  const options = resolvedOptions(name, sc);
  const data = sc.init.map((d) => d.slice());
  const state: Array<OracleState | undefined> = sc.init.map(() => undefined);
  if (entry.initialState) sc.groups.forEach((g, gi) => g.members.forEach((j) => (state[j] = entry.initialState!(sc.init[j]!.length, options[gi]!))));
  const after: Float32Array[][] = [];
  const byGroup = () => sc.groups.map((g) => g.members.map((j) => data[j]!));
  const stateByGroup = () => sc.groups.map((g) => g.members.map((j) => state[j]));
  // As `create`, which puts an optimizer with modes in train mode.
  entry.modes?.train(byGroup(), stateByGroup(), options);
  sc.grads.forEach((grads, t) => {
    if (t > 0 && sc.evalAfter?.includes(t - 1)) entry.modes?.train(byGroup(), stateByGroup(), options);
    sc.lrs?.[t]?.forEach((lr, gi) => {
      if (lr !== undefined) options[gi]!.lr = lr;
    });
    const st = stateByGroup();
    entry.step(
      byGroup(),
      sc.groups.map((g) => g.members.map((j) => grads[j] ?? null)),
      st,
      options,
    );
    sc.groups.forEach((g, gi) => g.members.forEach((j, k) => (state[j] = st[gi]![k])));
    if (sc.evalAfter?.includes(t)) entry.modes?.eval(byGroup(), stateByGroup(), options);
    after.push(data.map((d) => d.slice()));
  });
  return { after, state, groups: options };
}

/** The difference between a native state entry and an oracle state, or null. */
export function entryDiff(got: ParamStateEntry | undefined, want: OracleState | undefined): string | null {
  if (!got || !want) return got || want ? `native state ${got ? 'present' : 'absent'}, oracle state ${want ? 'present' : 'absent'}` : null;
  const names = (o: object) =>
    Object.keys(o)
      .filter((k) => (o as Record<string, unknown>)[k] !== undefined)
      .sort()
      .join(',');
  if (names(got) !== names(want)) return `native state [${names(got)}] vs oracle [${names(want)}]`;
  for (const [k, v] of Object.entries(want)) {
    if (v === undefined) continue;
    if (typeof v === 'number') {
      if (!Object.is(got[k], v)) return `${k}: native ${String(got[k])} vs oracle ${v}`;
    } else {
      const d = firstDiff(decode(got[k]!), v);
      if (d) return `${k}: ${d}`;
    }
  }
  return null;
}

/**
 * Runs the scenario natively and compares it with the oracle's run: every tensor after every
 * step and the final state of every tensor, bit for bit. Returns the first difference, or null.
 */
export function compareWithOracle(name: string, sc: Scenario, oracle: OracleRun): string | null {
  const params = scenarioParams(sc);
  const opt = construct(name, sc, params);
  for (let t = 0; t < sc.grads.length; t++) {
    prepareStep(sc, t, params, opt);
    opt.step();
    finishStep(sc, t, opt);
    for (let j = 0; j < params.length; j++) {
      const d = firstDiff(params[j]!.data, oracle.after[t]![j]!);
      if (d) return `after step ${t + 1}, tensor ${j} (length ${params[j]!.numel}): ${d}`;
    }
  }
  const sd = opt.stateDict().state;
  for (let j = 0; j < params.length; j++) {
    const d = entryDiff(sd[`p${j}`], oracle.state[j]);
    if (d) return `final state of tensor ${j}: ${d}`;
  }
  for (const key of groupStateKeys(name)) {
    for (let gi = 0; gi < sc.groups.length; gi++) {
      const got = (opt.paramGroups[gi] as Record<string, unknown>)[key];
      const want = oracle.groups[gi]![key];
      if (!Object.is(got, want)) return `final ${key} of param group ${gi}: native ${String(got)} vs oracle ${String(want)}`;
    }
  }
  return null;
}

/** Thread counts every oracle scenario runs at: one thread, and uneven splits of the chunks. */
export const CONFORMANCE_THREADS: readonly number[] = [1, 2, 3];

/** What one optimizer gave in a `conformance-child.ts` process. */
export interface ChildResult {
  scenarios: number;
  /** Per thread count: the scenarios that differ from the oracle (at most 5), with the first difference. */
  failures: Record<string, string[]>;
  /** An exception that stopped the optimizer's checks (no oracle, a crash), if any. */
  error?: string;
}

/** What a `conformance-child.ts` process prints: the SIMD level in force and each optimizer's result. */
export interface ChildReport {
  simd: string;
  detected: string;
  results: Record<string, ChildResult>;
}

// ------------------------------------------------------------------------------------- variants

/** JSON with sorted keys, so that equal options give equal strings. */
function canonical(o: OracleOptions): string {
  return JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))));
}

/**
 * The option variants of an optimizer: the defaults and each of the oracle table's variants, each
 * alone, with every boolean option of the descriptor toggled one at a time, and with all of them
 * toggled (a toggled flag brings what the table says it requires). Duplicates are dropped.
 */
export function variantsOf(name: string): OracleOptions[] {
  const entry = oracleOf(name);
  const flags = optionSpecs(name).filter(([, s]) => s.type === 'boolean') as Array<[string, OptionSpec & { default: boolean }]>;
  const out = new Map<string, OracleOptions>();
  const add = (o: OracleOptions) => {
    if (!out.has(canonical(o))) out.set(canonical(o), o);
  };
  const toggled = (base: OracleOptions, which: Array<[string, { default: boolean }]>): OracleOptions => {
    const o = { ...base };
    for (const [k] of which) Object.assign(o, entry.requires?.[k] ?? {});
    for (const [k, s] of which) o[k] = !s.default;
    return o;
  };
  for (const base of [{}, ...entry.variants]) {
    add(base);
    for (const f of flags) add(toggled(base, [f]));
    if (flags.length > 1) add(toggled(base, flags));
  }
  return [...out.values()];
}

/** A variant in a few words, for messages. */
export function describeVariant(o: OracleOptions): string {
  return Object.keys(o).length === 0 ? 'defaults' : canonical(o);
}

/**
 * A deterministic scenario over variant `i`: every awkward length and one above the parallel
 * threshold, group 0 with variant i, group 1 with the next variant at half the lr (so one step
 * mixes option sets), tensor 1 without a gradient at steps 2 and 3, a linear lr decay, 8 steps.
 */
export function variantScenario(name: string, variants: readonly OracleOptions[], i: number): Scenario {
  const r = new Rng(9001 + i);
  const lengths = [...AWKWARD_LENGTHS, 40001];
  const baseLr = (variants[i]!.lr as number | undefined) ?? (defaultsOfName(name).lr as number);
  const other = variants[(i + 1) % variants.length]!;
  const all = lengths.map((_, j) => j);
  const half = Math.ceil(lengths.length / 2);
  const steps = 8;
  return {
    label: `variant ${describeVariant(variants[i]!)} (second group: ${describeVariant(other)})`,
    init: lengths.map((n) => r.floats(n)),
    groups: [
      { members: all.slice(0, half), options: { ...variants[i]!, lr: baseLr } },
      { members: all.slice(half), options: { ...other, lr: baseLr / 2 } },
    ],
    grads: Array.from({ length: steps }, (_, t) => lengths.map((n, j) => (j === 1 && (t === 1 || t === 2) ? null : r.floats(n)))),
    lrs: Array.from({ length: steps }, (_, t) => [baseLr * (1 - t / 16), (baseLr / 2) * (1 - t / 16)]),
    // Modes switched mid-run and at the end (the final parameters are x).
    ...(oracleOf(name).modes ? { evalAfter: [3, steps - 1] } : {}),
  };
}

// ------------------------------------------------------------------------------------- scenarios

/** Seeded random scenarios per optimizer. */
export const RANDOM_SEEDS = 40;

/**
 * A seeded random scenario of an optimizer, its options drawn by its oracle table entry; for one
 * with modes, `eval()` after some steps (drawn from a generator of its own, so that the other
 * optimizers' scenarios stay as they were).
 */
export function randomScenarioOf(name: string, seed: number, lengths?: readonly number[]): Scenario {
  const entry = oracleOf(name);
  const sc = randomScenario(`random scenario ${seed}`, new Rng(seed), entry.random, entry.randomLr ?? ((r) => randomLr(r)), lengths);
  if (entry.modes) {
    const r = new Rng(seed ^ 0x5eed);
    sc.evalAfter = sc.grads.map((_, t) => t).filter(() => r.bool(0.3));
  }
  return sc;
}

/** A random scenario whose gradients hold NaN, +Infinity and -Infinity at step 2. */
export function nonFiniteScenario(name: string, seed: number): Scenario {
  const sc = randomScenarioOf(name, seed, [9, 17, 1025]);
  sc.label = `random scenario ${seed} with NaN and ±Infinity in the gradients of step 2`;
  for (const g of sc.grads[1] ?? []) if (g) [g[1], g[3], g[5]] = [NaN, Infinity, -Infinity];
  return sc;
}

/** The fixture cases of an optimizer as scenarios (its reference fixture, replayed through the oracle). */
export function fixtureScenarios(name: string): Scenario[] {
  const { descriptor } = registered(name);
  const file = loadFixture(descriptor.reference.fixture);
  const lr = defaultsOfName(name).lr as number;
  return file.cases.map((c) => fixtureScenario(c, c.options, lr));
}

/**
 * Every scenario an optimizer's oracle is checked on: {@link RANDOM_SEEDS} random ones, every
 * awkward length at once (one of them multithreaded), gradients with NaN and infinities, the
 * cases of its reference fixture, and each of its option variants.
 */
export function oracleScenarios(name: string): Scenario[] {
  const salt = [...name].reduce((a, c) => a * 31 + c.charCodeAt(0), 7) % 1000;
  const out: Scenario[] = [];
  for (let s = 1; s <= RANDOM_SEEDS; s++) out.push(randomScenarioOf(name, s * 7919 + salt));
  const awkward = randomScenarioOf(name, 4096 + salt, [...AWKWARD_LENGTHS, 40001]);
  awkward.label = `every awkward length at once, one of them multithreaded (${awkward.label})`;
  out.push(awkward);
  for (let s = 1; s <= 4; s++) out.push(nonFiniteScenario(name, 555 + s + salt));
  out.push(...fixtureScenarios(name));
  const variants = variantsOf(name);
  variants.forEach((_, i) => out.push(variantScenario(name, variants, i)));
  return out;
}

// ------------------------------------------------------------------------------------- bad values

/** The nearest double below / above x. */
export function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  const b = new Float64Array([x]);
  const i = new BigInt64Array(b.buffer);
  i[0] = i[0]! + (x > 0 ? -1n : 1n);
  return b[0]!;
}
export function nextUp(x: number): number {
  return -nextDown(-x);
}

/**
 * Values just outside a range: the excluded bound itself, the nearest double beyond an included
 * one, and one a unit beyond (where a unit still changes it: not beyond ASGD's lr bound of
 * 3.4e38); for an integer rule also a fraction within the bounds.
 */
export function outside(r: NumberRule): number[] {
  const out: number[] = [];
  const beyond = (x: number, by: number) => (x + by !== x ? [x + by] : []);
  if (r.min !== undefined) out.push(nextDown(r.min), ...beyond(r.min, -1));
  if (r.above !== undefined) out.push(r.above, nextDown(r.above));
  if (r.max !== undefined) out.push(nextUp(r.max), ...beyond(r.max, 1));
  if (r.below !== undefined) out.push(r.below, nextUp(r.below));
  if (r.integer) out.push((r.min ?? (r.above === undefined ? 0 : Math.floor(r.above) + 1)) + 0.5);
  return [...new Set(out)];
}

/** Values just inside a range: the nearest doubles (for an integer rule, integers) inside each bound. */
export function inside(r: NumberRule): number[] {
  const up = (x: number) => (r.integer ? Math.floor(x) + 1 : nextUp(x));
  const down = (x: number) => (r.integer ? Math.ceil(x) - 1 : nextDown(x));
  const out: number[] = [];
  if (r.min !== undefined) out.push(up(r.min));
  if (r.above !== undefined) out.push(up(r.above));
  if (r.max !== undefined) out.push(down(r.max));
  if (r.below !== undefined) out.push(down(r.below));
  return out;
}

/** One bad value of an option: the value, the error class, and the name the message must use (`betas[1]`, relative to the option's name). */
export interface BadValue {
  value: unknown;
  error: typeof TypeError | typeof RangeError;
  /** Appended to the option's name in the message: '' or `[i]` for an element of a pair. */
  suffix: string;
  /** What the message says the value should be (fragments of it: the option's rule, as `ruleText` words it). */
  expects: string[];
}

/**
 * The bad values of an option: values of the wrong type (TypeError), non-finite values and values
 * just outside its range (RangeError); for a pair also the wrong shape and each element's bad
 * values. `undefined` is bad only for a live param group (in options it means "the default").
 */
export function badValues(spec: OptionSpec, live: boolean): BadValue[] {
  const out: BadValue[] = [];
  const undef = live ? [undefined] : [];
  switch (spec.type) {
    case 'number': {
      const rule = ruleText(spec.range);
      for (const v of [String(spec.default), null, true, ...undef]) out.push({ value: v, error: TypeError, suffix: '', expects: [rule] });
      for (const v of [NaN, Infinity, -Infinity, ...outside(spec.range)]) out.push({ value: v, error: RangeError, suffix: '', expects: [rule] });
      break;
    }
    case 'derived': {
      const rule = ruleText(spec.range);
      for (const v of ['x', true, ...undef]) out.push({ value: v, error: TypeError, suffix: '', expects: [`${rule} or null`] });
      for (const v of [NaN, Infinity, ...outside(spec.range)]) out.push({ value: v, error: RangeError, suffix: '', expects: [rule] });
      break;
    }
    case 'boolean':
      for (const v of ['true', 1, 0, null, ...undef]) out.push({ value: v, error: TypeError, suffix: '', expects: ['a boolean'] });
      break;
    case 'pair': {
      const [a, b] = spec.default;
      for (const v of [a, [a], [a, b, b], 'x', null, ...undef]) out.push({ value: v, error: TypeError, suffix: '', expects: ['pair', ...spec.native] });
      for (const i of [0, 1] as const) {
        const at = (x: unknown) => (i === 0 ? [x, b] : [a, x]);
        const range = pairRange(spec, i);
        const rule = ruleText(range);
        out.push({ value: at(String(spec.default[i])), error: TypeError, suffix: `[${i}]`, expects: [rule] });
        for (const v of [NaN, Infinity, ...outside(range)]) out.push({ value: at(v), error: RangeError, suffix: `[${i}]`, expects: [rule] });
      }
      break;
    }
  }
  return out;
}

/** Values of an option just inside its range, which must be accepted. */
export function goodEdgeValues(spec: OptionSpec): unknown[] {
  switch (spec.type) {
    case 'number':
    case 'derived':
      return inside(spec.range);
    case 'pair':
      return [...inside(pairRange(spec, 0)).map((v) => [v, spec.default[1]]), ...inside(pairRange(spec, 1)).map((v) => [spec.default[0], v])];
    default:
      return [];
  }
}

/** A value as error messages show it (`-1`, `"x"`, `[0.9, 1]`, `null`), written independently of the library's formatter. */
export function shown(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(shown).join(', ')}]`;
  return String(v);
}

/** `s` with the characters of a regular expression escaped. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Keys that are not options, as a user could mistype them: each option's snake_case (PyTorch's
 * spelling), lower-case and capitalised spellings, the kernel's names of its hyperparameters
 * (`beta1`, `decoupled`), and the options of the other registered optimizers (`amsgrad` for
 * RMSprop).
 */
export function unknownKeys(name: string): string[] {
  const specs = optionSpecs(name);
  const keys = specs.map(([k]) => k);
  const out = new Set<string>();
  for (const [k, spec] of specs) {
    out.add(k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
    out.add(k.toLowerCase());
    out.add(k[0]!.toUpperCase() + k.slice(1));
    if (spec.type === 'pair') spec.native.forEach((n) => out.add(n));
    else if (spec.native !== undefined) out.add(spec.native);
  }
  for (const other of NAMES) for (const [k] of optionSpecs(other)) out.add(k);
  return [...out].filter((k) => !keys.includes(k));
}

/** A variant's options with an lr: its own, or `lr`. */
export function withLr(variant: OracleOptions, lr = 0.01): OracleOptions {
  return { ...variant, lr: (variant.lr as number | undefined) ?? lr };
}

/** Fresh parameters of the given lengths, with deterministic data and gradients. */
export function makeParams(lengths: readonly number[], seed: number, names = lengths.map((_, j) => `p${j}`)): Parameter[] {
  const r = new Rng(seed);
  return lengths.map((n, j) => {
    const p = new Parameter(r.floats(n), { name: names[j]! });
    p.grad = r.floats(n);
    return p;
  });
}
