/**
 * GradNormMonitor: norms gathered inside the optimizer's fused step agree with `getTotalNorm`,
 * bounded history, the moving average, exploding / vanishing / non-finite events, JSONL and CSV
 * export, standalone `record`, `detach`, and option checking. That every registered optimizer's
 * step gathers each gradient's Σg² exactly as summed in TS is checked by the conformance suite.
 */
import test from 'ava';
import { AdamW, getTotalNorm, GradNormMonitor, Parameter, SGD, type GradNormEvent, type GradNormRecord } from '../ts/index.js';
import { Rng } from './helpers/data.js';

const LENGTHS = [1, 7, 17, 1025, 40001];

/** Parameters of LENGTHS with random data and gradients; named `layer<j>` unless `unnamed`. */
function makeParams(seed: number, unnamed = false): Parameter[] {
  const rng = new Rng(seed);
  return LENGTHS.map((n, j) => {
    const p = new Parameter(rng.floats(n), unnamed ? {} : { name: `layer${j}` });
    p.grad = rng.floats(n, 0.1);
    return p;
  });
}

/** New random gradients, each scaled by `scale` (a number, or one per parameter). */
function regrad(params: readonly Parameter[], rng: Rng, scale: number | readonly number[] = 0.1): void {
  params.forEach((p, j) => {
    p.grad = rng.floats(p.numel, typeof scale === 'number' ? scale : scale[j]!);
  });
}

const rel = (a: number, b: number): number => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));

test('attached to AdamW: the global norm equals getTotalNorm of the same grads, per-parameter norms by name', (t) => {
  const params = makeParams(1);
  const opt = new AdamW(params, { lr: 1e-3 });
  const monitor = new GradNormMonitor(opt);
  const rng = new Rng(2);
  for (let s = 1; s <= 4; s++) {
    regrad(params, rng, 0.1 * s);
    const expected = getTotalNorm(params);
    const per = params.map((p) => getTotalNorm(p));
    opt.step();
    const r = monitor.last()!;
    t.is(r.step, s);
    t.true(r.applied);
    t.true(rel(r.norm, expected) < 1e-12, `step ${s}: ${r.norm} vs ${expected}`);
    t.deepEqual(Object.keys(r.params), ['layer0', 'layer1', 'layer2', 'layer3', 'layer4']);
    params.forEach((p, j) => t.true(rel(r.params[p.name!]!, per[j]!) < 1e-12, `${p.name}: ${r.params[p.name!]} vs ${per[j]}`));
  }
  t.is(monitor.steps, 4);
  t.is(monitor.history().length, 4);
});

test('unnamed parameters are keyed by their position in the optimizer (across groups); null grads are left out', (t) => {
  const params = makeParams(3, true);
  params[1] = new Parameter(params[1]!.data, { name: 'bias' });
  params[1].grad = new Float32Array(7).fill(0.5);
  const opt = new SGD([{ params: params.slice(0, 3) }, { params: params.slice(3), lr: 0.01 }], { lr: 0.1 });
  const monitor = new GradNormMonitor(opt);
  params[2]!.grad = null;
  opt.step();
  const r = monitor.last()!;
  // (JS lists integer-like keys first, so compare as a set.)
  t.deepEqual(Object.keys(r.params).sort(), ['0', '3', '4', 'bias']);
  t.true(rel(r.params['bias']!, Math.sqrt(7 * 0.25)) < 1e-12);
  t.true(rel(r.params['4']!, getTotalNorm(params[4]!)) < 1e-12);
  t.true(rel(r.norm, getTotalNorm(params)) < 1e-12);
});

test('perParameter: false records only the global norm', (t) => {
  const params = makeParams(4);
  const opt = new AdamW(params);
  const monitor = new GradNormMonitor(opt, { perParameter: false });
  opt.step();
  t.deepEqual(monitor.last()!.params, {});
  t.true(rel(monitor.last()!.norm, getTotalNorm(params)) < 1e-12);
  t.is(monitor.toCSV().split('\n')[0], 'step,norm,ema,applied');
});

test('the history is bounded by historySize: oldest dropped, order kept', (t) => {
  const params = makeParams(5);
  const opt = new SGD(params, { lr: 0.01 });
  const monitor = new GradNormMonitor(opt, { historySize: 3 });
  t.deepEqual(monitor.history(), []);
  t.is(monitor.last(), undefined);
  const rng = new Rng(6);
  const norms: number[] = [];
  for (let s = 1; s <= 8; s++) {
    regrad(params, rng, s);
    norms.push(getTotalNorm(params));
    opt.step();
    const h = monitor.history();
    t.is(h.length, Math.min(s, 3));
    t.deepEqual(
      h.map((r) => r.step),
      Array.from({ length: Math.min(s, 3) }, (_, i) => Math.max(1, s - 2) + i),
    );
    t.is(monitor.last()!.step, s);
    t.is(monitor.last(), h[h.length - 1]);
    h.forEach((r) => t.true(rel(r.norm, norms[r.step - 1]!) < 1e-12));
  }
  t.is(monitor.steps, 8);
  // historySize 1 keeps just the last record.
  const one = new GradNormMonitor(opt, { historySize: 1 });
  opt.step();
  opt.step();
  t.deepEqual(
    one.history().map((r) => r.step),
    [2],
  );
});

test('the EMA starts at the first norm and follows ema ← β·ema + (1−β)·norm', (t) => {
  const params = makeParams(7);
  const opt = new AdamW(params);
  const beta = 0.9;
  const monitor = new GradNormMonitor(opt, { emaBeta: beta, explodeFactor: 1e6 });
  t.true(Number.isNaN(monitor.ema));
  const rng = new Rng(8);
  let ema = NaN;
  for (let s = 1; s <= 12; s++) {
    regrad(params, rng, 0.01 * (1 + (s % 4)));
    const norm = getTotalNorm(params);
    opt.step();
    ema = s === 1 ? norm : beta * ema + (1 - beta) * norm;
    t.true(rel(monitor.ema, ema) < 1e-12, `step ${s}: ${monitor.ema} vs ${ema}`);
    t.is(monitor.last()!.ema, monitor.ema);
  }
  // emaBeta 0: the EMA is the last norm.
  const m0 = new GradNormMonitor(undefined, { emaBeta: 0 });
  m0.record(params);
  regrad(params, rng, 3);
  m0.record(params);
  t.true(rel(m0.ema, getTotalNorm(params)) < 1e-12);
});

test("a spike after warmupSteps fires 'exploding' (event and onEvent) naming the largest parameter", (t) => {
  const params = makeParams(9);
  const opt = new AdamW(params);
  const seen: GradNormEvent[] = [];
  const emitted: GradNormEvent[] = [];
  const monitor = new GradNormMonitor(opt, { warmupSteps: 3, explodeFactor: 5, onEvent: (e) => seen.push(e) });
  monitor.on('exploding', (e: GradNormEvent) => emitted.push(e));
  const rng = new Rng(10);
  // A spike during warmup (step 2) is not reported.
  regrad(params, rng, 0.1);
  opt.step();
  regrad(params, rng, [0.1, 0.1, 0.1, 50, 0.1]);
  opt.step();
  regrad(params, rng, 0.1);
  opt.step();
  t.deepEqual(emitted, []);
  // Steady, then a spike in layer2 (17 elements scaled by 1e4).
  regrad(params, rng, 0.1);
  opt.step();
  t.deepEqual(emitted, []);
  const emaBefore = monitor.ema;
  regrad(params, rng, [0.1, 0.1, 1e4, 0.1, 0.1]);
  const spike = getTotalNorm(params);
  opt.step();
  t.is(emitted.length, 1);
  const e = emitted[0]!;
  t.is(e.kind, 'exploding');
  t.is(e.step, 5);
  t.true(rel(e.norm, spike) < 1e-12);
  t.is(e.ema, emaBefore);
  t.deepEqual(e.params, ['layer2']);
  t.deepEqual(seen, emitted);
  // A norm just under explodeFactor × ema is not reported.
  regrad(params, rng, 0.1);
  const scale = (4.5 * monitor.ema) / getTotalNorm(params);
  params.forEach((p) => p.grad!.forEach((g, i, a) => (a[i] = g * scale)));
  opt.step();
  t.is(emitted.length, 1);
});

test("tiny gradients fire 'vanishing'", (t) => {
  const params = makeParams(11);
  const opt = new SGD(params, { lr: 0.01 });
  const events: GradNormEvent[] = [];
  const monitor = new GradNormMonitor(opt, { vanishThreshold: 1e-6 });
  monitor.on('vanishing', (e: GradNormEvent) => events.push(e));
  opt.step();
  t.is(events.length, 0);
  const rng = new Rng(12);
  regrad(params, rng, 1e-10);
  opt.step();
  t.is(events.length, 1);
  t.is(events[0]!.kind, 'vanishing');
  t.is(events[0]!.step, 2);
  t.true(events[0]!.norm < 1e-6 && events[0]!.norm > 0);
  // All-zero gradients vanish too (default threshold 1e-7).
  const m2 = new GradNormMonitor(undefined);
  let fired = 0;
  m2.on('vanishing', () => fired++);
  params.forEach((p) => p.grad!.fill(0));
  t.is(m2.record(params).norm, 0);
  t.is(fired, 1);
});

test("a NaN fires 'nonfinite' naming the parameter; the EMA is not touched", (t) => {
  const params = makeParams(13);
  const opt = new AdamW(params);
  const events: GradNormEvent[] = [];
  const viaCallback: GradNormEvent[] = [];
  const monitor = new GradNormMonitor(opt, { onEvent: (e) => viaCallback.push(e) });
  monitor.on('nonfinite', (e: GradNormEvent) => events.push(e));
  opt.step();
  const ema = monitor.ema;
  params[3]!.grad![100] = NaN;
  params[4]!.grad![40000] = Infinity;
  opt.step();
  t.is(events.length, 1);
  t.is(events[0]!.kind, 'nonfinite');
  t.is(events[0]!.step, 2);
  t.true(Number.isNaN(events[0]!.norm));
  t.deepEqual(events[0]!.params, ['layer3', 'layer4']);
  t.deepEqual(viaCallback, events);
  t.is(monitor.ema, ema);
  const r = monitor.last()!;
  t.true(Number.isNaN(r.params['layer3']!));
  t.is(r.params['layer4'], Infinity);
  t.true(Number.isFinite(r.params['layer0']!));
  // Without skipNonFinite the optimizer applied the step (PyTorch's behaviour).
  t.true(r.applied);
});

test('toJSONL parses line by line into the history', (t) => {
  const params = makeParams(14);
  const opt = new AdamW(params);
  const monitor = new GradNormMonitor(opt);
  t.is(monitor.toJSONL(), '');
  const rng = new Rng(15);
  for (let s = 0; s < 5; s++) {
    regrad(params, rng, 0.1);
    opt.step();
  }
  const text = monitor.toJSONL();
  t.true(text.endsWith('\n'));
  const lines = text.split('\n').slice(0, -1);
  t.is(lines.length, 5);
  const parsed = lines.map((l) => JSON.parse(l) as GradNormRecord);
  t.deepEqual(parsed, monitor.history());
  t.deepEqual(Object.keys(parsed[0]!).sort(), ['applied', 'ema', 'norm', 'params', 'step']);
});

test('toCSV has the header step,norm,ema,applied,<names> and one row per record', (t) => {
  const params = makeParams(16);
  const weird = new Parameter(new Float32Array(3), { name: 'a,"b"' });
  const opt = new AdamW([...params, weird]);
  const monitor = new GradNormMonitor(opt, { historySize: 4 });
  const rng = new Rng(17);
  for (let s = 0; s < 6; s++) {
    regrad(params, rng, 0.1);
    weird.grad = s === 5 ? null : new Float32Array([1, 2, 2]);
    opt.step();
  }
  const csv = monitor.toCSV();
  t.true(csv.endsWith('\n'));
  const lines = csv.split('\n').slice(0, -1);
  t.is(lines[0], 'step,norm,ema,applied,layer0,layer1,layer2,layer3,layer4,"a,""b"""');
  t.is(lines.length, 1 + 4);
  const h = monitor.history();
  lines.slice(1).forEach((line, k) => {
    const cells = line.split(',');
    t.is(cells.length, 10);
    const r = h[k]!;
    t.is(Number(cells[0]), r.step);
    t.is(Number(cells[1]), r.norm);
    t.is(Number(cells[2]), r.ema);
    t.is(cells[3], String(r.applied));
    for (let j = 0; j < 5; j++) t.is(Number(cells[4 + j]), r.params[`layer${j}`]!);
    // The weird-named parameter had no gradient at the last step: empty cell.
    t.is(cells[9], r.step === 6 ? '' : '3');
  });
});

test('standalone record(params) without an optimizer', (t) => {
  const params = makeParams(18);
  const monitor = new GradNormMonitor();
  const r1 = monitor.record(params);
  t.is(r1.step, 1);
  t.true(r1.applied);
  t.true(rel(r1.norm, getTotalNorm(params)) < 1e-12);
  params.forEach((p) => t.true(rel(r1.params[p.name!]!, getTotalNorm(p)) < 1e-12));
  const r2 = monitor.record(params[4]!);
  t.is(r2.step, 2);
  t.deepEqual(Object.keys(r2.params), ['layer4']);
  t.true(rel(r2.norm, getTotalNorm(params[4]!)) < 1e-12);
  t.deepEqual(monitor.history(), [r1, r2]);
  // Unnamed parameters: by position.
  const anon = makeParams(19, true);
  const m2 = new GradNormMonitor();
  t.deepEqual(Object.keys(m2.record(anon).params), ['0', '1', '2', '3', '4']);
  t.throws(() => monitor.record([params[0]!, 5 as unknown as Parameter]), { instanceOf: TypeError, message: /params\[1\] to be a Parameter, received 5/ });
  t.throws(() => monitor.record(null as unknown as Parameter[]), { instanceOf: TypeError });
  t.is(monitor.steps, 2, 'a rejected call records nothing');
});

// Known bug (see report): standalone, an unnamed parameter is keyed by the order in which the
// monitor first saw it with a gradient (`this.#names.size` in GradNormMonitor.#name), not by its
// position in the list: a null grad in front shifts the keys, and they then stick.
test('standalone: unnamed parameters are keyed by their position even when an earlier one has no grad', (t) => {
  const anon = makeParams(20, true);
  const monitor = new GradNormMonitor();
  anon[0]!.grad = null;
  t.deepEqual(Object.keys(monitor.record(anon).params), ['1', '2', '3', '4']);
  anon[0]!.grad = new Float32Array(1).fill(1);
  const r = monitor.record(anon);
  t.is(r.params['0'], 1);
  t.true(rel(r.params['4']!, getTotalNorm(anon[4]!)) < 1e-12);
});

test('detach() stops recording', (t) => {
  const params = makeParams(21);
  const opt = new AdamW(params);
  const monitor = new GradNormMonitor(opt);
  opt.step();
  opt.step();
  monitor.detach();
  opt.step();
  monitor.detach();
  t.is(monitor.steps, 2);
  t.is(monitor.history().length, 2);
  // Other monitors keep recording.
  const other = new GradNormMonitor(opt);
  opt.step();
  t.is(other.steps, 1);
  t.is(monitor.steps, 2);
});

test('bad options and a bad optimizer throw TypeError/RangeError naming the option and value', (t) => {
  const cases: Array<[unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    [{ historySize: 0 }, RangeError, /^GradNormMonitor: expected historySize to be an integer >= 1, received 0$/],
    [{ historySize: 2.5 }, RangeError, /historySize.*received 2.5$/],
    [{ historySize: '10' }, TypeError, /historySize.*received "10"$/],
    [{ emaBeta: 1 }, RangeError, /emaBeta.*received 1$/],
    [{ emaBeta: -0.1 }, RangeError, /emaBeta.*received -0.1$/],
    [{ emaBeta: NaN }, RangeError, /emaBeta.*received NaN$/],
    [{ explodeFactor: 1 }, RangeError, /explodeFactor.*received 1$/],
    [{ explodeFactor: Infinity }, RangeError, /explodeFactor.*received Infinity$/],
    [{ vanishThreshold: -1 }, RangeError, /vanishThreshold.*received -1$/],
    [{ warmupSteps: -1 }, RangeError, /warmupSteps.*received -1$/],
    [{ warmupSteps: 1.5 }, RangeError, /warmupSteps.*received 1.5$/],
    [{ perParameter: 'yes' }, TypeError, /perParameter to be a boolean, received "yes"$/],
    [{ onEvent: 5 }, TypeError, /onEvent to be a function, received 5$/],
    [{ histSize: 10 }, TypeError, /unknown option "histSize"/],
    [null, TypeError, /^GradNormMonitor: expected an options object, received null$/],
    [[1], TypeError, /expected an options object/],
  ];
  for (const [options, Err, re] of cases) {
    const err = t.throws(() => new GradNormMonitor(undefined, options as object), { instanceOf: Err });
    t.regex(err!.message, re);
  }
  t.throws(() => new GradNormMonitor({} as never), { instanceOf: TypeError, message: /^GradNormMonitor: expected a ferroptim optimizer, received an object$/ });
  t.throws(() => new GradNormMonitor(null as never), { instanceOf: TypeError, message: /received null$/ });
  // Defaults are documented values; undefined means default.
  const m = new GradNormMonitor(undefined, { historySize: undefined });
  t.deepEqual({ ...m.options }, { historySize: 10000, emaBeta: 0.98, explodeFactor: 10, vanishThreshold: 1e-7, warmupSteps: 5, perParameter: true });
  t.true(Object.isFrozen(m.options));
});

test('parameters added with addParamGroup after the first step are keyed like the others', (t) => {
  const a = new Parameter(new Float32Array([1, 2]), { name: 'a' });
  const b = new Parameter(new Float32Array([3]), { name: 'b' });
  const opt = new AdamW([a]);
  const monitor = new GradNormMonitor(opt);
  a.grad!.fill(1);
  opt.step();
  opt.addParamGroup({ params: [b] });
  b.grad!.fill(2);
  opt.step();
  t.deepEqual(Object.keys(monitor.last()!.params).sort(), ['a', 'b']);
  t.is(monitor.last()!.params['b'], 2);
});
