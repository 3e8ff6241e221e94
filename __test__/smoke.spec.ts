import test from 'ava';
import { AdamW, Parameter, getSimdLevel } from '../ts/index.js';

test('an AdamW step moves a parameter against its gradient', (t) => {
  const p = new Parameter(new Float32Array([1, 2, 3]), { name: 'w' });
  p.grad!.set([0.1, -0.2, 0]);
  new AdamW([p], { lr: 0.1, weightDecay: 0 }).step();
  t.true(p.data[0]! < 1);
  t.true(p.data[1]! > 2);
  t.is(p.data[2], 3);
  t.regex(getSimdLevel(), /avx512|avx2|baseline/);
});
