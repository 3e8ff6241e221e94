/**
 * Usage errors of the `ferroptim` command and the one parser of its number flags.
 * @module
 */

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
