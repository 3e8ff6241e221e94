/**
 * Schedule-Free AdamW: AdamW's normalisation and decoupled-at-y weight decay on Schedule-Free's
 * interpolation and averaging, no lr schedule.
 * @module
 */
import { defaultsOf, nonNegative, pair, type OptimizerDescriptor } from './descriptor.js';
import type { ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';
import { checkScheduleFreeWeight, scheduleFreeGroupState, scheduleFreeReference, scheduleFreeTailOptions, ScheduleFreeOptimizer } from './schedule-free.js';

/**
 * Options of {@link AdamWScheduleFree}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface AdamWScheduleFreeOptions {
  /** Learning rate γ. @defaultValue 0.0025 */
  lr?: number;
  /** (β1, β2): β1 interpolates between z and the average x, in (0, 1); β2 decays the second moment, in [0, 1). @defaultValue [0.9, 0.999] */
  betas?: readonly [number, number];
  /** Term ε added to the denominator, outside the square root. @defaultValue 1e-8 */
  eps?: number;
  /** Weight decay λ, added to the normalised gradient at y. @defaultValue 0 */
  weightDecay?: number;
  /** Steps of linear warmup: step k (0-based) uses lr·(k + 1)/warmupSteps while k < warmupSteps (an integer >= 0). @defaultValue 0 */
  warmupSteps?: number;
  /** Power r of the polynomial weighting (k + 1)^r of the average (>= 0). @defaultValue 0 */
  r?: number;
  /** The average weights each step by lrMax^weightLrPower, the largest lr so far to this power (>= 0; 0: no lr weighting). @defaultValue 2 */
  weightLrPower?: number;
}

/**
 * The resolved options of an AdamWScheduleFree param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type AdamWScheduleFreeGroupOptions = Required<AdamWScheduleFreeOptions>;

/** AdamWScheduleFree: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const ADAMW_SCHEDULE_FREE_DESCRIPTOR: OptimizerDescriptor<AdamWScheduleFreeGroupOptions> = {
  name: 'AdamWScheduleFree',
  kernel: 'adamwschedulefree',
  options: {
    lr: nonNegative(0.0025),
    // β1 = 0 would put x at infinity (eval interpolates with 1 − 1/β1); β2 = 1 leaves v at 0.
    betas: pair(0.9, 0.999, ['beta1', 'beta2'], [
      { above: 0, below: 1 },
      { min: 0, below: 1 },
    ]),
    eps: nonNegative(1e-8),
    ...scheduleFreeTailOptions(),
  },
  slots: ['z', 'expAvgSq'],
  check: (g, name) => checkScheduleFreeWeight(g, name, 'AdamWScheduleFree'),
  groupState: scheduleFreeGroupState('AdamWScheduleFree', (g) => g.betas[1]),
  reference: scheduleFreeReference('AdamWScheduleFree', 'adamwschedulefree.json'),
};

/**
 * schedulefree 1.4's defaults of AdamWScheduleFree. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADAMW_SCHEDULE_FREE_DEFAULTS.lr; // 0.0025
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const ADAMW_SCHEDULE_FREE_DEFAULTS: Readonly<AdamWScheduleFreeGroupOptions> = defaultsOf(ADAMW_SCHEDULE_FREE_DESCRIPTOR);

/**
 * Schedule-Free AdamW, as `AdamWScheduleFree` of PyPI `schedulefree` 1.4: no learning-rate
 * schedule; Adam's first moment is replaced by an interpolation between a base sequence z and
 * its running average x.
 *
 * @remarks
 * The parameters hold y, where the gradient is taken; the state `z` (per parameter) is the base
 * sequence and `expAvgSq` Adam's second moment; the average x = (y − (1 − β1)·z)/β1 is not
 * stored. Per group and step, in float64:
 * ```text
 * γ ← lr · min(1, (k + 1)/warmupSteps)                 (linear warmup; scheduledLr)
 * lrMax ← max(γ, lrMax);   w ← (k + 1)^r · lrMax^weightLrPower
 * weightSum ← weightSum + w;   c ← w / weightSum        (0 while weightSum is 0)
 * ```
 * then per element:
 * ```text
 * z ← y                                   (a parameter's first step)
 * v ← β2·v + (1 − β2)·g²
 * g ← g / (√(v / (1 − β2^(k+1))) + ε)     (bias-corrected with the group's k, not a per-parameter step)
 * g ← g + λ·y                             (λ ≠ 0)
 * y ← lerp(y, z, c)                       (= (1 − c)·y + c·z)
 * y ← y + γ·(β1·(1 − c) − 1)·g
 * z ← z − γ·g
 * k ← k + 1
 * ```
 * There is no first-moment bias correction: the reference has none (its warmup plays that
 * part).
 *
 * **Train and eval modes.** Like the reference, the optimizer starts in eval mode and
 * {@link AdamWScheduleFree.step} throws unless the first param group is in train mode: call
 * {@link AdamWScheduleFree.train} before training and {@link AdamWScheduleFree.eval} before
 * evaluating or saving the model, which moves the parameters to x (and `train()` back to y).
 * ferroptim's `train` loop does both when given this optimizer. The mode of each group is its
 * `trainMode`, saved and restored with the state dict; a group added later starts in eval mode,
 * as in the reference, so call `train()` again after `addParamGroup`.
 *
 * Group state (`paramGroups[i]`, see {@link ScheduleFreeGroupState}): `k`, `trainMode`,
 * `weightSum`, `lrMax`, `scheduledLr`. State per parameter: `z`, `expAvgSq` (and `step`, which
 * the reference does not keep and the update does not use: it counts the steps the parameter
 * had a gradient).
 *
 * Deviations: torch's vectorised `lerp_`, `addcmul_` and `add_(alpha)` are fused multiply-adds,
 * ferroptim rounds every operation (the results agree to float32 rounding); the reference
 * overwrites `p.grad` with the normalised, decayed gradient, ferroptim leaves gradients
 * untouched; a non-finite averaging weight is a RangeError instead of NaN parameters; β1 must be
 * in (0, 1) and β2 in [0, 1) (the reference checks nothing; β1 = 0 or β2 = 1 give infinities).
 *
 * @example
 * ```ts
 * const opt = new AdamWScheduleFree(model.parameters(), { lr: 2.5e-3, warmupSteps: 100 });
 * opt.train();
 * for (const batch of data) { opt.zeroGrad(); backward(batch); opt.step(); }
 * opt.eval(); // the parameters now hold x: evaluate or save the model
 * ```
 * @see Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less Scheduled", NeurIPS 2024 ({@link https://arxiv.org/abs/2405.15682 | arXiv:2405.15682}).
 * @see {@link https://github.com/facebookresearch/schedule_free | facebookresearch/schedule_free} (PyPI `schedulefree`), the reference followed.
 * @throws TypeError or RangeError for a bad option (negative lr, eps, weightDecay, r or
 * weightLrPower; β1 outside (0, 1), β2 outside [0, 1); warmupSteps not an integer >= 0), an empty
 * or duplicated parameter list; Error from `step()` in eval mode.
 * @group Optimizers
 * @category Classes
 */
export class AdamWScheduleFree extends ScheduleFreeOptimizer<AdamWScheduleFreeGroupOptions> {
  constructor(params: ParamsInput<AdamWScheduleFreeGroupOptions>, options?: AdamWScheduleFreeOptions & CommonOptions) {
    super(ADAMW_SCHEDULE_FREE_DESCRIPTOR, params, options, (o) => o.betas[0]);
  }
}
