//! The final estimator of a scikit-learn model: decoded from the skops object tree (linear models,
//! decision trees and forests, k-nearest neighbours, Gaussian naive Bayes; gradient boosting through
//! `boosting.rs`) and its prediction on the features the pipeline's steps produced. Linear models,
//! k-nearest neighbours and Gaussian naive Bayes become mlx's own forms with scikit-learn's arithmetic
//! as their options, and predict through them.

use super::tree_nodes::tree_nodes;
use super::{SklearnModel, bad, boosting, check_len, labels, predict_err};
use crate::ml::core::{ModelError, Predictions, Task};
use crate::ml::foreign::skops::{Node, SkopsError};
use crate::ml::forms::trees::ensemble::{Combine, Ensemble, Rules};
use crate::ml::forms::{Arithmetic, Fitted, LabelRule, Multi, Order, Weights};
use serde_json::Value;

/// A fitted estimator: mlx's form for its family, carrying scikit-learn's arithmetic as its options —
/// `Linear` (`LogisticRegression`, `LinearRegression`, `Ridge`, `Lasso`, `ElasticNet`), `Knn`
/// (`KNeighbors*`), `GaussianNb`, `Trees` (trees and forests: regression averages the trees' leaves,
/// classification each tree's class weights made proportions, [`Combine::Mean`],
/// [`Combine::MeanOfProportions`]) and `Boosted` (`GradientBoosting*`, `HistGradientBoosting*`).
#[derive(Debug, Clone)]
pub(super) struct Estimator {
    pub(super) form: Fitted,
    /// Missing values are routed as the model learned (trees, forests, `HistGradientBoosting*`), not
    /// refused as scikit-learn's other estimators refuse them.
    pub(super) routes_missing: bool,
}

impl Estimator {
    /// An estimator that refuses missing values.
    fn refusing_missing(form: Fitted) -> Estimator {
        Estimator {
            form,
            routes_missing: false,
        }
    }
}

/// A row-major `rows × nf` matrix as one vector per row.
fn rows_of(flat: &[f64], rows: usize, nf: usize) -> Vec<Vec<f64>> {
    (0..rows)
        .map(|r| flat[r * nf..(r + 1) * nf].to_vec())
        .collect()
}

/// The estimator, its task, classes and number of features.
pub(super) fn estimator(node: &Node) -> Result<(Estimator, Task, Vec<Value>, usize), SkopsError> {
    let class = node.class_name();
    match class {
        "LogisticRegression" | "LinearRegression" | "Ridge" | "Lasso" | "ElasticNet" => {
            linear_estimator(node, class)
        }
        "DecisionTreeClassifier"
        | "ExtraTreeClassifier"
        | "RandomForestClassifier"
        | "ExtraTreesClassifier"
        | "DecisionTreeRegressor"
        | "ExtraTreeRegressor"
        | "RandomForestRegressor"
        | "ExtraTreesRegressor" => tree_estimator(node, class),
        "KNeighborsClassifier" | "KNeighborsRegressor" => knn_estimator(node, class),
        "GaussianNB" => {
            let classes = labels(node)?;
            let k = classes.len();
            let (theta, shape) = node.array("theta_")?;
            let (var, vshape) = node.array("var_")?;
            let prior = node
                .attr("class_prior_")?
                .as_f64s()
                .ok_or_else(|| bad("GaussianNB.class_prior_ is not numeric"))?;
            let nf = shape.get(1).copied().unwrap_or(0);
            if shape != [k, nf] || vshape != shape || prior.len() != k {
                return Err(bad(format!(
                    "GaussianNB: theta_ {shape:?}, var_ {vshape:?} and {} priors for {k} classes",
                    prior.len()
                )));
            }
            let form = Fitted::GaussianNb {
                means: rows_of(&theta, k, nf),
                vars: rows_of(&var, k, nf),
                priors: prior,
                arithmetic: Arithmetic::ScikitLearn,
            };
            Ok((
                Estimator::refusing_missing(form),
                Task::Classification,
                classes,
                nf,
            ))
        }
        "GradientBoostingClassifier" | "GradientBoostingRegressor" => {
            let (form, routes_missing, task, classes, nf) = boosting::gradient_boosting(node)?;
            let estimator = Estimator {
                form,
                routes_missing,
            };
            Ok((estimator, task, classes, nf))
        }
        "HistGradientBoostingClassifier" | "HistGradientBoostingRegressor" => {
            let (form, routes_missing, task, classes, nf) = boosting::hist_gradient_boosting(node)?;
            let estimator = Estimator {
                form,
                routes_missing,
            };
            Ok((estimator, task, classes, nf))
        }
        other => Err(bad(format!(
            "unsupported estimator {other}: mlx predicts with {}",
            SUPPORTED.join(", ")
        ))),
    }
}

/// A linear model: coefficients and intercepts, and for `LogisticRegression` its classes and multi-class scheme.
fn linear_estimator(
    node: &Node,
    class: &str,
) -> Result<(Estimator, Task, Vec<Value>, usize), SkopsError> {
    let (coef, shape) = node.array("coef_")?;
    let intercept = node
        .attr("intercept_")?
        .as_f64s()
        .ok_or_else(|| bad(format!("{class}.intercept_ is not numeric")))?;
    let (rows, nf) = match shape.as_slice() {
        [nf] => (1, *nf),
        [rows, nf] => (*rows, *nf),
        _ => return Err(bad(format!("{class}.coef_ has shape {shape:?}"))),
    };
    check_len(&format!("{class}.intercept_"), &intercept, rows)?;
    if class == "LogisticRegression" {
        let classes = labels(node)?;
        let k = classes.len();
        if k < 2 || !(rows == 1 && k == 2 || rows == k) {
            return Err(bad(format!(
                "LogisticRegression has {rows} coefficient rows for {k} classes"
            )));
        }
        let ovr = match node.get("multi_class") {
            Some(Node::Json(Value::String(m))) if m == "ovr" => true,
            Some(Node::Json(Value::String(m))) if m == "auto" => {
                node.text("solver").is_ok_and(|s| s == "liblinear")
            }
            _ => false,
        };
        let multi = if ovr && k > 2 {
            Multi::OneVsRest
        } else {
            Multi::Softmax
        };
        Ok((
            Estimator::refusing_missing(Fitted::Linear {
                coef: rows_of(&coef, rows, nf),
                intercept,
                label: LabelRule::Decision,
                multi,
            }),
            Task::Classification,
            classes,
            nf,
        ))
    } else {
        if rows != 1 {
            return Err(bad(format!(
                "{class} with {rows} targets is not supported (one target only)"
            )));
        }
        Ok((
            Estimator::refusing_missing(Fitted::linear(vec![coef], intercept)),
            Task::Regression,
            Vec::new(),
            nf,
        ))
    }
}

/// A decision tree, or a forest of them (`estimators_`).
fn tree_estimator(
    node: &Node,
    class: &str,
) -> Result<(Estimator, Task, Vec<Value>, usize), SkopsError> {
    let classification = class.ends_with("Classifier");
    let nf = node.number("n_features_in_")?;
    if !(nf >= 0.0 && nf.fract() == 0.0 && nf < 1e9) {
        return Err(bad(format!("{class}.n_features_in_ is {nf}")));
    }
    let nf = nf as usize;
    if node
        .get("n_outputs_")
        .and_then(Node::as_f64s)
        .is_some_and(|v| v != [1.0])
    {
        return Err(bad(format!(
            "{class} with several outputs is not supported"
        )));
    }
    let classes = if classification {
        labels(node)?
    } else {
        Vec::new()
    };
    let members: Vec<&Node> = match node.get("estimators_") {
        Some(list) => list
            .items()
            .ok_or_else(|| bad(format!("{class}.estimators_ is not a list")))?
            .iter()
            .collect(),
        None => vec![node],
    };
    if members.is_empty() {
        return Err(bad(format!("{class} has no trees")));
    }
    let leaf_classes = classification.then_some(classes.len());
    let trees = members
        .iter()
        .map(|m| {
            if !m.class_name().contains("Tree") {
                return Err(bad(format!("{class} holds a {}", m.class_name())));
            }
            Ok((tree_nodes(m, nf, leaf_classes)?, 0))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (task, combine) = if classification {
        (Task::Classification, Combine::MeanOfProportions)
    } else {
        (Task::Regression, Combine::Mean)
    };
    // scikit-learn casts its input to float32 and compares it with float64 thresholds, `<=` going left.
    let rules = Rules {
        strict_less: false,
        f32_features: true,
        f32_sum: false,
        unknown_category_missing: false,
        combine,
    };
    let forest = Ensemble::new(trees, nf, leaf_classes.unwrap_or(1), rules)
        .map_err(|e| bad(format!("{class}: {e}")))?;
    let estimator = Estimator {
        form: Fitted::forest(forest),
        routes_missing: true,
    };
    Ok((estimator, task, classes, nf))
}

/// k-nearest neighbours: the training rows and targets, k and the weighting (Euclidean distance only).
fn knn_estimator(
    node: &Node,
    class: &str,
) -> Result<(Estimator, Task, Vec<Value>, usize), SkopsError> {
    let metric = node.text("effective_metric_").unwrap_or("");
    let p2 = node
        .get("p")
        .and_then(Node::as_f64s)
        .is_some_and(|p| p == [2.0]);
    if !(metric == "euclidean" || metric == "minkowski" && p2) {
        return Err(bad(format!(
            "{class} with metric {metric:?} is not supported (euclidean only)"
        )));
    }
    let weights = match node.text("weights") {
        Ok("uniform") => Weights::Uniform,
        Ok("distance") => Weights::Distance,
        _ => {
            return Err(bad(format!(
                "{class}: only weights 'uniform' or 'distance' are supported"
            )));
        }
    };
    let (x, shape) = node.array("_fit_X")?;
    let [n, nf] = shape[..] else {
        return Err(bad(format!("{class}._fit_X has shape {shape:?}")));
    };
    let (y, yshape) = node.array("_y")?;
    if yshape != [n] {
        return Err(bad(format!(
            "{class}._y has shape {yshape:?} for {n} rows (one output only)"
        )));
    }
    let k = node.number("n_neighbors")?;
    if !(k >= 1.0 && k <= n as f64 && k.fract() == 0.0) {
        return Err(bad(format!("{class}.n_neighbors is {k} for {n} rows")));
    }
    let (classes, task) = if class == "KNeighborsClassifier" {
        let classes = labels(node)?;
        if y.iter()
            .any(|&c| !(c >= 0.0 && (c as usize) < classes.len()))
        {
            return Err(bad(format!("{class}._y has a class index out of range")));
        }
        (classes, Task::Classification)
    } else {
        (Vec::new(), Task::Regression)
    };
    Ok((
        Estimator::refusing_missing(Fitted::Knn {
            k: k as usize,
            x,
            y,
            order: Order::Nearest,
            weights,
        }),
        task,
        classes,
        nf,
    ))
}

/// Estimators mlx predicts with (for messages and the README).
pub const SUPPORTED: &[&str] = &[
    "LogisticRegression",
    "LinearRegression",
    "Ridge",
    "Lasso",
    "ElasticNet",
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "KNeighborsClassifier",
    "KNeighborsRegressor",
    "GaussianNB",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
];

impl SklearnModel {
    /// Refuse missing values the estimator cannot take, as scikit-learn does.
    fn check_finite(&self, x: &[f64], row_offset: usize) -> Result<(), ModelError> {
        let nf = self.n_features.max(1);
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(predict_err(format!(
                "row {}: {} got a missing value in feature {} (add a SimpleImputer to the pipeline)",
                i / nf + row_offset,
                self.estimator_name(),
                i % nf
            )));
        }
        Ok(())
    }

    /// The estimator's predictions for `x` (row-major, `n_features` per row; `row_offset` numbers the
    /// rows in messages).
    pub(super) fn predict_matrix(
        &self,
        x: &[f64],
        row_offset: usize,
    ) -> Result<Predictions, ModelError> {
        let nf = self.n_features;
        let form = &self.estimator.form;
        if !self.estimator.routes_missing {
            self.check_finite(x, row_offset)?;
        }
        if self.task == Task::Regression {
            return Ok(Predictions {
                values: form
                    .predict_values(x, nf)
                    .into_iter()
                    .map(Value::from)
                    .collect(),
                proba: None,
            });
        }
        let (labels, proba) = form.predict_classes(x, nf, self.classes.len());
        Ok(Predictions {
            values: labels.iter().map(|&c| self.classes[c].clone()).collect(),
            proba: Some(proba),
        })
    }
}
