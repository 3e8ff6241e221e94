//! Single-precision matrix products, bounds checked on slices: hand-written kernels for small K
//! at the AVX-512 level ([`x512`]) and the AVX2 level ([`x256`]), `matrixmultiply::sgemm` for the
//! rest (see the crate docs in `nn/mod.rs`).

use super::{par_for, threads, SendPtr};
use std::cell::RefCell;

/// A strided view of an `rows × cols` matrix: element (i, j) is `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        MatRef { data, rs: cols, cs: 1 }
    }
    /// The transpose of a row-major matrix with `cols` columns (so the view has `cols` rows).
    pub fn t(data: &'a [f32], cols: usize) -> Self {
        MatRef { data, rs: 1, cs: cols }
    }
    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// C ← A·B (+ C when `accumulate`), A `m × k`, B `k × n`, C row-major `m × n` with row stride
/// `ldc`, on the calling thread.
///
/// # Panics
/// If a view does not fit its slice (a bug in the caller; the bindings check lengths first).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(m: usize, k: usize, n: usize, a: MatRef, b: MatRef, c: &mut [f32], ldc: usize, accumulate: bool) {
    sgemm_with(kernel(m, k, n, b), m, k, n, a, b, c, ldc, accumulate)
}

/// The implementation of one product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// `matrixmultiply::sgemm`.
    Mm,
    /// The AVX-512 kernel [`x512`].
    X512,
    /// The AVX2 + FMA kernel [`x256`].
    X256,
}

/// Longest K taken by the hand-written kernels (no K blocking: one B panel is K × 32 floats).
const SMALL_MAX_K: usize = 1024;
/// Largest A (M × K elements) taken by the hand-written kernels: A is re-read from cache for
/// every column panel of B, so it should stay in L2.
const SMALL_MAX_A: usize = 1 << 17;

/// Which implementation runs a product of this shape at the active SIMD level. Decided once per
/// whole product (never per block of a split), so a product's bits do not depend on the thread
/// count.
#[inline]
fn kernel(m: usize, k: usize, n: usize, b: MatRef) -> Kernel {
    if !small(m, k, b) {
        return Kernel::Mm;
    }
    match crate::simd::level() {
        #[cfg(target_arch = "x86_64")]
        crate::simd::Level::Avx512 => Kernel::X512,
        // Narrower than one 16-column panel, most of each FMA is wasted: matrixmultiply is faster.
        #[cfg(target_arch = "x86_64")]
        crate::simd::Level::Avx2 if n >= 16 => Kernel::X256,
        _ => Kernel::Mm,
    }
}

/// Whether a product of this shape at the active level runs as one FMA chain per element of C
/// over p = 0..k in order, then `+ C` (the hand-written kernels, whose bits agree): the same
/// product computed transposed (Cᵀ = Bᵀ·Aᵀ, with Bᵀ as the `b` given here) then gives the same
/// bits when it chains too.
pub(crate) fn chains(m: usize, k: usize, n: usize, b: MatRef) -> bool {
    kernel(m, k, n, b) != Kernel::Mm
}

/// Whether the hand-written kernels can take a product of this shape.
#[inline]
fn small(m: usize, k: usize, b: MatRef) -> bool {
    k <= SMALL_MAX_K && m * k <= SMALL_MAX_A && (b.cs == 1 || b.rs == 1)
}

/// [`sgemm`] with the implementation chosen by the caller.
#[allow(clippy::too_many_arguments)]
fn sgemm_with(kern: Kernel, m: usize, k: usize, n: usize, a: MatRef, b: MatRef, c: &mut [f32], ldc: usize, accumulate: bool) {
    assert!(a.fits(m, k) && b.fits(k, n), "sgemm: operand views exceed their buffers");
    assert!(m == 0 || n == 0 || (m - 1) * ldc + n <= c.len(), "sgemm: output view exceeds its buffer");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                c[i * ldc..i * ldc + n].fill(0.0);
            }
        }
        return;
    }
    // SAFETY: every index the product reads or writes was checked to lie inside its slice above;
    // `c` is a unique borrow.
    unsafe { sgemm_raw(kern, m, k, n, a, b, c.as_mut_ptr(), ldc, accumulate) }
}

/// # Safety
/// The views fit (`m × k`, `k × n`), `c` points at an `m × n` row-major block with row stride
/// `ldc` that no other thread reads or writes during the call, `m, n, k > 0`, and `kern` is
/// [`kernel`]'s choice for these operands (or for the whole product they are a block of).
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm_raw(kern: Kernel, m: usize, k: usize, n: usize, a: MatRef, b: MatRef, c: *mut f32, ldc: usize, accumulate: bool) {
    match kern {
        #[cfg(target_arch = "x86_64")]
        Kernel::X512 => with_row_major_b(k, n, b, |bp, ldb| x512::run(m, k, n, a, bp, ldb, c, ldc, accumulate)),
        #[cfg(target_arch = "x86_64")]
        Kernel::X256 => with_row_major_b(k, n, b, |bp, ldb| x256::run(m, k, n, a, bp, ldb, c, ldc, accumulate)),
        _ => sgemm_mm(m, k, n, a, b, c, ldc, accumulate),
    }
}

thread_local! {
    static BT: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `dst[j·rows + i] ← src[i·lds + j]` for `i < rows`, `j < cols`: the `rows × cols` matrix at `src`
/// (row stride `lds ≥ cols`) transposed into the row-major `cols × rows` matrix `dst`.
///
/// # Panics
/// If a buffer is too short (a bug in the caller).
pub(crate) fn transpose(src: &[f32], rows: usize, cols: usize, lds: usize, dst: &mut [f32]) {
    assert!(lds >= cols && dst.len() >= rows * cols, "transpose: bad stride or output");
    assert!(rows == 0 || cols == 0 || src.len() >= (rows - 1) * lds + cols, "transpose: source too short");
    // The 16 × 16 blocks store whole 64-byte rows of `dst`: where its row stride (`rows`) is not a
    // multiple of 16 floats, most of those stores would split two cache lines, and the 8 × 8
    // blocks were as fast (conv2's dcols back to K × P, 196 rows).
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() >= crate::simd::Level::Avx512 && rows.is_multiple_of(16) {
        // SAFETY: AVX-512F is available; the lengths were checked above.
        unsafe { x512::transpose(src, rows, cols, lds, dst) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() >= crate::simd::Level::Avx2 {
        // SAFETY: AVX2 is available; the lengths were checked above.
        unsafe { x256::transpose(src, rows, cols, lds, dst) };
        return;
    }
    for i in 0..rows {
        for j in 0..cols {
            dst[j * rows + i] = src[i * lds + j];
        }
    }
}

/// The elements of [`transpose`] that a blocked version leaves: columns from `cb` of the rows
/// below `rb` (the blocks covered rows `..rb` and columns `..cb`), then all of the rows from `rb`.
///
/// # Safety
/// As the blocked versions: `s` holds `rows` rows of `cols` at stride `lds`, `d` `rows × cols`;
/// `rb <= rows`, `cb <= cols`.
#[cfg(target_arch = "x86_64")]
unsafe fn transpose_edges(s: *const f32, d: *mut f32, rows: usize, cols: usize, lds: usize, rb: usize, cb: usize) {
    for j in cb..cols {
        for i in 0..rb {
            *d.add(j * rows + i) = *s.add(i * lds + j);
        }
    }
    for i in rb..rows {
        for j in 0..cols {
            *d.add(j * rows + i) = *s.add(i * lds + j);
        }
    }
}

/// Calls `f(B, ldb)` with B's rows contiguous: B itself when they are, else (a transposed view,
/// columns contiguous) a row-major copy in a per-thread scratch buffer.
///
/// # Safety
/// B's view fits `k × n` and has `cs == 1` or `rs == 1`.
#[inline]
unsafe fn with_row_major_b(k: usize, n: usize, b: MatRef, f: impl FnOnce(*const f32, usize)) {
    if b.cs == 1 {
        return f(b.data.as_ptr(), b.rs);
    }
    BT.with(|bt| {
        let mut bt = bt.borrow_mut();
        if bt.len() < k * n {
            bt.resize(k * n, 0.0);
        }
        // B[p, j] = data[j·cs + p]: the n × k matrix with row stride cs, transposed.
        transpose(b.data, n, k, b.cs, &mut bt);
        f(bt.as_ptr(), n)
    })
}

/// [`sgemm_raw`] through `matrixmultiply`.
///
/// # Safety
/// As [`sgemm_raw`].
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm_mm(m: usize, k: usize, n: usize, a: MatRef, b: MatRef, c: *mut f32, ldc: usize, accumulate: bool) {
    let beta = if accumulate { 1.0 } else { 0.0 };
    matrixmultiply::sgemm(
        m,
        k,
        n,
        1.0,
        a.data.as_ptr(),
        a.rs as isize,
        a.cs as isize,
        b.data.as_ptr(),
        b.rs as isize,
        b.cs as isize,
        beta,
        c,
        ldc as isize,
        1,
    )
}

/// An AVX-512 kernel for the small products of the convolution layers (K ≤ 1024):
/// 12 rows × 32 columns of C per tile in 24 zmm accumulators (8 rows until a Xeon core measured
/// 12 rows 6 % faster; on the AMD VM they were no faster), A read in place by broadcasts (any
/// strides), B read in place when its rows are contiguous (else first copied to a row-major
/// scratch), C's edge columns by masked loads and stores. No packing of A and no K blocking: the
/// products fit in L2 and one 32-column panel of B (≤ 64 KiB) is reused from L1 by every row tile.
///
/// Each element of C is one FMA chain over p = 0..k in order, then `+ C` when accumulating, so
/// the bits do not depend on how C is cut into row or column blocks (thread-count independence).
#[cfg(target_arch = "x86_64")]
pub(crate) mod x512 {
    use super::MatRef;
    use crate::simd::mask16;
    use std::arch::x86_64::*;

    const MR: usize = 12;

    /// One tile: C[0..R, 0..16·NV] (masked) ← Σₚ A[i, p]·B[p, ·] (+ C).
    #[target_feature(enable = "avx512f")]
    #[inline]
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    unsafe fn tile<const R: usize, const NV: usize>(
        k: usize,
        a: *const f32,
        ars: usize,
        acs: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        masks: [u16; 2],
        accumulate: bool,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NV]; R];
        // Each row of A from its own pointer, at one offset that steps by acs: the addresses of a
        // step's broadcasts do not depend on one another (as `ap + i·ars` they became a chain of
        // R adds that every step waited on).
        let rows: [*const f32; R] = std::array::from_fn(|i| a.add(i * ars));
        let mut off = 0;
        let mut bp = b;
        for _ in 0..k {
            let mut bv = [_mm512_setzero_ps(); NV];
            for v in 0..NV {
                bv[v] = _mm512_maskz_loadu_ps(masks[v], bp.add(16 * v));
            }
            for i in 0..R {
                let ai = _mm512_set1_ps(*rows[i].add(off));
                for v in 0..NV {
                    acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
                }
            }
            off += acs;
            bp = bp.add(ldb);
        }
        for i in 0..R {
            let ci = c.add(i * ldc);
            for v in 0..NV {
                let mut r = acc[i][v];
                if accumulate {
                    r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(masks[v], ci.add(16 * v)));
                }
                _mm512_mask_storeu_ps(ci.add(16 * v), masks[v], r);
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn panel<const NV: usize>(
        m: usize,
        k: usize,
        a: MatRef,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        masks: [u16; 2],
        accumulate: bool,
    ) {
        let (ars, acs) = (a.rs, a.cs);
        let a0 = a.data.as_ptr();
        let mut i = 0;
        while i + MR <= m {
            tile::<MR, NV>(k, a0.add(i * ars), ars, acs, b, ldb, c.add(i * ldc), ldc, masks, accumulate);
            i += MR;
        }
        let (ai, ci) = (a0.add(i * ars), c.add(i * ldc));
        match m - i {
            0 => {}
            1 => tile::<1, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            2 => tile::<2, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            3 => tile::<3, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            4 => tile::<4, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            5 => tile::<5, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            6 => tile::<6, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            7 => tile::<7, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            8 => tile::<8, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            9 => tile::<9, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            10 => tile::<10, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            _ => tile::<11, NV>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
        }
    }

    /// # Safety
    /// As `sgemm_raw`, with B's rows contiguous (`B[p, j]` at `b[p·ldb + j]`), at the AVX-512 level.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn run(m: usize, k: usize, n: usize, a: MatRef, b: *const f32, ldb: usize, c: *mut f32, ldc: usize, accumulate: bool) {
        let mut j = 0;
        while j < n {
            let cols = (n - j).min(32);
            let masks = [mask16(cols), mask16(cols.saturating_sub(16))];
            if cols > 16 {
                panel::<2>(m, k, a, b.add(j), ldb, c.add(j), ldc, masks, accumulate);
            } else {
                panel::<1>(m, k, a, b.add(j), ldb, c.add(j), ldc, masks, accumulate);
            }
            j += 32;
        }
    }

    /// [`super::transpose`] in 16 × 16 blocks, the edges element by element. A block is four
    /// rounds of 16 shuffles (pairs of rows, then quads within 128-bit lanes, then lanes twice),
    /// 64 for 256 elements where the AVX2 8 × 8 blocks take 96: conv2's cols to 64-wide slabs of
    /// colsᵀ took 6.5–7.2 µs per image against 10.3 on a Xeon (Sapphire Rapids class) core
    /// (`sparse_products_benchmark`).
    ///
    /// # Safety
    /// AVX-512F is available; `src` holds `rows` rows of `cols` at stride `lds`, `dst` `rows × cols`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn transpose(src: &[f32], rows: usize, cols: usize, lds: usize, dst: &mut [f32]) {
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        let (r16, c16) = (rows & !15, cols & !15);
        for i in (0..r16).step_by(16) {
            for j in (0..c16).step_by(16) {
                let r: [__m512; 16] = std::array::from_fn(|k| _mm512_loadu_ps(s.add((i + k) * lds + j)));
                // t[2q], t[2q + 1]: rows 2q and 2q + 1 interleaved.
                let t: [__m512; 16] = std::array::from_fn(|k| {
                    let (a, b) = (r[k & !1], r[k | 1]);
                    if k % 2 == 0 {
                        _mm512_unpacklo_ps(a, b)
                    } else {
                        _mm512_unpackhi_ps(a, b)
                    }
                });
                // u[4g + c]: rows 4g..4g + 4 of columns c, c + 4, c + 8, c + 12, one per lane.
                let u: [__m512; 16] = std::array::from_fn(|k| {
                    let (g, c) = (k / 4, k % 4);
                    let (a, b) = (t[4 * g + c / 2], t[4 * g + 2 + c / 2]);
                    if c % 2 == 0 {
                        _mm512_shuffle_ps::<0x44>(a, b)
                    } else {
                        _mm512_shuffle_ps::<0xEE>(a, b)
                    }
                });
                for c in 0..4 {
                    let v0 = _mm512_shuffle_f32x4::<0x88>(u[c], u[4 + c]);
                    let v1 = _mm512_shuffle_f32x4::<0xDD>(u[c], u[4 + c]);
                    let v2 = _mm512_shuffle_f32x4::<0x88>(u[8 + c], u[12 + c]);
                    let v3 = _mm512_shuffle_f32x4::<0xDD>(u[8 + c], u[12 + c]);
                    for (col, v) in [
                        (c, _mm512_shuffle_f32x4::<0x88>(v0, v2)),
                        (c + 4, _mm512_shuffle_f32x4::<0x88>(v1, v3)),
                        (c + 8, _mm512_shuffle_f32x4::<0xDD>(v0, v2)),
                        (c + 12, _mm512_shuffle_f32x4::<0xDD>(v1, v3)),
                    ] {
                        _mm512_storeu_ps(d.add((j + col) * rows + i), v);
                    }
                }
            }
        }
        super::transpose_edges(s, d, rows, cols, lds, r16, c16);
    }
}

/// The AVX2 + FMA analog of [`x512`] for the same products: 6 rows × 16 columns of C per tile in
/// 12 ymm accumulators, A read in place by broadcasts, B's rows read in place, the last column
/// panel by masked loads and stores (`vmaskmovps`, which does not fault on masked-off lanes).
///
/// Each element of C is one FMA chain over p = 0..k in order, then `+ C` when accumulating, as in
/// [`x512`], so the two kernels compute the same bits, whatever the cut of C.
#[cfg(target_arch = "x86_64")]
pub(crate) mod x256 {
    use super::MatRef;
    use std::arch::x86_64::*;

    const MR: usize = 6;
    const NV: usize = 2;
    /// Columns per panel.
    const NR: usize = 8 * NV;

    /// Lane masks for the first `cols` columns of a panel, one per vector.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn masks(cols: usize) -> [__m256i; NV] {
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mut m = [_mm256_setzero_si256(); NV];
        for (v, mv) in m.iter_mut().enumerate() {
            let left = cols.saturating_sub(8 * v).min(8) as i32;
            *mv = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lanes);
        }
        m
    }

    /// One tile: C[0..R, 0..16] ← Σₚ A[i, p]·B[p, ·] (+ C), columns past the edge masked off
    /// when `MASKED`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    unsafe fn tile<const R: usize, const MASKED: bool>(
        k: usize,
        a: *const f32,
        ars: usize,
        acs: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        masks: [__m256i; NV],
        accumulate: bool,
    ) {
        let mut acc = [[_mm256_setzero_ps(); NV]; R];
        // A's rows from their own pointers at one offset, as in `x512::tile`.
        let rows: [*const f32; R] = std::array::from_fn(|i| a.add(i * ars));
        let mut off = 0;
        let mut bp = b;
        for _ in 0..k {
            let mut bv = [_mm256_setzero_ps(); NV];
            for v in 0..NV {
                bv[v] = if MASKED { _mm256_maskload_ps(bp.add(8 * v), masks[v]) } else { _mm256_loadu_ps(bp.add(8 * v)) };
            }
            for i in 0..R {
                let ai = _mm256_broadcast_ss(&*rows[i].add(off));
                for v in 0..NV {
                    acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
                }
            }
            off += acs;
            bp = bp.add(ldb);
        }
        for i in 0..R {
            let ci = c.add(i * ldc);
            for v in 0..NV {
                let mut r = acc[i][v];
                if MASKED {
                    if accumulate {
                        r = _mm256_add_ps(r, _mm256_maskload_ps(ci.add(8 * v), masks[v]));
                    }
                    _mm256_maskstore_ps(ci.add(8 * v), masks[v], r);
                } else {
                    if accumulate {
                        r = _mm256_add_ps(r, _mm256_loadu_ps(ci.add(8 * v)));
                    }
                    _mm256_storeu_ps(ci.add(8 * v), r);
                }
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn panel<const MASKED: bool>(
        m: usize,
        k: usize,
        a: MatRef,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        masks: [__m256i; NV],
        accumulate: bool,
    ) {
        let (ars, acs) = (a.rs, a.cs);
        let a0 = a.data.as_ptr();
        let mut i = 0;
        while i + MR <= m {
            tile::<MR, MASKED>(k, a0.add(i * ars), ars, acs, b, ldb, c.add(i * ldc), ldc, masks, accumulate);
            i += MR;
        }
        let (ai, ci) = (a0.add(i * ars), c.add(i * ldc));
        match m - i {
            0 => {}
            1 => tile::<1, MASKED>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            2 => tile::<2, MASKED>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            3 => tile::<3, MASKED>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            4 => tile::<4, MASKED>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
            _ => tile::<5, MASKED>(k, ai, ars, acs, b, ldb, ci, ldc, masks, accumulate),
        }
    }

    /// # Safety
    /// As `sgemm_raw`, with B's rows contiguous (`B[p, j]` at `b[p·ldb + j]`), at the AVX2 level
    /// or above.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn run(m: usize, k: usize, n: usize, a: MatRef, b: *const f32, ldb: usize, c: *mut f32, ldc: usize, accumulate: bool) {
        let full = masks(NR);
        let mut j = 0;
        while j + NR <= n {
            panel::<false>(m, k, a, b.add(j), ldb, c.add(j), ldc, full, accumulate);
            j += NR;
        }
        if j < n {
            panel::<true>(m, k, a, b.add(j), ldb, c.add(j), ldc, masks(n - j), accumulate);
        }
    }

    /// [`super::transpose`] in 8 × 8 blocks, the edges element by element.
    ///
    /// # Safety
    /// AVX2 is available; `src` holds `rows` rows of `cols` at stride `lds`, `dst` `rows × cols`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn transpose(src: &[f32], rows: usize, cols: usize, lds: usize, dst: &mut [f32]) {
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        let (r8, c8) = (rows & !7, cols & !7);
        for i in (0..r8).step_by(8) {
            for j in (0..c8).step_by(8) {
                let r: [__m256; 8] = std::array::from_fn(|k| _mm256_loadu_ps(s.add((i + k) * lds + j)));
                let t0 = _mm256_unpacklo_ps(r[0], r[1]);
                let t1 = _mm256_unpackhi_ps(r[0], r[1]);
                let t2 = _mm256_unpacklo_ps(r[2], r[3]);
                let t3 = _mm256_unpackhi_ps(r[2], r[3]);
                let t4 = _mm256_unpacklo_ps(r[4], r[5]);
                let t5 = _mm256_unpackhi_ps(r[4], r[5]);
                let t6 = _mm256_unpacklo_ps(r[6], r[7]);
                let t7 = _mm256_unpackhi_ps(r[6], r[7]);
                let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                let o = [
                    _mm256_permute2f128_ps::<0x20>(u0, u4),
                    _mm256_permute2f128_ps::<0x20>(u1, u5),
                    _mm256_permute2f128_ps::<0x20>(u2, u6),
                    _mm256_permute2f128_ps::<0x20>(u3, u7),
                    _mm256_permute2f128_ps::<0x31>(u0, u4),
                    _mm256_permute2f128_ps::<0x31>(u1, u5),
                    _mm256_permute2f128_ps::<0x31>(u2, u6),
                    _mm256_permute2f128_ps::<0x31>(u3, u7),
                ];
                for (k, v) in o.into_iter().enumerate() {
                    _mm256_storeu_ps(d.add((j + k) * rows + i), v);
                }
            }
        }
        super::transpose_edges(s, d, rows, cols, lds, r8, c8);
    }
}

/// Below this many flops (≈ 40 µs on one core) a product stays on one thread. With rayon's pool
/// the MLP's 25.7-MFLOP products ran faster on one thread than split over two (the second thread
/// fell asleep between a batch's products, and each wake-up cost more than the half it took);
/// the team's helpers spin between them, and split over 2 threads (the forward by columns, see
/// [`par_sgemm`]) those products went from 224 to 116–122 µs per batch (forward) and from 195 to
/// 102–107 µs (weight gradient; Xeon VM).
const PAR_MIN_GEMM_FLOPS: usize = 1 << 22;

/// [`sgemm`] on the crate's pool: C (row-major, `ldc == n`) is cut into blocks of rows, or of
/// columns when it is wide and short or when B would be copied, one block per thread. Each element
/// of C is computed by the same sequence of operations whatever the cut, so the result does not
/// depend on the thread count.
pub fn par_sgemm(m: usize, k: usize, n: usize, a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool) {
    let work = 2 * m * n * k;
    let t = threads();
    let kern = kernel(m, k, n, b);
    if t <= 1 || work < PAR_MIN_GEMM_FLOPS || m == 0 || n == 0 || k == 0 {
        sgemm_with(kern, m, k, n, a, b, c, n, accumulate);
        return;
    }
    assert!(a.fits(m, k) && b.fits(k, n) && m * n <= c.len(), "par_sgemm: views exceed their buffers");
    let ptr = SendPtr(c.as_mut_ptr());
    // The hand-written kernels copy a transposed B row-major first: split by rows, every thread
    // would copy all of it (the MLP's forward: 784 × 128 floats each); by columns, its part.
    let copies_b = kern != Kernel::Mm && b.cs != 1;
    let by_rows = if copies_b { n < 16 * t } else { m >= n || m >= 16 * t };
    if by_rows {
        // Row blocks, multiples of 16 rows.
        let step = m.div_ceil(t).div_ceil(16) * 16;
        let blocks = m.div_ceil(step);
        par_for(blocks, work, |bi| {
            let r0 = bi * step;
            let r1 = (r0 + step).min(m);
            let a_blk = MatRef { data: &a.data[r0 * a.rs..], rs: a.rs, cs: a.cs };
            // SAFETY: rows [r0, r1) of C are disjoint from other blocks' and inside `c`.
            let c_blk = unsafe { ptr.slice(r0 * n, (r1 - r0) * n) };
            sgemm_with(kern, r1 - r0, k, n, a_blk, b, c_blk, n, accumulate);
        });
    } else {
        // Column blocks, multiples of 16 columns.
        let step = n.div_ceil(t).div_ceil(16) * 16;
        let blocks = n.div_ceil(step);
        par_for(blocks, work, |bi| {
            let c0 = bi * step;
            let c1 = (c0 + step).min(n);
            let b_blk = MatRef { data: &b.data[c0 * b.cs..], rs: b.rs, cs: b.cs };
            // SAFETY: columns [c0, c1) of C are written only by this block (no reference to the
            // whole of C is alive), and the block lies inside `c` (checked above).
            unsafe { sgemm_raw(kern, m, k, c1 - c0, a, b_blk, ptr.at(c0), n, accumulate) };
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::testing::vec;

    fn naive(m: usize, k: usize, n: usize, a: MatRef, b: MatRef) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f64;
                for p in 0..k {
                    s += a.data[i * a.rs + p * a.cs] as f64 * b.data[p * b.rs + j * b.cs] as f64;
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    /// Single-thread GFLOP/s at the seed CNN's per-image products: matrixmultiply, gemm (sarah-ek,
    /// with the `bench-gemm` feature), the AVX-512 kernel and the AVX2 kernel (each where the
    /// level in force allows it), interleaved, plus the FMA peak
    /// measured on this core. matrixmultiply picks its kernel by its own CPU detection, whatever
    /// `FERROPTIM_SIMD` says: to time its AVX2 kernel on an AVX-512 host, build with its default
    /// features (`avx512`) off.
    /// `cargo test --release --manifest-path crate/Cargo.toml --features bench-gemm gemm_shapes_benchmark -- --ignored --nocapture`
    #[test]
    #[ignore]
    #[allow(clippy::needless_range_loop)]
    fn gemm_shapes_benchmark() {
        use std::time::Instant;
        #[cfg(target_arch = "x86_64")]
        unsafe {
            peak();
        }
        // (name, m, k, n, A transposed, B transposed)
        let shapes = [
            ("conv2 fwd  W·cols      ", 64, 288, 196, false, false),
            ("conv2 dW   dy·colsT    ", 64, 196, 288, false, true),
            ("conv2 dWT  cols·dyT    ", 288, 196, 64, false, true),
            ("conv2 dcol WT·dy       ", 288, 64, 196, true, false),
            ("conv1 fwd  W·cols      ", 32, 9, 784, false, false),
            ("conv1 dW   dy·colsT    ", 32, 784, 9, false, true),
            ("conv1 dWT  cols·dyT    ", 9, 784, 32, false, true),
            ("lin1 dx  dy·W (b128)   ", 128, 128, 3136, false, false),
            ("lin1 dW  dyT·x (b128)  ", 128, 128, 3136, true, false),
            ("lin2 fwd x·WT (b128)   ", 128, 128, 10, false, true),
            ("lin1 fwd x·WT (b128)   ", 128, 3136, 128, false, true),
        ];
        for &(name, m, k, n, at, bt) in &shapes {
            let ad = vec(1, m * k);
            let bd = vec(2, k * n);
            let a = if at { MatRef::t(&ad, m) } else { MatRef::rows(&ad, k) };
            let b = if bt { MatRef::t(&bd, k) } else { MatRef::rows(&bd, n) };
            let mut c = vec![0f32; m * n];
            let flops = 2.0 * (m * k * n) as f64;
            let reps = ((2e7 / flops).ceil() as usize).max(1);
            let run = |which: usize, c: &mut [f32]| unsafe {
                match which {
                    0 => sgemm_mm(m, k, n, a, b, c.as_mut_ptr(), n, false),
                    #[cfg(feature = "bench-gemm")]
                    1 => gemm::gemm(
                        m,
                        n,
                        k,
                        c.as_mut_ptr(),
                        1,
                        n as isize,
                        false,
                        a.data.as_ptr(),
                        a.cs as isize,
                        a.rs as isize,
                        b.data.as_ptr(),
                        b.cs as isize,
                        b.rs as isize,
                        0.0f32,
                        1.0f32,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    ),
                    #[cfg(not(feature = "bench-gemm"))]
                    1 => {}
                    2 => sgemm_raw(Kernel::X512, m, k, n, a, b, c.as_mut_ptr(), n, false),
                    _ => sgemm_raw(Kernel::X256, m, k, n, a, b, c.as_mut_ptr(), n, false),
                }
            };
            // gemm only with the bench-gemm feature; a kernel only where it applies and the CPU
            // (or FERROPTIM_SIMD) allows it.
            let small = small(m, k, b);
            let level = crate::simd::level();
            let skip = |which: usize| match which {
                1 => !cfg!(feature = "bench-gemm"),
                2 => !small || level < crate::simd::Level::Avx512,
                3 => !small || level < crate::simd::Level::Avx2,
                _ => false,
            };
            let expect = naive(m, k, n, a, b);
            for which in 0..4 {
                if skip(which) {
                    continue;
                }
                run(which, &mut c);
                for (x, y) in c.iter().zip(&expect) {
                    assert!((x - y).abs() <= 1e-3 * (1.0 + y.abs()), "{name} impl {which}: {x} vs {y}");
                }
            }
            let mut best = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
            for _round in 0..30 {
                for which in 0..4 {
                    if skip(which) {
                        continue;
                    }
                    let t = Instant::now();
                    for _ in 0..reps {
                        run(which, &mut c);
                    }
                    best[which].push(flops * reps as f64 / t.elapsed().as_secs_f64() / 1e9);
                }
            }
            let med = |v: &mut Vec<f64>| {
                if v.is_empty() {
                    return (f64::NAN, f64::NAN);
                }
                v.sort_by(|x, y| x.partial_cmp(y).unwrap());
                (v[v.len() / 2], v[v.len() - 1])
            };
            let r: Vec<(f64, f64)> = best.iter_mut().map(med).collect();
            println!(
                "{name} m={m:4} k={k:4} n={n:4}  GFLOP/s median (max): matrixmultiply {:6.1} ({:6.1})  gemm {:6.1} ({:6.1})  avx512 kernel {:6.1} ({:6.1})  avx2 kernel {:6.1} ({:6.1})",
                r[0].0, r[0].1, r[1].0, r[1].1, r[2].0, r[2].1, r[3].0, r[3].1
            );
        }
    }

    /// FMA throughput (24 independent zmm chains) and latency (one chain) on this core.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn peak() {
        use std::arch::x86_64::*;
        use std::time::Instant;
        let iters = 20_000_000usize;
        let x = _mm512_set1_ps(0.999_999);
        let y = _mm512_set1_ps(1e-7);
        let mut acc = [_mm512_set1_ps(1.0); 24];
        let mut best = 0f64;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..iters / 24 {
                for a in acc.iter_mut() {
                    *a = _mm512_fmadd_ps(*a, x, y);
                }
            }
            std::hint::black_box(&mut acc);
            let gf = (iters / 24 * 24) as f64 * 32.0 / t.elapsed().as_secs_f64() / 1e9;
            best = best.max(gf);
        }
        let mut one = _mm512_set1_ps(1.0);
        let mut lat_best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..iters / 8 {
                one = _mm512_fmadd_ps(one, x, y);
                one = _mm512_fmadd_ps(one, x, y);
                one = _mm512_fmadd_ps(one, x, y);
                one = _mm512_fmadd_ps(one, x, y);
                one = _mm512_fmadd_ps(one, x, y);
                one = _mm512_fmadd_ps(one, x, y);
                one = _mm512_fmadd_ps(one, x, y);
                one = _mm512_fmadd_ps(one, x, y);
            }
            one = std::hint::black_box(one);
            lat_best = lat_best.min(t.elapsed().as_secs_f64() / (iters / 8 * 8) as f64);
        }
        println!(
            "peak: 24 independent zmm FMA chains {best:.1} GFLOP/s ({:.1} zmm FMA/ns); one dependent chain {:.3} ns/FMA (= {:.2} GHz if latency is 4 cycles, Zen 5)",
            best / 32.0,
            lat_best * 1e9,
            4.0 / (lat_best * 1e9)
        );
        std::hint::black_box((acc, one));
    }

    #[test]
    fn transpose_moves_every_element_at_every_level() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let levels = [crate::simd::Level::Avx512, crate::simd::Level::Avx2, crate::simd::Level::Baseline];
        for lvl in levels.into_iter().filter(|&l| l <= crate::simd::detected()) {
            crate::simd::force(lvl);
            // Contiguous and strided rows; edges in both directions.
            for (rows, cols, lds) in [
                (1, 1, 1),
                (8, 8, 8),
                (16, 16, 16),
                (32, 17, 20),
                (64, 196, 196),
                (196, 64, 64),
                (288, 196, 196),
                (196, 288, 288),
                (13, 9, 9),
                (17, 33, 40),
                (7, 24, 30),
                (128, 784, 790),
            ] {
                let src = vec(5, (rows - 1) * lds + cols);
                let mut dst = vec![0f32; rows * cols];
                transpose(&src, rows, cols, lds, &mut dst);
                for i in 0..rows {
                    for j in 0..cols {
                        assert_eq!(dst[j * rows + i].to_bits(), src[i * lds + j].to_bits(), "{lvl:?} {rows}×{cols}/{lds}");
                    }
                }
            }
        }
        crate::simd::force(crate::simd::detected());
    }

    #[test]
    fn products_match_a_naive_loop_for_every_transpose_and_split() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        // Every level's kernels: the hand-written ones (small K) and matrixmultiply.
        let levels = [crate::simd::Level::Avx512, crate::simd::Level::Avx2, crate::simd::Level::Baseline];
        for lvl in levels.into_iter().filter(|&l| l <= crate::simd::detected()) {
            crate::simd::force(lvl);
            // The last two are split over threads (above PAR_MIN_GEMM_FLOPS): by rows, and, C wide
            // and short, by columns.
            for &(m, k, n) in
                &[(1, 1, 1), (3, 5, 7), (17, 33, 9), (128, 300, 40), (8, 64, 700), (0, 3, 4), (4, 0, 3), (300, 400, 150), (24, 1024, 1400)]
            {
                let ad = vec(1, m * k);
                let bd = vec(2, k * n);
                for (at, bt) in [(false, false), (true, false), (false, true), (true, true)] {
                    let a = if at { MatRef::t(&ad, m) } else { MatRef::rows(&ad, k) };
                    let b = if bt { MatRef::t(&bd, k) } else { MatRef::rows(&bd, n) };
                    let expect = naive(m, k, n, a, b);
                    let mut results = Vec::new();
                    for t in [1, 2, 3] {
                        crate::pool::set_num_threads(t).unwrap();
                        let mut c = vec![0.5f32; m * n];
                        par_sgemm(m, k, n, a, b, &mut c, false);
                        for (x, y) in c.iter().zip(&expect) {
                            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{m}x{k}x{n}: {x} vs {y}");
                        }
                        let mut acc = vec![1.0f32; m * n];
                        par_sgemm(m, k, n, a, b, &mut acc, true);
                        for (x, y) in acc.iter().zip(&expect) {
                            assert!((x - (y + 1.0)).abs() <= 1e-4 * (2.0 + y.abs()));
                        }
                        results.push(c.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
                    }
                    assert!(results.windows(2).all(|w| w[0] == w[1]), "thread count changed the bits");
                }
            }
        }
        crate::simd::force(crate::simd::detected());
        crate::pool::set_num_threads(2).unwrap();
    }
}
