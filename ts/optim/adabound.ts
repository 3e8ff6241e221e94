/**
 * AdaBound and AMSBound: Adam whose per-element step size is clamped into bounds that converge
 * to an SGD learning rate.
 * @module
 */
import { betas, defaultsOf, flag, nonNegative, numberIn, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * Options of {@link AdaBound}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
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

/**
 * The resolved options of an AdaBound param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type AdaBoundGroupOptions = Required<AdaBoundOptions>;

/** AdaBound: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const ADABOUND_DESCRIPTOR: OptimizerDescriptor<AdaBoundGroupOptions> = {
  name: 'AdaBound',
  kernel: 'adabound',
  options: {
    lr: nonNegative(1e-3),
    betas: betas(0.9, 0.999),
    finalLr: nonNegative(0.1),
    gamma: numberIn(1e-3, { above: 0, below: 1 }),
    eps: nonNegative(1e-8),
    weightDecay: nonNegative(0),
    amsbound: flag(),
    baseLr: { type: 'derived', default: null, range: { min: 0 }, from: 'lr' },
  },
  slots: ['expAvg', 'expAvgSq', 'maxExpAvgSq'],
  check: (g, n) => {
    if (g.baseLr === 0 && g.lr > 0) {
      throw new RangeError(`AdaBound: ${n('baseLr')} is 0 (the group was created with lr 0), so the bounds finalLr·lr/baseLr are undefined for lr ${g.lr}; set baseLr to a positive number`);
    }
  },
  reference: { implementation: 'torch-optimizer AdaBound', url: 'https://github.com/jettify/pytorch-optimizer/blob/master/torch_optimizer/adabound.py', paper: 'Luo et al., ICLR 2019', fixture: 'adabound.json' },
};

/**
 * torch-optimizer's defaults of AdaBound. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADABOUND_DEFAULTS.finalLr; // 0.1
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const ADABOUND_DEFAULTS: Readonly<AdaBoundGroupOptions> = defaultsOf(ADABOUND_DESCRIPTOR);

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
 * @group Optimizers
 * @category Classes
 */
export class AdaBound extends Optimizer<AdaBoundGroupOptions> {
  constructor(params: ParamsInput<AdaBoundGroupOptions>, options?: AdaBoundOptions & CommonOptions) {
    super(ADABOUND_DESCRIPTOR, params, options);
  }
}
