/**
 * Adagrad: per-coordinate learning rates from the sum of squared gradients.
 * @module
 */
import { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';
import { optionName, withDefaults, type CommonOptions } from './options.js';
import { checkBoolean, checkNumber } from '../validate.js';

/** Options of {@link Adagrad}; every field is optional. */
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

/** The resolved options of an Adagrad param group. */
export type AdagradGroupOptions = Required<AdagradOptions>;

/**
 * PyTorch 2.x defaults of Adagrad. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADAGRAD_DEFAULTS.eps; // 1e-10
 * ```
 */
export const ADAGRAD_DEFAULTS: Readonly<AdagradGroupOptions> = Object.freeze({
  lr: 1e-2,
  lrDecay: 0,
  weightDecay: 0,
  initialAccumulatorValue: 0,
  eps: 1e-10,
  maximize: false,
});

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
 */
export class Adagrad extends Optimizer<AdagradGroupOptions> {
  constructor(params: ParamsInput<AdagradGroupOptions>, options?: AdagradOptions & CommonOptions) {
    super('Adagrad', 'adagrad', params, withDefaults<AdagradOptions>('Adagrad', ADAGRAD_DEFAULTS, options));
  }

  protected override validateGroup(g: AdagradGroupOptions, where: string): void {
    const n = (k: string) => optionName(k, where);
    checkNumber('Adagrad', n('lr'), g.lr, { min: 0 });
    checkNumber('Adagrad', n('lrDecay'), g.lrDecay, { min: 0 });
    checkNumber('Adagrad', n('weightDecay'), g.weightDecay, { min: 0 });
    checkNumber('Adagrad', n('initialAccumulatorValue'), g.initialAccumulatorValue, { min: 0 });
    checkNumber('Adagrad', n('eps'), g.eps, { min: 0 });
    checkBoolean('Adagrad', n('maximize'), g.maximize);
  }

  protected override packGroup(g: AdagradGroupOptions, out: Float64Array, o: number): void {
    out[o] = g.lr;
    out[o + 1] = g.lrDecay;
    out[o + 2] = g.weightDecay;
    out[o + 3] = g.initialAccumulatorValue;
    out[o + 4] = g.eps;
    out[o + 5] = g.maximize ? 1 : 0;
  }

  protected override initialState(g: ParamGroup<AdagradGroupOptions>): Readonly<Record<string, number>> {
    return { sum: g.initialAccumulatorValue };
  }
}
