//! Lookahead's sync over all parameters; the slow weights are JS-owned Float32Arrays.

use super::{disposed_error, engine_error, guarded, range_error, typed_buffer, ExternalMemory, BYTES_PER_PARAM};
use crate::engine::Buf;
use crate::kernels::lookahead::SlowWeights;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The registered parameters of one `Lookahead`; the TypeScript class owns k, alpha, the
/// counter and the slow weights (V8-owned Float32Arrays passed to every sync).
#[napi(custom_finalize)]
pub struct NativeLookahead {
    slow: Option<SlowWeights>,
    fast_bufs: Vec<Buf>,
    slow_bufs: Vec<Buf>,
    fresh: Vec<bool>,
    external: ExternalMemory,
}

impl ObjectFinalize for NativeLookahead {
    fn finalize(mut self, env: Env) -> Result<()> {
        self.external.release(&env)
    }
}

#[napi]
impl NativeLookahead {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        NativeLookahead {
            slow: Some(SlowWeights::new()),
            fast_bufs: Vec::new(),
            slow_bufs: Vec::new(),
            fresh: Vec::new(),
            external: ExternalMemory::default(),
        }
    }

    /// Registers parameters by length; returns the id of the first.
    #[napi]
    pub fn add_params(&mut self, env: Env, lengths: Vec<u32>) -> Result<u32> {
        let slow = self.slow.as_mut().ok_or_else(|| disposed_error("Lookahead"))?;
        let lens: Vec<usize> = lengths.iter().map(|&l| l as usize).collect();
        let first = slow.add_params(&lens) as u32;
        self.external.add(&env, BYTES_PER_PARAM * lens.len() as i64)?;
        Ok(first)
    }

    /// Frees the native memory now; every later call throws.
    #[napi]
    pub fn dispose(&mut self, env: Env) -> Result<()> {
        self.slow = None;
        self.fast_bufs = Vec::new();
        self.slow_bufs = Vec::new();
        self.fresh = Vec::new();
        self.external.release(&env)
    }

    /// Syncs the parameters `ids`: `buffers` holds each one's data θ then its slow weights φ;
    /// θ ← α·θ + (1 − α)·φ, then φ ← θ. `fresh[i]` = 1 when φ was just created, so this sync
    /// starts it as a copy of θ.
    #[napi]
    pub fn sync(&mut self, ids: Uint32ArraySlice, buffers: Array, fresh: Uint8ArraySlice, alpha: f64) -> Result<()> {
        let slow = self.slow.as_mut().ok_or_else(|| disposed_error("Lookahead"))?;
        let n = ids.len();
        if buffers.len() as usize != 2 * n || fresh.len() != n {
            return Err(range_error(format!(
                "expected {} buffers (data and slow weights per id) and {n} fresh flags, received {} and {}",
                2 * n,
                buffers.len(),
                fresh.len()
            )));
        }
        self.fast_bufs.clear();
        self.slow_bufs.clear();
        self.fresh.clear();
        for i in 0..n as u32 {
            self.fast_bufs.push(typed_buffer(&buffers, 2 * i, "buffer")?);
            self.slow_bufs.push(typed_buffer(&buffers, 2 * i + 1, "buffer")?);
        }
        self.fresh.extend(fresh.iter().map(|&f| f != 0));
        let (fast, slow_bufs, fresh) = (&self.fast_bufs, &self.slow_bufs, &self.fresh);
        // SAFETY: live JS typed arrays that no other code touches during this synchronous call.
        guarded(|| unsafe { slow.sync_with(&ids, fast, slow_bufs, fresh, alpha) }.map_err(engine_error))
    }
}
