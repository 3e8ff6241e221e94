/**
 * NAdam: Adam with Nesterov momentum and a momentum schedule.
 * @module
 */
import { betas, defaultsOf, flag, nonNegative, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * Options of {@link NAdam}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface NAdamOptions {
  /** Learning rate γ. @defaultValue 2e-3 */
  lr?: number;
  /** Decay rates (β1, β2) of the first and second moment estimates, each in [0, 1). @defaultValue [0.9, 0.999] */
  betas?: readonly [number, number];
  /** Term ε added to the denominator. @defaultValue 1e-8 */
  eps?: number;
  /** Weight decay λ: coupled L2, or decoupled (AdamW-style) with `decoupledWeightDecay`. @defaultValue 0 */
  weightDecay?: number;
  /** Momentum decay ψ of the schedule μₜ = β1·(1 − ½·0.96^(tψ)) (>= 0). @defaultValue 4e-3 */
  momentumDecay?: number;
  /** Apply weight decay as θ ← θ(1 − γλ) instead of adding λθ to the gradient. @defaultValue false */
  decoupledWeightDecay?: boolean;
  /** Maximise the objective instead of minimising it. @defaultValue false */
  maximize?: boolean;
}

/**
 * The resolved options of a NAdam param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type NAdamGroupOptions = Required<NAdamOptions>;

/** NAdam: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const NADAM_DESCRIPTOR: OptimizerDescriptor<NAdamGroupOptions> = {
  name: 'NAdam',
  kernel: 'nadam',
  options: {
    lr: nonNegative(2e-3),
    betas: betas(0.9, 0.999),
    eps: nonNegative(1e-8),
    weightDecay: nonNegative(0),
    momentumDecay: nonNegative(4e-3),
    decoupledWeightDecay: flag(false, 'decoupled'),
    maximize: flag(),
  },
  slots: ['expAvg', 'expAvgSq'],
  scalarState: 'muProduct',
  reference: { implementation: 'torch.optim.NAdam', url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.NAdam.html', paper: 'Dozat, ICLR 2016 workshop', fixture: 'nadam.json' },
};

/**
 * PyTorch 2.x defaults of NAdam. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * NADAM_DEFAULTS.momentumDecay; // 0.004
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const NADAM_DEFAULTS: Readonly<NAdamGroupOptions> = defaultsOf(NADAM_DESCRIPTOR);

/**
 * NAdam, as `torch.optim.NAdam`: Adam whose first moment looks one step ahead, with Dozat's
 * momentum schedule.
 *
 * @remarks
 * ```text
 * μₜ ← β1·(1 − ½·0.96^(t·ψ));   μₜ₊₁ ← β1·(1 − ½·0.96^((t+1)·ψ))
 * Π ← Π·μₜ                         (muProduct, starts at 1)
 * g ← −g if maximize
 * g ← g + λθ      (coupled)      or      θ ← θ(1 − γλ)      (decoupledWeightDecay)
 * m ← β1·m + (1 − β1)·g            (computed as PyTorch's lerp)
 * v ← β2·v + (1 − β2)·g²
 * d ← √(v / (1 − β2ᵗ)) + ε
 * θ ← θ − γ·(1 − μₜ)/(1 − Π) · g/d − γ·μₜ₊₁/(1 − Π·μₜ₊₁) · m/d
 * ```
 * The μ schedule and both coefficients are computed once per parameter per step. State per
 * parameter: `step`, `muProduct` (a float32 number, like PyTorch's scalar tensor), `expAvg`,
 * `expAvgSq`. Optax's `nadam` has no μ schedule, so its numbers differ.
 *
 * @example
 * ```ts
 * const opt = new NAdam(params, { lr: 2e-3 });
 * opt.step();
 * ```
 * @see Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop.
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.NAdam.html | torch.optim.NAdam}
 * @throws TypeError or RangeError for a bad option (negative lr, eps, weightDecay or
 * momentumDecay; betas outside [0, 1); a non-boolean flag), an empty or duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class NAdam extends Optimizer<NAdamGroupOptions> {
  constructor(params: ParamsInput<NAdamGroupOptions>, options?: NAdamOptions & CommonOptions) {
    super(NADAM_DESCRIPTOR, params, options);
  }
}
