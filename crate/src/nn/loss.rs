//! `CrossEntropyLoss`: fused log-softmax and negative log-likelihood, mean reduction.
//!
//! ```text
//! ℓₙ = log Σⱼ exp(zₙⱼ) − zₙ,tₙ              (computed as m + log Σⱼ exp(zₙⱼ − m), m = maxⱼ zₙⱼ)
//! L  = (1/V) Σₙ ℓₙ                          over the V rows whose target ≠ ignoreIndex
//! ∂L/∂zₙⱼ = (softmax(zₙ)ⱼ − [j = tₙ]) / V   (0 for ignored rows)
//! ```
//! Sums run in f64 in row order, so the loss does not depend on the thread count. With no
//! counted row, L is NaN, as in PyTorch.

use super::{check_len, par_for, product, range, NnResult, SendPtr};

/// Rows per work item.
const ROWS_PER_TASK: usize = 64;

/// The mean loss; when `dlogits` is given, also ∂L/∂logits (written).
pub fn cross_entropy(
    logits: &[f32],
    batch: usize,
    classes: usize,
    targets: &[i32],
    ignore_index: i32,
    dlogits: Option<&mut [f32]>,
) -> NnResult<f64> {
    if classes == 0 {
        return range("expected classes to be >= 1, received 0");
    }
    let total = product("the logits", &[batch, classes])?;
    check_len("logits", logits.len(), total)?;
    check_len("targets", targets.len(), batch)?;
    if let Some(d) = &dlogits {
        check_len("logits gradient", d.len(), total)?;
    }
    let mut counted = 0usize;
    for (i, &t) in targets.iter().enumerate() {
        if t == ignore_index {
            continue;
        }
        if t < 0 || t as usize >= classes {
            return range(format!(
                "expected targets[{i}] to be a class index in [0, {classes}) or ignoreIndex ({ignore_index}), received {t}"
            ));
        }
        counted += 1;
    }
    let inv = if counted == 0 { f64::NAN } else { 1.0 / counted as f64 };
    let tasks = batch.div_ceil(ROWS_PER_TASK);
    let mut partial = vec![0f64; tasks];
    let pp = partial.as_mut_ptr() as usize;
    let dp = dlogits.map(|d| SendPtr(d.as_mut_ptr()));
    par_for(tasks, total * 16, |t| {
        let mut acc = 0f64;
        for n in t * ROWS_PER_TASK..((t + 1) * ROWS_PER_TASK).min(batch) {
            let z = &logits[n * classes..(n + 1) * classes];
            let target = targets[n];
            let ignored = target == ignore_index;
            let m = z.iter().fold(f32::NEG_INFINITY, |a, &b| if b > a || b.is_nan() { b } else { a }) as f64;
            let sum: f64 = z.iter().map(|&v| (v as f64 - m).exp()).sum();
            let lse = m + sum.ln();
            if !ignored {
                acc += lse - z[target as usize] as f64;
            }
            if let Some(dp) = dp {
                // SAFETY: row n of the gradient, disjoint from other rows.
                let d = unsafe { dp.slice(n * classes, classes) };
                if ignored {
                    d.fill(0.0);
                } else {
                    for (j, (o, &v)) in d.iter_mut().zip(z).enumerate() {
                        let p = (v as f64 - lse).exp();
                        *o = ((p - if j as i32 == target { 1.0 } else { 0.0 }) * inv) as f32;
                    }
                }
            }
        }
        // SAFETY: task t writes only slot t of `partial`, which outlives the loop.
        unsafe { *(pp as *mut f64).add(t) = acc };
    });
    Ok(partial.iter().sum::<f64>() * inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::testing::{check_grad, vec};

    #[test]
    fn loss_matches_the_definition_and_gradient_matches_finite_differences() {
        let (n, c) = (7, 5);
        let z: Vec<f32> = vec(1, n * c).iter().map(|v| v * 4.0).collect();
        let t = [0, 4, 2, -100, 1, 1, 3];
        let mut d = vec![0f32; n * c];
        let l = cross_entropy(&z, n, c, &t, -100, Some(&mut d)).unwrap();
        let mut expect = 0.0;
        for i in 0..n {
            if t[i] == -100 {
                continue;
            }
            let row = &z[i * c..(i + 1) * c];
            let s: f64 = row.iter().map(|&v| (v as f64).exp()).sum();
            expect += s.ln() - row[t[i] as usize] as f64;
        }
        expect /= 6.0;
        assert!((l - expect).abs() < 1e-6);
        check_grad(&z, &d, 100, |v| cross_entropy(v, n, c, &t, -100, None).unwrap(), "dlogits");
        assert!(d[3 * c..4 * c].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn large_logits_are_stable_and_bad_targets_are_range_errors() {
        let l = cross_entropy(&[1000.0, 0.0, -1000.0], 1, 3, &[0], -100, None).unwrap();
        assert!(l.abs() < 1e-6);
        let e = cross_entropy(&[0.0; 6], 2, 3, &[0, 3], -100, None).unwrap_err();
        assert_eq!(e.to_string(), "RangeError: expected targets[1] to be a class index in [0, 3) or ignoreIndex (-100), received 3");
        assert!(cross_entropy(&[0.0; 3], 1, 3, &[-100], -100, None).unwrap().is_nan());
    }
}
