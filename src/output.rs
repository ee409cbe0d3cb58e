//! Printing listings as a table (for people), JSON (stable, for scripts) or CSV.

use comfy_table::{Table, presets};
use serde::Serialize;
use std::io::{self, IsTerminal, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
    /// A GitHub-flavoured markdown table (for pull-request comments)
    Markdown,
}

impl OutputFormat {
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

pub fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_BORDERS_ONLY);
    t.set_header(headers);
    for r in rows {
        t.add_row(r);
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
            w.write_record(&listing.headers).map_err(io::Error::other)?;
            for r in &listing.rows {
                w.write_record(r).map_err(io::Error::other)?;
            }
            w.flush()?;
        }
    }
    out.flush()
}

/// A markdown table; `|` in cells is escaped.
pub fn markdown(headers: &[String], rows: &[Vec<String>]) -> String {
    let cell = |s: &String| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "| {} |\n",
        headers.iter().map(cell).collect::<Vec<_>>().join(" | ")
    );
    out.push_str(&format!("|{}\n", " --- |".repeat(headers.len())));
    for r in rows {
        out.push_str(&format!(
            "| {} |\n",
            r.iter().map(cell).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

pub fn print_json<J: Serialize>(out: &mut impl Write, json: &J) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, json).map_err(io::Error::other)?;
    writeln!(out)
}
