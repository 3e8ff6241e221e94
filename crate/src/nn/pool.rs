//! `MaxPool2d` over each plane of x `[N, C, H, W]`, PyTorch's semantics (floor mode, padding
//! counts as −∞, the first maximum wins, a NaN in a window wins).
//!
//! ```text
//! y[n, c, oy, ox] = max over the window of x[n, c, oy·s + i·d − p, ox·s + j·d − p]
//! idx[n, c, oy, ox] = flat index (iy·W + ix) of that maximum within its plane
//! dx[n, c, idx]  += dy[n, c, oy, ox]     (written: dx is zeroed first)
//! ```
//!
//! With `relu` the forward fuses a preceding ReLU: `y = relu(max over the window of x)`, which is
//! the max over the window of relu(x) bit for bit (relu is monotone, a max ≤ 0 gives +0 either
//! way, a NaN wins either way); idx is still the argmax of x. The backward then takes that y and
//! routes dy only where `y > 0` (PyTorch's `threshold_backward`): where y > 0 the argmax of x and
//! of relu(x) coincide, and every other contribution lands where relu'(x) = 0. So the pair equals
//! ReLU then MaxPool2d both ways, as long as every window holds an input element (an all-padding
//! window gives −∞ and routes its dy to element 0 unfused, which the fused backward cannot see).

use super::activation::relu1;
use super::{check_len, par_for, product, range, NnResult, SendPtr};

/// The geometry of one call.
#[derive(Clone, Copy, Debug)]
pub struct Pool2dShape {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

impl Pool2dShape {
    /// `(OH, OW)`, or a RangeError for an impossible geometry (PyTorch's rules).
    pub fn output_hw(&self) -> NnResult<(usize, usize)> {
        for (name, v) in [("kernelSize", self.kernel), ("stride", self.stride), ("dilation", self.dilation)] {
            if v[0] == 0 || v[1] == 0 {
                return range(format!("expected {name} to be >= 1, received {v:?}"));
            }
        }
        if self.channels == 0 || self.height == 0 || self.width == 0 {
            return range(format!(
                "expected channels, height and width to be >= 1, received {}, {}, {}",
                self.channels, self.height, self.width
            ));
        }
        for a in 0..2 {
            if self.padding[a] > 0 && 2 * self.padding[a] > self.kernel[a] {
                return range(format!(
                    "padding should be at most half of the kernel size, received padding {:?} for kernel {:?}",
                    self.padding, self.kernel
                ));
            }
        }
        let limit = 1 << 24;
        if [self.height, self.width, self.kernel[0], self.kernel[1], self.stride[0], self.stride[1], self.dilation[0], self.dilation[1]]
            .iter()
            .any(|&v| v > limit)
        {
            return range("a pooling dimension exceeds 2^24");
        }
        let size = |n: usize, k: usize, s: usize, p: usize, d: usize| {
            let span = d * (k - 1) + 1;
            (n + 2 * p >= span).then(|| (n + 2 * p - span) / s + 1)
        };
        match (
            size(self.height, self.kernel[0], self.stride[0], self.padding[0], self.dilation[0]),
            size(self.width, self.kernel[1], self.stride[1], self.padding[1], self.dilation[1]),
        ) {
            (Some(oh), Some(ow)) => {
                product("the input", &[self.batch, self.channels, self.height, self.width])?;
                product("the output", &[self.batch, self.channels, oh, ow])?;
                if self.height * self.width > i32::MAX as usize {
                    return range("a plane is too large for 32-bit indices");
                }
                Ok((oh, ow))
            }
            _ => range(format!(
                "the pooling window ({:?}, dilation {:?}) is larger than the padded input ({}x{})",
                self.kernel, self.dilation, self.height, self.width
            )),
        }
    }
}

struct Body<F: FnOnce()>(F);
impl<F: FnOnce()> crate::simd::Simd for Body<F> {
    #[inline(always)]
    fn run(self) {
        (self.0)()
    }
}

/// The common 2×2, stride-2 window without padding or dilation.
pub(super) fn is_2x2(s: &Pool2dShape) -> bool {
    s.padding == [0, 0] && s.dilation == [1, 1] && s.kernel == [2, 2] && s.stride == [2, 2]
}

/// 2×2 max pooling of one plane, branch-free so it vectorises: taps in the order (0,0), (0,1),
/// (1,0), (1,1), each replacing the best when greater or NaN (PyTorch's rule); with `RELU` the
/// best goes through relu.
#[inline(always)]
fn pool2x2_plane<const RELU: bool>(x: &[f32], w: usize, oh: usize, ow: usize, y: &mut [f32], idx: &mut [i32]) {
    for oy in 0..oh {
        let r0 = &x[2 * oy * w..2 * oy * w + 2 * ow];
        let r1 = &x[(2 * oy + 1) * w..(2 * oy + 1) * w + 2 * ow];
        let yr = &mut y[oy * ow..(oy + 1) * ow];
        let ir = &mut idx[oy * ow..(oy + 1) * ow];
        let base = (2 * oy * w) as i32;
        for ox in 0..ow {
            let (a, b, c, d) = (r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]);
            let mut best = a;
            let mut code = 0i32;
            let t = b > best || b.is_nan();
            best = if t { b } else { best };
            code = if t { 1 } else { code };
            let t = c > best || c.is_nan();
            best = if t { c } else { best };
            code = if t { 2 } else { code };
            let t = d > best || d.is_nan();
            best = if t { d } else { best };
            code = if t { 3 } else { code };
            yr[ox] = if RELU { relu1(best) } else { best };
            ir[ox] = base + 2 * ox as i32 + (code & 1) + (code >> 1) * w as i32;
        }
    }
}

/// [`pool2x2_plane`] with AVX2: 8 windows per step, the two taps of a row split into even and
/// odd columns by shuffles, the same compare-and-replace sequence as the scalar body (so the same
/// results, indices and NaN handling), row ends by masked loads and stores (`vmaskmov`, which
/// does not fault on masked-off lanes; AVX-512VL's masked stores measured no faster here).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Lanes `0..n` set (n ≤ 8).
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn lanes(n: usize) -> __m256i {
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    }

    /// The even and the odd elements of the `2·cnt` floats at `p` (cnt ≤ 8), in order.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn split(p: *const f32, cnt: usize) -> (__m256, __m256) {
        let (lo, hi) = if cnt == 8 {
            (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
        } else {
            (_mm256_maskload_ps(p, lanes(2 * cnt)), _mm256_maskload_ps(p.wrapping_add(8), lanes((2 * cnt).saturating_sub(8))))
        };
        // [x0 x2 x8 x10 | x4 x6 x12 x14] → [x0 x2 x4 … x14], and the odd ones alike.
        let even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
        let odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
        (even, odd)
    }

    /// # Safety
    /// AVX2 is available; `x` holds `2·oh` rows of width `w ≥ 2·ow`, `y` and `idx` hold `oh·ow`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn pool2x2_plane<const RELU: bool>(x: &[f32], w: usize, oh: usize, ow: usize, y: &mut [f32], idx: &mut [i32]) {
        assert!(x.len() >= 2 * oh * w && w >= 2 * ow && y.len() >= oh * ow && idx.len() >= oh * ow);
        let two_lanes = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
        let offs = [_mm256_set1_epi32(1), _mm256_set1_epi32(w as i32), _mm256_set1_epi32(w as i32 + 1)];
        for oy in 0..oh {
            let r0 = x.as_ptr().add(2 * oy * w);
            let r1 = r0.add(w);
            let mut ox = 0;
            while ox < ow {
                let cnt = (ow - ox).min(8);
                let (a, b) = split(r0.add(2 * ox), cnt);
                let (c, d) = split(r1.add(2 * ox), cnt);
                let mut best = a;
                let mut off = _mm256_setzero_si256();
                for (v, o) in [b, c, d].into_iter().zip(offs) {
                    // v > best || v is NaN
                    let t = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                    best = _mm256_blendv_ps(best, v, t);
                    off = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(off), _mm256_castsi256_ps(o), t));
                }
                if RELU {
                    // relu1: keep lanes where !(best <= 0) (so NaN too), else +0.
                    best = _mm256_and_ps(best, _mm256_cmp_ps(best, _mm256_setzero_ps(), _CMP_NLE_UQ));
                }
                let at = _mm256_add_epi32(_mm256_set1_epi32((2 * oy * w + 2 * ox) as i32), two_lanes);
                let ind = _mm256_add_epi32(at, off);
                let (yp, ip) = (y.as_mut_ptr().add(oy * ow + ox), idx.as_mut_ptr().add(oy * ow + ox));
                if cnt == 8 {
                    _mm256_storeu_ps(yp, best);
                    _mm256_storeu_si256(ip as *mut __m256i, ind);
                } else {
                    let m = lanes(cnt);
                    _mm256_maskstore_ps(yp, m, best);
                    _mm256_maskstore_epi32(ip, m, ind);
                }
                ox += 8;
            }
        }
    }
}

/// Planes per work item.
const PLANES_PER_TASK: usize = 16;

/// The general window over one plane: taps in row-major order from −∞, each replacing the best
/// when greater or NaN (PyTorch's `if (val > maxval || isnan(val))`); with `RELU` the best of a
/// window holding an input element goes through relu.
#[inline(always)]
fn pool_plane<const RELU: bool>(s: &Pool2dShape, x: &[f32], oh: usize, ow: usize, y: &mut [f32], idx: &mut [i32]) {
    let [kh, kw] = s.kernel;
    let [sh, sw] = s.stride;
    let [ph, pw] = s.padding;
    let [dh, dw] = s.dilation;
    let (h, w) = (s.height as isize, s.width as isize);
    for oy in 0..oh {
        for ox in 0..ow {
            let mut best = f32::NEG_INFINITY;
            let mut bi: isize = -1;
            for i in 0..kh {
                let iy = (oy * sh + i * dh) as isize - ph as isize;
                if iy < 0 || iy >= h {
                    continue;
                }
                for j in 0..kw {
                    let ix = (ox * sw + j * dw) as isize - pw as isize;
                    if ix < 0 || ix >= w {
                        continue;
                    }
                    let flat = iy * w + ix;
                    let v = x[flat as usize];
                    if bi < 0 {
                        bi = flat;
                    }
                    if v > best || v.is_nan() {
                        best = v;
                        bi = flat;
                    }
                }
            }
            // An all-padding window stays −∞, as pooling relu(x) gives.
            y[oy * ow + ox] = if RELU && bi >= 0 { relu1(best) } else { best };
            idx[oy * ow + ox] = bi.max(0) as i32;
        }
    }
}

/// One plane of [`maxpool2d_forward`] on the body for its window (`simple`: 2×2, stride 2) and
/// level (`avx2`: the AVX2 2×2 body).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn forward_plane<const RELU: bool>(
    s: &Pool2dShape,
    simple: bool,
    avx2: bool,
    x: &[f32],
    oh: usize,
    ow: usize,
    y: &mut [f32],
    idx: &mut [i32],
) {
    if !simple {
        return pool_plane::<RELU>(s, x, oh, ow, y, idx);
    }
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: AVX2 is available (the level never exceeds what the CPU has); the plane's
        // slices have the lengths the function asserts.
        return unsafe { x86::pool2x2_plane::<RELU>(x, s.width, oh, ow, y, idx) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2;
    crate::simd::dispatch(Body(|| pool2x2_plane::<RELU>(x, s.width, oh, ow, y, idx)));
}

/// y ← maxpool(x), or maxpool(relu(x)) with `relu`; idx ← the argmax of x in each window.
pub fn maxpool2d_forward(s: Pool2dShape, x: &[f32], y: &mut [f32], idx: &mut [i32], relu: bool) -> NnResult<()> {
    let (oh, ow) = s.output_hw()?;
    let planes = s.batch * s.channels;
    let (hw, ohw) = (s.height * s.width, oh * ow);
    check_len("input", x.len(), planes * hw)?;
    check_len("output", y.len(), planes * ohw)?;
    check_len("indices", idx.len(), planes * ohw)?;
    let yp = SendPtr(y.as_mut_ptr());
    let ip = idx.as_mut_ptr() as usize;
    let tasks = planes.div_ceil(PLANES_PER_TASK);
    let simple = is_2x2(&s);
    let avx2 = crate::simd::level() >= crate::simd::Level::Avx2;
    par_for(tasks, planes * ohw * s.kernel[0] * s.kernel[1] * 4, |t| {
        for pl in t * PLANES_PER_TASK..((t + 1) * PLANES_PER_TASK).min(planes) {
            let xp = &x[pl * hw..(pl + 1) * hw];
            // SAFETY: plane `pl`'s output and index blocks, disjoint from other planes'.
            let yo = unsafe { yp.slice(pl * ohw, ohw) };
            let io = unsafe { std::slice::from_raw_parts_mut((ip as *mut i32).add(pl * ohw), ohw) };
            if relu {
                forward_plane::<true>(&s, simple, avx2, xp, oh, ow, yo, io);
            } else {
                forward_plane::<false>(&s, simple, avx2, xp, oh, ow, yo, io);
            }
        }
    });
    Ok(())
}

/// dx ← the gradient of [`maxpool2d_forward`], routing each dy to its window's argmax; with
/// `relu_y` (the fused forward's output) only where `y > 0`, the gradient through ReLU too.
pub fn maxpool2d_backward(s: Pool2dShape, dy: &[f32], idx: &[i32], relu_y: Option<&[f32]>, dx: &mut [f32]) -> NnResult<()> {
    let (oh, ow) = s.output_hw()?;
    let planes = s.batch * s.channels;
    let (hw, ohw) = (s.height * s.width, oh * ow);
    check_len("output gradient", dy.len(), planes * ohw)?;
    check_len("indices", idx.len(), planes * ohw)?;
    if let Some(y) = relu_y {
        check_len("reluOutput", y.len(), planes * ohw)?;
    }
    check_len("input gradient", dx.len(), planes * hw)?;
    check_indices(idx, hw)?;
    let dxp = SendPtr(dx.as_mut_ptr());
    let tasks = planes.div_ceil(PLANES_PER_TASK);
    par_for(tasks, planes * (hw + ohw) * 2, |t| {
        for pl in t * PLANES_PER_TASK..((t + 1) * PLANES_PER_TASK).min(planes) {
            // SAFETY: plane `pl`'s input-gradient block, disjoint from other planes'.
            let d = unsafe { dxp.slice(pl * hw, hw) };
            let o = pl * ohw..(pl + 1) * ohw;
            backward_plane(&dy[o.clone()], &idx[o.clone()], relu_y.map(|y| &y[o]), d);
        }
    });
    Ok(())
}

/// A RangeError naming the first index outside `[0, len)`, if any: one branch-free pass, then a
/// search only on failure. The compare is unsigned against a bound of at most 2³¹, so a
/// negative index (2³¹ or more as u32) is out too.
pub(super) fn check_indices(idx: &[i32], len: usize) -> NnResult<()> {
    let bound = len.min(1 << 31) as u32;
    if idx.iter().fold(false, |bad, &v| bad | (v as u32 >= bound)) {
        let (i, v) = idx.iter().enumerate().find(|(_, &v)| v as u32 >= bound).map(|(i, &v)| (i, v)).unwrap_or((0, 0));
        return range(format!("expected indices[{i}] to be in [0, {len}), received {v}"));
    }
    Ok(())
}

/// One plane of [`maxpool2d_backward`]: d ← 0, then [`route`]. The indices lie inside `d`
/// (checked by the caller).
#[inline(always)]
pub(super) fn backward_plane(g: &[f32], ix: &[i32], relu_y: Option<&[f32]>, d: &mut [f32]) {
    d.fill(0.0);
    route(g, ix, relu_y, d, 1);
}

/// Adds each pooled gradient `g[q]` at its window's argmax: `d[ix[q]·stride] += g[q]` (where
/// `relu_y[q]` > 0 when given), in order. `stride` > 1 writes a plane into a column of a
/// transposed gradient (the fused convolution's dyᵀ).
///
/// A gated g adds +0 instead of a branch (which mispredicts on ReLU's pattern): a sum that starts
/// at +0 is never −0, so adding +0 leaves every element's bits as skipping would.
#[inline(always)]
pub(super) fn route(g: &[f32], ix: &[i32], relu_y: Option<&[f32]>, d: &mut [f32], stride: usize) {
    match relu_y {
        None => {
            for (&g, &i) in g.iter().zip(ix) {
                d[i as usize * stride] += g;
            }
        }
        Some(y) => {
            for ((&g, &i), &v) in g.iter().zip(ix).zip(y) {
                d[i as usize * stride] += if v > 0.0 { g } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::testing::{dot, vec};

    #[allow(clippy::too_many_arguments)]
    fn shape(n: usize, c: usize, h: usize, w: usize, k: [usize; 2], st: [usize; 2], p: [usize; 2], d: [usize; 2]) -> Pool2dShape {
        Pool2dShape { batch: n, channels: c, height: h, width: w, kernel: k, stride: st, padding: p, dilation: d }
    }

    #[test]
    fn forward_matches_a_direct_max_and_backward_matches_finite_differences() {
        for s in [
            shape(2, 3, 8, 8, [2, 2], [2, 2], [0, 0], [1, 1]),
            shape(2, 3, 7, 9, [2, 2], [2, 2], [0, 0], [1, 1]),
            shape(1, 2, 7, 6, [3, 2], [2, 1], [1, 1], [1, 1]),
            shape(1, 17, 9, 9, [3, 3], [2, 2], [1, 0], [2, 1]),
        ] {
            let (oh, ow) = s.output_hw().unwrap();
            let x = vec(5, s.batch * s.channels * s.height * s.width);
            let mut y = vec![0f32; s.batch * s.channels * oh * ow];
            let mut idx = vec![0i32; y.len()];
            maxpool2d_forward(s, &x, &mut y, &mut idx, false).unwrap();
            for pl in 0..s.batch * s.channels {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut m = f32::NEG_INFINITY;
                        for i in 0..s.kernel[0] {
                            for j in 0..s.kernel[1] {
                                let iy = (oy * s.stride[0] + i * s.dilation[0]) as isize - s.padding[0] as isize;
                                let ix = (ox * s.stride[1] + j * s.dilation[1]) as isize - s.padding[1] as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < s.height && (ix as usize) < s.width {
                                    m = m.max(x[pl * s.height * s.width + iy as usize * s.width + ix as usize]);
                                }
                            }
                        }
                        let o = pl * oh * ow + oy * ow + ox;
                        assert_eq!(y[o], m);
                        assert_eq!(x[pl * s.height * s.width + idx[o] as usize], m);
                    }
                }
            }
            // Finite differences: the max is piecewise linear, so a small step is exact away from ties.
            let r = vec(6, y.len());
            let mut dx = vec![3f32; x.len()];
            maxpool2d_backward(s, &r, &idx, None, &mut dx).unwrap();
            let loss = |x: &[f32]| {
                let mut y2 = vec![0f32; y.len()];
                let mut i2 = vec![0i32; y.len()];
                maxpool2d_forward(s, x, &mut y2, &mut i2, false).unwrap();
                dot(&y2, &r)
            };
            let h = 1e-4f32;
            let mut xp = x.clone();
            for i in 0..x.len() {
                xp[i] = x[i] + h;
                let lp = loss(&xp);
                xp[i] = x[i] - h;
                let lm = loss(&xp);
                xp[i] = x[i];
                let num = (lp - lm) / (2.0 * h as f64);
                assert!((num - dx[i] as f64).abs() < 1e-2, "{s:?} dx[{i}]: {} vs {num}", dx[i]);
            }
        }
    }

    #[test]
    fn ties_take_the_first_maximum_and_nan_wins() {
        let s = shape(1, 1, 2, 4, [2, 2], [2, 2], [0, 0], [1, 1]);
        let x = [1.0, 1.0, 0.0, f32::NAN, 1.0, 1.0, 5.0, 0.0];
        let (mut y, mut idx) = ([0f32; 2], [0i32; 2]);
        maxpool2d_forward(s, &x, &mut y, &mut idx, false).unwrap();
        assert_eq!(y[0], 1.0);
        assert_eq!(idx[0], 0);
        assert!(y[1].is_nan());
        assert_eq!(idx[1], 3);
    }

    #[test]
    fn the_2x2_forward_gives_the_scalar_bits_at_every_level_with_ties_nans_and_odd_sizes() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let levels = [crate::simd::Level::Avx512, crate::simd::Level::Avx2, crate::simd::Level::Baseline];
        for (h, w) in [(2, 2), (3, 5), (14, 14), (28, 28), (7, 33), (4, 34), (9, 16)] {
            let s = shape(2, 3, h, w, [2, 2], [2, 2], [0, 0], [1, 1]);
            let (oh, ow) = s.output_hw().unwrap();
            // Few distinct values (ties), NaNs, infinities and signed zeros.
            let x: Vec<f32> = vec(7, 6 * h * w)
                .iter()
                .enumerate()
                .map(|(i, &v)| match i % 11 {
                    3 => f32::NAN,
                    5 => -0.0,
                    7 => f32::NEG_INFINITY,
                    _ => (v * 3.0).round(),
                })
                .collect();
            let mut expect_y = vec![0f32; 6 * oh * ow];
            let mut expect_i = vec![0i32; expect_y.len()];
            for pl in 0..6 {
                let r = pl * oh * ow..(pl + 1) * oh * ow;
                pool2x2_plane::<false>(&x[pl * h * w..(pl + 1) * h * w], w, oh, ow, &mut expect_y[r.clone()], &mut expect_i[r]);
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for lvl in levels.into_iter().filter(|&l| l <= crate::simd::detected()) {
                crate::simd::force(lvl);
                let mut y = vec![1f32; expect_y.len()];
                let mut idx = vec![-1i32; y.len()];
                maxpool2d_forward(s, &x, &mut y, &mut idx, false).unwrap();
                assert_eq!(bits(&y), bits(&expect_y), "{lvl:?} {h}x{w} y");
                assert_eq!(idx, expect_i, "{lvl:?} {h}x{w} indices");
            }
        }
        crate::simd::force(crate::simd::detected());
    }

    /// ReLU then MaxPool2d run one after the other, the oracle of the fused calls.
    fn unfused(s: Pool2dShape, x: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let mut r = vec![0f32; x.len()];
        crate::nn::activation::relu_forward(x, &mut r).unwrap();
        let mut y = vec![0f32; dy.len()];
        let mut idx = vec![0i32; dy.len()];
        maxpool2d_forward(s, &r, &mut y, &mut idx, false).unwrap();
        let mut g = vec![0f32; x.len()];
        maxpool2d_backward(s, dy, &idx, None, &mut g).unwrap();
        let mut dx = vec![0f32; x.len()];
        crate::nn::activation::relu_backward(&r, &g, &mut dx).unwrap();
        (y, dx)
    }

    #[test]
    fn the_relu_flag_gives_the_bits_of_relu_then_pool_both_ways_at_every_level() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let levels = [crate::simd::Level::Avx512, crate::simd::Level::Avx2, crate::simd::Level::Baseline];
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for s in [
            shape(2, 3, 2, 2, [2, 2], [2, 2], [0, 0], [1, 1]),
            shape(2, 3, 28, 28, [2, 2], [2, 2], [0, 0], [1, 1]),
            shape(2, 3, 7, 33, [2, 2], [2, 2], [0, 0], [1, 1]),
            shape(1, 4, 9, 16, [2, 2], [2, 2], [0, 0], [1, 1]),
            // Overlapping windows, padding, dilation, odd sizes.
            shape(2, 3, 7, 9, [3, 3], [1, 1], [1, 1], [1, 1]),
            shape(1, 5, 8, 7, [3, 2], [2, 1], [1, 1], [1, 1]),
            shape(1, 3, 9, 9, [3, 3], [2, 2], [1, 0], [2, 1]),
            shape(2, 2, 5, 6, [2, 2], [1, 1], [0, 0], [1, 1]),
        ] {
            let (oh, ow) = s.output_hw().unwrap();
            let planes = s.batch * s.channels;
            let hw = s.height * s.width;
            // Few distinct values (ties), NaNs, ±∞, signed zeros; every third plane negative only.
            let x: Vec<f32> = vec(8, planes * hw)
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let v = match i % 13 {
                        3 => f32::NAN,
                        5 => -0.0,
                        6 => 0.0,
                        7 => f32::NEG_INFINITY,
                        11 => f32::INFINITY,
                        _ => (v * 3.0).round(),
                    };
                    if (i / hw) % 3 == 1 && !v.is_nan() {
                        -v.abs()
                    } else {
                        v
                    }
                })
                .collect();
            let dy: Vec<f32> = vec(9, planes * oh * ow).iter().enumerate().map(|(i, &v)| if i % 17 == 4 { f32::NAN } else { v }).collect();
            let (expect_y, expect_dx) = unfused(s, &x, &dy);
            for lvl in levels.into_iter().filter(|&l| l <= crate::simd::detected()) {
                crate::simd::force(lvl);
                let mut y = vec![1f32; dy.len()];
                let mut idx = vec![-1i32; dy.len()];
                maxpool2d_forward(s, &x, &mut y, &mut idx, true).unwrap();
                assert_eq!(bits(&y), bits(&expect_y), "{lvl:?} {s:?} y");
                let mut dx = vec![7f32; x.len()];
                maxpool2d_backward(s, &dy, &idx, Some(&y), &mut dx).unwrap();
                assert_eq!(bits(&dx), bits(&expect_dx), "{lvl:?} {s:?} dx");
            }
        }
        crate::simd::force(crate::simd::detected());
    }

    #[test]
    fn the_relu_flag_keeps_an_all_padding_window_at_minus_infinity() {
        // Taps at −1 and 4 of a width-4 row: no input element in the window.
        let s = shape(1, 1, 1, 4, [1, 2], [1, 1], [0, 1], [1, 5]);
        assert_eq!(s.output_hw().unwrap(), (1, 1));
        let (mut y, mut idx) = ([0f32; 1], [0i32; 1]);
        maxpool2d_forward(s, &[-1.0, 2.0, 3.0, 4.0], &mut y, &mut idx, true).unwrap();
        assert_eq!(y[0], f32::NEG_INFINITY);
        let e = maxpool2d_backward(s, &[1.0], &idx, Some(&[0.0; 2]), &mut [0.0; 4]).unwrap_err();
        assert_eq!(e.to_string(), "RangeError: expected reluOutput to have length 1, received 2");
    }

    /// Single-thread time of the 2×2 forward at the seed CNN's pools (batch 128) at the level in
    /// force: the scalar body (autovectorised through `dispatch`) against [`maxpool2d_forward`],
    /// interleaved; median and min of 15 rounds.
    /// `cargo test --release --manifest-path crate/Cargo.toml pool_2x2_benchmark -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn pool_2x2_benchmark() {
        use std::time::Instant;
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        crate::pool::set_num_threads(1).unwrap();
        for (c, hw) in [(32, 28), (64, 14)] {
            let s = shape(128, c, hw, hw, [2, 2], [2, 2], [0, 0], [1, 1]);
            let (oh, ow) = s.output_hw().unwrap();
            let (planes, ohw) = (128 * c, oh * ow);
            let x = vec(1, planes * hw * hw);
            let (mut y, mut idx) = (vec![0f32; planes * ohw], vec![0i32; planes * ohw]);
            let (mut y2, mut idx2) = (y.clone(), idx.clone());
            let (mut scalar, mut kernel) = (Vec::new(), Vec::new());
            for _ in 0..15 {
                let t0 = Instant::now();
                for pl in 0..planes {
                    let (yo, io) = (&mut y[pl * ohw..(pl + 1) * ohw], &mut idx[pl * ohw..(pl + 1) * ohw]);
                    crate::simd::dispatch(Body(|| pool2x2_plane::<false>(&x[pl * hw * hw..(pl + 1) * hw * hw], hw, oh, ow, yo, io)));
                }
                let t1 = Instant::now();
                maxpool2d_forward(s, &x, &mut y2, &mut idx2, false).unwrap();
                let t2 = Instant::now();
                scalar.push((t1 - t0).as_secs_f64() * 1e3);
                kernel.push((t2 - t1).as_secs_f64() * 1e3);
            }
            assert!(idx == idx2 && y.iter().zip(&y2).all(|(a, b)| a.to_bits() == b.to_bits()));
            let stat = |v: &mut Vec<f64>| {
                v.sort_by(|a, b| a.partial_cmp(b).unwrap());
                format!("{:.3} ms ({:.3})", v[v.len() / 2], v[0])
            };
            println!(
                "{c}x{hw}x{hw} (b128, {}) forward median (min): scalar body {}, kernel {}",
                crate::simd::level().name(),
                stat(&mut scalar),
                stat(&mut kernel)
            );
        }
        crate::pool::set_num_threads(2).unwrap();
    }

    #[test]
    fn index_checks_reject_negative_and_large_indices_whatever_the_bound() {
        assert!(check_indices(&[0, 15, 3], 16).is_ok());
        assert!(check_indices(&[], 0).is_ok());
        let msg = |idx: &[i32], len| check_indices(idx, len).unwrap_err().to_string();
        assert_eq!(msg(&[0, 16, -1], 16), "RangeError: expected indices[1] to be in [0, 16), received 16");
        assert_eq!(msg(&[0, 5, -1], 16), "RangeError: expected indices[2] to be in [0, 16), received -1");
        assert_eq!(
            msg(&[i32::MIN], 1 << 40),
            format!("RangeError: expected indices[0] to be in [0, {}), received {}", 1u64 << 40, i32::MIN)
        );
        assert_eq!(msg(&[-2], u32::MAX as usize), format!("RangeError: expected indices[0] to be in [0, {}), received -2", u32::MAX));
        assert!(check_indices(&[i32::MAX], 1 << 31).is_ok());
        assert!(check_indices(&[i32::MAX], i32::MAX as usize).is_err());
    }

    #[test]
    fn bad_geometry_and_indices_are_range_errors() {
        let s = shape(1, 1, 4, 4, [2, 2], [2, 2], [2, 2], [1, 1]);
        assert!(s.output_hw().unwrap_err().to_string().contains("at most half"));
        let s = shape(1, 1, 4, 4, [2, 2], [2, 2], [0, 0], [1, 1]);
        let e = maxpool2d_backward(s, &[0.0; 4], &[0, 1, 99, 2], None, &mut [0.0; 16]).unwrap_err();
        assert_eq!(e.to_string(), "RangeError: expected indices[2] to be in [0, 16), received 99");
    }
}
