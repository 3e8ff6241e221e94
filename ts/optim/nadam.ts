/**
 * NAdam: Adam with Nesterov momentum and a momentum schedule.
 * @module
 */
import { Optimizer, type ParamsInput } from './optimizer.js';
import { optionName, withDefaults, type CommonOptions } from './options.js';
import { checkBetas, checkBoolean, checkNumber } from '../validate.js';

/** Options of {@link NAdam}; every field is optional. */
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

/** The resolved options of a NAdam param group. */
export type NAdamGroupOptions = Required<NAdamOptions>;

/**
 * PyTorch 2.x defaults of NAdam. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * NADAM_DEFAULTS.momentumDecay; // 0.004
 * ```
 */
export const NADAM_DEFAULTS: Readonly<NAdamGroupOptions> = Object.freeze({
  lr: 2e-3,
  betas: [0.9, 0.999] as const,
  eps: 1e-8,
  weightDecay: 0,
  momentumDecay: 4e-3,
  decoupledWeightDecay: false,
  maximize: false,
});

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
 */
export class NAdam extends Optimizer<NAdamGroupOptions> {
  constructor(params: ParamsInput<NAdamGroupOptions>, options?: NAdamOptions & CommonOptions) {
    super('NAdam', 'nadam', params, withDefaults<NAdamOptions>('NAdam', NADAM_DEFAULTS, options));
  }

  protected override validateGroup(g: NAdamGroupOptions, where: string): void {
    const n = (k: string) => optionName(k, where);
    checkNumber('NAdam', n('lr'), g.lr, { min: 0 });
    checkBetas('NAdam', n('betas'), g.betas);
    checkNumber('NAdam', n('eps'), g.eps, { min: 0 });
    checkNumber('NAdam', n('weightDecay'), g.weightDecay, { min: 0 });
    checkNumber('NAdam', n('momentumDecay'), g.momentumDecay, { min: 0 });
    checkBoolean('NAdam', n('decoupledWeightDecay'), g.decoupledWeightDecay);
    checkBoolean('NAdam', n('maximize'), g.maximize);
  }

  protected override packGroup(g: NAdamGroupOptions, out: Float64Array, o: number): void {
    out[o] = g.lr;
    out[o + 1] = g.betas[0];
    out[o + 2] = g.betas[1];
    out[o + 3] = g.eps;
    out[o + 4] = g.weightDecay;
    out[o + 5] = g.momentumDecay;
    out[o + 6] = g.decoupledWeightDecay ? 1 : 0;
    out[o + 7] = g.maximize ? 1 : 0;
  }
}
