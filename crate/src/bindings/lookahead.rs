//! Lookahead's slow weights: native buffers per parameter and the sync over all of them.

use super::{engine_error, guarded, range_error};
use crate::engine::Buf;
use crate::kernels::lookahead::SlowWeights;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The slow weights of one `Lookahead`; the TypeScript class owns k, alpha and the counter.
#[napi]
pub struct NativeLookahead {
    slow: SlowWeights,
    bufs: Vec<Buf>,
}

#[napi]
impl NativeLookahead {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        NativeLookahead { slow: SlowWeights::new(), bufs: Vec::new() }
    }

    /// Registers parameters by length; returns the id of the first.
    #[napi]
    pub fn add_params(&mut self, lengths: Vec<u32>) -> u32 {
        let lens: Vec<usize> = lengths.iter().map(|&l| l as usize).collect();
        self.slow.add_params(&lens) as u32
    }

    /// Syncs the parameters `ids`, whose data arrays are `buffers[i]`: θ ← α·θ + (1 − α)·φ, then
    /// φ ← θ; a parameter's slow weights φ start as a copy of θ at its first sync.
    #[napi]
    pub fn sync(&mut self, ids: Uint32ArraySlice, buffers: Array, alpha: f64) -> Result<()> {
        let n = buffers.len() as usize;
        if n != ids.len() {
            return Err(range_error(format!("expected {} buffers (one data array per id), received {n}", ids.len())));
        }
        self.bufs.clear();
        for i in 0..n {
            let Some(mut b) = buffers.get::<Float32ArraySlice>(i as u32).ok().flatten() else {
                return Err(Error::new(Status::InvalidArg, format!("TypeError: expected buffer {i} to be a Float32Array")));
            };
            let len = b.len();
            // SAFETY: only the pointer is taken here; lengths and overlap are checked before any
            // write, and the JS thread is blocked for the whole call.
            let ptr = unsafe { b.as_mut() }.as_mut_ptr();
            self.bufs.push(Buf { ptr, len });
        }
        let (slow, bufs) = (&mut self.slow, &self.bufs);
        // SAFETY: live JS typed arrays that no other code touches during this synchronous call.
        guarded(|| unsafe { slow.sync(&ids, bufs, alpha) }.map_err(engine_error))
    }

    /// A copy of a parameter's slow weights, or null before its first sync.
    #[napi]
    pub fn get_slow(&self, id: u32) -> Option<Float32Array> {
        self.slow.get(id as usize).map(|s| Float32Array::new(s.to_vec()))
    }

    /// Replaces a parameter's slow weights (copied); null forgets them.
    #[napi]
    pub fn set_slow(&mut self, id: u32, slow: Option<Float32ArraySlice>) -> Result<()> {
        self.slow.set(id as usize, slow.map(|s| s.to_vec())).map_err(engine_error)
    }
}
