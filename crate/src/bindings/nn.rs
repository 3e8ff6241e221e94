//! N-API functions of the neural-network layers: take the typed arrays' pointers, reject outputs
//! that overlap another buffer, and call `crate::nn`. No math here.

use super::{guarded, range_error};
use crate::nn::{self, conv2d::Conv2dShape, linear::LinearShape, pool::Pool2dShape, NnError};
use napi::bindgen_prelude::*;
use napi_derive::napi;

fn nn_error(e: NnError) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

/// The raw views of one call's buffers, checked for overlap before any slice is formed.
#[derive(Default)]
struct Views {
    spans: Vec<(usize, usize, &'static str, bool)>,
}

impl Views {
    fn add<T>(&mut self, name: &'static str, ptr: *const T, len: usize, writable: bool) -> (usize, usize) {
        let start = ptr as usize;
        let bytes = len * std::mem::size_of::<T>();
        if bytes > 0 {
            self.spans.push((start, start + bytes, name, writable));
        }
        (start, len)
    }

    /// Rejects any writable buffer that shares memory with another buffer of the call.
    fn check(&self) -> Result<()> {
        for (i, a) in self.spans.iter().enumerate() {
            for b in &self.spans[i + 1..] {
                if (a.3 || b.3) && a.0 < b.1 && b.0 < a.1 {
                    return Err(range_error(format!("{} and {} view overlapping memory; an output needs its own buffer", a.2, b.2)));
                }
            }
        }
        Ok(())
    }
}

fn ro(views: &mut Views, name: &'static str, a: &Float32ArraySlice) -> (usize, usize) {
    views.add(name, a.as_ptr(), a.len(), false)
}

fn rw(views: &mut Views, name: &'static str, a: &mut Float32ArraySlice) -> (usize, usize) {
    // SAFETY: only the pointer is taken; the slice is formed after the overlap check.
    let s = unsafe { a.as_mut() };
    views.add(name, s.as_mut_ptr(), s.len(), true)
}

/// The written views of a layer's optional input, weight and bias gradients (null skips one).
fn grad_views(
    views: &mut Views,
    dx: &mut Option<Float32ArraySlice<'_>>,
    dw: &mut Option<Float32ArraySlice<'_>>,
    db: &mut Option<Float32ArraySlice<'_>>,
) -> [Option<(usize, usize)>; 3] {
    [
        dx.as_mut().map(|a| rw(views, "input gradient", a)),
        dw.as_mut().map(|a| rw(views, "weight gradient", a)),
        db.as_mut().map(|a| rw(views, "bias gradient", a)),
    ]
}

/// The slices of [`grad_views`]' views.
///
/// # Safety
/// As [`slice_mut`] for each view.
unsafe fn grad_slices<'a>(views: [Option<(usize, usize)>; 3]) -> [Option<&'a mut [f32]>; 3] {
    views.map(|v| v.map(|v| slice_mut(v)))
}

/// [`rw`] for an Int32Array (a pool's argmax indices).
fn rw_i32(views: &mut Views, name: &'static str, a: &mut Int32ArraySlice) -> (usize, usize) {
    // SAFETY: as in `rw`.
    let s = unsafe { a.as_mut() };
    views.add(name, s.as_mut_ptr(), s.len(), true)
}

/// # Safety
/// `(ptr, len)` came from a live typed array of the current call that passed [`Views::check`].
unsafe fn slice<'a>(v: (usize, usize)) -> &'a [f32] {
    if v.1 == 0 {
        return &[];
    }
    std::slice::from_raw_parts(v.0 as *const f32, v.1)
}

/// # Safety
/// As [`slice`] (for a typed array of `T`s), and no other slice of this call covers the same memory.
unsafe fn slice_mut<'a, T>(v: (usize, usize)) -> &'a mut [T] {
    if v.1 == 0 {
        return &mut [];
    }
    std::slice::from_raw_parts_mut(v.0 as *mut T, v.1)
}

fn dim(name: &str, v: f64) -> Result<usize> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 {
        Ok(v as usize)
    } else {
        Err(range_error(format!("expected {name} to be an integer >= 0, received {v}")))
    }
}

fn pair(name: &str, v: &[f64]) -> Result<[usize; 2]> {
    if v.len() != 2 {
        return Err(range_error(format!("expected {name} to have 2 entries, received {}", v.len())));
    }
    Ok([dim(name, v[0])?, dim(name, v[1])?])
}

/// The geometry of a `Conv2d` call.
#[napi(object, js_name = "Conv2dGeometry")]
pub struct Conv2dGeometry {
    pub batch: f64,
    pub in_channels: f64,
    pub height: f64,
    pub width: f64,
    pub out_channels: f64,
    pub kernel_size: Vec<f64>,
    pub stride: Vec<f64>,
    pub padding: Vec<f64>,
    pub dilation: Vec<f64>,
}

fn conv_shape(g: &Conv2dGeometry) -> Result<Conv2dShape> {
    Ok(Conv2dShape {
        batch: dim("batch", g.batch)?,
        in_channels: dim("inChannels", g.in_channels)?,
        height: dim("height", g.height)?,
        width: dim("width", g.width)?,
        out_channels: dim("outChannels", g.out_channels)?,
        kernel: pair("kernelSize", &g.kernel_size)?,
        stride: pair("stride", &g.stride)?,
        padding: pair("padding", &g.padding)?,
        dilation: pair("dilation", &g.dilation)?,
    })
}

/// The geometry of a `MaxPool2d` call.
#[napi(object, js_name = "Pool2dGeometry")]
pub struct Pool2dGeometry {
    pub batch: f64,
    pub channels: f64,
    pub height: f64,
    pub width: f64,
    pub kernel_size: Vec<f64>,
    pub stride: Vec<f64>,
    pub padding: Vec<f64>,
    pub dilation: Vec<f64>,
}

fn pool_shape(g: &Pool2dGeometry) -> Result<Pool2dShape> {
    Ok(Pool2dShape {
        batch: dim("batch", g.batch)?,
        channels: dim("channels", g.channels)?,
        height: dim("height", g.height)?,
        width: dim("width", g.width)?,
        kernel: pair("kernelSize", &g.kernel_size)?,
        stride: pair("stride", &g.stride)?,
        padding: pair("padding", &g.padding)?,
        dilation: pair("dilation", &g.dilation)?,
    })
}

fn linear_shape(batch: f64, in_features: f64, out_features: f64) -> Result<LinearShape> {
    Ok(LinearShape {
        batch: dim("batch", batch)?,
        in_features: dim("inFeatures", in_features)?,
        out_features: dim("outFeatures", out_features)?,
    })
}

/// y ← x·Wᵀ + b.
#[napi]
pub fn linear_forward(
    x: Float32ArraySlice,
    w: Float32ArraySlice,
    b: Option<Float32ArraySlice>,
    mut y: Float32ArraySlice,
    batch: f64,
    in_features: f64,
    out_features: f64,
) -> Result<()> {
    let s = linear_shape(batch, in_features, out_features)?;
    let mut v = Views::default();
    let (xv, wv) = (ro(&mut v, "input", &x), ro(&mut v, "weight", &w));
    let bv = b.as_ref().map(|b| ro(&mut v, "bias", b));
    let yv = rw(&mut v, "output", &mut y);
    v.check()?;
    // SAFETY: live typed arrays of this synchronous call; outputs overlap nothing (checked).
    guarded(|| unsafe { nn::linear::linear_forward(s, slice(xv), slice(wv), bv.map(|b| slice(b)), slice_mut(yv)) }.map_err(nn_error))
}

/// Gradients of `linearForward`: dx written; dW, db accumulated; null skips one.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    x: Float32ArraySlice,
    w: Float32ArraySlice,
    dy: Float32ArraySlice,
    mut dx: Option<Float32ArraySlice>,
    mut dw: Option<Float32ArraySlice>,
    mut db: Option<Float32ArraySlice>,
    batch: f64,
    in_features: f64,
    out_features: f64,
) -> Result<()> {
    let s = linear_shape(batch, in_features, out_features)?;
    let mut v = Views::default();
    let (xv, wv, dyv) = (ro(&mut v, "input", &x), ro(&mut v, "weight", &w), ro(&mut v, "output gradient", &dy));
    let grads = grad_views(&mut v, &mut dx, &mut dw, &mut db);
    v.check()?;
    // SAFETY: as in linear_forward.
    guarded(|| {
        unsafe {
            let [dx, dw, db] = grad_slices(grads);
            nn::linear::linear_backward(s, slice(xv), slice(wv), slice(dyv), dx, dw, db)
        }
        .map_err(nn_error)
    })
}

/// y ← conv2d(x, W) + b.
#[napi(js_name = "conv2dForward")]
pub fn conv2d_forward(
    x: Float32ArraySlice,
    w: Float32ArraySlice,
    b: Option<Float32ArraySlice>,
    mut y: Float32ArraySlice,
    geometry: Conv2dGeometry,
) -> Result<()> {
    let s = conv_shape(&geometry)?;
    let mut v = Views::default();
    let (xv, wv) = (ro(&mut v, "input", &x), ro(&mut v, "weight", &w));
    let bv = b.as_ref().map(|b| ro(&mut v, "bias", b));
    let yv = rw(&mut v, "output", &mut y);
    v.check()?;
    // SAFETY: as in linear_forward.
    guarded(|| unsafe { nn::conv2d::conv2d_forward(s, slice(xv), slice(wv), bv.map(|b| slice(b)), slice_mut(yv)) }.map_err(nn_error))
}

/// Gradients of `conv2dForward`: dx written; dW, db accumulated; null skips one.
#[napi(js_name = "conv2dBackward")]
pub fn conv2d_backward(
    x: Float32ArraySlice,
    w: Float32ArraySlice,
    dy: Float32ArraySlice,
    mut dx: Option<Float32ArraySlice>,
    mut dw: Option<Float32ArraySlice>,
    mut db: Option<Float32ArraySlice>,
    geometry: Conv2dGeometry,
) -> Result<()> {
    let s = conv_shape(&geometry)?;
    let mut v = Views::default();
    let (xv, wv, dyv) = (ro(&mut v, "input", &x), ro(&mut v, "weight", &w), ro(&mut v, "output gradient", &dy));
    let grads = grad_views(&mut v, &mut dx, &mut dw, &mut db);
    v.check()?;
    // SAFETY: as in linear_forward.
    guarded(|| {
        unsafe {
            let [dx, dw, db] = grad_slices(grads);
            nn::conv2d::conv2d_backward(s, slice(xv), slice(wv), slice(dyv), dx, dw, db)
        }
        .map_err(nn_error)
    })
}

/// y ← maxpool(relu(conv2d(x, W) + b)), indices ← the pool's argmax of the convolution's
/// output: `conv2dForward` then `maxPool2dForward` with `relu`, without writing the
/// convolution's output.
#[napi(js_name = "conv2dReluMaxPool2dForward")]
pub fn conv2d_relu_max_pool2d_forward(
    x: Float32ArraySlice,
    w: Float32ArraySlice,
    b: Option<Float32ArraySlice>,
    mut y: Float32ArraySlice,
    mut indices: Int32ArraySlice,
    geometry: Conv2dGeometry,
    pool: Pool2dGeometry,
) -> Result<()> {
    let (cs, ps) = (conv_shape(&geometry)?, pool_shape(&pool)?);
    let mut v = Views::default();
    let (xv, wv) = (ro(&mut v, "input", &x), ro(&mut v, "weight", &w));
    let bv = b.as_ref().map(|b| ro(&mut v, "bias", b));
    let yv = rw(&mut v, "output", &mut y);
    let iv = rw_i32(&mut v, "indices", &mut indices);
    v.check()?;
    // SAFETY: as in linear_forward; the indices view is an Int32Array's memory.
    guarded(|| {
        unsafe {
            nn::conv2d::conv2d_relu_maxpool2d_forward(cs, ps, slice(xv), slice(wv), bv.map(|b| slice(b)), slice_mut(yv), slice_mut(iv))
        }
        .map_err(nn_error)
    })
}

/// Gradients of `conv2dReluMaxPool2dForward` from the pooled output's gradient, given that call's
/// indices and output: dx written; dW, db accumulated; null skips one.
#[napi(js_name = "conv2dReluMaxPool2dBackward")]
#[allow(clippy::too_many_arguments)]
pub fn conv2d_relu_max_pool2d_backward(
    x: Float32ArraySlice,
    w: Float32ArraySlice,
    dy: Float32ArraySlice,
    indices: Int32ArraySlice,
    y: Float32ArraySlice,
    mut dx: Option<Float32ArraySlice>,
    mut dw: Option<Float32ArraySlice>,
    mut db: Option<Float32ArraySlice>,
    geometry: Conv2dGeometry,
    pool: Pool2dGeometry,
) -> Result<()> {
    let (cs, ps) = (conv_shape(&geometry)?, pool_shape(&pool)?);
    let mut v = Views::default();
    let (xv, wv, dyv) = (ro(&mut v, "input", &x), ro(&mut v, "weight", &w), ro(&mut v, "output gradient", &dy));
    v.add("indices", indices.as_ptr(), indices.len(), false);
    let yv = ro(&mut v, "output", &y);
    let grads = grad_views(&mut v, &mut dx, &mut dw, &mut db);
    v.check()?;
    // SAFETY: as in linear_forward.
    guarded(|| {
        unsafe {
            let [dx, dw, db] = grad_slices(grads);
            nn::conv2d::conv2d_relu_maxpool2d_backward(cs, ps, slice(xv), slice(wv), slice(dyv), &indices, slice(yv), dx, dw, db)
        }
        .map_err(nn_error)
    })
}

/// y ← maxpool(x), or maxpool(relu(x)) with `relu` (a ReLU fused in front, the same bits);
/// indices ← each window's argmax of x (flat index in its plane).
#[napi(js_name = "maxPool2dForward")]
pub fn max_pool2d_forward(
    x: Float32ArraySlice,
    mut y: Float32ArraySlice,
    mut indices: Int32ArraySlice,
    geometry: Pool2dGeometry,
    relu: Option<bool>,
) -> Result<()> {
    let s = pool_shape(&geometry)?;
    let mut v = Views::default();
    let xv = ro(&mut v, "input", &x);
    let yv = rw(&mut v, "output", &mut y);
    let iv = rw_i32(&mut v, "indices", &mut indices);
    v.check()?;
    // SAFETY: as in linear_forward; the indices view is an Int32Array's memory.
    guarded(|| unsafe { nn::pool::maxpool2d_forward(s, slice(xv), slice_mut(yv), slice_mut(iv), relu.unwrap_or(false)) }.map_err(nn_error))
}

/// dx ← the gradient of `maxPool2dForward` (written). With `reluOutput`, the output of a forward
/// run with `relu`, dy passes only where that output is > 0: the gradient through the ReLU too.
#[napi(js_name = "maxPool2dBackward")]
pub fn max_pool2d_backward(
    dy: Float32ArraySlice,
    indices: Int32ArraySlice,
    mut dx: Float32ArraySlice,
    geometry: Pool2dGeometry,
    relu_output: Option<Float32ArraySlice>,
) -> Result<()> {
    let s = pool_shape(&geometry)?;
    let mut v = Views::default();
    let dyv = ro(&mut v, "output gradient", &dy);
    v.add("indices", indices.as_ptr(), indices.len(), false);
    let yv = relu_output.as_ref().map(|y| ro(&mut v, "reluOutput", y));
    let dxv = rw(&mut v, "input gradient", &mut dx);
    v.check()?;
    // SAFETY: as in linear_forward.
    guarded(|| unsafe { nn::pool::maxpool2d_backward(s, slice(dyv), &indices, yv.map(|y| slice(y)), slice_mut(dxv)) }.map_err(nn_error))
}

/// y ← relu(x); with y omitted, x is updated in place.
#[napi]
pub fn relu_forward(mut x: Float32ArraySlice, y: Option<Float32ArraySlice>) -> Result<()> {
    let mut v = Views::default();
    match y {
        None => {
            let xv = rw(&mut v, "input", &mut x);
            // SAFETY: the only buffer of the call.
            guarded(|| {
                nn::activation::relu_inplace(unsafe { slice_mut(xv) });
                Ok(())
            })
        }
        Some(mut y) => {
            let xv = ro(&mut v, "input", &x);
            let yv = rw(&mut v, "output", &mut y);
            v.check()?;
            // SAFETY: as in linear_forward.
            guarded(|| unsafe { nn::activation::relu_forward(slice(xv), slice_mut(yv)) }.map_err(nn_error))
        }
    }
}

/// dx ← dy·[y > 0]; with dx omitted, dy is updated in place.
#[napi]
pub fn relu_backward(y: Float32ArraySlice, mut dy: Float32ArraySlice, dx: Option<Float32ArraySlice>) -> Result<()> {
    let mut v = Views::default();
    let yv = ro(&mut v, "output", &y);
    match dx {
        None => {
            let dyv = rw(&mut v, "output gradient", &mut dy);
            v.check()?;
            // SAFETY: as in linear_forward.
            guarded(|| unsafe { nn::activation::relu_backward_inplace(slice(yv), slice_mut(dyv)) }.map_err(nn_error))
        }
        Some(mut dx) => {
            let dyv = ro(&mut v, "output gradient", &dy);
            let dxv = rw(&mut v, "input gradient", &mut dx);
            v.check()?;
            // SAFETY: as in linear_forward.
            guarded(|| unsafe { nn::activation::relu_backward(slice(yv), slice(dyv), slice_mut(dxv)) }.map_err(nn_error))
        }
    }
}

/// y ← x·m, mask ← m, m = [u ≥ p]/(1 − p) with u from (seed, index).
#[napi]
pub fn dropout_forward(x: Float32ArraySlice, mut y: Float32ArraySlice, mut mask: Float32ArraySlice, p: f64, seed: f64) -> Result<()> {
    let seed = dim("seed", seed)? as u64;
    let mut v = Views::default();
    let xv = ro(&mut v, "input", &x);
    let yv = rw(&mut v, "output", &mut y);
    let mv = rw(&mut v, "mask", &mut mask);
    v.check()?;
    // SAFETY: as in linear_forward.
    guarded(|| unsafe { nn::activation::dropout_forward(slice(xv), slice_mut(yv), slice_mut(mv), p, seed) }.map_err(nn_error))
}

/// dx ← dy·mask.
#[napi]
pub fn dropout_backward(dy: Float32ArraySlice, mask: Float32ArraySlice, mut dx: Float32ArraySlice) -> Result<()> {
    let mut v = Views::default();
    let dyv = ro(&mut v, "output gradient", &dy);
    let mv = ro(&mut v, "mask", &mask);
    let dxv = rw(&mut v, "input gradient", &mut dx);
    v.check()?;
    // SAFETY: as in linear_forward.
    guarded(|| unsafe { nn::activation::dropout_backward(slice(dyv), slice(mv), slice_mut(dxv)) }.map_err(nn_error))
}

/// `out[i·size + k] ← pixels[indices[i]·size + k] / 255`: a batch of images as floats.
#[napi]
pub fn gather_scaled(pixels: Uint8ArraySlice, indices: Uint32ArraySlice, size: u32, mut out: Float32ArraySlice) -> Result<()> {
    let mut v = Views::default();
    v.add("pixels", pixels.as_ptr(), pixels.len(), false);
    v.add("indices", indices.as_ptr(), indices.len(), false);
    let ov = rw(&mut v, "output", &mut out);
    v.check()?;
    // SAFETY: as in linear_forward (the byte and index arrays are only read).
    guarded(|| unsafe { nn::data::gather_scaled(&pixels, &indices, size as usize, slice_mut(ov)) }.map_err(nn_error))
}

/// The mean cross-entropy of `logits` `[batch, classes]` against `targets`; when `dlogits` is
/// given, also its gradient (written).
#[napi]
pub fn cross_entropy(
    logits: Float32ArraySlice,
    targets: Int32ArraySlice,
    batch: f64,
    classes: f64,
    ignore_index: i32,
    mut dlogits: Option<Float32ArraySlice>,
) -> Result<f64> {
    let (n, c) = (dim("batch", batch)?, dim("classes", classes)?);
    let mut v = Views::default();
    let lv = ro(&mut v, "logits", &logits);
    v.add("targets", targets.as_ptr(), targets.len(), false);
    let dv = dlogits.as_mut().map(|a| rw(&mut v, "logits gradient", a));
    v.check()?;
    // SAFETY: as in linear_forward.
    guarded(|| unsafe { nn::loss::cross_entropy(slice(lv), n, c, &targets, ignore_index, dv.map(|a| slice_mut(a))) }.map_err(nn_error))
}
