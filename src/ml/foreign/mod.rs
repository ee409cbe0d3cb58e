//! Models mlx did not train, read natively from the MLflow flavors other libraries write (never
//! executed, never unpickled): scikit-learn's skops files (`sklearn.rs` over `skops.rs` and `npy.rs`).
//! [`load`] picks the reader from the `MLmodel` flavors; every reader gives a [`ForeignModel`], whose
//! input columns and types come from the model's MLflow signature.

pub mod boosters;
pub mod lightgbm;
pub mod npy;
pub mod sklearn;
pub mod skops;
pub mod xgboost;

/// How an error offers `mlx models import` for a pickle, saying what it does.
pub const IMPORT_UNPICKLES: &str = "convert it once with `mlx models import`, which unpickles it with your Python: \
     code in the model runs, so only for a model you trust";

use super::core::{ModelError, Predictions, PreprocessError, Task};
use super::data::{Column, Table};
use super::model::flavor_names;
use serde_yaml_ng::Value as Yaml;
use std::path::Path;

/// One input column: its name and MLflow type (long, double, string, boolean...).
pub use super::data::preprocess::InputColumn as ForeignInput;

/// A model from another library, ready to predict.
pub trait ForeignModel: Send + Sync + std::fmt::Debug {
    fn task(&self) -> Task;
    /// Class labels in class-index order as JSON values of the label type (empty for regression).
    fn classes(&self) -> &[serde_json::Value];
    /// Input columns (name + MLflow type) from the MLmodel signature.
    fn inputs(&self) -> &[ForeignInput];
    /// Predict every row of `table` (columns matched by name); probabilities when the source has them.
    fn predict(&self, table: &Table, row_offset: usize) -> Result<Predictions, ModelError>;
    /// A JSON description for `mlx models show` and `/model` (flavor, class, n_features, classes, ...).
    fn describe(&self) -> serde_json::Value;
}

fn load_err(path: &Path, why: impl Into<String>) -> ModelError {
    ModelError::Load {
        path: path.display().to_string(),
        why: why.into(),
    }
}

/// Read the model in `dir` from the first flavor mlx knows. `mlmodel` is its parsed `MLmodel`.
pub fn load(dir: &Path, mlmodel: &Yaml) -> Result<Box<dyn ForeignModel>, ModelError> {
    let flavors = mlmodel.get("flavors");
    if let Some(f) = flavors.and_then(|f| f.get("sklearn")) {
        return sklearn::load(dir, f, mlmodel).map(|m| Box::new(m) as Box<dyn ForeignModel>);
    }
    if let Some(f) = flavors.and_then(|f| f.get("lightgbm")) {
        return boosters::load_lightgbm(dir, f, mlmodel)
            .map(|m| Box::new(m) as Box<dyn ForeignModel>);
    }
    if let Some(f) = flavors.and_then(|f| f.get("xgboost")) {
        return boosters::load_xgboost(dir, f, mlmodel)
            .map(|m| Box::new(m) as Box<dyn ForeignModel>);
    }
    let names = flavor_names(mlmodel);
    Err(load_err(
        &dir.join("MLmodel"),
        format!(
            "mlx cannot read a model with flavors {}: it serves models mlx trained and MLflow's sklearn (skops format), lightgbm and xgboost \
             models; train it with `mlx train`, or convert it with `mlx models import`",
            if names.is_empty() {
                "(none)".into()
            } else {
                names.join(", ")
            }
        ),
    ))
}

/// The signature's input columns, or `None` when the model has no column signature.
pub fn signature_inputs(
    dir: &Path,
    mlmodel: &Yaml,
) -> Result<Option<Vec<ForeignInput>>, ModelError> {
    let Some(text) = mlmodel
        .get("signature")
        .and_then(|s| s.get("inputs"))
        .and_then(|i| i.as_str())
    else {
        return Ok(None);
    };
    let bad = |why: String| load_err(&dir.join("MLmodel"), format!("signature inputs: {why}"));
    let specs: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut inputs = Vec::with_capacity(specs.len());
    for s in &specs {
        let kind = s.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let Some(name) = s.get("name").and_then(|n| n.as_str()) else {
            return Err(bad(format!(
                "an input of type {kind:?} has no name (tensor signatures are not supported; log the \
                 model with a DataFrame signature)"
            )));
        };
        if !matches!(
            kind,
            "double" | "float" | "long" | "integer" | "string" | "boolean"
        ) {
            return Err(bad(format!(
                "column {name:?} has unsupported type {kind:?}"
            )));
        }
        inputs.push(ForeignInput {
            name: name.to_string(),
            kind: kind.to_string(),
        });
    }
    Ok(Some(inputs))
}

/// The signature's numeric inputs as a row-major f64 matrix (NaN = missing), a clear error naming column
/// and row for a non-numeric value.
pub fn numeric_matrix(
    table: &Table,
    inputs: &[ForeignInput],
    row_offset: usize,
) -> Result<Vec<f64>, ModelError> {
    let nf = inputs.len();
    let mut out = vec![0.0; table.n_rows * nf];
    for (j, input) in inputs.iter().enumerate() {
        let col = column(table, &input.name)?;
        for r in 0..table.n_rows {
            out[r * nf + j] =
                cell_f64(col, r).map_err(|why| cell_err(input, r + row_offset, why))?;
        }
    }
    Ok(out)
}

/// A column of the table by name, or the error naming what the model needs.
pub fn column<'a>(table: &'a Table, name: &str) -> Result<&'a Column, ModelError> {
    table.column(name).ok_or_else(|| {
        ModelError::Input(PreprocessError::MissingColumn(
            name.to_string(),
            table.names.join(", "),
        ))
    })
}

/// A cell as a number (NaN when missing); text that reads as a number is accepted, other text is not.
pub fn cell_f64(col: &Column, row: usize) -> Result<f64, String> {
    match col {
        Column::Numeric(v) => Ok(v[row].unwrap_or(f64::NAN)),
        Column::Text(v) => match v[row].as_deref() {
            None => Ok(f64::NAN),
            Some(s) => match s.trim() {
                "true" | "True" => Ok(1.0),
                "false" | "False" => Ok(0.0),
                t => t
                    .parse::<f64>()
                    .map_err(|_| format!("{:?} is not a number", crate::redact::brief(s))),
            },
        },
    }
}

pub fn cell_err(input: &ForeignInput, row: usize, why: String) -> ModelError {
    ModelError::Input(PreprocessError::Cell {
        column: input.name.clone(),
        row,
        why,
    })
}
