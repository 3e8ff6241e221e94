/**
 * `MaxPool2d`: the maximum over each window of each plane.
 * @module
 */
import { mapNativeError, nnNative, type Pool2dGeometry } from '../native.js';
import { checkKnownKeys, checkOptions, describeValue, option } from '../validate.js';
import { Module, Scratch, checkTensor, isShape, type Tensor } from './module.js';
import { boolOption, checkOutputSize, pair, shapeText, type Size2 } from './options.js';

/**
 * Options of {@link MaxPool2d}.
 * @group Layers and models
 */
export interface MaxPool2dOptions {
  /** Step of the window. @defaultValue kernelSize */
  stride?: Size2;
  /** −∞ padding on each side, at most half the kernel. @defaultValue 0 */
  padding?: Size2;
  /** Spacing between window taps. @defaultValue 1 */
  dilation?: Size2;
  /** Only `false` (floor) is supported. @defaultValue false */
  ceilMode?: boolean;
}

/**
 * Max pooling, as `torch.nn.MaxPool2d` (floor mode).
 *
 * @remarks
 * ```text
 * y[n, c, i, j] = max over the window at (i·stride − padding, j·stride − padding)
 * dx routes each dy to its window's maximum (the first one on ties; a NaN wins)
 * ```
 * @example
 * ```ts
 * const pool = new MaxPool2d(2); // [N, C, 28, 28] → [N, C, 14, 14]
 * ```
 * @see https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html
 * @throws TypeError or RangeError for invalid sizes, padding over half the kernel, or ceilMode true.
 * @group Layers and models
 */
export class MaxPool2d extends Module {
  /** The pooling window's `[height, width]`. */
  readonly kernelSize: [number, number];
  /** The step between windows, `[height, width]` (defaults to the kernel size). */
  readonly stride: [number, number];
  /** Implicit −∞ padding on each side, `[height, width]`. */
  readonly padding: [number, number];
  /** The spacing between window elements, `[height, width]`. */
  readonly dilation: [number, number];
  #inShape: readonly number[] | null = null;
  #indices = new Int32Array(0);
  /** The output of the last forward when it ran with the ReLU fused in, else null. */
  #reluOutput: Float32Array | null = null;
  readonly #y = new Scratch();
  readonly #dx = new Scratch();

  constructor(kernelSize: Size2, options: MaxPool2dOptions = {}) {
    super();
    const o = checkOptions('MaxPool2d', options);
    checkKnownKeys('MaxPool2d', o, ['stride', 'padding', 'dilation', 'ceilMode']);
    this.kernelSize = pair('MaxPool2d', 'kernelSize', kernelSize, 1);
    this.stride = pair('MaxPool2d', 'stride', option(o.stride, kernelSize), 1);
    this.padding = pair('MaxPool2d', 'padding', option(o.padding, 0), 0);
    this.dilation = pair('MaxPool2d', 'dilation', option(o.dilation, 1), 1);
    if (o.ceilMode !== undefined && o.ceilMode !== false) {
      throw new RangeError(`MaxPool2d: only ceilMode false is supported, received ${describeValue(o.ceilMode)}`);
    }
    for (const a of [0, 1] as const) {
      if (this.padding[a] > this.kernelSize[a] / 2) {
        throw new RangeError(`MaxPool2d: expected padding to be at most half the kernel size, received padding ${shapeText(this.padding)} for kernelSize ${shapeText(this.kernelSize)}`);
      }
    }
  }

  /** The output shape for an input shape `[N, C, H, W]`. */
  outputShape(inputShape: readonly number[]): [number, number, number, number] {
    if (!isShape(inputShape)) throw new TypeError(`MaxPool2d.outputShape: expected inputShape to be an array of integers >= 0, received ${describeValue(inputShape)}`);
    return this.#outputShape('MaxPool2d.outputShape', inputShape);
  }

  #outputShape(ctx: string, s: readonly number[]): [number, number, number, number] {
    if (s.length !== 4) throw new RangeError(`${ctx}: expected input of shape [N, C, H, W], received ${shapeText(s)}`);
    const oh = this.#outSize(s[2]!, 0);
    const ow = this.#outSize(s[3]!, 1);
    if (oh < 1 || ow < 1) throw new RangeError(`${ctx}: the window ${shapeText(this.kernelSize)} is larger than the padded input ${s[2]}x${s[3]}`);
    return [s[0]!, s[1]!, oh, ow];
  }

  /** Windows along axis `a` (0: height, 1: width) of an input `x` long. */
  #outSize(x: number, a: 0 | 1): number {
    return Math.floor((x + 2 * this.padding[a] - this.dilation[a] * (this.kernelSize[a] - 1) - 1) / this.stride[a]) + 1;
  }

  #geometry(s: readonly number[]): Pool2dGeometry {
    return { batch: s[0]!, channels: s[1]!, height: s[2]!, width: s[3]!, kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, dilation: this.dilation };
  }

  forward(x: Tensor): Tensor {
    return this.#forward(x, false);
  }

  /**
   * `forward(relu(x))` bit for bit in one pass, without writing relu(x): `Sequential` runs a ReLU
   * followed by this pool so. The pool takes the argmax of x itself, so only
   * {@link MaxPool2d.backwardThroughRelu} gives the pair's gradient afterwards.
   * @internal
   */
  forwardAfterRelu(x: Tensor): Tensor {
    return this.#forward(x, true);
  }

  /**
   * Whether {@link MaxPool2d.forwardAfterRelu} can stand in for ReLU then this pool on an input of
   * `shape`: every window must hold an input element (an all-padding window routes its gradient
   * to element 0 unfused, which the fused backward cannot see), which holds without padding.
   * @internal
   */
  fusesReluFor(shape: readonly number[]): boolean {
    if (shape.length !== 4) return false;
    for (const a of [0, 1] as const) {
      const [n, k, st, p, d] = [shape[2 + a]!, this.kernelSize[a], this.stride[a], this.padding[a], this.dilation[a]];
      if (p === 0) continue;
      for (let o = 0; o < this.#outSize(n, a); o++) {
        let hit = false;
        for (let j = 0; j < k && !hit; j++) {
          const i = o * st - p + j * d;
          hit = i >= 0 && i < n;
        }
        if (!hit) return false;
      }
    }
    return true;
  }

  #forward(x: Tensor, relu: boolean): Tensor {
    checkTensor('MaxPool2d.forward', 'input', x);
    return this.#pool(x.shape, relu, (y, indices, geometry) => {
      try {
        nnNative.maxPool2dForward(x.data, y, indices, geometry, relu);
      } catch (e) {
        mapNativeError(e, 'MaxPool2d.forward');
      }
    });
  }

  /**
   * The pool's output after {@link MaxPool2d.forwardAfterRelu} on an input of `inShape` that is
   * never written: `run` fills the output and the indices (a Conv2d's fused call does, with the
   * convolution computed on the fly); {@link MaxPool2d.backwardFused} then hands them back.
   * @internal
   */
  forwardFused(inShape: readonly number[], run: (y: Float32Array, indices: Int32Array, geometry: Pool2dGeometry) => void): Tensor {
    return this.#pool(inShape, true, run);
  }

  #pool(inShape: readonly number[], relu: boolean, run: (y: Float32Array, indices: Int32Array, geometry: Pool2dGeometry) => void): Tensor {
    const shape = this.#outputShape('MaxPool2d.forward', inShape);
    checkOutputSize('MaxPool2d.forward', 'the output', shape);
    const n = shape[0] * shape[1] * shape[2] * shape[3];
    const y = this.#y.take(n);
    if (this.#indices.length < n) this.#indices = new Int32Array(n);
    run(y, this.#indices.subarray(0, n), this.#geometry(inShape));
    this.#inShape = inShape;
    this.#reluOutput = relu ? y : null;
    return { data: y, shape };
  }

  backward(gradOutput: Tensor, needInputGrad = true): Tensor | null {
    return this.#backward(gradOutput, needInputGrad, null);
  }

  /**
   * The gradient of ReLU then this pool after {@link MaxPool2d.forwardAfterRelu}: dy passes to
   * each window's argmax only where the output is > 0, as the pool's backward followed by the
   * ReLU's gives bit for bit.
   * @internal
   */
  backwardThroughRelu(gradOutput: Tensor, needInputGrad = true): Tensor | null {
    const y = this.#reluOutput;
    if (!y) throw new RangeError('MaxPool2d.backwardThroughRelu: call forwardAfterRelu first');
    return this.#backward(gradOutput, needInputGrad, y);
  }

  #backward(gradOutput: Tensor, needInputGrad: boolean, reluOutput: Float32Array | null): Tensor | null {
    const s = this.#inShape;
    if (!s) throw new RangeError('MaxPool2d.backward: call forward first');
    checkTensor('MaxPool2d.backward', 'gradOutput', gradOutput);
    if (!boolOption('MaxPool2d.backward', 'needInputGrad', needInputGrad, true)) return null;
    const indices = this.#checkGradOutput(s, gradOutput);
    const dx = this.#dx.take(s.reduce((a, b) => a * b, 1));
    try {
      nnNative.maxPool2dBackward(gradOutput.data, indices, dx, this.#geometry(s), reluOutput);
    } catch (e) {
      mapNativeError(e, 'MaxPool2d.backward');
    }
    return { data: dx, shape: s };
  }

  /**
   * After {@link MaxPool2d.forwardFused}: checks `gradOutput` as `backwardThroughRelu` does and
   * calls `run` with it, the forward's indices and output, and the geometry, for the fused
   * caller to form the gradient at the pool's input itself.
   * @internal
   */
  backwardFused(gradOutput: Tensor, run: (dy: Float32Array, indices: Int32Array, y: Float32Array, geometry: Pool2dGeometry) => void): void {
    const [s, y] = [this.#inShape, this.#reluOutput];
    if (!s || !y) throw new RangeError('MaxPool2d.backwardThroughRelu: call forwardAfterRelu first');
    checkTensor('MaxPool2d.backward', 'gradOutput', gradOutput);
    run(gradOutput.data, this.#checkGradOutput(s, gradOutput), y, this.#geometry(s));
  }

  /** The forward's indices, after checking that `gradOutput` has the output's size. */
  #checkGradOutput(s: readonly number[], gradOutput: Tensor): Int32Array {
    const shape = this.#outputShape('MaxPool2d.backward', s);
    const n = shape[0] * shape[1] * shape[2] * shape[3];
    if (gradOutput.data.length !== n) throw new RangeError(`MaxPool2d.backward: expected gradOutput of shape ${shapeText(shape)}, received ${shapeText(gradOutput.shape)}`);
    return this.#indices.subarray(0, n);
  }

  override toString(): string {
    return `MaxPool2d(kernel_size=${this.kernelSize[0]}, stride=${this.stride[0]}, padding=${this.padding[0]}, dilation=${this.dilation[0]}, ceil_mode=False)`;
  }
}
