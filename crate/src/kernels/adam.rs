//! Adam and AdamW (PyTorch `torch/optim/adam.py`, `_single_tensor_adam`).
//!
//! ```text
//! g ← −g if maximize
//! g ← g + λθ                    (Adam, coupled L2)      θ ← θ(1 − γλ)   (AdamW, decoupled)
//! m ← lerp(m, g, 1 − β1)        (PyTorch's exp_avg.lerp_)
//! v ← β2·v + (1 − β2)·g·g
//! v̂ ← max(v̂, v) if amsgrad, else v
//! θ ← θ − (γ / (1 − β1ᵗ)) · m / (√v̂ / √(1 − β2ᵗ) + ε)
//! ```

use super::AdamMoments;
use crate::driver::{Block, Elementwise};
use crate::engine::{Rule, TensorPtrs};
use crate::simd::{self, SqLanes, A64, LANES};

rule_signature! {
    /// Adam and AdamW.
    Adam {
        hyper AdamHyper { lr, beta1, beta2, eps, weight_decay, amsgrad: bool, maximize: bool, decoupled: bool }
        slots [exp_avg, exp_avg_sq, max_exp_avg_sq] // max_exp_avg_sq with amsgrad only
    }
}

#[derive(Clone, Copy, Debug)]
pub struct AdamScalars {
    mom: AdamMoments,
    bc2_sqrt: f32,
    /// 1/√(1 − β2ᵗ) for `simd::div_by_scalar`, when the divisor is in its range.
    bc2_sqrt_recip: Option<f32>,
    eps: f32,
    neg_step_size: f32,
    amsgrad: bool,
}

impl Rule for Adam {
    type Scalars = AdamScalars;

    fn slots_needed(h: &AdamHyper) -> u32 {
        if h.amsgrad {
            0b111
        } else {
            0b011
        }
    }

    fn scalars(h: &AdamHyper, step: f64, _fresh: u32) -> AdamScalars {
        let bc1 = 1.0 - h.beta1.powf(step);
        let bc2 = 1.0 - h.beta2.powf(step);
        AdamScalars {
            mom: AdamMoments::new(h.lr, h.beta1, h.beta2, h.weight_decay, h.decoupled, h.maximize),
            bc2_sqrt: bc2.sqrt() as f32,
            bc2_sqrt_recip: simd::scalar_reciprocal(bc2.sqrt() as f32),
            eps: h.eps as f32,
            neg_step_size: (-(h.lr / bc1)) as f32,
            amsgrad: h.amsgrad,
        }
    }

    unsafe fn apply(s: &AdamScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(AdamElem[s.amsgrad, s.mom.coupled, s.mom.lerp_small](s, t, a, b, sq))
    }
}

/// The new moments (m, v) from that gradient, and √v̂ (v̂ = max(v̂, v) updated in place when AMS).
#[inline(always)]
fn adam_moments<const AMS: bool, const SMALL: bool>(g: f32, m: f32, v: f32, vmax: &mut f32, s: &AdamScalars) -> (f32, f32, f32) {
    let (m, v) = (s.mom.first::<SMALL>(m, g), s.mom.second(v, g));
    let vh = if AMS {
        let x = if *vmax >= v { *vmax } else { v }; // v̂ ← max(v̂, v)
        *vmax = x;
        x
    } else {
        v
    };
    (m, v, vh.sqrt())
}

/// The new θ from the new m and q = √v̂ / √(1 − β2ᵗ).
#[inline(always)]
fn adam_param(p: f32, m: f32, q: f32, s: &AdamScalars) -> f32 {
    let p = p * s.mom.decay; // θ ← θ(1 − γλ)
    let denom = q + s.eps; // √v̂ / √(1 − β2ᵗ) + ε
    p + (s.neg_step_size * m) / denom // θ ← θ − (γ / (1 − β1ᵗ)) · m / denom
}

/// Adam's element, compiled per combination of amsgrad, coupled decay and lerp form.
struct AdamElem<const AMS: bool, const CWD: bool, const SMALL: bool>;

impl<const AMS: bool, const CWD: bool, const SMALL: bool> Elementwise<3> for AdamElem<AMS, CWD, SMALL> {
    type Scalars = AdamScalars;
    const USES: [bool; 3] = [true, true, AMS];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &AdamScalars, p: &mut f32, g: f32, [m, v, vmax]: [&mut f32; 3]) {
        let g = s.mom.grad::<CWD>(*p, g); // g ← −g if maximize; g ← g + λθ
        let x;
        (*m, *v, x) = adam_moments::<AMS, SMALL>(g, *m, *v, vmax, s);
        *p = adam_param(*p, *m, x / s.bc2_sqrt, s);
    }

    /// With FMA, `√v̂ / √(1 − β2ᵗ)` by `simd::div_by_scalar` (the same bits): one divide per
    /// element instead of two.
    #[inline(always)]
    fn by_blocks(s: &AdamScalars) -> Option<f32> {
        s.bc2_sqrt_recip
    }

    /// Moments and √v̂ of the block first, then its division, then θ.
    #[inline(always)]
    fn block(b: Block<'_, AdamScalars, 3>) {
        let Block { s, y, p, g, st: [m, v, vmax] } = b;
        let len = p.len();
        let (mut mb, mut xb, mut q) = (A64([0.0; LANES]), A64([0.0; LANES]), A64([0.0; LANES]));
        let mut unused = 0.0;
        for j in 0..len {
            let gj = s.mom.grad::<CWD>(p[j], g[j]);
            let vm = if AMS { &mut vmax[j] } else { &mut unused };
            let vj;
            (mb[j], vj, xb[j]) = adam_moments::<AMS, SMALL>(gj, m[j], v[j], vm, s);
            (m[j], v[j]) = (mb[j], vj);
        }
        simd::div_by_scalar(&xb.0, len, s.bc2_sqrt, y, &mut q.0);
        for j in 0..len {
            p[j] = adam_param(p[j], mb[j], q[j], s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::*;

    /// PyTorch's `_single_tensor_adam` transcribed line by line, on scalars.
    fn reference(h: [f64; 8]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, t| {
            let [lr, b1, b2, eps, wd, ams, max, dec] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()]; 3];
            }
            let step = t as f64;
            let bc1 = 1.0 - b1.powf(step);
            let bc2 = 1.0 - b2.powf(step);
            for i in 0..p.len() {
                let [m, v] = st.get_disjoint_mut([0, 1]).unwrap();
                adam_moments_ref(&mut p[i], g[i], &mut m[i], &mut v[i], [lr, b1, b2, wd], dec != 0.0, max != 0.0);
                let v = if ams != 0.0 {
                    st[2][i] = st[2][i].max(st[1][i]);
                    st[2][i]
                } else {
                    st[1][i]
                };
                let denom = v.sqrt() / (bc2.sqrt() as f32) + eps as f32;
                p[i] += (-(lr / bc1)) as f32 * st[0][i] / denom;
            }
        }
    }

    const CONFIGS: &[[f64; 8]] = &[
        [1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-8, 0.1, 0.0, 0.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-8, 0.1, 0.0, 0.0, 1.0],
        [3e-3, 0.8, 0.99, 1e-6, 0.01, 1.0, 1.0, 0.0],
        [3e-3, 0.8, 0.99, 1e-6, 0.5, 1.0, 0.0, 1.0],
        [2e-2, 0.0, 0.5, 1e-3, 0.0, 0.0, 1.0, 1.0],
    ];

    #[test]
    fn adam_matches_the_scalar_transcription_of_pytorch_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Adam>(h, reference(*h));
        }
    }

    #[test]
    fn adam_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Adam>(h);
        }
    }

    #[test]
    fn adamw_with_zero_weight_decay_equals_adam() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let a = run::<Adam>(&[1e-2, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.0, 0.0], 4, 3);
        let w = run::<Adam>(&[1e-2, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.0, 1.0], 4, 3);
        assert_eq!(a, w);
    }

    #[test]
    fn zero_learning_rate_changes_nothing() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Adam>(&[0.0, 0.9, 0.999, 1e-8, 0.1, 1.0, 0.0, 1.0], 3, 5);
        assert_eq!(p, init(LENS, 5));
    }
}
