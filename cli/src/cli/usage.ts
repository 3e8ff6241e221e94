/**
 * Usage errors of the `ferroptim` command, the one parser of its number flags, and the check of
 * the folders its commands write to (`train`, `tune`, the demos).
 * @module
 */
import { accessSync, constants as fsConstants, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from 'ferroptim';

/** A usage error: printed with a pointer to the command's help, exit code 2. */
export class UsageError extends Error {}

/** The rule a number flag must keep. */
export interface FlagRule {
  integer?: boolean;
  min?: number;
  above?: number;
}

/** Flag `--name`'s value `v` as a number keeping `rule`, or undefined when the flag was not given. */
export function num(name: string, v: unknown, rule: FlagRule = {}): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const n = Number(s);
  const ok = s.trim() !== '' && Number.isFinite(n) && (!rule.integer || Number.isInteger(n)) && (rule.min === undefined || n >= rule.min) && (rule.above === undefined || n > rule.above);
  if (!ok) {
    const what = `${rule.integer ? 'an integer' : 'a number'}${rule.min !== undefined ? ` >= ${rule.min}` : ''}${rule.above !== undefined ? ` > ${rule.above}` : ''}`;
    throw new UsageError(`--${name} expects ${what}, received ${JSON.stringify(s)}`);
  }
  return n;
}

/**
 * Runs `f`; a TypeError or RangeError from it (the library's option errors) becomes a usage error
 * naming the flag it came from, its message passed through `rename`.
 */
export function asUsage<T>(flag: string, f: () => T, rename: (message: string) => string = (m) => m): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw new UsageError(`${flag}: ${rename(e.message)}`);
    throw e;
  }
}

/** A spec's message without parseOptimizerSpec's prefix: the flag already says where it came from. */
export const withoutSpecPrefix = (m: string): string => m.replace(/^parseOptimizerSpec: /, '');

/**
 * Creates `dir` if needed and proves it writable with a probe file, before any work: a read-only
 * file system or a file in the way is a clear runtime error at once, not after training.
 */
export function checkWritableDir(dir: string, flag = '--out'): void {
  const probe = join(dir, `.ferroptim-write-test-${process.pid}`);
  try {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      // A recursive mkdir on a read-only file system reports ENOENT; the nearest folder that
      // exists tells the real reason (EROFS, EACCES, ENOTDIR).
      let parent = resolve(dir);
      while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
      if (!statSync(parent).isDirectory()) throw Object.assign(new Error(`${parent} is not a folder`), { code: 'ENOTDIR' });
      accessSync(parent, fsConstants.W_OK);
      throw e;
    }
    accessSync(dir, fsConstants.W_OK);
    writeFileAtomic(probe, '');
    rmSync(probe, { force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'EROFS' ? 'the file system is read-only' : (e as Error).message.replace(/^[A-Z]+: /, '');
    throw new Error(`cannot write to ${flag} ${dir}${code ? ` (${code})` : ''}: ${reason}`);
  }
}
