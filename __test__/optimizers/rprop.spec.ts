/**
 * What is particular to Rprop; the conformance suite checks what every optimizer shares. Its lr
 * is only the initial step size (a scheduler changes nothing for existing state, as in PyTorch),
 * its etas have one range per element, and only gradient signs reach the parameters.
 */
import test from 'ava';
import { Parameter, Rprop } from '../../ts/index.js';
import { values } from '../helpers/data.js';

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

test('Rprop: the lr sets the step sizes of new state only, so changing it later changes nothing for stepped parameters', (t) => {
  const run = (later: number) => {
    const a = new Parameter(values(2, 0, 0, 9), { name: 'a' });
    const b = new Parameter(values(2, 0, 1, 9), { name: 'b' });
    const opt = new Rprop([a, b], { lr: 0.01 });
    for (let s = 1; s <= 6; s++) {
      if (s === 3) opt.paramGroups[0]!.lr = later;
      a.grad = values(3, s, 0, 9);
      // b takes its first step at step 4, after the change.
      b.grad = s >= 4 ? values(3, s, 1, 9) : null;
      opt.step();
    }
    return { a: bits(a.data), b: bits(b.data), stepSize: opt.stateDict().state.b!.stepSize as number[] };
  };
  const same = run(0.01);
  const changed = run(0.2);
  t.is(changed.a, same.a);
  t.not(changed.b, same.b);
  // b's step sizes started at 0.2: after 3 steps each is 0.2·f with f ∈ {0.5, 1.2, 1}^3 products.
  t.true(changed.stepSize.every((x) => x >= Math.fround(0.2 * 0.5 ** 3) && x <= Math.fround(0.2 * 1.2 ** 3)));
});

test('Rprop: etas outside 0 < η− < 1 < η+ throw a RangeError naming the element and its range, and step sizes must be >= 0', (t) => {
  const p = () => [new Parameter(new Float32Array(3))];
  t.throws(() => new Rprop(p(), { etas: [0.5, 1] }), { instanceOf: RangeError, message: 'Rprop: expected etas[1] to be a finite number > 1, received 1' });
  t.throws(() => new Rprop(p(), { etas: [1, 1.2] }), { instanceOf: RangeError, message: 'Rprop: expected etas[0] to be a finite number > 0 and < 1, received 1' });
  t.throws(() => new Rprop(p(), { etas: [0, 1.2] }), { instanceOf: RangeError, message: 'Rprop: expected etas[0] to be a finite number > 0 and < 1, received 0' });
  t.throws(() => new Rprop(p(), { stepSizes: [-1e-6, 50] }), { instanceOf: RangeError, message: 'Rprop: expected stepSizes[0] to be a finite number >= 0, received -0.000001' });
  t.throws(() => new Rprop(p(), { stepSizes: [1e-6, Infinity] }), { instanceOf: RangeError, message: 'Rprop: expected stepSizes[1] to be a finite number >= 0, received Infinity' });
  t.notThrows(() => new Rprop(p(), { stepSizes: [1, 0.5] }), 'Δmin > Δmax is accepted, as in PyTorch (every step size is then Δmax)');
});

test('Rprop: a NaN gradient moves nothing (sign(NaN) = 0) but is remembered, so the next product counts as 0', (t) => {
  const p = new Parameter(new Float32Array([1, 1]), { name: 'w' });
  const opt = new Rprop([p], { lr: 0.01 });
  p.grad = new Float32Array([NaN, 0.5]);
  opt.step();
  t.deepEqual(Array.from(p.data), [1, Math.fround(1 - Math.fround(0.01))]);
  const st = opt.stateDict().state.w!;
  t.deepEqual(st.prev, ['NaN', 0.5]);
  t.deepEqual(st.stepSize, [Math.fround(0.01), Math.fround(0.01)]);
  p.grad = new Float32Array([0.5, 0.5]);
  opt.step();
  const after = opt.stateDict().state.w!;
  t.deepEqual(after.stepSize, [Math.fround(0.01), Math.fround(Math.fround(0.01) * Math.fround(1.2))]);
  t.is(p.data[0], Math.fround(1 - Math.fround(0.01)));
});
