//! The `GaussianNb` form: per-class feature means and variances and class priors; a row's class
//! probabilities are the softmax of the classes' Gaussian log-likelihoods plus log priors.

use super::LoadCheck;
use crate::ml::core::{ModelError, softmax};

/// Class probabilities of one row into `p`.
pub(super) fn proba_row(
    means: &[Vec<f64>],
    vars: &[Vec<f64>],
    priors: &[f64],
    row: &[f64],
    p: &mut [f64],
) {
    let nf = row.len();
    let z: Vec<f64> = (0..p.len())
        .map(|c| {
            priors[c].max(1e-300).ln()
                + (0..nf)
                    .map(|f| {
                        let v = vars[c][f];
                        -0.5 * (2.0 * std::f64::consts::PI * v).ln()
                            - (row[f] - means[c][f]).powi(2) / (2.0 * v)
                    })
                    .sum::<f64>()
        })
        .collect();
    softmax(&z, p);
}

/// One mean, variance and prior per class; means and variances as long as the features.
pub(super) fn check(
    means: &[Vec<f64>],
    vars: &[Vec<f64>],
    priors: &[f64],
    cx: &LoadCheck,
) -> Result<(), ModelError> {
    let outputs = cx.outputs;
    if means.len() != outputs
        || vars.len() != outputs
        || priors.len() != outputs
        || means
            .iter()
            .chain(vars.iter())
            .any(|m| m.len() != cx.n_features)
    {
        return Err(cx.json_error("naive Bayes state is inconsistent"));
    }
    Ok(())
}
