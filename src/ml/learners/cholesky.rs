//! The Cholesky solve that least squares (ordinary, ridge) and logistic regression's Newton steps share.

/// Solve `a x = b` for a symmetric positive definite `a` (row-major, overwritten); None if not PD.
pub(super) fn cholesky_solve(a: &mut [f64], b: &[f64], d: usize) -> Option<Vec<f64>> {
    for j in 0..d {
        let mut sum = a[j * d + j];
        for k in 0..j {
            sum -= a[j * d + k] * a[j * d + k];
        }
        if sum <= 0.0 || !sum.is_finite() {
            return None;
        }
        let diag = sum.sqrt();
        a[j * d + j] = diag;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / diag;
        }
    }
    let mut z = vec![0.0; d];
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * d + k] * z[k];
        }
        z[i] = s / a[i * d + i];
    }
    let mut x = vec![0.0; d];
    for i in (0..d).rev() {
        let mut s = z[i];
        for k in i + 1..d {
            s -= a[k * d + i] * x[k];
        }
        x[i] = s / a[i * d + i];
    }
    Some(x)
}
