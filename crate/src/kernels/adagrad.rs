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

use crate::driver::Elementwise;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::SqLanes;

rule_signature! {
    /// Adagrad.
    Adagrad {
        hyper AdagradHyper { lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize: bool }
        slots [sum] // filled with τ = initial_accumulator_value when created
    }
}

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
    type Scalars = AdagradScalars;

    fn slots_needed(_h: &AdagradHyper) -> u32 {
        1
    }

    fn slot_init(h: &AdagradHyper, _slot: usize) -> f32 {
        h.initial_accumulator_value as f32
    }

    fn scalars(h: &AdagradHyper, step: f64, _fresh: u32) -> AdagradScalars {
        let clr = h.lr / (1.0 + (step - 1.0) * h.lr_decay);
        AdagradScalars {
            sign: if h.maximize { -1.0 } else { 1.0 },
            wd: h.weight_decay as f32,
            eps: h.eps as f32,
            neg_clr: (-clr) as f32,
            decay: h.weight_decay != 0.0,
        }
    }

    unsafe fn apply(s: &AdagradScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(AdagradElem[s.decay](s, t, a, b, sq))
    }
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

/// Adagrad's element, compiled with and without weight decay.
struct AdagradElem<const WD: bool>;

impl<const WD: bool> Elementwise<1> for AdagradElem<WD> {
    type Scalars = AdagradScalars;
    const USES: [bool; 1] = [true];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &AdagradScalars, p: &mut f32, g: f32, [sum]: [&mut f32; 1]) {
        (*p, *sum) = adagrad_elem::<WD>(*p, g, *sum, s);
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
