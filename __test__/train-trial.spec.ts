/**
 * `train` with a hyperparameter-search trial: the test metric is reported after every epoch (and
 * every `reportEvery` steps), and training stops where the trial's pruner says so. The trial here
 * is a recording stand-in with the two methods `train` uses; ferroptim-tune's own tests run the
 * real Trial and pruners through it.
 */
import test from 'ava';
import { Adam, loadMnist, mlp, train, trainAsync, type TrainTrial } from '../ts/index.js';

const trainData = loadMnist({ split: 'train', limit: 256 });
const testData = loadMnist({ split: 'test', limit: 200 });

function recorder(pruneAt: number | null, asPromise = false): TrainTrial & { reports: Array<[number, number]> } {
  const reports: Array<[number, number]> = [];
  return {
    reports,
    report: (value, step) => void reports.push([value, step]),
    shouldPrune: () => {
      const yes = pruneAt !== null && reports.length >= pruneAt;
      return asPromise ? Promise.resolve(yes) : yes;
    },
  };
}

const base = () => {
  const model = mlp({ seed: 0 });
  return { model, optimizer: new Adam(model.parameters(), { lr: 1e-3 }), batchSize: 64, seed: 0, trainData, testData };
};

test('every epoch reports its test accuracy at step = epoch; a trial that never prunes changes nothing', (t) => {
  const trial = recorder(null);
  const r = train({ ...base(), epochs: 3, trial });
  const plain = train({ ...base(), epochs: 3 });
  t.deepEqual(trial.reports, r.metrics.map((m) => [m.testAccuracy, m.epoch]));
  t.deepEqual(r.metrics.map((m) => m.testAccuracy), plain.metrics.map((m) => m.testAccuracy));
  t.is(r.pruned, undefined);
});

test('the pruner stops training after the epoch it judges, and the result says where', (t) => {
  const trial = recorder(2);
  const r = train({ ...base(), epochs: 5, trial });
  t.is(r.metrics.length, 2);
  t.deepEqual(r.pruned, { epoch: 2, batch: 4, step: 2, value: r.metrics[1]!.testAccuracy });
});

test('reportEvery evaluates every N training steps, counted across epochs, and reportMetric picks the loss', async (t) => {
  const trial = recorder(null, true);
  const r = await trainAsync({ ...base(), epochs: 2, trial, reportEvery: 3, reportMetric: 'testLoss' });
  // 4 batches per epoch: mid-epoch steps 3 and 6, epoch ends at steps 4 and 8.
  t.deepEqual(trial.reports.map(([, s]) => s), [3, 4, 6, 8]);
  t.is(trial.reports[1]![0], r.metrics[0]!.testLoss);
  t.is(trial.reports[3]![0], r.metrics[1]!.testLoss);
});

test('a pruning verdict inside an epoch stops before the next batch', async (t) => {
  const trial = recorder(1, true);
  const r = await trainAsync({ ...base(), epochs: 2, trial, reportEvery: 2 });
  t.is(r.metrics.length, 0);
  t.deepEqual(r.pruned, { epoch: 1, batch: 2, step: 2, value: trial.reports[0]![0] });
});

test('train (synchronous) refuses a trial whose shouldPrune returns a promise, naming trainAsync', (t) => {
  const e = t.throws(() => train({ ...base(), epochs: 1, trial: recorder(null, true) }), { instanceOf: TypeError });
  t.regex(e!.message, /trainAsync/);
});

test('bad trial options are refused before training', (t) => {
  t.throws(() => train({ ...base(), epochs: 1, trial: {} as never }), { instanceOf: TypeError, message: /expected trial to have report\(\) and shouldPrune\(\)/ });
  t.throws(() => train({ ...base(), epochs: 1, reportEvery: 2 }), { instanceOf: RangeError, message: /reportEvery needs a trial/ });
  t.throws(() => train({ ...base(), epochs: 1, trial: recorder(null), reportEvery: 0 }), { instanceOf: RangeError, message: /reportEvery/ });
  t.throws(() => train({ ...base(), epochs: 1, trial: recorder(null), reportMetric: 'accuracy' as never }), { instanceOf: RangeError, message: /reportMetric.*"accuracy"/ });
});
