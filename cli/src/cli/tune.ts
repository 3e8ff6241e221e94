/**
 * The `ferroptim tune` command: the article's Optuna study (optimizer, learning rate, momentum for
 * SGD, weight decay for AdamW; maximize validation accuracy) on MNIST, with ferroptim-tune, in
 * storages Optuna opens (a journal file, PostgreSQL), with parallel worker processes, pruning, a
 * results table, the best trial as a `ferroptim train` command, trials.csv and charts.
 * @module
 */
import { availableParallelism, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import * as cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import * as lib from 'ferroptim';
import { createStudy, TrialState, type FrozenTrial, type Study } from 'ferroptim-tune';
import { savePlot } from '../plot/render.js';
import { exact, MNIST_TRAIN_SIZE, quote, trainCommand, trainImages, type TrialSettings } from '../tune/objective.js';
import { historyChart, paramsChart } from '../tune/plots.js';
import { Pool, type PoolEvent, type PoolResult } from '../tune/pool.js';
import { applyShortcuts, articleSpace, describeSpace, incompatibility, readSpaceFile, SpaceError, studyDistributions, TUNABLE_OPTIMIZERS, type SearchSpace } from '../tune/space.js';
import { countsText, paramsText, pct, resultsTable, secondsText, trialsCsv } from '../tune/table.js';
import { counts, type WorkerConfig } from '../tune/worker.js';
import { checkWritableDir, num, UsageError } from './usage.js';

const SPACE_HELP = `Search space (--space FILE, JSON; the default is the article's study):
  {
    "optimizer": { "choices": ["adam", "sgd", "adamw"] },
    "lr": { "low": 1e-5, "high": 0.1, "log": true },
    "conditional": {
      "sgd": { "momentum": { "low": 0.8, "high": 0.99 } },
      "adamw": { "weight_decay": { "low": 1e-5, "high": 1e-2, "log": true } }
    }
  }
  "optimizer.choices" are optimizers of the registry, or adafactor, muon (Muon + AdamW, as
  "ferroptim train --optimizer muon" makes it) and lbfgs:
    ${TUNABLE_OPTIMIZERS.join(', ')}.
  Every other top-level key is a numeric option all of them have, sampled in every trial;
  "conditional": { NAME: {...} } holds options sampled only when the trial's optimizer is NAME.
  A parameter is { "low", "high", "log"?: true (log-uniform), "step"?: N (a grid) }; its name is
  the option's name in snake_case (weight_decay) or camelCase, as the study records it.
  --optimizers and --lr override the file's (or the default's) choices and lr range.`;

const NOTES = `Trials, workers and storage:
  --trials counts the trials this invocation runs, across its workers: COMPLETE, PRUNED, and FAIL
  trials whose run diverged. A trial whose worker died is failed by the next worker (its process
  is gone, or its heartbeat stopped), retried once with the same parameters, and not counted; a
  dead worker is replaced (at most max(3, workers) times). An existing study of the same name in
  --storage is continued: its trials are kept and --trials more are run. The objective is the
  validation accuracy of the last epoch, on images held out from the END of MNIST's training
  split (--val-size); the test set is never used. Every trial trains with the same --seed, so
  trials differ only in their hyperparameters, and the printed "ferroptim train" command of the
  best trial trains the same model again and measures its test accuracy.

  Sampler: TPE, multivariate with groups (the optimizer and lr are modelled jointly, each
  optimizer's own options as their own group: Optuna's advice for conditional spaces), with
  constant liar when several workers run at once (running trials count as bad, so parallel
  workers do not all sample near the same point). Each worker seeds its sampler with
  --seed + its index. Pruner: median with 5 startup trials and no pruning before step 1 (steps
  are epochs, or training steps with --report-every); asha: successive halving; none.

  Storages: journal:PATH (or a path ending in .log): an Optuna journal file, safe for several
  processes (optuna-dashboard PATH opens it); postgresql://user@host/db: Optuna's RDB schema;
  memory: the study ends with the command (one worker only).

  Ctrl-C stops the workers: their running trials fail and do not count; the command exits with
  code 130 and prints the command that runs the trials left.`;

function tuneCommandSpec(): Command {
  return new Command('tune')
    .summary("search the article's optimizer hyperparameters (Optuna-compatible study)")
    .description(
      "Run the article's hyperparameter search on MNIST: optimizer in {adam, sgd, adamw}, lr log-uniform in [1e-5, 1e-1], momentum in [0.8, 0.99] for SGD, weight_decay log-uniform in [1e-5, 1e-2] for AdamW, maximizing validation accuracy. The study lives in an Optuna journal file or PostgreSQL database (Optuna and optuna-dashboard open it); --out receives trials.csv, history.png and params.png.",
    )
    .addOption(new Option('--model <name>', "model preset: cnn is the article's SimpleCNN").choices(['cnn', 'mlp']).default('mlp'))
    .option('--trials <n>', 'trials to run in this invocation, across all workers', '50')
    .option('--epochs <n>', 'epochs per trial', '2')
    .option('--batch-size <n>', 'mini-batch size', '128')
    .option('--workers <n>', 'worker processes running trials at once (they share --storage)', '1')
    .option('--threads <n>', 'native threads per worker (default: cores / workers, at least 1; workers × threads may not exceed the cores)')
    .option('--storage <spec>', 'journal:PATH, a path ending in .log, postgresql://user@host/db, or memory (default: journal:<out>/studies.log)')
    .option('--study <name>', 'the study name; an existing study is continued (default: mnist-<model>)')
    .option('--space <file>', 'a JSON search space (format below; default: the article\'s)')
    .option('--optimizers <list>', 'the optimizers to choose from, comma-separated (e.g. adam,sgd,adamw)')
    .option('--lr <low:high>', 'the learning-rate range, searched log-uniformly (e.g. 1e-4:1e-2)')
    .addOption(new Option('--sampler <name>', 'tpe (multivariate, grouped, constant liar with several workers) or random').choices(['tpe', 'random']).default('tpe'))
    .option('--seed <n>', "seeds the samplers (seed + worker index) and every trial's weights and shuffling (default: random samplers, weights and shuffling seeded with 0)")
    .addOption(new Option('--pruner <name>', 'median (5 startup trials, from step 1), asha (successive halving) or none').choices(['median', 'asha', 'none']).default('median'))
    .option('--report-every <n>', 'also validate every N training steps, so the pruner can stop a trial within an epoch')
    .option('--val-size <n>', 'validation images, held out from the end of the training split', '10000')
    .option('--limit <n>', 'train on the first N training images only (quick runs)')
    .option('--out <dir>', 'the folder for trials.csv and the plots', 'runs/tune')
    .addOption(new Option('--progress <mode>', 'one bar on a terminal, plain lines otherwise').choices(['auto', 'bar', 'lines']).default('auto'))
    .addHelpText(
      'after',
      `\n${SPACE_HELP}\n\n${NOTES}\n\nExamples:\n  ferroptim tune --model mlp --trials 50 --epochs 2 --workers 2 --storage journal:runs/tune/studies.log --study mnist-article\n  ferroptim tune --optimizers adam,adamw --lr 1e-4:1e-2 --trials 20 --pruner asha --report-every 100\n  ferroptim tune --space space.json --storage postgresql://tuner@localhost:5432/studies --workers 2\n  ferroptim tune --limit 2048 --val-size 1024 --epochs 1 --trials 8 --storage memory   # a quick look`,
    );
}

/** The flags, checked: everything a run needs, before any storage is touched. */
interface TuneSettings {
  trials: number;
  workers: number;
  threads: number;
  storage: string;
  storageKind: 'journal' | 'postgres' | 'memory';
  journalPath: string | null;
  studyName: string;
  space: SearchSpace;
  sampler: 'tpe' | 'random';
  pruner: 'median' | 'asha' | 'none';
  seed: number | null;
  settings: TrialSettings;
  useBar: boolean;
}

function parseStorage(spec: string): { storage: string; kind: TuneSettings['storageKind']; journalPath: string | null } {
  if (spec === 'memory' || spec === ':memory:') return { storage: ':memory:', kind: 'memory', journalPath: null };
  if (/^postgres(ql)?:\/\//.test(spec)) return { storage: spec, kind: 'postgres', journalPath: null };
  const path = spec.startsWith('journal:') ? spec.slice('journal:'.length) : /\.(log|jsonl)$/.test(spec) ? spec : null;
  if (path === null || path.length === 0) {
    throw new UsageError(`--storage expects journal:PATH, a path ending in .log, postgresql://user@host/db or memory, received ${JSON.stringify(spec)}`);
  }
  return { storage: `journal:${path}`, kind: 'journal', journalPath: path };
}

function parseFlags(v: Record<string, string | undefined>): TuneSettings {
  const trials = num('trials', v.trials, { integer: true, min: 1 })!;
  const epochs = num('epochs', v.epochs, { integer: true, min: 1 })!;
  const batchSize = num('batch-size', v.batchSize, { integer: true, min: 1 })!;
  const workers = num('workers', v.workers, { integer: true, min: 1 })!;
  const out = v.out!;
  const { storage, kind, journalPath } = parseStorage(v.storage ?? `journal:${join(out, 'studies.log')}`);
  if (kind === 'memory' && workers > 1) {
    throw new UsageError(`--workers ${workers} needs a storage the workers share, and --storage ${v.storage} keeps the study in one process's memory; use --storage journal:PATH (or postgresql://...)`);
  }
  const cores = availableParallelism();
  const threadsGiven = num('threads', v.threads, { integer: true, min: 1 });
  const threads = threadsGiven ?? Math.max(1, Math.floor(cores / workers));
  if (workers * threads > cores) {
    throw new UsageError(
      `--workers ${workers} × --threads ${threads}${threadsGiven === undefined ? ' (at least 1)' : ''} = ${workers * threads} threads exceeds the ${cores} core${cores === 1 ? '' : 's'} of this machine (os.availableParallelism()); lower --workers or --threads`,
    );
  }
  const seed = num('seed', v.seed, { integer: true, min: 0 }) ?? null;
  if (seed !== null && seed > 2 ** 32 - 1 - 1000) throw new UsageError(`--seed expects an integer <= ${2 ** 32 - 1 - 1000}, received ${JSON.stringify(v.seed)}`);
  const reportEvery = num('report-every', v.reportEvery, { integer: true, min: 1 }) ?? null;
  const valSize = num('val-size', v.valSize, { integer: true, min: 1 })!;
  if (valSize >= MNIST_TRAIN_SIZE) throw new UsageError(`--val-size expects fewer than the ${MNIST_TRAIN_SIZE} training images of MNIST, received ${JSON.stringify(v.valSize)}`);
  const limit = num('limit', v.limit, { integer: true, min: 1 }) ?? null;
  if (limit !== null && limit > MNIST_TRAIN_SIZE - valSize) {
    throw new UsageError(`--limit ${limit} overlaps the validation images: with --val-size ${valSize}, at most ${MNIST_TRAIN_SIZE - valSize} training images are left`);
  }
  const model = v.model as 'cnn' | 'mlp';
  const studyName = v.study ?? `mnist-${model}`;
  if (studyName.length === 0 || studyName.length > 512) throw new UsageError(`--study expects a name of 1 to 512 characters, received ${JSON.stringify(studyName)}`);
  let space: SearchSpace;
  try {
    space = applyShortcuts(v.space !== undefined ? readSpaceFile(v.space) : articleSpace(), v.optimizers, v.lr);
  } catch (e) {
    if (e instanceof SpaceError) throw new UsageError(e.message);
    throw e;
  }
  return {
    trials,
    workers,
    threads,
    storage,
    storageKind: kind,
    journalPath,
    studyName,
    space,
    sampler: v.sampler as 'tpe' | 'random',
    pruner: v.pruner as 'median' | 'asha' | 'none',
    seed,
    settings: { model, epochs, batchSize, seed: seed ?? 0, limit, valSize, reportEvery, out },
    useBar: v.progress === 'bar' || (v.progress === 'auto' && process.stdout.isTTY === true),
  };
}

/** A PostgreSQL URL (alone, or in a `--storage=URL` argument) without its password, for printing. */
function redact(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  return m < 60 ? `${m}m${String(s).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The best COMPLETE trial, or null. */
function best(study: Study): FrozenTrial | null {
  try {
    return study.bestTrial;
  } catch {
    return null;
  }
}

/** The progress display: one bar across trials on a terminal, plain lines otherwise. */
class Display {
  readonly #useBar: boolean;
  readonly #total: number;
  #multi: cliProgress.MultiBar | null = null;
  #bar: cliProgress.SingleBar | null = null;
  #done = 0;
  #best: { value: number; number: number } | null;
  readonly #running = new Map<number, { optimizer: string; epoch: number; epochs: number; batch: number; batches: number }>();

  readonly #epochs: number;
  #anyStarted = false;

  constructor(useBar: boolean, total: number, epochs: number, initialBest: { value: number; number: number } | null) {
    this.#useBar = useBar;
    this.#epochs = epochs;
    this.#total = total;
    this.#best = initialBest;
    if (useBar) {
      this.#multi = new cliProgress.MultiBar(
        { format: 'trials {value}/{total} [{bar}] best {best} | {running}', noTTYOutput: process.stderr.isTTY !== true, hideCursor: true, clearOnComplete: true, stopOnComplete: false, autopadding: true, barsize: 24, linewrap: false, forceRedraw: true },
        cliProgress.Presets.shades_classic,
      );
      this.#bar = this.#multi.create(total, 0, this.#payload());
    }
  }

  #payload(): { best: string; running: string } {
    const running = [...this.#running]
      .sort((a, b) => a[0] - b[0])
      .map(([n, r]) => `#${n} ${r.optimizer} epoch ${r.epoch}/${r.epochs}${r.batches ? ` ${Math.floor((100 * r.batch) / r.batches)}%` : ''}`)
      .join(' | ');
    return { best: this.#best ? `${pct(this.#best.value)} (#${this.#best.number})` : '-', running: running || (this.#anyStarted ? '' : 'starting the workers') };
  }

  #refresh(): void {
    this.#bar?.update(this.#done, this.#payload());
  }

  /** A line above the bar (or on stdout). */
  out(line: string): void {
    if (this.#multi) this.#multi.log(`${line}\n`);
    else process.stdout.write(`${line}\n`);
  }

  /** A line on stderr (above the bar). */
  err(line: string): void {
    if (this.#multi) this.#multi.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  event(e: PoolEvent): void {
    switch (e.type) {
      case 'worker-start':
        if (!this.#useBar) this.out(`worker ${e.worker} started (pid ${e.pid})`);
        break;
      case 'trial-start':
        this.#anyStarted = true;
        this.#running.set(e.number, { optimizer: String(e.params.optimizer), epoch: 1, epochs: this.#epochs, batch: 0, batches: 0 });
        if (!this.#useBar) this.out(`#${e.number} started on worker ${e.worker} (pid ${e.pid}): ${paramsText(e.params)}`);
        break;
      case 'progress': {
        const r = this.#running.get(e.number);
        if (r) Object.assign(r, { epoch: e.epoch, epochs: e.epochs, batch: e.batch, batches: e.batches });
        break;
      }
      case 'epoch':
        if (!this.#useBar && e.epoch < e.epochs) this.out(`#${e.number} epoch ${e.epoch}/${e.epochs}: validation accuracy ${pct(e.accuracy)}`);
        break;
      case 'trial-end': {
        this.#running.delete(e.number);
        if (e.counted) this.#done++;
        if (e.state === 'COMPLETE' && e.value !== null && (this.#best === null || e.value > this.#best.value)) this.#best = { value: e.value, number: e.number };
        const secs = e.seconds !== null ? ` in ${secondsText(e.seconds)} s` : '';
        let what: string;
        if (e.state === 'COMPLETE') what = `COMPLETE ${pct(e.value)}${secs}`;
        else if (e.state === 'PRUNED') what = `PRUNED at ${pct(e.value)}${secs}`;
        else what = `${e.state}${secs}${e.reason ? ` (${e.reason})` : ''}${e.counted ? '' : '; not counted'}`;
        this.out(`#${e.number} ${what}: ${paramsText(e.params)}  [${this.#done}/${this.#total}, best ${this.#best ? `${pct(this.#best.value)} #${this.#best.number}` : '-'}]`);
        break;
      }
      case 'worker-died': {
        const during = e.trial !== null ? ` during trial #${e.trial} (it will be failed and retried with the same parameters)` : '';
        this.err(`ferroptim: worker ${e.worker} (pid ${e.pid}) died (${e.how})${during}; ${e.replaced ? 'starting a replacement' : 'not replaced'}${e.stderr ? `\n  its last output: ${e.stderr.split('\n').slice(-3).join('\n  ')}` : ''}`);
        break;
      }
    }
    this.#refresh();
  }

  stop(): void {
    // Lines logged since the last redraw are written by a redraw, not by stop().
    this.#multi?.update();
    this.#multi?.stop();
    this.#multi = null;
    this.#bar = null;
  }
}

/** The command line that runs `remaining` more trials: the one given, with --trials changed. */
function continueCommand(argv: readonly string[], remaining: number): string {
  const args = [...argv];
  let found = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--trials' && i + 1 < args.length) {
      args[i + 1] = String(remaining);
      found = true;
    } else if (args[i]!.startsWith('--trials=')) {
      args[i] = `--trials=${remaining}`;
      found = true;
    }
  }
  if (!found) args.push('--trials', String(remaining));
  return ['ferroptim', ...args.map((a) => quote(redact(a)))].join(' ');
}

/**
 * Runs `ferroptim tune` with the command's parsed flags; returns the exit code.
 * @param cmd The tune command (its parent's raw arguments make the "continue with" line).
 */
export async function tuneAction(v: Record<string, string | undefined>, cmd?: Command): Promise<number> {
  const argv: readonly string[] = (cmd?.parent as (Command & { rawArgs?: string[] }) | undefined)?.rawArgs ?? ['tune'];
  const t0 = performance.now();
  const s = parseFlags(v);
  const out = s.settings.out;
  checkWritableDir(out, '--out');
  if (s.journalPath !== null) checkWritableDir(dirname(s.journalPath) || '.', '--storage');
  const study = await createStudy({ direction: 'maximize', storage: s.storage, studyName: s.studyName, loadIfExists: true, retryStaleTrials: 1 });
  let code = 1;
  try {
    const before = study.trials;
    const clash = incompatibility(s.space, studyDistributions(before));
    if (clash !== null) throw new UsageError(`--space/--optimizers/--lr: the search space cannot continue study ${JSON.stringify(s.studyName)}: ${clash}; choose another --study`);
    const shownStorage = s.storageKind === 'postgres' ? redact(s.storage) : s.storage === ':memory:' ? 'memory' : s.storage;
    const prior = best(study);
    const studyText =
      before.length > 0
        ? `continuing study ${JSON.stringify(s.studyName)} in ${shownStorage} (${plural(before.length, 'trial')} so far: ${countsText(before)}${prior ? `; best ${pct(prior.values![0])} #${prior.number}` : ''}), running ${s.trials} more`
        : `study ${JSON.stringify(s.studyName)} in ${shownStorage} (new), running ${plural(s.trials, 'trial')}`;
    process.stdout.write(
      `ferroptim: ${studyText} with ${plural(s.workers, 'worker')} × ${plural(s.threads, 'thread')}; ${s.settings.model}, ${plural(s.settings.epochs, 'epoch')} on ${trainImages(s.settings)} MNIST training images, validated on the last ${s.settings.valSize}; ${s.sampler === 'tpe' ? 'TPE' : 'random'} sampler, ${s.pruner} pruner\n` +
        `search space: ${describeSpace(s.space)}\n`,
    );

    const display = new Display(s.useBar, s.trials, s.settings.epochs, prior ? { value: prior.values![0]!, number: prior.number } : null);
    const config: Omit<WorkerConfig, 'index' | 'samplerSeed'> = {
      storage: s.storage,
      studyName: s.studyName,
      sampler: s.sampler,
      workers: s.workers,
      pruner: s.pruner,
      threads: s.threads,
      space: s.space,
      settings: s.settings,
    };
    const pool = new Pool(
      {
        config,
        seed: s.seed,
        workers: s.workers,
        trials: s.trials,
        maxRestarts: Math.max(3, s.workers),
        inProcess: s.workers === 1,
        storage: study.storage,
        trialCounted: async (number, worker) => {
          await study.refresh();
          const t = study.trials.find((x) => x.number === number);
          if (t === undefined) return false;
          // A journal file fails the trial of a dead process at the next worker's ask (and retries
          // it); PostgreSQL only after its heartbeat grace period: the command, which saw its
          // worker die, fails and retries it at once.
          if (s.storageKind === 'postgres' && t.state === TrialState.RUNNING) {
            await study.failDeadTrial(t, `Its worker, process ${worker.pid} on ${hostname()}, died (${worker.how}); failed by the ferroptim tune command (process ${process.pid}).`);
            return false;
          }
          return counts(t);
        },
      },
      (e) => display.event(e),
    );
    // Ctrl-C (or SIGTERM): the workers stop and fail their running trials; a second one kills them.
    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals === 1) {
        display.err('\nferroptim: stopping: the running trials are failed and not counted (Ctrl-C again to kill the workers at once)');
        pool.stop();
      } else if (s.workers === 1) {
        // The worker runs in this process, between two batches of a long epoch: leave now.
        display.stop();
        process.stderr.write('ferroptim: interrupted again; its running trial stays RUNNING until a later run of the study fails it\n');
        process.exit(130);
      } else pool.kill();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let result: PoolResult;
    try {
      result = await pool.run();
    } finally {
      display.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }

    // Trials of dead workers nobody failed (the last worker died) are failed now.
    await study.storage.failStaleTrials(study.studyId).catch(() => []);
    await study.refresh();
    code = await summary(study, s, result, before.length, argv, (performance.now() - t0) / 1000);
  } finally {
    await study.close();
  }
  return code;
}

async function summary(study: Study, s: TuneSettings, r: PoolResult, before: number, argv: readonly string[], seconds: number): Promise<number> {
  const out = s.settings.out;
  const trials = study.trials;
  const mine = trials.filter((t) => t.number >= before);
  const w = (line = '') => process.stdout.write(`${line}\n`);
  w();
  w(`${r.outcome === 'done' ? 'done' : 'stopped'}: ${plural(r.finished, 'trial')} of ${s.trials} in ${duration(seconds)} (this run: ${countsText(mine)}${r.deaths ? `; ${plural(r.deaths, 'worker')} died` : ''})`);
  w();
  if (trials.some((t) => t.values !== null)) {
    w(resultsTable(trials, study.direction, 10));
    w();
  }
  w(`study ${JSON.stringify(s.studyName)}: ${plural(trials.length, 'trial')}: ${countsText(trials)}`);
  const b = best(study);
  if (b) {
    w(`best: trial #${b.number}, validation accuracy ${pct(b.values![0])} (${b.values![0]}): ${Object.entries(b.params).map(([k, v]) => `${k}=${typeof v === 'number' ? exact(v) : v}`).join(' ')}`);
    const cmd = trainCommand(s.settings, b.params, join(out, 'best'));
    w(`train it again and measure its test accuracy:`);
    w(`  ${cmd.command}`);
    if (cmd.unsupported.length) w(`  (ferroptim train has no flag for ${cmd.unsupported.join(', ')}; it uses the default)`);
  } else {
    w('best: no trial has completed');
  }
  w(`wall time ${duration(seconds)}`);

  // trials.csv and the charts.
  const written: string[] = [];
  const csv = join(out, 'trials.csv');
  lib.writeFileAtomic(csv, trialsCsv(trials));
  written.push(csv);
  const title = `study ${JSON.stringify(s.studyName)}`;
  try {
    written.push((await savePlot(historyChart(trials, { title, direction: study.direction }), join(out, 'history'))).png);
    written.push((await savePlot(paramsChart(trials, { title }), join(out, 'params'))).png);
  } catch (e) {
    process.stderr.write(`ferroptim: could not draw the charts: ${(e as Error).message}\n`);
  }
  w(`wrote ${written.join(', ')}`);
  if (s.storageKind === 'journal') w(`open the study in optuna-dashboard: optuna-dashboard ${quote(s.journalPath!)}`);
  else if (s.storageKind === 'postgres') w(`open the study in optuna-dashboard: optuna-dashboard ${quote(redact(s.storage))}`);
  else w('the study was kept in memory and is gone with this command; pass --storage journal:PATH to keep it');

  if (r.outcome === 'interrupted') {
    process.stderr.write(`ferroptim: interrupted after ${plural(r.finished, 'trial')} of ${s.trials}; the study keeps them. Run the ${plural(r.remaining, 'trial')} left with:\n  ${continueCommand(argv, r.remaining)}\n`);
    return 130;
  }
  if (r.outcome === 'error' || r.outcome === 'short') {
    process.stderr.write(`ferroptim: ${r.error ?? 'the workers stopped early'}${r.remaining > 0 ? `; ${plural(r.remaining, 'trial')} not run (run them with: ${continueCommand(argv, r.remaining)})` : ''}\n`);
    return 1;
  }
  if (!b) {
    process.stderr.write('ferroptim: no trial of the study has completed (all failed or were pruned); try another --lr range or more --epochs\n');
    return 1;
  }
  return 0;
}

export { tuneCommandSpec };
