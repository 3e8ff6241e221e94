/**
 * Every bad input gets a TypeError or RangeError naming the argument and the received value,
 * thrown before anything changes: parameters, gradients, optimizer state and param groups are
 * compared byte for byte before and after, and the optimizer must still work afterwards. The base
 * class's checks, on SGD, Adam and AdamW as examples: options objects, parameter lists,
 * addParamGroup, live param groups, gradients and data, overlapping buffers, closures, Parameter
 * and setNumThreads. The value of every option of every registered optimizer is checked by the
 * conformance suite (`conformance.spec.ts`), and SGD's Nesterov rule by `optimizers/sgd.spec.ts`.
 */
import test, { type ExecutionContext } from 'ava';
import { Adam, AdamW, Optimizer, Parameter, SGD, getNumThreads, setNumThreads } from '../ts/index.js';
import { hex, snapshot, stateBytes, type Snapshot } from './helpers/compare.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyOptimizer = Optimizer<any>;
type ErrorClass = typeof TypeError | typeof RangeError;
type Kind = 'SGD' | 'Adam' | 'AdamW';

// ---------------------------------------------------------------------------------------------
// Helpers

/** A deterministic float32 in [-1, 1]. */
function value(seed: number, tensor: number, i: number): number {
  let x = (Math.imul(seed, 0x9e3779b1) + Math.imul(tensor, 0xc2b2ae3d) + i) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return Math.fround(((x % 2001) - 1000) / 1000);
}

function values(seed: number, tensor: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => value(seed, tensor, i));
}

function makeParams(lengths: readonly number[], prefix = 'p'): Parameter[] {
  return lengths.map((n, t) => new Parameter(values(1, t, n), { name: `${prefix}${t}` }));
}

/** Writes fresh, non-zero gradients into every parameter's existing grad array. */
function setGrads(params: readonly Parameter[], seed: number): void {
  params.forEach((p, t) => p.grad?.set(values(seed, t, p.numel)));
}

const OPTIONS: Record<Kind, Record<string, unknown>> = {
  SGD: { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
  Adam: { lr: 0.01, amsgrad: true, weightDecay: 0.01 },
  AdamW: { lr: 0.01, weightDecay: 0.1 },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function construct(kind: Kind, params: any, options?: any): AnyOptimizer {
  if (kind === 'SGD') return new SGD(params, options);
  if (kind === 'Adam') return new Adam(params, options);
  return new AdamW(params, options);
}

/** An optimizer with two param groups (3 + 2 parameters), warmed up by two steps. */
function warmed(kind: Kind): { opt: AnyOptimizer; params: Parameter[] } {
  const params = makeParams([3, 17, 5, 9, 1]);
  const opt = construct(kind, [{ params: params.slice(0, 3) }, { params: params.slice(3), lr: 0.05 }], OPTIONS[kind]);
  for (let s = 0; s < 2; s++) {
    setGrads(params, 10 + s);
    opt.step();
  }
  setGrads(params, 20);
  return { opt, params };
}

function assertUnchanged(t: ExecutionContext, before: Snapshot, params: readonly Parameter[], opt?: AnyOptimizer, skipData: number[] = []): void {
  const after = snapshot(params, opt);
  for (const i of skipData) {
    after.data[i] = before.data[i] ?? null;
    after.grads[i] = before.grads[i] ?? null;
  }
  t.deepEqual(after.data, before.data, 'parameter data changed');
  t.deepEqual(after.grads, before.grads, 'gradients changed');
  params.forEach((p, i) => t.is(p.grad, before.gradObjects[i] ?? null, `grad object ${i} was replaced`));
  if (opt) {
    t.deepEqual(after.state, before.state, 'optimizer state changed');
    t.is(after.groups, before.groups, 'param groups changed');
  }
}

/** Steps once with fresh gradients; every parameter must move and its step counter advance. */
function assertWorks(t: ExecutionContext, opt: AnyOptimizer, params: readonly Parameter[]): void {
  const stepsBefore = Object.fromEntries(Object.entries(opt.stateDict().state).map(([k, e]) => [k, e.step]));
  params.forEach((p, t2) => (p.grad = values(99, t2, p.numel)));
  const before = params.map((p) => hex(p.data));
  opt.step();
  params.forEach((p, i) => t.not(hex(p.data), before[i], `parameter ${i} did not move after the error`));
  const state = opt.stateDict().state;
  for (const [k, step] of Object.entries(stepsBefore)) t.is(state[k]!.step, step + 1, `step counter of ${k}`);
}

function assertThrows(t: ExecutionContext, fn: () => unknown, cls: ErrorClass, message: RegExp): void {
  const err = t.throws(fn, { instanceOf: cls, message });
  if (err) t.is(err.constructor, cls, `expected exactly ${cls.name}, got ${err.constructor.name}: ${err.message}`);
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v == null) return String(v);
  if (Array.isArray(v)) return v.length <= 8 ? `[${v.map(show).join(', ')}]` : `an array of length ${v.length}`;
  if (v instanceof Float32Array || v instanceof Float64Array) return `a ${v.constructor.name}`;
  if (v instanceof Parameter) return 'a Parameter';
  return `{ ${Object.entries(v as object).map(([k, x]) => `${k}: ${show(x)}`).join(', ')} }`;
}

// ---------------------------------------------------------------------------------------------
// Constructor options

const badOptions = test.macro({
  exec(t, kind: Kind, options: unknown, cls: ErrorClass, message: RegExp) {
    const params = makeParams([4, 9]);
    setGrads(params, 3);
    const before = snapshot(params);
    assertThrows(t, () => construct(kind, params, options), cls, message);
    assertUnchanged(t, before, params);
    // The same parameters can still be optimized.
    assertWorks(t, construct(kind, params, OPTIONS[kind]), params);
  },
  title: (_, kind: Kind, options: unknown, cls: ErrorClass) => `new ${kind} with options ${show(options)} throws a ${cls.name} before anything changes`,
});

// The value of each option, in the options and in param groups, is checked for every registered
// optimizer by the conformance suite; here the options argument itself.
const optionCases: Array<[Kind, unknown, ErrorClass, RegExp]> = [
  ['Adam', null, TypeError, /options object, received null/],
  ['SGD', 0.1, TypeError, /options object, received 0\.1/],
  ['AdamW', [0.01], TypeError, /options object, received \[0\.01\]/],
];
for (const [kind, options, cls, message] of optionCases) test(badOptions, kind, options, cls, message);

// ---------------------------------------------------------------------------------------------
// Parameter lists

type ParamsCase = [title: string, build: (ps: Parameter[]) => unknown, cls: ErrorClass, message: RegExp];

const badParams = test.macro({
  exec(t, kind: Kind, build: (ps: Parameter[]) => unknown, cls: ErrorClass, message: RegExp) {
    const params = makeParams([4, 9, 3]);
    setGrads(params, 3);
    const before = snapshot(params);
    assertThrows(t, () => construct(kind, build(params), OPTIONS[kind]), cls, message);
    assertUnchanged(t, before, params);
    assertWorks(t, construct(kind, params, OPTIONS[kind]), params);
  },
  title: (title, kind: Kind, _b, cls: ErrorClass) => `new ${kind} given ${title} throws a ${cls.name}`,
});

const paramsCases: ParamsCase[] = [
  ['an empty parameter list', () => [], RangeError, /non-empty parameter list, received an empty one/],
  ['a param group with an empty params list', () => [{ params: [] }], RangeError, /param group 0\.params to be non-empty/],
  ['a single Parameter instead of a list', (ps) => ps[0], TypeError, /expected params to be an array.*received a Parameter/],
  ['null instead of a list', () => null, TypeError, /expected params to be an array.*received null/],
  ['a string instead of a list', () => 'params', TypeError, /expected params.*received "params"/],
  ['a param group whose params hold a number', (ps) => [{ params: [ps[0], 5] }], TypeError, /param group 0\.params\[1\] to be a Parameter, received 5/],
  ['a param group whose params hold a Float32Array', (ps) => [{ params: [ps[0], new Float32Array(3)] }], TypeError, /params\[1\] to be a Parameter, received a Float32Array of length 3/],
  ['the same parameter twice in one list', (ps) => [ps[0], ps[1], ps[0]], RangeError, /params\[2\] \(p0\).*appear once/],
  ['the same parameter twice in one group', (ps) => [{ params: [ps[1], ps[1]] }], RangeError, /param group 0\.params\[1\] \(p1\).*appear once/],
  ['the same parameter in two groups', (ps) => [{ params: [ps[0], ps[1]] }, { params: [ps[2], ps[1]] }], RangeError, /param group 1\.params\[1\] \(p1\).*appear once/],
];
for (const [title, build, cls, message] of paramsCases) {
  for (const kind of ['SGD', 'AdamW'] as const) test(title, badParams, kind, build, cls, message);
}

// BUG: a list mixing Parameters with something else is taken for a list of param groups, so the
// error reads `param group 0: unknown option "name"` instead of naming params[1] and its value.
const mixedCases: ParamsCase[] = [
  ['a list holding a Parameter and a Float32Array', (ps) => [ps[0], new Float32Array(3)], TypeError, /params\[1\] to be a Parameter, received a Float32Array of length 3/],
  ['a list holding a Parameter and a number', (ps) => [ps[0], ps[1], 7], TypeError, /params\[2\] to be a Parameter, received 7/],
  ['a list holding only a Float32Array', () => [new Float32Array(3)], TypeError, /params\[0\] to be a Parameter, received a Float32Array of length 3/],
];
for (const [title, build, cls, message] of mixedCases) test(title, badParams, 'Adam', build, cls, message);

// ---------------------------------------------------------------------------------------------
// addParamGroup

const badAddGroup = test.macro({
  exec(t, kind: Kind, build: (ps: Parameter[], fresh: Parameter) => unknown, cls: ErrorClass, message: RegExp) {
    const { opt, params } = warmed(kind);
    const fresh = new Parameter(values(5, 0, 6), { name: 'fresh' });
    const all = [...params, fresh];
    const before = snapshot(all, opt);
    const groups = opt.paramGroups.length;
    assertThrows(t, () => opt.addParamGroup(build(params, fresh) as never), cls, message);
    t.is(opt.paramGroups.length, groups);
    assertUnchanged(t, before, all, opt);
    // The failed call registered nothing: the fresh parameter can still be added, once.
    opt.addParamGroup({ params: [fresh] });
    assertWorks(t, opt, all);
  },
  title: (title, kind: Kind, _b, cls: ErrorClass) => `${kind}.addParamGroup with ${title} throws a ${cls.name} and changes nothing`,
});

const addGroupCases: Array<[string, (ps: Parameter[], fresh: Parameter) => unknown, ErrorClass, RegExp]> = [
  ['a parameter already in the first group', (ps, fresh) => ({ params: [fresh, ps[1]] }), RangeError, /param group 2\.params\[1\] \(p1\).*appear once/],
  ['a parameter already in the second group', (ps) => ({ params: [ps[4]] }), RangeError, /param group 2\.params\[0\] \(p4\).*appear once/],
  ['a new parameter listed twice', (_, fresh) => ({ params: [fresh, fresh] }), RangeError, /params\[1\] \(fresh\).*appear once/],
  ['an empty params list', () => ({ params: [] }), RangeError, /params to be non-empty/],
  ['no params key', () => ({ lr: 0.1 }), TypeError, /params to be an array of Parameters, received undefined/],
  ['a non-Parameter', (_, fresh) => ({ params: [fresh, { data: new Float32Array(2) }] }), TypeError, /params\[1\] to be a Parameter, received an object/],
  ['a bare Parameter instead of a group', (_, fresh) => fresh, TypeError, /unknown option|params/],
];
for (const [title, build, cls, message] of addGroupCases) {
  for (const kind of ['SGD', 'Adam'] as const) test(title, badAddGroup, kind, build, cls, message);
}

// ---------------------------------------------------------------------------------------------
// Param groups changed live between steps (each option's values: the conformance suite)

test('Adam with paramGroups[0].betas mutated in place to [1, 0.9] throws a RangeError at step() and changes nothing', (t) => {
  const { opt, params } = warmed('Adam');
  const betas = opt.paramGroups[0]!.betas as unknown as number[];
  betas[0] = 1;
  const before = snapshot(params, opt);
  assertThrows(t, () => opt.step(), RangeError, /betas \(param group 0\)\[0\].*received 1$/);
  assertUnchanged(t, before, params, opt);
  betas[0] = 0.9;
  assertWorks(t, opt, params);
});

// BUG: a Parameter pushed into paramGroups[i].params without addParamGroup has no id; step() then
// uses id 0 (Uint32Array of undefined), so it silently shares the first parameter's state (or
// fails with "expected 2 buffers ... received 4").
test('SGD with an unregistered Parameter pushed into paramGroups[0].params throws at step() and changes nothing', (t) => {
  const { opt, params } = warmed('SGD');
  const stray = new Parameter(values(4, 0, 3), { name: 'stray' });
  stray.grad!.fill(0.5);
  params[0]!.grad = null; // so the stray parameter is not caught by "appears twice"
  opt.paramGroups[0]!.params.push(stray);
  const all = [...params, stray];
  const before = snapshot(all, opt);
  t.throws(() => opt.step(), { instanceOf: RangeError, message: /stray.*addParamGroup|not.*(registered|optimized)/ });
  assertUnchanged(t, before, all, opt);
});

test('Adam with a number pushed into paramGroups[1].params throws a TypeError naming it at step()', (t) => {
  const { opt, params } = warmed('Adam');
  (opt.paramGroups[1]!.params as unknown[]).push(42);
  const before = snapshot(params, opt);
  assertThrows(t, () => opt.step(), TypeError, /param group 1\.params\[2\].*Parameter.*received 42/);
  assertUnchanged(t, before, params, opt);
});

// ---------------------------------------------------------------------------------------------
// Gradients and data of the wrong type or length, detached buffers

const badSetter = test.macro({
  exec(t, field: 'grad' | 'data', bad: unknown, cls: ErrorClass, message: RegExp) {
    const { opt, params } = warmed('AdamW');
    const before = snapshot(params, opt);
    const dataObject = params[1]!.data;
    assertThrows(t, () => ((params[1] as unknown as Record<string, unknown>)[field] = bad), cls, message);
    t.is(params[1]!.data, dataObject);
    assertUnchanged(t, before, params, opt);
    assertWorks(t, opt, params);
  },
  title: (_, field: string, bad: unknown, cls: ErrorClass) => `setting a Parameter's ${field} to ${show(bad)}${bad instanceof Float32Array || bad instanceof Float64Array ? ` of length ${bad.length}` : ''} throws a ${cls.name}`,
});

const setterCases: Array<['grad' | 'data', unknown, ErrorClass, RegExp]> = [
  ['grad', new Float32Array(16), RangeError, /"p1": expected grad to have length 17, received 16/],
  ['grad', new Float32Array(18), RangeError, /grad to have length 17, received 18/],
  ['grad', new Float32Array(0), RangeError, /grad to have length 17, received 0/],
  ['grad', new Float64Array(17), TypeError, /grad to be a Float32Array or null, received a Float64Array of length 17/],
  ['grad', Array.from({ length: 17 }, () => 0), TypeError, /grad to be a Float32Array or null, received an array of length 17/],
  ['grad', undefined, TypeError, /grad to be a Float32Array or null, received undefined/],
  ['data', new Float32Array(3), RangeError, /data to have length 17, received 3/],
  ['data', null, TypeError, /data to be a Float32Array, received null/],
];
for (const c of setterCases) test(badSetter, ...c);

function detach(a: Float32Array): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}

const detached = test.macro({
  exec(t, kind: Kind, field: 'data' | 'grad', index: number) {
    const { opt, params } = warmed(kind);
    const target = params[index]!;
    const keep = new Float32Array(target[field]!);
    const before = snapshot(params, opt);
    detach(target[field]!);
    t.is(target[field]!.length, 0, 'the buffer is detached');
    const name = `parameter ${index} \\("p${index}"\\)`;
    assertThrows(t, () => opt.step(), RangeError, new RegExp(`${field} of ${name} to have length ${target.numel}, received 0.*detached`));
    // Parameters listed before the detached one were not updated either.
    assertUnchanged(t, before, params, opt, [index]);
    target[field] = keep;
    assertWorks(t, opt, params);
  },
  title: (_, kind: Kind, field: string, index: number) =>
    `${kind} whose parameter ${index} has its ${field} buffer detached after a step throws a RangeError mentioning length 0 and detached`,
});

test(detached, 'SGD', 'data', 2);
test(detached, 'SGD', 'grad', 4);
test(detached, 'Adam', 'data', 0);
test(detached, 'Adam', 'grad', 3);
test(detached, 'AdamW', 'data', 4);
test(detached, 'AdamW', 'grad', 1);

test('an optimizer whose every grad is detached throws a RangeError for the first and changes nothing', (t) => {
  const { opt, params } = warmed('AdamW');
  const before = snapshot(params, opt);
  params.forEach((p) => detach(p.grad!));
  assertThrows(t, () => opt.step(), RangeError, /grad of parameter 0 \("p0"\).*received 0/);
  assertUnchanged(t, before, params, opt, [0, 1, 2, 3, 4]);
  params.forEach((p) => (p.grad = new Float32Array(p.numel)));
  assertWorks(t, opt, params);
});

test('Adam whose parameter data lives in a resizable ArrayBuffer shrunk after a step throws a RangeError naming the length', (t) => {
  const params = makeParams([3, 4, 5]);
  const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(16, { maxByteLength: 64 });
  const data = new Float32Array(ab);
  data.set(values(3, 1, 4));
  params[1] = new Parameter(data, { name: 'p1' });
  setGrads(params, 4);
  const opt = construct('Adam', params, OPTIONS.Adam);
  opt.step();
  (ab as unknown as { resize(n: number): void }).resize(8);
  const before = snapshot(params, opt);
  assertThrows(t, () => opt.step(), RangeError, /data of parameter 1 \("p1"\) to have length 4, received 2$/);
  assertUnchanged(t, before, params, opt);
  (ab as unknown as { resize(n: number): void }).resize(16);
  assertWorks(t, opt, params);
});

// ---------------------------------------------------------------------------------------------
// Overlapping buffers

interface OverlapCase {
  title: string;
  /** Makes the parameters (5 of them, given lengths), possibly sharing memory. */
  build: () => Parameter[];
  message: RegExp;
  /** Gives each parameter its own memory again. */
  fix: (ps: Parameter[]) => void;
}

const overlapping = test.macro({
  exec(t, kind: Kind, c: OverlapCase, warm: boolean) {
    const params = c.build();
    let opt: AnyOptimizer;
    let before: Snapshot;
    if (warm) {
      // Step with disjoint buffers first (so the engine has cached them as checked), then alias.
      const own = params.map((p) => ({ data: new Float32Array(p.data), grad: p.grad && new Float32Array(p.grad) }));
      const aliased = params.map((p) => ({ data: p.data, grad: p.grad }));
      params.forEach((p, i) => {
        p.data = own[i]!.data;
        p.grad = own[i]!.grad;
      });
      opt = construct(kind, [{ params: params.slice(0, 2) }, { params: params.slice(2) }], OPTIONS[kind]);
      opt.step();
      opt.step();
      params.forEach((p, i) => {
        aliased[i]!.data.set(p.data);
        p.data = aliased[i]!.data;
        p.grad = aliased[i]!.grad;
      });
    } else {
      opt = construct(kind, [{ params: params.slice(0, 2) }, { params: params.slice(2) }], OPTIONS[kind]);
    }
    before = snapshot(params, opt);
    assertThrows(t, () => opt.step(), RangeError, c.message);
    assertUnchanged(t, before, params, opt);
    assertThrows(t, () => opt.step(), RangeError, c.message);
    assertUnchanged(t, before, params, opt);
    c.fix(params);
    assertWorks(t, opt, params);
  },
  title: (_, kind: Kind, c: OverlapCase, warm: boolean) => `${kind} with ${c.title}${warm ? ' (aliased after two good steps)' : ''} throws a RangeError mentioning overlap`,
});

function ownMemory(ps: Parameter[]): void {
  for (const p of ps) {
    p.data = new Float32Array(p.data);
    if (p.grad) p.grad = new Float32Array(p.grad);
  }
}

const overlapCases: OverlapCase[] = [
  {
    title: 'two parameters whose data are overlapping views of one ArrayBuffer (bytes 0-32 and 16-48)',
    build: () => {
      const ab = new ArrayBuffer(64);
      const ps = makeParams([3, 4, 8, 8, 2]);
      const a = new Float32Array(ab, 0, 8);
      const b = new Float32Array(ab, 16, 8);
      a.set(ps[2]!.data);
      b.set(ps[3]!.data.subarray(0, 4), 4);
      ps[2] = new Parameter(a, { name: 'p2' });
      ps[3] = new Parameter(b, { name: 'p3' });
      setGrads(ps, 7);
      return ps;
    },
    message: /data of parameter 2 \("p2"\) and data of parameter 3 \("p3"\) view overlapping memory/,
    fix: ownMemory,
  },
  {
    title: 'parameters in different groups whose data overlap',
    build: () => {
      const ab = new ArrayBuffer(4 * 20);
      const ps = makeParams([3, 10, 2, 10, 1]);
      ps[1] = new Parameter(new Float32Array(ab, 0, 10), { name: 'p1' });
      ps[3] = new Parameter(new Float32Array(ab, 40 - 4, 10), { name: 'p3' });
      ps[1].data.fill(0.25);
      setGrads(ps, 7);
      return ps;
    },
    message: /data of parameter 1 \("p1"\) and data of parameter 3 \("p3"\) view overlapping memory/,
    fix: ownMemory,
  },
  {
    title: 'a grad overlapping its own data',
    build: () => {
      const ab = new ArrayBuffer(4 * 12);
      const ps = makeParams([3, 4, 8, 8, 2]);
      const data = new Float32Array(ab, 0, 8);
      data.set(ps[2]!.data);
      ps[2] = new Parameter(data, { name: 'p2' });
      setGrads(ps, 7);
      ps[2].grad = new Float32Array(ab, 16, 8);
      return ps;
    },
    message: /data of parameter 2 \("p2"\) and grad of parameter 2 \("p2"\) view overlapping memory/,
    fix: ownMemory,
  },
  {
    title: 'a grad that is its own data array',
    build: () => {
      const ps = makeParams([3, 4, 8, 8, 2]);
      setGrads(ps, 7);
      ps[4]!.grad = ps[4]!.data;
      return ps;
    },
    message: /data of parameter 4 \("p4"\) and grad of parameter 4 \("p4"\) view overlapping memory/,
    fix: ownMemory,
  },
  {
    title: 'a grad shared by two parameters',
    build: () => {
      const ps = makeParams([3, 8, 5, 8, 2]);
      setGrads(ps, 7);
      ps[3]!.grad = ps[1]!.grad;
      return ps;
    },
    message: /grad of parameter 1 \("p1"\) and grad of parameter 3 \("p3"\) view overlapping memory/,
    fix: ownMemory,
  },
  {
    title: "a grad that views another parameter's data",
    build: () => {
      const ps = makeParams([3, 8, 5, 8, 2]);
      setGrads(ps, 7);
      ps[0]!.grad = ps[2]!.data.subarray(1, 4);
      return ps;
    },
    message: /data of parameter 2 \("p2"\) and grad of parameter 0 \("p0"\) view overlapping memory|grad of parameter 0 \("p0"\) and data of parameter 2 \("p2"\) view overlapping memory/,
    fix: ownMemory,
  },
];
for (const c of overlapCases) {
  for (const kind of ['SGD', 'AdamW'] as const) {
    test(overlapping, kind, c, false);
    test(overlapping, kind, c, true);
  }
}

test('parameters and grads that are adjacent, non-overlapping views of one ArrayBuffer step exactly like separate buffers', (t) => {
  const lengths = [3, 17, 5, 9, 1];
  for (const kind of ['SGD', 'Adam', 'AdamW'] as const) {
    const separate = makeParams(lengths);
    const total = lengths.reduce((a, b) => a + b, 0);
    const ab = new ArrayBuffer(4 * 2 * total);
    let off = 0;
    const shared = separate.map((p) => {
      const data = new Float32Array(ab, off, p.numel);
      off += 4 * p.numel;
      const grad = new Float32Array(ab, off, p.numel);
      off += 4 * p.numel;
      data.set(p.data);
      const q = new Parameter(data, { name: p.name! });
      q.grad = grad;
      return q;
    });
    const a = construct(kind, separate, OPTIONS[kind]);
    const b = construct(kind, shared, OPTIONS[kind]);
    for (let s = 0; s < 3; s++) {
      setGrads(separate, 30 + s);
      setGrads(shared, 30 + s);
      a.step();
      b.step();
    }
    t.deepEqual(shared.map((p) => hex(p.data)), separate.map((p) => hex(p.data)), kind);
    t.deepEqual(stateBytes(b), stateBytes(a), kind);
  }
});

// ---------------------------------------------------------------------------------------------
// step(closure)

test('AdamW.step with a closure that throws propagates its error and changes nothing', (t) => {
  const { opt, params } = warmed('AdamW');
  const before = snapshot(params, opt);
  t.throws(() => opt.step(() => { throw new Error('loss failed'); }), { message: 'loss failed' });
  assertUnchanged(t, before, params, opt);
  assertWorks(t, opt, params);
});

test('SGD.step with a closure that is not a function throws a TypeError naming it and changes nothing', (t) => {
  const { opt, params } = warmed('SGD');
  const before = snapshot(params, opt);
  t.throws(() => opt.step(5 as never), { instanceOf: TypeError, message: /closure/ });
  assertUnchanged(t, before, params, opt);
  assertWorks(t, opt, params);
});

// ---------------------------------------------------------------------------------------------
// Parameter constructor

const badParameter = test.macro({
  exec(t, args: unknown[], cls: ErrorClass, message: RegExp) {
    const data = args[0];
    const bytes = data instanceof Float32Array ? hex(data) : undefined;
    assertThrows(t, () => new (Parameter as unknown as new (...a: unknown[]) => Parameter)(...args), cls, message);
    if (data instanceof Float32Array) {
      t.is(hex(data), bytes as string | null);
      // The same array makes a valid Parameter.
      t.is(new Parameter(data).numel, data.length);
    }
  },
  title: (_, args: unknown[], cls: ErrorClass) =>
    `new Parameter(${args.map((a) => (a instanceof Float32Array || a instanceof Float64Array ? `a ${a.constructor.name} of length ${a.length}` : show(a))).join(', ')}) throws a ${cls.name}`,
});

const parameterCases: Array<[unknown[], ErrorClass, RegExp]> = [
  [[[1, 2, 3]], TypeError, /data to be a Float32Array, received \[1, 2, 3\]/],
  [[new Float64Array(3)], TypeError, /data to be a Float32Array, received a Float64Array of length 3/],
  [[undefined], TypeError, /data to be a Float32Array, received undefined/],
  [[new Float32Array(6).buffer], TypeError, /data to be a Float32Array, received an? ArrayBuffer/],
  [[new Float32Array(6), { shape: [4, 2] }], RangeError, /shape \[4, 2\] to hold 6 elements, received a shape of 8/],
  [[new Float32Array(6), { shape: [5] }], RangeError, /shape \[5\] to hold 6 elements, received a shape of 5/],
  [[new Float32Array(6), { shape: [] }], RangeError, /shape \[\] to hold 6 elements, received a shape of 1/],
  [[new Float32Array(6), { shape: [-2, -3] }], TypeError, /shape to be an array of integers >= 0, received \[-2, -3\]/],
  [[new Float32Array(6), { shape: [2, 1.5, 2] }], TypeError, /shape.*received \[2, 1\.5, 2\]/],
  [[new Float32Array(6), { shape: '6' }], TypeError, /shape.*received "6"/],
  [[new Float32Array(6), { name: 7 }], TypeError, /name to be a string, received 7/],
  [[new Float32Array(6), 'w'], TypeError, /options object, received "w"/],
  [[new Float32Array(6), null], TypeError, /options object, received null/],
];
for (const c of parameterCases) test(badParameter, ...c);

// ---------------------------------------------------------------------------------------------
// setNumThreads

const badThreads = test.macro({
  exec(t, n: unknown, cls: ErrorClass, message: RegExp) {
    const before = getNumThreads();
    assertThrows(t, () => setNumThreads(n as number), cls, message);
    t.is(getNumThreads(), before);
    const { opt, params } = warmed('AdamW');
    assertWorks(t, opt, params);
  },
  title: (_, n: unknown, cls: ErrorClass) => `setNumThreads(${show(n)}) throws a ${cls.name} and keeps the thread count`,
});

const threadCases: Array<[unknown, ErrorClass, RegExp]> = [
  // The bound is max(4 × available cores, 64).
  [0, RangeError, /^setNumThreads: expected n to be an integer >= 1 and <= \d+ \(4 × the available cores, at least 64\), received 0$/],
  [1.5, RangeError, /\bn\b.*received 1\.5$/],
  [-1, RangeError, /\bn\b.*received -1$/],
  [1025, RangeError, /\bn\b.*received 1025$/],
  [NaN, RangeError, /\bn\b.*received NaN$/],
  [Infinity, RangeError, /\bn\b.*received Infinity$/],
  ['x', TypeError, /\bn\b.*received "x"$/],
  ['2', TypeError, /\bn\b.*received "2"$/],
  [null, TypeError, /\bn\b.*received null$/],
  [undefined, TypeError, /\bn\b.*received undefined$/],
  [2n, TypeError, /\bn\b.*received 2n$/],
];
for (const c of threadCases) test.serial(badThreads, ...c);
