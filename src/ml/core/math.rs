//! The link functions and the class pick, one copy each, in double precision (the forms that need
//! another library's single-precision arithmetic keep their own, beside the reader that needs it).

/// The index of the largest value; the first on ties, as numpy's `argmax` (mlx's own rule).
pub fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Softmax of `z` into `out`, as LightGBM and scikit-learn compute it (subtract the max).
pub fn softmax(z: &[f64], out: &mut [f64]) {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
    for (o, v) in out.iter_mut().zip(z) {
        *o = (v - m).exp() / s;
    }
}

/// Softmax in place; the same arithmetic as [`softmax`] (each exponential once, summed in order).
pub fn softmax_in_place(v: &mut [f64]) {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_equal_values() {
        assert_eq!(argmax(&[0.2, 0.4, 0.4]), 1);
        assert_eq!(argmax(&[0.5]), 0);
    }

    #[test]
    fn both_softmaxes_agree_to_the_bit() {
        let z = [0.3, -1.7, 2.25, 0.0];
        let mut out = [0.0; 4];
        softmax(&z, &mut out);
        let mut v = z;
        softmax_in_place(&mut v);
        assert_eq!(out.map(f64::to_bits), v.map(f64::to_bits));
        assert_eq!(sigmoid(0.0), 0.5);
    }
}
