/**
 * The article's mini-batch linear regression, written as a backend training script would with
 * ferroptim: the weights are a Parameter, the gradient of the MSE is computed by hand and written
 * into its grad, and SGD steps it. Prints the loss every 20 epochs, as the article does.
 *
 *   node --import @oxc-node/core/register cli/examples/sgd-regression.ts [--small]
 *
 * 'ferroptim' and 'ferroptim-cli' are this repository's two packages (a clone's `npm install` builds both). --small, or
 * FERROPTIM_EXAMPLE_SMALL=1, runs it at a small size in seconds.
 */
import { Generator, Parameter, SGD } from 'ferroptim';

const small = process.argv.includes('--small') || process.env.FERROPTIM_EXAMPLE_SMALL === '1';
const [n, d, batchSize, epochs] = small ? [200, 10, 32, 21] : [1000, 10, 32, 100];

// np.random.seed(42) → a seeded ferroptim Generator; normals by Box–Muller.
const g = new Generator(42);
const randn = () => Math.sqrt(-2 * Math.log(1 - g.uniform53())) * Math.cos(2 * Math.PI * g.uniform53());

// X = randn(n, d); y = X @ randn(d) + randn(n) * 0.1
const X = Float64Array.from({ length: n * d }, randn);
const trueW = Float64Array.from({ length: d }, randn);
const y = Float64Array.from({ length: n }, (_, i) => {
  let s = 0;
  for (let j = 0; j < d; j++) s += X[i * d + j]! * trueW[j]!;
  return s + randn() * 0.1;
});

// w = randn(d) * 0.01, trained by SGD(lr=0.01)
const w = new Parameter(Float32Array.from({ length: d }, () => randn() * 0.01), { name: 'w' });
const optimizer = new SGD([w], { lr: 0.01 });
const losses: number[] = [];

for (let epoch = 0; epoch < epochs; epoch++) {
  const indices = g.permutation(n);
  let loss = 0;
  for (let start = 0; start < n; start += batchSize) {
    const batch = indices.subarray(start, start + batchSize);
    // Forward: pred = X_batch @ w, loss = mean((pred − y)²)
    const residual = Array.from(batch, (i) => {
      let pred = 0;
      for (let j = 0; j < d; j++) pred += X[i * d + j]! * w.data[j]!;
      return pred - y[i]!;
    });
    loss = residual.reduce((s, r) => s + r * r, 0) / batch.length;
    // Backward: grad = 2 · X_batchᵀ (pred − y) / B, into w.grad
    optimizer.zeroGrad();
    batch.forEach((i, b) => {
      for (let j = 0; j < d; j++) w.grad![j]! += (2 * X[i * d + j]! * residual[b]!) / batch.length;
    });
    optimizer.step();
    losses.push(loss);
  }
  if (epoch % 20 === 0) console.log(`Epoch ${epoch}, Loss: ${loss.toFixed(4)}`);
}

const err = Math.max(...Array.from(w.data, (v, j) => Math.abs(v - trueW[j]!)));
console.log(`${losses.length} mini-batch steps; largest weight error ${err.toExponential(2)}`);
