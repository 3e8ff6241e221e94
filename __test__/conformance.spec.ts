/**
 * One conformance suite over every optimizer of the registry `OPTIMIZERS`: an optimizer added to
 * the registry is checked here without touching this file (its oracle goes in
 * `__test__/oracles/index.ts`, its fixture tolerance in `helpers/fixtures.ts`; until they exist
 * its tests fail, naming what is missing). For each optimizer:
 *
 * 1. its reference fixture (`descriptor.reference.fixture`, from PyTorch, torch-optimizer or
 *    lion-pytorch): every case replayed through the public API, every sampled parameter and
 *    state value within the optimizer's tolerance;
 * 2. bit-exactness with its TS oracle at every SIMD level this CPU has (one child process per
 *    level, `helpers/conformance-child.ts`) and 1, 2 and 3 threads, on seeded random scenarios,
 *    every awkward length, NaN and infinite gradients, its fixture cases and its option variants
 *    (every boolean option toggled, plus the oracle table's variants), with per-group options and
 *    null gradients; for an optimizer with `train()` and `eval()` (Schedule-Free), with modes
 *    switched between steps and its per-group scalar state compared too;
 * 3. lr = 0 leaves the parameters bit-identical (or, where the table documents otherwise, moves them);
 * 4. `stateDict` keys (step, the descriptor's slots, its scalar state) and a round trip through
 *    JSON that resumes bit for bit;
 * 5. every option of the descriptor: wrong types and values just outside its range throw a
 *    TypeError or RangeError naming the option and the value, in the constructor, a param group,
 *    `addParamGroup`, between steps and in `loadStateDict`, and change nothing; unknown keys too;
 * 6. `skipNonFinite`: a step with NaN or ±Infinity gradients is skipped bit-exactly; without it
 *    the step is applied as the oracle applies it;
 * 7. the step's gradient norms (GradNormMonitor, `observeSteps`) equal Σg² computed in TS.
 */
import test, { type ExecutionContext } from 'ava';
import { fileURLToPath } from 'node:url';
import * as lib from '../ts/index.js';
import { getDetectedSimdLevel, getTotalNorm, GradNormMonitor, Optimizer, OPTIMIZERS, Parameter, type NumberRule, type SimdLevel } from '../ts/index.js';
import { kernelSignature } from '../ts/native.js';
import { packingPlan, pairRange } from '../ts/optim/descriptor.js';
import { ruleText } from '../ts/validate.js';
import { chunkedSumSquares } from './oracles/third-party.js';
import type { OracleOptions } from './oracles/index.js';
import { runAtLevel } from './helpers/at-level.js';
import {
  badValues,
  className,
  compareWithOracle,
  CONFORMANCE_THREADS,
  create,
  defaultsOfName,
  describeVariant,
  escapeRegExp,
  goodEdgeValues,
  makeParams,
  NAMES,
  oracleOf,
  optionSpecs,
  randomScenarioOf,
  registered,
  runOracle,
  shown,
  unknownKeys,
  variantScenario,
  variantsOf,
  withLr,
  type AnyOptimizer,
  type BadValue,
  type ChildReport,
} from './helpers/conformance.js';
import { firstDiff, groupOptions, hex, sameDeep, snapshot, stateBytes, stateDiff, type Snapshot } from './helpers/compare.js';
import { FIXTURE_LENGTHS, FIXTURE_STEPS, fixtureGrad, POISONS, sampleIndices, values, type Poison } from './helpers/data.js';
import { CASE_TOLERANCE, Errors, FIXTURE_TOLERANCE, fixtureParams, loadFixture, referenceVersion, replayCase, type FixtureFile } from './helpers/fixtures.js';
import { describeScenario, initialDiff, runScenario, scenarioParams, type Scenario } from './helpers/scenario.js';

// ------------------------------------------------------------------------------------- plumbing

/** `make(s)` for s = 1, 2, …, each computed once: gradients shared by the runs of every optimizer (no optimizer writes its gradients). */
function cached<T>(make: (s: number) => T): (s: number) => T {
  const memo = new Map<number, T>();
  return (s) => {
    if (!memo.has(s)) memo.set(s, make(s));
    return memo.get(s)!;
  };
}

function assertUnchanged(t: ExecutionContext, what: string, before: Snapshot, params: readonly Parameter[], opt?: AnyOptimizer): void {
  const after = snapshot(params, opt);
  t.deepEqual(after.data, before.data, `${what}: parameter data changed`);
  t.deepEqual(after.grads, before.grads, `${what}: gradients changed`);
  t.true(
    params.every((p, i) => p.grad === before.gradObjects[i]),
    `${what}: a grad object was replaced`,
  );
  if (opt) {
    t.deepEqual(after.state, before.state, `${what}: optimizer state changed`);
    t.is(after.groups, before.groups, `${what}: param groups changed`);
  }
}

/** Steps once with fresh gradients: every parameter must move and its step counter advance. */
function assertWorks(t: ExecutionContext, what: string, opt: AnyOptimizer, params: readonly Parameter[]): void {
  const steps = Object.fromEntries(Object.entries(opt.stateDict().state).map(([k, e]) => [k, e.step]));
  params.forEach((p, j) => (p.grad = values(99, 1, j, p.numel)));
  const before = params.map((p) => hex(p.data));
  opt.step();
  params.forEach((p, i) => t.not(hex(p.data), before[i], `${what}: parameter ${i} did not move in the step after the error`));
  const state = opt.stateDict().state;
  for (const [k, step] of Object.entries(steps)) t.is(state[k]!.step, step + 1, `${what}: step counter of ${k}`);
}

const ERROR_LENGTHS = [3, 17, 5, 9, 1];

/** Two groups (3 + 2 parameters, the second at half the lr), warmed up by two steps, fresh gradients set. */
function warmed(name: string): { opt: AnyOptimizer; params: Parameter[] } {
  const params = makeParams(ERROR_LENGTHS, 1);
  const o = withLr({});
  const opt = create(name, [{ params: params.slice(0, 3) }, { params: params.slice(3), lr: (o.lr as number) / 2 }], o);
  for (let s = 1; s <= 2; s++) {
    params.forEach((p, j) => (p.grad = values(10, s, j, p.numel)));
    opt.step();
  }
  params.forEach((p, j) => (p.grad = values(20, 0, j, p.numel)));
  return { opt, params };
}

// ------------------------------------------------------------------------------------- the registry

test('the registry lists every optimizer class the package exports, each under its lower-case class name', (t) => {
  const exported = Object.entries(lib)
    .filter(([, v]) => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof Optimizer)
    .map(([k]) => k)
    .sort();
  t.deepEqual(Object.values(OPTIMIZERS).map((r) => r.descriptor.name).sort(), exported);
  for (const [key, r] of Object.entries(OPTIMIZERS)) {
    t.is(key, r.descriptor.name.toLowerCase());
    t.is(r.Class.name, r.descriptor.name);
  }
  t.log(`optimizers: ${NAMES.map(className).join(', ')}`);
});

// ------------------------------------------------------------------------------------- SIMD levels

const RANK: Record<SimdLevel, number> = { baseline: 0, avx2: 1, avx512: 2 };
const DETECTED = getDetectedSimdLevel();
const ALL_LEVELS: SimdLevel[] = ['avx512', 'avx2', 'baseline'];
const LEVELS = ALL_LEVELS.filter((l) => RANK[l] <= RANK[DETECTED]);
const CHILD = fileURLToPath(new URL('./helpers/conformance-child.ts', import.meta.url));

/** Runs the oracle comparisons in a child process at a forced SIMD level. */
const child = (level: SimdLevel) => runAtLevel<ChildReport>(CHILD, level);

/** Every child, started together when the suite loads. */
const reports = new Map<SimdLevel, Promise<ChildReport>>(LEVELS.map((l) => [l, child(l)]));
// Failures are reported by the tests that await them.
for (const r of reports.values()) r.catch(() => {});

for (const level of ALL_LEVELS.filter((l) => !LEVELS.includes(l))) {
  test.skip(`bit-exactness with the oracles at ${level}: not run, this CPU's best level is ${DETECTED}`, () => {});
}

// ------------------------------------------------------------------------------------- data

const RESUME_NAMES = ['emb', 'fc.weight', 'fc.bias', 'head'];
const RESUME_LENGTHS = [33, 20, 5, 40001];
const resumeGrads = cached((s) => RESUME_LENGTHS.map((n, j) => values(7, s, j, n)));

const NF_SEED = 4242;
const nfGrads = cached((s) => FIXTURE_LENGTHS.map((n, j) => fixtureGrad(NF_SEED, s, j, n, 1)));

const MONITOR_LENGTHS = [40001, 7, 70000, 32, 9];
const monitorGrads = cached((s) => MONITOR_LENGTHS.map((n, j) => values(8, s, j, n).map((x) => x * 0.1 * s)));

/** The oracle table's entry for titles, or nothing when it is missing (its tests then fail, naming it). */
function oracleDoc(name: string): { lrZero?: { noop: boolean } } {
  try {
    return oracleOf(name);
  } catch {
    return {};
  }
}

// ------------------------------------------------------------------------------------- per optimizer

test("every descriptor fills exactly its kernel's declared hyperparameters and names its slots and scalar state; a descriptor that disagrees is refused", (t) => {
  for (const [name, { descriptor }] of Object.entries(OPTIMIZERS)) {
    const sig = kernelSignature(descriptor.kernel);
    t.is(packingPlan(descriptor).length, sig.hyper.length, name);
    t.deepEqual([...descriptor.slots], sig.slots.map((s) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())), name);
  }
  const adam = OPTIMIZERS.adam!.descriptor;
  const broken = [
    { ...adam, options: { ...adam.options, amsgrad: undefined } as never },
    { ...adam, options: { ...adam.options, momentum: { type: 'number', default: 0, range: {} } } as never },
    { ...adam, fixed: {} },
    { ...adam, slots: ['expAvg', 'expAvgSq'] },
    { ...adam, scalarState: 'muProduct' },
  ];
  for (const d of broken) t.throws(() => packingPlan(JSON.parse(JSON.stringify(d)) as typeof adam), { message: /descriptor and the adam kernel disagree/ });
});

for (const name of NAMES) {
  const { descriptor } = registered(name);
  const N = descriptor.name;

  // ----------------------------------------------------------------------- 1. reference fixture

  let fixture: FixtureFile | undefined;
  try {
    fixture = loadFixture(descriptor.reference.fixture);
  } catch (e) {
    test(`${N}: has its reference fixture ${descriptor.reference.fixture}`, (t) => t.fail(String(e)));
  }
  if (fixture) {
    const file = fixture;
    const impl = `${descriptor.reference.implementation} (${referenceVersion(descriptor.reference.implementation, file)})`;
    test(`${N}: ${descriptor.reference.fixture} is its reference fixture, made with ${impl}`, (t) => {
      t.is(file.optimizer, N);
      t.true(file.cases.length > 0);
      t.deepEqual(file.lengths, [...FIXTURE_LENGTHS]);
      t.is(file.steps, FIXTURE_STEPS);
    });
    for (const c of file.cases) {
      test(`${N}: matches ${impl} within its tolerance on fixture case "${c.name}"`, (t) => {
        const tol = CASE_TOLERANCE[`${N}: ${c.name}`] ?? FIXTURE_TOLERANCE[name];
        if (!tol) return t.fail(`${N} has no fixture tolerance: add one to FIXTURE_TOLERANCE in __test__/helpers/fixtures.ts`);
        const params = fixtureParams(c);
        const lr = (c.options.lr as number | undefined) ?? (defaultsOfName(name).lr as number);
        const opt = create(name, [{ params: params.slice(0, 3) }, { params: params.slice(3, 5), lr: lr / 2 }], c.options);
        replayCase(c, params, opt, [lr, lr / 2]);
        const err = new Errors(tol, descriptor.reference.implementation);
        params.forEach((p, j) => {
          const fin = c.final[j]!;
          t.deepEqual(fin.indices, sampleIndices(p.numel), `sample indices of tensor ${j}`);
          fin.indices.forEach((i, k) => err.check(`tensor ${j}[${i}]`, p.data[i]!, fin.values[k]!));
        });
        const sd = opt.stateDict();
        const st = sd.state.t3;
        if (!st) return t.fail('no state for tensor 3');
        const idx3 = sampleIndices(FIXTURE_LENGTHS[3]!);
        const stateNames = (o: object) =>
          Object.keys(o)
            .filter((k) => k !== 'step')
            .sort();
        t.deepEqual(stateNames(st), stateNames(c.state3), 'state entries of tensor 3');
        for (const [key, want] of Object.entries(c.state3)) {
          if (key === 'step') t.is(st.step, want as number, 'step of tensor 3');
          else if (typeof want === 'number') err.check(`state t3.${key}`, st[key] as number, want);
          else want.forEach((w, k) => err.check(`state t3.${key}[${idx3[k]}]`, Number((st[key] as Array<number | string>)[idx3[k]!]), w));
        }
        // Each parameter counts its own steps: tensor 1 had no gradient at steps 3 and 4 when the case skips.
        t.is(sd.state.t1!.step, c.skip ? FIXTURE_STEPS - 2 : FIXTURE_STEPS, 'step of tensor 1');
        // Scalar state kept per group (Schedule-Free's k, trainMode, weightSum, lrMax, scheduledLr):
        // float64 in both, equal up to the last bits of pow().
        c.groups?.forEach((want, gi) => {
          for (const [key, w] of Object.entries(want)) {
            const got = sd.paramGroups[gi]![key];
            if (typeof w === 'number' && w !== 0 && key !== 'k') t.true(typeof got === 'number' && Math.abs(got - w) <= 1e-15 * Math.abs(w), `${key} of param group ${gi}: ${String(got)} vs ${w}`);
            else t.is(got, w, `${key} of param group ${gi}`);
          }
        });
        t.log(`${err.count} values, max abs error ${err.maxAbs.toExponential(2)}, max rel error ${err.maxRel.toExponential(2)}, max ${err.maxUlps.toFixed(1)} ulps`);
        t.deepEqual(err.bad, [], `values out of tolerance |a - b| <= ${err.tol.abs} + ${err.tol.rel}|b|`);
      });
    }
  }

  // ----------------------------------------------------------------------- 2. oracle, every level and thread count

  test(`${N}: its option variants toggle every boolean option of the descriptor, and each is a valid configuration`, (t) => {
    oracleOf(name);
    const variants = variantsOf(name);
    for (const [key, spec] of optionSpecs(name)) {
      if (spec.type !== 'boolean') continue;
      t.true(
        variants.some((v) => v[key] === !spec.default),
        `no variant toggles ${key}`,
      );
    }
    for (const v of variants) t.notThrows(() => create(name, makeParams([3], 1), v), describeVariant(v));
    t.log(`${variants.length} variants: ${variants.map(describeVariant).join('; ')}`);
  });

  for (const level of LEVELS) {
    for (const n of CONFORMANCE_THREADS) {
      test(`${N}: bit-exact with the oracle at ${level}, ${n} thread${n === 1 ? '' : 's'}`, async (t) => {
        const report = await reports.get(level)!;
        t.is(report.simd, level, 'the child ran at the forced level');
        const r = report.results[name];
        if (!r) return t.fail(`the ${level} child has no result for ${N}`);
        if (r.error) return t.fail(`${N}'s oracle checks stopped: ${r.error}`);
        t.true(r.scenarios > 0, 'scenarios checked');
        t.deepEqual(r.failures[String(n)], [], `scenarios where the native ${N} differs from its oracle at ${level} with ${n} thread${n === 1 ? '' : 's'}`);
        t.log(`${r.scenarios} scenarios, parameters after every step and the final state compared bit for bit`);
      });
    }
  }

  // ----------------------------------------------------------------------- 3. lr = 0

  const { lrZero } = oracleDoc(name);
  test(`${N}: lr 0 ${lrZero?.noop === false ? 'moves the parameters (a documented exception)' : 'leaves every parameter bit-identical'}, set at construction or before every step, whatever the options`, (t) => {
    const entry = oracleOf(name);
    t.log(`${entry.lrZero.noop ? 'no-op' : 'not a no-op'}: ${entry.lrZero.why}`);
    const variants = variantsOf(name);
    const scenarios = [...Array.from({ length: 15 }, (_, s) => randomScenarioOf(name, 31337 + s)), ...variants.map((_, i) => variantScenario(name, variants, i))];
    for (const atConstruction of [true, false]) {
      for (const base of scenarios) {
        // No -0 in the data (θ + 0 turns -0 into 0) and ε > 0 (see the table's reason).
        const sc: Scenario = {
          ...base,
          init: base.init.map((d) => d.map((x) => (Object.is(x, -0) ? 0 : x))),
          groups: base.groups.map((g) => ({ members: g.members, options: { ...g.options, ...(g.options.eps === 0 ? { eps: 1e-8 } : {}), ...(atConstruction ? { lr: 0 } : {}) } })),
          lrs: atConstruction ? undefined : base.grads.map(() => base.groups.map(() => 0)),
        };
        const params = scenarioParams(sc);
        runScenario(sc, params, create(name, sc.groups.map((g) => ({ params: g.members.map((j) => params[j]!), ...g.options }))));
        const diff = initialDiff(
          sc,
          params.map((p) => p.data),
        );
        const where = `lr 0 ${atConstruction ? 'at construction' : 'before every step'}, ${describeScenario(sc)}`;
        if (entry.lrZero.noop) t.is(diff, null, where);
        else t.not(diff, null, `${where}: the parameters did not move`);
      }
    }
  });

  // ----------------------------------------------------------------------- 4. stateDict

  const slots = descriptor.slots;
  const scalars = [descriptor.scalarState, descriptor.computedState?.name].filter((s) => s !== undefined);
  const scalar = scalars.join(', ');
  test(`${N}: stateDict entries hold step, its descriptor's slots (${slots.join(', ')})${scalar ? ` and ${scalar}` : ''}, in that order`, (t) => {
    const seen = new Set<string>();
    for (const v of variantsOf(name)) {
      const params = makeParams([5, 3], 2);
      const opt = create(name, params, withLr(v));
      opt.step();
      params.forEach((p, j) => (p.grad = values(3, 2, j, p.numel)));
      opt.step();
      for (const [k, entry] of Object.entries(opt.stateDict().state)) {
        const keys = Object.keys(entry);
        keys.forEach((key) => seen.add(key));
        t.deepEqual(keys, ['step', ...slots.filter((s) => s in entry), ...scalars], `${describeVariant(v)}: keys of ${k}`);
        t.is(entry.step, 2, `${describeVariant(v)}: step of ${k}`);
      }
    }
    t.deepEqual(
      [...seen].sort(),
      ['step', ...slots, ...scalars].sort(),
      'every slot is used by some variant',
    );
  });

  test(`${N}: stateDict through JSON, loaded into a fresh optimizer, resumes bit for bit with every option variant`, (t) => {
    const state = (o: AnyOptimizer) => o.stateDict().state;
    const names = RESUME_NAMES;
    // Steps [from, to): parameter 2 has no gradient at steps 3 to 6; at step 5 the lrs change.
    const run = (opt: AnyOptimizer, params: Parameter[], from: number, to: number, live?: (o: AnyOptimizer) => void) => {
      for (let s = from; s < to; s++) {
        if (s === 5 && live) live(opt);
        const grads = resumeGrads(s);
        params.forEach((p, j) => (p.grad = j === 2 && s >= 3 && s <= 6 ? null : grads[j]!.subarray(0, p.numel)));
        opt.step();
      }
    };
    const variants = variantsOf(name);
    variants.forEach((v, i) => {
      const what = `${describeVariant(v)}, second group ${describeVariant(variants[(i + 1) % variants.length]!)}`;
      // Every third variant with a tensor on the multithreaded path.
      const lengths = i % 3 === 0 ? RESUME_LENGTHS : RESUME_LENGTHS.map((n) => Math.min(n, 1025));
      const params = lengths.map((n, j) => new Parameter(values(1, 0, j, n), { name: names[j]! }));
      const first = withLr(v);
      const second = withLr(variants[(i + 1) % variants.length]!, 0.005);
      const opt = create(name, [
        { params: params.slice(0, 2), ...first },
        { params: params.slice(2), ...second },
      ]);
      // At step 5, as a scheduler and a user would: group 0's lr changes (and initialLr is set),
      // group 1 takes group 0's options at half its own lr.
      run(opt, params, 0, 10, (o) => {
        o.paramGroups[0]!.initialLr = first.lr as number;
        o.paramGroups[0]!.lr = (first.lr as number) * 0.6;
        // (A derived option left null keeps the value the group resolved it to.)
        const take = Object.entries({ ...defaultsOfName(name), ...first }).filter(([, x]) => x !== null);
        Object.assign(o.paramGroups[1]!, Object.fromEntries(take), { lr: (second.lr as number) * 0.5 });
      });
      const saved = opt.stateDict();
      const json = JSON.stringify(saved);
      t.true(sameDeep(JSON.parse(json), saved), `${what}: stateDict survives JSON unchanged`);
      const copies = params.map((p) => new Parameter(p.data.slice(), { name: p.name! }));
      const groupsAtSave = groupOptions(opt);
      run(opt, params, 10, 20);
      // A fresh optimizer with the default options: the saved groups win.
      const fresh = create(name, [{ params: copies.slice(0, 2) }, { params: copies.slice(2) }]);
      fresh.loadStateDict(JSON.parse(json));
      t.is(groupOptions(fresh), groupsAtSave, `${what}: group options restored`);
      run(fresh, copies, 10, 20);
      copies.forEach((p, j) => t.is(firstDiff(p.data, params[j]!.data), null, `${what}: parameter ${p.name} bit for bit`));
      const resumed = state(fresh);
      t.is(stateDiff(resumed, state(opt)), null, `${what}: state bit for bit`);
      t.is(groupOptions(fresh), groupOptions(opt), `${what}: group options`);
      t.deepEqual(Object.keys(resumed), names, `${what}: state keys`);
      t.deepEqual(
        names.map((k) => resumed[k]!.step),
        [20, 20, 16, 20],
        `${what}: each parameter's step counter`,
      );
    });
  });

  // ----------------------------------------------------------------------- 5. option errors

  /** Checks that `fn` throws `bad.error` naming `label` and the value. */
  const expectRejects = (t: ExecutionContext, what: string, fn: () => unknown, bad: BadValue, label: string) => {
    const err = t.throws(fn, { instanceOf: bad.error }, what);
    if (!err) return;
    t.is(err.constructor, bad.error, `${what}: ${err.constructor.name}: ${err.message}`);
    const received = bad.suffix ? (bad.value as unknown[])[Number(bad.suffix.slice(1, -1))] : bad.value;
    const re = new RegExp(`^${escapeRegExp(N)}: expected ${escapeRegExp(label + bad.suffix)} to be (.+), received ${escapeRegExp(shown(received))}$`);
    const m = re.exec(err.message);
    t.truthy(m, `${what}: the message ${JSON.stringify(err.message)} does not match ${re}`);
    for (const e of bad.expects.filter(Boolean)) t.true(m?.[1]?.includes(e) ?? false, `${what}: the message ${JSON.stringify(err.message)} should say it expects ${e}`);
  };

  for (const [key, spec] of optionSpecs(name)) {
    // The rule's bounds alone (`>= 0 and < 1`), without its kind ("a finite number", "an integer");
    // a pair's two, when they differ (`> 0 and < 1 / > 1`).
    const bounds = (r: NumberRule) => ruleText(r).replace(/^(a finite number|an integer) ?/, '');
    const range = spec.type === 'boolean' ? '' : spec.type === 'pair' ? [...new Set([bounds(pairRange(spec, 0)), bounds(pairRange(spec, 1))])].join(' / ') : bounds(spec.range);
    const kinds = spec.type === 'boolean' ? 'of a wrong type throws a TypeError' : `of a wrong type, non-finite${range ? ` or outside ${range}` : ''} throws a TypeError or RangeError`;
    test(`${N}: option ${key} ${kinds} naming it and the value, and changes nothing (constructor, param group, addParamGroup, between steps, loadStateDict)`, (t) => {
      for (const bad of badValues(spec, false)) {
        const v = `${key} = ${shown(bad.value)}`;
        // The constructor, in the options and in a param group.
        {
          const params = makeParams(ERROR_LENGTHS, 3);
          const before = snapshot(params);
          expectRejects(t, `new ${N} with ${v}`, () => create(name, params, { [key]: bad.value }), bad, key);
          assertUnchanged(t, `new ${N} with ${v}`, before, params);
          expectRejects(t, `new ${N} with ${v} in param group 1`, () => create(name, [{ params: params.slice(0, 2) }, { params: params.slice(2), [key]: bad.value }]), bad, `${key} (param group 1)`);
          assertUnchanged(t, `new ${N} with ${v} in param group 1`, before, params);
          assertWorks(t, `new ${N} after ${v} was rejected`, create(name, params, withLr({})), params);
        }
        // addParamGroup.
        {
          const { opt, params } = warmed(name);
          const fresh = new Parameter(values(5, 0, 6, 4), { name: 'fresh' });
          const all = [...params, fresh];
          const before = snapshot(all, opt);
          expectRejects(t, `addParamGroup with ${v}`, () => opt.addParamGroup({ params: [fresh], [key]: bad.value } as never), bad, `${key} (param group 2)`);
          t.is(opt.paramGroups.length, 2, `addParamGroup with ${v}: no group added`);
          assertUnchanged(t, `addParamGroup with ${v}`, before, all, opt);
          opt.addParamGroup({ params: [fresh] } as never);
          assertWorks(t, `addParamGroup after ${v} was rejected`, opt, all);
        }
        // A saved param group in loadStateDict.
        {
          const { opt, params } = warmed(name);
          const saved = opt.stateDict();
          saved.paramGroups[1]![key] = bad.value;
          const before = snapshot(params, opt);
          expectRejects(t, `loadStateDict with ${v} in saved group 1`, () => opt.loadStateDict(saved), bad, `${key} (saved param group 1)`);
          assertUnchanged(t, `loadStateDict with ${v}`, before, params, opt);
          assertWorks(t, `loadStateDict after ${v} was rejected`, opt, params);
        }
      }
      // Set on a live param group between steps: the step throws before anything changes.
      for (const bad of badValues(spec, true)) {
        const v = `paramGroups[1].${key} = ${shown(bad.value)}`;
        const { opt, params } = warmed(name);
        const group = opt.paramGroups[1] as Record<string, unknown>;
        const good = group[key];
        group[key] = bad.value;
        const before = snapshot(params, opt);
        expectRejects(t, `step after ${v}`, () => opt.step(), bad, `${key} (param group 1)`);
        assertUnchanged(t, `step after ${v}`, before, params, opt);
        // A second attempt fails the same way (nothing was half-applied).
        expectRejects(t, `second step after ${v}`, () => opt.step(), bad, `${key} (param group 1)`);
        assertUnchanged(t, `second step after ${v}`, before, params, opt);
        group[key] = good;
        assertWorks(t, `step after ${v} was undone`, opt, params);
      }
      // The nearest values inside the range are accepted.
      for (const good of goodEdgeValues(spec)) {
        t.notThrows(() => create(name, makeParams([3], 4), { [key]: good }), `${key} = ${shown(good)}`);
      }
    });
  }

  test(`${N}: unknown option keys (snake_case, other spellings, the kernel's names) are rejected by name and change nothing (constructor, param group, addParamGroup, loadStateDict)`, (t) => {
    t.log(`keys: ${unknownKeys(name).join(', ')}`);
    for (const k of unknownKeys(name)) {
      const params = makeParams(ERROR_LENGTHS, 5);
      const before = snapshot(params);
      const unknown = (ctx: string) => new RegExp(`^${escapeRegExp(ctx)}: unknown option "${escapeRegExp(k)}"`);
      t.throws(() => create(name, params, { [k]: 0.1 }), { instanceOf: TypeError, message: unknown(N) }, `new ${N} with ${k}`);
      t.throws(() => create(name, [{ params: params.slice(0, 2) }, { params: params.slice(2), [k]: 0.1 }]), { instanceOf: TypeError, message: unknown(`${N}: param group 1`) }, `param group with ${k}`);
      assertUnchanged(t, `new ${N} with ${k}`, before, params);
      const { opt, params: ps } = warmed(name);
      const fresh = new Parameter(values(5, 0, 6, 4), { name: 'fresh' });
      const all = [...ps, fresh];
      const was = snapshot(all, opt);
      t.throws(() => opt.addParamGroup({ params: [fresh], [k]: 0.1 } as never), { instanceOf: TypeError, message: unknown(`${N}: param group 2`) }, `addParamGroup with ${k}`);
      const saved = opt.stateDict();
      saved.paramGroups[0]![k] = 0.1;
      t.throws(() => opt.loadStateDict(saved), { instanceOf: TypeError, message: unknown(`${N}.loadStateDict: param group 0`) }, `loadStateDict with ${k}`);
      assertUnchanged(t, `addParamGroup and loadStateDict with ${k}`, was, all, opt);
      t.is(opt.paramGroups.length, 2);
      assertWorks(t, `after ${k} was rejected`, opt, ps);
    }
  });

  test(`${N}: skipNonFinite of a wrong type throws a TypeError naming it and the value`, (t) => {
    const params = makeParams(ERROR_LENGTHS, 6);
    for (const bad of ['yes', 1, null]) {
      t.throws(() => create(name, params, { skipNonFinite: bad }), { instanceOf: TypeError, message: new RegExp(`^${escapeRegExp(N)}: expected skipNonFinite to be a boolean, received ${escapeRegExp(shown(bad))}$`) });
    }
  });

  // ----------------------------------------------------------------------- 6. non-finite gradients

  const nfParams = () => FIXTURE_LENGTHS.map((n, j) => new Parameter(values(NF_SEED, 0, j, n), { name: `t${j}` }));
  const nfGroups = (params: Parameter[], variant: OracleOptions) => {
    const o = withLr(variant);
    return [
      { params: params.slice(0, 3), ...o },
      { params: params.slice(3), ...o, lr: (o.lr as number) / 2 },
    ];
  };
  const setGrads = (params: Parameter[], s: number, poison?: Poison) => {
    const grads = nfGrads(s);
    params.forEach((p, j) => (p.grad = grads[j]!));
    if (poison) {
      const g = grads[poison.tensor]!.slice();
      g[poison.index] = poison.value;
      params[poison.tensor]!.grad = g;
    }
  };
  const copyData = (params: Parameter[]) => params.map((p) => hex(p.data));

  test(`${N}: with skipNonFinite, a step whose gradients hold NaN or ±Infinity is skipped bit-exactly and the run continues as if it never happened`, (t) => {
    const variants = variantsOf(name);
    variants.forEach((variant, vi) => {
      const ref = nfParams();
      const refOpt = create(name, nfGroups(ref, variant));
      for (const s of [1, 2, 4, 5]) {
        setGrads(ref, s);
        refOpt.step();
      }
      for (const poison of vi === 0 ? POISONS : [POISONS[vi % POISONS.length]!]) {
        const what = `${describeVariant(variant)}, ${poison.label}`;
        const params = nfParams();
        const opt = create(name, nfGroups(params, variant), { skipNonFinite: true });
        t.true(opt.skipNonFinite);
        for (const s of [1, 2]) {
          setGrads(params, s);
          opt.step();
          t.true(opt.lastStepApplied);
        }
        const data = copyData(params);
        const state = opt.stateDict().state;
        setGrads(params, 3, poison);
        const grads = params.map((p) => hex(p.grad));
        opt.step();
        t.false(opt.lastStepApplied, what);
        t.is(opt.skippedSteps, 1, what);
        t.is(opt.appliedSteps, 2, what);
        t.deepEqual(copyData(params), data, `${what}: parameters changed`);
        t.is(stateDiff(opt.stateDict().state, state), null, `${what}: state changed`);
        t.deepEqual(
          params.map((p) => hex(p.grad)),
          grads,
          `${what}: gradients changed`,
        );
        // Skipping again is still a no-op.
        opt.step();
        t.is(opt.skippedSteps, 2, what);
        t.deepEqual(copyData(params), data, what);
        for (const s of [4, 5]) {
          setGrads(params, s);
          opt.step();
          t.true(opt.lastStepApplied, what);
        }
        t.is(opt.appliedSteps, 4, what);
        t.deepEqual(copyData(params), copyData(ref), `${what}: the continued run differs from the one that never saw the bad step`);
        t.is(stateDiff(opt.stateDict().state, refOpt.stateDict().state), null, `${what}: state differs from the run that never saw the bad step`);
      }
    });
  });

  test(`${N}: without skipNonFinite, a step whose gradients hold NaN or ±Infinity is applied, exactly as the oracle applies it`, (t) => {
    const variants = variantsOf(name);
    variants.forEach((variant, vi) => {
      for (const poison of vi === 0 ? POISONS.slice(1, 4) : [POISONS[1 + (vi % 3)]!]) {
        const what = `${describeVariant(variant)}, ${poison.label}`;
        const params = nfParams();
        const grads = [1, 2].map((s) => {
          setGrads(params, s, s === 2 ? poison : undefined);
          return params.map((p) => p.grad);
        });
        const groups = nfGroups(params, variant);
        const sc: Scenario = {
          label: what,
          init: params.map((p) => p.data),
          groups: groups.map(({ params: ps, ...options }) => ({ members: ps.map((p) => params.indexOf(p)), options })),
          grads,
        };
        const oracle = runOracle(name, sc);
        t.is(compareWithOracle(name, sc, oracle), null, what);
        // The bad value reached the parameters or the state (Lion's sign(NaN) = 0, as torch.sign,
        // keeps its parameters finite but not its momentum), unless the table says how the rule
        // can drop it.
        const nonFinite = (a: Float32Array) => !a.every(Number.isFinite);
        const reached = oracle.after[1]!.some(nonFinite) || oracle.state.some((s) => s !== undefined && Object.values(s).some((v) => (v instanceof Float32Array ? nonFinite(v) : !Number.isFinite(v))));
        const dropped = oracleOf(name).nonFiniteDropped;
        if (!reached && dropped !== undefined) t.log(`${what}: no trace of the bad value, as documented: ${dropped}`);
        else t.true(reached, `${what}: nothing non-finite anywhere`);
      }
    });
  });

  test(`${N}: skipNonFinite can be switched on and off on the live optimizer`, (t) => {
    const params = nfParams();
    const opt = create(name, nfGroups(params, {}));
    setGrads(params, 1);
    opt.step();
    opt.skipNonFinite = true;
    const data = copyData(params);
    const state = stateBytes(opt);
    setGrads(params, 2, POISONS[2]);
    opt.step();
    t.false(opt.lastStepApplied);
    t.is(opt.skippedSteps, 1);
    t.deepEqual(copyData(params), data);
    t.deepEqual(stateBytes(opt), state);
    opt.skipNonFinite = false;
    opt.step();
    t.true(opt.lastStepApplied);
    t.is(opt.appliedSteps, 2);
    t.notDeepEqual(stateBytes(opt), state);
  });

  // ----------------------------------------------------------------------- 7. gradient norms

  test(`${N}: the step's Σg² per gradient (observeSteps' gradSqSums) and GradNormMonitor's norms equal those computed in TS, bit for bit`, (t) => {
    for (const variant of variantsOf(name)) {
      const what = describeVariant(variant);
      const params = makeParams(MONITOR_LENGTHS, 5);
      const o = withLr(variant);
      const opt = create(name, [
        { params: params.slice(0, 2), ...o },
        { params: params.slice(2), ...o, lr: (o.lr as number) / 2 },
      ]);
      const monitor = new GradNormMonitor(opt);
      const seen: Array<{ applied: boolean; params: Parameter[]; sums: number[] }> = [];
      const stop = opt.observeSteps({ wantsGradNorms: true, onStep: (info) => seen.push({ applied: info.applied, params: [...info.params], sums: Array.from(info.gradSqSums) }) });
      for (let s = 1; s <= 3; s++) {
        params.forEach((p, j) => (p.grad = j === 3 && s !== 2 ? null : monitorGrads(s)[j]!));
        const stepped = params.filter((p) => p.grad !== null);
        const want = stepped.map((p) => chunkedSumSquares(p.grad!));
        const total = getTotalNorm(stepped);
        opt.step();
        const info = seen[s - 1]!;
        t.true(info.applied, what);
        t.deepEqual(info.params, stepped, `${what}, step ${s}: the parameters with a gradient, in order`);
        t.deepEqual(info.sums, want, `${what}, step ${s}: Σg² of each gradient`);
        const r = monitor.last()!;
        t.is(r.norm, Math.sqrt(want.reduce((a, x) => a + x, 0)), `${what}, step ${s}: the global norm √(Σ Σg²)`);
        t.deepEqual(
          stepped.map((p) => r.params[p.name!]),
          want.map(Math.sqrt),
          `${what}, step ${s}: each parameter's norm`,
        );
        // getTotalNorm combines the per-tensor norms as √(Σ ‖g‖²), which may round differently in the last bits.
        t.true(Math.abs(r.norm - total) <= 1e-14 * total, `${what}, step ${s}: ${r.norm} vs getTotalNorm ${total}`);
      }
      stop();
      monitor.detach();
    }
  });
}
