//! The in-memory table: typed columns (numbers stay numbers, strings are categories) with missing values,
//! and what is said about a table: its content digest and MLflow's column-spec schema.

use super::cells::format_number;
use crate::ml::core::DataError;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Numeric(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Text(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn is_missing(&self, row: usize) -> bool {
        match self {
            Column::Numeric(v) => v[row].is_none(),
            Column::Text(v) => v[row].is_none(),
        }
    }
    /// The value at `row` as text (for labels and messages).
    pub fn text(&self, row: usize) -> Option<String> {
        match self {
            Column::Numeric(v) => v[row].map(format_number),
            Column::Text(v) => v[row].clone(),
        }
    }
    /// MLflow's column type judged from the values alone (integral numbers: `long`). For a column read
    /// from a file, [`Table::mlflow_type`] is the type pandas gives the same file, the one for signatures.
    pub fn mlflow_type(&self) -> &'static str {
        match self {
            Column::Numeric(v) => {
                if v.iter()
                    .flatten()
                    .all(|x| x.fract() == 0.0 && x.abs() < 9e15)
                {
                    "long"
                } else {
                    "double"
                }
            }
            Column::Text(_) => "string",
        }
    }
    fn select(&self, rows: &[usize]) -> Column {
        match self {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&r| v[r]).collect()),
            Column::Text(v) => Column::Text(rows.iter().map(|&r| v[r].clone()).collect()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    pub names: Vec<String>,
    pub columns: Vec<Column>,
    pub n_rows: usize,
    /// Per column: the first non-number in a column that is otherwise (over 90%) numbers, as
    /// `(row, value)` — most likely bad data; [`Table::check_numeric`] turns it into an error for the
    /// columns a model uses.
    pub suspect: Vec<Option<(usize, String)>>,
    /// Per column: its MLflow type as `pandas.read_csv` types the same cells (see [`pandas_type`]); for a
    /// table not read from text, the type of its values ([`Column::mlflow_type`]).
    pub kinds: Vec<&'static str>,
}

impl Table {
    /// A table of typed columns (not read from text): each column's type is that of its values.
    pub fn new(names: Vec<String>, columns: Vec<Column>, n_rows: usize) -> Table {
        Table {
            suspect: vec![None; names.len()],
            kinds: columns.iter().map(Column::mlflow_type).collect(),
            names,
            columns,
            n_rows,
        }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.columns[i])
    }

    /// The rows `rows`, in that order.
    pub fn select_rows(&self, rows: &[usize]) -> Table {
        Table {
            names: self.names.clone(),
            columns: self.columns.iter().map(|c| c.select(rows)).collect(),
            n_rows: rows.len(),
            suspect: vec![None; self.names.len()],
            kinds: self.kinds.clone(),
        }
    }

    /// The MLflow type of column `name` for a signature (see [`Table::kinds`]).
    pub fn mlflow_type(&self, name: &str) -> Option<&'static str> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.kinds[i])
    }

    /// Refuse used columns that look numeric with some bad values (see `suspect`).
    pub fn check_numeric(&self, path: &Path, used: &[String]) -> Result<(), DataError> {
        for (i, name) in self.names.iter().enumerate() {
            if let Some((row, value)) = &self.suspect[i]
                && used.contains(name)
            {
                return Err(DataError::Cell {
                    path: path.to_path_buf(),
                    column: name.clone(),
                    row: *row,
                    why: format!(
                        "{:?} is not a number (the column is numeric; pass --categorical {name} if it is not)",
                        crate::redact::brief(value)
                    ),
                });
            }
        }
        Ok(())
    }
}

/// 8 hex digits identifying the data (like MLflow's dataset digest): sha256 over the column names, types and
/// values.
pub fn digest(table: &Table) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (name, col) in table.names.iter().zip(&table.columns) {
        h.update(name.as_bytes());
        h.update([0]);
        for r in 0..col.len() {
            match col.text(r) {
                Some(t) => h.update(t.as_bytes()),
                None => h.update([1]),
            }
            h.update([0]);
        }
    }
    let out = h.finalize();
    out[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// MLflow's `mlflow_colspec` JSON for the given columns.
pub fn colspec(table: &Table, names: &[String]) -> serde_json::Value {
    serde_json::Value::Array(
        names
            .iter()
            .filter_map(|n| {
                table
                    .mlflow_type(n)
                    .map(|kind| serde_json::json!({"type": kind, "name": n, "required": true}))
            })
            .collect(),
    )
}
