/**
 * Adagrad: per-coordinate learning rates from the sum of squared gradients.
 * @module
 */
import { defaultsOf, flag, nonNegative, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * Options of {@link Adagrad}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface AdagradOptions {
  /** Learning rate γ. @defaultValue 1e-2 */
  lr?: number;
  /** Learning-rate decay η: step t uses γ / (1 + (t − 1)·η). @defaultValue 0 */
  lrDecay?: number;
  /** L2 penalty λ, added to the gradient (coupled). @defaultValue 0 */
  weightDecay?: number;
  /** Initial value τ of the sum of squared gradients (>= 0). @defaultValue 0 */
  initialAccumulatorValue?: number;
  /** Term ε added to the denominator, outside the square root. @defaultValue 1e-10 */
  eps?: number;
  /** Maximise the objective instead of minimising it. @defaultValue false */
  maximize?: boolean;
}

/**
 * The resolved options of an Adagrad param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type AdagradGroupOptions = Required<AdagradOptions>;

/** Adagrad: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const ADAGRAD_DESCRIPTOR: OptimizerDescriptor<AdagradGroupOptions> = {
  name: 'Adagrad',
  kernel: 'adagrad',
  options: { lr: nonNegative(1e-2), lrDecay: nonNegative(0), weightDecay: nonNegative(0), initialAccumulatorValue: nonNegative(0), eps: nonNegative(1e-10), maximize: flag() },
  slots: ['sum'],
  // PyTorch creates `sum` in the constructor, filled with initialAccumulatorValue.
  eagerState: (g) => ({ sum: g.initialAccumulatorValue }),
  reference: { implementation: 'torch.optim.Adagrad', url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.Adagrad.html', paper: 'Duchi, Hazan and Singer, JMLR 12 (2011)', fixture: 'adagrad.json' },
};

/**
 * PyTorch 2.x defaults of Adagrad. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADAGRAD_DEFAULTS.eps; // 1e-10
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const ADAGRAD_DEFAULTS: Readonly<AdagradGroupOptions> = defaultsOf(ADAGRAD_DESCRIPTOR);

/**
 * Adagrad, as `torch.optim.Adagrad` (dense gradients).
 *
 * @remarks
 * ```text
 * γ̃ ← γ / (1 + (t − 1)·η)                     (t: the parameter's own step count)
 * g ← −g if maximize
 * g ← g + λθ                                  (λ ≠ 0)
 * s ← s + g²                                  (s starts at τ = initialAccumulatorValue)
 * θ ← θ − γ̃·g / (√s + ε)
 * ```
 * As in PyTorch, the state (`step` = 0 and `sum` filled with τ) exists as soon as a parameter is
 * added, before any step, so `stateDict()` lists it from the start. ε = 1e-10 is added outside
 * the square root (TensorFlow.js and Optax add theirs inside, with τ = 0.1).
 *
 * Deviations: each group's own `initialAccumulatorValue` is used, and parameters of groups added
 * with `addParamGroup` get their state too (PyTorch fills every group with the constructor's value
 * and creates no state for later groups, whose first step then fails). Sparse gradients do not
 * exist here.
 *
 * @example
 * ```ts
 * const opt = new Adagrad(params, { lr: 0.05, initialAccumulatorValue: 0.1 });
 * opt.step();
 * ```
 * @see Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic Optimization", JMLR 12 (2011).
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.Adagrad.html | torch.optim.Adagrad}
 * @throws TypeError or RangeError for a bad option (negative lr, lrDecay, weightDecay,
 * initialAccumulatorValue or eps; a non-boolean maximize), an empty or duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class Adagrad extends Optimizer<AdagradGroupOptions> {
  constructor(params: ParamsInput<AdagradGroupOptions>, options?: AdagradOptions & CommonOptions) {
    super(ADAGRAD_DESCRIPTOR, params, options);
  }
}
