//! SGD with momentum, dampening, Nesterov and coupled weight decay (PyTorch `torch/optim/sgd.py`).
//!
//! ```text
//! g ← −g if maximize
//! g ← g + λθ                                  (when λ ≠ 0)
//! b ← g on the buffer's first step, else μ·b + (1 − τ)·g      (when μ ≠ 0)
//! g ← g + μ·b if nesterov, else b             (when μ ≠ 0)
//! θ ← θ − γ·g
//! ```
//! Hyperparameters: `[lr, momentum, dampening, weight_decay, nesterov, maximize]`.
//! Slot: `momentum_buffer` (only when momentum ≠ 0).

use super::flag;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::{self, Simd, SqLanes};

pub struct Sgd;

const LR: usize = 0;
const MOMENTUM: usize = 1;
const DAMPENING: usize = 2;
const WD: usize = 3;
const NESTEROV: usize = 4;
const MAXIMIZE: usize = 5;

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
    const SLOTS: &'static [&'static str] = &["momentum_buffer"];
    const HYPER: &'static [&'static str] = &["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"];
    type Scalars = SgdScalars;

    fn slots_needed(h: &[f64]) -> u32 {
        u32::from(h[MOMENTUM] != 0.0)
    }

    fn scalars(h: &[f64], _step: f64, fresh: u32) -> SgdScalars {
        SgdScalars {
            sign: if flag(h, MAXIMIZE) { -1.0 } else { 1.0 },
            wd: h[WD] as f32,
            mu: h[MOMENTUM] as f32,
            keep: (1.0 - h[DAMPENING]) as f32,
            neg_lr: (-h[LR]) as f32,
            mode: match (h[MOMENTUM] != 0.0, fresh & 1 != 0) {
                (false, _) => NO_MOMENTUM,
                (true, true) => FIRST_MOMENTUM,
                (true, false) => MOMENTUM_ON,
            },
            nesterov: flag(h, NESTEROV),
            decay: h[WD] != 0.0,
        }
    }

    unsafe fn apply(s: &SgdScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        let (p, g, buf) = (t.param(a, b), t.grad(a, b), t.slot(0, a, b));
        macro_rules! go {
            ($mode:expr, $nest:literal, $wd:literal) => {
                simd::dispatch(SgdBody::<$mode, $nest, $wd> { p, g, buf, s, sq })
            };
        }
        match (s.mode, s.nesterov, s.decay) {
            (NO_MOMENTUM, _, false) => go!(NO_MOMENTUM, false, false),
            (NO_MOMENTUM, _, true) => go!(NO_MOMENTUM, false, true),
            (FIRST_MOMENTUM, false, false) => go!(FIRST_MOMENTUM, false, false),
            (FIRST_MOMENTUM, false, true) => go!(FIRST_MOMENTUM, false, true),
            (FIRST_MOMENTUM, true, false) => go!(FIRST_MOMENTUM, true, false),
            (FIRST_MOMENTUM, true, true) => go!(FIRST_MOMENTUM, true, true),
            (_, false, false) => go!(MOMENTUM_ON, false, false),
            (_, false, true) => go!(MOMENTUM_ON, false, true),
            (_, true, false) => go!(MOMENTUM_ON, true, false),
            (_, true, true) => go!(MOMENTUM_ON, true, true),
        }
    }
}

struct SgdBody<'a, const MODE: u8, const NEST: bool, const WD: bool> {
    p: &'a mut [f32],
    g: &'a [f32],
    buf: &'a mut [f32],
    s: &'a SgdScalars,
    sq: Option<&'a mut SqLanes>,
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

impl<const MODE: u8, const NEST: bool, const WD: bool> Simd for SgdBody<'_, MODE, NEST, WD> {
    #[inline(always)]
    fn run(self) {
        let (p, g, buf, s) = (self.p, self.g, self.buf, self.s);
        let n = p.len();
        assert!(MODE == NO_MOMENTUM || buf.len() == n);
        // SAFETY: `each` passes i < n = g.len(); buf has length n when it is used.
        let ahead = simd::Ahead::of([&*p, g, if MODE == NO_MOMENTUM { &[] } else { &*buf }]);
        simd::each(n, g, self.sq, ahead, |i| unsafe {
            let p = p.get_unchecked_mut(i);
            if MODE == NO_MOMENTUM {
                *p = sgd_elem::<MODE, NEST, WD>(*p, *g.get_unchecked(i), 0.0, s).0;
            } else {
                let b = buf.get_unchecked_mut(i);
                (*p, *b) = sgd_elem::<MODE, NEST, WD>(*p, *g.get_unchecked(i), *b, s);
            }
        });
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
