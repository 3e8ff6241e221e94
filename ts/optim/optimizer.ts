/**
 * The optimizer base class: parameter groups, per-parameter state, `step`, `zeroGrad` and
 * `stateDict`. Everything particular to one optimizer (options, defaults, ranges, packing, state
 * names) comes from its {@link OptimizerDescriptor}; a subclass only passes its descriptor.
 * @module
 */
import { createNativeOptimizer, mapNativeError, type NativeOptimizer } from '../native.js';
import { Parameter } from '../tensor.js';
import { checkBoolean, checkFloat32, checkKnownKeys, checkNumber, describeValue } from '../validate.js';
import { defaultsOf, optionEntries, packingPlan, validateGroup, validateGroupState, type OptimizerDescriptor } from './descriptor.js';
import { optionName, withDefaults, type CommonOptions } from './options.js';
import { checkGroupArray, checkStateDictShape, checkZeroGrad, clearGrads, cloneOption, groupInput, groupInputs, savedGroup, savedGroupsMatch, setToNoneOption, stateEntries, stateKeys, strictOption } from './groups.js';
import { StateStore, type SlotRequest } from './state-store.js';
import { checkStateDtype, decodeState, encodeState, kernelFor, slotWords, type LowPrecisionBuffer, type StateDtype } from './state-dtype.js';

/**
 * A parameter group as given to a constructor or to `addParamGroup`: parameters plus option overrides.
 * @group Optimizers
 * @category Base class and parameters
 */
export type ParamGroupInput<O> = {
  /** The group's parameters; each may belong to one group only. */
  params: readonly Parameter[];
} & Partial<O>;

/**
 * What optimizers accept as parameters: a list of parameters, or a list of parameter groups.
 * @group Optimizers
 * @category Base class and parameters
 */
export type ParamsInput<O> = readonly Parameter[] | readonly ParamGroupInput<O>[];

/**
 * A live parameter group: its parameters and every option, resolved against the defaults. Options
 * may be changed between steps (schedulers do exactly this); they are checked again at each step.
 * An optimizer whose descriptor has a `groupState` (Schedule-Free) also keeps that scalar state
 * here (`k`, `trainMode`, ...), checked at each step too.
 * @group Optimizers
 * @category Base class and parameters
 */
export type ParamGroup<O> = O & {
  /** The group's parameters, in the order given. */
  params: Parameter[];
  /** The group's lr when a scheduler first took it over (PyTorch's `initial_lr`). */
  initialLr?: number;
};

/**
 * Per-parameter state in a state dict: the step counter, each state buffer (camelCase names; an
 * array of numbers, or with `stateDtype` bfloat16 or int8 its compact form, a
 * {@link LowPrecisionBuffer}) and the optimizer's scalars (NAdam's `muProduct`, ASGD's `eta` and
 * `mu`).
 * @group Optimizers
 * @category Base class and parameters
 */
export type ParamStateEntry = {
  /** Steps taken by this parameter (it advances only on steps where the parameter had a gradient). */
  step: number;
} & { [buffer: string]: number | Array<number | string> | LowPrecisionBuffer };

/**
 * A JSON-serialisable optimizer state, as returned by `stateDict()`.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface OptimizerStateDict {
  /** Per-parameter state keyed by parameter name when every parameter has a unique one, else by position. */
  state: Record<string, ParamStateEntry>;
  /** Each group's options, with `params` listing the keys of its parameters. */
  paramGroups: Array<
    Record<string, unknown> & {
      /** The keys (in `state`) of the group's parameters. */
      params: string[];
    }
  >;
}

/**
 * Options of `zeroGrad`.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface ZeroGradOptions {
  /** Set every grad to `null` instead of zeroing it in place (PyTorch's `set_to_none`). @defaultValue false */
  setToNone?: boolean;
}

/**
 * Options of `loadStateDict`.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface LoadStateDictOptions {
  /**
   * Strict loading (the default) requires the same groups with the same parameter keys and rejects
   * unknown keys; parameters without an entry have their state cleared. With `strict: false`, only
   * entries whose key matches a parameter are loaded, unknown keys are ignored, group options are
   * loaded only for groups whose parameter keys match, and everything else is left as it is.
   * @defaultValue true
   */
  strict?: boolean;
}

/**
 * What a step hands to its observers (see `Optimizer.observeSteps`).
 * @group Optimizers
 * @category Base class and parameters
 */
export interface StepInfo {
  /** False when the step was skipped because a gradient was not finite. */
  readonly applied: boolean;
  /** The parameters that had a gradient this step, in order. */
  readonly params: readonly Parameter[];
  /** Σg² of each of those gradients (valid for this call only; copy to keep). */
  readonly gradSqSums: Float64Array;
}

/**
 * Something that watches every step, e.g. a `GradNormMonitor`.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface StepObserver {
  /** Whether the step should gather each gradient's Σg² (done inside the fused native pass). */
  readonly wantsGradNorms: boolean;
  /** Called after every step, applied or skipped, with what the step saw. */
  onStep(info: StepInfo): void;
}

/** One `StepInParts.update`: its parameters, and their entries (group, index) in the groups' order. */
interface Part {
  readonly params: ReadonlySet<Parameter>;
  readonly at: readonly (readonly [number, number])[];
}

/**
 * A step taken in parts, begun by `Optimizer.stepInParts`: update the parameters whose gradients
 * are complete, as they become so, then `finish()`.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface StepInParts {
  /**
   * Updates, in one native call, those of `params` that have a gradient and were not updated yet
   * in this step (others are skipped, so a parameter shared by two layers is updated once).
   * @throws TypeError or RangeError, before anything is written, for an entry that is not a
   * Parameter of this optimizer or for what `step` refuses (a bad buffer); Error after the step
   * ended.
   */
  update(params: readonly Parameter[]): void;
  /**
   * Updates every parameter with a gradient not updated yet, and ends the step.
   * @throws as `update`; the step then stays open (`end()` closes it).
   */
  finish(): void;
  /**
   * Ends the step where it stands: parameters not updated yet keep their values and state (their
   * step counters do not advance). It counts as an applied step (and Schedule-Free's group state
   * advances) if any parameter was updated, and as no step at all otherwise. For a backward pass
   * that failed half way.
   */
  end(): void;
  /** Whether the step is still under way (neither `finish` nor `end` was called). */
  readonly open: boolean;
}

const FLAG_SKIP_NONFINITE = 1;
const FLAG_GRAD_NORMS = 2;

/**
 * JSON has no -0, NaN or infinities: state buffers hold them as the strings `"-0"`, `"NaN"`,
 * `"Infinity"` and `"-Infinity"` so a JSON round trip restores every bit.
 */
export function encodeFloat(x: number): number | string {
  return Number.isFinite(x) && !Object.is(x, -0) ? x : Object.is(x, -0) ? '-0' : String(x);
}

/** The strings {@link encodeFloat} writes for what JSON cannot hold (a Map: no inherited keys). */
const SPECIAL: ReadonlyMap<string, number> = new Map([
  ['-0', -0],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

/** A saved state value as a number: a number, or one of the strings of {@link SPECIAL}. */
export function decodeFloat(x: unknown): number | undefined {
  return typeof x === 'number' ? x : typeof x === 'string' ? SPECIAL.get(x) : undefined;
}

/**
 * Reads a saved float32 buffer (an array of numbers and {@link SPECIAL} strings, or a
 * Float32Array) of length `n` into a new Float32Array; `name` names it in messages.
 */
export function decodeBuffer(ctx: string, name: string, value: unknown, n: number): Float32Array {
  if (value instanceof Float32Array) {
    if (value.length !== n) throw new RangeError(`${ctx}: expected ${name} to have length ${n}, received ${value.length}`);
    return Float32Array.from(value);
  }
  if (!Array.isArray(value)) throw new TypeError(`${ctx}: expected ${name} to be an array of numbers, received ${describeValue(value)}`);
  if (value.length !== n) throw new RangeError(`${ctx}: expected ${name} to have length ${n}, received ${value.length}`);
  const buf = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = decodeFloat(value[i]);
    if (x === undefined) {
      throw new TypeError(`${ctx}: expected ${name}[${i}] to be a number (or "NaN", "Infinity", "-Infinity", "-0"), received ${describeValue(value[i])}`);
    }
    buf[i] = checkFloat32(ctx, `${name}[${i}]`, x);
  }
  return buf;
}

/** The error of a call on a disposed optimizer. */
export function disposedError(label: string, method: string): Error {
  return new Error(`${label}: ${method}() was called after dispose(), which freed this optimizer's state; create a new one`);
}

/** Checks a group's `initialLr` (the lr a scheduler started from): a finite number >= 0. */
function checkInitialLr(ctx: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${ctx}: expected ${name} to be a number, received ${describeValue(v)}`);
  return checkNumber(ctx, name, v, { min: 0 });
}

/** Largest step counter a state dict may hold: beyond it, adding 1 no longer changes a double. */
const MAX_STEP = Number.MAX_SAFE_INTEGER;

/**
 * Base class of every ferroptim optimizer.
 *
 * @remarks
 * One `step()` is one native call covering every parameter of every group that has a gradient:
 * the kernel reads the caller's `grad` arrays and updates the `data` arrays and the optimizer's
 * state (`expAvg`, `momentumBuffer`, ...) in place. The state is created on a parameter's first
 * step in a few large Float32Arrays the optimizer keeps privately: V8-owned memory, which the
 * garbage collector counts and frees with the optimizer even in a synchronous loop (memory held
 * by a native addon is only freed when the event loop turns), and {@link Optimizer.dispose}
 * frees at once.
 *
 * Everything is checked before anything is written: group options, buffer types and lengths
 * (a detached buffer has length 0), and overlap between any two buffers of the step. A bad value
 * throws a `TypeError` or `RangeError` naming it and leaves parameters and state as they were.
 *
 * The concrete optimizers ({@link SGD}, {@link AdamW}, ...) extend it; it cannot be subclassed
 * with a new update rule from JavaScript, since every rule is a native kernel.
 *
 * @example
 * ```ts
 * const optimizer: Optimizer<AdamOptions> = new AdamW(model.parameters(), { lr: 1e-3 });
 * optimizer.zeroGrad();
 * // ... backward pass fills each parameter's grad ...
 * optimizer.step();
 * const saved = JSON.stringify(optimizer.stateDict());
 * ```
 * @throws TypeError or RangeError from the constructor (bad parameters, groups or options), from
 * `step` (bad options or buffers) and from `loadStateDict` (a state that does not fit); Error from
 * any method but `parameters()` after `dispose()`.
 * @group Optimizers
 * @category Base class and parameters
 */
export abstract class Optimizer<O extends object> {
  /** The default options, PyTorch's unless given to the constructor. */
  readonly defaults: Readonly<O>;
  /** How the state buffers are stored (the `stateDtype` constructor option). */
  readonly stateDtype: StateDtype;
  /** The live parameter groups. */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** The class name used in messages. */
  protected readonly label: string;
  /** What defines this optimizer: options, ranges, state, reference. */
  readonly descriptor: OptimizerDescriptor<O>;
  /**
   * Skip steps whose gradients hold a NaN or an infinity, leaving parameters and state untouched
   * (set by the `skipNonFinite` option; may be changed at any time).
   */
  skipNonFinite: boolean;
  /** Whether the last `step()` updated the parameters (false when it was skipped). */
  lastStepApplied = false;
  /** Number of steps applied. */
  appliedSteps = 0;
  /** Number of steps skipped because a gradient was not finite. */
  skippedSteps = 0;

  readonly #native: NativeOptimizer;
  #disposed = false;
  /**
   * The state buffers, created when first needed: V8-owned memory, so the garbage collector
   * accounts for them and frees them with the optimizer; the native side keeps no pointer
   * between calls.
   */
  #store: StateStore;
  /** Per group index: the slots its current options need (bit mask) and each one's fill value. */
  readonly #plans: Array<{ mask: number; init: number[] } | undefined> = [];
  /** Scratch: bit s of entry i = slot s of the i-th stepped parameter was created by this step. */
  #fresh = new Uint32Array(0);
  /** Slots the step in progress creates; they are discarded unless it applies. */
  readonly #requests: SlotRequest[] = [];
  readonly #ids = new Map<Parameter, number>();
  readonly #params: Parameter[] = [];
  #hyper = new Float64Array(0);
  #ids32 = new Uint32Array(0);
  #groupOf = new Uint32Array(0);
  /** Scratch for the native call: data and grad of each stepped parameter, reused every step. */
  readonly #buffers: Array<Float32Array | undefined> = [];
  /** The option values each group last passed validation with (arrays copied), by group index. */
  readonly #validated: Array<unknown[] | undefined> = [];
  /** The option keys of this optimizer (the keys of its defaults). */
  readonly #optionKeyList: string[];
  /** The keys of the descriptor's per-group scalar state (`groupState`), if any. */
  readonly #groupStateKeys: string[];
  /** Scratch of a step: each group's state after it, kept if the step applies. */
  readonly #nextGroupState: Array<Readonly<Record<string, number>>> = [];
  /** One reader per native hyperparameter, in the kernel's order. */
  readonly #pack: ReadonlyArray<(g: Record<string, unknown>, computed?: Readonly<Record<string, number>>) => number>;
  readonly #active: Parameter[] = [];
  readonly #observers = new Set<StepObserver>();
  #sums = new Float64Array(0);
  /** The step in parts under way (see `stepInParts`): the parameters it has updated. */
  #parts: { done: Set<Parameter>; updated: boolean } | null = null;

  protected constructor(descriptor: OptimizerDescriptor<O>, params: ParamsInput<O>, options: (Partial<O> & CommonOptions) | undefined) {
    const label = descriptor.name;
    this.label = label;
    this.descriptor = descriptor;
    this.#pack = packingPlan(descriptor);
    const { skipNonFinite, stateDtype, ...defaults } = withDefaults<O>(label, defaultsOf(descriptor) as Required<O>, options) as Required<O> & CommonOptions & { stateDtype?: unknown };
    this.skipNonFinite = checkBoolean(label, 'skipNonFinite', skipNonFinite === undefined ? false : skipNonFinite);
    this.stateDtype = checkStateDtype(label, stateDtype, descriptor.stateDtypes ?? ['float32']);
    this.defaults = Object.freeze(defaults as unknown as O);
    this.#optionKeyList = Object.keys(this.defaults);
    this.#groupStateKeys = Object.keys(descriptor.groupState?.entries ?? {});
    this.#native = createNativeOptimizer(kernelFor(descriptor.kernel, this.stateDtype));
    this.#store = new StateStore(descriptor.slots.length);
    const groups = groupInputs(label, params) as unknown as ParamGroupInput<O>[];
    validateGroup(descriptor, this.defaults as Record<string, unknown>, 'options');
    groups.forEach((g) => this.addParamGroup(g));
  }

  /**
   * Writes group `g`'s hyperparameters, in the kernel's order, at `out[offset..]`; `computed` holds
   * those computed from the group's state this step (see `GroupState`).
   */
  #packGroup(g: object, out: Float64Array, offset: number, computed?: Readonly<Record<string, number>>): void {
    const pack = this.#pack;
    for (let i = 0; i < pack.length; i++) out[offset + i] = pack[i]!(g as Record<string, unknown>, computed);
  }

  #resolveGroup(input: unknown, where: string): ParamGroup<O> {
    const { g, members: list } = groupInput(this.label, where, input, this.#optionKeyList);
    const local = new Set<Parameter>();
    for (const [i, p] of list.entries()) {
      if (!(p instanceof Parameter)) {
        throw new TypeError(`${this.label}: expected ${where}.params[${i}] to be a Parameter, received ${describeValue(p)}`);
      }
      if (local.has(p) || this.#ids.has(p)) {
        throw new RangeError(`${this.label}: ${where}.params[${i}] (${p.name ?? 'unnamed'}) is already optimized by this optimizer; each parameter may appear once`);
      }
      local.add(p);
    }
    const group = { ...this.defaults } as Record<string, unknown>;
    for (const k of this.#optionKeyList) {
      if (g[k] !== undefined) group[k] = cloneOption(g[k]);
      else group[k] = cloneOption(group[k]);
    }
    // An option derived from another takes its value now (AdaBound's baseLr: the group's lr).
    for (const [k, spec] of optionEntries(this.descriptor)) if (spec.type === 'derived' && group[k] === null) group[k] = group[spec.from];
    if (g.initialLr !== undefined) group.initialLr = checkInitialLr(this.label, optionName('initialLr', where), g.initialLr);
    validateGroup(this.descriptor, group, where);
    group.params = list;
    // A new group's scalar state starts from its initial values (PyTorch: the defaults' entries).
    for (const [k, e] of Object.entries(this.descriptor.groupState?.entries ?? {})) group[k] = e.init;
    return group as ParamGroup<O>;
  }

  #commitGroup(group: ParamGroup<O>): void {
    const first = this.#native.addParams(group.params.map((p) => p.numel));
    this.#store.addParams(group.params.length);
    const eager = this.descriptor.eagerState?.(group as O) ?? null;
    const requests: SlotRequest[] = [];
    group.params.forEach((p, i) => {
      this.#ids.set(p, first + i);
      this.#params.push(p);
      this.descriptor.slots.forEach((name, slot) => {
        if (eager !== null && Object.hasOwn(eager, name)) requests.push({ id: first + i, slot, length: slotWords(this.stateDtype, p.numel), fill: eager[name]! });
      });
    });
    this.#store.create(requests);
    this.paramGroups.push(group);
  }

  /**
   * Adds a parameter group; its missing options take the optimizer's defaults.
   * @throws TypeError or RangeError for bad options, an empty list, or a parameter already present.
   */
  addParamGroup(group: ParamGroupInput<O>): void {
    this.#live('addParamGroup');
    this.#notInParts('addParamGroup');
    const g = this.#resolveGroup(group, `param group ${this.paramGroups.length}`);
    this.#commitGroup(g);
  }

  /**
   * Applies one update to every parameter whose `grad` is not `null`, in one native call.
   *
   * @param closure - optional; called first, its return value (the loss) is returned.
   * @returns the closure's value, if a closure was given.
   * @throws TypeError or RangeError, before anything is written, for a bad group option, a buffer
   * that is not a Float32Array, a length mismatch (a detached buffer has length 0) or two buffers
   * that overlap; Error while a step in parts is under way.
   */
  step(closure?: () => number): number | undefined {
    this.#live('step');
    this.#notInParts('step');
    this.beforeStep('step');
    if (closure !== undefined && typeof closure !== 'function') {
      throw new TypeError(`${this.label}: expected closure to be a function or undefined, received ${describeValue(closure)}`);
    }
    const loss = closure === undefined ? undefined : closure();
    this.#update(this.#prepare('step'), null, null);
    this.#store.compact();
    return loss;
  }

  /**
   * Begins a step taken in parts: each {@link StepInParts.update} call updates the parameters it
   * is given, in one native call, and {@link StepInParts.finish} updates the rest and ends the
   * step. A training loop can so update each layer as soon as the backward pass has completed its
   * gradients, while they are still in cache. Every parameter gets exactly the bits `step()` would
   * give it: a parameter's update depends only on its own gradient, state and group, and the
   * kernels cut each tensor into the same pieces whatever else a call holds.
   *
   * The group options (and Schedule-Free's group state) are read and checked when the step
   * begins; changes made before it ends apply from the next step. Until it ends, `step`,
   * `stepInParts`, `loadStateDict`, `addParamGroup`, `observeSteps` and the subclasses' mode
   * switches (`train`, `eval`, `swapAveraged`) throw.
   *
   * A step in parts cannot hold back an update until every gradient is known, so it refuses when
   * something needs that: `skipNonFinite` (one non-finite gradient skips the whole step) or a
   * registered step observer (a `GradNormMonitor`); see {@link Optimizer.canStepInParts}.
   * @throws Error after `dispose()`, while another step in parts is under way, with
   * `skipNonFinite` on or an observer registered, or for what `step` refuses (Schedule-Free in
   * eval mode); TypeError or RangeError for a bad group option.
   * @example
   * ```ts
   * const parts = optimizer.stepInParts();
   * model.backward(lossFn.backward(), false, (m) => parts.update(m.parameters()));
   * parts.finish();
   * ```
   */
  stepInParts(): StepInParts {
    this.#live('stepInParts');
    this.#notInParts('stepInParts');
    if (checkBoolean(this.label, 'skipNonFinite', this.skipNonFinite)) {
      throw new Error(`${this.label}.stepInParts: skipNonFinite is on, and it needs every gradient before any parameter changes; call step() after the backward pass instead`);
    }
    if (this.#observers.size > 0) {
      throw new Error(`${this.label}.stepInParts: a step observer (a GradNormMonitor) is registered, and it needs every gradient of a step; call step() after the backward pass instead`);
    }
    this.beforeStep('stepInParts');
    const groups = this.#prepare('stepInParts');
    const session = { done: new Set<Parameter>(), updated: false };
    // Where each parameter sits in the step's groups, so that an update visits only its own
    // entries (a walk over every group's entries per update made a step over L layers cost
    // O(L × parameters)).
    const where = new Map<Parameter, readonly [number, number]>();
    groups.forEach((g, gi) => g.params.forEach((p, j) => p instanceof Parameter && !where.has(p) && where.set(p, [gi, j])));
    this.#parts = session;
    const isOpen = () => this.#parts === session;
    const open = (method: string) => {
      this.#live(`StepInParts.${method}`);
      if (!isOpen()) throw new Error(`${this.label}: StepInParts.${method}() was called after the step ended; begin a new one with stepInParts()`);
    };
    return {
      update: (params: readonly Parameter[]) => {
        open('update');
        const only = this.#registeredSet('StepInParts.update', params);
        const at: (readonly [number, number])[] = [];
        for (const p of only) {
          const e = where.get(p);
          if (e !== undefined) at.push(e);
        }
        at.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        if (at.length > 0 && this.#update(groups, { params: only, at }, session.done) > 0) session.updated = true;
      },
      finish: () => {
        open('finish');
        this.#update(groups, null, session.done);
        this.#parts = null;
        this.#endStep(groups, true);
        this.#store.compact();
      },
      end: () => {
        open('end');
        this.#parts = null;
        if (session.updated) this.#endStep(groups, true);
        else this.lastStepApplied = false;
        this.#store.compact();
      },
      get open() {
        return isOpen();
      },
    };
  }

  /**
   * Whether {@link Optimizer.stepInParts} can begin now: the optimizer is not disposed, no step in
   * parts is under way, `skipNonFinite` is off and no step observer is registered. What `step()`
   * would refuse too (Schedule-Free in eval mode) is not counted here: both throw then.
   */
  get canStepInParts(): boolean {
    return !this.#disposed && this.#parts === null && !this.skipNonFinite && this.#observers.size === 0;
  }

  /**
   * A subclass's conditions for a step (`method` is `step` or `stepInParts`): throws to refuse it
   * before anything is read or written. The base class has none.
   */
  protected beforeStep(method: string): void {
    void method;
  }

  /** Throws while a step in parts is under way (`method`, a subclass's, would break it). */
  protected notInParts(method: string): void {
    this.#notInParts(method);
  }

  #notInParts(method: string): void {
    if (this.#parts !== null) throw new Error(`${this.label}: ${method}() was called while a step in parts is under way; call finish() or end() on it first`);
  }

  /** `params` as a set, each checked to be a Parameter this optimizer holds. */
  #registeredSet(ctx: string, params: unknown): Set<Parameter> {
    if (!Array.isArray(params)) throw new TypeError(`${this.label}.${ctx}: expected params to be an array of Parameters, received ${describeValue(params)}`);
    const set = new Set<Parameter>();
    params.forEach((p: unknown, i) => {
      if (!(p instanceof Parameter)) throw new TypeError(`${this.label}.${ctx}: expected params[${i}] to be a Parameter, received ${describeValue(p)}`);
      if (!this.#ids.has(p)) throw new RangeError(`${this.label}.${ctx}: params[${i}] (${p.name ?? 'unnamed'}) is not optimized by this optimizer`);
      set.add(p);
    });
    return set;
  }

  /**
   * The groups of a step, each checked, its hyperparameters packed into `#hyper` (validated
   * again only when its options changed), its slot plan made, and with a group state, its next
   * state computed into `#nextGroupState` (kept by {@link Optimizer.#endStep} if the step applies).
   */
  #prepare(method: string): ParamGroup<O>[] {
    const k = this.#pack.length;
    const groups = this.#checkedGroups(method);
    if (this.#hyper.length !== groups.length * k) {
      this.#hyper = new Float64Array(groups.length * k);
      // A fresh vector holds nothing yet: every group is validated and packed again.
      this.#validated.length = 0;
    }
    const groupState = this.descriptor.groupState;
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi]!;
      const changed = !this.#validatedUnchanged(gi, g);
      // Options equal to those last validated also packed to the values already in #hyper.
      if (changed) {
        validateGroup(this.descriptor, g as Record<string, unknown>, `param group ${gi}`);
        this.#snapshotValidated(gi, g);
        if (!groupState) this.#packGroup(g, this.#hyper, gi * k);
      }
      // Hyperparameters computed from the group's state change at every step.
      if (groupState) {
        validateGroupState(this.descriptor, g as Record<string, unknown>, `param group ${gi}`);
        const next = groupState.advance(g, g as Record<string, number | boolean>, `param group ${gi}`);
        this.#nextGroupState[gi] = next.state;
        this.#packGroup(g, this.#hyper, gi * k, next.hyper);
      }
      if (changed || this.#plans[gi] === undefined) {
        const raw = this.#native.slotPlan(this.#hyper.subarray(gi * k, gi * k + k));
        this.#plans[gi] = { mask: raw[0]!, init: raw.slice(1) };
      }
    }
    return groups;
  }

  /**
   * One native call updating the parameters of `groups` that have a gradient: all of them, or
   * with `only` those in it, and with `done` (a step in parts) those not in it, which are then
   * added to it. Without `done` it is a whole step: it ends the step and tells the observers.
   * Returns the number of parameters updated (0 for a step `skipNonFinite` skipped).
   */
  #update(groups: ParamGroup<O>[], only: Part | null, done: Set<Parameter> | null): number {
    let listed = 0;
    for (const g of groups) listed += g.params.length;
    if (this.#ids32.length < listed) {
      this.#ids32 = new Uint32Array(listed);
      this.#groupOf = new Uint32Array(listed);
      this.#fresh = new Uint32Array(listed);
    }
    const buffers = this.#buffers;
    const requests = this.#requests;
    const store = this.#store;
    const whole = done === null;
    const observe = whole && this.#observers.size > 0;
    const active = this.#active;
    const nSlots = this.descriptor.slots.length;
    const dtype = this.stateDtype;
    active.length = 0;
    requests.length = 0;
    let n = 0;
    let created: Float32Array[] = [];
    try {
      // Entry j of group gi: checked, then listed for the native call unless this part leaves
      // it out, it was updated earlier in the step, or it has no gradient.
      const visit = (gi: number, j: number): void => {
        const g = groups[gi]!;
        const plan = this.#plans[gi]!;
        const p = g.params[j];
        if (!(p instanceof Parameter)) {
          throw new TypeError(`${this.label}: expected param group ${gi}.params[${j}] to be a Parameter, received ${describeValue(p)}`);
        }
        const id = this.#ids.get(p);
        if (id === undefined) {
          throw new RangeError(
            `${this.label}: param group ${gi}.params[${j}] (${p.name ?? 'unnamed'}) is not registered with this optimizer; add parameters with addParamGroup`,
          );
        }
        if ((only !== null && !only.params.has(p)) || done?.has(p)) return;
        const grad = p.grad;
        if (grad === null) return;
        const data = p.data;
        if (data.length !== p.numel || grad.length !== p.numel) {
          const which = data.length !== p.numel ? 'data' : 'grad';
          const len = which === 'data' ? data.length : grad.length;
          throw new RangeError(
            `${this.label}: expected ${which} of ${Parameter.describe(p, id)} to have length ${p.numel}, received ${len}${len === 0 ? ' (its buffer was detached or transferred)' : ''}`,
          );
        }
        this.#ids32[n] = id;
        this.#groupOf[n] = gi;
        buffers[2 * n] = data;
        buffers[2 * n + 1] = grad;
        const fresh = plan.mask & ~store.have[id]!;
        if (fresh !== 0) {
          for (let s = 0; s < nSlots; s++) if ((fresh >> s) & 1) requests.push({ id, slot: s, length: slotWords(dtype, p.numel), fill: plan.init[s]! });
        }
        this.#fresh[n] = fresh;
        if (observe || !whole) active.push(p);
        n++;
      };
      if (only === null) {
        for (let gi = 0; gi < groups.length; gi++) for (let j = 0; j < groups[gi]!.params.length; j++) visit(gi, j);
      } else {
        for (const [gi, j] of only.at) visit(gi, j);
      }
      let flags = 0;
      if (whole) {
        checkBoolean(this.label, 'skipNonFinite', this.skipNonFinite);
        let wantNorms = false;
        for (const o of this.#observers) wantNorms ||= o.wantsGradNorms;
        flags = (this.skipNonFinite ? FLAG_SKIP_NONFINITE : 0) | (wantNorms ? FLAG_GRAD_NORMS : 0);
        if (flags !== 0 && this.#sums.length < n) this.#sums = new Float64Array(this.#params.length);
      }
      // A part with nothing to update has nothing to call.
      if (!whole && n === 0) return 0;
      // State a parameter needs from this step on is created now and kept only if the step
      // applies (PyTorch creates it lazily, in the step that first uses it).
      if (requests.length > 0) created = store.create(requests);
      let applied = false;
      try {
        applied = this.#native.step(n, this.#ids32, buffers, this.#hyper, this.#groupOf, store.arenas, store.where, requests.length > 0 ? this.#fresh : null, flags, flags !== 0 ? this.#sums : null);
      } catch (e) {
        mapNativeError(e, this.label, (msg) => msg.replace(/parameter (\d+)/g, (_, i: string) => Parameter.describe(this.#params[Number(i)]!, Number(i))));
      }
      if (applied) requests.length = 0;
      if (done !== null) for (const p of active) done.add(p);
      else this.#endStep(groups, applied);
      if (observe) {
        const info: StepInfo = { applied, params: active, gradSqSums: this.#sums.subarray(0, n) };
        for (const o of this.#observers) o.onStep(info);
      }
      return applied ? n : 0;
    } finally {
      if (requests.length > 0 && created.length > 0) store.discard(requests, created);
      requests.length = 0;
      // Drop the references so a replaced grad is not kept alive by this scratch array.
      buffers.fill(undefined, 0, 2 * n);
      active.length = 0;
    }
  }

  /** Ends a step: counts it, and if it applied, keeps each group's next state (Schedule-Free). */
  #endStep(groups: ParamGroup<O>[], applied: boolean): void {
    if (applied && this.descriptor.groupState) groups.forEach((g, gi) => Object.assign(g, this.#nextGroupState[gi]));
    this.lastStepApplied = applied;
    if (applied) this.appliedSteps++;
    else this.skippedSteps++;
  }

  /** Throws if {@link Optimizer.dispose} was called. */
  #live(method: string): void {
    if (this.#disposed) throw disposedError(this.label, method);
  }

  /** The param groups, each checked to still be an object with a `params` array (they are live). */
  #checkedGroups(method: string): ParamGroup<O>[] {
    return checkGroupArray(`${this.label}.${method}`, this.paramGroups);
  }

  /** Whether group `gi`'s options equal those it last passed validation with. */
  #validatedUnchanged(gi: number, g: object): boolean {
    const snap = this.#validated[gi];
    if (snap === undefined) return false;
    const keys = this.#optionKeyList;
    const rec = g as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) {
      const v = rec[keys[i]!];
      const s = snap[i];
      if (Array.isArray(v)) {
        if (!Array.isArray(s) || v.length !== s.length) return false;
        for (let j = 0; j < v.length; j++) if (!Object.is(v[j], s[j])) return false;
      } else if (!Object.is(v, s)) return false;
    }
    return true;
  }

  #snapshotValidated(gi: number, g: object): void {
    const keys = this.#optionKeyList;
    const rec = g as Record<string, unknown>;
    this.#validated[gi] = keys.map((k) => (Array.isArray(rec[k]) ? [...(rec[k] as unknown[])] : rec[k]));
  }

  /**
   * Registers an observer called after every step (used by `GradNormMonitor`); returns a
   * function that unregisters it.
   * @throws TypeError unless `observer` has a boolean `wantsGradNorms` and an `onStep` function.
   */
  observeSteps(observer: StepObserver): () => void {
    this.#live('observeSteps');
    this.#notInParts('observeSteps');
    if (observer === null || typeof observer !== 'object' || typeof observer.onStep !== 'function' || typeof observer.wantsGradNorms !== 'boolean') {
      throw new TypeError(`${this.label}.observeSteps: expected an observer { wantsGradNorms: boolean, onStep(info) }, received ${describeValue(observer)}`);
    }
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /**
   * Moves parameters toward one of their state buffers, in one native pass over all of them: for
   * each group for which `weightOf` returns a number w, every parameter of it that has the buffer
   * `slot` gets θ ← lerp(θ, s, w), as ATen's `lerp_` with a scalar weight (w rounded to float32
   * picks its form). `weightOf` is called for every group, in order, before anything is written,
   * so it can validate the group and throw; the lengths and overlap of the buffers are checked
   * too. Schedule-Free's `train()` and `eval()` are this pass.
   * @throws Error after `dispose()`; TypeError or RangeError, before any parameter changes, for a
   * group or buffer that does not check out (or what `weightOf` throws).
   */
  protected lerpToState(method: string, slot: string, weightOf: (group: ParamGroup<O>, index: number) => number | null): void {
    this.#live(method);
    this.#notInParts(method);
    const ctx = `${this.label}.${method}`;
    const s = this.descriptor.slots.indexOf(slot);
    if (s < 0) throw new Error(`ferroptim internal error (please report): ${this.label} has no state buffer ${JSON.stringify(slot)}`);
    const ids: number[] = [];
    const buffers: Float32Array[] = [];
    const weights: number[] = [];
    this.#checkedGroups(method).forEach((g, gi) => {
      const w = weightOf(g, gi);
      if (w === null) return;
      g.params.forEach((p, j) => {
        if (!(p instanceof Parameter)) throw new TypeError(`${ctx}: expected param group ${gi}.params[${j}] to be a Parameter, received ${describeValue(p)}`);
        const id = this.#ids.get(p);
        if (id === undefined) throw new RangeError(`${ctx}: param group ${gi}.params[${j}] (${p.name ?? 'unnamed'}) is not registered with this optimizer; add parameters with addParamGroup`);
        if (this.#store.get(id, s) === null) return;
        const data = p.data;
        if (data.length !== p.numel) {
          throw new RangeError(`${ctx}: expected data of ${Parameter.describe(p, id)} to have length ${p.numel}, received ${data.length}${data.length === 0 ? ' (its buffer was detached or transferred)' : ''}`);
        }
        ids.push(id);
        buffers.push(data);
        weights.push(w);
      });
    });
    if (ids.length === 0) return;
    try {
      this.#native.lerpToSlot(Uint32Array.from(ids), buffers, this.#store.arenas, this.#store.where, s, Float64Array.from(weights));
    } catch (e) {
      mapNativeError(e, ctx, (msg) => msg.replace(/parameter (\d+)/g, (_, i: string) => Parameter.describe(this.#params[Number(i)]!, Number(i))));
    }
  }

  /** All parameters of all groups, in position order (the order of `stateDict` positions). */
  parameters(): Parameter[] {
    return [...this.#params];
  }

  /**
   * Zeroes every gradient in place (parameters whose grad is `null` are left so).
   * With `setToNone: true`, sets every grad to `null` instead (PyTorch's default since 2.0).
   * @throws TypeError for bad options; RangeError, before any gradient changes, if a gradient's
   * buffer was detached.
   */
  zeroGrad(options?: ZeroGradOptions): void {
    const ctx = `${this.label}.zeroGrad`;
    this.#live('zeroGrad');
    const setToNone = setToNoneOption(ctx, options);
    const groups = this.#checkedGroups('zeroGrad');
    // Everything is checked before the first gradient changes.
    checkZeroGrad(ctx, groups, setToNone, (p, j) => this.#ids.get(p) ?? j);
    clearGrads(groups.flatMap((g) => g.params), setToNone);
  }

  /**
   * Bytes the optimizer's state buffers occupy now (its arenas' total length, with the padding
   * that aligns each buffer): about 8 per parameter for AdamW with float32 state, 4 with
   * `stateDtype: 'bfloat16'`, 2 with `'int8'`. 0 before the first step and after `dispose()`.
   */
  get stateByteLength(): number {
    let n = 0;
    for (const a of this.#store.arenas) n += a.byteLength;
    return n;
  }

  /** Whether {@link Optimizer.dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Frees the optimizer's state now instead of when the garbage collector finds the optimizer
   * unreachable; every later `step`, `zeroGrad`, `stateDict`, `loadStateDict`, `addParamGroup`
   * or `observeSteps` throws an Error. Calling it again does nothing. `[Symbol.dispose]` calls it,
   * so `using opt = new AdamW(params)` frees the state at the end of the block.
   *
   * @remarks The state buffers are V8-owned Float32Arrays, so the garbage collector already frees
   * an unreachable optimizer's state without waiting for the event loop; `dispose()` makes the
   * release immediate and deterministic, which matters when optimizers over large models are
   * created one after another (a hyperparameter sweep).
   * @example
   * ```ts
   * for (const lr of [1e-3, 3e-4, 1e-4]) {
   *   using opt = new AdamW(model.parameters(), { lr });
   *   // ... train and evaluate ...
   * } // the state of each is freed here
   * ```
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#parts = null;
    this.#native.dispose();
    this.#store = new StateStore(this.descriptor.slots.length);
    this.#observers.clear();
  }

  /** Calls {@link Optimizer.dispose}, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Each registered parameter's group, by position. */
  #groupsById(): Array<ParamGroup<O>> {
    const out: Array<ParamGroup<O>> = [];
    for (const g of this.#checkedGroups('stateDict')) for (const p of g.params) out[this.#ids.get(p)!] = g;
    return out;
  }

  /**
   * The live state buffer `name` (one of the descriptor's slots) of parameter `param`, or null
   * when it has none yet: a view the next step updates, for subclasses that expose a buffer
   * (ASGD's averaged parameters).
   * @throws Error after `dispose()`; RangeError for a parameter this optimizer does not hold or an unknown slot.
   */
  protected stateBuffer(param: Parameter, name: string): Float32Array | null {
    this.#live('stateBuffer');
    const id = this.#ids.get(param);
    if (id === undefined) throw new RangeError(`${this.label}: the parameter ${param?.name === undefined ? '' : `${JSON.stringify(param.name)} `}is not optimized by this optimizer`);
    const slot = this.descriptor.slots.indexOf(name);
    if (slot < 0) throw new RangeError(`${this.label}: unknown state buffer ${JSON.stringify(name)} (expected ${this.descriptor.slots.join(', ')})`);
    return this.#store.get(id, slot);
  }

  /** The state keys of the parameters, by position: names when all are present and unique. */
  #keys(): string[] {
    return stateKeys(this.#params);
  }

  /**
   * The optimizer's state as plain JSON-serialisable data: per-parameter state (step counter and
   * buffers as number arrays; -0, NaN and infinities as the strings `"-0"`, `"NaN"`, `"Infinity"`,
   * `"-Infinity"`, which JSON cannot hold; with `stateDtype` bfloat16 or int8, the compact form,
   * {@link LowPrecisionBuffer}) and each group's options. Loading it with {@link loadStateDict}
   * and continuing reproduces an uninterrupted run bit for bit.
   */
  stateDict(): OptimizerStateDict {
    this.#live('stateDict');
    const keys = this.#keys();
    const counters = new Float64Array(2 * this.#params.length);
    this.#native.readCounters(counters);
    // Keys are parameter names, i.e. data: a null-prototype object keeps "__proto__" an own key.
    const state: Record<string, ParamStateEntry> = Object.create(null);
    const computed = this.descriptor.computedState;
    const groupOf = computed ? this.#groupsById() : [];
    this.#params.forEach((_, id) => {
      const step = counters[2 * id]!;
      const slots = this.descriptor.slots.map((_, s) => this.#store.get(id, s));
      if (step === 0 && slots.every((b) => b === null)) return;
      const entry: ParamStateEntry = { step };
      const dtype = this.stateDtype;
      slots.forEach((buf, s) => {
        if (buf) entry[this.descriptor.slots[s]!] = encodeState(dtype, buf, this.#params[id]!.numel);
      });
      const extra = this.descriptor.scalarState;
      if (extra !== undefined) entry[extra] = counters[2 * id + 1]!;
      const group = groupOf[id];
      if (computed && group) entry[computed.name] = computed.value(step, group as O);
      state[keys[id]!] = entry;
    });
    const paramGroups = this.#checkedGroups('stateDict').map((g, i) => {
      const out = savedGroup(g, (p) => keys[this.#ids.get(p)!]!, this.#optionKeyList);
      if (this.#groupStateKeys.length > 0) {
        validateGroupState(this.descriptor, g as Record<string, unknown>, `param group ${i}`);
        for (const k of this.#groupStateKeys) out[k] = (g as Record<string, unknown>)[k];
      }
      // Checked as loadStateDict checks it, so that what is saved can be loaded back.
      if (g.initialLr !== undefined) out.initialLr = checkInitialLr(`${this.label}.stateDict`, `initialLr of param group ${i}`, g.initialLr);
      return out;
    });
    return { state, paramGroups };
  }

  /**
   * Loads a state produced by {@link stateDict} (possibly through JSON). Everything is checked
   * before anything changes.
   * @throws TypeError or RangeError for a malformed state (a buffer of the wrong length, a value
   * that is not a number or overflows float32, a bad option or initialLr, a step that is not an
   * integer >= 0; an int8 code outside [0, 255], a negative absmax, bfloat16 bits outside
   * [0, 65535]), a buffer saved with another `stateDtype` (RangeError), a mismatch in strict mode,
   * or bad options.
   */
  loadStateDict(sd: OptimizerStateDict, options?: LoadStateDictOptions): void {
    const ctx = `${this.label}.loadStateDict`;
    this.#live('loadStateDict');
    this.#notInParts('loadStateDict');
    const strict = strictOption(ctx, options);
    checkStateDictShape(ctx, sd);
    const ours = this.#checkedGroups('loadStateDict');
    const keys = this.#keys();
    const idOf = new Map(keys.map((k, i) => [k, i]));
    // Groups: which saved group loads into which of ours.
    const groupPlan: Array<[number, Record<string, unknown>, number | undefined]> = [];
    const structureMatches = savedGroupsMatch(ctx, sd.paramGroups, ours, (p) => keys[this.#ids.get(p)!], strict);
    if (structureMatches) {
      sd.paramGroups.forEach((saved, i) => {
        const merged: Record<string, unknown> = { ...(ours[i] as Record<string, unknown>) };
        for (const k of [...this.#optionKeyList, ...this.#groupStateKeys]) if (saved[k] !== undefined) merged[k] = cloneOption(saved[k]);
        if (strict) checkKnownKeys(`${ctx}: param group ${i}`, saved, ['params', 'initialLr', ...this.#optionKeyList, ...this.#groupStateKeys]);
        validateGroup(this.descriptor, merged, `saved param group ${i}`);
        validateGroupState(this.descriptor, merged, `saved param group ${i}`);
        // A state the next step could not advance from (Schedule-Free's averaging weight
        // overflowing) is refused here, not at that step.
        this.descriptor.groupState?.advance(merged as O, merged as Record<string, number | boolean>, `saved param group ${i}`);
        const initialLr = saved.initialLr === undefined ? undefined : checkInitialLr(ctx, `initialLr of param group ${i}`, saved.initialLr);
        groupPlan.push([i, merged, initialLr]);
      });
    }
    // State entries.
    const statePlan: Array<[number, number, Array<Float32Array | null>, number | undefined]> = [];
    for (const [id, where, entry] of stateEntries(ctx, sd.state, idOf, strict)) {
      const step = checkNumber(ctx, `${where}.step`, entry.step, { integer: true, min: 0 });
      if (step > MAX_STEP) throw new RangeError(`${ctx}: expected ${where}.step to be an integer >= 0 and <= ${MAX_STEP}, received ${describeValue(step)}`);
      const n = this.#params[id]!.numel;
      const slots: Array<Float32Array | null> = this.descriptor.slots.map(() => null);
      let extra: number | undefined;
      for (const [name, value] of Object.entries(entry)) {
        if (name === 'step') continue;
        if (name === this.descriptor.scalarState) {
          extra = checkFloat32(ctx, `${where}.${name}`, checkNumber(ctx, `${where}.${name}`, value));
          continue;
        }
        // Computed from the step and the group's options: checked, not loaded.
        if (name === this.descriptor.computedState?.name) {
          checkFloat32(ctx, `${where}.${name}`, checkNumber(ctx, `${where}.${name}`, value));
          continue;
        }
        const s = this.descriptor.slots.indexOf(name);
        if (s < 0) {
          if (strict) throw new RangeError(`${ctx}: ${where} has an unknown buffer ${JSON.stringify(name)} (expected ${this.descriptor.slots.join(', ')})`);
          continue;
        }
        slots[s] = decodeState(ctx, `${where}.${name}`, value, n, this.stateDtype);
      }
      statePlan.push([id, step, slots, extra]);
    }
    // Commit.
    for (const [i, merged, initialLr] of groupPlan) {
      const g = ours[i] as Record<string, unknown>;
      for (const k of [...this.#optionKeyList, ...this.#groupStateKeys]) g[k] = merged[k];
      if (initialLr !== undefined) g.initialLr = initialLr;
    }
    if (strict) {
      this.#params.forEach((_, id) => this.#native.clearState(id));
      this.#store.clearAll();
    }
    const requests: SlotRequest[] = [];
    const data: Float32Array[] = [];
    for (const [id, step, slots, extra] of statePlan) {
      try {
        this.#native.setCounters(id, step, extra);
      } catch (e) {
        mapNativeError(e, ctx);
      }
      slots.forEach((buf, slot) => {
        const have = this.#store.get(id, slot);
        if (buf !== null && have !== null) have.set(buf);
        else if (buf !== null) requests.push({ id, slot, length: buf.length, fill: 0 }), data.push(buf);
      });
      // An entry replaces the parameter's whole state: a buffer it lacks is dropped.
      slots.forEach((buf, slot) => {
        if (buf === null && this.#store.get(id, slot) !== null) this.#store.clearSlot(id, slot);
      });
    }
    this.#store.create(requests).forEach((view, i) => view.set(data[i]!));
  }
}
