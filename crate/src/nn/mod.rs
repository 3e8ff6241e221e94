//! Neural-network layers for training on the CPU: forward and backward kernels of `Linear`,
//! `Conv2d`, `MaxPool2d`, `ReLU`, `Dropout` and the fused cross-entropy loss.
//!
//! # Layout
//! Tensors are the caller's `f32` slices in PyTorch's contiguous layout: activations `[N, C, H, W]`
//! (or `[N, F]`), `Linear` weights `[out, in]`, `Conv2d` weights `[out, in, kh, kw]`. Gradients of
//! parameters are *accumulated* (`grad += ∂L/∂w`, PyTorch's `.grad` semantics; the optimizer's
//! `zeroGrad` clears them); gradients of inputs are written.
//!
//! # Matrix products
//! [`gemm`] runs the products with K ≤ 1024 and A ≤ 128 Ki elements (every convolution product of
//! the seed CNN, and `Linear` except its 3136-input forward) on a hand-written AVX-512 kernel
//! (`gemm::x512`, used when the active SIMD level is AVX-512), and the rest on
//! `matrixmultiply::sgemm` (bluss). Measured single-threaded on a 2-core Zen 5 EPYC (AVX-512, FMA
//! peak ≈ 280 GFLOP/s per core measured: 2 × 512-bit FMA pipes × 16 lanes × 2 flops × ~4.4 GHz),
//! with the ignored test `gemm_shapes_benchmark` in `gemm.rs`, GFLOP/s for matrixmultiply 0.3 /
//! gemm 0.18 (sarah-ek) / the kernel:
//! 64×288·288×196 (conv2 forward) 188 / 120 / 236; 288×196·196×64 (conv2 dWᵀ) 160 / 129 / 242;
//! 288×64·64×196 (conv2 dcols) 218 / 122 / 237; 32×9·9×784 (conv1 forward) 158 / 94 / 231.
//! The kernel reads A in place by broadcasts (any strides) and B in place when its rows are
//! contiguous (a transposed B is first copied row-major), 12 × 32 tiles of C in 24 zmm
//! accumulators (8 × 32 in 16 when the figures above were measured), edges by masked loads and
//! stores. At the AVX2 level the same products (those at least 16
//! columns wide) run on its AVX2 + FMA analog (`gemm::x256`, 6 × 16 tiles in 12 ymm
//! accumulators); against matrixmultiply's AVX2 kernel (its `avx512` feature off, as an
//! AVX2-only CPU runs it), GFLOP/s on the same core: 64×288·288×196 110 / 124;
//! 288×196·196×64 107 / 136; 288×64·64×196 117 / 126; 32×9·9×784 97 / 142. Below 16 columns
//! matrixmultiply stays faster (32×784·784×9: 39 / 32). matrixmultiply chooses its kernel by
//! its own detection, so with `FERROPTIM_SIMD=avx2` on an AVX-512 CPU its AVX-512 kernel still
//! runs, and is faster there than `x256`. gemm's AVX-512 kernels need its `nightly`
//! feature, so on stable Rust it is the slowest at every shape; it is a dev-dependency only, for
//! the benchmark. On 2 threads neither crate's own threading beat splitting the work ourselves,
//! so the products run single-threaded on this crate's threads ([`crate::pool`]): convolutions as im2col +
//! GEMM per image with images spread over the pool, `Linear` with the output cut into row or
//! column blocks.
//!
//! # Determinism
//! Results do not depend on the thread count. Work is cut into pieces whose boundaries depend only
//! on the shapes (fixed image chunks, fixed row blocks), and sums over the batch (weight and bias
//! gradients) are formed per chunk and combined in chunk order. Across SIMD levels results may
//! differ in the last bits: the GEMM kernels use FMA and level-specific blockings.

pub mod activation;
pub mod conv2d;
pub mod data;
pub mod gemm;
pub mod linear;
pub mod loss;
pub mod pool;
pub(crate) mod sparse;

/// Below roughly this many floating-point operations a layer call stays on the calling thread.
pub const PAR_MIN_FLOPS: usize = 1 << 18;

/// An error for the bindings: `Range` (bad value or length) or `Type`.
#[derive(Debug, Clone, PartialEq)]
pub enum NnError {
    Range(String),
    Type(String),
}

impl std::fmt::Display for NnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NnError::Range(m) => write!(f, "RangeError: {m}"),
            NnError::Type(m) => write!(f, "TypeError: {m}"),
        }
    }
}

pub type NnResult<T> = Result<T, NnError>;

pub(crate) fn range<T>(msg: impl Into<String>) -> NnResult<T> {
    Err(NnError::Range(msg.into()))
}

/// Checks that buffer `name` has exactly `expected` elements.
pub(crate) fn check_len(name: &str, len: usize, expected: usize) -> NnResult<()> {
    if len != expected {
        return range(format!("expected {name} to have length {expected}, received {len}"));
    }
    Ok(())
}

/// `a · b · …` with overflow reported as a RangeError.
pub(crate) fn product(name: &str, dims: &[usize]) -> NnResult<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| NnError::Range(format!("{name} is too large: {dims:?}")))
}

/// Runs `f(i)` for `i in 0..n`, over the pool when `work` (≈ flops) is large enough and the pool
/// has more than one thread. Which thread runs which `i` never changes a result.
pub(crate) fn par_for(n: usize, work: usize, f: impl Fn(usize) + Sync + Send) {
    crate::pool::for_each_if(work >= PAR_MIN_FLOPS, n, f);
}

/// Number of pool threads available to a layer call.
pub(crate) fn threads() -> usize {
    crate::pool::num_threads().max(1)
}

/// A raw pointer that may cross threads; users guarantee disjoint writes.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub *mut f32);
// SAFETY: only used to hand disjoint regions of one buffer to different tasks of one call.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer `i` elements further (a method, so closures capture the whole `SendPtr`).
    #[inline(always)]
    pub fn at(self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }

    /// # Safety
    /// `[start, start + len)` lies inside the buffer and no other live reference covers it.
    #[inline(always)]
    pub unsafe fn slice<'a>(self, start: usize, len: usize) -> &'a mut [f32] {
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }
}

/// Σ x in f64 with eight interleaved accumulators combined in a fixed order: vectorisable, and the
/// same result at every SIMD width.
#[inline(always)]
pub(crate) fn sum_f64(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for j in 0..8 {
            acc[j] += c[j] as f64;
        }
    }
    for (j, &v) in chunks.remainder().iter().enumerate() {
        acc[j] += v as f64;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// Sums `parts` (each of length `out.len()`) in index order and adds the result to `out`, in
/// parallel over fixed element blocks, so the result is independent of the thread count.
pub(crate) fn add_partials(out: &mut [f32], parts: &[Vec<f32>]) {
    const BLOCK: usize = 4096;
    let n = out.len();
    let blocks = n.div_ceil(BLOCK);
    let ptr = SendPtr(out.as_mut_ptr());
    par_for(blocks, n * parts.len(), |b| {
        let a = b * BLOCK;
        let e = (a + BLOCK).min(n);
        // SAFETY: block b covers [a, e), disjoint from every other block, inside `out`.
        let o = unsafe { ptr.slice(a, e - a) };
        let mut acc = vec![0f32; e - a];
        for p in parts {
            for (x, &y) in acc.iter_mut().zip(&p[a..e]) {
                *x += y;
            }
        }
        for (x, y) in o.iter_mut().zip(acc) {
            *x += y;
        }
    });
}

/// Test helpers: deterministic data and central finite differences.
#[cfg(test)]
pub(crate) mod testing {
    /// A deterministic pseudo-random value in [-1, 1).
    pub fn rnd(seed: u64, i: usize) -> f32 {
        let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z ^= z >> 31;
        z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 29;
        ((z >> 40) as f32) / (1u64 << 23) as f32 - 1.0
    }

    pub fn vec(seed: u64, n: usize) -> Vec<f32> {
        (0..n).map(|i| rnd(seed, i)).collect()
    }

    /// Σ w·f(x) for a fixed random weighting w, so one scalar tests every output.
    pub fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
    }

    /// Checks `analytic[i] ≈ (L(x + h e_i) − L(x − h e_i)) / 2h` at up to `max_checks` indices.
    pub fn check_grad(x: &[f32], analytic: &[f32], max_checks: usize, loss: impl Fn(&[f32]) -> f64, what: &str) {
        let h = 1e-2f32;
        let step = (x.len() / max_checks).max(1);
        let mut xp = x.to_vec();
        for i in (0..x.len()).step_by(step) {
            let orig = xp[i];
            xp[i] = orig + h;
            let lp = loss(&xp);
            xp[i] = orig - h;
            let lm = loss(&xp);
            xp[i] = orig;
            let num = (lp - lm) / (2.0 * h as f64);
            let a = analytic[i] as f64;
            assert!((num - a).abs() <= 2e-2 * (1.0 + a.abs().max(num.abs())), "{what}[{i}]: analytic {a}, numeric {num}");
        }
    }
}
