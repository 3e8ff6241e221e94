/**
 * Argument checks shared by every class. Messages have one shape:
 * `AdamW: expected lr to be a finite number >= 0, received -1`.
 * @module
 */

/** Formats a received value for an error message. */
export function describeValue(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || v === undefined || typeof v === 'boolean') return String(v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) {
    return v.length <= 8 ? `[${v.map(describeValue).join(', ')}]` : `an array of length ${v.length}`;
  }
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${(v as unknown as ArrayLike<number>).length ?? v.byteLength}`;
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/**
 * The valid values of a number: bounds, each optional, and whether it must be an integer.
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface NumberRule {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive upper bound. */
  below?: number;
  /** Whether the number must be an integer. */
  integer?: boolean;
}

/** A rule as text: `a finite number >= 0 and < 1`, `an integer >= 1`. */
export function ruleText(r: NumberRule): string {
  const parts: string[] = [];
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.above !== undefined) parts.push(`> ${r.above}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  if (r.below !== undefined) parts.push(`< ${r.below}`);
  const kind = r.integer ? 'an integer' : 'a finite number';
  return parts.length ? `${kind} ${parts.join(' and ')}` : kind;
}

/** Checks that `v` is a finite number within `rule`; returns it. */
export function checkNumber(ctx: string, name: string, v: unknown, rule: NumberRule = {}): number {
  const expected = ruleText(rule);
  if (typeof v !== 'number') throw new TypeError(`${ctx}: expected ${name} to be ${expected}, received ${describeValue(v)}`);
  const ok =
    Number.isFinite(v) &&
    (!rule.integer || Number.isInteger(v)) &&
    (rule.min === undefined || v >= rule.min) &&
    (rule.above === undefined || v > rule.above) &&
    (rule.max === undefined || v <= rule.max) &&
    (rule.below === undefined || v < rule.below);
  if (!ok) throw new RangeError(`${ctx}: expected ${name} to be ${expected}, received ${describeValue(v)}`);
  return v;
}

/** The largest finite float32, 3.4028234663852886e38. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Checks that the number `x` survives the conversion to float32: a finite value too large for
 * float32 (it would silently become an infinity) is rejected; NaN and the infinities pass.
 */
export function checkFloat32(ctx: string, name: string, x: number): number {
  if (Number.isFinite(x) && !Number.isFinite(Math.fround(x))) {
    throw new RangeError(`${ctx}: expected ${name} to be a float32 value (magnitude at most ${FLOAT32_MAX}), received ${describeValue(x)}`);
  }
  return x;
}

/** Checks that `v` is a boolean; returns it. */
export function checkBoolean(ctx: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${ctx}: expected ${name} to be a boolean, received ${describeValue(v)}`);
  return v;
}

/** Checks that `v` is a plain object (or undefined, which becomes `{}`). */
export function checkOptions(ctx: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`${ctx}: expected an options object, received ${describeValue(v)}`);
  }
  return v as Record<string, unknown>;
}

/** Rejects option keys that are not in `known`, so a typo never passes silently. */
export function checkKnownKeys(ctx: string, options: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) {
      throw new TypeError(`${ctx}: unknown option ${JSON.stringify(k)} (expected one of ${known.join(', ')})`);
    }
  }
}

/**
 * The most elements a tensor, a layer's weights or a demo's arrays may hold: 2^31 − 1. Sizes are
 * checked against it before anything is allocated, so a huge size is a RangeError naming it, not
 * an allocation failure.
 */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** Whether `v` is a plain object (its prototype is Object.prototype or null): not an array, a Map, a typed array or a class instance. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks that `v` is a file system path: a non-empty string without NUL characters (which no
 * file system accepts); returns it. Nothing else (a Buffer, a URL) is taken.
 */
export function checkPath(ctx: string, name: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`${ctx}: expected ${name} to be a string, received ${describeValue(v)}`);
  if (v === '') throw new RangeError(`${ctx}: expected ${name} to be a non-empty string, received ""`);
  if (v.includes('\0')) throw new RangeError(`${ctx}: expected ${name} to be a path without NUL characters, received ${describeValue(v)}`);
  return v;
}

/** Checks that `v` is a string; returns it. */
export function checkString(ctx: string, name: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`${ctx}: expected ${name} to be a string, received ${describeValue(v)}`);
  return v;
}

/** Checks that `v` is a function; returns it. */
export function checkFunction(ctx: string, name: string, v: unknown): (...args: never[]) => unknown {
  if (typeof v !== 'function') throw new TypeError(`${ctx}: expected ${name} to be a function, received ${describeValue(v)}`);
  return v as (...args: never[]) => unknown;
}

/** Checks that `v` is a plain object (`what` describes it in the message); returns it. */
export function checkRecord(ctx: string, name: string, v: unknown, what = 'an object'): Record<string, unknown> {
  if (!isPlainObject(v)) throw new TypeError(`${ctx}: expected ${name} to be ${what}, received ${describeValue(v)}`);
  return v;
}

/** Checks that `v` is one of `allowed` (strings); returns it. */
export function checkOneOf<T extends string>(ctx: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) {
    const list = allowed.map((a) => `'${a}'`);
    const text = list.length === 2 ? `${list[0]} or ${list[1]}` : `one of ${list.join(', ')}`;
    throw new RangeError(`${ctx}: expected ${name} to be ${text}, received ${describeValue(v)}`);
  }
  return v as T;
}

/** Rejects keys of the object `name` that are not in `known` (`unknown key "k" in name`). */
export function checkKnownFields(ctx: string, name: string, o: object, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new TypeError(`${ctx}: unknown key ${JSON.stringify(k)} in ${name} (expected one of ${known.join(', ')})`);
  }
}

/**
 * Checks that `v` is a list of numbers: an array of numbers (NaN and ±Infinity included) or a
 * typed array of numbers; returns it.
 */
export function checkNumbers(ctx: string, name: string, v: unknown): ArrayLike<number> {
  const typed = ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);
  if (!typed && !Array.isArray(v)) throw new TypeError(`${ctx}: expected ${name} to be an array of numbers or a Float64Array, received ${describeValue(v)}`);
  if (!typed) {
    const i = (v as unknown[]).findIndex((x) => typeof x !== 'number');
    if (i >= 0) throw new TypeError(`${ctx}: expected ${name}[${i}] to be a number, received ${describeValue((v as unknown[])[i])}`);
  }
  return v as ArrayLike<number>;
}

/** Checks that `count` (the product of the sizes named by `what`) is at most {@link MAX_ELEMENTS}. */
export function checkElementCount(ctx: string, what: string, count: number, received: string): void {
  if (!(count <= MAX_ELEMENTS)) throw new RangeError(`${ctx}: expected ${what} to be at most ${MAX_ELEMENTS}, received ${received}`);
}

/** An option's value, or `dflt` when it is left out (undefined). Null is a value, not a default: the option's check rejects it. */
export function option<T>(v: T | null | undefined, dflt: T): T {
  return v === undefined ? dflt : (v as T);
}

