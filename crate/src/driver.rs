//! The shared elementwise driver: one parallel region over all tensors of a step.
//!
//! A step's tensors are cut into fixed chunks of [`CHUNK`] elements, each tensor from its own first
//! element ([`Layout`]): a chunk covers one piece of one tensor. The pieces of a tensor depend only
//! on its length, never on the other tensors of the step or the thread count, so per-chunk partial
//! sums combine to the same bits whether one thread or many ran them, and whether the tensor was
//! stepped alone or with others (a step taken in parts, layer by layer, gives the bits of one).
//!
//! Within a piece, [`elementwise`] runs a kernel's per-element math ([`Elementwise`]) over the
//! piece's parameter, gradient and state slices at the active SIMD level.

use crate::engine::{TensorPtrs, MAX_SLOTS};
use crate::simd::{self, Simd, SqLanes, LANES};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Elements per chunk: 32 KiB per f32 stream, so a chunk's streams sit in L2. A multiple of every
/// block a kernel keeps whole (int8 state's 256), so no block straddles two pieces.
pub const CHUNK: usize = 8192;
/// Below this many elements a step stays on the calling thread while the team's helpers sleep:
/// waking one costs about what it would take over (Adam over 128K elements after 4 ms idle, Xeon
/// VM: 105 µs split over 2 threads against 98 on one).
pub const PAR_MIN: usize = 131072;
/// Below this many elements a step stays on the calling thread while the helpers are awake (a
/// parallel call ended less than [`crate::pool::SPIN`] ago, as between a training step's calls):
/// splitting pays from about 24K elements then (Adam, Xeon VM: 16K 9.5 µs on one thread against
/// 10.3 on two, 32K 17.8 against 14.2, 64K 31.1 against 22.5).
pub const PAR_MIN_AWAKE: usize = 32768;

/// `usize::MAX`: not read yet; `AUTO`: no threshold set (the two above apply).
static PAR_MIN_NOW: AtomicUsize = AtomicUsize::new(usize::MAX);
const AUTO: usize = usize::MAX - 1;

/// The threshold set by `FERROPTIM_PAR_MIN` or [`set_par_min`] (elements per step), if any; it
/// then replaces [`PAR_MIN`] and [`PAR_MIN_AWAKE`]. Results never depend on it, since chunk
/// boundaries are fixed.
pub fn par_min() -> Option<usize> {
    let mut v = PAR_MIN_NOW.load(Ordering::Relaxed);
    if v == usize::MAX {
        v = crate::config::par_min().unwrap_or(AUTO);
        PAR_MIN_NOW.store(v, Ordering::Relaxed);
    }
    (v != AUTO).then_some(v)
}

/// Sets the parallel threshold (elements per step), or with `None` goes back to [`PAR_MIN`] and
/// [`PAR_MIN_AWAKE`]. For tests and benchmarks.
pub fn set_par_min(n: Option<usize>) {
    PAR_MIN_NOW.store(n.map_or(AUTO, |n| n.min(AUTO - 1)), Ordering::Relaxed);
}

/// Whether a step over `elements` elements runs on the team.
pub fn parallel(elements: usize) -> bool {
    match par_min() {
        Some(min) => elements >= min,
        None => elements >= PAR_MIN || (elements >= PAR_MIN_AWAKE && crate::pool::awake()),
    }
}

/// The chunks of a step's tensors: tensor `t` has chunks `first[t]..first[t + 1]`, the `k`-th of
/// them covering its elements `[k·CHUNK, min((k + 1)·CHUNK, len))`. An empty tensor has none.
pub struct Layout {
    first: Vec<usize>,
    lens: Vec<usize>,
    elements: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Layout::new()
    }
}

impl Layout {
    pub fn new() -> Self {
        Layout { first: vec![0], lens: Vec::new(), elements: 0 }
    }

    /// The layout of tensors of these lengths.
    #[cfg(test)]
    pub fn of(lens: impl IntoIterator<Item = usize>) -> Self {
        let mut l = Layout::new();
        lens.into_iter().for_each(|n| l.push(n));
        l
    }

    /// Empties the layout, keeping its allocations.
    pub fn clear(&mut self) {
        self.first.clear();
        self.first.push(0);
        self.lens.clear();
        self.elements = 0;
    }

    /// Appends a tensor of `len` elements.
    pub fn push(&mut self, len: usize) {
        let last = *self.first.last().unwrap_or(&0);
        self.first.push(last + len.div_ceil(CHUNK));
        self.lens.push(len);
        self.elements += len;
    }

    /// Number of tensors.
    pub fn tensors(&self) -> usize {
        self.lens.len()
    }

    /// Number of chunks, i.e. of pieces.
    pub fn chunks(&self) -> usize {
        *self.first.last().unwrap_or(&0)
    }

    /// The chunks of tensor `t`.
    pub fn chunks_of(&self, t: usize) -> std::ops::Range<usize> {
        self.first[t]..self.first[t + 1]
    }

    /// Total elements of all tensors.
    pub fn elements(&self) -> usize {
        self.elements
    }

    /// Chunk `c` as `(tensor, start, end)`, the range tensor-local and non-empty; `c < chunks()`.
    #[inline]
    fn piece(&self, c: usize) -> (usize, usize, usize) {
        // The last tensor whose first chunk is <= c: it owns c, since empty tensors own none.
        let t = self.first.partition_point(|&f| f <= c) - 1;
        let a = (c - self.first[t]) * CHUNK;
        (t, a, (a + CHUNK).min(self.lens[t]))
    }
}

/// Runs `each(c)` for every chunk `c`, in parallel when the step is large enough and the pool
/// has more than one thread.
fn for_each_chunk(layout: &Layout, each: impl Fn(usize) + Sync + Send) {
    crate::pool::for_each_if(parallel(layout.elements()), layout.chunks(), each);
}

/// Runs `f(tensor, start, end)` over every piece, in parallel when the step is large enough and
/// the pool has more than one thread.
pub fn for_each_piece<F>(layout: &Layout, f: F)
where
    F: Fn(usize, usize, usize) + Sync,
{
    for_each_chunk(layout, |c| {
        let (t, a, b) = layout.piece(c);
        f(t, a, b)
    })
}

/// A shared output array whose slots are each written by exactly one piece.
struct Slots<T>(*mut T);
// SAFETY: every piece writes a distinct slot (see `for_each_piece_reduce`).
unsafe impl<T: Send> Sync for Slots<T> {}

/// Runs `f(tensor, start, end)` over every piece like [`for_each_piece`] and stores chunk `c`'s
/// result in `out[c]`, then sums each tensor's pieces in chunk order into `sums[t]`. The pieces,
/// and so the sums, depend only on each tensor's own length.
pub fn for_each_piece_reduce<const K: usize, F>(layout: &Layout, out: &mut Vec<[f64; K]>, sums: &mut Vec<[f64; K]>, f: F)
where
    F: Fn(usize, usize, usize) -> [f64; K] + Sync,
{
    out.clear();
    out.resize(layout.chunks(), [0.0; K]);
    let ptr = Slots(out.as_mut_ptr());
    let ptr = &ptr;
    for_each_chunk(layout, |c| {
        let (t, a, b) = layout.piece(c);
        let r = f(t, a, b);
        // SAFETY: chunk c is this call's alone, and c < chunks = out.len().
        unsafe { *ptr.0.add(c) = r };
    });
    sums.clear();
    for t in 0..layout.tensors() {
        let mut acc = [0.0; K];
        for piece in &out[layout.chunks_of(t)] {
            for k in 0..K {
                acc[k] += piece[k];
            }
        }
        sums.push(acc);
    }
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

    /// Where each tensor starts when the tensors are laid end to end (test data only).
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
        let (par, threads) = (par_min(), crate::pool::num_threads());
        // Serial and parallel (the pool with 2 threads, every step above the threshold).
        for (min, n) in [(usize::MAX, 1), (1, 2)] {
            set_par_min(Some(min));
            crate::pool::set_num_threads(n).unwrap();
            pieces_cover_once();
        }
        set_par_min(par);
        crate::pool::set_num_threads(threads).unwrap();
    }

    #[test]
    fn a_step_runs_on_the_team_from_the_threshold_in_force() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let par = par_min();
        set_par_min(Some(100));
        assert!(!parallel(99) && parallel(100));
        set_par_min(Some(usize::MAX));
        assert!(!parallel(1 << 40));
        set_par_min(None);
        assert_eq!(par_min(), None);
        // Large steps always; small ones never, whether the helpers are awake or not.
        assert!(parallel(PAR_MIN) && !parallel(PAR_MIN_AWAKE - 1));
        set_par_min(par);
    }

    fn pieces_cover_once() {
        for lens in [vec![0, 1, 0, 7, 8192, 8193, 0], vec![CHUNK * 5 + 3], vec![1; 300], vec![]] {
            let offsets = prefix(&lens);
            let seen = Mutex::new(vec![0u32; *offsets.last().unwrap()]);
            for_each_piece(&Layout::of(lens.iter().copied()), |t, a, b| {
                assert!(a.is_multiple_of(CHUNK) && b - a <= CHUNK);
                assert!(a < b && b <= lens[t]);
                let mut s = seen.lock().unwrap();
                for i in a..b {
                    s[offsets[t] + i] += 1;
                }
            });
            assert!(seen.into_inner().unwrap().iter().all(|&n| n == 1));
        }
    }

    #[test]
    fn reductions_are_identical_for_any_thread_count_and_simd_level() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        set_par_min(Some(32768));
        let lens = [0, 3, 8191, 8193, 1, 0, 40001, 17];
        let offsets = prefix(&lens);
        let data: Vec<f32> = (0..*offsets.last().unwrap()).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
        let layout = Layout::of(lens);
        let run = || {
            let (mut out, mut sums) = (Vec::new(), Vec::new());
            for_each_piece_reduce::<1, _>(&layout, &mut out, &mut sums, |t, a, b| {
                [sum_squares_simd(&data[offsets[t] + a..offsets[t] + b])]
            });
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

    #[test]
    fn a_tensors_sum_does_not_depend_on_the_other_tensors_of_the_step() {
        let lens = [3usize, 8191, 8193, 40001, 17];
        let offsets = prefix(&lens);
        let data: Vec<f32> = (0..*offsets.last().unwrap()).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
        let sums = |ts: &[usize]| {
            let (mut out, mut sums) = (Vec::new(), Vec::new());
            for_each_piece_reduce::<1, _>(&Layout::of(ts.iter().map(|&t| lens[t])), &mut out, &mut sums, |i, a, b| {
                let o = offsets[ts[i]];
                [sum_squares_simd(&data[o + a..o + b])]
            });
            sums.iter().map(|s| s[0].to_bits()).collect::<Vec<_>>()
        };
        let all = sums(&[0, 1, 2, 3, 4]);
        for (t, &sum) in all.iter().enumerate() {
            assert_eq!(sums(&[t]), [sum], "tensor {t} alone");
        }
        assert_eq!(sums(&[3, 1]), [all[3], all[1]]);
    }
}
