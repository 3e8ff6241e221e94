/**
 * `SequentialLR`: run several schedulers one after the other, switching at milestones.
 * @module
 */
import { describeValue } from '../validate.js';
import { ReduceLROnPlateau } from './reduce-lr-on-plateau.js';
import { bisectRight, checkLastEpoch, checkOptimizer, numbers, readOptions } from './internal.js';
import {
  checkStateObject,
  currentLrs,
  INITIAL_STEP,
  LRScheduler,
  PREPARE_LOAD,
  STEP_TO_EPOCH,
  type LRSchedulerOptions,
  type SchedulableOptimizer,
  type SchedulerStateDict,
  type StateKind,
} from './lr-scheduler.js';

/**
 * Options of {@link SequentialLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface SequentialLROptions extends LRSchedulerOptions {
  /** The schedulers, in order, all built on the same optimizer. Required. */
  schedulers: readonly LRScheduler[];
  /** The steps at which each scheduler after the first takes over (one fewer than schedulers; integers ≥ 0, non-decreasing). Required. */
  milestones: readonly number[];
}

const LABEL = 'SequentialLR';

/** Checks a list of child schedulers for SequentialLR and ChainedScheduler. */
export function checkChildren(label: string, v: unknown, optimizer: SchedulableOptimizer | undefined): LRScheduler[] {
  if (!Array.isArray(v)) throw new TypeError(`${label}: expected schedulers to be an array of schedulers, received ${describeValue(v)}`);
  if (v.length === 0) throw new RangeError(`${label}: expected at least one scheduler, received none`);
  const opt = optimizer ?? (v[0] as LRScheduler | undefined)?.optimizer;
  v.forEach((s: unknown, i) => {
    if (!(s instanceof LRScheduler)) {
      const plateau = s instanceof ReduceLROnPlateau;
      throw new TypeError(
        plateau
          ? `${label}: ReduceLROnPlateau cannot be chained (its step() needs a metric), received one at schedulers[${i}]`
          : `${label}: expected schedulers[${i}] to be a step-based scheduler (an LRScheduler), received ${describeValue(s)}`,
      );
    }
    if (s.optimizer !== opt) {
      throw new RangeError(`${label}: expected every scheduler to drive the same optimizer, but schedulers[${i}] (${s.constructor.name}) drives a different one`);
    }
  });
  return [...(v as LRScheduler[])];
}

/**
 * Runs several schedulers in sequence, handing over at the milestones, as
 * `torch.optim.lr_scheduler.SequentialLR`; the usual warmup-then-decay setup.
 *
 * @remarks
 * ```text
 * construction: g.lr = g.initialLr for every group; every child's lastEpoch −= 1 (undoing its
 *               construction-time step); child 0 runs its initial step again
 * step():       e += 1;  i = number of milestones ≤ e
 *               e = milestones[i−1]:  child i restarts at its step 0 (closed form where PyTorch has one)
 *               otherwise:            child i steps (recursively, from the current lr)
 * ```
 * `lastEpoch` defaults to -1. The children must be built on the same optimizer just before, in
 * order; each one's construction writes the lr (PyTorch's behaviour), which SequentialLR then
 * resets. ReduceLROnPlateau cannot be a child. The state dict nests the children's.
 *
 * @example
 * ```ts
 * const optimizer = new AdamW(params, { lr: 1e-3 });
 * const warmup = new LinearLR(optimizer, { startFactor: 0.01, totalIters: 100 });
 * const decay = new CosineAnnealingLR(optimizer, { tMax: 900 });
 * const scheduler = new SequentialLR(optimizer, { schedulers: [warmup, decay], milestones: [100] });
 * for (let step = 0; step < 1000; step++) {
 *   computeGrads();
 *   optimizer.step();
 *   scheduler.step();
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.SequentialLR.html | torch.optim.lr_scheduler.SequentialLR}
 * @throws TypeError or RangeError for a bad optimizer, an empty schedulers list, a child that is
 * not a step-based scheduler or drives another optimizer, or milestones that are not
 * schedulers.length − 1 non-decreasing integers ≥ 0.
 * @group Schedulers
 * @category Classes
 */
export class SequentialLR extends LRScheduler {
  /** The child schedulers, in order. */
  readonly schedulers: readonly LRScheduler[];
  /** The steps at which each scheduler after the first takes over. */
  readonly milestones: readonly number[];

  constructor(optimizer: SchedulableOptimizer, options: SequentialLROptions) {
    const groups = checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['schedulers', 'milestones', 'lastEpoch']);
    const schedulers = checkChildren(LABEL, o.schedulers, optimizer);
    const milestones = numbers(LABEL, 'milestones', o.milestones, { integer: true, min: 0 });
    if (milestones.length !== schedulers.length - 1) {
      throw new RangeError(
        `${LABEL}: expected one milestone fewer than schedulers (${schedulers.length - 1}), received ${milestones.length} milestones for ${schedulers.length} schedulers`,
      );
    }
    milestones.forEach((m, i) => {
      if (i > 0 && m < milestones[i - 1]!) throw new RangeError(`${LABEL}: expected milestones to be non-decreasing, received ${describeValue(milestones)}`);
    });
    const lastEpoch = checkLastEpoch(LABEL, o.lastEpoch);
    super(LABEL, optimizer, lastEpoch, false);
    this.schedulers = schedulers;
    this.milestones = milestones;
    this.lastEpoch = lastEpoch + 1;
    for (const g of groups) if (g.initialLr !== undefined) g.lr = g.initialLr;
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0]![INITIAL_STEP]();
    this.lastLr = schedulers[0]!.getLastLr();
  }

  protected override getLr(): number[] {
    return currentLrs(this.optimizer);
  }

  /** Advances the active child scheduler by one step (restarting it at its milestone). */
  override step(): void {
    const e = this.lastEpoch + 1;
    const idx = bisectRight(this.milestones, e);
    const scheduler = this.schedulers[idx]!;
    if (idx > 0 && this.milestones[idx - 1] === e) scheduler[STEP_TO_EPOCH](0);
    else scheduler.step();
    this.lastEpoch = e;
    this.lastLr = scheduler.getLastLr();
  }

  /** @internal PyTorch's SequentialLR has no closed form; `step(0)` on it is not meaningful. */
  override [STEP_TO_EPOCH](): void {
    this.step();
  }

  protected override stateSpec(): Record<string, StateKind> {
    return { lastEpoch: 'integer', lastLr: 'numbers', milestones: 'numbers' };
  }

  /** The state, with each child's under `schedulers`. */
  override stateDict(): SchedulerStateDict {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  /** @internal */
  override [PREPARE_LOAD](stateDict: SchedulerStateDict): () => void {
    return prepareNested(this, `${this.label}.loadStateDict`, stateDict, (own) => super[PREPARE_LOAD](own));
  }
}

/** Loads a state dict whose `schedulers` key holds the children's; all checked before anything is applied. */
export function prepareNested(
  self: { readonly schedulers: readonly LRScheduler[] },
  ctx: string,
  stateDict: SchedulerStateDict,
  prepareOwn: (own: SchedulerStateDict) => () => void,
): () => void {
  const sd = checkStateObject(ctx, stateDict, Object.keys(stateDict ?? {}));
  const { schedulers: children, ...own } = sd;
  const commits: Array<() => void> = [];
  if (children !== undefined) {
    if (!Array.isArray(children) || children.length !== self.schedulers.length) {
      throw new RangeError(`${ctx}: expected schedulers to hold the state of ${self.schedulers.length} schedulers, received ${describeValue(children)}`);
    }
    children.forEach((c, i) => commits.push(self.schedulers[i]![PREPARE_LOAD](c as SchedulerStateDict)));
  }
  commits.push(prepareOwn(own));
  return () => commits.forEach((c) => c());
}
