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

export interface NumberRule {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive upper bound. */
  below?: number;
  integer?: boolean;
}

function ruleText(r: NumberRule): string {
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
const FLOAT32_MAX = 3.4028234663852886e38;

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

/** Checks a `[beta1, beta2]` pair with each beta in [0, 1). */
export function checkBetas(ctx: string, name: string, v: unknown): readonly [number, number] {
  if (!Array.isArray(v) || v.length !== 2) {
    throw new TypeError(`${ctx}: expected ${name} to be a pair [beta1, beta2], received ${describeValue(v)}`);
  }
  checkNumber(ctx, `${name}[0]`, v[0], { min: 0, below: 1 });
  checkNumber(ctx, `${name}[1]`, v[1], { min: 0, below: 1 });
  return v as [number, number];
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
