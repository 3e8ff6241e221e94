/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.
 * @module
 */
import { Optimizer, type ParamsInput } from './optimizer.js';
import { optionName, withDefaults, type CommonOptions } from './options.js';
import { checkBoolean, checkNumber } from '../validate.js';

/** Options of {@link SGD}; every field is optional. */
export interface SGDOptions {
  /** Learning rate γ. @defaultValue 1e-3 */
  lr?: number;
  /** Momentum factor μ. @defaultValue 0 */
  momentum?: number;
  /** Dampening τ of the momentum. @defaultValue 0 */
  dampening?: number;
  /** L2 penalty λ, added to the gradient (coupled). @defaultValue 0 */
  weightDecay?: number;
  /** Nesterov momentum; needs momentum > 0 and dampening 0. @defaultValue false */
  nesterov?: boolean;
  /** Maximise the objective instead of minimising it. @defaultValue false */
  maximize?: boolean;
}

/**
 * PyTorch 2.x defaults of SGD. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * SGD_DEFAULTS.lr; // 0.001
 * ```
 */
export const SGD_DEFAULTS: Readonly<Required<SGDOptions>> = Object.freeze({
  lr: 1e-3,
  momentum: 0,
  dampening: 0,
  weightDecay: 0,
  nesterov: false,
  maximize: false,
});

/**
 * Stochastic gradient descent, optionally with (Nesterov) momentum, as `torch.optim.SGD`.
 *
 * @remarks
 * ```text
 * g ← −g if maximize
 * g ← g + λθ                                   (λ ≠ 0)
 * b ← g on the first step, else μ·b + (1 − τ)·g  (μ ≠ 0)
 * g ← g + μ·b if nesterov, else b              (μ ≠ 0)
 * θ ← θ − γ·g
 * ```
 * State per parameter: `momentumBuffer` (only with momentum). Same semantics as PyTorch 2.x,
 * including the undampened first momentum step.
 *
 * @example
 * ```ts
 * const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, nesterov: true });
 * opt.zeroGrad(); computeGrads(); opt.step();
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.SGD.html | torch.optim.SGD}
 * @see Sutskever et al., "On the importance of initialization and momentum in deep learning", ICML 2013.
 * @throws TypeError or RangeError for a bad option (negative lr, momentum or weightDecay;
 * nesterov without momentum or with dampening), an empty or duplicated parameter list.
 */
export class SGD extends Optimizer<Required<SGDOptions>> {
  constructor(params: ParamsInput<Required<SGDOptions>>, options?: SGDOptions & CommonOptions) {
    super('SGD', 'sgd', params, withDefaults<SGDOptions>('SGD', SGD_DEFAULTS, options));
  }

  protected override validateGroup(g: Required<SGDOptions>, where: string): void {
    const n = (k: string) => optionName(k, where);
    checkNumber('SGD', n('lr'), g.lr, { min: 0 });
    checkNumber('SGD', n('momentum'), g.momentum, { min: 0 });
    checkNumber('SGD', n('dampening'), g.dampening);
    checkNumber('SGD', n('weightDecay'), g.weightDecay, { min: 0 });
    checkBoolean('SGD', n('nesterov'), g.nesterov);
    checkBoolean('SGD', n('maximize'), g.maximize);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new RangeError(`SGD: ${n('nesterov')} requires momentum > 0 and dampening = 0, received momentum ${g.momentum} and dampening ${g.dampening}`);
    }
  }

  protected override packGroup(g: Required<SGDOptions>, out: Float64Array, o: number): void {
    out[o] = g.lr;
    out[o + 1] = g.momentum;
    out[o + 2] = g.dampening;
    out[o + 3] = g.weightDecay;
    out[o + 4] = g.nesterov ? 1 : 0;
    out[o + 5] = g.maximize ? 1 : 0;
  }
}
