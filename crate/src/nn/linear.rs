//! `Linear`: y = x·Wᵀ + b, with x `[N, in]`, W `[out, in]`, b `[out]`, y `[N, out]`.
//!
//! Backward, given dy = ∂L/∂y:
//! ```text
//! dx  = dy·W            [N, in]     (written)
//! dW += dyᵀ·x           [out, in]   (accumulated)
//! db += Σₙ dy[n, :]     [out]       (accumulated)
//! ```

use super::gemm::{par_sgemm, MatRef};
use super::{check_len, product, range, NnResult};

/// The shape of one call.
#[derive(Clone, Copy, Debug)]
pub struct LinearShape {
    pub batch: usize,
    pub in_features: usize,
    pub out_features: usize,
}

impl LinearShape {
    fn check(&self) -> NnResult<()> {
        if self.in_features == 0 || self.out_features == 0 {
            return range(format!(
                "expected inFeatures and outFeatures to be >= 1, received {} and {}",
                self.in_features, self.out_features
            ));
        }
        product("the input", &[self.batch, self.in_features])?;
        product("the output", &[self.batch, self.out_features])?;
        product("the weight", &[self.out_features, self.in_features])?;
        Ok(())
    }
}

/// y ← x·Wᵀ + b.
pub fn linear_forward(s: LinearShape, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) -> NnResult<()> {
    s.check()?;
    let (n, i, o) = (s.batch, s.in_features, s.out_features);
    check_len("input", x.len(), n * i)?;
    check_len("weight", w.len(), o * i)?;
    check_len("output", y.len(), n * o)?;
    if let Some(b) = b {
        check_len("bias", b.len(), o)?;
        for row in y.chunks_exact_mut(o) {
            row.copy_from_slice(b);
        }
    }
    // y[n, o] (+)= Σᵢ x[n, i]·W[o, i]
    par_sgemm(n, i, o, MatRef::rows(x, i), MatRef::t(w, i), y, b.is_some());
    Ok(())
}

/// Gradients of [`linear_forward`]: `dx` is written, `dw` and `db` accumulated; each is skipped
/// when `None`.
pub fn linear_backward(
    s: LinearShape,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
) -> NnResult<()> {
    s.check()?;
    let (n, i, o) = (s.batch, s.in_features, s.out_features);
    check_len("input", x.len(), n * i)?;
    check_len("weight", w.len(), o * i)?;
    check_len("output gradient", dy.len(), n * o)?;
    if let Some(dx) = &dx {
        check_len("input gradient", dx.len(), n * i)?;
    }
    if let Some(dw) = &dw {
        check_len("weight gradient", dw.len(), o * i)?;
    }
    if let Some(db) = &db {
        check_len("bias gradient", db.len(), o)?;
    }
    if let Some(dx) = dx {
        // dx = dy·W
        par_sgemm(n, o, i, MatRef::rows(dy, o), MatRef::rows(w, i), dx, false);
    }
    if let Some(dw) = dw {
        // dW += dyᵀ·x
        par_sgemm(o, n, i, MatRef::t(dy, o), MatRef::rows(x, i), dw, true);
    }
    if let Some(db) = db {
        // db += Σₙ dy[n, :], in f64 and batch order
        let mut acc = vec![0f64; o];
        for row in dy.chunks_exact(o) {
            for (a, &g) in acc.iter_mut().zip(row) {
                *a += g as f64;
            }
        }
        for (d, a) in db.iter_mut().zip(acc) {
            *d = (*d as f64 + a) as f32;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::testing::{check_grad, dot, vec};

    #[test]
    fn gradients_match_finite_differences() {
        let s = LinearShape { batch: 5, in_features: 7, out_features: 3 };
        let (x, w, b) = (vec(1, 35), vec(2, 21), vec(3, 3));
        let r = vec(4, 15);
        let loss = |x: &[f32], w: &[f32], b: &[f32]| {
            let mut y = vec![0f32; 15];
            linear_forward(s, x, w, Some(b), &mut y).unwrap();
            dot(&y, &r)
        };
        let (mut dx, mut dw, mut db) = (vec![0f32; 35], vec![0f32; 21], vec![0f32; 3]);
        linear_backward(s, &x, &w, &r, Some(&mut dx), Some(&mut dw), Some(&mut db)).unwrap();
        check_grad(&x, &dx, 100, |v| loss(v, &w, &b), "dx");
        check_grad(&w, &dw, 100, |v| loss(&x, v, &b), "dw");
        check_grad(&b, &db, 100, |v| loss(&x, &w, v), "db");
        // Accumulation: a second backward doubles dW and db.
        let (dw1, db1) = (dw.clone(), db.clone());
        linear_backward(s, &x, &w, &r, None, Some(&mut dw), Some(&mut db)).unwrap();
        assert!(dw.iter().zip(&dw1).all(|(a, b)| (a - 2.0 * b).abs() < 1e-5));
        assert!(db.iter().zip(&db1).all(|(a, b)| (a - 2.0 * b).abs() < 1e-5));
    }

    #[test]
    fn bad_lengths_are_range_errors() {
        let s = LinearShape { batch: 2, in_features: 3, out_features: 4 };
        let mut y = vec![0f32; 8];
        let e = linear_forward(s, &[0.0; 5], &[0.0; 12], None, &mut y).unwrap_err();
        assert_eq!(e, crate::nn::NnError::Range("expected input to have length 6, received 5".into()));
        let s0 = LinearShape { batch: 2, in_features: 0, out_features: 4 };
        assert!(linear_forward(s0, &[], &[], None, &mut y).is_err());
        // An empty batch is fine.
        let e = LinearShape { batch: 0, in_features: 3, out_features: 4 };
        linear_forward(e, &[], &[0.0; 12], Some(&[0.0; 4]), &mut []).unwrap();
    }
}
