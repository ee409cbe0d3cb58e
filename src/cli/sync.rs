//! `mlx sync --from SRC --to DST`: copy experiments, runs and registered models between stores
//! (`ops::sync`).

use crate::ops::sync::SyncRequest;
use crate::output::{self, Listing};
use crate::settings::Settings;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct SyncArgs {
    /// The store to copy from [default: the tracking URI in effect]
    #[arg(long, value_name = "URI")]
    from: Option<String>,
    /// The store to copy to: a folder, a file: URI, sqlite:///mlflow.db or an MLflow server http(s)://host:port
    #[arg(long, value_name = "URI")]
    to: String,
    /// Only this experiment (repeatable) [default: every active experiment]
    #[arg(long, short = 'e', value_name = "NAME")]
    experiment: Vec<String>,
    /// Leave registered models out
    #[arg(long)]
    no_models: bool,
    /// Runs copied at a time (each is a few requests to a server)
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
}

/// Notes on stderr and, on a terminal, a bar of the runs gone through.
struct Bar(indicatif::ProgressBar);

impl crate::ops::sync::Progress for Bar {
    fn note(&self, line: &str) {
        self.0.suspend(|| eprintln!("mlx sync: {line}"));
    }
    fn add_runs(&self, n: usize) {
        self.0.inc_length(n as u64);
    }
    fn run_done(&self) {
        self.0.inc(1);
    }
}

pub fn exec(settings: &Settings, args: SyncArgs) -> Result<ExitCode> {
    let req = SyncRequest {
        from: args
            .from
            .unwrap_or_else(|| settings.tracking_uri.value.clone()),
        to: args.to,
        experiments: args.experiment,
        models: !args.no_models,
        jobs: args.jobs.into(),
    };
    // indicatif draws nothing when stderr is not a terminal.
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs {elapsed} (eta {eta})")
            .expect("progress template"),
    );
    let progress = Bar(bar);
    let report = crate::ops::sync::sync(&req, &progress)?;
    progress.0.finish_and_clear();
    let value = serde_json::to_value(&report)?;
    let mut listing = Listing::new(&["what", "count"]);
    if let Some(obj) = value.as_object() {
        for (k, v) in obj {
            listing.rows.push(vec![k.replace('_', " "), v.to_string()]);
        }
    }
    output::print(settings.output_format(), &listing, &report)?;
    Ok(ExitCode::SUCCESS)
}
