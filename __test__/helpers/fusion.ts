/**
 * The fused layer runs inside `Sequential` (ReLU → MaxPool2d, and Conv2d → ReLU → MaxPool2d)
 * against the same modules run one by one by hand, bit for bit: shared by `nn.spec.ts` and
 * `fusion-child.ts`, which runs them at a forced SIMD level.
 */
import { Conv2d, Flatten, Generator, Linear, MaxPool2d, Module, ReLU, Sequential, type Tensor } from '../../ts/index.js';

export const bitsOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/** A model, its input shape, and how many of its ReLU and Conv2d run their own passes inside Sequential (not fused). */
export interface FusionModel {
  name: string;
  build: (g: Generator) => Module[];
  shape: number[];
  ownPasses: { relu: number; conv: number };
}

export const fusionModels: FusionModel[] = [
  {
    name: 'a ReLU first, an overlapping padded 3x3 pool, then an inplace ReLU and a 2x2 pool after a Conv2d',
    build: (g) => [new ReLU(), new MaxPool2d(3, { stride: 1, padding: 1 }), new Conv2d(2, 3, 3, { padding: 1, generator: g }), new ReLU({ inplace: true }), new MaxPool2d(2), new Flatten(), new Linear(48, 5, { generator: g })],
    shape: [3, 2, 9, 9],
    ownPasses: { relu: 0, conv: 0 },
  },
  {
    name: 'an inplace ReLU after a Flatten that keeps the shape, an overlapping 2x2 stride-1 pool, and a ReLU and a 2x2 pool on odd sizes',
    build: (g) => [new Flatten({ startDim: 2, endDim: 2 }), new ReLU({ inplace: true }), new MaxPool2d(2, { stride: 1 }), new Conv2d(2, 4, 2, { generator: g }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(36, 3, { generator: g })],
    shape: [2, 2, 9, 9],
    ownPasses: { relu: 0, conv: 0 },
  },
  {
    name: 'the seed CNN\'s two blocks on 11 images (two chunks of the native loop), the second pool overlapping',
    build: (g) => [
      new Conv2d(1, 4, 3, { padding: 1, generator: g }),
      new ReLU({ inplace: true }),
      new MaxPool2d(2),
      new Conv2d(4, 6, 3, { padding: 1, generator: g }),
      new ReLU({ inplace: true }),
      new MaxPool2d(2, { stride: 1 }),
      new Flatten(),
      new Linear(6 * 5 * 5, 4, { generator: g }),
    ],
    shape: [11, 1, 12, 12],
    ownPasses: { relu: 0, conv: 0 },
  },
  {
    name: 'a strided dilated Conv2d without bias before a padded 3x3 pool, and a Conv2d before a ReLU not followed by a pool',
    build: (g) => [
      new Conv2d(2, 3, 3, { stride: [2, 1], dilation: [1, 2], padding: [1, 2], bias: false, generator: g }),
      new ReLU(),
      new MaxPool2d(3, { stride: 2, padding: 1 }),
      new Conv2d(3, 2, 1, { generator: g }),
      new ReLU(),
      new Flatten(),
    ],
    shape: [3, 2, 10, 9],
    ownPasses: { relu: 1, conv: 1 },
  },
];

/** Ties (few distinct values), −0, ±∞ and a NaN in the last sample only (so the others stay finite). */
export function fusionInput(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const per = n / shape[0]!;
  return Float32Array.from({ length: n }, (_, i) => {
    if (i % 7 === 3) return -0;
    if (i % 11 === 5) return 0;
    if (i === n - per + 17) return NaN;
    if (i === 40) return Infinity;
    if (i === 41) return -Infinity;
    return Math.round(3 * Math.sin(1.7 * i));
  });
}

export interface FusionRun {
  y: string;
  dx: string | null;
  grads: string[];
}

export function runByHand(layers: Module[], x: Tensor, r: Float32Array): FusionRun {
  let h = x;
  for (const m of layers) h = m.forward(h);
  const y = bitsOf(h.data);
  let g: Tensor | null = { data: r, shape: h.shape };
  for (let i = layers.length - 1; i >= 0; i--) g = layers[i]!.backward(g!, true);
  return { y, dx: bitsOf(g!.data), grads: layers.flatMap((m) => m.parameters().map((p) => bitsOf(p.grad!))) };
}

export function runSequential(layers: Module[], x: Tensor, r: Float32Array, needInputGrad: boolean): FusionRun {
  const model = new Sequential(...layers);
  const out = model.forward(x);
  const y = bitsOf(out.data);
  const dx = model.backward({ data: r, shape: out.shape }, needInputGrad);
  return { y, dx: dx && bitsOf(dx.data), grads: model.parameters().map((p) => bitsOf(p.grad!)) };
}

/** What one model gives by hand and inside Sequential (with and without the input gradient), and the ReLU and Conv2d passes of the Sequential run with it. */
export function compareFusion(m: FusionModel) {
  const input = fusionInput(m.shape);
  const x = () => ({ data: input.slice(), shape: m.shape });
  const outShape = new Sequential(...m.build(new Generator(5))).forward(x()).shape;
  const r = new Generator(6).fillUniform(new Float32Array(outShape.reduce((a, b) => a * b, 1)), -1, 1);
  const want = runByHand(m.build(new Generator(5)), x(), r);
  const calls = { reluForward: 0, reluBackward: 0, convForward: 0, convBackward: 0 };
  const relu = { forward: ReLU.prototype.forward, backward: ReLU.prototype.backward };
  const conv = { forward: Conv2d.prototype.forward, backward: Conv2d.prototype.backward };
  // Counting wrappers on the prototypes: the fused modules must not call them.
  ReLU.prototype.forward = function (this: ReLU, h: Tensor) {
    calls.reluForward++;
    return relu.forward.call(this, h);
  };
  ReLU.prototype.backward = function (this: ReLU, g: Tensor, need?: boolean) {
    calls.reluBackward++;
    return relu.backward.call(this, g, need);
  };
  Conv2d.prototype.forward = function (this: Conv2d, h: Tensor) {
    calls.convForward++;
    return conv.forward.call(this, h);
  };
  Conv2d.prototype.backward = function (this: Conv2d, g: Tensor, need?: boolean) {
    calls.convBackward++;
    return conv.backward.call(this, g, need);
  };
  let got;
  try {
    got = runSequential(m.build(new Generator(5)), x(), r, true);
  } finally {
    Object.assign(ReLU.prototype, relu);
    Object.assign(Conv2d.prototype, conv);
  }
  const noInputGrad = runSequential(m.build(new Generator(5)), x(), r, false);
  return { want, got, noInputGrad, calls };
}
