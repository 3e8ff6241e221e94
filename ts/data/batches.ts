/**
 * Mini-batches of an {@link ImageDataset}, shuffled with a seeded generator, pixels scaled to [0, 1].
 * @module
 */
import { Generator as RandomGenerator } from '../nn/generator.js';
import type { Tensor } from '../nn/module.js';
import { checkBoolean, checkKnownKeys, checkNumber, checkOptions, describeValue, option } from '../validate.js';
import { checkImageDataset, type ImageDataset } from './mnist.js';
import { nnNative } from '../native.js';

/**
 * One mini-batch. The buffers are reused by the next batch of the same iterator.
 * @group Data and I/O
 */
export interface Batch {
  /** Images `[B, C, H, W]` in [0, 1] (byte / 255, as torchvision's ToTensor). */
  x: Tensor;
  /** Labels, B of them. */
  y: Int32Array;
  /** Dataset indices of the batch's examples. */
  indices: Uint32Array;
}

/**
 * Options of {@link batches}.
 * @group Data and I/O
 */
export interface BatchesOptions {
  /** Images per batch (an integer >= 1); the last batch may be smaller unless `dropLast`. Required. */
  batchSize: number;
  /** Draw a fresh permutation from `generator` (as PyTorch's RandomSampler). @defaultValue false */
  shuffle?: boolean;
  /** The generator for shuffling (required when shuffle is true). */
  generator?: RandomGenerator;
  /** Drop the last incomplete batch. @defaultValue false */
  dropLast?: boolean;
}

/**
 * The number of batches one pass of {@link batches} yields over `length` examples: the last
 * partial batch counts unless `dropLast`.
 * @example
 * ```ts
 * numBatches(60000, 128); // 469
 * numBatches(60000, 128, true); // 468
 * ```
 * @throws TypeError or RangeError unless `length` is an integer >= 0, `batchSize` an integer >= 1
 * and `dropLast` a boolean.
 * @group Data and I/O
 */
export function numBatches(length: number, batchSize: number, dropLast = false): number {
  checkNumber('numBatches', 'length', length, { integer: true, min: 0 });
  checkNumber('numBatches', 'batchSize', batchSize, { integer: true, min: 1 });
  checkBoolean('numBatches', 'dropLast', dropLast);
  return dropLast ? Math.floor(length / batchSize) : Math.ceil(length / batchSize);
}

/**
 * Iterates over a dataset in mini-batches, as a PyTorch DataLoader with `shuffle` and `drop_last`.
 * The arguments are checked when `batches` is called; the permutation is drawn when iteration
 * starts, so each pass is one epoch.
 * @example
 * ```ts
 * for (const { x, y } of batches(train, { batchSize: 128, shuffle: true, generator: new RandomGenerator(0) })) { ... }
 * ```
 * @throws TypeError or RangeError for a malformed dataset or bad options (when called, before
 * iteration).
 * @group Data and I/O
 */
export function batches(data: ImageDataset, options: BatchesOptions): Generator<Batch, void, undefined> {
  const ds = checkImageDataset('batches', 'data', data);
  const o = checkOptions('batches', options);
  checkKnownKeys('batches', o, ['batchSize', 'shuffle', 'generator', 'dropLast']);
  const bs = checkNumber('batches', 'batchSize', o.batchSize, { integer: true, min: 1 });
  const shuffle = checkBoolean('batches', 'shuffle', option(o.shuffle, false));
  if (o.generator !== undefined && !(o.generator instanceof RandomGenerator)) throw new TypeError(`batches: expected generator to be a Generator, received ${describeValue(o.generator)}`);
  if (shuffle && o.generator === undefined) throw new TypeError(`batches: expected generator to be a Generator when shuffle is true, received ${describeValue(o.generator)}`);
  const dropLast = checkBoolean('batches', 'dropLast', option(o.dropLast, false));
  return iterate(ds, bs, shuffle ? (o.generator as RandomGenerator) : null, dropLast);
}

function* iterate(data: ImageDataset, bs: number, generator: RandomGenerator | null, dropLast: boolean): Generator<Batch, void, undefined> {
  const n = data.length;
  const order = generator ? generator.permutation(n) : Uint32Array.from({ length: n }, (_, i) => i);
  const [c, h, w] = data.imageShape;
  const size = c * h * w;
  const pixels = data.pixels.subarray(0, n * size);
  // A batch size above the dataset's length (allowed, as in PyTorch) is one batch of all of it.
  const cap = Math.min(bs, n);
  const full = { x: new Float32Array(cap * size), y: new Int32Array(cap) };
  const count = numBatches(n, bs, dropLast);
  for (let b = 0; b < count; b++) {
    const start = b * bs;
    const m = Math.min(bs, n - start);
    const x = m === cap ? full.x : full.x.subarray(0, m * size);
    const y = m === cap ? full.y : full.y.subarray(0, m);
    const idx = order.subarray(start, start + m);
    // Natively (each byte / 255, the f32 nearest to it): in a JavaScript loop this took 35 % of
    // an MLP epoch.
    nnNative.gatherScaled(pixels, idx, size, x);
    for (let i = 0; i < m; i++) y[i] = data.labels[idx[i]!]!;
    yield { x: { data: x, shape: [m, c, h, w] }, y, indices: idx };
  }
}
