//! `mlx config show`: the settings in effect and where each came from.

use crate::output::{self, Listing};
use crate::settings::Settings;
use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print each setting, its value and its source
    Show,
}

pub fn exec(settings: &Settings, cmd: ConfigCommand) -> Result<ExitCode> {
    match cmd {
        ConfigCommand::Show => {
            let config_file = match &settings.config_path {
                Some(p) if settings.config_exists => p.display().to_string(),
                Some(p) => format!("{} (not present)", p.display()),
                None => "(no config dir on this system)".into(),
            };
            let output_value = settings
                .output
                .value
                .map(|f| format!("{f:?}").to_lowercase())
                .unwrap_or_else(|| "auto (table on a terminal, json otherwise)".into());
            let mut listing = Listing::new(&["setting", "value", "source"]);
            listing.rows.push(vec![
                "tracking_uri".into(),
                crate::redact::uris(&settings.tracking_uri.value),
                settings.tracking_uri.source.to_string(),
            ]);
            listing.rows.push(vec![
                "output".into(),
                output_value.clone(),
                settings.output.source.to_string(),
            ]);
            listing.rows.push(vec![
                "config_file".into(),
                config_file.clone(),
                String::new(),
            ]);
            let json = serde_json::json!({
                "tracking_uri": {"value": crate::redact::uris(&settings.tracking_uri.value), "source": settings.tracking_uri.source.to_string()},
                "output": {"value": output_value, "source": settings.output.source.to_string()},
                "config_file": config_file,
            });
            output::print(settings.output_format(), &listing, &json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
