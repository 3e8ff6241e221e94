/**
 * Adam and AdamW: one fused kernel, coupled or decoupled weight decay.
 * @module
 */
import { betas, defaultsOf, flag, nonNegative, type OptimizerDescriptor } from './descriptor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';
import { STATE_DTYPES, type StateDtypeOptions } from './state-dtype.js';

/**
 * Options of {@link Adam} and {@link AdamW}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
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

/**
 * The resolved options of an Adam or AdamW param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type AdamGroupOptions = Required<AdamOptions>;

const ADAM_OPTIONS: OptimizerDescriptor<AdamGroupOptions>['options'] = {
  lr: nonNegative(1e-3),
  betas: betas(0.9, 0.999),
  eps: nonNegative(1e-8),
  weightDecay: nonNegative(0),
  amsgrad: flag(),
  maximize: flag(),
};

/** Adam: the `adam` kernel with coupled weight decay. */
export const ADAM_DESCRIPTOR: OptimizerDescriptor<AdamGroupOptions> = {
  name: 'Adam',
  kernel: 'adam',
  options: ADAM_OPTIONS,
  fixed: { decoupled: 0 },
  slots: ['expAvg', 'expAvgSq', 'maxExpAvgSq'],
  stateDtypes: STATE_DTYPES,
  reference: { implementation: 'torch.optim.Adam', url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.Adam.html', paper: 'Kingma and Ba, ICLR 2015', fixture: 'adam.json' },
};

/** AdamW: the `adam` kernel with decoupled weight decay, default 1e-2. */
export const ADAMW_DESCRIPTOR: OptimizerDescriptor<AdamGroupOptions> = {
  ...ADAM_DESCRIPTOR,
  name: 'AdamW',
  options: { ...ADAM_OPTIONS, weightDecay: nonNegative(1e-2) },
  fixed: { decoupled: 1 },
  reference: { implementation: 'torch.optim.AdamW', url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.AdamW.html', paper: 'Loshchilov and Hutter, ICLR 2019', fixture: 'adamw.json' },
};

/**
 * PyTorch 2.x defaults of Adam. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADAM_DEFAULTS.betas; // [0.9, 0.999]
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const ADAM_DEFAULTS: Readonly<AdamGroupOptions> = defaultsOf(ADAM_DESCRIPTOR);

/**
 * PyTorch 2.x defaults of AdamW: Adam's, with weight decay 1e-2.
 * @example
 * ```ts
 * ADAMW_DEFAULTS.weightDecay; // 0.01
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const ADAMW_DEFAULTS: Readonly<AdamGroupOptions> = defaultsOf(ADAMW_DESCRIPTOR);

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
 * `stateDtype: 'bfloat16'` or `'int8'` stores the state in 2 or about 1 byte per element
 * instead of 4 (see {@link StateDtype}): each step loads it to float32, computes this update
 * exactly, and stores it rounded (bfloat16, nearest even) or block-wise quantized (int8, one
 * absmax per 256 elements, as bitsandbytes' and torchao's 8-bit optimizers). A state dict holds
 * the compact form and loads only into an optimizer with the same `stateDtype`.
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
 * outside [0, 1); a stateDtype other than 'float32', 'bfloat16' or 'int8'), an empty or
 * duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class Adam extends Optimizer<AdamGroupOptions> {
  constructor(params: ParamsInput<AdamGroupOptions>, options?: AdamOptions & CommonOptions & StateDtypeOptions) {
    super(ADAM_DESCRIPTOR, params, options);
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
 * `stateDtype: 'bfloat16'` or `'int8'` stores the state in 2 or about 1 byte per element
 * instead of 4 (see {@link StateDtype}): each step loads it to float32, computes this update
 * exactly, and stores it rounded (bfloat16, nearest even) or block-wise quantized (int8, one
 * absmax per 256 elements, as bitsandbytes' and torchao's 8-bit optimizers). A state dict holds
 * the compact form and loads only into an optimizer with the same `stateDtype`.
 * `new AdamW(params, { lr, stateDtype: 'int8' })` is torchao's `AdamW8bit` (block size 256),
 * except that every tensor is quantized (torchao keeps tensors under 4096 elements, or not a
 * multiple of 256, in float32) and a partial last block has its own absmax.
 *
 * @example
 * ```ts
 * const opt = new AdamW(params, { lr: 3e-4, weightDecay: 0.1 });
 * const small = new AdamW(params, { lr: 3e-4, stateDtype: 'int8' }); // 8-bit state
 * ```
 * @see Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.AdamW.html | torch.optim.AdamW}
 * @see Dettmers et al., "8-bit Optimizers via Block-wise Quantization", ICLR 2022 (`stateDtype: 'int8'`).
 * @throws TypeError or RangeError as {@link Adam}.
 * @group Optimizers
 * @category Classes
 */
export class AdamW extends Optimizer<AdamGroupOptions> {
  constructor(params: ParamsInput<AdamGroupOptions>, options?: AdamOptions & CommonOptions & StateDtypeOptions) {
    super(ADAMW_DESCRIPTOR, params, options);
  }
}
