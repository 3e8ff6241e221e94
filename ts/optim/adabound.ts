/**
 * AdaBound and AMSBound: Adam whose per-element step size is clamped into bounds that converge
 * to an SGD learning rate.
 * @module
 */
import { Optimizer, type ParamGroupInput, type ParamsInput } from './optimizer.js';
import { optionName, withDefaults, type CommonOptions } from './options.js';
import { checkBetas, checkBoolean, checkNumber, describeValue } from '../validate.js';

/** Options of {@link AdaBound}; every field is optional. */
export interface AdaBoundOptions {
  /** Learning rate γ (the Adam phase). @defaultValue 1e-3 */
  lr?: number;
  /** Decay rates (β1, β2) of the first and second moment estimates, each in [0, 1). @defaultValue [0.9, 0.999] */
  betas?: readonly [number, number];
  /** The SGD learning rate both bounds converge to (scaled by lr / baseLr). @defaultValue 0.1 */
  finalLr?: number;
  /** Convergence speed of the bounds, in (0, 1). @defaultValue 1e-3 */
  gamma?: number;
  /** Term ε added to the denominator. @defaultValue 1e-8 */
  eps?: number;
  /** L2 penalty λ, added to the gradient (coupled). @defaultValue 0 */
  weightDecay?: number;
  /** Use the AMSBound variant (running maximum of the second moment). @defaultValue false */
  amsbound?: boolean;
  /**
   * The lr the bounds are relative to (torch-optimizer's `base_lrs`): the bounds use
   * `finalLr · lr / baseLr`, so a scheduler that lowers lr lowers them too. `null` means the
   * group's lr when the group is added, which is then stored in the group, so it survives
   * `stateDict()` / `loadStateDict()`.
   * @defaultValue null
   */
  baseLr?: number | null;
}

/** The resolved options of an AdaBound param group. */
export type AdaBoundGroupOptions = Required<AdaBoundOptions>;

/**
 * torch-optimizer's defaults of AdaBound. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADABOUND_DEFAULTS.finalLr; // 0.1
 * ```
 */
export const ADABOUND_DEFAULTS: Readonly<AdaBoundGroupOptions> = Object.freeze({
  lr: 1e-3,
  betas: [0.9, 0.999] as const,
  finalLr: 0.1,
  gamma: 1e-3,
  eps: 1e-8,
  weightDecay: 0,
  amsbound: false,
  baseLr: null,
});

/**
 * AdaBound (and AMSBound with `amsbound: true`), as torch-optimizer's `AdaBound`.
 *
 * @remarks
 * ```text
 * g ← g + λθ                                        (λ ≠ 0)
 * m ← β1·m + (1 − β1)·g
 * v ← β2·v + (1 − β2)·g²
 * v̂ ← max(v̂, v) if amsbound, else v
 * η* ← γ·√(1 − β2ᵗ) / (1 − β1ᵗ)
 * η_fin ← finalLr · γ / baseLr                      (the bounds follow lr schedulers)
 * lo ← η_fin·(1 − 1/(gamma·t + 1)),  hi ← η_fin·(1 + 1/(gamma·t))
 * η ← clamp(η* / (√v̂ + ε), lo, hi)                  (element-wise)
 * θ ← θ − η·m
 * ```
 * Early on the bounds are wide and the step is Adam's; as t grows both bounds close in on
 * `finalLr` and the step becomes SGD (with momentum m) at that rate. t is the parameter's own
 * step counter. State per parameter: `step`, `expAvg`, `expAvgSq`, and `maxExpAvgSq` with
 * amsbound.
 *
 * Deviations from torch-optimizer, all at its edges: its `base_lrs` list lives outside the
 * state dict and only covers the groups present at construction (a group added later is
 * silently never stepped); here each group stores its `baseLr`, set when the group is added.
 * With lr = 0 the bounds are 0, so the step is a no-op (the reference divides by a base lr of 0
 * for a group created with lr 0). `gamma` must be > 0 (the reference divides by gamma·t).
 *
 * @example
 * ```ts
 * const opt = new AdaBound(params, { lr: 1e-3, finalLr: 0.1 });
 * opt.step();
 * opt.paramGroups[0].lr = 1e-4; // as a scheduler would: the bounds now converge to 0.01
 * opt.step();
 * ```
 * @see Luo et al., "Adaptive Gradient Methods with Dynamic Bound of Learning Rate", ICLR 2019 ({@link https://arxiv.org/abs/1902.09843 | arXiv:1902.09843}).
 * @see {@link https://github.com/jettify/pytorch-optimizer/blob/master/torch_optimizer/adabound.py | torch-optimizer AdaBound}, the reference followed.
 * @throws TypeError or RangeError for a bad option (negative lr, finalLr, eps or weightDecay;
 * betas outside [0, 1); gamma outside (0, 1); a group with baseLr 0 and lr > 0), an empty or
 * duplicated parameter list.
 */
export class AdaBound extends Optimizer<AdaBoundGroupOptions> {
  constructor(params: ParamsInput<AdaBoundGroupOptions>, options?: AdaBoundOptions & CommonOptions) {
    super('AdaBound', 'adabound', params, withDefaults<AdaBoundOptions>('AdaBound', ADABOUND_DEFAULTS, options));
  }

  /** Adds a parameter group; its `baseLr` defaults to its lr now. */
  override addParamGroup(group: ParamGroupInput<AdaBoundGroupOptions>): void {
    super.addParamGroup(group);
    const g = this.paramGroups[this.paramGroups.length - 1]!;
    if (g.baseLr === null) g.baseLr = g.lr;
  }

  protected override validateGroup(g: AdaBoundGroupOptions, where: string): void {
    const n = (k: string) => optionName(k, where);
    checkNumber('AdaBound', n('lr'), g.lr, { min: 0 });
    checkBetas('AdaBound', n('betas'), g.betas);
    checkNumber('AdaBound', n('finalLr'), g.finalLr, { min: 0 });
    checkNumber('AdaBound', n('gamma'), g.gamma, { above: 0, below: 1 });
    checkNumber('AdaBound', n('eps'), g.eps, { min: 0 });
    checkNumber('AdaBound', n('weightDecay'), g.weightDecay, { min: 0 });
    checkBoolean('AdaBound', n('amsbound'), g.amsbound);
    if (g.baseLr !== null) {
      if (typeof g.baseLr !== 'number') {
        throw new TypeError(`AdaBound: expected ${n('baseLr')} to be a finite number >= 0 or null, received ${describeValue(g.baseLr)}`);
      }
      checkNumber('AdaBound', n('baseLr'), g.baseLr, { min: 0 });
      if (g.baseLr === 0 && g.lr > 0) {
        throw new RangeError(`AdaBound: ${n('baseLr')} is 0 (the group was created with lr 0), so the bounds finalLr·lr/baseLr are undefined for lr ${g.lr}; set baseLr to a positive number`);
      }
    }
  }

  protected override packGroup(g: AdaBoundGroupOptions, out: Float64Array, o: number): void {
    out[o] = g.lr;
    out[o + 1] = g.betas[0];
    out[o + 2] = g.betas[1];
    out[o + 3] = g.finalLr;
    out[o + 4] = g.gamma;
    out[o + 5] = g.eps;
    out[o + 6] = g.weightDecay;
    out[o + 7] = g.amsbound ? 1 : 0;
    out[o + 8] = g.baseLr ?? g.lr;
  }
}
