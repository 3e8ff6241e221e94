//! Adadelta with coupled weight decay (PyTorch `torch/optim/adadelta.py`,
//! `_single_tensor_adadelta`).
//!
//! ```text
//! g ← −g if maximize
//! g ← g + λθ                    (when λ ≠ 0)
//! v ← ρ·v + ((1 − ρ)·g)·g
//! δ ← (√(a + ε) / √(v + ε))·g   (ε inside both square roots)
//! a ← ρ·a + ((1 − ρ)·δ)·δ
//! θ ← θ − γ·δ
//! ```

use crate::driver::Elementwise;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::SqLanes;

rule_signature! {
    /// Adadelta.
    Adadelta {
        hyper AdadeltaHyper { lr, rho, eps, weight_decay, maximize: bool }
        slots [square_avg, acc_delta]
    }
}

#[derive(Clone, Copy, Debug)]
pub struct AdadeltaScalars {
    sign: f32,
    wd: f32,
    rho: f32,
    /// 1 − ρ
    c: f32,
    eps: f32,
    neg_lr: f32,
    decay: bool,
}

impl Rule for Adadelta {
    type Scalars = AdadeltaScalars;

    fn slots_needed(_h: &AdadeltaHyper) -> u32 {
        0b11
    }

    fn scalars(h: &AdadeltaHyper, _step: f64, _fresh: u32) -> AdadeltaScalars {
        AdadeltaScalars {
            sign: if h.maximize { -1.0 } else { 1.0 },
            wd: h.weight_decay as f32,
            rho: h.rho as f32,
            c: (1.0 - h.rho) as f32,
            eps: h.eps as f32,
            neg_lr: (-h.lr) as f32,
            decay: h.weight_decay != 0.0,
        }
    }

    unsafe fn apply(s: &AdadeltaScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(AdadeltaElem[s.decay](s, t, a, b, sq))
    }
}

/// One element: returns the new (θ, v, a).
#[inline(always)]
fn adadelta_elem<const WD: bool>(p: f32, g: f32, v: f32, acc: f32, s: &AdadeltaScalars) -> (f32, f32, f32) {
    let mut g = g * s.sign;
    if WD {
        g += s.wd * p; // g ← g + λθ
    }
    let v = v * s.rho + (s.c * g) * g; // v ← ρ·v + (1 − ρ)·g²
    let std = (v + s.eps).sqrt(); // √(v + ε)
    let delta = ((acc + s.eps).sqrt() / std) * g; // δ ← (√(a + ε) / √(v + ε))·g
    let acc = acc * s.rho + (s.c * delta) * delta; // a ← ρ·a + (1 − ρ)·δ²
    (p + s.neg_lr * delta, v, acc) // θ ← θ − γ·δ
}

/// Adadelta's element, compiled with and without weight decay.
struct AdadeltaElem<const WD: bool>;

impl<const WD: bool> Elementwise<2> for AdadeltaElem<WD> {
    type Scalars = AdadeltaScalars;
    const USES: [bool; 2] = [true, true];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &AdadeltaScalars, p: &mut f32, g: f32, [v, acc]: [&mut f32; 2]) {
        (*p, *v, *acc) = adadelta_elem::<WD>(*p, g, *v, *acc, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::*;

    /// PyTorch's `_single_tensor_adadelta` transcribed line by line, on scalars.
    fn reference(h: [f64; 5]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, _t| {
            let [lr, rho, eps, wd, max] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()]; 2];
            }
            for i in 0..p.len() {
                let mut gi = if max != 0.0 { -g[i] } else { g[i] };
                if wd != 0.0 {
                    gi += wd as f32 * p[i];
                }
                st[0][i] = st[0][i] * rho as f32 + (1.0 - rho) as f32 * gi * gi;
                let std = (st[0][i] + eps as f32).sqrt();
                let mut delta = (st[1][i] + eps as f32).sqrt();
                delta = delta / std * gi;
                st[1][i] = st[1][i] * rho as f32 + (1.0 - rho) as f32 * delta * delta;
                p[i] += (-lr) as f32 * delta;
            }
        }
    }

    const CONFIGS: &[[f64; 5]] = &[
        [1.0, 0.9, 1e-6, 0.0, 0.0],
        [1.0, 0.9, 1e-6, 0.1, 0.0],
        [0.5, 0.5, 1e-3, 0.0, 1.0],
        [0.1, 0.99, 1e-6, 0.01, 1.0],
        [2.0, 0.0, 1e-8, 0.0, 0.0],
        [2.0, 1.0, 1e-6, 0.0, 0.0],
    ];

    #[test]
    fn adadelta_matches_the_scalar_transcription_of_pytorch_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Adadelta>(h, reference(*h));
        }
    }

    #[test]
    fn adadelta_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Adadelta>(h);
        }
    }

    #[test]
    fn zero_learning_rate_changes_nothing() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Adadelta>(&[0.0, 0.9, 1e-6, 0.1, 1.0], 3, 5);
        assert_eq!(p, init(LENS, 5));
    }
}
