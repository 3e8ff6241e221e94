/**
 * torch 2.15's `_single_tensor_adafactor` transcribed line by line on scalars: every float32
 * tensor operation rounded with Math.fround as torch rounds it (ATen's two `lerp_` forms,
 * `rsqrt_` as 1/√x, no FMA), torch's Python floats (α, ρ, the clipping denominator, 1 − γλ) in
 * f64, its `.item()` of a float32 norm as a float32 value. The norms and the row and column sums
 * of g² are summed in f64 in ferroptim's kernel order (`crate/src/kernels/adafactor.rs`: tiles
 * of row blocks × 4096-column stripes, 32 lanes combined in a fixed tree), so this must equal
 * the native step bit for bit.
 * @module
 */

const f32 = Math.fround;

/** The kernel's tiles: columns per stripe, elements per tile, row blocks per matrix at most. */
const STRIPE = 4096;
const TILE = 65536;
const MAX_ROW_BLOCKS = 64;
const LANES = 32;

export interface AdafactorOracleOptions {
  lr: number;
  beta2Decay: number;
  eps: readonly [number | null, number];
  d: number;
  weightDecay: number;
  maximize: boolean;
}

/** One parameter's state: torch's `step`, `row_var` and `col_var` (factored) or `variance`. */
export interface AdafactorOracleState {
  step: number;
  rowVar?: Float32Array;
  colVar?: Float32Array;
  variance?: Float32Array;
}

/** Σ x² of the values `at(i)` for i in [0, n): lane i mod 32 in order, then the kernel's tree. */
function lanesSum(n: number, at: (i: number) => number): number {
  const l = new Float64Array(LANES);
  for (let i = 0; i < n; i++) {
    const x = at(i);
    l[i % LANES]! += x * x;
  }
  const l16 = Array.from({ length: 16 }, (_, j) => l[j]! + l[j + 16]!);
  const l8 = Array.from({ length: 8 }, (_, j) => l16[j]! + l16[j + 8]!);
  return l8[0]! + l8[1]! + (l8[2]! + l8[3]!) + (l8[4]! + l8[5]! + (l8[6]! + l8[7]!));
}

/** ATen's `lerp_(end, weight)` with a Python-float weight, in float32. */
function lerp(a: number, b: number, weight: number): number {
  const w = f32(weight);
  return Math.abs(w) < 0.5 ? f32(a + f32(w * f32(b - a))) : f32(b - f32(f32(b - a) * f32(1 - w)));
}

/** `x.clamp_(min=lo)` in float32 (a NaN stays NaN). */
function clampMin(x: number, lo: number): number {
  return x < lo ? lo : x;
}

interface Tile {
  b: number;
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

/** Rows per block of a `rows × cols` matrix. */
export function blockRows(rows: number, cols: number): number {
  const width = Math.max(Math.min(cols, STRIPE), 1);
  return Math.max(Math.min(Math.max(Math.ceil(TILE / width), Math.ceil(rows / MAX_ROW_BLOCKS)), rows), 1);
}

function tilesOf(batch: number, rows: number, cols: number): Tile[] {
  const br = blockRows(rows, cols);
  const out: Tile[] = [];
  for (let b = 0; b < batch; b++) {
    for (let r0 = 0; r0 < rows; r0 += br) {
      for (let c0 = 0; c0 < cols; c0 += STRIPE) out.push({ b, r0, r1: Math.min(r0 + br, rows), c0, c1: Math.min(c0 + STRIPE, cols) });
    }
  }
  return out;
}

/** Σ over a tensor of v(i)², in the kernel's order for its layout. */
function normSq(factored: boolean, batch: number, rows: number, cols: number, n: number, v: (i: number) => number): number {
  let total = 0;
  if (!factored) {
    for (let a = 0; a < n; a += TILE) total += lanesSum(Math.min(TILE, n - a), (i) => v(a + i));
    return total;
  }
  for (const t of tilesOf(batch, rows, cols)) {
    let tile = 0;
    for (let i = t.r0; i < t.r1; i++) {
      const at = (t.b * rows + i) * cols + t.c0;
      tile += lanesSum(t.c1 - t.c0, (j) => v(at + j));
    }
    total += tile;
  }
  return total;
}

/**
 * One Adafactor step of one parameter (`shape` its torch shape), in place; returns its state
 * (created on its first step, as torch does).
 */
export function adafactorReference(param: Float32Array, shape: readonly number[], grad: Float32Array, state: AdafactorOracleState | undefined, o: AdafactorOracleOptions): AdafactorOracleState {
  const n = param.length;
  const factored = shape.length >= 2;
  const rows = factored ? shape[shape.length - 2]! : 1;
  const cols = factored ? shape[shape.length - 1]! : n;
  const batch = factored ? n / (rows * cols) : 1;
  const st: AdafactorOracleState = state ?? (factored ? { step: 0, rowVar: new Float32Array(batch * rows), colVar: new Float32Array(batch * cols) } : { step: 0, variance: new Float32Array(n) });
  // grad = grads[i] if not maximize else -grads[i]
  const g = o.maximize ? grad.map((x) => -x) : grad;
  // if eps1 is None: eps1 = torch.finfo(param.dtype).eps
  const eps1 = o.eps[0] ?? 2 ** -23;
  const eps2 = o.eps[1];
  // step_t += 1 (a float32 tensor); step_float = step_t.item()
  st.step = f32(st.step + 1);
  const t = st.step;
  // one_minus_beta2_t = step_float**beta2_decay; rho_t = min(lr, 1 / (step_float**0.5))
  const w = Math.pow(t, o.beta2Decay);
  const inv = 1 / Math.sqrt(t);
  const rho = inv < o.lr ? inv : o.lr;
  // alpha = max(eps2, param.norm(2).item() / (param.numel() ** 0.5)) * rho_t
  const rms = f32(Math.sqrt(normSq(factored, batch, rows, cols, n, (i) => param[i]!))) / Math.sqrt(n);
  const alpha = (rms > eps2 ? rms : eps2) * rho;
  // if weight_decay != 0: param.mul_(1 - lr * weight_decay)
  if (o.weightDecay !== 0) {
    const decay = f32(1 - o.lr * o.weightDecay);
    for (let i = 0; i < n; i++) param[i] = f32(param[i]! * decay);
  }
  const varEstimate = new Float32Array(n);
  if (factored) {
    const rowVar = st.rowVar!;
    const colVar = st.colVar!;
    const br = blockRows(rows, cols);
    const tiles = tilesOf(batch, rows, cols);
    // row_mean = vector_norm(grad, dim=-1).square_().div_(grad.size(-1)); row_var.lerp_(row_mean, w)
    const rowSum = new Float64Array(batch * rows);
    for (const tl of tiles) {
      for (let i = tl.r0; i < tl.r1; i++) {
        const at = (tl.b * rows + i) * cols + tl.c0;
        rowSum[tl.b * rows + i]! += lanesSum(tl.c1 - tl.c0, (j) => g[at + j]!);
      }
    }
    for (let k = 0; k < batch * rows; k++) {
      const norm = f32(Math.sqrt(rowSum[k]!));
      rowVar[k] = lerp(rowVar[k]!, f32(f32(norm * norm) / cols), w);
    }
    // col_mean = vector_norm(grad, dim=-2).square_().div_(grad.size(-2)); col_var.lerp_(col_mean, w)
    // (each row block summed in order, then the blocks in order)
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < cols; j++) {
        let total = 0;
        for (let r0 = 0; r0 < rows; r0 += br) {
          let part = 0;
          for (let i = r0; i < Math.min(r0 + br, rows); i++) {
            const x = g[(b * rows + i) * cols + j]!;
            part = i === r0 ? x * x : part + x * x;
          }
          total = r0 === 0 ? part : total + part;
        }
        const norm = f32(Math.sqrt(total));
        colVar[b * cols + j] = lerp(colVar[b * cols + j]!, f32(f32(norm * norm) / rows), w);
      }
    }
    // var_estimate = row_var @ col_var; var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
    for (let b = 0; b < batch; b++) {
      let sum = 0;
      for (let i = 0; i < rows; i++) sum += rowVar[b * rows + i]!;
      const mean = clampMin(f32(f32(sum) / rows), f32(eps1));
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) varEstimate[(b * rows + i) * cols + j] = f32(f32(rowVar[b * rows + i]! * colVar[b * cols + j]!) / mean);
      }
    }
  } else {
    // variance.lerp_(grad * grad, w); var_estimate = variance.clone()
    const v = st.variance!;
    for (let i = 0; i < n; i++) {
      v[i] = lerp(v[i]!, f32(g[i]! * g[i]!), w);
      varEstimate[i] = v[i]!;
    }
  }
  // update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_(); update.mul_(grad)
  const lo = f32(eps1 * eps1);
  const update = new Float32Array(n);
  for (let i = 0; i < n; i++) update[i] = f32(f32(1 / f32(Math.sqrt(clampMin(varEstimate[i]!, lo)))) * g[i]!);
  // denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
  const q = f32(Math.sqrt(normSq(factored, batch, rows, cols, n, (i) => update[i]!))) / (Math.sqrt(n) * o.d);
  const denom = q > 1 ? q : 1;
  // param.add_(update, alpha=-alpha / denom)
  const scale = f32(-alpha / denom);
  for (let i = 0; i < n; i++) param[i] = f32(param[i]! + f32(scale * update[i]!));
  return st;
}
