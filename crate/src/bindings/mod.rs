//! The N-API surface: converts JS values, maps errors, holds no math.
//!
//! Errors carry a `TypeError: ` or `RangeError: ` prefix that `ts/native.ts` turns into the
//! matching JS error class.

use crate::engine::{self, Buf, Engine, Hyper, Rule, Signature, StepFlags};
use crate::kernels as k;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::panic::{catch_unwind, AssertUnwindSafe};

mod adafactor;
mod grads;
mod lookahead;
mod muon;
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

        /// Every kernel's [`Signature`], by name.
        fn signatures() -> Vec<KernelSignature> {
            vec![$(KernelSignature::of::<$rule>($name),)*]
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
    Sgd(k::sgd::Sgd) = "sgd",
    Adam(k::adam::Adam) = "adam",
    Rmsprop(k::rmsprop::Rmsprop) = "rmsprop",
    Adagrad(k::adagrad::Adagrad) = "adagrad",
    Radam(k::radam::Radam) = "radam",
    Nadam(k::nadam::Nadam) = "nadam",
    Adamax(k::adamax::Adamax) = "adamax",
    Adadelta(k::adadelta::Adadelta) = "adadelta",
    AdaBound(k::adabound::AdaBound) = "adabound",
    Lamb(k::lamb::Lamb) = "lamb",
    Lion(k::lion::Lion) = "lion",
    SgdScheduleFree(k::schedule_free::SgdScheduleFree) = "sgdschedulefree",
    AdamWScheduleFree(k::schedule_free::AdamWScheduleFree) = "adamwschedulefree",
    Rprop(k::rprop::Rprop) = "rprop",
    Asgd(k::asgd::Asgd) = "asgd",
    // Low-precision state (`stateDtype`): `<kernel>_<dtype>`.
    AdamBf16(k::lowp::Lowp<k::adam::Adam, k::lowp::Bf16>) = "adam_bfloat16",
    AdamInt8(k::lowp::Lowp<k::adam::Adam, k::lowp::Int8>) = "adam_int8",
    SgdBf16(k::lowp::Lowp<k::sgd::Sgd, k::lowp::Bf16>) = "sgd_bfloat16",
    SgdInt8(k::lowp::Lowp<k::sgd::Sgd, k::lowp::Int8>) = "sgd_int8",
    LionBf16(k::lowp::Lowp<k::lion::Lion, k::lowp::Bf16>) = "lion_bfloat16",
    LionInt8(k::lowp::Lowp<k::lion::Lion, k::lowp::Int8>) = "lion_int8",
}

/// What a kernel declares (its `rule_signature!`): the names of its packed hyperparameters in
/// order, of its state slots, and of its scalar state besides step. The TypeScript descriptors are
/// checked against it.
#[napi(object, use_nullable = true)]
pub struct KernelSignature {
    pub name: String,
    pub hyper: Vec<String>,
    pub slots: Vec<String>,
    pub extra: Option<String>,
}

impl KernelSignature {
    fn of<R: Signature>(name: &str) -> Self {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        KernelSignature { name: name.to_string(), hyper: names(R::HYPER), slots: names(R::SLOTS), extra: R::EXTRA.map(str::to_string) }
    }
}

/// The signature of every kernel `NativeOptimizer` accepts, in the order of its kernel list.
#[napi]
pub fn kernel_signatures() -> Vec<KernelSignature> {
    signatures()
}

/// `step` flag bits.
const FLAG_SKIP_NONFINITE: u32 = 1;
const FLAG_GRAD_NORMS: u32 = 2;

/// What one registered parameter costs in native memory besides its state buffers (which live in
/// JS-owned Float32Arrays): its record and its share of the step scratch. Reported to V8 as
/// external memory so the garbage collector sees it.
pub(crate) const BYTES_PER_PARAM: i64 = 256;

/// Element `i` of `list` as a raw view: a Float32Array is required.
pub(crate) fn typed_buffer(list: &Array, i: u32, what: &str) -> Result<Buf> {
    let Some(mut b) = list
        .get::<Float32ArraySlice>(i)
        .map_err(|_| Error::new(Status::InvalidArg, format!("TypeError: expected {what} {i} to be a Float32Array")))?
    else {
        return Err(Error::new(Status::InvalidArg, format!("TypeError: expected {what} {i} to be a Float32Array, received undefined")));
    };
    let len = b.len();
    // SAFETY: only the pointer is taken here; lengths and overlap are checked before any write,
    // and the JS thread is blocked for the whole call.
    let ptr = unsafe { b.as_mut() }.as_mut_ptr();
    Ok(Buf { ptr, len })
}

/// Slot `s` of parameter `id` (of `len` f32 words, [`Rule::slot_words`]), where the step's
/// `slotWhere` table puts it in `arenas` (see `NativeOptimizer::step`); `None` when the parameter
/// does not have it. The caller has checked that the table covers `id`.
fn slot_buf(arenas: &[Buf], slot_where: &[i32], ns: usize, id: u32, s: usize, len: usize) -> Result<Option<Buf>> {
    let k = 2 * (ns * id as usize + s);
    let (at, offset) = (slot_where[k], slot_where[k + 1]);
    if at < 0 {
        return Ok(None);
    }
    let arena = arenas.get(at as usize).filter(|a| offset >= 0 && offset as usize + len <= a.len);
    let Some(arena) = arena else {
        return Err(range_error(format!(
            "slot {s} of parameter {id} is at arena {at}, offset {offset}, outside the {} arenas given",
            arenas.len()
        )));
    };
    // SAFETY: offset + len <= the arena's length, checked above.
    Ok(Some(Buf { ptr: unsafe { arena.ptr.add(offset as usize) }, len }))
}

/// Checks that the `slotWhere` table covers `ns` slots of each of `params` registered parameters
/// (two entries per slot, see `NativeOptimizer::step`).
fn check_slot_where(slot_where: &[i32], ns: usize, params: usize) -> Result<()> {
    if slot_where.len() < 2 * ns * params {
        return Err(range_error(format!("expected slotWhere to have length >= {}, received {}", 2 * ns * params, slot_where.len())));
    }
    Ok(())
}

/// The bytes one binding object reported to V8 with `adjust_external_memory` (so the garbage
/// collector sees native memory it would otherwise not count); given back on dispose or finalize.
#[derive(Default)]
pub(crate) struct ExternalMemory(i64);

impl ExternalMemory {
    /// Reports `bytes` more.
    pub(crate) fn add(&mut self, env: &Env, bytes: i64) -> Result<()> {
        env.adjust_external_memory(bytes)?;
        self.0 += bytes;
        Ok(())
    }

    /// Gives back everything reported.
    pub(crate) fn release(&mut self, env: &Env) -> Result<()> {
        env.adjust_external_memory(-self.0)?;
        self.0 = 0;
        Ok(())
    }
}

pub(crate) fn disposed_error(what: &str) -> Error {
    Error::new(Status::GenericFailure, format!("this {what} was disposed"))
}

/// Native step counters and kernel of one optimizer; the TypeScript classes own its
/// hyperparameters and its state buffers (V8-owned Float32Arrays passed to every step, so the
/// garbage collector frees them with the optimizer, without waiting for a native finalizer).
#[napi(custom_finalize)]
pub struct NativeOptimizer {
    engine: Option<AnyEngine>,
    params: Vec<Buf>,
    grads: Vec<Buf>,
    arenas: Vec<Buf>,
    slots: Vec<Option<Buf>>,
    /// Zeros: the fresh masks of a step that creates no state.
    no_fresh: Vec<u32>,
    external: ExternalMemory,
}

impl ObjectFinalize for NativeOptimizer {
    fn finalize(mut self, env: Env) -> Result<()> {
        self.external.release(&env)
    }
}

impl NativeOptimizer {
    fn engine(&mut self) -> Result<&mut AnyEngine> {
        self.engine.as_mut().ok_or_else(|| disposed_error("optimizer"))
    }
}

#[napi]
impl NativeOptimizer {
    /// `kind` is a kernel name: `sgd` or `adam` (Adam and AdamW).
    #[napi(constructor)]
    pub fn new(kind: String) -> Result<Self> {
        let Some(engine) = AnyEngine::new(&kind) else {
            return Err(range_error(format!("unknown optimizer kernel '{kind}'")));
        };
        Ok(NativeOptimizer {
            engine: Some(engine),
            params: Vec::new(),
            grads: Vec::new(),
            arenas: Vec::new(),
            slots: Vec::new(),
            no_fresh: Vec::new(),
            external: ExternalMemory::default(),
        })
    }

    /// Registers parameters by length; returns the id of the first.
    #[napi]
    pub fn add_params(&mut self, env: Env, lengths: Vec<u32>) -> Result<u32> {
        let lens: Vec<usize> = lengths.iter().map(|&l| l as usize).collect();
        let first = with_engine!(self.engine()?, e, _R => e.add_params(&lens) as u32);
        self.external.add(&env, BYTES_PER_PARAM * lens.len() as i64)?;
        Ok(first)
    }

    /// Frees the native memory now; every later call throws.
    #[napi]
    pub fn dispose(&mut self, env: Env) -> Result<()> {
        self.engine = None;
        self.params = Vec::new();
        self.grads = Vec::new();
        self.arenas = Vec::new();
        self.slots = Vec::new();
        self.no_fresh = Vec::new();
        self.external.release(&env)
    }

    /// Names of the state buffers, PyTorch's spelling.
    #[napi]
    pub fn slot_names(&mut self) -> Result<Vec<String>> {
        Ok(with_engine!(self.engine()?, _e, R => R::SLOTS.iter().map(|s| s.to_string()).collect()))
    }

    /// Names of the packed hyperparameters, in order.
    #[napi]
    pub fn hyper_names(&mut self) -> Result<Vec<String>> {
        Ok(with_engine!(self.engine()?, _e, R => R::HYPER.iter().map(|s| s.to_string()).collect()))
    }

    /// Name of the per-parameter scalar state besides step (NAdam: `mu_product`), or null.
    #[napi]
    pub fn extra_name(&mut self) -> Result<Option<String>> {
        Ok(with_engine!(self.engine()?, _e, R => R::EXTRA.map(str::to_string)))
    }

    /// The state slots a group with the packed hyperparameters `hyper` needs, as a bit mask,
    /// followed by each slot's initial value.
    #[napi]
    pub fn slot_plan(&mut self, hyper: Float64ArraySlice) -> Result<Vec<f64>> {
        with_engine!(self.engine()?, _e, R => {
            if hyper.len() != R::HYPER.len() {
                return Err(range_error(format!("expected {} hyperparameters, received {}", R::HYPER.len(), hyper.len())));
            }
            let h = <R as Signature>::Hyper::parse(&hyper);
            let mut out = vec![R::slots_needed(&h) as f64];
            out.extend((0..R::SLOTS.len()).map(|s| R::slot_init(&h, s) as f64));
            Ok(out)
        })
    }

    /// One step over the first `count` entries of `ids`, `groupOf` and `fresh` (the arrays may
    /// be longer, so the caller can reuse them). `buffers` alternates data and grad of the
    /// parameters `ids`; `hyper` packs each group's hyperparameters; `groupOf[i]` is the group of
    /// `ids[i]`. The state lives in a few large Float32Arrays, `arenas`: for registered parameter
    /// `id` and slot `s`, `slotWhere[2 * (id * slots + s)]` is the index of the arena holding it
    /// (-1: none) and the next entry its offset there. Bit s of `fresh[i]` says slot s of `ids[i]`
    /// was just created (filled with its initial value) for this step; null when none was (the
    /// usual step, which so skips converting the array). `flags`: 1 = skip the step if a gradient
    /// is not finite, 2 = gather Σg² per parameter into `gradSqSums` (also filled when flag 1 is
    /// set). Returns false when skipped.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        count: u32,
        ids: Uint32ArraySlice,
        buffers: Array,
        hyper: Float64ArraySlice,
        group_of: Uint32ArraySlice,
        arenas: Array,
        slot_where: Int32ArraySlice,
        fresh: Option<Uint32ArraySlice>,
        flags: u32,
        mut grad_sq_sums: Option<Float64ArraySlice>,
    ) -> Result<bool> {
        let n = count as usize;
        let flags = StepFlags { skip_nonfinite: flags & FLAG_SKIP_NONFINITE != 0, grad_norms: flags & FLAG_GRAD_NORMS != 0 };
        if (flags.skip_nonfinite || flags.grad_norms) && grad_sq_sums.as_ref().is_none_or(|s| s.len() < n) {
            return Err(range_error(format!("expected gradSqSums to be a Float64Array of length >= {n}")));
        }
        let fresh_len = fresh.as_ref().map_or(n, |f| f.len());
        if ids.len() < n || group_of.len() < n || fresh_len < n || (buffers.len() as usize) < 2 * n {
            return Err(range_error(format!(
                "expected at least {n} ids, group indices and fresh masks and {} buffers, received {}, {}, {fresh_len} and {}",
                2 * n,
                ids.len(),
                group_of.len(),
                buffers.len()
            )));
        }
        let engine = self.engine.as_mut().ok_or_else(|| disposed_error("optimizer"))?;
        let (ns, words, states) = with_engine!(&*engine, e, R => (R::SLOTS.len(), R::slot_words as fn(usize) -> usize, &e.states));
        check_slot_where(&slot_where, ns, states.len())?;
        self.params.clear();
        self.grads.clear();
        self.arenas.clear();
        self.slots.clear();
        for i in 0..n as u32 {
            self.params.push(typed_buffer(&buffers, 2 * i, "buffer")?);
            self.grads.push(typed_buffer(&buffers, 2 * i + 1, "buffer")?);
        }
        for a in 0..arenas.len() {
            self.arenas.push(typed_buffer(&arenas, a, "arena")?);
        }
        if fresh.is_none() && self.no_fresh.len() < n {
            self.no_fresh.resize(n, 0);
        }
        let fresh = fresh.as_deref().unwrap_or(&self.no_fresh);
        let (ids, group_of, fresh) = (&ids[..n], &group_of[..n], &fresh[..n]);
        for &id in ids {
            let Some(st) = states.get(id as usize) else {
                // The engine rejects the unknown id before it reads any slot.
                self.slots.extend(std::iter::repeat_n(None, ns));
                continue;
            };
            for s in 0..ns {
                self.slots.push(slot_buf(&self.arenas, &slot_where, ns, id, s, words(st.len))?);
            }
        }
        let (params, grads, slots) = (&self.params, &self.grads, &self.slots);
        guarded(|| {
            with_engine!(engine, e, _R => {
                // SAFETY: the buffers are live JS typed arrays that no other code touches while
                // this synchronous call runs; lengths and overlap are checked by the engine.
                let r = unsafe { e.step_with(ids, params, grads, slots, fresh, &hyper, group_of, flags) }.map_err(engine_error)?;
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

    /// Moves the parameters `ids` toward their state slot `slot`: θ ← lerp(θ, s, `weights[i]`) for
    /// `ids[i]`, as ATen's `lerp_` with a scalar weight (Schedule-Free's `train()` and `eval()`), in
    /// one parallel region. `buffers` holds each one's data; `arenas` and `slotWhere` locate the
    /// slots as in `step`, and every parameter must have the slot. Everything is checked before
    /// anything is written.
    #[napi]
    pub fn lerp_to_slot(
        &mut self,
        ids: Uint32ArraySlice,
        buffers: Array,
        arenas: Array,
        slot_where: Int32ArraySlice,
        slot: u32,
        weights: Float64ArraySlice,
    ) -> Result<()> {
        let engine = self.engine.as_mut().ok_or_else(|| disposed_error("optimizer"))?;
        let n = ids.len();
        let (ns, words, states) = with_engine!(&*engine, e, R => (R::SLOTS.len(), R::slot_words as fn(usize) -> usize, &e.states));
        if buffers.len() as usize != n || weights.len() != n {
            return Err(range_error(format!(
                "expected {n} buffers and {n} weights (one per id), received {} and {}",
                buffers.len(),
                weights.len()
            )));
        }
        if slot as usize >= ns {
            return Err(range_error(format!("expected a slot below {ns}, received {slot}")));
        }
        check_slot_where(&slot_where, ns, states.len())?;
        self.params.clear();
        self.arenas.clear();
        self.slots.clear();
        for i in 0..n as u32 {
            self.params.push(typed_buffer(&buffers, i, "buffer")?);
        }
        for a in 0..arenas.len() {
            self.arenas.push(typed_buffer(&arenas, a, "arena")?);
        }
        for &id in ids.iter() {
            let Some(st) = states.get(id as usize) else {
                return Err(range_error(format!("expected a parameter id below {}, received {id}", states.len())));
            };
            if words(st.len) != st.len {
                return Err(range_error(format!("parameter {id}'s state slot {slot} is not float32")));
            }
            let Some(b) = slot_buf(&self.arenas, &slot_where, ns, id, slot as usize, st.len)? else {
                return Err(range_error(format!("parameter {id} has no state slot {slot}")));
            };
            self.slots.push(Some(b));
        }
        let targets: Vec<Buf> = self.slots.iter().flatten().copied().collect();
        let lens: Vec<usize> = states.iter().map(|s| s.len).collect();
        let params = &self.params;
        // SAFETY: live JS typed arrays that no other code touches during this synchronous call;
        // lengths and overlap are checked by `interpolate` before any write.
        guarded(|| {
            unsafe { k::schedule_free::interpolate(&ids, params, &targets, &weights, |id| lens.get(id as usize).copied()) }
                .map_err(engine_error)
        })
    }

    /// Writes each registered parameter's step counter and scalar state besides step (NaN when the
    /// optimizer has none) into `out`, as [step0, extra0, step1, extra1, ...].
    #[napi]
    pub fn read_counters(&mut self, mut out: Float64ArraySlice) -> Result<()> {
        with_engine!(self.engine()?, e, R => {
            if out.len() < 2 * e.states.len() {
                return Err(range_error(format!("expected an output of length >= {}, received {}", 2 * e.states.len(), out.len())));
            }
            // SAFETY: a Float64Array the caller does not touch during the call.
            let out = unsafe { out.as_mut() };
            for (i, st) in e.states.iter().enumerate() {
                out[2 * i] = st.step;
                out[2 * i + 1] = if R::EXTRA.is_some() { st.extra } else { f64::NAN };
            }
            Ok(())
        })
    }

    /// Sets a parameter's step counter and scalar state besides step (absent: its initial value).
    #[napi]
    pub fn set_counters(&mut self, id: u32, step: f64, extra: Option<f64>) -> Result<()> {
        with_engine!(self.engine()?, e, _R => e.set_state_extra(id as usize, step, Vec::new(), extra).map_err(engine_error))
    }

    /// Resets a parameter's counters, as if it had never been stepped.
    #[napi]
    pub fn clear_state(&mut self, id: u32) -> Result<()> {
        with_engine!(self.engine()?, e, _R => e.clear_state(id as usize));
        Ok(())
    }
}

/// Sets the size of the process-wide thread pool used by optimizer steps and the nn kernels; a
/// pool of that size already in place is kept.
#[napi]
pub fn set_num_threads(n: u32) -> Result<()> {
    crate::pool::set_num_threads(n as usize).map_err(range_error)
}

/// The largest thread count `setNumThreads` accepts on this machine.
#[napi]
pub fn max_num_threads() -> u32 {
    crate::pool::max_threads() as u32
}

/// Descriptions of the `FERROPTIM_*` environment variables that are set to unusable values (and
/// so ignored): on the first call in the process only, so each is reported once.
#[napi]
pub fn take_env_warnings() -> Vec<String> {
    crate::config::take_warnings()
}

/// The size of the thread pool used by optimizer steps.
#[napi]
pub fn get_num_threads() -> u32 {
    crate::pool::num_threads() as u32
}

/// Asks for transparent huge pages behind a newly created state arena, before anything is written
/// to it (see `engine::advise_huge_pages`); true when the advice was taken. Only a hint: the
/// contents are never changed.
#[napi]
pub fn advise_huge_pages(arena: Float32ArraySlice) -> bool {
    engine::advise_huge_pages(arena.as_ptr().cast(), 4 * arena.len())
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
