/**
 * What is particular to SGD; the conformance suite checks what every optimizer shares. SGD without
 * momentum is plain gradient descent (written out here, independently of the oracle), and
 * Nesterov momentum's rule between options (it needs momentum > 0 and dampening 0), which the
 * descriptor's `check` enforces in the constructor, in param groups and between steps.
 */
import test from 'ava';
import { Parameter, SGD, SGD_DEFAULTS } from '../../ts/index.js';
import { firstDiff } from '../helpers/compare.js';
import { randomScenarioOf } from '../helpers/conformance.js';
import { Rng, values } from '../helpers/data.js';
import { describeScenario, runScenario, scenarioGroups, scenarioParams } from '../helpers/scenario.js';

test('SGD without momentum is plain gradient descent, θ ← θ − γ·(±g + λθ)', (t) => {
  const f = Math.fround;
  for (let s = 1; s <= 15; s++) {
    const sc = randomScenarioOf('sgd', 777 + s);
    sc.groups = sc.groups.map((g) => ({ members: g.members, options: { ...g.options, momentum: 0, nesterov: false } }));
    sc.lrs = undefined;
    const params = scenarioParams(sc);
    const opt = new SGD(scenarioGroups(sc, params) as never);
    runScenario(sc, params, opt);
    const want = sc.init.map((d) => d.slice());
    sc.grads.forEach((grads) => {
      for (const g of sc.groups) {
        const o = { ...SGD_DEFAULTS, ...g.options } as typeof SGD_DEFAULTS;
        for (const j of g.members) {
          const grad = grads[j];
          if (!grad) continue;
          const p = want[j]!;
          for (let i = 0; i < p.length; i++) {
            const gi = o.maximize ? -grad[i]! : grad[i]!;
            const d = o.weightDecay !== 0 ? f(gi + f(f(o.weightDecay) * p[i]!)) : gi;
            p[i] = f(p[i]! - f(f(o.lr) * d));
          }
        }
      }
    });
    params.forEach((p, j) => t.is(firstDiff(p.data, want[j]!), null, `tensor ${j}, ${describeScenario(sc)}`));
    for (const [k, entry] of Object.entries(opt.stateDict().state)) t.deepEqual(Object.keys(entry), ['step'], `${k}: no momentum buffer`);
  }
});

const hex = (a: Float32Array | null) => (a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex') : null);

function makeParams(): Parameter[] {
  const r = new Rng(3);
  return [4, 9, 3].map((n, j) => {
    const p = new Parameter(r.floats(n), { name: `p${j}` });
    p.grad = r.floats(n);
    return p;
  });
}

const nesterovRejected: Array<[string, Record<string, unknown>, RegExp]> = [
  ['nesterov without momentum', { nesterov: true }, /^SGD: nesterov requires momentum > 0 and dampening = 0, received momentum 0 and dampening 0$/],
  ['nesterov with momentum 0', { nesterov: true, momentum: 0 }, /nesterov .*momentum 0\b/],
  ['nesterov with dampening 0.1', { nesterov: true, momentum: 0.9, dampening: 0.1 }, /nesterov .*dampening 0\.1/],
];

for (const [what, options, message] of nesterovRejected) {
  test(`new SGD with ${what} throws a RangeError naming nesterov and changes nothing`, (t) => {
    const params = makeParams();
    const before = params.map((p) => [hex(p.data), hex(p.grad)]);
    t.throws(() => new SGD(params, options), { instanceOf: RangeError, message });
    t.throws(() => new SGD([{ params: params.slice(0, 2) }, { params: params.slice(2), ...options }]), {
      instanceOf: RangeError,
      message: /nesterov \(param group 1\) requires momentum > 0 and dampening = 0/,
    });
    t.deepEqual(
      params.map((p) => [hex(p.data), hex(p.grad)]),
      before,
    );
  });
}

for (const [key, value, message] of [
  ['momentum', 0, /nesterov \(param group 1\).*momentum 0\b/],
  ['dampening', 0.5, /nesterov \(param group 1\).*dampening 0\.5/],
] as const) {
  test(`SGD with Nesterov momentum and paramGroups[1].${key} set to ${value} between steps throws a RangeError at step() and changes nothing`, (t) => {
    const params = makeParams();
    const opt = new SGD([{ params: params.slice(0, 2) }, { params: params.slice(2) }], { lr: 0.1, momentum: 0.9, nesterov: true });
    opt.step();
    params.forEach((p, j) => (p.grad = values(4, 2, j, p.numel)));
    const group = opt.paramGroups[1] as unknown as Record<string, unknown>;
    const good = group[key];
    group[key] = value;
    const data = params.map((p) => hex(p.data));
    const state = JSON.stringify(opt.stateDict().state);
    t.throws(() => opt.step(), { instanceOf: RangeError, message });
    t.deepEqual(
      params.map((p) => hex(p.data)),
      data,
    );
    t.is(JSON.stringify(opt.stateDict().state), state);
    group[key] = good;
    opt.step();
    t.true(params.every((p, j) => hex(p.data) !== data[j]));
  });
}
