/**
 * RAdam: Adam with the variance of the adaptive learning rate rectified.
 * @module
 */
import { betas, defaultsOf, flag, nonNegative, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * Options of {@link RAdam}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface RAdamOptions {
  /** Learning rate γ. @defaultValue 1e-3 */
  lr?: number;
  /** Decay rates (β1, β2) of the first and second moment estimates, each in [0, 1). @defaultValue [0.9, 0.999] */
  betas?: readonly [number, number];
  /** Term ε added to √v (before the bias correction). @defaultValue 1e-8 */
  eps?: number;
  /** Weight decay λ: coupled L2, or decoupled (AdamW-style) with `decoupledWeightDecay`. @defaultValue 0 */
  weightDecay?: number;
  /** Apply weight decay as θ ← θ(1 − γλ) instead of adding λθ to the gradient. @defaultValue false */
  decoupledWeightDecay?: boolean;
  /** Maximise the objective instead of minimising it. @defaultValue false */
  maximize?: boolean;
}

/**
 * The resolved options of a RAdam param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type RAdamGroupOptions = Required<RAdamOptions>;

/** RAdam: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const RADAM_DESCRIPTOR: OptimizerDescriptor<RAdamGroupOptions> = {
  name: 'RAdam',
  kernel: 'radam',
  options: { lr: nonNegative(1e-3), betas: betas(0.9, 0.999), eps: nonNegative(1e-8), weightDecay: nonNegative(0), decoupledWeightDecay: flag(false, 'decoupled'), maximize: flag() },
  slots: ['expAvg', 'expAvgSq'],
  reference: { implementation: 'torch.optim.RAdam', url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.RAdam.html', paper: 'Liu et al., ICLR 2020', fixture: 'radam.json' },
};

/**
 * PyTorch 2.x defaults of RAdam. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * RADAM_DEFAULTS.decoupledWeightDecay; // false
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const RADAM_DEFAULTS: Readonly<RAdamGroupOptions> = defaultsOf(RADAM_DESCRIPTOR);

/**
 * Rectified Adam, as `torch.optim.RAdam`: no warmup needed, because the adaptive step is only
 * used once the variance of its estimate is tractable.
 *
 * @remarks
 * ```text
 * g ← −g if maximize
 * g ← g + λθ      (coupled)      or      θ ← θ(1 − γλ)      (decoupledWeightDecay)
 * m ← β1·m + (1 − β1)·g            (computed as PyTorch's lerp)
 * v ← β2·v + (1 − β2)·g²
 * m̂ ← m / (1 − β1ᵗ)
 * ρ∞ ← 2/(1 − β2) − 1;   ρₜ ← ρ∞ − 2t·β2ᵗ/(1 − β2ᵗ)
 * if ρₜ > 5:   r ← √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))
 *              θ ← θ − γ·m̂·r·√(1 − β2ᵗ)/(√v + ε)
 * else:        θ ← θ − γ·m̂                    (momentum SGD)
 * ```
 * The threshold is PyTorch's: strictly greater than 5, so with β2 = 0.999 steps 1 to 5 are plain
 * momentum steps (torch-optimizer's deprecated RAdam uses ≥ 5). ε is added to √v before the bias
 * correction, unlike Adam. ρₜ and r are computed once per parameter per step. State per
 * parameter: `step`, `expAvg`, `expAvgSq`.
 *
 * @example
 * ```ts
 * const opt = new RAdam(params, { lr: 1e-3, weightDecay: 1e-2, decoupledWeightDecay: true });
 * opt.step();
 * ```
 * @see Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020, arXiv:1908.03265.
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.RAdam.html | torch.optim.RAdam}
 * @throws TypeError or RangeError for a bad option (negative lr, eps or weightDecay; betas
 * outside [0, 1); a non-boolean flag), an empty or duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class RAdam extends Optimizer<RAdamGroupOptions> {
  constructor(params: ParamsInput<RAdamGroupOptions>, options?: RAdamOptions & CommonOptions) {
    super(RADAM_DESCRIPTOR, params, options);
  }
}
