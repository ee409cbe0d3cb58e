//! Printing listings as a table (for people), JSON (stable, for scripts) or CSV.

pub mod runs;

use comfy_table::{ColumnConstraint, ContentArrangement, Row, Table, presets};
use serde::Serialize;
use std::io::{self, IsTerminal, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
    /// A GitHub-flavoured markdown table (for pull-request comments)
    Markdown,
}

impl OutputFormat {
    /// Every format, for help texts and errors.
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::Table,
        OutputFormat::Json,
        OutputFormat::Csv,
        OutputFormat::Markdown,
    ];

    /// The name `--output` takes.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Json => "json",
            OutputFormat::Csv => "csv",
            OutputFormat::Markdown => "markdown",
        }
    }

    /// Table for a person at a terminal, JSON for a pipe.
    pub fn auto() -> Self {
        if io::stdout().is_terminal() {
            OutputFormat::Table
        } else {
            OutputFormat::Json
        }
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(OutputFormat::Table),
            "json" => Ok(OutputFormat::Json),
            "csv" => Ok(OutputFormat::Csv),
            "markdown" | "md" => Ok(OutputFormat::Markdown),
            other => Err(format!(
                "unknown format '{other}' (expected table, json, csv or markdown)"
            )),
        }
    }
}

/// Rows for table/CSV output; the JSON form is given separately so it can carry full structure.
pub struct Listing {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Listing {
    pub fn new(headers: &[&str]) -> Self {
        Listing {
            headers: headers.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }
}

/// Narrowest a column is squeezed to (a metric such as `0.7039` still reads).
const MIN_COLUMN: usize = 8;

/// The width tables must fit: `COLUMNS`, else the terminal's when stdout is one; None for a pipe or file.
fn terminal_width() -> Option<usize> {
    let columns = crate::settings::env::number::<usize>("COLUMNS").filter(|w| *w > 0);
    columns.or_else(|| {
        io::stdout()
            .is_terminal()
            .then(|| Table::new().width().map(usize::from))
            .flatten()
    })
}

/// A table as wide as the terminal at most: the first column (the id) stays whole, the others shrink to
/// [`MIN_COLUMN`] with `…` at the cut, one line per row; columns that still do not fit are left out and
/// named under the table. Without a terminal or `COLUMNS` (a pipe, a file) nothing is cut.
pub fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let Some(width) = terminal_width() else {
        return render(headers, rows, None);
    };
    let content = |i: usize| {
        rows.iter()
            .filter_map(|r| r.get(i))
            .chain(headers.get(i))
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
    };
    // Borders take 2; each column its content plus a space either side.
    let mut used = 2;
    let mut keep = 0;
    for i in 0..headers.len() {
        let w = if i == 0 {
            content(0)
        } else {
            content(i).min(MIN_COLUMN)
        };
        if keep > 0 && used + w + 2 > width {
            break;
        }
        used += w + 2;
        keep += 1;
    }
    if keep == headers.len() {
        return render(headers, rows, Some(width));
    }
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r[..keep.min(r.len())].to_vec())
        .collect();
    let mut note = format!(
        "{} more columns not shown (--columns picks, -o json has all): {}",
        headers.len() - keep,
        headers[keep..].join(", ")
    );
    if note.chars().count() > width {
        note = note
            .chars()
            .take(width.saturating_sub(1))
            .collect::<String>()
            + "…";
    }
    format!("{}\n{note}", render(&headers[..keep], &rows, Some(width)))
}

fn render(headers: &[String], rows: &[Vec<String>], width: Option<usize>) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_BORDERS_ONLY);
    if let Some(w) = width {
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_truncation_indicator("…");
        t.set_width(u16::try_from(w).unwrap_or(u16::MAX));
    }
    t.set_header(headers);
    for r in rows {
        let mut row = Row::from(r);
        row.max_height(1);
        t.add_row(row);
    }
    if width.is_some() {
        if let Some(first) = t.column_mut(0) {
            first.set_constraint(ColumnConstraint::ContentWidth);
        }
        for i in 1..headers.len() {
            if let Some(c) = t.column_mut(i) {
                c.set_constraint(ColumnConstraint::LowerBoundary(comfy_table::Width::Fixed(
                    MIN_COLUMN as u16,
                )));
            }
        }
    }
    t.to_string()
}

/// Print `listing` in `format`, with `json` as the JSON document.
pub fn print<J: Serialize>(format: OutputFormat, listing: &Listing, json: &J) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match format {
        OutputFormat::Table => {
            if listing.rows.is_empty() {
                writeln!(out, "(none)")?;
            } else {
                writeln!(out, "{}", table(&listing.headers, &listing.rows))?;
            }
        }
        OutputFormat::Json => print_json(&mut out, json)?,
        OutputFormat::Markdown => write!(out, "{}", markdown(&listing.headers, &listing.rows))?,
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(&listing.headers).map_err(csv_io)?;
            for r in &listing.rows {
                w.write_record(r).map_err(csv_io)?;
            }
            w.flush()?;
        }
    }
    out.flush()
}

/// A CSV writer's error as the I/O error it wraps, if it is one (so a closed pipe stays BrokenPipe).
fn csv_io(e: csv::Error) -> io::Error {
    match e.kind() {
        csv::ErrorKind::Io(_) => match e.into_kind() {
            csv::ErrorKind::Io(io) => io,
            kind => io::Error::other(format!("{kind:?}")),
        },
        _ => io::Error::other(e),
    }
}

/// A markdown table; `|` in cells is escaped.
pub fn markdown(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut out = markdown_rows(std::slice::from_ref(&headers.to_vec()));
    out.push_str(&format!("|{}\n", " --- |".repeat(headers.len())));
    out.push_str(&markdown_rows(rows));
    out
}

/// Rows of a markdown table without its header (a streamed table's later rows).
pub fn markdown_rows(rows: &[Vec<String>]) -> String {
    let cell = |s: &String| s.replace('|', "\\|").replace('\n', " ");
    rows.iter()
        .map(|r| {
            format!(
                "| {} |\n",
                r.iter().map(cell).collect::<Vec<_>>().join(" | ")
            )
        })
        .collect()
}

pub fn print_json<J: Serialize>(out: &mut impl Write, json: &J) -> io::Result<()> {
    // `io::Error::from` keeps a write's own error (a closed pipe stays BrokenPipe, which exits quietly).
    serde_json::to_writer_pretty(&mut *out, json).map_err(io::Error::from)?;
    writeln!(out)
}

/// A JSON array written one element at a time, byte for byte what [`print_json`] writes for the whole
/// array (so a streamed listing reads as a buffered one), valid JSON once [`JsonArray::finish`]ed.
#[derive(Default)]
pub struct JsonArray {
    count: usize,
}

impl JsonArray {
    pub fn push<J: Serialize>(&mut self, out: &mut impl Write, item: &J) -> io::Result<()> {
        let text = serde_json::to_string_pretty(item).map_err(io::Error::other)?;
        out.write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
        // Pretty JSON escapes newlines inside strings, so every line break is the layout's own.
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                out.write_all(b"\n")?;
            }
            write!(out, "  {line}")?;
        }
        self.count += 1;
        Ok(())
    }

    pub fn finish(self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })
    }
}

/// A metric value as tables and verdicts show it.
pub fn fmt_value(v: f64) -> String {
    if v.is_finite() && v.fract() != 0.0 {
        format!("{v:.4}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_json_array_is_the_buffered_one() {
        let items = [
            serde_json::json!({"a": 1, "b": {"c": [1, 2], "d": "x\ny"}}),
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!("s"),
        ];
        for n in 0..=items.len() {
            let mut want = Vec::new();
            print_json(&mut want, &items[..n].to_vec()).unwrap();
            let mut got = Vec::new();
            let mut array = JsonArray::default();
            for item in &items[..n] {
                array.push(&mut got, item).unwrap();
            }
            array.finish(&mut got).unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }
}
