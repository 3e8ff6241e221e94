//! SGD with momentum, dampening, Nesterov and coupled weight decay (PyTorch `torch/optim/sgd.py`).
//!
//! ```text
//! g ← −g if maximize
//! g ← g + λθ                                  (when λ ≠ 0)
//! b ← g on the buffer's first step, else μ·b + (1 − τ)·g      (when μ ≠ 0)
//! g ← g + μ·b if nesterov, else b             (when μ ≠ 0)
//! θ ← θ − γ·g
//! ```

use crate::driver::Elementwise;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::SqLanes;

rule_signature! {
    /// SGD.
    Sgd {
        hyper SgdHyper { lr, momentum, dampening, weight_decay, nesterov: bool, maximize: bool }
        slots [momentum_buffer] // only when momentum ≠ 0
    }
}

/// Momentum modes of one tensor's step.
const NO_MOMENTUM: u8 = 0;
const FIRST_MOMENTUM: u8 = 1;
const MOMENTUM_ON: u8 = 2;

#[derive(Clone, Copy, Debug)]
pub struct SgdScalars {
    sign: f32,
    wd: f32,
    mu: f32,
    /// 1 − dampening
    keep: f32,
    neg_lr: f32,
    mode: u8,
    nesterov: bool,
    decay: bool,
}

impl Rule for Sgd {
    type Scalars = SgdScalars;

    fn slots_needed(h: &SgdHyper) -> u32 {
        u32::from(h.momentum != 0.0)
    }

    fn scalars(h: &SgdHyper, _step: f64, fresh: u32) -> SgdScalars {
        SgdScalars {
            sign: if h.maximize { -1.0 } else { 1.0 },
            wd: h.weight_decay as f32,
            mu: h.momentum as f32,
            keep: (1.0 - h.dampening) as f32,
            neg_lr: (-h.lr) as f32,
            mode: match (h.momentum != 0.0, fresh & 1 != 0) {
                (false, _) => NO_MOMENTUM,
                (true, true) => FIRST_MOMENTUM,
                (true, false) => MOMENTUM_ON,
            },
            nesterov: h.nesterov,
            decay: h.weight_decay != 0.0,
        }
    }

    unsafe fn apply(s: &SgdScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(SgdElem[s.mode => [NO_MOMENTUM, FIRST_MOMENTUM, MOMENTUM_ON], s.nesterov, s.decay](s, t, a, b, sq))
    }
}

/// One element: returns the new (θ, b).
#[inline(always)]
fn sgd_elem<const MODE: u8, const NEST: bool, const WD: bool>(p: f32, g: f32, b: f32, s: &SgdScalars) -> (f32, f32) {
    let mut d = g * s.sign;
    if WD {
        d += s.wd * p; // g ← g + λθ
    }
    let b = match MODE {
        FIRST_MOMENTUM => d,                  // b ← g (a clone on the first step)
        MOMENTUM_ON => b * s.mu + s.keep * d, // b ← μ·b + (1 − τ)·g
        _ => b,
    };
    if MODE != NO_MOMENTUM {
        d = if NEST { d + s.mu * b } else { b }; // g ← g + μ·b, or b
    }
    (p + s.neg_lr * d, b) // θ ← θ − γ·g
}

/// SGD's element, compiled per momentum mode, Nesterov and weight decay.
struct SgdElem<const MODE: u8, const NEST: bool, const WD: bool>;

impl<const MODE: u8, const NEST: bool, const WD: bool> Elementwise<1> for SgdElem<MODE, NEST, WD> {
    type Scalars = SgdScalars;
    const USES: [bool; 1] = [MODE != NO_MOMENTUM];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &SgdScalars, p: &mut f32, g: f32, [b]: [&mut f32; 1]) {
        (*p, *b) = sgd_elem::<MODE, NEST, WD>(*p, g, *b, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::*;

    /// PyTorch's `_single_tensor_sgd` transcribed line by line, on scalars.
    fn reference(h: [f64; 6]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, _t| {
            let [lr, mu, damp, wd, nest, max] = h;
            let first = st.is_empty();
            if first {
                *st = vec![vec![0.0; p.len()]];
            }
            for i in 0..p.len() {
                let mut d = if max != 0.0 { -g[i] } else { g[i] };
                if wd != 0.0 {
                    d += wd as f32 * p[i];
                }
                if mu != 0.0 {
                    st[0][i] = if first { d } else { st[0][i] * mu as f32 + (1.0 - damp) as f32 * d };
                    d = if nest != 0.0 { d + mu as f32 * st[0][i] } else { st[0][i] };
                }
                p[i] += (-lr) as f32 * d;
            }
        }
    }

    const CONFIGS: &[[f64; 6]] = &[
        [0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.1, 0.9, 0.0, 0.0, 0.0, 0.0],
        [0.05, 0.9, 0.1, 0.01, 0.0, 0.0],
        [0.05, 0.9, 0.0, 0.001, 1.0, 0.0],
        [0.1, 0.5, 0.0, 0.0, 0.0, 1.0],
        [0.01, 0.0, 0.0, 0.1, 0.0, 1.0],
    ];

    #[test]
    fn sgd_matches_the_scalar_transcription_of_pytorch_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Sgd>(h, reference(*h));
        }
    }

    #[test]
    fn sgd_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Sgd>(h);
        }
    }
}
