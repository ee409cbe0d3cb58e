//! `mlx register`, `mlx models ...`, `mlx alias ...`, `mlx rollback`: the model registry.

use super::parse_pairs;
use crate::output::{self, Listing};
use crate::registry::{resolve_model_name, rollback};
use crate::settings::Settings;
use crate::store::TrackingStore;
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
pub enum ModelsCommand {
    /// List registered models
    #[command(alias = "ls")]
    List,
    /// A registered model: description, tags, aliases, versions
    Show { name: String },
    /// Delete a registered model and all its versions
    Delete { name: String },
    /// The versions of a model, newest first
    Versions {
        name: String,
        /// Include deleted versions
        #[arg(long)]
        all: bool,
    },
    /// Delete one version (MLflow keeps its files, marked deleted; aliases on it are removed)
    DeleteVersion { name: String, version: u64 },
    /// Set a tag on a model, or on one version with --version
    SetTag {
        name: String,
        #[arg(value_name = "KEY=VALUE")]
        tag: String,
        #[arg(long)]
        version: Option<u64>,
    },
    /// Set the description of a model, or of one version with --version
    Describe {
        name: String,
        description: String,
        #[arg(long)]
        version: Option<u64>,
    },
    /// Add MLflow's python_function flavor to a model written before mlx wrote it (in place, atomically;
    /// predictions do not change): then mlflow.pyfunc.load_model, `mlflow models serve` and spark_udf run it
    AddPyfunc {
        /// runs:/ID/model, models:/NAME/3, models:/NAME@ALIAS, models:/m-ID or a model folder
        uri: String,
    },
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

/// A registration source as MLflow 3 records it, and its run.
fn normalise_source(store: &dyn TrackingStore, source: &str) -> Result<(String, Option<String>)> {
    let uri = if source.contains(":/") || source.contains('/') || source.starts_with('.') {
        source.to_string()
    } else {
        // A bare run id.
        format!("runs:/{source}/model")
    };
    let dir = store
        .resolve_model(&uri)
        .with_context(|| format!("cannot find the model {uri}"))?;
    let run_id = uri
        .strip_prefix("runs:/")
        .map(|r| r.split('/').next().unwrap_or(r).to_string());
    // A logged model (<exp>/models/m-<id>/artifacts) registers as models:/m-<id>, as MLflow 3 does.
    if let Some(id) = dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.starts_with("m-") && dir.file_name().is_some_and(|f| f == "artifacts"))
    {
        let run_id = run_id.or_else(|| {
            let meta = std::fs::read_to_string(dir.parent()?.join("meta.yaml")).ok()?;
            meta.lines()
                .find_map(|l| l.strip_prefix("source_run_id: "))
                .map(|s| s.trim().to_string())
        });
        return Ok((format!("models:/{id}"), run_id));
    }
    Ok((uri, run_id))
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
    let (source, run_id) = normalise_source(store, &args.source)?;
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

pub fn models(settings: &Settings, cmd: ModelsCommand) -> Result<ExitCode> {
    if let ModelsCommand::AddPyfunc { uri } = &cmd {
        return add_pyfunc(settings, uri);
    }
    let store = settings.open_store()?;
    let store = store.as_ref();
    let format = settings.output_format();
    match cmd {
        ModelsCommand::List => {
            let models = store.list_registered_models()?;
            let mut listing = Listing::new(&[
                "name",
                "latest version",
                "aliases",
                "updated",
                "description",
            ]);
            for m in &models {
                listing.rows.push(vec![
                    m.name.clone(),
                    m.latest_version.map(|v| v.to_string()).unwrap_or_default(),
                    m.aliases
                        .iter()
                        .map(|(a, v)| format!("{a}=v{v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    m.last_updated_timestamp
                        .map(timefmt::datetime)
                        .unwrap_or_default(),
                    m.description.clone().unwrap_or_default(),
                ]);
            }
            output::print(format, &listing, &models)?;
        }
        ModelsCommand::Show { name } => {
            let m = store.get_registered_model(&name)?;
            let versions = store.list_model_versions(&name, false)?;
            let mut listing = Listing::new(&["field", "value"]);
            listing.rows.push(vec!["name".into(), m.name.clone()]);
            listing.rows.push(vec![
                "description".into(),
                m.description.clone().unwrap_or_default(),
            ]);
            for (a, v) in &m.aliases {
                listing
                    .rows
                    .push(vec![format!("alias {a}"), format!("v{v}")]);
            }
            for (k, v) in m
                .tags
                .iter()
                .filter(|(k, _)| !k.starts_with("mlx.alias_history."))
            {
                listing.rows.push(vec![format!("tag {k}"), v.clone()]);
            }
            for v in &versions {
                listing.rows.push(vec![
                    format!("version {}", v.version),
                    format!(
                        "{} run {} {}",
                        timefmt::datetime(v.creation_timestamp),
                        v.run_id.clone().unwrap_or("-".into()),
                        v.source
                    ),
                ]);
            }
            output::print(
                format,
                &listing,
                &serde_json::json!({"model": m, "versions": versions}),
            )?;
        }
        ModelsCommand::Delete { name } => {
            store.delete_registered_model(&name)?;
            eprintln!("Deleted registered model '{name}'");
            super::print_done(settings, serde_json::json!({"deleted": {"model": name}}))?;
        }
        ModelsCommand::Versions { name, all } => {
            let versions = store.list_model_versions(&name, all)?;
            let mut listing = Listing::new(&[
                "version",
                "created",
                "run id",
                "source",
                "aliases",
                "stage",
                "description",
            ]);
            for v in &versions {
                listing.rows.push(vec![
                    v.version.to_string(),
                    timefmt::datetime(v.creation_timestamp),
                    v.run_id.clone().unwrap_or_default(),
                    v.source.clone(),
                    v.aliases.join(", "),
                    if v.is_deleted() {
                        "deleted".into()
                    } else {
                        v.current_stage.clone()
                    },
                    v.description.clone().unwrap_or_default(),
                ]);
            }
            output::print(format, &listing, &versions)?;
        }
        ModelsCommand::DeleteVersion { name, version } => {
            store.delete_model_version(&name, version)?;
            eprintln!("Deleted version {version} of '{name}'");
            super::print_done(
                settings,
                serde_json::json!({"deleted": {"model": name, "version": version}}),
            )?;
        }
        ModelsCommand::SetTag { name, tag, version } => {
            let (k, v) = tag
                .split_once('=')
                .with_context(|| format!("tag '{tag}' is not KEY=VALUE"))?;
            match version {
                Some(ver) => store.set_model_version_tag(&name, ver, k, v)?,
                None => store.set_registered_model_tag(&name, k, v)?,
            }
            super::print_done(
                settings,
                serde_json::json!({"model": name, "version": version, "tag": {k: v}}),
            )?;
        }
        ModelsCommand::Describe {
            name,
            description,
            version,
        } => {
            match version {
                Some(ver) => store.set_model_version_description(&name, ver, &description)?,
                None => store.set_registered_model_description(&name, &description)?,
            }
            super::print_done(
                settings,
                serde_json::json!({"model": name, "version": version, "description": description}),
            )?;
        }
        ModelsCommand::AddPyfunc { .. } => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

fn add_pyfunc(settings: &Settings, uri: &str) -> Result<ExitCode> {
    let remote_store = settings.tracking_uri.value.starts_with("http://")
        || settings.tracking_uri.value.starts_with("https://");
    let remote_uri = ["runs:/", "models:/", "mlflow-artifacts:"]
        .iter()
        .any(|p| uri.starts_with(p));
    if remote_store && remote_uri {
        bail!(
            "add-pyfunc edits a model folder in place; {uri} lives on the tracking server {} (download it, \
             add the flavor to the folder and log it again)",
            settings.tracking_uri.value
        );
    }
    let store = settings.open_store()?;
    let dir = store
        .resolve_model(uri)
        .with_context(|| format!("cannot find model {uri}"))?;
    let had = crate::ml::pyfunc::add_to_folder(&dir)
        .with_context(|| format!("cannot add the python_function flavor to {uri}"))?;
    eprintln!(
        "{} the python_function flavor of {uri} ({})",
        if had { "Refreshed" } else { "Added" },
        dir.display()
    );
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
            let from = store
                .set_alias(&name, &alias, version, "set")
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
