//! Gradient clipping and norms (PyTorch `torch/nn/utils/clip_grad.py`).
//!
//! ```text
//! ‖g_i‖_p  = (Σ_j |g_ij|^p)^(1/p)          (p = ∞: max_j |g_ij|)
//! total    = ‖(‖g_1‖_p, …, ‖g_n‖_p)‖_p
//! coef     = min(max_norm / (total + 1e-6), 1)  (float32, as PyTorch)
//! g        ← coef · g                           (only when coef < 1)
//! clip by value: g ← clamp(g, −c, c)
//! ```
//! Norms accumulate in f64 per fixed chunk and combine in index order, so they are identical for
//! any thread count and SIMD level.

use crate::engine::TensorPtrs;
use crate::simd::{self, Simd};

/// Which p-norm: the common ones get their own loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NormType {
    One,
    Two,
    Inf,
    P(f64),
}

impl NormType {
    pub fn from_f64(p: f64) -> NormType {
        if p == 1.0 {
            NormType::One
        } else if p == 2.0 {
            NormType::Two
        } else if p == f64::INFINITY {
            NormType::Inf
        } else {
            NormType::P(p)
        }
    }
}

struct PieceNorm<'a>(&'a [f32], NormType, &'a mut f64);

impl Simd for PieceNorm<'_> {
    #[inline(always)]
    fn run(self) {
        let x = self.0;
        *self.2 = match self.1 {
            NormType::Two => unreachable!("the 2-norm takes simd::sum_squares"),
            NormType::One => {
                let mut acc = [0.0f64; 8];
                let mut it = x.chunks_exact(8);
                for c in &mut it {
                    for j in 0..8 {
                        acc[j] += (c[j] as f64).abs();
                    }
                }
                for (j, &v) in it.remainder().iter().enumerate() {
                    acc[j] += (v as f64).abs();
                }
                ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
            }
            // max is exact, so any order gives the same bits; NaN wins, as in PyTorch.
            NormType::Inf => x.iter().fold(0.0f64, |m, &v| {
                let a = (v as f64).abs();
                if a > m || a.is_nan() || m.is_nan() {
                    if m.is_nan() {
                        m
                    } else {
                        a
                    }
                } else {
                    m
                }
            }),
            NormType::P(p) => x.iter().fold(0.0, |a, &v| a + (v as f64).abs().powf(p)),
        };
    }
}

/// The per-piece partial of a p-norm (Σ|x|^p, or max|x| for ∞).
pub fn piece_partial(x: &[f32], p: NormType) -> f64 {
    if p == NormType::Two {
        return simd::sum_squares(x);
    }
    let mut r = 0.0;
    simd::dispatch(PieceNorm(x, p, &mut r));
    r
}

/// Turns a tensor's combined partial into its norm.
pub fn finish_norm(partial: f64, p: NormType) -> f64 {
    match p {
        NormType::One | NormType::Inf => partial,
        NormType::Two => partial.sqrt(),
        NormType::P(p) => partial.powf(1.0 / p),
    }
}

/// Combines per-tensor norms into the total norm (norm of the norms).
pub fn total_norm(norms: &[f64], p: NormType) -> f64 {
    match p {
        NormType::Inf => norms.iter().fold(0.0f64, |m, &n| if n > m || n.is_nan() { n } else { m }),
        // fold from +0: f64's Sum starts at -0, and no gradient must give PyTorch's 0.
        NormType::One => norms.iter().fold(0.0, |a, n| a + n),
        NormType::Two => norms.iter().fold(0.0, |a, n| a + n * n).sqrt(),
        NormType::P(p) => norms.iter().fold(0.0, |a, n| a + n.powf(p)).powf(1.0 / p),
    }
}

/// PyTorch's clip coefficient, in float32 like its tensors: min(max_norm / (total + 1e-6), 1).
pub fn clip_coef(max_norm: f64, total: f64) -> f32 {
    let c = max_norm as f32 / (total as f32 + 1e-6f32);
    if c < 1.0 {
        c
    } else if c.is_nan() {
        f32::NAN
    } else {
        1.0
    }
}

struct Scale<'a>(&'a mut [f32], f32);
impl Simd for Scale<'_> {
    #[inline(always)]
    fn run(self) {
        let (x, c) = (self.0, self.1);
        // SAFETY: `each_plain` passes i < x.len().
        simd::each_plain(x.len(), simd::Ahead::of([&*x]), |i| unsafe { *x.get_unchecked_mut(i) *= c });
    }
}

struct Clamp<'a>(&'a mut [f32], f32);
impl Simd for Clamp<'_> {
    #[inline(always)]
    fn run(self) {
        let (x, c) = (self.0, self.1);
        // SAFETY: `each_plain` passes i < x.len().
        simd::each_plain(x.len(), simd::Ahead::of([&*x]), |i| unsafe {
            // NaN stays NaN, as torch.clamp.
            let x = x.get_unchecked_mut(i);
            let v = *x;
            *x = if v > c {
                c
            } else if v < -c {
                -c
            } else {
                v
            };
        });
    }
}

/// g ← coef·g over elements `[a, b)` of a tensor whose `param` pointer is the gradient.
///
/// # Safety
/// `a <= b <= t.len` and no one else touches the range during the call.
pub unsafe fn scale(t: &TensorPtrs, a: usize, b: usize, coef: f32) {
    simd::dispatch(Scale(t.param(a, b), coef));
}

/// g ← clamp(g, −c, c) over elements `[a, b)` (same contract as [`scale`]).
///
/// # Safety
/// As [`scale`].
pub unsafe fn clamp(t: &TensorPtrs, a: usize, b: usize, c: f32) {
    simd::dispatch(Clamp(t.param(a, b), c));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_match_a_direct_computation() {
        let x: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) * 0.01).collect();
        let direct2: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt();
        assert!((finish_norm(piece_partial(&x, NormType::Two), NormType::Two) - direct2).abs() < 1e-12);
        assert_eq!(piece_partial(&x, NormType::Inf), 5.0);
        let p3: f64 = x.iter().map(|&v| (v as f64).abs().powi(3)).sum::<f64>().powf(1.0 / 3.0);
        assert!((finish_norm(piece_partial(&x, NormType::P(3.0)), NormType::P(3.0)) - p3).abs() < 1e-9);
        assert!(piece_partial(&[1.0, f32::NAN, 2.0], NormType::Inf).is_nan());
        assert_eq!(total_norm(&[], NormType::Two).to_bits(), 0.0f64.to_bits());
        assert_eq!(total_norm(&[3.0, 9.0, 1.0], NormType::Inf), 9.0);
    }

    #[test]
    fn the_clip_coefficient_is_pytorchs() {
        assert_eq!(clip_coef(1.0, 0.5), 1.0);
        assert_eq!(clip_coef(1.0, 4.0), 1.0f32 / (4.0f32 + 1e-6));
        assert!(clip_coef(1.0, f64::NAN).is_nan());
        assert_eq!(clip_coef(1.0, f64::INFINITY), 0.0);
    }
}
