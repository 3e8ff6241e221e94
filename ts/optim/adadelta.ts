/**
 * Adadelta: step sizes from running averages of squared gradients and squared updates.
 * @module
 */
import { defaultsOf, flag, nonNegative, numberIn, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * Options of {@link Adadelta}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface AdadeltaOptions {
  /** Coefficient γ that scales the update. @defaultValue 1.0 */
  lr?: number;
  /** Decay rate ρ of both running averages, in [0, 1]. @defaultValue 0.9 */
  rho?: number;
  /** Term ε added inside both square roots. @defaultValue 1e-6 */
  eps?: number;
  /** L2 penalty λ, added to the gradient (coupled). @defaultValue 0 */
  weightDecay?: number;
  /** Maximise the objective instead of minimising it. @defaultValue false */
  maximize?: boolean;
}

/**
 * The resolved options of an Adadelta param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type AdadeltaGroupOptions = Required<AdadeltaOptions>;

/** Adadelta: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const ADADELTA_DESCRIPTOR: OptimizerDescriptor<AdadeltaGroupOptions> = {
  name: 'Adadelta',
  kernel: 'adadelta',
  options: { lr: nonNegative(1.0), rho: numberIn(0.9, { min: 0, max: 1 }), eps: nonNegative(1e-6), weightDecay: nonNegative(0), maximize: flag() },
  slots: ['squareAvg', 'accDelta'],
  reference: { implementation: 'torch.optim.Adadelta', url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.Adadelta.html', paper: 'Zeiler, arXiv:1212.5701 (2012)', fixture: 'adadelta.json' },
};

/**
 * PyTorch 2.x defaults of Adadelta. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADADELTA_DEFAULTS.rho; // 0.9
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const ADADELTA_DEFAULTS: Readonly<AdadeltaGroupOptions> = defaultsOf(ADADELTA_DESCRIPTOR);

/**
 * Adadelta, as `torch.optim.Adadelta`: the update is scaled by the ratio of the RMS of past
 * updates to the RMS of gradients.
 *
 * @remarks
 * ```text
 * g ← −g if maximize
 * g ← g + λθ                                  (λ ≠ 0)
 * v ← ρ·v + (1 − ρ)·g²
 * δ ← √(a + ε) / √(v + ε) · g
 * a ← ρ·a + (1 − ρ)·δ²
 * θ ← θ − γ·δ
 * ```
 * State per parameter: `step`, `squareAvg`, `accDelta`.
 *
 * @example
 * ```ts
 * const opt = new Adadelta(params); // lr 1, rho 0.9, eps 1e-6
 * opt.step();
 * ```
 * @see Zeiler, "ADADELTA_DESCRIPTOR: An Adaptive Learning Rate Method", arXiv:1212.5701 (2012).
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.Adadelta.html | torch.optim.Adadelta}
 * @throws TypeError or RangeError for a bad option (negative lr, eps or weightDecay; rho outside
 * [0, 1]; a non-boolean maximize), an empty or duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class Adadelta extends Optimizer<AdadeltaGroupOptions> {
  constructor(params: ParamsInput<AdadeltaGroupOptions>, options?: AdadeltaOptions & CommonOptions) {
    super(ADADELTA_DESCRIPTOR, params, options);
  }
}
