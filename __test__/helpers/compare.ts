/**
 * Bit-for-bit comparisons shared by the randomized reference suites, and the byte snapshots of
 * parameters and optimizers that the error suites compare before and after a rejected call.
 */
import type { OptimizerStateDict, ParamStateEntry, Parameter } from '../../ts/index.js';

/** The bits of a float32, in hex. */
export const f32bits = (x: number): string => new Uint32Array(Float32Array.of(x).buffer)[0]!.toString(16).padStart(8, '0');

/** The first element where `a` (native) and `b` (reference) differ (Object.is, so NaN = NaN and -0 ≠ 0), or null. */
export function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string | null {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  if (a instanceof Float32Array && b instanceof Float32Array && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0) {
    return null;
  }
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) return `element ${i}: native ${a[i]} (0x${f32bits(a[i]!)}) vs reference ${b[i]} (0x${f32bits(b[i]!)})`;
  }
  return null;
}

/** A state-dict buffer as a Float32Array (JSON has no -0, NaN or infinities: they are stored as strings). */
export function decode(v: number | ArrayLike<number | string>): Float32Array {
  const a = v as ArrayLike<number | string>;
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    out[i] = typeof x === 'number' ? x : Number(x);
  }
  return out;
}

/** The first difference between two native state dicts' `state`, or null. */
export function stateDiff(a: Record<string, ParamStateEntry>, b: Record<string, ParamStateEntry>): string | null {
  const keys = (o: object) => Object.keys(o).sort().join(',');
  if (keys(a) !== keys(b)) return `state keys [${keys(a)}] vs [${keys(b)}]`;
  for (const [p, ea] of Object.entries(a)) {
    const eb = b[p]!;
    if (keys(ea) !== keys(eb)) return `${p}: state entries [${keys(ea)}] vs [${keys(eb)}]`;
    for (const [k, v] of Object.entries(ea)) {
      const d = typeof v === 'number' ? (Object.is(v, eb[k]) ? null : `${v} vs ${String(eb[k])}`) : firstDiff(decode(v), decode(eb[k]!));
      if (d) return `${p}.${k}: ${d}`;
    }
  }
  return null;
}

/** Deep equality with `Object.is` on numbers (so NaN equals NaN and 0 differs from -0), fast on long arrays. */
export function sameDeep(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameDeep((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

// ------------------------------------------------------------------------------------- snapshots

/** The bytes of a float32 array in hex (null for none, '' for an empty or detached one: a detached buffer cannot be viewed). */
export function hex(a: Float32Array | null | undefined): string | null {
  if (a === null || a === undefined) return null;
  if (a.byteLength === 0) return '';
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

/** What a snapshot reads of an optimizer (any optimizer, whatever its options). */
export interface Snapshotted {
  stateDict(): OptimizerStateDict;
  readonly paramGroups: ReadonlyArray<{ readonly params: readonly Parameter[] }>;
}

/** Bytes of every state buffer, -0 spelled out (JSON alone would hide -0 and NaN). */
export function stateBytes(opt: Snapshotted): Record<string, Record<string, number | string>> {
  const out: Record<string, Record<string, number | string>> = {};
  for (const [k, entry] of Object.entries(opt.stateDict().state)) {
    const e: Record<string, number | string> = {};
    for (const [name, v] of Object.entries(entry)) e[name] = typeof v === 'number' ? (Object.is(v, -0) ? '-0' : v) : hex(decode(v))!;
    out[k] = e;
  }
  return out;
}

/** Each group's options, its params as their names; non-finite numbers and undefined spelled out. */
export function groupOptions(opt: Snapshotted): string {
  return JSON.stringify(
    opt.paramGroups.map((g) => ({ ...g, params: g.params.map((p) => p.name) })),
    (_k, v: unknown) => (v === undefined ? 'undefined' : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v),
  );
}

/** The bytes of parameters (data and gradients, and the grad objects themselves) and, given an optimizer, of its state and param groups. */
export interface Snapshot {
  data: Array<string | null>;
  grads: Array<string | null>;
  gradObjects: Array<Float32Array | null>;
  state?: unknown;
  groups?: string;
}

/** A snapshot of `params` (and of `opt`), to compare with one taken after a call that must change nothing. */
export function snapshot(params: readonly Parameter[], opt?: Snapshotted): Snapshot {
  return {
    data: params.map((p) => hex(p.data)),
    grads: params.map((p) => hex(p.grad)),
    gradObjects: params.map((p) => p.grad),
    ...(opt ? { state: stateBytes(opt), groups: groupOptions(opt) } : {}),
  };
}
