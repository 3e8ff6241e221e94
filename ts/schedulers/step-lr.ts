/**
 * `StepLR`: decay the lr by gamma every stepSize steps.
 * @module
 */
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { checkLastEpoch, checkOptimizer, num, readOptions } from './internal.js';
import { currentLrs, INITIAL_STEP, LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer, type StateKind } from './lr-scheduler.js';

/**
 * Options of {@link StepLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface StepLROptions extends LRSchedulerOptions {
  /** Period of the decay, in steps (an integer ≥ 1). Required. */
  stepSize: number;
  /** Multiplicative factor of the decay (> 0). @defaultValue 0.1 */
  gamma?: number;
}

const LABEL = 'StepLR';

/**
 * Decays each group's lr by `gamma` every `stepSize` steps, as `torch.optim.lr_scheduler.StepLR`.
 *
 * @remarks
 * ```text
 * recursive (what step() does):  lr(e) = lr(e−1) · γ   if e > 0 and e mod stepSize = 0
 *                                lr(e) = lr(e−1)       otherwise
 * closed form:                   lr(e) = base_lr · γ^⌊e / stepSize⌋
 * ```
 * Defaults: gamma 0.1, lastEpoch -1. The recursive form composes with other lr changes.
 *
 * @example
 * ```ts
 * // lr = 0.05 for epochs 0–29, 0.005 for 30–59, 0.0005 for 60–89, …
 * const scheduler = new StepLR(optimizer, { stepSize: 30, gamma: 0.1 });
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   train();
 *   optimizer.step();
 *   scheduler.step();
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.StepLR.html | torch.optim.lr_scheduler.StepLR}
 * @throws TypeError or RangeError for a bad optimizer, a missing or non-integer stepSize, or a gamma that is not > 0.
 * @group Schedulers
 * @category Classes
 */
export class StepLR extends LRScheduler {
  /** Period of the decay, in steps. */
  readonly stepSize: number;
  /** Multiplicative factor of the decay. */
  readonly gamma: number;

  constructor(optimizer: SchedulableOptimizer, options: StepLROptions) {
    checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['stepSize', 'gamma', 'lastEpoch']);
    const stepSize = num(LABEL, 'stepSize', o.stepSize, undefined, { integer: true, min: 1 });
    const gamma = num(LABEL, 'gamma', o.gamma, SCHEDULER_DEFAULTS.StepLR.gamma, { above: 0 });
    super(LABEL, optimizer, checkLastEpoch(LABEL, o.lastEpoch));
    this.stepSize = stepSize;
    this.gamma = gamma;
    this[INITIAL_STEP]();
  }

  protected override getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return currentLrs(this.optimizer);
    return this.optimizer.paramGroups.map((g) => g.lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((base) => base * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }

  protected override stateSpec(): Record<string, StateKind> {
    return { ...super.stateSpec(), stepSize: 'integer', gamma: 'number' };
  }
}
