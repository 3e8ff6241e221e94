//! ASGD, averaged stochastic gradient descent (Polyak and Juditsky 1992; PyTorch
//! `torch/optim/asgd.py`, `_single_tensor_asgd`).
//!
//! ```text
//! g ← −g if maximize
//! g ← g + λw·θ                  (when λw ≠ 0)
//! θ ← θ·(1 − λη)                (1 − λη in f64, rounded to float32)
//! θ ← θ + (−η)·g
//! ax ← θ if μ = 1, else ax + (θ − ax)·μ
//! then, for the next step:
//! η ← γ / (1 + λγt)^α           (f64, stored as a float32: PyTorch's `eta` tensor)
//! μ ← 1 / max(1, t − t0)        (f64, rounded to float32)
//! ```
//!
//! η is the rule's scalar state (`eta`): like PyTorch, a step uses the η the previous step
//! computed from the lr of that step, so an lr schedule acts one step late, and a parameter's first
//! step uses η = γ. μ is a function of the step counter and t0, recomputed here as
//! μ = 1 / max(1, (t − 1) − t0) (1 on the first step); PyTorch stores it, which differs only in
//! the step after t0 is changed.

use crate::driver::Elementwise;
use crate::engine::{Rule, Signature, TensorPtrs};
use crate::simd::SqLanes;

rule_signature! {
    /// ASGD.
    Asgd {
        hyper AsgdHyper { lr, lambd, alpha, t0, weight_decay, maximize: bool }
        slots [ax]
        extra eta = 0.0
    }
}

/// PyTorch's `mu` after `step` steps (1 before the first), as a float32.
pub fn asgd_mu(step: f64, t0: f64) -> f32 {
    if step <= 0.0 {
        1.0
    } else {
        (1.0 / (step - t0).max(1.0)) as f32
    }
}

#[derive(Clone, Copy, Debug)]
pub struct AsgdScalars {
    sign: f32,
    wd: f32,
    /// 1 − λη
    decay: f32,
    neg_eta: f32,
    mu: f32,
    /// μ = 1: the average is a copy of θ.
    copy: bool,
    coupled: bool,
}

impl Rule for Asgd {
    type Scalars = AsgdScalars;

    fn slots_needed(_h: &AsgdHyper) -> u32 {
        0b1
    }

    fn scalars(h: &AsgdHyper, step: f64, fresh: u32) -> AsgdScalars {
        // Only reached by callers without state; the engine uses `scalars_extra`.
        let mut eta = Self::EXTRA_INIT;
        Self::scalars_extra(h, step, fresh, &mut eta)
    }

    fn scalars_extra(h: &AsgdHyper, step: f64, fresh: u32, eta: &mut f64) -> AsgdScalars {
        // A state created by this step starts with η = γ and μ = 1, as PyTorch's `_init_group`.
        let first = fresh & 1 != 0;
        let eta_now = if first { h.lr as f32 } else { *eta as f32 };
        let mu = if first { 1.0 } else { asgd_mu(step - 1.0, h.t0) };
        *eta = (h.lr / (1.0 + h.lambd * h.lr * step).powf(h.alpha)) as f32 as f64;
        AsgdScalars {
            sign: if h.maximize { -1.0 } else { 1.0 },
            wd: h.weight_decay as f32,
            decay: (1.0 - h.lambd * eta_now as f64) as f32,
            neg_eta: -eta_now,
            mu,
            copy: mu == 1.0,
            coupled: h.weight_decay != 0.0,
        }
    }

    unsafe fn apply(s: &AsgdScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(AsgdElem[s.coupled, s.copy](s, t, a, b, sq))
    }
}

/// One element: returns the new (θ, ax).
#[inline(always)]
fn asgd_elem<const WD: bool, const COPY: bool>(p: f32, g: f32, ax: f32, s: &AsgdScalars) -> (f32, f32) {
    let mut g = g * s.sign; // g ← −g if maximize
    if WD {
        g += s.wd * p; // g ← g + λw·θ
    }
    let p = p * s.decay; // θ ← θ·(1 − λη)
    let p = p + s.neg_eta * g; // θ ← θ − η·g
    let ax = if COPY { p } else { ax + (p - ax) * s.mu }; // ax ← θ, or ax + (θ − ax)·μ
    (p, ax)
}

/// ASGD's element, compiled per weight decay and averaging mode.
struct AsgdElem<const WD: bool, const COPY: bool>;

impl<const WD: bool, const COPY: bool> Elementwise<1> for AsgdElem<WD, COPY> {
    type Scalars = AsgdScalars;
    const USES: [bool; 1] = [true];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &AsgdScalars, p: &mut f32, g: f32, [ax]: [&mut f32; 1]) {
        (*p, *ax) = asgd_elem::<WD, COPY>(*p, g, *ax, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::step_vecs;
    use crate::engine::Engine;
    use crate::kernels::test_util::*;

    /// PyTorch's `_single_tensor_asgd` transcribed line by line, on scalars. The state's second
    /// and third vectors hold `eta` and `mu` (float32, as PyTorch's state tensors).
    fn reference(h: [f64; 6]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, t| {
            let [lr, lambd, alpha, t0, wd, max] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()], vec![lr as f32], vec![1.0]];
            }
            let (eta, mu) = (st[1][0] as f64, st[2][0]);
            for i in 0..p.len() {
                let mut gi = if max != 0.0 { -g[i] } else { g[i] };
                if wd != 0.0 {
                    gi += wd as f32 * p[i];
                }
                p[i] *= (1.0 - lambd * eta) as f32;
                p[i] += (-eta) as f32 * gi;
                st[0][i] = if mu != 1.0 { st[0][i] + (p[i] - st[0][i]) * mu } else { p[i] };
            }
            let step = t as f64;
            st[1][0] = (lr / (1.0 + lambd * lr * step).powf(alpha)) as f32;
            st[2][0] = (1.0 / (step - t0).max(1.0)) as f32;
        }
    }

    const CONFIGS: &[[f64; 6]] = &[
        [1e-2, 1e-4, 0.75, 1e6, 0.0, 0.0],
        [0.1, 1e-2, 0.75, 2.0, 0.0, 0.0],
        [0.05, 0.5, 1.0, 0.0, 0.1, 1.0],
        [0.05, 0.0, 0.0, 3.5, 0.01, 0.0],
        [0.2, 2.0, 0.3, -4.0, 0.0, 1.0],
    ];

    #[test]
    fn asgd_matches_the_scalar_transcription_of_pytorch_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Asgd>(h, reference(*h));
        }
    }

    #[test]
    fn asgd_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Asgd>(h);
        }
    }

    #[test]
    fn eta_is_a_float32_per_parameter_computed_for_the_next_step_from_the_current_lr() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut h = CONFIGS[1];
        let mut e = Engine::<Asgd>::new();
        e.add_params(&[3, 5]);
        let mut p = vec![vec![0.5f32; 3], vec![0.5f32; 5]];
        for t in 1..=4 {
            h[0] = 0.1 / t as f64;
            let mut g = vec![vec![0.25f32; 3], vec![0.25f32; 5]];
            step_vecs(&mut e, &mut p, &mut g, &h).unwrap();
            let expect = (h[0] / (1.0 + h[1] * h[0] * t as f64).powf(h[2])) as f32;
            assert_eq!(e.states[0].extra, expect as f64);
            assert_eq!(e.states[1].extra, expect as f64);
        }
        e.clear_state(0);
        assert_eq!(e.states[0].extra, 0.0);
    }

    #[test]
    fn mu_is_one_until_t0_and_then_the_running_mean_weight() {
        assert_eq!(asgd_mu(0.0, -5.0), 1.0);
        assert_eq!(asgd_mu(3.0, 2.0), 1.0);
        assert_eq!(asgd_mu(4.0, 2.0), 0.5);
        assert_eq!(asgd_mu(7.0, 3.5), (1.0 / 3.5f64) as f32);
    }

    #[test]
    fn zero_learning_rate_changes_no_parameter() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Asgd>(&[0.0, 1e-2, 0.75, 0.0, 0.1, 1.0], 3, 5);
        assert_eq!(p, init(LENS, 5));
    }
}
