/**
 * Muon: momentum orthogonalized by Newton–Schulz, for the 2-D weights of hidden layers; and
 * {@link splitMuonParams}, which picks those weights out of a model's parameters.
 * @module
 */
import { createNativeMuon, mapNativeError, type NativeMuon } from '../native.js';
import { Parameter } from '../tensor.js';
import { optionName } from './options.js';
import { flag, nonNegative, numberIn, validateOptions, type OptionSpec } from './descriptor.js';
import { checkKnownKeys, checkNumber, checkOptions, describeValue } from '../validate.js';
import {
  decodeBuffer,
  disposedError,
  encodeFloat,
  type LoadStateDictOptions,
  type OptimizerStateDict,
  type ParamGroupInput,
  type ParamStateEntry,
  type ParamsInput,
  type ZeroGradOptions,
} from './optimizer.js';
import { checkGroupArray, checkStateDictShape, checkZeroGrad, clearGrads, cloneOption, groupInput, groupInputs, mergeOptions, savedGroup, savedGroupOptions, savedGroupsMatch, setToNoneOption, stateEntries, stateKeys, strictOption } from './groups.js';

/**
 * How Muon scales the learning rate by the shape `[rows, cols]` of each matrix (torch's
 * `adjust_lr_fn`): `'original'` γ·√max(1, rows/cols) (Keller Jordan's, torch's default `None`),
 * `'match_rms_adamw'` γ·0.2·√max(rows, cols) (Moonshot's, to reuse AdamW's lr and weight decay),
 * `'spectral_unclamped'` γ·√(rows/cols) (Bernstein's). `null` is `'original'`, as torch's `None`.
 * @group Optimizers
 * @category Options and defaults
 */
export type MuonAdjustLrFn = 'original' | 'match_rms_adamw' | 'spectral_unclamped';

/**
 * Options of {@link Muon}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface MuonOptions {
  /** Learning rate γ (>= 0), before the shape adjustment of `adjustLrFn`. @defaultValue 1e-3 */
  lr?: number;
  /** Decoupled weight decay λ (>= 0): θ ← θ·(1 − γλ) before the update, with the unadjusted γ. @defaultValue 0.1 */
  weightDecay?: number;
  /** Momentum μ (>= 0): M ← μ·M + (1 − μ)·G. @defaultValue 0.95 */
  momentum?: number;
  /** Orthogonalize G + μ·(M − G) (Nesterov) instead of M. @defaultValue true */
  nesterov?: boolean;
  /** The coefficients (a, b, c) of the quintic Newton–Schulz iteration, finite numbers. @defaultValue [3.4445, -4.775, 2.0315] */
  nsCoefficients?: readonly [number, number, number];
  /** The floor ε (>= 0) of the Frobenius norm the update is divided by. @defaultValue 1e-7 */
  eps?: number;
  /** Newton–Schulz iterations per step, an integer in [0, 99]. @defaultValue 5 */
  nsSteps?: number;
  /** The learning-rate adjustment by shape (see {@link MuonAdjustLrFn}). @defaultValue 'original' */
  adjustLrFn?: MuonAdjustLrFn | null;
}

/**
 * The resolved options of a Muon param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type MuonGroupOptions = Required<MuonOptions>;

/**
 * A live Muon param group: its parameters and every option (see `ParamGroup`).
 * @group Optimizers
 * @category Options and defaults
 */
export type MuonParamGroup = MuonGroupOptions & {
  /** The group's parameters, in the order given; each has a 2-D shape. */
  params: Parameter[];
  /** The group's lr when a scheduler first took it over (PyTorch's `initial_lr`). */
  initialLr?: number;
};

/**
 * torch.optim.Muon's defaults (torch 2.15). Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * MUON_DEFAULTS.nsCoefficients; // [3.4445, -4.775, 2.0315]
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const MUON_DEFAULTS: Readonly<MuonGroupOptions> = Object.freeze({
  lr: 1e-3,
  weightDecay: 0.1,
  momentum: 0.95,
  nesterov: true,
  nsCoefficients: Object.freeze([3.4445, -4.775, 2.0315]) as unknown as readonly [number, number, number],
  eps: 1e-7,
  nsSteps: 5,
  adjustLrFn: 'original',
});

/**
 * Muon's numeric and boolean options as the registry's descriptors give theirs (default and valid
 * range), for tools that list or search options (`ferroptim tune`). `nsCoefficients` and
 * `adjustLrFn` are not among them.
 * @example
 * ```ts
 * MUON_OPTIONS.nsSteps.range; // { integer: true, min: 0, max: 99 }
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const MUON_OPTIONS: Readonly<Record<'lr' | 'weightDecay' | 'momentum' | 'nesterov' | 'eps' | 'nsSteps', OptionSpec>> = Object.freeze({
  lr: nonNegative(MUON_DEFAULTS.lr),
  weightDecay: nonNegative(MUON_DEFAULTS.weightDecay),
  momentum: nonNegative(MUON_DEFAULTS.momentum),
  nesterov: flag(MUON_DEFAULTS.nesterov),
  eps: nonNegative(MUON_DEFAULTS.eps),
  nsSteps: numberIn(MUON_DEFAULTS.nsSteps, { integer: true, min: 0, max: 99 }),
});

const LABEL = 'Muon';
const OPTION_KEYS = Object.keys(MUON_DEFAULTS) as Array<keyof MuonGroupOptions>;
const ADJUST: readonly MuonAdjustLrFn[] = ['original', 'match_rms_adamw', 'spectral_unclamped'];

/** Checks a group's options (`where` names it in messages); returns the packed native values. */
function checkGroup(ctx: string, g: Record<string, unknown>, where: string): number[] {
  const name = (k: string) => optionName(k, where);
  validateOptions(ctx, MUON_OPTIONS, g, where);
  const [lr, wd, momentum, nesterov, eps, steps] = [g.lr, g.weightDecay, g.momentum, g.nesterov, g.eps, g.nsSteps] as [number, number, number, boolean, number, number];
  const ns = g.nsCoefficients;
  if (!Array.isArray(ns)) throw new TypeError(`${ctx}: expected ${name('nsCoefficients')} to be an array of 3 finite numbers, received ${describeValue(ns)}`);
  if (ns.length !== 3) throw new RangeError(`${ctx}: expected ${name('nsCoefficients')} to be an array of 3 finite numbers, received ${describeValue(ns)}`);
  ns.forEach((c, i) => checkNumber(ctx, name(`nsCoefficients[${i}]`), c));
  const fn = g.adjustLrFn;
  if (fn !== null && !ADJUST.includes(fn as MuonAdjustLrFn)) {
    const what = typeof fn === 'string' ? RangeError : TypeError;
    throw new what(`${ctx}: expected ${name('adjustLrFn')} to be 'original', 'match_rms_adamw', 'spectral_unclamped' or null, received ${describeValue(fn)}`);
  }
  const adjust = fn === null ? 0 : ADJUST.indexOf(fn as MuonAdjustLrFn);
  return [lr, wd, momentum, nesterov ? 1 : 0, ns[0] as number, ns[1] as number, ns[2] as number, eps, steps, adjust];
}

/** Values per group in the native step's `hyper` (the kernel's `HYPER`). */
const HYPER_LEN = 10;

/** A parameter's state: steps taken and its momentum buffer (null before its first step). */
interface MuonParamState {
  step: number;
  momentumBuffer: Float32Array | null;
}


/**
 * Muon, exactly as `torch.optim.Muon` (torch 2.15): SGD momentum whose update is replaced by the
 * nearest semi-orthogonal matrix, found by a Newton–Schulz iteration in bfloat16.
 *
 * @remarks
 * ```text
 * M ← lerp(M, G, 1 − μ)                    momentum buffer (μ·M + (1 − μ)·G)
 * U ← lerp(G, M, μ) if nesterov, else M
 * X ← bf16(U), transposed when rows > cols (so X is m × n with m ≤ n)
 * X ← bf16(X / max(bf16(‖X‖_F), ε))
 * nsSteps times:  A ← bf16(X·Xᵀ);  B ← bf16(c·(A·A) + b·A);  X ← bf16(a·X + B·X)
 * θ ← θ·(1 − γλ)                           decoupled weight decay
 * θ ← θ − γ'·X                             γ' = adjustLrFn(γ, rows, cols)
 * ```
 * Muon is for the 2-D weights of hidden layers: every parameter must have a 2-D `shape`
 * (`new Parameter(data, { shape: [rows, cols] })`, as the nn layers give their weights).
 * Biases, gains, embeddings and the output layer go to AdamW; {@link splitMuonParams} splits a
 * model's parameters that way. A convolution's 4-D weight is rejected, as torch rejects it; see
 * {@link splitMuonParams} for the reshape Keller Jordan's implementation applies.
 *
 * Each `step()` is one native call for all parameters: the momentum, the conversion to
 * bfloat16, the Newton–Schulz products (matrixmultiply's f32 GEMM on bfloat16 values, tiles
 * spread over the thread pool, only the upper half of the symmetric products X·Xᵀ and A·A
 * multiplied) and the update. State per parameter: `momentumBuffer`, and `step` (which torch
 * does not keep and the update does not use). `paramGroups` drive the LR schedulers as for any
 * optimizer.
 *
 * How close to torch: everything torch rounds to bfloat16 is rounded here at the same place
 * (round to nearest even), the lerps and the final `add_` are fused multiply-adds as ATen
 * computes them, so the momentum buffer and the matrix entering Newton–Schulz are torch's bits,
 * and the two `addmm`s round their scaled sums as oneDNN does.
 * Products of bfloat16 values are exact in float32, and both implementations add them in
 * float32, but in different orders (torch uses oneDNN's bfloat16 GEMM): a sum that lands within
 * its rounding error of a bfloat16 rounding boundary rounds the other way, and Newton–Schulz
 * amplifies such rare flips over its iterations, so the orthogonalized update differs from
 * torch's by a few bfloat16 ulps in some elements (up to about 2% of the update's largest
 * element). Deviations: the norm ‖X‖ is summed in float64 (torch: float32, before rounding it
 * to bfloat16 too); `nsSteps` must be an integer in [0, 99] (torch also accepts negative
 * counts, which run no iteration); the results do not depend on the thread count or SIMD level,
 * but on CPUs without FMA (before 2013) a product of two matrix elements below 2^−126 is
 * rounded before it is added.
 *
 * @example
 * ```ts
 * const w = new Parameter(new Float32Array(256 * 128).fill(0.01), { name: 'fc.weight', shape: [256, 128] });
 * const opt = new Muon([w], { lr: 0.02, momentum: 0.95 });
 * w.grad!.fill(0.5);
 * opt.step();
 * ```
 * @see Jordan et al., "Muon: An optimizer for hidden layers in neural networks" ({@link https://kellerjordan.github.io/posts/muon/ | kellerjordan.github.io/posts/muon}); Liu et al., "Muon is Scalable for LLM Training" ({@link https://arxiv.org/abs/2502.16982 | arXiv:2502.16982}).
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.Muon.html | torch.optim.Muon}, the reference followed.
 * @throws TypeError or RangeError from the constructor for a bad option, an empty or duplicated
 * parameter list, or a parameter whose shape is not 2-D (naming it); from `step` for an option
 * changed to a bad value or a detached buffer; from `loadStateDict` for a state that does not
 * fit. Error from any method but `parameters()` after `dispose()`.
 * @group Optimizers
 * @category Classes
 */
export class Muon {
  /** The default options, torch's unless given to the constructor. */
  readonly defaults: Readonly<MuonGroupOptions>;
  /** The live parameter groups; options may be changed between steps (checked at each step). */
  readonly paramGroups: MuonParamGroup[] = [];
  /** Whether the last `step()` updated the parameters (always, once a step has run: Muon skips no step). */
  lastStepApplied = false;

  readonly #native: NativeMuon;
  #disposed = false;
  readonly #params: Parameter[] = [];
  readonly #state = new Map<Parameter, MuonParamState>();

  constructor(params: ParamsInput<MuonOptions>, options?: MuonOptions) {
    const opts = checkOptions(LABEL, options);
    checkKnownKeys(LABEL, opts, OPTION_KEYS);
    const defaults: Record<string, unknown> = { ...MUON_DEFAULTS, nsCoefficients: [...MUON_DEFAULTS.nsCoefficients] };
    for (const k of OPTION_KEYS) if (opts[k] !== undefined) defaults[k] = cloneOption(opts[k]);
    checkGroup(LABEL, defaults, 'options');
    this.defaults = Object.freeze(defaults as unknown as MuonGroupOptions);
    const groups = groupInputs(LABEL, params) as unknown as ParamGroupInput<MuonOptions>[];
    this.#native = createNativeMuon();
    groups.forEach((g) => this.addParamGroup(g));
  }

  /**
   * Adds a parameter group; its missing options take the defaults.
   * @throws TypeError or RangeError for bad options, an empty list, a parameter already present
   * or one whose shape is not 2-D.
   */
  addParamGroup(group: ParamGroupInput<MuonOptions>): void {
    this.#live('addParamGroup');
    const where = `param group ${this.paramGroups.length}`;
    const { g, members } = groupInput(LABEL, where, group, OPTION_KEYS);
    const local = new Set<Parameter>();
    members.forEach((p, i) => {
      if (!(p instanceof Parameter)) throw new TypeError(`${LABEL}: expected ${where}.params[${i}] to be a Parameter, received ${describeValue(p)}`);
      const who = `${where}.params[${i}]${p.name === undefined ? '' : ` (${JSON.stringify(p.name)})`}`;
      if (local.has(p) || this.#state.has(p)) throw new RangeError(`${LABEL}: ${who} is already optimized by this optimizer; each parameter may appear once`);
      if (p.shape.length !== 2) {
        throw new RangeError(
          `${LABEL}: expected ${who} to be a matrix (a Parameter with shape [rows, cols]), received shape ${describeValue([...p.shape])}; Muon only supports 2-D parameters: optimize biases, gains, embeddings and the output layer with AdamW (see splitMuonParams)`,
        );
      }
      local.add(p);
    });
    const live = mergeOptions(OPTION_KEYS, g, this.defaults);
    checkGroup(LABEL, live, where);
    if (g.initialLr !== undefined) live.initialLr = checkNumber(LABEL, `initialLr (${where})`, g.initialLr, { min: 0 });
    live.params = members;
    for (const p of members as Parameter[]) {
      this.#state.set(p, { step: 0, momentumBuffer: null });
      this.#params.push(p);
    }
    this.paramGroups.push(live as MuonParamGroup);
  }

  /** The param groups, each checked to still be an object with a `params` array (they are live). */
  #checkedGroups(method: string): MuonParamGroup[] {
    return checkGroupArray(`${LABEL}.${method}`, this.paramGroups);
  }

  /** A parameter registered with this optimizer, checked; `where` names it in messages. */
  #registered(ctx: string, p: unknown, where: string): MuonParamState {
    if (!(p instanceof Parameter)) throw new TypeError(`${ctx}: expected ${where} to be a Parameter, received ${describeValue(p)}`);
    const st = this.#state.get(p);
    if (st === undefined) throw new RangeError(`${ctx}: ${where} (${p.name ?? 'unnamed'}) is not registered with this optimizer; add parameters with addParamGroup`);
    return st;
  }

  /**
   * One Muon step for every parameter whose `grad` is not `null`, in one native call.
   *
   * @param closure - optional; called first, its return value (the loss) is returned.
   * @returns the closure's value, if a closure was given.
   * @throws TypeError or RangeError, before anything is written, for a bad group option, a buffer
   * that is not a Float32Array, a length mismatch (a detached buffer has length 0) or two buffers
   * that overlap.
   */
  step(closure?: () => number): number | undefined {
    this.#live('step');
    if (closure !== undefined && typeof closure !== 'function') {
      throw new TypeError(`${LABEL}: expected closure to be a function or undefined, received ${describeValue(closure)}`);
    }
    const loss = closure === undefined ? undefined : closure();
    const groups = this.#checkedGroups('step');
    const hyper = new Float64Array(groups.length * HYPER_LEN);
    const buffers: Float32Array[] = [];
    const shapes: number[] = [];
    const groupOf: number[] = [];
    const stepped: MuonParamState[] = [];
    const fresh = new Map<MuonParamState, Float32Array>();
    groups.forEach((g, gi) => {
      hyper.set(checkGroup(LABEL, g as unknown as Record<string, unknown>, `param group ${gi}`), gi * HYPER_LEN);
      g.params.forEach((p, j) => {
        const st = this.#registered(LABEL, p, `param group ${gi}.params[${j}]`);
        const grad = p.grad;
        if (grad === null) return;
        const data = p.data;
        if (data.length !== p.numel || grad.length !== p.numel) {
          const which = data.length !== p.numel ? 'data' : 'grad';
          const len = which === 'data' ? data.length : grad.length;
          throw new RangeError(
            `${LABEL}: expected ${which} of ${Parameter.describe(p, this.#params.indexOf(p))} to have length ${p.numel}, received ${len}${len === 0 ? ' (its buffer was detached or transferred)' : ''}`,
          );
        }
        // torch creates the buffer (zeros) in the step that first uses it; kept if the step succeeds.
        let buf = st.momentumBuffer;
        if (buf === null) {
          buf = new Float32Array(p.numel);
          fresh.set(st, buf);
        }
        buffers.push(data, grad, buf);
        shapes.push(p.shape[0]!, p.shape[1]!);
        groupOf.push(gi);
        stepped.push(st);
      });
    });
    try {
      this.#native.step(buffers, Uint32Array.from(shapes), Uint32Array.from(groupOf), hyper);
    } catch (e) {
      const ps = groups.flatMap((g) => g.params.filter((p) => p.grad !== null));
      mapNativeError(e, LABEL, (msg) => msg.replace(/parameter (\d+)/g, (_, i: string) => Parameter.describe(ps[Number(i)]!, this.#params.indexOf(ps[Number(i)]!))));
    }
    for (const [st, buf] of fresh) st.momentumBuffer = buf;
    for (const st of stepped) st.step++;
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
    const groups = this.#checkedGroups('zeroGrad');
    checkZeroGrad(ctx, groups, setToNone, (_, j) => j);
    clearGrads(groups.flatMap((g) => g.params), setToNone);
  }

  /** All parameters of all groups, in position order (the order of `stateDict` positions). */
  parameters(): Parameter[] {
    return [...this.#params];
  }

  /** Whether {@link Muon.dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Frees the momentum buffers and the native Newton–Schulz scratch (sized for the largest
   * parameter: 8·rows·cols + 8·min(rows, cols)² bytes) now; every later `step`, `zeroGrad`,
   * `stateDict`, `loadStateDict` or `addParamGroup` throws an Error. Calling it again does
   * nothing; `[Symbol.dispose]` calls it.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#native.dispose();
    for (const st of this.#state.values()) st.momentumBuffer = null;
  }

  /** Calls {@link Muon.dispose}, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #live(method: string): void {
    if (this.#disposed) throw disposedError(LABEL, method);
  }

  /** The state keys of the parameters, by position: names when all are present and unique. */
  #keys(): string[] {
    return stateKeys(this.#params);
  }

  /** Each parameter's state key (`keys` as #keys() lists them), for lookups by parameter. */
  #keyOf(keys: string[]): Map<Parameter, string> {
    return new Map(this.#params.map((p, i) => [p, keys[i]!]));
  }

  /**
   * The optimizer's state as plain JSON-serialisable data: per parameter, `step` and
   * `momentumBuffer` (-0, NaN and infinities as the strings `"-0"`, `"NaN"`, `"Infinity"`,
   * `"-Infinity"`), and each group's options. Loading it with {@link Muon.loadStateDict} and
   * continuing reproduces an uninterrupted run bit for bit.
   */
  stateDict(): OptimizerStateDict {
    this.#live('stateDict');
    const keys = this.#keys();
    const keyOf = this.#keyOf(keys);
    const state: Record<string, ParamStateEntry> = Object.create(null);
    this.#params.forEach((p, i) => {
      const st = this.#state.get(p)!;
      if (st.step === 0 && st.momentumBuffer === null) return;
      const entry: ParamStateEntry = { step: st.step };
      if (st.momentumBuffer !== null) entry.momentumBuffer = Array.from(st.momentumBuffer, encodeFloat);
      state[keys[i]!] = entry;
    });
    const paramGroups = this.#checkedGroups('stateDict').map((g, gi) => {
      checkGroup(`${LABEL}.stateDict`, g as unknown as Record<string, unknown>, `param group ${gi}`);
      const out = savedGroup(g, (p) => keyOf.get(p)!, OPTION_KEYS);
      if (g.initialLr !== undefined) out.initialLr = checkNumber(`${LABEL}.stateDict`, `initialLr of param group ${gi}`, g.initialLr, { min: 0 });
      return out;
    });
    return { state, paramGroups };
  }

  /**
   * Loads a state produced by {@link Muon.stateDict} (possibly through JSON). Everything is
   * checked before anything changes. `strict` (the default) requires the same groups with the
   * same parameter keys, rejects unknown keys and clears the state of parameters without an
   * entry; with `strict: false` only what matches is loaded.
   * @throws TypeError or RangeError for a malformed state (a buffer of the wrong length, a value
   * that is not a number or overflows float32, a bad option, a step that is not an integer >= 0),
   * a mismatch in strict mode, or bad options.
   */
  loadStateDict(sd: OptimizerStateDict, options?: LoadStateDictOptions): void {
    const ctx = `${LABEL}.loadStateDict`;
    this.#live('loadStateDict');
    const strict = strictOption(ctx, options);
    checkStateDictShape(ctx, sd);
    const ours = this.#checkedGroups('loadStateDict');
    const keys = this.#keys();
    const idOf = new Map(keys.map((k, i) => [k, i]));
    const keyOf = this.#keyOf(keys);
    const structureMatches = savedGroupsMatch(ctx, sd.paramGroups, ours, (p) => keyOf.get(p), strict);
    const groupPlan: Array<[number, Record<string, unknown>]> = [];
    if (structureMatches) {
      sd.paramGroups.forEach((saved, i) => groupPlan.push([i, savedGroupOptions(ctx, saved, i, strict, OPTION_KEYS, ours[i]!, checkGroup)]));
    }
    const statePlan: Array<[Parameter, number, Float32Array | null]> = [];
    for (const [id, where, entry] of stateEntries(ctx, sd.state, idOf, strict)) {
      const step = checkNumber(ctx, `${where}.step`, entry.step, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
      let buf: Float32Array | null = null;
      for (const [name, value] of Object.entries(entry)) {
        if (name === 'step') continue;
        if (name !== 'momentumBuffer') {
          if (strict) throw new RangeError(`${ctx}: ${where} has an unknown buffer ${JSON.stringify(name)} (expected momentumBuffer)`);
          continue;
        }
        buf = decodeBuffer(ctx, `${where}.momentumBuffer`, value, this.#params[id]!.numel);
      }
      statePlan.push([this.#params[id]!, step, buf]);
    }
    // Commit.
    for (const [i, merged] of groupPlan) Object.assign(ours[i]!, merged);
    if (strict) for (const st of this.#state.values()) Object.assign(st, { step: 0, momentumBuffer: null });
    for (const [p, step, buf] of statePlan) Object.assign(this.#state.get(p)!, { step, momentumBuffer: buf });
  }
}

/**
 * Options of {@link splitMuonParams}.
 * @group Optimizers
 * @category Options and defaults
 */
export interface SplitMuonParamsOptions {
  /**
   * 2-D parameters to leave to AdamW, such as the output layer (the classifier head) or an
   * embedding table: a name (a parameter's full name, or a module prefix: `'4'` matches
   * `'4.weight'`), a regular expression tested on the name, or a predicate. @defaultValue []
   */
  exclude?: ReadonlyArray<string | RegExp | ((p: Parameter) => boolean)>;
}

/**
 * What {@link splitMuonParams} returns.
 * @group Optimizers
 * @category Options and defaults
 */
export interface MuonParamSplit {
  /** The 2-D parameters not excluded: the weight matrices of the hidden layers, for {@link Muon}. */
  muon: Parameter[];
  /** Every other parameter (biases, gains, convolution weights, excluded matrices), for AdamW. */
  adamw: Parameter[];
}

/**
 * Splits a model's parameters between Muon and AdamW, as Muon is used: the 2-D weights of the
 * hidden layers to Muon; biases, gains and every other parameter that is not 2-D, and the 2-D
 * weights you name in `exclude` (the output layer, embeddings), to AdamW.
 *
 * @remarks
 * torch's Muon takes only 2-D parameters, and its documentation (like Keller Jordan's post)
 * leaves the rest to a standard method such as AdamW; the post also keeps the input embedding
 * and the output layer on AdamW, which is what `exclude` is for. The order of `params` is kept
 * within each list.
 *
 * A convolution's weight `[out, in, kh, kw]` is not 2-D, so it goes to AdamW here, and
 * `torch.optim.Muon` rejects it. Keller Jordan's implementation orthogonalizes it flattened to
 * `[out, in·kh·kw]`; to do the same, give Muon a Parameter that shares the weight's data and
 * gradient: `const v = new Parameter(w.data, { name: w.name, shape: [out, in * kh * kw] }); v.grad = w.grad;`
 * (zero gradients in place, not with `setToNone`, so both keep the same gradient array).
 *
 * @example
 * ```ts
 * const model = new Sequential(new Linear(784, 256), new ReLU(), new Linear(256, 128), new ReLU(), new Linear(128, 10));
 * // The output layer is module '4': its weight goes to AdamW with the biases.
 * const { muon, adamw } = splitMuonParams(model.parameters(), { exclude: ['4'] });
 * // muon: 0.weight, 2.weight; adamw: 0.bias, 2.bias, 4.weight, 4.bias
 * const hidden = new Muon(muon, { lr: 0.02, momentum: 0.95 });
 * const rest = new AdamW(adamw, { lr: 3e-4, weightDecay: 0.01 });
 * const lossFn = new CrossEntropyLoss();
 * for (const { x, y } of batches) {
 *   hidden.zeroGrad();
 *   rest.zeroGrad();
 *   lossFn.forward(model.forward(x), y);
 *   model.backward(lossFn.backward(), false);
 *   hidden.step();
 *   rest.step();
 * }
 * ```
 * @returns the parameters for Muon and those for AdamW.
 * @throws TypeError if `params` is not a list of Parameters or an exclusion is not a string, a
 * RegExp or a function; RangeError if a string in `exclude` matches no parameter (a typo).
 * @group Optimizers
 * @category Classes
 */
export function splitMuonParams(params: Iterable<Parameter>, options?: SplitMuonParamsOptions): MuonParamSplit {
  const ctx = 'splitMuonParams';
  if (params === null || typeof params !== 'object' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`${ctx}: expected params to be an array of Parameters, received ${describeValue(params)}`);
  }
  const list = [...(params as Iterable<unknown>)];
  list.forEach((p, i) => {
    if (!(p instanceof Parameter)) throw new TypeError(`${ctx}: expected params[${i}] to be a Parameter, received ${describeValue(p)}`);
  });
  const opts = checkOptions(ctx, options);
  checkKnownKeys(ctx, opts, ['exclude']);
  const exclude = opts.exclude ?? [];
  if (!Array.isArray(exclude)) throw new TypeError(`${ctx}: expected exclude to be an array of names, RegExps or functions, received ${describeValue(exclude)}`);
  const tests = exclude.map((e: unknown, i: number): ((p: Parameter) => boolean) => {
    if (typeof e === 'string') return (p) => p.name !== undefined && (p.name === e || p.name.startsWith(`${e}.`));
    // A copy without the stateful flags, so that test() does not depend on earlier calls.
    if (e instanceof RegExp) {
      const re = new RegExp(e.source, e.flags.replace(/[gy]/g, ''));
      return (p) => p.name !== undefined && re.test(p.name);
    }
    if (typeof e === 'function') return (p) => (e as (p: Parameter) => unknown)(p) === true;
    throw new TypeError(`${ctx}: expected exclude[${i}] to be a name, a RegExp or a function, received ${describeValue(e)}`);
  });
  const used = new Array<boolean>(tests.length).fill(false);
  const muon: Parameter[] = [];
  const adamw: Parameter[] = [];
  for (const p of list as Parameter[]) {
    let out = false;
    tests.forEach((t, i) => {
      if (t(p)) out = used[i] = true;
    });
    (p.shape.length === 2 && !out ? muon : adamw).push(p);
  }
  const unused = exclude.findIndex((e: unknown, i: number) => typeof e === 'string' && !used[i]);
  if (unused >= 0) {
    const names = list.map((p) => (p as Parameter).name ?? 'unnamed');
    const shown = names.length <= 12 ? names.join(', ') : `${names.slice(0, 12).join(', ')}, ... (${names.length} in all)`;
    throw new RangeError(`${ctx}: expected exclude[${unused}] (${JSON.stringify(exclude[unused])}) to name a parameter or a module prefix, but it matches none (names: ${shown})`);
  }
  return { muon, adamw };
}
