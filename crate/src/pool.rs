//! The rayon pool that optimizer steps run on; its size can change at run time.

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::{Arc, Mutex};

/// Upper bound on the pool size accepted by [`set_num_threads`].
pub const MAX_THREADS: usize = 1024;

static POOL: Mutex<Option<Arc<ThreadPool>>> = Mutex::new(None);

fn default_threads() -> usize {
    std::env::var("FERROPTIM_NUM_THREADS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| (1..=MAX_THREADS).contains(&n))
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

fn build(n: usize) -> Result<Arc<ThreadPool>, String> {
    ThreadPoolBuilder::new().num_threads(n).thread_name(|i| format!("ferroptim-{i}")).build().map(Arc::new).map_err(|e| e.to_string())
}

/// The current pool, created on first use.
pub fn pool() -> Result<Arc<ThreadPool>, String> {
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = guard.as_ref() {
        return Ok(p.clone());
    }
    let p = build(default_threads())?;
    *guard = Some(p.clone());
    Ok(p)
}

/// Replaces the pool with one of `n` threads (1 ..= [`MAX_THREADS`]).
pub fn set_num_threads(n: usize) -> Result<(), String> {
    if !(1..=MAX_THREADS).contains(&n) {
        return Err(format!("expected numThreads to be an integer in [1, {MAX_THREADS}], received {n}"));
    }
    let p = build(n)?;
    *POOL.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
    Ok(())
}

/// The size of the current pool.
pub fn num_threads() -> usize {
    pool().map(|p| p.current_num_threads()).unwrap_or(1)
}
