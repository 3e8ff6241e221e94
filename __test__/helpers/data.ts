/**
 * Deterministic test data: the hash of `scripts/gen_fixtures.py` (mirrored exactly, see
 * `scripts/FIXTURES.md`) and a small seeded PRNG for randomized tests.
 * @module
 */

/** Lengths of tensors 0..4 in every fixture case. */
export const FIXTURE_LENGTHS: readonly number[] = [1, 7, 17, 1025, 40001];

/** Steps of every fixture case. */
export const FIXTURE_STEPS = 25;

/** One bad element in a step's gradients: `value` at `index` of tensor `tensor`. */
export interface Poison {
  label: string;
  tensor: number;
  index: number;
  value: number;
}

/** Where a step's gradients go bad, on the tensors {@link FIXTURE_LENGTHS} [1, 7, 17, 1025, 40001] of groups [0–2] and [3–4]. */
export const POISONS: readonly Poison[] = [
  { label: 'NaN in the 1-element tensor (group 0)', tensor: 0, index: 0, value: NaN },
  { label: '+Infinity at the last element of the 40001-element tensor (group 1)', tensor: 4, index: 40000, value: Infinity },
  { label: 'NaN at a chunk boundary of the 40001-element tensor (group 1)', tensor: 4, index: 8192, value: NaN },
  { label: '-Infinity in the 1025-element tensor (group 1)', tensor: 3, index: 512, value: -Infinity },
  { label: '-Infinity in the 17-element tensor (group 0)', tensor: 2, index: 16, value: -Infinity },
];

/** 32-bit integer hash (all arithmetic mod 2^32), as `mix32` of the fixture script. */
export function mix32(x: number): number {
  x >>>= 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return x;
}

/** A float32 in [-1, 1]: `float32(((h % 2001) - 1000) / 1000)` of the hashed coordinates. */
export function value(seed: number, step: number, tensor: number, i: number): number {
  // Each product reduced mod 2^32 (Math.imul), the sum (< 2^35) exact in f64, then reduced.
  const x = (Math.imul(seed, 0x9e3779b1) + Math.imul(step, 0x85ebca77) + Math.imul(tensor, 0xc2b2ae3d) + i) >>> 0;
  return Math.fround(((mix32(x) % 2001) - 1000) / 1000);
}

/** `value(seed, step, tensor, i)` for i in [0, n), as a Float32Array. */
export function values(seed: number, step: number, tensor: number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = value(seed, step, tensor, i);
  return out;
}

/** The gradient of tensor `tensor` at step `step` (1-based): `float32(value * gradScale)`. */
export function fixtureGrad(seed: number, step: number, tensor: number, n: number, gradScale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = value(seed, step, tensor, i) * gradScale;
  return out;
}

/** The sampled indices of a tensor of length n (ascending; all of them when n <= 128). */
export function sampleIndices(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 8192;
    if (i < 64 || i >= n - 64 || c === 8190 || c === 8191 || c <= 2 || i % 97 === 0) out.push(i);
  }
  return out;
}

/** The fixture's linear schedule: a group's lr before step t (1-based), in f64 in this order. */
export function linearLr(base: number, t: number): number {
  return base * (1 - (t - 1) / 50);
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Convenience draws over a [0, 1) generator. */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** A float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** An integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** True with probability p. */
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }
  /** 10^u with u uniform in [lo, hi): a log-uniform positive number. */
  logUniform(lo: number, hi: number): number {
    return 10 ** this.uniform(lo, hi);
  }
  /** A Float32Array of n values uniform in [-scale, scale). */
  floats(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (2 * this.next() - 1) * scale;
    return out;
  }
}
