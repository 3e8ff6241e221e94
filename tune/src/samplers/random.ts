/**
 * Random search: Optuna's `RandomSampler` (`optuna/samplers/_random.py`), which samples each
 * parameter independently and uniformly in its transformed space (`optuna/_transform.py`,
 * `_SearchSpaceTransform`).
 * @module
 */
import { describe, type Distribution } from '../distributions.js';
import type { FrozenTrial, Sampler, StudyView } from '../types.js';
import { checkSeed, Rng } from './rng.js';
import { roundHalfEven } from './truncnorm.js';
import { checkOptions } from '../options.js';

/**
 * Options of {@link RandomSampler}.
 * @group Samplers
 */
export interface RandomSamplerOptions {
  /**
   * Seed of the random stream: an integer in `[0, 2**32 - 1]`. With the same seed, the same
   * calls give the same values, and the same values as Optuna's `RandomSampler(seed=seed)`.
   * Omitted: seeded from the OS's random source.
   */
  seed?: number | null;
}

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);

/** The largest double below `x` for finite `x` (`np.nextafter(x, x - 1)`; `x` itself when `x - 1 === x`). */
export function nextBelow(x: number): number {
  if (!Number.isFinite(x) || x - 1 === x) return x;
  if (x === 0) return -Number.MIN_VALUE;
  f64[0] = x;
  i64[0] = x > 0 ? i64[0]! - 1n : i64[0]! + 1n;
  return f64[0]!;
}

/**
 * One uniform draw for `distribution`, as Optuna's `RandomSampler.sample_independent` makes it
 * (internal representation). The transformed bounds and the way back:
 * - float: `[low, high]`, then kept below `high` (`min(x, nextafter(high, -inf))`);
 * - float, log: `[log low, log high]`, exp, clipped to `[low, nextafter(high, -inf)]`;
 * - float with step: `[low − step/2, high + step/2]`, rounded (half to even) to the grid, clipped;
 * - int: `[low − step/2, high + step/2]`, `floor((x − low)/step + 0.5)` steps from low, clipped;
 * - int, log: `[log(low − 1/2), log(high + 1/2)]`, exp, rounded half to even, clipped;
 * - categorical: one uniform per choice, the index of the largest (a uniform index).
 */
export function sampleUniform(rng: Rng, d: Distribution): number {
  if (d.type === 'categorical') {
    let best = 0;
    let bestValue = -Infinity;
    for (let i = 0; i < d.choices.length; i++) {
      const u = rng.uniform();
      if (u > bestValue) {
        bestValue = u;
        best = i;
      }
    }
    return best;
  }
  if (d.type === 'float') {
    if (d.log) {
      const lo = Math.log(d.low);
      const hi = Math.log(d.high);
      const v = Math.exp(lo + (hi - lo) * rng.uniform());
      return d.low === d.high ? v : Math.min(Math.max(v, d.low), nextBelow(d.high));
    }
    if (d.step !== null) {
      const half = 0.5 * d.step;
      const lo = d.low - half;
      const hi = d.high + half;
      const x = lo + (hi - lo) * rng.uniform();
      return Math.min(Math.max(roundHalfEven((x - d.low) / d.step) * d.step + d.low, d.low), d.high);
    }
    const x = d.low + (d.high - d.low) * rng.uniform();
    return d.low === d.high ? x : Math.min(x, nextBelow(d.high));
  }
  const half = 0.5 * d.step;
  if (d.log) {
    const lo = Math.log(d.low - half);
    const hi = Math.log(d.high + half);
    const v = roundHalfEven(Math.exp(lo + (hi - lo) * rng.uniform()));
    return Math.min(Math.max(v, d.low), d.high);
  }
  const lo = d.low - half;
  const hi = d.high + half;
  const x = lo + (hi - lo) * rng.uniform();
  const k = Math.floor((x - d.low) / d.step + 0.5);
  return Math.min(Math.max(k * d.step + d.low, d.low), d.high);
}

/**
 * Samples every parameter independently and uniformly (Optuna's `RandomSampler`): uniform or
 * log-uniform floats, stepped values uniform over their grid, uniform categorical choices.
 * @group Samplers
 */
export class RandomSampler implements Sampler {
  private readonly rng: Rng;

  /**
   * @param options See {@link RandomSamplerOptions}.
   * @throws TypeError or RangeError naming a bad option and the received value.
   */
  constructor(options: RandomSamplerOptions = {}) {
    checkOptions('RandomSampler', options, ['seed']);
    this.rng = new Rng(checkSeed('RandomSampler', options.seed));
  }

  /** Restarts the random stream from the OS's random source (Optuna's `reseed_rng`). */
  reseedRng(): void {
    this.rng.reseed();
  }

  /** No joint sampling: always `{}`. */
  inferRelativeSearchSpace(_study: StudyView, _trial: FrozenTrial): Record<string, Distribution> {
    return {};
  }

  /** No joint sampling: always `{}`. */
  sampleRelative(_study: StudyView, _trial: FrozenTrial, _searchSpace: Record<string, Distribution>): Record<string, number> {
    return {};
  }

  /** A uniform draw for one parameter (internal representation; see `sampleUniform` in this module). */
  sampleIndependent(_study: StudyView, _trial: FrozenTrial, name: string, distribution: Distribution): number {
    if (distribution === null || typeof distribution !== 'object') throw new TypeError(`RandomSampler: expected the distribution of ${JSON.stringify(name)} to be a distribution, received ${describe(distribution)}`);
    return sampleUniform(this.rng, distribution);
  }
}
