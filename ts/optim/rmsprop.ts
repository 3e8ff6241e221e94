/**
 * RMSprop: plain or centered, with momentum and coupled weight decay.
 * @module
 */
import { defaultsOf, flag, nonNegative, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * Options of {@link RMSprop}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface RMSpropOptions {
  /** Learning rate γ. @defaultValue 1e-2 */
  lr?: number;
  /** Smoothing constant α of the squared-gradient average (>= 0). @defaultValue 0.99 */
  alpha?: number;
  /** Term ε added to the denominator, outside the square root. @defaultValue 1e-8 */
  eps?: number;
  /** L2 penalty λ, added to the gradient (coupled). @defaultValue 0 */
  weightDecay?: number;
  /** Momentum factor μ (>= 0); 0 disables the momentum buffer. @defaultValue 0 */
  momentum?: number;
  /** Normalise by an estimate of the gradient's variance instead of its second moment. @defaultValue false */
  centered?: boolean;
  /** Maximise the objective instead of minimising it. @defaultValue false */
  maximize?: boolean;
}

/**
 * The resolved options of an RMSprop param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type RMSpropGroupOptions = Required<RMSpropOptions>;

/** RMSprop: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const RMSPROP_DESCRIPTOR: OptimizerDescriptor<RMSpropGroupOptions> = {
  name: 'RMSprop',
  kernel: 'rmsprop',
  options: { lr: nonNegative(1e-2), alpha: nonNegative(0.99), eps: nonNegative(1e-8), weightDecay: nonNegative(0), momentum: nonNegative(0), centered: flag(), maximize: flag() },
  slots: ['squareAvg', 'momentumBuffer', 'gradAvg'],
  reference: { implementation: 'torch.optim.RMSprop', url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.RMSprop.html', paper: 'Hinton, lecture 6e (2012)', fixture: 'rmsprop.json' },
};

/**
 * PyTorch 2.x defaults of RMSprop. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * RMSPROP_DEFAULTS.alpha; // 0.99
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const RMSPROP_DEFAULTS: Readonly<RMSpropGroupOptions> = defaultsOf(RMSPROP_DESCRIPTOR);

/**
 * RMSprop, as `torch.optim.RMSprop`: the gradient divided by a running root mean square.
 *
 * @remarks
 * ```text
 * g ← −g if maximize
 * g ← g + λθ                                  (λ ≠ 0)
 * v ← α·v + (1 − α)·g²
 * ḡ ← α·ḡ + (1 − α)·g                         (centered; computed as PyTorch's lerp)
 * d ← √(v − ḡ²) + ε  if centered, else  √v + ε
 * b ← μ·b + g / d;  θ ← θ − γ·b               (μ > 0)
 * θ ← θ − γ·g / d                             (μ = 0)
 * ```
 * ε is added outside the square root, as PyTorch does (TensorFlow.js and Optax's default add it
 * inside, so their numbers differ). State per parameter: `step`, `squareAvg`, `momentumBuffer`
 * (momentum > 0) and `gradAvg` (centered).
 *
 * Deviation: PyTorch creates `momentumBuffer` and `gradAvg` only on a parameter's first step and
 * fails if momentum or centering is switched on later; here the buffer is created, zero-filled,
 * on the first step that needs it.
 *
 * @example
 * ```ts
 * const opt = new RMSprop(params, { lr: 1e-3, momentum: 0.9, centered: true });
 * opt.step();
 * ```
 * @see Hinton, Srivastava and Swersky, "Neural Networks for Machine Learning", lecture 6e (2012).
 * @see Graves, "Generating Sequences With Recurrent Neural Networks", arXiv:1308.0850 (centered variant).
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.RMSprop.html | torch.optim.RMSprop}
 * @throws TypeError or RangeError for a bad option (negative lr, alpha, eps, weightDecay or
 * momentum; a non-boolean flag), an empty or duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class RMSprop extends Optimizer<RMSpropGroupOptions> {
  constructor(params: ParamsInput<RMSpropGroupOptions>, options?: RMSpropOptions & CommonOptions) {
    super(RMSPROP_DESCRIPTOR, params, options);
  }
}
