/**
 * What is particular to NAdam; the conformance suite checks what every optimizer shares. Its
 * scalar state `muProduct` (∏ μₜ, a float32 number like PyTorch's scalar tensor) advances per
 * parameter, and `loadStateDict` checks it.
 */
import test from 'ava';
import { NAdam, Parameter } from '../../ts/index.js';
import { values } from '../helpers/data.js';

test('NAdam keeps muProduct per parameter, advancing only on steps with a gradient', (t) => {
  const a = new Parameter(new Float32Array([1, 2]), { name: 'a' });
  const b = new Parameter(new Float32Array([3]), { name: 'b' });
  const opt = new NAdam([a, b]);
  const mu = (s: number) => 0.9 * (1 - 0.5 * 0.96 ** (s * 4e-3));
  const f = Math.fround;
  a.grad = new Float32Array([0.1, 0.2]);
  b.grad = new Float32Array([0.3]);
  opt.step();
  b.grad = null;
  opt.step();
  const st = opt.stateDict().state;
  t.is(st.a!.muProduct, f(f(f(1) * f(mu(1))) * f(mu(2))));
  t.is(st.b!.muProduct, f(f(1) * f(mu(1))));
  t.is(st.b!.step, 1);
});

test('NAdam.loadStateDict rejects a muProduct that is not a finite number and changes nothing', (t) => {
  const p = new Parameter(values(9, 0, 0, 4), { name: 'w' });
  const opt = new NAdam([p]);
  p.grad = values(9, 1, 0, 4);
  opt.step();
  const sd = opt.stateDict();
  const before = JSON.stringify(sd);
  const bad = JSON.parse(before) as typeof sd;
  bad.state.w!.muProduct = 'x' as unknown as number;
  bad.state.w!.step = 7;
  const err = t.throws(() => opt.loadStateDict(bad), { instanceOf: TypeError });
  t.is(err!.message, 'NAdam.loadStateDict: expected state["w"].muProduct to be a finite number, received "x"');
  bad.state.w!.muProduct = Infinity;
  t.throws(() => opt.loadStateDict(bad), { instanceOf: RangeError });
  t.is(JSON.stringify(opt.stateDict()), before);
});
