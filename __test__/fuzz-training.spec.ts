/**
 * Property-based fuzzing of the library's training API (fast-check): training and checkpoints
 * (train, trainAsync, saveCheckpoint, loadCheckpoint and the other path functions), data
 * (batches, numBatches, evaluate, parseIdx, loadMnist), layers, models, generators and tensors
 * (construction, forward, backward and the Module methods, Generator, CrossEntropyLoss) and
 * safetensors, from the TS sources. The application's demos and charts are fuzzed by
 * cli/__test__/fuzz-app.spec.ts; the optimizers, schedulers, clipping and monitors by fuzz.spec.ts.
 * For every generated call with bad arguments (undefined, null, numbers, strings, arrays, objects
 * of the wrong shape, NaN, negative, huge, and mutations of valid values):
 *
 * - a rejected call throws exactly a TypeError or RangeError (an async one rejects with one), never
 *   an engine error (`Cannot read properties of undefined`) nor one of Node's own argument errors
 *   (`The "path" argument must be of type string`), whose message starts with the function or
 *   class and names the argument, with the received value where one is involved;
 * - a rejected call changed nothing: no file or folder written (here, in the temporary folder, or
 *   in the working directory), no parameter, mode or generator state changed;
 * - a call known to be invalid is rejected; an accepted one returns something usable (a
 *   checkpoint that `saveCheckpoint` accepted is one `loadCheckpoint` reads back).
 *
 * Where a call hands its input to another public function or class that rejects it (a batch that
 * does not fit the model to the layer), the message may start with that function or class
 * instead; each property lists which.
 *
 * The preamble (predicates, mutated fixtures, naming, the tiny dataset, file snapshots) is shared
 * with the application's suite in helpers/fuzz-api.ts; the models, generators and checkpoints are
 * built here, from the same module instance as the functions under test.
 *
 * `FERROPTIM_FUZZ_RUNS=n` runs n cases per property (default: a bounded number, for `npm test`);
 * `FERROPTIM_FUZZ_SEED=s` and `FERROPTIM_FUZZ_PATH=p` replay a failure (fast-check prints both).
 */
import test from 'ava';
import fc from 'fast-check';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Adam,
  Conv2d,
  CrossEntropyLoss,
  Dropout,
  Flatten,
  Generator,
  Linear,
  MaxPool2d,
  Module,
  ReLU,
  SGD,
  Sequential,
  StepLR,
  batches,
  cnn,
  decodeSafetensors,
  defaultGenerator,
  encodeSafetensors,
  evaluate,
  hasCheckpoint,
  loadCheckpoint,
  loadMnist,
  loadWeights,
  manualSeed,
  mlp,
  numBatches,
  numel,
  outputPaths,
  parseIdx,
  removeStaleTemporaries,
  saveCheckpoint,
  saveWeights,
  tensor,
  train,
  trainAsync,
  writeFileAtomic,
  type CheckpointData,
  type ImageDataset,
  type Tensor,
} from '../ts/index.js';
import {
  Canon,
  NO_VALUE,
  check,
  dbl,
  fail,
  finiteNumber,
  garbage,
  keyed,
  rejects,
  rejectsCleanly,
  scalar,
  sparseObject,
  type Rec,
} from './helpers/fuzz.js';
import {
  badPath,
  badPathArb,
  build,
  datasetArb,
  datasetBad,
  filesState,
  genStateBad,
  hasBigInt,
  isBool,
  isFn,
  isInt,
  isObject,
  isPlain,
  mutated,
  mutationNames,
  named,
  opt,
  optBad,
  optionsArb,
  optionsBad,
  property,
  tinyData,
  tree,
} from './helpers/fuzz-api.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-fuzz-training-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

/** The largest tensor (and layer weight) the library makes: 2^31 − 1 elements. */
const MAX_ELEMENTS = 2 ** 31 - 1;

// ---------------------------------------------------------------------------------------------
// Fixtures: a tiny model and checkpoint, and what breaks their contracts (tinyData: fuzz-api.ts)

/** A classifier of tinyData: flatten, linear 16 → 3. */
const tinyModel = (): Sequential => new Sequential(new Flatten(), new Linear(16, 3, { generator: new Generator(1) }));

/** A checkpoint of tinyModel with Adam after one step, a StepLR, generators and one epoch of metrics. */
function checkpointData(): CheckpointData {
  const model = tinyModel();
  const optimizer = new Adam(model.parameters(), { lr: 0.01 });
  for (const p of model.parameters()) p.grad = Float32Array.from(p.data, (x) => x / 2);
  optimizer.step();
  const scheduler = new StepLR(optimizer, { stepSize: 2 });
  const g = new Generator(3);
  return {
    epoch: 1,
    inEpoch: { batch: 2, epochRng: g.getState(), lossSum: 1.5, correct: 3, seen: 4, seconds: 0.25, lr: 0.01 },
    weights: model.stateDict(),
    optimizer: optimizer.stateDict() as unknown as CheckpointData['optimizer'],
    scheduler: scheduler.stateDict(),
    rng: { data: new Generator(5).getState(), dropout: { 2: new Generator(4).getState() } },
    metrics: [{ epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1.25, testAccuracy: 0.5, lr: 0.01, seconds: 1, samplesPerSecond: 6, testSeconds: 0.5 }],
    config: { batchSize: 2, seed: 0, note: 'fuzz' },
  };
}

/** Whether checkpoint data certainly breaks its contract (the rest is judged by whether it loads back). */
function checkpointBad(d: unknown): boolean {
  if (!isPlain(d)) return true;
  const keys = ['epoch', 'inEpoch', 'weights', 'optimizer', 'scheduler', 'rng', 'metrics', 'config'];
  if (Object.keys(d).some((k) => !keys.includes(k))) return true;
  if (!isInt(d.epoch, 0, 1_000_000)) return true;
  const p = d.inEpoch;
  if (p !== undefined && p !== null) {
    if (!isPlain(p) || Object.keys(p).some((k) => !['batch', 'epochRng', 'lossSum', 'correct', 'seen', 'seconds', 'lr'].includes(k))) return true;
    if (!isInt(p.batch, 1) || genStateBad(p.epochRng) || !finiteNumber(p.lossSum) || !isInt(p.correct, 0) || !isInt(p.seen, 0) || !finiteNumber(p.seconds) || p.seconds < 0 || !finiteNumber(p.lr)) return true;
  }
  if (!isPlain(d.weights) || Object.hasOwn(d.weights, '__metadata__')) return true;
  for (const e of Object.values(d.weights)) {
    if (!isObject(e) || !(e.data instanceof Float32Array) || !Array.isArray(e.shape) || !e.shape.every((x) => isInt(x, 0)) || numel(e.shape as number[]) !== e.data.length) return true;
  }
  const o = d.optimizer;
  if (!isPlain(o) || Object.keys(o).some((k) => k !== 'state' && k !== 'paramGroups') || !isPlain(o.state) || !Array.isArray(o.paramGroups)) return true;
  for (const entry of Object.values(o.state)) {
    if (!isPlain(entry)) return true;
    for (const v of Object.values(entry)) {
      const special = (x: unknown) => typeof x === 'string' && ['NaN', 'Infinity', '-Infinity', '-0'].includes(x);
      if (Array.isArray(v) && !v.every((x) => (typeof x === 'number' && (!Number.isFinite(x) || Math.abs(x) <= 3.4028234663852886e38)) || special(x))) return true;
      if (isObject(v) && !(v instanceof Float32Array) && typeof v.tensor === 'string') return true;
    }
  }
  if (o.paramGroups.some((g) => !isPlain(g) || !Array.isArray(g.params) || !g.params.every((k) => typeof k === 'string' || isInt(k, 0)))) return true;
  const r = d.rng;
  if (!isPlain(r) || genStateBad(r.data)) return true;
  if (r.dropout !== undefined && (!isPlain(r.dropout) || Object.values(r.dropout).some(genStateBad))) return true;
  if (!Array.isArray(d.metrics) || d.metrics.length !== d.epoch || d.metrics.some((m, i) => !isPlain(m) || m.epoch !== i + 1)) return true;
  if (!isPlain(d.config)) return true;
  return [d.scheduler, d.config, d.rng, d.metrics, o.paramGroups, o.state].some((x) => hasBigInt(x));
}

// ---------------------------------------------------------------------------------------------
// Snapshots: a module's parameters, gradients and modes (files: helpers/fuzz-api.ts)

function moduleState(c: Canon, m: Module): string {
  const modes: boolean[] = [];
  const walk = (x: Module) => {
    modes.push(x.training);
    for (const [, child] of x.children()) walk(child);
  };
  walk(m);
  return c.of({ params: m.parameters().map((p) => [p.name, p.data, p.grad]), modes });
}

// ---------------------------------------------------------------------------------------------
// Files: every path argument

const PATH_CALLS: Array<{ fn: string; arg: string; call: (p: unknown) => unknown; optional?: boolean }> = [
  { fn: 'loadCheckpoint', arg: 'dir', call: (p) => loadCheckpoint(p as string) },
  { fn: 'hasCheckpoint', arg: 'dir', call: (p) => hasCheckpoint(p as string) },
  { fn: 'outputPaths', arg: 'dir', call: (p) => outputPaths(p as string) },
  { fn: 'removeStaleTemporaries', arg: 'dir', call: (p) => removeStaleTemporaries(p as string) },
  { fn: 'writeFileAtomic', arg: 'path', call: (p) => writeFileAtomic(p as string, 'x') },
  { fn: 'saveCheckpoint', arg: 'dir', call: (p) => saveCheckpoint(p as string, checkpointData()) },
  { fn: 'saveWeights', arg: 'path', call: (p) => saveWeights(tinyModel(), p as string) },
  { fn: 'loadWeights', arg: 'path', call: (p) => loadWeights(tinyModel(), p as string) },
  { fn: 'loadMnist', arg: 'dir', call: (p) => loadMnist({ dir: p as string }), optional: true },
  { fn: 'train', arg: 'checkpointDir', call: (p) => train({ ...trainOptions(), checkpointDir: p } as never), optional: true },
  { fn: 'train', arg: 'metricsFile', call: (p) => train({ ...trainOptions(), metricsFile: p } as never), optional: true },
];

for (const c of PATH_CALLS) Object.defineProperty(c, fc.toStringMethod, { value: () => `${c.fn}(${c.arg})` });

test('fuzz: every path argument (checkpoint folders, weight files, MNIST folders, train outputs) rejects non-strings, "" and NUL characters by name and value, writing nothing', (t) => {
  check(
    t,
    property(fc.constantFrom(...PATH_CALLS), badPathArb, ({ fn, arg, call, optional }, p) => {
      if (optional && p === undefined) return;
      const threw = rejectsCleanly(() => call(p), `${fn}: `, () => filesState(tmp), 'the files', (e) => named(e.message, [[arg, p]]));
      if (!threw) fail(`${fn} accepted ${arg} = ${fc.stringify(p)}`);
    }),
    400,
  );
});

test('fuzz: writeFileAtomic rejects bytes that are neither a string nor a Uint8Array, writing nothing', (t) => {
  const path = join(tmp, 'atomic.bin');
  check(
    t,
    property(garbage, (bytes) => {
      const threw = rejectsCleanly(() => writeFileAtomic(path, bytes as string), 'writeFileAtomic: ', () => filesState(tmp), 'the files', (e) => named(e.message, [['bytes', bytes]]));
      if (!threw) {
        if (typeof bytes !== 'string' && !(bytes instanceof Uint8Array)) fail(`writeFileAtomic accepted bytes = ${fc.stringify(bytes)}`);
        rmSync(path, { force: true });
      }
    }),
    200,
  );
});

// ---------------------------------------------------------------------------------------------
// Checkpoints

test('fuzz: saveCheckpoint given mutated checkpoint data (deleted, retyped or extra keys, NaN, 1e300, BigInt) rejects it before writing a byte, or writes a checkpoint that loadCheckpoint reads back', (t) => {
  const dir = join(tmp, 'checkpoint');
  saveCheckpoint(dir, checkpointData());
  check(
    t,
    property(mutated('checkpointData()', checkpointData, 3, 1), fc.boolean(), (spec, bigint) => {
      const { value: data, applied } = build(spec);
      // BigInt is not JSON: put one where the JSON part holds values.
      if (bigint && isPlain(data) && isPlain(data.config)) data.config.big = 1n;
      const { subjects, valued } = mutationNames(applied);
      const threw = rejectsCleanly(
        () => saveCheckpoint(dir, data as CheckpointData),
        'saveCheckpoint: ',
        () => tree(dir),
        'the checkpoint folder',
        (e) => named(e.message, [...valued, ['big', NO_VALUE]], [...subjects, 'data']),
      );
      if (threw) return;
      if (checkpointBad(data)) fail('saveCheckpoint accepted invalid data');
      let back: CheckpointData;
      try {
        back = loadCheckpoint(dir);
      } catch (e) {
        fail(`saveCheckpoint accepted data that loadCheckpoint rejects: ${(e as Error).message}`);
      }
      const d = data as CheckpointData;
      if (back.epoch !== d.epoch) fail(`epoch ${d.epoch} came back as ${back.epoch}`);
      for (const [name, e] of Object.entries(d.weights)) {
        const got = back.weights[name];
        if (!got || Buffer.compare(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength), Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength)) !== 0) fail(`weights ${JSON.stringify(name)} came back different`);
      }
      saveCheckpoint(dir, checkpointData());
    }),
    400,
  );
});

// ---------------------------------------------------------------------------------------------
// Data

const BATCHES_KEYS = ['batchSize', 'shuffle', 'generator', 'dropLast'];
const batchesOptionsArb = fc.oneof(
  {
    weight: 6,
    arbitrary: sparseObject(
      ['shuffle', 'generator', 'dropLast'],
      (k) =>
        fc.oneof(
          { weight: 3, arbitrary: k === 'generator' ? fc.constant(null).map(() => new Generator(2) as unknown) : fc.boolean() },
          { weight: 1, arbitrary: garbage },
        ),
      3,
    ).chain((o) => fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constantFrom(2 ** 40, 2 ** 53 - 1), scalar).map((batchSize) => ({ batchSize, ...o }) as unknown)),
  },
  { weight: 1, arbitrary: garbage },
);

function batchesOptionsBad(o: unknown): boolean {
  if (optionsBad(o, BATCHES_KEYS) || o === undefined) return true;
  if (!isInt(opt(o, 'batchSize'), 1)) return true;
  if (optBad(o, 'shuffle', (v) => !isBool(v)) || optBad(o, 'dropLast', (v) => !isBool(v)) || optBad(o, 'generator', (v) => !(v instanceof Generator))) return true;
  return opt(o, 'shuffle') === true && !(opt(o, 'generator') instanceof Generator);
}

test('fuzz: batches, numBatches and evaluate given mutated datasets and bad options reject them when called, touching no model, and the accepted ones iterate', (t) => {
  const arb = fc.oneof(
    fc.record({ fn: fc.constant('batches'), data: datasetArb(), options: batchesOptionsArb }),
    fc.record({ fn: fc.constant('numBatches'), length: fc.oneof(fc.integer({ min: 0, max: 9 }), scalar), batchSize: fc.oneof(fc.integer({ min: 1, max: 9 }), scalar), dropLast: fc.oneof(fc.constant(undefined), fc.boolean(), scalar) }),
    fc.record({
      fn: fc.constant('evaluate'),
      model: fc.oneof({ weight: 6, arbitrary: fc.constant('model') as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }),
      data: datasetArb(),
      batchSize: fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 9 }), scalar),
      lossFn: fc.oneof({ weight: 4, arbitrary: fc.constantFrom<unknown>(undefined, 'loss') }, { weight: 1, arbitrary: garbage }),
    }),
  );
  check(
    t,
    property(arb, (a) => {
      const r = a as Rec;
      if (r.fn === 'numBatches') {
        let n: unknown;
        const threw = rejectsCleanly(() => (n = numBatches(r.length as number, r.batchSize as number, r.dropLast as boolean)), 'numBatches: ', () => '', '', (e) =>
          named(e.message, [['length', r.length], ['batchSize', r.batchSize], ['dropLast', r.dropLast]]),
        );
        if (!threw && (!isInt(r.length, 0) || !isInt(r.batchSize, 1) || (r.dropLast !== undefined && !isBool(r.dropLast)))) fail('numBatches accepted invalid arguments');
        if (!threw && !isInt(n, 0)) fail(`numBatches returned ${fc.stringify(n)}`);
        return;
      }
      const { value: data, applied } = build(r.data);
      const names = mutationNames(applied);
      if (r.fn === 'batches') {
        let it: Iterable<unknown> | undefined;
        const threw = rejectsCleanly(() => (it = batches(data as ImageDataset, r.options as never)), 'batches: ', () => '', '', (e) =>
          named(e.message, [['data', data], ...names.valued, ...keyed(r.options)], [...names.subjects, 'batchSize']),
        );
        if (threw) return;
        if (datasetBad(data) || batchesOptionsBad(r.options)) fail('batches accepted invalid arguments');
        let seen = 0;
        for (const b of it! as Iterable<{ y: Int32Array }>) seen += b.y.length;
        if (seen > (data as ImageDataset).length) fail(`batches yielded ${seen} examples of ${(data as ImageDataset).length}`);
        return;
      }
      const model = r.model === 'model' ? tinyModel() : r.model;
      const lossFn = r.lossFn === 'loss' ? new CrossEntropyLoss() : r.lossFn;
      const c = new Canon();
      let out: unknown;
      const threw = rejectsCleanly(
        () => (out = evaluate(model as Module, data as ImageDataset, r.batchSize as number, lossFn as CrossEntropyLoss)),
        ['evaluate: ', 'Linear.forward: ', 'CrossEntropyLoss.forward: '],
        () => (model instanceof Module ? moduleState(c, model) : ''),
        'the model',
        (e) => named(e.message, [['model', model], ['data', data], ['batchSize', r.batchSize], ['lossFn', lossFn], ...names.valued], ['input', 'targets', ...names.subjects]),
      );
      if (threw) return;
      if (!(model instanceof Module) || datasetBad(data) || (r.batchSize !== undefined && !isInt(r.batchSize, 1)) || (lossFn !== undefined && !(isObject(lossFn) && isFn(lossFn.forward)))) {
        fail('evaluate accepted invalid arguments');
      }
      if (!isObject(out) || typeof out.accuracy !== 'number') fail(`evaluate returned ${fc.stringify(out)}`);
    }),
    500,
  );
});

/** An IDX labels file: magic 0x00000801, one dimension, `n` labels. */
function idxLabels(n = 3): Uint8Array {
  const b = Buffer.alloc(8 + n);
  b.writeUInt32BE(0x801, 0);
  b.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) b[8 + i] = i % 10;
  return new Uint8Array(b);
}

/** Whether parseIdx must reject `bytes` for `magic` (the file's own rules). */
function idxBad(bytes: Uint8Array, magic: number): boolean {
  if (bytes.length < 4) return true;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, false) !== magic) return true;
  const rank = magic & 0xff;
  if (bytes.length < 4 + 4 * rank) return true;
  let size = 1;
  for (let i = 0; i < rank; i++) size *= view.getUint32(4 + 4 * i, false);
  return size > 2 ** 31 || bytes.length !== 4 + 4 * rank + size;
}

test('fuzz: parseIdx given bad bytes (truncated, extended, a changed header byte), paths and magic numbers rejects them as parseIdx', (t) => {
  const bytesArb = fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.constantFrom('truncate', 'extend', 'poke', 'none'), fc.nat(12), fc.nat(255))
        .map(([how, i, v]) => {
          const b = idxLabels();
          if (how === 'truncate') return b.subarray(0, Math.min(i, b.length));
          if (how === 'extend') return Uint8Array.from([...b, v]);
          if (how === 'poke') b[Math.min(i, b.length - 1)] = v;
          return b;
        }) as fc.Arbitrary<unknown>,
    },
    { weight: 1, arbitrary: garbage },
  );
  const arb = fc.tuple(bytesArb, fc.oneof({ weight: 4, arbitrary: fc.constant('labels.idx') as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), fc.oneof({ weight: 4, arbitrary: fc.constantFrom<unknown>(2049, 2051) }, { weight: 1, arbitrary: garbage }));
  check(
    t,
    property(arb, ([bytes, path, magic]) => {
      let out: { dims: number[]; data: Uint8Array } | undefined;
      const threw = rejectsCleanly(() => (out = parseIdx(bytes as Uint8Array, path as string, magic as number)), 'parseIdx: ', () => '', '', (e) =>
        named(e.message, [['bytes', bytes], ['path', path], ['expectedMagic', magic]], [typeof path === 'string' ? path : 'path', 'magic']),
      );
      if (threw) return;
      if (!(bytes instanceof Uint8Array) || typeof path !== 'string' || !isInt(magic, 0, 0xffffffff) || idxBad(bytes, magic)) fail('parseIdx accepted invalid arguments');
      if (out!.data.length !== out!.dims.reduce((x, y) => x * y, 1)) fail('parseIdx returned data that does not match its dims');
    }),
    500,
  );
});

test('fuzz: loadMnist given bad options rejects them before reading a file', (t) => {
  // A folder of tiny IDX files, so an accepted call reads little.
  const dir = join(tmp, 'mnist');
  mkdirSync(dir, { recursive: true });
  for (const prefix of ['train', 't10k']) {
    const img = Buffer.alloc(16 + 3 * 4);
    img.writeUInt32BE(0x803, 0);
    img.writeUInt32BE(3, 4);
    img.writeUInt32BE(2, 8);
    img.writeUInt32BE(2, 12);
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), img);
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), idxLabels(3));
  }
  const keys = ['split', 'dir', 'limit'];
  const sane: Record<string, fc.Arbitrary<unknown>> = { split: fc.constantFrom('train', 'test'), limit: fc.integer({ min: 1, max: 5 }) };
  const arb = fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .tuple(sparseObject(['split', 'limit'], (k) => fc.oneof({ weight: 2, arbitrary: sane[k]! }, { weight: 1, arbitrary: garbage })), fc.oneof({ weight: 2, arbitrary: fc.constant(dir) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: badPathArb.filter((v) => v !== undefined) }))
        .map(([o, d]) => ({ ...o, dir: d }) as unknown),
    },
    // Not an object at all (undefined would load the real MNIST).
    { weight: 1, arbitrary: scalar.filter((v) => v !== undefined) },
  );
  check(
    t,
    property(arb, (options) => {
      let out: ImageDataset | undefined;
      const threw = rejectsCleanly(() => (out = loadMnist(options as never)), 'loadMnist: ', () => filesState(tmp), 'the files', (e) => named(e.message, keyed(options)));
      if (threw) return;
      if (optionsBad(options, keys) || badPath(opt(options, 'dir')) || optBad(options, 'split', (v) => v !== 'train' && v !== 'test') || optBad(options, 'limit', (v) => !isInt(v, 1))) fail('loadMnist accepted invalid options');
      if (out!.length !== Math.min(3, (opt(options, 'limit') as number | undefined) ?? 3)) fail(`loadMnist loaded ${out!.length} images`);
    }),
    300,
  );
});

// ---------------------------------------------------------------------------------------------
// train

const TRAIN_KEYS = [
  'model', 'optimizer', 'scheduler', 'schedulerInterval', 'clipGradNorm', 'monitor', 'stepDuringBackward', 'epochs', 'batchSize', 'seed', 'trainData', 'testData', 'testBatchSize',
  'checkpointDir', 'checkpointEvery', 'resume', 'signal', 'runInfo', 'metricsFile', 'onBatch', 'onEpoch', 'maxBatches',
];

/** Options of a quick valid run: one batch of tinyData. */
function trainOptions(): Rec & { model: Module } {
  const model = tinyModel();
  return { model, optimizer: new SGD(model.parameters(), { lr: 0.01 }), epochs: 1, batchSize: 3, seed: 0, trainData: tinyData(), testData: tinyData(), maxBatches: 1, testBatchSize: 6 };
}

function trainOptionsBad(o: Rec): boolean {
  if (Object.keys(o).some((k) => !TRAIN_KEYS.includes(k))) return true;
  const optimizer = o.optimizer as Rec;
  if (!(o.model instanceof Module) || !isObject(optimizer) || !isFn(optimizer.step) || !isFn(optimizer.zeroGrad) || !Array.isArray(optimizer.paramGroups)) return true;
  if (o.scheduler !== undefined && !(isObject(o.scheduler) && isFn(o.scheduler.step))) return true;
  if (o.monitor !== undefined && !(isObject(o.monitor) && isFn(o.monitor.last))) return true;
  if (o.schedulerInterval !== undefined && o.schedulerInterval !== 'epoch' && o.schedulerInterval !== 'batch') return true;
  if (!isInt(o.epochs, 0) || !isInt(o.batchSize, 1) || !isInt(o.seed, 0)) return true;
  if (o.clipGradNorm !== undefined && !(finiteNumber(o.clipGradNorm) && o.clipGradNorm > 0)) return true;
  for (const k of ['testBatchSize', 'maxBatches', 'checkpointEvery']) if (o[k] !== undefined && !isInt(o[k], 1)) return true;
  for (const k of ['checkpointDir', 'metricsFile']) if (o[k] !== undefined && badPath(o[k])) return true;
  if ((o.checkpointEvery !== undefined || o.resume === true) && o.checkpointDir === undefined) return true;
  if (o.resume !== undefined && !isBool(o.resume)) return true;
  if (o.stepDuringBackward !== undefined && !isBool(o.stepDuringBackward)) return true;
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) return true;
  if (o.runInfo !== undefined && !isObject(o.runInfo)) return true;
  for (const k of ['onBatch', 'onEpoch']) if (o[k] !== undefined && !isFn(o[k])) return true;
  return datasetBad(o.trainData) || datasetBad(o.testData);
}

test('fuzz: train given mutated options (retyped, deleted or unknown keys, bad datasets and paths) rejects them before touching the model or a file, and trains with the rest', (t) => {
  const key = fc.constantFrom(...TRAIN_KEYS.filter((k) => !['trainData', 'testData', 'checkpointDir', 'metricsFile'].includes(k)));
  const change = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constant('set'), key, garbage) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('delete'), fc.constantFrom('model', 'optimizer', 'epochs', 'batchSize', 'seed'), fc.constant(undefined)) },
    { weight: 2, arbitrary: fc.tuple(fc.constant('data'), fc.constantFrom('trainData', 'testData'), datasetArb(false)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('set'), fc.constantFrom('checkpointDir', 'metricsFile'), badPathArb.filter((v) => v !== undefined)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('set'), fc.constantFrom('epoch', 'lr', 'batch_size', '__proto__', 'constructor'), garbage) },
  );
  check(
    t,
    property(fc.array(change, { minLength: 1, maxLength: 2 }), (changes) => {
      const o = trainOptions();
      const model = o.model;
      const valued: Array<readonly [string, unknown]> = [];
      const subjects: string[] = [];
      for (const [kind, k, v] of changes) {
        if (kind === 'delete') delete o[k];
        else {
          const { value, applied } = build(v);
          Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
          const names = mutationNames(applied);
          subjects.push(k, ...names.subjects);
          valued.push(...names.valued);
        }
        valued.push([k, kind === 'delete' ? undefined : o[k]]);
      }
      const c = new Canon();
      const threw = rejectsCleanly(
        () => train(o as never),
        ['train: ', 'Linear.forward: ', 'CrossEntropyLoss.forward: '],
        () => `${moduleState(c, model)}\n${filesState(tmp)}`,
        'the model or the files',
        (e) => named(e.message, valued, [...subjects, 'input', 'targets']),
        // A batch that does not fit the model is found by the model, in the first batch, after
        // the gradients were zeroed: only the gradients may have changed.
        (e) => !e.message.startsWith('train: '),
      );
      if (!threw && trainOptionsBad(o)) fail('train accepted invalid options');
    }),
    400,
  );
});

// ---------------------------------------------------------------------------------------------
// Layers, models and generators: construction

const sizeArb = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 4 }) as fc.Arbitrary<unknown> },
  { weight: 3, arbitrary: scalar },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(2 ** 31, 2 ** 40, 2 ** 53, 1e300, 65536, 46341) },
);
const pairArb = fc.oneof({ weight: 3, arbitrary: sizeArb }, { weight: 1, arbitrary: fc.tuple(sizeArb, sizeArb) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.array(sizeArb, { maxLength: 3 }) as fc.Arbitrary<unknown> });
const generatorArb = fc.constant(null).map(() => new Generator(7) as unknown);

const sizeBad = (v: unknown, min = 1) => !isInt(v, min, MAX_ELEMENTS);
const pairBad = (v: unknown, min = 1) => (Array.isArray(v) ? v.length !== 2 || v.some((x) => sizeBad(x, min)) : sizeBad(v, min));
const pairOf = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number]);
const boolOptBad = (o: unknown, k: string) => optBad(o, k, (v) => !isBool(v));
const genOptBad = (o: unknown) => optBad(o, 'generator', (v) => !(v instanceof Generator));

interface Built {
  name: string;
  args: fc.Arbitrary<unknown[]>;
  make: (...args: any[]) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
  bad: (args: unknown[]) => boolean;
  names: string[];
}

const BUILT: Built[] = [
  {
    name: 'Linear',
    args: fc.tuple(sizeArb, sizeArb, optionsArb({ bias: fc.boolean(), generator: generatorArb })),
    make: (a, b, o) => new Linear(a, b, o),
    bad: ([a, b, o]) => sizeBad(a) || sizeBad(b) || (a as number) * (b as number) > MAX_ELEMENTS || optionsBad(o, ['bias', 'generator']) || boolOptBad(o, 'bias') || genOptBad(o),
    names: ['inFeatures', 'outFeatures', 'options'],
  },
  {
    name: 'Conv2d',
    args: fc.tuple(sizeArb, sizeArb, pairArb, optionsArb({ stride: pairArb, padding: pairArb, dilation: pairArb, bias: fc.boolean(), generator: generatorArb })),
    make: (a, b, k, o) => new Conv2d(a, b, k, o),
    bad: ([a, b, k, o]) => {
      if (sizeBad(a) || sizeBad(b) || pairBad(k) || optionsBad(o, ['stride', 'padding', 'dilation', 'bias', 'generator'])) return true;
      if (optBad(o, 'stride', (v) => pairBad(v)) || optBad(o, 'padding', (v) => pairBad(v, 0)) || optBad(o, 'dilation', (v) => pairBad(v)) || boolOptBad(o, 'bias') || genOptBad(o)) return true;
      const [kh, kw] = pairOf(k);
      return (a as number) * (b as number) * kh * kw > MAX_ELEMENTS;
    },
    names: ['inChannels', 'outChannels', 'kernelSize', 'options'],
  },
  {
    name: 'MaxPool2d',
    args: fc.tuple(pairArb, optionsArb({ stride: pairArb, padding: fc.constantFrom(0, 1), dilation: pairArb, ceilMode: fc.constant(false) })),
    make: (k, o) => new MaxPool2d(k, o),
    bad: ([k, o]) => {
      if (pairBad(k) || optionsBad(o, ['stride', 'padding', 'dilation', 'ceilMode'])) return true;
      if (optBad(o, 'stride', (v) => pairBad(v)) || optBad(o, 'padding', (v) => pairBad(v, 0)) || optBad(o, 'dilation', (v) => pairBad(v)) || optBad(o, 'ceilMode', (v) => v !== false)) return true;
      const [kh, kw] = pairOf(k);
      const [ph, pw] = opt(o, 'padding') === undefined ? [0, 0] : pairOf(opt(o, 'padding'));
      return ph > kh / 2 || pw > kw / 2;
    },
    names: ['kernelSize', 'options'],
  },
  { name: 'ReLU', args: fc.tuple(optionsArb({ inplace: fc.boolean() })), make: (o) => new ReLU(o), bad: ([o]) => optionsBad(o, ['inplace']) || boolOptBad(o, 'inplace'), names: ['options'] },
  {
    name: 'Flatten',
    args: fc.tuple(optionsArb({ startDim: fc.integer({ min: -3, max: 3 }), endDim: fc.integer({ min: -3, max: 3 }) })),
    make: (o) => new Flatten(o),
    bad: ([o]) => optionsBad(o, ['startDim', 'endDim']) || optBad(o, 'startDim', (v) => !isInt(v, -Infinity)) || optBad(o, 'endDim', (v) => !isInt(v, -Infinity)),
    names: ['options'],
  },
  {
    name: 'Dropout',
    args: fc.tuple(fc.oneof(dbl(0, 1) as fc.Arbitrary<unknown>, scalar), optionsArb({ generator: generatorArb })),
    make: (p, o) => new Dropout(p, o),
    bad: ([p, o]) => (p !== undefined && !(finiteNumber(p) && p >= 0 && p <= 1)) || optionsBad(o, ['generator']) || genOptBad(o),
    names: ['p', 'options'],
  },
  {
    name: 'CrossEntropyLoss',
    args: fc.tuple(optionsArb({ ignoreIndex: fc.integer({ min: -100, max: 5 }), reduction: fc.constant('mean') })),
    make: (o) => new CrossEntropyLoss(o),
    bad: ([o]) => optionsBad(o, ['ignoreIndex', 'reduction']) || optBad(o, 'ignoreIndex', (v) => !isInt(v, -(2 ** 31), 2 ** 31 - 1)) || optBad(o, 'reduction', (v) => v !== 'mean'),
    names: ['options'],
  },
  { name: 'Generator', args: fc.tuple(fc.oneof(fc.nat() as fc.Arbitrary<unknown>, scalar)), make: (s) => new Generator(s), bad: ([s]) => s !== undefined && !isInt(s, 0), names: ['seed'] },
  {
    name: 'mlp',
    args: fc.tuple(optionsArb({ seed: fc.nat(), generator: generatorArb })),
    make: (o) => mlp(o),
    bad: ([o]) => optionsBad(o, ['seed', 'generator']) || optBad(o, 'seed', (v) => !isInt(v, 0)) || genOptBad(o),
    names: ['options'],
  },
  {
    name: 'cnn',
    args: fc.tuple(fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> }, { weight: 6, arbitrary: garbage.filter((v) => v !== undefined) })),
    make: (o) => cnn(o),
    bad: ([o]) => optionsBad(o, ['seed', 'generator']) || optBad(o, 'seed', (v) => !isInt(v, 0)) || genOptBad(o),
    names: ['options'],
  },
  {
    name: 'Sequential',
    args: fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom<unknown>('relu', 'flatten') }, { weight: 1, arbitrary: garbage }), { maxLength: 3 }),
    make: (...layers) => new Sequential(...layers.map((l) => (l === 'relu' ? new ReLU() : l === 'flatten' ? new Flatten() : l))),
    bad: (layers) => layers.some((l) => l !== 'relu' && l !== 'flatten' && !(l instanceof Module)),
    names: ['module'],
  },
  {
    name: 'tensor',
    args: fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 6 }).map((n) => new Float32Array(n) as unknown) }, { weight: 1, arbitrary: garbage }), fc.oneof(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }) as fc.Arbitrary<unknown>, garbage)),
    make: (d, s) => tensor(d, s),
    bad: ([d, s]) => !(d instanceof Float32Array) || !Array.isArray(s) || !s.every((x) => isInt(x, 0)) || numel(s as number[]) !== d.length,
    names: ['data', 'shape'],
  },
  {
    name: 'numel',
    args: fc.tuple(fc.oneof(fc.array(fc.oneof(fc.integer({ min: 0, max: 3 }) as fc.Arbitrary<unknown>, scalar), { maxLength: 3 }) as fc.Arbitrary<unknown>, garbage)),
    make: (s) => numel(s),
    bad: ([s]) => !Array.isArray(s) || !s.every((x) => isInt(x, 0)),
    names: ['shape'],
  },
  { name: 'manualSeed', args: fc.tuple(fc.oneof(fc.nat() as fc.Arbitrary<unknown>, scalar)), make: (s) => manualSeed(s), bad: ([s]) => !isInt(s, 0), names: ['seed'] },
];

test('fuzz: layers, models, generators and tensors are built only from valid sizes and options; the rest is rejected by name and value (never an allocation error), leaving the default generator as it was', (t) => {
  const arb = fc.constantFrom(...BUILT.map((b) => b.name)).chain((name) => fc.tuple(fc.constant(name), BUILT.find((b) => b.name === name)!.args));
  const saved = defaultGenerator.getState();
  check(
    t,
    property(arb, ([name, args]) => {
      const b = BUILT.find((x) => x.name === name)!;
      const threw = rejectsCleanly(
        () => b.make(...args),
        [`${b.name}: `, ...(b.name === 'manualSeed' ? ['Generator: '] : [])],
        () => (b.name === 'manualSeed' ? '' : JSON.stringify(defaultGenerator.getState())),
        'the default generator',
        (e) => named(e.message, [...(b.name === 'Sequential' ? [] : b.names.map((n, i) => [n, args[i]] as const)), ...args.flatMap((a) => (isObject(a) ? keyed(a) : []))], ['options', 'module']),
      );
      if (!threw && b.bad(args)) fail(`${b.name} accepted invalid arguments`);
    }),
    800,
  );
  defaultGenerator.setState(saved);
});

// ---------------------------------------------------------------------------------------------
// Layers: forward, backward and the Module methods; Generator and CrossEntropyLoss methods

/** A tensor argument: a valid one of `shape`, mutated, or garbage. */
const tensorArb = (shape: number[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 5, arbitrary: mutated(`tensor of shape [${shape}]`, () => ({ data: Float32Array.from({ length: numel(shape) }, (_, i) => (i % 5) - 2), shape: [...shape] })) as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: garbage },
  );

interface LayerCase {
  name: string;
  make: () => Module;
  input: number[];
  output: number[];
}

const LAYERS: LayerCase[] = [
  { name: 'Linear', make: () => new Linear(4, 3, { generator: new Generator(1) }), input: [2, 4], output: [2, 3] },
  { name: 'Conv2d', make: () => new Conv2d(1, 2, 3, { padding: 1, generator: new Generator(1) }), input: [1, 1, 4, 4], output: [1, 2, 4, 4] },
  { name: 'MaxPool2d', make: () => new MaxPool2d(2), input: [1, 2, 4, 4], output: [1, 2, 2, 2] },
  { name: 'ReLU', make: () => new ReLU(), input: [2, 3], output: [2, 3] },
  { name: 'Flatten', make: () => new Flatten(), input: [2, 2, 2], output: [2, 4] },
  { name: 'Dropout', make: () => new Dropout(0.5, { generator: new Generator(1) }), input: [2, 3], output: [2, 3] },
  { name: 'Sequential', make: () => new Sequential(new Flatten(), new Linear(4, 2, { generator: new Generator(1) })), input: [2, 2, 2], output: [2, 2] },
];

const layerOp = fc.constantFrom(...LAYERS.map((l) => l.name)).chain((name) => {
  const l = LAYERS.find((x) => x.name === name)!;
  return fc.oneof(
    fc.record({ layer: fc.constant(l), op: fc.constant('forward'), args: fc.tuple(tensorArb(l.input)) }),
    fc.record({ layer: fc.constant(l), op: fc.constant('backward'), args: fc.tuple(tensorArb(l.output), fc.oneof({ weight: 3, arbitrary: fc.constantFrom<unknown>(undefined, true, false) }, { weight: 1, arbitrary: garbage })) }),
    fc.record({ layer: fc.constant(l), op: fc.constant('train'), args: fc.tuple(fc.oneof(fc.constantFrom<unknown>(undefined, true, false), garbage)) }),
    fc.record({ layer: fc.constant(l), op: fc.constant('zeroGrad'), args: fc.tuple(optionsArb({ setToNone: fc.boolean() })) }),
    fc.record({
      layer: fc.constant(l),
      op: fc.constant('loadStateDict'),
      args: fc.tuple(fc.oneof({ weight: 4, arbitrary: mutated('its stateDict()', () => l.make().stateDict()) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), fc.oneof(fc.constantFrom<unknown>(undefined, true, false), scalar)),
    }),
    ...(l.name === 'Sequential' ? [fc.record({ layer: fc.constant(l), op: fc.constant('at'), args: fc.tuple(fc.oneof(fc.integer({ min: -3, max: 3 }) as fc.Arbitrary<unknown>, scalar)) })] : []),
  );
});

/** A layer case prints as its name. */
for (const l of LAYERS) Object.defineProperty(l, fc.toStringMethod, { value: () => l.name });

test('fuzz: forward, backward, train, zeroGrad, loadStateDict and at given bad tensors, flags, options and state dicts reject them by name, leaving the parameters, gradients and modes as they were', (t) => {
  check(
    t,
    property(layerOp, fc.boolean(), ({ layer, op, args }, forwardFirst) => {
      const m = layer.make();
      for (const p of m.parameters()) p.grad = new Float32Array(p.numel);
      if (forwardFirst || op === 'backward') {
        // backward needs a forward first; its absence is tested too (forwardFirst false).
        if (forwardFirst) m.forward({ data: Float32Array.from({ length: numel(layer.input) }, (_, i) => i - 3), shape: layer.input });
      }
      const built = (args as unknown[]).map(build);
      const values = built.map((b) => b.value);
      const names = mutationNames(built.flatMap((b) => b.applied));
      const c = new Canon();
      let out: unknown;
      const threw = rejectsCleanly(
        () => (out = (m as unknown as Record<string, (...a: unknown[]) => unknown>)[op]!(...values)),
        [`${layer.name}.${op}: `, `${layer.name}: `, ...(layer.name === 'Sequential' ? ['Flatten.', 'Linear.'] : [])],
        () => moduleState(c, m),
        'the module',
        (e) =>
          named(
            e.message,
            [...names.valued, ...(op === 'zeroGrad' ? keyed(values[0]) : [['input', values[0]], ['gradOutput', values[0]], ['mode', values[0]], ['strict', values[1]], ['needInputGrad', values[1]], ['i', values[0]]] as const)],
            // loadStateDict names a missing or unexpected parameter (`missing "weight"`).
            [...names.subjects, 'input', 'gradOutput', 'forward', 'state dict', 'tensors', 'options', 'missing', 'unexpected'],
          ),
      );
      if (threw) return;
      const [a, b] = values;
      // Any object with a Float32Array `data` and a matching `shape` is a tensor (a Parameter too).
      const tensorOk = (x: unknown) => isObject(x) && x.data instanceof Float32Array && Array.isArray(x.shape) && x.shape.every((d) => isInt(d, 0)) && numel(x.shape as number[]) === x.data.length;
      const invalid =
        (op === 'forward' && !isObject(a)) ||
        (op === 'backward' && (!forwardFirst || !isObject(a) || (b !== undefined && !isBool(b)))) ||
        (op === 'train' && a !== undefined && !isBool(a)) ||
        (op === 'zeroGrad' && (optionsBad(a, ['setToNone']) || boolOptBad(a, 'setToNone'))) ||
        (op === 'loadStateDict' && (!isObject(a) || (b !== undefined && !isBool(b)))) ||
        (op === 'at' && !isInt(a, -Infinity));
      if (invalid) fail(`${layer.name}.${op} accepted invalid arguments`);
      if (op === 'forward' && (!tensorOk(a) || !tensorOk(out))) fail(`${layer.name}.forward accepted ${fc.stringify(a)} and returned ${fc.stringify(out)}`);
    }),
    800,
  );
});

const GENERATOR_OPS: ReadonlyArray<{ op: string; args: fc.Arbitrary<unknown[]>; bad: (a: unknown[]) => boolean; names: string[] }> = [
  { op: 'manualSeed', args: fc.tuple(fc.oneof(fc.nat() as fc.Arbitrary<unknown>, scalar)), bad: ([s]) => !isInt(s, 0), names: ['seed'] },
  { op: 'randint', args: fc.tuple(fc.oneof(fc.integer({ min: 1, max: 9 }) as fc.Arbitrary<unknown>, scalar)), bad: ([n]) => !isInt(n, 1, 2 ** 32), names: ['n'] },
  {
    op: 'permutation',
    args: fc.tuple(fc.oneof(fc.integer({ min: 0, max: 9 }) as fc.Arbitrary<unknown>, scalar, fc.constantFrom<unknown>(2 ** 40, 2 ** 53)), fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 9 }).map((n) => new Uint32Array(n) as unknown) }, { weight: 1, arbitrary: garbage })),
    bad: ([n, out]) => !isInt(n, 0, 2 ** 32) || (out !== undefined && !(out instanceof Uint32Array && out.length === n)),
    names: ['n', 'out'],
  },
  {
    op: 'fillUniform',
    args: fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 5 }).map((n) => new Float32Array(n) as unknown) }, { weight: 1, arbitrary: garbage }), fc.oneof(dbl(-2, 0) as fc.Arbitrary<unknown>, scalar), fc.oneof(dbl(0, 2) as fc.Arbitrary<unknown>, scalar)),
    bad: ([out, lo, hi]) => !(out instanceof Float32Array) || !finiteNumber(lo) || !finiteNumber(hi) || lo > hi,
    names: ['out', 'low', 'high'],
  },
  {
    op: 'setState',
    args: fc.tuple(fc.oneof(fc.array(fc.oneof(fc.nat() as fc.Arbitrary<unknown>, scalar), { minLength: 3, maxLength: 5 }) as fc.Arbitrary<unknown>, garbage)),
    bad: ([s]) => genStateBad(s),
    names: ['state'],
  },
];

test('fuzz: Generator methods and CrossEntropyLoss.forward given bad counts, buffers, bounds, states, logits, targets and flags reject them by name, leaving the state as it was', (t) => {
  const arb = fc.oneof(
    fc.constantFrom(...GENERATOR_OPS.map((g) => g.op)).chain((op) => fc.record({ g: fc.constant(op) as fc.Arbitrary<string | undefined>, args: GENERATOR_OPS.find((g) => g.op === op)!.args })),
    fc.record({
      g: fc.constant(undefined),
      args: fc.tuple(
        tensorArb([2, 3]),
        fc.oneof({ weight: 3, arbitrary: fc.constantFrom<unknown>([0, 2], Int32Array.of(1, 1), Uint8Array.of(2, 0), [0, -100]) }, { weight: 2, arbitrary: fc.array(scalar, { maxLength: 3 }) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }),
        fc.oneof(fc.constantFrom<unknown>(undefined, true, false), scalar),
      ),
    }),
  );
  check(
    t,
    property(arb, ({ g: op, args }) => {
      const g = GENERATOR_OPS.find((x) => x.op === op);
      if (g) {
        const gen = new Generator(9);
        const threw = rejectsCleanly(
          () => (gen as unknown as Record<string, (...a: unknown[]) => unknown>)[g.op]!(...args),
          [`Generator.${g.op}: `, ...(g.op === 'manualSeed' ? ['Generator: '] : [])],
          () => JSON.stringify(gen.getState()),
          'the generator',
          (e) => named(e.message, g.names.map((n, i) => [n, args[i]] as const), ['state']),
        );
        if (!threw && g.bad(args)) fail(`Generator.${g.op} accepted invalid arguments`);
        return;
      }
      const loss = new CrossEntropyLoss();
      const { value: logits, applied } = build(args[0]);
      const names = mutationNames(applied);
      const threw = rejectsCleanly(() => loss.forward(logits as Tensor, args[1] as number[], args[2] as boolean), 'CrossEntropyLoss.forward: ', () => '', '', (e) =>
        named(e.message, [['logits', logits], ['targets', args[1]], ['computeGrad', args[2]], ...names.valued], ['targets', 'target', ...names.subjects]),
      );
      if (!threw && ((args[2] !== undefined && !isBool(args[2])) || !isObject(logits))) fail('CrossEntropyLoss.forward accepted invalid arguments');
    }),
    600,
  );
});

// ---------------------------------------------------------------------------------------------
// safetensors

test('fuzz: encodeSafetensors, decodeSafetensors and loadWeights given mutated tensors, corrupted bytes and bad arguments reject them by name; what they accept round-trips', (t) => {
  const good = encodeSafetensors(tinyModel().stateDict(), { format: 'pt' });
  const weightsFile = join(tmp, 'tiny.safetensors');
  writeFileSync(weightsFile, good);
  const bytesArb = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.tuple(fc.constantFrom('truncate', 'poke', 'extend', 'none'), fc.nat(), fc.nat(255)).map(([how, i, v]) => {
        const b = Uint8Array.from(good);
        if (how === 'truncate') return b.subarray(0, i % (b.length + 1));
        if (how === 'extend') return Uint8Array.from([...b, v]);
        if (how === 'poke') b[i % b.length] = v;
        return b;
      }) as fc.Arbitrary<unknown>,
    },
    { weight: 1, arbitrary: garbage },
  );
  const arb = fc.oneof(
    fc.record({ fn: fc.constant('encodeSafetensors'), a: fc.oneof({ weight: 4, arbitrary: mutated('stateDict()', () => tinyModel().stateDict()) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), b: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.string({ maxLength: 3 }) as fc.Arbitrary<unknown>, scalar), { maxKeys: 2 }) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }) }),
    fc.record({ fn: fc.constant('decodeSafetensors'), a: bytesArb, b: fc.oneof({ weight: 4, arbitrary: fc.constantFrom<unknown>(undefined, 'w.safetensors') }, { weight: 1, arbitrary: garbage }) }),
    fc.record({ fn: fc.constant('loadWeights'), a: fc.oneof({ weight: 4, arbitrary: fc.constant('model') as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), b: fc.oneof({ weight: 3, arbitrary: fc.constantFrom<unknown>(undefined, true, false) }, { weight: 1, arbitrary: scalar }) }),
  );
  check(
    t,
    property(arb, ({ fn, a, b }) => {
      if (fn === 'encodeSafetensors') {
        const { value, applied } = build(a);
        const names = mutationNames(applied);
        let out: Buffer | undefined;
        const threw = rejectsCleanly(() => (out = encodeSafetensors(value as never, b as never)), 'encodeSafetensors: ', () => '', '', (e) =>
          named(e.message, [['tensors', value], ['metadata', b], ...names.valued, ...(isObject(b) ? keyed(b) : [])], ['tensors', 'metadata', ...names.subjects]),
        );
        if (threw) return;
        if (!isPlain(value) || (b !== undefined && !(isPlain(b) && Object.values(b).every((v) => typeof v === 'string')))) fail('encodeSafetensors accepted invalid arguments');
        const back = decodeSafetensors(out!, 'back');
        if (Buffer.compare(encodeSafetensors(back.tensors, back.metadata), out!) !== 0) fail('an encoded file does not re-encode to the same bytes');
        return;
      }
      if (fn === 'decodeSafetensors') {
        let out: ReturnType<typeof decodeSafetensors> | undefined;
        const threw = rejectsCleanly(() => (out = decodeSafetensors(a as Uint8Array, b as string)), 'decodeSafetensors: ', () => '', '', (e) =>
          named(e.message, [['bytes', a], ['source', b]], ['safetensors', typeof b === 'string' ? b : 'source']),
        );
        if (threw) return;
        if (!(a instanceof Uint8Array) || (b !== undefined && typeof b !== 'string')) fail('decodeSafetensors accepted invalid arguments');
        // Decoded tensors re-encode (in name order) to a file that decodes to the same tensors.
        const again = decodeSafetensors(encodeSafetensors(out!.tensors, out!.metadata));
        const canon = (c: typeof again) => new Canon().of(Object.entries(c.tensors).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, Array.from(v.data), v.shape]));
        if (canon(again) !== canon(out!)) fail('decoded tensors do not survive encodeSafetensors and decodeSafetensors');
        return;
      }
      const model = a === 'model' ? tinyModel() : a;
      const c = new Canon();
      const threw = rejectsCleanly(
        () => loadWeights(model as Module, weightsFile, b as boolean),
        'loadWeights: ',
        () => (model instanceof Module ? moduleState(c, model) : ''),
        'the model',
        (e) => named(e.message, [['model', model], ['strict', b]]),
      );
      if (!threw && (!(model instanceof Module) || (b !== undefined && !isBool(b)))) fail('loadWeights accepted invalid arguments');
    }),
    600,
  );
});

// ---------------------------------------------------------------------------------------------
// Regressions: each bug the probe and the properties found, as a plain test.

test('loadCheckpoint, hasCheckpoint, outputPaths and writeFileAtomic name the path argument instead of passing Node\'s "The "path" argument must be of type string"', (t) => {
  rejects(t, () => loadCheckpoint(undefined as never), /^loadCheckpoint: expected dir to be a string, received undefined$/);
  rejects(t, () => loadCheckpoint(5 as never), /^loadCheckpoint: expected dir to be a string, received 5$/);
  rejects(t, () => hasCheckpoint(null as never), /^hasCheckpoint: expected dir to be a string, received null$/);
  rejects(t, () => outputPaths(undefined as never), /^outputPaths: expected dir to be a string, received undefined$/);
  rejects(t, () => writeFileAtomic(undefined as never, 'x'), /^writeFileAtomic: expected path to be a string, received undefined$/);
});

test('removeStaleTemporaries(undefined) throws instead of returning quietly', (t) => {
  rejects(t, () => removeStaleTemporaries(undefined as never), /^removeStaleTemporaries: expected dir to be a string, received undefined$/);
});

test('saveCheckpoint with no data or {} names what is missing, and creates no folder', (t) => {
  const dir = join(tmp, 'never-created');
  rejects(t, () => saveCheckpoint(dir, undefined as never), /^saveCheckpoint: expected data to be an object .*received undefined$/);
  rejects(t, () => saveCheckpoint(dir, {} as never), /^saveCheckpoint: expected data\.epoch to be an integer >= 0 .*received undefined$/);
  t.false(existsSync(dir));
});

test('saveCheckpoint rejects data that would not load back (metrics missing for an epoch, an all-zero generator state) before writing', (t) => {
  const dir = join(tmp, 'never-created-2');
  rejects(t, () => saveCheckpoint(dir, { ...checkpointData(), metrics: [] }), /^saveCheckpoint: .*data\.metrics/);
  rejects(t, () => saveCheckpoint(dir, { ...checkpointData(), rng: { data: [0, 0, 0, 0] } }), /^saveCheckpoint: .*data\.rng\.data/);
  t.false(existsSync(dir));
});

test('saveWeights(undefined, path), evaluate(mlp(), null), batches(null, ...) and parseIdx(null, ...) name the bad argument', (t) => {
  const path = join(tmp, 'never.safetensors');
  rejects(t, () => saveWeights(undefined as never, path), /^saveWeights: expected model to be a Module, received undefined$/);
  t.false(existsSync(path));
  rejects(t, () => evaluate(mlp({ seed: 0 }), null as never), /^evaluate: expected data to be an ImageDataset .*received null$/);
  // Rejected when called, not when the first batch is drawn.
  rejects(t, () => batches(null as never, { batchSize: 2 }), /^batches: expected data to be an ImageDataset .*received null$/);
  rejects(t, () => parseIdx(null as never, 'x', 2049), /^parseIdx: expected bytes to be a Uint8Array, received null$/);
});

test('loadWeights(model, undefined) is a TypeError naming path, not an Error wrapping Node\'s message', (t) => {
  const err = t.throws(() => loadWeights(mlp({ seed: 0 }), undefined as never));
  t.is(err?.constructor, TypeError);
  t.is(err?.message, 'loadWeights: expected path to be a string, received undefined');
});

// The library's half of this test; the application's (sampleGrid, regress, contourLevels) has the same title in cli/__test__/fuzz-app.spec.ts.
test('huge sizes are range errors naming the size, not "Invalid typed array length"', (t) => {
  rejects(t, () => new Linear(2 ** 53, 1), /^Linear: .*inFeatures.* 9007199254740992$/);
  rejects(t, () => new Linear(65536, 65536), /^Linear: .*65536 × 65536/);
  rejects(t, () => new Generator(0).permutation(-1), /^Generator\.permutation: expected n to be an integer >= 0 .*received -1$/);
  const conv = new Conv2d(1, 1, 1, { padding: 2 ** 20 });
  rejects(t, () => conv.forward({ data: new Float32Array(1), shape: [1, 1, 1, 1] }), /^Conv2d\.forward: .*more than 2147483647/);
});

// The library's half of this test (train); the application's (compare, race) has the same title in cli/__test__/fuzz-app.spec.ts.
test('train, compare and race check their datasets, callbacks and optimizer specs before any work', (t) => {
  const o = trainOptions();
  rejects(t, () => train({ ...o, trainData: {} } as never), /^train: expected trainData\.length to be an integer >= 0, received undefined$/);
});

test('the Module methods name bad arguments: zeroGrad(null), loadStateDict(sd, "yes"), backward with needInputGrad "no", Conv2d.outputShape(undefined)', (t) => {
  rejects(t, () => mlp({ seed: 0 }).zeroGrad(null as never), /^Sequential\.zeroGrad: expected an options object, received null$/);
  const m = mlp({ seed: 0 });
  rejects(t, () => m.loadStateDict(m.stateDict(), 'yes' as never), /^Sequential\.loadStateDict: expected strict to be a boolean, received "yes"$/);
  const relu = new ReLU();
  relu.forward({ data: new Float32Array(2), shape: [2] });
  rejects(t, () => relu.backward({ data: new Float32Array(2), shape: [2] }, 'no' as never), /^ReLU\.backward: expected needInputGrad to be a boolean, received "no"$/);
  rejects(t, () => new Conv2d(1, 1, 1).outputShape(undefined as never), /^Conv2d\.outputShape: expected inputShape to be /);
});

test.serial('trainAsync rejects bad options as train does', async (t) => {
  await t.throwsAsync(trainAsync({ ...trainOptions(), trainData: null } as never), { instanceOf: TypeError, message: /^train: expected trainData to be an ImageDataset/ });
});
