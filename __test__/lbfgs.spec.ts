/**
 * LBFGS against torch.optim.LBFGS (torch 2.15; `scripts/gen_fixtures_lbfgs.py` wrote
 * `fixtures/lbfgs.json`, see `scripts/FIXTURES.md`), its closure contract, its state dict, its
 * options and its convergence.
 *
 * The fixture closures compute loss and gradient with float32-rounded scalar code in a fixed
 * order, mirrored here, so that both sides see the same numbers and the fixtures test LBFGS
 * alone. Each case was run twice by torch: `exactOps`, with torch's dot products and Σ|g|
 * replaced by ferroptim's summation (float64 in index order, rounded once) and its sqrt by the
 * correctly rounded one, must match bit for bit at every step; `torch`, as it is, is compared
 * over its first `torchSteps` steps within {@link PARAM_TOL} / {@link LOSS_TOL} (the difference
 * is then those operations alone).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { LBFGS, LBFGS_DEFAULTS, Parameter, StepLR, type LBFGSOptions, type LBFGSStateDict } from '../ts/index.js';
import { decodeFloat } from '../ts/optim/optimizer.js';
import { value } from './helpers/data.js';

// ------------------------------------------------------------------------------ the fixture's problems

const f = Math.fround;
const D = 7;
const N = 32;

type Problem = 'rosenbrock' | 'leastSquares' | 'logistic';

function rosenbrock(x: Float32Array, negate: boolean): { loss: number; g: Float32Array } {
  const n = x.length;
  let loss = 0;
  const g = new Float32Array(n);
  for (let i = 0; i < n - 1; i++) {
    const xi = x[i]!;
    const a = f(x[i + 1]! - f(xi * xi));
    const b = f(1 - xi);
    loss = f(loss + f(f(100 * f(a * a)) + f(b * b)));
    const ga = f(200 * a);
    g[i + 1] = f(g[i + 1]! + ga);
    g[i] = f(g[i]! + f(f(-2 * b) - f(f(2 * xi) * ga)));
  }
  if (negate) {
    for (let i = 0; i < n; i++) g[i] = -g[i]!;
    return { loss: -loss, g };
  }
  return { loss, g };
}

interface RegressionData {
  X: number[][];
  y: number[];
}

function regressionData(seed: number, kind: Problem): RegressionData {
  const X = Array.from({ length: N }, (_, k) => Array.from({ length: D }, (_, j) => value(seed, 1, 0, k * D + j)));
  const y = Array.from({ length: N }, (_, k) => (kind === 'leastSquares' ? value(seed, 2, 0, k) : value(seed, 2, 0, k) >= 0 ? 1 : -1));
  return { X, y };
}

function regression(x: Float32Array, { X, y }: RegressionData, kind: Problem): { loss: number; g: Float32Array } {
  const gw = new Array<number>(D).fill(0);
  let gb = 0;
  let loss = 0;
  for (let k = 0; k < N; k++) {
    let z = x[D]!;
    for (let j = 0; j < D; j++) z = f(z + f(X[k]![j]! * x[j]!));
    let dz: number;
    if (kind === 'leastSquares') {
      const r = f(z - y[k]!);
      loss = f(loss + f(r * r));
      dz = r;
    } else {
      const m = -y[k]! * z;
      loss = f(loss + f(Math.log1p(Math.exp(m))));
      const s = f(1 / (1 + Math.exp(-m)));
      dz = -y[k]! * s;
    }
    for (let j = 0; j < D; j++) gw[j] = f(gw[j]! + f(dz * X[k]![j]!));
    gb = f(gb + dz);
  }
  loss = f(loss * (kind === 'leastSquares' ? 1 / (2 * N) : 1 / N));
  for (let j = 0; j < D; j++) gw[j] = f(gw[j]! * (1 / N));
  gb = f(gb * (1 / N));
  if (kind === 'logistic') {
    let sq = 0;
    for (let j = 0; j < D; j++) sq = f(sq + f(x[j]! * x[j]!));
    loss = f(loss + f((1 / 32) * sq));
    for (let j = 0; j < D; j++) gw[j] = f(gw[j]! + f(x[j]! / 16));
  }
  return { loss, g: Float32Array.from([...gw, gb]) };
}

type Encoded = number | string;

interface StepRecord {
  loss: Encoded;
  closureCalls: number;
  funcEvals: number;
  nIter: number;
  t: Encoded | null;
  hDiag: Encoded | null;
  history: number;
  params: Encoded[][];
}

interface LBFGSCase {
  name: string;
  problem: Problem;
  seed: number;
  options: LBFGSOptions;
  steps: number;
  torchSteps: number;
  lengths: number[];
  lrSchedule: 'none' | 'linear10';
  negate: boolean;
  domain: number | null;
  noGrad: number | null;
  initial: number[][];
  torch: StepRecord[];
  exactOps: StepRecord[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/lbfgs.json', import.meta.url), 'utf8')) as { torch: string; cases: LBFGSCase[] };

const num = (v: Encoded | null | undefined): number | undefined => (v === null || v === undefined ? undefined : decodeFloat(v));

/** The case's parameters (named p0, p1, …) and a closure over them, counting its calls. */
function setup(c: LBFGSCase) {
  const params = c.initial.map((v, j) => new Parameter(Float32Array.from(v), { name: `p${j}` }));
  const data = c.problem === 'rosenbrock' ? null : regressionData(c.seed, c.problem);
  const counter = { calls: 0 };
  const closure = (): number => {
    counter.calls++;
    const x = Float32Array.from(params.flatMap((p) => [...p.data]));
    let r: { loss: number; g: Float32Array };
    if (c.domain !== null && x.some((v) => Math.abs(v) > c.domain!)) r = { loss: NaN, g: new Float32Array(x.length).fill(NaN) };
    else r = data === null ? rosenbrock(x, c.negate) : regression(x, data, c.problem);
    let off = 0;
    params.forEach((p, j) => {
      p.grad = j === c.noGrad ? null : r.g.slice(off, off + p.numel);
      off += p.numel;
    });
    return r.loss;
  };
  return { params, closure, counter };
}

/** Replays a case's steps (from `from` to `to`, 1-based) and records what the fixture records. */
function replay(c: LBFGSCase, opt: LBFGS, params: Parameter[], closure: () => number, counter: { calls: number }, from = 1, to = c.steps): StepRecord[] {
  const base = c.options.lr ?? 1;
  const out: StepRecord[] = [];
  for (let s = from; s <= to; s++) {
    if (c.lrSchedule === 'linear10') opt.paramGroups[0]!.lr = base * (1 - (s - 1) / 10);
    counter.calls = 0;
    const loss = opt.step(closure);
    const st = Object.values(opt.stateDict().state)[0]!;
    out.push({
      loss,
      closureCalls: counter.calls,
      funcEvals: opt.funcEvals,
      nIter: opt.nIter,
      t: st.t ?? null,
      hDiag: st.hDiag ?? null,
      history: st.oldDirs?.length ?? 0,
      params: params.map((p) => [...p.data]),
    });
  }
  return out;
}

function run(c: LBFGSCase): StepRecord[] {
  const { params, closure, counter } = setup(c);
  return replay(c, new LBFGS(params, c.options), params, closure, counter);
}

// ------------------------------------------------------------------------------ against the fixtures

/** Parameters against real torch: |ours − torch| ≤ PARAM_TOL (values are O(1)). */
const PARAM_TOL = 1e-6;
/** Returned losses against real torch: |ours − torch| ≤ LOSS_TOL·|torch|. */
const LOSS_TOL = 1e-6;

test('the LBFGS fixture was made by torch 2.15 and has cases compared with torch itself', (t) => {
  t.regex(fixture.torch, /^2\.15\./);
  t.true(fixture.cases.length >= 10);
  t.true(fixture.cases.filter((c) => c.torchSteps > 0).length >= 6);
});

for (const c of fixture.cases) {
  test(`matches torch's LBFGS with ferroptim's summation and sqrt bit for bit at every step: ${c.name}`, (t) => {
    const ours = run(c);
    t.is(ours.length, c.exactOps.length);
    ours.forEach((o, s) => {
      const w = c.exactOps[s]!;
      const at = `step ${s + 1}`;
      t.true(Object.is(o.loss, num(w.loss)), `${at}: loss ${o.loss} vs ${String(w.loss)}`);
      t.is(o.funcEvals, w.funcEvals, `${at}: funcEvals`);
      t.is(o.nIter, w.nIter, `${at}: nIter`);
      t.is(o.closureCalls, w.closureCalls, `${at}: closure calls`);
      t.is(o.history, w.history, `${at}: history length`);
      t.true(Object.is(num(o.t), num(w.t)), `${at}: t ${String(o.t)} vs ${String(w.t)}`);
      t.true(Object.is(num(o.hDiag), num(w.hDiag)), `${at}: hDiag ${String(o.hDiag)} vs ${String(w.hDiag)}`);
      o.params.forEach((p, j) =>
        p.forEach((v, i) => {
          if (!Object.is(v, num(w.params[j]![i]))) t.fail(`${at}: p${j}[${i}] is ${String(v)}, torch (exactOps) has ${String(w.params[j]![i])}`);
        }),
      );
    });
  });
}

const measured = { param: 0, loss: 0 };
for (const c of fixture.cases.filter((x) => x.torchSteps > 0)) {
  test(`matches torch.optim.LBFGS as it is within 1e-6 over the first ${c.torchSteps} steps: ${c.name}`, (t) => {
    const ours = run(c).slice(0, c.torchSteps);
    let worstParam = 0;
    let worstLoss = 0;
    ours.forEach((o, s) => {
      const w = c.torch[s]!;
      const at = `step ${s + 1}`;
      t.is(o.funcEvals, w.funcEvals, `${at}: funcEvals`);
      t.is(o.nIter, w.nIter, `${at}: nIter`);
      t.is(o.history, w.history, `${at}: history length`);
      const want = num(w.loss)!;
      const rel = Math.abs((o.loss as number) - want) / Math.abs(want);
      worstLoss = Math.max(worstLoss, rel);
      o.params.forEach((p, j) => p.forEach((v, i) => (worstParam = Math.max(worstParam, Math.abs((v as number) - num(w.params[j]![i])!)))));
    });
    measured.param = Math.max(measured.param, worstParam);
    measured.loss = Math.max(measured.loss, worstLoss);
    t.log(`max |Δparam| ${worstParam.toExponential(2)}, max relative |Δloss| ${worstLoss.toExponential(2)}`);
    t.true(worstParam <= PARAM_TOL, `max |Δparam| ${worstParam}`);
    t.true(worstLoss <= LOSS_TOL, `max relative |Δloss| ${worstLoss}`);
  });
}

test('maximizing the negated Rosenbrock function takes the same steps as minimizing it, bit for bit', (t) => {
  const min = fixture.cases.find((c) => c.name.startsWith('Rosenbrock in 10 dims, strong_wolfe, maxIter 10'))!;
  const max = fixture.cases.find((c) => c.options.maximize === true)!;
  const a = run(min);
  const b = run(max);
  a.forEach((s, i) => {
    t.deepEqual(b[i]!.params, s.params);
    t.true(Object.is(b[i]!.loss, -(s.loss as number)));
    t.is(b[i]!.funcEvals, s.funcEvals);
  });
});

// ------------------------------------------------------------------------------ the closure contract

/** f(x) = Σ (x_i − c_i)², a small convex problem, with a counting closure. */
function quadratic(n = 5, options: LBFGSOptions = {}) {
  const target = Float32Array.from({ length: n }, (_, i) => i - 2);
  const p = new Parameter(Float32Array.from({ length: n }, (_, i) => value(5, 0, 0, i)), { name: 'x' });
  const opt = new LBFGS([p], options);
  const counter = { calls: 0 };
  const closure = (): number => {
    counter.calls++;
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const r = f(p.data[i]! - target[i]!);
      loss = f(loss + f(r * r));
      p.grad![i] = f(2 * r);
    }
    return loss;
  };
  return { p, opt, closure, counter, target };
}

test('step() without a closure, or with a non-function, is a TypeError naming what a closure must do', (t) => {
  const { p, opt } = quadratic();
  const before = p.data.slice();
  for (const bad of [undefined, null, 1, 'loss', {}]) {
    const e = t.throws(() => (opt.step as (c?: unknown) => number)(bad), { instanceOf: TypeError });
    t.regex(e!.message, /^LBFGS\.step: expected a closure that re-evaluates the model \(zeroes the gradients, computes the loss, writes each parameter's grad and returns the loss\), received /);
  }
  t.deepEqual(p.data, before);
  t.is(opt.funcEvals, 0);
});

/** The 10-d Rosenbrock problem of the fixtures over three parameters: several closure calls per step. */
function rosenbrockSetup(options: LBFGSOptions) {
  const params = [1, 3, 6].map((n, j) => new Parameter(Float32Array.from({ length: n }, (_, i) => f(value(1, 0, j, i) * 1.5)), { name: `p${j}` }));
  const opt = new LBFGS(params, options);
  const closure = (): number => {
    const r = rosenbrock(Float32Array.from(params.flatMap((p) => [...p.data])), false);
    let off = 0;
    for (const p of params) {
      p.grad!.set(r.g.subarray(off, off + p.numel));
      off += p.numel;
    }
    return r.loss;
  };
  const snapshot = () => params.map((p) => [...p.data]);
  return { params, opt, closure, snapshot };
}

test('a closure that returns something other than a number is a TypeError, and nothing changes', (t) => {
  for (const [label, ret] of [
    ['undefined', undefined],
    ['a string', '0.5'],
    ['a Promise', Promise.resolve(1)],
    ['a bigint', 1n],
    ['an object', { loss: 1 }],
  ] as const) {
    for (const lineSearchFn of ['strong_wolfe', null] as const) {
      const { opt, closure, snapshot } = rosenbrockSetup({ lineSearchFn, historySize: 4 });
      opt.step(closure);
      const before = snapshot();
      const sd = JSON.stringify(opt.stateDict());
      let calls = 0;
      // Good values first, then the bad one in the middle of the step.
      const bad = () => (++calls < 3 ? closure() : ret) as number;
      const e = t.throws(() => opt.step(bad), { instanceOf: TypeError }, label);
      t.regex(e!.message, /^LBFGS\.step: expected the closure to return the loss as a number, received /);
      t.is(calls, 3);
      t.deepEqual(snapshot(), before, `${label}: parameters put back`);
      t.is(JSON.stringify(opt.stateDict()), sd, `${label}: state unchanged`);
    }
  }
});

test('the closure is called several times per step, and step() returns the first loss', (t) => {
  const { opt, closure } = rosenbrockSetup({ lineSearchFn: 'strong_wolfe' });
  const first = closure();
  let calls = 0;
  const loss = opt.step(() => (calls++, closure()));
  t.is(loss, first);
  t.true(calls > 1, `${calls} calls`);
  t.is(opt.funcEvals, calls);
});

test('a closure that throws mid-step: the error propagates, parameters and state are as before, and the next step is unaffected', (t) => {
  for (const lineSearchFn of ['strong_wolfe', null] as const) {
    const a = rosenbrockSetup({ lineSearchFn, historySize: 3, maxIter: 6 });
    const b = rosenbrockSetup({ lineSearchFn, historySize: 3, maxIter: 6 });
    a.opt.step(a.closure);
    b.opt.step(b.closure);
    const before = a.snapshot();
    let calls = 0;
    const failing = () => {
      if (++calls === 4) throw new Error('model exploded');
      return a.closure();
    };
    t.throws(() => a.opt.step(failing), { message: 'model exploded' });
    t.deepEqual(a.snapshot(), before);
    t.is(a.opt.funcEvals, b.opt.funcEvals);
    t.is(a.opt.nIter, b.opt.nIter);
    a.opt.step(a.closure);
    b.opt.step(b.closure);
    t.deepEqual(a.snapshot(), b.snapshot());
    t.deepEqual(a.opt.stateDict(), b.opt.stateDict());
  }
});

test('a null grad is read as zeros: that parameter does not move', (t) => {
  const w = new Parameter(new Float32Array([3, -1]), { name: 'w' });
  const frozen = new Parameter(new Float32Array([7]), { name: 'frozen' });
  const opt = new LBFGS([w, frozen], { lineSearchFn: 'strong_wolfe' });
  const closure = () => {
    w.grad = Float32Array.from(w.data, (x) => 2 * x);
    frozen.grad = null;
    return w.data[0]! ** 2 + w.data[1]! ** 2;
  };
  opt.step(closure);
  t.deepEqual([...frozen.data], [7]);
  t.true(Math.abs(w.data[0]!) < 1e-6 && Math.abs(w.data[1]!) < 1e-6);
});

test('an infinite loss from the start behaves as in torch 2.15 (returned, counters advance, the steps are taken)', (t) => {
  // torch: p = [1, -2], grad 2p, loss inf → returns inf, p = [2^-23, -2^-22], func_evals 3, n_iter 3.
  const p = new Parameter(new Float32Array([1, -2]));
  const opt = new LBFGS([p]);
  const loss = opt.step(() => {
    p.grad = Float32Array.from(p.data, (x) => 2 * x);
    return Infinity;
  });
  t.is(loss, Infinity);
  t.deepEqual([...p.data], [1.1920928955078125e-7, -2.384185791015625e-7]);
  t.is(opt.funcEvals, 3);
  t.is(opt.nIter, 3);
});

test('a NaN loss whose gradient passes the curvature test: torch raises IndexError, LBFGS throws an Error and puts the parameters back', (t) => {
  const p = new Parameter(new Float32Array([1, -2]), { name: 'p' });
  const opt = new LBFGS([p], { lineSearchFn: 'strong_wolfe' });
  let calls = 0;
  const closure = () => {
    p.grad = Float32Array.from(p.data, (x) => 2 * x);
    return ++calls > 1 ? NaN : p.data[0]! ** 2 + p.data[1]! ** 2;
  };
  const e = t.throws(() => opt.step(closure));
  t.regex(e!.message, /^LBFGS: the strong-Wolfe line search accepted a point whose loss is NaN .* torch\.optim\.LBFGS raises IndexError here/);
  t.deepEqual([...p.data], [1, -2]);
  t.is(opt.funcEvals, 0);
  t.is(opt.nIter, 0);
});

test('maxIter 0: a step evaluates the closure once and returns its loss', (t) => {
  const { p, opt, closure, counter } = quadratic(4, { maxIter: 0 });
  const before = p.data.slice();
  const loss = opt.step(closure);
  t.is(counter.calls, 1);
  t.is(loss, closure());
  t.deepEqual(p.data, before);
  t.deepEqual(opt.stateDict().state, { x: { funcEvals: 1, nIter: 0 } });
});

// ------------------------------------------------------------------------------ state dict

const RESUME_CASES = fixture.cases.filter((c) => c.steps >= 4 && c.noGrad === null);

for (const c of RESUME_CASES) {
  test(`stateDict → JSON → loadStateDict into a new LBFGS continues bit for bit: ${c.name}`, (t) => {
    const k = Math.floor(c.steps / 2);
    const whole = setup(c);
    const optWhole = new LBFGS(whole.params, c.options);
    const uninterrupted = replay(c, optWhole, whole.params, whole.closure, whole.counter);

    const first = setup(c);
    const optFirst = new LBFGS(first.params, c.options);
    replay(c, optFirst, first.params, first.closure, first.counter, 1, k);
    const json = JSON.stringify(optFirst.stateDict());
    optFirst.dispose();

    const second = setup(c);
    second.params.forEach((p, j) => p.data.set(first.params[j]!.data));
    const resumed = new LBFGS(second.params, { ...c.options, lr: 123, historySize: 77 });
    resumed.loadStateDict(JSON.parse(json) as LBFGSStateDict);
    const rest = replay(c, resumed, second.params, second.closure, second.counter, k + 1);
    rest.forEach((r, i) => {
      const u = uninterrupted[k + i]!;
      t.deepEqual(r.params, u.params, `step ${k + i + 1}`);
      t.true(Object.is(r.loss, u.loss));
      t.is(r.funcEvals, u.funcEvals);
      t.is(r.nIter, u.nIter);
    });
    t.deepEqual(resumed.stateDict(), optWhole.stateDict());
  });
}

test('the state dict before any step holds the counters and the options, and JSON keeps NaN, infinities and -0', (t) => {
  const { opt } = quadratic(3, { historySize: 4 });
  t.deepEqual(opt.stateDict(), {
    state: { x: { funcEvals: 0, nIter: 0 } },
    paramGroups: [{ params: ['x'], ...LBFGS_DEFAULTS, historySize: 4 }],
  });
  const nan = fixture.cases.find((c) => c.domain !== null)!;
  const { params, closure } = setup(nan);
  const o = new LBFGS(params, nan.options);
  for (let i = 0; i < nan.steps; i++) o.step(closure);
  const sd = o.stateDict();
  t.true(JSON.stringify(sd).includes('"NaN"'));
  const copy = new LBFGS(setup(nan).params, nan.options);
  copy.loadStateDict(JSON.parse(JSON.stringify(sd)) as LBFGSStateDict);
  t.deepEqual(copy.stateDict(), sd);
});

test('loadStateDict rejects a state that does not fit, before anything changes', (t) => {
  const { opt, closure } = quadratic(4, { historySize: 3 });
  opt.step(closure);
  opt.step(closure);
  const good = opt.stateDict();
  const target = quadratic(4, { historySize: 3 }).opt;
  const pristine = JSON.stringify(target.stateDict());
  const bad = (mutate: (sd: LBFGSStateDict, st: Record<string, unknown>) => void) => {
    const sd = JSON.parse(JSON.stringify(good)) as LBFGSStateDict;
    mutate(sd, sd.state.x as unknown as Record<string, unknown>);
    return sd;
  };
  const cases: Array<[string, LBFGSStateDict, RegExp, typeof TypeError | typeof RangeError]> = [
    ['a parameter key that differs', bad((sd) => (sd.paramGroups[0]!.params = ['y'])), /the saved parameters \["y"\] do not match this optimizer's \["x"\]/, RangeError],
    ['two groups', bad((sd) => sd.paramGroups.push(sd.paramGroups[0]!)), /expected one saved param group, received 2/, RangeError],
    ['a bad option', bad((sd) => (sd.paramGroups[0]!.historySize = 0)), /expected historySize \(saved param group 0\) to be an integer >= 1, received 0/, RangeError],
    ['the state under another key', bad((sd) => ((sd.state as Record<string, unknown>).y = sd.state.x)), /unknown key "y" in state/, TypeError],
    ['no state under the first key', bad((sd) => delete (sd.state as Record<string, unknown>).x), /expected state\["x"\] to be LBFGS's state/, TypeError],
    ['the old layout, without the key', bad((sd) => (sd.state = sd.state.x as never)), /unknown key "funcEvals" in state/, TypeError],
    ['an unknown state key', bad((_, st) => (st.al = [])), /unknown key "al" in state\["x"\]/, TypeError],
    ['a d of the wrong length', bad((_, st) => (st.d = [1, 2])), /expected state\["x"\]\.d to have length 4, received 2/, RangeError],
    ['a history of mismatched lengths', bad((_, st) => (st.ro = [])), /expected state\["x"\]\.oldDirs, state\["x"\]\.oldStps and state\["x"\]\.ro to have the same length/, RangeError],
    ['a ro that is not float32', bad((_, st) => (st.ro = (st.ro as number[]).map(() => 0.1))), /expected state\["x"\]\.ro\[0\] to be a float32 value, received 0\.1/, RangeError],
    ['a counter that is not an integer', bad((_, st) => (st.nIter = 1.5)), /expected state\["x"\]\.nIter to be an integer >= 0/, RangeError],
    ['history with nIter 0', bad((_, st) => (st.nIter = 0)), /expected no d, t, oldDirs, oldStps, ro, hDiag, prevFlatGrad, prevLoss with state\["x"\]\.nIter 0/, RangeError],
    ['no history with nIter 2', bad((_, st) => delete st.prevLoss), /expected state\["x"\]\.prevLoss with state\["x"\]\.nIter \d+ >= 1/, RangeError],
    ['a vector value that is not a number', bad((_, st) => ((st.prevFlatGrad as unknown[])[1] = 'x')), /expected state\["x"\]\.prevFlatGrad\[1\] to be a number/, TypeError],
  ];
  for (const [label, sd, message, instanceOf] of cases) {
    const e = t.throws(() => target.loadStateDict(sd), { instanceOf }, label);
    t.regex(e!.message, /^LBFGS\.loadStateDict: /, label);
    t.regex(e!.message, message, label);
    t.is(JSON.stringify(target.stateDict()), pristine, `${label}: nothing changed`);
  }
});

// ------------------------------------------------------------------------------ options and groups

const BAD_OPTIONS: Array<[string, Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp]> = [
  ['a negative lr', { lr: -1 }, RangeError, /^LBFGS: expected lr to be a finite number >= 0, received -1$/],
  ['a NaN lr', { lr: NaN }, RangeError, /expected lr to be a finite number >= 0, received NaN/],
  ['a string lr', { lr: '1' }, TypeError, /expected lr to be a finite number >= 0, received "1"/],
  ['a fractional maxIter', { maxIter: 2.5 }, RangeError, /^LBFGS: expected maxIter to be an integer >= 0, received 2\.5$/],
  ['a negative maxEval', { maxEval: -1 }, RangeError, /expected maxEval to be an integer >= 0, received -1/],
  ['a null maxEval', { maxEval: null }, TypeError, /expected maxEval to be an integer >= 0, received null/],
  ['maxEval 0 with strong_wolfe', { maxEval: 0, lineSearchFn: 'strong_wolfe' }, RangeError, /expected maxEval to be an integer >= 1 with lineSearchFn 'strong_wolfe' .*UnboundLocalError.*, received 0$/],
  ['a negative toleranceGrad', { toleranceGrad: -1e-7 }, RangeError, /expected toleranceGrad to be a finite number >= 0, received -1e-7/],
  ['an infinite toleranceChange', { toleranceChange: Infinity }, RangeError, /expected toleranceChange to be a finite number >= 0, received Infinity/],
  ['historySize 0', { historySize: 0 }, RangeError, /^LBFGS: expected historySize to be an integer >= 1, received 0$/],
  ['an unknown line search', { lineSearchFn: 'armijo' }, RangeError, /^LBFGS: expected lineSearchFn to be 'strong_wolfe' or null \(the only line search torch has\), received "armijo"$/],
  ['a boolean line search', { lineSearchFn: true }, TypeError, /expected lineSearchFn to be 'strong_wolfe' or null, received true/],
  ['a numeric maximize', { maximize: 1 }, TypeError, /^LBFGS: expected maximize to be a boolean, received 1$/],
  ['an unknown option', { history_size: 10 }, TypeError, /^LBFGS: unknown option "history_size" \(expected one of lr, maxIter, maxEval, /],
  ['a common option of the kernel optimizers', { skipNonFinite: true }, TypeError, /unknown option "skipNonFinite"/],
];

for (const [label, options, instanceOf, message] of BAD_OPTIONS) {
  test(`new LBFGS with ${label} throws a ${instanceOf.name} naming the option and the value`, (t) => {
    const p = new Parameter(new Float32Array([1, 2]));
    const e = t.throws(() => new LBFGS([p], options as LBFGSOptions), { instanceOf });
    t.regex(e!.message, message);
    // The same value in a param group names the group.
    if (!label.startsWith('an unknown option') && !label.startsWith('a common')) {
      const g = t.throws(() => new LBFGS([{ params: [p], ...(options as LBFGSOptions) }]), { instanceOf });
      t.regex(g!.message, /\(param group 0\)/);
    }
    t.deepEqual([...p.data], [1, 2]);
  });
}

test('bad parameter lists: empty, not Parameters, a duplicate, no elements, two groups (torch: one group only)', (t) => {
  const a = new Parameter(new Float32Array([1]), { name: 'a' });
  const b = new Parameter(new Float32Array([2]), { name: 'b' });
  t.throws(() => new LBFGS([]), { instanceOf: RangeError, message: 'LBFGS: expected a non-empty parameter list, received an empty one' });
  t.throws(() => new LBFGS([a, new Float32Array(2)] as unknown as Parameter[]), { instanceOf: TypeError, message: /^LBFGS: expected params\[1\] to be a Parameter, received a Float32Array of length 2/ });
  t.throws(() => new LBFGS(null as unknown as Parameter[]), { instanceOf: TypeError, message: /^LBFGS: expected params to be an array of Parameters or one param group, received null$/ });
  t.throws(() => new LBFGS([a, b, a]), { instanceOf: RangeError, message: /params\[2\] \(a\) appears twice/ });
  t.throws(() => new LBFGS([new Parameter(new Float32Array(0))]), { instanceOf: RangeError, message: /expected the parameters to hold at least one element/ });
  const e = t.throws(() => new LBFGS([{ params: [a] }, { params: [b], lr: 0.1 }]), { instanceOf: RangeError });
  t.is(e!.message, "LBFGS: expected one param group, received 2 (LBFGS doesn't support per-parameter options or parameter groups, as torch.optim.LBFGS)");
  t.throws(() => new LBFGS([{ params: [a], momentum: 0.9 } as never]), { instanceOf: TypeError, message: /param group 0: unknown option "momentum"/ });
});

test('one param group with overrides is accepted; maxEval defaults from the constructor options maxIter, as in torch', (t) => {
  const a = new Parameter(new Float32Array([1, 2]), { name: 'a' });
  const opt = new LBFGS([{ params: [a], lr: 0.5, maxIter: 4 }], { maxIter: 8 });
  const g = opt.paramGroups[0]!;
  t.is(g.lr, 0.5);
  t.is(g.maxIter, 4);
  t.is(g.maxEval, 10);
  t.is(opt.defaults.maxEval, 10);
  t.is(new LBFGS([a], { maxIter: 3 }).paramGroups[0]!.maxEval, 3);
  t.is(new LBFGS([a]).paramGroups[0]!.maxEval, 25);
  t.deepEqual(opt.parameters(), [a]);
});

test('options are checked again at every step: a bad value set between steps throws before the closure runs', (t) => {
  const { p, opt, closure, counter } = quadratic();
  opt.step(closure);
  const before = p.data.slice();
  counter.calls = 0;
  opt.paramGroups[0]!.lr = -0.1;
  t.throws(() => opt.step(closure), { instanceOf: RangeError, message: /^LBFGS\.step: expected lr \(param group 0\) to be a finite number >= 0, received -0\.1$/ });
  opt.paramGroups[0]!.lr = 1;
  (opt.paramGroups[0] as { lineSearchFn: unknown }).lineSearchFn = 'wolfe';
  t.throws(() => opt.step(closure), { instanceOf: RangeError, message: /lineSearchFn \(param group 0\)/ });
  opt.paramGroups[0]!.lineSearchFn = null;
  opt.paramGroups.push({ ...opt.paramGroups[0]! });
  t.throws(() => opt.step(closure), { instanceOf: RangeError, message: /expected exactly one param group, found 2 \(LBFGS doesn't support/ });
  opt.paramGroups.pop();
  opt.paramGroups[0]!.params = [new Parameter(new Float32Array(5))];
  t.throws(() => opt.step(closure), { instanceOf: RangeError, message: /the parameters of param group 0 differ from those given to the constructor/ });
  t.is(counter.calls, 0);
  t.deepEqual(p.data, before);
});

test('as in torch, lowering historySize below the history length stops the oldest pairs from being dropped', (t) => {
  const { opt, closure } = rosenbrockSetup({ historySize: 4, maxIter: 6, lineSearchFn: 'strong_wolfe' });
  opt.step(closure);
  t.is(Object.values(opt.stateDict().state)[0]!.oldDirs!.length, 4);
  opt.paramGroups[0]!.historySize = 2;
  opt.step(closure);
  // torch drops a pair only when len(old_dirs) == history_size, so the history grows past 4.
  t.true(Object.values(opt.stateDict().state)[0]!.oldDirs!.length > 4);
});

test('a scheduler drives LBFGS through paramGroups[0].lr (StepLR halves it every step)', (t) => {
  const { opt, closure } = quadratic(5, { lr: 0.8, maxIter: 2 });
  const scheduler = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
  const lrs: number[] = [];
  for (let i = 0; i < 3; i++) {
    opt.step(closure);
    scheduler.step();
    lrs.push(opt.paramGroups[0]!.lr);
  }
  t.deepEqual(lrs, [0.4, 0.2, 0.1]);
  t.is(opt.paramGroups[0]!.initialLr, 0.8);
  t.is(opt.stateDict().paramGroups[0]!.initialLr, 0.8);
});

test('zeroGrad zeroes or nulls every grad; dispose makes every method but parameters() throw', (t) => {
  const { p, opt, closure } = quadratic();
  opt.step(closure);
  opt.zeroGrad();
  t.true(p.grad!.every((x) => x === 0));
  opt.zeroGrad({ setToNone: true });
  t.is(p.grad, null);
  t.throws(() => opt.zeroGrad({ setToNone: 1 } as never), { instanceOf: TypeError });
  opt.dispose();
  opt.dispose();
  t.true(opt.disposed);
  for (const call of [() => opt.step(closure), () => opt.zeroGrad(), () => opt.stateDict(), () => opt.loadStateDict({} as LBFGSStateDict)]) {
    t.throws(call, { message: /^LBFGS: \w+\(\) was called after dispose\(\)/ });
  }
  t.deepEqual(opt.parameters(), [p]);
});

test('a detached data buffer is a RangeError before the closure runs', (t) => {
  const { p, opt, closure, counter } = quadratic();
  structuredClone(p.data.buffer, { transfer: [p.data.buffer as ArrayBuffer] });
  t.throws(() => opt.step(closure), { instanceOf: RangeError, message: /expected data of parameter 0 \("x"\) to have length 5, received 0/ });
  t.is(counter.calls, 0);
});

// ------------------------------------------------------------------------------ convergence

test('LBFGS with strong_wolfe finds the minimum of the 2-d Rosenbrock function from (-1.2, 1)', (t) => {
  const x = new Parameter(new Float32Array([-1.2, 1]), { name: 'x' });
  const opt = new LBFGS([x], { lineSearchFn: 'strong_wolfe' });
  const closure = () => {
    const r = rosenbrock(x.data, false);
    x.grad!.set(r.g);
    return r.loss;
  };
  for (let i = 0; i < 10; i++) opt.step(closure);
  const loss = closure();
  t.log(`after ${opt.nIter} iterations and ${opt.funcEvals} evaluations: x = [${[...x.data].join(', ')}], loss ${loss}`);
  t.true(loss < 1e-8, `loss ${loss}`);
  t.true(Math.abs(x.data[0]! - 1) < 1e-4 && Math.abs(x.data[1]! - 1) < 1e-4);
});

test('LBFGS finds the minimum of the 10-d Rosenbrock function over three parameters, with and without line search', (t) => {
  for (const options of [{ lineSearchFn: 'strong_wolfe' as const }, { lr: 0.5, historySize: 10 }]) {
    const { params, opt, closure } = rosenbrockSetup(options);
    for (let i = 0; i < 50; i++) opt.step(closure);
    const worst = Math.max(...params.flatMap((p) => [...p.data].map((v) => Math.abs(v - 1))));
    t.log(`${JSON.stringify(options)}: max |x − 1| = ${worst.toExponential(2)} after ${opt.nIter} iterations, ${opt.funcEvals} evaluations`);
    t.true(worst < 1e-3, JSON.stringify(options));
  }
});

test.after('report the measured distance to torch', (t) => {
  t.log(`LBFGS vs torch.optim.LBFGS over the compared steps: max |Δparam| ${measured.param.toExponential(2)}, max relative |Δloss| ${measured.loss.toExponential(2)}`);
});
