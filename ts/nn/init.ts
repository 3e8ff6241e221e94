/**
 * PyTorch's default initialisation of `Linear` and `Conv2d`.
 * @module
 */
import type { Generator } from './generator.js';

/**
 * Fills `w` as `kaiming_uniform_(w, a=√5)` does: U(−b, b) with b = gain·√(3/fanIn) and
 * gain = √(2/(1 + a²)), which is b = 1/√fanIn.
 */
export function kaimingUniformDefault(w: Float32Array, fanIn: number, g: Generator): Float32Array {
  const gain = Math.sqrt(2 / (1 + 5));
  const bound = fanIn > 0 ? gain * Math.sqrt(3 / fanIn) : 0;
  return g.fillUniform(w, -bound, bound);
}

/** Fills a bias as PyTorch's layers do: U(−1/√fanIn, 1/√fanIn). */
export function biasUniformDefault(b: Float32Array, fanIn: number, g: Generator): Float32Array {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return g.fillUniform(b, -bound, bound);
}
