/**
 * The article's Optuna study with ferroptim-tune: the optimizer (Adam, SGD or AdamW), a
 * log-uniform learning rate in [1e-5, 1e-1], SGD's momentum in [0.8, 0.99] only for SGD and
 * AdamW's weight decay, log-uniform in [1e-5, 1e-2], only for AdamW; each trial trains the MLP
 * and returns its validation accuracy (the last 10,000 training images), reported after every
 * epoch so the median pruner can stop hopeless trials; 50 trials, maximized.
 *
 *   node --import @oxc-node/core/register cli/examples/article-study.ts [--small]
 *
 * 'ferroptim' and 'ferroptim-tune' are this repository's packages (a clone's `npm install` builds
 * them). --small, or FERROPTIM_EXAMPLE_SMALL=1, runs 8 trials of one epoch on 2,048 images. The
 * `ferroptim tune` command runs the same study with workers, a progress bar and plots.
 */
import { Adam, AdamW, SGD, loadMnist, mlp, trainAsync, type ImageDataset } from 'ferroptim';
import { createStudy, TPESampler, TrialPruned } from 'ferroptim-tune';

const small = process.argv.includes('--small') || process.env.FERROPTIM_EXAMPLE_SMALL === '1';
const all = loadMnist({ split: 'train' });
/** Images [from, to) of the training split, without copying. */
const slice = (from: number, to: number): ImageDataset => ({
  ...all,
  length: to - from,
  pixels: all.pixels.subarray(from * 784, to * 784),
  labels: all.labels.subarray(from, to),
});
const trainData = slice(0, small ? 2048 : 50_000);
const validation = slice(small ? 59_000 : 50_000, 60_000);

const study = await createStudy({ direction: 'maximize', sampler: new TPESampler({ seed: 0 }) });
await study.optimize(
  async (trial) => {
    const name = trial.suggestCategorical('optimizer', ['adam', 'sgd', 'adamw']);
    const lr = trial.suggestFloat('lr', 1e-5, 1e-1, { log: true });
    const model = mlp({ seed: 0 });
    const params = model.parameters();
    const optimizer =
      name === 'sgd'
        ? new SGD(params, { lr, momentum: trial.suggestFloat('momentum', 0.8, 0.99) })
        : name === 'adam'
          ? new Adam(params, { lr })
          : new AdamW(params, { lr, weightDecay: trial.suggestFloat('weight_decay', 1e-5, 1e-2, { log: true }) });
    // With `trial`, the validation accuracy goes to the pruner after each epoch.
    const r = await trainAsync({ model, optimizer, epochs: small ? 1 : 2, batchSize: 128, seed: 0, trainData, testData: validation, trial });
    if (r.pruned) throw new TrialPruned();
    return r.metrics.at(-1)!.testAccuracy;
  },
  { nTrials: small ? 8 : 50 },
);
const counts = [0, 1, 2, 3].map((s) => study.trials.filter((t) => t.state === s).length);
console.log(`${study.trials.length} trials: ${counts[1]} complete, ${counts[2]} pruned, ${counts[3]} failed`);
console.log(`Best validation accuracy: ${(100 * study.bestValue).toFixed(2)}%`);
console.log(`Best optimizer config: ${JSON.stringify(study.bestParams)}`);
