//! `mlx models ...`: registered models and their versions, tags and descriptions; `add-pyfunc`.

use crate::output::{self, Listing};
use crate::settings::Settings;
use crate::timefmt;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::process::ExitCode;

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
    /// registered version); a model folder outside a store is copied to FOLDER-imported.
    /// Unpickling runs code from the model with that Python: import only models you trust (a line
    /// naming the model and who logged it is printed before it runs)
    Import {
        /// runs:/ID/model, models:/NAME/3, models:/NAME@ALIAS, models:/m-ID or a model folder
        uri: String,
        /// The Python to convert with [default: $MLX_PYTHON, else python3]
        #[arg(long, value_name = "PATH")]
        python: Option<String>,
    },
}

pub fn exec(settings: &Settings, cmd: ModelsCommand) -> Result<ExitCode> {
    if let ModelsCommand::AddPyfunc { uri } = &cmd {
        return add_pyfunc(settings, uri);
    }
    if let ModelsCommand::Import { uri, python } = &cmd {
        return super::models_import::exec(settings, uri, python.as_deref());
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
        ModelsCommand::Show { name } => super::models_show::show(store, format, &name)?,
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
    let r = crate::ops::models::add_pyfunc(settings, uri)?;
    eprintln!(
        "{} the python_function flavor of {uri} ({})",
        if r.refreshed { "Refreshed" } else { "Added" },
        r.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
