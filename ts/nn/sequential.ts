/**
 * `Sequential`: modules applied in order; backward runs them in reverse.
 * @module
 */
import { checkNumber, describeValue } from '../validate.js';
import { Conv2d } from './conv2d.js';
import { MaxPool2d } from './max-pool2d.js';
import { Module, checkTensor, type Tensor } from './module.js';
import { ReLU } from './relu.js';
import { boolOption } from './options.js';

/**
 * A chain of modules, as `torch.nn.Sequential`. Parameters are named by position:
 * `0.weight`, `0.bias`, `3.weight`, ...
 *
 * @example
 * ```ts
 * const model = new Sequential(new Linear(784, 128), new ReLU(), new Linear(128, 10));
 * model.parameters().map((p) => p.name); // ['0.weight', '0.bias', '2.weight', '2.bias']
 * ```
 * @remarks
 * A {@link ReLU} directly followed by a {@link MaxPool2d} runs as one pass each way (the pool
 * takes the max of the ReLU's input and applies the ReLU to it; the backward gates the pool's
 * gradient by its output), with the bits of running the two one after the other. The ReLU's own
 * forward and backward are not called then, and an inplace ReLU leaves its input as it was
 * (nothing reads it afterwards), except as the first module, where the input is the caller's.
 * When a {@link Conv2d} comes right before such a pair, the three run as one pass each way with
 * the same bits: each image's convolution output, and its gradient, stays in cache between the
 * convolution and the pool instead of being written out for the batch.
 * @see https://pytorch.org/docs/stable/generated/torch.nn.Sequential.html
 * @throws TypeError if an argument is not a Module; RangeError if one instance appears twice;
 * from `forward`, `backward` and `at`, TypeError or RangeError for a malformed tensor, flag or index.
 * @group Layers and models
 */
export class Sequential extends Module {
  readonly #layers: Module[];
  /**
   * `fused[i]`: how many modules ending at module i (a MaxPool2d) the last forward ran as one:
   * 2 (a ReLU and the pool), 3 (a Conv2d, a ReLU and the pool), else 0.
   */
  readonly #fused: number[];

  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      const first = layers.indexOf(m);
      // A module keeps what its backward needs from its last forward, so one instance cannot
      // serve two positions.
      if (first !== i) throw new RangeError(`Sequential: module ${i} is the same instance as module ${first}; use a new instance for each position`);
      this.registerModule(String(i), m);
    });
    this.#layers = layers;
    this.#fused = layers.map(() => 0);
  }

  /** The modules in order. */
  get layers(): readonly Module[] {
    return this.#layers;
  }

  /** The number of modules. */
  get length(): number {
    return this.#layers.length;
  }

  /** The module at `i` (negative counts from the end), or undefined past either end. */
  at(i: number): Module | undefined {
    checkNumber('Sequential.at', 'i', i, { integer: true });
    return this.#layers.at(i);
  }

  forward(x: Tensor): Tensor {
    checkTensor('Sequential.forward', 'input', x);
    const layers = this.#layers;
    const fused = this.#fused.fill(0);
    let h = x;
    for (let i = 0; i < layers.length; i++) {
      const [conv, pool] = [layers[i]!, layers[i + 2]];
      if (conv instanceof Conv2d && pool instanceof MaxPool2d && ownPasses(conv, Conv2d) && fusable(layers[i + 1]!, pool, i + 1) && fusesAfterConv(conv, pool, h)) {
        h = conv.forwardThroughReluPool(h, pool);
        fused[(i += 2)] = 3;
        continue;
      }
      const next = layers[i + 1];
      if (next instanceof MaxPool2d && fusable(layers[i]!, next, i) && next.fusesReluFor(h.shape)) {
        h = next.forwardAfterRelu(h);
        fused[++i] = 2;
      } else {
        h = layers[i]!.forward(h);
      }
    }
    return h;
  }

  /**
   * Runs the modules' backward in reverse order. With `needInputGrad` false (the usual case for a
   * whole model) nothing computes the gradient of the model's input: the first module with
   * parameters skips it, and the parameter-free modules before that one (a `Flatten` in front,
   * say), which would only carry it, do not run; the result is then null.
   *
   * `afterModule`, when given, is called after each module's backward with the module and its
   * index, last module first: its parameters' gradients are then complete, and an optimizer can
   * update them at once (`Optimizer.stepInParts`) while they are still in cache.
   */
  backward(gradOutput: Tensor, needInputGrad = true, afterModule?: (module: Module, index: number) => void): Tensor | null {
    checkTensor('Sequential.backward', 'gradOutput', gradOutput);
    boolOption('Sequential.backward', 'needInputGrad', needInputGrad, true);
    if (afterModule !== undefined && typeof afterModule !== 'function') {
      throw new TypeError(`Sequential.backward: expected afterModule to be a function or undefined, received ${describeValue(afterModule)}`);
    }
    const stop = needInputGrad ? 0 : this.#firstWithParameters();
    let g: Tensor | null = gradOutput;
    for (let i = this.#layers.length - 1; i >= stop; i--) {
      const m = this.#layers[i]!;
      const last = i;
      if (this.#fused[i] === 3 && i - 2 >= stop) {
        // The fused triple's backward stands in for the pool's, the ReLU's and the convolution's.
        i -= 2;
        g = (this.#layers[i] as Conv2d).backwardThroughReluPool(g!, m as MaxPool2d, i > stop || needInputGrad);
      } else if (this.#fused[i] === 2 && i - 1 >= stop) {
        // The fused pair's backward stands in for the pool's and the ReLU's; it ends at the ReLU.
        g = (m as MaxPool2d).backwardThroughRelu(g!, --i > stop || needInputGrad);
      } else {
        g = m.backward(g!, i > stop || needInputGrad);
      }
      // Every module the pass covered, last first.
      if (afterModule) for (let k = last; k >= i; k--) afterModule(this.#layers[k]!, k);
      if (g === null && i > stop) throw new RangeError(`Sequential.backward: module ${i} returned no input gradient`);
    }
    return needInputGrad ? g : null;
  }

  /** The index of the first module with parameters (the length when none has any). */
  #firstWithParameters(): number {
    const i = this.#layers.findIndex((m) => m.parameters().length > 0);
    return i < 0 ? this.#layers.length : i;
  }

  override toString(): string {
    return `Sequential(\n${this.#layers.map((m, i) => `  (${i}): ${m.toString()}`).join('\n')}\n)`;
  }
}

/**
 * Whether `relu` at position `at` followed by `pool` may run fused: both use their class's own
 * passes (a subclass that overrides one keeps its behaviour), and an inplace ReLU is not the
 * first module, whose input belongs to the caller and would no longer be overwritten.
 */
function fusable(relu: Module, pool: MaxPool2d, at: number): relu is ReLU {
  return relu instanceof ReLU && !(relu.inplace && at === 0) && ownPasses(relu, ReLU) && ownPasses(pool, MaxPool2d);
}

/** Whether `m` uses its class's own forward and backward (a subclass that overrides one keeps its behaviour). */
function ownPasses(m: Module, cls: { prototype: Module }): boolean {
  return m.forward === cls.prototype.forward && m.backward === cls.prototype.backward;
}

/**
 * Whether `conv` on input `h`, then a ReLU and `pool`, may run as one: the convolution accepts
 * the input (else its own forward runs, to throw its own error) and the pool fuses a ReLU for
 * the convolution's output.
 */
function fusesAfterConv(conv: Conv2d, pool: MaxPool2d, h: Tensor): boolean {
  let shape;
  try {
    shape = conv.outputShape(h.shape);
  } catch {
    return false;
  }
  return pool.fusesReluFor(shape);
}
