/**
 * `Linear`: y = x·Wᵀ + b.
 * @module
 */
import { mapNativeError, nnNative } from '../native.js';
import { Parameter } from '../tensor.js';
import { checkElementCount, checkKnownKeys, checkOptions } from '../validate.js';
import { biasUniformDefault, kaimingUniformDefault } from './init.js';
import { Module, Scratch, checkTensor, type Tensor } from './module.js';
import { boolOption, checkOutputSize, generatorOption, shapeText, size } from './options.js';
import type { Generator } from './generator.js';

/**
 * Options of {@link Linear}.
 * @group Layers and models
 */
export interface LinearOptions {
  /** Whether the layer has a bias. @defaultValue true */
  bias?: boolean;
  /** The generator used to initialise the weights. @defaultValue the default generator ({@link manualSeed}) */
  generator?: Generator;
}

/**
 * A fully connected layer, as `torch.nn.Linear`: input `[N, inFeatures]`, output `[N, outFeatures]`.
 *
 * @remarks
 * ```text
 * y  = x·Wᵀ + b                 W: [out, in], b: [out]
 * dx = dy·W,  dW += dyᵀ·x,  db += Σₙ dy
 * ```
 * Weights start as PyTorch's: W, b ~ U(−1/√in, 1/√in) (`kaiming_uniform_(a=√5)`). The products
 * run natively (matrixmultiply's SIMD kernels, rows split over the thread pool).
 *
 * @example
 * ```ts
 * const fc = new Linear(784, 128);
 * const y = fc.forward({ data: new Float32Array(2 * 784), shape: [2, 784] });
 * ```
 * @see https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
 * @throws TypeError or RangeError unless the sizes are integers >= 1 whose product (the weight's
 * elements) is at most 2^31 − 1 and the options are valid.
 * @group Layers and models
 */
export class Linear extends Module {
  /** Features of each input row. */
  readonly inFeatures: number;
  /** Features of each output row. */
  readonly outFeatures: number;
  #x: Tensor | null = null;
  readonly #y = new Scratch();
  readonly #dx = new Scratch();

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    const o = checkOptions('Linear', options);
    checkKnownKeys('Linear', o, ['bias', 'generator']);
    this.inFeatures = size('Linear', 'inFeatures', inFeatures);
    this.outFeatures = size('Linear', 'outFeatures', outFeatures);
    checkElementCount('Linear', 'inFeatures × outFeatures', inFeatures * outFeatures, `${inFeatures} × ${outFeatures}`);
    const bias = boolOption('Linear', 'bias', o.bias, true);
    const g = generatorOption('Linear', o.generator);
    const w = kaimingUniformDefault(new Float32Array(outFeatures * inFeatures), inFeatures, g);
    this.registerParameter('weight', new Parameter(w, { shape: [outFeatures, inFeatures] }));
    if (bias) this.registerParameter('bias', new Parameter(biasUniformDefault(new Float32Array(outFeatures), inFeatures, g), { shape: [outFeatures] }));
  }

  /** The weight, `[outFeatures, inFeatures]`. */
  get weight(): Parameter {
    return this.param('weight');
  }

  /** The bias, `[outFeatures]`, or undefined. */
  get bias(): Parameter | undefined {
    return this.param('bias');
  }

  forward(x: Tensor): Tensor {
    checkTensor('Linear.forward', 'input', x);
    if (x.shape.length !== 2 || x.shape[1] !== this.inFeatures) {
      throw new RangeError(`Linear.forward: expected input of shape [N, ${this.inFeatures}], received ${shapeText(x.shape)}`);
    }
    const n = x.shape[0]!;
    checkOutputSize('Linear.forward', 'the output', [n, this.outFeatures]);
    const y = this.#y.take(n * this.outFeatures);
    try {
      nnNative.linearForward(x.data, this.weight.data, this.bias?.data ?? null, y, n, this.inFeatures, this.outFeatures);
    } catch (e) {
      mapNativeError(e, 'Linear.forward');
    }
    this.#x = x;
    return { data: y, shape: [n, this.outFeatures] };
  }

  backward(gradOutput: Tensor, needInputGrad = true): Tensor | null {
    const x = this.#x;
    if (!x) throw new RangeError('Linear.backward: call forward first');
    checkTensor('Linear.backward', 'gradOutput', gradOutput);
    boolOption('Linear.backward', 'needInputGrad', needInputGrad, true);
    const n = x.shape[0]!;
    if (gradOutput.data.length !== n * this.outFeatures) {
      throw new RangeError(`Linear.backward: expected gradOutput of shape [${n}, ${this.outFeatures}], received ${shapeText(gradOutput.shape)}`);
    }
    const dx = needInputGrad ? this.#dx.take(n * this.inFeatures) : null;
    const w = this.weight;
    const b = this.bias;
    try {
      nnNative.linearBackward(x.data, w.data, gradOutput.data, dx, w.grad, b?.grad ?? null, n, this.inFeatures, this.outFeatures);
    } catch (e) {
      mapNativeError(e, 'Linear.backward');
    }
    return dx ? { data: dx, shape: x.shape } : null;
  }

  override toString(): string {
    return `Linear(in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias !== undefined})`;
  }
}
