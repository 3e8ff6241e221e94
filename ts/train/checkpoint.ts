/**
 * Training checkpoints: model weights and optimizer buffers in safetensors files, everything else
 * (epoch, optimizer scalars and groups, scheduler, random generators, metrics) in
 * `checkpoint.json`, each written atomically.
 * @module
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../nn/safetensors.js';
import type { StateEntry } from '../nn/module.js';
import { describeValue } from '../validate.js';

/** The checkpoint file's `format` tag. */
export const CHECKPOINT_FORMAT = 'ferroptim-checkpoint';
/** The version of the layout written. */
export const CHECKPOINT_VERSION = 1;

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to disk,
 * then renamed over `path`. A crash leaves either the old file or the new one, never a mix.
 * @example
 * ```ts
 * writeFileAtomic('runs/latest/metrics.json', JSON.stringify(metrics));
 * ```
 * @throws Error (Node's file system errors) if the directory does not exist or is not writable.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** What `checkpoint.json` holds. */
export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** The number of epochs completed. */
  epoch: number;
  /** File names (in the same directory) of the weights and of the optimizer buffers. */
  weightsFile: string;
  optimizerFile: string;
  /** The optimizer state dict with every buffer replaced by the name of its tensor. */
  optimizer: { state: Record<string, Record<string, unknown>>; paramGroups: unknown[] };
  scheduler: unknown;
  /** Random generator states: `data` (shuffling) and any others by name. */
  rng: Record<string, unknown>;
  metrics: unknown[];
  config: Record<string, unknown>;
}

/** Everything a checkpoint restores. */
export interface CheckpointData {
  /** The number of epochs completed. */
  epoch: number;
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
  /** Random generator states: `data` (shuffling) and any others by name. */
  rng: Record<string, unknown>;
  /** The per-epoch metrics recorded so far. */
  metrics: unknown[];
  /** The run's configuration, stored so that a resume can check it matches. */
  config: Record<string, unknown>;
}

const MANIFEST = 'checkpoint.json';

/**
 * Saves a checkpoint into `dir`: new safetensors files first (named by epoch), then
 * `checkpoint.json` (the commit point), then the previous epoch's files are removed. A crash at
 * any moment leaves the previous checkpoint loadable. `train` calls it after every epoch when
 * given a `checkpointDir`.
 * @example
 * ```ts
 * saveCheckpoint('runs/cnn/checkpoint', {
 *   epoch, weights: model.stateDict(), optimizer: optimizer.stateDict(), scheduler: null,
 *   rng: {}, metrics, config: {},
 * });
 * ```
 * @throws Error (Node's file system errors) if `dir` cannot be created or written.
 */
export function saveCheckpoint(dir: string, data: CheckpointData): void {
  mkdirSync(dir, { recursive: true });
  const previous = existsSync(join(dir, MANIFEST)) ? readManifest(dir) : null;
  const tag = String(data.epoch).padStart(4, '0');
  const weightsFile = `weights-epoch-${tag}.safetensors`;
  const optimizerFile = `optimizer-epoch-${tag}.safetensors`;
  const tensors: Record<string, StateEntry> = {};
  const state: Record<string, Record<string, unknown>> = {};
  for (const [key, entry] of Object.entries(data.optimizer.state)) {
    const out: Record<string, unknown> = {};
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
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    epoch: data.epoch,
    weightsFile,
    optimizerFile,
    optimizer: { state, paramGroups: data.optimizer.paramGroups },
    scheduler: data.scheduler,
    rng: data.rng,
    metrics: data.metrics,
    config: data.config,
  };
  writeFileAtomic(join(dir, MANIFEST), JSON.stringify(manifest, null, 1));
  if (previous) {
    for (const f of [previous.weightsFile, previous.optimizerFile]) {
      if (f !== weightsFile && f !== optimizerFile) rmSync(join(dir, f), { force: true });
    }
  }
}

function readManifest(dir: string): CheckpointManifest {
  const path = join(dir, MANIFEST);
  let m: CheckpointManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as CheckpointManifest;
  } catch (e) {
    throw new RangeError(`loadCheckpoint: ${path} is not valid JSON (${(e as Error).message})`);
  }
  if (m === null || typeof m !== 'object' || m.format !== CHECKPOINT_FORMAT) throw new RangeError(`loadCheckpoint: ${path} is not a ferroptim checkpoint (format ${describeValue(m?.format)})`);
  if (m.version !== CHECKPOINT_VERSION) throw new RangeError(`loadCheckpoint: ${path} has version ${describeValue(m.version)}; this ferroptim reads version ${CHECKPOINT_VERSION}`);
  if (!Number.isInteger(m.epoch) || m.epoch < 0 || typeof m.weightsFile !== 'string' || typeof m.optimizerFile !== 'string') {
    throw new RangeError(`loadCheckpoint: ${path} is malformed (epoch ${describeValue(m.epoch)})`);
  }
  return m;
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
 * Loads the checkpoint in `dir`, as written by {@link saveCheckpoint}.
 * @example
 * ```ts
 * const ck = loadCheckpoint('runs/cnn/checkpoint');
 * model.loadStateDict(ck.weights);
 * optimizer.loadStateDict(ck.optimizer as OptimizerStateDict);
 * ```
 * @throws Error if files are missing; RangeError if they are malformed.
 */
export function loadCheckpoint(dir: string): CheckpointData {
  const m = readManifest(dir);
  const read = (f: string) => {
    const p = join(dir, f);
    if (!existsSync(p)) throw new Error(`loadCheckpoint: ${p} is missing (named by ${join(dir, MANIFEST)})`);
    return decodeSafetensors(readFileSync(p), p).tensors;
  };
  const weights = read(m.weightsFile);
  const tensors = read(m.optimizerFile);
  const state: Record<string, Record<string, unknown>> = {};
  for (const [key, entry] of Object.entries(m.optimizer.state)) {
    const out: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(entry)) {
      const ref = v as { tensor?: string } | null;
      if (ref !== null && typeof ref === 'object' && typeof ref.tensor === 'string') {
        const t = tensors[ref.tensor];
        if (!t) throw new RangeError(`loadCheckpoint: ${join(dir, m.optimizerFile)} has no tensor ${JSON.stringify(ref.tensor)}`);
        out[name] = t.data;
      } else {
        out[name] = v;
      }
    }
    state[key] = out;
  }
  return {
    epoch: m.epoch,
    weights,
    optimizer: { state, paramGroups: m.optimizer.paramGroups as CheckpointData['optimizer']['paramGroups'] },
    scheduler: m.scheduler,
    rng: m.rng,
    metrics: m.metrics,
    config: m.config,
  };
}
