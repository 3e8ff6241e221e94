/**
 * Search-space distributions, as Optuna defines them: their internal (numeric) representation,
 * their JSON form in storages (`{"name": "FloatDistribution", "attributes": {...}}`, the form
 * Optuna writes and reads) and the checks that keep a study consistent.
 * @module
 */

/** A value a categorical parameter may take (Optuna's `CategoricalChoiceType`). */
export type CategoricalChoice = null | boolean | number | string;

/** A parameter value as the objective sees it. */
export type ParamValue = number | CategoricalChoice;

/**
 * A continuous range `[low, high]`, uniform or log-uniform, optionally discretized by `step`.
 * @group Search space
 */
export interface FloatDistribution {
  /** The kind. */
  readonly type: 'float';
  /** The lower bound (included). */
  readonly low: number;
  /** The upper bound (included). */
  readonly high: number;
  /** Sampled log-uniformly (then `low > 0`). */
  readonly log: boolean;
  /** The grid spacing, or null for a continuous range. */
  readonly step: number | null;
}

/**
 * An integer range `[low, high]` with a `step`, uniform or log-uniform (then `step` is 1).
 * @group Search space
 */
export interface IntDistribution {
  /** The kind. */
  readonly type: 'int';
  /** The lower bound (included). */
  readonly low: number;
  /** The upper bound (included, a multiple of `step` away from `low`). */
  readonly high: number;
  /** Sampled log-uniformly (then `low >= 1`). */
  readonly log: boolean;
  /** The spacing of the values. */
  readonly step: number;
}

/**
 * A choice among `choices`; its internal representation is the index of the choice.
 * @group Search space
 */
export interface CategoricalDistribution {
  /** The kind. */
  readonly type: 'categorical';
  /** The values to choose from (at least one; JSON-serializable scalars). */
  readonly choices: readonly CategoricalChoice[];
}

/**
 * One of the three distributions.
 * @group Search space
 */
export type Distribution = FloatDistribution | IntDistribution | CategoricalDistribution;

function fmt(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Describes a received value for error messages. */
export function describe(v: unknown): string {
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'bigint') return `${v}n`;
  return fmt(v);
}

function finite(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${where}: expected ${name} to be a number, received ${describe(v)}`);
  if (!Number.isFinite(v)) throw new RangeError(`${where}: expected ${name} to be a finite number, received ${describe(v)}`);
  return v;
}

function integer(where: string, name: string, v: unknown): number {
  finite(where, name, v);
  if (!Number.isSafeInteger(v)) throw new RangeError(`${where}: expected ${name} to be an integer, received ${describe(v)}`);
  return v as number;
}

/**
 * Builds a checked {@link FloatDistribution} (Optuna's rules: `low <= high`, `low > 0` with
 * `log`, no `step` with `log`, `high` moved down to the last multiple of `step`).
 * @throws TypeError or RangeError naming the bad argument.
 * @group Search space
 */
export function floatDistribution(low: number, high: number, options: { log?: boolean; step?: number | null } = {}, where = 'floatDistribution'): FloatDistribution {
  finite(where, 'low', low);
  finite(where, 'high', high);
  const log = options.log ?? false;
  if (typeof log !== 'boolean') throw new TypeError(`${where}: expected log to be a boolean, received ${describe(log)}`);
  const step = options.step ?? null;
  if (step !== null) {
    finite(where, 'step', step);
    if (step <= 0) throw new RangeError(`${where}: expected step to be > 0, received ${describe(step)}`);
    if (log) throw new RangeError(`${where}: step ${describe(step)} and log cannot be used together`);
  }
  if (low > high) throw new RangeError(`${where}: the range is empty: low ${describe(low)} is above high ${describe(high)}`);
  if (log && low <= 0) throw new RangeError(`${where}: a log range needs low > 0, received low ${describe(low)}`);
  let h = high;
  if (step !== null) {
    // Optuna adjusts in decimal arithmetic; k steps from low, rounded to the nearest representable.
    const k = Math.floor((high - low) / step + 1e-9);
    const adjusted = roundDecimal(low + k * step, step, low);
    if (adjusted < h) h = adjusted;
  }
  return Object.freeze({ type: 'float', low, high: h, log, step });
}

/** `x` rounded to the decimal places of `step` and `low` (as Python's Decimal arithmetic gives). */
function roundDecimal(x: number, step: number, low: number): number {
  const places = Math.max(decimals(step), decimals(low));
  return places > 15 ? x : Number(x.toFixed(places));
}

function decimals(v: number): number {
  const s = String(v);
  const e = s.indexOf('e-');
  if (e >= 0) return Number(s.slice(e + 2)) + (s.slice(0, e).split('.')[1]?.length ?? 0);
  return s.split('.')[1]?.length ?? 0;
}

/**
 * Builds a checked {@link IntDistribution} (integers, `low <= high`, `step >= 1`, `log` only
 * with step 1 and `low >= 1`, `high` moved down to a multiple of `step` from `low`).
 * @throws TypeError or RangeError naming the bad argument.
 * @group Search space
 */
export function intDistribution(low: number, high: number, options: { log?: boolean; step?: number } = {}, where = 'intDistribution'): IntDistribution {
  integer(where, 'low', low);
  integer(where, 'high', high);
  const log = options.log ?? false;
  if (typeof log !== 'boolean') throw new TypeError(`${where}: expected log to be a boolean, received ${describe(log)}`);
  const step = options.step ?? 1;
  integer(where, 'step', step);
  if (step < 1) throw new RangeError(`${where}: expected step to be >= 1, received ${describe(step)}`);
  if (log && step !== 1) throw new RangeError(`${where}: step ${describe(step)} and log cannot be used together (log needs step 1)`);
  if (low > high) throw new RangeError(`${where}: the range is empty: low ${describe(low)} is above high ${describe(high)}`);
  if (log && low < 1) throw new RangeError(`${where}: a log range needs low >= 1, received low ${describe(low)}`);
  const h = low + Math.floor((high - low) / step) * step;
  return Object.freeze({ type: 'int', low, high: h, log, step });
}

/**
 * Builds a checked {@link CategoricalDistribution}.
 * @throws TypeError or RangeError if `choices` is not a non-empty array of null, booleans,
 * finite numbers or strings.
 * @group Search space
 */
export function categoricalDistribution(choices: readonly CategoricalChoice[], where = 'categoricalDistribution'): CategoricalDistribution {
  if (!Array.isArray(choices)) throw new TypeError(`${where}: expected choices to be an array, received ${describe(choices)}`);
  if (choices.length === 0) throw new RangeError(`${where}: expected choices to hold at least one value, received []`);
  choices.forEach((c, i) => {
    const ok = c === null || typeof c === 'boolean' || typeof c === 'string' || (typeof c === 'number' && Number.isFinite(c));
    if (!ok) throw new TypeError(`${where}: expected choices[${i}] to be null, a boolean, a finite number or a string, received ${describe(c)}`);
  });
  return Object.freeze({ type: 'categorical', choices: Object.freeze([...choices]) });
}

/**
 * The number a storage keeps for `value`: the value itself, or a categorical choice's index.
 * @throws RangeError if `value` is not one of a categorical distribution's choices.
 */
export function toInternal(d: Distribution, value: ParamValue): number {
  if (d.type === 'categorical') {
    const i = d.choices.findIndex((c) => c === value || (typeof c === 'number' && typeof value === 'number' && Number.isNaN(c) && Number.isNaN(value)));
    if (i < 0) throw new RangeError(`${describe(value)} is not one of the choices ${describe(d.choices)}`);
    return i;
  }
  return value as number;
}

/** The value the objective sees for a stored number. */
export function toExternal(d: Distribution, internal: number): ParamValue {
  // Truncated, as Python's int() in Optuna's to_external_repr (the journal's replay does the same).
  if (d.type === 'categorical') return d.choices[Math.trunc(internal)] as CategoricalChoice;
  if (d.type === 'int') return Math.trunc(internal) + 0; // + 0: -0 is 0
  return internal;
}

/** Whether a stored number is a value of `d` (Optuna's `_contains`). */
export function contains(d: Distribution, internal: number): boolean {
  if (typeof internal !== 'number' || Number.isNaN(internal)) return false;
  if (d.type === 'categorical') return Number.isInteger(internal) && internal >= 0 && internal < d.choices.length;
  if (internal < d.low || internal > d.high) return false;
  if (d.type === 'int') return Number.isInteger(internal) && (internal - d.low) % d.step === 0;
  if (d.step === null) return true;
  const k = (internal - d.low) / d.step;
  return Math.abs(k - Math.round(k)) < 1e-8;
}

/** Whether `d` has one value only (a sampler need not be asked). */
export function isSingle(d: Distribution): boolean {
  if (d.type === 'categorical') return d.choices.length === 1;
  if (d.low === d.high) return true;
  if (d.type === 'float' && d.step !== null) return d.high - d.low < d.step;
  return false;
}

/**
 * Whether two distributions are the same (same kind and attributes): whether their
 * {@link distributionToJson} texts are equal, decided field by field without building them.
 */
export function sameDistribution(a: Distribution, b: Distribution): boolean {
  if (a === b) return true;
  const same = sameFields(a, b);
  return same !== undefined ? same : distributionToJson(a) === distributionToJson(b);
}

/**
 * A JSON float field's equality: equal numbers (−0 and +0 both write 0.0), and NaN, ±Infinity
 * and null all write `null`. Undefined for other types (then the texts are compared).
 */
function sameJsonFloat(x: unknown, y: unknown): boolean | undefined {
  if (x === y) return typeof x === 'number' || x === null ? true : undefined;
  const nx = x === null || (typeof x === 'number' && !Number.isFinite(x));
  const ny = y === null || (typeof y === 'number' && !Number.isFinite(y));
  if ((x === null || typeof x === 'number') && (y === null || typeof y === 'number')) return nx && ny;
  return undefined;
}

/** A template-literal number field's equality (String(v): −0 writes 0, NaN writes NaN). */
function sameTemplateNumber(x: unknown, y: unknown): boolean | undefined {
  if (typeof x !== 'number' || typeof y !== 'number') return undefined;
  return x === y || (x !== x && y !== y);
}

/** Whether `v` is a choice's type: null, a boolean, a number or a string. */
function isChoiceType(v: unknown): boolean {
  return v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string';
}

/**
 * A categorical choice's JSON equality: strings and booleans write distinct texts; numbers
 * write as floats (NaN, ±Infinity and null all write `null`). Undefined for other types.
 */
function sameJsonChoice(x: unknown, y: unknown): boolean | undefined {
  if (!isChoiceType(x) || !isChoiceType(y)) return undefined;
  if (typeof x === 'string' || typeof x === 'boolean' || typeof y === 'string' || typeof y === 'boolean') return x === y;
  return sameJsonFloat(x, y);
}

/** {@link sameDistribution} on the fields, or undefined when a field has an unexpected type. */
function sameFields(a: Distribution, b: Distribution): boolean | undefined {
  if (a.type !== b.type) return a.type === 'float' || a.type === 'int' || a.type === 'categorical' ? (b.type === 'float' || b.type === 'int' || b.type === 'categorical' ? false : undefined) : undefined;
  switch (a.type) {
    case 'float': {
      const f = b as FloatDistribution;
      if (typeof a.log !== 'boolean' || typeof f.log !== 'boolean') return undefined;
      // step null writes null; a number step writes as the other float fields.
      const step = sameJsonFloat(a.step, f.step);
      const low = sameJsonFloat(a.low, f.low);
      const high = sameJsonFloat(a.high, f.high);
      if (step === undefined || low === undefined || high === undefined) return undefined;
      return step && low && high && a.log === f.log;
    }
    case 'int': {
      const g = b as IntDistribution;
      if (typeof a.log !== 'boolean' || typeof g.log !== 'boolean') return undefined;
      const step = sameTemplateNumber(a.step, g.step);
      const low = sameTemplateNumber(a.low, g.low);
      const high = sameTemplateNumber(a.high, g.high);
      if (step === undefined || low === undefined || high === undefined) return undefined;
      return step && low && high && a.log === g.log;
    }
    case 'categorical': {
      const c = b as CategoricalDistribution;
      if (!Array.isArray(a.choices) || !Array.isArray(c.choices)) return undefined;
      if (a.choices.length !== c.choices.length) return a.choices.every(isChoiceType) && c.choices.every(isChoiceType) ? false : undefined;
      let all = true;
      for (let i = 0; i < a.choices.length; i++) {
        const same = sameJsonChoice(a.choices[i], c.choices[i]);
        if (same === undefined) return undefined;
        if (!same) all = false;
      }
      return all;
    }
    default:
      return undefined;
  }
}

/**
 * Throws unless a parameter may be suggested with `b` after earlier trials used `a`: the same
 * kind; for categorical ones the same choices (Optuna's `check_distribution_compatibility`;
 * numeric ranges may change between trials).
 */
export function checkCompatible(name: string, a: Distribution, b: Distribution, where: string): void {
  if (a.type !== b.type) {
    throw new RangeError(`${where}: parameter ${JSON.stringify(name)} was suggested before as ${describeDistribution(a)}; it cannot now be ${describeDistribution(b)} (one parameter, one kind of distribution)`);
  }
  if (a.type === 'categorical' && b.type === 'categorical' && describe(a.choices) !== describe(b.choices)) {
    throw new RangeError(`${where}: parameter ${JSON.stringify(name)} was suggested before with choices ${describe(a.choices)}; it cannot now have choices ${describe(b.choices)}`);
  }
  if (a.type !== 'categorical' && b.type !== 'categorical' && a.log !== b.log) {
    throw new RangeError(`${where}: parameter ${JSON.stringify(name)} was suggested before as ${describeDistribution(a)}; it cannot now be ${describeDistribution(b)} (log and linear scales differ)`);
  }
}

/** A short description, for messages: `float in [1e-05, 0.1], log`. */
export function describeDistribution(d: Distribution): string {
  if (d.type === 'categorical') return `categorical of ${describe(d.choices)}`;
  const extra = [d.log ? 'log' : '', d.type === 'int' ? (d.step !== 1 ? `step ${d.step}` : '') : d.step !== null ? `step ${d.step}` : ''].filter(Boolean).join(', ');
  return `${d.type} in [${d.low}, ${d.high}]${extra ? `, ${extra}` : ''}`;
}

/** Python's repr of a float in JSON: integral floats keep a `.0` so Optuna reads a float. */
function pyFloat(v: number): string {
  return Number.isInteger(v) && Math.abs(v) < 1e16 ? `${v}.0` : JSON.stringify(v);
}

/**
 * The JSON text Optuna writes for a distribution (`distribution_to_json`), key order included.
 * @group Search space
 */
export function distributionToJson(d: Distribution): string {
  switch (d.type) {
    case 'float':
      return `{"name": "FloatDistribution", "attributes": {"step": ${d.step === null ? 'null' : pyFloat(d.step)}, "low": ${pyFloat(d.low)}, "high": ${pyFloat(d.high)}, "log": ${d.log}}}`;
    case 'int':
      return `{"name": "IntDistribution", "attributes": {"log": ${d.log}, "step": ${d.step}, "low": ${d.low}, "high": ${d.high}}}`;
    case 'categorical':
      return `{"name": "CategoricalDistribution", "attributes": {"choices": [${d.choices.map((c) => (typeof c === 'number' ? pyFloatOrInt(c) : JSON.stringify(c))).join(', ')}]}}`;
  }
}

function pyFloatOrInt(v: number): string {
  return JSON.stringify(v);
}

const MAX_CHOICES = 100_000;

/**
 * Parses a distribution's JSON as Optuna writes it (also its deprecated Uniform, LogUniform,
 * DiscreteUniform and IntUniform/IntLogUniform names), checking every field: the text comes
 * from a storage, which is untrusted input.
 * @throws TypeError or RangeError describing what is malformed.
 * @group Search space
 */
export function jsonToDistribution(json: string | unknown): Distribution {
  const where = 'jsonToDistribution';
  const o = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  if (o === null || typeof o !== 'object') throw new TypeError(`${where}: expected an object, received ${describe(o)}`);
  const { name, attributes: a } = o as { name?: unknown; attributes?: unknown };
  if (a === null || typeof a !== 'object') throw new TypeError(`${where}: expected attributes to be an object, received ${describe(a)}`);
  const at = a as Record<string, unknown>;
  const num = (k: string) => at[k] as number;
  switch (name) {
    case 'FloatDistribution':
      return floatDistribution(num('low'), num('high'), { log: at.log as boolean, step: (at.step as number | null) ?? null }, where);
    case 'UniformDistribution':
      return floatDistribution(num('low'), num('high'), {}, where);
    case 'LogUniformDistribution':
      return floatDistribution(num('low'), num('high'), { log: true }, where);
    case 'DiscreteUniformDistribution':
      return floatDistribution(num('low'), num('high'), { step: num('q') }, where);
    case 'IntDistribution':
      return intDistribution(num('low'), num('high'), { log: at.log as boolean, step: num('step') }, where);
    case 'IntUniformDistribution':
      return intDistribution(num('low'), num('high'), { step: (at.step as number | undefined) ?? 1 }, where);
    case 'IntLogUniformDistribution':
      return intDistribution(num('low'), num('high'), { log: true }, where);
    case 'CategoricalDistribution': {
      const choices = at.choices;
      if (Array.isArray(choices) && choices.length > MAX_CHOICES) throw new RangeError(`${where}: at most ${MAX_CHOICES} choices, received ${choices.length}`);
      return categoricalDistribution(choices as CategoricalChoice[], where);
    }
    default:
      throw new RangeError(`${where}: unknown distribution ${describe(name)}`);
  }
}
