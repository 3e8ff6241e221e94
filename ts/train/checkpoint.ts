/**
 * Training checkpoints: model weights and optimizer buffers in safetensors files, everything else
 * (position, optimizer scalars and groups, scheduler, random generators, metrics) in
 * `checkpoint.json`, each written atomically.
 *
 * A checkpoint folder is untrusted input: the manifest is checked against a schema, the files it
 * names must be plain names of this folder's regular files of bounded size, and nothing a
 * manifest says can make a save delete or a load read anything outside the folder.
 * @module
 */
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularFile } from '../io/read-bounded.js';
import { decodeAs, decodeRaw, dtypeOf, encodeRaw, encodeSafetensors, type RawTensor } from '../nn/safetensors.js';
import { integerArray } from '../optim/state-dtype.js';
import { isShape, numel, type StateEntry } from '../nn/module.js';
import type { GeneratorState } from '../nn/generator.js';
import { checkFloat32, checkKnownFields, checkNumber, checkPath, checkRecord, ruleText, describeValue, isPlainObject, type NumberRule } from '../validate.js';

/** The checkpoint file's `format` tag. */
export const CHECKPOINT_FORMAT = 'ferroptim-checkpoint';
/** The version of the layout written (version 1, epoch boundaries only, is still read). */
export const CHECKPOINT_VERSION = 2;

/** The largest `checkpoint.json` read; it holds scalars and metrics, never tensors. */
const MAX_MANIFEST_BYTES = 256 * 2 ** 20;
/** The largest safetensors file read: the largest buffer Node can allocate. */
const MAX_TENSOR_FILE_BYTES = bufferConstants.MAX_LENGTH;
/** The most epochs a checkpoint may claim (a bound, not a limit anyone reaches); `train` runs no more. */
export const MAX_EPOCHS = 1_000_000;

const TMP_SUFFIX = /\.tmp-\d+$/;

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to disk,
 * then renamed over `path`. A crash leaves either the old file or the new one, never a mix; a
 * failed write (a full disk) removes its temporary file.
 * @example
 * ```ts
 * writeFileAtomic('runs/latest/metrics.json', JSON.stringify(metrics));
 * ```
 * @throws TypeError or RangeError if `path` is not a non-empty string or `bytes` neither a string
 * nor a Uint8Array (before anything is written); Error (Node's file system errors) if the
 * directory does not exist or is not writable.
 * @group Data and I/O
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  checkPath('writeFileAtomic', 'path', path);
  if (typeof bytes !== 'string' && !(bytes instanceof Uint8Array)) {
    throw new TypeError(`writeFileAtomic: expected bytes to be a string or a Uint8Array, received ${describeValue(bytes)}`);
  }
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    // A stale temporary is removed and the new one created exclusively: whatever was left there
    // (a symbolic link included) is never written through.
    rmSync(tmp, { force: true });
    const fd = openSync(tmp, 'wx');
    try {
      const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Removes the temporary files that {@link writeFileAtomic} leaves when its process is killed
 * mid-write (`NAME.tmp-PID`) from `dir`, or only those of the file `name` when it is given; other
 * files are left alone.
 * @example
 * ```ts
 * removeStaleTemporaries('runs/cnn');
 * removeStaleTemporaries('runs/cnn', 'metrics.jsonl');
 * ```
 * @throws TypeError or RangeError unless `dir` (and `name`, if given) is a non-empty string.
 * @group Data and I/O
 */
export function removeStaleTemporaries(dir: string, name?: string): void {
  checkPath('removeStaleTemporaries', 'dir', dir);
  if (name !== undefined) checkPath('removeStaleTemporaries', 'name', name);
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const m = TMP_SUFFIX.exec(e.name);
    if (m && e.isFile() && (name === undefined || e.name.slice(0, m.index) === name)) rmSync(join(dir, e.name), { force: true });
  }
}

/**
 * Where training stood inside an epoch when a checkpoint was written between two batches.
 * @group Training
 */
export interface EpochProgress {
  /** Batches of the epoch in progress already trained (>= 1). */
  batch: number;
  /** The shuffling generator's state when the epoch began (it draws the epoch's permutation). */
  epochRng: GeneratorState;
  /** The sum of the batch losses so far. */
  lossSum: number;
  /** Training images classified correctly so far. */
  correct: number;
  /** Training images seen so far. */
  seen: number;
  /** Seconds of training so far in the epoch. */
  seconds: number;
  /** The first param group's learning rate when the epoch began (the epoch's metrics report it). */
  lr: number;
}

/**
 * Everything a checkpoint restores.
 * @group Training
 */
export interface CheckpointData {
  /** The number of epochs completed. */
  epoch: number;
  /** Set when the checkpoint was written inside an epoch (Ctrl-C, `checkpointEvery`). */
  inEpoch?: EpochProgress | null;
  /** The model's weights by parameter name (`model.stateDict()`). */
  weights: Record<string, StateEntry>;
  /** The optimizer's `stateDict()`; its buffers are stored in a safetensors file beside the manifest. */
  optimizer: {
    /** Per-parameter state by key; Float32Array buffers, lists of them (L-BFGS's history) and plain values. */
    state: Record<string, Record<string, unknown>>;
    /** The param groups' options, each with the keys of its parameters. */
    paramGroups: Array<
      Record<string, unknown> & {
        /** The keys (names or positions) of the group's parameters. */
        params: string[];
      }
    >;
  };
  /** The scheduler's `stateDict()`, or null without a scheduler (stored as JSON). */
  scheduler: unknown;
  /** Random generator states: `data` (shuffling) and `dropout` (by module name). */
  rng: {
    /** The shuffling generator. */
    data: GeneratorState;
    /** Dropout generators by module name. */
    dropout?: Record<string, GeneratorState>;
  };
  /** The per-epoch metrics recorded so far, one per completed epoch. */
  metrics: unknown[];
  /** The run's configuration, stored so that a resume can check it matches (and the CLI can rebuild the run). */
  config: Record<string, unknown>;
}

const MANIFEST = 'checkpoint.json';
const OWN_FILE = /^(weights|optimizer)-[0-9a-z-]+\.safetensors$/;

// The schema of checkpoint.json, written once as rules (plain functions giving a value's first
// issue, or undefined) for the loader and the saver. Records are built by JSON.parse into
// null-prototype objects (see parseJsonNullProto), so a key such as "__proto__" is an own key,
// checked like any other.

/** A flaw of a manifest: where it is, what was expected there and the value found, the error class a saver throws for it, and for a key a strict object does not name, the key. */
interface Issue {
  path: Array<string | number>;
  message: string;
  received: unknown;
  error: TypeErrorConstructor | RangeErrorConstructor;
  key?: string;
}
type Rule = (v: unknown) => Issue | undefined;

const fail = (error: Issue['error'], message: string, received: unknown): Issue => ({ path: [], message, received, error });
/** The first issue among `keys` (of an array or an object), each found by `issueOf`, with its key put in front of its path. */
function first<K extends string | number>(keys: Iterable<K>, issueOf: (k: K) => Issue | undefined): Issue | undefined {
  for (const k of keys) {
    const i = issueOf(k);
    if (i) return { ...i, path: [k, ...i.path] };
  }
  return undefined;
}

/** A finite number within `rule`, as {@link checkNumber} tests it. */
function num(rule: NumberRule = {}): Rule {
  return (v) => {
    try {
      checkNumber('', '', v, rule);
      return undefined;
    } catch (e) {
      return fail(e instanceof TypeError ? TypeError : RangeError, `expected ${ruleText(rule)}`, v);
    }
  };
}
/** One of `values`. */
const literal = (...values: unknown[]): Rule => (v) => (values.includes(v) ? undefined : fail(RangeError, `expected ${values.map(describeValue).join(' or ')}`, v));
/** Any value but undefined (a key that JSON left out). */
const present: Rule = (v) => (v === undefined ? fail(TypeError, 'expected a value', v) : undefined);
/** Undefined, or what `rule` takes. */
const optional = (rule: Rule): Rule => (v) => (v === undefined ? undefined : rule(v));
/** Undefined or null, or what `rule` takes. */
const nullish = (rule: Rule): Rule => (v) => (v === undefined || v === null ? undefined : rule(v));
/** An array (of `length` elements if given) whose elements, holes included, keep `rule`. */
const array = (rule: Rule, length?: number): Rule => (v) => {
  const what = `expected an array${length === undefined ? '' : ` of ${length} elements`}`;
  if (!Array.isArray(v)) return fail(TypeError, what, v);
  if (length !== undefined && v.length !== length) return fail(RangeError, what, v);
  return first(v.keys(), (i) => rule(v[i]));
};
/** A plain object whose `fields` keep their rules (an absent one is undefined); if `strict`, with no other key. */
const object = (fields: Record<string, Rule>, strict = false): Rule => (v) => {
  if (!isPlainObject(v)) return fail(TypeError, 'expected an object', v);
  const key = strict ? Object.keys(v).find((k) => !Object.hasOwn(fields, k)) : undefined;
  return first(Object.keys(fields), (k) => fields[k]!(v[k])) ?? (key === undefined ? undefined : { ...fail(TypeError, `unknown key ${JSON.stringify(key)}`, v), key });
};
/** A plain object of any keys whose values keep `rule`. */
const record = (rule: Rule): Rule => (v) => (isPlainObject(v) ? first(Object.keys(v), (k) => rule(v[k])) : fail(TypeError, 'expected an object', v));
/** What `rule` takes and passes each test `[ok, message, key?]`; a failed test is an issue of the value at `key`, or of the whole. */
const refine = <T>(rule: Rule, ...tests: Array<[ok: (v: T) => boolean, message: string, key?: string]>): Rule => (v) => {
  const issue = rule(v);
  const broken = issue ? undefined : tests.find(([ok]) => !ok(v as T));
  if (!broken) return issue;
  const [, message, key] = broken;
  return key === undefined ? fail(RangeError, message, v) : first([key], () => fail(RangeError, message, (v as Record<string, unknown>)[key]));
};

const finite = num();
const nonNegative = num({ min: 0 });
const fraction = num({ min: 0, max: 1 });
/** An integer >= `min` that a double holds exactly (a safe integer). */
const int = (min: number): Rule => num({ integer: true, min, max: Number.MAX_SAFE_INTEGER });
const count = int(0);
// Generator.setState refuses the all-zero state (the generator would stay at zero).
const genState = refine<number[]>(array(num({ integer: true, min: 0, max: 0xffffffff }), 4), [(g) => g.some((x) => x !== 0), 'expected four unsigned 32-bit integers, not all zero']);
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*\.safetensors$/;
const fileName: Rule = (v) =>
  typeof v !== 'string' ? fail(TypeError, 'expected a string', v) : v.length <= 255 && FILE_NAME.test(v) ? undefined : fail(RangeError, 'expected a file name of this folder ending in .safetensors (at most 255 characters)', v);
/** A parameter's key in a param group: its name or its position. */
const paramKey: Rule = (v) => (typeof v === 'string' ? undefined : typeof v === 'number' ? count(v) : fail(TypeError, 'expected a string or an integer >= 0', v));
const progressFields = { batch: int(1), epochRng: genState, lossSum: finite, correct: count, seen: count, seconds: nonNegative, lr: finite };
const metricsEntry = object({ epoch: int(1), trainLoss: finite, trainAccuracy: fraction, testLoss: finite, testAccuracy: fraction, lr: finite, seconds: nonNegative, samplesPerSecond: nonNegative, testSeconds: nonNegative });
const STRICT = true;
const manifestRule = refine<CheckpointManifest>(
  object(
    {
      format: literal(CHECKPOINT_FORMAT),
      version: literal(1, 2),
      epoch: num({ integer: true, min: 0, max: MAX_EPOCHS }),
      inEpoch: nullish(object(progressFields, STRICT)),
      weightsFile: fileName,
      optimizerFile: fileName,
      optimizer: object({ state: record(object({})), paramGroups: array(object({ params: array(paramKey) })) }, STRICT),
      scheduler: present,
      rng: object({ data: genState, dropout: optional(record(genState)) }),
      metrics: array(metricsEntry),
      config: object({}),
    },
    STRICT,
  ),
  [(m) => m.metrics.length === m.epoch, 'expected one metrics entry per completed epoch', 'metrics'],
  [(m) => m.metrics.every((x, i) => x.epoch === i + 1), 'expected the metrics of epochs 1, 2, ... in order', 'metrics'],
  [(m) => m.weightsFile !== m.optimizerFile, 'expected two different files', 'optimizerFile'],
);

/** What `checkpoint.json` holds: the checkpoint with every optimizer buffer replaced by the name of its tensor. */
export interface CheckpointManifest {
  /** {@link CHECKPOINT_FORMAT}. */
  format: typeof CHECKPOINT_FORMAT;
  /** 1 (epoch boundaries only) or 2 ({@link CHECKPOINT_VERSION}). */
  version: 1 | 2;
  /** The number of epochs completed. */
  epoch: number;
  /** Set when the checkpoint was written inside an epoch. */
  inEpoch?: EpochProgress | null;
  /** The safetensors file of the model's weights, in the checkpoint's folder. */
  weightsFile: string;
  /** The safetensors file of the optimizer's buffers, in the checkpoint's folder. */
  optimizerFile: string;
  /**
   * The optimizer's state dict, each buffer replaced by `{ tensor: "KEY/NAME" }`, each non-empty
   * list of buffers by `{ tensors: ["KEY/NAME/0", ...] }`, and each low-precision buffer
   * (`stateDtype`) by `{ dtype: "int8", codes: { tensor }, absmax: { tensor } }` (U8 codes, F32
   * absmax) or `{ dtype: "bfloat16", bits: { tensor } }` (BF16).
   */
  optimizer: {
    state: Record<string, Record<string, unknown>>;
    paramGroups: Array<Record<string, unknown> & { params: Array<string | number> }>;
  };
  /** The scheduler's state dict, or null. */
  scheduler: unknown;
  /** Random generator states: `data` (shuffling) and `dropout` (by module name). */
  rng: { data: GeneratorState; dropout?: Record<string, GeneratorState>; [key: string]: unknown };
  /** One entry per completed epoch, in order (their other fields are kept unchecked). */
  metrics: Array<{ epoch: number; trainLoss: number; trainAccuracy: number; testLoss: number; testAccuracy: number; lr: number; seconds: number; samplesPerSecond: number; testSeconds: number; [key: string]: unknown }>;
  /** The run's configuration. */
  config: Record<string, unknown>;
}

/** JSON.parse with every object built without a prototype, so data keys are only keys. */
function parseJsonNullProto(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.assign(Object.create(null) as object, v) : v));
}

function readManifest(dir: string): CheckpointManifest {
  const path = join(dir, MANIFEST);
  const bytes = readRegularFile(path, MAX_MANIFEST_BYTES, 'loadCheckpoint', { noFollow: true });
  let raw: unknown;
  try {
    raw = parseJsonNullProto(bytes.toString('utf8'));
  } catch (e) {
    throw new RangeError(`loadCheckpoint: ${path} is not valid JSON (${(e as Error).message})`);
  }
  const r = raw as { format?: unknown; version?: unknown } | null;
  if (r === null || typeof r !== 'object' || Array.isArray(r) || r.format !== CHECKPOINT_FORMAT) {
    throw new RangeError(`loadCheckpoint: ${path} is not a ferroptim checkpoint (format ${describeValue(r !== null && typeof r === 'object' ? r.format : r)})`);
  }
  if (r.version !== 1 && r.version !== CHECKPOINT_VERSION) {
    throw new RangeError(`loadCheckpoint: ${path} has version ${describeValue(r.version)}; this ferroptim reads versions 1 and ${CHECKPOINT_VERSION}`);
  }
  const issue = manifestRule(raw);
  if (issue) throw new RangeError(`loadCheckpoint: ${path} is malformed: ${issue.path.join('.') || '(top level)'}: ${issue.message}, received ${describeValue(issue.received)}`);
  return raw as CheckpointManifest;
}

const q = (s: string) => JSON.stringify(s);
const DATA_KEYS = ['epoch', 'inEpoch', 'weights', 'optimizer', 'scheduler', 'rng', 'metrics', 'config'];
const PROGRESS_KEYS = Object.keys(progressFields);
/** The strings `stateDict()` writes for the float32 values JSON has no number for. */
const SPECIAL_FLOATS = new Set(['NaN', 'Infinity', '-Infinity', '-0']);

/** An optimizer buffer as float32: numbers within float32's range, or the strings of {@link SPECIAL_FLOATS}. */
function bufferOf(ctx: string, name: string, v: readonly unknown[]): Float32Array {
  const out = new Float32Array(v.length);
  v.forEach((x, i) => {
    if (typeof x === 'number') out[i] = checkFloat32(ctx, `${name}[${i}]`, x);
    else if (typeof x === 'string' && SPECIAL_FLOATS.has(x)) out[i] = Number(x);
    else throw new TypeError(`${ctx}: expected ${name}[${i}] to be a number or one of "NaN", "Infinity", "-Infinity", "-0", received ${describeValue(x)}`);
  });
  return out;
}

/** The safetensors dtypes of an optimizer file: float32 buffers, int8 codes (U8), bfloat16 bits. */
const OPTIMIZER_DTYPES = ['F32', 'U8', 'BF16'];

/** Whether `v` is a low-precision state buffer of a state dict (`{ dtype: 'int8' | 'bfloat16', ... }`). */
function isLowPrecision(v: unknown): v is Record<string, unknown> & { dtype: 'int8' | 'bfloat16' } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v) && ((v as { dtype?: unknown }).dtype === 'int8' || (v as { dtype?: unknown }).dtype === 'bfloat16');
}

/** Checks that `v` has a JSON text: not a function or a Symbol (which JSON leaves out), no BigInt, no cycle. */
export function checkJson(ctx: string, name: string, v: unknown): void {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch {
    // text stays undefined
  }
  if (text === undefined) throw new TypeError(`${ctx}: expected ${name} to be JSON-serialisable (no BigInt, no cycles), received ${describeValue(v)}`);
}

/** Checks a manifest to be written against the loader's schema; messages name `data.<field>`. */
function checkManifest(ctx: string, manifest: unknown, when: string): void {
  const issue = manifestRule(manifest);
  if (!issue) return;
  const where = ['data', ...issue.path].join('.');
  if (issue.key !== undefined) throw new TypeError(`${ctx}: unknown key ${q(issue.key)} in ${where}`);
  throw new issue.error(`${ctx}: expected ${where} to load back (${issue.message}), received ${describeValue(issue.received)}${when}`);
}

/**
 * Checks checkpoint data whole and prepares the bytes {@link saveCheckpoint} writes: the two
 * safetensors files and the manifest, checked against the loader's schema. Writes nothing.
 */
function prepareCheckpoint(
  ctx: string,
  data: unknown,
): { weightsFile: string; optimizerFile: string; weightsBytes: Buffer; optimizerBytes: Buffer; manifestText: string } {
  const d = checkRecord(ctx, 'data', data, 'an object { epoch, inEpoch?, weights, optimizer, scheduler, rng, metrics, config }');
  checkKnownFields(ctx, 'data', d, DATA_KEYS);
  const epoch = checkNumber(ctx, 'data.epoch', d.epoch, { integer: true, min: 0, max: MAX_EPOCHS });
  const inEpoch = d.inEpoch === undefined || d.inEpoch === null ? null : checkRecord(ctx, 'data.inEpoch', d.inEpoch, 'null or an object { batch, epochRng, lossSum, correct, seen, seconds, lr }');
  if (inEpoch) {
    checkKnownFields(ctx, 'data.inEpoch', inEpoch, PROGRESS_KEYS);
    // The batch names the files; the schema checks the rest.
    checkNumber(ctx, 'data.inEpoch.batch', inEpoch.batch, { integer: true, min: 1 });
  }

  const weights = checkRecord(ctx, 'data.weights', d.weights, 'an object of tensors { data: Float32Array, shape } (a model\'s stateDict())');
  for (const [name, e] of Object.entries(weights)) {
    const at = `data.weights[${q(name)}]`;
    if (name === '__metadata__') throw new RangeError(`${ctx}: ${at}: the name "__metadata__" is reserved by the safetensors format`);
    if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new TypeError(`${ctx}: expected ${at} to be a tensor { data: Float32Array, shape }, received ${describeValue(e)}`);
    const t = e as { data?: unknown; shape?: unknown };
    if (!(t.data instanceof Float32Array)) throw new TypeError(`${ctx}: expected ${at}.data to be a Float32Array, received ${describeValue(t.data)}`);
    if (!isShape(t.shape)) throw new TypeError(`${ctx}: expected ${at}.shape to be an array of integers >= 0, received ${describeValue(t.shape)}`);
    if (numel(t.shape) !== t.data.length) throw new RangeError(`${ctx}: expected ${at}.shape to hold its ${t.data.length} elements, received ${describeValue(t.shape)}`);
  }

  const optimizer = checkRecord(ctx, 'data.optimizer', d.optimizer, 'an optimizer state dict { state, paramGroups }');
  checkKnownFields(ctx, 'data.optimizer', optimizer, ['state', 'paramGroups']);
  const stateIn = checkRecord(ctx, 'data.optimizer.state', optimizer.state, 'an object of per-parameter states');
  // Buffers go to the safetensors file as `KEY/NAME`; the manifest keeps `{ tensor: "KEY/NAME" }`.
  // A non-empty list of buffers (L-BFGS's history) goes as `KEY/NAME/0`, ... and the manifest keeps
  // `{ tensors: [...] }`. An empty array stays `[]` in the manifest: it is both an empty buffer and
  // an empty list, and every loader takes it as either.
  // Low-precision buffers (`stateDtype`) go compact: int8 as `KEY/NAME/codes` (U8) and
  // `KEY/NAME/absmax` (F32), bfloat16 as `KEY/NAME` (BF16); the manifest keeps
  // `{ dtype: "int8", codes: { tensor }, absmax: { tensor } }` or `{ dtype: "bfloat16", bits: { tensor } }`.
  const tensors: Record<string, RawTensor> = Object.create(null);
  const state: Record<string, Record<string, unknown>> = Object.create(null);
  const isBuffer = (x: unknown): x is unknown[] | Float32Array => Array.isArray(x) || x instanceof Float32Array;
  for (const [key, entry] of Object.entries(stateIn)) {
    const at = `data.optimizer.state[${q(key)}]`;
    const out: Record<string, unknown> = Object.create(null);
    const put = (tname: string, vat: string, v: unknown[] | Float32Array | Uint8Array | Uint16Array) => {
      if (Object.hasOwn(tensors, tname)) throw new RangeError(`${ctx}: ${vat} would be stored as the tensor ${q(tname)}, as another buffer is`);
      tensors[tname] = { data: v instanceof Float32Array || v instanceof Uint8Array || v instanceof Uint16Array ? v : bufferOf(ctx, vat, v), shape: [v.length] };
      return tname;
    };
    for (const [name, v] of Object.entries(checkRecord(ctx, at, entry))) {
      const vat = `${at}[${q(name)}]`;
      if (isLowPrecision(v)) {
        const keys = v.dtype === 'int8' ? ['dtype', 'codes', 'absmax'] : ['dtype', 'bits'];
        checkKnownFields(ctx, vat, v, keys);
        if (v.dtype === 'int8') {
          const absmax = v.absmax;
          if (!Array.isArray(absmax) && !(absmax instanceof Float32Array)) throw new TypeError(`${ctx}: expected ${vat}.absmax to be an array of numbers, received ${describeValue(absmax)}`);
          const codes = put(`${key}/${name}/codes`, `${vat}.codes`, integerArray(ctx, `${vat}.codes`, v.codes, 255));
          out[name] = { dtype: 'int8', codes: { tensor: codes }, absmax: { tensor: put(`${key}/${name}/absmax`, `${vat}.absmax`, absmax) } };
        } else {
          out[name] = { dtype: 'bfloat16', bits: { tensor: put(`${key}/${name}`, vat, integerArray(ctx, `${vat}.bits`, v.bits, 65535)) } };
        }
      } else if (Array.isArray(v) && v.length === 0) {
        out[name] = [];
      } else if (Array.isArray(v) && v.every(isBuffer)) {
        out[name] = { tensors: v.map((x, i) => put(`${key}/${name}/${i}`, `${vat}[${i}]`, x)) };
      } else if (isBuffer(v)) {
        out[name] = { tensor: put(`${key}/${name}`, vat, v) };
      } else {
        if (v !== null && typeof v === 'object' && ('tensor' in v || 'tensors' in v)) {
          throw new TypeError(`${ctx}: expected ${vat} to be a buffer or a JSON value, received an object with a "tensor" or "tensors" key (the manifest's marks of buffers)`);
        }
        out[name] = v;
      }
    }
    state[key] = out;
  }
  if (!Array.isArray(optimizer.paramGroups)) throw new TypeError(`${ctx}: expected data.optimizer.paramGroups to be an array of param groups, received ${describeValue(optimizer.paramGroups)}`);
  const rng = checkRecord(ctx, 'data.rng', d.rng, 'an object { data, dropout? } of generator states');
  const metrics = d.metrics;
  if (!Array.isArray(metrics)) throw new TypeError(`${ctx}: expected data.metrics to be an array (one entry per completed epoch), received ${describeValue(metrics)}`);
  if (metrics.length !== epoch) throw new RangeError(`${ctx}: expected data.metrics to hold one entry per completed epoch (data.epoch = ${epoch}), received ${metrics.length}`);
  const config = checkRecord(ctx, 'data.config', d.config);

  // No scheduler is stored as null (JSON has no undefined, and the manifest needs the key).
  const scheduler = d.scheduler === undefined ? null : d.scheduler;
  const tag = `${String(epoch).padStart(4, '0')}${inEpoch ? `-b${String(inEpoch.batch).padStart(6, '0')}` : ''}`;
  const weightsFile = `weights-epoch-${tag}.safetensors`;
  const optimizerFile = `optimizer-epoch-${tag}.safetensors`;
  const manifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    epoch,
    inEpoch,
    weightsFile,
    optimizerFile,
    optimizer: { state, paramGroups: optimizer.paramGroups },
    scheduler,
    rng,
    metrics,
    config,
  };
  // The loader's own schema, on the data as given (so a message shows the value received) and
  // then on what loadCheckpoint will read back from the JSON: a checkpoint that is written loads.
  checkManifest(ctx, manifest, '');
  for (const [name, v] of [['data.scheduler', scheduler], ['data.config', config], ['data.rng', rng], ['data.metrics', metrics], ['data.optimizer.paramGroups', optimizer.paramGroups], ['data.optimizer.state', state]] as const) {
    checkJson(ctx, name, v);
  }
  const manifestText = JSON.stringify(manifest, null, 1);
  checkManifest(ctx, parseJsonNullProto(manifestText), ' after JSON');
  let weightsBytes: Buffer;
  let optimizerBytes: Buffer;
  try {
    weightsBytes = encodeSafetensors(weights as Record<string, StateEntry>, { format: 'pt', epoch: String(epoch) });
    optimizerBytes = encodeRaw(ctx, tensors, { epoch: String(epoch) }, OPTIMIZER_DTYPES);
  } catch (e) {
    // Only a file above the largest Buffer gets here: the tensors were checked above.
    if (e instanceof RangeError) throw new RangeError(`${ctx}: ${e.message}`);
    throw e;
  }
  return { weightsFile, optimizerFile, weightsBytes, optimizerBytes, manifestText };
}

/**
 * Saves a checkpoint into `dir`: new safetensors files first (named by position), then
 * `checkpoint.json` (the commit point), then every older tensor file of this folder is removed.
 * A crash at any moment leaves the previous checkpoint loadable. `train` calls it after every
 * epoch when given a `checkpointDir`, and between batches with `checkpointEvery` or on an abort.
 *
 * @remarks The files removed are found by their own name pattern in `dir`
 * (`weights-*.safetensors`, `optimizer-*.safetensors`, stale `*.tmp-PID`), never by what an
 * existing manifest says, so a crafted manifest cannot direct a deletion anywhere.
 *
 * `data` is checked whole before anything is written: its shape (as
 * {@link CheckpointData} says), the tensors, each optimizer buffer (numbers within float32's
 * range, or the strings "NaN", "Infinity", "-Infinity" and "-0" that `stateDict()` writes), and
 * then the manifest as {@link loadCheckpoint} will read it, against the loader's own schema, so a
 * checkpoint that is written can be loaded. Everything but the tensors is stored as JSON: a
 * non-finite number outside a buffer (in `scheduler` or `config`) is stored as null, as
 * `JSON.stringify` writes it.
 * @example
 * ```ts
 * saveCheckpoint('runs/cnn/checkpoint', {
 *   epoch, weights: model.stateDict(), optimizer: optimizer.stateDict(), scheduler: null,
 *   rng: { data: generator.getState() }, metrics, config: {},
 * });
 * ```
 * @throws TypeError or RangeError naming the field for data that breaks its contract, or that
 * would not load back (before anything is written); Error (Node's file system errors) if `dir`
 * cannot be created or written.
 * @group Training
 */
export function saveCheckpoint(dir: string, data: CheckpointData): void {
  checkPath('saveCheckpoint', 'dir', dir);
  const { weightsFile, optimizerFile, weightsBytes, optimizerBytes, manifestText } = prepareCheckpoint('saveCheckpoint', data);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, weightsFile), weightsBytes);
  writeFileAtomic(join(dir, optimizerFile), optimizerBytes);
  writeFileAtomic(join(dir, MANIFEST), manifestText);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const stale = (OWN_FILE.test(e.name) && e.name !== weightsFile && e.name !== optimizerFile) || TMP_SUFFIX.test(e.name);
    if (stale && e.isFile()) rmSync(join(dir, e.name), { force: true });
  }
}

/**
 * Whether `dir` holds a checkpoint (its `checkpoint.json`); a missing directory holds none.
 * @example
 * ```ts
 * if (hasCheckpoint(dir)) console.log(`resuming after epoch ${loadCheckpoint(dir).epoch}`);
 * ```
 * @throws TypeError or RangeError unless `dir` is a non-empty string.
 * @group Training
 */
export function hasCheckpoint(dir: string): boolean {
  checkPath('hasCheckpoint', 'dir', dir);
  return existsSync(join(dir, MANIFEST));
}

/**
 * Loads the checkpoint in `dir`, as written by {@link saveCheckpoint}. The manifest is checked
 * against its schema, the files it names must be regular files inside `dir` (not symbolic links),
 * and every tensor it refers to must exist.
 * @example
 * ```ts
 * const ck = loadCheckpoint('runs/cnn/checkpoint');
 * model.loadStateDict(ck.weights);
 * optimizer.loadStateDict(ck.optimizer as OptimizerStateDict);
 * ```
 * @throws TypeError or RangeError unless `dir` is a non-empty string; Error if files are missing
 * or unreadable; TypeError if a named file is not a regular file; RangeError if anything is
 * malformed or too large.
 * @group Training
 */
export function loadCheckpoint(dir: string): CheckpointData {
  checkPath('loadCheckpoint', 'dir', dir);
  const m = readManifest(dir);
  const bytesOf = (f: string) => {
    const p = join(dir, f);
    if (!existsSync(p)) throw new Error(`loadCheckpoint: ${p} is missing (named by ${join(dir, MANIFEST)})`);
    return readRegularFile(p, MAX_TENSOR_FILE_BYTES, 'loadCheckpoint', { noFollow: true });
  };
  const weights = decodeAs('loadCheckpoint', bytesOf(m.weightsFile), join(dir, m.weightsFile)).tensors;
  const tensors = decodeRaw('loadCheckpoint', bytesOf(m.optimizerFile), join(dir, m.optimizerFile), OPTIMIZER_DTYPES).tensors;
  // A float32 buffer is an F32 tensor; int8 codes U8 and bfloat16 bits BF16.
  const tensor = (t: unknown, want: 'F32' | 'U8' | 'BF16' = 'F32') => {
    if (typeof t !== 'string' || !Object.hasOwn(tensors, t)) throw new RangeError(`loadCheckpoint: ${join(dir, m.optimizerFile)} has no tensor ${JSON.stringify(t)}`);
    const data = tensors[t]!.data;
    const have = dtypeOf(data);
    if (have !== want) throw new RangeError(`loadCheckpoint: expected the tensor ${JSON.stringify(t)} of ${join(dir, m.optimizerFile)} to be ${want}, received ${have}`);
    return data;
  };
  const refOf = (x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as { tensor?: unknown }).tensor : undefined);
  const state: Record<string, Record<string, unknown>> = Object.create(null);
  for (const [key, entry] of Object.entries(m.optimizer.state)) {
    const out: Record<string, unknown> = Object.create(null);
    for (const [name, v] of Object.entries(entry)) {
      const ref = v as { tensor?: unknown; tensors?: unknown } | null;
      if (isLowPrecision(ref)) {
        out[name] =
          ref.dtype === 'int8'
            ? { dtype: 'int8', codes: tensor(refOf(ref.codes), 'U8'), absmax: tensor(refOf(ref.absmax)) }
            : { dtype: 'bfloat16', bits: tensor(refOf(ref.bits), 'BF16') };
      } else if (ref !== null && typeof ref === 'object' && !Array.isArray(ref) && typeof ref.tensor === 'string') {
        out[name] = tensor(ref.tensor);
      } else if (ref !== null && typeof ref === 'object' && !Array.isArray(ref) && Array.isArray(ref.tensors)) {
        // Each name must be a tensor of the file, so the list is no longer than the file's tensors.
        out[name] = ref.tensors.map((t) => tensor(t));
      } else {
        out[name] = v;
      }
    }
    state[key] = out;
  }
  return {
    epoch: m.epoch,
    inEpoch: m.inEpoch ?? null,
    weights,
    optimizer: { state, paramGroups: m.optimizer.paramGroups as CheckpointData['optimizer']['paramGroups'] },
    scheduler: m.scheduler,
    rng: m.rng as CheckpointData['rng'],
    metrics: m.metrics,
    config: m.config,
  };
}
