/**
 * `Dropout`: zeroes elements with probability p during training and scales the rest by 1/(1 − p).
 * @module
 */
import { mapNativeError, nnNative } from '../native.js';
import { checkKnownKeys, checkNumber, checkOptions } from '../validate.js';
import { Module, Scratch, checkTensor, type Tensor } from './module.js';
import { boolOption, generatorOption, shapeText } from './options.js';
import type { Generator } from './generator.js';

/**
 * Options of {@link Dropout}.
 * @group Layers and models
 */
export interface DropoutOptions {
  /** The generator that seeds each mask. @defaultValue the default generator */
  generator?: Generator;
}

/**
 * Dropout, as `torch.nn.Dropout`: in training mode y = x·m with m = [u ≥ p]/(1 − p); in
 * evaluation mode the identity.
 *
 * @remarks
 * Each training forward draws one seed from the generator; the mask is a native counter-based
 * hash of (seed, index), so it does not depend on the thread count. Deviation: the masks are not
 * PyTorch's random stream.
 * @example
 * ```ts
 * const drop = new Dropout(0.5);
 * drop.eval(); // identity
 * ```
 * @see https://pytorch.org/docs/stable/generated/torch.nn.Dropout.html
 * @throws TypeError or RangeError unless p is in [0, 1].
 * @group Layers and models
 */
export class Dropout extends Module {
  /** The probability that an element is zeroed in training. */
  readonly p: number;
  /** The generator that seeds each training forward's mask. */
  readonly generator: Generator;
  #mask: Float32Array | null = null;
  #shape: readonly number[] | null = null;
  readonly #y = new Scratch();
  readonly #m = new Scratch();
  readonly #dx = new Scratch();

  constructor(p = 0.5, options: DropoutOptions = {}) {
    super();
    this.p = checkNumber('Dropout', 'p', p, { min: 0, max: 1 });
    const o = checkOptions('Dropout', options);
    checkKnownKeys('Dropout', o, ['generator']);
    this.generator = generatorOption('Dropout', o.generator);
  }

  forward(x: Tensor): Tensor {
    checkTensor('Dropout.forward', 'input', x);
    this.#shape = x.shape;
    if (!this.training || this.p === 0) {
      this.#mask = null;
      return x;
    }
    const y = this.#y.take(x.data.length);
    const m = this.#m.take(x.data.length);
    try {
      nnNative.dropoutForward(x.data, y, m, this.p, this.generator.seed53());
    } catch (e) {
      mapNativeError(e, 'Dropout.forward');
    }
    this.#mask = m;
    return { data: y, shape: x.shape };
  }

  backward(gradOutput: Tensor, needInputGrad = true): Tensor | null {
    if (!this.#shape) throw new RangeError('Dropout.backward: call forward first');
    checkTensor('Dropout.backward', 'gradOutput', gradOutput);
    if (!boolOption('Dropout.backward', 'needInputGrad', needInputGrad, true)) return null;
    const m = this.#mask;
    if (!m) return gradOutput;
    if (gradOutput.data.length !== m.length) throw new RangeError(`Dropout.backward: expected gradOutput of shape ${shapeText(this.#shape)}, received ${shapeText(gradOutput.shape)}`);
    const dx = this.#dx.take(m.length);
    try {
      nnNative.dropoutBackward(gradOutput.data, m, dx);
    } catch (e) {
      mapNativeError(e, 'Dropout.backward');
    }
    return { data: dx, shape: this.#shape };
  }

  override toString(): string {
    return `Dropout(p=${this.p}, inplace=False)`;
  }
}
