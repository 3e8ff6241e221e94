/**
 * TPE's Parzen estimators: mixtures of products of per-parameter kernels, ported from Optuna's
 * `optuna/samplers/_tpe/parzen_estimator.py` (`_ParzenEstimator`) and
 * `probability_distributions.py` (`_MixtureOfProductDistribution` and the `_Batched*`
 * distributions).
 *
 * A Parzen estimator built on n observations (points of the search space) is a mixture of
 * n + 1 components: one per observation, centred on it, and a broad "prior" component. Each
 * component is a product over parameters of one-dimensional kernels:
 * - numeric parameters: a normal truncated to the domain (in log space for log
 *   distributions); for stepped floats and ints, the kernel's mass over each grid point's bin
 *   `[x − step/2, x + step/2]`, renormalized over the domain;
 * - categorical parameters: a probability vector over the choices, smoothed by the prior.
 * @module
 */
import type { CategoricalDistribution, Distribution, FloatDistribution, IntDistribution } from '../distributions.js';
import type { Rng } from './rng.js';
import { logGaussMass, normLogpdf, npSum, ppf, roundHalfEven } from './truncnorm.js';

/** Optuna's `EPS` in `parzen_estimator.py`: the smallest bandwidth without the magic clip. */
const EPS = 1e-12;

/**
 * The kernels of one categorical parameter, one probability row per mixture component
 * (`_BatchedCategoricalDistributions`).
 */
export interface BatchedCategorical {
  /** The kind. */
  readonly kind: 'categorical';
  /** `weights[k][c]`: the probability of choice `c` under component `k` (rows sum to 1). */
  readonly weights: readonly Float64Array[];
}

/**
 * The kernels of one numeric parameter: a truncated normal per mixture component
 * (`_BatchedTruncNormDistributions`, `_BatchedTruncLogNormDistributions`, and their
 * `_BatchedDiscrete*` versions when `step > 0`).
 */
export interface BatchedNumerical {
  /** The kind. */
  readonly kind: 'numerical';
  /** The centres, one per component (in log space for log distributions). */
  readonly mu: Float64Array;
  /** The bandwidths (standard deviations before truncation). */
  readonly sigma: Float64Array;
  /** The distribution's lower bound (not in log space). */
  readonly low: number;
  /** The distribution's upper bound (not in log space). */
  readonly high: number;
  /** The grid spacing, or 0 for a continuous parameter. */
  readonly step: number;
  /** Whether the kernels live in log space. */
  readonly log: boolean;
  /** The truncation's lower bound in kernel space: low, log(low), low − step/2 or log(low − step/2). */
  readonly adaptedLow: number;
  /** The truncation's upper bound in kernel space. */
  readonly adaptedHigh: number;
}

/** The kernels of one parameter. */
export type BatchedDistribution = BatchedCategorical | BatchedNumerical;

/** The settings of a Parzen estimator (`_ParzenEstimatorParameters`). */
export interface ParzenEstimatorParameters {
  /** The weight of the prior component, before normalization (observations weigh `weights(n)`). */
  readonly priorWeight: number;
  /** Whether bandwidths have a floor of (high − low)/min(100, 1 + number of kernels). */
  readonly considerMagicClip: boolean;
  /** Whether the outermost observations' bandwidths look at the domain's ends. */
  readonly considerEndpoints: boolean;
  /** The weights of n observations, oldest first. */
  readonly weights: (n: number) => ArrayLike<number>;
}

/**
 * A mixture of products of per-parameter kernels (`_MixtureOfProductDistribution`):
 * p(x) = Σ_k w_k Π_i K_{k,i}(x_i).
 */
export class MixtureOfProductDistribution {
  /**
   * @param weights The mixture weights w_k (summing to 1).
   * @param distributions The kernels, one entry per parameter, each with one kernel per component.
   */
  constructor(
    readonly weights: Float64Array,
    readonly distributions: readonly BatchedDistribution[],
  ) {}

  /**
   * Draws `size` points (rows of parameter values, categorical ones as indices). The random
   * draws are consumed in Optuna's order, so with a NumPy-identical stream the points are
   * Optuna's: `size` uniforms to pick components (`rng.choice(p=weights)`), `size` uniforms for
   * each categorical parameter in order, then `size` uniforms for each numeric parameter in
   * order (the truncated normals' quantiles, `_truncnorm.rvs`).
   */
  sample(rng: Rng, size: number): Float64Array[] {
    const K = this.weights.length;
    // rng.choice(K, p=weights, size): inverse CDF of the cumulative weights (searchsorted right).
    const cdf = new Float64Array(K);
    let acc = 0;
    for (let k = 0; k < K; k++) cdf[k] = acc += this.weights[k]!;
    const total = cdf[K - 1]!;
    for (let k = 0; k < K; k++) cdf[k] = cdf[k]! / total;
    const active = new Int32Array(size);
    for (let s = 0; s < size; s++) active[s] = searchsortedRight(cdf, rng.uniform());

    const d = this.distributions.length;
    const ret: Float64Array[] = Array.from({ length: size }, () => new Float64Array(d));
    const numerical: number[] = [];
    this.distributions.forEach((dist, i) => {
      if (dist.kind === 'categorical') {
        // The smallest c whose cumulative probability reaches the uniform draw.
        const cum = dist.weights.map((row) => {
          const c = new Float64Array(row.length);
          let a = 0;
          for (let j = 0; j < row.length; j++) c[j] = a += row[j]!;
          c[row.length - 1] = 1; // avoid rounding errors, as Optuna does
          return c;
        });
        for (let s = 0; s < size; s++) {
          const u = rng.uniform();
          const c = cum[active[s]!]!;
          let count = 0;
          for (let j = 0; j < c.length; j++) if (c[j]! < u) count++;
          ret[s]![i] = count;
        }
      } else {
        numerical.push(i);
      }
    });
    if (numerical.length > 0) {
      // One batch of truncated-normal quantiles, parameter-major as NumPy lays it out.
      const n = numerical.length * size;
      const q = new Float64Array(n);
      const a = new Float64Array(n);
      const b = new Float64Array(n);
      const mus = new Float64Array(n);
      const sigmas = new Float64Array(n);
      numerical.forEach((i, r) => {
        const dist = this.distributions[i] as BatchedNumerical;
        for (let s = 0; s < size; s++) {
          const j = r * size + s;
          const mu = dist.mu[active[s]!]!;
          const sigma = dist.sigma[active[s]!]!;
          mus[j] = mu;
          sigmas[j] = sigma;
          a[j] = (dist.adaptedLow - mu) / sigma;
          b[j] = (dist.adaptedHigh - mu) / sigma;
        }
      });
      for (let j = 0; j < n; j++) q[j] = rng.uniform();
      const z = ppf(q, a, b);
      numerical.forEach((i, r) => {
        const dist = this.distributions[i] as BatchedNumerical;
        for (let s = 0; s < size; s++) {
          const j = r * size + s;
          let v = z[j]! * sigmas[j]! + mus[j]!;
          if (dist.log) v = Math.exp(v);
          if (dist.step !== 0) {
            // Snap to the grid low + k·step (NumPy's round: half to even) and clip.
            v = Math.min(Math.max(dist.low + roundHalfEven((v - dist.low) / dist.step) * dist.step, dist.low), dist.high);
          }
          ret[s]![i] = v;
        }
      });
    }
    return ret;
  }

  /**
   * log p(x) for each row of `x` (`log_pdf`): per component, the sum of the kernels' log
   * densities (categorical: log probability; discrete: log of the bin's mass minus log of the
   * domain's mass; continuous: the truncated normal's log density, in log space for log
   * distributions) plus log w_k, then a log-sum-exp over components.
   */
  logPdf(x: readonly ArrayLike<number>[]): Float64Array {
    const S = x.length;
    const K = this.weights.length;
    const W = Array.from({ length: S }, () => new Float64Array(K));
    const cont: number[] = [];
    this.distributions.forEach((dist, i) => {
      if (dist.kind === 'categorical') {
        for (let s = 0; s < S; s++) {
          const c = Math.trunc(x[s]![i]!);
          const row = W[s]!;
          for (let k = 0; k < K; k++) row[k]! += Math.log(dist.weights[k]![c]!);
        }
        return;
      }
      if (dist.step === 0) {
        cont.push(i);
        return;
      }
      // Discrete: mass of [x − step/2, x + step/2] (log-transformed ends for log), normalized
      // by the mass of the whole domain [adaptedLow, adaptedHigh].
      const half = dist.step / 2;
      const norm = new Float64Array(K);
      for (let k = 0; k < K; k++) norm[k] = logGaussMass((dist.adaptedLow - dist.mu[k]!) / dist.sigma[k]!, (dist.adaptedHigh - dist.mu[k]!) / dist.sigma[k]!);
      const cache = new Map<number, Float64Array>();
      for (let s = 0; s < S; s++) {
        const xi = x[s]![i]!;
        let mass = cache.get(xi);
        if (mass === undefined) {
          const left = dist.log ? Math.log(xi - half) : xi - half;
          const right = dist.log ? Math.log(xi + half) : xi + half;
          mass = new Float64Array(K);
          for (let k = 0; k < K; k++) mass[k] = logGaussMass((left - dist.mu[k]!) / dist.sigma[k]!, (right - dist.mu[k]!) / dist.sigma[k]!);
          cache.set(xi, mass);
        }
        const row = W[s]!;
        for (let k = 0; k < K; k++) row[k]! += mass[k]!;
      }
      for (let s = 0; s < S; s++) {
        const row = W[s]!;
        for (let k = 0; k < K; k++) row[k]! -= norm[k]!;
      }
    });
    if (cont.length > 0) {
      // Truncated-normal log densities (`_truncnorm.logpdf`), summed over the continuous parameters.
      const C = cont.length;
      const A = new Float64Array(K * C);
      const B = new Float64Array(K * C);
      const logMass = new Float64Array(K * C);
      const logScale = new Float64Array(K * C);
      cont.forEach((i, c) => {
        const dist = this.distributions[i] as BatchedNumerical;
        for (let k = 0; k < K; k++) {
          const j = k * C + c;
          A[j] = (dist.adaptedLow - dist.mu[k]!) / dist.sigma[k]!;
          B[j] = (dist.adaptedHigh - dist.mu[k]!) / dist.sigma[k]!;
          logMass[j] = logGaussMass(A[j]!, B[j]!);
          logScale[j] = Math.log(dist.sigma[k]!);
        }
      });
      const terms = new Float64Array(C);
      for (let s = 0; s < S; s++) {
        const row = W[s]!;
        for (let k = 0; k < K; k++) {
          cont.forEach((i, c) => {
            const dist = this.distributions[i] as BatchedNumerical;
            const raw = x[s]![i]!;
            const xv = dist.log ? Math.log(raw) : raw;
            const j = k * C + c;
            const z = (xv - dist.mu[k]!) / dist.sigma[k]!;
            const a = A[j]!;
            const b = B[j]!;
            terms[c] = a === b ? NaN : z < a || z > b ? -Infinity : normLogpdf(z) - logMass[j]! - logScale[j]!;
          });
          row[k]! += npSum(terms);
        }
      }
    }
    const logW = this.weights.map(Math.log);
    const out = new Float64Array(S);
    const tmp = new Float64Array(K);
    for (let s = 0; s < S; s++) {
      const row = W[s]!;
      let max = -Infinity;
      let nan = false;
      for (let k = 0; k < K; k++) {
        const v = (row[k]! += logW[k]!);
        if (Number.isNaN(v)) nan = true;
        else if (v > max) max = v;
      }
      if (nan) max = NaN; // np.max propagates NaN
      // Avoid (−inf) − (−inf) when every component has zero density.
      if (max === -Infinity) max = 0;
      for (let k = 0; k < K; k++) tmp[k] = Math.exp(row[k]! - max);
      out[s] = Math.log(npSum(tmp)) + max;
    }
    return out;
  }
}

/** The first index whose value is greater than `v` (NumPy's `searchsorted(side='right')`). */
function searchsortedRight(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v < sorted[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * A Parzen estimator over a search space (`_ParzenEstimator`), built from observations in
 * internal representation (categorical values as indices).
 */
export class ParzenEstimator {
  /** The mixture this estimator is. */
  readonly mixture: MixtureOfProductDistribution;
  private readonly names: readonly string[];

  /**
   * @param observations Per parameter, the observed internal values (the same count for all).
   * @param searchSpace The parameters, in the order they are sampled (Optuna: sorted by name).
   * @param parameters The estimator's settings.
   * @param predeterminedWeights Observation weights to use instead of `parameters.weights(n)`.
   */
  constructor(observations: Readonly<Record<string, ArrayLike<number>>>, searchSpace: ReadonlyArray<readonly [string, Distribution]>, parameters: ParzenEstimatorParameters, predeterminedWeights?: ArrayLike<number>) {
    if (!(parameters.priorWeight >= 0)) throw new RangeError(`ParzenEstimator: expected priorWeight to be >= 0, received ${parameters.priorWeight}`);
    this.names = searchSpace.map(([name]) => name);
    const n = searchSpace.length > 0 ? (observations[searchSpace[0]![0]]?.length ?? 0) : 0;
    const obsWeights = predeterminedWeights ?? callWeightsFunc(parameters.weights, n);
    // Mixture weights: the observations' weights and the prior's, normalized. With no
    // observations the prior is the whole mixture.
    let weights: Float64Array;
    if (n === 0) {
      weights = Float64Array.of(1);
    } else {
      weights = new Float64Array(obsWeights.length + 1);
      for (let i = 0; i < obsWeights.length; i++) weights[i] = obsWeights[i]!;
      weights[obsWeights.length] = parameters.priorWeight;
    }
    const sum = npSum(weights);
    for (let i = 0; i < weights.length; i++) weights[i] = weights[i]! / sum;
    const distributions = searchSpace.map(([name, dist]) => {
      const obs = Float64Array.from(observations[name] ?? []);
      return dist.type === 'categorical' ? categoricalKernels(obs, dist, parameters) : numericalKernels(obs, dist, parameters);
    });
    this.mixture = new MixtureOfProductDistribution(weights, distributions);
  }

  /** Draws `size` points, per parameter (internal values; `_ParzenEstimator.sample`). */
  sample(rng: Rng, size: number): Record<string, Float64Array> {
    const rows = this.mixture.sample(rng, size);
    const out: Record<string, Float64Array> = {};
    this.names.forEach((name, i) => {
      out[name] = Float64Array.from(rows, (r) => r[i]!);
    });
    return out;
  }

  /** log p(x) at points given per parameter (`_ParzenEstimator.log_pdf`). */
  logPdf(samples: Readonly<Record<string, ArrayLike<number>>>): Float64Array {
    const first = samples[this.names[0]!];
    const S = first?.length ?? 0;
    const rows = Array.from({ length: S }, (_, s) => Float64Array.from(this.names, (name) => samples[name]![s]!));
    return this.mixture.logPdf(rows);
  }
}

/** `weights(n)`, truncated to n and checked as Optuna's `_call_weights_func` does. */
function callWeightsFunc(weightsFunc: (n: number) => ArrayLike<number>, n: number): Float64Array {
  const raw = weightsFunc(n);
  if (raw === null || typeof raw !== 'object' || typeof raw.length !== 'number') {
    throw new TypeError(`TPESampler: the weights function must return an array of numbers, received ${String(raw)} for n = ${n}`);
  }
  const w = Float64Array.from(Array.prototype.slice.call(raw, 0, n) as number[]);
  const shown = `[${Array.from(w).join(', ')}]`;
  if (w.some((v) => v < 0)) throw new RangeError(`TPESampler: the weights function is not allowed to return negative values ${shown}; its argument was ${n}`);
  if (w.length > 0 && npSum(w) <= 0) throw new RangeError(`TPESampler: the weights function is not allowed to return all-zero values ${shown}; its argument was ${n}`);
  if (!w.every((v) => Number.isFinite(v))) throw new RangeError(`TPESampler: the weights function is not allowed to return infinite or NaN values ${shown}; its argument was ${n}`);
  return w;
}

/**
 * Categorical kernels (`_calculate_categorical_distributions`): with n observations there are
 * n + 1 rows; every row starts at priorWeight/(n + 1) for each choice, the row of observation i
 * gets +1 at its choice, and rows are normalized. The last row (the prior) is uniform.
 */
function categoricalKernels(obs: Float64Array, dist: CategoricalDistribution, p: ParzenEstimatorParameters): BatchedCategorical {
  const nChoices = dist.choices.length;
  if (obs.length === 0) return { kind: 'categorical', weights: [new Float64Array(nChoices).fill(1 / nChoices)] };
  const nKernels = obs.length + 1;
  const weights = Array.from({ length: nKernels }, () => new Float64Array(nChoices).fill(p.priorWeight / nKernels));
  obs.forEach((v, i) => {
    weights[i]![Math.trunc(v)]! += 1;
  });
  for (const row of weights) {
    const s = npSum(row);
    const d = s === 0 ? 1 : s;
    for (let j = 0; j < nChoices; j++) row[j] = row[j]! / d;
  }
  return { kind: 'categorical', weights };
}

/**
 * Numeric kernels (`_calculate_numerical_distributions`). The domain is widened by half a
 * step on each side for stepped floats and ints, and taken in log space for log
 * distributions. Each observation's bandwidth is the larger gap to its sorted neighbours (the
 * domain's ends count as neighbours; without `considerEndpoints` the outermost observations
 * use their inner gap only), clipped to [minsigma, high − low] where minsigma is
 * (high − low)/min(100, 1 + number of kernels) with the magic clip, else 1e-12. The prior
 * kernel sits at the middle with bandwidth high − low.
 */
function numericalKernels(obs: Float64Array, dist: FloatDistribution | IntDistribution, p: ParzenEstimatorParameters): BatchedNumerical {
  const stepped = dist.type === 'int' || dist.step !== null;
  const step = stepped ? (dist.step as number) : 0;
  let low = dist.low;
  let high = dist.high;
  if (stepped) {
    low -= step / 2;
    high += step / 2;
  }
  let mus = obs;
  if (dist.log) {
    mus = obs.map(Math.log);
    low = Math.log(low);
    high = Math.log(high);
  }
  const n = mus.length;
  const sigmas = new Float64Array(n);
  if (n > 0) {
    // Stable argsort (NumPy's default sort orders ties by CPU-dependent rules; see the tests).
    const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => compareNanLast(mus[i]!, mus[j]!) || i - j);
    const withEnds = new Float64Array(n + 2);
    withEnds[0] = low;
    order.forEach((i, r) => {
      withEnds[r + 1] = mus[i]!;
    });
    withEnds[n + 1] = high;
    const sorted = new Float64Array(n);
    for (let r = 0; r < n; r++) sorted[r] = Math.max(withEnds[r + 1]! - withEnds[r]!, withEnds[r + 2]! - withEnds[r + 1]!);
    if (!p.considerEndpoints && n + 2 >= 4) {
      sorted[0] = withEnds[2]! - withEnds[1]!;
      sorted[n - 1] = withEnds[n]! - withEnds[n - 1]!;
    }
    const maxSigma = high - low;
    const minSigma = p.considerMagicClip ? (high - low) / Math.min(100.0, 1.0 + (n + 1)) : EPS;
    // np.clip(x, lo, hi) = minimum(maximum(x, lo), hi).
    order.forEach((i, r) => {
      sigmas[i] = Math.min(Math.max(sorted[r]!, minSigma), maxSigma);
    });
  }
  const mu = new Float64Array(n + 1);
  mu.set(mus);
  mu[n] = 0.5 * (low + high);
  const sigma = new Float64Array(n + 1);
  sigma.set(sigmas);
  sigma[n] = high - low;
  const adaptedLow = dist.log ? Math.log(dist.low - step / 2) : dist.low - step / 2;
  const adaptedHigh = dist.log ? Math.log(dist.high + step / 2) : dist.high + step / 2;
  return { kind: 'numerical', mu, sigma, low: dist.low, high: dist.high, step, log: dist.log, adaptedLow, adaptedHigh };
}

/** Ascending order with NaN last, as NumPy sorts. */
function compareNanLast(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
}
