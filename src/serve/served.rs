//! What `mlx serve` serves: a model URI loaded with its registry coordinates ([`load`]), and what to serve
//! when no `--model` is given ([`default_model`]).

use crate::ml::LoadedModel;
use crate::store::{ModelUri, TrackingStore};
use std::sync::Arc;

/// A loaded model and where it came from.
pub struct Served {
    pub model: Arc<LoadedModel>,
    pub uri: String,
    pub name: Option<String>,
    pub version: Option<u64>,
    pub run_id: Option<String>,
}

impl Served {
    pub(super) fn version_label(&self) -> String {
        match (&self.name, self.version) {
            (Some(n), Some(v)) => format!("{n}/{v}"),
            _ => self.run_id.clone().unwrap_or_else(|| self.uri.clone()),
        }
    }
}

/// Load the model a URI names, with its registry coordinates when it has them.
pub fn load(
    store: &dyn TrackingStore,
    uri: &str,
    python: Option<&crate::ml::PoolOptions>,
) -> anyhow::Result<Served> {
    use anyhow::Context;
    let parsed = ModelUri::parse(uri).with_context(|| format!("cannot find model {uri}"))?;
    let dir = store
        .resolve_model(&parsed)
        .with_context(|| format!("cannot find model {uri}"))?;
    let model =
        LoadedModel::load_with(&dir, python).with_context(|| format!("cannot load model {uri}"))?;
    let (name, version, run_id) = match &parsed {
        ModelUri::Version(v) => {
            let v = store.resolve_model_version(v)?;
            (Some(v.name), Some(v.version), v.run_id)
        }
        ModelUri::Run { run_id, .. } => (None, None, Some(run_id.clone())),
        _ => (None, None, None),
    };
    Ok(Served {
        model: Arc::new(model),
        uri: uri.to_string(),
        name,
        version,
        run_id,
    })
}

/// What to serve without `--model`: the project's registered model at Champion, else the latest finished run
/// with a model (the original app's behaviour).
pub fn default_model(
    store: &dyn TrackingStore,
    project_dir: &std::path::Path,
    experiment: Option<&str>,
) -> anyhow::Result<String> {
    use anyhow::Context;
    let project = crate::project::Project::load(project_dir).ok();
    if let Some(name) = project.as_ref().and_then(|p| p.name.clone())
        && let Ok(m) = store.get_registered_model(&name)
        && m.aliases.contains_key("Champion")
    {
        return Ok(format!("models:/{name}@Champion"));
    }
    // The alias commands' rule: when the store holds exactly one registered model, it is the one meant; its
    // Champion (the model the team promoted) wins over whatever run happens to be newest.
    if let [only] = store.list_registered_models()?.as_slice()
        && let Ok(m) = store.get_registered_model(&only.name)
        && m.aliases.contains_key("Champion")
    {
        return Ok(format!("models:/{}@Champion", m.name));
    }
    let ids: Vec<String> = match experiment
        .map(str::to_string)
        .or_else(|| project.and_then(|p| p.name))
    {
        Some(e) => match crate::store::resolve_experiment(store, &e) {
            Ok(exp) => vec![exp.experiment_id],
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    let ids = if ids.is_empty() {
        store
            .list_experiments(crate::store::entities::ViewType::ActiveOnly)?
            .into_iter()
            .map(|e| e.experiment_id)
            .collect()
    } else {
        ids
    };
    use crate::store::entities::{Run, RunStatus, ViewType};
    let with_model = |r: &Run| r.info.status == RunStatus::Finished && !r.outputs.is_empty();
    let finished = crate::search::Query::parse(Some("attributes.status = 'FINISHED'"), &[])
        .expect("a valid filter");
    // A tracking server: its finished runs newest first, a page at a time, until one has a model
    // (not every run of a 100,000-run experiment).
    let found = if let Some(pages) = finished.pages(store, &ids, ViewType::ActiveOnly, 50)? {
        let mut found = None;
        for page in pages {
            if let Some(run) = page?.into_iter().find(with_model) {
                found = Some(run);
                break;
            }
        }
        found
    } else {
        let projection = crate::store::Projection {
            metrics: crate::store::Fields::Nothing,
            params: crate::store::Fields::Nothing,
            tags: crate::store::Fields::Nothing,
            io: true,
        };
        let runs = store.list_runs(&ids, ViewType::ActiveOnly, &projection)?;
        runs.into_iter().find(with_model)
    };
    found
        .map(|r| format!("runs:/{}/model", r.info.run_id))
        .context("nothing to serve: no --model, no registered project model with a Champion alias, and no finished run with a model")
}
