//! ferroptim's native core: fused, multithreaded, SIMD optimizer steps.
//!
//! # Kernels
//! Each optimizer is one file in [`kernels`], holding its math and its tests. It declares itself
//! once, with `rule_signature!`: its hyperparameters in the order the caller packs them (parsed
//! into a typed struct once per group and step), its state slots and any scalar state besides
//! `step` ([`engine::Signature`]). Nothing else lists those names: the engine's checks and error
//! messages read them, and the bindings report them (`kernelSignatures()`) so that the TypeScript
//! descriptors are checked against them. The file then gives the per-tensor scalars
//! ([`engine::Rule::scalars`]) and the per-element update ([`driver::Elementwise`]); the shared
//! driver ([`driver`]) does the rest: chunking and threads, slicing each piece's buffers, length
//! checks, prefetching, the SIMD level, the Σg² lanes, and picking the body compiled for the
//! step's flags.
//!
//! # Buffer conventions
//! Parameters and gradients are the caller's `Float32Array`s, borrowed for the length of one
//! synchronous call and never copied. From JavaScript, the optimizer state (`exp_avg`,
//! `momentum_buffer`, ...) is JS-owned too: views into a few large `Float32Array`s that the
//! TypeScript class creates when a slot is first needed and passes to every step
//! ([`engine::Engine::step_with`]). Memory a native addon owns is freed by a Node-API finalizer,
//! which Node runs only when the event loop turns, so a synchronous loop that drops optimizers
//! would pile up their state; V8-owned memory is counted and freed by the garbage collector
//! itself. The native objects keep no pointer between calls, only step counters and scratch
//! (reported to V8 with `adjust_external_memory`). Used from Rust, an [`engine::Engine`] owns its
//! state, one `Vec<f32>` per parameter and slot ([`engine::Engine::step`]). Every buffer of a call
//! is checked for length and overlap, so every `&mut [f32]` handed to a kernel is unique. A slot
//! in low precision ([`kernels::lowp`]: bfloat16, or block-wise int8) is packed into fewer f32
//! words of the same arenas ([`engine::Rule::slot_words`]). A large state buffer, JS arena or
//! `Vec`, is advised into transparent huge pages before its first write
//! ([`engine::advise_huge_pages`]): Linux's default THP mode (`madvise`) backs it with 4 KiB pages
//! otherwise, and faulting those in made the first AdamW step over 16M parameters 4–5× as long.
//!
//! # Threading
//! A step is one parallel region over all tensors together: each tensor is cut into fixed chunks of
//! [`driver::CHUNK`] elements from its first element ([`driver::Layout`]), and the calling thread
//! and the team's helpers ([`pool`]) take chunks, so 300 small tensors spread over the threads as
//! well as one large one, and a tensor's pieces (so its sums) do not depend on what else the call
//! holds. Below [`driver::PAR_MIN`] elements the step stays on the calling thread, or below
//! [`driver::PAR_MIN_AWAKE`] while the helpers are awake from a recent call. There is one
//! team per process, shared by every worker thread's JS realm; its size comes from
//! `FERROPTIM_NUM_THREADS` or the number of available cores, and can be changed at run time, up to
//! [`pool::max_threads`] ([`pool::set_num_threads`]).
//! The `FERROPTIM_*` variables are read in [`config`]; an unusable value is ignored and reported.
//!
//! # SIMD
//! The binary is built for baseline x86-64. Each kernel body is plain scalar Rust, compiled three
//! times (AVX-512, AVX2+FMA, baseline) behind `#[target_feature]` trampolines in [`simd`]; the level
//! is detected once and can be forced lower with `FERROPTIM_SIMD=avx512|avx2|baseline`. Element
//! loops prefetch the buffers they read a fixed distance ahead ([`simd::Ahead`]): one thread's
//! hardware prefetcher alone keeps too few lines in flight for 4–5 streams. Blocks and sum lanes a
//! kernel keeps on the stack are 64-byte aligned ([`simd::A64`]), so their cost does not depend on
//! the caller's stack depth.
//!
//! # Determinism
//! Results do not depend on the SIMD level or the thread count. Element bodies use only IEEE
//! add, sub, mul, div and sqrt, which Rust never contracts into FMA, so every vector width computes
//! the same bits. Per-step scalars (bias corrections, `lr * weight_decay`) are computed once in f64.

pub mod config;
pub mod driver;
pub mod engine;
pub mod kernels;
pub mod nn;
pub mod pool;
pub mod simd;

#[cfg(not(test))]
mod bindings;
