/**
 * What is particular to RAdam; the conformance suite checks what every optimizer shares. Its
 * first steps are un-rectified momentum steps, which do not use eps.
 */
import test from 'ava';
import { Parameter, RAdam } from '../../ts/index.js';
import { firstDiff } from '../helpers/compare.js';
import { values } from '../helpers/data.js';

test('RAdam with beta2 0.999 takes un-rectified momentum steps until step 5, so eps matters only from step 6', (t) => {
  const run = (eps: number, steps: number) => {
    const p = new Parameter(values(3, 0, 0, 100));
    const opt = new RAdam([p], { lr: 0.01, eps });
    for (let s = 1; s <= steps; s++) {
      p.grad = values(3, s, 0, 100);
      opt.step();
    }
    return p.data;
  };
  t.is(firstDiff(run(1e-8, 5), run(1, 5)), null);
  t.not(firstDiff(run(1e-8, 6), run(1, 6)), null);
});
