/**
 * `ferroptim/tfjs` rejects bad input with a TypeError or RangeError naming the option or value,
 * before anything changes: the variables stay bit-identical, the optimizer's state, step count and
 * iterations unchanged, and the next good step is the one it would have been.
 */
import test, { type ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs';
import { Adam, Lookahead, Parameter, SGD } from '../ts/index.js';
import { parametersOf, TfjsOptimizer, TfParameter, type TfjsOptimizerOptions } from '../ts/tfjs/index.js';
import { sameDeep } from './helpers/compare.js';
import { values } from './helpers/data.js';

type ErrorClass = typeof Error;

const bytesOf = (a: ArrayLike<number>): string => Buffer.from(Float32Array.from(a).buffer).toString('hex');
const tensorBytes = (t: tf.Tensor): string => bytesOf(t.dataSync() as Float32Array);

test.before(async () => {
  await tf.setBackend('cpu');
});

/** Two variables, an adapter over Adam stepped twice, and a twin stepped the same way to compare the next step with. */
function fixture() {
  const make = () => [tf.variable(tf.tensor(values(1, 0, 0, 6), [2, 3])), tf.variable(tf.tensor(values(1, 0, 1, 4), [4]))];
  const vars = make();
  const twinVars = make();
  const opt = new TfjsOptimizer(new Adam(parametersOf(vars), { lr: 0.01 }));
  const twin = new TfjsOptimizer(new Adam(parametersOf(twinVars), { lr: 0.01 }));
  const grads = (vs: tf.Variable[], step: number) => Object.fromEntries(vs.map((v, j) => [v.name, tf.tensor(values(1, step, j, v.size), v.shape)]));
  for (const step of [1, 2]) {
    opt.applyGradients(grads(vars, step));
    twin.applyGradients(grads(twinVars, step));
  }
  const snapshot = () => ({ weights: vars.map(tensorBytes), state: structuredClone(opt.stateDict()), iterations: opt.iterations, lastTransfer: opt.lastTransfer });
  const before = snapshot();
  /** Nothing changed, and the next good step matches the twin's bit for bit. */
  const unchanged = (t: ExecutionContext, what: string) => {
    const now = snapshot();
    t.deepEqual(now.weights, before.weights, `${what}: weights`);
    t.true(sameDeep(now.state, before.state), `${what}: state`);
    t.is(now.iterations, before.iterations, `${what}: iterations`);
    t.deepEqual(now.lastTransfer, before.lastTransfer, `${what}: lastTransfer`);
  };
  const resumes = (t: ExecutionContext) => {
    opt.applyGradients(grads(vars, 3));
    twin.applyGradients(grads(twinVars, 3));
    t.deepEqual(vars.map(tensorBytes), twinVars.map(tensorBytes));
    t.not(vars.map(tensorBytes).join(), before.weights.join());
  };
  return { vars, opt, unchanged, resumes, good: (step: number) => grads(vars, step) };
}

function rejects(t: ExecutionContext, f: () => unknown, instanceOf: ErrorClass, message: RegExp): void {
  t.throws(f, { instanceOf, message });
}

test('applyGradients: a gradient of a variable that is not this optimizer’s is a RangeError naming it, and nothing changes (not even the valid gradients)', (t) => {
  const { vars, opt, unchanged, resumes, good } = fixture();
  const stranger = tf.variable(tf.zeros([4]), true, 'stranger');
  for (const [name, g] of [['nope', tf.ones([4])], ['stranger', tf.ones([4])]] as const) {
    rejects(t, () => opt.applyGradients({ ...good(3), [name]: g }), RangeError, new RegExp(`received a gradient for "${name}", which is not a variable of this optimizer`));
    unchanged(t, name);
  }
  // As an array of named tensors too.
  rejects(t, () => opt.applyGradients([{ name: vars[0]!.name, tensor: tf.ones([2, 3]) }, { name: 'nope', tensor: tf.ones([1]) }]), RangeError, /"nope"/);
  unchanged(t, 'array');
  t.deepEqual([...(stranger.dataSync() as Float32Array)], [0, 0, 0, 0]);
  resumes(t);
});

test('applyGradients: a gradient of the wrong shape, rank or dtype is a RangeError naming the variable, the expected shape and what was received', (t) => {
  const { vars, opt, unchanged, resumes, good } = fixture();
  const name = vars[0]!.name;
  const cases: Array<[string, tf.Tensor, RegExp]> = [
    ['shape', tf.ones([3, 2]), /expected the gradient of ".*" to be float32 of shape \[2,3\], received float32 of shape \[3,2\]/],
    ['rank', tf.ones([6]), /to be float32 of shape \[2,3\], received float32 of shape \[6\]/],
    ['size', tf.ones([2, 4]), /received float32 of shape \[2,4\]/],
    ['int32', tf.ones([2, 3], 'int32'), /to be float32 of shape \[2,3\], received int32 of shape \[2,3\]/],
    ['bool', tf.ones([2, 3], 'bool'), /received bool of shape \[2,3\]/],
  ];
  for (const [what, g, message] of cases) {
    // The other variable's gradient is valid: it is not applied either.
    rejects(t, () => opt.applyGradients({ ...good(3), [name]: g }), RangeError, message);
    unchanged(t, what);
  }
  resumes(t);
});

test('applyGradients: a disposed gradient, or one that is not a tensor, is a TypeError naming the variable', (t) => {
  const { vars, opt, unchanged, resumes, good } = fixture();
  const name = vars[1]!.name;
  const disposed = tf.ones([4]);
  disposed.dispose();
  const cases: Array<[string, unknown, RegExp]> = [
    ['disposed', disposed, new RegExp(`expected the gradient of "${name}" to be a live tf.Tensor`)],
    ['Float32Array', new Float32Array(4), /to be a live tf\.Tensor, received .*Float32Array/],
    ['number', 1, /to be a live tf\.Tensor, received 1/],
  ];
  for (const [what, g, message] of cases) {
    rejects(t, () => opt.applyGradients({ ...good(3), [name]: g as tf.Tensor }), TypeError, message);
    unchanged(t, what);
  }
  rejects(t, () => opt.applyGradients([{ name: 5 } as never]), TypeError, /expected gradient 0 to be \{ name, tensor \}/);
  rejects(t, () => opt.applyGradients(null as never), TypeError, /expected a map or array of named gradients, received null/);
  unchanged(t, 'malformed');
  resumes(t);
});

test('applyGradients: a variable disposed after binding is a TypeError naming it; nothing else changes', (t) => {
  const { vars, opt } = fixture();
  const g = { [vars[0]!.name]: tf.ones([2, 3]) };
  const weights1 = tensorBytes(vars[0]!);
  vars[1]!.dispose();
  rejects(t, () => opt.applyGradients(g), TypeError, /expected ".*" to be a live tf\.Variable, received the disposed variable/);
  t.is(tensorBytes(vars[0]!), weights1);
  t.is(opt.iterations, 2);
});

test('the constructor: parameters that are not TfParameters, a non-optimizer, bad clipGradNorm values and unknown options are rejected by name; the variables are untouched', (t) => {
  const v = tf.variable(tf.tensor(values(2, 0, 0, 5)));
  const w = tf.variable(tf.tensor(values(2, 0, 1, 3)));
  const vBytes = tensorBytes(v);
  const [pv, pw] = parametersOf([v, w]);
  const plain = new Parameter(new Float32Array(3), { name: 'plain' });
  rejects(t, () => new TfjsOptimizer(new Adam([plain])), TypeError, /TfjsOptimizer: expected parameter 0 \("plain"\) to be bound to a tf\.Variable; create the optimizer's parameters with parametersOf\(model\)/);
  rejects(t, () => new TfjsOptimizer(new Adam([pv!, new Parameter(new Float32Array(2))])), TypeError, /expected parameter 1 to be bound to a tf\.Variable/);
  rejects(t, () => new TfjsOptimizer(new Lookahead(new SGD([{ params: [pv!] }, { params: [plain] }]))), TypeError, /expected parameter 1 \("plain"\) to be bound/);
  rejects(t, () => new TfjsOptimizer({} as never), TypeError, /TfjsOptimizer: expected optimizer to be a ferroptim optimizer or Lookahead/);
  rejects(t, () => new TfjsOptimizer(tf.train.adam(1) as never), TypeError, /expected optimizer to be a ferroptim optimizer or Lookahead/);

  const inner = new Adam([pv!, pw!], { lr: 0.1 });
  const bad: Array<[unknown, ErrorClass, RegExp]> = [
    [-1, RangeError, /TfjsOptimizer: expected clipGradNorm to be .*, received -1/],
    [NaN, RangeError, /expected clipGradNorm to be .*, received NaN/],
    ['1', TypeError, /TfjsOptimizer: expected clipGradNorm to be a number or \{ maxNorm, normType, errorIfNonfinite \}, received "1"/],
    [[1], TypeError, /expected clipGradNorm to be a number or \{ maxNorm, normType, errorIfNonfinite \}, received/],
    [{ normType: 2 }, TypeError, /expected clipGradNorm\.maxNorm to be a finite number >= 0, received undefined/],
    [{ maxNorm: -0.5 }, RangeError, /expected clipGradNorm\.maxNorm to be .*, received -0\.5/],
    [{ maxNorm: 1, normType: 0 }, RangeError, /expected clipGradNorm\.normType to be a number > 0 or Infinity, received 0/],
    [{ maxNorm: 1, normType: -Infinity }, RangeError, /clipGradNorm\.normType .* received -Infinity/],
    [{ maxNorm: 1, normType: NaN }, RangeError, /clipGradNorm\.normType .* received NaN/],
    [{ maxNorm: 1, errorIfNonfinite: 'yes' }, TypeError, /expected clipGradNorm\.errorIfNonfinite to be a boolean, received "yes"/],
    [{ maxNorm: 1, norm: 2 }, TypeError, /TfjsOptimizer: clipGradNorm: unknown option "norm" \(expected one of maxNorm, normType, errorIfNonfinite\)/],
  ];
  for (const [clip, instanceOf, message] of bad) rejects(t, () => new TfjsOptimizer(inner, { clipGradNorm: clip } as TfjsOptimizerOptions), instanceOf, message);
  rejects(t, () => new TfjsOptimizer(inner, { clipNorm: 1 } as never), TypeError, /TfjsOptimizer: unknown option "clipNorm" \(expected one of clipGradNorm, inPlace\)/);
  rejects(t, () => new TfjsOptimizer(inner, { inPlace: 'yes' } as never), TypeError, /TfjsOptimizer: expected inPlace to be a boolean, received "yes"/);
  rejects(t, () => new TfjsOptimizer(inner, 5 as never), TypeError, /TfjsOptimizer: expected an options object, received 5/);
  t.is(tensorBytes(v), vBytes);
  // The optimizer is intact and usable after all that.
  const opt = new TfjsOptimizer(inner, { clipGradNorm: { maxNorm: 1, normType: 2, errorIfNonfinite: true } });
  opt.applyGradients({ [v.name]: tf.ones([5]) });
  t.not(tensorBytes(v), vBytes);
});

test('clipGradNorm with errorIfNonfinite: a NaN gradient throws and changes nothing', (t) => {
  const v = tf.variable(tf.tensor(values(3, 0, 0, 5)));
  const opt = new TfjsOptimizer(new Adam(parametersOf([v]), { lr: 0.1 }), { clipGradNorm: { maxNorm: 1, errorIfNonfinite: true } });
  opt.applyGradients({ [v.name]: tf.ones([5]) });
  const weights = tensorBytes(v);
  const state = structuredClone(opt.stateDict());
  t.throws(() => opt.applyGradients({ [v.name]: tf.tensor([1, NaN, 1, 1, 1]) }), { instanceOf: RangeError, message: /clipGradNorm: the total norm of order 2 of the gradients is NaN/ });
  t.is(tensorBytes(v), weights);
  t.true(sameDeep(opt.stateDict(), state));
  t.is(opt.iterations, 1);
});

test('setWeights with garbage is a TypeError or RangeError saying what is wrong, and the state, iterations and next step are unchanged', async (t) => {
  const { opt, unchanged, resumes } = fixture();
  const [state, buffers] = await opt.getWeights();
  const json = (state!.tensor.dataSync() as unknown as string[])[0]!;
  const str = (s: string) => tf.tensor([s], [1], 'string');
  const cases: Array<[string, unknown, ErrorClass, RegExp]> = [
    ['not an array', 'weights', TypeError, /TfjsOptimizer\.setWeights: expected an array of named tensors, received "weights"/],
    ['empty', [], TypeError, /expected the weights ferroptim\/state \(one string\) and ferroptim\/buffers \(float32 vector\), received none/],
    ['a tfjs Adam’s weights', [{ name: 'iter', tensor: tf.scalar(3) }, { name: 'x/m', tensor: tf.zeros([2]) }], TypeError, /received "iter", "x\/m"/],
    ['state not a string', [{ name: 'ferroptim/state', tensor: tf.zeros([1]) }, buffers], TypeError, /expected the weights ferroptim\/state/],
    ['buffers not float32', [state, { name: 'ferroptim/buffers', tensor: tf.zeros([3], 'int32') }], TypeError, /ferroptim\/buffers \(float32 vector\)/],
    ['not JSON', [{ name: 'ferroptim/state', tensor: str('{oops') }, buffers], TypeError, /the saved optimizer state is not JSON/],
    ['wrong format', [{ name: 'ferroptim/state', tensor: str(json.replace('"format":1', '"format":7')) }, buffers], TypeError, /expected saved optimizer state of format 1, received 7/],
    ['buffers too short', [state, { name: 'ferroptim/buffers', tensor: tf.zeros([5]) }], RangeError, /a saved state buffer points outside the 5 saved values/],
    ['another model’s state', [{ name: 'ferroptim/state', tensor: str(json.replaceAll(`"${opt.parameters()[0]!.name}"`, '"elsewhere"')) }, buffers], RangeError, /Adam\.loadStateDict: the saved param groups do not match this optimizer's/],
  ];
  for (const [what, w, instanceOf, message] of cases) {
    await t.throwsAsync(opt.setWeights(w as never), { instanceOf, message }, what);
    unchanged(t, what);
  }
  // The real weights load (a no-op here), then the run goes on as the twin's.
  await opt.setWeights([state!, buffers!]);
  unchanged(t, 'valid');
  resumes(t);
});

test('setWeights with another optimizer’s state (SGD’s into Adam) is rejected and changes nothing', async (t) => {
  const { vars, opt, unchanged } = fixture();
  const sgd = new TfjsOptimizer(new SGD(parametersOf(vars), { lr: 0.1, momentum: 0.9 }));
  const weights = vars.map(tensorBytes);
  sgd.applyGradients(Object.fromEntries(vars.map((v) => [v.name, tf.zerosLike(v)])));
  t.deepEqual(vars.map(tensorBytes), weights); // zero gradients: SGD moved nothing
  const w = await sgd.getWeights();
  await t.throwsAsync(opt.setWeights(w), { instanceOf: TypeError, message: /Adam\.loadStateDict: param group 0: unknown option "momentum"/ });
  unchanged(t, 'sgd state');
});

test('parametersOf: non-variables, int32 and disposed variables, and other sources are TypeErrors naming the entry', (t) => {
  const v = tf.variable(tf.zeros([2]));
  const i = tf.variable(tf.zeros([2], 'int32'), true, 'counts');
  const gone = tf.variable(tf.zeros([2]), true, 'gone');
  gone.dispose();
  rejects(t, () => parametersOf([v, tf.zeros([2]) as never]), TypeError, /parametersOf: expected source\[1\] to be a tf\.Variable .*, received/);
  rejects(t, () => parametersOf([new Float32Array(2) as never]), TypeError, /expected source\[0\] to be a tf\.Variable/);
  rejects(t, () => parametersOf([i]), TypeError, /expected source\[0\] to be a float32 tf\.Variable, received "counts" of dtype int32/);
  rejects(t, () => parametersOf([gone]), TypeError, /expected source\[0\] to be a live tf\.Variable, received the disposed variable "gone"/);
  rejects(t, () => parametersOf(42 as never), TypeError, /parametersOf: expected a tf\.LayersModel or an array of tf\.Variables, received 42/);
  rejects(t, () => parametersOf({ trainableWeights: [{ originalName: 'x', read: () => tf.zeros([1]) }] } as never), TypeError, /expected trainableWeights\[0\] to be a tf\.Variable/);
  rejects(t, () => new TfParameter(v, 7 as never), TypeError, /TfParameter: expected name to be a string, received 7/);
  t.deepEqual(parametersOf([v]).map((p) => [p.name, p.numel]), [[v.name, 2]]);
});
