//! `mlx runs diff A B`: what differs between two runs (`ops::compare::diff`), as a table or JSON.

use crate::output::{self, Listing, OutputFormat};
use crate::settings::Settings;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct DiffArgs {
    a: String,
    b: String,
}

/// `mlx runs diff A B`: what differs between two runs.
pub fn diff(settings: &Settings, args: DiffArgs) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let report = crate::ops::compare::diff(store.as_ref(), &args.a, &args.b)?;
    let mut listing = Listing::new(&["what", "key", "A", "B"]);
    let mut json = serde_json::Map::new();
    for (what, changes) in &report.sections {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        for (k, va, vb) in changes {
            listing
                .rows
                .push(vec![what.to_string(), k.clone(), show(va), show(vb)]);
        }
        let list = changes
            .iter()
            .map(|(k, a, b)| serde_json::json!({"key": k, "a": a, "b": b}))
            .collect();
        json.insert(what.to_string(), serde_json::Value::Array(list));
    }
    let format = settings.output_format();
    if format == OutputFormat::Table {
        // Long values (commands, notes) would make the table unreadable; JSON has them whole.
        for row in &mut listing.rows {
            for cell in row.iter_mut().skip(2) {
                if cell.chars().count() > 60 {
                    *cell = cell.chars().take(57).collect::<String>() + "...";
                }
            }
        }
    }
    if listing.rows.is_empty() && format == OutputFormat::Table {
        println!(
            "runs {} and {} do not differ",
            report.a.info.run_id, report.b.info.run_id
        );
        return Ok(ExitCode::SUCCESS);
    }
    output::print(format, &listing, &json)?;
    Ok(ExitCode::SUCCESS)
}
