/**
 * Files and names are untrusted input: only regular files of bounded size are read (a FIFO or
 * /dev/zero is an error at once, never a hang or an endless read), gzip inflates no further than
 * the IDX header announces, and names from data (`__proto__`, `constructor`) are plain keys.
 *
 * Cases that would hang or read without end under a regression run in a child process with a
 * timeout, so they fail instead of stalling the suite.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readRegularFile } from '../ts/io/read-bounded.js';
import { loadMnist } from '../ts/data/mnist.js';
import { Module, type Tensor } from '../ts/nn/module.js';
import { encodeSafetensors, loadWeights } from '../ts/nn/safetensors.js';
import { Parameter } from '../ts/tensor.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-untrusted-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));
const root = join(import.meta.dirname, '..');
const hasFifo = process.platform !== 'win32' && spawnSync('mkfifo', ['--version']).status === 0;

function idxHeader(magic: number, dims: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

function idxImages(n: number): Buffer {
  return Buffer.concat([idxHeader(0x803, [n, 28, 28]), Buffer.alloc(n * 784, 9)]);
}

function idxLabels(n: number): Buffer {
  return Buffer.concat([idxHeader(0x801, [n]), Buffer.from(Array.from({ length: n }, (_, i) => i % 10))]);
}

function makeDir(name: string, files: Record<string, Buffer>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, b] of Object.entries(files)) writeFileSync(join(dir, f), b);
  return dir;
}

/**
 * A gzip bomb: a valid header announcing 10 images of 28x28, then `mib` MiB of zeros. Built from
 * repeated gzip members (a valid multi-member stream), so the test never holds the inflated bytes.
 */
function gzipBomb(mib: number): Buffer {
  const zeros = gzipSync(Buffer.alloc(1 << 20));
  return Buffer.concat([gzipSync(idxHeader(0x803, [10, 28, 28])), ...Array.from({ length: mib }, () => zeros)]);
}

/** Runs `body` (an ES module snippet, run from the repository root) in a child with a timeout; returns its JSON output. */
function inChild(body: string): { results?: unknown; status: number | null; signal: string | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', '@oxc-node/core/register', '--input-type=module', '-e', body], { cwd: root, encoding: 'utf8', timeout: 15_000 });
  const line = r.stdout.trim().split('\n').at(-1);
  return { results: line ? JSON.parse(line) : undefined, status: r.status, signal: r.signal, stderr: r.stderr };
}

/** A child snippet that runs each call and prints [{ name, message }] (or 'ok') as one JSON line. */
function attempts(imports: string, calls: string[]): string {
  return `${imports}
const out = [];
for (const f of [${calls.map((c) => `() => ${c}`).join(', ')}]) {
  try { f(); out.push('ok'); } catch (e) { out.push({ name: e.name, message: e.message }); }
}
console.log(JSON.stringify(out));`;
}

// readRegularFile ---------------------------------------------------------------------------

test('readRegularFile reads a regular file of at most maxBytes bytes, whole', (t) => {
  const p = join(tmp, 'hundred.bin');
  writeFileSync(p, Buffer.alloc(100, 3));
  t.deepEqual(readRegularFile(p, 100, 'test'), Buffer.alloc(100, 3));
  t.deepEqual(readRegularFile(join(tmp, 'hundred.bin'), 1e9, 'test').length, 100);
  const empty = join(tmp, 'empty.bin');
  writeFileSync(empty, '');
  t.is(readRegularFile(empty, 0, 'test').length, 0);
});

test('readRegularFile rejects a file above maxBytes before allocating it (a sparse 8 GiB file)', (t) => {
  const p = join(tmp, 'huge-sparse.bin');
  writeFileSync(p, '');
  truncateSync(p, 8 * 2 ** 30);
  t.throws(() => readRegularFile(p, 2 ** 31, 'test'), { instanceOf: RangeError, message: /test: .*huge-sparse\.bin is too large: 8589934592 bytes, at most 2147483648 accepted/ });
  const small = join(tmp, 'hundred.bin');
  writeFileSync(small, Buffer.alloc(100));
  t.throws(() => readRegularFile(small, 99, 'test'), { instanceOf: RangeError, message: /hundred\.bin is too large: 100 bytes, at most 99 accepted/ });
});

test('readRegularFile rejects a directory and a missing file, naming the path', (t) => {
  t.throws(() => readRegularFile(tmp, 1e6, 'test'), { instanceOf: TypeError, message: /test: expected .*ferroptim-untrusted-.* to be a regular file, received a directory/ });
  t.throws(() => readRegularFile(join(tmp, 'nope'), 1e6, 'test'), { instanceOf: Error, message: /test: cannot read .*nope: ENOENT/ });
  t.throws(() => readRegularFile(join(tmp, 'nope'), -1, 'test'), { instanceOf: RangeError, message: /expected maxBytes to be an integer >= 0, received -1/ });
});

test('a FIFO is rejected at once by readRegularFile, loadWeights and loadMnist, never waited on', (t) => {
  if (!hasFifo) return t.pass('no mkfifo on this platform');
  const dir = join(tmp, 'fifo');
  mkdirSync(dir, { recursive: true });
  const fifo = join(dir, 'train-images-idx3-ubyte');
  t.is(spawnSync('mkfifo', [fifo]).status, 0);
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxLabels(3));
  const r = inChild(
    attempts(
      `import { readRegularFile } from './ts/io/read-bounded.js';
import { loadMnist } from './ts/data/mnist.js';
import { loadWeights } from './ts/nn/safetensors.js';
import { mlp } from './ts/nn/presets.js';`,
      [`readRegularFile(${JSON.stringify(fifo)}, 1e6, 'test')`, `loadWeights(mlp(), ${JSON.stringify(fifo)})`, `loadMnist({ dir: ${JSON.stringify(dir)} })`],
    ),
  );
  t.is(r.signal, null, `the child hung and was killed: ${r.stderr}`);
  t.deepEqual(r.results, [
    { name: 'TypeError', message: `test: expected ${fifo} to be a regular file, received a FIFO` },
    { name: 'TypeError', message: `loadWeights: expected ${fifo} to be a regular file, received a FIFO` },
    { name: 'TypeError', message: `loadMnist: expected ${fifo} to be a regular file, received a FIFO` },
  ]);
});

test('/dev/zero and a directory are rejected by loadWeights and loadMnist, not read without end', (t) => {
  if (process.platform === 'win32') return t.pass('no /dev/zero on this platform');
  const dir = join(tmp, 'devzero');
  mkdirSync(dir, { recursive: true });
  symlinkSync('/dev/zero', join(dir, 'train-images-idx3-ubyte'));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxLabels(3));
  const dirAsFile = join(tmp, 'dir-as-file');
  mkdirSync(join(dirAsFile, 't10k-images-idx3-ubyte'), { recursive: true });
  writeFileSync(join(dirAsFile, 't10k-labels-idx1-ubyte'), idxLabels(3));
  const r = inChild(
    attempts(
      `import { loadMnist } from './ts/data/mnist.js';
import { loadWeights } from './ts/nn/safetensors.js';
import { mlp } from './ts/nn/presets.js';`,
      ["loadWeights(mlp(), '/dev/zero')", `loadMnist({ dir: ${JSON.stringify(dir)} })`, `loadMnist({ dir: ${JSON.stringify(dirAsFile)}, split: 'test' })`],
    ),
  );
  t.is(r.signal, null, `the child hung and was killed: ${r.stderr}`);
  t.deepEqual(r.results, [
    { name: 'TypeError', message: 'loadWeights: expected /dev/zero to be a regular file, received a character device' },
    { name: 'TypeError', message: `loadMnist: expected ${join(dir, 'train-images-idx3-ubyte')} to be a regular file, received a character device` },
    { name: 'TypeError', message: `loadMnist: expected ${join(dirAsFile, 't10k-images-idx3-ubyte')} to be a regular file, received a directory` },
  ]);
});

test('loadWeights still loads a regular safetensors file', (t) => {
  const m = new Named(['weight']);
  const p = join(tmp, 'w.safetensors');
  writeFileSync(p, encodeSafetensors({ weight: { data: Float32Array.from([1, 2]), shape: [2] } }));
  loadWeights(m, p);
  t.deepEqual([...m.parameters()[0]!.data], [1, 2]);
});

// gzipped IDX: inflation bounded by the header ----------------------------------------------

test('a gzip bomb (10 announced images, 256 MiB of zeros) is a RangeError naming the announced size, inflated no further', (t) => {
  const bomb = gzipBomb(256);
  t.true(bomb.length < 1 << 20, `the bomb is ${bomb.length} bytes`);
  const dir = makeDir('bomb', { 'train-images-idx3-ubyte.gz': bomb, 'train-labels-idx1-ubyte': idxLabels(10) });
  const before = process.memoryUsage().rss;
  const start = performance.now();
  t.throws(() => loadMnist({ dir }), {
    instanceOf: RangeError,
    message: /loadMnist: .*train-images-idx3-ubyte\.gz inflates to more than the 7856 bytes its IDX header announces \(10x28x28\)/,
  });
  const grown = process.memoryUsage().rss - before;
  t.log(`rss grew by ${(grown / 2 ** 20).toFixed(1)} MiB in ${(performance.now() - start).toFixed(0)} ms`);
  t.true(grown < 64 * 2 ** 20, `rss grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
  t.true(performance.now() - start < 5000);
});

test('image and label counts are compared before a gzipped body is inflated', (t) => {
  const dir = makeDir('bomb-counts', { 'train-images-idx3-ubyte.gz': gzipBomb(64), 'train-labels-idx1-ubyte': idxLabels(3) });
  t.throws(() => loadMnist({ dir }), { instanceOf: RangeError, message: /holds 10 images but .*train-labels-idx1-ubyte holds 3 labels/ });
});

test('a gzipped header announcing more than 2^31 bytes is a RangeError before inflating', (t) => {
  const gz = gzipSync(Buffer.concat([idxHeader(0x803, [0xffffffff, 28, 28]), Buffer.alloc(784)]));
  const dir = makeDir('announce-huge', { 't10k-images-idx3-ubyte.gz': gz, 't10k-labels-idx1-ubyte': idxLabels(1) });
  t.throws(() => loadMnist({ dir, split: 'test' }), {
    instanceOf: RangeError,
    message: /t10k-images-idx3-ubyte\.gz announces 4294967295x28x28 \(3367254359280 bytes\), more than the 2147483648 accepted/,
  });
});

test('a header spread over many gzip members is still found', (t) => {
  const img = idxImages(2);
  // One member per byte: the header arrives a byte at a time.
  const gz = Buffer.concat([...img.subarray(0, 16)].map((b) => gzipSync(Buffer.from([b]))).concat([gzipSync(img.subarray(16))]));
  const dir = makeDir('members', { 'train-images-idx3-ubyte.gz': gz, 'train-labels-idx1-ubyte.gz': gzipSync(idxLabels(2)) });
  const d = loadMnist({ dir });
  t.is(d.length, 2);
  t.deepEqual(Buffer.from(d.pixels), Buffer.alloc(2 * 784, 9));
});

test('100 KB of empty gzip members before a bomb: the header is found and inflation stays bounded', (t) => {
  const empty = gzipSync(Buffer.alloc(0));
  const gz = Buffer.concat([...Array.from({ length: 5000 }, () => empty), gzipBomb(64)]);
  const dir = makeDir('padded-bomb', { 'train-images-idx3-ubyte.gz': gz, 'train-labels-idx1-ubyte': idxLabels(10) });
  const before = process.memoryUsage().rss;
  t.throws(() => loadMnist({ dir }), { instanceOf: RangeError, message: /inflates to more than the 7856 bytes its IDX header announces/ });
  const grown = process.memoryUsage().rss - before;
  t.true(grown < 64 * 2 ** 20, `rss grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
});

test('a gzipped file with bytes beyond its announced size, or fewer, is a RangeError naming it', (t) => {
  const longer = makeDir('gz-long', { 'train-images-idx3-ubyte.gz': gzipSync(Buffer.concat([idxImages(3), Buffer.alloc(1)])), 'train-labels-idx1-ubyte': idxLabels(3) });
  t.throws(() => loadMnist({ dir: longer }), { instanceOf: RangeError, message: /train-images-idx3-ubyte\.gz inflates to more than the 2368 bytes its IDX header announces \(3x28x28\)/ });
  const shorter = makeDir('gz-short', { 'train-images-idx3-ubyte.gz': gzipSync(idxImages(3).subarray(0, 2000)), 'train-labels-idx1-ubyte': idxLabels(3) });
  t.throws(() => loadMnist({ dir: shorter }), { instanceOf: RangeError, message: /train-images-idx3-ubyte\.gz is truncated: its header promises 3x28x28 \(2368 bytes\), the file has 2000/ });
});

test('a raw IDX file above 2^31 + header bytes is rejected before it is read (a sparse file)', (t) => {
  const dir = makeDir('raw-huge', { 'train-labels-idx1-ubyte': idxLabels(3) });
  const p = join(dir, 'train-images-idx3-ubyte');
  writeFileSync(p, idxHeader(0x803, [3, 28, 28]));
  truncateSync(p, 3 * 2 ** 30);
  t.throws(() => loadMnist({ dir }), { instanceOf: RangeError, message: /loadMnist: .*train-images-idx3-ubyte is too large: 3221225472 bytes, at most 2147484672 accepted/ });
});

// Names from data are keys, never prototypes --------------------------------------------------

/** A module whose parameters have the given names. */
class Named extends Module {
  constructor(names: string[]) {
    super();
    names.forEach((n, i) => this.registerParameter(n, new Parameter(Float32Array.from([i, i + 0.5]))));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
  backward(g: Tensor): Tensor {
    return g;
  }
}

const dangerous = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

test('stateDict keeps parameters named __proto__, constructor or toString as own keys', (t) => {
  const sd = new Named(dangerous).stateDict();
  t.deepEqual(Object.keys(sd), dangerous);
  dangerous.forEach((name, i) => t.deepEqual([...sd[name]!.data], [i, i + 0.5], name));
  const proto = Object.getPrototypeOf(sd);
  t.true(proto === null || proto === Object.prototype);
  t.is(Object.getPrototypeOf({}), Object.prototype);
});

test('loadStateDict round-trips such names and reports an inherited name as missing, not as a function', (t) => {
  const a = new Named(dangerous);
  const b = new Named(dangerous);
  for (const p of b.parameters()) p.data.fill(0);
  b.loadStateDict(a.stateDict());
  t.deepEqual(b.parameters().map((p) => [...p.data]), a.parameters().map((p) => [...p.data]));
  t.throws(() => new Named(['toString']).loadStateDict({}), { instanceOf: RangeError, message: /Named\.loadStateDict: missing "toString"/ });
  t.notThrows(() => new Named(['constructor']).loadStateDict({}, false));
});

test('a safetensors file with a "__proto__" tensor loads into a model with that parameter', (t) => {
  const p = join(tmp, 'proto.safetensors');
  writeFileSync(p, encodeSafetensors(new Named(['__proto__', 'x']).stateDict()));
  const m = new Named(['__proto__', 'x']);
  for (const q of m.parameters()) q.data.fill(0);
  loadWeights(m, p);
  t.deepEqual(m.parameters().map((q) => [...q.data]), [[0, 0.5], [1, 1.5]]);
});
