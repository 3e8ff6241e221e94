/**
 * `regress`: the article's mini-batch linear regression, trained with a ferroptim optimizer.
 * @module
 */
import { Generator } from 'ferroptim';
import { Parameter } from 'ferroptim';
import { checkElementCount, checkKnownKeys, checkNumber, checkOptions, option } from 'ferroptim/internal';
import { checkSpec, createOptimizer, parseOptimizerSpec, type OptimizerSpec } from './optimizer-spec.js';
import type { Divergence } from 'ferroptim';

/**
 * Options of {@link regress}; the defaults are the article's.
 * @group Demos
 */
export interface RegressOptions {
  /** Rows of X. @defaultValue 1000 */
  samples?: number;
  /** Columns of X (weights). @defaultValue 10 */
  features?: number;
  /** @defaultValue 32 */
  batchSize?: number;
  /** @defaultValue 100 */
  epochs?: number;
  /** The optimizer. @defaultValue `'sgd:lr=0.01'` (the article's `SGD(learning_rate=0.01)`) */
  optimizer?: string | OptimizerSpec;
  /** Standard deviation of the label noise. @defaultValue 0.1 */
  noise?: number;
  /** Seed of the generator for the data, the initial weights and the shuffling. @defaultValue 42 */
  seed?: number;
  /** Record the loss every this many epochs in `log` (the article prints every 20). @defaultValue 20 */
  logEvery?: number;
}

/**
 * The result of {@link regress}.
 * @group Demos
 */
export interface RegressResult {
  /** The loss of every mini-batch, before its update (the article's `losses`). */
  losses: Float64Array;
  /** The mean of the batch losses of each epoch. */
  epochLosses: Float64Array;
  /** Every `logEvery`-th epoch from 0: the epoch's last batch loss (what the article prints). */
  log: Array<{
    /** The epoch, from 0. */
    epoch: number;
    /** Its last batch's loss. */
    loss: number;
  }>;
  /** The learned weights. */
  weights: Float32Array;
  /** The weights the labels were made with. */
  trueWeights: Float64Array;
  /** The number of generated examples. */
  samples: number;
  /** Examples per mini-batch. */
  batchSize: number;
  /** Mini-batches in one epoch (the last may be smaller). */
  batchesPerEpoch: number;
  /** The optimizer spec, as written. */
  optimizer: string;
  /**
   * Set when a batch's loss stopped being finite: the first such batch. Training went on (every
   * later loss is then NaN or infinite too), so `losses` still has one entry per batch.
   */
  diverged?: Divergence;
}

/** Standard normal numbers from a seeded generator (polar Box–Muller, one spare kept). */
function normals(g: Generator): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    for (;;) {
      const u = 2 * g.uniform53() - 1;
      const v = 2 * g.uniform53() - 1;
      const r2 = u * u + v * v;
      if (r2 > 0 && r2 < 1) {
        const k = Math.sqrt((-2 * Math.log(r2)) / r2);
        spare = v * k;
        return u * k;
      }
    }
  };
}

/**
 * The article's "simple regression example": `X` (samples × features) and the true weights are
 * standard normal, `y = X·w_true + noise·N(0, 1)`, the weights start at `0.01·N(0, 1)`; each
 * epoch draws a permutation and takes mini-batches of `batchSize` (the last one smaller); per
 * batch, the MSE loss and its gradient `2·Xᵀ(X·w − y)/B` are computed (float64) and the optimizer
 * steps the float32 weights.
 *
 * @remarks
 * Same loop as the article's, with ferroptim's seeded generator in place of `np.random.seed(42)`
 * (so the numbers are not numpy's) and any ferroptim optimizer in place of its SGD class
 * (`SGD(lr)` is the same update, `w ← w − lr·g`).
 *
 * @example
 * ```ts
 * const { log } = regress(); // 1000×10, batch 32, 100 epochs, SGD lr 0.01
 * log.at(-1); // { epoch: 80, loss: ≈ 0.01 (the noise variance) }
 * ```
 * @throws TypeError or RangeError for bad options (`samples × features` and `epochs × batches per
 * epoch` at most 2^31 − 1) or an optimizer spec that does not parse (from `parseOptimizerSpec`)
 * or that the optimizer's constructor rejects.
 * @group Demos
 */
export function regress(options: RegressOptions = {}): RegressResult {
  const o = checkOptions('regress', options) as RegressOptions;
  checkKnownKeys('regress', o as Record<string, unknown>, ['samples', 'features', 'batchSize', 'epochs', 'optimizer', 'noise', 'seed', 'logEvery']);
  const n = checkNumber('regress', 'samples', option(o.samples, 1000), { integer: true, min: 1 });
  const d = checkNumber('regress', 'features', option(o.features, 10), { integer: true, min: 1 });
  const bs = checkNumber('regress', 'batchSize', option(o.batchSize, 32), { integer: true, min: 1 });
  const epochs = checkNumber('regress', 'epochs', option(o.epochs, 100), { integer: true, min: 0 });
  const noise = checkNumber('regress', 'noise', option(o.noise, 0.1), { min: 0 });
  const seed = checkNumber('regress', 'seed', option(o.seed, 42), { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  const logEvery = checkNumber('regress', 'logEvery', option(o.logEvery, 20), { integer: true, min: 1 });
  // The arrays regress allocates: X (samples × features) and the loss of every batch.
  checkElementCount('regress', 'samples × features', n * d, `${n} × ${d}`);
  checkElementCount('regress', 'epochs × batches per epoch', epochs * Math.ceil(n / bs), `${epochs} × ${Math.ceil(n / bs)}`);
  const specIn = option<unknown>(o.optimizer, 'sgd:lr=0.01');
  const spec = typeof specIn === 'string' ? parseOptimizerSpec(specIn) : checkSpec('regress', 'optimizer', specIn);

  const g = new Generator(seed);
  const randn = normals(g);
  // X = np.random.randn(1000, 10); y = X @ np.random.randn(10) + np.random.randn(1000) * 0.1
  const X = Float64Array.from({ length: n * d }, randn);
  const trueWeights = Float64Array.from({ length: d }, randn);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += X[i * d + j]! * trueWeights[j]!;
    y[i] = s + randn() * noise;
  }
  // w = np.random.randn(10) * 0.01
  const w = new Parameter(Float32Array.from({ length: d }, () => randn() * 0.01), { name: 'w' });
  const optimizer = createOptimizer(spec, [w]);

  const nb = Math.ceil(n / bs);
  const losses = new Float64Array(epochs * nb);
  const epochLosses = new Float64Array(epochs);
  const log: Array<{ epoch: number; loss: number }> = [];
  // A batch size above the sample count (allowed) is one batch of all of them.
  const residual = new Float64Array(Math.min(bs, n));
  const grad = new Float64Array(d);
  let k = 0;
  let diverged: RegressResult['diverged'];
  // A Schedule-Free optimizer steps in train mode, and its weights to report are those of eval mode.
  optimizer.train?.();
  for (let epoch = 0; epoch < epochs; epoch++) {
    const indices = g.permutation(n);
    let sum = 0;
    let loss = NaN;
    for (let start = 0; start < n; start += bs) {
      const m = Math.min(bs, n - start);
      // The batch's loss and gradient at the current weights: once per step for most optimizers,
      // as often as it needs for L-BFGS.
      const closure = () => {
        const wd = w.data;
        // Forward: pred = X_batch @ w; loss = mean((pred − y_batch)²)
        let l = 0;
        for (let b = 0; b < m; b++) {
          const i = indices[start + b]!;
          let pred = 0;
          for (let j = 0; j < d; j++) pred += X[i * d + j]! * wd[j]!;
          residual[b] = pred - y[i]!;
          l += residual[b]! * residual[b]!;
        }
        l /= m;
        // Backward: grad = 2 · X_batchᵀ (pred − y_batch) / B
        grad.fill(0);
        for (let b = 0; b < m; b++) {
          const i = indices[start + b]!;
          for (let j = 0; j < d; j++) grad[j]! += X[i * d + j]! * residual[b]!;
        }
        optimizer.zeroGrad();
        for (let j = 0; j < d; j++) w.grad![j] = (2 * grad[j]!) / m;
        return l;
      };
      // The loss of the batch is the first evaluation's, before the step.
      let first = true;
      optimizer.step(() => {
        const l = closure();
        if (first) loss = l;
        first = false;
        return l;
      });
      if (!Number.isFinite(loss) && !diverged) diverged = { epoch: epoch + 1, batch: start / bs + 1, loss };
      losses[k++] = loss;
      sum += loss;
    }
    epochLosses[epoch] = sum / nb;
    if (epoch % logEvery === 0) log.push({ epoch, loss });
  }
  optimizer.eval?.();
  return { losses, epochLosses, log, weights: Float32Array.from(w.data), trueWeights, samples: n, batchSize: bs, batchesPerEpoch: nb, optimizer: spec.label, ...(diverged ? { diverged } : {}) };
}
