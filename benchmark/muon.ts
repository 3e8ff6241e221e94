// Muon's step time in ferroptim beside torch 2.15's torch.optim.Muon on the same machine, in one
// run: both check first that they compute the same update (the first step from zero weights),
// then alternate rounds of timed steps (ferroptim, torch, ferroptim, ...) so a change in machine
// load hits both; median and min per step, the ratio, and the Newton–Schulz throughput.
//
//   node --import @oxc-node/core/register benchmark/muon.ts [--python PATH] [--rounds N] [--reps N]
//        [--shapes 1024x1024,4096x1024] [--threads 1,2]
//   PATH defaults to $FERROPTIM_TORCH_PYTHON, else python3; it needs torch >= 2.9 (torch.optim.Muon).
//
// GFLOP/s "nominal" counts the products torch multiplies, 5 × (4m²n + 2m³) per step for an m × n
// update (m ≤ n); "executed" counts what ferroptim multiplies (X·Xᵀ and A·A by strips from the
// diagonal, about 5/8 of each). Numbers go in the README, not in tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Muon, Parameter, getNumThreads, getSimdLevel, setNumThreads } from '../ts/index.js';
import { cpuSnap, foreignLoad, median } from './harness.js';

const { values: flags } = parseArgs({
  options: {
    python: { type: 'string', default: process.env.FERROPTIM_TORCH_PYTHON ?? 'python3' },
    rounds: { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
    shapes: { type: 'string', default: '1024x1024,4096x1024' },
    threads: { type: 'string', default: '1,2' },
  },
  strict: true,
});
const ROUNDS = Number(flags.rounds);
const REPS = Number(flags.reps);
const SHAPES = flags.shapes.split(',').map((s) => s.split('x').map(Number) as [number, number]);
const THREADS = flags.threads.split(',').map(Number);
const NS_STEPS = 5;

// ---- torch, as a child process answering one JSON line per command --------------------------

const py = spawn(flags.python, [fileURLToPath(new URL('./muon.py', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
const answers = createInterface({ input: py.stdout! })[Symbol.asyncIterator]();
async function ask<T>(cmd: object): Promise<T> {
  py.stdin!.write(`${JSON.stringify(cmd)}\n`);
  const { value, done } = await answers.next();
  if (done) throw new Error(`${flags.python} benchmark/muon.py exited (is torch >= 2.9 installed?)`);
  const out = JSON.parse(value as string) as T & { error?: string };
  if (out.error) throw new Error(`torch: ${out.error}`);
  return out;
}

/** CPU seconds used so far by process `pid` (user + system). */
function cpuOf(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ').map(Number);
  return (f[11]! + f[12]!) / 100;
}

// ---- data -----------------------------------------------------------------------------------

/** Deterministic values in [-1, 1) (an LCG). */
function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 2 ** 31 - 1;
  }
  return out;
}

/** Multiply-adds of the symmetric m × m × k product as ferroptim cuts it (see `gram` in crate/src/kernels/muon.rs). */
function gramMacs(m: number, k: number, threads: number): number {
  const par = (m * m * k) / 2 >= 2 ** 20 && threads > 1;
  const strip = par && m < 1024 ? 128 : 256;
  let macs = 0;
  for (let r0 = 0; r0 < m; r0 += strip) macs += Math.min(strip, m - r0) * (m - r0) * k;
  return macs;
}

// ---- run ------------------------------------------------------------------------------------

const hello = await ask<{ torch: string; capability: string; mkldnn: boolean }>({ cmd: 'hello' });
console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; node ${process.version}; ferroptim SIMD ${getSimdLevel()}; torch ${hello.torch} (${hello.capability}, oneDNN ${hello.mkldnn}); load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`Muon (lr 0.02, momentum 0.95, nesterov, ${NS_STEPS} Newton-Schulz steps), ${ROUNDS} rounds of ${REPS} steps each per implementation, alternating\n`);

// 1. Both compute the same update (up to bfloat16 rounding flips, see the Muon class doc).
const dir = mkdtempSync(path.join(tmpdir(), 'ferroptim-muon-'));
try {
  for (const [rows, cols] of SHAPES) {
    const grad = noise(rows * cols, rows + cols);
    const p = new Parameter(new Float32Array(rows * cols), { shape: [rows, cols] });
    p.grad = grad;
    new Muon([p], { lr: 0.02 }).step();
    writeFileSync(path.join(dir, 'grad.f32'), grad);
    await ask({ cmd: 'step', rows, cols, grad: path.join(dir, 'grad.f32'), out: path.join(dir, 'out.f32') });
    const buf = readFileSync(path.join(dir, 'out.f32'));
    const theirs = new Float32Array(buf.buffer, buf.byteOffset, rows * cols);
    let maxDiff = 0;
    let maxAbs = 0;
    let same = 0;
    let d2 = 0;
    let t2 = 0;
    for (let i = 0; i < theirs.length; i++) {
      const d = Math.abs(p.data[i]! - theirs[i]!);
      maxDiff = Math.max(maxDiff, d);
      maxAbs = Math.max(maxAbs, Math.abs(theirs[i]!));
      if (d === 0) same++;
      d2 += d * d;
      t2 += theirs[i]! * theirs[i]!;
    }
    console.log(
      `check ${rows}x${cols}: first update max |ferroptim - torch| = ${(maxDiff / maxAbs).toExponential(2)} of its largest element, ‖Δ‖/‖update‖ = ${Math.sqrt(d2 / t2).toExponential(2)}, ${((100 * same) / theirs.length).toFixed(1)}% of elements identical`,
    );
    if (!(maxDiff <= 0.05 * maxAbs)) throw new Error(`ferroptim and torch disagree on a ${rows}x${cols} update; not timing`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// 2. Timing.
const before = getNumThreads();
const rows: string[] = [];
for (const [r, c] of SHAPES) {
  const [m, n] = [Math.min(r, c), Math.max(r, c)];
  const nominal = NS_STEPS * 2 * (2 * m * m * n + m * m * m);
  const p = new Parameter(noise(r * c, 7).map((x) => 0.02 * x), { shape: [r, c] });
  p.grad = noise(r * c, 8);
  const opt = new Muon([p], { lr: 0.02 });
  for (const threads of THREADS) {
    setNumThreads(threads);
    const executed = NS_STEPS * 2 * (gramMacs(m, n, threads) + gramMacs(m, m, threads) + m * m * n);
    const ours: number[] = [];
    const theirs: number[] = [];
    let other = 0;
    let wall = 0;
    opt.step();
    for (let round = 0; round < ROUNDS; round++) {
      const a = cpuSnap();
      for (let k = 0; k < REPS; k++) {
        const t0 = performance.now();
        opt.step();
        ours.push(performance.now() - t0);
      }
      const b = cpuSnap();
      const pyBefore = cpuOf(py.pid!);
      theirs.push(...(await ask<{ ms: number[] }>({ cmd: 'time', rows: r, cols: c, threads, reps: REPS })).ms);
      const c2 = cpuSnap();
      const load1 = foreignLoad(a, b);
      const load2 = foreignLoad(b, c2);
      if (a && b && c2 && load1 && load2) {
        const s1 = (b.wall - a.wall) / 1e3;
        const s2 = (c2.wall - b.wall) / 1e3;
        other += load1.otherCores * s1 + Math.max(0, load2.otherCores * s2 - (cpuOf(py.pid!) - pyBefore));
        wall += s1 + s2;
      }
    }
    const [fm, tm] = [median(ours), median(theirs)];
    const [fb, tb] = [Math.min(...ours), Math.min(...theirs)];
    const line =
      `| ${r}×${c} | ${threads} | ${fm.toFixed(1)} (${fb.toFixed(1)}) | ${tm.toFixed(1)} (${tb.toFixed(1)}) | ${(fm / tm).toFixed(2)} (${(fb / tb).toFixed(2)}) ` +
      `| ${(nominal / fb / 1e6).toFixed(0)} / ${(executed / fb / 1e6).toFixed(0)} | ${(nominal / tb / 1e6).toFixed(0)} | ${wall > 0 ? (other / wall).toFixed(2) : '?'} |`;
    rows.push(line);
    console.log(line);
  }
}
setNumThreads(before);
py.stdin!.end();
console.log('\n| weight | threads | ferroptim ms, median (min) | torch ms, median (min) | ferroptim / torch, median (best/best) | ferroptim GFLOP/s nominal / executed (best) | torch GFLOP/s nominal (best) | other cores busy |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const l of rows) console.log(l);
