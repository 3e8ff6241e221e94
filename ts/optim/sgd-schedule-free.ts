/**
 * Schedule-Free SGD: SGD with momentum replaced by interpolation and averaging, no lr schedule.
 * @module
 */
import { defaultsOf, nonNegative, numberIn, type OptimizerDescriptor } from './descriptor.js';
import type { ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';
import { checkScheduleFreeWeight, scheduleFreeGroupState, scheduleFreeReference, scheduleFreeTailOptions, ScheduleFreeOptimizer } from './schedule-free.js';

/**
 * Options of {@link SGDScheduleFree}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface SGDScheduleFreeOptions {
  /** Learning rate γ (the reference's default is large: it is meant to be tuned). @defaultValue 1 */
  lr?: number;
  /** Momentum β, the interpolation between z and the average x, in (0, 1). @defaultValue 0.9 */
  momentum?: number;
  /** L2 penalty λ, added to the gradient at y. @defaultValue 0 */
  weightDecay?: number;
  /** Steps of linear warmup: step k (0-based) uses lr·(k + 1)/warmupSteps while k < warmupSteps (an integer >= 0). @defaultValue 0 */
  warmupSteps?: number;
  /** Power r of the polynomial weighting (k + 1)^r of the average (>= 0). @defaultValue 0 */
  r?: number;
  /** The average weights each step by lrMax^weightLrPower, the largest lr so far to this power (>= 0; 0: no lr weighting). @defaultValue 2 */
  weightLrPower?: number;
}

/**
 * The resolved options of an SGDScheduleFree param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type SGDScheduleFreeGroupOptions = Required<SGDScheduleFreeOptions>;

/** SGDScheduleFree: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const SGD_SCHEDULE_FREE_DESCRIPTOR: OptimizerDescriptor<SGDScheduleFreeGroupOptions> = {
  name: 'SGDScheduleFree',
  kernel: 'sgdschedulefree',
  options: {
    lr: nonNegative(1.0),
    momentum: numberIn(0.9, { above: 0, below: 1 }),
    ...scheduleFreeTailOptions(),
  },
  slots: ['z'],
  check: (g, name) => checkScheduleFreeWeight(g, name, 'SGDScheduleFree'),
  groupState: scheduleFreeGroupState('SGDScheduleFree'),
  reference: scheduleFreeReference('SGDScheduleFree', 'sgdschedulefree.json'),
};

/**
 * schedulefree 1.4's defaults of SGDScheduleFree. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * SGD_SCHEDULE_FREE_DEFAULTS.momentum; // 0.9
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const SGD_SCHEDULE_FREE_DEFAULTS: Readonly<SGDScheduleFreeGroupOptions> = defaultsOf(SGD_SCHEDULE_FREE_DESCRIPTOR);

/**
 * Schedule-Free SGD, as `SGDScheduleFree` of PyPI `schedulefree` 1.4: no learning-rate schedule;
 * momentum is replaced by an interpolation between a base sequence z and its running average x.
 *
 * @remarks
 * The parameters hold y, where the gradient is taken; the state `z` (per parameter) is the SGD
 * sequence; the average x = (y − (1 − β)·z)/β is not stored. Per group and step, in float64:
 * ```text
 * γ ← lr · min(1, (k + 1)/warmupSteps)                 (linear warmup; scheduledLr)
 * lrMax ← max(γ, lrMax);   w ← (k + 1)^r · lrMax^weightLrPower
 * weightSum ← weightSum + w;   c ← w / weightSum        (0 while weightSum is 0)
 * ```
 * then per element:
 * ```text
 * z ← y                                   (a parameter's first step)
 * g ← g + λ·y                             (λ ≠ 0)
 * y ← lerp(y, z, c)                       (= (1 − c)·y + c·z)
 * y ← y + γ·(β·(1 − c) − 1)·g
 * z ← z − γ·g
 * k ← k + 1
 * ```
 * **Train and eval modes.** Like the reference, the optimizer starts in eval mode and
 * {@link SGDScheduleFree.step} throws unless the first param group is in train mode: call
 * {@link SGDScheduleFree.train} before training and {@link SGDScheduleFree.eval} before
 * evaluating or saving the model, which moves the parameters to x (and `train()` back to y).
 * ferroptim's `train` loop does both when given this optimizer. The mode of each group is its
 * `trainMode`, saved and restored with the state dict; a group added later starts in eval mode,
 * as in the reference, so call `train()` again after `addParamGroup`.
 *
 * Group state (`paramGroups[i]`, see {@link ScheduleFreeGroupState}): `k`, `trainMode`,
 * `weightSum`, `lrMax`, `scheduledLr`. State per parameter: `z` (and `step`, which the reference
 * does not keep and the update does not use: it counts the steps the parameter had a gradient).
 *
 * Deviations: torch's vectorised `lerp_` and `add_(alpha)` are fused multiply-adds, ferroptim
 * rounds every operation (the results agree to float32 rounding); the reference adds λ·y to
 * `p.grad` in place, ferroptim leaves gradients untouched; a non-finite averaging weight is a
 * RangeError instead of NaN parameters.
 *
 * @example
 * ```ts
 * const opt = new SGDScheduleFree(model.parameters(), { lr: 1, warmupSteps: 100 });
 * opt.train();
 * for (const batch of data) { opt.zeroGrad(); backward(batch); opt.step(); }
 * opt.eval(); // the parameters now hold x: evaluate or save the model
 * ```
 * @see Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less Scheduled", NeurIPS 2024 ({@link https://arxiv.org/abs/2405.15682 | arXiv:2405.15682}).
 * @see {@link https://github.com/facebookresearch/schedule_free | facebookresearch/schedule_free} (PyPI `schedulefree`), the reference followed.
 * @throws TypeError or RangeError for a bad option (negative lr, weightDecay, r or
 * weightLrPower; momentum outside (0, 1); warmupSteps not an integer >= 0), an empty or duplicated
 * parameter list; Error from `step()` in eval mode.
 * @group Optimizers
 * @category Classes
 */
export class SGDScheduleFree extends ScheduleFreeOptimizer<SGDScheduleFreeGroupOptions> {
  constructor(params: ParamsInput<SGDScheduleFreeGroupOptions>, options?: SGDScheduleFreeOptions & CommonOptions) {
    super(SGD_SCHEDULE_FREE_DESCRIPTOR, params, options, (o) => o.momentum);
  }
}
