/**
 * The article's RAdam-versus-Adam comparison: two copies of the SimpleCNN with the same initial
 * weights (model_radam.load_state_dict(model_adam.state_dict())), Adam and RAdam at lr 1e-3, the
 * first epoch batch by batch. RAdam's rectification damps the earliest steps, where Adam's
 * second-moment estimate is still noisy.
 *
 *   node --import @oxc-node/core/register cli/examples/adam-vs-radam.ts [--small]
 *
 * 'ferroptim' and 'ferroptim-cli' are this repository's two packages (a clone's `npm install` builds both). --small, or
 * FERROPTIM_EXAMPLE_SMALL=1, runs it at a small size in seconds.
 *
 * Writes runs/examples/adam-vs-radam.{svg,png} (or into $FERROPTIM_EXAMPLE_OUT).
 */
import { join } from 'node:path';
import { Adam, CrossEntropyLoss, Generator, RAdam, batches, cnn, loadMnist } from 'ferroptim';
import { lineChart, savePlot } from 'ferroptim-cli';

const small = process.argv.includes('--small') || process.env.FERROPTIM_EXAMPLE_SMALL === '1';
const outDir = process.env.FERROPTIM_EXAMPLE_OUT ?? 'runs/examples';
const trainData = loadMnist({ split: 'train', limit: small ? 512 : 12_800 });

const modelAdam = cnn({ seed: 0 });
const modelRadam = cnn({ seed: 1 });
modelRadam.loadStateDict(modelAdam.stateDict()); // copy the initial weights

const runs = [
  { name: 'Adam', model: modelAdam, optimizer: new Adam(modelAdam.parameters(), { lr: 0.001 }) },
  { name: 'RAdam', model: modelRadam, optimizer: new RAdam(modelRadam.parameters(), { lr: 0.001 }) },
];
const criterion = new CrossEntropyLoss();
const losses: Record<string, number[]> = {};
for (const { name, model, optimizer } of runs) {
  losses[name] = [];
  for (const { x, y } of batches(trainData, { batchSize: 128, shuffle: true, generator: new Generator(0) })) {
    optimizer.zeroGrad();
    const loss = criterion.forward(model.forward(x), y);
    model.backward(criterion.backward(), false); // false: no gradient for the input images
    optimizer.step();
    losses[name]!.push(loss);
  }
  const l = losses[name]!;
  console.log(`${name}: batch 1 loss ${l[0]!.toFixed(4)}, batch ${l.length} loss ${l.at(-1)!.toFixed(4)}`);
}

const chart = lineChart(
  Object.entries(losses).map(([name, l]) => ({ name, x: l.map((_, i) => i + 1), y: l })),
  { title: 'Adam vs RAdam: First Epoch, Batch by Batch', xTitle: 'Batch', yTitle: 'Loss' },
);
const plot = await savePlot(chart, join(outDir, 'adam-vs-radam'));
console.log(`wrote ${plot.svg} and ${plot.png}`);
