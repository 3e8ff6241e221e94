/**
 * `CosineAnnealingWarmRestarts`: SGDR, cosine annealing with periodic restarts.
 * @module
 */
import { checkNumber } from '../validate.js';
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { checkLastEpoch, checkOptimizer, num, readOptions } from './internal.js';
import { INITIAL_STEP, LRScheduler, STEP_TO_EPOCH, type LRSchedulerOptions, type SchedulableOptimizer, type StateKind } from './lr-scheduler.js';

/**
 * Options of {@link CosineAnnealingWarmRestarts}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface CosineAnnealingWarmRestartsOptions extends LRSchedulerOptions {
  /** Number of steps until the first restart (an integer ≥ 1). Required. */
  t0: number;
  /** Factor by which the period grows after each restart (an integer ≥ 1). @defaultValue 1 */
  tMult?: number;
  /** The minimum lr (≥ 0). @defaultValue 0 */
  etaMin?: number;
}

const LABEL = 'CosineAnnealingWarmRestarts';

/**
 * Cosine annealing with warm restarts (SGDR), as
 * `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`.
 *
 * @remarks
 * ```text
 * lr = m + (η0 − m)·(1 + cos(π·T_cur / T_i))/2            (not recursive; η0 = base_lr, m = etaMin)
 * step():       T_cur += 1;  if T_cur ≥ T_i: T_cur −= T_i, T_i ·= tMult          (T_i starts at t0)
 * step(epoch):  epoch < t0:        T_i = t0, T_cur = epoch
 *               tMult = 1:         T_cur = epoch mod t0
 *               tMult > 1:         n = ⌊log_tMult(epoch/t0·(tMult − 1) + 1)⌋,
 *                                  T_cur = epoch − t0·(tMultⁿ − 1)/(tMult − 1),  T_i = t0·tMultⁿ
 * ```
 * Defaults: tMult 1, etaMin 0, lastEpoch -1. `step(epoch)` accepts fractional epochs, so the
 * schedule can advance per batch: `scheduler.step(epoch + i / itersPerEpoch)`. As in PyTorch,
 * T_cur never equals T_i, so the lr never reaches etaMin exactly.
 *
 * @example
 * ```ts
 * const scheduler = new CosineAnnealingWarmRestarts(optimizer, { t0: 10, tMult: 2, etaMin: 1e-5 });
 * for (let epoch = 0; epoch < 70; epoch++) {
 *   for (let i = 0; i < iters; i++) {
 *     trainBatch();
 *     optimizer.step();
 *     scheduler.step(epoch + i / iters);
 *   }
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CosineAnnealingWarmRestarts.html | torch.optim.lr_scheduler.CosineAnnealingWarmRestarts}
 * @see Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
 * @throws TypeError or RangeError for a bad optimizer, a t0 or tMult that is not an integer ≥ 1,
 * a negative etaMin, or (from `step(epoch)`) an epoch that is not a finite number ≥ 0.
 * @group Schedulers
 * @category Classes
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  /** Number of steps until the first restart. */
  readonly t0: number;
  /** Factor by which the period grows after each restart. */
  readonly tMult: number;
  /** The minimum lr. */
  readonly etaMin: number;
  /** The current period (PyTorch's `T_i`). */
  tI: number;
  /** Steps (possibly fractional) since the last restart (PyTorch's `T_cur`). */
  tCur: number;

  constructor(optimizer: SchedulableOptimizer, options: CosineAnnealingWarmRestartsOptions) {
    checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['t0', 'tMult', 'etaMin', 'lastEpoch']);
    const d = SCHEDULER_DEFAULTS.CosineAnnealingWarmRestarts;
    const t0 = num(LABEL, 't0', o.t0, undefined, { integer: true, min: 1 });
    const tMult = num(LABEL, 'tMult', o.tMult, d.tMult, { integer: true, min: 1 });
    const etaMin = num(LABEL, 'etaMin', o.etaMin, d.etaMin, { min: 0 });
    const lastEpoch = checkLastEpoch(LABEL, o.lastEpoch);
    super(LABEL, optimizer, lastEpoch);
    this.t0 = t0;
    this.tI = t0;
    this.tMult = tMult;
    this.etaMin = etaMin;
    this.tCur = lastEpoch;
    this[INITIAL_STEP]();
  }

  protected override getLr(): number[] {
    const { etaMin: m } = this;
    return this.baseLrs.map((base) => m + ((base - m) * (1 + Math.cos((Math.PI * this.tCur) / this.tI))) / 2);
  }

  /**
   * Advances one step, or jumps to `epoch` (fractional epochs allowed) and writes the new lr into
   * every param group.
   * @throws TypeError or RangeError for an epoch that is not a finite number ≥ 0.
   */
  override step(epoch?: number): void {
    if (epoch !== undefined) checkNumber(LABEL, 'epoch', epoch, { min: 0 });
    let e = epoch;
    if (e === undefined && this.lastEpoch < 0) e = 0;
    if (e === undefined) {
      e = this.lastEpoch + 1;
      this.tCur = this.tCur + 1;
      if (this.tCur >= this.tI) {
        this.tCur = this.tCur - this.tI;
        this.tI = this.tI * this.tMult;
      }
    } else if (e >= this.t0) {
      if (this.tMult === 1) {
        this.tCur = e % this.t0;
      } else {
        const n = Math.trunc(Math.log((e / this.t0) * (this.tMult - 1) + 1) / Math.log(this.tMult));
        this.tCur = e - (this.t0 * (this.tMult ** n - 1)) / (this.tMult - 1);
        this.tI = this.t0 * this.tMult ** n;
      }
    } else {
      this.tI = this.t0;
      this.tCur = e;
    }
    this.lastEpoch = Math.floor(e);
    this.applyLr(this.getLr());
  }

  /** @internal */
  override [STEP_TO_EPOCH](epoch: number): void {
    this.step(epoch);
  }

  protected override lrScale(i: number): number {
    return Math.max(super.lrScale(i), this.etaMin);
  }

  protected override stateSpec(): Record<string, StateKind> {
    return { ...super.stateSpec(), t0: 'integer', tI: 'integer', tMult: 'integer', etaMin: 'number', tCur: 'number' };
  }
}
