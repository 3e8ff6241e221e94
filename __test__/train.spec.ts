/**
 * The trainer on small MNIST subsets (a few hundred images, so the suite stays fast): loss falls,
 * accuracy beats chance by a wide margin, checkpoints are atomic and resuming reproduces an
 * uninterrupted run bit for bit; the weights load in PyTorch when it is installed.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Adam, GradNormMonitor, SGD, StepLR, cnn, decodeSafetensors, loadCheckpoint, loadMnist, mlp, saveWeights, train, type EpochMetrics } from '../ts/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-train-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const trainData = loadMnist({ split: 'train', limit: 512 });
const testData = loadMnist({ split: 'test', limit: 500 });

test('the MLP with Adam on 512 images: the loss falls and test accuracy is far above chance', (t) => {
  const model = mlp({ seed: 0 });
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const seen: number[] = [];
  const { metrics } = train({ model, optimizer, epochs: 3, batchSize: 32, seed: 0, trainData, testData, onBatch: (p) => seen.push(p.batch) });
  t.is(metrics.length, 3);
  t.is(seen.length, 3 * 16);
  t.true(metrics[2]!.trainLoss < 0.6 * metrics[0]!.trainLoss, JSON.stringify(metrics.map((m) => m.trainLoss)));
  t.true(metrics[2]!.testAccuracy > 0.6, `accuracy ${metrics[2]!.testAccuracy}`);
  t.true(metrics.every((m) => m.samplesPerSecond > 0 && m.seconds > 0 && m.lr === 1e-3));
});

test('the article CNN with Adam on 512 images for two epochs: the loss falls and accuracy beats chance by a wide margin', (t) => {
  const model = cnn({ seed: 0 });
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const { metrics } = train({ model, optimizer, epochs: 2, batchSize: 16, seed: 0, trainData, testData });
  t.true(metrics[1]!.trainLoss < 0.6 * metrics[0]!.trainLoss, JSON.stringify(metrics.map((m) => m.trainLoss)));
  t.true(metrics[1]!.testAccuracy > 0.6, `accuracy ${metrics[1]!.testAccuracy}`);
});

test('a GradNormMonitor attached to the optimizer puts the last norm and its average into the metrics', (t) => {
  const model = mlp({ seed: 1 });
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const monitor = new GradNormMonitor(optimizer);
  const { metrics } = train({ model, optimizer, monitor, epochs: 1, batchSize: 64, seed: 0, trainData, testData });
  t.is(monitor.steps, 8);
  t.true(metrics[0]!.gradNorm! > 0 && Number.isFinite(metrics[0]!.gradNorm));
  t.is(metrics[0]!.gradNormEma, monitor.ema);
});

function run(dir: string, epochs: number, resume: boolean): { metrics: EpochMetrics[]; weights: Buffer; resumed: number } {
  const model = mlp({ seed: 5 });
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const scheduler = new StepLR(optimizer, { stepSize: 1, gamma: 0.5 });
  const r = train({ model, optimizer, scheduler, epochs, batchSize: 64, seed: 3, trainData, testData, checkpointDir: dir, resume, clipGradNorm: 5 });
  const weights = Buffer.concat(model.parameters().map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)));
  return { metrics: r.metrics, weights, resumed: r.resumedFromEpoch };
}

test('resuming from a checkpoint gives bit for bit the weights and metrics of an uninterrupted run', (t) => {
  const straight = run(join(tmp, 'straight'), 3, false);
  const dir = join(tmp, 'resumed');
  const first = run(dir, 1, false);
  t.is(first.metrics.length, 1);
  const second = run(dir, 3, true);
  t.is(second.resumed, 1);
  t.true(second.weights.equals(straight.weights));
  const strip = (m: EpochMetrics[]) => m.map(({ epoch, trainLoss, trainAccuracy, testLoss, testAccuracy, lr }) => ({ epoch, trainLoss, trainAccuracy, testLoss, testAccuracy, lr }));
  t.deepEqual(strip(second.metrics), strip(straight.metrics));
  t.deepEqual(second.metrics.map((m) => m.lr), [0.05, 0.025, 0.0125]);
  // Only the latest epoch's files remain.
  t.deepEqual(readdirSync(dir).sort(), ['checkpoint.json', 'optimizer-epoch-0003.safetensors', 'weights-epoch-0003.safetensors']);
});

test('a crash while writing leaves the previous checkpoint loadable', (t) => {
  const dir = join(tmp, 'crash');
  run(dir, 1, false);
  const before = loadCheckpoint(dir);
  // A writer killed mid-way leaves only a temporary file behind; the manifest still names epoch 1.
  writeFileSync(join(dir, 'checkpoint.json.tmp-12345'), '{"format": "ferroptim-checkp');
  writeFileSync(join(dir, 'weights-epoch-0002.safetensors.tmp-12345'), Buffer.alloc(10));
  const after = loadCheckpoint(dir);
  t.is(after.epoch, 1);
  t.deepEqual(after.weights['1.bias']!.data, before.weights['1.bias']!.data);
  const resumed = run(dir, 2, true);
  t.is(resumed.resumed, 1);
  t.is(resumed.metrics.length, 2);
});

test('resuming with a different batch size is refused with a clear error', (t) => {
  const dir = join(tmp, 'mismatch');
  run(dir, 1, false);
  const model = mlp({ seed: 5 });
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  t.throws(() => train({ model, optimizer, epochs: 2, batchSize: 32, seed: 3, trainData, testData, checkpointDir: dir, resume: true }), {
    instanceOf: RangeError,
    message: /made with batchSize 64, this run has 32/,
  });
});

test('bad options are rejected with TypeError or RangeError naming them', (t) => {
  const model = mlp();
  const optimizer = new Adam(model.parameters());
  t.throws(() => train({ model, optimizer, epochs: -1, batchSize: 8, seed: 0, trainData, testData }), { instanceOf: RangeError, message: /train: expected epochs to be an integer >= 0, received -1/ });
  t.throws(() => train({ model, optimizer, epochs: 1, batchSize: 8.5, seed: 0, trainData, testData }), { instanceOf: RangeError, message: /batchSize/ });
  t.throws(() => train({ model: {} as never, optimizer, epochs: 1, batchSize: 8, seed: 0, trainData, testData }), { instanceOf: TypeError, message: /expected model to be a Module/ });
  t.throws(() => train({ model, optimizer, epochs: 1, batchSize: 8, seed: 0, trainData, testData, clipGradNorm: 0 }), { instanceOf: RangeError, message: /clipGradNorm/ });
  t.throws(() => train({ model, optimizer, epochs: 1, batchSize: 8, seed: 0, trainData, testData, resume: true }), { instanceOf: RangeError, message: /resume needs a checkpointDir/ });
  t.throws(() => train({ model, optimizer, epochs: 1, batchSize: 8, seed: 0, trainData, testData, epoch: 3 } as never), { instanceOf: TypeError, message: /unknown option "epoch"/ });
});

const PY = process.env.FERROPTIM_TORCH_PYTHON ?? '/tmp/torch2/bin/python';
const hasTorch = existsSync(PY) && spawnSync(PY, ['-c', 'import torch, safetensors'], { encoding: 'utf8' }).status === 0;

(hasTorch ? test : test.skip)('PyTorch loads the saved weights into the same nn.Sequential and gets the same logits', (t) => {
  const model = cnn({ seed: 9 });
  const path = join(tmp, 'cnn.safetensors');
  saveWeights(model, path);
  const x = { data: new Float32Array(2 * 784).map((_, i) => (i % 97) / 97), shape: [2, 1, 28, 28] };
  const ours = Array.from(model.eval().forward(x).data);
  const script = `
import json, sys, torch, torch.nn as nn
from safetensors.torch import load_file
m = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
m.load_state_dict(load_file(sys.argv[1]))
x = torch.tensor([(i % 97) / 97 for i in range(2 * 784)], dtype=torch.float32).reshape(2, 1, 28, 28)
print(json.dumps(m(x).detach().reshape(-1).tolist()))
`;
  const r = spawnSync(PY, ['-c', script, path], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const theirs = JSON.parse(r.stdout) as number[];
  t.is(theirs.length, 20);
  for (let i = 0; i < 20; i++) t.true(Math.abs(theirs[i]! - ours[i]!) < 1e-4, `${i}: ${theirs[i]} vs ${ours[i]}`);
  t.deepEqual(Object.keys(decodeSafetensors(readFileSync(path)).tensors).sort(), ['0.bias', '0.weight', '3.bias', '3.weight', '7.bias', '7.weight', '9.bias', '9.weight']);
});
