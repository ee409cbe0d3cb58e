//! The `Linear` form: coefficients and intercepts. Binary classification is one row through the logistic
//! function, multi-class one row per class through softmax, regression one row.

use super::LoadCheck;
use crate::ml::core::{Task, softmax};

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Class probabilities of one row into `p` (`p.len()` classes).
pub(super) fn proba_row(coef: &[Vec<f64>], intercept: &[f64], row: &[f64], p: &mut [f64]) {
    let n_classes = p.len();
    if coef.len() == 1 && n_classes == 2 {
        let z = dot(&coef[0], row) + intercept[0];
        p[1] = 1.0 / (1.0 + (-z).exp());
        p[0] = 1.0 - p[1];
    } else {
        let z: Vec<f64> = (0..n_classes)
            .map(|c| dot(&coef[c], row) + intercept[c])
            .collect();
        softmax(&z, p);
    }
}

/// The predicted value of one row (regression).
pub(super) fn value_row(coef: &[Vec<f64>], intercept: &[f64], row: &[f64]) -> f64 {
    dot(&coef[0], row) + intercept[0]
}

/// One row per class for multi-class classification, else one; each as long as the features.
pub(super) fn check(
    coef: &[Vec<f64>],
    intercept: &[f64],
    cx: &LoadCheck,
) -> Result<(), crate::ml::core::ModelError> {
    let rows = if cx.task == Task::Classification && cx.outputs > 2 {
        cx.outputs
    } else {
        1
    };
    if coef.len() != rows
        || intercept.len() != rows
        || coef.iter().any(|c| c.len() != cx.n_features)
    {
        return Err(cx.json_error("coefficients do not match the features"));
    }
    Ok(())
}
