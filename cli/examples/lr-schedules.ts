/**
 * The article's best practices in one training script: AdamW with decoupled weight decay, a
 * linear warm-up followed by cosine annealing (SequentialLR), gradient clipping, and a monitor of
 * gradient norms, training the MLP on MNIST.
 *
 *   node --import @oxc-node/core/register cli/examples/lr-schedules.ts [--small]
 *
 * 'ferroptim' and 'ferroptim-cli' are this repository's two packages (a clone's `npm install` builds both). --small, or
 * FERROPTIM_EXAMPLE_SMALL=1, runs it at a small size in seconds.
 *
 * Writes runs/examples/lr-schedules.{svg,png} (or into $FERROPTIM_EXAMPLE_OUT).
 */
import { join } from 'node:path';
import { AdamW, CosineAnnealingLR, CrossEntropyLoss, Generator, GradNormMonitor, LinearLR, SequentialLR, batches, clipGradNorm, evaluate, loadMnist, mlp, numBatches } from 'ferroptim';
import { lineChart, savePlot } from 'ferroptim-cli';

const small = process.argv.includes('--small') || process.env.FERROPTIM_EXAMPLE_SMALL === '1';
const outDir = process.env.FERROPTIM_EXAMPLE_OUT ?? 'runs/examples';
const epochs = small ? 2 : 5;
const batchSize = 128;
const trainData = loadMnist({ split: 'train', ...(small ? { limit: 1024 } : {}) });
const testData = loadMnist({ split: 'test', ...(small ? { limit: 500 } : {}) });

const model = mlp({ seed: 0 });
const optimizer = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.01 });
const monitor = new GradNormMonitor(optimizer);
// Warm up over the first epoch, then cosine-anneal to zero; stepped after every batch.
const perEpoch = numBatches(trainData.length, batchSize);
const total = epochs * perEpoch;
const scheduler = new SequentialLR(optimizer, {
  schedulers: [new LinearLR(optimizer, { startFactor: 0.1, totalIters: perEpoch }), new CosineAnnealingLR(optimizer, { tMax: total - perEpoch })],
  milestones: [perEpoch],
});
const criterion = new CrossEntropyLoss();
const shuffle = new Generator(0);
const lrs: number[] = [];

for (let epoch = 1; epoch <= epochs; epoch++) {
  let sum = 0;
  let count = 0;
  for (const { x, y } of batches(trainData, { batchSize, shuffle: true, generator: shuffle })) {
    optimizer.zeroGrad();
    const loss = criterion.forward(model.forward(x), y);
    model.backward(criterion.backward(), false); // false: no gradient for the input images
    clipGradNorm(model.parameters(), 1.0);
    optimizer.step();
    lrs.push(optimizer.paramGroups[0]!.lr);
    scheduler.step();
    sum += loss;
    count++;
  }
  const { accuracy } = evaluate(model, testData);
  console.log(`epoch ${epoch}: loss ${(sum / count).toFixed(4)}, test accuracy ${(100 * accuracy).toFixed(2)}%, lr ${optimizer.paramGroups[0]!.lr.toExponential(2)}, grad norm (EMA) ${monitor.ema.toFixed(3)}`);
}

const chart = lineChart([{ name: 'warm-up + cosine', x: lrs.map((_, i) => i + 1), y: lrs }], {
  title: 'Learning Rate Schedule: Linear Warm-up, then Cosine Annealing',
  xTitle: 'Step',
  yTitle: 'Learning Rate',
  legendTitle: 'Schedule',
});
const plot = await savePlot(chart, join(outDir, 'lr-schedules'));
console.log(`wrote ${plot.svg} and ${plot.png}`);
