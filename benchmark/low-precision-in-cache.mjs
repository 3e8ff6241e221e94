// The work of an AdamW step per parameter with float32, bfloat16 and int8 state, measured on a
// tensor small enough that parameters, gradients and state stay in cache (64K parameters, 2 MiB
// with float32 state): what the arithmetic costs when memory costs nothing. Beside `npm run
// bench:lowp` (one 16M tensor), it tells a compute-bound step from a memory-bound one.
//
//   npm run build && node benchmark/low-precision-in-cache.mjs --threads 1 --numel 65536
import { lib, setup } from './layer-bench.mjs';

const { numel } = setup(5, { numel: { type: 'string', default: '65536' } });
const n = Number(numel);
const steps = Math.max(20, Math.round(2e8 / n));

console.log(`\n| state | ns per parameter (best of 5 runs of ${steps} steps) |\n|---|---:|`);
for (const stateDtype of ['float32', 'bfloat16', 'int8']) {
  const p = new lib.Parameter(Float32Array.from({ length: n }, (_, i) => Math.sin(i)), { name: 'w' });
  p.grad = Float32Array.from({ length: n }, (_, i) => Math.cos(0.7 * i) * 1e-2);
  const opt = new lib.AdamW([p], { lr: 1e-3, stateDtype });
  for (let s = 0; s < 10; s++) opt.step();
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let s = 0; s < steps; s++) opt.step();
    best = Math.min(best, ((performance.now() - t) * 1e6) / steps / n);
  }
  console.log(`| ${stateDtype} | ${best.toFixed(3)} |`);
}
