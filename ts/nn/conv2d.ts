/**
 * `Conv2d`: 2-D convolution (cross-correlation) over `[N, C, H, W]`.
 * @module
 */
import { mapNativeError, nnNative } from '../native.js';
import { Parameter } from '../tensor.js';
import { checkElementCount, checkKnownKeys, checkOptions, describeValue, option } from '../validate.js';
import { biasUniformDefault, kaimingUniformDefault } from './init.js';
import { Module, Scratch, checkTensor, isShape, type Tensor } from './module.js';
import { boolOption, checkOutputSize, generatorOption, pair, shapeText, size, type Size2 } from './options.js';
import type { Generator } from './generator.js';
import type { MaxPool2d } from './max-pool2d.js';

/**
 * Options of {@link Conv2d}.
 * @group Layers and models
 */
export interface Conv2dOptions {
  /** Step of the window. @defaultValue 1 */
  stride?: Size2;
  /** Zeros added on each side. @defaultValue 0 */
  padding?: Size2;
  /** Spacing between kernel taps. @defaultValue 1 */
  dilation?: Size2;
  /** Whether the layer has a bias. @defaultValue true */
  bias?: boolean;
  /** The generator used to initialise the weights. @defaultValue the default generator */
  generator?: Generator;
}

/**
 * A 2-D convolution, as `torch.nn.Conv2d` with `groups=1` and zero padding.
 *
 * @remarks
 * ```text
 * y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, c]          W: [out, in, kh, kw]
 * OH = ⌊(H + 2·padding − dilation·(kh − 1) − 1) / stride⌋ + 1
 * ```
 * Computed natively as im2col + GEMM per image, images spread over the thread pool; the weight
 * and bias gradients are summed per fixed chunk of images, so they do not depend on the thread
 * count. Weights start as PyTorch's: U(−1/√fanIn, 1/√fanIn), fanIn = in·kh·kw.
 *
 * @example
 * ```ts
 * const conv = new Conv2d(1, 32, 3, { padding: 1 });
 * const y = conv.forward({ data: new Float32Array(28 * 28), shape: [1, 1, 28, 28] }); // [1, 32, 28, 28]
 * ```
 * @see https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
 * @throws TypeError or RangeError for sizes that are not positive integers, weights of more than
 * 2^31 − 1 elements, or invalid options; from `forward`, for an input of the wrong shape or an
 * output (or padded image, or im2col matrix) of more than 2^31 − 1 elements.
 * @group Layers and models
 */
export class Conv2d extends Module {
  /** Channels of the input, `C` in `[N, C, H, W]`. */
  readonly inChannels: number;
  /** Channels of the output (the number of filters). */
  readonly outChannels: number;
  /** The kernel's `[height, width]`. */
  readonly kernelSize: [number, number];
  /** The step between kernel positions, `[height, width]`. */
  readonly stride: [number, number];
  /** Zeros added on each side of the input, `[height, width]`. */
  readonly padding: [number, number];
  /** The spacing between kernel elements, `[height, width]`. */
  readonly dilation: [number, number];
  #x: Tensor | null = null;
  readonly #y = new Scratch();
  readonly #dx = new Scratch();

  constructor(inChannels: number, outChannels: number, kernelSize: Size2, options: Conv2dOptions = {}) {
    super();
    const o = checkOptions('Conv2d', options);
    checkKnownKeys('Conv2d', o, ['stride', 'padding', 'dilation', 'bias', 'generator']);
    this.inChannels = size('Conv2d', 'inChannels', inChannels);
    this.outChannels = size('Conv2d', 'outChannels', outChannels);
    this.kernelSize = pair('Conv2d', 'kernelSize', kernelSize, 1);
    this.stride = pair('Conv2d', 'stride', option(o.stride, 1), 1);
    this.padding = pair('Conv2d', 'padding', option(o.padding, 0), 0);
    this.dilation = pair('Conv2d', 'dilation', option(o.dilation, 1), 1);
    const bias = boolOption('Conv2d', 'bias', o.bias, true);
    const g = generatorOption('Conv2d', o.generator);
    const fanIn = inChannels * this.kernelSize[0] * this.kernelSize[1];
    checkElementCount('Conv2d', 'the weight\'s elements outChannels × inChannels × kernelSize', outChannels * fanIn, `${outChannels} × ${inChannels} × ${this.kernelSize.join(' × ')}`);
    const w = kaimingUniformDefault(new Float32Array(outChannels * fanIn), fanIn, g);
    this.registerParameter('weight', new Parameter(w, { shape: [outChannels, inChannels, ...this.kernelSize] }));
    if (bias) this.registerParameter('bias', new Parameter(biasUniformDefault(new Float32Array(outChannels), fanIn, g), { shape: [outChannels] }));
  }

  /** The filters, `[outChannels, inChannels, kernelHeight, kernelWidth]`. */
  get weight(): Parameter {
    return this.param('weight');
  }

  /** The bias, `[outChannels]`, or undefined when built with `bias: false`. */
  get bias(): Parameter | undefined {
    return this.param('bias');
  }

  /** The output shape for an input shape `[N, C, H, W]`. */
  outputShape(inputShape: readonly number[]): [number, number, number, number] {
    if (!isShape(inputShape)) throw new TypeError(`Conv2d.outputShape: expected inputShape to be an array of integers >= 0, received ${describeValue(inputShape)}`);
    return this.#outputShape('Conv2d.outputShape', inputShape);
  }

  #outputShape(ctx: string, inputShape: readonly number[]): [number, number, number, number] {
    const [n, c, h, w] = inputShape as [number, number, number, number];
    if (inputShape.length !== 4 || c !== this.inChannels) {
      throw new RangeError(`${ctx}: expected input of shape [N, ${this.inChannels}, H, W], received ${shapeText(inputShape)}`);
    }
    const size = (x: number, a: 0 | 1) => Math.floor((x + 2 * this.padding[a] - this.dilation[a] * (this.kernelSize[a] - 1) - 1) / this.stride[a]) + 1;
    const oh = size(h, 0);
    const ow = size(w, 1);
    if (oh < 1 || ow < 1) {
      throw new RangeError(`${ctx}: the kernel ${shapeText(this.kernelSize)} (dilation ${shapeText(this.dilation)}) is larger than the padded input ${h}x${w} (padding ${shapeText(this.padding)})`);
    }
    return [n, this.outChannels, oh, ow];
  }

  #geometry(shape: readonly number[]) {
    return {
      batch: shape[0]!,
      inChannels: this.inChannels,
      height: shape[2]!,
      width: shape[3]!,
      outChannels: this.outChannels,
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
    };
  }

  forward(x: Tensor): Tensor {
    const shape = this.#checkForward(x);
    const y = this.#y.take(shape[0] * shape[1] * shape[2] * shape[3]);
    try {
      nnNative.conv2dForward(x.data, this.weight.data, this.bias?.data ?? null, y, this.#geometry(x.shape));
    } catch (e) {
      mapNativeError(e, 'Conv2d.forward');
    }
    this.#x = x;
    return { data: y, shape };
  }

  /**
   * `pool.forwardAfterRelu(this.forward(x))` bit for bit, without writing this layer's output
   * (each image's stays in cache between the product and the pool): `Sequential` runs a Conv2d,
   * a ReLU and a MaxPool2d so. Only {@link Conv2d.backwardThroughReluPool} gives the three
   * layers' gradient afterwards.
   * @internal
   */
  forwardThroughReluPool(x: Tensor, pool: MaxPool2d): Tensor {
    const shape = this.#checkForward(x);
    const y = pool.forwardFused(shape, (out, indices, poolGeometry) => {
      try {
        nnNative.conv2dReluMaxPool2dForward(x.data, this.weight.data, this.bias?.data ?? null, out, indices, this.#geometry(x.shape), poolGeometry);
      } catch (e) {
        mapNativeError(e, 'Conv2d.forward');
      }
    });
    this.#x = x;
    return y;
  }

  /** The output shape for input `x`, after the checks of `forward`. */
  #checkForward(x: Tensor): [number, number, number, number] {
    checkTensor('Conv2d.forward', 'input', x);
    const shape = this.#outputShape('Conv2d.forward', x.shape);
    // The native kernel also allocates, per image, the padded image and the im2col matrix.
    const [, c, h, w] = x.shape as [number, number, number, number];
    checkOutputSize('Conv2d.forward', 'the output', shape);
    checkOutputSize('Conv2d.forward', 'the padded image', [c, h + 2 * this.padding[0], w + 2 * this.padding[1]]);
    checkOutputSize('Conv2d.forward', 'the im2col matrix', [c * this.kernelSize[0] * this.kernelSize[1], shape[2] * shape[3]]);
    return shape;
  }

  backward(gradOutput: Tensor, needInputGrad = true): Tensor | null {
    const x = this.#backwardInput();
    checkTensor('Conv2d.backward', 'gradOutput', gradOutput);
    boolOption('Conv2d.backward', 'needInputGrad', needInputGrad, true);
    const shape = this.#outputShape('Conv2d.backward', x.shape);
    if (gradOutput.data.length !== shape[0] * shape[1] * shape[2] * shape[3]) {
      throw new RangeError(`Conv2d.backward: expected gradOutput of shape ${shapeText(shape)}, received ${shapeText(gradOutput.shape)}`);
    }
    const dx = needInputGrad ? this.#dx.take(x.data.length) : null;
    const w = this.weight;
    try {
      nnNative.conv2dBackward(x.data, w.data, gradOutput.data, dx, w.grad, this.bias?.grad ?? null, this.#geometry(x.shape));
    } catch (e) {
      mapNativeError(e, 'Conv2d.backward');
    }
    return dx ? { data: dx, shape: x.shape } : null;
  }

  /**
   * The gradient of this layer, a ReLU and `pool` after {@link Conv2d.forwardThroughReluPool},
   * from the pool's output gradient: the bits of `pool.backwardThroughRelu` followed by
   * `backward`, without writing the gradient at this layer's output.
   * @internal
   */
  backwardThroughReluPool(gradOutput: Tensor, pool: MaxPool2d, needInputGrad = true): Tensor | null {
    const x = this.#backwardInput();
    boolOption('Conv2d.backward', 'needInputGrad', needInputGrad, true);
    const dx = needInputGrad ? this.#dx.take(x.data.length) : null;
    const w = this.weight;
    pool.backwardFused(gradOutput, (dy, indices, y, poolGeometry) => {
      try {
        nnNative.conv2dReluMaxPool2dBackward(x.data, w.data, dy, indices, y, dx, w.grad, this.bias?.grad ?? null, this.#geometry(x.shape), poolGeometry);
      } catch (e) {
        mapNativeError(e, 'Conv2d.backward');
      }
    });
    return dx ? { data: dx, shape: x.shape } : null;
  }

  /** The last forward's input. */
  #backwardInput(): Tensor {
    const x = this.#x;
    if (!x) throw new RangeError('Conv2d.backward: call forward first');
    return x;
  }

  override toString(): string {
    const extra = [
      this.stride.some((s) => s !== 1) ? `, stride=(${this.stride.join(', ')})` : '',
      this.padding.some((s) => s !== 0) ? `, padding=(${this.padding.join(', ')})` : '',
      this.dilation.some((s) => s !== 1) ? `, dilation=(${this.dilation.join(', ')})` : '',
      this.bias ? '' : ', bias=False',
    ].join('');
    return `Conv2d(${this.inChannels}, ${this.outChannels}, kernel_size=(${this.kernelSize.join(', ')})${extra})`;
  }
}
