// The seed CNN's Conv2d → ReLU → MaxPool2d(2) blocks at batch 128 (1→32 at 28×28, the first
// layer, without an input gradient; 32→64 at 14×14, with one), run fused inside a Sequential
// against the same three modules called one after the other; forward and backward timed
// separately, the two interleaved, median and min per call. The bits (output, input gradient,
// weight and bias gradients) are compared before timing.
//
//   npm run build && node benchmark/conv-relu-pool.mjs --threads 2 --rounds 40
import { hex, interleaved, lib, now, setup } from './layer-bench.mjs';

const { rounds } = setup(40);

for (const [c, o, hw, needInputGrad] of [[1, 32, 28, false], [32, 64, 14, true]]) {
  const shape = [128, c, hw, hw];
  const x = new lib.Generator(1).fillUniform(new Float32Array(128 * c * hw * hw), -1, 1);
  const gy = { data: new lib.Generator(2).fillUniform(new Float32Array((128 * o * hw * hw) / 4), -1, 1), shape: [128, o, hw / 2, hw / 2] };
  const block = () => [new lib.Conv2d(c, o, 3, { padding: 1, generator: new lib.Generator(3) }), new lib.ReLU({ inplace: true }), new lib.MaxPool2d(2)];
  const [conv, relu, pool] = block();
  const fused = new lib.Sequential(...block());
  const grads = (ps) => ps.map((p) => hex(p.grad));
  const unfused = () => {
    for (const p of conv.parameters()) p.grad.fill(0);
    const t0 = now();
    const y = pool.forward(relu.forward(conv.forward({ data: x, shape })));
    const t1 = now();
    const dx = conv.backward(relu.backward(pool.backward(gy)), needInputGrad);
    return { y, dx, f: t1 - t0, b: now() - t1, g: conv.parameters() };
  };
  const together = () => {
    for (const p of fused.parameters()) p.grad.fill(0);
    const t0 = now();
    const y = fused.forward({ data: x, shape });
    const t1 = now();
    const dx = fused.backward(gy, needInputGrad);
    return { y, dx, f: t1 - t0, b: now() - t1, g: fused.parameters() };
  };
  const a = unfused();
  const b = together();
  if (hex(a.y.data) !== hex(b.y.data) || (a.dx && hex(a.dx.data)) !== (b.dx && hex(b.dx.data)) || grads(a.g).join() !== grads(b.g).join()) {
    throw new Error(`${c}→${o} at ${hw}x${hw}: the fused block gives other bits`);
  }
  console.log(`${c}→${o} 3x3 at ${hw}x${hw} (b128${needInputGrad ? '' : ', no input gradient'}) µs median (min): ${interleaved(rounds, unfused, together)}`);
}
