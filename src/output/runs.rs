//! How `runs list` prints runs: the columns (queried metrics, the most common ones, `--columns`), each
//! output format streamed page by page, and the JSON shape of one run (shared with `runs show`).

use super::{JsonArray, OutputFormat, fmt_value, markdown, markdown_rows, table};
use crate::store::entities::{Run, serialize_float};
use crate::timefmt;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// Why a listing stopped: the store failed to give a page, or the output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Csv(#[from] csv::Error),
}

/// One run in `runs list --output json` (a stable, documented shape).
#[derive(Serialize)]
pub struct RunSummary<'a> {
    run_id: &'a str,
    run_name: &'a str,
    experiment_id: &'a str,
    status: &'a str,
    lifecycle_stage: &'a str,
    user_id: &'a str,
    start_time: i64,
    end_time: Option<i64>,
    duration_ms: Option<i64>,
    artifact_uri: &'a str,
    metrics: BTreeMap<&'a str, Float>,
    params: &'a BTreeMap<String, String>,
    tags: &'a BTreeMap<String, String>,
}

#[derive(Serialize, Clone, Copy)]
pub struct Float(#[serde(serialize_with = "serialize_float")] f64);

pub fn summary(r: &Run) -> RunSummary<'_> {
    RunSummary {
        run_id: &r.info.run_id,
        run_name: &r.info.run_name,
        experiment_id: &r.info.experiment_id,
        status: r.info.status.as_str(),
        lifecycle_stage: r.info.lifecycle_stage.as_str(),
        user_id: &r.info.user_id,
        start_time: r.info.start_time,
        end_time: r.info.end_time,
        duration_ms: r.info.duration_ms(),
        artifact_uri: &r.info.artifact_uri,
        metrics: r
            .data
            .metrics
            .iter()
            .map(|(k, p)| (k.as_str(), Float(p.value)))
            .collect(),
        params: &r.data.params,
        tags: &r.data.tags,
    }
}

/// A column of `runs list` after the run's own: a metric, a param or a tag.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Metric(String),
    Param(String),
    Tag(String),
}

impl Column {
    fn header(&self) -> String {
        match self {
            // Metric headers stay bare, as before: most listings show only metrics.
            Column::Metric(k) => k.clone(),
            Column::Param(k) => format!("params.{k}"),
            Column::Tag(k) => format!("tags.{k}"),
        }
    }
}

/// Without --columns: the metrics the query names, then the most common ones (four in a table).
pub fn default_columns(format: OutputFormat, runs: &[Run], queried: &[String]) -> Vec<Column> {
    let n = match format {
        OutputFormat::Table | OutputFormat::Markdown => 4,
        _ => usize::MAX,
    };
    let mut keys = queried.to_vec();
    for k in key_metrics(runs, n) {
        if keys.len() >= n.max(queried.len()) {
            break;
        }
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter().map(Column::Metric).collect()
}

/// Metric keys shown as table columns: the most common ones, at most `n`.
pub fn key_metrics(runs: &[Run], n: usize) -> Vec<String> {
    let lists = runs
        .iter()
        .map(|r| r.data.metrics.keys().cloned().collect())
        .collect();
    crate::store::most_common(lists, n)
}

/// The table/CSV row of one run.
fn row(format: OutputFormat, r: &Run, show_experiment: bool, columns: &[Column]) -> Vec<String> {
    let mut row = vec![r.info.run_id.clone(), r.info.run_name.clone()];
    if show_experiment || format != OutputFormat::Table {
        row.push(r.info.experiment_id.clone());
    }
    row.push(r.info.status.as_str().into());
    row.push(timefmt::datetime(r.info.start_time));
    row.push(
        r.info
            .duration_ms()
            .map(timefmt::duration)
            .unwrap_or_else(|| "-".into()),
    );
    for c in columns {
        row.push(
            match c {
                Column::Metric(k) => r.data.metrics.get(k).map(|p| match format {
                    OutputFormat::Table => fmt_value(p.value),
                    _ => crate::store::metric_file::format_value(p.value),
                }),
                Column::Param(k) => r.data.params.get(k).cloned(),
                Column::Tag(k) => r.data.tags.get(k).cloned(),
            }
            .unwrap_or_default(),
        );
    }
    row
}

fn headers(format: OutputFormat, show_experiment: bool, columns: &[Column]) -> Vec<String> {
    let mut headers = vec!["run id", "name"];
    if show_experiment || format != OutputFormat::Table {
        headers.push("experiment id");
    }
    headers.extend(["status", "start", "duration"]);
    let mut headers: Vec<String> = headers.into_iter().map(String::from).collect();
    headers.extend(columns.iter().map(Column::header));
    headers
}

/// How a listing is printed: the format, whether runs of several experiments are listed, the columns
/// asked for (empty: chosen from the first page, see [`default_columns`]) and the query's metrics.
pub struct ListStyle<'a> {
    pub format: OutputFormat,
    pub show_experiment: bool,
    pub columns: Vec<Column>,
    pub queried: &'a [String],
}

/// Print pages of runs as they come, each written and flushed before the next is pulled, so a long
/// listing from a server starts at once and holds one page: JSON is one array written element by
/// element; CSV and markdown write their header with the first page; a table is printed per page (its
/// widths need the page's rows), each with the header. Columns are fixed by the first page; the note
/// returned names metrics later runs have that the CSV's columns miss (None: nothing missed).
pub fn print_pages(
    style: ListStyle<'_>,
    pages: impl IntoIterator<Item = crate::store::Result<Vec<Run>>>,
    out: &mut impl Write,
) -> Result<Option<String>, ListError> {
    let ListStyle {
        format,
        show_experiment,
        mut columns,
        queried,
    } = style;
    let chosen = columns.is_empty();
    let mut json = JsonArray::default();
    let mut first: Option<usize> = None;
    let mut missed: BTreeSet<String> = BTreeSet::new();
    for page in pages {
        let runs = page?;
        if runs.is_empty() {
            continue;
        }
        let header = first.is_none();
        if header {
            first = Some(runs.len());
            if chosen {
                columns = default_columns(format, &runs, queried);
            }
        } else if chosen && format == OutputFormat::Csv {
            let shown: BTreeSet<&String> = columns
                .iter()
                .filter_map(|c| match c {
                    Column::Metric(k) => Some(k),
                    _ => None,
                })
                .collect();
            let keys = runs.iter().flat_map(|r| r.data.metrics.keys());
            missed.extend(keys.filter(|k| !shown.contains(k)).cloned());
        }
        let rows = || -> Vec<Vec<String>> {
            let row = |r| row(format, r, show_experiment, &columns);
            runs.iter().map(row).collect()
        };
        match format {
            OutputFormat::Json => {
                for r in &runs {
                    json.push(out, &summary(r))?;
                }
            }
            OutputFormat::Table => {
                let headers = headers(format, show_experiment, &columns);
                writeln!(out, "{}", table(&headers, &rows()))?;
            }
            OutputFormat::Markdown if header => {
                let headers = headers(format, show_experiment, &columns);
                write!(out, "{}", markdown(&headers, &rows()))?;
            }
            OutputFormat::Markdown => write!(out, "{}", markdown_rows(&rows()))?,
            OutputFormat::Csv => {
                let mut w = csv::Writer::from_writer(&mut *out);
                if header {
                    w.write_record(headers(format, show_experiment, &columns))?;
                }
                for r in rows() {
                    w.write_record(r)?;
                }
                w.flush()?;
            }
        }
        out.flush()?;
    }
    if first.is_none() {
        // Nothing listed: what the empty listing always printed.
        let columns = if chosen {
            default_columns(format, &[], queried)
        } else {
            columns
        };
        let headers = headers(format, show_experiment, &columns);
        match format {
            OutputFormat::Json => {}
            OutputFormat::Table => writeln!(out, "(none)")?,
            OutputFormat::Markdown => write!(out, "{}", markdown(&headers, &[]))?,
            OutputFormat::Csv => {
                let mut w = csv::Writer::from_writer(&mut *out);
                w.write_record(&headers)?;
                w.flush()?;
            }
        }
    }
    if format == OutputFormat::Json {
        json.finish(out)?;
    }
    out.flush()?;
    Ok((!missed.is_empty()).then(|| {
        let list: Vec<&str> = missed.iter().map(String::as_str).collect();
        format!(
            "note: the CSV columns are the metrics of the first page ({} runs); later runs also have {} (name the columns with --columns)",
            first.unwrap_or(0),
            list.join(", ")
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn run(id: &str, metrics: &[&str]) -> Run {
        let metrics: Vec<(&str, f64)> = metrics.iter().map(|&k| (k, 0.5)).collect();
        let mut run = Run::for_test(id, &metrics);
        run.info.run_name = format!("name-{id}");
        run.info.start_time = 1_700_000_000_000;
        run
    }

    /// A writer whose bytes the test can read while the renderer still holds it.
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.borrow().clone()).unwrap()
        }
    }

    fn style(format: OutputFormat, columns: Vec<Column>) -> ListStyle<'static> {
        ListStyle {
            format,
            show_experiment: false,
            columns,
            queried: &[],
        }
    }

    #[test]
    fn each_page_is_written_before_the_next_is_pulled() {
        for format in OutputFormat::ALL {
            let out = Shared::default();
            let seen = out.clone();
            let mut pulled = 0;
            // A paged source that, asked for page 2 or 3, checks the rows of the pages before are out.
            let pages = std::iter::from_fn(|| {
                pulled += 1;
                let text = seen.text();
                for earlier in 1..pulled {
                    for id in [format!("p{earlier}a"), format!("p{earlier}b")] {
                        assert!(
                            text.contains(&id),
                            "{format:?}: page {pulled} pulled before {id} was written: {text}"
                        );
                    }
                }
                (pulled <= 3).then(|| {
                    Ok(vec![
                        run(&format!("p{pulled}a"), &["acc"]),
                        run(&format!("p{pulled}b"), &["acc"]),
                    ])
                })
            });
            let mut w = out.clone();
            assert_eq!(
                print_pages(style(format, vec![]), pages, &mut w).unwrap(),
                None
            );
            let text = out.text();
            match format {
                OutputFormat::Json => {
                    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let ids: Vec<&str> = doc
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r["run_id"].as_str().unwrap())
                        .collect();
                    assert_eq!(ids, ["p1a", "p1b", "p2a", "p2b", "p3a", "p3b"]);
                }
                OutputFormat::Csv => {
                    let lines: Vec<&str> = text.lines().collect();
                    assert_eq!(lines.len(), 7, "one header: {text}");
                    assert!(lines[0].starts_with("run id,") && lines[0].ends_with(",acc"));
                }
                OutputFormat::Markdown => {
                    let separators = text.lines().filter(|l| l.starts_with("| --- |"));
                    assert_eq!(separators.count(), 1, "one header: {text}");
                    assert_eq!(text.lines().count(), 8, "{text}");
                }
                OutputFormat::Table => {
                    assert_eq!(
                        text.matches("run id").count(),
                        3,
                        "a table per page: {text}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_first_page_fixes_the_columns_and_a_csv_names_what_later_runs_add() {
        let pages = || {
            vec![
                Ok(vec![run("a", &["acc", "loss"])]),
                Ok(vec![]),
                Ok(vec![run("b", &["acc", "f1", "auc"])]),
            ]
        };
        let mut out = Vec::new();
        let note = print_pages(style(OutputFormat::Csv, vec![]), pages(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            "run id,name,experiment id,status,start,duration,acc,loss"
        );
        assert_eq!(text.lines().count(), 3);
        let note = note.expect("a note");
        assert!(
            note.contains("auc, f1") && note.contains("--columns"),
            "{note}"
        );
        // Asked-for columns are kept as asked, so nothing is missed.
        let mut out = Vec::new();
        let columns = vec![Column::Metric("f1".into())];
        let note = print_pages(style(OutputFormat::Csv, columns), pages(), &mut out).unwrap();
        assert_eq!(note, None);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .ends_with(",f1")
        );
        // No runs: the header alone, and `(none)` for a table.
        let mut out = Vec::new();
        print_pages(style(OutputFormat::Table, vec![]), [Ok(vec![])], &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "(none)\n");
        let mut out = Vec::new();
        print_pages(style(OutputFormat::Json, vec![]), [], &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[]\n");
    }
}
