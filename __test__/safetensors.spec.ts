/**
 * The safetensors codec against the format's own rules (huggingface/safetensors `Metadata::validate`
 * and `read_metadata`): the header is a UTF-8 JSON object of at most 100,000,000 bytes; tensors,
 * sorted by data offset, tile the data section from 0 to its end with no overlap and no hole; each
 * tensor's byte length is product(shape) × dtype size; `__metadata__` maps strings to strings. On
 * top of that, a key may not appear twice, and data keys never touch an object's prototype.
 */
import test from 'ava';
// From the nn barrel, not ts/index.js: the codec does not depend on the trainer.
import { decodeSafetensors, encodeSafetensors, mlp, type StateEntry } from '../ts/nn/index.js';

/** A safetensors file from a header's JSON text and a data section of `data` bytes (or these bytes). */
function file(header: string | Uint8Array, data: number | Uint8Array = 0): Buffer {
  const h = typeof header === 'string' ? Buffer.from(header, 'utf8') : Buffer.from(header);
  const d = typeof data === 'number' ? Buffer.alloc(data) : Buffer.from(data);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, d]);
}

/** The JSON of one F32 tensor entry. */
function f32(shape: number[], start: number, end: number): string {
  return JSON.stringify({ dtype: 'F32', shape, data_offsets: [start, end] });
}

function entry(values: number[], shape = [values.length]): StateEntry {
  return { data: Float32Array.from(values), shape };
}

test('a file written by encodeSafetensors decodes to the same tensors and metadata', (t) => {
  const sd = mlp({ seed: 1 }).stateDict();
  const { tensors, metadata } = decodeSafetensors(encodeSafetensors(sd, { format: 'pt', note: 'x' }), 'w.safetensors');
  t.deepEqual(Object.keys(tensors).sort(), Object.keys(sd).sort());
  for (const [name, e] of Object.entries(sd)) {
    t.deepEqual(tensors[name]!.shape, e.shape);
    t.deepEqual(tensors[name]!.data, e.data);
  }
  t.deepEqual({ ...metadata }, { format: 'pt', note: 'x' });
});

test('header entries in any order decode by their data offsets, as PyTorch writes them', (t) => {
  const bytes = file(`{"b":${f32([1], 4, 8)},"a":${f32([1], 0, 4)}}`, new Uint8Array(new Float32Array([1, 2]).buffer));
  const { tensors } = decodeSafetensors(bytes, 'order.safetensors');
  t.deepEqual([...tensors.a!.data], [1]);
  t.deepEqual([...tensors.b!.data], [2]);
});

test('empty tensors may share an offset, as the reference allows, and an empty header is a valid file', (t) => {
  const { tensors } = decodeSafetensors(file(`{"a":${f32([0], 0, 0)},"b":${f32([2, 0], 0, 0)},"c":${f32([1], 0, 4)}}`, 4), 'empty.safetensors');
  t.deepEqual(tensors.b!.shape, [2, 0]);
  t.is(tensors.c!.data.length, 1);
  const none = decodeSafetensors(file('{}      '), 'none.safetensors');
  t.deepEqual(Object.keys(none.tensors), []);
  t.deepEqual(Object.keys(none.metadata), []);
});

// Malformed files: each is an error naming the file, the problem and the value received.
const rejected: Array<[string, () => Uint8Array, RegExp, ErrorConstructor]> = [
  ['two tensors with the same offsets (aliased)', () => file(`{"a":${f32([2], 0, 8)},"b":${f32([2], 0, 8)}}`, 8), /bad\.safetensors: .*tensor "b" has data_offsets \[0, 8\], overlapping "a" which ends at byte 8/, RangeError],
  ['overlapping offsets', () => file(`{"a":${f32([2], 0, 8)},"b":${f32([2], 4, 12)}}`, 12), /tensor "b" has data_offsets \[4, 12\], overlapping "a" which ends at byte 8/, RangeError],
  ['a hole between two tensors', () => file(`{"a":${f32([2], 0, 8)},"b":${f32([2], 12, 20)}}`, 20), /tensor "b" has data_offsets \[12, 20\], leaving a hole of 4 bytes after "a"/, RangeError],
  ['a hole before the first tensor', () => file(`{"a":${f32([2], 4, 12)}}`, 12), /tensor "a" has data_offsets \[4, 12\], leaving a hole of 4 bytes at the start of the data/, RangeError],
  ['bytes after the last tensor', () => file(`{"a":${f32([2], 0, 8)}}`, 12), /the tensors end at byte 8 but the data section has 12 bytes/, RangeError],
  ['a data section shorter than the tensors', () => file(`{"a":${f32([2], 0, 8)}}`, 6), /the tensors end at byte 8 but the data section has 6 bytes \(truncated\?\)/, RangeError],
  ['data offsets that end before they start', () => file(`{"a":${f32([0], 8, 0)}}`, 8), /tensor "a" has data_offsets \[8, 0\]/, RangeError],
  ['fractional data offsets', () => file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}`, 4), /expected tensor "a" data_offsets to be \[start, end\] integers >= 0, received \[0, 4.5\]/, TypeError],
  ['a byte length that does not match the shape', () => file(`{"a":${f32([3], 0, 8)}}`, 8), /tensor "a" has 8 bytes for shape \[3\] of F32 \(12 bytes\)/, RangeError],
  ['a shape whose size overflows', () => file(`{"a":${f32([2 ** 40, 2 ** 40], 0, 8)}}`, 8), /tensor "a" has 8 bytes for shape \[1099511627776, 1099511627776\]/, RangeError],
  ['a negative dimension', () => file(`{"a":${f32([-1], 0, 0)}}`), /expected tensor "a" shape to be an array of integers >= 0, received \[-1\]/, TypeError],
  ['a duplicate tensor name', () => file(`{"a":${f32([1], 0, 4)},"a":${f32([1], 0, 4)}}`, 4), /bad\.safetensors: .*duplicate key "a" in the header/, RangeError],
  ['a duplicate name spelled with an escape', () => file(`{"ab":${f32([1], 0, 4)},"a\\u0062":${f32([1], 4, 8)}}`, 8), /duplicate key "ab" in the header/, RangeError],
  ['a duplicate key inside __metadata__', () => file('{"__metadata__":{"k":"1","k":"2"}}'), /duplicate key "k" in __metadata__/, RangeError],
  ['a duplicate field inside a tensor entry', () => file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"shape":[2]}}`, 4), /duplicate key "shape" in tensor "a"/, RangeError],
  ['__metadata__ that is a string', () => file('{"__metadata__":"pt"}'), /expected __metadata__ to be an object of strings, received "pt"/, TypeError],
  ['__metadata__ that is an array', () => file('{"__metadata__":["pt"]}'), /expected __metadata__ to be an object of strings, received \["pt"\]/, TypeError],
  ['__metadata__ with a number value', () => file('{"__metadata__":{"epoch":3}}'), /expected __metadata__ "epoch" to be a string, received 3/, TypeError],
  ['a header that is an array', () => file('[]'), /expected the header to be a JSON object, received \[\]/, TypeError],
  ['a header that is null', () => file('null'), /expected the header to be a JSON object, received null/, TypeError],
  ['a tensor entry that is a number', () => file('{"a":1}'), /expected tensor "a" to be an object \{ dtype, shape, data_offsets \}, received 1/, TypeError],
  ['a header that is not UTF-8', () => file(Buffer.concat([Buffer.from('{"a'), Buffer.from([0xff]), Buffer.from(`":${f32([1], 0, 4)}}`)]), 4), /header is not valid UTF-8/, RangeError],
  ['a header that is not JSON', () => file('{"a":'), /header is not JSON/, RangeError],
  ['a header length above 100,000,000 bytes', () => file(Buffer.alloc(0)).fill(0xff, 0, 4).fill(0, 4, 8), /header length 4294967295 exceeds the maximum of 100000000 bytes/, RangeError],
  ['a header length beyond the file', () => file('{}').fill(0x40, 0, 1), /header length 64 exceeds the 2 bytes after the length field \(truncated\?\)/, RangeError],
  ['fewer than 8 bytes', () => new Uint8Array(3), /3 bytes, shorter than the 8-byte header length/, RangeError],
  ['a dtype other than F32', () => file('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', 4), /tensor "a" has dtype "F16"; only F32 is supported/, RangeError],
  ['an unknown dtype', () => file('{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,4]}}', 4), /expected tensor "a" dtype to be a safetensors dtype \(BOOL, .*F32.*\), received "Q4"/, RangeError],
];

for (const [what, make, message, instanceOf] of rejected) {
  test(`decodeSafetensors rejects ${what}`, (t) => {
    t.throws(() => decodeSafetensors(make(), 'bad.safetensors'), { instanceOf, message });
  });
}

test('a header length is checked against the maximum before the header is decoded', (t) => {
  // 100,000,001 bytes of a valid header: rejected for its length, never parsed.
  const big = Buffer.alloc(8 + 100_000_001, 0x20);
  big.writeBigUInt64LE(100_000_001n, 0);
  big.write('{}', 8);
  t.throws(() => decodeSafetensors(big, 'big.safetensors'), { instanceOf: RangeError, message: /big\.safetensors: .*header length 100000001 exceeds the maximum of 100000000 bytes/ });
});

const dangerous = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

test('tensors named __proto__, constructor or toString round-trip as data and leave prototypes alone', (t) => {
  const sd: Record<string, StateEntry> = Object.fromEntries(dangerous.map((name, i) => [name, entry([i, i + 0.5])]));
  const bytes = encodeSafetensors(sd, { format: 'pt' });
  const { tensors } = decodeSafetensors(bytes, 'proto.safetensors');
  t.deepEqual(Object.keys(tensors).sort(), [...dangerous].sort());
  dangerous.forEach((name, i) => {
    t.true(Object.hasOwn(tensors, name), name);
    t.deepEqual([...tensors[name]!.data], [i, i + 0.5], name);
  });
  const proto = Object.getPrototypeOf(tensors);
  t.true(proto === null || proto === Object.prototype);
  t.is(({} as Record<string, unknown>).data, undefined);
  t.is(Object.getPrototypeOf({}), Object.prototype);
});

test('a hand-written file with a "__proto__" tensor does not replace the result\'s prototype', (t) => {
  const bytes = file(`{"__proto__":${f32([1], 0, 4)},"x":${f32([1], 4, 8)}}`, new Uint8Array(new Float32Array([7, 8]).buffer));
  const { tensors } = decodeSafetensors(bytes, 'proto.safetensors');
  t.true(Object.hasOwn(tensors, '__proto__'));
  t.deepEqual([...tensors['__proto__']!.data], [7]);
  const proto = Object.getPrototypeOf(tensors);
  t.true(proto === null || proto === Object.prototype);
  t.deepEqual(Object.keys(tensors).sort(), ['__proto__', 'x']);
});

test('metadata keys such as __proto__ and toString are plain strings after a round trip', (t) => {
  const metadata: Record<string, string> = Object.fromEntries([['__proto__', 'a'], ['toString', 'b'], ['format', 'pt']]);
  const out = decodeSafetensors(encodeSafetensors({}, metadata), 'meta.safetensors').metadata;
  t.is(out['__proto__'], 'a');
  t.is(out.toString, 'b' as unknown);
  t.true(Object.hasOwn(out, '__proto__'));
  const proto = Object.getPrototypeOf(out);
  t.true(proto === null || proto === Object.prototype);
});

test('encodeSafetensors rejects a shape that does not hold the data and the reserved name __metadata__', (t) => {
  t.throws(() => encodeSafetensors({ a: entry([1, 2, 3], [2]) }), { instanceOf: RangeError, message: /encodeSafetensors: expected "a" shape \[2\] to hold 3 elements/ });
  t.throws(() => encodeSafetensors({ a: { data: new Float32Array(2), shape: 'x' as never } }), { instanceOf: TypeError, message: /expected "a" shape to be an array of integers >= 0, received "x"/ });
  t.throws(() => encodeSafetensors({ __metadata__: entry([1]) }), { instanceOf: RangeError, message: /"__metadata__" is reserved/ });
  t.throws(() => encodeSafetensors({}, { a: 1 as never }), { instanceOf: TypeError, message: /expected metadata "a" to be a string, received 1/ });
});
