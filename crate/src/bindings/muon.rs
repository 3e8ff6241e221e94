//! Muon's step over all parameters; parameters, gradients and momentum buffers are JS-owned
//! Float32Arrays, the group options come from the TypeScript class.

use super::{disposed_error, engine_error, guarded, range_error, typed_buffer, ExternalMemory};
use crate::kernels::muon::{self, MuonScratch, MuonTensor, HYPER};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Buffers per parameter: data, grad, momentum buffer.
const BUFFERS: u32 = 3;

/// The Newton–Schulz scratch of one `Muon`, kept between steps (sized for its largest parameter).
#[napi(custom_finalize)]
pub struct NativeMuon {
    scratch: Option<MuonScratch>,
    tensors: Vec<MuonTensor>,
    external: ExternalMemory,
    reported: usize,
}

impl ObjectFinalize for NativeMuon {
    fn finalize(mut self, env: Env) -> Result<()> {
        self.external.release(&env)
    }
}

#[napi]
impl NativeMuon {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        NativeMuon { scratch: Some(MuonScratch::new()), tensors: Vec::new(), external: ExternalMemory::default(), reported: 0 }
    }

    /// The per-group values `step` expects in `hyper`, in order.
    #[napi]
    pub fn hyper_names(&self) -> Vec<String> {
        HYPER.iter().map(|s| s.to_string()).collect()
    }

    /// Frees the scratch now; every later step throws.
    #[napi]
    pub fn dispose(&mut self, env: Env) -> Result<()> {
        self.scratch = None;
        self.tensors = Vec::new();
        self.external.release(&env)
    }

    /// One step of `n` parameters: `buffers` holds 3 per parameter (data, grad, momentum
    /// buffer), `shapes` 2 (rows, cols), `groupOf` each one's group and `hyper` the values of
    /// `hyperNames()` per group. Shapes, lengths, options and overlap are checked before anything
    /// is written.
    #[napi]
    pub fn step(
        &mut self,
        env: Env,
        buffers: Array,
        shapes: Uint32ArraySlice,
        group_of: Uint32ArraySlice,
        hyper: Float64ArraySlice,
    ) -> Result<()> {
        let scratch = self.scratch.as_mut().ok_or_else(|| disposed_error("Muon"))?;
        let n = group_of.len();
        if shapes.len() != 2 * n || buffers.len() != BUFFERS * n as u32 {
            return Err(range_error(format!(
                "expected {BUFFERS} buffers and 2 dimensions per parameter ({n} group indices), received {} and {}",
                buffers.len(),
                shapes.len()
            )));
        }
        self.tensors.clear();
        for i in 0..n {
            let b = |k: u32| typed_buffer(&buffers, BUFFERS * i as u32 + k, "buffer");
            self.tensors.push(MuonTensor {
                data: b(0)?,
                grad: b(1)?,
                momentum: b(2)?,
                rows: shapes[2 * i] as usize,
                cols: shapes[2 * i + 1] as usize,
                group: group_of[i] as usize,
            });
        }
        let tensors = &self.tensors;
        // SAFETY: live JS typed arrays that no other code touches during this synchronous call;
        // `muon_step` checks lengths and overlap before any write.
        let result = guarded(|| unsafe { muon::muon_step(scratch, tensors, &hyper) }.map_err(engine_error));
        // The scratch only grows: report what it holds beyond what was reported.
        let bytes = scratch.bytes() + self.tensors.capacity() * std::mem::size_of::<MuonTensor>();
        if bytes > self.reported {
            self.external.add(&env, (bytes - self.reported) as i64)?;
            self.reported = bytes;
        }
        result
    }
}
