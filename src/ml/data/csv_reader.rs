//! Reading CSV into tables: the delimiter sniffed from the header, fields and rows bounded in size, and
//! files larger than memory read a chunk of rows at a time. Rows are numbered as in a spreadsheet (the
//! header is row 1), and errors name the file, the row and the column.

use super::cells::{is_missing, pandas_type};
use super::table::Table;
use super::typing::{ReadOptions, known_type, normalise_like_pandas, type_column};
use crate::ml::core::DataError;
use std::path::{Path, PathBuf};

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
