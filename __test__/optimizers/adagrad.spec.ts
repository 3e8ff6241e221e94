/**
 * What is particular to Adagrad; the conformance suite checks what every optimizer shares. As in
 * PyTorch, its state (step 0, `sum` filled with initialAccumulatorValue) exists before the first
 * step, for each group with its own value.
 */
import test from 'ava';
import { Adagrad, Parameter } from '../../ts/index.js';
import { values } from '../helpers/data.js';

test('Adagrad creates its state before the first step, with each group its own initialAccumulatorValue', (t) => {
  const a = new Parameter(new Float32Array(3), { name: 'a' });
  const b = new Parameter(new Float32Array(2), { name: 'b' });
  const c = new Parameter(new Float32Array(1), { name: 'c' });
  const opt = new Adagrad([{ params: [a] }, { params: [b], initialAccumulatorValue: 0.5 }], { initialAccumulatorValue: 0.1 });
  opt.addParamGroup({ params: [c], initialAccumulatorValue: 2 });
  t.deepEqual(opt.stateDict().state, {
    a: { step: 0, sum: Array.from(Float32Array.of(0.1, 0.1, 0.1)) },
    b: { step: 0, sum: [0.5, 0.5] },
    c: { step: 0, sum: [2] },
  });
  a.grad = new Float32Array([1, 1, 1]);
  b.grad = null;
  c.grad = null;
  opt.step();
  const st = opt.stateDict().state;
  t.is(st.a!.step, 1);
  t.deepEqual(st.a!.sum, Array.from(Float32Array.of(1.1, 1.1, 1.1)));
  t.deepEqual(st.c, { step: 0, sum: [2] });
});

test('Adagrad.loadStateDict rejects a sum of the wrong length and changes nothing', (t) => {
  const p = new Parameter(values(9, 0, 0, 4), { name: 'w' });
  const opt = new Adagrad([p]);
  const before = JSON.stringify(opt.stateDict());
  const bad = JSON.parse(before) as ReturnType<typeof opt.stateDict>;
  bad.state.w!.sum = [1, 2, 3];
  const err = t.throws(() => opt.loadStateDict(bad), { instanceOf: RangeError });
  t.is(err!.message, 'Adagrad.loadStateDict: expected state["w"].sum to have length 4, received 3');
  t.is(JSON.stringify(opt.stateDict()), before);
});
