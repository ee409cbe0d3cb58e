//! `mlx config show`: every setting mlx reads, its value in effect and where it came from.

use crate::output::{self, Listing};
use crate::settings::Settings;
use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print each setting (flags, config file, every environment variable mlx reads), its value and source
    Show,
}

pub fn exec(settings: &Settings, cmd: ConfigCommand) -> Result<ExitCode> {
    match cmd {
        ConfigCommand::Show => {
            let shown = settings.shown();
            let mut listing = Listing::new(&["setting", "value", "source"]);
            for s in &shown {
                listing
                    .rows
                    .push(vec![s.setting.clone(), s.value.clone(), s.source.clone()]);
            }
            // The first three keep their object form (`{"value", "source"}`, config_file a string); the
            // environment follows as a list.
            let entry =
                |i: usize| serde_json::json!({"value": shown[i].value, "source": shown[i].source});
            let json = serde_json::json!({
                "tracking_uri": entry(0),
                "output": entry(1),
                "config_file": shown[2].value,
                "environment": &shown[3..],
            });
            output::print(settings.output_format(), &listing, &json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
