//! Elementwise layers: `ReLU` and `Dropout`.
//!
//! ```text
//! ReLU     y = max(x, 0) (NaN stays NaN)     dx = dy · [y > 0]
//! Dropout  y = x · m,  m = [u ≥ p] / (1 − p)  dx = dy · m
//! ```
//! Dropout's u is a counter-based hash of (seed, element index), uniform on [0, 1) with 24 bits,
//! so the mask depends only on the seed, never on the thread count. It is not PyTorch's random
//! stream (a deviation: the same seed gives a different mask than `torch.manual_seed`).

use super::{check_len, par_for, range, NnResult, SendPtr};

/// Elements per work item of the elementwise layers.
const CHUNK: usize = 1 << 15;

struct Body<F: FnOnce()>(F);
impl<F: FnOnce()> crate::simd::Simd for Body<F> {
    #[inline(always)]
    fn run(self) {
        (self.0)()
    }
}

/// Runs `f(start, end)` over fixed chunks of `[0, n)`, in parallel when large, each chunk at the
/// active SIMD level.
fn elementwise(n: usize, f: impl Fn(usize, usize) + Sync + Send) {
    par_for(n.div_ceil(CHUNK), n, |c| {
        let a = c * CHUNK;
        let b = (a + CHUNK).min(n);
        crate::simd::dispatch(Body(|| f(a, b)));
    });
}

/// max(x, 0) with NaN kept and −0 mapped to +0 (PyTorch's `clamp_min(x, 0)` bits).
#[inline(always)]
pub(crate) fn relu1(x: f32) -> f32 {
    if x > 0.0 || x.is_nan() {
        x
    } else {
        0.0
    }
}

/// y ← relu(x).
pub fn relu_forward(x: &[f32], y: &mut [f32]) -> NnResult<()> {
    check_len("output", y.len(), x.len())?;
    let yp = SendPtr(y.as_mut_ptr());
    elementwise(x.len(), |a, b| {
        // SAFETY: [a, b) is this chunk's range, disjoint from other chunks', inside `y`.
        let yo = unsafe { yp.slice(a, b - a) };
        for (o, &v) in yo.iter_mut().zip(&x[a..b]) {
            *o = relu1(v);
        }
    });
    Ok(())
}

/// x ← relu(x), in place.
pub fn relu_inplace(x: &mut [f32]) {
    let xp = SendPtr(x.as_mut_ptr());
    elementwise(x.len(), |a, b| {
        // SAFETY: [a, b) is this chunk's range, disjoint from other chunks', inside `x`.
        for v in unsafe { xp.slice(a, b - a) } {
            *v = relu1(*v);
        }
    });
}

/// dx ← dy · [y > 0], where y is the ReLU's output (PyTorch's `threshold_backward`).
pub fn relu_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) -> NnResult<()> {
    check_len("output gradient", dy.len(), y.len())?;
    check_len("input gradient", dx.len(), y.len())?;
    let dp = SendPtr(dx.as_mut_ptr());
    elementwise(y.len(), |a, b| {
        // SAFETY: as in relu_forward.
        let d = unsafe { dp.slice(a, b - a) };
        for ((o, &g), &v) in d.iter_mut().zip(&dy[a..b]).zip(&y[a..b]) {
            *o = if v > 0.0 { g } else { 0.0 };
        }
    });
    Ok(())
}

/// dy ← dy · [y > 0], in place.
pub fn relu_backward_inplace(y: &[f32], dy: &mut [f32]) -> NnResult<()> {
    check_len("output gradient", dy.len(), y.len())?;
    let dp = SendPtr(dy.as_mut_ptr());
    elementwise(y.len(), |a, b| {
        // SAFETY: as in relu_forward.
        let d = unsafe { dp.slice(a, b - a) };
        for (o, &v) in d.iter_mut().zip(&y[a..b]) {
            *o = if v > 0.0 { *o } else { 0.0 };
        }
    });
    Ok(())
}

/// A uniform number in [0, 1) from (seed, index): SplitMix64's finaliser over a Weyl sequence.
#[inline(always)]
fn uniform(seed: u64, i: u64) -> f32 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
}

/// y ← x · m and mask ← m, with m = [u ≥ p] / (1 − p) (all zero when p = 1).
pub fn dropout_forward(x: &[f32], y: &mut [f32], mask: &mut [f32], p: f64, seed: u64) -> NnResult<()> {
    if !(0.0..=1.0).contains(&p) {
        return range(format!("expected p to be in [0, 1], received {p}"));
    }
    check_len("output", y.len(), x.len())?;
    check_len("mask", mask.len(), x.len())?;
    let scale = if p >= 1.0 { 0.0 } else { (1.0 / (1.0 - p)) as f32 };
    let pf = p as f32;
    let (yp, mp) = (SendPtr(y.as_mut_ptr()), SendPtr(mask.as_mut_ptr()));
    par_for(x.len().div_ceil(CHUNK), x.len() * 8, |c| {
        let a = c * CHUNK;
        let b = (a + CHUNK).min(x.len());
        // SAFETY: as in relu_forward, for both outputs.
        let (yo, mo) = unsafe { (yp.slice(a, b - a), mp.slice(a, b - a)) };
        for (j, ((o, m), &v)) in yo.iter_mut().zip(mo.iter_mut()).zip(&x[a..b]).enumerate() {
            let keep = uniform(seed, (a + j) as u64) >= pf;
            *m = if keep { scale } else { 0.0 };
            *o = v * *m;
        }
    });
    Ok(())
}

/// dx ← dy · mask.
pub fn dropout_backward(dy: &[f32], mask: &[f32], dx: &mut [f32]) -> NnResult<()> {
    check_len("mask", mask.len(), dy.len())?;
    check_len("input gradient", dx.len(), dy.len())?;
    let dp = SendPtr(dx.as_mut_ptr());
    elementwise(dy.len(), |a, b| {
        // SAFETY: as in relu_forward.
        let d = unsafe { dp.slice(a, b - a) };
        for ((o, &g), &m) in d.iter_mut().zip(&dy[a..b]).zip(&mask[a..b]) {
            *o = g * m;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::testing::vec;

    #[test]
    fn relu_forward_and_backward() {
        for n in [0, 1, 7, 8, 9, 17, 65, 1025, 100_003] {
            let x = vec(1, n);
            let dy = vec(2, n);
            let mut y = vec![0f32; n];
            relu_forward(&x, &mut y).unwrap();
            let mut x2 = x.clone();
            relu_inplace(&mut x2);
            assert_eq!(y, x2);
            let mut dx = vec![0f32; n];
            relu_backward(&y, &dy, &mut dx).unwrap();
            let mut dy2 = dy.clone();
            relu_backward_inplace(&y, &mut dy2).unwrap();
            assert_eq!(dx, dy2);
            for i in 0..n {
                assert_eq!(y[i], x[i].max(0.0));
                assert_eq!(dx[i], if x[i] > 0.0 { dy[i] } else { 0.0 });
            }
        }
        let mut y = [0f32; 1];
        relu_forward(&[f32::NAN], &mut y).unwrap();
        assert!(y[0].is_nan());
    }

    #[test]
    fn dropout_keeps_about_one_minus_p_and_scales() {
        let n = 200_000;
        let x = vec![1f32; n];
        let (mut y, mut m) = (vec![0f32; n], vec![0f32; n]);
        dropout_forward(&x, &mut y, &mut m, 0.3, 42).unwrap();
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
        assert!((kept - 0.7).abs() < 0.01, "kept {kept}");
        assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        let mut y2 = vec![0f32; n];
        dropout_forward(&x, &mut y2, &mut m, 0.3, 42).unwrap();
        assert_eq!(y, y2);
        dropout_forward(&x, &mut y2, &mut m, 0.3, 43).unwrap();
        assert_ne!(y, y2);
        let mut dx = vec![0f32; n];
        dropout_backward(&x, &m, &mut dx).unwrap();
        assert_eq!(dx, y2);
        dropout_forward(&x, &mut y2, &mut m, 1.0, 1).unwrap();
        assert!(y2.iter().all(|&v| v == 0.0));
        dropout_forward(&x, &mut y2, &mut m, 0.0, 1).unwrap();
        assert_eq!(y2, x);
        assert!(dropout_forward(&x, &mut y2, &mut m, 1.5, 1).is_err());
    }
}
