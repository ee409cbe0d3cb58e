//! scikit-learn models from MLflow's `sklearn` flavor in skops format, rebuilt from the object tree
//! (`skops.rs`) into plain Rust: transformers (scalers, imputer, encoders, `ColumnTransformer`) in front
//! of one estimator, each predicting as scikit-learn does (same formulas, same order of operations where
//! it shows in the last bits, the same float32 comparison in trees). Classes outside this file's list are
//! refused by name.

use super::skops::{self, Node, SkopsError};
use super::{ForeignInput, ForeignModel};
use crate::ml::data::{Column, Table};
use crate::ml::estimator::Task;
use crate::ml::model::{ModelError, Predictions};
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;
use std::path::Path;

/// Rows in flight between steps: one entry per column, numbers (NaN = missing) or text.
#[derive(Debug, Clone)]
enum Col {
    Num(Vec<f64>),
    Text(Vec<Option<String>>),
}

type Frame = Vec<Col>;

fn n_rows(frame: &Frame) -> usize {
    frame.first().map_or(0, |c| match c {
        Col::Num(v) => v.len(),
        Col::Text(v) => v.len(),
    })
}

/// Why a prediction failed, naming the step.
fn predict_err(why: String) -> ModelError {
    ModelError::Input(crate::ml::preprocess::PreprocessError::Invalid(why))
}

/// A fitted transformer.
#[derive(Debug, Clone)]
enum Transform {
    Identity,
    Standard {
        mean: Option<Vec<f64>>,
        scale: Option<Vec<f64>>,
    },
    Pipeline(Vec<Transform>),
}

/// A fitted estimator.
#[derive(Debug, Clone)]
enum Estimator {
    /// `coef` is `k × nf` row-major: one row for regression and binary classification.
    Linear {
        coef: Vec<f64>,
        intercept: Vec<f64>,
        logistic: Option<Logistic>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Logistic {
    /// Binary, or multinomial (softmax) for more classes.
    Multinomial,
    /// One-vs-rest: each class's sigmoid, normalised (old `multi_class="ovr"` / liblinear models).
    OneVsRest,
}

#[derive(Debug)]
pub struct SklearnModel {
    class: String,
    inputs: Vec<ForeignInput>,
    /// The columns the first step sees, in its order (names of `inputs`).
    columns: Vec<String>,
    classes: Vec<Value>,
    task: Task,
    steps: Vec<Transform>,
    estimator: Estimator,
    n_features: usize,
    sklearn_version: String,
}

fn bad(why: impl Into<String>) -> SkopsError {
    SkopsError(why.into())
}

/// The objects of a `Pipeline`'s steps, in order.
fn pipeline_steps(node: &Node) -> Result<Vec<&Node>, SkopsError> {
    let steps = node
        .attr("steps")?
        .items()
        .ok_or_else(|| bad("Pipeline.steps is not a list"))?;
    steps
        .iter()
        .map(|s| {
            s.items()
                .filter(|p| p.len() == 2)
                .map(|p| &p[1])
                .ok_or_else(|| bad("a Pipeline step is not a (name, estimator) pair"))
        })
        .collect()
}

/// A (steps, final estimator) split of a `Pipeline`, or the estimator alone.
fn pipeline_parts(node: &Node) -> Result<(Vec<&Node>, &Node), SkopsError> {
    if node.class_name() != "Pipeline" {
        return Ok((Vec::new(), node));
    }
    let mut objs = pipeline_steps(node)?;
    let last = objs.pop().ok_or_else(|| bad("an empty Pipeline"))?;
    if last.class_name() == "Pipeline" {
        let (inner, est) = pipeline_parts(last)?;
        objs.extend(inner);
        return Ok((objs, est));
    }
    Ok((objs, last))
}

fn transform(node: &Node) -> Result<Transform, SkopsError> {
    let flag = |key: &str| matches!(node.get(key), Some(Node::Json(Value::Bool(true))) | None);
    Ok(match node {
        Node::Json(Value::String(s)) if s == "passthrough" => Transform::Identity,
        Node::Json(Value::Null) => Transform::Identity,
        _ => match node.class_name() {
            "StandardScaler" => Transform::Standard {
                mean: if flag("with_mean") {
                    node.get("mean_").and_then(Node::as_f64s)
                } else {
                    None
                },
                scale: if flag("with_std") {
                    node.get("scale_").and_then(Node::as_f64s)
                } else {
                    None
                },
            },
            "FunctionTransformer" => {
                if !matches!(node.get("func"), None | Some(Node::Json(Value::Null))) {
                    return Err(bad("FunctionTransformer with a function is not supported"));
                }
                Transform::Identity
            }
            "Pipeline" => {
                let steps = pipeline_steps(node)?;
                Transform::Pipeline(steps.into_iter().map(transform).collect::<Result<_, _>>()?)
            }
            other => return Err(bad(format!("unsupported transformer {other}"))),
        },
    })
}

fn check_len(what: &str, v: &[f64], n: usize) -> Result<(), SkopsError> {
    if v.len() != n {
        return Err(bad(format!("{what} has {} values, expected {n}", v.len())));
    }
    Ok(())
}

fn labels(node: &Node) -> Result<Vec<Value>, SkopsError> {
    node.attr("classes_")?.as_values().ok_or_else(|| {
        bad(format!(
            "{}.classes_ is not a list of labels",
            node.class_name()
        ))
    })
}

/// The estimator, its task, classes and number of features.
fn estimator(node: &Node) -> Result<(Estimator, Task, Vec<Value>, usize), SkopsError> {
    let class = node.class_name();
    match class {
        "LogisticRegression" | "LinearRegression" | "Ridge" | "Lasso" | "ElasticNet" => {
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
                let logistic = if ovr && k > 2 {
                    Logistic::OneVsRest
                } else {
                    Logistic::Multinomial
                };
                Ok((
                    Estimator::Linear {
                        coef,
                        intercept,
                        logistic: Some(logistic),
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
                    Estimator::Linear {
                        coef,
                        intercept,
                        logistic: None,
                    },
                    Task::Regression,
                    Vec::new(),
                    nf,
                ))
            }
        }
        other => Err(bad(format!(
            "unsupported estimator {other}: mlx predicts with {}",
            SUPPORTED.join(", ")
        ))),
    }
}

/// Estimators mlx predicts with (for messages and the README).
pub const SUPPORTED: &[&str] = &[
    "LogisticRegression",
    "LinearRegression",
    "Ridge",
    "Lasso",
    "ElasticNet",
];

/// Load the `sklearn` flavor of the model in `dir`.
pub fn load(dir: &Path, flavor: &Yaml, mlmodel: &Yaml) -> Result<SklearnModel, ModelError> {
    let field = |k: &str| flavor.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let mlmodel_path = dir.join("MLmodel");
    let load_err = |path: &Path, why: String| ModelError::Load {
        path: path.display().to_string(),
        why,
    };
    let format = field("serialization_format");
    if format != "skops" {
        return Err(load_err(
            &mlmodel_path,
            format!(
                "a scikit-learn model in {} format: mlx reads only the skops format (MLflow 3's default), \
                 never pickles; convert it once with `mlx models import`",
                if format.is_empty() { "pickle" } else { format }
            ),
        ));
    }
    let file = field("pickled_model");
    if file.is_empty()
        || !file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        || file.starts_with('.')
    {
        return Err(load_err(
            &mlmodel_path,
            format!("bad pickled_model {file:?}"),
        ));
    }
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|e| load_err(&path, e.to_string()))?;
    let tree = skops::read(&bytes).map_err(|e| load_err(&path, e.0))?;
    let inputs = super::signature_inputs(dir, mlmodel)?;
    from_tree(&tree, inputs).map_err(|e| load_err(&path, e.0))
}

/// Build the model from its object tree; `inputs` from the signature (else the fitted feature names).
fn from_tree(tree: &Node, inputs: Option<Vec<ForeignInput>>) -> Result<SklearnModel, SkopsError> {
    let (step_nodes, est_node) = pipeline_parts(tree)?;
    let (estimator, task, classes, n_features) = estimator(est_node)?;
    let steps = step_nodes
        .iter()
        .map(|n| transform(n))
        .collect::<Result<Vec<_>, _>>()?;
    let first = step_nodes.first().copied().unwrap_or(est_node);
    let feature_names = first
        .get("feature_names_in_")
        .and_then(Node::as_values)
        .map(|v| {
            v.into_iter()
                .map(|n| match n {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect::<Vec<String>>()
        });
    let inputs = match (inputs, &feature_names) {
        (Some(i), _) => i,
        (None, Some(names)) => names
            .iter()
            .map(|n| ForeignInput {
                name: n.clone(),
                kind: "double".into(),
            })
            .collect(),
        (None, None) => {
            return Err(bad(
                "the model has neither an MLflow signature nor feature names; log it with a signature \
                 (mlflow.models.infer_signature on a DataFrame)",
            ));
        }
    };
    // scikit-learn matches columns by the names it was fitted with, in that order.
    let columns = match feature_names {
        Some(names) => {
            for n in &names {
                if !inputs.iter().any(|i| i.name == *n) {
                    return Err(bad(format!(
                        "the model was fitted on column {n:?}, which its signature does not have"
                    )));
                }
            }
            names
        }
        None => inputs.iter().map(|i| i.name.clone()).collect(),
    };
    if steps.is_empty() && columns.len() != n_features {
        return Err(bad(format!(
            "{} expects {n_features} features, the signature has {}",
            est_node.class_name(),
            columns.len()
        )));
    }
    let sklearn_version = match tree.get("_sklearn_version") {
        Some(Node::Json(Value::String(v))) => v.clone(),
        _ => String::new(),
    };
    Ok(SklearnModel {
        class: if tree.class_name() == "Pipeline" {
            format!("Pipeline({})", est_node.class_name())
        } else {
            tree.class_name().to_string()
        },
        inputs,
        columns,
        classes,
        task,
        steps,
        estimator,
        n_features,
        sklearn_version,
    })
}

impl Transform {
    fn apply(&self, frame: Frame) -> Result<Frame, String> {
        Ok(match self {
            Transform::Identity => frame,
            Transform::Pipeline(steps) => {
                let mut f = frame;
                for s in steps {
                    f = s.apply(f)?;
                }
                f
            }
            Transform::Standard { mean, scale } => {
                let cols = numeric(frame, "StandardScaler")?;
                let width = cols.len();
                for (what, v) in [("mean", mean), ("scale", scale)] {
                    if let Some(v) = v
                        && v.len() != width
                    {
                        return Err(format!(
                            "StandardScaler: {width} columns in, fitted {what} has {}",
                            v.len()
                        ));
                    }
                }
                cols.into_iter()
                    .enumerate()
                    .map(|(j, mut c)| {
                        for x in c.iter_mut() {
                            if let Some(m) = mean {
                                *x -= m[j];
                            }
                            if let Some(s) = scale {
                                *x /= s[j];
                            }
                        }
                        Col::Num(c)
                    })
                    .collect()
            }
        })
    }
}

/// Every column as numbers (text that parses as a number is accepted, as numpy's conversion does).
fn numeric(frame: Frame, step: &str) -> Result<Vec<Vec<f64>>, String> {
    frame
        .into_iter()
        .map(|c| match c {
            Col::Num(v) => Ok(v),
            Col::Text(v) => v
                .iter()
                .map(|s| match s {
                    None => Ok(f64::NAN),
                    Some(s) => s.trim().parse::<f64>().map_err(|_| {
                        format!("{step}: {:?} is not a number", crate::redact::brief(s))
                    }),
                })
                .collect(),
        })
        .collect()
}

fn expit(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// scikit-learn's softmax: subtract the row's maximum, exponentiate, divide by the sum.
fn softmax(z: &mut [f64]) {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for v in z.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    for v in z.iter_mut() {
        *v /= s;
    }
}

/// numpy's argmax: the first maximum.
fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best
}

impl SklearnModel {
    fn frame(&self, table: &Table, row_offset: usize) -> Result<Frame, ModelError> {
        self.columns
            .iter()
            .map(|name| {
                let input = self
                    .inputs
                    .iter()
                    .find(|i| i.name == *name)
                    .expect("checked at load");
                let col = super::column(table, name)?;
                Ok(match (input.kind.as_str(), col) {
                    ("string", Column::Text(v)) => Col::Text(v.clone()),
                    ("string", Column::Numeric(v)) => Col::Text(
                        v.iter()
                            .map(|x| x.map(crate::ml::data::format_number))
                            .collect(),
                    ),
                    _ => Col::Num(
                        (0..table.n_rows)
                            .map(|r| {
                                super::cell_f64(col, r)
                                    .map_err(|why| super::cell_err(input, r + row_offset, why))
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                })
            })
            .collect()
    }

    /// The features the estimator sees, row-major.
    fn features(&self, table: &Table, row_offset: usize) -> Result<Vec<f64>, ModelError> {
        let mut frame = self.frame(table, row_offset)?;
        for s in &self.steps {
            frame = s.apply(frame).map_err(predict_err)?;
        }
        let n = n_rows(&frame).max(if frame.is_empty() { table.n_rows } else { 0 });
        let cols = numeric(frame, self.estimator_name()).map_err(predict_err)?;
        if cols.len() != self.n_features {
            return Err(predict_err(format!(
                "{} expects {} features, the steps before it give {}",
                self.estimator_name(),
                self.n_features,
                cols.len()
            )));
        }
        let nf = self.n_features;
        let mut x = vec![0.0; n * nf];
        for (j, c) in cols.iter().enumerate() {
            for (r, v) in c.iter().enumerate() {
                x[r * nf + j] = *v;
            }
        }
        Ok(x)
    }

    fn estimator_name(&self) -> &str {
        self.class
            .strip_prefix("Pipeline(")
            .and_then(|c| c.strip_suffix(')'))
            .unwrap_or(&self.class)
    }

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

    fn predict_matrix(&self, x: &[f64], row_offset: usize) -> Result<Predictions, ModelError> {
        let nf = self.n_features;
        let n = x.len().checked_div(nf).unwrap_or(0);
        match &self.estimator {
            Estimator::Linear {
                coef,
                intercept,
                logistic,
            } => {
                self.check_finite(x, row_offset)?;
                let rows = intercept.len();
                let mut z = vec![0.0; n * rows];
                for r in 0..n {
                    let row = &x[r * nf..(r + 1) * nf];
                    for c in 0..rows {
                        let w = &coef[c * nf..(c + 1) * nf];
                        z[r * rows + c] =
                            row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + intercept[c];
                    }
                }
                match logistic {
                    None => Ok(Predictions {
                        values: z.into_iter().map(Value::from).collect(),
                        proba: None,
                    }),
                    Some(kind) => {
                        let k = self.classes.len();
                        let mut proba = vec![0.0; n * k];
                        let mut values = Vec::with_capacity(n);
                        for r in 0..n {
                            let d = &z[r * rows..(r + 1) * rows];
                            let p = &mut proba[r * k..(r + 1) * k];
                            if rows == 1 {
                                p[1] = expit(d[0]);
                                p[0] = 1.0 - p[1];
                                values.push(self.classes[usize::from(d[0] > 0.0)].clone());
                                continue;
                            }
                            p.copy_from_slice(d);
                            match kind {
                                Logistic::Multinomial => softmax(p),
                                Logistic::OneVsRest => {
                                    p.iter_mut().for_each(|v| *v = expit(*v));
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
                }
            }
        }
    }
}

impl ForeignModel for SklearnModel {
    fn task(&self) -> Task {
        self.task
    }
    fn classes(&self) -> &[Value] {
        &self.classes
    }
    fn inputs(&self) -> &[ForeignInput] {
        &self.inputs
    }
    fn predict(&self, table: &Table, row_offset: usize) -> Result<Predictions, ModelError> {
        let x = self.features(table, row_offset)?;
        self.predict_matrix(&x, row_offset)
    }
    fn describe(&self) -> Value {
        serde_json::json!({
            "flavor": "sklearn",
            "format": "skops",
            "class": self.class,
            "sklearn_version": self.sklearn_version,
            "n_features": self.n_features,
            "classes": self.classes,
        })
    }
}
