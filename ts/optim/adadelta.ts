/**
 * Adadelta: step sizes from running averages of squared gradients and squared updates.
 * @module
 */
import { Optimizer, type ParamsInput } from './optimizer.js';
import { optionName, withDefaults, type CommonOptions } from './options.js';
import { checkBoolean, checkNumber } from '../validate.js';

/** Options of {@link Adadelta}; every field is optional. */
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

/** The resolved options of an Adadelta param group. */
export type AdadeltaGroupOptions = Required<AdadeltaOptions>;

/**
 * PyTorch 2.x defaults of Adadelta. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADADELTA_DEFAULTS.rho; // 0.9
 * ```
 */
export const ADADELTA_DEFAULTS: Readonly<AdadeltaGroupOptions> = Object.freeze({
  lr: 1.0,
  rho: 0.9,
  eps: 1e-6,
  weightDecay: 0,
  maximize: false,
});

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
 * @see Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701 (2012).
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.Adadelta.html | torch.optim.Adadelta}
 * @throws TypeError or RangeError for a bad option (negative lr, eps or weightDecay; rho outside
 * [0, 1]; a non-boolean maximize), an empty or duplicated parameter list.
 */
export class Adadelta extends Optimizer<AdadeltaGroupOptions> {
  constructor(params: ParamsInput<AdadeltaGroupOptions>, options?: AdadeltaOptions & CommonOptions) {
    super('Adadelta', 'adadelta', params, withDefaults<AdadeltaOptions>('Adadelta', ADADELTA_DEFAULTS, options));
  }

  protected override validateGroup(g: AdadeltaGroupOptions, where: string): void {
    const n = (k: string) => optionName(k, where);
    checkNumber('Adadelta', n('lr'), g.lr, { min: 0 });
    checkNumber('Adadelta', n('rho'), g.rho, { min: 0, max: 1 });
    checkNumber('Adadelta', n('eps'), g.eps, { min: 0 });
    checkNumber('Adadelta', n('weightDecay'), g.weightDecay, { min: 0 });
    checkBoolean('Adadelta', n('maximize'), g.maximize);
  }

  protected override packGroup(g: AdadeltaGroupOptions, out: Float64Array, o: number): void {
    out[o] = g.lr;
    out[o + 1] = g.rho;
    out[o + 2] = g.eps;
    out[o + 3] = g.weightDecay;
    out[o + 4] = g.maximize ? 1 : 0;
  }
}
