/**
 * What is particular to ASGD; the conformance suite checks what every optimizer shares. Its
 * averaged parameters `ax` are swapped into the parameters for evaluation and back; its `eta` is
 * stored per parameter (computed at the end of a step from that step's lr, so a schedule acts one
 * step late, as in PyTorch) and its `mu` computed from the step counter and t0.
 */
import test from 'ava';
import { ASGD, Parameter } from '../../ts/index.js';
import { values } from '../helpers/data.js';

const f = Math.fround;

function model(seed = 1): Parameter[] {
  return [new Parameter(values(seed, 0, 0, 33), { name: 'w' }), new Parameter(values(seed, 0, 1, 5), { name: 'b' }), new Parameter(values(seed, 0, 2, 4), { name: 'frozen' })];
}

/** Steps `opt` `n` times from step `from`, with a gradient for every parameter but `frozen`. */
function train(opt: ASGD, params: Parameter[], from: number, n: number): void {
  for (let s = from; s < from + n; s++) {
    params.forEach((p, j) => (p.grad = p.name === 'frozen' ? null : values(7, s, j, p.numel)));
    opt.step();
  }
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

test('ASGD.swapAveraged puts ax into the parameters and a second call restores every bit; a parameter never stepped is left alone', (t) => {
  const params = model();
  const opt = new ASGD(params, { lr: 0.05, t0: 2 });
  train(opt, params, 1, 6);
  const live = params.map((p) => bits(p.data));
  const sd = opt.stateDict();
  t.false('frozen' in sd.state);
  opt.swapAveraged();
  t.true(opt.averagedSwappedIn);
  t.deepEqual(Array.from(params[0]!.data), sd.state.w!.ax);
  t.deepEqual(Array.from(params[1]!.data), sd.state.b!.ax);
  t.is(bits(params[2]!.data), live[2]!);
  t.notDeepEqual(bits(params[0]!.data), live[0], 'the average differs from the last iterate once t0 is passed');
  opt.swapAveraged();
  t.false(opt.averagedSwappedIn);
  t.deepEqual(
    params.map((p) => bits(p.data)),
    live,
  );
  t.deepEqual(opt.stateDict(), sd);
});

test('ASGD refuses step, stateDict and loadStateDict while the averages are swapped in, and changes nothing', (t) => {
  const params = model();
  const opt = new ASGD(params, { lr: 0.05, t0: 0 });
  train(opt, params, 1, 3);
  const sd = opt.stateDict();
  opt.swapAveraged();
  const data = params.map((p) => bits(p.data));
  params.forEach((p, j) => (p.grad = values(8, 1, j, p.numel)));
  for (const [what, call] of [
    ['step', () => opt.step()],
    ['stateDict', () => opt.stateDict()],
    ['loadStateDict', () => opt.loadStateDict(sd)],
  ] as const) {
    t.throws(call, { instanceOf: Error, message: `ASGD: ${what}() was called while the averaged parameters are swapped in; call swapAveraged() again first` });
  }
  t.deepEqual(
    params.map((p) => bits(p.data)),
    data,
  );
  opt.swapAveraged();
  t.deepEqual(opt.stateDict(), sd);
  t.notThrows(() => opt.step());
});

test('ASGD.averagedParameters returns copies of ax, of the data for a parameter without state, and the same while swapped', (t) => {
  const params = model();
  const opt = new ASGD(params, { lr: 0.05, t0: 1 });
  train(opt, params, 1, 5);
  const avg = opt.averagedParameters();
  const sd = opt.stateDict();
  t.deepEqual(Array.from(avg[0]!), sd.state.w!.ax);
  t.deepEqual(Array.from(avg[1]!), sd.state.b!.ax);
  t.deepEqual(avg[2], params[2]!.data);
  t.not(avg[2], params[2]!.data);
  avg[0]!.fill(7);
  t.deepEqual(Array.from(opt.averagedParameters()[0]!), sd.state.w!.ax, 'a copy');
  opt.swapAveraged();
  t.deepEqual(opt.averagedParameters(), avg.map((a, j) => (j === 0 ? Float32Array.from(sd.state.w!.ax as number[]) : a)));
  opt.swapAveraged();
});

test('ASGD with t0 = 0: ax is the running mean of the iterates from the second step on (μ = 1/(t − t0) from step 3)', (t) => {
  const p = new Parameter(values(3, 0, 0, 16), { name: 'w' });
  const opt = new ASGD([p], { lr: 0.1, t0: 0, lambd: 0.01 });
  const iterates: Float32Array[] = [];
  for (let s = 1; s <= 8; s++) {
    p.grad = values(4, s, 0, 16);
    opt.step();
    iterates.push(p.data.slice());
    const st = opt.stateDict().state.w!;
    t.is(st.mu, f(1 / Math.max(1, s)), `mu after step ${s}`);
    const since = iterates.slice(Math.min(1, s - 1));
    const mean = Array.from({ length: 16 }, (_, i) => since.reduce((a, x) => a + x[i]!, 0) / since.length);
    (st.ax as number[]).forEach((x, i) => t.true(Math.abs(x - mean[i]!) <= 1e-6, `step ${s}, element ${i}: ${x} vs ${mean[i]}`));
  }
});

test('ASGD computes eta at the end of each step from that step\'s lr, so an lr change acts one step late (as PyTorch)', (t) => {
  const [lambd, alpha] = [0.5, 0.75];
  const eta = (lr: number, s: number) => f(lr / (1 + lambd * lr * s) ** alpha);
  const run = (lrs: number[]) => {
    const p = new Parameter(values(5, 0, 0, 8), { name: 'w' });
    const opt = new ASGD([p], { lr: lrs[0], lambd });
    const etas: number[] = [];
    lrs.forEach((lr, k) => {
      opt.paramGroups[0]!.lr = lr;
      p.grad = values(6, k + 1, 0, 8);
      opt.step();
      etas.push(opt.stateDict().state.w!.eta as number);
    });
    return { data: bits(p.data), etas };
  };
  const a = run([0.1, 0.1, 0.1, 0.02]);
  t.deepEqual(a.etas, [eta(0.1, 1), eta(0.1, 2), eta(0.1, 3), eta(0.02, 4)]);
  // Changing the lr before the last step only changes the eta stored for the next one.
  t.is(a.data, run([0.1, 0.1, 0.1, 0.1]).data);
  t.not(a.data, run([0.1, 0.1, 0.02, 0.02]).data);
});

test('ASGD.loadStateDict checks mu but takes it from the step counter and t0; a bad eta or mu throws and changes nothing', (t) => {
  const params = model();
  const opt = new ASGD(params, { lr: 0.05, t0: 2 });
  train(opt, params, 1, 4);
  const sd = opt.stateDict();
  t.is(sd.state.w!.mu, f(1 / 2));
  const before = JSON.stringify(sd);
  const edited = JSON.parse(before) as typeof sd;
  edited.state.w!.mu = 0.125;
  opt.loadStateDict(edited);
  t.is(JSON.stringify(opt.stateDict()), before);
  for (const [key, bad, error] of [
    ['mu', 'x', TypeError],
    ['mu', Infinity, RangeError],
    ['mu', 1e39, RangeError],
    ['eta', null, TypeError],
  ] as const) {
    const b = JSON.parse(before) as typeof sd;
    (b.state.w as Record<string, unknown>)[key] = bad;
    const err = t.throws(() => opt.loadStateDict(b), { instanceOf: error });
    t.regex(err!.message, new RegExp(`^ASGD\\.loadStateDict: expected state\\["w"\\]\\.${key} to be a (finite number|float32 value)`));
    t.is(JSON.stringify(opt.stateDict()), before);
  }
});

test('ASGD.dispose while the averages are swapped in leaves them in the parameters; later calls throw', (t) => {
  const params = model();
  const opt = new ASGD(params, { lr: 0.05, t0: 1 });
  train(opt, params, 1, 4);
  const avg = opt.averagedParameters();
  opt.swapAveraged();
  opt.dispose();
  t.deepEqual(
    params.map((p) => p.data),
    avg,
  );
  t.throws(() => opt.swapAveraged(), { message: /^ASGD: swapAveraged\(\) was called after dispose\(\)/ });
  t.throws(() => opt.averagedParameters(), { message: /^ASGD: averagedParameters\(\) was called after dispose\(\)/ });
  t.throws(() => opt.step(), { message: /^ASGD: step\(\) was called after dispose\(\)/ });
});

test('ASGD refuses an lr above the largest float32, at construction and live, before anything changes (η, a float32, would be infinite and its state unloadable)', (t) => {
  const big = 1.3407806331607416e142;
  t.throws(() => new ASGD(model(), { lr: big }), { instanceOf: RangeError, message: /expected lr to be a finite number >= 0 and <= 3\.4028234663852886e\+38, received 1\.3407806331607416e\+142/ });
  const params = model();
  const opt = new ASGD(params, { lr: 0.05 });
  train(opt, params, 1, 2);
  const before = { data: params.map((p) => bits(p.data)), state: JSON.stringify(opt.stateDict().state) };
  opt.paramGroups[0]!.lr = big;
  params.forEach((p, j) => (p.grad = p.name === 'frozen' ? null : values(7, 3, j, p.numel)));
  t.throws(() => opt.step(), { instanceOf: RangeError, message: /lr/ });
  t.deepEqual(params.map((p) => bits(p.data)), before.data);
  t.is(JSON.stringify(opt.stateDict().state), before.state);
  opt.paramGroups[0]!.lr = 3.4028234663852886e38;
  opt.step();
  const saved = JSON.parse(JSON.stringify(opt.stateDict()));
  t.notThrows(() => opt.loadStateDict(saved), 'the largest float32 lr gives a state that loads back');
});
