/**
 * `npm run bench`: ferroptim's optimizer steps against a naive TypeScript loop and the C/OpenMP
 * yardstick in ../shared/perf (run back to back, since the machines are shared and noisy).
 *
 *   node --expose-gc --import @oxc-node/core/register benchmark/bench.ts [--quick] [--only NAMES] [--no-probe] [--dist]
 *
 * Three parts, each with its own Markdown table:
 *  1. the original cases: SGD-momentum, Adam and AdamW on 16M, 256×64K and 10K parameters, against
 *     a naive TS loop and the C probe;
 *  2. every optimizer (SGD-momentum, Adam, AdamW, RMSprop, Adagrad, RAdam, NAdam, Adamax, Adadelta,
 *     AdaBound, LAMB, Lion, Lookahead(AdamW)) on 16M parameters at 1 and all threads, with GB/s at
 *     its bytes per parameter and the ratio to the C probe's AdamW GB/s measured in the same run;
 *     NAdam, Lion and LAMB (the updates furthest from AdamW's shape) are also timed against the
 *     same update written plainly in C (benchmark/same-in-c.c, built like the probe, run beside it);
 *  3. the cost of monitoring (GradNormMonitor), skipNonFinite and clipGradNorm beside an AdamW step.
 * `--only` takes optimizer names (adamw, sgd, adam: parts 1 and 2; rmsprop, adagrad, radam, nadam,
 * adamax, adadelta, adabound, lamb, lion, lookahead: part 2), `monitor` (part 3), or the groups
 * `original` (part 1), `all-optimizers` (part 2).
 *
 * Every optimizer is checked before it is timed (the original three against the naive loop, the
 * others bit for bit against the TS reference oracles in __test__/oracles/*.ts, and all for
 * identical results with 1 and all threads); a mismatch aborts. Results go to
 * benchmark/results/latest.json. It imports the TypeScript sources (ts/) and the native addon in
 * native/, as the tests do; `--dist` measures the compiled package (dist/) instead. `--quick` is a
 * smoke run (~1 min), `--no-probe` skips the C yardstick. A full run takes about 2-3 minutes on 2 cores.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
/** Every optimizer of part 2, in table order. */
type ZooKind = 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad' | 'radam' | 'nadam' | 'adamax' | 'adadelta' | 'adabound' | 'lamb' | 'lion' | 'lookahead';
const ZOO: ZooKind[] = ['sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', 'radam', 'nadam', 'adamax', 'adadelta', 'adabound', 'lamb', 'lion', 'lookahead'];
const GROUPS = ['original', 'all-optimizers', 'monitor'];

interface Opts {
  quick: boolean;
  /** Part 1: the original cases. */
  only: Kind[];
  /** Part 2: the all-optimizers rows. */
  zoo: ZooKind[];
  /** Part 3: monitoring / clipping overhead. */
  monitor: boolean;
  probe: boolean;
  dist: boolean;
}

function parseArgs(argv: string[]): Opts {
  let quick = false;
  let dist = false;
  let probe = true;
  let only: Kind[] = KINDS;
  let zoo: ZooKind[] = ZOO;
  let monitor = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--no-probe') probe = false;
    else if (a === '--dist') dist = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) usage('--only needs a list, e.g. --only adamw,lamb,monitor');
      const names = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
      for (const n of names) {
        if (!ZOO.includes(n as ZooKind) && !GROUPS.includes(n)) usage(`unknown name "${n}" in --only (expected ${[...ZOO, ...GROUPS].join(', ')})`);
      }
      const all = names.includes('original');
      const allZoo = names.includes('all-optimizers');
      only = KINDS.filter((k) => all || names.includes(k));
      zoo = ZOO.filter((k) => allZoo || names.includes(k));
      monitor = names.includes('monitor');
    } else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return { quick, only, zoo, monitor, probe, dist };
}

function usage(msg?: string): never {
  if (msg) console.error(`bench: ${msg}`);
  console.error(
    'usage: npm run bench -- [--quick] [--only NAMES] [--no-probe] [--dist]\n' +
      `  NAMES: a comma-separated list of ${ZOO.join(', ')}, monitor, or the groups original, all-optimizers`,
  );
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
/** Part 2: interleaved rounds, steps per contender per round, segments (C probe at each boundary). */
const ZOO_ROUNDS = Q ? 2 : 10;
const ZOO_STEPS = Q ? 1 : 3;
const ZOO_SEGMENTS = Q ? 1 : 2;
/** Part 3: interleaved rounds and steps per contender per round, segments. */
const MON_ROUNDS = Q ? 3 : 16;
const MON_STEPS = Q ? 1 : 3;
const MON_SEGMENTS = Q ? 1 : 2;

/** The repository root: this script lives in <root>/benchmark/. */
const ROOT = path.resolve(path.dirname(path.resolve(process.argv[1] ?? 'benchmark/bench.ts')), '..');
const PROBE = path.resolve(ROOT, '../shared/perf/run-probe.sh');
/** The same updates in plain C (NAdam, Lion, LAMB), built with gcc like the probe. */
const SAME_C = path.resolve(ROOT, 'benchmark/same-in-c.c');
const SAME_C_KINDS: ZooKind[] = ['nadam', 'lion', 'lamb'];
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
/** Lookahead(AdamW) of part 2: k and alpha (its defaults). */
const LA_K = 5;
const LA_ALPHA = 0.5;
/**
 * Options of part 2 beyond the three above: each class's defaults (PyTorch's, or the reference's),
 * spelled out. RMSprop without momentum and not centered; AdaBound without amsbound.
 */
const ZOO_OPTS = {
  rmsprop: { lr: 1e-2, alpha: 0.99, eps: 1e-8, momentum: 0, centered: false },
  adagrad: { lr: 1e-2, lrDecay: 0, eps: 1e-10 },
  radam: { lr: 1e-3 },
  nadam: { lr: 2e-3 },
  adamax: { lr: 2e-3 },
  adadelta: { lr: 1.0, rho: 0.9, eps: 1e-6 },
  adabound: { lr: 1e-3, finalLr: 0.1, amsbound: false },
  lamb: { lr: 1e-3, eps: 1e-6, weightDecay: 0, clampValue: 10 },
  lion: { lr: 1e-4, betas: [0.9, 0.99] as [number, number], weightDecay: 0 },
  lookahead: { k: LA_K, alpha: LA_ALPHA },
};
/**
 * Bytes per parameter of one step, counting the f32 streams each kernel (crate/src/kernels/*.rs)
 * reads and writes per element in its fused pass. LAMB is quoted AdamW-equivalent (28; its two
 * passes move 40); Lookahead amortises its sync (θ and φ read and written, every k steps).
 */
const BYTES: Record<string, number> = {
  adamw: 28,
  adam: 28,
  sgd: 20,
  rmsprop: 20,
  adagrad: 20,
  radam: 28,
  nadam: 28,
  adamax: 28,
  adadelta: 28,
  adabound: 28,
  lamb: 28,
  lion: 20,
  lookahead: 28 + 16 / LA_K,
  'adamw+monitor': 28,
  'adamw+skip': 28,
  clip: 4,
};
/** The streams behind BYTES, for the notes under the table. */
const STREAMS: Record<ZooKind, string> = {
  sgd: 'θ r/w, g r, buf r/w',
  adam: 'θ r/w, g r, m r/w, v r/w',
  adamw: 'θ r/w, g r, m r/w, v r/w',
  rmsprop: 'θ r/w, g r, v r/w (no momentum, not centered: +8 each)',
  adagrad: 'θ r/w, g r, sum r/w',
  radam: 'θ r/w, g r, m r/w, v r/w',
  nadam: 'θ r/w, g r, m r/w, v r/w',
  adamax: 'θ r/w, g r, m r/w, u r/w',
  adadelta: 'θ r/w, g r, v r/w, Δ r/w',
  adabound: 'θ r/w, g r, m r/w, v r/w (no amsbound)',
  lamb: 'quoted AdamW-equivalent; its two passes move 40: θ r, g r, m r/w, v r/w (24), then θ r/w, m r, v r (16)',
  lion: 'θ r/w, g r, m r/w',
  lookahead: `AdamW's 28 + the sync's θ r/w, φ r/w (16) every k = ${LA_K} steps`,
};
/** Bytes actually moved, where they differ from the quoted figure. */
const MOVED: Partial<Record<ZooKind, number>> = { lamb: 40 };
const LABEL: Record<string, string> = {
  adamw: 'AdamW',
  adam: 'Adam',
  sgd: 'SGD-momentum',
  rmsprop: 'RMSprop',
  adagrad: 'Adagrad',
  radam: 'RAdam',
  nadam: 'NAdam',
  adamax: 'Adamax',
  adadelta: 'Adadelta',
  adabound: 'AdaBound',
  lamb: 'LAMB',
  lion: 'Lion',
  lookahead: `Lookahead(AdamW, k=${LA_K})`,
  'adamw+monitor': 'AdamW + GradNormMonitor',
  'adamw+skip': 'AdamW + skipNonFinite',
  clip: 'clipGradNorm (no clipping)',
};
/** Targets of part 2: the optimizer's best GB/s over the C probe's best AdamW GB/s. */
const zooTarget = (k: ZooKind): number => (k === 'lamb' ? 0.6 : 0.85);

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

/** Tensors of the checks: awkward lengths, > PAR_MIN (131072) in total so the parallel path runs too. */
const VERIFY_LENS = [150001, SMALL, 1000, 4097, 1];
const VERIFY_TOTAL = VERIFY_LENS.reduce((a, b) => a + b, 0);

/** A few steps of native and naive on the same data, with fresh gradients each step. */
function verify(kind: Kind): { verdicts: Verdict[]; threadInvariant: boolean } {
  const lens = VERIFY_LENS;
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

/** A part-2 optimizer over `params`. */
function makeZoo(kind: ZooKind, params: Parameter[]): Stepper {
  switch (kind) {
    case 'sgd':
    case 'adam':
    case 'adamw':
      return makeNative(kind, params);
    case 'rmsprop':
      return new lib.RMSprop(params, ZOO_OPTS.rmsprop);
    case 'adagrad':
      return new lib.Adagrad(params, ZOO_OPTS.adagrad);
    case 'radam':
      return new lib.RAdam(params, ZOO_OPTS.radam);
    case 'nadam':
      return new lib.NAdam(params, ZOO_OPTS.nadam);
    case 'adamax':
      return new lib.Adamax(params, ZOO_OPTS.adamax);
    case 'adadelta':
      return new lib.Adadelta(params, ZOO_OPTS.adadelta);
    case 'adabound':
      return new lib.AdaBound(params, ZOO_OPTS.adabound);
    case 'lamb':
      return new lib.LAMB(params, ZOO_OPTS.lamb);
    case 'lion':
      return new lib.Lion(params, ZOO_OPTS.lion);
    case 'lookahead':
      return new lib.Lookahead(new lib.AdamW(params, { lr: HYPER.adamw.lr, weightDecay: HYPER.adamw.weightDecay, betas: [BETA1, BETA2], eps: EPS }), ZOO_OPTS.lookahead);
  }
}

/** The TypeScript reference oracles (test-only modules of ts/optim, which the kernels must match bit for bit). */
interface Oracles {
  base: typeof import('../__test__/oracles/torch.js');
  extra: typeof import('../__test__/oracles/torch-extra.js');
  contrib: typeof import('../__test__/oracles/contrib.js');
}
let oracles: Oracles | null = null;
let oracleError = '';

async function loadOracles(): Promise<void> {
  try {
    const [base, extra, contrib] = await Promise.all([import('../__test__/oracles/torch.js'), import('../__test__/oracles/torch-extra.js'), import('../__test__/oracles/contrib.js')]);
    oracles = { base, extra, contrib };
  } catch (e) {
    oracleError = String((e as Error)?.message ?? e).split('\n')[0]!;
  }
}

/**
 * One reference step of a part-2 optimizer (other than the original three) over `ps`, in place,
 * with its own state; `t` is the step number (1-based).
 */
function makeOracle(kind: Exclude<ZooKind, Kind>, o: Oracles, ps: Float32Array[]): (gs: Float32Array[], t: number) => void {
  const st: never[] = [];
  const full = <T extends object>(defaults: Readonly<T>, over: object): T => ({ ...defaults, ...over }) as T;
  switch (kind) {
    case 'rmsprop': {
      const op = full(lib.RMSPROP_DEFAULTS, ZOO_OPTS.rmsprop);
      return (gs) => o.extra.rmspropReference(ps, gs, st, op as never);
    }
    case 'adagrad': {
      const op = full(lib.ADAGRAD_DEFAULTS, ZOO_OPTS.adagrad);
      const ast = ps.map((p) => o.extra.adagradInitialState(p.length, op as never));
      return (gs) => o.extra.adagradReference(ps, gs, ast, op as never);
    }
    case 'radam': {
      const op = full(lib.RADAM_DEFAULTS, ZOO_OPTS.radam);
      return (gs) => o.extra.radamReference(ps, gs, st, op as never);
    }
    case 'nadam': {
      const op = full(lib.NADAM_DEFAULTS, ZOO_OPTS.nadam);
      return (gs) => o.extra.nadamReference(ps, gs, st, op as never);
    }
    case 'adamax': {
      const op = full(lib.ADAMAX_DEFAULTS, ZOO_OPTS.adamax);
      return (gs) => o.extra.adamaxReference(ps, gs, st, op as never);
    }
    case 'adadelta': {
      const op = full(lib.ADADELTA_DEFAULTS, ZOO_OPTS.adadelta);
      return (gs) => o.extra.adadeltaReference(ps, gs, st, op as never);
    }
    case 'adabound': {
      const op = full(lib.ADABOUND_DEFAULTS, { ...ZOO_OPTS.adabound, baseLr: ZOO_OPTS.adabound.lr });
      return (gs) => o.contrib.adaboundReference(ps, gs, st, op as never);
    }
    case 'lamb': {
      const op = full(lib.LAMB_DEFAULTS, ZOO_OPTS.lamb);
      return (gs) => o.contrib.lambReference(ps, gs, st, op as never, o.contrib.stepStarts(gs));
    }
    case 'lion': {
      const op = full(lib.LION_DEFAULTS, ZOO_OPTS.lion);
      return (gs) => o.contrib.lionReference(ps, gs, st, op as never);
    }
    case 'lookahead': {
      const op = full(lib.ADAMW_DEFAULTS, { lr: HYPER.adamw.lr, weightDecay: HYPER.adamw.weightDecay, betas: [BETA1, BETA2], eps: EPS });
      const slow: Array<Float32Array | undefined> = [];
      return (gs, t) => {
        o.base.adamReference(ps, gs, st, op as never, true);
        // The sync follows inner steps 1, k + 1, 2k + 1, ... (torch-optimizer's counter).
        if ((t - 1) % LA_K === 0) o.contrib.lookaheadSyncReference(ps, slow, LA_ALPHA);
      };
    }
  }
}

interface ZooVerdict {
  kind: ZooKind;
  threads: number;
  steps: number;
  /** 'reference' (bit for bit against the TS oracle) or 'sanity' (finite and moved only). */
  check: 'reference' | 'sanity';
  maxAbsDiff: number | null;
  differing: number | null;
  finite: boolean;
  moved: number;
  ok: boolean;
}

/**
 * A part-2 optimizer (not one of the original three) against its TS reference oracle: 12 steps
 * (Lookahead syncs after steps 1, 6 and 11; RAdam is rectified from step 6) with fresh gradients
 * each step, at each thread count. Passes when every element is finite, the update is far above
 * the tolerance, and native and reference agree (within 1e-6 + 1e-5·|p|; `differing` counts the
 * elements whose bits differ at all). Without the oracles, only finite and moved are checked.
 */
function verifyZoo(kind: Exclude<ZooKind, Kind>): { verdicts: ZooVerdict[]; threadInvariant: boolean } {
  const steps = 12;
  const verdicts: ZooVerdict[] = [];
  const finals: Float32Array[][] = [];
  for (const threads of THREADS) {
    lib.setNumThreads(threads);
    const params = VERIFY_LENS.map((n, j) => new lib.Parameter(fill(new Float32Array(n), 101 + j, -1, 1)));
    const initial = params.map((p) => p.data.slice());
    const ref = params.map((p) => p.data.slice());
    const oracle = oracles ? makeOracle(kind, oracles, ref) : null;
    const nat = makeZoo(kind, params);
    for (let t = 1; t <= steps; t++) {
      params.forEach((p, j) => fill(p.grad!, 1000 * t + j, -1, 1));
      nat.step();
      oracle?.(
        params.map((p) => p.grad!.slice()),
        t,
      );
    }
    let maxAbsDiff = 0;
    let worst = 0;
    let differing = 0;
    let moved = 0;
    let finite = true;
    params.forEach((p, j) => {
      const r = ref[j]!;
      for (let i = 0; i < r.length; i++) {
        const x = p.data[i]!;
        if (!Number.isFinite(x)) finite = false;
        moved = Math.max(moved, Math.abs(x - initial[j]![i]!));
        if (!oracle) continue;
        if (!Object.is(x, r[i]!)) differing++;
        const d = Math.abs(x - r[i]!);
        maxAbsDiff = Math.max(maxAbsDiff, d);
        worst = Math.max(worst, d / (1e-6 + 1e-5 * Math.abs(r[i]!)));
      }
    });
    // Lion moves each element by lr = 1e-4 a step; everything else moves far more.
    const ok = finite && moved > 1e-4 && (!oracle || (worst <= 1 && Number.isFinite(worst)));
    verdicts.push({ kind, threads, steps, check: oracle ? 'reference' : 'sanity', maxAbsDiff: oracle ? maxAbsDiff : null, differing: oracle ? differing : null, finite, moved: round(moved, 6), ok });
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
  /** An optimizer (ZooKind) or, in part 3, 'adamw+monitor', 'adamw+skip', 'clip'. */
  kind: string;
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
  kind: string;
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
  /** Every sample, in ms per step. */
  samplesMs: number[];
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
    optimizer: LABEL[c.kind] ?? c.kind,
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
    gbPerS: gps(med) * (BYTES[c.kind] ?? NaN),
    gparamsPerSBest: gps(min),
    gbPerSBest: gps(min) * (BYTES[c.kind] ?? NaN),
    samplesMs: c.samples.map((x) => round(x, 6)),
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
  return fileRun('C probe', r, params, threads, when, (l) => (l.kernel === 'sum_squares' ? '' : `${l.kernel} ${l.ms.toFixed(3)} ms (${l.gparams_per_s.toFixed(3)} Gparam/s)`));
}

/** Parses a yardstick's JSON lines, files them in `probeRuns` (with the error, if any) and logs them. */
function fileRun(
  who: string,
  r: ReturnType<typeof spawnSync>,
  params: number,
  threads: number,
  when: string,
  show: (l: ProbeLine) => string,
): ProbeRun {
  const lines: ProbeLine[] = [];
  for (const l of String(r.stdout ?? '').split('\n')) {
    if (!l.trim().startsWith('{')) continue;
    try {
      lines.push(JSON.parse(l) as ProbeLine);
    } catch {
      /* not a result line */
    }
  }
  const run: ProbeRun = { when, threads, params, lines };
  if (r.status !== 0 || lines.length === 0) run.error = String(r.error?.message ?? r.stderr ?? `exit ${r.status}`).trim().slice(0, 500);
  probeRuns.push(run);
  if (run.error) console.log(`  ${who} (${params}, ${threads}T) failed: ${run.error}`);
  else console.log(`  ${who} ${when} ${threads}T: ${lines.map(show).filter(Boolean).join(', ')}`);
  return run;
}

let sameCBin: string | null | undefined;

/**
 * Runs benchmark/same-in-c.c (built once per run, as run-probe.sh builds the probe) and files its
 * lines with the probe's, under the kernel names nadam, lion and lamb.
 */
function runSameC(params: number, threads: number, when: string): void {
  if (!opts.probe || sameCBin === null) return;
  if (sameCBin === undefined) {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'ferroptim-bench-')), 'same-in-c');
    const cc = spawnSync('gcc', ['-O3', '-march=native', '-fno-math-errno', '-fopenmp', SAME_C, '-o', out, '-lm'], { encoding: 'utf8' });
    if (cc.status !== 0) {
      sameCBin = null;
      console.log(`  (could not build ${path.relative(ROOT, SAME_C)}: ${(cc.error?.message ?? cc.stderr).toString().trim().slice(0, 300)}; continuing without it)`);
      return;
    }
    sameCBin = out;
  }
  const r = spawnSync(sameCBin, [String(params)], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, OMP_NUM_THREADS: String(threads), OMP_PROC_BIND: 'close' } });
  fileRun('same-in-C', r, params, threads, when, (l) => `${l.kernel} ${l.ms.toFixed(3)} ms`);
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
  const phases: Array<Record<string, unknown> & { phase: string; seconds: number; otherCores?: number; stealCores?: number }> = [];
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
  console.log(
    `mode: ${Q ? 'quick' : 'full'}; original cases: ${opts.only.join(', ') || 'none'}; all-optimizers rows: ${opts.zoo.join(', ') || 'none'}; ` +
      `monitoring: ${opts.monitor ? 'yes' : 'no'}; thread counts: ${THREADS.join(', ')}${gc ? '' : '; no --expose-gc (memory is freed lazily)'}`,
  );

  // 1. Verification
  const naiveKinds = KINDS.filter((k) => opts.only.includes(k) || opts.zoo.includes(k) || (k === 'adamw' && (opts.monitor || opts.zoo.includes('lookahead'))));
  console.log(`\n# verification: native vs naive TS, 5 steps, ${VERIFY_LENS.length} tensors (${VERIFY_TOTAL} params), fresh grads each step`);
  const verification: Array<Verdict & { threadInvariant: boolean }> = [];
  let failed = false;
  for (const kind of naiveKinds) {
    const { verdicts, threadInvariant } = verify(kind);
    for (const v of verdicts) {
      verification.push({ ...v, threadInvariant });
      console.log(
        `  ${LABEL[kind]!.padEnd(13)} ${v.threads}T: max |Δ| ${v.maxAbsDiff.toExponential(2)}, worst/tol ${v.worst} (tol 1e-6 + 1e-5·|p|), moved ${v.moved} -> ${v.ok ? 'ok' : 'MISMATCH'}`,
      );
      if (!v.ok) failed = true;
    }
    if (THREADS.length > 1) console.log(`  ${LABEL[kind]!.padEnd(13)} results bit-identical across thread counts: ${threadInvariant ? 'yes' : 'NO'}`);
  }
  const zooNew = opts.zoo.filter((k): k is Exclude<ZooKind, Kind> => !KINDS.includes(k as Kind));
  const zooVerification: Array<ZooVerdict & { threadInvariant: boolean }> = [];
  if (zooNew.length) {
    await loadOracles();
    console.log(
      `\n# verification: ${oracles ? 'native vs the TS reference oracles (__test__/oracles/*.ts), bit for bit' : `finite and moved only (reference oracles unavailable: ${oracleError})`}, ` +
        `12 steps, ${VERIFY_LENS.length} tensors (${VERIFY_TOTAL} params), fresh grads each step`,
    );
    for (const kind of zooNew) {
      const { verdicts, threadInvariant } = verifyZoo(kind);
      for (const v of verdicts) {
        zooVerification.push({ ...v, threadInvariant });
        const vs = v.check === 'reference' ? `max |Δ| ${v.maxAbsDiff!.toExponential(2)}, ${v.differing === 0 ? 'bit-identical' : `${v.differing} elements differ in their bits`}` : 'no oracle';
        console.log(`  ${LABEL[kind]!.padEnd(24)} ${v.threads}T: ${vs}, finite ${v.finite ? 'yes' : 'NO'}, moved ${v.moved} -> ${v.ok ? 'ok' : 'MISMATCH'}`);
        if (!v.ok) failed = true;
      }
      if (THREADS.length > 1) {
        console.log(`  ${LABEL[kind]!.padEnd(24)} results bit-identical across thread counts: ${threadInvariant ? 'yes' : 'NO'}`);
        if (!threadInvariant) failed = true;
      }
    }
  }
  if (failed) {
    console.error('\nbench: a native optimizer disagrees with its reference (or differs across thread counts); not timing anything.');
    process.exit(1);
  }

  // 2. 16M parameters: one tensor and 256 tensors, native at each thread count, naive single-threaded.
  function bigPhase(kind: Kind, probe: boolean): Record<string, unknown> {
    console.log(
      `\n# ${LABEL[kind]}: ${BIG} params (one tensor / ${MULTI} tensors), ${BIG_ROUNDS} interleaved rounds` +
        (probe ? ` in ${SEGMENTS} segments, C probe (1 and ${ALL} threads) before each segment and after the last` : ''),
    );
    const single = makeTensors(BIG, 1, 1);
    const multi = makeTensors(BIG, MULTI, 2);
    const contenders: Contender[] = [];
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
    return {};
  }

  // 3. 10K parameters: one tensor and 10 tensors of 1K, plus the fixed per-step cost (16 params).
  function smallPhase(kind: Kind): Record<string, unknown> {
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
    return { subnormalStateValues: subnormals };
  }

  /**
   * Runs one phase, then frees its memory (the phase's arrays and optimizers are unreachable once
   * it returns) and records how much CPU other processes took meanwhile.
   */
  async function runPhase(name: string, body: () => Record<string, unknown>): Promise<void> {
    const start = performance.now();
    const a = cpuSnap();
    const extra = body();
    await releaseMemory();
    const load = foreignLoad(a, cpuSnap());
    const rssMB = Math.round(process.memoryUsage().rss / 2 ** 20);
    phases.push({ phase: name, seconds: round((performance.now() - start) / 1e3, 1), rssMBAfter: rssMB, ...extra, ...(load ?? {}) });
    if (load) console.log(`  (other processes used ${load.otherCores} cores on average during this phase; steal ${load.stealCores}; RSS after freeing ${rssMB} MB)`);
  }

  // The C probe runs between the segments of the native AdamW and SGD measurements (each run
  // reports both kernels; a kind's ratio uses the runs around its own segments).
  const probeKinds: Kind[] = opts.probe ? opts.only.filter((k) => k !== 'adam') : [];
  const segMins = new Map<string, number[]>();
  function probeAt(kind: string, boundary: number): void {
    for (const t of [...THREADS].reverse()) {
      runProbe(BIG, t, `${kind}:${boundary}`);
      if (kind === 'zoo' && opts.zoo.some((k) => SAME_C_KINDS.includes(k))) runSameC(BIG, t, `${kind}:${boundary}`);
    }
  }
  for (const kind of opts.only) await runPhase(`${kind}-16M`, () => bigPhase(kind, probeKinds.includes(kind)));
  if (probeKinds.length) runProbe(SMALL, 1, 'small');
  for (const kind of opts.only) await runPhase(`${kind}-10K`, () => smallPhase(kind));

  // Part 2: every optimizer on one 16M tensor, interleaved, with the C probe at segment boundaries.
  const zooRows: Row[] = [];
  function zooPhase(kinds: ZooKind[]): Record<string, unknown> {
    console.log(
      `\n# all optimizers: ${BIG} params (one tensor, shared), ${ZOO_ROUNDS} interleaved rounds of ${ZOO_STEPS} step(s) each ` +
        `(Lookahead: one window of k = ${LA_K} steps, which holds exactly one sync)` +
        (opts.probe ? `, in ${ZOO_SEGMENTS} segment(s) with the C probe (${[...THREADS].reverse().join(' and ')} threads) before each${Q ? '' : ' and after the last'}` : ''),
    );
    // All optimizers step the same θ and g: the timing does not depend on the values (none
    // becomes subnormal or non-finite, checked below), and memory stays at θ, g and the states.
    const params = makeTensors(BIG, 1, 11);
    const contenders: Contender[] = [];
    const opts2 = new Map<ZooKind, Stepper>();
    for (const kind of kinds) {
      const opt = makeZoo(kind, params);
      opts2.set(kind, opt);
      for (const t of THREADS) {
        contenders.push({ id: `zoo/${kind}/${t}`, kind, caseName: '16M', impl: 'ferroptim', threads: t, params: BIG, tensors: 1, opt, batch: kind === 'lookahead' ? LA_K : 1, samples: [], segs: [] });
      }
    }
    // Allocate every state and get past RAdam's un-rectified first 5 steps and Lookahead's first sync.
    useThreads(ALL);
    for (const opt of opts2.values()) for (let i = 0; i < 7; i++) opt.step();
    warm(contenders, 1);
    const perRound = (c: Contender) => (c.kind === 'lookahead' ? 1 : ZOO_STEPS);
    for (let seg = 0; seg < ZOO_SEGMENTS; seg++) {
      if (opts.probe) probeAt('zoo', seg);
      const from = Math.floor((ZOO_ROUNDS * seg) / ZOO_SEGMENTS);
      const to = Math.floor((ZOO_ROUNDS * (seg + 1)) / ZOO_SEGMENTS);
      interleave(contenders, to - from, perRound, seg);
    }
    if (opts.probe && !Q) probeAt('zoo', ZOO_SEGMENTS);
    for (const c of contenders) {
      const r = toRow(c);
      zooRows.push(r);
      printRow(r);
    }
    let nonFinite = 0;
    let subnormal = 0;
    for (const x of params[0]!.data) {
      if (!Number.isFinite(x)) nonFinite++;
      else if (x !== 0 && Math.abs(x) < 1.1754943508222875e-38) subnormal++;
    }
    console.log(`  θ after ${contenders.reduce((n, c) => n + c.samples.length * c.batch, 0)} timed steps: ${nonFinite} non-finite, ${subnormal} subnormal values`);
    if (nonFinite > 0) console.log('  <- non-finite parameters: the timings above may not be representative');
    return { nonFiniteParams: nonFinite, subnormalParams: subnormal };
  }
  if (opts.zoo.length) await runPhase('all-optimizers-16M', () => zooPhase(opts.zoo));

  // Part 3: AdamW 16M with and without a GradNormMonitor / skipNonFinite, and clipGradNorm.
  const monRows: Row[] = [];
  const monChecks: Record<string, unknown> = {};
  function monitorPhase(): Record<string, unknown> {
    console.log(
      `\n# monitoring and clipping: AdamW ${BIG} params, plain / + GradNormMonitor / + skipNonFinite, and clipGradNorm(maxNorm 1e30); ` +
        `${MON_ROUNDS} interleaved rounds of ${MON_STEPS} step(s)` +
        (opts.probe ? `, C probe (sum_squares) before each of ${MON_SEGMENTS} segment(s)${Q ? '' : ' and after the last'}` : ''),
    );
    const params = makeTensors(BIG, 1, 21);
    const adamw = (extra: object = {}) => new lib.AdamW(params, { lr: HYPER.adamw.lr, weightDecay: HYPER.adamw.weightDecay, betas: [BETA1, BETA2], eps: EPS, ...extra });
    const plain = adamw();
    const watched = adamw();
    const monitor = new lib.GradNormMonitor(watched);
    const guarded = adamw({ skipNonFinite: true });
    let clipNorm = NaN;
    const clip: Stepper = { step: () => (clipNorm = lib.clipGradNorm(params, 1e30)) };
    const contenders: Contender[] = [];
    const pairs: Array<[string, Stepper]> = [
      ['adamw', plain],
      ['adamw+monitor', watched],
      ['adamw+skip', guarded],
      ['clip', clip],
    ];
    for (const [kind, opt] of pairs) {
      for (const t of THREADS) contenders.push({ id: `mon/${kind}/${t}`, kind, caseName: '16M', impl: 'ferroptim', threads: t, params: BIG, tensors: 1, opt, batch: 1, samples: [], segs: [] });
    }
    warm(contenders, 2);
    for (let seg = 0; seg < MON_SEGMENTS; seg++) {
      if (opts.probe) probeAt('monitor', seg);
      const from = Math.floor((MON_ROUNDS * seg) / MON_SEGMENTS);
      const to = Math.floor((MON_ROUNDS * (seg + 1)) / MON_SEGMENTS);
      interleave(contenders, to - from, () => MON_STEPS, seg);
    }
    if (opts.probe && !Q) probeAt('monitor', MON_SEGMENTS);
    for (const c of contenders) {
      const r = toRow(c);
      monRows.push(r);
      printRow(r);
    }
    // The work was done: the monitor saw every step with the right norm; nothing was skipped.
    const total = lib.getTotalNorm(params);
    const last = monitor.last();
    Object.assign(monChecks, {
      monitorSteps: monitor.steps,
      monitorNorm: last?.norm ?? null,
      totalNorm: total,
      clipNorm,
      guardedSkipped: (guarded as unknown as { skippedSteps: number }).skippedSteps,
    });
    const agree = (x: number | undefined) => x !== undefined && Math.abs(x - total) <= 1e-9 * total;
    console.log(
      `  checks: monitor recorded ${monitor.steps} steps, last norm ${last?.norm.toFixed(6)} vs getTotalNorm ${total.toFixed(6)} (${agree(last?.norm) ? 'equal' : 'DIFFERENT'}); ` +
        `clipGradNorm returned ${clipNorm.toFixed(6)} (${agree(clipNorm) ? 'equal' : 'DIFFERENT'}); skipNonFinite skipped ${monChecks.guardedSkipped} steps`,
    );
    monitor.detach();
    return { checks: { ...monChecks } };
  }
  if (opts.monitor) await runPhase('monitor-16M', () => monitorPhase());

  // 4. Ratios
  interface Ratio {
    name: string;
    value: number | null;
    paired?: number[];
    target?: string;
    pass?: boolean;
    detail: string;
    /** The phase it was measured in, and how many cores other processes used meanwhile. */
    phase: string;
    otherCores?: number;
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
        phase: `${kind}-16M`,
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
      if (naive && r) ratios.push({ name: `${LABEL[kind]} 16M ${t}T: ferroptim / naive TS speed`, phase: `${kind}-16M`, value: naive.medianMs / r.medianMs, detail: `${naive.medianMs.toFixed(1)} ms vs ${r.medianMs.toFixed(2)} ms (medians)` });
    }
    const naiveS = find(kind, '10K', 'naive-ts', 1);
    const rs = find(kind, '10K', 'ferroptim', ALL);
    if (naiveS && rs) ratios.push({ name: `${LABEL[kind]} 10K ${ALL}T: ferroptim / naive TS speed`, phase: `${kind}-10K`, value: naiveS.medianMs / rs.medianMs, detail: `${(naiveS.medianMs * 1e3).toFixed(2)} µs vs ${(rs.medianMs * 1e3).toFixed(2)} µs (medians)` });
  }
  for (const kind of opts.only) {
    for (const t of THREADS) {
      const one = find(kind, '16M', 'ferroptim', t);
      const many = find(kind, `${MULTI}x64K`, 'ferroptim', t);
      if (one && many) {
        const value = many.medianMs / one.medianMs;
        ratios.push({ name: `${LABEL[kind]} ${t}T: ${MULTI}-tensor / 1-tensor time`, phase: `${kind}-16M`, value, target: '<= 1.15', pass: value <= 1.15, detail: `${many.medianMs.toFixed(2)} ms vs ${one.medianMs.toFixed(2)} ms (medians)` });
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
        phase: `${kind}-10K`,
        value: us,
        target: '<= 10 µs',
        pass: us <= 10,
        detail: `min ${(r.minMs * 1e3).toFixed(2)} µs${fixed ? `; fixed cost of a step (16 params) ${(fixed.medianMs * 1e3).toFixed(2)} µs` : ''}${cl && kind !== 'adam' ? `; C kernel alone ${(cl.ms * 1e3).toFixed(1)} µs (probe, 3 decimals of ms)` : ''}`,
      });
    }
  }

  const NOISY = 0.3;
  for (const r of ratios) r.otherCores = phases.find((p) => p.phase === r.phase)?.otherCores;
  const noisy = (r: Ratio) => (r.otherCores ?? 0) > NOISY;
  if (ratios.length) console.log('\n# ratios');
  if (ratios.some(noisy)) console.log(`  (* = measured while other processes used > ${NOISY} cores on average: re-run on a quiet machine before trusting it)`);
  for (const r of ratios) {
    const v = r.value === null ? 'n/a' : r.name.includes('µs') ? `${r.value.toFixed(2)} µs` : r.name.includes('speed') ? `${r.value.toFixed(1)}x` : r.value.toFixed(3);
    const verdict = r.pass === undefined ? '' : r.pass ? `  [ok, target ${r.target}]` : `  [MISS, target ${r.target}]`;
    console.log(`${noisy(r) ? '* ' : '  '}${r.name.padEnd(52)} ${v.padStart(9)}${verdict}   ${r.detail}`);
  }

  // Part 2: each optimizer's best GB/s over the C probe's best AdamW GB/s in the same phase.
  const zooWhens = probeRuns.filter((r) => r.when.startsWith('zoo:')).map((r) => r.when);
  const zooNoisy = (phases.find((p) => p.phase === 'all-optimizers-16M')?.otherCores ?? 0) > NOISY;
  interface ZooRatio {
    kind: ZooKind;
    threads: number;
    bytesPerParam: number;
    gbPerSBest: number;
    cAdamwMs: number | null;
    cAdamwGbPerS: number | null;
    value: number | null;
    /** The same against the median step (a lower bound under noise). */
    valueMedian: number | null;
    /** LAMB: the ratio with its GB/s counted at the bytes it actually moves (40) instead of 28. */
    valueMoved: number | null;
    /** NAdam, Lion, LAMB: the same update in plain C, best time / ferroptim best time (> 1: faster). */
    vsSameC: number | null;
    sameCMs: number | null;
    target: number;
    pass?: boolean;
  }
  const zooRatios: ZooRatio[] = [];
  for (const kind of opts.zoo) {
    for (const t of THREADS) {
      const r = zooRows.find((x) => x.kind === kind && x.threads === t);
      if (!r) continue;
      const c = probeBest('adamw', BIG, t, zooWhens);
      const cGb = c ? (BIG * 28) / (c.ms / 1e3) / 1e9 : null;
      const value = cGb ? r.gbPerSBest / cGb : null;
      const same = SAME_C_KINDS.includes(kind) ? probeBest(kind, BIG, t, zooWhens) : null;
      zooRatios.push({
        kind,
        threads: t,
        bytesPerParam: round(BYTES[kind]!, 2),
        gbPerSBest: round(r.gbPerSBest, 2),
        cAdamwMs: c?.ms ?? null,
        cAdamwGbPerS: cGb === null ? null : round(cGb, 2),
        value: value === null ? null : round(value, 3),
        valueMedian: cGb ? round(r.gbPerS / cGb, 3) : null,
        valueMoved: value !== null && MOVED[kind] ? round((value * MOVED[kind]!) / BYTES[kind]!, 3) : null,
        vsSameC: same ? round(same.ms / r.minMs, 3) : null,
        sameCMs: same?.ms ?? null,
        target: zooTarget(kind),
        pass: value === null ? undefined : value >= zooTarget(kind),
      });
    }
  }
  if (zooRatios.length) {
    console.log(`\n# all optimizers at 16M: best GB/s / C AdamW best GB/s (same phase)${zooNoisy ? ` (* other processes used > ${NOISY} cores meanwhile)` : ''}`);
    for (const z of zooRatios) {
      const v = z.value === null ? 'n/a' : z.value.toFixed(3);
      const moved = MOVED[z.kind] ? `; ${((z.gbPerSBest * MOVED[z.kind]!) / z.bytesPerParam).toFixed(1)} GB/s actually moved at ${MOVED[z.kind]} B/param (${((z.valueMoved ?? 0) * 100).toFixed(0)}% of C AdamW's)` : '';
      console.log(
        `${zooNoisy ? '* ' : '  '}${`${LABEL[z.kind]} ${z.threads}T`.padEnd(30)} ${v.padStart(6)}${z.pass === undefined ? '' : z.pass ? `  [ok, target >= ${z.target}]` : `  [MISS, target >= ${z.target}]`}   ` +
          `${z.gbPerSBest.toFixed(1)} GB/s at ${z.bytesPerParam} B/param vs C AdamW ${z.cAdamwGbPerS?.toFixed(1) ?? 'n/a'} GB/s; median-based ${z.valueMedian?.toFixed(3) ?? 'n/a'}${moved}` +
          (z.vsSameC === null ? '' : `; ${z.vsSameC.toFixed(2)}x the same update in C (${z.sameCMs!.toFixed(2)} ms)`),
      );
    }
  }

  // Part 3: overheads, as the median over rounds of (best with / best without) within the round
  // (the contenders of a round ran back to back), and as the ratio of medians.
  const monWhens = probeRuns.filter((r) => r.when.startsWith('monitor:')).map((r) => r.when);
  const monNoisy = (phases.find((p) => p.phase === 'monitor-16M')?.otherCores ?? 0) > NOISY;
  const perRoundRatio = (a: Row, b: Row, per: number): number => {
    const mins = (r: Row) => Array.from({ length: Math.floor(r.samplesMs.length / per) }, (_, k) => Math.min(...r.samplesMs.slice(k * per, (k + 1) * per)));
    const am = mins(a);
    const bm = mins(b);
    return median(am.map((x, k) => x / bm[k]!));
  };
  interface Overhead {
    what: string;
    threads: number;
    pairedPct: number;
    medianPct: number;
    target?: string;
    pass?: boolean;
  }
  const overheads: Overhead[] = [];
  const clipVsC: Array<{ threads: number; clipMinMs: number; cMs: number | null; ratio: number | null; pctOfAdamW: number }> = [];
  if (monRows.length) {
    for (const t of THREADS) {
      const base = monRows.find((r) => r.kind === 'adamw' && r.threads === t)!;
      for (const kind of ['adamw+monitor', 'adamw+skip']) {
        const r = monRows.find((x) => x.kind === kind && x.threads === t)!;
        const pairedPct = round((perRoundRatio(r, base, MON_STEPS) - 1) * 100, 2);
        const medianPct = round((r.medianMs / base.medianMs - 1) * 100, 2);
        const o: Overhead = { what: kind, threads: t, pairedPct, medianPct };
        if (kind === 'adamw+monitor') {
          o.target = '< 10%';
          o.pass = pairedPct < 10;
        }
        overheads.push(o);
      }
      const clip = monRows.find((x) => x.kind === 'clip' && x.threads === t)!;
      const c = probeBest('sum_squares', BIG, t, monWhens);
      clipVsC.push({ threads: t, clipMinMs: clip.minMs, cMs: c?.ms ?? null, ratio: c ? round(c.ms / clip.minMs, 3) : null, pctOfAdamW: round((clip.medianMs / base.medianMs) * 100, 1) });
    }
    console.log(`\n# monitoring / clipping overhead beside AdamW 16M${monNoisy ? ` (* other processes used > ${NOISY} cores meanwhile)` : ''}`);
    for (const o of overheads) {
      console.log(
        `${monNoisy ? '* ' : '  '}${`${LABEL[o.what]} ${o.threads}T`.padEnd(34)} ${`${o.pairedPct >= 0 ? '+' : ''}${o.pairedPct.toFixed(1)}%`.padStart(7)}` +
          `${o.pass === undefined ? '' : o.pass ? `  [ok, target ${o.target}]` : `  [MISS, target ${o.target}]`}   (paired per round; ratio of medians ${o.medianPct >= 0 ? '+' : ''}${o.medianPct.toFixed(1)}%)`,
      );
    }
    for (const c of clipVsC) {
      console.log(
        `${monNoisy ? '* ' : '  '}${`clipGradNorm ${c.threads}T`.padEnd(34)} best ${c.clipMinMs.toFixed(2)} ms = ${c.pctOfAdamW}% of an AdamW step (medians); ` +
          `C sum_squares best ${c.cMs?.toFixed(2) ?? 'n/a'} ms -> C / ferroptim ${c.ratio?.toFixed(3) ?? 'n/a'}`,
      );
    }
  }

  // 5. Markdown: three blocks, each with the machine line and the command.
  const machineLine = `Machine: ${machine.cpu}, ${machine.cores} cores, SIMD ${machine.simd}, Node ${machine.node}, ${machine.date.slice(0, 10)}${Q ? ' (quick run)' : ''}.`;
  const argv = process.argv.slice(2);
  const command = `Command: \`npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\`.`;
  const md: string[] = [];
  const head = () => md.push(machineLine, command, '');
  if (rows.length) {
    head();
    md.push('| Optimizer | Case | Implementation | Threads | Median / step | Min / step | G params/s | GB/s |');
    md.push('|---|---|---|---:|---:|---:|---:|---:|');
    const mdRow = (r: Row) =>
      `| ${r.optimizer} | ${r.case} | ${r.impl} | ${r.impl === 'naive-ts' ? 1 : r.threads} | ${fmtTime(r.medianMs, r.params)} | ${fmtTime(r.minMs, r.params)} | ${r.gparamsPerS.toFixed(3)} | ${r.gbPerS.toFixed(1)} |`;
    md.push(...rows.filter((r) => r.params >= BIG).map(mdRow));
    const cRows: string[] = [];
    for (const kernel of ['adamw', 'sgd_momentum']) {
      for (const t of [...THREADS].reverse()) {
        const best = probeBest(kernel, BIG, t, probeRuns.filter((r) => !r.when.startsWith('zoo:') && !r.when.startsWith('monitor:')).map((r) => r.when));
        if (best) {
          const gps = BIG / (best.ms / 1e3) / 1e9;
          cRows.push(`| ${kernel === 'adamw' ? 'AdamW' : 'SGD-momentum'} | 16M | C/OpenMP probe (best of runs) | ${t} | — | ${best.ms.toFixed(2)} ms | ${gps.toFixed(3)} | ${(gps * (kernel === 'adamw' ? 28 : 20)).toFixed(1)} |`);
        }
      }
    }
    md.push(...cRows);
    md.push(...rows.filter((r) => r.params < BIG).map(mdRow));
    md.push('');
    md.push(
      'G params/s and GB/s at the median step (28 B/param for Adam/AdamW, 20 for SGD-momentum). C rows: the best run of ' +
        '`../shared/perf/run-probe.sh` (each run is a best of 10). Adam and AdamW: lr 1e-3, weight decay 1e-2; ' +
        'SGD: lr 0.01, momentum 0.9, weight decay 1e-4. Naive TS: a plain per-element loop, one thread.',
    );
    md.push('');
    md.push('| Ratio | Value | Target |');
    md.push('|---|---:|---|');
    for (const r of ratios) {
      const v = r.value === null ? 'n/a' : r.name.includes('µs') ? `${r.value.toFixed(2)} µs` : r.name.includes('speed') ? `${r.value.toFixed(1)}×` : r.value.toFixed(2);
      md.push(`| ${r.name}${noisy(r) ? ' *' : ''} | ${v} | ${r.target ? `${r.target}${r.pass === undefined ? '' : r.pass ? ' ✓' : ' ✗'}` : ''} |`);
    }
    md.push('');
    md.push(
      'Ferroptim / C compares best steps (the C figure is itself a best of 10), with the probe run between segments of the ' +
        'native measurement.' +
        (ratios.some(noisy) ? ` * measured while other processes used more than ${NOISY} cores on average.` : ''),
    );
  }

  if (zooRows.length) {
    if (md.length) md.push('');
    md.push('**All optimizers at 16M parameters**', '');
    head();
    md.push('| Optimizer | B/param | Threads | Median / step | Min / step | G params/s | GB/s | GB/s (best) | Best / C AdamW | Target |');
    md.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const kind of opts.zoo) {
      for (const t of THREADS) {
        const r = zooRows.find((x) => x.kind === kind && x.threads === t);
        const z = zooRatios.find((x) => x.kind === kind && x.threads === t);
        if (!r || !z) continue;
        const b = kind === 'lamb' ? '28†' : kind === 'lookahead' ? `${round(BYTES[kind]!, 1)}‡` : String(BYTES[kind]);
        md.push(
          `| ${r.optimizer} | ${b} | ${t} | ${fmtTime(r.medianMs, r.params)} | ${fmtTime(r.minMs, r.params)} | ${r.gparamsPerS.toFixed(3)} | ${r.gbPerS.toFixed(1)} | ${r.gbPerSBest.toFixed(1)} | ` +
            `${z.value === null ? 'n/a' : `${(z.value * 100).toFixed(0)}%`}${zooNoisy ? ' *' : ''} | ≥ ${(z.target * 100).toFixed(0)}%${z.pass === undefined ? '' : z.pass ? ' ✓' : ' ✗'}` +
            `${z.valueMoved === null ? '' : ` (at ${MOVED[kind]} B moved: ${(z.valueMoved * 100).toFixed(0)}%)`} |`,
        );
      }
    }
    for (const t of [...THREADS].reverse()) {
      const c = probeBest('adamw', BIG, t, zooWhens);
      if (c) md.push(`| C/OpenMP AdamW probe (best of ${c.runs} runs) | 28 | ${t} | — | ${c.ms.toFixed(2)} ms | ${(BIG / (c.ms / 1e3) / 1e9).toFixed(3)} | — | ${((BIG * 28) / (c.ms / 1e3) / 1e9).toFixed(1)} | 100% | |`);
    }
    const sameRows = zooRatios.filter((z) => z.sameCMs !== null);
    for (const z of sameRows) {
      const ms = z.sameCMs!;
      md.push(
        `| ${LABEL[z.kind]} in plain C (same-in-c.c) | ${z.kind === 'lamb' ? '28†' : BYTES[z.kind]} | ${z.threads} | — | ${ms.toFixed(2)} ms | ${(BIG / (ms / 1e3) / 1e9).toFixed(3)} | — | ` +
          `${((BIG * BYTES[z.kind]!) / (ms / 1e3) / 1e9).toFixed(1)} | ${z.cAdamwGbPerS ? `${(((BIG * BYTES[z.kind]!) / (ms / 1e3) / 1e9 / z.cAdamwGbPerS) * 100).toFixed(0)}%` : 'n/a'} | ferroptim ${z.vsSameC!.toFixed(2)}× its speed |`,
      );
    }
    md.push('');
    md.push(
      'One 16M-parameter tensor shared by all optimizers, every optimizer interleaved round by round with the others and the C ' +
        'probe run between segments. G params/s and GB/s at the median step; "Best / C AdamW" is the best step\'s GB/s over the ' +
        'best C AdamW GB/s of the same phase (the C figure is itself a best of 10). B/param counts the f32 streams each fused kernel ' +
        'reads and writes per element: ' +
        opts.zoo.filter((k) => k !== 'adam').map((k) => `${LABEL[k]} ${round(BYTES[k]!, 1)} (${STREAMS[k]})`).join('; ') +
        '. † LAMB is quoted at 28 B/param, AdamW-equivalent (so its column compares params/s with AdamW\'s, the stricter reading of ' +
        'its target); its two passes move 40, and the figure in brackets counts those. ' +
        `‡ Lookahead: per step, amortised over its window of k = ${LA_K} steps, which holds one sync. ` +
        'Options: SGD lr 0.01, momentum 0.9, weight decay 1e-4; Adam/AdamW lr 1e-3, weight decay 1e-2; the others their defaults ' +
        `(RMSprop lr 1e-2, α 0.99, no momentum, not centered; Adagrad lr 1e-2; RAdam lr 1e-3; NAdam and Adamax lr 2e-3; Adadelta lr 1, ρ 0.9; ` +
        `AdaBound lr 1e-3, final lr 0.1; LAMB lr 1e-3, no weight decay; Lion lr 1e-4, β (0.9, 0.99); Lookahead k ${LA_K}, α ${LA_ALPHA} over the AdamW above). ` +
        'Targets: elementwise optimizers ≥ 85% of the C AdamW GB/s, LAMB ≥ 60%.' +
        (sameRows.length
          ? ' "In plain C" rows: the same update as a straightforward C/OpenMP loop (benchmark/same-in-c.c, built like the probe and run ' +
            'beside it, best of 10 per run), so the distance to AdamW\'s bandwidth can be told apart from the distance to plain C; ' +
            'the last column is ferroptim\'s best step over that loop\'s.'
          : '') +
        (zooNoisy ? ` * measured while other processes used more than ${NOISY} cores on average.` : ''),
    );
  }

  if (monRows.length) {
    if (md.length) md.push('');
    md.push('**Monitoring and clipping overhead (AdamW, 16M parameters)**', '');
    head();
    md.push('| Measurement | Threads | Median / step | Min / step | GB/s | Overhead vs AdamW alone | Target |');
    md.push('|---|---:|---:|---:|---:|---:|---|');
    for (const t of THREADS) {
      for (const kind of ['adamw', 'adamw+monitor', 'adamw+skip', 'clip']) {
        const r = monRows.find((x) => x.kind === kind && x.threads === t)!;
        const o = overheads.find((x) => x.what === kind && x.threads === t);
        const cc = clipVsC.find((x) => x.threads === t)!;
        const name = kind === 'adamw' ? 'AdamW alone' : kind === 'clip' ? 'clipGradNorm, maxNorm 1e30 (one read pass)' : LABEL[kind];
        const over =
          kind === 'adamw'
            ? '—'
            : kind === 'clip'
              ? `${cc.pctOfAdamW}% of a step; ${cc.ratio === null ? 'no C figure' : `${(cc.ratio * 100).toFixed(0)}% of C sum_squares speed`}`
              : `${o!.pairedPct >= 0 ? '+' : ''}${o!.pairedPct.toFixed(1)}% (medians ${o!.medianPct >= 0 ? '+' : ''}${o!.medianPct.toFixed(1)}%)`;
        const target = o?.target ? `${o.target}${o.pass ? ' ✓' : ' ✗'}` : kind === 'adamw+skip' ? '— (one more read pass over g: about a clipGradNorm)' : '';
        md.push(`| ${name} | ${t} | ${fmtTime(r.medianMs, r.params)} | ${fmtTime(r.minMs, r.params)} | ${r.gbPerS.toFixed(1)} | ${over}${monNoisy && kind !== 'adamw' ? ' *' : ''} | ${target} |`);
      }
      const c = probeBest('sum_squares', BIG, t, monWhens);
      if (c) md.push(`| C/OpenMP sum_squares probe (best of ${c.runs} runs) | ${t} | — | ${c.ms.toFixed(2)} ms | ${((BIG * 4) / (c.ms / 1e3) / 1e9).toFixed(1)} | | |`);
    }
    md.push('');
    md.push(
      'Three AdamW optimizers over the same 16M parameters, plain, with a `GradNormMonitor` attached (the fused step gathers each ' +
        'tensor\'s Σg² in the update\'s own element loop) and with `skipNonFinite: true` (a read pass over the gradients before the update), ' +
        'and `clipGradNorm(params, 1e30)` (the norm\'s read pass; nothing to scale), interleaved round by round. Overhead: the median over ' +
        'rounds of the best step with the option over the best plain step of the same round; in brackets the ratio of medians. GB/s at ' +
        '28 B/param for the AdamW rows (what the update itself needs) and 4 for clipGradNorm; the C row is `../shared/perf/run-probe.sh`\'s ' +
        'sum_squares over the same size, run between segments.' +
        (monNoisy ? ` * measured while other processes used more than ${NOISY} cores on average.` : ''),
    );
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
        options: {
          quick: Q,
          only: opts.only,
          allOptimizers: opts.zoo,
          monitor: opts.monitor,
          probe: opts.probe,
          threads: THREADS,
          bigRounds: BIG_ROUNDS,
          bigStepsPerRound: BIG_STEPS,
          smallRounds: SMALL_ROUNDS,
          zooRounds: ZOO_ROUNDS,
          zooStepsPerRound: ZOO_STEPS,
          monitorRounds: MON_ROUNDS,
          monitorStepsPerRound: MON_STEPS,
          hyper: HYPER,
          betas: [BETA1, BETA2],
          eps: EPS,
          allOptimizerOptions: ZOO_OPTS,
          bytesPerParam: BYTES,
        },
        verification,
        allOptimizersVerification: zooVerification,
        results: rows,
        allOptimizers: { results: zooRows, ratios: zooRatios },
        monitoring: monRows.length ? { results: monRows, overheads, clipGradNorm: clipVsC, checks: monChecks } : null,
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
