/**
 * `Trial`: one evaluation of the objective, asking for parameters as it goes (define-by-run).
 * @module
 */
import {
  categoricalDistribution,
  checkCompatible,
  contains,
  describe,
  describeDistribution,
  floatDistribution,
  intDistribution,
  isSingle,
  sameDistribution,
  toExternal,
  toInternal,
  type CategoricalChoice,
  type Distribution,
  type ParamValue,
} from './distributions.js';
import { checkOptions } from './options.js';
import type { FrozenTrial, JsonValue, Storage, TrialState } from './types.js';
import { TrialState as States } from './types.js';

/**
 * Thrown by an objective to stop its trial early (after `shouldPrune()` said so): the trial is
 * recorded PRUNED with its last reported value, and the study goes on.
 * @example
 * ```ts
 * trial.report(accuracy, epoch);
 * if (await trial.shouldPrune()) throw new TrialPruned();
 * ```
 * @group Study
 */
export class TrialPruned extends Error {
  /** @param message Why (optional). */
  constructor(message = 'the trial was pruned') {
    super(message);
    this.name = 'TrialPruned';
  }
}

/** What a Trial needs of its study (implemented by `Study`). */
export interface TrialHost {
  /** The storage. */
  readonly storage: Storage;
  /** Values chosen by the sampler at the start of the trial (internal numbers), and their distributions. */
  relativeFor(trial: Trial): { params: Record<string, number>; space: Record<string, Distribution> };
  /** The distribution other trials used for `name`, if any. */
  knownDistribution(name: string): Distribution | undefined;
  /** A value from the sampler for one parameter. */
  sampleIndependent(trial: Trial, name: string, d: Distribution): number;
  /** The pruner's verdict, after refreshing the trials from the storage. */
  shouldPrune(trial: Trial): Promise<boolean>;
}

/** Options of {@link Trial.suggestFloat}. */
export interface SuggestFloatOptions {
  /** Sample log-uniformly (needs `low > 0`). @defaultValue false */
  log?: boolean;
  /** Discretize the range by this step (not with `log`). */
  step?: number;
}

/** Options of {@link Trial.suggestInt}. */
export interface SuggestIntOptions {
  /** Sample log-uniformly (needs `low >= 1`, step 1). @defaultValue false */
  log?: boolean;
  /** The spacing of the values. @defaultValue 1 */
  step?: number;
}

function checkName(where: string, name: unknown): string {
  if (typeof name !== 'string') throw new TypeError(`${where}: expected name to be a string, received ${describe(name)}`);
  if (name.length === 0 || name.length > 512) throw new RangeError(`${where}: expected name to be a non-empty string of at most 512 characters, received ${describe(name)}`);
  return name;
}


/**
 * One evaluation of the objective. Its `suggest*` methods return a value at once (chosen by the
 * study's sampler, or fixed by `enqueueTrial`) and record it; the storage writes happen in the
 * background, in order, and are awaited by {@link Trial.shouldPrune} and when the trial ends (an
 * error writing them surfaces there).
 * @group Study
 */
export class Trial {
  /** The trial's number in its study (0, 1, ...). */
  readonly number: number;
  /** The storage's id of the trial. */
  readonly trialId: number;
  readonly #host: TrialHost;
  #params: Record<string, ParamValue> = {};
  #distributions: Record<string, Distribution> = {};
  #intermediate = new Map<number, number>();
  #userAttrs: Record<string, JsonValue>;
  #systemAttrs: Record<string, JsonValue>;
  readonly #datetimeStart: Date | null;
  #pending: Promise<void> = Promise.resolve();
  #writeError: unknown = null;
  #finished = false;

  /** @internal Made by `Study.ask()`. */
  constructor(host: TrialHost, frozen: FrozenTrial) {
    this.#host = host;
    this.number = frozen.number;
    this.trialId = frozen.trialId;
    this.#params = { ...frozen.params };
    this.#distributions = { ...frozen.distributions };
    this.#intermediate = new Map(frozen.intermediateValues);
    this.#userAttrs = { ...frozen.userAttrs };
    this.#systemAttrs = { ...frozen.systemAttrs };
    this.#datetimeStart = frozen.datetimeStart;
  }

  /** The parameters suggested so far, as the objective received them. */
  get params(): Readonly<Record<string, ParamValue>> {
    return { ...this.#params };
  }

  /** The distributions of the parameters suggested so far. */
  get distributions(): Readonly<Record<string, Distribution>> {
    return { ...this.#distributions };
  }

  /** User attributes set so far. */
  get userAttrs(): Readonly<Record<string, JsonValue>> {
    return { ...this.#userAttrs };
  }

  /** System attributes (fixed parameters of an enqueued trial, rungs, retries). */
  get systemAttrs(): Readonly<Record<string, JsonValue>> {
    return { ...this.#systemAttrs };
  }

  /** When the trial started. */
  get datetimeStart(): Date | null {
    return this.#datetimeStart;
  }

  /** The values reported so far, by step. */
  get intermediateValues(): ReadonlyMap<number, number> {
    return new Map(this.#intermediate);
  }

  /** The trial as a {@link FrozenTrial} (RUNNING). */
  freeze(state: TrialState = States.RUNNING): FrozenTrial {
    return Object.freeze({
      trialId: this.trialId,
      number: this.number,
      state,
      values: null,
      params: { ...this.#params },
      distributions: { ...this.#distributions },
      intermediateValues: new Map(this.#intermediate),
      userAttrs: { ...this.#userAttrs },
      systemAttrs: { ...this.#systemAttrs },
      datetimeStart: this.#datetimeStart,
      datetimeComplete: null,
    });
  }

  /**
   * A float in `[low, high]`: uniform, log-uniform (`log`) or on a grid of `step`.
   * @example
   * ```ts
   * const lr = trial.suggestFloat('lr', 1e-5, 1e-1, { log: true });
   * ```
   * @throws TypeError or RangeError for an empty or malformed range, or a name suggested before
   * with another distribution; nothing is recorded then.
   */
  suggestFloat(name: string, low: number, high: number, options?: SuggestFloatOptions): number {
    const where = 'suggestFloat';
    checkName(where, name);
    const o = checkOptions(where, options, ['log', 'step']);
    const d = floatDistribution(low, high, { log: o.log as boolean | undefined, step: (o.step as number | undefined) ?? null }, where);
    return this.#suggest(where, name, d) as number;
  }

  /**
   * An integer in `[low, high]`, every `step`, uniform or log-uniform.
   * @example
   * ```ts
   * const units = trial.suggestInt('units', 32, 512, { log: true });
   * ```
   * @throws TypeError or RangeError as {@link Trial.suggestFloat}.
   */
  suggestInt(name: string, low: number, high: number, options?: SuggestIntOptions): number {
    const where = 'suggestInt';
    checkName(where, name);
    const o = checkOptions(where, options, ['log', 'step']);
    const d = intDistribution(low, high, { log: o.log as boolean | undefined, step: o.step as number | undefined }, where);
    return this.#suggest(where, name, d) as number;
  }

  /**
   * One of `choices` (null, booleans, finite numbers or strings).
   * @example
   * ```ts
   * const name = trial.suggestCategorical('optimizer', ['adam', 'sgd', 'adamw']);
   * ```
   * @throws TypeError or RangeError for empty or malformed choices, or a name suggested before
   * with other choices.
   */
  suggestCategorical<T extends CategoricalChoice>(name: string, choices: readonly T[]): T {
    const where = 'suggestCategorical';
    checkName(where, name);
    const d = categoricalDistribution(choices, where);
    return this.#suggest(where, name, d) as T;
  }

  #suggest(where: string, name: string, d: Distribution): ParamValue {
    this.#checkRunning(where);
    const mine = this.#distributions[name];
    if (mine !== undefined) {
      if (!sameDistribution(mine, d)) {
        throw new RangeError(`${where}: parameter ${JSON.stringify(name)} was suggested in this trial as ${describeDistribution(mine)}; it cannot be suggested again as ${describeDistribution(d)}`);
      }
      return this.#params[name]!;
    }
    const known = this.#host.knownDistribution(name);
    if (known !== undefined) checkCompatible(name, known, d, where);

    let internal: number | undefined;
    const fixed = this.#systemAttrs.fixed_params;
    if (fixed !== null && typeof fixed === 'object' && !Array.isArray(fixed) && Object.hasOwn(fixed, name)) {
      const v = (fixed as Record<string, JsonValue>)[name];
      try {
        const i = toInternal(d, v as ParamValue);
        if (contains(d, i)) internal = i;
      } catch {
        // A fixed value outside the distribution is ignored and sampled instead, as in Optuna.
      }
    }
    if (internal === undefined) {
      const rel = this.#host.relativeFor(this);
      const rd = rel.space[name];
      if (rd !== undefined && sameDistribution(rd, d) && Object.hasOwn(rel.params, name)) internal = rel.params[name];
    }
    if (internal === undefined) {
      internal = isSingle(d) ? (d.type === 'categorical' ? 0 : d.low) : this.#host.sampleIndependent(this, name, d);
    }
    const value = toExternal(d, internal);
    this.#params[name] = value;
    this.#distributions[name] = d;
    const iv = internal;
    this.#write((s) => s.setTrialParam(this.trialId, name, iv, d));
    return value;
  }

  /**
   * Records an intermediate value (for example the validation accuracy after an epoch) at a
   * step, for the pruner. A second report at the same step is ignored, as in Optuna.
   * @throws TypeError or RangeError unless `value` is a number and `step` an integer >= 0.
   */
  report(value: number, step: number): void {
    const where = 'report';
    this.#checkRunning(where);
    if (typeof value !== 'number') throw new TypeError(`${where}: expected value to be a number, received ${describe(value)}`);
    if (typeof step !== 'number') throw new TypeError(`${where}: expected step to be a number, received ${describe(step)}`);
    if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`${where}: expected step to be an integer >= 0, received ${describe(step)}`);
    if (this.#intermediate.has(step)) return;
    this.#intermediate.set(step, value);
    this.#write((s) => s.setTrialIntermediateValue(this.trialId, step, value));
  }

  /**
   * Whether the pruner says to stop now, judging the last reported value against the other
   * trials (refreshed from the storage first, so other workers' reports count).
   */
  async shouldPrune(): Promise<boolean> {
    this.#checkRunning('shouldPrune');
    await this.flush();
    return this.#host.shouldPrune(this);
  }

  /**
   * Sets a user attribute (JSON data), stored with the trial.
   * @throws TypeError if `value` is not JSON-serializable.
   */
  setUserAttr(key: string, value: JsonValue): void {
    const where = 'setUserAttr';
    this.#checkRunning(where);
    checkName(where, key);
    checkJsonValue(where, value);
    this.#userAttrs[key] = value;
    this.#write((s) => s.setTrialUserAttr(this.trialId, key, value));
  }

  /** @internal Sets a system attribute (pruners, retries). */
  setSystemAttr(key: string, value: JsonValue): void {
    this.#systemAttrs[key] = value;
    this.#write((s) => s.setTrialSystemAttr(this.trialId, key, value));
  }

  /** Waits for the trial's storage writes; rethrows the first that failed. */
  async flush(): Promise<void> {
    await this.#pending;
    if (this.#writeError !== null) throw this.#writeError;
  }

  /** Whether the trial has been told (finished). */
  get finished(): boolean {
    return this.#finished;
  }

  /** @internal Called by the study when the trial is told. */
  finish(): void {
    this.#finished = true;
  }

  #checkRunning(where: string): void {
    if (this.#finished) throw new Error(`${where}: trial ${this.number} has finished`);
  }

  #write(op: (s: Storage) => Promise<void>): void {
    const storage = this.#host.storage;
    this.#pending = this.#pending.then(() => {
      if (this.#writeError !== null) return;
      return op(storage).catch((e: unknown) => {
        this.#writeError = e;
      });
    });
  }
}

/** Throws a TypeError unless `v` is JSON data without NaN or Infinity... (finite numbers only). */
export function checkJsonValue(where: string, v: unknown, depth = 0): void {
  if (depth > 64) throw new RangeError(`${where}: the value is nested more than 64 levels deep`);
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`${where}: expected JSON data, received the number ${describe(v)}`);
    return;
  }
  if (Array.isArray(v)) {
    for (const x of v) checkJsonValue(where, x, depth + 1);
    return;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) checkJsonValue(where, x, depth + 1);
    return;
  }
  throw new TypeError(`${where}: expected JSON data (null, booleans, numbers, strings, arrays, plain objects), received ${describe(v)}`);
}
