/**
 * A {@link Storage} in PostgreSQL, in Optuna's own RDB schema: the tables, enum types and
 * version stamps `optuna.storages.RDBStorage` creates and checks (see `optuna-schema.ts`,
 * generated from Optuna's models). Optuna, optuna-dashboard and Python workers open the studies
 * it writes, and it reads theirs.
 *
 * The `pg` package is an optional peer dependency, loaded only when a storage is created.
 * @module
 */
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { checkCompatible, contains, describe, jsonToDistribution, toExternal, type Distribution, type ParamValue } from '../distributions.js';
import {
  DuplicatedStudyError,
  TRIAL_STATE_NAMES,
  TrialState,
  isFinished,
  type FrozenStudy,
  type FrozenTrial,
  type JsonValue,
  type Storage,
  type StudyDirection,
  type TrialTemplate,
} from '../types.js';
import {
  ALEMBIC_HEAD,
  ALEMBIC_REVISIONS,
  ALEMBIC_VERSION_TABLE,
  ENUM_TYPES,
  OPTUNA_VERSION,
  SCHEMA_VERSION,
  TABLES,
} from './optuna-schema.js';
import { checkDistribution, checkOptionNames, finishedError, notFound, setOwn } from './common.js';
import { checkHeartbeatOptions, positiveSeconds } from './heartbeat.js';
import { MAX_JSON_CHARS, pyJsonDumps, pyJsonLoads } from './pyjson.js';

/**
 * Options of {@link PostgresStorage.connect}.
 * @group Storages
 */
export interface PostgresStorageOptions {
  /**
   * Seconds between the heartbeats of a running trial (Optuna's `heartbeat_interval`), or null
   * for none (then {@link PostgresStorage.failStaleTrials} fails nothing). Default 10.
   */
  heartbeatInterval?: number | null;
  /**
   * Seconds without a heartbeat after which a RUNNING trial is stale (Optuna's
   * `grace_period`). Default `2 * heartbeatInterval`.
   */
  gracePeriod?: number;
  /** The most connections the storage opens at once. Default 4. */
  poolSize?: number;
  /**
   * Seconds for which a transaction that failed because the server was unreachable,
   * restarting or shutting down is retried (with backoff, the whole transaction) before the
   * error reaches the caller. Default 60; 0 retries nothing.
   */
  retryTimeout?: number;
}

const WHERE = 'PostgresStorage';
const OPTION_NAMES = ['heartbeatInterval', 'gracePeriod', 'poolSize', 'retryTimeout'];
/** Longest names and keys Optuna's columns hold (`VARCHAR(512)`). */
const MAX_NAME = 512;
const INT4_MAX = 2147483647;
const INT4_MIN = -2147483648;
/** Most objectives of a study. */
const MAX_OBJECTIVES = 1000;
/** A trial's heartbeat now, by the server's clock (Optuna writes `now()` in naive UTC). */
const UPSERT_HEARTBEAT = 'INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES ($1, LOCALTIMESTAMP) ON CONFLICT (trial_id) DO UPDATE SET heartbeat = EXCLUDED.heartbeat';
/** Key of the advisory lock serializing schema creation between ferroptim processes. */
const SCHEMA_LOCK_KEY = '7261034512889';

// ---------------------------------------------------------------------------------------------
// Optuna's enum labels

function enumType(name: string) {
  const t = ENUM_TYPES.find((e) => e.name === name);
  if (!t) throw new Error(`${WHERE}: the generated schema lacks the enum type ${name}`);
  return t;
}

const TRIAL_STATE = enumType('trialstate');
const DIRECTION = enumType('studydirection');
const VALUE_TYPE = enumType('trialvaluetype');
const INTERMEDIATE_TYPE = enumType('trialintermediatevaluetype');

/** ferroptim's trial state number -> Optuna's label (the numbers are Optuna's). */
function stateLabel(state: TrialState): string {
  const label = TRIAL_STATE.labels.find((l) => TRIAL_STATE.numbers[l] === state);
  if (label === undefined) throw new RangeError(`${WHERE}: no Optuna trial state has the number ${state}`);
  return label;
}

function stateFromLabel(label: unknown, where: string): TrialState {
  const n = typeof label === 'string' && Object.hasOwn(TRIAL_STATE.numbers, label) ? TRIAL_STATE.numbers[label] : undefined;
  if (n === undefined || TRIAL_STATE_NAMES[n] === undefined) throw new Error(`${where}: unknown trial state ${describe(label)}`);
  return n as TrialState;
}

// ---------------------------------------------------------------------------------------------
// Errors

function badRow(where: string, detail: string, cause?: unknown): Error {
  const e = new Error(`${WHERE}: malformed ${where} in the database: ${detail}`, cause === undefined ? undefined : { cause }) as Error & { code: string };
  e.code = 'EBADROW';
  return e;
}

function errorCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTCONN',
  'EAI_AGAIN',
]);
/** admin/crash shutdown, starting up, too many connections, serialization failure, deadlock. */
const RETRY_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);
const TRANSIENT_MESSAGE = /Connection terminated|Connection ended unexpectedly|is not queryable|timeout exceeded when trying to connect|server closed the connection unexpectedly/i;

/**
 * Whether `e` says the server was unreachable or went away (or asked for a retry: a
 * serialization failure or deadlock), so that the transaction is worth running again.
 * @internal
 */
export function isRetryableError(e: unknown): boolean {
  if (e === null || typeof e !== 'object') return false;
  const code = errorCode(e);
  if (code !== undefined) {
    if (TRANSIENT_NODE_CODES.has(code) || RETRY_SQLSTATES.has(code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(code)) return true; // SQLSTATE class 08: connection exception
  }
  const errors = (e as { errors?: unknown }).errors; // AggregateError of several addresses
  if (Array.isArray(errors) && errors.some(isRetryableError)) return true;
  const message = (e as { message?: unknown }).message;
  return typeof message === 'string' && TRANSIENT_MESSAGE.test(message);
}

// ---------------------------------------------------------------------------------------------
// Argument checks

function checkId(method: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${WHERE}.${method}: expected ${name} to be an integer, received ${describe(v)}`);
  if (v < INT4_MIN || v > INT4_MAX) throw new RangeError(`${WHERE}.${method}: ${name} ${v} is out of range`);
  return v;
}

const LONE_SURROGATE = /\p{Cs}/u;

function checkText(method: string, name: string, v: unknown, max = MAX_NAME): string {
  if (typeof v !== 'string') throw new TypeError(`${WHERE}.${method}: expected ${name} to be a string, received ${describe(v)}`);
  if (v.includes('\0')) throw new RangeError(`${WHERE}.${method}: ${name} must not contain NUL characters, received ${describe(v)}`);
  if (LONE_SURROGATE.test(v)) throw new RangeError(`${WHERE}.${method}: ${name} is not well-formed Unicode (a lone surrogate), received ${describe(v)}`);
  let n = 0;
  for (const _ of v) if (++n > max) throw new RangeError(`${WHERE}.${method}: ${name} is longer than ${max} characters (Optuna's column limit)`);
  return v;
}

function checkState(method: string, v: unknown): TrialState {
  if (typeof v !== 'number' || !Number.isInteger(v) || TRIAL_STATE_NAMES[v] === undefined) {
    throw new TypeError(`${WHERE}.${method}: expected state to be a TrialState (0-4), received ${describe(v)}`);
  }
  return v as TrialState;
}

function checkValues(method: string, v: unknown): number[] | null {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) throw new TypeError(`${WHERE}.${method}: expected values to be an array of numbers or null, received ${describe(v)}`);
  if (v.length > MAX_OBJECTIVES) throw new RangeError(`${WHERE}.${method}: at most ${MAX_OBJECTIVES} values, received ${v.length}`);
  return v.map((x, i) => {
    if (typeof x !== 'number') throw new TypeError(`${WHERE}.${method}: expected values[${i}] to be a number, received ${describe(x)}`);
    if (Number.isNaN(x)) throw new RangeError(`${WHERE}.${method}: values[${i}] is NaN (Optuna stores no NaN objective values)`);
    return x;
  });
}

function checkStep(method: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${WHERE}.${method}: expected step to be an integer, received ${describe(v)}`);
  if (v < INT4_MIN || v > INT4_MAX) throw new RangeError(`${WHERE}.${method}: step ${v} is out of Optuna's INTEGER range`);
  return v;
}

function checkNumber(method: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${WHERE}.${method}: expected ${name} to be a number, received ${describe(v)}`);
  return v;
}

function checkParam(method: string, name: string, internal: unknown, d: unknown): { internal: number; json: string; distribution: Distribution } {
  const { distribution, json } = checkDistribution(`${WHERE}.${method}`, `the distribution of parameter ${JSON.stringify(name)}`, d);
  if (typeof internal !== 'number') throw new TypeError(`${WHERE}.${method}: expected the internal value of parameter ${JSON.stringify(name)} to be a number, received ${describe(internal)}`);
  if (!Number.isFinite(internal)) throw new RangeError(`${WHERE}.${method}: the internal value of parameter ${JSON.stringify(name)} must be finite, received ${describe(internal)}`);
  if (distribution.type === 'categorical' && !contains(distribution, internal)) {
    throw new RangeError(`${WHERE}.${method}: ${internal} is not an index of the choices of parameter ${JSON.stringify(name)} (${distribution.choices.length} choices)`);
  }
  return { internal, json, distribution };
}

function checkDate(method: string, name: string, v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new TypeError(`${WHERE}.${method}: expected ${name} to be a valid Date or null, received ${describe(v)}`);
  const y = v.getUTCFullYear();
  if (y < 1 || y > 9999) throw new RangeError(`${WHERE}.${method}: ${name} must be within the years 1-9999, received ${v.toISOString()}`);
  return v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

// ---------------------------------------------------------------------------------------------
// Datetimes: Optuna's RDB storage keeps naive UTC (`TIMESTAMP WITHOUT TIME ZONE`).

/** `d` as a naive UTC timestamp literal with microseconds (`2024-05-01 12:00:00.123000`). */
function toNaiveUtc(d: Date): string {
  return `${d.toISOString().slice(0, 23).replace('T', ' ')}000`;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

function fromNaiveUtc(v: unknown, where: string): Date | null {
  if (v === null) return null;
  const m = typeof v === 'string' ? TIMESTAMP.exec(v) : null;
  if (!m) throw badRow(where, `expected a timestamp, found ${describe(v)}`);
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = Math.floor(Number((frac ?? '').padEnd(6, '0')) / 1000);
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms));
  date.setUTCFullYear(Number(y)); // years below 100
  if (Number.isNaN(date.getTime())) throw badRow(where, `invalid timestamp ${describe(v)}`);
  return date;
}

// ---------------------------------------------------------------------------------------------
// Value encodings (TrialValueModel.TrialValueType, TrialIntermediateValueModel.TrialIntermediateValueType)

function valueToStored(v: number): [number | null, string] {
  if (v === Infinity) return [null, 'INF_POS'];
  if (v === -Infinity) return [null, 'INF_NEG'];
  return [v, 'FINITE'];
}

function intermediateToStored(v: number): [number | null, string] {
  if (Number.isNaN(v)) return [null, 'NAN'];
  return valueToStored(v);
}

function storedToValue(value: unknown, type: unknown, where: string, allowNaN: boolean): number {
  const t = typeof type === 'string' ? type : '';
  const known = allowNaN ? INTERMEDIATE_TYPE.labels : VALUE_TYPE.labels;
  if (!known.includes(t)) throw badRow(where, `unknown value type ${describe(type)}`);
  if (t === 'FINITE') {
    if (typeof value !== 'number' || Number.isNaN(value)) throw badRow(where, `a FINITE value must be a number, found ${describe(value)}`);
    return value;
  }
  if (value !== null) throw badRow(where, `a ${t} value must be NULL, found ${describe(value)}`);
  return t === 'INF_POS' ? Infinity : t === 'INF_NEG' ? -Infinity : NaN;
}

function readJsonColumn(v: unknown, where: string): JsonValue {
  if (typeof v !== 'string') throw badRow(where, `expected JSON text, found ${describe(v)}`);
  try {
    return pyJsonLoads(v);
  } catch (e) {
    throw badRow(where, (e as Error).message, e);
  }
}

function readInt(v: unknown, where: string, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw badRow(where, `expected ${what} to be an integer, found ${describe(v)}`);
  return v;
}

function readName(v: unknown, where: string, what: string): string {
  if (typeof v !== 'string') throw badRow(where, `expected ${what} to be text, found ${describe(v)}`);
  if (v.length > 4 * MAX_NAME) throw badRow(where, `${what} is longer than ${MAX_NAME} characters`);
  return v;
}

function directionFromLabel(v: unknown, where: string): StudyDirection {
  if (v === 'MINIMIZE') return 'minimize';
  if (v === 'MAXIMIZE') return 'maximize';
  throw badRow(where, `direction ${describe(v)} is neither MINIMIZE nor MAXIMIZE`);
}

// ---------------------------------------------------------------------------------------------
// pg

type PgModule = typeof import('pg');
type Row = Record<string, unknown>;
type Query = (sql: string, params?: readonly unknown[]) => Promise<Row[]>;

async function loadPg(): Promise<PgModule> {
  let mod: PgModule & { default?: PgModule };
  try {
    mod = (await import('pg')) as PgModule & { default?: PgModule };
  } catch (e) {
    const code = errorCode(e);
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`${WHERE}: PostgreSQL storages need the 'pg' package, which is not installed: run \`npm install pg\``, { cause: e });
    }
    throw e;
  }
  const pg = mod.default ?? mod;
  if (typeof pg.Pool !== 'function') throw new Error(`${WHERE}: the installed 'pg' package has no Pool class; install pg 8 (\`npm install pg@8\`)`);
  return pg;
}

/** Type parsers: timestamps stay text (they are naive UTC; pg would read them as local time). */
function typeParsers(pg: PgModule): NonNullable<PoolConfig['types']> {
  const TIMESTAMP_OID = 1114;
  const TIMESTAMPTZ_OID = 1184;
  return {
    getTypeParser: ((oid: number, format?: string) => {
      if (oid === TIMESTAMP_OID || oid === TIMESTAMPTZ_OID) return (v: string) => v;
      return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
    }) as NonNullable<PoolConfig['types']>['getTypeParser'],
  };
}

/** A postgres URL; SQLAlchemy's `postgresql+psycopg2://` form is accepted too. */
function normalizeUrl(url: unknown): string {
  if (typeof url !== 'string') throw new TypeError(`${WHERE}.connect: expected url to be a string, received ${describe(url)}`);
  const m = /^(postgres(?:ql)?)(\+[a-z0-9_]+)?:\/\//i.exec(url);
  if (!m) throw new RangeError(`${WHERE}.connect: expected a postgresql:// URL, received ${describe(redact(url))}`);
  return `postgresql://${url.slice(m[0].length)}`;
}

/** A URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/^([a-z0-9+]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Options {
  heartbeatInterval: number | null;
  gracePeriod: number | null;
  poolSize: number;
  retryTimeout: number;
}

function checkOptions(options: unknown): Options {
  const where = `${WHERE}.connect`;
  const o = checkOptionNames(where, options, OPTION_NAMES);
  const positive = (name: string, v: unknown, allowZero = false): number => {
    if (typeof v !== 'number') throw new TypeError(`${WHERE}.connect: expected ${name} to be a number, received ${describe(v)}`);
    if (!Number.isFinite(v) || (allowZero ? v < 0 : v <= 0)) throw new RangeError(`${WHERE}.connect: expected ${name} to be a finite number ${allowZero ? '>= 0' : '> 0'}, received ${describe(v)}`);
    return v;
  };
  // Optuna's default grace period is two heartbeat intervals.
  let heartbeat: { heartbeatInterval: number | null; gracePeriod: number | null } = { heartbeatInterval: null, gracePeriod: null };
  if (o.heartbeatInterval !== null) heartbeat = checkHeartbeatOptions(where, o.heartbeatInterval, o.gracePeriod, 2);
  else if (o.gracePeriod !== undefined) {
    positiveSeconds(where, 'gracePeriod', o.gracePeriod);
    throw new RangeError(`${where}: gracePeriod ${describe(o.gracePeriod)} needs a heartbeatInterval (it is null)`);
  }
  let poolSize = 4;
  if (o.poolSize !== undefined) {
    poolSize = positive('poolSize', o.poolSize);
    if (!Number.isInteger(poolSize) || poolSize > 1000) throw new RangeError(`${WHERE}.connect: expected poolSize to be an integer in 1..1000, received ${describe(o.poolSize)}`);
  }
  const retryTimeout = o.retryTimeout === undefined ? 60 : positive('retryTimeout', o.retryTimeout, true);
  return { ...heartbeat, poolSize, retryTimeout };
}

/** A record of a trial's row and its children, while loading. */
interface TrialAcc {
  trialId: number;
  number: number;
  state: TrialState;
  values: number[] | null;
  params: Record<string, ParamValue>;
  distributions: Record<string, Distribution>;
  intermediateValues: Map<number, number>;
  userAttrs: Record<string, JsonValue>;
  systemAttrs: Record<string, JsonValue>;
  datetimeStart: Date | null;
  datetimeComplete: Date | null;
}

/**
 * A storage in a PostgreSQL database, in the schema Optuna's `RDBStorage` uses: studies written
 * here open in Optuna (`optuna.load_study(study_name=..., storage="postgresql://...")`) and
 * optuna-dashboard, Python Optuna workers can join them, and their trials are read here.
 *
 * Create one with {@link PostgresStorage.connect}; it creates the schema in an empty database
 * (as Optuna would) and checks the version of an existing one. Every method is one transaction
 * with Optuna's semantics: trial numbers are assigned under a lock of the study's row, a WAITING
 * trial moves to RUNNING for one caller only, and a stale trial is failed by one caller only.
 * When the server is unreachable or restarting, transactions are retried for up to
 * `retryTimeout` seconds; a transaction whose COMMIT was interrupted is looked up (by its
 * transaction id) rather than run twice.
 *
 * Rows written by other programs are checked as they are read; a malformed one raises an Error
 * with `code: 'EBADROW'`. A missing study or trial raises an Error with `code: 'ENOSTUDY'` or
 * `'ENOTRIAL'`.
 *
 * Needs the `pg` package (an optional peer dependency: `npm install pg`).
 * @group Storages
 */
export class PostgresStorage implements Storage {
  /** Seconds between heartbeats of running trials, or null for none. */
  readonly heartbeatInterval: number | null;
  /** Seconds without a heartbeat after which a RUNNING trial is stale, or null without heartbeats. */
  readonly gracePeriod: number | null;
  /** The most connections opened at once. */
  readonly poolSize: number;
  /** Seconds for which transactions failing on connection errors are retried. */
  readonly retryTimeout: number;

  private readonly pool: Pool;
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(pool: Pool, options: Options) {
    this.pool = pool;
    this.heartbeatInterval = options.heartbeatInterval;
    this.gracePeriod = options.gracePeriod;
    this.poolSize = options.poolSize;
    this.retryTimeout = options.retryTimeout;
  }

  /**
   * Connects to the database at `url` (`postgresql://user:password@host:port/database`; the
   * `postgresql+psycopg2://` form of SQLAlchemy URLs is accepted), creates Optuna's schema if
   * the database has none, and checks it otherwise.
   * @param url The database's URL.
   * @param options Heartbeats, pool size and retries.
   * @returns The storage; call {@link PostgresStorage.close} when done.
   * @throws TypeError or RangeError naming a bad argument; Error if `pg` is not installed, the
   * server cannot be reached within `retryTimeout` seconds, or the database holds a schema this
   * version cannot use (another `schema_version`, an Optuna schema needing `optuna storage
   * upgrade`, or one from a newer Optuna).
   */
  static async connect(url: string, options: PostgresStorageOptions = {}): Promise<PostgresStorage> {
    const connectionString = normalizeUrl(url);
    const opts = checkOptions(options);
    const pg = await loadPg();
    const pool = new pg.Pool({
      connectionString,
      max: opts.poolSize,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 15_000,
      keepAlive: true,
      allowExitOnIdle: true,
      application_name: 'ferroptim-tune',
      types: typeParsers(pg),
    });
    // An idle connection that the server closes (a restart) must not crash the process; the
    // pool drops it and the next transaction opens another.
    pool.on('error', () => {});
    const storage = new PostgresStorage(pool, opts);
    try {
      await storage.initSchema();
    } catch (e) {
      await storage.close();
      throw e;
    }
    return storage;
  }

  // -------------------------------------------------------------------------------------------
  // Transactions

  private checkOpen(method: string): void {
    if (this.closed) throw new Error(`${WHERE}.${method}: the storage is closed`);
  }

  /**
   * Runs `fn` in a transaction, retrying the whole of it on connection errors until
   * `retryTimeout`. A write transaction notes its transaction id first; if its COMMIT fails on a
   * connection error, the outcome is looked up (txid_status) before anything is re-run.
   */
  private async transaction<T>(method: string, mode: 'read' | 'write', fn: (q: Query) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.retryTimeout * 1000;
    for (let attempt = 0; ; attempt++) {
      this.checkOpen(method);
      let client: PoolClient | undefined;
      let broken = false;
      const onError = () => {
        broken = true;
      };
      let xid: string | null = null;
      let pid: number | null = null;
      let committing = false;
      let result: T | undefined;
      try {
        client = await this.pool.connect();
        client.on('error', onError);
        const c = client;
        const q: Query = async (sql, params) => (await c.query(sql, params as unknown[] | undefined)).rows as Row[];
        if (mode === 'read') await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        else {
          // One round trip: BEGIN, and the transaction's id and backend, to look the outcome up
          // if the COMMIT is cut off.
          const results = (await c.query('BEGIN; SELECT txid_current()::text AS xid, pg_backend_pid() AS pid')) as unknown as { rows: Row[] }[];
          const row = results[1]?.rows[0];
          xid = typeof row?.xid === 'string' ? row.xid : null;
          pid = typeof row?.pid === 'number' ? row.pid : null;
        }
        result = await fn(q);
        committing = true;
        await c.query('COMMIT');
        c.removeListener('error', onError);
        c.release();
        return result;
      } catch (err) {
        const retry = isRetryableError(err) || broken;
        if (client) {
          let destroy = retry;
          if (!retry && !committing) {
            try {
              await client.query('ROLLBACK');
            } catch {
              destroy = true;
            }
          }
          client.removeListener('error', onError);
          client.release(destroy ? true : undefined);
        }
        if (!retry) throw err;
        if (committing && xid !== null) {
          const status = await this.transactionStatus(method, xid, pid, deadline, err);
          if (status === 'committed') return result as T;
        }
        if (Date.now() >= deadline) throw this.gaveUp(method, err);
        await sleep(Math.min(this.backoff(attempt), Math.max(0, deadline - Date.now())));
      }
    }
  }

  private backoff(attempt: number): number {
    return Math.min(2000, 50 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2);
  }

  private gaveUp(method: string, err: unknown): Error {
    const e = new Error(`${WHERE}.${method}: the database was unreachable for ${this.retryTimeout} s (retryTimeout): ${(err as Error)?.message ?? describe(err)}`, { cause: err }) as Error & { code?: string };
    const code = errorCode(err);
    if (code !== undefined) e.code = code;
    return e;
  }

  /** Whether the transaction `xid`, whose COMMIT was cut off, committed. */
  private async transactionStatus(method: string, xid: string, pid: number | null, deadline: number, original: unknown): Promise<'committed' | 'aborted'> {
    for (let attempt = 0; ; attempt++) {
      this.checkOpen(method);
      try {
        const r = await this.pool.query('SELECT txid_status($1::bigint) AS s', [xid]);
        const s = (r.rows[0] as Row | undefined)?.s;
        if (s === 'committed' || s === 'aborted') return s;
        if (s === null || s === undefined) {
          throw new Error(`${WHERE}.${method}: the connection was lost while committing, and the server no longer knows whether transaction ${xid} committed`, { cause: original });
        }
        // 'in progress': its backend still holds it open; end that backend (only if it still runs this transaction).
        if (pid !== null) {
          await this.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND backend_xid::text = ($2::bigint % 4294967296)::text', [pid, xid]);
        }
      } catch (e) {
        if (!isRetryableError(e)) throw e;
      }
      if (Date.now() >= deadline) throw this.gaveUp(method, original);
      await sleep(Math.min(this.backoff(attempt), Math.max(0, deadline - Date.now())));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Schema

  private async initSchema(): Promise<void> {
    // Optuna processes do not take our advisory lock: a concurrent `create_all` may win a race
    // for a table or type; then look again.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.transaction('connect', 'write', (q) => this.ensureSchema(q));
        return;
      } catch (e) {
        const code = errorCode(e);
        if (attempt < 5 && (code === '42P07' || code === '42710' || code === '23505')) {
          await sleep(50 + Math.random() * 200);
          continue;
        }
        throw e;
      }
    }
  }

  private async ensureSchema(q: Query): Promise<void> {
    await q(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_KEY})`);
    const schema = (await q('SELECT current_schema() AS s'))[0]?.s;
    if (typeof schema !== 'string') throw new Error(`${WHERE}.connect: the connection has no current schema (check the search_path of the database user)`);
    const where = `schema ${JSON.stringify(schema)}`;
    const tables = new Set((await q('SELECT tablename FROM pg_tables WHERE schemaname = current_schema()')).map((r) => String(r.tablename)));
    const enumRows = await q(
      `SELECT t.typname, e.enumlabel FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
       JOIN pg_enum e ON e.enumtypid = t.oid WHERE n.nspname = current_schema() ORDER BY t.typname, e.enumsortorder`,
    );
    const enums = new Map<string, string[]>();
    for (const r of enumRows) {
      const name = String(r.typname);
      if (!enums.has(name)) enums.set(name, []);
      enums.get(name)!.push(String(r.enumlabel));
    }
    // Enum types first (a table needs its types), then the missing tables with their indexes:
    // what Optuna's `metadata.create_all` does.
    for (const t of ENUM_TYPES) {
      const labels = enums.get(t.name);
      if (labels === undefined) await q(t.ddl);
      else {
        const missing = t.labels.filter((l) => !labels.includes(l));
        if (missing.length > 0) {
          throw new Error(`${WHERE}.connect: the enum type ${t.name} in ${where} lacks the labels ${missing.join(', ')}: it is not Optuna's RDB schema`);
        }
      }
    }
    const existing = TABLES.filter((t) => tables.has(t.name));
    if (existing.length > 0) {
      const cols = await q('SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()');
      const byTable = new Map<string, Set<string>>();
      for (const r of cols) {
        const t = String(r.table_name);
        if (!byTable.has(t)) byTable.set(t, new Set());
        byTable.get(t)!.add(String(r.column_name));
      }
      for (const t of existing) {
        const have = byTable.get(t.name) ?? new Set<string>();
        const missing = t.columns.filter((c) => !have.has(c));
        if (missing.length > 0) {
          throw new Error(
            `${WHERE}.connect: the table ${t.name} in ${where} lacks the columns ${missing.join(', ')}: not Optuna ${OPTUNA_VERSION}'s RDB schema (an old Optuna schema is upgraded with \`optuna storage upgrade --storage URL\`)`,
          );
        }
      }
    }
    for (const t of TABLES) {
      if (tables.has(t.name)) continue;
      await q(t.ddl);
      for (const ix of t.indexes) await q(ix.ddl);
    }

    // version_info: Optuna's _VersionManager writes one row; schema_version is frozen at 12
    // since the schema moved to Alembic.
    const info = await q('SELECT schema_version, library_version FROM version_info');
    if (info.length === 0) {
      await q('INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, $1, $2)', [SCHEMA_VERSION, OPTUNA_VERSION]);
    } else {
      const v = info[0]!.schema_version;
      if (v !== SCHEMA_VERSION) {
        throw new Error(
          `${WHERE}.connect: the database's Optuna schema has schema_version ${describe(v)} (set up by optuna ${describe(info[0]!.library_version)}); ferroptim-tune knows schema_version ${SCHEMA_VERSION} (Optuna ${OPTUNA_VERSION}). Upgrade it with \`optuna storage upgrade --storage URL\` if it is older`,
        );
      }
    }

    // alembic_version: stamped with the head revision on a new schema (as Optuna does when
    // version_info holds SCHEMA_VERSION); otherwise it must be the head.
    if (!tables.has(ALEMBIC_VERSION_TABLE.name)) await q(ALEMBIC_VERSION_TABLE.ddl);
    const revs = (await q('SELECT version_num FROM alembic_version')).map((r) => r.version_num);
    if (revs.length === 0) {
      await q('INSERT INTO alembic_version (version_num) VALUES ($1)', [ALEMBIC_HEAD]);
    } else if (revs.length > 1) {
      throw new Error(`${WHERE}.connect: alembic_version holds several revisions (${revs.map(describe).join(', ')}); Optuna's schema has one`);
    } else if (revs[0] !== ALEMBIC_HEAD) {
      const rev = describe(revs[0]);
      if (typeof revs[0] === 'string' && ALEMBIC_REVISIONS.includes(revs[0])) {
        throw new Error(
          `${WHERE}.connect: the database holds an older Optuna schema (revision ${rev}; ferroptim-tune needs ${ALEMBIC_HEAD}, Optuna ${OPTUNA_VERSION}'s). Upgrade it with \`optuna storage upgrade --storage URL\``,
        );
      }
      throw new Error(
        `${WHERE}.connect: the database holds an Optuna schema of unknown revision ${rev} (from a newer Optuna?); ferroptim-tune knows the revisions up to ${ALEMBIC_HEAD} (Optuna ${OPTUNA_VERSION})`,
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Studies

  /**
   * Creates a study with one direction per objective; returns its id.
   * @param directions The directions of its objectives (at least one).
   * @param studyName Its unique name (at most 512 characters).
   * @throws DuplicatedStudyError if the name is taken.
   */
  async createNewStudy(directions: readonly StudyDirection[], studyName: string): Promise<number> {
    const m = 'createNewStudy';
    if (!Array.isArray(directions)) throw new TypeError(`${WHERE}.${m}: expected directions to be an array, received ${describe(directions)}`);
    if (directions.length === 0 || directions.length > MAX_OBJECTIVES) throw new RangeError(`${WHERE}.${m}: expected 1 to ${MAX_OBJECTIVES} directions, received ${directions.length}`);
    const labels = directions.map((d, i) => {
      if (d !== 'minimize' && d !== 'maximize') throw new TypeError(`${WHERE}.${m}: expected directions[${i}] to be 'minimize' or 'maximize', received ${describe(d)}`);
      return d === 'minimize' ? 'MINIMIZE' : 'MAXIMIZE';
    });
    checkText(m, 'studyName', studyName);
    try {
      return await this.transaction(m, 'write', async (q) => {
        const id = readInt((await q('INSERT INTO studies (study_name) VALUES ($1) RETURNING study_id', [studyName]))[0]?.study_id, 'studies row', 'study_id');
        await q('INSERT INTO study_directions (direction, study_id, objective) SELECT d::studydirection, $1, (o - 1)::int FROM unnest($2::text[]) WITH ORDINALITY AS u(d, o)', [id, labels]);
        return id;
      });
    } catch (e) {
      if (errorCode(e) === '23505') throw new DuplicatedStudyError(`${WHERE}.${m}: a study named ${JSON.stringify(studyName)} already exists`);
      throw e;
    }
  }

  /**
   * Deletes a study with its trials and attributes.
   * @param studyId The study's id.
   * @throws Error with `code: 'ENOSTUDY'` if there is no such study.
   */
  async deleteStudy(studyId: number): Promise<void> {
    const m = 'deleteStudy';
    checkId(m, 'studyId', studyId);
    await this.transaction(m, 'write', async (q) => {
      if ((await q('SELECT study_id FROM studies WHERE study_id = $1 FOR UPDATE', [studyId])).length === 0) throw notFound(WHERE, 'study', `with id ${studyId}`);
      // Lock the trials: writers of their attributes, values and heartbeats wait for us, then
      // find them gone (no ON DELETE CASCADE in Optuna's schema: children go first).
      await q('SELECT trial_id FROM trials WHERE study_id = $1 FOR UPDATE', [studyId]);
      const trialsOf = 'trial_id IN (SELECT trial_id FROM trials WHERE study_id = $1)';
      for (const t of ['trial_heartbeats', 'trial_intermediate_values', 'trial_values', 'trial_params', 'trial_system_attributes', 'trial_user_attributes']) {
        await q(`DELETE FROM ${t} WHERE ${trialsOf}`, [studyId]);
      }
      await q('DELETE FROM trials WHERE study_id = $1', [studyId]);
      for (const t of ['study_directions', 'study_system_attributes', 'study_user_attributes']) {
        await q(`DELETE FROM ${t} WHERE study_id = $1`, [studyId]);
      }
      await q('DELETE FROM studies WHERE study_id = $1', [studyId]);
    });
  }

  /**
   * The id of the study named `studyName`.
   * @param studyName The study's name.
   * @throws Error with `code: 'ENOSTUDY'` if there is none.
   */
  async getStudyIdFromName(studyName: string): Promise<number> {
    const m = 'getStudyIdFromName';
    if (typeof studyName !== 'string') throw new TypeError(`${WHERE}.${m}: expected studyName to be a string, received ${describe(studyName)}`);
    if (studyName.includes('\0') || LONE_SURROGATE.test(studyName)) throw notFound(WHERE, 'study', `named ${JSON.stringify(studyName)}`);
    const rows = await this.transaction(m, 'read', (q) => q('SELECT study_id FROM studies WHERE study_name = $1', [studyName]));
    if (rows.length === 0) throw notFound(WHERE, 'study', `named ${JSON.stringify(studyName)}`);
    return readInt(rows[0]!.study_id, 'studies row', 'study_id');
  }

  /** Every study in the database, in order of id. */
  async getAllStudies(): Promise<FrozenStudy[]> {
    return this.transaction('getAllStudies', 'read', (q) => this.loadStudies(q, null));
  }

  /**
   * One study's record.
   * @param studyId The study's id.
   * @throws Error with `code: 'ENOSTUDY'` if there is no such study.
   */
  async getStudy(studyId: number): Promise<FrozenStudy> {
    const m = 'getStudy';
    checkId(m, 'studyId', studyId);
    const studies = await this.transaction(m, 'read', (q) => this.loadStudies(q, studyId));
    if (studies.length === 0) throw notFound(WHERE, 'study', `with id ${studyId}`);
    return studies[0]!;
  }

  private async loadStudies(q: Query, studyId: number | null): Promise<FrozenStudy[]> {
    const filter = studyId === null ? '' : 'WHERE study_id = $1';
    const params = studyId === null ? [] : [studyId];
    const studies = await q(`SELECT study_id, study_name FROM studies ${filter} ORDER BY study_id`, params);
    if (studies.length === 0) return [];
    const directions = await q(`SELECT study_id, objective, direction FROM study_directions ${filter} ORDER BY study_id, objective`, params);
    const userAttrs = await q(`SELECT study_id, key, value_json FROM study_user_attributes ${filter} ORDER BY study_user_attribute_id`, params);
    const systemAttrs = await q(`SELECT study_id, key, value_json FROM study_system_attributes ${filter} ORDER BY study_system_attribute_id`, params);
    const byId = new Map<number, { studyId: number; studyName: string; directions: StudyDirection[]; userAttrs: Record<string, JsonValue>; systemAttrs: Record<string, JsonValue> }>();
    for (const r of studies) {
      const id = readInt(r.study_id, 'studies row', 'study_id');
      byId.set(id, { studyId: id, studyName: readName(r.study_name, `studies row ${id}`, 'study_name'), directions: [], userAttrs: {}, systemAttrs: {} });
    }
    for (const r of directions) {
      const s = byId.get(Number(r.study_id));
      if (!s) continue;
      const where = `study_directions row of study ${s.studyId}`;
      const objective = readInt(r.objective, where, 'objective');
      if (objective !== s.directions.length) throw badRow(where, `the objectives are not 0, 1, ... (found ${objective} at position ${s.directions.length})`);
      s.directions.push(directionFromLabel(r.direction, where));
    }
    for (const [rows, field, table] of [
      [userAttrs, 'userAttrs', 'study_user_attributes'],
      [systemAttrs, 'systemAttrs', 'study_system_attributes'],
    ] as const) {
      for (const r of rows) {
        const s = byId.get(Number(r.study_id));
        if (!s) continue;
        const key = readName(r.key, `${table} row of study ${s.studyId}`, 'key');
        setOwn(s[field], key, readJsonColumn(r.value_json, `${table} row of study ${s.studyId} (key ${JSON.stringify(key)})`));
      }
    }
    return [...byId.values()].map((s) => {
      if (s.directions.length === 0) throw badRow(`study ${s.studyId}`, 'it has no directions (study_directions)');
      return s;
    });
  }

  /**
   * Sets a study user attribute (stored as JSON text, as Python's `json.dumps` writes it).
   * @param studyId The study's id.
   * @param key The attribute's name (at most 512 characters).
   * @param value JSON data.
   * @throws Error with `code: 'ENOSTUDY'` if there is no such study.
   */
  async setStudyUserAttr(studyId: number, key: string, value: JsonValue): Promise<void> {
    await this.setStudyAttr('setStudyUserAttr', 'study_user_attributes', studyId, key, value);
  }

  /**
   * Sets a study system attribute (stored as JSON text).
   * @param studyId The study's id.
   * @param key The attribute's name (at most 512 characters).
   * @param value JSON data.
   * @throws Error with `code: 'ENOSTUDY'` if there is no such study.
   */
  async setStudySystemAttr(studyId: number, key: string, value: JsonValue): Promise<void> {
    await this.setStudyAttr('setStudySystemAttr', 'study_system_attributes', studyId, key, value);
  }

  private async setStudyAttr(m: string, table: string, studyId: number, key: string, value: JsonValue): Promise<void> {
    checkId(m, 'studyId', studyId);
    checkText(m, 'key', key);
    const json = pyJsonDumps(value, { where: `${WHERE}.${m}: value` });
    await this.transaction(m, 'write', async (q) => {
      if ((await q('SELECT study_id FROM studies WHERE study_id = $1 FOR SHARE', [studyId])).length === 0) throw notFound(WHERE, 'study', `with id ${studyId}`);
      await q(`INSERT INTO ${table} (study_id, key, value_json) VALUES ($1, $2, $3) ON CONFLICT (study_id, key) DO UPDATE SET value_json = EXCLUDED.value_json`, [studyId, key, json]);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Trials

  /**
   * Creates a trial in the study: RUNNING and started now, or from `template` (an enqueued
   * WAITING trial, or a copy). Its number is the count of the study's earlier trials, taken
   * under a lock of the study's row (as Optuna does), so concurrent creators never share one.
   * @param studyId The study's id.
   * @param template The fields of the new trial.
   * @returns The trial's id.
   * @throws Error with `code: 'ENOSTUDY'` if there is no such study; TypeError or RangeError
   * for a malformed template; RangeError if a parameter's distribution conflicts with the one
   * earlier trials of the study used.
   */
  async createNewTrial(studyId: number, template?: TrialTemplate): Promise<number> {
    const m = 'createNewTrial';
    checkId(m, 'studyId', studyId);
    const t = template === undefined ? null : checkTemplate(m, template);
    return this.transaction(m, 'write', async (q) => {
      if ((await q('SELECT study_id FROM studies WHERE study_id = $1 FOR UPDATE', [studyId])).length === 0) throw notFound(WHERE, 'study', `with id ${studyId}`);
      const state = t?.state ?? TrialState.RUNNING;
      const start = t ? t.datetimeStart : new Date();
      const row = (
        await q(
          `INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete)
           VALUES ((SELECT count(*) FROM trials WHERE study_id = $1), $1, $2::trialstate, $3, $4) RETURNING trial_id`,
          [studyId, stateLabel(state), start && toNaiveUtc(start), t?.datetimeComplete ? toNaiveUtc(t.datetimeComplete) : null],
        )
      )[0];
      const trialId = readInt(row?.trial_id, 'trials row', 'trial_id');
      if (state === TrialState.RUNNING) await this.firstHeartbeat(q, trialId);
      if (!t) return trialId;
      if (t.values) await this.writeValues(q, trialId, t.values);
      if (t.params.length > 0) {
        await this.checkParamsCompatible(q, m, studyId, t.params);
        await q(
          'INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) SELECT $1, n, v, d FROM unnest($2::text[], $3::float8[], $4::text[]) AS u(n, v, d)',
          [trialId, t.params.map((p) => p.name), t.params.map((p) => p.internal), t.params.map((p) => p.json)],
        );
      }
      for (const [table, attrs] of [
        ['trial_user_attributes', t.userAttrs],
        ['trial_system_attributes', t.systemAttrs],
      ] as const) {
        if (attrs.length === 0) continue;
        await q(`INSERT INTO ${table} (trial_id, key, value_json) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS u(k, v)`, [trialId, attrs.map((a) => a[0]), attrs.map((a) => a[1])]);
      }
      if (t.intermediate.length > 0) {
        const stored = t.intermediate.map(([step, v]) => [step, ...intermediateToStored(v)] as const);
        await q(
          `INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type)
           SELECT $1, s, v, ty::trialintermediatevaluetype FROM unnest($2::int[], $3::float8[], $4::text[]) AS u(s, v, ty)`,
          [trialId, stored.map((s) => s[0]), stored.map((s) => s[1]), stored.map((s) => s[2])],
        );
      }
      return trialId;
    });
  }

  /** Throws unless each parameter's distribution is compatible with the study's earlier one. */
  private async checkParamsCompatible(q: Query, m: string, studyId: number, params: readonly { name: string; distribution: Distribution }[]): Promise<void> {
    const rows = await q(
      `SELECT DISTINCT ON (p.param_name) p.param_name, p.distribution_json, p.trial_id FROM trial_params p JOIN trials t ON t.trial_id = p.trial_id
       WHERE t.study_id = $1 AND p.param_name = ANY($2::text[]) ORDER BY p.param_name, p.param_id`,
      [studyId, params.map((p) => p.name)],
    );
    const previous = new Map(rows.map((r) => [String(r.param_name), r]));
    for (const p of params) {
      const r = previous.get(p.name);
      if (!r) continue;
      const before = readDistribution(r.distribution_json, `trial_params row of trial ${describe(r.trial_id)} (param ${JSON.stringify(p.name)})`);
      checkCompatible(p.name, before, p.distribution, `${WHERE}.${m}`);
    }
  }

  private async writeValues(q: Query, trialId: number, values: readonly number[]): Promise<void> {
    const stored = values.map(valueToStored);
    await q(
      `INSERT INTO trial_values (trial_id, objective, value, value_type)
       SELECT $1, (o - 1)::int, v, ty::trialvaluetype FROM unnest($2::float8[], $3::text[]) WITH ORDINALITY AS u(v, ty, o)
       ON CONFLICT (trial_id, objective) DO UPDATE SET value = EXCLUDED.value, value_type = EXCLUDED.value_type`,
      [trialId, stored.map((s) => s[0]), stored.map((s) => s[1])],
    );
  }

  /**
   * Locks a trial's row (FOR SHARE: state changes wait for this transaction) and throws unless
   * it exists and is not finished.
   */
  private async lockUpdatable(q: Query, trialId: number): Promise<{ studyId: number; number: number | null }> {
    const rows = await q('SELECT study_id, number, state FROM trials WHERE trial_id = $1 FOR SHARE', [trialId]);
    const r = rows[0];
    if (!r) throw notFound(WHERE, 'trial', `with id ${trialId}`);
    const where = `trials row ${trialId}`;
    const state = stateFromLabel(r.state, where);
    const number = r.number === null ? null : readInt(r.number, where, 'number');
    if (isFinished(state)) throw finishedError(number ?? '?');
    return { studyId: readInt(r.study_id, where, 'study_id'), number };
  }

  /**
   * Records a parameter of an unfinished trial. As in Optuna, a parameter the trial already
   * has keeps its first value.
   * @param trialId The trial's id.
   * @param name The parameter's name (at most 512 characters).
   * @param internal Its internal value (a categorical choice's index).
   * @param distribution Its distribution.
   * @throws UpdateFinishedTrialError if the trial has finished; Error with `code: 'ENOTRIAL'`
   * if there is no such trial; RangeError if the distribution conflicts with the one earlier
   * trials of the study used for `name`.
   */
  async setTrialParam(trialId: number, name: string, internal: number, distribution: Distribution): Promise<void> {
    const m = 'setTrialParam';
    checkId(m, 'trialId', trialId);
    checkText(m, 'name', name);
    const p = checkParam(m, name, internal, distribution);
    await this.transaction(m, 'write', async (q) => {
      const { studyId } = await this.lockUpdatable(q, trialId);
      await this.checkParamsCompatible(q, m, studyId, [{ name, distribution: p.distribution }]);
      await q('INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES ($1, $2, $3, $4) ON CONFLICT (trial_id, param_name) DO NOTHING', [
        trialId,
        name,
        p.internal,
        p.json,
      ]);
    });
  }

  /**
   * Sets a trial's state and values under a lock of its row (`SELECT ... FOR UPDATE`): moving a
   * WAITING trial to RUNNING succeeds for one caller only. RUNNING sets `datetimeStart`, a
   * finished state `datetimeComplete`.
   * @param trialId The trial's id.
   * @param state The new state.
   * @param values Its objective values (infinities are stored as Optuna's INF_POS/INF_NEG).
   * @returns false if `state` is RUNNING and the trial was not WAITING (another caller took
   * it), true otherwise.
   * @throws UpdateFinishedTrialError if the trial has finished; Error with `code: 'ENOTRIAL'`
   * if there is no such trial.
   */
  async setTrialStateValues(trialId: number, state: TrialState, values?: readonly number[] | null): Promise<boolean> {
    const m = 'setTrialStateValues';
    checkId(m, 'trialId', trialId);
    checkState(m, state);
    const vals = checkValues(m, values);
    return this.transaction(m, 'write', async (q) => {
      const r = (await q('SELECT number, state FROM trials WHERE trial_id = $1 FOR UPDATE', [trialId]))[0];
      if (!r) throw notFound(WHERE, 'trial', `with id ${trialId}`);
      const where = `trials row ${trialId}`;
      const current = stateFromLabel(r.state, where);
      if (isFinished(current)) throw finishedError(r.number === null ? '?' : readInt(r.number, where, 'number'));
      if (state === TrialState.RUNNING && current !== TrialState.WAITING) return false;
      if (vals) await this.writeValues(q, trialId, vals);
      const now = toNaiveUtc(new Date());
      await q(
        `UPDATE trials SET state = $2::trialstate,
           datetime_start = CASE WHEN $3 THEN $5::timestamp ELSE datetime_start END,
           datetime_complete = CASE WHEN $4 THEN $5::timestamp ELSE datetime_complete END
         WHERE trial_id = $1`,
        [trialId, stateLabel(state), state === TrialState.RUNNING, isFinished(state), now],
      );
      if (state === TrialState.RUNNING) await this.firstHeartbeat(q, trialId);
      return true;
    });
  }

  /**
   * Records the value an unfinished trial reported at `step` (NaN and infinities are stored as
   * Optuna's NAN/INF_POS/INF_NEG); a second report at the same step replaces the first.
   * @param trialId The trial's id.
   * @param step The step (an integer in PostgreSQL's INTEGER range).
   * @param value The value.
   * @throws UpdateFinishedTrialError if the trial has finished; Error with `code: 'ENOTRIAL'`
   * if there is no such trial.
   */
  async setTrialIntermediateValue(trialId: number, step: number, value: number): Promise<void> {
    const m = 'setTrialIntermediateValue';
    checkId(m, 'trialId', trialId);
    checkStep(m, step);
    checkNumber(m, 'value', value);
    const [v, type] = intermediateToStored(value);
    await this.transaction(m, 'write', async (q) => {
      await this.lockUpdatable(q, trialId);
      await q(
        `INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) VALUES ($1, $2, $3, $4::trialintermediatevaluetype)
         ON CONFLICT (trial_id, step) DO UPDATE SET intermediate_value = EXCLUDED.intermediate_value, intermediate_value_type = EXCLUDED.intermediate_value_type`,
        [trialId, step, v, type],
      );
    });
  }

  /**
   * Sets a user attribute of an unfinished trial (JSON text, as Python's `json.dumps` writes it).
   * @param trialId The trial's id.
   * @param key The attribute's name (at most 512 characters).
   * @param value JSON data.
   * @throws UpdateFinishedTrialError if the trial has finished; Error with `code: 'ENOTRIAL'`
   * if there is no such trial.
   */
  async setTrialUserAttr(trialId: number, key: string, value: JsonValue): Promise<void> {
    await this.setTrialAttr('setTrialUserAttr', 'trial_user_attributes', trialId, key, value);
  }

  /**
   * Sets a system attribute of an unfinished trial (JSON text).
   * @param trialId The trial's id.
   * @param key The attribute's name (at most 512 characters).
   * @param value JSON data.
   * @throws UpdateFinishedTrialError if the trial has finished; Error with `code: 'ENOTRIAL'`
   * if there is no such trial.
   */
  async setTrialSystemAttr(trialId: number, key: string, value: JsonValue): Promise<void> {
    await this.setTrialAttr('setTrialSystemAttr', 'trial_system_attributes', trialId, key, value);
  }

  private async setTrialAttr(m: string, table: string, trialId: number, key: string, value: JsonValue): Promise<void> {
    checkId(m, 'trialId', trialId);
    checkText(m, 'key', key);
    const json = pyJsonDumps(value, { where: `${WHERE}.${m}: value` });
    await this.transaction(m, 'write', async (q) => {
      await this.lockUpdatable(q, trialId);
      await q(`INSERT INTO ${table} (trial_id, key, value_json) VALUES ($1, $2, $3) ON CONFLICT (trial_id, key) DO UPDATE SET value_json = EXCLUDED.value_json`, [trialId, key, json]);
    });
  }

  /**
   * One trial.
   * @param trialId The trial's id.
   * @throws Error with `code: 'ENOTRIAL'` if there is no such trial, `code: 'EBADROW'` if its
   * rows are malformed.
   */
  async getTrial(trialId: number): Promise<FrozenTrial> {
    const m = 'getTrial';
    checkId(m, 'trialId', trialId);
    const trials = await this.transaction(m, 'read', (q) => this.loadTrials(q, 't.trial_id = $1', [trialId]));
    if (trials.length === 0) throw notFound(WHERE, 'trial', `with id ${trialId}`);
    return trials[0]!;
  }

  /**
   * The study's trials in order of number, optionally only those in `states`; one consistent
   * snapshot.
   * @param studyId The study's id.
   * @param states The states to keep (all if omitted).
   * @throws Error with `code: 'ENOSTUDY'` if there is no such study, `code: 'EBADROW'` if a
   * row is malformed.
   */
  async getAllTrials(studyId: number, states?: readonly TrialState[]): Promise<FrozenTrial[]> {
    const m = 'getAllTrials';
    checkId(m, 'studyId', studyId);
    let labels: string[] | null = null;
    if (states !== undefined && states !== null) {
      if (!Array.isArray(states)) throw new TypeError(`${WHERE}.${m}: expected states to be an array of TrialState, received ${describe(states)}`);
      labels = states.map((s) => stateLabel(checkState(m, s)));
    }
    return this.transaction(m, 'read', async (q) => {
      const trials =
        labels === null
          ? await this.loadTrials(q, 't.study_id = $1', [studyId])
          : labels.length === 0
            ? []
            : await this.loadTrials(q, 't.study_id = $1 AND t.state = ANY($2::trialstate[])', [studyId, labels]);
      // A study's existence costs a query only when no trial matched (one snapshot: consistent).
      if (trials.length === 0 && (await q('SELECT 1 FROM studies WHERE study_id = $1', [studyId])).length === 0) throw notFound(WHERE, 'study', `with id ${studyId}`);
      return trials;
    });
  }

  /** Reads the trials matching `where` (over `trials t`) with their parameters, values and attributes. */
  private async loadTrials(q: Query, where: string, params: readonly unknown[]): Promise<FrozenTrial[]> {
    const rows = await q(`SELECT t.trial_id, t.number, t.state, t.datetime_start, t.datetime_complete FROM trials t WHERE ${where} ORDER BY t.number, t.trial_id`, params);
    if (rows.length === 0) return [];
    const byId = new Map<number, TrialAcc>();
    const ids: number[] = [];
    for (const r of rows) {
      const trialId = readInt(r.trial_id, 'trials row', 'trial_id');
      const at = `trials row ${trialId}`;
      if (r.number === null) throw badRow(at, 'the trial has no number');
      byId.set(trialId, {
        trialId,
        number: readInt(r.number, at, 'number'),
        state: stateFromLabel(r.state, at),
        values: null,
        params: {},
        distributions: {},
        intermediateValues: new Map(),
        userAttrs: {},
        systemAttrs: {},
        datetimeStart: fromNaiveUtc(r.datetime_start, `${at} (datetime_start)`),
        datetimeComplete: fromNaiveUtc(r.datetime_complete, `${at} (datetime_complete)`),
      });
      ids.push(trialId);
    }
    const idParams = [ids];
    const [paramRows, valueRows, intermediateRows, userRows, systemRows] = [
      await q('SELECT trial_id, param_name, param_value, distribution_json FROM trial_params WHERE trial_id = ANY($1::int[]) ORDER BY param_id', idParams),
      await q('SELECT trial_id, objective, value, value_type FROM trial_values WHERE trial_id = ANY($1::int[]) ORDER BY trial_id, objective', idParams),
      await q('SELECT trial_id, step, intermediate_value, intermediate_value_type FROM trial_intermediate_values WHERE trial_id = ANY($1::int[]) ORDER BY trial_id, step', idParams),
      await q('SELECT trial_id, key, value_json FROM trial_user_attributes WHERE trial_id = ANY($1::int[]) ORDER BY trial_user_attribute_id', idParams),
      await q('SELECT trial_id, key, value_json FROM trial_system_attributes WHERE trial_id = ANY($1::int[]) ORDER BY trial_system_attribute_id', idParams),
    ];
    const distributionCache = new Map<string, Distribution>();
    for (const r of paramRows) {
      const t = byId.get(Number(r.trial_id));
      if (!t) continue;
      const name = readName(r.param_name, `trial_params row of trial ${t.trialId}`, 'param_name');
      const at = `trial_params row of trial ${t.trialId} (param ${JSON.stringify(name)})`;
      let d = typeof r.distribution_json === 'string' ? distributionCache.get(r.distribution_json) : undefined;
      if (!d) {
        d = readDistribution(r.distribution_json, at);
        distributionCache.set(r.distribution_json as string, d);
      }
      const v = r.param_value;
      if (typeof v !== 'number' || Number.isNaN(v)) throw badRow(at, `expected param_value to be a number, found ${describe(v)}`);
      if (d.type === 'categorical' && !contains(d, v)) throw badRow(at, `param_value ${v} is not an index of the ${d.choices.length} choices`);
      setOwn(t.params, name, toExternal(d, v));
      setOwn(t.distributions, name, d);
    }
    for (const r of valueRows) {
      const t = byId.get(Number(r.trial_id));
      if (!t) continue;
      const at = `trial_values row of trial ${t.trialId}`;
      const objective = readInt(r.objective, at, 'objective');
      t.values ??= [];
      if (objective !== t.values.length) throw badRow(at, `the objectives are not 0, 1, ... (found ${objective} at position ${t.values.length})`);
      t.values.push(storedToValue(r.value, r.value_type, at, false));
    }
    for (const r of intermediateRows) {
      const t = byId.get(Number(r.trial_id));
      if (!t) continue;
      const at = `trial_intermediate_values row of trial ${t.trialId}`;
      const step = readInt(r.step, at, 'step');
      t.intermediateValues.set(step, storedToValue(r.intermediate_value, r.intermediate_value_type, `${at} (step ${step})`, true));
    }
    for (const [attrRows, field, table] of [
      [userRows, 'userAttrs', 'trial_user_attributes'],
      [systemRows, 'systemAttrs', 'trial_system_attributes'],
    ] as const) {
      for (const r of attrRows) {
        const t = byId.get(Number(r.trial_id));
        if (!t) continue;
        const key = readName(r.key, `${table} row of trial ${t.trialId}`, 'key');
        setOwn(t[field], key, readJsonColumn(r.value_json, `${table} row of trial ${t.trialId} (key ${JSON.stringify(key)})`));
      }
    }
    return [...byId.values()];
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeats

  /**
   * Records that the worker running `trialId` is alive: upserts its row of Optuna's
   * `trial_heartbeats` with the server's clock (`LOCALTIMESTAMP`, as Optuna writes `now()`).
   * @param trialId The trial's id.
   * @throws Error with `code: 'ENOTRIAL'` if there is no such trial.
   */
  async recordHeartbeat(trialId: number): Promise<void> {
    const m = 'recordHeartbeat';
    checkId(m, 'trialId', trialId);
    try {
      await this.transaction(m, 'write', (q) => q(UPSERT_HEARTBEAT, [trialId]));
    } catch (e) {
      if (errorCode(e) === '23503') throw notFound(WHERE, 'trial', `with id ${trialId}`);
      throw e;
    }
  }

  /**
   * A trial that becomes RUNNING here gets its first heartbeat in the same transaction (when
   * this storage keeps heartbeats): a worker killed before its first `recordHeartbeat` would
   * otherwise leave a trial with no heartbeat row, which the stale check (as Optuna's) never
   * fails, RUNNING forever.
   */
  private async firstHeartbeat(q: Query, trialId: number): Promise<void> {
    if (this.heartbeatInterval === null) return;
    await q(UPSERT_HEARTBEAT, [trialId]);
  }

  /**
   * Fails every RUNNING trial of the study whose last heartbeat (by Optuna or ferroptim) is
   * older than `gracePeriod` seconds by the server's clock (Optuna's `_get_stale_trial_ids`;
   * trials without a heartbeat are left alone). The stale rows are locked (`FOR UPDATE SKIP
   * LOCKED`) and updated only while still RUNNING, so each stale trial is failed by exactly one
   * caller; it gets the system attribute `fail_reason`. Returns nothing when the storage has no
   * `heartbeatInterval`.
   * @param studyId The study's id.
   * @returns The trials this call failed.
   */
  async failStaleTrials(studyId: number): Promise<FrozenTrial[]> {
    const m = 'failStaleTrials';
    checkId(m, 'studyId', studyId);
    const grace = this.gracePeriod;
    if (this.heartbeatInterval === null || grace === null) return [];
    return this.transaction(m, 'write', async (q) => {
      const stale = await q(
        `SELECT t.trial_id, t.number, h.heartbeat::text AS heartbeat FROM trials t JOIN trial_heartbeats h ON h.trial_id = t.trial_id
         WHERE t.study_id = $1 AND t.state = 'RUNNING' AND LOCALTIMESTAMP - h.heartbeat > make_interval(secs => $2)
         ORDER BY t.trial_id FOR UPDATE OF t SKIP LOCKED`,
        [studyId, grace],
      );
      if (stale.length === 0) return [];
      const now = toNaiveUtc(new Date());
      const failed = await q(
        `UPDATE trials SET state = 'FAIL', datetime_complete = $2::timestamp WHERE trial_id = ANY($1::int[]) AND state = 'RUNNING' RETURNING trial_id`,
        [stale.map((r) => r.trial_id), now],
      );
      const ids = new Set(failed.map((r) => Number(r.trial_id)));
      const mine = stale.filter((r) => ids.has(Number(r.trial_id)));
      if (mine.length === 0) return [];
      const reasons = mine.map((r) =>
        pyJsonDumps(`Trial ${describe(r.number)} failed because its heartbeat was not updated for more than ${grace} seconds (last heartbeat at ${String(r.heartbeat)}, server time).`),
      );
      await q(
        `INSERT INTO trial_system_attributes (trial_id, key, value_json) SELECT t, 'fail_reason', v FROM unnest($1::int[], $2::text[]) AS u(t, v)
         ON CONFLICT (trial_id, key) DO UPDATE SET value_json = EXCLUDED.value_json`,
        [mine.map((r) => r.trial_id), reasons],
      );
      return this.loadTrials(q, 't.trial_id = ANY($1::int[])', [mine.map((r) => r.trial_id)]);
    });
  }

  /** Closes the connections; later calls throw. Safe to call more than once. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing ??= this.pool.end().catch(() => {});
    await this.closing;
  }
}

function readDistribution(json: unknown, where: string): Distribution {
  if (typeof json !== 'string') throw badRow(where, `expected distribution_json to be text, found ${describe(json)}`);
  if (json.length > MAX_JSON_CHARS) throw badRow(where, `distribution_json is longer than ${MAX_JSON_CHARS} characters`);
  let parsed: JsonValue;
  try {
    parsed = pyJsonLoads(json);
  } catch (e) {
    throw badRow(where, `distribution_json is not JSON: ${(e as Error).message}`, e);
  }
  try {
    return jsonToDistribution(parsed);
  } catch (e) {
    throw badRow(where, `distribution_json is not a distribution: ${(e as Error).message}`, e);
  }
}

/** A validated template, ready for SQL. */
interface CheckedTemplate {
  state: TrialState;
  values: number[] | null;
  params: { name: string; internal: number; json: string; distribution: Distribution }[];
  userAttrs: [string, string][];
  systemAttrs: [string, string][];
  intermediate: [number, number][];
  datetimeStart: Date | null;
  datetimeComplete: Date | null;
}

function checkTemplate(m: string, t: unknown): CheckedTemplate {
  if (t === null || typeof t !== 'object') throw new TypeError(`${WHERE}.${m}: expected template to be an object, received ${describe(t)}`);
  const tt = t as TrialTemplate;
  const state = checkState(m, tt.state);
  const values = checkValues(m, tt.values);
  const params: CheckedTemplate['params'] = [];
  if (tt.params !== undefined && tt.params !== null) {
    if (!isPlainObject(tt.params)) throw new TypeError(`${WHERE}.${m}: expected template.params to be an object, received ${describe(tt.params)}`);
    for (const [name, p] of Object.entries(tt.params)) {
      checkText(m, 'a parameter name', name);
      if (p === null || typeof p !== 'object') throw new TypeError(`${WHERE}.${m}: expected template.params[${JSON.stringify(name)}] to be { internal, distribution }, received ${describe(p)}`);
      params.push({ name, ...checkParam(m, name, p.internal, p.distribution) });
    }
  }
  const attrs = (field: 'userAttrs' | 'systemAttrs'): [string, string][] => {
    const a = tt[field];
    if (a === undefined || a === null) return [];
    if (!isPlainObject(a)) throw new TypeError(`${WHERE}.${m}: expected template.${field} to be an object, received ${describe(a)}`);
    return Object.entries(a).map(([k, v]) => [checkText(m, `a key of template.${field}`, k), pyJsonDumps(v, { where: `${WHERE}.${m}: template.${field}[${JSON.stringify(k)}]` })]);
  };
  const intermediate: [number, number][] = [];
  if (tt.intermediateValues !== undefined && tt.intermediateValues !== null) {
    if (!(tt.intermediateValues instanceof Map)) throw new TypeError(`${WHERE}.${m}: expected template.intermediateValues to be a Map, received ${describe(tt.intermediateValues)}`);
    for (const [step, v] of tt.intermediateValues) intermediate.push([checkStep(m, step), checkNumber(m, `the intermediate value at step ${step}`, v)]);
  }
  const start = tt.datetimeStart === undefined ? (state === TrialState.RUNNING ? new Date() : null) : checkDate(m, 'template.datetimeStart', tt.datetimeStart);
  return {
    state,
    values,
    params,
    userAttrs: attrs('userAttrs'),
    systemAttrs: attrs('systemAttrs'),
    intermediate,
    datetimeStart: start,
    datetimeComplete: checkDate(m, 'template.datetimeComplete', tt.datetimeComplete),
  };
}
