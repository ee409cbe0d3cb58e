//! What `mlx models` does beyond one store call: a registered model's report, with whether mlx can serve
//! its newest version (loading it is the only sure check), and adding MLflow's `python_function` flavor to
//! a model folder in place.

use super::{OpsError, Result};
use crate::ml::data::preprocess::InputColumn;
use crate::settings::Settings;
use crate::store::entities::{ModelVersion, RegisteredModel};
use crate::store::{ModelUri, TrackingStore};
use anyhow::Context;
use serde::Serialize;
use std::path::PathBuf;

/// `mlx models show NAME`.
#[derive(Debug, Serialize)]
pub struct ModelReport {
    pub model: RegisteredModel,
    /// Its versions, deleted ones left out.
    pub versions: Vec<ModelVersion>,
    /// The newest version and whether it loads (None without versions).
    pub latest: Option<Latest>,
}

/// The newest version of a model and what loading it said.
#[derive(Debug, Serialize)]
pub struct Latest {
    pub version: u64,
    #[serde(flatten)]
    pub load: Servable,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Servable {
    /// It loads: what it is and the columns it takes.
    Yes {
        #[serde(skip)]
        estimator: String,
        model: serde_json::Value,
        inputs: Vec<InputColumn>,
    },
    /// It does not load, and why.
    No { error: String },
}

/// The model `name`, its versions and whether mlx can serve the newest.
pub fn show(store: &dyn TrackingStore, name: &str) -> Result<ModelReport> {
    let model = store.get_registered_model(name)?;
    let versions = store.list_model_versions(name, false)?;
    let latest = versions.iter().map(|v| v.version).max().map(|version| {
        let loaded = ModelUri::parse(&format!("models:/{name}/{version}"))
            .and_then(|uri| store.resolve_model(&uri))
            .map_err(anyhow::Error::from)
            .and_then(|dir| Ok(crate::ml::LoadedModel::load(&dir)?));
        let load = match loaded {
            Ok(m) => Servable::Yes {
                estimator: m.estimator_name(),
                model: m.describe(),
                inputs: m.inputs().to_vec(),
            },
            Err(e) => Servable::No {
                error: format!("{e:#}"),
            },
        };
        Latest { version, load }
    });
    Ok(ModelReport {
        model,
        versions,
        latest,
    })
}

/// What `add-pyfunc` did.
#[derive(Debug, Serialize)]
pub struct PyfuncReport {
    /// The model folder edited.
    pub dir: PathBuf,
    /// The flavor was there already and was written again.
    pub refreshed: bool,
}

/// Add the `python_function` flavor to the model `uri` names, in place (atomically; predictions do not
/// change). A model on a tracking server is refused: its folder is not here to edit.
pub fn add_pyfunc(settings: &Settings, uri: &str) -> Result<PyfuncReport> {
    let tracking_uri = &settings.tracking_uri.value;
    let remote_store = tracking_uri.starts_with("http://") || tracking_uri.starts_with("https://");
    let parsed = ModelUri::parse(uri).with_context(|| format!("cannot find model {uri}"))?;
    if remote_store && !matches!(parsed, ModelUri::Folder(_)) {
        return Err(OpsError::Invalid(format!(
            "add-pyfunc edits a model folder in place; {uri} lives on the tracking server {tracking_uri} \
             (download it, add the flavor to the folder and log it again)"
        )));
    }
    let store = settings.open_store().map_err(anyhow::Error::from)?;
    let dir = store
        .resolve_model(&parsed)
        .with_context(|| format!("cannot find model {uri}"))?;
    let refreshed = crate::ml::add_pyfunc_to_folder(&dir)
        .with_context(|| format!("cannot add the python_function flavor to {uri}"))?;
    Ok(PyfuncReport { dir, refreshed })
}
