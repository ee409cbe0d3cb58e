//! `mlx predict --python` for a model only Python can run: the CSV is read in chunks, each chunk goes to a
//! free worker of the pool ([`super::pyworker`]), and the answers are written in input order as they come
//! back. At most `in_flight` chunks are read ahead of the writer, so memory is bounded by the chunk size
//! and the worker count, never by the row count.
//!
//! What is written: a model whose `predict` returns a DataFrame gets one column per DataFrame column (from
//! the first row's keys); one that returns a Series, a list or a 1-D array gets a `prediction` column; any
//! other per-row value (a list, a nested object) is written as its JSON text. JSON output is MLflow's own
//! `{"predictions": [...]}` with each row as the model's JSON form. `--id-column` puts the input column
//! first. There are no probability columns to add (`--with-proba`): what a Python model answers is what its
//! `predict` returns.

use super::data::{Column, Table};
use super::loaded::{LoadedModel, python_request};
use super::predict::{PredictFormat, PredictOptions, open_checked};
use super::pyworker::{PyError, Request};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;

/// A chunk sent to a worker, waiting for its answer.
struct Pending {
    first_row: usize,
    n_rows: usize,
    ids: Vec<String>,
}

/// Predict every row of `data` with the Python `model` into `out`; returns the row count. Two chunks per
/// worker are read ahead of the writer.
pub fn predict_csv_python(
    model: &LoadedModel,
    data: &Path,
    opts: &PredictOptions,
    format: PredictFormat,
    out: &mut dyn Write,
    progress: &dyn Fn(u64),
) -> anyhow::Result<usize> {
    let LoadedModel::Python { pool, .. } = model else {
        anyhow::bail!("{}: not a model run by Python", data.display());
    };
    let in_flight = 2 * pool.options().workers.max(1);
    let mut chunks = open_checked(model, data, opts)?;
    // Only the signature's columns go to Python (all of them when the model has no column signature).
    let wanted: Vec<String> = model.inputs().iter().map(|c| c.name.clone()).collect();
    let (tx, rx) = mpsc::channel::<(usize, Result<Value, PyError>)>();
    let mut pending: BTreeMap<usize, Pending> = BTreeMap::new();
    let mut done: BTreeMap<usize, Result<Value, PyError>> = BTreeMap::new();
    let mut writer = RowWriter::new(format, opts.id_column.clone());
    let (mut next_seq, mut next_write, mut rows, mut eof) = (0usize, 0usize, 0usize, false);
    loop {
        while !eof && pending.len() < in_flight {
            let Some((first_row, table)) = chunks.next_chunk()? else {
                eof = true;
                break;
            };
            let ids = match &opts.id_column {
                Some(c) => (0..table.n_rows)
                    .map(|r| {
                        table
                            .column(c)
                            .and_then(|col| col.text(r))
                            .unwrap_or_default()
                    })
                    .collect(),
                None => Vec::new(),
            };
            let req = request(&table, &wanted);
            pending.insert(
                next_seq,
                Pending {
                    first_row,
                    n_rows: table.n_rows,
                    ids,
                },
            );
            let tx = tx.clone();
            let seq = next_seq;
            pool.submit(
                req,
                Box::new(move |r| {
                    let _ = tx.send((seq, r));
                }),
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", data.display()))?;
            next_seq += 1;
        }
        if pending.is_empty() {
            break;
        }
        let (seq, answer) = rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the Python workers stopped"))?;
        done.insert(seq, answer);
        while let Some(answer) = done.remove(&next_write) {
            let chunk = pending
                .remove(&next_write)
                .expect("every answer has a pending chunk");
            let values = check_answer(answer, &chunk, data)?;
            writer.write_chunk(&values, &chunk.ids, out)?;
            rows += chunk.n_rows;
            next_write += 1;
            progress(chunks.position());
        }
    }
    writer.finish(out)?;
    out.flush()?;
    Ok(rows)
}

/// The chunk's `wanted` columns (all of them when `wanted` is empty) as a worker request.
fn request(table: &Table, wanted: &[String]) -> Request {
    if wanted.is_empty() {
        return python_request(table, None);
    }
    let (names, columns): (Vec<String>, Vec<Column>) = wanted
        .iter()
        .filter_map(|w| table.column(w).map(|c| (w.clone(), c.clone())))
        .unzip();
    let sub = Table::new(names, columns, table.n_rows);
    python_request(&sub, None)
}

/// The answer's rows: one per input row, or an error naming the rows.
fn check_answer(
    answer: Result<Value, PyError>,
    chunk: &Pending,
    data: &Path,
) -> anyhow::Result<Vec<Value>> {
    let last = chunk.first_row + chunk.n_rows.saturating_sub(1);
    let at = format!("{}: rows {}-{last}", data.display(), chunk.first_row);
    match answer {
        Err(e) => anyhow::bail!("{at}: {e}"),
        Ok(Value::Array(v)) if v.len() == chunk.n_rows => Ok(v),
        Ok(Value::Array(v)) => anyhow::bail!(
            "{at}: the model returned {} predictions for {} rows; `mlx predict --python` needs one per input row",
            v.len(),
            chunk.n_rows
        ),
        Ok(other) => anyhow::bail!(
            "{at}: the model returned {} rather than one prediction per row",
            kind(&other)
        ),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a single number",
        Value::String(_) => "a single string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Writes rows as CSV (the header from the first row) or as MLflow's `{"predictions": [...]}`.
struct RowWriter {
    format: PredictFormat,
    /// `--id-column`: written first, under its own name.
    id_column: Option<String>,
    /// CSV: the DataFrame's columns (None: one `prediction` column); set by the first row.
    columns: Option<Option<Vec<String>>>,
    rows: usize,
}

impl RowWriter {
    fn new(format: PredictFormat, id_column: Option<String>) -> RowWriter {
        RowWriter {
            format,
            id_column,
            columns: None,
            rows: 0,
        }
    }

    fn write_chunk(
        &mut self,
        values: &[Value],
        ids: &[String],
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        match self.format {
            PredictFormat::Csv => self.write_csv(values, ids, out),
            PredictFormat::Json => self.write_json(values, ids, out),
        }
    }

    fn write_csv(
        &mut self,
        values: &[Value],
        ids: &[String],
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        if self.columns.is_none() {
            let cols = match values.first() {
                Some(Value::Object(m)) => Some(m.keys().cloned().collect::<Vec<_>>()),
                _ => None,
            };
            let mut header: Vec<String> = self.id_column.iter().cloned().collect();
            match &cols {
                Some(c) => header.extend(c.iter().cloned()),
                None => header.push("prediction".into()),
            }
            w.write_record(&header)?;
            self.columns = Some(cols);
        }
        let cols = self.columns.clone().flatten();
        for (r, v) in values.iter().enumerate() {
            let mut rec: Vec<String> = Vec::new();
            if self.id_column.is_some() {
                rec.push(ids.get(r).cloned().unwrap_or_default());
            }
            match (&cols, v) {
                (Some(cols), Value::Object(m)) => {
                    rec.extend(cols.iter().map(|c| m.get(c).map(cell).unwrap_or_default()))
                }
                (_, v) => rec.push(cell(v)),
            }
            w.write_record(&rec)?;
        }
        out.write_all(&w.into_inner().map_err(|e| e.into_error())?)?;
        self.rows += values.len();
        Ok(())
    }

    fn write_json(
        &mut self,
        values: &[Value],
        ids: &[String],
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let mut buf = String::new();
        for (r, v) in values.iter().enumerate() {
            buf.push_str(if self.rows == 0 && r == 0 {
                "{\"predictions\": ["
            } else {
                ", "
            });
            match &self.id_column {
                None => buf.push_str(&v.to_string()),
                Some(c) => {
                    let mut obj = serde_json::Map::new();
                    obj.insert(
                        c.clone(),
                        Value::from(ids.get(r).cloned().unwrap_or_default()),
                    );
                    match v {
                        Value::Object(m) => obj.extend(m.clone()),
                        other => {
                            obj.insert("prediction".into(), other.clone());
                        }
                    }
                    buf.push_str(&Value::Object(obj).to_string());
                }
            }
        }
        out.write_all(buf.as_bytes())?;
        self.rows += values.len();
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> anyhow::Result<()> {
        match self.format {
            PredictFormat::Csv => {
                if self.columns.is_none() {
                    self.write_csv(&[], &[], out)?;
                }
            }
            PredictFormat::Json => {
                if self.rows == 0 {
                    out.write_all(b"{\"predictions\": [")?;
                }
                out.write_all(b"]}\n")?;
            }
        }
        Ok(())
    }
}

/// A value as a CSV cell as pandas' `to_csv` writes it: strings as they are, null empty, a float as
/// Python's `repr`, anything else its JSON text.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) if n.is_f64() => n.as_f64().map_or_else(|| n.to_string(), py_float),
        other => other.to_string(),
    }
}

/// Python's `repr(float)`: the shortest digits that read back the same (as Rust's), in fixed notation for
/// exponents -4..16 (`1.0`, `0.0001`), else scientific with a signed two-digit exponent (`2.2e-05`, `1e+16`).
fn py_float(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    if x == 0.0 || (-4..16).contains(&exp) {
        let fixed = format!("{x}");
        if fixed.contains('.') {
            fixed
        } else {
            format!("{fixed}.0")
        }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_python_writes_them() {
        for (x, py) in [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.5, "-0.5"),
            (0.033624, "0.033624"),
            (0.0001, "0.0001"),
            (2.2e-5, "2.2e-05"),
            (1e-6, "1e-06"),
            (-3.5e-7, "-3.5e-07"),
            (123456789012345.6, "123456789012345.6"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
        ] {
            assert_eq!(py_float(x), py, "{x}");
        }
    }

    #[test]
    fn an_answer_with_the_wrong_row_count_names_the_rows() {
        let chunk = Pending {
            first_row: 2,
            n_rows: 3,
            ids: Vec::new(),
        };
        let err = check_answer(Ok(serde_json::json!([1, 2])), &chunk, Path::new("d.csv"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "d.csv: rows 2-4: the model returned 2 predictions for 3 rows; `mlx predict --python` needs one per input row"
        );
        let err = check_answer(Ok(serde_json::json!(7)), &chunk, Path::new("d.csv"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "d.csv: rows 2-4: the model returned a single number rather than one prediction per row"
        );
    }
}
