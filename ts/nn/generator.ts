/**
 * `Generator`: a small seeded random generator (xoshiro128**) whose state can be saved and
 * restored, so model initialisation, shuffling and dropout reproduce exactly.
 * @module
 */
import { MAX_ELEMENTS, checkNumber, describeValue } from '../validate.js';

/**
 * The saved state of a {@link Generator}: four unsigned 32-bit words.
 * @group Layers and models
 */
export type GeneratorState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  // SplitMix32 over the seed's low and high words, used only to expand a seed into a state.
  let s = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000) >>> 0, 0x9e3779b9);
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * A seeded pseudo-random generator, as `torch.Generator` is for PyTorch (but a different stream:
 * the same seed does not give PyTorch's numbers).
 *
 * @remarks
 * xoshiro128** (Blackman and Vigna): 128 bits of state, period 2^128 − 1, fast with 32-bit integer
 * arithmetic. `getState()` / `setState()` save and restore it exactly.
 *
 * @example
 * ```ts
 * const g = new Generator(42);
 * g.uniform(); // in [0, 1)
 * ```
 * @throws TypeError or RangeError unless `seed` is an integer in [0, 2^53); from the methods, for
 * a bad count, buffer, pair of bounds or state, before the generator's state changes.
 * @group Layers and models
 */
export class Generator {
  #s = new Uint32Array(4);

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /** Re-seeds the generator. */
  manualSeed(seed: number): this {
    checkNumber('Generator', 'seed', seed, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
    const next = splitmix32(seed);
    for (let i = 0; i < 4; i++) this.#s[i] = next();
    if ((this.#s[0]! | this.#s[1]! | this.#s[2]! | this.#s[3]!) === 0) this.#s[0] = 1;
    return this;
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** A float in [0, 1) with 24 random bits (exactly representable in float32). */
  uniform(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** A float in [0, 1) with 53 random bits. */
  uniform53(): number {
    return ((this.nextUint32() >>> 5) * 67108864 + (this.nextUint32() >>> 6)) / 9007199254740992;
  }

  /** An integer in [0, n), unbiased (rejection sampling). */
  randint(n: number): number {
    checkNumber('Generator.randint', 'n', n, { integer: true, min: 1, max: 0x1_0000_0000 });
    if (n === 1) return 0;
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** A random integer in [0, 2^53), e.g. a seed for a native kernel. */
  seed53(): number {
    return (this.nextUint32() & 0x1f_ffff) * 0x1_0000_0000 + this.nextUint32();
  }

  /** Fills `out` with U(low, high); `low <= high`. */
  fillUniform(out: Float32Array, low: number, high: number): Float32Array {
    if (!(out instanceof Float32Array)) throw new TypeError(`Generator.fillUniform: expected out to be a Float32Array, received ${describeValue(out)}`);
    checkNumber('Generator.fillUniform', 'low', low);
    checkNumber('Generator.fillUniform', 'high', high);
    if (low > high) throw new RangeError(`Generator.fillUniform: expected low <= high, received low ${describeValue(low)} and high ${describeValue(high)}`);
    const span = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + span * this.uniform();
    return out;
  }

  /** A random permutation of 0..n−1 (Fisher–Yates), written into `out` (n elements) if given. */
  permutation(n: number, out?: Uint32Array): Uint32Array {
    checkNumber('Generator.permutation', 'n', n, { integer: true, min: 0, max: MAX_ELEMENTS });
    if (out !== undefined && !(out instanceof Uint32Array && out.length === n)) {
      throw new TypeError(`Generator.permutation: expected out to be a Uint32Array of length ${n}, received ${describeValue(out)}`);
    }
    out ??= new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.randint(i + 1);
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }

  /** The generator's state (copy). */
  getState(): GeneratorState {
    return [this.#s[0]!, this.#s[1]!, this.#s[2]!, this.#s[3]!];
  }

  /** Restores a state from {@link getState}. */
  setState(state: GeneratorState): this {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
      throw new TypeError(`Generator.setState: expected state to be four unsigned 32-bit integers, received ${describeValue(state)}`);
    }
    if (state.every((v) => v === 0)) throw new RangeError('Generator.setState: the all-zero state is not valid');
    this.#s.set(state);
    return this;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * The generator layers use when none is given (as PyTorch's default generator), seeded 0 at
 * start-up; {@link manualSeed} reseeds it.
 * @example
 * ```ts
 * const state = defaultGenerator.getState(); // save, then setState(state) to replay
 * ```
 * @group Layers and models
 */
export const defaultGenerator = new Generator(0);

/**
 * Seeds the default generator, as `torch.manual_seed`, and returns it. Layers built afterwards
 * without a `generator` option draw their initial weights from it.
 * @example
 * ```ts
 * manualSeed(0);
 * const model = mlp(); // the same weights on every run
 * ```
 * @throws TypeError or RangeError unless `seed` is an integer in [0, 2^53).
 * @group Layers and models
 */
export function manualSeed(seed: number): Generator {
  return defaultGenerator.manualSeed(seed);
}
