// The seed CNN's ReLU → MaxPool2d(2) pairs (batch 128: 32×28×28 and 64×14×14), run fused inside a
// Sequential against the same two modules called one after the other; forward and backward timed
// separately, the two interleaved, median and min per call. The bits are compared before timing.
//
//   npm run build && node benchmark/relu-pool.mjs --threads 2 --rounds 40
import { hex, interleaved, lib, now, setup } from './layer-bench.mjs';

const { rounds } = setup(40);

for (const [c, hw] of [[32, 28], [64, 14]]) {
  const shape = [128, c, hw, hw];
  const n = shape.reduce((a, b) => a * b, 1);
  const x = new lib.Generator(1).fillUniform(new Float32Array(n), -1, 1);
  const gy = { data: new lib.Generator(2).fillUniform(new Float32Array(n / 4), -1, 1), shape: [128, c, hw / 2, hw / 2] };
  // As in the CNN: an inplace ReLU, not the first module (a shape-keeping Flatten stands in front).
  const [relu, pool] = [new lib.ReLU({ inplace: true }), new lib.MaxPool2d(2)];
  const fused = new lib.Sequential(new lib.Flatten({ startDim: 2, endDim: 2 }), new lib.ReLU({ inplace: true }), new lib.MaxPool2d(2));
  const unfused = () => {
    const h = { data: x.slice(), shape };
    const t0 = now();
    const y = pool.forward(relu.forward(h));
    const t1 = now();
    const dx = relu.backward(pool.backward(gy));
    return { y, dx, f: t1 - t0, b: now() - t1 };
  };
  const together = () => {
    const h = { data: x.slice(), shape };
    const t0 = now();
    const y = fused.forward(h);
    const t1 = now();
    const dx = fused.backward(gy);
    return { y, dx, f: t1 - t0, b: now() - t1 };
  };
  const a = unfused();
  const b = together();
  if (hex(a.y.data) !== hex(b.y.data) || hex(a.dx.data) !== hex(b.dx.data)) throw new Error(`${c}x${hw}x${hw}: the fused pair gives other bits`);
  console.log(`${c}x${hw}x${hw} (b128) µs median (min): ${interleaved(rounds, unfused, together)}`);
}
