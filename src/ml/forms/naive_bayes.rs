//! The `GaussianNb` form: per-class feature means and variances and class priors; a row's class
//! probabilities come from the classes' Gaussian log-likelihoods plus log priors. The option
//! [`Arithmetic`] carries the two libraries' order of operations, which differ in the last bits.

use super::LoadCheck;
use crate::ml::core::{ModelError, argmax, softmax};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// How the joint log-likelihoods, the probabilities and the label are computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arithmetic {
    /// mlx: `ln(max(prior, 1e-300)) + Σ_f (−0.5·ln(2π·v) − (x−μ)²/(2v))`, probabilities by softmax, the
    /// label the most probable class.
    #[default]
    Mlx,
    /// scikit-learn (`GaussianNB._joint_log_likelihood`): `ln(prior) + (−0.5·Σ ln(2π·v) − 0.5·Σ (x−μ)²/v)`
    /// (two sums), probabilities `exp(jll − logsumexp(jll))` (scipy's), the label the largest `jll`.
    ScikitLearn,
}

/// Class probabilities of one row into `p`; returns the label's class index.
pub(super) fn classify_row(
    means: &[Vec<f64>],
    vars: &[Vec<f64>],
    priors: &[f64],
    arithmetic: Arithmetic,
    row: &[f64],
    p: &mut [f64],
) -> usize {
    let nf = row.len();
    match arithmetic {
        Arithmetic::Mlx => {
            let z: Vec<f64> = (0..p.len())
                .map(|c| {
                    priors[c].max(1e-300).ln()
                        + (0..nf)
                            .map(|f| {
                                let v = vars[c][f];
                                -0.5 * (2.0 * PI * v).ln()
                                    - (row[f] - means[c][f]).powi(2) / (2.0 * v)
                            })
                            .sum::<f64>()
                })
                .collect();
            softmax(&z, p);
            argmax(p)
        }
        Arithmetic::ScikitLearn => {
            for (c, jll) in p.iter_mut().enumerate() {
                let norm: f64 = vars[c].iter().map(|v| (2.0 * PI * v).ln()).sum();
                let sq: f64 = row
                    .iter()
                    .zip(&means[c])
                    .zip(&vars[c])
                    .map(|((x, m), v)| (x - m).powi(2) / v)
                    .sum();
                *jll = priors[c].ln() + (-0.5 * norm - 0.5 * sq);
            }
            let label = argmax(p);
            // scipy's logsumexp, then exp(jll - lse).
            let m = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = p.iter().map(|v| (v - m).exp()).sum::<f64>().ln() + m;
            p.iter_mut().for_each(|v| *v = (*v - lse).exp());
            label
        }
    }
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
