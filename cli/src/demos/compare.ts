/**
 * `compare`: the article's optimizer comparison on MNIST — the same model, the same initial
 * weights and the same batches for every optimizer.
 * @module
 */
import { checkImageDataset } from 'ferroptim/internal';
import { loadMnist, type ImageDataset } from 'ferroptim';
import { cnn, mlp } from 'ferroptim';
import { train, type BatchProgress, type Divergence, type EpochMetrics } from 'ferroptim';
import { MAX_EPOCHS } from 'ferroptim/internal';
import { checkBoolean, checkFunction, checkKnownKeys, checkNumber, checkOneOf, checkOptions, describeValue, option } from 'ferroptim/internal';
import { checkSpec, createOptimizer, optimizerLabel, parseOptimizerSpec, type OptimizerSpec } from './optimizer-spec.js';

/**
 * The article's settings per optimizer, besides `lr`: `optim.SGD(momentum=0.9)`, `optim.Adam`,
 * `optim.RMSprop`, `optim.AdamW(weight_decay=0.01)`; other optimizers take their defaults.
 * @group Demos
 */
export const ARTICLE_OPTIMIZER_OPTIONS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = Object.freeze({
  sgd: Object.freeze({ momentum: 0.9 }),
  adamw: Object.freeze({ weightDecay: 0.01 }),
});

/**
 * Options of {@link compare}; the defaults are the article's.
 * @group Demos
 */
export interface CompareOptions {
  /**
   * Optimizer names (`'sgd'`: the article's settings with `lr`) or full specs
   * (`'sgd:lr=0.01,momentum=0.5'`: as written).
   * @defaultValue ['sgd', 'adam', 'rmsprop', 'adamw']
   */
  optimizers?: ReadonlyArray<string | OptimizerSpec>;
  /** Learning rate of the optimizers given by name. @defaultValue 1e-3 */
  lr?: number;
  /** @defaultValue 5 */
  epochs?: number;
  /** @defaultValue 128 */
  batchSize?: number;
  /** Seed of the initial weights and of the shuffling, the same for every optimizer. @defaultValue 0 */
  seed?: number;
  /** `'cnn'` (the article's SimpleCNN) or `'mlp'`. @defaultValue 'cnn' */
  model?: 'cnn' | 'mlp';
  /** @defaultValue MNIST's training split */
  trainData?: ImageDataset;
  /** @defaultValue MNIST's test split */
  testData?: ImageDataset;
  /** Record every batch's loss in `batchLosses` (the article's RAdam-versus-Adam view). @defaultValue false */
  perBatch?: boolean;
  /** Stop each epoch after this many batches. @defaultValue all */
  maxBatches?: number;
  /** Called after every batch of every optimizer. */
  onBatch?: (optimizer: string, p: BatchProgress) => void;
  /** Called after every epoch of every optimizer. */
  onEpoch?: (optimizer: string, m: EpochMetrics) => void;
  /** Called when an optimizer starts. */
  onStart?: (optimizer: string) => void;
}

/**
 * One optimizer's training run.
 * @group Demos
 */
export interface CompareRun {
  /** `'SGD'`, `'Adam'`, …, or the spec as written. */
  label: string;
  /** The lower-case optimizer name: `'sgd'`, `'adam'`, … */
  name: string;
  /** The constructor options the run used (camelCase). */
  options: Record<string, unknown>;
  /** The metrics of each epoch, as {@link train} returns them. */
  metrics: EpochMetrics[];
  /** Each batch's loss, in order (with `perBatch`); a diverged run's end before the loss that was not finite. */
  batchLosses?: Float64Array;
  /**
   * Set when a batch's loss was not finite: training stopped before that batch's step, and
   * `metrics` holds only the epochs completed before it (as {@link train} reports it).
   */
  diverged?: Divergence;
}

/**
 * The result of {@link compare}.
 * @group Demos
 */
export interface CompareResult {
  /** The model preset every run trained. */
  model: 'cnn' | 'mlp';
  /** One run per optimizer, in the order given. */
  runs: CompareRun[];
  /** Training images per epoch. */
  trainSize: number;
  /** Test images each epoch was evaluated on. */
  testSize: number;
}

function resolve(s: unknown, lr: number, i: number): OptimizerSpec {
  if (typeof s === 'string' && !s.includes(':')) {
    const name = s.trim().toLowerCase();
    parseOptimizerSpec(name); // an unknown name is a RangeError here
    return { name, options: { lr, ...(Object.hasOwn(ARTICLE_OPTIMIZER_OPTIONS, name) ? ARTICLE_OPTIMIZER_OPTIONS[name] : {}) }, label: optimizerLabel(name) };
  }
  return typeof s === 'string' ? parseOptimizerSpec(s) : checkSpec('compare', `optimizers[${i}]`, s);
}

/**
 * Trains the same model from the same initial weights, on the same batches, once per optimizer,
 * with `train()`; returns each run's per-epoch metrics (mean batch loss, test accuracy, seconds).
 *
 * @example
 * ```ts
 * const { runs } = compare({ optimizers: ['sgd', 'adam', 'rmsprop', 'adamw'], epochs: 5 });
 * runs.map((r) => [r.label, r.metrics.at(-1)!.testAccuracy]);
 * ```
 * @throws TypeError or RangeError for bad options (datasets, callbacks, sizes) or optimizer specs
 * (from `parseOptimizerSpec`, `createOptimizer` or the optimizer's constructor), all before any
 * training.
 * @group Demos
 */
export function compare(options: CompareOptions = {}): CompareResult {
  const o = checkOptions('compare', options) as CompareOptions;
  checkKnownKeys('compare', o as Record<string, unknown>, [
    'optimizers', 'lr', 'epochs', 'batchSize', 'seed', 'model', 'trainData', 'testData', 'perBatch', 'maxBatches', 'onBatch', 'onEpoch', 'onStart',
  ]);
  const lr = checkNumber('compare', 'lr', option(o.lr, 1e-3), { above: 0 });
  const epochs = checkNumber('compare', 'epochs', option(o.epochs, 5), { integer: true, min: 0, max: MAX_EPOCHS });
  const batchSize = checkNumber('compare', 'batchSize', option(o.batchSize, 128), { integer: true, min: 1 });
  const seed = checkNumber('compare', 'seed', option(o.seed, 0), { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  const modelName = checkOneOf('compare', 'model', option<unknown>(o.model, 'cnn'), ['cnn', 'mlp']);
  const names = option<unknown>(o.optimizers, ['sgd', 'adam', 'rmsprop', 'adamw']);
  if (!Array.isArray(names) || names.length === 0) throw new RangeError(`compare: expected optimizers to be a non-empty array, received ${describeValue(names)}`);
  if (o.maxBatches !== undefined) checkNumber('compare', 'maxBatches', o.maxBatches, { integer: true, min: 1 });
  if (o.perBatch !== undefined) checkBoolean('compare', 'perBatch', o.perBatch);
  for (const k of ['onBatch', 'onEpoch', 'onStart'] as const) if (o[k] !== undefined) checkFunction('compare', k, o[k]);
  if (o.trainData !== undefined) checkImageDataset('compare', 'trainData', o.trainData);
  if (o.testData !== undefined) checkImageDataset('compare', 'testData', o.testData);
  const specs = names.map((s, i) => resolve(s, lr, i));
  const preset = modelName === 'cnn' ? cnn : mlp;
  // One set of initial weights, loaded into every model.
  const initial = preset({ seed }).stateDict();
  const models = specs.map(() => {
    const m = preset({ seed });
    m.loadStateDict(initial);
    return m;
  });
  // Build every optimizer before training, so a bad spec fails fast.
  const optimizers = specs.map((s, i) => createOptimizer(s, models[i]!.parameters()));
  const trainData = o.trainData ?? loadMnist({ split: 'train' });
  const testData = o.testData ?? loadMnist({ split: 'test' });
  const runs = specs.map((spec, i): CompareRun => {
    o.onStart?.(spec.label);
    const batchLosses: number[] = [];
    const { metrics, diverged } = train({
      model: models[i]!,
      optimizer: optimizers[i]!,
      epochs,
      batchSize,
      seed,
      trainData,
      testData,
      ...(o.maxBatches !== undefined ? { maxBatches: o.maxBatches } : {}),
      onBatch: (p) => {
        if (o.perBatch) batchLosses.push(p.batchLoss);
        o.onBatch?.(spec.label, p);
      },
      onEpoch: (m) => o.onEpoch?.(spec.label, m),
    });
    return {
      label: spec.label, name: spec.name, options: spec.options, metrics,
      ...(o.perBatch ? { batchLosses: Float64Array.from(batchLosses) } : {}),
      ...(diverged ? { diverged } : {}),
    };
  });
  return { model: modelName, runs, trainSize: trainData.length, testSize: testData.length };
}
