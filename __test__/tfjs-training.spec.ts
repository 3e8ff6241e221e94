/**
 * `ferroptim/tfjs` in training: `model.fit` with callbacks, a scheduler stepped in `onBatchEnd`
 * (checked bit for bit against tfjs's SGD with the same lr set before each batch), a
 * GradNormMonitor, `skipNonFinite`, the `clipGradNorm` option (against ferroptim's own clipping
 * on copies), Lookahead; and saving: `model.save({ includeOptimizer: true })` then
 * `tf.loadLayersModel` resumes bit for bit, bound explicitly or at the first step, and a state dict
 * through JSON loads into a new adapter.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { Adam, AdamW, clipGradNorm, CosineAnnealingLR, GradNormMonitor, LambdaLR, Lookahead, Optimizer, Parameter, SGD } from '../ts/index.js';
import { parametersOf, TfjsOptimizer } from '../ts/tfjs/index.js';
import { sameDeep } from './helpers/compare.js';
import { values } from './helpers/data.js';

/** The three paths: cpu copying (the default), cpu in place, wasm. */
const MODES = [
  { label: 'cpu', backend: 'cpu', inPlace: false },
  { label: 'cpu inPlace', backend: 'cpu', inPlace: true },
  { label: 'wasm', backend: 'wasm', inPlace: false },
] as const;

const bytesOf = (a: ArrayLike<number>): string => Buffer.from(Float32Array.from(a).buffer).toString('hex');
const tensorBytes = (t: tf.Tensor): string => bytesOf(t.dataSync() as Float32Array);
const weightBytes = (m: tf.LayersModel): string[] => m.getWeights().map(tensorBytes);
const numelOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
/** The ferroptim optimizer an adapter steps (inside its Lookahead, if any). */
const innerOf = (opt: TfjsOptimizer): Optimizer<{ lr: number }> => {
  const o = opt.optimizer;
  return (o instanceof Lookahead ? o.optimizer : o) as unknown as Optimizer<{ lr: number }>;
};

/** A small classifier, seeded: 6 → 5 relu → 3 softmax. */
function smallModel(seed = 1): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [6], units: 5, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  return m;
}

function data(seed: number, n: number): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  const xs = tf.tensor2d(values(seed, 0, 0, n * 6).map((v) => (v + 1) / 2), [n, 6]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from({ length: n }, (_, i) => (i * 5 + seed) % 3), 'int32'), 3).toFloat() as tf.Tensor2D);
  return { xs, ys };
}

const fitOpts = (batchSize: number, epochs: number, callbacks?: tf.CustomCallbackArgs): tf.ModelFitArgs => ({ batchSize, epochs, shuffle: false, verbose: 0, callbacks });

// ---------------------------------------------------------------------------------------------
// fit, callbacks, schedulers, monitors

test.serial('a LambdaLR stepped in onBatchEnd sets the lr each step uses: bit-identical to tf.train.sgd with setLearningRate before each batch', async (t) => {
  await tf.setBackend('cpu');
  const { xs, ys } = data(1, 40);
  const base = 0.2;
  const lambda = (s: number) => 1 / (1 + s) + (s % 3) * 0.25;
  const steps = 3 * 5; // 3 epochs of 5 batches

  const ref = smallModel();
  const sgd = tf.train.sgd(base);
  ref.compile({ optimizer: sgd, loss: 'categoricalCrossentropy' });
  const refWeights: string[][] = [];
  let refBatch = 0;
  await ref.fit(xs, ys, fitOpts(8, 3, { onBatchBegin: async () => sgd.setLearningRate(base * lambda(refBatch++)), onBatchEnd: async () => void refWeights.push(weightBytes(ref)) }));

  const m = smallModel();
  const sgdOurs = new SGD(parametersOf(m), { lr: base });
  const adapter = new TfjsOptimizer(sgdOurs);
  const scheduler = new LambdaLR(sgdOurs, { lrLambda: lambda });
  m.compile({ optimizer: adapter, loss: 'categoricalCrossentropy' });
  const lrs: number[] = [];
  const ours: string[][] = [];
  const history = await m.fit(xs, ys, fitOpts(8, 3, { onBatchBegin: async () => void lrs.push(innerOf(adapter).paramGroups[0]!.lr as number), onBatchEnd: async () => {
    ours.push(weightBytes(m));
    scheduler.step();
  } }));
  t.deepEqual(lrs, Array.from({ length: steps }, (_, s) => base * lambda(s)));
  t.is(ours.length, steps);
  ours.forEach((w, s) => t.deepEqual(w, refWeights[s]!, `batch ${s + 1}`));
  // fit's own bookkeeping ran: a loss per epoch, the iteration counter.
  t.is(history.history.loss!.length, 3);
  t.is(adapter.iterations, steps);
  // A constant lr would have ended elsewhere.
  const flat = smallModel();
  flat.compile({ optimizer: new TfjsOptimizer(new SGD(parametersOf(flat), { lr: base })), loss: 'categoricalCrossentropy' });
  await flat.fit(xs, ys, fitOpts(8, 3));
  t.notDeepEqual(weightBytes(flat), ours[steps - 1]);
  tf.dispose([xs, ys]);
});

test.serial('CosineAnnealingLR in onBatchEnd: the lr seen at each batch follows the closed form, and fit with it converges', async (t) => {
  await tf.setBackend('cpu');
  const { xs, ys } = data(2, 64);
  const m = smallModel(5);
  const adam = new Adam(parametersOf(m), { lr: 0.05 });
  const scheduler = new CosineAnnealingLR(adam, { tMax: 16, etaMin: 0.001 });
  const adapter = new TfjsOptimizer(adam);
  m.compile({ optimizer: adapter, loss: 'categoricalCrossentropy' });
  const lrs: number[] = [];
  const history = await m.fit(xs, ys, fitOpts(16, 4, { onBatchBegin: async () => void lrs.push(adam.paramGroups[0]!.lr), onBatchEnd: async () => scheduler.step() }));
  const expected = Array.from({ length: 16 }, (_, s) => 0.001 + ((0.05 - 0.001) * (1 + Math.cos((Math.PI * s) / 16))) / 2);
  lrs.forEach((lr, s) => t.true(Math.abs(lr - expected[s]!) <= 1e-12, `batch ${s}: ${lr} vs ${expected[s]}`));
  const loss = history.history.loss as number[];
  t.true(loss[3]! < loss[0]!);
  tf.dispose([xs, ys]);
});

test.serial('a GradNormMonitor on the wrapped optimizer records one entry per batch of fit; with clipGradNorm it sees the clipped gradients', async (t) => {
  await tf.setBackend('cpu');
  const { xs, ys } = data(3, 48);
  const m = smallModel(7);
  const adam = new Adam(parametersOf(m), { lr: 0.01 });
  const monitor = new GradNormMonitor(adam);
  const adapter = new TfjsOptimizer(adam, { clipGradNorm: 0.05 });
  m.compile({ optimizer: adapter, loss: 'categoricalCrossentropy' });
  const preClip: number[] = [];
  await m.fit(xs, ys, fitOpts(12, 2, { onBatchEnd: async () => void preClip.push(adapter.lastGradNorm!) }));
  const h = monitor.history();
  t.is(h.length, 8);
  t.deepEqual(h.map((r) => r.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  t.deepEqual(Object.keys(h[0]!.params), m.trainableWeights.map((w) => w.originalName));
  // The gradients were above the bound, and stepped at it.
  t.true(preClip.every((n) => n > 0.05), `pre-clip norms ${preClip}`);
  h.forEach((r, i) => t.true(r.applied && Math.abs(r.norm - 0.05) <= 1e-6, `record ${i + 1}: ${r.norm}`));
  monitor.detach();
  tf.dispose([xs, ys]);
});

// ---------------------------------------------------------------------------------------------
// skipNonFinite, clipping, Lookahead: against ferroptim on plain Float32Arrays

const SHAPES = [[4, 3], [3], [50]];

function makeVars(seed: number): tf.Variable[] {
  return SHAPES.map((s, j) => tf.variable(tf.tensor(values(seed, 0, j, numelOf(s)), s)));
}

function gradsFor(vars: tf.Variable[], seed: number, step: number, scale = 1): Array<{ name: string; tensor: tf.Tensor }> {
  return vars.map((v, j) => ({ name: v.name, tensor: tf.tensor(values(seed, step, j, v.size).map((x) => x * scale), v.shape) }));
}

function plainParams(seed: number): Parameter[] {
  return SHAPES.map((s, j) => new Parameter(values(seed, 0, j, numelOf(s)), { shape: s }));
}

function setPlainGrads(params: Parameter[], seed: number, step: number, scale = 1): void {
  params.forEach((p, j) => (p.grad = values(seed, step, j, p.numel).map((x) => x * scale)));
}

for (const { label, backend, inPlace } of MODES) {
  test.serial(`${label}: skipNonFinite: a NaN gradient leaves every variable and the state bit-identical, and the run continues as if it never happened`, async (t) => {
    await tf.setBackend(backend);
    const vars = makeVars(11);
    const twin = makeVars(11);
    const opt = new TfjsOptimizer(new AdamW(parametersOf(vars), { lr: 0.01, skipNonFinite: true }), { inPlace });
    const ref = new TfjsOptimizer(new AdamW(parametersOf(twin), { lr: 0.01, skipNonFinite: true }));
    for (const step of [1, 2]) {
      const g = gradsFor(vars, 11, step);
      opt.applyGradients(g);
      ref.applyGradients(g.map((x, j) => ({ name: twin[j]!.name, tensor: x.tensor })));
      tf.dispose(g.map((x) => x.tensor));
    }
    const weights = vars.map(tensorBytes);
    const state = structuredClone(opt.stateDict());
    const bad = gradsFor(vars, 11, 3);
    const poisoned = bad[2]!.tensor.bufferSync();
    poisoned.set(NaN, 17);
    bad[2] = { name: bad[2]!.name, tensor: poisoned.toTensor() };
    opt.applyGradients(bad);
    t.false(innerOf(opt).lastStepApplied);
    t.is(innerOf(opt).skippedSteps, 1);
    t.deepEqual(vars.map(tensorBytes), weights);
    t.true(sameDeep(opt.stateDict(), state));
    t.is(opt.iterations, 2);
    tf.dispose(bad.map((x) => x.tensor));
    for (const step of [4, 5]) {
      const g = gradsFor(vars, 11, step);
      opt.applyGradients(g);
      ref.applyGradients(g.map((x, j) => ({ name: twin[j]!.name, tensor: x.tensor })));
      tf.dispose(g.map((x) => x.tensor));
    }
    t.deepEqual(vars.map(tensorBytes), twin.map(tensorBytes));
    t.not(vars.map(tensorBytes).join(), weights.join());
    t.is(opt.iterations, 4);
    opt.dispose();
    ref.dispose();
    tf.dispose([...vars, ...twin]);
  });

  test.serial(`${label}: the clipGradNorm option clips as ferroptim's clipGradNorm does on copies, and the caller's gradients are not modified`, async (t) => {
    await tf.setBackend(backend);
    for (const clip of [{ option: 0.5, maxNorm: 0.5, options: {} }, { option: { maxNorm: 0.2, normType: Infinity }, maxNorm: 0.2, options: { normType: Infinity } }]) {
      const vars = makeVars(12);
      const opt = new TfjsOptimizer(new SGD(parametersOf(vars), { lr: 0.1, momentum: 0.9 }), { clipGradNorm: clip.option, inPlace });
      const params = plainParams(12);
      const plain = new SGD(params, { lr: 0.1, momentum: 0.9 });
      for (let step = 1; step <= 3; step++) {
        const g = gradsFor(vars, 12, step);
        const given = g.map((x) => tensorBytes(x.tensor));
        opt.applyGradients(g);
        t.deepEqual(g.map((x) => tensorBytes(x.tensor)), given, 'the caller’s gradients are unchanged');
        t.is(opt.lastTransfer!.gradsCopied, SHAPES.length);
        setPlainGrads(params, 12, step);
        const norm = clipGradNorm(params, clip.maxNorm, clip.options);
        t.true(norm > 2 * clip.maxNorm, `the gradients are clipped (norm ${norm})`);
        t.is(opt.lastGradNorm, norm);
        plain.step();
        t.deepEqual(vars.map(tensorBytes), params.map((p) => bytesOf(p.data)), `step ${step}`);
        tf.dispose(g.map((x) => x.tensor));
      }
      opt.dispose();
      plain.dispose();
      tf.dispose(vars);
    }
  });

  test.serial(`${label}: minimize with clipGradNorm clips the gradients it computed, in place, as ferroptim does`, async (t) => {
    await tf.setBackend(backend);
    const vars = makeVars(13);
    const opt = new TfjsOptimizer(new Adam(parametersOf(vars), { lr: 0.05 }), { clipGradNorm: 1, inPlace });
    const params = plainParams(13);
    const plain = new Adam(params, { lr: 0.05 });
    for (let step = 1; step <= 3; step++) {
      // d/dv Σ v·c = c: the gradients are known.
      const cs = SHAPES.map((s, j) => tf.tensor(values(13, step, j, numelOf(s)).map((x) => 3 * x), s));
      opt.minimize(() => tf.addN(vars.map((v, j) => tf.sum(tf.mul(v, cs[j]!)))) as tf.Scalar);
      t.like(opt.lastTransfer, { gradsInPlace: SHAPES.length, gradsCopied: 0 });
      setPlainGrads(params, 13, step, 3);
      t.true(clipGradNorm(params, 1) > 2);
      plain.step();
      t.deepEqual(vars.map(tensorBytes), params.map((p) => bytesOf(p.data)), `step ${step}`);
      tf.dispose(cs);
    }
    opt.dispose();
    plain.dispose();
    tf.dispose(vars);
  });

  test.serial(`${label}: Lookahead through the adapter is bit-identical to Lookahead on Float32Arrays, across syncs`, async (t) => {
    await tf.setBackend(backend);
    const vars = makeVars(14);
    const opt = new TfjsOptimizer(new Lookahead(new Adam(parametersOf(vars), { lr: 0.05 }), { k: 2, alpha: 0.5 }), { inPlace });
    const params = plainParams(14);
    const plain = new Lookahead(new Adam(params, { lr: 0.05 }), { k: 2, alpha: 0.5 });
    const noLookahead = plainParams(14);
    const adam = new Adam(noLookahead, { lr: 0.05 });
    for (let step = 1; step <= 5; step++) {
      const g = gradsFor(vars, 14, step);
      // One variable has no gradient this step; Lookahead's sync still moves it.
      opt.applyGradients(step === 3 ? g.slice(0, 2) : g);
      tf.dispose(g.map((x) => x.tensor));
      setPlainGrads(params, 14, step);
      if (step === 3) params[2]!.grad = null;
      plain.step();
      setPlainGrads(noLookahead, 14, step);
      if (step === 3) noLookahead[2]!.grad = null;
      adam.step();
      t.deepEqual(vars.map(tensorBytes), params.map((p) => bytesOf(p.data)), `step ${step}`);
    }
    t.is((opt.optimizer as Lookahead).counter, plain.counter);
    t.notDeepEqual(vars.map(tensorBytes), noLookahead.map((p) => bytesOf(p.data)));
    opt.dispose();
    plain.dispose();
    adam.dispose();
    tf.dispose(vars);
  });
}

// ---------------------------------------------------------------------------------------------
// Saving and loading

async function saveToMemory(m: tf.LayersModel, includeOptimizer: boolean): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await m.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    }),
    { includeOptimizer },
  );
  // As a file save would: the JSON parts through JSON, the weights as bytes.
  const { weightData, ...json } = artifacts!;
  return { ...(JSON.parse(JSON.stringify(json)) as tf.io.ModelArtifacts), weightData };
}

/** AdamW behind a LambdaLR (so the saved lr is not the initial one), a Lookahead, clipping by the max norm, in place: every part of the config. */
function trainedSetup(seed: number) {
  const m = smallModel(seed);
  const adam = new AdamW(parametersOf(m), { lr: 0.02, weightDecay: 0.05, betas: [0.8, 0.99] });
  const scheduler = new LambdaLR(adam, { lrLambda: (s) => 0.9 ** s });
  const adapter = new TfjsOptimizer(new Lookahead(adam, { k: 3, alpha: 0.6 }), { clipGradNorm: { maxNorm: 0.3, normType: Infinity }, inPlace: true });
  m.compile({ optimizer: adapter, loss: 'categoricalCrossentropy' });
  return { m, adam, scheduler, adapter };
}

test.serial('save with includeOptimizer, tf.loadLayersModel, bind(loaded): the state dict equals the original, keyed by originalName; both models then train bit-identically', async (t) => {
  await tf.setBackend('cpu');
  const d1 = data(21, 40);
  const d2 = data(22, 40);
  const { m, adapter, scheduler } = trainedSetup(31);
  await m.fit(d1.xs, d1.ys, fitOpts(8, 2, { onBatchEnd: async () => scheduler.step() }));
  const artifacts = await saveToMemory(m, true);
  const config = artifacts.trainingConfig!.optimizer_config as { class_name: string };
  t.is(config.class_name, 'FerroptimOptimizer');

  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const lo = loaded.optimizer as TfjsOptimizer;
  t.true(lo instanceof TfjsOptimizer);
  t.false(tf.train.adam(0.1) instanceof TfjsOptimizer);
  t.deepEqual(lo.getConfig(), adapter.getConfig());
  t.deepEqual(lo.parameters(), []);
  t.throws(() => lo.optimizer, { instanceOf: Error, message: /call bind\(model\) first/ });
  // The loaded variables got tfjs's de-duplicated names; the state is keyed by originalName.
  const names = m.trainableWeights.map((w) => w.originalName);
  t.true(loaded.trainableWeights.every((w, i) => (w.read() as tf.Variable).name !== names[i]));
  lo.bind(loaded);
  t.throws(() => lo.bind(loaded), { instanceOf: Error, message: /already bound/ });
  const sd = lo.stateDict() as ReturnType<Lookahead['stateDict']>;
  t.deepEqual(Object.keys(sd.fastState.state), names);
  t.true(sameDeep(sd, adapter.stateDict()));
  t.is(lo.iterations, adapter.iterations);
  t.is(innerOf(lo).paramGroups[0]!.lr, innerOf(adapter).paramGroups[0]!.lr);
  t.is(innerOf(lo).paramGroups[0]!.lr, 0.02 * 0.9 ** 10);
  t.deepEqual(weightBytes(loaded), weightBytes(m));

  await m.fit(d2.xs, d2.ys, fitOpts(8, 2));
  await loaded.fit(d2.xs, d2.ys, fitOpts(8, 2));
  t.deepEqual(weightBytes(loaded), weightBytes(m));
  t.true(sameDeep(lo.stateDict(), adapter.stateDict()));
  t.is(lo.iterations, 20);
  t.like(lo.lastTransfer, { backend: 'cpu', inPlace: 4, copied: 0 });
  tf.dispose([d1.xs, d1.ys, d2.xs, d2.ys]);
});

test.serial('a loaded optimizer not bound explicitly binds to the model at the first fit step and resumes bit for bit', async (t) => {
  await tf.setBackend('cpu');
  const d1 = data(23, 24);
  const d2 = data(24, 40);
  const { m, adapter, scheduler } = trainedSetup(33);
  await m.fit(d1.xs, d1.ys, fitOpts(8, 2, { onBatchEnd: async () => scheduler.step() }));
  const artifacts = await saveToMemory(m, true);
  // A second copy, loaded first, whose variables the binding must leave alone.
  const decoy = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  await m.fit(d2.xs, d2.ys, fitOpts(8, 3));
  await loaded.fit(d2.xs, d2.ys, fitOpts(8, 3));
  const lo = loaded.optimizer as TfjsOptimizer;
  t.is(lo.parameters().length, 4);
  t.true(lo.parameters().every((p, i) => p.variable === loaded.trainableWeights[i]!.read() && p.name === m.trainableWeights[i]!.originalName));
  t.deepEqual(weightBytes(loaded), weightBytes(m));
  t.true(sameDeep(lo.stateDict(), adapter.stateDict()));
  // The decoy was not touched.
  t.deepEqual(weightBytes(decoy), weightBytes(await tf.loadLayersModel(tf.io.fromMemory(artifacts))));
  tf.dispose([d1.xs, d1.ys, d2.xs, d2.ys]);
});

test.serial('stateDict() through JSON, loadStateDict() into a new adapter over a reloaded model: training resumes bit for bit', async (t) => {
  await tf.setBackend('cpu');
  const d1 = data(25, 32);
  const d2 = data(26, 32);
  const m = smallModel(35);
  const adapter = new TfjsOptimizer(new Adam(parametersOf(m), { lr: 0.03 }));
  m.compile({ optimizer: adapter, loss: 'categoricalCrossentropy' });
  await m.fit(d1.xs, d1.ys, fitOpts(8, 1));
  const json = JSON.stringify(adapter.stateDict());
  const artifacts = await saveToMemory(m, false);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  t.is(loaded.optimizer as unknown, undefined);
  const resumed = new TfjsOptimizer(new Adam(parametersOf(loaded), { lr: 0.03 }));
  resumed.loadStateDict(JSON.parse(json));
  t.true(sameDeep(resumed.stateDict(), adapter.stateDict()));
  loaded.compile({ optimizer: resumed, loss: 'categoricalCrossentropy' });
  await m.fit(d2.xs, d2.ys, fitOpts(8, 2));
  await loaded.fit(d2.xs, d2.ys, fitOpts(8, 2));
  t.deepEqual(weightBytes(loaded), weightBytes(m));
  // Without the state (Adam's moments and step counts from scratch) the run differs.
  const fresh = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  fresh.compile({ optimizer: new TfjsOptimizer(new Adam(parametersOf(fresh), { lr: 0.03 })), loss: 'categoricalCrossentropy' });
  await fresh.fit(d2.xs, d2.ys, fitOpts(8, 2));
  t.notDeepEqual(weightBytes(fresh), weightBytes(m));
  tf.dispose([d1.xs, d1.ys, d2.xs, d2.ys]);
});
