//! `mlx register`, `mlx alias ...`, `mlx rollback`: the model registry (`mlx models ...` is in `models.rs`).

use super::parse_pairs;
use crate::ops::registry::{resolve_model_name, rollback};
use crate::output::{self, Listing};
use crate::settings::Settings;
use crate::timefmt;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Args)]
pub struct RegisterArgs {
    /// A run id, runs:/ID/model, models:/m-ID or a model folder
    source: String,
    /// Registered model name (MLflow's rules; catalog.schema.model is fine)
    /// [default: $MLX_MODEL, else the project name in MLproject.toml]
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// Version tag KEY=VALUE (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
}

#[derive(Subcommand)]
pub enum AliasCommand {
    /// Point an alias at a version: `mlx alias set Champion 3`
    Set {
        alias: String,
        version: u64,
        /// [default: $MLX_MODEL, the project name, or the only registered model]
        #[arg(long)]
        model: Option<String>,
    },
    /// The aliases of a model
    #[command(alias = "ls")]
    List {
        #[arg(long)]
        model: Option<String>,
    },
    /// Remove an alias
    Delete {
        alias: String,
        #[arg(long)]
        model: Option<String>,
    },
    /// Every move of an alias: when, by whom, from which version to which
    History {
        alias: String,
        #[arg(long)]
        model: Option<String>,
    },
}

#[derive(Args)]
pub struct RollbackArgs {
    #[arg(long)]
    model: Option<String>,
    #[arg(long, default_value = "Champion")]
    alias: String,
    /// Move the alias to this version (also forward) instead of the one before
    #[arg(long)]
    to: Option<u64>,
}

pub fn register(settings: &Settings, args: RegisterArgs) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    let name = match args.name.clone().or_else(|| crate::settings::env::get("MLX_MODEL")) {
        Some(n) => n,
        None => crate::project::Project::load(std::path::Path::new("."))
            .ok()
            .and_then(|p| p.name)
            .context("no model name: pass --name NAME (or set MLX_MODEL, or name the project in MLproject.toml)")?,
    };
    let tags = parse_pairs("tag", &args.tags)?;
    let (source, run_id) = crate::ops::registry::registration_source(store, &args.source)?;
    let v = store
        .register_model(
            &name,
            &source,
            run_id.as_deref(),
            args.description.as_deref(),
        )
        .with_context(|| format!("cannot register {} as '{name}'", args.source))?;
    for (k, val) in &tags {
        store.set_model_version_tag(&name, v.version, k, val)?;
    }
    eprintln!("Registered '{name}' version {} from {source}", v.version);
    super::print_value(
        settings,
        &v.version.to_string(),
        serde_json::json!({"name": name, "version": v.version, "source": source, "run_id": run_id}),
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn alias(settings: &Settings, cmd: AliasCommand) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    let format = settings.output_format();
    match cmd {
        AliasCommand::Set {
            alias,
            version,
            model,
        } => {
            let name = resolve_model_name(store, model.as_deref())?;
            let from = crate::ops::registry::set_alias(store, &name, &alias, version, false)
                .with_context(|| format!("cannot set alias '{alias}' of '{name}'"))?;
            let doc =
                serde_json::json!({"model": name, "alias": alias, "from": from, "to": version});
            let from = from
                .map(|v| format!("v{v}"))
                .unwrap_or_else(|| "(none)".into());
            super::print_value(settings, &format!("{alias}: {from} -> v{version}"), doc)?;
        }
        AliasCommand::List { model } => {
            let name = resolve_model_name(store, model.as_deref())?;
            let m = store.get_registered_model(&name)?;
            let mut listing = Listing::new(&["alias", "version"]);
            for (a, v) in &m.aliases {
                listing.rows.push(vec![a.clone(), v.to_string()]);
            }
            output::print(format, &listing, &m.aliases)?;
        }
        AliasCommand::Delete { alias, model } => {
            let name = resolve_model_name(store, model.as_deref())?;
            store.delete_alias(&name, &alias)?;
            eprintln!("Deleted alias '{alias}' of '{name}'");
            super::print_done(
                settings,
                serde_json::json!({"deleted": {"model": name, "alias": alias}}),
            )?;
        }
        AliasCommand::History { alias, model } => {
            let name = resolve_model_name(store, model.as_deref())?;
            let history = store.alias_history(&name, &alias)?;
            let mut listing = Listing::new(&["when", "who", "move", "kind"]);
            let v = |v: Option<u64>| {
                v.map(|v| format!("v{v}"))
                    .unwrap_or_else(|| "(none)".into())
            };
            for e in &history {
                listing.rows.push(vec![
                    timefmt::datetime(e.timestamp),
                    e.user.clone(),
                    format!("{} -> {}", v(e.from), v(e.to)),
                    e.kind.clone(),
                ]);
            }
            output::print(format, &listing, &history)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rollback_cmd(settings: &Settings, args: RollbackArgs) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    let name = resolve_model_name(store, args.model.as_deref())?;
    if args.alias.is_empty() {
        bail!("--alias is empty");
    }
    let (from, to) = rollback(store, &name, &args.alias, args.to)?;
    if from == Some(to) {
        eprintln!(
            "note: '{}' of '{name}' already points at v{to}; nothing changed",
            args.alias
        );
    }
    let doc = serde_json::json!({"model": name, "alias": args.alias, "from": from, "to": to});
    let from = from
        .map(|v| format!("v{v}"))
        .unwrap_or_else(|| "(none)".into());
    super::print_value(settings, &format!("{}: {from} -> v{to}", args.alias), doc)?;
    Ok(ExitCode::SUCCESS)
}
