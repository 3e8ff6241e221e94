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
//! Hyperparameters: `[lr, beta1, beta2, final_lr, gamma, eps, weight_decay, amsbound, base_lr]`.
//! Slots: `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (amsbound only).
//!
//! With lr = 0 the bounds are 0 whatever `base_lr` is (the reference divides by `base_lr`, which
//! is 0 for a group created with lr 0), so lr = 0 leaves θ unchanged.

use super::flag;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::{self, Simd, SqLanes};

pub struct AdaBound;

const LR: usize = 0;
const BETA1: usize = 1;
const BETA2: usize = 2;
const FINAL_LR: usize = 3;
const GAMMA: usize = 4;
const EPS: usize = 5;
const WD: usize = 6;
const AMSBOUND: usize = 7;
const BASE_LR: usize = 8;

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
    const SLOTS: &'static [&'static str] = &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];
    const HYPER: &'static [&'static str] = &["lr", "beta1", "beta2", "final_lr", "gamma", "eps", "weight_decay", "amsbound", "base_lr"];
    type Scalars = AdaBoundScalars;

    fn slots_needed(h: &[f64]) -> u32 {
        if flag(h, AMSBOUND) {
            0b111
        } else {
            0b011
        }
    }

    fn scalars(h: &[f64], step: f64, _fresh: u32) -> AdaBoundScalars {
        let (lr, b1, b2, gamma) = (h[LR], h[BETA1], h[BETA2], h[GAMMA]);
        let bc1 = 1.0 - b1.powf(step);
        let bc2 = 1.0 - b2.powf(step);
        // In the reference's order: group['final_lr'] * group['lr'] / base_lr.
        let final_lr = if lr == 0.0 { 0.0 } else { h[FINAL_LR] * lr / h[BASE_LR] };
        AdaBoundScalars {
            wd: h[WD] as f32,
            b1: b1 as f32,
            c1: (1.0 - b1) as f32,
            b2: b2 as f32,
            c2: (1.0 - b2) as f32,
            eps: h[EPS] as f32,
            step_size: (lr * bc2.sqrt() / bc1) as f32,
            lower: (final_lr * (1.0 - 1.0 / (gamma * step + 1.0))) as f32,
            upper: (final_lr * (1.0 + 1.0 / (gamma * step))) as f32,
            amsbound: flag(h, AMSBOUND),
            coupled: h[WD] != 0.0,
        }
    }

    unsafe fn apply(s: &AdaBoundScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        let (p, g, m, v, vmax) = (t.param(a, b), t.grad(a, b), t.slot(0, a, b), t.slot(1, a, b), t.slot(2, a, b));
        macro_rules! go {
            ($ams:literal, $cwd:literal) => {
                simd::dispatch(AdaBoundBody::<$ams, $cwd> { p, g, m, v, vmax, s, sq })
            };
        }
        dispatch_flags!(go; s.amsbound, s.coupled);
    }
}

struct AdaBoundBody<'a, const AMS: bool, const CWD: bool> {
    p: &'a mut [f32],
    g: &'a [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    vmax: &'a mut [f32],
    s: &'a AdaBoundScalars,
    sq: Option<&'a mut SqLanes>,
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

impl<const AMS: bool, const CWD: bool> Simd for AdaBoundBody<'_, AMS, CWD> {
    #[inline(always)]
    fn run(self) {
        let (p, g, m, v, vmax, s) = (self.p, self.g, self.m, self.v, self.vmax, self.s);
        let n = p.len();
        assert!(m.len() == n && v.len() == n && (!AMS || vmax.len() == n));
        // SAFETY: `each` passes i < n = g.len(), and every slice has length n (vmax when AMS).
        let ahead = simd::Ahead::of([&*p, g, &*m, &*v, if AMS { &*vmax } else { &[] }]);
        simd::each(n, g, self.sq, ahead, |i| unsafe {
            let (p, m, v) = (p.get_unchecked_mut(i), m.get_unchecked_mut(i), v.get_unchecked_mut(i));
            let mut unused = 0.0;
            let vm = if AMS { vmax.get_unchecked_mut(i) } else { &mut unused };
            (*p, *m, *v) = adabound_elem::<AMS, CWD>(*p, *g.get_unchecked(i), *m, *v, vm, s);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let s = AdaBound::scalars(&[1e-3, 0.9, 0.999, 0.1, 0.999, 1e-8, 0.0, 0.0, 1e-3], 1e6, 0);
        let (p, m, _) = adabound_elem::<false, false>(1.0, 1.0, 0.0, 0.0, &mut 0.0, &s);
        assert!((1.0 - p - 0.1 * m).abs() < 1e-6, "{p} {m}");
    }
}
