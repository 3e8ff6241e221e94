/**
 * Muon against torch.optim.Muon (torch 2.15) fixtures, against its TypeScript oracle bit for bit
 * (in-process on 1 and 2 threads, and in child processes at every SIMD level), and its API:
 * the 2-D rule, options, state dict, schedulers, dispose, and splitMuonParams.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  AdamW,
  CosineAnnealingLR,
  CrossEntropyLoss,
  Linear,
  MUON_DEFAULTS,
  Muon,
  Parameter,
  ReLU,
  Sequential,
  cnn,
  getDetectedSimdLevel,
  getNumThreads,
  setNumThreads,
  splitMuonParams,
  tensor,
  type MuonOptions,
  type OptimizerStateDict,
  type SimdLevel,
} from '../ts/index.js';
import { fixtureGrad, values } from './helpers/data.js';
import { loadFixture, type FixtureCase } from './helpers/fixtures.js';
import { hashOf, runScenario } from './helpers/muon-scenario.js';
import { adjustedLr, type MuonRefOptions } from './oracles/muon.js';

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

// ---- torch fixtures -------------------------------------------------------------------------

interface MuonFixture {
  shapes: Array<[number, number]>;
  steps: number;
  torch: string;
  cpuCapability: string;
  cases: FixtureCase[];
}

const fixture = loadFixture('muon.json') as unknown as MuonFixture;
/** Tensors 0..3 form group 0; the rest group 1, with lr / 2 (the generator's rule). */
const GROUP0 = 4;

/** The fixture's sample indices of a tensor of n elements (scripts/gen_fixtures.py). */
function sampleIndices(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (i < 64 || i >= n - 64 || [8190, 8191, 0, 1, 2].includes(i % 8192) || i % 97 === 0) out.push(i);
  return out;
}

/**
 * Replays a case; returns the parameters, the optimizer and, per tensor, Σ γ'ₜ over the steps it
 * took (γ' the lr after the shape adjustment), the scale of what Newton–Schulz can move it by.
 */
function replay(c: FixtureCase): { ps: Parameter[]; opt: Muon; lrSum: number[] } {
  const ps = fixture.shapes.map(([r, cols], j) => new Parameter(values(c.seed, 0, j, r * cols), { name: `t${j}`, shape: [r, cols] }));
  const base = (c.options.lr as number | undefined) ?? MUON_DEFAULTS.lr;
  const opt = new Muon([{ params: ps.slice(0, GROUP0) }, { params: ps.slice(GROUP0), lr: base / 2 }], c.options as MuonOptions);
  const lrSum = ps.map(() => 0);
  for (let s = 1; s <= fixture.steps; s++) {
    if (c.lrSchedule === 'linear') opt.paramGroups.forEach((g, gi) => (g.lr = (gi === 0 ? base : base / 2) * (1 - (s - 1) / 50)));
    ps.forEach((p, j) => {
      p.grad = c.skip && j === 1 && (s === 3 || s === 4) ? null : fixtureGrad(c.seed, s, j, p.numel, c.gradScale);
      if (p.grad !== null) lrSum[j]! += adjustedLr({ ...MUON_DEFAULTS, ...c.options, lr: opt.paramGroups[j < GROUP0 ? 0 : 1]!.lr } as MuonRefOptions, p.shape[0]!, p.shape[1]!);
    });
    opt.step();
  }
  return { ps, opt, lrSum };
}

/**
 * The orthogonalized update differs from torch's by a few bfloat16 ulps in some elements (torch
 * adds the exact products of its bf16 GEMM in another order; a sum near a bf16 rounding boundary
 * rounds the other way and Newton–Schulz amplifies the flip). Its elements are below 1, so each
 * step moves a weight by at most γ'·(a few ulps of an element < 1) more or less than torch: the
 * tolerance is 2^-8 (one bfloat16 ulp at 1) times Σ γ' over the steps, plus float32 rounding.
 * Measured on the committed fixture: at most 5.4e-4·Σγ' (nsSteps 10), 7.6e-5·Σγ' with the defaults.
 */
const TOL = 2 ** -8;
/** Cases in which no rounded matrix product reaches the weights, which must match torch exactly. */
const EXACT = ['nsSteps 0 (the normalized bf16 momentum itself), lr 0.02', 'zero grads (only the weight decay moves the weights), lr 0.02'];

test(`Muon matches torch.optim.Muon (torch ${fixture.torch}, ${fixture.cpuCapability}) on every fixture case: the momentum buffer bit for bit, the weights within 2^-8 of the summed adjusted lr`, (t) => {
  let worst = 0;
  for (const c of fixture.cases) {
    const { ps, opt, lrSum } = replay(c);
    c.final.forEach((fin, j) => {
      fin.indices.forEach((i, k) => {
        const got = ps[j]!.data[i]!;
        const want = fin.values[k]!;
        const err = Math.abs(got - want);
        worst = Math.max(worst, err / lrSum[j]!);
        if (!(err <= TOL * lrSum[j]! + 2e-7 * Math.abs(want))) t.fail(`${c.name}: tensor ${j} ${fixture.shapes[j]} element ${i}: ${got} vs torch ${want} (|Δ| ${err.toExponential(2)} > 2^-8·Σγ' = ${(TOL * lrSum[j]!).toExponential(2)})`);
      });
    });
    const buf = opt.stateDict().state.t3!.momentumBuffer as number[];
    const idx = sampleIndices(64 * 64);
    const want = c.state3.momentumBuffer as number[];
    const bad = idx.findIndex((i, k) => !Object.is(buf[i], want[k]));
    t.is(bad, -1, `${c.name}: momentum buffer element ${idx[bad]}: ${buf[idx[bad]!]} vs torch ${want[bad]}`);
  }
  t.log(`largest |Δ| / Σγ' over all cases: ${worst.toExponential(2)} (tolerance ${TOL.toExponential(2)})`);
});

test('where no rounded matrix product reaches the weights (nsSteps 0, zero gradients), Muon equals torch bit for bit', (t) => {
  for (const name of EXACT) {
    const c = fixture.cases.find((x) => x.name === name);
    if (!c) return t.fail(`no fixture case ${JSON.stringify(name)}`);
    const { ps } = replay(c);
    c.final.forEach((fin, j) => fin.indices.forEach((i, k) => t.true(Object.is(ps[j]!.data[i], fin.values[k]), `${name}: tensor ${j} element ${i}`)));
  }
});

// ---- the oracle -----------------------------------------------------------------------------

const oracleHash = hashOf(runScenario('oracle'));

test('the native step equals the TypeScript oracle bit for bit (square, tall, wide, one-row and 260x300 matrices, two groups, a skipped gradient) on 1 and 2 threads', (t) => {
  const before = getNumThreads();
  try {
    for (const n of [1, 2]) {
      setNumThreads(n);
      t.is(hashOf(runScenario('native')), oracleHash, `${n} thread(s)`);
    }
  } finally {
    setNumThreads(before);
  }
});

const run = promisify(execFile);
const SCENARIO = fileURLToPath(new URL('./helpers/muon-scenario.ts', import.meta.url));
const RANK: Record<SimdLevel, number> = { baseline: 0, avx2: 1, avx512: 2 };

test('every SIMD level and thread count gives the oracle bits (child processes with FERROPTIM_SIMD and FERROPTIM_NUM_THREADS)', async (t) => {
  const base = { ...process.env };
  delete base.FERROPTIM_SIMD;
  delete base.FERROPTIM_NUM_THREADS;
  const levels = (['baseline', 'avx2', 'avx512'] as SimdLevel[]).filter((l) => RANK[l] <= RANK[getDetectedSimdLevel()]);
  const runs = levels.flatMap((level) =>
    ['1', '2'].map(async (threads) => {
      const { stdout } = await run(process.execPath, ['--import', '@oxc-node/core/register', SCENARIO], { env: { ...base, FERROPTIM_SIMD: level, FERROPTIM_NUM_THREADS: threads }, timeout: 120_000 });
      return { level, threads, report: JSON.parse(stdout.trim().split('\n').pop()!) as { simd: string; threads: number; hash: string } };
    }),
  );
  for (const { level, threads, report } of await Promise.all(runs)) {
    t.is(report.simd, level);
    t.is(report.threads, Number(threads));
    t.is(report.hash, oracleHash, `FERROPTIM_SIMD=${level} FERROPTIM_NUM_THREADS=${threads}`);
  }
});

// ---- behaviour ------------------------------------------------------------------------------

function matrix(name: string, rows: number, cols: number, seed = 3): Parameter {
  return new Parameter(values(seed, 0, rows, rows * cols), { name, shape: [rows, cols] });
}

function train(opt: Muon, ps: Parameter[], from: number, n: number): void {
  for (let s = from; s < from + n; s++) {
    ps.forEach((p, j) => (p.grad = values(11, s, j, p.numel)));
    opt.step();
  }
}

test('lr 0 leaves the weights bit-identical and still moves the momentum buffer', (t) => {
  const p = matrix('w', 12, 30);
  const before = bits(p.data);
  const opt = new Muon([p], { lr: 0 });
  train(opt, [p], 1, 3);
  t.is(bits(p.data), before);
  t.true((opt.stateDict().state.w!.momentumBuffer as number[]).some((v) => v !== 0));
  t.is(opt.stateDict().state.w!.step, 3);
});

test("adjustLrFn null is torch's None: the same bits as 'original'", (t) => {
  const [a, b] = [matrix('w', 30, 12), matrix('w', 30, 12)];
  train(new Muon([a], { lr: 0.02, adjustLrFn: null }), [a], 1, 3);
  train(new Muon([b], { lr: 0.02, adjustLrFn: 'original' }), [b], 1, 3);
  t.is(bits(a.data), bits(b.data));
});

test('stateDict survives JSON, and loading it and continuing reproduces an uninterrupted run bit for bit', (t) => {
  const make = () => [matrix('a', 20, 33), matrix('b', 48, 16)];
  const whole = make();
  const opt = new Muon([{ params: [whole[0]!] }, { params: [whole[1]!], lr: 0.01, nesterov: false }], { lr: 0.02 });
  train(opt, whole, 1, 6);

  const half = make();
  const first = new Muon([{ params: [half[0]!] }, { params: [half[1]!], lr: 0.01, nesterov: false }], { lr: 0.02 });
  train(first, half, 1, 3);
  const saved = JSON.parse(JSON.stringify(first.stateDict())) as OptimizerStateDict;
  t.deepEqual(Object.keys(saved.state.a!).sort(), ['momentumBuffer', 'step']);
  t.is(saved.paramGroups[1]!.nesterov, false);
  const copies = half.map((p) => new Parameter(Float32Array.from(p.data), { name: p.name, shape: p.shape }));
  const resumed = new Muon([{ params: [copies[0]!] }, { params: [copies[1]!] }]);
  resumed.loadStateDict(saved);
  t.is(resumed.paramGroups[1]!.lr, 0.01);
  train(resumed, copies, 4, 3);
  t.deepEqual(copies.map((p) => bits(p.data)), whole.map((p) => bits(p.data)));
  t.deepEqual(JSON.stringify(resumed.stateDict()), JSON.stringify(opt.stateDict()));

  t.throws(() => resumed.loadStateDict({ ...saved, paramGroups: saved.paramGroups.slice(0, 1) }), { instanceOf: RangeError, message: /saved param groups do not match/ });
  t.throws(() => resumed.loadStateDict({ ...saved, state: { ...saved.state, a: { step: 1, expAvg: [] } } }), { instanceOf: RangeError, message: /unknown buffer "expAvg"/ });
  t.throws(() => resumed.loadStateDict({ ...saved, state: { a: { step: 1, momentumBuffer: [1, 2] } } }), { instanceOf: RangeError, message: /momentumBuffer to have length 660/ });
  t.throws(() => resumed.loadStateDict({ ...saved, paramGroups: [{ ...saved.paramGroups[0]!, nsSteps: 100 }, saved.paramGroups[1]!] }), { instanceOf: RangeError, message: /nsSteps/ });
  // Nothing was changed by the failed loads.
  t.deepEqual(JSON.stringify(resumed.stateDict()), JSON.stringify(opt.stateDict()));
});

test('a parameter whose shape is not 2-D is a RangeError naming it; a non-Parameter a TypeError', (t) => {
  const ok = matrix('w', 4, 4);
  for (const shape of [[16], [2, 2, 4], [4, 1, 2, 2]]) {
    const p = new Parameter(new Float32Array(16), { name: 'odd', shape });
    t.throws(() => new Muon([ok, p]), { instanceOf: RangeError, message: new RegExp(`params\\[1\\] \\("odd"\\) to be a matrix .* received shape \\[${shape.join(', ')}\\]`) });
  }
  t.throws(() => new Muon([ok, new Parameter(new Float32Array(3))]), { instanceOf: RangeError, message: /param group 0\.params\[1\] to be a matrix/ });
  t.throws(() => new Muon([ok, new Float32Array(4) as never]), { instanceOf: TypeError, message: /params\[1\] to be a Parameter/ });
  t.throws(() => new Muon([ok, ok]), { instanceOf: RangeError, message: /already optimized/ });
  t.throws(() => new Muon([]), { instanceOf: RangeError, message: /non-empty/ });
  const opt = new Muon([ok]);
  t.throws(() => opt.addParamGroup({ params: [new Parameter(new Float32Array(2), { name: 'bias' })] }), { instanceOf: RangeError, message: /param group 1\.params\[0\] \("bias"\) to be a matrix/ });
  t.is(opt.paramGroups.length, 1);
});

/** [what, options, error class, option name as the message names it, the rest of the message]. */
const BAD_OPTIONS: Array<[string, Record<string, unknown>, typeof TypeError | typeof RangeError, string, string]> = [
  ['a negative lr', { lr: -1 }, RangeError, 'lr', 'to be a finite number >= 0, received -1'],
  ['a string lr', { lr: '0.1' }, TypeError, 'lr', 'to be a finite number >= 0, received "0.1"'],
  ['a negative weight decay', { weightDecay: -0.1 }, RangeError, 'weightDecay', 'to be a finite number >= 0'],
  ['a negative momentum', { momentum: -0.5 }, RangeError, 'momentum', 'to be a finite number >= 0'],
  ['a non-boolean nesterov', { nesterov: 1 }, TypeError, 'nesterov', 'to be a boolean, received 1'],
  ['two coefficients', { nsCoefficients: [1, 2] }, RangeError, 'nsCoefficients', 'to be an array of 3 finite numbers, received \\[1, 2\\]'],
  ['coefficients that are not an array', { nsCoefficients: 3 }, TypeError, 'nsCoefficients', 'to be an array of 3 finite numbers, received 3'],
  ['an infinite coefficient', { nsCoefficients: [1, Infinity, 2] }, RangeError, 'nsCoefficients\\[1\\]', 'to be a finite number, received Infinity'],
  ['a negative eps', { eps: -1e-7 }, RangeError, 'eps', 'to be a finite number >= 0'],
  ['100 Newton–Schulz steps (torch refuses them too)', { nsSteps: 100 }, RangeError, 'nsSteps', 'to be an integer >= 0 and <= 99, received 100'],
  ['a fractional nsSteps', { nsSteps: 2.5 }, RangeError, 'nsSteps', 'to be an integer >= 0 and <= 99, received 2.5'],
  ['an unknown adjustLrFn', { adjustLrFn: 'spectral' }, RangeError, 'adjustLrFn', "to be 'original', 'match_rms_adamw', 'spectral_unclamped' or null, received \"spectral\""],
];

for (const [what, options, type, name, rest] of BAD_OPTIONS) {
  test(`Muon refuses ${what}, in the options and in a param group`, (t) => {
    t.throws(() => new Muon([matrix('w', 3, 5)], options as MuonOptions), { instanceOf: type, message: new RegExp(`^Muon: expected ${name} ${rest}`) });
    t.throws(() => new Muon([{ params: [matrix('w', 3, 5)], ...options }]), { instanceOf: type, message: new RegExp(`^Muon: expected ${name} \\(param group 0\\) ${rest}`) });
  });
}

test('Muon refuses an unknown option', (t) => {
  t.throws(() => new Muon([matrix('w', 3, 5)], { betas: [0.9, 0.99] } as never), { instanceOf: TypeError, message: /unknown option "betas"/ });
  t.throws(() => new Muon([{ params: [matrix('w', 3, 5)], betas: [0.9, 0.99] } as never]), { instanceOf: TypeError, message: /param group 0: unknown option "betas"/ });
});

test('an option changed to a bad value, a detached gradient or overlapping buffers throw before any weight or buffer changes', (t) => {
  const [a, b] = [matrix('a', 6, 9), matrix('b', 9, 6)];
  const opt = new Muon([{ params: [a] }, { params: [b] }], { lr: 0.02 });
  train(opt, [a, b], 1, 2);
  const snapshot = () => JSON.stringify([bits(a.data), bits(b.data), opt.stateDict()]);
  const before = snapshot();
  opt.paramGroups[1]!.nsSteps = 150;
  t.throws(() => opt.step(), { instanceOf: RangeError, message: /nsSteps \(param group 1\)/ });
  opt.paramGroups[1]!.nsSteps = 5;
  opt.paramGroups[0]!.nsCoefficients = [1, 2, 3, 4] as never;
  t.throws(() => opt.step(), { instanceOf: RangeError, message: /nsCoefficients \(param group 0\)/ });
  opt.paramGroups[0]!.nsCoefficients = [3.4445, -4.775, 2.0315];
  a.grad = new Float32Array(54);
  b.grad = new Float32Array(54);
  structuredClone(b.grad.buffer, { transfer: [b.grad.buffer as ArrayBuffer] });
  t.throws(() => opt.step(), { instanceOf: RangeError, message: /grad of parameter 1 \("b"\) to have length 54, received 0 \(its buffer was detached/ });
  b.grad = a.grad;
  t.throws(() => opt.step(), { instanceOf: RangeError, message: /grad of parameter 0 \("a"\) and grad of parameter 1 \("b"\) view overlapping memory/ });
  b.grad = b.data;
  t.throws(() => opt.step(), { instanceOf: RangeError, message: /data of parameter 1 \("b"\) and grad of parameter 1 \("b"\) view overlapping memory/ });
  t.is(snapshot(), before);
});

test('a parameter without a gradient is skipped: its weights, buffer and step stay as they were', (t) => {
  const [a, b] = [matrix('a', 5, 8), matrix('b', 8, 5)];
  const opt = new Muon([a, b], { lr: 0.02 });
  train(opt, [a, b], 1, 1);
  const kept = bits(b.data);
  b.grad = null;
  a.grad = values(5, 2, 0, a.numel);
  opt.step();
  t.is(bits(b.data), kept);
  t.is(opt.stateDict().state.b!.step, 1);
  t.is(opt.stateDict().state.a!.step, 2);
});

test("LR schedulers drive Muon's param groups (CosineAnnealingLR to 0 stops the weights, keeps the weight decay at lr 0)", (t) => {
  const p = matrix('w', 16, 24);
  const opt = new Muon([p], { lr: 0.05 });
  const sched = new CosineAnnealingLR(opt, { tMax: 4 });
  const lrs: number[] = [];
  for (let s = 1; s <= 4; s++) {
    p.grad = values(2, s, 0, p.numel);
    opt.step();
    sched.step();
    lrs.push(opt.paramGroups[0]!.lr);
  }
  t.is(lrs[3], 0);
  t.is(opt.paramGroups[0]!.initialLr, 0.05);
  const kept = bits(p.data);
  p.grad = values(2, 9, 0, p.numel);
  opt.step();
  t.is(bits(p.data), kept);
});

test('dispose frees the state; every later call but parameters() throws', (t) => {
  const p = matrix('w', 4, 6);
  const opt = new Muon([p]);
  train(opt, [p], 1, 1);
  opt.dispose();
  opt.dispose();
  t.true(opt.disposed);
  t.is(opt.parameters()[0], p);
  for (const call of [() => opt.step(), () => opt.zeroGrad(), () => opt.stateDict(), () => opt.addParamGroup({ params: [matrix('v', 2, 2)] })]) {
    t.throws(call, { message: /after dispose\(\)/ });
  }
});

// ---- splitMuonParams ------------------------------------------------------------------------

test('splitMuonParams gives the hidden 2-D weights to Muon and biases, conv weights and excluded layers to AdamW, in order', (t) => {
  const names = (ps: Parameter[]) => ps.map((p) => p.name);
  const model = cnn({ seed: 0 });
  const { muon, adamw } = splitMuonParams(model.parameters(), { exclude: ['9'] });
  t.deepEqual(names(muon), ['7.weight']);
  t.deepEqual(names(adamw), ['0.weight', '0.bias', '3.weight', '3.bias', '7.bias', '9.weight', '9.bias']);
  t.deepEqual(names(splitMuonParams(model.parameters()).muon), ['7.weight', '9.weight']);
  t.deepEqual(names(splitMuonParams(model.parameters(), { exclude: [/^9\./] }).muon), ['7.weight']);
  t.deepEqual(names(splitMuonParams(model.parameters(), { exclude: [(p) => p.shape[0] === 10] }).muon), ['7.weight']);
  t.deepEqual(names(splitMuonParams(model.parameters(), { exclude: ['9.weight', /7/g, /7/g] }).muon), []);
  t.throws(() => splitMuonParams(model.parameters(), { exclude: ['head'] }), { instanceOf: RangeError, message: /exclude\[0\] \("head"\) to name a parameter or a module prefix/ });
  t.throws(() => splitMuonParams(model.parameters(), { exclude: ['9', 4 as never] }), { instanceOf: TypeError, message: /exclude\[1\]/ });
  t.throws(() => splitMuonParams([model.parameters()[0]!, {} as never]), { instanceOf: TypeError, message: /params\[1\] to be a Parameter/ });
  t.throws(() => splitMuonParams(model.parameters(), { exlude: ['9'] } as never), { instanceOf: TypeError, message: /unknown option "exlude"/ });
});

test('the documented pairing trains: Muon on the hidden weights and AdamW on the rest lower the loss of a small MLP', (t) => {
  const model = new Sequential(new Linear(8, 32), new ReLU(), new Linear(32, 32), new ReLU(), new Linear(32, 3));
  const { muon, adamw } = splitMuonParams(model.parameters(), { exclude: ['4'] });
  t.deepEqual(muon.map((p) => p.name), ['0.weight', '2.weight']);
  const hidden = new Muon(muon, { lr: 0.02 });
  const rest = new AdamW(adamw, { lr: 3e-3 });
  const x = tensor(values(9, 0, 0, 64 * 8), [64, 8]);
  const y = Array.from({ length: 64 }, (_, i) => (x.data[i * 8]! > 0 ? 0 : x.data[i * 8 + 1]! > 0 ? 1 : 2));
  const lossFn = new CrossEntropyLoss();
  const losses: number[] = [];
  for (let s = 0; s < 40; s++) {
    hidden.zeroGrad();
    rest.zeroGrad();
    losses.push(lossFn.forward(model.forward(x), y));
    model.backward(lossFn.backward(), false);
    hidden.step();
    rest.step();
  }
  t.true(losses[39]! < 0.6 * losses[0]!, `loss ${losses[0]} -> ${losses[39]}`);
});
