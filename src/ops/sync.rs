//! `mlx sync` as an operation: open both stores a URI names, refuse to copy a store onto itself, and copy
//! experiments, runs and registered models from one to the other (`crate::sync` does the copying and
//! matching; this is its entry point for `cli/` and anything else that syncs).

use super::{OpsError, Result};
pub use crate::sync::{Progress, SyncReport};
use anyhow::Context;

/// A sync between two stores, by URI.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The store to copy from: a folder, a `file:` URI or an MLflow server.
    pub from: String,
    /// The store to copy to.
    pub to: String,
    /// Experiment names or ids to copy; empty: every active experiment.
    pub experiments: Vec<String>,
    /// Copy registered models too.
    pub models: bool,
    /// Runs copied at a time; 0 counts as 1.
    pub jobs: usize,
}

/// Copy what `req` names from `req.from` to `req.to`; `progress` hears notes and counts runs.
pub fn sync(req: &SyncRequest, progress: &dyn Progress) -> Result<SyncReport> {
    let from = crate::settings::open_store(&req.from).map_err(anyhow::Error::from)?;
    let to = crate::settings::open_store(&req.to).map_err(anyhow::Error::from)?;
    if from.location() == to.location() {
        return Err(OpsError::Invalid(format!(
            "--from and --to are the same store ({})",
            to.location()
        )));
    }
    let opts = crate::sync::SyncOptions {
        experiments: req.experiments.clone(),
        models: req.models,
        jobs: req.jobs,
    };
    Ok(
        crate::sync::sync(from.as_ref(), to.as_ref(), &opts, progress)
            .with_context(|| format!("sync from {} to {}", from.location(), to.location()))?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Quiet;
    impl Progress for Quiet {
        fn note(&self, _: &str) {}
    }

    fn request(from: &std::path::Path, to: &std::path::Path) -> SyncRequest {
        SyncRequest {
            from: from.display().to_string(),
            to: to.display().to_string(),
            experiments: Vec::new(),
            models: true,
            jobs: 2,
        }
    }

    #[test]
    fn a_store_is_not_synced_onto_itself() {
        let d = tempfile::tempdir().unwrap();
        let e = sync(&request(d.path(), d.path()), &Quiet).unwrap_err();
        assert!(
            matches!(&e, OpsError::Invalid(m) if m.contains("same store")),
            "{e}"
        );
    }

    #[test]
    fn a_run_is_copied_once() {
        use crate::store::{NewRun, get_or_create_experiment, now_ms};
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let src = crate::settings::open_store(&a.path().display().to_string()).unwrap();
        let exp = get_or_create_experiment(src.as_ref(), "e").unwrap();
        let run = src
            .create_run(NewRun {
                run_id: None,
                experiment_id: exp.experiment_id,
                run_name: Some("r".into()),
                user_id: "u".into(),
                start_time: now_ms(),
                tags: Default::default(),
            })
            .unwrap();
        src.update_run(
            &run.run_id,
            crate::store::entities::RunStatus::Finished,
            Some(now_ms()),
        )
        .unwrap();
        let first = sync(&request(a.path(), b.path()), &Quiet).unwrap();
        assert_eq!((first.experiments_created, first.runs_copied), (1, 1));
        let again = sync(&request(a.path(), b.path()), &Quiet).unwrap();
        assert_eq!(
            (again.runs_copied, again.runs_updated, again.runs_unchanged),
            (0, 0, 1),
            "{again:?}"
        );
    }
}
