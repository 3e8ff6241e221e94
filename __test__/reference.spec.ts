/**
 * The native kernels against the plain TypeScript reference (`__test__/oracles/torch.ts`), bit for
 * bit: both round every operation to float32 in the same order, so every parameter and every
 * state buffer must be identical (`Object.is` per element, so NaN equals NaN and 0 differs
 * from -0). Scenarios are randomized (seeded, so reproducible): lengths around the SIMD widths
 * and the chunked multithreaded path, hyperparameters and flags, param group splits, lr changes
 * between steps and null grads. Plus invariants: lr = 0 changes nothing, AdamW with weight
 * decay 0 is Adam, SGD without momentum is plain gradient descent.
 */
import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import {
  Adam,
  ADAM_DEFAULTS,
  ADAMW_DEFAULTS,
  AdamW,
  getNumThreads,
  Parameter,
  SGD,
  SGD_DEFAULTS,
  setNumThreads,
  type AdamOptions,
  type Optimizer,
  type SGDOptions,
} from '../ts/index.js';
import { adamReference, sgdReference, type AdamRefState, type SgdRefState } from './oracles/torch.js';
import { addLongTensors, expectInitial, fixScenario, runSteps, scenarioParams, type ScenarioBase } from './helpers/scenario.js';
import { decode, firstDiff, stateDiff } from './helpers/compare.js';
import { FIXTURE_LENGTHS, FIXTURE_STEPS, fixtureGrad, linearLr, Rng, values } from './helpers/data.js';

type Kind = 'SGD' | 'Adam' | 'AdamW';
type Options = SGDOptions & AdamOptions;
const KINDS: readonly Kind[] = ['SGD', 'Adam', 'AdamW'];
const DEFAULTS = { SGD: SGD_DEFAULTS, Adam: ADAM_DEFAULTS, AdamW: ADAMW_DEFAULTS } as const;
const SEEDS = 40;

/** A reproducible run: initial data, groups, and per step the lrs and grads. */
interface Scenario extends ScenarioBase<Options> {
  kind: Kind;
}

function construct(kind: Kind, groups: Array<{ params: Parameter[] } & Options>): Optimizer<{ lr: number }> {
  const Ctor = kind === 'SGD' ? SGD : kind === 'Adam' ? Adam : AdamW;
  return new Ctor(groups) as unknown as Optimizer<{ lr: number }>;
}

type RefState = SgdRefState & AdamRefState;

/** Steps the native optimizer and the reference side by side; returns the first difference. */
function runBoth(sc: Scenario): string | null {
  const params = sc.init.map((d, j) => new Parameter(d.slice(), { name: `p${j}` }));
  const ref = sc.init.map((d) => d.slice());
  const opt = construct(sc.kind, sc.groups.map((g) => ({ params: g.members.map((j) => params[j]!), ...g.options })));
  const refOptions = sc.groups.map((g) => ({ ...DEFAULTS[sc.kind], ...g.options }));
  const refState: Array<RefState | undefined> = sc.init.map(() => undefined);
  for (let t = 1; t <= sc.steps; t++) {
    sc.groups.forEach((_, gi) => {
      const lr = sc.lr?.(t, gi);
      if (lr === undefined) return;
      opt.paramGroups[gi]!.lr = lr;
      refOptions[gi]!.lr = lr;
    });
    const grads = sc.init.map((_, j) => sc.grad(t, j));
    params.forEach((p, j) => (p.grad = grads[j] ?? null));
    opt.step();
    sc.groups.forEach((g, gi) => {
      const ps = g.members.map((j) => ref[j]!);
      const gs = g.members.map((j) => grads[j] ?? null);
      const st = g.members.map((j) => refState[j]);
      if (sc.kind === 'SGD') sgdReference(ps, gs, st, refOptions[gi] as Required<SGDOptions>);
      else adamReference(ps, gs, st, refOptions[gi] as Required<AdamOptions>, sc.kind === 'AdamW');
      g.members.forEach((j, k) => (refState[j] = st[k]));
    });
    for (let j = 0; j < params.length; j++) {
      const d = firstDiff(params[j]!.data, ref[j]!);
      if (d) return `after step ${t}, tensor ${j} (length ${ref[j]!.length}): ${d}`;
    }
  }
  const sd = opt.stateDict().state;
  for (let j = 0; j < params.length; j++) {
    const got = sd[`p${j}`];
    const want = refState[j];
    if (!got || !want) {
      if (got || want) return `tensor ${j}: native state ${got ? 'present' : 'absent'}, reference state ${want ? 'present' : 'absent'}`;
      continue;
    }
    if (got.step !== want.step) return `tensor ${j}: native step ${got.step} vs reference ${want.step}`;
    const names = (o: object) => Object.keys(o).filter((k) => k !== 'step' && (o as Record<string, unknown>)[k] !== undefined).sort().join(',');
    if (names(got) !== names(want)) return `tensor ${j}: native state buffers [${names(got)}] vs reference [${names(want)}]`;
    for (const k of Object.keys(got)) {
      if (k === 'step') continue;
      const d = firstDiff(decode(got[k]!), want[k as keyof RefState] as Float32Array);
      if (d) return `tensor ${j}, state ${k}: ${d}`;
    }
  }
  return null;
}

function describe(sc: Scenario): string {
  return JSON.stringify({ kind: sc.kind, lengths: sc.init.map((d) => d.length), steps: sc.steps, groups: sc.groups });
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

function randomLr(r: Rng): number {
  return r.bool(0.05) ? 0 : r.logUniform(-4, -0.5);
}

function randomOptions(kind: Kind, r: Rng): Options {
  if (kind === 'SGD') {
    const momentum = r.pick([0, 0, 0.5, 0.9, r.uniform(0, 1)]);
    const nesterov = momentum > 0 && r.bool(0.4);
    const dampening = nesterov ? 0 : r.pick([0, 0, 0.1, r.uniform(0, 1)]);
    return { lr: randomLr(r), momentum, dampening, nesterov, weightDecay: r.bool(0.5) ? 0 : r.logUniform(-4, -1), maximize: r.bool(0.3) };
  }
  return {
    lr: randomLr(r),
    // beta1 > 0.5 and <= 0.5 take ATen's two lerp forms
    betas: [r.pick([0, 0.5, 0.8, 0.9, r.uniform(0, 1)]), r.pick([0, 0.5, 0.99, 0.999, r.uniform(0, 1)])],
    eps: r.bool(0.05) ? 0 : r.logUniform(-10, -3),
    weightDecay: r.bool(0.4) ? 0 : r.logUniform(-4, -0.3),
    amsgrad: r.bool(0.4),
    maximize: r.bool(0.3),
  };
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
  if (r.bool(0.2)) lengths[r.int(0, count - 1)] = bigLength(r);
  const pScale = r.pick([1, 1e-3, 100]);
  const gScale = r.pick([1, 1e-4, 1e3]);
  const init = lengths.map((n) => randomData(r, n, pScale));
  const split = count >= 2 && r.bool(0.5) ? r.int(1, count - 1) : count;
  const all = lengths.map((_, j) => j);
  const groups = [{ members: all.slice(0, split), options: randomOptions(kind, r) }];
  if (split < count) groups.push({ members: all.slice(split), options: randomOptions(kind, r) });
  const nulls = r.bool(0.5);
  const schedule = r.bool(0.4);
  return {
    kind,
    init,
    groups,
    steps: r.int(3, 8),
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

for (const [file, kind] of [['sgd.json', 'SGD'], ['adam.json', 'Adam'], ['adamw.json', 'AdamW']] as const) {
  type Case = { name: string; seed: number; options: Options; lrSchedule: string; skip: boolean; gradScale: number };
  const cases = (JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8')) as { cases: Case[] }).cases;
  test(`${kind} equals the TypeScript reference bit for bit on the ${cases.length} PyTorch fixture scenarios`, (t) => {
    for (const c of cases) {
      const lr = c.options.lr ?? DEFAULTS[kind].lr;
      const sc: Scenario = {
        kind,
        init: FIXTURE_LENGTHS.map((n, j) => values(c.seed, 0, j, n)),
        groups: [
          { members: [0, 1, 2], options: c.options },
          { members: [3, 4], options: { ...c.options, lr: lr / 2 } },
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

/** Runs a scenario natively; returns the final parameters and state dict. */
function runNative(sc: Scenario) {
  const params = scenarioParams(sc);
  const opt = construct(sc.kind, sc.groups.map((g) => ({ params: g.members.map((j) => params[j]!), ...g.options })));
  runSteps(sc, params, opt);
  return { data: params.map((p) => p.data), state: opt.stateDict().state };
}

/** A random scenario without -0 in the data and with eps > 0, its grads fixed up front. */
function fixedScenario(kind: Kind, seed: number, patch: (o: Options) => Options): Scenario {
  return fixScenario(randomScenario(kind, seed), patch);
}

for (const kind of KINDS) {
  test(`${kind} with lr 0 leaves the parameters unchanged, whatever the options`, (t) => {
    for (let s = 1; s <= 15; s++) {
      const sc = fixedScenario(kind, 31337 + s, (o) => ({ ...o, lr: 0 }));
      const { data } = runNative(sc);
      expectInitial(t, sc, data, () => describe(sc));
    }
    t.pass();
  });
}

test('AdamW with weight decay 0 equals Adam bit for bit', (t) => {
  for (let s = 1; s <= 15; s++) {
    const sc = fixedScenario('Adam', 4242 + s, (o) => ({ ...o, weightDecay: 0 }));
    const adam = runNative(sc);
    const adamw = runNative({ ...sc, kind: 'AdamW' });
    adam.data.forEach((d, j) => {
      const diff = firstDiff(adamw.data[j]!, d);
      if (diff) t.fail(`tensor ${j}: ${diff}\nscenario: ${describe(sc)}`);
    });
    const diff = stateDiff(adamw.state, adam.state);
    if (diff) t.fail(`${diff}\nscenario: ${describe(sc)}`);
  }
  t.pass();
});

test('SGD without momentum is plain gradient descent, θ ← θ − γ·(±g + λθ)', (t) => {
  const f = Math.fround;
  for (let s = 1; s <= 15; s++) {
    const sc = fixedScenario('SGD', 777 + s, (o) => ({ ...o, momentum: 0, nesterov: false }));
    const { data, state } = runNative(sc);
    const want = sc.init.map((d) => d.slice());
    for (let step = 1; step <= sc.steps; step++) {
      for (const g of sc.groups) {
        const o = { ...SGD_DEFAULTS, ...g.options };
        for (const j of g.members) {
          const grad = sc.grad(step, j);
          if (!grad) continue;
          const p = want[j]!;
          for (let i = 0; i < p.length; i++) {
            const d = o.weightDecay !== 0 ? f((o.maximize ? -grad[i]! : grad[i]!) + f(f(o.weightDecay) * p[i]!)) : o.maximize ? -grad[i]! : grad[i]!;
            p[i] = f(p[i]! - f(f(o.lr) * d));
          }
        }
      }
    }
    data.forEach((d, j) => {
      const diff = firstDiff(d, want[j]!);
      if (diff) t.fail(`tensor ${j}: ${diff}\nscenario: ${describe(sc)}`);
    });
    for (const entry of Object.values(state)) t.deepEqual(Object.keys(entry), ['step'], 'no momentum buffer');
  }
});

test('native results do not depend on the thread count', (t) => {
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
      const diff = stateDiff(three.state, one.state);
      if (diff) t.fail(`${kind}: ${diff}`);
    }
    t.pass();
  } finally {
    setNumThreads(before);
  }
});
