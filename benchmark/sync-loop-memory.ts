/**
 * Peak memory of synchronous loops that create optimizer state, for an A/B of two builds of
 * ferroptim (ROOT names the tree whose ts/ and native/ to load; default this one):
 *  - `build`: 200 AdamW over 1M parameters each, built, stepped once and dropped, in one
 *    synchronous loop (no turn of the event loop in between);
 *  - `statedict`: 5,000 `stateDict()` calls on one AdamW over 10K parameters.
 *
 *   ROOT=/path/to/tree node --expose-gc --import @oxc-node/core/register benchmark/sync-loop-memory.ts build
 */
const root = process.env.ROOT ?? new URL('..', import.meta.url).pathname;
const lib = await import(`${root}/ts/index.ts`);
const mode = process.argv[2] ?? 'build';
let peak = process.memoryUsage().rss;
const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
const start = process.memoryUsage().rss;
const t0 = performance.now();
if (mode === 'build') {
  const p = new lib.Parameter(new Float32Array(1 << 20), { name: 'w' });
  p.grad = new Float32Array(1 << 20).fill(0.01);
  for (let i = 0; i < 200; i++) {
    const opt = new lib.AdamW([p], { lr: 1e-3 });
    opt.step();
    sample();
  }
} else {
  const p = new lib.Parameter(new Float32Array(10240), { name: 'w' });
  p.grad = new Float32Array(10240).fill(0.01);
  const opt = new lib.AdamW([p], { lr: 1e-3 });
  opt.step();
  for (let i = 0; i < 5000; i++) {
    opt.stateDict();
    if (i % 50 === 0) sample();
  }
}
console.log(`${mode}: rss ${mb(start)} at start, peak ${mb(peak)}, ${((performance.now() - t0) / 1000).toFixed(2)} s`);
