/**
 * Checkpoint folders as untrusted input (paths that leave the folder, FIFOs and devices, a
 * manifest that breaks its schema) and crash-safe runs: a checkpoint between two batches resumes
 * to the weights of an uninterrupted run, metrics hold each epoch once after any crash, failed
 * writes leave no temporary file, and a diverged run stops and says so.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTmpfs } from './helpers/tmpfs.js';
import { LBFGS, SGD, StepLR, loadCheckpoint, loadMnist, mlp, saveCheckpoint, train, writeFileAtomic, type TrainOptions } from '../ts/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-checkpoint-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const trainData = loadMnist({ split: 'train', limit: 640 });
const testData = loadMnist({ split: 'test', limit: 200 });

/** A small run: 10 batches of 64 per epoch, SGD with momentum and a per-batch schedule, dropout-free MLP. */
function setup(extra: Partial<TrainOptions> = {}): { options: TrainOptions; weights: () => Buffer } {
  const model = mlp({ seed: 7 });
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const scheduler = new StepLR(optimizer, { stepSize: 4, gamma: 0.8 });
  const options: TrainOptions = { model, optimizer, scheduler, schedulerInterval: 'batch', epochs: 2, batchSize: 64, seed: 11, trainData, testData, ...extra };
  const weights = () => Buffer.concat(model.parameters().map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)));
  return { options, weights };
}

const straight = (() => {
  const s = setup();
  const r = train(s.options);
  return { weights: s.weights(), metrics: r.metrics };
})();

function craft(dir: string, manifest: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(manifest));
}

function validManifest(dir: string): Record<string, unknown> {
  const s = setup({ checkpointDir: dir, epochs: 1 });
  train(s.options);
  return JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as Record<string, unknown>;
}

test('a manifest naming "../../victim.txt" cannot make a save delete a file outside the folder', (t) => {
  const root = join(tmp, 'victim');
  const dir = join(root, 'out', 'checkpoint');
  craft(dir, { format: 'ferroptim-checkpoint', version: 1, epoch: 0, weightsFile: '../../victim.txt', optimizerFile: 'x' });
  writeFileSync(join(root, 'victim.txt'), 'important\n');
  const s = setup({ checkpointDir: dir, epochs: 1 });
  train(s.options);
  t.is(readFileSync(join(root, 'victim.txt'), 'utf8'), 'important\n');
  t.deepEqual(readdirSync(dir).sort(), ['checkpoint.json', 'optimizer-epoch-0001.safetensors', 'weights-epoch-0001.safetensors']);
});

test('a manifest naming a path outside its folder is refused by loadCheckpoint with a RangeError', (t) => {
  const dir = join(tmp, 'outside');
  const m = validManifest(dir);
  for (const name of ['../../victim.safetensors', '/etc/passwd', '..', 'sub/x.safetensors', 'weights.txt']) {
    craft(dir, { ...m, weightsFile: name });
    t.throws(() => loadCheckpoint(dir), { instanceOf: RangeError, message: /weightsFile: expected a file name of this folder/ }, name);
  }
});

test('a manifest naming a FIFO, a device or a symbolic link gets a clear error at once instead of hanging, reading without end or leaving the folder', (t) => {
  const dir = join(tmp, 'special');
  const m = validManifest(dir);
  t.is(spawnSync('mkfifo', [join(dir, 'fifo.safetensors')]).status, 0);
  symlinkSync('/dev/zero', join(dir, 'zero.safetensors'));
  symlinkSync(join(dir, m.weightsFile as string), join(dir, 'link.safetensors'));
  craft(dir, { ...m, weightsFile: 'fifo.safetensors' });
  t.throws(() => loadCheckpoint(dir), { instanceOf: TypeError, message: /fifo\.safetensors to be a regular file, received a FIFO/ });
  craft(dir, { ...m, weightsFile: 'zero.safetensors' });
  t.throws(() => loadCheckpoint(dir), { instanceOf: TypeError, message: /zero\.safetensors to be a regular file, received a symbolic link/ });
  // Even a link to a good file of the same folder: a named file is the folder's own.
  craft(dir, { ...m, weightsFile: 'link.safetensors' });
  t.throws(() => loadCheckpoint(dir), { instanceOf: TypeError, message: /link\.safetensors to be a regular file, received a symbolic link/ });
  // A device node in the folder itself (mknod needs root; elsewhere this case is left out).
  if (spawnSync('mknod', [join(dir, 'dev.safetensors'), 'c', '1', '5']).status === 0) {
    craft(dir, { ...m, weightsFile: 'dev.safetensors' });
    t.throws(() => loadCheckpoint(dir), { instanceOf: TypeError, message: /dev\.safetensors to be a regular file, received a character device/ });
  } else {
    t.log('mknod refused (not root): the device-node case was not run');
  }
});

test('the manifest is checked against its schema: each flaw is a RangeError naming the field and the value', (t) => {
  const dir = join(tmp, 'schema');
  const m = validManifest(dir);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a missing optimizer', { ...m, optimizer: undefined }, /optimizer: .*received undefined/],
    ['metrics as a string', { ...m, metrics: 'abc' }, /metrics: .*received "abc"/],
    ['epoch 1e9', { ...m, epoch: 1e9 }, /epoch: .*received 1000000000/],
    ['more epochs than metrics', { ...m, epoch: 3 }, /metrics: expected one metrics entry per completed epoch/],
    ['a fractional epoch', { ...m, epoch: 0.5 }, /epoch: .*received 0\.5/],
    ['an unknown key', { ...m, extra: 1 }, /malformed/],
    ['a bad generator state', { ...m, rng: { data: [1, 2, 3] } }, /rng\.data/],
    ['param groups that are not an array', { ...m, optimizer: { state: {}, paramGroups: 'x' } }, /optimizer\.paramGroups/],
    ['the same file twice', { ...m, optimizerFile: m.weightsFile }, /optimizerFile: expected two different files/],
  ];
  for (const [name, manifest, message] of cases) {
    craft(dir, manifest);
    t.throws(() => loadCheckpoint(dir), { instanceOf: RangeError, message }, name);
  }
  writeFileSync(join(dir, 'checkpoint.json'), '[1, 2]');
  t.throws(() => loadCheckpoint(dir), { instanceOf: RangeError, message: /is not a ferroptim checkpoint/ });
});

test('every rule of the manifest schema is checked on load, "__proto__" keys included', (t) => {
  const dir = join(tmp, 'schema-rules');
  const m = validManifest(dir);
  const progress = { batch: 2, epochRng: [1, 2, 3, 4], lossSum: 1.5, correct: 3, seen: 4, seconds: 0.25, lr: 0.01 };
  const metric = (m.metrics as Array<Record<string, unknown>>)[0]!;
  const optimizer = m.optimizer as Record<string, unknown>;
  const proto = (v: unknown) => JSON.parse(`{"__proto__": ${JSON.stringify(v)}}`) as Record<string, unknown>;
  // A valid manifest inside an epoch, with a dropout generator named "__proto__", loads.
  craft(dir, { ...m, inEpoch: progress, rng: { data: [5, 6, 7, 8], dropout: proto([1, 2, 3, 4]) } });
  t.deepEqual(Object.keys(loadCheckpoint(dir).rng.dropout!), ['__proto__']);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a file name of 256 characters', { ...m, weightsFile: `${'w'.repeat(244)}.safetensors` }, /weightsFile: .*received "w{244}\.safetensors"/],
    ['an unknown key in inEpoch', { ...m, inEpoch: { ...progress, extra: 1 } }, /inEpoch: unknown key "extra"/],
    ['a "__proto__" key in inEpoch', { ...m, inEpoch: { ...progress, ...proto(1) } }, /inEpoch: unknown key "__proto__"/],
    ['inEpoch at batch 0', { ...m, inEpoch: { ...progress, batch: 0 } }, /inEpoch\.batch: .*received 0/],
    ['an all-zero epochRng', { ...m, inEpoch: { ...progress, epochRng: [0, 0, 0, 0] } }, /inEpoch\.epochRng: expected four unsigned 32-bit integers, not all zero, received \[0, 0, 0, 0\]/],
    ['an unknown key in optimizer', { ...m, optimizer: { ...optimizer, extra: 1 } }, /optimizer: unknown key "extra"/],
    ['an optimizer state entry that is not an object', { ...m, optimizer: { ...optimizer, state: { 0: 5 } } }, /optimizer\.state\.0: expected an object, received 5/],
    ['an optimizer state entry "__proto__" that is not an object', { ...m, optimizer: { ...optimizer, state: proto(5) } }, /optimizer\.state\.__proto__: expected an object, received 5/],
    ['a param group that is not an object', { ...m, optimizer: { ...optimizer, paramGroups: [5] } }, /optimizer\.paramGroups\.0: .*received 5/],
    ['a param key that is neither a name nor a position', { ...m, optimizer: { ...optimizer, paramGroups: [{ params: [-1] }] } }, /optimizer\.paramGroups\.0\.params\.0: .*received -1/],
    ['a generator word above 2^32 - 1', { ...m, rng: { data: [2 ** 32, 0, 0, 1] } }, /rng\.data\.0: .*received 4294967296/],
    ['dropout states as null', { ...m, rng: { data: [1, 2, 3, 4], dropout: null } }, /rng\.dropout: .*received null/],
    ['an all-zero dropout state "__proto__"', { ...m, rng: { data: [1, 2, 3, 4], dropout: proto([0, 0, 0, 0]) } }, /rng\.dropout\.__proto__: expected four unsigned 32-bit integers, not all zero/],
    ['metrics out of order', { ...m, metrics: [{ ...metric, epoch: 2 }] }, /metrics: expected the metrics of epochs 1, 2, \.\.\. in order/],
    ['a training accuracy above 1', { ...m, metrics: [{ ...metric, trainAccuracy: 1.5 }] }, /metrics\.0\.trainAccuracy: .*received 1\.5/],
    ['negative test seconds', { ...m, metrics: [{ ...metric, testSeconds: -1 }] }, /metrics\.0\.testSeconds: .*received -1/],
    ['a missing scheduler', { ...m, scheduler: undefined }, /scheduler: .*received undefined/],
    ['config as an array', { ...m, config: [] }, /config: expected an object, received \[\]/],
  ];
  for (const [name, manifest, message] of cases) {
    craft(dir, manifest);
    t.throws(() => loadCheckpoint(dir), { instanceOf: RangeError, message }, name);
  }
});

test('saveCheckpoint checks what it writes against the same schema, before and after JSON: a TypeError for a wrong type or an unknown key, a RangeError for a wrong value, naming data.<field> and the value', (t) => {
  const dir = join(tmp, 'save-schema');
  const metric = { epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1.25, testAccuracy: 0.5, lr: 0.1, seconds: 1, samplesPerSecond: 10, testSeconds: 0.5 };
  const progress = { batch: 1, epochRng: [1, 2, 3, 4], lossSum: 0, correct: 0, seen: 0, seconds: 0, lr: 0.1 };
  const data = (over: Record<string, unknown>) => ({ epoch: 1, inEpoch: null, weights: {}, optimizer: { state: {}, paramGroups: [{ params: ['w'], lr: 0.1 }] }, scheduler: null, rng: { data: [1, 2, 3, 4] }, metrics: [metric], config: {}, ...over });
  const cases: Array<[string, Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp]> = [
    ['an unknown key in inEpoch', { inEpoch: { ...progress, extra: 1 } }, TypeError, /unknown key "extra" in data\.inEpoch/],
    ['negative seconds in inEpoch', { inEpoch: { ...progress, seconds: -1 } }, RangeError, /data\.inEpoch\.seconds .*received -1/],
    ['a metrics entry that is not an object', { metrics: ['x'] }, TypeError, /data\.metrics\.0 .*received "x"/],
    ['a training accuracy of 2', { metrics: [{ ...metric, trainAccuracy: 2 }] }, RangeError, /data\.metrics\.0\.trainAccuracy .*received 2/],
    ['a param key true', { optimizer: { state: {}, paramGroups: [{ params: [true] }] } }, TypeError, /data\.optimizer\.paramGroups\.0\.params\.0 .*received true/],
    ['a generator state of three words', { rng: { data: [1, 2, 3] } }, RangeError, /data\.rng\.data .*received \[1, 2, 3\]/],
    ['a generator state that is a string', { rng: { data: 'x' } }, TypeError, /data\.rng\.data .*received "x"/],
    ['an all-zero dropout state', { rng: { data: [1, 2, 3, 4], dropout: { drop: [0, 0, 0, 0] } } }, RangeError, /data\.rng\.dropout\.drop .*received \[0, 0, 0, 0\]/],
    ['metrics that break only as JSON', { metrics: [{ ...metric, toJSON: () => ({ ...metric, epoch: 5 }) }] }, RangeError, /data\.metrics to load back \(expected the metrics of epochs 1, 2, \.\.\. in order\), received .* after JSON$/],
  ];
  for (const [name, over, instanceOf, message] of cases) {
    t.throws(() => saveCheckpoint(dir, data(over) as never), { instanceOf, message }, name);
  }
  t.false(existsSync(dir));
});

test('"__proto__" as an optimizer state key survives a save and a load as a key', (t) => {
  const dir = join(tmp, 'proto');
  const buf = new Float32Array([1, 2, 3]);
  const state = JSON.parse('{"__proto__": {"step": 2, "momentum_buffer": null}}') as Record<string, Record<string, unknown>>;
  state['__proto__']!['momentum_buffer'] = buf;
  saveCheckpoint(dir, {
    epoch: 0, weights: {}, optimizer: { state, paramGroups: [{ params: ['__proto__'], lr: 0.1 }] }, scheduler: null, rng: { data: [1, 2, 3, 4] }, metrics: [], config: {},
  });
  const ck = loadCheckpoint(dir);
  t.deepEqual(Object.keys(ck.optimizer.state), ['__proto__']);
  t.deepEqual(Array.from(ck.optimizer.state['__proto__']!['momentum_buffer'] as Float32Array), [1, 2, 3]);
  t.is(({} as Record<string, unknown>).step, undefined);
});

test('an abort between two batches writes a checkpoint of that position, and resuming gives the uninterrupted weights bit for bit', (t) => {
  const dir = join(tmp, 'abort');
  const controller = new AbortController();
  const a = setup({ checkpointDir: dir, signal: controller.signal, onBatch: (p) => p.epoch === 1 && p.batch === 6 && controller.abort() });
  const first = train(a.options);
  t.deepEqual(first.interrupted, { epoch: 1, batch: 6, checkpointed: true });
  t.is(first.metrics.length, 0);
  t.is(loadCheckpoint(dir).inEpoch?.batch, 6);
  const b = setup({ checkpointDir: dir, resume: true });
  const second = train(b.options);
  t.is(second.resumedFromEpoch, 0);
  t.is(second.resumedFromBatch, 6);
  t.true(b.weights().equals(straight.weights));
  const strip = (ms: typeof straight.metrics) => ms.map(({ epoch, trainLoss, trainAccuracy, testLoss, testAccuracy, lr }) => ({ epoch, trainLoss, trainAccuracy, testLoss, testAccuracy, lr }));
  t.deepEqual(strip(second.metrics), strip(straight.metrics));
});

test('checkpointEvery writes checkpoints inside an epoch; a crash after one resumes to the uninterrupted weights', (t) => {
  const dir = join(tmp, 'every');
  const a = setup({ checkpointDir: dir, checkpointEvery: 3, onBatch: (p) => {
    if (p.epoch === 2 && p.batch === 5) throw new Error('simulated crash');
  } });
  t.throws(() => train(a.options), { message: 'simulated crash' });
  const ck = loadCheckpoint(dir);
  t.is(ck.epoch, 1);
  t.is(ck.inEpoch?.batch, 3);
  const b = setup({ checkpointDir: dir, resume: true });
  train(b.options);
  t.true(b.weights().equals(straight.weights));
  t.deepEqual(readdirSync(dir).sort(), ['checkpoint.json', 'optimizer-epoch-0002.safetensors', 'weights-epoch-0002.safetensors']);
});

test('after a crash between the metrics and the checkpoint, and stale temporary files, a resume leaves each epoch once and no temporary file', (t) => {
  const out = join(tmp, 'metrics');
  const dir = join(out, 'checkpoint');
  const metricsFile = join(out, 'metrics.jsonl');
  train(setup({ checkpointDir: dir, metricsFile, epochs: 1 }).options);
  // What an older writer left: epoch 2's line appended before its checkpoint was committed, and
  // temporary files of a writer killed mid-write.
  writeFileSync(metricsFile, `${readFileSync(metricsFile, 'utf8')}{"epoch":2,"trainLoss":1}\n`);
  writeFileSync(`${metricsFile}.tmp-4242`, 'partial');
  writeFileSync(join(dir, 'weights-epoch-0002.safetensors.tmp-4242'), 'partial');
  const r = train(setup({ checkpointDir: dir, metricsFile, epochs: 2, resume: true }).options);
  t.is(r.resumedFromEpoch, 1);
  const epochs = readFileSync(metricsFile, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { epoch: number }).epoch);
  t.deepEqual(epochs, [1, 2]);
  t.deepEqual(readdirSync(out).sort(), ['checkpoint', 'metrics.jsonl']);
  t.deepEqual(readdirSync(dir).sort(), ['checkpoint.json', 'optimizer-epoch-0002.safetensors', 'weights-epoch-0002.safetensors']);
});

test('a write that fails on a full disk removes its temporary file and leaves the old file', (t) => {
  const mounted = withTmpfs(join(tmp, 'full'), 'size=64k', (dir) => {
    const path = join(dir, 'metrics.jsonl');
    writeFileAtomic(path, 'old\n');
    t.throws(() => writeFileAtomic(path, Buffer.alloc(256 * 1024, 1)), { code: 'ENOSPC' });
    t.deepEqual(readdirSync(dir), ['metrics.jsonl']);
    t.is(readFileSync(path, 'utf8'), 'old\n');
  });
  if (!mounted) {
    t.log('mount refused (not root): a real full disk could not be made; the case was not run');
    t.pass();
  }
});

test('a symbolic link left where the temporary file goes is replaced, never written through', (t) => {
  const dir = join(tmp, 'tmp-link');
  mkdirSync(dir);
  const victim = join(tmp, 'tmp-link-victim.txt');
  writeFileSync(victim, 'important\n');
  const path = join(dir, 'metrics.jsonl');
  symlinkSync(victim, `${path}.tmp-${process.pid}`);
  writeFileAtomic(path, 'new\n');
  t.is(readFileSync(victim, 'utf8'), 'important\n');
  t.is(readFileSync(path, 'utf8'), 'new\n');
  t.deepEqual(readdirSync(dir), ['metrics.jsonl']);
});

/** LBFGS counting the closure's calls. */
class CountingLBFGS extends LBFGS {
  evaluations = 0;
  override step(closure: () => number): number {
    return super.step(() => (this.evaluations++, closure()));
  }
}

test('L-BFGS trains through its closure, and its history (lists of buffers) survives an abort and a resume bit for bit', (t) => {
  const run = (extra: Partial<TrainOptions>) => {
    const model = mlp({ seed: 7 });
    const optimizer = new CountingLBFGS(model.parameters(), { lr: 0.05, maxIter: 3, historySize: 4 });
    const r = train({ model, optimizer, epochs: 2, batchSize: 64, seed: 11, trainData, testData, ...extra });
    const weights = Buffer.concat(model.parameters().map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)));
    return { r, weights, evaluations: optimizer.evaluations, optimizer };
  };
  const whole = run({});
  t.is(whole.r.metrics.length, 2);
  // Each batch is evaluated more than once: the closure re-evaluates at L-BFGS's iterates.
  t.true(whole.evaluations > 20, `${whole.evaluations} evaluations for 20 batches`);
  t.true(whole.r.metrics[1]!.testAccuracy > 0.5, `${whole.r.metrics[1]!.testAccuracy}`);

  const dir = join(tmp, 'lbfgs');
  const controller = new AbortController();
  const first = run({ checkpointDir: dir, signal: controller.signal, onBatch: (p) => p.epoch === 2 && p.batch === 3 && controller.abort() });
  t.deepEqual(first.r.interrupted, { epoch: 2, batch: 3, checkpointed: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { optimizer: { state: Record<string, Record<string, unknown>> } };
  const saved = Object.values(manifest.optimizer.state)[0]!;
  t.deepEqual(saved.oldDirs, { tensors: [0, 1, 2, 3].map((i) => `1.weight/oldDirs/${i}`) });
  const second = run({ checkpointDir: dir, resume: true });
  t.true(second.weights.equals(whole.weights));
  t.deepEqual(second.optimizer.stateDict(), whole.optimizer.stateDict());
});

test('a checkpoint keeps an empty list as [] and refuses a state value carrying the manifest\'s marks', (t) => {
  const dir = join(tmp, 'lists');
  const base = { epoch: 0, weights: {}, scheduler: null, rng: { data: [1, 2, 3, 4] }, metrics: [], config: {} };
  saveCheckpoint(dir, { ...base, optimizer: { state: { a: { empty: [], list: [[1, 'NaN'], new Float32Array([3])], one: [5, 6] } }, paramGroups: [{ params: ['a'] }] } });
  const st = loadCheckpoint(dir).optimizer.state.a!;
  t.deepEqual(st.empty, []);
  t.deepEqual((st.list as Float32Array[]).map((b) => Array.from(b)), [[1, NaN], [3]]);
  t.deepEqual(Array.from(st.one as Float32Array), [5, 6]);
  for (const mark of [{ tensor: 'a/x' }, { tensors: ['a/x'] }]) {
    const e = t.throws(() => saveCheckpoint(join(tmp, 'marks'), { ...base, optimizer: { state: { a: { x: mark } }, paramGroups: [{ params: ['a'] }] } }), { instanceOf: TypeError });
    t.regex(e!.message, /received an object with a "tensor" or "tensors" key/);
  }
});

test('a batch with a non-finite loss stops the run before its step and reports the divergence', (t) => {
  const model = mlp({ seed: 7 });
  const optimizer = new SGD(model.parameters(), { lr: 1e30 });
  const dir = join(tmp, 'diverged');
  const r = train({ model, optimizer, epochs: 3, batchSize: 64, seed: 0, trainData, testData, checkpointDir: dir });
  t.truthy(r.diverged);
  t.is(r.diverged!.epoch, 1);
  t.false(Number.isFinite(r.diverged!.loss));
  t.is(r.metrics.length, 0);
  t.false(existsSync(join(dir, 'checkpoint.json')));
});

test('train rejects bad checkpointEvery, signal and runInfo options', (t) => {
  const s = setup();
  t.throws(() => train({ ...s.options, checkpointEvery: 5 }), { instanceOf: RangeError, message: /checkpointEvery needs a checkpointDir/ });
  t.throws(() => train({ ...s.options, checkpointDir: join(tmp, 'x'), checkpointEvery: 0 }), { instanceOf: RangeError, message: /expected checkpointEvery to be an integer >= 1, received 0/ });
  t.throws(() => train({ ...s.options, signal: {} as never }), { instanceOf: TypeError, message: /expected signal to be an AbortSignal, received an object/ });
  t.throws(() => train({ ...s.options, resume: 1 as never }), { instanceOf: TypeError, message: /expected resume to be a boolean, received 1/ });
  t.throws(() => train({ ...s.options, runInfo: 'x' as never }), { instanceOf: TypeError, message: /expected runInfo to be an object, received "x"/ });
});
