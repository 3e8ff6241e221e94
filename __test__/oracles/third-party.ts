/**
 * Plain TypeScript reference implementations of AdaBound, LAMB, Lion, Lookahead's sync and
 * Schedule-Free SGD and AdamW (with their train/eval switch), for tests only (not exported from
 * the package index).
 *
 * As in `torch.ts`, every element operation is rounded to float32 (`Math.fround`) in exactly
 * the order of the Rust kernels (`crate/src/kernels/{adabound,lamb,lion,lookahead}.rs`), which
 * transcribe torch-optimizer and lion-pytorch; per-tensor scalars are computed in f64 and rounded
 * once. Two places differ from plain float32 steps, as the kernels do: Lion's interpolations
 * are fused multiply-adds (`f32(x·β) + (1 − β)·g` rounded once, as torch's `add_` with alpha;
 * emulated exactly by {@link fmaF32}) and LAMB's norms, summed in f64, which follow the engine's
 * deterministic reduction: each tensor is cut at multiples of 8192 elements from its first
 * (whatever other tensors the step holds), each piece summed in 32 interleaved f64 lanes combined
 * pairwise (lane j + lane j + 16, then j + j + 8, then ((l0 + l1) + (l2 + l3)) + ((l4 + l5) +
 * (l6 + l7))), and the pieces added in order. So these functions must agree with the native
 * kernels bit for bit.
 *
 * State follows the references: a parameter whose grad is `null` is skipped (its state and step
 * counter do not advance); buffers are allocated, zero-filled, on a parameter's first step.
 * @module
 */
import type { AdaBoundGroupOptions } from '../../ts/optim/adabound.js';
import { eachWithGrad } from './torch.js';
import type { LAMBGroupOptions } from '../../ts/optim/lamb.js';
import type { LionGroupOptions } from '../../ts/optim/lion.js';

const f = Math.fround;

/** Elements per reduction chunk of the native driver (`driver::CHUNK`). */
export const REDUCE_CHUNK = 8192;

/** Per-parameter state of {@link adaboundReference}. */
export interface AdaBoundRefState {
  step: number;
  expAvg?: Float32Array;
  expAvgSq?: Float32Array;
  maxExpAvgSq?: Float32Array;
}

/** Per-parameter state of {@link lambReference}. */
export interface LambRefState {
  step: number;
  expAvg?: Float32Array;
  expAvgSq?: Float32Array;
}

/** Per-parameter state of {@link lionReference}. */
export interface LionRefState {
  step: number;
  expAvg?: Float32Array;
}

/**
 * One AdaBound step over `params` (in place); `o.baseLr` must be resolved (a number).
 *
 * ```text
 * g ← g + λθ                                    (λ ≠ 0)
 * m ← m·β1 + (1 − β1)·g
 * v ← v·β2 + ((1 − β2)·g)·g
 * v̂ ← max(v̂, v) if amsbound, else v
 * η ← clamp(η* / (√v̂ + ε), lo, hi)              (η*, lo, hi per tensor in f64, rounded once)
 * θ ← θ − η·m
 * ```
 */
export function adaboundReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<AdaBoundRefState | undefined>, o: AdaBoundGroupOptions & { baseLr: number }): void {
  const [b1, b2] = o.betas;
  const wd = f(o.weightDecay), beta1 = f(b1), c1 = f(1 - b1), beta2 = f(b2), c2 = f(1 - b2), eps = f(o.eps);
  const finalLr = o.lr === 0 ? 0 : (o.finalLr * o.lr) / o.baseLr;
  eachWithGrad(params, grads, state, (p, g, st) => {
    const m = (st.expAvg ??= new Float32Array(p.length));
    const v = (st.expAvgSq ??= new Float32Array(p.length));
    const vmax = o.amsbound ? (st.maxExpAvgSq ??= new Float32Array(p.length)) : undefined;
    const t = st.step;
    const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
    const stepSize = f((o.lr * Math.sqrt(bc2)) / bc1);
    const lower = f(finalLr * (1 - 1 / (o.gamma * t + 1)));
    const upper = f(finalLr * (1 + 1 / (o.gamma * t)));
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]!;
      if (o.weightDecay !== 0) gi = f(gi + f(wd * p[i]!));
      const mi = (m[i] = f(f(m[i]! * beta1) + f(c1 * gi)));
      const vi = (v[i] = f(f(v[i]! * beta2) + f(f(c2 * gi) * gi)));
      let vh = vi;
      if (vmax) vh = vmax[i] = vmax[i]! >= vi ? vmax[i]! : vi;
      let eta = f(stepSize / f(f(Math.sqrt(vh)) + eps));
      if (eta < lower) eta = lower;
      if (eta > upper) eta = upper;
      p[i] = f(p[i]! - f(eta * mi));
    }
  });
}

const fmaBuf = new Float64Array(1);
const fmaWords = new Uint32Array(fmaBuf.buffer);

/**
 * `a·b + c` rounded once to float32 (a fused multiply-add) for float32 inputs: the product is
 * exact in f64, TwoSum gives the sum's rounding error, and rounding the sum to odd before
 * `Math.fround` makes the double rounding harmless (as `simd::fma_f32_soft` in the crate).
 */
export function fmaF32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const z = s - p;
  const err = p - (s - z) + (c - z);
  if (err === 0 || !Number.isFinite(s)) return f(s);
  fmaBuf[0] = s;
  // Little-endian: word 0 holds the low 32 bits of the significand.
  if ((fmaWords[0]! & 1) === 0) {
    if (err > 0 === s > 0) {
      fmaWords[0] = fmaWords[0]! + 1; // even: no carry
    } else if (fmaWords[0] === 0) {
      fmaWords[0] = 0xffffffff;
      fmaWords[1] = fmaWords[1]! - 1;
    } else {
      fmaWords[0] = fmaWords[0]! - 1;
    }
  }
  return f(fmaBuf[0]!);
}

/**
 * Σx² as the native engine sums it: in pieces of REDUCE_CHUNK elements from the tensor's first
 * (whatever else the step holds), each in 32 lanes combined pairwise.
 */
export function chunkedSumSquares(x: ArrayLike<number>): number {
  let total = 0;
  let a = 0;
  while (a < x.length) {
    const b = Math.min(x.length, a + REDUCE_CHUNK);
    const lanes = new Float64Array(32);
    for (let i = a; i < b; i++) {
      const e = x[i]!;
      lanes[(i - a) % 32]! += e * e;
    }
    const l16 = Array.from({ length: 16 }, (_, j) => lanes[j]! + lanes[j + 16]!);
    const l = Array.from({ length: 8 }, (_, j) => l16[j]! + l16[j + 8]!);
    total += l[0]! + l[1]! + (l[2]! + l[3]!) + (l[4]! + l[5]! + (l[6]! + l[7]!));
    a = b;
  }
  return total;
}

/**
 * One LAMB step over `params` (in place); the norms are summed as the engine sums them
 * ({@link chunkedSumSquares}).
 *
 * ```text
 * m ← m·β1 + (1 − β1)·g;   v ← v·β2 + ((1 − β2)·g)·g
 * u ← m / (√v + ε) + λθ
 * r ← min(‖θ‖, clampValue) / ‖u‖, or 1 when either is 0 (or with adam)      (f64)
 * θ ← θ + (−η·r)·u                    (η = γ, or γ·√(1 − β2ᵗ)/(1 − β1ᵗ) with debias; −η·r rounded once)
 * ```
 */
export function lambReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<LambRefState | undefined>, o: LAMBGroupOptions): void {
  const [b1, b2] = o.betas;
  const beta1 = f(b1), c1 = f(1 - b1), beta2 = f(b2), c2 = f(1 - b2), eps = f(o.eps), wd = f(o.weightDecay);
  eachWithGrad(params, grads, state, (p, g, st) => {
    const m = (st.expAvg ??= new Float32Array(p.length));
    const v = (st.expAvgSq ??= new Float32Array(p.length));
    const u = new Float32Array(p.length);
    for (let i = 0; i < p.length; i++) {
      m[i] = f(f(m[i]! * beta1) + f(c1 * g[i]!));
      v[i] = f(f(v[i]! * beta2) + f(f(c2 * g[i]!) * g[i]!));
      const r = f(m[i]! / f(f(Math.sqrt(v[i]!)) + eps));
      u[i] = o.weightDecay !== 0 ? f(r + f(wd * p[i]!)) : r;
    }
    const t = st.step;
    const stepSize = o.debias ? o.lr * (Math.sqrt(1 - b2 ** t) / (1 - b1 ** t)) : o.lr;
    let weightNorm = Math.sqrt(chunkedSumSquares(p));
    if (weightNorm > o.clampValue) weightNorm = o.clampValue;
    const adamNorm = Math.sqrt(chunkedSumSquares(u));
    // ‖u‖ below float32's smallest normal (2^-126) counts as 0, as in the kernel: φ/‖u‖ would overflow.
    let ratio = weightNorm === 0 || adamNorm < 2 ** -126 ? 1 : weightNorm / adamNorm;
    if (o.adam) ratio = 1;
    const negStep = f(-(stepSize * ratio));
    for (let i = 0; i < p.length; i++) p[i] = f(p[i]! + f(negStep * u[i]!));
  });
}

/**
 * One Lion step over `params` (in place).
 *
 * ```text
 * θ ← θ·(1 − γλ)
 * c ← fma((1 − β1), g, f32(m·β1))     (rounded once)
 * θ ← θ + (−γ)·sign(c)                 (sign(0) = sign(NaN) = 0)
 * m ← fma((1 − β2), g, f32(m·β2))     (rounded once)
 * ```
 */
export function lionReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<LionRefState | undefined>, o: LionGroupOptions): void {
  const [b1, b2] = o.betas;
  const decay = f(1 - o.lr * o.weightDecay), beta1 = f(b1), c1 = f(1 - b1), beta2 = f(b2), c2 = f(1 - b2), negLr = f(-o.lr);
  eachWithGrad(params, grads, state, (p, g, st) => {
    const m = (st.expAvg ??= new Float32Array(p.length));
    for (let i = 0; i < p.length; i++) {
      const pi = f(p[i]! * decay);
      const c = fmaF32(g[i]!, c1, f(m[i]! * beta1));
      const sign = c > 0 ? 1 : c < 0 ? -1 : 0;
      p[i] = f(pi + f(negLr * sign));
      m[i] = fmaF32(g[i]!, c2, f(m[i]! * beta2));
    }
  });
}

/**
 * Lookahead's sync of `params` (in place) with their slow weights `slow` (created as copies on a
 * parameter's first sync): θ ← θ·α + (1 − α)·φ; φ ← θ.
 */
export function lookaheadSyncReference(params: Float32Array[], slow: Array<Float32Array | undefined>, alpha: number): void {
  const a = f(alpha), rest = f(1 - alpha);
  params.forEach((p, j) => {
    const s = (slow[j] ??= p.slice());
    for (let i = 0; i < p.length; i++) {
      p[i] = f(f(p[i]! * a) + f(rest * s[i]!));
      s[i] = p[i]!;
    }
  });
}

/** The options and scalar state of a Schedule-Free param group, as the oracles keep them on the group (schedulefree's group dict). */
export interface ScheduleFreeRefGroup {
  lr: number;
  weightDecay: number;
  warmupSteps: number;
  r: number;
  weightLrPower: number;
  k?: number;
  trainMode?: boolean;
  weightSum?: number;
  lrMax?: number;
  scheduledLr?: number;
}

/** Per-parameter state of {@link sgdScheduleFreeReference} and {@link adamwScheduleFreeReference}. */
export interface ScheduleFreeRefState {
  step: number;
  z?: Float32Array;
  expAvgSq?: Float32Array;
}

/**
 * The start of schedulefree's `step` for one group, in float64, advancing the group's state:
 * ```text
 * γ ← lr · ((k + 1)/warmupSteps if k < warmupSteps, else 1);   lrMax ← max(γ, lrMax)
 * w ← (k + 1)^r · lrMax^weightLrPower;   weightSum ← weightSum + w;   c ← w / weightSum (0 if weightSum = 0)
 * ```
 * Returns γ, c and the k of this step (before the increment).
 */
function scheduleFreeGroupStep(o: ScheduleFreeRefGroup): { lr: number; ckp1: number; k: number } {
  const k = o.k ?? 0;
  const sched = k < o.warmupSteps ? (k + 1) / o.warmupSteps : 1.0;
  const lr = o.lr * sched;
  o.scheduledLr = lr;
  const prev = o.lrMax ?? -1;
  // Python's max(lr, lr_max)
  const lrMax = (o.lrMax = prev > lr ? prev : lr);
  const weight = (k + 1) ** o.r * lrMax ** o.weightLrPower;
  const weightSum = (o.weightSum = (o.weightSum ?? 0) + weight);
  // schedulefree: `try: ckp1 = weight/weight_sum except ZeroDivisionError: ckp1 = 0`
  const ckp1 = weightSum === 0 ? 0 : weight / weightSum;
  o.k = k + 1;
  o.trainMode ??= false;
  return { lr, ckp1, k };
}

/**
 * ATen's `lerp_(end, w)` with a scalar weight, in float32 (`w` already float32): `a + w·(b − a)`
 * for |w| < 0.5, else `b + (1 − w)·(a − b)`, as the kernel computes it: ATen's
 * `b − (b − a)·(1 − w)` but for the sign of a zero result (lerp(−0, −0, 1) is +0 here), where
 * torch's scalar and vectorised paths differ too.
 */
function atenLerp(a: number, b: number, w: number): number {
  return Math.abs(w) < 0.5 ? f(a + f(w * f(b - a))) : f(b + f(f(1 - w) * f(a - b)));
}

/**
 * One SGDScheduleFree step over `params` (in place), `foreach=False`:
 * ```text
 * z ← clone(θ)                               (a parameter's first step)
 * g ← g + λθ                                  (λ ≠ 0)
 * θ ← lerp(θ, z, c);   θ ← θ + f32(γ(β(1 − c) − 1))·g;   z ← z + f32(−γ)·g
 * ```
 */
export function sgdScheduleFreeReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<ScheduleFreeRefState | undefined>, o: ScheduleFreeRefGroup & { momentum: number }): void {
  const { lr, ckp1 } = scheduleFreeGroupStep(o);
  const w = f(ckp1), wd = f(o.weightDecay), cy = f(lr * (o.momentum * (1 - ckp1) - 1)), negLr = f(-lr);
  eachWithGrad(params, grads, state, (p, g, st) => {
    const z = (st.z ??= Float32Array.from(p));
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]!;
      if (o.weightDecay !== 0) gi = f(gi + f(wd * p[i]!));
      const y = atenLerp(p[i]!, z[i]!, w);
      p[i] = f(y + f(cy * gi));
      z[i] = f(z[i]! + f(negLr * gi));
    }
  });
}

/**
 * One AdamWScheduleFree step over `params` (in place), `foreach=False`:
 * ```text
 * z ← clone(θ);  v ← 0                        (a parameter's first step)
 * v ← f32(v·β2) + f32(f32((1 − β2)·g)·g)
 * g ← g / (√(v / f32(1 − β2^(k+1))) + ε)       (k: the group's count, before this step)
 * g ← g + λθ                                   (λ ≠ 0)
 * θ ← lerp(θ, z, c);   θ ← θ + f32(γ(β1(1 − c) − 1))·g;   z ← z + f32(−γ)·g
 * ```
 */
export function adamwScheduleFreeReference(
  params: Float32Array[],
  grads: Array<Float32Array | null>,
  state: Array<ScheduleFreeRefState | undefined>,
  o: ScheduleFreeRefGroup & { betas: readonly [number, number]; eps: number },
): void {
  const { lr, ckp1, k } = scheduleFreeGroupStep(o);
  const [b1, b2] = o.betas;
  const beta2 = f(b2), c2 = f(1 - b2), bc2 = f(1 - b2 ** (k + 1)), eps = f(o.eps);
  const w = f(ckp1), wd = f(o.weightDecay), cy = f(lr * (b1 * (1 - ckp1) - 1)), negLr = f(-lr);
  eachWithGrad(params, grads, state, (p, g, st) => {
    const z = (st.z ??= Float32Array.from(p));
    const v = (st.expAvgSq ??= new Float32Array(p.length));
    for (let i = 0; i < p.length; i++) {
      v[i] = f(f(v[i]! * beta2) + f(f(c2 * g[i]!) * g[i]!));
      const denom = f(f(Math.sqrt(f(v[i]! / bc2))) + eps);
      let gi = f(g[i]! / denom);
      if (o.weightDecay !== 0) gi = f(gi + f(wd * p[i]!));
      const y = atenLerp(p[i]!, z[i]!, w);
      p[i] = f(y + f(cy * gi));
      z[i] = f(z[i]! + f(negLr * gi));
    }
  });
}

/**
 * schedulefree's `train()` (`toTrain`: θ ← lerp(θ, z, 1 − β1) in the groups in eval mode) or
 * `eval()` (θ ← lerp(θ, z, 1 − 1/β1) in the groups in train mode); parameters without z stay.
 * `params[g][k]` and `state[g][k]` as in the step oracles.
 */
export function scheduleFreeModeReference(
  params: Float32Array[][],
  state: Array<Array<ScheduleFreeRefState | undefined>>,
  groups: Array<ScheduleFreeRefGroup>,
  toTrain: boolean,
  beta1Of: (o: ScheduleFreeRefGroup) => number,
): void {
  groups.forEach((o, gi) => {
    if ((o.trainMode ?? false) !== toTrain) {
      const beta1 = beta1Of(o);
      const w = f(toTrain ? 1 - beta1 : 1 - 1 / beta1);
      params[gi]!.forEach((p, j) => {
        const z = state[gi]![j]?.z;
        if (!z) return;
        for (let i = 0; i < p.length; i++) p[i] = atenLerp(p[i]!, z[i]!, w);
      });
    }
    o.trainMode = toTrain;
  });
}
