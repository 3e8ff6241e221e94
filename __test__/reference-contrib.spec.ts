/**
 * AdaBound, LAMB, Lion and Lookahead against the plain TypeScript reference
 * (`__test__/oracles/contrib.ts`), bit for bit (`Object.is` per element, so NaN equals NaN and
 * 0 differs from -0), on seeded random scenarios: lengths around the SIMD widths and the chunked
 * multithreaded path, hyperparameters and flags, param group splits, lr changes between steps
 * and null grads. Plus invariants (lr = 0 changes nothing; Lookahead with k = 1 and alpha = 1 is
 * its inner optimizer; thread count does not matter), stateDict round trips that reproduce an
 * uninterrupted run bit for bit (Lookahead also in the middle of a cycle), and error cases.
 */
import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import {
  AdaBound,
  ADABOUND_DEFAULTS,
  Adam,
  ADAM_DEFAULTS,
  getNumThreads,
  LAMB,
  LAMB_DEFAULTS,
  Lion,
  LION_DEFAULTS,
  Lookahead,
  Parameter,
  SGD,
  SGD_DEFAULTS,
  setNumThreads,
  type AdaBoundGroupOptions,
  type AdamOptions,
  type LAMBGroupOptions,
  type LionGroupOptions,
  type Optimizer,
  type SGDOptions,
} from '../ts/index.js';
import { adamReference, sgdReference, type AdamRefState, type SgdRefState } from './oracles/torch.js';
import { adaboundReference, fmaF32, lambReference, lionReference, lookaheadSyncReference, stepStarts } from './oracles/contrib.js';
import { addLongTensors, expectInitial, fixGrads, runSteps, scenarioParams, type ScenarioBase } from './helpers/scenario.js';
import { decode, firstDiff } from './helpers/compare.js';
import { FIXTURE_LENGTHS, FIXTURE_STEPS, fixtureGrad, linearLr, Rng, values } from './helpers/data.js';

type Kind = 'AdaBound' | 'LAMB' | 'Lion' | 'Lookahead';
type InnerKind = 'SGD' | 'Adam';
const KINDS: readonly Kind[] = ['AdaBound', 'LAMB', 'Lion', 'Lookahead'];
const SEEDS = 30;
type Options = Record<string, unknown>;

/** A reproducible run: initial data, groups, and per step the lrs and grads. */
interface Scenario extends ScenarioBase<Options> {
  kind: Kind;
  /** Lookahead only: the inner optimizer and k, alpha. */
  inner?: InnerKind;
  k?: number;
  alpha?: number;
}

interface Runner {
  paramGroups: Array<{ lr: number }>;
  step(): unknown;
  stateDict(): unknown;
  loadStateDict(sd: never): void;
}

function construct(sc: Scenario, params: Parameter[]): { opt: Runner; inner: Optimizer<object> } {
  const groups = sc.groups.map((g) => ({ params: g.members.map((j) => params[j]!), ...g.options }));
  const make = (kind: Kind | InnerKind): Optimizer<object> => {
    switch (kind) {
      case 'AdaBound':
        return new AdaBound(groups as never) as unknown as Optimizer<object>;
      case 'LAMB':
        return new LAMB(groups as never) as unknown as Optimizer<object>;
      case 'Lion':
        return new Lion(groups as never) as unknown as Optimizer<object>;
      case 'SGD':
        return new SGD(groups as never) as unknown as Optimizer<object>;
      default:
        return new Adam(groups as never) as unknown as Optimizer<object>;
    }
  };
  if (sc.kind === 'Lookahead') {
    const inner = make(sc.inner!);
    return { opt: new Lookahead(inner, { k: sc.k!, alpha: sc.alpha! }) as unknown as Runner, inner };
  }
  const opt = make(sc.kind);
  return { opt: opt as unknown as Runner, inner: opt };
}

type RefState = { step: number } & Record<string, Float32Array | number | undefined>;

/** The reference of one kind: steps every group (in order) over the shared per-tensor state. */
class Reference {
  readonly data: Float32Array[];
  readonly state: Array<RefState | undefined>;
  readonly slow: Array<Float32Array | undefined>;
  readonly options: Options[];
  counter = 0;
  constructor(readonly sc: Scenario) {
    this.data = sc.init.map((d) => d.slice());
    this.state = sc.init.map(() => undefined);
    this.slow = sc.init.map(() => undefined);
    const defaults = { AdaBound: ADABOUND_DEFAULTS, LAMB: LAMB_DEFAULTS, Lion: LION_DEFAULTS, Lookahead: sc.inner === 'SGD' ? SGD_DEFAULTS : ADAM_DEFAULTS }[sc.kind];
    this.options = sc.groups.map((g) => {
      const o: Options = { ...defaults, ...g.options };
      if (sc.kind === 'AdaBound') o.baseLr ??= o.lr;
      return o;
    });
  }
  step(grads: Array<Float32Array | null>): void {
    const starts = stepStarts(this.sc.groups.flatMap((g) => g.members.map((j) => grads[j] ?? null)));
    let at = 0;
    this.sc.groups.forEach((g, gi) => {
      const ps = g.members.map((j) => this.data[j]!);
      const gs = g.members.map((j) => grads[j] ?? null);
      const st = g.members.map((j) => this.state[j]);
      const o = this.options[gi]!;
      const kind = this.sc.kind === 'Lookahead' ? this.sc.inner! : this.sc.kind;
      if (kind === 'AdaBound') adaboundReference(ps, gs, st as never, o as AdaBoundGroupOptions & { baseLr: number });
      else if (kind === 'LAMB') lambReference(ps, gs, st as never, o as LAMBGroupOptions, starts.slice(at, at + g.members.length));
      else if (kind === 'Lion') lionReference(ps, gs, st as never, o as LionGroupOptions);
      else if (kind === 'SGD') sgdReference(ps, gs, st as Array<SgdRefState | undefined>, o as Required<SGDOptions>);
      else adamReference(ps, gs, st as Array<AdamRefState | undefined>, o as Required<AdamOptions>, false);
      g.members.forEach((j, k) => (this.state[j] = st[k] as RefState | undefined));
      at += g.members.length;
    });
    if (this.sc.kind === 'Lookahead') {
      if (this.counter === 0) lookaheadSyncReference(this.data, this.slow, this.sc.alpha!);
      this.counter = (this.counter + 1) % this.sc.k!;
    }
  }
}

/** Steps the native optimizer and the reference side by side; returns the first difference. */
function runBoth(sc: Scenario): string | null {
  const params = sc.init.map((d, j) => new Parameter(d.slice(), { name: `p${j}` }));
  const { opt, inner } = construct(sc, params);
  const ref = new Reference(sc);
  for (let t = 1; t <= sc.steps; t++) {
    sc.groups.forEach((_, gi) => {
      const lr = sc.lr?.(t, gi);
      if (lr === undefined) return;
      opt.paramGroups[gi]!.lr = lr;
      ref.options[gi]!.lr = lr;
    });
    const grads = sc.init.map((_, j) => sc.grad(t, j));
    params.forEach((p, j) => (p.grad = grads[j] ?? null));
    opt.step();
    ref.step(grads);
    for (let j = 0; j < params.length; j++) {
      const d = firstDiff(params[j]!.data, ref.data[j]!);
      if (d) return `after step ${t}, tensor ${j} (length ${ref.data[j]!.length}): ${d}`;
    }
  }
  const sd = inner.stateDict().state;
  for (let j = 0; j < params.length; j++) {
    const got = sd[`p${j}`];
    const want = ref.state[j];
    if (!got || !want) {
      if (got || want) return `tensor ${j}: native state ${got ? 'present' : 'absent'}, reference state ${want ? 'present' : 'absent'}`;
      continue;
    }
    if (got.step !== want.step) return `tensor ${j}: native step ${got.step} vs reference ${want.step}`;
    for (const k of Object.keys(got)) {
      if (k === 'step') continue;
      const d = firstDiff(decode(got[k] as number[]), want[k] as Float32Array);
      if (d) return `tensor ${j}, state ${k}: ${d}`;
    }
  }
  if (sc.kind === 'Lookahead') {
    const la = (opt as unknown as Lookahead).stateDict();
    if (la.counter !== ref.counter) return `counter ${la.counter} vs reference ${ref.counter}`;
    for (let j = 0; j < params.length; j++) {
      const got = la.slowState[`p${j}`]?.slowParam;
      const d = firstDiff(decode(got ?? []), ref.slow[j] ?? []);
      if (d) return `tensor ${j}, slow weights: ${d}`;
    }
  }
  return null;
}

function describe(sc: Scenario): string {
  return JSON.stringify({ kind: sc.kind, inner: sc.inner, k: sc.k, alpha: sc.alpha, lengths: sc.init.map((d) => d.length), steps: sc.steps, groups: sc.groups });
}

function checkBoth(t: ExecutionContext, sc: Scenario): void {
  const diff = runBoth(sc);
  if (diff) t.fail(`${diff}\nscenario: ${describe(sc)}`);
  else t.pass();
}

// ---------------------------------------------------------------- random scenarios

const LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1023, 1025];

/** A length above the parallel threshold (32768 elements) that is not a multiple of the chunk. */
function bigLength(r: Rng): number {
  for (;;) {
    const n = r.int(32769, 60000);
    if (n % 8192 !== 0) return n;
  }
}

function randomLr(r: Rng, zero = 0.05): number {
  return r.bool(zero) ? 0 : r.logUniform(-4, -0.5);
}

const beta = (r: Rng) => r.pick([0, 0.5, 0.8, 0.9, 0.99, 0.999, r.uniform(0, 1)]);

function randomOptions(kind: Kind | InnerKind, r: Rng): Options {
  switch (kind) {
    case 'AdaBound':
      return {
        // A group created with lr 0 cannot later take lr > 0 (its bounds would divide by 0).
        lr: randomLr(r, 0),
        betas: [beta(r), beta(r)],
        finalLr: r.pick([0.1, 0, r.logUniform(-3, 0)]),
        gamma: r.pick([1e-3, 0.5, r.uniform(1e-4, 0.999)]),
        eps: r.bool(0.05) ? 0 : r.logUniform(-10, -3),
        weightDecay: r.bool(0.5) ? 0 : r.logUniform(-4, -0.3),
        amsbound: r.bool(0.4),
        ...(r.bool(0.2) ? { baseLr: r.logUniform(-4, -1) } : {}),
      };
    case 'LAMB':
      return {
        lr: randomLr(r),
        betas: [beta(r), beta(r)],
        eps: r.bool(0.05) ? 0 : r.logUniform(-10, -3),
        weightDecay: r.bool(0.5) ? 0 : r.logUniform(-4, -0.3),
        clampValue: r.pick([10, 0.5, 0, 1e4, r.logUniform(-2, 2)]),
        debias: r.bool(0.4),
        adam: r.bool(0.15),
      };
    case 'Lion':
      return { lr: randomLr(r), betas: [r.pick([0, 0.5, 0.9, 0.95, 1, r.uniform(0, 1)]), r.pick([0, 0.9, 0.99, 1, r.uniform(0, 1)])], weightDecay: r.bool(0.5) ? 0 : r.logUniform(-3, 0) };
    case 'SGD': {
      const momentum = r.pick([0, 0.5, 0.9]);
      return { lr: randomLr(r), momentum, nesterov: momentum > 0 && r.bool(0.4), weightDecay: r.bool(0.5) ? 0 : r.logUniform(-4, -1) };
    }
    default:
      return { lr: randomLr(r), betas: [beta(r), beta(r)], weightDecay: r.bool(0.5) ? 0 : r.logUniform(-4, -1), amsgrad: r.bool(0.3) };
  }
}

/** Random floats with, sometimes, a few exact zeros of both signs. */
function randomData(r: Rng, n: number, scale: number): Float32Array {
  const d = r.floats(n, scale);
  if (n > 0 && r.bool(0.3)) for (let k = 0; k < 3; k++) d[r.int(0, n - 1)] = r.bool() ? 0 : -0;
  return d;
}

function randomScenario(kind: Kind, seed: number): Scenario {
  const r = new Rng(seed);
  const count = r.int(1, 5);
  const lengths = Array.from({ length: count }, () => r.pick(LENGTHS));
  if (r.bool(0.25)) lengths[r.int(0, count - 1)] = bigLength(r);
  const pScale = r.pick([1, 1e-3, 100]);
  const gScale = r.pick([1, 1e-4, 1e3]);
  const init = lengths.map((n) => randomData(r, n, pScale));
  const split = count >= 2 && r.bool(0.5) ? r.int(1, count - 1) : count;
  const all = lengths.map((_, j) => j);
  const inner: InnerKind | undefined = kind === 'Lookahead' ? r.pick(['SGD', 'Adam'] as const) : undefined;
  const optKind = inner ?? kind;
  const groups = [{ members: all.slice(0, split), options: randomOptions(optKind, r) }];
  if (split < count) groups.push({ members: all.slice(split), options: randomOptions(optKind, r) });
  const nulls = r.bool(0.5);
  const schedule = r.bool(0.4);
  return {
    kind,
    inner,
    k: kind === 'Lookahead' ? r.pick([1, 2, 3, 5]) : undefined,
    alpha: kind === 'Lookahead' ? r.pick([0.5, 0.8, 1, 0, r.uniform(0, 1)]) : undefined,
    init,
    groups,
    steps: r.int(3, kind === 'Lookahead' ? 12 : 8),
    grad: (_t, j) => (nulls && r.bool(0.2) ? null : randomData(r, lengths[j]!, gScale)),
    lr: schedule ? () => randomLr(r) : undefined,
  };
}

const matchesReference = test.macro({
  exec(t, kind: Kind, seed: number) {
    checkBoth(t, randomScenario(kind, seed));
  },
  title: (_p, kind: Kind, seed: number) => `${kind} equals the TypeScript reference bit for bit (random scenario ${seed})`,
});

for (const kind of KINDS) {
  for (let s = 1; s <= SEEDS; s++) test(matchesReference, kind, s * 7919 + kind.length);
}

// ---------------------------------------------------------------- fixture scenarios

const FILES = { AdaBound: 'adabound.json', LAMB: 'lamb.json', Lion: 'lion.json', Lookahead: 'lookahead.json' } as const;
const DEFAULT_LR = { AdaBound: 1e-3, LAMB: 1e-3, Lion: 1e-4 } as const;

for (const kind of KINDS) {
  type Case = { name: string; seed: number; options: Options; lrSchedule: string; skip: boolean; gradScale: number };
  const cases = (JSON.parse(readFileSync(new URL(`./fixtures/${FILES[kind]}`, import.meta.url), 'utf8')) as { cases: Case[] }).cases;
  test(`${kind} equals the TypeScript reference bit for bit on the ${cases.length} reference-library fixture scenarios`, (t) => {
    for (const c of cases) {
      const la = kind === 'Lookahead';
      const options = la ? (c.options.innerOptions as Options) : c.options;
      const lr = (options.lr as number | undefined) ?? DEFAULT_LR[kind as Exclude<Kind, 'Lookahead'>];
      const sc: Scenario = {
        kind,
        inner: la ? (c.options.inner as InnerKind) : undefined,
        k: la ? (c.options.k as number) : undefined,
        alpha: la ? (c.options.alpha as number) : undefined,
        init: FIXTURE_LENGTHS.map((n, j) => values(c.seed, 0, j, n)),
        groups: [
          { members: [0, 1, 2], options },
          { members: [3, 4], options: { ...options, lr: lr / 2 } },
        ],
        steps: FIXTURE_STEPS,
        grad: (s, j) => (c.skip && j === 1 && (s === 3 || s === 4) ? null : fixtureGrad(c.seed, s, j, FIXTURE_LENGTHS[j]!, c.gradScale)),
        lr: c.lrSchedule === 'linear' ? (s, gi) => linearLr(gi === 0 ? lr : lr / 2, s) : undefined,
      };
      const diff = runBoth(sc);
      if (diff) return t.fail(`${c.name}: ${diff}`);
    }
    t.pass();
  });
}

// ---------------------------------------------------------------- invariants

/** Runs a scenario natively; returns the final parameters, the inner state and the runner. */
function runNative(sc: Scenario, steps = sc.steps) {
  const params = scenarioParams(sc);
  const { opt, inner } = construct(sc, params);
  runSteps(sc, params, opt, steps);
  return { params, data: params.map((p) => p.data), state: inner.stateDict().state, opt };
}

/** A random scenario without -0 in the data, its grads and lrs fixed up front. */
function fixedScenario(kind: Kind, seed: number, patch: (o: Options) => Options): Scenario {
  const sc = randomScenario(kind, seed);
  fixGrads(sc);
  sc.groups = sc.groups.map((g) => ({ members: g.members, options: patch(g.options) }));
  const lr = sc.lr;
  const lrs = new Map<string, number | undefined>();
  sc.lr = lr ? (t, gi) => (lrs.has(`${t},${gi}`) ? lrs.get(`${t},${gi}`) : (lrs.set(`${t},${gi}`, lr(t, gi)), lrs.get(`${t},${gi}`))) : undefined;
  return sc;
}

for (const kind of ['AdaBound', 'LAMB', 'Lion'] as const) {
  test(`${kind} with lr 0 leaves the parameters unchanged, whatever the options`, (t) => {
    for (let s = 1; s <= 15; s++) {
      const sc = fixedScenario(kind, 31337 + s, (o) => o);
      // AdaBound keeps a positive lr at construction (it fixes baseLr) and steps with lr 0.
      if (kind !== 'AdaBound') sc.groups.forEach((g) => (g.options = { ...g.options, lr: 0 }));
      sc.lr = () => 0;
      const { data } = runNative(sc);
      expectInitial(t, sc, data, () => describe(sc));
    }
    t.pass();
  });
}

test('AdaBound created with lr 0 (baseLr 0) is a no-op while lr stays 0', (t) => {
  const p = new Parameter(values(1, 0, 0, 100));
  const before = p.data.slice();
  const opt = new AdaBound([p], { lr: 0 });
  p.grad = values(1, 1, 0, 100);
  opt.step();
  t.is(opt.paramGroups[0]!.baseLr, 0);
  t.deepEqual(p.data, before);
});

test('Lookahead with k = 1 and alpha = 1 equals its inner optimizer bit for bit', (t) => {
  for (let s = 1; s <= 12; s++) {
    const sc = fixedScenario('Lookahead', 2024 + s, (o) => o);
    sc.k = 1;
    sc.alpha = 1;
    const wrapped = runNative(sc);
    const alone = runNative({ ...sc, kind: sc.inner! as never });
    wrapped.data.forEach((d, j) => {
      const diff = firstDiff(d, alone.data[j]!);
      if (diff) t.fail(`tensor ${j}: ${diff}\nscenario: ${describe(sc)}`);
    });
    t.deepEqual(wrapped.state, alone.state);
  }
  t.pass();
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

test('the new optimizers give the same bits with 1 and 3 threads', (t) => {
  const before = getNumThreads();
  try {
    for (const kind of KINDS) {
      const sc = fixedScenario(kind, 99, (o) => o);
      addLongTensors(sc);
      setNumThreads(1);
      const one = runNative(sc);
      setNumThreads(3);
      const three = runNative(sc);
      one.data.forEach((d, j) => {
        const diff = firstDiff(three.data[j]!, d);
        if (diff) t.fail(`${kind} tensor ${j}: ${diff}`);
      });
      t.deepEqual(three.state, one.state, `${kind} state`);
    }
    t.pass();
  } finally {
    setNumThreads(before);
  }
});

// ---------------------------------------------------------------- stateDict round trips

/** Runs `split` steps, saves through JSON, restores into a fresh optimizer, runs the rest. */
function resumed(sc: Scenario, split: number, tweak?: (sc: Scenario) => Scenario) {
  const first = runNative(sc, split);
  const saved = JSON.parse(JSON.stringify(first.opt.stateDict())) as never;
  const params = first.params.map((p, j) => new Parameter(p.data.slice(), { name: `p${j}` }));
  const { opt } = construct(tweak ? tweak(sc) : sc, params);
  opt.loadStateDict(saved);
  for (let t = split + 1; t <= sc.steps; t++) {
    sc.groups.forEach((_, gi) => {
      const lr = sc.lr?.(t, gi);
      if (lr !== undefined) opt.paramGroups[gi]!.lr = lr;
    });
    params.forEach((p, j) => (p.grad = sc.grad(t, j)));
    opt.step();
  }
  return { data: params.map((p) => p.data), sd: opt.stateDict() };
}

for (const kind of KINDS) {
  test(`${kind}: stateDict through JSON and loadStateDict reproduce an uninterrupted run bit for bit`, (t) => {
    for (let s = 1; s <= 8; s++) {
      const sc = fixedScenario(kind, 555 + s, (o) => o);
      sc.steps = Math.max(sc.steps, 7);
      const grads = Array.from({ length: sc.steps }, (_, i) => sc.init.map((d, j) => (i === 2 && j === 0 ? null : values(s, i + 1, j, d.length))));
      sc.grad = (step, j) => grads[step - 1]![j]!;
      if (kind === 'Lookahead') sc.k = 3; // split at step 4: mid-cycle, counter 1
      const whole = runNative(sc);
      // A fresh optimizer built with other lrs: the saved groups (AdaBound: baseLr too) win.
      const other = (x: Scenario): Scenario => ({ ...x, groups: x.groups.map((g) => ({ ...g, options: { ...g.options, lr: 0.123 } })) });
      const again = resumed(sc, 4, other);
      whole.data.forEach((d, j) => {
        const diff = firstDiff(again.data[j]!, d);
        if (diff) t.fail(`tensor ${j}: ${diff}\nscenario: ${describe(sc)}`);
      });
      t.deepEqual(again.sd, whole.opt.stateDict(), 'state dicts');
    }
  });
}

test('AdaBound keeps baseLr in its param groups, so it survives a state dict', (t) => {
  const p = new Parameter(values(3, 0, 0, 10), { name: 'w' });
  const opt = new AdaBound([p], { lr: 0.01 });
  opt.paramGroups[0]!.lr = 0.001;
  const sd = opt.stateDict();
  t.is(sd.paramGroups[0]!.baseLr, 0.01);
  const fresh = new AdaBound([new Parameter(values(3, 0, 0, 10), { name: 'w' })], { lr: 0.001 });
  t.is(fresh.paramGroups[0]!.baseLr, 0.001);
  fresh.loadStateDict(JSON.parse(JSON.stringify(sd)));
  t.is(fresh.paramGroups[0]!.baseLr, 0.01);
  t.is(fresh.paramGroups[0]!.lr, 0.001);
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

// ---------------------------------------------------------------- errors

function twoParams() {
  return [new Parameter(values(9, 0, 0, 5), { name: 'a' }), new Parameter(values(9, 0, 1, 3), { name: 'b' })];
}

const badOptions: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
  ['AdaBound gamma 0', () => new AdaBound(twoParams(), { gamma: 0 }), RangeError, /^AdaBound: expected gamma to be a finite number > 0 and < 1, received 0$/],
  ['AdaBound gamma 1', () => new AdaBound(twoParams(), { gamma: 1 }), RangeError, /gamma .* received 1$/],
  ['AdaBound finalLr -1', () => new AdaBound(twoParams(), { finalLr: -1 }), RangeError, /^AdaBound: expected finalLr to be a finite number >= 0, received -1$/],
  ['AdaBound betas [1, 0.9]', () => new AdaBound(twoParams(), { betas: [1, 0.9] }), RangeError, /betas\[0\]/],
  ['AdaBound amsbound "yes"', () => new AdaBound(twoParams(), { amsbound: 'yes' as never }), TypeError, /^AdaBound: expected amsbound to be a boolean, received "yes"$/],
  ['AdaBound baseLr "x"', () => new AdaBound(twoParams(), { baseLr: 'x' as never }), TypeError, /baseLr .* or null, received "x"$/],
  ['AdaBound baseLr 0 with lr 0.1', () => new AdaBound(twoParams(), { lr: 0.1, baseLr: 0 }), RangeError, /baseLr is 0/],
  ['AdaBound unknown option', () => new AdaBound(twoParams(), { finalLR: 0.1 } as never), TypeError, /unknown option "finalLR"/],
  ['LAMB clampValue -1', () => new LAMB(twoParams(), { clampValue: -1 }), RangeError, /^LAMB: expected clampValue to be a finite number >= 0, received -1$/],
  ['LAMB eps NaN', () => new LAMB(twoParams(), { eps: NaN }), RangeError, /eps .* received NaN$/],
  ['LAMB debias 1', () => new LAMB(twoParams(), { debias: 1 as never }), TypeError, /debias to be a boolean/],
  ['LAMB lr -1 in a group', () => new LAMB([{ params: twoParams(), lr: -1 }]), RangeError, /lr \(param group 0\) to be a finite number >= 0, received -1/],
  ['Lion betas [1.1, 0.9]', () => new Lion(twoParams(), { betas: [1.1, 0.9] }), RangeError, /^Lion: expected betas\[0\] to be a finite number >= 0 and <= 1, received 1.1$/],
  ['Lion betas 0.9', () => new Lion(twoParams(), { betas: 0.9 as never }), TypeError, /pair/],
  ['Lion weightDecay -0.1', () => new Lion(twoParams(), { weightDecay: -0.1 }), RangeError, /weightDecay/],
  ['Lookahead over a non-optimizer', () => new Lookahead({ paramGroups: [] } as never), TypeError, /^Lookahead: expected optimizer to be a ferroptim optimizer/],
  ['Lookahead k 0', () => new Lookahead(new SGD(twoParams()), { k: 0 }), RangeError, /^Lookahead: expected k to be an integer >= 1, received 0$/],
  ['Lookahead k 2.5', () => new Lookahead(new SGD(twoParams()), { k: 2.5 }), RangeError, /k to be an integer/],
  ['Lookahead alpha -0.5', () => new Lookahead(new SGD(twoParams()), { alpha: -0.5 }), RangeError, /^Lookahead: expected alpha to be a finite number >= 0, received -0.5$/],
  ['Lookahead alpha "0.5"', () => new Lookahead(new SGD(twoParams()), { alpha: '0.5' as never }), TypeError, /alpha/],
  ['Lookahead unknown option', () => new Lookahead(new SGD(twoParams()), { K: 5 } as never), TypeError, /unknown option "K"/],
];

for (const [name, make, Err, message] of badOptions) {
  test(`rejects ${name}`, (t) => {
    const e = t.throws(make, { instanceOf: Err });
    t.regex(e!.message, message);
  });
}

test('a bad option set between steps throws at the step and changes nothing', (t) => {
  const cases: Array<[string, (ps: Parameter[]) => { paramGroups: Array<Record<string, unknown>>; step(): unknown; stateDict(): unknown }, string, unknown]> = [
    ['AdaBound', (ps) => new AdaBound(ps, { lr: 0.01 }) as never, 'gamma', -1],
    ['LAMB', (ps) => new LAMB(ps, { lr: 0.01 }) as never, 'clampValue', NaN],
    ['Lion', (ps) => new Lion(ps, { lr: 0.01 }) as never, 'betas', [0.9]],
  ];
  for (const [label, make, key, bad] of cases) {
    const ps = twoParams();
    const opt = make(ps);
    ps.forEach((p, j) => (p.grad = values(4, 1, j, p.numel)));
    opt.step();
    const data = ps.map((p) => p.data.slice());
    const sd = JSON.stringify((opt.stateDict() as { state: unknown }).state);
    opt.paramGroups[0]![key] = bad;
    t.throws(() => opt.step(), { instanceOf: Array.isArray(bad) ? TypeError : RangeError }, label);
    ps.forEach((p, j) => t.deepEqual(p.data, data[j], `${label} data`));
    t.is(JSON.stringify((opt.stateDict() as { state: unknown }).state), sd, `${label} state`);
  }
});

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
  structuredClone(ps[1]!.data.buffer, { transfer: [ps[1]!.data.buffer] });
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

// Lion's interpolations round once, as torch's fused multiply-add. The case below is one where
// rounding the exact f64 sum first lands on a float32 midpoint (a double rounding): with
// c = 1 + 2⁻²³ and a·b = −(2⁻²⁴ − 2⁻⁶⁰), the exact sum 1 + 2⁻²⁴ + 2⁻⁶⁰ is above the midpoint
// between 1 and 1 + 2⁻²³, but its f64 rounding is the midpoint itself, which ties to 1.
const ONE_UP = 1 + 2 ** -23;
const A = 1 + 2 ** -18; // a·b = −2⁻²⁴(1 + 2⁻¹⁸)(1 − 2⁻¹⁸) = −(2⁻²⁴ − 2⁻⁶⁰)
const B = -(2 ** -24) * (1 - 2 ** -18);

test('fmaF32 rounds a·b + c once, where rounding the f64 sum would round twice', (t) => {
  t.is(Math.fround(A * B + ONE_UP), 1, 'the double-rounded result this case is built to catch');
  t.is(fmaF32(A, B, ONE_UP), ONE_UP);
  t.is(fmaF32(-A, B, -ONE_UP), -ONE_UP);
  // Exact sums, signed zeros, infinities and NaN pass through as in the hardware instruction.
  t.is(fmaF32(1.5, 2, 0.25), 3.25);
  t.true(Object.is(fmaF32(0, 1, -0), 0));
  t.true(Object.is(fmaF32(-0, 1, -0), -0));
  t.is(fmaF32(Infinity, 1, 1), Infinity);
  t.true(Number.isNaN(fmaF32(Infinity, 1, -Infinity)));
});

test('the native Lion kernel takes the fused rounding of its momentum update', (t) => {
  // β2 = 2⁻¹⁸: m ← fma(g, 1 − 2⁻¹⁸, m·2⁻¹⁸) with m·2⁻¹⁸ = 1 + 2⁻²³ and g·(1 − 2⁻¹⁸) = a·b above.
  const p = new Parameter(new Float32Array([0.5]), { name: 'w' });
  p.grad = new Float32Array([-(2 ** -24) * (1 + 2 ** -18)]);
  const opt = new Lion([p], { lr: 1e-3, betas: [0.9, 2 ** -18], weightDecay: 0 });
  opt.loadStateDict({ ...opt.stateDict(), state: { w: { step: 0, expAvg: [ONE_UP * 2 ** 18] } } } as never);
  opt.step();
  const m = (opt.stateDict().state.w!.expAvg as number[])[0];
  t.is(m, ONE_UP);
});
