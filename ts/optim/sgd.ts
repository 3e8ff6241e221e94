/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.
 * @module
 */
import { defaultsOf, flag, nonNegative, numberIn, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';
import { STATE_DTYPES, type StateDtypeOptions } from './state-dtype.js';

/**
 * Options of {@link SGD}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
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

/** SGD: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const SGD_DESCRIPTOR: OptimizerDescriptor<Required<SGDOptions>> = {
  name: 'SGD',
  kernel: 'sgd',
  options: { lr: nonNegative(1e-3), momentum: nonNegative(0), dampening: numberIn(0, {}), weightDecay: nonNegative(0), nesterov: flag(), maximize: flag() },
  slots: ['momentumBuffer'],
  stateDtypes: STATE_DTYPES,
  check: (g, n) => {
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new RangeError(`SGD: ${n('nesterov')} requires momentum > 0 and dampening = 0, received momentum ${g.momentum} and dampening ${g.dampening}`);
    }
  },
  reference: { implementation: 'torch.optim.SGD', url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.SGD.html', paper: 'Sutskever et al., ICML 2013', fixture: 'sgd.json' },
};

/**
 * PyTorch 2.x defaults of SGD. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * SGD_DEFAULTS.lr; // 0.001
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const SGD_DEFAULTS: Readonly<Required<SGDOptions>> = defaultsOf(SGD_DESCRIPTOR);

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
 * including the undampened first momentum step. With `stateDtype: 'bfloat16'` or `'int8'` the
 * momentum buffer is stored in 2 or about 1 byte per element (see {@link StateDtype}); each step
 * computes this update in float32 from it and stores it back rounded or block-wise quantized.
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
 * @group Optimizers
 * @category Classes
 */
export class SGD extends Optimizer<Required<SGDOptions>> {
  constructor(params: ParamsInput<Required<SGDOptions>>, options?: SGDOptions & CommonOptions & StateDtypeOptions) {
    super(SGD_DESCRIPTOR, params, options);
  }
}
