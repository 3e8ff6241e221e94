//! `Conv2d` as im2col + GEMM per image: x `[N, C, H, W]`, W `[O, C, kh, kw]`, b `[O]`,
//! y `[N, O, OH, OW]`, with any kernel size, stride, zero padding and dilation (groups = 1).
//!
//! ```text
//! cols_n = im2col(x_n)          [C·kh·kw, OH·OW]
//! y_n    = W·cols_n + b         [O, OH·OW]
//! dW    += Σₙ dy_n·cols_nᵀ      (accumulated)
//! db    += Σₙ Σₚ dy_n[:, p]     (accumulated)
//! dx_n   = col2im(Wᵀ·dy_n)      (written)
//! ```
//! Images are spread over the pool in fixed chunks of [`IMAGES_PER_CHUNK`]; each chunk forms its
//! own partial dW and db, combined in chunk order, so gradients do not depend on the thread count.
//! The im2col buffer is per thread and recomputed in backward rather than kept from forward.
//!
//! [`conv2d_relu_maxpool2d_forward`] and [`conv2d_relu_maxpool2d_backward`] fuse a ReLU and a
//! max pool after the convolution: each image's output (and, backward, its gradient, routed
//! from the pooled gradient) lives in a per-thread buffer between the product and the pool, so
//! the batch's full-resolution activation is never written or read back. The routed gradient is
//! zero outside each window's argmax, so when the input gradient is wanted, the backward's two
//! products run over its non-zeros only ([`super::sparse`]), with the dense products' bits.

use super::gemm::{self, sgemm, MatRef};
use super::pool::{self, Pool2dShape};
use super::sparse::{self, Nonzeros};
use super::{add_partials, check_len, par_for, product, range, sum_f64, NnResult, SendPtr};
use std::cell::RefCell;

/// Images per work item; sums over the batch are formed per chunk of this many images.
pub const IMAGES_PER_CHUNK: usize = 8;

/// The geometry of one call.
#[derive(Clone, Copy, Debug)]
pub struct Conv2dShape {
    pub batch: usize,
    pub in_channels: usize,
    pub height: usize,
    pub width: usize,
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

/// OW of a shape whose geometry [`Conv2dShape::output_hw`] accepted (0 otherwise).
fn out_width(s: &Conv2dShape) -> usize {
    out_size(s.width, s.kernel[1], s.stride[1], s.padding[1], s.dilation[1]).unwrap_or(0)
}

fn out_size(input: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let span = d * (k - 1) + 1;
    let padded = input + 2 * p;
    (padded >= span).then(|| (padded - span) / s + 1)
}

impl Conv2dShape {
    /// `(OH, OW)`, or a RangeError when a dimension is zero or the kernel exceeds the padded input.
    pub fn output_hw(&self) -> NnResult<(usize, usize)> {
        let dims = [
            ("inChannels", self.in_channels),
            ("outChannels", self.out_channels),
            ("height", self.height),
            ("width", self.width),
            ("kernelSize[0]", self.kernel[0]),
            ("kernelSize[1]", self.kernel[1]),
            ("stride[0]", self.stride[0]),
            ("stride[1]", self.stride[1]),
            ("dilation[0]", self.dilation[0]),
            ("dilation[1]", self.dilation[1]),
        ];
        for (name, v) in dims {
            if v == 0 {
                return range(format!("expected {name} to be >= 1, received 0"));
            }
        }
        let limit = 1 << 24;
        if [
            self.height,
            self.width,
            self.kernel[0],
            self.kernel[1],
            self.padding[0],
            self.padding[1],
            self.dilation[0],
            self.dilation[1],
            self.stride[0],
            self.stride[1],
        ]
        .iter()
        .any(|&v| v > limit)
        {
            return range("a convolution dimension exceeds 2^24");
        }
        let oh = out_size(self.height, self.kernel[0], self.stride[0], self.padding[0], self.dilation[0]);
        let ow = out_size(self.width, self.kernel[1], self.stride[1], self.padding[1], self.dilation[1]);
        match (oh, ow) {
            (Some(oh), Some(ow)) => {
                product("the input", &[self.batch, self.in_channels, self.height, self.width])?;
                product("the output", &[self.batch, self.out_channels, oh, ow])?;
                product("the im2col buffer", &[self.in_channels, self.kernel[0], self.kernel[1], oh, ow])?;
                product("the weight", &[self.out_channels, self.in_channels, self.kernel[0], self.kernel[1]])?;
                Ok((oh, ow))
            }
            _ => range(format!(
                "the kernel ({}x{}, dilation {:?}) is larger than the padded input ({}x{}, padding {:?})",
                self.kernel[0], self.kernel[1], self.dilation, self.height, self.width, self.padding
            )),
        }
    }

    fn pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }
}

struct Dims {
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    oh: usize,
    ow: usize,
    /// Rows of the im2col matrix: C·kh·kw.
    k: usize,
    /// Columns of the im2col matrix: OH·OW.
    p: usize,
    ph: usize,
    pw: usize,
}

fn dims(s: &Conv2dShape) -> NnResult<Dims> {
    let (oh, ow) = s.output_hw()?;
    Ok(Dims {
        c: s.in_channels,
        h: s.height,
        w: s.width,
        o: s.out_channels,
        oh,
        ow,
        k: s.in_channels * s.kernel[0] * s.kernel[1],
        p: oh * ow,
        ph: s.padding[0],
        pw: s.padding[1],
    })
}

/// The zero-padded copy of one image: `[C, H + 2·ph, W + 2·pw]`, so im2col needs no bounds logic.
#[inline(always)]
fn pad_image(d: &Dims, x: &[f32], out: &mut [f32]) {
    let (hp, wp) = (d.h + 2 * d.ph, d.w + 2 * d.pw);
    out.fill(0.0);
    for c in 0..d.c {
        for y in 0..d.h {
            let dst = (c * hp + y + d.ph) * wp + d.pw;
            out[dst..dst + d.w].copy_from_slice(&x[(c * d.h + y) * d.w..(c * d.h + y + 1) * d.w]);
        }
    }
}

/// `dst ← src` for short runs: fixed 8-wide copies (plus one overlapping tail copy) instead of a
/// `memcpy` call per run of a dozen floats.
#[inline(always)]
fn copy_run(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    let src = &src[..n];
    if n < 8 {
        #[allow(clippy::manual_memcpy)] // a call to memcpy per short run is what this avoids
        for j in 0..n {
            dst[j] = src[j];
        }
        return;
    }
    let mut j = 0;
    while j + 8 <= n {
        let d: &mut [f32; 8] = (&mut dst[j..j + 8]).try_into().unwrap();
        *d = src[j..j + 8].try_into().unwrap();
        j += 8;
    }
    if j < n {
        let d: &mut [f32; 8] = (&mut dst[n - 8..n]).try_into().unwrap();
        *d = src[n - 8..n].try_into().unwrap();
    }
}

/// `dst += src` for short runs, in fixed 8-wide steps and a scalar tail.
#[inline(always)]
fn add_run(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    let src = &src[..n];
    let mut j = 0;
    while j + 8 <= n {
        let d: &mut [f32; 8] = (&mut dst[j..j + 8]).try_into().unwrap();
        let v: &[f32; 8] = src[j..j + 8].try_into().unwrap();
        for l in 0..8 {
            d[l] += v[l];
        }
        j += 8;
    }
    while j < n {
        dst[j] += src[j];
        j += 1;
    }
}

/// Visits every run of the im2col matrix: `f(cols_offset, padded_offset)`; the run covers
/// output columns `[0, OW)` of one output row, reading the padded image at `padded_offset +
/// ox·sw`.
#[inline(always)]
fn for_each_run(s: &Conv2dShape, d: &Dims, mut f: impl FnMut(usize, usize)) {
    let [kh, kw] = s.kernel;
    let [sh, _] = s.stride;
    let [dh, dw] = s.dilation;
    let wp = d.w + 2 * d.pw;
    let hp = d.h + 2 * d.ph;
    for c in 0..d.c {
        for ki in 0..kh {
            for kj in 0..kw {
                let row = (c * kh + ki) * kw + kj;
                for oy in 0..d.oh {
                    f(row * d.p + oy * d.ow, (c * hp + oy * sh + ki * dh) * wp + kj * dw);
                }
            }
        }
    }
}

/// cols ← im2col(x) for one image, from its padded copy.
#[inline(always)]
fn im2col(s: &Conv2dShape, d: &Dims, padded: &[f32], cols: &mut [f32]) {
    let (ow, sw) = (d.ow, s.stride[1]);
    for_each_run(s, d, |dst, src| {
        let out = &mut cols[dst..dst + ow];
        if sw == 1 {
            copy_run(out, &padded[src..src + ow]);
        } else {
            for (j, o) in out.iter_mut().enumerate() {
                *o = padded[src + j * sw];
            }
        }
    });
}

/// padded_dx ← col2im(dcols) for one image (`padded_dx` zeroed first; padding rows discarded later).
#[inline(always)]
fn col2im(s: &Conv2dShape, d: &Dims, dcols: &[f32], padded_dx: &mut [f32]) {
    let (ow, sw) = (d.ow, s.stride[1]);
    padded_dx.fill(0.0);
    for_each_run(s, d, |src, dst| {
        let g = &dcols[src..src + ow];
        if sw == 1 {
            add_run(&mut padded_dx[dst..dst + ow], g);
        } else {
            for (j, &v) in g.iter().enumerate() {
                padded_dx[dst + j * sw] += v;
            }
        }
    });
}

/// dx ← the interior of the padded gradient.
#[inline(always)]
fn unpad(d: &Dims, padded: &[f32], dx: &mut [f32]) {
    let (hp, wp) = (d.h + 2 * d.ph, d.w + 2 * d.pw);
    for c in 0..d.c {
        for y in 0..d.h {
            let src = (c * hp + y + d.ph) * wp + d.pw;
            dx[(c * d.h + y) * d.w..(c * d.h + y + 1) * d.w].copy_from_slice(&padded[src..src + d.w]);
        }
    }
}

/// The kernel rows `ki` that reach padded input row `y + ph`, in order, each with its output row
/// `oy` (oy·sh + ki·dh = y + ph, oy < OH): the terms the gathered col2im paths add for row `y`.
#[inline(always)]
fn row_taps(d: &Dims, kh: usize, sh: usize, dh: usize, y: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
    let (at, oh) = (y + d.ph, d.oh);
    // Rows past at/dh would need oy·sh < 0.
    (0..kh.min(at / dh + 1)).filter_map(move |ki| {
        let t = at - ki * dh;
        let oy = if sh == 1 {
            t
        } else if t.is_multiple_of(sh) {
            t / sh
        } else {
            return None;
        };
        (oy < oh).then_some((ki, oy))
    })
}

/// col2im with AVX2 for convolutions with unit stride and dilation along the width, gathered
/// straight into dx (no padded gradient to zero, scatter into and copy out): 8 columns a step,
/// the lanes whose contribution does not exist (padding, image edges) masked to zero, so the same
/// bits as [`col2im`] + [`unpad`]. A step that runs past the end of its row stores all 8 lanes
/// anyway: the lanes past the end land in the next row, which is written later; only the
/// buffer's last step is a masked store. (A direct im2col the same way, without the padded
/// copy, measured slower than [`pad_image`] + [`im2col`].)
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{row_taps, tap_vector, Conv2dShape, Dims};
    use std::arch::x86_64::*;

    /// Most lane masks a call precomputes (one per kernel column and 8-column step of dx).
    const MASKS: usize = 64;

    /// Whether these functions apply to the shape.
    pub fn applies(s: &Conv2dShape) -> bool {
        s.stride[1] == 1 && s.dilation[1] == 1 && !s.pointwise() && s.kernel[1] * s.width.div_ceil(8) <= MASKS
    }

    /// Lanes `l` with `lo ≤ l < hi`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn between(lo: isize, hi: isize) -> __m256i {
        let l = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let (lo, hi) = (lo.clamp(0, 8) as i32, hi.clamp(0, 8) as i32);
        _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), l), _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), l))
    }

    /// The lanes `m` of the 8 floats at `base + off` of `buf`, zeros elsewhere: a plain load and a
    /// mask when all 8 lie inside `buf` (cheaper than `vmaskmovps`), else a masked load.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load(buf: &[f32], off: isize, m: __m256i) -> __m256 {
        let p = buf.as_ptr().wrapping_offset(off);
        if off >= 0 && off as usize + 8 <= buf.len() {
            _mm256_and_ps(_mm256_loadu_ps(p), _mm256_castsi256_ps(m))
        } else {
            _mm256_maskload_ps(p, m)
        }
    }

    /// Stores `v` at element `at` of `out`: 8 lanes when they fit, else the lanes that do.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store(out: &mut [f32], at: usize, v: __m256) {
        if at + 8 <= out.len() {
            _mm256_storeu_ps(out.as_mut_ptr().add(at), v);
        } else {
            _mm256_maskstore_ps(out.as_mut_ptr().add(at), between(0, (out.len() - at) as isize), v);
        }
    }

    /// dx ← col2im(dcols) for one image, gathered: each element of dx is `0 + Σ` of its
    /// contributions in the order (ki, kj), the order in which [`super::col2im`] adds them, and a
    /// masked-off lane adds +0, which leaves such a sum unchanged (it is never −0).
    ///
    /// # Safety
    /// AVX2 is available and [`applies`] holds.
    #[target_feature(enable = "avx2")]
    pub unsafe fn col2im(s: &Conv2dShape, d: &Dims, dcols: &[f32], dx: &mut [f32]) {
        assert!(applies(s) && dcols.len() >= d.k * d.p && dx.len() == d.c * d.h * d.w);
        let [kh, kw] = s.kernel;
        let (sh, dh) = (s.stride[0], s.dilation[0]);
        let ow = d.ow as isize;
        let steps = d.w.div_ceil(8);
        // masks[kj·steps + j]: lanes of step j whose output column x + pw − kj lies in [0, OW).
        let mut masks = [_mm256_setzero_si256(); MASKS];
        for kj in 0..kw {
            let shift = d.pw as isize - kj as isize;
            for j in 0..steps {
                let x0 = 8 * j as isize;
                masks[kj * steps + j] = between(-shift - x0, ow - shift - x0);
            }
        }
        for c in 0..d.c {
            for y in 0..d.h {
                for j in 0..steps {
                    let mut acc = _mm256_setzero_ps();
                    for (ki, oy) in row_taps(d, kh, sh, dh, y) {
                        for kj in 0..kw {
                            let row = (c * kh + ki) * kw + kj;
                            let src = (row * d.p + oy * d.ow + 8 * j) as isize + d.pw as isize - kj as isize;
                            acc = _mm256_add_ps(acc, load(dcols, src, masks[kj * steps + j]));
                        }
                    }
                    store(dx, (c * d.h + y) * d.w + 8 * j, acc);
                }
            }
        }
    }

    /// The AVX2 version of [`super::x512::col2im_by_tap`] (the same sums in the same order): four
    /// pixels by 16 channels (two ymm) at a time, eight sums in registers.
    ///
    /// # Safety
    /// AVX2 is available and [`applies`] holds.
    #[target_feature(enable = "avx2")]
    pub unsafe fn col2im_by_tap(s: &Conv2dShape, d: &Dims, dct: &[f32], dxt: &mut [f32]) {
        const XB: usize = 4;
        assert!(applies(s) && d.c.is_multiple_of(16) && dct.len() >= d.k * d.p && dxt.len() == d.h * d.w * d.c);
        let [kh, kw] = s.kernel;
        let (sh, dh) = (s.stride[0], s.dilation[0]);
        let vecs = d.c / 16;
        let at: Vec<(usize, usize)> = (0..kh * kw * vecs).map(|i| tap_vector(d, i / vecs, i % vecs)).collect();
        let (src, out) = (dct.as_ptr(), dxt.as_mut_ptr());
        for v in 0..vecs {
            for y in 0..d.h {
                for x0 in (0..d.w).step_by(XB) {
                    let mut acc = [[_mm256_setzero_ps(); 2]; XB];
                    for (ki, oy) in row_taps(d, kh, sh, dh, y) {
                        for kj in 0..kw {
                            let (off, wd) = at[(ki * kw + kj) * vecs + v];
                            for (xx, acc) in acc.iter_mut().enumerate() {
                                // Unit stride and dilation along the width (`applies`): output
                                // column x + pw − kj (wrapping past 0 to above OW).
                                let (x, ox) = (x0 + xx, (x0 + xx + d.pw).wrapping_sub(kj));
                                if x < d.w && ox < d.ow {
                                    // SAFETY: position oy·OW + ox < P of the tap's slab panel.
                                    let p = src.add(off + (oy * d.ow + ox) * wd);
                                    acc[0] = _mm256_add_ps(acc[0], _mm256_loadu_ps(p));
                                    acc[1] = _mm256_add_ps(acc[1], _mm256_loadu_ps(p.add(8)));
                                }
                            }
                        }
                    }
                    for (xx, acc) in acc.iter().enumerate().filter(|&(xx, _)| x0 + xx < d.w) {
                        // SAFETY: pixel (y, x0 + xx)'s channels 16·v.. are inside dxt.
                        let q = out.add((y * d.w + x0 + xx) * d.c + 16 * v);
                        _mm256_storeu_ps(q, acc[0]);
                        _mm256_storeu_ps(q.add(8), acc[1]);
                    }
                }
            }
        }
    }
}

/// The AVX-512 analogs of [`x86`]'s gathered col2im and of [`im2col`], for the same shapes
/// (unit stride and dilation along the width): 16 columns a step, so a row of up to 16 output
/// columns (the seed CNN's 14) is one step, and masked loads (`vmovups` with a zeroing mask,
/// which does not fault on masked-off lanes) instead of AVX2's mask-and-`vmaskmovps` pairs.
/// Each element is the same sum of the same terms in the same order as at AVX2, and im2col
/// only copies, so the bits are those of the other levels.
#[cfg(target_arch = "x86_64")]
mod x512 {
    use super::{row_taps, tap_vector, Conv2dShape, Dims};
    use std::arch::x86_64::*;

    /// Most lane masks a call precomputes (one per kernel column and 16-column step of dx).
    const MASKS: usize = 64;

    /// Whether these functions apply to the shape.
    pub fn applies(s: &Conv2dShape) -> bool {
        super::x86::applies(s) && s.kernel[1] * s.width.div_ceil(16) <= MASKS && s.kernel[1] * super::out_width(s).div_ceil(16) <= MASKS
    }

    /// Lanes `l` with `lo ≤ l < hi`.
    #[inline(always)]
    fn between(lo: isize, hi: isize) -> __mmask16 {
        let (lo, hi) = (lo.clamp(0, 16) as u32, hi.clamp(0, 16) as u32);
        (((1u32 << hi) - 1) & !((1u32 << lo) - 1)) as __mmask16
    }

    /// Stores `v` at element `at` of `out`: 16 lanes when they fit, else the lanes that do.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn store(out: &mut [f32], at: usize, v: __m512) {
        if at + 16 <= out.len() {
            _mm512_storeu_ps(out.as_mut_ptr().add(at), v);
        } else {
            _mm512_mask_storeu_ps(out.as_mut_ptr().add(at), between(0, (out.len() - at) as isize), v);
        }
    }

    /// cols ← im2col(x) for one image, straight from the unpadded image: each run of OW floats
    /// is gathered 16 at a time by a masked load whose masked-off lanes (padding columns, and
    /// columns past the run) read as +0, the padding rows stored as zeros; the last step's extra
    /// lanes land in the runs that follow (written later, as runs are visited in increasing
    /// order), a masked store at the end of `cols`. The same floats as [`super::pad_image`] +
    /// [`super::im2col`] (a copy either way).
    ///
    /// # Safety
    /// AVX-512F is available and [`applies`] holds.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn im2col(s: &Conv2dShape, d: &Dims, x: &[f32], cols: &mut [f32]) {
        assert!(applies(s) && x.len() == d.c * d.h * d.w && cols.len() >= d.k * d.p);
        let [kh, kw] = s.kernel;
        let (sh, dh) = (s.stride[0], s.dilation[0]);
        let (ow, w) = (d.ow as isize, d.w as isize);
        let steps = d.ow.div_ceil(16);
        // masks[kj·steps + j]: lanes of step j whose output column ox reads an input column
        // ox + kj − pw inside [0, W), and ox < OW.
        let mut masks = [0 as __mmask16; MASKS];
        for kj in 0..kw {
            let shift = kj as isize - d.pw as isize;
            for j in 0..steps {
                let x0 = 16 * j as isize;
                masks[kj * steps + j] = between(-shift - x0, (w - shift - x0).min(ow - x0));
            }
        }
        let zero = _mm512_setzero_ps();
        if steps == 1 {
            // One step a run: the loop over output rows, tight.
            let (xp, cp, len) = (x.as_ptr(), cols.as_mut_ptr(), cols.len());
            for c in 0..d.c {
                for ki in 0..kh {
                    for (kj, &m) in masks[..kw].iter().enumerate() {
                        let mut dst = ((c * kh + ki) * kw + kj) * d.p;
                        let mut iy = (ki * dh) as isize - d.ph as isize;
                        let src0 = (c * d.h) as isize * w + kj as isize - d.pw as isize;
                        for _ in 0..d.oh {
                            let v = if iy >= 0 && iy < d.h as isize {
                                // SAFETY: as below.
                                _mm512_maskz_loadu_ps(m, xp.wrapping_offset(src0 + iy * w))
                            } else {
                                zero
                            };
                            if dst + 16 <= len {
                                // SAFETY: [dst, dst + 16) lies inside cols.
                                _mm512_storeu_ps(cp.add(dst), v);
                            } else {
                                store(cols, dst, v);
                            }
                            dst += d.ow;
                            iy += sh as isize;
                        }
                    }
                }
            }
            return;
        }
        for c in 0..d.c {
            for ki in 0..kh {
                for kj in 0..kw {
                    let row = (c * kh + ki) * kw + kj;
                    for oy in 0..d.oh {
                        let dst = row * d.p + oy * d.ow;
                        let iy = (oy * sh + ki * dh) as isize - d.ph as isize;
                        let inside = iy >= 0 && iy < d.h as isize;
                        for j in 0..steps {
                            let v = if inside {
                                let src = (c * d.h) as isize * w + iy * w + 16 * j as isize + kj as isize - d.pw as isize;
                                // SAFETY: the mask's lanes are input columns inside [0, W) of
                                // row iy of channel c, inside x; the others are not read (a
                                // masked load does not fault on them).
                                _mm512_maskz_loadu_ps(masks[kj * steps + j], x.as_ptr().wrapping_offset(src))
                            } else {
                                zero
                            };
                            store(cols, dst + 16 * j, v);
                        }
                    }
                }
            }
        }
    }

    /// dx ← col2im(dcols) for one image, gathered, as [`super::x86::col2im`] with 16 lanes.
    ///
    /// # Safety
    /// AVX-512F is available and [`applies`] holds.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn col2im(s: &Conv2dShape, d: &Dims, dcols: &[f32], dx: &mut [f32]) {
        assert!(applies(s) && dcols.len() >= d.k * d.p && dx.len() == d.c * d.h * d.w);
        let [kh, kw] = s.kernel;
        let (sh, dh) = (s.stride[0], s.dilation[0]);
        let ow = d.ow as isize;
        let steps = d.w.div_ceil(16);
        // masks[kj·steps + j]: lanes of step j whose output column x + pw − kj lies in [0, OW).
        let mut masks = [0 as __mmask16; MASKS];
        for kj in 0..kw {
            let shift = d.pw as isize - kj as isize;
            for j in 0..steps {
                let x0 = 16 * j as isize;
                masks[kj * steps + j] = between(-shift - x0, ow - shift - x0);
            }
        }
        for c in 0..d.c {
            for y in 0..d.h {
                for j in 0..steps {
                    let mut acc = _mm512_setzero_ps();
                    for (ki, oy) in row_taps(d, kh, sh, dh, y) {
                        for kj in 0..kw {
                            let row = (c * kh + ki) * kw + kj;
                            let src = (row * d.p + oy * d.ow + 16 * j) as isize + d.pw as isize - kj as isize;
                            // SAFETY: the lanes of the mask are the output columns in [0, OW) of
                            // output row oy of im2col row `row`, inside dcols; the others are
                            // not read (a masked load does not fault on them).
                            let v = _mm512_maskz_loadu_ps(masks[kj * steps + j], dcols.as_ptr().wrapping_offset(src));
                            acc = _mm512_add_ps(acc, v);
                        }
                    }
                    store(dx, (c * d.h + y) * d.w + 16 * j, acc);
                }
            }
        }
    }

    /// dxᵀ ← col2im for one image, channel-last `[H·W, C]`, from dcolsᵀ in the tap-major slabs of
    /// [`super::im2row_by_tap`]: each element the sum, from +0, of its terms over the kernel rows of
    /// `row_taps` then the kernel columns, in increasing order, as [`col2im`] adds them (its
    /// masked-off lanes add +0, which leaves a sum started at +0 as it is): the same bits. Four
    /// pixels by two vectors of channels at a time, eight sums in registers, so that the additions'
    /// latency overlaps (one sum at a time waits on it: 7 µs per conv2 image against 2).
    ///
    /// # Safety
    /// AVX-512F is available and [`applies`] holds.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn col2im_by_tap(s: &Conv2dShape, d: &Dims, dct: &[f32], dxt: &mut [f32]) {
        assert!(applies(s) && d.c.is_multiple_of(16) && dct.len() >= d.k * d.p && dxt.len() == d.h * d.w * d.c);
        let vecs = d.c / 16;
        let taps = s.kernel[0] * s.kernel[1];
        let at: Vec<(usize, usize)> = (0..taps * vecs).map(|i| tap_vector(d, i / vecs, i % vecs)).collect();
        for v0 in (0..vecs).step_by(2) {
            if v0 + 2 <= vecs {
                col2im_by_tap_block::<2>(s, d, dct.as_ptr(), dxt.as_mut_ptr(), &at, v0);
            } else {
                col2im_by_tap_block::<1>(s, d, dct.as_ptr(), dxt.as_mut_ptr(), &at, v0);
            }
        }
    }

    /// [`col2im_by_tap`] for the `VB` vectors of channels from `v0`.
    ///
    /// # Safety
    /// As [`col2im_by_tap`], whose checks hold; `at` is its table, `v0 + VB ≤ C / 16`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn col2im_by_tap_block<const VB: usize>(
        s: &Conv2dShape,
        d: &Dims,
        src: *const f32,
        out: *mut f32,
        at: &[(usize, usize)],
        v0: usize,
    ) {
        const XB: usize = 4;
        let [kh, kw] = s.kernel;
        let (sh, dh) = (s.stride[0], s.dilation[0]);
        let vecs = d.c / 16;
        for y in 0..d.h {
            for x0 in (0..d.w).step_by(XB) {
                let mut acc = [[_mm512_setzero_ps(); VB]; XB];
                for (ki, oy) in row_taps(d, kh, sh, dh, y) {
                    for kj in 0..kw {
                        let tv: &[(usize, usize); VB] = at[(ki * kw + kj) * vecs + v0..][..VB].try_into().unwrap();
                        for (xx, acc) in acc.iter_mut().enumerate() {
                            // Unit stride and dilation along the width (`applies`): output column
                            // x + pw − kj (wrapping past 0 to above OW).
                            let (x, ox) = (x0 + xx, (x0 + xx + d.pw).wrapping_sub(kj));
                            if x < d.w && ox < d.ow {
                                let p = oy * d.ow + ox;
                                for (a, &(off, wd)) in acc.iter_mut().zip(tv) {
                                    // SAFETY: position p < P of the tap's slab panel, inside dct.
                                    *a = _mm512_add_ps(*a, _mm512_loadu_ps(src.add(off + p * wd)));
                                }
                            }
                        }
                    }
                }
                for (xx, acc) in acc.iter().enumerate().filter(|&(xx, _)| x0 + xx < d.w) {
                    for (vv, &a) in acc.iter().enumerate() {
                        // SAFETY: pixel (y, x0 + xx)'s channels 16·(v0 + vv).. are inside dxt.
                        _mm512_storeu_ps(out.add((y * d.w + x0 + xx) * d.c + 16 * (v0 + vv)), a);
                    }
                }
            }
        }
    }
}

/// Where the 16 channels `16·v..` of kernel tap `t` (= ki·kw + kj) lie in the sparse backward's
/// tap-major slabs ([`im2row_by_tap`]): `(offset of their columns in row 0, the slab's width)`, so
/// that row p's are at `offset + p·width`. (C is a multiple of 16, so 16 channels never straddle
/// two slabs.)
#[inline(always)]
fn tap_vector(d: &Dims, t: usize, v: usize) -> (usize, usize) {
    let kp = t * d.c + 16 * v;
    let j = kp - kp % sparse::SLAB;
    (j * d.p + kp - j, sparse::SLAB.min(d.k - j))
}

/// The im2col matrix of one image transposed, `[P, K]`, with K ordered tap-major (column
/// `(ki·kw + kj)·C + c` holds the channel-major im2col row `(c·kh + ki)·kw + kj`), cut into slabs
/// as the sparse products' operands are: the slab of columns `j..j + width` is a `P × width` panel
/// from `ct[j·P]`. `xt` is the image channel-last, `[H·W, C]`, so each tap of a position is a copy
/// of C contiguous floats (or zeros, in the padding). The same floats as [`im2col`]. (The dense dW
/// of an image the sparse product does not take, tap-major.)
fn im2row_by_tap(s: &Conv2dShape, d: &Dims, xt: &[f32], ct: &mut [f32]) {
    assert!(d.c.is_multiple_of(16) && xt.len() == d.h * d.w * d.c && ct.len() >= d.k * d.p);
    let [kh, kw] = s.kernel;
    let ([sh, sw], [dh, dw]) = (s.stride, s.dilation);
    for ki in 0..kh {
        for kj in 0..kw {
            for v in 0..d.c / 16 {
                let (at, wd) = tap_vector(d, ki * kw + kj, v);
                for oy in 0..d.oh {
                    let iy = (oy * sh + ki * dh) as isize - d.ph as isize;
                    for ox in 0..d.ow {
                        let ix = (ox * sw + kj * dw) as isize - d.pw as isize;
                        let dst = &mut ct[at + (oy * d.ow + ox) * wd..][..16];
                        if iy >= 0 && iy < d.h as isize && ix >= 0 && ix < d.w as isize {
                            dst.copy_from_slice(&xt[(iy as usize * d.w + ix as usize) * d.c + 16 * v..][..16]);
                        } else {
                            dst.fill(0.0);
                        }
                    }
                }
            }
        }
    }
}

/// Per-thread buffers: im2col matrix, its gradient, padded image, padded gradient, and one
/// image's output (or output gradient, and its transpose) in the fused calls.
#[derive(Default)]
struct Scratch {
    cols: Vec<f32>,
    dcols: Vec<f32>,
    pad: Vec<f32>,
    dpad: Vec<f32>,
    out: Vec<f32>,
    out_t: Vec<f32>,
    /// The sparse backward's im2col matrix transposed, `[P, K]` in slabs, and its input
    /// gradient's.
    cols_t: Vec<f32>,
    dcols_t: Vec<f32>,
    /// The image channel-last, `[H·W, C]`, the same zero-padded, and its input gradient's, for
    /// the tap-major products.
    x_t: Vec<f32>,
    x_tp: Vec<f32>,
    dx_t: Vec<f32>,
    /// The routed gradient's non-zeros by output channel, and by position.
    nz: Nonzeros,
    nz_t: Nonzeros,
    /// `nz` with each position renamed its top-left pixel in `x_tp`.
    nz_q: Nonzeros,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// out[o] += Σₚ x[p, o] for the row-major `[P, cols]` matrix x, each column summed as
/// [`sum_f64`] sums a row: f64 partials a_j over p ≡ j (mod 8) in order, combined as
/// ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)). Blocks of 16 columns, whose 8 × 16
/// partials stay in registers.
#[inline(always)]
fn sum_f64_columns(x: &[f32], cols: usize, out: &mut [f64]) {
    let rows = x.len() / cols;
    for (b, out) in out[..cols].chunks_mut(16).enumerate() {
        if out.len() == 16 {
            sum_f64_column_block::<16>(x, cols, rows, 16 * b, out);
        } else {
            for (l, t) in out.iter_mut().enumerate() {
                sum_f64_column_block::<1>(x, cols, rows, 16 * b + l, std::slice::from_mut(t));
            }
        }
    }
}

/// [`sum_f64_columns`] for the `W` columns from `o0`.
#[inline(always)]
fn sum_f64_column_block<const W: usize>(x: &[f32], cols: usize, rows: usize, o0: usize, out: &mut [f64]) {
    let mut acc = [[0f64; W]; 8];
    let row = |p: usize| -> &[f32; W] { x[p * cols + o0..p * cols + o0 + W].try_into().unwrap() };
    // The last block's missing rows add +0, which leaves a partial (never −0) as it is; so every
    // index into acc is a constant and the partials stay in registers.
    for p0 in (0..rows).step_by(8) {
        for (j, a) in acc.iter_mut().enumerate() {
            let r = if p0 + j < rows { row(p0 + j) } else { &[0.0; W] };
            for (s, &v) in a.iter_mut().zip(r) {
                *s += v as f64;
            }
        }
    }
    for (l, t) in out.iter_mut().enumerate() {
        let a = |j: usize| acc[j][l];
        *t += ((a(0) + a(1)) + (a(2) + a(3))) + ((a(4) + a(5)) + (a(6) + a(7)));
    }
}

/// Runs `f` with this thread's scratch buffers.
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| f(&mut cell.borrow_mut()))
}

struct Body<F: FnOnce()>(F);
impl<F: FnOnce()> crate::simd::Simd for Body<F> {
    #[inline(always)]
    fn run(self) {
        (self.0)()
    }
}

/// The GEMM's columns for image `xi`: the image itself for a pointwise convolution, else its
/// padded im2col matrix, built in the scratch buffers `pad` and `cols`.
fn image_cols<'a>(s: &Conv2dShape, d: &Dims, xi: &'a [f32], pad: &mut Vec<f32>, cols: &'a mut Vec<f32>) -> &'a [f32] {
    if s.pointwise() {
        return xi;
    }
    let (pad, cols) = (grow(pad, padded_len(d)), grow(cols, d.k * d.p));
    #[cfg(target_arch = "x86_64")]
    if x512::applies(s) && crate::simd::level() >= crate::simd::Level::Avx512 {
        // SAFETY: AVX-512F is available (the level never exceeds what the CPU has); `applies`
        // holds.
        unsafe { x512::im2col(s, d, xi, cols) };
        return cols;
    }
    crate::simd::dispatch(Body(|| {
        pad_image(d, xi, pad);
        im2col(s, d, pad, cols);
    }));
    cols
}

/// Shortest rows (K = C·kh·kw) the sparse backward takes: its kernel keeps one FMA chain per
/// vector of a row, and a chain per term waits on the FMA's latency when there are only a few.
const SPARSE_MIN_K: usize = 64;

/// Images whose dW and whose dcols the sparse products formed (for the tests).
#[cfg(test)]
static SPARSE_PRODUCTS: [std::sync::atomic::AtomicUsize; 2] = [const { std::sync::atomic::AtomicUsize::new(0) }; 2];

/// A row of `run` columns (a multiple of 16) cut into pieces of at most [`sparse::MAX_ROW`],
/// each a multiple of 16 and as even as that allows: `(first column, width)`.
fn pieces(run: usize) -> impl Iterator<Item = (usize, usize)> {
    let each = (run / 16).div_ceil(run.div_ceil(sparse::MAX_ROW)) * 16;
    (0..run).step_by(each.max(16)).map(move |j| (j, each.min(run - j)))
}

/// Elements of one padded image.
fn padded_len(d: &Dims) -> usize {
    d.c * (d.h + 2 * d.ph) * (d.w + 2 * d.pw)
}

/// One image of the forward: y_n ← W·cols_n, then + b while the image's output is still in cache.
#[allow(clippy::too_many_arguments)]
fn forward_image(
    s: &Conv2dShape,
    d: &Dims,
    xi: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    pad: &mut Vec<f32>,
    cols: &mut Vec<f32>,
    yi: &mut [f32],
) {
    let cols = image_cols(s, d, xi, pad, cols);
    sgemm(d.o, d.k, d.p, MatRef::rows(w, d.k), MatRef::rows(cols, d.p), yi, d.p, false);
    if let Some(b) = b {
        crate::simd::dispatch(Body(|| {
            for (row, &bv) in yi.chunks_exact_mut(d.p).zip(b) {
                for v in row {
                    *v += bv;
                }
            }
        }));
    }
}

/// Checks x, W and b against the shape; returns the lengths of one input and one output image.
fn check_forward(s: &Conv2dShape, d: &Dims, x: &[f32], w: &[f32], b: Option<&[f32]>) -> NnResult<(usize, usize)> {
    let (in_len, out_len) = (d.c * d.h * d.w, d.o * d.p);
    check_len("input", x.len(), s.batch * in_len)?;
    check_len("weight", w.len(), d.o * d.k)?;
    if let Some(b) = b {
        check_len("bias", b.len(), d.o)?;
    }
    Ok((in_len, out_len))
}

/// y ← conv2d(x, W) + b.
pub fn conv2d_forward(s: Conv2dShape, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) -> NnResult<()> {
    let d = dims(&s)?;
    let n = s.batch;
    let (in_len, out_len) = check_forward(&s, &d, x, w, b)?;
    check_len("output", y.len(), n * out_len)?;
    let chunks = n.div_ceil(IMAGES_PER_CHUNK);
    let yp = SendPtr(y.as_mut_ptr());
    par_for(chunks, 2 * n * d.o * d.k * d.p, |ci| {
        with_scratch(|sc| {
            for img in ci * IMAGES_PER_CHUNK..((ci + 1) * IMAGES_PER_CHUNK).min(n) {
                // SAFETY: image `img`'s output block, disjoint from every other image's.
                let yi = unsafe { yp.slice(img * out_len, out_len) };
                forward_image(&s, &d, &x[img * in_len..(img + 1) * in_len], w, b, &mut sc.pad, &mut sc.cols, yi);
            }
        })
    });
    Ok(())
}

/// The pooling that follows the convolution in the fused calls: its geometry must be the
/// convolution's output `[N, O, OH, OW]`. Returns the pooled plane's `(POH, POW)`.
fn pool_after(d: &Dims, cs: &Conv2dShape, ps: &Pool2dShape) -> NnResult<(usize, usize)> {
    let got = [ps.batch, ps.channels, ps.height, ps.width];
    if got != [cs.batch, d.o, d.oh, d.ow] {
        return range(format!(
            "expected the pooling geometry to take the convolution's output [{}, {}, {}, {}], received {got:?}",
            cs.batch, d.o, d.oh, d.ow
        ));
    }
    ps.output_hw()
}

/// y ← maxpool(relu(conv2d(x, W) + b)) and idx ← the pool's argmax of the convolution's output,
/// the bits of [`conv2d_forward`] followed by [`pool::maxpool2d_forward`] with `relu`, without
/// writing the convolution's output: each image's stays in a per-thread buffer, in cache, between
/// the product and the pool. The same caveat as the pool's `relu` flag: every pooling window
/// must hold an input element.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_relu_maxpool2d_forward(
    cs: Conv2dShape,
    ps: Pool2dShape,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    idx: &mut [i32],
) -> NnResult<()> {
    let d = dims(&cs)?;
    let n = cs.batch;
    let (in_len, out_len) = check_forward(&cs, &d, x, w, b)?;
    let (poh, pow) = pool_after(&d, &cs, &ps)?;
    let pp = poh * pow;
    check_len("output", y.len(), n * d.o * pp)?;
    check_len("indices", idx.len(), n * d.o * pp)?;
    let (simple, avx2) = (pool::is_2x2(&ps), crate::simd::level() >= crate::simd::Level::Avx2);
    let chunks = n.div_ceil(IMAGES_PER_CHUNK);
    let yp = SendPtr(y.as_mut_ptr());
    let ip = idx.as_mut_ptr() as usize;
    par_for(chunks, 2 * n * d.o * d.k * d.p, |ci| {
        with_scratch(|sc| {
            let conv = grow(&mut sc.out, out_len);
            for img in ci * IMAGES_PER_CHUNK..((ci + 1) * IMAGES_PER_CHUNK).min(n) {
                forward_image(&cs, &d, &x[img * in_len..(img + 1) * in_len], w, b, &mut sc.pad, &mut sc.cols, conv);
                for (o, plane) in conv.chunks_exact(d.p).enumerate() {
                    let at = (img * d.o + o) * pp;
                    // SAFETY: plane (img, o)'s output and index blocks, disjoint from every
                    // other plane's, inside `y` and `idx` (lengths checked above).
                    let (yo, io) = unsafe { (yp.slice(at, pp), std::slice::from_raw_parts_mut((ip as *mut i32).add(at), pp)) };
                    pool::forward_plane::<true>(&ps, simple, avx2, plane, poh, pow, yo, io);
                }
            }
        })
    });
    Ok(())
}

/// Checks the backward's buffers against the shape (dy by the caller).
fn check_backward(
    s: &Conv2dShape,
    d: &Dims,
    x: &[f32],
    w: &[f32],
    dx: Option<&[f32]>,
    dw: Option<&[f32]>,
    db: Option<&[f32]>,
) -> NnResult<()> {
    let in_len = d.c * d.h * d.w;
    check_len("input", x.len(), s.batch * in_len)?;
    check_len("weight", w.len(), d.o * d.k)?;
    if let Some(dx) = dx {
        check_len("input gradient", dx.len(), s.batch * in_len)?;
    }
    if let Some(dw) = dw {
        check_len("weight gradient", dw.len(), d.o * d.k)?;
    }
    if let Some(db) = db {
        check_len("bias gradient", db.len(), d.o)?;
    }
    Ok(())
}

/// Gradients of [`conv2d_forward`]: `dx` is written, `dw` and `db` accumulated; each is skipped
/// when `None`.
pub fn conv2d_backward(
    s: Conv2dShape,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
) -> NnResult<()> {
    let d = dims(&s)?;
    check_backward(&s, &d, x, w, dx.as_deref(), dw.as_deref(), db.as_deref())?;
    check_len("output gradient", dy.len(), s.batch * d.o * d.p)?;
    backward(&s, &d, x, w, OutputGrad::Given(dy), dx, dw, db);
    Ok(())
}

/// Gradients of [`conv2d_relu_maxpool2d_forward`], given the pooled output's gradient `dy`, the
/// forward's indices `idx` and output `y`: each image's gradient at the convolution's output is
/// formed in a per-thread buffer by [`pool::maxpool2d_backward`]'s rule with `relu_y = y` (dy
/// routed to its argmax where y > 0), then goes through [`conv2d_backward`]'s steps; the bits of
/// the two calls one after the other.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_relu_maxpool2d_backward(
    cs: Conv2dShape,
    ps: Pool2dShape,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    idx: &[i32],
    y: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
) -> NnResult<()> {
    let d = dims(&cs)?;
    check_backward(&cs, &d, x, w, dx.as_deref(), dw.as_deref(), db.as_deref())?;
    let (poh, pow) = pool_after(&d, &cs, &ps)?;
    let pooled = cs.batch * d.o * poh * pow;
    check_len("output gradient", dy.len(), pooled)?;
    check_len("indices", idx.len(), pooled)?;
    check_len("output", y.len(), pooled)?;
    pool::check_indices(idx, d.p)?;
    backward(&cs, &d, x, w, OutputGrad::Pooled { dy, idx, y, plane: poh * pow }, dx, dw, db);
    Ok(())
}

/// Where the backward finds an image's gradient at the convolution's output.
#[derive(Clone, Copy)]
enum OutputGrad<'a> {
    /// dy `[N, O, OH, OW]` itself.
    Given(&'a [f32]),
    /// Routed back through ReLU and max pooling from the pooled gradient `dy`, the pool's
    /// indices `idx` and output `y` (`plane` elements per pooled plane).
    Pooled { dy: &'a [f32], idx: &'a [i32], y: &'a [f32], plane: usize },
}

/// The gradients for a checked call: `dx` written, `dw` and `db` accumulated.
#[allow(clippy::too_many_arguments)]
fn backward(
    s: &Conv2dShape,
    d: &Dims,
    x: &[f32],
    w: &[f32],
    grad: OutputGrad,
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
) {
    let n = s.batch;
    let (in_len, out_len) = (d.c * d.h * d.w, d.o * d.p);
    let pointwise = s.pointwise();
    #[cfg(target_arch = "x86_64")]
    let direct = x86::applies(s) && crate::simd::level() >= crate::simd::Level::Avx2;
    #[cfg(target_arch = "x86_64")]
    let direct512 = x512::applies(s) && crate::simd::level() >= crate::simd::Level::Avx512;
    let chunks = n.div_ceil(IMAGES_PER_CHUNK);
    let want_dw = dw.is_some();
    let want_db = db.is_some();
    let dxp = dx.map(|dx| SendPtr(dx.as_mut_ptr()));
    // Per-chunk partial sums, combined in chunk order below.
    let mut dw_parts: Vec<Vec<f32>> = if want_dw { vec![Vec::new(); chunks] } else { Vec::new() };
    let mut db_parts: Vec<Vec<f64>> = if want_db { vec![Vec::new(); chunks] } else { Vec::new() };
    let dw_ptr = dw_parts.as_mut_ptr() as usize;
    let db_ptr = db_parts.as_mut_ptr() as usize;
    let work = 2 * n * d.o * d.k * d.p * (want_dw as usize + dxp.is_some() as usize);
    // When cols (K × P) is the larger operand, each chunk accumulates dWᵀ = Σ cols_n·dy_nᵀ (K × O)
    // and transposes it once at the end: the product's transposed operand is then dy_n, the
    // smaller one (the GEMM copies a transposed B to row-major first; 1.4× faster at 32→64, 3×3).
    let dw_t = d.k > d.o;
    // A routed gradient may be formed transposed, dyᵀ [P, O], so that the weight gradient's
    // product dWᵀ += cols·dyᵀ reads both operands in place with O-wide rows of B: for a narrow
    // dW (K < O) the product dy·colsᵀ would copy colsᵀ to a K-column B first and fill K of 16
    // lanes. Only when the input gradient is not wanted (its product reads dy by rows) and both
    // products run as FMA chains, so the transposed one gives dW's bits; db then sums dyᵀ's
    // columns in sum_f64's order.
    let pooled = matches!(grad, OutputGrad::Pooled { .. });
    let transposed = pooled
        && want_dw
        && dxp.is_none()
        && !dw_t
        && gemm::chains(d.o, d.p, d.k, MatRef { data: &[], rs: 1, cs: d.p })
        && gemm::chains(d.k, d.p, d.o, MatRef { data: &[], rs: d.o, cs: 1 });
    // With dWᵀ = cols·dyᵀ (K > O) and the rows of dy wanted too, a routed gradient is formed both
    // ways: routing dyᵀ costs less than the product's copy of the transposed B, and the product
    // chains either way (it is the same kernel for a row-major B and a transposed one).
    let both = pooled && want_dw && dw_t && gemm::chains(d.k, d.p, d.o, MatRef { data: &[], rs: 1, cs: d.p });
    // A routed gradient is mostly zeros: with dx wanted (so not `transposed`), each image's two
    // products may run over its non-zeros only (see `sparse`), where they give the dense
    // products' bits: when the products that `conv2d_backward` runs for this shape chain (dW's
    // either way round, and dcols'), and rows wide enough for the sparse kernel. dW is then
    // accumulated as O × K, as an image that falls back to the dense product forms it.
    let sparse = pooled
        && dxp.is_some()
        && !pointwise
        && d.k >= SPARSE_MIN_K
        && crate::simd::level() >= crate::simd::Level::Avx2
        && gemm::chains(d.k, d.p, d.o, MatRef { data: &[], rs: 1, cs: d.p })
        && gemm::chains(d.o, d.p, d.k, MatRef { data: &[], rs: 1, cs: d.p })
        && gemm::chains(d.k, d.o, d.p, MatRef { data: &[], rs: d.p, cs: 1 });
    // Zero terms are skipped only when what they multiply is finite: W for dcols (checked once),
    // each image for dW.
    let w_finite = sparse && sparse::all_finite(w);
    // At the AVX-512 and AVX2 levels, with C a multiple of 16, K is taken tap-major,
    // (ki·kw + kj)·C + c, rather than channel-major: a row of colsᵀ over one kernel row's taps is
    // then kw·C contiguous floats of the image channel-last and zero-padded, which the sparse dW
    // product reads in place (no im2col matrix, no transposes of it); and dcolsᵀ, formed from W's
    // columns in that order, is gathered back channel-last without the K × P transposes
    // (`x512::col2im_by_tap`, `x86::col2im_by_tap`). Each element of dW and dcols is the same chain as before, so the
    // same bits; dW is accumulated tap-major and put back in W's order at the end of each chunk.
    // (Conv2's backward per image on one Xeon core, `tap_major_benchmark`: 12 µs of im2col and
    // transposes → 1.2, the dW product 26.6 → 20.7 + 1.4 renaming, dx 13.5 → 3.7.)
    #[cfg(target_arch = "x86_64")]
    let by_tap = sparse
        && d.c.is_multiple_of(16)
        && match crate::simd::level() {
            crate::simd::Level::Avx512 => x512::applies(s),
            crate::simd::Level::Avx2 => x86::applies(s),
            _ => false,
        };
    #[cfg(not(target_arch = "x86_64"))]
    let by_tap = false;
    let taps = s.kernel[0] * s.kernel[1];
    // q(p): the padded image's pixel at the top left of position p's window (unit stride along
    // the width, `x512::applies`), and how many there can be.
    let q_of: Vec<u32> =
        if by_tap { (0..d.p).map(|p| ((p / d.ow * s.stride[0]) * (d.w + 2 * d.pw) + p % d.ow) as u32).collect() } else { Vec::new() };
    let q_rows = q_of.last().map_or(0, |&q| q as usize + 1);
    // w_col[kp]: the column of W (channel-major) that column kp of the products' order holds.
    let w_col: Vec<usize> = (0..d.k).map(|kp| if by_tap { (kp % d.c) * taps + kp / d.c } else { kp }).collect();
    // W's slabs of columns, each an O × width panel, for the sparse dcols.
    let mut w_buf = Vec::new();
    let w_slabs = sparse::aligned(&mut w_buf, if w_finite { d.o * d.k } else { 0 });
    if w_finite {
        for (j, wd) in sparse::slabs(d.k) {
            for (o, dst) in w_slabs[j * d.o..(j + wd) * d.o].chunks_exact_mut(wd).enumerate() {
                for (q, v) in dst.iter_mut().enumerate() {
                    *v = w[o * d.k + w_col[j + q]];
                }
            }
        }
    }
    let w_slabs = &*w_slabs;
    let both = both && !sparse;
    let dw_t = (dw_t || transposed) && !sparse;
    par_for(chunks, work, |ci| {
        with_scratch(|sc| {
            let Scratch { cols, dcols, pad, dpad, out, out_t, cols_t, dcols_t, x_t, x_tp, dx_t, nz, nz_t, nz_q } = sc;
            let mut dw_c = if want_dw { vec![0f32; d.o * d.k] } else { Vec::new() };
            let mut db_c = if want_db { vec![0f64; d.o] } else { Vec::new() };
            // The tap-major dW's image, channel-last and zero-padded (see below): its padding is
            // zeroed once per chunk, as each image writes only the interior.
            let xtp = sparse::aligned(x_tp, if want_dw && by_tap { padded_len(d) } else { 0 });
            xtp.fill(0.0);
            for img in ci * IMAGES_PER_CHUNK..((ci + 1) * IMAGES_PER_CHUNK).min(n) {
                let xi = &x[img * in_len..(img + 1) * in_len];
                // dy_n by rows (not formed when `transposed`: no dx then) and dy_nᵀ (when
                // `transposed` or `both`).
                let (dyi, dyti): (&[f32], Option<&[f32]>) = match grad {
                    OutputGrad::Given(dy) => (&dy[img * out_len..(img + 1) * out_len], None),
                    OutputGrad::Pooled { dy, idx, y, plane } => {
                        let planes = (img * d.o..(img + 1) * d.o).map(|pl| pl * plane..(pl + 1) * plane);
                        let dyt = if transposed || both {
                            // dyᵀ[p, o]: each plane routed into its column, the same additions
                            // in the same order as the plane's.
                            let g = grow(out_t, out_len);
                            g.fill(0.0);
                            for (o, at) in planes.clone().enumerate() {
                                pool::route(&dy[at.clone()], &idx[at.clone()], Some(&y[at]), &mut g[o..], d.o);
                            }
                            Some(&*g)
                        } else {
                            None
                        };
                        let g = grow(out, if transposed { 0 } else { out_len });
                        for (dst, at) in g.chunks_exact_mut(d.p).zip(planes) {
                            pool::backward_plane(&dy[at.clone()], &idx[at.clone()], Some(&y[at]), dst);
                        }
                        (&*g, dyt)
                    }
                };
                // The routed gradient's non-zeros, when few enough to pay: at a quarter the
                // sparse products take 0.55–0.8 of the dense ones' time (AVX2–AVX-512), so about
                // a third is even.
                let sparse = sparse && {
                    nz.of_rows(dyi, d.p);
                    3 * nz.len() <= out_len
                };
                #[cfg(target_arch = "x86_64")]
                if want_dw && by_tap {
                    // The image channel-last.
                    let xt = grow(x_t, in_len);
                    gemm::transpose(xi, d.c, d.h * d.w, d.h * d.w, xt);
                    if sparse && sparse::all_finite(xi) {
                        #[cfg(test)]
                        SPARSE_PRODUCTS[0].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        // Zero-padded: row p of colsᵀ over kernel row ki's columns (tap-major, kw·C
                        // of them, the taps side by side) is then kw·C contiguous floats of x_tp
                        // from pixel q(p) + ki·dh·Wp. So the products read the image itself
                        // (e.g. 32 KB) rather than colsᵀ (226 KB).
                        let wp = d.w + 2 * d.pw;
                        for (y, row) in xt.chunks_exact(d.w * d.c).enumerate() {
                            let at = ((y + d.ph) * wp + d.pw) * d.c;
                            xtp[at..at + row.len()].copy_from_slice(row);
                        }
                        nz.map_cols_into(&q_of, q_rows, nz_q);
                        let run = s.kernel[1] * d.c;
                        for ki in 0..s.kernel[0] {
                            let b = &xtp[ki * s.dilation[0] * wp * d.c..];
                            for (j, wd) in pieces(run) {
                                sparse::chain_rows(nz_q, &b[j..], d.c, wd, &mut dw_c[ki * run + j..], d.k, true);
                            }
                        }
                    } else {
                        // The dense product over colsᵀ's slabs: each element the same chain.
                        let ct = sparse::aligned(cols_t, d.k * d.p);
                        im2row_by_tap(s, d, xt, ct);
                        for (j, wd) in sparse::slabs(d.k) {
                            let panel = &ct[j * d.p..(j + wd) * d.p];
                            sgemm(d.o, d.p, wd, MatRef::rows(dyi, d.p), MatRef::rows(panel, wd), &mut dw_c[j..], d.k, true);
                        }
                    }
                }
                if want_dw && !by_tap {
                    let c = image_cols(s, d, xi, pad, cols);
                    if sparse && sparse::all_finite(xi) {
                        // dW_chunk[o] += Σ over the non-zeros dy_n[o, p] of dy_n[o, p]·cols_nᵀ[p]
                        // over cols_nᵀ's slabs of columns, each a P × width panel
                        #[cfg(test)]
                        SPARSE_PRODUCTS[0].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let ct = sparse::aligned(cols_t, d.k * d.p);
                        for (j, wd) in sparse::slabs(d.k) {
                            let panel = &mut ct[j * d.p..(j + wd) * d.p];
                            gemm::transpose(&c[j * d.p..(j + wd) * d.p], wd, d.p, d.p, panel);
                            sparse::chain_rows(nz, panel, wd, wd, &mut dw_c[j..], d.k, true);
                        }
                    } else if let Some(dyt) = dyti {
                        // dWᵀ_chunk += cols_n·dy_nᵀ, dyᵀ row-major
                        sgemm(d.k, d.p, d.o, MatRef::rows(c, d.p), MatRef::rows(dyt, d.o), &mut dw_c, d.o, true);
                    } else if dw_t {
                        // dWᵀ_chunk += cols_n·dy_nᵀ
                        sgemm(d.k, d.p, d.o, MatRef::rows(c, d.p), MatRef::t(dyi, d.p), &mut dw_c, d.o, true);
                    } else {
                        // dW_chunk += dy_n·cols_nᵀ (also an image the sparse products skip)
                        sgemm(d.o, d.p, d.k, MatRef::rows(dyi, d.p), MatRef::t(c, d.p), &mut dw_c, d.k, true);
                    }
                }
                if want_db {
                    // db_chunk += Σₚ dy_n[:, p], fixed-order f64 sums (over dyᵀ's columns when only
                    // it was formed, in the same order)
                    match dyti {
                        Some(dyt) if transposed => crate::simd::dispatch(Body(|| sum_f64_columns(dyt, d.o, &mut db_c))),
                        _ => {
                            for (acc, row) in db_c.iter_mut().zip(dyi.chunks_exact(d.p)) {
                                *acc += sum_f64(row);
                            }
                        }
                    }
                }
                if let Some(dxp) = dxp {
                    // SAFETY: image `img`'s input-gradient block, disjoint from other images'.
                    let dxi = unsafe { dxp.slice(img * in_len, in_len) };
                    #[cfg(target_arch = "x86_64")]
                    if by_tap && sparse && w_finite {
                        // dcols_nᵀ by W's tap-major slabs, gathered channel-last, then dx_n.
                        #[cfg(test)]
                        SPARSE_PRODUCTS[1].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        nz.transpose_into(d.p, nz_t);
                        let dct = sparse::aligned(dcols_t, d.k * d.p);
                        for (j, wd) in sparse::slabs(d.k) {
                            sparse::chain_rows(
                                nz_t,
                                &w_slabs[j * d.o..(j + wd) * d.o],
                                wd,
                                wd,
                                &mut dct[j * d.p..(j + wd) * d.p],
                                wd,
                                false,
                            );
                        }
                        let dxt = grow(dx_t, in_len);
                        // SAFETY: the level's instructions are available (it never exceeds what
                        // the CPU has) and its `applies` holds (`by_tap`).
                        unsafe {
                            if crate::simd::level() >= crate::simd::Level::Avx512 {
                                x512::col2im_by_tap(s, d, dct, dxt)
                            } else {
                                x86::col2im_by_tap(s, d, dct, dxt)
                            }
                        };
                        gemm::transpose(dxt, d.h * d.w, d.c, d.c, dxi);
                        continue;
                    }
                    if pointwise {
                        // dx_n = Wᵀ·dy_n
                        sgemm(d.k, d.o, d.p, MatRef::t(w, d.k), MatRef::rows(dyi, d.p), dxi, d.p, false);
                    } else {
                        // dcols_n = Wᵀ·dy_n; dx_n = col2im(dcols_n)
                        let dcols = grow(dcols, d.k * d.p);
                        if sparse && w_finite {
                            // dcols_nᵀ[p] = Σ over the non-zeros dy_n[o, p] of dy_n[o, p]·W[o]
                            // over W's slabs of columns, each a P × width panel of dcols_nᵀ
                            #[cfg(test)]
                            SPARSE_PRODUCTS[1].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            nz.transpose_into(d.p, nz_t);
                            let dct = sparse::aligned(dcols_t, d.k * d.p);
                            for (j, wd) in sparse::slabs(d.k) {
                                let panel = &mut dct[j * d.p..(j + wd) * d.p];
                                sparse::chain_rows(nz_t, &w_slabs[j * d.o..(j + wd) * d.o], wd, wd, panel, wd, false);
                                gemm::transpose(panel, d.p, wd, wd, &mut dcols[j * d.p..(j + wd) * d.p]);
                            }
                        } else {
                            sgemm(d.k, d.o, d.p, MatRef::t(w, d.k), MatRef::rows(dyi, d.p), dcols, d.p, false);
                        }
                        #[cfg(target_arch = "x86_64")]
                        if direct512 {
                            // SAFETY: AVX-512F is available (the level never exceeds what the CPU
                            // has); `applies` holds.
                            unsafe { x512::col2im(s, d, dcols, dxi) };
                            continue;
                        }
                        #[cfg(target_arch = "x86_64")]
                        if direct {
                            // SAFETY: AVX2 is available (the level never exceeds what the CPU
                            // has); `applies` holds.
                            unsafe { x86::col2im(s, d, dcols, dxi) };
                            continue;
                        }
                        let dpad = grow(dpad, padded_len(d));
                        crate::simd::dispatch(Body(|| {
                            col2im(s, d, dcols, dpad);
                            unpad(d, dpad, dxi);
                        }));
                    }
                }
            }
            if want_dw && dw_t {
                let mut t = vec![0f32; d.o * d.k];
                gemm::transpose(&dw_c, d.k, d.o, d.o, &mut t);
                dw_c = t;
            }
            if want_dw && by_tap {
                let mut t = vec![0f32; d.o * d.k];
                for (dst, src) in t.chunks_exact_mut(d.k).zip(dw_c.chunks_exact(d.k)) {
                    for (kp, &v) in src.iter().enumerate() {
                        dst[w_col[kp]] = v;
                    }
                }
                dw_c = t;
            }
            // SAFETY: chunk ci writes only slot ci of each parts vector, which outlives the loop.
            unsafe {
                if want_dw {
                    *(dw_ptr as *mut Vec<f32>).add(ci) = dw_c;
                }
                if want_db {
                    *(db_ptr as *mut Vec<f64>).add(ci) = db_c;
                }
            }
        })
    });
    if let Some(dw) = dw {
        add_partials(dw, &dw_parts);
    }
    if let Some(db) = db {
        for (j, g) in db.iter_mut().enumerate() {
            let total: f64 = db_parts.iter().map(|p| p[j]).sum();
            *g = (*g as f64 + total) as f32;
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::testing::{check_grad, dot, vec};

    #[allow(clippy::too_many_arguments)]
    fn shape(
        n: usize,
        c: usize,
        h: usize,
        w: usize,
        o: usize,
        k: [usize; 2],
        st: [usize; 2],
        p: [usize; 2],
        dl: [usize; 2],
    ) -> Conv2dShape {
        Conv2dShape { batch: n, in_channels: c, height: h, width: w, out_channels: o, kernel: k, stride: st, padding: p, dilation: dl }
    }

    /// Direct definition, f64 accumulation.
    fn naive(s: &Conv2dShape, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f32> {
        let (oh, ow) = s.output_hw().unwrap();
        let mut y = vec![0f32; s.batch * s.out_channels * oh * ow];
        for n in 0..s.batch {
            for o in 0..s.out_channels {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = b.map_or(0.0, |b| b[o] as f64);
                        for c in 0..s.in_channels {
                            for i in 0..s.kernel[0] {
                                for j in 0..s.kernel[1] {
                                    let iy = (oy * s.stride[0] + i * s.dilation[0]) as isize - s.padding[0] as isize;
                                    let ix = (ox * s.stride[1] + j * s.dilation[1]) as isize - s.padding[1] as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < s.height && (ix as usize) < s.width {
                                        let xv = x[((n * s.in_channels + c) * s.height + iy as usize) * s.width + ix as usize];
                                        let wv = w[((o * s.in_channels + c) * s.kernel[0] + i) * s.kernel[1] + j];
                                        acc += xv as f64 * wv as f64;
                                    }
                                }
                            }
                        }
                        y[((n * s.out_channels + o) * oh + oy) * ow + ox] = acc as f32;
                    }
                }
            }
        }
        y
    }

    fn cases() -> Vec<Conv2dShape> {
        vec![
            shape(2, 1, 6, 6, 3, [3, 3], [1, 1], [1, 1], [1, 1]),
            shape(3, 2, 7, 5, 4, [3, 2], [2, 1], [0, 1], [1, 1]),
            shape(1, 3, 9, 8, 2, [2, 3], [2, 3], [1, 2], [2, 1]),
            shape(2, 4, 5, 5, 3, [1, 1], [1, 1], [0, 0], [1, 1]),
            shape(9, 2, 4, 4, 2, [5, 5], [1, 1], [2, 2], [1, 1]),
            shape(1, 1, 3, 3, 1, [3, 3], [1, 1], [0, 0], [1, 1]),
        ]
    }

    #[test]
    fn forward_matches_the_direct_definition() {
        for s in cases() {
            let (oh, ow) = s.output_hw().unwrap();
            let x = vec(1, s.batch * s.in_channels * s.height * s.width);
            let w = vec(2, s.out_channels * s.in_channels * s.kernel[0] * s.kernel[1]);
            let b = vec(3, s.out_channels);
            for bias in [None, Some(&b[..])] {
                let mut y = vec![9f32; s.batch * s.out_channels * oh * ow];
                conv2d_forward(s, &x, &w, bias, &mut y).unwrap();
                let e = naive(&s, &x, &w, bias);
                for (a, b) in y.iter().zip(&e) {
                    assert!((a - b).abs() < 1e-4, "{s:?}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        for s in cases() {
            let (oh, ow) = s.output_hw().unwrap();
            let x = vec(1, s.batch * s.in_channels * s.height * s.width);
            let w = vec(2, s.out_channels * s.in_channels * s.kernel[0] * s.kernel[1]);
            let b = vec(3, s.out_channels);
            let r = vec(4, s.batch * s.out_channels * oh * ow);
            let loss = |x: &[f32], w: &[f32], b: &[f32]| {
                let mut y = vec![0f32; r.len()];
                conv2d_forward(s, x, w, Some(b), &mut y).unwrap();
                dot(&y, &r)
            };
            let mut dx = vec![7f32; x.len()];
            let (mut dw, mut db) = (vec![0f32; w.len()], vec![0f32; b.len()]);
            conv2d_backward(s, &x, &w, &r, Some(&mut dx), Some(&mut dw), Some(&mut db)).unwrap();
            check_grad(&x, &dx, 60, |v| loss(v, &w, &b), "dx");
            check_grad(&w, &dw, 60, |v| loss(&x, v, &b), "dw");
            check_grad(&b, &db, 60, |v| loss(&x, &w, v), "db");
        }
    }

    #[test]
    fn gradients_do_not_depend_on_the_thread_count() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let s = shape(37, 8, 14, 14, 16, [3, 3], [1, 1], [1, 1], [1, 1]);
        let x = vec(1, s.batch * s.in_channels * 196);
        let w = vec(2, 16 * 8 * 9);
        let r = vec(4, s.batch * 16 * 196);
        let run = || {
            let mut dx = vec![0f32; x.len()];
            let (mut dw, mut db) = (vec![0f32; w.len()], vec![0f32; 16]);
            let mut y = vec![0f32; r.len()];
            conv2d_forward(s, &x, &w, Some(&db.clone()), &mut y).unwrap();
            conv2d_backward(s, &x, &w, &r, Some(&mut dx), Some(&mut dw), Some(&mut db)).unwrap();
            [y, dx, dw, db].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
        };
        crate::pool::set_num_threads(1).unwrap();
        let one = run();
        for t in [2, 3] {
            crate::pool::set_num_threads(t).unwrap();
            assert!(run() == one, "{t} threads");
        }
        crate::pool::set_num_threads(2).unwrap();
    }

    /// Conv2d, then MaxPool2d with `relu` run as two calls: the oracle of the fused calls.
    #[allow(clippy::type_complexity)]
    fn conv_relu_pool_unfused(cs: Conv2dShape, ps: Pool2dShape, x: &[f32], w: &[f32], b: &[f32], dy: &[f32]) -> [Vec<u32>; 5] {
        let (oh, ow) = cs.output_hw().unwrap();
        let mut h = vec![0f32; cs.batch * cs.out_channels * oh * ow];
        conv2d_forward(cs, x, w, Some(b), &mut h).unwrap();
        let (mut y, mut idx) = (vec![0f32; dy.len()], vec![0i32; dy.len()]);
        pool::maxpool2d_forward(ps, &h, &mut y, &mut idx, true).unwrap();
        let mut g = vec![0f32; h.len()];
        pool::maxpool2d_backward(ps, dy, &idx, Some(&y), &mut g).unwrap();
        let (mut dx, mut dw, mut db) = (vec![0f32; x.len()], vec![0.25f32; w.len()], vec![0.5f32; b.len()]);
        conv2d_backward(cs, x, w, &g, Some(&mut dx), Some(&mut dw), Some(&mut db)).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        [bits(&y), idx.iter().map(|&i| i as u32).collect(), bits(&dx), bits(&dw), bits(&db)]
    }

    #[test]
    fn conv_relu_pool_gives_the_bits_of_the_three_layers_both_ways_at_every_level_and_thread_count() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let levels = [crate::simd::Level::Avx512, crate::simd::Level::Avx2, crate::simd::Level::Baseline];
        let pool2 = |n, c, h, w, k: [usize; 2], st: [usize; 2], p: [usize; 2], dl: [usize; 2]| Pool2dShape {
            batch: n,
            channels: c,
            height: h,
            width: w,
            kernel: k,
            stride: st,
            padding: p,
            dilation: dl,
        };
        for (cs, pk, pst, pp, pdl) in [
            // The seed CNN's pairs (conv1's narrow dW, K = 9 < O), more than one chunk of images,
            // an odd last chunk.
            (shape(9, 1, 12, 12, 16, [3, 3], [1, 1], [1, 1], [1, 1]), [2, 2], [2, 2], [0, 0], [1, 1]),
            // Narrow dW with P = 63 (not a multiple of 8: the bias sums' tail).
            (shape(3, 1, 7, 9, 12, [3, 3], [1, 1], [1, 1], [1, 1]), [2, 2], [2, 2], [0, 0], [1, 1]),
            (shape(2, 2, 9, 8, 10, [2, 2], [1, 1], [0, 0], [1, 1]), [3, 3], [2, 2], [1, 1], [1, 1]),
            (shape(3, 5, 14, 14, 6, [3, 3], [1, 1], [1, 1], [1, 1]), [2, 2], [2, 2], [0, 0], [1, 1]),
            // Odd output (7 × 7 → 3 × 3, the last row and column unpooled), pointwise.
            (shape(2, 3, 7, 7, 2, [1, 1], [1, 1], [0, 0], [1, 1]), [2, 2], [2, 2], [0, 0], [1, 1]),
            // Strided convolution, overlapping padded pooling windows, dilation.
            (shape(3, 2, 9, 11, 3, [3, 2], [2, 1], [1, 0], [1, 1]), [3, 3], [1, 2], [1, 1], [1, 1]),
            (shape(2, 2, 10, 9, 3, [2, 3], [1, 1], [0, 1], [1, 2]), [3, 2], [2, 1], [1, 0], [2, 1]),
        ] {
            let (oh, ow) = cs.output_hw().unwrap();
            let ps = pool2(cs.batch, cs.out_channels, oh, ow, pk, pst, pp, pdl);
            let (poh, pow) = ps.output_hw().unwrap();
            // Small integers, so many outputs tie or are exactly ±0; a NaN and ±∞ in x; one
            // channel with a bias of −∞ (all of its ReLU outputs +0) and one of −100 (mostly).
            let x: Vec<f32> = vec(1, cs.batch * cs.in_channels * cs.height * cs.width)
                .iter()
                .enumerate()
                .map(|(i, &v)| match i % 97 {
                    13 => f32::NAN,
                    40 => f32::INFINITY,
                    71 => f32::NEG_INFINITY,
                    _ => (v * 2.0).round(),
                })
                .collect();
            let w: Vec<f32> =
                vec(2, cs.out_channels * cs.in_channels * cs.kernel[0] * cs.kernel[1]).iter().map(|&v| (v * 2.0).round()).collect();
            let mut b: Vec<f32> = vec(3, cs.out_channels).iter().map(|&v| (v * 2.0).round()).collect();
            b[0] = -100.0;
            b[1] = f32::NEG_INFINITY;
            let dy: Vec<f32> = vec(4, cs.batch * cs.out_channels * poh * pow)
                .iter()
                .enumerate()
                .map(|(i, &v)| match i % 19 {
                    5 => f32::NAN,
                    7 => -0.0,
                    _ => v,
                })
                .collect();
            for lvl in levels.into_iter().filter(|&l| l <= crate::simd::detected()) {
                crate::simd::force(lvl);
                crate::pool::set_num_threads(1).unwrap();
                let expect = conv_relu_pool_unfused(cs, ps, &x, &w, &b, &dy);
                let some = |v: &[u32], f: fn(f32) -> bool| v.iter().any(|&u| f(f32::from_bits(u)));
                assert!(some(&expect[0], |v| v > 0.0) && some(&expect[0], |v| v == 0.0), "{cs:?}: a case with positive and zero outputs");
                assert!(
                    some(&expect[2], |v| v != 0.0 && v.is_finite()) && some(&expect[3], |v| v != 0.25),
                    "{cs:?}: a case with gradients"
                );
                for t in [1, 2, 3] {
                    crate::pool::set_num_threads(t).unwrap();
                    let (mut y, mut idx) = (vec![9f32; dy.len()], vec![-1i32; dy.len()]);
                    conv2d_relu_maxpool2d_forward(cs, ps, &x, &w, Some(&b), &mut y, &mut idx).unwrap();
                    let (mut dx, mut dw, mut db) = (vec![7f32; x.len()], vec![0.25f32; w.len()], vec![0.5f32; b.len()]);
                    conv2d_relu_maxpool2d_backward(cs, ps, &x, &w, &dy, &idx, &y, Some(&mut dx), Some(&mut dw), Some(&mut db)).unwrap();
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    let got = [bits(&y), idx.iter().map(|&i| i as u32).collect(), bits(&dx), bits(&dw), bits(&db)];
                    for (k, name) in ["y", "indices", "dx", "dW", "db"].iter().enumerate() {
                        assert!(got[k] == expect[k], "{lvl:?}, {t} threads, {cs:?}: {name}");
                    }
                    // Without dx (the narrow dW's transposed gradient), or dW, or db: the others as before.
                    let (mut dw2, mut db2) = (vec![0.25f32; w.len()], vec![0.5f32; b.len()]);
                    conv2d_relu_maxpool2d_backward(cs, ps, &x, &w, &dy, &idx, &y, None, Some(&mut dw2), Some(&mut db2)).unwrap();
                    assert!(bits(&dw2) == expect[3] && bits(&db2) == expect[4], "{lvl:?}, {t} threads, {cs:?}: dW and db without dx");
                    let (mut dw3, mut db3) = (vec![0.25f32; w.len()], vec![0.5f32; b.len()]);
                    conv2d_relu_maxpool2d_backward(cs, ps, &x, &w, &dy, &idx, &y, None, Some(&mut dw3), None).unwrap();
                    conv2d_relu_maxpool2d_backward(cs, ps, &x, &w, &dy, &idx, &y, None, None, Some(&mut db3)).unwrap();
                    assert!(bits(&dw3) == expect[3] && bits(&db3) == expect[4], "{lvl:?}, {t} threads, {cs:?}: dW, db alone");
                }
            }
        }
        crate::simd::force(crate::simd::detected());
        crate::pool::set_num_threads(2).unwrap();
    }

    #[test]
    fn the_sparse_backward_gives_the_dense_bits_and_falls_back_on_non_finite_operands() {
        use std::sync::atomic::Ordering::Relaxed;
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let levels = [crate::simd::Level::Avx512, crate::simd::Level::Avx2, crate::simd::Level::Baseline];
        for (cs, pk, pst) in [
            // K = 72: one slab, a narrow tail (8 lanes at AVX-512). (At least 16 output channels
            // throughout: below that the AVX2 level's dense dWᵀ product is not a chain, and the
            // sparse products do not run.)
            (shape(4, 8, 10, 10, 16, [3, 3], [1, 1], [1, 1], [1, 1]), [2, 2], [2, 2]),
            // K = 288 (the seed CNN's conv2): five slabs, the last 32 wide; P = 81 with the last
            // row and column unpooled; an odd number of output channels (a row alone).
            (shape(3, 32, 9, 9, 19, [3, 3], [1, 1], [1, 1], [1, 1]), [2, 2], [2, 2]),
            // K = 160, overlapping 3 × 3 windows (an element routed twice adds).
            (shape(3, 16, 8, 11, 17, [2, 5], [1, 1], [0, 2], [1, 1]), [3, 3], [2, 2]),
        ] {
            let (oh, ow) = cs.output_hw().unwrap();
            let ps = Pool2dShape {
                batch: cs.batch,
                channels: cs.out_channels,
                height: oh,
                width: ow,
                kernel: pk,
                stride: pst,
                padding: [0, 0],
                dilation: [1, 1],
            };
            let (poh, pow) = ps.output_hw().unwrap();
            let in_len = cs.in_channels * cs.height * cs.width;
            // Small integers (ties, ±0 outputs); image 1 holds an ∞, so its dW takes the dense
            // product while the others' take the sparse one.
            let mut x: Vec<f32> = vec(1, cs.batch * in_len).iter().map(|&v| (v * 3.0).round()).collect();
            x[in_len + 5] = f32::INFINITY;
            let w: Vec<f32> =
                vec(2, cs.out_channels * cs.in_channels * cs.kernel[0] * cs.kernel[1]).iter().map(|&v| (v * 2.0).round() / 4.0).collect();
            let b: Vec<f32> = vec(3, cs.out_channels).iter().map(|&v| (v * 2.0).round()).collect();
            let dy: Vec<f32> = vec(4, cs.batch * cs.out_channels * poh * pow)
                .iter()
                .enumerate()
                .map(|(i, &v)| match i % 23 {
                    5 => f32::NAN,
                    7 => -0.0,
                    _ => v,
                })
                .collect();
            // Finite weights (dcols sparse), then a NaN weight (dcols dense for the whole call).
            let mut w_nan = w.clone();
            w_nan[3] = f32::NAN;
            for (w, dx_sparse) in [(&w, true), (&w_nan, false)] {
                for lvl in levels.into_iter().filter(|&l| l <= crate::simd::detected()) {
                    crate::simd::force(lvl);
                    crate::pool::set_num_threads(1).unwrap();
                    let expect = conv_relu_pool_unfused(cs, ps, &x, w, &b, &dy);
                    for t in [1, 2] {
                        crate::pool::set_num_threads(t).unwrap();
                        let (mut y, mut idx) = (vec![0f32; dy.len()], vec![0i32; dy.len()]);
                        conv2d_relu_maxpool2d_forward(cs, ps, &x, w, Some(&b), &mut y, &mut idx).unwrap();
                        let (mut dx, mut dw, mut db) = (vec![7f32; x.len()], vec![0.25f32; w.len()], vec![0.5f32; b.len()]);
                        let before = SPARSE_PRODUCTS.each_ref().map(|c| c.load(Relaxed));
                        conv2d_relu_maxpool2d_backward(cs, ps, &x, w, &dy, &idx, &y, Some(&mut dx), Some(&mut dw), Some(&mut db)).unwrap();
                        let ran = [0, 1].map(|i| SPARSE_PRODUCTS[i].load(Relaxed) - before[i]);
                        let sparse_level = lvl >= crate::simd::Level::Avx2;
                        assert_eq!(ran[0], if sparse_level { cs.batch - 1 } else { 0 }, "{lvl:?}, {cs:?}: sparse dW images");
                        assert_eq!(ran[1], if sparse_level && dx_sparse { cs.batch } else { 0 }, "{lvl:?}, {cs:?}: sparse dcols images");
                        // Bits, every NaN as one: which NaN a sum returns when NaNs of different
                        // signs meet (dy's NaN, and ∞·0's in image 1) depends on which operand of
                        // an instruction is which, and the compiler may commute an addition.
                        let nan = f32::NAN.to_bits();
                        let bits = |v: &[f32]| v.iter().map(|x| if x.is_nan() { nan } else { x.to_bits() }).collect::<Vec<_>>();
                        let canon = |v: &[u32]| bits(&v.iter().map(|&u| f32::from_bits(u)).collect::<Vec<_>>());
                        assert!(bits(&dw).contains(&nan), "{cs:?}: a NaN in dW");
                        for (k, name, got) in [(2, "dx", bits(&dx)), (3, "dW", bits(&dw)), (4, "db", bits(&db))] {
                            assert!(got == canon(&expect[k]), "{lvl:?}, {t} threads, {cs:?}, finite W {dx_sparse}: {name}");
                        }
                    }
                }
            }
        }
        crate::simd::force(crate::simd::detected());
        crate::pool::set_num_threads(2).unwrap();
    }

    #[test]
    fn conv_relu_pool_rejects_a_mismatched_pool_and_bad_indices() {
        let cs = shape(1, 1, 4, 4, 2, [3, 3], [1, 1], [1, 1], [1, 1]);
        let ps =
            Pool2dShape { batch: 1, channels: 2, height: 4, width: 4, kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] };
        let (x, w) = ([0.5f32; 16], [0.25f32; 18]);
        let (mut y, mut idx) = ([0f32; 8], [0i32; 8]);
        conv2d_relu_maxpool2d_forward(cs, ps, &x, &w, None, &mut y, &mut idx).unwrap();
        let bad = Pool2dShape { channels: 3, ..ps };
        let e = conv2d_relu_maxpool2d_forward(cs, bad, &x, &w, None, &mut y, &mut idx).unwrap_err();
        assert_eq!(
            e.to_string(),
            "RangeError: expected the pooling geometry to take the convolution's output [1, 2, 4, 4], received [1, 3, 4, 4]"
        );
        let e = conv2d_relu_maxpool2d_forward(cs, ps, &x, &w, None, &mut y, &mut idx[..7]).unwrap_err();
        assert_eq!(e.to_string(), "RangeError: expected indices to have length 8, received 7");
        let dy = [1f32; 8];
        idx[3] = 16;
        let mut dw = [0f32; 18];
        let e = conv2d_relu_maxpool2d_backward(cs, ps, &x, &w, &dy, &idx, &y, None, Some(&mut dw), None).unwrap_err();
        assert_eq!(e.to_string(), "RangeError: expected indices[3] to be in [0, 16), received 16");
        assert!(dw.iter().all(|&v| v == 0.0), "nothing written before the checks pass");
        idx[3] = -1;
        assert!(conv2d_relu_maxpool2d_backward(cs, ps, &x, &w, &dy, &idx, &y, None, Some(&mut dw), None).is_err());
    }

    #[test]
    fn bad_shapes_are_range_errors() {
        let s = shape(1, 1, 2, 2, 1, [3, 3], [1, 1], [0, 0], [1, 1]);
        let e = conv2d_forward(s, &[0.0; 4], &[0.0; 9], None, &mut []).unwrap_err();
        assert!(matches!(e, crate::nn::NnError::Range(ref m) if m.contains("larger than the padded input")), "{e}");
        let s = shape(1, 1, 4, 4, 1, [3, 3], [0, 1], [0, 0], [1, 1]);
        assert!(conv2d_forward(s, &[0.0; 16], &[0.0; 9], None, &mut [0.0; 4]).is_err());
        let s = shape(1, 1, 4, 4, 1, [3, 3], [1, 1], [0, 0], [1, 1]);
        let e = conv2d_forward(s, &[0.0; 16], &[0.0; 9], None, &mut [0.0; 3]).unwrap_err();
        assert_eq!(e.to_string(), "RangeError: expected output to have length 4, received 3");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn gathered_col2im_and_avx512_im2col_give_the_padded_paths_bits() {
        if crate::simd::detected() < crate::simd::Level::Avx2 {
            return;
        }
        for (c, h, w, k, st, p, dl) in [
            (1, 28, 28, [3, 3], [1, 1], [1, 1], [1, 1]),
            (3, 14, 14, [3, 3], [1, 1], [1, 1], [1, 1]),
            (2, 5, 3, [3, 3], [1, 1], [1, 1], [1, 1]),
            (2, 9, 17, [3, 5], [2, 1], [0, 2], [2, 1]),
            (3, 8, 8, [1, 3], [1, 1], [0, 1], [1, 1]),
            (2, 7, 9, [2, 2], [3, 1], [1, 1], [1, 1]),
            (1, 6, 40, [3, 3], [1, 1], [2, 2], [1, 1]),
            (2, 5, 16, [3, 3], [1, 1], [1, 1], [1, 1]),
            (1, 4, 33, [2, 4], [1, 1], [0, 0], [1, 1]),
        ] {
            let s = shape(1, c, h, w, 2, k, st, p, dl);
            let d = dims(&s).unwrap();
            assert!(x86::applies(&s));
            let special = |i: usize, v: f32| match i % 13 {
                2 => -0.0,
                5 => f32::NAN,
                9 => f32::INFINITY,
                _ => v,
            };
            let dcols: Vec<f32> = vec(4, d.k * d.p).iter().enumerate().map(|(i, &v)| special(i, v)).collect();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let mut pad = vec![0f32; padded_len(&d)];
            let mut dx = vec![0f32; c * h * w];
            col2im(&s, &d, &dcols, &mut pad);
            unpad(&d, &pad, &mut dx);
            let mut dx2 = vec![7f32; c * h * w];
            // SAFETY: as above.
            unsafe { x86::col2im(&s, &d, &dcols, &mut dx2) };
            assert_eq!(bits(&dx2), bits(&dx), "{s:?} col2im");
            if crate::simd::detected() < crate::simd::Level::Avx512 {
                continue;
            }
            // The AVX-512 versions: col2im's bits, and im2col's copy of the padded image (with
            // NaN, ±inf and −0 in it), into a buffer that starts as garbage.
            assert!(x512::applies(&s));
            let mut dx3 = vec![7f32; c * h * w];
            // SAFETY: the host has AVX-512F (checked above); `applies` holds.
            unsafe { x512::col2im(&s, &d, &dcols, &mut dx3) };
            assert_eq!(bits(&dx3), bits(&dx), "{s:?} col2im at AVX-512");
            let x: Vec<f32> = vec(5, c * h * w).iter().enumerate().map(|(i, &v)| special(i, v)).collect();
            pad_image(&d, &x, &mut pad);
            let mut cols = vec![0f32; d.k * d.p];
            im2col(&s, &d, &pad, &mut cols);
            let mut cols2 = vec![f32::NAN; d.k * d.p];
            // SAFETY: as above.
            unsafe { x512::im2col(&s, &d, &x, &mut cols2) };
            assert_eq!(bits(&cols2), bits(&cols), "{s:?} im2col at AVX-512");
        }
    }

    /// Single-thread time per image of im2col (with the padded copy) and of col2im (with
    /// unpadding) against the gathered AVX2 col2im and the AVX-512 im2col and col2im, at the seed
    /// CNN's convolutions; median and min of 15 rounds of 128 images, interleaved.
    /// `cargo test --release --manifest-path crate/Cargo.toml im2col_benchmark -- --ignored --nocapture`
    #[test]
    #[ignore]
    #[cfg(target_arch = "x86_64")]
    fn im2col_benchmark() {
        use std::time::Instant;
        assert!(crate::simd::detected() >= crate::simd::Level::Avx512, "the AVX-512 versions need AVX-512F");
        for (c, hw, o) in [(1, 28, 32), (32, 14, 64)] {
            let s = shape(128, c, hw, hw, o, [3, 3], [1, 1], [1, 1], [1, 1]);
            let d = dims(&s).unwrap();
            let x = vec(1, 128 * c * hw * hw);
            let dcols = vec(2, d.k * d.p);
            let (mut pad, mut cols, mut dpad) = (vec![0f32; padded_len(&d)], vec![0f32; d.k * d.p], vec![0f32; padded_len(&d)]);
            let mut dx = vec![0f32; c * hw * hw];
            let mut t: [Vec<f64>; 5] = Default::default();
            let ns = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e9 / 128.0;
            for _ in 0..15 {
                let t0 = Instant::now();
                for img in 0..128 {
                    let xi = &x[img * c * hw * hw..(img + 1) * c * hw * hw];
                    crate::simd::dispatch(Body(|| {
                        pad_image(&d, xi, &mut pad);
                        im2col(&s, &d, &pad, &mut cols);
                    }));
                    std::hint::black_box(&mut cols);
                }
                let t1 = Instant::now();
                for img in 0..128 {
                    let xi = &x[img * c * hw * hw..(img + 1) * c * hw * hw];
                    // SAFETY: the host has AVX-512F (checked above); `applies` holds.
                    unsafe { x512::im2col(&s, &d, xi, &mut cols) };
                    std::hint::black_box(&mut cols);
                }
                let t2 = Instant::now();
                for _ in 0..128 {
                    crate::simd::dispatch(Body(|| {
                        col2im(&s, &d, &dcols, &mut dpad);
                        unpad(&d, &dpad, &mut dx);
                    }));
                    std::hint::black_box(&mut dx);
                }
                let t3 = Instant::now();
                for _ in 0..128 {
                    // SAFETY: as above (AVX-512F implies AVX2).
                    unsafe { x86::col2im(&s, &d, &dcols, &mut dx) };
                    std::hint::black_box(&mut dx);
                }
                let t4 = Instant::now();
                for _ in 0..128 {
                    // SAFETY: as above.
                    unsafe { x512::col2im(&s, &d, &dcols, &mut dx) };
                    std::hint::black_box(&mut dx);
                }
                let t5 = Instant::now();
                for (v, x) in t.iter_mut().zip([ns(t0, t1), ns(t1, t2), ns(t2, t3), ns(t3, t4), ns(t4, t5)]) {
                    v.push(x);
                }
            }
            let stat = |v: &mut Vec<f64>| {
                v.sort_by(|a, b| a.partial_cmp(b).unwrap());
                format!("{:.0} ns ({:.0})", v[v.len() / 2], v[0])
            };
            let [a, b, e, f, g] = t.each_mut().map(stat);
            println!(
                "{c}x{hw}x{hw} → {o}, 3x3 pad 1: per image median (min): im2col {a}, AVX-512 {b}; col2im padded {e}, gathered AVX2 {f}, AVX-512 {g}"
            );
        }
    }

    /// The sparse backward's operands of the seed CNN's conv2 (32 → 64, 3 × 3 at 14 × 14, a
    /// quarter of dy non-zero), one core, µs per image: built K × P and transposed to colsᵀ's
    /// slabs (im2col + transposes), or read from the image channel-last (tap-major); the sparse
    /// dW product over each; dcolsᵀ's slabs back to dx through K × P (transposes + col2im) or
    /// gathered channel-last and transposed (tap-major), at the AVX-512 and the AVX2 level.
    /// `cargo test --release --manifest-path crate/Cargo.toml tap_major_benchmark -- --ignored --nocapture`
    #[test]
    #[ignore]
    #[cfg(target_arch = "x86_64")]
    fn tap_major_benchmark() {
        assert!(crate::simd::detected() >= crate::simd::Level::Avx512, "the tap-major route needs AVX-512F");
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let s = shape(1, 32, 14, 14, 64, [3, 3], [1, 1], [1, 1], [1, 1]);
        let d = dims(&s).unwrap();
        let (x, dcols_t) = (vec(1, d.c * d.h * d.w), vec(2, d.k * d.p));
        // One of each four positions of every channel non-zero, as a 2 × 2 pool routes it.
        let dy: Vec<f32> = vec(3, d.o * d.p).iter().enumerate().map(|(i, &v)| if (i * 7 + i / 13) % 4 == 0 { v } else { 0.0 }).collect();
        let (mut nz, mut nz_q) = (Nonzeros::default(), Nonzeros::default());
        nz.of_rows(&dy, d.p);
        let wp = d.w + 2;
        let q_of: Vec<u32> = (0..d.p).map(|p| (p / d.ow * wp + p % d.ow) as u32).collect();
        let (mut cols, mut ct_buf, mut dct_buf) = (vec![0f32; d.k * d.p], Vec::new(), Vec::new());
        let (ct, dct) = (sparse::aligned(&mut ct_buf, d.k * d.p), sparse::aligned(&mut dct_buf, d.k * d.p));
        dct.copy_from_slice(&dcols_t);
        let (mut xt, mut xtp_buf, mut dx) = (vec![0f32; x.len()], Vec::new(), vec![0f32; x.len()]);
        let xtp = sparse::aligned(&mut xtp_buf, padded_len(&d));
        xtp.fill(0.0);
        let mut dw = vec![0f32; d.o * d.k];
        let time = |name: &str, f: &mut dyn FnMut()| {
            let mut t = Vec::new();
            for _ in 0..15 {
                let t0 = std::time::Instant::now();
                for _ in 0..128 {
                    f();
                }
                t.push(t0.elapsed().as_secs_f64() * 1e6 / 128.0);
            }
            t.sort_by(|a, b| a.partial_cmp(b).unwrap());
            eprintln!("{name}: {:.2} ({:.2}) µs", t[7], t[0]);
        };
        // SAFETY (each unsafe block below): AVX-512F is available (asserted); x512::applies holds
        // for this shape; the buffers have the lengths the functions check.
        time("colsᵀ slabs: im2col + transposes", &mut || {
            unsafe { x512::im2col(&s, &d, &x, &mut cols) };
            for (j, wd) in sparse::slabs(d.k) {
                gemm::transpose(&cols[j * d.p..(j + wd) * d.p], wd, d.p, d.p, &mut ct[j * d.p..(j + wd) * d.p]);
            }
        });
        time("tap-major: image channel-last, padded", &mut || {
            gemm::transpose(&x, d.c, d.p, d.p, &mut xt);
            for (y, row) in xt.chunks_exact(d.w * d.c).enumerate() {
                let at = ((y + 1) * wp + 1) * d.c;
                xtp[at..at + row.len()].copy_from_slice(row);
            }
        });
        time("dW over colsᵀ slabs", &mut || {
            for (j, wd) in sparse::slabs(d.k) {
                sparse::chain_rows(&nz, &ct[j * d.p..(j + wd) * d.p], wd, wd, &mut dw[j..], d.k, true);
            }
        });
        time("dW tap-major over the padded image (with renaming)", &mut || {
            nz.map_cols_into(&q_of, q_of[d.p - 1] as usize + 1, &mut nz_q);
            for ki in 0..3 {
                for (j, wd) in pieces(3 * d.c) {
                    sparse::chain_rows(&nz_q, &xtp[ki * wp * d.c + j..], d.c, wd, &mut dw[ki * 3 * d.c + j..], d.k, true);
                }
            }
        });
        let q0 = vec![0u32; d.p];
        time("dW tap-major, every row of B the same (in L1)", &mut || {
            nz.map_cols_into(&q0, 1, &mut nz_q);
            for ki in 0..3 {
                for (j, wd) in pieces(3 * d.c) {
                    sparse::chain_rows(&nz_q, &xtp[ki * wp * d.c + j..], d.c, wd, &mut dw[ki * 3 * d.c + j..], d.k, true);
                }
            }
        });
        time("renaming alone", &mut || nz.map_cols_into(&q_of, q_of[d.p - 1] as usize + 1, &mut nz_q));
        // dx at each level, with its transposes and kernels.
        for avx512 in [true, false] {
            crate::simd::force(if avx512 { crate::simd::Level::Avx512 } else { crate::simd::Level::Avx2 });
            let level = if avx512 { "AVX-512" } else { "AVX2" };
            time(&format!("{level} dx: transposes + col2im"), &mut || {
                for (j, wd) in sparse::slabs(d.k) {
                    gemm::transpose(&dct[j * d.p..(j + wd) * d.p], d.p, wd, wd, &mut cols[j * d.p..(j + wd) * d.p]);
                }
                unsafe {
                    if avx512 {
                        x512::col2im(&s, &d, &cols, &mut dx)
                    } else {
                        x86::col2im(&s, &d, &cols, &mut dx)
                    }
                };
            });
            time(&format!("{level} dx tap-major: col2im_by_tap + transpose"), &mut || {
                unsafe {
                    if avx512 {
                        x512::col2im_by_tap(&s, &d, dct, &mut xt)
                    } else {
                        x86::col2im_by_tap(&s, &d, dct, &mut xt)
                    }
                };
                gemm::transpose(&xt, d.p, d.c, d.c, &mut dx);
            });
        }
        crate::simd::force(crate::simd::detected());
    }
}
