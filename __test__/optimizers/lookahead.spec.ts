/**
 * Lookahead, which wraps any registered optimizer (it is not in the registry itself): against
 * torch-optimizer's Lookahead (`__test__/fixtures/lookahead.json`), and bit for bit against its
 * oracle (the inner optimizer's oracle from `oracles/index.ts`, then `lookaheadSyncReference`) on
 * seeded random scenarios over every registered inner optimizer, at 1, 2 and 3 threads. Plus its
 * own invariants (k = 1 and alpha = 1 is its inner optimizer; the sync schedule), stateDict round
 * trips in the middle of a cycle, and its errors.
 */
import test from 'ava';
import { Adam, getNumThreads, Lookahead, Parameter, SGD, setNumThreads, type Optimizer } from '../../ts/index.js';
import { lookaheadSyncReference } from '../oracles/third-party.js';
import { randomLr, type OracleState } from '../oracles/index.js';
import { decode, firstDiff } from '../helpers/compare.js';
import { construct, defaultsOfName, entryDiff, NAMES, oracleOf, resolvedOptions, type AnyOptimizer } from '../helpers/conformance.js';
import { FIXTURE_LENGTHS, FIXTURE_STEPS, Rng, sampleIndices, values } from '../helpers/data.js';
import { Errors, FIXTURE_TOLERANCE, fixtureParams, loadFixture, referenceVersion, replayCase, type FixtureFile } from '../helpers/fixtures.js';
import { describeScenario, fixtureScenario, prepareStep, randomScenario, runScenario, scenarioParams, type Options, type Scenario } from '../helpers/scenario.js';

/** A Lookahead run: a scenario of its inner optimizer (a registry name), with k and alpha. */
interface LookaheadScenario extends Scenario {
  inner: string;
  k: number;
  alpha: number;
}

function describe(sc: LookaheadScenario): string {
  return `inner ${sc.inner}, k ${sc.k}, alpha ${sc.alpha}, ${describeScenario(sc)}`;
}

function randomLookahead(seed: number): LookaheadScenario {
  const r = new Rng(seed);
  const inner = r.pick(NAMES);
  const entry = oracleOf(inner);
  const sc = randomScenario(`random scenario ${seed}`, r, entry.random, entry.randomLr ?? ((x) => randomLr(x)));
  return { ...sc, inner, k: r.pick([1, 2, 3, 5]), alpha: r.pick([0.5, 0.8, 1, 0, r.uniform(0, 1)]) };
}

function lookaheadOf(sc: LookaheadScenario, params: Parameter[]): { la: Lookahead; inner: AnyOptimizer } {
  const inner = construct(sc.inner, sc, params);
  return { la: new Lookahead(inner as unknown as Optimizer<object>, { k: sc.k, alpha: sc.alpha }), inner };
}

/** Steps Lookahead and its oracle side by side; returns the first difference, or null. */
function runBoth(sc: LookaheadScenario): string | null {
  const entry = oracleOf(sc.inner);
  const options = resolvedOptions(sc.inner, sc);
  const data = sc.init.map((d) => d.slice());
  const state: Array<OracleState | undefined> = sc.init.map(() => undefined);
  if (entry.initialState) sc.groups.forEach((g, gi) => g.members.forEach((j) => (state[j] = entry.initialState!(sc.init[j]!.length, options[gi]!))));
  const slow: Array<Float32Array | undefined> = sc.init.map(() => undefined);
  let counter = 0;
  const params = scenarioParams(sc);
  const { la, inner } = lookaheadOf(sc, params);
  for (let t = 0; t < sc.grads.length; t++) {
    prepareStep(sc, t, params, la as never);
    la.step();
    sc.lrs?.[t]?.forEach((lr, gi) => {
      if (lr !== undefined) options[gi]!.lr = lr;
    });
    const st = sc.groups.map((g) => g.members.map((j) => state[j]));
    entry.step(
      sc.groups.map((g) => g.members.map((j) => data[j]!)),
      sc.groups.map((g) => g.members.map((j) => sc.grads[t]![j] ?? null)),
      st,
      options,
    );
    sc.groups.forEach((g, gi) => g.members.forEach((j, k) => (state[j] = st[gi]![k])));
    if (counter === 0) lookaheadSyncReference(data, slow, sc.alpha);
    counter = (counter + 1) % sc.k;
    for (let j = 0; j < params.length; j++) {
      const d = firstDiff(params[j]!.data, data[j]!);
      if (d) return `after step ${t + 1}, tensor ${j} (length ${data[j]!.length}): ${d}`;
    }
  }
  const sd = inner.stateDict().state;
  for (let j = 0; j < params.length; j++) {
    const d = entryDiff(sd[`p${j}`], state[j]);
    if (d) return `tensor ${j}: ${d}`;
  }
  const lsd = la.stateDict();
  if (lsd.counter !== counter) return `counter ${lsd.counter} vs oracle ${counter}`;
  for (let j = 0; j < params.length; j++) {
    const d = firstDiff(decode(lsd.slowState[`p${j}`]?.slowParam ?? []), slow[j] ?? new Float32Array(0));
    if (d) return `tensor ${j}, slow weights: ${d}`;
  }
  return null;
}

// ------------------------------------------------------------------------------------- oracle

const SEEDS = 30;

for (const n of [1, 2, 3]) {
  test.serial(`Lookahead over every registered optimizer is bit-exact with its oracle on ${SEEDS} random scenarios, ${n} thread${n === 1 ? '' : 's'}`, (t) => {
    const before = getNumThreads();
    try {
      setNumThreads(n);
      for (let s = 1; s <= SEEDS; s++) {
        const sc = randomLookahead(s * 7919 + 9);
        const diff = runBoth(sc);
        t.is(diff, null, describe(sc));
      }
    } finally {
      setNumThreads(before);
    }
  });
}

const fixture: FixtureFile = loadFixture('lookahead.json');

test(`Lookahead is bit-exact with its oracle on the ${fixture.cases.length} torch-optimizer fixture scenarios`, (t) => {
  for (const c of fixture.cases) {
    const inner = String(c.options.inner).toLowerCase();
    const sc: LookaheadScenario = {
      ...fixtureScenario(c, c.options.innerOptions as Options, defaultsOfName(inner).lr as number),
      inner,
      k: c.options.k as number,
      alpha: c.options.alpha as number,
    };
    t.is(runBoth(sc), null, `${c.name}: ${describe(sc)}`);
  }
});

// ------------------------------------------------------------------------------------- fixture

const impl = `torch-optimizer Lookahead (${referenceVersion('torch-optimizer', fixture)})`;

test(`lookahead.json is the Lookahead fixture, made with ${impl}`, (t) => {
  t.is(fixture.optimizer, 'Lookahead');
  t.true(fixture.cases.length > 0);
  t.deepEqual(fixture.lengths, [...FIXTURE_LENGTHS]);
  t.is(fixture.steps, FIXTURE_STEPS);
});

for (const c of fixture.cases) {
  test(`Lookahead matches ${impl} within its tolerance on fixture case "${c.name}"`, (t) => {
    const params = fixtureParams(c);
    const innerOptions = c.options.innerOptions as Options & { lr: number };
    const groups = [{ params: params.slice(0, 3) }, { params: params.slice(3, 5), lr: innerOptions.lr / 2 }];
    const inner = (c.options.inner === 'Adam' ? new Adam(groups, innerOptions) : new SGD(groups, innerOptions)) as unknown as Optimizer<object>;
    const la = new Lookahead(inner, { k: c.options.k as number, alpha: c.options.alpha as number });
    replayCase(c, params, la as never, [innerOptions.lr, innerOptions.lr / 2]);
    const err = new Errors(FIXTURE_TOLERANCE.lookahead!, 'torch-optimizer');
    params.forEach((p, j) => {
      const fin = c.final[j]!;
      t.deepEqual(fin.indices, sampleIndices(p.numel), `sample indices of tensor ${j}`);
      fin.indices.forEach((i, k) => err.check(`tensor ${j}[${i}]`, p.data[i]!, fin.values[k]!));
    });
    const st = inner.stateDict().state.t3!;
    t.truthy(st, 'state of t3');
    const idx3 = sampleIndices(FIXTURE_LENGTHS[3]!);
    const lsd = la.stateDict();
    for (const [key, want] of Object.entries(c.state3)) {
      if (key === 'step') t.is(st.step, want as number, 'step of t3');
      else if (key === 'counter') t.is(lsd.counter, want as number, 'Lookahead counter');
      else {
        const got = (key === 'slowParam' ? lsd.slowState.t3!.slowParam : st[key]) as number[];
        t.truthy(got, `state ${key} of t3`);
        (want as number[]).forEach((w, k) => err.check(`state t3.${key}[${idx3[k]}]`, got[idx3[k]!]!, w));
      }
    }
    const buffers = Object.keys(st)
      .filter((k) => k !== 'step')
      .sort();
    const wantBuffers = Object.keys(c.state3)
      .filter((k) => k !== 'step' && k !== 'counter' && k !== 'slowParam')
      .sort();
    t.deepEqual(buffers, wantBuffers, 'state buffers of t3');
    t.log(`${err.count} values, max abs error ${err.maxAbs.toExponential(2)}, max ${err.maxUlps.toFixed(1)} ulps`);
    t.deepEqual(err.bad, [], `values out of tolerance |a - b| <= ${err.tol.abs} + ${err.tol.rel}|b|`);
  });
}

// ------------------------------------------------------------------------------------- invariants

/** Runs a scenario natively, wrapped in Lookahead or not; returns the data, the inner state and the runner. */
function runNative(sc: LookaheadScenario, wrapped: boolean, steps = sc.grads.length) {
  const params = scenarioParams(sc);
  const { la, inner } = lookaheadOf(sc, params);
  const opt = (wrapped ? la : inner) as unknown as { paramGroups: Array<{ lr: number }>; step(): unknown };
  runScenario(sc, params, opt, 0, steps);
  return { params, data: params.map((p) => p.data), state: inner.stateDict().state, la };
}

test('Lookahead with k = 1 and alpha = 1 equals its inner optimizer bit for bit', (t) => {
  for (let s = 1; s <= 12; s++) {
    const sc = { ...randomLookahead(2024 + s), k: 1, alpha: 1 };
    const wrapped = runNative(sc, true);
    const alone = runNative(sc, false);
    wrapped.data.forEach((d, j) => t.is(firstDiff(d, alone.data[j]!), null, `tensor ${j}, ${describe(sc)}`));
    t.deepEqual(wrapped.state, alone.state, describe(sc));
  }
});

test('Lookahead syncs after inner steps 1, k + 1, 2k + 1, … and its first sync leaves the weights unchanged', (t) => {
  const p = new Parameter(Float32Array.of(1, 2, 3), { name: 'w' });
  const la = new Lookahead(new SGD([p], { lr: 0.5 }), { k: 3, alpha: 0.5 });
  const seen: number[] = [];
  for (let s = 1; s <= 7; s++) {
    p.grad = Float32Array.of(1, 1, 1);
    la.step();
    seen.push(p.data[0]!);
  }
  // Step 1: 1 − 0.5 = 0.5, synced with φ = 0.5 (no change). Steps 2, 3: 0, −0.5. Step 4: −1,
  // synced: θ = φ = (−1 + 0.5)/2 = −0.25. Steps 5, 6: −0.75, −1.25. Step 7: −1.75 → (−1.75 − 0.25)/2.
  t.deepEqual(seen, [0.5, 0, -0.5, -0.25, -0.75, -1.25, -1]);
  t.is(la.counter, 1);
  t.deepEqual(la.stateDict().slowState.w!.slowParam.slice(0, 1), [-1]);
});

test('Lookahead exposes the inner paramGroups, so lr changes through it drive the inner steps', (t) => {
  const p = new Parameter(Float32Array.of(1), { name: 'w' });
  const inner = new SGD([p], { lr: 0.1 });
  const la = new Lookahead(inner, { k: 1, alpha: 1 });
  t.is(la.paramGroups, inner.paramGroups);
  la.paramGroups[0]!.lr = 0.5;
  p.grad = Float32Array.of(1);
  la.step();
  t.is(p.data[0], 0.5);
});

test('Lookahead skips the sync and the counter when the inner optimizer skips a non-finite step', (t) => {
  const p = new Parameter(Float32Array.of(1, 2), { name: 'w' });
  const la = new Lookahead(new SGD([p], { lr: 0.1, skipNonFinite: true } as never), { k: 2 });
  p.grad = Float32Array.of(NaN, 1);
  la.step();
  t.is(la.counter, 0);
  t.deepEqual(la.stateDict().slowState, {});
  t.deepEqual(p.data, Float32Array.of(1, 2));
});

// ------------------------------------------------------------------------------------- stateDict

test('Lookahead: stateDict through JSON and loadStateDict reproduce an uninterrupted run bit for bit, also in the middle of a cycle', (t) => {
  for (let s = 1; s <= 8; s++) {
    const base = randomLookahead(555 + s);
    // At least 7 steps, tensor 0 without a gradient at step 3; split at step 4: mid-cycle with
    // k = 3 (counter 1).
    const steps = Math.max(base.grads.length, 7);
    const sc: LookaheadScenario = {
      ...base,
      k: 3,
      lrs: base.lrs && Array.from({ length: steps }, (_, i) => base.lrs![i] ?? base.groups.map(() => undefined)),
      grads: Array.from({ length: steps }, (_, i) => base.init.map((d, j) => (i === 2 && j === 0 ? null : values(s, i + 1, j, d.length)))),
    };
    const whole = runNative(sc, true);
    const first = runNative(sc, true, 4);
    const saved = JSON.parse(JSON.stringify(first.la.stateDict())) as never;
    const params = first.params.map((p, j) => new Parameter(p.data.slice(), { name: `p${j}` }));
    // A fresh Lookahead built with other lrs: the saved groups (AdaBound: baseLr too) win.
    const other: LookaheadScenario = { ...sc, groups: sc.groups.map((g) => ({ ...g, options: { ...g.options, lr: 0.123 } })) };
    const { la } = lookaheadOf(other, params);
    la.loadStateDict(saved);
    runScenario(sc, params, la as never, 4);
    params.forEach((p, j) => t.is(firstDiff(p.data, whole.data[j]!), null, `tensor ${j}, ${describe(sc)}`));
    t.deepEqual(la.stateDict(), whole.la.stateDict(), `state dicts, ${describe(sc)}`);
  }
});

test('Lookahead restores slow weights that hold -0, NaN and infinities exactly', (t) => {
  const p = new Parameter(Float32Array.of(-0, 1, 2, 3), { name: 'w' });
  const la = new Lookahead(new SGD([p], { lr: 0 }), { k: 2, alpha: 1 });
  p.grad = Float32Array.of(0, 0, 0, 0);
  la.step();
  const sd = la.stateDict();
  sd.slowState.w!.slowParam = ['-0', 'NaN', 'Infinity', '-Infinity'];
  const q = new Parameter(Float32Array.of(0, 0, 0, 0), { name: 'w' });
  const lb = new Lookahead(new SGD([q], { lr: 0 }), { k: 2, alpha: 1 });
  lb.loadStateDict(JSON.parse(JSON.stringify(sd)));
  t.deepEqual(lb.stateDict().slowState.w!.slowParam, ['-0', 'NaN', 'Infinity', '-Infinity']);
  t.is(lb.counter, 1);
});

// ------------------------------------------------------------------------------------- errors

function twoParams() {
  return [new Parameter(values(9, 0, 0, 5), { name: 'a' }), new Parameter(values(9, 0, 1, 3), { name: 'b' })];
}

const badOptions: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
  ['a non-optimizer', () => new Lookahead({ paramGroups: [] } as never), TypeError, /^Lookahead: expected optimizer to be a ferroptim optimizer/],
  ['k 0', () => new Lookahead(new SGD(twoParams()), { k: 0 }), RangeError, /^Lookahead: expected k to be an integer >= 1, received 0$/],
  ['k 2.5', () => new Lookahead(new SGD(twoParams()), { k: 2.5 }), RangeError, /k to be an integer/],
  ['alpha -0.5', () => new Lookahead(new SGD(twoParams()), { alpha: -0.5 }), RangeError, /^Lookahead: expected alpha to be a finite number >= 0, received -0.5$/],
  ['alpha "0.5"', () => new Lookahead(new SGD(twoParams()), { alpha: '0.5' as never }), TypeError, /alpha/],
  ['an unknown option', () => new Lookahead(new SGD(twoParams()), { K: 5 } as never), TypeError, /unknown option "K"/],
];

for (const [name, make, Err, message] of badOptions) {
  test(`Lookahead over ${name === 'a non-optimizer' ? name : `SGD with ${name}`} throws a ${Err.name}`, (t) => {
    const e = t.throws(make, { instanceOf: Err });
    t.regex(e!.message, message);
  });
}

test('Lookahead rejects a bad k or alpha set between steps before the inner step', (t) => {
  const ps = twoParams();
  const inner = new SGD(ps, { lr: 0.1 });
  const la = new Lookahead(inner);
  ps.forEach((p, j) => (p.grad = values(4, 1, j, p.numel)));
  la.k = 0;
  const data = ps.map((p) => p.data.slice());
  t.throws(() => la.step(), { instanceOf: RangeError, message: /k to be an integer >= 1, received 0/ });
  la.k = 5;
  la.alpha = Infinity;
  t.throws(() => la.step(), { instanceOf: RangeError, message: /alpha .* received Infinity/ });
  ps.forEach((p, j) => t.deepEqual(p.data, data[j]));
  t.is(inner.appliedSteps, 0);
});

test('Lookahead rejects a detached parameter before the inner step', (t) => {
  const ps = twoParams();
  const inner = new SGD(ps, { lr: 0.1 });
  const la = new Lookahead(inner);
  ps[1]!.grad = null;
  ps[0]!.grad = values(4, 1, 0, 5);
  const before = ps[0]!.data.slice();
  structuredClone(ps[1]!.data.buffer, { transfer: [ps[1]!.data.buffer as ArrayBuffer] });
  const e = t.throws(() => la.step(), { instanceOf: RangeError });
  t.regex(e!.message, /^Lookahead: expected data of parameter 1 \("b"\) to have length 3, received 0/);
  t.deepEqual(ps[0]!.data, before);
  t.is(inner.appliedSteps, 0);
});

test('Lookahead.loadStateDict checks everything before changing anything', (t) => {
  const ps = twoParams();
  const la = new Lookahead(new Adam(ps, { lr: 0.1 }), { k: 2 });
  ps.forEach((p, j) => (p.grad = values(4, 1, j, p.numel)));
  la.step();
  la.step();
  const good = la.stateDict();
  const snapshot = JSON.stringify(good);
  const bad: Array<[string, unknown, typeof TypeError | typeof RangeError]> = [
    ['short slow weights', { ...good, slowState: { ...good.slowState, a: { slowParam: [1, 2] } } }, RangeError],
    ['a non-numeric slow weight', { ...good, slowState: { ...good.slowState, b: { slowParam: [1, 'x', 3] } } }, TypeError],
    ['an unknown slow key', { ...good, slowState: { ...good.slowState, zz: { slowParam: [] } } }, RangeError],
    ['counter -1', { ...good, counter: -1 }, RangeError],
    ['k 0', { ...good, k: 0 }, RangeError],
    ['no fastState', { ...good, fastState: null }, TypeError],
    ['a bad inner state', { ...good, fastState: { ...good.fastState, state: { a: { step: 1, expAvg: [1] } } } }, RangeError],
  ];
  for (const [what, sd, Err] of bad) {
    t.throws(() => la.loadStateDict(sd as never), { instanceOf: Err }, what);
    t.is(JSON.stringify(la.stateDict()), snapshot, `${what}: nothing changed`);
  }
});
