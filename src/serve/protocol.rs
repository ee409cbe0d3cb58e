//! MLflow's scoring protocol: request bodies (`dataframe_split`, `dataframe_records`, `instances`, `inputs`,
//! CSV) to a table typed by the model's signature, and responses and errors byte for byte as MLflow's
//! server writes them (Python's `json.dumps` spacing, its error codes and messages).

use super::limits::{MAX_COLUMNS, max_cells};
use crate::ml::data::preprocess::InputColumn;
use crate::ml::data::{Column, CsvChunks, ReadOptions, Table};
use crate::redact::brief;
use serde::Serialize;
use serde_json::Value;
use std::io;

/// A protocol error: HTTP status and MLflow's error JSON fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolError {
    pub status: u16,
    pub error_code: &'static str,
    pub message: String,
    pub sqlstate: &'static str,
    pub error_class: &'static str,
}

impl ProtocolError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ProtocolError {
            status: 400,
            error_code: "BAD_REQUEST",
            message: message.into(),
            sqlstate: "KAM00",
            error_class: "INVALID_PARAMETER_VALUE",
        }
    }
    pub fn schema(message: impl Into<String>) -> Self {
        ProtocolError {
            status: 400,
            error_code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
            sqlstate: "KAM01",
            error_class: "SCHEMA_ENFORCEMENT_FAILED",
        }
    }
    pub fn body(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            error_code: &'a str,
            message: &'a str,
            sqlstate: &'a str,
            error_class: &'a str,
        }
        python_json(&Body {
            error_code: self.error_code,
            message: &self.message,
            sqlstate: self.sqlstate,
            error_class: self.error_class,
        })
    }
}

/// JSON as Python's `json.dumps` writes it: `", "` between items and `": "` after keys.
pub fn python_json<T: Serialize>(value: &T) -> String {
    struct PyFormatter;
    impl serde_json::ser::Formatter for PyFormatter {
        fn begin_array_value<W: ?Sized + io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_key<W: ?Sized + io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
            w.write_all(b": ")
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyFormatter);
    value.serialize(&mut ser).expect("JSON values serialize");
    String::from_utf8(out).expect("JSON is UTF-8")
}

const FORMAT_KEYS: [&str; 4] = [
    "dataframe_split",
    "dataframe_records",
    "instances",
    "inputs",
];

fn format_error(found: &[&str]) -> ProtocolError {
    let found: Vec<String> = found.iter().map(|k| format!("'{k}'")).collect();
    ProtocolError::bad_request(format!(
        "The input must be a JSON dictionary with exactly one of the input fields {{'inputs', 'instances', \
         'dataframe_split', 'dataframe_records'}}. Received dictionary with input fields: [{}]. IMPORTANT: The \
         MLflow Model scoring protocol has changed in MLflow version 2.0. If you are seeing this error, you are \
         likely using an outdated scoring request format. To resolve the error, either update your request format \
         or adjust your MLflow Model's requirements file to specify an older version of MLflow (for example, \
         change the 'mlflow' requirement specifier to 'mlflow==1.30.0'). If you are making a request using the \
         MLflow client (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in \
         order to use the new request format. For more information about the updated MLflow Model scoring protocol \
         in MLflow 2.0, see https://mlflow.org/docs/latest/models.html#deploy-mlflow-models.",
        found.join(", ")
    ))
}

/// Rows as column name → values, from any of MLflow's JSON shapes.
type Columns = Vec<(String, Vec<Value>)>;

fn too_many_columns() -> ProtocolError {
    ProtocolError::bad_request(format!(
        "Invalid input. The request has more than {MAX_COLUMNS} columns, the most a request may have."
    ))
}

/// `columns` × `rows` within [`max_cells`] and `columns` within [`MAX_COLUMNS`].
fn check_shape(columns: usize, rows: usize, body_len: usize) -> Result<(), ProtocolError> {
    if columns > MAX_COLUMNS {
        return Err(too_many_columns());
    }
    let cells = columns.saturating_mul(rows);
    if cells > max_cells(body_len) {
        return Err(ProtocolError::bad_request(format!(
            "Invalid input. {columns} columns of {rows} rows make {cells} cells, more than the {} a body of \
             {body_len} bytes may fill (sparse records or short rows are padded with nulls).",
            max_cells(body_len)
        )));
    }
    Ok(())
}

fn records_to_columns(records: Vec<Value>, body_len: usize) -> Result<Columns, ProtocolError> {
    if records.iter().any(|r| !r.is_object()) {
        // Lists of lists have no column names: MLflow reports the missing inputs.
        return positional(&records, body_len);
    }
    let n = records.len();
    let mut columns: Columns = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, r) in records.into_iter().enumerate() {
        let Value::Object(obj) = r else {
            unreachable!("checked above")
        };
        for (k, v) in obj {
            let col = match index.get(&k) {
                Some(&c) => c,
                None => {
                    check_shape(columns.len() + 1, n, body_len)?;
                    index.insert(k.clone(), columns.len());
                    columns.push((k, vec![Value::Null; n]));
                    columns.len() - 1
                }
            };
            columns[col].1[i] = v;
        }
    }
    Ok(columns)
}

/// The `i`-th value of each row (null where a row is shorter or not a list).
fn nth_of_rows(rows: &[Value], i: usize) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            r.as_array()
                .and_then(|a| a.get(i))
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect()
}

/// Unnamed rows: columns named 0, 1, 2...
fn positional(rows: &[Value], body_len: usize) -> Result<Columns, ProtocolError> {
    let width = rows
        .iter()
        .filter_map(|r| r.as_array())
        .map(|a| a.len())
        .max()
        .unwrap_or(0);
    check_shape(width, rows.len(), body_len)?;
    Ok((0..width)
        .map(|i| (i.to_string(), nth_of_rows(rows, i)))
        .collect())
}

/// pandas' `df.to_dict()` column: `{"0": 3, "1": 1}` (index → value), in index order (integer indexes
/// numerically, others as text); `None` when the object is not such a column.
fn index_column(column: &serde_json::Map<String, Value>) -> Option<Vec<Value>> {
    if column.values().any(|v| v.is_array() || v.is_object()) {
        return None;
    }
    let mut cells: Vec<(&String, &Value)> = column.iter().collect();
    cells.sort_by(
        |(a, _), (b, _)| match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => a.cmp(b),
        },
    );
    Some(cells.into_iter().map(|(_, v)| v.clone()).collect())
}

fn columnar(obj: &serde_json::Map<String, Value>) -> Result<Columns, ProtocolError> {
    if obj.len() > MAX_COLUMNS {
        return Err(too_many_columns());
    }
    Ok(obj
        .iter()
        .map(|(k, v)| {
            let values = match v {
                Value::Array(a) => a.clone(),
                Value::Object(o) => index_column(o).unwrap_or_else(|| vec![v.clone()]),
                other => vec![other.clone()],
            };
            (k.clone(), values)
        })
        .collect())
}

/// Parse a JSON request body into named columns (and the `params`, ignored as MLflow does without a schema).
pub fn parse_json(body: &[u8]) -> Result<Columns, ProtocolError> {
    use super::fast_json::Fast;
    match super::fast_json::parse(body) {
        Fast::Columns(columns) => Ok(columns),
        Fast::TooWide => Err(too_many_columns()),
        Fast::General => parse_json_general(body),
    }
}

/// Whether a request body's `params` ask for probabilities (`{"predict_proba": true}`). Only bodies that
/// mention the name are parsed again, so the common request pays one substring search.
pub fn wants_proba(body: &[u8]) -> bool {
    const NAME: &[u8] = b"predict_proba";
    if !body.windows(NAME.len()).any(|w| w == NAME) {
        return false;
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|doc| doc.get("params")?.get("predict_proba")?.as_bool())
        .unwrap_or(false)
}

/// The original app's `/predict` body, parsed once: a list of records, one record (an object of scalars),
/// or an object of columns. The error is the message for `{"error": ...}`.
pub fn parse_predict(body: &[u8]) -> Result<Columns, String> {
    use super::fast_json::Fast;
    match super::fast_json::parse_records(body) {
        Fast::Columns(columns) => return Ok(columns),
        Fast::TooWide => return Err(too_many_columns().message),
        Fast::General => {}
    }
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    match doc {
        Value::Array(records) => records_to_columns(records, body.len()).map_err(|e| e.message),
        Value::Object(ref o) if o.values().all(|v| !v.is_array() && !v.is_object()) => {
            records_to_columns(vec![doc], body.len()).map_err(|e| e.message)
        }
        Value::Object(cols) => columnar(&cols).map_err(|e| e.message),
        _ => Err("expected a list of records or an object of columns".into()),
    }
}

/// Every shape MLflow accepts, through `serde_json::Value`, with MLflow's errors.
pub fn parse_json_general(body: &[u8]) -> Result<Columns, ProtocolError> {
    let mut doc: Value = serde_json::from_slice(body).map_err(|e| {
        ProtocolError::bad_request(format!(
            "Invalid input. Ensure that input is a valid JSON formatted string. Error: '{e}'\nInput: \n{}\n",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    })?;
    let Some(obj) = doc.as_object_mut() else {
        return Err(ProtocolError::bad_request(
            "Invalid input. The input must be a JSON dictionary with exactly one of the input fields \
             {'inputs', 'instances', 'dataframe_split', 'dataframe_records'}. Received a list.",
        ));
    };
    let found: Vec<&str> = FORMAT_KEYS
        .iter()
        .copied()
        .filter(|k| obj.contains_key(*k))
        .collect();
    if found.len() != 1 {
        return Err(format_error(&found));
    }
    let key = found[0];
    let value = obj.remove(key).expect("found above");
    match (key, &value) {
        ("dataframe_split", Value::Object(split)) => {
            let data = split
                .get("data")
                .cloned()
                .unwrap_or(Value::Array(Vec::new()));
            let Value::Array(rows) = data else {
                return Err(ProtocolError::bad_request(
                    "Invalid input. Provided dataframe_split field is not a valid dataframe representation in \
                     'split' format. Error: 'DataFrame constructor not properly called!'",
                ));
            };
            match split.get("columns").and_then(|c| c.as_array()) {
                Some(cols) => {
                    let names: Vec<String> = cols
                        .iter()
                        .map(|c| {
                            c.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| c.to_string())
                        })
                        .collect();
                    check_shape(names.len(), rows.len(), body.len())?;
                    Ok(names
                        .iter()
                        .enumerate()
                        .map(|(i, n)| (n.clone(), nth_of_rows(&rows, i)))
                        .collect())
                }
                None => positional(&rows, body.len()),
            }
        }
        ("dataframe_split", _) => Err(ProtocolError::bad_request(
            "Invalid input. Provided dataframe_split field is not a valid dataframe representation in 'split' \
             format. Error: 'DataFrame constructor not properly called!'",
        )),
        (_, Value::Array(_)) => {
            let Value::Array(records) = value else {
                unreachable!("matched above")
            };
            records_to_columns(records, body.len())
        }
        (_, Value::Object(cols)) => columnar(cols),
        _ => Err(ProtocolError::bad_request(format!(
            "Invalid input. The '{key}' field must be a list of records or a dictionary of columns."
        ))),
    }
}

fn type_name(kind: &str) -> &'static str {
    match kind {
        "long" | "integer" => "int64",
        "string" => "str",
        "boolean" => "bool",
        _ => "float64",
    }
}

/// Build the table the model reads from named columns, converting by the signature's types.
pub fn to_table(columns: Columns, inputs: &[InputColumn]) -> Result<Table, ProtocolError> {
    // Each name's first column, found by one hash lookup (never inputs × columns compares).
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, (name, _)) in columns.iter().enumerate() {
        index.entry(name.as_str()).or_insert(i);
    }
    let missing: Vec<String> = inputs
        .iter()
        .filter(|c| !index.contains_key(c.name.as_str()))
        .map(|c| format!("'{}'", c.name))
        .collect();
    let n_rows = columns.first().map_or(0, |(_, v)| v.len());
    if !missing.is_empty() || n_rows == 0 {
        return Err(missing_inputs(&columns, inputs, &missing));
    }
    let positions: Vec<usize> = inputs.iter().map(|c| index[c.name.as_str()]).collect();
    drop(index);
    let mut names = Vec::new();
    let mut out = Vec::new();
    let mut columns = columns;
    for (input, position) in inputs.iter().zip(positions) {
        // Taken, not cloned: each input is read once (a repeated input name would find an empty column).
        let values = std::mem::take(&mut columns[position].1);
        if values.len() != n_rows {
            return Err(ProtocolError::bad_request(
                "Invalid input. All columns must have the same length.",
            ));
        }
        let column = if input.kind == "string" || input.kind == "boolean" {
            text_column(values, input.kind == "boolean")
        } else {
            numeric_column(&values, input)?
        };
        names.push(input.name.clone());
        out.push(column);
    }
    Ok(Table::new(names, out, n_rows))
}

/// MLflow's schema error for a request that lacks inputs (`missing`, quoted) or has no rows: the schema, the
/// missing inputs (all of them when there are no rows) and the first few extra names.
fn missing_inputs(
    columns: &[(String, Vec<Value>)],
    inputs: &[InputColumn],
    missing: &[String],
) -> ProtocolError {
    let inputs_by_name: std::collections::HashSet<&str> =
        inputs.iter().map(|c| c.name.as_str()).collect();
    let schema: Vec<String> = inputs
        .iter()
        .map(|c| format!("'{}': {} (required)", c.name, c.kind))
        .collect();
    let all: Vec<String> = inputs.iter().map(|c| format!("'{}'", c.name)).collect();
    // The first few extra names (a request may have thousands).
    const SHOWN: usize = 20;
    let extras = columns
        .iter()
        .filter(|(n, _)| !inputs_by_name.contains(n.as_str()));
    let mut extra: Vec<String> = extras.clone().take(SHOWN).map(|(n, _)| brief(n)).collect();
    let more = extras.count().saturating_sub(SHOWN);
    if more > 0 {
        extra.push(format!("and {more} more"));
    }
    let mut message = format!(
        "Failed to enforce schema of data with schema '[{}]'. Error: Model is missing inputs [{}].",
        schema.join(", "),
        if missing.is_empty() {
            all.join(", ")
        } else {
            missing.join(", ")
        }
    );
    if !extra.is_empty() {
        message.push_str(&format!(
            " Note that there were extra inputs: [{}].",
            extra.join(", ")
        ));
    }
    ProtocolError::schema(message)
}

/// A `string` or `boolean` input's values as text; a boolean column's categories are spelled as pandas
/// prints them (`True`, `False`).
fn text_column(values: Vec<Value>, boolean: bool) -> Column {
    Column::Text(
        values
            .into_iter()
            .map(|v| match v {
                Value::Null => None,
                Value::Bool(b) if boolean => Some(if b { "True" } else { "False" }.into()),
                Value::String(s) if boolean => {
                    Some(crate::ml::data::bool_literal(&s).map_or(s, str::to_string))
                }
                Value::String(s) => Some(s),
                other => Some(crate::ml::data::format_number(
                    other.as_f64().unwrap_or(f64::NAN),
                )),
            })
            .collect(),
    )
}

/// A numeric input's values, converted as MLflow converts them (and refused as it refuses them).
fn numeric_column(values: &[Value], input: &InputColumn) -> Result<Column, ProtocolError> {
    let mut nums = Vec::with_capacity(values.len());
    let incompatible = |why: String| {
        ProtocolError::bad_request(format!(
            "Invalid input. Data is not compatible with model signature. Failed to convert column {} to type '{}'. {why}",
            brief(&input.name),
            type_name(&input.kind)
        ))
    };
    for v in values {
        let x = match v {
            Value::Null => None,
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            // As in a CSV file: "NaN", "null", "" are missing values; "inf" is refused.
            Value::String(s) if crate::ml::data::is_missing(s) => None,
            Value::String(s) => Some(crate::ml::data::parse_finite(s).ok_or_else(|| {
                incompatible(format!(
                    "Error: 'ValueError(\"could not convert '{}'\")'",
                    brief(s)
                ))
            })?),
            other => {
                return Err(incompatible(format!("Got {}", brief(&other.to_string()))));
            }
        };
        // An exact int64 is a long even where the float rounds past i64::MAX.
        let exact = match v {
            Value::Number(n) => n.is_i64(),
            Value::String(s) => s.trim().parse::<i64>().is_ok(),
            _ => false,
        };
        if let Some(x) = x.filter(|_| !(exact && input.kind == "long")) {
            crate::ml::data::check_integer(&input.kind, x)
                .map_err(|why| incompatible(format!("Error: '{why}'")))?;
        }
        nums.push(x);
    }
    Ok(Column::Numeric(nums))
}

/// Parse a CSV body (header row required) with the signature's types.
pub fn parse_csv(body: &[u8], inputs: &[InputColumn]) -> Result<Table, ProtocolError> {
    let opts = ReadOptions {
        categorical: Vec::new(),
        expected: inputs
            .iter()
            .map(|c| (c.name.clone(), c.kind.clone()))
            .collect(),
    };
    let csv_error = |why: String| {
        ProtocolError::bad_request(format!(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas \
             DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: '{why}'"
        ))
    };
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(csv_error("No columns to parse from file".into()));
    }
    let mut chunks = CsvChunks::from_reader(
        Box::new(io::Cursor::new(body.to_vec())),
        std::path::Path::new("request body"),
        opts,
        usize::MAX,
    )
    .map_err(|e| csv_error(e.to_string()))?;
    if chunks.names().len() > MAX_COLUMNS {
        return Err(too_many_columns());
    }
    let table = match chunks.next_chunk().map_err(|e| csv_error(e.to_string()))? {
        Some((_, t)) => t,
        None => Table::new(
            chunks.names().to_vec(),
            chunks
                .names()
                .iter()
                .map(|_| Column::Numeric(Vec::new()))
                .collect(),
            0,
        ),
    };
    // Reuse the JSON path's checks (missing inputs, types) through columns.
    let columns: Columns = table
        .names
        .iter()
        .zip(&table.columns)
        .map(|(n, c)| {
            let values = (0..table.n_rows)
                .map(|r| match c {
                    Column::Numeric(v) => v[r].map_or(Value::Null, Value::from),
                    Column::Text(v) => v[r].clone().map_or(Value::Null, Value::from),
                })
                .collect();
            (n.clone(), values)
        })
        .collect();
    to_table(columns, inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Vec<InputColumn> {
        ["Pclass:long", "Sex:string", "Age:double"]
            .iter()
            .map(|s| {
                let (n, k) = s.split_once(':').unwrap();
                InputColumn {
                    name: n.into(),
                    kind: k.into(),
                }
            })
            .collect()
    }

    #[test]
    fn every_json_shape_gives_the_same_table() {
        let bodies = [
            r#"{"dataframe_split":{"columns":["Age","Pclass","Sex"],"data":[[22.0,3,"male"],[38,1,"female"]]}}"#,
            r#"{"dataframe_records":[{"Pclass":3,"Sex":"male","Age":22.0},{"Pclass":1,"Sex":"female","Age":38.0,"Extra":1}]}"#,
            r#"{"instances":[{"Pclass":3,"Sex":"male","Age":22.0},{"Pclass":1,"Sex":"female","Age":38.0}]}"#,
            r#"{"inputs":{"Pclass":[3,1],"Sex":["male","female"],"Age":[22.0,38.0]},"params":{"k":1}}"#,
            r#"{"inputs":[{"Pclass":3,"Sex":"male","Age":22.0},{"Pclass":1,"Sex":"female","Age":38.0}],"foo":1}"#,
            // pandas' df.to_dict(): column -> {index -> value}, rows in index order whatever the key order.
            r#"{"dataframe_records":{"Pclass":{"1":1,"0":3},"Sex":{"0":"male","1":"female"},"Age":{"0":22,"1":38}}}"#,
        ];
        let first = to_table(parse_json(bodies[0].as_bytes()).unwrap(), &inputs()).unwrap();
        assert_eq!(first.n_rows, 2);
        for b in &bodies[1..] {
            let t = to_table(parse_json(b.as_bytes()).unwrap(), &inputs()).unwrap();
            assert_eq!(t.columns, first.columns, "{b}");
        }
        let predict =
            br#"{"Pclass":{"0":3,"1":1},"Sex":{"1":"female","0":"male"},"Age":{"0":22,"1":38}}"#;
        let t = to_table(parse_predict(predict).unwrap(), &inputs()).unwrap();
        assert_eq!(t.columns, first.columns);
        // Integer indexes sort as numbers (10 after 9), not as text.
        let cols = parse_predict(br#"{"Age":{"10":1,"9":2}}"#).unwrap();
        assert_eq!(cols[0].1, [serde_json::json!(2), serde_json::json!(1)]);
        let csv = parse_csv(b"Pclass,Sex,Age\n3,male,22.0\n1,female,38\n", &inputs()).unwrap();
        assert_eq!(csv.columns, first.columns);
    }

    #[test]
    fn errors_are_mlflows() {
        let e = parse_json(b"{bad").unwrap_err();
        assert_eq!((e.status, e.error_code), (400, "BAD_REQUEST"));
        assert!(
            e.message
                .starts_with("Invalid input. Ensure that input is a valid JSON formatted string.")
        );
        let e = parse_json(b"[1]").unwrap_err();
        assert!(e.message.ends_with("Received a list."));
        let e = parse_json(br#"{"inputs":[],"instances":[]}"#).unwrap_err();
        assert!(
            e.message
                .contains("Received dictionary with input fields: ['dataframe_split'")
                || e.message.contains("['instances', 'inputs']"),
            "{}",
            e.message
        );
        let e = to_table(
            parse_json(br#"{"inputs":{"Pclass":[3],"Sex":["x"]}}"#).unwrap(),
            &inputs(),
        )
        .unwrap_err();
        assert_eq!(
            (e.error_code, e.error_class),
            ("INVALID_PARAMETER_VALUE", "SCHEMA_ENFORCEMENT_FAILED")
        );
        assert!(
            e.message.contains("Model is missing inputs ['Age']"),
            "{}",
            e.message
        );
        let e = to_table(
            parse_json(br#"{"inputs":{"Pclass":["x"],"Sex":["m"],"Age":[1]}}"#).unwrap(),
            &inputs(),
        )
        .unwrap_err();
        assert!(
            e.message
                .contains("Failed to convert column Pclass to type 'int64'"),
            "{}",
            e.message
        );
        let e = parse_csv(b"", &inputs()).unwrap_err();
        assert!(e.message.contains("No columns to parse from file"));
        assert_eq!(
            e.body().split(", \"message\"").next().unwrap(),
            "{\"error_code\": \"BAD_REQUEST\""
        );
    }

    /// Issue 30, point 2: a request naming more columns than the cap is a 400 naming the cap, on every
    /// path (the fast records path, the general one, /predict's), and sparse records or short rows that would
    /// pad into far more cells than the body holds are refused too.
    #[test]
    fn too_many_columns_or_padded_cells_are_a_400_naming_the_limit() {
        let wide_record = |n: usize| {
            let keys: Vec<String> = (0..n).map(|i| format!("\"k{i}\":1")).collect();
            format!("{{{}}}", keys.join(","))
        };
        let cap = format!("more than {MAX_COLUMNS} columns");
        let at_cap = format!("{{\"dataframe_records\":[{}]}}", wide_record(MAX_COLUMNS));
        assert_eq!(parse_json(at_cap.as_bytes()).unwrap().len(), MAX_COLUMNS);
        let over = wide_record(MAX_COLUMNS + 1);
        for body in [
            format!("{{\"dataframe_records\":[{over}]}}"),
            format!("{{\"instances\":[{over}]}}"),
            format!("{{\"dataframe_records\":[{{\"a\":1}},{over}]}}"),
        ] {
            let e = parse_json(body.as_bytes()).unwrap_err();
            assert_eq!((e.status, e.error_code), (400, "BAD_REQUEST"));
            assert!(e.message.contains(&cap), "{}", e.message);
        }
        for body in [format!("[{over}]"), over.clone()] {
            let e = parse_predict(body.as_bytes()).unwrap_err();
            assert!(e.contains(&cap), "{e}");
        }
        let names: Vec<String> = (0..=MAX_COLUMNS).map(|i| format!("\"c{i}\"")).collect();
        let split = format!(
            "{{\"dataframe_split\":{{\"columns\":[{}],\"data\":[[1]]}}}}",
            names.join(",")
        );
        assert!(
            parse_json(split.as_bytes())
                .unwrap_err()
                .message
                .contains(&cap)
        );
        let header: Vec<String> = (0..=MAX_COLUMNS).map(|i| format!("c{i}")).collect();
        let csv = format!("{}\n", header.join(","));
        let e = parse_csv(csv.as_bytes(), &inputs()).unwrap_err();
        assert!(e.message.contains(&cap), "{}", e.message);
        // 3,000 records with a key each: up to 3,000 columns of 3,000 rows, 9 M cells from 40 KB.
        let sparse: Vec<String> = (0..3_000).map(|i| format!("{{\"k{i}\":1}}")).collect();
        let sparse = format!("[{}]", sparse.join(","));
        let e = parse_predict(sparse.as_bytes()).unwrap_err();
        assert!(
            e.contains("columns of 3000 rows make") && e.contains("padded with nulls"),
            "{e}"
        );
        let wrapped = format!("{{\"dataframe_records\":{sparse}}}");
        let e = parse_json(wrapped.as_bytes()).unwrap_err();
        assert!(e.message.contains("padded with nulls"), "{}", e.message);
        // One long row and many empty ones: the same for unnamed rows.
        let long: Vec<String> = (0..3_000).map(|i| i.to_string()).collect();
        let rows = format!(
            "{{\"inputs\":[[{}]{}]}}",
            long.join(","),
            ",[]".repeat(3_000)
        );
        let e = parse_json(rows.as_bytes()).unwrap_err();
        assert!(e.message.contains("padded with nulls"), "{}", e.message);
        // Sparse but small is still fine (pandas fills NaN).
        let cols = parse_json(br#"{"dataframe_records":[{"a":1},{"b":2}]}"#).unwrap();
        assert_eq!(cols.len(), 2);
    }

    #[test]
    fn longs_are_bounded_exactly_and_booleans_are_pandas_spelled() {
        let table = |body: &str| to_table(parse_json(body.as_bytes()).unwrap(), &inputs());
        for pclass in [
            "9223372036854775808",
            "9223372036854776832",
            "\"9223372036854775808\"",
        ] {
            let e = table(&format!(
                r#"{{"inputs":{{"Pclass":[{pclass}],"Sex":["m"],"Age":[1]}}}}"#
            ))
            .unwrap_err();
            assert!(
                e.message.contains("is out of range for long"),
                "{pclass}: {}",
                e.message
            );
        }
        for pclass in ["9223372036854775807", "\"-9223372036854775808\""] {
            let body = format!(r#"{{"inputs":{{"Pclass":[{pclass}],"Sex":["m"],"Age":[1]}}}}"#);
            assert!(table(&body).is_ok(), "{pclass}");
        }
        let flag = [InputColumn {
            name: "Flag".into(),
            kind: "boolean".into(),
        }];
        let cols = parse_json(br#"{"inputs":{"Flag":[true,false,"true",null]}}"#).unwrap();
        assert_eq!(
            to_table(cols, &flag).unwrap().columns[0],
            Column::Text(vec![
                Some("True".into()),
                Some("False".into()),
                Some("True".into()),
                None
            ])
        );
    }

    #[test]
    fn python_spacing() {
        assert_eq!(
            python_json(&serde_json::json!({"predictions": [0, 1]})),
            "{\"predictions\": [0, 1]}"
        );
    }
}
