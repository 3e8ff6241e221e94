/**
 * The article's example end to end on real MNIST: a tfjs-layers MLP (784 → 128 relu → 10
 * softmax) trained by `model.fit` on the wasm backend with ferroptim's AdamW, a warmup-cosine
 * schedule through LambdaLR stepped in `onBatchEnd`, and gradient clipping at norm 1.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { AdamW, LambdaLR, loadMnist, warmupCosine, type ImageDataset } from '../ts/index.js';
import { parametersOf, TfjsOptimizer } from '../ts/tfjs/index.js';

const TRAIN = 30000;
const TEST = 5000;
const EPOCHS = 2;
const BATCH = 64;
const PEAK = 5e-3;

const pixels = (d: ImageDataset) => tf.tensor2d(Float32Array.from(d.pixels, (p) => p / 255), [d.length, 784]);

test('MNIST (30,000 images, 2 epochs, wasm): AdamW + warmup-cosine + clipGradNorm 1 through model.fit reaches >= 93% test accuracy', async (t) => {
  await tf.setBackend('wasm');
  const train = loadMnist({ split: 'train', limit: TRAIN });
  const testSet = loadMnist({ split: 'test', limit: TEST });
  const xs = pixels(train);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(train.labels, 'int32'), 10).toFloat());
  const xt = pixels(testSet);

  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [784], units: 128, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  const steps = Math.ceil(TRAIN / BATCH) * EPOCHS;
  const schedule = warmupCosine({ peakLr: PEAK, warmupSteps: Math.round(steps / 10), totalSteps: steps });
  const adamw = new AdamW(parametersOf(model), { lr: PEAK, weightDecay: 0.01 });
  const scheduler = new LambdaLR(adamw, { lrLambda: (s) => schedule(s) / PEAK });
  const optimizer = new TfjsOptimizer(adamw, { clipGradNorm: 1 });
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });

  const lrs: number[] = [];
  let clipped = 0;
  const history = await model.fit(xs, ys, {
    batchSize: BATCH,
    epochs: EPOCHS,
    shuffle: false,
    verbose: 0,
    callbacks: {
      onBatchBegin: async () => void lrs.push(adamw.paramGroups[0]!.lr),
      onBatchEnd: async () => {
        if (optimizer.lastGradNorm! > 1) clipped++;
        scheduler.step();
      },
    },
  });

  const predicted = tf.tidy(() => (model.predict(xt) as tf.Tensor).argMax(1).dataSync());
  let correct = 0;
  for (let i = 0; i < TEST; i++) if (predicted[i] === testSet.labels[i]) correct++;
  const accuracy = correct / TEST;
  const loss = history.history.loss as number[];
  t.log(`test accuracy ${accuracy}, loss per epoch ${loss.map((l) => l.toFixed(3)).join(', ')}, ${clipped}/${steps} steps clipped`);

  // Measured: 0.9558 (loss 0.383, 0.109; 158 of 938 steps clipped), in about 9 s. For comparison
  // tf.train.adam(1e-3), no schedule, no clipping, gets 0.932 on the same data. Chance is 0.1; the
  // bound leaves room for other SIMD paths and tfjs versions.
  t.true(accuracy >= 0.93, `test accuracy ${accuracy}`);
  t.true(loss[1]! < loss[0]!);
  // The schedule was followed step by step: from 0, up to the peak, down to 0.
  t.is(lrs.length, steps);
  lrs.forEach((lr, s) => t.true(Math.abs(lr - schedule(s)) <= 1e-15, `step ${s}: lr ${lr} vs ${schedule(s)}`));
  t.is(Math.max(...lrs), schedule(Math.round(steps / 10)));
  t.is(adamw.paramGroups[0]!.lr, 0);
  t.true(clipped > 0);
  t.is(optimizer.iterations, steps);
  t.deepEqual(optimizer.lastTransfer, { backend: 'wasm', inPlace: 0, copied: 4, gradsInPlace: 4, gradsCopied: 0, bytesCopied: 4 * (784 * 128 + 128 + 128 * 10 + 10) });
  tf.dispose([xs, ys, xt]);
});
