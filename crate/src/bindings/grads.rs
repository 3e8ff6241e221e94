//! Gradient norms and clipping over many gradients in one call.

use super::range_error;
use crate::driver;
use crate::engine::{first_overlap, TensorPtrs, MAX_SLOTS};
use crate::kernels::clip::{self, NormType};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The gradients of one call, in the driver's chunks.
struct Grads {
    tensors: Vec<TensorPtrs>,
    layout: driver::Layout,
}

fn collect(grads: &Array, writable: bool) -> Result<Grads> {
    let n = grads.len();
    let mut tensors = Vec::with_capacity(n as usize);
    let mut layout = driver::Layout::new();
    let mut spans = Vec::new();
    for i in 0..n {
        let Some(mut b) = grads.get::<Float32ArraySlice>(i).ok().flatten() else {
            return Err(Error::new(Status::InvalidArg, format!("TypeError: expected gradient {i} to be a Float32Array")));
        };
        let len = b.len();
        // SAFETY: only the pointer is taken; ranges are checked below before any write.
        let ptr = unsafe { b.as_mut() }.as_mut_ptr();
        if len > 0 {
            spans.push((ptr as usize, ptr as usize + 4 * len, i as usize));
        }
        tensors.push(TensorPtrs { param: ptr, grad: ptr, slots: [std::ptr::null_mut(); MAX_SLOTS], len });
        layout.push(len);
    }
    if writable {
        if let Some((a, b)) = first_overlap(&spans) {
            return Err(range_error(format!("gradients {a} and {b} view overlapping memory; each gradient needs its own buffer")));
        }
    }
    Ok(Grads { tensors, layout })
}

/// Per-tensor norms into `out` (if given) and the total norm.
fn norms(g: &Grads, p: NormType, out: Option<&mut Float64ArraySlice>) -> Result<f64> {
    let (mut partials, mut sums) = (Vec::new(), Vec::new());
    let tensors = &g.tensors;
    // SAFETY: read-only views within each gradient's length.
    driver::for_each_piece_reduce::<1, _>(&g.layout, &mut partials, &mut sums, |t, a, b| {
        [clip::piece_partial(unsafe { tensors[t].grad(a, b) }, p)]
    });
    // Chunk partials add up, except for the ∞-norm, whose chunk maxima combine by max.
    let per: Vec<f64> = match p {
        NormType::Inf => (0..g.tensors.len())
            .map(|t| clip::total_norm(&partials[g.layout.chunks_of(t)].iter().map(|x| x[0]).collect::<Vec<_>>(), p))
            .collect(),
        _ => sums.iter().map(|s| clip::finish_norm(s[0], p)).collect(),
    };
    if let Some(out) = out {
        if out.len() < per.len() {
            return Err(range_error(format!("expected the norms output to have length >= {}, received {}", per.len(), out.len())));
        }
        // SAFETY: a Float64Array the caller does not touch during the call.
        let out = unsafe { out.as_mut() };
        out[..per.len()].copy_from_slice(&per);
    }
    Ok(clip::total_norm(&per, p))
}

fn norm_type(p: f64) -> Result<NormType> {
    if p > 0.0 && !p.is_nan() {
        Ok(NormType::from_f64(p))
    } else {
        Err(range_error(format!("expected normType to be a number > 0 or Infinity, received {p}")))
    }
}

/// The total p-norm of all gradients (the norm of their norms), with each gradient's norm
/// written to `out` when given.
#[napi]
pub fn grad_norms(grads: Array, norm_type_p: f64, mut out: Option<Float64ArraySlice>) -> Result<f64> {
    let p = norm_type(norm_type_p)?;
    let g = collect(&grads, false)?;
    norms(&g, p, out.as_mut())
}

/// PyTorch's `clip_grad_norm_` in one call: the total norm, then g ← g·min(maxNorm/(total+1e-6), 1)
/// when that coefficient is below 1 (or NaN). With `errorIfNonfinite`, a NaN or infinite total
/// throws before any gradient changes. Returns the total norm before clipping.
#[napi]
pub fn clip_grad_norm(
    grads: Array,
    max_norm: f64,
    norm_type_p: f64,
    error_if_nonfinite: bool,
    mut out: Option<Float64ArraySlice>,
) -> Result<f64> {
    let p = norm_type(norm_type_p)?;
    let g = collect(&grads, true)?;
    let total = norms(&g, p, out.as_mut())?;
    if error_if_nonfinite && !total.is_finite() {
        return Err(range_error(format!(
            "the total norm of order {norm_type_p} of the gradients is {total}, so they cannot be clipped; set errorIfNonfinite to false to clip anyway"
        )));
    }
    let coef = clip::clip_coef(max_norm, total);
    if coef < 1.0 || coef.is_nan() {
        let tensors = &g.tensors;
        // SAFETY: disjoint gradients (checked), disjoint pieces (driver).
        driver::for_each_piece(&g.layout, |t, a, b| unsafe { clip::scale(&tensors[t], a, b, coef) });
    }
    Ok(total)
}

/// Clamps every gradient element to [−clipValue, clipValue] in place.
#[napi]
pub fn clip_grad_value(grads: Array, clip_value: f64) -> Result<()> {
    let g = collect(&grads, true)?;
    let c = clip_value as f32;
    let tensors = &g.tensors;
    // SAFETY: as in clip_grad_norm.
    driver::for_each_piece(&g.layout, |t, a, b| unsafe { clip::clamp(&tensors[t], a, b, c) });
    Ok(())
}
