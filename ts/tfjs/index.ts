/**
 * `ferroptim/tfjs`: ferroptim's optimizers, schedulers, clipping and monitoring on TensorFlow.js
 * variables and in `model.fit`.
 *
 * {@link parametersOf} wraps a `tf.LayersModel`'s trainable weights (or any `tf.Variable`s) as
 * ferroptim {@link Parameter}s; any ferroptim optimizer (or `Lookahead`) built on them, wrapped in a
 * {@link TfjsOptimizer}, is a `tf.Optimizer`: pass it to `model.compile()` or call `minimize`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { AdamW, LambdaLR, warmupCosine } from 'ferroptim';
 * import { parametersOf, TfjsOptimizer } from 'ferroptim/tfjs';
 *
 * const adamw = new AdamW(parametersOf(model), { lr: 1e-3, weightDecay: 0.01 });
 * const schedule = warmupCosine({ peakLr: 1e-3, warmupSteps: 100, totalSteps: 2000 });
 * const scheduler = new LambdaLR(adamw, { lrLambda: (s) => schedule(s) / 1e-3 });
 * model.compile({ optimizer: new TfjsOptimizer(adamw, { clipGradNorm: 1 }), loss: 'categoricalCrossentropy' });
 * await model.fit(x, y, { callbacks: { onBatchEnd: async () => scheduler.step() } });
 * ```
 *
 * `@tensorflow/tfjs-core` (installed with `@tensorflow/tfjs`) is an optional peer dependency of
 * ferroptim: only this entry point loads it.
 * @module ferroptim/tfjs
 */
import type * as TF from '@tensorflow/tfjs-core';
import type { NamedTensorMap, Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import localRequire from '../cjs-require.cjs';
import { clipGradNorm, type ClipGradNormOptions } from '../clip/clip-grad.js';
import { Lookahead } from '../optim/lookahead.js';
import { Optimizer, type LoadStateDictOptions, type OptimizerStateDict } from '../optim/optimizer.js';
import { OPTIMIZERS } from '../optim/registry.js';
import { Parameter } from '../tensor.js';
import { checkBoolean, checkKnownKeys, checkNumber, checkOptions, describeValue } from '../validate.js';
import { storageOf, type BackendStorage } from './storage.js';
import { packState, unpackState } from './weights.js';

/**
 * A tensor with a name, as tfjs optimizers' `getWeights` return them (tfjs-core's `NamedTensor`).
 * @group TensorFlow.js
 */
export interface NamedTensor {
  /** The weight's or variable's name. */
  name: string;
  /** The tensor. */
  tensor: Tensor;
}

/**
 * The `clipGradNorm` option of {@link TfjsOptimizer} in full: `clipGradNorm`'s arguments.
 * @group TensorFlow.js
 */
export interface TfjsClipOptions extends ClipGradNormOptions {
  /** The largest total norm the gradients may have; larger ones are scaled down to it. */
  maxNorm: number;
}

const LABEL = 'TfjsOptimizer';

/** tfjs-core, the user's own copy (so that `model.compile` recognises our optimizer as a `tf.Optimizer`). */
function loadTfjsCore(): typeof TF {
  try {
    return localRequire('@tensorflow/tfjs-core') as typeof TF;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes("'@tensorflow/tfjs-core'")) {
      throw new Error('ferroptim/tfjs: @tensorflow/tfjs-core is not installed; install TensorFlow.js first (npm install @tensorflow/tfjs)', { cause: e });
    }
    throw e;
  }
}
const tf = loadTfjsCore();

/**
 * A ferroptim {@link Parameter} bound to a `tf.Variable`. A {@link TfjsOptimizer} sets its `data`
 * (the optimizer's copy of the variable, or with `inPlace` on cpu the variable's own storage) and,
 * during a step, its `grad` (the gradient's storage or a copy); read the variable, not `data`, for
 * its value.
 * @group TensorFlow.js
 */
export class TfParameter extends Parameter {
  /** The variable this parameter trains. */
  readonly variable: Variable;

  /**
   * @param variable - a float32 `tf.Variable`.
   * @param name - the parameter's name (its key in `stateDict()`). @defaultValue `variable.name`
   * @throws TypeError if `variable` is not a live float32 tf.Variable.
   */
  constructor(variable: Variable, name?: string) {
    checkVariable('TfParameter', 'variable', variable);
    if (name !== undefined && typeof name !== 'string') throw new TypeError(`TfParameter: expected name to be a string, received ${describeValue(name)}`);
    // The data until the first step: a copy of the variable's values.
    super(Float32Array.from(variable.dataSync() as Float32Array), { name: name ?? variable.name, shape: variable.shape });
    this.variable = variable;
  }
}

/** The part of a `tf.LayersModel` (tfjs-layers) that {@link parametersOf} reads. */
export interface LayersModelLike {
  /** The model's trainable weights, as tfjs-layers' `LayerVariable`s. */
  readonly trainableWeights: ReadonlyArray<{
    /** The weight's name without tfjs's de-duplication suffix (`dense_Dense1/kernel`). */
    readonly originalName: string;
    /** The `tf.Variable` holding the weight (typed `Tensor` by tfjs-layers). */
    read(): Tensor;
  }>;
}

function checkVariable(ctx: string, what: string, v: unknown): Variable {
  if (!(v instanceof tf.Variable)) {
    throw new TypeError(`${ctx}: expected ${what} to be a tf.Variable (of the same @tensorflow/tfjs-core as ferroptim/tfjs loads), received ${describeValue(v)}`);
  }
  if (v.isDisposed) throw new TypeError(`${ctx}: expected ${what} to be a live tf.Variable, received the disposed variable ${JSON.stringify(v.name)}`);
  if (v.dtype !== 'float32') throw new TypeError(`${ctx}: expected ${what} to be a float32 tf.Variable, received ${JSON.stringify(v.name)} of dtype ${v.dtype}`);
  return v;
}

function isLayersModel(v: unknown): v is LayersModelLike {
  return v !== null && typeof v === 'object' && Array.isArray((v as { trainableWeights?: unknown }).trainableWeights);
}

/**
 * The trainable weights of a tfjs-layers model, or the given variables, as ferroptim parameters
 * (PyTorch's `model.parameters()`). A layers model's parameters are named after its weights'
 * `originalName` (`dense_Dense1/kernel`), which `model.save()` also uses, so a state dict keyed by
 * them loads into the same model after `tf.loadLayersModel`; bare variables are named by
 * `variable.name`.
 * @example
 * ```ts
 * const params = parametersOf(model); // or parametersOf([w, b])
 * const optimizer = new TfjsOptimizer(new AdamW(params, { lr: 1e-3 }));
 * ```
 * @throws TypeError if `source` is neither a layers model nor an array of float32 tf.Variables.
 * @group TensorFlow.js
 */
export function parametersOf(source: LayersModelLike | readonly Variable[]): TfParameter[] {
  return namedVariables('parametersOf', source).map((v) => new TfParameter(v.variable, v.name));
}

/** The variables {@link parametersOf} wraps, checked, with the names it gives them. */
function namedVariables(ctx: string, source: LayersModelLike | readonly Variable[]): Array<{ variable: Variable; name: string }> {
  if (Array.isArray(source)) return source.map((v, i) => ({ variable: checkVariable(ctx, `source[${i}]`, v), name: (v as Variable).name }));
  if (!isLayersModel(source)) throw new TypeError(`${ctx}: expected a tf.LayersModel or an array of tf.Variables, received ${describeValue(source)}`);
  return source.trainableWeights.map((w, i) => ({ variable: checkVariable(ctx, `trainableWeights[${i}]`, w.read()), name: w.originalName }));
}

/**
 * Options of {@link TfjsOptimizer}.
 * @group TensorFlow.js
 */
export interface TfjsOptimizerOptions {
  /**
   * Clip the gradients to this total norm before each step (`clipGradNorm`); a number, or
   * `{ maxNorm, normType, errorIfNonfinite }`. @defaultValue no clipping
   */
  clipGradNorm?: number | TfjsClipOptions;
  /**
   * On the `cpu` backend, update the variables in their own storage, with no copy at all. Off by
   * default, because tfjs's cpu backend hands that storage out without counting it: `dataSync()`
   * and `data()` return it, a contiguous `slice()` is a view of it, and `tf.tensor(array)` keeps
   * the array it is given; whatever holds such a view sees the step, where with `tf.train.adam` it
   * would keep the old values. Turn it on when nothing keeps those views of the variables between
   * steps: `model.fit`, `evaluate`, `predict` and `save` keep none. Tensors that share a variable's
   * storage by reference (`clone`, `reshape`, `tf.variable(t)` while `t` lives) are always safe:
   * the variable then first gets a buffer of its own. Ignored on other backends (on wasm, XNNPACK
   * caches packed copies of weights by tensor id, so a weight changed in place would be stale).
   * @defaultValue false
   */
  inPlace?: boolean;
}

/**
 * How the last step reached the variables: tensors updated in place in the backend's memory, and
 * tensors (parameters and gradients) that had to be copied, with the bytes copied.
 * @group TensorFlow.js
 */
export interface TransferStats {
  /** The backend the step ran on. */
  backend: string;
  /** Variables updated in place, in the backend's own memory. */
  inPlace: number;
  /** Variables copied in and out (a backend without direct access, or a buffer that was shared). */
  copied: number;
  /** Gradients read in place. */
  gradsInPlace: number;
  /** Gradients copied (a backend without direct access, clipping of gradients the caller owns, or one tensor given twice). */
  gradsCopied: number;
  /** Bytes copied in both directions. */
  bytesCopied: number;
}

/** What a TfjsOptimizer steps: a ferroptim optimizer or a Lookahead over one. */
type Stepper = Optimizer<object> | Lookahead<object>;

/** `getConfig()` of a TfjsOptimizer: what `tf.loadLayersModel` rebuilds it from. */
interface Config {
  optimizer: string;
  skipNonFinite: boolean;
  lookahead: { k: number; alpha: number } | null;
  clipGradNorm: TfjsClipOptions | null;
  inPlace: boolean;
}

function registryName(opt: Optimizer<object>): string {
  for (const [name, entry] of Object.entries(OPTIMIZERS)) if (entry.descriptor === opt.descriptor) return name;
  throw new TypeError(`${LABEL}: the optimizer ${opt.descriptor.name} is not in ferroptim's registry, so it cannot be saved with the model`);
}

function checkClip(ctx: string, v: unknown): Config['clipGradNorm'] {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') return { maxNorm: checkNumber(ctx, 'clipGradNorm', v, { min: 0 }) };
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`${ctx}: expected clipGradNorm to be a number or { maxNorm, normType, errorIfNonfinite }, received ${describeValue(v)}`);
  }
  const o = checkOptions(`${ctx}: clipGradNorm`, v);
  checkKnownKeys(`${ctx}: clipGradNorm`, o, ['maxNorm', 'normType', 'errorIfNonfinite']);
  checkNumber(ctx, 'clipGradNorm.maxNorm', o.maxNorm, { min: 0 });
  if (o.normType !== undefined && !(o.normType === Infinity || (typeof o.normType === 'number' && o.normType > 0 && Number.isFinite(o.normType)))) {
    throw new RangeError(`${ctx}: expected clipGradNorm.normType to be a number > 0 or Infinity, received ${describeValue(o.normType)}`);
  }
  if (o.errorIfNonfinite !== undefined) checkBoolean(ctx, 'clipGradNorm.errorIfNonfinite', o.errorIfNonfinite);
  return { ...(o as unknown as TfjsClipOptions) };
}

/** A clipGradNorm config as getConfig writes it: normType Infinity as the string 'Infinity'. */
function fromJsonClip(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || (v as { normType?: unknown }).normType !== 'Infinity') return v;
  return { ...v, normType: Infinity };
}

/** A saved parameter name matches a variable's name as is, or with tfjs's `_<n>` de-duplication suffix. */
function nameMatches(saved: string, variable: string): boolean {
  return variable === saved || (variable.startsWith(saved) && /^_\d+$/.test(variable.slice(saved.length)));
}

/** The current backend's storage access (null: copy), and fresh transfer counts for a step on it. */
function currentBackend(): { storage: BackendStorage | null; stats: TransferStats } {
  const backend = tf.getBackend();
  return { storage: storageOf(backend, tf.backend()), stats: { backend, inPlace: 0, copied: 0, gradsInPlace: 0, gradsCopied: 0, bytesCopied: 0 } };
}

const UNBOUND = Symbol('unbound');

/**
 * A `tf.Optimizer` that steps a ferroptim optimizer: accepted by `model.compile()`, so
 * `model.fit()`, its callbacks and its loops run unchanged, and usable in a custom loop through
 * `minimize(lossFn)` or `applyGradients(grads)`.
 *
 * @remarks
 * Each step runs every parameter in one native call, keeping tfjs's rule that a tensor never
 * changes: the optimizer keeps its own copy of each variable (read from the variable only when
 * something else assigned it), steps it, and assigns the result as a new tensor, one copy out
 * per step. Gradients are read in place on the `cpu` and `wasm` backends (copied on others, such
 * as webgl or tfjs-node's TensorFlow). With `inPlace: true` on the `cpu` backend the variables
 * are updated in their own storage with no copy at all (see {@link TfjsOptimizerOptions.inPlace}
 * for when that is safe). {@link TfjsOptimizer.lastTransfer} tells what each step copied.
 *
 * Saving: `model.save(url, { includeOptimizer: true })` stores the optimizer's full state (steps,
 * buffers bit for bit, every group's options, the lr a scheduler set) and `tf.loadLayersModel`
 * rebuilds it; the rebuilt optimizer binds to the loaded model's weights (by their names) at its
 * first step, or at {@link TfjsOptimizer.bind}. Schedulers are saved by the caller
 * (`scheduler.stateDict()`).
 *
 * A Schedule-Free optimizer (`AdamWScheduleFree`, `SGDScheduleFree`) steps only in train mode:
 * call this adapter's {@link TfjsOptimizer.train} before fitting and {@link TfjsOptimizer.eval}
 * before evaluating; they switch the wrapped optimizer and write the moved parameters to the
 * variables.
 * @group TensorFlow.js
 */
export class TfjsOptimizer extends tf.Optimizer {
  /** The name tfjs serialization registers this class under. */
  static className = 'FerroptimOptimizer';

  /**
   * `instanceof` by class: tf.Optimizer defines a duck-typed `Symbol.hasInstance` (any object with
   * `minimize`, `computeGradients` and `applyGradients`), which subclasses inherit, so without this
   * `tf.train.adam() instanceof TfjsOptimizer` would be true.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  #stepper: Stepper | null = null;
  /** The inPlace option. */
  #inPlace = false;
  #config: Config;
  /** A state loaded by setWeights before the optimizer was bound (a model loaded from disk). */
  #pending: { stateDict: unknown } | null = null;
  /** The storage each variable got from this optimizer: written in place while nothing else holds it. */
  readonly #owned = new WeakSet<object>();
  /** Scratch buffers for gradients that must be copied. */
  readonly #scratch = new WeakMap<TfParameter, Float32Array>();
  /** Written by copy: this optimizer's copy of each variable, and the storage it was last written to. */
  readonly #master = new WeakMap<TfParameter, Float32Array>();
  readonly #written = new WeakMap<TfParameter, object>();
  #saved: NamedTensor[] = [];
  #lastTransfer: TransferStats | null = null;
  #lastGradNorm: number | null = null;

  /**
   * @param optimizer - a ferroptim optimizer (or `Lookahead`) whose parameters all come from {@link parametersOf}.
   * @param options - see {@link TfjsOptimizerOptions}.
   * @throws TypeError if `optimizer` is not a ferroptim optimizer or Lookahead, a parameter is not a
   * {@link TfParameter}, or an option is bad; RangeError for an option out of range.
   */
  constructor(optimizer: Optimizer<object> | Lookahead<object>, options?: TfjsOptimizerOptions);
  /** @internal */
  constructor(optimizer: typeof UNBOUND, config: Config);
  constructor(optimizer: Stepper | typeof UNBOUND, options?: TfjsOptimizerOptions | Config) {
    super();
    if (optimizer === UNBOUND) {
      this.#config = options as Config;
      this.#inPlace = this.#config.inPlace;
      return;
    }
    if (!(optimizer instanceof Optimizer) && !(optimizer instanceof Lookahead)) {
      throw new TypeError(`${LABEL}: expected optimizer to be a ferroptim optimizer or Lookahead (e.g. new AdamW(parametersOf(model))), received ${describeValue(optimizer)}`);
    }
    const o = checkOptions(LABEL, options);
    checkKnownKeys(LABEL, o, ['clipGradNorm', 'inPlace']);
    const clip = checkClip(LABEL, o.clipGradNorm);
    this.#inPlace = o.inPlace === undefined ? false : checkBoolean(LABEL, 'inPlace', o.inPlace);
    const inner = optimizer instanceof Lookahead ? optimizer.optimizer : optimizer;
    this.#config = {
      optimizer: registryName(inner),
      skipNonFinite: inner.skipNonFinite,
      lookahead: optimizer instanceof Lookahead ? { k: optimizer.k, alpha: optimizer.alpha } : null,
      clipGradNorm: clip,
      inPlace: this.#inPlace,
    };
    this.#attach(optimizer);
  }

  #attach(stepper: Stepper): void {
    TfjsOptimizer.#paramsOf(stepper);
    this.#stepper = stepper;
  }

  /** The stepper's parameters, now (a param group may have been added since), checked to be TfParameters. */
  static #paramsOf(stepper: Stepper): TfParameter[] {
    const params = stepper.parameters();
    params.forEach((p, i) => {
      if (!(p instanceof TfParameter)) {
        throw new TypeError(`${LABEL}: expected ${Parameter.describe(p, i)} to be bound to a tf.Variable; create the optimizer's parameters with parametersOf(model)`);
      }
    });
    return params as TfParameter[];
  }

  /**
   * The ferroptim optimizer (or Lookahead) this steps: attach schedulers and monitors to it.
   * @throws Error if this optimizer was rebuilt by `tf.loadLayersModel` and has not been bound yet (see {@link TfjsOptimizer.bind}).
   */
  get optimizer(): Optimizer<object> | Lookahead<object> {
    if (this.#stepper === null) throw new Error(`${LABEL}: this optimizer was loaded with a model and is bound to its weights at the first step; call bind(model) first`);
    return this.#stepper;
  }

  /** The parameters, one per variable, in the optimizer's order (empty until bound). */
  parameters(): TfParameter[] {
    return this.#stepper === null ? [] : TfjsOptimizer.#paramsOf(this.#stepper);
  }

  /**
   * The total gradient norm of the last step before clipping (what `clipGradNorm` returned), or
   * null without the `clipGradNorm` option. A `GradNormMonitor` on the wrapped optimizer sees the
   * gradients as stepped, i.e. after clipping.
   */
  get lastGradNorm(): number | null {
    return this.#lastGradNorm;
  }

  /** How the last step moved data between tfjs and ferroptim; null before the first step. */
  get lastTransfer(): TransferStats | null {
    return this.#lastTransfer === null ? null : { ...this.#lastTransfer };
  }

  /**
   * Binds an optimizer rebuilt by `tf.loadLayersModel` to the loaded model's trainable weights
   * (matched by name to the saved state), so that schedulers can be attached before training. An
   * optimizer constructed directly is already bound; calling this on it is an error.
   * @throws Error if already bound; TypeError or RangeError if the variables do not match the saved state.
   */
  bind(source: LayersModelLike | readonly Variable[]): void {
    if (this.#stepper !== null) throw new Error(`${LABEL}.bind: this optimizer is already bound to its parameters`);
    this.#build(namedVariables(`${LABEL}.bind`, source));
  }

  /** Builds the optimizer from the config and the pending state, over `vars`. */
  #build(vars: Array<{ variable: Variable; name: string }>): void {
    const ctx = `${LABEL}.bind`;
    const cfg = this.#config;
    const entry = OPTIMIZERS[cfg.optimizer];
    if (entry === undefined) throw new RangeError(`${ctx}: the saved optimizer ${JSON.stringify(cfg.optimizer)} is not one of ferroptim's`);
    const saved = this.#pending?.stateDict as { fastState?: OptimizerStateDict } & Partial<OptimizerStateDict> | undefined;
    const inner = saved === undefined ? undefined : cfg.lookahead ? saved.fastState : (saved as OptimizerStateDict);
    let groups: Array<{ params: Parameter[] } & Record<string, unknown>> = [{ params: vars.map((v) => new TfParameter(v.variable, v.name)) }];
    if (inner !== undefined) {
      if (inner === null || typeof inner !== 'object' || !Array.isArray(inner.paramGroups)) {
        throw new TypeError(`${ctx}: the saved optimizer state has no param groups, received ${describeValue(inner)}`);
      }
      const used = new Set<{ variable: Variable; name: string }>();
      groups = inner.paramGroups.map((g, gi) => {
        if (g === null || typeof g !== 'object' || !Array.isArray(g.params)) throw new TypeError(`${ctx}: expected saved param group ${gi} to have a params array, received ${describeValue(g)}`);
        const { params: names, initialLr: _initialLr, ...options } = g;
        const ps = names.map((name) => {
          const found = vars.filter((v) => !used.has(v) && typeof name === 'string' && nameMatches(name, v.name));
          const v = found.find((q) => q.name === name) ?? found[0];
          if (v === undefined) throw new RangeError(`${ctx}: the saved state has a parameter ${JSON.stringify(name)} that matches none of the variables (${vars.map((q) => q.name).join(', ')})`);
          used.add(v);
          // Named as saved, so that stateDict() keys survive the round trip.
          return new TfParameter(v.variable, name);
        });
        return { params: ps, ...options };
      });
      const missing = vars.filter((v) => !used.has(v));
      if (missing.length > 0) throw new RangeError(`${ctx}: the variable ${JSON.stringify(missing[0]!.name)} has no saved state; the model's trainable weights differ from the saved optimizer's`);
    }
    const opt = new entry.Class(groups as never, { skipNonFinite: cfg.skipNonFinite });
    const stepper: Stepper = cfg.lookahead ? new Lookahead(opt, cfg.lookahead) : opt;
    try {
      if (this.#pending !== null) stepper.loadStateDict(this.#pending.stateDict as never);
    } catch (e) {
      stepper.dispose();
      throw e;
    }
    this.#pending = null;
    this.#attach(stepper);
  }

  /**
   * Computes the gradients of `f()` with respect to `varList` (default: this optimizer's
   * variables) and applies them: `tf.Optimizer.minimize`.
   */
  override minimize(f: () => Scalar, returnCost = false, varList?: Variable[]): Scalar | null {
    const vars = varList ?? (this.#stepper === null ? undefined : this.parameters().map((p) => p.variable));
    const { value, grads } = this.computeGradients(f, vars);
    try {
      if (this.#stepper === null) this.#build(namedVariables(`${LABEL}.minimize`, vars ?? Object.keys(grads).map((n) => tf.engine().registeredVariables[n]!)));
      this.#apply(grads, true);
    } finally {
      tf.dispose(grads);
    }
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /**
   * Applies gradients (by variable name, as `tf.variableGrads` returns them) in one ferroptim step.
   * A variable without a gradient is left out of the step (PyTorch's `None` grad). The gradient
   * tensors are not changed (with clipping they are copied first) and stay the caller's to dispose.
   * @throws TypeError or RangeError, before any variable changes, for a gradient of a variable that
   * is not one of this optimizer's, of the wrong shape or dtype, or a disposed one.
   */
  applyGradients(variableGradients: NamedTensorMap | NamedTensor[]): void {
    this.#apply(variableGradients, false);
  }

  #apply(variableGradients: NamedTensorMap | NamedTensor[], ownsGrads: boolean): void {
    const ctx = `${LABEL}.applyGradients`;
    const byName = new Map<string, Tensor>();
    if (Array.isArray(variableGradients)) {
      variableGradients.forEach((g, i) => {
        if (g === null || typeof g !== 'object' || typeof g.name !== 'string') throw new TypeError(`${ctx}: expected gradient ${i} to be { name, tensor }, received ${describeValue(g)}`);
        if (g.tensor != null) byName.set(g.name, g.tensor);
      });
    } else if (variableGradients !== null && typeof variableGradients === 'object') {
      for (const [name, t] of Object.entries(variableGradients)) if (t != null) byName.set(name, t);
    } else {
      throw new TypeError(`${ctx}: expected a map or array of named gradients, received ${describeValue(variableGradients)}`);
    }
    if (this.#stepper === null) {
      this.#build(namedVariables(ctx, [...byName.keys()].map((n) => tf.engine().registeredVariables[n]!).filter((v) => v !== undefined)));
    }
    const stepper = this.#stepper!;
    const params = TfjsOptimizer.#paramsOf(stepper);
    const known = new Set(params.map((p) => p.variable.name));
    for (const [name, g] of byName) {
      if (!known.has(name)) throw new RangeError(`${ctx}: received a gradient for ${JSON.stringify(name)}, which is not a variable of this optimizer`);
      if (!(g instanceof tf.Tensor) || g.isDisposed) throw new TypeError(`${ctx}: expected the gradient of ${JSON.stringify(name)} to be a live tf.Tensor, received ${describeValue(g)}`);
    }
    params.forEach((p) => {
      checkVariable(ctx, JSON.stringify(p.name), p.variable);
      const g = byName.get(p.variable.name);
      if (g !== undefined && (g.dtype !== 'float32' || g.size !== p.numel || !g.shape.every((d, i) => d === p.variable.shape[i]) || g.rank !== p.variable.rank)) {
        throw new RangeError(`${ctx}: expected the gradient of ${JSON.stringify(p.variable.name)} to be float32 of shape [${p.variable.shape}], received ${g.dtype} of shape [${g.shape}]`);
      }
    });

    const { storage, stats } = currentBackend();
    const clip = this.#config.clipGradNorm;
    // Lookahead's sync writes every parameter, with a gradient or not.
    const needsData = (p: TfParameter): boolean => byName.has(p.variable.name) || stepper instanceof Lookahead;
    const { inPlace, written } = this.#bindData(params, needsData, storage, stats);
    // 2. Views or copies of every gradient, then one step.
    const seenGrads = new Set<object>();
    // The buffers of all the variables written in place, known before any gradient is looked at
    // (the gradient of the first variable may lie in the last one's storage).
    const inPlaceBuffers = new Set<ArrayBufferLike>(params.flatMap((p, i) => (inPlace[i] ? [storage!.view(p.variable)!.buffer] : [])));
    params.forEach((p) => {
      const v = p.variable;
      const g = byName.get(v.name);
      if (g === undefined) {
        p.grad = null;
        return;
      }
      let grad = storage?.view(g) ?? null;
      // A gradient the step may scale (clipping) must be ours alone; one tensor given for two
      // variables is copied for the second, and one in the storage of a variable written in
      // place (a variable given as a gradient, or a slice of one) is copied.
      const mustCopy =
        grad === null || seenGrads.has(g.dataId) || inPlaceBuffers.has(grad.buffer) || (clip !== null && (!ownsGrads || storage!.refCount(g) !== 1));
      seenGrads.add(g.dataId);
      if (mustCopy) {
        const src = grad ?? (g.dataSync() as Float32Array);
        let scratch = this.#scratch.get(p);
        if (scratch === undefined) this.#scratch.set(p, (scratch = new Float32Array(p.numel)));
        scratch.set(src);
        grad = scratch;
        stats.gradsCopied++;
        stats.bytesCopied += 4 * p.numel;
      } else {
        stats.gradsInPlace++;
      }
      p.grad = grad;
    });
    try {
      if (clip !== null) {
        const { maxNorm, ...clipOptions } = clip;
        this.#lastGradNorm = clipGradNorm(params.filter((p) => p.grad !== null), maxNorm, clipOptions);
      }
      stepper.step();
    } finally {
      // Drop the references to tfjs storage (a wasm view must not outlive the heap it views).
      for (const p of params) p.grad = null;
    }
    if (stepper.lastStepApplied) {
      this.#writeOut(written, storage, stats);
      this.incrementIterations();
    }
    this.#lastTransfer = stats;
  }

  /**
   * Sets `data` of every parameter that `needsData` names: with `inPlace` on a writable backend the
   * variable's own storage (given a buffer of its own first), else this optimizer's copy (read
   * again only when something else assigned the variable). Returns which are in place and the
   * copies to write out after the step.
   */
  #bindData(params: TfParameter[], needsData: (p: TfParameter) => boolean, storage: BackendStorage | null, stats: TransferStats): { inPlace: boolean[]; written: TfParameter[] } {
    // First every variable written in place gets storage of its own (this allocates, so views are
    // taken only after it).
    const inPlace = params.map((p) => {
      if (!this.#inPlace || storage === null || !storage.writable || !needsData(p)) return false;
      const v = p.variable;
      if (this.#owned.has(v.dataId) && storage.refCount(v) === 1 && storage.view(v) !== null) return true;
      const fresh = Float32Array.from(storage.view(v) ?? (v.dataSync() as Float32Array));
      const t = tf.tensor(fresh, v.shape, 'float32');
      v.assign(t);
      t.dispose();
      stats.bytesCopied += 8 * fresh.length;
      if (storage.refCount(v) !== 1 || storage.view(v) === null) return false;
      this.#owned.add(v.dataId);
      return true;
    });
    const written: TfParameter[] = [];
    params.forEach((p, i) => {
      const v = p.variable;
      if (inPlace[i]) {
        p.data = storage!.view(v)!;
        stats.inPlace++;
      } else if (needsData(p)) {
        let data = this.#master.get(p);
        if (data === undefined || this.#written.get(p) !== v.dataId) {
          const src = storage?.view(v) ?? (v.dataSync() as Float32Array);
          data ??= new Float32Array(p.numel);
          data.set(src);
          stats.bytesCopied += 4 * p.numel;
          this.#master.set(p, data);
          this.#written.set(p, v.dataId);
        }
        p.data = data;
        written.push(p);
        stats.copied++;
      }
    });
    return { inPlace, written };
  }

  /** Assigns each copy in `written` to its variable as a new tensor. */
  #writeOut(written: TfParameter[], storage: BackendStorage | null, stats: TransferStats): void {
    for (const p of written) {
      // A backend that keeps the array it is given (cpu, or one not known to copy) gets its own.
      const master = this.#master.get(p)!;
      const t = tf.tensor(storage?.copiesOnWrite ? master : master.slice(), p.variable.shape, 'float32');
      p.variable.assign(t);
      t.dispose();
      stats.bytesCopied += 4 * p.numel;
      this.#written.set(p, p.variable.dataId);
    }
  }

  /**
   * Schedule-Free optimizers: the wrapped optimizer's `train()`, which moves the parameters to the
   * point the steps are taken from; the variables follow (written out as in a step). Call it
   * before fitting. Does nothing for optimizers without train/eval modes.
   * @throws Error if the optimizer is not bound yet (see {@link TfjsOptimizer.bind}).
   */
  train(): void {
    this.#switchMode('train');
  }

  /**
   * Schedule-Free optimizers: the wrapped optimizer's `eval()`, which moves the parameters to the
   * point to evaluate (x); the variables follow. Call it before `evaluate`, `predict` or `save`.
   * Does nothing for optimizers without train/eval modes.
   * @throws Error if the optimizer is not bound yet (see {@link TfjsOptimizer.bind}).
   */
  eval(): void {
    this.#switchMode('eval');
  }

  #switchMode(mode: 'train' | 'eval'): void {
    const stepper = this.optimizer;
    const fn = (stepper as { train?: unknown; eval?: unknown })[mode];
    if (typeof fn !== 'function') return;
    const params = TfjsOptimizer.#paramsOf(stepper);
    const { storage, stats } = currentBackend();
    params.forEach((p) => checkVariable(`${LABEL}.${mode}`, JSON.stringify(p.name), p.variable));
    const { written } = this.#bindData(params, () => true, storage, stats);
    (fn as () => void).call(stepper);
    this.#writeOut(written, storage, stats);
    this.#lastTransfer = stats;
  }

  /**
   * The optimizer's state as two tfjs weights, for `model.save(url, { includeOptimizer: true })`:
   * `ferroptim/state` (JSON: steps, group options, names) and `ferroptim/buffers` (every state
   * buffer, float32, bit for bit). The tensors stay owned by this optimizer until the next call
   * or `dispose()`.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const sd = this.#stepper !== null ? this.#stepper.stateDict() : this.#pending?.stateDict;
    if (sd === undefined) return [];
    const { json, flat } = packState(sd, { iterations: this.iterations });
    this.#disposeSaved();
    this.#saved = [
      { name: 'ferroptim/state', tensor: tf.tensor([json], [1], 'string') },
      { name: 'ferroptim/buffers', tensor: tf.tensor(flat, [flat.length], 'float32') },
    ];
    return this.#saved;
  }

  /**
   * Loads weights written by {@link TfjsOptimizer.getWeights} (as `tf.loadLayersModel` does): at
   * once when bound, else at binding. Everything is checked before anything changes.
   * @throws TypeError or RangeError for weights that are not a ferroptim optimizer's state or do not match.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const ctx = `${LABEL}.setWeights`;
    if (!Array.isArray(weightValues)) throw new TypeError(`${ctx}: expected an array of named tensors, received ${describeValue(weightValues)}`);
    const state = weightValues.find((w) => w?.name === 'ferroptim/state')?.tensor;
    const buffers = weightValues.find((w) => w?.name === 'ferroptim/buffers')?.tensor;
    if (!(state instanceof tf.Tensor) || state.dtype !== 'string' || state.size !== 1 || !(buffers instanceof tf.Tensor) || buffers.dtype !== 'float32' || buffers.rank !== 1) {
      throw new TypeError(`${ctx}: expected the weights ferroptim/state (one string) and ferroptim/buffers (float32 vector), received ${weightValues.map((w) => describeValue(w?.name)).join(', ') || 'none'}`);
    }
    const json = (state.dataSync() as unknown as string[])[0]!;
    const flat = Float32Array.from(buffers.dataSync() as Float32Array);
    const { stateDict, extra } = unpackState(ctx, json, flat);
    if (this.#stepper !== null) this.#stepper.loadStateDict(stateDict as never);
    else this.#pending = { stateDict };
    if (typeof extra.iterations === 'number' && Number.isInteger(extra.iterations) && extra.iterations >= 0) this.iterations_ = extra.iterations;
  }

  /** The wrapped optimizer's `stateDict()` (JSON-serialisable, keyed by parameter name). */
  stateDict(): ReturnType<Stepper['stateDict']> {
    return this.optimizer.stateDict();
  }

  /** The wrapped optimizer's `loadStateDict()`. */
  loadStateDict(sd: ReturnType<Stepper['stateDict']>, options?: LoadStateDictOptions): void {
    (this.optimizer as Optimizer<object>).loadStateDict(sd as OptimizerStateDict, options);
  }

  /** What `tf.loadLayersModel` rebuilds this optimizer from: the optimizer's registry name and the adapter's options. */
  override getConfig(): TF.serialization.ConfigDict {
    const c = this.#config;
    return {
      optimizer: c.optimizer,
      skipNonFinite: c.skipNonFinite,
      lookahead: c.lookahead === null ? null : { ...c.lookahead },
      // JSON (model.json) has no Infinity: the max norm is saved as the string 'Infinity'.
      clipGradNorm:
        c.clipGradNorm === null
          ? null
          : ({ ...c.clipGradNorm, ...(c.clipGradNorm.normType === Infinity ? { normType: 'Infinity' } : {}) } as TF.serialization.ConfigDict),
      inPlace: c.inPlace,
    };
  }

  /** Rebuilds an unbound optimizer from {@link TfjsOptimizer.getConfig} (called by tfjs serialization). */
  static override fromConfig<T extends TF.serialization.Serializable>(cls: TF.serialization.SerializableConstructor<T>, config: TF.serialization.ConfigDict): T {
    const ctx = `${LABEL}.fromConfig`;
    const c = checkOptions(ctx, config);
    if (typeof c.optimizer !== 'string' || OPTIMIZERS[c.optimizer] === undefined) {
      throw new RangeError(`${ctx}: expected optimizer to be one of ${Object.keys(OPTIMIZERS).join(', ')}, received ${describeValue(c.optimizer)}`);
    }
    const la = c.lookahead as { k?: unknown; alpha?: unknown } | null | undefined;
    const lookahead = la == null ? null : { k: checkNumber(ctx, 'lookahead.k', la.k, { integer: true, min: 1 }), alpha: checkNumber(ctx, 'lookahead.alpha', la.alpha, { min: 0 }) };
    const cfg: Config = {
      optimizer: c.optimizer,
      skipNonFinite: c.skipNonFinite === undefined ? false : checkBoolean(ctx, 'skipNonFinite', c.skipNonFinite),
      lookahead,
      clipGradNorm: checkClip(ctx, fromJsonClip(c.clipGradNorm)),
      inPlace: c.inPlace === undefined ? false : checkBoolean(ctx, 'inPlace', c.inPlace),
    };
    return new (cls as unknown as typeof TfjsOptimizer)(UNBOUND, cfg) as unknown as T;
  }

  #disposeSaved(): void {
    for (const w of this.#saved) w.tensor.dispose();
    this.#saved = [];
  }

  /** Frees the wrapped optimizer's state and the tensors of the last `getWeights()`. */
  override dispose(): void {
    this.#disposeSaved();
    this.#stepper?.dispose();
    super.dispose();
  }
}

tf.serialization.registerClass(TfjsOptimizer);
