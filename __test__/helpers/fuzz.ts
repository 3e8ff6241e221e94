/**
 * The property-based fuzzing kit shared by `fuzz.spec.ts` (optimizers, schedulers, clipping,
 * monitors), `fuzz-training.spec.ts` (training, checkpoints, data, layers, safetensors) and the
 * application's `cli/__test__/fuzz-app.spec.ts` (demos, optimizer specs, charts); the last two
 * also share `fuzz-api.ts`:
 *
 * - configuration from the environment: `FERROPTIM_FUZZ_RUNS=n` runs n cases per property
 *   (default: each property's bounded number, for `npm test`), `FERROPTIM_FUZZ_SEED=s` and
 *   `FERROPTIM_FUZZ_PATH=p` replay a failure (fast-check prints both), `FERROPTIM_FUZZ_STATS=1`
 *   logs how many calls each property saw rejected and accepted;
 * - garbage values (scalars, arrays, odd objects, functions returning garbage) and sparse option
 *   objects with unknown keys;
 * - the oracles: a rejection is exactly a TypeError or RangeError, not an engine or Node error,
 *   prefixed with the function or class, naming the bad argument, and it changed nothing;
 * - mutations of a valid JSON-like tree (delete, set, add a key, truncate, extend).
 *
 * The root suites test the library's sources (ts/), the cli suite its build (dist/, through
 * 'ferroptim'): two module instances with distinct classes. So nothing here relies on
 * `instanceof` a library class ({@link Canon} recognises a Parameter of either copy), and the
 * Parameter in {@link garbage} is made from the class {@link useParameterClass} was given (the
 * sources' by default).
 */
import type { ExecutionContext } from 'ava';
import fc from 'fast-check';
import { Parameter as SourceParameter } from '../../ts/tensor.js';

export type Rec = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Configuration

export function envInt(name: string, min: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, received ${JSON.stringify(raw)}`);
  return n;
}

export const RUNS = envInt('FERROPTIM_FUZZ_RUNS', 1);
export const SEED = envInt('FERROPTIM_FUZZ_SEED', -(2 ** 31));
export const PATH = process.env.FERROPTIM_FUZZ_PATH || undefined;
/** `FERROPTIM_FUZZ_STATS=1` logs how many calls each property saw rejected and accepted (a generator that only ever produces one kind tests little). */
export const STATS = process.env.FERROPTIM_FUZZ_STATS === '1';
export const tally = { rejected: 0, accepted: 0 };

/** fast-check parameters: `defaultRuns` cases unless FERROPTIM_FUZZ_RUNS says otherwise. */
export function runs(defaultRuns: number): fc.Parameters<unknown> {
  return { numRuns: RUNS ?? defaultRuns, ...(SEED === undefined ? {} : { seed: SEED }), ...(PATH === undefined ? {} : { path: PATH }) };
}

/** Runs a property; a failure reports fast-check's counterexample, seed and path, and what went wrong. */
export function check(t: ExecutionContext, property: fc.IProperty<any>, defaultRuns: number): void {
  tally.rejected = tally.accepted = 0;
  report(t, fc.check(property, runs(defaultRuns) as fc.Parameters<any>));
}

/** {@link check} for an async property. */
export async function checkAsync(t: ExecutionContext, property: fc.IAsyncProperty<any>, defaultRuns: number): Promise<void> {
  tally.rejected = tally.accepted = 0;
  report(t, await fc.check(property, runs(defaultRuns) as fc.Parameters<any>));
}

function report(t: ExecutionContext, out: fc.RunDetails<any>): void {
  if (STATS) t.log(`calls rejected: ${tally.rejected}, accepted: ${tally.accepted}`);
  if (!out.failed) {
    t.pass();
    return;
  }
  const cause = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
  t.fail(`${fc.defaultReportMessage(out) ?? 'property failed'}\n\nFailure: ${cause}`);
}

/** Formats a value as the library's messages do (`received -1`, `received "0.1"`, `received [0.9]`). */
export function describe(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || v === undefined || typeof v === 'boolean') return String(v);
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a Symbol';
  if (Array.isArray(v)) return v.length <= 8 ? `[${v.map(describe).join(', ')}]` : `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${(v as unknown as ArrayLike<number>).length ?? v.byteLength}`;
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/** A function returning `v`, printed as such in counterexamples. */
export function returning(v: unknown): () => unknown {
  const f = () => v;
  Object.defineProperty(f, fc.toStringMethod, { value: () => `() => ${fc.stringify(v)}` });
  return f;
}

// ---------------------------------------------------------------------------------------------
// Garbage

type ParameterClass = new (data: Float32Array, options: { name: string }) => object;
let StrangerParameter: ParameterClass = SourceParameter;

/**
 * Makes the Parameter that {@link garbage} may hold (one no optimizer or model owns) an instance
 * of `P`. A suite that tests another copy of the library than the sources (the cli suite, which
 * imports the build through 'ferroptim') passes that copy's class, or its calls would see only an
 * odd object, never a Parameter they recognise. Call it once, before any property runs.
 */
export function useParameterClass(P: ParameterClass): void {
  StrangerParameter = P;
}

export const SYM = Symbol('fuzz');
export const notableNumber = fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, -1, -1e-8, 5e-324, 1e-300, 1e300, -1e300, 2 ** 53, 0.5, 1, 1.5, 2, 3.5e38);
/** Garbage scalars: notable numbers, any double, small integers, wrong types. */
export const scalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: notableNumber },
  { weight: 2, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.integer({ min: -3, max: 12 }) },
  { weight: 3, arbitrary: fc.constantFrom<unknown>(undefined, null, true, false, '', '0.1', '1', 'NaN', 'true', 'min', 'cos', 1n, SYM) },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
);
export const garbageObject: fc.Arbitrary<unknown> = fc
  .constantFrom<() => unknown>(
    () => ({}),
    () => [],
    () => new Float32Array(2),
    () => new Float64Array(3),
    () => new Map(),
    () => Object.create(null),
    () => ({ valueOf: returning(0.1) }),
    () => new StrangerParameter(new Float32Array(2), { name: 'stranger' }),
  )
  .map((f) => f());
/** Anything: garbage scalars, short arrays of them, odd objects, functions returning garbage. */
export const garbage: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: garbageObject },
  { weight: 1, arbitrary: scalar.map(returning) },
);
/** Option names nobody accepts (including prototype keys and near-misses). */
export const unknownKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'LR', 'weight_decay', 'beta1', 'momentun', ''),
  fc.string({ maxLength: 4 }),
);
/** Usually no extra keys; sometimes one or two unknown ones with garbage values. */
export const extras = fc.oneof({ weight: 5, arbitrary: fc.constant([] as Array<[string, unknown]>) }, { weight: 1, arbitrary: fc.array(fc.tuple(unknownKey, garbage), { minLength: 1, maxLength: 2 }) });

export const dbl = (min: number, max: number) => fc.double({ min, max, noNaN: true });

/** Some of `keys`, each with a value from `value(key)`, plus unknown extras, as an object. */
export function sparseObject(keys: readonly string[], value: (k: string) => fc.Arbitrary<unknown>, maxKeys = 3, withExtras = true): fc.Arbitrary<Rec> {
  const known = fc.subarray([...keys], { maxLength: Math.min(maxKeys, keys.length) }).chain((ks) => fc.tuple(...ks.map((k) => value(k).map((v) => [k, v] as [string, unknown]))));
  return fc.tuple(known, withExtras ? extras : fc.constant([] as Array<[string, unknown]>)).map(([a, b]) => Object.fromEntries([...a, ...b]));
}

export const finiteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

// ---------------------------------------------------------------------------------------------
// Snapshots: bytes of every buffer, identity of every Parameter, typed array and function

/**
 * Whether `o` is a Parameter of either copy of the library (the sources or the build): an
 * instance of a class named Parameter, or of a subclass of one. Duck-typed, because `instanceof`
 * recognises only one copy's instances.
 */
export function isParameter(o: object): boolean {
  for (let p = Object.getPrototypeOf(o); p !== null; p = Object.getPrototypeOf(p)) {
    const ctor = Object.hasOwn(p, 'constructor') ? (p as { constructor: unknown }).constructor : undefined;
    if (typeof ctor === 'function' && ctor.name === 'Parameter') return true;
  }
  return false;
}

export class Canon {
  readonly #ids = new Map<unknown, number>();

  #id(o: unknown): number {
    let id = this.#ids.get(o);
    if (id === undefined) this.#ids.set(o, (id = this.#ids.size));
    return id;
  }

  of(v: unknown, stack: object[] = []): string {
    switch (typeof v) {
      case 'number': {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(v);
        return `n${b.toString('hex')}`;
      }
      case 'string':
        return JSON.stringify(v);
      case 'boolean':
      case 'undefined':
        return String(v);
      case 'bigint':
        return `${v}n`;
      case 'symbol':
        return `sym(${v.description})`;
      case 'function':
        return `fn#${this.#id(v)}`;
    }
    if (v === null) return 'null';
    const o = v as object;
    if (isParameter(o)) return `P#${this.#id(o)}`;
    if (ArrayBuffer.isView(o)) {
      const bytes = o.byteLength === 0 ? '' : Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString('hex');
      return `${o.constructor.name}#${this.#id(o)}(${bytes})`;
    }
    if (stack.includes(o)) return 'cycle';
    stack.push(o);
    const s = Array.isArray(o)
      ? `[${o.map((x) => this.of(x, stack)).join(',')}]`
      : `{${Reflect.ownKeys(o)
          .map((k) => `${String(k)}:${this.of((o as Record<PropertyKey, unknown>)[k], stack)}`)
          .join(',')}}`;
    stack.pop();
    return s;
  }
}

export function attempt(f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    return { threw: String((e as Error)?.message ?? e) };
  }
}

// ---------------------------------------------------------------------------------------------
// Oracles

export class PropertyFailure extends Error {}

export function fail(message: string): never {
  throw new PropertyFailure(message);
}

/** Messages that come from the engine or from Node's own argument checks, not from the library's checks. */
export const GENERIC =
  /The "[^"]*" argument|ERR_INVALID_ARG|Value is non of these types|Cannot read propert|Cannot set propert|Cannot convert|is not a function|is not iterable|is not a constructor|is not defined|Cannot destructure|Cannot access|Invalid array length|Invalid typed array length|Maximum call stack|out of memory|Reduce of empty array|Do not know how to serialize|Cannot mix BigInt|Cannot create property|is not an object|Invalid string length|allocation failed|out of bounds|Start offset|should be a multiple|circular structure|panicked|unwrap\(\)|Failed to convert|Get TypedArray info failed|napi_/i;

/** Checks that `e` is a well-formed rejection: exactly a TypeError or RangeError from the library, prefixed with `prefix` (or one of several). */
export function checkRejection(e: unknown, prefix: string | readonly string[]): Error {
  if (e instanceof PropertyFailure) throw e;
  if (!(e instanceof Error)) fail(`threw a non-Error: ${describe(e)}`);
  if (e.constructor !== TypeError && e.constructor !== RangeError) fail(`threw a ${e.constructor.name} (expected a TypeError or RangeError): ${e.message}`);
  if (GENERIC.test(e.message)) fail(`threw an engine error instead of a checked one: ${e.constructor.name}: ${e.message}`);
  const prefixes = typeof prefix === 'string' ? [prefix] : prefix;
  if (!prefixes.some((p) => e.message.startsWith(p))) fail(`expected the message to start with ${prefixes.map((p) => `"${p}"`).join(' or ')}, received: ${e.message}`);
  return e;
}

export const NO_VALUE = Symbol('no value');

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Words of the messages themselves, which a random option name may happen to be. */
export const MESSAGE_WORDS = new Set(['a', 'an', 'and', 'as', 'at', 'be', 'by', 'for', 'in', 'is', 'it', 'of', 'on', 'one', 'or', 'the', 'to', 'with', 'received', 'expected', 'number', 'finite', 'integer', 'array', 'object', 'value']);

export function named(msg: string, name: string): boolean {
  // Only identifier-like names are looked for as words; other keys only in `unknown option "k"`.
  return /^[A-Za-z_$][\w$]*$/.test(name) && !MESSAGE_WORDS.has(name) && new RegExp(`(^|[^A-Za-z0-9_$])${escapeRe(name)}($|[^A-Za-z0-9_$])`).test(msg);
}

export function mentionsValue(msg: string, v: unknown): boolean {
  // A flag named in a message about a constraint between options (`cycleMomentum needs ...`) is
  // enough, a function is reported by what it returned, an object by what is wrong inside it.
  if (typeof v === 'boolean' || typeof v === 'function' || (v !== null && typeof v === 'object' && !Array.isArray(v))) return true;
  const forms = [describe(v)];
  if (typeof v === 'number') forms.push(String(v));
  if (Array.isArray(v)) forms.push(...v.map(describe), String(v.length));
  return forms.some((f) => msg.includes(`received ${f}`) || msg.includes(` ${f}`));
}

/**
 * The message names a bad argument: `unknown option "k"`, or an option named with its value, or
 * (when no option is named) one of `subjects`.
 */
export function checkNamed(msg: string, valued: ReadonlyArray<readonly [string, unknown]>, subjects: readonly string[] = [], received: readonly unknown[] = []): void {
  if (valued.some(([k]) => msg.includes(`unknown option ${JSON.stringify(k)}`) || msg.includes(`unknown key ${JSON.stringify(k)}`))) return;
  // A whole argument (a param group, the closure) reported with its value.
  if (received.some((v) => msg.includes(`received ${describe(v)}`))) return;
  const hits = valued.filter(([k]) => named(msg, k));
  if (hits.length > 0) {
    if (hits.some(([, v]) => v === NO_VALUE || mentionsValue(msg, v))) return;
    fail(`the message names ${hits.map(([k]) => k).join(', ')} but not the received value (${hits.map(([k, v]) => `${k} = ${describe(v)}`).join(', ')}): ${msg}`);
  }
  if (subjects.some((s) => msg.includes(s))) return;
  fail(`the message names none of the arguments (${[...valued.map(([k]) => k), ...subjects].join(', ')}): ${msg}`);
}

/** Candidates for {@link checkNamed} from an options argument: its own keys with their values, or the options themselves. */
export function keyed(options: unknown, name = 'options'): Array<readonly [string, unknown]> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return [[name, options]];
  return Object.keys(options).map((k) => [k, (options as Rec)[k]] as const);
}

export function same(before: string, after: string, what: string): void {
  if (before === after) return;
  let i = 0;
  while (i < before.length && before[i] === after[i]) i++;
  fail(`${what} changed although the call was rejected (first difference at ${i}: ${before.slice(Math.max(0, i - 60), i + 60)} → ${after.slice(Math.max(0, i - 60), i + 60)})`);
}

/** Runs `call`; on a throw checks the rejection, `named`, and that `snapshot()` did not change. Returns whether it threw. */
export function rejectsCleanly(
  call: () => unknown,
  prefix: string | readonly string[],
  snapshot: () => string,
  what: string,
  onError: (e: Error) => void = () => {},
  knownBug: (e: Error) => boolean = () => false,
): boolean {
  const before = snapshot();
  try {
    call();
  } catch (e) {
    const err = checkRejection(e, prefix);
    onError(err);
    if (!knownBug(err)) same(before, snapshot(), what);
    tally.rejected++;
    return true;
  }
  tally.accepted++;
  return false;
}

/** {@link rejectsCleanly} for an async call: a rejected promise (or a throw) is the rejection. */
export async function rejectsCleanlyAsync(
  call: () => Promise<unknown>,
  prefix: string | readonly string[],
  snapshot: () => string,
  what: string,
  onError: (e: Error) => void = () => {},
): Promise<boolean> {
  const before = snapshot();
  try {
    await call();
  } catch (e) {
    const err = checkRejection(e, prefix);
    onError(err);
    same(before, snapshot(), what);
    tally.rejected++;
    return true;
  }
  tally.accepted++;
  return false;
}

export type Mutation = readonly [string, ...unknown[]];

export type Path = Array<string | number>;


/** Every path in a JSON-like tree (containers and leaves), root excluded, depth first. */
/** A plain array or object that a mutation may change (garbage put there earlier is a leaf). */
export function isContainer(v: unknown): v is object {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return Array.isArray(v) || proto === Object.prototype || proto === null;
}

export function paths(root: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (isContainer(root)) {
    const keys = Array.isArray(root) ? root.map((_, i) => i) : Object.keys(root);
    for (const k of keys) {
      const p = [...prefix, k];
      out.push(p);
      paths((root as Rec)[k as string], p, out);
    }
  }
  return out;
}

export function getPath(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((o, k) => (o as Rec)[k as string], root);
}

export function setOwn(o: object, k: string | number, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function showPath(path: Path): string {
  return path.map((k) => (typeof k === 'number' ? `[${k}]` : `[${JSON.stringify(k)}]`)).join('') || '(root)';
}

export const sdValue = fc.oneof({ weight: 3, arbitrary: garbage }, { weight: 2, arbitrary: fc.constantFrom<unknown>(NaN, 1e300, -1e300, 'NaN', '-0', 'Infinity', 'nan', 1.5, -1, 2 ** 53 + 2, 0) });
export const sdMutation = fc.oneof(
  fc.tuple(fc.constant('delete'), fc.nat()),
  { weight: 3, arbitrary: fc.tuple(fc.constant('set'), fc.nat(), sdValue) },
  fc.tuple(fc.constant('addKey'), fc.nat(), unknownKey, garbage),
  fc.tuple(fc.constant('truncate'), fc.nat()),
  fc.tuple(fc.constant('extend'), fc.nat(), scalar),
) as fc.Arbitrary<Mutation>;

export interface Applied {
  kind: string;
  path: Path;
  value?: unknown;
  key?: string;
  /** The value at the path before (for set). */
  old?: unknown;
}

/** Applies one mutation to `sd` in place; returns what it did, or undefined when it did not apply. */
export function applySdMutation(sd: unknown, m: Mutation): Applied | undefined {
  const [kind, n, x, y] = m as [string, number, unknown, unknown];
  const all = paths(sd);
  const pick = <T>(list: T[]): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);
  if (kind === 'delete' || kind === 'set') {
    const path = pick(all);
    if (path === undefined) return undefined;
    const parent = getPath(sd, path.slice(0, -1)) as Rec;
    const k = path.at(-1)!;
    const old = parent[k as string];
    if (kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(k as number, 1);
      else delete parent[k as string];
      return { kind, path, old };
    }
    setOwn(parent, k, x);
    return { kind, path, value: x, old };
  }
  if (kind === 'addKey') {
    const objects = [[] as Path, ...all].filter((p) => {
      const o = p.length === 0 ? sd : getPath(sd, p);
      return isContainer(o) && !Array.isArray(o) && !Object.hasOwn(o, x as string);
    });
    const path = pick(objects);
    if (path === undefined) return undefined;
    setOwn((path.length === 0 ? sd : getPath(sd, path)) as object, x as string, y);
    return { kind, path, key: x as string, value: y };
  }
  const arrays = all.filter((p) => Array.isArray(getPath(sd, p)));
  const path = pick(arrays);
  if (path === undefined) return undefined;
  const arr = getPath(sd, path) as unknown[];
  if (kind === 'truncate') {
    if (arr.length === 0) return undefined;
    arr.pop();
  } else arr.push(x);
  return { kind, path };
}

export function describeApplied(a: Applied): string {
  if (a.kind === 'set') return `set ${showPath(a.path)} = ${fc.stringify(a.value)} (was ${fc.stringify(a.old)})`;
  if (a.kind === 'addKey') return `add ${showPath([...a.path, a.key!])} = ${fc.stringify(a.value)}`;
  return `${a.kind} ${showPath(a.path)}`;
}

export function rejects(t: ExecutionContext, call: () => unknown, message: RegExp): void {
  const err = t.throws(call, { message });
  if (err) t.true(err.constructor === TypeError || err.constructor === RangeError, `${err.constructor.name}: ${err.message}`);
}
