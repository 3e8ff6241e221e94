/**
 * `CrossEntropyLoss`: log-softmax and negative log-likelihood fused, mean over the batch.
 * @module
 */
import { mapNativeError, nnNative } from '../native.js';
import { checkKnownKeys, checkNumber, checkOptions, describeValue, option } from '../validate.js';
import { Scratch, checkTensor, type Tensor } from './module.js';
import { boolOption, shapeText } from './options.js';

/**
 * Options of {@link CrossEntropyLoss}.
 * @group Layers and models
 */
export interface CrossEntropyLossOptions {
  /** Targets equal to this are left out of the loss and of the mean. @defaultValue -100 */
  ignoreIndex?: number;
  /** Only `'mean'` is supported. @defaultValue 'mean' */
  reduction?: 'mean';
}

/**
 * Class labels: an Int32Array, a Uint8Array (as MNIST's), or an array of integers.
 * @group Layers and models
 */
export type Targets = Int32Array | Uint8Array | readonly number[];

/**
 * Cross-entropy over class indices, as `torch.nn.CrossEntropyLoss` with mean reduction.
 *
 * @remarks
 * ```text
 * ℓₙ = logsumexp(zₙ) − zₙ[tₙ]        L = mean of ℓₙ over targets ≠ ignoreIndex
 * ∂L/∂zₙ = (softmax(zₙ) − onehot(tₙ)) / count
 * ```
 * One native pass computes the loss and, in training, the gradient; `backward()` returns it.
 *
 * @example
 * ```ts
 * const lossFn = new CrossEntropyLoss();
 * const loss = lossFn.forward(logits, labels); // a number
 * model.backward(lossFn.backward());
 * ```
 * @see https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html
 * @throws TypeError or RangeError for bad options, shapes, or a target outside [0, classes).
 * @group Layers and models
 */
export class CrossEntropyLoss {
  /** Targets equal to this are left out of the loss and of the mean. */
  readonly ignoreIndex: number;
  #grad: Tensor | null = null;
  readonly #d = new Scratch();
  #targets = new Int32Array(0);

  constructor(options: CrossEntropyLossOptions = {}) {
    const o = checkOptions('CrossEntropyLoss', options);
    checkKnownKeys('CrossEntropyLoss', o, ['ignoreIndex', 'reduction']);
    this.ignoreIndex = checkNumber('CrossEntropyLoss', 'ignoreIndex', option(o.ignoreIndex, -100), { integer: true, min: -2147483648, max: 2147483647 });
    if (o.reduction !== undefined && o.reduction !== 'mean') {
      throw new RangeError(`CrossEntropyLoss: only reduction 'mean' is supported, received ${describeValue(o.reduction)}`);
    }
  }

  /**
   * The mean loss of `logits` `[N, C]` against `targets` (N class indices). Also computes the
   * gradient for {@link backward} unless `computeGrad` is false.
   */
  forward(logits: Tensor, targets: Targets, computeGrad = true): number {
    checkTensor('CrossEntropyLoss.forward', 'logits', logits);
    boolOption('CrossEntropyLoss.forward', 'computeGrad', computeGrad, true);
    if (logits.shape.length !== 2) throw new RangeError(`CrossEntropyLoss.forward: expected logits of shape [N, C], received ${shapeText(logits.shape)}`);
    const [n, c] = logits.shape as [number, number];
    const t = this.#asInt32(targets, n);
    const d = computeGrad ? this.#d.take(n * c) : null;
    let loss = NaN;
    try {
      loss = nnNative.crossEntropy(logits.data, t, n, c, this.ignoreIndex, d);
    } catch (e) {
      mapNativeError(e, 'CrossEntropyLoss.forward');
    }
    this.#grad = d ? { data: d, shape: [n, c] } : null;
    return loss;
  }

  /** ∂L/∂logits of the last `forward` (valid until the next one). */
  backward(): Tensor {
    if (!this.#grad) throw new RangeError('CrossEntropyLoss.backward: call forward (with computeGrad) first');
    return this.#grad;
  }

  #asInt32(targets: Targets, n: number): Int32Array {
    if (targets instanceof Int32Array) {
      if (targets.length !== n) throw new RangeError(`CrossEntropyLoss.forward: expected ${n} targets, received ${targets.length}`);
      return targets;
    }
    if (!(targets instanceof Uint8Array) && !Array.isArray(targets)) {
      throw new TypeError(`CrossEntropyLoss.forward: expected targets to be an Int32Array, a Uint8Array or an array of integers, received ${describeValue(targets)}`);
    }
    if (targets.length !== n) throw new RangeError(`CrossEntropyLoss.forward: expected ${n} targets, received ${targets.length}`);
    if (this.#targets.length !== n) this.#targets = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = targets[i]!;
      if (!Number.isInteger(v)) throw new TypeError(`CrossEntropyLoss.forward: expected targets[${i}] to be an integer, received ${describeValue(v)}`);
      this.#targets[i] = v;
    }
    return this.#targets;
  }
}
