/**
 * `npm run bench`: ferroptim's optimizer steps against a naive TypeScript loop and the C/OpenMP
 * yardstick in ../shared/perf (run back to back, since the machines are shared and noisy).
 *
 *   node --expose-gc --import @oxc-node/core/register benchmark/bench.ts [--quick] [--only adamw,sgd,adam] [--no-probe] [--dist]
 *
 * Prints a machine line, checks every optimizer against the naive loop (aborts on a mismatch),
 * times the cases, prints ratios and a Markdown table, and writes benchmark/results/latest.json.
 * It imports the TypeScript sources (ts/) and the native addon in native/, as the tests do;
 * `--dist` measures the compiled package (dist/) instead. `--quick` is a smoke run (~15 s),
 * `--no-probe` skips the C yardstick. A full run takes about a minute on 2 cores.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Parameter } from '../ts/index.js';

/** The library under test: the TypeScript sources by default (as the tests), or dist/ with --dist. */
type Lib = typeof import('../ts/index.js');
let lib: Lib;

// ---------------------------------------------------------------------------------------------
// Options

type Kind = 'adamw' | 'sgd' | 'adam';
const KINDS: Kind[] = ['adamw', 'sgd', 'adam'];

function parseArgs(argv: string[]): { quick: boolean; only: Kind[]; probe: boolean; dist: boolean } {
  let quick = false;
  let dist = false;
  let probe = true;
  let only: Kind[] = KINDS;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--no-probe') probe = false;
    else if (a === '--dist') dist = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) usage('--only needs a list, e.g. --only adamw,sgd');
      const names = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
      for (const n of names) if (!KINDS.includes(n as Kind)) usage(`unknown optimizer "${n}" in --only (expected ${KINDS.join(', ')})`);
      only = KINDS.filter((k) => names.includes(k));
    } else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return { quick, only, probe, dist };
}

function usage(msg?: string): never {
  if (msg) console.error(`bench: ${msg}`);
  console.error('usage: npm run bench -- [--quick] [--only adamw,sgd,adam] [--no-probe] [--dist]');
  process.exit(msg ? 2 : 0);
}

const opts = parseArgs(process.argv.slice(2));
const Q = opts.quick;
/** Parameters of the large cases. */
const BIG = 16 * 1024 * 1024;
const MULTI = 256;
const SMALL = 10240;
/** Rounds of the interleaved 16M measurement, steps per contender per round, warm-up steps. */
const BIG_ROUNDS = Q ? 2 : 16;
const BIG_STEPS = Q ? 2 : 4;
const BIG_WARMUP = Q ? 1 : 2;
/** The 16M rounds are split into segments with a C probe run (1 and all threads) at every boundary. */
const SEGMENTS = Q ? 1 : 4;
/** Rounds of the 10K measurement (one sample of many steps per contender per round) and ms per sample. */
const SMALL_ROUNDS = Q ? 6 : 40;
const SMALL_SAMPLE_MS = Q ? 1 : 3;

/** The repository root: this script lives in <root>/benchmark/. */
const ROOT = path.resolve(path.dirname(path.resolve(process.argv[1] ?? 'benchmark/bench.ts')), '..');
const PROBE = path.resolve(ROOT, '../shared/perf/run-probe.sh');
const ALL = Math.max(1, os.availableParallelism());
const THREADS = ALL > 1 ? [1, ALL] : [1];
const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

const HYPER = {
  sgd: { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 },
  adam: { lr: 1e-3, weightDecay: 1e-2 },
  adamw: { lr: 1e-3, weightDecay: 1e-2 },
} as const;
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;
/** Bytes moved per parameter by one step: read p, g and each state buffer, write p and the state. */
const BYTES: Record<Kind, number> = { adamw: 28, adam: 28, sgd: 20 };
const LABEL: Record<Kind, string> = { adamw: 'AdamW', adam: 'Adam', sgd: 'SGD-momentum' };

// ---------------------------------------------------------------------------------------------
// Machine

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function cpuFlagsOf(): string {
  try {
    const f = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
    return ['avx512f', 'avx2', 'fma'].filter((x) => f.split(' ').includes(x)).join(',');
  } catch {
    return '';
  }
}

function gitCommit(): string {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' });
  return r.stdout.trim() + (dirty.stdout.trim() ? '+dirty' : '');
}

/** Machine-wide and own CPU time, to tell how much else ran on the machine during a phase. */
interface CpuSnap {
  wall: number;
  busy: number;
  steal: number;
  own: number;
}
const HZ = 100; // USER_HZ on Linux

function cpuSnap(): CpuSnap | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
    const s = readFileSync('/proc/self/stat', 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ').map(Number);
    // Fields 14-17 of /proc/self/stat (utime, stime, cutime, cstime) are rest[11..14].
    const own = rest[11]! + rest[12]! + rest[13]! + rest[14]!;
    return { wall: performance.now(), busy: user + nice + system + irq + softirq, steal: steal ?? 0, own };
  } catch {
    return null;
  }
}

/** Average number of cores used by other processes (and stolen by the hypervisor) between two snapshots. */
function foreignLoad(a: CpuSnap | null, b: CpuSnap | null): { otherCores: number; stealCores: number } | null {
  if (!a || !b) return null;
  const secs = (b.wall - a.wall) / 1000;
  if (secs <= 0) return null;
  return {
    otherCores: round(Math.max(0, (b.busy - a.busy - (b.own - a.own)) / HZ / secs), 2),
    stealCores: round((b.steal - a.steal) / HZ / secs, 2),
  };
}

// ---------------------------------------------------------------------------------------------
// Data and the naive loops

/** Fills `a` with pseudo-random values in [lo, hi) (an LCG: fast and deterministic). */
function fill(a: Float32Array, seed: number, lo: number, hi: number): Float32Array {
  let x = seed | 0 || 1;
  const scale = (hi - lo) / 16777216;
  for (let i = 0; i < a.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) | 0;
    a[i] = lo + (x >>> 8) * scale;
  }
  return a;
}

/**
 * Gradients of magnitude 0.02 to 0.03 with random signs. With Adam's coupled decay the fixed
 * point g + λθ = 0 then lies at |θ| >= 2, out of reach from θ in [-1, 1] (the small cases restore
 * θ before each sample), so no element settles where the update underflows into subnormals,
 * which would make every step several times slower and measure the wrong thing.
 */
function fillGrad(a: Float32Array, seed: number): Float32Array {
  let x = seed | 0 || 1;
  for (let i = 0; i < a.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) | 0;
    const u = (x >>> 8) / 16777216;
    a[i] = (x & 1 ? -1 : 1) * (0.02 + 0.01 * u);
  }
  return a;
}

interface Stepper {
  step(): unknown;
}

/**
 * The update written the way someone would without ferroptim: one plain loop per tensor over the
 * Float32Arrays, single-threaded, same semantics as the kernels (PyTorch's).
 */
class NaiveOptimizer implements Stepper {
  t = 0;
  readonly state: Float32Array[][];
  constructor(
    readonly kind: Kind,
    readonly params: Array<{ data: Float32Array; grad: Float32Array }>,
  ) {
    const slots = kind === 'sgd' ? 1 : 2;
    this.state = params.map((p) => Array.from({ length: slots }, () => new Float32Array(p.data.length)));
  }

  step(): void {
    this.t++;
    for (let j = 0; j < this.params.length; j++) {
      const { data, grad } = this.params[j]!;
      const st = this.state[j]!;
      if (this.kind === 'sgd') naiveSgd(data, grad, st[0]!, this.t);
      else naiveAdam(data, grad, st[0]!, st[1]!, this.t, this.kind === 'adamw');
    }
  }
}

function naiveSgd(p: Float32Array, g: Float32Array, buf: Float32Array, t: number): void {
  const { lr, momentum, weightDecay } = HYPER.sgd;
  for (let i = 0; i < p.length; i++) {
    const d = g[i]! + weightDecay * p[i]!;
    const b = t === 1 ? d : momentum * buf[i]! + d;
    buf[i] = b;
    p[i] = p[i]! - lr * b;
  }
}

function naiveAdam(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, t: number, decoupled: boolean): void {
  const { lr, weightDecay } = decoupled ? HYPER.adamw : HYPER.adam;
  const stepSize = lr / (1 - BETA1 ** t);
  const bc2Sqrt = Math.sqrt(1 - BETA2 ** t);
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < p.length; i++) {
    let gi = g[i]!;
    let pi = p[i]!;
    if (decoupled) pi *= decay;
    else gi += weightDecay * pi;
    const mi = BETA1 * m[i]! + (1 - BETA1) * gi;
    const vi = BETA2 * v[i]! + (1 - BETA2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + EPS);
  }
}

/** Subnormal float32 values in an optimizer's state buffers (via stateDict), or null if unreadable. */
function countSubnormalState(opt: Stepper): number | null {
  try {
    const sd = (opt as unknown as { stateDict(): { state: Record<string, Record<string, unknown>> } }).stateDict();
    let n = 0;
    for (const entry of Object.values(sd.state)) {
      for (const v of Object.values(entry)) {
        if (!Array.isArray(v)) continue;
        for (const x of v as number[]) if (x !== 0 && Math.abs(x) < 1.1754943508222875e-38) n++;
      }
    }
    return n;
  } catch {
    return null;
  }
}

function makeNative(kind: Kind, params: Parameter[]): Stepper {
  switch (kind) {
    case 'sgd':
      return new lib.SGD(params, HYPER.sgd);
    case 'adam':
      return new lib.Adam(params, { lr: HYPER.adam.lr, weightDecay: HYPER.adam.weightDecay, betas: [BETA1, BETA2], eps: EPS });
    case 'adamw':
      return new lib.AdamW(params, { lr: HYPER.adamw.lr, weightDecay: HYPER.adamw.weightDecay, betas: [BETA1, BETA2], eps: EPS });
  }
}

/** `count` separately allocated tensors totalling `total` parameters, with random data and grads. */
function makeTensors(total: number, count: number, seed: number): Parameter[] {
  const out: Parameter[] = [];
  const base = Math.floor(total / count);
  for (let j = 0; j < count; j++) {
    const n = j === count - 1 ? total - base * (count - 1) : base;
    const p = new lib.Parameter(fill(new Float32Array(n), seed * 7919 + j * 2 + 1, -1, 1), { name: `t${j}` });
    fillGrad(p.grad!, seed * 7919 + j * 2 + 2);
    out.push(p);
  }
  return out;
}

/** A naive optimizer over its own copies of the same data. */
function makeNaive(kind: Kind, params: Parameter[]): NaiveOptimizer {
  return new NaiveOptimizer(
    kind,
    params.map((p) => ({ data: p.data.slice(), grad: p.grad!.slice() })),
  );
}

// ---------------------------------------------------------------------------------------------
// Verification

interface Verdict {
  kind: Kind;
  threads: number;
  steps: number;
  maxAbsDiff: number;
  worst: number;
  moved: number;
  ok: boolean;
}

/** A few steps of native and naive on the same data, with fresh gradients each step. */
function verify(kind: Kind): { verdicts: Verdict[]; threadInvariant: boolean } {
  const lens = [70001, SMALL, 1000, 4097, 1]; // > PAR_MIN in total, so the parallel path runs too
  const steps = 5;
  const verdicts: Verdict[] = [];
  const finals: Float32Array[][] = [];
  for (const threads of THREADS) {
    lib.setNumThreads(threads);
    const params = lens.map((n, j) => new lib.Parameter(fill(new Float32Array(n), 101 + j, -1, 1)));
    const initial = params.map((p) => p.data.slice());
    const naive = makeNaive(kind, params);
    const nat = makeNative(kind, params);
    for (let t = 1; t <= steps; t++) {
      params.forEach((p, j) => {
        fill(p.grad!, 1000 * t + j, -1, 1);
        naive.params[j]!.grad.set(p.grad!);
      });
      nat.step();
      naive.step();
    }
    let maxAbsDiff = 0;
    let worst = 0; // |a - b| / (atol + rtol |b|); <= 1 passes
    let moved = 0;
    params.forEach((p, j) => {
      const ref = naive.params[j]!.data;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(p.data[i]! - ref[i]!);
        maxAbsDiff = Math.max(maxAbsDiff, d);
        worst = Math.max(worst, d / (1e-6 + 1e-5 * Math.abs(ref[i]!)));
        moved = Math.max(moved, Math.abs(ref[i]! - initial[j]![i]!));
      }
    });
    // The update must be far larger than the tolerance, or the check proves nothing.
    const ok = worst <= 1 && Number.isFinite(worst) && moved > 1e-3;
    verdicts.push({ kind, threads, steps, maxAbsDiff, worst: round(worst, 4), moved: round(moved, 6), ok });
    finals.push(params.map((p) => p.data));
  }
  const bits = (a: Float32Array[]) => a.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const threadInvariant = finals.every((f) => bits(f).every((b, j) => b.equals(bits(finals[0]!)[j]!)));
  lib.setNumThreads(ALL);
  return { verdicts, threadInvariant };
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Contender {
  id: string;
  kind: Kind;
  caseName: string;
  impl: 'ferroptim' | 'naive-ts';
  threads: number;
  params: number;
  tensors: number;
  opt: Stepper;
  /** Steps per sample (> 1 for the small cases, timed as a batch). */
  batch: number;
  samples: number[];
  /** The segment (of the 16M measurement) each sample was taken in. */
  segs: number[];
  /** Called, untimed, before each sample (the small cases restore the parameters). */
  reset?: () => void;
}

interface Row {
  kind: Kind;
  optimizer: string;
  case: string;
  impl: string;
  threads: number;
  params: number;
  tensors: number;
  samples: number;
  stepsPerSample: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  gparamsPerS: number;
  gbPerS: number;
  gparamsPerSBest: number;
  gbPerSBest: number;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** ms per step of `batch` consecutive steps. */
function timeBatch(opt: Stepper, batch: number): number {
  const t0 = nowMs();
  for (let i = 0; i < batch; i++) opt.step();
  return (nowMs() - t0) / batch;
}

function useThreads(n: number): boolean {
  if (lib.getNumThreads() === n) return false;
  lib.setNumThreads(n);
  return true;
}

/**
 * Interleaved measurement: every round runs every contender (`perRound` samples each), grouped by
 * thread count (the group order alternates, the order within a group rotates), so drift and other
 * people's builds hit all of them alike. A pool change is followed by one untimed step.
 */
function interleave(contenders: Contender[], rounds: number, perRound: (c: Contender) => number, seg = 0): void {
  const groups = THREADS.map((t) => contenders.filter((c) => c.threads === t)).filter((g) => g.length > 0);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? groups : [...groups].reverse();
    for (const g of order) {
      const rot = g.map((_, i) => g[(i + r) % g.length]!);
      if (useThreads(g[0]!.threads)) rot[0]!.opt.step();
      for (const c of rot) {
        for (let k = 0; k < perRound(c); k++) {
          c.reset?.();
          c.samples.push(timeBatch(c.opt, c.batch));
          c.segs.push(seg);
        }
      }
    }
  }
}

function warm(contenders: Contender[], steps: number): void {
  for (const c of contenders) {
    useThreads(c.threads);
    for (let i = 0; i < steps * c.batch; i++) c.opt.step();
  }
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function toRow(c: Contender): Row {
  const med = median(c.samples);
  const min = Math.min(...c.samples);
  const gps = (ms: number) => c.params / (ms / 1e3) / 1e9;
  return {
    kind: c.kind,
    optimizer: LABEL[c.kind],
    case: c.caseName,
    impl: c.impl,
    threads: c.threads,
    params: c.params,
    tensors: c.tensors,
    samples: c.samples.length,
    stepsPerSample: c.batch,
    medianMs: med,
    minMs: min,
    maxMs: Math.max(...c.samples),
    gparamsPerS: gps(med),
    gbPerS: gps(med) * BYTES[c.kind],
    gparamsPerSBest: gps(min),
    gbPerSBest: gps(min) * BYTES[c.kind],
  };
}

function fmtTime(ms: number, params: number): string {
  return params < 1e6 ? `${(ms * 1e3).toFixed(2)} µs` : `${ms.toFixed(2)} ms`;
}

function printRow(r: Row): void {
  const who = `${r.optimizer} ${r.case} ${r.impl}${r.impl === 'ferroptim' ? ` ${r.threads}T` : ''}`;
  console.log(
    `  ${who.padEnd(40)} median ${fmtTime(r.medianMs, r.params).padStart(10)}  min ${fmtTime(r.minMs, r.params).padStart(10)}  ` +
      `${r.gparamsPerS.toFixed(3)} Gparam/s  ${r.gbPerS.toFixed(1)} GB/s  (n=${r.samples}${r.stepsPerSample > 1 ? `×${r.stepsPerSample}` : ''}, max ${fmtTime(r.maxMs, r.params)})`,
  );
}

async function releaseMemory(): Promise<void> {
  if (!gc) return;
  // Native state is freed by the optimizer's finalizer, which may run after the collection.
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

// ---------------------------------------------------------------------------------------------
// The C yardstick

interface ProbeLine {
  kernel: string;
  params: number;
  threads: number;
  ms: number;
  gparams_per_s: number;
  gb_per_s: number;
}
interface ProbeRun {
  when: string;
  threads: number;
  params: number;
  lines: ProbeLine[];
  error?: string;
}
const probeRuns: ProbeRun[] = [];
let probeMissing = false;

function runProbe(params: number, threads: number, when: string): ProbeRun | null {
  if (!opts.probe || probeMissing) return null;
  if (!existsSync(PROBE)) {
    probeMissing = true;
    console.log(`  (C probe not found at ${PROBE}; continuing without the yardstick)`);
    return null;
  }
  const r = spawnSync('bash', [PROBE, String(params), String(threads)], { encoding: 'utf8', timeout: 180_000 });
  const lines: ProbeLine[] = [];
  for (const l of (r.stdout ?? '').split('\n')) {
    if (!l.trim().startsWith('{')) continue;
    try {
      lines.push(JSON.parse(l) as ProbeLine);
    } catch {
      /* not a result line */
    }
  }
  const run: ProbeRun = { when, threads, params, lines };
  if (r.status !== 0 || lines.length === 0) run.error = (r.error?.message ?? r.stderr ?? `exit ${r.status}`).toString().trim().slice(0, 500);
  probeRuns.push(run);
  if (run.error) console.log(`  C probe (${params}, ${threads}T) failed: ${run.error}`);
  else console.log(`  C probe ${when} ${threads}T: ${lines.filter((l) => l.kernel !== 'sum_squares').map((l) => `${l.kernel} ${l.ms.toFixed(3)} ms (${l.gparams_per_s.toFixed(3)} Gparam/s)`).join(', ')}`);
  return run;
}

/** The best (fastest) C time for a kernel, over the given runs, and the range seen. */
function probeBest(kernel: string, params: number, threads: number, whens: string[]): { ms: number; worstMs: number; runs: number } | null {
  const ms = probeRuns
    .filter((r) => r.params === params && r.threads === threads && whens.includes(r.when))
    .flatMap((r) => r.lines.filter((l) => l.kernel === kernel && l.threads === threads).map((l) => l.ms));
  if (ms.length === 0) return null;
  return { ms: Math.min(...ms), worstMs: Math.max(...ms), runs: ms.length };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  lib = (opts.dist ? await import('../dist/index.mjs' as string) : await import('../ts/index.js')) as Lib;
  const rows: Row[] = [];
  const phases: Array<{ phase: string; seconds: number; otherCores?: number; stealCores?: number; subnormalStateValues?: number | null }> = [];
  const started = new Date();
  const t0 = performance.now();
  const snap0 = cpuSnap();

  const machine = {
    cpu: cpuModel(),
    cores: os.cpus().length,
    availableParallelism: ALL,
    cpuFlags: cpuFlagsOf(),
    simd: lib.getSimdLevel(),
    defaultThreads: lib.getNumThreads(),
    node: process.version,
    date: started.toISOString(),
    commit: gitCommit(),
    library: opts.dist ? 'dist' : 'ts',
    loadavg: os.loadavg().map((x) => round(x, 2)),
    memGB: round(os.totalmem() / 2 ** 30, 1),
  };
  console.log(
    `machine: cpu="${machine.cpu}" cores=${machine.cores} simd=${machine.simd} node=${machine.node} date=${machine.date} ` +
      `threads=${machine.defaultThreads} commit=${machine.commit} lib=${machine.library} load=${machine.loadavg.join('/')}`,
  );
  console.log(`mode: ${Q ? 'quick' : 'full'}; optimizers: ${opts.only.join(', ')}; thread counts: ${THREADS.join(', ')}${gc ? '' : '; no --expose-gc (memory is freed lazily)'}`);

  // 1. Verification
  console.log('\n# verification: native vs naive TS, 5 steps, 5 tensors (85339 params), fresh grads each step');
  const verification: Array<Verdict & { threadInvariant: boolean }> = [];
  let failed = false;
  for (const kind of opts.only) {
    const { verdicts, threadInvariant } = verify(kind);
    for (const v of verdicts) {
      verification.push({ ...v, threadInvariant });
      console.log(
        `  ${LABEL[kind].padEnd(13)} ${v.threads}T: max |Δ| ${v.maxAbsDiff.toExponential(2)}, worst/tol ${v.worst} (tol 1e-6 + 1e-5·|p|), moved ${v.moved} -> ${v.ok ? 'ok' : 'MISMATCH'}`,
      );
      if (!v.ok) failed = true;
    }
    if (THREADS.length > 1) console.log(`  ${LABEL[kind].padEnd(13)} results bit-identical across thread counts: ${threadInvariant ? 'yes' : 'NO'}`);
  }
  if (failed) {
    console.error('\nbench: native and naive results disagree; not timing anything.');
    process.exit(1);
  }

  // 2. 16M parameters: one tensor and 256 tensors, native at each thread count, naive single-threaded.
  async function bigPhase(kind: Kind, probe: boolean): Promise<void> {
    const start = performance.now();
    const a = cpuSnap();
    console.log(
      `\n# ${LABEL[kind]}: ${BIG} params (one tensor / ${MULTI} tensors), ${BIG_ROUNDS} interleaved rounds` +
        (probe ? ` in ${SEGMENTS} segments, C probe (1 and ${ALL} threads) before each segment and after the last` : ''),
    );
    let single: Parameter[] | null = makeTensors(BIG, 1, 1);
    let multi: Parameter[] | null = makeTensors(BIG, MULTI, 2);
    let contenders: Contender[] = [];
    const add = (caseName: string, impl: Contender['impl'], threads: number, ps: Parameter[], opt: Stepper) =>
      contenders.push({ id: `${kind}/${caseName}/${impl}/${threads}`, kind, caseName, impl, threads, params: BIG, tensors: ps.length, opt, batch: 1, samples: [], segs: [] });
    // One optimizer per layout, shared by the thread counts (the pool size is global), so 1 and
    // all threads run over the very same memory.
    const optSingle = makeNative(kind, single);
    const optMulti = makeNative(kind, multi);
    for (const t of THREADS) {
      add('16M', 'ferroptim', t, single, optSingle);
      add(`${MULTI}x64K`, 'ferroptim', t, multi, optMulti);
    }
    add('16M', 'naive-ts', 1, single, makeNaive(kind, single));
    warm(contenders, BIG_WARMUP);
    const perRound = (c: Contender) => (c.impl === 'naive-ts' ? 1 : BIG_STEPS);
    for (let seg = 0; seg < SEGMENTS; seg++) {
      if (probe) probeAt(kind, seg);
      const from = Math.floor((BIG_ROUNDS * seg) / SEGMENTS);
      const to = Math.floor((BIG_ROUNDS * (seg + 1)) / SEGMENTS);
      interleave(contenders, to - from, perRound, seg);
    }
    if (probe) probeAt(kind, SEGMENTS);
    for (const c of contenders) {
      const r = toRow(c);
      rows.push(r);
      printRow(r);
      // Per-segment minima, to pair with the probe runs around each segment.
      segMins.set(c.id, Array.from({ length: SEGMENTS }, (_, k) => Math.min(...c.samples.filter((_, i) => c.segs[i] === k))));
    }
    contenders = [];
    single = null;
    multi = null;
    await releaseMemory();
    const load = foreignLoad(a, cpuSnap());
    phases.push({ phase: `${kind}-16M`, seconds: round((performance.now() - start) / 1e3, 1), ...(load ?? {}) });
    if (load) console.log(`  (other processes used ${load.otherCores} cores on average during this phase; steal ${load.stealCores})`);
  }

  // 3. 10K parameters: one tensor and 10 tensors of 1K, plus the fixed per-step cost (16 params).
  async function smallPhase(kind: Kind): Promise<void> {
    const start = performance.now();
    const a = cpuSnap();
    console.log(`\n# ${LABEL[kind]}: ${SMALL} params (one tensor / 10 tensors), ${SMALL_ROUNDS} interleaved rounds of ~${SMALL_SAMPLE_MS} ms samples`);
    const contenders: Contender[] = [];
    // Thousands of steps run here; restoring θ before each sample keeps it in its start range.
    const restorer = (targets: Float32Array[]) => {
      const saved = targets.map((d) => d.slice());
      return () => targets.forEach((d, j) => d.set(saved[j]!));
    };
    const add = (caseName: string, impl: Contender['impl'], threads: number, ps: Parameter[], opt: Stepper) =>
      contenders.push({
        id: `${kind}/${caseName}/${impl}/${threads}`,
        kind,
        caseName,
        impl,
        threads,
        params: ps.reduce((s, p) => s + p.numel, 0),
        tensors: ps.length,
        opt,
        batch: 1,
        samples: [],
        segs: [],
        reset: restorer(opt instanceof NaiveOptimizer ? opt.params.map((p) => p.data) : ps.map((p) => p.data)),
      });
    const single = makeTensors(SMALL, 1, 3);
    const ten = makeTensors(SMALL, 10, 4);
    const tiny = makeTensors(16, 1, 5);
    const tiny256 = makeTensors(256 * 16, 256, 6);
    const optSingle = makeNative(kind, single);
    const optTen = makeNative(kind, ten);
    for (const t of THREADS) {
      add('10K', 'ferroptim', t, single, optSingle);
      add('10x1K', 'ferroptim', t, ten, optTen);
    }
    add('10K', 'naive-ts', 1, single, makeNaive(kind, single));
    // Fixed cost of a step (JS + N-API + engine), with one tensor and with 256 tensors.
    const optTiny = makeNative(kind, tiny);
    const optTiny256 = makeNative(kind, tiny256);
    add('16 params', 'ferroptim', 1, tiny, optTiny);
    add('256x16', 'ferroptim', 1, tiny256, optTiny256);
    // Calibrate the batch so a sample takes about SMALL_SAMPLE_MS.
    for (const c of contenders) {
      useThreads(c.threads);
      timeBatch(c.opt, 50);
      const per = Math.min(...[0, 1, 2].map(() => timeBatch(c.opt, 50)));
      c.batch = Math.max(1, Math.round(SMALL_SAMPLE_MS / Math.max(per, 1e-6)));
    }
    warm(contenders, 1);
    interleave(contenders, SMALL_ROUNDS, () => 1);
    for (const c of contenders) {
      const r = toRow(c);
      rows.push(r);
      printRow(r);
    }
    // Subnormal optimizer state makes every step several times slower; the data above is chosen
    // to avoid it, and this checks that it did.
    const subnormals = [optSingle, optTen, optTiny, optTiny256].reduce<number | null>((acc, o) => {
      const n = countSubnormalState(o);
      return acc === null || n === null ? null : acc + n;
    }, 0);
    if (subnormals === null) console.log('  (could not read the optimizer state to check for subnormals)');
    else console.log(`  subnormal values in the optimizer state after timing: ${subnormals}${subnormals > 0 ? '  <- the timings above are slowed by subnormal arithmetic' : ''}`);
    await releaseMemory();
    const load = foreignLoad(a, cpuSnap());
    phases.push({ phase: `${kind}-10K`, seconds: round((performance.now() - start) / 1e3, 1), subnormalStateValues: subnormals, ...(load ?? {}) });
    if (load) console.log(`  (other processes used ${load.otherCores} cores on average during this phase; steal ${load.stealCores})`);
  }

  // The C probe runs between the segments of the native AdamW and SGD measurements (each run
  // reports both kernels; a kind's ratio uses the runs around its own segments).
  const probeKinds: Kind[] = opts.probe ? opts.only.filter((k) => k !== 'adam') : [];
  const segMins = new Map<string, number[]>();
  function probeAt(kind: Kind, boundary: number): void {
    for (const t of [...THREADS].reverse()) runProbe(BIG, t, `${kind}:${boundary}`);
  }
  for (const kind of opts.only) await bigPhase(kind, probeKinds.includes(kind));
  if (probeKinds.length) runProbe(SMALL, 1, 'small');
  for (const kind of opts.only) await smallPhase(kind);

  // 4. Ratios
  interface Ratio {
    name: string;
    value: number | null;
    paired?: number[];
    target?: string;
    pass?: boolean;
    detail: string;
  }
  const ratios: Ratio[] = [];
  const find = (kind: Kind, caseName: string, impl: string, threads: number) =>
    rows.find((r) => r.kind === kind && r.case === caseName && r.impl === impl && r.threads === threads);

  for (const kind of probeKinds) {
    const kernel = kind === 'adamw' ? 'adamw' : 'sgd_momentum';
    const whens = Array.from({ length: SEGMENTS + 1 }, (_, b) => `${kind}:${b}`);
    for (const t of [...THREADS].reverse()) {
      const r = find(kind, '16M', 'ferroptim', t);
      const c = probeBest(kernel, BIG, t, whens);
      if (!r) continue;
      // Best against best over the whole phase (the C figure is itself a best of 10 per run).
      const value = c ? c.ms / r.minMs : null;
      // And segment by segment: the best native step of a segment against the best C run around it.
      const mins = segMins.get(`${kind}/16M/ferroptim/${t}`) ?? [];
      const paired = mins
        .map((m, k) => {
          const ck = probeBest(kernel, BIG, t, [`${kind}:${k}`, `${kind}:${k + 1}`]);
          return ck && Number.isFinite(m) ? ck.ms / m : null;
        })
        .filter((x): x is number => x !== null);
      ratios.push({
        name: `${LABEL[kind]} 16M ${t}T: ferroptim / C params/s`,
        value,
        target: '>= 0.90',
        pass: value === null ? undefined : value >= 0.9,
        paired: paired.map((x) => round(x, 3)),
        detail: c
          ? `ferroptim best ${r.minMs.toFixed(2)} ms (median ${r.medianMs.toFixed(2)}) vs C best ${c.ms.toFixed(2)} ms (C runs ${c.ms.toFixed(2)}..${c.worstMs.toFixed(2)} ms, ${c.runs} runs)` +
            (paired.length > 1 ? `; per segment ${paired.map((x) => x.toFixed(2)).join(' ')} (median ${median(paired).toFixed(2)})` : '')
          : 'no C probe result',
      });
    }
  }
  for (const kind of opts.only) {
    const naive = find(kind, '16M', 'naive-ts', 1);
    for (const t of THREADS) {
      const r = find(kind, '16M', 'ferroptim', t);
      if (naive && r) ratios.push({ name: `${LABEL[kind]} 16M ${t}T: ferroptim / naive TS speed`, value: naive.medianMs / r.medianMs, detail: `${naive.medianMs.toFixed(1)} ms vs ${r.medianMs.toFixed(2)} ms (medians)` });
    }
    const naiveS = find(kind, '10K', 'naive-ts', 1);
    const rs = find(kind, '10K', 'ferroptim', ALL);
    if (naiveS && rs) ratios.push({ name: `${LABEL[kind]} 10K ${ALL}T: ferroptim / naive TS speed`, value: naiveS.medianMs / rs.medianMs, detail: `${(naiveS.medianMs * 1e3).toFixed(2)} µs vs ${(rs.medianMs * 1e3).toFixed(2)} µs (medians)` });
  }
  for (const kind of opts.only) {
    for (const t of THREADS) {
      const one = find(kind, '16M', 'ferroptim', t);
      const many = find(kind, `${MULTI}x64K`, 'ferroptim', t);
      if (one && many) {
        const value = many.medianMs / one.medianMs;
        ratios.push({ name: `${LABEL[kind]} ${t}T: ${MULTI}-tensor / 1-tensor time`, value, target: '<= 1.15', pass: value <= 1.15, detail: `${many.medianMs.toFixed(2)} ms vs ${one.medianMs.toFixed(2)} ms (medians)` });
      }
    }
  }
  const cSmall = probeRuns.find((r) => r.when === 'small');
  for (const kind of opts.only) {
    for (const t of THREADS) {
      const r = find(kind, '10K', 'ferroptim', t);
      if (!r) continue;
      const us = r.medianMs * 1e3;
      const cl = cSmall?.lines.find((l) => l.kernel === (kind === 'sgd' ? 'sgd_momentum' : 'adamw'));
      const fixed = find(kind, '16 params', 'ferroptim', 1);
      ratios.push({
        name: `${LABEL[kind]} 10K ${t}T: µs per step`,
        value: us,
        target: '<= 10 µs',
        pass: us <= 10,
        detail: `min ${(r.minMs * 1e3).toFixed(2)} µs${fixed ? `; fixed cost of a step (16 params) ${(fixed.medianMs * 1e3).toFixed(2)} µs` : ''}${cl && kind !== 'adam' ? `; C kernel alone ${(cl.ms * 1e3).toFixed(1)} µs (probe, 3 decimals of ms)` : ''}`,
      });
    }
  }

  console.log('\n# ratios');
  for (const r of ratios) {
    const v = r.value === null ? 'n/a' : r.name.includes('µs') ? `${r.value.toFixed(2)} µs` : r.name.includes('speed') ? `${r.value.toFixed(1)}x` : r.value.toFixed(3);
    const verdict = r.pass === undefined ? '' : r.pass ? `  [ok, target ${r.target}]` : `  [MISS, target ${r.target}]`;
    console.log(`  ${r.name.padEnd(52)} ${v.padStart(9)}${verdict}   ${r.detail}`);
  }

  // 5. Markdown
  const md: string[] = [];
  md.push(`Machine: ${machine.cpu}, ${machine.cores} cores, SIMD ${machine.simd}, Node ${machine.node}, ${machine.date.slice(0, 10)}${Q ? ' (quick run)' : ''}.`);
  md.push('');
  md.push('| Optimizer | Case | Implementation | Threads | Median / step | Min / step | G params/s | GB/s |');
  md.push('|---|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    md.push(
      `| ${r.optimizer} | ${r.case} | ${r.impl} | ${r.impl === 'naive-ts' ? 1 : r.threads} | ${fmtTime(r.medianMs, r.params)} | ${fmtTime(r.minMs, r.params)} | ${r.gparamsPerS.toFixed(3)} | ${r.gbPerS.toFixed(1)} |`,
    );
  }
  const cRows: string[] = [];
  for (const kernel of ['adamw', 'sgd_momentum']) {
    for (const t of [...THREADS].reverse()) {
      const best = probeBest(kernel, BIG, t, probeRuns.map((r) => r.when));
      if (best) {
        const gps = BIG / (best.ms / 1e3) / 1e9;
        cRows.push(`| ${kernel === 'adamw' ? 'AdamW' : 'SGD-momentum'} | 16M | C/OpenMP probe (best of runs) | ${t} | — | ${best.ms.toFixed(2)} ms | ${gps.toFixed(3)} | ${(gps * (kernel === 'adamw' ? 28 : 20)).toFixed(1)} |`);
      }
    }
  }
  md.push(...cRows);
  md.push('');
  md.push('G params/s and GB/s at the median (28 B/param for Adam/AdamW, 20 for SGD-momentum); the C row is best-of-10 per run.');
  md.push('');
  md.push('| Ratio | Value | Target |');
  md.push('|---|---:|---|');
  for (const r of ratios) {
    const v = r.value === null ? 'n/a' : r.name.includes('µs') ? `${r.value.toFixed(2)} µs` : r.name.includes('speed') ? `${r.value.toFixed(1)}×` : r.value.toFixed(2);
    md.push(`| ${r.name} | ${v} | ${r.target ? `${r.target}${r.pass === undefined ? '' : r.pass ? ' ✓' : ' ✗'}` : ''} |`);
  }
  console.log('\n# Markdown\n');
  console.log(md.join('\n'));

  const loadAll = foreignLoad(snap0, cpuSnap());
  const elapsed = round((performance.now() - t0) / 1e3, 1);
  console.log(`\ntotal ${elapsed} s; other processes used ${loadAll ? `${loadAll.otherCores} cores on average (steal ${loadAll.stealCores})` : 'unknown CPU'}; load ${os.loadavg().map((x) => x.toFixed(2)).join('/')}`);

  const out = path.join(ROOT, 'benchmark', 'results');
  mkdirSync(out, { recursive: true });
  const file = path.join(out, 'latest.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        machine,
        options: { quick: Q, only: opts.only, probe: opts.probe, threads: THREADS, bigRounds: BIG_ROUNDS, bigStepsPerRound: BIG_STEPS, smallRounds: SMALL_ROUNDS, hyper: HYPER, betas: [BETA1, BETA2], eps: EPS },
        verification,
        results: rows,
        probe: probeMissing ? { missing: PROBE } : probeRuns,
        ratios,
        phases,
        foreignLoad: loadAll,
        seconds: elapsed,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`raw results: ${path.relative(ROOT, file)}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
