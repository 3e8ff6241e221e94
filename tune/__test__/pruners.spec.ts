/**
 * The pruners against the real Optuna: scripted studies (sequential, and two trials at a time
 * with interleaved reports) replayed through ferroptim-tune's Study and pruners must reach
 * Optuna's verdict at every report (fixtures: scripts/gen_pruner_fixtures.py, Optuna 5.1).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createStudy, MedianPruner, PercentilePruner, RandomSampler, SuccessiveHalvingPruner, TrialState, type Pruner, type Trial } from '../src/index.js';

type Event = [number, number | 'NaN', boolean] | ['fail'] | ['complete', number];
interface Case {
  name: string;
  pruner: 'median' | 'percentile' | 'asha';
  options: Record<string, number>;
  direction: 'minimize' | 'maximize';
  seed: number;
  interleave: boolean;
  trials: Event[][];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/pruners.json', import.meta.url), 'utf8')) as { optuna: string; cases: Case[] };
const num = (v: number | 'NaN') => (v === 'NaN' ? NaN : v);

function make(c: Case): Pruner {
  if (c.pruner === 'median') return new MedianPruner(c.options);
  if (c.pruner === 'percentile') {
    const { percentile, ...rest } = c.options;
    return new PercentilePruner(percentile!, rest);
  }
  return new SuccessiveHalvingPruner(c.options);
}

for (const c of fixture.cases) {
  test(`${c.name}, ${c.direction}${c.interleave ? ', two trials at a time' : ''}: every verdict equals Optuna ${fixture.optuna}'s`, async (t) => {
    const study = await createStudy({ direction: c.direction, pruner: make(c), sampler: new RandomSampler({ seed: 0 }) });
    const width = c.interleave ? 2 : 1;
    let verdicts = 0;
    for (let start = 0; start < c.trials.length; start += width) {
      const group = c.trials.slice(start, start + width);
      const trials: Trial[] = [];
      for (let j = 0; j < group.length; j++) trials.push(await study.ask());
      const cursor = group.map(() => 0);
      const done = group.map(() => false);
      const longest = Math.max(...group.map((g) => g.filter((e) => e.length === 3).length));
      for (let s = 0; s < longest; s++) {
        for (let j = 0; j < group.length; j++) {
          const e = group[j]![cursor[j]!];
          if (done[j] || e === undefined || e.length !== 3 || e[0] !== s) continue;
          cursor[j]!++;
          trials[j]!.report(num(e[1]), s);
          const verdict = await trials[j]!.shouldPrune();
          t.is(verdict, e[2], `trial ${trials[j]!.number} step ${s}`);
          verdicts++;
          if (verdict) {
            await study.tell(trials[j]!, undefined, TrialState.PRUNED);
            done[j] = true;
          }
        }
      }
      for (let j = 0; j < group.length; j++) {
        if (done[j]) continue;
        const end = group[j]![cursor[j]!]!;
        if (end[0] === 'fail') await study.tell(trials[j]!, undefined, TrialState.FAIL);
        else await study.tell(trials[j]!, (end as ['complete', number])[1]);
      }
    }
    t.true(verdicts > 20);
  });
}

test('pruner options are checked, naming the option and the value', (t) => {
  t.throws(() => new MedianPruner({ nStartupTrials: -1 }), { instanceOf: RangeError, message: /nStartupTrials.*-1/ });
  t.throws(() => new MedianPruner({ intervalSteps: 0 }), { instanceOf: RangeError, message: /intervalSteps.*0/ });
  t.throws(() => new MedianPruner({ warmup: 1 } as never), { instanceOf: RangeError, message: /unknown option "warmup"/ });
  t.throws(() => new PercentilePruner(101), { instanceOf: RangeError, message: /percentile.*101/ });
  t.throws(() => new PercentilePruner('50' as never), { instanceOf: TypeError, message: /percentile.*"50"/ });
  t.throws(() => new SuccessiveHalvingPruner({ reductionFactor: 1 }), { instanceOf: RangeError, message: /reductionFactor.*1/ });
  t.throws(() => new SuccessiveHalvingPruner({ minResource: 0 }), { instanceOf: RangeError, message: /minResource.*0/ });
  t.throws(() => new SuccessiveHalvingPruner({ bootstrapCount: 2 }), { instanceOf: RangeError, message: /bootstrapCount/ });
});
