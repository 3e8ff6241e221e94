/**
 * The article's optimizer comparison on MNIST: the SimpleCNN trained with SGD (momentum 0.9),
 * Adam, RMSprop and AdamW (weight decay 0.01), lr 1e-3, batch 128, every optimizer from the same
 * initial weights; then the article's plot of average loss per epoch.
 *
 *   node --import @oxc-node/core/register cli/examples/mnist-compare.ts [--small]
 *
 * 'ferroptim' and 'ferroptim-cli' are this repository's two packages (a clone's `npm install` builds both). --small, or
 * FERROPTIM_EXAMPLE_SMALL=1, runs it at a small size in seconds.
 *
 * Writes runs/examples/mnist-compare.{svg,png} (or into $FERROPTIM_EXAMPLE_OUT).
 */
import { join } from 'node:path';
import { Adam, AdamW, CrossEntropyLoss, Generator, RMSprop, SGD, batches, cnn, evaluate, loadMnist, type Module } from 'ferroptim';
import { lineChart, savePlot } from 'ferroptim-cli';

const small = process.argv.includes('--small') || process.env.FERROPTIM_EXAMPLE_SMALL === '1';
const outDir = process.env.FERROPTIM_EXAMPLE_OUT ?? 'runs/examples';
const epochs = small ? 2 : 5;
const trainData = loadMnist({ split: 'train', ...(small ? { limit: 256 } : {}) });
const testData = loadMnist({ split: 'test', ...(small ? { limit: 256 } : {}) });

const makeOptimizer = {
  SGD: (m: Module, lr: number) => new SGD(m.parameters(), { lr, momentum: 0.9 }),
  Adam: (m: Module, lr: number) => new Adam(m.parameters(), { lr }),
  RMSprop: (m: Module, lr: number) => new RMSprop(m.parameters(), { lr }),
  AdamW: (m: Module, lr: number) => new AdamW(m.parameters(), { lr, weightDecay: 0.01 }),
};
const initial = cnn({ seed: 0 }).stateDict();

function trainWithOptimizer(name: keyof typeof makeOptimizer, lr = 0.001): number[] {
  const model = cnn();
  model.loadStateDict(initial); // the same initial weights for every optimizer
  const criterion = new CrossEntropyLoss();
  const optimizer = makeOptimizer[name](model, lr);
  const shuffle = new Generator(0); // and the same batches
  const losses: number[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    let epochLoss = 0;
    let count = 0;
    for (const { x, y } of batches(trainData, { batchSize: 128, shuffle: true, generator: shuffle })) {
      optimizer.zeroGrad();
      const output = model.forward(x);
      const loss = criterion.forward(output, y);
      model.backward(criterion.backward(), false); // false: no gradient for the input images
      optimizer.step();
      epochLoss += loss;
      if (count % 100 === 0) console.log(`${name} - Epoch ${epoch}, Batch ${count}, Loss: ${loss.toFixed(4)}`);
      count++;
    }
    losses.push(epochLoss / count);
  }
  const { accuracy } = evaluate(model, testData);
  console.log(`${name}: test accuracy ${(100 * accuracy).toFixed(2)}%`);
  return losses;
}

const results: Record<string, number[]> = {};
for (const name of small ? (['SGD', 'Adam'] as const) : (['SGD', 'Adam', 'RMSprop', 'AdamW'] as const)) {
  console.log(`\nTraining with ${name}`);
  results[name] = trainWithOptimizer(name);
}

const chart = lineChart(
  Object.entries(results).map(([name, losses]) => ({ name, x: losses.map((_, i) => i + 1), y: losses })),
  { title: 'Optimizer Comparison on MNIST', xTitle: 'Epoch', yTitle: 'Average Loss', points: true, integerX: true },
);
const plot = await savePlot(chart, join(outDir, 'mnist-compare'));
console.log(`wrote ${plot.svg} and ${plot.png}`);
