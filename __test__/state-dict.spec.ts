/**
 * The base class's stateDict / loadStateDict (keys, strict and partial loading), null gradients,
 * zeroGrad and step(closure), on SGD, Adam and AdamW as examples. The round trip through JSON
 * that resumes bit for bit, the state keys and the per-parameter step counters are checked for
 * every registered optimizer by the conformance suite (`conformance.spec.ts`).
 */
import test, { type ExecutionContext } from 'ava';
import { Adam, AdamW, Optimizer, Parameter, SGD, type OptimizerStateDict } from '../ts/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyOptimizer = Optimizer<any>;
type ErrorClass = typeof TypeError | typeof RangeError;
type Kind = 'SGD' | 'Adam' | 'AdamW';

// ---------------------------------------------------------------------------------------------
// Helpers

/** A deterministic float32 in [-1, 1]. */
function value(seed: number, step: number, tensor: number, i: number): number {
  let x = (Math.imul(seed, 0x9e3779b1) + Math.imul(step, 0x85ebca77) + Math.imul(tensor, 0xc2b2ae3d) + i) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return Math.fround(((x % 2001) - 1000) / 1000);
}

function values(seed: number, step: number, tensor: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => value(seed, step, tensor, i));
}

const NAMES = ['emb', 'fc.weight', 'fc.bias', 'head'];
const LENGTHS = [33, 20, 5, 1025];

function makeParams(names: ReadonlyArray<string | undefined> = NAMES, lengths: readonly number[] = LENGTHS): Parameter[] {
  return lengths.map((n, t) => new Parameter(values(1, 0, t, n), names[t] === undefined ? {} : { name: names[t]! }));
}

function copyParams(ps: readonly Parameter[]): Parameter[] {
  return ps.map((p) => new Parameter(new Float32Array(p.data), p.name === undefined ? { shape: p.shape } : { name: p.name, shape: p.shape }));
}

function hex(a: Float32Array | null): string | null {
  return a && Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

/** Bytes of every state buffer, so -0 and NaN count. */
function stateBytes(opt: AnyOptimizer): Record<string, Record<string, number | string>> {
  const out: Record<string, Record<string, number | string>> = {};
  for (const [k, entry] of Object.entries(opt.stateDict().state)) {
    const e: Record<string, number | string> = {};
    for (const [name, v] of Object.entries(entry)) e[name] = typeof v === 'number' ? v : hex(Float32Array.from(v))!;
    out[k] = e;
  }
  return out;
}

function groupOptions(opt: AnyOptimizer): Array<Record<string, unknown>> {
  return opt.paramGroups.map((g) => {
    const { params, ...rest } = g as Record<string, unknown> & { params: Parameter[] };
    return { ...rest, params: params.length };
  });
}

function fullSnapshot(opt: AnyOptimizer, params: readonly Parameter[]) {
  return {
    data: params.map((p) => hex(p.data)),
    grads: params.map((p) => hex(p.grad)),
    state: stateBytes(opt),
    groups: JSON.stringify(groupOptions(opt)),
  };
}

function roundTrip<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function construct(kind: Kind, params: any, options?: any): AnyOptimizer {
  if (kind === 'SGD') return new SGD(params, options);
  if (kind === 'Adam') return new Adam(params, options);
  return new AdamW(params, options);
}

function twoGroups(ps: readonly Parameter[], second: Record<string, unknown> = {}) {
  return [{ params: ps.slice(0, 2) }, { params: ps.slice(2), ...second }];
}

// ---------------------------------------------------------------------------------------------
// Runs

const NULL_STEPS = new Set([3, 4, 5, 6]);
const NULL_PARAM = 2;

/** Runs steps [from, to): gradients from the hash, parameter 2 without a gradient at steps 3..6. */
function run(opt: AnyOptimizer, params: readonly Parameter[], from: number, to: number): void {
  for (let s = from; s < to; s++) {
    params.forEach((p, t) => {
      p.grad = t === NULL_PARAM && NULL_STEPS.has(s) ? null : values(7, s, t, p.numel);
    });
    opt.step();
  }
}

// ---------------------------------------------------------------------------------------------
// Keys

test('stateDict keys are parameter names when every parameter has a unique name', (t) => {
  const params = makeParams();
  const opt = new AdamW(twoGroups(params));
  run(opt, params, 0, 2);
  const sd = opt.stateDict();
  t.deepEqual(Object.keys(sd.state), NAMES);
  t.deepEqual(sd.paramGroups.map((g) => g.params), [NAMES.slice(0, 2), NAMES.slice(2)]);
  t.deepEqual(Object.keys(sd.state.emb!).sort(), ['expAvg', 'expAvgSq', 'step']);
});

const positionalKeys = test.macro({
  exec(t, names: Array<string | undefined>) {
    const params = makeParams(names);
    const opt = new SGD(twoGroups(params), { momentum: 0.9 });
    run(opt, params, 0, 2);
    const sd = opt.stateDict();
    t.deepEqual(Object.keys(sd.state), ['0', '1', '2', '3']);
    t.deepEqual(sd.paramGroups.map((g) => g.params), [['0', '1'], ['2', '3']]);
    t.deepEqual(Object.keys(sd.state['0']!).sort(), ['momentumBuffer', 'step']);
    // And they load back by position.
    const copies = copyParams(params);
    const fresh = new SGD(twoGroups(copies));
    fresh.loadStateDict(roundTrip(sd));
    t.deepEqual(stateBytes(fresh), stateBytes(opt));
  },
  title: (_, names: Array<string | undefined>) => `stateDict keys are positions when the names are ${JSON.stringify(names)}`,
});
test(positionalKeys, ['emb', undefined, 'fc.bias', 'head']);
test(positionalKeys, [undefined, undefined, undefined, undefined]);
test(positionalKeys, ['w', 'b', 'w', 'b']);

// ---------------------------------------------------------------------------------------------
// Strict mode rejects mismatches and changes nothing

interface StrictCase {
  title: string;
  mutate: (sd: OptimizerStateDict, slot: string) => void;
  cls: ErrorClass | 'either';
  message: RegExp;
  /** Also rejected with `{ strict: false }`. */
  alsoPartial?: boolean;
}

/** A target optimizer with its own (different) state, and a saved dict of another run. */
function strictSetup(kind: Kind) {
  const options = kind === 'SGD' ? { lr: 0.05, momentum: 0.9 } : { lr: 0.01, amsgrad: true };
  const src = makeParams();
  const source = construct(kind, twoGroups(src, { lr: 0.02 }), options);
  run(source, src, 0, 3);
  const params = makeParams();
  const target = construct(kind, twoGroups(params), options);
  for (let s = 0; s < 2; s++) {
    params.forEach((p, t) => (p.grad = values(11, s, t, p.numel)));
    target.step();
  }
  return { saved: roundTrip(source.stateDict()), target, params };
}

const strictRejects = test.macro({
  exec(t, kind: Kind, c: StrictCase, strict: boolean) {
    const { saved, target, params } = strictSetup(kind);
    c.mutate(saved, kind === 'SGD' ? 'momentumBuffer' : 'expAvg');
    const before = fullSnapshot(target, params);
    const err = t.throws(() => target.loadStateDict(saved, strict ? undefined : { strict: false }), { message: c.message });
    if (err) {
      if (c.cls === 'either') t.true(err instanceof TypeError || err instanceof RangeError, err.constructor.name);
      else t.is(err.constructor, c.cls);
    }
    t.deepEqual(fullSnapshot(target, params), before, 'nothing changed');
    // The optimizer still steps.
    params.forEach((p, i) => (p.grad = values(12, 0, i, p.numel)));
    target.step();
    t.notDeepEqual(params.map((p) => hex(p.data)), before.data);
  },
  title: (_, kind: Kind, c: StrictCase, strict: boolean) =>
    `${kind}.loadStateDict${strict ? '' : ' with { strict: false }'} of a saved dict with ${c.title} throws a ${c.cls === 'either' ? 'TypeError or RangeError' : c.cls.name} and changes nothing`,
});

const strictCases: StrictCase[] = [
  { title: 'one param group fewer', mutate: (sd) => void sd.paramGroups.pop(), cls: RangeError, message: /param groups do not match.*1 saved groups, 2 here/ },
  { title: 'an extra parameter key in a group', mutate: (sd) => void sd.paramGroups[1]!.params.push('extra'), cls: RangeError, message: /param groups do not match/ },
  { title: 'a renamed parameter', mutate: (sd) => void (sd.paramGroups[0]!.params[1] = 'fc.weights'), cls: RangeError, message: /param groups do not match.*strict: false/ },
  { title: 'the parameters of a group in another order', mutate: (sd) => void sd.paramGroups[1]!.params.reverse(), cls: RangeError, message: /param groups do not match/ },
  { title: 'groups swapped', mutate: (sd) => void sd.paramGroups.reverse(), cls: RangeError, message: /param groups do not match/ },
  { title: 'a state entry for an unknown key', mutate: (sd) => void (sd.state.ghost = { step: 1 }), cls: RangeError, message: /entry for "ghost", which is not a parameter/ },
  { title: 'an unknown option key in a group', mutate: (sd) => void (sd.paramGroups[0]!.momentun = 0.9), cls: TypeError, message: /param group 0: unknown option "momentun"/ },
  { title: 'a snake_case buffer name', mutate: (sd, slot) => void (sd.state.head![slot.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = sd.state.head![slot]!), cls: RangeError, message: /state\["head"\] has an unknown buffer "(exp_avg|momentum_buffer)"/ },
  { title: 'an unknown buffer name', mutate: (sd) => void (sd.state['fc.bias']!.foo = [0, 0, 0, 0, 0]), cls: RangeError, message: /state\["fc\.bias"\] has an unknown buffer "foo"/ },
  { title: 'a buffer one element short', mutate: (sd, slot) => void (sd.state.head![slot] as number[]).pop(), cls: RangeError, message: /state\["head"\]\.(expAvg|momentumBuffer) to have length 1025, received 1024/, alsoPartial: true },
  { title: 'an empty buffer', mutate: (sd, slot) => void (sd.state.emb![slot] = []), cls: RangeError, message: /state\["emb"\]\.(expAvg|momentumBuffer) to have length 33, received 0/, alsoPartial: true },
  { title: 'a buffer that is a number', mutate: (sd, slot) => void (sd.state.emb![slot] = 0), cls: TypeError, message: /state\["emb"\]\.(expAvg|momentumBuffer) to be an array of numbers, received 0/, alsoPartial: true },
  { title: 'a null inside a buffer', mutate: (sd, slot) => void ((sd.state.head![slot] as unknown[])[1024] = null), cls: TypeError, message: /state\["head"\]\.(expAvg|momentumBuffer)\[1024\] to be a number .*received null/, alsoPartial: true },
  { title: 'a negative step', mutate: (sd) => void (sd.state.emb!.step = -1), cls: RangeError, message: /state\["emb"\]\.step to be an integer >= 0, received -1/, alsoPartial: true },
  { title: 'a fractional step', mutate: (sd) => void (sd.state['fc.weight']!.step = 2.5), cls: RangeError, message: /step to be an integer >= 0, received 2\.5/, alsoPartial: true },
  { title: 'a string step', mutate: (sd) => void ((sd.state['fc.weight'] as Record<string, unknown>).step = '3'), cls: 'either', message: /step to be an integer >= 0, received "3"/, alsoPartial: true },
  { title: 'a null state entry', mutate: (sd) => void ((sd.state as Record<string, unknown>).head = null), cls: TypeError, message: /state\["head"\] to be an object, received null/, alsoPartial: true },
  { title: 'lr -1 in a group', mutate: (sd) => void (sd.paramGroups[1]!.lr = -1), cls: RangeError, message: /lr \(saved param group 1\).*received -1/, alsoPartial: true },
  { title: 'a string initialLr', mutate: (sd) => void (sd.paramGroups[0]!.initialLr = '0.1'), cls: TypeError, message: /initialLr of param group 0 to be a number, received "0\.1"/, alsoPartial: true },
  { title: 'no state', mutate: (sd) => void delete (sd as Partial<OptimizerStateDict>).state, cls: TypeError, message: /expected an object with state and paramGroups/, alsoPartial: true },
  { title: 'paramGroups that are not an array', mutate: (sd) => void ((sd as unknown as Record<string, unknown>).paramGroups = {}), cls: TypeError, message: /expected an object with state and paramGroups/, alsoPartial: true },
];
for (const c of strictCases) {
  for (const kind of ['SGD', 'Adam'] as const) {
    test(strictRejects, kind, c, true);
    if (c.alsoPartial) test(strictRejects, kind, c, false);
  }
}

test('Adam.loadStateDict of a saved group with betas [1, 0.9] throws a RangeError naming betas and changes nothing', (t) => {
  const { saved, target, params } = strictSetup('Adam');
  saved.paramGroups[0]!.betas = [1, 0.9];
  const before = fullSnapshot(target, params);
  t.throws(() => target.loadStateDict(saved), { instanceOf: RangeError, message: /betas \(saved param group 0\)\[0\].*received 1$/ });
  t.deepEqual(fullSnapshot(target, params), before);
});

test('AdamW.loadStateDict of a non-object throws a TypeError naming the received value', (t) => {
  const { target, params } = strictSetup('AdamW');
  const before = fullSnapshot(target, params);
  for (const [bad, shown] of [[null, 'null'], ['{}', '"\\{\\}"'], [42, '42']] as const) {
    t.throws(() => target.loadStateDict(bad as never), { instanceOf: TypeError, message: new RegExp(`received ${shown}$`) });
  }
  t.deepEqual(fullSnapshot(target, params), before);
});

test('strict loadStateDict clears the state of a parameter that has no entry in the saved dict', (t) => {
  const { saved, target } = strictSetup('Adam');
  delete saved.state['fc.bias'];
  target.loadStateDict(saved);
  t.deepEqual(Object.keys(target.stateDict().state), ['emb', 'fc.weight', 'head']);
});

// ---------------------------------------------------------------------------------------------
// Partial mode

test('loadStateDict with { strict: false } loads matching keys, ignores unknown keys and buffers, and loads group options when the groups match', (t) => {
  const { saved, target, params } = strictSetup('Adam');
  const clean = roundTrip(saved);
  saved.state.ghost = { step: 4, expAvg: [1] };
  saved.state.emb!.foo = [1, 2, 3];
  saved.paramGroups[0]!.futureOption = true;
  target.loadStateDict(saved, { strict: false });
  const reference = new Adam(twoGroups(copyParams(params)));
  reference.loadStateDict(clean);
  t.deepEqual(stateBytes(target), stateBytes(reference));
  t.deepEqual(groupOptions(target), groupOptions(reference));
  t.is(target.paramGroups[1]!.lr, 0.02);
});

test('loadStateDict with { strict: false } into differently grouped parameters loads entries by name and leaves the rest alone', (t) => {
  const { saved } = strictSetup('SGD');
  // Here: 'emb' and 'head' match, 'fc.weight' and 'fc.bias' are absent, 'extra' is new; one group.
  const params = makeParams(['head', 'extra', 'emb'], [1025, 6, 33]);
  const target = new SGD(params, { lr: 0.1, momentum: 0.3 });
  params.forEach((p, i) => (p.grad = values(13, 0, i, p.numel)));
  target.step();
  const before = stateBytes(target);
  const optionsBefore = groupOptions(target);
  target.loadStateDict(saved, { strict: false });
  const after = stateBytes(target);
  const expected = (k: string) => ({ step: saved.state[k]!.step, momentumBuffer: hex(Float32Array.from(saved.state[k]!.momentumBuffer as number[])) });
  t.deepEqual(after.head, expected('head'));
  t.deepEqual(after.emb, expected('emb'));
  t.deepEqual(after.extra, before.extra, 'a parameter without an entry keeps its state');
  t.deepEqual(Object.keys(after).sort(), ['emb', 'extra', 'head']);
  t.deepEqual(groupOptions(target), optionsBefore, 'group options are not loaded when the groups differ');
  // And it steps.
  target.step();
  t.is(target.stateDict().state.emb!.step, saved.state.emb!.step + 1);
});

test('loadStateDict with { strict: false } of a dict with no matching key changes nothing', (t) => {
  const { target, params } = strictSetup('AdamW');
  const before = fullSnapshot(target, params);
  target.loadStateDict({ state: { a: { step: 1 } }, paramGroups: [{ params: ['a'], lr: 5 }] }, { strict: false });
  t.deepEqual(fullSnapshot(target, params), before);
});

test('a stateDict taken before any step is empty and loads into a fresh optimizer', (t) => {
  const params = makeParams();
  const sd = new Adam(twoGroups(params), { lr: 0.02 }).stateDict();
  t.deepEqual(sd.state, {});
  const target = new Adam(twoGroups(copyParams(params)));
  target.loadStateDict(roundTrip(sd));
  t.is(target.paramGroups[0]!.lr, 0.02);
  t.deepEqual(target.stateDict(), sd);
});

// ---------------------------------------------------------------------------------------------
// Null gradients, zeroGrad, step(closure)

test('a parameter whose grad is null from the start has no state entry', (t) => {
  const params = makeParams();
  params[1]!.grad = null;
  const opt = new Adam(params);
  params.forEach((p, i) => p.grad?.set(values(2, 0, i, p.numel)));
  const before = hex(params[1]!.data);
  opt.step();
  t.deepEqual(Object.keys(opt.stateDict().state), ['emb', 'fc.bias', 'head']);
  t.is(hex(params[1]!.data), before);
});

test('zeroGrad zeroes every grad in place, keeping the same Float32Array objects and leaving null grads null', (t) => {
  const params = makeParams();
  const opt = new SGD(twoGroups(params), { momentum: 0.9 });
  params.forEach((p, i) => p.grad!.set(values(4, 0, i, p.numel)));
  params[2]!.grad = null;
  const objects = params.map((p) => p.grad);
  opt.zeroGrad();
  params.forEach((p, i) => t.is(p.grad, objects[i] ?? null));
  for (const p of params) if (p.grad) t.true(p.grad.every((x) => Object.is(x, 0)));
  t.is(params[2]!.grad, null);
});

test('zeroGrad({ setToNone: true }) sets every grad to null, and the next step changes neither data nor state', (t) => {
  const params = makeParams();
  const opt = new AdamW(twoGroups(params), { weightDecay: 0.5 });
  run(opt, params, 0, 2);
  opt.zeroGrad({ setToNone: true });
  t.true(params.every((p) => p.grad === null));
  const before = fullSnapshot(opt, params);
  t.is(opt.step(), undefined);
  t.deepEqual(fullSnapshot(opt, params), before);
  // New gradients bring them back.
  params.forEach((p, i) => (p.grad = values(5, 0, i, p.numel)));
  opt.step();
  t.is(opt.stateDict().state.emb!.step, 3);
});

test('zeroGrad({ setToNone: false }) zeroes in place like zeroGrad()', (t) => {
  const params = makeParams();
  const opt = new Adam(params);
  params.forEach((p, i) => p.grad!.set(values(4, 0, i, p.numel)));
  const objects = params.map((p) => p.grad);
  opt.zeroGrad({ setToNone: false });
  params.forEach((p, i) => {
    t.is(p.grad, objects[i] ?? null);
    t.true(p.grad!.every((x) => x === 0));
  });
});

test('step(closure) calls the closure once, before the update, and returns its value', (t) => {
  for (const kind of ['SGD', 'Adam', 'AdamW'] as const) {
    const a = makeParams();
    const b = copyParams(a);
    const withClosure = construct(kind, a, { lr: 0.01 });
    const plain = construct(kind, b, { lr: 0.01 });
    let calls = 0;
    const loss = withClosure.step(() => {
      calls++;
      // The closure computes the gradients; the step must use them.
      a.forEach((p, i) => p.grad!.set(values(6, 0, i, p.numel)));
      return 0.125;
    });
    t.is(loss, 0.125, kind);
    t.is(calls, 1, kind);
    b.forEach((p, i) => p.grad!.set(values(6, 0, i, p.numel)));
    t.is(plain.step(), undefined, kind);
    t.deepEqual(a.map((p) => hex(p.data)), b.map((p) => hex(p.data)), kind);
  }
});

test('step(closure) returns the closure value even when every grad is null', (t) => {
  const params = makeParams();
  const opt = new SGD(params);
  opt.zeroGrad({ setToNone: true });
  t.is(opt.step(() => 3.5), 3.5);
});

// ---------------------------------------------------------------------------------------------
// Parameter names are data: "__proto__" and Object.prototype's own names are ordinary keys

const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'head'];

const protoKeys = test.macro({
  exec(t, kind: Kind) {
    const options = kind === 'SGD' ? { lr: 0.05, momentum: 0.9 } : { lr: 0.01 };
    const a = makeParams(PROTO_NAMES);
    const opt = construct(kind, a, options);
    run(opt, a, 0, 3);
    const sd = opt.stateDict();
    t.deepEqual(Object.keys(sd.state), PROTO_NAMES);
    t.true(Object.hasOwn(sd.state, '__proto__') && sd.state['__proto__']!.step === 3);
    const json = JSON.stringify(sd);
    t.true(json.includes('"__proto__":{"step":3'), 'the entry is in the JSON');
    // A strict load must find every entry (a missing one would clear that parameter's state).
    const b = copyParams(a);
    const resumed = construct(kind, b, options);
    resumed.loadStateDict(JSON.parse(json));
    t.deepEqual(stateBytes(resumed), stateBytes(opt));
    run(opt, a, 3, 8);
    run(resumed, b, 3, 8);
    t.deepEqual(b.map((p) => hex(p.data)), a.map((p) => hex(p.data)), 'the resumed run has the same bits');
  },
  title: (_, kind: Kind) => `${kind}: a parameter named "__proto__" keeps its state entry through stateDict, JSON and a strict loadStateDict`,
});
test(protoKeys, 'SGD');
test(protoKeys, 'AdamW');

test('Lookahead keeps the slow weights of a parameter named "__proto__" through stateDict, JSON and loadStateDict', async (t) => {
  const { Lookahead } = await import('../ts/optim/lookahead.js');
  const a = makeParams(PROTO_NAMES);
  const la = new Lookahead(new Adam(a, { lr: 0.01 }), { k: 2 });
  run(la as unknown as AnyOptimizer, a, 0, 3);
  const sd = la.stateDict();
  t.deepEqual(Object.keys(sd.slowState), PROTO_NAMES);
  t.true(Object.hasOwn(sd.fastState.state, '__proto__'));
  const b = copyParams(a);
  const resumed = new Lookahead(new Adam(b, { lr: 0.01 }), { k: 2 });
  resumed.loadStateDict(roundTrip(sd));
  t.deepEqual(roundTrip(resumed.stateDict()), roundTrip(sd));
  run(la as unknown as AnyOptimizer, a, 3, 8);
  run(resumed as unknown as AnyOptimizer, b, 3, 8);
  t.deepEqual(b.map((p) => hex(p.data)), a.map((p) => hex(p.data)));
});

test('a loaded state entry replaces the parameter state in place, and a strict load of a dict without an entry clears it', (t) => {
  const bytesOf = (entry: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, typeof v === 'number' ? v : hex(Float32Array.from(v as number[]))!]));
  const a = makeParams();
  const opt = new Adam(a, { lr: 0.01, amsgrad: true });
  run(opt, a, 0, 2);
  const saved = roundTrip(opt.stateDict());
  run(opt, a, 2, 4);
  // Non-strict: only "head" is loaded; the other parameters keep their state.
  const before = stateBytes(opt);
  opt.loadStateDict({ state: { head: saved.state.head! }, paramGroups: [] }, { strict: false });
  const now = stateBytes(opt);
  t.deepEqual(now.head, bytesOf(saved.state.head!));
  t.deepEqual({ ...now, head: undefined }, { ...before, head: undefined });
  // An entry without maxExpAvgSq drops that buffer.
  const partial = roundTrip(saved.state.emb!);
  delete partial.maxExpAvgSq;
  opt.loadStateDict({ state: { emb: partial }, paramGroups: [] }, { strict: false });
  t.deepEqual(Object.keys(opt.stateDict().state.emb!).sort(), ['expAvg', 'expAvgSq', 'step']);
  // Strict, with "fc.bias" missing: its state is cleared, the rest is the saved state.
  const strict = roundTrip(saved);
  delete strict.state['fc.bias'];
  opt.loadStateDict(strict);
  const loaded = opt.stateDict().state;
  t.deepEqual(Object.keys(loaded), ['emb', 'fc.weight', 'head']);
  for (const k of Object.keys(loaded)) t.deepEqual(stateBytes(opt)[k], bytesOf(saved.state[k]!), k);
  // And it continues like the run it was saved from.
  const b = copyParams(a);
  b.forEach((p, i) => p.data.set(a[i]!.data));
  const twin = new Adam(b, { lr: 0.01, amsgrad: true });
  twin.loadStateDict(strict);
  run(opt, a, 4, 6);
  run(twin, b, 4, 6);
  t.deepEqual(b.map((p) => hex(p.data)), a.map((p) => hex(p.data)));
});
