/**
 * The safetensors format (float32 tensors), readable by PyTorch's `safetensors.torch.load_file`.
 * @module
 */
import { constants as bufferConstants } from 'node:buffer';
import { readRegularFile } from '../io/read-bounded.js';
import { checkBoolean, checkPath, checkString, describeValue, isPlainObject } from '../validate.js';
import { Module, isShape, numel, type StateEntry } from './module.js';

/**
 * Decoded safetensors contents.
 * @group Data and I/O
 */
export interface SafetensorsContents {
  /** The tensors by name (`0.weight`, `0.bias`, ...), float32; a null-prototype object. */
  tensors: Record<string, StateEntry>;
  /** The file's `__metadata__` string map (empty when it has none); a null-prototype object. */
  metadata: Record<string, string>;
}

/**
 * A tensor of one of the dtypes a checkpoint stores (`F32`; `U8` and `BF16` for the codes and bits
 * of low-precision optimizer state): the raw elements, little-endian as the file holds them.
 * @internal
 */
export interface RawTensor {
  data: Float32Array | Uint8Array | Uint16Array;
  shape: number[];
}

/**
 * The safetensors dtype of each kind of raw data.
 * @internal
 */
export function dtypeOf(data: unknown): 'F32' | 'U8' | 'BF16' | undefined {
  return data instanceof Float32Array ? 'F32' : data instanceof Uint8Array ? 'U8' : data instanceof Uint16Array ? 'BF16' : undefined;
}

/** The reference implementation's bound on the JSON header (`MAX_HEADER_SIZE` in safetensors' `tensor.rs`). */
const MAX_HEADER_SIZE = 100_000_000;

/** The largest file {@link loadWeights} reads: the largest Buffer Node can allocate. */
const MAX_FILE_BYTES = bufferConstants.MAX_LENGTH;

/** Bytes per element of each safetensors dtype; only F32 is decoded, the rest name the problem. */
const DTYPE_SIZES: ReadonlyMap<string, number> = new Map([
  ['BOOL', 1], ['U8', 1], ['I8', 1], ['F8_E5M2', 1], ['F8_E4M3', 1], ['F8_E8M0', 1],
  ['I16', 2], ['U16', 2], ['F16', 2], ['BF16', 2],
  ['I32', 4], ['U32', 4], ['F32', 4],
  ['I64', 8], ['U64', 8], ['F64', 8], ['C64', 8],
]);

const q = (s: string) => JSON.stringify(s);

/**
 * Encodes float32 tensors as safetensors: an 8-byte little-endian header length, a JSON header
 * (`dtype`, `shape`, `data_offsets` per tensor, optional `__metadata__` of strings) padded with
 * spaces to 8 bytes, then the raw little-endian data. Tensors are written in name order.
 * @remarks Names are data, never object keys with a meaning: a tensor may be called `__proto__`
 * or `constructor`. Only `__metadata__` is reserved by the format.
 * @example
 * ```ts
 * writeFileSync('model.safetensors', encodeSafetensors(model.stateDict(), { format: 'pt' }));
 * ```
 * @throws TypeError for `tensors` or `metadata` that is not a plain object, a tensor that is not
 * float32, a shape that is not an array of integers >= 0, or a non-string metadata value;
 * RangeError for a shape that does not hold its data, a tensor named `__metadata__`, a header
 * above 100,000,000 bytes, or a file larger than the largest Buffer.
 * @group Data and I/O
 */
export function encodeSafetensors(tensors: Record<string, StateEntry>, metadata: Record<string, string> = {}): Buffer {
  return encodeRaw('encodeSafetensors', tensors, metadata, ['F32']);
}

/**
 * {@link encodeSafetensors} of tensors whose data may also be a Uint8Array (`U8`) or a
 * Uint16Array of bfloat16 bits (`BF16`), as `dtypes` allows.
 * @internal
 */
export function encodeRaw(ctx: string, tensors: Record<string, RawTensor>, metadata: Record<string, string>, dtypes: readonly string[]): Buffer {
  // Plain objects only: the names are the object's own keys (a Map or an array has none of its entries there).
  if (!isPlainObject(tensors)) throw new TypeError(`${ctx}: expected tensors to be an object of { data, shape } entries, received ${describeValue(tensors)}`);
  if (!isPlainObject(metadata)) throw new TypeError(`${ctx}: expected metadata to be an object of strings, received ${describeValue(metadata)}`);
  // Null prototypes: a name such as "__proto__" is an own key, not the object's prototype.
  const header: Record<string, unknown> = Object.create(null);
  const meta: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(metadata)) {
    meta[k] = checkString(ctx, `metadata ${q(k)}`, v);
  }
  if (Object.keys(meta).length > 0) header.__metadata__ = meta;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    if (name === '__metadata__') throw new RangeError(`${ctx}: the tensor name "__metadata__" is reserved by the safetensors format`);
    const t = tensors[name];
    if (t === null || typeof t !== 'object') throw new TypeError(`${ctx}: expected ${q(name)} to be a tensor { data: Float32Array, shape }, received ${describeValue(t)}`);
    const dtype = dtypeOf(t.data);
    if (dtype === undefined || !dtypes.includes(dtype)) {
      const kinds = dtypes.map((d) => ({ F32: 'a Float32Array', U8: 'a Uint8Array', BF16: 'a Uint16Array of bfloat16 bits' })[d as 'F32']).join(' or ');
      throw new TypeError(`${ctx}: expected ${q(name)} to hold ${kinds}, received ${describeValue(t.data)}`);
    }
    const shape: unknown = t.shape;
    if (!isShape(shape)) {
      throw new TypeError(`${ctx}: expected ${q(name)} shape to be an array of integers >= 0, received ${describeValue(shape)}`);
    }
    if (numel(shape) !== t.data.length) {
      throw new RangeError(`${ctx}: expected ${q(name)} shape ${describeValue(shape)} to hold ${t.data.length} elements (its data), received a shape of ${numel(shape)}`);
    }
    const bytes = t.data.byteLength;
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = Buffer.from(json, 'utf8');
  if (headerBytes.length > MAX_HEADER_SIZE) throw new RangeError(`${ctx}: the header would be ${headerBytes.length} bytes, above the format's maximum of ${MAX_HEADER_SIZE}`);
  if (8 + headerBytes.length + offset > MAX_FILE_BYTES) throw new RangeError(`${ctx}: the file would be ${8 + headerBytes.length + offset} bytes, more than the largest Buffer (${MAX_FILE_BYTES} bytes)`);
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
 *
 * @remarks The file is checked by the format's rules, those of the reference implementation
 * (huggingface/safetensors `read_metadata` and `Metadata::validate`), before any tensor is copied:
 * ```text
 * header length n <= 100,000,000 and 8 + n <= file length
 * header = UTF-8 JSON object; no key twice in any object (JSON.parse would keep the last)
 * __metadata__ (optional) = object of string → string
 * each tensor: dtype, shape of integers >= 0, data_offsets [start, end] with start <= end,
 *              end − start = product(shape) · size(dtype)
 * sorted by data_offsets: first start = 0, each start = previous end (no overlap, no hole),
 *              last end = data section length (no trailing bytes)
 * ```
 * Only F32 tensors are decoded. The returned objects have null prototypes, so a tensor named
 * `__proto__` or `constructor` is an ordinary entry.
 *
 * @param source - names the file in error messages (after `decodeSafetensors: `).
 * @example
 * ```ts
 * const { tensors } = decodeSafetensors(readFileSync('model.safetensors'), 'model.safetensors');
 * model.loadStateDict(tensors);
 * ```
 * @see https://github.com/huggingface/safetensors#format
 * @throws TypeError if `bytes` is not a Uint8Array or `source` not a string; TypeError naming
 * `source` for a header, entry, shape, offsets or metadata of the wrong type; RangeError naming
 * `source` for a truncated or malformed file (header too long, not UTF-8 or JSON, duplicate keys,
 * overlapping or non-contiguous offsets, sizes that disagree) or a dtype other than F32.
 * @group Data and I/O
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsContents {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`decodeSafetensors: expected bytes to be a Uint8Array, received ${describeValue(bytes)}`);
  checkString('decodeSafetensors', 'source', source);
  return decodeAs('decodeSafetensors', bytes, source);
}

/** {@link decodeSafetensors} with its errors prefixed by `fn` (`loadWeights`, `loadCheckpoint`). */
export function decodeAs(fn: string, bytes: Uint8Array, source: string): SafetensorsContents {
  return decodeRaw(fn, bytes, source, ['F32']) as SafetensorsContents;
}

/**
 * {@link decodeAs} that also decodes the dtypes `dtypes` lists (`U8` to a Uint8Array, `BF16` to a
 * Uint16Array of bits); any other dtype is refused, as F32-only decoding refuses it.
 * @internal
 */
export function decodeRaw(fn: string, bytes: Uint8Array, source: string, dtypes: readonly string[]): { tensors: Record<string, RawTensor>; metadata: Record<string, string> } {
  const ctx = `${fn}: ${source}: not a valid safetensors file`;
  if (bytes.length < 8) throw new RangeError(`${ctx}: ${bytes.length} bytes, shorter than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) throw new RangeError(`${ctx}: header length ${n} exceeds the maximum of ${MAX_HEADER_SIZE} bytes`);
  const headerLen = Number(n);
  if (headerLen > bytes.length - 8) throw new RangeError(`${ctx}: header length ${n} exceeds the ${bytes.length - 8} bytes after the length field (truncated?)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new RangeError(`${ctx}: header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new RangeError(`${ctx}: header is not JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new TypeError(`${ctx}: expected the header to be a JSON object, received ${describeValue(header)}`);
  }
  const dup = findDuplicateKey(text);
  if (dup) throw new RangeError(`${ctx}: duplicate key ${q(dup.key)} in ${dup.where}`);

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  let metadata: Record<string, string> = Object.create(null);
  const entries: Array<{ name: string; start: number; end: number; shape: number[]; dtype: string }> = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(ctx, info);
      continue;
    }
    const what = `tensor ${q(name)}`;
    if (info === null || typeof info !== 'object' || Array.isArray(info)) {
      throw new TypeError(`${ctx}: expected ${what} to be an object { dtype, shape, data_offsets }, received ${describeValue(info)}`);
    }
    const { shape, data_offsets: offs } = info as { shape?: unknown; data_offsets?: unknown };
    const dtype = checkString(ctx, `${what} dtype`, (info as { dtype?: unknown }).dtype);
    const size = DTYPE_SIZES.get(dtype);
    if (size === undefined) throw new RangeError(`${ctx}: expected ${what} dtype to be a safetensors dtype (${[...DTYPE_SIZES.keys()].join(', ')}), received ${q(dtype)}`);
    if (!isShape(shape)) {
      throw new TypeError(`${ctx}: expected ${what} shape to be an array of integers >= 0, received ${describeValue(shape)}`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new TypeError(`${ctx}: expected ${what} data_offsets to be [start, end] integers >= 0, received ${describeValue(offs)}`);
    }
    const [start, end] = offs as [number, number];
    if (end < start) throw new RangeError(`${ctx}: ${what} has data_offsets [${start}, ${end}], ending before it starts`);
    // BigInt: a shape's byte count may exceed 2^53 (the reference reports it as an overflow).
    const want = shape.reduce((a: bigint, d: number) => a * BigInt(d), 1n) * BigInt(size);
    if (BigInt(end - start) !== want) {
      throw new RangeError(`${ctx}: ${what} has ${end - start} bytes for shape ${describeValue(shape)} of ${dtype} (${want} bytes)`);
    }
    if (!dtypes.includes(dtype)) throw new RangeError(`${ctx}: ${what} has dtype ${q(dtype)}; only ${dtypes.join(', ')} ${dtypes.length > 1 ? 'are' : 'is'} supported`);
    entries.push({ name, start, end, shape: shape as number[], dtype });
  }
  // The reference sorts by data_offsets and requires the tensors to tile the data section.
  entries.sort((a, b) => a.start - b.start || a.end - b.end);
  let pos = 0;
  let prev: string | undefined;
  for (const e of entries) {
    const at = `tensor ${q(e.name)} has data_offsets [${e.start}, ${e.end}]`;
    if (e.start < pos) throw new RangeError(`${ctx}: ${at}, overlapping ${q(prev!)} which ends at byte ${pos}`);
    if (e.start > pos) {
      throw new RangeError(`${ctx}: ${at}, leaving a hole of ${e.start - pos} bytes ${prev === undefined ? 'at the start of the data' : `after ${q(prev)}`}`);
    }
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataLen) {
    throw new RangeError(`${ctx}: the tensors end at byte ${pos} but the data section has ${dataLen} bytes${pos > dataLen ? ' (truncated?)' : ' (trailing bytes)'}`);
  }
  const tensors: Record<string, RawTensor> = Object.create(null);
  for (const e of entries) {
    const n = e.end - e.start;
    const data = e.dtype === 'F32' ? new Float32Array(n / 4) : e.dtype === 'BF16' ? new Uint16Array(n / 2) : new Uint8Array(n);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + e.start, dataStart + e.end));
    tensors[e.name] = { data, shape: e.shape };
  }
  return { tensors, metadata };
}

function checkMetadata(ctx: string, info: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  // serde reads `"__metadata__": null` as no metadata.
  if (info === null) return out;
  if (typeof info !== 'object' || Array.isArray(info)) throw new TypeError(`${ctx}: expected __metadata__ to be an object of strings, received ${describeValue(info)}`);
  for (const [k, v] of Object.entries(info)) {
    out[k] = checkString(ctx, `__metadata__ ${q(k)}`, v);
  }
  return out;
}

/**
 * The first key that appears twice in one object of `json` (already known to be valid JSON), and
 * where: JSON.parse keeps the last value silently, so two readers could see two different files.
 */
function findDuplicateKey(json: string): { key: string; where: string } | undefined {
  // One frame per open object or array: its keys so far (null for arrays) and its latest key.
  const stack: Array<{ keys: Set<string> | null; last: string | undefined }> = [];
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      // The closing quote is the next one preceded by an even number of backslashes.
      let j = json.indexOf('"', i + 1);
      for (;;) {
        let b = j - 1;
        while (json.charCodeAt(b) === 0x5c) b--;
        if ((j - 1 - b) % 2 === 0) break;
        j = json.indexOf('"', j + 1);
      }
      const top = stack.at(-1);
      if (expectKey && top?.keys) {
        // Decode escapes, so "a\u0062" and "ab" are the same key.
        const raw = json.slice(i + 1, j);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.keys.has(key)) {
          const parent = stack.length === 2 ? stack[0]!.last : undefined;
          const where = stack.length === 1 ? 'the header' : parent === '__metadata__' ? '__metadata__' : parent !== undefined ? `tensor ${q(parent)}` : 'the header';
          return { key, where };
        }
        top.keys.add(key);
        top.last = key;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) {
      stack.push({ keys: new Set(), last: undefined });
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push({ keys: null, last: undefined });
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c) {
      expectKey = stack.at(-1)?.keys != null;
    }
  }
  return undefined;
}

/**
 * Loads a model's weights from a safetensors file (as written by {@link encodeSafetensors}, the
 * trainer's checkpoints, or PyTorch's `save_file(model.state_dict())`). With `strict` (the
 * default) the file must hold exactly the model's parameters; otherwise only matching names load.
 * @remarks The path must name a regular file (not a FIFO, device or directory) no larger than
 * the largest Buffer Node can allocate; it is checked before it is read.
 * @example
 * ```ts
 * const model = cnn();
 * loadWeights(model, 'runs/cnn/model.safetensors');
 * ```
 * @throws TypeError if `model` is not a Module, `path` not a non-empty string or `strict` not a
 * boolean (checked before the file is read); Error if the file cannot be read; TypeError if it is
 * not a regular file; RangeError for a malformed file or mismatched names/shapes (see
 * {@link decodeSafetensors}).
 * @group Data and I/O
 */
export function loadWeights(model: Module, path: string, strict = true): void {
  if (!(model instanceof Module)) throw new TypeError(`loadWeights: expected model to be a Module, received ${describeValue(model)}`);
  checkPath('loadWeights', 'path', path);
  checkBoolean('loadWeights', 'strict', strict);
  const { tensors } = decodeAs('loadWeights', readRegularFile(path, MAX_FILE_BYTES, 'loadWeights'), path);
  model.loadStateDict(tensors, strict);
}
