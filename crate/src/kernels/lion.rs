//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"; lion-pytorch
//! `update_fn`).
//!
//! ```text
//! θ ← θ·(1 − γλ)                       (decoupled weight decay)
//! c ← β1·m + (1 − β1)·g                (interpolation used for the update)
//! θ ← θ − γ·sign(c)                    (sign(0) = sign(NaN) = 0, as torch.sign)
//! m ← β2·m + (1 − β2)·g                (the momentum is updated after, with β2)
//! ```
//!
//! torch computes `x.mul_(β).add_(g, alpha=1 − β)` as one fused multiply-add after the product
//! `x·β` is rounded (ATen's vectorised `add` with alpha). Because `sign` is discontinuous, a
//! rounding difference in `c` near 0 would move an element by 2γ, so both interpolations are
//! fused multiply-adds here too: `f32::mul_add` at the levels with FMA, and the exact emulation
//! [`simd::fma_f32_soft`] at the baseline level, so every level computes the same bits.

use crate::driver::Elementwise;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::{self, SqLanes};

rule_signature! {
    /// Lion.
    Lion {
        hyper LionHyper { lr, beta1, beta2, weight_decay }
        slots [exp_avg]
    }
}

#[derive(Clone, Copy, Debug)]
pub struct LionScalars {
    /// 1 − γλ (exactly 1 without weight decay).
    decay: f32,
    b1: f32,
    c1: f32,
    b2: f32,
    c2: f32,
    neg_lr: f32,
}

impl Rule for Lion {
    type Scalars = LionScalars;

    fn slots_needed(_h: &LionHyper) -> u32 {
        0b1
    }

    fn scalars(h: &LionHyper, _step: f64, _fresh: u32) -> LionScalars {
        let (lr, b1, b2) = (h.lr, h.beta1, h.beta2);
        LionScalars {
            decay: (1.0 - lr * h.weight_decay) as f32,
            b1: b1 as f32,
            // torch converts `alpha = 1 − β` to the tensor's precision first.
            c1: (1.0 - b1) as f32,
            b2: b2 as f32,
            c2: (1.0 - b2) as f32,
            neg_lr: (-lr) as f32,
        }
    }

    unsafe fn apply(s: &LionScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(LionElem[](s, t, a, b, sq))
    }
}

/// `g·c + x` rounded once: the hardware instruction when `FMA`, else its exact emulation.
#[inline(always)]
fn fmadd<const FMA: bool>(g: f32, c: f32, x: f32) -> f32 {
    if FMA {
        g.mul_add(c, x)
    } else {
        simd::fma_f32_soft(g, c, x)
    }
}

/// One element: returns the new (θ, m).
#[inline(always)]
fn lion_elem<const FMA: bool>(p: f32, g: f32, m: f32, s: &LionScalars) -> (f32, f32) {
    let p = p * s.decay; // θ ← θ·(1 − γλ)
    let c = fmadd::<FMA>(g, s.c1, m * s.b1); // c ← β1·m + (1 − β1)·g
    let sign = if c > 0.0 {
        1.0
    } else if c < 0.0 {
        -1.0
    } else {
        0.0
    };
    let p = p + s.neg_lr * sign; // θ ← θ − γ·sign(c)
    let m = fmadd::<FMA>(g, s.c2, m * s.b2); // m ← β2·m + (1 − β2)·g
    (p, m)
}

/// Lion's element.
struct LionElem;

impl Elementwise<1> for LionElem {
    type Scalars = LionScalars;
    const USES: [bool; 1] = [true];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &LionScalars, p: &mut f32, g: f32, [m]: [&mut f32; 1]) {
        (*p, *m) = lion_elem::<FMA>(*p, g, *m, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Hyper;
    use crate::kernels::test_util::*;

    /// lion-pytorch's `update_fn` transcribed on scalars, with torch's fused `add_(x, alpha)`
    /// written as `f32::mul_add` (std's correctly rounded FMA, whatever the CPU).
    fn reference(h: [f64; 4]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, _t| {
            let [lr, b1, b2, wd] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()]];
            }
            let m = &mut st[0];
            for i in 0..p.len() {
                p[i] *= (1.0 - lr * wd) as f32;
                // update = (β1·m).add(g, alpha = 1 − β1).sgn_()
                let c = g[i].mul_add((1.0 - b1) as f32, m[i] * b1 as f32);
                let update: f32 = if c > 0.0 {
                    1.0
                } else if c < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                p[i] += (-lr) as f32 * update;
                m[i] = g[i].mul_add((1.0 - b2) as f32, m[i] * b2 as f32);
            }
        }
    }

    const CONFIGS: &[[f64; 4]] =
        &[[1e-4, 0.9, 0.99, 0.0], [1e-3, 0.9, 0.99, 0.1], [3e-4, 0.95, 0.98, 1.0], [1e-2, 0.0, 0.5, 0.01], [1e-3, 0.5, 0.999, 0.0]];

    #[test]
    fn lion_matches_the_scalar_transcription_of_lion_pytorch() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Lion>(h, reference(*h));
        }
    }

    #[test]
    fn lion_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Lion>(h);
        }
    }

    #[test]
    fn zero_learning_rate_changes_nothing() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Lion>(&[0.0, 0.9, 0.99, 0.5], 3, 5);
        assert_eq!(p, init(LENS, 5));
    }

    #[test]
    fn sign_of_zero_and_nan_is_zero() {
        let s = Lion::scalars(&LionHyper::parse(&[0.5, 0.9, 0.99, 0.0]), 1.0, 1);
        for fma in [false, true] {
            let elem = if fma { lion_elem::<true> } else { lion_elem::<false> };
            assert_eq!(elem(1.0, 0.0, 0.0, &s).0, 1.0);
            assert_eq!(elem(1.0, f32::NAN, 0.0, &s).0, 1.0);
            assert_eq!(elem(1.0, 2.0, 0.0, &s).0, 0.5);
            assert_eq!(elem(1.0, -2.0, 0.0, &s).0, 1.5);
        }
    }
}
