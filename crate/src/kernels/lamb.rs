//! LAMB (You et al. 2020, v3 of arXiv:1904.00962), the variant of torch-optimizer
//! (`torch_optimizer/lamb.py`, after cybertronai/pytorch-lamb): weight decay inside the
//! direction, ‖θ‖ clamped, no bias correction unless `debias`, one trust ratio per tensor.
//!
//! ```text
//! m ← β1·m + (1 − β1)·g
//! v ← β2·v + (1 − β2)·g·g
//! u ← m / (√v + ε) + λθ                         (λθ only when λ ≠ 0)
//! φ ← min(‖θ‖, clamp_value)                     (per tensor, f64)
//! r ← φ / ‖u‖, or 1 when φ = 0 or ‖u‖ < 2⁻¹²⁶; 1 when `adam`
//! η ← γ·√(1 − β2ᵗ)/(1 − β1ᵗ) if debias, else γ
//! θ ← θ − η·r·u
//! ```
//!
//! Two passes over memory ([`Rule::TWO_PASS`]): the first updates m and v and sums θ² and u² of
//! each piece in f64 (the 32 interleaved lanes of [`crate::simd::sum_squares`], combined in its
//! fixed order, so the norms do not depend on SIMD level or thread count); the
//! second recomputes u from the stored m and v, bit for bit as in the first, and updates θ. The
//! norms, the trust ratio and η·r are computed in f64 and the final factor rounded once to f32
//! (the reference computes them in float32 tensors).
//!
//! Deviation: r is 1 when ‖u‖ is below float32's smallest normal number (2⁻¹²⁶), not only when
//! it is 0. Such a direction is rounding noise (a zero gradient with a subnormal weight decay), and
//! φ/‖u‖ then overflows: the reference writes ±inf and NaN into finite weights there.

use crate::engine::{Rule, TensorPtrs};
use crate::simd::{self, combine_lanes, Simd, SqLanes, A64, LANES};

/// ‖u‖ below float32's smallest normal number counts as 0 (see the module's deviation note).
const MIN_NORMAL_F32: f64 = f32::MIN_POSITIVE as f64;

rule_signature! {
    /// LAMB.
    Lamb {
        hyper LambHyper { lr, beta1, beta2, eps, weight_decay, clamp_value, debias: bool, adam: bool }
        slots [exp_avg, exp_avg_sq]
    }
}

#[derive(Clone, Copy, Debug)]
pub struct LambScalars {
    b1: f32,
    c1: f32,
    b2: f32,
    c2: f32,
    eps: f32,
    wd: f32,
    coupled: bool,
    clamp: f64,
    /// γ, or γ·√(1 − β2ᵗ)/(1 − β1ᵗ) with debias.
    step_size: f64,
    adam: bool,
    /// −η·r, set by [`Rule::finish`].
    neg_step: f32,
    /// The trust ratio r (kept for tests and diagnostics).
    pub trust_ratio: f64,
}

impl Rule for Lamb {
    type Scalars = LambScalars;
    const TWO_PASS: bool = true;

    fn slots_needed(_h: &LambHyper) -> u32 {
        0b11
    }

    fn scalars(h: &LambHyper, step: f64, _fresh: u32) -> LambScalars {
        let (lr, b1, b2) = (h.lr, h.beta1, h.beta2);
        let step_size = if h.debias { lr * ((1.0 - b2.powf(step)).sqrt() / (1.0 - b1.powf(step))) } else { lr };
        LambScalars {
            b1: b1 as f32,
            c1: (1.0 - b1) as f32,
            b2: b2 as f32,
            c2: (1.0 - b2) as f32,
            eps: h.eps as f32,
            wd: h.weight_decay as f32,
            coupled: h.weight_decay != 0.0,
            clamp: h.clamp_value,
            step_size,
            adam: h.adam,
            neg_step: 0.0,
            trust_ratio: 1.0,
        }
    }

    unsafe fn reduce(s: &LambScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) -> [f64; 2] {
        let (p, g, m, v) = (&*t.param(a, b), t.grad(a, b), t.slot(0, a, b), t.slot(1, a, b));
        let mut lanes = [A64([0.0; LANES]); 2];
        if s.coupled {
            simd::dispatch(LambReduce::<true> { p, g, m, v, s, lanes: &mut lanes, sq });
        } else {
            simd::dispatch(LambReduce::<false> { p, g, m, v, s, lanes: &mut lanes, sq });
        }
        // The lanes combined in the fixed order of `simd::sum_squares`.
        lanes.map(|l| combine_lanes(&l))
    }

    fn finish(s: &mut LambScalars, [theta_sq, u_sq]: [f64; 2]) {
        let weight_norm = theta_sq.sqrt();
        // clamp(‖θ‖, 0, clamp_value); a NaN norm stays NaN, as torch's clamp.
        let weight_norm = if weight_norm > s.clamp { s.clamp } else { weight_norm };
        let adam_norm = u_sq.sqrt();
        let r = if weight_norm == 0.0 || adam_norm < MIN_NORMAL_F32 { 1.0 } else { weight_norm / adam_norm };
        s.trust_ratio = r;
        let r = if s.adam { 1.0 } else { r };
        s.neg_step = (-(s.step_size * r)) as f32;
    }

    unsafe fn apply(s: &LambScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        // Σg² is gathered in `reduce`, where the gradient is read; the engine never asks here.
        debug_assert!(sq.is_none());
        let (p, m, v) = (t.param(a, b), &*t.slot(0, a, b), &*t.slot(1, a, b));
        if s.coupled {
            simd::dispatch(LambApply::<true> { p, m, v, s });
        } else {
            simd::dispatch(LambApply::<false> { p, m, v, s });
        }
    }
}

/// The direction u of one element from the updated m and v (shared by both passes).
#[inline(always)]
fn lamb_u<const CWD: bool>(p: f32, m: f32, v: f32, s: &LambScalars) -> f32 {
    let r = m / (v.sqrt() + s.eps); // m / (√v + ε)
    if CWD {
        r + s.wd * p // u ← r + λθ
    } else {
        r
    }
}

/// One element of the first pass: returns the new (m, v, u).
#[inline(always)]
fn lamb_moments<const CWD: bool>(p: f32, g: f32, m: f32, v: f32, s: &LambScalars) -> (f32, f32, f32) {
    let m = m * s.b1 + s.c1 * g; // m ← β1·m + (1 − β1)·g
    let v = v * s.b2 + (s.c2 * g) * g; // v ← β2·v + (1 − β2)·g·g
    (m, v, lamb_u::<CWD>(p, m, v, s))
}

struct LambReduce<'a, const CWD: bool> {
    p: &'a [f32],
    g: &'a [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    s: &'a LambScalars,
    lanes: &'a mut [SqLanes; 2],
    sq: Option<&'a mut SqLanes>,
}

impl<const CWD: bool> Simd for LambReduce<'_, CWD> {
    #[inline(always)]
    fn run(self) {
        let (p, g, m, v, s) = (self.p, self.g, self.m, self.v, self.s);
        let n = p.len();
        assert!(m.len() == n && v.len() == n);
        // Lane j of each sum gathers elements j, j + 32, ... of the piece, as `simd::sum_squares`.
        let [mut aw, mut au] = *self.lanes;
        // SAFETY: `each_lane` passes i < n = g.len() and j < LANES; every slice has length n.
        simd::each_lane(n, g, self.sq, simd::Ahead::of([p, g, &*m, &*v]), |i, j| unsafe {
            let (pi, m, v) = (*p.get_unchecked(i), m.get_unchecked_mut(i), v.get_unchecked_mut(i));
            let u;
            (*m, *v, u) = lamb_moments::<CWD>(pi, *g.get_unchecked(i), *m, *v, s);
            aw[j] += pi as f64 * pi as f64; // Σθ²
            au[j] += u as f64 * u as f64; // Σu²
        });
        *self.lanes = [aw, au];
    }
}

struct LambApply<'a, const CWD: bool> {
    p: &'a mut [f32],
    m: &'a [f32],
    v: &'a [f32],
    s: &'a LambScalars,
}

impl<const CWD: bool> Simd for LambApply<'_, CWD> {
    #[inline(always)]
    fn run(self) {
        let (p, m, v, s) = (self.p, self.m, self.v, self.s);
        let n = p.len();
        assert!(m.len() == n && v.len() == n);
        // SAFETY: `each_plain` passes i < n, and every slice has length n.
        simd::each_plain(n, simd::Ahead::of([&*p, m, v]), |i| unsafe {
            let p = p.get_unchecked_mut(i);
            *p = *p + s.neg_step * lamb_u::<CWD>(*p, *m.get_unchecked(i), *v.get_unchecked(i), s);
            // θ ← θ − η·r·u
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::step_vecs;
    use crate::engine::Engine;
    use crate::kernels::test_util::*;

    /// torch-optimizer's `Lamb.step` transcribed line by line, on scalars, with the norms taken
    /// exactly as the engine does (per 8192-element chunk from the tensor's first element, 32
    /// interleaved f64 lanes per piece, combined as `simd::combine_lanes`).
    fn reference(h: [f64; 8]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, t| {
            let [lr, b1, b2, eps, wd, clamp_value, debias, adam] = h;
            if st.is_empty() {
                *st = vec![vec![0.0; p.len()]; 2];
            }
            let step = t as f64;
            let mut u = vec![0.0f32; p.len()];
            for i in 0..p.len() {
                st[0][i] = st[0][i] * b1 as f32 + (1.0 - b1) as f32 * g[i];
                st[1][i] = st[1][i] * b2 as f32 + (1.0 - b2) as f32 * g[i] * g[i];
                u[i] = st[0][i] / (st[1][i].sqrt() + eps as f32);
                if wd != 0.0 {
                    u[i] += wd as f32 * p[i];
                }
            }
            let norm = |x: &[f32]| {
                let mut total = 0.0f64;
                let mut a = 0;
                while a < x.len() {
                    let b = (a + crate::driver::CHUNK).min(x.len());
                    let mut lanes = [0.0f64; 32];
                    for (k, &e) in x[a..b].iter().enumerate() {
                        lanes[k % 32] += e as f64 * e as f64;
                    }
                    let l16: Vec<f64> = (0..16).map(|j| lanes[j] + lanes[j + 16]).collect();
                    let l8: Vec<f64> = (0..8).map(|j| l16[j] + l16[j + 8]).collect();
                    total += ((l8[0] + l8[1]) + (l8[2] + l8[3])) + ((l8[4] + l8[5]) + (l8[6] + l8[7]));
                    a = b;
                }
                total.sqrt()
            };
            let bias_correction = if debias != 0.0 { (1.0 - b2.powf(step)).sqrt() / (1.0 - b1.powf(step)) } else { 1.0 };
            let step_size = lr * bias_correction;
            let weight_norm = norm(p).clamp(0.0, clamp_value);
            let adam_norm = norm(&u);
            let mut trust_ratio = if weight_norm == 0.0 || adam_norm < MIN_NORMAL_F32 { 1.0 } else { weight_norm / adam_norm };
            if adam != 0.0 {
                trust_ratio = 1.0;
            }
            let alpha = (-(step_size * trust_ratio)) as f32;
            for i in 0..p.len() {
                p[i] += alpha * u[i];
            }
        }
    }

    const CONFIGS: &[[f64; 8]] = &[
        [1e-3, 0.9, 0.999, 1e-6, 0.0, 10.0, 0.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-6, 0.01, 10.0, 0.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-6, 0.0, 10.0, 1.0, 0.0],
        [1e-2, 0.8, 0.99, 1e-8, 0.1, 0.5, 1.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-6, 0.01, 10.0, 0.0, 1.0],
        [3e-2, 0.0, 0.5, 1e-3, 0.5, 1e4, 1.0, 0.0],
    ];

    #[test]
    fn lamb_matches_the_scalar_transcription_of_torch_optimizer_for_every_flag_combination() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in CONFIGS {
            assert_matches_reference::<Lamb>(h, reference(*h));
        }
    }

    #[test]
    fn lamb_is_bit_identical_across_simd_levels_and_thread_counts() {
        for h in CONFIGS {
            assert_level_and_thread_invariant::<Lamb>(h);
        }
    }

    #[test]
    fn zero_learning_rate_changes_nothing() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let p = run::<Lamb>(&[0.0, 0.9, 0.999, 1e-6, 0.1, 10.0, 1.0, 0.0], 3, 5);
        assert_eq!(p, init(LENS, 5));
    }

    #[test]
    fn the_trust_ratio_is_one_for_zero_weights_and_clamped_norm_over_update_norm_otherwise() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let lens = [3usize, 4];
        let mut e = Engine::<Lamb>::new();
        e.add_params(&lens);
        // θ = 0 → r = 1: the step is lr·m/(√v + ε) = lr·0.1g/(√(0.001)|g| + ε) ≈ lr·3.16·sign(g);
        // g = 0 gives u = 0.
        let mut p = vec![vec![0.0f32; 3], vec![3.0, 4.0, 0.0, 0.0]];
        let mut g = vec![vec![1.0f32, -1.0, 0.0], vec![1.0, 1.0, 1.0, 1.0]];
        step_vecs(&mut e, &mut p, &mut g, &[0.1, 0.9, 0.999, 1e-6, 0.0, 10.0, 0.0, 0.0]).unwrap();
        let adam_step = 0.1 / 0.001f64.sqrt();
        assert!((p[0][0] as f64 + 0.1 * adam_step).abs() < 1e-4, "{:?}", p[0]);
        assert_eq!(p[0][2], 0.0);
        // ‖θ‖ = 5, u = 3.16 in every element, ‖u‖ = 6.32: θ ← θ − 0.1·(5/6.32)·3.16 = θ − 0.25.
        assert!((p[1][0] - 2.75).abs() < 1e-6 && (p[1][3] + 0.25).abs() < 1e-6, "{:?}", p[1]);
    }
}
