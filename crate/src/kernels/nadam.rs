//! NAdam, Adam with Nesterov momentum and Dozat's momentum schedule, with coupled or decoupled
//! weight decay (PyTorch `torch/optim/nadam.py`, `_single_tensor_nadam`).
//!
//! ```text
//! μₜ ← β1·(1 − ½·0.96^(t·ψ));  μₜ₊₁ ← β1·(1 − ½·0.96^((t+1)·ψ))    (ψ = momentum_decay; f64)
//! Π ← Π·μₜ                      (mu_product: a float32 per parameter, as PyTorch's state tensor)
//! g ← −g if maximize
//! g ← g + λθ                    (coupled)               θ ← θ(1 − γλ)   (decoupled)
//! m ← lerp(m, g, 1 − β1)        (PyTorch's exp_avg.lerp_)
//! v ← β2·v + ((1 − β2)·g)·g
//! d ← √(v / (1 − β2ᵗ)) + ε
//! θ ← θ + (−γ(1 − μₜ)/(1 − Π))·g / d
//! θ ← θ + (−γμₜ₊₁/(1 − Π·μₜ₊₁))·m / d
//! ```

use super::AdamMoments;
use crate::driver::{Block, Elementwise};
use crate::engine::{Rule, Signature, TensorPtrs};
use crate::simd::{self, SqLanes, A64, LANES};

rule_signature! {
    /// NAdam.
    Nadam {
        hyper NadamHyper { lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled: bool, maximize: bool }
        slots [exp_avg, exp_avg_sq]
        extra mu_product = 1.0
    }
}

#[derive(Clone, Copy, Debug)]
pub struct NadamScalars {
    mom: AdamMoments,
    bc2: f32,
    /// 1/(1 − β2ᵗ) for `simd::div_by_scalar`, when the divisor is in its range.
    bc2_recip: Option<f32>,
    eps: f32,
    /// −γ(1 − μₜ)/(1 − Π), the gradient's coefficient.
    cg: f32,
    /// −γμₜ₊₁/(1 − Π·μₜ₊₁), the momentum's coefficient.
    cm: f32,
}

impl Rule for Nadam {
    type Scalars = NadamScalars;

    fn slots_needed(_h: &NadamHyper) -> u32 {
        0b11
    }

    fn scalars(h: &NadamHyper, step: f64, fresh: u32) -> NadamScalars {
        // Only reached by callers without state; the engine uses `scalars_extra`.
        let mut mu_product = Self::EXTRA_INIT;
        Self::scalars_extra(h, step, fresh, &mut mu_product)
    }

    fn scalars_extra(h: &NadamHyper, step: f64, _fresh: u32, mu_product: &mut f64) -> NadamScalars {
        let (lr, b1, psi) = (h.lr, h.beta1, h.momentum_decay);
        let bc2 = 1.0 - h.beta2.powf(step);
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(step * psi));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((step + 1.0) * psi));
        // PyTorch's `mu_product *= mu` multiplies a float32 tensor by a float32 scalar.
        *mu_product = (*mu_product as f32 * mu as f32) as f64;
        let mu_product_next = *mu_product * mu_next;
        NadamScalars {
            mom: AdamMoments::new(lr, b1, h.beta2, h.weight_decay, h.decoupled, h.maximize),
            bc2: bc2 as f32,
            bc2_recip: simd::scalar_reciprocal(bc2 as f32),
            eps: h.eps as f32,
            cg: (-lr * (1.0 - mu) / (1.0 - *mu_product)) as f32,
            cm: ((-lr * mu_next) / (1.0 - mu_product_next)) as f32,
        }
    }

    unsafe fn apply(s: &NadamScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(NadamElem[s.mom.coupled, s.mom.lerp_small](s, t, a, b, sq))
    }
}

/// The new θ from the gradient, the new m and q = v / (1 − β2ᵗ).
#[inline(always)]
fn nadam_param(p: f32, g: f32, m: f32, q: f32, s: &NadamScalars) -> f32 {
    let p = p * s.mom.decay; // θ ← θ(1 − γλ)
    let d = q.sqrt() + s.eps; // d ← √(v / (1 − β2ᵗ)) + ε
    let p = p + (s.cg * g) / d; // θ ← θ − γ(1 − μₜ)/(1 − Π) · g / d
    p + (s.cm * m) / d // θ ← θ − γμₜ₊₁/(1 − Π·μₜ₊₁) · m / d
}

/// NAdam's element, compiled per coupled decay and lerp form.
struct NadamElem<const CWD: bool, const SMALL: bool>;

impl<const CWD: bool, const SMALL: bool> Elementwise<2> for NadamElem<CWD, SMALL> {
    type Scalars = NadamScalars;
    const USES: [bool; 2] = [true, true];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &NadamScalars, p: &mut f32, g: f32, [m, v]: [&mut f32; 2]) {
        let g = s.mom.grad::<CWD>(*p, g); // g ← −g if maximize; g ← g + λθ
        (*m, *v) = (s.mom.first::<SMALL>(*m, g), s.mom.second(*v, g));
        *p = nadam_param(*p, g, *m, *v / s.bc2, s);
    }

    /// With FMA, `v / (1 − β2ᵗ)` by `simd::div_by_scalar` (the same bits), one divide fewer of
    /// the three per element. (Both quotients by d from one reciprocal, corrected the same way,
    /// measured slower than the two divides.)
    #[inline(always)]
    fn by_blocks(s: &NadamScalars) -> Option<f32> {
        s.bc2_recip
    }

    /// Moments of the block first, then its v / (1 − β2ᵗ), then θ.
    #[inline(always)]
    fn block(b: Block<'_, NadamScalars, 2>) {
        let Block { s, y, p, g, st: [m, v] } = b;
        let len = p.len();
        let (mut gb, mut mb, mut vb, mut q) = (A64([0.0; LANES]), A64([0.0; LANES]), A64([0.0; LANES]), A64([0.0; LANES]));
        for j in 0..len {
            gb[j] = s.mom.grad::<CWD>(p[j], g[j]);
            (mb[j], vb[j]) = (s.mom.first::<SMALL>(m[j], gb[j]), s.mom.second(v[j], gb[j]));
            (m[j], v[j]) = (mb[j], vb[j]);
        }
        simd::div_by_scalar(&vb.0, len, s.bc2, y, &mut q.0);
        for j in 0..len {
            p[j] = nadam_param(p[j], gb[j], mb[j], q[j], s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::step_vecs;
    use crate::engine::Engine;
    use crate::engine::Hyper;
    use crate::kernels::test_util::*;

    /// PyTorch's `_single_tensor_nadam` transcribed line by line, on scalars. The state's third
    /// vector holds `mu_product` (a float32, as PyTorch's state tensor).
    fn reference(h: [f64; 8]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, t| {
            let [lr, b1, b2, eps, wd, psi, dec, max] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()], vec![0.0; p.len()], vec![1.0]];
            }
            let step = t as f64;
            let bias_correction2 = 1.0 - b2.powf(step);
            let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(step * psi));
            let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((step + 1.0) * psi));
            st[2][0] *= mu as f32;
            let mu_product = st[2][0] as f64;
            let mu_product_next = mu_product * mu_next;
            for i in 0..p.len() {
                let [m, v] = st.get_disjoint_mut([0, 1]).unwrap();
                let gi = adam_moments_ref(&mut p[i], g[i], &mut m[i], &mut v[i], [lr, b1, b2, wd], dec != 0.0, max != 0.0);
                let denom = (st[1][i] / bias_correction2 as f32).sqrt() + eps as f32;
                p[i] += (-lr * (1.0 - mu) / (1.0 - mu_product)) as f32 * gi / denom;
                p[i] += ((-lr * mu_next) / (1.0 - mu_product_next)) as f32 * st[0][i] / denom;
            }
        }
    }

    const CONFIGS: &[[f64; 8]] = &[
        [2e-3, 0.9, 0.999, 1e-8, 0.0, 4e-3, 0.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-8, 0.1, 4e-3, 0.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-8, 0.1, 4e-3, 1.0, 0.0],
        [3e-3, 0.8, 0.99, 1e-6, 0.01, 0.3, 0.0, 1.0],
        [3e-3, 0.4, 0.5, 1e-6, 0.5, 0.0, 1.0, 1.0],
        [2e-2, 0.0, 0.7, 1e-3, 0.0, 1.0, 0.0, 1.0],
    ];

    #[test]
    fn nadam_matches_the_scalar_transcription_of_pytorch_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Nadam>(h, reference(*h));
        }
    }

    #[test]
    fn nadam_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Nadam>(h);
        }
    }

    #[test]
    fn mu_product_is_a_float32_running_product_per_parameter() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let h = CONFIGS[3];
        let hp = NadamHyper::parse(&h);
        let mut e = Engine::<Nadam>::new();
        e.add_params(&[3, 5]);
        let mut p = vec![vec![0.5f32; 3], vec![0.5f32; 5]];
        let mut expect = 1.0f32;
        for t in 1..=4 {
            let mut g = vec![vec![0.25f32; 3], vec![0.25f32; 5]];
            step_vecs(&mut e, &mut p, &mut g, &h).unwrap();
            expect *= (hp.beta1 * (1.0 - 0.5 * 0.96f64.powf(t as f64 * hp.momentum_decay))) as f32;
            assert_eq!(e.states[0].extra, expect as f64);
            assert_eq!(e.states[1].extra, expect as f64);
        }
        e.clear_state(0);
        assert_eq!(e.states[0].extra, 1.0);
    }

    #[test]
    fn zero_learning_rate_changes_nothing() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Nadam>(&[0.0, 0.9, 0.999, 1e-8, 0.1, 4e-3, 1.0, 1.0], 3, 5);
        assert_eq!(p, init(LENS, 5));
    }
}
