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

/// Whether the CPU has the x86 feature `$f` (std detects it once and caches it); false off x86-64.
macro_rules! cpu_has {
    ($f:tt) => {{
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!($f)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }};
}

/// Whether the CPU has AVX-512 VBMI (byte permutes across two registers); the int8 state's
/// AVX-512 path reads its maps' bytes with them where it can.
pub fn has_vbmi() -> bool {
    cpu_has!("avx512vbmi")
}

/// Whether the CPU has AVX-512 BF16 (`vcvtne2ps2bf16`); the bfloat16 state's AVX-512 path rounds
/// with it where it can.
pub fn has_bf16() -> bool {
    cpu_has!("avx512bf16")
}

const UNSET: u8 = u8::MAX;
static ACTIVE: AtomicU8 = AtomicU8::new(UNSET);

/// The level kernels run at: `FERROPTIM_SIMD` if set (never above [`detected`]), else [`detected`].
pub fn level() -> Level {
    let v = ACTIVE.load(Ordering::Relaxed);
    if v != UNSET {
        return Level::from_u8(v);
    }
    let lvl = match crate::config::simd() {
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
    /// The body at the levels that have fused multiply-add (AVX2 and AVX-512); by default `run`.
    /// A kernel whose reference rounds like an FMA overrides it with `f32::mul_add`, and computes
    /// the same bits in `run` with [`fma_f32_soft`].
    #[inline(always)]
    fn run_fma(self)
    where
        Self: Sized,
    {
        self.run()
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
unsafe fn run_avx512<K: Simd>(k: K) {
    k.run_fma()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<K: Simd>(k: K) {
    k.run_fma()
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

/// `a·b + c` rounded once to f32, as a fused multiply-add, without FMA hardware. The product of
/// two f32s is exact in f64; TwoSum gives the rounding error of the f64 sum, and rounding that sum
/// to odd before narrowing makes the double rounding innocuous (53 ≥ 24 + 2; Boldo & Melquiond,
/// "Emulation of FMA and correctly rounded sums", 2008). Infinities and NaNs pass through as in
/// the hardware instruction.
#[inline(always)]
pub fn fma_f32_soft(a: f32, b: f32, c: f32) -> f32 {
    let p = a as f64 * b as f64;
    let c = c as f64;
    let s = p + c;
    let z = s - p;
    let err = (p - (s - z)) + (c - z);
    let bits = s.to_bits();
    // Round to odd: an inexact sum with an even last bit moves one ulp towards the exact value.
    let bits = if err != 0.0 && s.is_finite() && bits & 1 == 0 {
        if (err > 0.0) == (s > 0.0) {
            bits + 1
        } else {
            bits - 1
        }
    } else {
        bits
    };
    f64::from_bits(bits) as f32
}

/// Lanes of the gradient sums a kernel gathers while it updates ([`each`]), 64-byte aligned
/// ([`A64`]).
pub type SqLanes = A64<[f64; LANES]>;

/// The element loop of every optimizer kernel: `f(i)` for each `i` in `0..n`, in blocks of
/// [`LANES`] elements, and, when `sq` is given, `g[i]²` added to `sq[i mod LANES]` in the same
/// pass, while `g[i]` is in a register (the lanes of [`sum_squares_into`], so the same bits as
/// that function on `g`).
///
/// The update runs no slower than a zip over the slices (paired runs of the real kernels, ±3 %),
/// and gathering Σg² in the same loop costs ~1–5 % of an AdamW step where a separate pass over
/// each 2048-element sub-piece while it was in L1 cost ~11 %.
///
/// `ahead` names the buffers the loop reads (see [`Ahead`]). `f` may index its slices without
/// bounds checks when they all have length `n`; `g.len()` must be `n`.
#[inline(always)]
pub fn each<const K: usize>(n: usize, g: &[f32], sq: Option<&mut SqLanes>, ahead: Ahead<K>, mut f: impl FnMut(usize)) {
    each_lane(n, g, sq, ahead, |i, _| f(i))
}

/// [`each`], also passing `f` the lane `i mod LANES`, a constant once the block loop is unrolled,
/// for kernels that gather sums of their own in the same lanes (LAMB's ‖θ‖² and ‖u‖²).
#[inline(always)]
pub fn each_lane<const K: usize>(n: usize, g: &[f32], sq: Option<&mut SqLanes>, ahead: Ahead<K>, f: impl FnMut(usize, usize)) {
    assert_eq!(g.len(), n, "gradient length");
    match sq {
        Some(lanes) => each_impl::<true, K>(n, g, lanes, ahead, f),
        None => each_impl::<false, K>(n, g, &mut A64([0.0; LANES]), ahead, f),
    }
}

/// Elements a kernel's loop prefetches ahead of the one it works on: 2 KiB per buffer.
pub const AHEAD: usize = 512;

/// The buffers an element loop reads, each prefetched [`AHEAD`] elements ahead of the loop,
/// two cache lines per buffer per block of [`LANES`]. With one thread the hardware prefetcher
/// alone keeps too few lines in flight for 4–5 streams: a paired run of AdamW at 16M parameters
/// measured 12–13 % less time with one thread and 7–11 % with two. Empty slices (a buffer the
/// step's options leave out) are skipped. Prefetches never fault, so the ones past a piece's end
/// (usually the next piece, which the same thread takes next) are harmless.
#[derive(Clone, Copy)]
pub struct Ahead<const K: usize>([*const f32; K]);

impl<const K: usize> Ahead<K> {
    /// The loop reads these buffers (indexed like its element index).
    #[inline(always)]
    pub fn of(bufs: [&[f32]; K]) -> Self {
        Ahead(bufs.map(|b| if b.is_empty() { std::ptr::null() } else { b.as_ptr() }))
    }

    /// Prefetches the two lines [`AHEAD`] elements past `i` in every buffer, and for a loop over
    /// one buffer also the two [`FAR`] past it into L2 (see [`prefetch_stream`]).
    #[inline(always)]
    pub fn fetch(&self, i: usize) {
        for &p in &self.0 {
            if !p.is_null() {
                if K == 1 {
                    prefetch_stream(p.wrapping_add(i));
                } else {
                    prefetch_block(p.wrapping_add(i));
                }
            }
        }
    }
}

/// Prefetches the block of [`LANES`] elements [`AHEAD`] elements past `p` (two cache lines).
#[inline(always)]
pub fn prefetch_block(p: *const f32) {
    prefetch_lines(p.wrapping_add(AHEAD) as *const u8, 2);
}

/// Elements ahead of the block a one-stream loop works on whose lines [`prefetch_stream`] brings
/// into L2: 4 KiB.
pub const FAR: usize = 1024;

/// [`prefetch_block`], plus the block [`FAR`] elements ahead into L2, for a loop that reads one
/// buffer (a norm's sum of squares, clipping's scale). Such a loop issues few misses of its own,
/// and with the near prefetch alone one core kept too few lines in flight on a Xeon (Sapphire
/// Rapids class) VM: the far one made `clipGradNorm`'s norm pass over 16M floats 9–24 % faster
/// on one thread and 21–27 % on two (paired builds, both orders). Loops over several buffers
/// measured no gain from it (AdamW, SGD: −1 to +4 %), so they keep the near prefetch alone.
#[inline(always)]
pub fn prefetch_stream(p: *const f32) {
    prefetch_block(p);
    prefetch_into::<true>(p.wrapping_add(FAR) as *const u8, 2);
}

/// The AVX-512 lane mask of the first `k` of 16 lanes (all 16 when `k ≥ 16`): the mask of a
/// vector loop's last, partial step.
#[inline(always)]
pub fn mask16(k: usize) -> u16 {
    if k >= 16 {
        0xFFFF
    } else {
        ((1u32 << k) - 1) as u16
    }
}

/// Prefetches `lines` cache lines from `p` on (also for storage that is not f32, such as
/// low-precision state).
#[inline(always)]
pub fn prefetch_lines(p: *const u8, lines: usize) {
    prefetch_into::<false>(p, lines);
}

/// Prefetches `lines` cache lines from `p` on, into L1 or (`L2`) only into L2.
#[inline(always)]
fn prefetch_into<const L2: bool>(p: *const u8, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0, _MM_HINT_T1};
        for l in 0..lines {
            let a = p.wrapping_add(64 * l) as *const i8;
            // SAFETY: a prefetch is a hint: it never faults and changes no state; the address is
            // computed with wrapping arithmetic, so it is never an out-of-bounds offset.
            unsafe {
                if L2 {
                    _mm_prefetch::<_MM_HINT_T1>(a)
                } else {
                    _mm_prefetch::<_MM_HINT_T0>(a)
                }
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, lines);
}

#[inline(always)]
fn each_impl<const SQ: bool, const K: usize>(n: usize, g: &[f32], out: &mut SqLanes, ahead: Ahead<K>, mut f: impl FnMut(usize, usize)) {
    // A local copy, so LLVM can keep the lanes in vector registers across blocks.
    let mut lanes = *out;
    let main = n / LANES * LANES;
    let mut i = 0;
    while i < main {
        ahead.fetch(i);
        for (j, lane) in lanes.iter_mut().enumerate() {
            f(i + j, j);
            if SQ {
                // SAFETY: i + j < main <= n = g.len().
                let x = unsafe { *g.get_unchecked(i + j) } as f64;
                *lane += x * x;
            }
        }
        i += LANES;
    }
    for j in 0..n - main {
        f(main + j, j);
        if SQ {
            let x = g[main + j] as f64;
            lanes[j] += x * x;
        }
    }
    if SQ {
        *out = lanes;
    }
}

/// The element loop of [`each`] for passes that gather no gradient sums (Lookahead's sync,
/// clipping's scale and clamp): `f(i)` for each `i` in `0..n`, by blocks of [`LANES`], with the
/// buffers of `ahead` prefetched.
#[inline(always)]
pub fn each_plain<const K: usize>(n: usize, ahead: Ahead<K>, mut f: impl FnMut(usize)) {
    // `g` is only read when gathering sums.
    each_impl::<false, K>(n, &[], &mut A64([0.0; LANES]), ahead, |i, _| f(i))
}

/// A kernel body that works a block at a time ([`each_block`]).
pub trait Blocks {
    /// Updates elements `[start, start + len)`, `len <= LANES`. Implementations mark it
    /// `#[inline(always)]`: a closure could be compiled out of line, without the SIMD level's
    /// target features.
    fn block(&mut self, start: usize, len: usize);
}

/// The element loop by blocks: `body.block(start, len)` for consecutive blocks of [`LANES`]
/// elements (`len` is the constant `LANES` once inlined) and a last shorter block, for kernels
/// that take a decision per block ([`div_by_scalar`]). It does not gather Σg²: summing the lanes
/// after each block measured +40 % on AdamW (LLVM leaves that loop scalar), so a step that
/// gathers norms runs the kernel's [`each`] loop instead.
#[inline(always)]
pub fn each_block<const K: usize>(n: usize, ahead: Ahead<K>, body: &mut impl Blocks) {
    let main = n / LANES * LANES;
    let mut i = 0;
    while i < main {
        ahead.fetch(i);
        body.block(i, LANES);
        i += LANES;
    }
    body.block(main, n - main);
}

/// A value on a 64-byte boundary: the blocks of f32 ([`Blocks`] bodies) and the f64 lanes
/// ([`SqLanes`]) that kernels keep on the stack. Plain arrays are only 4- or 8-byte aligned, and where LLVM keeps
/// them in memory each 64-byte access may span two cache lines, depending on the caller's stack
/// depth: called from the JavaScript thread, whose depth varies, Adam's and NAdam's blocks ran 2x
/// slower in some runs and not in others (split loads and stores, failed store forwarding).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct A64<T>(pub T);

impl<T> std::ops::Deref for A64<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for A64<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// The reciprocal of a per-step scalar divisor `c` for [`div_by_scalar`], or `None` when `c` is
/// outside `[2^-24, 1]`, where the kernels keep the divide instruction.
pub fn scalar_reciprocal(c: f32) -> Option<f32> {
    ((2.0f32).powi(-24) <= c && c <= 1.0).then(|| 1.0 / c)
}

/// `x[j] / c` for `j < len`, into `q`, bit for bit what the divide instruction gives, for a
/// divisor `c` in `[2^-24, 1]` with `y = 1/c` ([`scalar_reciprocal`]). It is `x·y` corrected once
/// by Markstein's iteration (`r = x − q·c` exact by FMA, `q + r·y` correctly rounded; Markstein
/// 1990, Theorem 8; Muller et al., Handbook of Floating-Point Arithmetic, §4.7), two FMAs where
/// a divide costs a divider pass. The iteration needs an exact remainder, so a block holding an
/// `x` outside `[2^-100, 2^100]` (subnormal, tiny, huge, infinite or NaN) other than ±0 is divided
/// instead. Call it only where FMA is available (from [`Simd::run_fma`]).
#[inline(always)]
pub fn div_by_scalar(x: &[f32; LANES], len: usize, c: f32, y: f32, q: &mut [f32; LANES]) {
    const LO: f32 = 7.888_609e-31; // 2^-100
    const HI: f32 = 1.267_650_6e30; // 2^100
    let mut ok = true;
    for j in 0..len {
        let xj = x[j];
        let q0 = xj * y;
        let r = (-q0).mul_add(c, xj);
        // copysign keeps x = −0 → −0 (the correction would give +0).
        q[j] = r.mul_add(y, q0).copysign(xj);
        ok &= (LO..=HI).contains(&xj) || xj == 0.0;
    }
    if !ok {
        for j in 0..len {
            q[j] = x[j] / c;
        }
    }
}

/// Lanes of [`sum_squares`]: enough independent add chains to hide the f64 add latency.
pub const LANES: usize = 32;

/// Σ x² in f64 over [`LANES`] lanes (lane = index mod 32), each lane summed in index order, the
/// lanes combined in a fixed tree. Every level computes exactly these sums, so the result is the same
/// bits at every level; the explicit vector code exists because LLVM vectorises this reduction
/// poorly (shuffles into 128-bit registers, about 5x slower). It prefetches ([`prefetch_block`]):
/// one stream read by one thread is otherwise held back by the few lines the hardware prefetcher
/// keeps in flight (a C loop over 16M floats: 9.6 GB/s without, 22–24 GB/s with).
pub fn sum_squares(x: &[f32]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    sum_squares_into(x, &mut lanes);
    combine_lanes(&lanes)
}

/// Adds x[i]² to `lanes[i mod LANES]`. Calling it on consecutive slices whose lengths are
/// multiples of [`LANES`] (all but the last) accumulates exactly what one call on their
/// concatenation would.
pub fn sum_squares_into(x: &[f32], lanes: &mut [f64; LANES]) {
    let main = x.len() / LANES * LANES;
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: level() never exceeds detected().
        Level::Avx512 => unsafe { x86::sum_squares_avx512(&x[..main], lanes) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { x86::sum_squares_avx2(&x[..main], lanes) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: SSE2 is part of baseline x86-64.
        _ => unsafe { x86::sum_squares_sse2(&x[..main], lanes) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => {
            for c in x[..main].chunks_exact(LANES) {
                for j in 0..LANES {
                    let v = c[j] as f64;
                    lanes[j] += v * v;
                }
            }
        }
    }
    for (j, &v) in x[main..].iter().enumerate() {
        lanes[j] += (v as f64) * (v as f64);
    }
}

/// The fixed combination of the lanes.
pub fn combine_lanes(lanes: &[f64; LANES]) -> f64 {
    let mut l16 = [0.0f64; 16];
    for j in 0..16 {
        l16[j] = lanes[j] + lanes[j + 16];
    }
    let mut l8 = [0.0f64; 8];
    for j in 0..8 {
        l8[j] = l16[j] + l16[j + 8];
    }
    ((l8[0] + l8[1]) + (l8[2] + l8[3])) + ((l8[4] + l8[5]) + (l8[6] + l8[7]))
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::LANES;
    use std::arch::x86_64::*;

    // The square of a widened f32 is exact in f64 (24-bit significands, 48-bit product), so a
    // fused multiply-add rounds exactly once, like the separate add: FMA here gives the same bits
    // as the SSE2 path's mul + add, with fewer instructions.

    /// # Safety
    /// The CPU has AVX-512F; `x.len()` is a multiple of [`LANES`].
    #[target_feature(enable = "avx512f")]
    pub unsafe fn sum_squares_avx512(x: &[f32], lanes: &mut [f64; LANES]) {
        let mut a = [0, 1, 2, 3].map(|k| _mm512_loadu_pd(lanes.as_ptr().add(8 * k)));
        for c in x.chunks_exact(LANES) {
            super::prefetch_stream(c.as_ptr());
            // Eight floats per load, widened straight from memory: no lane extraction competing
            // with the conversions for the shuffle port.
            for (k, acc) in a.iter_mut().enumerate() {
                let v = _mm512_cvtps_pd(_mm256_loadu_ps(c.as_ptr().add(8 * k)));
                *acc = _mm512_fmadd_pd(v, v, *acc);
            }
        }
        for (k, acc) in a.iter().enumerate() {
            _mm512_storeu_pd(lanes.as_mut_ptr().add(8 * k), *acc);
        }
    }

    /// # Safety
    /// The CPU has AVX2 and FMA; `x.len()` is a multiple of [`LANES`].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sum_squares_avx2(x: &[f32], lanes: &mut [f64; LANES]) {
        let mut a = [0, 1, 2, 3, 4, 5, 6, 7].map(|k| _mm256_loadu_pd(lanes.as_ptr().add(4 * k)));
        for c in x.chunks_exact(LANES) {
            super::prefetch_stream(c.as_ptr());
            for (k, acc) in a.iter_mut().enumerate() {
                let v = _mm256_cvtps_pd(_mm_loadu_ps(c.as_ptr().add(4 * k)));
                *acc = _mm256_fmadd_pd(v, v, *acc);
            }
        }
        for (k, acc) in a.iter().enumerate() {
            _mm256_storeu_pd(lanes.as_mut_ptr().add(4 * k), *acc);
        }
    }

    /// # Safety
    /// `x.len()` is a multiple of [`LANES`] (SSE2 is baseline x86-64).
    pub unsafe fn sum_squares_sse2(x: &[f32], lanes: &mut [f64; LANES]) {
        let mut a: [__m128d; 16] = std::array::from_fn(|k| _mm_loadu_pd(lanes.as_ptr().add(2 * k)));
        for c in x.chunks_exact(LANES) {
            super::prefetch_stream(c.as_ptr());
            for k in 0..8 {
                let v = _mm_loadu_ps(c.as_ptr().add(4 * k));
                let lo = _mm_cvtps_pd(v);
                let hi = _mm_cvtps_pd(_mm_movehl_ps(v, v));
                a[2 * k] = _mm_add_pd(a[2 * k], _mm_mul_pd(lo, lo));
                a[2 * k + 1] = _mm_add_pd(a[2 * k + 1], _mm_mul_pd(hi, hi));
            }
        }
        for (k, acc) in a.iter().enumerate() {
            _mm_storeu_pd(lanes.as_mut_ptr().add(2 * k), *acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    /// A float with a random sign and significand and an exponent drawn from `lo..lo + span`
    /// (biased), so products and sums cover cancellation, subnormals and overflow.
    fn float(s: &mut u64, lo: u32, span: u32) -> f32 {
        let r = xorshift(s);
        f32::from_bits((r as u32 & 0x807f_ffff) | ((lo + (r >> 32) as u32 % span) << 23))
    }

    /// Runs `div_by_scalar` where FMA exists (the only place kernels call it).
    fn div_fma(x: &[f32; LANES], len: usize, c: f32, y: f32, q: &mut [f32; LANES]) {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn go(x: &[f32; LANES], len: usize, c: f32, y: f32, q: &mut [f32; LANES]) {
            div_by_scalar(x, len, c, y, q)
        }
        if detected() >= Level::Avx2 {
            // SAFETY: the CPU has AVX2 and FMA.
            unsafe { go(x, len, c, y, q) }
        } else {
            div_by_scalar(x, len, c, y, q)
        }
    }

    #[test]
    fn division_by_a_scalar_equals_the_divide_instruction() {
        let mut st = 0x2545_f491_4f6c_dd1du64;
        let mut divisors: Vec<f32> = (1..2000).map(|t| (1.0 - 0.999f64.powi(t)) as f32).collect();
        divisors.extend((1..300).map(|t| (1.0 - 0.999f64.powi(t)).sqrt() as f32));
        divisors.extend([1.0, 0.5, 2f32.powi(-24), 0.1, 1.0 - f32::EPSILON]);
        divisors.extend(
            (0..2000).map(|_| f32::from_bits(xorshift(&mut st) as u32 & 0x007f_ffff | ((103 + xorshift(&mut st) % 24) as u32) << 23)),
        );
        let mut q = [0.0f32; LANES];
        let mut checked = 0u64;
        for &c in &divisors {
            let y = scalar_reciprocal(c).expect("divisor in range");
            for round in 0..300 {
                // Mostly normal values; one round in three mixes in every special class.
                let x: [f32; LANES] = std::array::from_fn(|j| {
                    let r = xorshift(&mut st);
                    if round % 3 == 0 && j % 5 == 0 {
                        [0.0, -0.0, 1e-40, 1e-35, 7.8e-31, 7.9e-31, 1e31, f32::INFINITY, f32::NAN, f32::MAX][(r % 10) as usize]
                    } else {
                        float(&mut st, 27, 200).abs()
                    }
                });
                let len = if round % 7 == 0 { (xorshift(&mut st) % LANES as u64) as usize } else { LANES };
                div_fma(&x, len, c, y, &mut q);
                for j in 0..len {
                    let want = x[j] / c;
                    assert!(
                        q[j].to_bits() == want.to_bits() || (q[j].is_nan() && want.is_nan()),
                        "{:e} / {c:e}: {:e} vs {want:e}",
                        x[j],
                        q[j]
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 2_000_000);
    }

    #[test]
    fn soft_fma_is_the_correctly_rounded_fused_multiply_add() {
        let mut st = 0x9e37_79b9_7f4a_7c15u64;
        let same = |a: f32, b: f32, c: f32| {
            let (x, y) = (fma_f32_soft(a, b, c), a.mul_add(b, c));
            assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()), "fma({a:e}, {b:e}, {c:e}): {x:e} vs {y:e}");
        };
        for _ in 0..2_000_000 {
            // Interpolation-like: |c| near |a·b|, heavy cancellation.
            let (a, b) = (float(&mut st, 100, 56), float(&mut st, 120, 10));
            let c = -(a * b) * (1.0 + float(&mut st, 100, 27));
            same(a, b, c);
            // Anything, from subnormal to overflow.
            same(float(&mut st, 0, 255), float(&mut st, 0, 255), float(&mut st, 0, 255));
            // Tiny products that round to zero or to the smallest subnormal.
            same(float(&mut st, 0, 40), float(&mut st, 60, 20), f32::from_bits(xorshift(&mut st) as u32 & 0x8000_0003));
        }
        for (a, b, c) in [
            (0.0, 1.0, -0.0),
            (-0.0, 1.0, 0.0),
            (f32::INFINITY, 1.0, f32::NEG_INFINITY),
            (f32::INFINITY, 0.0, 1.0),
            (f32::NAN, 1.0, 1.0),
            (f32::MAX, 2.0, -f32::MAX),
            (1e-45, 0.5, 0.0),
            (1e-45, 0.5, -0.0),
        ] {
            same(a, b, c);
        }
    }
}
