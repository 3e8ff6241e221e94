/**
 * Adam and AdamW: one fused kernel, coupled or decoupled weight decay.
 * @module
 */
import { Optimizer, type ParamsInput } from './optimizer.js';
import { optionName, withDefaults, type CommonOptions } from './options.js';
import { checkBetas, checkBoolean, checkNumber } from '../validate.js';

/** Options of {@link Adam} and {@link AdamW}; every field is optional. */
export interface AdamOptions {
  /** Learning rate γ. @defaultValue 1e-3 */
  lr?: number;
  /** Decay rates (β1, β2) of the first and second moment estimates, each in [0, 1). @defaultValue [0.9, 0.999] */
  betas?: readonly [number, number];
  /** Term ε added to the denominator. @defaultValue 1e-8 */
  eps?: number;
  /** Weight decay λ: coupled L2 for Adam (default 0), decoupled for AdamW (default 1e-2). */
  weightDecay?: number;
  /** Use the AMSGrad variant (running maximum of the second moment). @defaultValue false */
  amsgrad?: boolean;
  /** Maximise the objective instead of minimising it. @defaultValue false */
  maximize?: boolean;
}

/** The resolved options of an Adam or AdamW param group. */
export type AdamGroupOptions = Required<AdamOptions>;

/**
 * PyTorch 2.x defaults of Adam. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADAM_DEFAULTS.betas; // [0.9, 0.999]
 * ```
 */
export const ADAM_DEFAULTS: Readonly<AdamGroupOptions> = Object.freeze({
  lr: 1e-3,
  betas: [0.9, 0.999] as const,
  eps: 1e-8,
  weightDecay: 0,
  amsgrad: false,
  maximize: false,
});

/**
 * PyTorch 2.x defaults of AdamW: Adam's, with weight decay 1e-2.
 * @example
 * ```ts
 * ADAMW_DEFAULTS.weightDecay; // 0.01
 * ```
 */
export const ADAMW_DEFAULTS: Readonly<AdamGroupOptions> = Object.freeze({ ...ADAM_DEFAULTS, weightDecay: 1e-2 });

function validateAdam(label: string, g: AdamGroupOptions, where: string): void {
  const n = (k: string) => optionName(k, where);
  checkNumber(label, n('lr'), g.lr, { min: 0 });
  checkBetas(label, n('betas'), g.betas);
  checkNumber(label, n('eps'), g.eps, { min: 0 });
  checkNumber(label, n('weightDecay'), g.weightDecay, { min: 0 });
  checkBoolean(label, n('amsgrad'), g.amsgrad);
  checkBoolean(label, n('maximize'), g.maximize);
}

function packAdam(g: AdamGroupOptions, out: Float64Array, o: number, decoupled: boolean): void {
  out[o] = g.lr;
  out[o + 1] = g.betas[0];
  out[o + 2] = g.betas[1];
  out[o + 3] = g.eps;
  out[o + 4] = g.weightDecay;
  out[o + 5] = g.amsgrad ? 1 : 0;
  out[o + 6] = g.maximize ? 1 : 0;
  out[o + 7] = decoupled ? 1 : 0;
}

/**
 * Adam with coupled (L2) weight decay, as `torch.optim.Adam`.
 *
 * @remarks
 * ```text
 * g ← −g if maximize;  g ← g + λθ
 * m ← β1·m + (1 − β1)·g            (computed as PyTorch's lerp)
 * v ← β2·v + (1 − β2)·g²
 * v̂ ← max(v̂, v) if amsgrad, else v
 * θ ← θ − (γ / (1 − β1ᵗ)) · m / (√v̂ / √(1 − β2ᵗ) + ε)
 * ```
 * t is the parameter's own step counter. State per parameter: `step`, `expAvg`, `expAvgSq`,
 * and `maxExpAvgSq` with amsgrad. For weight decay that does not pass through the adaptive
 * denominator, use {@link AdamW}.
 *
 * @example
 * ```ts
 * const opt = new Adam(params, { lr: 1e-3 });
 * opt.step();
 * ```
 * @see Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
 * @see Reddi et al., "On the Convergence of Adam and Beyond" (AMSGrad), ICLR 2018.
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.Adam.html | torch.optim.Adam}
 * @throws TypeError or RangeError for a bad option (negative lr, eps or weightDecay; betas
 * outside [0, 1)), an empty or duplicated parameter list.
 */
export class Adam extends Optimizer<AdamGroupOptions> {
  constructor(params: ParamsInput<AdamGroupOptions>, options?: AdamOptions & CommonOptions) {
    super('Adam', 'adam', params, withDefaults<AdamOptions>('Adam', ADAM_DEFAULTS, options));
  }

  protected override validateGroup(g: AdamGroupOptions, where: string): void {
    validateAdam('Adam', g, where);
  }

  protected override packGroup(g: AdamGroupOptions, out: Float64Array, o: number): void {
    packAdam(g, out, o, false);
  }
}

/**
 * Adam with decoupled weight decay, as `torch.optim.AdamW`.
 *
 * @remarks
 * ```text
 * g ← −g if maximize
 * θ ← θ·(1 − γλ)                    (decoupled: the decay bypasses the adaptive denominator)
 * m, v, v̂ and the update as in Adam
 * ```
 * Default weight decay 1e-2 (Optax uses 1e-4). With `weightDecay: 0` it is exactly Adam.
 *
 * @example
 * ```ts
 * const opt = new AdamW(params, { lr: 3e-4, weightDecay: 0.1 });
 * ```
 * @see Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.AdamW.html | torch.optim.AdamW}
 * @throws TypeError or RangeError as {@link Adam}.
 */
export class AdamW extends Optimizer<AdamGroupOptions> {
  constructor(params: ParamsInput<AdamGroupOptions>, options?: AdamOptions & CommonOptions) {
    super('AdamW', 'adam', params, withDefaults<AdamOptions>('AdamW', ADAMW_DEFAULTS, options));
  }

  protected override validateGroup(g: AdamGroupOptions, where: string): void {
    validateAdam('AdamW', g, where);
  }

  protected override packGroup(g: AdamGroupOptions, out: Float64Array, o: number): void {
    packAdam(g, out, o, true);
  }
}
