//! Adafactor (PyTorch 2.15 `torch/optim/_adafactor.py`, `_single_tensor_adafactor`).
//!
//! ```text
//! g ← −g if maximize
//! t ← t + 1;  w = t^τ (τ = beta2_decay);  ρ = min(γ, 1/√t)     (per-step scalars, the caller's)
//! α ← max(ε2, ‖θ‖/√n)·ρ                                        (θ before the decay)
//! θ ← θ·(1 − γλ)                                               (when λ ≠ 0)
//! factored (2 or more dims: rows × cols of the last two, a batch of the leading ones):
//!   R ← lerp(R, ‖g_i,:‖²/cols, w)                              (one value per row)
//!   C ← lerp(C, ‖g_:,j‖²/rows, w)                              (one value per column)
//!   V̂ ← (R·C) / max(mean(R), ε1)                               (per matrix of the batch)
//! else:
//!   V ← lerp(V, g·g, w);  V̂ ← V
//! U ← (1/√max(V̂, ε1²))·g                                       (rsqrt_: a root, then a division)
//! θ ← θ − (α / max(1, ‖U‖/(√n·d)))·U
//! ```
//!
//! Rounding follows torch's tensor code: every element operation is a float32 one, the norms
//! are float32 values (`.item()` of a float32 tensor) and α, ρ, the denominator and `1 − γλ` are
//! f64 (Python floats) rounded to float32 where a tensor operation takes them. The norms and sums
//! are computed in f64 in the fixed order below, then rounded to float32 once, where torch
//! accumulates in float32 in an order of its own; that is the only difference (see the deviation
//! notes of `ts/optim/adafactor.ts`).
//!
//! # Passes and summation order
//! A step is three parallel regions over all tensors together, each over fixed tiles: a tile is
//! one block of rows × one stripe of columns of one matrix of the batch (a factored tensor), or a
//! range of [`TILE`] elements (a vector). Tiles depend only on the shapes, so every sum below
//! is the same whatever the thread count, and the SIMD level computes the same bits (plain IEEE
//! operations, no FMA).
//!
//! 1. Σθ², and the squares of g: per row slice, 32 lanes (lane = index in the slice mod 32,
//!    [`combine_lanes`]) give the row's partial sum of g² and of θ²; per column, the block's rows
//!    are summed in order. Vectors: V is updated here, Σθ² in lanes over the tile.
//! 2. Between passes, per tensor on the calling thread: row sums = stripes' partials in order,
//!    column sums = blocks' partials in order, R and C updated, mean(R) (Σ in f64 in index
//!    order), Σθ² = tiles' sums in order (a tile's rows in order), α.
//! 3. ΣU² (as Σθ²); the denominator and the step −α/denom.
//! 4. θ updated; U is recomputed (bit for bit), not stored: Adafactor is for when memory is short.

use crate::engine::Error;
use crate::kernels::Lerp;
use crate::simd::{self, combine_lanes, Simd, A64, LANES};

/// Columns per stripe of a tile (a row slice of g, θ and the column partials stays in L1/L2).
pub const STRIPE: usize = 4096;
/// Elements per tile, about.
pub const TILE: usize = 65536;
/// Row blocks per matrix at most: bounds the column partials to `MAX_ROW_BLOCKS × cols` f64.
pub const MAX_ROW_BLOCKS: usize = 64;

/// The per-tensor values the caller packs, in this order.
pub const HYPER: &[&str] = &["weight", "rho", "eps1", "eps2", "d", "decay", "weight_decay", "maximize"];

/// A tensor's layout: `batch` matrices of `rows × cols` when factored; a vector of
/// `batch·rows·cols` elements otherwise (the caller passes 1, 1, n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub factored: bool,
    pub batch: usize,
    pub rows: usize,
    pub cols: usize,
}

impl Shape {
    /// Number of elements, if it fits.
    pub fn numel(&self) -> Option<usize> {
        self.batch.checked_mul(self.rows)?.checked_mul(self.cols)
    }

    /// Rows per row block: about [`TILE`] elements per tile, at most [`MAX_ROW_BLOCKS`] blocks.
    pub fn block_rows(&self) -> usize {
        let width = self.cols.clamp(1, STRIPE);
        TILE.div_ceil(width).max(self.rows.div_ceil(MAX_ROW_BLOCKS)).min(self.rows).max(1)
    }

    /// Column stripes per matrix.
    pub fn stripes(&self) -> usize {
        self.cols.div_ceil(STRIPE)
    }
}

/// One tensor's scalars for this step, as packed ([`HYPER`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorHyper {
    /// The lerp weight 1 − β2ₜ = t^τ.
    pub weight: f64,
    /// ρ = min(γ, 1/√t).
    pub rho: f64,
    /// ε1 (the dtype's machine epsilon when torch's is None).
    pub eps1: f64,
    pub eps2: f64,
    pub d: f64,
    /// 1 − γλ.
    pub decay: f64,
    /// λ ≠ 0.
    pub weight_decay: bool,
    pub maximize: bool,
}

impl TensorHyper {
    /// Reads the packed values of [`HYPER`].
    pub fn parse(h: &[f64]) -> TensorHyper {
        TensorHyper {
            weight: h[0],
            rho: h[1],
            eps1: h[2],
            eps2: h[3],
            d: h[4],
            decay: h[5],
            weight_decay: h[6] != 0.0,
            maximize: h[7] != 0.0,
        }
    }
}

/// One tensor of a step: the parameter, its gradient and its state, which for a factored tensor
/// is `row_var` (batch·rows values, torch's shape `[..., rows, 1]`) and `col_var` (batch·cols,
/// `[..., 1, cols]`), and otherwise `variance` (as many as the parameter) with `col_var` empty.
pub struct Tensor<'a> {
    pub param: &'a mut [f32],
    pub grad: &'a [f32],
    pub row_var: &'a mut [f32],
    pub col_var: &'a mut [f32],
    pub shape: Shape,
    pub hyper: TensorHyper,
}

/// One tile: rows `[r0, r1)` (row block `block`) × columns `[c0, c1)` (stripe `stripe`) of
/// matrix `b` of tensor `t`; for a vector, elements `[c0, c1)`.
#[derive(Clone, Copy, Debug)]
struct Tile {
    t: usize,
    b: usize,
    block: usize,
    stripe: usize,
    r0: usize,
    r1: usize,
    c0: usize,
    c1: usize,
}

/// Per tensor: its tiles, where its partials live, and its scalars.
#[derive(Clone, Copy, Debug, Default)]
struct Plan {
    tiles: (usize, usize),
    row_part: usize,
    col_part: usize,
    mean: usize,
    lerp_w: f64,
    alpha: f64,
    /// −α/denom as float32, negated again when maximizing (see [`Rows::scale`]).
    scale: f32,
}

/// Raw views of one tensor's buffers for the parallel passes.
#[derive(Clone, Copy)]
struct Ptrs {
    param: *mut f32,
    grad: *const f32,
    row_var: *mut f32,
    col_var: *mut f32,
}

/// What the passes share: raw views and the scratch arrays, each element of which one tile
/// writes (or which no tile writes during the pass).
#[derive(Clone, Copy)]
struct Shared {
    ptrs: *const Ptrs,
    tiles: *const Tile,
    plans: *const Plan,
    shapes: *const Shape,
    hypers: *const TensorHyper,
    tile_sums: *mut f64,
    row_part: *mut f64,
    col_part: *mut f64,
    means: *const f32,
}

// SAFETY: the pointers are used only inside one step, while the caller is blocked, and every
// pass writes disjoint elements from different tiles (see each pass).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

/// Reusable scratch of [`step`]: a step in steady state allocates nothing.
#[derive(Default)]
pub struct Scratch {
    ptrs: Vec<Ptrs>,
    shapes: Vec<Shape>,
    hypers: Vec<TensorHyper>,
    tiles: Vec<Tile>,
    plans: Vec<Plan>,
    tile_sums: Vec<f64>,
    row_part: Vec<f64>,
    col_part: Vec<f64>,
    means: Vec<f32>,
}

impl Scratch {
    /// Bytes held (for reporting native memory).
    pub fn bytes(&self) -> usize {
        self.ptrs.capacity() * std::mem::size_of::<Ptrs>()
            + self.shapes.capacity() * std::mem::size_of::<Shape>()
            + self.hypers.capacity() * std::mem::size_of::<TensorHyper>()
            + self.tiles.capacity() * std::mem::size_of::<Tile>()
            + self.plans.capacity() * std::mem::size_of::<Plan>()
            + 8 * (self.tile_sums.capacity() + self.row_part.capacity() + self.col_part.capacity())
            + 4 * self.means.capacity()
    }
}

fn range(msg: String) -> Error {
    Error::Range(msg)
}

/// Checks one tensor: lengths against its shape, finite scalars in range.
fn check(i: usize, t: &Tensor<'_>) -> Result<usize, Error> {
    let s = t.shape;
    let n = s.numel().ok_or_else(|| range(format!("parameter {i}: shape {} × {} × {} overflows", s.batch, s.rows, s.cols)))?;
    if n == 0 {
        return Err(range(format!("parameter {i} has no elements (torch fails on it with a ZeroDivisionError)")));
    }
    if !s.factored && (s.batch != 1 || s.rows != 1) {
        return Err(range(format!("parameter {i}: a vector is passed as 1 × 1 × n, received {} × {} × {}", s.batch, s.rows, s.cols)));
    }
    let want = |what: &str, got: usize, len: usize| {
        if got == len {
            Ok(())
        } else {
            Err(range(format!("expected {what} of parameter {i} to have length {len}, received {got} (a detached buffer has length 0)")))
        }
    };
    want("data", t.param.len(), n)?;
    want("grad", t.grad.len(), n)?;
    if s.factored {
        want("row_var", t.row_var.len(), s.batch * s.rows)?;
        want("col_var", t.col_var.len(), s.batch * s.cols)?;
    } else {
        want("variance", t.row_var.len(), n)?;
        want("the unused col_var", t.col_var.len(), 0)?;
    }
    let h = t.hyper;
    for (name, v) in HYPER.iter().zip([h.weight, h.rho, h.eps1, h.eps2, h.d, h.decay]) {
        if !v.is_finite() {
            return Err(range(format!("expected {name} of parameter {i} to be finite, received {v}")));
        }
    }
    if !(h.eps1 >= 0.0 && h.eps2 >= 0.0 && h.d >= 1.0 && h.rho >= 0.0) {
        return Err(range(format!(
            "parameter {i}: expected eps1 >= 0, eps2 >= 0, d >= 1 and rho >= 0, received {}, {}, {} and {}",
            h.eps1, h.eps2, h.d, h.rho
        )));
    }
    Ok(n)
}

/// One Adafactor step of every tensor (see the module's doc), in three parallel regions.
/// Everything is checked before anything is written.
pub fn step(tensors: &mut [Tensor<'_>], scratch: &mut Scratch) -> Result<(), Error> {
    let mut total = 0usize;
    for (i, t) in tensors.iter().enumerate() {
        total = total.saturating_add(check(i, t)?);
    }
    let sc = scratch;
    sc.ptrs.clear();
    sc.shapes.clear();
    sc.hypers.clear();
    sc.tiles.clear();
    sc.plans.clear();
    let (mut rows, mut cols, mut means) = (0usize, 0usize, 0usize);
    for (ti, t) in tensors.iter_mut().enumerate() {
        let s = t.shape;
        sc.ptrs.push(Ptrs {
            param: t.param.as_mut_ptr(),
            grad: t.grad.as_ptr(),
            row_var: t.row_var.as_mut_ptr(),
            col_var: t.col_var.as_mut_ptr(),
        });
        sc.shapes.push(s);
        sc.hypers.push(t.hyper);
        let first = sc.tiles.len();
        let mut plan = Plan { row_part: rows, col_part: cols, mean: means, lerp_w: t.hyper.weight, ..Plan::default() };
        if s.factored {
            let (br, ns) = (s.block_rows(), s.stripes());
            let nb = s.rows.div_ceil(br);
            for b in 0..s.batch {
                for block in 0..nb {
                    for stripe in 0..ns {
                        let (r0, c0) = (block * br, stripe * STRIPE);
                        sc.tiles.push(Tile { t: ti, b, block, stripe, r0, r1: (r0 + br).min(s.rows), c0, c1: (c0 + STRIPE).min(s.cols) });
                    }
                }
            }
            rows += ns * s.batch * s.rows;
            cols += nb * s.batch * s.cols;
            means += s.batch;
        } else {
            let n = s.cols;
            for (k, c0) in (0..n).step_by(TILE).enumerate() {
                sc.tiles.push(Tile { t: ti, b: 0, block: k, stripe: 0, r0: 0, r1: 0, c0, c1: (c0 + TILE).min(n) });
            }
        }
        plan.tiles = (first, sc.tiles.len());
        sc.plans.push(plan);
    }
    // Every element of these is written by its tile before it is read.
    sc.tile_sums.resize(sc.tiles.len(), 0.0);
    sc.row_part.resize(rows, 0.0);
    sc.col_part.resize(cols, 0.0);
    sc.means.resize(means, 0.0);

    let shared = |sc: &mut Scratch| Shared {
        ptrs: sc.ptrs.as_ptr(),
        tiles: sc.tiles.as_ptr(),
        plans: sc.plans.as_ptr(),
        shapes: sc.shapes.as_ptr(),
        hypers: sc.hypers.as_ptr(),
        tile_sums: sc.tile_sums.as_mut_ptr(),
        row_part: sc.row_part.as_mut_ptr(),
        col_part: sc.col_part.as_mut_ptr(),
        means: sc.means.as_ptr(),
    };
    let n_tiles = sc.tiles.len();
    // On the team when the step is large enough (decided once for the three passes).
    let par = crate::driver::parallel(total);

    // Pass 1: Σθ², the squares of g (factored) or V (vectors).
    let sh = shared(sc);
    // SAFETY: tile k writes tile_sums[k], its rows' row partials of its stripe, its block's
    // column partials of its stripe, and (vectors) its elements of V: disjoint across tiles.
    crate::pool::for_each_if(par, n_tiles, |k| unsafe { pass1(sh, k) });
    for ti in 0..tensors.len() {
        finish_stats(sc, ti);
    }

    // Pass 2: ΣU².
    let sh = shared(sc);
    // SAFETY: tile k writes tile_sums[k] only; the state is only read.
    crate::pool::for_each_if(par, n_tiles, |k| unsafe { pass2(sh, k) });
    for ti in 0..tensors.len() {
        finish_scale(sc, ti);
    }

    // Pass 3: θ.
    let sh = shared(sc);
    // SAFETY: tile k writes its own elements of θ; the state is only read.
    crate::pool::for_each_if(par, n_tiles, |k| unsafe { pass3(sh, k) });
    Ok(())
}

/// Σθ² of the tiles of tensor `ti`, in order.
fn tiles_sum(sc: &Scratch, ti: usize) -> f64 {
    let (a, b) = sc.plans[ti].tiles;
    sc.tile_sums[a..b].iter().fold(0.0, |acc, &x| acc + x)
}

/// Between passes 1 and 2: R, C and mean(R) of a factored tensor, and α.
fn finish_stats(sc: &mut Scratch, ti: usize) {
    let (s, h, p) = (sc.shapes[ti], sc.hypers[ti], sc.plans[ti]);
    let lerp = Lerp::new(p.lerp_w);
    let n = s.numel().unwrap_or(0);
    if s.factored {
        let (nb, ns, br) = (s.rows.div_ceil(s.block_rows()), s.stripes(), s.batch * s.rows);
        let ptrs = sc.ptrs[ti];
        // SAFETY: checked lengths (batch·rows, batch·cols); no pass runs now.
        let (rv, cv) =
            unsafe { (std::slice::from_raw_parts_mut(ptrs.row_var, br), std::slice::from_raw_parts_mut(ptrs.col_var, s.batch * s.cols)) };
        let rp = &sc.row_part[p.row_part..p.row_part + ns * br];
        let (cols_f, rows_f) = (s.cols as f32, s.rows as f32);
        for (i, r) in rv.iter_mut().enumerate() {
            // ‖g_i,:‖: the stripes' partial sums in order.
            let sum = (0..ns).fold(0.0, |acc, st| acc + rp[st * br + i]);
            let norm = sum.sqrt() as f32;
            *r = lerp_any(&lerp, *r, (norm * norm) / cols_f); // R ← lerp(R, ‖g_i,:‖²/cols, w)
        }
        let cp = &mut sc.col_part[p.col_part..p.col_part + nb * s.batch * s.cols];
        for b in 0..s.batch {
            // ‖g_:,j‖: the blocks' partial sums in order, into the first block's.
            let mat = &mut cp[b * nb * s.cols..(b + 1) * nb * s.cols];
            let (acc, rest) = mat.split_at_mut(s.cols);
            for part in rest.chunks_exact(s.cols) {
                for (a, &x) in acc.iter_mut().zip(part) {
                    *a += x;
                }
            }
            for (c, &sum) in cv[b * s.cols..(b + 1) * s.cols].iter_mut().zip(acc.iter()) {
                let norm = sum.sqrt() as f32;
                *c = lerp_any(&lerp, *c, (norm * norm) / rows_f); // C ← lerp(C, ‖g_:,j‖²/rows, w)
            }
            // max(mean(R), ε1): Σ in f64 in index order, rounded, divided in float32.
            let sum = rv[b * s.rows..(b + 1) * s.rows].iter().fold(0.0f64, |acc, &x| acc + x as f64);
            let mean = (sum as f32) / rows_f;
            let eps1 = h.eps1 as f32;
            sc.means[p.mean + b] = if mean < eps1 { eps1 } else { mean };
        }
    }
    // α ← max(ε2, ‖θ‖/√n)·ρ, with Python's max (a NaN norm gives ε2).
    let rms = (tiles_sum(sc, ti).sqrt() as f32) as f64 / (n as f64).sqrt();
    sc.plans[ti].alpha = (if rms > h.eps2 { rms } else { h.eps2 }) * h.rho;
}

/// Between passes 2 and 3: denom = max(1, ‖U‖/(√n·d)) and the step −α/denom.
fn finish_scale(sc: &mut Scratch, ti: usize) {
    let (s, h) = (sc.shapes[ti], sc.hypers[ti]);
    let n = s.numel().unwrap_or(0);
    let q = (tiles_sum(sc, ti).sqrt() as f32) as f64 / ((n as f64).sqrt() * h.d);
    let denom = if q > 1.0 { q } else { 1.0 };
    let scale = (-sc.plans[ti].alpha / denom) as f32;
    // Maximizing negates g, hence U: the sign moves onto the step, the same bits.
    sc.plans[ti].scale = if h.maximize { -scale } else { scale };
}

#[inline(always)]
fn lerp_any(l: &Lerp, a: f32, b: f32) -> f32 {
    if l.small {
        l.apply::<true>(a, b)
    } else {
        l.apply::<false>(a, b)
    }
}

/// U from the (unclamped) variance estimate v and g.
#[inline(always)]
fn u_of(v: f32, e2: f32, g: f32) -> f32 {
    let v = if v < e2 { e2 } else { v }; // clamp_(min = ε1²); a NaN stays NaN
    (1.0 / v.sqrt()) * g // rsqrt_() · g
}

/// The tile's tensor, shape, hyperparameters and plan.
///
/// # Safety
/// `k` is a tile of the step `sh` was made for.
#[inline(always)]
unsafe fn tile_of(sh: Shared, k: usize) -> (Tile, Ptrs, Shape, TensorHyper, Plan) {
    let tile = *sh.tiles.add(k);
    (tile, *sh.ptrs.add(tile.t), *sh.shapes.add(tile.t), *sh.hypers.add(tile.t), *sh.plans.add(tile.t))
}

/// # Safety
/// As the call in [`step`]: tile `k` of a checked step, no other tile writing its elements.
unsafe fn pass1(sh: Shared, k: usize) {
    let (tile, p, s, _h, plan) = tile_of(sh, k);
    if !s.factored {
        let (a, b) = (tile.c0, tile.c1);
        let th = std::slice::from_raw_parts(p.param.add(a), b - a);
        let g = std::slice::from_raw_parts(p.grad.add(a), b - a);
        let v = std::slice::from_raw_parts_mut(p.row_var.add(a), b - a);
        let lerp = Lerp::new(plan.lerp_w);
        let mut sum = 0.0;
        if lerp.small {
            simd::dispatch(VecStats::<true> { th, g, v, lerp, sum: &mut sum });
        } else {
            simd::dispatch(VecStats::<false> { th, g, v, lerp, sum: &mut sum });
        }
        *sh.tile_sums.add(k) = sum;
        return;
    }
    let (nb, br) = (s.rows.div_ceil(s.block_rows()), s.batch * s.rows);
    let w = tile.c1 - tile.c0;
    let col = std::slice::from_raw_parts_mut(sh.col_part.add(plan.col_part + (tile.b * nb + tile.block) * s.cols + tile.c0), w);
    let row_part = sh.row_part.add(plan.row_part + tile.stripe * br + tile.b * s.rows);
    let mut sum = 0.0;
    for i in tile.r0..tile.r1 {
        let at = (tile.b * s.rows + i) * s.cols + tile.c0;
        let g = std::slice::from_raw_parts(p.grad.add(at), w);
        let th = std::slice::from_raw_parts(p.param.add(at), w);
        let mut out = (0.0, 0.0);
        if i == tile.r0 {
            simd::dispatch(RowStats::<true> { g, th, col: &mut *col, out: &mut out });
        } else {
            simd::dispatch(RowStats::<false> { g, th, col: &mut *col, out: &mut out });
        }
        *row_part.add(i) = out.0;
        sum += out.1;
    }
    *sh.tile_sums.add(k) = sum;
}

/// # Safety
/// As [`pass1`].
unsafe fn pass2(sh: Shared, k: usize) {
    let (tile, p, s, h, plan) = tile_of(sh, k);
    let e2 = (h.eps1 * h.eps1) as f32;
    let mut sum = 0.0;
    if !s.factored {
        let (a, b) = (tile.c0, tile.c1);
        let g = std::slice::from_raw_parts(p.grad.add(a), b - a);
        let v = std::slice::from_raw_parts(p.row_var.add(a), b - a);
        simd::dispatch(Norm { g, x: v, u: |g, v| u_of(v, e2, g), sum: &mut sum });
    } else {
        let w = tile.c1 - tile.c0;
        let m = *sh.means.add(plan.mean + tile.b);
        let cv = std::slice::from_raw_parts(p.col_var.add(tile.b * s.cols + tile.c0), w);
        for i in tile.r0..tile.r1 {
            let at = (tile.b * s.rows + i) * s.cols + tile.c0;
            let r = *p.row_var.add(tile.b * s.rows + i);
            let g = std::slice::from_raw_parts(p.grad.add(at), w);
            let mut row = 0.0;
            // V̂ = R·C / mean(R)
            simd::dispatch(Norm { g, x: cv, u: |g, c| u_of((r * c) / m, e2, g), sum: &mut row });
            sum += row;
        }
    }
    *sh.tile_sums.add(k) = sum;
}

/// # Safety
/// As [`pass1`].
unsafe fn pass3(sh: Shared, k: usize) {
    let (tile, p, s, h, plan) = tile_of(sh, k);
    let e2 = (h.eps1 * h.eps1) as f32;
    let rows = Rows { decay: h.decay as f32, scale: plan.scale, e2 };
    if !s.factored {
        let (a, b) = (tile.c0, tile.c1);
        let th = std::slice::from_raw_parts_mut(p.param.add(a), b - a);
        let g = std::slice::from_raw_parts(p.grad.add(a), b - a);
        let v = std::slice::from_raw_parts(p.row_var.add(a), b - a);
        if h.weight_decay {
            simd::dispatch(VecUpdate::<true> { th, g, v, rows });
        } else {
            simd::dispatch(VecUpdate::<false> { th, g, v, rows });
        }
        return;
    }
    let w = tile.c1 - tile.c0;
    let m = *sh.means.add(plan.mean + tile.b);
    let cv = std::slice::from_raw_parts(p.col_var.add(tile.b * s.cols + tile.c0), w);
    for i in tile.r0..tile.r1 {
        let at = (tile.b * s.rows + i) * s.cols + tile.c0;
        let r = *p.row_var.add(tile.b * s.rows + i);
        let g = std::slice::from_raw_parts(p.grad.add(at), w);
        let th = std::slice::from_raw_parts_mut(p.param.add(at), w);
        if h.weight_decay {
            simd::dispatch(RowUpdate::<true> { r, m, cv, g, th, rows });
        } else {
            simd::dispatch(RowUpdate::<false> { r, m, cv, g, th, rows });
        }
    }
}

/// Pass 1 over one row slice of a factored tensor: the column partials (`FIRST`: the block's
/// first row, assigned; then added) and the row's Σg² and Σθ² in lanes.
struct RowStats<'a, const FIRST: bool> {
    g: &'a [f32],
    th: &'a [f32],
    col: &'a mut [f64],
    out: &'a mut (f64, f64),
}

impl<const FIRST: bool> Simd for RowStats<'_, FIRST> {
    #[inline(always)]
    fn run(self) {
        let (mut lg, mut lt) = (A64([0.0f64; LANES]), A64([0.0f64; LANES]));
        let n = self.g.len();
        let main = n / LANES * LANES;
        let (g, th, col) = (&self.g[..n], &self.th[..n], &mut self.col[..n]);
        for ((gc, tc), cc) in g[..main].chunks_exact(LANES).zip(th[..main].chunks_exact(LANES)).zip(col[..main].chunks_exact_mut(LANES)) {
            for k in 0..LANES {
                let x = gc[k] as f64;
                let sq = x * x;
                cc[k] = if FIRST { sq } else { cc[k] + sq };
                lg[k] += sq;
                let y = tc[k] as f64;
                lt[k] += y * y;
            }
        }
        for k in 0..n - main {
            let x = g[main + k] as f64;
            let sq = x * x;
            col[main + k] = if FIRST { sq } else { col[main + k] + sq };
            lg[k] += sq;
            let y = th[main + k] as f64;
            lt[k] += y * y;
        }
        *self.out = (combine_lanes(&lg), combine_lanes(&lt));
    }
}

/// Pass 1 over a vector tile: V ← lerp(V, g·g, w) and Σθ² in lanes.
struct VecStats<'a, const SMALL: bool> {
    th: &'a [f32],
    g: &'a [f32],
    v: &'a mut [f32],
    lerp: Lerp,
    sum: &'a mut f64,
}

impl<const SMALL: bool> Simd for VecStats<'_, SMALL> {
    #[inline(always)]
    fn run(self) {
        let mut lt = A64([0.0f64; LANES]);
        let n = self.th.len();
        let main = n / LANES * LANES;
        let (th, g, v) = (&self.th[..n], &self.g[..n], &mut self.v[..n]);
        for ((tc, gc), vc) in th[..main].chunks_exact(LANES).zip(g[..main].chunks_exact(LANES)).zip(v[..main].chunks_exact_mut(LANES)) {
            for k in 0..LANES {
                let y = tc[k] as f64;
                lt[k] += y * y;
                vc[k] = self.lerp.apply::<SMALL>(vc[k], gc[k] * gc[k]); // V ← lerp(V, g·g, w)
            }
        }
        for k in 0..n - main {
            let y = th[main + k] as f64;
            lt[k] += y * y;
            v[main + k] = self.lerp.apply::<SMALL>(v[main + k], g[main + k] * g[main + k]);
        }
        *self.sum = combine_lanes(&lt);
    }
}

/// Pass 2 over a vector tile or one row slice of a factored tensor: ΣU² in f64 lanes (element i
/// in lane i mod `LANES`), U = `u(g[i], x[i])` with `x` the variance V, or C for a row (U from
/// R·C / mean(R)).
struct Norm<'a, U: Fn(f32, f32) -> f32> {
    g: &'a [f32],
    x: &'a [f32],
    u: U,
    sum: &'a mut f64,
}

impl<U: Fn(f32, f32) -> f32> Simd for Norm<'_, U> {
    #[inline(always)]
    fn run(self) {
        let mut lu = A64([0.0f64; LANES]);
        let n = self.g.len();
        let main = n / LANES * LANES;
        let (g, x, u_at) = (&self.g[..n], &self.x[..n], &self.u);
        for (gc, xc) in g[..main].chunks_exact(LANES).zip(x[..main].chunks_exact(LANES)) {
            for k in 0..LANES {
                let u = u_at(gc[k], xc[k]) as f64;
                lu[k] += u * u;
            }
        }
        for k in 0..n - main {
            let u = u_at(g[main + k], x[main + k]) as f64;
            lu[k] += u * u;
        }
        *self.sum = combine_lanes(&lu);
    }
}

/// The float32 scalars of pass 3.
#[derive(Clone, Copy)]
struct Rows {
    /// 1 − γλ.
    decay: f32,
    /// −α/denom, negated when maximizing (U is then computed from g, not −g).
    scale: f32,
    /// ε1².
    e2: f32,
}

impl Rows {
    /// θ ← θ·(1 − γλ) (when `WD`), then θ ← θ + step·U.
    #[inline(always)]
    fn update<const WD: bool>(&self, th: f32, u: f32) -> f32 {
        let th = if WD { th * self.decay } else { th };
        th + self.scale * u
    }
}

/// Pass 3 over one row slice.
struct RowUpdate<'a, const WD: bool> {
    r: f32,
    m: f32,
    cv: &'a [f32],
    g: &'a [f32],
    th: &'a mut [f32],
    rows: Rows,
}

impl<const WD: bool> Simd for RowUpdate<'_, WD> {
    #[inline(always)]
    fn run(self) {
        let n = self.g.len();
        let (cv, g, th, r, m, k) = (&self.cv[..n], &self.g[..n], &mut self.th[..n], self.r, self.m, self.rows);
        for j in 0..n {
            th[j] = k.update::<WD>(th[j], u_of((r * cv[j]) / m, k.e2, g[j]));
        }
    }
}

/// Pass 3 over a vector tile.
struct VecUpdate<'a, const WD: bool> {
    th: &'a mut [f32],
    g: &'a [f32],
    v: &'a [f32],
    rows: Rows,
}

impl<const WD: bool> Simd for VecUpdate<'_, WD> {
    #[inline(always)]
    fn run(self) {
        let n = self.g.len();
        let (th, g, v, k) = (&mut self.th[..n], &self.g[..n], &self.v[..n], self.rows);
        for j in 0..n {
            th[j] = k.update::<WD>(th[j], u_of(v[j], k.e2, g[j]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::value;
    use crate::kernels::test_util::GLOBAL;
    use crate::simd::Level;

    /// PyTorch's `_single_tensor_adafactor` transcribed on scalars, every float32 operation
    /// rounded as torch's, the norms summed in f64 in the kernel's order (the tiles of the
    /// module's doc, written out again here without the kernel's code).
    struct Reference {
        shape: Shape,
        param: Vec<f32>,
        row: Vec<f32>,
        col: Vec<f32>,
    }

    fn lanes_sum(x: impl Iterator<Item = f64>) -> f64 {
        let mut l = [0.0f64; LANES];
        for (i, v) in x.enumerate() {
            l[i % LANES] += v * v;
        }
        combine_lanes(&l)
    }

    fn lerp_ref(a: f32, b: f32, w: f64) -> f32 {
        let w = w as f32;
        if w.abs() < 0.5 {
            a + w * (b - a)
        } else {
            b - (b - a) * (1.0 - w)
        }
    }

    /// The tiles of a factored shape in order: (b, rows, columns).
    fn tiles(s: Shape) -> Vec<(usize, std::ops::Range<usize>, std::ops::Range<usize>)> {
        let br = s.block_rows();
        let mut out = Vec::new();
        for b in 0..s.batch {
            for r0 in (0..s.rows).step_by(br) {
                for c0 in (0..s.cols).step_by(STRIPE) {
                    out.push((b, r0..(r0 + br).min(s.rows), c0..(c0 + STRIPE).min(s.cols)));
                }
            }
        }
        out
    }

    impl Reference {
        fn step(&mut self, g: &[f32], h: TensorHyper) {
            let s = self.shape;
            let n = self.param.len();
            let sign = if h.maximize { -1.0f32 } else { 1.0 };
            let g: Vec<f32> = g.iter().map(|&x| x * sign).collect();
            let e1 = h.eps1 as f32;
            let e2 = (h.eps1 * h.eps1) as f32;
            let sumsq_theta;
            let mut vhat = vec![0.0f32; n];
            if s.factored {
                let (r, c) = (s.rows, s.cols);
                let mut th2 = 0.0;
                let mut row_sums = vec![0.0f64; s.batch * r];
                let mut col_sums = vec![0.0f64; s.batch * c];
                let br = s.block_rows();
                for (b, rr, cc) in tiles(s) {
                    let mut tile = 0.0;
                    for i in rr.clone() {
                        let at = (b * r + i) * c;
                        row_sums[b * r + i] += lanes_sum(cc.clone().map(|j| g[at + j] as f64));
                        tile += lanes_sum(cc.clone().map(|j| self.param[at + j] as f64));
                    }
                    th2 += tile;
                    let _ = br;
                }
                // Column sums: each block's rows in order, then the blocks in order.
                for b in 0..s.batch {
                    for j in 0..c {
                        let mut total = 0.0f64;
                        for r0 in (0..r).step_by(br) {
                            let mut part = 0.0f64;
                            for i in r0..(r0 + br).min(r) {
                                let x = g[(b * r + i) * c + j] as f64;
                                part = if i == r0 { x * x } else { part + x * x };
                            }
                            total = if r0 == 0 { part } else { total + part };
                        }
                        col_sums[b * c + j] = total;
                    }
                }
                sumsq_theta = th2;
                for (i, x) in self.row.iter_mut().enumerate() {
                    let nrm = row_sums[i].sqrt() as f32;
                    *x = lerp_ref(*x, nrm * nrm / c as f32, h.weight);
                }
                for (j, x) in self.col.iter_mut().enumerate() {
                    let nrm = col_sums[j].sqrt() as f32;
                    *x = lerp_ref(*x, nrm * nrm / r as f32, h.weight);
                }
                for b in 0..s.batch {
                    let sum: f64 = self.row[b * r..(b + 1) * r].iter().fold(0.0, |a, &x| a + x as f64);
                    let m = (sum as f32 / r as f32).max(e1);
                    for i in 0..r {
                        for j in 0..c {
                            vhat[(b * r + i) * c + j] = self.row[b * r + i] * self.col[b * c + j] / m;
                        }
                    }
                }
            } else {
                sumsq_theta = (0..n)
                    .step_by(TILE)
                    .map(|a| lanes_sum(self.param[a..(a + TILE).min(n)].iter().map(|&x| x as f64)))
                    .fold(0.0, |a, x| a + x);
                for (v, &gi) in self.row.iter_mut().zip(&g) {
                    *v = lerp_ref(*v, gi * gi, h.weight);
                }
                vhat.copy_from_slice(&self.row);
            }
            let rms = (sumsq_theta.sqrt() as f32) as f64 / (n as f64).sqrt();
            let alpha = rms.max(h.eps2) * h.rho;
            if h.weight_decay {
                for x in self.param.iter_mut() {
                    *x *= h.decay as f32;
                }
            }
            let u: Vec<f32> = vhat.iter().zip(&g).map(|(&v, &g)| (1.0 / v.max(e2).sqrt()) * g).collect();
            let usq = if s.factored {
                tiles(s)
                    .into_iter()
                    .map(|(b, rr, cc)| {
                        rr.map(|i| lanes_sum(cc.clone().map(|j| u[(b * s.rows + i) * s.cols + j] as f64))).fold(0.0, |a, x| a + x)
                    })
                    .fold(0.0, |a, x| a + x)
            } else {
                (0..n).step_by(TILE).map(|a| lanes_sum(u[a..(a + TILE).min(n)].iter().map(|&x| x as f64))).fold(0.0, |a, x| a + x)
            };
            let q = (usq.sqrt() as f32) as f64 / ((n as f64).sqrt() * h.d);
            let scale = (-alpha / q.max(1.0)) as f32;
            for (x, &u) in self.param.iter_mut().zip(&u) {
                *x += scale * u;
            }
        }
    }

    fn hyper(step: f64, lr: f64, wd: f64, maximize: bool, eps1: f64, d: f64) -> TensorHyper {
        TensorHyper {
            weight: step.powf(-0.8),
            rho: lr.min(1.0 / step.sqrt()),
            eps1,
            eps2: 1e-3,
            d,
            decay: 1.0 - lr * wd,
            weight_decay: wd != 0.0,
            maximize,
        }
    }

    const SHAPES: &[(bool, usize, usize, usize)] = &[
        (false, 1, 1, 1),
        (false, 1, 1, 33),
        (false, 1, 1, 70001),
        (true, 1, 17, 3),
        (true, 1, 3, 33),
        (true, 1, 1, 9),
        (true, 1, 9, 1),
        (true, 2, 65, 130),
        (true, 3, 40, 300),
        (true, 1, 5, 9000),
        (true, 1, 3000, 40),
    ];

    /// Runs `steps` steps of the kernel on [`SHAPES`]; returns parameters and state.
    fn run(steps: u32, cfg: (f64, f64, bool, f64, f64)) -> Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> {
        crate::driver::set_par_min(Some(32768));
        let mut st: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = SHAPES
            .iter()
            .enumerate()
            .map(|(j, &(f, b, r, c))| {
                let n = b * r * c;
                let p = (0..n as u32).map(|i| value(7, 0, j as u32, i)).collect();
                if f {
                    (p, vec![0.0; b * r], vec![0.0; b * c])
                } else {
                    (p, vec![0.0; n], Vec::new())
                }
            })
            .collect();
        let mut scratch = Scratch::default();
        for t in 1..=steps {
            let grads: Vec<Vec<f32>> =
                st.iter().enumerate().map(|(j, s)| (0..s.0.len() as u32).map(|i| value(7, t, j as u32, i)).collect()).collect();
            let h = hyper(t as f64, cfg.0, cfg.1, cfg.2, cfg.3, cfg.4);
            let mut ts: Vec<Tensor<'_>> = st
                .iter_mut()
                .zip(&grads)
                .zip(SHAPES)
                .map(|((s, g), &(f, b, r, c))| Tensor {
                    param: &mut s.0,
                    grad: g,
                    row_var: &mut s.1,
                    col_var: &mut s.2,
                    shape: if f {
                        Shape { factored: true, batch: b, rows: r, cols: c }
                    } else {
                        Shape { factored: false, batch: 1, rows: 1, cols: b * r * c }
                    },
                    hyper: h,
                })
                .collect();
            step(&mut ts, &mut scratch).unwrap();
        }
        st
    }

    const CONFIGS: &[(f64, f64, bool, f64, f64)] =
        &[(1e-2, 0.0, false, f32::EPSILON as f64, 1.0), (0.5, 0.1, true, f32::EPSILON as f64, 1.0), (0.1, 0.0, false, 1e-3, 1.5)];

    #[test]
    fn adafactor_matches_the_scalar_transcription_of_pytorch() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for &cfg in CONFIGS {
            let got = run(4, cfg);
            for (j, &(f, b, r, c)) in SHAPES.iter().enumerate() {
                let n = b * r * c;
                let shape = if f {
                    Shape { factored: true, batch: b, rows: r, cols: c }
                } else {
                    Shape { factored: false, batch: 1, rows: 1, cols: n }
                };
                let mut rf = Reference {
                    shape,
                    param: (0..n as u32).map(|i| value(7, 0, j as u32, i)).collect(),
                    row: vec![0.0; if f { b * r } else { n }],
                    col: vec![0.0; if f { b * c } else { 0 }],
                };
                for t in 1..=4 {
                    let g: Vec<f32> = (0..n as u32).map(|i| value(7, t, j as u32, i)).collect();
                    rf.step(&g, hyper(t as f64, cfg.0, cfg.1, cfg.2, cfg.3, cfg.4));
                }
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert!(bits(&got[j].0) == bits(&rf.param), "shape {:?}, config {cfg:?}: parameters differ", SHAPES[j]);
                assert!(bits(&got[j].1) == bits(&rf.row), "shape {:?}: row_var/variance differ", SHAPES[j]);
                assert!(bits(&got[j].2) == bits(&rf.col), "shape {:?}: col_var differs", SHAPES[j]);
            }
        }
    }

    #[test]
    fn adafactor_is_bit_identical_across_simd_levels_and_thread_counts() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for &cfg in CONFIGS {
            crate::pool::set_num_threads(1).unwrap();
            simd::force(Level::Baseline);
            let expect = run(3, cfg);
            for lvl in [Level::Baseline, Level::Avx2, Level::Avx512] {
                for threads in [1, 2, 3] {
                    let got = simd::force(lvl);
                    crate::pool::set_num_threads(threads).unwrap();
                    let same = run(3, cfg).iter().zip(&expect).all(|(a, b)| {
                        let eq = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
                        eq(&a.0, &b.0) && eq(&a.1, &b.1) && eq(&a.2, &b.2)
                    });
                    assert!(same, "level {got:?} with {threads} threads differs from baseline on 1");
                }
            }
        }
        simd::force(simd::detected());
    }

    #[test]
    fn bad_lengths_and_shapes_are_rejected_before_any_write() {
        let mut p = vec![1.0f32; 6];
        let g = vec![0.5f32; 6];
        let (mut r, mut c) = (vec![0.0f32; 2], vec![0.0f32; 2]);
        let h = hyper(1.0, 0.01, 0.0, false, 1e-7, 1.0);
        let mut scratch = Scratch::default();
        let shape = Shape { factored: true, batch: 1, rows: 2, cols: 3 };
        let mut ts = [Tensor { param: &mut p, grad: &g, row_var: &mut r, col_var: &mut c, shape, hyper: h }];
        let e = step(&mut ts, &mut scratch).unwrap_err();
        assert!(matches!(&e, Error::Range(m) if m.contains("col_var of parameter 0 to have length 3")), "{e}");
        let mut c3 = vec![0.0f32; 3];
        let mut ts = [Tensor { param: &mut p, grad: &g, row_var: &mut r, col_var: &mut c3, shape: Shape { cols: 0, ..shape }, hyper: h }];
        assert!(step(&mut ts, &mut scratch).unwrap_err().to_string().contains("no elements"));
        let mut ts = [Tensor { param: &mut p, grad: &g, row_var: &mut r, col_var: &mut c3, shape, hyper: TensorHyper { d: 0.5, ..h } }];
        assert!(step(&mut ts, &mut scratch).is_err());
        assert!(p.iter().all(|&x| x == 1.0) && r.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn zero_rho_leaves_the_parameters_alone_and_still_updates_the_statistics() {
        let mut p: Vec<f32> = (0..12).map(|i| value(3, 0, 0, i)).collect();
        let before = p.clone();
        let g: Vec<f32> = (0..12).map(|i| value(3, 1, 0, i)).collect();
        let (mut r, mut c) = (vec![0.0f32; 3], vec![0.0f32; 4]);
        let h = TensorHyper { rho: 0.0, ..hyper(1.0, 0.0, 0.0, false, 1e-7, 1.0) };
        let mut ts = [Tensor {
            param: &mut p,
            grad: &g,
            row_var: &mut r,
            col_var: &mut c,
            shape: Shape { factored: true, batch: 1, rows: 3, cols: 4 },
            hyper: h,
        }];
        step(&mut ts, &mut Scratch::default()).unwrap();
        // θ + (±0) = θ for every θ but −0, and the weights here are never −0.
        assert!(p.iter().zip(&before).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(r.iter().all(|&x| x > 0.0) && c.iter().all(|&x| x > 0.0));
    }
}
