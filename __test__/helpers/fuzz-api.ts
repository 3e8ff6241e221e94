/**
 * The preamble shared by the two suites that fuzz the training and application API (fast-check):
 * `__test__/fuzz-training.spec.ts` (the library's training, checkpoints, data, layers and
 * safetensors, from the TS sources) and `cli/__test__/fuzz-app.spec.ts` (the application's demos,
 * optimizer specs and charts, with the library from its build through the package name):
 *
 * - predicates of the contracts (`isInt`, `isObject`, `badPath`, `optionsBad`, ...);
 * - bad paths, mutated fixtures (`mutated`, `build`) and what a message may name for them
 *   (`mutationNames`, `named`), with `property`/`asyncProperty`, which start each case afresh;
 * - a tiny image dataset (plain data), dataset and options arbitraries;
 * - snapshots of the files under a folder and of the working directory's names.
 *
 * Nothing here constructs a library object or checks `instanceof` against a library class: the
 * root suite imports the sources (ts/), the cli suite the build (dist/, through 'ferroptim'), two
 * module instances whose classes differ, so each suite builds its models, generators and
 * parameters from the copy it tests.
 */
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDataset } from '../../ts/index.js';
import { NO_VALUE, applySdMutation, checkNamed, describeApplied, garbage, sdMutation, sparseObject, type Applied, type Mutation, type Rec } from './fuzz.js';

// ---------------------------------------------------------------------------------------------
// Predicates of the contracts

export const isInt = (v: unknown, min: number, max = Infinity): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
export const isObject = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);
export const isPlain = (v: unknown): v is Rec => {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
export const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
export const isFn = (v: unknown): boolean => typeof v === 'function';
export const badPath = (v: unknown): boolean => typeof v !== 'string' || v === '' || v.includes('\0');
/** An options argument: undefined, or an object whose keys are all known. */
export const optionsBad = (o: unknown, keys: readonly string[]): boolean => o !== undefined && (!isObject(o) || Object.keys(o).some((k) => !keys.includes(k)));
export const opt = (o: unknown, k: string): unknown => (isObject(o) ? o[k] : undefined);
export const optBad = (o: unknown, k: string, bad: (v: unknown) => boolean): boolean => opt(o, k) !== undefined && bad(opt(o, k));
/** A list of numbers: an array of numbers or a (non-BigInt) typed array. */
export const numbersBad = (v: unknown): boolean =>
  !((Array.isArray(v) && v.every((x) => typeof x === 'number')) || (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)));
export const genStateBad = (v: unknown): boolean => !Array.isArray(v) || v.length !== 4 || !v.every((x) => isInt(x, 0, 0xffffffff)) || v.every((x) => x === 0);
/** Whether a JSON-like tree holds a BigInt (JSON.stringify cannot write one). */
export const hasBigInt = (v: unknown, seen = new Set<unknown>()): boolean => {
  if (typeof v === 'bigint') return true;
  if (v === null || typeof v !== 'object' || seen.has(v) || ArrayBuffer.isView(v)) return false;
  seen.add(v);
  return Object.values(v).some((x) => hasBigInt(x, seen));
};

// ---------------------------------------------------------------------------------------------
// Values: bad paths, fixtures and their mutations

/** Values no path may be: non-strings, the empty string, strings with a NUL character. */
export const badPathArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: garbage.filter((v) => typeof v !== 'string') },
  { weight: 1, arbitrary: fc.constantFrom('', '\0', 'a\0b', 'runs/\0/x') },
);

/** A valid fixture changed by a few mutations (built afresh for every call). */
export class Mutated {
  constructor(
    readonly what: string,
    readonly make: () => unknown,
    readonly ms: readonly Mutation[],
  ) {}

  build(): { value: unknown; applied: Applied[] } {
    const value = this.make();
    const applied = this.ms.map((m) => applySdMutation(value, m)).filter((a): a is Applied => a !== undefined);
    return { value, applied };
  }

  [fc.toStringMethod](): string {
    return this.ms.length === 0 ? `valid ${this.what}` : `${this.what} with ${this.build().applied.map(describeApplied).join(', ')}`;
  }
}

export const mutated = (what: string, make: () => unknown, maxMutations = 2, minMutations = 0): fc.Arbitrary<Mutated> =>
  fc.array(sdMutation, { minLength: minMutations, maxLength: maxMutations }).map((ms) => new Mutated(what, make, ms));

/** The values the current case's mutations set or added (see {@link build}), which a message may report as received. */
let lastReceived: unknown[] = [];

/** An argument as generated: a Mutated fixture, or the value itself. */
export function build(v: unknown): { value: unknown; applied: Applied[] } {
  const out = v instanceof Mutated ? v.build() : { value: v, applied: [] };
  lastReceived.push(...out.applied.filter((a) => a.kind === 'set' || a.kind === 'addKey').map((a) => a.value));
  return out;
}

/** What a message may name for a mutated argument: the keys along each mutation's path (with the value set at its end) and the keys added. */
export function mutationNames(applied: readonly Applied[]): { subjects: string[]; valued: Array<readonly [string, unknown]> } {
  const subjects: string[] = [];
  const valued: Array<readonly [string, unknown]> = [];
  // A mutation inside what a later one replaced or deleted is gone.
  const within = (p: readonly unknown[], q: readonly unknown[]) => q.length <= p.length && q.every((k, i) => k === p[i]);
  const live = applied.filter((a, i) => !applied.slice(i + 1).some((b) => (b.kind === 'set' || b.kind === 'delete') && within(a.path, b.path)));
  for (const a of live) {
    // The keys along the path name the part that is wrong; only a value set there must be shown.
    a.path.forEach((k, i) => {
      if (typeof k !== 'string') return;
      subjects.push(k);
      valued.push([k, a.kind === 'set' && i === a.path.length - 1 ? a.value : NO_VALUE]);
    });
    if (a.key !== undefined) {
      valued.push([a.key, NO_VALUE]);
      subjects.push(JSON.stringify(a.key));
    }
  }
  return { subjects, valued };
}

// ---------------------------------------------------------------------------------------------
// Naming: what a message must name, and the values it may report

/**
 * `checkNamed` (helpers/fuzz.ts) for the fuzzed suites' arguments: an array or object argument (a dataset, a result,
 * a list of series) is named with the part of it that is wrong, not spelled out whole.
 */
export function named(msg: string, valued: ReadonlyArray<readonly [string, unknown]>, subjects: readonly string[] = [], received: readonly unknown[] = []): void {
  checkNamed(msg, valued.map(([k, v]) => [k, v !== null && typeof v === 'object' ? NO_VALUE : v] as const), subjects, [...received, ...lastReceived]);
}

/** fc.property and fc.asyncProperty, starting each case with no mutation values. */
/* eslint-disable @typescript-eslint/no-explicit-any */
export const property = ((...args: any[]) => {
  const f = args.pop() as (...a: unknown[]) => unknown;
  return (fc.property as any)(...args, (...a: unknown[]) => ((lastReceived = []), f(...a)));
}) as typeof fc.property;
export const asyncProperty = ((...args: any[]) => {
  const f = args.pop() as (...a: unknown[]) => Promise<unknown>;
  return (fc.asyncProperty as any)(...args, (...a: unknown[]) => ((lastReceived = []), f(...a)));
}) as typeof fc.asyncProperty;
/* eslint-enable @typescript-eslint/no-explicit-any */

// ---------------------------------------------------------------------------------------------
// Fixtures: a tiny dataset and what breaks its contract; options

/** A small image dataset: 6 images of 1×4×4, 3 classes. */
export function tinyData(n = 6): ImageDataset {
  return {
    length: n,
    imageShape: [1, 4, 4],
    pixels: Uint8Array.from({ length: n * 16 }, (_, i) => (i * 37) % 256),
    labels: Uint8Array.from({ length: n }, (_, i) => i % 3),
    classes: 3,
    source: 'fuzz',
  };
}

export function datasetBad(d: unknown): boolean {
  if (!isObject(d)) return true;
  if (!isInt(d.length, 0)) return true;
  const s = d.imageShape;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((x) => isInt(x, 1))) return true;
  const size = (s[0] as number) * (s[1] as number) * (s[2] as number);
  if (!(d.pixels instanceof Uint8Array) || d.pixels.length < d.length * size) return true;
  return !(d.labels instanceof Uint8Array) || d.labels.length < d.length;
}

/** A dataset argument: mostly tinyData with mutations, sometimes garbage. */
export const datasetArb = (withUndefined = true): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 5, arbitrary: mutated('tinyData()', () => ({ ...tinyData(), imageShape: [1, 4, 4] })) as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: withUndefined ? garbage : garbage.filter((v) => v !== undefined) },
  );

/** An options argument: mostly some of the keys of `sane` with sane values or garbage (and unknown extras), sometimes garbage. */
export const optionsArb = (sane: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 5, arbitrary: sparseObject(Object.keys(sane), (k) => fc.oneof({ weight: 3, arbitrary: sane[k]! }, { weight: 2, arbitrary: garbage })) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage });

// ---------------------------------------------------------------------------------------------
// Snapshots: the files under a folder (names and bytes) and the working directory's names

export function tree(dir: string): string {
  if (!existsSync(dir)) return '(none)';
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out.push(`${rel}${e.name}/`);
        walk(p, `${rel}${e.name}/`);
      } else out.push(`${rel}${e.name} ${e.isFile() ? createHash('sha1').update(readFileSync(p)).digest('hex') : '(special)'}`);
    }
  };
  walk(dir, '');
  return out.join('\n');
}

const CWD = process.cwd();
/** The working directory's names and the files under `dir` (names and bytes): what a rejected call must not change. */
export const filesState = (dir: string) => `${readdirSync(CWD).sort().join('\n')}\n--\n${tree(dir)}`;
