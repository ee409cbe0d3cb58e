//! The final estimator of a scikit-learn model: decoded from the skops object tree (linear models,
//! decision trees and forests, k-nearest neighbours, Gaussian naive Bayes; gradient boosting through
//! `boosting.rs`) and its prediction on the features the pipeline's steps produced.

use super::{SklearnModel, bad, boosting, check_len, labels, predict_err};
use crate::ml::core::{ModelError, Predictions, Task};
use crate::ml::core::{argmax, sigmoid, softmax_in_place as softmax};
use crate::ml::foreign::skops::{Node, SkopsError};
use crate::ml::foreign::trees::{Combine, Ensemble, Missing, RawNode, Rules};
use crate::ml::forms::Fitted;
use serde_json::Value;

/// A fitted estimator.
#[derive(Debug, Clone)]
pub(super) enum Estimator {
    /// `LogisticRegression`: `coef` is `k × nf` row-major, one row for binary classification.
    Logistic {
        coef: Vec<f64>,
        intercept: Vec<f64>,
        multi_class: MultiClass,
    },
    /// `LinearRegression`, `Ridge`, `Lasso`, `ElasticNet` as mlx's own fitted linear form: its
    /// prediction is scikit-learn's arithmetic (coefficients times features summed in order, then the
    /// intercept), so mlx's code predicts it.
    LinearRegression(Fitted),
    /// A tree or a forest: regression averages the trees' leaves, classification each tree's class
    /// weights made proportions ([`Combine::Mean`], [`Combine::MeanOfProportions`]).
    Trees(Ensemble),
    Knn {
        x: Vec<f64>,
        /// Class indices (classification) or targets (regression).
        y: Vec<f64>,
        k: usize,
        distance_weights: bool,
    },
    GaussianNb {
        theta: Vec<f64>,
        var: Vec<f64>,
        prior: Vec<f64>,
    },
    /// `GradientBoosting*` and `HistGradientBoosting*`.
    Boosted(boosting::Boosted),
}

/// The nodes of one of scikit-learn's fitted trees (`tree_`) as the checked tree type reads them:
/// leaves with the prediction (`classes: None`) or the class weights (`Some(k)`, one per class).
/// Children must come after their parent (scikit-learn builds depth first) and features be in range.
pub(super) fn tree_nodes(
    est: &Node,
    nf: usize,
    classes: Option<usize>,
) -> Result<Vec<RawNode>, SkopsError> {
    let class = est.class_name().to_string();
    let t = est.attr("tree_")?;
    let Node::Array(nodes) = t.attr("nodes")? else {
        return Err(bad(format!("{class}.tree_.nodes is not an array")));
    };
    let n = nodes.len();
    let field = |f: &str| {
        nodes
            .field_i64(f)
            .map_err(|e| bad(format!("{class}.tree_.nodes: {e}")))
    };
    let (left, right, feature) = (
        field("left_child")?,
        field("right_child")?,
        field("feature")?,
    );
    let missing_left = match nodes.field_i64("missing_go_to_left") {
        Ok(m) => m.into_iter().map(|v| v != 0).collect(),
        Err(_) => vec![false; n],
    };
    let threshold = nodes
        .field_f64("threshold")
        .map_err(|e| bad(format!("{class}.tree_.nodes: {e}")))?;
    let width = classes.unwrap_or(1);
    let (value, shape) = t.array("values")?;
    if shape.len() != 3 || shape[0] != n || shape[1] != 1 || shape[2] < width {
        return Err(bad(format!(
            "{class}.tree_.values has shape {shape:?} for {n} nodes (one output of {width} values expected)"
        )));
    }
    if n == 0 {
        return Err(bad(format!("{class}.tree_ has no nodes")));
    }
    let stride = shape[2];
    (0..n)
        .map(|i| {
            if left[i] == -1 && right[i] == -1 {
                let values = &value[i * stride..i * stride + width];
                return Ok(match classes {
                    None => RawNode::Leaf { value: values[0] },
                    Some(_) => RawNode::Leaves {
                        values: values.to_vec(),
                    },
                });
            }
            // Children after their parent also rules out cycles: every walk moves forward and ends.
            let child = |c: i64| usize::try_from(c).ok().filter(|&c| c > i && c < n);
            match (
                child(left[i]),
                child(right[i]),
                usize::try_from(feature[i]).ok().filter(|&f| f < nf),
            ) {
                (Some(left), Some(right), Some(feature)) => Ok(RawNode::Split {
                    feature,
                    threshold: threshold[i],
                    left,
                    right,
                    default_left: missing_left[i],
                    missing: Missing::Nan,
                    categories: None,
                }),
                _ => Err(bad(format!(
                    "{class}.tree_: node {i} has children {} and {} and feature {} (out of range for {n} nodes and {nf} features)",
                    left[i], right[i], feature[i]
                ))),
            }
        })
        .collect()
}

/// How a `LogisticRegression` of more than two classes turns its decision values into probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum MultiClass {
    /// Binary, or multinomial (softmax) for more classes.
    Multinomial,
    /// One-vs-rest: each class's sigmoid, normalised (old `multi_class="ovr"` / liblinear models).
    OneVsRest,
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
            Ok((
                Estimator::GaussianNb { theta, var, prior },
                Task::Classification,
                classes,
                nf,
            ))
        }
        "GradientBoostingClassifier" | "GradientBoostingRegressor" => {
            let (b, task, classes, nf) = boosting::gradient_boosting(node)?;
            Ok((Estimator::Boosted(b), task, classes, nf))
        }
        "HistGradientBoostingClassifier" | "HistGradientBoostingRegressor" => {
            let (b, task, classes, nf) = boosting::hist_gradient_boosting(node)?;
            Ok((Estimator::Boosted(b), task, classes, nf))
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
        let multi_class = if ovr && k > 2 {
            MultiClass::OneVsRest
        } else {
            MultiClass::Multinomial
        };
        Ok((
            Estimator::Logistic {
                coef,
                intercept,
                multi_class,
            },
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
            Estimator::LinearRegression(Fitted::Linear {
                coef: vec![coef],
                intercept,
            }),
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
    Ok((Estimator::Trees(forest), task, classes, nf))
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
    let distance_weights = match node.text("weights") {
        Ok("uniform") => false,
        Ok("distance") => true,
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
        Estimator::Knn {
            x,
            y,
            k: k as usize,
            distance_weights,
        },
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
        let n = x.len().checked_div(nf).unwrap_or(0);
        match &self.estimator {
            Estimator::Logistic {
                coef,
                intercept,
                multi_class,
            } => self.predict_logistic(x, row_offset, coef, intercept, *multi_class),
            Estimator::LinearRegression(fitted) => {
                self.check_finite(x, row_offset)?;
                Ok(Predictions {
                    values: fitted
                        .predict_values(x, nf)
                        .into_iter()
                        .map(Value::from)
                        .collect(),
                    proba: None,
                })
            }
            Estimator::Trees(forest) => {
                let k = forest.n_groups();
                // The sum starts at -0.0 for regression, as Rust's float sum does (this is how mlx has
                // always summed a forest), and at 0.0 for the class proportions.
                let start = if self.task == Task::Regression {
                    -0.0
                } else {
                    0.0
                };
                let mut out = vec![start; n * k];
                for (row, o) in x.chunks_exact(nf.max(1)).zip(out.chunks_exact_mut(k)) {
                    forest.raw_scores(row, o);
                }
                if self.task == Task::Regression {
                    return Ok(Predictions {
                        values: out.into_iter().map(Value::from).collect(),
                        proba: None,
                    });
                }
                Ok(self.classified(out))
            }
            Estimator::Knn {
                x: tx,
                y,
                k,
                distance_weights,
            } => self.predict_knn(x, row_offset, tx, y, *k, *distance_weights),
            Estimator::Boosted(b) => {
                if !b.allow_missing() {
                    self.check_finite(x, row_offset)?;
                }
                Ok(b.predict(x, nf, &self.classes))
            }
            Estimator::GaussianNb { theta, var, prior } => {
                self.check_finite(x, row_offset)?;
                let k = self.classes.len();
                let mut proba = vec![0.0; n * k];
                let mut values = Vec::with_capacity(n);
                for (r, row) in x.chunks_exact(nf.max(1)).take(n).enumerate() {
                    let jll = &mut proba[r * k..(r + 1) * k];
                    for c in 0..k {
                        let (th, v) = (&theta[c * nf..(c + 1) * nf], &var[c * nf..(c + 1) * nf]);
                        let norm: f64 = v
                            .iter()
                            .map(|s| (2.0 * std::f64::consts::PI * s).ln())
                            .sum();
                        let sq: f64 = row
                            .iter()
                            .zip(th)
                            .zip(v)
                            .map(|((x, t), s)| (x - t).powi(2) / s)
                            .sum();
                        jll[c] = prior[c].ln() + (-0.5 * norm - 0.5 * sq);
                    }
                    values.push(self.classes[argmax(jll)].clone());
                    // scipy's logsumexp, then exp(jll - lse).
                    let m = jll.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let lse = jll.iter().map(|v| (v - m).exp()).sum::<f64>().ln() + m;
                    jll.iter_mut().for_each(|v| *v = (*v - lse).exp());
                }
                Ok(Predictions {
                    values,
                    proba: Some(proba),
                })
            }
        }
    }

    /// A logistic regression's labels (from the decision values, as scikit-learn picks them) and
    /// probabilities (binary, multinomial or one-vs-rest).
    fn predict_logistic(
        &self,
        x: &[f64],
        row_offset: usize,
        coef: &[f64],
        intercept: &[f64],
        multi_class: MultiClass,
    ) -> Result<Predictions, ModelError> {
        let nf = self.n_features;
        let n = x.len().checked_div(nf).unwrap_or(0);
        self.check_finite(x, row_offset)?;
        let rows = intercept.len();
        let mut z = vec![0.0; n * rows];
        for r in 0..n {
            let row = &x[r * nf..(r + 1) * nf];
            for c in 0..rows {
                let w = &coef[c * nf..(c + 1) * nf];
                z[r * rows + c] = row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + intercept[c];
            }
        }
        let k = self.classes.len();
        let mut proba = vec![0.0; n * k];
        let mut values = Vec::with_capacity(n);
        for r in 0..n {
            let d = &z[r * rows..(r + 1) * rows];
            let p = &mut proba[r * k..(r + 1) * k];
            if rows == 1 {
                p[1] = sigmoid(d[0]);
                p[0] = 1.0 - p[1];
                values.push(self.classes[usize::from(d[0] > 0.0)].clone());
                continue;
            }
            p.copy_from_slice(d);
            match multi_class {
                MultiClass::Multinomial => softmax(p),
                MultiClass::OneVsRest => {
                    p.iter_mut().for_each(|v| *v = sigmoid(*v));
                    let s: f64 = p.iter().sum();
                    if s == 0.0 {
                        p.iter_mut().for_each(|v| *v = 1.0 / k as f64);
                    } else {
                        p.iter_mut().for_each(|v| *v /= s);
                    }
                }
            }
            values.push(self.classes[argmax(d)].clone());
        }
        Ok(Predictions {
            values,
            proba: Some(proba),
        })
    }

    /// k-nearest neighbours (Euclidean): the (distance-weighted) mean of their targets, or their
    /// (weighted) class shares.
    fn predict_knn(
        &self,
        x: &[f64],
        row_offset: usize,
        tx: &[f64],
        y: &[f64],
        k: usize,
        distance_weights: bool,
    ) -> Result<Predictions, ModelError> {
        let nf = self.n_features;
        let n = x.len().checked_div(nf).unwrap_or(0);
        self.check_finite(x, row_offset)?;
        let classes = self.classes.len();
        let mut values = Vec::with_capacity(n);
        let mut proba = vec![0.0; n * classes];
        for (r, row) in x.chunks_exact(nf.max(1)).take(n).enumerate() {
            let mut found: Vec<(f64, usize)> = crate::ml::forms::nearest(tx, nf, row, k)
                .into_iter()
                .map(|i| {
                    let t = &tx[i * nf..(i + 1) * nf];
                    let d2: f64 = t.iter().zip(row).map(|(a, b)| (a - b) * (a - b)).sum();
                    (d2.sqrt(), i)
                })
                .collect();
            // scikit-learn hands neighbours on nearest first.
            found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let weights: Vec<f64> = if !distance_weights {
                vec![1.0; found.len()]
            } else if found.iter().any(|(d, _)| *d == 0.0) {
                found
                    .iter()
                    .map(|(d, _)| f64::from(u8::from(*d == 0.0)))
                    .collect()
            } else {
                found.iter().map(|(d, _)| 1.0 / d).collect()
            };
            if self.task == Task::Regression {
                let v = if distance_weights {
                    found
                        .iter()
                        .zip(&weights)
                        .map(|((_, i), w)| y[*i] * w)
                        .sum::<f64>()
                        / weights.iter().sum::<f64>()
                } else {
                    found.iter().map(|(_, i)| y[*i]).sum::<f64>() / found.len() as f64
                };
                values.push(Value::from(v));
                continue;
            }
            let p = &mut proba[r * classes..(r + 1) * classes];
            for ((_, i), w) in found.iter().zip(&weights) {
                p[y[*i] as usize] += w;
            }
            let total: f64 = p.iter().sum();
            p.iter_mut().for_each(|v| *v /= total);
        }
        if self.task == Task::Regression {
            return Ok(Predictions {
                values,
                proba: None,
            });
        }
        Ok(self.classified(proba))
    }

    /// Labels (the first most probable class) beside the probabilities.
    fn classified(&self, proba: Vec<f64>) -> Predictions {
        let k = self.classes.len().max(1);
        let values = proba
            .chunks_exact(k)
            .map(|p| self.classes[argmax(p)].clone())
            .collect();
        Predictions {
            values,
            proba: Some(proba),
        }
    }
}
