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
import { HI_WORD, logGaussMass, NORM_PDF_LOG_C, npSum, ppf, roundHalfEven } from './truncnorm.js';

/** Optuna's `EPS` in `parzen_estimator.py`: the smallest bandwidth without the magic clip. */
const EPS = 1e-12;
/**
 * How far (in log density) below the best component a component must provably be for
 * `logPdf` to skip it: exp(x) is exactly 0 below about −745.13, so its term of the log-sum-exp
 * is 0 either way.
 */
const PRUNE_GAP = 800;
/** The relative slack added to PRUNE_GAP, far above the rounding error of the bounds. */
const PRUNE_REL = 1e-6;
/** Pruning is tried with at least this many continuous parameters. */
const PRUNE_MIN_PARAMS = 3;

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
   * Draws `size` points, given per parameter: `columns[i][s]` is parameter i's value at point s
   * (categorical ones as indices). The random draws are consumed in Optuna's order, so with a
   * NumPy-identical stream the points are Optuna's: `size` uniforms to pick components
   * (`rng.choice(p=weights)`), `size` uniforms for each categorical parameter in order, then
   * `size` uniforms for each numeric parameter in order (the truncated normals' quantiles,
   * `_truncnorm.rvs`).
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

    const columns = this.distributions.map(() => new Float64Array(size));
    const numerical: number[] = [];
    this.distributions.forEach((dist, i) => {
      if (dist.kind === 'categorical') {
        // The number of choices whose cumulative probability in the active component's row is
        // below the uniform draw (Optuna pins the last cumulative to 1, which never is).
        for (let s = 0; s < size; s++) {
          const u = rng.uniform();
          const row = dist.weights[active[s]!]!;
          let cum = 0;
          let count = 0;
          for (let j = 0; j < row.length - 1; j++) if ((cum += row[j]!) < u) count++;
          columns[i]![s] = count;
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
        const col = columns[i]!;
        for (let s = 0; s < size; s++) {
          const j = r * size + s;
          let v = z[j]! * sigmas[j]! + mus[j]!;
          if (dist.log) v = Math.exp(v);
          if (dist.step !== 0) {
            // Snap to the grid low + k·step (NumPy's round: half to even) and clip.
            v = Math.min(Math.max(dist.low + roundHalfEven((v - dist.low) / dist.step) * dist.step, dist.low), dist.high);
          }
          col[s] = v;
        }
      });
    }
    return columns;
  }

  /**
   * log p(x) at `S` points given per parameter, `columns[i][s]` being parameter i's value at
   * point s (`log_pdf`): per component, the sum of the kernels' log densities (categorical:
   * log probability; discrete: log of the bin's mass minus log of the domain's mass;
   * continuous: the truncated normal's log density, in log space for log distributions) plus
   * log w_k, then a log-sum-exp over components. The floating-point operations and their order
   * are those of Optuna's `log_pdf` (NumPy's), element by element; only the loops are flattened.
   */
  logPdf(columns: readonly ArrayLike<number>[], S: number): Float64Array {
    const K = this.weights.length;
    // W[s·K + k]: the log density of point s under component k, accumulated per parameter in
    // order (categorical and discrete parameters first, as NumPy adds them; then the sum over
    // the continuous parameters).
    const W = new Float64Array(S * K);
    const cont: number[] = [];
    for (let i = 0; i < this.distributions.length; i++) {
      const dist = this.distributions[i]!;
      const col = columns[i]!;
      if (dist.kind === 'categorical') {
        // log of each component's probability of the point's choice, per distinct choice.
        const cache = new Map<number, Float64Array>();
        for (let s = 0; s < S; s++) {
          const c = Math.trunc(col[s]!);
          let logs = cache.get(c);
          if (logs === undefined) {
            logs = new Float64Array(K);
            for (let k = 0; k < K; k++) logs[k] = Math.log(dist.weights[k]![c]!);
            cache.set(c, logs);
          }
          const o = s * K;
          for (let k = 0; k < K; k++) W[o + k]! += logs[k]!;
        }
        continue;
      }
      if (dist.step === 0) {
        cont.push(i);
        continue;
      }
      // Discrete: mass of [x − step/2, x + step/2] (log-transformed ends for log), normalized
      // by the mass of the whole domain [adaptedLow, adaptedHigh].
      const half = dist.step / 2;
      const mu = dist.mu;
      const sigma = dist.sigma;
      const norm = new Float64Array(K);
      for (let k = 0; k < K; k++) norm[k] = logGaussMass((dist.adaptedLow - mu[k]!) / sigma[k]!, (dist.adaptedHigh - mu[k]!) / sigma[k]!);
      const cache = new Map<number, Float64Array>();
      for (let s = 0; s < S; s++) {
        const xi = col[s]!;
        let mass = cache.get(xi);
        if (mass === undefined) {
          const left = dist.log ? Math.log(xi - half) : xi - half;
          const right = dist.log ? Math.log(xi + half) : xi + half;
          mass = new Float64Array(K);
          for (let k = 0; k < K; k++) mass[k] = logGaussMass((left - mu[k]!) / sigma[k]!, (right - mu[k]!) / sigma[k]!);
          cache.set(xi, mass);
        }
        const o = s * K;
        for (let k = 0; k < K; k++) W[o + k] = W[o + k]! + mass[k]! - norm[k]!;
      }
    }
    const logW = new Float64Array(K);
    for (let k = 0; k < K; k++) logW[k] = Math.log(this.weights[k]!);
    const C = cont.length;
    if (C > 0) this.addContinuous(W, columns, S, cont, logW);
    const out = new Float64Array(S);
    const tmp = new Float64Array(K);
    for (let s = 0; s < S; s++) {
      const o = s * K;
      let max = -Infinity;
      let nan = false;
      for (let k = 0; k < K; k++) {
        const v = (W[o + k] = W[o + k]! + logW[k]!);
        if (v !== v) nan = true;
        else if (v > max) max = v;
      }
      if (nan) max = NaN; // np.max propagates NaN
      // Avoid (−inf) − (−inf) when every component has zero density.
      if (max === -Infinity) max = 0;
      for (let k = 0; k < K; k++) {
        const d = W[o + k]! - max;
        // exp underflows to exactly 0 far below −745.13 (pruned components are −inf).
        tmp[k] = d < -PRUNE_GAP ? 0 : Math.exp(d);
      }
      out[s] = Math.log(npSum(tmp, 0, K)) + max;
    }
    return out;
  }

  /**
   * Adds to `W[s·K + k]` the sum over the continuous parameters `cont` of the truncated-normal
   * log densities (`_truncnorm.logpdf`), NumPy's pairwise sum over parameters, for every point
   * s and component k: each term is log φ(z) − log(Φ(b) − Φ(a)) − log σ with z = (x − μ)/σ
   * and standardized bounds a, b (−inf outside [a, b], NaN when a = b).
   *
   * Pruning, exact: a component whose row (W plus this sum plus log w_k) is provably more than
   * PRUNE_GAP below another component's row contributes exp(row − max) = 0 to the log-sum-exp
   * of logPdf whatever its exact value, so it is set to −inf (which contributes the
   * same 0) once an upper bound of its row falls that low, and its terms are not all computed.
   * The bound: each term is at most −z²/2 − log √(2π) − LMlow − log σ, where LMlow ≤ log of
   * the kernel's mass (−1.2 when the centre lies in the domain and σ is at most the domain's
   * width, as TPE's kernels do: the mass is then at least Φ(1) − 1/2). Components with a
   * non-finite constant, points with a non-finite coordinate and non-finite W are never
   * pruned, so no NaN or +inf row is ever pruned; the slack PRUNE_REL covers rounding.
   */
  private addContinuous(W: Float64Array, columns: readonly ArrayLike<number>[], S: number, cont: readonly number[], logW: Float64Array): void {
    const K = this.weights.length;
    const C = cont.length;
    const KC = K * C;
    // Per (component, parameter), component-major: the centre, the bandwidth, an approximate
    // 1/σ (for the bound only), log σ; and, computed when a component is evaluated exactly,
    // the standardized bounds and the log mass between them.
    const MU = new Float64Array(KC);
    const SG = new Float64Array(KC);
    const IS = new Float64Array(KC);
    const LS = new Float64Array(KC);
    const A = new Float64Array(KC);
    const B = new Float64Array(KC);
    const LM = new Float64Array(KC);
    const exact = new Uint8Array(K); // whether A, B, LM hold component k's values
    const lows = new Float64Array(C);
    const highs = new Float64Array(C);
    const isLog = new Uint8Array(C);
    for (let c = 0; c < C; c++) {
      const dist = this.distributions[cont[c]!] as BatchedNumerical;
      isLog[c] = dist.log ? 1 : 0;
      lows[c] = dist.adaptedLow;
      highs[c] = dist.adaptedHigh;
      const mu = dist.mu;
      const sigma = dist.sigma;
      let lastSigma = NaN;
      let lastLog = NaN;
      for (let k = 0, j = c; k < K; k++, j += C) {
        const sg = sigma[k]!;
        MU[j] = mu[k]!;
        SG[j] = sg;
        IS[j] = 1 / sg;
        // Most bandwidths repeat (the magic clip's floor): log σ once per run of equal ones.
        if (sg !== lastSigma) {
          lastSigma = sg;
          lastLog = Math.log(sg);
        }
        LS[j] = lastLog;
      }
    }
    const computeExact = (k: number): void => {
      for (let c = 0, j = k * C; c < C; c++, j++) {
        const m = MU[j]!;
        const sg = SG[j]!;
        const a = (lows[c]! - m) / sg;
        const b = (highs[c]! - m) / sg;
        A[j] = a;
        B[j] = b;
        LM[j] = logGaussMass(a, b);
      }
      exact[k] = 1;
    };
    // The bound's constants: UK[k] = Σ_c (−log √(2π) − LMlow − log σ), and UA[k], a scale of
    // the magnitudes involved (for the slack); prunable[k] = 0 when a bound is not available.
    const prunable = new Uint8Array(K);
    const UK = new Float64Array(K);
    const UA = new Float64Array(K);
    // With one or two parameters, the bounds rarely prune enough to pay for themselves.
    const usePruning = K > 1 && C >= PRUNE_MIN_PARAMS;
    for (let k = 0; k < K && usePruning; k++) {
      let ok = Number.isFinite(logW[k]!);
      let sum = 0;
      let abs = Math.abs(logW[k]!);
      for (let c = 0, j = k * C; c < C && ok; c++, j++) {
        const m = MU[j]!;
        const sg = SG[j]!;
        const lo = lows[c]!;
        const hi = highs[c]!;
        let lmLow: number;
        if (Number.isFinite(m) && sg > 0 && Number.isFinite(sg) && Number.isFinite(lo) && Number.isFinite(hi) && lo <= m && m <= hi && sg <= hi - lo) {
          lmLow = -1.2;
        } else {
          if (!exact[k]) computeExact(k);
          lmLow = LM[j]!;
          if (!(Number.isFinite(lmLow) && Number.isFinite(m) && sg > 0 && Number.isFinite(sg) && A[j]! < B[j]!)) ok = false;
        }
        const ls = LS[j]!;
        sum += -NORM_PDF_LOG_C - lmLow - ls;
        abs += NORM_PDF_LOG_C + Math.abs(lmLow) + Math.abs(ls);
      }
      prunable[k] = ok ? 1 : 0;
      UK[k] = sum;
      UA[k] = 2 * abs;
    }
    const xs = new Float64Array(C);
    const terms = new Float64Array(C);
    for (let s = 0; s < S; s++) {
      let finiteX = true;
      for (let c = 0; c < C; c++) {
        const raw = columns[cont[c]!]![s]!;
        const v = isLog[c] ? Math.log(raw) : raw;
        xs[c] = v;
        if (!Number.isFinite(v)) finiteX = false;
      }
      const o = s * K;
      // The largest row computed exactly so far (at most the max), the prior's first.
      let maxRow = -Infinity;
      for (let kk = 0; kk < K; kk++) {
        const k = kk === 0 ? K - 1 : kk - 1;
        const j0 = k * C;
        const w0 = W[o + k]!;
        if (finiteX && prunable[k] && maxRow > -Infinity && Number.isFinite(w0)) {
          const lw = logW[k]!;
          const threshold = maxRow - PRUNE_GAP - PRUNE_REL * (Math.abs(maxRow) + UA[k]! + Math.abs(w0));
          let bound = UK[k]! + w0 + lw;
          let pruned = false;
          for (let c = 0; c < C; c++) {
            const z = (xs[c]! - MU[j0 + c]!) * IS[j0 + c]!;
            bound -= 0.5 * z * z;
            if (bound + PRUNE_REL * Math.abs(bound) < threshold) {
              pruned = true;
              break;
            }
          }
          if (pruned) {
            W[o + k] = -Infinity;
            continue;
          }
        }
        if (!exact[k]) computeExact(k);
        for (let c = 0; c < C; c++) {
          const j = j0 + c;
          const z = (xs[c]! - MU[j]!) / SG[j]!;
          const a = A[j]!;
          const b = B[j]!;
          terms[c] = a === b ? NaN : z < a || z > b ? -Infinity : -(z * z) / 2.0 - NORM_PDF_LOG_C - LM[j]! - LS[j]!;
        }
        let sum: number;
        if (C < 8) {
          // npSum below 8 terms: left to right from 0.
          sum = 0;
          for (let c = 0; c < C; c++) sum += terms[c]!;
        } else {
          sum = npSum(terms, 0, C);
        }
        const w = w0 + sum;
        W[o + k] = w;
        const row = w + logW[k]!;
        if (row > maxRow) maxRow = row;
      }
    }
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
    const columns = this.mixture.sample(rng, size);
    const out: Record<string, Float64Array> = {};
    this.names.forEach((name, i) => {
      out[name] = columns[i]!;
    });
    return out;
  }

  /** log p(x) at points given per parameter (`_ParzenEstimator.log_pdf`). */
  logPdf(samples: Readonly<Record<string, ArrayLike<number>>>): Float64Array {
    const S = samples[this.names[0]!]?.length ?? 0;
    return this.mixture.logPdf(this.names.map((name) => samples[name]!), S);
  }
}

/** `weights(n)`, truncated to n and checked as Optuna's `_call_weights_func` does. */
function callWeightsFunc(weightsFunc: (n: number) => ArrayLike<number>, n: number): Float64Array {
  const raw = weightsFunc(n);
  if (raw === null || typeof raw !== 'object' || typeof raw.length !== 'number') {
    throw new TypeError(`TPESampler: the weights function must return an array of numbers, received ${String(raw)} for n = ${n}`);
  }
  const w = Float64Array.from(Array.prototype.slice.call(raw, 0, n) as number[]);
  // The values, for the messages (only built when one is thrown).
  const shown = () => `[${Array.from(w).join(', ')}]`;
  let negative = false;
  let finite = true;
  for (let i = 0; i < w.length; i++) {
    const v = w[i]!;
    if (v < 0) negative = true;
    if (!Number.isFinite(v)) finite = false;
  }
  if (negative) throw new RangeError(`TPESampler: the weights function is not allowed to return negative values ${shown()}; its argument was ${n}`);
  if (w.length > 0 && npSum(w) <= 0) throw new RangeError(`TPESampler: the weights function is not allowed to return all-zero values ${shown()}; its argument was ${n}`);
  if (!finite) throw new RangeError(`TPESampler: the weights function is not allowed to return infinite or NaN values ${shown()}; its argument was ${n}`);
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
  const step = dist.type === 'int' || dist.step !== null ? (dist.step as number) : 0;
  // The domain in kernel space (widened by half a step; log-transformed).
  let low = dist.low - step / 2;
  let high = dist.high + step / 2;
  let mus = obs;
  if (dist.log) {
    mus = new Float64Array(obs.length);
    for (let i = 0; i < obs.length; i++) mus[i] = Math.log(obs[i]!);
    low = Math.log(low);
    high = Math.log(high);
  }
  const n = mus.length;
  const sigmas = new Float64Array(n);
  if (n > 0) {
    // Stable argsort (NumPy's default sort orders ties by CPU-dependent rules; see the tests).
    const order = stableArgsort(mus);
    const withEnds = new Float64Array(n + 2);
    withEnds[0] = low;
    for (let r = 0; r < n; r++) withEnds[r + 1] = mus[order[r]!]!;
    withEnds[n + 1] = high;
    const sorted = new Float64Array(n);
    for (let r = 0; r < n; r++) sorted[r] = Math.max(withEnds[r + 1]! - withEnds[r]!, withEnds[r + 2]! - withEnds[r + 1]!);
    if (!p.considerEndpoints && n >= 2) {
      sorted[0] = withEnds[2]! - withEnds[1]!;
      sorted[n - 1] = withEnds[n]! - withEnds[n - 1]!;
    }
    const maxSigma = high - low;
    const minSigma = p.considerMagicClip ? (high - low) / Math.min(100.0, 1.0 + (n + 1)) : EPS;
    // np.clip(x, lo, hi) = minimum(maximum(x, lo), hi).
    for (let r = 0; r < n; r++) sigmas[order[r]!] = Math.min(Math.max(sorted[r]!, minSigma), maxSigma);
  }
  const mu = new Float64Array(n + 1);
  mu.set(mus);
  mu[n] = 0.5 * (low + high);
  const sigma = new Float64Array(n + 1);
  sigma.set(sigmas);
  sigma[n] = high - low;
  return { kind: 'numerical', mu, sigma, low: dist.low, high: dist.high, step, log: dist.log, adaptedLow: low, adaptedHigh: high };
}

/** Below this many values, {@link stableArgsort} sorts by insertion. */
const INSERTION_MAX = 48;
/** The longest run of equal high words {@link stableArgsort} settles by insertion. */
const RUN_MAX = 32;
/** Scratch for {@link stableArgsort}: six 2048-bucket histograms, one per 11-bit digit (reused). */
const histograms = new Int32Array(6 * 2048);

/**
 * The stable argsort of `values`, ascending with NaN last (−0 and +0 equal, NaNs equal), ties
 * in index order: the order of the indices sorted by value, then by index, as NumPy's stable
 * argsort gives. An LSD radix sort (passes of 11 bits) on the doubles' bits mapped to
 * order-preserving unsigned keys; it is stable, so ties keep index order. It first sorts by
 * the keys' high 32 bits only and settles runs of equal high words by insertion on the low
 * words; a long such run (many values equal or nearly so) has the low words radix-sorted too.
 * Small inputs are sorted by insertion.
 */
export function stableArgsort(values: Float64Array): Int32Array {
  const n = values.length;
  let order = new Int32Array(n);
  if (n <= INSERTION_MAX) {
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      let r = i;
      // Shift the earlier indices whose value sorts strictly after v (NaN last).
      while (r > 0) {
        const w = values[order[r - 1]!]!;
        if (!(w > v || (w !== w && v === v))) break;
        order[r] = order[r - 1]!;
        r--;
      }
      order[r] = i;
    }
    return order;
  }
  // Keys: the sign bit flipped for non-negative doubles, every bit flipped for negative ones,
  // so unsigned order is numeric order; −0 as +0; NaN as the largest key.
  const bits = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    bits[i] = v === 0 ? 0 : v;
  }
  const words = new Uint32Array(bits.buffer);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const hist = histograms;
  hist.fill(0, 6144);
  for (let i = 0; i < n; i++) {
    let h: number;
    let l: number;
    if (values[i] !== values[i]) {
      h = 0xffffffff;
      l = 0xffffffff;
    } else {
      h = words[2 * i + HI_WORD]!;
      l = words[2 * i + 1 - HI_WORD]!;
      if (h & 0x80000000) {
        h = ~h >>> 0;
        l = ~l >>> 0;
      } else {
        h = (h | 0x80000000) >>> 0;
      }
    }
    hi[i] = h;
    lo[i] = l;
    hist[6144 + (h & 0x7ff)]!++;
    hist[8192 + ((h >>> 11) & 0x7ff)]!++;
    hist[10240 + (h >>> 22)]!++;
  }
  for (let i = 0; i < n; i++) order[i] = i;
  let next = new Int32Array(n);
  const radixPasses = (first: number, last: number): void => {
    for (let d = first; d < last; d++) {
      const base = d * 2048;
      const word = d < 3 ? lo : hi;
      const shift = (d % 3) * 11;
      // A digit every key shares does not reorder anything.
      if (hist[base + ((word[0]! >>> shift) & 0x7ff)] === n) continue;
      // Bucket starts (exclusive prefix sums).
      let sum = 0;
      for (let b = base; b < base + 2048; b++) {
        const c = hist[b]!;
        hist[b] = sum;
        sum += c;
      }
      for (let r = 0; r < n; r++) {
        const i = order[r]!;
        next[hist[base + ((word[i]! >>> shift) & 0x7ff)]!++] = i;
      }
      const t = order;
      order = next;
      next = t;
    }
  };
  radixPasses(3, 6);
  // Runs of equal high words: ordered by low word by insertion (stable: equal keys keep index
  // order), unless a run is long, then by the low words' radix passes before the high ones'.
  for (let r = 0; r < n; ) {
    const h = hi[order[r]!]!;
    let end = r + 1;
    while (end < n && hi[order[end]!] === h) end++;
    if (end - r > RUN_MAX) {
      hist.fill(0);
      for (let i = 0; i < n; i++) {
        const l = lo[i]!;
        hist[l & 0x7ff]!++;
        hist[2048 + ((l >>> 11) & 0x7ff)]!++;
        hist[4096 + (l >>> 22)]!++;
        const hh = hi[i]!;
        hist[6144 + (hh & 0x7ff)]!++;
        hist[8192 + ((hh >>> 11) & 0x7ff)]!++;
        hist[10240 + (hh >>> 22)]!++;
      }
      for (let i = 0; i < n; i++) order[i] = i;
      radixPasses(0, 6);
      return order;
    }
    for (let q = r + 1; q < end; q++) {
      const i = order[q]!;
      const l = lo[i]!;
      let p = q;
      while (p > r && lo[order[p - 1]!]! > l) {
        order[p] = order[p - 1]!;
        p--;
      }
      order[p] = i;
    }
    r = end;
  }
  return order;
}
