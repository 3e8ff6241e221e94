/**
 * A TensorFlow.js model trained by `model.fit` with ferroptim's AdamW: the article's MLP
 * (784 → 128 ReLU → 10) as a tfjs-layers model on MNIST, with a warm-up + cosine schedule stepped
 * after every batch, gradient clipping at norm 1 and a GradNormMonitor, on tfjs's wasm backend
 * (`--backend cpu` for the pure-JS one).
 *
 *   node --import @tensorflow/tfjs-backend-wasm --import @oxc-node/core/register cli/examples/tfjs-fit.ts [--small] [--backend wasm|cpu]
 *
 * Needs `@tensorflow/tfjs` and `@tensorflow/tfjs-backend-wasm` (development dependencies of this
 * repository; a user installs them beside ferroptim). --small, or FERROPTIM_EXAMPLE_SMALL=1, runs
 * it at a small size in seconds.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { AdamW, GradNormMonitor, LambdaLR, loadMnist, warmupCosine, type ImageDataset } from 'ferroptim';
import { parametersOf, TfjsOptimizer } from 'ferroptim/tfjs';

const small = process.argv.includes('--small') || process.env.FERROPTIM_EXAMPLE_SMALL === '1';
const backendFlag = process.argv.indexOf('--backend');
const backend = backendFlag > 0 ? process.argv[backendFlag + 1]! : 'wasm';
const epochs = small ? 2 : 5;
const batchSize = 64;
const peakLr = 2e-3;

await tf.setBackend(backend);
await tf.ready();

/** MNIST as tfjs tensors: images scaled to [0, 1] and normalised as the article does, one-hot labels. */
function tensors(data: ImageDataset): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = new Float32Array(data.length * 784);
  for (let i = 0; i < x.length; i++) x[i] = (data.pixels[i]! / 255 - 0.1307) / 0.3081;
  return { x: tf.tensor2d(x, [data.length, 784]), y: tf.oneHot(tf.tensor1d(data.labels.subarray(0, data.length), 'int32'), 10).toFloat() as tf.Tensor2D };
}
const train = tensors(loadMnist({ split: 'train', ...(small ? { limit: 2048 } : {}) }));
const test = tensors(loadMnist({ split: 'test', ...(small ? { limit: 1000 } : {}) }));

const model = tf.sequential({
  layers: [
    tf.layers.dense({ inputShape: [784], units: 128, activation: 'relu', kernelInitializer: tf.initializers.heUniform({ seed: 0 }) }),
    tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
  ],
});

// ferroptim's AdamW on the model's weights, a schedule and a monitor on it, as in PyTorch.
const adamw = new AdamW(parametersOf(model), { lr: peakLr, weightDecay: 0.01 });
const steps = epochs * Math.ceil(train.x.shape[0] / batchSize);
const schedule = warmupCosine({ peakLr, warmupSteps: Math.round(steps / 10), totalSteps: steps });
const scheduler = new LambdaLR(adamw, { lrLambda: (step) => schedule(step) / peakLr });
const monitor = new GradNormMonitor(adamw); // sees the gradients as stepped (after clipping)
const optimizer = new TfjsOptimizer(adamw, { clipGradNorm: 1.0 });
model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
let clipped = 0;

const started = performance.now();
await model.fit(train.x, train.y, {
  epochs,
  batchSize,
  validationData: [test.x, test.y],
  verbose: 0,
  callbacks: {
    onBatchEnd: async () => {
      if (optimizer.lastGradNorm! > 1.0) clipped++;
      scheduler.step();
    },
    onEpochEnd: async (epoch, logs) => {
      const lr = adamw.paramGroups[0]!.lr;
      console.log(
        `epoch ${epoch + 1}: loss ${logs!.loss!.toFixed(4)}, test accuracy ${(100 * logs!.val_acc!).toFixed(2)}%, lr ${lr.toExponential(2)}, grad norm (EMA) ${monitor.ema.toFixed(3)}, steps clipped ${clipped}`,
      );
      clipped = 0;
    },
  },
});
const seconds = (performance.now() - started) / 1000;
console.log(`${steps} steps of model.fit on the ${tf.getBackend()} backend in ${seconds.toFixed(1)} s; tf.memory().numTensors ${tf.memory().numTensors}`);
