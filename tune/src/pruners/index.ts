/**
 * Pruners: the median (and any percentile) rule and asynchronous successive halving (ASHA), with
 * Optuna's semantics (`optuna/pruners/_percentile.py`, `_successive_halving.py`).
 * @module
 */
import { describe } from '../distributions.js';
import { checkOptions, intOption } from '../options.js';
import { TrialState, type FrozenTrial, type JsonValue, type Pruner, type StudyDirection, type StudyView } from '../types.js';

/** The last reported step of a trial, or null. */
export function lastStep(t: FrozenTrial): number | null {
  let last: number | null = null;
  for (const s of t.intermediateValues.keys()) if (last === null || s > last) last = s;
  return last;
}

/** numpy's `nanpercentile` with linear interpolation. */
function nanPercentile(values: number[], q: number): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const pos = ((v.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo]! + (v[hi]! - v[lo]!) * (pos - lo);
}

function bestIntermediate(t: FrozenTrial, direction: StudyDirection): number {
  const v = [...t.intermediateValues.values()].filter((x) => !Number.isNaN(x));
  if (v.length === 0) return NaN;
  return direction === 'maximize' ? Math.max(...v) : Math.min(...v);
}

/**
 * Options of {@link PercentilePruner} and {@link MedianPruner}.
 * @group Pruners
 */
export interface PercentilePrunerOptions {
  /** No pruning until this many trials have completed. @defaultValue 5 */
  nStartupTrials?: number;
  /** No pruning before this step. @defaultValue 0 */
  nWarmupSteps?: number;
  /** Check every this many steps after the warm-up. @defaultValue 1 */
  intervalSteps?: number;
  /** The fewest completed trials with a value at the step needed to judge. @defaultValue 1 */
  nMinTrials?: number;
}

/**
 * Prunes a trial whose best intermediate value so far is worse than the given percentile of the
 * completed trials' values at the same step (Optuna's `PercentilePruner`).
 * @example
 * ```ts
 * const study = await createStudy({ direction: 'maximize', pruner: new PercentilePruner(25) });
 * ```
 * @group Pruners
 */
export class PercentilePruner implements Pruner {
  readonly #percentile: number;
  readonly #nStartup: number;
  readonly #warmup: number;
  readonly #interval: number;
  readonly #nMin: number;

  /**
   * @param percentile Keep the trials above this percentile (0 to 100).
   * @param options See {@link PercentilePrunerOptions}.
   * @throws TypeError or RangeError naming a bad argument.
   */
  constructor(percentile: number, options: PercentilePrunerOptions = {}, where = 'PercentilePruner') {
    if (typeof percentile !== 'number') throw new TypeError(`${where}: expected percentile to be a number, received ${describe(percentile)}`);
    if (!(percentile >= 0 && percentile <= 100)) throw new RangeError(`${where}: expected percentile to be in [0, 100], received ${describe(percentile)}`);
    checkOptions(where, options, ['nStartupTrials', 'nWarmupSteps', 'intervalSteps', 'nMinTrials']);
    this.#percentile = percentile;
    this.#nStartup = intOption(where, 'nStartupTrials', options.nStartupTrials, 5, 0);
    this.#warmup = intOption(where, 'nWarmupSteps', options.nWarmupSteps, 0, 0);
    this.#interval = intOption(where, 'intervalSteps', options.intervalSteps, 1, 1);
    this.#nMin = intOption(where, 'nMinTrials', options.nMinTrials, 1, 1);
  }

  /** Whether `trial` should stop at its last reported step. */
  prune(study: StudyView, trial: FrozenTrial): boolean {
    const completed = study.getTrials([TrialState.COMPLETE]);
    if (completed.length === 0 || completed.length < this.#nStartup) return false;
    const step = lastStep(trial);
    if (step === null || step < this.#warmup) return false;
    // Only the first report at or after each checkpoint step is judged (Optuna's _is_first_in_interval_step).
    const nearestLower = Math.floor((step - this.#warmup) / this.#interval) * this.#interval + this.#warmup;
    let secondLast = -1;
    for (const s of trial.intermediateValues.keys()) if (s > secondLast && s !== step) secondLast = s;
    if (secondLast >= nearestLower) return false;
    const direction = study.direction;
    const best = bestIntermediate(trial, direction);
    if (Number.isNaN(best)) return true;
    const atStep = completed.filter((t) => t.intermediateValues.has(step)).map((t) => t.intermediateValues.get(step)!);
    if (atStep.length < this.#nMin || atStep.every((v) => Number.isNaN(v))) return false;
    const p = nanPercentile(atStep, direction === 'maximize' ? 100 - this.#percentile : this.#percentile);
    if (Number.isNaN(p)) return false;
    return direction === 'maximize' ? best < p : best > p;
  }
}

/**
 * Prunes a trial whose best intermediate value is worse than the median of the completed
 * trials' values at the same step (Optuna's `MedianPruner`, the percentile rule at 50).
 * @example
 * ```ts
 * const study = await createStudy({ direction: 'maximize', pruner: new MedianPruner({ nStartupTrials: 5, nWarmupSteps: 1 }) });
 * ```
 * @group Pruners
 */
export class MedianPruner extends PercentilePruner {
  /**
   * @param options See {@link PercentilePrunerOptions}.
   * @throws TypeError or RangeError naming a bad option.
   */
  constructor(options: PercentilePrunerOptions = {}) {
    super(50, options, 'MedianPruner');
  }
}

/**
 * Options of {@link SuccessiveHalvingPruner}.
 * @group Pruners
 */
export interface SuccessiveHalvingPrunerOptions {
  /** The steps of the first rung, or `'auto'`: a hundredth of the longest completed trial's last step. @defaultValue 'auto' */
  minResource?: number | 'auto';
  /** Keep the best 1/reductionFactor of each rung. @defaultValue 4 */
  reductionFactor?: number;
  /** The first rung is `minResource * reductionFactor ** minEarlyStoppingRate`. @defaultValue 0 */
  minEarlyStoppingRate?: number;
  /** Prune until a rung holds more than this many trials. @defaultValue 0 */
  bootstrapCount?: number;
}

/**
 * Asynchronous successive halving (ASHA; Li et al., 2020), as Optuna's
 * `SuccessiveHalvingPruner`: at each rung step `minResource * reductionFactor ** (rate + rung)`
 * a trial continues only if its value is in the top 1/reductionFactor of the values every trial
 * had at that rung (stored as system attribute `completed_rung_N`, where Optuna keeps it).
 * @example
 * ```ts
 * const study = await createStudy({ direction: 'maximize', pruner: new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3 }) });
 * ```
 * @group Pruners
 */
export class SuccessiveHalvingPruner implements Pruner {
  #minResource: number | null;
  readonly #factor: number;
  readonly #rate: number;
  readonly #bootstrap: number;

  /**
   * @param options See {@link SuccessiveHalvingPrunerOptions}.
   * @throws TypeError or RangeError naming a bad option.
   */
  constructor(options: SuccessiveHalvingPrunerOptions = {}) {
    const where = 'SuccessiveHalvingPruner';
    checkOptions(where, options, ['minResource', 'reductionFactor', 'minEarlyStoppingRate', 'bootstrapCount']);
    const mr = options.minResource ?? 'auto';
    this.#minResource = mr === 'auto' ? null : intOption(where, 'minResource', mr, 1, 1);
    this.#factor = intOption(where, 'reductionFactor', options.reductionFactor, 4, 2);
    this.#rate = intOption(where, 'minEarlyStoppingRate', options.minEarlyStoppingRate, 0, 0);
    this.#bootstrap = intOption(where, 'bootstrapCount', options.bootstrapCount, 0, 0);
    if (this.#bootstrap > 0 && mr === 'auto') throw new RangeError(`${where}: bootstrapCount ${this.#bootstrap} needs an explicit minResource (as in Optuna)`);
  }

  /** Whether `trial` should stop at its last reported step; records the rungs it completed. */
  prune(study: StudyView, trial: FrozenTrial, setSystemAttr: (key: string, value: JsonValue) => void = () => {}): boolean {
    const step = lastStep(trial);
    if (step === null) return false;
    const attrs: Record<string, JsonValue> = { ...trial.systemAttrs };
    let rung = 0;
    while (`completed_rung_${rung}` in attrs) rung++;
    const value = trial.intermediateValues.get(step)!;
    const trials = study.getTrials();
    for (;;) {
      if (this.#minResource === null) {
        const steps = trials.filter((t) => t.state === TrialState.COMPLETE).map(lastStep).filter((s): s is number => s !== null);
        if (steps.length === 0) return false;
        this.#minResource = Math.max(Math.floor(Math.max(...steps) / 100), 1);
      }
      const promotionStep = this.#minResource * this.#factor ** (this.#rate + rung);
      if (step < promotionStep) return false;
      if (Number.isNaN(value)) return true;
      const key = `completed_rung_${rung}`;
      setSystemAttr(key, value);
      attrs[key] = value;
      const competing = trials.filter((t) => t.trialId !== trial.trialId && key in t.systemAttrs).map((t) => t.systemAttrs[key] as number);
      competing.push(value);
      if (competing.length <= this.#bootstrap) return true;
      let idx = Math.floor(competing.length / this.#factor) - 1;
      if (idx === -1) idx = 0;
      competing.sort((a, b) => a - b);
      const promotable = study.direction === 'maximize' ? value >= competing[competing.length - 1 - idx]! : value <= competing[idx]!;
      if (!promotable) return true;
      rung++;
    }
  }
}

/**
 * Never prunes (the default).
 * @group Pruners
 */
export class NopPruner implements Pruner {
  /** Always false. */
  prune(): boolean {
    return false;
  }
}
