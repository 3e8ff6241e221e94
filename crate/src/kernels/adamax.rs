//! Adamax, Adam with the infinity norm, with coupled weight decay (PyTorch
//! `torch/optim/adamax.py`, `_single_tensor_adamax`).
//!
//! ```text
//! g ← −g if maximize
//! g ← g + λθ                    (when λ ≠ 0)
//! m ← lerp(m, g, 1 − β1)        (PyTorch's exp_avg.lerp_)
//! u ← max(β2·u, |g| + ε)        (ε inside the max, not in the denominator; NaN propagates)
//! θ ← θ − ((γ / (1 − β1ᵗ))·m) / u
//! ```

use super::AdamMoments;
use crate::driver::Elementwise;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::SqLanes;

rule_signature! {
    /// Adamax.
    Adamax {
        hyper AdamaxHyper { lr, beta1, beta2, eps, weight_decay, maximize: bool }
        slots [exp_avg, exp_inf]
    }
}

#[derive(Clone, Copy, Debug)]
pub struct AdamaxScalars {
    /// The gradient and m as Adam's (Adamax's weight decay is always coupled).
    mom: AdamMoments,
    eps: f32,
    /// −γ / (1 − β1ᵗ)
    neg_clr: f32,
}

impl Rule for Adamax {
    type Scalars = AdamaxScalars;

    fn slots_needed(_h: &AdamaxHyper) -> u32 {
        0b11
    }

    fn scalars(h: &AdamaxHyper, step: f64, _fresh: u32) -> AdamaxScalars {
        let clr = h.lr / (1.0 - h.beta1.powf(step));
        AdamaxScalars {
            mom: AdamMoments::new(h.lr, h.beta1, h.beta2, h.weight_decay, false, h.maximize),
            eps: h.eps as f32,
            neg_clr: (-clr) as f32,
        }
    }

    unsafe fn apply(s: &AdamaxScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(AdamaxElem[s.mom.coupled, s.mom.lerp_small](s, t, a, b, sq))
    }
}

/// One element: returns the new (θ, m, u).
#[inline(always)]
fn adamax_elem<const WD: bool, const SMALL: bool>(p: f32, g: f32, m: f32, u: f32, s: &AdamaxScalars) -> (f32, f32, f32) {
    let g = s.mom.grad::<WD>(p, g); // g ← −g if maximize; g ← g + λθ
    let m = s.mom.first::<SMALL>(m, g); // m ← lerp(m, g, 1 − β1)
                                        // u ← max(β2·u, |g| + ε), NaN if either is (torch.maximum)
    let (x, y) = (u * s.mom.b2, g.abs() + s.eps);
    let u = if x > y || x.is_nan() { x } else { y };
    (p + (s.neg_clr * m) / u, m, u) // θ ← θ − (γ/(1 − β1ᵗ))·m / u
}

/// Adamax's element, compiled per weight decay and lerp form.
struct AdamaxElem<const WD: bool, const SMALL: bool>;

impl<const WD: bool, const SMALL: bool> Elementwise<2> for AdamaxElem<WD, SMALL> {
    type Scalars = AdamaxScalars;
    const USES: [bool; 2] = [true, true];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &AdamaxScalars, p: &mut f32, g: f32, [m, u]: [&mut f32; 2]) {
        (*p, *m, *u) = adamax_elem::<WD, SMALL>(*p, g, *m, *u, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::step_vecs;
    use crate::engine::Engine;
    use crate::kernels::test_util::*;

    /// `torch.maximum`: NaN if either argument is.
    fn maximum(a: f32, b: f32) -> f32 {
        if a.is_nan() || b.is_nan() {
            f32::NAN
        } else {
            a.max(b)
        }
    }

    /// PyTorch's `_single_tensor_adamax` transcribed line by line, on scalars.
    fn reference(h: [f64; 6]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, t| {
            let [lr, b1, b2, eps, wd, max] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()]; 2];
            }
            let w = (1.0 - b1) as f32;
            let bias_correction = 1.0 - b1.powf(t as f64);
            let clr = lr / bias_correction;
            for i in 0..p.len() {
                let mut gi = if max != 0.0 { -g[i] } else { g[i] };
                if wd != 0.0 {
                    gi += wd as f32 * p[i];
                }
                let m = st[0][i];
                st[0][i] = if w.abs() < 0.5 { m + w * (gi - m) } else { gi - (gi - m) * (1.0 - w) };
                st[1][i] = maximum(st[1][i] * b2 as f32, gi.abs() + eps as f32);
                p[i] += (-clr) as f32 * st[0][i] / st[1][i];
            }
        }
    }

    const CONFIGS: &[[f64; 6]] = &[
        [2e-3, 0.9, 0.999, 1e-8, 0.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-8, 0.1, 0.0],
        [3e-3, 0.8, 0.9, 1e-6, 0.0, 1.0],
        [3e-3, 0.3, 0.5, 1e-3, 0.5, 1.0],
        [2e-2, 0.0, 0.0, 0.1, 0.0, 0.0],
    ];

    #[test]
    fn adamax_matches_the_scalar_transcription_of_pytorch_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Adamax>(h, reference(*h));
        }
    }

    #[test]
    fn adamax_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Adamax>(h);
        }
    }

    #[test]
    fn a_nan_in_either_side_of_the_max_propagates_as_torch_maximum_does() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let h = CONFIGS[0];
        let mut e = Engine::<Adamax>::new();
        e.add_params(&[2]);
        let mut p = vec![vec![1.0f32, 1.0]];
        step_vecs(&mut e, &mut p, &mut [vec![f32::NAN, 0.5]], &h).unwrap();
        let u = e.states[0].slots[1].as_ref().unwrap().clone();
        assert!(u[0].is_nan() && u[1] == 0.5 + 1e-8);
        // exp_inf is NaN and the new gradient finite: the max stays NaN.
        step_vecs(&mut e, &mut p, &mut [vec![0.5, 0.5]], &h).unwrap();
        assert!(e.states[0].slots[1].as_ref().unwrap()[0].is_nan());
    }

    #[test]
    fn zero_learning_rate_changes_nothing() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Adamax>(&[0.0, 0.9, 0.999, 1e-8, 0.1, 1.0], 3, 5);
        assert_eq!(p, init(LENS, 5));
    }
}
