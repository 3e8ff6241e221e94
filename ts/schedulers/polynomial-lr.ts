/**
 * `PolynomialLR`: polynomial decay of the lr to 0 over totalIters steps.
 * @module
 */
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { checkLastEpoch, checkOptimizer, num, readOptions } from './internal.js';
import { currentLrs, INITIAL_STEP, LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer, type StateKind } from './lr-scheduler.js';

/**
 * Options of {@link PolynomialLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface PolynomialLROptions extends LRSchedulerOptions {
  /** Number of steps of the decay (an integer ≥ 1). @defaultValue 5 */
  totalIters?: number;
  /** Power of the polynomial (≥ 0). @defaultValue 1 */
  power?: number;
}

const LABEL = 'PolynomialLR';

/**
 * Decays each group's lr to 0 along a polynomial over `totalIters` steps, as
 * `torch.optim.lr_scheduler.PolynomialLR`.
 *
 * @remarks
 * ```text
 * recursive (what step() does):  1 ≤ e ≤ T:  lr(e) = lr(e−1) · ((1 − e/T) / (1 − (e−1)/T))^p
 *                                otherwise:  lr(e) = lr(e−1)
 * closed form:                   lr(e) = base_lr · (1 − min(T, e)/T)^p
 * ```
 * Defaults: totalIters 5, power 1, lastEpoch -1. The lr is exactly 0 from step T on.
 *
 * @example
 * ```ts
 * // lr 0.001 → 0.00075 → 0.0005 → 0.00025 → 0
 * const scheduler = new PolynomialLR(optimizer, { totalIters: 4, power: 1 });
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.PolynomialLR.html | torch.optim.lr_scheduler.PolynomialLR}
 * @throws TypeError or RangeError for a bad optimizer, a totalIters that is not an integer ≥ 1 or a negative power.
 * @group Schedulers
 * @category Classes
 */
export class PolynomialLR extends LRScheduler {
  /** Number of steps of the decay. */
  readonly totalIters: number;
  /** Power of the polynomial. */
  readonly power: number;

  constructor(optimizer: SchedulableOptimizer, options: PolynomialLROptions = {}) {
    checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['totalIters', 'power', 'lastEpoch']);
    const d = SCHEDULER_DEFAULTS.PolynomialLR;
    const totalIters = num(LABEL, 'totalIters', o.totalIters, d.totalIters, { integer: true, min: 1 });
    const power = num(LABEL, 'power', o.power, d.power, { min: 0 });
    super(LABEL, optimizer, checkLastEpoch(LABEL, o.lastEpoch));
    this.totalIters = totalIters;
    this.power = power;
    this[INITIAL_STEP]();
  }

  protected override getLr(): number[] {
    const { totalIters: T, lastEpoch: e } = this;
    if (e === 0 || e > T) return currentLrs(this.optimizer);
    const decay = ((1.0 - e / T) / (1.0 - (e - 1) / T)) ** this.power;
    return this.optimizer.paramGroups.map((g) => g.lr * decay);
  }

  protected override closedFormLr(): number[] {
    const { totalIters: T, lastEpoch: e } = this;
    return this.baseLrs.map((base) => base * (1.0 - Math.min(T, e) / T) ** this.power);
  }

  protected override stateSpec(): Record<string, StateKind> {
    return { ...super.stateSpec(), totalIters: 'integer', power: 'number' };
  }
}
