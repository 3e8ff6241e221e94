/**
 * Low-precision optimizer state (`stateDtype`): how each state buffer is stored, how it reads in a
 * state dict, and the checks of both.
 * @module
 */
import { checkFloat32, describeValue } from '../validate.js';
import { decodeBuffer, decodeFloat, encodeFloat } from './optimizer.js';

/**
 * How an optimizer stores its state buffers (`expAvg`, `momentumBuffer`, ...):
 * - `'float32'`: one float32 per element (the default; PyTorch's state).
 * - `'bfloat16'`: the top 16 bits of each float32, rounded to nearest even: 2 bytes per element.
 * - `'int8'`: block-wise dynamic quantization (Dettmers et al. 2022; torchao `AdamW8bit`): one
 *   byte per element indexing a 256-entry dynamic-tree map, and one float32 absmax per
 *   {@link STATE_BLOCK} elements of a tensor.
 *
 * Every step loads the state to float32 (exactly for bfloat16; code → map value × absmax for
 * int8), computes the update exactly as the float32 optimizer does, and stores the new state back.
 * @group Optimizers
 * @category Options and defaults
 */
export type StateDtype = 'float32' | 'bfloat16' | 'int8';

/**
 * Every {@link StateDtype}, default first.
 * @group Optimizers
 * @category Options and defaults
 */
export const STATE_DTYPES: readonly StateDtype[] = Object.freeze(['float32', 'bfloat16', 'int8'] as const);

/**
 * Elements per int8 block: each has its own absmax. A block never spans two tensors.
 * @group Optimizers
 * @category Options and defaults
 */
export const STATE_BLOCK = 256;

/**
 * The option that picks the state's storage, for the optimizers that support it (Adam, AdamW,
 * SGD, Lion).
 * @group Optimizers
 * @category Options and defaults
 */
export interface StateDtypeOptions {
  /**
   * Storage of the state buffers: `'float32'`, `'bfloat16'` (half the state memory) or `'int8'`
   * (a quarter, plus one float32 per 256 elements). A constructor option, not a param-group one;
   * a state dict records it and loads only into an optimizer with the same `stateDtype`.
   * @defaultValue 'float32'
   */
  stateDtype?: StateDtype;
}

/**
 * A bfloat16 state buffer in a state dict: the 16-bit patterns of its elements, as integers in
 * [0, 65535] (JSON-safe; a NaN is a pattern like any other).
 * @group Optimizers
 * @category Base class and parameters
 */
export interface Bfloat16Buffer {
  /** Always `'bfloat16'`. */
  dtype: 'bfloat16';
  /** Element i's bfloat16 bits. */
  bits: number[] | Uint16Array;
}

/**
 * An int8 state buffer in a state dict: element i is `map[codes[i]] · absmax[⌊i / 256⌋]`, with
 * the signed map for buffers that may be negative (`expAvg`, `momentumBuffer`) and the unsigned
 * map otherwise.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface Int8Buffer {
  /** Always `'int8'`. */
  dtype: 'int8';
  /** Element i's code, an integer in [0, 255]. */
  codes: number[] | Uint8Array;
  /**
   * Each block's scale: a float32 ≥ 0, or NaN (`"NaN"` in JSON) for a block holding a NaN, or
   * `"Infinity"` for one holding an infinity.
   */
  absmax: Array<number | string> | Float32Array;
}

/**
 * A low-precision state buffer in a state dict.
 * @group Optimizers
 * @category Base class and parameters
 */
export type LowPrecisionBuffer = Bfloat16Buffer | Int8Buffer;

/** f32 words of one state buffer of `n` elements in the arenas (the native kernels' layout). */
export function slotWords(dtype: StateDtype, n: number): number {
  if (dtype === 'bfloat16') return Math.ceil(n / 2);
  if (dtype === 'int8') return Math.ceil(n / STATE_BLOCK) + Math.ceil(n / 4);
  return n;
}

/** The native kernel of `kernel` with state in `dtype`. */
export function kernelFor(kernel: string, dtype: StateDtype): string {
  return dtype === 'float32' ? kernel : `${kernel}_${dtype}`;
}

/**
 * Checks a `stateDtype` option against the dtypes an optimizer supports (`undefined`: float32).
 * @throws TypeError for a value that is not a string; RangeError for another string.
 */
export function checkStateDtype(label: string, v: unknown, supported: readonly StateDtype[]): StateDtype {
  if (v === undefined) return 'float32';
  const list = supported.map((d) => `'${d}'`).join(supported.length > 2 ? ', ' : ' or ').replace(/, ([^,]*)$/, ' or $1');
  const why = supported.length === 1 ? ` (${label} keeps its state in float32)` : '';
  if (typeof v !== 'string') throw new TypeError(`${label}: expected stateDtype to be ${list}${why}, received ${describeValue(v)}`);
  if (!(supported as readonly string[]).includes(v)) throw new RangeError(`${label}: expected stateDtype to be ${list}${why}, received ${describeValue(v)}`);
  return v as StateDtype;
}

/** The bfloat16 bits of a buffer stored in `words` (`n` elements). */
function bf16View(words: Float32Array, n: number): Uint16Array {
  return new Uint16Array(words.buffer, words.byteOffset, n);
}

/** The absmax words and codes of an int8 buffer stored in `words` (`n` elements). */
function int8Views(words: Float32Array, n: number): { absmax: Float32Array; codes: Uint8Array } {
  const blocks = Math.ceil(n / STATE_BLOCK);
  return { absmax: words.subarray(0, blocks), codes: new Uint8Array(words.buffer, words.byteOffset + 4 * blocks, n) };
}

/**
 * A state buffer of `n` elements stored in `words`, as a state dict holds it: float32 as numbers
 * (-0, NaN and infinities as strings), bfloat16 and int8 in their compact form.
 */
export function encodeState(dtype: StateDtype, words: Float32Array, n: number): Array<number | string> | LowPrecisionBuffer {
  if (dtype === 'float32') return Array.from(words, encodeFloat);
  if (dtype === 'bfloat16') return { dtype, bits: Array.from(bf16View(words, n)) };
  const { absmax, codes } = int8Views(words, n);
  return { dtype, codes: Array.from(codes), absmax: Array.from(absmax, encodeFloat) };
}

function what(value: unknown): string {
  if (Array.isArray(value) || value instanceof Float32Array) return 'a float32 buffer';
  if (value !== null && typeof value === 'object' && typeof (value as { dtype?: unknown }).dtype === 'string') return `a ${JSON.stringify((value as { dtype: string }).dtype)} buffer`;
  return describeValue(value);
}

/**
 * Integers in [0, max] (int8 codes, bfloat16 bits) as a Uint8Array or Uint16Array (`v` itself
 * when it is one), `n` of them unless `n` is omitted.
 * @throws TypeError for what is not an array, or an element that is not a number; RangeError for
 * another length or an element that is not an integer in range.
 * @internal
 */
export function integerArray(ctx: string, name: string, v: unknown, max: 255 | 65535, n?: number): Uint8Array | Uint16Array {
  const Typed = max === 255 ? Uint8Array : Uint16Array;
  const typed = v instanceof Typed;
  if (!typed && !Array.isArray(v)) throw new TypeError(`${ctx}: expected ${name} to be an array of integers in [0, ${max}], received ${describeValue(v)}`);
  const list = v as ArrayLike<unknown>;
  if (n !== undefined && list.length !== n) throw new RangeError(`${ctx}: expected ${name} to have length ${n}, received ${list.length}`);
  if (typed) return v;
  const out = new Typed(list.length);
  for (let i = 0; i < list.length; i++) {
    const x = list[i];
    if (typeof x !== 'number') throw new TypeError(`${ctx}: expected ${name}[${i}] to be an integer in [0, ${max}], received ${describeValue(x)}`);
    if (!Number.isInteger(x) || x < 0 || x > max) throw new RangeError(`${ctx}: expected ${name}[${i}] to be an integer in [0, ${max}], received ${describeValue(x)}`);
    out[i] = x;
  }
  return out;
}

/**
 * Reads a saved state buffer of `n` elements stored as `dtype` into new words (the arena layout).
 * Everything is checked: the form (a buffer saved with another `stateDtype` is refused with a
 * RangeError naming both), lengths, values, code range, absmax values.
 */
export function decodeState(ctx: string, name: string, value: unknown, n: number, dtype: StateDtype): Float32Array {
  if (dtype === 'float32') {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value) && typeof (value as { dtype?: unknown }).dtype === 'string') {
      throw new RangeError(`${ctx}: expected ${name} to be a float32 buffer, since this optimizer's stateDtype is 'float32', received ${what(value)} (a state saved with another stateDtype)`);
    }
    return decodeBuffer(ctx, name, value, n);
  }
  const form = dtype === 'bfloat16' ? '{ dtype: "bfloat16", bits }' : '{ dtype: "int8", codes, absmax }';
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    if (Array.isArray(value) || value instanceof Float32Array) {
      throw new RangeError(`${ctx}: expected ${name} to be a ${dtype} state ${form}, since this optimizer's stateDtype is '${dtype}', received a float32 buffer (a state saved with stateDtype 'float32')`);
    }
    throw new TypeError(`${ctx}: expected ${name} to be a ${dtype} state ${form}, received ${describeValue(value)}`);
  }
  const rec = value as Record<string, unknown>;
  if (rec.dtype !== dtype) {
    throw new RangeError(`${ctx}: expected ${name} to be a ${dtype} state ${form}, since this optimizer's stateDtype is '${dtype}', received ${what(value)}`);
  }
  const keys = Object.keys(rec).filter((k) => k !== 'dtype');
  const allowed = dtype === 'bfloat16' ? ['bits'] : ['codes', 'absmax'];
  const extra = keys.find((k) => !allowed.includes(k));
  if (extra !== undefined) throw new RangeError(`${ctx}: ${name} has an unknown key ${JSON.stringify(extra)} (expected dtype, ${allowed.join(', ')})`);
  const words = new Float32Array(slotWords(dtype, n));
  if (dtype === 'bfloat16') {
    bf16View(words, n).set(integerArray(ctx, `${name}.bits`, rec.bits, 0xffff, n));
    return words;
  }
  const codes = integerArray(ctx, `${name}.codes`, rec.codes, 255, n);
  const blocks = Math.ceil(n / STATE_BLOCK);
  const absmax = rec.absmax;
  if (!(absmax instanceof Float32Array) && !Array.isArray(absmax)) throw new TypeError(`${ctx}: expected ${name}.absmax to be an array of numbers, received ${describeValue(absmax)}`);
  if (absmax.length !== blocks) throw new RangeError(`${ctx}: expected ${name}.absmax to have length ${blocks} (one per ${STATE_BLOCK} elements), received ${absmax.length}`);
  const views = int8Views(words, n);
  for (let b = 0; b < blocks; b++) {
    const x = decodeFloat(absmax[b]);
    const at = `${name}.absmax[${b}]`;
    if (x === undefined) throw new TypeError(`${ctx}: expected ${at} to be a number (or "NaN", "Infinity"), received ${describeValue(absmax[b])}`);
    if (!(x >= 0 || Number.isNaN(x)) || Object.is(x, -0)) throw new RangeError(`${ctx}: expected ${at} to be a float32 number >= 0 (or NaN), received ${describeValue(x)}`);
    views.absmax[b] = checkFloat32(ctx, at, x);
  }
  views.codes.set(codes);
  return words;
}
