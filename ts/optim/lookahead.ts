/**
 * Lookahead: a wrapper that keeps slow weights and pulls the fast weights of any optimizer
 * towards them every k steps.
 * @module
 */
import { createNativeLookahead, mapNativeError, type NativeLookahead } from '../native.js';
import { Parameter } from '../tensor.js';
import { checkBoolean, checkKnownKeys, checkNumber, checkOptions, describeValue } from '../validate.js';
import {
  Optimizer,
  decodeBuffer,
  disposedError,
  encodeFloat,
  type LoadStateDictOptions,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type ZeroGradOptions,
} from './optimizer.js';

/**
 * Options of {@link Lookahead}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface LookaheadOptions {
  /** Inner steps per sync (an integer >= 1). @defaultValue 5 */
  k?: number;
  /** Interpolation factor α of a sync (>= 0); 1 keeps the fast weights, i.e. the inner optimizer. @defaultValue 0.5 */
  alpha?: number;
}

/**
 * torch-optimizer's defaults of Lookahead. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * LOOKAHEAD_DEFAULTS.k; // 5
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const LOOKAHEAD_DEFAULTS: Readonly<Required<LookaheadOptions>> = Object.freeze({ k: 5, alpha: 0.5 });

/**
 * A JSON-serialisable Lookahead state, as returned by `Lookahead.stateDict()`.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface LookaheadStateDict {
  /** The inner optimizer's `stateDict()` (fast state and param groups). */
  fastState: OptimizerStateDict;
  /**
   * Slow weights of every parameter synced at least once, keyed like `fastState.state` (names
   * when every parameter has a unique one, else positions). Non-finite values and -0 are stored
   * as the strings "NaN", "Infinity", "-Infinity" and "-0".
   */
  slowState: Record<
    string,
    {
      /** The slow weights, element by element. */
      slowParam: Array<number | string>;
    }
  >;
  /** Steps since the last sync, modulo k (torch-optimizer's per-group `counter`). */
  counter: number;
  /** Steps between syncs. */
  k: number;
  /** The slow weights' step size toward the fast weights. */
  alpha: number;
}

const LABEL = 'Lookahead';

/**
 * Lookahead over any ferroptim optimizer, as torch-optimizer's `Lookahead(optimizer, k, alpha)`.
 *
 * @remarks
 * ```text
 * each step:  the inner optimizer updates the fast weights θ
 *             if counter = 0:  φ ← θ on a parameter's first sync, then
 *                              θ ← α·θ + (1 − α)·φ;  φ ← θ        (every parameter of every group)
 *             counter ← (counter + 1) mod k
 * ```
 * As in torch-optimizer, the sync runs after inner steps 1, k + 1, 2k + 1, … (the counter is
 * checked before it is incremented), and the slow weights φ start as a copy of the fast weights
 * at that first sync, which therefore leaves them unchanged up to rounding. The sync covers every
 * parameter, with or without a gradient, in one native call; the slow weights are Float32Arrays
 * the Lookahead keeps privately (V8-owned memory, freed with it or by {@link Lookahead.dispose}). The sync is computed as torch-optimizer computes it, `θ·α + (1 − α)·φ` (not the
 * algebraically equal `φ + α(θ − φ)`), so with k = 1 and α = 1 it is the inner optimizer bit for
 * bit (a −0 weight may become +0).
 *
 * `paramGroups` is the inner optimizer's own array, so LR schedulers built on the Lookahead
 * (or on the inner optimizer) drive the inner steps. `stateDict()` holds the inner state
 * (`fastState`), the slow weights (`slowState`), the counter, k and alpha; loading it and
 * continuing reproduces an uninterrupted run bit for bit, also in the middle of a cycle.
 *
 * Deviations: torch-optimizer keeps one counter per param group (all equal unless groups are
 * added later, which it does not support); here there is one counter, and parameters added
 * later get slow weights at their first sync. When the inner optimizer skips a step
 * (`skipNonFinite`), the Lookahead step is skipped too: no sync, no counter increment.
 *
 * @example
 * ```ts
 * const opt = new Lookahead(new Adam(params, { lr: 1e-3 }), { k: 5, alpha: 0.5 });
 * opt.zeroGrad(); computeGrads(); opt.step();
 * ```
 * @see Zhang, Lucas, Hinton and Ba, "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019 ({@link https://arxiv.org/abs/1907.08610 | arXiv:1907.08610}).
 * @see {@link https://github.com/jettify/pytorch-optimizer/blob/master/torch_optimizer/lookahead.py | torch-optimizer Lookahead}, the reference followed.
 * @throws TypeError if `optimizer` is not a ferroptim optimizer; TypeError or RangeError for a
 * bad k (not an integer >= 1) or alpha (negative or not finite).
 * @group Optimizers
 * @category Classes
 */
export class Lookahead<O extends object = object> {
  /** The wrapped (inner, fast) optimizer. */
  readonly optimizer: Optimizer<O>;
  /** The inner optimizer's live parameter groups (the same array). */
  readonly paramGroups: ParamGroup<O>[];
  /** Inner steps per sync; may be changed between steps (checked at each step). */
  k: number;
  /** Interpolation factor of a sync; may be changed between steps (checked at each step). */
  alpha: number;

  #counter = 0;
  readonly #native: NativeLookahead;
  #disposed = false;
  readonly #ids = new Map<Parameter, number>();
  readonly #params: Parameter[] = [];
  /** Each parameter's slow weights φ by id, null before its first sync. */
  readonly #slow: Array<Float32Array | null> = [];

  constructor(optimizer: Optimizer<O>, options?: LookaheadOptions) {
    if (!(optimizer instanceof Optimizer)) {
      throw new TypeError(`${LABEL}: expected optimizer to be a ferroptim optimizer (e.g. new Adam(params)), received ${describeValue(optimizer)}`);
    }
    const opts = checkOptions(LABEL, options);
    checkKnownKeys(LABEL, opts, Object.keys(LOOKAHEAD_DEFAULTS));
    // Only an absent option takes the default: null is a wrong value like any other.
    const k = opts.k === undefined ? LOOKAHEAD_DEFAULTS.k : opts.k;
    const alpha = opts.alpha === undefined ? LOOKAHEAD_DEFAULTS.alpha : opts.alpha;
    Lookahead.#check(LABEL, k, alpha);
    this.optimizer = optimizer;
    this.paramGroups = optimizer.paramGroups;
    this.k = k as number;
    this.alpha = alpha as number;
    this.#native = createNativeLookahead();
    this.#register();
  }

  static #check(ctx: string, k: unknown, alpha: unknown): void {
    checkNumber(ctx, 'k', k, { integer: true, min: 1 });
    checkNumber(ctx, 'alpha', alpha, { min: 0 });
  }

  /**
   * Whether the last step was applied: the inner optimizer's (a step it skipped for non-finite
   * gradients, with `skipNonFinite`, is skipped whole). Schedulers with `countOnlyAppliedSteps`
   * read it.
   */
  get lastStepApplied(): boolean {
    return this.optimizer.lastStepApplied;
  }

  /** Steps since the last sync, modulo k: the next step syncs when it is 0. */
  get counter(): number {
    return this.#counter;
  }

  /** Gives native slow-weight slots to parameters the inner optimizer gained since last time. */
  #register(): Parameter[] {
    const all = this.optimizer.parameters();
    const fresh = all.filter((p) => !this.#ids.has(p));
    if (fresh.length > 0) {
      const first = this.#native.addParams(fresh.map((p) => p.numel));
      fresh.forEach((p, i) => {
        this.#ids.set(p, first + i);
        this.#params.push(p);
        this.#slow[first + i] = null;
      });
    }
    return all;
  }

  /**
   * One inner step, then, every k steps, the sync of all parameters with their slow weights.
   *
   * @param closure - optional; passed to the inner optimizer, which calls it first.
   * @returns the closure's value, if a closure was given.
   * @throws TypeError or RangeError, before anything is written, for a bad k or alpha, a
   * parameter whose data was detached, or anything the inner optimizer rejects.
   */
  step(closure?: () => number): number | undefined {
    this.#live('step');
    Lookahead.#check(LABEL, this.k, this.alpha);
    const sync = this.#counter === 0;
    let params: Parameter[] = [];
    if (sync) {
      params = this.#register();
      params.forEach((p) => {
        if (p.data.length !== p.numel) {
          throw new RangeError(`${LABEL}: expected data of ${Parameter.describe(p, this.#ids.get(p)!)} to have length ${p.numel}, received ${p.data.length} (its buffer was detached or transferred)`);
        }
      });
    }
    const loss = this.optimizer.step(closure);
    if (!this.optimizer.lastStepApplied) return loss;
    if (sync) {
      const ids = Uint32Array.from(params, (p) => this.#ids.get(p)!);
      const fresh = new Uint8Array(params.length);
      const buffers: Float32Array[] = [];
      const created: Array<[number, Float32Array]> = [];
      params.forEach((p, i) => {
        let slow = this.#slow[ids[i]!] ?? null;
        if (slow === null) {
          // The sync copies θ in; kept only if it succeeds.
          slow = new Float32Array(p.numel);
          fresh[i] = 1;
          created.push([ids[i]!, slow]);
        }
        buffers.push(p.data, slow);
      });
      try {
        this.#native.sync(ids, buffers, fresh, this.alpha);
      } catch (e) {
        mapNativeError(e, LABEL, (msg) => msg.replace(/parameter (\d+)/g, (_, i: string) => Parameter.describe(this.#params[Number(i)]!, Number(i))));
      }
      for (const [id, slow] of created) this.#slow[id] = slow;
    }
    this.#counter = (this.#counter + 1) % this.k;
    return loss;
  }

  /** Zeroes every gradient through the inner optimizer (see `Optimizer.zeroGrad`). */
  zeroGrad(options?: ZeroGradOptions): void {
    this.#live('zeroGrad');
    this.optimizer.zeroGrad(options);
  }

  /** Adds a parameter group to the inner optimizer; its slow weights start at its first sync. */
  addParamGroup(group: ParamGroupInput<O>): void {
    this.#live('addParamGroup');
    this.optimizer.addParamGroup(group);
  }

  /** Whether {@link Lookahead.dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The inner optimizer's `train()`, for a Schedule-Free one (which steps only in train mode);
   * nothing for others. The trainer calls it with {@link Lookahead.eval} around evaluations.
   */
  train(): void {
    this.#live('train');
    (this.optimizer as { train?(): void }).train?.();
  }

  /** The inner optimizer's `eval()`, for a Schedule-Free one; nothing for others. */
  eval(): void {
    this.#live('eval');
    (this.optimizer as { eval?(): void }).eval?.();
  }

  /**
   * Frees the slow weights now and disposes the inner optimizer (see `Optimizer.dispose`);
   * every later `step`, `zeroGrad`, `stateDict`, `loadStateDict` or `addParamGroup` throws an
   * Error. Calling it again does nothing; `[Symbol.dispose]` calls it.
   * @example
   * ```ts
   * using opt = new Lookahead(new AdamW(params), { k: 5 });
   * ```
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#native.dispose();
    this.#slow.length = 0;
    this.optimizer.dispose();
  }

  /** Calls {@link Lookahead.dispose}, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Throws if {@link Lookahead.dispose} was called. */
  #live(method: string): void {
    if (this.#disposed) throw disposedError(LABEL, method);
  }

  /** All parameters of all groups, in position order (the order of state dict positions). */
  parameters(): Parameter[] {
    return this.optimizer.parameters();
  }

  /** The state keys of the inner optimizer's parameters, as its `stateDict()` uses them. */
  #keys(all: Parameter[]): string[] {
    const names = all.map((p) => p.name);
    const unique = names.every((n) => n !== undefined) && new Set(names).size === names.length;
    return unique ? (names as string[]) : names.map((_, i) => String(i));
  }

  /**
   * The inner state, the slow weights, the counter, k and alpha, as plain JSON-serialisable data.
   * Loading it with {@link Lookahead.loadStateDict} and continuing reproduces an uninterrupted
   * run bit for bit.
   */
  stateDict(): LookaheadStateDict {
    this.#live('stateDict');
    const all = this.#register();
    const keys = this.#keys(all);
    // Keys are parameter names, i.e. data: a null-prototype object keeps "__proto__" an own key.
    const slowState: LookaheadStateDict['slowState'] = Object.create(null);
    all.forEach((p, i) => {
      const slow = this.#slow[this.#ids.get(p)!];
      if (slow) slowState[keys[i]!] = { slowParam: Array.from(slow, encodeFloat) };
    });
    return { fastState: this.optimizer.stateDict(), slowState, counter: this.#counter, k: this.k, alpha: this.alpha };
  }

  /**
   * Loads a state produced by {@link Lookahead.stateDict} (possibly through JSON): the inner
   * optimizer's state, the slow weights, the counter, k and alpha. Everything is checked before
   * anything changes. `strict` (the default) also forgets the slow weights of parameters without
   * an entry and rejects unknown keys; see `Optimizer.loadStateDict`.
   * @throws TypeError or RangeError for a malformed state, a mismatch in strict mode, or a buffer
   * of the wrong length.
   */
  loadStateDict(sd: LookaheadStateDict, options?: LoadStateDictOptions): void {
    const ctx = `${LABEL}.loadStateDict`;
    this.#live('loadStateDict');
    const opts = checkOptions(ctx, options);
    checkKnownKeys(ctx, opts, ['strict']);
    const strict = opts.strict === undefined ? true : checkBoolean(ctx, 'strict', opts.strict);
    if (sd === null || typeof sd !== 'object' || sd.slowState === null || typeof sd.slowState !== 'object' || sd.fastState === null || typeof sd.fastState !== 'object') {
      throw new TypeError(`${ctx}: expected an object with fastState, slowState, counter, k and alpha, received ${describeValue(sd)}`);
    }
    Lookahead.#check(ctx, sd.k, sd.alpha);
    checkNumber(ctx, 'counter', sd.counter, { integer: true, min: 0, below: sd.k });
    const all = this.#register();
    const keys = this.#keys(all);
    const byKey = new Map(keys.map((k, i) => [k, all[i]!]));
    const plan: Array<[number, Float32Array]> = [];
    for (const [key, entry] of Object.entries(sd.slowState)) {
      const p = byKey.get(key);
      const where = `slowState[${JSON.stringify(key)}]`;
      if (p === undefined) {
        if (strict) throw new RangeError(`${ctx}: slowState has an entry for ${JSON.stringify(key)}, which is not a parameter of this optimizer`);
        continue;
      }
      if (entry === null || typeof entry !== 'object') throw new TypeError(`${ctx}: expected ${where} to be an object { slowParam }, received ${describeValue(entry)}`);
      plan.push([this.#ids.get(p)!, decodeBuffer(ctx, `${where}.slowParam`, (entry as { slowParam?: unknown }).slowParam, p.numel)]);
    }
    // The inner optimizer checks its part before changing anything; ours is checked above.
    this.optimizer.loadStateDict(sd.fastState, { strict });
    if (strict) this.#slow.fill(null);
    for (const [id, buf] of plan) this.#slow[id] = buf;
    this.#counter = sd.counter;
    this.k = sd.k;
    this.alpha = sd.alpha;
  }
}
