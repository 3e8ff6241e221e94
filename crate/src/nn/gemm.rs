//! Single-precision matrix products over `matrixmultiply::sgemm`, with bounds checked on slices.

use super::{par_for, threads, SendPtr};

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
    unsafe { sgemm_raw(m, k, n, a, b, c.as_mut_ptr(), ldc, accumulate) }
}

/// # Safety
/// The views fit (`m × k`, `k × n`), `c` points at an `m × n` row-major block with row stride
/// `ldc` that no other thread reads or writes during the call, and `m, n, k > 0`.
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm_raw(m: usize, k: usize, n: usize, a: MatRef, b: MatRef, c: *mut f32, ldc: usize, accumulate: bool) {
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

/// [`sgemm`] on the crate's pool: C (row-major, `ldc == n`) is cut into blocks of rows, or of
/// columns when it is wide and short, one block per thread. Each element of C is computed by the
/// same sequence of operations whatever the cut, so the result does not depend on the thread count.
pub fn par_sgemm(m: usize, k: usize, n: usize, a: MatRef, b: MatRef, c: &mut [f32], accumulate: bool) {
    let work = 2 * m * n * k;
    let t = threads();
    if t <= 1 || work < 4 * super::PAR_MIN_FLOPS || m == 0 || n == 0 || k == 0 {
        sgemm(m, k, n, a, b, c, n, accumulate);
        return;
    }
    assert!(a.fits(m, k) && b.fits(k, n) && m * n <= c.len(), "par_sgemm: views exceed their buffers");
    let ptr = SendPtr(c.as_mut_ptr());
    if m >= n || m >= 16 * t {
        // Row blocks, multiples of 16 rows.
        let step = m.div_ceil(t).div_ceil(16) * 16;
        let blocks = m.div_ceil(step);
        par_for(blocks, work, |bi| {
            let r0 = bi * step;
            let r1 = (r0 + step).min(m);
            let a_blk = MatRef { data: &a.data[r0 * a.rs..], rs: a.rs, cs: a.cs };
            // SAFETY: rows [r0, r1) of C are disjoint from other blocks' and inside `c`.
            let c_blk = unsafe { ptr.slice(r0 * n, (r1 - r0) * n) };
            sgemm(r1 - r0, k, n, a_blk, b, c_blk, n, accumulate);
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
            unsafe { sgemm_raw(m, k, c1 - c0, a, b_blk, ptr.at(c0), n, accumulate) };
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

    #[test]
    fn products_match_a_naive_loop_for_every_transpose_and_split() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (17, 33, 9), (128, 300, 40), (8, 64, 700), (0, 3, 4), (4, 0, 3)] {
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
        crate::pool::set_num_threads(2).unwrap();
    }
}
