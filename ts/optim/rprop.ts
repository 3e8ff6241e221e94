/**
 * Rprop: resilient backpropagation, a step size per element adapted from gradient signs.
 * @module
 */
import { defaultsOf, flag, nonNegative, pair, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * Options of {@link Rprop}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface RpropOptions {
  /** Learning rate γ: the initial step size of every element (used only when a parameter's state is created). @defaultValue 1e-2 */
  lr?: number;
  /** Multiplicative decrease and increase factors (η−, η+), with 0 < η− < 1 < η+. @defaultValue [0.5, 1.2] */
  etas?: readonly [number, number];
  /** Minimal and maximal step sizes (Δmin, Δmax), each >= 0. @defaultValue [1e-6, 50] */
  stepSizes?: readonly [number, number];
  /** Maximise the objective instead of minimising it. @defaultValue false */
  maximize?: boolean;
}

/**
 * The resolved options of an Rprop param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type RpropGroupOptions = Required<RpropOptions>;

/** Rprop: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const RPROP_DESCRIPTOR: OptimizerDescriptor<RpropGroupOptions> = {
  name: 'Rprop',
  kernel: 'rprop',
  options: {
    lr: nonNegative(1e-2),
    etas: pair(0.5, 1.2, ['etaminus', 'etaplus'], [{ above: 0, below: 1 }, { above: 1 }]),
    stepSizes: pair(1e-6, 50, ['step_size_min', 'step_size_max'], { min: 0 }),
    maximize: flag(),
  },
  slots: ['prev', 'stepSize'],
  reference: {
    implementation: 'torch.optim.Rprop',
    url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.Rprop.html',
    paper: 'Riedmiller and Braun, ICNN 1993',
    fixture: 'rprop.json',
  },
};

/**
 * PyTorch 2.x defaults of Rprop. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * RPROP_DEFAULTS.etas; // [0.5, 1.2]
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const RPROP_DEFAULTS: Readonly<RpropGroupOptions> = defaultsOf(RPROP_DESCRIPTOR);

/**
 * Rprop, as `torch.optim.Rprop`: each element moves by its own step size in the direction
 * opposite to its gradient's sign; the step size grows by η+ while the sign holds and shrinks by
 * η− when it flips, and the step after a flip is skipped.
 *
 * @remarks
 * ```text
 * g ← −g if maximize
 * f ← η+ if g·prev > 0;  η− if g·prev < 0;  1 otherwise      (a NaN product counts as 0)
 * Δ ← clamp(Δ·f, Δmin, Δmax)                                  (Δ starts at γ)
 * g ← 0 where g·prev < 0
 * θ ← θ − sign(g)·Δ                                           (sign(NaN) = 0)
 * prev ← g
 * ```
 * The update uses only signs, so it suits full-batch training; with mini-batches the signs are
 * noisy. `lr` is the initial step size: changing it (a scheduler) affects only parameters whose
 * state is created afterwards, as in PyTorch. η± are rounded to float32 before use, as PyTorch
 * writes them into a float32 tensor. The clamp is `torch.clamp`'s: Δmin > Δmax (not rejected, as
 * in PyTorch) gives Δmax. PyTorch accepts any step sizes; ferroptim requires them >= 0.
 * State per parameter: `step`, `prev` (the last gradient used, 0 after a sign flip) and
 * `stepSize`.
 *
 * @example
 * ```ts
 * const opt = new Rprop(params, { lr: 0.01, etas: [0.5, 1.2], stepSizes: [1e-6, 50] });
 * opt.step();
 * ```
 * @see Riedmiller and Braun, "A Direct Adaptive Method for Faster Backpropagation Learning: The RPROP Algorithm", ICNN 1993.
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.Rprop.html | torch.optim.Rprop}
 * @throws TypeError or RangeError for a bad option (negative lr or step sizes; etas not
 * 0 < η− < 1 < η+; a non-boolean maximize), an empty or duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class Rprop extends Optimizer<RpropGroupOptions> {
  constructor(params: ParamsInput<RpropGroupOptions>, options?: RpropOptions & CommonOptions) {
    super(RPROP_DESCRIPTOR, params, options);
  }
}
