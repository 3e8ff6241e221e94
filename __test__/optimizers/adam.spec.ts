/**
 * What is particular to Adam and AdamW; the conformance suite checks what every optimizer shares.
 * They share one kernel: AdamW with weight decay 0 is Adam, bit for bit.
 */
import test from 'ava';
import { Adam, AdamW } from '../../ts/index.js';
import { firstDiff, stateDiff } from '../helpers/compare.js';
import { randomScenarioOf } from '../helpers/conformance.js';
import { describeScenario, runScenario, scenarioGroups, scenarioParams, type Scenario } from '../helpers/scenario.js';

function run(Ctor: typeof Adam | typeof AdamW, sc: Scenario) {
  const params = scenarioParams(sc);
  const opt = new Ctor(scenarioGroups(sc, params) as never);
  runScenario(sc, params, opt);
  return { data: params.map((p) => p.data), state: opt.stateDict().state };
}

test('AdamW with weight decay 0 equals Adam bit for bit', (t) => {
  for (let s = 1; s <= 15; s++) {
    const sc = randomScenarioOf('adam', 4242 + s);
    sc.groups = sc.groups.map((g) => ({ members: g.members, options: { ...g.options, weightDecay: 0 } }));
    const adam = run(Adam, sc);
    const adamw = run(AdamW, sc);
    adam.data.forEach((d, j) => t.is(firstDiff(adamw.data[j]!, d), null, `tensor ${j}, ${describeScenario(sc)}`));
    t.is(stateDiff(adamw.state, adam.state), null, describeScenario(sc));
  }
});
