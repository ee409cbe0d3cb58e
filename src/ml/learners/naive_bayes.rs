//! Gaussian naive Bayes (`gaussian-nb`, classification): per-class feature means and variances, smoothed
//! as scikit-learn smooths them, and class priors. Produces the `GaussianNb` form.

use super::{Fit, FitError, Learner, Shape, TrainSet};
use crate::ml::core::Task;
use crate::ml::core::params::{ParamSpec, Params};
use crate::ml::forms::Fitted;
use std::collections::BTreeMap;

pub struct GaussianNb;

impl Learner for GaussianNb {
    fn name(&self) -> &'static str {
        "gaussian-nb"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    fn supports(&self, task: Task) -> bool {
        task == Task::Classification
    }
    fn fit(&self, data: &TrainSet, _: &Params, _: &(dyn Fn() + Sync)) -> Result<Fit, FitError> {
        Ok(Fit::form(fit_gaussian_nb(data)))
    }
    fn record(&self, _: &Params, _: &Shape, out: &mut BTreeMap<String, String>) {
        out.insert("var_smoothing".into(), "1e-09".into());
    }
}

/// Gaussian naive Bayes: per-class means, variances (smoothed as scikit-learn does) and priors.
fn fit_gaussian_nb(data: &TrainSet) -> Fitted {
    let n = data.y.len();
    let nf = data.n_features;
    let k = data.n_classes;
    let mut means = vec![vec![0.0; nf]; k];
    let mut vars = vec![vec![0.0; nf]; k];
    let mut counts = vec![0.0f64; k];
    for (r, row) in data.x.chunks_exact(nf).enumerate() {
        let c = data.y[r] as usize;
        counts[c] += 1.0;
        for (m, v) in means[c].iter_mut().zip(row) {
            *m += v;
        }
    }
    for (m, count) in means.iter_mut().zip(&counts) {
        m.iter_mut().for_each(|v| *v /= count.max(1.0));
    }
    for (r, row) in data.x.chunks_exact(nf).enumerate() {
        let c = data.y[r] as usize;
        for ((v, m), x) in vars[c].iter_mut().zip(&means[c]).zip(row) {
            *v += (x - m).powi(2);
        }
    }
    // scikit-learn's var_smoothing: 1e-9 times the largest feature variance.
    let max_var = (0..nf)
        .map(|f| {
            let m = (0..n).map(|r| data.x[r * nf + f]).sum::<f64>() / n as f64;
            (0..n)
                .map(|r| (data.x[r * nf + f] - m).powi(2))
                .sum::<f64>()
                / n as f64
        })
        .fold(0.0, f64::max);
    for (v, count) in vars.iter_mut().zip(&counts) {
        v.iter_mut()
            .for_each(|x| *x = *x / count.max(1.0) + 1e-9 * max_var.max(1e-300));
    }
    let priors = counts.iter().map(|c| c / n as f64).collect();
    Fitted::gaussian_nb(means, vars, priors)
}
