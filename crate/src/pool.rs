//! The threads that optimizer steps and the nn kernels run on: the calling thread and `n − 1`
//! helpers, its size changeable at run time.
//!
//! A parallel call ([`for_each`]) publishes its task, wakes the helpers that sleep, and runs
//! indices itself alongside them; it returns once every index is done and no helper still holds
//! the task. The indices are cut into one contiguous range per thread, each taken in order by its
//! thread and, once that thread is done with its own, by the others from the front (so each thread
//! streams through memory as a split in halves would, and a helper that is late or asleep costs
//! only its share). A helper spins for [`SPIN`] after its last task before it sleeps, so the calls
//! of one training step, a few hundred microseconds apart, find it awake (as OpenMP's workers
//! spin, PyTorch's among them); in a team larger than the available cores it sleeps at once, since
//! its spinning would take a core from the threads with work.
//!
//! Why not rayon's pool (used until the 2-thread CNN epoch was profiled): a call from the JS
//! thread into `ThreadPool::install` hands its task to the pool's threads and sleeps until they
//! are done, so each call waits for two wake-ups (a worker's, then its own), 65–110 µs on a 2-core
//! VM for work split into two halves of 30 µs that the caller and a spinning helper finish in
//! 30.5 µs (a standalone measurement; see the README's "Dependencies, and why").
//!
//! There is one team per process: the addon is loaded once, so every worker thread's JS realm
//! shares it, and a size set from one of them applies to all. A call made while another thread's
//! call holds the team, or from inside a task, runs on its own thread (results never depend on
//! which thread runs which index).

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle helper spins, checking for a task, before it sleeps (in a team no larger than
/// the available cores).
pub const SPIN: Duration = Duration::from_millis(2);

/// A task: `f(i)` for each index. The pointer's lifetime is erased; it is read only while the call
/// that published it waits (see [`Shared::state`]).
type Task = dyn Fn(usize) + Sync;

/// `Shared::state`'s bit that says the task is open for helpers to join.
const OPEN: u64 = 1 << 31;
/// `Shared::state`'s bits that count the helpers inside the task.
const ACTIVE: u64 = OPEN - 1;

struct Shared {
    /// The task's generation (high 32 bits), [`OPEN`], and the helpers inside it ([`ACTIVE`]). A
    /// helper joins by incrementing the count while the task is open and of a generation it has
    /// not seen, and leaves by decrementing it; the caller closes the task after its own share and
    /// waits for the count to reach 0 before the task's closure goes out of scope.
    state: AtomicU64,
    /// The task and its ranges (one per thread: the caller's first, then each helper's); written
    /// before `state` opens.
    task: UnsafeCell<Option<*const Task>>,
    ranges: Vec<Range>,
    /// Set by a panicking task: the other indices are skipped.
    stop: AtomicBool,
    /// The first panic a task raised, resumed on the calling thread.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Per helper: asleep (or about to be), so a new task must unpark it.
    sleeping: Vec<AtomicBool>,
    exit: AtomicBool,
}

// SAFETY: `task` is written only by the thread holding `Team::submit` while no helper is inside
// a task (ACTIVE is 0 and the task closed), and read by helpers only between joining and leaving.
unsafe impl Sync for Shared {}
// SAFETY: as above; the raw task pointer is only dereferenced under that protocol.
unsafe impl Send for Shared {}

/// One thread's share of a task's indices: the next to take and the end. A cache line each, so
/// that threads taking their own do not contend.
#[repr(align(64))]
struct Range {
    next: AtomicUsize,
    end: AtomicUsize,
}

struct Team {
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
    /// Held by the call running on the team.
    submit: Mutex<()>,
}

thread_local! {
    /// Whether this thread is running a task (a helper always is): a call from it runs serially.
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

static TEAM: Mutex<Option<Arc<Team>>> = Mutex::new(None);

/// The number of cores this process may use (1 if unknown).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// The largest team accepted: 4 × the available cores, and at least 64. The kernels are
/// memory-bound, so threads beyond the cores only add switching; the margin covers SMT and a
/// core count under-reported by a container's CPU quota, and each thread costs a stack and a few
/// tens of microseconds to start, so the bound keeps a mistaken call cheap.
pub fn max_threads() -> usize {
    (4 * available_cores()).max(64)
}

fn default_threads() -> usize {
    crate::config::num_threads().unwrap_or_else(available_cores)
}

impl Team {
    /// A team of `n` threads: the caller and `n − 1` helpers.
    fn new(n: usize) -> Result<Team, String> {
        let helpers = n.max(1) - 1;
        let shared = Arc::new(Shared {
            state: AtomicU64::new(0),
            task: UnsafeCell::new(None),
            ranges: (0..=helpers).map(|_| Range { next: AtomicUsize::new(0), end: AtomicUsize::new(0) }).collect(),
            stop: AtomicBool::new(false),
            panic: Mutex::new(None),
            sleeping: (0..helpers).map(|_| AtomicBool::new(false)).collect(),
            exit: AtomicBool::new(false),
        });
        let mut team = Team { shared: shared.clone(), helpers: Vec::with_capacity(helpers), submit: Mutex::new(()) };
        let spin = if n <= available_cores() { SPIN } else { Duration::ZERO };
        for me in 0..helpers {
            let s = shared.clone();
            let h = std::thread::Builder::new()
                .name(format!("ferroptim-{me}"))
                .spawn(move || helper(&s, me, spin))
                .map_err(|e| e.to_string())?;
            team.helpers.push(h);
        }
        Ok(team)
    }

    fn threads(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Runs `f` over `0..n` on the caller and the helpers; the caller holds `submit`. Returns the
    /// first panic a task raised, for the caller to resume once it has let go of `submit`.
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync + '_)) -> Option<Box<dyn Any + Send>> {
        let s = &*self.shared;
        // SAFETY: only the lifetime is erased; the pointer is dereferenced only until this call
        // has waited for every helper to leave the task (below).
        let task: *const Task = unsafe { std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const Task>(f) };
        // SAFETY: no helper is inside a task (the last call waited for that), so none reads it.
        unsafe { *s.task.get() = Some(task) };
        let t = s.ranges.len();
        for (r, range) in s.ranges.iter().enumerate() {
            range.next.store(r * n / t, SeqCst);
            range.end.store((r + 1) * n / t, SeqCst);
        }
        s.stop.store(false, SeqCst);
        let generation = (s.state.load(SeqCst) >> 32) + 1;
        s.state.store((generation << 32) | OPEN, SeqCst);
        for (h, asleep) in self.helpers.iter().zip(&s.sleeping) {
            if asleep.load(SeqCst) {
                h.thread().unpark();
            }
        }
        IN_TASK.with(|t| t.set(true));
        take_indices(s, f, 0);
        IN_TASK.with(|t| t.set(false));
        let mut st = s.state.fetch_and(!OPEN, SeqCst);
        while st & ACTIVE != 0 {
            std::hint::spin_loop();
            st = s.state.load(SeqCst);
        }
        // SAFETY: the task is closed and no helper is inside it.
        unsafe { *s.task.get() = None };
        s.panic.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.exit.store(true, SeqCst);
        for h in self.helpers.drain(..) {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

/// Runs the task's indices until none is left: range `own` in order, then the others' from their
/// front. A panic stops the task and is kept for the caller.
fn take_indices(s: &Shared, f: &(dyn Fn(usize) + Sync + '_), own: usize) {
    let t = s.ranges.len();
    for r in (own..t).chain(0..own) {
        let range = &s.ranges[r];
        let end = range.end.load(SeqCst);
        while !s.stop.load(SeqCst) {
            let i = range.next.fetch_add(1, SeqCst);
            if i >= end {
                break;
            }
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(i))) {
                s.stop.store(true, SeqCst);
                s.panic.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(p);
                return;
            }
        }
    }
}

/// A helper's loop: join each new task while it is open, spin for `spin` after the last, then
/// sleep until a call unparks it.
fn helper(s: &Shared, me: usize, spin: Duration) {
    IN_TASK.with(|t| t.set(true));
    let mut seen = s.state.load(SeqCst) >> 32;
    let mut idle = Instant::now();
    let mut polls = 0u32;
    loop {
        if s.exit.load(SeqCst) {
            return;
        }
        let mut st = s.state.load(SeqCst);
        if st >> 32 != seen {
            seen = st >> 32;
            // Join while the task (this generation) is open; another helper's join may race.
            while st >> 32 == seen && st & OPEN != 0 {
                match s.state.compare_exchange(st, st + 1, SeqCst, SeqCst) {
                    Ok(_) => {
                        // SAFETY: joined: the task and its ranges were written before it opened,
                        // and stay valid until this helper leaves.
                        let task = unsafe { (*s.task.get()).expect("an open task") };
                        take_indices(s, unsafe { &*task }, me + 1);
                        s.state.fetch_sub(1, SeqCst);
                        break;
                    }
                    Err(now) => st = now,
                }
            }
            idle = Instant::now();
            continue;
        }
        polls = polls.wrapping_add(1);
        if !polls.is_multiple_of(64) || idle.elapsed() < spin {
            std::hint::spin_loop();
            continue;
        }
        s.sleeping[me].store(true, SeqCst);
        // A call that opened a task after this helper's check above sees `sleeping` and unparks it.
        if s.state.load(SeqCst) >> 32 == seen && !s.exit.load(SeqCst) {
            std::thread::park();
        }
        s.sleeping[me].store(false, SeqCst);
        idle = Instant::now();
    }
}

/// The current team, created on first use (None if its threads could not start).
fn team() -> Option<Arc<Team>> {
    let mut guard = TEAM.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        *guard = Some(Arc::new(Team::new(default_threads()).ok()?));
    }
    guard.clone()
}

/// Runs `f(i)` for every `i in 0..n`, on the team when it has several threads (else, or when
/// called from inside a task or while another thread's call holds the team, on this thread).
/// Which thread runs which index never changes a result in this crate. A panic in `f` is resumed
/// here once every index has stopped.
pub fn for_each(n: usize, f: impl Fn(usize) + Sync) {
    if n <= 1 || IN_TASK.with(Cell::get) {
        return (0..n).for_each(f);
    }
    let Some(team) = team().filter(|t| t.threads() > 1) else {
        return (0..n).for_each(f);
    };
    let panic = {
        let Ok(_held) = team.submit.try_lock() else {
            return (0..n).for_each(f);
        };
        team.run(n, &f)
    };
    if let Some(p) = panic {
        resume_unwind(p);
    }
}

/// [`for_each`] when `parallel` (the caller's judgement of the work's size), else `f` over
/// `0..n` on this thread.
pub fn for_each_if(parallel: bool, n: usize, f: impl Fn(usize) + Sync) {
    if parallel {
        for_each(n, f);
    } else {
        (0..n).for_each(f);
    }
}

/// Whether the team has helpers and none of them sleeps: a parallel call now costs no wake-up.
pub fn awake() -> bool {
    team().is_some_and(|t| t.threads() > 1 && t.shared.sleeping.iter().all(|s| !s.load(SeqCst)))
}

/// Makes the team `n` threads (1 ..= [`max_threads`]). A team of that size already in place is
/// kept; otherwise the old team's helpers have exited when this returns, unless a call elsewhere
/// still runs on it (they exit when it ends).
pub fn set_num_threads(n: usize) -> Result<(), String> {
    let max = max_threads();
    if !(1..=max).contains(&n) {
        return Err(format!(
            "expected numThreads to be an integer in [1, {max}] (4 × the {} available cores, at least 64), received {n}",
            available_cores()
        ));
    }
    let mut guard = TEAM.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_some_and(|t| t.threads() == n) {
        return Ok(());
    }
    let old = guard.replace(Arc::new(Team::new(n)?));
    drop(guard);
    // The last handle on the old team joins its helpers as it drops.
    drop(old);
    Ok(())
}

/// The size of the current team.
pub fn num_threads() -> usize {
    team().map_or(1, |t| t.threads())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    /// Runs `f` holding the tests' global lock, then gives the team back its size.
    fn keeping_team_size(f: impl FnOnce()) {
        let _g = crate::kernels::test_util::GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let before = num_threads();
        f();
        set_num_threads(before).unwrap();
    }

    #[test]
    fn resizing_keeps_a_same_size_team_and_retires_the_old_helpers() {
        keeping_team_size(|| {
            set_num_threads(3).unwrap();
            let first = team().unwrap();
            set_num_threads(3).unwrap();
            assert!(Arc::ptr_eq(&first, &team().unwrap()), "a same-size call replaced the team");
            let weak = Arc::downgrade(&first.shared);
            drop(first);
            set_num_threads(2).unwrap();
            assert_eq!(weak.strong_count(), 0, "the replaced team's helpers did not exit");
            assert!(set_num_threads(max_threads() + 1).is_err() && set_num_threads(0).is_err());
            assert_eq!(num_threads(), 2);
        });
    }

    #[test]
    fn every_index_runs_once_awake_or_asleep_nested_and_after_a_panic() {
        keeping_team_size(|| {
            for threads in [1, 2, 4] {
                set_num_threads(threads).unwrap();
                for (round, n) in [0usize, 1, 2, 7, 1000].into_iter().enumerate() {
                    if round == 3 {
                        // The helpers asleep: the call must wake them (or finish without them).
                        std::thread::sleep(SPIN * 3);
                    }
                    let hits: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
                    for_each(n, |i| {
                        // A nested call runs on this thread, whole.
                        let inner = AtomicU32::new(0);
                        for_each(3, |_| {
                            inner.fetch_add(1, SeqCst);
                        });
                        assert_eq!(inner.load(SeqCst), 3);
                        hits[i].fetch_add(1, SeqCst);
                    });
                    assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "{threads} threads, n {n}: an index ran twice or never");
                }
                let r = catch_unwind(|| for_each(100, |i| assert!(i != 37, "index 37")));
                let msg = r.expect_err("the panic reaches the caller");
                let text = msg.downcast_ref::<String>().cloned().or_else(|| msg.downcast_ref::<&str>().map(|m| m.to_string()));
                assert!(text.is_some_and(|m| m.contains("index 37")), "the task's own panic");
                // Still a team after the panic: with indices long enough, a helper takes some (tried a
                // few times, as a loaded machine may not schedule it at once).
                let caller = std::thread::current().id();
                let shared = (0..5).any(|_| {
                    let count = AtomicU32::new(0);
                    let elsewhere = AtomicBool::new(false);
                    for_each(100, |_| {
                        std::thread::sleep(Duration::from_micros(100));
                        count.fetch_add(1, SeqCst);
                        if std::thread::current().id() != caller {
                            elsewhere.store(true, SeqCst);
                        }
                    });
                    assert_eq!(count.load(SeqCst), 100, "{threads} threads: every index after the panic");
                    elsewhere.load(SeqCst)
                });
                assert_eq!(shared, threads > 1, "{threads} threads: whether a helper took indices after the panic");
            }
        });
    }

    /// `awake`: false without helpers; true during and just after a call (the helpers spin: seen
    /// at least once in 100 calls, as a loaded machine may run a helper late); false once they
    /// have slept.
    #[test]
    fn the_helpers_are_awake_after_a_call_and_asleep_after_spin() {
        keeping_team_size(|| {
            set_num_threads(1).unwrap();
            for_each(8, |_| {});
            assert!(!awake(), "a team of one has no helper to be awake");
            if available_cores() >= 2 {
                set_num_threads(2).unwrap();
                for _ in 0..3 {
                    let seen = (0..100).any(|_| {
                        for_each(8, |_| std::thread::sleep(Duration::from_micros(100)));
                        awake()
                    });
                    assert!(seen, "the helper was never awake after a call");
                    let t = Instant::now();
                    while awake() && t.elapsed() < Duration::from_secs(5) {
                        std::thread::sleep(SPIN / 4);
                    }
                    assert!(!awake(), "the helper did not sleep after spinning");
                }
            }
        });
    }

    #[test]
    fn calls_from_several_threads_at_once_each_run_whole() {
        keeping_team_size(|| {
            set_num_threads(2).unwrap();
            let total = AtomicU32::new(0);
            std::thread::scope(|sc| {
                for _ in 0..4 {
                    sc.spawn(|| {
                        for _ in 0..200 {
                            let c = AtomicU32::new(0);
                            for_each(64, |_| {
                                c.fetch_add(1, SeqCst);
                            });
                            assert_eq!(c.load(SeqCst), 64);
                            total.fetch_add(1, SeqCst);
                        }
                    });
                }
            });
            assert_eq!(total.load(SeqCst), 800);
        });
    }
}
