/**
 * The objective of `ferroptim tune`: one trial trains the article's MNIST model with the sampled
 * optimizer and options, reports the validation accuracy after every epoch (or every N steps) to
 * the trial's pruner, and returns the last epoch's validation accuracy. The validation images are
 * held out from the end of MNIST's training split; the test set is never looked at.
 * @module
 */
import * as lib from 'ferroptim';
import type { BatchProgress, EpochMetrics, ImageDataset, TrainableOptimizer } from 'ferroptim';
import { TrialPruned, type Objective, type Trial } from 'ferroptim-tune';
import { kebab, optionKey, suggest, type SearchSpace, type Suggested } from './space.js';
import { createOptimizer } from '../demos/optimizer-spec.js';

/** MNIST's training images: the split the validation set is cut from. */
export const MNIST_TRAIN_SIZE = 60_000;

/** The flags of `ferroptim train` that take an optimizer option, by option key. */
const TRAIN_OPTION_FLAGS: Readonly<Record<string, string>> = { lr: '--lr', momentum: '--momentum', weightDecay: '--weight-decay' };

/** What every trial of a study shares: the model, the data and the training settings. */
export interface TrialSettings {
  model: 'cnn' | 'mlp';
  epochs: number;
  batchSize: number;
  /** Seeds every trial's weights and shuffling (trials differ only in their hyperparameters). */
  seed: number;
  /** Training images: the first `limit` of the training split (default: all but the validation set). */
  limit: number | null;
  /** Validation images, from the end of the training split. */
  valSize: number;
  /** Also validate (and ask the pruner) every this many training steps. */
  reportEvery: number | null;
  /** The tune run's output folder (trials' `train_command` write below it). */
  out: string;
}

/** The training images of a study: the first `limit` of MNIST's training split, or all but the validation set. */
export function trainImages(s: Pick<TrialSettings, 'limit' | 'valSize'>): number {
  return s.limit ?? MNIST_TRAIN_SIZE - s.valSize;
}

/** A trial whose loss went non-finite: it fails (the study goes on; `catch` of optimize). */
export class DivergedRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DivergedRunError';
  }
}

/** A trial stopped by Ctrl-C (or its worker being told to stop): it fails and does not count. */
export class TrialInterruptedError extends Error {
  constructor(message = 'interrupted (Ctrl-C)') {
    super(message);
    this.name = 'TrialInterruptedError';
  }
}

/** The user attribute marking a failure the objective owns (it counts as a trial run). */
export const FAILURE_ATTR = 'failure';

/** The training and validation sets of a study: training from the start, validation from the end. */
export function splitData(train: ImageDataset, s: Pick<TrialSettings, 'limit' | 'valSize'>): { trainData: ImageDataset; valData: ImageDataset } {
  const [c, h, w] = train.imageShape;
  const size = c * h * w;
  const n = train.length;
  const nTrain = Math.min(s.limit ?? n - s.valSize, n - s.valSize);
  const valStart = n - s.valSize;
  return {
    trainData: { ...train, length: nTrain, pixels: train.pixels.subarray(0, nTrain * size), labels: train.labels.subarray(0, nTrain) },
    valData: { ...train, length: s.valSize, pixels: train.pixels.subarray(valStart * size, n * size), labels: train.labels.subarray(valStart, n) },
  };
}

/** A number as the shortest text that reads back as the same number (`1.0916976312837425e-5`, `0.0061`). */
export function exact(v: number): string {
  const plain = String(v);
  const sci = v.toExponential();
  return sci.length < plain.length && Number(sci) === v ? sci : plain;
}

/**
 * The `ferroptim train` command that trains a trial's configuration again (on the same training
 * images with the same seed, now reporting test accuracy). Options `train` has no flag for are
 * returned in `unsupported` (train then uses their defaults).
 */
export function trainCommand(s: TrialSettings, params: Readonly<Record<string, unknown>>, out: string): { command: string; unsupported: string[] } {
  const optimizer = String(params.optimizer);
  const args = ['ferroptim', 'train', '--model', s.model, '--optimizer', optimizer];
  const unsupported: string[] = [];
  for (const [name, v] of Object.entries(params)) {
    if (name === 'optimizer' || typeof v !== 'number') continue;
    const key = optionKey(name);
    const flag = TRAIN_OPTION_FLAGS[key];
    if (flag === undefined) unsupported.push(`${name}=${exact(v)} (no --${kebab(key)} flag)`);
    else args.push(flag, exact(v));
  }
  args.push('--epochs', String(s.epochs), '--batch-size', String(s.batchSize), '--seed', String(s.seed));
  // The trial trained on the first images of the split, the validation set excluded: so does the command.
  args.push('--limit', String(trainImages(s)));
  args.push('--out', quote(out));
  return { command: args.join(' '), unsupported };
}

/** Quotes a shell word when it needs it. */
export function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** What the objective tells its worker (for progress). */
export interface ObjectiveHooks {
  /** A trial got its parameters and starts training. */
  onStart?(number: number, s: Suggested): void;
  /** After every batch. */
  onBatch?(number: number, p: BatchProgress): void;
  /** After every epoch. */
  onEpoch?(number: number, m: EpochMetrics): void;
}

/**
 * The objective: a function of a trial. `signal` stops training between two batches (the trial
 * then fails with {@link TrialInterruptedError}).
 */
export function makeObjective(space: SearchSpace, s: TrialSettings, data: { trainData: ImageDataset; valData: ImageDataset }, signal: AbortSignal, hooks: ObjectiveHooks = {}): Objective {
  return async (trial: Trial) => {
    if (signal.aborted) throw new TrialInterruptedError();
    const suggested = suggest(trial, space);
    const model = s.model === 'cnn' ? lib.cnn({ seed: s.seed }) : lib.mlp({ seed: s.seed });
    const optimizer = createOptimizer({ name: suggested.optimizer, options: suggested.options, label: suggested.optimizer }, model.parameters());
    trial.setUserAttr('train_command', trainCommand(s, suggested.params, `${s.out}/trial-${trial.number}`).command);
    // The parameters are in the storage before training starts: a worker that dies while training
    // leaves a trial that is retried with them.
    await trial.flush();
    hooks.onStart?.(trial.number, suggested);
    const t0 = performance.now();
    const result = await lib.trainAsync({
      model,
      optimizer,
      epochs: s.epochs,
      batchSize: s.batchSize,
      seed: s.seed,
      trainData: data.trainData,
      testData: data.valData,
      trial,
      ...(s.reportEvery !== null ? { reportEvery: s.reportEvery } : {}),
      signal,
      onBatch: (p) => hooks.onBatch?.(trial.number, p),
      onEpoch: (m) => hooks.onEpoch?.(trial.number, m),
    });
    const seconds = (performance.now() - t0) / 1000;
    const m = result.metrics;
    trial.setUserAttr('val_accuracy', m.map((e) => e.testAccuracy));
    trial.setUserAttr('train_loss', m.map((e) => e.trainLoss));
    trial.setUserAttr('seconds', Number(seconds.toFixed(3)));
    const samples = m.reduce((a, e) => a + e.samplesPerSecond * e.seconds, 0);
    const trainSeconds = m.reduce((a, e) => a + e.seconds, 0);
    if (trainSeconds > 0) trial.setUserAttr('samples_per_second', Math.round(samples / trainSeconds));
    if (result.interrupted) throw new TrialInterruptedError(`interrupted (Ctrl-C) in epoch ${result.interrupted.epoch} after ${result.interrupted.batch} batches`);
    if (result.diverged) {
      const { epoch, batch, loss } = result.diverged;
      trial.setUserAttr(FAILURE_ATTR, 'diverged');
      throw new DivergedRunError(`the training loss of epoch ${epoch}, batch ${batch} is ${loss}`);
    }
    if (result.pruned) {
      const p = result.pruned;
      throw new TrialPruned(`pruned at step ${p.step} (epoch ${p.epoch}${p.batch < lib.numBatches(data.trainData.length, s.batchSize) ? `, batch ${p.batch}` : ''}) with validation accuracy ${p.value}`);
    }
    const last = m.at(-1);
    if (last === undefined) throw new Error('no epoch was run');
    return last.testAccuracy;
  };
}
