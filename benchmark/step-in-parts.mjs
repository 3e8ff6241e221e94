// What a step taken in parts costs beside one `step()` as a model gets deeper: AdamW over L
// tensors of 256 elements, stepped whole, and in parts with one `StepInParts.update` per tensor
// (as `train` does per layer with `stepDuringBackward`). The two alternate within each round; the
// parameters are compared bit for bit; µs per step, median (min) over rounds of 200 steps.
//
//   npm run build && node benchmark/step-in-parts.mjs --threads 1 --rounds 6
import { hex, lib, now, setup, stat } from './layer-bench.mjs';

const { rounds, tensors } = setup(6, { tensors: { type: 'string', default: '10,100,400' } });
const STEPS = 200;

console.log('\n| tensors | step() | in parts, one update per tensor | parts / step |\n|---:|---:|---:|---:|');
for (const count of tensors.split(',').map(Number)) {
  const make = () => {
    const ps = Array.from({ length: count }, (_, i) => {
      const p = new lib.Parameter(new Float32Array(256).fill(0.5), { name: `p${i}` });
      p.grad.fill(0.01);
      return p;
    });
    return { ps, opt: new lib.AdamW(ps, { lr: 1e-3 }) };
  };
  const whole = make();
  const parts = make();
  const stepWhole = () => whole.opt.step();
  const stepParts = () => {
    const s = parts.opt.stepInParts();
    for (const p of parts.ps) s.update([p]);
    s.finish();
  };
  const time = (f) => {
    const t = now();
    for (let i = 0; i < STEPS; i++) f();
    return (now() - t) / STEPS;
  };
  time(stepWhole);
  time(stepParts);
  const t = { whole: [], parts: [] };
  for (let r = 0; r < rounds; r++) {
    t.whole.push(time(stepWhole));
    t.parts.push(time(stepParts));
  }
  const same = whole.ps.every((p, i) => hex(p.data) === hex(parts.ps[i].data));
  if (!same) throw new Error(`${count} tensors: the step in parts did not give the bits of step()`);
  const ratio = Math.min(...t.parts) / Math.min(...t.whole);
  console.log(`| ${count} | ${stat(t.whole, 1)} µs | ${stat(t.parts, 1)} µs | ${ratio.toFixed(1)}× |`);
}
