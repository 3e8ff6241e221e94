//! Schedule-Free SGD and AdamW (Defazio et al. 2024, "The Road Less Scheduled"; PyPI
//! `schedulefree` 1.4, `SGDScheduleFree` and `AdamWScheduleFree`, whose single-tensor and foreach
//! paths compute the same), and the interpolation of their `train()` and `eval()`.
//!
//! θ holds y, the point where the gradient is taken; the state z is the base iterate, and the
//! evaluation point x = (y − (1 − β1)·z)/β1 is not stored. What a group computes once per step in
//! f64 from its scalar state (k, the weight sum, lr_max) arrives as hyperparameters: the scheduled
//! lr γ = lr·min(1, (k + 1)/warmup), the averaging weight c = w/Σw and, for AdamW,
//! 1 − β2^(k+1) (the TypeScript descriptors compute them, as `schedulefree` does per group).
//!
//! ```text
//! z ← θ                                  (a parameter's first step: z starts as a copy of θ)
//! v ← β2·v + ((1 − β2)·g)·g              (AdamW)
//! g ← g / (√(v / (1 − β2^(k+1))) + ε)   (AdamW: the normalised gradient)
//! g ← g + λ·θ                            (λ ≠ 0: weight decay at y)
//! θ ← lerp(θ, z, c)                      (ATen's lerp_, its form chosen by the float32 weight)
//! θ ← θ + γ·(β1·(1 − c) − 1)·g           (the coefficient in f64, rounded once)
//! z ← z + (−γ)·g
//! ```
//!
//! `train()` and `eval()` move θ between y and x: θ ← lerp(θ, z, 1 − β1) and
//! θ ← lerp(θ, z, 1 − 1/β1) ([`interpolate`]). torch's vectorised `lerp_` and `add_(alpha)` are
//! fused multiply-adds; here every operation is rounded on its own, as in the other kernels.

use super::Lerp;
use crate::driver::{self, Elementwise};
use crate::engine::{first_overlap, Buf, Error, Rule, TensorPtrs};
use crate::simd::{self, Simd, SqLanes};

rule_signature! {
    /// Schedule-Free SGD.
    SgdScheduleFree {
        hyper SgdScheduleFreeHyper { lr, ckp1, momentum, weight_decay }
        slots [z]
    }
}

rule_signature! {
    /// Schedule-Free AdamW.
    AdamWScheduleFree {
        hyper AdamWScheduleFreeHyper { lr, ckp1, beta1, beta2, eps, weight_decay, bias_correction2 }
        slots [z, exp_avg_sq]
    }
}

/// What the two rules share: the y and z updates.
#[derive(Clone, Copy, Debug)]
pub struct ScheduleFreeScalars {
    /// lerp(θ, z, c).
    to_z: Lerp,
    /// γ·(β1·(1 − c) − 1).
    cy: f32,
    /// −γ.
    neg_lr: f32,
    /// λ, applied when `decay`.
    wd: f32,
    decay: bool,
    /// z was created for this step: it starts as a copy of θ.
    first: bool,
}

impl ScheduleFreeScalars {
    fn new(lr: f64, ckp1: f64, beta1: f64, weight_decay: f64, fresh: u32) -> Self {
        ScheduleFreeScalars {
            to_z: Lerp::new(ckp1),
            cy: (lr * (beta1 * (1.0 - ckp1) - 1.0)) as f32,
            // `z.sub_(g, alpha=lr)` adds g times −lr, rounded to float32.
            neg_lr: (-lr) as f32,
            wd: weight_decay as f32,
            decay: weight_decay != 0.0,
            first: fresh & 1 != 0,
        }
    }
}

/// The new (θ, z) from θ, z and the (normalised, decayed) gradient d.
#[inline(always)]
fn sf_update<const SMALL: bool>(y: f32, z: f32, d: f32, s: &ScheduleFreeScalars) -> (f32, f32) {
    let y = s.to_z.apply::<SMALL>(y, z); // θ ← lerp(θ, z, c)
    let y = y + s.cy * d; // θ ← θ + γ(β1(1 − c) − 1)·d
    let z = z + s.neg_lr * d; // z ← z − γ·d
    (y, z)
}

impl Rule for SgdScheduleFree {
    type Scalars = ScheduleFreeScalars;

    fn slots_needed(_h: &SgdScheduleFreeHyper) -> u32 {
        0b1
    }

    fn scalars(h: &SgdScheduleFreeHyper, _step: f64, fresh: u32) -> ScheduleFreeScalars {
        ScheduleFreeScalars::new(h.lr, h.ckp1, h.momentum, h.weight_decay, fresh)
    }

    unsafe fn apply(s: &ScheduleFreeScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(SgdSfElem[s.first, s.decay, s.to_z.small](s, t, a, b, sq))
    }
}

/// Schedule-Free SGD's element, compiled per first step, weight decay and lerp form.
struct SgdSfElem<const FIRST: bool, const WD: bool, const SMALL: bool>;

impl<const FIRST: bool, const WD: bool, const SMALL: bool> Elementwise<1> for SgdSfElem<FIRST, WD, SMALL> {
    type Scalars = ScheduleFreeScalars;
    const USES: [bool; 1] = [true];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &ScheduleFreeScalars, p: &mut f32, g: f32, [z]: [&mut f32; 1]) {
        if FIRST {
            *z = *p; // z ← θ
        }
        let d = if WD { g + s.wd * *p } else { g }; // g ← g + λθ
        (*p, *z) = sf_update::<SMALL>(*p, *z, d, s);
    }
}

#[derive(Clone, Copy, Debug)]
pub struct AdamWScheduleFreeScalars {
    sf: ScheduleFreeScalars,
    b2: f32,
    /// 1 − β2, as torch rounds `addcmul_(value=1 − β2)`.
    c2: f32,
    /// 1 − β2^(k+1).
    bc2: f32,
    eps: f32,
}

impl Rule for AdamWScheduleFree {
    type Scalars = AdamWScheduleFreeScalars;

    fn slots_needed(_h: &AdamWScheduleFreeHyper) -> u32 {
        0b11
    }

    fn scalars(h: &AdamWScheduleFreeHyper, _step: f64, fresh: u32) -> AdamWScheduleFreeScalars {
        AdamWScheduleFreeScalars {
            sf: ScheduleFreeScalars::new(h.lr, h.ckp1, h.beta1, h.weight_decay, fresh),
            b2: h.beta2 as f32,
            c2: (1.0 - h.beta2) as f32,
            bc2: h.bias_correction2 as f32,
            eps: h.eps as f32,
        }
    }

    unsafe fn apply(s: &AdamWScheduleFreeScalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        elementwise!(AdamWSfElem[s.sf.first, s.sf.decay, s.sf.to_z.small](s, t, a, b, sq))
    }
}

/// Schedule-Free AdamW's element, compiled per first step, weight decay and lerp form.
struct AdamWSfElem<const FIRST: bool, const WD: bool, const SMALL: bool>;

impl<const FIRST: bool, const WD: bool, const SMALL: bool> Elementwise<2> for AdamWSfElem<FIRST, WD, SMALL> {
    type Scalars = AdamWScheduleFreeScalars;
    const USES: [bool; 2] = [true, true];

    #[inline(always)]
    fn elem<const FMA: bool>(s: &AdamWScheduleFreeScalars, p: &mut f32, g: f32, [z, v]: [&mut f32; 2]) {
        if FIRST {
            *z = *p; // z ← θ
        }
        *v = *v * s.b2 + (s.c2 * g) * g; // v ← β2·v + (1 − β2)·g·g
        let d = g / ((*v / s.bc2).sqrt() + s.eps); // g ← g / (√(v / (1 − β2^(k+1))) + ε)
        let d = if WD { d + s.sf.wd * *p } else { d }; // g ← g + λθ
        (*p, *z) = sf_update::<SMALL>(*p, *z, d, &s.sf);
    }
}

/// One tensor of an [`interpolate`] call.
#[derive(Clone, Copy)]
struct LerpPtrs {
    param: *mut f32,
    target: *const f32,
    lerp: Lerp,
}

// SAFETY: dereferenced only inside one call, on disjoint element ranges (driver).
unsafe impl Send for LerpPtrs {}
unsafe impl Sync for LerpPtrs {}

/// Schedule-Free's `train()` and `eval()`: θ ← lerp(θ, s, wᵢ) for each parameter `ids[i]`, whose
/// data is `params[i]` and whose state buffer (z) is `targets[i]`, with ATen's `lerp_` of a
/// scalar weight (rounded to float32, which picks the form), all parameters in one parallel
/// region. `len_of(id)` is a parameter's length (None: not registered). Everything is checked
/// (ids, lengths, weights, overlap) before anything is written.
///
/// # Safety
/// Every `Buf` points to `len` valid, initialised f32s that nothing else accesses during the call.
pub unsafe fn interpolate(
    ids: &[u32],
    params: &[Buf],
    targets: &[Buf],
    weights: &[f64],
    len_of: impl Fn(u32) -> Option<usize>,
) -> Result<(), Error> {
    if params.len() != ids.len() || targets.len() != ids.len() || weights.len() != ids.len() {
        return Err(Error::Range(format!(
            "expected as many params, state buffers and weights as ids ({}), received {}, {} and {}",
            ids.len(),
            params.len(),
            targets.len(),
            weights.len()
        )));
    }
    let mut spans = Vec::with_capacity(2 * ids.len());
    let mut tensors = Vec::with_capacity(ids.len());
    let mut layout = driver::Layout::new();
    for (i, &id) in ids.iter().enumerate() {
        let Some(len) = len_of(id) else {
            return Err(Error::Range(format!("expected a registered parameter id, received {id}")));
        };
        if !weights[i].is_finite() {
            return Err(Error::Range(format!("expected the weight of parameter {id} to be finite, received {}", weights[i])));
        }
        for (b, what, tag) in [(params[i], "data", 2 * i), (targets[i], "state", 2 * i + 1)] {
            if b.len != len {
                return Err(Error::Range(format!(
                    "expected {what} of parameter {id} to have length {len}, received {} (a detached buffer has length 0)",
                    b.len
                )));
            }
            if len > 0 {
                spans.push((b.ptr as usize, b.ptr as usize + 4 * len, tag));
            }
        }
        tensors.push(LerpPtrs { param: params[i].ptr, target: targets[i].ptr, lerp: Lerp::new(weights[i]) });
        layout.push(len);
    }
    // A parameter listed twice overlaps itself.
    if let Some((a, b)) = first_overlap(&spans) {
        let what = |t: usize| format!("{} of parameter {}", if t.is_multiple_of(2) { "data" } else { "state" }, ids[t / 2]);
        return Err(Error::Range(format!("{} and {} view overlapping memory; every parameter needs its own buffer", what(a), what(b))));
    }
    driver::for_each_piece(&layout, |t, a, b| {
        let tp = tensors[t];
        // SAFETY: pieces are disjoint ranges within each tensor's length (driver); every data and
        // state buffer is disjoint from the others (checked above).
        let (p, s) =
            unsafe { (std::slice::from_raw_parts_mut(tp.param.add(a), b - a), std::slice::from_raw_parts(tp.target.add(a), b - a)) };
        if tp.lerp.small {
            simd::dispatch(LerpBody::<true> { p, s, lerp: &tp.lerp });
        } else {
            simd::dispatch(LerpBody::<false> { p, s, lerp: &tp.lerp });
        }
    });
    Ok(())
}

struct LerpBody<'a, const SMALL: bool> {
    p: &'a mut [f32],
    s: &'a [f32],
    lerp: &'a Lerp,
}

impl<const SMALL: bool> Simd for LerpBody<'_, SMALL> {
    #[inline(always)]
    fn run(self) {
        let (p, s, lerp) = (self.p, self.s, self.lerp);
        let n = p.len();
        assert_eq!(s.len(), n);
        // SAFETY: `each_plain` passes i < n, the length of both slices.
        simd::each_plain(n, simd::Ahead::of([&*p, s]), |i| unsafe {
            let x = p.get_unchecked_mut(i);
            *x = lerp.apply::<SMALL>(*x, *s.get_unchecked(i)); // θ ← lerp(θ, z, w)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::{step_vecs, value};
    use crate::engine::{Engine, Hyper};
    use crate::kernels::test_util::*;
    use crate::simd::Level;

    /// ATen's `lerp_` with a scalar weight, on scalars (its second form written as [`Lerp`]
    /// writes it, which can differ from ATen's in the sign of a zero).
    fn lerp(a: f32, b: f32, w: f64) -> f32 {
        let w = w as f32;
        if w.abs() < 0.5 {
            a + w * (b - a)
        } else {
            b + (1.0 - w) * (a - b)
        }
    }

    /// `schedulefree`'s per-group scalars of step k (0-based), as the TypeScript descriptors
    /// compute them: (γ, c, 1 − β2^(k+1)), advancing (Σw, lr_max).
    fn advance(k: u32, lr: f64, beta2: f64, [warmup, r, power]: [f64; 3], sum: &mut f64, lr_max: &mut f64) -> (f64, f64, f64) {
        let k = k as f64;
        let sched = if k < warmup { (k + 1.0) / warmup } else { 1.0 };
        let lr = lr * sched;
        *lr_max = if *lr_max > lr { *lr_max } else { lr };
        let weight = (k + 1.0).powf(r) * lr_max.powf(power);
        *sum += weight;
        let ckp1 = if *sum == 0.0 { 0.0 } else { weight / *sum };
        (lr, ckp1, 1.0 - beta2.powf(k + 1.0))
    }

    /// `SGDScheduleFree.step` (one tensor, `foreach=False`) transcribed on scalars; the state
    /// holds z.
    fn sgd_reference(p: &mut [f32], g: &[f32], st: &mut Vec<Vec<f32>>, [lr, ckp1, momentum, wd]: [f64; 4]) {
        if st.is_empty() {
            *st = vec![p.to_vec()];
        }
        let z = &mut st[0];
        for i in 0..p.len() {
            let mut gi = g[i];
            if wd != 0.0 {
                gi += wd as f32 * p[i];
            }
            p[i] = lerp(p[i], z[i], ckp1);
            p[i] += (lr * (momentum * (1.0 - ckp1) - 1.0)) as f32 * gi;
            z[i] += (-lr) as f32 * gi;
        }
    }

    /// `AdamWScheduleFree.step` (one tensor, `foreach=False`) transcribed on scalars; the state
    /// holds z and exp_avg_sq.
    fn adamw_reference(p: &mut [f32], g: &[f32], st: &mut Vec<Vec<f32>>, [lr, ckp1, beta1, beta2, eps, wd, bc2]: [f64; 7]) {
        if st.is_empty() {
            *st = vec![p.to_vec(), vec![0.0; p.len()]];
        }
        let [z, v] = st.get_disjoint_mut([0, 1]).unwrap();
        for i in 0..p.len() {
            v[i] = v[i] * beta2 as f32 + (1.0 - beta2) as f32 * g[i] * g[i];
            let denom = (v[i] / bc2 as f32).sqrt() + eps as f32;
            let mut gi = g[i] / denom;
            if wd != 0.0 {
                gi += wd as f32 * p[i];
            }
            p[i] = lerp(p[i], z[i], ckp1);
            p[i] += (lr * (beta1 * (1.0 - ckp1) - 1.0)) as f32 * gi;
            z[i] += (-lr) as f32 * gi;
        }
    }

    /// [warmup, r, weight_lr_power] and the options of each configuration.
    const SGD_CONFIGS: &[([f64; 3], [f64; 3])] = &[
        ([0.0, 0.0, 2.0], [1.0, 0.9, 0.0]),
        ([5.0, 0.0, 2.0], [0.1, 0.9, 0.01]),
        ([0.0, 1.0, 0.0], [0.5, 0.5, 0.0]),
        ([3.0, 0.5, 1.0], [0.2, 0.3, 0.1]),
    ];
    const ADAMW_CONFIGS: &[([f64; 3], [f64; 5])] = &[
        ([0.0, 0.0, 2.0], [0.0025, 0.9, 0.999, 1e-8, 0.0]),
        ([4.0, 0.0, 2.0], [0.01, 0.9, 0.999, 1e-8, 0.01]),
        ([0.0, 1.0, 0.0], [0.01, 0.95, 0.99, 1e-6, 0.0]),
        ([2.0, 0.5, 1.0], [0.02, 0.3, 0.9, 1e-3, 0.1]),
    ];

    /// Runs 6 steps of the engine and of `reference` with the per-group scalars of each step.
    fn check<R: Rule>(
        hyper_of: impl Fn(u32, &mut f64, &mut f64) -> Vec<f64>,
        reference: impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, &[f64]),
    ) {
        let seed = 13;
        crate::driver::set_par_min(Some(32768));
        let mut e = Engine::<R>::new();
        e.add_params(LENS);
        let mut got = init(LENS, seed);
        let mut want = got.clone();
        let mut states: Vec<Vec<Vec<f32>>> = LENS.iter().map(|_| Vec::new()).collect();
        let (mut sum, mut lr_max) = (0.0, -1.0);
        for t in 1..=6 {
            let h = hyper_of(t - 1, &mut sum, &mut lr_max);
            let mut g = grads(LENS, seed, t);
            step_vecs(&mut e, &mut got, &mut g, &h).unwrap();
            for j in 0..LENS.len() {
                reference(&mut want[j], &g[j], &mut states[j], &h);
            }
        }
        for j in 0..LENS.len() {
            for i in 0..LENS[j] {
                assert_eq!(got[j][i].to_bits(), want[j][i].to_bits(), "tensor {j} element {i}: {} vs {}", got[j][i], want[j][i]);
            }
            assert_eq!(e.states[j].slots[0].as_deref().unwrap_or(&[]), &states[j][0][..], "z of tensor {j}");
        }
    }

    fn sgd_hyper(c: &([f64; 3], [f64; 3])) -> impl Fn(u32, &mut f64, &mut f64) -> Vec<f64> + '_ {
        move |k, sum, lr_max| {
            let [lr, momentum, wd] = c.1;
            let (lr, ckp1, _) = advance(k, lr, 0.0, c.0, sum, lr_max);
            vec![lr, ckp1, momentum, wd]
        }
    }

    fn adamw_hyper(c: &([f64; 3], [f64; 5])) -> impl Fn(u32, &mut f64, &mut f64) -> Vec<f64> + '_ {
        move |k, sum, lr_max| {
            let [lr, beta1, beta2, eps, wd] = c.1;
            let (lr, ckp1, bc2) = advance(k, lr, beta2, c.0, sum, lr_max);
            vec![lr, ckp1, beta1, beta2, eps, wd, bc2]
        }
    }

    #[test]
    fn sgd_schedule_free_matches_the_scalar_transcription_of_schedulefree() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for c in SGD_CONFIGS {
            check::<SgdScheduleFree>(sgd_hyper(c), |p, g, st, h| sgd_reference(p, g, st, h.try_into().unwrap()));
        }
    }

    #[test]
    fn adamw_schedule_free_matches_the_scalar_transcription_of_schedulefree() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for c in ADAMW_CONFIGS {
            check::<AdamWScheduleFree>(adamw_hyper(c), |p, g, st, h| adamw_reference(p, g, st, h.try_into().unwrap()));
        }
    }

    #[test]
    fn both_are_bit_identical_across_simd_levels_and_thread_counts() {
        for c in SGD_CONFIGS {
            let (mut sum, mut lr_max) = (0.0, -1.0);
            assert_level_and_thread_invariant::<SgdScheduleFree>(&sgd_hyper(c)(2, &mut sum, &mut lr_max));
        }
        for c in ADAMW_CONFIGS {
            let (mut sum, mut lr_max) = (0.0, -1.0);
            assert_level_and_thread_invariant::<AdamWScheduleFree>(&adamw_hyper(c)(3, &mut sum, &mut lr_max));
        }
    }

    #[test]
    fn the_first_step_starts_z_as_a_copy_of_the_parameter() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        // c = 1 on the first step: θ ← lerp(θ, θ, 1) = θ, then θ + γ(β1·0 − 1)·g and z − γ·g.
        let mut e = Engine::<SgdScheduleFree>::new();
        e.add_params(&[3]);
        let mut p = vec![vec![1.0f32, -2.0, 0.5]];
        let mut g = vec![vec![0.5f32, 0.25, -1.0]];
        step_vecs(&mut e, &mut p, &mut g, &[0.5, 1.0, 0.9, 0.0]).unwrap();
        assert_eq!(p[0], vec![0.75, -2.125, 1.0]);
        assert_eq!(e.states[0].slots[0].as_deref(), Some(&[0.75, -2.125, 1.0][..]));
    }

    #[test]
    fn zero_learning_rate_changes_nothing() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        // lr 0 makes every weight (lr_max^power) 0, so c = 0 and both steps add ±0.
        assert_eq!(run::<SgdScheduleFree>(&[0.0, 0.0, 0.9, 0.1], 3, 5), init(LENS, 5));
        assert_eq!(run::<AdamWScheduleFree>(&[0.0, 0.0, 0.9, 0.999, 1e-8, 0.1, 0.5], 3, 5), init(LENS, 5));
    }

    #[test]
    fn a_declaration_lists_the_hyperparameters_in_packing_order() {
        let h = AdamWScheduleFreeHyper::parse(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!((h.lr, h.ckp1, h.beta1, h.beta2, h.eps, h.weight_decay, h.bias_correction2), (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0));
        assert_eq!(SgdScheduleFreeHyper::NAMES, &["lr", "ckp1", "momentum", "weight_decay"]);
    }

    fn lerp_all(p: &mut [Vec<f32>], z: &mut [Vec<f32>], weights: &[f64]) -> Result<(), Error> {
        let ids: Vec<u32> = (0..p.len() as u32).collect();
        let pb: Vec<Buf> = p.iter_mut().map(|v| Buf { ptr: v.as_mut_ptr(), len: v.len() }).collect();
        let zb: Vec<Buf> = z.iter_mut().map(|v| Buf { ptr: v.as_mut_ptr(), len: v.len() }).collect();
        // SAFETY: the vectors are exclusively borrowed for the call.
        unsafe { interpolate(&ids, &pb, &zb, weights, |id| LENS.get(id as usize).copied()) }
    }

    fn data(seed: u32, step: u32) -> Vec<Vec<f32>> {
        LENS.iter().enumerate().map(|(j, &n)| (0..n as u32).map(|i| value(seed, step, j as u32, i)).collect()).collect()
    }

    #[test]
    fn interpolation_is_atens_lerp_in_both_forms_at_every_level_and_thread_count() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        crate::driver::set_par_min(Some(32768));
        // eval and train with β1 0.9 (small weights), β1 0.3 (large ones), mixed per tensor.
        let weights: Vec<f64> = (0..LENS.len()).map(|j| [1.0 - 1.0 / 0.9, 0.1, 1.0 - 1.0 / 0.3, 0.7][j % 4]).collect();
        let mut z = data(3, 1);
        let mut want = data(3, 0);
        for (j, w) in weights.iter().enumerate() {
            want[j].iter_mut().zip(&z[j]).for_each(|(p, &s)| *p = lerp(*p, s, *w));
        }
        for lvl in [Level::Baseline, Level::Avx2, Level::Avx512] {
            for threads in [1, 2, 3] {
                simd::force(lvl);
                crate::pool::set_num_threads(threads).unwrap();
                let mut p = data(3, 0);
                lerp_all(&mut p, &mut z, &weights).unwrap();
                assert!(p == want, "level {lvl:?}, {threads} threads");
            }
        }
        simd::force(simd::detected());
    }

    #[test]
    fn bad_interpolations_are_rejected_before_anything_changes() {
        let mut a = vec![1.0f32; 8];
        let p = a.as_mut_ptr();
        let len_of = |id: u32| [4usize, 4][..].get(id as usize).copied();
        // SAFETY: the pointers are only compared by the checks, which reject every call.
        unsafe {
            let (x, y) = (Buf { ptr: p, len: 4 }, Buf { ptr: p.add(4), len: 4 });
            let overlapping = Buf { ptr: p.add(2), len: 4 };
            let err = interpolate(&[0], &[x], &[overlapping], &[0.5], len_of).unwrap_err();
            assert!(matches!(&err, Error::Range(m) if m.contains("overlapping")), "{err}");
            assert!(interpolate(&[0, 0], &[x, y], &[y, x], &[0.5, 0.5], len_of).is_err());
            assert!(interpolate(&[0], &[x], &[y], &[f64::NAN], len_of).is_err());
            assert!(interpolate(&[2], &[x], &[y], &[0.5], len_of).is_err());
            assert!(interpolate(&[0], &[Buf { ptr: p, len: 3 }], &[y], &[0.5], len_of).is_err());
            assert!(interpolate(&[0], &[x], &[y], &[], len_of).is_err());
        }
        assert!(a.iter().all(|&x| x == 1.0));
    }
}
