// Training with each layer's optimizer update taken as soon as the backward pass has completed
// its gradients (train's `stepDuringBackward`, the default) against one update after the backward
// pass, on the seed CNN, the seed MLP and a wide MLP (784-2048-2048-2048-2048-2048-10, 18.4M
// parameters) whose gradients and AdamW state do not fit in the last-level cache together. The two
// runs alternate; the final weights are compared bit for bit; ms per batch, median (min).
//
//   npm run build && node benchmark/step-during-backward.mjs --threads 2 --rounds 6
import { lib, median, setup, stat } from './layer-bench.mjs';

const { rounds, models } = setup(6, { models: { type: 'string', default: 'cnn,mlp,wide' } });

const wide = ({ seed }) => {
  const g = new lib.Generator(seed);
  const layers = [new lib.Flatten(), new lib.Linear(784, 2048, { generator: g })];
  for (let i = 0; i < 4; i++) layers.push(new lib.ReLU(), new lib.Linear(2048, 2048, { generator: g }));
  return new lib.Sequential(...layers, new lib.ReLU(), new lib.Linear(2048, 10, { generator: g }));
};
const MODELS = {
  cnn: { make: lib.cnn, batch: 128, batches: 40 },
  mlp: { make: lib.mlp, batch: 128, batches: 200 },
  wide: { make: wide, batch: 32, batches: 20 },
};
const testData = lib.loadMnist({ split: 'test', limit: 10 });

console.log('\n| model | parameters | batch | during the backward pass | after it | during / after |\n|---|---:|---:|---:|---:|---:|');
for (const name of models.split(',')) {
  const { make, batch, batches } = MODELS[name];
  const trainData = lib.loadMnist({ split: 'train', limit: batch * batches });
  const times = { true: [], false: [] };
  const weights = {};
  let params = 0;
  for (let r = 0; r < rounds; r++) {
    for (const during of r % 2 ? [true, false] : [false, true]) {
      const model = make({ seed: 1 });
      const optimizer = new lib.AdamW(model.parameters(), { lr: 1e-4 });
      params = model.parameters().reduce((s, p) => s + p.numel, 0);
      const t = performance.now();
      lib.train({ model, optimizer, epochs: 1, batchSize: batch, seed: 0, trainData, testData, stepDuringBackward: during });
      times[during].push((performance.now() - t) / batches);
      const h = Buffer.concat(model.parameters().map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)));
      if (weights[during] === undefined) weights[during] = h;
      optimizer.dispose();
    }
  }
  if (!weights.true.equals(weights.false)) throw new Error(`${name}: the weights differ between the two ways of stepping`);
  console.log(`| ${name} | ${params.toLocaleString('en-US')} | ${batch} | ${stat(times.true, 2)} ms | ${stat(times.false, 2)} ms | ${(median(times.true) / median(times.false)).toFixed(3)} |`);
}
