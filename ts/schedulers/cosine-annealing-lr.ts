/**
 * `CosineAnnealingLR`: cosine annealing from the base lr to etaMin over tMax steps (PyTorch's recursive form).
 * @module
 */
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { checkLastEpoch, checkOptimizer, num, readOptions } from './internal.js';
import { currentLrs, INITIAL_STEP, LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer, type StateKind } from './lr-scheduler.js';

/**
 * Options of {@link CosineAnnealingLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface CosineAnnealingLROptions extends LRSchedulerOptions {
  /** Half-period of the cosine, in steps (an integer ≥ 1). Required. */
  tMax: number;
  /** The minimum lr (≥ 0). @defaultValue 0 */
  etaMin?: number;
}

const LABEL = 'CosineAnnealingLR';

/**
 * Anneals each group's lr from its base lr to `etaMin` along a half cosine over `tMax` steps, as
 * `torch.optim.lr_scheduler.CosineAnnealingLR` (the annealing part of SGDR, without restarts).
 *
 * @remarks
 * ```text
 * recursive (what step() does; η = current lr, η0 = base_lr, m = etaMin, T = tMax):
 *   e = 0:                          η
 *   first step after resuming:      m + (η0 − m)·(1 + cos(eπ/T))/2
 *   (e − 1 − T) mod 2T = 0:         η + (η0 − m)·(1 − cos(π/T))/2
 *   otherwise:                      (1 + cos(πe/T)) / (1 + cos(π(e−1)/T)) · (η − m) + m
 * closed form:                      m + (η0 − m)·(1 + cos(πe/T))/2
 * ```
 * Defaults: etaMin 0, lastEpoch -1. As in PyTorch, the schedule is not clamped at tMax: past it
 * the lr rises again (period 2·tMax); for a decay that stops at the end use
 * `cosineDecay` / `warmupCosine` through {@link LambdaLR}. The recursive form drifts from the
 * closed form by a few ulps, and composes with other lr changes (SequentialLR, ChainedScheduler).
 *
 * @example
 * ```ts
 * const optimizer = new AdamW(params, { lr: 3e-4 });
 * const scheduler = new CosineAnnealingLR(optimizer, { tMax: 1000, etaMin: 1e-5 });
 * for (let step = 0; step < 1000; step++) {
 *   computeGrads();
 *   optimizer.step();
 *   scheduler.step();
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CosineAnnealingLR.html | torch.optim.lr_scheduler.CosineAnnealingLR}
 * @see Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
 * @throws TypeError or RangeError for a bad optimizer, a missing or non-integer tMax, or a negative etaMin.
 * @group Schedulers
 * @category Classes
 */
export class CosineAnnealingLR extends LRScheduler {
  /** Half-period of the cosine, in steps. */
  readonly tMax: number;
  /** The minimum lr. */
  readonly etaMin: number;

  constructor(optimizer: SchedulableOptimizer, options: CosineAnnealingLROptions) {
    checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['tMax', 'etaMin', 'lastEpoch']);
    const tMax = num(LABEL, 'tMax', o.tMax, undefined, { integer: true, min: 1 });
    const etaMin = num(LABEL, 'etaMin', o.etaMin, SCHEDULER_DEFAULTS.CosineAnnealingLR.etaMin, { min: 0 });
    super(LABEL, optimizer, checkLastEpoch(LABEL, o.lastEpoch));
    this.tMax = tMax;
    this.etaMin = etaMin;
    this[INITIAL_STEP]();
  }

  protected override getLr(): number[] {
    const { tMax: T, etaMin: m, lastEpoch: e } = this;
    const groups = this.optimizer.paramGroups;
    if (e === 0) return currentLrs(this.optimizer);
    if (this.stepCount === 1 && e > 0) {
      return this.baseLrs.map((base) => m + ((base - m) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    }
    if ((e - 1 - T) % (2 * T) === 0) {
      const bump = 1 - Math.cos(Math.PI / T);
      return this.baseLrs.map((base, i) => groups[i]!.lr + ((base - m) * bump) / 2);
    }
    const ratio = (1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T));
    return groups.map((g) => ratio * (g.lr - m) + m);
  }

  protected override closedFormLr(): number[] {
    const { tMax: T, etaMin: m, lastEpoch: e } = this;
    return this.baseLrs.map((base) => m + ((base - m) * (1 + Math.cos((Math.PI * e) / T))) / 2);
  }

  protected override lrScale(i: number): number {
    return Math.max(super.lrScale(i), this.etaMin);
  }

  protected override stateSpec(): Record<string, StateKind> {
    return { ...super.stateSpec(), tMax: 'integer', etaMin: 'number' };
  }
}
