//! Products whose left operand is mostly zeros, with the bits of the dense kernels.
//!
//! A convolution's gradient routed back through a max pool is zero outside each window's argmax
//! (and wherever the ReLU before the pool was off): with 2 × 2 windows at most a quarter of it is
//! non-zero. The dense kernels of [`super::gemm`] compute each element of C as one FMA chain
//! `acc ← a·b + acc` from +0 over p = 0..k in order, then `+ C`. A term whose `a` is ±0 and whose
//! `b` is finite adds ±0 to that chain, which leaves `acc` as it is (`acc` starts at +0 and a sum
//! in round-to-nearest is never −0 unless both addends are), so the chain over the non-zero terms
//! alone, in the same order, has the same bits. [`chain_rows`] computes such chains over lists
//! of rows of a dense matrix; its callers check that the dense rows are finite (a zero times an
//! infinity or NaN is NaN) and fall back to the dense product when they are not. (Where NaNs of
//! different signs meet in one sum, which one comes out depends on which operand of an
//! instruction is which, in the dense kernels too; NaN bits are not promised.)
//!
//! Measured on the seed CNN's conv2 backward (O 64, K 288, P 196, a quarter of dy non-zero), µs
//! per image on one core of the AMD EPYC VM with `sparse_products_benchmark` below (at 4df22b9;
//! the AVX2 row with `FERROPTIM_SIMD=avx2`):
//!
//! | level | dW sparse (+ slabs of colsᵀ) | dW dense | dcols sparse (+ transposes) | dcols dense | listing |
//! |---|---:|---:|---:|---:|---:|
//! | AVX-512 | 15.3 + 4.4 | 29.2 | 20.8 + 3.0 | 33.7 | 2.5 |
//! | AVX2 | 26.2 + 4.9 | 58.4 | 32.5 + 3.4 | 65.4 | 2.7 (6.9 element by element) |
//!
//! A sparse product reads one row of B per FMA vector (the dense kernel reuses each B vector for 8
//! rows of C), so it runs at about a third of the dense kernel's FMA rate, and pays where at most
//! about a third of A is non-zero.
//!
//! [`Nonzeros`] lists a matrix's non-zero elements by row (NaN counts as non-zero), and transposes
//! the list by a counting sort.

/// The non-zero elements of a `rows × cols` matrix, by row: row r's are
/// `(col[t], val[t])` for `t in start[r]..start[r + 1]`, in increasing column order. Every
/// column index is below `cols` (the fields are private to keep that so: [`chain_rows`] bounds
/// its reads by it).
#[derive(Default)]
pub(crate) struct Nonzeros {
    start: Vec<u32>,
    col: Vec<u32>,
    val: Vec<f32>,
    cols: usize,
}

impl Nonzeros {
    /// Elements listed.
    pub fn len(&self) -> usize {
        self.val.len()
    }

    /// Row r's `(columns, values)`.
    #[inline]
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, e) = (self.start[r] as usize, self.start[r + 1] as usize);
        (&self.col[a..e], &self.val[a..e])
    }

    /// Lists the elements of the row-major `rows × cols` matrix `g` that are not ±0.
    pub fn of_rows(&mut self, g: &[f32], cols: usize) {
        assert!(cols > 0 && g.len().is_multiple_of(cols) && g.len() < u32::MAX as usize, "Nonzeros::of_rows: bad shape");
        let rows = g.len() / cols;
        self.cols = cols;
        self.start.clear();
        self.start.reserve(rows + 1);
        // Written past the count: room for every element plus one vector.
        self.col.resize(g.len() + 16, 0);
        self.val.resize(g.len() + 16, 0.0);
        let mut n = 0;
        self.start.push(0);
        for row in g.chunks_exact(cols) {
            #[cfg(target_arch = "x86_64")]
            if crate::simd::level() >= crate::simd::Level::Avx512 {
                // SAFETY: AVX-512F is available (the level never exceeds what the CPU has);
                // `col` and `val` have room for `n + row.len() + 16` elements (n ≤ the elements
                // of the rows before this one).
                n += unsafe { x512::nonzeros(row, self.col.as_mut_ptr().add(n), self.val.as_mut_ptr().add(n)) };
                self.start.push(n as u32);
                continue;
            }
            #[cfg(target_arch = "x86_64")]
            if crate::simd::level() >= crate::simd::Level::Avx2 {
                // SAFETY: AVX2 is available; room as above.
                n += unsafe { x256::nonzeros(row, self.col.as_mut_ptr().add(n), self.val.as_mut_ptr().add(n)) };
                self.start.push(n as u32);
                continue;
            }
            for (j, &v) in row.iter().enumerate() {
                // Branch-free: the slot is taken only when v is not ±0.
                self.col[n] = j as u32;
                self.val[n] = v;
                n += (v != 0.0) as usize;
            }
            self.start.push(n as u32);
        }
        self.col.truncate(n);
        self.val.truncate(n);
    }

    /// `t ← self` with column j renamed `map[j]`, for a `rows × cols` matrix (`map` increasing or
    /// not, each below `cols`): the same rows, order and values.
    pub fn map_cols_into(&self, map: &[u32], cols: usize, t: &mut Nonzeros) {
        assert!(map.len() == self.cols && map.iter().all(|&m| (m as usize) < cols), "Nonzeros::map_cols_into: bad map");
        t.cols = cols;
        t.start.clone_from(&self.start);
        t.val.clone_from(&self.val);
        t.col.clear();
        t.col.extend(self.col.iter().map(|&j| map[j as usize]));
    }

    /// `t ← self` transposed: `self` lists a `rows × cols` matrix by row, `t` lists it by column,
    /// each column's elements in increasing row order.
    pub fn transpose_into(&self, cols: usize, t: &mut Nonzeros) {
        let rows = self.start.len() - 1;
        assert_eq!(cols, self.cols, "Nonzeros::transpose_into: another shape");
        t.cols = rows;
        t.start.clear();
        t.start.resize(cols + 1, 0);
        for &j in &self.col {
            t.start[j as usize + 1] += 1;
        }
        for j in 0..cols {
            t.start[j + 1] += t.start[j];
        }
        t.col.resize(self.len(), 0);
        t.val.resize(self.len(), 0.0);
        // start[j] is the next free slot of column j while filling; shifted back after.
        for r in 0..rows {
            let (cs, vs) = self.row(r);
            for (&j, &v) in cs.iter().zip(vs) {
                let at = t.start[j as usize] as usize;
                t.col[at] = r as u32;
                t.val[at] = v;
                t.start[j as usize] += 1;
            }
        }
        for j in (1..=cols).rev() {
            t.start[j] = t.start[j - 1];
        }
        t.start[0] = 0;
    }
}

/// Columns of B a sparse product reads per pass: callers cut B into slabs this wide, each its own
/// contiguous `rows × SLAB` panel starting on a cache line ([`aligned`]), so that the rows a pass
/// reads at random stay in L1 (a 196-row slab is 50 KB) and each is whole cache lines. Measured
/// on the seed CNN's conv2 (O 64, K 288, P 196; AVX-512, one core): whole 288-float rows 26 µs
/// per image for dW, 48-float slabs 26 µs unaligned and 17.6 aligned, 64-float slabs 16.6.
pub(crate) const SLAB: usize = 64;

/// The widest rows [`chain_rows`] takes: 6 zmm per row, 12 accumulators for a pair of rows.
pub(crate) const MAX_ROW: usize = 96;

/// `n` elements of `v` starting on a 64-byte boundary (v grown as needed; contents unspecified).
pub(crate) fn aligned(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n + 16 {
        v.resize(n + 16, 0.0);
    }
    let off = v.as_ptr().align_offset(64).min(16);
    &mut v[off..off + n]
}

/// For every row r that `nz` lists: `out[r·ldo + j] ← (Σₜ val[t]·b[col[t]·ld + j]) (+ out[r·ldo + j]
/// when accumulate)` for `j < n ≤ [`MAX_ROW`]`, each sum one FMA chain over the listed terms in order
/// from +0, as the dense kernels form it: for a sparse A listed by row, C = A·B with the bits of
/// the dense product's chains when the rows of B are finite. Rows are taken two at a time, so
/// that their chains overlap the FMA latency.
///
/// # Panics
/// If `n > MAX_ROW`, or a listed row of B or a row of `out` does not fit (a bug in the caller).
#[allow(clippy::too_many_arguments)]
pub(crate) fn chain_rows(nz: &Nonzeros, b: &[f32], ld: usize, n: usize, out: &mut [f32], ldo: usize, accumulate: bool) {
    let rows = nz.start.len() - 1;
    // (Rows of B may overlap, ld < n: they are only read.)
    assert!(n <= MAX_ROW && n <= ldo, "chain_rows: bad widths");
    if n == 0 || rows == 0 {
        return;
    }
    // Every listed row of B is below nz.cols: a bound once, not a pass over the list.
    let b_rows_fit = nz.cols == 0 || (nz.cols - 1) * ld + n <= b.len();
    assert!(b_rows_fit && (rows - 1) * ldo + n <= out.len(), "chain_rows: a row exceeds its buffer");
    let (bp, op) = (b.as_ptr(), out.as_mut_ptr());
    for r in (0..rows).step_by(2) {
        let first = nz.row(r);
        let second = (r + 1 < rows).then(|| nz.row(r + 1));
        // SAFETY: rows r and r + 1 of `out` and every listed row of `b` were checked to fit
        // above; `out` is a unique borrow.
        unsafe {
            // (Row r + 1's pointer wraps: past the last row it is never dereferenced.)
            let (oa, ob) = (op.add(r * ldo), op.wrapping_add((r + 1) * ldo));
            match crate::simd::level() {
                // The level never exceeds what the CPU has.
                #[cfg(target_arch = "x86_64")]
                crate::simd::Level::Avx512 => x512::pair(n, first, second, bp, ld, oa, ob, accumulate),
                #[cfg(target_arch = "x86_64")]
                crate::simd::Level::Avx2 => x256::pair(n, first, second, bp, ld, oa, ob, accumulate),
                _ => {
                    for ((idx, val), o) in std::iter::once(first).chain(second).zip([oa, ob]) {
                        for j in 0..n {
                            let acc = idx.iter().zip(val).fold(0f32, |acc, (&t, &v)| v.mul_add(*bp.add(t as usize * ld + j), acc));
                            *o.add(j) = if accumulate { acc + *o.add(j) } else { acc };
                        }
                    }
                }
            }
        }
    }
}

/// Whether every element is finite.
pub(crate) fn all_finite(x: &[f32]) -> bool {
    // The largest magnitude's bits, vectorisable.
    x.iter().fold(0u32, |m, v| m.max(v.to_bits() & 0x7FFF_FFFF)) < 0x7F80_0000
}

/// The slabs of `k` columns: `(first column, width)`.
pub(crate) fn slabs(k: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..k).step_by(SLAB).map(move |j| (j, SLAB.min(k - j)))
}

/// The terms of the lists `a` and `c` into the accumulators `x` and `y` with `$term!(acc, t, g)`,
/// the two lists a term each in turn while both last (their FMA chains overlap), then the rest of
/// the longer one; each list in its own order. (A macro, so each level's `term!` stays inline.)
#[cfg(target_arch = "x86_64")]
macro_rules! in_lockstep {
    ($term:ident, $a:expr, $x:ident, $c:expr, $y:ident) => {{
        let (ai, av) = $a;
        let (ci, cv) = $c.unwrap_or((&[], &[]));
        let both = ai.len().min(ci.len());
        for t in 0..both {
            $term!($x, *ai.get_unchecked(t), *av.get_unchecked(t));
            $term!($y, *ci.get_unchecked(t), *cv.get_unchecked(t));
        }
        for t in both..ai.len() {
            $term!($x, *ai.get_unchecked(t), *av.get_unchecked(t));
        }
        for t in both..ci.len() {
            $term!($y, *ci.get_unchecked(t), *cv.get_unchecked(t));
        }
    }};
}

#[cfg(target_arch = "x86_64")]
mod x512 {
    use crate::simd::mask16;
    use std::arch::x86_64::*;

    /// Writes row's non-zero elements' columns and values from `col` and `val` (each written up
    /// to `row.len()` rounded up to 16), returns their count.
    ///
    /// # Safety
    /// AVX-512F is available; `col` and `val` have room for `row.len() + 16` elements.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn nonzeros(row: &[f32], col: *mut u32, val: *mut f32) -> usize {
        let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let mut n = 0;
        let mut j = 0;
        while j < row.len() {
            // Lanes past the row load +0, which is not listed.
            let v = _mm512_maskz_loadu_ps(mask16(row.len() - j), row.as_ptr().add(j));
            let m = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(v, _mm512_setzero_ps());
            let at = _mm512_add_epi32(iota, _mm512_set1_epi32(j as i32));
            _mm512_storeu_ps(val.add(n), _mm512_maskz_compress_ps(m, v));
            _mm512_storeu_si512(col.add(n) as *mut _, _mm512_maskz_compress_epi32(m, at));
            n += m.count_ones() as usize;
            j += 16;
        }
        n
    }

    /// [`super::chain_rows`] for one or two rows at the AVX-512 level.
    ///
    /// # Safety
    /// AVX-512F is available; `n ≤ MAX_ROW`; every listed row `b[t·ld ..][..n]` and `oa[..n]` (and
    /// `oc[..n]` when there is a second row) are inside their buffers, the outputs disjoint.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn pair(
        n: usize,
        a: (&[u32], &[f32]),
        c: Option<(&[u32], &[f32])>,
        b: *const f32,
        ld: usize,
        oa: *mut f32,
        oc: *mut f32,
        accumulate: bool,
    ) {
        let nv = n.div_ceil(16);
        let last = mask16(n - 16 * (nv - 1));
        match nv {
            1 => pair_nv::<1>(a, c, b, ld, oa, oc, last, accumulate),
            2 => pair_nv::<2>(a, c, b, ld, oa, oc, last, accumulate),
            3 => pair_nv::<3>(a, c, b, ld, oa, oc, last, accumulate),
            4 => pair_nv::<4>(a, c, b, ld, oa, oc, last, accumulate),
            5 => pair_nv::<5>(a, c, b, ld, oa, oc, last, accumulate),
            _ => pair_nv::<6>(a, c, b, ld, oa, oc, last, accumulate),
        }
    }

    /// [`pair`] with `NV` vectors per row, the last one's lanes `last`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    unsafe fn pair_nv<const NV: usize>(
        a: (&[u32], &[f32]),
        c: Option<(&[u32], &[f32])>,
        b: *const f32,
        ld: usize,
        oa: *mut f32,
        oc: *mut f32,
        last: u16,
        accumulate: bool,
    ) {
        let mask = |v: usize| if v + 1 == NV { last } else { 0xFFFF };
        let store = |acc: &[__m512; NV], o: *mut f32| {
            for v in 0..NV {
                let mut x = acc[v];
                if accumulate {
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask(v), o.add(16 * v)));
                }
                _mm512_mask_storeu_ps(o.add(16 * v), mask(v), x);
            }
        };
        // acc[v] ← g·row[v] + acc[v] for term (t, g), in place (a macro: through a closure the
        // accumulators lived in memory).
        macro_rules! term {
            ($acc:ident, $t:expr, $g:expr) => {{
                let (g, row) = (_mm512_set1_ps($g), b.add($t as usize * ld));
                for v in 0..NV {
                    $acc[v] = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(mask(v), row.add(16 * v)), $acc[v]);
                }
            }};
        }
        let (mut x, mut y) = ([_mm512_setzero_ps(); NV], [_mm512_setzero_ps(); NV]);
        in_lockstep!(term, a, x, c, y);
        store(&x, oa);
        if c.is_some() {
            store(&y, oc);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x256 {
    use std::arch::x86_64::*;

    /// For each 8-bit lane mask, the lanes it selects, packed to the front (one byte each).
    const PACK: [u64; 256] = {
        let mut t = [0u64; 256];
        let mut m = 0;
        while m < 256 {
            let (mut at, mut l) = (0, 0);
            while l < 8 {
                if m & (1 << l) != 0 {
                    t[m] |= (l as u64) << (8 * at);
                    at += 1;
                }
                l += 1;
            }
            m += 1;
        }
        t
    };

    /// The AVX2 analog of [`super::x512::nonzeros`]: 8 lanes a step, packed by a permute from
    /// [`PACK`] (AVX2 has no compress).
    ///
    /// # Safety
    /// AVX2 is available; `col` and `val` have room for `row.len() + 8` elements.
    #[target_feature(enable = "avx2")]
    pub unsafe fn nonzeros(row: &[f32], col: *mut u32, val: *mut f32) -> usize {
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mut n = 0;
        let mut j = 0;
        while j < row.len() {
            let left = (row.len() - j).min(8);
            // Lanes past the row load +0, which is not listed.
            let v = if left == 8 {
                _mm256_loadu_ps(row.as_ptr().add(j))
            } else {
                _mm256_maskload_ps(row.as_ptr().add(j), _mm256_cmpgt_epi32(_mm256_set1_epi32(left as i32), lanes))
            };
            let m = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_UQ>(v, _mm256_setzero_ps())) as usize;
            let perm = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(PACK[m] as i64));
            _mm256_storeu_ps(val.add(n), _mm256_permutevar8x32_ps(v, perm));
            let at = _mm256_add_epi32(lanes, _mm256_set1_epi32(j as i32));
            _mm256_storeu_si256(col.add(n) as *mut __m256i, _mm256_permutevar8x32_epi32(at, perm));
            n += m.count_ones() as usize;
            j += 8;
        }
        n
    }

    /// [`super::chain_rows`] for one or two rows at the AVX2 level.
    ///
    /// # Safety
    /// AVX2 and FMA are available; otherwise as [`super::x512::pair`].
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn pair(
        n: usize,
        a: (&[u32], &[f32]),
        c: Option<(&[u32], &[f32])>,
        b: *const f32,
        ld: usize,
        oa: *mut f32,
        oc: *mut f32,
        accumulate: bool,
    ) {
        if n > 48 {
            // At most 6 ymm per row (12 accumulators for the two): the slab in two halves.
            let h = n.div_ceil(16) * 8;
            pair(h, a, c, b, ld, oa, oc, accumulate);
            return pair(n - h, a, c, b.add(h), ld, oa.add(h), oc.wrapping_add(h), accumulate);
        }
        let nv = n.div_ceil(8);
        let last = _mm256_cmpgt_epi32(_mm256_set1_epi32((n - 8 * (nv - 1)) as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        match nv {
            1 => pair_nv::<1>(a, c, b, ld, oa, oc, last, accumulate),
            2 => pair_nv::<2>(a, c, b, ld, oa, oc, last, accumulate),
            3 => pair_nv::<3>(a, c, b, ld, oa, oc, last, accumulate),
            4 => pair_nv::<4>(a, c, b, ld, oa, oc, last, accumulate),
            5 => pair_nv::<5>(a, c, b, ld, oa, oc, last, accumulate),
            _ => pair_nv::<6>(a, c, b, ld, oa, oc, last, accumulate),
        }
    }

    /// [`pair`] with `NV` vectors per row, the last one's lanes `last`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    unsafe fn pair_nv<const NV: usize>(
        a: (&[u32], &[f32]),
        c: Option<(&[u32], &[f32])>,
        b: *const f32,
        ld: usize,
        oa: *mut f32,
        oc: *mut f32,
        last: __m256i,
        accumulate: bool,
    ) {
        let load = |p: *const f32, v: usize| if v + 1 == NV { _mm256_maskload_ps(p, last) } else { _mm256_loadu_ps(p) };
        let store = |acc: &[__m256; NV], o: *mut f32| {
            for v in 0..NV {
                let mut x = acc[v];
                if accumulate {
                    x = _mm256_add_ps(x, load(o.add(8 * v), v));
                }
                if v + 1 == NV {
                    _mm256_maskstore_ps(o.add(8 * v), last, x);
                } else {
                    _mm256_storeu_ps(o.add(8 * v), x);
                }
            }
        };
        // acc[v] ← g·row[v] + acc[v] for term (t, g), in place (a macro: through a closure the
        // accumulators lived in memory).
        macro_rules! term {
            ($acc:ident, $t:expr, $g:expr) => {{
                let (g, row) = (_mm256_set1_ps($g), b.add($t as usize * ld));
                for v in 0..NV {
                    $acc[v] = _mm256_fmadd_ps(g, load(row.add(8 * v), v), $acc[v]);
                }
            }};
        }
        let (mut x, mut y) = ([_mm256_setzero_ps(); NV], [_mm256_setzero_ps(); NV]);
        in_lockstep!(term, a, x, c, y);
        store(&x, oa);
        if c.is_some() {
            store(&y, oc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gemm::{sgemm, MatRef};
    use crate::nn::testing::vec;
    use crate::simd::Level;

    /// Runs `f` at every SIMD level this CPU has.
    fn each_level(f: impl Fn(Level)) {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for lvl in [Level::Avx512, Level::Avx2, Level::Baseline].into_iter().filter(|&l| l <= crate::simd::detected()) {
            crate::simd::force(lvl);
            f(lvl);
        }
        crate::simd::force(crate::simd::detected());
    }

    /// A `rows × cols` matrix with about `keep` of its elements non-zero (some −0 among the zeros).
    fn sparse(seed: u64, rows: usize, cols: usize, keep: f32) -> Vec<f32> {
        let pick = vec(seed + 100, rows * cols);
        vec(seed, rows * cols)
            .into_iter()
            .zip(pick)
            .map(|(v, p)| {
                if (p + 1.0) / 2.0 < keep {
                    v
                } else if p > 0.9 {
                    -0.0
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn nonzeros_and_their_transpose_list_every_element_in_order() {
        each_level(|_| {
            for (rows, cols, keep) in [(1, 1, 1.0), (3, 17, 0.3), (64, 196, 0.25), (5, 40, 0.0), (2, 33, 1.0)] {
                let mut g = sparse(1, rows, cols, keep);
                if rows * cols > 20 {
                    g[7] = f32::NAN;
                }
                let (mut nz, mut t) = (Nonzeros::default(), Nonzeros::default());
                nz.of_rows(&g, cols);
                nz.transpose_into(cols, &mut t);
                let listed = |i: usize, j: usize| g[i * cols + j] != 0.0 || g[i * cols + j].is_nan();
                for i in 0..rows {
                    let want: Vec<u32> = (0..cols).filter(|&j| listed(i, j)).map(|j| j as u32).collect();
                    let (cs, vs) = nz.row(i);
                    assert_eq!(cs, &want[..]);
                    for (&j, &v) in cs.iter().zip(vs) {
                        assert_eq!(v.to_bits(), g[i * cols + j as usize].to_bits());
                    }
                }
                for j in 0..cols {
                    let want: Vec<u32> = (0..rows).filter(|&i| listed(i, j)).map(|i| i as u32).collect();
                    assert_eq!(t.row(j).0, &want[..]);
                }
            }
        });
    }

    #[test]
    fn a_chain_over_the_nonzero_rows_has_the_dense_products_bits() {
        // C (m × n) = A (m × k, sparse) · B (k × n), accumulated onto a C0, at every level where
        // the dense kernel chains; the widths cover every pass split and tail.
        each_level(|lvl| {
            if lvl < Level::Avx2 {
                return;
            }
            for (m, k, n) in [(3, 10, 1), (4, 49, 7), (8, 196, 288), (5, 64, 257), (2, 30, 100), (6, 9, 16)] {
                if !crate::nn::gemm::chains(m, k, n, MatRef::rows(&[], n)) {
                    continue;
                }
                let a = sparse(2, m, k, 0.3);
                let b = vec(3, k * n);
                let c0 = vec(4, m * n);
                for accumulate in [false, true] {
                    let mut dense = c0.clone();
                    sgemm(m, k, n, MatRef::rows(&a, k), MatRef::rows(&b, n), &mut dense, n, accumulate);
                    let mut nz = Nonzeros::default();
                    nz.of_rows(&a, k);
                    let mut got = c0.clone();
                    for (j, wd) in slabs(n) {
                        // B's slab as a k × wd panel.
                        let panel: Vec<f32> = (0..k).flat_map(|p| b[p * n + j..p * n + j + wd].to_vec()).collect();
                        chain_rows(&nz, &panel, wd, wd, &mut got[j..], n, accumulate);
                    }
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&dense), "{m}×{k}·{k}×{n}, accumulate {accumulate}, {lvl:?}");
                }
            }
        });
    }

    /// The seed CNN's conv2 backward per image, sparse pieces against the dense products
    /// (µs, one core): `cargo test --release sparse_products_benchmark -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn sparse_products_benchmark() {
        use crate::nn::gemm::{sgemm, transpose, MatRef};
        let (o, p, k) = (64usize, 196usize, 288usize);
        // A quarter of dy non-zero, as a 2 × 2 max pool routes it.
        let g = sparse(8, o, p, 0.25);
        let (cols, w) = (vec(3, k * p), vec(4, o * k));
        let (mut ct, mut dct, mut wp) = (Vec::new(), Vec::new(), Vec::new());
        let (ct, dct, wp) = (aligned(&mut ct, k * p), aligned(&mut dct, k * p), aligned(&mut wp, o * k));
        for (j, wd) in slabs(k) {
            for (r, dst) in wp[j * o..(j + wd) * o].chunks_exact_mut(wd).enumerate() {
                dst.copy_from_slice(&w[r * k + j..r * k + j + wd]);
            }
        }
        let (mut dw, mut dc, mut dwt) = (vec![0f32; o * k], vec![0f32; k * p], vec![0f32; k * o]);
        let (mut nz, mut nzt) = (Nonzeros::default(), Nonzeros::default());
        let mut gt = vec![0f32; o * p];
        transpose(&g, o, p, p, &mut gt);
        let time = |name: &str, f: &mut dyn FnMut()| {
            for _ in 0..50 {
                f();
            }
            let t0 = std::time::Instant::now();
            for _ in 0..2000 {
                f();
            }
            eprintln!("{name}: {:.2} µs", t0.elapsed().as_secs_f64() * 1e6 / 2000.0);
        };
        time("list dy's non-zeros", &mut || nz.of_rows(&g, p));
        time("cols to slabs of colsᵀ", &mut || {
            for (j, wd) in slabs(k) {
                transpose(&cols[j * p..(j + wd) * p], wd, p, p, &mut ct[j * p..(j + wd) * p]);
            }
        });
        time("dW, sparse", &mut || {
            for (j, wd) in slabs(k) {
                chain_rows(&nz, &ct[j * p..(j + wd) * p], wd, wd, &mut dw[j..], k, true);
            }
        });
        time("dWᵀ, dense", &mut || sgemm(k, p, o, MatRef::rows(&cols, p), MatRef::rows(&gt, o), &mut dwt, o, true));
        time("list by position", &mut || nz.transpose_into(p, &mut nzt));
        time("dcols, sparse, and back to K × P", &mut || {
            for (j, wd) in slabs(k) {
                let panel = &mut dct[j * p..(j + wd) * p];
                chain_rows(&nzt, &wp[j * o..(j + wd) * o], wd, wd, panel, wd, false);
                transpose(panel, p, wd, wd, &mut dc[j * p..(j + wd) * p]);
            }
        });
        time("dcols, dense", &mut || sgemm(k, o, p, MatRef::t(&w, k), MatRef::rows(&g, p), &mut dc, p, false));
    }
}
