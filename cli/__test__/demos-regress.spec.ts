/** `regress()`: the article's mini-batch linear regression with a ferroptim optimizer. */
import test from 'ava';
import { regress } from './helpers/api.js';

test("the article's settings: 1000×10, batch 32, 100 epochs, SGD lr 0.01 — 3200 batch losses, printed every 20 epochs, down to the noise", (t) => {
  const r = regress();
  t.is(r.batchesPerEpoch, 32); // 31 of 32 and one of 8, as range(0, 1000, 32)
  t.is(r.losses.length, 100 * 32);
  t.deepEqual(r.log.map((l) => l.epoch), [0, 20, 40, 60, 80]);
  t.is(r.log[1]!.loss, r.losses[20 * 32 + 31]); // the epoch's last batch, as the article prints
  t.is(r.optimizer, 'sgd:lr=0.01');
  t.true(r.losses[0]! > 1, `starts high: ${r.losses[0]}`);
  // y has noise 0.1·N(0, 1): the best possible MSE is about 0.01.
  const last = r.epochLosses.at(-1)!;
  t.true(last > 0.005 && last < 0.02, `last epoch's mean loss ${last}`);
  for (let j = 0; j < 10; j++) t.true(Math.abs(r.weights[j]! - r.trueWeights[j]!) < 0.03, `weight ${j}`);
});

test('regress is deterministic for a seed and differs across seeds', (t) => {
  const a = regress({ epochs: 3 });
  const b = regress({ epochs: 3 });
  const c = regress({ epochs: 3, seed: 7 });
  t.deepEqual(a.losses, b.losses);
  t.deepEqual(a.weights, b.weights);
  t.notDeepEqual(a.losses, c.losses);
});

test('regress takes any optimizer spec and sizes; the last batch is smaller', (t) => {
  const r = regress({ optimizer: 'adam:lr=0.05', samples: 100, features: 3, batchSize: 40, epochs: 30, logEvery: 10 });
  t.is(r.batchesPerEpoch, 3);
  t.is(r.losses.length, 90);
  t.deepEqual(r.log.map((l) => l.epoch), [0, 10, 20]);
  t.true(r.epochLosses.at(-1)! < r.epochLosses[0]!);
  t.is(r.weights.length, 3);
});

test('regress gives L-BFGS a closure per batch: each batch loss is the one before the step, and it fits the data', (t) => {
  const r = regress({ optimizer: 'lbfgs:lr=1,maxIter=5,lineSearchFn=strong_wolfe', samples: 200, features: 4, batchSize: 200, epochs: 3, logEvery: 1 });
  t.is(r.losses.length, 3);
  t.true(r.losses[2]! < r.losses[0]! / 10, `losses ${Array.from(r.losses).join(', ')}`);
  const sgd = regress({ optimizer: 'sgd:lr=0.01', samples: 200, features: 4, batchSize: 200, epochs: 3, logEvery: 1 });
  t.is(sgd.losses[0], r.losses[0], 'the first batch loss is taken before any step, whatever the optimizer');
});

test('regress with SGD lr 3 blows up: the first non-finite batch loss is reported, and every batch still has its loss', (t) => {
  const r = regress({ optimizer: 'sgd:lr=3', epochs: 5 });
  t.like(r.diverged, { epoch: 2, batch: 20 });
  const k = 32 + 19;
  t.false(Number.isFinite(r.losses[k]!));
  t.true(r.losses.subarray(0, k).every(Number.isFinite));
  t.true(Object.is(r.diverged!.loss, r.losses[k]));
  t.is(r.losses.length, 5 * 32);
  t.is(regress({ epochs: 3 }).diverged, undefined);
});

test('regress rejects bad options', (t) => {
  t.throws(() => regress({ batchSize: 0 }), { instanceOf: RangeError, message: /batchSize/ });
  t.throws(() => regress({ epochs: 1.5 }), { instanceOf: RangeError, message: /epochs/ });
  t.throws(() => regress({ optimizer: 'sgd:lr=x' }), { instanceOf: TypeError, message: 'SGD: expected lr to be a finite number >= 0, received "x"' });
  t.throws(() => regress({ lr: 0.1 } as never), { instanceOf: TypeError, message: /unknown option "lr"/ });
});
