//! Batch prediction: stream a CSV through a saved model in bounded chunks, checking the input against the
//! model's signature, and write predictions (optionally with class probabilities and an id column) as CSV
//! or JSON.

use super::data::CsvChunks;
use super::loaded::LoadedModel;
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictFormat {
    Csv,
    Json,
}

#[derive(Debug, Clone)]
pub struct PredictOptions {
    pub with_proba: bool,
    pub id_column: Option<String>,
    pub chunk_rows: usize,
    /// CSV delimiter (None: detected from the header).
    pub delimiter: Option<u8>,
}

/// Predict every row of `data` into `out`; returns the number of rows. `progress` gets bytes read so far.
pub fn predict_csv(
    model: &LoadedModel,
    data: &Path,
    opts: &PredictOptions,
    format: PredictFormat,
    out: &mut dyn Write,
    progress: &dyn Fn(u64),
) -> anyhow::Result<usize> {
    let mut chunks = open_checked(model, data, opts)?;
    let classes = model.class_names();
    let proba_names: Vec<String> = if opts.with_proba && !classes.is_empty() {
        classes.iter().map(|c| format!("proba_{c}")).collect()
    } else {
        Vec::new()
    };
    // CSV goes through a buffer drained after each chunk, so memory stays bounded.
    let new_writer = || csv::Writer::from_writer(Vec::new());
    let mut csv_out = (format == PredictFormat::Csv).then(new_writer);
    if let Some(w) = csv_out.as_mut() {
        let mut header: Vec<String> = opts.id_column.iter().cloned().collect();
        header.push("prediction".into());
        header.extend(proba_names.iter().cloned());
        w.write_record(&header)?;
    }
    let mut json_buf = String::new();
    let mut rows = 0usize;
    while let Some((first_row, table)) = chunks.next_chunk()? {
        let preds = model
            .predict(&table, first_row)
            .map_err(|e| anyhow::anyhow!("{}: {e}", data.display()))?;
        let k = classes.len();
        for r in 0..table.n_rows {
            let id = opts
                .id_column
                .as_ref()
                .and_then(|c| table.column(c))
                .and_then(|c| c.text(r))
                .unwrap_or_default();
            let value = &preds.values[r];
            match csv_out.as_mut() {
                Some(w) => {
                    let mut rec: Vec<String> = Vec::with_capacity(2 + k);
                    if opts.id_column.is_some() {
                        rec.push(id);
                    }
                    rec.push(match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                    if let (true, Some(p)) = (!proba_names.is_empty(), &preds.proba) {
                        rec.extend(p[r * k..(r + 1) * k].iter().map(|v| format!("{v}")));
                    }
                    w.write_record(&rec)?;
                }
                None => {
                    json_buf.push_str(if rows == 0 {
                        "{\"predictions\": ["
                    } else {
                        ", "
                    });
                    if proba_names.is_empty() && opts.id_column.is_none() {
                        json_buf.push_str(&value.to_string());
                    } else {
                        let mut obj = serde_json::Map::new();
                        if let Some(c) = &opts.id_column {
                            obj.insert(c.clone(), serde_json::Value::from(id));
                        }
                        obj.insert("prediction".into(), value.clone());
                        if let (true, Some(p)) = (!proba_names.is_empty(), &preds.proba) {
                            let probs: serde_json::Map<String, serde_json::Value> = classes
                                .iter()
                                .zip(&p[r * k..(r + 1) * k])
                                .map(|(c, v)| (c.clone(), serde_json::Value::from(*v)))
                                .collect();
                            obj.insert("proba".into(), serde_json::Value::Object(probs));
                        }
                        json_buf.push_str(&serde_json::Value::Object(obj).to_string());
                    }
                }
            }
            rows += 1;
        }
        if let Some(w) = csv_out.take() {
            out.write_all(&w.into_inner().map_err(|e| e.into_error())?)?;
            csv_out = Some(new_writer());
        }
        if !json_buf.is_empty() {
            out.write_all(json_buf.as_bytes())?;
            json_buf.clear();
        }
        progress(chunks.position());
    }
    match csv_out {
        Some(w) => out.write_all(&w.into_inner().map_err(|e| e.into_error())?)?,
        None => {
            if rows == 0 {
                out.write_all(b"{\"predictions\": [")?;
            }
            out.write_all(b"]}\n")?;
        }
    }
    out.flush()?;
    Ok(rows)
}

/// Open `data` in chunks, after checking that it has every column the model needs (and the id column).
pub(super) fn open_checked(
    model: &LoadedModel,
    data: &Path,
    opts: &PredictOptions,
) -> anyhow::Result<CsvChunks> {
    use anyhow::bail;
    let mut read = model.read_options();
    if let Some(id) = &opts.id_column {
        read.expected
            .entry(id.clone())
            .or_insert_with(|| "string".into());
    }
    let chunks = CsvChunks::open_delimited(data, read, opts.chunk_rows, opts.delimiter)?;
    let needed: Vec<&str> = model.inputs().iter().map(|c| c.name.as_str()).collect();
    for name in &needed {
        if !chunks.names().iter().any(|n| n == name) {
            bail!(
                "{}: column '{name}' is missing (the model needs {})",
                data.display(),
                needed.join(", ")
            );
        }
    }
    if let Some(id) = &opts.id_column
        && !chunks.names().iter().any(|n| n == id)
    {
        bail!("{}: id column '{id}' is not in the file", data.display());
    }
    Ok(chunks)
}
