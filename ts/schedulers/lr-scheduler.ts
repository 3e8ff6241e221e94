/**
 * `LRScheduler`: the base class of every step-based learning-rate scheduler, with PyTorch's
 * bookkeeping (`initialLr`, `baseLrs`, `lastEpoch`, the construction-time step).
 * @module
 */
import { checkNumber, describeValue } from '../validate.js';
import { settleLr, type SchedulableOptimizer } from './internal.js';

export type { SchedulableOptimizer, SchedulerParamGroup } from './internal.js';

/**
 * Options every step-based scheduler accepts.
 * @group Schedulers
 * @category Options and defaults
 */
export interface LRSchedulerOptions {
  /**
   * The index of the last step taken. -1 starts the schedule; any other value resumes it, and then
   * every param group must already hold `initialLr` (as PyTorch requires `initial_lr`). Prefer
   * {@link LRScheduler.loadStateDict} to resume.
   * @defaultValue -1
   */
  lastEpoch?: number;
}

/**
 * A scheduler's state as plain JSON-serialisable data, as returned by `stateDict()`: the step
 * counters, the base lrs, the last lrs, the hyperparameters and any internal state (camelCase
 * versions of PyTorch's `state_dict()` keys). Functions (lr lambdas, custom scale functions) are
 * not saved; the scheduler that loads the state keeps its own.
 * @group Schedulers
 * @category State and optimizer interface
 */
export interface SchedulerStateDict {
  [key: string]: unknown;
}

/** @internal Runs PyTorch's `_initial_step()` (used by subclasses and {@link SequentialLR}). */
export const INITIAL_STEP: unique symbol = Symbol('ferroptim.initialStep');
/** @internal PyTorch's deprecated `step(epoch)`: jump to `epoch`, closed form where one exists (used by SequentialLR). */
export const STEP_TO_EPOCH: unique symbol = Symbol('ferroptim.stepToEpoch');
/** @internal Checks a state dict and returns the function that applies it (so nested loads are all-or-nothing). */
export const PREPARE_LOAD: unique symbol = Symbol('ferroptim.prepareLoad');

/** @internal The options of every param group (all keys but `params`), as {@link snapshotGroups} took them. */
export type GroupsSnapshot = ReadonlyArray<ReadonlyMap<string, unknown>>;

/** @internal Copies every group's options (arrays such as `betas` copied too), to undo a failed construction. */
export function snapshotGroups(optimizer: SchedulableOptimizer): GroupsSnapshot {
  return optimizer.paramGroups.map((g) => new Map(Object.entries(g).filter(([k]) => k !== 'params').map(([k, v]) => [k, Array.isArray(v) ? [...v] : v])));
}

/** @internal Puts back the options of {@link snapshotGroups}, removing keys added since. */
export function restoreGroups(optimizer: SchedulableOptimizer, snapshot: GroupsSnapshot): void {
  optimizer.paramGroups.forEach((g, i) => {
    const saved = snapshot[i];
    if (!saved) return;
    const rec = g as unknown as Record<string, unknown>;
    for (const k of Object.keys(rec)) if (k !== 'params' && !saved.has(k)) delete rec[k];
    for (const [k, v] of saved) rec[k] = Array.isArray(v) ? [...v] : v;
  });
}

/** How `loadStateDict` checks one key: a number kind, a boolean, or one of several strings. */
export type StateKind = 'number' | 'integer' | 'boolean' | 'numbers' | 'groupNumbers' | readonly string[];

function checkStateValue(ctx: string, key: string, v: unknown, kind: StateKind, groups: number): unknown {
  if (kind === 'number') return checkNumber(ctx, key, v);
  if (kind === 'integer') return checkNumber(ctx, key, v, { integer: true });
  if (kind === 'boolean') {
    if (typeof v !== 'boolean') throw new TypeError(`${ctx}: expected ${key} to be a boolean, received ${describeValue(v)}`);
    return v;
  }
  if (kind === 'numbers' || kind === 'groupNumbers') {
    if (!Array.isArray(v)) throw new TypeError(`${ctx}: expected ${key} to be an array of numbers, received ${describeValue(v)}`);
    if (kind === 'groupNumbers' && v.length !== groups) {
      throw new RangeError(`${ctx}: expected ${key} to hold one number per param group (${groups}), received ${v.length}`);
    }
    return v.map((x, i) => checkNumber(ctx, `${key}[${i}]`, x));
  }
  if (typeof v !== 'string' || !kind.includes(v)) {
    throw new (typeof v === 'string' ? RangeError : TypeError)(
      `${ctx}: expected ${key} to be one of ${kind.map((s) => JSON.stringify(s)).join(', ')}, received ${describeValue(v)}`,
    );
  }
  return v;
}

/** Checks that `sd` is a plain object holding only `known` keys. */
export function checkStateObject(ctx: string, sd: unknown, known: readonly string[]): Record<string, unknown> {
  if (sd === null || typeof sd !== 'object' || Array.isArray(sd)) {
    throw new TypeError(`${ctx}: expected a state dict (a plain object), received ${describeValue(sd)}`);
  }
  for (const k of Object.keys(sd)) {
    if (!known.includes(k)) throw new RangeError(`${ctx}: unknown key ${JSON.stringify(k)} (expected some of ${known.join(', ')})`);
  }
  return sd as Record<string, unknown>;
}

function cloneData(v: unknown): unknown {
  return Array.isArray(v) ? v.map(cloneData) : v;
}

/**
 * Base class of the step-based learning-rate schedulers, as `torch.optim.lr_scheduler.LRScheduler`.
 *
 * @remarks
 * ```text
 * construction (lastEpoch = -1):  g.initialLr ??= g.lr for every group;  baseLrs = [g.initialLr]
 *                                 then one step: lastEpoch -1 → 0, the epoch-0 lr is written now
 * step():                         lastEpoch += 1;  g.lr = getLr()[i];  lastLr = [g.lr]
 * ```
 * Constructing a scheduler overwrites the groups' `lr` with the value at step 0, exactly as in
 * PyTorch: when restoring a checkpoint, construct the scheduler before calling the optimizer's
 * `loadStateDict`, then the scheduler's. Call `optimizer.step()` before `scheduler.step()`.
 *
 * Subclasses implement `getLr()` the way PyTorch does: the recursive ("chainable") form where
 * PyTorch uses one, reading each group's current `lr`, so several schedulers compose (see
 * {@link ChainedScheduler}) and external lr edits persist; both the float drift of the recursive
 * form and its differences from the closed form are PyTorch's.
 *
 * Schedulers accept any object with a `paramGroups` array ({@link SchedulableOptimizer}): every
 * ferroptim optimizer, and wrappers that expose their inner optimizer's groups. For a group added
 * to the optimizer after the scheduler was built, PyTorch's behaviour is kept: recursive forms
 * scale its lr like the others', forms computed from `baseLrs` (sized at construction) leave it alone.
 *
 * With {@link LRScheduler.countOnlyAppliedSteps} set, a `step()` that follows an optimizer step
 * skipped for non-finite gradients does nothing, so only applied steps move the schedule.
 *
 * Every scheduler writes the lr through one path, which settles rounding residue:
 * ```text
 * scale = max(baseLrs[i], maxLr (CyclicLR, OneCycleLR), etaMin (cosine schedules), |g.lr before the step|)
 * −1e−6·scale ≤ lr < 0, or a negative subnormal   →   g.lr = 0     (every other value as computed)
 * ```
 * Deviation: PyTorch writes the residue. Its recursive forms can end a schedule that should reach
 * 0 a few ulps below it (LinearLR with endFactor 0 gives −1.5e−18 for lr 0.1; CosineAnnealingLR
 * from a base lr of 0 up to etaMin drifts below 0 by about 3e−16·etaMin per step), and PyTorch's
 * optimizers never look at the sign of lr after construction. ferroptim's optimizers check
 * `lr ≥ 0` at every step, so the residue would stop training. The bound covers the drift of 10^9
 * recursive steps; the change only ever replaces a negative value by 0 (the closed form's value
 * at such ends), moves the lr by at most 1e−6 of the schedule's scale, and leaves every lr ≥ 0
 * bit-identical to PyTorch's; the recursion then continues from 0. A lr that is negative beyond
 * the residue (a lrLambda returning −0.5, say) is written as computed, and the optimizer's next
 * step refuses it with a RangeError.
 *
 * @example
 * ```ts
 * const scheduler: LRScheduler = new CosineAnnealingLR(optimizer, { tMax: epochs });
 * for (let epoch = 0; epoch < epochs; epoch++) {
 *   trainOneEpoch(); // ends with optimizer.step()
 *   scheduler.step();
 *   console.log(scheduler.getLastLr());
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.LRScheduler.html | torch.optim.lr_scheduler.LRScheduler}
 * @throws TypeError or RangeError from a subclass's constructor (a bad optimizer or option) and
 * from `loadStateDict` (a malformed state).
 * @group Schedulers
 * @category Classes
 */
export abstract class LRScheduler {
  /** The optimizer (or wrapper) whose param groups this scheduler drives. */
  readonly optimizer: SchedulableOptimizer;
  /** Each group's lr at step 0 of the schedule (its `initialLr` at construction). */
  baseLrs: number[];
  /** The index of the current step: 0 right after construction, then 1, 2, … */
  lastEpoch: number;
  /** Number of `step()` calls, including the construction-time one (PyTorch's `_step_count`). */
  protected stepCount = 0;
  /**
   * Count only optimizer steps that were applied: when set, `step()` does nothing after an
   * optimizer step that `skipNonFinite` skipped (`optimizer.lastStepApplied === false`), so the
   * schedule is not advanced by steps that never happened.
   * @defaultValue false
   */
  countOnlyAppliedSteps = false;
  /** The lr of each group after the last step. */
  protected lastLr: number[];
  /** The class name used in messages. */
  protected readonly label: string;
  /** The groups before construction, until the initial step has succeeded. */
  #before: GroupsSnapshot | undefined;

  /**
   * Adopts the optimizer's groups. Subclasses check their options first, call this, set their
   * fields, then run `this[INITIAL_STEP]()`.
   * @param adoptInitialLr - set `initialLr` where missing (lastEpoch -1) or require it (resuming).
   * @param before - the groups as they were before the construction wrote anything (a subclass
   * that writes before calling this takes it first): restored if the initial step throws.
   */
  protected constructor(label: string, optimizer: SchedulableOptimizer, lastEpoch: number, adoptInitialLr = true, before: ReadonlyArray<ReadonlyMap<string, unknown>> = snapshotGroups(optimizer)) {
    this.#before = before;
    this.label = label;
    this.optimizer = optimizer;
    const groups = optimizer.paramGroups;
    if (adoptInitialLr) {
      if (lastEpoch === -1) {
        for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
      } else {
        groups.forEach((g, i) => {
          if (g.initialLr === undefined) {
            throw new RangeError(
              `${label}: param group ${i} has no initialLr; resuming with lastEpoch ${lastEpoch} needs the initialLr of every group (as saved in the optimizer's state dict)`,
            );
          }
        });
      }
    }
    this.baseLrs = groups.map((g) => g.initialLr ?? g.lr);
    this.lastEpoch = lastEpoch;
    this.lastLr = groups.map((g) => g.lr);
  }

  /** The lr of each group at `lastEpoch` (PyTorch's `get_lr`); called by `step()` only. */
  protected abstract getLr(): number[];

  /** The closed form at `lastEpoch` (PyTorch's `_get_closed_form_lr`), where PyTorch has one. */
  protected closedFormLr(): number[] | undefined {
    return undefined;
  }

  /** The keys of the state dict and how `loadStateDict` checks each one. */
  protected stateSpec(): Record<string, StateKind> {
    return { lastEpoch: 'integer', stepCount: 'integer', baseLrs: 'groupNumbers', lastLr: 'numbers' };
  }

  /**
   * Writes `values` into the groups (zipped, as PyTorch) and records `lastLr`: the one place a
   * scheduler sets `lr`. A negative rounding residue (see the class remarks) is written as 0.
   */
  protected applyLr(values: readonly number[]): void {
    const groups = this.optimizer.paramGroups;
    const n = Math.min(groups.length, values.length);
    for (let i = 0; i < n; i++) {
      const g = groups[i]!;
      g.lr = settleLr(values[i]!, Math.max(this.lrScale(i), Number.isFinite(g.lr) ? Math.abs(g.lr) : 0));
    }
    this.lastLr = groups.map((g) => g.lr);
  }

  /**
   * The size of group `i`'s schedule, against which a negative lr counts as rounding residue: its
   * base lr, or a larger level the schedule moves to (subclasses add maxLr or etaMin).
   */
  protected lrScale(i: number): number {
    return this.baseLrs[i] ?? 0;
  }

  /** Advances the schedule by one step and writes the new lr into every param group. */
  step(): void {
    if (this.countOnlyAppliedSteps && this.optimizer.lastStepApplied === false) return;
    this.stepCount += 1;
    this.lastEpoch += 1;
    let values: number[];
    try {
      values = this.getLr();
    } catch (e) {
      this.stepCount -= 1;
      this.lastEpoch -= 1;
      throw e;
    }
    this.applyLr(values);
  }

  /** The lr of each param group after the last step (a copy). */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The scheduler's state as plain JSON-serialisable data (see {@link SchedulerStateDict}). */
  stateDict(): SchedulerStateDict {
    const self = this as unknown as Record<string, unknown>;
    const out: SchedulerStateDict = {};
    for (const k of Object.keys(this.stateSpec())) out[k] = cloneData(self[k]);
    return out;
  }

  /**
   * Loads a state produced by {@link LRScheduler.stateDict | stateDict} (possibly through JSON). Everything is checked
   * before anything changes. Load the optimizer's state too: recursive schedulers continue from
   * the groups' current `lr`.
   * @throws TypeError or RangeError for a malformed state (unknown key, wrong type, wrong number of groups).
   */
  loadStateDict(stateDict: SchedulerStateDict): void {
    this[PREPARE_LOAD](stateDict)();
  }

  /** @internal */
  [PREPARE_LOAD](stateDict: SchedulerStateDict): () => void {
    const ctx = `${this.label}.loadStateDict`;
    const spec = this.stateSpec();
    const sd = checkStateObject(ctx, stateDict, Object.keys(spec));
    const updates: Array<[string, unknown]> = [];
    for (const [k, kind] of Object.entries(spec)) {
      if (sd[k] !== undefined) updates.push([k, checkStateValue(ctx, k, sd[k], kind, this.baseLrs.length)]);
    }
    return () => {
      const self = this as unknown as Record<string, unknown>;
      for (const [k, v] of updates) self[k] = v;
    };
  }

  /** @internal PyTorch's `_initial_step()`. */
  [INITIAL_STEP](): void {
    this.stepCount = 0;
    try {
      this.step();
    } catch (e) {
      // A user function (lrLambda, scaleFn, ...) refused at the first step: the construction fails
      // and leaves the optimizer's groups as they were (initialLr, lr and momentum included).
      if (this.#before) restoreGroups(this.optimizer, this.#before);
      throw e;
    } finally {
      this.#before = undefined;
    }
  }

  /** @internal PyTorch's `step(epoch)`: closed form where one exists, else `getLr()`. */
  [STEP_TO_EPOCH](epoch: number): void {
    const saved = [this.stepCount, this.lastEpoch] as const;
    this.stepCount += 1;
    this.lastEpoch = epoch;
    let values: number[];
    try {
      values = this.closedFormLr() ?? this.getLr();
    } catch (e) {
      [this.stepCount, this.lastEpoch] = saved;
      throw e;
    }
    this.applyLr(values);
  }
}

/** The current lr of every group (what PyTorch's non-decaying branches return). */
export function currentLrs(optimizer: SchedulableOptimizer): number[] {
  return optimizer.paramGroups.map((g) => g.lr);
}
