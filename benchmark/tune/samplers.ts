/**
 * `npm run bench:tune`: ferroptim-tune's samplers against the real Optuna, for quality and for
 * overhead. Imports the TypeScript sources of tune/ (tune/src/index.ts) and spawns Optuna's side
 * (benchmark/tune/optuna_samplers.py), which answers in JSON.
 *
 *   node --expose-gc --import @oxc-node/core/register benchmark/tune/samplers.ts [--quick] [--seeds N] [--only NAMES] [--no-optuna] [--variants]
 *
 * 1. Quality: each test function of benchmark/tune/functions.ts (branin, hartmann6, rosenbrock10,
 *    mixed; all minimized) is optimized for 100 trials with seeds 0..N-1 (20 by default) by every
 *    sampler: each library's TPESampler with its defaults and in the other mode (multivariate or
 *    independent; Optuna 5.1 defaults to multivariate, ferroptim's default is read at start-up),
 *    and each library's RandomSampler (see ALL_SAMPLERS and lineup). The tables give the median
 *    [interquartile range] over the seeds of the best value after 50 and after 100 trials; the
 *    verdicts compare ferroptim's TPE with Optuna's (median, seed-paired wins, identical runs, a
 *    one-sided Mann-Whitney U test) and with random search. Optuna's studies run in the Python
 *    process while ferroptim's run here (one core each).
 * 2. Overhead: a study of 10 floats in [-5, 5], in memory, prefilled with COMPLETE trials
 *    (identical random points on both sides); the time of ask() + 10 suggestions + tell() for
 *    trial 100, 500 and 1000 (the median of 20 consecutive trials from there, after 3 warm-up
 *    trials). The target: ferroptim's TPE at most 10 ms at trial 1000. Run alone, after quality.
 * 3. The machine line, the tables (Markdown) on stdout and in benchmark/results/tune-samplers.md,
 *    and everything (raw values of every trial included) in benchmark/results/tune-samplers.json.
 *
 * Flags: `--quick` (5 seeds, 5 overhead repetitions), `--seeds N`, `--only NAMES` (a
 * comma-separated list of function names and/or `overhead`), `--no-optuna` (ferroptim only),
 * `--variants` (also the explicit spellings of both libraries' defaults).
 * Python: $FERROPTIM_OPTUNA_PYTHON, else <repo>/.venv-optuna/bin/python, with Optuna 5.1, numpy
 * and scipy (scripts/requirements-optuna.txt). A full run takes about a minute on 2 cores
 * (Optuna's quality runs are the longest part), `--quick` about 10 seconds.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createStudy, floatDistribution, InMemoryStorage, NopPruner, RandomSampler, TPESampler, TrialState, type Sampler } from '../../tune/src/index.js';
import { FUNCTIONS, mulberry32, type TestFunction, type Value } from './functions.js';

/** This folder (the script is run by path, as `npm run bench` runs benchmark/bench.ts). */
const HERE = path.dirname(path.resolve(process.argv[1] ?? 'benchmark/tune/samplers.ts'));
const ROOT = path.resolve(HERE, '../..');
const PY_SCRIPT = path.join(HERE, 'optuna_samplers.py');
const RESULTS = path.join(ROOT, 'benchmark/results');
const N_TRIALS = 100;
const BUDGETS = [50, 100] as const;
const OVERHEAD_SIZES = [100, 500, 1000];
const OVERHEAD_DIMS = 10;
const OVERHEAD_LOW = -5;
const OVERHEAD_HIGH = 5;
const OVERHEAD_WARMUP = 3;
/** Before the timed runs: every configuration at this size for this many trials, untimed. */
const WARMUP_PASS: [number, number] = [200, 10];
const TARGET_MS = 10;
/** Other processes using more than this many cores (on average) during the overhead runs mark them noisy. */
const NOISY = 0.3;
const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

// ---------------------------------------------------------------------------------------------
// Flags

interface Flags {
  quick: boolean;
  seeds: number;
  reps: number;
  functions: TestFunction[];
  overhead: boolean;
  optuna: boolean;
  variants: boolean;
}

function usage(msg?: string): never {
  if (msg) console.error(`samplers.ts: ${msg}\n`);
  console.error(
    [
      'usage: node --expose-gc --import @oxc-node/core/register benchmark/tune/samplers.ts [--quick] [--seeds N] [--only NAMES] [--no-optuna] [--variants]',
      '  --quick       5 seeds and 5 overhead repetitions (a smoke run)',
      '  --seeds N     seeds 0..N-1 for the quality runs (default 20)',
      `  --only NAMES  a comma-separated list of ${FUNCTIONS.map((f) => f.name).join(', ')}, overhead`,
      '  --no-optuna   ferroptim only (no Python)',
      "  --variants    also TPESampler with each library's default mode spelled out (multivariate: true or false)",
      'Python: $FERROPTIM_OPTUNA_PYTHON, else .venv-optuna/bin/python (python3 -m venv .venv-optuna && .venv-optuna/bin/pip install -r scripts/requirements-optuna.txt)',
    ].join('\n'),
  );
  process.exit(msg ? 2 : 0);
}

function parseFlags(argv: string[]): Flags {
  let quick = false;
  let seeds: number | null = null;
  let only: string[] | null = null;
  let optuna = true;
  let variants = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (flag: string) => {
      const v = a === flag ? argv[++i] : a.slice(flag.length + 1);
      if (v === undefined || v === '') usage(`${flag} needs a value`);
      return v;
    };
    if (a === '--quick') quick = true;
    else if (a === '--no-optuna') optuna = false;
    else if (a === '--variants') variants = true;
    else if (a === '--help' || a === '-h') usage();
    else if (a === '--seeds' || a.startsWith('--seeds=')) {
      const v = value('--seeds');
      seeds = Number(v);
      if (!Number.isSafeInteger(seeds) || seeds < 1) usage(`--seeds: expected an integer >= 1, received ${v}`);
    } else if (a === '--only' || a.startsWith('--only=')) {
      only = value('--only')
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean);
      for (const n of only) if (n !== 'overhead' && !FUNCTIONS.some((f) => f.name === n)) usage(`--only: unknown name ${JSON.stringify(n)}`);
    } else usage(`unknown argument ${a}`);
  }
  return {
    quick,
    seeds: seeds ?? (quick ? 5 : 20),
    reps: quick ? 5 : 20,
    functions: FUNCTIONS.filter((f) => only === null || only.includes(f.name)),
    overhead: only === null || only.includes('overhead'),
    optuna,
    variants,
  };
}

// ---------------------------------------------------------------------------------------------
// The samplers

interface SamplerSpec {
  /** Its id in the JSON and the tables. */
  id: string;
  /** Which library. */
  lib: 'ferroptim' | 'optuna';
  kind: 'tpe' | 'random';
  /** Options besides the seed (TPESampler's `multivariate`; none: the library's defaults). */
  options: { multivariate?: boolean };
  /** How the tables describe it (set by {@link lineup}). */
  label: string;
  /** TPE's mode, resolved against the library's default (null: random, or a default not known). */
  mode: Mode | null;
  /** An explicit spelling of the library's default (run only with --variants). */
  variant: boolean;
}

/** TPE samples the parameters jointly (multivariate) or one at a time (independent). */
type Mode = 'multivariate' | 'independent';

/** Each library's TPESampler default for a single-objective study (null: not known). */
interface Defaults {
  ferroptim: Mode | null;
  optuna: Mode | null;
}

/**
 * Every sampler the benchmark knows. Each library's TPESampler runs with its defaults, and with
 * the other mode spelled out; the explicit spelling of the default mode runs only with
 * `--variants` (it must run the very same trials as the defaults). Optuna 5.1 defaults to
 * multivariate for single-objective studies (and constant_liar=True, which changes nothing in a
 * sequential study); ferroptim's default is read from a new TPESampler at start-up.
 */
const ALL_SAMPLERS: readonly Omit<SamplerSpec, 'label' | 'mode' | 'variant'>[] = [
  { id: 'ferroptim-tpe', lib: 'ferroptim', kind: 'tpe', options: {} },
  { id: 'ferroptim-tpe-mv', lib: 'ferroptim', kind: 'tpe', options: { multivariate: true } },
  { id: 'ferroptim-tpe-indep', lib: 'ferroptim', kind: 'tpe', options: { multivariate: false } },
  { id: 'ferroptim-random', lib: 'ferroptim', kind: 'random', options: {} },
  { id: 'optuna-tpe', lib: 'optuna', kind: 'tpe', options: {} },
  { id: 'optuna-tpe-mv', lib: 'optuna', kind: 'tpe', options: { multivariate: true } },
  { id: 'optuna-tpe-indep', lib: 'optuna', kind: 'tpe', options: { multivariate: false } },
  { id: 'optuna-random', lib: 'optuna', kind: 'random', options: {} },
];

/** ferroptim's TPESampler default (its `multivariate` field; null if it has none). */
function ferroptimDefault(): Mode | null {
  const m = (new TPESampler({ seed: 0 }) as unknown as { multivariate?: unknown }).multivariate;
  return typeof m === 'boolean' ? (m ? 'multivariate' : 'independent') : null;
}

/** What runs and what is compared. */
interface Lineup {
  defaults: Defaults;
  /** The samplers of the quality runs. */
  samplers: SamplerSpec[];
  /** The comparisons of the verdicts: [ferroptim's sampler, the other, against what]. */
  pairs: [string, string, 'optuna' | 'random'][];
  /** The samplers of the overhead runs (the explicit spellings of defaults left out). */
  overhead: string[];
}

let LINEUP: Lineup | null = null;

function lineup(flags: Flags, defaults: Defaults): Lineup {
  const lib = (l: SamplerSpec['lib']) => (l === 'ferroptim' ? 'ferroptim' : 'Optuna');
  const all: SamplerSpec[] = ALL_SAMPLERS.map((b) => {
    const explicit = b.options.multivariate;
    const mode: Mode | null = b.kind === 'random' ? null : explicit === undefined ? defaults[b.lib] : explicit ? 'multivariate' : 'independent';
    const label =
      b.kind === 'random'
        ? `${lib(b.lib)} Random`
        : explicit === undefined
          ? `${lib(b.lib)} TPE (defaults${mode ? `: ${mode}` : ''})`
          : b.lib === 'ferroptim'
            ? `ferroptim TPE multivariate: ${explicit}`
            : `Optuna TPE multivariate=${explicit ? 'True' : 'False'}`;
    return { ...b, mode, label, variant: explicit !== undefined && mode === defaults[b.lib] };
  });
  const samplers = all.filter((s) => (flags.variants || !s.variant) && (flags.optuna || s.lib === 'ferroptim'));
  const tpe = (l: SamplerSpec['lib']) => samplers.filter((s) => s.lib === l && s.kind === 'tpe');
  const pairs: Lineup['pairs'] = [['ferroptim-tpe', 'optuna-tpe', 'optuna']];
  for (const a of tpe('ferroptim')) for (const b of tpe('optuna')) if (a.mode !== null && a.mode === b.mode && !(a.id === 'ferroptim-tpe' && b.id === 'optuna-tpe')) pairs.push([a.id, b.id, 'optuna']);
  pairs.push(['ferroptim-random', 'optuna-random', 'optuna']);
  for (const a of tpe('ferroptim')) pairs.push([a.id, 'ferroptim-random', 'random']);
  return { defaults, samplers, pairs, overhead: samplers.filter((s) => !s.variant).map((s) => s.id) };
}

function makeSampler(spec: SamplerSpec, seed: number): Sampler {
  if (spec.kind === 'random') return new RandomSampler({ seed });
  return new TPESampler({ seed, ...spec.options });
}

const spec = (id: string): SamplerSpec => {
  const s = LINEUP?.samplers.find((x) => x.id === id);
  if (!s) throw new Error(`no sampler ${id} in this run`);
  return s;
};

// ---------------------------------------------------------------------------------------------
// Statistics

/** The q-quantile with linear interpolation (numpy's default). */
function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo]! + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]!) - s[lo]!);
}

const median = (xs: readonly number[]) => quantile(xs, 0.5);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The standard normal's upper tail. */
function normalSf(z: number): number {
  // Abramowitz & Stegun 7.1.26 on erfc, |error| < 1.5e-7: plenty for a p-value.
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/**
 * The one-sided Mann-Whitney U test that `a` tends to be smaller than `b` (normal approximation
 * with tie and continuity corrections): the p-value, and P(a < b) + P(a = b)/2 over all pairs.
 */
function mannWhitneyLess(a: readonly number[], b: readonly number[]): { p: number; probLess: number } {
  const n1 = a.length;
  const n2 = b.length;
  let u = 0; // pairs where a < b, ties count one half
  for (const x of a) for (const y of b) u += x < y ? 1 : x === y ? 0.5 : 0;
  const all = [...a, ...b].sort((x, y) => x - y);
  let tie = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j] === all[i]) j++;
    const t = j - i;
    tie += t * t * t - t;
    i = j;
  }
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tie / (n * (n - 1))));
  const p = sd === 0 ? 0.5 : normalSf((u - mean - 0.5) / sd);
  return { p, probLess: u / (n1 * n2) };
}

// ---------------------------------------------------------------------------------------------
// Formatting

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

const fmtMs = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const al = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  return [`| ${header.join(' | ')} |`, `|${al.map((a) => (a === 'l' ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Machine and Python

function cpuinfo(field: string): string | null {
  try {
    return new RegExp(`^${field}\\s*:\\s*(.*)$`, 'm').exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? null;
  } catch {
    return null;
  }
}

function gitCommit(): string | null {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) return null;
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'tune'], { cwd: ROOT, encoding: 'utf8' });
  return r.stdout.trim() + (dirty.stdout?.trim() ? '+dirty(tune)' : '');
}

/** A digest of tune/src (the sources under test change while the samplers are written). */
function tuneDigest(): string {
  const dir = path.join(ROOT, 'tune/src');
  const h = createHash('sha256');
  for (const f of (readdirSync(dir, { recursive: true }) as string[]).filter((x) => x.endsWith('.ts')).sort()) {
    h.update(f);
    h.update(readFileSync(path.join(dir, f)));
  }
  return h.digest('hex').slice(0, 12);
}

function pythonPath(): string {
  const env = process.env.FERROPTIM_OPTUNA_PYTHON;
  if (env) return env;
  return path.join(ROOT, '.venv-optuna', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
}

const HOW_TO_PYTHON = `Create it (from the repository root) with:
  python3 -m venv .venv-optuna && .venv-optuna/bin/pip install -r scripts/requirements-optuna.txt
or point FERROPTIM_OPTUNA_PYTHON at a Python with optuna 5.1, numpy and scipy, or pass --no-optuna.`;

/** A failure to run Optuna's side: reported without a stack. */
class SetupError extends Error {}

/** The versions optuna_samplers.py reports. */
interface PyInfo {
  python: string;
  optuna: string;
  numpy: string;
  scipy: string;
  /** TPESampler's default mode for a single-objective study. */
  tpeDefault: Mode;
}

/** Runs optuna_samplers.py with one request; resolves to its JSON answer. Progress lines go to stderr. */
function callPython<T>(python: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [PY_SCRIPT], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // One core for Optuna: ferroptim's studies run on the other one at the same time.
      env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1', PYTHONHASHSEED: '0', PYTHONDONTWRITEBYTECODE: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      for (const line of d.split('\n')) if (line.startsWith('[optuna]')) console.log(`  ${line}`);
    });
    child.on('error', (e) => reject(new SetupError(`cannot run ${python}: ${e.message}\n${HOW_TO_PYTHON}`)));
    child.on('close', (code) => {
      if (code !== 0) {
        const tail = err.split('\n').filter((l) => !l.startsWith('[optuna]')).slice(-25).join('\n');
        return reject(new SetupError(`${path.basename(PY_SCRIPT)} (${python}) exited with ${code}:\n${tail}${/ModuleNotFoundError/.test(err) ? `\n${HOW_TO_PYTHON}` : ''}`));
      }
      try {
        resolve(JSON.parse(out) as T);
      } catch (e) {
        reject(new Error(`${path.basename(PY_SCRIPT)} printed no JSON (${(e as Error).message}): ${out.slice(0, 300)}`));
      }
    });
    child.stdin.end(JSON.stringify(request));
  });
}

// ---------------------------------------------------------------------------------------------
// Quality

interface Run {
  function: string;
  sampler: string;
  seed: number;
  /** The value of each trial, in order. */
  values: number[];
  seconds: number;
}

/** The best value among the first `n` trials. */
function bestAfter(values: readonly number[], n: number): number {
  let b = Infinity;
  for (let i = 0; i < Math.min(n, values.length); i++) if (values[i]! < b) b = values[i]!;
  return b;
}

async function ferroptimRun(f: TestFunction, s: SamplerSpec, seed: number): Promise<Run> {
  const t0 = performance.now();
  const study = await createStudy({ direction: 'minimize', sampler: makeSampler(s, seed), pruner: new NopPruner(), storage: new InMemoryStorage() });
  await study.optimize((trial) => f.objective(trial), { nTrials: N_TRIALS });
  const values = study.trials.map((t) => {
    if (t.state !== TrialState.COMPLETE || t.values === null) throw new Error(`${f.name} ${s.id} seed ${seed}: trial ${t.number} is not COMPLETE`);
    return t.values[0]!;
  });
  if (values.length !== N_TRIALS) throw new Error(`${f.name} ${s.id} seed ${seed}: ${values.length} trials, expected ${N_TRIALS}`);
  const seconds = (performance.now() - t0) / 1000;
  await study.close();
  return { function: f.name, sampler: s.id, seed, values, seconds };
}

interface Summary {
  function: string;
  sampler: string;
  budget: number;
  median: number;
  q25: number;
  q75: number;
  /** Mean seconds per study of N_TRIALS trials (quality runs; Optuna's ran beside ferroptim's). */
  secondsPerStudy: number;
  n: number;
}

interface Verdict {
  function: string;
  budget: number;
  ferroptim: string;
  other: string;
  medianFerroptim: number;
  medianOther: number;
  /** Seeds where ferroptim's best is strictly smaller (seed-paired). */
  wins: number;
  /** Seeds where both ran the same trials: every value equal to 1e-9 relative (ports of the same algorithm on the same random stream). */
  identical: number;
  /** The largest relative difference of a trial's value between the identical runs. */
  maxRelDiff: number;
  ties: number;
  seeds: number;
  /** P(ferroptim < other) + ties/2 over all pairs of seeds. */
  probLess: number;
  /** One-sided Mann-Whitney p that ferroptim is smaller. */
  pLess: number;
  /** One-sided Mann-Whitney p that ferroptim is larger. */
  pGreater: number;
  verdict: string;
}

function compare(f: string, budget: number, runs: Run[], a: string, b: string, kind: 'optuna' | 'random'): Verdict | null {
  const ra = runs.filter((r) => r.function === f && r.sampler === a).sort((x, y) => x.seed - y.seed);
  const rb = runs.filter((r) => r.function === f && r.sampler === b).sort((x, y) => x.seed - y.seed);
  if (ra.length === 0 || rb.length === 0) return null;
  // Compared at 10 significant digits: a port's last-bit differences are ties, not wins.
  const snap = (v: number) => Number(v.toPrecision(10));
  const va = ra.map((r) => snap(bestAfter(r.values, budget)));
  const vb = rb.map((r) => snap(bestAfter(r.values, budget)));
  let wins = 0;
  let ties = 0;
  let identical = 0;
  let maxRelDiff = 0;
  for (const r of ra) {
    const o = rb.find((x) => x.seed === r.seed);
    if (!o) continue;
    const rel = r.values.length === o.values.length ? Math.max(...r.values.map((v, i) => Math.abs(v - o.values[i]!) / Math.max(1, Math.abs(v)))) : Infinity;
    if (rel <= 1e-9) {
      identical++;
      maxRelDiff = Math.max(maxRelDiff, rel);
    }
    const x = snap(bestAfter(r.values, budget));
    const y = snap(bestAfter(o.values, budget));
    if (x < y) wins++;
    else if (x === y) ties++;
  }
  const less = mannWhitneyLess(va, vb);
  const greater = mannWhitneyLess(vb, va);
  const ma = median(va);
  const mb = median(vb);
  let verdict: string;
  if (kind === 'optuna') {
    if (ma <= mb) verdict = 'at least as good';
    else if (greater.p >= 0.05) verdict = `worse median, not significant (p=${greater.p.toFixed(2)})`;
    else verdict = `**WORSE** (p=${greater.p.toPrecision(2)})`;
  } else {
    verdict = ma < mb && less.p < 0.01 ? 'clearly better' : `**NOT clearly better** (p=${less.p.toPrecision(2)})`;
  }
  return { function: f, budget, ferroptim: a, other: b, medianFerroptim: ma, medianOther: mb, wins, identical, maxRelDiff, ties, seeds: ra.length, probLess: less.probLess, pLess: less.p, pGreater: greater.p, verdict };
}

// ---------------------------------------------------------------------------------------------
// Overhead

interface OverheadResult {
  sampler: string;
  size: number;
  /** Milliseconds per repetition: ask + suggestions + tell, and each part. */
  total: number[];
  ask: number[];
  suggest: number[];
  tell: number[];
}

/** The prefill points (identical for both libraries) and their values (the sphere). */
function prefillData(n: number): { points: number[][]; values: number[] } {
  const rnd = mulberry32(2024);
  const points = Array.from({ length: n }, () => Array.from({ length: OVERHEAD_DIMS }, () => OVERHEAD_LOW + (OVERHEAD_HIGH - OVERHEAD_LOW) * rnd()));
  return { points, values: points.map((x) => x.reduce((s, v) => s + v * v, 0)) };
}

async function ferroptimOverhead(s: SamplerSpec, sizes: number[], reps: number, data: { points: number[][]; values: number[] }, quiet = false): Promise<OverheadResult[]> {
  const keys = Array.from({ length: OVERHEAD_DIMS }, (_, i) => `x${i}`);
  const d = floatDistribution(OVERHEAD_LOW, OVERHEAD_HIGH);
  const out: OverheadResult[] = [];
  for (const size of sizes) {
    const study = await createStudy({ direction: 'minimize', sampler: makeSampler(s, 0), pruner: new NopPruner(), storage: new InMemoryStorage() });
    const nPre = size - 1 - OVERHEAD_WARMUP;
    const when = new Date();
    for (let i = 0; i < nPre; i++) {
      const params: Record<string, { internal: number; distribution: typeof d }> = {};
      keys.forEach((k, j) => (params[k] = { internal: data.points[i]![j]!, distribution: d }));
      await study.storage.createNewTrial(study.studyId, { state: TrialState.COMPLETE, values: [data.values[i]!], params, datetimeStart: when, datetimeComplete: when });
    }
    await study.refresh();
    gc?.();
    const r: OverheadResult = { sampler: s.id, size, total: [], ask: [], suggest: [], tell: [] };
    for (let rep = 0; rep < OVERHEAD_WARMUP + reps; rep++) {
      const t0 = performance.now();
      const trial = await study.ask();
      const t1 = performance.now();
      let v = 0;
      for (const k of keys) {
        const x = trial.suggestFloat(k, OVERHEAD_LOW, OVERHEAD_HIGH);
        v += x * x;
      }
      const t2 = performance.now();
      await study.tell(trial, v);
      const t3 = performance.now();
      if (rep >= OVERHEAD_WARMUP) {
        r.total.push(t3 - t0);
        r.ask.push(t1 - t0);
        r.suggest.push(t2 - t1);
        r.tell.push(t3 - t2);
      }
    }
    if (study.trials.length !== size - 1 + reps) throw new Error(`overhead ${s.id}: ${study.trials.length} trials, expected ${size - 1 + reps}`);
    await study.close();
    if (!quiet) console.log(`  overhead ${s.id} at trial ${size}: median ${fmtMs(median(r.total))} ms`);
    out.push(r);
  }
  return out;
}

/** Machine-wide busy cores (from /proc/stat) during a phase, to flag noisy timings. */
function busySnap(): { wall: number; busy: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f as number[];
    return { wall: performance.now(), busy: (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / 100 };
  } catch {
    return null;
  }
}
const busyCores = (a: ReturnType<typeof busySnap>, b: ReturnType<typeof busySnap>) => (a && b ? (b.busy - a.busy) / ((b.wall - a.wall) / 1000) : NaN);

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const started = new Date();
  const t0 = performance.now();
  const python = pythonPath();
  let pyInfo = null as PyInfo | null;
  if (flags.optuna) {
    if (!existsSync(python)) {
      console.error(`samplers.ts: Optuna's Python not found at ${python}.\n${HOW_TO_PYTHON}`);
      process.exit(1);
    }
    const info = await callPython<PyInfo>(python, { mode: 'info' });
    pyInfo = info;
    if (!info.optuna.startsWith('5.1')) console.log(`warning: Optuna ${info.optuna} found; the comparison is meant for 5.1 (scripts/requirements-optuna.txt)`);
  }
  const machine = {
    cpu: cpuinfo('model name') ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    node: process.version,
    python: pyInfo?.python ?? null,
    optuna: pyInfo?.optuna ?? null,
    numpy: pyInfo?.numpy ?? null,
    scipy: pyInfo?.scipy ?? null,
    date: started.toISOString(),
    commit: gitCommit(),
    tuneSources: tuneDigest(),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
  const machineLine = `machine: ${machine.cpu}, ${machine.cores} cores (${machine.availableParallelism} available); Node ${machine.node}; ${pyInfo ? `Python ${pyInfo.python}, Optuna ${pyInfo.optuna}, numpy ${pyInfo.numpy}, scipy ${pyInfo.scipy}` : 'no Optuna (--no-optuna)'}; load ${machine.loadavg.join(' ')}; commit ${machine.commit ?? '?'}, tune/src ${machine.tuneSources}`;
  console.log(machineLine);
  const L = lineup(flags, { ferroptim: ferroptimDefault(), optuna: pyInfo?.tpeDefault ?? null });
  LINEUP = L;
  console.log(`TPESampler defaults (single objective): ferroptim ${L.defaults.ferroptim ?? 'unknown'}, Optuna ${L.defaults.optuna ?? 'unknown'}; samplers: ${L.samplers.map((x) => x.id).join(', ')}`);
  console.log(`seeds 0..${flags.seeds - 1}, ${N_TRIALS} trials per study; functions: ${flags.functions.map((f) => f.name).join(', ') || 'none'}; overhead: ${flags.overhead ? `trials ${OVERHEAD_SIZES.join(', ')}, ${flags.reps} repetitions` : 'no'}`);

  // The test functions must be the same in both languages.
  if (pyInfo && flags.functions.length) {
    const points = Object.fromEntries(flags.functions.map((f) => [f.name, f.checkPoints()]));
    const { values } = await callPython<{ values: Record<string, number[]> }>(python, { mode: 'check', points });
    for (const f of flags.functions) {
      points[f.name]!.forEach((p: Record<string, Value>, i: number) => {
        const mine = f.evaluate(p);
        const theirs = values[f.name]![i]!;
        if (!(Math.abs(mine - theirs) <= 1e-12 * Math.max(1, Math.abs(mine)))) throw new Error(`${f.name} differs between functions.ts and optuna_samplers.py at ${JSON.stringify(p)}: ${mine} vs ${theirs}`);
      });
    }
    const atOptimum = flags.functions.map((f) => `${f.name} ${fmt(f.evaluate(f.checkPoints()[0]!))} (min ${f.optimum})`).join(', ');
    console.log(`test functions identical in TS and Python at ${Object.values(points).reduce((s, p) => s + p.length, 0)} points; at the known minimizers: ${atOptimum}`);
  }

  // 1. Quality: Optuna in the Python process while ferroptim runs here.
  const seeds = Array.from({ length: flags.seeds }, (_, i) => i);
  const runs: Run[] = [];
  const failures: { function: string; sampler: string; error: string }[] = [];
  const reproducible: Record<string, boolean> = {};
  if (flags.functions.length) {
    console.log('\n# quality');
    const tq = performance.now();
    const pyQuality = pyInfo
      ? callPython<{ results: Run[] }>(python, {
          mode: 'quality',
          functions: flags.functions.map((f) => f.name),
          seeds,
          nTrials: N_TRIALS,
          samplers: L.samplers.filter((s) => s.lib === 'optuna').map((s) => ({ id: s.id, kind: s.kind, options: s.options })),
        })
      : Promise.resolve({ results: [] as Run[] });
    pyQuality.catch(() => {}); // awaited below
    for (const f of flags.functions) {
      for (const s of L.samplers.filter((x) => x.lib === 'ferroptim')) {
        const ts = performance.now();
        try {
          for (const seed of seeds) runs.push(await ferroptimRun(f, s, seed));
          if (f === flags.functions[0]) {
            // Seeded runs must reproduce: seed 0 again.
            const again = await ferroptimRun(f, s, 0);
            const first = runs.find((r) => r.function === f.name && r.sampler === s.id && r.seed === 0)!;
            reproducible[s.id] = again.values.every((v, i) => v === first.values[i]);
          }
        } catch (e) {
          failures.push({ function: f.name, sampler: s.id, error: (e as Error).stack ?? String(e) });
          console.log(`  ${f.name} ${s.id}: FAILED: ${(e as Error).message}`);
          continue;
        }
        console.log(`  ${f.name} ${s.id}: ${seeds.length} seeds in ${((performance.now() - ts) / 1000).toFixed(1)} s`);
      }
    }
    const tsSeconds = (performance.now() - tq) / 1000;
    runs.push(...(await pyQuality).results);
    console.log(`quality runs: ${((performance.now() - tq) / 1000).toFixed(0)} s (ferroptim ${tsSeconds.toFixed(0)} s)`);
    const notRepro = Object.entries(reproducible).filter(([, ok]) => !ok);
    console.log(notRepro.length ? `WARNING: seeded runs do not reproduce for ${notRepro.map(([k]) => k).join(', ')}` : `seeded runs reproduce (seed 0 of ${flags.functions[0]!.name} run twice): ${Object.keys(reproducible).join(', ')}`);
  }

  // 2. Overhead, alone on the machine (as far as this script goes).
  const overhead: OverheadResult[] = [];
  /** Cores used by other processes (machine-wide busy minus this benchmark's own) during each side's runs. */
  let overheadBusy = { ferroptim: NaN, optuna: NaN };
  if (flags.overhead) {
    console.log('\n# overhead');
    const data = prefillData(Math.max(...OVERHEAD_SIZES));
    // A warm-up pass (JIT) of every configuration, untimed; Optuna's side does the same.
    for (const id of L.overhead.filter((x) => spec(x).lib === 'ferroptim')) await ferroptimOverhead(spec(id), [WARMUP_PASS[0]], WARMUP_PASS[1], data, true);
    const b0 = busySnap();
    const cpu0 = process.cpuUsage();
    for (const id of L.overhead.filter((x) => spec(x).lib === 'ferroptim')) {
      try {
        overhead.push(...(await ferroptimOverhead(spec(id), OVERHEAD_SIZES, flags.reps, data)));
      } catch (e) {
        failures.push({ function: 'overhead', sampler: id, error: (e as Error).stack ?? String(e) });
        console.log(`  overhead ${id}: FAILED: ${(e as Error).message}`);
      }
    }
    const b1 = busySnap();
    const cpu1 = process.cpuUsage(cpu0);
    let pyCpu = 0;
    if (pyInfo) {
      const ids = L.overhead.filter((x) => spec(x).lib === 'optuna');
      const { results, cpuSeconds } = await callPython<{ results: OverheadResult[]; cpuSeconds: number }>(python, {
        mode: 'overhead',
        sizes: OVERHEAD_SIZES,
        reps: flags.reps,
        warmup: OVERHEAD_WARMUP,
        warmupPass: WARMUP_PASS,
        low: OVERHEAD_LOW,
        high: OVERHEAD_HIGH,
        prefill: data.points,
        prefillValues: data.values,
        samplers: ids.map((id) => ({ id, kind: spec(id).kind, options: spec(id).options })),
      });
      overhead.push(...results);
      pyCpu = cpuSeconds;
    }
    const b2 = busySnap();
    const own = (cpu1.user + cpu1.system) / 1e6;
    overheadBusy = {
      ferroptim: b0 && b1 ? busyCores(b0, b1) - own / ((b1.wall - b0.wall) / 1000) : NaN,
      optuna: pyInfo && b1 && b2 ? busyCores(b1, b2) - pyCpu / ((b2.wall - b1.wall) / 1000) : NaN,
    };
  }

  // 3. Report.
  const active = L.samplers;
  const summaries: Summary[] = [];
  const md: string[] = [];
  md.push(`${machineLine}`, '');
  if (runs.length) {
    md.push(`## Sampler quality: best value after ${BUDGETS.join(' and ')} trials, median [IQR] over ${flags.seeds} seeds (minimized)`, '');
    for (const f of flags.functions) {
      const rows: string[][] = [];
      for (const s of active) {
        const rs = runs.filter((r) => r.function === f.name && r.sampler === s.id);
        if (rs.length === 0) continue;
        const cells = [s.label];
        const secondsPerStudy = mean(rs.map((r) => r.seconds));
        for (const budget of BUDGETS) {
          const v = rs.map((r) => bestAfter(r.values, budget));
          const sm: Summary = { function: f.name, sampler: s.id, budget, median: median(v), q25: quantile(v, 0.25), q75: quantile(v, 0.75), secondsPerStudy, n: rs.length };
          summaries.push(sm);
          cells.push(fmt(sm.median), `[${fmt(sm.q25)}, ${fmt(sm.q75)}]`);
        }
        cells.push(secondsPerStudy.toFixed(3));
        rows.push(cells);
      }
      md.push(`### ${f.title}: ${f.space}; global minimum ${f.optimum}`, '');
      md.push(table(['sampler', ...BUDGETS.flatMap((b) => [`best@${b} median`, `IQR@${b}`]), 's / study'], rows), '');
      if (f === flags.functions[flags.functions.length - 1]) md.push(`(s / study: mean wall time of a ${N_TRIALS}-trial study, informational: Optuna's ran beside ferroptim's, one core each; see the overhead section for timings.)`, '');
    }
  }
  const verdicts: Verdict[] = [];
  if (runs.length) {
    for (const budget of BUDGETS) {
      for (const f of flags.functions) {
        for (const [a, b, kind] of L.pairs) {
          const v = compare(f.name, budget, runs, a, b, kind);
          if (v) verdicts.push(v);
        }
      }
    }
    md.push('## Verdicts', '');
    md.push(
      'Medians of the best value (compared at 10 significant digits); "wins": seeds where ferroptim\'s best is lower (seed-paired); "same trials": seeds where both ran the very same trials (every value equal to 1e-9), as a faithful port on the same random stream does; "P(lower)": the share of all pairs of seeds where ferroptim\'s best is lower (ties ½); "p": one-sided Mann-Whitney U that ferroptim\'s best is lower. Against Optuna, "at least as good": median ≤ Optuna\'s, else "worse" with the one-sided p that it is higher; against random, "clearly better": lower median and p < 0.01.',
      '',
    );
    for (const f of flags.functions) {
      const mine = verdicts.filter((v) => v.function === f.name && v.budget === N_TRIALS);
      const dd = mine.find((v) => v.ferroptim === 'ferroptim-tpe' && v.other === 'optuna-tpe');
      // The same algorithm on both sides: TPE in the same mode, and random search.
      const sameAlgo = mine.filter((v) => v.other !== 'ferroptim-random' && spec(v.ferroptim).mode === spec(v.other).mode);
      const vsRandom = mine.filter((v) => v.other === 'ferroptim-random');
      const parts: string[] = [];
      if (dd) parts.push(`defaults vs defaults: ${dd.verdict} (median ${fmt(dd.medianFerroptim)} vs ${fmt(dd.medianOther)}; ferroptim TPE beats Optuna TPE on ${dd.wins} of ${dd.seeds} seeds${dd.ties ? `, ${dd.ties} ties` : ''})`);
      if (sameAlgo.length) {
        const name = (v: Verdict) =>
          spec(v.ferroptim).kind === 'random' ? 'random' : `${spec(v.ferroptim).mode}${flags.variants ? ` [${v.ferroptim} vs ${v.other}]` : v.ferroptim === 'ferroptim-tpe' && v.other === 'optuna-tpe' ? ' (both defaults)' : ''}`;
        const agree = Math.max(0, ...sameAlgo.filter((v) => v.identical > 0).map((v) => v.maxRelDiff));
        const differing = sameAlgo.filter((v) => v.identical < v.seeds).map((v) => `${name(v)}: ${v.verdict}`);
        parts.push(`same algorithm, same trials as Optuna on: ${sameAlgo.map((v) => `${name(v)} ${v.identical}/${v.seeds}`).join(', ')} seeds${agree > 0 ? ` (values agree to ${agree.toExponential(0)} relative)` : ''}${differing.length ? ` (${differing.join('; ')})` : ''}`);
      }
      if (vsRandom.length) parts.push(`vs random: ${vsRandom.map((v) => `${spec(v.ferroptim).label} ${v.verdict}`).join('; ')}`);
      md.push(`- **${f.name}** @${N_TRIALS}: ${parts.join('; ')}.`);
    }
    md.push('');
    for (const budget of BUDGETS) {
      const vrows = verdicts
        .filter((v) => v.budget === budget)
        .map((v) => [
          v.function,
          `${spec(v.ferroptim).label} vs ${spec(v.other).label}`,
          fmt(v.medianFerroptim),
          fmt(v.medianOther),
          `${v.wins}/${v.seeds}${v.ties ? ` (${v.ties} ties)` : ''}`,
          `${v.identical}/${v.seeds}`,
          v.probLess.toFixed(2),
          v.pLess < 0.001 ? v.pLess.toExponential(1) : v.pLess.toFixed(3),
          v.verdict,
        ]);
      md.push(`### After ${budget} trials`, '');
      md.push(table(['function', 'comparison', 'ferroptim median', 'other median', 'wins', 'same trials', 'P(lower)', 'p', 'verdict'], vrows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l']), '');
    }
    if (Object.keys(reproducible).length) md.push(`Seeded ferroptim runs reproduce (seed 0 of ${flags.functions[0]!.name} run twice): ${Object.entries(reproducible).map(([k, ok]) => `${k} ${ok ? 'yes' : '**NO**'}`).join(', ')}.`, '');
  }
  if (overhead.length) {
    const top = Math.max(...OVERHEAD_SIZES);
    md.push(`## Sampler overhead: ask() + ${OVERHEAD_DIMS} suggestFloat + tell() at trial N, ${OVERHEAD_DIMS} floats, in memory (median [IQR] ms over ${flags.reps} consecutive trials from N; target ferroptim TPE ≤ ${TARGET_MS} ms at N = ${top})`, '');
    const rows: string[][] = [];
    for (const id of L.overhead) {
      const rs = overhead.filter((r) => r.sampler === id);
      if (rs.length === 0) continue;
      const cells = [spec(id).label];
      for (const size of OVERHEAD_SIZES) {
        const r = rs.find((x) => x.size === size);
        cells.push(r ? `${fmtMs(median(r.total))} [${fmtMs(quantile(r.total, 0.25))}, ${fmtMs(quantile(r.total, 0.75))}]` : '-');
      }
      const last = rs.find((x) => x.size === top);
      cells.push(last ? `${fmtMs(median(last.ask))} / ${fmtMs(median(last.suggest))} / ${fmtMs(median(last.tell))}` : '-');
      rows.push(cells);
    }
    md.push(table(['sampler', ...OVERHEAD_SIZES.map((n) => `trial ${n}`), `ask / suggests / tell at ${top}`], rows), '');
    md.push('(Optuna samples a multivariate trial\'s parameters lazily, at its first suggestion; ferroptim in ask().)', '');
    const ms = (id: string) => {
      const r = overhead.find((x) => x.sampler === id && x.size === top);
      return r ? median(r.total) : NaN;
    };
    const ratio = (a: number, b: number) => (a <= b ? `${(b / a).toFixed(2)}× faster` : `${(a / b).toFixed(2)}× slower`);
    const ferroTpe = L.overhead.filter((id) => spec(id).lib === 'ferroptim' && spec(id).kind === 'tpe');
    const optunaTpe = L.overhead.filter((id) => spec(id).lib === 'optuna' && spec(id).kind === 'tpe');
    if (ferroTpe.some((id) => Number.isFinite(ms(id)))) {
      for (const id of ferroTpe) {
        const m = ms(id);
        if (!Number.isFinite(m)) continue;
        const verdict = id === 'ferroptim-tpe' ? `: ${m <= TARGET_MS ? 'meets' : '**misses**'} the ${TARGET_MS} ms target` : ` (${m <= TARGET_MS ? 'within' : 'over'} ${TARGET_MS} ms)`;
        md.push(`- ${spec(id).label} at trial ${top}: ${m.toFixed(2)} ms${verdict}${id === 'ferroptim-tpe' && Number.isFinite(ms('optuna-tpe')) ? `; ${spec('optuna-tpe').label}: ${ms('optuna-tpe').toFixed(2)} ms` : ''}.`);
      }
      const same: string[] = [];
      for (const a of ferroTpe) for (const b of optunaTpe) if (spec(a).mode !== null && spec(a).mode === spec(b).mode && Number.isFinite(ms(a)) && Number.isFinite(ms(b))) same.push(`${spec(a).mode}: ferroptim ${ms(a).toFixed(2)} ms vs Optuna ${ms(b).toFixed(2)} ms (ferroptim ${ratio(ms(a), ms(b))})`);
      if (same.length) md.push(`- Same algorithm at trial ${top}: ${same.join('; ')}.`);
      const noisy = Math.max(overheadBusy.ferroptim, overheadBusy.optuna) > NOISY;
      md.push(`- Cores used by other processes during the overhead runs: ${Math.max(0, overheadBusy.ferroptim).toFixed(2)} (ferroptim's), ${Number.isNaN(overheadBusy.optuna) ? '-' : Math.max(0, overheadBusy.optuna).toFixed(2)} (Optuna's)${noisy ? `: **noisy** (over ${NOISY}); rerun on a quiet machine` : ': quiet'}.`, '');
    }
  }
  if (failures.length) {
    md.push('## Failures', '');
    for (const fl of failures) md.push(`- ${fl.function} ${fl.sampler}: ${fl.error.split('\n')[0]}`);
    md.push('');
  }
  const elapsed = (performance.now() - t0) / 1000;
  md.push(`Run time: ${elapsed.toFixed(0)} s (${flags.quick ? '--quick' : `${flags.seeds} seeds`}).`);
  const report = md.join('\n');
  console.log(`\n${report}`);

  mkdirSync(RESULTS, { recursive: true });
  const json = {
    machine,
    config: { seeds, nTrials: N_TRIALS, budgets: BUDGETS, functions: flags.functions.map((f) => ({ name: f.name, title: f.title, space: f.space, optimum: f.optimum })), defaults: L.defaults, samplers: L.samplers, pairs: L.pairs, overheadSizes: OVERHEAD_SIZES, overheadReps: flags.reps, overheadWarmup: OVERHEAD_WARMUP, overheadDims: OVERHEAD_DIMS, quick: flags.quick },
    quality: { summary: summaries, verdicts, reproducible, runs },
    overhead: { busyCores: overheadBusy, results: overhead },
    failures,
    elapsedSeconds: Math.round(elapsed),
  };
  writeFileSync(path.join(RESULTS, 'tune-samplers.json'), `${JSON.stringify(json)}\n`);
  writeFileSync(path.join(RESULTS, 'tune-samplers.md'), `${report}\n`);
  console.log(`\nwrote benchmark/results/tune-samplers.json and tune-samplers.md`);
  if (failures.length) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e instanceof SetupError ? `samplers.ts: ${e.message}` : e);
  process.exit(1);
});
