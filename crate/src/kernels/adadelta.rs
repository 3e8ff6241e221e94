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
//! Hyperparameters: `[lr, rho, eps, weight_decay, maximize]`.
//! Slots: `square_avg`, `acc_delta`.

use super::flag;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::{self, Simd, SqLanes};

pub struct Adadelta;

const LR: usize = 0;
const RHO: usize = 1;
const EPS: usize = 2;
const WD: usize = 3;
const MAXIMIZE: usize = 4;

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
    const SLOTS: &'static [&'static str] = &["square_avg", "acc_delta"];
    const HYPER: &'static [&'static str] = &["lr", "rho", "eps", "weight_decay", "maximize"];
    type Scalars = AdadeltaScalars;

    fn slots_needed(_h: &[f64]) -> u32 {
        0b11
    }

    fn scalars(h: &[f64], _step: f64, _fresh: u32) -> AdadeltaScalars {
        AdadeltaScalars {
            sign: if flag(h, MAXIMIZE) { -1.0 } else { 1.0 },
            wd: h[WD] as f32,
            rho: h[RHO] as f32,
            c: (1.0 - h[RHO]) as f32,
            eps: h[EPS] as f32,
            neg_lr: (-h[LR]) as f32,
            decay: h[WD] != 0.0,
        }
    }

    unsafe fn apply(s: &AdadeltaScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        let (p, g, v, acc) = (t.param(a, b), t.grad(a, b), t.slot(0, a, b), t.slot(1, a, b));
        if s.decay {
            simd::dispatch(AdadeltaBody::<true> { p, g, v, acc, s, sq })
        } else {
            simd::dispatch(AdadeltaBody::<false> { p, g, v, acc, s, sq })
        }
    }
}

struct AdadeltaBody<'a, const WD: bool> {
    p: &'a mut [f32],
    g: &'a [f32],
    v: &'a mut [f32],
    acc: &'a mut [f32],
    s: &'a AdadeltaScalars,
    sq: Option<&'a mut SqLanes>,
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

impl<const WD: bool> Simd for AdadeltaBody<'_, WD> {
    #[inline(always)]
    fn run(self) {
        let (p, g, v, acc, s) = (self.p, self.g, self.v, self.acc, self.s);
        let n = p.len();
        assert!(v.len() == n && acc.len() == n);
        // SAFETY: `each` passes i < n = g.len(), and every slice has length n.
        simd::each(n, g, self.sq, simd::Ahead::of([&*p, g, &*v, &*acc]), |i| unsafe {
            let (p, v, acc) = (p.get_unchecked_mut(i), v.get_unchecked_mut(i), acc.get_unchecked_mut(i));
            (*p, *v, *acc) = adadelta_elem::<WD>(*p, *g.get_unchecked(i), *v, *acc, s);
        });
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
