//! The shared elementwise driver: one parallel region over all tensors of a step.
//!
//! The tensors of a step are laid end to end in one index space (`offsets` holds the prefix sums of
//! their lengths). That space is cut into fixed chunks of [`CHUNK`] elements; a chunk covers a piece
//! of one tensor or the end of one and the start of the next. The boundaries depend only on the
//! lengths, never on the thread count, so per-chunk partial sums combine to the same bits whether
//! one thread or many ran them.
//!
//! Within a piece, [`elementwise`] runs a kernel's per-element math ([`Elementwise`]) over the
//! piece's parameter, gradient and state slices at the active SIMD level.

use crate::engine::{TensorPtrs, MAX_SLOTS};
use crate::simd::{self, Simd, SqLanes, LANES};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Elements per chunk: 32 KiB per f32 stream, so a chunk's streams sit in L2.
pub const CHUNK: usize = 8192;
/// Below this many elements in a step, the step stays on the calling thread: waking the pool
/// costs 25–35 µs on a 2-core VM, about what one thread spends on 128K SGD elements. Tests and
/// benchmarks may change it with `FERROPTIM_PAR_MIN` (read once) or [`set_par_min`]; results do
/// not depend on it, since chunk boundaries are fixed.
pub const PAR_MIN: usize = 131072;

static PAR_MIN_NOW: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The parallel threshold in force.
pub fn par_min() -> usize {
    let v = PAR_MIN_NOW.load(Ordering::Relaxed);
    if v != usize::MAX {
        return v;
    }
    let v = crate::config::par_min().unwrap_or(PAR_MIN);
    PAR_MIN_NOW.store(v, Ordering::Relaxed);
    v
}

/// Sets the parallel threshold (elements per step).
pub fn set_par_min(n: usize) {
    PAR_MIN_NOW.store(n, Ordering::Relaxed);
}

/// `x` rounded up to a multiple of `align` (a rule's [`Rule::ALIGN`](crate::engine::Rule::ALIGN),
/// which divides [`CHUNK`]: tensors that start at such multiples keep every aligned run of
/// `align` elements inside one piece).
#[inline]
pub fn align_up(x: usize, align: usize) -> usize {
    debug_assert!(CHUNK.is_multiple_of(align));
    x.next_multiple_of(align)
}

/// Number of chunks covering `total` elements.
pub fn num_chunks(total: usize) -> usize {
    total.div_ceil(CHUNK)
}

/// Calls `f(tensor, start, end)` for every piece of chunk `c` (ranges are tensor-local).
#[inline]
pub fn pieces_of_chunk(offsets: &[usize], c: usize, f: &(impl Fn(usize, usize, usize) + ?Sized)) {
    let total = *offsets.last().unwrap_or(&0);
    let mut pos = c * CHUNK;
    let end = (pos + CHUNK).min(total);
    if pos >= end {
        return;
    }
    // The last tensor whose offset is <= pos; it is non-empty because offsets[t + 1] > pos.
    let mut t = offsets.partition_point(|&o| o <= pos) - 1;
    while pos < end {
        let t_end = offsets[t + 1].min(end);
        if t_end > pos {
            f(t, pos - offsets[t], t_end - offsets[t]);
        }
        pos = t_end;
        t += 1;
    }
}

/// Runs `f(tensor, start, end)` over every piece of every chunk, in parallel when the step is
/// large enough and the pool has more than one thread.
pub fn for_each_piece<F>(offsets: &[usize], f: F) -> Result<(), String>
where
    F: Fn(usize, usize, usize) + Sync,
{
    let total = *offsets.last().unwrap_or(&0);
    let chunks = num_chunks(total);
    if total < par_min() {
        (0..chunks).for_each(|c| pieces_of_chunk(offsets, c, &f));
        return Ok(());
    }
    let pool = crate::pool::pool()?;
    if pool.current_num_threads() <= 1 {
        (0..chunks).for_each(|c| pieces_of_chunk(offsets, c, &f));
        return Ok(());
    }
    pool.install(|| (0..chunks).into_par_iter().with_min_len(2).for_each(|c| pieces_of_chunk(offsets, c, &f)));
    Ok(())
}

/// Index of the first reduction slot of each tensor: a tensor has one slot per chunk it touches.
/// Fills `base` (length `tensors + 1`) and returns the number of slots.
pub fn piece_slots(offsets: &[usize], base: &mut Vec<usize>) -> usize {
    base.clear();
    base.push(0);
    for w in offsets.windows(2) {
        let n = if w[1] > w[0] { (w[1] - 1) / CHUNK - w[0] / CHUNK + 1 } else { 0 };
        base.push(base.last().unwrap() + n);
    }
    *base.last().unwrap()
}

/// A shared output array whose slots are each written by exactly one piece.
struct Slots<T>(*mut T);
// SAFETY: every piece writes a distinct slot (see `for_each_piece_reduce`).
unsafe impl<T: Send> Sync for Slots<T> {}

/// Runs `f(tensor, start, end)` over every piece like [`for_each_piece`] and stores each piece's
/// result in `out[base[t] + chunk - first chunk of t]`, then sums each tensor's pieces in index
/// order into `sums[t]`. The pieces, and so the sums, do not depend on the thread count.
pub fn for_each_piece_reduce<const K: usize, F>(
    offsets: &[usize],
    base: &[usize],
    out: &mut Vec<[f64; K]>,
    sums: &mut Vec<[f64; K]>,
    f: F,
) -> Result<(), String>
where
    F: Fn(usize, usize, usize) -> [f64; K] + Sync,
{
    let slots = *base.last().unwrap_or(&0);
    out.clear();
    out.resize(slots, [0.0; K]);
    let ptr = Slots(out.as_mut_ptr());
    let ptr = &ptr;
    for_each_piece(offsets, |t, a, b| {
        let r = f(t, a, b);
        let idx = base[t] + (offsets[t] + a) / CHUNK - offsets[t] / CHUNK;
        // SAFETY: (t, chunk) identifies the piece, so each index is written once; idx < slots.
        unsafe { *ptr.0.add(idx) = r };
    })?;
    sums.clear();
    for t in 0..base.len().saturating_sub(1) {
        let mut acc = [0.0; K];
        for piece in &out[base[t]..base[t + 1]] {
            for k in 0..K {
                acc[k] += piece[k];
            }
        }
        sums.push(acc);
    }
    Ok(())
}

/// Σ x² in f64, the same bits at every SIMD level and for any split into fixed chunks
/// (see [`crate::simd::sum_squares`]).
pub fn sum_squares_simd(x: &[f32]) -> f64 {
    crate::simd::sum_squares(x)
}

/// A kernel's math, one element at a time, for [`elementwise`]: the kernel file holds this and
/// its per-tensor scalars, and the driver does the rest (slicing, length checks, prefetching,
/// the SIMD level, Σg² lanes). A body is a type generic over the kernel's flags and modes (`const`
/// parameters, chosen per piece by `elementwise!`), so each combination is compiled with its
/// branches decided outside the loop. `N` is the number of the rule's state slots the body sees, in the
/// order of its [`Signature::SLOTS`](crate::engine::Signature::SLOTS).
pub trait Elementwise<const N: usize> {
    type Scalars: Sync;
    /// The slots this body reads and writes; the others may be absent and are never touched.
    const USES: [bool; N];
    /// Updates one element: θ (`p`) and the slots (`st`; a scratch value for a slot not in `USES`)
    /// in place, from the gradient `g`. `FMA` is true at the levels with fused multiply-add; a body
    /// whose reference rounds like an FMA uses `f32::mul_add` there and [`simd::fma_f32_soft`]
    /// otherwise (plain arithmetic is never contracted, so the other bodies ignore it).
    fn elem<const FMA: bool>(s: &Self::Scalars, p: &mut f32, g: f32, st: [&mut f32; N]);
    /// `Some(y)` when this piece takes [`Elementwise::block`] instead of `elem`, at the levels with
    /// FMA and when no Σg² is gathered (see [`simd::each_block`]); `y` is passed to every block
    /// (Adam's and NAdam's reciprocal for [`simd::div_by_scalar`]).
    #[inline(always)]
    fn by_blocks(_s: &Self::Scalars) -> Option<f32> {
        None
    }
    /// Updates one block ([`Block`]), for kernels that take a decision per block
    /// ([`simd::div_by_scalar`]). Called only from the FMA levels.
    #[inline(always)]
    fn block(b: Block<'_, Self::Scalars, N>) {
        let Block { s, p, g, mut st, .. } = b;
        for j in 0..p.len() {
            let mut unused = [0.0f32; N];
            // SAFETY: j < p.len(), the length of every used slot.
            let x = std::array::from_fn(|k| unsafe {
                if Self::USES[k] {
                    &mut *st[k].as_mut_ptr().add(j)
                } else {
                    &mut *unused.as_mut_ptr().add(k)
                }
            });
            Self::elem::<true>(s, &mut p[j], g[j], x);
        }
    }
}

/// One block of at most [`LANES`] elements for [`Elementwise::block`]: every slice has the
/// block's length (a slot not in `USES` is empty), and `y` is what `by_blocks` returned. (One
/// struct rather than separate arguments: from a scalars reference passed as an argument, LLVM
/// loaded the scalars into registers at the start of each block and broadcast them from there,
/// which measured slower on Adam than the broadcasts from memory it emits this way.)
pub struct Block<'a, S, const N: usize> {
    pub s: &'a S,
    pub y: f32,
    pub p: &'a mut [f32],
    pub g: &'a [f32],
    pub st: [&'a mut [f32]; N],
}

/// Runs the element body `E` over elements `[a, b)` of tensor `t` at the active SIMD level,
/// adding the gradient's squares to `sq` when given: a one-pass kernel's
/// [`Rule::apply`](crate::engine::Rule::apply). Kernels call it through `elementwise!` (see
/// [`crate::kernels`]), which picks `E`'s flags.
///
/// # Safety
/// As [`Rule::apply`](crate::engine::Rule::apply): `a <= b <= t.len`, every slot in `E::USES`
/// is allocated, and the range is not touched by anyone else during the call.
#[inline(always)]
pub unsafe fn elementwise<E: Elementwise<N>, const N: usize>(s: &E::Scalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>) {
    let st = std::array::from_fn(|k| if E::USES[k] { t.slot(k, a, b) } else { &mut [][..] });
    simd::dispatch(Body::<E, N> { p: t.param(a, b), g: t.grad(a, b), st, s, sq });
}

/// One piece's buffers for [`elementwise`].
struct Body<'a, E: Elementwise<N>, const N: usize> {
    p: &'a mut [f32],
    g: &'a [f32],
    st: [&'a mut [f32]; N],
    s: &'a E::Scalars,
    sq: Option<&'a mut SqLanes>,
}

/// Parameter, gradient and state slots: the streams a body reads.
type Streams = simd::Ahead<{ 2 + MAX_SLOTS }>;
const _: () = assert!(MAX_SLOTS == 4, "`Body::streams` lists the slots");

impl<E: Elementwise<N>, const N: usize> Body<'_, E, N> {
    /// Checks that every used buffer has the piece's length, and returns it and the streams to
    /// prefetch.
    #[inline(always)]
    fn streams(&self) -> (usize, Streams) {
        let n = self.p.len();
        assert_eq!(self.g.len(), n, "gradient length");
        for k in 0..N {
            assert!(!E::USES[k] || self.st[k].len() == n, "state length");
        }
        // Listed one by one, so that a slot the body does not use is a constant the prefetch
        // loop drops (through an array built in a loop, LLVM kept a test per stream and block).
        let slot = |k: usize| if k < N && E::USES[k] { &*self.st[k] } else { &[][..] };
        (n, simd::Ahead::of([&*self.p, self.g, slot(0), slot(1), slot(2), slot(3)]))
    }

    #[inline(always)]
    fn each<const FMA: bool>(self) {
        let (n, ahead) = self.streams();
        let (p, g, mut st, s) = (self.p, self.g, self.st, self.s);
        // SAFETY: `each` passes i < n; p, g and every slot in USES have length n (`streams`).
        simd::each(n, g, self.sq, ahead, |i| unsafe {
            // References into the slots, not a copy of their values: with copies, Adam's loop
            // that also gathers Σg² measured slower at the AVX-512 level.
            let mut unused = [0.0f32; N];
            let x = std::array::from_fn(|k| if E::USES[k] { &mut *st[k].as_mut_ptr().add(i) } else { &mut *unused.as_mut_ptr().add(k) });
            E::elem::<FMA>(s, p.get_unchecked_mut(i), *g.get_unchecked(i), x);
        });
    }
}

impl<E: Elementwise<N>, const N: usize> Simd for Body<'_, E, N> {
    #[inline(always)]
    fn run(self) {
        self.each::<false>()
    }

    #[inline(always)]
    fn run_fma(self) {
        let (Some(y), None) = (E::by_blocks(self.s), &self.sq) else {
            return self.each::<true>();
        };
        let (n, ahead) = self.streams();
        simd::each_block(n, ahead, &mut Blocks { b: self, y });
    }
}

/// [`Body`] a block at a time ([`Elementwise::block`]).
struct Blocks<'a, E: Elementwise<N>, const N: usize> {
    b: Body<'a, E, N>,
    y: f32,
}

impl<E: Elementwise<N>, const N: usize> simd::Blocks for Blocks<'_, E, N> {
    #[inline(always)]
    fn block(&mut self, i: usize, len: usize) {
        let b = &mut self.b;
        // SAFETY: `each_block` passes i + len <= n, the length of p and of every slot in USES
        // (`streams`); the block's slices are disjoint and live only for this call.
        let st = std::array::from_fn(|k| {
            if E::USES[k] {
                unsafe { std::slice::from_raw_parts_mut(b.st[k].as_mut_ptr().add(i), len) }
            } else {
                &mut [][..]
            }
        });
        debug_assert!(len <= LANES);
        E::block(Block { s: b.s, y: self.y, p: &mut b.p[i..i + len], g: &b.g[i..i + len], st });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn prefix(lens: &[usize]) -> Vec<usize> {
        let mut o = vec![0];
        for &l in lens {
            o.push(o.last().unwrap() + l);
        }
        o
    }

    #[test]
    fn pieces_cover_every_element_exactly_once() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let (par, threads) = (par_min(), crate::pool::pool().unwrap().current_num_threads());
        // Serial and parallel (the pool with 2 threads, every step above the threshold).
        for (min, n) in [(usize::MAX, 1), (1, 2)] {
            set_par_min(min);
            crate::pool::set_num_threads(n).unwrap();
            pieces_cover_once();
        }
        set_par_min(par);
        crate::pool::set_num_threads(threads).unwrap();
    }

    fn pieces_cover_once() {
        for lens in [vec![0, 1, 0, 7, 8192, 8193, 0], vec![CHUNK * 5 + 3], vec![1; 300], vec![]] {
            let offsets = prefix(&lens);
            let seen = Mutex::new(vec![0u32; *offsets.last().unwrap()]);
            for_each_piece(&offsets, |t, a, b| {
                assert!(a < b && b <= lens[t]);
                let mut s = seen.lock().unwrap();
                for i in a..b {
                    s[offsets[t] + i] += 1;
                }
            })
            .unwrap();
            assert!(seen.into_inner().unwrap().iter().all(|&n| n == 1));
        }
    }

    #[test]
    fn reductions_are_identical_for_any_thread_count_and_simd_level() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        set_par_min(32768);
        let lens = [0, 3, 8191, 8193, 1, 0, 40001, 17];
        let offsets = prefix(&lens);
        let data: Vec<f32> = (0..*offsets.last().unwrap()).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
        let mut base = Vec::new();
        piece_slots(&offsets, &mut base);
        let run = || {
            let (mut out, mut sums) = (Vec::new(), Vec::new());
            for_each_piece_reduce::<1, _>(&offsets, &base, &mut out, &mut sums, |t, a, b| {
                [sum_squares_simd(&data[offsets[t] + a..offsets[t] + b])]
            })
            .unwrap();
            sums
        };
        crate::pool::set_num_threads(1).unwrap();
        crate::simd::force(crate::simd::Level::Baseline);
        let expect = run();
        for lvl in [crate::simd::Level::Avx2, crate::simd::Level::Avx512] {
            for threads in [1, 2, 4] {
                crate::simd::force(lvl);
                crate::pool::set_num_threads(threads).unwrap();
                let got = run();
                assert!(got.iter().zip(&expect).all(|(a, b)| a[0].to_bits() == b[0].to_bits()));
            }
        }
        crate::simd::force(crate::simd::detected());
        for (t, s) in expect.iter().enumerate() {
            let exact: f64 = data[offsets[t]..offsets[t + 1]].iter().map(|&x| (x as f64) * (x as f64)).sum();
            assert!((s[0] - exact).abs() <= 1e-9 * exact.max(1.0));
        }
    }
}
