//! Typing a column as it is read: the type a model's signature expects, or the one pandas would give the
//! same cells; a column that is mostly numbers with a stray word is read as text but kept as suspect.

use super::cells::{bool_literal, check_integer_text, format_number, parse_finite};
use super::table::Column;
use crate::ml::core::DataError;
use std::collections::BTreeMap;
use std::path::Path;

/// How to type columns when reading.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Columns to read as categories even if they look numeric.
    pub categorical: Vec<String>,
    /// Expected types by column (from a model signature): "string" or a numeric MLflow type.
    pub expected: BTreeMap<String, String>,
}

/// An MLflow column type as a static name (`string` for one mlx does not know).
pub(super) fn known_type(kind: &str) -> &'static str {
    ["long", "integer", "double", "float", "boolean"]
        .into_iter()
        .find(|k| *k == kind)
        .unwrap_or("string")
}

/// Cells of a column that is read as text although pandas reads it typed, spelled as pandas prints what it
/// read, so a category learnt here is the key the pyfunc loader makes of pandas' value: a boolean column's
/// `true` is `True`; a `--categorical` numeric column's `007` is `7` (and its signature says `long`).
/// Columns a signature reads as `string` keep their text (models trained before this kept it too).
pub(super) fn normalise_like_pandas(
    values: Vec<Option<String>>,
    kind: &str,
    name: &str,
    opts: &ReadOptions,
) -> Vec<Option<String>> {
    let categorical = opts.categorical.iter().any(|c| c == name);
    let rewrite = |f: &dyn Fn(&str) -> Option<String>| {
        values
            .iter()
            .map(|v| v.as_deref().map(|s| f(s).unwrap_or_else(|| s.to_string())))
            .collect()
    };
    match kind {
        "boolean" => rewrite(&|s| bool_literal(s).map(str::to_string)),
        "long" | "double" if categorical => rewrite(&|s| parse_finite(s).map(format_number)),
        _ => values,
    }
}

/// Decide a column's type: numeric when every value parses as a number. With an expected numeric type
/// (a model's signature), a non-number is an error naming the row; a column that is over 90% numbers is
/// read as text but remembered as suspect.
pub(super) fn type_column(
    path: &Path,
    name: &str,
    values: Vec<Option<String>>,
    kind: &str,
    opts: &ReadOptions,
    first_row: usize,
) -> Result<(Column, Option<(usize, String)>), DataError> {
    let expected = opts.expected.get(name).map(String::as_str);
    if opts.categorical.iter().any(|c| c == name) || expected == Some("string") || kind == "boolean"
    {
        return Ok((Column::Text(values), None));
    }
    let parsed: Vec<Option<Result<f64, ()>>> = values
        .iter()
        .map(|v| v.as_deref().map(|s| parse_finite(s).ok_or(())))
        .collect();
    if let Some(kind) = expected {
        for (i, p) in parsed.iter().enumerate() {
            if let (Some(Ok(x)), Some(text)) = (p, &values[i]) {
                check_integer_text(kind, text, *x).map_err(|why| DataError::Cell {
                    path: path.to_path_buf(),
                    column: name.into(),
                    row: i + first_row,
                    why: format!("{why} (the model expects {kind})"),
                })?;
            }
        }
    }
    let numbers = parsed.iter().filter(|p| matches!(p, Some(Ok(_)))).count();
    let present = values.iter().flatten().count();
    let bad = parsed.iter().position(|p| matches!(p, Some(Err(_))));
    match bad {
        None => Ok((
            Column::Numeric(
                parsed
                    .into_iter()
                    .map(|p| p.map(|r| r.unwrap_or(f64::NAN)))
                    .collect(),
            ),
            None,
        )),
        Some(i) if expected.is_some() => Err(DataError::Cell {
            path: path.to_path_buf(),
            column: name.into(),
            row: i + first_row,
            why: format!(
                "{:?} is not a number (the model expects {})",
                crate::redact::brief(values[i].as_deref().unwrap_or("")),
                expected.unwrap_or("a number")
            ),
        }),
        Some(i) => {
            let suspect = (numbers * 10 > present * 9)
                .then(|| (i + first_row, values[i].clone().unwrap_or_default()));
            Ok((Column::Text(values), suspect))
        }
    }
}
