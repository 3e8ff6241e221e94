//! Lookahead's slow weights and their synchronisation (Zhang et al. 2019; torch-optimizer
//! `torch_optimizer/lookahead.py`, `_update`).
//!
//! ```text
//! φ ← θ                        (a parameter's first sync: the slow weights start as a copy)
//! θ ← α·θ + (1 − α)·φ          (computed as jettify does: θ.mul_(α).add_(φ, alpha = 1 − α))
//! φ ← θ
//! ```
//! One call syncs every given parameter in one parallel region. The first sync of a parameter
//! is a copy and then the same formula, so its result is that formula with φ = θ: θ up to
//! rounding (exactly θ for α = 0.5 or 1). With α = 1 a sync leaves a finite θ unchanged except
//! that −0 may become +0 (θ·1 + 0·φ), so Lookahead(k = 1, α = 1) is its inner optimizer.

use crate::driver;
use crate::engine::{first_overlap, Buf, Error};
use crate::simd::{self, Simd};

/// The slow weights of one Lookahead, one optional buffer per registered parameter.
#[derive(Default)]
pub struct SlowWeights {
    lens: Vec<usize>,
    slow: Vec<Option<Vec<f32>>>,
    // Scratch reused by every sync.
    tensors: Vec<SyncPtrs>,
    layout: driver::Layout,
    spans: Vec<(usize, usize, usize)>,
    seen: Vec<u64>,
    stamp: u64,
}

#[derive(Clone, Copy)]
struct SyncPtrs {
    fast: *mut f32,
    slow: *mut f32,
    /// The slow buffer was allocated by this sync and holds no value yet.
    fresh: bool,
}

// SAFETY: dereferenced only inside one sync, on disjoint element ranges (driver).
unsafe impl Send for SyncPtrs {}
unsafe impl Sync for SyncPtrs {}

#[derive(Clone, Copy, Debug)]
struct SyncScalars {
    alpha: f32,
    /// 1 − α, rounded to f32 as torch rounds `alpha=` for a float tensor.
    rest: f32,
}

impl SlowWeights {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers parameters of the given lengths; returns the id of the first.
    pub fn add_params(&mut self, lens: &[usize]) -> usize {
        let first = self.lens.len();
        self.lens.extend_from_slice(lens);
        self.slow.resize(self.lens.len(), None);
        self.seen.resize(self.lens.len(), 0);
        first
    }

    pub fn len(&self) -> usize {
        self.lens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// The slow weights of parameter `id`, if it has been synced.
    pub fn get(&self, id: usize) -> Option<&[f32]> {
        self.slow.get(id)?.as_deref()
    }

    /// Replaces (or, with `None`, forgets) the slow weights of parameter `id`.
    pub fn set(&mut self, id: usize, slow: Option<Vec<f32>>) -> Result<(), Error> {
        let Some(&len) = self.lens.get(id) else {
            return Err(Error::Range(format!("expected a parameter id below {}, received {id}", self.lens.len())));
        };
        if let Some(v) = &slow {
            if v.len() != len {
                return Err(Error::Range(format!("expected slow_param to have length {len}, received {}", v.len())));
            }
        }
        self.slow[id] = slow;
        Ok(())
    }

    fn check(&mut self, ids: &[u32], fast: &[Buf], slow: &[Buf], fresh: &[bool], alpha: f64) -> Result<(), Error> {
        if fast.len() != ids.len() || slow.len() != ids.len() || fresh.len() != ids.len() {
            return Err(Error::Range(format!(
                "expected as many fast buffers, slow buffers and fresh flags as ids ({}), received {}, {} and {}",
                ids.len(),
                fast.len(),
                slow.len(),
                fresh.len()
            )));
        }
        if !alpha.is_finite() {
            return Err(Error::Range(format!("expected alpha to be finite, received {alpha}")));
        }
        self.stamp += 1;
        self.spans.clear();
        for (i, &id) in ids.iter().enumerate() {
            let id = id as usize;
            let Some(&len) = self.lens.get(id) else {
                return Err(Error::Range(format!("expected a parameter id below {}, received {id}", self.lens.len())));
            };
            if self.seen[id] == self.stamp {
                return Err(Error::Range(format!("parameter {id} appears twice in one sync")));
            }
            self.seen[id] = self.stamp;
            for (b, what, tag) in [(fast[i], "data", 2 * id), (slow[i], "slow weights", 2 * id + 1)] {
                if b.len != len {
                    return Err(Error::Range(format!(
                        "expected {what} of parameter {id} to have length {len}, received {} (a detached buffer has length 0)",
                        b.len
                    )));
                }
                if len > 0 {
                    let start = b.ptr as usize;
                    self.spans.push((start, start + 4 * len, tag));
                }
            }
        }
        if let Some((a, b)) = first_overlap(&self.spans) {
            let what = |t: usize| format!("{} of parameter {}", if t.is_multiple_of(2) { "data" } else { "slow weights" }, t / 2);
            return Err(Error::Range(format!("{} and {} view overlapping memory; every parameter needs its own buffer", what(a), what(b))));
        }
        Ok(())
    }

    /// Syncs parameters `ids`, whose current (fast) weights are `fast[i]`: each gets
    /// θ ← α·θ + (1 − α)·φ, then φ ← θ (φ starts as a copy of θ on a parameter's first sync).
    /// The slow weights are owned here; a first sync that fails leaves none behind.
    ///
    /// # Safety
    /// Every `Buf` points to `len` valid, initialised f32s that nothing else accesses during the
    /// call. Overlap between the buffers is checked here; the slow buffers are owned here.
    pub unsafe fn sync(&mut self, ids: &[u32], fast: &[Buf], alpha: f64) -> Result<(), Error> {
        let mut slow = Vec::with_capacity(ids.len());
        let mut fresh = Vec::with_capacity(ids.len());
        for &id in ids {
            let Some(&len) = self.lens.get(id as usize) else {
                slow.push(Buf { ptr: std::ptr::null_mut(), len: usize::MAX });
                fresh.push(false);
                continue;
            };
            let entry = &mut self.slow[id as usize];
            fresh.push(entry.is_none());
            // Zeroed (lazily committed) memory; the kernel copies θ in, in parallel.
            let v = entry.get_or_insert_with(|| vec![0.0; len]);
            slow.push(Buf { ptr: v.as_mut_ptr(), len: v.len() });
        }
        let r = self.sync_with(ids, fast, &slow, &fresh, alpha);
        if r.is_err() {
            ids.iter().zip(&fresh).filter(|(_, &f)| f).for_each(|(&id, _)| self.slow[id as usize] = None);
        }
        r
    }

    /// [`SlowWeights::sync`] with slow weights the caller owns: `slow[i]` holds φ of parameter
    /// `ids[i]`, and `fresh[i]` says it was just created, so this sync starts it as a copy of θ.
    /// Only the parameters' lengths are kept here, never a pointer.
    ///
    /// # Safety
    /// As [`SlowWeights::sync`], for the slow buffers too.
    pub unsafe fn sync_with(&mut self, ids: &[u32], fast: &[Buf], slow: &[Buf], fresh: &[bool], alpha: f64) -> Result<(), Error> {
        self.check(ids, fast, slow, fresh, alpha)?;
        self.tensors.clear();
        self.layout.clear();
        for (i, &id) in ids.iter().enumerate() {
            let len = self.lens[id as usize];
            self.tensors.push(SyncPtrs { fast: fast[i].ptr, slow: slow[i].ptr, fresh: fresh[i] });
            self.layout.push(len);
        }
        let s = SyncScalars { alpha: alpha as f32, rest: (1.0 - alpha) as f32 };
        let tensors = &self.tensors;
        driver::for_each_piece(&self.layout, |t, a, b| {
            let tp = tensors[t];
            // SAFETY: pieces are disjoint ranges within each tensor's length (driver); all fast
            // and slow buffers are disjoint (checked above).
            let (fast, slow) =
                unsafe { (std::slice::from_raw_parts_mut(tp.fast.add(a), b - a), std::slice::from_raw_parts_mut(tp.slow.add(a), b - a)) };
            if tp.fresh {
                simd::dispatch(SyncBody::<true> { fast, slow, s: &s });
            } else {
                simd::dispatch(SyncBody::<false> { fast, slow, s: &s });
            }
        });
        Ok(())
    }
}

struct SyncBody<'a, const FRESH: bool> {
    fast: &'a mut [f32],
    slow: &'a mut [f32],
    s: &'a SyncScalars,
}

/// One element: returns the new θ (= the new φ).
#[inline(always)]
fn sync_elem(fast: f32, slow: f32, s: &SyncScalars) -> f32 {
    fast * s.alpha + s.rest * slow // θ ← α·θ + (1 − α)·φ
}

impl<const FRESH: bool> Simd for SyncBody<'_, FRESH> {
    #[inline(always)]
    fn run(self) {
        let (fast, slow, s) = (self.fast, self.slow, self.s);
        let n = fast.len();
        assert_eq!(slow.len(), n);
        // The first sync only writes φ, so it does not prefetch it.
        let ahead = simd::Ahead::of([&*fast, if FRESH { &[] } else { &*slow }]);
        // SAFETY: `each_plain` passes i < n, the length of both slices.
        simd::each_plain(n, ahead, |i| unsafe {
            let (f, sl) = (fast.get_unchecked_mut(i), slow.get_unchecked_mut(i));
            let old = if FRESH { *f } else { *sl }; // φ ← θ on the first sync
            let x = sync_elem(*f, old, s);
            *f = x;
            *sl = x; // φ ← θ
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::value;
    use crate::kernels::test_util::{GLOBAL, LENS};
    use crate::simd::Level;

    fn bufs(v: &mut [Vec<f32>]) -> Vec<Buf> {
        v.iter_mut().map(|x| Buf { ptr: x.as_mut_ptr(), len: x.len() }).collect()
    }

    fn sync(w: &mut SlowWeights, fast: &mut [Vec<f32>], alpha: f64) -> Result<(), Error> {
        let ids: Vec<u32> = (0..fast.len() as u32).collect();
        let b = bufs(fast);
        // SAFETY: the vectors are exclusively borrowed for the call.
        unsafe { w.sync(&ids, &b, alpha) }
    }

    fn data(seed: u32, step: u32) -> Vec<Vec<f32>> {
        LENS.iter().enumerate().map(|(j, &n)| (0..n as u32).map(|i| value(seed, step, j as u32, i)).collect()).collect()
    }

    /// jettify's `_update` on scalars.
    fn reference(fast: &mut [Vec<f32>], slow: &mut [Option<Vec<f32>>], alpha: f64) {
        for (f, s) in fast.iter_mut().zip(slow.iter_mut()) {
            let s = s.get_or_insert_with(|| f.clone());
            for i in 0..f.len() {
                f[i] = f[i] * alpha as f32 + (1.0 - alpha) as f32 * s[i];
                s[i] = f[i];
            }
        }
    }

    #[test]
    fn sync_matches_the_scalar_transcription_of_torch_optimizer() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        for alpha in [0.5, 0.8, 0.3, 1.0, 0.0] {
            let mut w = SlowWeights::new();
            w.add_params(LENS);
            let mut fast = data(3, 0);
            let mut want = fast.clone();
            let mut slow: Vec<Option<Vec<f32>>> = vec![None; LENS.len()];
            for step in 1..=3 {
                sync(&mut w, &mut fast, alpha).unwrap();
                reference(&mut want, &mut slow, alpha);
                assert_eq!(fast, want, "alpha {alpha} sync {step}");
                for (j, s) in slow.iter().enumerate() {
                    assert_eq!(w.get(j).unwrap(), &s.as_ref().unwrap()[..]);
                }
                // The inner optimizer moves the fast weights between syncs.
                let d = data(3, step);
                for (f, (r, d)) in fast.iter_mut().zip(want.iter_mut().zip(&d)) {
                    for i in 0..f.len() {
                        f[i] += 0.1 * d[i];
                        r[i] += 0.1 * d[i];
                    }
                }
            }
        }
    }

    #[test]
    fn sync_is_bit_identical_across_simd_levels_and_thread_counts() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let run = || {
            let mut w = SlowWeights::new();
            w.add_params(LENS);
            let mut fast = data(5, 0);
            for step in 1..=3 {
                sync(&mut w, &mut fast, 0.3).unwrap();
                let d = data(5, step);
                fast.iter_mut().zip(&d).for_each(|(f, d)| f.iter_mut().zip(d).for_each(|(f, d)| *f -= 0.05 * d));
            }
            fast
        };
        crate::pool::set_num_threads(1).unwrap();
        simd::force(Level::Baseline);
        let expect = run();
        for lvl in [Level::Avx2, Level::Avx512] {
            for threads in [1, 2, 3] {
                simd::force(lvl);
                crate::pool::set_num_threads(threads).unwrap();
                assert!(run() == expect);
            }
        }
        simd::force(simd::detected());
    }

    #[test]
    fn alpha_one_leaves_the_fast_weights_unchanged() {
        let mut w = SlowWeights::new();
        w.add_params(LENS);
        let mut fast = data(9, 0);
        let before = fast.clone();
        sync(&mut w, &mut fast, 1.0).unwrap();
        fast.iter_mut().for_each(|f| f.iter_mut().for_each(|x| *x *= 0.5));
        let moved = fast.clone();
        sync(&mut w, &mut fast, 1.0).unwrap();
        assert_eq!(fast, moved);
        assert_ne!(fast, before);
    }

    #[test]
    fn bad_buffers_are_rejected_before_anything_changes() {
        let mut w = SlowWeights::new();
        w.add_params(&[4, 4]);
        let mut a = vec![1.0f32; 8];
        let p = a.as_mut_ptr();
        // SAFETY: the pointers are only compared by the check, which rejects them.
        let overlapping = [Buf { ptr: p, len: 4 }, Buf { ptr: unsafe { p.add(2) }, len: 4 }];
        let err = unsafe { w.sync(&[0, 1], &overlapping, 0.5) }.unwrap_err();
        assert!(matches!(err, Error::Range(m) if m.contains("overlapping")));
        let short = [Buf { ptr: p, len: 3 }];
        assert!(unsafe { w.sync(&[0], &short, 0.5) }.is_err());
        assert!(unsafe { w.sync(&[0, 0], &overlapping, 0.5) }.is_err());
        assert!(unsafe { w.sync(&[2], &short, 0.5) }.is_err());
        assert!(w.get(0).is_none() && w.get(1).is_none());
        assert!(a.iter().all(|&x| x == 1.0));
        assert!(w.set(0, Some(vec![0.0; 3])).is_err());
    }
}
