//! Which columns `mlx train` learns from and what it learns: the CSV read (a URL's copy named by its URL),
//! the feature columns (--features, else all but the target, --drop, ids and high-cardinality text) and
//! the task when --task is not given.

use super::TrainOptions;
use crate::ml::core::Task;
use crate::ml::data::{Column, ReadOptions, Table};
use std::collections::BTreeMap;

/// Distinct-value count above which a string column is left out unless named (ids, names, tickets).
pub(super) const MAX_AUTO_CATEGORIES: usize = 50;

/// An integer column with a distinct value in every row (PassengerId, customer_id): an id, not a feature.
pub(super) fn is_row_id(column: &Column) -> bool {
    let Column::Numeric(v) = column else {
        return false;
    };
    // Few rows say little: 20 distinct small integers may well be a measurement.
    if v.len() < 20 || v.iter().any(|x| x.is_none_or(|x| x.fract() != 0.0)) {
        return false;
    }
    let mut values: Vec<i64> = v.iter().flatten().map(|x| *x as i64).collect();
    values.sort_unstable();
    values.windows(2).all(|w| w[0] != w[1])
}

/// The CSV of `opts`, read from `file`.
pub(super) fn read_table(opts: &TrainOptions, file: &std::path::Path) -> anyhow::Result<Table> {
    let read = ReadOptions {
        categorical: opts.categorical.clone(),
        expected: BTreeMap::new(),
    };
    match Table::read_csv_delimited(file, &read, opts.delimiter) {
        Ok(t) => Ok(t),
        // A downloaded copy: name the URL, not the temp file.
        Err(e) if file != opts.data => anyhow::bail!(
            "{}",
            e.to_string().replace(
                &*file.to_string_lossy(),
                &crate::redact::uris(&opts.data.to_string_lossy())
            )
        ),
        Err(e) => Err(e.into()),
    }
}

/// The feature columns: those named by --features (checked), else every column but the target, --drop,
/// ids and high-cardinality text (each left out with a note).
pub(super) fn select_features(
    opts: &TrainOptions,
    table: &Table,
    file: &str,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<String>> {
    use anyhow::bail;
    let features: Vec<String> = match &opts.features {
        Some(f) => {
            for name in f {
                if table.column(name).is_none() {
                    bail!(
                        "{file}: feature column '{name}' not found (columns: {})",
                        table.names.join(", ")
                    );
                }
                if name == &opts.target {
                    bail!("the target '{name}' cannot also be a feature");
                }
            }
            f.clone()
        }
        None => {
            for name in &opts.drop {
                if table.column(name).is_none() {
                    bail!(
                        "{file}: --drop column '{name}' not found (columns: {})",
                        table.names.join(", ")
                    );
                }
            }
            table
                .names
                .iter()
                .zip(&table.columns)
                .filter(|(n, _)| **n != opts.target && !opts.drop.contains(n))
                .filter(|(n, c)| {
                    if is_row_id(c) {
                        notes.push(format!(
                            "left out column '{n}': integers unique per row, most likely an id; name it in --features to use it"
                        ));
                        return false;
                    }
                    let Column::Text(v) = c else { return true };
                    if opts.maps.contains_key(*n) {
                        return true;
                    }
                    let mut distinct: Vec<&String> = v.iter().flatten().collect();
                    distinct.sort();
                    distinct.dedup();
                    let keep = distinct.len() <= MAX_AUTO_CATEGORIES;
                    if !keep {
                        notes.push(format!(
                            "left out string column '{n}' ({} distinct values); name it in --features to use it",
                            distinct.len()
                        ));
                    }
                    keep
                })
                .map(|(n, _)| n.clone())
                .collect()
        }
    };
    if features.is_empty() {
        bail!("no feature columns left to train on");
    }
    Ok(features)
}

/// Classification for text or a few distinct integers, else regression.
pub(super) fn infer_task(target_col: &Column) -> Task {
    match target_col {
        Column::Text(_) => Task::Classification,
        Column::Numeric(v) => {
            let mut distinct: Vec<i64> = Vec::new();
            let integral = v.iter().flatten().all(|x| x.fract() == 0.0);
            if integral {
                distinct = v.iter().flatten().map(|x| *x as i64).collect();
                distinct.sort();
                distinct.dedup();
            }
            if integral && distinct.len() <= 20 {
                Task::Classification
            } else {
                Task::Regression
            }
        }
    }
}
