/**
 * `ExponentialLR`: multiply the lr by gamma every step.
 * @module
 */
import { checkLastEpoch, checkOptimizer, num, readOptions } from './internal.js';
import { currentLrs, INITIAL_STEP, LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer, type StateKind } from './lr-scheduler.js';

/**
 * Options of {@link ExponentialLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface ExponentialLROptions extends LRSchedulerOptions {
  /** Multiplicative factor per step (> 0). Required. */
  gamma: number;
}

const LABEL = 'ExponentialLR';

/**
 * Decays each group's lr by `gamma` every step, as `torch.optim.lr_scheduler.ExponentialLR`.
 *
 * @remarks
 * ```text
 * recursive (what step() does):  lr(0) = lr;  lr(e) = lr(e−1) · γ
 * closed form:                   lr(e) = base_lr · γ^e
 * ```
 * `gamma` is required (PyTorch has no default); lastEpoch defaults to -1.
 *
 * @example
 * ```ts
 * const scheduler = new ExponentialLR(optimizer, { gamma: 0.95 });
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ExponentialLR.html | torch.optim.lr_scheduler.ExponentialLR}
 * @throws TypeError or RangeError for a bad optimizer or a gamma that is missing or not > 0.
 * @group Schedulers
 * @category Classes
 */
export class ExponentialLR extends LRScheduler {
  /** Multiplicative factor per step. */
  readonly gamma: number;

  constructor(optimizer: SchedulableOptimizer, options: ExponentialLROptions) {
    checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['gamma', 'lastEpoch']);
    const gamma = num(LABEL, 'gamma', o.gamma, undefined, { above: 0 });
    super(LABEL, optimizer, checkLastEpoch(LABEL, o.lastEpoch));
    this.gamma = gamma;
    this[INITIAL_STEP]();
  }

  protected override getLr(): number[] {
    if (this.lastEpoch === 0) return currentLrs(this.optimizer);
    return this.optimizer.paramGroups.map((g) => g.lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((base) => base * this.gamma ** this.lastEpoch);
  }

  protected override stateSpec(): Record<string, StateKind> {
    return { ...super.stateSpec(), gamma: 'number' };
  }
}
