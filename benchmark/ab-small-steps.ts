/**
 * Per-step time of AdamW for small steps (the fixed cost and the cost per tensor), for an A/B of
 * two builds of ferroptim: ROOT names the tree whose ts/ and native/ to load. Run each tree in
 * turn, several times, and compare medians:
 *
 *   ROOT=/path/to/other/checkout node --import @oxc-node/core/register benchmark/ab-small-steps.ts
 *   ROOT=$PWD node --import @oxc-node/core/register benchmark/ab-small-steps.ts
 *
 * One thread; 20,000 warm-up steps, then the median of 15 rounds of 2,000 steps, in µs (timed
 * with the bench harness's timeBatch).
 */
import { median, timeBatch } from './harness.js';
const root = process.env.ROOT ?? new URL("..", import.meta.url).pathname;
const lib = await import(`${root}/ts/index.ts`);
lib.setNumThreads(1);
function make(lengths: number[]) {
  const ps = lengths.map((n, i) => { const p = new lib.Parameter(new Float32Array(n).fill(0.5), { name: `p${i}` }); p.grad = new Float32Array(n).fill(0.01); return p; });
  return new lib.AdamW(ps, { lr: 1e-3, weightDecay: 1e-2 });
}
const cases: Array<[string, number[]]> = [['16 params, 1 tensor', [16]], ['16 tensors of 64', Array(16).fill(64)], ['10K, 1 tensor', [10240]], ['300 tensors of 33', Array(300).fill(33)]];
const out: Record<string, number> = {};
for (const [name, lengths] of cases) {
  const opt = make(lengths);
  for (let i = 0; i < 20000; i++) opt.step();
  const rounds = Array.from({ length: 15 }, () => timeBatch(opt, 2000) * 1000);
  out[name] = median(rounds);
}
console.log(JSON.stringify(out));
