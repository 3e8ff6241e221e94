/**
 * Results are bit-identical whatever the SIMD level and the thread count. Child processes run
 * `helpers/child-run.mjs` on the built package with FERROPTIM_SIMD / FERROPTIM_NUM_THREADS forced;
 * the thread count is also changed in-process with setNumThreads.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getDetectedSimdLevel, getNumThreads, setNumThreads, type SimdLevel } from '../ts/index.js';
// @ts-expect-error: a plain .mjs helper without types.
import { runAll } from './helpers/child-run.mjs';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./helpers/child-run.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const MISSING = `${DIST} is missing: run \`npm run build\` (or \`npm run build:ts\`) before these tests`;

const LEVELS: SimdLevel[] = ['avx512', 'avx2', 'baseline'];
const THREADS = [1, 2];
const RANK: Record<SimdLevel, number> = { baseline: 0, avx2: 1, avx512: 2 };

interface ChildReport {
  simd: SimdLevel;
  detected: SimdLevel;
  threads: number;
  hash: string;
  hashes: Record<string, string>;
}

type Env = { FERROPTIM_SIMD?: string; FERROPTIM_NUM_THREADS?: string };

async function child(env: Env): Promise<ChildReport> {
  const base = { ...process.env };
  delete base.FERROPTIM_SIMD;
  delete base.FERROPTIM_NUM_THREADS;
  const { stdout } = await run(process.execPath, [CHILD, DIST], { env: { ...base, ...env }, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as ChildReport;
}

/** Every child run, started together once. */
const runs: Array<{ env: Env; report: Promise<ChildReport> }> = [];
if (existsSync(DIST)) {
  for (const level of LEVELS) {
    for (const n of THREADS) {
      const env = { FERROPTIM_SIMD: level, FERROPTIM_NUM_THREADS: String(n) };
      runs.push({ env, report: child(env) });
    }
  }
  runs.push({ env: {}, report: child({}) });
  // Failures are reported by the tests that await them.
  for (const r of runs) r.report.catch(() => {});
}

function describeEnv(env: Env): string {
  return Object.keys(env).length ? Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ') : 'no FERROPTIM_* variables';
}

function expectedLevel(forced: SimdLevel, detected: SimdLevel): SimdLevel {
  return RANK[forced] <= RANK[detected] ? forced : detected;
}

for (const { env, report } of runs) {
  const what = env.FERROPTIM_SIMD
    ? "runs at the forced SIMD level (clamped to the CPU's best) and thread count"
    : 'runs at the detected SIMD level';
  test(`a child process with ${describeEnv(env)} ${what}`, async (t) => {
    const r = await report;
    const detected = getDetectedSimdLevel();
    t.is(r.detected, detected);
    t.is(r.simd, env.FERROPTIM_SIMD ? expectedLevel(env.FERROPTIM_SIMD as SimdLevel, detected) : detected);
    if (env.FERROPTIM_NUM_THREADS) t.is(r.threads, Number(env.FERROPTIM_NUM_THREADS));
    else t.true(Number.isInteger(r.threads) && r.threads >= 1);
    t.regex(r.hash, /^[0-9a-f]{64}$/);
  });
}

test('SGD, Adam and AdamW give the same SHA-256 of parameters and state at every SIMD level and thread count', async (t) => {
  if (!existsSync(DIST)) return t.fail(MISSING);
  const reports = await Promise.all(runs.map((r) => r.report));
  const reference = reports[0]!;
  reports.forEach((r, i) => {
    t.deepEqual(r.hashes, reference.hashes, `${describeEnv(runs[i]!.env)} (level ${r.simd}, ${r.threads} threads) differs from ${describeEnv(runs[0]!.env)}`);
  });
  // The in-process build (TypeScript sources, same native binary) agrees too.
  t.deepEqual(runAll(await import('../ts/index.js')).hashes, reference.hashes);
});

test.serial('setNumThreads(1), (2) and (3) in-process give identical bytes and getNumThreads reflects each', async (t) => {
  const lib = await import('../ts/index.js');
  const original = getNumThreads();
  try {
    const results: Record<number, unknown> = {};
    for (const n of [1, 2, 3, 1]) {
      setNumThreads(n);
      t.is(getNumThreads(), n);
      results[n] = runAll(lib).hashes;
    }
    t.deepEqual(results[2], results[1]);
    t.deepEqual(results[3], results[1]);
  } finally {
    setNumThreads(original);
  }
  t.is(getNumThreads(), original);
});

if (!existsSync(DIST)) {
  test('the built package exists', (t) => t.fail(MISSING));
}
