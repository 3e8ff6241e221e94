/**
 * Options and arguments of the optimizer, Lookahead, monitor and clipping APIs are all checked:
 * a rejected call throws a TypeError or RangeError naming the option and the received value,
 * never a generic V8 error, and leaves parameters, gradients, state and param groups
 * bit-identical. Also: a state dict's numbers must survive the conversion to float32, data keys
 * (parameter names, saved strings) never reach Object.prototype, and unusable FERROPTIM_*
 * environment values are reported once.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Adam, AdamW } from '../ts/optim/adam.js';
import { NAdam } from '../ts/optim/nadam.js';
import { SGD } from '../ts/optim/sgd.js';
import { Parameter } from '../ts/tensor.js';
import { clipGradNorm, clipGradValue, getTotalNorm } from '../ts/clip/clip-grad.js';
import { GradNormMonitor } from '../ts/monitor/grad-norm-monitor.js';
import { Lookahead } from '../ts/optim/lookahead.js';
import { setNumThreads } from '../ts/runtime.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
type ErrorClass = typeof TypeError | typeof RangeError;

/** A deterministic float32 in [-1, 1]. */
function value(seed: number, tensor: number, i: number): number {
  let x = (Math.imul(seed, 0x9e3779b1) + Math.imul(tensor, 0xc2b2ae3d) + i) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return Math.fround((((x ^ (x >>> 16)) >>> 0) % 2001) / 1000 - 1);
}

function makeParams(names: readonly string[] = ['w', 'b', 'head'], lengths: readonly number[] = [5, 3, 17]): Parameter[] {
  return names.map((name, t) => {
    const p = new Parameter(Float32Array.from({ length: lengths[t]! }, (_, i) => value(1, t, i)), { name });
    p.grad!.set(Float32Array.from({ length: p.numel }, (_, i) => value(2, t, i)));
    return p;
  });
}

function setGrads(params: readonly Parameter[], seed: number): void {
  params.forEach((p, t) => p.grad?.set(Float32Array.from({ length: p.numel }, (_, i) => value(seed, t, i))));
}

/** An AdamW over two groups, stepped twice, with fresh gradients in place. */
function warmed(): { opt: AdamW; params: Parameter[] } {
  const params = makeParams();
  const opt = new AdamW([{ params: params.slice(0, 2) }, { params: params.slice(2), lr: 0.05 }], { lr: 0.01 });
  for (let s = 0; s < 2; s++) {
    setGrads(params, 10 + s);
    opt.step();
  }
  setGrads(params, 20);
  return { opt, params };
}

function hex(a: Float32Array | null): string | null {
  if (a === null) return null;
  // A detached array has length 0, and its buffer cannot be viewed.
  return a.byteLength === 0 ? '' : Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

/** Bytes of everything a rejected call must leave alone. */
function snapshot(params: readonly Parameter[], opt?: { stateDict(): unknown; paramGroups: unknown[] }): string {
  const floats = (_: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
  return JSON.stringify(
    {
      data: params.map((p) => hex(p.data)),
      grads: params.map((p) => hex(p.grad)),
      state: opt?.stateDict(),
      groups: (opt?.paramGroups as Array<{ params: Parameter[] }> | undefined)?.map((g) => ({ ...g, params: g.params.map((p) => p.name) })),
    },
    floats,
  );
}

function assertThrows(t: ExecutionContext, fn: () => unknown, cls: ErrorClass, message: RegExp): void {
  const err = t.throws(fn, { message });
  if (err) t.is(err.constructor, cls, `expected exactly ${cls.name}, got ${err.constructor.name}: ${err.message}`);
}

// ---------------------------------------------------------------------------------------------
// The cases of the issue: each throws, names the option and the value, and changes nothing.

interface Case {
  title: string;
  call: (opt: AdamW, params: Parameter[]) => unknown;
  cls: ErrorClass;
  message: RegExp;
}

const rejects = test.macro({
  exec(t, c: Case) {
    const { opt, params } = warmed();
    const before = snapshot(params, opt);
    const grads = params.map((p) => p.grad);
    assertThrows(t, () => c.call(opt, params), c.cls, c.message);
    t.is(snapshot(params, opt), before, 'parameters, gradients, state or param groups changed');
    params.forEach((p, i) => t.is(p.grad, grads[i]!, `grad ${i} was replaced`));
    // The optimizer still works.
    const data = hex(params[0]!.data);
    opt.step();
    t.not(hex(params[0]!.data), data);
  },
  title: (_, c: Case) => `${c.title} throws a ${c.cls.name} naming it and changes nothing`,
});

/** A saved dict of the warmed optimizer, through JSON, with `mutate` applied. */
function saved(opt: AdamW, mutate: (sd: Any) => void): Any {
  const sd = JSON.parse(JSON.stringify(opt.stateDict()));
  mutate(sd);
  return sd;
}

/** Runs `call` with param group `i` broken by `breakIt`, then puts the group back as it was. */
function broken(opt: AdamW, i: number, breakIt: (g: Any, groups: Any[]) => void, call: () => unknown): unknown {
  const groups = opt.paramGroups as Any[];
  const g = groups[i];
  const params = g.params;
  breakIt(g, groups);
  try {
    return call();
  } finally {
    groups[i] = g;
    g.params = params;
  }
}

const cases: Case[] = [
  { title: "zeroGrad('x')", call: (o) => o.zeroGrad('x' as Any), cls: TypeError, message: /^AdamW\.zeroGrad: expected an options object, received "x"$/ },
  { title: 'zeroGrad(null)', call: (o) => o.zeroGrad(null as Any), cls: TypeError, message: /^AdamW\.zeroGrad: expected an options object, received null$/ },
  { title: 'zeroGrad({ setToNone: 1 })', call: (o) => o.zeroGrad({ setToNone: 1 } as Any), cls: TypeError, message: /^AdamW\.zeroGrad: expected setToNone to be a boolean, received 1$/ },
  { title: "zeroGrad({ setToNone: 'true' })", call: (o) => o.zeroGrad({ setToNone: 'true' } as Any), cls: TypeError, message: /setToNone to be a boolean, received "true"/ },
  { title: 'zeroGrad({ set_to_none: true })', call: (o) => o.zeroGrad({ set_to_none: true } as Any), cls: TypeError, message: /^AdamW\.zeroGrad: unknown option "set_to_none"/ },
  { title: 'loadStateDict(sd, { strict: 0 })', call: (o) => o.loadStateDict(saved(o, (sd) => sd.paramGroups.pop()), { strict: 0 } as Any), cls: TypeError, message: /^AdamW\.loadStateDict: expected strict to be a boolean, received 0$/ },
  { title: 'loadStateDict(sd, null)', call: (o) => o.loadStateDict(o.stateDict(), null as Any), cls: TypeError, message: /^AdamW\.loadStateDict: expected an options object, received null$/ },
  { title: "loadStateDict(sd, { Strict: false })", call: (o) => o.loadStateDict(o.stateDict(), { Strict: false } as Any), cls: TypeError, message: /unknown option "Strict"/ },
  { title: 'a saved initialLr of NaN', call: (o) => o.loadStateDict(saved(o, (sd) => (sd.paramGroups[1].initialLr = NaN))), cls: RangeError, message: /^AdamW\.loadStateDict: expected initialLr of param group 1 to be a finite number >= 0, received NaN$/ },
  { title: 'a saved initialLr of -1', call: (o) => o.loadStateDict(saved(o, (sd) => (sd.paramGroups[0].initialLr = -1)), { strict: false }), cls: RangeError, message: /initialLr of param group 0 .*received -1$/ },
  { title: 'addParamGroup with initialLr Infinity', call: (o) => o.addParamGroup({ params: makeParams(['x']), initialLr: Infinity } as Any), cls: RangeError, message: /^AdamW: expected initialLr \(param group 2\) to be a finite number >= 0, received Infinity$/ },
  { title: 'a saved state value of 1e300', call: (o) => o.loadStateDict(saved(o, (sd) => (sd.state.head.expAvg[16] = 1e300))), cls: RangeError, message: /^AdamW\.loadStateDict: expected state\["head"\]\.expAvg\[16\] to be a float32 value .*received 1e\+300$/ },
  { title: 'a saved state value of -3.5e38', call: (o) => o.loadStateDict(saved(o, (sd) => (sd.state.w.expAvgSq[0] = -3.5e38)), { strict: false }), cls: RangeError, message: /state\["w"\]\.expAvgSq\[0\] to be a float32 value .*received -3\.5e\+38$/ },
  { title: 'a saved state value "constructor"', call: (o) => o.loadStateDict(saved(o, (sd) => (sd.state.w.expAvg[1] = 'constructor'))), cls: TypeError, message: /state\["w"\]\.expAvg\[1\] to be a number .*received "constructor"$/ },
  { title: 'a saved step of 2^53', call: (o) => o.loadStateDict(saved(o, (sd) => (sd.state.b.step = 2 ** 53))), cls: RangeError, message: /state\["b"\]\.step to be an integer >= 0 and <= 9007199254740991, received 9007199254740992$/ },
  { title: 'a state dict whose state is an array', call: (o) => o.loadStateDict(saved(o, (sd) => (sd.state = []))), cls: TypeError, message: /expected an object with state and paramGroups/ },
  { title: "step('x')", call: (o) => o.step('x' as Any), cls: TypeError, message: /^AdamW: expected closure to be a function or undefined, received "x"$/ },
  { title: 'observeSteps(null)', call: (o) => o.observeSteps(null as Any), cls: TypeError, message: /^AdamW\.observeSteps: expected an observer .*received null$/ },
  { title: 'a param group whose params became null, at step()', call: (o) => broken(o, 1, (g) => (g.params = null), () => o.step()), cls: TypeError, message: /^AdamW\.step: expected param group 1 to be an object with a params array, received an object$/ },
  { title: 'a param group that became undefined, at zeroGrad()', call: (o) => broken(o, 0, (_, gs) => (gs[0] = undefined), () => o.zeroGrad()), cls: TypeError, message: /^AdamW\.zeroGrad: expected param group 0 to be an object with a params array, received undefined$/ },
  { title: "clipGradNorm(params, 1, { normtype: 1 })", call: (_, p) => clipGradNorm(p, 1, { normtype: 1 } as Any), cls: TypeError, message: /^clipGradNorm: unknown option "normtype"/ },
  { title: "clipGradNorm(params, 1, 'x')", call: (_, p) => clipGradNorm(p, 1, 'x' as Any), cls: TypeError, message: /^clipGradNorm: expected an options object, received "x"$/ },
  { title: 'getTotalNorm(params, { errorIfNonfinite: true })', call: (_, p) => getTotalNorm(p, { errorIfNonfinite: true } as Any), cls: TypeError, message: /^getTotalNorm: unknown option "errorIfNonfinite"/ },
  { title: 'GradNormMonitor.record(null)', call: () => new GradNormMonitor().record(null as Any), cls: TypeError, message: /^GradNormMonitor\.record: expected params to be a Parameter or an iterable of Parameters, received null$/ },
  { title: 'GradNormMonitor.record(5)', call: () => new GradNormMonitor().record(5 as Any), cls: TypeError, message: /received 5$/ },
];
for (const c of cases) test(rejects, c);

// null is a wrong value, not "absent": only undefined takes an option's default.
const nullCases: Array<[string, () => unknown, RegExp]> = [
  ['new SGD(params, { skipNonFinite: null })', () => new SGD(makeParams(), { skipNonFinite: null } as Any), /^SGD: expected skipNonFinite to be a boolean, received null$/],
  ['new Lookahead(opt, { k: null })', () => new Lookahead(new SGD(makeParams()), { k: null } as Any), /^Lookahead: expected k to be an integer >= 1, received null$/],
  ['new Lookahead(opt, { alpha: null })', () => new Lookahead(new SGD(makeParams()), { alpha: null } as Any), /^Lookahead: expected alpha to be a finite number >= 0, received null$/],
  ['clipGradNorm(params, 1, { normType: null })', () => clipGradNorm(makeParams(), 1, { normType: null } as Any), /^clipGradNorm: expected normType to be a finite number > 0, received null$/],
  ['clipGradNorm(params, 1, { errorIfNonfinite: null })', () => clipGradNorm(makeParams(), 1, { errorIfNonfinite: null } as Any), /^clipGradNorm: expected errorIfNonfinite to be a boolean, received null$/],
  ['getTotalNorm(params, { normType: null })', () => getTotalNorm(makeParams(), { normType: null } as Any), /^getTotalNorm: expected normType to be a finite number > 0, received null$/],
  ['new Parameter(data, [])', () => new Parameter(new Float32Array(2), [] as Any), /^Parameter: expected an options object, received \[\]$/],
  ["new Parameter(data, { nmae: 'w' })", () => new Parameter(new Float32Array(2), { nmae: 'w' } as Any), /^Parameter: unknown option "nmae"/],
];
for (const [title, call, message] of nullCases) {
  test(`${title} throws a TypeError naming it`, (t) => {
    assertThrows(t, call, TypeError, message);
  });
}

test('zeroGrad() with the last gradient detached throws a RangeError naming it and zeroes none of the others', (t) => {
  const params = makeParams();
  const opt = new SGD(params, { lr: 0.1 });
  const before = snapshot(params.slice(0, 2), opt);
  structuredClone(params[2]!.grad!.buffer, { transfer: [params[2]!.grad!.buffer as ArrayBuffer] });
  assertThrows(
    t,
    () => opt.zeroGrad(),
    RangeError,
    /^SGD\.zeroGrad: expected grad of parameter 2 \("head"\) to have length 17, received 0 \(its buffer was detached or transferred\)$/,
  );
  t.is(snapshot(params.slice(0, 2), opt), before);
  // With setToNone the detached gradient is simply dropped.
  opt.zeroGrad({ setToNone: true });
  t.true(params.every((p) => p.grad === null));
});

test('a state value just above the largest float32 that rounds to it is accepted', (t) => {
  const { opt, params } = warmed();
  const sd = saved(opt, (s) => (s.state.w.expAvg[0] = 3.4028235e38));
  opt.loadStateDict(sd);
  t.is((opt.stateDict().state.w!.expAvg as number[])[0], 3.4028234663852886e38);
  t.is(params.length, 3);
});

test('NAdam.loadStateDict of a muProduct of 1e300 throws a RangeError naming it', (t) => {
  const params = makeParams();
  const opt = new NAdam(params);
  opt.step();
  const before = snapshot(params, opt);
  const sd = JSON.parse(JSON.stringify(opt.stateDict()));
  sd.state.head.muProduct = 1e300;
  assertThrows(t, () => opt.loadStateDict(sd), RangeError, /state\["head"\]\.muProduct to be a float32 value .*received 1e\+300$/);
  t.is(snapshot(params, opt), before);
});

// ---------------------------------------------------------------------------------------------
// Lookahead

const lookaheadCases: Array<[string, (la: Lookahead<Any>) => unknown, ErrorClass, RegExp]> = [
  ["loadStateDict(sd, { strict: 'no' })", (la) => la.loadStateDict(la.stateDict(), { strict: 'no' } as Any), TypeError, /^Lookahead\.loadStateDict: expected strict to be a boolean, received "no"$/],
  ['loadStateDict(sd, null)', (la) => la.loadStateDict(la.stateDict(), null as Any), TypeError, /^Lookahead\.loadStateDict: expected an options object, received null$/],
  ['loadStateDict of a counter equal to k', (la) => la.loadStateDict({ ...la.stateDict(), counter: 5 }), RangeError, /^Lookahead\.loadStateDict: expected counter to be an integer >= 0 and < 5, received 5$/],
  ['loadStateDict of a slow weight of 1e300', (la) => {
    const sd = JSON.parse(JSON.stringify(la.stateDict()));
    sd.slowState.w.slowParam[2] = 1e300;
    la.loadStateDict(sd);
  }, RangeError, /slowState\["w"\]\.slowParam\[2\] to be a float32 value .*received 1e\+300$/],
  ['loadStateDict of a null slowState entry', (la) => la.loadStateDict({ ...la.stateDict(), slowState: { w: null } } as Any), TypeError, /slowState\["w"\] to be an object \{ slowParam \}, received null$/],
  ["zeroGrad({ setToNone: 'yes' })", (la) => la.zeroGrad({ setToNone: 'yes' } as Any), TypeError, /setToNone to be a boolean, received "yes"/],
];
for (const [title, call, cls, message] of lookaheadCases) {
  test(`Lookahead ${title} throws a ${cls.name} naming it and changes nothing`, (t) => {
    const params = makeParams();
    const la = new Lookahead(new Adam(params, { lr: 0.01 }), { k: 5 });
    for (let s = 0; s < 2; s++) {
      setGrads(params, 30 + s);
      la.step();
    }
    const before = snapshot(params, la);
    const counter = la.counter;
    assertThrows(t, () => call(la), cls, message);
    t.is(snapshot(params, la), before);
    t.is(la.counter, counter);
  });
}

// ---------------------------------------------------------------------------------------------
// No generic V8 error escapes: every argument and option, every kind of wrong value.

const WRONG: Array<[string, unknown]> = [
  ['undefined', undefined], ['null', null], ['0', 0], ['-1', -1], ['NaN', NaN], ['"x"', 'x'], ['{}', {}], ['[]', []],
  ['[null]', [null]], ['a function', () => 1], ['true', true], ['1n', 1n], ['a symbol', Symbol('s')],
  ['a null-prototype object', Object.create(null)], ['{ params: null }', { params: null }], ['a Float32Array', new Float32Array(2)],
];

const fresh = () => {
  const params = makeParams();
  return { params, opt: new AdamW(params) };
};

const PROBES: Array<[string, (v: Any) => unknown]> = [
  ['new AdamW(v)', (v) => new AdamW(v)],
  ['new AdamW(params, v)', (v) => new AdamW(makeParams(), v)],
  ['new AdamW(params, { lr: v })', (v) => new AdamW(makeParams(), { lr: v })],
  ['new AdamW(params, { betas: v })', (v) => new AdamW(makeParams(), { betas: v })],
  ['new AdamW(params, { amsgrad: v })', (v) => new AdamW(makeParams(), { amsgrad: v })],
  ['new AdamW(params, { skipNonFinite: v })', (v) => new AdamW(makeParams(), { skipNonFinite: v })],
  ['new SGD(params, { nesterov: v })', (v) => new SGD(makeParams(), { momentum: 0.9, nesterov: v })],
  ['addParamGroup(v)', (v) => fresh().opt.addParamGroup(v)],
  ['addParamGroup({ params, initialLr: v })', (v) => fresh().opt.addParamGroup({ params: makeParams(['z']), initialLr: v } as Any)],
  ['step(v)', (v) => fresh().opt.step(v)],
  ['zeroGrad(v)', (v) => fresh().opt.zeroGrad(v)],
  ['zeroGrad({ setToNone: v })', (v) => fresh().opt.zeroGrad({ setToNone: v })],
  ['loadStateDict(v)', (v) => fresh().opt.loadStateDict(v)],
  ['loadStateDict(sd, v)', (v) => { const { opt } = fresh(); opt.loadStateDict(saved(opt, (sd) => sd.paramGroups.pop()), v); }],
  ['loadStateDict({ state: v })', (v) => { const { opt } = fresh(); opt.loadStateDict({ ...opt.stateDict(), state: v }); }],
  ['loadStateDict({ paramGroups: [v] })', (v) => { const { opt } = fresh(); opt.loadStateDict({ ...opt.stateDict(), paramGroups: [v] }); }],
  ['loadStateDict(state.w = v)', (v) => { const { opt } = fresh(); opt.step(); opt.loadStateDict(saved(opt, (sd) => (sd.state.w = v))); }],
  ['loadStateDict(state.w.expAvg = v)', (v) => { const { opt } = fresh(); opt.step(); opt.loadStateDict(saved(opt, (sd) => (sd.state.w.expAvg = v))); }],
  ['loadStateDict(state.w.step = v)', (v) => { const { opt } = fresh(); opt.step(); opt.loadStateDict(saved(opt, (sd) => (sd.state.w.step = v))); }],
  ['observeSteps(v)', (v) => fresh().opt.observeSteps(v)],
  ['paramGroups[0] = v, then step()', (v) => { const { opt } = fresh(); (opt.paramGroups as Any)[0] = v; opt.step(); }],
  ['paramGroups[0].params = v, then zeroGrad()', (v) => { const { opt } = fresh(); (opt.paramGroups[0] as Any).params = v; opt.zeroGrad(); }],
  ['paramGroups[0].params = v, then stateDict()', (v) => { const { opt } = fresh(); (opt.paramGroups[0] as Any).params = v; opt.stateDict(); }],
  ['paramGroups[0].lr = v, then step()', (v) => { const { opt } = fresh(); (opt.paramGroups[0] as Any).lr = v; opt.step(); }],
  ['skipNonFinite = v, then step()', (v) => { const { opt } = fresh(); (opt as Any).skipNonFinite = v; opt.step(); }],
  ['new Lookahead(v)', (v) => new Lookahead(v)],
  ['new Lookahead(opt, v)', (v) => new Lookahead(fresh().opt, v)],
  ['new Lookahead(opt, { k: v })', (v) => new Lookahead(fresh().opt, { k: v })],
  ['Lookahead alpha = v, then step()', (v) => { const la = new Lookahead(fresh().opt); la.alpha = v; la.step(); }],
  ['Lookahead.loadStateDict(v)', (v) => new Lookahead(fresh().opt).loadStateDict(v)],
  ['Lookahead.loadStateDict(sd, v)', (v) => { const la = new Lookahead(fresh().opt); la.loadStateDict({ ...la.stateDict(), counter: 9 }, v); }],
  ['Lookahead.loadStateDict({ counter: v })', (v) => { const la = new Lookahead(fresh().opt); la.loadStateDict({ ...la.stateDict(), counter: v }); }],
  ['Lookahead.loadStateDict({ fastState: v })', (v) => { const la = new Lookahead(fresh().opt); la.loadStateDict({ ...la.stateDict(), fastState: v }); }],
  ['Lookahead.loadStateDict(slowState.w = v)', (v) => { const la = new Lookahead(fresh().opt); la.step(); const sd = la.stateDict(); (sd.slowState as Any).w = v; la.loadStateDict(sd); }],
  ['new GradNormMonitor(v)', (v) => new GradNormMonitor(v)],
  ['new GradNormMonitor(opt, v)', (v) => new GradNormMonitor(fresh().opt, v)],
  ['new GradNormMonitor(opt, { historySize: v })', (v) => new GradNormMonitor(fresh().opt, { historySize: v })],
  ['new GradNormMonitor(opt, { onEvent: v })', (v) => new GradNormMonitor(fresh().opt, { onEvent: v })],
  ['GradNormMonitor.record(v)', (v) => new GradNormMonitor().record(v)],
  ['clipGradNorm(v, 1)', (v) => clipGradNorm(v, 1)],
  ['clipGradNorm(params, v)', (v) => clipGradNorm(makeParams(), v)],
  ['clipGradNorm(params, 1, v)', (v) => clipGradNorm(makeParams(), 1, v)],
  ['clipGradNorm(params, 1, { normType: v })', (v) => clipGradNorm(makeParams(), 1, { normType: v })],
  ['clipGradNorm(params, 1, { errorIfNonfinite: v })', (v) => clipGradNorm(makeParams(), 1, { errorIfNonfinite: v })],
  ['clipGradValue(params, v)', (v) => clipGradValue(makeParams(), v)],
  ['getTotalNorm(v)', (v) => getTotalNorm(v)],
  ['getTotalNorm(params, v)', (v) => getTotalNorm(makeParams(), v)],
  ['setNumThreads(v)', (v) => setNumThreads(v)],
];

test('no wrong value of any argument or option of the optimizer, Lookahead, monitor and clipping APIs escapes as a generic V8 error', (t) => {
  const escaped: string[] = [];
  for (const [call, f] of PROBES) {
    for (const [what, v] of WRONG) {
      try {
        f(v);
      } catch (e) {
        const m = e instanceof Error ? e.message : String(e);
        const named = /expected|unknown option|requires|is 0 \(the group|do not match|which is not a parameter/.test(m);
        const generic = /Cannot read|is not a function|is not iterable|Cannot convert|is not a constructor|Invalid/.test(m);
        if (!(e instanceof TypeError || e instanceof RangeError) || !named || generic) escaped.push(`${call} with v = ${what}: ${(e as Error)?.constructor?.name}: ${m}`);
      }
    }
  }
  t.deepEqual(escaped, []);
});

// ---------------------------------------------------------------------------------------------
// Data keys

test('GradNormMonitor records a parameter named "__proto__" and writes CSV cells only for the parameters each record has', (t) => {
  const params = makeParams(['__proto__', 'toString', 'constructor'], [2, 3, 4]);
  const opt = new SGD(params, { lr: 0.1 });
  const monitor = new GradNormMonitor(opt);
  opt.step();
  params[1]!.grad = null;
  opt.step();
  const [first, second] = monitor.history();
  t.deepEqual(Object.keys(first!.params), ['__proto__', 'toString', 'constructor']);
  t.true(Object.hasOwn(first!.params, '__proto__') && typeof first!.params['__proto__'] === 'number');
  t.false(Object.hasOwn(second!.params, 'toString'));
  const rows = monitor.toCSV().trim().split('\n');
  t.is(rows[0], 'step,norm,ema,applied,__proto__,toString,constructor');
  t.is(rows[2]!.split(',')[5], '', 'a parameter without a gradient has an empty cell, not Object.prototype.toString');
  t.true(monitor.toJSONL().includes('"__proto__":'));
});

// ---------------------------------------------------------------------------------------------
// FERROPTIM_* environment variables

const nativeUrl = new URL('../ts/optim/sgd.ts', import.meta.url).href;
const repo = fileURLToPath(new URL('..', import.meta.url));

/** Loads ferroptim in a child with `env` and returns its stderr. */
function loadWith(env: Record<string, string>, code = ''): string {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('FERROPTIM_')) delete base[k];
  const r = spawnSync(process.execPath, ['--import', '@oxc-node/core/register', '--input-type=module', '-e', `await import(${JSON.stringify(nativeUrl)}); ${code}`], {
    cwd: repo,
    env: { ...base, ...env },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return r.stderr;
}

const envWarns = test.macro({
  exec(t, name: string, value: string, message: RegExp) {
    const stderr = loadWith({ [name]: value }, `await import(${JSON.stringify(nativeUrl.replace('sgd.ts', 'adam.ts'))});`);
    t.regex(stderr, /FerroptimWarning/);
    t.regex(stderr, message);
    t.is(stderr.split('FerroptimWarning').length - 1, 1, `warned once: ${stderr}`);
  },
  title: (_, name: string, value: string) => `${name}=${JSON.stringify(value)} is ignored with one FERROPTIM_INVALID_ENV warning naming it`,
});
test(envWarns, 'FERROPTIM_NUM_THREADS', 'abc', /FERROPTIM_NUM_THREADS="abc" is ignored: expected an integer in \[1, \d+\]; using \d+ threads/);
test(envWarns, 'FERROPTIM_NUM_THREADS', '0', /FERROPTIM_NUM_THREADS="0" is ignored/);
test(envWarns, 'FERROPTIM_NUM_THREADS', '100000', /FERROPTIM_NUM_THREADS="100000" is ignored/);
test(envWarns, 'FERROPTIM_SIMD', 'avx3', /FERROPTIM_SIMD="avx3" is ignored: expected avx512, avx2 or baseline/);
test(envWarns, 'FERROPTIM_PAR_MIN', '-5', /FERROPTIM_PAR_MIN="-5" is ignored: expected an integer >= 0; using 131072/);

test('valid or empty FERROPTIM_* values load without a warning, and the warning has the code FERROPTIM_INVALID_ENV', (t) => {
  t.notRegex(loadWith({ FERROPTIM_NUM_THREADS: '1', FERROPTIM_SIMD: 'baseline', FERROPTIM_PAR_MIN: ' 4096 ' }), /Warning/);
  t.notRegex(loadWith({ FERROPTIM_NUM_THREADS: '', FERROPTIM_SIMD: ' ' }), /Warning/);
  const seen = spawnSync(
    process.execPath,
    ['--import', '@oxc-node/core/register', '--input-type=module', '-e', `process.on('warning', (w) => console.log(w.name, w.code)); await import(${JSON.stringify(nativeUrl)});`],
    { cwd: repo, env: { ...process.env, FERROPTIM_SIMD: 'fast' }, encoding: 'utf8' },
  );
  t.regex(seen.stdout, /FerroptimWarning FERROPTIM_INVALID_ENV/);
});
