/**
 * `Parameter`: a named Float32Array of weights with its gradient.
 * @module
 */
import { checkKnownKeys, checkOptions, describeValue } from './validate.js';

/**
 * Options of {@link Parameter}.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface ParameterOptions {
  /** A name, used as the parameter's key in `stateDict()` when every parameter has one. */
  name?: string;
  /** The logical shape; its product must equal the data length. @defaultValue `[data.length]` */
  shape?: readonly number[];
}

/**
 * A trainable tensor: `data` holds the weights, `grad` the gradient of the loss with respect
 * to them. Both are the caller's own `Float32Array`s; optimizers update `data` in place and never
 * copy it.
 *
 * @remarks
 * `grad` starts as a zero-filled array of the same length. Replace it with any `Float32Array` of
 * that length, or set it to `null` to leave the parameter out of the next step (PyTorch's `None`
 * grad: the parameter's state and step counter do not advance).
 *
 * @example
 * ```ts
 * const w = new Parameter(new Float32Array(784 * 128), { name: 'fc1.weight', shape: [128, 784] });
 * w.grad!.fill(0.5);
 * ```
 * @throws TypeError if `data` is not a Float32Array, `options` is not an object, has an unknown key, or an option has the wrong type.
 * @throws RangeError if the shape's product differs from the data length.
 * @group Optimizers
 * @category Base class and parameters
 */
export class Parameter {
  #data: Float32Array;
  #grad: Float32Array | null;
  /** The name given at construction, if any. */
  readonly name: string | undefined;
  /** The logical shape. */
  readonly shape: readonly number[];
  /** Number of elements (the product of `shape`). */
  readonly numel: number;

  constructor(data: Float32Array, options: ParameterOptions = {}) {
    if (!(data instanceof Float32Array)) {
      throw new TypeError(`Parameter: expected data to be a Float32Array, received ${describeValue(data)}`);
    }
    const o = checkOptions('Parameter', options);
    checkKnownKeys('Parameter', o, ['name', 'shape']);
    const { name, shape } = o as ParameterOptions;
    if (name !== undefined && typeof name !== 'string') {
      throw new TypeError(`Parameter: expected name to be a string, received ${describeValue(name)}`);
    }
    if (shape !== undefined) {
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new TypeError(`Parameter: expected shape to be an array of integers >= 0, received ${describeValue(shape)}`);
      }
      const product = shape.reduce((a, b) => a * b, 1);
      if (product !== data.length) {
        throw new RangeError(`Parameter: expected shape ${describeValue(shape)} to hold ${data.length} elements, received a shape of ${product}`);
      }
    }
    this.#data = data;
    this.#grad = new Float32Array(data.length);
    this.name = name;
    this.shape = Object.freeze(shape ? [...shape] : [data.length]);
    this.numel = data.length;
  }

  /** The weights, updated in place by optimizers. */
  get data(): Float32Array {
    return this.#data;
  }

  /** Replaces the weights with another Float32Array of the same length. */
  set data(v: Float32Array) {
    this.#data = this.#check('data', v, false)!;
  }

  /** The gradient, or `null` to skip this parameter in the next step. */
  get grad(): Float32Array | null {
    return this.#grad;
  }

  /**
   * Sets the gradient: a Float32Array of the same length (used by reference, not copied), or
   * `null` (PyTorch's `None`).
   * @throws TypeError if `v` is neither a Float32Array nor null; RangeError if its length differs.
   */
  set grad(v: Float32Array | null) {
    this.#grad = this.#check('grad', v, true);
  }

  #check(field: string, v: unknown, nullable: boolean): Float32Array | null {
    if (v === null && nullable) return null;
    const who = this.name === undefined ? 'Parameter' : `Parameter ${JSON.stringify(this.name)}`;
    if (!(v instanceof Float32Array)) {
      throw new TypeError(`${who}: expected ${field} to be a Float32Array${nullable ? ' or null' : ''}, received ${describeValue(v)}`);
    }
    if (v.length !== this.numel) {
      throw new RangeError(`${who}: expected ${field} to have length ${this.numel}, received ${v.length}`);
    }
    return v;
  }

  /** A short description for messages: the name if any, else `parameter <index>`. */
  static describe(p: Parameter, index: number): string {
    return p.name === undefined ? `parameter ${index}` : `parameter ${index} (${JSON.stringify(p.name)})`;
  }
}
