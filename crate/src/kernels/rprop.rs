//! Rprop, resilient backpropagation: a step size per element, grown while the gradient keeps its
//! sign and shrunk when it flips (PyTorch `torch/optim/rprop.py`, `_single_tensor_rprop`).
//!
//! ```text
//! g ← −g if maximize
//! s ← sign(g·prev)              (torch.sign: 0 for a zero or NaN product)
//! f ← η+ if s > 0;  η− if s < 0;  1 otherwise        (η± rounded to float32; an η− that
//!                                                    rounds to 0 becomes 1, as torch's
//!                                                    third masked write makes it)
//! Δ ← min(max(Δ·f, Δmin), Δmax) (torch.clamp: NaN stays NaN, Δmin > Δmax gives Δmax)
//! g ← 0 where f = η−            (the step after a sign change is skipped)
//! θ ← θ + (−1·sign(g))·Δ        (addcmul_ with value −1; sign(NaN) = 0)
//! prev ← g
//! ```
//!
//! The step sizes Δ start at γ (`slot_init`): the lr only matters when a parameter's state is
//! created, as in PyTorch.

use crate::driver::Elementwise;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::SqLanes;

rule_signature! {
    /// Rprop.
    Rprop {
        hyper RpropHyper { lr, etaminus, etaplus, step_size_min, step_size_max, maximize: bool }
        slots [prev, step_size]
    }
}

#[derive(Clone, Copy, Debug)]
pub struct RpropScalars {
    sign: f32,
    /// The factor of a positive product (η+).
    up: f32,
    /// The factor of a negative product (η−, or 1 when η− rounds to 0).
    down: f32,
    /// η− in float32: the gradient is zeroed where the factor equals it, as torch's
    /// `sign.eq(etaminus)` (also where η± round to 1).
    minus: f32,
    lo: f32,
    hi: f32,
}

impl Rule for Rprop {
    type Scalars = RpropScalars;

    fn slots_needed(_h: &RpropHyper) -> u32 {
        0b11
    }

    /// `prev` starts at 0, `step_size` at γ.
    fn slot_init(h: &RpropHyper, slot: usize) -> f32 {
        if slot == 1 {
            h.lr as f32
        } else {
            0.0
        }
    }

    fn scalars(h: &RpropHyper, _step: f64, _fresh: u32) -> RpropScalars {
        // torch writes η+, η− and 1 into a float32 tensor in this order, each over the elements
        // the previous writes left matching, and compares with η− in float32.
        let (plus, minus) = (h.etaplus as f32, h.etaminus as f32);
        RpropScalars {
            sign: if h.maximize { -1.0 } else { 1.0 },
            up: if plus == 0.0 { 1.0 } else { plus },
            down: if minus == 0.0 { 1.0 } else { minus },
            minus,
            lo: h.step_size_min as f32,
            hi: h.step_size_max as f32,
        }
    }

    unsafe fn apply(s: &RpropScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(RpropElem[](s, t, a, b, sq))
    }
}

/// One element: returns the new (θ, prev, Δ).
#[inline(always)]
fn rprop_elem(p: f32, g: f32, prev: f32, step: f32, s: &RpropScalars) -> (f32, f32, f32) {
    let g = g * s.sign; // g ← −g if maximize
    let x = g * prev;
    // f ← η+, η− or 1 by sign(g·prev); NaN compares false both ways, as a zero product.
    let f = if x > 0.0 { s.up } else { 1.0 };
    let f = if x < 0.0 { s.down } else { f };
    let d = step * f; // Δ ← Δ·f
    let d = if d < s.lo { s.lo } else { d }; // Δ ← max(Δ, Δmin)  (std::max: NaN stays)
    let d = if s.hi < d { s.hi } else { d }; // Δ ← min(Δ, Δmax)  (std::min: NaN stays)
    let g = if f == s.minus { 0.0 } else { g }; // g ← 0 where f = η−
    (p + neg_sign(g) * d, g, d) // θ ← θ + (−1·sign(g))·Δ;  prev ← g
}

/// −1·sign(g), as torch's `addcmul_(sign(g), Δ, value=-1)` forms it: −1, 1, or −0 for a zero or
/// NaN gradient (so θ + (−0)·Δ keeps θ, even θ = −0).
#[inline(always)]
fn neg_sign(g: f32) -> f32 {
    let n = if g > 0.0 { -1.0 } else { -0.0 };
    if g < 0.0 {
        1.0
    } else {
        n
    }
}

/// Rprop's element.
struct RpropElem;

impl Elementwise<2> for RpropElem {
    type Scalars = RpropScalars;
    const USES: [bool; 2] = [true, true];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &RpropScalars, p: &mut f32, g: f32, [prev, step]: [&mut f32; 2]) {
        (*p, *prev, *step) = rprop_elem(*p, g, *prev, *step, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::step_vecs;
    use crate::engine::Engine;
    use crate::kernels::test_util::*;

    /// torch.sign: 1, −1, or 0 (also for −0 and NaN).
    fn sign(x: f32) -> f32 {
        if x > 0.0 {
            1.0
        } else if x < 0.0 {
            -1.0
        } else {
            0.0
        }
    }

    /// PyTorch's `_single_tensor_rprop` transcribed line by line, on scalars; the masked writes
    /// to the sign tensor in torch's order.
    fn reference(h: [f64; 6]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, _t| {
            let [lr, etaminus, etaplus, lo, hi, max] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()], vec![lr as f32; p.len()]];
            }
            for i in 0..p.len() {
                let gi = if max != 0.0 { -g[i] } else { g[i] };
                let mut s = sign(gi * st[0][i]);
                if s > 0.0 {
                    s = etaplus as f32;
                }
                if s < 0.0 {
                    s = etaminus as f32;
                }
                if s == 0.0 {
                    s = 1.0;
                }
                let d = st[1][i] * s;
                // clamp_ as std::min(std::max(x, lo), hi)
                let d = if d < lo as f32 { lo as f32 } else { d };
                st[1][i] = if (hi as f32) < d { hi as f32 } else { d };
                let gi = if s == etaminus as f32 { 0.0 } else { gi };
                p[i] += -sign(gi) * st[1][i]; // addcmul_(sign, step_size, value=-1)
                st[0][i] = gi;
            }
        }
    }

    const CONFIGS: &[[f64; 6]] = &[
        [1e-2, 0.5, 1.2, 1e-6, 50.0, 0.0],
        [1e-3, 0.3, 2.0, 1e-4, 1e-2, 1.0],
        [0.1, 0.9, 1.1, 0.0, 0.05, 0.0],
        // Δmin > Δmax: every step size is Δmax.
        [1e-2, 0.5, 1.2, 0.2, 0.1, 1.0],
        // η− rounds to 1 in float32: zero products also skip their step; η+ rounds to 1.
        [1e-2, 0.999_999_99, 1.000_000_01, 1e-6, 50.0, 0.0],
        // η− rounds to 0: negative products take the factor 1.
        [1e-2, 1e-50, 1.5, 0.0, 50.0, 0.0],
    ];

    #[test]
    fn rprop_matches_the_scalar_transcription_of_pytorch_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Rprop>(h, reference(*h));
        }
    }

    #[test]
    fn rprop_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Rprop>(h);
        }
    }

    #[test]
    fn a_nan_gradient_leaves_its_parameter_and_step_size_and_is_remembered() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let h = CONFIGS[0];
        let mut e = Engine::<Rprop>::new();
        e.add_params(&[3]);
        let mut p = vec![vec![1.0f32, 1.0, 1.0]];
        step_vecs(&mut e, &mut p, &mut [vec![f32::NAN, 0.5, -0.5]], &h).unwrap();
        assert_eq!(p[0], vec![1.0, 1.0 - 0.01, 1.0 + 0.01]);
        step_vecs(&mut e, &mut p, &mut [vec![0.5, 0.5, 0.5]], &h).unwrap();
        // NaN·0.5 has sign 0: factor 1, step size kept.
        assert_eq!(p[0][0], 1.0 - 0.01);
        assert_eq!(p[0][1], 1.0 - 0.01 - (0.01f32 * 1.2));
        // The sign flipped: the step size shrinks and this step is skipped.
        assert_eq!(p[0][2], 1.0 + 0.01);
    }

    #[test]
    fn zero_learning_rate_moves_by_the_minimal_step_size() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Rprop>(&[0.0, 0.5, 1.2, 0.0, 50.0, 0.0], 3, 5);
        assert_eq!(p, init(LENS, 5));
        let p = run::<Rprop>(&[0.0, 0.5, 1.2, 1e-6, 50.0, 0.0], 3, 5);
        assert_ne!(p, init(LENS, 5));
    }
}
