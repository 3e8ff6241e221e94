/**
 * `Flatten`: reshapes `[N, d1, d2, ...]` to `[N, d1·d2·...]` without copying.
 * @module
 */
import { checkKnownKeys, checkNumber, checkOptions, option } from '../validate.js';
import { Module, checkTensor, type Tensor } from './module.js';
import { boolOption, shapeText } from './options.js';

/**
 * Options of {@link Flatten}.
 * @group Layers and models
 */
export interface FlattenOptions {
  /** First dimension to flatten. @defaultValue 1 */
  startDim?: number;
  /** Last dimension to flatten (negative counts from the end). @defaultValue -1 */
  endDim?: number;
}

/**
 * Flattens a range of dimensions into one, as `torch.nn.Flatten`; a view, no copy.
 * @example
 * ```ts
 * new Flatten().forward({ data: new Float32Array(2 * 64 * 7 * 7), shape: [2, 64, 7, 7] }).shape; // [2, 3136]
 * ```
 * @see https://pytorch.org/docs/stable/generated/torch.nn.Flatten.html
 * @throws TypeError or RangeError for non-integer dimensions, and from `forward` when they do
 * not fit the input's rank.
 * @group Layers and models
 */
export class Flatten extends Module {
  /** The first dimension flattened (negative counts from the end). */
  readonly startDim: number;
  /** The last dimension flattened, inclusive (negative counts from the end). */
  readonly endDim: number;
  #inShape: readonly number[] | null = null;

  constructor(options: FlattenOptions = {}) {
    super();
    const o = checkOptions('Flatten', options);
    checkKnownKeys('Flatten', o, ['startDim', 'endDim']);
    this.startDim = checkNumber('Flatten', 'startDim', option(o.startDim, 1), { integer: true });
    this.endDim = checkNumber('Flatten', 'endDim', option(o.endDim, -1), { integer: true });
  }

  forward(x: Tensor): Tensor {
    checkTensor('Flatten.forward', 'input', x);
    const r = x.shape.length;
    const s = this.startDim < 0 ? this.startDim + r : this.startDim;
    const e = this.endDim < 0 ? this.endDim + r : this.endDim;
    if (s < 0 || e >= r || s > e) {
      throw new RangeError(`Flatten.forward: dimensions ${this.startDim}..${this.endDim} do not fit an input of shape ${shapeText(x.shape)}`);
    }
    const mid = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
    this.#inShape = x.shape;
    return { data: x.data, shape: [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)] };
  }

  backward(gradOutput: Tensor, needInputGrad = true): Tensor | null {
    const s = this.#inShape;
    if (!s) throw new RangeError('Flatten.backward: call forward first');
    checkTensor('Flatten.backward', 'gradOutput', gradOutput);
    if (!boolOption('Flatten.backward', 'needInputGrad', needInputGrad, true)) return null;
    return { data: gradOutput.data, shape: s };
  }

  override toString(): string {
    return `Flatten(start_dim=${this.startDim}, end_dim=${this.endDim})`;
  }
}
