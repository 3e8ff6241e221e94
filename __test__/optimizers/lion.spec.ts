/**
 * What is particular to Lion; the conformance suite checks what every optimizer shares. Its
 * interpolations round once, as torch's fused multiply-add: the oracle's `fmaF32` must round
 * once where the f64 sum would round twice, and the kernel must take the fused rounding.
 */
import test from 'ava';
import { Lion, Parameter } from '../../ts/index.js';
import { fmaF32 } from '../oracles/third-party.js';

// The case below is one where rounding the exact f64 sum first lands on a float32 midpoint (a
// double rounding): with c = 1 + 2⁻²³ and a·b = −(2⁻²⁴ − 2⁻⁶⁰), the exact sum 1 + 2⁻²⁴ + 2⁻⁶⁰ is
// above the midpoint between 1 and 1 + 2⁻²³, but its f64 rounding is the midpoint itself, which
// ties to 1.
const ONE_UP = 1 + 2 ** -23;
const A = 1 + 2 ** -18; // a·b = −2⁻²⁴(1 + 2⁻¹⁸)(1 − 2⁻¹⁸) = −(2⁻²⁴ − 2⁻⁶⁰)
const B = -(2 ** -24) * (1 - 2 ** -18);

test('fmaF32 rounds a·b + c once, where rounding the f64 sum would round twice', (t) => {
  t.is(Math.fround(A * B + ONE_UP), 1, 'the double-rounded result this case is built to catch');
  t.is(fmaF32(A, B, ONE_UP), ONE_UP);
  t.is(fmaF32(-A, B, -ONE_UP), -ONE_UP);
  // Exact sums, signed zeros, infinities and NaN pass through as in the hardware instruction.
  t.is(fmaF32(1.5, 2, 0.25), 3.25);
  t.true(Object.is(fmaF32(0, 1, -0), 0));
  t.true(Object.is(fmaF32(-0, 1, -0), -0));
  t.is(fmaF32(Infinity, 1, 1), Infinity);
  t.true(Number.isNaN(fmaF32(Infinity, 1, -Infinity)));
});

test('the native Lion kernel takes the fused rounding of its momentum update', (t) => {
  // β2 = 2⁻¹⁸: m ← fma(g, 1 − 2⁻¹⁸, m·2⁻¹⁸) with m·2⁻¹⁸ = 1 + 2⁻²³ and g·(1 − 2⁻¹⁸) = a·b above.
  const p = new Parameter(new Float32Array([0.5]), { name: 'w' });
  p.grad = new Float32Array([-(2 ** -24) * (1 + 2 ** -18)]);
  const opt = new Lion([p], { lr: 1e-3, betas: [0.9, 2 ** -18], weightDecay: 0 });
  opt.loadStateDict({ ...opt.stateDict(), state: { w: { step: 0, expAvg: [ONE_UP * 2 ** 18] } } } as never);
  opt.step();
  const m = (opt.stateDict().state.w!.expAvg as number[])[0];
  t.is(m, ONE_UP);
});
