//! One file per optimizer, holding its math and its tests:
//!
//! - a header with the update rule, one comment per equation;
//! - its declaration, `rule_signature!`: the rule, its hyperparameters in the order the caller
//!   packs them (a struct with one typed field each, parsed once per group and step), its state
//!   slots and any scalar state besides `step`. It is the only place these names are written: the
//!   engine and the bindings (`kernelSignatures()`, which the TypeScript descriptors are checked
//!   against) read them from it;
//! - a `Scalars` struct computed once per tensor per step in f64;
//! - the element body, a type generic over the rule's flags that implements
//!   [`Elementwise`](crate::driver::Elementwise): `elem` updates one element, and where working a
//!   block at a time is faster (Adam's and NAdam's division by a per-step scalar), `block` does.
//!   `Rule::apply` is one `elementwise!` line naming the flags; the driver
//!   ([`crate::driver::elementwise`]) slices the piece, checks lengths, prefetches, runs the body
//!   at the SIMD level and gathers Σg²;
//! - tests against a plain scalar transcription of the reference, at every SIMD level and thread
//!   count.
//!
//! LAMB keeps its own two bodies: its first pass reads θ without writing it and gathers sums of
//! its own, and its second reads no gradient and writes no state, which the one-pass driver would
//! turn into extra memory traffic.
//!
//! Low-precision state (`stateDtype: 'bfloat16' | 'int8'`) is not a kernel of its own: [`lowp::Lowp`]
//! wraps a one-pass rule (Adam, SGD, Lion), loading each 256-element tile of its slots to f32,
//! running the rule's own `apply` on it and storing it back, so the update has one definition.
//!
//! Adafactor is not a `Rule`: its state is not the size of each parameter (one statistic per row
//! and per column of a matrix), so it has its own three-pass step over fixed tiles
//! ([`adafactor::step`]) and its own binding (`NativeAdafactor`).

/// One kernel's declaration, the only place its hyperparameters and state slots are named:
///
/// ```text
/// rule_signature! {
///     /// Adam and AdamW.
///     Adam {
///         hyper AdamHyper { lr, beta1, beta2, eps, weight_decay, amsgrad: bool, maximize: bool, decoupled: bool }
///         slots [exp_avg, exp_avg_sq, max_exp_avg_sq]
///     }
/// }
/// ```
///
/// declares the rule `pub struct Adam;`, the struct `AdamHyper` with one field per
/// hyperparameter (`f64`, or `bool` for a flag: any packed value but 0), parsed from one group's
/// packed values in the order listed (the order the TypeScript class packs them), and
/// [`Signature`](crate::engine::Signature) for `Adam`: the names `HYPER` and `SLOTS` as written.
/// A rule with scalar state besides `step` ends with `extra mu_product = 1.0` (name, initial
/// value). (Defined before the modules, so that they see it.)
macro_rules! rule_signature {
    (
        $(#[$attr:meta])*
        $rule:ident {
            hyper $hyper:ident { $($field:ident $(: $ty:ty)?),+ $(,)? }
            slots [$($slot:ident),+ $(,)?]
            $(extra $extra:ident = $init:expr)?
        }
    ) => {
        $(#[$attr])*
        pub struct $rule;

        #[doc = concat!("The hyperparameters of [`", stringify!($rule), "`], as one group packs them.")]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $hyper {
            $(pub $field: rule_signature!(@type $($ty)?),)+
        }

        impl $crate::engine::Hyper for $hyper {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),+];
            #[inline]
            fn parse(h: &[f64]) -> Self {
                let &[$($field),+] = h else {
                    panic!("expected {} hyperparameters, received {}", Self::NAMES.len(), h.len());
                };
                $hyper { $($field: $crate::kernels::Packed::unpack($field)),+ }
            }
        }

        impl $crate::engine::Signature for $rule {
            type Hyper = $hyper;
            const SLOTS: &'static [&'static str] = &[$(stringify!($slot)),+];
            $(
                const EXTRA: Option<&'static str> = Some(stringify!($extra));
                const EXTRA_INIT: f64 = $init;
            )?
        }
    };
    (@type) => { f64 };
    (@type $ty:ty) => { $ty };
}

/// A one-pass kernel's [`Rule::apply`](crate::engine::Rule::apply): runs
/// [`driver::elementwise`](crate::driver::elementwise) with the element body `$body` whose const
/// parameters are the flags' values, so each combination is compiled once and the flags are
/// decided outside the loop. `elementwise!(AdamElem[s.amsgrad, s.mom.coupled](s, t, a, b, sq))`
/// runs `AdamElem<true, false>` for AMSGrad without coupled decay. A flag with more than two values
/// lists them, `s.mode => [NO_MOMENTUM, FIRST_MOMENTUM, MOMENTUM_ON]`; the last is taken for any
/// value not listed before it. (Defined before the modules, so that they see it.)
macro_rules! elementwise {
    ($body:ident [$($flags:tt)*] ($($arg:expr),* $(,)?)) => {
        elementwise!(@ $body [] ($($arg),*) [$($flags)*])
    };
    (@ $body:ident [$($lit:tt)*] $args:tt []) => {
        $crate::driver::elementwise::<$body<$($lit),*>, _> $args
    };
    (@ $body:ident [$($lit:tt)*] $args:tt [$flag:expr => [$($v:ident),+] $(, $($rest:tt)*)?]) => {
        elementwise!(@values $body [$($lit)*] $args ($flag) [$($v),+] [$($($rest)*)?])
    };
    (@ $body:ident [$($lit:tt)*] $args:tt [$flag:expr $(, $($rest:tt)*)?]) => {
        if $flag {
            elementwise!(@ $body [$($lit)* true] $args [$($($rest)*)?])
        } else {
            elementwise!(@ $body [$($lit)* false] $args [$($($rest)*)?])
        }
    };
    (@values $body:ident [$($lit:tt)*] $args:tt ($flag:expr) [$v:ident] $rest:tt) => {
        elementwise!(@ $body [$($lit)* { $v }] $args $rest)
    };
    (@values $body:ident [$($lit:tt)*] $args:tt ($flag:expr) [$v:ident, $($more:ident),+] $rest:tt) => {
        if $flag == $v {
            elementwise!(@ $body [$($lit)* { $v }] $args $rest)
        } else {
            elementwise!(@values $body [$($lit)*] $args ($flag) [$($more),+] $rest)
        }
    };
}

pub mod adabound;
pub mod adadelta;
pub mod adafactor;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod asgd;
pub mod clip;
pub mod lamb;
pub mod lion;
pub mod lookahead;
pub mod lowp;
pub mod muon;
pub mod nadam;
pub mod radam;
pub mod rmsprop;
pub mod rprop;
pub mod schedule_free;
pub mod sgd;

/// What the Adam family (Adam/AdamW, RAdam, NAdam, and Adamax's first half) computes alike, with
/// PyTorch's rounding: the gradient as the update uses it, the weight decay, and the moments.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamMoments {
    sign: f32,
    /// λ for coupled decay (applied only when `coupled`).
    wd: f32,
    /// 1 − γλ for decoupled decay, else 1.
    pub decay: f32,
    /// lerp weight and its complement, and which of PyTorch's two lerp forms applies.
    w1: f32,
    w1c: f32,
    pub lerp_small: bool,
    pub b2: f32,
    c2: f32,
    /// Weight decay added to the gradient (λ ≠ 0 and not decoupled).
    pub coupled: bool,
}

impl AdamMoments {
    pub fn new(lr: f64, beta1: f64, beta2: f64, weight_decay: f64, decoupled: bool, maximize: bool) -> Self {
        // ATen's lerp picks its form from the weight in the tensor's precision.
        let w1 = (1.0 - beta1) as f32;
        AdamMoments {
            sign: if maximize { -1.0 } else { 1.0 },
            wd: weight_decay as f32,
            decay: if decoupled && weight_decay != 0.0 { (1.0 - lr * weight_decay) as f32 } else { 1.0 },
            w1,
            w1c: 1.0 - w1,
            lerp_small: w1.abs() < 0.5,
            b2: beta2 as f32,
            c2: (1.0 - beta2) as f32,
            coupled: !decoupled && weight_decay != 0.0,
        }
    }

    /// g ← −g if maximize; g ← g + λθ when `CWD` (coupled decay).
    #[inline(always)]
    pub fn grad<const CWD: bool>(&self, p: f32, g: f32) -> f32 {
        let g = g * self.sign;
        if CWD {
            g + self.wd * p
        } else {
            g
        }
    }

    /// m ← lerp(m, g, 1 − β1), in the form ATen uses for this weight (`SMALL` = `lerp_small`).
    #[inline(always)]
    pub fn first<const SMALL: bool>(&self, m: f32, g: f32) -> f32 {
        if SMALL {
            m + self.w1 * (g - m)
        } else {
            g + self.w1c * (m - g)
        }
    }

    /// v ← β2·v + (1 − β2)·g·g
    #[inline(always)]
    pub fn second(&self, v: f32, g: f32) -> f32 {
        v * self.b2 + (self.c2 * g) * g
    }
}

/// ATen's `lerp_(end, weight)` with a scalar weight, in float32: the weight is rounded to f32
/// first, and its magnitude picks one of two forms (Schedule-Free's averaging and its train/eval
/// switch). The second form is written `b + (1 − w)·(a − b)`, as the Adam family's lerp: ATen's
/// `b − (b − a)·(1 − w)` but for the sign of a zero result, where torch's own scalar and
/// vectorised (`(w − 1)·(b − a) + b`) paths differ too.
#[derive(Clone, Copy, Debug)]
pub struct Lerp {
    w: f32,
    /// 1 − w, in f32.
    wc: f32,
    /// |w| < 0.5: the form `a + w·(b − a)`; otherwise `b + (1 − w)·(a − b)`.
    pub small: bool,
}

impl Lerp {
    pub fn new(weight: f64) -> Self {
        let w = weight as f32;
        Lerp { w, wc: 1.0 - w, small: w.abs() < 0.5 }
    }

    /// lerp(a, b, w) in the form `SMALL` (= `small`).
    #[inline(always)]
    pub fn apply<const SMALL: bool>(&self, a: f32, b: f32) -> f32 {
        if SMALL {
            a + self.w * (b - a)
        } else {
            b + self.wc * (a - b)
        }
    }
}

/// A hyperparameter's type in a `rule_signature!` struct, read from its packed `f64`.
pub trait Packed {
    fn unpack(x: f64) -> Self;
}

impl Packed for f64 {
    #[inline]
    fn unpack(x: f64) -> f64 {
        x
    }
}

/// A flag: any value but 0 is set.
impl Packed for bool {
    #[inline]
    fn unpack(x: f64) -> bool {
        x != 0.0
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::engine::testing::{step_vecs, value};
    use crate::engine::{Engine, Rule};
    use crate::simd::{self, Level};
    use std::sync::Mutex;

    /// What PyTorch's `_single_tensor_adam`, `_radam` and `_nadam` do alike to element `i`, on
    /// scalars: the sign, the weight decay (decoupled: θ ← θ(1 − γλ); coupled: g ← g + λθ), then
    /// m ← lerp(m, g, 1 − β1) in ATen's form and v ← β2·v + (1 − β2)·g². Returns the gradient
    /// as the update uses it.
    pub fn adam_moments_ref(
        p: &mut f32,
        g: f32,
        m: &mut f32,
        v: &mut f32,
        [lr, b1, b2, wd]: [f64; 4],
        decoupled: bool,
        maximize: bool,
    ) -> f32 {
        let mut gi = if maximize { -g } else { g };
        if wd != 0.0 {
            if decoupled {
                *p *= (1.0 - lr * wd) as f32;
            } else {
                gi += wd as f32 * *p;
            }
        }
        let w = (1.0 - b1) as f32;
        *m = if w.abs() < 0.5 { *m + w * (gi - *m) } else { gi - (gi - *m) * (1.0 - w) };
        *v = *v * b2 as f32 + (1.0 - b2) as f32 * gi * gi;
        gi
    }

    /// Tests that force SIMD levels or thread counts hold this lock.
    pub static GLOBAL: Mutex<()> = Mutex::new(());

    pub const LENS: &[usize] = &[0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1023, 1025, 40001];

    pub fn init(lens: &[usize], seed: u32) -> Vec<Vec<f32>> {
        lens.iter().enumerate().map(|(j, &n)| (0..n as u32).map(|i| value(seed, 0, j as u32, i)).collect()).collect()
    }

    pub fn grads(lens: &[usize], seed: u32, t: u32) -> Vec<Vec<f32>> {
        lens.iter().enumerate().map(|(j, &n)| (0..n as u32).map(|i| value(seed, t, j as u32, i)).collect()).collect()
    }

    /// Runs `steps` engine steps on [`LENS`] and returns the parameters. The parallel threshold
    /// is lowered so the 40001-element tensor takes the multithreaded path.
    pub fn run<R: Rule>(hyper: &[f64], steps: u32, seed: u32) -> Vec<Vec<f32>> {
        crate::driver::set_par_min(Some(32768));
        let mut e = Engine::<R>::new();
        e.add_params(LENS);
        let mut p = init(LENS, seed);
        for t in 1..=steps {
            let mut g = grads(LENS, seed, t);
            step_vecs(&mut e, &mut p, &mut g, hyper).unwrap();
        }
        p
    }

    fn bits(p: &[Vec<f32>]) -> Vec<Vec<u32>> {
        p.iter().map(|v| v.iter().map(|x| x.to_bits()).collect()).collect()
    }

    /// Every SIMD level and 1 or 2 threads give the same bits as the baseline on one thread.
    pub fn assert_level_and_thread_invariant<R: Rule>(hyper: &[f64]) {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        crate::pool::set_num_threads(1).unwrap();
        simd::force(Level::Baseline);
        let expect = bits(&run::<R>(hyper, 5, 7));
        for lvl in [Level::Baseline, Level::Avx2, Level::Avx512] {
            for threads in [1, 2, 3] {
                let got = simd::force(lvl);
                crate::pool::set_num_threads(threads).unwrap();
                assert!(bits(&run::<R>(hyper, 5, 7)) == expect, "level {got:?} with {threads} threads differs from baseline");
            }
        }
        simd::force(simd::detected());
    }

    /// The engine equals a scalar reference, element for element, bit for bit.
    pub fn assert_matches_reference<R: Rule>(hyper: &[f64], reference: impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32)) {
        let seed = 11;
        let got = run::<R>(hyper, 6, seed);
        let mut p = init(LENS, seed);
        let mut states: Vec<Vec<Vec<f32>>> = LENS.iter().map(|_| Vec::new()).collect();
        for t in 1..=6 {
            let g = grads(LENS, seed, t);
            for j in 0..LENS.len() {
                reference(&mut p[j], &g[j], &mut states[j], t);
            }
        }
        for j in 0..LENS.len() {
            for i in 0..LENS[j] {
                assert_eq!(got[j][i].to_bits(), p[j][i].to_bits(), "tensor {j} element {i}: {} vs {}", got[j][i], p[j][i]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::adam::{Adam, AdamHyper};
    use super::nadam::Nadam;
    use crate::engine::{Hyper, Signature};

    #[test]
    fn a_declaration_reads_its_fields_in_the_order_listed_and_any_value_but_zero_as_a_flag() {
        let h = AdamHyper::parse(&[0.1, 0.2, 0.3, 0.4, 0.5, -1.0, 0.0, 2.0]);
        let expect =
            AdamHyper { lr: 0.1, beta1: 0.2, beta2: 0.3, eps: 0.4, weight_decay: 0.5, amsgrad: true, maximize: false, decoupled: true };
        assert_eq!(h, expect);
        assert_eq!(Adam::HYPER, AdamHyper::NAMES);
        assert_eq!((Adam::HYPER[0], Adam::HYPER[7]), ("lr", "decoupled"));
        assert_eq!((Adam::SLOTS[0], Adam::SLOTS.len()), ("exp_avg", 3));
        assert_eq!((Adam::EXTRA, Adam::EXTRA_INIT), (None, 0.0));
        assert_eq!((Nadam::EXTRA, Nadam::EXTRA_INIT), (Some("mu_product"), 1.0));
    }
}
