/**
 * Lion: the sign of a momentum interpolation, with decoupled weight decay.
 * @module
 */
import { betas, defaultsOf, nonNegative, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';
import { STATE_DTYPES, type StateDtypeOptions } from './state-dtype.js';

/**
 * Options of {@link Lion}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface LionOptions {
  /** Learning rate γ (typically 3–10× smaller than AdamW's). @defaultValue 1e-4 */
  lr?: number;
  /** (β1, β2): β1 interpolates the update, β2 decays the momentum; each in [0, 1]. @defaultValue [0.9, 0.99] */
  betas?: readonly [number, number];
  /** Decoupled weight decay λ (typically 3–10× larger than AdamW's). @defaultValue 0 */
  weightDecay?: number;
}

/**
 * The resolved options of a Lion param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type LionGroupOptions = Required<LionOptions>;

/** Lion: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const LION_DESCRIPTOR: OptimizerDescriptor<LionGroupOptions> = {
  name: 'Lion',
  kernel: 'lion',
  options: { lr: nonNegative(1e-4), betas: betas(0.9, 0.99, { min: 0, max: 1 }), weightDecay: nonNegative(0) },
  slots: ['expAvg'],
  stateDtypes: STATE_DTYPES,
  reference: { implementation: 'lion-pytorch Lion', url: 'https://github.com/lucidrains/lion-pytorch', paper: 'Chen et al., NeurIPS 2023', fixture: 'lion.json' },
};

/**
 * lion-pytorch's defaults of Lion. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * LION_DEFAULTS.betas; // [0.9, 0.99]
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const LION_DEFAULTS: Readonly<LionGroupOptions> = defaultsOf(LION_DESCRIPTOR);

/**
 * Lion (EvoLved Sign Momentum), as the paper's pseudocode and lion-pytorch's `Lion`.
 *
 * @remarks
 * ```text
 * θ ← θ·(1 − γλ)                     (decoupled weight decay)
 * c ← β1·m + (1 − β1)·g
 * θ ← θ − γ·sign(c)                  (sign(0) = 0, as torch.sign)
 * m ← β2·m + (1 − β2)·g              (the momentum is updated after the step, with β2)
 * ```
 * Every element moves by exactly ±γ (or 0), so lr is usually 3–10× smaller than AdamW's and
 * weightDecay as much larger. State per parameter: `expAvg` (and `step`, which lion-pytorch does
 * not keep and the update does not use).
 *
 * torch evaluates `β·x + (1 − β)·g` as a fused multiply-add; because sign() is discontinuous, a
 * different rounding of c near 0 would move an element by 2γ, so the kernel computes both
 * interpolations as fused multiply-adds too (the CPU's FMA, or an exact emulation on CPUs
 * without one), which reproduces torch's rounding.
 * The results equal lion-pytorch's bit for bit on its fixtures.
 *
 * With `stateDtype: 'bfloat16'` or `'int8'` the momentum is stored in 2 or about 1 byte per
 * element (see {@link StateDtype}); each step computes this update in float32 from it and stores
 * it back rounded or block-wise quantized.
 *
 * @example
 * ```ts
 * const opt = new Lion(params, { lr: 1e-4, weightDecay: 0.1 });
 * opt.step();
 * ```
 * @see Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023 ({@link https://arxiv.org/abs/2302.06675 | arXiv:2302.06675}).
 * @see {@link https://github.com/lucidrains/lion-pytorch | lion-pytorch}, the reference followed.
 * @throws TypeError or RangeError for a bad option (negative lr or weightDecay, betas outside
 * [0, 1]), an empty or duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class Lion extends Optimizer<LionGroupOptions> {
  constructor(params: ParamsInput<LionGroupOptions>, options?: LionOptions & CommonOptions & StateDtypeOptions) {
    super(LION_DESCRIPTOR, params, options);
  }
}
