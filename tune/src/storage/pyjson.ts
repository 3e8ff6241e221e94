/**
 * JSON as Python's `json` module writes and reads it: `NaN`, `Infinity` and `-Infinity` as bare
 * tokens, Python's separators, `ensure_ascii` escapes and `repr(float)`. The one codec behind the
 * journal storage (`json.dumps(log, separators=(",", ":"))`), the RDB storage's `value_json`
 * columns (`json.dumps(value)`) and TPE's relative-params system attributes.
 * @module
 * @internal
 */
import { describe } from '../distributions.js';
import type { JsonValue } from '../types.js';

/**
 * The deepest nesting {@link pyJsonDumps} and {@link pyJsonLoads} accept unless told otherwise.
 * @internal
 */
export const MAX_JSON_DEPTH = 256;

/**
 * The longest JSON text (in UTF-16 code units) {@link pyJsonDumps} writes and
 * {@link pyJsonLoads} reads.
 * @internal
 */
export const MAX_JSON_CHARS = 16 * 1024 * 1024;

/**
 * A number Python holds as a float: written as one even when integral (`1.0`), as Optuna writes
 * parameter and objective values.
 * @internal
 */
export class PyFloat {
  /** @param value The number. */
  constructor(readonly value: number) {}
}

/**
 * `repr(float)` in Python (the text `json.dumps` writes for a float): the shortest digits that
 * round-trip (as JavaScript's), fixed notation for exponents -4 to 15, otherwise `1e-05`,
 * `1e+16`; `NaN`, `Infinity`, `-Infinity` for non-finite values.
 * @internal
 */
export function pyFloatRepr(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const sign = v < 0 ? '-' : '';
  const [mant, exp] = Math.abs(v).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const decpt = Number(exp) + 1; // v = 0.<digits> x 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const e = decpt - 1;
  return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** A JSON string with `ensure_ascii`: everything outside space..tilde escaped. */
function asciiString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function nonFinite(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

/** ECMAScript's shortest form of a number (`0.00001`, `1e-7`), which Python reads as the same float. */
function esNumber(v: number): string {
  return Number.isFinite(v) ? JSON.stringify(v) : nonFinite(v);
}

/** {@link esNumber}, with a `.0` when it would read as an integer. */
function esFloat(v: number): string {
  const s = esNumber(v);
  return Number.isInteger(v) && !s.includes('e') ? `${s}.0` : s;
}

/** Python's form of a number: safe integers as integers, anything else as `repr(float)`. */
function pyNumber(v: number): string {
  return Number.isSafeInteger(v) ? String(v) : pyFloatRepr(v);
}

/**
 * How {@link pyJsonDumps} writes. The defaults are the form of Optuna's RDB `value_json` columns
 * and TPE's relative-params attributes as this package writes them; the journal sets all of
 * `separators`, `ensureAscii` and `pythonFloats`.
 * @internal
 */
export interface PyJsonDumpsOptions {
  /** Python's `separators`: between items, and between a key and its value. Default `[', ', ': ']`. */
  readonly separators?: readonly [item: string, key: string];
  /** Python's `ensure_ascii`: characters outside space..tilde written as `\uXXXX` escapes. Default false. */
  readonly ensureAscii?: boolean;
  /**
   * Numbers exactly as Python writes them: safe integers as integers, other numbers and every
   * {@link PyFloat} as `repr(float)` (`1e-05`, `1e+16`, `2.0`). Default false: ECMAScript's
   * shortest form (`0.00001`, `10000000000000000`), which Python reads as the same number, with
   * `.0` added to an integral {@link PyFloat}.
   */
  readonly pythonFloats?: boolean;
  /** The deepest nesting accepted (the value itself is level 0). Default {@link MAX_JSON_DEPTH}. */
  readonly maxDepth?: number;
  /** What the value is, for error messages. Default `JSON value`. */
  readonly where?: string;
}

/**
 * `value` as Python's `json.dumps` writes it (NaN and infinities as bare tokens), with the
 * separators and escapes of `options`. {@link PyFloat}s are written as floats.
 * @throws TypeError for anything but JSON data (null, booleans, numbers, strings, dense arrays,
 * plain objects; `undefined` included), naming its path; RangeError if it nests deeper than
 * `options.maxDepth` (a cycle?) or its text is longer than {@link MAX_JSON_CHARS}.
 * @internal
 */
export function pyJsonDumps(value: unknown, options: PyJsonDumpsOptions = {}): string {
  const { separators: [comma, colon] = [', ', ': '], ensureAscii = false, pythonFloats = false, maxDepth = MAX_JSON_DEPTH, where = 'JSON value' } = options;
  const str: (s: string) => string = ensureAscii ? asciiString : JSON.stringify;
  const num = pythonFloats ? pyNumber : esNumber;
  const flt = pythonFloats ? pyFloatRepr : esFloat;
  const parts: string[] = [];
  const keys: (string | number)[] = []; // the path of the value being written
  const path = () => `$${keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`;
  let size = 0;
  const push = (s: string) => {
    size += s.length;
    if (size > MAX_JSON_CHARS) throw new RangeError(`${where}: its JSON is longer than ${MAX_JSON_CHARS} characters`);
    parts.push(s);
  };
  const walk = (v: unknown, depth: number): void => {
    if (depth > maxDepth) throw new RangeError(`${where}: nested deeper than ${maxDepth} levels (a cycle?) at ${path()}`);
    if (v === null) return push('null');
    switch (typeof v) {
      case 'boolean':
        return push(v ? 'true' : 'false');
      case 'number':
        return push(num(v));
      case 'string':
        return push(str(v));
      case 'object': {
        if (v instanceof PyFloat) return push(flt(v.value));
        if (Array.isArray(v)) {
          push('[');
          for (let i = 0; i < v.length; i++) {
            if (i > 0) push(comma);
            keys.push(i);
            if (!(i in v)) throw new TypeError(`${where}: expected JSON data, received an empty array slot at ${path()}`);
            walk(v[i], depth + 1);
            keys.pop();
          }
          return push(']');
        }
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) throw new TypeError(`${where}: expected JSON data, received a ${(v as object).constructor?.name ?? 'non-plain'} object at ${path()}`);
        push('{');
        let first = true;
        for (const k of Object.keys(v)) {
          if (!first) push(comma);
          first = false;
          push(str(k));
          push(colon);
          keys.push(k);
          walk((v as Record<string, unknown>)[k], depth + 1);
          keys.pop();
        }
        return push('}');
      }
      default:
        throw new TypeError(`${where}: expected JSON data, received ${describe(v)} at ${path()}`);
    }
  };
  walk(value, 0);
  return parts.join('');
}

/**
 * How {@link pyJsonLoads} reads.
 * @internal
 */
export interface PyJsonLoadsOptions {
  /** The deepest nesting accepted (the value itself is level 0). Default {@link MAX_JSON_DEPTH}. */
  readonly maxDepth?: number;
}

/**
 * Parses JSON as Python's `json.loads` reads it (`NaN`, `Infinity`, `-Infinity` allowed as
 * values, never inside strings or as keys), bounded in size ({@link MAX_JSON_CHARS}) and depth;
 * a `__proto__` key becomes an own property.
 * @throws SyntaxError describing the first problem (with its position); RangeError for a text
 * longer than {@link MAX_JSON_CHARS}.
 * @internal
 */
export function pyJsonLoads(text: string, options: PyJsonLoadsOptions = {}): JsonValue {
  const { maxDepth = MAX_JSON_DEPTH } = options;
  if (text.length > MAX_JSON_CHARS) throw new RangeError(`JSON text longer than ${MAX_JSON_CHARS} characters`);
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${i} of JSON text ${describe(text.length > 80 ? `${text.slice(0, 77)}...` : text)}`);
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const literal = (word: string, v: JsonValue): JsonValue => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return v;
    }
    return fail('unexpected token');
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const str = (): string => {
    // JSON strings: let JSON.parse decode the escapes of the matched span.
    const start = i;
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        try {
          return JSON.parse(text.slice(start, i)) as string;
        } catch {
          return fail('malformed string');
        }
      }
      if (c === 0x5c) i += 2;
      else if (c < 0x20) return fail('control character in string');
      else i++;
    }
    return fail('unterminated string');
  };
  const value = (depth: number): JsonValue => {
    if (depth > maxDepth) fail(`nested deeper than ${maxDepth} levels`);
    ws();
    const c = text[i];
    switch (c) {
      case '{': {
        i++;
        const o: Record<string, JsonValue> = {};
        ws();
        if (text[i] === '}') {
          i++;
          return o;
        }
        for (;;) {
          ws();
          if (text[i] !== '"') fail('expected a key');
          const k = str();
          ws();
          if (text[i] !== ':') fail("expected ':'");
          i++;
          Object.defineProperty(o, k, { value: value(depth + 1), writable: true, enumerable: true, configurable: true });
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === '}') {
            i++;
            return o;
          } else fail("expected ',' or '}'");
        }
      }
      case '[': {
        i++;
        const a: JsonValue[] = [];
        ws();
        if (text[i] === ']') {
          i++;
          return a;
        }
        for (;;) {
          a.push(value(depth + 1));
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === ']') {
            i++;
            return a;
          } else fail("expected ',' or ']'");
        }
      }
      case '"':
        return str();
      case 't':
        return literal('true', true);
      case 'f':
        return literal('false', false);
      case 'n':
        return literal('null', null);
      case 'N':
        return literal('NaN', NaN);
      case 'I':
        return literal('Infinity', Infinity);
      default: {
        if (c === '-' && text.startsWith('-Infinity', i)) return literal('-Infinity', -Infinity);
        NUMBER.lastIndex = i;
        const m = NUMBER.exec(text);
        if (!m) return fail('unexpected token');
        i += m[0].length;
        return Number(m[0]);
      }
    }
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('unexpected data after the JSON value');
  return v;
}
