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
    /// Convert a pickled (pickle/cloudpickle) scikit-learn, LightGBM or XGBoost model once into a format
    /// mlx reads natively (skops, XGBoost UBJSON), with a Python that has the model's libraries; mlx never
    /// unpickles. The copy is a new logged model of the same run (and a new version when URI names a
    /// registered version); a model folder outside a store is copied to FOLDER-imported
    Import {
        /// runs:/ID/model, models:/NAME/3, models:/NAME@ALIAS, models:/m-ID or a model folder
        uri: String,
        /// The Python to convert with [default: $MLX_PYTHON, else python3]
        #[arg(long, value_name = "PATH")]
        python: Option<String>,
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
    let name = match args.name.clone().or_else(|| std::env::var("MLX_MODEL").ok().filter(|s| !s.is_empty())) {
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
    if let ModelsCommand::Import { uri, python } = &cmd {
        return import(settings, uri, python.as_deref());
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
        ModelsCommand::AddPyfunc { .. } | ModelsCommand::Import { .. } => {
            unreachable!("handled above")
        }
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

fn import(settings: &Settings, uri: &str, python: Option<&str>) -> Result<ExitCode> {
    use crate::ml::import::{self, Plan};
    let store = settings.open_store()?;
    let store = store.as_ref();
    let dir = store
        .resolve_model(uri)
        .with_context(|| format!("cannot find model {uri}"))?;
    let conv = match import::plan(&dir)? {
        Plan::Native(what) => {
            eprintln!("Nothing to import: {uri} is {what}, which mlx reads as it is");
            super::print_value(
                settings,
                uri,
                serde_json::json!({"uri": uri, "imported": false}),
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        Plan::Convert(c) => c,
    };
    let python = import::default_python(python);
    // Where the model came from: a registered version (registered again), a run's logged model, or a
    // bare folder.
    let version = if uri.starts_with("models:/") && !uri.starts_with("models:/m-") {
        Some(store.resolve_model_version(uri)?)
    } else {
        None
    };
    let run_id = match (
        &version,
        uri.strip_prefix("runs:/"),
        uri.strip_prefix("models:/m-"),
    ) {
        (Some(v), _, _) => v.run_id.clone(),
        (None, Some(rest), _) => rest.split('/').next().map(str::to_string),
        (None, None, Some(id)) => Some(store.get_logged_model(&format!("m-{id}"))?.source_run_id),
        _ => None,
    }
    .filter(|r| !r.is_empty());
    let staging = tempfile::tempdir()?;
    let out = staging.path().join("model");
    let class = import::convert(&dir, &conv, &python, &out)
        .with_context(|| format!("cannot import {uri}"))?;
    let Some(run_id) = run_id else {
        let dest = import::sibling_out(&dir);
        // A rename within the destination's folder is atomic: stage there, then move into place.
        let parent = dest.parent().unwrap_or(std::path::Path::new("."));
        let stage = tempfile::tempdir_in(parent)?;
        let staged = stage.path().join("model");
        copy_dir(&out, &staged)?;
        std::fs::rename(&staged, &dest)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        eprintln!("Imported {uri} ({class}) into {}", dest.display());
        super::print_value(
            settings,
            &dest.display().to_string(),
            serde_json::json!({"uri": uri, "imported": true, "path": dest, "class": class}),
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    // A logged model's folder is <id>/artifacts; a run's is its artifact path.
    let name = match dir.file_name().map(|n| n.to_string_lossy().into_owned()) {
        Some(n) if n != "artifacts" => n,
        _ => "model".into(),
    };
    let logged = store.create_logged_model(&run_id, &format!("{name}-imported"))?;
    import::set_ids(&out, &run_id, &logged.model_id, &logged.artifact_location)?;
    store
        .log_model(&logged, &out, &[])
        .with_context(|| format!("cannot store the imported copy of {uri}"))?;
    let new_uri = format!("models:/{}", logged.model_id);
    let mut doc =
        serde_json::json!({"uri": uri, "imported": true, "model_uri": new_uri, "class": class});
    if let Some(v) = version {
        let nv = store.register_model(
            &v.name,
            &new_uri,
            Some(&run_id),
            Some(&format!(
                "{uri} converted from {} by mlx models import",
                conv.format
            )),
        )?;
        eprintln!(
            "Imported {uri} ({class}) as {new_uri}, registered as '{}' version {} (move an alias with `mlx alias set ALIAS {} --model {}`)",
            v.name, nv.version, nv.version, v.name
        );
        doc["name"] = v.name.clone().into();
        doc["version"] = nv.version.into();
        super::print_value(settings, &format!("models:/{}/{}", v.name, nv.version), doc)?;
    } else {
        eprintln!("Imported {uri} ({class}) as {new_uri}");
        super::print_value(settings, &new_uri, doc)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Copies the regular files of a flat model folder (what `import::convert` writes).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
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
