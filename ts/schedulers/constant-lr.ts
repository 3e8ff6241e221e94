/**
 * `ConstantLR`: scale the lr by a constant factor for the first totalIters steps.
 * @module
 */
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { checkLastEpoch, checkOptimizer, notSubnormal, num, readOptions } from './internal.js';
import { currentLrs, INITIAL_STEP, LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer, type StateKind } from './lr-scheduler.js';

/**
 * Options of {@link ConstantLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface ConstantLROptions extends LRSchedulerOptions {
  /** The factor applied until `totalIters`, in (0, 1] and not subnormal (≥ 2^−1022). @defaultValue 1/3 */
  factor?: number;
  /** Number of steps the factor applies (an integer ≥ 0). @defaultValue 5 */
  totalIters?: number;
}

const LABEL = 'ConstantLR';

/**
 * Multiplies each group's lr by a constant factor until the step index reaches `totalIters`, as
 * `torch.optim.lr_scheduler.ConstantLR`; a common warmup.
 *
 * @remarks
 * ```text
 * recursive (what step() does):  e = 0:          lr(0) = lr · f
 *                                e = totalIters: lr(e) = lr(e−1) · (1 / f)
 *                                otherwise:      lr(e) = lr(e−1)
 * closed form:                   lr(e) = base_lr · (f + [e ≥ totalIters] · (1 − f))
 * ```
 * Defaults: factor 1/3, totalIters 5, lastEpoch -1. Because of the recursive form, the lr at
 * `totalIters` is `base_lr · f · (1/f)`, which may differ from `base_lr` in the last bit.
 * Deviation: PyTorch accepts factor 0, which makes the step at totalIters compute 0 · ∞ = NaN,
 * and subnormal factors (below 2^−1022 ≈ 2.2e−308), for which 1/f is ∞ and the lr at totalIters
 * becomes ∞ or NaN; ferroptim requires factor ≥ 2^−1022.
 *
 * @example
 * ```ts
 * // lr = 0.025 for epochs 0–3, then 0.05 (optimizer lr 0.05)
 * const scheduler = new ConstantLR(optimizer, { factor: 0.5, totalIters: 4 });
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ConstantLR.html | torch.optim.lr_scheduler.ConstantLR}
 * @throws TypeError or RangeError for a bad optimizer, a factor outside [2^−1022, 1] or a totalIters that is not an integer ≥ 0.
 * @group Schedulers
 * @category Classes
 */
export class ConstantLR extends LRScheduler {
  /** The factor applied until `totalIters`. */
  readonly factor: number;
  /** Number of steps the factor applies. */
  readonly totalIters: number;

  constructor(optimizer: SchedulableOptimizer, options: ConstantLROptions = {}) {
    checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['factor', 'totalIters', 'lastEpoch']);
    const d = SCHEDULER_DEFAULTS.ConstantLR;
    const factor = notSubnormal(LABEL, 'factor', num(LABEL, 'factor', o.factor, d.factor, { above: 0, max: 1 }));
    const totalIters = num(LABEL, 'totalIters', o.totalIters, d.totalIters, { integer: true, min: 0 });
    super(LABEL, optimizer, checkLastEpoch(LABEL, o.lastEpoch));
    this.factor = factor;
    this.totalIters = totalIters;
    this[INITIAL_STEP]();
  }

  protected override getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0) return groups.map((g) => g.lr * this.factor);
    if (this.lastEpoch !== this.totalIters) return currentLrs(this.optimizer);
    return groups.map((g) => g.lr * (1.0 / this.factor));
  }

  protected override closedFormLr(): number[] {
    const reached = this.lastEpoch >= this.totalIters ? 1 : 0;
    return this.baseLrs.map((base) => base * (this.factor + reached * (1 - this.factor)));
  }

  protected override stateSpec(): Record<string, StateKind> {
    return { ...super.stateSpec(), factor: 'number', totalIters: 'integer' };
  }
}
