//! The N-API surface: converts JS values, maps errors, holds no math.
//!
//! Errors carry a `TypeError: ` or `RangeError: ` prefix that `ts/native.ts` turns into the
//! matching JS error class.

use crate::engine::{self, Buf, Engine, Rule, StepFlags};
use crate::kernels::{adabound::AdaBound, lamb::Lamb, lion::Lion};
use crate::kernels::{adadelta::Adadelta, adagrad::Adagrad, adamax::Adamax, nadam::Nadam, radam::Radam, rmsprop::Rmsprop};
use crate::kernels::{adam::Adam, sgd::Sgd};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::panic::{catch_unwind, AssertUnwindSafe};

mod grads;
mod lookahead;
mod nn;

fn range_error(msg: impl std::fmt::Display) -> Error {
    Error::new(Status::InvalidArg, format!("RangeError: {msg}"))
}

fn engine_error(e: engine::Error) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

/// Runs `f`, turning a panic (always a bug) into a JS error instead of an abort.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let what = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default();
        Err(Error::new(Status::GenericFailure, format!("ferroptim internal error (please report): {what}")))
    })
}

/// The kernels, by the name the TypeScript classes ask for: one line per kernel.
macro_rules! kernels {
    ($($variant:ident($rule:ty) = $name:literal,)*) => {
        enum AnyEngine {
            $($variant(Engine<$rule>),)*
        }

        impl AnyEngine {
            fn new(kind: &str) -> Option<AnyEngine> {
                match kind {
                    $($name => Some(AnyEngine::$variant(Engine::new())),)*
                    _ => None,
                }
            }
        }

        macro_rules! with_engine {
            ($any:expr, $e:ident, $R:ident => $body:expr) => {
                match $any {
                    $(AnyEngine::$variant($e) => {
                        #[allow(dead_code)]
                        type $R = $rule;
                        $body
                    })*
                }
            };
        }
    };
}

kernels! {
    Sgd(Sgd) = "sgd",
    Adam(Adam) = "adam",
    Rmsprop(Rmsprop) = "rmsprop",
    Adagrad(Adagrad) = "adagrad",
    Radam(Radam) = "radam",
    Nadam(Nadam) = "nadam",
    Adamax(Adamax) = "adamax",
    Adadelta(Adadelta) = "adadelta",
    AdaBound(AdaBound) = "adabound",
    Lamb(Lamb) = "lamb",
    Lion(Lion) = "lion",
}

/// `step` flag bits.
const FLAG_SKIP_NONFINITE: u32 = 1;
const FLAG_GRAD_NORMS: u32 = 2;

/// A parameter's state as handed to JS: the step counter and one copy per state buffer.
#[napi(object)]
pub struct NativeParamState {
    pub step: f64,
    pub slots: Vec<Option<Float32Array>>,
    /// The optimizer's per-parameter scalar state besides step (NAdam's `mu_product`), if any.
    pub extra: Option<f64>,
}

/// Native state and step of one optimizer; the TypeScript classes own its hyperparameters.
#[napi]
pub struct NativeOptimizer {
    engine: AnyEngine,
    params: Vec<Buf>,
    grads: Vec<Buf>,
}

#[napi]
impl NativeOptimizer {
    /// `kind` is a kernel name: `sgd` or `adam` (Adam and AdamW).
    #[napi(constructor)]
    pub fn new(kind: String) -> Result<Self> {
        let Some(engine) = AnyEngine::new(&kind) else {
            return Err(range_error(format!("unknown optimizer kernel '{kind}'")));
        };
        Ok(NativeOptimizer { engine, params: Vec::new(), grads: Vec::new() })
    }

    /// Registers parameters by length; returns the id of the first.
    #[napi]
    pub fn add_params(&mut self, lengths: Vec<u32>) -> u32 {
        let lens: Vec<usize> = lengths.iter().map(|&l| l as usize).collect();
        with_engine!(&mut self.engine, e, _R => e.add_params(&lens) as u32)
    }

    /// Names of the state buffers, PyTorch's spelling.
    #[napi]
    pub fn slot_names(&self) -> Vec<String> {
        with_engine!(&self.engine, _e, R => R::SLOTS.iter().map(|s| s.to_string()).collect())
    }

    /// Names of the packed hyperparameters, in order.
    #[napi]
    pub fn hyper_names(&self) -> Vec<String> {
        with_engine!(&self.engine, _e, R => R::HYPER.iter().map(|s| s.to_string()).collect())
    }

    /// Name of the per-parameter scalar state besides step (NAdam: `mu_product`), or null.
    #[napi]
    pub fn extra_name(&self) -> Option<String> {
        with_engine!(&self.engine, _e, R => R::EXTRA.map(str::to_string))
    }

    /// One step over the first `count` entries: `buffers` alternates data and grad of the
    /// parameters `ids`; `hyper` packs each group's hyperparameters; `groupOf[i]` is the group of
    /// `ids[i]` (the arrays may be longer than `count`, so the caller can reuse them). `flags`: 1 = skip the step if a gradient is not finite, 2 = gather Σg² per
    /// parameter into `gradSqSums` (also filled when flag 1 is set). Returns false when skipped.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        count: u32,
        ids: Uint32ArraySlice,
        buffers: Array,
        hyper: Float64ArraySlice,
        group_of: Uint32ArraySlice,
        flags: u32,
        mut grad_sq_sums: Option<Float64ArraySlice>,
    ) -> Result<bool> {
        let n = count as usize;
        let flags = StepFlags { skip_nonfinite: flags & FLAG_SKIP_NONFINITE != 0, grad_norms: flags & FLAG_GRAD_NORMS != 0 };
        if (flags.skip_nonfinite || flags.grad_norms) && grad_sq_sums.as_ref().is_none_or(|s| s.len() < n) {
            return Err(range_error(format!("expected gradSqSums to be a Float64Array of length >= {n}")));
        }
        if ids.len() < n || group_of.len() < n || (buffers.len() as usize) < 2 * n {
            return Err(range_error(format!(
                "expected at least {n} ids and group indices and {} buffers, received {}, {} and {}",
                2 * n,
                ids.len(),
                group_of.len(),
                buffers.len()
            )));
        }
        self.params.clear();
        self.grads.clear();
        for i in 0..2 * n {
            let Some(mut b) = buffers
                .get::<Float32ArraySlice>(i as u32)
                .map_err(|_| Error::new(Status::InvalidArg, format!("TypeError: expected buffer {i} to be a Float32Array")))?
            else {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("TypeError: expected buffer {i} to be a Float32Array, received undefined"),
                ));
            };
            let len = b.len();
            // SAFETY: only the pointer is taken here; the engine checks lengths and overlap
            // before writing, and the JS thread is blocked for the whole call.
            let ptr = unsafe { b.as_mut() }.as_mut_ptr();
            let buf = Buf { ptr, len };
            if i % 2 == 0 {
                self.params.push(buf);
            } else {
                self.grads.push(buf);
            }
        }
        let (ids, group_of) = (&ids[..n], &group_of[..n]);
        let (params, grads) = (&self.params, &self.grads);
        guarded(|| {
            with_engine!(&mut self.engine, e, _R => {
                // SAFETY: the buffers are live JS typed arrays that no other code touches while
                // this synchronous call runs; overlap is rejected by the engine.
                let r = unsafe { e.step(ids, params, grads, &hyper, group_of, flags) }.map_err(engine_error)?;
                if let Some(out) = grad_sq_sums.as_mut() {
                    let sums = e.grad_sq_sums();
                    // SAFETY: a Float64Array the caller does not touch during the call.
                    let out = unsafe { out.as_mut() };
                    out[..sums.len()].copy_from_slice(sums);
                }
                Ok(r.applied)
            })
        })
    }

    /// A copy of a parameter's state, or null when it has none yet.
    #[napi]
    pub fn get_state(&self, id: u32) -> Option<NativeParamState> {
        with_engine!(&self.engine, e, R => {
            let st = e.states.get(id as usize)?;
            if st.step == 0.0 && st.slots.iter().all(Option::is_none) {
                return None;
            }
            Some(NativeParamState {
                step: st.step,
                slots: st.slots[..R::SLOTS.len()].iter().map(|s| s.as_ref().map(|v| Float32Array::new(v.clone()))).collect(),
                extra: R::EXTRA.map(|_| st.extra),
            })
        })
    }

    /// Replaces a parameter's state (buffers are copied); `extra` sets the scalar state besides
    /// step (absent: its initial value).
    #[napi]
    pub fn set_state(&mut self, id: u32, step: f64, slots: Vec<Option<Float32ArraySlice>>, extra: Option<f64>) -> Result<()> {
        let slots: Vec<Option<Vec<f32>>> = slots.iter().map(|s| s.as_ref().map(|s| s.to_vec())).collect();
        with_engine!(&mut self.engine, e, _R => e.set_state_extra(id as usize, step, slots, extra).map_err(engine_error))
    }

    /// Forgets a parameter's state.
    #[napi]
    pub fn clear_state(&mut self, id: u32) {
        with_engine!(&mut self.engine, e, _R => e.clear_state(id as usize))
    }
}

/// Sets the size of the thread pool used by optimizer steps.
#[napi]
pub fn set_num_threads(n: u32) -> Result<()> {
    crate::pool::set_num_threads(n as usize).map_err(range_error)
}

/// The size of the thread pool used by optimizer steps.
#[napi]
pub fn get_num_threads() -> u32 {
    crate::pool::num_threads() as u32
}

/// The SIMD level kernels run at (`avx512`, `avx2` or `baseline`).
#[napi]
pub fn simd_level() -> String {
    crate::simd::level().name().to_string()
}

/// The best SIMD level this CPU supports.
#[napi]
pub fn detected_simd_level() -> String {
    crate::simd::detected().name().to_string()
}
