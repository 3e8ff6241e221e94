/**
 * `LinearLR`: change the lr's factor linearly from startFactor to endFactor over totalIters steps.
 * @module
 */
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { checkLastEpoch, checkOptimizer, notSubnormal, num, readOptions } from './internal.js';
import { currentLrs, INITIAL_STEP, LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer, type StateKind } from './lr-scheduler.js';

/**
 * Options of {@link LinearLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface LinearLROptions extends LRSchedulerOptions {
  /** The factor at step 0, in (0, 1] and not subnormal (≥ 2^−1022). @defaultValue 1/3 */
  startFactor?: number;
  /** The factor reached at `totalIters`, in [0, 1]. @defaultValue 1 */
  endFactor?: number;
  /** Number of steps of the linear change (an integer ≥ 1). @defaultValue 5 */
  totalIters?: number;
}

const LABEL = 'LinearLR';

/**
 * Multiplies each group's base lr by a factor that moves linearly from `startFactor` to
 * `endFactor` over `totalIters` steps, as `torch.optim.lr_scheduler.LinearLR`: the usual
 * linear warmup (or linear decay).
 *
 * @remarks
 * ```text
 * recursive (what step() does):  e = 0:           lr(0) = lr · s
 *                                1 ≤ e ≤ T:       lr(e) = lr(e−1) · (1 + (z − s) / (T·s + (e − 1)·(z − s)))
 *                                e > T:           lr(e) = lr(e−1)
 * closed form:                   lr(e) = base_lr · (s + (z − s) · min(T, e) / T)
 * (s = startFactor, z = endFactor, T = totalIters)
 * ```
 * Defaults: startFactor 1/3, endFactor 1, totalIters 5, lastEpoch -1. The recursive form drifts
 * from the closed form by a few ulps, as in PyTorch (e.g. a warmup to 0.1 ends at 0.10000000000000005).
 *
 * With endFactor 0 the last factor, 1 − s/(T·s − (T − 1)·s), is 0 only up to rounding, so PyTorch
 * ends the decay at ±1e−17·lr (−1.5e−18 for lr 0.1, startFactor 1/3, totalIters 5) and stays there.
 * Deviation: a negative end is written as 0 (see {@link LRScheduler}: ferroptim's optimizers
 * refuse a negative lr); a positive one is kept. Deviation: PyTorch accepts a subnormal startFactor
 * (below 2^−1022 ≈ 2.2e−308), for which (z − s)/(T·s) overflows and the lr becomes ∞ or NaN at
 * step 1; ferroptim requires startFactor ≥ 2^−1022.
 *
 * @example
 * ```ts
 * // Warm up from 0.1·lr to lr over 10 steps, then cosine-anneal (see SequentialLR)
 * const warmup = new LinearLR(optimizer, { startFactor: 0.1, totalIters: 10 });
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.LinearLR.html | torch.optim.lr_scheduler.LinearLR}
 * @throws TypeError or RangeError for a bad optimizer, a startFactor outside [2^−1022, 1], an
 * endFactor outside [0, 1] or a totalIters that is not an integer ≥ 1.
 * @group Schedulers
 * @category Classes
 */
export class LinearLR extends LRScheduler {
  /** The factor at step 0. */
  readonly startFactor: number;
  /** The factor reached at `totalIters`. */
  readonly endFactor: number;
  /** Number of steps of the linear change. */
  readonly totalIters: number;

  constructor(optimizer: SchedulableOptimizer, options: LinearLROptions = {}) {
    checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['startFactor', 'endFactor', 'totalIters', 'lastEpoch']);
    const d = SCHEDULER_DEFAULTS.LinearLR;
    const startFactor = notSubnormal(LABEL, 'startFactor', num(LABEL, 'startFactor', o.startFactor, d.startFactor, { above: 0, max: 1 }));
    const endFactor = num(LABEL, 'endFactor', o.endFactor, d.endFactor, { min: 0, max: 1 });
    const totalIters = num(LABEL, 'totalIters', o.totalIters, d.totalIters, { integer: true, min: 1 });
    super(LABEL, optimizer, checkLastEpoch(LABEL, o.lastEpoch));
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this[INITIAL_STEP]();
  }

  protected override getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const { startFactor: s, endFactor: z, totalIters: T, lastEpoch: e } = this;
    if (e === 0) return groups.map((g) => g.lr * s);
    if (e > T) return currentLrs(this.optimizer);
    return groups.map((g) => g.lr * (1.0 + (z - s) / (T * s + (e - 1) * (z - s))));
  }

  protected override closedFormLr(): number[] {
    const { startFactor: s, endFactor: z, totalIters: T, lastEpoch: e } = this;
    return this.baseLrs.map((base) => base * (s + ((z - s) * Math.min(T, e)) / T));
  }

  protected override stateSpec(): Record<string, StateKind> {
    return { ...super.stateSpec(), startFactor: 'number', endFactor: 'number', totalIters: 'integer' };
  }
}
