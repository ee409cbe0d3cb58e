//! Least squares: ordinary (`linear-regression`), `ridge` and `lasso`, fitted on centred data from the
//! Gram matrix as scikit-learn solves them — ordinary and ridge by a Cholesky solve, lasso by coordinate
//! descent. Produce the `Linear` form.

use super::cholesky::cholesky_solve;
use super::{Fit, FitError, Learner, Shape, TrainSet};
use crate::ml::core::Task;
use crate::ml::core::params::{Kind, ParamSpec, Params, Value};
use crate::ml::forms::Fitted;
use std::collections::BTreeMap;

pub struct LinearRegression;
pub struct Ridge;
pub struct Lasso;

const ALPHA: ParamSpec = ParamSpec::new(
    "alpha",
    "alpha",
    Kind::Positive,
    Value::Number(1.0),
    "Regularisation strength of ridge and lasso",
);

static RIDGE_PARAMS: &[ParamSpec] = &[ALPHA];
static LASSO_PARAMS: &[ParamSpec] = &[ALPHA, super::logistic::MAX_ITER_SPEC];

impl Learner for LinearRegression {
    fn name(&self) -> &'static str {
        "linear-regression"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    fn supports(&self, task: Task) -> bool {
        task == Task::Regression
    }
    fn fit(&self, data: &TrainSet, _: &Params, _: &(dyn Fn() + Sync)) -> Result<Fit, FitError> {
        least_squares(self, data, Penalty::Ridge(0.0))
    }
    fn record(&self, _: &Params, _: &Shape, out: &mut BTreeMap<String, String>) {
        out.insert("fit_intercept".into(), "True".into());
    }
}

impl Learner for Ridge {
    fn name(&self) -> &'static str {
        "ridge"
    }
    fn params(&self) -> &'static [ParamSpec] {
        RIDGE_PARAMS
    }
    fn supports(&self, task: Task) -> bool {
        task == Task::Regression
    }
    fn fit(&self, data: &TrainSet, p: &Params, _: &(dyn Fn() + Sync)) -> Result<Fit, FitError> {
        least_squares(self, data, Penalty::Ridge(p.number("alpha")))
    }
}

impl Learner for Lasso {
    fn name(&self) -> &'static str {
        "lasso"
    }
    fn params(&self) -> &'static [ParamSpec] {
        LASSO_PARAMS
    }
    fn supports(&self, task: Task) -> bool {
        task == Task::Regression
    }
    fn fit(&self, data: &TrainSet, p: &Params, _: &(dyn Fn() + Sync)) -> Result<Fit, FitError> {
        let alpha = data.y.len() as f64 * p.number("alpha");
        least_squares(self, data, Penalty::Lasso(alpha, p.count("max_iter")))
    }
}

/// The penalty on the weights: ridge's (0 for ordinary least squares), or lasso's `l1` with its
/// iteration limit.
enum Penalty {
    Ridge(f64),
    Lasso(f64, usize),
}

/// Ordinary least squares, ridge or lasso on centred data from the Gram matrix (what scikit-learn solves).
fn least_squares(
    learner: &dyn Learner,
    data: &TrainSet,
    penalty: Penalty,
) -> Result<Fit, FitError> {
    let nf = data.n_features;
    let (gram, xty, x_mean, y_mean) = centred_gram(data.x, data.y, nf);
    let coef = match penalty {
        Penalty::Lasso(l1, max_iter) => lasso_cd(&gram, &xty, l1, max_iter, nf),
        Penalty::Ridge(ridge) => {
            let mut a = gram.clone();
            for i in 0..nf {
                // A whisker of ridge keeps ordinary least squares solvable with collinear columns.
                a[i * nf + i] += ridge + 1e-9 * (1.0 + gram[i * nf + i]);
            }
            cholesky_solve(&mut a, &xty, nf)
                .ok_or_else(|| FitError::new(learner, "the normal equations are singular"))?
        }
    };
    let intercept = y_mean - coef.iter().zip(&x_mean).map(|(c, m)| c * m).sum::<f64>();
    if coef.iter().any(|c| !c.is_finite()) || !intercept.is_finite() {
        return Err(FitError::new(
            learner,
            "the solver did not converge to finite coefficients",
        ));
    }
    Ok(Fit::form(Fitted::linear(vec![coef], vec![intercept])))
}

/// `(XcᵀXc, Xcᵀyc, mean(X), mean(y))` for centred X and y.
fn centred_gram(x: &[f64], y: &[f64], nf: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>, f64) {
    let n = y.len().max(1) as f64;
    let mut x_mean = vec![0.0; nf];
    for row in x.chunks_exact(nf) {
        for (m, v) in x_mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    x_mean.iter_mut().for_each(|m| *m /= n);
    let y_mean = y.iter().sum::<f64>() / n;
    let mut gram = vec![0.0; nf * nf];
    let mut xty = vec![0.0; nf];
    let mut centred = vec![0.0; nf];
    for (row, yv) in x.chunks_exact(nf).zip(y) {
        for (c, (v, m)) in centred.iter_mut().zip(row.iter().zip(&x_mean)) {
            *c = v - m;
        }
        let yc = yv - y_mean;
        for i in 0..nf {
            xty[i] += centred[i] * yc;
            for j in 0..=i {
                gram[i * nf + j] += centred[i] * centred[j];
            }
        }
    }
    for i in 0..nf {
        for j in 0..i {
            gram[j * nf + i] = gram[i * nf + j];
        }
    }
    (gram, xty, x_mean, y_mean)
}

/// Coordinate descent for min 1/2 |y - Xw|² + l1 |w|₁ on the Gram matrix (scikit-learn's Lasso with
/// l1 = n * alpha).
fn lasso_cd(gram: &[f64], xty: &[f64], l1: f64, max_iter: usize, nf: usize) -> Vec<f64> {
    let mut w = vec![0.0; nf];
    // gw = gram * w, kept up to date.
    let mut gw = vec![0.0; nf];
    for _ in 0..max_iter.max(1) {
        let mut biggest: f64 = 0.0;
        let mut largest_w: f64 = 0.0;
        for j in 0..nf {
            let g = gram[j * nf + j];
            if g <= 0.0 {
                continue;
            }
            let rho = xty[j] - gw[j] + g * w[j];
            let new = rho.signum() * (rho.abs() - l1).max(0.0) / g;
            let delta = new - w[j];
            if delta != 0.0 {
                for i in 0..nf {
                    gw[i] += gram[i * nf + j] * delta;
                }
                w[j] = new;
            }
            biggest = biggest.max(delta.abs());
            largest_w = largest_w.max(new.abs());
        }
        if biggest <= 1e-4 * largest_w.max(1e-12) {
            break;
        }
    }
    w
}
