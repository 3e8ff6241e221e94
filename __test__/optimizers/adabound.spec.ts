/**
 * What is particular to AdaBound; the conformance suite checks what every optimizer shares. Its
 * bounds are relative to `baseLr` (torch-optimizer's `base_lrs`), which each group stores, so it
 * survives a state dict; a group created with lr 0 has baseLr 0, which is valid only while its lr
 * stays 0.
 */
import test from 'ava';
import { AdaBound, Parameter } from '../../ts/index.js';
import { values } from '../helpers/data.js';

test('AdaBound keeps baseLr in its param groups, so it survives a state dict', (t) => {
  const p = new Parameter(values(3, 0, 0, 10), { name: 'w' });
  const opt = new AdaBound([p], { lr: 0.01 });
  opt.paramGroups[0]!.lr = 0.001;
  const sd = opt.stateDict();
  t.is(sd.paramGroups[0]!.baseLr, 0.01);
  const fresh = new AdaBound([new Parameter(values(3, 0, 0, 10), { name: 'w' })], { lr: 0.001 });
  t.is(fresh.paramGroups[0]!.baseLr, 0.001);
  fresh.loadStateDict(JSON.parse(JSON.stringify(sd)));
  t.is(fresh.paramGroups[0]!.baseLr, 0.01);
  t.is(fresh.paramGroups[0]!.lr, 0.001);
});

test('AdaBound created with lr 0 (baseLr 0) is a no-op while lr stays 0', (t) => {
  const p = new Parameter(values(1, 0, 0, 100));
  const before = p.data.slice();
  const opt = new AdaBound([p], { lr: 0 });
  p.grad = values(1, 1, 0, 100);
  opt.step();
  t.is(opt.paramGroups[0]!.baseLr, 0);
  t.deepEqual(p.data, before);
});

test('AdaBound with baseLr 0 and lr 0.1 throws a RangeError explaining that the bounds are undefined', (t) => {
  const params = [new Parameter(values(9, 0, 0, 5), { name: 'a' }), new Parameter(values(9, 0, 1, 3), { name: 'b' })];
  const e = t.throws(() => new AdaBound(params, { lr: 0.1, baseLr: 0 }), { instanceOf: RangeError });
  t.regex(e!.message, /^AdaBound: baseLr is 0 \(the group was created with lr 0\), so the bounds finalLr·lr\/baseLr are undefined for lr 0\.1; set baseLr to a positive number$/);
  // And later, when a scheduler raises the lr of a group created with lr 0.
  const opt = new AdaBound(params, { lr: 0 });
  opt.paramGroups[0]!.lr = 0.1;
  params.forEach((p, j) => (p.grad = values(9, 1, j, p.numel)));
  const before = params.map((p) => p.data.slice());
  t.throws(() => opt.step(), { instanceOf: RangeError, message: /baseLr \(param group 0\) is 0/ });
  params.forEach((p, j) => t.deepEqual(p.data, before[j]));
});
