//! Tabular data from CSV: typed columns (numbers stay numbers, strings are categories), missing values,
//! a content digest, and MLflow's column-spec schema. Errors name the file, the column and the row.

pub use super::core::DataError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Strings read as a missing value: exactly pandas' default `na_values`, so a column has the type
/// `pandas.read_csv` gives it (`none` is text to pandas, `n/a` and `<NA>` are gaps).
const NA_STRINGS: [&str; 19] = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

pub fn is_missing(s: &str) -> bool {
    NA_STRINGS.contains(&s.trim())
}

/// pandas' default `true_values` and `false_values`: a column of only these reads as `bool`.
const TRUE_STRINGS: [&str; 3] = ["True", "TRUE", "true"];
const FALSE_STRINGS: [&str; 3] = ["False", "FALSE", "false"];

/// A boolean as pandas' `read_csv` reads it, spelled as pandas prints it (`True`/`False`); None for
/// anything else.
pub fn bool_literal(s: &str) -> Option<&'static str> {
    let s = s.trim();
    if TRUE_STRINGS.contains(&s) {
        Some("True")
    } else if FALSE_STRINGS.contains(&s) {
        Some("False")
    } else {
        None
    }
}

/// The MLflow column type of the dtype `pandas.read_csv` gives a column of these (trimmed) cells, `None`
/// missing: `long` (int64) only when every cell is an integer literal within int64 (an optional sign and
/// digits: `007` is 7, `59.0` and `1e3` are not integers) and none is missing; `double` (float64) for other
/// numbers, gaps in an integer column, and a column with no value at all; `boolean` for a complete column of
/// `True`/`False` (with gaps pandas keeps them as objects: `string`); `string` otherwise. A model's
/// signature takes this type, so MLflow's schema check accepts the same file read by pandas.
pub fn pandas_type(cells: &[Option<String>]) -> &'static str {
    let complete = cells.iter().all(Option::is_some);
    let all = |f: &dyn Fn(&str) -> bool| cells.iter().flatten().all(|v| f(v));
    if cells.iter().flatten().next().is_none() {
        "double"
    } else if all(&|v| bool_literal(v).is_some()) {
        if complete { "boolean" } else { "string" }
    } else if all(&|v| parse_finite(v).is_some()) {
        if complete && all(&|v| v.trim().parse::<i64>().is_ok()) {
            "long"
        } else {
            "double"
        }
    } else {
        "string"
    }
}

/// A present (not missing) cell as a number: finite numbers only, so `inf` is refused rather than fed to
/// a model. Shared by the CSV reader and the JSON request path, which treat `"NaN"`/`"inf"` alike.
pub fn parse_finite(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Why `x` does not fit MLflow column type `kind`, if it does not: integer types (`long`, `integer`)
/// refuse fractions and values out of their range instead of silently rounding or wrapping. The bound of
/// `long` is 2^63 exclusive: `i64::MAX` rounds up to 2^63 as a float, so a float compare with it would let
/// 2^63..2^63+1024 (which all read as 2^63) through. A cell whose text is an exact int64 is checked with
/// [`check_integer_text`].
pub fn check_integer(kind: &str, x: f64) -> Result<(), String> {
    check_integer_shown(kind, x, &format_number(x))
}

/// [`check_integer`] for a cell read from `text`: an int64 literal is a `long` however close to its
/// bounds, and a refused value is quoted as written (not as its nearest float).
pub fn check_integer_text(kind: &str, text: &str, x: f64) -> Result<(), String> {
    // The text is parsed only for a refused value (the last 512 below i64::MAX round up to 2^63).
    let checked = check_integer_shown(kind, x, text.trim());
    if checked.is_err() && kind == "long" && text.trim().parse::<i64>().is_ok() {
        Ok(())
    } else {
        checked
    }
}

fn check_integer_shown(kind: &str, x: f64, shown: &str) -> Result<(), String> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let (inside, lo, hi) = match kind {
        "long" => ((-TWO_63..TWO_63).contains(&x), i64::MIN, i64::MAX),
        "integer" => (
            (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&x),
            i64::from(i32::MIN),
            i64::from(i32::MAX),
        ),
        _ => return Ok(()),
    };
    if x.fract() != 0.0 {
        Err(format!("{shown} is not a whole number"))
    } else if !inside {
        Err(format!("{shown} is out of range for {kind} ({lo}..{hi})"))
    } else {
        Ok(())
    }
}

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

pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
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

/// How to type columns when reading.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Columns to read as categories even if they look numeric.
    pub categorical: Vec<String>,
    /// Expected types by column (from a model signature): "string" or a numeric MLflow type.
    pub expected: BTreeMap<String, String>,
}

/// The delimiter of a file whose first line is `head`: a header with no comma but a `;` or a tab is
/// semicolon- or tab-separated (spreadsheets in many locales export `;`).
fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let count = |d: u8| line.iter().filter(|&&b| b == d).count();
    match (count(b','), count(b';'), count(b'\t')) {
        (0, semi, tab) if semi > tab => b';',
        (0, _, tab) if tab > 0 => b'\t',
        _ => b',',
    }
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

    /// Read a CSV file with a header row. Rows are numbered as in a spreadsheet: the header is row 1.
    pub fn read_csv(path: &Path, opts: &ReadOptions) -> Result<Table, DataError> {
        Self::read_csv_delimited(path, opts, None)
    }

    /// [`Table::read_csv`] with a delimiter (None: detected, see [`sniff_delimiter`]).
    pub fn read_csv_delimited(
        path: &Path,
        opts: &ReadOptions,
        delimiter: Option<u8>,
    ) -> Result<Table, DataError> {
        let mut chunks = CsvChunks::open_delimited(path, opts.clone(), usize::MAX, delimiter)?;
        match chunks.next_chunk()? {
            Some((_, table)) => Ok(table),
            None => Err(DataError::File {
                path: path.to_path_buf(),
                why: "the file has a header but no data rows".into(),
            }),
        }
    }
}

/// The longest CSV field (a header name or a value) mlx reads.
pub const MAX_FIELD_BYTES: usize = 1 << 20;
/// The longest CSV record (one row, all its fields) mlx reads; past it the read stops, so a hostile
/// 1 GB line costs at most this much memory.
pub const MAX_RECORD_BYTES: u64 = 16 << 20;

/// A reader that fails once more than [`MAX_RECORD_BYTES`] were read since the last [`Bounded::reset`]
/// (called after each record). The CSV reader buffers a few KiB ahead, so the count is of the current
/// record plus at most one buffer of the next.
struct Bounded {
    inner: Box<dyn std::io::Read + Send>,
    since_reset: u64,
}

impl Bounded {
    fn reset(&mut self) {
        self.since_reset = 0;
    }
}

impl std::io::Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since_reset > MAX_RECORD_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a row longer than {} MiB (mlx reads at most {} MiB per field and {} MiB per row)",
                    MAX_RECORD_BYTES >> 20,
                    MAX_FIELD_BYTES >> 20,
                    MAX_RECORD_BYTES >> 20
                ),
            ));
        }
        let n = self.inner.read(buf)?;
        self.since_reset += n as u64;
        Ok(n)
    }
}

/// An error if a field is longer than [`MAX_FIELD_BYTES`]; quotes its start only.
fn check_field_sizes<'a>(fields: impl Iterator<Item = &'a str>) -> Result<(), String> {
    for (i, f) in fields.enumerate() {
        if f.len() > MAX_FIELD_BYTES {
            return Err(format!(
                "field {} is {} bytes, over the limit of {} MiB per field: {:?}",
                i + 1,
                f.len(),
                MAX_FIELD_BYTES >> 20,
                crate::redact::brief(f)
            ));
        }
    }
    Ok(())
}

/// A CSV file read a bounded number of rows at a time (for predicting on files larger than memory).
pub struct CsvChunks {
    reader: csv::Reader<Bounded>,
    path: PathBuf,
    names: Vec<String>,
    opts: ReadOptions,
    chunk_rows: usize,
    /// Spreadsheet row number of the next record (the header is row 1).
    next_row: usize,
    record: csv::StringRecord,
}

impl CsvChunks {
    pub fn open(path: &Path, opts: ReadOptions, chunk_rows: usize) -> Result<CsvChunks, DataError> {
        Self::open_delimited(path, opts, chunk_rows, None)
    }

    /// Open a file (`-`: stdin) with a delimiter (None: detected from the header).
    pub fn open_delimited(
        path: &Path,
        opts: ReadOptions,
        chunk_rows: usize,
        delimiter: Option<u8>,
    ) -> Result<CsvChunks, DataError> {
        if path == Path::new("-") {
            let stdin = Box::new(std::io::stdin());
            return Self::from_reader_delimited(
                stdin,
                Path::new("<stdin>"),
                opts,
                chunk_rows,
                delimiter,
            );
        }
        let file = std::fs::File::open(path).map_err(|e| DataError::File {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        Self::from_reader_delimited(Box::new(file), path, opts, chunk_rows, delimiter)
    }

    /// Read CSV from any reader; `name` is used in messages.
    pub fn from_reader(
        input: Box<dyn std::io::Read + Send>,
        name: &Path,
        opts: ReadOptions,
        chunk_rows: usize,
    ) -> Result<CsvChunks, DataError> {
        Self::from_reader_delimited(input, name, opts, chunk_rows, None)
    }

    fn from_reader_delimited(
        input: Box<dyn std::io::Read + Send>,
        name: &Path,
        opts: ReadOptions,
        chunk_rows: usize,
        delimiter: Option<u8>,
    ) -> Result<CsvChunks, DataError> {
        let path = name;
        let file_err = |why: String| DataError::File {
            path: path.to_path_buf(),
            why,
        };
        let mut input = std::io::BufReader::new(input);
        let delimiter = match delimiter {
            Some(d) => d,
            None => {
                use std::io::BufRead;
                sniff_delimiter(input.fill_buf().map_err(|e| file_err(e.to_string()))?)
            }
        };
        let input: Box<dyn std::io::Read + Send> = Box::new(input);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .delimiter(delimiter)
            .from_reader(Bounded {
                inner: input,
                since_reset: 0,
            });
        let header = reader
            .headers()
            .map_err(|e| file_err(format!("header: {}", csv_error_text(&e))))?;
        check_field_sizes(header.iter()).map_err(|why| file_err(format!("header: {why}")))?;
        let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
        if names.is_empty() || names.iter().all(|n| n.is_empty()) {
            return Err(file_err("the file is empty (no header row)".into()));
        }
        reader.get_mut().reset();
        Ok(CsvChunks {
            reader,
            path: path.to_path_buf(),
            names,
            opts,
            chunk_rows: chunk_rows.max(1),
            next_row: 2,
            record: csv::StringRecord::new(),
        })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Bytes read so far (for progress).
    pub fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    /// The next chunk and the row number of its first row; None at the end of the file.
    pub fn next_chunk(&mut self) -> Result<Option<(usize, Table)>, DataError> {
        let first_row = self.next_row;
        let mut raw: Vec<Vec<Option<String>>> = vec![Vec::new(); self.names.len()];
        let mut n = 0;
        while n < self.chunk_rows {
            let row = self.next_row;
            let more = self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => DataError::Row {
                        path: self.path.clone(),
                        row,
                        why: format!("{len} fields, but the header has {expected_len}"),
                    },
                    _ => DataError::Row {
                        path: self.path.clone(),
                        row,
                        why: csv_error_text(&e),
                    },
                })?;
            if !more {
                break;
            }
            self.reader.get_mut().reset();
            check_field_sizes(self.record.iter()).map_err(|why| DataError::Row {
                path: self.path.clone(),
                row,
                why,
            })?;
            for (c, field) in self.record.iter().enumerate() {
                raw[c].push((!is_missing(field)).then(|| field.trim().to_string()));
            }
            self.next_row += 1;
            n += 1;
        }
        if n == 0 {
            return Ok(None);
        }
        let mut columns = Vec::with_capacity(self.names.len());
        let mut suspect = Vec::with_capacity(self.names.len());
        let mut kinds = Vec::with_capacity(self.names.len());
        for (name, values) in self.names.iter().zip(raw) {
            // Read with a signature (predicting), a column has the signature's type, and one the model
            // does not use is not typed (it is read as before, unused).
            let kind = match self.opts.expected.get(name) {
                Some(expected) => known_type(expected),
                None if !self.opts.expected.is_empty() => "string",
                None => pandas_type(&values),
            };
            kinds.push(kind);
            let values = normalise_like_pandas(values, kind, name, &self.opts);
            let (column, bad) = type_column(&self.path, name, values, kind, &self.opts, first_row)?;
            columns.push(column);
            suspect.push(bad);
        }
        Ok(Some((
            first_row,
            Table {
                names: self.names.clone(),
                columns,
                n_rows: n,
                suspect,
                kinds,
            },
        )))
    }
}

fn csv_error_text(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".into(),
        _ => e.to_string(),
    }
}

/// An MLflow column type as a static name (`string` for one mlx does not know).
fn known_type(kind: &str) -> &'static str {
    ["long", "integer", "double", "float", "boolean"]
        .into_iter()
        .find(|k| *k == kind)
        .unwrap_or("string")
}

/// Cells of a column that is read as text although pandas reads it typed, spelled as pandas prints what it
/// read, so a category learnt here is the key the pyfunc loader makes of pandas' value: a boolean column's
/// `true` is `True`; a `--categorical` numeric column's `007` is `7` (and its signature says `long`).
/// Columns a signature reads as `string` keep their text (models trained before this kept it too).
fn normalise_like_pandas(
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
fn type_column(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("d.csv");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn types_and_missing_values() {
        let (_d, p) = write("a,b,c\n1,x,2.5\n,y,NA\n3,,4\n");
        let t = Table::read_csv(&p, &ReadOptions::default()).unwrap();
        assert_eq!(t.n_rows, 3);
        assert_eq!(
            t.columns[0],
            Column::Numeric(vec![Some(1.0), None, Some(3.0)])
        );
        assert_eq!(
            t.columns[1],
            Column::Text(vec![Some("x".into()), Some("y".into()), None])
        );
        assert_eq!(t.columns[0].mlflow_type(), "long");
        assert_eq!(t.columns[2].mlflow_type(), "double");
    }

    #[test]
    fn column_types_are_the_ones_pandas_reads() {
        let (_d, p) = write(
            "a,b,c,d,e,f,g,h\n59.0,1e3,1,True,007,true,True,-3\n127.0,2,,False,010,FALSE,,+4\n",
        );
        let t = Table::read_csv(&p, &ReadOptions::default()).unwrap();
        assert_eq!(
            t.kinds,
            [
                "double", "double", "double", "boolean", "long", "boolean", "string", "long"
            ]
        );
        assert_eq!(t.mlflow_type("e"), Some("long"));
        // Booleans are categories spelled as pandas prints them; a categorical number as it reads.
        assert_eq!(
            t.column("f"),
            Some(&Column::Text(vec![
                Some("True".into()),
                Some("False".into())
            ]))
        );
        let opts = ReadOptions {
            categorical: vec!["e".into()],
            ..Default::default()
        };
        let t = Table::read_csv(&p, &opts).unwrap();
        assert_eq!(
            t.column("e"),
            Some(&Column::Text(vec![Some("7".into()), Some("10".into())]))
        );
        assert_eq!(t.mlflow_type("e"), Some("long"));
        assert_eq!(pandas_type(&[None, None]), "double");
        let (_d, p) = write("a,b\n1,x\nn/a,none\n<NA>,y\n");
        let t = Table::read_csv(&p, &ReadOptions::default()).unwrap();
        assert_eq!(t.kinds, ["double", "string"]);
        assert_eq!(
            t.column("a"),
            Some(&Column::Numeric(vec![Some(1.0), None, None]))
        );
        assert_eq!(pandas_type(&[Some("9223372036854775808".into())]), "double");
    }

    #[test]
    fn longs_past_i64_max_are_out_of_range_though_they_round_to_it() {
        let range = "out of range for long (-9223372036854775808..9223372036854775807)";
        for text in ["9223372036854775808", "9223372036854776832", "1e19"] {
            let x = parse_finite(text).unwrap();
            assert_eq!(
                check_integer_text("long", text, x),
                Err(format!("{text} is {range}"))
            );
            assert!(check_integer("long", x).is_err(), "{text}");
        }
        assert_eq!(
            check_integer("long", 9_223_372_036_854_775_807.0),
            Err(format!("9223372036854776000 is {range}")),
            "as a float, i64::MAX is 2^63"
        );
        for text in ["9223372036854775807", "-9223372036854775808", "7"] {
            let x = parse_finite(text).unwrap();
            assert_eq!(check_integer_text("long", text, x), Ok(()), "{text}");
        }
        assert_eq!(check_integer("long", -9_223_372_036_854_775_808.0), Ok(()));
        assert_eq!(
            check_integer("integer", 2_147_483_648.0),
            Err("2147483648 is out of range for integer (-2147483648..2147483647)".into())
        );
        assert_eq!(check_integer("integer", 2_147_483_647.0), Ok(()));
        let (_d, p) = write("age\n9223372036854775807\n9223372036854775809\n");
        let opts = ReadOptions {
            expected: [("age".to_string(), "long".to_string())].into(),
            ..Default::default()
        };
        assert_eq!(
            Table::read_csv(&p, &opts).unwrap_err().to_string(),
            format!(
                "{}: column 'age', row 3: 9223372036854775809 is {range} (the model expects long)",
                p.display()
            )
        );
    }

    #[test]
    fn bad_files_name_the_problem() {
        let (_d, p) = write("");
        let e = Table::read_csv(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        let (_d, p) = write("a,b\n");
        let e = Table::read_csv(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no data rows"), "{e}");
        let (_d, p) = write("a,b\n1,2\n3\n");
        let e = Table::read_csv(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 3") && e.contains("1 fields"), "{e}");
        let (_d, p) = write("age,y\n1,0\n2,1\nabc,0\n4,1\n");
        let text: String = std::iter::once("age,y\n".to_string())
            .chain((0..20).map(|i| {
                if i == 2 {
                    "abc,0\n".into()
                } else {
                    format!("{i},1\n")
                }
            }))
            .collect();
        let (_e, q) = write(&text);
        let t = Table::read_csv(&q, &ReadOptions::default()).unwrap();
        let e = t
            .check_numeric(&q, &["age".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column 'age', row 4") && e.contains("\"abc\""),
            "{e}"
        );
        assert!(
            t.check_numeric(&q, &["y".into()]).is_ok(),
            "unused columns are not checked"
        );
        let opts = ReadOptions {
            expected: [("age".to_string(), "long".to_string())].into(),
            ..Default::default()
        };
        let e = Table::read_csv(&p, &opts).unwrap_err().to_string();
        assert!(
            e.contains("column 'age', row 4") && e.contains("expects long"),
            "{e}"
        );
        let e = Table::read_csv(Path::new("/no/such.csv"), &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("/no/such.csv"), "{e}");
    }

    #[test]
    fn digest_changes_with_data() {
        let (_d, p) = write("a,b\n1,x\n2,y\n");
        let (_e, q) = write("a,b\n1,x\n2,z\n");
        let t1 = Table::read_csv(&p, &ReadOptions::default()).unwrap();
        let t2 = Table::read_csv(&q, &ReadOptions::default()).unwrap();
        assert_eq!(digest(&t1).len(), 8);
        assert_ne!(digest(&t1), digest(&t2));
        assert_eq!(digest(&t1), digest(&t1.clone()));
    }
}
