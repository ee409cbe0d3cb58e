//! The model artifact: a folder with MLflow's `MLmodel` file (an `mlx` flavor, the signature in MLflow's
//! JSON schema, input examples) beside `model.json` (estimator, preprocessing, fitted state) and, for
//! tree models, `trees.bin` (compact binary trees). Loading checks everything it reads. Every model also
//! carries MLflow's `python_function` flavor (`pyfunc.rs`; `add_pyfunc.rs` adds it to an older folder).

pub mod add_pyfunc;
pub mod pyfunc;

use super::core::{ModelError, Predictions, Task};
use super::data::preprocess::Preprocessor;
use super::data::{ReadOptions, Table};
use super::forms::trees::codec;
use super::forms::{Fitted, LoadCheck};
use super::learners::ModelKind;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::Path;

pub const MODEL_JSON: &str = "model.json";
use super::forms::TREES_BIN;
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedModel {
    pub format_version: u32,
    pub kind: ModelKind,
    pub task: Task,
    pub target: String,
    /// Class labels as text, in class-index order (classification).
    pub classes: Vec<String>,
    /// MLflow type of the target column: long, double or string.
    pub label_type: String,
    pub params: BTreeMap<String, String>,
    pub preprocessor: Preprocessor,
    pub fitted: Fitted,
    pub feature_importance: Option<Vec<f64>>,
}

impl SavedModel {
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// A label as JSON: a number for numeric labels, else a string.
    pub fn label_json(&self, class: usize) -> serde_json::Value {
        let text = &self.classes[class];
        if self.label_type != "string"
            && let Ok(i) = text.parse::<i64>()
        {
            return serde_json::Value::from(i);
        }
        if self.label_type != "string"
            && let Ok(f) = text.parse::<f64>()
        {
            return serde_json::Value::from(f);
        }
        serde_json::Value::from(text.clone())
    }

    /// Predict for every row of `table` (columns matched by name).
    pub fn predict(&self, table: &Table, row_offset: usize) -> Result<Predictions, ModelError> {
        let x = self.preprocessor.transform(table, row_offset)?;
        Ok(self.predict_matrix(&x))
    }

    pub fn predict_matrix(&self, x: &[f64]) -> Predictions {
        let nf = self.preprocessor.n_features();
        match self.task {
            Task::Classification => {
                let k = self.n_classes();
                // The form picks each label by its own rule (mlx's: the most probable class).
                let (picked, proba) = self.fitted.predict_classes(x, nf, k);
                let labels: Vec<serde_json::Value> = (0..k).map(|c| self.label_json(c)).collect();
                let values = picked.iter().map(|&c| labels[c].clone()).collect();
                Predictions {
                    values,
                    proba: Some(proba),
                }
            }
            Task::Regression => Predictions {
                values: self
                    .fitted
                    .predict_values(x, nf)
                    .into_iter()
                    .map(serde_json::Value::from)
                    .collect(),
                proba: None,
            },
        }
    }

    /// The signature's input columns, for reading data at predict time with the training types.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            categorical: Vec::new(),
            expected: self
                .preprocessor
                .inputs
                .iter()
                .map(|c| (c.name.clone(), c.kind.clone()))
                .collect(),
        }
    }

    /// MLflow's signature: `(inputs, outputs)` as the JSON strings MLmodel holds.
    pub fn signature(&self) -> (String, String) {
        let inputs: Vec<serde_json::Value> = self
            .preprocessor
            .inputs
            .iter()
            .map(|c| serde_json::json!({"type": c.kind, "name": c.name, "required": true}))
            .collect();
        let outputs = match (self.task, self.label_type.as_str()) {
            (Task::Regression, _) => {
                serde_json::json!([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}])
            }
            (_, "long") => {
                serde_json::json!([{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}])
            }
            (_, "double") => {
                serde_json::json!([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}])
            }
            _ => serde_json::json!([{"type": "string", "required": true}]),
        };
        (
            serde_json::to_string(&inputs).expect("json"),
            serde_json::to_string(&outputs).expect("json"),
        )
    }

    /// Write model.json (+ trees.bin) and MLmodel into `dir`. `example` is the input example table.
    pub fn save(
        &self,
        dir: &Path,
        run_id: &str,
        model_id: &str,
        artifact_uri: &str,
        example: &Table,
    ) -> Result<(), ModelError> {
        let save_err = |why: String| ModelError::Save {
            path: dir.display().to_string(),
            why,
        };
        std::fs::create_dir_all(dir).map_err(|e| save_err(e.to_string()))?;
        let write = |name: &str, bytes: &[u8]| {
            std::fs::write(dir.join(name), bytes).map_err(|e| save_err(e.to_string()))
        };
        write(
            MODEL_JSON,
            serde_json::to_string(self)
                .expect("a model serializes")
                .as_bytes(),
        )?;
        if let Some(trees) = self.fitted.trees() {
            write(TREES_BIN, &codec::encode(trees))?;
        }
        let columns: Vec<String> = self
            .preprocessor
            .inputs
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let data: Vec<Vec<serde_json::Value>> = (0..example.n_rows.min(5))
            .map(|r| columns.iter().map(|c| cell_json(example, c, r)).collect())
            .collect();
        let split = serde_json::json!({"columns": columns, "data": data});
        write(
            "input_example.json",
            serde_json::to_string(&split).expect("json").as_bytes(),
        )?;
        write(
            "serving_input_example.json",
            serde_json::to_string_pretty(&serde_json::json!({"dataframe_split": split}))
                .expect("json")
                .as_bytes(),
        )?;
        pyfunc::write_files(dir).map_err(|e| save_err(e.to_string()))?;
        let size: u64 = std::fs::read_dir(dir)
            .map_err(|e| save_err(e.to_string()))?
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        let (inputs, outputs) = self.signature();
        let mut flavor = serde_yaml_ng::Mapping::new();
        let s = |v: &str| Value::String(v.into());
        flavor.insert(s("estimator"), s(self.kind.name()));
        flavor.insert(s("mlx_version"), s(env!("CARGO_PKG_VERSION")));
        flavor.insert(s("model_path"), s(MODEL_JSON));
        flavor.insert(
            s("task"),
            s(match self.task {
                Task::Classification => "classification",
                Task::Regression => "regression",
            }),
        );
        if self.fitted.trees().is_some() {
            flavor.insert(s("trees_path"), s(TREES_BIN));
        }
        let mut flavors = serde_yaml_ng::Mapping::new();
        flavors.insert(s("mlx"), Value::Mapping(flavor));
        flavors.insert(s("python_function"), pyfunc::flavor());
        let mut signature = serde_yaml_ng::Mapping::new();
        signature.insert(s("inputs"), s(&inputs));
        signature.insert(s("outputs"), s(&outputs));
        signature.insert(s("params"), pyfunc::params_schema(self.task));
        let mut example_info = serde_yaml_ng::Mapping::new();
        example_info.insert(s("artifact_path"), s("input_example.json"));
        example_info.insert(s("pandas_orient"), s("split"));
        example_info.insert(s("serving_input_path"), s("serving_input_example.json"));
        example_info.insert(s("type"), s("dataframe"));
        let mut m = BTreeMap::new();
        m.insert("artifact_path", s(artifact_uri));
        m.insert("flavors", Value::Mapping(flavors));
        m.insert("is_signature_from_type_hint", Value::Bool(false));
        m.insert("model_id", s(model_id));
        m.insert("model_size_bytes", Value::Number(size.into()));
        m.insert("model_uuid", s(model_id));
        m.insert("run_id", s(run_id));
        m.insert("saved_input_example_info", Value::Mapping(example_info));
        m.insert("signature", Value::Mapping(signature));
        m.insert("utc_time_created", s(&utc_now()));
        write(
            "MLmodel",
            serde_yaml_ng::to_string(&m).expect("yaml").as_bytes(),
        )
    }

    /// Load a model folder written by [`SavedModel::save`].
    pub fn load(dir: &Path) -> Result<SavedModel, ModelError> {
        let load_err = |path: &Path, why: String| ModelError::Load {
            path: path.display().to_string(),
            why,
        };
        let mlmodel = dir.join("MLmodel");
        let text =
            std::fs::read_to_string(&mlmodel).map_err(|e| load_err(&mlmodel, e.to_string()))?;
        let meta: Value = serde_yaml_ng::from_str(&text)
            .map_err(|e| load_err(&mlmodel, format!("not valid YAML: {e}")))?;
        let flavor = meta
            .get("flavors")
            .and_then(|f| f.get("mlx"))
            .ok_or_else(|| {
                let flavors = flavor_names(&meta);
                load_err(
                    &mlmodel,
                    format!(
                        "no mlx flavor (flavors: {}); mlx loads models it trained",
                        if flavors.is_empty() {
                            "none".into()
                        } else {
                            flavors.join(", ")
                        }
                    ),
                )
            })?;
        let name = |key: &str, default: &str| {
            flavor
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or(default)
                .to_string()
        };
        let model_path = name("model_path", MODEL_JSON);
        if model_path.contains('/') || model_path.contains("..") {
            return Err(load_err(&mlmodel, format!("bad model_path {model_path:?}")));
        }
        let json_path = dir.join(&model_path);
        let json =
            std::fs::read_to_string(&json_path).map_err(|e| load_err(&json_path, e.to_string()))?;
        let mut model: SavedModel =
            serde_json::from_str(&json).map_err(|e| load_err(&json_path, e.to_string()))?;
        if model.format_version > FORMAT_VERSION {
            return Err(load_err(
                &json_path,
                format!(
                    "format version {} is newer than this mlx understands",
                    model.format_version
                ),
            ));
        }
        model.check_fitted(dir, &json_path)?;
        Ok(model)
    }
}

impl SavedModel {
    /// Read the trees of `trees.bin` into the fitted state and check that state against the task and
    /// features (`json_path`: the model file, named in errors about it). Each form checks itself.
    fn check_fitted(&mut self, dir: &Path, json_path: &Path) -> Result<(), ModelError> {
        let cx = LoadCheck {
            task: self.task,
            n_features: self.preprocessor.n_features(),
            outputs: match self.task {
                Task::Classification => self.n_classes(),
                Task::Regression => 1,
            },
            dir,
            json_path,
        };
        self.fitted.load_check(&cx)
    }
}

/// The flavor names of an `MLmodel`.
pub fn flavor_names(mlmodel: &Value) -> Vec<String> {
    mlmodel
        .get("flavors")
        .and_then(|f| f.as_mapping())
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn cell_json(table: &Table, column: &str, row: usize) -> serde_json::Value {
    use super::data::Column;
    match table.column(column) {
        Some(Column::Numeric(v)) => match v[row] {
            Some(x) if x.fract() == 0.0 && x.abs() < 9e15 => serde_json::Value::from(x as i64),
            Some(x) => serde_json::Value::from(x),
            None => serde_json::Value::Null,
        },
        Some(Column::Text(v)) => v[row].as_ref().map_or(serde_json::Value::Null, |s| {
            serde_json::Value::from(s.clone())
        }),
        None => serde_json::Value::Null,
    }
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, as MLflow writes `utc_time_created`.
fn utc_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}.{:06}",
        crate::timefmt::datetime(now.as_millis() as i64),
        now.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn model_json_numbers_read_back_to_the_bit() {
        // Training data of a kNN model (Titanic, scaled Age) that serde_json's default parser read 1 ulp
        // off, which changed a neighbour and the prediction after reloading (and made mlx disagree with
        // any exact reader, such as the Python loader).
        let x = -0.379_561_158_914_527_24_f64;
        let back: f64 = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
        assert_eq!(back.to_bits(), x.to_bits());
    }
}
