/**
 * `ReduceLROnPlateau`: cut the lr when a monitored metric stops improving.
 * @module
 */
import { checkNumber, describeValue } from '../validate.js';
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { checkOptimizer, num, oneOf, perGroup, readOptions, type SchedulableOptimizer } from './internal.js';
import { checkStateObject, type SchedulerStateDict } from './lr-scheduler.js';

/**
 * Options of {@link ReduceLROnPlateau}; every field is optional.
 * @group Schedulers
 * @category Options and defaults
 */
export interface ReduceLROnPlateauOptions {
  /** `'min'`: reduce when the metric stops decreasing (a loss); `'max'`: when it stops increasing (an accuracy). @defaultValue 'min' */
  mode?: 'min' | 'max';
  /** The lr is multiplied by this factor on a plateau, in [0, 1). @defaultValue 0.1 */
  factor?: number;
  /** Steps without improvement tolerated before reducing (an integer ≥ 0). @defaultValue 10 */
  patience?: number;
  /** How much better a value must be to count as an improvement (≥ 0). @defaultValue 1e-4 */
  threshold?: number;
  /** `'rel'`: better than best·(1 ∓ threshold); `'abs'`: better than best ∓ threshold. @defaultValue 'rel' */
  thresholdMode?: 'rel' | 'abs';
  /** Steps to wait after a reduction before counting bad steps again (an integer ≥ 0). @defaultValue 0 */
  cooldown?: number;
  /** Lower bound of the lr: one number, or one per param group (≥ 0). @defaultValue 0 */
  minLr?: number | readonly number[];
  /** A reduction smaller than eps is not applied (≥ 0). @defaultValue 1e-8 */
  eps?: number;
}

const LABEL = 'ReduceLROnPlateau';
const KEYS = ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps'] as const;

/**
 * Reduces each group's lr by `factor` when a metric has not improved for `patience` steps, as
 * `torch.optim.lr_scheduler.ReduceLROnPlateau`. Call `step(metric)` once per evaluation.
 *
 * @remarks
 * ```text
 * better(a) =  min/rel: a < best·(1 − threshold)     min/abs: a < best − threshold
 *              max/rel: a > best·(1 + threshold)     max/abs: a > best + threshold
 * step(metric):
 *   if better(metric): best = metric, bad = 0   else bad += 1
 *   if cooldownCounter > 0: cooldownCounter −= 1, bad = 0
 *   if bad > patience:
 *     for each group: new = max(lr·factor, minLr[i]); if lr − new > eps: lr = new
 *     cooldownCounter = cooldown, bad = 0
 * ```
 * Defaults: mode 'min', factor 0.1, patience 10, threshold 1e-4, thresholdMode 'rel',
 * cooldown 0, minLr 0, eps 1e-8. `best` starts at +∞ ('min') or −∞ ('max'). A NaN metric never
 * counts as an improvement. Construction does not change the lr. In the state dict a
 * non-finite `best` is written as the string "Infinity" or "-Infinity" so it survives JSON.
 * With factor ≥ 0 and minLr ≥ 0 a reduction never writes a negative lr (factor 0 and minLr 0 take
 * it to exactly 0, which optimizers accept), so it needs no rounding rule (see the remarks of LRScheduler).
 *
 * @example
 * ```ts
 * const optimizer = new SGD(params, { lr: 0.1, momentum: 0.9 });
 * const scheduler = new ReduceLROnPlateau(optimizer, { mode: 'min', patience: 5 });
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   train();
 *   const valLoss = validate();
 *   scheduler.step(valLoss);
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ReduceLROnPlateau.html | torch.optim.lr_scheduler.ReduceLROnPlateau}
 * @throws TypeError or RangeError for a bad optimizer, an unknown mode or thresholdMode, a
 * factor outside [0, 1), a non-integer patience or cooldown, a minLr array of the wrong length,
 * and (from `step`) a metric that is not a number.
 * @group Schedulers
 * @category Classes
 */
export class ReduceLROnPlateau {
  /** The optimizer (or wrapper) whose param groups this scheduler drives. */
  readonly optimizer: SchedulableOptimizer;
  /** `'min'`: the metric should fall (a loss); `'max'`: it should rise (an accuracy). */
  readonly mode: 'min' | 'max';
  /** The factor each lr is multiplied by on a plateau. */
  readonly factor: number;
  /** Epochs without improvement tolerated before the lr is reduced. */
  readonly patience: number;
  /** The least change that counts as an improvement (see `thresholdMode`). */
  readonly threshold: number;
  /** `'rel'`: improvement is relative to the best value (`best · (1 ∓ threshold)`); `'abs'`: `best ∓ threshold`. */
  readonly thresholdMode: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting bad epochs again. */
  readonly cooldown: number;
  /** The lr lower bound of each group. */
  readonly minLrs: readonly number[];
  /** A reduction smaller than this is skipped. */
  readonly eps: number;
  /** The best metric so far (±∞ before the first step). */
  best: number;
  /** Consecutive steps without improvement. */
  numBadEpochs = 0;
  /** Steps left in the current cooldown. */
  cooldownCounter = 0;
  /** Number of `step` calls. */
  lastEpoch = 0;
  #lastLr: number[];

  constructor(optimizer: SchedulableOptimizer, options: ReduceLROnPlateauOptions = {}) {
    const groups = checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, KEYS);
    const d = SCHEDULER_DEFAULTS.ReduceLROnPlateau;
    this.mode = oneOf(LABEL, 'mode', o.mode, ['min', 'max'], d.mode);
    this.factor = num(LABEL, 'factor', o.factor, d.factor, { min: 0, below: 1 });
    this.patience = num(LABEL, 'patience', o.patience, d.patience, { integer: true, min: 0 });
    this.threshold = num(LABEL, 'threshold', o.threshold, d.threshold, { min: 0 });
    this.thresholdMode = oneOf(LABEL, 'thresholdMode', o.thresholdMode, ['rel', 'abs'], d.thresholdMode);
    this.cooldown = num(LABEL, 'cooldown', o.cooldown, d.cooldown, { integer: true, min: 0 });
    this.minLrs = perGroup(LABEL, 'minLr', o.minLr, groups.length, { min: 0 }, d.minLr);
    this.eps = num(LABEL, 'eps', o.eps, d.eps, { min: 0 });
    this.optimizer = optimizer;
    this.best = this.#worse();
    this.#lastLr = groups.map((g) => g.lr);
  }

  #worse(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  /** Whether `a` improves on `best` by more than the threshold. */
  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min' && this.thresholdMode === 'rel') return a < best * (1.0 - this.threshold);
    if (this.mode === 'min') return a < best - this.threshold;
    if (this.thresholdMode === 'rel') return a > best * (this.threshold + 1.0);
    return a > best + this.threshold;
  }

  /** Whether a cooldown is running. */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /**
   * Records one value of the monitored metric and reduces the lr on a plateau.
   * @throws TypeError for a metric that is not a number.
   */
  step(metric: number): void {
    if (typeof metric !== 'number') throw new TypeError(`${LABEL}: expected metric to be a number, received ${describeValue(metric)}`);
    this.lastEpoch += 1;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.#reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.#lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  #reduceLr(): void {
    const groups = this.optimizer.paramGroups;
    const n = Math.min(groups.length, this.minLrs.length);
    for (let i = 0; i < n; i++) {
      const g = groups[i]!;
      const oldLr = g.lr;
      const newLr = Math.max(oldLr * this.factor, this.minLrs[i]!);
      if (oldLr - newLr > this.eps) g.lr = newLr;
    }
  }

  /** The lr of each param group after the last step (a copy). */
  getLastLr(): number[] {
    return [...this.#lastLr];
  }

  /** The scheduler's state as plain JSON-serialisable data. */
  stateDict(): SchedulerStateDict {
    return {
      mode: this.mode,
      factor: this.factor,
      patience: this.patience,
      threshold: this.threshold,
      thresholdMode: this.thresholdMode,
      cooldown: this.cooldown,
      minLrs: [...this.minLrs],
      eps: this.eps,
      best: Number.isFinite(this.best) ? this.best : String(this.best),
      numBadEpochs: this.numBadEpochs,
      cooldownCounter: this.cooldownCounter,
      lastEpoch: this.lastEpoch,
      lastLr: [...this.#lastLr],
    };
  }

  /**
   * Loads a state produced by {@link ReduceLROnPlateau.stateDict | stateDict} (possibly through JSON); checked before anything changes.
   * @throws TypeError or RangeError for a malformed state.
   */
  loadStateDict(stateDict: SchedulerStateDict): void {
    const ctx = `${LABEL}.loadStateDict`;
    const keys = ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLrs', 'eps', 'best', 'numBadEpochs', 'cooldownCounter', 'lastEpoch', 'lastLr'];
    const sd = checkStateObject(ctx, stateDict, keys);
    const next: Record<string, unknown> = {};
    const take = <T>(k: string, check: (v: unknown) => T) => {
      if (sd[k] !== undefined) next[k] = check(sd[k]);
    };
    take('mode', (v) => oneOf(ctx, 'mode', v, ['min', 'max']));
    take('factor', (v) => checkNumber(ctx, 'factor', v, { min: 0, below: 1 }));
    take('patience', (v) => checkNumber(ctx, 'patience', v, { integer: true, min: 0 }));
    take('threshold', (v) => checkNumber(ctx, 'threshold', v, { min: 0 }));
    take('thresholdMode', (v) => oneOf(ctx, 'thresholdMode', v, ['rel', 'abs']));
    take('cooldown', (v) => checkNumber(ctx, 'cooldown', v, { integer: true, min: 0 }));
    take('minLrs', (v) => {
      if (!Array.isArray(v)) throw new TypeError(`${ctx}: expected minLrs to be an array of numbers, received ${describeValue(v)}`);
      return perGroup(ctx, 'minLrs', v, this.minLrs.length, { min: 0 });
    });
    take('eps', (v) => checkNumber(ctx, 'eps', v, { min: 0 }));
    take('best', (v) => {
      if (v === 'Infinity' || v === '-Infinity') return Number(v);
      return checkNumber(ctx, 'best', v);
    });
    take('numBadEpochs', (v) => checkNumber(ctx, 'numBadEpochs', v, { integer: true, min: 0 }));
    take('cooldownCounter', (v) => checkNumber(ctx, 'cooldownCounter', v, { integer: true, min: 0 }));
    take('lastEpoch', (v) => checkNumber(ctx, 'lastEpoch', v, { integer: true, min: 0 }));
    take('lastLr', (v) => {
      if (!Array.isArray(v)) throw new TypeError(`${ctx}: expected lastLr to be an array of numbers, received ${describeValue(v)}`);
      return v.map((x, i) => checkNumber(ctx, `lastLr[${i}]`, x));
    });
    const self = this as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(next)) {
      if (k === 'lastLr') this.#lastLr = v as number[];
      else self[k] = v;
    }
  }
}
