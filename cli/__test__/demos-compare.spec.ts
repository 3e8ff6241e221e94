/** `compare()`: the article's MNIST comparison, on 200 images so it is quick. */
import test from 'ava';
import { ARTICLE_OPTIMIZER_OPTIONS, compare, loadMnist, type CompareRun } from './helpers/api.js';

const trainData = loadMnist({ split: 'train', limit: 200 });
const testData = loadMnist({ split: 'test', limit: 200 });

test("the article's four optimizers with its settings, from the same weights on the same batches", (t) => {
  const r = compare({ epochs: 2, batchSize: 64, trainData, testData, perBatch: true });
  t.deepEqual(r.runs.map((x) => x.label), ['SGD', 'Adam', 'RMSprop', 'AdamW']);
  t.deepEqual(r.runs.map((x) => x.options), [{ lr: 1e-3, momentum: 0.9 }, { lr: 1e-3 }, { lr: 1e-3 }, { lr: 1e-3, weightDecay: 0.01 }]);
  t.deepEqual(ARTICLE_OPTIMIZER_OPTIONS.adamw, { weightDecay: 0.01 });
  t.is(r.model, 'cnn');
  t.is(r.trainSize, 200);
  for (const run of r.runs) {
    t.is(run.metrics.length, 2);
    t.is(run.batchLosses!.length, 2 * 4);
    t.true(run.metrics.every((m) => m.seconds > 0 && m.testAccuracy >= 0 && m.testAccuracy <= 1));
    t.true(Math.abs(run.metrics[0]!.trainLoss - (run.batchLosses!.slice(0, 4).reduce((a, b) => a + b) / 4)) < 1e-12);
  }
  // Same initial weights and the same first batch: the first loss is the same for everyone.
  const first = r.runs.map((x) => x.batchLosses![0]);
  t.true(first.every((v) => v === first[0]), String(first));
  // Adam moves faster than SGD at lr 1e-3 (the article's "Adam converges fastest initially").
  t.true(r.runs[1]!.metrics[1]!.trainLoss < r.runs[0]!.metrics[1]!.trainLoss);
});

test('adam vs radam per batch, full specs as written, the MLP, callbacks', (t) => {
  const seen: string[] = [];
  const r = compare({
    optimizers: ['adam', 'radam', 'sgd:lr=0.05,momentum=0.5'], model: 'mlp', epochs: 1, maxBatches: 3, batchSize: 32, trainData, testData, perBatch: true,
    onStart: (n) => seen.push(`start ${n}`),
    onEpoch: (n, m) => seen.push(`${n} ${m.epoch}`),
  });
  t.deepEqual(r.runs.map((x) => x.label), ['Adam', 'RAdam', 'sgd:lr=0.05,momentum=0.5']);
  t.deepEqual(r.runs[2]!.options, { lr: 0.05, momentum: 0.5 });
  t.deepEqual(seen, ['start Adam', 'Adam 1', 'start RAdam', 'RAdam 1', 'start sgd:lr=0.05,momentum=0.5', 'sgd:lr=0.05,momentum=0.5 1']);
  for (const run of r.runs) t.is(run.batchLosses!.length, 3);
  // Same first loss (same weights, same batch); then RAdam's rectified early steps part from Adam's.
  t.is(r.runs[0]!.batchLosses![0], r.runs[1]!.batchLosses![0]);
  t.not(r.runs[0]!.batchLosses![2], r.runs[1]!.batchLosses![2]);
});

test('a run whose loss stops being finite stops there and says where; the others train on', (t) => {
  const r = compare({ optimizers: ['adam', 'sgd:lr=1e9'], model: 'mlp', epochs: 2, batchSize: 50, trainData, testData, perBatch: true });
  const [adam, sgd] = r.runs as [CompareRun, CompareRun];
  t.is(adam.diverged, undefined);
  t.is(adam.metrics.length, 2);
  t.is(adam.batchLosses!.length, 8);
  t.like(sgd.diverged, { epoch: 1 });
  t.false(Number.isFinite(sgd.diverged!.loss));
  // The batches before the diverging one, all finite; no epoch was completed.
  t.is(sgd.batchLosses!.length, sgd.diverged!.batch - 1);
  t.true(sgd.batchLosses!.every(Number.isFinite));
  t.deepEqual(sgd.metrics, []);
});

test('compare rejects bad options before training', (t) => {
  t.throws(() => compare({ optimizers: ['sgdd'], trainData, testData }), { instanceOf: RangeError, message: /received "sgdd"/ });
  t.throws(() => compare({ optimizers: [], trainData, testData }), { instanceOf: RangeError });
  t.throws(() => compare({ model: 'resnet' as never, trainData, testData }), { instanceOf: RangeError, message: /model/ });
  t.throws(() => compare({ lr: 0, trainData, testData }), { instanceOf: RangeError, message: /lr/ });
});
