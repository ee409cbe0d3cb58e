//! `mlx experiments create|list|show|rename|delete|restore`.

use super::parse_pairs;
use crate::output::{self, Listing};
use crate::settings::Settings;
use crate::store::entities::{Experiment, ViewType};
use crate::store::{TrackingStore, resolve_experiment};
use crate::timefmt;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ExperimentsCommand {
    /// Create an experiment and print its id
    Create {
        name: String,
        /// Where runs of this experiment keep artifacts [default: inside the store]
        #[arg(long)]
        artifact_location: Option<String>,
        /// Experiment tag KEY=VALUE (repeatable)
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// Description (stored as the mlflow.note.content tag)
        #[arg(long)]
        description: Option<String>,
    },
    /// List experiments
    #[command(alias = "ls", alias = "search")]
    List {
        /// Include deleted experiments
        #[arg(long, conflicts_with = "deleted")]
        all: bool,
        /// Only deleted experiments
        #[arg(long)]
        deleted: bool,
    },
    /// Show one experiment (by name or id)
    Show { experiment: String },
    /// Rename an experiment
    Rename {
        experiment: String,
        new_name: String,
    },
    /// Delete an experiment (moved to .trash; its runs are marked deleted)
    Delete { experiment: String },
    /// Restore a deleted experiment and the runs deleted with it
    Restore { experiment: String },
}

pub fn exec(settings: &Settings, cmd: ExperimentsCommand) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    match cmd {
        ExperimentsCommand::Create {
            name,
            artifact_location,
            tags,
            description,
        } => {
            let mut tags = parse_pairs("tag", &tags)?;
            if let Some(d) = description {
                tags.insert("mlflow.note.content".into(), d);
            }
            let id = store
                .create_experiment(&name, artifact_location.as_deref(), &tags)
                .with_context(|| format!("cannot create experiment '{name}'"))?;
            super::print_value(
                settings,
                &id,
                serde_json::json!({"experiment_id": id, "name": name}),
            )?;
        }
        ExperimentsCommand::List { all, deleted } => {
            let view = if all {
                ViewType::All
            } else if deleted {
                ViewType::DeletedOnly
            } else {
                ViewType::ActiveOnly
            };
            let list = store.list_experiments(view)?;
            let mut listing =
                Listing::new(&["id", "name", "stage", "created", "artifact location"]);
            for e in &list {
                listing.rows.push(vec![
                    e.experiment_id.clone(),
                    e.name.clone(),
                    e.lifecycle_stage.as_str().into(),
                    e.creation_time.map(timefmt::datetime).unwrap_or_default(),
                    e.artifact_location.clone(),
                ]);
            }
            output::print(settings.output_format(), &listing, &list)?;
        }
        ExperimentsCommand::Show { experiment } => {
            let e = resolve_experiment(store, &experiment)?;
            show(settings, store, &e)?;
        }
        ExperimentsCommand::Rename {
            experiment,
            new_name,
        } => {
            let e = resolve_experiment(store, &experiment)?;
            store
                .rename_experiment(&e.experiment_id, &new_name)
                .with_context(|| format!("cannot rename experiment '{}'", e.name))?;
            eprintln!(
                "Renamed experiment {} '{}' to '{new_name}'",
                e.experiment_id, e.name
            );
        }
        ExperimentsCommand::Delete { experiment } => {
            let e = resolve_experiment(store, &experiment)?;
            store
                .delete_experiment(&e.experiment_id)
                .with_context(|| format!("cannot delete experiment '{}'", e.name))?;
            eprintln!("Deleted experiment {} '{}'", e.experiment_id, e.name);
            super::print_done(
                settings,
                serde_json::json!({"experiment_id": e.experiment_id, "name": e.name, "lifecycle_stage": "deleted"}),
            )?;
        }
        ExperimentsCommand::Restore { experiment } => {
            let e = resolve_experiment(store, &experiment)?;
            store
                .restore_experiment(&e.experiment_id)
                .with_context(|| format!("cannot restore experiment '{}'", e.name))?;
            eprintln!("Restored experiment {} '{}'", e.experiment_id, e.name);
            super::print_done(
                settings,
                serde_json::json!({"experiment_id": e.experiment_id, "name": e.name, "lifecycle_stage": "active"}),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(settings: &Settings, store: &dyn TrackingStore, e: &Experiment) -> Result<()> {
    let ids = std::slice::from_ref(&e.experiment_id);
    // Counted, not listed: a tracking server's experiment may hold 100,000 runs.
    let active = store.count_runs(ids, ViewType::ActiveOnly)?;
    let deleted = store.count_runs(ids, ViewType::DeletedOnly)?;
    match settings.output_format() {
        output::OutputFormat::Json => {
            let doc = serde_json::json!({
                "experiment": e,
                "runs": {"active": active, "deleted": deleted},
            });
            output::print_json(&mut std::io::stdout().lock(), &doc)?;
        }
        format => {
            let mut listing = Listing::new(&["field", "value"]);
            let mut add = |k: &str, v: String| listing.rows.push(vec![k.into(), v]);
            add("id", e.experiment_id.clone());
            add("name", e.name.clone());
            add("stage", e.lifecycle_stage.as_str().into());
            add("artifact location", e.artifact_location.clone());
            add(
                "created",
                e.creation_time.map(timefmt::datetime).unwrap_or_default(),
            );
            add(
                "updated",
                e.last_update_time
                    .map(timefmt::datetime)
                    .unwrap_or_default(),
            );
            add("active runs", active.to_string());
            add("deleted runs", deleted.to_string());
            for (k, v) in &e.tags {
                add(&format!("tag {k}"), v.clone());
            }
            output::print(format, &listing, &())?;
        }
    }
    Ok(())
}
