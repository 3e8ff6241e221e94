/**
 * The optimizers of today on MNIST: the article's SimpleCNN trained for 5 epochs (batch 128, from
 * the same initial weights and batches) with
 *  - AdamW (lr 1e-3, weight decay 0.01) under a cosine schedule over all steps,
 *  - Muon for the hidden weight matrix (fc1, lr 0.02) with AdamW for the rest (the convolutions,
 *    the biases and the output layer), both under the same cosine schedule (one MultiOptimizer),
 *  - Schedule-Free AdamW (lr 2.5e-3, weight decay 0.01) without any schedule;
 * then test accuracy per epoch and seconds per epoch, and a plot of test accuracy per epoch.
 *
 *   node --import @oxc-node/core/register cli/examples/muon-schedule-free.ts [--small]
 *
 * --small, or FERROPTIM_EXAMPLE_SMALL=1, runs it at a small size in seconds. Writes
 * runs/examples/muon-schedule-free.{svg,png} (or into $FERROPTIM_EXAMPLE_OUT).
 */
import { join } from 'node:path';
import { AdamW, AdamWScheduleFree, CosineAnnealingLR, MultiOptimizer, Muon, cnn, loadMnist, numBatches, splitMuonParams, train, type Module, type TrainableOptimizer } from 'ferroptim';
import { lineChart, savePlot } from 'ferroptim-cli';

const small = process.argv.includes('--small') || process.env.FERROPTIM_EXAMPLE_SMALL === '1';
const outDir = process.env.FERROPTIM_EXAMPLE_OUT ?? 'runs/examples';
const epochs = small ? 2 : 5;
const batchSize = 128;
const trainData = loadMnist({ split: 'train', ...(small ? { limit: 512 } : {}) });
const testData = loadMnist({ split: 'test', ...(small ? { limit: 500 } : {}) });
const steps = epochs * numBatches(trainData.length, batchSize);
const initial = cnn({ seed: 0 }).stateDict();

const runs: Record<string, (m: Module) => { optimizer: TrainableOptimizer; cosine: boolean }> = {
  'AdamW + cosine': (m) => ({ optimizer: new AdamW(m.parameters(), { lr: 1e-3, weightDecay: 0.01 }), cosine: true }),
  'Muon (fc1) + AdamW + cosine': (m) => {
    // 7.weight is fc1 (3136 → 128); the convolutions are 4-D and 9.weight is the output layer.
    const { muon, adamw } = splitMuonParams(m.parameters(), { exclude: ['9'] });
    return { optimizer: new MultiOptimizer([new Muon(muon, { lr: 0.02 }), new AdamW(adamw, { lr: 1e-3, weightDecay: 0.01 })]), cosine: true };
  },
  'Schedule-Free AdamW': (m) => ({ optimizer: new AdamWScheduleFree(m.parameters(), { lr: 2.5e-3, weightDecay: 0.01 }), cosine: false }),
};

const series: Array<{ name: string; x: number[]; y: number[] }> = [];
for (const [name, make] of Object.entries(runs)) {
  const model = cnn();
  model.loadStateDict(initial); // the same initial weights for every run
  const { optimizer, cosine } = make(model);
  const scheduler = cosine ? new CosineAnnealingLR(optimizer as never, { tMax: steps }) : undefined;
  const { metrics } = train({ model, optimizer, scheduler, schedulerInterval: 'batch', epochs, batchSize, seed: 0, trainData, testData });
  const accuracy = metrics.map((m) => 100 * m.testAccuracy);
  const seconds = metrics.reduce((s, m) => s + m.seconds, 0) / metrics.length;
  console.log(`${name}: test accuracy ${accuracy.map((a) => `${a.toFixed(2)}%`).join(', ')}; ${seconds.toFixed(1)} s per epoch`);
  series.push({ name, x: metrics.map((m) => m.epoch), y: accuracy });
}

const chart = lineChart(series, { title: 'MNIST, SimpleCNN: Muon and Schedule-Free AdamW against AdamW with Cosine', xTitle: 'Epoch', yTitle: 'Test Accuracy (%)', legendTitle: 'Optimizer' });
const plot = await savePlot(chart, join(outDir, 'muon-schedule-free'));
console.log(`wrote ${plot.svg} and ${plot.png}`);
