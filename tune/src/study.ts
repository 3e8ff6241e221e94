/**
 * `createStudy`, `loadStudy` and `Study`: Optuna's define-by-run study, with async objectives.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { checkOptions } from './options.js';
import { describe, isSingle, toInternal, type Distribution, type ParamValue } from './distributions.js';
import { lastStep, MedianPruner } from './pruners/index.js';
import { TPESampler } from './samplers/index.js';
import { openStorage } from './storage/index.js';
import { checkJsonValue, Trial, TrialPruned, type TrialHost } from './trial.js';
import {
  TrialState,
  UpdateFinishedTrialError,
  type FrozenTrial,
  type JsonValue,
  type Params,
  type Pruner,
  type Sampler,
  type Storage,
  type StudyDirection,
  type StudyView,
} from './types.js';

/**
 * Options of {@link createStudy}.
 * @group Study
 */
export interface CreateStudyOptions {
  /** `'minimize'` (default) or `'maximize'`. */
  direction?: StudyDirection;
  /** The sampler. @defaultValue a new TPESampler() */
  sampler?: Sampler;
  /** The pruner. @defaultValue a MedianPruner, as in Optuna */
  pruner?: Pruner;
  /**
   * Where the study lives: a {@link Storage}, a URL (`postgresql://user@host:port/db`), a
   * journal file path (`journal:studies.log`, or any path ending in `.log`), or nothing for
   * memory (the study ends with the process).
   */
  storage?: Storage | string;
  /** The study's name (unique in its storage). @defaultValue `no-name-<uuid>` */
  studyName?: string;
  /** Load the study named `studyName` if it exists instead of failing. @defaultValue false */
  loadIfExists?: boolean;
  /**
   * When a trial's worker died (its heartbeat stopped, or its process is gone), enqueue its
   * parameters again, at most this many times per original trial (Optuna's
   * `RetryFailedTrialCallback`). @defaultValue 0
   */
  retryStaleTrials?: number;
}

/**
 * Options of {@link Study.optimize}.
 * @group Study
 */
export interface OptimizeOptions {
  /** Stop after this many trials of this call (all jobs together). @defaultValue no limit (then `timeout` or `stop()` must end it) */
  nTrials?: number;
  /** Start no trial after this many seconds. */
  timeout?: number;
  /** Trials run at once in this process (async objectives overlap). @defaultValue 1 */
  nJobs?: number;
  /**
   * Errors of the objective that fail the trial and let the study go on; other errors fail
   * the trial and are rethrown (Optuna's `catch`). @defaultValue [] (every error is rethrown)
   */
  catch?: ReadonlyArray<new (...args: never[]) => Error>;
  /** Called after each trial with the study and the finished trial. */
  callbacks?: ReadonlyArray<(study: Study, trial: FrozenTrial) => void | Promise<void>>;
}

/**
 * An objective: receives a trial, returns the value to minimize or maximize (or a promise of it).
 * @group Study
 */
export type Objective = (trial: Trial) => number | Promise<number>;


function checkDirection(where: string, d: unknown): StudyDirection {
  if (d !== 'minimize' && d !== 'maximize') throw new RangeError(`${where}: expected direction to be 'minimize' or 'maximize', received ${describe(d)}`);
  return d;
}

function isSampler(s: unknown): s is Sampler {
  return s !== null && typeof s === 'object' && typeof (s as Sampler).sampleIndependent === 'function' && typeof (s as Sampler).sampleRelative === 'function';
}

function isPruner(p: unknown): p is Pruner {
  return p !== null && typeof p === 'object' && typeof (p as Pruner).prune === 'function';
}

function checkStudyName(where: string, name: unknown): string {
  if (typeof name !== 'string') throw new TypeError(`${where}: expected studyName to be a string, received ${describe(name)}`);
  if (name.length === 0 || name.length > 512) throw new RangeError(`${where}: expected studyName to be a non-empty string of at most 512 characters, received ${describe(name)}`);
  return name;
}

/**
 * Creates a study (or, with `loadIfExists`, loads the one of that name).
 * @example
 * ```ts
 * const study = await createStudy({ direction: 'maximize', storage: 'journal:runs/studies.log', studyName: 'mnist', loadIfExists: true });
 * await study.optimize(async (trial) => {
 *   const lr = trial.suggestFloat('lr', 1e-5, 1e-1, { log: true });
 *   return await trainAndEvaluate(lr);
 * }, { nTrials: 50 });
 * console.log(study.bestParams, study.bestValue);
 * ```
 * @throws TypeError or RangeError for bad options (before the storage is touched); Error if the
 * name is taken (without `loadIfExists`) or the stored study has another direction.
 * @group Study
 */
export async function createStudy(options: CreateStudyOptions = {}): Promise<Study> {
  const where = 'createStudy';
  const o = checkOptions(where, options, ['direction', 'sampler', 'pruner', 'storage', 'studyName', 'loadIfExists', 'retryStaleTrials']) as CreateStudyOptions;
  const direction = checkDirection(where, o.direction ?? 'minimize');
  if (o.sampler !== undefined && !isSampler(o.sampler)) throw new TypeError(`${where}: expected sampler to be a Sampler (TPESampler, RandomSampler, GridSampler), received ${describe(o.sampler)}`);
  if (o.pruner !== undefined && !isPruner(o.pruner)) throw new TypeError(`${where}: expected pruner to be a Pruner (MedianPruner, SuccessiveHalvingPruner), received ${describe(o.pruner)}`);
  const name = o.studyName === undefined ? `no-name-${randomUUID()}` : checkStudyName(where, o.studyName);
  if (o.loadIfExists !== undefined && typeof o.loadIfExists !== 'boolean') throw new TypeError(`${where}: expected loadIfExists to be a boolean, received ${describe(o.loadIfExists)}`);
  const retries = o.retryStaleTrials ?? 0;
  if (typeof retries !== 'number' || !Number.isSafeInteger(retries) || retries < 0) throw new RangeError(`${where}: expected retryStaleTrials to be an integer >= 0, received ${describe(retries)}`);
  const storage = await openStorage(o.storage, where);
  let studyId: number;
  try {
    studyId = await storage.createNewStudy([direction], name);
  } catch (e) {
    if ((e as Error).name !== 'DuplicatedStudyError' || !o.loadIfExists) {
      if ((e as Error).name === 'DuplicatedStudyError') throw new Error(`${where}: a study named ${JSON.stringify(name)} already exists in the storage; pass loadIfExists: true to continue it`);
      throw e;
    }
    studyId = await storage.getStudyIdFromName(name);
    const stored = await storage.getStudy(studyId);
    if (stored.directions.length !== 1 || stored.directions[0] !== direction) {
      throw new Error(`${where}: the study ${JSON.stringify(name)} in the storage ${stored.directions.length === 1 ? `is to ${stored.directions[0]}` : `has ${stored.directions.length} objectives`}, this call asks to ${direction}`);
    }
  }
  const study = new Study(storage, studyId, name, direction, o.sampler ?? new TPESampler(), o.pruner ?? new MedianPruner(), retries);
  await study.refresh();
  return study;
}

/**
 * Options of {@link loadStudy}.
 * @group Study
 */
export interface LoadStudyOptions {
  /** The study's name. Required. */
  studyName: string;
  /** Its storage (as in {@link CreateStudyOptions.storage}). Required. */
  storage: Storage | string;
  /** The sampler. @defaultValue a new TPESampler() */
  sampler?: Sampler;
  /** The pruner. @defaultValue a MedianPruner */
  pruner?: Pruner;
  /** See {@link CreateStudyOptions.retryStaleTrials}. @defaultValue 0 */
  retryStaleTrials?: number;
}

/**
 * Loads an existing study (made by ferroptim or by Optuna) from its storage.
 * @example
 * ```ts
 * const study = await loadStudy({ studyName: 'mnist', storage: 'postgresql://tuner@db:5432/studies' });
 * console.table(study.trials.map((t) => ({ number: t.number, value: t.values?.[0], ...t.params })));
 * ```
 * @throws TypeError or RangeError for bad options; Error if there is no such study or it has
 * several objectives.
 * @group Study
 */
export async function loadStudy(options: LoadStudyOptions): Promise<Study> {
  const where = 'loadStudy';
  const o = checkOptions(where, options, ['studyName', 'storage', 'sampler', 'pruner', 'retryStaleTrials']) as unknown as LoadStudyOptions;
  const name = checkStudyName(where, o.studyName);
  if (o.storage === undefined) throw new TypeError(`${where}: storage is required`);
  if (o.sampler !== undefined && !isSampler(o.sampler)) throw new TypeError(`${where}: expected sampler to be a Sampler, received ${describe(o.sampler)}`);
  if (o.pruner !== undefined && !isPruner(o.pruner)) throw new TypeError(`${where}: expected pruner to be a Pruner, received ${describe(o.pruner)}`);
  const retries = o.retryStaleTrials ?? 0;
  if (typeof retries !== 'number' || !Number.isSafeInteger(retries) || retries < 0) throw new RangeError(`${where}: expected retryStaleTrials to be an integer >= 0, received ${describe(retries)}`);
  const storage = await openStorage(o.storage, where);
  let studyId: number;
  try {
    studyId = await storage.getStudyIdFromName(name);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOSTUDY') throw new Error(`${where}: no study named ${JSON.stringify(name)} in the storage`);
    throw e;
  }
  const stored = await storage.getStudy(studyId);
  if (stored.directions.length !== 1) throw new Error(`${where}: the study ${JSON.stringify(name)} has ${stored.directions.length} objectives; ferroptim-tune studies have one`);
  const study = new Study(storage, studyId, name, stored.directions[0]!, o.sampler ?? new TPESampler(), o.pruner ?? new MedianPruner(), retries);
  await study.refresh();
  return study;
}

/**
 * A study: the trials of one search, in a storage, with its sampler and pruner. Made by
 * {@link createStudy} or {@link loadStudy}.
 *
 * @remarks
 * `trials`, `bestTrial`, `bestValue` and `bestParams` read a snapshot of the storage taken at
 * the start and end of every trial of {@link Study.optimize} (and by {@link Study.refresh}): other
 * workers' trials appear there after the next synchronisation. Each trial of this process keeps
 * a heartbeat in the storage while it runs; before a trial starts, the trials of workers that
 * died are marked FAIL (and retried, with `retryStaleTrials`).
 * @group Study
 */
export class Study implements StudyView {
  /** The storage. */
  readonly storage: Storage;
  /** The storage's id of the study. */
  readonly studyId: number;
  /** Its name. */
  readonly studyName: string;
  /** Minimize or maximize. */
  readonly direction: StudyDirection;
  /** The sampler. */
  readonly sampler: Sampler;
  /** The pruner. */
  readonly pruner: Pruner;
  readonly #retries: number;
  #snapshot: readonly FrozenTrial[] = [];
  #stopped = false;
  #userAttrs: Record<string, JsonValue> = {};
  readonly #relative = new WeakMap<Trial, { params: Record<string, number>; space: Record<string, Distribution> }>();
  readonly #heartbeats = new Map<Trial, NodeJS.Timeout>();
  readonly #host: TrialHost;

  /** @internal Use {@link createStudy} or {@link loadStudy}. */
  constructor(storage: Storage, studyId: number, studyName: string, direction: StudyDirection, sampler: Sampler, pruner: Pruner, retries: number) {
    this.storage = storage;
    this.studyId = studyId;
    this.studyName = studyName;
    this.direction = direction;
    this.sampler = sampler;
    this.pruner = pruner;
    this.#retries = retries;
    this.#host = {
      storage,
      relativeFor: (trial) => this.#relative.get(trial) ?? { params: {}, space: {} },
      knownDistribution: (name) => {
        for (const t of this.#snapshot) {
          const d = t.distributions[name];
          if (d !== undefined) return d;
        }
        return undefined;
      },
      sampleIndependent: (trial, name, d) => this.sampler.sampleIndependent(this, trial.freeze(), name, d),
      shouldPrune: async (trial) => {
        await this.#syncTrials();
        return this.pruner.prune(this, trial.freeze(), (k, v) => trial.setSystemAttr(k, v));
      },
    };
  }

  /** The study's directions (one). */
  get directions(): readonly StudyDirection[] {
    return [this.direction];
  }

  /** Every trial, as of the last synchronisation. */
  get trials(): readonly FrozenTrial[] {
    return this.#snapshot;
  }

  /** The trials as of the last synchronisation, optionally only those in `states`. */
  getTrials(states?: readonly TrialState[]): readonly FrozenTrial[] {
    return states === undefined ? this.#snapshot : this.#snapshot.filter((t) => states.includes(t.state));
  }

  /** Reads the trials (and user attributes) from the storage again. */
  async refresh(): Promise<void> {
    await this.#syncTrials();
    this.#userAttrs = { ...(await this.storage.getStudy(this.studyId)).userAttrs };
  }

  async #syncTrials(): Promise<void> {
    this.#snapshot = Object.freeze(await this.storage.getAllTrials(this.studyId));
  }

  /** Puts a trial just read from the storage into the snapshot (replacing its older copy). */
  #upsert(trial: FrozenTrial): void {
    const rest = this.#snapshot.filter((t) => t.trialId !== trial.trialId);
    const at = rest.findIndex((t) => t.number > trial.number);
    if (at < 0) rest.push(trial);
    else rest.splice(at, 0, trial);
    this.#snapshot = Object.freeze(rest);
  }

  /**
   * The best COMPLETE trial.
   * @throws Error if no trial has completed.
   */
  get bestTrial(): FrozenTrial {
    let best: FrozenTrial | undefined;
    for (const t of this.#snapshot) {
      if (t.state !== TrialState.COMPLETE || t.values === null) continue;
      const v = t.values[0]!;
      if (best === undefined || (this.direction === 'maximize' ? v > best.values![0]! : v < best.values![0]!)) best = t;
    }
    if (best === undefined) throw new Error(`study ${JSON.stringify(this.studyName)}: no trial has completed yet`);
    return best;
  }

  /** The best trial's value. @throws Error if no trial has completed. */
  get bestValue(): number {
    return this.bestTrial.values![0]!;
  }

  /** The best trial's parameters. @throws Error if no trial has completed. */
  get bestParams(): Readonly<Record<string, ParamValue>> {
    return this.bestTrial.params;
  }

  /** The study's user attributes (as of the last synchronisation). */
  get userAttrs(): Readonly<Record<string, JsonValue>> {
    return { ...this.#userAttrs };
  }

  /**
   * Sets a study user attribute.
   * @throws TypeError if `value` is not JSON data.
   */
  async setUserAttr(key: string, value: JsonValue): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError(`setUserAttr: expected key to be a non-empty string, received ${describe(key)}`);
    checkJsonValue('setUserAttr', value);
    await this.storage.setStudyUserAttr(this.studyId, key, value);
    this.#userAttrs[key] = value;
  }

  /**
   * Queues a trial with fixed parameters: the next `ask()` (of any worker) takes it, and its
   * suggestions return these values (others are sampled). With `skipIfExists`, nothing is
   * queued if a trial with these parameters already exists.
   * @example
   * ```ts
   * await study.enqueueTrial({ optimizer: 'adam', lr: 1e-3 });
   * ```
   * @throws TypeError if `params` is not an object of parameter values.
   */
  async enqueueTrial(params: Params, options: { userAttrs?: Record<string, JsonValue>; skipIfExists?: boolean } = {}): Promise<void> {
    const where = 'enqueueTrial';
    if (params === null || typeof params !== 'object' || Array.isArray(params)) throw new TypeError(`${where}: expected params to be an object, received ${describe(params)}`);
    checkJsonValue(where, params);
    const o = checkOptions(where, options, ['userAttrs', 'skipIfExists']);
    if (o.userAttrs !== undefined) checkJsonValue(where, o.userAttrs);
    if (o.skipIfExists) {
      await this.refresh();
      const same = (t: FrozenTrial) => {
        const p = (t.systemAttrs.fixed_params as Params | undefined) ?? t.params;
        const keys = Object.keys(params);
        return keys.length === Object.keys(p).length && keys.every((k) => p[k] === params[k]);
      };
      if (this.#snapshot.some(same)) return;
    }
    await this.storage.createNewTrial(this.studyId, {
      state: TrialState.WAITING,
      systemAttrs: { fixed_params: params as JsonValue },
      userAttrs: (o.userAttrs as Record<string, JsonValue> | undefined) ?? {},
      datetimeStart: null,
    });
  }

  /** Stops {@link Study.optimize} after the running trials finish. */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Starts a trial: takes an enqueued one or creates one, and lets the sampler choose the
   * parameters it samples jointly. Use with {@link Study.tell} for loops `optimize` does not fit.
   */
  async ask(): Promise<Trial> {
    await this.#failStale();
    await this.#syncTrials();
    let frozen: FrozenTrial | undefined;
    for (const t of this.#snapshot) {
      if (t.state !== TrialState.WAITING) continue;
      let took: boolean;
      try {
        took = await this.storage.setTrialStateValues(t.trialId, TrialState.RUNNING);
      } catch (e) {
        // Another worker took it and finished it since the refresh: skip it, as Optuna does.
        if (e instanceof UpdateFinishedTrialError) continue;
        throw e;
      }
      if (took) {
        frozen = await this.storage.getTrial(t.trialId);
        break;
      }
    }
    if (frozen === undefined) {
      const id = await this.storage.createNewTrial(this.studyId);
      frozen = await this.storage.getTrial(id);
    }
    this.#upsert(frozen);
    const trial = new Trial(this.#host, frozen);
    const attrs = this.sampler.beforeTrial?.(this, frozen);
    if (attrs) for (const [k, v] of Object.entries(attrs)) trial.setSystemAttr(k, v);
    const space = this.sampler.inferRelativeSearchSpace(this, trial.freeze());
    const live: Record<string, Distribution> = {};
    for (const [k, d] of Object.entries(space)) if (!isSingle(d)) live[k] = d;
    const params = Object.keys(live).length ? this.sampler.sampleRelative(this, trial.freeze(), live) : {};
    this.#relative.set(trial, { params, space: live });
    const shared = Object.keys(params).length ? this.sampler.relativeParamsSystemAttrs?.(trial.freeze()) : undefined;
    if (shared) for (const [k, v] of Object.entries(shared)) trial.setSystemAttr(k, v);
    this.#startHeartbeat(trial);
    return trial;
  }

  /**
   * Finishes a trial from {@link Study.ask}: COMPLETE with `value`, PRUNED (its value is the last
   * reported one) or FAIL. A non-finite value fails the trial (its `fail_reason` says why) and
   * the study stays consistent.
   * @returns The trial as stored.
   * @throws TypeError or RangeError for a bad state; Error if the trial has already finished.
   */
  async tell(trial: Trial, value?: number, state?: TrialState, failReason?: string): Promise<FrozenTrial> {
    const where = 'tell';
    if (!(trial instanceof Trial)) throw new TypeError(`${where}: expected a Trial from ask(), received ${describe(trial)}`);
    if (trial.finished) throw new Error(`${where}: trial ${trial.number} has already finished`);
    let st: TrialState = state ?? TrialState.COMPLETE;
    if (!([TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL] as TrialState[]).includes(st)) throw new RangeError(`${where}: expected state COMPLETE, PRUNED or FAIL, received ${describe(state)}`);
    let values: number[] | null = null;
    let reason = failReason;
    if (st === TrialState.COMPLETE) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        reason = `the objective returned ${describe(value)}, not a finite number`;
        st = TrialState.FAIL;
      } else values = [value];
    } else if (st === TrialState.PRUNED) {
      const frozen = trial.freeze();
      const last = lastStep(frozen);
      const v = last === null ? NaN : frozen.intermediateValues.get(last)!;
      if (Number.isFinite(v)) values = [v];
    }
    this.#stopHeartbeat(trial);
    try {
      if (reason !== undefined) trial.setSystemAttr('fail_reason', reason);
      trial.finish();
      await trial.flush();
      this.sampler.afterTrial?.(this, trial.freeze(), st, values);
      await this.storage.setTrialStateValues(trial.trialId, st, values);
    } finally {
      this.#relative.delete(trial);
    }
    const stored = await this.storage.getTrial(trial.trialId);
    this.#upsert(stored);
    return stored;
  }

  /**
   * Runs the objective on new trials until `nTrials` of this call have run, `timeout` seconds
   * have passed, or {@link Study.stop} is called. A trial that throws {@link TrialPruned} ends
   * PRUNED; one that throws another error ends FAIL with the error as its `fail_reason` (and the
   * error is rethrown unless it is an instance of a class in `catch`); a non-finite value ends FAIL.
   * @example
   * ```ts
   * await study.optimize(objective, { nTrials: 50, nJobs: 2, timeout: 3600 });
   * ```
   * @throws TypeError or RangeError for bad options (before any trial starts).
   */
  async optimize(objective: Objective, options: OptimizeOptions = {}): Promise<void> {
    const where = 'optimize';
    if (typeof objective !== 'function') throw new TypeError(`${where}: expected objective to be a function, received ${describe(objective)}`);
    const o = checkOptions(where, options, ['nTrials', 'timeout', 'nJobs', 'catch', 'callbacks']) as OptimizeOptions;
    const nTrials = o.nTrials ?? Infinity;
    if (nTrials !== Infinity && (typeof nTrials !== 'number' || !Number.isSafeInteger(nTrials) || nTrials < 0)) throw new RangeError(`${where}: expected nTrials to be an integer >= 0, received ${describe(nTrials)}`);
    const timeout = o.timeout;
    if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) throw new RangeError(`${where}: expected timeout to be a number of seconds >= 0, received ${describe(timeout)}`);
    const nJobs = o.nJobs ?? 1;
    if (typeof nJobs !== 'number' || !Number.isSafeInteger(nJobs) || nJobs < 1) throw new RangeError(`${where}: expected nJobs to be an integer >= 1, received ${describe(nJobs)}`);
    const catches = o.catch ?? [];
    if (!Array.isArray(catches) || catches.some((c) => typeof c !== 'function')) throw new TypeError(`${where}: expected catch to be an array of error classes, received ${describe(catches)}`);
    const callbacks = o.callbacks ?? [];
    if (!Array.isArray(callbacks) || callbacks.some((c) => typeof c !== 'function')) throw new TypeError(`${where}: expected callbacks to be an array of functions, received ${describe(callbacks)}`);

    this.#stopped = false;
    const deadline = timeout === undefined ? Infinity : performance.now() + timeout * 1000;
    let started = 0;
    let firstError: unknown = null;
    const job = async () => {
      while (!this.#stopped && firstError === null && started < nTrials && performance.now() < deadline) {
        started++;
        const trial = await this.ask();
        let frozen: FrozenTrial;
        try {
          const value = await objective(trial);
          frozen = await this.tell(trial, value);
        } catch (e) {
          if (e instanceof TrialPruned) {
            frozen = await this.tell(trial, undefined, TrialState.PRUNED);
          } else {
            const err = e as Error;
            frozen = await this.tell(trial, undefined, TrialState.FAIL, `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`);
            if (!catches.some((c) => e instanceof c)) {
              firstError ??= e;
              break;
            }
          }
        }
        for (const cb of callbacks) await cb(this, frozen);
        if (this.sampler.isExhausted?.(this)) this.stop();
      }
    };
    await Promise.all(Array.from({ length: nJobs }, job));
    await this.refresh();
    if (firstError !== null) throw firstError;
  }

  /** Releases the storage's connections (PostgreSQL) and this study's timers. */
  async close(): Promise<void> {
    for (const t of [...this.#heartbeats.keys()]) this.#stopHeartbeat(t);
    await this.storage.close();
  }

  /**
   * Fails a RUNNING trial whose worker is known to be dead (a supervisor saw its process exit,
   * before any heartbeat could expire), with `reason` as its `fail_reason`, and enqueues its
   * parameters again as a stale trial's are (see {@link CreateStudyOptions.retryStaleTrials}).
   * @returns false if the trial had already left RUNNING (another worker failed or finished it).
   */
  async failDeadTrial(trial: FrozenTrial, reason: string): Promise<boolean> {
    if (trial.state !== TrialState.RUNNING) return false;
    try {
      await this.storage.setTrialSystemAttr(trial.trialId, 'fail_reason', reason);
      await this.storage.setTrialStateValues(trial.trialId, TrialState.FAIL);
    } catch (e) {
      if (e instanceof UpdateFinishedTrialError) return false;
      throw e;
    }
    await this.#retry(await this.storage.getTrial(trial.trialId));
    return true;
  }

  async #failStale(): Promise<void> {
    for (const t of await this.storage.failStaleTrials(this.studyId)) await this.#retry(t);
  }

  /** As Optuna's RetryFailedTrialCallback: the same parameters, WAITING, with the retry history. */
  async #retry(t: FrozenTrial): Promise<void> {
    const original = typeof t.systemAttrs.failed_trial === 'number' ? t.systemAttrs.failed_trial : t.number;
    const history = Array.isArray(t.systemAttrs.retry_history) ? [...(t.systemAttrs.retry_history as number[]), t.number] : [t.number];
    if (history.length > this.#retries) return;
    const params: Record<string, { internal: number; distribution: Distribution }> = {};
    for (const [k, v] of Object.entries(t.params)) params[k] = { internal: toInternal(t.distributions[k]!, v), distribution: t.distributions[k]! };
    await this.storage.createNewTrial(this.studyId, {
      state: TrialState.WAITING,
      params,
      userAttrs: { ...t.userAttrs },
      systemAttrs: { failed_trial: original, retry_history: history },
      datetimeStart: null,
    });
  }

  #startHeartbeat(trial: Trial): void {
    const interval = this.storage.heartbeatInterval;
    if (interval === null) return;
    const beat = () => {
      this.storage.recordHeartbeat(trial.trialId).catch(() => {
        // A missed heartbeat (a storage restarting) is retried at the next interval.
      });
    };
    beat();
    const timer = setInterval(beat, interval * 1000);
    timer.unref();
    this.#heartbeats.set(trial, timer);
  }

  #stopHeartbeat(trial: Trial): void {
    const timer = this.#heartbeats.get(trial);
    if (timer !== undefined) clearInterval(timer);
    this.#heartbeats.delete(trial);
  }
}
