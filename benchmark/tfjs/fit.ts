/**
 * `npm run bench:tfjs`: ferroptim's AdamW through the TensorFlow.js adapter (ts/tfjs/) against
 * `tf.train.adam`, on tfjs's `cpu` backend (pure JS) and its `wasm` backend (single-threaded in
 * Node), in one run, the contenders of each measurement interleaved in rounds (the machine is
 * shared and noisy: medians, ratios of medians and medians of the per-round ratios).
 *
 *   node --expose-gc --import @oxc-node/core/register benchmark/tfjs/fit.ts [--quick] [--batch N]
 *     [--cpu-steps N] [--wasm-steps N] [--cpu-opt-steps N] [--wasm-opt-steps N] [--warmup N]
 *     [--backends cpu,wasm] [--threads LIST]
 *
 * The adapter in its two modes:
 *  - default (`new TfjsOptimizer(opt)`), measured on both backends: the adapter keeps its own copy
 *    of each variable (read again only when something else assigned the variable), steps it and
 *    writes it out as a new tensor, one copy per step (4 B/param: on cpu `tf.tensor()` of a fresh
 *    `slice()` of the copy, since the cpu backend keeps the array it is given; on wasm the heap
 *    write copies), so that tfjs's tensors stay immutable; its first step also reads the
 *    variables in (4 B/param more). Gradients are read in place on cpu and wasm.
 *  - `inPlace: true`, measured on cpu only (it is ignored on wasm): the variables are updated in
 *    their own storage, zero copies per step once the first step has given each variable a buffer
 *    of its own (counted as 8 B/param).
 *
 * Per backend, in this order:
 *  1. Checks (abort on failure): ferroptim `Adam` (eps 1e-7, tfjs's default) through
 *     `TfjsOptimizer` (default; and `inPlace: true` on cpu) against `tf.train.adam(1e-3)` on copies
 *     of the same variables: 3 steps with the same gradients (`applyGradients`), and one
 *     `model.trainOnBatch` step of identical models; the weights must agree to 1e-6 (a step moves
 *     them by ~1e-3).
 *  2. `model.trainOnBatch` steps of an MLP 784→2048→2048→2048→10 (10,020,874 parameters), batch 32
 *     by default (so that the optimizer is a visible part of a step), softmax cross-entropy:
 *     `tf.train.adam(1e-3)` vs `new TfjsOptimizer(new AdamW(parametersOf(model), { lr: 1e-3 }))`
 *     (and, on cpu, the same with `{ inPlace: true }`), one step of each per round, after warm-up
 *     rounds.
 *  3. The optimizer step alone, for variables of the model's shapes with precomputed gradient
 *     tensors: `tf.train.adam(1e-3).applyGradients(grads)` vs `TfjsOptimizer(AdamW).applyGradients(grads)`
 *     (default; and `inPlace: true` on cpu) vs a bare `AdamW.step()` over plain Float32Array
 *     Parameters of the same sizes, ferroptim at each thread count of --threads. The adapter's
 *     overhead is its step minus the bare step (per mode); `lastTransfer.bytesCopied` is recorded
 *     at every step.
 * `tf.memory().numTensors` is printed at the start and end of every contender (and per backend).
 * Every timed step is preceded, untimed, by a full garbage collection (`--expose-gc`), so that one
 * contender's garbage (tf.train.adam on cpu frees ~0.4 GB of arrays per step, the default adapter
 * 40 MB) is not collected in another's step.
 *
 * Results: the machine line, the command and the tables on stdout and in
 * benchmark/results/tfjs.md, every sample in benchmark/results/tfjs.json. A full run takes about
 * 3½ minutes on 2 cores (a cpu-backend fit step takes seconds, hence the few cpu steps);
 * `--quick` (a smoke run) well under a minute.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { Adam, AdamW, getNumThreads, getSimdLevel, Parameter, setNumThreads } from '../../ts/index.js';
import { parametersOf, TfjsOptimizer, type TransferStats } from '../../ts/tfjs/index.js';
import { cpuSnap, fill, fillGrad, foreignLoad, median, NOISY, round } from '../harness.js';

const HERE = path.dirname(path.resolve(process.argv[1] ?? 'benchmark/tfjs/fit.ts'));
const ROOT = path.resolve(HERE, '../..');
const RESULTS = path.join(ROOT, 'benchmark/results');
const ALL = Math.max(1, os.availableParallelism());
const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

/** The MLP: layer widths. */
const WIDTHS = [784, 2048, 2048, 2048, 10];
const LR = 1e-3;
/** How many distinct batches the fit steps cycle through. */
const N_BATCHES = 4;
/** Largest |Δw| allowed between the adapter's Adam step and tf.train.adam's. */
const TOLERANCE = 1e-6;
const CHECK_STEPS = 3;

// ---------------------------------------------------------------------------------------------
// Flags

type Backend = 'cpu' | 'wasm';

interface Flags {
  quick: boolean;
  batch: number;
  fitSteps: Record<Backend, number>;
  optSteps: Record<Backend, number>;
  warmup: number;
  backends: Backend[];
  threads: number[];
  argv: string[];
}

function usage(msg?: string): never {
  if (msg) console.error(`bench:tfjs: ${msg}\n`);
  console.error(
    [
      'usage: npm run bench:tfjs -- [--quick] [--batch N] [--cpu-steps N] [--wasm-steps N] [--cpu-opt-steps N] [--wasm-opt-steps N] [--warmup N] [--backends cpu,wasm] [--threads LIST]',
      '  --batch N           batch size of the fit steps (default 32)',
      '  --cpu-steps N       timed fit steps per contender on cpu (default 10; a step takes seconds)',
      '  --wasm-steps N      timed fit steps per contender on wasm (default 20)',
      '  --cpu-opt-steps N   timed optimizer steps per contender on cpu (default 20)',
      '  --wasm-opt-steps N  timed optimizer steps per contender on wasm (default 30)',
      '  --warmup N          untimed rounds before each measurement (default 2)',
      '  --backends LIST     cpu, wasm or both (default cpu,wasm)',
      `  --threads LIST      ferroptim thread counts of the optimizer-step measurement (default 1,${ALL}); the fit steps use the last`,
      '  --quick             a smoke run: 2 cpu / 3 wasm fit steps, 3 / 5 optimizer steps, 1 warm-up round',
    ].join('\n'),
  );
  process.exit(msg ? 2 : 0);
}

function parseFlags(argv: string[]): Flags {
  const f: Flags = { quick: false, batch: 32, fitSteps: { cpu: 10, wasm: 20 }, optSteps: { cpu: 20, wasm: 30 }, warmup: 2, backends: ['cpu', 'wasm'], threads: [...new Set([1, ALL])], argv };
  const set: Partial<Record<string, number>> = {};
  let threads: number[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') usage(`${name} needs a value`);
      return v;
    };
    const int = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < min) usage(`${name}: expected an integer >= ${min}, received ${v}`);
      return n;
    };
    if (name === '--quick') f.quick = true;
    else if (name === '--help' || name === '-h') usage();
    else if (['--batch', '--cpu-steps', '--wasm-steps', '--cpu-opt-steps', '--wasm-opt-steps'].includes(name)) set[name] = int(1);
    else if (name === '--warmup') set[name] = int(0);
    else if (name === '--backends') {
      const bs = value().split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
      for (const b of bs) if (b !== 'cpu' && b !== 'wasm') usage(`--backends: unknown backend ${JSON.stringify(b)} (expected cpu, wasm)`);
      f.backends = [...new Set(bs as Backend[])];
    } else if (name === '--threads') {
      threads = value().split(',').map((s) => Number(s.trim()));
      if (threads.length === 0 || !threads.every((t) => Number.isSafeInteger(t) && t >= 1)) usage(`--threads: expected a list of integers >= 1`);
    } else usage(`unknown argument ${a}`);
  }
  if (f.quick) Object.assign(f, { fitSteps: { cpu: 2, wasm: 3 }, optSteps: { cpu: 3, wasm: 5 }, warmup: 1 });
  if (set['--batch'] !== undefined) f.batch = set['--batch'];
  if (set['--cpu-steps'] !== undefined) f.fitSteps.cpu = set['--cpu-steps'];
  if (set['--wasm-steps'] !== undefined) f.fitSteps.wasm = set['--wasm-steps'];
  if (set['--cpu-opt-steps'] !== undefined) f.optSteps.cpu = set['--cpu-opt-steps'];
  if (set['--wasm-opt-steps'] !== undefined) f.optSteps.wasm = set['--wasm-opt-steps'];
  if (set['--warmup'] !== undefined) f.warmup = set['--warmup'];
  if (threads) f.threads = [...new Set(threads)];
  return f;
}

// ---------------------------------------------------------------------------------------------
// Machine and load

function cpuinfo(field: string): string | null {
  try {
    return new RegExp(`^${field}\\s*:\\s*(.*)$`, 'm').exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? null;
  } catch {
    return null;
  }
}

function gitCommit(): string {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' });
  return r.stdout.trim() + (dirty.stdout.trim() ? '+dirty' : '');
}

interface PhaseRecord {
  phase: string;
  seconds: number;
  otherCores?: number;
  stealCores?: number;
}
const phases: PhaseRecord[] = [];

async function phase<T>(name: string, body: () => Promise<T>): Promise<T> {
  console.log(`\n## ${name}`);
  const a = cpuSnap();
  const t0 = performance.now();
  const out = await body();
  const load = foreignLoad(a, cpuSnap());
  phases.push({ phase: name, seconds: round((performance.now() - t0) / 1e3, 1), ...(load ?? {}) });
  console.log(`  (${round((performance.now() - t0) / 1e3, 1)} s${load ? `; other processes used ${load.otherCores} cores on average, steal ${load.stealCores}` : ''})`);
  return out;
}

const noisy = (name: string): boolean => (phases.find((p) => p.phase === name)?.otherCores ?? 0) > NOISY;

// ---------------------------------------------------------------------------------------------
// Models, variables, data

/** The MLP; seeded initializers, so two builds have the same weights (in different variables). */
function buildModel(): tf.Sequential {
  const m = tf.sequential();
  for (let i = 1; i < WIDTHS.length; i++) {
    m.add(
      tf.layers.dense({
        ...(i === 1 ? { inputShape: [WIDTHS[0]!] } : {}),
        units: WIDTHS[i]!,
        activation: i === WIDTHS.length - 1 ? 'softmax' : 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1000 + i }),
        biasInitializer: tf.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed: 2000 + i }),
      }),
    );
  }
  return m;
}

/** The shapes of the model's trainable weights (kernel, bias per layer). */
function weightShapes(): number[][] {
  const out: number[][] = [];
  for (let i = 1; i < WIDTHS.length; i++) out.push([WIDTHS[i - 1]!, WIDTHS[i]!], [WIDTHS[i]!]);
  return out;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Float32 values of the model-shaped tensors: initial weights (seed s) in [-0.05, 0.05] and gradients. */
function initValues(shapes: number[][], seed: number): Float32Array[] {
  return shapes.map((s, i) => fill(new Float32Array(numel(s)), seed * 7919 + 2 * i + 1, -0.05, 0.05));
}
function gradValues(shapes: number[][], seed: number): Float32Array[] {
  return shapes.map((s, i) => fillGrad(new Float32Array(numel(s)), seed * 7919 + 2 * i + 2));
}

/** tf.Variables with the given values (copied), named `${prefix}/${i}`. */
function variables(prefix: string, shapes: number[][], values: Float32Array[]): tf.Variable[] {
  return shapes.map((s, i) => {
    const t = tf.tensor(Float32Array.from(values[i]!), s, 'float32');
    const v = tf.variable(t, true, `${prefix}/${i}`);
    t.dispose();
    return v;
  });
}

function maxAbsDiff(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): number {
  let m = 0;
  a.forEach((x, i) => {
    const u = x.dataSync() as Float32Array;
    const w = b[i]!.dataSync() as Float32Array;
    if (u.length !== w.length) throw new Error(`maxAbsDiff: sizes differ (${u.length} vs ${w.length})`);
    for (let k = 0; k < u.length; k++) {
      const d = Math.abs(u[k]! - w[k]!);
      if (!(d <= m)) m = d; // NaN propagates
    }
  });
  return m;
}

/** Snapshots of tensors' values (copies: on the cpu backend `dataSync()` returns the storage itself). */
const snapshot = (ts: readonly tf.Tensor[]): tf.Tensor[] => ts.map((t) => tf.tensor(Float32Array.from(t.dataSync() as Float32Array), t.shape));

const modelWeights = (m: tf.LayersModel): tf.Variable[] => m.trainableWeights.map((w) => w.read() as tf.Variable);

// ---------------------------------------------------------------------------------------------
// Timing

/** The adapter's mode: `new TfjsOptimizer(opt)` or `new TfjsOptimizer(opt, { inPlace: true })`. */
type Mode = 'default' | 'inPlace';
const MODE_TEXT: Record<Mode, string> = { default: 'default', inPlace: 'inPlace: true' };
/** The modes measured on a backend: inPlace is ignored on wasm (it would measure the default again). */
const modesOf = (b: Backend): Mode[] => (b === 'cpu' ? ['default', 'inPlace'] : ['default']);
const adapterOptions = (m: Mode) => (m === 'inPlace' ? { inPlace: true } : {});
/** The contender-id segment of an adapter mode. */
const MODE_ID: Record<Mode, string> = { default: 'adapter', inPlace: 'adapter-inplace' };

interface Contender {
  id: string;
  backend: Backend;
  part: 'fit' | 'optimizer-step';
  label: string;
  /** ferroptim's thread count, or null for tf.train.adam (tfjs is single-threaded here). */
  threads: number | null;
  run: () => unknown;
  /** The adapter, whose lastTransfer is recorded after each step, and its mode. */
  adapter?: TfjsOptimizer;
  mode?: Mode;
  samples: number[];
  /** numTensors after minus before each timed step. */
  tensorDeltas: number[];
  tensorsStart: number | null;
  tensorsEnd: number | null;
  /** lastTransfer.bytesCopied of each timed step, and of its adapter's first (warm-up) step. */
  bytes: number[];
  firstStepBytes: number | null;
  transfer: TransferStats | null;
  losses: number[];
}

function contender(c: Pick<Contender, 'id' | 'backend' | 'part' | 'label' | 'threads' | 'run' | 'adapter' | 'mode'>): Contender {
  return { ...c, samples: [], tensorDeltas: [], tensorsStart: null, tensorsEnd: null, bytes: [], firstStepBytes: null, transfer: null, losses: [] };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
/** lastTransfer.bytesCopied of each adapter's first step (contenders at several thread counts share one adapter). */
const firstBytes = new WeakMap<TfjsOptimizer, number>();

async function oneStep(c: Contender, timed: boolean): Promise<void> {
  gc?.();
  await settle();
  const before = tf.memory().numTensors;
  if (timed && c.tensorsStart === null) {
    c.tensorsStart = before;
    console.log(`    ${c.label}${c.threads ? ` ${c.threads}T` : ''}: numTensors ${before} at the start`);
  }
  const t0 = performance.now();
  const out = await c.run();
  const ms = performance.now() - t0;
  const after = tf.memory().numTensors;
  const bytes = c.adapter?.lastTransfer?.bytesCopied ?? null;
  if (c.adapter && bytes !== null && !firstBytes.has(c.adapter)) firstBytes.set(c.adapter, bytes);
  if (c.adapter) c.firstStepBytes = firstBytes.get(c.adapter) ?? null;
  if (!timed) return;
  c.samples.push(ms);
  c.tensorDeltas.push(after - before);
  c.tensorsEnd = after;
  if (bytes !== null) c.bytes.push(bytes);
  if (c.adapter) c.transfer = c.adapter.lastTransfer;
  if (typeof out === 'number') c.losses.push(out);
}

/**
 * `warmup` untimed then `rounds` timed rounds of one step of every contender; the order rotates
 * each round. A ferroptim contender whose thread count differs from the pool's gets the pool
 * resized and one untimed step first.
 */
async function interleave(cs: Contender[], rounds: number, warmup: number, progress: boolean): Promise<void> {
  for (let r = 0; r < warmup + rounds; r++) {
    const timed = r >= warmup;
    const order = cs.map((_, i) => cs[(i + r) % cs.length]!);
    const line: string[] = [];
    for (const c of order) {
      if (c.threads !== null && getNumThreads() !== c.threads) {
        setNumThreads(c.threads);
        await oneStep(c, false);
      }
      await oneStep(c, timed);
      if (progress) line.push(`${c.label}${c.threads ? ` ${c.threads}T` : ''} ${(timed ? c.samples.at(-1)! : NaN).toFixed(0)} ms`);
    }
    if (progress && timed) console.log(`    round ${r - warmup + 1}/${rounds}: ${line.join(', ')}`);
    else if (progress) console.log(`    warm-up round ${r + 1}/${warmup} done`);
  }
  for (const c of cs) {
    const own = c.tensorDeltas.reduce((a, b) => a + b, 0);
    console.log(`    ${c.label}${c.threads ? ` ${c.threads}T` : ''}: numTensors ${c.tensorsEnd} at the end (its ${c.samples.length} timed steps added ${own}); median ${fmtMs(median(c.samples))}, min ${fmtMs(Math.min(...c.samples))}`);
  }
}

function fmtMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}
function fmtBytes(b: number | null): string {
  if (b === null) return '–';
  if (b === 0) return '0';
  return b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} kB` : `${b} B`;
}

/** Per-round ratios a[i] / b[i] (the rounds interleave them, so each pair shares its conditions). */
const paired = (a: number[], b: number[]): number[] => a.map((x, i) => x / b[i]!).filter((x) => Number.isFinite(x));

// ---------------------------------------------------------------------------------------------
// One backend

interface CheckResult {
  backend: Backend;
  mode: Mode;
  kind: 'applyGradients' | 'trainOnBatch';
  steps: number;
  maxAbsDiff: number[];
  maxStep: number;
  pass: boolean;
}

interface BackendResult {
  backend: Backend;
  fit: Contender[];
  opt: Contender[];
  checks: CheckResult[];
  tensorsAtStart: number;
  tensorsAtEnd: number;
}

function fail(msg: string): never {
  console.error(`\nbench:tfjs: ${msg}`);
  process.exit(1);
}

async function runBackend(backend: Backend, flags: Flags): Promise<BackendResult> {
  if (!(await tf.setBackend(backend))) fail(`could not initialise the tfjs ${backend} backend`);
  await tf.ready();
  const tensorsAtStart = tf.memory().numTensors;
  console.log(`\n# backend ${backend}: numTensors ${tensorsAtStart} at the start`);
  const fitThreads = flags.threads.at(-1)!;
  const shapes = weightShapes();
  const checks: CheckResult[] = [];

  // The inputs of the fit steps.
  const batches = Array.from({ length: N_BATCHES }, (_, i) => ({
    x: tf.randomNormal([flags.batch, WIDTHS[0]!], 0, 1, 'float32', 300 + i),
    y: tf.tidy(() => tf.oneHot(tf.randomUniform([flags.batch], 0, WIDTHS.at(-1)!, 'int32', 400 + i) as tf.Tensor1D, WIDTHS.at(-1)!)),
  }));
  const grads = gradValues(shapes, 7);
  const gradTensors = shapes.map((s, i) => tf.tensor(Float32Array.from(grads[i]!), s, 'float32'));
  // By variable name. (tf.Optimizer.applyGradients is typed as taking a NamedVariableMap, though
  // it takes any tensors: hence the cast.)
  const gradMap = (vars: tf.Variable[]): Record<string, tf.Variable> => Object.fromEntries(vars.map((v, i) => [v.name, gradTensors[i]! as tf.Variable]));

  // 1. Checks, of every adapter mode measured on this backend.
  await phase(`${backend}: checks`, async () => {
    setNumThreads(fitThreads);
    const modes = modesOf(backend);
    // applyGradients: the same variables and gradients.
    const init = initValues(shapes, 11);
    const a = variables(`${backend}/check/tf`, shapes, init);
    const start = snapshot(a);
    const tfAdam = tf.train.adam(LR);
    const ours = modes.map((m) => {
      const vs = variables(`${backend}/check/${MODE_ID[m]}`, shapes, init);
      return { m, vs, opt: new TfjsOptimizer(new Adam(parametersOf(vs), { lr: LR, eps: 1e-7 }), adapterOptions(m)), diffs: [] as number[] };
    });
    for (let s = 0; s < CHECK_STEPS; s++) {
      tfAdam.applyGradients(gradMap(a));
      for (const o of ours) {
        o.opt.applyGradients(gradMap(o.vs));
        o.diffs.push(maxAbsDiff(a, o.vs));
      }
    }
    const moved = maxAbsDiff(a, start);
    for (const o of ours) {
      const c1: CheckResult = { backend, mode: o.m, kind: 'applyGradients', steps: CHECK_STEPS, maxAbsDiff: o.diffs, maxStep: moved, pass: o.diffs.every((d) => d <= TOLERANCE) };
      checks.push(c1);
      console.log(`  applyGradients, Adam(eps 1e-7) via TfjsOptimizer (${MODE_TEXT[o.m]}) vs tf.train.adam: max |Δw| after steps 1..${CHECK_STEPS}: ${o.diffs.map((d) => d.toExponential(2)).join(', ')} (weights moved by up to ${moved.toExponential(2)}) ${c1.pass ? 'ok' : 'FAILED'}`);
      tf.dispose(o.vs);
      o.opt.dispose();
    }
    tf.dispose([...a, ...start]);
    tfAdam.dispose();

    // trainOnBatch: models with the same weights, the same batch.
    const ma = buildModel();
    const before = snapshot(modelWeights(ma));
    const tfAdam2 = tf.train.adam(LR);
    ma.compile({ optimizer: tfAdam2, loss: 'categoricalCrossentropy' });
    const others = modes.map((m) => {
      const mb = buildModel();
      const initDiff = maxAbsDiff(modelWeights(ma), modelWeights(mb));
      if (initDiff !== 0) fail(`the models were built with different weights (max |Δ| ${initDiff})`);
      const opt = new TfjsOptimizer(new Adam(parametersOf(mb), { lr: LR, eps: 1e-7 }), adapterOptions(m));
      mb.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
      return { m, mb, opt };
    });
    // One step: from the second on, the models' gradients differ (the weights do, by ~1e-8), and
    // Adam's g/√v turns tiny differences in near-zero gradients into ~1e-5 (tf.train.adam against
    // itself with the weights perturbed by ±7.5e-9 after step 1: 2e-5 after step 2).
    const { x, y } = batches[0]!;
    await ma.trainOnBatch(x, y);
    const fmoved = maxAbsDiff(modelWeights(ma), before);
    for (const o of others) {
      await o.mb.trainOnBatch(x, y);
      const fdiffs = [maxAbsDiff(modelWeights(ma), modelWeights(o.mb))];
      const c2: CheckResult = { backend, mode: o.m, kind: 'trainOnBatch', steps: 1, maxAbsDiff: fdiffs, maxStep: fmoved, pass: fdiffs.every((d) => d <= TOLERANCE) };
      checks.push(c2);
      console.log(`  trainOnBatch, Adam(eps 1e-7) via TfjsOptimizer (${MODE_TEXT[o.m]}) vs tf.train.adam: max |Δw| after one step: ${fdiffs.map((d) => d.toExponential(2)).join(', ')} (weights moved by up to ${fmoved.toExponential(2)}) ${c2.pass ? 'ok' : 'FAILED'}`);
      o.mb.dispose();
      o.opt.dispose();
    }
    tf.dispose(before);
    ma.dispose();
    tfAdam2.dispose();
    const failed = checks.filter((c) => !c.pass);
    if (failed.length) fail(`the adapter's Adam differs from tf.train.adam by more than ${TOLERANCE} on ${backend} (${failed.map((c) => `${c.kind}, ${MODE_TEXT[c.mode]}: ${c.maxAbsDiff.map((d) => d.toExponential(2)).join(', ')}`).join('; ')}); not timing a wrong step`);
    console.log(`  numTensors ${tf.memory().numTensors} after the checks`);
  });

  // 2. Fit steps.
  const fit = await phase(`${backend}: fit`, async () => {
    setNumThreads(fitThreads);
    const ma = buildModel();
    const tfAdam = tf.train.adam(LR);
    ma.compile({ optimizer: tfAdam, loss: 'categoricalCrossentropy' });
    const ours = modesOf(backend).map((m) => {
      const mb = buildModel();
      const opt = new TfjsOptimizer(new AdamW(parametersOf(mb), { lr: LR }), adapterOptions(m));
      mb.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
      return { m, mb, opt };
    });
    const trainer = (m: tf.LayersModel) => {
      let k = 0;
      return async () => {
        const { x, y } = batches[k++ % N_BATCHES]!;
        return (await m.trainOnBatch(x, y)) as number;
      };
    };
    const cs = [
      contender({ id: `${backend}/fit/tf-adam`, backend, part: 'fit', label: 'tf.train.adam', threads: null, run: trainer(ma) }),
      ...ours.map((o) =>
        contender({ id: `${backend}/fit/${MODE_ID[o.m]}`, backend, part: 'fit', label: `ferroptim AdamW (TfjsOptimizer, ${MODE_TEXT[o.m]})`, threads: fitThreads, run: trainer(o.mb), adapter: o.opt, mode: o.m }),
      ),
    ];
    console.log(`  model.trainOnBatch, batch ${flags.batch}, ${flags.warmup} warm-up + ${flags.fitSteps[backend]} timed rounds; ferroptim on ${fitThreads} thread(s), adapter ${ours.map((o) => MODE_TEXT[o.m]).join(' and ')}`);
    await interleave(cs, flags.fitSteps[backend], flags.warmup, true);
    ma.dispose();
    tfAdam.dispose();
    for (const o of ours) {
      o.mb.dispose();
      o.opt.dispose();
    }
    console.log(`  numTensors ${tf.memory().numTensors} after disposing the models and optimizers`);
    return cs;
  });

  // 3. The optimizer step alone.
  const opt = await phase(`${backend}: optimizer step`, async () => {
    const init = initValues(shapes, 13);
    const va = variables(`${backend}/step/tf`, shapes, init);
    const tfAdam = tf.train.adam(LR);
    const ours = modesOf(backend).map((m) => {
      const vs = variables(`${backend}/step/${MODE_ID[m]}`, shapes, init);
      return { m, vs, opt: new TfjsOptimizer(new AdamW(parametersOf(vs), { lr: LR }), adapterOptions(m)), grads: gradMap(vs) };
    });
    const bareParams = shapes.map((s, i) => {
      const p = new Parameter(Float32Array.from(init[i]!), { name: `p${i}`, shape: s });
      p.grad = Float32Array.from(grads[i]!);
      return p;
    });
    const bare = new AdamW(bareParams, { lr: LR });
    const ga = gradMap(va);
    const cs: Contender[] = [contender({ id: `${backend}/step/tf-adam`, backend, part: 'optimizer-step', label: 'tf.train.adam applyGradients', threads: null, run: () => tfAdam.applyGradients(ga) })];
    for (const t of flags.threads) {
      for (const o of ours) {
        cs.push(
          contender({ id: `${backend}/step/${MODE_ID[o.m]}/${t}T`, backend, part: 'optimizer-step', label: `TfjsOptimizer(AdamW, ${MODE_TEXT[o.m]}) applyGradients`, threads: t, run: () => o.opt.applyGradients(o.grads), adapter: o.opt, mode: o.m }),
        );
      }
      cs.push(contender({ id: `${backend}/step/bare/${t}T`, backend, part: 'optimizer-step', label: 'bare AdamW.step()', threads: t, run: () => bare.step() }));
    }
    console.log(`  ${shapes.length} tensors, ${shapes.reduce((a, s) => a + numel(s), 0)} parameters; ${flags.warmup + 1} warm-up + ${flags.optSteps[backend]} timed rounds; ferroptim at ${flags.threads.join(', ')} thread(s), adapter ${ours.map((o) => MODE_TEXT[o.m]).join(' and ')}`);
    await interleave(cs, flags.optSteps[backend], flags.warmup + 1, false);
    tf.dispose([...va, ...ours.flatMap((o) => o.vs)]);
    tfAdam.dispose();
    for (const o of ours) o.opt.dispose();
    bare.dispose();
    return cs;
  });

  tf.dispose([...gradTensors, ...batches.flatMap((b) => [b.x, b.y])]);
  const tensorsAtEnd = tf.memory().numTensors;
  console.log(`  numTensors ${tensorsAtEnd} at the end of backend ${backend} (${tensorsAtStart} at its start)`);
  return { backend, fit, opt, checks, tensorsAtStart, tensorsAtEnd };
}

// ---------------------------------------------------------------------------------------------
// Report

interface RatioRow {
  name: string;
  values: Partial<Record<Backend, string>>;
  raw: Partial<Record<Backend, unknown>>;
}

function report(results: BackendResult[], flags: Flags, head: string[], params: number): { md: string; ratios: RatioRow[] } {
  const star = (b: Backend, part: 'fit' | 'optimizer step') => (noisy(`${b}: ${part}`) ? ' *' : '');
  const rows: string[] = [
    '| Backend | Measurement | Contender | ferroptim threads | Median / step | Steps/s | Min / step | n | lastTransfer.bytesCopied / step, median (first step) | numTensors start → end (added) |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of results) {
    for (const c of [...r.fit, ...r.opt]) {
      const med = median(c.samples);
      const own = c.tensorDeltas.reduce((a, b) => a + b, 0);
      const bytes = c.bytes.length ? `${fmtBytes(median(c.bytes))} (${fmtBytes(c.firstStepBytes)})` : '–';
      rows.push(
        `| ${r.backend} | ${c.part === 'fit' ? `fit step, batch ${flags.batch}` : 'optimizer step'}${star(r.backend, c.part === 'fit' ? 'fit' : 'optimizer step')} | ${c.label} | ${c.threads ?? '–'} | ${fmtMs(med)} | ${(1000 / med).toFixed(c.part === 'fit' ? 2 : 1)} | ${fmtMs(Math.min(...c.samples))} | ${c.samples.length} | ${bytes} | ${c.tensorsStart} → ${c.tensorsEnd} (${own >= 0 ? '+' : ''}${own}) |`,
      );
    }
  }

  const ratios: RatioRow[] = [];
  const add = (name: string, f: (r: BackendResult) => { text: string; raw: unknown } | null) => {
    const row: RatioRow = { name, values: {}, raw: {} };
    for (const r of results) {
      const v = f(r);
      if (v) {
        row.values[r.backend] = v.text;
        row.raw[r.backend] = v.raw;
      }
    }
    ratios.push(row);
  };
  const fitOf = (r: BackendResult, id: string) => r.fit.find((c) => c.id.endsWith(id));
  const optOf = (r: BackendResult, id: string) => r.opt.find((c) => c.id.endsWith(id));
  const modes = (['default', 'inPlace'] as const).filter((m) => results.some((r) => modesOf(r.backend).includes(m)));
  /** Median of the per-round differences a[i] − b[i]. */
  const pairedDiff = (a: number[], b: number[]): number => median(a.map((x, i) => x - b[i]!));
  for (const m of modes) {
    add(`fit steps/s, ferroptim AdamW (TfjsOptimizer, ${MODE_TEXT[m]}) / tf.train.adam (ratio of medians; median of per-round ratios)`, (r) => {
      const a = fitOf(r, '/tf-adam');
      const b = fitOf(r, `/fit/${MODE_ID[m]}`);
      if (!a || !b) return null;
      const v = median(a.samples) / median(b.samples);
      const p = median(paired(a.samples, b.samples));
      return { text: `${v.toFixed(2)}× (${p.toFixed(2)}×)${star(r.backend, 'fit')}`, raw: { ratioOfMedians: v, medianPaired: p } };
    });
  }
  for (const m of modes) {
    add(`fit step time saved per step, tf.train.adam − ferroptim (${MODE_TEXT[m]}) (difference of medians; paired)`, (r) => {
      const a = fitOf(r, '/tf-adam');
      const b = fitOf(r, `/fit/${MODE_ID[m]}`);
      if (!a || !b) return null;
      const d = median(a.samples) - median(b.samples);
      const pd = pairedDiff(a.samples, b.samples);
      return { text: `${fmtMs(d)} (${fmtMs(pd)})`, raw: { ms: d, pairedMs: pd } };
    });
  }
  if (modes.includes('inPlace')) {
    add('fit step, ferroptim default − inPlace: true (difference of medians; paired)', (r) => {
      const a = fitOf(r, `/fit/${MODE_ID.default}`);
      const b = fitOf(r, `/fit/${MODE_ID.inPlace}`);
      if (!a || !b) return null;
      const d = median(a.samples) - median(b.samples);
      const pd = pairedDiff(a.samples, b.samples);
      return { text: `${fmtMs(d)} (${fmtMs(pd)})${star(r.backend, 'fit')}`, raw: { ms: d, pairedMs: pd } };
    });
  }
  add('tf.train.adam step alone, share of its fit step', (r) => {
    const a = optOf(r, '/step/tf-adam');
    const f = fitOf(r, '/tf-adam');
    if (!a || !f) return null;
    const s = median(a.samples) / median(f.samples);
    return { text: `${(100 * s).toFixed(0)} %`, raw: s };
  });
  for (const t of flags.threads) {
    for (const m of modes) {
      add(`optimizer step, tf.train.adam / TfjsOptimizer(AdamW, ${MODE_TEXT[m]}) at ${t}T (ratio of medians; paired)`, (r) => {
        const a = optOf(r, '/step/tf-adam');
        const b = optOf(r, `/step/${MODE_ID[m]}/${t}T`);
        if (!a || !b) return null;
        const v = median(a.samples) / median(b.samples);
        const p = median(paired(a.samples, b.samples));
        return { text: `${v.toFixed(1)}× (${p.toFixed(1)}×)${star(r.backend, 'optimizer step')}`, raw: { ratioOfMedians: v, medianPaired: p } };
      });
    }
    for (const m of modes) {
      add(`adapter overhead per step at ${t}T, ${MODE_TEXT[m]}: TfjsOptimizer − bare AdamW.step() (difference of medians; % of the bare step; paired)`, (r) => {
        const a = optOf(r, `/step/${MODE_ID[m]}/${t}T`);
        const b = optOf(r, `/step/bare/${t}T`);
        if (!a || !b) return null;
        const bare = median(b.samples);
        const d = median(a.samples) - bare;
        const pd = pairedDiff(a.samples, b.samples);
        return { text: `${fmtMs(d)} (${((100 * d) / bare).toFixed(0)} %; paired ${fmtMs(pd)})${star(r.backend, 'optimizer step')}`, raw: { ms: d, percentOfBare: (100 * d) / bare, pairedMs: pd, bareMs: bare } };
      });
    }
  }
  for (const m of modes) {
    add(`lastTransfer.bytesCopied per step, ${MODE_TEXT[m]}: steady (first step)`, (r) => {
      const c = optOf(r, `/step/${MODE_ID[m]}/${flags.threads.at(-1)}T`) ?? fitOf(r, `/fit/${MODE_ID[m]}`);
      if (!c || !c.bytes.length) return null;
      const t = c.transfer;
      return {
        text: `${fmtBytes(median(c.bytes))} (${fmtBytes(c.firstStepBytes)}) = ${(median(c.bytes) / params).toFixed(0)} B/param; ${t ? `${t.inPlace} in place, ${t.copied} copied, grads ${t.gradsInPlace} in place / ${t.gradsCopied} copied` : ''}`,
        raw: { steady: median(c.bytes), first: c.firstStepBytes, transfer: t },
      };
    });
  }

  const backends = results.map((r) => r.backend);
  const md: string[] = [...head, ''];
  md.push(
    `Model: MLP ${WIDTHS.join('→')} (ReLU, softmax; ${params.toLocaleString('en-US')} parameters in ${weightShapes().length} tensors), softmax cross-entropy, \`model.trainOnBatch\` with batch ${flags.batch}; lr ${LR} (ferroptim AdamW: weight decay 0.01, its default). The optimizer step alone: the same shapes, precomputed gradient tensors. ` +
      'The adapter: default (`new TfjsOptimizer(opt)`) keeps its own copy of each variable, steps it and writes it out as a new tensor, one copy (4 B/param) per step, so that tfjs tensors stay immutable (cpu: `tf.tensor()` of a fresh `slice()` of the copy; wasm: the heap write copies); its first step also reads the variables in. ' +
      '`inPlace: true` (cpu only; ignored on wasm, so not measured there) updates the variables in their own storage: no copy per step. Both read the gradients in place on cpu and wasm.',
    '',
  );
  md.push(...rows, '');
  md.push(`| Ratio | ${backends.join(' | ')} |`, `|---|${backends.map(() => '---:').join('|')}|`);
  for (const r of ratios) md.push(`| ${r.name} | ${backends.map((b) => r.values[b] ?? '–').join(' | ')} |`);
  md.push('');
  const checkText = results
    .map(
      (r) =>
        `${r.backend}: ${r.checks.map((c) => `${c.kind} (${MODE_TEXT[c.mode]}) ${c.maxAbsDiff.map((d) => d.toExponential(1)).join(', ')}`).join('; ')} (steps move weights by up to ${Math.max(...r.checks.map((c) => c.maxStep)).toExponential(1)})`,
    )
    .join('; ');
  md.push(
    `Checked first: ferroptim Adam (eps 1e-7) through TfjsOptimizer, in each mode measured, vs tf.train.adam(${LR}) on copies, max |Δw| (tolerance ${TOLERANCE}) after ${CHECK_STEPS} \`applyGradients\` steps with the same gradients and after one \`trainOnBatch\` step on identical models: ${checkText}. ` +
      '(Later fit steps are not compared: the models then compute slightly different gradients, which Adam amplifies where gradients are near zero; tf.train.adam against itself, with the weights perturbed by ±7.5e-9, differs by 2e-5 after the next step.)',
    '',
  );
  md.push(
    `Medians over interleaved rounds (${results.map((r) => `${r.backend}: ${r.fit[0]!.samples.length} fit / ${r.opt[0]?.samples.length ?? 0} optimizer steps per contender`).join('; ')}; ${flags.warmup} warm-up round(s) first), each step preceded by an untimed full GC; "paired": the median of the per-round ratios or differences. ` +
      `tfjs runs on one core (cpu: pure JS; wasm: XNNPACK, no threads in Node); ferroptim uses the given threads (fit: ${flags.threads.at(-1)}). ` +
      'Bytes copied: `lastTransfer.bytesCopied` (median of the timed steps, and the adapter\'s first step: default, reading the variables in and writing them out, 8 B/param; inPlace, giving each variable a buffer of its own, counted as 8 B/param). ' +
      'numTensors: `tf.memory().numTensors` before the contender\'s first and after its last timed step, and the sum of its own steps\' changes. –: not measured (inPlace is ignored on wasm).' +
      (phases.some((p) => (p.otherCores ?? 0) > NOISY) ? ` * measured while other processes used more than ${NOISY} cores on average.` : ''),
  );
  return { md: md.join('\n'), ratios };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const started = new Date();
  const t0 = performance.now();
  const snap0 = cpuSnap();

  const wasmSimd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const wasmThreads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const machine = {
    cpu: cpuinfo('model name') ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    availableParallelism: ALL,
    simd: getSimdLevel(),
    defaultThreads: getNumThreads(),
    node: process.version,
    tfjs: tf.version.tfjs,
    tfjsWasm: version_wasm,
    wasmSimd,
    wasmThreads,
    date: started.toISOString(),
    commit: gitCommit(),
    loadavg: os.loadavg().map((x) => round(x, 2)),
  };
  const command = `npm run bench:tfjs${flags.argv.length ? ` -- ${flags.argv.join(' ')}` : ''}`;
  const head = [
    `Machine: ${machine.cpu}, ${machine.cores} cores, SIMD ${machine.simd}, Node ${machine.node}, ${machine.date.slice(0, 10)}${flags.quick ? ' (quick run)' : ''}; TensorFlow.js ${machine.tfjs} (wasm backend: SIMD ${wasmSimd ? 'yes' : 'no'}, threads ${wasmThreads ? 'yes' : 'no'}); commit ${machine.commit}.`,
    `Command: \`${command}\`.`,
  ];
  console.log(
    `machine: cpu="${machine.cpu}" cores=${machine.cores} simd=${machine.simd} node=${machine.node} tfjs=${machine.tfjs} wasm-simd=${wasmSimd} wasm-threads=${wasmThreads} ferroptim-threads=${machine.defaultThreads} commit=${machine.commit} load=${machine.loadavg.join('/')}`,
  );
  if (!gc) console.log('(no --expose-gc: the steps are not preceded by a collection)');
  const params = weightShapes().reduce((a, s) => a + numel(s), 0);
  console.log(`model: MLP ${WIDTHS.join('→')}, ${params} parameters; batch ${flags.batch}; backends ${flags.backends.join(', ')}; fit steps ${flags.backends.map((b) => `${b} ${flags.fitSteps[b]}`).join(', ')}; optimizer steps ${flags.backends.map((b) => `${b} ${flags.optSteps[b]}`).join(', ')}; warm-up ${flags.warmup}; ferroptim threads ${flags.threads.join(', ')}`);

  const results: BackendResult[] = [];
  for (const b of flags.backends) results.push(await runBackend(b, flags));

  const { md, ratios } = report(results, flags, head, params);
  const elapsed = round((performance.now() - t0) / 1e3, 1);
  const load = foreignLoad(snap0, cpuSnap());
  const tail = `Run time: ${elapsed.toFixed(0)} s${load ? `; other processes used ${load.otherCores} cores on average (steal ${load.stealCores})` : ''}.`;
  const full = `${md}\n\n${tail}`;
  console.log(`\n# Markdown\n\n${full}`);

  mkdirSync(RESULTS, { recursive: true });
  const json = {
    machine,
    command,
    options: { batch: flags.batch, fitSteps: flags.fitSteps, optSteps: flags.optSteps, warmup: flags.warmup, backends: flags.backends, threads: flags.threads, quick: flags.quick, lr: LR, tolerance: TOLERANCE, gcBeforeEachStep: gc !== undefined },
    model: { widths: WIDTHS, params, shapes: weightShapes() },
    checks: results.flatMap((r) => r.checks),
    contenders: results.flatMap((r) =>
      [...r.fit, ...r.opt].map((c) => ({
        id: c.id,
        backend: c.backend,
        part: c.part,
        label: c.label,
        adapterMode: c.mode ?? null,
        threads: c.threads,
        medianMs: median(c.samples),
        minMs: Math.min(...c.samples),
        maxMs: Math.max(...c.samples),
        stepsPerS: 1000 / median(c.samples),
        samplesMs: c.samples.map((x) => round(x, 3)),
        bytesCopied: c.bytes,
        firstStepBytesCopied: c.firstStepBytes,
        lastTransfer: c.transfer,
        numTensors: { start: c.tensorsStart, end: c.tensorsEnd, addedBySteps: c.tensorDeltas.reduce((a, b) => a + b, 0) },
        losses: c.losses.map((x) => round(x, 5)),
      })),
    ),
    numTensors: results.map((r) => ({ backend: r.backend, start: r.tensorsAtStart, end: r.tensorsAtEnd })),
    ratios: ratios.map((r) => ({ name: r.name, ...r.raw })),
    phases,
    foreignLoad: load,
    seconds: elapsed,
  };
  writeFileSync(path.join(RESULTS, 'tfjs.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(path.join(RESULTS, 'tfjs.md'), `${full}\n`);
  console.log(`\nwrote benchmark/results/tfjs.md and benchmark/results/tfjs.json (${elapsed} s)`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
