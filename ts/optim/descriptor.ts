/**
 * One descriptor per optimizer: the single source of truth for its name, its options (default,
 * valid range, how each crosses to the native kernel), its state and its reference. The base
 * class derives validation, packing and `stateDict` keys from it; the CLI's `name:opt=v` specs,
 * the benchmark, the docs tables and the conformance tests read it from {@link OPTIMIZERS}.
 *
 * The packing order is not written here: it is the kernel's. The native side declares each
 * kernel's hyperparameters and state slots once (`crate/src/kernels`), and {@link packingPlan}
 * maps every one of them to an option of the descriptor, refusing a descriptor that misses one,
 * names one the kernel lacks or disagrees on the state slots.
 * @module
 */
import { kernelSignature } from '../native.js';
import { optionName } from './options.js';
import type { StateDtype } from './state-dtype.js';
import { checkBoolean, checkNumber, describeValue, ruleText, type NumberRule } from '../validate.js';

/**
 * A number option: crosses as one f64.
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface NumberOption {
  /** The kind of option: `'number'`. */
  readonly type: 'number';
  /** PyTorch's (or the reference's) default. */
  readonly default: number;
  /** The valid values: `{ min: 0 }` for ≥ 0, `{ above: 0, below: 1 }` for (0, 1), ... */
  readonly range: NumberRule;
  /** The kernel's name for it, when not the option's name in snake_case. */
  readonly native?: string;
}

/**
 * A boolean option: crosses as 0 or 1.
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface BooleanOption {
  /** The kind of option: `'boolean'`. */
  readonly type: 'boolean';
  /** PyTorch's (or the reference's) default. */
  readonly default: boolean;
  /** The kernel's name for it, when not the option's name in snake_case. */
  readonly native?: string;
}

/**
 * A pair of numbers (`betas`): crosses as two f64, named by `native`.
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface PairOption {
  /** The kind of option: `'pair'`. */
  readonly type: 'pair';
  /** PyTorch's (or the reference's) default, e.g. `[0.9, 0.999]`. */
  readonly default: readonly [number, number];
  /** The range of each element, or one range per element (Rprop's `etas`: `(0, 1)` and `> 1`); see {@link pairRange}. */
  readonly range: NumberRule | readonly [NumberRule, NumberRule];
  /** The kernel's names of the two elements, e.g. `['beta1', 'beta2']`. */
  readonly native: readonly [string, string];
}

/**
 * A number that may be `null` in the defaults; a group added with `null` takes the value of the
 * option `from` at that moment (AdaBound's `baseLr` is the group's lr when it was added).
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface DerivedOption {
  /** The kind of option: `'derived'`. */
  readonly type: 'derived';
  /** Always `null`: the value comes from the option {@link DerivedOption.from | from}. */
  readonly default: null;
  /** The valid values when the option is given a number. */
  readonly range: NumberRule;
  /** The option whose value a `null` takes when the group is added. */
  readonly from: string;
  /** The kernel's name for it, when not the option's name in snake_case. */
  readonly native?: string;
}

/**
 * How one option is checked and crosses to the kernel.
 * @group Optimizers
 * @category Registry and descriptors
 */
export type OptionSpec = NumberOption | BooleanOption | PairOption | DerivedOption;

/**
 * A scalar state computed from a parameter's step counter and its group's options (see
 * {@link OptimizerDescriptor.computedState}).
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface ComputedState<O extends object = object> {
  /** Its name in `stateDict` entries: `'mu'`. */
  readonly name: string;
  /** Its value after `step` steps of a parameter of a group with options `group`. */
  value(step: number, group: O): number;
}

/**
 * One scalar of a param group's state (see {@link GroupState}).
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface GroupStateEntry {
  /** Its value in a new group: a number, or a boolean for a flag. */
  readonly init: number | boolean;
  /** A number's valid values, checked at every step and in `loadStateDict`. */
  readonly range?: NumberRule;
}

/**
 * Scalar state kept per param group rather than per parameter (Schedule-Free's `k`,
 * `weightSum`, `lrMax`, `scheduledLr`, `trainMode`), as PyTorch optimizers keep such values in
 * the group's dict. It lives on the live param group beside the options, `stateDict` lists it
 * in its param groups and `loadStateDict` restores it; unlike an option it cannot be given to a
 * constructor or `addParamGroup` (a new group starts from the `init` values). Each step computes
 * every group's next state and the kernel hyperparameters that depend on it with
 * {@link GroupState.advance}, in f64, and keeps the new state only if the step is applied.
 * @typeParam O - the resolved options of a param group.
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface GroupState<O extends object = object> {
  /** Each scalar, by its camelCase name, in the order `stateDict` lists them. */
  readonly entries: Readonly<Record<string, GroupStateEntry>>;
  /** Options that only {@link GroupState.advance} reads: they are not kernel hyperparameters. */
  readonly options: readonly string[];
  /** The kernel hyperparameters {@link GroupState.advance} computes, by their kernel names. */
  readonly hyper: readonly string[];
  /**
   * One step of a group (every group advances at every step, whether or not its parameters have
   * gradients, as the reference loops over its groups): from its options and its state before the
   * step, the entries that change and the values of {@link GroupState.hyper}. `where` names the
   * group in messages (`param group 1`).
   * @throws RangeError when a value it computes is not finite.
   */
  advance(
    group: O,
    state: Readonly<Record<string, number | boolean>>,
    where: string,
  ): {
    /** The entries that change, with their values after the step. */
    readonly state: Readonly<Record<string, number>>;
    /** The values of {@link GroupState.hyper}, by kernel name. */
    readonly hyper: Readonly<Record<string, number>>;
  };
}

/**
 * Where an optimizer's update rule comes from: what its fixtures are generated with.
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface Reference {
  /** The implementation followed, e.g. `torch.optim.AdamW` or `torch-optimizer AdaBound`. */
  readonly implementation: string;
  /** Its documentation or source. */
  readonly url: string;
  /** The paper, when there is one. */
  readonly paper?: string;
  /** The fixture file under `__test__/fixtures/` that the conformance suite checks it against. */
  readonly fixture: string;
}

/**
 * Everything that defines one optimizer besides its kernel's math.
 * @typeParam O - the resolved options of a param group (`AdamGroupOptions`).
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface OptimizerDescriptor<O extends object = object> {
  /** The class name, used in messages: `'AdamW'`. */
  readonly name: string;
  /** The native kernel that runs the update (Adam and AdamW share `'adam'`). */
  readonly kernel: string;
  /** Every option, in the order of the defaults. */
  readonly options: { readonly [K in keyof O]-?: OptionSpec };
  /** Kernel hyperparameters this optimizer fixes rather than exposes: AdamW's `{ decoupled: 1 }`. */
  readonly fixed?: Readonly<Record<string, number>>;
  /** State buffer names in `stateDict` (camelCase of the kernel's slots, in its order). */
  readonly slots: readonly string[];
  /**
   * The `stateDtype`s the optimizer accepts (default `['float32']`); each other than float32 runs
   * the native kernel `<kernel>_<dtype>`.
   */
  readonly stateDtypes?: readonly StateDtype[];
  /** The per-parameter scalar state besides `step`, if any (NAdam's `muProduct`). */
  readonly scalarState?: string;
  /**
   * A per-parameter scalar that the reference keeps as state but that is a function of the step
   * counter and the group's options, so it is computed rather than stored (ASGD's `mu`):
   * `stateDict` reports it after {@link OptimizerDescriptor.scalarState}, and `loadStateDict`
   * checks a saved value is a float32 number and otherwise ignores it.
   */
  readonly computedState?: ComputedState<O>;
  /** Scalar state kept per param group, and the kernel hyperparameters computed from it, if any. */
  readonly groupState?: GroupState<O>;
  /**
   * State buffers created as soon as a parameter's group is added, as `{ buffer: fillValue }`
   * (PyTorch creates Adagrad's `sum` in the constructor); otherwise state is created on a
   * parameter's first step.
   */
  eagerState?(group: O): Readonly<Record<string, number>>;
  /** Rules between options (SGD's nesterov needs momentum > 0 and dampening 0); throws. */
  check?(group: O, name: (key: string) => string): void;
  /** The implementation the update rule follows and the fixture it is checked against. */
  readonly reference: Reference;
}

/**
 * A number ≥ 0, the range of most options (`lr`, `eps`, `weightDecay`, ...).
 * @internal
 */
export function nonNegative(dflt: number): NumberOption {
  return { type: 'number', default: dflt, range: { min: 0 } };
}

/**
 * A number within `range`.
 * @internal
 */
export function numberIn(dflt: number, range: NumberRule): NumberOption {
  return { type: 'number', default: dflt, range };
}

/**
 * A flag, false unless said otherwise; `native` names it when the kernel's name differs.
 * @internal
 */
export function flag(dflt = false, native?: string): BooleanOption {
  return native === undefined ? { type: 'boolean', default: dflt } : { type: 'boolean', default: dflt, native };
}

/**
 * `betas`: a pair crossing as `beta1`, `beta2`, each in [0, 1) unless `range` says otherwise.
 * @internal
 */
export function betas(beta1: number, beta2: number, range: NumberRule = { min: 0, below: 1 }): PairOption {
  return { type: 'pair', default: [beta1, beta2], range, native: ['beta1', 'beta2'] };
}

/**
 * A pair crossing as the kernel's `native` names, each element in `range` (one rule for both, or
 * one per element).
 * @internal
 */
export function pair(first: number, second: number, native: readonly [string, string], range: PairOption['range']): PairOption {
  return { type: 'pair', default: [first, second], range, native };
}

/**
 * The range of element `i` of a pair option.
 * @group Optimizers
 * @category Registry and descriptors
 */
export function pairRange(spec: PairOption, i: 0 | 1): NumberRule {
  const r = spec.range;
  return isRulePair(r) ? r[i] : r;
}

function isRulePair(r: PairOption['range']): r is readonly [NumberRule, NumberRule] {
  return Array.isArray(r);
}

/** The frozen defaults of each descriptor, made once. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const defaults = new WeakMap<OptimizerDescriptor<any>, Readonly<Record<string, unknown>>>();

/**
 * The defaults of a descriptor, as the frozen `*_DEFAULTS` constants export them.
 * @group Optimizers
 * @category Registry and descriptors
 */
export function defaultsOf<O extends object>(d: OptimizerDescriptor<O>): Readonly<O> {
  let out = defaults.get(d);
  if (!out) {
    const o: Record<string, unknown> = {};
    for (const [k, spec] of optionEntries(d)) o[k] = Array.isArray(spec.default) ? Object.freeze([...spec.default]) : spec.default;
    defaults.set(d, (out = Object.freeze(o)));
  }
  return out as Readonly<O>;
}

/** The options of a descriptor as `[key, spec]` pairs, in order. */
export function optionEntries<O extends object>(d: OptimizerDescriptor<O>): Array<[string, OptionSpec]> {
  return Object.entries(d.options as Record<string, OptionSpec>);
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The kernel names an option fills, in order. */
function nativeNames(key: string, spec: OptionSpec): readonly string[] {
  return spec.type === 'pair' ? spec.native : [spec.native ?? snake(key)];
}

/**
 * Reads one packed value from a resolved group, or from `computed`: the hyperparameters of the
 * step computed from the group's state ({@link GroupState.advance}).
 */
type Read = (g: Record<string, unknown>, computed?: Readonly<Record<string, number>>) => number;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const plans = new WeakMap<OptimizerDescriptor<any>, readonly Read[]>();

/**
 * How a group's options pack into the kernel's hyperparameter vector: one reader per native
 * hyperparameter, in the kernel's order. Checked once per descriptor against the kernel's own
 * declaration (names of hyperparameters and slots, scalar state).
 * @throws Error when the descriptor and the kernel disagree (a bug in ferroptim, not in the caller).
 */
export function packingPlan<O extends object>(d: OptimizerDescriptor<O>): readonly Read[] {
  const cached = plans.get(d);
  if (cached) return cached;
  const sig = kernelSignature(d.kernel);
  const bug = (what: string) => new Error(`ferroptim internal error (please report): the ${d.name} descriptor and the ${d.kernel} kernel disagree: ${what}`);
  const readers = new Map<string, Read>();
  const groupOnly = new Set(d.groupState?.options ?? []);
  for (const [key, spec] of optionEntries(d)) {
    if (groupOnly.has(key)) continue;
    const names = nativeNames(key, spec);
    names.forEach((n, i) => {
      if (readers.has(n)) throw bug(`two options fill ${n}`);
      const read: Read =
        spec.type === 'pair'
          ? (g) => (g[key] as readonly number[])[i]!
          : spec.type === 'boolean'
            ? (g) => (g[key] ? 1 : 0)
            : spec.type === 'derived'
              ? (g) => (g[key] ?? g[spec.from]) as number
              : (g) => g[key] as number;
      readers.set(n, read);
    });
  }
  for (const [n, value] of Object.entries(d.fixed ?? {})) {
    if (readers.has(n)) throw bug(`${n} is both an option and fixed`);
    readers.set(n, () => value);
  }
  for (const n of d.groupState?.hyper ?? []) {
    if (readers.has(n)) throw bug(`${n} is both an option and computed from the group's state`);
    readers.set(n, (_g, computed) => computed![n]!);
  }
  const plan = sig.hyper.map((n) => {
    const r = readers.get(n);
    if (!r) throw bug(`the kernel's hyperparameter ${n} has no option`);
    readers.delete(n);
    return r;
  });
  if (readers.size > 0) throw bug(`the kernel has no hyperparameter ${[...readers.keys()].join(', ')}`);
  const slots = sig.slots.map(camel);
  if (slots.join() !== d.slots.join()) throw bug(`state slots ${d.slots.join(', ')} here, ${slots.join(', ')} in the kernel`);
  const extra = sig.extra === null ? undefined : camel(sig.extra);
  if (extra !== d.scalarState) throw bug(`scalar state ${d.scalarState ?? 'none'} here, ${extra ?? 'none'} in the kernel`);
  plans.set(d, plan);
  return plan;
}

/**
 * Checks one resolved group against the descriptor: each option's type and range, then the
 * rules between options. `where` names the group in messages (`options`, `param group 1`).
 */
export function validateGroup<O extends object>(d: OptimizerDescriptor<O>, g: Record<string, unknown>, where: string): void {
  validateOptions(d.name, d.options as Readonly<Record<string, OptionSpec>>, g, where);
  d.check?.(g as O, (k: string) => optionName(k, where));
}

/**
 * Checks the options of `g` that `specs` describes, each against its type and range (the
 * registry's descriptors, and the option tables of the optimizers outside the registry, share
 * this check). `label` begins each message, `where` names the group (`options`, `param group 1`).
 * @internal
 */
export function validateOptions(label: string, specs: Readonly<Record<string, OptionSpec>>, g: Record<string, unknown>, where: string): void {
  const n = (k: string) => optionName(k, where);
  for (const [key, spec] of Object.entries(specs)) {
    const v = g[key];
    switch (spec.type) {
      case 'number':
        checkNumber(label, n(key), v, spec.range);
        break;
      case 'boolean':
        checkBoolean(label, n(key), v);
        break;
      case 'pair':
        if (!Array.isArray(v) || v.length !== 2) throw new TypeError(`${label}: expected ${n(key)} to be a pair [${spec.native.join(', ')}], received ${describeValue(v)}`);
        checkNumber(label, `${n(key)}[0]`, v[0], pairRange(spec, 0));
        checkNumber(label, `${n(key)}[1]`, v[1], pairRange(spec, 1));
        break;
      case 'derived':
        if (v === null) break;
        if (typeof v !== 'number') throw new TypeError(`${label}: expected ${n(key)} to be ${ruleText(spec.range)} or null, received ${describeValue(v)}`);
        checkNumber(label, n(key), v, spec.range);
        break;
    }
  }
}

/**
 * Checks a group's scalar state ({@link OptimizerDescriptor.groupState}) held in `g`: each entry's
 * type and range. `where` names the group in messages (`param group 1`).
 */
export function validateGroupState<O extends object>(d: OptimizerDescriptor<O>, g: Record<string, unknown>, where: string): void {
  for (const [key, e] of Object.entries(d.groupState?.entries ?? {})) {
    if (typeof e.init === 'boolean') checkBoolean(d.name, optionName(key, where), g[key]);
    else checkNumber(d.name, optionName(key, where), g[key], e.range);
  }
}
