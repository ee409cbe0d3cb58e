//! Estimators: what mlx can fit, their hyperparameters (named like scikit-learn's), and the fitted state
//! that is saved with the model. smartcore's optimisers fit the linear models; trees, forests, kNN and
//! Gaussian naive Bayes are our own (see `tree.rs` for why). Prediction is always done here, from the
//! compact fitted state, so a saved model loads without smartcore's object graph.

use super::boost::{self, Objective};
use super::core::Choice;
pub use super::core::Task;
pub use super::forms::Fitted;
use super::tree::{self, Binned, Target, TreeParams};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    LogisticRegression,
    /// Logistic regression through smartcore's L-BFGS (multi-class, and the fallback for binary).
    #[serde(skip)]
    LogisticRegressionLbfgs,
    RandomForest,
    GradientBoosting,
    DecisionTree,
    Knn,
    GaussianNb,
    LinearRegression,
    Ridge,
    Lasso,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::LogisticRegression | ModelKind::LogisticRegressionLbfgs => {
                "logistic-regression"
            }
            ModelKind::RandomForest => "random-forest",
            ModelKind::GradientBoosting => "gradient-boosting",
            ModelKind::DecisionTree => "decision-tree",
            ModelKind::Knn => "knn",
            ModelKind::GaussianNb => "gaussian-nb",
            ModelKind::LinearRegression => "linear-regression",
            ModelKind::Ridge => "ridge",
            ModelKind::Lasso => "lasso",
        }
    }

    /// Which tasks the estimator supports.
    pub fn supports(self, task: Task) -> bool {
        match self {
            ModelKind::LogisticRegression
            | ModelKind::LogisticRegressionLbfgs
            | ModelKind::GaussianNb => task == Task::Classification,
            ModelKind::LinearRegression | ModelKind::Ridge | ModelKind::Lasso => {
                task == Task::Regression
            }
            ModelKind::RandomForest
            | ModelKind::GradientBoosting
            | ModelKind::DecisionTree
            | ModelKind::Knn => true,
        }
    }
}

/// Hyperparameters, with scikit-learn's names and defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hyper {
    pub n_estimators: usize,
    pub max_depth: Option<usize>,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    /// Features tried per split: None = scikit-learn's default (sqrt for classification forests, all otherwise).
    pub max_features: Option<usize>,
    pub c: f64,
    pub alpha: f64,
    pub k: usize,
    pub max_iter: usize,
    pub seed: u64,
    pub jobs: usize,
    /// Gradient boosting's own hyperparameters.
    pub gb: GbHyper,
}

/// Gradient boosting's hyperparameters beside the shared ones (n_estimators, max_depth, min_samples_leaf),
/// with LightGBM's defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GbHyper {
    pub learning_rate: f64,
    pub num_leaves: usize,
    pub l2_regularization: f64,
    pub max_bins: usize,
    pub subsample: f64,
    pub colsample: f64,
    pub early_stopping: Option<usize>,
    pub validation_fraction: f64,
    /// Regression's loss (None: squared error).
    #[serde(default)]
    pub loss: Option<Objective>,
    #[serde(default = "default_huber_delta")]
    pub huber_delta: f64,
}

/// LightGBM's `alpha` for `huber`.
fn default_huber_delta() -> f64 {
    0.9
}

impl Default for GbHyper {
    fn default() -> Self {
        GbHyper {
            learning_rate: 0.1,
            num_leaves: 31,
            l2_regularization: 0.0,
            max_bins: 255,
            subsample: 1.0,
            colsample: 1.0,
            early_stopping: None,
            validation_fraction: 0.1,
            loss: None,
            huber_delta: default_huber_delta(),
        }
    }
}

/// min_samples_leaf's default: LightGBM's min_data_in_leaf for gradient boosting, scikit-learn's 1 otherwise.
pub fn default_min_samples_leaf(kind: Option<ModelKind>) -> usize {
    if kind == Some(ModelKind::GradientBoosting) {
        20
    } else {
        1
    }
}

impl Hyper {
    /// The params recorded for a run of `kind`: every hyperparameter the estimator uses, defaults included.
    pub fn recorded(
        &self,
        kind: ModelKind,
        n_features: usize,
        task: Task,
        n_classes: usize,
    ) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        let depth = self.max_depth.map_or("None".to_string(), |d| d.to_string());
        match kind {
            ModelKind::LogisticRegression | ModelKind::LogisticRegressionLbfgs => {
                p.insert("C".into(), fmt(self.c));
                p.insert("penalty".into(), "l2".into());
                p.insert("max_iter".into(), self.max_iter.to_string());
                // Binary problems are solved by Newton's method, multi-class ones by L-BFGS; same optimum.
                p.insert(
                    "solver".into(),
                    if n_classes == 2 {
                        "newton-cholesky"
                    } else {
                        "lbfgs"
                    }
                    .into(),
                );
            }
            ModelKind::RandomForest | ModelKind::DecisionTree => {
                if kind == ModelKind::RandomForest {
                    p.insert("n_estimators".into(), self.n_estimators.to_string());
                    p.insert("bootstrap".into(), "True".into());
                    p.insert("n_jobs".into(), self.jobs.to_string());
                }
                p.insert("max_depth".into(), depth);
                p.insert(
                    "min_samples_split".into(),
                    self.min_samples_split.to_string(),
                );
                p.insert("min_samples_leaf".into(), self.min_samples_leaf.to_string());
                p.insert(
                    "max_features".into(),
                    self.features_per_split(kind, n_features, task).to_string(),
                );
                p.insert(
                    "criterion".into(),
                    match task {
                        Task::Classification => "gini".into(),
                        Task::Regression => "squared_error".into(),
                    },
                );
            }
            ModelKind::GradientBoosting => {
                let g = &self.gb;
                p.insert("n_estimators".into(), self.n_estimators.to_string());
                p.insert("learning_rate".into(), fmt(g.learning_rate));
                p.insert("num_leaves".into(), g.num_leaves.to_string());
                p.insert("max_depth".into(), depth);
                p.insert("min_samples_leaf".into(), self.min_samples_leaf.to_string());
                p.insert("l2_regularization".into(), fmt(g.l2_regularization));
                p.insert("max_bins".into(), g.max_bins.to_string());
                p.insert("subsample".into(), fmt(g.subsample));
                p.insert("colsample".into(), fmt(g.colsample));
                p.insert(
                    "early_stopping".into(),
                    g.early_stopping.map_or("None".into(), |n| n.to_string()),
                );
                if g.early_stopping.is_some() {
                    p.insert("validation_fraction".into(), fmt(g.validation_fraction));
                }
                p.insert(
                    "loss".into(),
                    match (task, n_classes) {
                        (Task::Regression, _) => g.loss.unwrap_or(Objective::SquaredError).name(),
                        (_, 2) => "log_loss",
                        _ => "softmax",
                    }
                    .into(),
                );
                if task == Task::Regression && g.loss == Some(Objective::Huber) {
                    p.insert("huber_delta".into(), fmt(g.huber_delta));
                }
                p.insert("n_jobs".into(), self.jobs.to_string());
            }
            ModelKind::Knn => {
                p.insert("n_neighbors".into(), self.k.to_string());
                p.insert("weights".into(), "uniform".into());
                p.insert("metric".into(), "euclidean".into());
            }
            ModelKind::GaussianNb => {
                p.insert("var_smoothing".into(), "1e-09".into());
            }
            ModelKind::LinearRegression => {
                p.insert("fit_intercept".into(), "True".into());
            }
            ModelKind::Ridge => {
                p.insert("alpha".into(), fmt(self.alpha));
            }
            ModelKind::Lasso => {
                p.insert("alpha".into(), fmt(self.alpha));
                p.insert("max_iter".into(), self.max_iter.to_string());
            }
        }
        p.insert("random_state".into(), self.seed.to_string());
        p
    }

    fn features_per_split(&self, kind: ModelKind, n_features: usize, task: Task) -> usize {
        self.max_features.unwrap_or(
            if kind == ModelKind::RandomForest && task == Task::Classification {
                ((n_features as f64).sqrt() as usize).max(1)
            } else {
                n_features
            },
        )
    }

    fn tree_params(&self, kind: ModelKind, n_features: usize, task: Task) -> TreeParams {
        TreeParams {
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split.max(2),
            min_samples_leaf: self.min_samples_leaf.max(1),
            max_features: Some(self.features_per_split(kind, n_features, task)),
        }
    }
}

fn fmt(x: f64) -> String {
    crate::store::metric_file::format_value(x)
}

/// `--loss` is gradient-boosting regression's: checked before a run is created, and again by the fit.
pub fn check_loss(kind: ModelKind, task: Task, hyper: &Hyper) -> Result<(), String> {
    match hyper.gb.loss {
        Some(loss) if kind != ModelKind::GradientBoosting || task != Task::Regression => Err(
            format!("--loss {} is for gradient-boosting regression", loss.name()),
        ),
        _ => Ok(()),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("fitting {model} failed: {why}")]
pub struct FitError {
    pub model: String,
    pub why: String,
}

/// The training data in the shape estimators want.
pub struct TrainSet<'a> {
    /// Row-major, `n_features` per row.
    pub x: &'a [f64],
    pub n_features: usize,
    /// Class indices (classification) as f64, or target values (regression).
    pub y: &'a [f64],
    pub n_classes: usize,
    pub task: Task,
}

/// The fitted state, feature importances and (gradient boosting) learning curves.
pub type FitWithCurves = (Fitted, Option<Vec<f64>>, Option<boost::Curves>);

/// Fit `kind` as [`fit`] does, with gradient boosting's learning curves.
pub fn fit_with_curves(
    kind: ModelKind,
    hyper: &Hyper,
    data: &TrainSet,
    progress: &(dyn Fn() + Sync),
) -> Result<FitWithCurves, FitError> {
    let g = &hyper.gb;
    let refuse = |why: String| FitError {
        model: kind.name().into(),
        why,
    };
    check_loss(kind, data.task, hyper).map_err(refuse)?;
    if kind != ModelKind::GradientBoosting {
        let (fitted, importance) = fit(kind, hyper, data, progress)?;
        return Ok((fitted, importance, None));
    }
    let objective = match (data.task, data.n_classes) {
        (Task::Regression, _) => g.loss.unwrap_or(Objective::SquaredError),
        (_, 2) => Objective::Binary,
        _ => Objective::Multiclass,
    };
    let params = boost::BoostParams {
        n_estimators: hyper.n_estimators,
        learning_rate: g.learning_rate,
        num_leaves: g.num_leaves,
        max_depth: hyper.max_depth,
        min_samples_leaf: hyper.min_samples_leaf,
        min_sum_hessian: 1e-3,
        l2: g.l2_regularization,
        max_bins: g.max_bins,
        subsample: g.subsample,
        colsample: g.colsample,
        early_stopping: g.early_stopping,
        validation_fraction: g.validation_fraction,
        huber_delta: g.huber_delta,
        seed: hyper.seed,
        jobs: hyper.jobs,
    };
    let b = boost::fit(
        data.x,
        data.n_features,
        data.y,
        objective,
        data.n_classes,
        &params,
        progress,
    )
    .map_err(refuse)?;
    let total: f64 = b.importance.iter().sum();
    let importance = b
        .importance
        .iter()
        .map(|v| if total > 0.0 { v / total } else { 0.0 })
        .collect();
    Ok((
        Fitted::Boosted {
            n_trees: b.trees.len(),
            trees: b.trees,
            base_score: b.base_score,
            per_iteration: b.per_iteration,
            learning_rate: g.learning_rate,
            objective,
            best_iteration: b.curves.best_iteration,
            flat: OnceLock::new(),
        },
        Some(importance),
        Some(b.curves),
    ))
}

/// Fit `kind`. `progress` is called once per tree for forests (per iteration for boosting). Returns the
/// state and, where the estimator has them, feature importances.
pub fn fit(
    kind: ModelKind,
    hyper: &Hyper,
    data: &TrainSet,
    progress: &(dyn Fn() + Sync),
) -> Result<(Fitted, Option<Vec<f64>>), FitError> {
    let err = |why: String| FitError {
        model: kind.name().into(),
        why,
    };
    let n = data.y.len();
    let nf = data.n_features;
    let matrix =
        || Array2::from_shape_vec((n, nf), data.x.to_vec()).map_err(|e| err(e.to_string()));
    match kind {
        ModelKind::LogisticRegression if data.n_classes == 2 => {
            // Binary: Newton's method on the same objective as scikit-learn (L2 on the weights, not the
            // intercept), several times faster than a quasi-Newton solver and exact to the optimum.
            match logistic_newton(data.x, data.y, nf, 1.0 / hyper.c, hyper.max_iter) {
                Some((coef, intercept)) => Ok((
                    Fitted::Linear {
                        coef: vec![coef],
                        intercept: vec![intercept],
                    },
                    None,
                )),
                None => fit(ModelKind::LogisticRegressionLbfgs, hyper, data, progress),
            }
        }
        ModelKind::LogisticRegression | ModelKind::LogisticRegressionLbfgs => {
            use smartcore::linear::logistic_regression::{
                LogisticRegression, LogisticRegressionParameters,
            };
            let y: Array1<i32> = data.y.iter().map(|&v| v as i32).collect();
            let params = LogisticRegressionParameters::default().with_alpha(1.0 / hyper.c);
            let m =
                LogisticRegression::fit(&matrix()?, &y, params).map_err(|e| err(e.to_string()))?;
            let coef = m.coefficients();
            let rows = coef.nrows();
            let coef: Vec<Vec<f64>> = (0..rows).map(|r| coef.row(r).to_vec()).collect();
            let intercept: Vec<f64> = m.intercept().iter().copied().collect();
            Ok((Fitted::Linear { coef, intercept }, None))
        }
        ModelKind::LinearRegression | ModelKind::Ridge | ModelKind::Lasso => {
            fit_least_squares(kind, hyper, data)
        }
        ModelKind::RandomForest | ModelKind::DecisionTree => {
            Ok(fit_trees(kind, hyper, data, progress))
        }
        ModelKind::GradientBoosting => {
            let (fitted, importance, _) = fit_with_curves(kind, hyper, data, progress)?;
            Ok((fitted, importance))
        }
        ModelKind::Knn => {
            if hyper.k == 0 || hyper.k > n {
                return Err(err(format!(
                    "k={} must be between 1 and the {n} training rows",
                    hyper.k
                )));
            }
            Ok((
                Fitted::Knn {
                    k: hyper.k,
                    x: data.x.to_vec(),
                    y: data.y.to_vec(),
                },
                None,
            ))
        }
        ModelKind::GaussianNb => Ok(fit_gaussian_nb(data)),
    }
}

/// Ordinary least squares, ridge or lasso on centred data from the Gram matrix (what scikit-learn solves):
/// ordinary and ridge by a Cholesky solve, lasso by coordinate descent.
fn fit_least_squares(
    kind: ModelKind,
    hyper: &Hyper,
    data: &TrainSet,
) -> Result<(Fitted, Option<Vec<f64>>), FitError> {
    let nf = data.n_features;
    let (gram, xty, x_mean, y_mean) = centred_gram(data.x, data.y, nf);
    let err = |why: String| FitError {
        model: kind.name().into(),
        why,
    };
    let coef = match kind {
        ModelKind::Lasso => {
            let alpha = data.y.len() as f64 * hyper.alpha;
            lasso_cd(&gram, &xty, alpha, hyper.max_iter, nf)
        }
        _ => {
            let ridge = if kind == ModelKind::Ridge {
                hyper.alpha
            } else {
                0.0
            };
            let mut a = gram.clone();
            for i in 0..nf {
                // A whisker of ridge keeps ordinary least squares solvable with collinear columns.
                a[i * nf + i] += ridge + 1e-9 * (1.0 + gram[i * nf + i]);
            }
            cholesky_solve(&mut a, &xty, nf)
                .ok_or_else(|| err("the normal equations are singular".into()))?
        }
    };
    let intercept = y_mean - coef.iter().zip(&x_mean).map(|(c, m)| c * m).sum::<f64>();
    if coef.iter().any(|c| !c.is_finite()) || !intercept.is_finite() {
        return Err(err(
            "the solver did not converge to finite coefficients".into()
        ));
    }
    Ok((
        Fitted::Linear {
            coef: vec![coef],
            intercept: vec![intercept],
        },
        None,
    ))
}

/// A random forest or one decision tree on binned features, with normalised feature importance.
fn fit_trees(
    kind: ModelKind,
    hyper: &Hyper,
    data: &TrainSet,
    progress: &(dyn Fn() + Sync),
) -> (Fitted, Option<Vec<f64>>) {
    let n = data.y.len();
    let nf = data.n_features;
    let binned = Binned::new(data.x, nf);
    let classes: Vec<u32>;
    let target = match data.task {
        Task::Classification => {
            classes = data.y.iter().map(|&v| v as u32).collect();
            Target::Classes {
                y: &classes,
                n_classes: data.n_classes,
            }
        }
        Task::Regression => Target::Values(data.y),
    };
    let params = hyper.tree_params(kind, nf, data.task);
    let (trees, importance) = if kind == ModelKind::RandomForest {
        tree::fit_forest(
            &binned,
            target,
            params,
            hyper.n_estimators.max(1),
            hyper.seed,
            hyper.jobs,
            progress,
        )
    } else {
        let (t, imp) = tree::fit_tree(&binned, target, params, &vec![1; n], hyper.seed as u32);
        (vec![t], imp)
    };
    let total: f64 = importance.iter().sum();
    let importance = importance
        .iter()
        .map(|v| if total > 0.0 { v / total } else { 0.0 })
        .collect();
    (
        Fitted::Trees {
            n_trees: trees.len(),
            trees,
        },
        Some(importance),
    )
}

/// Gaussian naive Bayes: per-class means, variances (smoothed as scikit-learn does) and priors.
fn fit_gaussian_nb(data: &TrainSet) -> (Fitted, Option<Vec<f64>>) {
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
    (
        Fitted::GaussianNb {
            means,
            vars,
            priors,
        },
        None,
    )
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
        let step = cholesky_solve(&mut hess, &grad, d)?;
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

/// Solve `a x = b` for a symmetric positive definite `a` (row-major, overwritten); None if not PD.
fn cholesky_solve(a: &mut [f64], b: &[f64], d: usize) -> Option<Vec<f64>> {
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

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hyper() -> Hyper {
        Hyper {
            n_estimators: 20,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: None,
            c: 1.0,
            alpha: 1.0,
            k: 3,
            max_iter: 1000,
            seed: 42,
            jobs: 2,
            gb: GbHyper::default(),
        }
    }

    /// Two separable blobs.
    fn blobs() -> (Vec<f64>, Vec<f64>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..60 {
            let c = i % 2;
            let off = if c == 1 { 4.0 } else { 0.0 };
            x.extend([off + (i % 7) as f64 * 0.1, off - (i % 5) as f64 * 0.1]);
            y.push(c as f64);
        }
        (x, y)
    }

    #[test]
    fn every_classifier_separates_blobs() {
        let (x, y) = blobs();
        let data = TrainSet {
            x: &x,
            n_features: 2,
            y: &y,
            n_classes: 2,
            task: Task::Classification,
        };
        for kind in [
            ModelKind::LogisticRegression,
            ModelKind::RandomForest,
            ModelKind::DecisionTree,
            ModelKind::Knn,
            ModelKind::GaussianNb,
        ] {
            let (fitted, _) = fit(kind, &hyper(), &data, &|| {}).unwrap();
            let p = fitted.predict_proba(&x, 2, 2);
            for r in 0..y.len() {
                assert_eq!(
                    (p[r * 2 + 1] > 0.5) as usize as f64,
                    y[r],
                    "{kind:?} row {r}"
                );
                assert!((p[r * 2] + p[r * 2 + 1] - 1.0).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn regressors_fit_a_line() {
        let x: Vec<f64> = (0..50).map(|i| i as f64 / 10.0).collect();
        let y: Vec<f64> = x.iter().map(|v| 3.0 * v + 1.0).collect();
        let data = TrainSet {
            x: &x,
            n_features: 1,
            y: &y,
            n_classes: 0,
            task: Task::Regression,
        };
        let mut h = hyper();
        h.alpha = 1e-6;
        for kind in [
            ModelKind::LinearRegression,
            ModelKind::Ridge,
            ModelKind::Lasso,
        ] {
            let (fitted, _) = fit(kind, &h, &data, &|| {}).unwrap();
            let p = fitted.predict_values(&[2.0], 1);
            assert!((p[0] - 7.0).abs() < 1e-2, "{kind:?}: {}", p[0]);
        }
        for kind in [
            ModelKind::RandomForest,
            ModelKind::DecisionTree,
            ModelKind::Knn,
        ] {
            let (fitted, _) = fit(kind, &h, &data, &|| {}).unwrap();
            let p = fitted.predict_values(&[2.0], 1);
            assert!((p[0] - 7.0).abs() < 0.5, "{kind:?}: {}", p[0]);
        }
    }
}
