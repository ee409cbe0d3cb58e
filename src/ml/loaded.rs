//! A model folder ready to predict, whoever trained it: mlx's own flavor ([`SavedModel`]) or a flavor
//! mlx reads natively from another library ([`super::foreign`]). `mlx predict` and `mlx serve` use this,
//! so both accept both.

use super::core::{ModelError, Predictions, Task};
use super::data::preprocess::InputColumn;
use super::data::{ReadOptions, Table};
use super::foreign::{self, ForeignModel};
use super::model::SavedModel;
use std::path::Path;

#[derive(Debug)]
pub enum LoadedModel {
    Mlx(Box<SavedModel>),
    Foreign {
        model: Box<dyn ForeignModel>,
        /// The MLmodel signature as written (inputs, outputs JSON text), for `/model`.
        signature: (String, String),
        /// The model was logged with `pyfunc_predict_fn="predict_proba"`: MLflow answers probabilities.
        proba_by_default: bool,
    },
    /// A model only Python can run, served by a pool of Python workers ([`super::pyworker`]).
    Python {
        pool: super::pyworker::Pool,
        /// The signature's input columns (empty without a column signature).
        inputs: Vec<InputColumn>,
        signature: (String, String),
        /// The `python_function` flavor's `loader_module`, or `python_model` for a custom model.
        loader: String,
    },
}

/// What a scoring request gets back per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Labels (classification) or values (regression).
    Labels,
    /// `{"proba_<label>": p, ...}` per row: what mlx's pyfunc answers to `params={"predict_proba": True}`.
    ProbaRecords,
    /// `[p0, p1, ...]` per row: what MLflow answers for a model whose pyfunc calls `predict_proba`.
    ProbaLists,
}

impl LoadedModel {
    /// Load the folder's model: the `mlx` flavor when it has one, else the first flavor mlx reads.
    pub fn load(dir: &Path) -> Result<LoadedModel, ModelError> {
        Self::load_with(dir, None)
    }

    /// As [`LoadedModel::load`]; a model mlx cannot read natively is run by Python workers when the
    /// operator named a Python (`python`), and refused otherwise.
    pub fn load_with(
        dir: &Path,
        python: Option<&super::pyworker::PoolOptions>,
    ) -> Result<LoadedModel, ModelError> {
        let path = dir.join("MLmodel");
        let load_err = |why: String| ModelError::Load {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| load_err(e.to_string()))?;
        let meta: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).map_err(|e| load_err(format!("not valid YAML: {e}")))?;
        if meta.get("flavors").and_then(|f| f.get("mlx")).is_some() {
            return SavedModel::load(dir).map(|m| LoadedModel::Mlx(Box::new(m)));
        }
        let model = match foreign::load(dir, &meta) {
            Ok(m) => m,
            Err(native) => return python_or(dir, &meta, python, native),
        };
        let sig = |k: &str| {
            meta.get("signature")
                .and_then(|s| s.get(k))
                .and_then(|v| v.as_str())
                .unwrap_or("[]")
                .to_string()
        };
        let proba_by_default = meta
            .get("flavors")
            .and_then(|f| f.get("python_function"))
            .and_then(|f| f.get("predict_fn"))
            .and_then(|p| p.as_str())
            == Some("predict_proba");
        Ok(LoadedModel::Foreign {
            model,
            signature: (sig("inputs"), sig("outputs")),
            proba_by_default,
        })
    }

    pub fn task(&self) -> Task {
        match self {
            LoadedModel::Mlx(m) => m.task,
            LoadedModel::Foreign { model, .. } => model.task(),
            LoadedModel::Python { .. } => Task::Regression,
        }
    }

    /// The input columns, from the signature.
    pub fn inputs(&self) -> &[InputColumn] {
        match self {
            LoadedModel::Mlx(m) => &m.preprocessor.inputs,
            LoadedModel::Foreign { model, .. } => model.inputs(),
            LoadedModel::Python { inputs, .. } => inputs,
        }
    }

    /// Class labels as text, in class-index order (empty for regression).
    pub fn class_names(&self) -> Vec<String> {
        match self {
            LoadedModel::Mlx(m) => m.classes.clone(),
            LoadedModel::Foreign { model, .. } => model
                .classes()
                .iter()
                .map(|c| match c {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            LoadedModel::Python { .. } => Vec::new(),
        }
    }

    pub fn predict(&self, table: &Table, row_offset: usize) -> Result<Predictions, ModelError> {
        match self {
            LoadedModel::Mlx(m) => m.predict(table, row_offset),
            LoadedModel::Foreign { model, .. } => model.predict(table, row_offset),
            LoadedModel::Python { pool, .. } => {
                let answer = pool
                    .predict(python_request(table, None))
                    .map_err(|e| ModelError::Python(e.to_string()))?;
                let values = match answer {
                    serde_json::Value::Array(v) => v,
                    other => vec![other],
                };
                Ok(Predictions {
                    values,
                    proba: None,
                })
            }
        }
    }

    /// Whether scoring requests get probabilities unless they ask otherwise.
    pub fn proba_by_default(&self) -> bool {
        matches!(
            self,
            LoadedModel::Foreign {
                proba_by_default: true,
                ..
            }
        )
    }

    /// Predict `table` and shape each row's answer.
    pub fn predict_answer(
        &self,
        table: &Table,
        answer: Answer,
    ) -> Result<Vec<serde_json::Value>, ModelError> {
        let preds = self.predict(table, 0)?;
        if answer == Answer::Labels {
            return Ok(preds.values);
        }
        let Some(proba) = preds.proba.filter(|_| self.task() == Task::Classification) else {
            return Err(ModelError::Input(super::core::PreprocessError::Invalid(
                "predict_proba is for classifiers; this model does regression".into(),
            )));
        };
        let names = self.class_names();
        let k = names.len().max(1);
        Ok(proba
            .chunks_exact(k)
            .map(|p| match answer {
                Answer::ProbaLists => serde_json::Value::from(p.to_vec()),
                _ => serde_json::Value::Object(
                    names
                        .iter()
                        .zip(p)
                        .map(|(c, v)| (format!("proba_{c}"), serde_json::Value::from(*v)))
                        .collect(),
                ),
            })
            .collect())
    }

    /// How to read a CSV for this model: the signature's types.
    pub fn read_options(&self) -> ReadOptions {
        match self {
            LoadedModel::Mlx(m) => m.read_options(),
            LoadedModel::Python { inputs, .. } => ReadOptions {
                categorical: Vec::new(),
                expected: inputs
                    .iter()
                    .map(|c| (c.name.clone(), c.kind.clone()))
                    .collect(),
            },
            LoadedModel::Foreign { model, .. } => ReadOptions {
                categorical: Vec::new(),
                expected: model
                    .inputs()
                    .iter()
                    .map(|c| (c.name.clone(), c.kind.clone()))
                    .collect(),
            },
        }
    }

    /// MLflow's signature `(inputs, outputs)` as JSON text.
    pub fn signature(&self) -> (String, String) {
        match self {
            LoadedModel::Mlx(m) => m.signature(),
            LoadedModel::Foreign { signature, .. } | LoadedModel::Python { signature, .. } => {
                signature.clone()
            }
        }
    }

    /// What predicts: mlx's estimator name, or the foreign model's class (`sklearn LogisticRegression`).
    pub fn estimator_name(&self) -> String {
        match self {
            LoadedModel::Mlx(m) => m.kind.name().to_string(),
            LoadedModel::Foreign { model, .. } => {
                let d = model.describe();
                format!(
                    "{} {}",
                    d["flavor"].as_str().unwrap_or("foreign"),
                    d["class"].as_str().unwrap_or("model")
                )
            }
            LoadedModel::Python { loader, .. } => format!("python_function {loader}"),
        }
    }

    /// A JSON description (the foreign model's own, or mlx's estimator and task).
    pub fn describe(&self) -> serde_json::Value {
        match self {
            LoadedModel::Mlx(m) => serde_json::json!({
                "flavor": "mlx",
                "estimator": m.kind.name(),
                "classes": m.classes,
                "n_features": m.preprocessor.n_features(),
            }),
            LoadedModel::Foreign { model, .. } => model.describe(),
            LoadedModel::Python { pool, loader, .. } => serde_json::json!({
                "flavor": "python_function",
                "loader": loader,
                "python": pool.options().python,
                "workers": pool.pids(),
                "batched": !pool.unbatched(),
                "queued_rows": pool.queued_rows(),
                "predict_calls": pool.calls(),
            }),
        }
    }

    /// mlx's own model, when it is one (retraining and plots need its preprocessing).
    pub fn as_mlx(&self) -> Option<&SavedModel> {
        match self {
            LoadedModel::Mlx(m) => Some(m),
            LoadedModel::Foreign { .. } | LoadedModel::Python { .. } => None,
        }
    }
}

/// A table as a Python worker request (column-major JSON values; missing cells are null).
pub fn python_request(
    table: &Table,
    params: Option<serde_json::Value>,
) -> super::pyworker::Request {
    use super::data::Column;
    let values = table
        .columns
        .iter()
        .map(|c| match c {
            Column::Numeric(v) => v
                .iter()
                .map(|x| x.map_or(serde_json::Value::Null, serde_json::Value::from))
                .collect(),
            Column::Text(v) => v
                .iter()
                .map(|x| {
                    x.clone()
                        .map_or(serde_json::Value::Null, serde_json::Value::from)
                })
                .collect(),
        })
        .collect();
    super::pyworker::Request {
        columns: table.names.clone(),
        values,
        params,
    }
}

/// A model mlx cannot read: run by Python when the operator named one and the model has a
/// `python_function` flavor, else the native reader's error (with the way out when Python could run it).
fn python_or(
    dir: &Path,
    meta: &serde_yaml_ng::Value,
    python: Option<&super::pyworker::PoolOptions>,
    native: ModelError,
) -> Result<LoadedModel, ModelError> {
    let Some(pyfunc) = meta.get("flavors").and_then(|f| f.get("python_function")) else {
        return Err(native);
    };
    let Some(opts) = python else {
        return Err(ModelError::Load {
            path: dir.join("MLmodel").display().to_string(),
            why: format!(
                "{}; this model needs Python (flavors: {}): start mlx with --python PATH (or MLX_PYTHON) to run it \
                 with MLflow in worker processes",
                native_reason(&native),
                super::model::flavor_names(meta).join(", ")
            ),
        });
    };
    let inputs = foreign::signature_inputs(dir, meta)
        .ok()
        .flatten()
        .unwrap_or_default();
    let sig = |k: &str| {
        meta.get("signature")
            .and_then(|s| s.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("[]")
            .to_string()
    };
    let loader = pyfunc
        .get("loader_module")
        .and_then(|v| v.as_str())
        .filter(|m| *m != "mlflow.pyfunc.model")
        .unwrap_or("python_model")
        .to_string();
    let pool = super::pyworker::Pool::start(dir, opts.clone())
        .map_err(|e| ModelError::Python(e.to_string()))?;
    Ok(LoadedModel::Python {
        pool,
        inputs,
        signature: (sig("inputs"), sig("outputs")),
        loader,
    })
}

fn native_reason(e: &ModelError) -> String {
    match e {
        ModelError::Load { why, .. } => why.split(": it serves").next().unwrap_or(why).to_string(),
        other => other.to_string(),
    }
}
