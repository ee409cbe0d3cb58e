//! Running a project's entry point inside a run, or a grid of parameter values as child runs of one parent
//! run (a sweep) with the best child picked by a metric. `mlx run` and `mlx serve`'s retrain both call
//! [`run_project`]; progress goes to the caller's `notes`, never to stdout.

use super::{OpsError, Outcome, Result};
use crate::project::{self, EntryPoint, Project};
use crate::runner::{Outcome as Ended, RunOptions, RunnerError};
use crate::store::entities::{MetricPoint, RunInfo, RunStatus};
use crate::store::{Batch, NewRun, TrackingStore, get_or_create_experiment, now_ms};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What to run, resolved from the command line (or by the server).
#[derive(Debug, Clone)]
pub struct ProjectRequest {
    /// The folder holding MLproject.toml (absolute).
    pub project_dir: PathBuf,
    pub entry: String,
    /// `NAME=VALUE`; `NAME=1,2,3` or `NAME=a|b` sweeps.
    pub params: Vec<(String, String)>,
    /// The experiment [default: the project's name, else `Default`].
    pub experiment: Option<String>,
    /// The run's name (the parent's for a sweep).
    pub name: Option<String>,
    /// For a sweep: the metric that picks the best child.
    pub by: Option<String>,
    pub minimize: bool,
    /// The store's URI, handed to the commands so their own logging lands in the run.
    pub tracking_uri: String,
}

/// One run of the entry point.
#[derive(Debug, Clone)]
pub struct ChildRun {
    pub run_id: String,
    pub params: BTreeMap<String, String>,
    pub ended: Ended,
    /// The sweep's `by` metric as the run logged it.
    pub metric: Option<f64>,
}

#[derive(Debug, Clone)]
pub enum ProjectReport {
    /// One run: its command's exit code is the caller's to pass on.
    Single(ChildRun),
    Sweep {
        parent_run_id: String,
        /// The params whose values differ between children.
        varying: Vec<String>,
        children: Vec<ChildRun>,
        /// The best child by `by`, and its value.
        best: Option<(String, f64)>,
    },
}

impl ProjectReport {
    /// A sweep fails when a child failed; a single run's result is its exit code.
    pub fn outcome(&self) -> Outcome {
        match self {
            ProjectReport::Single(run) if run.ended.status == RunStatus::Finished => {
                Outcome::Passed
            }
            ProjectReport::Sweep { children, .. }
                if children
                    .iter()
                    .all(|c| c.ended.status == RunStatus::Finished) =>
            {
                Outcome::Passed
            }
            _ => Outcome::Failed,
        }
    }
}

/// Run the entry point (or the sweep). `opts` says where the commands' output goes and how long they may
/// run; `notes` receives progress for a person.
pub fn run_project(
    store: &dyn TrackingStore,
    req: &ProjectRequest,
    opts: RunOptions<'_>,
    notes: &dyn Fn(&str),
) -> Result<ProjectReport> {
    let dir = &req.project_dir;
    let project = Project::load(dir)?;
    let path = project.source.clone();
    let entry = project.entry(&req.entry, &path)?;
    if let Some(env) = &project.environment {
        notes(&format!(
            "note: {} asks for a {env}; mlx runs it in the current environment (as `mlflow run --env-manager local`)",
            path.display()
        ));
    }
    let grid = project::resolve_grid(entry, &req.params, dir)?;
    let experiment = req
        .experiment
        .clone()
        .or_else(|| project.name.clone())
        .unwrap_or_else(|| "Default".into());
    let exp = get_or_create_experiment(store, &experiment)?;
    let launcher = Launcher {
        store,
        req,
        entry,
        experiment_id: exp.experiment_id,
        opts: RunOptions {
            cwd: Some(dir),
            ..opts
        },
        notes,
    };
    if grid.len() == 1 {
        launcher.single(&grid[0])
    } else {
        launcher.sweep(&grid)
    }
}

/// Starts the project's runs in one experiment and runs the entry point's command inside each.
struct Launcher<'a> {
    store: &'a dyn TrackingStore,
    req: &'a ProjectRequest,
    entry: &'a EntryPoint,
    experiment_id: String,
    opts: RunOptions<'a>,
    notes: &'a dyn Fn(&str),
}

impl Launcher<'_> {
    /// The system tags of a project run (source type PROJECT, the entry point), plus `extra`.
    fn tags(&self, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut t = crate::context::system_tags(&self.req.project_dir.to_string_lossy());
        t.insert("mlflow.source.type".into(), "PROJECT".into());
        t.insert("mlflow.project.entryPoint".into(), self.req.entry.clone());
        t.insert("mlflow.project.backend".into(), "local".into());
        for (k, v) in extra {
            t.insert(k.to_string(), v.to_string());
        }
        t
    }

    fn start(&self, name: Option<String>, tags: BTreeMap<String, String>) -> Result<RunInfo> {
        Ok(self.store.create_run(NewRun {
            run_id: None,
            experiment_id: self.experiment_id.clone(),
            run_name: name,
            user_id: crate::context::user(),
            start_time: now_ms(),
            tags,
        })?)
    }

    /// Log `values` as the run's params, then run the command rendered with them inside the run.
    fn run_one(&self, run_id: &str, values: &BTreeMap<String, String>) -> Result<Ended> {
        self.store.log_batch(
            run_id,
            &Batch {
                params: values.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                ..Batch::default()
            },
        )?;
        let command = project::render_command(self.entry, values);
        (self.notes)(&format!("mlx: run {run_id}: {command}"));
        crate::runner::run_in(
            self.store,
            &self.req.tracking_uri,
            run_id,
            "sh",
            &["-c".to_string(), command],
            self.opts,
        )
        .map_err(ops_error)
    }

    /// One run with one set of values.
    fn single(&self, values: &BTreeMap<String, String>) -> Result<ProjectReport> {
        let run = self.start(self.req.name.clone(), self.tags(&[]))?;
        let ended = self.run_one(&run.run_id, values)?;
        (self.notes)(&format!(
            "mlx: run {} ended {}",
            run.run_id,
            ended.status.as_str()
        ));
        Ok(ProjectReport::Single(ChildRun {
            run_id: run.run_id,
            params: values.clone(),
            ended,
            metric: None,
        }))
    }

    /// A parent run with one child run per set of values; the best child by `by` is recorded on the
    /// parent, which fails when a child failed.
    fn sweep(&self, grid: &[BTreeMap<String, String>]) -> Result<ProjectReport> {
        let req = self.req;
        let name = req
            .name
            .clone()
            .unwrap_or_else(|| format!("sweep-{}", req.entry));
        let parent = self.start(Some(name), self.tags(&[]))?;
        let parent_run_id = parent.run_id;
        (self.notes)(&format!(
            "mlx: sweep of {} runs under parent run {parent_run_id}",
            grid.len(),
        ));
        let varying = varying_params(grid);
        let mut children = Vec::new();
        for values in grid {
            children.push(self.child(&parent_run_id, &varying, values)?);
        }
        let minimize = req.minimize
            || req
                .by
                .as_deref()
                .is_some_and(crate::search::lower_is_better);
        let best = best_child(&children, minimize);
        self.finish_parent(&parent_run_id, &children, &best)?;
        Ok(ProjectReport::Sweep {
            parent_run_id,
            varying,
            children,
            best,
        })
    }

    /// One child of the sweep, named by its varying params, with the `by` metric it logged.
    fn child(
        &self,
        parent_run_id: &str,
        varying: &[String],
        values: &BTreeMap<String, String>,
    ) -> Result<ChildRun> {
        let label: Vec<String> = varying
            .iter()
            .map(|k| format!("{k}={}", values[k]))
            .collect();
        let child = self.start(
            Some(label.join(",")),
            self.tags(&[("mlflow.parentRunId", parent_run_id)]),
        )?;
        let run_id = child.run_id;
        let ended = self.run_one(&run_id, values)?;
        let metric = match &self.req.by {
            Some(m) => self
                .store
                .get_run(&run_id)?
                .data
                .metrics
                .get(m)
                .map(|p| p.value),
            None => None,
        };
        Ok(ChildRun {
            run_id,
            params: values.clone(),
            ended,
            metric,
        })
    }

    /// Record the best child (`mlx.best_run_id`, `best_METRIC`) on the parent and end it: FINISHED when
    /// every child finished, else FAILED.
    fn finish_parent(
        &self,
        parent_run_id: &str,
        children: &[ChildRun],
        best: &Option<(String, f64)>,
    ) -> Result<()> {
        let mut batch = Batch::default();
        if let (Some(metric), Some((run_id, value))) = (&self.req.by, best) {
            batch.tags.push(("mlx.best_run_id".into(), run_id.clone()));
            batch.metrics.push((
                format!("best_{metric}"),
                MetricPoint {
                    timestamp: now_ms(),
                    value: *value,
                    step: 0,
                },
            ));
        }
        self.store.log_batch(parent_run_id, &batch)?;
        let all_finished = children
            .iter()
            .all(|c| c.ended.status == RunStatus::Finished);
        let status = if all_finished {
            RunStatus::Finished
        } else {
            RunStatus::Failed
        };
        self.store
            .update_run(parent_run_id, status, Some(now_ms()))?;
        Ok(())
    }
}

/// The params whose values differ between the grid's sets, in the first set's order.
fn varying_params(grid: &[BTreeMap<String, String>]) -> Vec<String> {
    grid[0]
        .keys()
        .filter(|k| grid.iter().any(|g| g[*k] != grid[0][*k]))
        .cloned()
        .collect()
}

/// The child with the best (not NaN) metric, the first of equals.
fn best_child(children: &[ChildRun], minimize: bool) -> Option<(String, f64)> {
    let mut best: Option<(String, f64)> = None;
    for c in children {
        if let Some(v) = c.metric.filter(|v| !v.is_nan()) {
            let better = best
                .as_ref()
                .is_none_or(|(_, b)| if minimize { v < *b } else { v > *b });
            if better {
                best = Some((c.run_id.clone(), v));
            }
        }
    }
    best
}

fn ops_error(e: RunnerError) -> OpsError {
    match e {
        RunnerError::Store(s) => OpsError::Store(s),
        other => OpsError::Runner(other),
    }
}
