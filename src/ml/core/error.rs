//! The errors of reading data, preparing it for a model, and loading or running a model.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("{path}: row {row}: {why}")]
    Row {
        path: PathBuf,
        row: usize,
        why: String,
    },
    #[error("{path}: column '{column}', row {row}: {why}")]
    Cell {
        path: PathBuf,
        column: String,
        row: usize,
        why: String,
    },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("column '{0}' is not in the data (columns: {1})")]
    MissingColumn(String, String),
    #[error("column '{column}', row {row}: {why}")]
    Cell {
        column: String,
        row: usize,
        why: String,
    },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {why}")]
    Load { path: String, why: String },
    #[error("{0}")]
    Input(#[from] PreprocessError),
    #[error("{0}")]
    Data(#[from] DataError),
    /// A model run by Python workers failed (to load, or to predict): Python's message.
    #[error("{0}")]
    Python(String),
    #[error("cannot write the model to {path}: {why}")]
    Save { path: String, why: String },
}
