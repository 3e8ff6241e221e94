/**
 * `MultiStepLR`: decay the lr by gamma at each milestone.
 * @module
 */
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { bisectRight, checkLastEpoch, checkOptimizer, num, numbers, readOptions } from './internal.js';
import { currentLrs, INITIAL_STEP, LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer, type StateKind } from './lr-scheduler.js';

/**
 * Options of {@link MultiStepLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface MultiStepLROptions extends LRSchedulerOptions {
  /** Step indices (integers ≥ 0) at which the lr is multiplied by gamma; a repeated milestone multiplies once per occurrence. Required. */
  milestones: readonly number[];
  /** Multiplicative factor of the decay (> 0). @defaultValue 0.1 */
  gamma?: number;
}

const LABEL = 'MultiStepLR';

/**
 * Decays each group's lr by `gamma` when the step index reaches a milestone, as
 * `torch.optim.lr_scheduler.MultiStepLR`.
 *
 * @remarks
 * ```text
 * recursive (what step() does):  lr(e) = lr(e−1) · γ^count(e in milestones)   if e is a milestone
 *                                lr(e) = lr(e−1)                              otherwise
 * closed form:                   lr(e) = base_lr · γ^(number of milestones ≤ e)
 * ```
 * Defaults: gamma 0.1, lastEpoch -1. As in PyTorch (a `Counter`), a milestone listed twice
 * multiplies by γ² at that step; milestone 0 has no effect on the recursive form.
 *
 * @example
 * ```ts
 * // lr = 0.05 for epochs 0–29, 0.005 for 30–79, 0.0005 from 80
 * const scheduler = new MultiStepLR(optimizer, { milestones: [30, 80], gamma: 0.1 });
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.MultiStepLR.html | torch.optim.lr_scheduler.MultiStepLR}
 * @throws TypeError or RangeError for a bad optimizer, milestones that are not an array of
 * integers ≥ 0, or a gamma that is not > 0.
 * @group Schedulers
 * @category Classes
 */
export class MultiStepLR extends LRScheduler {
  /** The milestones, sorted (with repetitions). */
  readonly milestones: readonly number[];
  /** Multiplicative factor of the decay. */
  readonly gamma: number;

  constructor(optimizer: SchedulableOptimizer, options: MultiStepLROptions) {
    checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['milestones', 'gamma', 'lastEpoch']);
    const milestones = numbers(LABEL, 'milestones', o.milestones, { integer: true, min: 0 }).sort((a, b) => a - b);
    const gamma = num(LABEL, 'gamma', o.gamma, SCHEDULER_DEFAULTS.MultiStepLR.gamma, { above: 0 });
    super(LABEL, optimizer, checkLastEpoch(LABEL, o.lastEpoch));
    this.milestones = milestones;
    this.gamma = gamma;
    this[INITIAL_STEP]();
  }

  protected override getLr(): number[] {
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (count === 0) return currentLrs(this.optimizer);
    return this.optimizer.paramGroups.map((g) => g.lr * this.gamma ** count);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((base) => base * this.gamma ** bisectRight(this.milestones, this.lastEpoch));
  }

  protected override stateSpec(): Record<string, StateKind> {
    return { ...super.stateSpec(), milestones: 'numbers', gamma: 'number' };
  }
}
