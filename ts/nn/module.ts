/**
 * `Module`: the base of every layer, with named parameters, children, `train()` / `eval()`,
 * an explicit `forward` / `backward` pair and a state dict of weights.
 * @module
 */
import { Parameter } from '../tensor.js';
import { checkBoolean, checkKnownKeys, checkOptions, describeValue } from '../validate.js';
import { boolOption } from './options.js';

/**
 * A dense float32 array with a shape in PyTorch's contiguous (row-major, NCHW) layout.
 * @group Layers and models
 */
export interface Tensor {
  /** The elements, row-major; `data.length` is the product of `shape`. */
  readonly data: Float32Array;
  /** The dimensions, outermost first (`[N, C, H, W]` for images). */
  readonly shape: readonly number[];
}

/**
 * Elements in a shape: the product of its dimensions (1 for `[]`).
 * @example
 * ```ts
 * numel([128, 1, 28, 28]); // 100352
 * ```
 * @throws TypeError unless `shape` is an array of integers >= 0.
 * @group Layers and models
 */
export function numel(shape: readonly number[]): number {
  if (!isShape(shape)) throw new TypeError(`numel: expected shape to be an array of integers >= 0, received ${describeValue(shape)}`);
  return product(shape);
}

/** The product of a shape already checked by {@link isShape}. */
function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** @internal Whether `v` is an array of safe integers >= 0. */
export function isShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * Makes a {@link Tensor} from data and a shape: checks them and copies the shape (not the data).
 * @example
 * ```ts
 * const x = tensor(new Float32Array(2 * 784), [2, 1, 28, 28]);
 * ```
 * @throws TypeError if `data` is not a Float32Array or `shape` not an array of integers >= 0.
 * @throws RangeError if the shape does not hold `data.length` elements.
 * @group Layers and models
 */
export function tensor(data: Float32Array, shape: readonly number[]): Tensor {
  if (!(data instanceof Float32Array)) throw new TypeError(`tensor: expected data to be a Float32Array, received ${describeValue(data)}`);
  if (!isShape(shape)) throw new TypeError(`tensor: expected shape to be an array of integers >= 0, received ${describeValue(shape)}`);
  const n = product(shape);
  if (n !== data.length) throw new RangeError(`tensor: shape ${describeValue(shape)} holds ${n} elements, data has ${data.length}`);
  return { data, shape: [...shape] };
}

/** @internal Checks that `x` is a Tensor whose data length matches its shape. */
export function checkTensor(ctx: string, name: string, x: unknown): Tensor {
  const t = x as Tensor;
  if (t === null || typeof t !== 'object' || !(t.data instanceof Float32Array) || !Array.isArray(t.shape)) {
    throw new TypeError(`${ctx}: expected ${name} to be a tensor { data: Float32Array, shape: number[] }, received ${describeValue(x)}`);
  }
  if (!isShape(t.shape) || product(t.shape) !== t.data.length) {
    throw new RangeError(`${ctx}: ${name} has shape ${describeValue(t.shape)} but ${t.data.length} elements`);
  }
  return t;
}

/**
 * A growable float32 buffer: `take(n)` returns an `n`-element view of storage kept between
 * calls, so a layer does not allocate per batch.
 * @internal
 */
export class Scratch {
  #buf = new Float32Array(0);
  take(n: number): Float32Array {
    if (this.#buf.length < n) this.#buf = new Float32Array(n);
    return this.#buf.length === n ? this.#buf : this.#buf.subarray(0, n);
  }
}

/** @internal Renames a module's parameters under a prefix (used by containers). */
export const SET_PREFIX: unique symbol = Symbol('ferroptim.nn.setPrefix');

/**
 * One entry of a model's state dict: the weights and their shape.
 * @group Layers and models
 */
export interface StateEntry {
  /** The weights, row-major. */
  data: Float32Array;
  /** The parameter's shape (PyTorch's, e.g. `[out, in]` for a Linear weight). */
  shape: number[];
}

/**
 * Base class of layers and containers.
 *
 * @remarks
 * ferroptim has no autograd tape: each module implements `forward(x)` and `backward(dy)`, and a
 * module keeps what its backward needs from the last forward (its input, its output, pooling
 * indices, the dropout mask). `backward` accumulates into its parameters' `grad` (PyTorch's
 * semantics; call `optimizer.zeroGrad()` between steps) and returns the gradient of its input.
 *
 * Outputs live in buffers the module keeps and reuses: the tensor returned by `forward` (and by
 * `backward`) stays valid until the module's next call of the same method. Copy it to keep it.
 *
 * Parameters are named as in PyTorch: `weight` and `bias` for a layer, `0.weight`, `3.bias`, ...
 * inside a `Sequential`. The names key the optimizer's state dict and the safetensors file.
 * Putting a layer into a container re-creates its `Parameter` objects under the new names, so
 * build the whole model first and then hand `model.parameters()` to the optimizer.
 *
 * @example
 * ```ts
 * const model = new Sequential(new Flatten(), new Linear(784, 128), new ReLU(), new Linear(128, 10));
 * const lossFn = new CrossEntropyLoss();
 * const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
 * optimizer.zeroGrad();
 * const loss = lossFn.forward(model.forward(x), labels);
 * model.backward(lossFn.backward(), false); // no gradient needed for the input
 * optimizer.step();
 * ```
 * @throws TypeError or RangeError from `forward` and `backward` for an input of the wrong shape,
 * from `backward` when no forward preceded it, and from `loadStateDict` for missing, unexpected
 * or misshapen weights.
 * @group Layers and models
 */
export abstract class Module {
  /** Whether the module is in training mode (dropout active); see {@link train} and {@link eval}. */
  training = true;
  readonly #params = new Map<string, Parameter>();
  readonly #children = new Map<string, Module>();
  #prefix = '';

  /** The forward pass. */
  abstract forward(x: Tensor): Tensor;

  /**
   * The backward pass of the last `forward`: accumulates parameter gradients and returns the
   * gradient of the input (or `null` when `needInputGrad` is false and the module can skip it).
   */
  abstract backward(gradOutput: Tensor, needInputGrad?: boolean): Tensor | null;

  /** Registers a parameter under a local name (`weight`); its full name gets the module's prefix. */
  protected registerParameter(name: string, p: Parameter): Parameter {
    const named = new Parameter(p.data, { name: this.#prefix + name, shape: p.shape });
    this.#params.set(name, named);
    return named;
  }

  /** A parameter registered under `name`. */
  protected param(name: string): Parameter {
    return this.#params.get(name)!;
  }

  /** Registers a child module under `name` (`0`, `1`, ... in a Sequential). */
  protected registerModule(name: string, m: Module): void {
    if (!(m instanceof Module)) throw new TypeError(`${this.constructor.name}: expected module ${name} to be a Module, received ${describeValue(m)}`);
    this.#children.set(name, m);
    m[SET_PREFIX](`${this.#prefix}${name}.`);
  }

  /** @internal */
  [SET_PREFIX](prefix: string): void {
    this.#prefix = prefix;
    for (const [name, p] of this.#params) {
      const renamed = new Parameter(p.data, { name: prefix + name, shape: p.shape });
      renamed.grad = p.grad;
      this.#params.set(name, renamed);
    }
    for (const [name, m] of this.#children) m[SET_PREFIX](`${prefix}${name}.`);
  }

  /** The direct children, by name. */
  children(): Array<[string, Module]> {
    return [...this.#children];
  }

  /** All parameters with their full names, own first, then each child's in order. */
  namedParameters(): Array<[string, Parameter]> {
    const out: Array<[string, Parameter]> = [];
    for (const p of this.#params.values()) out.push([p.name!, p]);
    for (const m of this.#children.values()) out.push(...m.namedParameters());
    return out;
  }

  /** All parameters, ready for any ferroptim optimizer: `new Adam(model.parameters())`. */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** The number of trainable scalars. */
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.numel, 0);
  }

  /** Sets training mode on this module and its children (dropout active when true). */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError(`${this.constructor.name}.train: expected mode to be a boolean, received ${describeValue(mode)}`);
    this.training = mode;
    for (const m of this.#children.values()) m.train(mode);
    return this;
  }

  /** Sets evaluation mode (same as `train(false)`). */
  eval(): this {
    return this.train(false);
  }

  /**
   * Sets every parameter's gradient to zero (or to null with `setToNone`).
   * @throws TypeError for options that are not an object with at most a boolean `setToNone`.
   */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    const ctx = `${this.constructor.name}.zeroGrad`;
    const o = checkOptions(ctx, options);
    checkKnownKeys(ctx, o, ['setToNone']);
    const setToNone = boolOption(ctx, 'setToNone', o.setToNone, false);
    for (const p of this.parameters()) {
      if (setToNone) p.grad = null;
      else if (p.grad) p.grad.fill(0);
      else p.grad = new Float32Array(p.numel);
    }
  }

  /**
   * The weights by full name (copies), as PyTorch's `state_dict()`. The object has a null
   * prototype, so any name (`__proto__`, `constructor`) is an ordinary key.
   */
  stateDict(): Record<string, StateEntry> {
    const out: Record<string, StateEntry> = Object.create(null);
    for (const [name, p] of this.namedParameters()) out[name] = { data: Float32Array.from(p.data), shape: [...p.shape] };
    return out;
  }

  /**
   * Loads weights by full name. Everything is checked before anything is copied. Only own keys
   * of `sd` count: a parameter named `toString` is missing from `{}`, not Object's method.
   * @param strict - require exactly this model's names (default); otherwise load what matches.
   * @throws TypeError or RangeError for `sd` that is not an object, `strict` that is not a boolean,
   * missing or unexpected names, and shape mismatches.
   */
  loadStateDict(sd: Record<string, StateEntry | Float32Array>, strict = true): void {
    const ctx = `${this.constructor.name}.loadStateDict`;
    if (sd === null || typeof sd !== 'object' || Array.isArray(sd)) throw new TypeError(`${ctx}: expected an object of tensors, received ${describeValue(sd)}`);
    checkBoolean(ctx, 'strict', strict);
    const params = new Map(this.namedParameters());
    const plan: Array<[Parameter, Float32Array]> = [];
    for (const [name, p] of params) {
      if (!Object.hasOwn(sd, name)) {
        if (strict) throw new RangeError(`${ctx}: missing ${JSON.stringify(name)}`);
        continue;
      }
      // A name that is there holds a tensor: `{ weight: undefined }` is a TypeError naming it.
      const e = sd[name];
      const data = e instanceof Float32Array ? e : e?.data;
      if (e === undefined || !(data instanceof Float32Array)) throw new TypeError(`${ctx}: expected ${JSON.stringify(name)} to hold a Float32Array, received ${describeValue(e)}`);
      if (!(e instanceof Float32Array) && e.shape !== undefined && !isShape(e.shape)) {
        throw new TypeError(`${ctx}: expected ${JSON.stringify(name)} shape to be an array of integers >= 0, received ${describeValue(e.shape)}`);
      }
      if (!(e instanceof Float32Array) && Array.isArray(e.shape) && (e.shape.length !== p.shape.length || e.shape.some((d, i) => d !== p.shape[i]))) {
        throw new RangeError(`${ctx}: expected ${JSON.stringify(name)} to have shape [${p.shape.join(', ')}], received [${e.shape.join(', ')}]`);
      }
      if (data.length !== p.numel) throw new RangeError(`${ctx}: expected ${JSON.stringify(name)} to have ${p.numel} elements, received ${data.length}`);
      plan.push([p, data]);
    }
    if (strict) {
      for (const name of Object.keys(sd)) {
        if (!params.has(name)) throw new RangeError(`${ctx}: unexpected ${JSON.stringify(name)} (this model has ${[...params.keys()].join(', ')})`);
      }
    }
    for (const [p, data] of plan) p.data.set(data);
  }

  /** A one-line description, as PyTorch's `repr`. */
  toString(): string {
    return `${this.constructor.name}()`;
  }
}
