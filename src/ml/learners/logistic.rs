//! Logistic regression (scikit-learn's `LogisticRegression`, L2 penalty): binary problems by Newton's
//! method on the same objective, multi-class ones — and a binary one Newton cannot finish — by smartcore's
//! L-BFGS. Produces the `Linear` form.

use super::{Fit, FitError, Learner, Shape, TrainSet};
use crate::ml::core::Task;
use crate::ml::core::params::{Kind, ParamSpec, Params, Value};
use crate::ml::forms::Fitted;
use crate::ml::forms::linear::dot;
use std::collections::BTreeMap;

pub struct LogisticRegression;

/// Largest `max_iter` read back from a store.
pub(super) const MAX_ITER: usize = 1_000_000;

/// `max_iter`, shared with lasso.
pub(super) const MAX_ITER_SPEC: ParamSpec = ParamSpec::new(
    "max_iter",
    "max-iter",
    Kind::Count { max: MAX_ITER },
    Value::Count(1000),
    "",
);

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "C",
        "c",
        Kind::Positive,
        Value::Number(1.0),
        "Inverse regularisation strength of logistic regression",
    ),
    MAX_ITER_SPEC,
];

impl Learner for LogisticRegression {
    fn name(&self) -> &'static str {
        "logistic-regression"
    }
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }
    fn supports(&self, task: Task) -> bool {
        task == Task::Classification
    }
    fn fit(&self, data: &TrainSet, p: &Params, _: &(dyn Fn() + Sync)) -> Result<Fit, FitError> {
        let (c, max_iter) = (p.number("C"), p.count("max_iter"));
        if data.n_classes == 2 {
            // Binary: Newton's method on the same objective as scikit-learn (L2 on the weights, not the
            // intercept), several times faster than a quasi-Newton solver and exact to the optimum.
            if let Some((coef, intercept)) =
                logistic_newton(data.x, data.y, data.n_features, 1.0 / c, max_iter)
            {
                return Ok(Fit::form(Fitted::linear(vec![coef], vec![intercept])));
            }
        }
        self.fit_lbfgs(data, c)
    }
    fn record(&self, _: &Params, data: &Shape, out: &mut BTreeMap<String, String>) {
        out.insert("penalty".into(), "l2".into());
        // Binary problems are solved by Newton's method, multi-class ones by L-BFGS; same optimum.
        let solver = if data.n_classes == 2 {
            "newton-cholesky"
        } else {
            "lbfgs"
        };
        out.insert("solver".into(), solver.into());
    }
}

impl LogisticRegression {
    /// Through smartcore's L-BFGS (multi-class, and the fallback for binary).
    fn fit_lbfgs(&self, data: &TrainSet, c: f64) -> Result<Fit, FitError> {
        use ndarray::{Array1, Array2};
        use smartcore::linear::logistic_regression::{
            LogisticRegression, LogisticRegressionParameters,
        };
        let err = |e: &dyn std::fmt::Display| FitError::new(self, e.to_string());
        let matrix = Array2::from_shape_vec((data.y.len(), data.n_features), data.x.to_vec())
            .map_err(|e| err(&e))?;
        let y: Array1<i32> = data.y.iter().map(|&v| v as i32).collect();
        let params = LogisticRegressionParameters::default().with_alpha(1.0 / c);
        let m = LogisticRegression::fit(&matrix, &y, params).map_err(|e| err(&e))?;
        let coef = m.coefficients();
        let rows = coef.nrows();
        let coef: Vec<Vec<f64>> = (0..rows).map(|r| coef.row(r).to_vec()).collect();
        let intercept: Vec<f64> = m.intercept().iter().copied().collect();
        Ok(Fit::form(Fitted::linear(coef, intercept)))
    }
}

/// Binary logistic regression by Newton's method: minimise sum(log loss) + alpha/2 |w|² (intercept not
/// penalised). None when it does not converge (e.g. separable data with no regularisation).
fn logistic_newton(
    x: &[f64],
    y: &[f64],
    nf: usize,
    alpha: f64,
    max_iter: usize,
) -> Option<(Vec<f64>, f64)> {
    let d = nf + 1; // weights, then the intercept
    let n = y.len();
    let mut w = vec![0.0; d];
    for _ in 0..max_iter.clamp(1, 200) {
        let mut grad = vec![0.0; d];
        let mut hess = vec![0.0; d * d];
        for r in 0..n {
            let row = &x[r * nf..(r + 1) * nf];
            let z = dot(&w[..nf], row) + w[nf];
            let p = 1.0 / (1.0 + (-z).exp());
            let e = p - y[r];
            let s = (p * (1.0 - p)).max(1e-12);
            for i in 0..nf {
                grad[i] += e * row[i];
                let si = s * row[i];
                for j in 0..=i {
                    hess[i * d + j] += si * row[j];
                }
                hess[nf * d + i] += si;
            }
            grad[nf] += e;
            hess[nf * d + nf] += s;
        }
        for i in 0..nf {
            grad[i] += alpha * w[i];
            hess[i * d + i] += alpha;
        }
        for i in 0..d {
            hess[i * d + i] += 1e-10;
            for j in 0..i {
                hess[j * d + i] = hess[i * d + j];
            }
        }
        let step = super::cholesky::cholesky_solve(&mut hess, &grad, d)?;
        let mut biggest: f64 = 0.0;
        for i in 0..d {
            w[i] -= step[i];
            biggest = biggest.max(step[i].abs());
        }
        if !w.iter().all(|v| v.is_finite()) {
            return None;
        }
        if biggest < 1e-10 {
            let intercept = w.pop()?;
            return Some((w, intercept));
        }
    }
    None
}
