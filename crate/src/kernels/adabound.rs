//! AdaBound and AMSBound (Luo et al. 2019; torch-optimizer `torch_optimizer/adabound.py`).
//!
//! ```text
//! g ← g + λθ                                   (coupled L2, when λ ≠ 0)
//! m ← β1·m + (1 − β1)·g
//! v ← β2·v + (1 − β2)·g·g
//! v̂ ← max(v̂, v) if amsbound, else v
//! η* ← γ·√(1 − β2ᵗ) / (1 − β1ᵗ)                 (per tensor, f64)
//! η_fin ← final_lr · γ / γ₀                    (γ₀ = the group's lr at construction: bounds follow schedulers)
//! lo ← η_fin·(1 − 1/(gamma·t + 1)),  hi ← η_fin·(1 + 1/(gamma·t))
//! η ← clamp(η* / (√v̂ + ε), lo, hi)             (element-wise; NaN stays NaN)
//! θ ← θ − η·m
//! ```
//!
//! With lr = 0 the bounds are 0 whatever `base_lr` is (the reference divides by `base_lr`, which
//! is 0 for a group created with lr 0), so lr = 0 leaves θ unchanged.

use crate::driver::Elementwise;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::SqLanes;

rule_signature! {
    /// AdaBound and AMSBound.
    AdaBound {
        hyper AdaBoundHyper { lr, beta1, beta2, final_lr, gamma, eps, weight_decay, amsbound: bool, base_lr }
        slots [exp_avg, exp_avg_sq, max_exp_avg_sq] // max_exp_avg_sq with amsbound only
    }
}

#[derive(Clone, Copy, Debug)]
pub struct AdaBoundScalars {
    wd: f32,
    b1: f32,
    c1: f32,
    b2: f32,
    c2: f32,
    eps: f32,
    step_size: f32,
    lower: f32,
    upper: f32,
    amsbound: bool,
    coupled: bool,
}

impl Rule for AdaBound {
    type Scalars = AdaBoundScalars;

    fn slots_needed(h: &AdaBoundHyper) -> u32 {
        if h.amsbound {
            0b111
        } else {
            0b011
        }
    }

    fn scalars(h: &AdaBoundHyper, step: f64, _fresh: u32) -> AdaBoundScalars {
        let (lr, b1, b2, gamma) = (h.lr, h.beta1, h.beta2, h.gamma);
        let bc1 = 1.0 - b1.powf(step);
        let bc2 = 1.0 - b2.powf(step);
        // In the reference's order: group['final_lr'] * group['lr'] / base_lr.
        let final_lr = if lr == 0.0 { 0.0 } else { h.final_lr * lr / h.base_lr };
        AdaBoundScalars {
            wd: h.weight_decay as f32,
            b1: b1 as f32,
            c1: (1.0 - b1) as f32,
            b2: b2 as f32,
            c2: (1.0 - b2) as f32,
            eps: h.eps as f32,
            step_size: (lr * bc2.sqrt() / bc1) as f32,
            lower: (final_lr * (1.0 - 1.0 / (gamma * step + 1.0))) as f32,
            upper: (final_lr * (1.0 + 1.0 / (gamma * step))) as f32,
            amsbound: h.amsbound,
            coupled: h.weight_decay != 0.0,
        }
    }

    unsafe fn apply(s: &AdaBoundScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(AdaBoundElem[s.amsbound, s.coupled](s, t, a, b, sq))
    }
}

/// One element: returns the new (θ, m, v); `vmax` is updated in place when AMS.
#[inline(always)]
fn adabound_elem<const AMS: bool, const CWD: bool>(p: f32, g: f32, m: f32, v: f32, vmax: &mut f32, s: &AdaBoundScalars) -> (f32, f32, f32) {
    let mut g = g;
    if CWD {
        g += s.wd * p; // g ← g + λθ
    }
    let m = m * s.b1 + s.c1 * g; // m ← β1·m + (1 − β1)·g
    let v = v * s.b2 + (s.c2 * g) * g; // v ← β2·v + (1 − β2)·g·g
    let vh = if AMS {
        let x = if *vmax >= v { *vmax } else { v }; // v̂ ← max(v̂, v)
        *vmax = x;
        x
    } else {
        v
    };
    let eta = s.step_size / (vh.sqrt() + s.eps); // η* / (√v̂ + ε)
    let eta = if eta < s.lower { s.lower } else { eta }; // clamp below (NaN passes)
    let eta = if eta > s.upper { s.upper } else { eta }; // clamp above (NaN passes)
    (p - eta * m, m, v) // θ ← θ − η·m
}

/// AdaBound's element, compiled per AMSBound and weight decay.
struct AdaBoundElem<const AMS: bool, const CWD: bool>;

impl<const AMS: bool, const CWD: bool> Elementwise<3> for AdaBoundElem<AMS, CWD> {
    type Scalars = AdaBoundScalars;
    const USES: [bool; 3] = [true, true, AMS];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &AdaBoundScalars, p: &mut f32, g: f32, [m, v, vmax]: [&mut f32; 3]) {
        (*p, *m, *v) = adabound_elem::<AMS, CWD>(*p, g, *m, *v, vmax, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Hyper;
    use crate::kernels::test_util::*;

    /// torch-optimizer's `AdaBound.step` transcribed line by line, on scalars.
    fn reference(h: [f64; 9]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, t| {
            let [lr, b1, b2, final_lr, gamma, eps, wd, ams, base_lr] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()]; 3];
            }
            let step = t as f64;
            let bias_correction1 = 1.0 - b1.powf(step);
            let bias_correction2 = 1.0 - b2.powf(step);
            let step_size = lr * bias_correction2.sqrt() / bias_correction1;
            let final_lr = final_lr * lr / base_lr;
            let lower_bound = final_lr * (1.0 - 1.0 / (gamma * step + 1.0));
            let upper_bound = final_lr * (1.0 + 1.0 / (gamma * step));
            for i in 0..p.len() {
                let mut gi = g[i];
                if wd != 0.0 {
                    gi += wd as f32 * p[i];
                }
                st[0][i] = st[0][i] * b1 as f32 + (1.0 - b1) as f32 * gi;
                st[1][i] = st[1][i] * b2 as f32 + (1.0 - b2) as f32 * gi * gi;
                let v = if ams != 0.0 {
                    st[2][i] = st[2][i].max(st[1][i]);
                    st[2][i]
                } else {
                    st[1][i]
                };
                let denom = v.sqrt() + eps as f32;
                let eta = (step_size as f32 / denom).clamp(lower_bound as f32, upper_bound as f32);
                p[i] -= eta * st[0][i];
            }
        }
    }

    const CONFIGS: &[[f64; 9]] = &[
        [1e-3, 0.9, 0.999, 0.1, 1e-3, 1e-8, 0.0, 0.0, 1e-3],
        [1e-2, 0.9, 0.999, 0.1, 0.1, 1e-8, 0.01, 0.0, 1e-2],
        [1e-2, 0.9, 0.999, 0.1, 1e-3, 1e-8, 0.0, 1.0, 1e-2],
        [1e-2, 0.8, 0.99, 0.05, 0.5, 1e-6, 0.1, 1.0, 1e-2],
        // A scheduler halved the lr: the bounds halve too.
        [5e-3, 0.9, 0.999, 0.1, 0.5, 1e-8, 0.0, 0.0, 1e-2],
        [3e-3, 0.0, 0.5, 1.0, 0.9, 1e-3, 0.01, 1.0, 1e-3],
    ];

    #[test]
    fn adabound_matches_the_scalar_transcription_of_torch_optimizer_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<AdaBound>(h, reference(*h));
        }
    }

    #[test]
    fn adabound_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<AdaBound>(h);
        }
    }

    #[test]
    fn zero_learning_rate_changes_nothing_even_for_a_group_created_with_lr_zero() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for base_lr in [0.0, 1e-3] {
            let p = run::<AdaBound>(&[0.0, 0.9, 0.999, 0.1, 1e-3, 1e-8, 0.1, 1.0, base_lr], 3, 5);
            assert_eq!(p, init(LENS, 5));
        }
    }

    #[test]
    fn the_bounds_clamp_the_step_size() {
        // Huge gamma: lower ≈ upper ≈ final_lr, so η = final_lr whatever v is.
        let h = AdaBoundHyper::parse(&[1e-3, 0.9, 0.999, 0.1, 0.999, 1e-8, 0.0, 0.0, 1e-3]);
        let s = AdaBound::scalars(&h, 1e6, 0);
        let (p, m, _) = adabound_elem::<false, false>(1.0, 1.0, 0.0, 0.0, &mut 0.0, &s);
        assert!((1.0 - p - 0.1 * m).abs() < 1e-6, "{p} {m}");
    }
}
