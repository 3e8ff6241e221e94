//! RAdam, rectified Adam, with coupled or decoupled weight decay (PyTorch `torch/optim/radam.py`,
//! `_single_tensor_radam`).
//!
//! ```text
//! g ← −g if maximize
//! g ← g + λθ                    (coupled)               θ ← θ(1 − γλ)   (decoupled)
//! m ← lerp(m, g, 1 − β1)        (PyTorch's exp_avg.lerp_)
//! v ← β2·v + ((1 − β2)·g)·g
//! ρ∞ ← 2/(1 − β2) − 1;  ρₜ ← ρ∞ − 2t·β2ᵗ/(1 − β2ᵗ)               (per tensor, in f64)
//! r ← √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))               (per tensor, in f64)
//! θ ← θ − ((m/(1 − β1ᵗ))·γ · (1/(√v + ε))·√(1 − β2ᵗ)) · r       when ρₜ > 5
//! θ ← θ − (m/(1 − β1ᵗ))·γ                                        otherwise (momentum SGD)
//! ```
//! ε is added to √v before the bias correction (unlike Adam), and `1/(√v + ε)` is a reciprocal
//! then a product because PyTorch computes `float / tensor` as `tensor.reciprocal() * float`.

use super::AdamMoments;
use crate::driver::Elementwise;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::SqLanes;

rule_signature! {
    /// RAdam.
    Radam {
        hyper RadamHyper { lr, beta1, beta2, eps, weight_decay, decoupled: bool, maximize: bool }
        slots [exp_avg, exp_avg_sq]
    }
}

#[derive(Clone, Copy, Debug)]
pub struct RadamScalars {
    mom: AdamMoments,
    bc1: f32,
    lr: f32,
    eps: f32,
    bc2_sqrt: f32,
    rect: f32,
    rectified: bool,
}

/// ρₜ and the rectification term r of step `step` (r is meaningful only when ρₜ > 5).
pub fn rectification(beta2: f64, step: f64) -> (f64, f64) {
    let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    let rho_t = rho_inf - 2.0 * step * beta2.powf(step) / (1.0 - beta2.powf(step));
    let r = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).powf(0.5);
    (rho_t, r)
}

impl Rule for Radam {
    type Scalars = RadamScalars;

    fn slots_needed(_h: &RadamHyper) -> u32 {
        0b11
    }

    fn scalars(h: &RadamHyper, step: f64, _fresh: u32) -> RadamScalars {
        let bc1 = 1.0 - h.beta1.powf(step);
        let bc2 = 1.0 - h.beta2.powf(step);
        let (rho_t, rect) = rectification(h.beta2, step);
        RadamScalars {
            mom: AdamMoments::new(h.lr, h.beta1, h.beta2, h.weight_decay, h.decoupled, h.maximize),
            bc1: bc1 as f32,
            lr: h.lr as f32,
            eps: h.eps as f32,
            bc2_sqrt: bc2.powf(0.5) as f32,
            rect: rect as f32,
            rectified: rho_t > 5.0,
        }
    }

    unsafe fn apply(s: &RadamScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(RadamElem[s.rectified, s.mom.coupled, s.mom.lerp_small](s, t, a, b, sq))
    }
}

/// One element: returns the new (θ, m, v).
#[inline(always)]
fn radam_elem<const RECT: bool, const CWD: bool, const SMALL: bool>(p: f32, g: f32, m: f32, v: f32, s: &RadamScalars) -> (f32, f32, f32) {
    let g = s.mom.grad::<CWD>(p, g); // g ← −g if maximize; g ← g + λθ
    let p = p * s.mom.decay; // θ ← θ(1 − γλ)
    let (m, v) = (s.mom.first::<SMALL>(m, g), s.mom.second(v, g)); // m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²
    let u = (m / s.bc1) * s.lr; // (m / (1 − β1ᵗ))·γ
    if RECT {
        let l = (1.0 / (v.sqrt() + s.eps)) * s.bc2_sqrt; // √(1 − β2ᵗ) / (√v + ε)
        (p - (u * l) * s.rect, m, v) // θ ← θ − m̂·γ·l·r
    } else {
        (p - u, m, v) // θ ← θ − m̂·γ
    }
}

/// RAdam's element, compiled per rectification, coupled decay and lerp form.
struct RadamElem<const RECT: bool, const CWD: bool, const SMALL: bool>;

impl<const RECT: bool, const CWD: bool, const SMALL: bool> Elementwise<2> for RadamElem<RECT, CWD, SMALL> {
    type Scalars = RadamScalars;
    const USES: [bool; 2] = [true, true];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &RadamScalars, p: &mut f32, g: f32, [m, v]: [&mut f32; 2]) {
        (*p, *m, *v) = radam_elem::<RECT, CWD, SMALL>(*p, g, *m, *v, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::*;

    /// PyTorch's `_single_tensor_radam` transcribed line by line, on scalars.
    #[allow(clippy::neg_multiply)] // `alpha=-1.0` / `value=-1` kept as written in PyTorch
    fn reference(h: [f64; 7]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, t| {
            let [lr, b1, b2, eps, wd, dec, max] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()]; 2];
            }
            let step = t as f64;
            let bc1 = 1.0 - b1.powf(step);
            let bc2 = 1.0 - b2.powf(step);
            let rho_inf = 2.0 / (1.0 - b2) - 1.0;
            let rho_t = rho_inf - 2.0 * step * b2.powf(step) / bc2;
            for i in 0..p.len() {
                let [m, v] = st.get_disjoint_mut([0, 1]).unwrap();
                adam_moments_ref(&mut p[i], g[i], &mut m[i], &mut v[i], [lr, b1, b2, wd], dec != 0.0, max != 0.0);
                let bias_corrected_exp_avg = st[0][i] / bc1 as f32;
                if rho_t > 5.0 {
                    let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).powf(0.5);
                    let adaptive_lr = (1.0 / (st[1][i].sqrt() + eps as f32)) * bc2.powf(0.5) as f32;
                    p[i] += -1.0 * (bias_corrected_exp_avg * lr as f32 * adaptive_lr * rect as f32);
                } else {
                    p[i] += -1.0 * (bias_corrected_exp_avg * lr as f32);
                }
            }
        }
    }

    const CONFIGS: &[[f64; 7]] = &[
        [1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-8, 0.1, 0.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-8, 0.1, 1.0, 0.0],
        [3e-3, 0.8, 0.9, 1e-6, 0.01, 0.0, 1.0],
        [3e-3, 0.8, 0.5, 1e-6, 0.5, 1.0, 1.0],
        [2e-2, 0.0, 0.7, 1e-3, 0.0, 0.0, 1.0],
    ];

    #[test]
    fn radam_matches_the_scalar_transcription_of_pytorch_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Radam>(h, reference(*h));
        }
    }

    #[test]
    fn radam_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Radam>(h);
        }
    }

    #[test]
    fn rectification_starts_at_step_6_with_the_default_beta2() {
        let steps: Vec<bool> = (1..=8).map(|t| rectification(0.999, t as f64).0 > 5.0).collect();
        assert_eq!(steps, [false, false, false, false, false, true, true, true]);
    }

    #[test]
    fn zero_learning_rate_changes_nothing() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Radam>(&[0.0, 0.9, 0.9, 1e-8, 0.1, 1.0, 1.0], 8, 5);
        assert_eq!(p, init(LENS, 5));
    }
}
