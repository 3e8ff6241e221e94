/**
 * `Sequential`: modules applied in order; backward runs them in reverse.
 * @module
 */
import { checkNumber } from '../validate.js';
import { Module, checkTensor, type Tensor } from './module.js';
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
 * @see https://pytorch.org/docs/stable/generated/torch.nn.Sequential.html
 * @throws TypeError if an argument is not a Module; RangeError if one instance appears twice;
 * from `forward`, `backward` and `at`, TypeError or RangeError for a malformed tensor, flag or index.
 * @group Layers and models
 */
export class Sequential extends Module {
  readonly #layers: Module[];

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
    let h = x;
    for (const m of this.#layers) h = m.forward(h);
    return h;
  }

  /**
   * Runs the modules' backward in reverse order. With `needInputGrad` false (the usual case for a
   * whole model) nothing computes the gradient of the model's input: the first module with
   * parameters skips it, and the parameter-free modules before that one (a `Flatten` in front,
   * say), which would only carry it, do not run; the result is then null.
   */
  backward(gradOutput: Tensor, needInputGrad = true): Tensor | null {
    checkTensor('Sequential.backward', 'gradOutput', gradOutput);
    boolOption('Sequential.backward', 'needInputGrad', needInputGrad, true);
    const stop = needInputGrad ? 0 : this.#firstWithParameters();
    let g: Tensor | null = gradOutput;
    for (let i = this.#layers.length - 1; i >= stop; i--) {
      g = this.#layers[i]!.backward(g!, i > stop || needInputGrad);
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
