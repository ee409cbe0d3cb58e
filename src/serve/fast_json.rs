//! The fast path of request parsing: `{"dataframe_records": [{flat scalars}...]}` and
//! `{"dataframe_split": {"columns": [...], "data": [[scalars]...]}}` streamed straight into columns, with no
//! map per record and no key string per cell (parsing into `serde_json::Value` first cost more than the
//! prediction). Anything else — other shapes, nested values, bad JSON — answers `None`, and the general
//! parser handles it with MLflow's exact errors.

use super::limits::{MAX_COLUMNS, max_cells};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

pub type Columns = Vec<(String, Vec<Value>)>;

/// Not a fast-path shape; the general parser takes over.
#[derive(Debug)]
struct Unsupported;

/// More columns than [`MAX_COLUMNS`]: refused at once, without parsing the rest of the body again.
#[derive(Debug)]
struct TooWide;

const TOO_WIDE: &str = "more columns than a request may have";

impl fmt::Display for TooWide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(TOO_WIDE)
    }
}

/// What the fast path made of a body.
pub enum Fast {
    Columns(Columns),
    /// More than [`MAX_COLUMNS`] columns.
    TooWide,
    /// Not a fast-path shape (or a table emptier than the limits allow): the general parser decides.
    General,
}

fn finish<T>(
    parsed: Result<T, serde_json::Error>,
    de: serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
) -> Result<T, Fast> {
    let mut de = de;
    match parsed {
        // serde_json puts " at line L column C" after a custom error's text.
        Err(e) if e.to_string().starts_with(TOO_WIDE) => Err(Fast::TooWide),
        Err(_) => Err(Fast::General),
        Ok(v) => de.end().map(|()| v).map_err(|_| Fast::General),
    }
}

pub fn parse(body: &[u8]) -> Fast {
    let mut de = serde_json::Deserializer::from_slice(body);
    let top = TopSeed {
        max_cells: max_cells(body.len()),
    };
    let parsed = top.deserialize(&mut de);
    match finish(parsed, de) {
        Ok(Some(columns)) => Fast::Columns(columns),
        Ok(None) => Fast::General,
        Err(other) => other,
    }
}

/// The original app's `/predict` list of flat records (`[{...}, ...]`), straight into columns.
pub fn parse_records(body: &[u8]) -> Fast {
    let mut de = serde_json::Deserializer::from_slice(body);
    let records = RecordsSeed {
        max_cells: max_cells(body.len()),
    };
    let parsed = records.deserialize(&mut de);
    match finish(parsed, de) {
        Ok(columns) => Fast::Columns(columns),
        Err(other) => other,
    }
}

struct TopSeed {
    max_cells: usize,
}

impl<'de> DeserializeSeed<'de> for TopSeed {
    type Value = Option<Columns>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed {
    type Value = Option<Columns>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a request object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: Option<Columns> = None;
        let mut formats = 0;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key.as_str() {
                "dataframe_records" => {
                    formats += 1;
                    found = Some(map.next_value_seed(RecordsSeed {
                        max_cells: self.max_cells,
                    })?);
                }
                "dataframe_split" => {
                    formats += 1;
                    found = Some(map.next_value_seed(SplitSeed)?);
                }
                // The general parser reports these formats and several format keys.
                "instances" | "inputs" => return Err(de::Error::custom(Unsupported)),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(if formats == 1 { found } else { None })
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a fast-path request")
    }
}

/// A key, borrowed when the input allows.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// A flat scalar cell; arrays and objects are not fast-path input.
struct CellSeed;

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for CellSeed {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// Put `value` at `row` of a column, padding skipped rows with nulls (a later duplicate key wins, as in
/// a JSON object). The padding is counted in `padded`; past `max_cells` the request is refused (by the
/// general parser, with the limit's message), so sparse records cannot cost memory quadratic in the body.
fn place<E: de::Error>(
    column: &mut Vec<Value>,
    row: usize,
    value: Value,
    padded: &mut usize,
    max_cells: usize,
) -> Result<(), E> {
    if column.len() == row {
        column.push(value);
    } else if column.len() > row {
        column[row] = value;
    } else {
        *padded += row - column.len();
        if *padded > max_cells {
            return Err(de::Error::custom(Unsupported));
        }
        column.resize(row, Value::Null);
        column.push(value);
    }
    Ok(())
}

/// A record's key as a column: found among the known ones without allocating (records repeat their keys,
/// usually in the same order, so the `guess` is nearly always right; else one hash lookup, so a body with
/// many keys parses in time linear in its size), or a new name.
enum ColumnKey {
    Known(usize),
    New(String),
}

struct ColumnKeySeed<'a> {
    names: &'a Columns,
    index: &'a HashMap<String, usize>,
    guess: usize,
}

impl<'de> DeserializeSeed<'de> for ColumnKeySeed<'_> {
    type Value = ColumnKey;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ColumnKey, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for ColumnKeySeed<'_> {
    type Value = ColumnKey;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ColumnKey, E> {
        if self.names.get(self.guess).is_some_and(|(n, _)| n == v) {
            return Ok(ColumnKey::Known(self.guess));
        }
        Ok(match self.index.get(v) {
            Some(&i) => ColumnKey::Known(i),
            None => ColumnKey::New(v.to_string()),
        })
    }
}

struct RecordsSeed {
    max_cells: usize,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed {
    type Value = Columns;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Columns, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed {
    type Value = Columns;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Columns, A::Error> {
        let mut columns: Columns = Vec::new();
        let mut index = HashMap::new();
        let mut padded = 0;
        let mut row = 0;
        while seq
            .next_element_seed(RecordSeed {
                columns: &mut columns,
                index: &mut index,
                row,
                padded: &mut padded,
                max_cells: self.max_cells,
            })?
            .is_some()
        {
            row += 1;
        }
        if columns.len().saturating_mul(row) > self.max_cells {
            return Err(de::Error::custom(Unsupported));
        }
        for (_, values) in &mut columns {
            values.resize(row, Value::Null);
        }
        Ok(columns)
    }
}

struct RecordSeed<'a> {
    columns: &'a mut Columns,
    index: &'a mut HashMap<String, usize>,
    row: usize,
    padded: &'a mut usize,
    max_cells: usize,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut guess = 0;
        while let Some(key) = map.next_key_seed(ColumnKeySeed {
            names: self.columns,
            index: self.index,
            guess,
        })? {
            let value = map.next_value_seed(CellSeed)?;
            let column = match key {
                ColumnKey::Known(c) => c,
                ColumnKey::New(name) => {
                    if self.columns.len() >= MAX_COLUMNS {
                        return Err(de::Error::custom(TooWide));
                    }
                    self.index.insert(name.clone(), self.columns.len());
                    self.columns.push((name, Vec::new()));
                    self.columns.len() - 1
                }
            };
            let (padded, max_cells) = (&mut *self.padded, self.max_cells);
            place(
                &mut self.columns[column].1,
                self.row,
                value,
                padded,
                max_cells,
            )?;
            guess = column + 1;
        }
        Ok(())
    }
}

struct SplitSeed;

impl<'de> DeserializeSeed<'de> for SplitSeed {
    type Value = Columns;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Columns, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SplitSeed {
    type Value = Columns;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a split dataframe")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Columns, A::Error> {
        let mut names: Option<Vec<String>> = None;
        let mut data: Option<Vec<Vec<Value>>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key.as_str() {
                "columns" => names = Some(map.next_value()?),
                "data" => data = Some(map.next_value_seed(RowsSeed)?),
                "index" => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => return Err(de::Error::custom(Unsupported)),
            }
        }
        let (Some(names), Some(columns)) = (names, data) else {
            return Err(de::Error::custom(Unsupported));
        };
        if names.len() > MAX_COLUMNS {
            return Err(de::Error::custom(TooWide));
        }
        // Every row as wide as the header, or the general parser decides.
        if columns.len() != names.len() {
            return Err(de::Error::custom(Unsupported));
        }
        Ok(names.into_iter().zip(columns).collect())
    }
}

/// Rows of scalars, stored column by column.
struct RowsSeed;

impl<'de> DeserializeSeed<'de> for RowsSeed {
    type Value = Vec<Vec<Value>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed {
    type Value = Vec<Vec<Value>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("rows")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut columns: Vec<Vec<Value>> = Vec::new();
        let mut row = 0;
        while seq
            .next_element_seed(RowSeed {
                columns: &mut columns,
                row,
            })?
            .is_some()
        {
            row += 1;
        }
        if columns.iter().any(|c| c.len() != row) {
            return Err(de::Error::custom(Unsupported));
        }
        Ok(columns)
    }
}

struct RowSeed<'a> {
    columns: &'a mut Vec<Vec<Value>>,
    row: usize,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while let Some(v) = seq.next_element_seed(CellSeed)? {
            if self.row == 0 {
                if self.columns.len() >= MAX_COLUMNS {
                    return Err(de::Error::custom(TooWide));
                }
                self.columns.push(Vec::new());
            }
            match self.columns.get_mut(i) {
                Some(c) => c.push(v),
                None => return Err(de::Error::custom(Unsupported)),
            }
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_the_general_parser() {
        for body in [
            r#"{"dataframe_records":[{"a":1,"b":"x"},{"b":"y","a":2.5}]}"#,
            r#"{"dataframe_records":[{"a":1},{"b":"y"},{"a":null,"a":3}]}"#,
            r#"{"dataframe_split":{"columns":["a","b"],"data":[[1,"x"],[2,null]]}}"#,
            r#"{"dataframe_split":{"data":[[1,"x"],[2,true]],"columns":["a","b"],"index":[0,1]}}"#,
            r#"{"params":{"k":1},"dataframe_records":[{"a":1}]}"#,
        ] {
            let Fast::Columns(fast) = parse(body.as_bytes()) else {
                panic!("{body}")
            };
            let general = super::super::protocol::parse_json_general(body.as_bytes()).unwrap();
            let sorted = |mut c: Columns| {
                c.sort_by(|a, b| a.0.cmp(&b.0));
                c
            };
            assert_eq!(sorted(fast), sorted(general), "{body}");
        }
    }

    #[test]
    fn other_shapes_go_to_the_general_parser() {
        for body in [
            "{bad",
            "[1]",
            r#"{"inputs":{"a":[1]}}"#,
            r#"{"dataframe_records":[[1,2]]}"#,
            r#"{"dataframe_records":[{"a":[1]}]}"#,
            r#"{"dataframe_records":[],"dataframe_split":{}}"#,
            r#"{"dataframe_split":{"columns":["a"],"data":[[1,2]]}}"#,
            r#"{"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3]]}}"#,
            r#"{"dataframe_records":[{"a":1}]} trailing"#,
        ] {
            assert!(matches!(parse(body.as_bytes()), Fast::General), "{body}");
        }
    }
}
