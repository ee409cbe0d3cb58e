//! scikit-learn models from MLflow's `sklearn` flavor in skops format, rebuilt from the object tree
//! (`skops.rs`) into plain Rust: transformers (scalers, imputer, encoders, `ColumnTransformer`) in front
//! of one estimator, each predicting as scikit-learn does (same formulas, same order of operations where
//! it shows in the last bits, the same float32 comparison in trees). Classes outside the supported lists
//! are refused by name.
//!
//! This file holds the model (`SklearnModel`: loading, the columns it reads, the `ForeignModel` impl);
//! `pipeline.rs` decodes and replays the transformers, `estimators.rs` decodes the final estimator (into
//! one of mlx's forms, with scikit-learn's arithmetic as its options, or the checked tree ensemble) and
//! predicts with it, `boosting.rs` reads scikit-learn's gradient boosting, `tree_nodes.rs` one fitted tree.

mod boosting;
mod estimators;
mod pipeline;
mod tree_nodes;

use super::skops::{self, Node, SkopsError};
use super::{ForeignInput, ForeignModel};
use crate::ml::core::{ModelError, Predictions, Task};
use crate::ml::data::{Column, Table};
use estimators::{Estimator, estimator};
use pipeline::{Col, Frame, Transform, n_rows, numeric, pipeline_parts, run_steps, transform};
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;
use std::path::Path;

/// Why a prediction failed, naming the step.
fn predict_err(why: String) -> ModelError {
    ModelError::Input(crate::ml::core::PreprocessError::Invalid(why))
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
                 never pickles; {}",
                if format.is_empty() { "pickle" } else { format },
                super::IMPORT_UNPICKLES
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
    let inputs = super::signature_inputs(dir, mlmodel)?;
    from_skops(&bytes, inputs).map_err(|e| load_err(&path, e.0))
}

/// Build a model from the bytes of a skops file; `inputs` from the signature (else the fitted feature names).
pub fn from_skops(
    bytes: &[u8],
    inputs: Option<Vec<ForeignInput>>,
) -> Result<SklearnModel, SkopsError> {
    from_tree(&skops::read(bytes)?, inputs)
}

/// Build the model from its object tree; `inputs` from the signature (else the fitted feature names).
fn from_tree(tree: &Node, inputs: Option<Vec<ForeignInput>>) -> Result<SklearnModel, SkopsError> {
    let (step_nodes, est_node) = pipeline_parts(tree)?;
    let (estimator, task, classes, n_features) = estimator(est_node)?;
    let mut steps = step_nodes
        .iter()
        .map(|n| transform(n))
        .collect::<Result<Vec<_>, _>>()?;
    // A HistGradientBoosting* fitted with categorical features encodes them itself (an OrdinalEncoder
    // in a ColumnTransformer, categorical columns first): run it as the last step.
    if matches!(est_node, Node::Object { class, .. } if class.contains("HistGradientBoosting")) {
        match est_node.get("_preprocessor") {
            None | Some(Node::Json(Value::Null)) => {}
            Some(pre) => steps.push(transform(pre)?),
        }
    }
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
        let frame = self.frame(table, row_offset)?;
        let frame = run_steps(&self.steps, frame, &self.columns).map_err(predict_err)?;
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

#[cfg(test)]
mod tests;
