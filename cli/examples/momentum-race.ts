/**
 * The article's "SGD vs Momentum on the Rosenbrock function", with ferroptim's SGD: the weights
 * are one float32 Parameter, the gradient goes into its grad, and optimizer.step() moves it.
 * Then the same race through ferroptim's demo API, drawn over the contour plot.
 *
 *   node --import @oxc-node/core/register cli/examples/momentum-race.ts [--small]
 *
 * 'ferroptim' and 'ferroptim-cli' are this repository's two packages (a clone's `npm install` builds both). --small, or
 * FERROPTIM_EXAMPLE_SMALL=1, runs it at a small size in seconds.
 *
 * Writes runs/examples/momentum-race.{svg,png} (or into $FERROPTIM_EXAMPLE_OUT).
 */
import { join } from 'node:path';
import { Parameter, SGD } from 'ferroptim';
import { race, raceChart, savePlot } from 'ferroptim-cli';

const small = process.argv.includes('--small') || process.env.FERROPTIM_EXAMPLE_SMALL === '1';
const outDir = process.env.FERROPTIM_EXAMPLE_OUT ?? 'runs/examples';
const steps = small ? 100 : 1000;

function rosenbrock(x: number, y: number): number {
  return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2;
}

function rosenbrockGrad(x: number, y: number): [number, number] {
  const dx = -2 * (1 - x) - 400 * x * (y - x ** 2);
  const dy = 200 * (y - x ** 2);
  return [dx, dy];
}

// Two copies of the start point (-1, 1), one per optimizer.
const posSgd = new Parameter(Float32Array.of(-1, 1), { name: 'sgd' });
const posMom = new Parameter(Float32Array.of(-1, 1), { name: 'momentum' });
const sgd = new SGD([posSgd], { lr: 0.001 });
// PyTorch's momentum buffer, b ← 0.9·b + g (b = g on the first step), is the article's velocity.
const momentum = new SGD([posMom], { lr: 0.001, momentum: 0.9 });

for (let i = 0; i < steps; i++) {
  for (const [p, opt] of [[posSgd, sgd], [posMom, momentum]] as const) {
    opt.zeroGrad();
    p.grad!.set(rosenbrockGrad(p.data[0]!, p.data[1]!));
    opt.step();
  }
}

const show = (p: Parameter) => `[${p.data[0]!.toFixed(6)} ${p.data[1]!.toFixed(6)}], Loss: ${rosenbrock(p.data[0]!, p.data[1]!).toFixed(4)}`;
console.log(`SGD final position: ${show(posSgd)}`);
console.log(`Momentum final position: ${show(posMom)}`);

// The same race with the demo API, plus Adam, and its picture.
const result = race('rosenbrock', { start: [-1, 1], steps, optimizers: ['sgd:lr=0.001', 'sgd:lr=0.001,momentum=0.9', 'adam:lr=0.01'] });
const plot = await savePlot(await raceChart(result), join(outDir, 'momentum-race'));
console.log(`wrote ${plot.svg} and ${plot.png}`);
