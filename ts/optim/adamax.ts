/**
 * Adamax: Adam with the infinity norm.
 * @module
 */
import { betas, defaultsOf, flag, nonNegative, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * Options of {@link Adamax}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface AdamaxOptions {
  /** Learning rate γ. @defaultValue 2e-3 */
  lr?: number;
  /** Decay rates (β1, β2) of the first moment and of the infinity norm, each in [0, 1). @defaultValue [0.9, 0.999] */
  betas?: readonly [number, number];
  /** Term ε added to |g| inside the max (not to the denominator). @defaultValue 1e-8 */
  eps?: number;
  /** L2 penalty λ, added to the gradient (coupled). @defaultValue 0 */
  weightDecay?: number;
  /** Maximise the objective instead of minimising it. @defaultValue false */
  maximize?: boolean;
}

/**
 * The resolved options of an Adamax param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type AdamaxGroupOptions = Required<AdamaxOptions>;

/** Adamax: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const ADAMAX_DESCRIPTOR: OptimizerDescriptor<AdamaxGroupOptions> = {
  name: 'Adamax',
  kernel: 'adamax',
  options: { lr: nonNegative(2e-3), betas: betas(0.9, 0.999), eps: nonNegative(1e-8), weightDecay: nonNegative(0), maximize: flag() },
  slots: ['expAvg', 'expInf'],
  reference: { implementation: 'torch.optim.Adamax', url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.Adamax.html', paper: 'Kingma and Ba, ICLR 2015, section 7.1', fixture: 'adamax.json' },
};

/**
 * PyTorch 2.x defaults of Adamax. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADAMAX_DEFAULTS.lr; // 0.002
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const ADAMAX_DEFAULTS: Readonly<AdamaxGroupOptions> = defaultsOf(ADAMAX_DESCRIPTOR);

/**
 * Adamax, as `torch.optim.Adamax`: Adam's second moment replaced by an exponentially weighted
 * infinity norm.
 *
 * @remarks
 * ```text
 * g ← −g if maximize
 * g ← g + λθ                                  (λ ≠ 0)
 * m ← β1·m + (1 − β1)·g                       (computed as PyTorch's lerp)
 * u ← max(β2·u, |g| + ε)
 * θ ← θ − (γ / (1 − β1ᵗ)) · m / u
 * ```
 * ε goes inside the max, as in PyTorch (TensorFlow.js adds it to the denominator); a NaN on
 * either side of the max propagates, as `torch.maximum` does. State per parameter: `step`,
 * `expAvg`, `expInf`.
 *
 * @example
 * ```ts
 * const opt = new Adamax(params, { lr: 2e-3 });
 * opt.step();
 * ```
 * @see Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, section 7.1.
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.Adamax.html | torch.optim.Adamax}
 * @throws TypeError or RangeError for a bad option (negative lr, eps or weightDecay; betas
 * outside [0, 1); a non-boolean maximize), an empty or duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class Adamax extends Optimizer<AdamaxGroupOptions> {
  constructor(params: ParamsInput<AdamaxGroupOptions>, options?: AdamaxOptions & CommonOptions) {
    super(ADAMAX_DESCRIPTOR, params, options);
  }
}
