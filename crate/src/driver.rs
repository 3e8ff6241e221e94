//! The shared elementwise driver: one parallel region over all tensors of a step.
//!
//! The tensors of a step are laid end to end in one index space (`offsets` holds the prefix sums of
//! their lengths). That space is cut into fixed chunks of [`CHUNK`] elements; a chunk covers a piece
//! of one tensor or the end of one and the start of the next. The boundaries depend only on the
//! lengths, never on the thread count, so per-chunk partial sums combine to the same bits whether
//! one thread or many ran them.

use rayon::prelude::*;

/// Elements per chunk: 32 KiB per f32 stream, so a chunk's streams sit in L2.
pub const CHUNK: usize = 8192;
/// Below this many elements in a step, the step stays on the calling thread.
pub const PAR_MIN: usize = 32768;

/// Number of chunks covering `total` elements.
pub fn num_chunks(total: usize) -> usize {
    total.div_ceil(CHUNK)
}

/// Calls `f(tensor, start, end)` for every piece of chunk `c` (ranges are tensor-local).
#[inline]
pub fn pieces_of_chunk(offsets: &[usize], c: usize, f: &(impl Fn(usize, usize, usize) + ?Sized)) {
    let total = *offsets.last().unwrap_or(&0);
    let mut pos = c * CHUNK;
    let end = (pos + CHUNK).min(total);
    if pos >= end {
        return;
    }
    // The last tensor whose offset is <= pos; it is non-empty because offsets[t + 1] > pos.
    let mut t = offsets.partition_point(|&o| o <= pos) - 1;
    while pos < end {
        let t_end = offsets[t + 1].min(end);
        if t_end > pos {
            f(t, pos - offsets[t], t_end - offsets[t]);
        }
        pos = t_end;
        t += 1;
    }
}

/// Runs `f(tensor, start, end)` over every piece of every chunk, in parallel when the step is
/// large enough and the pool has more than one thread.
pub fn for_each_piece<F>(offsets: &[usize], f: F) -> Result<(), String>
where
    F: Fn(usize, usize, usize) + Sync,
{
    let total = *offsets.last().unwrap_or(&0);
    let chunks = num_chunks(total);
    if total < PAR_MIN {
        (0..chunks).for_each(|c| pieces_of_chunk(offsets, c, &f));
        return Ok(());
    }
    let pool = crate::pool::pool()?;
    if pool.current_num_threads() <= 1 {
        (0..chunks).for_each(|c| pieces_of_chunk(offsets, c, &f));
        return Ok(());
    }
    pool.install(|| {
        (0..chunks)
            .into_par_iter()
            .with_min_len(2)
            .for_each(|c| pieces_of_chunk(offsets, c, &f))
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn prefix(lens: &[usize]) -> Vec<usize> {
        let mut o = vec![0];
        for &l in lens {
            o.push(o.last().unwrap() + l);
        }
        o
    }

    #[test]
    fn pieces_cover_every_element_exactly_once() {
        for lens in [vec![0, 1, 0, 7, 8192, 8193, 0], vec![CHUNK * 5 + 3], vec![1; 300], vec![]] {
            let offsets = prefix(&lens);
            let seen = Mutex::new(vec![0u32; *offsets.last().unwrap()]);
            for_each_piece(&offsets, |t, a, b| {
                assert!(a < b && b <= lens[t]);
                let mut s = seen.lock().unwrap();
                for i in a..b {
                    s[offsets[t] + i] += 1;
                }
            })
            .unwrap();
            assert!(seen.into_inner().unwrap().iter().all(|&n| n == 1));
        }
    }
}
