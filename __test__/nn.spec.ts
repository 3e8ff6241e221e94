/**
 * The nn layers against the real PyTorch (2.5.1, CPU float32): every case of
 * `__test__/fixtures/nn.json` (made by `scripts/gen_nn_fixtures.py`) is replayed through the
 * public API: forward output, input gradient and parameter gradients for the loss sum(y·r), and
 * for two whole models the cross-entropy, every gradient and one Adam step.
 *
 * Tolerance: PyTorch's convolutions and products sum in a different order (and with other
 * blockings) than matrixmultiply, so results agree to float32 rounding of sums of a few hundred
 * terms: |got − want| <= 2e-5 + 2e-5·|want|. Pooling and ReLU are exact.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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
  Sequential,
  cnn,
  decodeSafetensors,
  encodeSafetensors,
  mlp,
  setNumThreads,
  getNumThreads,
  getDetectedSimdLevel,
  type SimdLevel,
  type Tensor,
} from '../ts/index.js';
import { nnNative } from '../ts/native.js';
import { runAtLevel } from './helpers/at-level.js';
import { bitsOf, compareFusion, fusionInput, fusionModels, runByHand, runSequential } from './helpers/fusion.js';
import type { FusionReport } from './helpers/fusion-child.js';

const FUSION_CHILD = fileURLToPath(new URL('./helpers/fusion-child.ts', import.meta.url));
const RANK: Record<SimdLevel, number> = { baseline: 0, avx2: 1, avx512: 2 };
const FUSION_LEVELS = (['avx512', 'avx2', 'baseline'] as const).filter((l) => RANK[l] <= RANK[getDetectedSimdLevel()]);

interface ParamFix {
  data: number[];
  shape: number[];
  grad: number[];
}
interface LayerCase {
  name: string;
  x: number[];
  xShape: number[];
  y: number[];
  yShape: number[];
  r: number[];
  dx: number[];
  params: Record<string, ParamFix>;
  config: Record<string, unknown>;
}
interface CeCase {
  name: string;
  logits: number[];
  shape: [number, number];
  targets: number[];
  loss: number;
  dlogits: number[];
}
interface ModelCase {
  name: string;
  x: number[];
  xShape: number[];
  targets: number[];
  init: Record<string, { data: number[]; shape: number[] }>;
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
  afterAdam: Record<string, number[]>;
  lr: number;
}
interface Fixtures {
  torch: string;
  cases: { linear: LayerCase[]; conv2d: LayerCase[]; maxpool2d: LayerCase[]; relu: LayerCase[]; crossEntropy: CeCase[]; models: ModelCase[] };
}

const FIX = JSON.parse(readFileSync(new URL('./fixtures/nn.json', import.meta.url), 'utf8')) as Fixtures;
const ABS = 2e-5;
const REL = 2e-5;

function close(t: { fail(m: string): void; pass(): void }, got: ArrayLike<number>, want: ArrayLike<number>, what: string, abs = ABS, rel = REL): void {
  if (got.length !== want.length) return t.fail(`${what}: length ${got.length}, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = Math.fround(want[i]!);
    if (!(Math.abs(g - w) <= abs + rel * Math.abs(w))) return t.fail(`${what}[${i}]: got ${g}, expected ${w}`);
  }
  t.pass();
}

function t32(data: number[], shape: number[]): Tensor {
  return { data: Float32Array.from(data), shape };
}

/** Loads the fixture's parameters into a module, runs forward and backward with dy = r. */
function replayLayer(m: Module, c: LayerCase) {
  const named = new Map(m.namedParameters());
  for (const [k, p] of Object.entries(c.params)) {
    const mine = named.get(k);
    if (!mine) throw new Error(`no parameter ${k}`);
    mine.data.set(p.data);
    mine.grad!.fill(0);
  }
  const y = m.forward(t32(c.x, c.xShape));
  const yCopy = { data: Float32Array.from(y.data), shape: [...y.shape] };
  const dx = m.backward(t32(c.r, c.yShape));
  return { y: yCopy, dx: dx!, named };
}

const pairOf = (v: unknown): number | [number, number] => (Array.isArray(v) ? [v[0], v[1]] : (v as number));

const layerTables: Array<[keyof Fixtures['cases'], (c: LayerCase) => Module]> = [
  ['linear', (c) => new Linear(c.config.inFeatures as number, c.config.outFeatures as number, { bias: c.config.bias as boolean })],
  [
    'conv2d',
    (c) =>
      new Conv2d(c.config.inChannels as number, c.config.outChannels as number, pairOf(c.config.kernelSize), {
        stride: pairOf(c.config.stride),
        padding: pairOf(c.config.padding),
        dilation: pairOf(c.config.dilation),
        bias: c.config.bias as boolean,
      }),
  ],
  ['maxpool2d', (c) => new MaxPool2d(pairOf(c.config.kernelSize), { stride: pairOf(c.config.stride), padding: pairOf(c.config.padding), dilation: pairOf(c.config.dilation) })],
  ['relu', () => new ReLU()],
];

for (const [kind, make] of layerTables) {
  for (const c of FIX.cases[kind] as LayerCase[]) {
    test(`${c.name} matches PyTorch ${FIX.torch}: output, input gradient and parameter gradients`, (t) => {
      const m = make(c);
      const { y, dx, named } = replayLayer(m, c);
      t.deepEqual(y.shape, c.yShape);
      const exact = kind === 'maxpool2d' || kind === 'relu';
      close(t, y.data, c.y, 'y', exact ? 0 : ABS, exact ? 0 : REL);
      close(t, dx.data, c.dx, 'dx', exact ? 0 : ABS, exact ? 0 : REL);
      for (const [k, p] of Object.entries(c.params)) close(t, named.get(k)!.grad!, p.grad, `${k}.grad`);
      t.deepEqual([...named.keys()].sort(), Object.keys(c.params).sort());
    });
  }
}

test('ReLU with inplace overwrites its input and gives the same values and gradients', (t) => {
  const c = FIX.cases.relu[0]!;
  const x = t32(c.x, c.xShape);
  const y = new ReLU({ inplace: true }).forward(x);
  t.is(y.data, x.data);
  close(t, y.data, c.y, 'y', 0, 0);
});

for (const c of FIX.cases.crossEntropy) {
  test(`${c.name} matches PyTorch: loss and gradient`, (t) => {
    const ce = new CrossEntropyLoss();
    const loss = ce.forward(t32(c.logits, c.shape), Int32Array.from(c.targets));
    t.true(Math.abs(loss - c.loss) <= 1e-5 * (1 + Math.abs(c.loss)), `loss ${loss} vs ${c.loss}`);
    close(t, ce.backward().data, c.dlogits, 'dlogits', 1e-6, 1e-5);
  });
}

function buildModel(c: ModelCase): Sequential {
  if (c.name.startsWith('small CNN')) {
    return new Sequential(
      new Conv2d(1, 4, 3, { padding: 1 }),
      new ReLU({ inplace: true }),
      new MaxPool2d(2),
      new Conv2d(4, 6, 3, { padding: 1 }),
      new ReLU(),
      new MaxPool2d(2),
      new Flatten(),
      new Linear(24, 5),
      new ReLU({ inplace: true }),
      new Linear(5, 3),
    );
  }
  return new Sequential(new Flatten(), new Linear(16, 8), new ReLU(), new Linear(8, 4));
}

for (const c of FIX.cases.models) {
  test(`${c.name}: logits, loss, every gradient and one Adam step match PyTorch`, (t) => {
    const model = buildModel(c);
    t.deepEqual(
      model.namedParameters().map(([k]) => k),
      Object.keys(c.init),
    );
    model.loadStateDict(Object.fromEntries(Object.entries(c.init).map(([k, v]) => [k, { data: Float32Array.from(v.data), shape: v.shape }])));
    const opt = new Adam(model.parameters(), { lr: c.lr });
    opt.zeroGrad();
    const logits = model.forward(t32(c.x, c.xShape));
    close(t, logits.data, c.logits, 'logits');
    const ce = new CrossEntropyLoss();
    const loss = ce.forward(logits, c.targets);
    t.true(Math.abs(loss - c.loss) < 1e-5, `loss ${loss} vs ${c.loss}`);
    t.is(model.backward(ce.backward(), false), null);
    for (const [k, p] of model.namedParameters()) close(t, p.grad!, c.grads[k]!, `${k}.grad`);
    opt.step();
    for (const [k, p] of model.namedParameters()) close(t, p.data, c.afterAdam[k]!, `${k} after Adam`, 1e-5, 1e-5);
  });
}

test('Sequential.backward(g, false) skips the input gradient: the parameter-free modules in front do not run, and the gradients are those of backward(g, true)', (t) => {
  const calls: boolean[] = [];
  class Spy extends Flatten {
    override backward(g: Tensor, needInputGrad = true): Tensor | null {
      calls.push(needInputGrad);
      return super.backward(g, needInputGrad);
    }
  }
  const build = () => new Sequential(new Spy(), new Linear(12, 5, { generator: new Generator(3) }), new ReLU(), new Linear(5, 3, { generator: new Generator(4) }));
  const x = t32(Array.from({ length: 24 }, (_, i) => Math.sin(i)), [2, 3, 4]);
  const grads = (need: boolean) => {
    const m = build();
    const ce = new CrossEntropyLoss();
    ce.forward(m.forward(x), [0, 2]);
    const dx = m.backward(ce.backward(), need);
    return { dx, g: m.parameters().map((p) => Array.from(p.grad!)) };
  };
  const all = grads(true);
  t.deepEqual(calls, [true]);
  t.deepEqual(all.dx!.shape, [2, 3, 4]);
  const skipped = grads(false);
  t.deepEqual(calls, [true], 'the Flatten in front did not run');
  t.is(skipped.dx, null);
  t.deepEqual(skipped.g, all.g);
});

// ReLU → MaxPool2d pairs, and Conv2d → ReLU → MaxPool2d triples, inside Sequential run fused (one
// pass each way); the oracle is the same modules run one by one by hand, compared bit for bit, here
// at the CPU's level and in `fusion-child.ts` at every level.
for (const m of fusionModels) {
  test(`Sequential fuses ReLU→MaxPool2d and Conv2d→ReLU→MaxPool2d with the bits of running the modules one by one: ${m.name}`, (t) => {
    const { want, got, noInputGrad, calls } = compareFusion(m);
    t.true(want.y.length > 0);
    const { relu, conv } = m.ownPasses;
    t.deepEqual(calls, { reluForward: relu, reluBackward: relu, convForward: conv, convBackward: conv }, 'only the unfused ReLU and Conv2d ran their own passes');
    t.is(got.y, want.y, 'output bits');
    t.deepEqual(got.grads, want.grads, 'parameter gradient bits');
    t.is(got.dx, want.dx, 'input gradient bits');
    t.is(noInputGrad.dx, null);
    t.deepEqual(noInputGrad.grads, want.grads, 'parameter gradient bits without the input gradient');
  });
}

for (const level of FUSION_LEVELS) {
  test(`Sequential's fused layers give the bits of the modules one by one at SIMD level ${level}, on 1, 2 and 3 threads`, async (t) => {
    const report = await runAtLevel<FusionReport>(FUSION_CHILD, level);
    t.is(report.simd, level);
    t.is(report.compared, 3 * fusionModels.length);
    t.deepEqual(report.failures, []);
  });
}

test('Sequential leaves a ReLU that overrides forward or backward, and an inplace ReLU first, unfused, with the same bits', (t) => {
  let calls = 0;
  class Spy extends ReLU {
    override forward(x: Tensor): Tensor {
      calls++;
      return super.forward(x);
    }
    override backward(g: Tensor, needInputGrad = true): Tensor | null {
      calls++;
      return super.backward(g, needInputGrad);
    }
  }
  const build = (relu: () => ReLU) => [relu(), new MaxPool2d(2, { stride: 1 }), new Conv2d(2, 2, 3, { generator: new Generator(7) }), relu(), new MaxPool2d(2), new Flatten()];
  const shape = [2, 2, 8, 8];
  const input = fusionInput(shape);
  const r = new Generator(8).fillUniform(new Float32Array(2 * 2 * 2 * 2), -1, 1);
  const want = runByHand(build(() => new ReLU()), { data: input.slice(), shape }, r);
  const got = runSequential(build(() => new Spy()), { data: input.slice(), shape }, r, true);
  t.is(calls, 4, 'both Spy ReLUs ran forward and backward');
  t.deepEqual(got, want);
  // An inplace ReLU first overwrites the caller's input, as it does on its own.
  const x = input.slice();
  new Sequential(new ReLU({ inplace: true }), new MaxPool2d(2)).forward({ data: x, shape });
  const relu = input.slice();
  new ReLU({ inplace: true }).forward({ data: relu, shape });
  t.is(bitsOf(x), bitsOf(relu));
});

test('the presets have the article shapes and PyTorch Sequential names', (t) => {
  const m = cnn({ seed: 0 });
  t.deepEqual(
    m.namedParameters().map(([k, p]) => `${k}:${p.shape.join('x')}`),
    ['0.weight:32x1x3x3', '0.bias:32', '3.weight:64x32x3x3', '3.bias:64', '7.weight:128x3136', '7.bias:128', '9.weight:10x128', '9.bias:10'],
  );
  t.is(m.numParameters(), 421642);
  const y = m.forward({ data: new Float32Array(2 * 784), shape: [2, 1, 28, 28] });
  t.deepEqual(y.shape, [2, 10]);
  const p = mlp({ seed: 0 });
  t.deepEqual(
    p.namedParameters().map(([k]) => k),
    ['1.weight', '1.bias', '3.weight', '3.bias'],
  );
  t.is(p.numParameters(), 101770);
});

test('initialisation follows PyTorch: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) and a seed reproduces it', (t) => {
  const a = cnn({ seed: 7 });
  const b = cnn({ seed: 7 });
  const c = cnn({ seed: 8 });
  t.deepEqual(a.parameters()[0]!.data, b.parameters()[0]!.data);
  t.notDeepEqual(a.parameters()[0]!.data, c.parameters()[0]!.data);
  const fc1 = a.namedParameters().find(([k]) => k === '7.weight')![1];
  const bound = 1 / Math.sqrt(3136);
  let max = 0;
  let sum = 0;
  for (const v of fc1.data) {
    max = Math.max(max, Math.abs(v));
    sum += v;
  }
  t.true(max <= bound && max > 0.99 * bound);
  t.true(Math.abs(sum / fc1.numel) < 0.01 * bound);
});

test('a model gradient matches central finite differences of the cross-entropy', (t) => {
  const g = new Generator(3);
  const model = new Sequential(new Conv2d(1, 3, 3, { padding: 1, generator: g }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(27, 4, { generator: g }));
  const x = { data: g.fillUniform(new Float32Array(2 * 36), 0, 1), shape: [2, 1, 6, 6] };
  const targets = [1, 3];
  const ce = new CrossEntropyLoss();
  model.zeroGrad();
  ce.forward(model.forward(x), targets);
  model.backward(ce.backward(), false);
  const lossAt = () => ce.forward(model.forward(x), targets, false);
  for (const p of model.parameters()) {
    for (let i = 0; i < p.numel; i += Math.max(1, Math.floor(p.numel / 7))) {
      const orig = p.data[i]!;
      const h = 1e-2;
      p.data[i] = orig + h;
      const lp = lossAt();
      p.data[i] = orig - h;
      const lm = lossAt();
      p.data[i] = orig;
      const num = (lp - lm) / (2 * h);
      t.true(Math.abs(num - p.grad![i]!) <= 2e-3 + 2e-2 * Math.abs(num), `${p.name}[${i}]: ${p.grad![i]} vs ${num}`);
    }
  }
});

test('the CNN gives the same bits on 1 and 2 threads', (t) => {
  const before = getNumThreads();
  const run = (threads: number) => {
    setNumThreads(threads);
    const m = cnn({ seed: 1 });
    const g = new Generator(2);
    const x = { data: g.fillUniform(new Float32Array(20 * 784), 0, 1), shape: [20, 1, 28, 28] };
    const ce = new CrossEntropyLoss();
    ce.forward(m.forward(x), Array.from({ length: 20 }, (_, i) => i % 10));
    m.backward(ce.backward(), false);
    return m.parameters().map((p) => Buffer.from(p.grad!.buffer, p.grad!.byteOffset, p.grad!.byteLength).toString('base64'));
  };
  const one = run(1);
  const two = run(2);
  setNumThreads(before);
  t.deepEqual(one, two);
});

test('Dropout: identity in eval mode, seeded masks in training, backward uses the mask', (t) => {
  const x = { data: new Float32Array(1000).fill(1), shape: [10, 100] };
  const d = new Dropout(0.25, { generator: new Generator(5) });
  const y = d.forward(x);
  const kept = y.data.filter((v) => v !== 0);
  t.true(kept.every((v) => Math.abs(v - 4 / 3) < 1e-6));
  t.true(Math.abs(kept.length / 1000 - 0.75) < 0.06);
  const dx = d.backward({ data: new Float32Array(1000).fill(2), shape: [10, 100] })!;
  t.true(dx.data.every((v, i) => v === y.data[i]! * 2));
  const again = new Dropout(0.25, { generator: new Generator(5) }).forward(x);
  t.deepEqual(again.data, y.data);
  d.eval();
  t.is(d.forward(x), x);
});

test('safetensors round-trips weights with names, shapes and metadata', (t) => {
  const m = mlp({ seed: 3 });
  const bytes = encodeSafetensors(m.stateDict(), { format: 'pt' });
  t.is(Number(bytes.readBigUInt64LE(0)) % 8, 0);
  const { tensors, metadata } = decodeSafetensors(bytes);
  t.deepEqual(metadata, { format: 'pt' });
  const n = mlp({ seed: 4 });
  n.loadStateDict(tensors);
  t.deepEqual(n.parameters()[0]!.data, m.parameters()[0]!.data);
  t.deepEqual(tensors['1.weight']!.shape, [128, 784]);
  t.throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 10), 'w.safetensors'), { instanceOf: RangeError, message: /w\.safetensors.*truncated/ });
  t.throws(() => decodeSafetensors(new Uint8Array(3), 'x'), { instanceOf: RangeError });
});

// Bad input: TypeError or RangeError naming the argument and value, never a crash.
const errorCases: Array<[string, () => unknown, RegExp, ErrorConstructor]> = [
  ['Linear with a fractional size', () => new Linear(3.5, 2), /Linear: expected inFeatures to be an integer >= 1, received 3.5/, RangeError],
  ['Linear with an unknown option', () => new Linear(3, 2, { bais: true } as never), /unknown option "bais"/, TypeError],
  ['Linear on the wrong input width', () => new Linear(3, 2).forward({ data: new Float32Array(8), shape: [2, 4] }), /expected input of shape \[N, 3\], received \[2, 4\]/, RangeError],
  ['Linear on a shape that does not match its data', () => new Linear(3, 2).forward({ data: new Float32Array(5), shape: [2, 3] }), /input has shape \[2, 3\] but 5 elements/, RangeError],
  ['Linear on a plain array', () => new Linear(3, 2).forward({ data: [1, 2, 3], shape: [1, 3] } as never), /expected input to be a tensor/, TypeError],
  ['Linear backward before forward', () => new Linear(3, 2).backward({ data: new Float32Array(2), shape: [1, 2] }), /call forward first/, RangeError],
  ['Conv2d with a zero kernel', () => new Conv2d(1, 2, 0), /expected kernelSize to be an integer >= 1 or a pair of them|expected kernelSize to be an integer >= 1, received 0/, RangeError],
  ['Conv2d with a negative padding', () => new Conv2d(1, 2, 3, { padding: -1 }), /expected padding to be an integer >= 0, received -1/, RangeError],
  ['Conv2d on the wrong channel count', () => new Conv2d(3, 2, 3).forward({ data: new Float32Array(2 * 25), shape: [1, 2, 5, 5] }), /expected input of shape \[N, 3, H, W\], received \[1, 2, 5, 5\]/, RangeError],
  ['Conv2d with a kernel larger than the input', () => new Conv2d(1, 2, 5).forward({ data: new Float32Array(9), shape: [1, 1, 3, 3] }), /larger than the padded input/, RangeError],
  ['MaxPool2d with padding over half the kernel', () => new MaxPool2d(2, { padding: 2 }), /at most half the kernel size/, RangeError],
  ['MaxPool2d with ceilMode', () => new MaxPool2d(2, { ceilMode: true }), /only ceilMode false/, RangeError],
  ['Dropout with p = 1.5', () => new Dropout(1.5), /Dropout: expected p to be a finite number >= 0 and <= 1, received 1.5/, RangeError],
  ['CrossEntropyLoss with a target out of range', () => new CrossEntropyLoss().forward({ data: new Float32Array(6), shape: [2, 3] }, [0, 3]), /targets\[1\].*received 3/, RangeError],
  ['CrossEntropyLoss with too few targets', () => new CrossEntropyLoss().forward({ data: new Float32Array(6), shape: [2, 3] }, [0]), /expected 2 targets, received 1/, RangeError],
  ['CrossEntropyLoss with fractional targets', () => new CrossEntropyLoss().forward({ data: new Float32Array(6), shape: [2, 3] }, [0, 1.5]), /targets\[1\] to be an integer, received 1.5/, TypeError],
  ['CrossEntropyLoss with reduction sum', () => new CrossEntropyLoss({ reduction: 'sum' as never }), /only reduction 'mean'/, RangeError],
  ['Sequential with a non-module', () => new Sequential(new ReLU(), {} as never), /expected module 1 to be a Module/, TypeError],
  ['Sequential with one instance twice', () => { const r = new ReLU(); return new Sequential(r, new Linear(2, 2), r); }, /module 2 is the same instance as module 0/, RangeError],
  ['Generator with a negative seed', () => new Generator(-1), /Generator: expected seed to be an integer >= 0/, RangeError],
  ['loadStateDict with a wrong shape', () => mlp().loadStateDict({ ...mlp().stateDict(), '1.bias': { data: new Float32Array(3), shape: [3] } }), /"1.bias" to have shape \[128\], received \[3\]/, RangeError],
  ['loadStateDict with a missing key', () => mlp().loadStateDict({}), /missing "1.weight"/, RangeError],
];

for (const [name, fn, message, type] of errorCases) {
  test(`bad input is rejected with a clear error: ${name}`, (t) => {
    t.throws(fn, { instanceOf: type, message });
  });
}

test('an output that overlaps an input is rejected by the binding, not corrupted', (t) => {
  const x = new Float32Array(8).fill(-1);
  t.throws(() => nnNative.reluForward(x.subarray(0, 4), x.subarray(2, 6)), { message: /RangeError: input and output view overlapping memory/ });
  t.deepEqual([...x], new Array(8).fill(-1));
  t.throws(() => nnNative.linearForward(x.subarray(0, 6), new Float32Array(9), null, x.subarray(2, 8), 2, 3, 3), { message: /overlapping memory/ });
});
