//! RMSprop, plain or centered, with momentum and coupled weight decay (PyTorch
//! `torch/optim/rmsprop.py`, `_single_tensor_rmsprop`).
//!
//! ```text
//! g ← −g if maximize
//! g ← g + λθ                              (when λ ≠ 0)
//! v ← α·v + ((1 − α)·g)·g                 (square_avg.mul_(α).addcmul_(g, g, 1 − α))
//! ḡ ← lerp(ḡ, g, 1 − α)                   (centered only)
//! d ← √(v − ḡ·ḡ) + ε if centered, else √v + ε      (ε outside the square root)
//! b ← μ·b + g / d;  θ ← θ − γ·b           (when μ > 0)
//! θ ← θ − (γ·g) / d                       (otherwise)
//! ```

use crate::driver::Elementwise;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::SqLanes;

rule_signature! {
    /// RMSprop.
    Rmsprop {
        hyper RmspropHyper { lr, alpha, eps, weight_decay, momentum, centered: bool, maximize: bool }
        slots [square_avg, momentum_buffer, grad_avg] // momentum_buffer when momentum > 0, grad_avg when centered
    }
}

/// Centering modes: off, or on with one of ATen's two lerp forms.
const PLAIN: u8 = 0;
const CENTERED_SMALL: u8 = 1;
const CENTERED_LARGE: u8 = 2;

#[derive(Clone, Copy, Debug)]
pub struct RmspropScalars {
    sign: f32,
    wd: f32,
    alpha: f32,
    /// 1 − α: the addcmul value and the lerp weight; and its complement 1 − (1 − α) in f32.
    c: f32,
    cc: f32,
    eps: f32,
    mu: f32,
    neg_lr: f32,
    center: u8,
    momentum: bool,
    decay: bool,
}

impl Rule for Rmsprop {
    type Scalars = RmspropScalars;

    fn slots_needed(h: &RmspropHyper) -> u32 {
        1 | (u32::from(h.momentum > 0.0) << 1) | (u32::from(h.centered) << 2)
    }

    fn scalars(h: &RmspropHyper, _step: f64, _fresh: u32) -> RmspropScalars {
        // ATen's lerp picks its form from the weight in the tensor's precision.
        let c = (1.0 - h.alpha) as f32;
        RmspropScalars {
            sign: if h.maximize { -1.0 } else { 1.0 },
            wd: h.weight_decay as f32,
            alpha: h.alpha as f32,
            c,
            cc: 1.0 - c,
            eps: h.eps as f32,
            mu: h.momentum as f32,
            neg_lr: (-h.lr) as f32,
            center: match (h.centered, c.abs() < 0.5) {
                (false, _) => PLAIN,
                (true, true) => CENTERED_SMALL,
                (true, false) => CENTERED_LARGE,
            },
            momentum: h.momentum > 0.0,
            decay: h.weight_decay != 0.0,
        }
    }

    unsafe fn apply(s: &RmspropScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(RmspropElem[s.center => [PLAIN, CENTERED_SMALL, CENTERED_LARGE], s.momentum, s.decay](s, t, a, b, sq))
    }
}

/// One element: returns the new (θ, v); `b` and `ḡ` are updated in place when used.
#[inline(always)]
fn rmsprop_elem<const CENTER: u8, const MOM: bool, const WD: bool>(
    p: f32,
    g: f32,
    v: f32,
    b: &mut f32,
    ga: &mut f32,
    s: &RmspropScalars,
) -> (f32, f32) {
    let mut g = g * s.sign;
    if WD {
        g += s.wd * p; // g ← g + λθ
    }
    let v = v * s.alpha + (s.c * g) * g; // v ← α·v + (1 − α)·g²
    let d = match CENTER {
        PLAIN => v.sqrt(), // √v
        _ => {
            // ḡ ← lerp(ḡ, g, 1 − α), in the form ATen uses for this weight
            let x = if CENTER == CENTERED_SMALL { *ga + s.c * (g - *ga) } else { g + s.cc * (*ga - g) };
            *ga = x;
            (v - x * x).sqrt() // √(v − ḡ²): addcmul with value −1, and (−1·ḡ)·ḡ is exactly −ḡ²
        }
    } + s.eps; // d ← … + ε
    if MOM {
        *b = *b * s.mu + g / d; // b ← μ·b + g / d
        (p + s.neg_lr * *b, v) // θ ← θ − γ·b
    } else {
        (p + (s.neg_lr * g) / d, v) // θ ← θ − (γ·g) / d
    }
}

/// RMSprop's element, compiled per centering mode, momentum and weight decay.
struct RmspropElem<const CENTER: u8, const MOM: bool, const WD: bool>;

impl<const CENTER: u8, const MOM: bool, const WD: bool> Elementwise<3> for RmspropElem<CENTER, MOM, WD> {
    type Scalars = RmspropScalars;
    const USES: [bool; 3] = [true, MOM, CENTER != PLAIN];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &RmspropScalars, p: &mut f32, g: f32, [v, b, ga]: [&mut f32; 3]) {
        (*p, *v) = rmsprop_elem::<CENTER, MOM, WD>(*p, g, *v, b, ga, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::*;

    /// PyTorch's `_single_tensor_rmsprop` transcribed line by line, on scalars.
    #[allow(clippy::neg_multiply)] // `alpha=-1.0` / `value=-1` kept as written in PyTorch
    fn reference(h: [f64; 7]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, _t| {
            let [lr, alpha, eps, wd, mu, centered, max] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()]; 3];
            }
            let w = (1.0 - alpha) as f32;
            for i in 0..p.len() {
                let mut gi = if max != 0.0 { -g[i] } else { g[i] };
                if wd != 0.0 {
                    gi += wd as f32 * p[i];
                }
                st[0][i] = st[0][i] * alpha as f32 + (1.0 - alpha) as f32 * gi * gi;
                let mut avg = if centered != 0.0 {
                    let ga = st[2][i];
                    st[2][i] = if w.abs() < 0.5 { ga + w * (gi - ga) } else { gi - (gi - ga) * (1.0 - w) };
                    (st[0][i] + -1.0 * st[2][i] * st[2][i]).sqrt()
                } else {
                    st[0][i].sqrt()
                };
                avg += eps as f32;
                if mu > 0.0 {
                    st[1][i] = st[1][i] * mu as f32 + 1.0 * gi / avg;
                    p[i] += (-lr) as f32 * st[1][i];
                } else {
                    p[i] += (-lr) as f32 * gi / avg;
                }
            }
        }
    }

    const CONFIGS: &[[f64; 7]] = &[
        [1e-2, 0.99, 1e-8, 0.0, 0.0, 0.0, 0.0],
        [1e-2, 0.99, 1e-8, 0.1, 0.9, 0.0, 0.0],
        [1e-2, 0.9, 1e-6, 0.0, 0.0, 1.0, 0.0],
        [3e-3, 0.99, 1e-8, 0.01, 0.5, 1.0, 1.0],
        [3e-3, 0.3, 1e-3, 0.0, 0.9, 1.0, 0.0],
        [2e-2, 0.2, 1e-3, 0.5, 0.0, 1.0, 1.0],
        [2e-2, 0.0, 1e-8, 0.0, 0.0, 0.0, 1.0],
    ];

    #[test]
    fn rmsprop_matches_the_scalar_transcription_of_pytorch_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Rmsprop>(h, reference(*h));
        }
    }

    #[test]
    fn rmsprop_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Rmsprop>(h);
        }
    }

    #[test]
    fn zero_learning_rate_changes_nothing() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Rmsprop>(&[0.0, 0.99, 1e-8, 0.1, 0.9, 1.0, 1.0], 3, 5);
        assert_eq!(p, init(LENS, 5));
    }
}
