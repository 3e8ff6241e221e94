/**
 * Plain TypeScript reference implementations of torch.optim's update rules (SGD, Adam/AdamW,
 * RMSprop, Adagrad, RAdam, NAdam, Adamax, Adadelta, Rprop, ASGD), for tests only (test code: not
 * in dist/).
 *
 * Each rule runs element by element and rounds to float32 (`Math.fround`) after every single
 * operation, in exactly the operation order of the Rust kernels (`crate/src/kernels`), which
 * transcribe PyTorch's `_single_tensor_sgd` / `_single_tensor_adam(w)`. Per-tensor scalars are
 * computed in f64 and rounded once, as the kernels do. Since an f32 `+ − × ÷ √` computed in f64
 * and rounded to f32 is the correctly rounded f32 result, these functions must agree with the
 * native kernels bit for bit.
 *
 * State follows PyTorch: a parameter whose grad is `null` is skipped (its state and step counter
 * do not advance); state buffers are allocated (zero-filled) on a parameter's first step.
 * @module
 */
import type { SGDOptions } from '../../ts/optim/sgd.js';
import type { AdamOptions } from '../../ts/optim/adam.js';
import type { RMSpropOptions } from '../../ts/optim/rmsprop.js';
import type { AdagradOptions } from '../../ts/optim/adagrad.js';
import type { RAdamOptions } from '../../ts/optim/radam.js';
import type { NAdamOptions } from '../../ts/optim/nadam.js';
import type { AdamaxOptions } from '../../ts/optim/adamax.js';
import type { AdadeltaOptions } from '../../ts/optim/adadelta.js';
import type { RpropOptions } from '../../ts/optim/rprop.js';
import type { ASGDOptions } from '../../ts/optim/asgd.js';

const f = Math.fround;

/** Per-parameter state of {@link sgdReference}. */
export interface SgdRefState {
  step: number;
  momentumBuffer?: Float32Array;
}

/** Per-parameter state of {@link adamReference}. */
export interface AdamRefState {
  step: number;
  expAvg?: Float32Array;
  expAvgSq?: Float32Array;
  maxExpAvgSq?: Float32Array;
}

/** Calls `body(p, g, st, j)` for every parameter with a grad, after creating and advancing its state. */
export function eachWithGrad<S extends { step: number }>(
  params: Float32Array[],
  grads: Array<Float32Array | null>,
  state: Array<S | undefined>,
  body: (p: Float32Array, g: Float32Array, st: S, j: number) => void,
): void {
  params.forEach((p, j) => {
    const g = grads[j];
    if (!g) return;
    const st = (state[j] ??= { step: 0 } as S);
    st.step += 1;
    body(p, g, st, j);
  });
}

/**
 * One SGD step over `params` (updated in place); `state[i]` is created on first use.
 *
 * ```text
 * g ← −g if maximize
 * g ← g + λθ                                            (λ ≠ 0)
 * b ← g on the buffer's first step, else b·μ + (1 − τ)·g  (μ ≠ 0)
 * g ← g + μ·b if nesterov, else b                       (μ ≠ 0)
 * θ ← θ + (−γ)·g
 * ```
 */
export function sgdReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<SgdRefState | undefined>, o: Required<SGDOptions>): void {
  const wd = f(o.weightDecay), mu = f(o.momentum), keep = f(1 - o.dampening), negLr = f(-o.lr);
  eachWithGrad(params, grads, state, (p, g, st) => {
    const first = o.momentum !== 0 && st.momentumBuffer === undefined;
    if (first) st.momentumBuffer = new Float32Array(p.length);
    const b = st.momentumBuffer;
    for (let i = 0; i < p.length; i++) {
      let d = o.maximize ? -g[i]! : g[i]!;
      if (o.weightDecay !== 0) d = f(d + f(wd * p[i]!));
      if (o.momentum !== 0) {
        b![i] = first ? d : f(f(b![i]! * mu) + f(keep * d));
        d = o.nesterov ? f(d + f(mu * b![i]!)) : b![i]!;
      }
      p[i] = f(p[i]! + f(negLr * d));
    }
  });
}

/**
 * One Adam (`decoupled = false`) or AdamW (`decoupled = true`) step over `params` (in place).
 *
 * ```text
 * g ← −g if maximize
 * g ← g + λθ  (Adam, λ ≠ 0)                θ ← θ·(1 − γλ)  (AdamW; 1 − γλ in f64, then rounded)
 * m ← m + w·(g − m)      if |w| < 0.5        (w = 1 − β1: ATen's two forms of lerp(m, g, w))
 *   g + (1 − w)·(m − g)  otherwise
 * v ← v·β2 + ((1 − β2)·g)·g
 * v̂ ← max(v̂, v) if amsgrad, else v
 * θ ← θ + ((−γ / (1 − β1ᵗ))·m) / (√v̂ / √(1 − β2ᵗ) + ε)     (t: the parameter's own step count)
 * ```
 */
export function adamReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<AdamRefState | undefined>, o: Required<AdamOptions>, decoupled: boolean): void {
  const [b1, b2] = o.betas;
  const w = f(1 - b1), wc = f(1 - w), small = Math.abs(w) < 0.5;
  const beta2 = f(b2), c2 = f(1 - b2), eps = f(o.eps), wd = f(o.weightDecay);
  const coupled = !decoupled && o.weightDecay !== 0;
  const decay = decoupled && o.weightDecay !== 0 ? f(1 - o.lr * o.weightDecay) : 1;
  eachWithGrad(params, grads, state, (p, g, st) => {
    const m = (st.expAvg ??= new Float32Array(p.length));
    const v = (st.expAvgSq ??= new Float32Array(p.length));
    const vmax = o.amsgrad ? (st.maxExpAvgSq ??= new Float32Array(p.length)) : undefined;
    const bc1 = 1 - b1 ** st.step, bc2 = 1 - b2 ** st.step;
    const bc2Sqrt = f(Math.sqrt(bc2)), negStep = f(-(o.lr / bc1));
    for (let i = 0; i < p.length; i++) {
      let gi = o.maximize ? -g[i]! : g[i]!;
      if (coupled) gi = f(gi + f(wd * p[i]!));
      const pi = f(p[i]! * decay);
      const mi = (m[i] = small ? f(m[i]! + f(w * f(gi - m[i]!))) : f(gi + f(wc * f(m[i]! - gi))));
      const vi = (v[i] = f(f(v[i]! * beta2) + f(f(c2 * gi) * gi)));
      let vh = vi;
      if (vmax) vh = vmax[i] = vmax[i]! >= vi ? vmax[i]! : vi;
      const denom = f(f(f(Math.sqrt(vh)) / bc2Sqrt) + eps);
      p[i] = f(pi + f(f(negStep * mi) / denom));
    }
  });
}


/** Per-parameter state of {@link rmspropReference}. */
export interface RmspropRefState {
  step: number;
  squareAvg?: Float32Array;
  momentumBuffer?: Float32Array;
  gradAvg?: Float32Array;
}

/** Per-parameter state of {@link adagradReference}. */
export interface AdagradRefState {
  step: number;
  sum?: Float32Array;
}

/** Per-parameter state of {@link radamReference}. */
export interface RadamRefState {
  step: number;
  expAvg?: Float32Array;
  expAvgSq?: Float32Array;
}

/** Per-parameter state of {@link nadamReference}. */
export interface NadamRefState {
  step: number;
  /** ∏ μᵢ, a float32 number (PyTorch's scalar tensor). */
  muProduct?: number;
  expAvg?: Float32Array;
  expAvgSq?: Float32Array;
}

/** Per-parameter state of {@link adamaxReference}. */
export interface AdamaxRefState {
  step: number;
  expAvg?: Float32Array;
  expInf?: Float32Array;
}

/** Per-parameter state of {@link adadeltaReference}. */
export interface AdadeltaRefState {
  step: number;
  squareAvg?: Float32Array;
  accDelta?: Float32Array;
}

/** ATen's lerp(m, g, w) in float32, in the form ATen picks for the weight w (already float32). */
function lerp(m: number, g: number, w: number, wc: number, small: boolean): number {
  return small ? f(m + f(w * f(g - m))) : f(g + f(wc * f(m - g)));
}

/**
 * One RMSprop step over `params` (in place).
 *
 * ```text
 * g ← −g if maximize;  g ← g + λθ (λ ≠ 0)
 * v ← v·α + ((1 − α)·g)·g
 * ḡ ← lerp(ḡ, g, 1 − α);  d ← √(v − ḡ·ḡ) + ε     (centered)      d ← √v + ε  (otherwise)
 * b ← b·μ + g/d;  θ ← θ + (−γ)·b                  (μ > 0)
 * θ ← θ + ((−γ)·g)/d                              (μ = 0)
 * ```
 */
export function rmspropReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<RmspropRefState | undefined>, o: Required<RMSpropOptions>): void {
  const wd = f(o.weightDecay), alpha = f(o.alpha), c = f(1 - o.alpha), cc = f(1 - c), small = Math.abs(c) < 0.5;
  const eps = f(o.eps), mu = f(o.momentum), negLr = f(-o.lr);
  eachWithGrad(params, grads, state, (p, g, st) => {
    const v = (st.squareAvg ??= new Float32Array(p.length));
    const b = o.momentum > 0 ? (st.momentumBuffer ??= new Float32Array(p.length)) : undefined;
    const ga = o.centered ? (st.gradAvg ??= new Float32Array(p.length)) : undefined;
    for (let i = 0; i < p.length; i++) {
      let gi = o.maximize ? -g[i]! : g[i]!;
      if (o.weightDecay !== 0) gi = f(gi + f(wd * p[i]!));
      const vi = (v[i] = f(f(v[i]! * alpha) + f(f(c * gi) * gi)));
      let d: number;
      if (ga) {
        const x = (ga[i] = lerp(ga[i]!, gi, c, cc, small));
        d = f(Math.sqrt(f(vi - f(x * x))));
      } else {
        d = f(Math.sqrt(vi));
      }
      d = f(d + eps);
      if (b) {
        b[i] = f(f(b[i]! * mu) + f(gi / d));
        p[i] = f(p[i]! + f(negLr * b[i]!));
      } else {
        p[i] = f(p[i]! + f(f(negLr * gi) / d));
      }
    }
  });
}

/** Adagrad's state as PyTorch creates it in the constructor: step 0 and `sum` filled with τ. */
export function adagradInitialState(length: number, o: Required<AdagradOptions>): AdagradRefState {
  return { step: 0, sum: new Float32Array(length).fill(o.initialAccumulatorValue) };
}

/**
 * One Adagrad step over `params` (in place).
 *
 * ```text
 * γ̃ ← γ / (1 + (t − 1)·η)                 (f64, then −γ̃ rounded)
 * g ← −g if maximize;  g ← g + λθ (λ ≠ 0)
 * s ← s + g·g
 * θ ← θ + ((−γ̃)·g) / (√s + ε)
 * ```
 */
export function adagradReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<AdagradRefState | undefined>, o: Required<AdagradOptions>): void {
  const wd = f(o.weightDecay), eps = f(o.eps);
  eachWithGrad(params, grads, state, (p, g, st) => {
    const s = (st.sum ??= new Float32Array(p.length).fill(o.initialAccumulatorValue));
    const negClr = f(-(o.lr / (1 + (st.step - 1) * o.lrDecay)));
    for (let i = 0; i < p.length; i++) {
      let gi = o.maximize ? -g[i]! : g[i]!;
      if (o.weightDecay !== 0) gi = f(gi + f(wd * p[i]!));
      const si = (s[i] = f(s[i]! + f(gi * gi)));
      const std = f(f(Math.sqrt(si)) + eps);
      p[i] = f(p[i]! + f(f(negClr * gi) / std));
    }
  });
}

/**
 * One RAdam step over `params` (in place).
 *
 * ```text
 * g ← −g if maximize;  g ← g + λθ (coupled, λ ≠ 0)  or  θ ← θ·(1 − γλ) (decoupled)
 * m ← lerp(m, g, 1 − β1);  v ← v·β2 + ((1 − β2)·g)·g
 * u ← (m / (1 − β1ᵗ))·γ
 * θ ← θ − (u·((1/(√v + ε))·√(1 − β2ᵗ)))·r      if ρₜ > 5      (ρₜ, r in f64, r rounded once)
 * θ ← θ − u                                      otherwise
 * ```
 */
export function radamReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<RadamRefState | undefined>, o: Required<RAdamOptions>): void {
  const [b1, b2] = o.betas;
  const w = f(1 - b1), wc = f(1 - w), small = Math.abs(w) < 0.5;
  const beta2 = f(b2), c2 = f(1 - b2), eps = f(o.eps), wd = f(o.weightDecay), lr = f(o.lr);
  const coupled = !o.decoupledWeightDecay && o.weightDecay !== 0;
  const decay = o.decoupledWeightDecay && o.weightDecay !== 0 ? f(1 - o.lr * o.weightDecay) : 1;
  const rhoInf = 2 / (1 - b2) - 1;
  eachWithGrad(params, grads, state, (p, g, st) => {
    const m = (st.expAvg ??= new Float32Array(p.length));
    const v = (st.expAvgSq ??= new Float32Array(p.length));
    const t = st.step;
    const bc1 = f(1 - b1 ** t), bc2 = 1 - b2 ** t;
    const rhoT = rhoInf - (2 * t * b2 ** t) / (1 - b2 ** t);
    const rectified = rhoT > 5;
    const rect = f((((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) ** 0.5);
    const bc2Sqrt = f(bc2 ** 0.5);
    for (let i = 0; i < p.length; i++) {
      let gi = o.maximize ? -g[i]! : g[i]!;
      if (coupled) gi = f(gi + f(wd * p[i]!));
      const pi = f(p[i]! * decay);
      const mi = (m[i] = lerp(m[i]!, gi, w, wc, small));
      const vi = (v[i] = f(f(v[i]! * beta2) + f(f(c2 * gi) * gi)));
      const u = f(f(mi / bc1) * lr);
      if (rectified) {
        const l = f(f(1 / f(f(Math.sqrt(vi)) + eps)) * bc2Sqrt);
        p[i] = f(pi - f(f(u * l) * rect));
      } else {
        p[i] = f(pi - u);
      }
    }
  });
}

/**
 * One NAdam step over `params` (in place).
 *
 * ```text
 * μₜ ← β1·(1 − ½·0.96^(tψ));  μₜ₊₁ ← β1·(1 − ½·0.96^((t+1)ψ));  Π ← f32(Π·f32(μₜ))
 * g ← −g if maximize;  g ← g + λθ (coupled, λ ≠ 0)  or  θ ← θ·(1 − γλ) (decoupled)
 * m ← lerp(m, g, 1 − β1);  v ← v·β2 + ((1 − β2)·g)·g
 * d ← √(v / (1 − β2ᵗ)) + ε
 * θ ← θ + (cg·g)/d;  θ ← θ + (cm·m)/d     cg = −γ(1 − μₜ)/(1 − Π),  cm = −γμₜ₊₁/(1 − Π·μₜ₊₁)
 * ```
 */
export function nadamReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<NadamRefState | undefined>, o: Required<NAdamOptions>): void {
  const [b1, b2] = o.betas;
  const w = f(1 - b1), wc = f(1 - w), small = Math.abs(w) < 0.5;
  const beta2 = f(b2), c2 = f(1 - b2), eps = f(o.eps), wd = f(o.weightDecay);
  const coupled = !o.decoupledWeightDecay && o.weightDecay !== 0;
  const decay = o.decoupledWeightDecay && o.weightDecay !== 0 ? f(1 - o.lr * o.weightDecay) : 1;
  eachWithGrad(params, grads, state, (p, g, st) => {
    const m = (st.expAvg ??= new Float32Array(p.length));
    const v = (st.expAvgSq ??= new Float32Array(p.length));
    const t = st.step;
    const bc2 = f(1 - b2 ** t);
    const mu = b1 * (1 - 0.5 * 0.96 ** (t * o.momentumDecay));
    const muNext = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * o.momentumDecay));
    const mp = (st.muProduct = f(f(st.muProduct ?? 1) * f(mu)));
    const cg = f((-o.lr * (1 - mu)) / (1 - mp));
    const cm = f((-o.lr * muNext) / (1 - mp * muNext));
    for (let i = 0; i < p.length; i++) {
      let gi = o.maximize ? -g[i]! : g[i]!;
      if (coupled) gi = f(gi + f(wd * p[i]!));
      let pi = f(p[i]! * decay);
      const mi = (m[i] = lerp(m[i]!, gi, w, wc, small));
      const vi = (v[i] = f(f(v[i]! * beta2) + f(f(c2 * gi) * gi)));
      const d = f(f(Math.sqrt(f(vi / bc2))) + eps);
      pi = f(pi + f(f(cg * gi) / d));
      p[i] = f(pi + f(f(cm * mi) / d));
    }
  });
}

/**
 * One Adamax step over `params` (in place).
 *
 * ```text
 * g ← −g if maximize;  g ← g + λθ (λ ≠ 0)
 * m ← lerp(m, g, 1 − β1)
 * u ← max(u·β2, |g| + ε)                  (NaN if either side is NaN, as torch.maximum)
 * θ ← θ + ((−γ/(1 − β1ᵗ))·m) / u
 * ```
 */
export function adamaxReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<AdamaxRefState | undefined>, o: Required<AdamaxOptions>): void {
  const [b1, b2] = o.betas;
  const w = f(1 - b1), wc = f(1 - w), small = Math.abs(w) < 0.5;
  const beta2 = f(b2), eps = f(o.eps), wd = f(o.weightDecay);
  eachWithGrad(params, grads, state, (p, g, st) => {
    const m = (st.expAvg ??= new Float32Array(p.length));
    const u = (st.expInf ??= new Float32Array(p.length));
    const negClr = f(-(o.lr / (1 - b1 ** st.step)));
    for (let i = 0; i < p.length; i++) {
      let gi = o.maximize ? -g[i]! : g[i]!;
      if (o.weightDecay !== 0) gi = f(gi + f(wd * p[i]!));
      const mi = (m[i] = lerp(m[i]!, gi, w, wc, small));
      const x = f(u[i]! * beta2), y = f(Math.abs(gi) + eps);
      const ui = (u[i] = x > y || Number.isNaN(x) ? x : y);
      p[i] = f(p[i]! + f(f(negClr * mi) / ui));
    }
  });
}

/**
 * One Adadelta step over `params` (in place).
 *
 * ```text
 * g ← −g if maximize;  g ← g + λθ (λ ≠ 0)
 * v ← v·ρ + ((1 − ρ)·g)·g
 * δ ← (√(a + ε) / √(v + ε))·g
 * a ← a·ρ + ((1 − ρ)·δ)·δ
 * θ ← θ + (−γ)·δ
 * ```
 */
export function adadeltaReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<AdadeltaRefState | undefined>, o: Required<AdadeltaOptions>): void {
  const wd = f(o.weightDecay), rho = f(o.rho), c = f(1 - o.rho), eps = f(o.eps), negLr = f(-o.lr);
  eachWithGrad(params, grads, state, (p, g, st) => {
    const v = (st.squareAvg ??= new Float32Array(p.length));
    const a = (st.accDelta ??= new Float32Array(p.length));
    for (let i = 0; i < p.length; i++) {
      let gi = o.maximize ? -g[i]! : g[i]!;
      if (o.weightDecay !== 0) gi = f(gi + f(wd * p[i]!));
      const vi = (v[i] = f(f(v[i]! * rho) + f(f(c * gi) * gi)));
      const std = f(Math.sqrt(f(vi + eps)));
      const delta = f(f(f(Math.sqrt(f(a[i]! + eps))) / std) * gi);
      a[i] = f(f(a[i]! * rho) + f(f(c * delta) * delta));
      p[i] = f(p[i]! + f(negLr * delta));
    }
  });
}

/** torch.sign: 1, −1, or 0 for ±0 and NaN. */
function torchSign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/** Per-parameter state of {@link rpropReference}. */
export interface RpropRefState {
  step: number;
  prev?: Float32Array;
  stepSize?: Float32Array;
}

/**
 * One Rprop step over `params` (in place), as `_single_tensor_rprop`: the masked writes of η+, η−
 * and 1 into the float32 sign tensor in torch's order, the clamp as `std::min(std::max(Δ, lo), hi)`.
 *
 * ```text
 * g ← −g if maximize
 * s ← sign(g·prev);  s ← η+ where s > 0;  s ← η− where s < 0;  s ← 1 where s = 0
 * Δ ← min(max(Δ·s, Δmin), Δmax)         (Δ starts at γ when the state is created)
 * g ← 0 where s = η−
 * θ ← θ + (−1·sign(g))·Δ;  prev ← g
 * ```
 */
export function rpropReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<RpropRefState | undefined>, o: Required<RpropOptions>): void {
  const [etaminus, etaplus] = o.etas;
  const [minStep, maxStep] = o.stepSizes;
  const em = f(etaminus), ep = f(etaplus), lo = f(minStep), hi = f(maxStep);
  eachWithGrad(params, grads, state, (p, g, st) => {
    const prev = (st.prev ??= new Float32Array(p.length));
    const stepSize = (st.stepSize ??= new Float32Array(p.length).fill(f(o.lr)));
    for (let i = 0; i < p.length; i++) {
      let gi = o.maximize ? -g[i]! : g[i]!;
      let s = torchSign(f(gi * prev[i]!));
      if (s > 0) s = ep;
      if (s < 0) s = em;
      if (s === 0) s = 1;
      let d = f(stepSize[i]! * s);
      d = d < lo ? lo : d;
      d = hi < d ? hi : d;
      stepSize[i] = d;
      if (s === em) gi = 0;
      p[i] = f(p[i]! + f(-1 * torchSign(gi) * d));
      prev[i] = gi;
    }
  });
}

/** Per-parameter state of {@link asgdReference}: `eta` and `mu` are float32 numbers, as torch's 0-dim tensors. */
export interface AsgdRefState {
  step: number;
  ax?: Float32Array;
  eta?: number;
  mu?: number;
}

/**
 * One ASGD step over `params` (in place), as `_single_tensor_asgd`, with `eta` and `mu` stored
 * as torch stores them (computed at the end of each step for the next).
 *
 * ```text
 * g ← −g if maximize;  g ← g + λw·θ (λw ≠ 0)
 * θ ← θ·f32(1 − λη);  θ ← θ + (−η)·g
 * ax ← θ if μ = 1, else ax + (θ − ax)·μ
 * η ← f32(γ/(1 + λγt)^α);  μ ← f32(1/max(1, t − t0))
 * ```
 */
export function asgdReference(params: Float32Array[], grads: Array<Float32Array | null>, state: Array<AsgdRefState | undefined>, o: Required<ASGDOptions>): void {
  const wd = f(o.weightDecay);
  eachWithGrad(params, grads, state, (p, g, st) => {
    if (st.ax === undefined) {
      st.ax = new Float32Array(p.length);
      st.eta = f(o.lr);
      st.mu = 1;
    }
    const ax = st.ax;
    const eta = st.eta!, mu = st.mu!;
    const decay = f(1 - o.lambd * eta);
    for (let i = 0; i < p.length; i++) {
      let gi = o.maximize ? -g[i]! : g[i]!;
      if (o.weightDecay !== 0) gi = f(gi + f(wd * p[i]!));
      let pi = f(p[i]! * decay);
      pi = f(pi + f(-eta * gi));
      p[i] = pi;
      ax[i] = mu !== 1 ? f(ax[i]! + f(f(pi - ax[i]!) * mu)) : pi;
    }
    const t = st.step;
    st.eta = f(o.lr / (1 + o.lambd * o.lr * t) ** o.alpha);
    st.mu = f(1 / Math.max(1, t - o.t0));
  });
}
