//! One file per optimizer: the math in a header, a `Scalars` struct computed once per tensor per
//! step in f64, an element body selected by flags outside the loop, and tests against a plain
//! scalar reference.

/// Calls the kernel's local `go!` macro with each runtime flag as a `true`/`false` literal, so the
/// element body is compiled once per combination and the flags are decided outside the loop:
/// `dispatch_flags!(go; s.amsgrad, s.mom.coupled)` calls `go!(true, false)` for AMSGrad with
/// decoupled decay. (Defined before the modules, so that they see it.)
macro_rules! dispatch_flags {
    ($go:ident; $($flag:expr),+) => {
        dispatch_flags!(@ $go [] $($flag),+)
    };
    (@ $go:ident [$($lit:tt)*]) => {
        $go!($($lit),*)
    };
    (@ $go:ident [$($lit:tt)*] $flag:expr $(, $rest:expr)*) => {
        if $flag {
            dispatch_flags!(@ $go [$($lit)* true] $($rest),*)
        } else {
            dispatch_flags!(@ $go [$($lit)* false] $($rest),*)
        }
    };
}

pub mod adabound;
pub mod adadelta;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod clip;
pub mod lamb;
pub mod lion;
pub mod lookahead;
pub mod nadam;
pub mod radam;
pub mod rmsprop;
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

/// Reads hyperparameter `i` as a flag.
#[inline]
pub(crate) fn flag(h: &[f64], i: usize) -> bool {
    h[i] != 0.0
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::engine::testing::{step_vecs, value};
    use crate::engine::{Engine, Rule};
    use crate::simd::{self, Level};
    use std::sync::Mutex;

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
        crate::driver::set_par_min(32768);
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
