//! Optimizer state and the step orchestration shared by every kernel.
//!
//! An [`Engine`] owns the per-parameter state of one optimizer. A step receives the caller's
//! buffers for the parameters that have a gradient this step, checks them (ids, lengths, overlap)
//! before anything is written, updates the per-parameter step counters, computes each tensor's
//! scalars once in f64, and runs the kernel over all tensors in one parallel region.

use crate::driver;
use crate::simd::{combine_lanes, SqLanes, A64, LANES};
use std::marker::PhantomData;

/// Most state buffers a parameter can have (RMSprop centered with momentum has three).
pub const MAX_SLOTS: usize = 4;

/// Smallest state buffer [`advise_huge_pages`] acts on: a smaller one holds at most one whole
/// huge page.
pub const HUGE_PAGES_MIN_BYTES: usize = 4 << 20;
/// The size of a transparent huge page on x86-64 (and of the usual aarch64 configuration).
const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back the whole 2 MiB pages inside `bytes` bytes at `ptr` with transparent
/// huge pages (`madvise(MADV_HUGEPAGE)`), for a large state buffer just allocated, before anything
/// touches it: the pages it has not faulted in yet then come as 2 MiB pages. Linux's default THP
/// mode, `madvise`, gives huge pages only to memory that asks, and neither V8 nor glibc asks for
/// an ArrayBuffer's. With 4 KiB pages the first AdamW step over 16M parameters took ~65,500 page
/// faults (a read fault mapping the zero page, then a write fault, per page of its 128 MiB of
/// state) and 82–90 ms; with the advice ~1,150 faults and 17–28 ms, the next steps ~7 ms (AMD
/// EPYC VM, 2026-12-07). Later steps measured the same either way there (paired A/B within
/// ±2 %), though huge pages also spare their TLB misses (one per buffer every 1024 elements with
/// 4 KiB pages, a two-level page walk in a virtual machine). Returns whether the kernel took the
/// advice (false off Linux, below [`HUGE_PAGES_MIN_BYTES`], or without THP support); it never
/// changes the contents.
pub fn advise_huge_pages(ptr: *const u8, bytes: usize) -> bool {
    if bytes < HUGE_PAGES_MIN_BYTES {
        return false;
    }
    let start = (ptr as usize).div_ceil(HUGE_PAGE) * HUGE_PAGE;
    let end = (ptr as usize).saturating_add(bytes) / HUGE_PAGE * HUGE_PAGE;
    if end <= start {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: [start, end) lies inside the caller's live buffer, memory this process has
        // mapped, and MADV_HUGEPAGE only changes how not-yet-present pages of it are backed
        // (it never discards or alters contents); a failure (EINVAL without THP) is harmless.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

/// Raw pointers to one tensor's buffers for the length of a step.
#[derive(Clone, Copy)]
pub struct TensorPtrs {
    pub param: *mut f32,
    pub grad: *const f32,
    pub slots: [*mut f32; MAX_SLOTS],
    pub len: usize,
}

// SAFETY: the pointers are only dereferenced inside one step, while the caller is blocked, and
// the driver hands disjoint element ranges to different threads.
unsafe impl Send for TensorPtrs {}
unsafe impl Sync for TensorPtrs {}

impl TensorPtrs {
    /// # Safety
    /// `a <= b <= self.len`, and no other live reference covers this range of the parameter.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)] // raw views of caller-owned memory; the driver hands out disjoint ranges
    pub unsafe fn param(&self, a: usize, b: usize) -> &mut [f32] {
        std::slice::from_raw_parts_mut(self.param.add(a), b - a)
    }
    /// # Safety
    /// `a <= b <= self.len`.
    #[inline(always)]
    pub unsafe fn grad(&self, a: usize, b: usize) -> &[f32] {
        std::slice::from_raw_parts(self.grad.add(a), b - a)
    }
    /// # Safety
    /// `a <= b <= self.len`, slot `k` is allocated (or `a == b`), and no other live reference
    /// covers this range of it.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)] // as `param`
    pub unsafe fn slot(&self, k: usize, a: usize, b: usize) -> &mut [f32] {
        if a == b || self.slots[k].is_null() {
            return &mut [];
        }
        std::slice::from_raw_parts_mut(self.slots[k].add(a), b - a)
    }
}

/// A rule's hyperparameters: one group's packed values, parsed once per step.
pub trait Hyper: Copy + Send + Sync {
    /// Names, in the order the caller packs them.
    const NAMES: &'static [&'static str];
    /// Reads one group's values; `h.len()` is `NAMES.len()`.
    fn parse(h: &[f64]) -> Self;
}

/// What a rule declares about itself: its hyperparameters, state slots and scalar state.
/// Each kernel writes it with one `rule_signature!` (see [`crate::kernels`]), from which the
/// bindings also report it (`kernelSignatures()`) for the TypeScript descriptors to be checked
/// against.
pub trait Signature {
    type Hyper: Hyper;
    /// Hyperparameters per group, in the order the caller packs them.
    const HYPER: &'static [&'static str] = <Self::Hyper as Hyper>::NAMES;
    /// State buffer names, PyTorch's spelling (`exp_avg`, `momentum_buffer`).
    const SLOTS: &'static [&'static str];
    /// Name of a per-parameter scalar state besides `step`, PyTorch's spelling (NAdam's
    /// `mu_product`), if the rule has one.
    const EXTRA: Option<&'static str> = None;
    /// Value of that scalar state when a parameter's state is created.
    const EXTRA_INIT: f64 = 0.0;
}

/// One optimizer's update rule, as the engine sees it.
pub trait Rule: Signature + Sync {
    type Scalars: Copy + Send + Sync;
    /// Bitmask of the slots a parameter of a group with these hyperparameters needs.
    fn slots_needed(h: &Self::Hyper) -> u32;
    /// f32 words of one state slot of a tensor of `len` elements (fewer than `len` for
    /// low-precision storage, [`crate::kernels::lowp`]).
    fn slot_words(len: usize) -> usize {
        len
    }
    /// Value a newly allocated slot is filled with.
    fn slot_init(_h: &Self::Hyper, _slot: usize) -> f32 {
        0.0
    }
    /// Scalars of one tensor for this step. `step` is the parameter's counter after the
    /// increment (1 on its first step); `fresh` has the bits of the slots allocated this step.
    fn scalars(h: &Self::Hyper, step: f64, fresh: u32) -> Self::Scalars;
    /// What the engine calls: [`Rule::scalars`], for rules with [`Signature::EXTRA`] also reading
    /// and advancing the parameter's scalar state.
    fn scalars_extra(h: &Self::Hyper, step: f64, fresh: u32, _extra: &mut f64) -> Self::Scalars {
        Self::scalars(h, step, fresh)
    }
    /// Updates elements `[a, b)` of tensor `t`. When `sq` is given, also adds the squares of the
    /// range's gradient to it, in the lanes of [`crate::simd::sum_squares_into`]. One-pass kernels
    /// hand this to [`crate::driver::elementwise`] with their element body, whose loop
    /// ([`crate::simd::each`]) does both in one pass.
    ///
    /// # Safety
    /// `a <= b <= t.len`, every slot in `slots_needed` is allocated, and the range is not touched
    /// by anyone else during the call.
    unsafe fn apply(s: &Self::Scalars, t: &TensorPtrs, a: usize, b: usize, sq: Option<&mut SqLanes>);

    /// Rules that need per-tensor sums before the update (LAMB's trust ratio) set this: the
    /// engine then runs [`Rule::reduce`] over all pieces, sums each tensor's results in a fixed
    /// order, hands them to [`Rule::finish`], and only then runs [`Rule::apply`].
    const TWO_PASS: bool = false;
    /// First pass over elements `[a, b)` of tensor `t`; may update state. A two-pass rule
    /// gathers the gradient's squares (`sq`) here, where it reads the gradient; the engine then
    /// calls `apply` without `sq`.
    ///
    /// # Safety
    /// As [`Rule::apply`].
    unsafe fn reduce(_s: &Self::Scalars, _t: &TensorPtrs, _a: usize, _b: usize, _sq: Option<&mut SqLanes>) -> [f64; 2] {
        [0.0; 2]
    }
    /// Completes a tensor's scalars from its first-pass sums.
    fn finish(_s: &mut Self::Scalars, _sums: [f64; 2]) {}
}

/// Extra work a step can do besides the update.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepFlags {
    /// Read every gradient first and skip the whole step, touching nothing, if any element is
    /// NaN or infinite.
    pub skip_nonfinite: bool,
    /// Record each tensor's Σg² (see [`Engine::grad_sq_sums`]).
    pub grad_norms: bool,
}

/// The state of one parameter.
#[derive(Clone, Debug, Default)]
pub struct ParamState {
    pub len: usize,
    /// Steps applied to this parameter (PyTorch's per-parameter `state['step']`).
    pub step: f64,
    pub slots: [Option<Vec<f32>>; MAX_SLOTS],
    /// The rule's scalar state ([`Signature::EXTRA`]); [`Signature::EXTRA_INIT`] until the first step.
    pub extra: f64,
}

/// A caller's buffer, viewed for one step.
#[derive(Clone, Copy, Debug)]
pub struct Buf {
    pub ptr: *mut f32,
    pub len: usize,
}

#[derive(Debug, PartialEq)]
pub enum Error {
    Type(String),
    Range(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Type(m) => write!(f, "TypeError: {m}"),
            Error::Range(m) => write!(f, "RangeError: {m}"),
        }
    }
}

/// What a step did.
#[derive(Debug, PartialEq, Clone, Copy)]
pub struct StepReport {
    /// False when the step was skipped because a gradient was not finite.
    pub applied: bool,
    pub tensors: usize,
    pub elements: usize,
}

pub struct Engine<R: Rule> {
    pub states: Vec<ParamState>,
    // Scratch reused by every step, so a step in steady state allocates nothing.
    tensors: Vec<TensorPtrs>,
    /// The step's groups, parsed.
    hypers: Vec<R::Hyper>,
    scalars: Vec<R::Scalars>,
    layout: driver::Layout,
    spans: Vec<(usize, usize, usize)>,
    checked_spans: Vec<(usize, usize, usize)>,
    seen: Vec<u64>,
    stamp: u64,
    partials1: Vec<[f64; 1]>,
    sums1: Vec<[f64; 1]>,
    /// Two-pass rules: the two sums of [`Rule::reduce`] and Σg² (when gathered).
    partials2: Vec<[f64; 3]>,
    sums2: Vec<[f64; 3]>,
    grad_sums: Vec<f64>,
    _rule: PhantomData<R>,
}

impl<R: Rule> Default for Engine<R> {
    fn default() -> Self {
        Self::new()
    }
}

/// The tags of two overlapping spans `(start, end, tag)` (smaller tag first), if any overlap.
pub fn first_overlap(spans: &[(usize, usize, usize)]) -> Option<(usize, usize)> {
    let mut sorted = spans.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).find(|w| w[1].0 < w[0].1).map(|w| (w[0].2.min(w[1].2), w[0].2.max(w[1].2)))
}

/// Span tags: buffer `kind` (0 data, 1 grad, 2 + s state slot s) of parameter `id`.
const KINDS: usize = 2 + MAX_SLOTS;

fn describe<R: Rule>(who: usize) -> String {
    let what = match who % KINDS {
        0 => "data",
        1 => "grad",
        k => R::SLOTS.get(k - 2).copied().unwrap_or("state"),
    };
    format!("{what} of parameter {}", who / KINDS)
}

impl<R: Rule> Engine<R> {
    pub fn new() -> Self {
        Engine {
            states: Vec::new(),
            tensors: Vec::new(),
            hypers: Vec::new(),
            scalars: Vec::new(),
            layout: driver::Layout::new(),
            spans: Vec::new(),
            checked_spans: Vec::new(),
            seen: Vec::new(),
            stamp: 0,
            partials1: Vec::new(),
            sums1: Vec::new(),
            partials2: Vec::new(),
            sums2: Vec::new(),
            grad_sums: Vec::new(),
            _rule: PhantomData,
        }
    }

    /// Registers parameters of the given lengths; returns the id of the first.
    pub fn add_params(&mut self, lens: &[usize]) -> usize {
        let first = self.states.len();
        self.states.extend(lens.iter().map(|&len| ParamState { len, extra: R::EXTRA_INIT, ..Default::default() }));
        self.seen.resize(self.states.len(), 0);
        first
    }

    /// Parses every whole group of `hyper` into `self.hypers`.
    fn parse_groups(&mut self, hyper: &[f64]) {
        self.hypers.clear();
        self.hypers.extend(hyper.chunks_exact(R::HYPER.len()).map(R::Hyper::parse));
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        ids: &[u32],
        params: &[Buf],
        grads: &[Buf],
        slots: &[Option<Buf>],
        fresh: &[u32],
        hyper: &[f64],
        group_of: &[u32],
    ) -> Result<(), Error> {
        let k = R::HYPER.len();
        let ns = R::SLOTS.len();
        if params.len() != ids.len() || grads.len() != ids.len() || group_of.len() != ids.len() || fresh.len() != ids.len() {
            return Err(Error::Range(format!(
                "expected as many params, grads, fresh masks and group indices as ids ({}), received {}, {}, {} and {}",
                ids.len(),
                params.len(),
                grads.len(),
                fresh.len(),
                group_of.len()
            )));
        }
        if slots.len() != ids.len() * ns {
            return Err(Error::Range(format!("expected {ns} state slots per parameter ({}), received {}", ids.len() * ns, slots.len())));
        }
        if !hyper.len().is_multiple_of(k) {
            return Err(Error::Range(format!(
                "expected hyperparameters in groups of {k} ({}), received {} values",
                R::HYPER.join(", "),
                hyper.len()
            )));
        }
        let groups = hyper.len() / k;
        if let Some((i, x)) = hyper.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(Error::Range(format!("expected {} of group {} to be finite, received {x}", R::HYPER[i % k], i / k)));
        }
        self.parse_groups(hyper);
        self.stamp += 1;
        self.spans.clear();
        for (i, &id) in ids.iter().enumerate() {
            let id = id as usize;
            let Some(st) = self.states.get(id) else {
                return Err(Error::Range(format!("expected a parameter id below {}, received {id}", self.states.len())));
            };
            if self.seen[id] == self.stamp {
                return Err(Error::Range(format!("parameter {id} appears twice in one step")));
            }
            self.seen[id] = self.stamp;
            if group_of[i] as usize >= groups {
                return Err(Error::Range(format!("expected a group index below {groups}, received {}", group_of[i])));
            }
            let need = R::slots_needed(&self.hypers[group_of[i] as usize]);
            let mine = &slots[i * ns..][..ns];
            for (s, b) in mine.iter().enumerate() {
                if b.is_none() && (need | fresh[i]) & (1 << s) != 0 {
                    return Err(Error::Range(format!("expected a {} buffer for parameter {id}, received none", R::SLOTS[s])));
                }
            }
            if fresh[i] >> ns != 0 {
                return Err(Error::Range(format!("expected a fresh mask below {}, received {}", 1u32 << ns, fresh[i])));
            }
            let bufs = [(0, Some(params[i])), (1, Some(grads[i]))].into_iter().chain(mine.iter().enumerate().map(|(s, b)| (2 + s, *b)));
            for (kind, b) in bufs {
                let Some(b) = b else { continue };
                let who = id * KINDS + kind;
                let want = if kind < 2 { st.len } else { R::slot_words(st.len) };
                if b.len != want {
                    return Err(Error::Range(format!(
                        "expected {} to have length {}, received {} (a detached buffer has length 0)",
                        describe::<R>(who),
                        want,
                        b.len
                    )));
                }
                if b.len > 0 {
                    let start = b.ptr as usize;
                    self.spans.push((start, start + 4 * b.len, who));
                }
            }
        }
        // The same buffers as last step were already proven disjoint.
        if self.spans != self.checked_spans {
            if let Some((a, b)) = first_overlap(&self.spans) {
                self.checked_spans.clear();
                return Err(Error::Range(format!(
                    "{} and {} view overlapping memory; every parameter and gradient needs its own buffer",
                    describe::<R>(a),
                    describe::<R>(b)
                )));
            }
            self.checked_spans.clone_from(&self.spans);
        }
        Ok(())
    }

    /// Applies one step to the parameters `ids`, whose buffers are `params[i]` and `grads[i]` and
    /// whose hyperparameters are group `group_of[i]` of `hyper` (packed as [`Signature::HYPER`]). The
    /// state buffers are the engine's own ([`ParamState::slots`]), allocated here when first needed
    /// and released again if the step fails or is skipped.
    ///
    /// # Safety
    /// Every `Buf` points to `len` valid, initialised f32s that nothing else accesses during the
    /// call. Overlap between the buffers themselves is checked here.
    pub unsafe fn step(
        &mut self,
        ids: &[u32],
        params: &[Buf],
        grads: &[Buf],
        hyper: &[f64],
        group_of: &[u32],
        flags: StepFlags,
    ) -> Result<StepReport, Error> {
        let ns = R::SLOTS.len();
        let mut slots = Vec::with_capacity(ids.len() * ns);
        let mut fresh = vec![0u32; ids.len()];
        self.parse_groups(hyper);
        for (i, &id) in ids.iter().enumerate() {
            let (Some(st), Some(&g)) = (self.states.get_mut(id as usize), group_of.get(i)) else {
                slots.resize(slots.len() + ns, None);
                continue;
            };
            let h = self.hypers.get(g as usize);
            let need = h.map_or(0, R::slots_needed);
            for (s, slot) in st.slots[..ns].iter_mut().enumerate() {
                if let Some(h) = h.filter(|_| need & (1 << s) != 0 && slot.is_none()) {
                    // Zeroed (fresh memory nothing has touched yet), advised, then filled, so
                    // the fill already faults in huge pages.
                    let mut v = vec![0.0f32; R::slot_words(st.len)];
                    advise_huge_pages(v.as_ptr().cast(), 4 * v.len());
                    let init = R::slot_init(h, s);
                    if init.to_bits() != 0 {
                        v.fill(init);
                    }
                    *slot = Some(v);
                    fresh[i] |= 1 << s;
                }
                slots.push(slot.as_mut().map(|v| Buf { ptr: v.as_mut_ptr(), len: v.len() }));
            }
        }
        let r = self.step_with(ids, params, grads, &slots, &fresh, hyper, group_of, flags);
        if !matches!(r, Ok(StepReport { applied: true, .. })) {
            for (i, &id) in ids.iter().enumerate() {
                if let Some(st) = self.states.get_mut(id as usize) {
                    (0..ns).filter(|s| fresh[i] & (1 << s) != 0).for_each(|s| st.slots[s] = None);
                }
            }
        }
        r
    }

    /// [`Engine::step`] with state buffers the caller owns: `slots[i * n + s]` is slot `s` of
    /// parameter `ids[i]` (n = [`Signature::SLOTS`]`.len()`), `None` when the parameter does not have
    /// it. Every slot the group's hyperparameters need ([`Rule::slots_needed`]) must be given;
    /// `fresh[i]` has the bits of the slots the caller has just created (filled with
    /// [`Rule::slot_init`]) for this step. The engine keeps no pointer after the call.
    ///
    /// # Safety
    /// As [`Engine::step`], for the state buffers too.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn step_with(
        &mut self,
        ids: &[u32],
        params: &[Buf],
        grads: &[Buf],
        slots: &[Option<Buf>],
        fresh: &[u32],
        hyper: &[f64],
        group_of: &[u32],
        flags: StepFlags,
    ) -> Result<StepReport, Error> {
        self.check(ids, params, grads, slots, fresh, hyper, group_of)?;
        self.tensors.clear();
        self.layout.clear();
        for (i, &id) in ids.iter().enumerate() {
            let len = self.states[id as usize].len;
            self.tensors.push(TensorPtrs { param: params[i].ptr, grad: grads[i].ptr, slots: [std::ptr::null_mut(); MAX_SLOTS], len });
            self.layout.push(len);
        }
        let elements = self.layout.elements();
        let mut have_sums = false;
        if flags.skip_nonfinite {
            let tensors = &self.tensors;
            // SAFETY: grads are valid for their lengths and only read.
            driver::for_each_piece_reduce(&self.layout, &mut self.partials1, &mut self.sums1, |t, a, b| {
                [driver::sum_squares_simd(unsafe { tensors[t].grad(a, b) })]
            });
            have_sums = true;
            if self.sums1.iter().any(|s| !s[0].is_finite()) {
                self.grad_sums.clear();
                self.grad_sums.extend(self.sums1.iter().map(|s| s[0]));
                return Ok(StepReport { applied: false, tensors: ids.len(), elements });
            }
        }
        self.scalars.clear();
        // Tensors of one group at one step share their scalars (the powers in bias corrections
        // are the costly part), unless the rule carries per-parameter scalar state.
        let mut last_key: Option<(u32, f64, u32)> = None;
        for (i, &id) in ids.iter().enumerate() {
            let h = &self.hypers[group_of[i] as usize];
            let st = &mut self.states[id as usize];
            let ns = R::SLOTS.len();
            for (s, b) in slots[i * ns..][..ns].iter().enumerate() {
                if let Some(b) = b {
                    self.tensors[i].slots[s] = b.ptr;
                }
            }
            let fresh = fresh[i];
            st.step += 1.0;
            let key = (group_of[i], st.step, fresh);
            match self.scalars.last() {
                Some(&prev) if R::EXTRA.is_none() && last_key == Some(key) => self.scalars.push(prev),
                _ => {
                    self.scalars.push(R::scalars_extra(h, st.step, fresh, &mut st.extra));
                    last_key = Some(key);
                }
            }
        }
        // Σg² of each piece, gathered in the pass that reads the gradient (unless the
        // non-finite check above already summed it).
        let gather = flags.grad_norms && !have_sums;
        if R::TWO_PASS {
            let (tensors, scalars) = (&self.tensors, &self.scalars);
            // SAFETY: as for apply below.
            driver::for_each_piece_reduce(&self.layout, &mut self.partials2, &mut self.sums2, |t, a, b| unsafe {
                let mut lanes = A64([0.0f64; LANES]);
                let [x, y] = R::reduce(&scalars[t], &tensors[t], a, b, gather.then_some(&mut lanes));
                [x, y, if gather { combine_lanes(&lanes) } else { 0.0 }]
            });
            for (s, sums) in self.scalars.iter_mut().zip(&self.sums2) {
                R::finish(s, [sums[0], sums[1]]);
            }
        }
        let (tensors, scalars) = (&self.tensors, &self.scalars);
        if gather && !R::TWO_PASS {
            // SAFETY: pieces are disjoint ranges within each tensor's length (driver), buffers are
            // disjoint and every needed slot is present (checked above).
            driver::for_each_piece_reduce(&self.layout, &mut self.partials1, &mut self.sums1, |t, a, b| unsafe {
                let mut lanes = A64([0.0f64; LANES]);
                R::apply(&scalars[t], &tensors[t], a, b, Some(&mut lanes));
                [combine_lanes(&lanes)]
            });
        } else {
            // SAFETY: as above.
            driver::for_each_piece(&self.layout, |t, a, b| unsafe { R::apply(&scalars[t], &tensors[t], a, b, None) });
        }
        self.grad_sums.clear();
        if gather && R::TWO_PASS {
            self.grad_sums.extend(self.sums2.iter().map(|s| s[2]));
        } else if have_sums || gather {
            self.grad_sums.extend(self.sums1.iter().map(|s| s[0]));
        }
        Ok(StepReport { applied: true, tensors: ids.len(), elements })
    }

    /// Σg² of each tensor of the last step (in `ids` order), when it gathered them.
    pub fn grad_sq_sums(&self) -> &[f64] {
        &self.grad_sums
    }

    /// Replaces a parameter's state. `slots` must have at most [`Signature::SLOTS`] entries, each of the
    /// parameter's length or absent.
    pub fn set_state(&mut self, id: usize, step: f64, slots: Vec<Option<Vec<f32>>>) -> Result<(), Error> {
        self.set_state_extra(id, step, slots, None)
    }

    /// [`Engine::set_state`] that also sets the rule's scalar state ([`Signature::EXTRA`]); `None`
    /// resets it to [`Signature::EXTRA_INIT`].
    pub fn set_state_extra(&mut self, id: usize, step: f64, slots: Vec<Option<Vec<f32>>>, extra: Option<f64>) -> Result<(), Error> {
        let Some(st) = self.states.get(id) else {
            return Err(Error::Range(format!("expected a parameter id below {}, received {id}", self.states.len())));
        };
        if !(step.is_finite() && step >= 0.0) {
            return Err(Error::Range(format!("expected step to be a finite number >= 0, received {step}")));
        }
        if let Some(x) = extra {
            let Some(name) = R::EXTRA else {
                return Err(Error::Range(format!("this optimizer has no scalar state besides step, received {x}")));
            };
            if !x.is_finite() {
                return Err(Error::Range(format!("expected {name} to be a finite number, received {x}")));
            }
        }
        if slots.len() > R::SLOTS.len() {
            return Err(Error::Range(format!("expected at most {} state buffers, received {}", R::SLOTS.len(), slots.len())));
        }
        for (s, v) in slots.iter().enumerate() {
            if let Some(v) = v {
                if v.len() != R::slot_words(st.len) {
                    return Err(Error::Range(format!(
                        "expected {} to have length {}, received {}",
                        R::SLOTS[s],
                        R::slot_words(st.len),
                        v.len()
                    )));
                }
            }
        }
        let st = &mut self.states[id];
        st.step = step;
        st.extra = extra.unwrap_or(R::EXTRA_INIT);
        st.slots = Default::default();
        for (s, v) in slots.into_iter().enumerate() {
            st.slots[s] = v;
        }
        Ok(())
    }

    /// Forgets a parameter's state, as if it had never been stepped.
    pub fn clear_state(&mut self, id: usize) {
        if let Some(st) = self.states.get_mut(id) {
            let len = st.len;
            *st = ParamState { len, extra: R::EXTRA_INIT, ..Default::default() };
        }
    }
}

#[cfg(test)]
pub mod testing {
    //! Helpers to drive an engine from safe Rust in tests.
    use super::*;

    /// Runs one step on owned vectors, all with group 0 of `hyper`.
    pub fn step_vecs<R: Rule>(
        e: &mut Engine<R>,
        params: &mut [Vec<f32>],
        grads: &mut [Vec<f32>],
        hyper: &[f64],
    ) -> Result<StepReport, Error> {
        let ids: Vec<u32> = (0..params.len() as u32).collect();
        let p: Vec<Buf> = params.iter_mut().map(|v| Buf { ptr: v.as_mut_ptr(), len: v.len() }).collect();
        let g: Vec<Buf> = grads.iter_mut().map(|v| Buf { ptr: v.as_mut_ptr(), len: v.len() }).collect();
        let group_of = vec![0u32; params.len()];
        // SAFETY: the vectors are exclusively borrowed for the call.
        unsafe { e.step(&ids, &p, &g, hyper, &group_of, StepFlags::default()) }
    }

    /// A deterministic float in [-1, 1] (the same hash as the TypeScript tests and the fixture script).
    pub fn value(seed: u32, step: u32, tensor: u32, i: u32) -> f32 {
        let mut x = seed
            .wrapping_mul(0x9E37_79B1)
            .wrapping_add(step.wrapping_mul(0x85EB_CA77))
            .wrapping_add(tensor.wrapping_mul(0xC2B2_AE3D))
            .wrapping_add(i);
        x ^= x >> 16;
        x = x.wrapping_mul(0x7feb_352d);
        x ^= x >> 15;
        x = x.wrapping_mul(0x846c_a68b);
        x ^= x >> 16;
        (((x % 2001) as f64 - 1000.0) / 1000.0) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::testing::step_vecs;
    use super::*;
    use crate::kernels::adam::Adam;
    use crate::kernels::sgd::Sgd;

    /// Adam, no amsgrad: slots 0 and 1 needed.
    const ADAM: [f64; 8] = [0.1, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.0, 0.0];
    /// SGD with momentum 0.9: slot 0 needed, and its first step copies the gradient.
    const SGD_MOMENTUM: [f64; 6] = [0.1, 0.9, 0.0, 0.0, 0.0, 0.0];

    fn buf(v: &mut [f32]) -> Buf {
        Buf { ptr: v.as_mut_ptr(), len: v.len() }
    }

    #[test]
    fn huge_page_advice_is_only_a_hint() {
        let n = 2 * HUGE_PAGES_MIN_BYTES / 4;
        let mut v = vec![0.0f32; n];
        v[n / 2] = 1.5;
        // Taken or not (THP may be off or missing), it must leave the contents alone.
        advise_huge_pages(v.as_ptr().cast(), 4 * n);
        assert_eq!(v[n / 2], 1.5);
        assert_eq!(v.iter().filter(|&&x| x != 0.0).count(), 1);
        v.iter_mut().for_each(|x| *x = 2.0);
        assert!(v.iter().all(|&x| x == 2.0));
        assert!(!advise_huge_pages(v.as_ptr().cast(), HUGE_PAGES_MIN_BYTES - 4), "below the threshold");
        assert!(!advise_huge_pages(std::ptr::null(), 0));
    }

    #[test]
    fn step_with_caller_slots_equals_the_owned_step() {
        let (mut owned, mut lent) = (Engine::<Adam>::new(), Engine::<Adam>::new());
        owned.add_params(&[5]);
        lent.add_params(&[5]);
        let (mut p1, mut p2) = (vec![vec![0.5f32; 5]], vec![0.5f32; 5]);
        let (mut m, mut v, mut unused) = (vec![0.0f32; 5], vec![0.0f32; 5], vec![7.0f32; 5]);
        for t in 0..3 {
            let mut g = vec![vec![0.25 * t as f32 - 0.3; 5]];
            step_vecs(&mut owned, &mut p1, &mut g, &ADAM).unwrap();
            let slots = [Some(buf(&mut m)), Some(buf(&mut v)), Some(buf(&mut unused))];
            // SAFETY: the vectors are exclusively borrowed for the call.
            unsafe {
                lent.step_with(
                    &[0],
                    &[buf(&mut p2)],
                    &[buf(&mut g[0])],
                    &slots,
                    &[u32::from(t == 0) * 3],
                    &ADAM,
                    &[0],
                    StepFlags::default(),
                )
            }
            .unwrap();
        }
        assert_eq!(p1[0], p2);
        assert_eq!(owned.states[0].slots[0].as_deref(), Some(&m[..]));
        assert_eq!(owned.states[0].slots[1].as_deref(), Some(&v[..]));
        assert_eq!(unused, vec![7.0; 5], "a slot the group does not need is left alone");
        assert_eq!(lent.states[0].step, 3.0);
        assert!(lent.states[0].slots.iter().all(Option::is_none), "the engine kept no caller buffer");
    }

    #[test]
    fn the_fresh_mask_selects_sgds_first_momentum_step() {
        let mut e = Engine::<Sgd>::new();
        e.add_params(&[2]);
        let (mut p, mut g, mut b) = (vec![1.0f32, 1.0], vec![0.5f32, -0.5], vec![100.0f32, 100.0]);
        // Fresh: b ← g (the old contents are ignored), θ ← θ − lr·b.
        let slots = [Some(buf(&mut b))];
        // SAFETY: the vectors are exclusively borrowed for the call.
        unsafe { e.step_with(&[0], &[buf(&mut p)], &[buf(&mut g)], &slots, &[1], &SGD_MOMENTUM, &[0], StepFlags::default()) }.unwrap();
        assert_eq!(b, vec![0.5, -0.5]);
        assert_eq!(p, vec![0.95, 1.05]);
    }

    #[test]
    fn step_with_rejects_bad_slots_before_anything_changes() {
        let mut e = Engine::<Adam>::new();
        e.add_params(&[4, 4]);
        let mem = [1.0f32; 40];
        let at = |i: usize, len: usize| Buf { ptr: mem[i..].as_ptr() as *mut f32, len };
        let (p0, g0, p1, g1) = (at(0, 4), at(4, 4), at(8, 4), at(12, 4));
        type Case = (Vec<Option<Buf>>, [u32; 2], &'static str);
        let cases: Vec<Case> = vec![
            (
                vec![Some(at(16, 4)), None, None, Some(at(20, 4)), Some(at(24, 4)), None],
                [0, 0],
                "expected a exp_avg_sq buffer for parameter 0",
            ),
            (
                vec![Some(at(16, 3)), Some(at(20, 4)), None, Some(at(24, 4)), Some(at(28, 4)), None],
                [0, 0],
                "expected exp_avg of parameter 0 to have length 4",
            ),
            (vec![Some(at(16, 4)), Some(at(20, 4)), None, Some(at(24, 4)), Some(at(10, 4)), None], [0, 0], "overlapping memory"),
            (
                vec![Some(at(16, 4)), Some(at(20, 4)), None, Some(at(24, 4)), Some(at(28, 4)), None],
                [0, 4],
                "expected a max_exp_avg_sq buffer for parameter 1",
            ),
            (
                vec![Some(at(16, 4)), Some(at(20, 4)), None, Some(at(24, 4)), Some(at(28, 4))],
                [0, 0],
                "expected 3 state slots per parameter",
            ),
        ];
        for (slots, fresh, message) in cases {
            // SAFETY: every view lies in `mem`; the check rejects the call before any write.
            let err =
                unsafe { e.step_with(&[0, 1], &[p0, p1], &[g0, g1], &slots, &fresh, &ADAM, &[0, 0], StepFlags::default()) }.unwrap_err();
            assert!(matches!(&err, Error::Range(m) if m.contains(message)), "{err} does not contain {message:?}");
        }
        assert!(mem.iter().all(|&x| x == 1.0));
        assert!(e.states.iter().all(|s| s.step == 0.0));
    }

    #[test]
    fn the_owned_step_keeps_no_slot_from_a_skipped_or_failed_step() {
        let mut e = Engine::<Adam>::new();
        e.add_params(&[3]);
        let mut p = [vec![0.5f32; 3]];
        let mut g = [vec![f32::NAN, 0.0, 0.0]];
        let ids = [0u32];
        let (pb, gb) = ([buf(&mut p[0])], [buf(&mut g[0])]);
        let flags = StepFlags { skip_nonfinite: true, grad_norms: false };
        // SAFETY: the vectors are exclusively borrowed for the call.
        let r = unsafe { e.step(&ids, &pb, &gb, &ADAM, &[0], flags) }.unwrap();
        assert!(!r.applied);
        assert!(e.states[0].slots.iter().all(Option::is_none));
        let short = [Buf { ptr: g[0].as_mut_ptr(), len: 2 }];
        // SAFETY: as above; the length check rejects the call.
        assert!(unsafe { e.step(&ids, &pb, &short, &ADAM, &[0], StepFlags::default()) }.is_err());
        assert!(e.states[0].slots.iter().all(Option::is_none));
        assert_eq!(e.states[0].step, 0.0);
    }
}
