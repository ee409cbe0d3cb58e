//! MLflow's `lightgbm` and `xgboost` flavors as [`ForeignModel`]s: the flavor's file read by
//! `lightgbm.rs` / `xgboost.rs`, the input columns from the signature, class labels from the model.
//!
//! What MLflow 3 writes: a `lgb.Booster` as LightGBM's text format (`data: model.lgb`); an
//! `LGBMClassifier`/`LGBMRegressor` as a skops file (`data: model.skops`, `serialization_format: skops`)
//! whose booster keeps the same text in `_Booster._handle` and whose labels are `_classes`; any XGBoost
//! model (Booster or `XGBClassifier`/`XGBRegressor`) in XGBoost's own format (`data: model.ubj`,
//! `model_format: ubj` by default, or json). A Booster with a classification objective predicts class
//! indices 0..n-1 (the argmax of its probabilities, which `--with-proba` gives exactly as the library's
//! `predict` does); `XGBClassifier` labels are 0..n-1 too, as XGBoost requires.

use super::skops::{self, Node};
use super::{ForeignInput, ForeignModel, lightgbm, xgboost};
use crate::ml::core::{ModelError, Predictions, Task};
use crate::ml::data::Table;
use crate::ml::forms::Fitted;
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;
use std::path::Path;

/// A LightGBM or XGBoost model read from its MLflow flavor.
#[derive(Debug)]
pub struct BoosterModel {
    flavor: &'static str,
    /// The Python class MLflow recorded (`lightgbm.basic.Booster`, `xgboost.sklearn.XGBClassifier`, ...).
    class: String,
    objective: String,
    /// The trees, base scores and the library's link, as mlx's `Boosted` form.
    form: Fitted,
    task: Task,
    classes: Vec<Value>,
    inputs: Vec<ForeignInput>,
    /// The model's features in its order, each one of the signature's columns.
    features: Vec<ForeignInput>,
}

fn load_err(path: &Path, why: impl Into<String>) -> ModelError {
    ModelError::Load {
        path: path.display().to_string(),
        why: why.into(),
    }
}

/// The flavor's `data` file in `dir`: a plain file name, never a path out of the folder.
fn data_file(dir: &Path, flavor: &Yaml) -> Result<std::path::PathBuf, ModelError> {
    let file = flavor.get("data").and_then(Yaml::as_str).unwrap_or("");
    let plain = !file.is_empty()
        && !file.starts_with('.')
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !plain {
        return Err(load_err(
            &dir.join("MLmodel"),
            format!("bad flavor data file {file:?}"),
        ));
    }
    Ok(dir.join(file))
}

/// Reads the `lightgbm` flavor of the model in `dir`.
pub fn load_lightgbm(
    dir: &Path,
    flavor: &Yaml,
    mlmodel: &Yaml,
) -> Result<BoosterModel, ModelError> {
    let path = data_file(dir, flavor)?;
    let class = flavor
        .get("model_class")
        .and_then(Yaml::as_str)
        .unwrap_or("lightgbm.basic.Booster");
    let format = flavor
        .get("serialization_format")
        .and_then(Yaml::as_str)
        .unwrap_or("");
    let (text, labels) = if path.extension().is_some_and(|e| e == "skops") {
        let bytes = std::fs::read(&path).map_err(|e| load_err(&path, e.to_string()))?;
        let tree = skops::read(&bytes).map_err(|e| load_err(&path, e.0))?;
        sklearn_wrapper(&tree).map_err(|e| load_err(&path, e))?
    } else if path
        .extension()
        .is_some_and(|e| e == "pkl" || e == "pickle")
    {
        return Err(load_err(
            &path,
            format!(
                "a pickled {class} ({} format): mlx never unpickles; {}",
                if format.is_empty() { "pickle" } else { format },
                super::IMPORT_UNPICKLES
            ),
        ));
    } else {
        let text = std::fs::read_to_string(&path).map_err(|e| load_err(&path, e.to_string()))?;
        (text, None)
    };
    let b = lightgbm::parse(&text).map_err(|e| load_err(&path, e))?;
    let classifier = b.is_classifier();
    let n_classes = if b.n_outputs == 1 { 2 } else { b.n_outputs };
    let names = b.feature_names.clone();
    let objective = b.objective.clone();
    finish(
        dir,
        mlmodel,
        &path,
        "lightgbm",
        class,
        objective,
        (b.ensemble.n_features(), b.into_form()),
        classifier,
        n_classes,
        labels,
        &names,
    )
}

/// An `LGBMClassifier`/`LGBMRegressor` from skops: the booster's model text and the class labels.
fn sklearn_wrapper(tree: &Node) -> Result<(String, Option<Vec<Value>>), String> {
    let class = tree.class_name();
    if !matches!(
        class,
        "LGBMClassifier" | "LGBMRegressor" | "LGBMRanker" | "LGBMModel"
    ) {
        return Err(format!(
            "the lightgbm flavor holds a {class}, not a LightGBM model"
        ));
    }
    let booster = tree.attr("_Booster").map_err(|e| e.0)?;
    let text = booster.text("_handle").map_err(|e| e.0)?.to_string();
    let labels = if class == "LGBMClassifier" {
        let classes = tree.attr("_classes").map_err(|e| e.0)?;
        Some(
            classes
                .as_values()
                .ok_or("LGBMClassifier._classes is not an array of labels")?,
        )
    } else {
        None
    };
    Ok((text, labels))
}

/// Reads the `xgboost` flavor of the model in `dir`.
pub fn load_xgboost(dir: &Path, flavor: &Yaml, mlmodel: &Yaml) -> Result<BoosterModel, ModelError> {
    let path = data_file(dir, flavor)?;
    let class = flavor
        .get("model_class")
        .and_then(Yaml::as_str)
        .unwrap_or("xgboost.core.Booster");
    let format = flavor
        .get("model_format")
        .and_then(Yaml::as_str)
        .unwrap_or("");
    if !matches!(format, "ubj" | "json" | "") {
        return Err(load_err(
            &path,
            format!(
                "XGBoost's '{format}' model format: mlx reads XGBoost's json and ubj formats; convert it once \
                 with `mlx models import`"
            ),
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| load_err(&path, e.to_string()))?;
    let b = xgboost::parse(&bytes).map_err(|e| load_err(&path, e))?;
    let classifier = b.is_classifier() || class.ends_with("XGBClassifier");
    let n_classes = if b.n_outputs() == 1 { 2 } else { b.n_outputs() };
    let names = b.feature_names.clone();
    let objective = b.objective.clone();
    finish(
        dir,
        mlmodel,
        &path,
        "xgboost",
        class,
        objective,
        (b.n_features, b.into_form()),
        classifier,
        n_classes,
        None,
        &names,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    dir: &Path,
    mlmodel: &Yaml,
    path: &Path,
    flavor: &'static str,
    class: &str,
    objective: String,
    (n_features, form): (usize, Fitted),
    classifier: bool,
    n_classes: usize,
    labels: Option<Vec<Value>>,
    names: &[String],
) -> Result<BoosterModel, ModelError> {
    let inputs = match super::signature_inputs(dir, mlmodel)? {
        Some(i) => i,
        None if names.len() == n_features => names
            .iter()
            .map(|n| ForeignInput {
                name: n.clone(),
                kind: "double".into(),
            })
            .collect(),
        None => {
            return Err(load_err(
                &dir.join("MLmodel"),
                "the model has neither an MLflow signature nor feature names; log it with a signature",
            ));
        }
    };
    // The libraries take columns by position; MLflow passes them in the signature's order. When the
    // model kept its training column names and the signature has them all, follow the names.
    let features: Vec<ForeignInput> =
        if names.len() == n_features && names.iter().all(|n| inputs.iter().any(|i| i.name == *n)) {
            names
                .iter()
                .filter_map(|n| inputs.iter().find(|i| i.name == *n).cloned())
                .collect()
        } else if inputs.len() == n_features {
            inputs.clone()
        } else {
            return Err(load_err(
                path,
                format!(
                    "the model expects {n_features} features, the signature has {} columns",
                    inputs.len()
                ),
            ));
        };
    let classes = match (classifier, labels) {
        (false, _) => Vec::new(),
        (true, Some(labels)) => {
            if labels.len() != n_classes {
                return Err(load_err(
                    path,
                    format!("{} class labels for {n_classes} classes", labels.len()),
                ));
            }
            labels
        }
        (true, None) => (0..n_classes).map(Value::from).collect(),
    };
    Ok(BoosterModel {
        flavor,
        class: class.to_string(),
        objective,
        form,
        task: if classifier {
            Task::Classification
        } else {
            Task::Regression
        },
        classes,
        inputs,
        features,
    })
}

impl ForeignModel for BoosterModel {
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
        let x = super::numeric_matrix(table, &self.features, row_offset)?;
        let nf = self.features.len();
        if self.task == Task::Regression {
            let values = self.form.predict_values(&x, nf);
            return Ok(Predictions {
                values: values.into_iter().map(Value::from).collect(),
                proba: None,
            });
        }
        // Binary: the library's predict_proba stacks 1 - p and p (see `Link`).
        let (labels, proba) = self.form.predict_classes(&x, nf, self.classes.len());
        Ok(Predictions {
            values: labels.iter().map(|&c| self.classes[c].clone()).collect(),
            proba: Some(proba),
        })
    }

    fn describe(&self) -> Value {
        serde_json::json!({
            "flavor": self.flavor,
            "class": self.class,
            "objective": self.objective,
            "n_features": self.features.len(),
            "features": self.features.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
            "classes": self.classes,
        })
    }
}
