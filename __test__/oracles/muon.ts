/**
 * Muon's TypeScript oracle: torch 2.15's `_single_tensor_muon` and `_zeropower_via_newtonschulz`
 * transcribed on plain numbers, with the rounding the native kernel defines
 * (crate/src/kernels/muon.rs): bfloat16 round-to-nearest-even wherever torch holds a bfloat16
 * tensor, fused multiply-adds where ATen fuses (the lerps and `add_` with alpha), and each
 * matrix-product element summed in float32 by blocks of {@link KC} terms, the blocks added in
 * order. Written the slow, literal way (explicit transposes, full products) so that it shares
 * nothing with the kernel but the definition.
 * @module
 */
import { fmaF32 } from './third-party.js';

const f = Math.fround;

/** Terms per block of a product's sums (`KC` in the kernel). */
export const KC = 256;

const cvt = new Float32Array(1);
const cvtBits = new Uint32Array(cvt.buffer);

/** A float32 rounded to the nearest bfloat16, ties to even (c10's `round_to_nearest_even`). */
export function bf16(x: number): number {
  if (Number.isNaN(x)) return NaN;
  cvt[0] = x;
  const b = cvtBits[0]!;
  // No carry out of 32 bits: the largest non-NaN pattern, 0xFF800000 (−∞), plus 0x8000 fits.
  cvtBits[0] = ((b + 0x7fff + ((b >>> 16) & 1)) & 0xffff0000) >>> 0;
  return cvt[0]!;
}

/** The options of a Muon param group, as the class resolves them. */
export interface MuonRefOptions {
  lr: number;
  weightDecay: number;
  momentum: number;
  nesterov: boolean;
  nsCoefficients: readonly [number, number, number];
  eps: number;
  nsSteps: number;
  adjustLrFn: 'original' | 'match_rms_adamw' | 'spectral_unclamped' | null;
}

/** The learning rate after torch's `_adjust_lr` (in f64, as Python computes it). */
export function adjustedLr(o: MuonRefOptions, rows: number, cols: number): number {
  const ratio =
    o.adjustLrFn === 'match_rms_adamw' ? 0.2 * Math.sqrt(Math.max(rows, cols)) : o.adjustLrFn === 'spectral_unclamped' ? Math.sqrt(rows / cols) : Math.sqrt(Math.max(1, rows / cols));
  return o.lr * ratio;
}

/** ATen's vectorised lerp with a scalar weight: one fused multiply-add in one of two forms. */
function lerp(start: number, end: number, weight: number): number {
  const w = f(weight);
  const d = f(end - start);
  return Math.abs(w) < 0.5 ? fmaF32(w, d, start) : fmaF32(f(w - 1), d, end);
}

/** C = A·B (A r × k, B k × c, row-major), each element summed in f32 by blocks of KC terms. */
export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, r: number, k: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      let total = 0;
      for (let k0 = 0; k0 < k; k0 += KC) {
        let acc = 0;
        // Products of bfloat16 values are exact; acc + a·b rounded once, as an FMA.
        for (let kk = k0; kk < Math.min(k, k0 + KC); kk++) acc = f(acc + a[i * k + kk]! * b[kk * c + j]!);
        total = k0 === 0 ? acc : f(total + acc);
      }
      out[i * c + j] = total;
    }
  }
  return out;
}

function transpose(x: ArrayLike<number>, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j]!;
  return out;
}

/** Σ x² over 32 lanes (lane = index mod 32) in f64, combined as `simd::combine_lanes`. */
function sumSquares(x: ArrayLike<number>): number {
  const lanes = new Float64Array(32);
  for (let i = 0; i < x.length; i++) lanes[i % 32] = lanes[i % 32]! + x[i]! * x[i]!;
  const l16 = Array.from({ length: 16 }, (_, j) => lanes[j]! + lanes[j + 16]!);
  const l8 = Array.from({ length: 8 }, (_, j) => l16[j]! + l16[j + 8]!);
  return l8[0]! + l8[1]! + (l8[2]! + l8[3]!) + (l8[4]! + l8[5]! + (l8[6]! + l8[7]!));
}

/** `_zeropower_via_newtonschulz` of the rows × cols matrix `u` (row-major), in its layout. */
export function newtonSchulz(u: Float32Array, rows: number, cols: number, o: MuonRefOptions): Float32Array {
  const tall = rows > cols;
  const [m, n] = tall ? [cols, rows] : [rows, cols];
  const g = Float32Array.from(u, bf16);
  let x = tall ? transpose(g, rows, cols) : g;
  const norm = bf16(f(Math.sqrt(f(sumSquares(g)))));
  const d = norm < f(o.eps) ? bf16(f(o.eps)) : norm;
  x = x.map((v) => bf16(f(v / d)));
  const [a, b, c] = o.nsCoefficients.map(f) as [number, number, number];
  for (let s = 0; s < o.nsSteps; s++) {
    const gram = matmul(x, transpose(x, m, n), m, n, m).map(bf16);
    const p = matmul(gram, gram, m, m, m);
    // addmm(A, A, A, beta=b, alpha=c), addmm(X, B, X, beta=a): fma(β, C, α·product), as oneDNN.
    const bm = p.map((v, k) => bf16(fmaF32(b, gram[k]!, f(c * v))));
    const q = matmul(bm, x, m, m, n);
    x = x.map((v, k) => bf16(fmaF32(a, v, q[k]!)));
  }
  return tall ? transpose(x, m, n) : x;
}

/** One parameter's Muon step, in place: the momentum buffer, then the weights. */
export function muonReference(p: Float32Array, g: Float32Array, buf: Float32Array, rows: number, cols: number, o: MuonRefOptions): void {
  const u = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) {
    buf[i] = lerp(buf[i]!, g[i]!, 1 - o.momentum);
    u[i] = o.nesterov ? lerp(g[i]!, buf[i]!, o.momentum) : buf[i]!;
  }
  const x = newtonSchulz(u, rows, cols, o);
  const decay = f(1 - o.lr * o.weightDecay);
  const negLr = f(-adjustedLr(o, rows, cols));
  for (let i = 0; i < p.length; i++) p[i] = fmaF32(x[i]!, negLr, f(p[i]! * decay));
}
