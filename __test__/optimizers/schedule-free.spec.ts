/**
 * What is particular to Schedule-Free SGD and AdamW; the conformance suite checks what every
 * optimizer shares (and their steps, their train()/eval() passes and their group state against
 * the oracles and schedulefree's fixtures):
 * the train-mode flag step() requires, what train() and eval() do to each group, the group
 * state in stateDict and loadStateDict, errors before anything changes, and the training loop,
 * which evaluates at x and resumes bit for bit.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Adam, AdamWScheduleFree, evaluate, loadMnist, Lookahead, mlp, Parameter, SGDScheduleFree, train, type ScheduleFreeGroupState, type TrainOptions } from '../../ts/index.js';
import { hex, snapshot } from '../helpers/compare.js';
import { values } from '../helpers/data.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-schedule-free-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

type AnySF = AdamWScheduleFree | SGDScheduleFree;
type Params = Parameter[] | Array<{ params: Parameter[] } & Record<string, unknown>>;
const CLASSES = [
  { name: 'AdamWScheduleFree', make: (ps: Params, o: Record<string, unknown> = {}): AnySF => new AdamWScheduleFree(ps as never, { lr: 0.01, ...o }), beta1: (o: Record<string, unknown> = {}) => ((o.betas as number[] | undefined) ?? [0.9])[0]! },
  { name: 'SGDScheduleFree', make: (ps: Params, o: Record<string, unknown> = {}): AnySF => new SGDScheduleFree(ps as never, { lr: 0.1, ...o }), beta1: (o: Record<string, unknown> = {}) => (o.momentum as number | undefined) ?? 0.9 },
];

const LENGTHS = [5, 17, 1025];
const params = (seed = 1) => LENGTHS.map((n, j) => new Parameter(values(seed, 0, j, n), { name: `p${j}` }));
const setGrads = (ps: Parameter[], s: number) => ps.forEach((p, j) => (p.grad = values(7, s, j, p.numel)));
const bytes = (ps: Parameter[]) => ps.map((p) => hex(p.data));
const groupState = (g: ScheduleFreeGroupState) => ({ k: g.k, trainMode: g.trainMode, weightSum: g.weightSum, lrMax: g.lrMax, scheduledLr: g.scheduledLr });

for (const { name, make, beta1 } of CLASSES) {
  test(`${name}: starts in eval mode, as schedulefree; step() throws before calling the closure or changing anything until train() is called`, (t) => {
    const ps = params();
    const opt = make(ps);
    t.deepEqual(groupState(opt.paramGroups[0]!), { k: 0, trainMode: false, weightSum: 0, lrMax: -1, scheduledLr: 0 });
    setGrads(ps, 1);
    const before = snapshot(ps, opt);
    let called = false;
    t.throws(() => opt.step(() => ((called = true), 1)), { instanceOf: Error, message: new RegExp(`^${name}: step\\(\\) was called in eval mode; call train\\(\\)`) });
    t.false(called);
    t.deepEqual(snapshot(ps, opt), before);
    opt.train();
    t.true(opt.paramGroups[0]!.trainMode);
    t.deepEqual(bytes(ps), before.data, 'without state, train() moves nothing');
    t.is(opt.step(() => 3), 3);
    t.is(opt.paramGroups[0]!.k, 1);
    opt.eval();
    t.throws(() => opt.step(), { message: /eval mode/ });
  });

  test(`${name}: eval() moves every parameter to x = lerp(y, z, 1 − 1/β1) and train() back with lerp(x, z, 1 − β1); repeating either changes nothing`, (t) => {
    const o = name === 'SGDScheduleFree' ? { momentum: 0.8 } : { betas: [0.8, 0.99] };
    const ps = params();
    const opt = make(ps, o);
    opt.train();
    for (let s = 1; s <= 4; s++) {
      setGrads(ps, s);
      opt.step();
    }
    const y = ps.map((p) => p.data.slice());
    const z = opt.stateDict().state as unknown as Record<string, { z: number[] }>;
    opt.eval();
    const b = beta1(o);
    ps.forEach((p, j) => {
      const zj = z[`p${j}`]!.z;
      for (let i = 0; i < p.numel; i += 97) {
        // x = (y − (1 − β1)·z)/β1, to float32 rounding
        const want = (y[j]![i]! - (1 - b) * zj[i]!) / b;
        t.true(Math.abs(p.data[i]! - want) <= 1e-6 * Math.max(1, Math.abs(want)), `x of p${j}[${i}]: ${p.data[i]} vs ${want}`);
      }
    });
    const x = bytes(ps);
    opt.eval();
    t.deepEqual(bytes(ps), x, 'eval() in eval mode');
    opt.train();
    ps.forEach((p, j) => p.data.forEach((v, i) => t.true(Math.abs(v - y[j]![i]!) <= 1e-6 * Math.max(1, Math.abs(y[j]![i]!)), `y of p${j}[${i}]`)));
    const back = bytes(ps);
    opt.train();
    t.deepEqual(bytes(ps), back, 'train() in train mode');
  });

  test(`${name}: each group has its own mode and a group added later starts in eval mode, as in schedulefree; step() checks the first group only`, (t) => {
    const ps = params();
    const opt = make([{ params: ps.slice(0, 2) }]);
    opt.train();
    setGrads(ps, 1);
    opt.step();
    opt.addParamGroup({ params: [ps[2]!] } as never);
    t.deepEqual(opt.paramGroups.map((g) => g.trainMode), [true, false]);
    t.is(opt.paramGroups[1]!.k, 0);
    // (After one step y = z: the first averaging weight is 1.)
    for (const s of [2, 3]) {
      setGrads(ps, s);
      opt.step();
    }
    t.deepEqual(opt.paramGroups.map((g) => g.k), [3, 2]);
    // eval() leaves the group already in eval mode where it is; train() then moves it.
    const third = hex(ps[2]!.data);
    opt.eval();
    t.is(hex(ps[2]!.data), third);
    t.deepEqual(opt.paramGroups.map((g) => g.trainMode), [false, false]);
    opt.train();
    t.not(hex(ps[2]!.data), third);
    t.deepEqual(opt.paramGroups.map((g) => g.trainMode), [true, true]);
  });

  test(`${name}: every group advances its k, weight sum and lrMax at every step, also without gradients; a skipped step advances nothing`, (t) => {
    const ps = params();
    const opt = make([{ params: ps.slice(0, 2) }, { params: ps.slice(2), lr: 0.02, warmupSteps: 4 }], { skipNonFinite: true });
    opt.train();
    for (let s = 1; s <= 3; s++) {
      setGrads(ps, s);
      ps[2]!.grad = null;
      opt.step();
    }
    const g1 = opt.paramGroups[1]!;
    // γ = lr·(k + 1)/4 for k = 0, 1, 2; weights lrMax² (r = 0).
    const lrs = [1, 2, 3].map((k) => 0.02 * (k / 4));
    t.deepEqual(groupState(g1), { k: 3, trainMode: true, weightSum: lrs.reduce((a, lr) => a + lr ** 2, 0), lrMax: lrs[2]!, scheduledLr: lrs[2]! });
    t.is(opt.stateDict().state.p2, undefined, 'no per-parameter state without a gradient');
    const before = snapshot(ps, opt);
    setGrads(ps, 4);
    ps[0]!.grad![0] = NaN;
    opt.step();
    t.false(opt.lastStepApplied);
    t.deepEqual(snapshot(ps, opt).groups, before.groups);
  });

  test(`${name}: stateDict lists the group state, and through JSON into a fresh optimizer (saved in either mode) resumes bit for bit`, (t) => {
    for (const saveIn of ['train', 'eval'] as const) {
      const ps = params(3);
      const opt = make([{ params: ps.slice(0, 2) }, { params: ps.slice(2), warmupSteps: 3, r: 0.5 }]);
      opt.train();
      for (let s = 1; s <= 5; s++) {
        setGrads(ps, s);
        opt.step();
      }
      if (saveIn === 'eval') opt.eval();
      const sd = opt.stateDict();
      t.deepEqual(Object.keys(sd.paramGroups[0]!).slice(-5), ['k', 'trainMode', 'weightSum', 'lrMax', 'scheduledLr']);
      t.is(sd.paramGroups[1]!.trainMode, saveIn === 'train');
      const json = JSON.stringify(sd);
      // The model's weights are saved with the optimizer, in the same mode.
      const copies = ps.map((p) => new Parameter(p.data.slice(), { name: p.name! }));
      const fresh = make([{ params: copies.slice(0, 2) }, { params: copies.slice(2) }]);
      fresh.loadStateDict(JSON.parse(json));
      t.deepEqual(fresh.paramGroups.map(groupState), opt.paramGroups.map(groupState), `${saveIn}: group state restored`);
      for (const o of [opt, fresh]) o.train();
      for (let s = 6; s <= 9; s++) {
        setGrads(ps, s);
        setGrads(copies, s);
        opt.step();
        fresh.step();
      }
      opt.eval();
      fresh.eval();
      t.deepEqual(bytes(copies), bytes(ps), `${saveIn}: parameters`);
      t.is(JSON.stringify(fresh.stateDict()), JSON.stringify(opt.stateDict()), `${saveIn}: state`);
    }
  });

  test(`${name}: a bad group state or option throws a TypeError or RangeError naming it, before train(), eval(), step() or loadStateDict() change anything`, (t) => {
    const ps = params();
    const opt = make([{ params: ps.slice(0, 2) }, { params: ps.slice(2) }]);
    opt.train();
    setGrads(ps, 1);
    opt.step();
    const beta = name === 'SGDScheduleFree' ? ['momentum', 0, /expected momentum \(param group 1\) to be a finite number > 0 and < 1, received 0$/] : ['betas', [0, 0.9], /expected betas \(param group 1\)\[0\] to be a finite number > 0 and < 1, received 0$/];
    const cases: Array<[string, unknown, typeof TypeError, RegExp]> = [
      ['trainMode', 1, TypeError, /expected trainMode \(param group 1\) to be a boolean, received 1$/],
      ['k', 1.5, RangeError, /expected k \(param group 1\) to be an integer >= 0 and <= \d+, received 1.5$/],
      ['weightSum', -1, RangeError, /expected weightSum \(param group 1\) to be a finite number >= 0, received -1$/],
      ['lrMax', NaN, RangeError, /expected lrMax \(param group 1\) to be a finite number >= -1, received NaN$/],
      ['scheduledLr', '0.1', TypeError, /expected scheduledLr \(param group 1\) to be a finite number >= 0, received "0.1"$/],
      [beta[0] as string, beta[1], RangeError, beta[2] as RegExp],
    ];
    for (const [key, bad, error, message] of cases) {
      const g = opt.paramGroups[1] as unknown as Record<string, unknown>;
      const good = g[key];
      setGrads(ps, 2);
      const before = snapshot(ps, opt);
      g[key] = bad;
      for (const call of ['step', 'eval'] as const) {
        t.throws(() => opt[call](), { instanceOf: error, message }, `${call} with ${key} = ${String(bad)}`);
      }
      // (stateDict refuses a bad group state too, as it refuses a bad initialLr.)
      if (key !== beta[0]) t.throws(() => opt.stateDict(), { instanceOf: error, message });
      g[key] = good;
      t.deepEqual(snapshot(ps, opt), before, `step and eval with ${key} = ${String(bad)}`);
      const saved = opt.stateDict();
      (saved.paramGroups[1] as Record<string, unknown>)[key] = bad;
      const was = snapshot(ps, opt);
      t.throws(() => opt.loadStateDict(saved), { instanceOf: error, message: new RegExp(message.source.replace('param group 1', 'saved param group 1')) }, `loadStateDict with ${key}`);
      t.deepEqual(snapshot(ps, opt), was);
    }
    // Group state is state, not an option.
    t.throws(() => make(ps.slice(0, 1), { k: 3 }), { instanceOf: TypeError, message: new RegExp(`^${name}: unknown option "k"`) });
    t.throws(() => opt.addParamGroup({ params: [new Parameter(new Float32Array(2))], trainMode: true } as never), { instanceOf: TypeError, message: /unknown option "trainMode"/ });
    // An averaging weight that overflows float64 is refused by name.
    const big = make(params(), { r: 400 });
    big.train();
    const bp = big.parameters();
    for (let s = 1; s <= 6; s++) {
      setGrads(bp, s);
      if (s < 6) big.step();
    }
    const kept = snapshot(bp, big);
    t.throws(() => big.step(), { instanceOf: RangeError, message: /averaging weight \(k \+ 1\)\^r · lrMax\^weightLrPower of param group 0 overflows at k = 5 \(r 400/ });
    t.deepEqual(snapshot(bp, big), kept);
  });
}

// ------------------------------------------------------------------------------------- the training loop

const trainData = loadMnist({ split: 'train', limit: 384 });
const testData = loadMnist({ split: 'test', limit: 200 });

function setup(extra: Partial<TrainOptions> = {}) {
  const model = mlp({ seed: 3 });
  const optimizer = new AdamWScheduleFree(model.parameters(), { lr: 0.005, warmupSteps: 4, weightDecay: 0.01 });
  const calls: string[] = [];
  const recorded = {
    paramGroups: optimizer.paramGroups,
    step: () => (calls.push('step'), optimizer.step()),
    zeroGrad: (o?: { setToNone?: boolean }) => optimizer.zeroGrad(o),
    stateDict: () => optimizer.stateDict(),
    loadStateDict: (sd: never) => optimizer.loadStateDict(sd),
    train: () => (calls.push('train'), optimizer.train()),
    eval: () => (calls.push('eval'), optimizer.eval()),
  };
  const options: TrainOptions = { model, optimizer: recorded, epochs: 2, batchSize: 64, seed: 5, trainData, testData, ...extra };
  const weights = () => Buffer.concat(model.parameters().map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)));
  return { model, optimizer, options, calls, weights };
}

test('train switches a Schedule-Free optimizer to eval mode before each test pass and back before the next step, and tests at x', (t) => {
  const s = setup();
  const r = train(s.options);
  // 6 batches per epoch.
  const epoch = ['train', ...Array<string>(6).fill('step'), 'eval'];
  t.deepEqual(s.calls, [...epoch, ...epoch]);
  t.false(s.optimizer.paramGroups[0]!.trainMode, 'a finished run leaves the parameters at x');
  const atX = evaluate(s.model, testData);
  t.is(r.metrics[1]!.testLoss, atX.loss);
  t.is(r.metrics[1]!.testAccuracy, atX.accuracy);
  s.optimizer.train();
  t.not(evaluate(s.model, testData).loss, atX.loss, 'y is another point');
});

test('train with a trial evaluates at x inside an epoch too, and a crash after a checkpoint there resumes to the uninterrupted weights', (t) => {
  const trial = () => ({ report: () => {}, shouldPrune: () => false });
  const straight = setup({ trial: trial(), reportEvery: 4 });
  train(straight.options);
  // Steps 4 and 8 (inside epochs 1 and 2) evaluate: eval, train, then the next step.
  t.deepEqual(straight.calls.join(' '), ['train', 'step', 'step', 'step', 'step', 'eval', 'train', 'step', 'step', 'eval', 'train', 'step', 'step', 'eval', 'train', 'step', 'step', 'step', 'step', 'eval'].join(' '));
  const dir = join(tmp, 'resume');
  const a = setup({ trial: trial(), reportEvery: 4, checkpointDir: dir, checkpointEvery: 2, onBatch: (p) => {
    if (p.epoch === 2 && p.batch === 3) throw new Error('simulated crash');
  } });
  t.throws(() => train(a.options), { message: 'simulated crash' });
  // The last checkpoint is at step 8 (epoch 2, batch 2), written after that step's evaluation.
  const b = setup({ trial: trial(), reportEvery: 4, checkpointDir: dir, checkpointEvery: 2, resume: true });
  const r = train(b.options);
  t.is(r.resumedFromBatch, 2);
  t.true(b.weights().equals(straight.weights()));
  t.deepEqual(b.optimizer.stateDict(), straight.optimizer.stateDict());
});

test('train refuses an optimizer with only one of train() and eval()', (t) => {
  const s = setup();
  const half = { ...(s.options.optimizer as object), eval: undefined } as never;
  t.throws(() => train({ ...s.options, optimizer: half }), { instanceOf: TypeError, message: /expected the optimizer's train and eval to be methods, both or neither/ });
});

test('Lookahead forwards train() and eval() to a Schedule-Free inner optimizer: before its first sync it is the inner optimizer, bit for bit', (t) => {
  const make = () => [new Parameter(values(11, 0, 0, 9)), new Parameter(values(11, 0, 1, 4))];
  const plainParams = make();
  const plain = new AdamWScheduleFree(plainParams, { lr: 0.01 });
  const wrappedParams = make();
  const wrapped = new Lookahead(new AdamWScheduleFree(wrappedParams, { lr: 0.01 }), { k: 10 });
  t.throws(() => wrapped.step(), { message: /train\(\)/ });
  plain.train();
  wrapped.train();
  for (let step = 1; step <= 5; step++) {
    for (const ps of [plainParams, wrappedParams]) ps.forEach((p, j) => (p.grad = values(11, step, j, p.numel)));
    plain.step();
    wrapped.step();
  }
  plain.eval();
  wrapped.eval();
  t.deepEqual(wrappedParams.map((p) => hex(p.data)), plainParams.map((p) => hex(p.data)));
  // And a Lookahead over an optimizer without modes accepts both calls and changes nothing.
  const adamParams = make();
  const la = new Lookahead(new Adam(adamParams, { lr: 0.01 }));
  la.eval();
  la.train();
  t.deepEqual(adamParams.map((p) => hex(p.data)), make().map((p) => hex(p.data)));
});

test('loadStateDict refuses a group state the next step could not advance from (the averaging weight overflows), changing nothing', (t) => {
  const ps = [new Parameter(values(12, 0, 0, 5))];
  const opt = new SGDScheduleFree(ps, { lr: 0.1 });
  opt.train();
  ps[0]!.grad = values(12, 1, 0, 5);
  opt.step();
  const sd = opt.stateDict();
  const before = JSON.stringify(sd);
  const bad = JSON.parse(before);
  bad.paramGroups[0].lrMax = 1e300;
  t.throws(() => opt.loadStateDict(bad), { instanceOf: RangeError, message: /overflows at k = 1 .*lrMax 1e\+300/ });
  t.is(JSON.stringify(opt.stateDict()), before);
  opt.step(); // still steps
  t.pass();
});

test('options whose first averaging weight lr^weightLrPower overflows are refused when given, not at the first step', (t) => {
  const p = () => [new Parameter(values(13, 0, 0, 4))];
  t.throws(() => new SGDScheduleFree(p(), { lr: 1.3407807929942597e154 }), { instanceOf: RangeError, message: /expected lr \^ weightLrPower .* received 1\.3407807929942597e\+154 \^ 2/ });
  t.throws(() => new AdamWScheduleFree(p(), { lr: 1e200 }), { instanceOf: RangeError, message: /lr \^ weightLrPower/ });
  const ok = new SGDScheduleFree(p(), { lr: 1.3407807929942597e154, weightLrPower: 1 });
  ok.train();
  ok.parameters()[0]!.grad = values(13, 1, 0, 4);
  t.notThrows(() => ok.step());
});
