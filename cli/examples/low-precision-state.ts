/**
 * Low-precision optimizer state on MNIST: the article's SimpleCNN trained for 5 epochs with Adam
 * (lr 1e-3, batch 128), from the same initial weights and batches, once per `stateDtype`
 * (float32, bfloat16, int8); then test accuracy per epoch, seconds per epoch and the bytes of
 * optimizer state per parameter.
 *
 *   node --import @oxc-node/core/register cli/examples/low-precision-state.ts [--small]
 *
 * --small, or FERROPTIM_EXAMPLE_SMALL=1, runs it at a small size in seconds.
 */
import { Adam, cnn, loadMnist, train, type StateDtype } from 'ferroptim';

const small = process.argv.includes('--small') || process.env.FERROPTIM_EXAMPLE_SMALL === '1';
const epochs = small ? 2 : 5;
const trainData = loadMnist({ split: 'train', ...(small ? { limit: 512 } : {}) });
const testData = loadMnist({ split: 'test', ...(small ? { limit: 500 } : {}) });
const initial = cnn({ seed: 0 }).stateDict();

for (const stateDtype of ['float32', 'bfloat16', 'int8'] as StateDtype[]) {
  const model = cnn();
  model.loadStateDict(initial); // the same initial weights for every run
  const optimizer = new Adam(model.parameters(), { lr: 1e-3, stateDtype });
  const { metrics } = train({ model, optimizer, epochs, batchSize: 128, seed: 0, trainData, testData });
  const accuracy = metrics.map((m) => `${(100 * m.testAccuracy).toFixed(2)}%`).join(', ');
  const seconds = metrics.reduce((s, m) => s + m.seconds, 0) / metrics.length;
  const perParam = optimizer.stateByteLength / model.parameters().reduce((n, p) => n + p.numel, 0);
  console.log(`${stateDtype}: test accuracy ${accuracy}; ${seconds.toFixed(1)} s per epoch; ${perParam.toFixed(2)} bytes of state per parameter`);
}
