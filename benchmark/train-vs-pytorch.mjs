// Epoch time of the article's recipe (Adam lr 1e-3, batch 128) in ferroptim and in PyTorch on the
// same machine, thread count and MNIST files; prints both and the ratio ferroptim / PyTorch.
//
//   npm run build && node benchmark/train-vs-pytorch.mjs --model cnn --epochs 1 --threads 2
//   options: --model cnn|mlp  --epochs N  --threads N  --limit N (training images)  --repeat N
//            --python PATH (default $FERROPTIM_TORCH_PYTHON, else python3)
//
// The runs alternate (ferroptim, PyTorch, ferroptim, ...) so a change in machine load hits both;
// median and min are reported. PyTorch holds the data as tensors and batches by index (its fastest
// path; the article's DataLoader + ToTensor is slower). Numbers go in the README, not in tests.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const lib = require('../dist/index.js');

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'cnn' },
    epochs: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    limit: { type: 'string', default: '60000' },
    repeat: { type: 'string', default: '1' },
    python: { type: 'string', default: process.env.FERROPTIM_TORCH_PYTHON ?? 'python3' },
  },
  strict: true,
});
const model = values.model;
if (model !== 'cnn' && model !== 'mlp') throw new Error(`--model expects cnn or mlp, received ${model}`);
const epochs = Number(values.epochs);
const threads = Number(values.threads);
const limit = Number(values.limit);
const repeat = Number(values.repeat);
const dataDir = lib.defaultMnistDir();
const script = fileURLToPath(new URL('./train-vs-pytorch.py', import.meta.url));

const torchCheck = spawnSync(values.python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const torchVersion = torchCheck.status === 0 ? torchCheck.stdout.trim() : null;

console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; node ${process.version}; ferroptim SIMD ${lib.getSimdLevel()}; torch ${torchVersion ?? 'not installed'}`);
console.log(`recipe: ${model}, Adam lr 1e-3, batch 128, ${limit} training images, ${epochs} epoch(s) per run, ${threads} thread(s), ${repeat} run(s) each\n`);

function ferroptimRun() {
  lib.setNumThreads(threads);
  const trainData = lib.loadMnist({ split: 'train', limit });
  const testData = lib.loadMnist({ split: 'test' });
  const net = model === 'cnn' ? lib.cnn({ seed: 0 }) : lib.mlp({ seed: 0 });
  const optimizer = new lib.Adam(net.parameters(), { lr: 1e-3 });
  const { metrics } = lib.train({ model: net, optimizer, epochs, batchSize: 128, seed: 0, trainData, testData });
  return metrics.map((m) => ({ seconds: m.seconds, testAccuracy: m.testAccuracy }));
}

function pytorchRun() {
  const r = spawnSync(values.python, [script, '--data', dataDir, '--model', model, '--epochs', String(epochs), '--threads', String(threads), '--limit', String(limit)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) throw new Error(`PyTorch run failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

const ours = [];
const theirs = [];
for (let i = 0; i < repeat; i++) {
  const a = ferroptimRun();
  ours.push(...a);
  console.log(`ferroptim run ${i + 1}: ${a.map((m) => `${m.seconds.toFixed(2)} s (test acc ${(100 * m.testAccuracy).toFixed(2)}%)`).join(', ')}`);
  if (torchVersion) {
    const b = pytorchRun();
    theirs.push(...b);
    console.log(`PyTorch   run ${i + 1}: ${b.map((m) => `${m.seconds.toFixed(2)} s (test acc ${(100 * m.testAccuracy).toFixed(2)}%)`).join(', ')}`);
  }
}

const stats = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return { median: s[Math.floor(s.length / 2)], min: s[0] };
};
const scale = 60000 / limit;
const o = stats(ours.map((m) => m.seconds * scale));
console.log(`\nferroptim: ${o.median.toFixed(2)} s/epoch median, ${o.min.toFixed(2)} s min${scale !== 1 ? ' (scaled to 60,000 images)' : ''}`);
if (torchVersion) {
  const t = stats(theirs.map((m) => m.seconds * scale));
  console.log(`PyTorch ${torchVersion}: ${t.median.toFixed(2)} s/epoch median, ${t.min.toFixed(2)} s min`);
  console.log(`ratio ferroptim / PyTorch: ${(o.median / t.median).toFixed(2)} (median), ${(o.min / t.min).toFixed(2)} (min)`);
} else {
  console.log(`PyTorch not found (${values.python}); set --python or FERROPTIM_TORCH_PYTHON to compare.`);
}
if (!existsSync(dataDir)) console.log(`(data: ${dataDir})`);
