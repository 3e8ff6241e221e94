/**
 * The safetensors format (float32 tensors), readable by PyTorch's `safetensors.torch.load_file`.
 * @module
 */
import { readFileSync } from 'node:fs';
import { describeValue } from '../validate.js';
import type { Module, StateEntry } from './module.js';

/** Decoded safetensors contents. */
export interface SafetensorsContents {
  /** The tensors by name (`0.weight`, `0.bias`, ...), float32. */
  tensors: Record<string, StateEntry>;
  /** The file's `__metadata__` string map (empty when it has none). */
  metadata: Record<string, string>;
}

/**
 * Encodes float32 tensors as safetensors: an 8-byte little-endian header length, a JSON header
 * (`dtype`, `shape`, `data_offsets` per tensor, optional `__metadata__` of strings) padded with
 * spaces to 8 bytes, then the raw little-endian data. Tensors are written in name order.
 * @example
 * ```ts
 * writeFileSync('model.safetensors', encodeSafetensors(model.stateDict(), { format: 'pt' }));
 * ```
 * @throws TypeError for a tensor that is not float32 or a non-string metadata value.
 */
export function encodeSafetensors(tensors: Record<string, StateEntry>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`encodeSafetensors: expected metadata ${JSON.stringify(k)} to be a string, received ${describeValue(v)}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name]!;
    if (!(t?.data instanceof Float32Array)) throw new TypeError(`encodeSafetensors: expected ${JSON.stringify(name)} to hold a Float32Array, received ${describeValue(t?.data)}`);
    const bytes = t.data.byteLength;
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const d = tensors[name]!.data;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, pos);
    pos += d.byteLength;
  }
  return out;
}

/**
 * Decodes safetensors bytes holding float32 tensors; the tensors are copies, independent of `bytes`.
 * @param source - names the file in error messages.
 * @example
 * ```ts
 * const { tensors } = decodeSafetensors(readFileSync('model.safetensors'), 'model.safetensors');
 * model.loadStateDict(tensors);
 * ```
 * @throws RangeError naming `source` for a truncated or malformed file or a dtype other than F32.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsContents {
  const bad = (why: string) => new RangeError(`${source}: not a valid safetensors file (${why})`);
  if (bytes.length < 8) throw bad(`${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) throw bad(`header length ${n} exceeds the file`);
  const headerLen = Number(n);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLen).toString('utf8'));
  } catch (e) {
    throw bad(`header is not JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('header is not an object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors: Record<string, StateEntry> = {};
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = info as Record<string, string>;
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (t === null || typeof t !== 'object') throw bad(`entry ${JSON.stringify(name)} is not an object`);
    if (t.dtype !== 'F32') throw bad(`tensor ${JSON.stringify(name)} has dtype ${describeValue(t.dtype)}; only F32 is supported`);
    const shape = t.shape;
    const offs = t.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`tensor ${JSON.stringify(name)} has an invalid shape`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0) || offs[0] > offs[1]) {
      throw bad(`tensor ${JSON.stringify(name)} has invalid data_offsets`);
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (offs[1] - offs[0] !== 4 * count) throw bad(`tensor ${JSON.stringify(name)} has ${offs[1] - offs[0]} bytes for shape [${shape.join(', ')}]`);
    if (offs[1] > dataLen) throw bad(`tensor ${JSON.stringify(name)} ends at byte ${offs[1]} of a ${dataLen}-byte data section (truncated?)`);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + offs[0], dataStart + offs[1]));
    tensors[name] = { data, shape: shape as number[] };
  }
  return { tensors, metadata };
}

/**
 * Loads a model's weights from a safetensors file (as written by {@link encodeSafetensors}, the
 * trainer's checkpoints, or PyTorch's `save_file(model.state_dict())`). With `strict` (the
 * default) the file must hold exactly the model's parameters; otherwise only matching names load.
 * @example
 * ```ts
 * const model = cnn();
 * loadWeights(model, 'runs/cnn/model.safetensors');
 * ```
 * @throws Error if the file cannot be read; RangeError for a malformed file or mismatched names/shapes.
 */
export function loadWeights(model: Module, path: string, strict = true): void {
  const { tensors } = decodeSafetensors(readFileSync(path), path);
  model.loadStateDict(tensors, strict);
}
