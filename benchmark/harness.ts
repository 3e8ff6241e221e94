/**
 * The benchmark harness: flags, the machine line, CPU-load accounting, timing (warm-up, interleaved
 * rounds, medians and minima), the C yardstick (../shared/perf/run-probe.sh and
 * benchmark/same-in-c.c; optional), the ratio and Markdown reports and benchmark/results/latest.json.
 * The suites in benchmark/suites/ say what to measure; `Harness.run` runs them in order:
 *
 *   suite.run(h)       its phases (printed as they go; `h.phase` records time, load and memory)
 *   suite.ratios(h)    generic ratios, printed together under "# ratios" and in the first Markdown block
 *   suite.summary(h)   its own summary section
 *   suite.markdown(h)  its Markdown block(s), via `h.md`
 *   suite.json()       its part of latest.json (arrays concatenate, objects merge)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Parameter } from '../ts/index.js';

/** The library under test: the TypeScript sources by default (as the tests), or dist/ with --dist. */
export type Lib = typeof import('../ts/index.js');

/** The repository root (the harness lives in <root>/benchmark/). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROBE = path.resolve(ROOT, '../shared/perf/run-probe.sh');
/** The same updates in plain C (NAdam, Lion, LAMB), built with gcc like the probe. */
const SAME_C = path.resolve(ROOT, 'benchmark/same-in-c.c');
export const ALL = Math.max(1, os.availableParallelism());
export const THREADS = ALL > 1 ? [1, ALL] : [1];
/** Other processes using more cores than this on average mark a measurement as noisy (*). */
export const NOISY = 0.3;
const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

// ---------------------------------------------------------------------------------------------
// Flags

export interface Flags {
  quick: boolean;
  probe: boolean;
  dist: boolean;
  help: boolean;
  /** The names given to --only (lower case), or null for everything. */
  only: string[] | null;
  argv: string[];
}

export function parseFlags(argv: string[]): Flags {
  const f: Flags = { quick: false, probe: true, dist: false, help: false, only: null, argv };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') f.quick = true;
    else if (a === '--no-probe') f.probe = false;
    else if (a === '--dist') f.dist = true;
    else if (a === '--help' || a === '-h') f.help = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) usage('--only needs a list, e.g. --only adamw,lamb,monitor');
      f.only = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    } else usage(`unknown argument ${a}`);
  }
  return f;
}

/** Prints the usage (with the names --only takes, when known) and exits: 2 after an error, else 0. */
export function usage(msg?: string, names?: string): never {
  if (msg) console.error(`bench: ${msg}`);
  console.error(`usage: npm run bench -- [--quick] [--only NAMES] [--no-probe] [--dist]${names ? `\n  NAMES: ${names}` : ''}`);
  process.exit(msg ? 2 : 0);
}

// ---------------------------------------------------------------------------------------------
// Machine and load

export interface Machine {
  cpu: string;
  cores: number;
  availableParallelism: number;
  cpuFlags: string;
  simd: string;
  defaultThreads: number;
  node: string;
  date: string;
  commit: string;
  library: 'ts' | 'dist';
  loadavg: number[];
  memGB: number;
}

function cpuinfo(field: string): string | null {
  try {
    return new RegExp(`^${field}\\s*:\\s*(.*)$`, 'm').exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? null;
  } catch {
    return null; // not Linux
  }
}

function gitCommit(): string {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' });
  return r.stdout.trim() + (dirty.stdout.trim() ? '+dirty' : '');
}

function machineOf(lib: Lib, dist: boolean, started: Date): Machine {
  const flags = (cpuinfo('flags') ?? '').split(' ');
  return {
    cpu: cpuinfo('model name') ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    availableParallelism: ALL,
    cpuFlags: ['avx512f', 'avx2', 'fma'].filter((x) => flags.includes(x)).join(','),
    simd: lib.getSimdLevel(),
    defaultThreads: lib.getNumThreads(),
    node: process.version,
    date: started.toISOString(),
    commit: gitCommit(),
    library: dist ? 'dist' : 'ts',
    loadavg: os.loadavg().map((x) => round(x, 2)),
    memGB: round(os.totalmem() / 2 ** 30, 1),
  };
}

/** Machine-wide and own CPU time, to tell how much else ran on the machine during a phase. */
export interface CpuSnap {
  wall: number;
  busy: number;
  steal: number;
  own: number;
}
const HZ = 100; // USER_HZ on Linux

export function cpuSnap(): CpuSnap | null {
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
export function foreignLoad(a: CpuSnap | null, b: CpuSnap | null): { otherCores: number; stealCores: number } | null {
  if (!a || !b) return null;
  const secs = (b.wall - a.wall) / 1000;
  if (secs <= 0) return null;
  return {
    otherCores: round(Math.max(0, (b.busy - a.busy - (b.own - a.own)) / HZ / secs), 2),
    stealCores: round((b.steal - a.steal) / HZ / secs, 2),
  };
}

// ---------------------------------------------------------------------------------------------
// Data

/** Fills `a` with pseudo-random values in [lo, hi) (an LCG: fast and deterministic). */
export function fill(a: Float32Array, seed: number, lo: number, hi: number): Float32Array {
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
export function fillGrad(a: Float32Array, seed: number): Float32Array {
  let x = seed | 0 || 1;
  for (let i = 0; i < a.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) | 0;
    const u = (x >>> 8) / 16777216;
    a[i] = (x & 1 ? -1 : 1) * (0.02 + 0.01 * u);
  }
  return a;
}

/** `count` separately allocated tensors totalling `total` parameters, with random data and grads. */
export function makeTensors(lib: Lib, total: number, count: number, seed: number): Parameter[] {
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

/** Is `x` a float32 subnormal? */
export const isSubnormal = (x: number): boolean => x !== 0 && Math.abs(x) < 1.1754943508222875e-38;

// ---------------------------------------------------------------------------------------------
// Timing

export interface Stepper {
  step(): unknown;
}

/** One thing timed: an optimizer (or a pass) at one thread count. */
export interface Contender {
  id: string;
  /** An optimizer name or, in the monitoring suite, 'adamw+monitor', 'adamw+skip', 'clip'. */
  kind: string;
  /** Its name in the output. */
  label: string;
  /** Bytes per parameter of one step, for GB/s. */
  bytes: number;
  caseName: string;
  impl: 'ferroptim' | 'naive-ts';
  threads: number;
  params: number;
  tensors: number;
  opt: Stepper;
  /** Steps per sample (> 1 for the small cases and Lookahead's window, timed as a batch). */
  batch: number;
  samples: number[];
  /** The segment (between two yardstick runs) each sample was taken in. */
  segs: number[];
  /** Called, untimed, before each sample (the small cases restore the parameters). */
  reset?: () => void;
}

export function contender(c: Omit<Contender, 'batch' | 'samples' | 'segs'> & { batch?: number }): Contender {
  return { batch: 1, ...c, samples: [], segs: [] };
}

/** A contender's figures, as printed and stored in latest.json. */
export interface Row {
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
export function timeBatch(opt: Stepper, batch: number): number {
  const t0 = nowMs();
  for (let i = 0; i < batch; i++) opt.step();
  return (nowMs() - t0) / batch;
}

export function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** G params/s of a step of `ms` over `params`. */
export const gparams = (params: number, ms: number): number => params / (ms / 1e3) / 1e9;

export function toRow(c: Contender): Row {
  const med = median(c.samples);
  const min = Math.min(...c.samples);
  return {
    kind: c.kind,
    optimizer: c.label,
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
    gparamsPerS: gparams(c.params, med),
    gbPerS: gparams(c.params, med) * c.bytes,
    gparamsPerSBest: gparams(c.params, min),
    gbPerSBest: gparams(c.params, min) * c.bytes,
    samplesMs: c.samples.map((x) => round(x, 6)),
  };
}

/** The row of one optimizer, case, implementation and thread count, if it was measured. */
export function findRow(rows: readonly Row[], kind: string, caseName: string, impl: string, threads: number): Row | undefined {
  return rows.find((r) => r.kind === kind && r.case === caseName && r.impl === impl && r.threads === threads);
}

export function fmtTime(ms: number, params: number): string {
  return params < 1e6 ? `${(ms * 1e3).toFixed(2)} µs` : `${ms.toFixed(2)} ms`;
}

/** A number as the notes write it: 1e-3, 0.01, 0.9. */
export function num(x: number): string {
  return x !== 0 && Math.abs(x) < 0.01 ? x.toExponential() : String(x);
}

export function printRow(r: Row): void {
  const who = `${r.optimizer} ${r.case} ${r.impl}${r.impl === 'ferroptim' ? ` ${r.threads}T` : ''}`;
  console.log(
    `  ${who.padEnd(40)} median ${fmtTime(r.medianMs, r.params).padStart(10)}  min ${fmtTime(r.minMs, r.params).padStart(10)}  ` +
      `${r.gparamsPerS.toFixed(3)} Gparam/s  ${r.gbPerS.toFixed(1)} GB/s  (n=${r.samples}${r.stepsPerSample > 1 ? `×${r.stepsPerSample}` : ''}, max ${fmtTime(r.maxMs, r.params)})`,
  );
}

/** Rows of the standard results table (Markdown), as printed under "# Markdown". */
export function mdRow(r: Row): string {
  return `| ${r.optimizer} | ${r.case} | ${r.impl} | ${r.impl === 'naive-ts' ? 1 : r.threads} | ${fmtTime(r.medianMs, r.params)} | ${fmtTime(r.minMs, r.params)} | ${r.gparamsPerS.toFixed(3)} | ${r.gbPerS.toFixed(1)} |`;
}

// ---------------------------------------------------------------------------------------------
// The C yardstick

export interface ProbeLine {
  kernel: string;
  params: number;
  threads: number;
  ms: number;
  gparams_per_s: number;
  gb_per_s: number;
}
export interface ProbeRun {
  when: string;
  threads: number;
  params: number;
  lines: ProbeLine[];
  error?: string;
}

/**
 * ../shared/perf/run-probe.sh (a C/OpenMP AdamW, SGD-momentum and sum-of-squares, best of 10 per
 * run) and benchmark/same-in-c.c (NAdam, Lion and LAMB in plain C), run between the segments of a
 * native measurement. Optional: without gcc or ../shared/perf, or with --no-probe, every call is a
 * no-op and the ratios against C are left out.
 */
export class Yardstick {
  readonly runs: ProbeRun[] = [];
  /** Why the yardstick is not run (null: it is). */
  readonly skipped: string | null;
  /** Whether it is missing (as opposed to turned off by --no-probe). */
  readonly missing: boolean;
  #sameCBin: string | null | undefined;

  constructor(enabled: boolean) {
    let why: string | null = null;
    if (!enabled) why = 'turned off by --no-probe';
    else if (!existsSync(PROBE)) why = `${PROBE} not found`;
    else if (spawnSync('gcc', ['--version'], { encoding: 'utf8' }).status !== 0) why = 'gcc not found (the probe is built with it on each run)';
    this.skipped = why;
    this.missing = enabled && why !== null;
  }

  get available(): boolean {
    return this.skipped === null;
  }

  /** One run of the probe over `params` on `threads` threads, filed under `when`. */
  probe(params: number, threads: number, when: string): ProbeRun | null {
    if (!this.available) return null;
    const r = spawnSync('bash', [PROBE, String(params), String(threads)], { encoding: 'utf8', timeout: 180_000 });
    return this.#file('C probe', r, params, threads, when, (l) => (l.kernel === 'sum_squares' ? '' : `${l.kernel} ${l.ms.toFixed(3)} ms (${l.gparams_per_s.toFixed(3)} Gparam/s)`));
  }

  /** One run of benchmark/same-in-c.c (built once per process, as run-probe.sh builds the probe). */
  sameC(params: number, threads: number, when: string): void {
    if (!this.available || this.#sameCBin === null) return;
    if (this.#sameCBin === undefined) {
      const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'ferroptim-bench-')), 'same-in-c');
      const cc = spawnSync('gcc', ['-O3', '-march=native', '-fno-math-errno', '-fopenmp', SAME_C, '-o', out, '-lm'], { encoding: 'utf8' });
      if (cc.status !== 0) {
        this.#sameCBin = null;
        console.log(`  (could not build ${path.relative(ROOT, SAME_C)}: ${(cc.error?.message ?? cc.stderr).toString().trim().slice(0, 300)}; continuing without it)`);
        return;
      }
      this.#sameCBin = out;
    }
    const r = spawnSync(this.#sameCBin, [String(params)], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, OMP_NUM_THREADS: String(threads), OMP_PROC_BIND: 'close' } });
    this.#file('same-in-C', r, params, threads, when, (l) => `${l.kernel} ${l.ms.toFixed(3)} ms`);
  }

  /** The probe (and same-in-c.c when asked) at a segment boundary, at every thread count, most threads first. */
  at(params: number, when: string, sameC = false): void {
    for (const t of [...THREADS].reverse()) {
      this.probe(params, t, when);
      if (sameC) this.sameC(params, t, when);
    }
  }

  /** The best (fastest) C time for a kernel over the runs filed under `whens`, and the range seen. */
  best(kernel: string, params: number, threads: number, whens: string[]): { ms: number; worstMs: number; runs: number } | null {
    const ms = this.runs
      .filter((r) => r.params === params && r.threads === threads && whens.includes(r.when))
      .flatMap((r) => r.lines.filter((l) => l.kernel === kernel && l.threads === threads).map((l) => l.ms));
    if (ms.length === 0) return null;
    return { ms: Math.min(...ms), worstMs: Math.max(...ms), runs: ms.length };
  }

  /** The `when`s filed so far that start with `prefix` ('zoo:'). */
  whens(prefix: string): string[] {
    return this.runs.filter((r) => r.when.startsWith(prefix)).map((r) => r.when);
  }

  json(): unknown {
    return this.missing ? { missing: PROBE, reason: this.skipped } : this.runs;
  }

  /** Parses a yardstick's JSON lines, files them (with the error, if any) and logs them. */
  #file(who: string, r: ReturnType<typeof spawnSync>, params: number, threads: number, when: string, show: (l: ProbeLine) => string): ProbeRun {
    const lines: ProbeLine[] = [];
    for (const l of String(r.stdout ?? '').split('\n')) {
      if (!l.trim().startsWith('{')) continue;
      try {
        const line = JSON.parse(l) as ProbeLine;
        // ms is printed to 1 µs; the params/s figure (4 significant digits or more) times small arrays too.
        lines.push(line.gparams_per_s > 0 && line.params > 0 ? { ...line, ms: line.params / line.gparams_per_s / 1e6 } : line);
      } catch {
        /* not a result line */
      }
    }
    const run: ProbeRun = { when, threads, params, lines };
    if (r.status !== 0 || lines.length === 0) run.error = String(r.error?.message ?? r.stderr ?? `exit ${r.status}`).trim().slice(0, 500);
    this.runs.push(run);
    if (run.error) console.log(`  ${who} (${params}, ${threads}T) failed: ${run.error}`);
    else console.log(`  ${who} ${when} ${threads}T: ${lines.map(show).filter(Boolean).join(', ')}`);
    return run;
  }
}

// ---------------------------------------------------------------------------------------------
// Reports

/** A ratio with an optional target, printed under "# ratios" and in the first Markdown block. */
export interface Ratio {
  name: string;
  value: number | null;
  paired?: number[];
  target?: string;
  pass?: boolean;
  detail: string;
  /** The phase it was measured in, and how many cores other processes used meanwhile. */
  phase: string;
  otherCores?: number;
  /** Sort key across suites (stable): the ratios print grouped by it. Not stored. */
  order: number;
}

/** A ratio's value as printed (console: 3 decimals, `x`) or in Markdown (2 decimals, `×`). */
function ratioValue(r: Ratio, md: boolean): string {
  if (r.value === null) return 'n/a';
  if (r.name.includes('µs')) return `${r.value.toFixed(2)} µs`;
  if (r.name.includes('speed')) return `${r.value.toFixed(1)}${md ? '×' : 'x'}`;
  return r.value.toFixed(md ? 2 : 3);
}

/** A Markdown block: a title, the machine line and command, a table, then notes (each after a blank line). */
export interface MdBlock {
  title?: string;
  table: string[];
  notes: string[][];
}

/** The Markdown blocks, in the order they are first asked for. */
export class Markdown {
  readonly #blocks = new Map<string, MdBlock>();

  /** The block `id`, created (with `init`'s title and table header) on first use. */
  block(id: string, init: () => Omit<MdBlock, 'notes'> & { notes?: string[][] }): MdBlock {
    let b = this.#blocks.get(id);
    if (!b) {
      const i = init();
      b = { ...i, table: [...i.table], notes: i.notes ?? [] };
      this.#blocks.set(id, b);
    }
    return b;
  }

  /** The standard results table (optimizer, case, implementation, ...), where the generic ratios go too. */
  results(): MdBlock {
    return this.block('results', () => ({
      table: ['| Optimizer | Case | Implementation | Threads | Median / step | Min / step | G params/s | GB/s |', '|---|---|---|---:|---:|---:|---:|---:|'],
    }));
  }

  render(head: string[]): string {
    const out: string[] = [];
    for (const b of this.#blocks.values()) {
      if (out.length) out.push('');
      if (b.title) out.push(b.title, '');
      out.push(...head, '', ...b.table);
      for (const n of b.notes) out.push('', ...n);
    }
    return out.join('\n');
  }
}

/** One measured phase: its duration, memory after freeing, other processes' load and the suite's extras. */
export type PhaseRecord = Record<string, unknown> & { phase: string; seconds: number; otherCores?: number; stealCores?: number };

export interface Suite {
  /** Runs the suite's phases; prints as it goes. */
  run(h: Harness): Promise<void>;
  /** Generic ratios (printed together under "# ratios", sorted by `order`). */
  ratios?(h: Harness): Ratio[];
  /** Prints the suite's own summary section (after the generic ratios). */
  summary?(h: Harness): void;
  /** Adds the suite's Markdown to `h.md`. */
  markdown?(h: Harness): void;
  /** The suite's part of latest.json: `options` merges into its options, the rest at the top level. */
  json?(h: Harness): Record<string, unknown> & { options?: Record<string, unknown> };
}

/** Arrays concatenate, plain objects merge (recursively), anything else is replaced. */
function merge(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(from)) {
    const old = into[k];
    if (Array.isArray(old) && Array.isArray(v)) into[k] = [...old, ...v];
    else if (old && v && typeof old === 'object' && typeof v === 'object' && !Array.isArray(old) && !Array.isArray(v)) into[k] = merge({ ...(old as Record<string, unknown>) }, v as Record<string, unknown>);
    else into[k] = v;
  }
  return into;
}

// ---------------------------------------------------------------------------------------------
// The harness

export class Harness {
  readonly quick: boolean;
  readonly yardstick: Yardstick;
  readonly machine: Machine;
  readonly phases: PhaseRecord[] = [];
  readonly md = new Markdown();
  readonly #t0: number;
  readonly #snap0: CpuSnap | null;

  private constructor(
    readonly lib: Lib,
    readonly flags: Flags,
    started: Date,
    t0: number,
    snap0: CpuSnap | null,
  ) {
    this.quick = flags.quick;
    this.yardstick = new Yardstick(flags.probe);
    this.machine = machineOf(lib, flags.dist, started);
    this.#t0 = t0;
    this.#snap0 = snap0;
  }

  /** Loads the library (ts/ or, with --dist, dist/) and starts the clock. */
  static async load(flags: Flags): Promise<Harness> {
    const started = new Date();
    const t0 = performance.now();
    const snap0 = cpuSnap();
    const lib = (flags.dist ? await import('../dist/index.mjs' as string) : await import('../ts/index.js')) as Lib;
    return new Harness(lib, flags, started, t0, snap0);
  }

  /** Sets the pool size; true when it changed. */
  useThreads(n: number): boolean {
    if (this.lib.getNumThreads() === n) return false;
    this.lib.setNumThreads(n);
    return true;
  }

  /** `steps` untimed steps (times each contender's batch) of every contender at its thread count. */
  warm(contenders: Contender[], steps: number): void {
    for (const c of contenders) {
      this.useThreads(c.threads);
      for (let i = 0; i < steps * c.batch; i++) c.opt.step();
    }
  }

  /**
   * Interleaved measurement: every round runs every contender (`perRound` samples each), grouped by
   * thread count (the group order alternates, the order within a group rotates), so drift and other
   * people's builds hit all of them alike. A pool change is followed by one untimed step.
   */
  interleave(contenders: Contender[], rounds: number, perRound: (c: Contender) => number, seg = 0): void {
    const groups = THREADS.map((t) => contenders.filter((c) => c.threads === t)).filter((g) => g.length > 0);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? groups : [...groups].reverse();
      for (const g of order) {
        const rot = g.map((_, i) => g[(i + r) % g.length]!);
        if (this.useThreads(g[0]!.threads)) rot[0]!.opt.step();
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

  /**
   * `rounds` interleaved rounds cut into `segments`, with the yardstick run under `${tag}:${k}`
   * before each segment (and after the last, when `after`), when `probe`.
   */
  segmented(contenders: Contender[], o: { rounds: number; segments: number; perRound: (c: Contender) => number; probe: boolean; tag: string; params: number; after: boolean; sameC?: boolean }): void {
    for (let seg = 0; seg < o.segments; seg++) {
      if (o.probe) this.yardstick.at(o.params, `${o.tag}:${seg}`, o.sameC);
      const from = Math.floor((o.rounds * seg) / o.segments);
      const to = Math.floor((o.rounds * (seg + 1)) / o.segments);
      this.interleave(contenders, to - from, o.perRound, seg);
    }
    if (o.probe && o.after) this.yardstick.at(o.params, `${o.tag}:${o.segments}`, o.sameC);
  }

  /**
   * Runs one phase, then frees its memory (the phase's arrays and optimizers are unreachable once
   * it returns) and records how much CPU other processes took meanwhile.
   */
  async phase(name: string, body: () => Record<string, unknown> | void): Promise<void> {
    const start = performance.now();
    const a = cpuSnap();
    const extra = body() ?? {};
    await releaseMemory();
    const load = foreignLoad(a, cpuSnap());
    const rssMB = Math.round(process.memoryUsage().rss / 2 ** 20);
    this.phases.push({ phase: name, seconds: round((performance.now() - start) / 1e3, 1), rssMBAfter: rssMB, ...extra, ...(load ?? {}) });
    if (load) console.log(`  (other processes used ${load.otherCores} cores on average during this phase; steal ${load.stealCores}; RSS after freeing ${rssMB} MB)`);
  }

  /** Cores other processes used during `phase` on average (undefined if unknown). */
  otherCores(phase: string): number | undefined {
    return this.phases.find((p) => p.phase === phase)?.otherCores;
  }

  noisy(phase: string): boolean {
    return (this.otherCores(phase) ?? 0) > NOISY;
  }

  /** The machine line and the command, which head every Markdown block. */
  mdHead(): string[] {
    const m = this.machine;
    const argv = this.flags.argv;
    return [
      `Machine: ${m.cpu}, ${m.cores} cores, SIMD ${m.simd}, Node ${m.node}, ${m.date.slice(0, 10)}${this.quick ? ' (quick run)' : ''}.`,
      `Command: \`npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\`.`,
    ];
  }

  fail(msg: string): never {
    console.error(`\nbench: ${msg}`);
    process.exit(1);
  }

  /** Runs the suites in order, prints the reports and writes benchmark/results/latest.json. */
  async run(suites: Suite[], mode: string): Promise<void> {
    const m = this.machine;
    console.log(
      `machine: cpu="${m.cpu}" cores=${m.cores} simd=${m.simd} node=${m.node} date=${m.date} ` +
        `threads=${m.defaultThreads} commit=${m.commit} lib=${m.library} load=${m.loadavg.join('/')}`,
    );
    console.log(`mode: ${this.quick ? 'quick' : 'full'}; ${mode}; thread counts: ${THREADS.join(', ')}${gc ? '' : '; no --expose-gc (memory is freed lazily)'}`);
    if (this.yardstick.missing) console.log(`C yardstick skipped: ${this.yardstick.skipped}; continuing without the ratios against C`);

    for (const s of suites) await s.run(this);

    // Generic ratios of all suites, grouped by their order key.
    const ratios = suites
      .flatMap((s) => s.ratios?.(this) ?? [])
      .map((r, i) => ({ r, i }))
      .sort((a, b) => a.r.order - b.r.order || a.i - b.i)
      .map(({ r }) => ({ ...r, otherCores: this.otherCores(r.phase) }));
    const noisy = (r: Ratio) => (r.otherCores ?? 0) > NOISY;
    if (ratios.length) console.log('\n# ratios');
    if (ratios.some(noisy)) console.log(`  (* = measured while other processes used > ${NOISY} cores on average: re-run on a quiet machine before trusting it)`);
    for (const r of ratios) {
      const verdict = r.pass === undefined ? '' : r.pass ? `  [ok, target ${r.target}]` : `  [MISS, target ${r.target}]`;
      console.log(`${noisy(r) ? '* ' : '  '}${r.name.padEnd(52)} ${ratioValue(r, false).padStart(9)}${verdict}   ${r.detail}`);
    }
    for (const s of suites) s.summary?.(this);

    for (const s of suites) s.markdown?.(this);
    if (ratios.length) {
      const b = this.md.results();
      b.notes.push([
        '| Ratio | Value | Target |',
        '|---|---:|---|',
        ...ratios.map((r) => `| ${r.name}${noisy(r) ? ' *' : ''} | ${ratioValue(r, true)} | ${r.target ? `${r.target}${r.pass === undefined ? '' : r.pass ? ' ✓' : ' ✗'}` : ''} |`),
      ]);
      b.notes.push([
        'Ferroptim / C compares best steps (the C figure is itself a best of 10), with the probe run between segments of the native measurement.' +
          (ratios.some(noisy) ? ` * measured while other processes used more than ${NOISY} cores on average.` : ''),
      ]);
    }
    console.log('\n# Markdown\n');
    console.log(this.md.render(this.mdHead()));

    const loadAll = foreignLoad(this.#snap0, cpuSnap());
    const elapsed = round((performance.now() - this.#t0) / 1e3, 1);
    console.log(`\ntotal ${elapsed} s; other processes used ${loadAll ? `${loadAll.otherCores} cores on average (steal ${loadAll.stealCores})` : 'unknown CPU'}; load ${os.loadavg().map((x) => x.toFixed(2)).join('/')}`);

    let body: Record<string, unknown> = { machine: m, options: { quick: this.quick } };
    for (const s of suites) {
      const { options, ...top } = s.json?.(this) ?? {};
      body = merge(body, { options: options ?? {}, ...top });
    }
    merge(body, { options: { probe: this.flags.probe, threads: THREADS } });
    Object.assign(body, {
      probe: this.yardstick.json(),
      ratios: ratios.map(({ order: _, ...r }) => r),
      phases: this.phases,
      foreignLoad: loadAll,
      seconds: elapsed,
    });
    const out = path.join(ROOT, 'benchmark', 'results');
    mkdirSync(out, { recursive: true });
    const file = path.join(out, 'latest.json');
    writeFileSync(file, JSON.stringify(body, null, 2) + '\n');
    console.log(`raw results: ${path.relative(ROOT, file)}`);
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
