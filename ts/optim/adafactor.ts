/**
 * Adafactor, as `torch.optim.Adafactor` (torch 2.15): second moments factored into row and
 * column statistics for parameters of two or more dimensions, a relative step size, update
 * clipping.
 * @module
 */
import { createNativeAdafactor, mapNativeError, type NativeAdafactor } from '../native.js';
import { Parameter } from '../tensor.js';
import { checkKnownFields, checkKnownKeys, checkNumber, checkOptions, describeValue } from '../validate.js';
import { decodeBuffer, disposedError, encodeFloat, type LoadStateDictOptions, type OptimizerStateDict, type ParamsInput, type ZeroGradOptions } from './optimizer.js';
import { checkGroupArray, checkStateDictShape, checkZeroGrad, clearGrads, cloneOption, groupInput, groupInputs, mergeOptions, savedGroup, savedGroupOptions, savedGroupsMatch, setToNoneOption, stateEntries, stateKeys, strictOption } from './groups.js';
import { optionName } from './options.js';
import { flag, nonNegative, numberIn, validateOptions, type OptionSpec } from './descriptor.js';

/**
 * Options of {@link Adafactor}; every field is optional. Names are torch's in camelCase
 * (`beta2_decay` → `beta2Decay`); torch's `foreach` has no counterpart (one native step does
 * every parameter).
 * @group Optimizers
 * @category Options and defaults
 */
export interface AdafactorOptions {
  /** The largest relative step size ρ (ρₜ = min(lr, 1/√t)) and the factor of the decoupled weight decay (a finite number >= 0). @defaultValue 1e-2 */
  lr?: number;
  /** τ of the second moments' weight 1 − β2ₜ = t^τ (a finite number <= 0). @defaultValue -0.8 */
  beta2Decay?: number;
  /**
   * `[ε1, ε2]`: ε1 floors mean(R) and, squared, the variance estimate (a number >= 0 whose square
   * fits in float32, or `null` for float32's machine epsilon 2⁻²³); ε2 floors RMS(θ) in the step
   * size (a finite number >= 0).
   * @defaultValue [null, 1e-3]
   */
  eps?: readonly [number | null, number];
  /** Clipping threshold d: the update is scaled down when its RMS exceeds d (a finite number >= 1). @defaultValue 1 */
  d?: number;
  /** Decoupled weight decay λ: θ ← θ·(1 − lr·λ) (a finite number >= 0). @defaultValue 0 */
  weightDecay?: number;
  /** Maximize the objective instead of minimizing it. @defaultValue false */
  maximize?: boolean;
}

/**
 * PyTorch's defaults of Adafactor. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ADAFACTOR_DEFAULTS.beta2Decay; // -0.8
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const ADAFACTOR_DEFAULTS: Readonly<Required<AdafactorOptions>> = Object.freeze({
  lr: 1e-2,
  beta2Decay: -0.8,
  eps: Object.freeze([null, 1e-3]) as readonly [number | null, number],
  d: 1,
  weightDecay: 0,
  maximize: false,
});

/**
 * Adafactor's numeric and boolean options as the registry's descriptors give theirs (default and
 * valid range), for tools that list or search options (`ferroptim tune`). `eps`, a pair whose
 * first element may be `null`, is not among them.
 * @example
 * ```ts
 * ADAFACTOR_OPTIONS.beta2Decay.range; // { max: 0 }
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const ADAFACTOR_OPTIONS: Readonly<Record<'lr' | 'beta2Decay' | 'd' | 'weightDecay' | 'maximize', OptionSpec>> = Object.freeze({
  lr: nonNegative(ADAFACTOR_DEFAULTS.lr),
  beta2Decay: numberIn(ADAFACTOR_DEFAULTS.beta2Decay, { max: 0 }),
  d: numberIn(ADAFACTOR_DEFAULTS.d, { min: 1 }),
  weightDecay: nonNegative(ADAFACTOR_DEFAULTS.weightDecay),
  maximize: flag(ADAFACTOR_DEFAULTS.maximize),
});

const OPTION_KEYS = Object.keys(ADAFACTOR_DEFAULTS);
const LABEL = 'Adafactor';
/** float32's machine epsilon, torch.finfo(torch.float32).eps: ε1 when it is null. */
const FLOAT32_EPS = 2 ** -23;
/** The largest finite float32: ε1² beyond it fails in torch (and cannot floor anything). */
const FLOAT32_MAX = 3.4028234663852886e38;
/** The per-parameter scalars the native step takes, in its order (checked against it once). */
const NATIVE_HYPER = ['weight', 'rho', 'eps1', 'eps2', 'd', 'decay', 'weight_decay', 'maximize'];
const EMPTY = new Float32Array(0);

/**
 * A live Adafactor param group: its parameters and every option (a scheduler may change `lr`
 * between steps; every option is checked again at each step).
 * @group Optimizers
 * @category Base class and parameters
 */
export type AdafactorParamGroup = Required<AdafactorOptions> & {
  /** The group's parameters, in the order given. */
  params: Parameter[];
  /** The group's lr when a scheduler first took it over (PyTorch's `initial_lr`). */
  initialLr?: number;
};

/**
 * One parameter's Adafactor state, as a state dict holds it: the step counter and, for a
 * parameter of two or more dimensions `[..., rows, cols]`, `rowVar` (torch's `row_var`, shape
 * `[..., rows, 1]`) and `colVar` (`col_var`, `[..., 1, cols]`), otherwise `variance` (the
 * parameter's shape). Buffers are flat, row-major; -0, NaN and infinities are the strings
 * `"-0"`, `"NaN"`, `"Infinity"`, `"-Infinity"`.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface AdafactorStateEntry {
  /** Steps taken by this parameter (a float32 count, as torch's `step` tensor). */
  step: number;
  /** Row statistics (factored parameters). */
  rowVar?: Array<number | string>;
  /** Column statistics (factored parameters). */
  colVar?: Array<number | string>;
  /** Second moments (parameters of 0 or 1 dimension). */
  variance?: Array<number | string>;
}

/** How a parameter is laid out for the native step. */
interface Layout {
  factored: boolean;
  batch: number;
  rows: number;
  cols: number;
}

/** A parameter's live state. */
interface State {
  step: number;
  /** rowVar (factored) or variance. */
  first: Float32Array;
  /** colVar (factored) or empty. */
  second: Float32Array;
}

function layoutOf(p: Parameter): Layout {
  const s = p.shape;
  if (s.length < 2) return { factored: false, batch: 1, rows: 1, cols: p.numel };
  let batch = 1;
  for (let i = 0; i < s.length - 2; i++) batch *= s[i]!;
  return { factored: true, batch, rows: s[s.length - 2]!, cols: s[s.length - 1]! };
}

/** Checks a group's options (`where`: `options`, `param group 1`, ...); returns them. */
function checkGroupOptions(ctx: string, g: Record<string, unknown>, where: string): Required<AdafactorOptions> {
  const name = (k: string) => optionName(k, where);
  validateOptions(ctx, ADAFACTOR_OPTIONS, g, where);
  const eps = g.eps;
  const pairText = `a pair [eps1, eps2] (eps1 a number >= 0 or null for float32's machine epsilon, eps2 a finite number >= 0)`;
  if (!Array.isArray(eps)) throw new TypeError(`${ctx}: expected ${name('eps')} to be ${pairText}, received ${describeValue(eps)}`);
  if (eps.length !== 2) throw new RangeError(`${ctx}: expected ${name('eps')} to be ${pairText}, received ${describeValue(eps)}`);
  if (eps[0] !== null) {
    const e1 = checkNumber(ctx, name('eps[0]'), eps[0], { min: 0 });
    if (!(e1 * e1 <= FLOAT32_MAX)) {
      throw new RangeError(`${ctx}: expected ${name('eps[0]')} to be at most ${Math.sqrt(FLOAT32_MAX)} (its square floors a float32 variance; torch fails beyond it), received ${describeValue(e1)}`);
    }
  }
  checkNumber(ctx, name('eps[1]'), eps[1], { min: 0 });
  return g as unknown as Required<AdafactorOptions>;
}

/**
 * The scalars of one parameter's step, in f64 as torch's Python floats: the lerp weight
 * 1 − β2ₜ = t^τ and ρₜ = min(lr, 1/√t) (Python's `min`: lr unless 1/√t is smaller).
 */
function stepScalars(step: number, g: Required<AdafactorOptions>): { weight: number; rho: number } {
  const inv = 1 / Math.sqrt(step);
  return { weight: Math.pow(step, g.beta2Decay), rho: inv < g.lr ? inv : g.lr };
}

/**
 * Adafactor, as `torch.optim.Adafactor` of torch 2.15 (its `_single_tensor_adafactor`, also its
 * default), in one native step for every parameter.
 *
 * @remarks
 * ```text
 * g ← −g if maximize
 * t ← t + 1;  ρ ← min(γ, 1/√t);  w ← t^τ                          (τ = beta2Decay)
 * α ← max(ε2, RMS(θ))·ρ                                            (θ before the decay)
 * θ ← θ·(1 − γλ)                                                   (when λ ≠ 0)
 * 2 or more dims [..., rows, cols] (the leading dims are a batch of matrices):
 *   R ← lerp(R, mean_j g², w)              one value per row     (rowVar, [..., rows, 1])
 *   C ← lerp(C, mean_i g², w)              one value per column  (colVar, [..., 1, cols])
 *   V̂ ← R·C / max(mean(R), ε1)             per matrix
 * 0 or 1 dims:
 *   V ← lerp(V, g², w);  V̂ ← V                                      (variance)
 * U ← g / √max(V̂, ε1²)
 * θ ← θ − α·U / max(1, RMS(U)/d)
 * ```
 * γ is the group's `lr`, λ its `weightDecay`; ε1 is float32's machine epsilon 2⁻²³ when
 * `eps[0]` is null. A parameter's `shape` decides: two or more dimensions are factored (memory
 * rows + cols per matrix instead of rows·cols), fewer are not. Every parameter keeps its own step
 * counter, which advances only on steps where it has a gradient (a `null` grad is PyTorch's
 * `None`: left out entirely).
 *
 * Numerics: element operations round as torch's float32 tensor code (`lerp_` in ATen's two
 * forms, `rsqrt_` as 1/√x with two roundings, the outer product R·C, one rounding each); α, ρ,
 * the clipping denominator and 1 − γλ are f64 like torch's Python floats, rounded to float32
 * where torch's tensor operation takes them; the step counter is a float32 count as torch's
 * `step` tensor (it stops growing at 2²⁴). The norms ‖θ‖ and ‖U‖ and the row and column sums of
 * g² are summed in f64 in a fixed order (tiles of rows × 4096-column stripes, 32 lanes) and
 * rounded once to float32, so results are the same bits for every thread count and SIMD level;
 * torch sums them in float32 in an order of its own (its ‖θ‖ of a 2048 × 2048 tensor is
 * 1e-4 off in relative terms), and its vectorised kernels fuse `lerp_` and `add_(alpha=)` into
 * FMAs. Against torch 2.15 the fixtures agree within the tolerance measured in
 * `__test__/adafactor.spec.ts`.
 *
 * Deviations from torch: a parameter with no elements is rejected when it is added (torch fails
 * at its first step with a ZeroDivisionError, after updating the parameters before it); options
 * are validated at construction and at every step (torch checks the constructor's values only),
 * and ε1 must have a float32 square (torch fails at the step). There is no `foreach` option
 * (torch's for-loop and foreach paths compute the same math) and no `skipNonFinite`. ρ and
 * RMS(θ) divide by `Math.sqrt` where torch's Python writes `** 0.5`, and t^τ is V8's `Math.pow`:
 * glibc's `pow`, which Python calls, differs from both in the last bit of a double for some
 * steps (`t ** 0.5` for 0.08 % of integers, `t ** -0.8` for 9 %). Each reaches the tensors
 * rounded to float32: t^−0.8 rounds to the same float32 either way for every t ≤ 10⁵, and a
 * last-bit change of α moves −α/denom to the next float32 about once in 2²⁹.
 *
 * The step is one native call: three passes over memory in parallel over fixed tiles (the
 * statistics and Σθ²; ΣU²; the update, which recomputes U rather than storing it), so the step
 * allocates nothing the size of a parameter. Adafactor is not an {@link Optimizer} subclass (its
 * state is not the size of each parameter) and is not in the `OPTIMIZERS` registry; schedulers
 * drive its `paramGroups[i].lr` like any optimizer's.
 *
 * @example
 * ```ts
 * const w = new Parameter(new Float32Array(512 * 256).fill(0.1), { name: 'fc.weight', shape: [512, 256] });
 * const b = new Parameter(new Float32Array(512), { name: 'fc.bias' });
 * const opt = new Adafactor([w, b], { lr: 1e-2, weightDecay: 1e-2 });
 * w.grad!.fill(0.5);
 * opt.step();          // w: 512 + 256 statistics; b: 512 second moments
 * opt.zeroGrad();
 * ```
 * @see Shazeer and Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", ICML 2018 ({@link https://arxiv.org/abs/1804.04235 | arXiv:1804.04235}).
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.Adafactor.html | torch.optim.Adafactor}, the reference followed.
 * @throws TypeError or RangeError from the constructor and `addParamGroup` for bad parameters
 * (an empty one, one given twice), groups or options; from `step` for an option changed to a
 * bad value, a buffer of the wrong length (a detached buffer has length 0) or two buffers that
 * overlap, before anything is written; from `loadStateDict` for a state that does not fit. Error
 * from any method but `parameters()` after `dispose()`.
 * @group Optimizers
 * @category Classes
 */
export class Adafactor {
  /** The default options (PyTorch's, and those given to the constructor). */
  readonly defaults: Readonly<Required<AdafactorOptions>>;
  /** The live parameter groups. */
  readonly paramGroups: AdafactorParamGroup[] = [];
  /** Whether the last `step()` updated the parameters (always true after a step: Adafactor does not skip steps). */
  lastStepApplied = false;

  readonly #native: NativeAdafactor;
  #disposed = false;
  readonly #params: Parameter[] = [];
  readonly #ids = new Map<Parameter, number>();
  readonly #layouts: Layout[] = [];
  /** Each parameter's state by id, null before its first step. */
  readonly #state: Array<State | null> = [];

  constructor(params: ParamsInput<AdafactorOptions>, options?: AdafactorOptions) {
    const opts = checkOptions(LABEL, options);
    checkKnownKeys(LABEL, opts, OPTION_KEYS);
    const defaults: Record<string, unknown> = { ...ADAFACTOR_DEFAULTS, eps: [...ADAFACTOR_DEFAULTS.eps] };
    for (const [k, v] of Object.entries(opts)) if (v !== undefined) defaults[k] = cloneOption(v);
    checkGroupOptions(LABEL, defaults, 'options');
    this.defaults = Object.freeze(defaults as Required<AdafactorOptions>);
    const groups = groupInputs(LABEL, params);
    // Everything is checked before the native object exists.
    const resolved: AdafactorParamGroup[] = [];
    const seen = new Set<Parameter>();
    groups.forEach((g, i) => resolved.push(this.#resolveGroup(g, `param group ${i}`, seen)));
    this.#native = createNativeAdafactor();
    const names = this.#native.hyperNames();
    if (names.join() !== NATIVE_HYPER.join()) {
      throw new Error(`ferroptim internal error (please report): the native Adafactor step takes ${names.join(', ')}, the TypeScript class packs ${NATIVE_HYPER.join(', ')}`);
    }
    resolved.forEach((g) => this.#commitGroup(g));
  }

  /** Checks a group given to the constructor or `addParamGroup`; `seen` collects its parameters. */
  #resolveGroup(input: unknown, where: string, seen: Set<Parameter>): AdafactorParamGroup {
    const { g, members: list } = groupInput(LABEL, where, input, OPTION_KEYS);
    list.forEach((p, i) => {
      if (!(p instanceof Parameter)) throw new TypeError(`${LABEL}: expected ${where}.params[${i}] to be a Parameter, received ${describeValue(p)}`);
      if (seen.has(p) || this.#ids.has(p)) {
        throw new RangeError(`${LABEL}: ${where}.params[${i}] (${p.name ?? 'unnamed'}) is already optimized by this optimizer; each parameter may appear once`);
      }
      if (p.numel === 0) {
        throw new RangeError(`${LABEL}: ${where}.params[${i}] (${p.name ?? 'unnamed'}) has no elements (shape ${describeValue(p.shape)}); torch's Adafactor fails on it with a ZeroDivisionError`);
      }
      seen.add(p);
    });
    const group = mergeOptions(OPTION_KEYS, g, this.defaults);
    checkGroupOptions(LABEL, group, where);
    if (g.initialLr !== undefined) group.initialLr = checkNumber(LABEL, optionName('initialLr', where), g.initialLr, { min: 0 });
    group.params = list;
    return group as AdafactorParamGroup;
  }

  #commitGroup(g: AdafactorParamGroup): void {
    for (const p of g.params) {
      this.#ids.set(p, this.#params.length);
      this.#params.push(p);
      this.#layouts.push(layoutOf(p));
      this.#state.push(null);
    }
    this.paramGroups.push(g);
  }

  /**
   * Adds a parameter group; its missing options take the optimizer's defaults.
   * @throws TypeError or RangeError for bad options, an empty list, an empty parameter or a parameter already present.
   */
  addParamGroup(group: Partial<AdafactorOptions> & { params: readonly Parameter[] }): void {
    this.#live('addParamGroup');
    this.#commitGroup(this.#resolveGroup(group, `param group ${this.paramGroups.length}`, new Set()));
  }

  /** Whether {@link Adafactor.dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** All parameters of all groups, in position order (the order of state dict positions). */
  parameters(): Parameter[] {
    return [...this.#params];
  }

  #live(method: string): void {
    if (this.#disposed) throw disposedError(LABEL, method);
  }

  /** The groups, each checked to be an object with a params array of this optimizer's parameters and valid options. */
  #checkedGroups(ctx: string): AdafactorParamGroup[] {
    const groups = checkGroupArray(ctx, this.paramGroups);
    groups.forEach((g, gi) => {
      g.params.forEach((p, j) => {
        if (!(p instanceof Parameter)) throw new TypeError(`${ctx}: expected param group ${gi}.params[${j}] to be a Parameter, received ${describeValue(p)}`);
        if (!this.#ids.has(p)) {
          throw new RangeError(`${ctx}: param group ${gi}.params[${j}] (${p.name ?? 'unnamed'}) is not registered with this optimizer; add parameters with addParamGroup`);
        }
      });
    });
    return groups;
  }

  /**
   * Applies one Adafactor update to every parameter whose `grad` is not `null`, in one native call.
   *
   * @param closure - optional; called first, its return value (the loss) is returned.
   * @returns the closure's value, if a closure was given.
   * @throws TypeError or RangeError, before anything is written, for a bad group option, a buffer
   * of the wrong length (a detached buffer has length 0) or two buffers that overlap.
   */
  step(closure?: () => number): number | undefined {
    this.#live('step');
    const ctx = `${LABEL}.step`;
    if (closure !== undefined && typeof closure !== 'function') {
      throw new TypeError(`${ctx}: expected closure to be a function or undefined, received ${describeValue(closure)}`);
    }
    const loss = closure === undefined ? undefined : closure();
    const groups = this.#checkedGroups(ctx);
    groups.forEach((g, gi) => checkGroupOptions(ctx, g as unknown as Record<string, unknown>, `param group ${gi}`));
    const ids: number[] = [];
    const groupOf: number[] = [];
    groups.forEach((g, gi) =>
      g.params.forEach((p) => {
        if (p.grad === null) return;
        const id = this.#ids.get(p)!;
        const data = p.data;
        if (data.length !== p.numel || p.grad.length !== p.numel) {
          const [what, len] = data.length !== p.numel ? ['data', data.length] : ['grad', p.grad.length];
          throw new RangeError(`${ctx}: expected ${what} of ${Parameter.describe(p, id)} to have length ${p.numel}, received ${len}${len === 0 ? ' (its buffer was detached or transferred)' : ''}`);
        }
        ids.push(id);
        groupOf.push(gi);
      }),
    );
    const n = ids.length;
    const buffers: Float32Array[] = [];
    const dims = new Uint32Array(4 * n);
    const hyper = new Float64Array(NATIVE_HYPER.length * n);
    const fresh: Array<[number, State]> = [];
    const steps = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const id = ids[k]!;
      const p = this.#params[id]!;
      const g = groups[groupOf[k]!]!;
      const lay = this.#layouts[id]!;
      let st = this.#state[id]!;
      if (st === null) {
        // Created with the step and kept only if it succeeds (torch creates state lazily).
        st = lay.factored
          ? { step: 0, first: new Float32Array(lay.batch * lay.rows), second: new Float32Array(lay.batch * lay.cols) }
          : { step: 0, first: new Float32Array(p.numel), second: EMPTY };
        fresh.push([id, st]);
      }
      // torch's step is a float32 tensor: t + 1 rounds to float32.
      const t = Math.fround(st.step + 1);
      steps[k] = t;
      const { weight, rho } = stepScalars(t, g);
      const h = NATIVE_HYPER.length * k;
      hyper[h] = weight;
      hyper[h + 1] = rho;
      hyper[h + 2] = g.eps[0] ?? FLOAT32_EPS;
      hyper[h + 3] = g.eps[1];
      hyper[h + 4] = g.d;
      hyper[h + 5] = 1 - g.lr * g.weightDecay;
      hyper[h + 6] = g.weightDecay !== 0 ? 1 : 0;
      hyper[h + 7] = g.maximize ? 1 : 0;
      dims[4 * k] = lay.factored ? 1 : 0;
      dims[4 * k + 1] = lay.batch;
      dims[4 * k + 2] = lay.rows;
      dims[4 * k + 3] = lay.cols;
      buffers.push(p.data, p.grad!, st.first, st.second);
    }
    if (n > 0) {
      try {
        this.#native.step(buffers, dims, hyper);
      } catch (e) {
        mapNativeError(e, LABEL, (msg) => msg.replace(/parameter (\d+)/g, (_, i: string) => Parameter.describe(this.#params[ids[Number(i)]!]!, ids[Number(i)]!)));
      }
    }
    for (const [id, st] of fresh) this.#state[id] = st;
    for (let k = 0; k < n; k++) this.#state[ids[k]!]!.step = steps[k]!;
    this.lastStepApplied = true;
    return loss;
  }

  /**
   * Zeroes every gradient in place (parameters whose grad is `null` are left so).
   * With `setToNone: true`, sets every grad to `null` instead (PyTorch's default since 2.0).
   * @throws TypeError for bad options; RangeError, before any gradient changes, if a gradient's
   * buffer was detached.
   */
  zeroGrad(options?: ZeroGradOptions): void {
    const ctx = `${LABEL}.zeroGrad`;
    this.#live('zeroGrad');
    const setToNone = setToNoneOption(ctx, options);
    const groups = this.#checkedGroups(ctx);
    checkZeroGrad(ctx, groups, setToNone, (p) => this.#ids.get(p)!);
    clearGrads(groups.flatMap((g) => g.params), setToNone);
  }

  /**
   * Frees the optimizer's state now instead of when the garbage collector finds it unreachable;
   * every later `step`, `zeroGrad`, `stateDict`, `loadStateDict` or `addParamGroup` throws an
   * Error. Calling it again does nothing; `[Symbol.dispose]` calls it.
   * @example
   * ```ts
   * using opt = new Adafactor(params);
   * ```
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#native.dispose();
    this.#state.fill(null);
  }

  /** Calls {@link Adafactor.dispose}, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The state keys of the parameters, by position: names when all are present and unique. */
  #keys(): string[] {
    return stateKeys(this.#params);
  }

  /**
   * The optimizer's state as plain JSON-serialisable data: per parameter that has taken a step,
   * `{ step, rowVar, colVar }` or `{ step, variance }` ({@link AdafactorStateEntry}), and each
   * group's options. Loading it with {@link Adafactor.loadStateDict} and continuing reproduces an
   * uninterrupted run bit for bit.
   */
  stateDict(): OptimizerStateDict {
    this.#live('stateDict');
    const keys = this.#keys();
    // Keys are parameter names, i.e. data: a null-prototype object keeps "__proto__" an own key.
    const state: OptimizerStateDict['state'] = Object.create(null);
    this.#state.forEach((st, id) => {
      if (st === null) return;
      const entry: AdafactorStateEntry = { step: st.step };
      if (this.#layouts[id]!.factored) {
        entry.rowVar = Array.from(st.first, encodeFloat);
        entry.colVar = Array.from(st.second, encodeFloat);
      } else {
        entry.variance = Array.from(st.first, encodeFloat);
      }
      state[keys[id]!] = entry as OptimizerStateDict['state'][string];
    });
    const paramGroups = this.#checkedGroups(`${LABEL}.stateDict`).map((g) => {
      const out = savedGroup(g, (p) => keys[this.#ids.get(p)!]!, OPTION_KEYS);
      if (g.initialLr !== undefined) out.initialLr = g.initialLr;
      return out;
    });
    return { state, paramGroups };
  }

  /**
   * Loads a state produced by {@link Adafactor.stateDict} (possibly through JSON). Everything is
   * checked before anything changes. Strict loading (the default) requires the same groups with
   * the same parameter keys, rejects unknown keys and clears the state of parameters without an
   * entry; with `strict: false` only entries whose key matches a parameter are loaded, and group
   * options only for groups whose parameter keys match.
   * @throws TypeError or RangeError for a malformed state (a buffer of the wrong length or kind,
   * a value that is not a number or overflows float32, a bad option, a step that is not a float32
   * integer >= 0), a mismatch in strict mode, or bad options.
   */
  loadStateDict(sd: OptimizerStateDict, options?: LoadStateDictOptions): void {
    const ctx = `${LABEL}.loadStateDict`;
    this.#live('loadStateDict');
    const strict = strictOption(ctx, options);
    checkStateDictShape(ctx, sd);
    const ours = this.#checkedGroups(ctx);
    const keys = this.#keys();
    const idOf = new Map(keys.map((k, i) => [k, i]));
    const structureMatches = savedGroupsMatch(ctx, sd.paramGroups, ours, (p) => keys[this.#ids.get(p)!], strict);
    const groupPlan: Array<[number, Record<string, unknown>]> = [];
    if (structureMatches) {
      sd.paramGroups.forEach((saved, i) => groupPlan.push([i, savedGroupOptions(ctx, saved, i, strict, OPTION_KEYS, ours[i]!, checkGroupOptions)]));
    }
    const statePlan: Array<[number, State]> = [];
    for (const [id, where, e] of stateEntries(ctx, sd.state, idOf, strict)) {
      const step = checkNumber(ctx, `${where}.step`, e.step, { integer: true, min: 0 });
      if (Math.fround(step) !== step) throw new RangeError(`${ctx}: expected ${where}.step to be a float32 integer (torch's step is a float32 tensor), received ${describeValue(step)}`);
      const lay = this.#layouts[id]!;
      const want = lay.factored ? ['rowVar', 'colVar'] : ['variance'];
      if (strict) checkKnownFields(ctx, where, e, ['step', ...want]);
      for (const k of want) {
        if (e[k] === undefined) {
          throw new RangeError(`${ctx}: ${where} lacks ${k} (a parameter of shape ${describeValue(this.#params[id]!.shape)} keeps ${want.join(' and ')})`);
        }
      }
      const st: State = lay.factored
        ? { step, first: decodeBuffer(ctx, `${where}.rowVar`, e.rowVar, lay.batch * lay.rows), second: decodeBuffer(ctx, `${where}.colVar`, e.colVar, lay.batch * lay.cols) }
        : { step, first: decodeBuffer(ctx, `${where}.variance`, e.variance, this.#params[id]!.numel), second: EMPTY };
      statePlan.push([id, st]);
    }
    // Commit.
    for (const [i, merged] of groupPlan) Object.assign(ours[i]!, merged);
    if (strict) this.#state.fill(null);
    for (const [id, st] of statePlan) this.#state[id] = st;
  }
}
