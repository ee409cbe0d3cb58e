//! Preprocessing that is fitted on the training rows, saved with the model and applied again at predict
//! time: explicit value maps (`--map Sex=male:0,female:1`), one-hot or ordinal encoding of string columns,
//! missing-value policy (`drop|mean|median|zero`) and optional standard scaling.

use super::{Column, Table};
use crate::ml::core::PreprocessError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NaPolicy {
    /// Drop training rows with a missing value; at predict time a missing value is an error
    Drop,
    Mean,
    Median,
    Zero,
    /// Keep missing values as missing (NaN); for gradient boosting, which learns where they go
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// One column per category; unknown categories at predict time encode as all zeros
    Onehot,
    /// One column of category indices; unknown categories at predict time are an error
    Ordinal,
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct PreprocessOptions {
    pub features: Vec<String>,
    pub maps: BTreeMap<String, BTreeMap<String, f64>>,
    pub encoding: Encoding,
    pub na: NaPolicy,
    pub scale: bool,
}

/// One input column of the model (its signature).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputColumn {
    pub name: String,
    /// MLflow type: long, double or string.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    Numeric {
        column: String,
        fill: Option<f64>,
        scale: Option<(f64, f64)>,
    },
    Mapped {
        column: String,
        map: BTreeMap<String, f64>,
        fill: Option<f64>,
        scale: Option<(f64, f64)>,
    },
    OneHot {
        column: String,
        categories: Vec<String>,
    },
    Ordinal {
        column: String,
        categories: Vec<String>,
        fill: Option<f64>,
        scale: Option<(f64, f64)>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Preprocessor {
    pub inputs: Vec<InputColumn>,
    pub steps: Vec<Step>,
    pub na: NaPolicy,
    pub feature_names: Vec<String>,
}

/// The raw value of a cell as the model sees it: a number or a category.
enum Cell<'a> {
    Num(f64),
    Text(&'a str),
    Missing,
}

fn cell(col: &Column, row: usize) -> Cell<'_> {
    match col {
        Column::Numeric(v) => v[row].map_or(Cell::Missing, Cell::Num),
        Column::Text(v) => v[row].as_deref().map_or(Cell::Missing, Cell::Text),
    }
}

fn map_key(c: &Cell) -> Option<String> {
    match c {
        Cell::Num(x) => Some(super::format_number(*x)),
        Cell::Text(s) => Some(s.to_string()),
        Cell::Missing => None,
    }
}

/// The cell as a lookup key, borrowing text cells (the hot path at predict time allocates nothing for them).
fn key_of<'a>(c: &Cell<'a>) -> Option<std::borrow::Cow<'a, str>> {
    match c {
        Cell::Num(x) => Some(std::borrow::Cow::Owned(super::format_number(*x))),
        Cell::Text(s) => Some(std::borrow::Cow::Borrowed(s)),
        Cell::Missing => None,
    }
}

/// A value that is already one of the map's codes (`0` for `--map Sex=male:0,female:1`): clients of the
/// original app send the column mapped, because its model was trained on the mapped column. Only reached
/// when the value is not itself a source value of the map, so a source value always wins.
fn mapped_code(map: &BTreeMap<String, f64>, key: &str) -> Option<f64> {
    let x: f64 = key.trim().parse().ok()?;
    map.values().copied().find(|code| *code == x)
}

/// The map's codes for a message, in order, without repeats (`0, 1`).
fn map_codes(map: &BTreeMap<String, f64>) -> String {
    let mut codes: Vec<f64> = map.values().copied().collect();
    codes.sort_by(f64::total_cmp);
    codes.dedup();
    codes
        .iter()
        .map(|c| super::format_number(*c))
        .collect::<Vec<_>>()
        .join(", ")
}

fn column<'a>(table: &'a Table, name: &str) -> Result<&'a Column, PreprocessError> {
    table
        .column(name)
        .ok_or_else(|| PreprocessError::MissingColumn(name.into(), table.names.join(", ")))
}

fn stats(values: &mut [f64], na: NaPolicy) -> Option<f64> {
    match na {
        NaPolicy::Drop | NaPolicy::Keep => None,
        NaPolicy::Zero => Some(0.0),
        NaPolicy::Mean => Some(if values.is_empty() {
            0.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        }),
        NaPolicy::Median => {
            if values.is_empty() {
                return Some(0.0);
            }
            values.sort_by(f64::total_cmp);
            let n = values.len();
            Some(if n % 2 == 1 {
                values[n / 2]
            } else {
                (values[n / 2 - 1] + values[n / 2]) / 2.0
            })
        }
    }
}

fn scaler(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let std = var.sqrt();
    (mean, if std > 0.0 { std } else { 1.0 })
}

/// Rows (indices into `table`) where any of `columns` is missing.
pub fn rows_with_missing(table: &Table, columns: &[String]) -> Vec<usize> {
    (0..table.n_rows)
        .filter(|&r| {
            columns
                .iter()
                .filter_map(|c| table.column(c))
                .any(|c| c.is_missing(r))
        })
        .collect()
}

impl Preprocessor {
    /// Fit on the training rows of `table` (rows with missing values already dropped if the policy is drop).
    pub fn fit(table: &Table, opts: &PreprocessOptions) -> Result<Preprocessor, PreprocessError> {
        let mut inputs = Vec::new();
        let mut steps = Vec::new();
        let mut feature_names = Vec::new();
        for name in &opts.features {
            let col = column(table, name)?;
            let kind = table.mlflow_type(name).unwrap_or(col.mlflow_type());
            inputs.push(InputColumn {
                name: name.clone(),
                kind: kind.into(),
            });
            if let Some(map) = opts.maps.get(name) {
                let mut values = Vec::new();
                for r in 0..table.n_rows {
                    let c = cell(col, r);
                    if let Some(k) = map_key(&c) {
                        let v = map.get(&k).ok_or_else(|| PreprocessError::Cell {
                            column: name.clone(),
                            row: r + 2,
                            why: format!(
                                "value {k:?} is not in --map {name}= (known: {})",
                                map.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        })?;
                        values.push(*v);
                    }
                }
                let scale = opts.scale.then(|| scaler(&values));
                steps.push(Step::Mapped {
                    column: name.clone(),
                    map: map.clone(),
                    fill: stats(&mut values, opts.na),
                    scale,
                });
                feature_names.push(name.clone());
                continue;
            }
            match col {
                Column::Numeric(v) => {
                    let mut values: Vec<f64> = v.iter().flatten().copied().collect();
                    let scale = opts.scale.then(|| scaler(&values));
                    steps.push(Step::Numeric {
                        column: name.clone(),
                        fill: stats(&mut values, opts.na),
                        scale,
                    });
                    feature_names.push(name.clone());
                }
                Column::Text(v) => {
                    let mut categories: Vec<String> = v.iter().flatten().cloned().collect();
                    categories.sort();
                    categories.dedup();
                    match opts.encoding {
                        Encoding::Onehot => {
                            for c in &categories {
                                feature_names.push(format!("{name}={c}"));
                            }
                            steps.push(Step::OneHot {
                                column: name.clone(),
                                categories,
                            });
                        }
                        Encoding::Ordinal => {
                            let mut values: Vec<f64> = v
                                .iter()
                                .flatten()
                                .map(|s| categories.binary_search(s).unwrap_or(0) as f64)
                                .collect();
                            let scale = opts.scale.then(|| scaler(&values));
                            steps.push(Step::Ordinal {
                                column: name.clone(),
                                categories,
                                fill: stats(&mut values, opts.na),
                                scale,
                            });
                            feature_names.push(name.clone());
                        }
                    }
                }
            }
        }
        Ok(Preprocessor {
            inputs,
            steps,
            na: opts.na,
            feature_names,
        })
    }

    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Turn the rows of `table` into a row-major feature matrix. `row_offset` numbers rows in messages
    /// (2 = the first data row of a CSV with a header).
    pub fn transform(&self, table: &Table, row_offset: usize) -> Result<Vec<f64>, PreprocessError> {
        let width = self.n_features();
        let mut out = vec![0.0; table.n_rows * width];
        let mut offset = 0;
        for step in &self.steps {
            let name = match step {
                Step::Numeric { column, .. }
                | Step::Mapped { column, .. }
                | Step::OneHot { column, .. }
                | Step::Ordinal { column, .. } => column,
            };
            let col = column(table, name)?;
            let keep = self.na == NaPolicy::Keep;
            let missing = |r: usize, fill: Option<f64>| {
                // NaN stays NaN through scaling.
                fill.or(keep.then_some(f64::NAN))
                    .ok_or_else(|| PreprocessError::Cell {
                        column: name.clone(),
                        row: r + row_offset,
                        why: "missing value (the model was trained with --na drop)".into(),
                    })
            };
            let scaled = |x: f64, s: &Option<(f64, f64)>| s.map_or(x, |(m, sd)| (x - m) / sd);
            match step {
                Step::Numeric { fill, scale, .. } => {
                    for r in 0..table.n_rows {
                        let x = match cell(col, r) {
                            Cell::Num(x) => x,
                            Cell::Missing => missing(r, *fill)?,
                            Cell::Text(s) => {
                                return Err(PreprocessError::Cell {
                                    column: name.clone(),
                                    row: r + row_offset,
                                    why: format!("{s:?} is not a number"),
                                });
                            }
                        };
                        out[r * width + offset] = scaled(x, scale);
                    }
                    offset += 1;
                }
                Step::Mapped {
                    map, fill, scale, ..
                } => {
                    for r in 0..table.n_rows {
                        let c = cell(col, r);
                        let x = match key_of(&c) {
                            None => missing(r, *fill)?,
                            Some(k) => match map.get(k.as_ref()) {
                                Some(x) => *x,
                                None => {
                                    mapped_code(map, &k).ok_or_else(|| PreprocessError::Cell {
                                        column: name.clone(),
                                        row: r + row_offset,
                                        why: format!(
                                            "unknown value {k:?} (known: {}, or their codes {})",
                                            map.keys().cloned().collect::<Vec<_>>().join(", "),
                                            map_codes(map)
                                        ),
                                    })?
                                }
                            },
                        };
                        out[r * width + offset] = scaled(x, scale);
                    }
                    offset += 1;
                }
                Step::OneHot { categories, .. } => {
                    for r in 0..table.n_rows {
                        let c = cell(col, r);
                        match key_of(&c) {
                            None if self.na == NaPolicy::Drop => {
                                missing(r, None)?;
                            }
                            None => {}
                            Some(k) => {
                                if let Ok(i) =
                                    categories.binary_search_by(|c| c.as_str().cmp(k.as_ref()))
                                {
                                    out[r * width + offset + i] = 1.0;
                                }
                            }
                        }
                    }
                    offset += categories.len();
                }
                Step::Ordinal {
                    categories,
                    fill,
                    scale,
                    ..
                } => {
                    for r in 0..table.n_rows {
                        let c = cell(col, r);
                        let x =
                            match map_key(&c) {
                                None => missing(r, *fill)?,
                                Some(k) => categories.binary_search(&k).map_err(|_| {
                                    PreprocessError::Cell {
                                        column: name.clone(),
                                        row: r + row_offset,
                                        why: format!("unknown category {k:?}"),
                                    }
                                })? as f64,
                            };
                        out[r * width + offset] = scaled(x, scale);
                    }
                    offset += 1;
                }
            }
        }
        Ok(out)
    }
}

/// Parse `--map COL=a:0,b:1`.
pub fn parse_map(spec: &str) -> Result<(String, BTreeMap<String, f64>), String> {
    let (col, pairs) = spec
        .split_once('=')
        .ok_or_else(|| format!("--map '{spec}' is not COLUMN=value:number,..."))?;
    let mut map = BTreeMap::new();
    for pair in pairs.split(',') {
        let (k, v) = pair
            .rsplit_once(':')
            .ok_or_else(|| format!("--map '{spec}': '{pair}' is not value:number"))?;
        let v: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("--map '{spec}': '{v}' is not a number"))?;
        map.insert(k.trim().to_string(), v);
    }
    Ok((col.trim().to_string(), map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::data::ReadOptions;

    fn table(text: &str) -> Table {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.csv");
        std::fs::write(&p, text).unwrap();
        Table::read_csv(&p, &ReadOptions::default()).unwrap()
    }

    fn opts(features: &[&str]) -> PreprocessOptions {
        PreprocessOptions {
            features: features.iter().map(|s| s.to_string()).collect(),
            maps: BTreeMap::new(),
            encoding: Encoding::Onehot,
            na: NaPolicy::Mean,
            scale: false,
        }
    }

    #[test]
    fn mapped_codes_are_accepted_unless_they_are_source_values() {
        let t = table("sex,age\nmale,20\nfemale,30\n");
        let mut o = opts(&["sex", "age"]);
        o.maps
            .insert("sex".into(), parse_map("sex=male:0,female:1").unwrap().1);
        let p = Preprocessor::fit(&t, &o).unwrap();
        // Codes as text (a CSV, or a JSON string) and as numbers give the mapped value.
        assert_eq!(
            p.transform(&table("sex,age\n0,20\n1,30\n"), 2).unwrap(),
            [0., 20., 1., 30.]
        );
        let e = p
            .transform(&table("sex,age\n2,20\n"), 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"2\"") && e.contains("codes 0, 1"), "{e}");
        // A source value that looks like a code is the source value.
        let t = table("x\n0\n1\n");
        let mut o = opts(&["x"]);
        o.maps.insert("x".into(), parse_map("x=0:1,1:0").unwrap().1);
        let p = Preprocessor::fit(&t, &o).unwrap();
        assert_eq!(p.transform(&t, 2).unwrap(), [1., 0.]);
    }

    #[test]
    fn maps_onehot_and_fill() {
        let t = table("sex,port,age\nmale,S,20\nfemale,C,\nfemale,S,40\n");
        let mut o = opts(&["sex", "port", "age"]);
        o.maps
            .insert("sex".into(), parse_map("sex=male:0,female:1").unwrap().1);
        let p = Preprocessor::fit(&t, &o).unwrap();
        assert_eq!(p.feature_names, ["sex", "port=C", "port=S", "age"]);
        let x = p.transform(&t, 2).unwrap();
        assert_eq!(x, [0., 0., 1., 20., 1., 1., 0., 30., 1., 0., 1., 40.]);
        // Unknown one-hot category: all zeros. Unknown mapped value: an error naming column and row.
        let new = table("sex,port,age\nfemale,Q,1\n");
        assert_eq!(p.transform(&new, 2).unwrap(), [1., 0., 0., 1.]);
        let bad = table("sex,port,age\nother,S,1\n");
        let e = p.transform(&bad, 2).unwrap_err().to_string();
        assert!(e.contains("'sex', row 2") && e.contains("other"), "{e}");
        let missing = table("sex,port\nmale,S\n");
        assert!(
            p.transform(&missing, 2)
                .unwrap_err()
                .to_string()
                .contains("'age'")
        );
    }

    #[test]
    fn drop_policy_refuses_missing_at_predict_and_scaling_is_saved() {
        let t = table("a\n1\n3\n");
        let mut o = opts(&["a"]);
        o.na = NaPolicy::Drop;
        o.scale = true;
        let p = Preprocessor::fit(&t, &o).unwrap();
        assert_eq!(p.transform(&t, 2).unwrap(), [-1.0, 1.0]);
        let e = p.transform(&table("a,b\n,1\n"), 2).unwrap_err().to_string();
        assert!(e.contains("missing value"), "{e}");
        assert!(parse_map("x").is_err());
        assert!(parse_map("x=a:b").is_err());
    }
}
