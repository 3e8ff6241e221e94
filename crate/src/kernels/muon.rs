//! Muon (Jordan et al. 2024), as `torch.optim.Muon` of torch 2.15 computes it on the CPU
//! (`_single_tensor_muon` and `_zeropower_via_newtonschulz` in `torch/optim/_muon.py`): for each
//! 2-D parameter, momentum, then the Newton–Schulz orthogonalization of the update in bfloat16,
//! then a decoupled-decay step scaled by the matrix's shape.
//!
//! ```text
//! M ← lerp(M, G, 1 − μ)                       momentum buffer
//! U ← lerp(G, M, μ) if nesterov, else M
//! X ← bf16(U), seen as m × n with m ≤ n       (Uᵀ when rows > cols)
//! X ← bf16(X / max(bf16(‖X‖_F), ε))
//! k times:  A ← bf16(X·Xᵀ)
//!           B ← bf16(c·(A·A) + b·A)
//!           X ← bf16(a·X + B·X)
//! θ ← θ·(1 − γλ)
//! θ ← θ − γ'·X                                γ' = γ·√max(1, rows/cols)   'original'
//!                                                  γ·0.2·√max(rows, cols)  'match_rms_adamw'
//!                                                  γ·√(rows/cols)          'spectral_unclamped'
//! ```
//!
//! # Rounding, and where it follows torch
//! - `bf16(x)` rounds an f32 to the nearest bfloat16, ties to even (c10's
//!   `round_to_nearest_even`), and keeps it in an f32; every tensor torch holds in bfloat16 is
//!   rounded at the same place here.
//! - The two lerps and the final `add_(X, alpha = −γ')` are fused multiply-adds, as ATen's
//!   vectorised kernels compute them (`f32::mul_add` at the levels with FMA, its exact emulation
//!   [`simd::fma_f32_soft`] at the baseline level): the momentum buffer, and so the matrix fed to
//!   Newton–Schulz, are torch's bits.
//! - A product of two bfloat16 values is exact in f32, so matrix products differ between
//!   implementations only in the order they add the products. Here each element is the f32 sum
//!   of consecutive blocks of [`KC`] terms, each block summed in k order from its first term and
//!   the blocks added in order (matrixmultiply's `sgemm`, one call per block). torch adds in f32
//!   too (oneDNN's bf16 GEMM, or ATen's own loop for small matrices) and rounds to bfloat16 once,
//!   so one product of the two differs only where an f32 sum lies within its rounding error of a
//!   bfloat16 rounding boundary; Newton–Schulz amplifies such flips from one iteration to the next.
//! - ‖X‖² is summed in f64 ([`simd::sum_squares`]; torch sums in f32), then rounded to f32,
//!   square-rooted in f32 and rounded to bfloat16, as torch rounds its f32 norm.
//! - The epilogues of the two `addmm`s are oneDNN's: `bf16(fma(b, A, c·P))` and
//!   `bf16(fma(a, X, Q))` (the scaled product rounded, then β·C added in one rounding).
//!
//! # Speed
//! The products are matrixmultiply's f32 GEMM on bfloat16 values (bfloat16 dot-product
//! instructions would double the rate where the CPU has them, but their rounding, with denormals
//! flushed, differs by CPU). `X·Xᵀ` and `A·A` are symmetric (the (i, j) and (j, i) elements are
//! the same products added in the same order, so the same bits): they are multiplied by strips of
//! rows from the diagonal on, about 5/8 of the work, and mirrored. A tall matrix is read through
//! transposed views, never copied. The strips, and the row blocks of `B·X`, are spread over the
//! pool in one parallel region per product; which thread computes an element never changes its
//! bits. The m × m scratch rows are padded so that a column does not fall into one cache set.

use crate::engine::{first_overlap, Buf, Error};
use crate::simd::{self, Simd};

/// Terms of a matrix product summed before they are added to the element (see the module doc).
/// matrixmultiply's own k-block for f32 is 256 too, so each call is one of its blocks.
pub const KC: usize = 256;

/// The hyperparameters of a param group, in the order the caller packs them.
pub const HYPER: &[&str] = &["lr", "weight_decay", "momentum", "nesterov", "a", "b", "c", "eps", "ns_steps", "adjust_lr_fn"];

/// torch raises for `ns_steps >= 100` ("for computational efficiency").
pub const MAX_NS_STEPS: usize = 99;

/// `x` rounded to the nearest bfloat16, ties to even, as an f32 (NaN becomes the quiet NaN).
#[inline(always)]
pub fn bf16(x: f32) -> f32 {
    let b = x.to_bits();
    let r = b.wrapping_add(0x7FFF + ((b >> 16) & 1)) & 0xFFFF_0000;
    if x.is_nan() {
        f32::from_bits(0x7FC0_0000)
    } else {
        f32::from_bits(r)
    }
}

/// How the learning rate is scaled by the matrix's shape (torch's `adjust_lr_fn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjustLr {
    /// γ·√max(1, rows/cols): Keller Jordan's; torch's default (`None` or `'original'`).
    Original,
    /// γ·0.2·√max(rows, cols): Moonshot's, to match AdamW's update RMS.
    MatchRmsAdamW,
    /// γ·√(rows/cols): Bernstein's.
    SpectralUnclamped,
}

impl AdjustLr {
    /// γ', computed in f64 as torch computes it in Python.
    pub fn apply(self, lr: f64, rows: usize, cols: usize) -> f64 {
        let (a, b) = (rows as f64, cols as f64);
        let ratio = match self {
            AdjustLr::Original => (a / b).max(1.0).sqrt(),
            AdjustLr::MatchRmsAdamW => 0.2 * a.max(b).sqrt(),
            AdjustLr::SpectralUnclamped => (a / b).sqrt(),
        };
        lr * ratio
    }
}

/// One param group's options, parsed and checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MuonHyper {
    pub lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub ns: [f64; 3],
    pub eps: f64,
    pub ns_steps: usize,
    pub adjust: AdjustLr,
}

impl MuonHyper {
    /// Parses the [`HYPER`] values of one group (`nesterov` 0 or 1; `adjust_lr_fn` 0 original,
    /// 1 match_rms_adamw, 2 spectral_unclamped).
    pub fn parse(h: &[f64]) -> Result<MuonHyper, Error> {
        let &[lr, weight_decay, momentum, nesterov, a, b, c, eps, ns_steps, adjust] = h else {
            return Err(Error::Range(format!("expected {} hyperparameters per group, received {}", HYPER.len(), h.len())));
        };
        let nonneg = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(Error::Range(format!("expected {name} to be a finite number >= 0, received {v}")))
            }
        };
        for (name, v) in [("a", a), ("b", b), ("c", c)] {
            if !v.is_finite() {
                return Err(Error::Range(format!("expected the Newton-Schulz coefficient {name} to be finite, received {v}")));
            }
        }
        if !(ns_steps.fract() == 0.0 && (0.0..=MAX_NS_STEPS as f64).contains(&ns_steps)) {
            return Err(Error::Range(format!("expected ns_steps to be an integer >= 0 and < 100, received {ns_steps}")));
        }
        let adjust = match adjust {
            0.0 => AdjustLr::Original,
            1.0 => AdjustLr::MatchRmsAdamW,
            2.0 => AdjustLr::SpectralUnclamped,
            _ => return Err(Error::Range(format!("expected adjust_lr_fn to be 0, 1 or 2, received {adjust}"))),
        };
        if nesterov != 0.0 && nesterov != 1.0 {
            return Err(Error::Range(format!("expected nesterov to be 0 or 1, received {nesterov}")));
        }
        Ok(MuonHyper {
            lr: nonneg("lr", lr)?,
            weight_decay: nonneg("weight_decay", weight_decay)?,
            momentum: nonneg("momentum", momentum)?,
            nesterov: nesterov == 1.0,
            ns: [a, b, c],
            eps: nonneg("eps", eps)?,
            ns_steps: ns_steps as usize,
            adjust,
        })
    }
}

/// The f32 scalars of one parameter's step, rounded as torch rounds each Python float.
#[derive(Clone, Copy, Debug)]
struct Scalars {
    /// lerp(M, G, w1): w1 = 1 − μ, w1 − 1, and ATen's choice of form (|w| < 0.5).
    w1: f32,
    w1m1: f32,
    small1: bool,
    /// lerp(G, M, wn): wn = μ.
    wn: f32,
    wnm1: f32,
    small_n: bool,
    nesterov: bool,
    a: f32,
    b: f32,
    c: f32,
    /// ε in f32 (the clamp compares in f32) and as the bfloat16 the clamp returns.
    eps: f32,
    eps_bf16: f32,
    steps: usize,
    /// 1 − γλ.
    decay: f32,
    /// −γ'.
    neg_lr: f32,
}

impl Scalars {
    fn new(h: &MuonHyper, rows: usize, cols: usize) -> Scalars {
        let w1 = (1.0 - h.momentum) as f32;
        let wn = h.momentum as f32;
        let eps = h.eps as f32;
        Scalars {
            w1,
            w1m1: w1 - 1.0,
            small1: w1.abs() < 0.5,
            wn,
            wnm1: wn - 1.0,
            small_n: wn.abs() < 0.5,
            nesterov: h.nesterov,
            a: h.ns[0] as f32,
            b: h.ns[1] as f32,
            c: h.ns[2] as f32,
            eps,
            eps_bf16: bf16(eps),
            steps: h.ns_steps,
            decay: (1.0 - h.lr * h.weight_decay) as f32,
            neg_lr: (-h.adjust.apply(h.lr, rows, cols)) as f32,
        }
    }
}

/// `a·b + c` rounded once: the instruction when `FMA`, else its exact emulation.
#[inline(always)]
fn fmadd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        simd::fma_f32_soft(a, b, c)
    }
}

/// ATen's vectorised `lerp(start, end, w)` with a scalar weight: `start + w·(end − start)` when
/// `SMALL` (|w| < 0.5), else `end + (w − 1)·(end − start)`, each one fused multiply-add.
#[inline(always)]
fn lerp<const FMA: bool, const SMALL: bool>(start: f32, end: f32, w: f32, wm1: f32) -> f32 {
    let d = end - start;
    if SMALL {
        fmadd::<FMA>(w, d, start)
    } else {
        fmadd::<FMA>(wm1, d, end)
    }
}

/// A loop body written once over `FMA` (see [`fmadd`]); [`Fma`] runs it through [`Simd`].
trait FmaBody {
    fn go<const FMA: bool>(self);
}

/// Runs an [`FmaBody`] as [`Simd`]: `go::<false>` at the levels without fused multiply-add,
/// `go::<true>` at those with it.
struct Fma<K>(K);

/// [`simd::dispatch`] of an [`FmaBody`].
#[inline(always)]
fn dispatch(k: impl FmaBody) {
    simd::dispatch(Fma(k))
}

impl<K: FmaBody> Simd for Fma<K> {
    #[inline(always)]
    fn run(self) {
        self.0.go::<false>()
    }
    #[inline(always)]
    fn run_fma(self) {
        self.0.go::<true>()
    }
}

/// M ← lerp(M, G, 1 − μ); X ← bf16(U) with U = lerp(G, M, μ) (Nesterov) or M, over one chunk.
struct MomentumChunk<'a> {
    s: &'a Scalars,
    g: &'a [f32],
    m: &'a mut [f32],
    x: &'a mut [f32],
}

impl MomentumChunk<'_> {
    #[inline(always)]
    fn body<const FMA: bool, const NEST: bool, const S1: bool, const SN: bool>(self) {
        let s = self.s;
        let n = self.g.len();
        let (g, m, x) = (self.g, &mut self.m[..n], &mut self.x[..n]);
        for i in 0..n {
            let mi = lerp::<FMA, S1>(m[i], g[i], s.w1, s.w1m1);
            m[i] = mi;
            let u = if NEST { lerp::<FMA, SN>(g[i], mi, s.wn, s.wnm1) } else { mi };
            x[i] = bf16(u);
        }
    }
}

impl FmaBody for MomentumChunk<'_> {
    #[inline(always)]
    fn go<const FMA: bool>(self) {
        match (self.s.nesterov, self.s.small1, self.s.small_n) {
            (false, false, _) => self.body::<FMA, false, false, false>(),
            (false, true, _) => self.body::<FMA, false, true, false>(),
            (true, false, false) => self.body::<FMA, true, false, false>(),
            (true, false, true) => self.body::<FMA, true, false, true>(),
            (true, true, false) => self.body::<FMA, true, true, false>(),
            (true, true, true) => self.body::<FMA, true, true, true>(),
        }
    }
}

/// θ ← θ·(1 − γλ), then θ ← fma(X, −γ', θ) (torch's `mul_`, then `add_(X, alpha = −γ')`).
struct UpdateChunk<'a> {
    s: &'a Scalars,
    x: &'a [f32],
    p: &'a mut [f32],
}

impl FmaBody for UpdateChunk<'_> {
    #[inline(always)]
    fn go<const FMA: bool>(self) {
        let n = self.x.len();
        let (x, p) = (self.x, &mut self.p[..n]);
        for i in 0..n {
            p[i] = fmadd::<FMA>(x[i], self.s.neg_lr, p[i] * self.s.decay);
        }
    }
}

/// `out ← bf16(fma(β, x, α·out))`: how oneDNN finishes torch's `addmm(x, ·, ·, beta=β,
/// alpha=α)` in bfloat16 (the product scaled and rounded, then β·x added in one rounding; checked
/// bit for bit against torch 2.15's `addmm` on an AVX512-BF16 CPU). `out` holds the product.
struct Epilogue<'a> {
    out: &'a mut [f32],
    x: &'a [f32],
    alpha: f32,
    beta: f32,
}

impl FmaBody for Epilogue<'_> {
    #[inline(always)]
    fn go<const FMA: bool>(self) {
        let n = self.out.len();
        let (out, x) = (self.out, &self.x[..n]);
        for j in 0..n {
            out[j] = bf16(fmadd::<FMA>(self.beta, x[j], self.alpha * out[j]));
        }
    }
}

/// A raw pointer that may cross threads; each task writes a region no other task touches.
#[derive(Clone, Copy)]
struct Ptr(*mut f32);
// SAFETY: used only to hand disjoint regions of one buffer to the tasks of one parallel region,
// or read-only views of buffers nobody writes during it.
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

impl Ptr {
    #[inline(always)]
    fn at(self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

/// `len` elements from `p + start`.
///
/// # Safety
/// They are valid f32s, and no `&mut` to them is alive.
unsafe fn slice<'a>(p: Ptr, start: usize, len: usize) -> &'a [f32] {
    std::slice::from_raw_parts(p.at(start), len)
}

/// `len` elements from `p + start`, mutable.
///
/// # Safety
/// They are valid f32s that nothing else references while the slice lives.
unsafe fn slice_mut<'a>(p: Ptr, start: usize, len: usize) -> &'a mut [f32] {
    std::slice::from_raw_parts_mut(p.at(start), len)
}

/// A strided matrix view: element (i, j) at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
struct View {
    ptr: Ptr,
    rs: usize,
    cs: usize,
}

impl View {
    fn at(self, i: usize, j: usize) -> *const f32 {
        self.ptr.at(i * self.rs + j * self.cs)
    }
}

/// Elements per task of the element-wise passes, and the size below which a pass (or a product,
/// in multiply-adds) stays on the calling thread.
const PASS_CHUNK: usize = 1 << 15;
const PAR_MIN: usize = 1 << 16;

/// `f(start, end)` over consecutive chunks of `0..len`, in parallel when `len` is large.
fn chunks(len: usize, f: impl Fn(usize, usize) + Sync + Send) {
    crate::pool::for_each_if(len >= PAR_MIN, len.div_ceil(PASS_CHUNK), |c| f(c * PASS_CHUNK, ((c + 1) * PASS_CHUNK).min(len)));
}

fn threads() -> usize {
    crate::pool::num_threads().max(1)
}

/// C ← A·B for A (m × k) and B (k × n) into the row-major block at `c` (row stride `ldc`), each
/// element summed by blocks of [`KC`] terms (see the module doc); C is written, never read.
///
/// # Safety
/// The views cover `m × k` and `k × n` valid f32s; `c` covers an `m × n` block with row stride
/// `ldc` that nothing else reads or writes during the call.
unsafe fn gemm(m: usize, k: usize, n: usize, a: View, b: View, c: *mut f32, ldc: usize) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            std::slice::from_raw_parts_mut(c.add(i * ldc), n).fill(0.0);
        }
        return;
    }
    let mut k0 = 0;
    while k0 < k {
        let kc = KC.min(k - k0);
        // β = 0 writes C without reading it; later blocks add to it (β = 1, α = 1: exact scaling).
        let beta = if k0 == 0 { 0.0 } else { 1.0 };
        matrixmultiply::sgemm(
            m,
            kc,
            n,
            1.0,
            a.at(0, k0),
            a.rs as isize,
            a.cs as isize,
            b.at(k0, 0),
            b.rs as isize,
            b.cs as isize,
            beta,
            c,
            ldc as isize,
            1,
        );
        k0 += kc;
    }
}

/// Rows per strip of a symmetric product, and the widest piece of a strip one task multiplies
/// when the product is spread over threads.
const STRIP: usize = 256;
const PIECE: usize = 512;

/// `out` (m × m, row-major) ← M·Mᵀ for M (m × k), then `epi(r0, r1, c0, c1)` on each computed
/// block (rows r0..r1, columns c0..c1 of `out`). The product is cut into strips of rows, each
/// multiplied from its diagonal block to the last column (about 5/8 of the full product for
/// m = 1024), and the part right of each diagonal block is mirrored below after its epilogue,
/// which must therefore be symmetric (a function of the element's value and of the same element
/// of symmetric matrices). Square tiles would skip a little more, but matrixmultiply packs both
/// operands per call, and a strip reuses its packed rows across all its columns.
///
/// # Safety
/// `mv` covers `m × k` valid f32s and `out` `m` rows of `ld >= m`, disjoint from everything `mv`
/// and `epi` read.
unsafe fn gram(m: usize, k: usize, mv: View, out: Ptr, ld: usize, epi: &(impl Fn(usize, usize, usize, usize) + Sync)) {
    let par = m * m * k / 2 >= PAR_MIN * 16 && threads() > 1;
    // Thinner strips and pieces of at most PIECE columns give each thread several tasks.
    let strip = if par && m < 4 * STRIP { STRIP / 2 } else { STRIP };
    let piece = if par { PIECE } else { usize::MAX };
    let list: Vec<(usize, usize, usize, usize)> = (0..m.div_ceil(strip))
        .flat_map(|s| {
            let (r0, r1) = (s * strip, ((s + 1) * strip).min(m));
            (r0..m).step_by(piece.min(m).max(1)).map(move |c0| (r0, r1, c0, c0.saturating_add(piece).min(m)))
        })
        .collect();
    let mt = View { ptr: mv.ptr, rs: mv.cs, cs: mv.rs };
    crate::pool::for_each_if(par, list.len(), |t| {
        let (r0, r1, c0, c1) = list[t];
        // SAFETY: block (r0..r1, c0..c1) and its mirror are written by this task only; the
        // operands are only read (the caller's contract).
        unsafe {
            gemm(
                r1 - r0,
                k,
                c1 - c0,
                View { ptr: Ptr(mv.at(r0, 0) as *mut f32), ..mv },
                View { ptr: Ptr(mt.at(0, c0) as *mut f32), ..mt },
                out.at(r0 * ld + c0),
                ld,
            );
            epi(r0, r1, c0, c1);
            mirror(out, ld, r0, r1, c0.max(r1), c1);
        }
    });
}

/// out[j][i] ← out[i][j] for i in r0..r1, j in c0..c1 (row stride `ld`), by 16 × 16 blocks (a
/// row of one is a column of the other: a whole block keeps both in cache).
///
/// # Safety
/// `out` covers both regions; the caller owns them.
unsafe fn mirror(out: Ptr, ld: usize, r0: usize, r1: usize, c0: usize, c1: usize) {
    const B: usize = 16;
    for ib in (r0..r1).step_by(B) {
        for jb in (c0..c1).step_by(B) {
            for i in ib..(ib + B).min(r1) {
                for j in jb..(jb + B).min(c1) {
                    *out.at(j * ld + i) = *out.at(i * ld + j);
                }
            }
        }
    }
}

/// `out` (rows × cols, row-major) ← A·B for A (rows × k) and B (k × cols), then `epi(r0, r1)` on
/// each block of rows, the blocks spread over the pool.
///
/// # Safety
/// The views cover their matrices; `out` covers `rows·cols` f32s disjoint from everything the
/// views and `epi` read.
unsafe fn product(rows: usize, k: usize, cols: usize, a: View, b: View, out: Ptr, epi: &(impl Fn(usize, usize) + Sync)) {
    let macs = rows * k * cols;
    let par = macs >= PAR_MIN * 16 && threads() > 1;
    let blocks = if par { (2 * threads()).min(rows.div_ceil(16)) } else { 1 };
    let step = rows.div_ceil(blocks).div_ceil(16) * 16;
    crate::pool::for_each_if(par, rows.div_ceil(step.max(1)), |bi| {
        let (r0, r1) = (bi * step, ((bi + 1) * step).min(rows));
        // SAFETY: rows r0..r1 of `out` are written by this task only.
        unsafe {
            gemm(r1 - r0, k, cols, View { ptr: Ptr(a.at(r0, 0) as *mut f32), ..a }, b, out.at(r0 * cols), cols);
            epi(r0, r1);
        }
    });
}

/// The row stride of the m × m scratch matrices: rows 64-byte aligned, and never a multiple of
/// 512 bytes, whose rows would share the few L1 cache sets of one column (4 KiB apart, they map
/// to the same set), which made the mirror of a 1024 × 1024 product 2.4× slower.
fn lead(m: usize) -> usize {
    let ld = m.next_multiple_of(16);
    if ld.is_multiple_of(128) {
        ld + 16
    } else {
        ld
    }
}

/// Scratch of the Newton–Schulz iteration, kept between steps (sized for the largest parameter).
#[derive(Default)]
pub struct MuonScratch {
    x: Vec<f32>,
    x2: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
}

impl MuonScratch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        4 * (self.x.capacity() + self.x2.capacity() + self.a.capacity() + self.b.capacity())
    }

    fn reserve(&mut self, rows: usize, cols: usize) {
        let (len, m) = (rows * cols, rows.min(cols));
        for (v, n) in [(&mut self.x, len), (&mut self.x2, len), (&mut self.a, m * lead(m)), (&mut self.b, m * lead(m))] {
            if v.len() < n {
                v.resize(n, 0.0);
            }
        }
    }
}

/// X (the parameter's layout, `rows × cols` row-major, holding bf16(U)) ← the Newton–Schulz
/// orthogonalization of X. Works on X in place of torch's transpose: for a tall matrix
/// (rows > cols), Xw = Xᵀ is read through a transposed view, and Xw·B… is written transposed
/// as X·B (B is symmetric), the same sums of the same products in the same order.
fn orthogonalize(s: &Scalars, rows: usize, cols: usize, sc: &mut MuonScratch) {
    let len = rows * cols;
    let (m, n) = (rows.min(cols), rows.max(cols));
    let x = &mut sc.x[..len];
    // ‖X‖_F: Σx² in f64 (torch: f32) rounded to f32, its f32 square root rounded to bf16 as
    // torch's bf16 norm, clamped at ε.
    let norm = bf16((simd::sum_squares(x) as f32).sqrt());
    let d = if norm < s.eps { s.eps_bf16 } else { norm };
    let xp = Ptr(x.as_mut_ptr());
    // SAFETY: each chunk is a disjoint range of x.
    chunks(len, |a, b| unsafe {
        for i in a..b {
            *xp.at(i) = bf16(*xp.at(i) / d);
        }
    });
    let wide = rows <= cols;
    let ld = lead(m);
    for _ in 0..s.steps {
        let (xp, x2p, ap, bp) = (Ptr(sc.x.as_mut_ptr()), Ptr(sc.x2.as_mut_ptr()), Ptr(sc.a.as_mut_ptr()), Ptr(sc.b.as_mut_ptr()));
        // Xw (m × n): X itself, or Xᵀ through a transposed view.
        let xw = if wide { View { ptr: xp, rs: cols, cs: 1 } } else { View { ptr: xp, rs: 1, cs: cols } };
        // SAFETY (the three products): x, x2, a and b are distinct buffers of sufficient length;
        // each product writes one of them and reads the others.
        unsafe {
            // A ← bf16(Xw·Xwᵀ)
            gram(m, n, xw, ap, ld, &|r0, r1, c0, c1| {
                for i in r0..r1 {
                    for j in c0..c1 {
                        *ap.at(i * ld + j) = bf16(*ap.at(i * ld + j));
                    }
                }
            });
            // B ← bf16(b·A + c·(A·A)); A·A = A·Aᵀ, A being symmetric.
            gram(m, m, View { ptr: ap, rs: ld, cs: 1 }, bp, ld, &|r0, r1, c0, c1| {
                for i in r0..r1 {
                    // Row i, columns c0..c1 of B (written by this task only) and of A.
                    let (out, x) = (slice_mut(bp, i * ld + c0, c1 - c0), slice(ap, i * ld + c0, c1 - c0));
                    dispatch(Epilogue { out, x, alpha: s.c, beta: s.b });
                }
            });
            // X ← bf16(a·X + Q) with Q = B·Xw (wide), or Qᵀ = X·B (tall), in X's layout.
            let epi = |r0: usize, r1: usize| {
                // Rows r0..r1 of X2, written by this task only, and of X.
                let (out, x) = (slice_mut(x2p, r0 * cols, (r1 - r0) * cols), slice(xp, r0 * cols, (r1 - r0) * cols));
                dispatch(Epilogue { out, x, alpha: 1.0, beta: s.a });
            };
            let bv = View { ptr: bp, rs: ld, cs: 1 };
            if wide {
                product(rows, m, cols, bv, xw, x2p, &epi);
            } else {
                product(rows, m, cols, View { ptr: xp, rs: cols, cs: 1 }, bv, x2p, &epi);
            }
        }
        std::mem::swap(&mut sc.x, &mut sc.x2);
    }
}

/// One parameter of a step: its buffers (lengths checked against `rows × cols` by [`muon_step`])
/// and its group.
#[derive(Clone, Copy, Debug)]
pub struct MuonTensor {
    pub data: Buf,
    pub grad: Buf,
    pub momentum: Buf,
    pub rows: usize,
    pub cols: usize,
    pub group: usize,
}

/// One Muon step over `tensors`, whose groups' [`HYPER`] values are packed in `hyper`. Everything
/// is checked (hyperparameters, shapes, lengths, overlap) before any buffer is written.
///
/// # Safety
/// Every `Buf` points to `len` valid, initialised f32s that nothing else accesses during the call.
pub unsafe fn muon_step(scratch: &mut MuonScratch, tensors: &[MuonTensor], hyper: &[f64]) -> Result<(), Error> {
    let k = HYPER.len();
    if !hyper.len().is_multiple_of(k) {
        return Err(Error::Range(format!("expected {k} hyperparameters per group, received {} values", hyper.len())));
    }
    let groups = hyper.chunks_exact(k).map(MuonHyper::parse).collect::<Result<Vec<_>, _>>()?;
    let mut spans = Vec::with_capacity(3 * tensors.len());
    for (i, t) in tensors.iter().enumerate() {
        if t.group >= groups.len() {
            return Err(Error::Range(format!("parameter {i} is in group {}, but {} groups were given", t.group, groups.len())));
        }
        let Some(len) = t.rows.checked_mul(t.cols) else {
            return Err(Error::Range(format!("parameter {i} has shape [{}, {}], too large", t.rows, t.cols)));
        };
        for (b, what, tag) in [(t.data, "data", 0), (t.grad, "grad", 1), (t.momentum, "momentum_buffer", 2)] {
            if b.len != len {
                return Err(Error::Range(format!(
                    "expected {what} of parameter {i} to have length {len} (shape [{}, {}]), received {}",
                    t.rows, t.cols, b.len
                )));
            }
            if len > 0 {
                spans.push((b.ptr as usize, b.ptr as usize + 4 * len, 3 * i + tag));
            }
        }
    }
    if let Some((a, b)) = first_overlap(&spans) {
        let what = |t: usize| format!("{} of parameter {}", ["data", "grad", "momentum_buffer"][t % 3], t / 3);
        return Err(Error::Range(format!("{} and {} view overlapping memory; every buffer needs its own memory", what(a), what(b))));
    }
    for t in tensors {
        let len = t.rows * t.cols;
        if len == 0 {
            continue;
        }
        let s = Scalars::new(&groups[t.group], t.rows, t.cols);
        scratch.reserve(t.rows, t.cols);
        let (g, m, p) = (Ptr(t.grad.ptr), Ptr(t.momentum.ptr), Ptr(t.data.ptr));
        let x = Ptr(scratch.x.as_mut_ptr());
        // SAFETY: chunks are disjoint ranges of buffers that do not overlap (checked above).
        chunks(len, |a, b| unsafe {
            dispatch(MomentumChunk {
                s: &s,
                g: std::slice::from_raw_parts(g.at(a), b - a),
                m: std::slice::from_raw_parts_mut(m.at(a), b - a),
                x: std::slice::from_raw_parts_mut(x.at(a), b - a),
            })
        });
        orthogonalize(&s, t.rows, t.cols, scratch);
        let x = Ptr(scratch.x.as_mut_ptr());
        // SAFETY: as above.
        chunks(len, |a, b| unsafe {
            dispatch(UpdateChunk {
                s: &s,
                x: std::slice::from_raw_parts(x.at(a), b - a),
                p: std::slice::from_raw_parts_mut(p.at(a), b - a),
            })
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::GLOBAL;
    use crate::simd::Level;

    /// A deterministic value in [-1, 1).
    fn rnd(seed: u64, i: usize) -> f32 {
        crate::nn::testing::rnd(seed, i)
    }

    /// torch's `_single_tensor_muon` and `_zeropower_via_newtonschulz` transcribed on scalars:
    /// explicit transposes, products summed by blocks of KC terms, `f32::mul_add` (std's
    /// correctly rounded FMA) where ATen fuses.
    fn reference(h: &MuonHyper, rows: usize, cols: usize, p: &mut [f32], g: &[f32], mbuf: &mut [f32]) {
        let w1 = (1.0 - h.momentum) as f32;
        let wn = h.momentum as f32;
        let lerp = |s: f32, e: f32, w: f32| if w.abs() < 0.5 { w.mul_add(e - s, s) } else { (w - 1.0).mul_add(e - s, e) };
        let mut u = vec![0f32; rows * cols];
        for i in 0..rows * cols {
            mbuf[i] = lerp(mbuf[i], g[i], w1);
            u[i] = if h.nesterov { lerp(g[i], mbuf[i], wn) } else { mbuf[i] };
        }
        let (m, n) = (rows.min(cols), rows.max(cols));
        // X (m × n), contiguous.
        let mut x: Vec<f32> = (0..m * n).map(|k| bf16(if rows <= cols { u[k] } else { u[(k % n) * cols + k / n] })).collect();
        let mut lanes = [0f64; simd::LANES];
        for (i, &v) in u.iter().enumerate() {
            lanes[i % simd::LANES] += bf16(v) as f64 * bf16(v) as f64;
        }
        let norm = bf16((simd::combine_lanes(&lanes) as f32).sqrt());
        let d = if norm < h.eps as f32 { bf16(h.eps as f32) } else { norm };
        x.iter_mut().for_each(|v| *v = bf16(*v / d));
        let mm = |a: &[f32], b: &[f32], r: usize, k: usize, c: usize| -> Vec<f32> {
            let mut out = vec![0f32; r * c];
            for i in 0..r {
                for j in 0..c {
                    let mut total = 0f32;
                    for k0 in (0..k).step_by(KC) {
                        let mut acc = 0f32;
                        for kk in k0..(k0 + KC).min(k) {
                            acc = a[i * k + kk].mul_add(b[kk * c + j], acc);
                        }
                        total = if k0 == 0 { acc } else { total + acc };
                    }
                    out[i * c + j] = total;
                }
            }
            out
        };
        let [a, b, c] = h.ns.map(|v| v as f32);
        for _ in 0..h.ns_steps {
            let xt: Vec<f32> = (0..n * m).map(|k| x[(k % m) * n + k / m]).collect();
            let am: Vec<f32> = mm(&x, &xt, m, n, m).into_iter().map(bf16).collect();
            let p2 = mm(&am, &am, m, m, m);
            // addmm(A, A, A, beta=b, alpha=c) and addmm(X, B, X, beta=a): fma(β, C, α·product).
            let bm: Vec<f32> = (0..m * m).map(|k| bf16(b.mul_add(am[k], c * p2[k]))).collect();
            let q = mm(&bm, &x, m, m, n);
            x = (0..m * n).map(|k| bf16(a.mul_add(x[k], q[k]))).collect();
        }
        let neg = (-h.adjust.apply(h.lr, rows, cols)) as f32;
        let decay = (1.0 - h.lr * h.weight_decay) as f32;
        for r in 0..rows {
            for cc in 0..cols {
                let o = if rows <= cols { x[r * cols + cc] } else { x[cc * rows + r] };
                let k = r * cols + cc;
                p[k] = o.mul_add(neg, p[k] * decay);
            }
        }
    }

    fn hyper(lr: f64, wd: f64, mom: f64, nesterov: bool, steps: usize, adjust: AdjustLr) -> MuonHyper {
        MuonHyper { lr, weight_decay: wd, momentum: mom, nesterov, ns: [3.4445, -4.775, 2.0315], eps: 1e-7, ns_steps: steps, adjust }
    }

    fn pack(h: &MuonHyper) -> Vec<f64> {
        let adj = match h.adjust {
            AdjustLr::Original => 0.0,
            AdjustLr::MatchRmsAdamW => 1.0,
            AdjustLr::SpectralUnclamped => 2.0,
        };
        vec![h.lr, h.weight_decay, h.momentum, h.nesterov as u8 as f64, h.ns[0], h.ns[1], h.ns[2], h.eps, h.ns_steps as f64, adj]
    }

    fn buf(v: &mut [f32]) -> Buf {
        Buf { ptr: v.as_mut_ptr(), len: v.len() }
    }

    /// Runs `steps` native steps over `shapes` (one group per hyper, parameter i in group i % groups).
    fn run_native(shapes: &[(usize, usize)], hs: &[MuonHyper], steps: u64) -> Vec<Vec<f32>> {
        let mut sc = MuonScratch::new();
        let mut ps: Vec<Vec<f32>> =
            shapes.iter().enumerate().map(|(j, &(r, c))| (0..r * c).map(|i| rnd(100 + j as u64, i)).collect()).collect();
        let mut ms: Vec<Vec<f32>> = shapes.iter().map(|&(r, c)| vec![0.0; r * c]).collect();
        let packed: Vec<f64> = hs.iter().flat_map(pack).collect();
        for t in 1..=steps {
            let mut gs: Vec<Vec<f32>> =
                shapes.iter().enumerate().map(|(j, &(r, c))| (0..r * c).map(|i| rnd(1000 * t + j as u64, i) * 0.5).collect()).collect();
            let list: Vec<MuonTensor> = (0..shapes.len())
                .map(|j| MuonTensor {
                    data: buf(&mut ps[j]),
                    grad: buf(&mut gs[j]),
                    momentum: buf(&mut ms[j]),
                    rows: shapes[j].0,
                    cols: shapes[j].1,
                    group: j % hs.len(),
                })
                .collect();
            // SAFETY: distinct live vectors.
            unsafe { muon_step(&mut sc, &list, &packed) }.unwrap();
        }
        ps.extend(ms);
        ps
    }

    fn run_reference(shapes: &[(usize, usize)], hs: &[MuonHyper], steps: u64) -> Vec<Vec<f32>> {
        let mut ps: Vec<Vec<f32>> =
            shapes.iter().enumerate().map(|(j, &(r, c))| (0..r * c).map(|i| rnd(100 + j as u64, i)).collect()).collect();
        let mut ms: Vec<Vec<f32>> = shapes.iter().map(|&(r, c)| vec![0.0; r * c]).collect();
        for t in 1..=steps {
            for (j, &(r, c)) in shapes.iter().enumerate() {
                let g: Vec<f32> = (0..r * c).map(|i| rnd(1000 * t + j as u64, i) * 0.5).collect();
                reference(&hs[j % hs.len()], r, c, &mut ps[j], &g, &mut ms[j]);
            }
        }
        ps.extend(ms);
        ps
    }

    fn bits(v: &[Vec<f32>]) -> Vec<Vec<u32>> {
        v.iter().map(|x| x.iter().map(|f| f.to_bits()).collect()).collect()
    }

    #[test]
    fn bf16_rounds_to_nearest_even_like_c10() {
        assert_eq!(bf16(1.0), 1.0);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1).
        assert_eq!(bf16(1.0 + 2f32.powi(-8)), 1.0);
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
        assert_eq!(bf16(1.0 + 3.0 * 2f32.powi(-8)), 1.0 + 2f32.powi(-6));
        assert_eq!(bf16(1.0 + 2f32.powi(-8) + 2f32.powi(-20)), 1.0 + 2f32.powi(-7));
        assert_eq!(bf16(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(bf16(f32::INFINITY), f32::INFINITY);
        assert_eq!(bf16(f32::MAX), f32::INFINITY);
        assert!(bf16(f32::NAN).is_nan());
        assert_eq!(bf16(1e-40), f32::from_bits(1e-40f32.to_bits().wrapping_add(0x7FFF + ((1e-40f32.to_bits() >> 16) & 1)) & 0xFFFF_0000));
        assert_eq!(bf16(0.3), 0.30078125);
    }

    #[test]
    fn the_lr_adjustments_are_torchs() {
        assert_eq!(AdjustLr::Original.apply(0.02, 4096, 1024), 0.02 * 2.0);
        assert_eq!(AdjustLr::Original.apply(0.02, 1024, 4096), 0.02);
        assert_eq!(AdjustLr::MatchRmsAdamW.apply(0.02, 1024, 4096), 0.02 * (0.2 * 64.0));
        assert_eq!(AdjustLr::SpectralUnclamped.apply(0.02, 1024, 4096), 0.02 * 0.5);
    }

    #[test]
    fn products_sum_by_blocks_of_kc_terms_whatever_the_tiling() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for &(m, k) in &[(1, 1), (5, 3), (17, 300), (70, 600), (300, 40)] {
            let x: Vec<f32> = (0..m * k).map(|i| bf16(rnd(7, i))).collect();
            let mut expect = vec![0f32; m * m];
            for i in 0..m {
                for j in 0..m {
                    let mut total = 0f32;
                    for k0 in (0..k).step_by(KC) {
                        let mut acc = 0f32;
                        for kk in k0..(k0 + KC).min(k) {
                            acc = x[i * k + kk].mul_add(x[j * k + kk], acc);
                        }
                        total = if k0 == 0 { acc } else { total + acc };
                    }
                    expect[i * m + j] = total;
                }
            }
            for t in [1, 2, 3] {
                crate::pool::set_num_threads(t).unwrap();
                let mut out = vec![f32::NAN; m * m];
                let xv = View { ptr: Ptr(x.as_ptr() as *mut f32), rs: k, cs: 1 };
                // SAFETY: distinct vectors of the sizes given.
                unsafe { gram(m, k, xv, Ptr(out.as_mut_ptr()), m, &|_, _, _, _| {}) };
                assert!(out.iter().zip(&expect).all(|(a, b)| a.to_bits() == b.to_bits()), "gram {m}x{k} with {t} threads");
                let mut out2 = vec![f32::NAN; m * m];
                let xt = View { ptr: xv.ptr, rs: 1, cs: k };
                unsafe { product(m, k, m, xv, xt, Ptr(out2.as_mut_ptr()), &|_, _| {}) };
                assert!(out2.iter().zip(&expect).all(|(a, b)| a.to_bits() == b.to_bits()), "product {m}x{k} with {t} threads");
            }
        }
        crate::pool::set_num_threads(2).unwrap();
    }

    const SHAPES: &[(usize, usize)] = &[(1, 1), (1, 7), (7, 1), (5, 5), (17, 40), (40, 17), (3, 300), (300, 20), (64, 64), (0, 4)];

    #[test]
    fn steps_match_the_scalar_transcription_of_torch_bit_for_bit() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let hs = [
            hyper(0.02, 0.1, 0.95, true, 5, AdjustLr::Original),
            hyper(0.01, 0.0, 0.9, false, 3, AdjustLr::MatchRmsAdamW),
            hyper(0.05, 0.5, 0.3, true, 1, AdjustLr::SpectralUnclamped),
            hyper(0.03, 0.01, 0.0, true, 0, AdjustLr::Original),
        ];
        let expect = bits(&run_reference(SHAPES, &hs, 3));
        assert!(bits(&run_native(SHAPES, &hs, 3)) == expect);
    }

    #[test]
    fn a_matrix_above_one_tile_and_one_k_block_matches_the_reference() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let hs = [hyper(0.02, 0.1, 0.95, true, 2, AdjustLr::Original)];
        let shapes = &[(270, 300), (300, 270)];
        crate::pool::set_num_threads(2).unwrap();
        assert!(bits(&run_native(shapes, &hs, 2)) == bits(&run_reference(shapes, &hs, 2)));
    }

    #[test]
    fn every_simd_level_and_thread_count_gives_the_same_bits() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let hs = [hyper(0.02, 0.1, 0.95, true, 5, AdjustLr::Original), hyper(0.01, 0.0, 0.4, false, 2, AdjustLr::Original)];
        let shapes = &[(40, 17), (96, 130), (130, 96), (1, 9)];
        crate::pool::set_num_threads(1).unwrap();
        simd::force(Level::Baseline);
        let expect = bits(&run_native(shapes, &hs, 2));
        for lvl in [Level::Baseline, Level::Avx2, Level::Avx512] {
            for t in [1, 2, 3] {
                let got = simd::force(lvl);
                crate::pool::set_num_threads(t).unwrap();
                assert!(bits(&run_native(shapes, &hs, 2)) == expect, "level {got:?} with {t} threads");
            }
        }
        simd::force(simd::detected());
        crate::pool::set_num_threads(2).unwrap();
    }

    #[test]
    fn bad_input_is_rejected_before_anything_is_written() {
        let h = pack(&hyper(0.02, 0.1, 0.95, true, 5, AdjustLr::Original));
        let mut sc = MuonScratch::new();
        let (mut p, mut g, mut m) = (vec![1f32; 6], vec![1f32; 6], vec![0f32; 6]);
        let t = |p: &mut Vec<f32>, g: &mut Vec<f32>, m: &mut Vec<f32>, rows, cols, group| MuonTensor {
            data: buf(p),
            grad: buf(g),
            momentum: buf(m),
            rows,
            cols,
            group,
        };
        let cases: Vec<(MuonTensor, Vec<f64>, &str)> = vec![
            (t(&mut p, &mut g, &mut m, 2, 4, 0), h.clone(), "expected data of parameter 0 to have length 8"),
            (t(&mut p, &mut g, &mut m, 2, 3, 1), h.clone(), "parameter 0 is in group 1"),
            (t(&mut p, &mut g, &mut m, 2, 3, 0), h[..9].to_vec(), "expected 10 hyperparameters"),
            (
                t(&mut p, &mut g, &mut m, 2, 3, 0),
                {
                    let mut x = h.clone();
                    x[8] = 100.0;
                    x
                },
                "ns_steps",
            ),
            (
                t(&mut p, &mut g, &mut m, 2, 3, 0),
                {
                    let mut x = h.clone();
                    x[8] = 2.5;
                    x
                },
                "ns_steps",
            ),
            (
                t(&mut p, &mut g, &mut m, 2, 3, 0),
                {
                    let mut x = h.clone();
                    x[0] = -1.0;
                    x
                },
                "lr",
            ),
            (
                t(&mut p, &mut g, &mut m, 2, 3, 0),
                {
                    let mut x = h.clone();
                    x[5] = f64::NAN;
                    x
                },
                "coefficient b",
            ),
            (
                t(&mut p, &mut g, &mut m, 2, 3, 0),
                {
                    let mut x = h.clone();
                    x[9] = 3.0;
                    x
                },
                "adjust_lr_fn",
            ),
            (t(&mut p, &mut g, &mut m, usize::MAX, 3, 0), h.clone(), "too large"),
        ];
        for (tensor, hy, msg) in cases {
            // SAFETY: live vectors.
            let e = unsafe { muon_step(&mut sc, &[tensor], &hy) }.unwrap_err();
            assert!(e.to_string().contains(msg), "{e} lacks {msg}");
        }
        let mut same = t(&mut p, &mut g, &mut m, 2, 3, 0);
        same.momentum = same.data;
        let e = unsafe { muon_step(&mut sc, &[same], &h) }.unwrap_err();
        assert!(
            e.to_string().starts_with("RangeError: data of parameter 0 and momentum_buffer of parameter 0 view overlapping memory"),
            "{e}"
        );
        assert!(p.iter().all(|&v| v == 1.0) && m.iter().all(|&v| v == 0.0));
    }
}

#[cfg(test)]
mod profile {
    use super::*;
    use std::time::Instant;

    /// Times whole steps with 0, 1 and 5 iterations.
    #[test]
    #[ignore]
    fn profile_steps() {
        for &(rows, cols, threads) in &[(1024usize, 1024usize, 1), (1024, 1024, 2), (4096, 1024, 1), (4096, 1024, 2)] {
            crate::pool::set_num_threads(threads).unwrap();
            let len = rows * cols;
            let mut p: Vec<f32> = (0..len).map(|i| ((i * 31) % 1000) as f32 / 1e5).collect();
            let mut g: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
            let mut m = vec![0f32; len];
            let mut sc = MuonScratch::new();
            for steps in [0.0, 1.0, 5.0] {
                let h = [0.02, 0.1, 0.95, 1.0, 3.4445, -4.775, 2.0315, 1e-7, steps, 0.0];
                let t = MuonTensor {
                    data: Buf { ptr: p.as_mut_ptr(), len },
                    grad: Buf { ptr: g.as_mut_ptr(), len },
                    momentum: Buf { ptr: m.as_mut_ptr(), len },
                    rows,
                    cols,
                    group: 0,
                };
                let mut best = f64::MAX;
                for _ in 0..3 {
                    let t0 = Instant::now();
                    unsafe { muon_step(&mut sc, &[t], &h) }.unwrap();
                    best = best.min(t0.elapsed().as_secs_f64());
                }
                println!("{rows}x{cols} {threads}T ns_steps {steps}: {:.1} ms", best * 1e3);
            }
        }
    }

    /// Times the products of one Newton–Schulz iteration: `cargo test --release muon::profile -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn profile_products() {
        for &(rows, cols) in &[(1024usize, 1024usize), (4096, 1024), (1024, 4096)] {
            for t in [1, 2] {
                crate::pool::set_num_threads(t).unwrap();
                let (m, n) = (rows.min(cols), rows.max(cols));
                let mut x: Vec<f32> = (0..rows * cols).map(|i| bf16(((i * 7919) % 1000) as f32 / 1000.0 - 0.5)).collect();
                let mut x2 = vec![0f32; rows * cols];
                let ld = lead(m);
                let mut a = vec![0f32; m * ld];
                let mut b = vec![0f32; m * ld];
                let (xp, x2p, ap, bp) = (Ptr(x.as_mut_ptr()), Ptr(x2.as_mut_ptr()), Ptr(a.as_mut_ptr()), Ptr(b.as_mut_ptr()));
                let wide = rows <= cols;
                let xw = if wide { View { ptr: xp, rs: cols, cs: 1 } } else { View { ptr: xp, rs: 1, cs: cols } };
                let mut best = [f64::MAX; 3];
                for _ in 0..3 {
                    let t0 = Instant::now();
                    unsafe { gram(m, n, xw, ap, ld, &|_, _, _, _| {}) };
                    let t1 = Instant::now();
                    unsafe { gram(m, m, View { ptr: ap, rs: ld, cs: 1 }, bp, ld, &|_, _, _, _| {}) };
                    let t2 = Instant::now();
                    let bv = View { ptr: bp, rs: ld, cs: 1 };
                    if wide {
                        unsafe { product(rows, m, cols, bv, xw, x2p, &|_, _| {}) };
                    } else {
                        unsafe { product(rows, m, cols, View { ptr: xp, rs: cols, cs: 1 }, bv, x2p, &|_, _| {}) };
                    }
                    let t3 = Instant::now();
                    for (k, d) in [t1 - t0, t2 - t1, t3 - t2].iter().enumerate() {
                        best[k] = best[k].min(d.as_secs_f64());
                    }
                }
                let f = |flops: f64, s: f64| flops / s / 1e9;
                let (mf, nf) = (m as f64, n as f64);
                println!(
                    "{rows}x{cols} {t}T: X·Xᵀ {:.1} ms ({:.0} GF/s nominal), A·A {:.1} ms ({:.0}), B·X {:.1} ms ({:.0})",
                    best[0] * 1e3,
                    f(2.0 * mf * mf * nf, best[0]),
                    best[1] * 1e3,
                    f(2.0 * mf * mf * mf, best[1]),
                    best[2] * 1e3,
                    f(2.0 * mf * mf * nf, best[2])
                );
            }
        }
    }
}
