/**
 * LAMB: Adam's direction rescaled per parameter tensor by a trust ratio ‖θ‖/‖u‖, for very large
 * batches.
 * @module
 */
import { betas, defaultsOf, flag, nonNegative, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * Options of {@link LAMB}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface LAMBOptions {
  /** Learning rate γ. @defaultValue 1e-3 */
  lr?: number;
  /** Decay rates (β1, β2) of the first and second moment estimates, each in [0, 1). @defaultValue [0.9, 0.999] */
  betas?: readonly [number, number];
  /** Term ε added to the denominator. @defaultValue 1e-6 */
  eps?: number;
  /** Weight decay λ, added to the direction (so it counts in ‖u‖). @defaultValue 0 */
  weightDecay?: number;
  /** Upper clamp of the weight norm φ = min(‖θ‖, clampValue); use a large value to disable. @defaultValue 10 */
  clampValue?: number;
  /** Scale the step by √(1 − β2ᵗ)/(1 − β1ᵗ) (Adam's bias correction; the paper's v3 has none). @defaultValue false */
  debias?: boolean;
  /** Force the trust ratio to 1 (Adam without bias correction and with λ in the direction), for comparisons. @defaultValue false */
  adam?: boolean;
}

/**
 * The resolved options of a LAMB param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type LAMBGroupOptions = Required<LAMBOptions>;

/** LAMB: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const LAMB_DESCRIPTOR: OptimizerDescriptor<LAMBGroupOptions> = {
  name: 'LAMB',
  kernel: 'lamb',
  options: { lr: nonNegative(1e-3), betas: betas(0.9, 0.999), eps: nonNegative(1e-6), weightDecay: nonNegative(0), clampValue: nonNegative(10), debias: flag(), adam: flag() },
  slots: ['expAvg', 'expAvgSq'],
  reference: { implementation: 'torch-optimizer Lamb', url: 'https://github.com/jettify/pytorch-optimizer/blob/master/torch_optimizer/lamb.py', paper: 'You et al., ICLR 2020', fixture: 'lamb.json' },
};

/**
 * torch-optimizer's defaults of Lamb. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * LAMB_DEFAULTS.clampValue; // 10
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const LAMB_DEFAULTS: Readonly<LAMBGroupOptions> = defaultsOf(LAMB_DESCRIPTOR);

/**
 * LAMB (layer-wise adaptive moments), as torch-optimizer's `Lamb`.
 *
 * @remarks
 * ```text
 * m ← β1·m + (1 − β1)·g
 * v ← β2·v + (1 − β2)·g²
 * u ← m / (√v + ε) + λθ
 * φ ← min(‖θ‖, clampValue)                      (norms per parameter tensor)
 * r ← φ / ‖u‖, or 1 if φ = 0 or ‖u‖ < 2⁻¹²⁶     (r = 1 with adam: true)
 * η ← γ·√(1 − β2ᵗ)/(1 − β1ᵗ) if debias, else γ
 * θ ← θ − η·r·u
 * ```
 * Which LAMB: this is torch-optimizer's (jettify) variant, which follows cybertronai/pytorch-lamb
 * and the paper's v3: weight decay inside u (so it counts in ‖u‖), ‖θ‖ clamped to `clampValue`
 * (10), and no bias correction unless `debias`. kozistr's pytorch_optimizer `Lamb` instead
 * decays decoupled, θ ← θ(1 − γλ) before the direction (not in ‖u‖), and adds ε to the ratio,
 * φ/(‖u‖ + ε). Optax's `lamb` bias-corrects m and v, puts λθ in u like this one, and does not
 * clamp ‖θ‖. The three give different numbers.
 *
 * A step makes two passes over memory: the first updates m and v and accumulates ‖θ‖² and ‖u‖²
 * of every tensor (all tensors and the chunks of large ones in parallel, summed in f64 in a fixed
 * order, so results do not depend on the thread count); the second recomputes u and updates θ.
 * Norms and the ratio are computed in f64 (the reference uses float32 tensors), so results match
 * it to float32 rounding. Deviation: r is 1 when ‖u‖ is below float32's smallest normal number
 * (2⁻¹²⁶), not only when it is 0: such a direction is rounding noise (a zero gradient with a
 * subnormal weight decay) and φ/‖u‖ overflows there, where the reference writes ±Infinity and NaN
 * into finite weights. State per parameter: `step`, `expAvg`, `expAvgSq`; t is the parameter's
 * own step counter. torch-optimizer takes clampValue, debias and adam for the whole optimizer;
 * here they are per group like every option.
 *
 * @example
 * ```ts
 * const opt = new LAMB(params, { lr: 2e-3, weightDecay: 0.01 });
 * opt.step();
 * ```
 * @see You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020 ({@link https://arxiv.org/abs/1904.00962 | arXiv:1904.00962}).
 * @see {@link https://github.com/jettify/pytorch-optimizer/blob/master/torch_optimizer/lamb.py | torch-optimizer Lamb}, the reference followed.
 * @throws TypeError or RangeError for a bad option (negative lr, eps, weightDecay or
 * clampValue; betas outside [0, 1)), an empty or duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class LAMB extends Optimizer<LAMBGroupOptions> {
  constructor(params: ParamsInput<LAMBGroupOptions>, options?: LAMBOptions & CommonOptions) {
    super(LAMB_DESCRIPTOR, params, options);
  }
}
