/**
 * The journal storages: a study kept as an append-only log of operations, one JSON object per
 * line, in exactly the format of Optuna's `JournalStorage` with its `JournalFileBackend`
 * (Optuna 3.1 to 5.x). Optuna (`optuna.load_study(storage=JournalStorage(JournalFileBackend(path)))`)
 * and optuna-dashboard read the files this module writes, this module reads the files they
 * write, and Python and Node.js workers may append to one file at the same time: both take the
 * same lock (`path + ".lock"`, a symbolic link).
 *
 * The state is rebuilt by replaying the log with Optuna's rules (`JournalStorageReplayResult`):
 * ids are assigned in the order of the lines, a write to a finished trial from another worker is
 * ignored, and when several workers race to run one enqueued trial, the first line wins.
 *
 * What this module adds, inside the format: heartbeats (system attributes Optuna shows as such),
 * so that the trials of a crashed worker can be failed; repair of a line torn by a writer killed
 * mid-write; and validation of every field read, since a file is untrusted input.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { closeSync, constants as fsConstants, openSync, promises as fsp, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { checkCompatible, toExternal, describe, jsonToDistribution, type Distribution, type ParamValue } from '../distributions.js';
import {
  DIRECTION_NUMBER,
  DuplicatedStudyError,
  isFinished,
  TrialState,
  type FrozenStudy,
  type FrozenTrial,
  type JsonValue,
  type Storage,
  type StudyDirection,
  type TrialTemplate,
} from '../types.js';
import { checkDistribution, checkOptionNames, finishedError, notFound, setOwn } from './common.js';
import { checkHeartbeatOptions, FAIL_REASON_ATTR, HEARTBEAT_ATTR, isProcessAlive, positiveSeconds, staleReason, thisWorker, WORKER_ATTR } from './heartbeat.js';
import { PyFloat, pyJsonDumps, pyJsonLoads, type PyJsonDumpsOptions } from './pyjson.js';

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

/**
 * The longest line read: a longer one is an error, never an allocation.
 * @internal
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;
/** Nesting depth of JSON values (Python's json gives up near 1000 as well). */
const MAX_DEPTH = 512;

/** Optuna's `JournalOperation` codes. */
const JournalOp = Object.freeze({
  CREATE_STUDY: 0,
  DELETE_STUDY: 1,
  SET_STUDY_USER_ATTR: 2,
  SET_STUDY_SYSTEM_ATTR: 3,
  CREATE_TRIAL: 4,
  SET_TRIAL_PARAM: 5,
  SET_TRIAL_STATE_VALUES: 6,
  SET_TRIAL_INTERMEDIATE_VALUE: 7,
  SET_TRIAL_USER_ATTR: 8,
  SET_TRIAL_SYSTEM_ATTR: 9,
  DISCARD_TRIALS: 10,
});

// ---------------------------------------------------------------------------------------------
// JSON as Python's json module writes and reads it
// ---------------------------------------------------------------------------------------------

/**
 * How the journal writes JSON: Optuna's `json.dumps(log, separators=(",", ":"))`, ASCII only,
 * numbers as Python writes them. A line may nest 2 levels deeper than the attribute values it
 * holds (`{"user_attr": {"key": value}}`).
 */
const LINE_JSON: PyJsonDumpsOptions = { separators: [',', ':'], ensureAscii: true, pythonFloats: true, maxDepth: MAX_DEPTH + 2 };

/**
 * One journal line (without its "\n") as Optuna's `_write_log` writes it:
 * `json.dumps(log, separators=(",", ":"))`, ASCII only, `NaN`/`Infinity` as bare tokens.
 * @throws RangeError for a line longer than 16 MiB (one this module could not read back).
 * @internal
 */
export function encodeJournalLine(log: Readonly<Record<string, unknown>>): string {
  return pyJsonDumps(log, { ...LINE_JSON, where: 'journal entry' });
}

/**
 * Checks that `v` is a JSON value Python can write: null, booleans, numbers (NaN and infinities
 * included: Python writes them as bare tokens), strings, arrays and plain objects. Run on the
 * caller's values before the lock is taken, with the method's name in the error;
 * {@link encodeJournalLine} checks the same again on the way out.
 * @throws TypeError naming the path of the first value that is not.
 */
function checkJson(v: unknown, where: string, path: string, depth = 0): void {
  if (depth > MAX_DEPTH) throw new RangeError(`${where}: ${path} is nested more than ${MAX_DEPTH} levels deep`);
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) throw new TypeError(`${where}: ${path}[${i}] is an empty slot; attributes must be JSON values`);
      checkJson(v[i], where, `${path}[${i}]`, depth + 1);
    }
    return;
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`${where}: ${path} is a ${(v as object).constructor?.name ?? 'class instance'}; attributes must be JSON values (null, booleans, numbers, strings, arrays and plain objects)`);
    }
    for (const [k, x] of Object.entries(v)) checkJson(x, where, `${path}.${k}`, depth + 1);
    return;
  }
  throw new TypeError(`${where}: ${path} is ${describe(v)}; attributes must be JSON values (null, booleans, numbers, strings, arrays and plain objects)`);
}

/**
 * Parses one line as Python's `json.loads` does, `NaN`, `Infinity` and `-Infinity` included.
 * Lines without those words take the native parser; the others {@link pyJsonLoads}, so that the
 * words are recognized only as values, never inside strings or as keys.
 * @throws SyntaxError describing the first problem.
 * @internal
 */
export function decodeJournalJson(text: string): unknown {
  if (!text.includes('NaN') && !text.includes('Infinity')) return JSON.parse(text);
  return pyJsonLoads(text, { maxDepth: MAX_DEPTH + 2 });
}

// ---------------------------------------------------------------------------------------------
// Dates as Optuna writes them: ISO 8601, UTC, microseconds, "+00:00"
// ---------------------------------------------------------------------------------------------

/**
 * `datetime.isoformat(timespec="microseconds")` of a UTC datetime: `2024-05-01T12:00:00.123000+00:00`.
 * @throws RangeError for an invalid date or a year outside 1..9999 (Python's range).
 * @internal
 */
export function formatJournalDate(d: Date, where = 'journal', name = 'date'): string {
  if (!(d instanceof Date)) throw new TypeError(`${where}: expected ${name} to be a Date, received ${describe(d)}`);
  const t = d.getTime();
  if (Number.isNaN(t)) throw new RangeError(`${where}: ${name} is an invalid Date`);
  const y = d.getUTCFullYear();
  if (y < 1 || y > 9999) throw new RangeError(`${where}: ${name} ${d.toISOString()} is outside the years 1 to 9999 Python's datetime can hold`);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(y, 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds() * 1000, 6)}+00:00`;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))?$/;

/**
 * Parses a date as Python's `datetime.fromisoformat` reads Optuna's (an offset, or none for
 * local time); milliseconds are kept, further digits dropped. Null if `s` is not such a date.
 * @internal
 */
export function parseJournalDate(s: string): Date | null {
  if (s.length > 40) return null;
  const m = DATE_RE.exec(s);
  if (m === null) return null;
  const [, Y, Mo, D, h, mi, sec, frac, z, sg, oh, om] = m;
  const n = (x: string | undefined) => (x === undefined ? 0 : Number(x));
  const year = n(Y);
  const month = n(Mo);
  const day = n(D);
  const hour = n(h);
  const minute = n(mi);
  const second = n(sec);
  const ms = frac === undefined ? 0 : Math.floor(Number(frac.padEnd(9, '0')) / 1e6);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const d = new Date(0);
  if (z === undefined && sg === undefined) {
    // Naive: local time, as Python's astimezone() takes it.
    d.setFullYear(year, month - 1, day);
    d.setHours(hour, minute, second, ms);
    if (d.getFullYear() !== year || d.getMonth() !== month - 1 || d.getDate() !== day) return null;
    return d;
  }
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return null;
  if (sg !== undefined) {
    const offH = n(oh);
    const offM = n(om);
    if (offH > 23 || offM > 59) return null;
    const sign = sg === '-' ? -1 : 1;
    d.setTime(d.getTime() - sign * (offH * 60 + offM) * 60_000);
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// Replay: Optuna's JournalStorageReplayResult
// ---------------------------------------------------------------------------------------------

/** A line that is not a valid entry (reported with the file and line number). */
class MalformedEntry extends Error {}

/**
 * This worker's own entry was refused on replay (Optuna raises the error): the line is consumed,
 * then `error` is thrown once the lines read are applied.
 */
class OwnEntryRefused extends Error {
  /** @param error The error to raise. */
  constructor(readonly error: Error) {
    super(error.message);
  }
}

function short(v: unknown): string {
  const s = describe(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Freezes a decoded JSON value in place (bounded depth); returns it. */
function freezeJson(v: unknown, depth = 0): JsonValue {
  if (depth > MAX_DEPTH) throw new MalformedEntry(`an attribute value is nested more than ${MAX_DEPTH} levels deep`);
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) freezeJson(x, depth + 1);
    Object.freeze(v);
  }
  return v as JsonValue;
}

type Log = Record<string, unknown>;

function has(log: Log, key: string): boolean {
  return Object.hasOwn(log, key);
}

function field(log: Log, key: string): unknown {
  if (!has(log, key)) throw new MalformedEntry(`missing field "${key}"`);
  return log[key];
}

function strField(log: Log, key: string): string {
  const v = field(log, key);
  if (typeof v !== 'string') throw new MalformedEntry(`field "${key}" must be a string, received ${short(v)}`);
  return v;
}

function numField(log: Log, key: string): number {
  const v = field(log, key);
  if (typeof v !== 'number') throw new MalformedEntry(`field "${key}" must be a number, received ${short(v)}`);
  return v;
}

function idField(log: Log, key: string, count: number, what: 'study' | 'trial'): number {
  const v = field(log, key);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new MalformedEntry(`field "${key}" must be a non-negative integer, received ${short(v)}`);
  if (v >= count) {
    const noun = count === 1 ? what : what === 'study' ? 'studies' : 'trials';
    throw new MalformedEntry(`field "${key}" is ${v}, but only ${count} ${noun} ${count === 1 ? 'was' : 'were'} created before this line`);
  }
  return v;
}

function objField(log: Log, key: string): Record<string, unknown> {
  const v = field(log, key);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new MalformedEntry(`field "${key}" must be an object, received ${short(v)}`);
  return v as Record<string, unknown>;
}

function stateField(log: Log, key: string): TrialState {
  const v = field(log, key);
  if (v !== 0 && v !== 1 && v !== 2 && v !== 3 && v !== 4) throw new MalformedEntry(`field "${key}" must be a trial state (0 to 4), received ${short(v)}`);
  return v;
}

function valuesOf(v: unknown, key: string): number[] | null {
  if (v === null) return null;
  if (!Array.isArray(v)) throw new MalformedEntry(`field "${key}" must be a list of numbers or null, received ${short(v)}`);
  v.forEach((x, i) => {
    if (typeof x !== 'number') throw new MalformedEntry(`field "${key}"[${i}] must be a number, received ${short(x)}`);
  });
  return v as number[];
}

function dateField(log: Log, key: string, nullable: boolean): number | null {
  const v = field(log, key);
  if (v === null && nullable) return null;
  if (typeof v !== 'string') throw new MalformedEntry(`field "${key}" must be an ISO 8601 date string${nullable ? ' or null' : ''}, received ${short(v)}`);
  const d = parseJournalDate(v);
  if (d === null) throw new MalformedEntry(`field "${key}" is not an ISO 8601 date: ${short(v)}`);
  return d.getTime();
}

function singleAttr(log: Log, key: string): [string, JsonValue] {
  const o = objField(log, key);
  const keys = Object.keys(o);
  if (keys.length !== 1) throw new MalformedEntry(`field "${key}" must hold exactly one attribute, received ${keys.length}`);
  return [keys[0]!, freezeJson(o[keys[0]!])];
}

function attrsOf(v: unknown, key: string): Record<string, JsonValue> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new MalformedEntry(`field "${key}" must be an object, received ${short(v)}`);
  const out: Record<string, JsonValue> = {};
  for (const [k, x] of Object.entries(v)) setOwn(out, k, freezeJson(x));
  return out;
}

/** Distinct distribution texts remembered by a replay (a study has a few; a hostile file, many). */
const MAX_CACHED_DISTRIBUTIONS = 4096;

/**
 * The value the objective sees for a stored number, as Optuna converts it (`int()` truncates);
 * throws unless the stored number is one Optuna could convert.
 */
function externalOf(d: Distribution, internal: number, key: string): ParamValue {
  if (d.type === 'categorical') {
    if (!Number.isFinite(internal) || internal < 0 || Math.trunc(internal) >= d.choices.length) {
      throw new MalformedEntry(`field "${key}" is ${short(internal)}, not the index of one of the ${d.choices.length} choices`);
    }
  } else if (d.type === 'int' && !Number.isFinite(internal)) {
    throw new MalformedEntry(`field "${key}" must be a finite number for an int distribution, received ${short(internal)}`);
  }
  return toExternal(d, internal);
}

interface StudyRec {
  readonly studyId: number;
  readonly studyName: string;
  readonly directions: readonly StudyDirection[];
  userAttrs: Record<string, JsonValue>;
  systemAttrs: Record<string, JsonValue>;
  snap: FrozenStudy | null;
}

interface TrialRec {
  readonly trialId: number;
  readonly number: number;
  readonly studyId: number;
  state: TrialState;
  values: readonly number[] | null;
  params: Record<string, ParamValue>;
  distributions: Record<string, Distribution>;
  intermediate: Map<number, number>;
  userAttrs: Record<string, JsonValue>;
  systemAttrs: Record<string, JsonValue>;
  start: number | null;
  complete: number | null;
  snap: FrozenTrial | null;
}

const DIRECTIONS = new Map(Object.entries(DIRECTION_NUMBER).map(([d, n]) => [n, d as StudyDirection]));

/**
 * The state rebuilt from a journal, entry by entry, with the rules of Optuna's
 * `JournalStorageReplayResult`. Each entry is checked in full before it changes anything, so
 * that a malformed line leaves the state as it was (and is reported again on the next read).
 */
class JournalReplay {
  /** This worker's id, as written in its entries. */
  readonly workerId: string;
  readonly #studies = new Map<number, StudyRec>();
  readonly #names = new Map<string, number>();
  /** Trial ids per study id; kept after a study is deleted, as Optuna keeps them. */
  readonly #studyTrials = new Map<number, number[]>();
  /**
   * Per study id, each parameter's first trial holding it (the lowest id): the trial whose
   * distribution a new one is checked against, found without scanning the study's trials.
   */
  readonly #firstHolders = new Map<number, Map<string, number>>();
  /** Distributions parsed from the journal, by JSON text (each line of a study repeats a few). */
  readonly #parsed = new Map<string, Distribution>();
  readonly #trials: TrialRec[] = [];
  #nextStudyId = 0;
  /** The trial this worker last made RUNNING (Optuna's `owned_trial_id`). */
  ownedTrialId: number | null = null;
  /** The trial this worker last created. */
  lastCreatedTrialId = -1;

  /** @param workerId This worker's id (Optuna's is a UUID, "-", a number). */
  constructor(workerId: string) {
    this.workerId = workerId;
  }

  /** The number of trials created so far (the next trial's id). */
  get trialCount(): number {
    return this.#trials.length;
  }

  /** The id of the live study named `name`, if any. */
  studyIdByName(name: string): number | undefined {
    return this.#names.get(name);
  }

  /** Whether study `id` exists (not deleted). */
  hasStudy(id: number): boolean {
    return this.#studies.has(id);
  }

  /** The snapshot of study `id`, if it exists. */
  study(id: number): FrozenStudy | undefined {
    const s = this.#studies.get(id);
    return s && studySnapshot(s);
  }

  /** Snapshots of every live study, by id. */
  studies(): FrozenStudy[] {
    return [...this.#studies.values()].map(studySnapshot);
  }

  /** The snapshot of trial `id`, if it exists. */
  trial(id: number): FrozenTrial | undefined {
    const t = this.#trials[id];
    return t && trialSnapshot(t);
  }

  /** The study's trials by number, filtered by state. */
  trialsOf(studyId: number, states?: readonly TrialState[]): FrozenTrial[] {
    const ids = this.#studyTrials.get(studyId) ?? [];
    const out: FrozenTrial[] = [];
    for (const id of ids) {
      const t = this.#trials[id]!;
      if (states === undefined || states.includes(t.state)) out.push(trialSnapshot(t));
    }
    return out;
  }

  /**
   * The distribution that a new value of `name` in the study of `trialId` is checked against
   * (the first trial holding the parameter, as Optuna checks).
   */
  priorDistribution(trialId: number, name: string): Distribution | undefined {
    const t = this.#trials[trialId];
    const first = t && this.#firstHolders.get(t.studyId)?.get(name);
    return first === undefined ? undefined : this.#trials[first]!.distributions[name];
  }

  /** Notes that trial `t` now holds parameter `name`. */
  #holds(t: TrialRec, name: string): void {
    let holders = this.#firstHolders.get(t.studyId);
    if (holders === undefined) this.#firstHolders.set(t.studyId, (holders = new Map()));
    const first = holders.get(name);
    if (first === undefined || t.trialId < first) holders.set(name, t.trialId);
  }

  /** A distribution field (its JSON text), parsed once per text. */
  #distribution(v: unknown, key: string): Distribution {
    if (typeof v !== 'string') throw new MalformedEntry(`field "${key}" must be a distribution's JSON text, received ${short(v)}`);
    let d = this.#parsed.get(v);
    if (d === undefined) {
      try {
        d = jsonToDistribution(v);
      } catch (e) {
        throw new MalformedEntry(`field "${key}" is not a valid distribution: ${(e as Error).message}`);
      }
      if (this.#parsed.size >= MAX_CACHED_DISTRIBUTIONS) this.#parsed.clear();
      this.#parsed.set(v, d);
    }
    return d;
  }

  /**
   * Applies one decoded entry.
   * @throws MalformedEntry if it is not a valid entry (nothing changed), OwnEntryRefused if it
   * is this worker's and Optuna's rules refuse it (nothing changed, the entry is consumed).
   */
  apply(raw: unknown): void {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new MalformedEntry(`an entry must be a JSON object, received ${short(raw)}`);
    const log = raw as Log;
    const op = field(log, 'op_code');
    if (op === JournalOp.DISCARD_TRIALS) return; // Written by Rustuna only; Optuna ignores it too.
    if (typeof op !== 'number' || !Number.isInteger(op) || op < 0 || op > 10) throw new MalformedEntry(`unknown op_code ${short(op)} (Optuna's are 0 to 10)`);
    const own = strField(log, 'worker_id') === this.workerId;
    switch (op) {
      case JournalOp.CREATE_STUDY:
        return this.#createStudy(log, own);
      case JournalOp.DELETE_STUDY: {
        const id = idField(log, 'study_id', this.#nextStudyId, 'study');
        const s = this.#studies.get(id);
        if (s === undefined) return this.#missing(own, 'study', id);
        this.#studies.delete(id);
        this.#names.delete(s.studyName);
        return;
      }
      case JournalOp.SET_STUDY_USER_ATTR:
      case JournalOp.SET_STUDY_SYSTEM_ATTR: {
        const id = idField(log, 'study_id', this.#nextStudyId, 'study');
        const user = op === JournalOp.SET_STUDY_USER_ATTR;
        const [k, v] = singleAttr(log, user ? 'user_attr' : 'system_attr');
        const s = this.#studies.get(id);
        if (s === undefined) return this.#missing(own, 'study', id);
        s.snap = null;
        if (user) s.userAttrs = { ...s.userAttrs, [k]: v };
        else s.systemAttrs = { ...s.systemAttrs, [k]: v };
        return;
      }
      case JournalOp.CREATE_TRIAL:
        return this.#createTrial(log, own);
      case JournalOp.SET_TRIAL_PARAM:
        return this.#setParam(log, own);
      case JournalOp.SET_TRIAL_STATE_VALUES:
        return this.#setState(log, own);
      case JournalOp.SET_TRIAL_INTERMEDIATE_VALUE: {
        const t = this.#trialOf(log);
        const step = field(log, 'step');
        if (typeof step !== 'number' || !Number.isSafeInteger(step)) throw new MalformedEntry(`field "step" must be an integer, received ${short(step)}`);
        const value = numField(log, 'intermediate_value');
        if (!this.#updatable(t, own)) return;
        t.snap = null;
        t.intermediate.set(step + 0, value);
        return;
      }
      case JournalOp.SET_TRIAL_USER_ATTR:
      case JournalOp.SET_TRIAL_SYSTEM_ATTR: {
        const t = this.#trialOf(log);
        const user = op === JournalOp.SET_TRIAL_USER_ATTR;
        const [k, v] = singleAttr(log, user ? 'user_attr' : 'system_attr');
        if (!this.#updatable(t, own)) return;
        t.snap = null;
        setOwn(user ? t.userAttrs : t.systemAttrs, k, v);
        return;
      }
    }
  }

  #missing(own: boolean, kind: 'study' | 'trial', id: number): void {
    if (own) throw new OwnEntryRefused(notFound('journal', kind, `with id ${id}`));
  }

  #trialOf(log: Log): TrialRec {
    return this.#trials[idField(log, 'trial_id', this.#trials.length, 'trial')]!;
  }

  #updatable(t: TrialRec, own: boolean): boolean {
    if (!isFinished(t.state)) return true;
    if (own) throw new OwnEntryRefused(finishedError(t.number));
    return false;
  }

  #createStudy(log: Log, own: boolean): void {
    const name = strField(log, 'study_name');
    const dirs = field(log, 'directions');
    if (!Array.isArray(dirs) || dirs.length === 0) throw new MalformedEntry(`field "directions" must be a non-empty list, received ${short(dirs)}`);
    const directions = dirs.map((d, i) => {
      const dir = DIRECTIONS.get(d);
      if (dir === undefined) throw new MalformedEntry(`field "directions"[${i}] must be 1 (minimize) or 2 (maximize), received ${short(d)}`);
      return dir;
    });
    if (this.#names.has(name)) {
      if (own) throw new OwnEntryRefused(new DuplicatedStudyError(`A study named ${JSON.stringify(name)} already exists.`));
      return;
    }
    const id = this.#nextStudyId++;
    this.#studies.set(id, { studyId: id, studyName: name, directions: Object.freeze(directions), userAttrs: {}, systemAttrs: {}, snap: null });
    this.#names.set(name, id);
    this.#studyTrials.set(id, []);
  }

  #createTrial(log: Log, own: boolean): void {
    const studyId = idField(log, 'study_id', this.#nextStudyId, 'study');
    const distributions: Record<string, Distribution> = {};
    if (has(log, 'distributions')) {
      for (const [k, v] of Object.entries(objField(log, 'distributions'))) setOwn(distributions, k, this.#distribution(v, `distributions.${k}`));
    }
    const params: Record<string, ParamValue> = {};
    if (has(log, 'params')) {
      for (const [k, v] of Object.entries(objField(log, 'params'))) {
        const d = Object.hasOwn(distributions, k) ? distributions[k] : undefined;
        if (d === undefined) throw new MalformedEntry(`field "params" holds ${JSON.stringify(k)}, which has no distribution`);
        if (typeof v !== 'number') throw new MalformedEntry(`field "params.${k}" must be a number, received ${short(v)}`);
        setOwn(params, k, externalOf(d, v, `params.${k}`));
      }
    }
    const start = dateField(log, 'datetime_start', true);
    const complete = has(log, 'datetime_complete') ? dateField(log, 'datetime_complete', false) : null;
    const state = has(log, 'state') ? stateField(log, 'state') : TrialState.RUNNING;
    const userAttrs = has(log, 'user_attrs') ? attrsOf(log.user_attrs, 'user_attrs') : {};
    const systemAttrs = has(log, 'system_attrs') ? attrsOf(log.system_attrs, 'system_attrs') : {};
    const value = has(log, 'value') ? log.value : null;
    if (value !== null && typeof value !== 'number') throw new MalformedEntry(`field "value" must be a number or null, received ${short(value)}`);
    const values = has(log, 'values') ? valuesOf(log.values, 'values') : null;
    if (value !== null && values !== null) throw new MalformedEntry('fields "value" and "values" are both set (Optuna accepts only one)');
    const intermediate = new Map<number, number>();
    if (has(log, 'intermediate_values')) {
      for (const [k, v] of Object.entries(objField(log, 'intermediate_values'))) {
        if (!/^-?[0-9]{1,15}$/.test(k)) throw new MalformedEntry(`field "intermediate_values" has the key ${short(k)}, not an integer step`);
        if (typeof v !== 'number') throw new MalformedEntry(`field "intermediate_values.${k}" must be a number, received ${short(v)}`);
        intermediate.set(Number(k) + 0, v);
      }
    }
    if (!this.#studies.has(studyId)) return this.#missing(own, 'study', studyId);
    const ids = this.#studyTrials.get(studyId)!;
    const trialId = this.#trials.length;
    const t: TrialRec = {
      trialId,
      number: ids.length,
      studyId,
      state,
      values: value !== null ? [value] : values,
      params,
      distributions,
      intermediate,
      userAttrs,
      systemAttrs,
      start,
      complete,
      snap: null,
    };
    this.#trials.push(t);
    ids.push(trialId);
    for (const name of Object.keys(params)) this.#holds(t, name);
    if (own) {
      this.lastCreatedTrialId = trialId;
      if (state === TrialState.RUNNING) this.ownedTrialId = trialId;
    }
  }

  #setParam(log: Log, own: boolean): void {
    const t = this.#trialOf(log);
    const name = strField(log, 'param_name');
    const internal = numField(log, 'param_value_internal');
    const d = this.#distribution(field(log, 'distribution'), 'distribution');
    const external = externalOf(d, internal, 'param_value_internal');
    if (!this.#updatable(t, own)) return;
    const prior = this.priorDistribution(t.trialId, name);
    if (prior !== undefined) {
      try {
        checkCompatible(name, prior, d, 'setTrialParam');
      } catch (e) {
        if (own) throw new OwnEntryRefused(e as Error);
        return;
      }
    }
    t.snap = null;
    setOwn(t.params, name, external);
    setOwn(t.distributions, name, d);
    this.#holds(t, name);
  }

  #setState(log: Log, own: boolean): void {
    const t = this.#trialOf(log);
    const state = stateField(log, 'state');
    const values = valuesOf(field(log, 'values'), 'values');
    const start = state === TrialState.RUNNING ? dateField(log, 'datetime_start', false) : null;
    const complete = isFinished(state) ? dateField(log, 'datetime_complete', false) : null;
    if (!this.#updatable(t, own)) return;
    // A second RUNNING: the trial was popped by another worker first; the first line wins.
    if (state === TrialState.RUNNING && t.state === TrialState.RUNNING) return;
    t.snap = null;
    if (state === TrialState.RUNNING) {
      t.start = start;
      if (own) this.ownedTrialId = t.trialId;
    }
    if (isFinished(state)) t.complete = complete;
    t.state = state;
    if (values !== null) t.values = values;
  }
}

function studySnapshot(s: StudyRec): FrozenStudy {
  return (s.snap ??= Object.freeze({
    studyId: s.studyId,
    studyName: s.studyName,
    directions: s.directions,
    userAttrs: Object.freeze({ ...s.userAttrs }),
    systemAttrs: Object.freeze({ ...s.systemAttrs }),
  }));
}

function trialSnapshot(t: TrialRec): FrozenTrial {
  return (t.snap ??= Object.freeze({
    trialId: t.trialId,
    number: t.number,
    state: t.state,
    values: t.values === null ? null : Object.freeze([...t.values]),
    params: Object.freeze({ ...t.params }),
    distributions: Object.freeze({ ...t.distributions }),
    intermediateValues: new Map(t.intermediate),
    userAttrs: Object.freeze({ ...t.userAttrs }),
    systemAttrs: Object.freeze({ ...t.systemAttrs }),
    datetimeStart: t.start === null ? null : new Date(t.start),
    datetimeComplete: t.complete === null ? null : new Date(t.complete),
  }));
}

// ---------------------------------------------------------------------------------------------
// The storage over a backend (a file, or memory)
// ---------------------------------------------------------------------------------------------

/**
 * Where the lines of a journal live.
 * @internal
 */
export interface JournalBackend {
  /** What to call the journal in messages (its path). */
  readonly name: string;
  /**
   * Passes each complete line after the last one consumed to `consume` (text without the "\n",
   * and its 1-based line number), in order. A line is consumed when `consume` returns; an error
   * stops the reading with the line unconsumed.
   */
  readNew(consume: (text: string, line: number) => void): Promise<void>;
  /** Runs `fn` holding the journal's cross-process lock. */
  locked<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Appends `text` (whole lines) in one write, with the lock held, after `readNew` consumed
   * everything: repairs a torn last line first, and refuses to write if the journal grew since.
   */
  append(text: string): Promise<void>;
}

/** What a mutation writes, and how to compute its result once its entries are applied. */
interface Plan<T> {
  readonly logs: readonly Log[];
  readonly result: () => T;
}

/**
 * Settings of a {@link JournalStorage}.
 * @internal
 */
export interface JournalStorageSettings {
  /**
   * Seconds without a heartbeat after which a RUNNING trial is stale, with heartbeats and worker
   * records written (a shared file); null for none (memory).
   */
  readonly gracePeriod: number | null;
  /** The class name, for messages. */
  readonly where: string;
}

function checkId(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${where}: expected ${name} to be an integer id, received ${describe(v)}`);
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${where}: expected ${name} to be a non-negative integer id, received ${describe(v)}`);
  return v;
}

function checkState(where: string, name: string, v: unknown): TrialState {
  if (v !== 0 && v !== 1 && v !== 2 && v !== 3 && v !== 4) throw new RangeError(`${where}: expected ${name} to be a TrialState (0 to 4), received ${describe(v)}`);
  return v;
}

function checkValues(where: string, name: string, v: unknown): number[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw new TypeError(`${where}: expected ${name} to be an array of numbers or null, received ${describe(v)}`);
  return v.map((x, i) => {
    if (typeof x !== 'number') throw new TypeError(`${where}: expected ${name}[${i}] to be a number, received ${describe(x)}`);
    return x;
  });
}

function checkKey(where: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`${where}: expected key to be a string, received ${describe(v)}`);
  return v;
}

/** The stored number of a parameter, checked the way Optuna could convert it back. */
function checkInternal(where: string, name: string, d: Distribution, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${where}: expected the value of ${JSON.stringify(name)} to be a number, received ${describe(v)}`);
  if (Number.isNaN(v)) throw new RangeError(`${where}: the value of ${JSON.stringify(name)} is NaN`);
  if (d.type === 'categorical' && !(Number.isInteger(v) && v >= 0 && v < d.choices.length)) {
    throw new RangeError(`${where}: the value of categorical ${JSON.stringify(name)} must be the index of a choice (0 to ${d.choices.length - 1}), received ${describe(v)}`);
  }
  if (d.type === 'int' && !Number.isFinite(v)) throw new RangeError(`${where}: the value of int ${JSON.stringify(name)} must be finite, received ${describe(v)}`);
  return v;
}

/** The JSON form of a stored number: an index for a categorical, a Python float otherwise. */
function internalJson(d: Distribution, v: number): number | PyFloat {
  return d.type === 'categorical' ? v : new PyFloat(v);
}

const now = (): Date => new Date();

/**
 * A storage that keeps Optuna's journal (Optuna's `JournalStorage`): the operations and the
 * replay rules the journal storages share. {@link JournalFileStorage} keeps the journal's lines in
 * a file that several processes share; {@link InMemoryStorage} in this process's memory.
 *
 * Each method is a read (catch up with the journal, answer from the replayed state) or a
 * mutation (take the lock, catch up, check, append, apply); calls on one instance run one at a
 * time, in call order.
 * @group Storages
 */
export abstract class JournalStorage implements Storage {
  /** The seconds between the heartbeats of a running trial (null: no heartbeats). */
  abstract readonly heartbeatInterval: number | null;
  readonly #backend: JournalBackend;
  readonly #replay: JournalReplay;
  /** Null without heartbeats (memory). */
  readonly #gracePeriod: number | null;
  readonly #where: string;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  /**
   * @param backend Where the lines live.
   * @param settings Heartbeats and naming.
   * @internal
   */
  protected constructor(backend: JournalBackend, settings: JournalStorageSettings) {
    this.#backend = backend;
    this.#gracePeriod = settings.gracePeriod;
    this.#where = settings.where;
    // Optuna's worker ids are a UUID, "-" and the thread id; any string unique to the writer works.
    this.#replay = new JournalReplay(`${randomUUID()}-${process.pid}`);
  }

  /**
   * This instance's worker id, as written in the `worker_id` field of its entries.
   * @internal
   */
  get workerId(): string {
    return this.#replay.workerId;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${this.#where}: the storage is closed`));
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Applies the lines written since the last call. An own entry that the replay rules refuse is
   * consumed like any other; the first such refusal is thrown once the lines read are applied.
   */
  async #sync(): Promise<void> {
    let refused: Error | null = null;
    await this.#backend.readNew((text, line) => {
      let log: unknown;
      try {
        log = decodeJournalJson(text);
      } catch (e) {
        throw new Error(`${this.#backend.name}:${line}: not a valid journal entry (bad JSON: ${(e as Error).message})`);
      }
      try {
        this.#replay.apply(log);
      } catch (e) {
        if (e instanceof OwnEntryRefused) {
          refused ??= e.error;
          return;
        }
        if (e instanceof MalformedEntry) {
          const op = (log as Log | null)?.op_code;
          throw new Error(`${this.#backend.name}:${line}: not a valid journal entry${typeof op === 'number' ? ` (op_code ${op})` : ''}: ${e.message}`);
        }
        throw e;
      }
    });
    if (refused !== null) throw refused;
  }

  #read<T>(fn: (r: JournalReplay) => T): Promise<T> {
    return this.#serial(async () => {
      await this.#sync();
      return fn(this.#replay);
    });
  }

  #mutate<T>(build: (r: JournalReplay) => Plan<T>): Promise<T> {
    return this.#serial(() =>
      this.#backend.locked(async () => {
        await this.#sync();
        const plan = build(this.#replay);
        if (plan.logs.length > 0) {
          const worker = this.#replay.workerId;
          const text = plan.logs.map(({ op_code, ...rest }) => encodeJournalLine({ op_code, worker_id: worker, ...rest })).join('\n') + '\n';
          await this.#backend.append(text);
          await this.#sync();
        }
        return plan.result();
      }),
    );
  }

  #study(r: JournalReplay, id: number, where: string): FrozenStudy {
    const s = r.study(id);
    if (s === undefined) throw notFound(`${this.#where}.${where}`, 'study', `with id ${id}`);
    return s;
  }

  #trial(r: JournalReplay, id: number, where: string): FrozenTrial {
    const t = r.trial(id);
    if (t === undefined) throw notFound(`${this.#where}.${where}`, 'trial', `with id ${id}`);
    return t;
  }

  #live(r: JournalReplay, id: number, where: string): FrozenTrial {
    const t = this.#trial(r, id, where);
    if (isFinished(t.state)) throw finishedError(t.number);
    return t;
  }

  /** The worker record written when a trial becomes RUNNING here (none in memory). */
  #workerAttrs(): Record<string, JsonValue> {
    return this.#gracePeriod === null ? {} : { [WORKER_ATTR]: thisWorker() };
  }

  /**
   * Creates a study; returns its id.
   * @param directions One direction per objective value.
   * @param studyName A name no other study has.
   * @throws DuplicatedStudyError if the name is taken (checked under the file's lock).
   */
  async createNewStudy(directions: readonly StudyDirection[], studyName: string): Promise<number> {
    const where = `${this.#where}.createNewStudy`;
    if (!Array.isArray(directions) || directions.length === 0) throw new TypeError(`${where}: expected directions to be a non-empty array of 'minimize' or 'maximize', received ${describe(directions)}`);
    const codes = directions.map((d, i) => {
      if (d !== 'minimize' && d !== 'maximize') throw new RangeError(`${where}: expected directions[${i}] to be 'minimize' or 'maximize', received ${describe(d)}`);
      return DIRECTION_NUMBER[d as StudyDirection];
    });
    if (typeof studyName !== 'string') throw new TypeError(`${where}: expected studyName to be a string, received ${describe(studyName)}`);
    return this.#mutate((r) => {
      if (r.studyIdByName(studyName) !== undefined) throw new DuplicatedStudyError(`${where}: a study named ${JSON.stringify(studyName)} already exists in ${this.#backend.name}`);
      return { logs: [{ op_code: JournalOp.CREATE_STUDY, study_name: studyName, directions: codes }], result: () => r.studyIdByName(studyName)! };
    });
  }

  /**
   * Deletes a study (its trials stay readable by id, as in Optuna).
   * @param studyId The study.
   */
  async deleteStudy(studyId: number): Promise<void> {
    const id = checkId(`${this.#where}.deleteStudy`, 'studyId', studyId);
    return this.#mutate((r) => {
      this.#study(r, id, 'deleteStudy');
      return { logs: [{ op_code: JournalOp.DELETE_STUDY, study_id: id }], result: () => undefined };
    });
  }

  /**
   * The id of the study named `studyName`.
   * @param studyName The name.
   * @throws Error with `code: 'ENOSTUDY'` if there is none.
   */
  async getStudyIdFromName(studyName: string): Promise<number> {
    if (typeof studyName !== 'string') throw new TypeError(`${this.#where}.getStudyIdFromName: expected studyName to be a string, received ${describe(studyName)}`);
    return this.#read((r) => {
      const id = r.studyIdByName(studyName);
      if (id === undefined) throw notFound(`${this.#where}.getStudyIdFromName`, 'study', `named ${JSON.stringify(studyName)} in ${this.#backend.name}`);
      return id;
    });
  }

  /** Every study in the journal, by id. */
  async getAllStudies(): Promise<FrozenStudy[]> {
    return this.#read((r) => r.studies());
  }

  /**
   * One study's record.
   * @param studyId The study.
   * @throws Error with `code: 'ENOSTUDY'` if there is none.
   */
  async getStudy(studyId: number): Promise<FrozenStudy> {
    const id = checkId(`${this.#where}.getStudy`, 'studyId', studyId);
    return this.#read((r) => this.#study(r, id, 'getStudy'));
  }

  /**
   * Sets a study user attribute.
   * @param studyId The study.
   * @param key The attribute's name.
   * @param value A JSON value (NaN and infinities included, written as Python writes them).
   */
  setStudyUserAttr(studyId: number, key: string, value: JsonValue): Promise<void> {
    return this.#setStudyAttr('user', studyId, key, value);
  }

  /**
   * Sets a study system attribute.
   * @param studyId The study.
   * @param key The attribute's name.
   * @param value A JSON value.
   */
  setStudySystemAttr(studyId: number, key: string, value: JsonValue): Promise<void> {
    return this.#setStudyAttr('system', studyId, key, value);
  }

  async #setStudyAttr(kind: 'user' | 'system', studyId: number, key: string, value: JsonValue): Promise<void> {
    const where = `${this.#where}.setStudy${kind === 'user' ? 'User' : 'System'}Attr`;
    const id = checkId(where, 'studyId', studyId);
    checkKey(where, key);
    checkJson(value, where, 'value');
    return this.#mutate((r) => {
      this.#study(r, id, `setStudy${kind === 'user' ? 'User' : 'System'}Attr`);
      const op = kind === 'user' ? JournalOp.SET_STUDY_USER_ATTR : JournalOp.SET_STUDY_SYSTEM_ATTR;
      return { logs: [{ op_code: op, study_id: id, [`${kind}_attr`]: { [key]: value } }], result: () => undefined };
    });
  }

  /**
   * Creates a trial: RUNNING, started now and owned by this process (its worker record is
   * written with it), or from `template` (an enqueued WAITING trial, a copy).
   * @param studyId The study.
   * @param template The trial's fields, if not a new RUNNING one.
   * @returns The trial's id.
   */
  async createNewTrial(studyId: number, template?: TrialTemplate): Promise<number> {
    const where = `${this.#where}.createNewTrial`;
    const id = checkId(where, 'studyId', studyId);
    const fields = template === undefined ? null : this.#templateFields(where, template);
    return this.#mutate((r) => {
      this.#study(r, id, 'createNewTrial');
      const started = formatJournalDate(now());
      let log: Log;
      if (fields !== null) {
        log = { op_code: JournalOp.CREATE_TRIAL, study_id: id, ...fields(started) };
      } else if (this.#gracePeriod === null) {
        log = { op_code: JournalOp.CREATE_TRIAL, study_id: id, datetime_start: started };
      } else {
        // The form Optuna writes for a RUNNING template: the worker record comes in the same
        // line, so no crash can leave the trial RUNNING without it.
        log = {
          op_code: JournalOp.CREATE_TRIAL,
          study_id: id,
          datetime_start: started,
          state: TrialState.RUNNING,
          value: null,
          values: null,
          distributions: {},
          params: {},
          user_attrs: {},
          system_attrs: this.#workerAttrs(),
          intermediate_values: {},
        };
      }
      return { logs: [log], result: () => r.lastCreatedTrialId };
    });
  }

  /** Checks a template now; returns the fields of its CREATE_TRIAL entry, in Optuna's order. */
  #templateFields(where: string, t: TrialTemplate): (started: string) => Log {
    if (t === null || typeof t !== 'object') throw new TypeError(`${where}: expected template to be an object, received ${describe(t)}`);
    const state = checkState(where, 'template.state', t.state);
    const values = checkValues(where, 'template.values', t.values);
    const distributions: Record<string, string> = {};
    const params: Record<string, number | PyFloat> = {};
    if (t.params !== undefined) {
      if (t.params === null || typeof t.params !== 'object') throw new TypeError(`${where}: expected template.params to be an object, received ${describe(t.params)}`);
      for (const [name, p] of Object.entries(t.params)) {
        if (p === null || typeof p !== 'object') throw new TypeError(`${where}: expected template.params.${name} to be { internal, distribution }, received ${describe(p)}`);
        const { json, distribution } = checkDistribution(where, `template.params.${name}.distribution`, p.distribution);
        const internal = checkInternal(where, name, distribution, p.internal);
        setOwn(distributions, name, json);
        setOwn(params, name, internalJson(distribution, internal));
      }
    }
    const attrs = (v: unknown, name: string): Record<string, JsonValue> => {
      if (v === undefined) return {};
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${where}: expected ${name} to be an object, received ${describe(v)}`);
      checkJson(v, where, name);
      return { ...(v as Record<string, JsonValue>) };
    };
    const userAttrs = attrs(t.userAttrs, 'template.userAttrs');
    const systemAttrs = attrs(t.systemAttrs, 'template.systemAttrs');
    if (state === TrialState.RUNNING) Object.assign(systemAttrs, this.#workerAttrs());
    const intermediate: Record<string, PyFloat> = {};
    if (t.intermediateValues !== undefined) {
      if (!(t.intermediateValues instanceof Map)) throw new TypeError(`${where}: expected template.intermediateValues to be a Map, received ${describe(t.intermediateValues)}`);
      for (const [step, v] of t.intermediateValues) {
        if (typeof step !== 'number' || !Number.isSafeInteger(step)) throw new TypeError(`${where}: expected the steps of template.intermediateValues to be integers, received ${describe(step)}`);
        if (typeof v !== 'number') throw new TypeError(`${where}: expected template.intermediateValues at step ${step} to be a number, received ${describe(v)}`);
        intermediate[String(step)] = new PyFloat(v);
      }
    }
    const date = (v: unknown, name: string): string | null => (v === null ? null : formatJournalDate(v as Date, where, name));
    const start = t.datetimeStart !== undefined ? date(t.datetimeStart, 'template.datetimeStart') : undefined;
    const complete = t.datetimeComplete !== undefined && t.datetimeComplete !== null ? date(t.datetimeComplete, 'template.datetimeComplete') : undefined;
    const finished = isFinished(state);
    const single = values !== null && values.length === 1;
    return (started) => ({
      datetime_start: start !== undefined ? start : state === TrialState.WAITING ? null : started,
      state,
      value: single ? new PyFloat(values[0]!) : null,
      values: single || values === null ? null : values.map((v) => new PyFloat(v)),
      ...(complete !== undefined ? { datetime_complete: complete } : finished ? { datetime_complete: started } : {}),
      distributions,
      params,
      user_attrs: userAttrs,
      system_attrs: systemAttrs,
      intermediate_values: intermediate,
    });
  }

  /**
   * Records a parameter of a trial that has not finished.
   * @param trialId The trial.
   * @param name The parameter's name.
   * @param internal Its stored number (the index of a categorical choice).
   * @param distribution Its distribution, of the kind earlier trials used for `name`.
   * @throws UpdateFinishedTrialError if the trial has finished; RangeError if the distribution
   * is incompatible with the parameter's earlier one.
   */
  async setTrialParam(trialId: number, name: string, internal: number, distribution: Distribution): Promise<void> {
    const where = `${this.#where}.setTrialParam`;
    const id = checkId(where, 'trialId', trialId);
    if (typeof name !== 'string') throw new TypeError(`${where}: expected name to be a string, received ${describe(name)}`);
    const { json, distribution: d } = checkDistribution(where, 'distribution', distribution);
    const v = checkInternal(where, name, d, internal);
    return this.#mutate((r) => {
      this.#live(r, id, 'setTrialParam');
      const prior = r.priorDistribution(id, name);
      if (prior !== undefined) checkCompatible(name, prior, d, where);
      return {
        logs: [{ op_code: JournalOp.SET_TRIAL_PARAM, trial_id: id, param_name: name, param_value_internal: internalJson(d, v), distribution: json }],
        result: () => undefined,
      };
    });
  }

  /**
   * Sets a trial's state and values. Making a WAITING trial RUNNING is decided under the lock:
   * it returns true for the one process that took the trial (which then records itself as its
   * worker), false for the others.
   * @param trialId The trial.
   * @param state The new state.
   * @param values The values (kept unchanged if null or omitted).
   * @throws UpdateFinishedTrialError if the trial has finished.
   */
  async setTrialStateValues(trialId: number, state: TrialState, values?: readonly number[] | null): Promise<boolean> {
    const where = `${this.#where}.setTrialStateValues`;
    const id = checkId(where, 'trialId', trialId);
    const s = checkState(where, 'state', state);
    const vals = checkValues(where, 'values', values);
    return this.#mutate((r) => {
      const t = this.#live(r, id, 'setTrialStateValues');
      // Popping an enqueued trial: decided here, under the lock, on the latest state.
      if (s === TrialState.RUNNING && t.state !== TrialState.WAITING) return { logs: [], result: () => false };
      const log: Log = { op_code: JournalOp.SET_TRIAL_STATE_VALUES, trial_id: id, state: s, values: vals === null ? null : vals.map((v) => new PyFloat(v)) };
      if (s === TrialState.RUNNING) log.datetime_start = formatJournalDate(now());
      else if (isFinished(s)) log.datetime_complete = formatJournalDate(now());
      const logs: Log[] = [log];
      // The worker record goes in the same write, after the state: no crash can separate them.
      // (Had a writer that ignores the lock popped the trial first, the record would land on its
      // trial; every Optuna and ferroptim writer takes the lock.)
      if (s === TrialState.RUNNING && this.#gracePeriod !== null) logs.push({ op_code: JournalOp.SET_TRIAL_SYSTEM_ATTR, trial_id: id, system_attr: this.#workerAttrs() });
      return { logs, result: () => s !== TrialState.RUNNING || r.ownedTrialId === id };
    });
  }

  /**
   * Records the value reported at `step`.
   * @param trialId The trial.
   * @param step The step.
   * @param value The value (NaN and infinities allowed).
   * @throws UpdateFinishedTrialError if the trial has finished.
   */
  async setTrialIntermediateValue(trialId: number, step: number, value: number): Promise<void> {
    const where = `${this.#where}.setTrialIntermediateValue`;
    const id = checkId(where, 'trialId', trialId);
    if (typeof step !== 'number' || !Number.isSafeInteger(step)) throw new TypeError(`${where}: expected step to be an integer, received ${describe(step)}`);
    if (typeof value !== 'number') throw new TypeError(`${where}: expected value to be a number, received ${describe(value)}`);
    return this.#mutate((r) => {
      this.#live(r, id, 'setTrialIntermediateValue');
      return { logs: [{ op_code: JournalOp.SET_TRIAL_INTERMEDIATE_VALUE, trial_id: id, step, intermediate_value: new PyFloat(value) }], result: () => undefined };
    });
  }

  /**
   * Sets a trial user attribute.
   * @param trialId The trial.
   * @param key The attribute's name.
   * @param value A JSON value.
   * @throws UpdateFinishedTrialError if the trial has finished.
   */
  setTrialUserAttr(trialId: number, key: string, value: JsonValue): Promise<void> {
    return this.#setTrialAttr('user', trialId, key, value);
  }

  /**
   * Sets a trial system attribute.
   * @param trialId The trial.
   * @param key The attribute's name.
   * @param value A JSON value.
   * @throws UpdateFinishedTrialError if the trial has finished.
   */
  setTrialSystemAttr(trialId: number, key: string, value: JsonValue): Promise<void> {
    return this.#setTrialAttr('system', trialId, key, value);
  }

  async #setTrialAttr(kind: 'user' | 'system', trialId: number, key: string, value: JsonValue): Promise<void> {
    const where = `${this.#where}.setTrial${kind === 'user' ? 'User' : 'System'}Attr`;
    const id = checkId(where, 'trialId', trialId);
    checkKey(where, key);
    checkJson(value, where, 'value');
    return this.#mutate((r) => {
      this.#live(r, id, `setTrial${kind === 'user' ? 'User' : 'System'}Attr`);
      const op = kind === 'user' ? JournalOp.SET_TRIAL_USER_ATTR : JournalOp.SET_TRIAL_SYSTEM_ATTR;
      return { logs: [{ op_code: op, trial_id: id, [`${kind}_attr`]: { [key]: value } }], result: () => undefined };
    });
  }

  /**
   * One trial (a frozen snapshot).
   * @param trialId The trial.
   * @throws Error with `code: 'ENOTRIAL'` if there is none.
   */
  async getTrial(trialId: number): Promise<FrozenTrial> {
    const id = checkId(`${this.#where}.getTrial`, 'trialId', trialId);
    return this.#read((r) => this.#trial(r, id, 'getTrial'));
  }

  /**
   * The study's trials by number (frozen snapshots), optionally only those in `states`.
   * @param studyId The study.
   * @param states The states to keep.
   */
  async getAllTrials(studyId: number, states?: readonly TrialState[]): Promise<FrozenTrial[]> {
    const where = `${this.#where}.getAllTrials`;
    const id = checkId(where, 'studyId', studyId);
    if (states !== undefined) {
      if (!Array.isArray(states)) throw new TypeError(`${where}: expected states to be an array of TrialState, received ${describe(states)}`);
      states.forEach((s, i) => checkState(where, `states[${i}]`, s));
    }
    return this.#read((r) => {
      this.#study(r, id, 'getAllTrials');
      return r.trialsOf(id, states);
    });
  }

  /**
   * Records that the worker running `trialId` is alive (system attribute `ferroptim:heartbeat`,
   * Unix seconds). Ignored once the trial has finished.
   * @param trialId The trial.
   */
  async recordHeartbeat(trialId: number): Promise<void> {
    const id = checkId(`${this.#where}.recordHeartbeat`, 'trialId', trialId);
    if (this.#gracePeriod === null) return this.#read((r) => void this.#trial(r, id, 'recordHeartbeat'));
    return this.#mutate((r) => {
      const t = this.#trial(r, id, 'recordHeartbeat');
      if (isFinished(t.state)) return { logs: [], result: () => undefined };
      return { logs: [{ op_code: JournalOp.SET_TRIAL_SYSTEM_ATTR, trial_id: id, system_attr: { [HEARTBEAT_ATTR]: Date.now() / 1000 } }], result: () => undefined };
    });
  }

  /**
   * Fails every RUNNING trial of the study that a ferroptim worker ran and that is stale: its
   * worker process on this machine is gone, or it sent no heartbeat (nor started) for
   * `gracePeriod` seconds; in a file, under its lock. Each gets the system attribute
   * `fail_reason`. Trials that Optuna's own workers run carry no heartbeat and are left alone; a
   * storage without heartbeats (memory) returns `[]`.
   * @param studyId The study.
   * @returns The trials this call failed (each stale trial is failed by one caller only).
   */
  async failStaleTrials(studyId: number): Promise<FrozenTrial[]> {
    const id = checkId(`${this.#where}.failStaleTrials`, 'studyId', studyId);
    const grace = this.#gracePeriod;
    // Called before every trial, and nearly always with nothing stale: look without the lock
    // first, and take it (then look again) only when there is something to fail.
    const any = await this.#read((r) => {
      this.#study(r, id, 'failStaleTrials');
      return grace !== null && this.#staleTrials(r, id, grace, now()).length > 0;
    });
    if (!any) return [];
    return this.#mutate((r) => {
      this.#study(r, id, 'failStaleTrials');
      const t0 = now();
      const completed = formatJournalDate(t0);
      const stale = this.#staleTrials(r, id, grace!, t0);
      const logs = stale.flatMap(([t, reason]): Log[] => [
        { op_code: JournalOp.SET_TRIAL_SYSTEM_ATTR, trial_id: t.trialId, system_attr: { [FAIL_REASON_ATTR]: reason } },
        { op_code: JournalOp.SET_TRIAL_STATE_VALUES, trial_id: t.trialId, state: TrialState.FAIL, values: null, datetime_complete: completed },
      ]);
      return { logs, result: () => stale.map(([t]) => r.trial(t.trialId)!) };
    });
  }

  /** The study's RUNNING trials that are stale at `t0`, with the reason of each. */
  #staleTrials(r: JournalReplay, studyId: number, gracePeriod: number, t0: Date): [FrozenTrial, string][] {
    const host = hostname();
    const out: [FrozenTrial, string][] = [];
    for (const t of r.trialsOf(studyId, [TrialState.RUNNING])) {
      const reason = staleReason(t, t0.getTime() / 1000, gracePeriod, host);
      if (reason !== null) out.push([t, reason]);
    }
    return out;
  }

  /** Waits for the calls under way; the storage refuses calls afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
  }
}

// ---------------------------------------------------------------------------------------------
// The file: Optuna's JournalFileBackend and JournalFileSymlinkLock
// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The owner record's size limit: any process may write that file, and every waiter reads it. */
const MAX_OWNER_RECORD_BYTES = 4096;

/**
 * What gives a process id its meaning: the host name and, on Linux, the boot and the PID
 * namespace (two containers may share a host name and a volume, never a process table).
 */
interface ProcessTable {
  host: string;
  boot: string | null;
  pidns: string | null;
}
let processTable: ProcessTable | undefined;
function thisProcessTable(): ProcessTable {
  if (processTable === undefined) {
    const attempt = (f: () => string): string | null => {
      try {
        return f();
      } catch {
        return null;
      }
    };
    const linux = process.platform === 'linux';
    processTable = {
      host: hostname(),
      boot: linux ? attempt(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()) : null,
      pidns: linux ? attempt(() => readlinkSync('/proc/self/ns/pid')) : null,
    };
  }
  return processTable;
}

/**
 * How long a waiter watches one lock instance, with one owner record, before it may break it for
 * a dead owner: longer than the file system's timestamp granularity (a jiffy on Linux; whole
 * seconds on FAT, ext3, HFS+), so that any lock created after a break has a later ctime.
 */
const ownerSettleMs = (ctimeNs: bigint): number => (ctimeNs % 1_000_000_000n === 0n ? 2500 : 250);

/** One lock instance, as lstat(2) sees the lock path. */
interface LockInstance {
  ino: bigint;
  ctimeNs: bigint;
  /** The link itself: inode, birth time and the link's own mtime, which rename and link keep. */
  key: string;
  /** `key` with what changes while a live holder works (ctime, the journal's mtime). */
  full: string;
}

/**
 * Optuna's `JournalFileSymlinkLock`, asynchronous: the lock is the symbolic link
 * `path + ".lock"` (pointing at the journal's base name), created with symlink(2) (atomic, and
 * exclusive on NFS too); it is released by renaming it to a unique `.rename` name, then
 * unlinking that. A waiter retries with exponential backoff (1 ms to 1 s); a lock left unchanged
 * for the grace period is forcibly released, as Optuna does after 30 s. Optuna's
 * `JournalFileOpenLock` creates the same path with O_EXCL, so it excludes this lock too; where
 * symbolic links are refused, this lock falls back to that O_EXCL file.
 *
 * **Dead holders on this host.** Waiting 30 s for a lock whose holder was killed stalls every
 * worker, so a holder also leaves an owner record, `path + ".lock.owner"`: right after creating
 * the lock it writes `{ pid, host, boot, pidns, ino, ctimeNs }` (the lock's inode and ctime as
 * lstat(2) sees them; `boot` and `pidns` are Linux's boot id and PID namespace, null elsewhere)
 * to a temporary file renamed over that path, so a reader sees a whole record or none. A waiter
 * breaks the lock before the grace period only when all of these hold:
 * - the record is a regular file of at most 4 KiB holding exactly those fields (anything else,
 *   including no record, as Optuna's holders and a holder killed before writing it leave: ignored);
 * - its host, boot and PID namespace are this process's, so its pid means the same process here;
 * - its `ino` and `ctimeNs` equal the lock's, exactly: the record describes this lock instance,
 *   not an earlier one (a stale record never vouches for a later lock);
 * - the waiter has seen that same lock instance with that same record for longer than the
 *   file system's timestamp granularity (250 ms; 2.5 s when ctimes are whole seconds);
 * - `process.kill(pid, 0)` fails with ESRCH (EPERM means alive; a zombie still counts as alive).
 *
 * The break is the grace period's: check that the lock is still the instance judged, remove the
 * owner record, rename the lock to a unique name (only one breaker's rename can succeed; a
 * failed rename means it was released or broken meanwhile, and the waiter retries), check that
 * the renamed link is that instance (else link it back, as link(2) never replaces) and unlink it.
 *
 * Why no live holder's lock is broken: inode numbers are reused at once, and ctimes are coarse,
 * so (ino, ctime) alone could match a newer lock created in the same clock tick. Hence:
 * - records do not outlive their lock when ferroptim removes it: a holder deletes its record
 *   before its release (while it still holds the lock), a breaker deletes it before its rename;
 *   only a holder writes a record, for its own instance, and a dead one writes nothing more (a
 *   record written late, by a stalled holder whose lock was broken by the grace rule, names an
 *   instance a grace period older than any lock created since: it matches none);
 * - a ferroptim process breaks an instance only after watching it longer than the timestamp
 *   granularity (the settle time here, the grace period otherwise), so any lock created after
 *   a break, by whichever concurrent breaker, has a later ctime and birth time, which the last
 *   look before the rename and the check after it tell apart; a breaker that sees the record
 *   removed or replaced by another breaker starts watching again;
 * - a live holder has a running pid, and writes its record as soon as it holds the lock (a new
 *   record restarts the settle time), so it is never broken early; pid reuse after a holder's
 *   death only delays the break to the grace period.
 *
 * What remains: a lock broken by Optuna's 30-s rule (which keeps the record) in the very clock
 * tick it was created, whose next instance lands on the same inode in that tick and is still
 * without its own record after the settle time; and a holder killed between writing its record's
 * temporary file and renaming it leaves that `.tmp` file behind. A lock created with O_EXCL (no
 * symbolic links) follows the same rules: lstat of a regular file, whose timestamps are as
 * coarse as the file system's, hence the longer settle time for whole-second ctimes. With no
 * grace period (null) a lock is never broken, not even for a dead holder.
 * @internal
 */
export class SymlinkLock {
  /** The file the lock protects. */
  readonly target: string;
  /** The lock's path. */
  readonly lockPath: string;
  /** The owner record's path (pid and host of the holder, and which lock instance it holds). */
  readonly ownerPath: string;
  /** Seconds a lock may stay unchanged before a waiter breaks it (null: never). */
  readonly gracePeriod: number | null;
  /** The held link's identity (`LockInstance.key`), to release only our own lock. */
  #held: string | null = null;
  /** Symbolic links unsupported here: an O_EXCL file instead (Optuna's JournalFileOpenLock). */
  #plainFile = false;

  /**
   * @param target The file to protect.
   * @param gracePeriod Seconds after which an unchanged lock is broken (null: never).
   */
  constructor(target: string, gracePeriod: number | null) {
    this.target = target;
    this.lockPath = `${target}.lock`;
    this.ownerPath = `${target}.lock.owner`;
    this.gracePeriod = gracePeriod;
  }

  /** The lock's instance, or null if there is no lock; `watch` also stats its target. */
  async #identity(watch = true): Promise<LockInstance | null> {
    try {
      const l = await fsp.lstat(this.lockPath, { bigint: true });
      // Python watches the mtime of the link's target (the journal); a new link (inode, times)
      // resets the clock as well, so this never breaks a lock sooner than Optuna would.
      const s = watch ? await fsp.stat(this.lockPath, { bigint: true }).catch(() => null) : null;
      const key = `${l.ino}:${l.birthtimeNs}:${l.mtimeNs}`;
      return { ino: l.ino, ctimeNs: l.ctimeNs, key, full: `${key}:${l.ctimeNs}:${s?.mtimeNs ?? l.mtimeNs}` };
    } catch {
      return null;
    }
  }

  /** Creates the lock, or fails with EEXIST. */
  async #create(): Promise<void> {
    if (!this.#plainFile) {
      try {
        // The link points at the journal's base name: it resolves next to the lock wherever the
        // directory is mounted (the target's text is irrelevant to the exclusion).
        await fsp.symlink(basename(this.target), this.lockPath);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
        // No symbolic links on this file system (Windows without the privilege, FAT, some SMB
        // mounts): a file created with O_EXCL, as Optuna's JournalFileOpenLock does. Both locks
        // create the same path, so each excludes the other.
        this.#plainFile = true;
      }
    }
    await (await fsp.open(this.lockPath, 'wx')).close();
  }

  /** Writes the owner record of the lock instance `held` (best effort: without it, waiters use the grace period). */
  async #writeOwner(held: LockInstance): Promise<void> {
    const me = thisProcessTable();
    const record = JSON.stringify({ pid: process.pid, host: me.host, boot: me.boot, pidns: me.pidns, ino: String(held.ino), ctimeNs: String(held.ctimeNs) });
    const tmp = `${this.ownerPath}.${randomUUID()}.tmp`;
    try {
      await fsp.writeFile(tmp, record, { flag: 'wx' });
      await fsp.rename(tmp, this.ownerPath);
    } catch {
      await fsp.unlink(tmp).catch(() => undefined);
    }
  }

  /** The owner record, if it vouches for the lock instance `inst` of this process table. */
  async #trustedOwner(inst: LockInstance): Promise<{ pid: number; text: string } | null> {
    let text: string;
    try {
      // O_NONBLOCK: a FIFO planted there must not hang the waiter.
      const fh = await fsp.open(this.ownerPath, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
      try {
        if (!(await fh.stat()).isFile()) return null;
        const buf = Buffer.alloc(MAX_OWNER_RECORD_BYTES + 1);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        if (bytesRead > MAX_OWNER_RECORD_BYTES) return null;
        text = buf.toString('utf8', 0, bytesRead);
      } finally {
        await fh.close();
      }
    } catch {
      return null;
    }
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch {
      return null;
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return null;
    const { pid, host, boot, pidns, ino, ctimeNs } = record as Record<string, unknown>;
    const me = thisProcessTable();
    if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0 || pid > 0x7fffffff) return null;
    if (host !== me.host || boot !== me.boot || pidns !== me.pidns) return null;
    if (ino !== String(inst.ino) || ctimeNs !== String(inst.ctimeNs)) return null;
    return { pid, text };
  }

  /** Waits until this process holds the lock. */
  async acquire(): Promise<void> {
    let delay = 1;
    let seen: string | null = null;
    let since = performance.now();
    let warned = performance.now();
    /** The lock instance and owner record last seen, and since when. */
    let watched = null as { what: string; since: number } | null;
    for (;;) {
      try {
        await this.#create();
        const held = await this.#identity(false);
        this.#held = held?.key ?? null;
        if (held !== null) await this.#writeOwner(held);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the lock ${this.lockPath}: ${(e as Error).message}`, { cause: e });
      }
      if (performance.now() - warned > 10_000) {
        warned = performance.now();
        process.emitWarning(`Waiting for more than 10 s for the lock ${this.lockPath}; retrying.`, { code: 'FERROPTIM_JOURNAL_LOCK' });
      }
      let pause = delay;
      if (this.gracePeriod !== null) {
        const id = await this.#identity();
        if (id === null) continue; // Released meanwhile: retry at once.
        // Its holder, a process of this host that is gone: broken at once (see the class's doc).
        const owner = await this.#trustedOwner(id);
        if (owner === null) watched = null;
        else {
          const what = `${id.key}:${id.ctimeNs}:${owner.text}`;
          if (watched?.what !== what) watched = { what, since: performance.now() };
          if (!isProcessAlive(owner.pid)) {
            const left = ownerSettleMs(id.ctimeNs) - (performance.now() - watched.since);
            if (left <= 0) {
              if (await this.#breakLock(id)) process.emitWarning(`The lock ${this.lockPath} was held by process ${owner.pid} of this host, which is no longer running; broke it.`, { code: 'FERROPTIM_JOURNAL_LOCK' });
              seen = null;
              watched = null;
              delay = 1;
              continue;
            }
            pause = Math.min(pause, Math.ceil(left));
          }
        }
        if (id.full !== seen) {
          seen = id.full;
          since = performance.now();
        } else if (performance.now() - since > this.gracePeriod * 1000) {
          process.emitWarning(`The lock ${this.lockPath} has not changed for ${this.gracePeriod} s; breaking it (its holder is presumed dead).`, { code: 'FERROPTIM_JOURNAL_LOCK' });
          await this.#breakLock(id);
          seen = null;
          watched = null;
          delay = 1;
        }
      }
      await sleep(pause);
      delay = Math.min(delay * 2, 1000);
    }
  }

  /**
   * Removes the lock instance `judged`, found stale; puts back a lock that replaced it meanwhile.
   * Its owner record goes too (only a stale record could be left behind). Returns whether this
   * call removed that instance.
   */
  async #breakLock(judged: LockInstance): Promise<boolean> {
    // The last look, just before the rename: still the instance judged?
    const now = await this.#identity(false);
    if (now === null || now.ino !== judged.ino || now.ctimeNs !== judged.ctimeNs || now.key !== judged.key) return false;
    await fsp.unlink(this.ownerPath).catch(() => undefined);
    const aside = `${this.lockPath}${randomUUID()}.rename`;
    try {
      await fsp.rename(this.lockPath, aside);
    } catch {
      return false; // Someone else released or broke it.
    }
    const l = await fsp.lstat(aside, { bigint: true }).catch(() => null);
    const ours = l === null || `${l.ino}:${l.birthtimeNs}:${l.mtimeNs}` === judged.key;
    if (!ours) {
      // A new holder took the lock between our look and the rename: give it back if the path
      // is still free (link(2) fails rather than replace).
      await fsp.link(aside, this.lockPath).catch(() => undefined);
    }
    await fsp.unlink(aside).catch(() => undefined);
    return ours;
  }

  /** Releases the lock (rename to a unique name, then unlink, as Optuna does). */
  async release(): Promise<void> {
    const held = this.#held;
    this.#held = null;
    const id = await this.#identity(false);
    if (id === null || held === null || id.key !== held) {
      process.emitWarning(`The lock ${this.lockPath} was broken by another process while this one held it (held longer than the grace period?).`, { code: 'FERROPTIM_JOURNAL_LOCK' });
      return;
    }
    // The owner record first, while the lock is still ours: no record outlives its lock.
    await fsp.unlink(this.ownerPath).catch(() => undefined);
    const aside = `${this.lockPath}${randomUUID()}.rename`;
    await fsp.rename(this.lockPath, aside);
    await fsp.unlink(aside);
  }
}

/** The journal as a file: incremental reads from the last complete line, locked appends. */
class FileJournal implements JournalBackend {
  readonly name: string;
  readonly #lock: SymlinkLock;
  /** Bytes consumed: the end of the last complete line applied. */
  #offset = 0;
  /** Lines consumed. */
  #lines = 0;
  /** Bytes of an incomplete last line seen by the last read (0 if none). */
  #tail = 0;
  /** The file's inode, to notice a replaced file. */
  #ino: number | null = null;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(path: string, lockGracePeriod: number | null) {
    this.name = path;
    this.#lock = new SymlinkLock(path, lockGracePeriod);
    // Created at once, as Optuna does (and a bad path fails here, not at the first call).
    closeSync(openSync(path, 'a'));
  }

  locked<T>(fn: () => Promise<T>): Promise<T> {
    return (async () => {
      await this.#lock.acquire();
      try {
        return await fn();
      } finally {
        await this.#lock.release();
      }
    })();
  }

  async readNew(consume: (text: string, line: number) => void): Promise<void> {
    const fh = await fsp.open(this.name, 'r');
    try {
      const st = await fh.stat();
      if (this.#ino !== null && st.ino !== this.#ino) throw new Error(`${this.name}: the journal file was replaced by another file; open it again`);
      this.#ino = st.ino;
      // Read up to the size seen now: lines appended meanwhile wait for the next read.
      const size = st.size;
      if (size < this.#offset) throw new Error(`${this.name}: the journal shrank from ${this.#offset} to ${size} bytes (truncated or rewritten by hand?)`);
      let pos = this.#offset;
      let pending: Buffer[] = [];
      let pendingLen = 0;
      const tooLong = () => new Error(`${this.name}:${this.#lines + 1}: a line longer than ${MAX_LINE_BYTES} bytes; this is not a journal written by Optuna or ferroptim`);
      while (pos < size) {
        const want = Math.min(READ_CHUNK, size - pos);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        let start = 0;
        for (;;) {
          const nl = buf.indexOf(10, start);
          if (nl < 0 || nl >= bytesRead) {
            if (start < bytesRead) {
              pendingLen += bytesRead - start;
              if (pendingLen > MAX_LINE_BYTES) throw tooLong();
              pending.push(buf.subarray(start, bytesRead));
            }
            break;
          }
          const part = buf.subarray(start, nl);
          if (pendingLen + part.length > MAX_LINE_BYTES) throw tooLong();
          const bytes = pending.length === 0 ? part : Buffer.concat([...pending, part]);
          pending = [];
          pendingLen = 0;
          start = nl + 1;
          this.#consume(bytes, consume);
        }
      }
      this.#tail = pendingLen;
    } finally {
      await fh.close();
    }
  }

  #consume(bytes: Buffer, consume: (text: string, line: number) => void): void {
    const line = this.#lines + 1;
    let text: string;
    try {
      text = this.#decoder.decode(bytes);
    } catch {
      throw new Error(`${this.name}:${line}: not a valid journal entry (not UTF-8)`);
    }
    consume(text, line);
    this.#offset += bytes.length + 1;
    this.#lines++;
  }

  async append(text: string): Promise<void> {
    const buf = Buffer.from(text, 'utf8');
    const fh = await fsp.open(this.name, 'a');
    try {
      const { size } = await fh.stat();
      if (size !== this.#offset + this.#tail) {
        throw new Error(`${this.name}: the journal changed while this process held its lock (a writer that does not take ${this.name}.lock?); nothing was written, try again`);
      }
      if (this.#tail > 0) {
        // A last line without "\n", seen with the lock held, can never be completed: its writer
        // was killed mid-write (or its lock broken). Optuna would write the next entry right
        // after it, gluing both into one line no reader can parse; cut the torn bytes first.
        // No reader has used them: an incomplete line is never applied.
        await fh.truncate(this.#offset);
        this.#tail = 0;
      }
      try {
        let done = 0;
        while (done < buf.length) {
          const { bytesWritten } = await fh.write(buf, done, buf.length - done);
          done += bytesWritten;
        }
        await fh.sync();
      } catch (e) {
        // Leave no torn line behind (disk full...): cut back to where this write began.
        await fh.truncate(this.#offset).catch(() => undefined);
        throw e;
      }
    } finally {
      await fh.close();
    }
  }
}

/**
 * Options of {@link JournalFileStorage}.
 * @group Storages
 */
export interface JournalFileStorageOptions {
  /** Seconds between the heartbeats a running trial should record (default 10). */
  heartbeatInterval?: number;
  /**
   * Seconds without a heartbeat after which a RUNNING trial is stale and
   * {@link JournalFileStorage.failStaleTrials} fails it (default three heartbeat intervals).
   */
  gracePeriod?: number;
  /**
   * Seconds a lock file may stay unchanged before a waiting process breaks it, its holder being
   * presumed dead (default 30, as Optuna's; null never breaks it). A lock whose holder is a
   * ferroptim process of this host that is no longer running is broken at once (within about a
   * second), whatever this period, unless it is null.
   */
  lockGracePeriod?: number | null;
}

const OPTION_NAMES: readonly string[] = ['heartbeatInterval', 'gracePeriod', 'lockGracePeriod'];

/**
 * A study storage in one append-only file, in the format of Optuna's `JournalStorage` with a
 * `JournalFileBackend`: no server, safe for several processes at once (Python Optuna workers
 * included), and safe against crashes (a line is written whole in one `write`, then fsynced).
 *
 * ```ts
 * const storage = new JournalFileStorage('study.log');
 * ```
 * ```python
 * optuna.load_study(study_name="...", storage=JournalStorage(JournalFileBackend("study.log")))
 * ```
 *
 * Heartbeats are recorded as system attributes of the trial (`ferroptim:worker`,
 * `ferroptim:heartbeat`), so that {@link JournalFileStorage.failStaleTrials} can fail the trials
 * of a worker that died; Optuna shows them as ordinary attributes.
 * @group Storages
 */
export class JournalFileStorage extends JournalStorage {
  /** The journal file. */
  readonly path: string;
  /** Seconds between the heartbeats of a running trial. */
  readonly heartbeatInterval: number;
  /** Seconds without a heartbeat after which a RUNNING trial is stale. */
  readonly gracePeriod: number;
  /** Seconds after which an unchanged lock is broken (null: never). */
  readonly lockGracePeriod: number | null;
  /**
   * Opens the journal at `path`, creating an empty file if there is none.
   * @param path The journal file (its lock is `path + ".lock"`).
   * @param options Heartbeat and lock timing.
   * @throws TypeError or RangeError naming a bad option.
   */
  constructor(path: string, options: JournalFileStorageOptions = {}) {
    const where = 'JournalFileStorage';
    if (typeof path !== 'string' || path === '') throw new TypeError(`${where}: expected path to be a non-empty string, received ${describe(path)}`);
    checkOptionNames(where, options, OPTION_NAMES);
    const hb = checkHeartbeatOptions(where, options.heartbeatInterval, options.gracePeriod);
    const lockGrace = options.lockGracePeriod === undefined ? 30 : options.lockGracePeriod === null ? null : positiveSeconds(where, 'lockGracePeriod', options.lockGracePeriod);
    super(new FileJournal(path, lockGrace), { gracePeriod: hb.gracePeriod, where });
    this.path = path;
    this.heartbeatInterval = hb.heartbeatInterval;
    this.gracePeriod = hb.gracePeriod;
    this.lockGracePeriod = lockGrace;
  }
}
