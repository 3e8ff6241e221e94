/**
 * Plain TypeScript reference implementations of the update rules, for tests only (not exported
 * from the package index).
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
