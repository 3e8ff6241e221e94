//! Low-precision optimizer state (`stateDtype: 'bfloat16' | 'int8'`) around any one-pass kernel.
//!
//! [`Lowp<R, S>`] is the rule `R` with its state slots kept in the storage `S`. A piece is worked
//! in tiles of one [`BLOCK`]: each tile's slots are loaded into f32 scratch, `R`'s own
//! [`Rule::apply`] runs on the tile (so the update is `R`'s, bit for bit, at every SIMD level),
//! and the slots are stored back:
//!
//! ```text
//! bfloat16:  s ← f32(bits)                       (exact)
//!            (θ, s) ← R(θ, g, s)                 (in f32, as the float32 kernel)
//!            bits ← bf16(s)                      (round to nearest even; NaN → 0x7FC0)
//! int8:      s ← map[code] · absmax              (the block's scale, f32)
//!            (θ, s) ← R(θ, g, s)
//!            absmax ← max(max |s|, 1e-12)        (NaN if any s is NaN)
//!            code ← nearest map entry to s / absmax (ties up, as torchao)
//! ```
//!
//! The int8 form is block-wise dynamic quantization (Dettmers et al. 2022, "8-bit Optimizers via
//! Block-wise Quantization"; torchao `OptimState8bit`): blocks of [`BLOCK`] consecutive elements of
//! a tensor, each with its own absmax, and codes indexing a 256-entry dynamic-tree map: the signed
//! map for slots that can be negative (`exp_avg`, `momentum_buffer`), the unsigned map for the
//! others (`exp_avg_sq`, `max_exp_avg_sq`). The parameter update reads the f32 values this step
//! computed, before they are stored (torchao's "high precision copy for param update").
//!
//! Layout of one slot in f32 words (the arenas are Float32Arrays): bfloat16, element i's 16 bits
//! at u16 index i (⌈n/2⌉ words); int8, ⌈n/256⌉ absmax words, then element i's code at byte
//! 4·⌈n/256⌉ + i (⌈n/4⌉ more words). A block never straddles two threads' pieces: the driver cuts
//! each tensor into chunks from its first element, and a chunk is a multiple of [`BLOCK`].

use super::adam::Adam;
use super::lion::Lion;
use super::sgd::Sgd;
use crate::driver::CHUNK;
use crate::engine::{Rule, Signature, TensorPtrs, MAX_SLOTS};
use crate::simd::{self, SqLanes, A64};
use std::marker::PhantomData;
use std::sync::OnceLock;

/// Elements per int8 block, and per tile of both storages: the wrapped rule runs on one block at a
/// time. (Tiles of 2 and 4 blocks measured slower for bfloat16 AdamW at 16M on AMD EPYC: 9.9 and
/// 12.1 ms against 9.1; 2026-12-07 again 8.9–11.6 ms against 7.8 for 512 and 1024.)
pub const BLOCK: usize = 256;
const _: () = assert!(CHUNK.is_multiple_of(BLOCK), "a chunk holds whole blocks");

/// The smallest absmax a block stores (torchao's `clip(1e-12)`), so an all-zero block divides by
/// a positive number.
pub const ABSMAX_MIN: f32 = 1e-12;

/// A rule whose state may be stored in low precision: which of its slots can hold negative values
/// (they take the signed int8 map).
pub trait LowpRule: Rule {
    const SIGNED: &'static [bool];
}

impl LowpRule for Adam {
    const SIGNED: &'static [bool] = &[true, false, false];
}
impl LowpRule for Sgd {
    const SIGNED: &'static [bool] = &[true];
}
impl LowpRule for Lion {
    const SIGNED: &'static [bool] = &[true];
}

/// How a slot's elements are kept in f32 words.
pub trait Storage: Send + Sync + 'static {
    /// f32 words of a slot of `len` elements.
    fn words(len: usize) -> usize;
    /// Elements `[a, b)` of the slot at `slot` (of a tensor of `len` elements) as f32, into `out`.
    ///
    /// # Safety
    /// `slot` holds [`Storage::words`]`(len)` words; `a <= b <= len`, `b − a <= BLOCK`, `a` is a
    /// multiple of [`BLOCK`], and `b` is too unless it is `len`.
    unsafe fn load(slot: *mut f32, len: usize, a: usize, b: usize, signed: bool, out: &mut [f32]);
    /// Stores `x` as elements `[a, b)`.
    ///
    /// # Safety
    /// As [`Storage::load`], and no one else touches those elements (or their block) meanwhile.
    unsafe fn store(slot: *mut f32, len: usize, a: usize, b: usize, signed: bool, x: &[f32]);
    /// Prefetches the storage of the block [`simd::AHEAD`] elements past element `i` (the wrapped
    /// rule prefetches θ and g itself, but its slots are this tile's scratch). A hint: never
    /// faults, whatever `i`.
    fn prefetch(slot: *const f32, len: usize, i: usize);
}

/// bfloat16 storage: the top 16 bits of each f32, rounded to nearest even.
pub struct Bf16;
/// Block-wise int8 storage: a code per element and an f32 absmax per [`BLOCK`] elements.
pub struct Int8;

/// A bfloat16's value (exact).
#[inline(always)]
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// `x` rounded to the nearest bfloat16, ties to even; ±∞ stays, overflow rounds to ±∞, and every
/// NaN becomes the quiet NaN 0x7FC0 (as torch's `.bfloat16()`).
#[inline(always)]
pub fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    // A finite or infinite f32 is below 0xFF80_0001, so adding at most 0x8000 does not wrap
    // (a NaN may wrap; its result is replaced). A select rather than an early return, so the
    // store loop vectorizes.
    let rounded = (b.wrapping_add(0x7FFF + ((b >> 16) & 1)) >> 16) as u16;
    if x.is_nan() {
        0x7FC0
    } else {
        rounded
    }
}

impl Storage for Bf16 {
    #[inline(always)]
    fn prefetch(slot: *const f32, _len: usize, i: usize) {
        // A block of bfloat16 values is 512 bytes: 8 lines.
        simd::prefetch_lines((slot as *const u16).wrapping_add(i + simd::AHEAD) as *const u8, BLOCK * 2 / 64);
    }

    fn words(len: usize) -> usize {
        len.div_ceil(2)
    }

    #[inline(always)]
    unsafe fn load(slot: *mut f32, _len: usize, a: usize, b: usize, _signed: bool, out: &mut [f32]) {
        let h = slot as *const u16;
        for (i, o) in (a..b).zip(out.iter_mut()) {
            *o = bf16_to_f32(*h.add(i));
        }
    }

    #[inline(always)]
    unsafe fn store(slot: *mut f32, _len: usize, a: usize, b: usize, _signed: bool, x: &[f32]) {
        let h = slot as *mut u16;
        #[cfg(target_arch = "x86_64")]
        if simd::level() == simd::Level::Avx512 && simd::has_bf16() {
            // SAFETY: the level and AVX-512 BF16 are supported; the slot holds elements a..b.
            return x512::store_bf16(h.add(a), &x[..b - a]);
        }
        for (i, &v) in (a..b).zip(x) {
            *h.add(i) = f32_to_bf16(v);
        }
    }
}

/// Blocks of a slot of `len` elements.
#[inline(always)]
pub fn blocks(len: usize) -> usize {
    len.div_ceil(BLOCK)
}

/// The dynamic-tree quantization maps (bitsandbytes' `create_dynamic_map(signed)` as evaluated in
/// float32 by torchao's `quant_utils.create_dynamic_map`), ascending: 127 negative and 127
/// positive values with 0 and 1 (signed), or 254 positive values with 0 and 1 (unsigned). Printed
/// by `scripts/gen_fixtures_lowp.py --rust-table`; `__test__/lowp.spec.ts` checks them against
/// the maps the fixture records.
pub const QMAP_SIGNED_BITS: [u32; 256] = include!("lowp_qmap_signed.in");
/// The unsigned map; see [`QMAP_SIGNED_BITS`].
pub const QMAP_UNSIGNED_BITS: [u32; 256] = include!("lowp_qmap_unsigned.in");

/// A map's values.
pub const fn qmap(signed: bool) -> [f32; 256] {
    let bits = if signed { &QMAP_SIGNED_BITS } else { &QMAP_UNSIGNED_BITS };
    let mut out = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        out[i] = f32::from_bits(bits[i]);
        i += 1;
    }
    out
}

/// The maps' values, 64-byte aligned (the AVX-512 lookups load them as 16 vectors).
static QMAP_SIGNED: A64<[f32; 256]> = A64(qmap(true));
static QMAP_UNSIGNED: A64<[f32; 256]> = A64(qmap(false));

/// A map's values as four byte planes (plane b holds byte b of each value's bits), for the
/// AVX-512 VBMI lookup: each plane is 256 bytes, four vectors.
const fn planes(signed: bool) -> [[u8; 256]; 4] {
    let bits = if signed { &QMAP_SIGNED_BITS } else { &QMAP_UNSIGNED_BITS };
    let mut out = [[0u8; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let mut b = 0;
        while b < 4 {
            out[b][i] = (bits[i] >> (8 * b)) as u8;
            b += 1;
        }
        i += 1;
    }
    out
}

static PLANES_SIGNED: A64<[[u8; 256]; 4]> = A64(planes(true));
static PLANES_UNSIGNED: A64<[[u8; 256]; 4]> = A64(planes(false));

#[inline(always)]
fn planes_of(signed: bool) -> &'static [[u8; 256]; 4] {
    if signed {
        &PLANES_SIGNED.0
    } else {
        &PLANES_UNSIGNED.0
    }
}

#[inline(always)]
fn map_of(signed: bool) -> &'static [f32; 256] {
    if signed {
        &QMAP_SIGNED.0
    } else {
        &QMAP_UNSIGNED.0
    }
}

/// The code of `y` (a value scaled by its block's absmax) in `map`: the largest entry ≤ y by
/// binary search (0 when y is below every entry or NaN), then the next one up when y is at least
/// halfway to it, with the halfway point computed in f32 as torchao's `quantize_8bit_with_qmap`.
/// The definition; the kernel runs [`Quantizer::code`] (at the AVX-512 level `x512::quantize`),
/// which gives the same codes faster.
#[inline(always)]
pub fn quantize(y: f32, map: &[f32; 256]) -> u8 {
    let mut c = if y >= map[128] { 128 } else { 0 };
    for step in [64, 32, 16, 8, 4, 2, 1] {
        if y >= map[c + step] {
            c += step;
        }
    }
    let up = (c + 1).min(255);
    let (lo, hi) = (map[c], map[up]);
    if y - lo >= (hi - lo) * 0.5 {
        up as u8
    } else {
        c as u8
    }
}

/// [`quantize`] as a count, with no dependent loads but one: its code of y is the number of the
/// map's 255 rounding thresholds ≤ y, where threshold k is the smallest float in
/// (map[k − 1], map[k]] that `quantize` rounds up to k (its test, fl(y − lo) ≥ fl((hi − lo)·0.5),
/// only becomes true as y grows). A table over the top 16 bits of y (its sign, exponent and 7
/// mantissa bits) gives the count at the low end of y's bucket, and a fixed number of branch-free
/// comparisons ([`Quantizer::steps`], the most thresholds a bucket holds: a bucket spans 2⁻⁷ of its
/// magnitude, less than one gap of either map) finish it.
pub struct Quantizer {
    /// The thresholds, ascending, then +∞.
    t: [f32; 255 + 9],
    /// Padded by 4 bytes, so that the AVX2 path's 32-bit gathers at any of the 2¹⁶ keys stay inside.
    start: Box<[u8; (1 << 16) + 4]>,
    steps: usize,
    /// The thresholds in the order a branch-free binary search reads them (the AVX-512 path):
    /// the search's level s (s = 128, 64, …, 1) compares y with t[c + s − 1], where c, the count
    /// so far, is a multiple of 2s; that threshold is entry 128/s + c/(2s). Entry 0 is unused.
    levels: A64<[f32; 256]>,
    /// The arithmetic form the AVX-512 path tries first.
    arith: Arith,
}

/// [`Quantizer::code`] by arithmetic, trusted for every value not within a hair of a threshold
/// (the AVX-512 path; the values within one take the exact search).
///
/// Both maps are 0, then 7 decades of evenly spaced values (decade k holds N_k = 2^k of them in
/// the signed map, 2^(k+1) in the unsigned one, 0.9·10^(k−6)/N_k apart), then 1; the signed map
/// also holds those values negated. So for a magnitude a = |y| the count P of the positive side's
/// thresholds ≤ a is found in two steps: the region d, the number of the 8 thresholds where a
/// decade (or the final 1) begins that are ≤ a; then P = min(⌊a·alpha_d + gamma_d⌋, top_d), a's
/// position on the decade's grid, whose integers are the midpoints between its values. The code
/// is zero + P for y ≥ 0, and max(zero − P, 0) (signed map) or 0 (unsigned) for y < 0.
///
/// The formula is exact except near a threshold, where rounding can put it on the wrong side of
/// the threshold's f32 bits. A lane is sent to the exact search when its grid position is within
/// [`Arith::EPS`] of an integer, when |y| is within [`Arith::ULPS`] ulps of a decade's first
/// threshold (the negative side's own thresholds there may differ from the positive side's by
/// an ulp), or when it is NaN: about 0.04 % of values spread over the decades. The tests check the
/// formula on either side of every threshold, and an ignored test at every float in [−1, 1].
///
/// The region comes from two 32-entry tables over the binade of |y| (its biased exponent clamped
/// to [96, 127]; the 8 thresholds are more than 2× apart, so a binade holds at most one): the
/// region at the binade's low end, and the threshold inside it (+∞ if none).
struct Arith {
    bound: A64<[f32; 32]>,
    below: A64<[i32; 32]>,
    alpha: A64<[f32; 16]>,
    gamma: A64<[f32; 16]>,
    top: A64<[i32; 16]>,
    zero: i32,
}

impl Arith {
    /// Grid positions this close to an integer take the exact search (the thresholds inside a
    /// decade are within 2⁻¹⁶ of its grid's integers: `the_arithmetic_codes_are_the_search_codes`).
    const EPS: f32 = 1.0 / 4096.0;
    /// Magnitudes this many ulps or fewer from a decade's first threshold take the exact search.
    const ULPS: u32 = 64;
    /// The lowest binade's clamped biased exponent (its low 5 bits are 0, so the clamped
    /// exponent indexes the 32-entry tables as it is).
    const LOW_BINADE: u32 = 96;

    fn new(signed: bool, map: &[f32; 256], t: &[f32]) -> Self {
        let zero = map.iter().position(|&x| x == 0.0).expect("the map holds 0");
        let pmax = 255 - zero;
        let n = |k: usize| if signed { 1usize << k } else { 2usize << k };
        let off = |k: usize| (0..k).map(n).sum::<usize>();
        assert!(off(7) + 1 == pmax && map[255] == 1.0, "7 decades, then 1");
        // The thresholds where the decades 0..7 and the final 1 begin.
        let starts: Vec<f32> = (0..8).map(|k| t[zero + if k < 7 { off(k) } else { pmax - 1 }]).collect();
        let (mut alpha, mut gamma, mut top) = (A64([0.0f32; 16]), A64([pmax as f32 + 0.5; 16]), A64([pmax as i32; 16]));
        (gamma.0[0], top.0[0]) = (0.5, 0);
        for k in 0..7 {
            let spacing = 0.9 * 10f64.powi(k as i32 - 6) / n(k) as f64;
            let first = map[zero + off(k) + 1] as f64;
            let (a, g) = (1.0 / spacing, off(k) as f64 + 1.5 - first / spacing);
            (alpha.0[k + 1], gamma.0[k + 1], top.0[k + 1]) = (a as f32, g as f32, (off(k) + n(k)) as i32);
            for j in 0..n(k) {
                let at = map[zero + off(k) + 1 + j] as f64 * a + g;
                let want = (off(k) + 1 + j) as f64 + 0.5;
                assert!((at - want).abs() < 1e-3, "decade {k} is evenly spaced: entry {j} at {at}, not {want}");
            }
        }
        let (mut bound, mut below) = (A64([f32::INFINITY; 32]), A64([0i32; 32]));
        for e in 0..32 {
            let exp = (Self::LOW_BINADE + e as u32) as i32 - 127;
            let lo = if e == 0 { 0.0 } else { 2f64.powi(exp) };
            let hi = if e == 31 { f64::INFINITY } else { 2f64.powi(exp + 1) };
            let mut inside = starts.iter().filter(|&&b| lo <= b as f64 && (b as f64) < hi);
            bound.0[e] = inside.next().copied().unwrap_or(f32::INFINITY);
            assert!(inside.next().is_none(), "binade {e} holds two decade starts");
            below.0[e] = starts.iter().filter(|&&b| (b as f64) < lo).count() as i32;
        }
        Arith { bound, below, alpha, gamma, top, zero: zero as i32 }
    }

    /// The code of `y`, or `None` where the formula is not trusted: the AVX-512 path lane by lane,
    /// for the tests.
    #[cfg(test)]
    fn code(&self, y: f32) -> Option<u8> {
        let a = y.abs();
        let e = (a.to_bits() >> 23).clamp(Self::LOW_BINADE, 127) as usize & 31;
        let d = self.below.0[e] as usize + usize::from(a >= self.bound.0[e]);
        let t = a.mul_add(self.alpha.0[d], self.gamma.0[d]);
        let r = t - t.round_ties_even();
        let near = (a.to_bits() as i32).wrapping_sub(self.bound.0[e].to_bits() as i32).unsigned_abs() <= Self::ULPS;
        if r.is_nan() || r.abs() < Self::EPS || near {
            return None;
        }
        let p = (t as i32).min(self.top.0[d]);
        Some(match ((y.to_bits() as i32) < 0, self.zero) {
            (false, z) => z + p,
            (true, 0) => 0,
            (true, z) => (z - p).max(0),
        } as u8)
    }
}

/// Floats in order as integers (±0 are both 0), and back.
fn ordinal(x: f32) -> i64 {
    let b = x.to_bits();
    if b >> 31 == 0 {
        b as i64
    } else {
        -((b & 0x7FFF_FFFF) as i64)
    }
}

fn from_ordinal(i: i64) -> f32 {
    if i >= 0 {
        f32::from_bits(i as u32)
    } else {
        f32::from_bits(0x8000_0000 | (-i) as u32)
    }
}

impl Quantizer {
    fn new(signed: bool) -> Self {
        let map = qmap(signed);
        let mut t = [f32::INFINITY; 255 + 9];
        for k in 1..256 {
            let (lo, hi) = (map[k - 1], map[k]);
            let half = (hi - lo) * 0.5;
            // The smallest y in (lo, hi] with y − lo ≥ half (true at hi).
            let (mut a, mut b) = (ordinal(lo) + 1, ordinal(hi));
            while a < b {
                let mid = a + (b - a) / 2;
                if from_ordinal(mid) - lo >= half {
                    b = mid;
                } else {
                    a = mid + 1;
                }
            }
            t[k - 1] = from_ordinal(a);
        }
        let mut start = Box::new([0u8; (1 << 16) + 4]);
        let mut steps = 0;
        for (hi, s) in start[..1 << 16].iter_mut().enumerate() {
            let hi = hi as u32;
            // The smallest float whose top bits are `hi`: the bucket's low end for a positive
            // sign, its most negative value for a negative one. The bucket of +∞ holds NaNs too
            // (code 0), so it starts at 0 like the NaN buckets (whose low end is NaN).
            let low = f32::from_bits(if hi & 0x8000 == 0 { hi << 16 } else { (hi << 16) | 0xFFFF });
            let low = if low.is_infinite() { f32::NAN } else { low };
            let c = t[..255].iter().filter(|&&x| x <= low).count();
            *s = c as u8;
            // Thresholds above `low` but within the bucket (its high end: the other extreme).
            let high = f32::from_bits(if hi & 0x8000 == 0 { (hi << 16) | 0xFFFF } else { hi << 16 });
            if low.is_finite() && high.is_finite() {
                steps = steps.max(t[c..255].iter().take_while(|&&x| x <= high).count());
            }
        }
        assert!(steps < 8, "a bucket holds {steps} thresholds");
        let mut levels = A64([f32::INFINITY; 256]);
        let mut s = 128;
        while s >= 1 {
            for j in 0..128 / s {
                levels.0[128 / s + j] = t[2 * s * j + s - 1];
            }
            s /= 2;
        }
        let arith = Arith::new(signed, &map, &t);
        Quantizer { t, start, steps, levels, arith }
    }

    /// The quantizer of the signed or the unsigned map.
    pub fn of(signed: bool) -> &'static Quantizer {
        static Q: [OnceLock<Quantizer>; 2] = [OnceLock::new(), OnceLock::new()];
        Q[usize::from(signed)].get_or_init(|| Quantizer::new(signed))
    }

    /// [`quantize`]`(y, map)`.
    #[inline(always)]
    pub fn code(&self, y: f32) -> u8 {
        // Every y ≥ 1 has code 255 (1 is the last entry); the +∞ bucket also holds NaNs.
        let key = if y >= 1.0 { 1.0f32 } else { y };
        let mut c = self.start[(key.to_bits() >> 16) as usize] as usize;
        for _ in 0..self.steps {
            c += usize::from(self.t[c] <= y);
        }
        c.min(255) as u8
    }
}

/// A block's absmax: max |x|, at least [`ABSMAX_MIN`], NaN when any x is NaN.
#[inline(always)]
pub fn block_absmax(x: &[f32]) -> f32 {
    // Sixteen running maxima, so the loop vectorizes; max is exact, so the order does not matter.
    // Whole chunks only in the vector loop: with a partial last chunk LLVM kept the maxima in
    // memory behind masked stores, a store-forwarding stall per 16 elements (18 % of an int8
    // AdamW step).
    let (mut lanes, mut nan) = ([0.0f32; 16], false);
    let mut chunks = x.chunks_exact(16);
    for chunk in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(chunk) {
            let a = v.abs();
            nan |= a.is_nan();
            *m = if a > *m { a } else { *m };
        }
    }
    for (m, &v) in lanes.iter_mut().zip(chunks.remainder()) {
        let a = v.abs();
        nan |= a.is_nan();
        *m = if a > *m { a } else { *m };
    }
    let m = lanes.iter().fold(0.0f32, |m, &a| if a > m { a } else { m });
    if nan {
        f32::NAN
    } else if m >= ABSMAX_MIN {
        m
    } else {
        ABSMAX_MIN
    }
}

/// [`block_absmax`] at the active level (AVX-512: [`x512::absmax`]).
#[inline(always)]
fn absmax(x: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd::level() == simd::Level::Avx512 {
        // SAFETY: the level is supported.
        return unsafe { x512::absmax(x) };
    }
    block_absmax(x)
}

impl Storage for Int8 {
    #[inline(always)]
    fn prefetch(slot: *const f32, len: usize, i: usize) {
        // A block of codes is 256 bytes (4 lines); its absmax shares a line with 15 others.
        let codes = (slot.wrapping_add(blocks(len)) as *const u8).wrapping_add(i + simd::AHEAD);
        simd::prefetch_lines(codes, BLOCK / 64);
        simd::prefetch_lines(slot.wrapping_add((i + simd::AHEAD) / BLOCK) as *const u8, 1);
    }

    fn words(len: usize) -> usize {
        blocks(len) + len.div_ceil(4)
    }

    #[inline(always)]
    unsafe fn load(slot: *mut f32, len: usize, a: usize, b: usize, signed: bool, out: &mut [f32]) {
        debug_assert!(a.is_multiple_of(BLOCK) && b - a <= BLOCK);
        let scale = *slot.add(a / BLOCK);
        let codes = (slot.add(blocks(len)) as *const u8).add(a);
        #[cfg(target_arch = "x86_64")]
        match simd::level() {
            // SAFETY: the level and VBMI are supported; `codes` holds b − a codes and `out` has room.
            simd::Level::Avx512 if simd::has_vbmi() => return x512::dequantize_bytes(codes, b - a, scale, planes_of(signed), out),
            // SAFETY: the level is supported; as above.
            simd::Level::Avx512 => return x512::dequantize(codes, b - a, scale, map_of(signed), out),
            // SAFETY: as above.
            simd::Level::Avx2 => return x256::dequantize(codes, b - a, scale, map_of(signed), out),
            _ => {}
        }
        let map = map_of(signed);
        for (j, o) in out[..b - a].iter_mut().enumerate() {
            *o = map[*codes.add(j) as usize] * scale; // s ← map[code] · absmax
        }
    }

    #[inline(always)]
    unsafe fn store(slot: *mut f32, len: usize, a: usize, b: usize, signed: bool, x: &[f32]) {
        debug_assert!(a.is_multiple_of(BLOCK) && b - a <= BLOCK);
        let x = &x[..b - a];
        let scale = absmax(x);
        *slot.add(a / BLOCK) = scale;
        let codes = (slot.add(blocks(len)) as *mut u8).add(a);
        #[cfg(target_arch = "x86_64")]
        match simd::level() {
            // SAFETY: the level is supported; `codes` has room for x.len() codes.
            simd::Level::Avx512 => return x512::quantize(x, scale, Quantizer::of(signed), codes),
            // SAFETY: as above.
            simd::Level::Avx2 => return x256::quantize(x, scale, Quantizer::of(signed), codes),
            _ => {}
        }
        // The divisions first, in a loop of their own that vectorizes; then the codes.
        let mut y = A64([0.0f32; BLOCK]);
        for (y, &v) in y.0.iter_mut().zip(x) {
            *y = v / scale;
        }
        // Into a local array first: stores through `codes` could alias the quantizer's tables.
        let q = Quantizer::of(signed);
        let mut c = [0u8; BLOCK];
        for (c, &y) in c.iter_mut().zip(&y.0[..x.len()]) {
            *c = q.code(y); // code ← nearest map entry to s / absmax
        }
        std::ptr::copy_nonoverlapping(c.as_ptr(), codes, x.len());
    }
}

/// The int8 storage's AVX-512 paths, the same codes and values as the scalar ones.
///
/// Table lookups are permutes over registers, not gathers: on AMD EPYC (Zen 5) a 16-lane gather
/// from a 1 KiB table measured ~20 cycles and a 256-entry permute lookup ~6. A map's values are
/// read by byte permutes where the CPU has VBMI ([`dequantize_bytes`]), else by `vpermi2ps` (32
/// entries per instruction, blended by the index's high bits). A code is [`Arith`]'s formula;
/// for a vector where it declines a lane, the number of thresholds ≤ y (see [`Quantizer`]) found
/// by a branch-free binary search of 8 levels whose tables hold 1, 2, 4, …, 128 thresholds
/// ([`Quantizer`]'s `levels`). Figures per value (`int8_codes_benchmark`, Zen 5, 2026-12-07):
/// quantize 0.23–0.25 ns (the search alone 0.55 before), dequantize 0.05 ns with byte
/// permutes and 0.13 without.
#[cfg(target_arch = "x86_64")]
mod x512 {
    use super::{Arith, Quantizer, ABSMAX_MIN, BLOCK};
    use crate::simd::mask16;
    use std::arch::x86_64::*;

    type Vec16 = [__m512; 16];

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn rows(t: &[f32; 256]) -> Vec16 {
        std::array::from_fn(|k| _mm512_loadu_ps(t.as_ptr().add(16 * k)))
    }

    /// Entries `j` (0 ≤ j < 32·2^bits) of the table whose vectors start at `v`: `2^bits` permutes
    /// of 32 entries, then blends by bits 5, 6, … of j.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn lookup<const PAIRS: usize>(v: &[__m512], j: __m512i) -> __m512 {
        let mut r: [__m512; PAIRS] = std::array::from_fn(|p| _mm512_permutex2var_ps(v[2 * p], j, v[2 * p + 1]));
        let mut width = PAIRS;
        let mut bit = 32;
        while width > 1 {
            let hi = _mm512_test_epi32_mask(j, _mm512_set1_epi32(bit));
            for p in 0..width / 2 {
                r[p] = _mm512_mask_blend_ps(hi, r[2 * p], r[2 * p + 1]);
            }
            width /= 2;
            bit *= 2;
        }
        r[0]
    }

    /// Vectors the quantizer loads and divides side by side (its arithmetic codes took 0.25–0.27
    /// ns per value with 2, 4 or 8; the binary search, when it ran for every vector, 0.67 ns with
    /// one at a time against 0.25 with 4: each is a chain of 8 dependent levels).
    const U: usize = 4;

    /// The codes of V vectors of values y: the number of thresholds ≤ y (0 for NaN).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn search<const V: usize>(lv: &Vec16, y: [__m512; V]) -> [__m512i; V] {
        let mut c = [_mm512_setzero_si512(); V];
        // Level s: the threshold each lane compares with (from c), then c += s where it is ≤ y.
        macro_rules! level {
            ($s:expr, |$c:ident| $t:expr) => {
                for u in 0..V {
                    let $c = c[u];
                    let le = _mm512_cmp_ps_mask::<_CMP_LE_OQ>($t, y[u]);
                    c[u] = _mm512_mask_add_epi32($c, le, $c, _mm512_set1_epi32($s));
                }
            };
        }
        // s = 128 … 16: tables of 1 to 8 entries, all within the first vector.
        level!(128, |c| _mm512_permutexvar_ps(_mm512_set1_epi32(1), lv[0]));
        level!(64, |c| _mm512_permutexvar_ps(_mm512_add_epi32(_mm512_srli_epi32::<7>(c), _mm512_set1_epi32(2)), lv[0]));
        level!(32, |c| _mm512_permutexvar_ps(_mm512_add_epi32(_mm512_srli_epi32::<6>(c), _mm512_set1_epi32(4)), lv[0]));
        level!(16, |c| _mm512_permutexvar_ps(_mm512_add_epi32(_mm512_srli_epi32::<5>(c), _mm512_set1_epi32(8)), lv[0]));
        // s = 8, 4, 2, 1: 16, 32, 64 and 128 entries from vectors 1, 2–3, 4–7 and 8–15.
        level!(8, |c| _mm512_permutexvar_ps(_mm512_srli_epi32::<4>(c), lv[1]));
        level!(4, |c| lookup::<1>(&lv[2..4], _mm512_srli_epi32::<3>(c)));
        level!(2, |c| lookup::<2>(&lv[4..8], _mm512_srli_epi32::<2>(c)));
        level!(1, |c| lookup::<4>(&lv[8..16], _mm512_srli_epi32::<1>(c)));
        c
    }

    /// [`block_absmax`](super::block_absmax): 0.05 ns per value against 0.09 for LLVM's
    /// vectorization of it (`int8_codes_benchmark`); an int8 AdamW step at 16M on 2 threads, 8.9
    /// against 9.2–9.5 ms.
    ///
    /// # Safety
    /// The CPU has AVX-512 F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn absmax(x: &[f32]) -> f32 {
        let n = x.len();
        let mut m = [_mm512_setzero_ps(); 4];
        let mut nan: __mmask16 = 0;
        for i in (0..n).step_by(64) {
            for (u, m) in m.iter_mut().enumerate() {
                if i + 16 * u < n {
                    let a = _mm512_abs_ps(_mm512_maskz_loadu_ps(mask16(n - i - 16 * u), x.as_ptr().add(i + 16 * u)));
                    nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a);
                    *m = _mm512_max_ps(*m, a);
                }
            }
        }
        let r = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m[0], m[1]), _mm512_max_ps(m[2], m[3])));
        if nan != 0 {
            f32::NAN
        } else if r >= ABSMAX_MIN {
            r
        } else {
            ABSMAX_MIN
        }
    }

    /// [`Arith`]'s tables in registers.
    struct Tables {
        bound: [__m512; 2],
        below: [__m512i; 2],
        alpha: __m512,
        gamma: __m512,
        top: __m512i,
        zero: __m512i,
        signed: bool,
    }

    impl Tables {
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn of(a: &Arith) -> Self {
            let (b, w) = (a.bound.0.as_ptr(), a.below.0.as_ptr() as *const __m512i);
            Tables {
                bound: [_mm512_load_ps(b), _mm512_load_ps(b.add(16))],
                below: [_mm512_load_si512(w), _mm512_load_si512(w.add(1))],
                alpha: _mm512_load_ps(a.alpha.0.as_ptr()),
                gamma: _mm512_load_ps(a.gamma.0.as_ptr()),
                top: _mm512_load_si512(a.top.0.as_ptr() as *const __m512i),
                zero: _mm512_set1_epi32(a.zero),
                signed: a.zero != 0,
            }
        }
    }

    /// [`Arith::code`] on a vector: the codes, and the lanes it declines.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn arith(t: &Tables, y: __m512) -> (__m512i, __mmask16) {
        let bits = _mm512_castps_si512(y);
        let ab = _mm512_and_si512(bits, _mm512_set1_epi32(0x7FFF_FFFF));
        let a = _mm512_castsi512_ps(ab);
        // The binade (the clamped exponent, whose low 5 bits index the tables), then the region.
        let low = _mm512_set1_epi32(Arith::LOW_BINADE as i32);
        let e = _mm512_min_epu32(_mm512_max_epu32(_mm512_srli_epi32::<23>(ab), low), _mm512_set1_epi32(127));
        let bound = _mm512_permutex2var_ps(t.bound[0], e, t.bound[1]);
        let d = _mm512_permutex2var_epi32(t.below[0], e, t.below[1]);
        let d = _mm512_mask_add_epi32(d, _mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, bound), d, _mm512_set1_epi32(1));
        // The grid position, and how far it is from an integer (NaN: declined).
        let g = _mm512_fmadd_ps(a, _mm512_permutexvar_ps(d, t.alpha), _mm512_permutexvar_ps(d, t.gamma));
        let r = _mm512_abs_ps(_mm512_sub_ps(g, _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(g)));
        let far = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(r, _mm512_set1_ps(Arith::EPS));
        let ulps = _mm512_abs_epi32(_mm512_sub_epi32(ab, _mm512_castps_si512(bound)));
        let near = _mm512_cmple_epu32_mask(ulps, _mm512_set1_epi32(Arith::ULPS as i32));
        let p = _mm512_min_epi32(_mm512_cvttps_epi32(g), _mm512_permutexvar_epi32(d, t.top));
        let neg = _mm512_movepi32_mask(bits);
        let c = if t.signed {
            let below = _mm512_max_epi32(_mm512_sub_epi32(t.zero, p), _mm512_setzero_si512());
            _mm512_mask_blend_epi32(neg, _mm512_add_epi32(t.zero, p), below)
        } else {
            _mm512_maskz_mov_epi32(!neg, p)
        };
        (c, !far | near)
    }

    /// The codes of `x / scale` into `codes[..x.len()]`: [`Arith`]'s, and the exact search's for
    /// a vector where it declines a lane.
    ///
    /// [`Arith`] reads `x · (1/scale)` instead of `x / scale` (a divide per value costs as much as
    /// the rest of the formula on Intel's cores). The product is within 3 ulps of the quotient, and
    /// every lane that close to a threshold is declined: the thresholds inside a decade sit within
    /// `EPS / 8` of their grid's integers while a lane is accepted `EPS` (2⁻¹²) away, and an ulp
    /// of a value below 1 is at most 2⁻¹⁵ of its decade's grid step; a decade's first threshold
    /// is declined `ULPS` (64) ulps around. So no threshold lies between the two, and the code is
    /// the quotient's. Declined lanes
    /// are divided exactly before the search, and so is every lane when 1/scale is not a normal
    /// float (scale ≥ 2¹²⁶, ∞ or NaN).
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW, DQ and VL; `codes` has room for `x.len()` (≤ [`BLOCK`]) bytes.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub unsafe fn quantize(x: &[f32], scale: f32, q: &Quantizer, codes: *mut u8) {
        debug_assert!(x.len() <= BLOCK);
        let (t, n) = (Tables::of(&q.arith), x.len());
        let s = _mm512_set1_ps(scale);
        if scale.is_nan() || scale >= RECIP_NORMAL {
            return quantize_by_search(x, s, q, codes, &[u16::MAX; BLOCK / 16]);
        }
        let r = _mm512_set1_ps(1.0 / scale);
        // The lanes declined in each vector, redone after the loop: a branch per vector in the
        // loop waited on each vector's whole chain (an int8 AdamW step at 16M, one thread: 18.4
        // ms with it, 17.3 without).
        let (mut declined, mut any) = ([0 as __mmask16; BLOCK / 16], 0);
        for i in (0..n).step_by(16 * U) {
            let k: [__mmask16; U] = std::array::from_fn(|u| if i + 16 * u < n { mask16(n - i - 16 * u) } else { 0 });
            let y: [__m512; U] = std::array::from_fn(|u| _mm512_mul_ps(_mm512_maskz_loadu_ps(k[u], x.as_ptr().add(i + 16 * u)), r));
            for u in 0..U {
                let (c, d) = arith(&t, y[u]);
                declined[i / 16 + u] = d & k[u];
                any |= d & k[u];
                _mm512_mask_cvtepi32_storeu_epi8(codes.add(i + 16 * u) as *mut i8, k[u], c);
            }
        }
        if any != 0 {
            quantize_by_search(x, s, q, codes, &declined);
        }
    }

    /// 2¹²⁶: a scale below it has a normal reciprocal.
    const RECIP_NORMAL: f32 = 8.507_059e37;

    /// The exact search's codes of `x / s` for the vectors of `x` with a lane in `declined`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    unsafe fn quantize_by_search(x: &[f32], s: __m512, q: &Quantizer, codes: *mut u8, declined: &[__mmask16; BLOCK / 16]) {
        let (lv, n) = (rows(&q.levels), x.len());
        for (v, &d) in declined.iter().enumerate().take(n.div_ceil(16)) {
            if d != 0 {
                let k = mask16(n - 16 * v);
                let y = _mm512_div_ps(_mm512_maskz_loadu_ps(k, x.as_ptr().add(16 * v)), s);
                _mm512_mask_cvtepi32_storeu_epi8(codes.add(16 * v) as *mut i8, k, search(&lv, [y])[0]);
            }
        }
    }

    /// [`f32_to_bf16`] of each x into `h[..x.len()]`, 32 values per `vcvtne2ps2bf16` (AVX-512
    /// BF16). The instruction rounds to nearest even as [`f32_to_bf16`] does, but flushes a
    /// subnormal input to ±0 and keeps a NaN's sign and payload; a pair of vectors holding either
    /// (`vfpclassps`) takes the scalar rounding instead. Against the auto-vectorized scalar
    /// rounding: bfloat16 AdamW on 64K parameters in cache, one Xeon core, 0.69–0.74 → 0.61–0.65
    /// ns per parameter (`benchmark/low-precision-in-cache.mjs`).
    ///
    /// # Safety
    /// The CPU has AVX-512 F, DQ and BF16; `h` has room for `x.len()` values.
    #[target_feature(enable = "avx512f,avx512dq,avx512bf16")]
    pub unsafe fn store_bf16(h: *mut u16, x: &[f32]) {
        // Quiet and signalling NaNs, subnormals.
        const ODD: i32 = 0x01 | 0x80 | 0x20;
        let n = x.len();
        let mut i = 0;
        while i + 32 <= n {
            let (x0, x1) = (_mm512_loadu_ps(x.as_ptr().add(i)), _mm512_loadu_ps(x.as_ptr().add(i + 16)));
            if _mm512_fpclass_ps_mask::<ODD>(x0) | _mm512_fpclass_ps_mask::<ODD>(x1) == 0 {
                // x0 in the low half, x1 in the high half.
                let r: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(x1, x0));
                _mm512_storeu_si512(h.add(i) as *mut __m512i, r);
            } else {
                for (j, &v) in x[i..i + 32].iter().enumerate() {
                    *h.add(i + j) = super::f32_to_bf16(v);
                }
            }
            i += 32;
        }
        for (j, &v) in x.iter().enumerate().skip(i) {
            *h.add(j) = super::f32_to_bf16(v);
        }
    }

    /// For the bytes' order: vector q of the result holds lanes 4L + k (L, k < 4) from bytes
    /// 16L + 4q + k of the unpacked planes, so the codes are first put where they end up.
    const TO_UNPACKED: [u8; 64] = {
        let mut p = [0u8; 64];
        let mut j = 0;
        while j < 64 {
            let (lane, q, k) = (j / 16, (j % 16) / 4, j % 4);
            p[j] = (16 * q + 4 * lane + k) as u8;
            j += 1;
        }
        p
    };

    /// [`dequantize`] with byte permutes (AVX-512 VBMI), 64 codes at a time: each of the four
    /// byte planes of the map (see `planes`) is looked up by two 128-entry permutes and a blend on
    /// the code's top bit, and the planes are interleaved back into f32 bits by unpacks: 22
    /// instructions per 64 values where [`dequantize`] takes 18 per 16.
    ///
    /// # Safety
    /// As [`dequantize`], and the CPU has AVX-512 VBMI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
    pub unsafe fn dequantize_bytes(codes: *const u8, n: usize, scale: f32, planes: &[[u8; 256]; 4], out: &mut [f32]) {
        debug_assert!(n <= BLOCK && out.len() >= n);
        let t: [[__m512i; 4]; 4] =
            std::array::from_fn(|b| std::array::from_fn(|q| _mm512_loadu_si512(planes[b].as_ptr().add(64 * q) as *const _)));
        let order = _mm512_loadu_si512(TO_UNPACKED.as_ptr() as *const _);
        let s = _mm512_set1_ps(scale);
        for i in (0..n).step_by(64) {
            let k: __mmask64 = if n - i >= 64 { !0 } else { (1u64 << (n - i)) - 1 };
            let c = _mm512_permutexvar_epi8(order, _mm512_maskz_loadu_epi8(k, codes.add(i) as *const i8));
            let high = _mm512_movepi8_mask(c);
            let b: [__m512i; 4] = std::array::from_fn(|p| {
                let lo = _mm512_permutex2var_epi8(t[p][0], c, t[p][1]);
                let hi = _mm512_permutex2var_epi8(t[p][2], c, t[p][3]);
                _mm512_mask_blend_epi8(high, lo, hi)
            });
            let (lo01, hi01) = (_mm512_unpacklo_epi8(b[0], b[1]), _mm512_unpackhi_epi8(b[0], b[1]));
            let (lo23, hi23) = (_mm512_unpacklo_epi8(b[2], b[3]), _mm512_unpackhi_epi8(b[2], b[3]));
            let d = [
                _mm512_unpacklo_epi16(lo01, lo23),
                _mm512_unpackhi_epi16(lo01, lo23),
                _mm512_unpacklo_epi16(hi01, hi23),
                _mm512_unpackhi_epi16(hi01, hi23),
            ];
            for (q, d) in d.into_iter().enumerate() {
                let m = (k >> (16 * q)) as __mmask16;
                _mm512_mask_storeu_ps(out.as_mut_ptr().add(i + 16 * q), m, _mm512_mul_ps(_mm512_castsi512_ps(d), s));
            }
        }
    }

    /// `map[code] · scale` for `n` codes into `out[..n]`.
    ///
    /// # Safety
    /// As [`quantize`]; `codes` holds `n` bytes and `out` has at least `n` elements.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    pub unsafe fn dequantize(codes: *const u8, n: usize, scale: f32, map: &[f32; 256], out: &mut [f32]) {
        debug_assert!(n <= BLOCK && out.len() >= n);
        let m = rows(map);
        let s = _mm512_set1_ps(scale);
        for i in (0..n).step_by(16) {
            let k = mask16(n - i);
            let c = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, codes.add(i) as *const i8));
            _mm512_mask_storeu_ps(out.as_mut_ptr().add(i), k, _mm512_mul_ps(lookup::<8>(&m, c), s));
        }
    }
}

/// The int8 storage's AVX2 paths, the same codes and values as the scalar ones: [`Quantizer::code`]
/// and the map lookup eight lanes at a time, with gathers (AVX2 has no two-table permute, so the
/// AVX-512 path's search would take 31 permutes and blends for its last level alone).
#[cfg(target_arch = "x86_64")]
mod x256 {
    use super::{Quantizer, BLOCK};
    use std::arch::x86_64::*;

    /// Vectors searched side by side.
    const U: usize = 4;

    /// `codes[j] ← q.code(x[j] / scale)`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn quantize(x: &[f32], scale: f32, q: &Quantizer, codes: *mut u8) {
        debug_assert!(x.len() <= BLOCK);
        let n = x.len();
        let (s, one) = (_mm256_set1_ps(scale), _mm256_set1_ps(1.0));
        // Byte 0 of each 32-bit lane, to the low 4 bytes of each 128-bit half.
        let first_bytes = _mm256_setr_epi8(
            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        );
        let mut j = 0;
        // U vectors side by side: each one's search is a chain of dependent gathers.
        while j + 8 * U <= n {
            let y: [__m256; U] = std::array::from_fn(|u| _mm256_div_ps(_mm256_loadu_ps(x.as_ptr().add(j + 8 * u)), s));
            // y ≥ 1 has code 255 (1 is the last entry); a NaN y keeps its bits (a NaN bucket: 0).
            let mut c: [__m256i; U] = std::array::from_fn(|u| {
                let key = _mm256_blendv_ps(y[u], one, _mm256_cmp_ps::<_CMP_GE_OQ>(y[u], one));
                let top = _mm256_srli_epi32::<16>(_mm256_castps_si256(key));
                // SAFETY: top < 2¹⁶, and the table has 4 bytes past its last key.
                _mm256_and_si256(_mm256_i32gather_epi32::<1>(q.start.as_ptr() as *const i32, top), _mm256_set1_epi32(0xFF))
            });
            for _ in 0..q.steps {
                for u in 0..U {
                    // SAFETY: c ≤ 255 + steps < t.len().
                    let t = _mm256_i32gather_ps::<4>(q.t.as_ptr(), c[u]);
                    c[u] = _mm256_sub_epi32(c[u], _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LE_OQ>(t, y[u])));
                }
            }
            for (u, c) in c.into_iter().enumerate() {
                let c = _mm256_shuffle_epi8(_mm256_min_epu32(c, _mm256_set1_epi32(255)), first_bytes);
                let c = _mm_unpacklo_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256::<1>(c));
                _mm_storel_epi64(codes.add(j + 8 * u) as *mut __m128i, c);
            }
            j += 8 * U;
        }
        for (k, &v) in x.iter().enumerate().skip(j) {
            *codes.add(k) = q.code(v / scale);
        }
    }

    /// `out[j] ← map[codes[j]] · scale`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn dequantize(codes: *const u8, n: usize, scale: f32, map: &[f32; 256], out: &mut [f32]) {
        debug_assert!(n <= BLOCK && out.len() >= n);
        let s = _mm256_set1_ps(scale);
        let mut j = 0;
        while j + 8 <= n {
            let c = _mm256_cvtepu8_epi32(_mm_loadl_epi64(codes.add(j) as *const __m128i));
            // SAFETY: every code indexes the 256-entry map.
            _mm256_storeu_ps(out.as_mut_ptr().add(j), _mm256_mul_ps(_mm256_i32gather_ps::<4>(map.as_ptr(), c), s));
            j += 8;
        }
        for (k, o) in out[..n].iter_mut().enumerate().skip(j) {
            *o = map[*codes.add(k) as usize] * scale;
        }
    }
}

/// The rule `R` with its state kept in the storage `S` (see the module header).
pub struct Lowp<R, S>(PhantomData<(R, S)>);

/// [`Lowp`]'s scalars: `R`'s, and the slots this step updates (the others are not touched, so an
/// int8 block is never quantized again without a change).
#[derive(Clone, Copy, Debug)]
pub struct LowpScalars<T> {
    inner: T,
    used: u32,
}

impl<R: Signature, S> Signature for Lowp<R, S> {
    type Hyper = R::Hyper;
    const SLOTS: &'static [&'static str] = R::SLOTS;
    const EXTRA: Option<&'static str> = R::EXTRA;
    const EXTRA_INIT: f64 = R::EXTRA_INIT;
}

impl<R: LowpRule, S: Storage> Rule for Lowp<R, S> {
    type Scalars = LowpScalars<R::Scalars>;

    fn slot_words(len: usize) -> usize {
        S::words(len)
    }

    fn slots_needed(h: &Self::Hyper) -> u32 {
        R::slots_needed(h)
    }

    /// Zero bits: 0 in bfloat16, and an absmax of 0 in int8 (every code then reads as ±0).
    fn slot_init(_h: &Self::Hyper, _slot: usize) -> f32 {
        0.0
    }

    fn scalars(h: &Self::Hyper, step: f64, fresh: u32) -> Self::Scalars {
        LowpScalars { inner: R::scalars(h, step, fresh), used: R::slots_needed(h) | fresh }
    }

    fn scalars_extra(h: &Self::Hyper, step: f64, fresh: u32, extra: &mut f64) -> Self::Scalars {
        LowpScalars { inner: R::scalars_extra(h, step, fresh, extra), used: R::slots_needed(h) | fresh }
    }

    unsafe fn apply(s: &Self::Scalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
        const { assert!(!R::TWO_PASS, "low-precision state wraps one-pass rules") };
        // At the SIMD level, so that the loads and stores vectorize too (IEEE operations only:
        // the same bits at every level).
        simd::dispatch(Tiles::<R, S> { s, t, a, b, sq, _storage: PhantomData });
    }
}

/// [`Lowp::apply`]'s loop over the tiles of a piece, for [`simd::dispatch`].
struct Tiles<'a, R: LowpRule, S> {
    s: &'a LowpScalars<R::Scalars>,
    t: &'a TensorPtrs,
    a: usize,
    b: usize,
    sq: Option<&'a mut SqLanes>,
    _storage: PhantomData<S>,
}

impl<R: LowpRule, S: Storage> simd::Simd for Tiles<'_, R, S> {
    #[inline(always)]
    fn run(self) {
        let Tiles { s, t, a, b, mut sq, .. } = self;
        let ns = R::SLOTS.len();
        let mut tile = [A64([0.0f32; BLOCK]); MAX_SLOTS];
        let mut i = a;
        while i < b {
            let e = (i + BLOCK).min(b);
            let n = e - i;
            // SAFETY: i < e <= b <= t.len (Lowp::apply's contract), so the views stay within θ and g.
            let mut view =
                unsafe { TensorPtrs { param: t.param.add(i), grad: t.grad.add(i), slots: [std::ptr::null_mut(); MAX_SLOTS], len: n } };
            for (k, x) in tile.iter_mut().enumerate().take(ns) {
                if s.used & (1 << k) != 0 && !t.slots[k].is_null() {
                    S::prefetch(t.slots[k], t.len, i);
                    // SAFETY: the slot holds S::words(t.len) words (checked by the engine); [i, e)
                    // is at most one block, block-aligned for int8 (the driver's chunks start at
                    // a tensor's first element), and this piece is the only one touching it.
                    unsafe { S::load(t.slots[k], t.len, i, e, R::SIGNED[k], &mut x.0[..n]) };
                    view.slots[k] = x.0.as_mut_ptr();
                }
            }
            // SAFETY: the view's buffers have n elements each and are not aliased (the tile is
            // this call's stack; θ and g are this piece's).
            unsafe { R::apply(&s.inner, &view, 0, n, sq.as_deref_mut()) };
            for (k, x) in tile.iter().enumerate().take(ns) {
                if !view.slots[k].is_null() {
                    // SAFETY: as for the load.
                    unsafe { S::store(t.slots[k], t.len, i, e, R::SIGNED[k], &x.0[..n]) };
                }
            }
            i = e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::*;

    #[test]
    fn bfloat16_rounds_to_nearest_even_and_keeps_nan_and_infinity() {
        for (x, h) in [(1.0f32, 0x3F80u16), (-2.5, 0xC020), (0.0, 0), (-0.0, 0x8000), (f32::INFINITY, 0x7F80), (f32::NEG_INFINITY, 0xFF80)]
        {
            assert_eq!(f32_to_bf16(x), h, "{x}");
            assert_eq!(bf16_to_f32(h).to_bits(), x.to_bits());
        }
        // Ties: to the even neighbour; just above a tie: up.
        assert_eq!(f32_to_bf16(f32::from_bits(0x3F80_8000)), 0x3F80);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3F81_8000)), 0x3F82);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3F80_8001)), 0x3F81);
        assert_eq!(f32_to_bf16(f32::MAX), 0x7F80, "overflow rounds to infinity");
        assert_eq!(f32_to_bf16(f32::NAN), 0x7FC0);
        assert_eq!(f32_to_bf16(f32::from_bits(0xFFC0_1234)), 0x7FC0);
        // Every bfloat16 but NaN survives a round trip through f32.
        for h in 0..=u16::MAX {
            let x = bf16_to_f32(h);
            assert!(x.is_nan() || f32_to_bf16(x) == h);
        }
    }

    #[test]
    fn the_maps_are_sorted_and_hold_0_and_1() {
        for signed in [true, false] {
            let m = qmap(signed);
            assert!(m.windows(2).all(|w| w[0] < w[1]));
            assert!(m.contains(&0.0) && m[255] == 1.0);
            assert_eq!(m.iter().filter(|&&x| x < 0.0).count(), if signed { 127 } else { 0 });
        }
    }

    #[test]
    fn quantize_finds_the_nearest_entry_with_ties_up() {
        for signed in [true, false] {
            let m = qmap(signed);
            for c in 0..256 {
                assert_eq!(quantize(m[c], &m) as usize, c);
                if c < 255 {
                    let mid = m[c] + (m[c + 1] - m[c]) * 0.5;
                    let want = if mid - m[c] >= (m[c + 1] - m[c]) * 0.5 { c + 1 } else { c };
                    assert_eq!(quantize(mid, &m) as usize, want);
                    let below = f32::from_bits(mid.to_bits().wrapping_sub(if mid > 0.0 { 1 } else { 0 }).wrapping_add(if mid < 0.0 {
                        1
                    } else {
                        0
                    }));
                    assert!(quantize(below, &m) as usize <= want);
                }
            }
            assert_eq!(quantize(f32::NAN, &m), 0);
            assert_eq!(quantize(2.0, &m), 255);
            assert_eq!(quantize(-2.0, &m), 0);
        }
        assert_eq!(block_absmax(&[0.0, -0.0]), ABSMAX_MIN);
        assert_eq!(block_absmax(&[0.5, -3.0, 2.0]), 3.0);
        assert!(block_absmax(&[1.0, f32::NAN]).is_nan());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx512_absmax_is_block_absmax() {
        if simd::detected() < simd::Level::Avx512 {
            return;
        }
        let x: Vec<f32> = (0..BLOCK).map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-3).collect();
        for n in 0..=BLOCK {
            for (at, v) in [(None, 0.0), (Some(n.saturating_sub(1)), f32::NAN), (Some(n / 2), -f32::NAN), (Some(n / 3), -7.0)] {
                let mut x = x[..n].to_vec();
                if let (Some(at), true) = (at, n > 0) {
                    x[at] = v;
                }
                // SAFETY: AVX-512 is detected.
                let got = unsafe { x512::absmax(&x) };
                assert_eq!(got.to_bits(), block_absmax(&x).to_bits(), "n {n}, {at:?} = {v}");
            }
        }
        // SAFETY: as above.
        assert_eq!(unsafe { x512::absmax(&[0.0, -1e-30]) }, ABSMAX_MIN);
    }

    /// The AVX-512 BF16 store gives `f32_to_bf16`'s bits: ties either way, values around the
    /// rounding points, subnormals, NaNs with payloads of both signs, ±0, ±∞ and overflow,
    /// alone or among ordinary values, at every length up to a block.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx512_bfloat16_store_rounds_as_the_scalar_one() {
        if simd::detected() < simd::Level::Avx512 || !simd::has_bf16() {
            return;
        }
        let odd = [
            f32::from_bits(1),
            -f32::from_bits(0x007F_FFFF),
            f32::from_bits(0x0000_8000),
            f32::MIN_POSITIVE,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7F80_0001),
            f32::from_bits(0xFFC0_1234),
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            -0.0,
            0.0,
        ];
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut bits = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng as u32
        };
        // Ordinary values: random bits with the low half near a tie (0x7FFF, 0x8000, 0x8001).
        let ordinary: Vec<f32> = (0..4 * BLOCK)
            .map(|i| {
                let b = bits() & 0xBFFF_0000 | [0x7FFF, 0x8000, 0x8001, bits() & 0xFFFF][i % 4];
                f32::from_bits(b)
            })
            .collect();
        let check = |x: &[f32]| {
            let mut got = vec![0xAAAAu16; x.len()];
            // SAFETY: AVX-512 and BF16 are detected; `got` has room for x.len() values.
            unsafe { x512::store_bf16(got.as_mut_ptr(), x) };
            for (j, (&g, &v)) in got.iter().zip(x).enumerate() {
                assert_eq!(g, f32_to_bf16(v), "element {j} of {}: {v:e} ({:#010x})", x.len(), v.to_bits());
            }
        };
        for n in 0..=BLOCK {
            check(&ordinary[n..2 * n]);
        }
        for (k, &v) in odd.iter().enumerate() {
            for at in [0, 1, 15, 16, 31, 32, 100, BLOCK - 1] {
                let mut x = ordinary[k * 50..k * 50 + BLOCK].to_vec();
                x[at] = v;
                check(&x);
            }
        }
        check(&odd);
    }

    #[test]
    fn the_table_quantizer_gives_the_binary_search_codes() {
        for signed in [true, false] {
            let (q, m) = (Quantizer::of(signed), qmap(signed));
            let check = |y: f32| assert_eq!(q.code(y), quantize(y, &m), "{y:e} ({:#010x})", y.to_bits());
            // Every entry, its neighbours a few ulps away, and the midpoints between entries.
            for c in 0..256 {
                for d in 0..4u32 {
                    check(f32::from_bits(m[c].to_bits().wrapping_add(d)));
                    check(f32::from_bits(m[c].to_bits().wrapping_sub(d)));
                }
                if c < 255 {
                    let mid = m[c] + (m[c + 1] - m[c]) * 0.5;
                    for d in 0..3u32 {
                        check(f32::from_bits(mid.to_bits().wrapping_add(d)));
                        check(f32::from_bits(mid.to_bits().wrapping_sub(d)));
                    }
                }
            }
            assert!(q.steps <= 2, "{} steps", q.steps);
            // Each threshold (where a code changes) and the floats around it.
            for &x in &q.t[..255] {
                for d in 0..3i64 {
                    check(from_ordinal(ordinal(x) + d));
                    check(from_ordinal(ordinal(x) - d));
                }
            }
            // A sweep of bit patterns: [-1, 1], beyond, subnormals, infinities and NaNs.
            for b in (0..=u32::MAX).step_by(65_537) {
                check(f32::from_bits(b));
            }
            for y in [0.0, -0.0, 1.0, -1.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MIN_POSITIVE, -f32::MIN_POSITIVE] {
                check(y);
            }
        }
    }

    /// Every float within 300 ulps of a threshold or of a map entry, both signs, and a sweep of
    /// bit patterns: where the arithmetic form gives a code, it is the search's; and it declines
    /// few of values spread over [−1, 1].
    #[test]
    fn the_arithmetic_codes_are_the_search_codes() {
        for signed in [true, false] {
            let (q, m) = (Quantizer::of(signed), qmap(signed));
            let mut ys: Vec<f32> = Vec::new();
            for &x in m.iter().chain(&q.t[..255]) {
                ys.extend((-300..=300).flat_map(|d| [from_ordinal(ordinal(x) + d), -from_ordinal(ordinal(x) + d)]));
            }
            ys.extend((0..=u32::MAX).step_by(4099).map(f32::from_bits));
            ys.extend([f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1.0, -1.0, 2.0, -2.0]);
            for &y in &ys {
                if let Some(c) = q.arith.code(y) {
                    assert_eq!(c, q.code(y), "{y:e} ({:#010x})", y.to_bits());
                }
            }
            for y in [f32::NAN, -f32::NAN] {
                assert_eq!(q.arith.code(y), None);
            }
            // The thresholds inside a decade (not its first: those are the regions' bounds) sit
            // within EPS / 8 of an integer of its grid, on either side of 0, so the declined band
            // holds them with room to spare.
            let ar = &q.arith;
            let mut worst = 0.0f32;
            for &x in &q.t[..255] {
                let a = x.abs();
                let e = (a.to_bits() >> 23).clamp(Arith::LOW_BINADE, 127) as usize & 31;
                let d = ar.below.0[e] as usize + usize::from(a >= ar.bound.0[e]);
                let start = (a.to_bits() as i32).wrapping_sub(ar.bound.0[e].to_bits() as i32).unsigned_abs() <= Arith::ULPS;
                if (1..8).contains(&d) && !start {
                    let t = a.mul_add(ar.alpha.0[d], ar.gamma.0[d]);
                    worst = worst.max((t - t.round_ties_even()).abs());
                }
            }
            assert!(worst < Arith::EPS / 8.0, "a threshold {worst} from its grid's integer");
            println!("signed {signed}: thresholds at most {worst:e} from their grid's integers");
            // Declined: a small share of magnitudes spread evenly over the decades.
            let mut declined = 0;
            let tries = 1_000_000;
            for i in 0..tries {
                let y = 10f64.powf(-7.0 * (i as f64 + 0.5) / tries as f64) as f32;
                declined += usize::from(q.arith.code(if i % 2 == 0 { y } else { -y }).is_none());
            }
            assert!(declined * 400 < tries, "{declined} of {tries} declined");
            println!("signed {signed}: {declined} of {tries} declined");
        }
    }

    /// Every float in [−1, 1] (and ±(1, 2)): the arithmetic code, where it gives one, is the
    /// search's. About 16 s in release: `cargo test --release --manifest-path crate/Cargo.toml
    /// every_float_in_the_range -- --ignored`.
    #[test]
    #[ignore]
    fn the_arithmetic_codes_are_the_search_codes_at_every_float_in_the_range() {
        for signed in [true, false] {
            let q = Quantizer::of(signed);
            let (mut declined, mut total) = (0u64, 0u64);
            for b in 0..=0x4000_0000u32 {
                for y in [f32::from_bits(b), -f32::from_bits(b)] {
                    total += 1;
                    match q.arith.code(y) {
                        Some(c) => assert_eq!(c, q.code(y), "{y:e} ({:#010x})", y.to_bits()),
                        None => declined += 1,
                    }
                }
            }
            println!("signed {signed}: {declined} of {total} floats declined");
        }
    }

    /// Checks a vector path (`quant(x, scale, quantizer, codes)`, `dequant(codes, n, scale, map,
    /// out)`) against the scalar codes and values: values that land on every entry, midpoint and
    /// threshold and the floats around them, a sweep of bit patterns (NaNs, infinities, subnormals,
    /// beyond ±1), scales 1 and 0.37, in blocks of every length up to BLOCK (the tails).
    fn assert_matches_the_scalar_path(
        quant: impl Fn(&[f32], f32, &Quantizer, &mut [u8; BLOCK]),
        dequant: impl Fn(&[u8], usize, f32, &[f32; 256], &mut [f32; BLOCK]),
    ) {
        for signed in [true, false] {
            let (q, m) = (Quantizer::of(signed), qmap(signed));
            let mut ys: Vec<f32> = Vec::new();
            for &x in m.iter().chain(&q.t[..255]) {
                ys.extend((-3..=3).map(|d| from_ordinal(ordinal(x) + d)));
                // Farther off, where the AVX-512 path's arithmetic form gives the codes.
                ys.extend((-300..=300).step_by(37).map(|d| from_ordinal(ordinal(x) + d)));
            }
            ys.extend((0..=u32::MAX).step_by(65_537).map(f32::from_bits));
            ys.extend((0..4096).map(|i| (if i % 2 == 0 { 1.0 } else { -1.0 }) * 10f32.powf(-7.5 * i as f32 / 4096.0)));
            ys.extend([f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, f32::MIN_POSITIVE / 4.0]);
            let mut codes = [0u8; BLOCK];
            // Scales whose reciprocal rounds (the AVX-512 path multiplies by it), one at the
            // bottom of absmax's range and one past 2¹²⁶ (its reciprocal is subnormal); and the
            // values scale · (entry or threshold) and the floats around them, whose quotients
            // fall on either side of a threshold.
            for scale in [1.0f32, 0.37, 3.3e-3, 7.1e5, ABSMAX_MIN, 1e38] {
                let mut xs = ys.clone();
                for &x in m.iter().chain(&q.t[..255]) {
                    xs.extend((-3..=3).map(|d| from_ordinal(ordinal(x * scale) + d)));
                }
                for (n, chunk) in xs.chunks(BLOCK).enumerate() {
                    let chunk = &chunk[..chunk.len().saturating_sub(n % 17)];
                    quant(chunk, scale, q, &mut codes);
                    for (&x, &c) in chunk.iter().zip(&codes) {
                        assert_eq!(c, quantize(x / scale, &m), "{x:e} ({:#010x}) / {scale}", x.to_bits());
                    }
                }
            }
            let all: Vec<u8> = (0..=255).collect();
            let mut out = [0.0f32; BLOCK];
            for (n, scale) in [(256, 0.37f32), (255, 3e-5), (17, 1.0), (1, 1e30)] {
                dequant(&all, n, scale, map_of(signed), &mut out);
                for c in 0..n {
                    assert_eq!(out[c].to_bits(), (m[c] * scale).to_bits());
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx512_and_avx2_codes_and_values_are_the_scalar_ones() {
        if simd::detected() >= simd::Level::Avx512 {
            assert_matches_the_scalar_path(
                // SAFETY: AVX-512 is detected; `codes` has room for BLOCK ≥ x.len() codes.
                |x, scale, q, codes| unsafe { x512::quantize(x, scale, q, codes.as_mut_ptr()) },
                // SAFETY: as above; `codes` holds n codes.
                |codes, n, scale, map, out| unsafe { x512::dequantize(codes.as_ptr(), n, scale, map, out) },
            );
        }
        if simd::detected() >= simd::Level::Avx512 && simd::has_vbmi() {
            assert_matches_the_scalar_path(
                // SAFETY: AVX-512 is detected; as above.
                |x, scale, q, codes| unsafe { x512::quantize(x, scale, q, codes.as_mut_ptr()) },
                // SAFETY: AVX-512 and VBMI are detected; `codes` holds n codes.
                |codes, n, scale, map, out| unsafe { x512::dequantize_bytes(codes.as_ptr(), n, scale, planes_of(map[0] < 0.0), out) },
            );
        }
        if simd::detected() >= simd::Level::Avx2 {
            assert_matches_the_scalar_path(
                // SAFETY: AVX2 is detected; as above.
                |x, scale, q, codes| unsafe { x256::quantize(x, scale, q, codes.as_mut_ptr()) },
                // SAFETY: as above.
                |codes, n, scale, map, out| unsafe { x256::dequantize(codes.as_ptr(), n, scale, map, out) },
            );
        }
    }

    /// ns per value of the AVX-512 quantizer and of both dequantizers, over 256 blocks of values
    /// spread over 7 decades (in L2; one core): `cargo test --release --manifest-path crate/Cargo.toml
    /// int8_codes_benchmark -- --ignored --nocapture`.
    #[cfg(target_arch = "x86_64")]
    #[test]
    #[ignore]
    fn int8_codes_benchmark() {
        if simd::detected() < simd::Level::Avx512 {
            return;
        }
        let blocks = 256;
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let x: Vec<f32> = (0..blocks * BLOCK)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let u = (rng >> 40) as f32 / (1u64 << 24) as f32;
                (u - 0.5) * (u * 7.0).exp() * 1e-3
            })
            .collect();
        let mut codes = vec![0u8; x.len()];
        let mut out = vec![0.0f32; x.len()];
        for signed in [true, false] {
            let q = Quantizer::of(signed);
            let xs: Vec<f32> = if signed { x.clone() } else { x.iter().map(|v| v * v).collect() };
            let time = |f: &mut dyn FnMut()| {
                (0..50)
                    .map(|_| {
                        let t = std::time::Instant::now();
                        f();
                        t.elapsed().as_secs_f64() * 1e9 / xs.len() as f64
                    })
                    .fold(f64::INFINITY, f64::min)
            };
            let scales: Vec<f32> = xs.chunks(BLOCK).map(block_absmax).collect();
            // SAFETY: AVX-512 is detected; every block has BLOCK codes and values.
            let quant = time(&mut || unsafe {
                for ((b, c), &s) in xs.chunks(BLOCK).zip(codes.chunks_mut(BLOCK)).zip(&scales) {
                    x512::quantize(b, s, q, c.as_mut_ptr());
                }
            });
            // SAFETY: as above.
            let absmax = time(&mut || unsafe {
                for b in xs.chunks(BLOCK) {
                    std::hint::black_box(x512::absmax(b));
                }
            });
            // SAFETY: as above.
            let deq = time(&mut || unsafe {
                for (c, o) in codes.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
                    x512::dequantize(c.as_ptr(), BLOCK, 0.5, map_of(signed), o);
                }
            });
            let bytes = if simd::has_vbmi() {
                // SAFETY: as above, and VBMI is detected.
                time(&mut || unsafe {
                    for (c, o) in codes.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
                        x512::dequantize_bytes(c.as_ptr(), BLOCK, 0.5, planes_of(signed), o);
                    }
                })
            } else {
                f64::NAN
            };
            // SAFETY: AVX2 is implied by AVX-512 here; as above.
            let quant2 = time(&mut || unsafe {
                for ((b, c), &s) in xs.chunks(BLOCK).zip(codes.chunks_mut(BLOCK)).zip(&scales) {
                    x256::quantize(b, s, q, c.as_mut_ptr());
                }
            });
            // SAFETY: as above.
            let deq2 = time(&mut || unsafe {
                for (c, o) in codes.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
                    x256::dequantize(c.as_ptr(), BLOCK, 0.5, map_of(signed), o);
                }
            });
            let absmax2 = time(&mut || {
                for b in xs.chunks(BLOCK) {
                    std::hint::black_box(block_absmax(b));
                }
            });
            println!("signed {signed}: AVX-512: quantize {quant:.3} ns, absmax {absmax:.3} ns, dequantize {deq:.3} ns, with byte permutes {bytes:.3} ns per value");
            println!("signed {signed}: AVX2: quantize {quant2:.3} ns, absmax {absmax2:.3} ns, dequantize {deq2:.3} ns per value");
        }
    }

    const ADAM: &[[f64; 8]] = &[
        [1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.0, 0.0],
        [1e-2, 0.9, 0.999, 1e-8, 0.1, 0.0, 0.0, 1.0],
        [3e-3, 0.8, 0.99, 1e-6, 0.5, 1.0, 0.0, 1.0],
        [2e-2, 0.0, 0.5, 1e-3, 0.01, 1.0, 1.0, 0.0],
    ];

    #[test]
    fn low_precision_adam_sgd_and_lion_are_bit_identical_across_simd_levels_and_thread_counts() {
        for h in ADAM {
            assert_level_and_thread_invariant::<Lowp<Adam, Int8>>(h);
            assert_level_and_thread_invariant::<Lowp<Adam, Bf16>>(h);
        }
        for h in [[0.05, 0.9, 0.1, 0.01, 1.0, 0.0], [0.05, 0.9, 0.0, 0.0, 0.0, 1.0]] {
            assert_level_and_thread_invariant::<Lowp<Sgd, Int8>>(&h);
            assert_level_and_thread_invariant::<Lowp<Sgd, Bf16>>(&h);
        }
        assert_level_and_thread_invariant::<Lowp<Lion, Int8>>(&[1e-3, 0.9, 0.99, 0.1]);
        assert_level_and_thread_invariant::<Lowp<Lion, Bf16>>(&[1e-3, 0.9, 0.99, 0.1]);
    }

    /// Adam on one tensor with its state kept as `store(load(...))` round trips per block: the
    /// scalar transcription of the module header.
    fn adam_reference<S: Storage>(h: [f64; 8]) -> impl Fn(&mut [f32], &[f32], &mut Vec<Vec<f32>>, u32) {
        move |p, g, st, t| {
            let [lr, b1, b2, eps, wd, ams, max, dec] = h;
            let n = p.len();
            if st.is_empty() {
                *st = vec![vec![0.0; S::words(n)]; 3];
            }
            let (bc1, bc2) = (1.0 - b1.powf(t as f64), 1.0 - b2.powf(t as f64));
            for a in (0..n).step_by(BLOCK) {
                let e = (a + BLOCK).min(n);
                let mut x = [[0.0f32; BLOCK]; 3];
                let slots = if ams != 0.0 { 3 } else { 2 };
                for k in 0..slots {
                    // SAFETY: st[k] holds S::words(n) words; [a, e) is one block.
                    unsafe { S::load(st[k].as_mut_ptr(), n, a, e, Adam::SIGNED[k], &mut x[k][..e - a]) };
                }
                for i in a..e {
                    let j = i - a;
                    let [m, v, vmax] = &mut x;
                    adam_moments_ref(&mut p[i], g[i], &mut m[j], &mut v[j], [lr, b1, b2, wd], dec != 0.0, max != 0.0);
                    let vh = if ams != 0.0 {
                        vmax[j] = vmax[j].max(v[j]);
                        vmax[j]
                    } else {
                        v[j]
                    };
                    let denom = vh.sqrt() / (bc2.sqrt() as f32) + eps as f32;
                    p[i] += (-(lr / bc1)) as f32 * m[j] / denom;
                }
                for k in 0..slots {
                    // SAFETY: as above.
                    unsafe { S::store(st[k].as_mut_ptr(), n, a, e, Adam::SIGNED[k], &x[k][..e - a]) };
                }
            }
        }
    }

    #[test]
    fn low_precision_adam_matches_its_scalar_transcription() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for h in ADAM {
            assert_matches_reference::<Lowp<Adam, Int8>>(h, adam_reference::<Int8>(*h));
            assert_matches_reference::<Lowp<Adam, Bf16>>(h, adam_reference::<Bf16>(*h));
        }
    }

    #[test]
    fn slot_sizes_in_words_cover_codes_absmax_and_bits() {
        assert_eq!(Int8::words(256), 64 + 1);
        assert_eq!(Int8::words(257), 65 + 2);
        assert_eq!(Int8::words(1), 2);
        assert_eq!(Bf16::words(7), 4);
        assert_eq!(Int8::words(0) + Bf16::words(0), 0);
    }
}
