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
//! Hyperparameters: `[lr, alpha, eps, weight_decay, momentum, centered, maximize]`.
//! Slots: `square_avg`, `momentum_buffer` (momentum > 0), `grad_avg` (centered).

use super::flag;
use crate::engine::{Rule, TensorPtrs};
use crate::simd::{self, Simd, SqLanes};

pub struct Rmsprop;

const LR: usize = 0;
const ALPHA: usize = 1;
const EPS: usize = 2;
const WD: usize = 3;
const MOMENTUM: usize = 4;
const CENTERED: usize = 5;
const MAXIMIZE: usize = 6;

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
    const SLOTS: &'static [&'static str] = &["square_avg", "momentum_buffer", "grad_avg"];
    const HYPER: &'static [&'static str] = &["lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"];
    type Scalars = RmspropScalars;

    fn slots_needed(h: &[f64]) -> u32 {
        1 | (u32::from(h[MOMENTUM] > 0.0) << 1) | (u32::from(flag(h, CENTERED)) << 2)
    }

    fn scalars(h: &[f64], _step: f64, _fresh: u32) -> RmspropScalars {
        // ATen's lerp picks its form from the weight in the tensor's precision.
        let c = (1.0 - h[ALPHA]) as f32;
        RmspropScalars {
            sign: if flag(h, MAXIMIZE) { -1.0 } else { 1.0 },
            wd: h[WD] as f32,
            alpha: h[ALPHA] as f32,
            c,
            cc: 1.0 - c,
            eps: h[EPS] as f32,
            mu: h[MOMENTUM] as f32,
            neg_lr: (-h[LR]) as f32,
            center: match (flag(h, CENTERED), c.abs() < 0.5) {
                (false, _) => PLAIN,
                (true, true) => CENTERED_SMALL,
                (true, false) => CENTERED_LARGE,
            },
            momentum: h[MOMENTUM] > 0.0,
            decay: h[WD] != 0.0,
        }
    }

    unsafe fn apply(s: &RmspropScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        let (p, g, v, buf, gavg) = (t.param(a, b), t.grad(a, b), t.slot(0, a, b), t.slot(1, a, b), t.slot(2, a, b));
        macro_rules! go {
            ($center:expr, $mom:literal, $wd:literal) => {
                simd::dispatch(RmspropBody::<$center, $mom, $wd> { p, g, v, buf, gavg, s, sq })
            };
        }
        match (s.center, s.momentum, s.decay) {
            (PLAIN, false, false) => go!(PLAIN, false, false),
            (PLAIN, false, true) => go!(PLAIN, false, true),
            (PLAIN, true, false) => go!(PLAIN, true, false),
            (PLAIN, true, true) => go!(PLAIN, true, true),
            (CENTERED_SMALL, false, false) => go!(CENTERED_SMALL, false, false),
            (CENTERED_SMALL, false, true) => go!(CENTERED_SMALL, false, true),
            (CENTERED_SMALL, true, false) => go!(CENTERED_SMALL, true, false),
            (CENTERED_SMALL, true, true) => go!(CENTERED_SMALL, true, true),
            (_, false, false) => go!(CENTERED_LARGE, false, false),
            (_, false, true) => go!(CENTERED_LARGE, false, true),
            (_, true, false) => go!(CENTERED_LARGE, true, false),
            (_, true, true) => go!(CENTERED_LARGE, true, true),
        }
    }
}

struct RmspropBody<'a, const CENTER: u8, const MOM: bool, const WD: bool> {
    p: &'a mut [f32],
    g: &'a [f32],
    v: &'a mut [f32],
    buf: &'a mut [f32],
    gavg: &'a mut [f32],
    s: &'a RmspropScalars,
    sq: Option<&'a mut SqLanes>,
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

impl<const CENTER: u8, const MOM: bool, const WD: bool> Simd for RmspropBody<'_, CENTER, MOM, WD> {
    #[inline(always)]
    fn run(self) {
        let (p, g, v, buf, gavg, s) = (self.p, self.g, self.v, self.buf, self.gavg, self.s);
        let n = p.len();
        assert!(v.len() == n && (!MOM || buf.len() == n) && (CENTER == PLAIN || gavg.len() == n));
        // SAFETY: `each` passes i < n = g.len(), and every slice used has length n.
        let ahead = simd::Ahead::of([&*p, g, &*v, if MOM { &*buf } else { &[] }, if CENTER == PLAIN { &[] } else { &*gavg }]);
        simd::each(n, g, self.sq, ahead, |i| unsafe {
            let (p, v) = (p.get_unchecked_mut(i), v.get_unchecked_mut(i));
            let (mut unused_b, mut unused_g) = (0.0, 0.0);
            let b = if MOM { buf.get_unchecked_mut(i) } else { &mut unused_b };
            let ga = if CENTER != PLAIN { gavg.get_unchecked_mut(i) } else { &mut unused_g };
            (*p, *v) = rmsprop_elem::<CENTER, MOM, WD>(*p, *g.get_unchecked(i), *v, b, ga, s);
        });
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
