//! Adafactor's step over all parameters; parameters, gradients and state are JS-owned
//! Float32Arrays, the per-step scalars come from the TypeScript class.

use super::{disposed_error, engine_error, guarded, range_error, typed_buffer, ExternalMemory};
use crate::engine::{first_overlap, Buf};
use crate::kernels::adafactor::{self, Scratch, Shape, Tensor, TensorHyper, HYPER};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Buffers per parameter: data, grad, rowVar (or variance), colVar (or an empty array).
const BUFFERS: usize = 4;
/// Dimensions per parameter: factored (0 or 1), batch, rows, cols.
const DIMS: usize = 4;

/// The scratch of one `Adafactor`: tiles and partial sums, reused by every step.
#[napi(custom_finalize)]
pub struct NativeAdafactor {
    scratch: Option<Scratch>,
    bufs: Vec<Buf>,
    external: ExternalMemory,
    reported: usize,
}

impl ObjectFinalize for NativeAdafactor {
    fn finalize(mut self, env: Env) -> Result<()> {
        self.external.release(&env)
    }
}

/// A slice of a checked buffer (`&mut []` for an empty one, whose pointer may be null).
///
/// # Safety
/// `b` views live memory of `b.len` floats that nothing else references during the call.
unsafe fn slice_mut<'a>(b: Buf) -> &'a mut [f32] {
    if b.len == 0 {
        &mut []
    } else {
        std::slice::from_raw_parts_mut(b.ptr, b.len)
    }
}

#[napi]
impl NativeAdafactor {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        NativeAdafactor { scratch: Some(Scratch::default()), bufs: Vec::new(), external: ExternalMemory::default(), reported: 0 }
    }

    /// The per-parameter scalars `step` expects in `hyper`, in order.
    #[napi]
    pub fn hyper_names(&self) -> Vec<String> {
        HYPER.iter().map(|s| s.to_string()).collect()
    }

    /// Frees the scratch now; every later step throws.
    #[napi]
    pub fn dispose(&mut self, env: Env) -> Result<()> {
        self.scratch = None;
        self.bufs = Vec::new();
        self.external.release(&env)
    }

    /// One step of `n` parameters: `buffers` holds 4 per parameter (data, grad, rowVar or
    /// variance, colVar or an empty array), `dims` 4 (factored 0/1, batch, rows, cols; a vector
    /// is 0, 1, 1, n) and `hyper` the values of `hyperNames()`. Lengths, shapes, scalars and
    /// overlap are checked before anything is written.
    #[napi]
    pub fn step(&mut self, env: Env, buffers: Array, dims: Uint32ArraySlice, hyper: Float64ArraySlice) -> Result<()> {
        let scratch = self.scratch.as_mut().ok_or_else(|| disposed_error("Adafactor"))?;
        let n = dims.len() / DIMS;
        if dims.len() != n * DIMS || buffers.len() as usize != n * BUFFERS || hyper.len() != n * HYPER.len() {
            return Err(range_error(format!(
                "expected {DIMS} dims, {BUFFERS} buffers and {} scalars per parameter, received {}, {} and {}",
                HYPER.len(),
                dims.len(),
                buffers.len(),
                hyper.len()
            )));
        }
        self.bufs.clear();
        let mut spans = Vec::with_capacity(n * BUFFERS);
        for i in 0..(n * BUFFERS) as u32 {
            let b = typed_buffer(&buffers, i, "buffer")?;
            if b.len > 0 {
                spans.push((b.ptr as usize, b.ptr as usize + 4 * b.len, i as usize));
            }
            self.bufs.push(b);
        }
        if let Some((a, b)) = first_overlap(&spans) {
            const WHAT: [&str; BUFFERS] = ["data", "grad", "rowVar/variance", "colVar"];
            return Err(range_error(format!(
                "{} of parameter {} and {} of parameter {} view overlapping memory; each needs its own buffer",
                WHAT[a % BUFFERS],
                a / BUFFERS,
                WHAT[b % BUFFERS],
                b / BUFFERS
            )));
        }
        let bufs = &self.bufs;
        let result = guarded(|| {
            let mut tensors: Vec<Tensor<'_>> = (0..n)
                .map(|i| {
                    let d = &dims[i * DIMS..(i + 1) * DIMS];
                    let b = &bufs[i * BUFFERS..(i + 1) * BUFFERS];
                    // SAFETY: live JS typed arrays, pairwise disjoint (checked above), that no other
                    // code touches during this synchronous call; lengths are checked by the kernel
                    // before any write.
                    unsafe {
                        Tensor {
                            param: slice_mut(b[0]),
                            grad: slice_mut(b[1]),
                            row_var: slice_mut(b[2]),
                            col_var: slice_mut(b[3]),
                            shape: Shape { factored: d[0] != 0, batch: d[1] as usize, rows: d[2] as usize, cols: d[3] as usize },
                            hyper: TensorHyper::parse(&hyper[i * HYPER.len()..(i + 1) * HYPER.len()]),
                        }
                    }
                })
                .collect();
            adafactor::step(&mut tensors, scratch).map_err(engine_error)
        });
        // The scratch only grows: report what it holds beyond what was reported.
        let bytes = scratch.bytes() + self.bufs.capacity() * std::mem::size_of::<Buf>();
        if bytes > self.reported {
            self.external.add(&env, (bytes - self.reported) as i64)?;
            self.reported = bytes;
        }
        result
    }
}
