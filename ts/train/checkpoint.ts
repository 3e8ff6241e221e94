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
import { z } from 'zod';
import { readRegularFile } from '../io/read-bounded.js';
import { decodeSafetensors, encodeSafetensors } from '../nn/safetensors.js';
import type { StateEntry } from '../nn/module.js';
import type { GeneratorState } from '../nn/generator.js';
import { describeValue } from '../validate.js';

/** The checkpoint file's `format` tag. */
export const CHECKPOINT_FORMAT = 'ferroptim-checkpoint';
/** The version of the layout written (version 1, epoch boundaries only, is still read). */
export const CHECKPOINT_VERSION = 2;

/** The largest `checkpoint.json` read; it holds scalars and metrics, never tensors. */
const MAX_MANIFEST_BYTES = 256 * 2 ** 20;
/** The largest safetensors file read: the largest buffer Node can allocate. */
const MAX_TENSOR_FILE_BYTES = bufferConstants.MAX_LENGTH;
/** The most epochs a checkpoint may claim (a bound, not a limit anyone reaches). */
const MAX_EPOCHS = 1_000_000;

const TMP_SUFFIX = /\.tmp-\d+$/;

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to disk,
 * then renamed over `path`. A crash leaves either the old file or the new one, never a mix; a
 * failed write (a full disk) removes its temporary file.
 * @example
 * ```ts
 * writeFileAtomic('runs/latest/metrics.json', JSON.stringify(metrics));
 * ```
 * @throws Error (Node's file system errors) if the directory does not exist or is not writable.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
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
 * mid-write (`NAME.tmp-PID`) from `dir`; other files are left alone.
 * @example
 * ```ts
 * removeStaleTemporaries('runs/cnn');
 * ```
 */
export function removeStaleTemporaries(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile() && TMP_SUFFIX.test(e.name)) rmSync(join(dir, e.name), { force: true });
  }
}

/** Where training stood inside an epoch when a checkpoint was written between two batches. */
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

/** Everything a checkpoint restores. */
export interface CheckpointData {
  /** The number of epochs completed. */
  epoch: number;
  /** Set when the checkpoint was written inside an epoch (Ctrl-C, `checkpointEvery`). */
  inEpoch?: EpochProgress | null;
  /** The model's weights by parameter name (`model.stateDict()`). */
  weights: Record<string, StateEntry>;
  /** The optimizer's `stateDict()`; its buffers are stored in a safetensors file beside the manifest. */
  optimizer: {
    /** Per-parameter state by key; Float32Array buffers and plain values. */
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

// The schema of checkpoint.json. Records are checked but built by JSON.parse into null-prototype
// objects (see parseJsonNullProto), so a key such as "__proto__" stays a key.
const u32 = z.number().int().min(0).max(0xffffffff);
const genState = z.tuple([u32, u32, u32, u32]);
const count = z.number().int().min(0);
const fileName = z
  .string()
  .max(255)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*\.safetensors$/, 'expected a file name of this folder ending in .safetensors');
const jsonObject = z.custom<Record<string, unknown>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), 'expected an object');
const metricsEntry = z.looseObject({
  epoch: z.number().int().min(1),
  trainLoss: z.number(),
  trainAccuracy: z.number().min(0).max(1),
  testLoss: z.number(),
  testAccuracy: z.number().min(0).max(1),
  lr: z.number(),
  seconds: z.number().min(0),
  samplesPerSecond: z.number().min(0),
  testSeconds: z.number().min(0),
});
const manifestSchema = z
  .strictObject({
    format: z.literal(CHECKPOINT_FORMAT),
    version: z.union([z.literal(1), z.literal(2)]),
    epoch: count.max(MAX_EPOCHS),
    inEpoch: z
      .strictObject({ batch: z.number().int().min(1), epochRng: genState, lossSum: z.number(), correct: count, seen: count, seconds: z.number().min(0), lr: z.number() })
      .nullable()
      .optional(),
    weightsFile: fileName,
    optimizerFile: fileName,
    optimizer: z.strictObject({
      state: z.record(z.string(), jsonObject),
      paramGroups: z.array(z.looseObject({ params: z.array(z.union([z.string(), z.number().int().min(0)])) })),
    }),
    scheduler: z.unknown(),
    rng: z.looseObject({ data: genState, dropout: z.record(z.string(), genState).optional() }),
    metrics: z.array(metricsEntry),
    config: jsonObject,
  })
  .refine((m) => m.metrics.length === m.epoch, { message: 'expected one metrics entry per completed epoch', path: ['metrics'] })
  .refine((m) => m.metrics.every((x, i) => x.epoch === i + 1), { message: 'expected the metrics of epochs 1, 2, ... in order', path: ['metrics'] })
  .refine((m) => m.weightsFile !== m.optimizerFile, { message: 'expected two different files', path: ['optimizerFile'] });

/** What `checkpoint.json` holds: the checkpoint with every optimizer buffer replaced by the name of its tensor. */
export type CheckpointManifest = z.infer<typeof manifestSchema>;

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
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
    const received = issue.path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), raw);
    throw new RangeError(`loadCheckpoint: ${path} is malformed: ${where}: ${issue.message}, received ${describeValue(received)}`);
  }
  // The checked input, not zod's copy: its records are null-prototype objects.
  return raw as CheckpointManifest;
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
 * @example
 * ```ts
 * saveCheckpoint('runs/cnn/checkpoint', {
 *   epoch, weights: model.stateDict(), optimizer: optimizer.stateDict(), scheduler: null,
 *   rng: { data: generator.getState() }, metrics, config: {},
 * });
 * ```
 * @throws Error (Node's file system errors) if `dir` cannot be created or written.
 */
export function saveCheckpoint(dir: string, data: CheckpointData): void {
  mkdirSync(dir, { recursive: true });
  const tag = `${String(data.epoch).padStart(4, '0')}${data.inEpoch ? `-b${String(data.inEpoch.batch).padStart(6, '0')}` : ''}`;
  const weightsFile = `weights-epoch-${tag}.safetensors`;
  const optimizerFile = `optimizer-epoch-${tag}.safetensors`;
  const tensors: Record<string, StateEntry> = Object.create(null);
  const state: Record<string, Record<string, unknown>> = Object.create(null);
  for (const [key, entry] of Object.entries(data.optimizer.state)) {
    const out: Record<string, unknown> = Object.create(null);
    for (const [name, v] of Object.entries(entry)) {
      if (Array.isArray(v) || v instanceof Float32Array) {
        const tname = `${key}/${name}`;
        tensors[tname] = { data: v instanceof Float32Array ? v : Float32Array.from(v as number[]), shape: [(v as ArrayLike<number>).length] };
        out[name] = { tensor: tname };
      } else {
        out[name] = v;
      }
    }
    state[key] = out;
  }
  writeFileAtomic(join(dir, weightsFile), encodeSafetensors(data.weights, { format: 'pt', epoch: String(data.epoch) }));
  writeFileAtomic(join(dir, optimizerFile), encodeSafetensors(tensors, { epoch: String(data.epoch) }));
  const manifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    epoch: data.epoch,
    inEpoch: data.inEpoch ?? null,
    weightsFile,
    optimizerFile,
    optimizer: { state, paramGroups: data.optimizer.paramGroups },
    scheduler: data.scheduler,
    rng: data.rng,
    metrics: data.metrics,
    config: data.config,
  };
  writeFileAtomic(join(dir, MANIFEST), JSON.stringify(manifest, null, 1));
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
 */
export function hasCheckpoint(dir: string): boolean {
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
 * @throws Error if files are missing or unreadable; TypeError if a named file is not a regular
 * file; RangeError if anything is malformed or too large.
 */
export function loadCheckpoint(dir: string): CheckpointData {
  const m = readManifest(dir);
  const read = (f: string) => {
    const p = join(dir, f);
    if (!existsSync(p)) throw new Error(`loadCheckpoint: ${p} is missing (named by ${join(dir, MANIFEST)})`);
    return decodeSafetensors(readRegularFile(p, MAX_TENSOR_FILE_BYTES, 'loadCheckpoint', { noFollow: true }), p).tensors;
  };
  const weights = read(m.weightsFile);
  const tensors = read(m.optimizerFile);
  const state: Record<string, Record<string, unknown>> = Object.create(null);
  for (const [key, entry] of Object.entries(m.optimizer.state)) {
    const out: Record<string, unknown> = Object.create(null);
    for (const [name, v] of Object.entries(entry)) {
      const ref = v as { tensor?: unknown } | null;
      if (ref !== null && typeof ref === 'object' && !Array.isArray(ref) && typeof ref.tensor === 'string') {
        if (!Object.hasOwn(tensors, ref.tensor)) throw new RangeError(`loadCheckpoint: ${join(dir, m.optimizerFile)} has no tensor ${JSON.stringify(ref.tensor)}`);
        out[name] = tensors[ref.tensor]!.data;
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
