/**
 * A step taken in parts (`Optimizer.stepInParts`, used by `train` to update each layer during the
 * backward pass) gives every parameter the bits of one `step()`, for every registered optimizer
 * and state dtype, whatever the parts; it refuses what needs every gradient first, locks the
 * optimizer until it ends, and checks its input before touching anything.
 */
import test from 'ava';
import { Adam, AdamWScheduleFree, ASGD, Conv2d, Flatten, GradNormMonitor, Linear, MaxPool2d, Parameter, ReLU, SGD, Sequential, loadMnist, cnn, mlp, train, type Module } from '../ts/index.js';
import { create, NAMES, registered, variantsOf } from './helpers/conformance.js';
import { Rng } from './helpers/data.js';

/** Lengths around the kernels' 8192-element chunks, the int8 blocks and the vector widths. */
const LENGTHS = [40001, 7, 8193, 300, 9000, 1, 16];

function bits(ps: readonly Parameter[]): Buffer {
  return Buffer.concat(ps.map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)));
}

function twin(seed: number): [Parameter[], Parameter[]] {
  const r = new Rng(seed);
  const data = LENGTHS.map((n) => r.floats(n, 1));
  const make = () => data.map((d, i) => new Parameter(Float32Array.from(d), { name: `p${i}` }));
  return [make(), make()];
}

/** Every parameter of `ps` in random parts (some listed twice, some in no part: finish takes those). */
function randomParts(r: Rng, ps: readonly Parameter[]): Parameter[][] {
  const order = [...ps].sort(() => (r.bool() ? 1 : -1));
  const parts: Parameter[][] = [];
  let i = 0;
  while (i < order.length) {
    const k = r.int(1, 3);
    parts.push(order.slice(i, i + k));
    i += k;
  }
  if (parts.length > 1) parts[0]!.push(parts[1]![0]!);
  if (r.bool()) parts.pop();
  return parts;
}

for (const name of NAMES) {
  const { descriptor } = registered(name);
  for (const dtype of descriptor.stateDtypes ?? ['float32']) {
    test(`${descriptor.name} (${dtype} state): a step in parts gives the bits of one step()`, (t) => {
      const variants = variantsOf(name).slice(0, 2);
      for (const [vi, variant] of variants.entries()) {
        const [a, b] = twin(17 + vi);
        const groups = (ps: Parameter[]) => [
          { params: ps.slice(0, 3), ...variant },
          { params: ps.slice(3), ...variant, lr: ((variant.lr as number | undefined) ?? (descriptor.options.lr as { default: number }).default) / 2 },
        ];
        const options = dtype === 'float32' ? undefined : { stateDtype: dtype };
        const whole = create(name, groups(a), options);
        const inParts = create(name, groups(b), options);
        const r = new Rng(100 + vi);
        for (let s = 1; s <= 3; s++) {
          const grads = LENGTHS.map((n, j) => (j === 4 && s === 2 ? null : r.floats(n, 0.5)));
          a.forEach((p, j) => (p.grad = grads[j] === null ? null : Float32Array.from(grads[j]!)));
          b.forEach((p, j) => (p.grad = grads[j] === null ? null : Float32Array.from(grads[j]!)));
          whole.step();
          const parts = inParts.stepInParts();
          for (const part of randomParts(r, b)) parts.update(part);
          t.true(parts.open);
          parts.finish();
          t.false(parts.open);
          t.true(bits(a).equals(bits(b)), `variant ${vi}, step ${s}: parameters`);
        }
        t.deepEqual(inParts.stateDict(), whole.stateDict(), `variant ${vi}: state`);
        t.is(inParts.appliedSteps, 3);
        t.true(inParts.lastStepApplied);
      }
    });
  }
}

function adamPair(): { params: Parameter[]; opt: Adam } {
  const params = [new Parameter(new Float32Array([1, 2, 3]), { name: 'w' }), new Parameter(new Float32Array([4, 5]), { name: 'b' })];
  params[0]!.grad = new Float32Array([0.1, 0.2, 0.3]);
  params[1]!.grad = new Float32Array([0.4, 0.5]);
  return { params, opt: new Adam(params, { lr: 0.1 }) };
}

test('stepInParts refuses what needs every gradient first: skipNonFinite and step observers', (t) => {
  const { opt } = adamPair();
  opt.skipNonFinite = true;
  t.false(opt.canStepInParts);
  t.throws(() => opt.stepInParts(), { instanceOf: Error, message: /skipNonFinite is on/ });
  opt.skipNonFinite = false;
  t.true(opt.canStepInParts);
  const monitor = new GradNormMonitor(opt);
  t.false(opt.canStepInParts);
  t.throws(() => opt.stepInParts(), { instanceOf: Error, message: /GradNormMonitor/ });
  monitor.detach();
  t.true(opt.canStepInParts);
});

test('while a step in parts is under way, what would break it throws and changes nothing', (t) => {
  const { params, opt } = adamPair();
  const saved = opt.stateDict();
  const parts = opt.stepInParts();
  t.false(opt.canStepInParts);
  parts.update([params[0]!]);
  const before = bits(params);
  const locked = /while a step in parts is under way/;
  t.throws(() => opt.step(), { message: locked });
  t.throws(() => opt.stepInParts(), { message: locked });
  t.throws(() => opt.loadStateDict(saved), { message: locked });
  t.throws(() => opt.addParamGroup({ params: [new Parameter(new Float32Array(2))] }), { message: locked });
  t.throws(() => opt.observeSteps({ wantsGradNorms: false, onStep: () => {} }), { message: locked });
  t.true(bits(params).equals(before));
  opt.zeroGrad();
  parts.finish();
  t.throws(() => parts.update(params), { message: /after the step ended/ });
  t.throws(() => parts.finish(), { message: /after the step ended/ });
  t.notThrows(() => opt.step());
});

test('StepInParts.update checks every entry before touching anything', (t) => {
  const { params, opt } = adamPair();
  const parts = opt.stepInParts();
  const before = bits(params);
  t.throws(() => parts.update('w' as never), { instanceOf: TypeError, message: /expected params to be an array of Parameters, received "w"/ });
  t.throws(() => parts.update([params[0]!, 3 as never]), { instanceOf: TypeError, message: /expected params\[1\] to be a Parameter, received 3/ });
  t.throws(() => parts.update([params[0]!, new Parameter(new Float32Array(1), { name: 'stranger' })]), { instanceOf: RangeError, message: /params\[1\] \(stranger\) is not optimized by this optimizer/ });
  structuredClone(params[1]!.grad!.buffer, { transfer: [params[1]!.grad!.buffer] });
  t.throws(() => parts.update(params), { instanceOf: RangeError, message: /expected grad of .*b.* to have length 2, received 0 \(its buffer was detached/ });
  t.true(bits(params).equals(before));
  t.deepEqual(opt.stateDict().state, {});
  parts.end();
  t.false(opt.lastStepApplied);
  t.is(opt.appliedSteps + opt.skippedSteps, 0);
});

test('end() leaves the parameters not updated yet as they were, with no state and no step', (t) => {
  const { params, opt } = adamPair();
  const b = Float32Array.from(params[1]!.data);
  const parts = opt.stepInParts();
  parts.update([params[0]!]);
  parts.end();
  t.deepEqual([...params[1]!.data], [...b]);
  t.deepEqual(Object.keys(opt.stateDict().state), ['w']);
  t.is(opt.stateDict().state.w!.step, 1);
  t.is(opt.appliedSteps, 1);
  t.true(opt.lastStepApplied);
});

test('stepInParts keeps the subclasses\' conditions: Schedule-Free in eval mode, ASGD with its averages swapped in', (t) => {
  const p = new Parameter(new Float32Array([1, 2]));
  p.grad = new Float32Array([0.5, 0.5]);
  const sf = new AdamWScheduleFree([p]);
  t.throws(() => sf.stepInParts(), { instanceOf: Error, message: /stepInParts\(\) was called in eval mode/ });
  sf.train();
  const parts = sf.stepInParts();
  t.throws(() => sf.eval(), { message: /while a step in parts is under way/ });
  parts.finish();
  const q = new Parameter(new Float32Array([1, 2]));
  q.grad = new Float32Array([0.5, 0.5]);
  const asgd = new ASGD([q]);
  asgd.step();
  asgd.swapAveraged();
  t.throws(() => asgd.stepInParts(), { message: /stepInParts\(\) was called while the averaged parameters are swapped in/ });
  asgd.swapAveraged();
  const more = asgd.stepInParts();
  t.throws(() => asgd.swapAveraged(), { message: /while a step in parts is under way/ });
  more.finish();
});

test('dispose() ends a step in parts', (t) => {
  const { params, opt } = adamPair();
  const parts = opt.stepInParts();
  opt.dispose();
  t.false(parts.open);
  t.throws(() => parts.update(params), { message: /after dispose\(\)/ });
});

test('Sequential.backward calls afterModule after each module that ran, last first, the fused ReLU and pool both', (t) => {
  const model = new Sequential(new Conv2d(1, 2, 3), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(2 * 3 * 3, 4));
  const x = { data: new Float32Array(2 * 8 * 8).map((_, i) => Math.sin(i)), shape: [2, 1, 8, 8] };
  const y = model.forward(x);
  const seen: Array<[Module, number]> = [];
  model.backward({ data: new Float32Array(y.data.length).fill(1), shape: y.shape }, false, (m, i) => seen.push([m, i]));
  t.deepEqual(seen.map(([, i]) => i), [4, 3, 2, 1, 0]);
  t.true(seen.every(([m, i]) => m === model.layers[i]));
  t.throws(() => model.backward({ data: new Float32Array(y.data.length), shape: y.shape }, false, 5 as never), { instanceOf: TypeError, message: /expected afterModule to be a function or undefined, received 5/ });
});

const trainData = loadMnist({ split: 'train', limit: 384 });
const testData = loadMnist({ split: 'test', limit: 200 });

for (const [label, make] of [['the CNN', cnn], ['the MLP', mlp]] as const) {
  test(`train: ${label} stepped during the backward pass gives the bits of stepping after it`, (t) => {
    const run = (stepDuringBackward: boolean, opts: { clipGradNorm?: number } = {}) => {
      const model = make({ seed: 3 });
      const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
      let parts = 0;
      const stepInParts = optimizer.stepInParts.bind(optimizer);
      optimizer.stepInParts = () => (parts++, stepInParts());
      const { metrics } = train({ model, optimizer, epochs: 2, batchSize: 64, seed: 1, trainData, testData, stepDuringBackward, ...opts });
      return { weights: bits(model.parameters()), losses: metrics.map((m) => [m.trainLoss, m.testLoss]), parts };
    };
    const during = run(true);
    const after = run(false);
    t.is(during.parts, 12);
    t.is(after.parts, 0);
    t.true(during.weights.equals(after.weights));
    t.deepEqual(during.losses, after.losses);
    t.is(run(true, { clipGradNorm: 1 }).parts, 0, 'clipGradNorm needs every gradient first');
  });
}

test('train: stepDuringBackward must be a boolean', (t) => {
  const model = mlp({ seed: 0 });
  t.throws(() => train({ model, optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: 1, batchSize: 64, seed: 0, trainData, testData, stepDuringBackward: 'yes' as never }), {
    instanceOf: TypeError,
    message: /stepDuringBackward.*received "yes"/,
  });
});
