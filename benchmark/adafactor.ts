/**
 * Adafactor step time: ferroptim beside torch 2.15's torch.optim.Adafactor (foreach=False, its
 * default foreach=None, which is the same for-loop code, and foreach=True) on the same machine,
 * tensors and thread counts, interleaved round by round so a change of machine load hits all.
 *
 *   node --expose-gc --import @oxc-node/core/register benchmark/adafactor.ts [--shapes 2048x2048,...]
 *        [--rounds 5] [--steps 5] [--python PATH (default $FERROPTIM_TORCH_PYTHON, else python3)]
 *
 * It verifies before it times: two steps of each on the same data (the hash of
 * scripts/gen_fixtures.py) must agree within 1e-5 of 1 + |θ| (torch's float32 norms of
 * 4M-element tensors are ~1e-4 off, and so is its step size).
 * Reported: median and min per step, the ratio torch / ferroptim of the medians, and the memory
 * traffic of ferroptim's three passes (24 bytes per parameter: θ and g read, g read, θ and g read
 * and θ written). Numbers go in the README, not in tests.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Adafactor, Parameter, getNumThreads, getSimdLevel, setNumThreads } from '../ts/index.js';
import { values } from '../__test__/helpers/data.js';

const { values: args } = parseArgs({
  options: {
    shapes: { type: 'string', default: '2048x2048,2048x2048,2048x2048,2048x2048' },
    rounds: { type: 'string', default: '5' },
    steps: { type: 'string', default: '5' },
    python: { type: 'string', default: process.env.FERROPTIM_TORCH_PYTHON ?? 'python3' },
  },
  strict: true,
});
const shapes = args.shapes.split(',').map((s) => s.split('x').map(Number));
const rounds = Number(args.rounds);
const steps = Number(args.steps);
const SEED = 1;
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
const total = shapes.reduce((a, s) => a + numel(s), 0);
const threadCounts = os.availableParallelism() > 1 ? [1, os.availableParallelism()] : [1];

// ---- the Python side, one command per line ----------------------------------------------------
const py = spawn(args.python, [fileURLToPath(new URL('./adafactor.py', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
const replies = createInterface({ input: py.stdout! })[Symbol.asyncIterator]();
async function ask(line: string): Promise<Record<string, unknown>> {
  py.stdin!.write(`${line}\n`);
  const r = await replies.next();
  if (r.done) throw new Error(`the Python side (${args.python}) exited; is torch installed there?`);
  const reply = JSON.parse(r.value) as Record<string, unknown>;
  if (reply.error) throw new Error(String(reply.error));
  return reply;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const info = await ask(`setup ${SEED} ${shapes.map((s) => s.join('x')).join(';')}`);
  console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores; node ${process.version}; ferroptim SIMD ${getSimdLevel()}; torch ${info.torch} (ATen ${info.capability})`);
  console.log(`tensors: ${shapes.map((s) => s.join('×')).join(', ')} = ${(total / 1e6).toFixed(1)}M parameters, all factored; ${rounds} rounds × ${steps} steps per implementation and thread count\n`);

  // Verify: two steps of each on the same data.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'adafactor-bench-'));
  try {
    await ask(`verify ${path.join(dir, 'torch.f32')} 2`);
    const raw = readFileSync(path.join(dir, 'torch.f32'));
    const torchParams = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    const params = shapes.map((s, j) => new Parameter(values(SEED, 0, j, numel(s)), { shape: s }));
    const opt = new Adafactor(params);
    for (let t = 1; t <= 2; t++) {
      params.forEach((p, j) => (p.grad = values(SEED, t, j, p.numel)));
      opt.step();
    }
    let off = 0;
    let worst = 0;
    for (const p of params) {
      for (let i = 0; i < p.numel; i++) worst = Math.max(worst, Math.abs(p.data[i]! - torchParams[off + i]!) / (1 + Math.abs(torchParams[off + i]!)));
      off += p.numel;
    }
    // torch sums ‖θ‖ and ‖U‖ of a 4M-element tensor in float32, 1e-4 off in relative terms, so
    // its step size is off by as much; ferroptim sums in f64 (see the doc of Adafactor).
    if (!(worst <= 1e-5)) throw new Error(`verification failed: ferroptim and torch differ by ${worst} after 2 steps`);
    console.log(`verified: after 2 steps ferroptim and torch agree within ${worst.toExponential(1)} (|Δ|/(1 + |θ|))\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Time, interleaved. The load average tells whether other processes shared the cores.
  const loadBefore = os.loadavg()[0]!;
  const params = shapes.map((s, j) => new Parameter(values(SEED, 0, j, numel(s)), { shape: s }));
  params.forEach((p, j) => (p.grad = values(SEED, 1, j, p.numel)));
  const impls = ['ferroptim', 'foreach_false', 'default', 'foreach_true'] as const;
  const ms = new Map<string, number[]>();
  const before = getNumThreads();
  for (let r = 0; r < rounds; r++) {
    for (const threads of threadCounts) {
      for (const impl of impls) {
        const key = `${impl}@${threads}`;
        let times: number[];
        if (impl === 'ferroptim') {
          setNumThreads(threads);
          const opt = new Adafactor(params);
          opt.step(); // creates the state, untimed
          times = [];
          for (let k = 0; k < steps; k++) {
            const t0 = performance.now();
            opt.step();
            times.push(performance.now() - t0);
          }
          opt.dispose();
        } else {
          times = (await ask(`time ${impl} ${threads} ${steps}`)).ms as number[];
        }
        ms.set(key, [...(ms.get(key) ?? []), ...times]);
        (globalThis as { gc?: () => void }).gc?.();
      }
    }
  }
  setNumThreads(before);
  py.stdin!.end('quit\n');
  console.log(`1-minute load average ${loadBefore.toFixed(1)} before timing, ${os.loadavg()[0]!.toFixed(1)} after (this process and the Python one account for about 1 while timing)\n`);

  const label: Record<(typeof impls)[number], string> = {
    ferroptim: 'ferroptim Adafactor',
    foreach_false: 'torch Adafactor(foreach=False)',
    default: 'torch Adafactor() (foreach=None)',
    foreach_true: 'torch Adafactor(foreach=True)',
  };
  console.log('| implementation | threads | median ms/step | min ms/step | vs ferroptim (median) | GB/s at 24 B/param |');
  console.log('|---|---|---|---|---|---|');
  for (const threads of threadCounts) {
    const base = median(ms.get(`ferroptim@${threads}`)!);
    for (const impl of impls) {
      const xs = ms.get(`${impl}@${threads}`)!;
      const med = median(xs);
      const gbs = impl === 'ferroptim' ? ((24 * total) / (med / 1e3) / 1e9).toFixed(1) : '';
      console.log(`| ${label[impl]} | ${threads} | ${med.toFixed(1)} | ${Math.min(...xs).toFixed(1)} | ${impl === 'ferroptim' ? '1' : `${(med / base).toFixed(2)}× slower`} | ${gbs} |`);
    }
  }
}

main().catch((e) => {
  py.kill();
  console.error(e);
  process.exitCode = 1;
});
