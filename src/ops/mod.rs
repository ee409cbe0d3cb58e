//! What commands do, between `cli/` (parse arguments, render reports) and the domain modules (`store`,
//! `search`, `ml`, `project`, `runner`): each operation takes resolved inputs and a store and returns a
//! typed report plus its outcome, and prints nothing. `cli/`, `serve` and `ui` call the same operations, so
//! a CI gate, a sweep or a retrain behaves the same from a terminal and from the server.

pub mod compare;
pub mod log;
pub mod models;
pub mod registry;
pub mod retrain;
pub mod sweep;
pub mod sync;
pub mod train;

use crate::store::entities::{Run, ViewType};
use crate::store::{ModelUri, StoreError, TrackingStore, resolve_experiment};

/// How an operation ended, beside its report: the exit-code table's `0` and `1` (errors are `Err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done, and every check passed.
    Passed,
    /// Done, and a check failed (a CI gate, a requirement, a sweep child).
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A filter or order-by the search grammar refuses (the CLI points at the column).
    #[error("{0}")]
    Query(crate::search::QueryError),
    /// Input that cannot be acted on, said in full.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    /// A command run inside a run could not be started, or ran too long.
    #[error(transparent)]
    Runner(crate::runner::RunnerError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type Result<T> = std::result::Result<T, OpsError>;

/// The experiments named (names or ids), or every active one.
pub fn experiment_ids(store: &dyn TrackingStore, names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(store
            .list_experiments(ViewType::ActiveOnly)?
            .into_iter()
            .map(|e| e.experiment_id)
            .collect());
    }
    names
        .iter()
        .map(|n| Ok(resolve_experiment(store, n)?.experiment_id))
        .collect()
}

/// A run id, or the run behind a model URI (`models:/NAME@ALIAS`, `models:/NAME/3`, `models:/m-ID`,
/// `runs:/ID/...`).
pub fn resolve_run(store: &dyn TrackingStore, spec: &str) -> Result<Run> {
    let run_id = if spec.starts_with("runs:/") || spec.starts_with("models:/") {
        let cannot = |e: StoreError| OpsError::Invalid(format!("cannot resolve {spec}: {e}"));
        match ModelUri::parse(spec).map_err(cannot)? {
            ModelUri::Run { run_id, .. } => run_id,
            ModelUri::Version(v) => {
                let v = store.resolve_model_version(&v).map_err(cannot)?;
                v.run_id.ok_or_else(|| {
                    OpsError::Invalid(format!("{spec} (version {}) has no source run", v.version))
                })?
            }
            ModelUri::Logged(id) => store.get_logged_model(&id).map_err(cannot)?.source_run_id,
            _ => spec.to_string(),
        }
    } else {
        spec.to_string()
    };
    Ok(store.get_run(&run_id)?)
}
