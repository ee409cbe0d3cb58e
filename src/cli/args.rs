//! What the subcommands share: the global `--output` value, flags built from domain choices, `KEY=VALUE`
//! and delimiter parsing, the active run and experiment from flag or environment, and the two ways a
//! command prints a bare value or what it did.

use super::EXIT_ERROR;
use crate::output::OutputFormat;
use crate::settings::Settings;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// `--output`: a format; or, for `predict` only (as before `--output-file`), a file name that cannot be
/// taken for a format (it has a folder or a .csv/.json extension).
#[derive(Debug, Clone)]
pub enum OutputArg {
    Format(OutputFormat),
    File(std::path::PathBuf),
}

pub(super) fn parse_output(s: &str) -> Result<OutputArg, String> {
    if let Ok(f) = s.parse() {
        return Ok(OutputArg::Format(f));
    }
    let path = std::path::Path::new(s);
    let file_like = s.contains('/')
        || path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["csv", "json"].contains(&e.to_ascii_lowercase().as_str()));
    if file_like {
        return Ok(OutputArg::File(path.to_path_buf()));
    }
    let names: Vec<&str> = OutputFormat::ALL.iter().map(|f| f.name()).collect();
    Err(format!(
        "'{s}' is not a format ({}); `mlx predict --output-file FILE` writes predictions to a file",
        names.join(", ")
    ))
}

/// A bare value for `$(...)` (a run id, a version), or one JSON document under `-o json`.
pub(super) fn print_value(settings: &Settings, text: &str, json: serde_json::Value) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if settings.json_flag() {
        crate::output::print_json(&mut out, &json)?;
    } else {
        writeln!(out, "{text}")?;
    }
    Ok(())
}

/// A command that only writes: quiet on success, but one JSON document saying what it did under `-o json`
/// (so a script that always passes `-o json` always gets exactly one document).
pub(super) fn print_done(settings: &Settings, json: serde_json::Value) -> Result<()> {
    if settings.json_flag() {
        crate::output::print_json(&mut std::io::stdout().lock(), &json)?;
    }
    Ok(())
}

/// Print a filter/order-by error with a caret under the column; exit code 2 (bad input).
pub(super) fn report_parse_error(e: &crate::search::QueryError) -> ExitCode {
    eprintln!("error: invalid {}: {}", e.what, e.error);
    eprintln!("{}", e.error.pointer());
    ExitCode::from(EXIT_ERROR)
}

/// Parse repeated `KEY=VALUE` arguments.
pub(super) fn parse_pairs(what: &str, pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            bail!("{what} '{p}' is not KEY=VALUE");
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// `--delimiter`: one ASCII character; `\t` or `tab` for a tab.
pub(super) fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "'{s}' is not a single ASCII character (e.g. ';', or '\\t' for a tab)"
        )),
    }
}

/// A flag taking one of a domain [`Choice`](crate::ml::core::Choice)'s names (the domain types know
/// nothing of clap; the names and help lines come from them).
pub(super) fn choice<T: crate::ml::core::Choice + Clone>()
-> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let values = T::ALL.iter().map(|v| {
        let p = PossibleValue::new(v.name());
        match v.help() {
            "" => p,
            help => p.help(help),
        }
    });
    PossibleValuesParser::new(values)
        .map(|name| T::from_name(&name).expect("clap checked the name"))
}

/// Split-and-trim for comma lists: `--features "Pclass, Sex"` names `Sex`, not ` Sex`.
pub(super) fn trimmed(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The active run: `--run`, else `MLX_RUN_ID`, else `MLFLOW_RUN_ID`.
pub(super) fn active_run_id(flag: Option<String>) -> Result<String> {
    flag.or_else(|| crate::settings::env::first(&["MLX_RUN_ID", "MLFLOW_RUN_ID"]).map(|(_, v)| v))
        .context("no active run: pass --run ID or set MLX_RUN_ID (e.g. export MLX_RUN_ID=$(mlx log start))")
}

/// The run to attach to, if any: `--run`, else `MLX_RUN_ID`, else `MLFLOW_RUN_ID`.
pub(super) fn active_run_id_opt(flag: Option<String>) -> Option<String> {
    active_run_id(flag).ok()
}

/// The experiment named by a flag, else `MLX_EXPERIMENT_NAME`/`MLFLOW_EXPERIMENT_NAME`.
pub(super) fn experiment_from_env(flag: Option<String>) -> Option<String> {
    flag.or_else(|| {
        crate::settings::env::first(&["MLX_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_NAME"])
            .map(|(_, v)| v)
    })
}
