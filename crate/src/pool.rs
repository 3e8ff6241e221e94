//! The rayon pool that optimizer steps and the nn kernels run on; its size can change at run time.
//!
//! There is one pool per process: the addon is loaded once, so every worker thread's JS realm
//! shares it, and a size set from one of them applies to all.

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The pool and the count of its threads that have not exited yet.
struct Pool {
    threads: ThreadPool,
    live: Arc<(Mutex<usize>, Condvar)>,
}

static POOL: Mutex<Option<Arc<Pool>>> = Mutex::new(None);

/// A replaced pool's threads finish the work they hold, then exit; `set_num_threads` waits this
/// long at most for them, so a step still running on the old pool elsewhere cannot hang it.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// The number of cores this process may use (1 if unknown).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// The largest pool accepted: 4 × the available cores, and at least 64. The kernels are
/// memory-bound, so threads beyond the cores only add switching; the margin covers SMT and a
/// core count under-reported by a container's CPU quota, and each thread costs a stack and a few
/// tens of microseconds to start, so the bound keeps a mistaken call cheap.
pub fn max_threads() -> usize {
    (4 * available_cores()).max(64)
}

fn default_threads() -> usize {
    crate::config::num_threads().unwrap_or_else(available_cores)
}

fn build(n: usize) -> Result<Arc<Pool>, String> {
    let live = Arc::new((Mutex::new(n), Condvar::new()));
    let on_exit = live.clone();
    let threads = ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("ferroptim-{i}"))
        .exit_handler(move |_| {
            let (count, cv) = &*on_exit;
            *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            cv.notify_all();
        })
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(Pool { threads, live }))
}

/// A handle on the current pool, created on first use.
#[derive(Clone)]
pub struct PoolRef(Arc<Pool>);

impl std::ops::Deref for PoolRef {
    type Target = ThreadPool;
    fn deref(&self) -> &ThreadPool {
        &self.0.threads
    }
}

/// The current pool, created on first use.
pub fn pool() -> Result<PoolRef, String> {
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = guard.as_ref() {
        return Ok(PoolRef(p.clone()));
    }
    let p = build(default_threads())?;
    *guard = Some(p.clone());
    Ok(PoolRef(p))
}

/// Makes the pool `n` threads (1 ..= [`max_threads`]). A pool of that size already in place is
/// kept; otherwise the old pool is dropped and, unless a step elsewhere still runs on it, its
/// threads have exited when this returns.
pub fn set_num_threads(n: usize) -> Result<(), String> {
    let max = max_threads();
    if !(1..=max).contains(&n) {
        return Err(format!(
            "expected numThreads to be an integer in [1, {max}] (4 × the {} available cores, at least 64), received {n}",
            available_cores()
        ));
    }
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_some_and(|p| p.threads.current_num_threads() == n) {
        return Ok(());
    }
    let old = guard.replace(build(n)?);
    drop(guard);
    if let Some(old) = old.and_then(|p| Arc::try_unwrap(p).ok()) {
        let live = old.live.clone();
        drop(old.threads);
        let (count, cv) = &*live;
        let count = count.lock().unwrap_or_else(|e| e.into_inner());
        let _ = cv.wait_timeout_while(count, EXIT_WAIT, |c| *c > 0);
    }
    Ok(())
}

/// The size of the current pool.
pub fn num_threads() -> usize {
    pool().map(|p| p.current_num_threads()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizing_keeps_a_same_size_pool_and_retires_the_old_threads() {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let before = num_threads();
        set_num_threads(3).unwrap();
        let first = pool().unwrap();
        set_num_threads(3).unwrap();
        assert!(Arc::ptr_eq(&first.0, &pool().unwrap().0), "a same-size call replaced the pool");
        let live = first.0.live.clone();
        drop(first);
        set_num_threads(2).unwrap();
        assert_eq!(*live.0.lock().unwrap(), 0, "the replaced pool's threads did not exit");
        assert!(set_num_threads(max_threads() + 1).is_err() && set_num_threads(0).is_err());
        assert_eq!(num_threads(), 2);
        set_num_threads(before).unwrap();
    }
}
