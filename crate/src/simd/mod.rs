//! CPU-feature detection and the `#[target_feature]` trampolines: the only unsafe dispatch.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// A SIMD instruction-set level, ordered from the most to the least widely available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Baseline = 0,
    Avx2 = 1,
    Avx512 = 2,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "baseline" | "scalar" | "sse2" | "none" => Some(Level::Baseline),
            "avx2" => Some(Level::Avx2),
            "avx512" | "avx-512" => Some(Level::Avx512),
            _ => None,
        }
    }

    fn from_u8(v: u8) -> Level {
        match v {
            2 => Level::Avx512,
            1 => Level::Avx2,
            _ => Level::Baseline,
        }
    }
}

/// The best level this CPU supports, detected once.
pub fn detected() -> Level {
    static DETECTED: OnceLock<Level> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Level::Avx2;
            }
        }
        Level::Baseline
    })
}

const UNSET: u8 = u8::MAX;
static ACTIVE: AtomicU8 = AtomicU8::new(UNSET);

/// The level kernels run at: `FERROPTIM_SIMD` if set (never above [`detected`]), else [`detected`].
pub fn level() -> Level {
    let v = ACTIVE.load(Ordering::Relaxed);
    if v != UNSET {
        return Level::from_u8(v);
    }
    let lvl = match std::env::var("FERROPTIM_SIMD").ok().as_deref().and_then(Level::parse) {
        Some(forced) => forced.min(detected()),
        None => detected(),
    };
    ACTIVE.store(lvl as u8, Ordering::Relaxed);
    lvl
}

/// Forces a level (clamped to what the CPU supports) and returns the level now in force.
pub fn force(lvl: Level) -> Level {
    let lvl = lvl.min(detected());
    ACTIVE.store(lvl as u8, Ordering::Relaxed);
    lvl
}

/// A piece of work whose body is compiled once per SIMD level.
///
/// Implementations mark `run` `#[inline(always)]` so it is inlined into, and vectorised for, each
/// trampoline below.
pub trait Simd {
    fn run(self);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
unsafe fn run_avx512<K: Simd>(k: K) {
    k.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<K: Simd>(k: K) {
    k.run()
}

/// Runs `k` at the active level.
#[inline]
pub fn dispatch<K: Simd>(k: K) {
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: level() never exceeds detected(), so the CPU has these features.
        Level::Avx512 => unsafe { run_avx512(k) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { run_avx2(k) },
        _ => k.run(),
    }
}
