/**
 * `npm run bench:peers`: ferroptim's optimizer steps against its peers in one run, on the same
 * machine and workloads: PyTorch (torch.optim with fused=True, foreach=True and the for-loop,
 * foreach=False), TensorFlow.js (`cpu` and `wasm` backends) and the C yardstick
 * (../shared/perf/run-probe.sh). See benchmark/peers/README.md for how to read the table.
 *
 *   node --expose-gc --import @oxc-node/core/register benchmark/peers/peers.ts [--quick]
 *     [--only NAMES] [--threads 1,2] [--no-torch] [--no-tfjs] [--no-probe]
 *
 * Torch runs in a persistent worker (benchmark/peers/torch_worker.py, JSON lines over
 * stdin/stdout) under the Python named by $FERROPTIM_TORCH_PYTHON (skipped when unset), so that
 * its steps interleave with the others round by round. Before any timing, every optimizer is
 * checked on small workloads: 3 steps of ferroptim, of each torch implementation and (where
 * comparable) of tfjs from the same data must agree to fp32 rounding, else the run aborts.
 * Results: the Markdown table on stdout and every sample in benchmark/results/peers.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { Adam, AdamW, clipGradNorm, Parameter, SGD } from '../../ts/index.js';
import { cpuSnap, fill, fillGrad, fmtTime, foreignLoad, gparams, Harness, median, NOISY, ROOT, round, type CpuSnap, type Flags as HarnessFlags } from '../harness.js';

const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

/** Largest |Δθ| / max(1, |θ|) allowed between ferroptim and a peer after the check's steps. */
const TOLERANCE = 1e-6;
/** Largest relative difference of a clip's norm from torch's, and from tfjs's (which sums the squares in float32). */
const NORM_TOLERANCE = 1e-6;
const TFJS_NORM_TOLERANCE = 1e-5;
const CHECK_STEPS = 3;

// ---------------------------------------------------------------------------------------------
// Workloads and optimizers

interface Workload {
  name: string;
  /** Its name in the table. */
  label: string;
  sizes: number[];
  /** Steps per timed sample (many for the small workload, whose steps take microseconds). */
  batch: number;
}

/**
 * A GPT-like model of width 384, 12 blocks, 196 tensors: token (8192) and position (512)
 * embeddings; per block two layer norms, separate q/k/v and output projections, a 4× MLP, each
 * with its bias; a final layer norm.
 */
function transformerSizes(): number[] {
  const d = 384;
  const ff = 4 * d;
  const sizes = [8192 * d, 512 * d];
  for (let b = 0; b < 12; b++) sizes.push(d, d, d * d, d, d * d, d, d * d, d, d * d, d, d, d, d * ff, ff, ff * d, d);
  sizes.push(d, d);
  return sizes;
}

const BIG = 16 * 1024 * 1024;
const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);

const GPT = transformerSizes();
/** A small MLP 64 → 128 → 10: weights and biases. */
const MLP: Workload = { name: '10k', label: '', sizes: [64 * 128, 128, 128 * 10, 10], batch: 200 };
MLP.label = `MLP ${sum(MLP.sizes).toLocaleString('en-US')} in ${MLP.sizes.length}`;

const WORKLOADS: Workload[] = [
  { name: '16m', label: '16M × 1', sizes: [BIG], batch: 1 },
  { name: '256x64k', label: '64K × 256', sizes: Array.from({ length: 256 }, () => BIG / 256), batch: 1 },
  { name: 'transformer', label: `GPT ${(sum(GPT) / 1e6).toFixed(1)}M in ${GPT.length}`, sizes: GPT, batch: 1 },
  MLP,
];

/** The check's workloads: the small MLP and one tensor of 64K + 17 (not a multiple of any chunk). */
const CHECKS: { name: string; sizes: number[] }[] = [
  { name: '10k', sizes: MLP.sizes },
  { name: '64k', sizes: [65536 + 17] },
];

type OptName = 'adamw' | 'adam' | 'sgd' | 'clip' | 'clip-active';
type ProbeKernel = 'adamw' | 'sgd_momentum' | 'sum_squares';

interface Stepper {
  step(): unknown;
  dispose?(): void;
}

interface TfjsStepper {
  step(): number | void;
  dispose(): void;
}

interface Optim {
  name: OptName;
  label: string;
  /** The C probe's kernel it is compared with (null: none does the same work). */
  probe: ProbeKernel | null;
  /** Bytes moved per parameter per step, for GB/s. */
  bytes: number;
  ferroptim(params: Parameter[]): Stepper;
  /** The tfjs equivalent over variables and gradient variables, or null when tfjs has none. */
  tfjs: ((vars: tf.Variable[], grads: tf.Variable[]) => TfjsStepper) | null;
}

/** ‖g‖₂ over all gradients with tf ops (float32 sums), read back as a number. */
function tfNorm(grads: tf.Variable[]): number {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))).dataSync()[0]!);
}

/** torch.nn.utils.clip_grad_norm_ with tf ops: g ← g · min(1, maxNorm / (‖g‖ + 1e-6)). */
function tfClip(grads: tf.Variable[], maxNorm: () => number): TfjsStepper {
  return {
    step() {
      const norm = tfNorm(grads);
      const coef = maxNorm() / (norm + 1e-6);
      if (coef < 1) for (const g of grads) g.assign(tf.tidy(() => g.mul(coef)));
      return norm;
    },
    dispose() {},
  };
}

function tfOptimizer(o: tf.Optimizer, vars: tf.Variable[], grads: tf.Variable[]): TfjsStepper {
  const named = vars.map((v, i) => ({ name: v.name, tensor: grads[i]! }));
  return { step: () => void o.applyGradients(named), dispose: () => o.dispose() };
}

const ADAM = { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8 };
const SGD_HYPER = { lr: 1e-2, momentum: 0.9 };
/** clip's max norm: nothing is clipped (the norm is measured). */
const NO_CLIP = 1e9;
/** clip-active's max norms, the same sequence in torch_worker.py. */
const SHRINK = 0.999;

/**
 * Max norms 1, 0.999, 0.999², ...: a fixed one clips once, after which the norm sits at it and
 * nothing is scaled; shrinking it by 0.1% a call makes every call scale (and 10,000 calls shrink
 * the gradients only by e^-10, far from subnormals).
 */
function shrinkingMaxNorm(): () => number {
  let m = 1 / SHRINK;
  return () => (m *= SHRINK);
}

const OPTIMS: Optim[] = [
  { name: 'adamw', label: 'AdamW', probe: 'adamw', bytes: 28, ferroptim: (p) => new AdamW(p, { ...ADAM, weightDecay: 0.01 }), tfjs: null },
  {
    name: 'adam',
    label: 'Adam',
    probe: 'adamw',
    bytes: 28,
    ferroptim: (p) => new Adam(p, ADAM),
    tfjs: (v, g) => tfOptimizer(tf.train.adam(ADAM.lr, ADAM.betas[0], ADAM.betas[1], ADAM.eps), v, g),
  },
  {
    name: 'sgd',
    label: 'SGD momentum',
    probe: 'sgd_momentum',
    bytes: 20,
    ferroptim: (p) => new SGD(p, SGD_HYPER),
    tfjs: (v, g) => tfOptimizer(tf.train.momentum(SGD_HYPER.lr, SGD_HYPER.momentum), v, g),
  },
  { name: 'clip', label: 'clipGradNorm', probe: 'sum_squares', bytes: 4, ferroptim: (p) => ({ step: () => clipGradNorm(p, NO_CLIP) }), tfjs: (_, g) => tfClip(g, () => NO_CLIP) },
  {
    name: 'clip-active',
    label: 'clipGradNorm (clips)',
    probe: null,
    bytes: 12,
    ferroptim: (p) => {
      const maxNorm = shrinkingMaxNorm();
      return { step: () => clipGradNorm(p, maxNorm()) };
    },
    tfjs: (_, g) => tfClip(g, shrinkingMaxNorm()),
  },
];

const TORCH_IMPLS = ['torch-fused', 'torch-foreach', 'torch-forloop'] as const;
const TFJS_IMPLS = ['tfjs-cpu', 'tfjs-wasm'] as const;
type TorchImpl = (typeof TORCH_IMPLS)[number];
type TfjsImpl = (typeof TFJS_IMPLS)[number];
type Impl = 'ferroptim' | TorchImpl | TfjsImpl;
const isClip = (o: Optim): boolean => o.name === 'clip' || o.name === 'clip-active';
/** Torch's implementations of an optimizer (clip_grad_norm_ has no fused one). */
const torchImpls = (o: Optim): TorchImpl[] => (isClip(o) ? ['torch-foreach', 'torch-forloop'] : [...TORCH_IMPLS]);
const workerImpl = (i: TorchImpl): string => i.slice('torch-'.length);
const backendOf = (i: TfjsImpl): 'cpu' | 'wasm' => (i === 'tfjs-cpu' ? 'cpu' : 'wasm');

// ---------------------------------------------------------------------------------------------
// Flags

interface Flags {
  quick: boolean;
  only: Set<string> | null;
  threads: number[];
  torch: boolean;
  tfjs: boolean;
  probe: boolean;
  argv: string[];
}

const NAMES = [...OPTIMS.map((o) => o.name), ...WORKLOADS.map((w) => w.name)];

function usage(msg?: string): never {
  if (msg) console.error(`bench:peers: ${msg}\n`);
  console.error(
    [
      'usage: npm run bench:peers -- [--quick] [--only NAMES] [--threads LIST] [--no-torch] [--no-tfjs] [--no-probe]',
      `  --only NAMES    optimizers and/or workloads to run, comma-separated: ${NAMES.join(', ')}`,
      '  --threads LIST  ferroptim and torch thread counts (default 1 and all cores); tfjs is single-threaded',
      '  --quick         a smoke run (about 2 minutes): fewer rounds, without the 64K × 256 workload',
      '  --no-torch      skip PyTorch (also skipped when $FERROPTIM_TORCH_PYTHON is unset)',
      '  --no-tfjs       skip TensorFlow.js',
      '  --no-probe      skip the C yardstick',
    ].join('\n'),
  );
  process.exit(msg ? 2 : 0);
}

function parseFlags(argv: string[]): Flags {
  const all = Math.max(1, os.availableParallelism());
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (e) {
    usage((e as Error).message);
  }
  if (values.help) usage();
  const f: Flags = { quick: values.quick === true, only: null, threads: [...new Set([1, all])], torch: !values['no-torch'], tfjs: !values['no-tfjs'], probe: !values['no-probe'], argv };
  if (values.only !== undefined) {
    const names = values.only.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    for (const n of names) if (!NAMES.includes(n)) usage(`--only: unknown name ${JSON.stringify(n)}`);
    f.only = new Set(names);
  }
  if (values.threads !== undefined) {
    const ts = values.threads.split(',').map((s) => Number(s.trim()));
    if (!ts.every((t) => Number.isSafeInteger(t) && t >= 1 && t <= 256)) usage(`--threads: expected integers from 1 to 256, received ${values.threads}`);
    f.threads = [...new Set(ts)];
  }
  return f;
}

/** The flags, by node's own parser (`--name value` and `--name=value`). */
function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      'no-torch': { type: 'boolean' },
      'no-tfjs': { type: 'boolean' },
      'no-probe': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      only: { type: 'string' },
      threads: { type: 'string' },
    },
  });
}

// ---------------------------------------------------------------------------------------------
// The torch worker

class TorchWorker {
  readonly #py: ChildProcess;
  readonly #lines: AsyncIterator<string>;

  constructor(readonly python: string) {
    this.#py = spawn(python, [fileURLToPath(new URL('./torch_worker.py', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#py.on('error', () => {}); // reported by the first ask()
    this.#lines = createInterface({ input: this.#py.stdout! })[Symbol.asyncIterator]();
  }

  async ask<T>(cmd: Record<string, unknown>): Promise<T> {
    this.#py.stdin!.write(`${JSON.stringify(cmd)}\n`);
    const r = await this.#lines.next();
    if (r.done) throw new Error(`the torch worker (${this.python} benchmark/peers/torch_worker.py) exited; is torch installed there?`);
    const out = JSON.parse(r.value) as T & { error?: string };
    if (out.error) throw new Error(`torch worker: ${out.error} (command ${String(cmd.cmd)})`);
    return out;
  }

  /** CPU seconds the worker has used so far (to tell its load from other processes'). */
  cpuSeconds(): number {
    try {
      const s = readFileSync(`/proc/${this.#py.pid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ').map(Number);
      return (f[11]! + f[12]!) / 100;
    } catch {
      return 0;
    }
  }

  close(): void {
    this.#py.stdin!.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
  }

  kill(): void {
    this.#py.kill();
  }
}

// ---------------------------------------------------------------------------------------------
// Load: the CPU other processes used (the torch worker and the C probe are ours)

interface LoadSnap {
  cpu: CpuSnap | null;
  worker: number;
}

function loadSnap(torch: TorchWorker | null): LoadSnap {
  return { cpu: cpuSnap(), worker: torch?.cpuSeconds() ?? 0 };
}

function otherCores(a: LoadSnap, b: LoadSnap): number | null {
  const l = foreignLoad(a.cpu, b.cpu);
  if (!l || !a.cpu || !b.cpu) return null;
  const secs = (b.cpu.wall - a.cpu.wall) / 1e3;
  return round(Math.max(0, l.otherCores - (b.worker - a.worker) / secs), 2);
}

// ---------------------------------------------------------------------------------------------
// Correctness, before any timing

interface CheckRecord {
  optimizer: OptName;
  workload: string;
  threads: number;
  peer: string;
  /** Largest |Δ| / max(1, |reference|) over the parameters (gradients for the clips). */
  worst: number;
  /** Largest relative difference of the clip's norms, per call. */
  normWorst?: number;
}

/** θ₀ and the gradients of steps 1..S of tensor j, from the harness's LCGs. */
function checkData(sizes: number[], steps: number): { theta: Float32Array[]; grads: Float32Array[][] } {
  const theta = sizes.map((n, j) => fill(new Float32Array(n), 7919 + 2 * j, -1, 1));
  const grads = Array.from({ length: steps }, (_, t) => sizes.map((n, j) => fillGrad(new Float32Array(n), 104729 * (t + 1) + 2 * j + 1)));
  return { theta, grads };
}

function worstOf(got: Float32Array[], want: Float32Array[]): number {
  let worst = 0;
  got.forEach((g, j) => {
    const w = want[j]!;
    for (let i = 0; i < g.length; i++) {
      const d = Math.abs(g[i]! - w[i]!) / Math.max(1, Math.abs(w[i]!));
      worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
    }
  });
  return worst;
}

/** ferroptim's parameters (gradients for the clips) and clip norms after the check's steps. */
function ferroptimCheck(o: Optim, sizes: number[], steps: number): { out: Float32Array[]; norms: number[] } {
  const { theta, grads } = checkData(sizes, steps);
  const params = theta.map((t) => new Parameter(t.slice()));
  const opt = o.ferroptim(params);
  const norms: number[] = [];
  for (let t = 0; t < steps; t++) {
    params.forEach((p, j) => (p.grad = grads[t]![j]!.slice()));
    const r = opt.step();
    if (isClip(o)) norms.push(r as number);
  }
  opt.dispose?.();
  return { out: params.map((p) => (isClip(o) ? p.grad! : p.data)), norms };
}

async function tfjsCheck(o: Optim, impl: TfjsImpl, sizes: number[], steps: number): Promise<{ out: Float32Array[]; norms: number[] }> {
  await tf.setBackend(backendOf(impl));
  const { theta, grads } = checkData(sizes, steps);
  const vars = theta.map((t) => tf.variable(tf.tensor1d(t)));
  const gvars = sizes.map((n) => tf.variable(tf.zeros([n])));
  const s = o.tfjs!(vars, gvars);
  const norms: number[] = [];
  for (let t = 0; t < steps; t++) {
    gvars.forEach((g, j) => g.assign(tf.tensor1d(grads[t]![j]!)));
    const r = s.step();
    if (isClip(o)) norms.push(r as number);
  }
  const out = (isClip(o) ? gvars : vars).map((v) => v.dataSync() as Float32Array);
  s.dispose();
  for (const v of [...vars, ...gvars]) v.dispose();
  return { out, norms };
}

const relNorm = (a: number[], b: number[]): number => Math.max(0, ...a.map((x, i) => Math.abs(x - b[i]!) / Math.abs(b[i]!)));

async function check(h: Harness, o: Optim, f: Flags, torch: TorchWorker | null, records: CheckRecord[]): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferroptim-peers-'));
  try {
    for (const c of CHECKS) {
      const n = sum(c.sizes);
      for (const threads of f.threads) {
        h.useThreads(threads);
        const mine = ferroptimCheck(o, c.sizes, CHECK_STEPS);
        const peers: { peer: string; out: Float32Array[]; norms: number[]; normTol: number }[] = [];
        if (torch) {
          const { theta, grads } = checkData(c.sizes, CHECK_STEPS);
          const data = path.join(dir, 'data.f32');
          const out = path.join(dir, 'out.f32');
          const blocks = theta.flatMap((t, j) => [t, ...grads.map((g) => g[j]!)]);
          writeFileSync(data, Buffer.concat(blocks.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength))));
          const r = await torch.ask<{ impls: string[]; norms: Record<string, number[]> }>({ cmd: 'verify', opt: o.name, sizes: c.sizes, steps: CHECK_STEPS, threads, data, out });
          const raw = readFileSync(out);
          const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
          r.impls.forEach((impl, k) => {
            let off = k * n;
            const got = c.sizes.map((m) => all.subarray(off, (off += m)));
            peers.push({ peer: `torch-${impl}`, out: got, norms: r.norms[impl] ?? [], normTol: NORM_TOLERANCE });
          });
        }
        // tfjs has no threads: checked once per workload.
        if (f.tfjs && o.tfjs && threads === f.threads[0]) {
          for (const impl of TFJS_IMPLS) peers.push({ peer: impl, ...(await tfjsCheck(o, impl, c.sizes, CHECK_STEPS)), normTol: TFJS_NORM_TOLERANCE });
        }
        for (const p of peers) {
          const worst = worstOf(mine.out, p.out);
          const rec: CheckRecord = { optimizer: o.name, workload: c.name, threads, peer: p.peer, worst };
          if (isClip(o)) rec.normWorst = relNorm(mine.norms, p.norms);
          records.push(rec);
          if (!(worst <= TOLERANCE) || (rec.normWorst !== undefined && !(rec.normWorst <= p.normTol))) {
            fail(
              `check failed: ${o.label} on ${c.name} (${threads}T) differs from ${p.peer} after ${CHECK_STEPS} steps: ` +
                `max |Δ|/max(1,|θ|) ${worst.toExponential(2)} (tolerance ${TOLERANCE.toExponential()})` +
                (rec.normWorst !== undefined ? `, norms ${rec.normWorst.toExponential(2)} apart (tolerance ${p.normTol}); ferroptim ${mine.norms.join(', ')}, ${p.peer} ${p.norms.join(', ')}` : ''),
            );
          }
        }
        if (!peers.length) console.log(`  ${o.label} ${c.name} ${threads}T: no peer to check against`);
        else console.log(`  ${o.label} ${c.name} ${threads}T: ${peers.map((p) => `${p.peer} ${worstOf(mine.out, p.out).toExponential(1)}`).join(', ')}${isClip(o) ? ` (norms within ${Math.max(...peers.map((p) => relNorm(mine.norms, p.norms))).toExponential(1)})` : ''}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Contender {
  impl: Impl;
  /** Threads of ferroptim and torch; tfjs runs on one. */
  threads: number;
  /** Runs `steps` untimed steps. */
  warm(steps: number): Promise<void>;
  /** `k` samples of `batch` steps each: ms per step. */
  time(k: number, batch: number): Promise<number[]>;
  samples: number[];
}

function jsContender(impl: Impl, threads: number, s: { step(): unknown }, before: () => Promise<void>): Contender {
  return {
    impl,
    threads,
    samples: [],
    async warm(steps) {
      await before();
      for (let i = 0; i < steps; i++) s.step();
    },
    async time(k, batch) {
      await before();
      // Another contender's garbage (tfjs frees arrays per step) is collected now, not in a timed
      // step; a collection evicts the caches and the page-table entries a large step walks, so an
      // untimed step follows it (except tfjs's, which takes seconds at 16M on cpu).
      gc?.();
      if (!impl.startsWith('tfjs')) for (let i = 0; i < batch; i++) s.step();
      const out: number[] = [];
      for (let j = 0; j < k; j++) {
        const t0 = performance.now();
        for (let i = 0; i < batch; i++) s.step();
        out.push((performance.now() - t0) / batch);
      }
      return out;
    },
  };
}

/** One row of the table: a workload, an optimizer, a thread count; ms per step per implementation. */
interface Row {
  workload: string;
  optimizer: OptName;
  threads: number;
  params: number;
  tensors: number;
  medianMs: Partial<Record<Impl, number>>;
  minMs: Partial<Record<Impl, number>>;
  samplesMs: Partial<Record<Impl, number[]>>;
  /** The C probe's best run over the workload. */
  cMs: number | null;
  otherCores: number | null;
}

interface Phase {
  name: string;
  seconds: number;
  otherCores: number | null;
}

function fail(msg: string): never {
  console.error(`\nbench:peers: ${msg}`);
  process.exit(1);
}

/** Steps per timed sample. */
const batchOf = (w: Workload, f: Flags): number => (f.quick ? Math.max(1, w.batch >> 2) : w.batch);

interface Plan {
  rounds: number;
  /** Samples per round of ferroptim and torch (tfjs takes one). */
  perRound: number;
  /** The rounds tfjs takes part in (the first ones: a cpu step at 16M takes seconds). */
  tfjsRounds: number;
  /** Untimed steps before the rounds (tfjs: one). */
  warm: number;
}

async function measure(h: Harness, w: Workload, o: Optim, f: Flags, plan: Plan, torch: TorchWorker | null): Promise<Row[]> {
  const n = sum(w.sizes);
  const batch = batchOf(w, f);
  const params = w.sizes.map((m, j) => {
    const p = new Parameter(fill(new Float32Array(m), 7919 * 3 + 2 * j, -1, 1));
    fillGrad(p.grad!, 7919 * 3 + 2 * j + 1);
    return p;
  });
  const mine = o.ferroptim(params);
  const contenders: Contender[] = [];
  for (const t of f.threads) contenders.push(jsContender('ferroptim', t, mine, async () => void h.useThreads(t)));
  if (torch) {
    await torch.ask({ cmd: 'build', opt: o.name, sizes: w.sizes, seed: 3 });
    for (const t of f.threads) {
      for (const impl of torchImpls(o)) {
        contenders.push({
          impl,
          threads: t,
          samples: [],
          warm: async (steps) => void (await torch.ask({ cmd: 'time', impl: workerImpl(impl), threads: t, batch: steps, samples: 1 })),
          time: async (k, b) => (await torch.ask<{ ms: number[] }>({ cmd: 'time', impl: workerImpl(impl), threads: t, batch: b, samples: k })).ms,
        });
      }
    }
  }
  const tfjsState: { vars: tf.Variable[]; grads: tf.Variable[]; s: TfjsStepper }[] = [];
  if (f.tfjs && o.tfjs) {
    for (const impl of TFJS_IMPLS) {
      await tf.setBackend(backendOf(impl));
      const vars = w.sizes.map((m, j) => tf.variable(tf.tensor1d(fill(new Float32Array(m), 7919 * 5 + 2 * j, -1, 1))));
      const grads = w.sizes.map((m, j) => tf.variable(tf.tensor1d(fillGrad(new Float32Array(m), 7919 * 5 + 2 * j + 1))));
      const s = o.tfjs(vars, grads);
      tfjsState.push({ vars, grads, s });
      contenders.push(jsContender(impl, 1, s, async () => void (await tf.setBackend(backendOf(impl)))));
    }
  }

  // One untimed step of tfjs (its first creates the state; a cpu step takes seconds at 16M).
  for (const c of contenders) await c.warm((c.impl.startsWith('tfjs') ? 1 : plan.warm) * batch);
  // Rounds: every contender in each (tfjs in the first tfjsRounds only), grouped by thread count
  // (the group order alternates, the order within a group rotates), so drift and other
  // processes hit all alike. A change of ferroptim's pool is followed by an untimed step.
  const groups = [...new Set(contenders.map((c) => c.threads))].map((t) => contenders.filter((c) => c.threads === t));
  for (let r = 0; r < plan.rounds; r++) {
    for (const g of r % 2 ? [...groups].reverse() : groups) {
      const rot = g.map((_, i) => g[(i + r) % g.length]!).filter((c) => !c.impl.startsWith('tfjs') || r < plan.tfjsRounds);
      const first = rot.find((c) => c.impl === 'ferroptim');
      if (first && h.useThreads(first.threads)) mine.step();
      for (const c of rot) c.samples.push(...(await c.time(c.impl.startsWith('tfjs') ? 1 : plan.perRound, batch)));
    }
  }

  const rows = f.threads.map((t): Row => {
    const row: Row = { workload: w.name, optimizer: o.name, threads: t, params: n, tensors: w.sizes.length, medianMs: {}, minMs: {}, samplesMs: {}, cMs: null, otherCores: null };
    for (const c of contenders.filter((x) => x.threads === t || x.impl.startsWith('tfjs'))) {
      row.medianMs[c.impl] = median(c.samples);
      row.minMs[c.impl] = Math.min(...c.samples);
      row.samplesMs[c.impl] = c.samples.map((x) => round(x, 6));
    }
    return row;
  });

  mine.dispose?.();
  for (const { vars, grads, s } of tfjsState) {
    s.dispose();
    for (const v of [...vars, ...grads]) v.dispose();
  }
  if (torch) await torch.ask({ cmd: 'free' });
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Report

const COLUMNS: { impl: Impl; head: string }[] = [
  { impl: 'ferroptim', head: 'ferroptim' },
  { impl: 'torch-fused', head: 'torch fused' },
  { impl: 'torch-foreach', head: 'torch foreach' },
  { impl: 'torch-forloop', head: 'torch for-loop' },
  { impl: 'tfjs-cpu', head: 'tfjs cpu (1T)' },
  { impl: 'tfjs-wasm', head: 'tfjs wasm (1T)' },
];

/** The torch figure ferroptim is compared with: fused, or foreach for the clips (no fused one). */
const torchBase = (r: Row): number | undefined => r.medianMs['torch-fused'] ?? r.medianMs['torch-foreach'];

function table(rows: Row[]): string[] {
  const wl = (name: string) => WORKLOADS.find((w) => w.name === name)!.label;
  const op = (name: OptName) => OPTIMS.find((o) => o.name === name)!.label;
  const out = [
    `| Workload | Optimizer | Threads | ${COLUMNS.map((c) => c.head).join(' | ')} | C | vs torch fused | of C |`,
    `|---|---|---:|${COLUMNS.map(() => '---:|').join('')}---:|---:|---:|`,
  ];
  for (const r of rows) {
    const fmt = (ms: number | undefined) => (ms === undefined ? '—' : fmtTime(ms, r.params));
    const base = torchBase(r);
    const mine = r.medianMs.ferroptim!;
    const vsTorch = base === undefined ? '—' : `${(base / mine).toFixed(2)}×${r.medianMs['torch-fused'] === undefined ? '¹' : ''}`;
    const ofC = r.cMs === null ? '—' : (r.cMs / r.minMs.ferroptim!).toFixed(2);
    const noisy = (r.otherCores ?? 0) > NOISY ? ' *' : '';
    out.push(`| ${wl(r.workload)} | ${op(r.optimizer)}${noisy} | ${r.threads} | ${COLUMNS.map((c) => fmt(r.medianMs[c.impl])).join(' | ')} | ${r.cMs === null ? '—' : fmt(r.cMs)} | ${vsTorch} | ${ofC} |`);
  }
  return out;
}

function notes(f: Flags, plan: Plan, torchSkip: string | null, probeSkip: string | null): string[] {
  return [
    `Medians of ${plan.rounds} interleaved rounds (${plan.perRound} sample${plan.perRound > 1 ? 's' : ''} per round; tfjs: 1 sample in each of the first ${plan.tfjsRounds} rounds), ms per step (µs below 1M parameters, where a sample times ${batchOf(MLP, f)} consecutive steps). ` +
      `AdamW and Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8 (tfjs's set to match), AdamW weight decay 0.01; SGD: lr 1e-2, momentum 0.9; clipGradNorm: max norm 1e9 (nothing clipped: the norm is measured; torch multiplies the gradients by min(1, coef) even then, a write pass ferroptim and the tfjs version skip), "(clips)": max norm 1 at the first call, then 0.999 times the previous one, so that every call scales the gradients (with a fixed one only the first would).`,
    'tfjs has no AdamW (—); its Adam is `tf.train.adam`, SGD momentum `tf.train.momentum`, and clipGradNorm a global norm with tf ops (`sqrt(addN(sum(square(g))))`, read back, then `g.assign(g·coef)` when it clips). tfjs runs on one thread (cpu: plain JS; wasm: no threads in Node), so both thread rows show the same measurement. torch for-loop: foreach=False.',
    'vs torch fused: torch fused median / ferroptim median (> 1: ferroptim faster); ¹ against torch foreach (clip_grad_norm_ has no fused implementation). ' +
      'C: the best run of `../shared/perf/run-probe.sh` on as many parameters in one array (its AdamW kernel for AdamW and Adam, its SGD-momentum kernel, which also applies weight decay 1e-4, and its sum of squares for clipGradNorm), run before each optimizer of a workload and after the last; of C: C best / ferroptim best step (each C run is itself a best of 10). ' +
      `* other processes used more than ${NOISY} cores on average while the row was measured.` +
      (torchSkip ? ` Torch: ${torchSkip}.` : '') +
      (probeSkip ? ` C: ${probeSkip}.` : ''),
  ];
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const f = parseFlags(process.argv.slice(2));
  const hf: HarnessFlags = { quick: f.quick, probe: f.probe, dist: false, help: false, only: null, argv: f.argv };
  const h = await Harness.load(hf);
  const probe = h.yardstick;
  const bestC = (kernel: ProbeKernel, n: number, threads: number, workload: string) => probe.best(kernel, n, threads, probe.whens(`${workload}:`))?.ms ?? null;
  const started = loadSnap(null);
  const t0 = performance.now();

  const python = process.env.FERROPTIM_TORCH_PYTHON;
  const torchSkip = !f.torch ? 'skipped (--no-torch)' : !python ? 'skipped: set FERROPTIM_TORCH_PYTHON to a Python with torch to include it' : null;
  if (torchSkip) console.log(`PyTorch ${torchSkip}`);
  const torch = torchSkip ? null : new TorchWorker(python!);
  const finish = () => torch?.kill();
  process.on('exit', finish);

  try {
    const info = torch ? await torch.ask<{ torch: string; capability: string; numpy: string }>({ cmd: 'hello' }) : null;
    let wasmSimd = false;
    let wasmThreads = false;
    if (f.tfjs) {
      await tf.setBackend('wasm');
      await tf.ready();
      wasmSimd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      wasmThreads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
      await tf.setBackend('cpu');
      await tf.ready();
    }
    const m = h.machine;
    const machine = {
      ...m,
      torch: info?.torch ?? null,
      torchCapability: info?.capability ?? null,
      tfjs: f.tfjs ? tf.version.tfjs : null,
      tfjsWasm: f.tfjs ? version_wasm : null,
      wasmSimd,
      wasmThreads,
    };
    const probeSkip = probe.skipped;
    console.log(
      `machine: cpu="${m.cpu}" cores=${m.cores} simd=${m.simd} node=${m.node} torch=${machine.torch ?? 'skipped'}${info ? ` (${info.capability})` : ''} ` +
        `tfjs=${machine.tfjs ?? 'skipped'}${f.tfjs ? ` (wasm simd=${wasmSimd} threads=${wasmThreads})` : ''} commit=${m.commit} load=${m.loadavg.join('/')}`,
    );
    if (probeSkip) console.log(`C yardstick ${probeSkip}`);

    const only = (name: string, all: string[]) => !f.only || f.only.has(name) || !all.some((x) => f.only!.has(x));
    const optims = OPTIMS.filter((o) => only(o.name, OPTIMS.map((x) => x.name)));
    const workloads = WORKLOADS.filter((w) => only(w.name, WORKLOADS.map((x) => x.name)) && !(f.quick && w.name === '256x64k' && !f.only?.has(w.name)));
    const plan: Plan = f.quick ? { rounds: 2, perRound: 1, tfjsRounds: 1, warm: 1 } : { rounds: 8, perRound: 2, tfjsRounds: 3, warm: 2 };
    console.log(`mode: ${f.quick ? 'quick' : 'full'}; threads ${f.threads.join(', ')}; optimizers ${optims.map((o) => o.name).join(', ')}`);
    console.log(`workloads: ${workloads.map((w) => `${w.label} (${sum(w.sizes).toLocaleString('en-US')} parameters, ${w.sizes.length} tensor${w.sizes.length > 1 ? 's' : ''})`).join('; ')}`);

    console.log(`\n# checks: ${CHECK_STEPS} steps from the same data, max |Δ|/max(1,|θ|) against ferroptim (tolerance ${TOLERANCE.toExponential()})`);
    const checks: CheckRecord[] = [];
    for (const o of optims) await check(h, o, f, torch, checks);

    const rows: Row[] = [];
    const phases: Phase[] = [];
    for (const w of workloads) {
      const n = sum(w.sizes);
      let k = 0;
      const probeAt = () => {
        for (const t of [...f.threads].reverse()) probe.probe(n, t, `${w.name}:${k}`);
        k++;
      };
      console.log(`\n# ${w.label}: ${n.toLocaleString('en-US')} parameters in ${w.sizes.length} tensor${w.sizes.length > 1 ? 's' : ''}`);
      if (!probe.skipped && optims.some((o) => o.probe)) probeAt();
      for (const o of optims) {
        const a = loadSnap(torch);
        const start = performance.now();
        const got = await measure(h, w, o, f, plan, torch);
        await releaseMemory();
        if (!probe.skipped && o.probe && !f.quick) probeAt();
        const load = otherCores(a, loadSnap(torch));
        for (const r of got) {
          r.otherCores = load;
          if (o.probe) r.cMs = bestC(o.probe, n, r.threads, w.name);
          const base = torchBase(r);
          console.log(
            `  ${o.label} ${r.threads}T: ${COLUMNS.filter((c) => r.medianMs[c.impl] !== undefined)
              .map((c) => `${c.impl} ${fmtTime(r.medianMs[c.impl]!, n)}`)
              .join(', ')}${r.cMs !== null ? `, C ${fmtTime(r.cMs, n)}` : ''}${base ? `; ${(base / r.medianMs.ferroptim!).toFixed(2)}x vs torch` : ''}`,
          );
        }
        rows.push(...got);
        phases.push({ name: `${w.name}/${o.name}`, seconds: round((performance.now() - start) / 1e3, 1), otherCores: load });
        if (load !== null) console.log(`  (${round((performance.now() - start) / 1e3, 1)} s; other processes used ${load} cores on average)`);
      }
      // The C figure of each row: the best run over the whole workload.
      for (const r of rows.filter((x) => x.workload === w.name)) {
        const kernel = OPTIMS.find((o) => o.name === r.optimizer)!.probe;
        if (kernel) r.cMs = bestC(kernel, n, r.threads, w.name);
      }
    }

    const total = otherCores(started, loadSnap(torch));
    const seconds = round((performance.now() - t0) / 1e3, 1);
    const command = `npm run bench:peers${f.argv.length ? ` -- ${f.argv.join(' ')}` : ''}`;
    const head =
      `Machine: ${m.cpu}, ${m.cores} cores, ferroptim SIMD ${m.simd}; Node ${m.node}; torch ${machine.torch ?? '(skipped)'}${info ? ` (ATen ${info.capability})` : ''}; ` +
      `TensorFlow.js ${machine.tfjs ?? '(skipped)'}${f.tfjs ? ` (wasm SIMD ${wasmSimd ? 'yes' : 'no'}, threads ${wasmThreads ? 'yes' : 'no'})` : ''}; ` +
      `other processes used ${total ?? '?'} cores on average; ${m.date.slice(0, 10)}, commit ${m.commit}${f.quick ? ' (quick run)' : ''}.`;
    const md = [head, `Command: \`${command}\` (${seconds} s).`, '', ...table(rows), '', ...notes(f, plan, torchSkip, probeSkip).flatMap((x) => [x, ''])];
    console.log('\n# Markdown\n');
    console.log(md.join('\n').trimEnd());

    const dir = path.join(ROOT, 'benchmark', 'results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'peers.json');
    const json = {
      machine,
      options: { quick: f.quick, threads: f.threads, torch: !torchSkip, tfjs: f.tfjs, probe: f.probe, plan, tolerance: TOLERANCE, checkSteps: CHECK_STEPS },
      workloads: workloads.map((w) => ({ name: w.name, label: w.label, params: sum(w.sizes), tensors: w.sizes.length, batch: w.batch })),
      optimizers: optims.map((o) => ({ name: o.name, label: o.label, probe: o.probe, bytesPerParam: o.bytes })),
      checks,
      rows: rows.map((r) => ({ ...r, gparamsPerS: Object.fromEntries(Object.entries(r.medianMs).map(([k, v]) => [k, round(gparams(r.params, v), 4)])) })),
      probe: probe.json(),
      phases,
      otherCores: total,
      seconds,
    };
    writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
    console.log(`\ntotal ${seconds} s; raw results: ${path.relative(ROOT, file)}`);
  } finally {
    torch?.close();
  }
}

async function releaseMemory(): Promise<void> {
  if (!gc) return;
  // Native state is freed by the optimizer's finalizer, which may run after the collection.
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

main().catch((e: unknown) => fail(e instanceof Error ? (e.stack ?? e.message) : String(e)));
