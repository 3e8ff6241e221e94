/**
 * The article's demonstrations as commands: `ferroptim landscape`, `race`, `regress` and
 * `compare`. Each prints its numbers and writes its pictures (SVG and PNG) into `--out`.
 * @module
 */
import { join } from 'node:path';
import { loadMnist } from 'ferroptim';
import { FUNCTIONS_2D, getFunction2D, sampleGrid, type Range2D } from '../demos/functions.js';
import { OPTIMIZER_NAMES, optimizerOptionsText, parseOptimizerSpec } from '../demos/optimizer-spec.js';
import { race } from '../demos/race.js';
import { regress } from '../demos/regress.js';
import { compare, type CompareResult } from '../demos/compare.js';
import { batchLossChart, epochLossChart, landscapeChart, raceChart, raceLossChart, regressionLossChart } from '../plot/charts.js';
import { savePlot, type SavedPlot } from '../plot/render.js';
import { getNumThreads, setNumThreads } from 'ferroptim';
import { writeFileAtomic } from 'ferroptim';
import { asUsage, num, UsageError, withoutSpecPrefix } from './usage.js';

/** `text` wrapped at 100 columns, every line indented by `indent` spaces. */
function wrapIndented(text: string, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent + line.length + 1 + word.length > 100) lines.push(line), (line = `  ${word}`);
    else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.map((l) => ' '.repeat(indent) + l).join('\n');
}


/** A flag of a demonstration command: a value (`string`) or a switch (`boolean`). */
export interface DemoFlag {
  type: 'string' | 'boolean';
  default?: string | boolean;
  /** Repeatable: the values are collected in order. */
  multiple?: boolean;
}

/** The parsed flags of a command, by long name. */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** A demonstration command: its help, its flags (parsed by the CLI's commander program) and its body. */
export interface DemoCommand {
  summary: string;
  help: string;
  flags: Record<string, DemoFlag>;
  /** The folder the command writes into, checked for writing before any work. */
  outDir(values: Values): string;
  run(values: Values): Promise<number>;
}


/** `a,b` or `a,b,c,d` → numbers, with a message naming the flag. */
function numberList(name: string, v: string, counts: number[], example: string): number[] {
  const parts = v.split(',').map((p) => p.trim());
  const ns = parts.map(Number);
  if (!counts.includes(parts.length) || parts.some((p) => p === '') || !ns.every(Number.isFinite)) {
    throw new UsageError(`--${name} expects ${counts.join(' or ')} comma-separated numbers (e.g. ${example}), received ${JSON.stringify(v)}`);
  }
  return ns;
}

function parseRange(v: string | undefined): Range2D | undefined {
  if (v === undefined) return undefined;
  const ns = numberList('range', v, [2, 4], '-5,5 or -2,2,-1,3');
  const [x0, x1, y0 = x0, y1 = x1] = ns as [number, number, number?, number?];
  if (!(x0 < x1 && y0! < y1!)) throw new UsageError(`--range expects min < max, received ${JSON.stringify(v)}`);
  return { x: [x0, x1], y: [y0!, y1!] };
}

function fnName(v: string): string {
  const name = v.toLowerCase();
  if (!(name in FUNCTIONS_2D)) throw new UsageError(`--fn expects one of ${Object.keys(FUNCTIONS_2D).join(', ')}, received ${JSON.stringify(v)}`);
  return name;
}

function scaleFlag(v: unknown): 'linear' | 'log' | undefined {
  if (v === undefined) return undefined;
  if (v !== 'linear' && v !== 'log') throw new UsageError(`--scale expects linear or log, received ${JSON.stringify(v)}`);
  return v;
}

function wrote(...plots: SavedPlot[]): string {
  return `wrote ${plots.flatMap((p) => [p.svg, p.png]).join(', ')}\n`;
}

function fmt(v: number): string {
  return String(Number(v.toPrecision(6)));
}

const out = (s: string) => process.stdout.write(s);

const FUNCTION_LIST = Object.values(FUNCTIONS_2D).map((f) => `    ${f.name.padEnd(11)} ${f.formula}, window [${f.range.x.join(', ')}] × [${f.range.y.join(', ')}]`).join('\n');

// ---------------------------------------------------------------------------------------------
const LANDSCAPE_HELP = `Usage: ferroptim landscape [options]

Draw a 2-D loss function as a contour plot with a colour bar (the article's first picture:
plt.contour(X, Y, Z, levels=50, cmap='viridis') with plt.colorbar(label='Loss')).

Options:
  --fn NAME             the function (default himmelblau):
${FUNCTION_LIST}
  --range A,B           the window [A, B]² (default: the function's); or --range X0,X1,Y0,Y1
  --levels N            contour levels (default 50)
  --resolution N        samples per axis (default: 100 as the article for himmelblau; 240-250 for
                        rastrigin, rosenbrock and beale)
  --scale linear|log    level spacing and colour scale (default: linear; log for rosenbrock and beale)
  --out DIR             output directory (default runs/landscape): NAME.svg and NAME.png
  -h, --help            this help

Example:
  ferroptim landscape --fn himmelblau --range -5,5
`;

const LANDSCAPE_FLAGS: Record<string, DemoFlag> = { fn: { type: 'string', default: 'himmelblau' }, range: { type: 'string' }, levels: { type: 'string', default: '50' }, resolution: { type: 'string' }, scale: { type: 'string' }, out: { type: 'string', default: 'runs/landscape' } };

async function landscapeCommand(v: Values): Promise<number> {
  const f = getFunction2D(fnName(v.fn as string));
  const range = parseRange(v.range as string | undefined) ?? f.range;
  const levels = num('levels', v.levels, { integer: true, min: 1 })!;
  const scale = scaleFlag(v.scale) ?? f.levelScale;
  const resolution = num('resolution', v.resolution, { integer: true, min: 2 }) ?? f.resolution;
  const grid = sampleGrid(f, range, resolution);
  out(`${f.label}: f(x, y) = ${f.formula}\n`);
  out(`window [${range.x.join(', ')}] × [${range.y.join(', ')}], ${resolution}×${resolution} grid: loss from ${fmt(grid.min)} to ${fmt(grid.max)}, ${levels} ${scale} levels\n`);
  out(`minima: ${f.minima.map(([x, y]) => `(${fmt(x)}, ${fmt(y)}) = ${fmt(f.f(x, y))}`).join(', ')}\n`);
  const plot = await savePlot(await landscapeChart(f, { range, levels, resolution, scale }), join(v.out as string, f.name));
  out(wrote(plot));
  return 0;
}

// ---------------------------------------------------------------------------------------------
const RACE_DEFAULT = ['sgd:lr=0.001', 'sgd:lr=0.001,momentum=0.9'];
const RACE_HELP = `Usage: ferroptim race [options]

Run optimizers on a 2-D function from the same start; print each final position and loss, and
draw the paths over the contour plot (the article's SGD-versus-momentum race on Rosenbrock).

Options:
  --fn NAME             ${Object.keys(FUNCTIONS_2D).join(', ')} (default rosenbrock)
  --start X,Y           start point (default: the function's; (-1, 1) for rosenbrock)
  --steps N             optimizer steps (default 1000)
  --optimizer SPEC      repeatable; NAME:OPTION=VALUE,... with any ferroptim optimizer and any of
                        its options (keys in camelCase, snake_case or kebab-case; a pair continues
                        after a comma: adam:lr=0.01,betas=0.8,0.99). Default: the article's
                        ${RACE_DEFAULT.join(' and ')}. The optimizers and their defaults:
${OPTIMIZER_NAMES.map((n) => wrapIndented(optimizerOptionsText(n), 26)).join('\n')}
  --range A,B           the plot's window (default: the function's); or X0,X1,Y0,Y1
  --levels N            contour levels (default 50)
  --out DIR             output directory (default runs/race): NAME.svg/.png (paths) and
                        NAME-loss.svg/.png (loss per step)
  -h, --help            this help

Positions are printed to 6 decimals and losses to 4 (the article's {:.4f}); ferroptim's weights
are float32, so they agree with the article's float64 numpy loop to about 1e-6.

Example:
  ferroptim race --fn rosenbrock --start -1,1 --steps 1000 --optimizer sgd:lr=0.001 \\
    --optimizer sgd:lr=0.001,momentum=0.9 --optimizer adam:lr=0.01
`;

const RACE_FLAGS: Record<string, DemoFlag> = {
    fn: { type: 'string', default: 'rosenbrock' }, start: { type: 'string' }, steps: { type: 'string', default: '1000' }, optimizer: { type: 'string', multiple: true },
    range: { type: 'string' }, levels: { type: 'string', default: '50' }, out: { type: 'string', default: 'runs/race' },
  };

async function raceCommand(v: Values): Promise<number> {
  const f = getFunction2D(fnName(v.fn as string));
  const start = v.start === undefined ? f.start : (numberList('start', v.start as string, [2], '-1,1') as [number, number]);
  const steps = num('steps', v.steps, { integer: true, min: 0 })!;
  const range = parseRange(v.range as string | undefined);
  const levels = num('levels', v.levels, { integer: true, min: 1 })!;
  const specs = ((v.optimizer as string[] | undefined) ?? RACE_DEFAULT).map((s) => asUsage(`--optimizer ${JSON.stringify(s)}`, () => parseOptimizerSpec(s), withoutSpecPrefix));
  const result = asUsage('--optimizer', () => race(f, { start: [start[0]!, start[1]!], steps, optimizers: specs }));
  out(`${f.name} from (${fmt(start[0]!)}, ${fmt(start[1]!)}), ${steps} steps\n`);
  const width = Math.max(...result.runs.map((r) => r.label.length));
  for (const r of result.runs) {
    if (r.diverged) {
      let i = r.x.length - 1;
      while (i > 0 && !(Number.isFinite(r.x[i]!) && Number.isFinite(r.y[i]!) && Number.isFinite(r.loss[i]!))) i--;
      out(`${r.label.padEnd(width)}  diverged at step ${i + 1}: last finite position [${r.x[i]!.toFixed(6)} ${r.y[i]!.toFixed(6)}] after ${i} steps, Loss: ${r.loss[i]!.toFixed(4)}\n`);
    } else {
      out(`${r.label.padEnd(width)}  final position [${r.final.x.toFixed(6)} ${r.final.y.toFixed(6)}], Loss: ${r.final.loss.toFixed(4)}\n`);
    }
  }
  const base = join(v.out as string, f.name);
  const paths = await savePlot(await raceChart(result, { ...(range ? { range } : {}), levels }), base);
  const losses = await savePlot(raceLossChart(result), `${base}-loss`);
  out(wrote(paths, losses));
  return 0;
}

// ---------------------------------------------------------------------------------------------
const REGRESS_HELP = `Usage: ferroptim regress [options]

The article's mini-batch linear regression: X 1000×10 and the true weights standard normal,
y = X·w + 0.1·noise, weights from 0.01·N(0, 1), mini-batches of 32, 100 epochs, SGD lr 0.01.
Prints the loss every 20 epochs (as the article: the epoch's last batch) and plots the loss curve.

Options:
  --optimizer SPEC      any ferroptim optimizer, NAME:OPTION=VALUE,... (default sgd:lr=0.01)
  --epochs N            (default 100)
  --batch-size N        (default 32)
  --samples N           rows of X (default 1000)
  --features N          columns of X (default 10)
  --seed N              seed of ferroptim's generator for data, weights and shuffling (default 42)
  --out DIR             output directory (default runs/regress): loss.svg and loss.png
  -h, --help            this help

Example:
  ferroptim regress --out runs/regress
`;

const REGRESS_FLAGS: Record<string, DemoFlag> = {
    optimizer: { type: 'string', default: 'sgd:lr=0.01' }, epochs: { type: 'string', default: '100' }, 'batch-size': { type: 'string', default: '32' },
    samples: { type: 'string', default: '1000' }, features: { type: 'string', default: '10' }, seed: { type: 'string', default: '42' }, out: { type: 'string', default: 'runs/regress' },
  };

async function regressCommand(v: Values): Promise<number> {
  const epochs = num('epochs', v.epochs, { integer: true, min: 1 })!;
  const batchSize = num('batch-size', v['batch-size'], { integer: true, min: 1 })!;
  const samples = num('samples', v.samples, { integer: true, min: 1 })!;
  const features = num('features', v.features, { integer: true, min: 1 })!;
  const seed = num('seed', v.seed, { integer: true, min: 0 })!;
  const result = asUsage(
    `--optimizer ${JSON.stringify(v.optimizer)}`,
    () => regress({ optimizer: parseOptimizerSpec(v.optimizer as string), epochs, batchSize, samples, features, seed }),
    withoutSpecPrefix,
  );
  out(`linear regression: ${samples}×${features} data, batch ${batchSize}, ${epochs} epochs, ${result.optimizer}\n`);
  for (const { epoch, loss } of result.log) out(`Epoch ${epoch}, Loss: ${loss.toFixed(4)}\n`);
  if (result.diverged) out(`diverged: the loss stopped being finite in epoch ${result.diverged.epoch}, batch ${result.diverged.batch}\n`);
  let err = 0;
  for (let j = 0; j < features; j++) err = Math.max(err, Math.abs(result.weights[j]! - result.trueWeights[j]!));
  out(`mean loss of the last epoch ${result.epochLosses.at(-1)!.toFixed(4)} (the noise variance is 0.0100); largest weight error ${err.toExponential(2)}\n`);
  out(wrote(await savePlot(regressionLossChart(result), join(v.out as string, 'loss'))));
  return 0;
}

// ---------------------------------------------------------------------------------------------
const COMPARE_HELP = `Usage: ferroptim compare [options]

The article's optimizer comparison on MNIST: the SimpleCNN trained once per optimizer from the same
initial weights on the same batches (SGD momentum 0.9, Adam, RMSprop, AdamW weight decay 0.01;
lr 1e-3, batch 128). Plots the average loss per epoch, one line per optimizer, and prints a table
of final loss, test accuracy and time per epoch.

Options:
  --optimizers LIST     comma-separated names (default sgd,adam,rmsprop,adamw); any of
                        ${OPTIMIZER_NAMES.filter((n) => n !== 'lookahead').join(', ')}
  --epochs N            (default 5; 1 with --per-batch)
  --per-batch           also plot every batch's loss (the article's point: --optimizers adam,radam)
  --lr N                learning rate (default 1e-3)
  --batch-size N        (default 128)
  --model cnn|mlp       (default cnn: the article's SimpleCNN)
  --seed N              seed of the initial weights and the shuffling (default 0)
  --limit N             use only the first N training images
  --test-limit N        use only the first N test images
  --data DIR            MNIST IDX files instead of the embedded copy
  --threads N           native threads (default: all cores)
  --out DIR             output directory (default runs/compare): loss-per-epoch.svg/.png,
                        loss-per-batch.svg/.png (with --per-batch; then, for one epoch, no
                        loss-per-epoch plot), results.json
  -h, --help            this help

Examples:
  ferroptim compare --optimizers sgd,adam,rmsprop,adamw --epochs 5
  ferroptim compare --optimizers adam,radam --per-batch
`;

function table(result: CompareResult): string {
  const rows = result.runs.map((r) => {
    const last = r.metrics.at(-1);
    const secs = r.metrics.reduce((s, m) => s + m.seconds, 0) / Math.max(r.metrics.length, 1);
    return [r.label, last ? last.trainLoss.toFixed(4) : '-', last ? `${(100 * last.testAccuracy).toFixed(2)}%` : '-', `${secs.toFixed(2)} s`];
  });
  const head = ['optimizer', 'final loss', 'test accuracy', 'time/epoch'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return `${[line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n')}\n`;
}

const COMPARE_FLAGS: Record<string, DemoFlag> = {
    optimizers: { type: 'string', default: 'sgd,adam,rmsprop,adamw' }, epochs: { type: 'string' }, 'per-batch': { type: 'boolean', default: false }, lr: { type: 'string', default: '1e-3' },
    'batch-size': { type: 'string', default: '128' }, model: { type: 'string', default: 'cnn' }, seed: { type: 'string', default: '0' }, limit: { type: 'string' },
    'test-limit': { type: 'string' }, data: { type: 'string' }, threads: { type: 'string' }, out: { type: 'string', default: 'runs/compare' },
  };

async function compareCommand(v: Values): Promise<number> {
  const perBatch = v['per-batch'] === true;
  const names = (v.optimizers as string).split(',').map((s) => s.trim().toLowerCase());
  for (const n of names) {
    if (!OPTIMIZER_NAMES.includes(n) || n === 'lookahead') throw new UsageError(`--optimizers expects names from ${OPTIMIZER_NAMES.filter((x) => x !== 'lookahead').join(', ')}, received ${JSON.stringify(n)}`);
  }
  if (new Set(names).size !== names.length) throw new UsageError(`--optimizers names an optimizer twice: ${JSON.stringify(v.optimizers)}`);
  const epochs = num('epochs', v.epochs ?? (perBatch ? '1' : '5'), { integer: true, min: 1 })!;
  const lr = num('lr', v.lr, { above: 0 })!;
  const batchSize = num('batch-size', v['batch-size'], { integer: true, min: 1 })!;
  const seed = num('seed', v.seed, { integer: true, min: 0 })!;
  const limit = num('limit', v.limit, { integer: true, min: 1 });
  const testLimit = num('test-limit', v['test-limit'], { integer: true, min: 1 });
  const threads = num('threads', v.threads, { integer: true, min: 1 });
  const model = v.model as string;
  if (model !== 'cnn' && model !== 'mlp') throw new UsageError(`--model expects cnn or mlp, received ${JSON.stringify(model)}`);
  if (threads !== undefined) setNumThreads(threads);
  const dir = v.data as string | undefined;
  const trainData = loadMnist({ split: 'train', ...(dir ? { dir } : {}), ...(limit ? { limit } : {}) });
  const testData = loadMnist({ split: 'test', ...(dir ? { dir } : {}), ...(testLimit ? { limit: testLimit } : {}) });
  out(`ferroptim: comparing ${names.join(', ')} on ${model === 'cnn' ? 'SimpleCNN' : 'MLP'}: ${epochs} epoch${epochs === 1 ? '' : 's'} of ${trainData.length} images, batch ${batchSize}, lr ${lr}, same initial weights (seed ${seed}), ${getNumThreads()} thread${getNumThreads() === 1 ? '' : 's'}\n`);
  const result = compare({
    optimizers: names, lr, epochs, batchSize, seed, model, trainData, testData, perBatch,
    onStart: (name) => out(`\nTraining with ${name}\n`),
    // The article prints every 100th batch; its epochs count from 0.
    onBatch: (name, p) => {
      if ((p.batch - 1) % 100 === 0) out(`${name} - Epoch ${p.epoch - 1}, Batch ${p.batch - 1}, Loss: ${p.batchLoss.toFixed(4)}\n`);
    },
    onEpoch: (name, m) => out(`${name} - epoch ${m.epoch}/${epochs}: average loss ${m.trainLoss.toFixed(4)}, test accuracy ${(100 * m.testAccuracy).toFixed(2)}%, ${m.seconds.toFixed(2)} s\n`),
  });
  out(`\n${table(result)}`);
  const outDir = v.out as string;
  // The results first, then each plot on its own: a write that fails loses only itself.
  const json = { model, lr, batchSize, seed, trainSize: result.trainSize, testSize: result.testSize, runs: result.runs.map((r) => ({ ...r, batchLosses: r.batchLosses ? Array.from(r.batchLosses) : undefined })) };
  const written: string[] = [];
  const failed: string[] = [];
  const attempt = async (what: string, write: () => Promise<string[]>) => {
    try {
      written.push(...(await write()));
    } catch (e) {
      failed.push(`${what}: ${(e as Error).message}`);
    }
  };
  await attempt('results.json', async () => {
    writeFileAtomic(join(outDir, 'results.json'), `${JSON.stringify(json, null, 1)}\n`);
    return [join(outDir, 'results.json')];
  });
  // One epoch batch by batch is the picture; a one-point-per-line epoch plot would add nothing.
  if (!(perBatch && epochs === 1)) await attempt('loss-per-epoch', async () => paths(await savePlot(epochLossChart(result), join(outDir, 'loss-per-epoch'))));
  if (perBatch) await attempt('loss-per-batch', async () => paths(await savePlot(batchLossChart(result), join(outDir, 'loss-per-batch'))));
  if (written.length) out(`wrote ${written.join(', ')}\n`);
  if (failed.length) throw new Error(`could not write ${failed.join('; ')}`);
  return 0;
}

function paths(p: SavedPlot): string[] {
  return [p.svg, p.png];
}

/** The demonstration commands, by name. */
export const DEMO_COMMANDS: Readonly<Record<string, DemoCommand>> = Object.freeze({
  landscape: { summary: 'contour plot of a 2-D loss function', help: LANDSCAPE_HELP, flags: LANDSCAPE_FLAGS, outDir: (v: Values) => v.out as string, run: landscapeCommand },
  race: { summary: 'optimizers racing on a 2-D function, paths over its contours', help: RACE_HELP, flags: RACE_FLAGS, outDir: (v: Values) => v.out as string, run: raceCommand },
  regress: { summary: "the article's mini-batch linear regression and its loss curve", help: REGRESS_HELP, flags: REGRESS_FLAGS, outDir: (v: Values) => v.out as string, run: regressCommand },
  compare: { summary: "the article's optimizer comparison on MNIST", help: COMPARE_HELP, flags: COMPARE_FLAGS, outDir: (v: Values) => v.out as string, run: compareCommand },
});
