/**
 * `ferroptim/tfjs` on the two backends it reaches directly: fidelity to tfjs's own optimizers in
 * `model.fit` (the article's 784-128-10 MLP); on `cpu`, the default path (one copy out per step,
 * and arrays read from a variable keep their values, as with tfjs's optimizers) and the
 * `inPlace: true` path (the variable's own Float32Array written, nothing reallocated after the
 * first step, copy-on-write towards every tensor sharing the storage); the copying path on
 * `wasm`; all three bit-identical to each other and to plain ferroptim; and no tensor leaked over
 * 1,000 steps. Tests switch backends, so they run serially.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { Adam, OPTIMIZERS, Parameter, SGD, type OptimizerStateDict } from '../ts/index.js';
import { parametersOf, TfjsOptimizer, type TransferStats } from '../ts/tfjs/index.js';
import { values } from './helpers/data.js';

/**
 * A backend whose storage the adapter cannot see: tfjs's cpu backend and kernels under another
 * name, as tfjs-node or webgl would be (the adapter reads them with dataSync() and writes them
 * with tf.tensor()).
 */
await tf.setBackend('cpu');
const CpuBackend = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend;
tf.registerBackend('opaque', () => new CpuBackend(), -1);
tf.copyRegisteredKernels('cpu', 'opaque');

/** The paths: cpu copying (the default), cpu in place, wasm (copying; inPlace is ignored there), a backend the adapter only copies. */
const MODES = [
  { label: 'cpu', backend: 'cpu', inPlace: false },
  { label: 'cpu inPlace', backend: 'cpu', inPlace: true },
  { label: 'wasm', backend: 'wasm', inPlace: false },
  { label: 'opaque backend', backend: 'opaque', inPlace: true },
] as const;

/** The bytes of a float32 array, copied (on cpu `dataSync()` returns the live storage, which the adapter writes in place). */
const bytesOf = (a: ArrayLike<number>): string => Buffer.from(Float32Array.from(a).buffer).toString('hex');
const tensorBytes = (t: tf.Tensor): string => bytesOf(t.dataSync() as Float32Array);
/** The cpu backend's own storage of a tensor. */
const cpuStorage = (t: tf.Tensor): unknown => (tf.backend() as unknown as { data: { get(id: object): { values: unknown } } }).data.get(t.dataId).values;

function maxAbsDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let m = 0;
  a.forEach((x, j) => {
    const y = b[j]!;
    if (x.length !== y.length) throw new Error(`tensor ${j}: ${x.length} vs ${y.length} elements`);
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  });
  return m;
}

// ---------------------------------------------------------------------------------------------
// 1. Fidelity: model.fit with tfjs's optimizer vs the adapter, the article's MLP

const B = 32;
const STEPS = 12;

/** The article's MLP: 784 → 128 relu → 10 softmax, seeded so that every copy starts identical. */
function articleMlp(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [784], units: 128, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: 'zeros' }));
  m.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), biasInitializer: 'zeros' }));
  return m;
}

/**
 * MNIST-shaped synthetic data: pixels uniform in [0, 1], labels cycling over the ten classes.
 * (Real MNIST has pixels that are almost never lit; their gradients are of the order of Adam's ε,
 * where m̂/(√v̂+ε) magnifies the last-bit differences between two implementations by orders of
 * magnitude, so it is no measure of fidelity.) Made on the current backend: tfjs 4.22 moves
 * a cpu tensor cast from int32 to wasm as its int32 bytes.
 */
function fidelityData(): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  const n = B * STEPS;
  const xs = tf.tensor2d(values(7, 0, 0, n * 784).map((v) => (v + 1) / 2), [n, 784]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from({ length: n }, (_, i) => (i * 7 + 3) % 10), 'int32'), 10).toFloat() as tf.Tensor2D);
  return { xs, ys };
}

/** Fits one epoch (shuffle off) and returns the weights after every batch. */
async function fitSnapshots(makeOptimizer: (m: tf.LayersModel) => tf.Optimizer, data: { xs: tf.Tensor2D; ys: tf.Tensor2D }): Promise<{ initial: Float32Array[]; steps: Float32Array[][] }> {
  const m = articleMlp();
  const snapshot = () => m.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
  const initial = snapshot();
  const optimizer = makeOptimizer(m);
  m.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const steps: Float32Array[][] = [];
  await m.fit(data.xs, data.ys, { batchSize: B, epochs: 1, shuffle: false, verbose: 0, callbacks: { onBatchEnd: async () => void steps.push(snapshot()) } });
  m.dispose();
  optimizer.dispose();
  return { initial, steps };
}

// Measured here (x86-64): after step 1 at most 1.5e-8 (2 ulp of the largest weights; tfjs
// computes the bias corrections from float32 powers of β, ferroptim in double), after steps 2-12
// at most 8.6e-7 on cpu and 8.3e-7 on wasm (5.8e-7 without ava's FERROPTIM_PAR_MIN=32768), flat from step 2
// on; ferroptim's default ε = 1e-8 instead ends 3.8e-4 away.
const ADAM_STEP1_TOL = 6e-8;
const ADAM_TOL = 3.5e-6;

for (const { label, backend, inPlace } of MODES) {
  test.serial(`${label}: model.fit with Adam({ lr, eps: 1e-7 }) follows tf.train.adam(lr) to ${ADAM_TOL.toExponential()} after each of ${STEPS} steps`, async (t) => {
    await tf.setBackend(backend);
    const data = fidelityData();
    const lr = 1e-3;
    const ref = await fitSnapshots(() => tf.train.adam(lr), data);
    const ours = await fitSnapshots((m) => new TfjsOptimizer(new Adam(parametersOf(m), { lr, eps: 1e-7 }), { inPlace }), data);
    // The two copies start identical, and training moves the weights far beyond the tolerance.
    t.deepEqual(ours.initial.map(bytesOf), ref.initial.map(bytesOf));
    t.is(ours.steps.length, STEPS);
    t.true(maxAbsDiff(ref.steps[STEPS - 1]!, ref.initial) > 5e-3);
    const diffs = ref.steps.map((w, s) => maxAbsDiff(w, ours.steps[s]!));
    t.log(`${label} max |Δw| per step: ${diffs.map((d) => d.toExponential(1)).join(' ')}`);
    t.true(diffs[0]! <= ADAM_STEP1_TOL, `step 1: ${diffs[0]}`);
    diffs.forEach((d, s) => t.true(d <= ADAM_TOL, `step ${s + 1}: max |Δw| = ${d}`));
    // ferroptim's default ε (1e-8) is a different optimizer: the bound tells them apart.
    const eps8 = await fitSnapshots((m) => new TfjsOptimizer(new Adam(parametersOf(m), { lr }), { inPlace }), data);
    const eps8Diff = maxAbsDiff(ref.steps[STEPS - 1]!, eps8.steps[STEPS - 1]!);
    t.log(`${label} with eps 1e-8: ${eps8Diff.toExponential(1)}`);
    t.true(eps8Diff > 4 * ADAM_TOL);
    tf.dispose([data.xs, data.ys]);
  });

  test.serial(`${label}: model.fit with SGD and momentum SGD is bit-identical to tf.train.sgd and tf.train.momentum after every step`, async (t) => {
    await tf.setBackend(backend);
    const data = fidelityData();
    // tfjs: v ← m·v + g (v₀ = 0, so v₁ = g); w ← w + (−lr)·v: PyTorch's SGD with dampening 0.
    const cases = [
      { name: 'sgd', ref: () => tf.train.sgd(0.1), ours: (m: tf.LayersModel) => new SGD(parametersOf(m), { lr: 0.1 }) },
      { name: 'momentum', ref: () => tf.train.momentum(0.05, 0.9), ours: (m: tf.LayersModel) => new SGD(parametersOf(m), { lr: 0.05, momentum: 0.9 }) },
    ];
    for (const c of cases) {
      const ref = await fitSnapshots(c.ref, data);
      const ours = await fitSnapshots((m) => new TfjsOptimizer(c.ours(m), { inPlace }), data);
      t.true(maxAbsDiff(ref.steps[STEPS - 1]!, ref.initial) > 1e-3, c.name);
      ref.steps.forEach((w, s) => t.deepEqual(ours.steps[s]!.map(bytesOf), w.map(bytesOf), `${c.name} step ${s + 1}`));
    }
    // Momentum matters: plain SGD at the same lr ends elsewhere.
    const momentum = await fitSnapshots(() => tf.train.momentum(0.05, 0.9), data);
    const plain = await fitSnapshots((m) => new TfjsOptimizer(new SGD(parametersOf(m), { lr: 0.05 }), { inPlace }), data);
    t.true(maxAbsDiff(momentum.steps[STEPS - 1]!, plain.steps[STEPS - 1]!) > 1e-4);
    tf.dispose([data.xs, data.ys]);
  });
}


// ---------------------------------------------------------------------------------------------
// 2. cpu: the default path copies out once a step; inPlace: true writes the variable's own storage

const ones = (shape: number[]) => tf.ones(shape);

test.serial('cpu (default): each step writes the variables out once, as new tensors; arrays and slices read from a variable before a step keep their values', async (t) => {
  await tf.setBackend('cpu');
  const v = tf.variable(tf.tensor(values(1, 0, 0, 6), [2, 3]));
  const w = tf.variable(tf.tensor(values(1, 0, 1, 1000), [1000]));
  const opt = new TfjsOptimizer(new SGD(parametersOf([v, w]), { lr: 0.5 }));
  const grads = { [v.name]: ones([2, 3]), [w.name]: ones([1000]) };
  opt.applyGradients(grads);
  // Read once and written once at the first step, written once at the next ones.
  t.deepEqual(opt.lastTransfer, { backend: 'cpu', inPlace: 0, copied: 2, gradsInPlace: 2, gradsCopied: 0, bytesCopied: 8 * 1006 });
  for (let step = 2; step <= 3; step++) {
    const storage = cpuStorage(v);
    const synced = v.dataSync() as Float32Array;
    const awaited = (await v.data()) as Float32Array;
    const slice = v.slice([0, 0], [1, 3]); // a contiguous slice: on cpu a view of the storage
    const beforeValues = Float32Array.from(synced);
    const before = bytesOf(beforeValues);
    const sliceBefore = tensorBytes(slice);
    t.is(synced as unknown, storage); // tfjs hands out the storage itself
    opt.applyGradients(grads);
    t.deepEqual(opt.lastTransfer, { backend: 'cpu', inPlace: 0, copied: 2, gradsInPlace: 2, gradsCopied: 0, bytesCopied: 4 * 1006 });
    t.is(bytesOf(synced), before);
    t.is(bytesOf(awaited), before);
    t.is(tensorBytes(slice), sliceBefore);
    t.deepEqual([...(v.dataSync() as Float32Array)], [...beforeValues].map((x) => Math.fround(x - 0.5)));
    t.not(cpuStorage(v), storage);
    slice.dispose();
  }
  opt.dispose();
  tf.dispose([v, w, ...Object.values(grads)]);
});

test.serial('cpu inPlace: variables are stepped in their own Float32Array, kept across steps; the second step copies nothing', async (t) => {
  await tf.setBackend('cpu');
  const v = tf.variable(tf.tensor(values(1, 0, 0, 6), [2, 3]));
  const w = tf.variable(tf.tensor(values(1, 0, 1, 1000), [1000]));
  const opt = new TfjsOptimizer(new SGD(parametersOf([v, w]), { lr: 0.5 }), { inPlace: true });
  const grads = { [v.name]: ones([2, 3]), [w.name]: ones([1000]) };
  opt.applyGradients(grads);
  // The first step gave each variable a buffer of its own (read once, written once: 8 bytes an element).
  t.deepEqual(opt.lastTransfer, { backend: 'cpu', inPlace: 2, copied: 0, gradsInPlace: 2, gradsCopied: 0, bytesCopied: 8 * 1006 });
  const sv = cpuStorage(v);
  const sw = cpuStorage(w);
  t.true(sv instanceof Float32Array && sw instanceof Float32Array);
  for (let step = 2; step <= 4; step++) {
    const before = Float32Array.from(sv as Float32Array);
    opt.applyGradients(grads);
    t.deepEqual(opt.lastTransfer, { backend: 'cpu', inPlace: 2, copied: 0, gradsInPlace: 2, gradsCopied: 0, bytesCopied: 0 } satisfies TransferStats);
    // Same arrays, and the update happened in them (so an array read by dataSync() sees it: the documented trade-off).
    t.is(cpuStorage(v), sv);
    t.is(cpuStorage(w), sw);
    t.deepEqual([...(sv as Float32Array)], [...before].map((x) => Math.fround(x - 0.5)));
  }
  t.is(opt.iterations, 4);
  opt.dispose();
  tf.dispose([v, w, ...Object.values(grads)]);
});

for (const inPlace of [false, true]) {
  const label = inPlace ? 'cpu inPlace' : 'cpu';
  test.serial(`${label}: the user's Float32Array a variable was made from is never written, nor is a tensor sharing its storage`, async (t) => {
    await tf.setBackend('cpu');
    const arr = values(2, 0, 0, 12);
    const original = bytesOf(arr);
    const init = tf.tensor(arr, [3, 4]);
    // tfjs's cpu backend keeps the caller's array itself, and the variable shares it with `init`.
    t.is(cpuStorage(init), arr);
    const v = tf.variable(init);
    t.is(cpuStorage(v), arr);
    const opt = new TfjsOptimizer(new Adam(parametersOf([v]), { lr: 0.1 }), { inPlace });
    const g = tf.tensor(values(2, 1, 0, 12), [3, 4]);
    for (let i = 0; i < 3; i++) opt.applyGradients({ [v.name]: g });
    t.is(bytesOf(arr), original);
    t.is(tensorBytes(init), original);
    t.not(tensorBytes(v), original);
    t.not(cpuStorage(v), arr);
    opt.dispose();
    tf.dispose([init, v, g]);
  });

  test.serial(`${label}: after the user's v.assign(other), the next step starts from the new value and leaves \`other\` alone`, async (t) => {
    await tf.setBackend('cpu');
    const v = tf.variable(tf.tensor(values(4, 0, 0, 5), [5]));
    const opt = new TfjsOptimizer(new SGD(parametersOf([v]), { lr: 0.5 }), { inPlace });
    const g = ones([5]);
    opt.applyGradients({ [v.name]: g });
    opt.applyGradients({ [v.name]: g });
    const other = tf.tensor([10, 20, 30, 40, 50]);
    v.assign(other);
    opt.applyGradients({ [v.name]: g });
    t.deepEqual([...(v.dataSync() as Float32Array)], [9.5, 19.5, 29.5, 39.5, 49.5]);
    t.deepEqual([...(other.dataSync() as Float32Array)], [10, 20, 30, 40, 50]);
    t.is(opt.lastTransfer!.bytesCopied, 8 * 5); // the new value read once, the result written once
    opt.applyGradients({ [v.name]: g });
    t.deepEqual([...(v.dataSync() as Float32Array)], [9, 19, 29, 39, 49]);
    t.deepEqual([...(other.dataSync() as Float32Array)], [10, 20, 30, 40, 50]);
    opt.dispose();
    tf.dispose([v, g, other]);
  });
}

test.serial('cpu inPlace: a clone or a reshape of a variable kept alive across a step keeps its values (copy-on-write), and the step reallocates once', async (t) => {
  await tf.setBackend('cpu');
  const v = tf.variable(tf.tensor(values(3, 0, 0, 8), [2, 4]));
  const opt = new TfjsOptimizer(new SGD(parametersOf([v]), { lr: 0.25 }), { inPlace: true });
  const g = ones([2, 4]);
  opt.applyGradients({ [v.name]: g });
  const owned = cpuStorage(v);
  for (const share of [(x: tf.Variable) => tf.clone(x), (x: tf.Variable) => x.reshape([8])]) {
    const held = share(v);
    t.is(cpuStorage(held), cpuStorage(v)); // really the same storage
    const before = Float32Array.from(v.dataSync() as Float32Array);
    opt.applyGradients({ [v.name]: g });
    // The shared storage was left alone: the variable got a copy (8 bytes an element), then stepped it.
    t.deepEqual(opt.lastTransfer, { backend: 'cpu', inPlace: 1, copied: 0, gradsInPlace: 1, gradsCopied: 0, bytesCopied: 8 * 8 });
    t.is(tensorBytes(held), bytesOf(before));
    t.deepEqual([...(v.dataSync() as Float32Array)], [...before].map((x) => Math.fround(x - 0.25)));
    t.not(cpuStorage(v), owned);
    // Once the variable's buffer is its own again, steps are in place.
    const mine = cpuStorage(v);
    opt.applyGradients({ [v.name]: g });
    t.is(opt.lastTransfer!.bytesCopied, 0);
    t.is(cpuStorage(v), mine);
    t.is(tensorBytes(held), bytesOf(before));
    held.dispose();
  }
  opt.dispose();
  tf.dispose([v, g]);
});

test.serial('cpu inPlace: a gradient in the storage of a variable stepped in place (the variable itself, a slice of it), before or after it, is copied: same result as the copying path', async (t) => {
  await tf.setBackend('cpu');
  const N = 40000; // past FERROPTIM_PAR_MIN: the multithreaded step
  type Case = (a: tf.Variable, b: tf.Variable, step: number) => tf.NamedTensorMap;
  const fresh = (j: number, step: number) => tf.tensor(values(8, step, j, N));
  const cases: Array<[string, Case]> = [
    ['a ← b', (a, b, step) => ({ [a.name]: b, [b.name]: fresh(1, step) })],
    ['a ← slice of b', (a, b, step) => ({ [a.name]: b.slice([0], [N]), [b.name]: fresh(1, step) })],
    ['b ← a', (a, b, step) => ({ [a.name]: fresh(0, step), [b.name]: a })],
  ];
  for (const [what, grads] of cases) {
    const run = (inPlace: boolean) => {
      const a = tf.variable(tf.tensor(values(8, 0, 0, N)));
      const b = tf.variable(tf.tensor(values(8, 0, 1, N)));
      const opt = new TfjsOptimizer(new Adam(parametersOf([a, b]), { lr: 0.1 }), { inPlace });
      for (let step = 1; step <= 3; step++) opt.applyGradients(grads(a, b, step));
      const out = { weights: [a, b].map(tensorBytes), transfer: opt.lastTransfer! };
      opt.dispose();
      tf.dispose([a, b]);
      return out;
    };
    const copying = run(false);
    const inPlace = run(true);
    t.deepEqual(inPlace.weights, copying.weights, what);
    t.like(inPlace.transfer, { inPlace: 2, gradsInPlace: 1, gradsCopied: 1 }, what);
  }
});

// ---------------------------------------------------------------------------------------------
// 3. wasm: gradients read in place, variables written once; same bits as cpu and plain ferroptim

const SHAPES = [[3, 5], [7], [33, 17], [1]];

/** Five Adam steps through the adapter with fixed gradients; the variables' final bytes and the transfer of each step. */
async function adapterRun(backend: string, inPlace: boolean): Promise<{ weights: string[]; transfers: TransferStats[]; state: string }> {
  await tf.setBackend(backend);
  const vars = SHAPES.map((s, j) => tf.variable(tf.tensor(values(5, 0, j, s.reduce((a, b) => a * b, 1)), s)));
  const opt = new TfjsOptimizer(new Adam(parametersOf(vars), { lr: 0.01, weightDecay: 0.1 }), { inPlace });
  const transfers: TransferStats[] = [];
  for (let step = 1; step <= 5; step++) {
    const grads = SHAPES.map((s, j) => ({ name: vars[j]!.name, tensor: tf.tensor(values(5, step, j, s.reduce((a, b) => a * b, 1)), s) }));
    opt.applyGradients(grads);
    transfers.push(opt.lastTransfer!);
    tf.dispose(grads.map((g) => g.tensor));
  }
  const out = { weights: vars.map(tensorBytes), transfers, state: JSON.stringify(Object.values((opt.stateDict() as OptimizerStateDict).state)) };
  opt.dispose();
  tf.dispose(vars);
  return out;
}

test.serial('wasm: every variable is copied (read once, then written once a step), every gradient read in place, inPlace ignored; bit-identical to both cpu paths and to plain ferroptim', async (t) => {
  const wasm = await adapterRun('wasm', false);
  const wasmInPlace = await adapterRun('wasm', true);
  const cpu = await adapterRun('cpu', false);
  const cpuInPlace = await adapterRun('cpu', true);
  const n = SHAPES.length;
  const elements = SHAPES.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  t.deepEqual(wasm.transfers[0], { backend: 'wasm', inPlace: 0, copied: n, gradsInPlace: n, gradsCopied: 0, bytesCopied: 8 * elements });
  for (const tr of wasm.transfers.slice(1)) t.deepEqual(tr, { backend: 'wasm', inPlace: 0, copied: n, gradsInPlace: n, gradsCopied: 0, bytesCopied: 4 * elements });
  t.deepEqual(wasmInPlace.transfers, wasm.transfers);
  for (const tr of cpu.transfers.slice(1)) t.deepEqual(tr, { backend: 'cpu', inPlace: 0, copied: n, gradsInPlace: n, gradsCopied: 0, bytesCopied: 4 * elements });
  for (const tr of cpuInPlace.transfers.slice(1)) t.deepEqual(tr, { backend: 'cpu', inPlace: n, copied: 0, gradsInPlace: n, gradsCopied: 0, bytesCopied: 0 });
  for (const other of [wasmInPlace, cpu, cpuInPlace]) {
    t.deepEqual(other.weights, wasm.weights);
    t.is(other.state, wasm.state);
  }
  // Plain ferroptim on Float32Arrays, same gradients.
  const params = SHAPES.map((s, j) => new Parameter(values(5, 0, j, s.reduce((a, b) => a * b, 1)), { shape: s }));
  const plain = new Adam(params, { lr: 0.01, weightDecay: 0.1 });
  for (let step = 1; step <= 5; step++) {
    params.forEach((p, j) => (p.grad = values(5, step, j, p.numel)));
    plain.step();
  }
  t.deepEqual(wasm.weights, params.map((p) => bytesOf(p.data)));
  plain.dispose();
});

test.serial('a backend the adapter cannot see into: variables read once and written once a step, gradients copied, inPlace ignored; bit-identical to cpu; arrays read before a step keep their values', async (t) => {
  const opaque = await adapterRun('opaque', true);
  const cpu = await adapterRun('cpu', false);
  const n = SHAPES.length;
  const elements = SHAPES.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  t.deepEqual(opaque.transfers[0], { backend: 'opaque', inPlace: 0, copied: n, gradsInPlace: 0, gradsCopied: n, bytesCopied: 12 * elements });
  for (const tr of opaque.transfers.slice(1)) t.deepEqual(tr, { backend: 'opaque', inPlace: 0, copied: n, gradsInPlace: 0, gradsCopied: n, bytesCopied: 8 * elements });
  t.deepEqual(opaque.weights, cpu.weights);
  t.is(opaque.state, cpu.state);
  // tfjs's rule holds there too: what was read from a variable before a step does not change.
  await tf.setBackend('opaque');
  const v = tf.variable(tf.tensor([1, 2, 3, 4]));
  const opt = new TfjsOptimizer(new SGD(parametersOf([v]), { lr: 0.5 }), { inPlace: true });
  const g = tf.ones([4]);
  opt.applyGradients({ [v.name]: g });
  const before = v.dataSync();
  const kept = Float32Array.from(before);
  opt.applyGradients({ [v.name]: g });
  t.deepEqual(Array.from(before), Array.from(kept));
  t.deepEqual(Array.from(v.dataSync()), [0, 1, 2, 3]);
  opt.dispose();
  tf.dispose([v, g]);
});

test.serial('wasm: the updated weights reach the next forward pass (XNNPACK caches no stale weights): predict after a step equals a fresh model with those weights', async (t) => {
  await tf.setBackend('wasm');
  const data = fidelityData();
  const m = articleMlp();
  const opt = new TfjsOptimizer(new Adam(parametersOf(m), { lr: 1e-2, eps: 1e-7 }), { inPlace: true });
  m.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
  const x = data.xs.slice([0, 0], [8, 784]);
  const p0 = tensorBytes(tf.tidy(() => m.predict(x) as tf.Tensor));
  await m.fit(data.xs.slice([0, 0], [64, 784]), data.ys.slice([0, 0], [64, 10]), { batchSize: 32, epochs: 1, shuffle: false, verbose: 0 });
  const fresh = articleMlp();
  fresh.setWeights(m.getWeights().map((w) => tf.tensor(Float32Array.from(w.dataSync() as Float32Array), w.shape)));
  const p1 = tensorBytes(tf.tidy(() => m.predict(x) as tf.Tensor));
  t.not(p1, p0);
  t.is(p1, tensorBytes(tf.tidy(() => fresh.predict(x) as tf.Tensor)));
  opt.dispose();
  tf.dispose([data.xs, data.ys, x]);
});

// ---------------------------------------------------------------------------------------------
// 4. No tensor leaks

function smallModel(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [8], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  m.add(tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }));
  return m;
}

for (const { label, backend, inPlace } of MODES) {
  test.serial(`${label}: tf.memory() is the same before and after 1,000 minimize steps and 1,000 applyGradients steps`, async (t) => {
    await tf.setBackend(backend);
    const m = smallModel();
    const xs = tf.tensor2d(values(6, 0, 0, 16 * 8), [16, 8]);
    const ys = tf.tensor2d(values(6, 0, 1, 16 * 4), [16, 4]);
    const opt = new TfjsOptimizer(new Adam(parametersOf(m), { lr: 1e-3 }), { clipGradNorm: 1, inPlace });
    const loss = () => tf.losses.meanSquaredError(ys, m.predict(xs) as tf.Tensor) as tf.Scalar;
    const lossValue = () => tf.tidy(() => loss().dataSync()[0]!);
    const loss0 = lossValue();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 1000; i++) opt.minimize(loss);
    t.is(tf.memory().numTensors, before);
    // The steps did happen.
    t.true(lossValue() < 0.5 * loss0);
    const bytes = tf.memory().numBytes;
    const grads = m.trainableWeights.map((w, j) => ({ name: (w.read() as tf.Variable).name, tensor: tf.tensor(values(6, 1, j, w.read().size), w.read().shape) }));
    const withGrads = tf.memory().numTensors;
    for (let i = 0; i < 1000; i++) opt.applyGradients(grads);
    t.is(tf.memory().numTensors, withGrads);
    tf.dispose(grads.map((g) => g.tensor));
    t.is(tf.memory().numTensors, before);
    t.is(tf.memory().numBytes, bytes);
    t.is(opt.iterations, 2000);
    opt.dispose();
    tf.dispose([xs, ys]);
    m.dispose();
  });
}

test.serial('a param group added to the wrapped optimizer after wrapping is stepped from the next step; a plain Parameter added is a TypeError before anything changes', async (t) => {
  await tf.setBackend('cpu');
  const a = tf.variable(tf.tensor([1, 2]));
  const b = tf.variable(tf.tensor([3, 4, 5]));
  const sgd = new SGD(parametersOf([a]), { lr: 0.5 });
  const opt = new TfjsOptimizer(sgd);
  const ga = tf.ones([2]);
  const gb = tf.ones([3]);
  opt.applyGradients({ [a.name]: ga });
  sgd.addParamGroup({ params: parametersOf([b]), lr: 1 });
  t.deepEqual(opt.parameters().map((p) => p.variable), [a, b]);
  opt.applyGradients({ [a.name]: ga, [b.name]: gb });
  t.deepEqual(Array.from(a.dataSync()), [0, 1]);
  t.deepEqual(Array.from(b.dataSync()), [2, 3, 4]);
  sgd.addParamGroup({ params: [new Parameter(new Float32Array(2))] });
  t.throws(() => opt.applyGradients({ [a.name]: ga }), { instanceOf: TypeError, message: /parameter 2 to be bound to a tf\.Variable/ });
  t.deepEqual(Array.from(a.dataSync()), [0, 1]);
  opt.dispose();
  tf.dispose([a, b, ga, gb]);
});

test.serial('every optimizer of the registry through the adapter is bit-identical to the same optimizer on Float32Arrays, in every mode (cpu, cpu inPlace, wasm, a backend it only copies)', async (t) => {
  const shapes = [[6, 5], [5], [3, 2, 2]];
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  for (const [name, { Class }] of Object.entries(OPTIMIZERS)) {
    const plain = shapes.map((s, j) => new Parameter(values(9, 0, j, size(s)), { shape: s }));
    // A Schedule-Free optimizer starts in eval mode: train() to step it, eval() to read x.
    const modes = (o: object) => o as { train?(): void; eval?(): void };
    const reference = new Class(plain, { lr: 0.01 });
    modes(reference).train?.();
    for (let step = 1; step <= 4; step++) {
      plain.forEach((p, j) => (p.grad = values(9, step, j, p.numel)));
      reference.step();
    }
    modes(reference).eval?.();
    const expected = plain.map((p) => bytesOf(p.data));
    for (const { label, backend, inPlace } of MODES) {
      await tf.setBackend(backend);
      const vars = shapes.map((s, j) => tf.variable(tf.tensor(values(9, 0, j, size(s)), s)));
      const opt = new TfjsOptimizer(new Class(parametersOf(vars), { lr: 0.01 }), { inPlace });
      opt.train();
      for (let step = 1; step <= 4; step++) {
        const grads = vars.map((v, j) => ({ name: v.name, tensor: tf.tensor(values(9, step, j, v.size), v.shape) }));
        opt.applyGradients(grads);
        tf.dispose(grads.map((g) => g.tensor));
      }
      // The variables follow eval() (Schedule-Free's x), on every path.
      opt.eval();
      t.deepEqual(vars.map(tensorBytes), expected, `${name} on ${label}`);
      t.deepEqual(JSON.stringify(Object.values((opt.stateDict() as OptimizerStateDict).state)), JSON.stringify(Object.values(reference.stateDict().state)), `${name} state on ${label}`);
      opt.dispose();
      tf.dispose(vars);
    }
    reference.dispose();
  }
});
