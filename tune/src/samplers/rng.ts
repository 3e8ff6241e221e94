/**
 * The samplers' random numbers: a Mersenne Twister (MT19937) that produces, draw for draw, the
 * same numbers as NumPy's legacy `numpy.random.RandomState`, which Optuna's samplers use. With
 * the same seed and the same calls, a sampler here consumes the same stream as its Optuna
 * counterpart, which is what lets the tests replay Optuna's suggestions exactly.
 *
 * MT19937 is not cryptographic; it is a well-studied generator with a period of 2^19937 - 1.
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { describe } from '../distributions.js';

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

/** The largest seed NumPy's `RandomState` accepts (`2**32 - 1`). */
export const MAX_SEED = 0xffffffff;

/**
 * Checks a sampler's `seed` option: undefined/null (seed from the OS), or an integer in
 * `[0, 2**32 - 1]` as NumPy's `RandomState(seed)` requires.
 * @throws TypeError or RangeError naming `where` and the received value.
 */
export function checkSeed(where: string, seed: unknown): number | null {
  if (seed === undefined || seed === null) return null;
  if (typeof seed !== 'number') throw new TypeError(`${where}: expected seed to be an integer in [0, 2**32 - 1] or undefined, received ${describe(seed)}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`${where}: expected seed to be an integer in [0, 2**32 - 1] (NumPy's RandomState range), received ${describe(seed)}`);
  }
  return seed;
}

/**
 * A seeded pseudo-random generator: MT19937 with NumPy `RandomState`'s seeding and
 * conversions (`random_sample`, `standard_normal`, `randint`/`shuffle`'s bounded integers).
 * @group Samplers
 */
export class Rng {
  private readonly mt = new Uint32Array(N);
  private mti = N + 1;
  /** The second normal of the last polar Box–Muller pair (NumPy's `has_gauss`/`gauss`). */
  private gauss: number | null = null;

  /**
   * @param seed An integer in `[0, 2**32 - 1]` (NumPy's `RandomState(seed)`, i.e. the
   * reference `init_genrand(seed)`), or undefined/null to seed 624 words from the OS's
   * cryptographic random source (as NumPy does with `seed=None`).
   * @throws TypeError or RangeError if `seed` is not such an integer.
   */
  constructor(seed?: number | null) {
    this.reseed(seed);
  }

  /**
   * Restarts the stream: from `seed`, or from the OS's random source when it is undefined/null
   * (Optuna's `reseed_rng`).
   * @throws TypeError or RangeError if `seed` is not an integer in `[0, 2**32 - 1]`.
   */
  reseed(seed?: number | null): void {
    const s = checkSeed('Rng', seed);
    if (s === null) {
      const key = new Uint32Array(N);
      randomFillSync(key);
      this.initByArray(key);
    } else {
      this.initGenrand(s);
    }
    this.gauss = null;
  }

  /** The reference `init_genrand` (NumPy's `mt19937_seed`): a linear-congruential fill. */
  private initGenrand(seed: number): void {
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      // 1812433253 * prev + i, modulo 2**32 (Math.imul keeps the low 32 bits of the product).
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.mti = N;
  }

  /** The reference `init_by_array` (NumPy's `mt19937_init_by_array`), for array keys. */
  private initByArray(key: ArrayLike<number>): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    const len = Math.max(1, key.length);
    for (let k = Math.max(N, len); k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1664525)) + ((key[j] ?? 0) >>> 0) + j) >>> 0;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
      if (j >= len) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
    }
    mt[0] = 0x80000000;
    this.mti = N;
  }

  /** Regenerates the 624-word state (the reference `genrand` twist). */
  private twist(): void {
    const mt = this.mt;
    let kk = 0;
    let y: number;
    for (; kk < N - M; kk++) {
      y = (mt[kk]! & UPPER_MASK) | (mt[kk + 1]! & LOWER_MASK);
      mt[kk] = (mt[kk + M]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)) >>> 0;
    }
    for (; kk < N - 1; kk++) {
      y = (mt[kk]! & UPPER_MASK) | (mt[kk + 1]! & LOWER_MASK);
      mt[kk] = (mt[kk + (M - N)]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)) >>> 0;
    }
    y = (mt[N - 1]! & UPPER_MASK) | (mt[0]! & LOWER_MASK);
    mt[N - 1] = (mt[M - 1]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)) >>> 0;
    this.mti = 0;
  }

  /** The next 32 random bits, as an unsigned integer. */
  uint32(): number {
    if (this.mti >= N) this.twist();
    let y = this.mt[this.mti++]!;
    // Tempering.
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /**
   * A uniform double in `[0, 1)` with 53 random bits (NumPy's `random_sample`, the reference
   * `genrand_res53`: 27 bits of one word and 26 of the next).
   */
  uniform(): number {
    const a = this.uint32() >>> 5;
    const b = this.uint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * A standard normal variate (NumPy's legacy `standard_normal`: the polar Box–Muller method,
   * which makes two variates from one accepted point of the unit disc and keeps the second).
   */
  normal(): number {
    if (this.gauss !== null) {
      const g = this.gauss;
      this.gauss = null;
      return g;
    }
    let x1: number;
    let x2: number;
    let r2: number;
    do {
      x1 = 2 * this.uniform() - 1;
      x2 = 2 * this.uniform() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
    this.gauss = f * x1;
    return f * x2;
  }

  /**
   * A uniform integer in `[0, n)` for `1 <= n <= 2**53` (NumPy's `randint(0, n)` and its
   * `shuffle`: masked rejection sampling, which draws words masked to the smallest `2**k - 1`
   * covering `n - 1` until one is `<= n - 1`).
   * @throws RangeError if `n` is not such an integer.
   */
  integer(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 53) throw new RangeError(`Rng.integer: expected n to be an integer in [1, 2**53], received ${describe(n)}`);
    return this.interval(n - 1);
  }

  /** A uniform integer in `[0, max]` (NumPy's `random_interval`). */
  private interval(max: number): number {
    if (max === 0) return 0;
    if (max <= 0xffffffff) {
      const mask = smearRight(max);
      let v: number;
      do v = (this.uint32() & mask) >>> 0;
      while (v > max);
      return v;
    }
    // 64-bit path: next_uint64 = (first word << 32) | second word, masked.
    const hiMax = Math.floor(max / 2 ** 32);
    const hiMask = smearRight(hiMax);
    for (;;) {
      const hi = (this.uint32() & hiMask) >>> 0;
      const lo = this.uint32();
      const v = hi * 2 ** 32 + lo;
      if (v <= max) return v;
    }
  }

  /** Shuffles `items` in place (NumPy's legacy `shuffle`: Fisher–Yates from the end). */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.interval(i);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /**
   * A child generator whose stream is independent of this one's continuation in practice:
   * seeded (`init_by_array`) with four words drawn from this generator.
   */
  spawn(): Rng {
    const child = new Rng(0);
    child.initByArray([this.uint32(), this.uint32(), this.uint32(), this.uint32()]);
    return child;
  }
}

/** The smallest `2**k - 1` that is `>= v` (for `v < 2**32`). */
function smearRight(v: number): number {
  let m = v >>> 0;
  m |= m >>> 1;
  m |= m >>> 2;
  m |= m >>> 4;
  m |= m >>> 8;
  m |= m >>> 16;
  return m >>> 0;
}
