//! Adagrad with learning-rate decay and coupled weight decay (PyTorch `torch/optim/adagrad.py`,
//! `_single_tensor_adagrad`, dense gradients).
//!
//! ```text
//! γ̃ ← γ / (1 + (t − 1)·η)                 (η = lr_decay; per tensor, in f64)
//! g ← −g if maximize
//! g ← g + λθ                              (when λ ≠ 0)
//! s ← s + g·g                             (state_sum.addcmul_(g, g, 1); s starts at τ)
//! θ ← θ − (γ̃·g) / (√s + ε)                (ε outside the square root)
//! ```
//! Hyperparameters: `[lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize]`.
//! Slot: `sum`, filled with τ = `initial_accumulator_value` when created.

use super::flag;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::{self, Simd, SqLanes};

pub struct Adagrad;

const LR: usize = 0;
const LR_DECAY: usize = 1;
const WD: usize = 2;
const INITIAL: usize = 3;
const EPS: usize = 4;
const MAXIMIZE: usize = 5;

#[derive(Clone, Copy, Debug)]
pub struct AdagradScalars {
    sign: f32,
    wd: f32,
    eps: f32,
    /// −γ̃, the decayed learning rate of this step, negated.
    neg_clr: f32,
    decay: bool,
}

impl Rule for Adagrad {
    const SLOTS: &'static [&'static str] = &["sum"];
    const HYPER: &'static [&'static str] = &["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"];
    type Scalars = AdagradScalars;

    fn slots_needed(_h: &[f64]) -> u32 {
        1
    }

    fn slot_init(h: &[f64], _slot: usize) -> f32 {
        h[INITIAL] as f32
    }

    fn scalars(h: &[f64], step: f64, _fresh: u32) -> AdagradScalars {
        let clr = h[LR] / (1.0 + (step - 1.0) * h[LR_DECAY]);
        AdagradScalars {
            sign: if flag(h, MAXIMIZE) { -1.0 } else { 1.0 },
            wd: h[WD] as f32,
            eps: h[EPS] as f32,
            neg_clr: (-clr) as f32,
            decay: h[WD] != 0.0,
        }
    }

    unsafe fn apply(s: &AdagradScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        let (p, g, sum) = (t.param(a, b), t.grad(a, b), t.slot(0, a, b));
        if s.decay {
            simd::dispatch(AdagradBody::<true> { p, g, sum, s, sq })
        } else {
            simd::dispatch(AdagradBody::<false> { p, g, sum, s, sq })
        }
    }
}

struct AdagradBody<'a, const WD: bool> {
    p: &'a mut [f32],
    g: &'a [f32],
    sum: &'a mut [f32],
    s: &'a AdagradScalars,
    sq: Option<&'a mut SqLanes>,
}

/// One element: returns the new (θ, s).
#[inline(always)]
fn adagrad_elem<const WD: bool>(p: f32, g: f32, sum: f32, s: &AdagradScalars) -> (f32, f32) {
    let mut g = g * s.sign;
    if WD {
        g += s.wd * p; // g ← g + λθ
    }
    let sum = sum + g * g; // s ← s + g²
    let std = sum.sqrt() + s.eps; // √s + ε
    (p + (s.neg_clr * g) / std, sum) // θ ← θ − (γ̃·g) / (√s + ε)
}

impl<const WD: bool> Simd for AdagradBody<'_, WD> {
    #[inline(always)]
    fn run(self) {
        let (p, g, sum, s) = (self.p, self.g, self.sum, self.s);
        let n = p.len();
        assert!(sum.len() == n);
        // SAFETY: `each` passes i < n = g.len(), and every slice has length n.
        simd::each(n, g, self.sq, simd::Ahead::of([&*p, g, &*sum]), |i| unsafe {
            let (p, sum) = (p.get_unchecked_mut(i), sum.get_unchecked_mut(i));
            (*p, *sum) = adagrad_elem::<WD>(*p, *g.get_unchecked(i), *sum, s);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::*;

    /// PyTorch's `_single_tensor_adagrad` (dense) transcribed line by line, on scalars.
    fn reference(h: [f64; 6]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, t| {
            let [lr, lr_decay, wd, initial, eps, max] = h;
            if st.is_empty() {
                *st = vec![vec![initial as f32; p.len()]];
            }
            let step = t as f64;
            let clr = lr / (1.0 + (step - 1.0) * lr_decay);
            for i in 0..p.len() {
                let mut gi = if max != 0.0 { -g[i] } else { g[i] };
                if wd != 0.0 {
                    gi += wd as f32 * p[i];
                }
                st[0][i] += 1.0 * gi * gi;
                let std = st[0][i].sqrt() + eps as f32;
                p[i] += (-clr) as f32 * gi / std;
            }
        }
    }

    const CONFIGS: &[[f64; 6]] = &[
        [1e-2, 0.0, 0.0, 0.0, 1e-10, 0.0],
        [1e-2, 0.1, 0.0, 0.0, 1e-10, 0.0],
        [5e-2, 0.0, 0.1, 0.5, 1e-10, 1.0],
        [5e-2, 0.01, 0.01, 0.1, 1e-6, 0.0],
        [1e-1, 1.0, 0.0, 2.0, 1e-3, 1.0],
    ];

    #[test]
    fn adagrad_matches_the_scalar_transcription_of_pytorch_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Adagrad>(h, reference(*h));
        }
    }

    #[test]
    fn adagrad_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Adagrad>(h);
        }
    }

    #[test]
    fn zero_learning_rate_changes_nothing() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Adagrad>(&[0.0, 0.1, 0.1, 0.5, 1e-10, 1.0], 3, 5);
        assert_eq!(p, init(LENS, 5));
    }
}
