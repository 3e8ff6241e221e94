/**
 * `ReLU`: max(x, 0) elementwise.
 * @module
 */
import { mapNativeError, nnNative } from '../native.js';
import { checkKnownKeys, checkOptions } from '../validate.js';
import { Module, Scratch, checkTensor, type Tensor } from './module.js';
import { boolOption, shapeText } from './options.js';

/**
 * Options of {@link ReLU}.
 * @group Layers and models
 */
export interface ReLUOptions {
  /**
   * Overwrite the input (and, in backward, the incoming gradient) instead of using a new buffer.
   * Saves memory traffic; use it only when nothing else needs the pre-activation values.
   * @defaultValue false
   */
  inplace?: boolean;
}

/**
 * The rectified linear unit, as `torch.nn.ReLU`.
 *
 * @remarks
 * ```text
 * y = max(x, 0)   (NaN stays NaN)        dx = dy · [y > 0]
 * ```
 * @example
 * ```ts
 * const relu = new ReLU();
 * relu.forward({ data: Float32Array.of(-1, 2), shape: [2] }).data; // [0, 2]
 * ```
 * @see https://pytorch.org/docs/stable/generated/torch.nn.ReLU.html
 * @throws TypeError for a non-boolean `inplace`; from `forward`/`backward`, TypeError or
 * RangeError for a malformed tensor or a gradient whose shape differs from the output's.
 * @group Layers and models
 */
export class ReLU extends Module {
  /** Whether `forward` overwrites its input instead of writing a buffer of its own. */
  readonly inplace: boolean;
  #y: Tensor | null = null;
  readonly #out = new Scratch();
  readonly #dx = new Scratch();

  constructor(options: ReLUOptions = {}) {
    super();
    const o = checkOptions('ReLU', options);
    checkKnownKeys('ReLU', o, ['inplace']);
    this.inplace = boolOption('ReLU', 'inplace', o.inplace, false);
  }

  forward(x: Tensor): Tensor {
    checkTensor('ReLU.forward', 'input', x);
    const y = this.inplace ? x.data : this.#out.take(x.data.length);
    try {
      nnNative.reluForward(x.data, this.inplace ? null : y);
    } catch (e) {
      mapNativeError(e, 'ReLU.forward');
    }
    this.#y = { data: y, shape: x.shape };
    return this.#y;
  }

  backward(gradOutput: Tensor, needInputGrad = true): Tensor | null {
    const y = this.#y;
    if (!y) throw new RangeError('ReLU.backward: call forward first');
    checkTensor('ReLU.backward', 'gradOutput', gradOutput);
    if (!boolOption('ReLU.backward', 'needInputGrad', needInputGrad, true)) return null;
    if (gradOutput.data.length !== y.data.length) throw new RangeError(`ReLU.backward: expected gradOutput of shape ${shapeText(y.shape)}, received ${shapeText(gradOutput.shape)}`);
    const dx = this.inplace ? gradOutput.data : this.#dx.take(y.data.length);
    try {
      nnNative.reluBackward(y.data, gradOutput.data, this.inplace ? null : dx);
    } catch (e) {
      mapNativeError(e, 'ReLU.backward');
    }
    return { data: dx, shape: y.shape };
  }

  override toString(): string {
    return this.inplace ? 'ReLU(inplace=True)' : 'ReLU()';
  }
}
