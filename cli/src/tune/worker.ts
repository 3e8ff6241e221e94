/**
 * A worker of `ferroptim tune`: opens the study in its storage and runs trials, one at a time,
 * for as long as its parent grants them. The parent hands out exactly the number of trials the
 * invocation was asked for (`--trials`), whatever the number of workers: before each trial a
 * worker claims one, and a trial lost with its worker (killed) or interrupted is handed out again.
 * Workers run in forked processes (`worker-main.ts`) or, with one worker, in the command's own
 * process; either way they only talk through a {@link WorkerChannel}.
 * @module
 */
import * as lib from 'ferroptim';
import {
  loadStudy,
  MedianPruner,
  NopPruner,
  RandomSampler,
  SuccessiveHalvingPruner,
  TPESampler,
  TrialState,
  type FrozenTrial,
  type Pruner,
  type Sampler,
  type Storage,
  type Study,
} from 'ferroptim-tune';
import { DivergedRunError, FAILURE_ATTR, makeObjective, splitData, TrialInterruptedError, type TrialSettings } from './objective.js';
import type { SearchSpace } from './space.js';
import { stateName } from './table.js';

/** Everything a worker needs (JSON: it crosses the IPC channel). */
export interface WorkerConfig {
  storage: string;
  studyName: string;
  sampler: 'tpe' | 'random';
  /** The sampler's seed (the run's `--seed` plus the worker's index), or null for a random one. */
  samplerSeed: number | null;
  /** Workers running at once (TPE lies about running trials when there are several). */
  workers: number;
  pruner: 'median' | 'asha' | 'none';
  /** Native threads of this worker. */
  threads: number;
  space: SearchSpace;
  settings: TrialSettings;
  /** The worker's number, 1-based (replacements get new numbers). */
  index: number;
}

/** A worker's messages to its parent. */
export type WorkerMessage =
  | { type: 'claim' }
  /** A claimed trial given back unused (the stop came first). */
  | { type: 'release' }
  | { type: 'trial-start'; number: number; params: Record<string, string | number> }
  | { type: 'progress'; number: number; epoch: number; epochs: number; batch: number; batches: number }
  | { type: 'epoch'; number: number; epoch: number; epochs: number; accuracy: number }
  | { type: 'trial-end'; number: number; state: string; value: number | null; seconds: number | null; counted: boolean; reason: string | null; params: Record<string, string | number> }
  | { type: 'fatal'; message: string };

/** The parent's messages to a forked worker. */
export type ParentMessage = { type: 'init'; config: WorkerConfig } | { type: 'grant'; ok: boolean } | { type: 'stop' };

/** How a worker talks to its parent. */
export interface WorkerChannel {
  send(m: WorkerMessage): void;
  /** Asks for the next trial: true to run one, false to stop. */
  claim(): Promise<boolean>;
}

/**
 * Whether a finished trial counts toward `--trials`: COMPLETE, PRUNED, or FAIL by the objective's
 * own doing (a diverged run). Trials failed because their worker died (retried with the same
 * parameters) or because they were interrupted do not count.
 */
export function counts(t: Pick<FrozenTrial, 'state' | 'userAttrs'>): boolean {
  return t.state === TrialState.COMPLETE || t.state === TrialState.PRUNED || (t.state === TrialState.FAIL && typeof t.userAttrs[FAILURE_ATTR] === 'string');
}

/** The sampler of a worker: TPE as Optuna recommends for parallel, conditional searches. */
export function makeSampler(c: Pick<WorkerConfig, 'sampler' | 'samplerSeed' | 'workers'>): Sampler {
  const seed = c.samplerSeed ?? undefined;
  if (c.sampler === 'random') return new RandomSampler(seed === undefined ? {} : { seed });
  return new TPESampler({
    ...(seed === undefined ? {} : { seed }),
    // Multivariate TPE models the parameters jointly; with group, each set of parameters that
    // occur together (optimizer and lr; SGD's momentum; AdamW's weight_decay) is one group, as
    // Optuna recommends for conditional spaces.
    multivariate: true,
    group: true,
    // Several workers: running trials count as bad results, so workers do not sample one point.
    constantLiar: c.workers > 1,
  });
}

/** The pruner: the median rule (5 startup trials, no pruning before step 1), ASHA, or none. */
export function makePruner(name: WorkerConfig['pruner']): Pruner {
  if (name === 'asha') return new SuccessiveHalvingPruner();
  if (name === 'none') return new NopPruner();
  return new MedianPruner({ nStartupTrials: 5, nWarmupSteps: 1 });
}

/** Loads the training split once per worker. */
let mnistCache: lib.ImageDataset | null = null;
function mnistTrain(): lib.ImageDataset {
  mnistCache ??= lib.loadMnist({ split: 'train' });
  return mnistCache;
}

/**
 * Runs trials until the parent grants no more or `signal` aborts (the running trial then fails
 * and does not count). Progress goes to `channel`, throttled to a few messages a second.
 * @param shared The storage itself, when the worker runs in the command's process (it stays open).
 * @returns 'done' or 'interrupted'.
 */
export async function runWorker(config: WorkerConfig, channel: WorkerChannel, signal: AbortSignal, shared?: Storage): Promise<'done' | 'interrupted'> {
  lib.setNumThreads(config.threads);
  const data = splitData(mnistTrain(), config.settings);
  let study: Study | null = null;
  try {
    study = await loadStudy({ studyName: config.studyName, storage: shared ?? config.storage, sampler: makeSampler(config), pruner: makePruner(config.pruner), retryStaleTrials: 1 });
    const s = study;
    let lastProgress = 0;
    let current: { number: number; params: Record<string, string | number> } | null = null;
    const objective = makeObjective(config.space, config.settings, data, signal, {
      onStart: (number, sug) => {
        current = { number, params: sug.params };
        channel.send({ type: 'trial-start', number, params: sug.params });
      },
      onBatch: (number, p) => {
        const now = performance.now();
        if (now - lastProgress < 200 && p.batch !== p.batches) return;
        lastProgress = now;
        channel.send({ type: 'progress', number, epoch: p.epoch, epochs: p.epochs, batch: p.batch, batches: p.batches });
      },
      onEpoch: (number, m) => channel.send({ type: 'epoch', number, epoch: m.epoch, epochs: config.settings.epochs, accuracy: m.testAccuracy }),
    });
    const onEnd = (_: Study, t: FrozenTrial) => {
      const reason = typeof t.systemAttrs.fail_reason === 'string' ? t.systemAttrs.fail_reason : null;
      const params = current?.number === t.number ? current.params : (t.params as Record<string, string | number>);
      const seconds = typeof t.userAttrs.seconds === 'number' ? t.userAttrs.seconds : null;
      channel.send({ type: 'trial-end', number: t.number, state: stateName(t.state), value: t.values?.[0] ?? null, seconds, counted: counts(t), reason, params });
      current = null;
    };
    while (!signal.aborted && (await channel.claim())) {
      if (signal.aborted) {
        // Claimed just as the stop came: hand it back unused.
        channel.send({ type: 'release' });
        break;
      }
      await s.optimize(objective, { nTrials: 1, catch: [DivergedRunError, TrialInterruptedError], callbacks: [onEnd] });
    }
    return signal.aborted ? 'interrupted' : 'done';
  } finally {
    if (shared === undefined) await study?.close();
  }
}
