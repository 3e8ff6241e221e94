/**
 * The default options of every scheduler: PyTorch 2.x's, in one place.
 * @module
 */

/**
 * PyTorch 2.x defaults of each scheduler's optional options (camelCase), one frozen object per
 * scheduler. The classes and the pure schedules read their defaults from here.
 *
 * @example
 * ```ts
 * SCHEDULER_DEFAULTS.OneCycleLR.divFactor; // 25: the first lr is maxLr / 25
 * ```
 * @group Schedulers
 * @category Options and defaults
 */
export const SCHEDULER_DEFAULTS = Object.freeze({
  /** Defaults of {@link StepLR}. */
  StepLR: Object.freeze({
    /** Multiplicative decay applied every `stepSize` steps. */
    gamma: 0.1,
  }),
  /** Defaults of {@link MultiStepLR}. */
  MultiStepLR: Object.freeze({
    /** Multiplicative decay applied at each milestone. */
    gamma: 0.1,
  }),
  /** Defaults of {@link ConstantLR}. */
  ConstantLR: Object.freeze({
    /** The factor the lr is multiplied by until `totalIters`. */
    factor: 1 / 3,
    /** Steps during which the factor applies. */
    totalIters: 5,
  }),
  /** Defaults of {@link LinearLR}. */
  LinearLR: Object.freeze({
    /** The factor at step 0. */
    startFactor: 1 / 3,
    /** The factor from `totalIters` on. */
    endFactor: 1,
    /** Steps of the linear ramp from `startFactor` to `endFactor`. */
    totalIters: 5,
  }),
  /** Defaults of {@link PolynomialLR}. */
  PolynomialLR: Object.freeze({
    /** Steps until the lr reaches 0. */
    totalIters: 5,
    /** The power of the polynomial decay (1 is linear). */
    power: 1,
  }),
  /** Defaults of {@link CosineAnnealingLR}. */
  CosineAnnealingLR: Object.freeze({
    /** The minimum lr, reached after `tMax` steps. */
    etaMin: 0,
  }),
  /** Defaults of {@link CosineAnnealingWarmRestarts}. */
  CosineAnnealingWarmRestarts: Object.freeze({
    /** The factor by which each restart period grows (1: all periods equal `t0`). */
    tMult: 1,
    /** The minimum lr. */
    etaMin: 0,
  }),
  /** Defaults of {@link CyclicLR}. */
  CyclicLR: Object.freeze({
    /** Steps in the increasing half of a cycle. */
    stepSizeUp: 2000,
    /** The amplitude policy: `'triangular'`, `'triangular2'` or `'expRange'`. */
    mode: 'triangular' as const,
    /** The base of `'expRange'` scaling (`gamma ** step`). */
    gamma: 1,
    /** What the amplitude scale receives: the cycle number or the step index. */
    scaleMode: 'cycle' as const,
    /** Whether momentum (or beta1) cycles inversely to the lr. */
    cycleMomentum: true,
    /** The lower momentum bound (reached at the lr's peak). */
    baseMomentum: 0.8,
    /** The upper momentum bound (at the lr's base). */
    maxMomentum: 0.9,
  }),
  /** Defaults of {@link OneCycleLR}. */
  OneCycleLR: Object.freeze({
    /** The fraction of the steps spent increasing the lr. */
    pctStart: 0.3,
    /** The annealing curve: `'cos'` or `'linear'`. */
    annealStrategy: 'cos' as const,
    /** Whether momentum (or beta1) cycles inversely to the lr. */
    cycleMomentum: true,
    /** The lower momentum bound (reached at the lr's peak). */
    baseMomentum: 0.85,
    /** The upper momentum bound (at the start and the end). */
    maxMomentum: 0.95,
    /** The initial lr is `maxLr / divFactor`. */
    divFactor: 25,
    /** The final lr is the initial lr `/ finalDivFactor`. */
    finalDivFactor: 1e4,
    /** Whether to use the paper's three phases (up, down to the start, then to the minimum) instead of fastai's two. */
    threePhase: false,
  }),
  /** Defaults of {@link ReduceLROnPlateau}. */
  ReduceLROnPlateau: Object.freeze({
    /** `'min'`: the metric should fall (a loss); `'max'`: it should rise (an accuracy). */
    mode: 'min' as const,
    /** The factor the lr is multiplied by on a plateau. */
    factor: 0.1,
    /** Epochs without improvement tolerated before the lr is reduced. */
    patience: 10,
    /** The least change that counts as an improvement. */
    threshold: 1e-4,
    /** `'rel'`: the threshold is relative to the best value; `'abs'`: absolute. */
    thresholdMode: 'rel' as const,
    /** Epochs to wait after a reduction before counting bad epochs again. */
    cooldown: 0,
    /** The lower bound of every group's lr. */
    minLr: 0,
    /** Reductions smaller than this are skipped. */
    eps: 1e-8,
  }),
  /** `lastEpoch` of every step-based scheduler: -1 starts the schedule from the beginning. */
  lastEpoch: -1,
});
