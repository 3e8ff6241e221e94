/**
 * Reading files that are untrusted input: only regular files, only up to a stated size.
 * @module
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { checkNumber, checkOptions, checkPath } from '../validate.js';

/** Options of {@link readRegularFile}. */
export interface ReadRegularFileOptions {
  /** Refuse a symbolic link instead of following it. @defaultValue false */
  noFollow?: boolean;
}

/**
 * Reads a whole regular file of at most `maxBytes` bytes. The size is checked before anything is
 * allocated, and the file is opened non-blocking, so a FIFO, a device (`/dev/zero`, `/dev/stdin`),
 * a socket or a directory is rejected at once instead of hanging or reading without end.
 *
 * @remarks Steps: `open(path, O_RDONLY | O_NONBLOCK)`, `fstat` on the open descriptor (so the
 * checked file is the one read, whatever the path points to later), reject anything that is not a
 * regular file, reject `size > maxBytes`, then read exactly `size` bytes. A file that shrinks while
 * it is read is an error; bytes appended after the `fstat` are not read.
 *
 * @param path - the file; named in every error message.
 * @param maxBytes - the largest size accepted, an integer >= 0.
 * @param ctx - the caller, prefixed to error messages (`loadMnist`, `loadCheckpoint`).
 * @param options - `noFollow`: refuse a symbolic link (for a file named by another file, which
 * must stay inside its folder).
 * @example
 * ```ts
 * const bytes = readRegularFile('model.safetensors', 2 ** 31, 'loadWeights');
 * ```
 * @throws Error (with the system error as `cause`) if the file cannot be opened or read;
 * TypeError if it is not a regular file, or if `path` is not a non-empty string; RangeError if it
 * is larger than `maxBytes` or shrank while being read, if `maxBytes` is not an integer >= 0, or
 * if `path` holds a NUL character.
 */
export function readRegularFile(path: string, maxBytes: number, ctx: string, options: ReadRegularFileOptions = {}): Buffer {
  checkPath(ctx, 'path', path);
  const o = checkOptions(ctx, options);
  checkNumber(ctx, 'maxBytes', maxBytes, { integer: true, min: 0 });
  // O_NONBLOCK keeps open() from waiting for a FIFO's writer; Windows has no such flag (nor FIFOs).
  // O_NOFOLLOW makes open() fail on a symbolic link (ELOOP) instead of reading what it points to.
  const flags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (o.noFollow ? (constants.O_NOFOLLOW ?? 0) : 0);
  const cannotRead = (e: unknown) => new Error(`${ctx}: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (e) {
    if (o.noFollow && (e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new TypeError(`${ctx}: expected ${path} to be a regular file, received a symbolic link`);
    }
    throw cannotRead(e);
  }
  try {
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch (e) {
      throw cannotRead(e);
    }
    if (!st.isFile()) throw new TypeError(`${ctx}: expected ${path} to be a regular file, received ${fileKind(st)}`);
    const size = st.size;
    if (size > maxBytes) throw new RangeError(`${ctx}: ${path} is too large: ${size} bytes, at most ${maxBytes} accepted`);
    const out = Buffer.allocUnsafe(size);
    let pos = 0;
    while (pos < size) {
      let n: number;
      try {
        // One read is at most 1 GiB: Node takes the length as an int32.
        n = readSync(fd, out, pos, Math.min(size - pos, 2 ** 30), pos);
      } catch (e) {
        throw cannotRead(e);
      }
      if (n === 0) throw new RangeError(`${ctx}: ${path} shrank while being read: ${pos} of ${size} bytes`);
      pos += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}
