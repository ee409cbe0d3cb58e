//! `mlx doctor [--fix]` and `mlx gc [--older-than 30d] [--dry-run]`.

use crate::output::{self, Listing};
use crate::settings::Settings;
use crate::store::file::{Finding, Removed};
use crate::store::uri::file_uri_to_path;
use crate::store::{FileStore, SqliteStore};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct DoctorArgs {
    /// Repair what is safe to repair (missing folders, leftover temp files, empty metric files, dangling aliases)
    #[arg(long)]
    fix: bool,
}

#[derive(Args)]
pub struct GcArgs {
    /// Only what was deleted longer ago than this, e.g. 30d, 12h, 1d2h30m
    #[arg(long, value_name = "AGE")]
    older_than: Option<String>,
    /// Show what would be removed, remove nothing
    #[arg(long)]
    dry_run: bool,
}

/// The local store doctor and gc work on: the `mlruns` folder or an MLflow SQLite database.
enum Local {
    Folder(FileStore),
    Sqlite(SqliteStore),
}

impl Local {
    fn doctor(&self, fix: bool) -> crate::store::Result<Vec<Finding>> {
        match self {
            Local::Folder(s) => s.doctor(fix),
            Local::Sqlite(s) => s.doctor(fix),
        }
    }
    fn gc(&self, age: Option<i64>, dry_run: bool) -> crate::store::Result<Vec<Removed>> {
        match self {
            Local::Folder(s) => s.gc(age, dry_run),
            Local::Sqlite(s) => s.gc(age, dry_run),
        }
    }
    fn location(&self) -> String {
        match self {
            Local::Folder(s) => s.root().display().to_string(),
            Local::Sqlite(s) => s.path().display().to_string(),
        }
    }
}

fn file_store(settings: &Settings) -> Result<Local> {
    let uri = &settings.tracking_uri.value;
    if uri.to_ascii_lowercase().starts_with("sqlite:") {
        let path = crate::settings::sqlite_path(uri)?;
        return Ok(Local::Sqlite(SqliteStore::new(path)));
    }
    if uri.contains("://") && !uri.starts_with("file:") {
        bail!("doctor and gc work on a local store; '{uri}' is not one");
    }
    let path = file_uri_to_path(uri).with_context(|| format!("'{uri}' is not a local store"))?;
    Ok(Local::Folder(
        FileStore::new(path).with_notes(crate::settings::stderr_notes()),
    ))
}

/// `1d2h30m` → milliseconds. A bare number is days.
pub fn parse_age(text: &str) -> Result<i64> {
    if let Ok(days) = text.trim().parse::<i64>() {
        return Ok(days * 86_400_000);
    }
    let mut total = 0i64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1_000,
            _ => bail!(
                "--older-than '{text}': unknown unit '{c}' (use d, h, m, s, e.g. 30d or 1d12h)"
            ),
        };
        let n: i64 = number
            .parse()
            .with_context(|| format!("--older-than '{text}': a unit needs a number before it"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() {
        bail!("--older-than '{text}': '{number}' has no unit (use d, h, m, s)");
    }
    Ok(total)
}

pub fn doctor(settings: &Settings, args: DoctorArgs) -> Result<ExitCode> {
    let store = file_store(settings)?;
    let findings = store.doctor(args.fix)?;
    let mut listing = Listing::new(&["path", "problem", "fix"]);
    for f in &findings {
        let fix = match (&f.fix, f.fixed) {
            (Some(t), true) => format!("fixed: {t}"),
            (Some(t), false) if args.fix => format!("could not {t}"),
            (Some(t), false) => format!("--fix would {t}"),
            (None, _) => "needs a person".into(),
        };
        listing
            .rows
            .push(vec![f.path.display().to_string(), f.problem.clone(), fix]);
    }
    // Clean: a note on stderr, or an empty list for `-o json`.
    if findings.is_empty() && !settings.json_flag() {
        eprintln!("{}: no problems found", store.location());
        return Ok(ExitCode::SUCCESS);
    }
    output::print(settings.output_format(), &listing, &findings)?;
    let remaining = findings.iter().filter(|f| !f.fixed).count();
    eprintln!(
        "{} problems, {} fixed, {remaining} remaining",
        findings.len(),
        findings.len() - remaining
    );
    Ok(if remaining == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_CHECK_FAILED)
    })
}

pub fn gc(settings: &Settings, args: GcArgs) -> Result<ExitCode> {
    let store = file_store(settings)?;
    let age = args.older_than.as_deref().map(parse_age).transpose()?;
    let removed = store.gc(age, args.dry_run)?;
    for r in &removed {
        let verb = if args.dry_run {
            "Would permanently delete"
        } else {
            "Permanently deleted"
        };
        eprintln!("{verb} {} {} ({})", r.kind, r.id, r.path.display());
    }
    let mut listing = Listing::new(&["kind", "id", "path"]);
    for r in &removed {
        listing.rows.push(vec![
            r.kind.into(),
            r.id.clone(),
            r.path.display().to_string(),
        ]);
    }
    output::print(settings.output_format(), &listing, &removed)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_age;

    #[test]
    fn ages() {
        assert_eq!(parse_age("30d").unwrap(), 30 * 86_400_000);
        assert_eq!(
            parse_age("1d2h3m4s").unwrap(),
            86_400_000 + 7_200_000 + 180_000 + 4_000
        );
        assert_eq!(parse_age("2").unwrap(), 2 * 86_400_000);
        assert!(parse_age("3w").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("5d3").is_err());
    }
}
