//! `mlx doctor` and `mlx gc` for the file store: find (and where safe, repair) what would break MLflow or
//! mlx, and permanently remove deleted runs and experiments.

use super::*;

/// One finding of `doctor`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub path: PathBuf,
    pub problem: String,
    /// What `--fix` did (or would do), if it can repair it.
    pub fix: Option<String>,
    pub fixed: bool,
}

/// Something `gc` removed (or would remove).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Removed {
    pub kind: &'static str,
    pub id: String,
    pub path: PathBuf,
}

/// A repair: what it does, and doing it.
type Repair<'a> = Option<(&'a str, Box<dyn FnOnce() -> std::io::Result<()>>)>;

/// The findings of one `doctor` pass; with `fix`, each repair is done as its finding is noted.
struct Findings {
    fix: bool,
    list: Vec<Finding>,
}

impl Findings {
    fn note(&mut self, path: PathBuf, problem: String, repair: Repair<'_>) {
        let (fix_text, fixed) = match repair {
            Some((text, action)) if self.fix => {
                let ok = action().is_ok();
                (Some(text.to_string()), ok)
            }
            Some((text, _)) => (Some(text.to_string()), false),
            None => (None, false),
        };
        self.list.push(Finding {
            path,
            problem,
            fix: fix_text,
            fixed,
        });
    }
}

/// Leftovers of writes a killed process never finished: staging folders and temp files.
fn check_leftovers(root: &Path, findings: &mut Findings) {
    for path in find_temp(root) {
        let what = if path.is_dir() { "folder" } else { "file" };
        let p = path.clone();
        findings.note(
            path,
            format!("leftover temporary {what} from an interrupted write"),
            Some(("remove it", Box::new(move || remove_any(&p)))),
        );
    }
}

/// `doctor` on the metric files of a run: each must be readable, have points, and parse.
fn check_metric_files(run_dir: &Path, findings: &mut Findings) {
    for (key, path) in list_key_files(&run_dir.join("metrics")).unwrap_or_default() {
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                findings.note(path, format!("metric '{key}' unreadable: {e}"), None);
                continue;
            }
        };
        if text.trim().is_empty() {
            let p = path.clone();
            findings.note(
                path,
                format!("metric '{key}' has no points (MLflow's get_run fails on it)"),
                Some((
                    "remove the empty file",
                    Box::new(move || fs::remove_file(&p)),
                )),
            );
        } else if let Err((line, why)) = metric_file::parse_file(&text) {
            findings.note(path, format!("metric '{key}', line {line}: {why}"), None);
        }
    }
}

impl FileStore {
    /// Check every experiment, run and registered model; repair what is safe when `fix`.
    pub fn doctor(&self, fix: bool) -> Result<Vec<Finding>> {
        // A store path that cannot be read is an error, not a clean bill of health.
        match std::fs::read_dir(&self.root) {
            Ok(_) => {}
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.root.clone(),
                    source,
                });
            }
        }
        let mut findings = Findings {
            fix,
            list: Vec::new(),
        };
        check_leftovers(&self.root, &mut findings);
        for exp_dir in self.experiment_dirs()? {
            if let Err(e) = self.read_experiment(&exp_dir) {
                findings.note(
                    exp_dir.join(META),
                    format!("experiment unreadable: {e}"),
                    None,
                );
                continue;
            }
            for run_dir in self.run_dirs(&exp_dir)? {
                self.check_run(&run_dir, &mut findings);
            }
        }
        self.check_registry(&mut findings)?;
        Ok(findings.list)
    }

    /// `doctor` on one run folder: its meta.yaml, its three sub-folders, its metric files.
    fn check_run(&self, run_dir: &Path, findings: &mut Findings) {
        let meta_path = run_dir.join(META);
        if !meta_path.is_file() {
            findings.note(
                run_dir.to_path_buf(),
                "run folder without meta.yaml (MLflow skips it)".into(),
                None,
            );
            return;
        }
        if let Err(e) = self.read_run_info(run_dir) {
            findings.note(meta_path, format!("run unreadable: {e}"), None);
            return;
        }
        for sub in ["params", "metrics", "artifacts"] {
            let d = run_dir.join(sub);
            if !d.is_dir() {
                let dd = d.clone();
                findings.note(
                    d,
                    format!("missing {sub}/ folder (MLflow then reports the run as not found)"),
                    Some(("create it", Box::new(move || fs::create_dir_all(&dd)))),
                );
            }
        }
        check_metric_files(run_dir, findings);
    }

    /// `doctor` on the registry: every registered model, its versions and its aliases.
    fn check_registry(&self, findings: &mut Findings) -> Result<()> {
        let registry = self.root.join("models");
        for name in list_names(&registry)? {
            let dir = registry.join(&name);
            if !dir.join(META).is_file() {
                continue;
            }
            if let Err(e) = self.read_registered_model(&name) {
                let why = match e {
                    StoreError::Corrupt { why, .. } => why,
                    other => other.to_string(),
                };
                findings.note(
                    dir.join(META),
                    format!("{why} (listings skip the model)"),
                    None,
                );
            }
            let versions = self.version_numbers(&dir)?;
            for v in &versions {
                if let Err(e) = self.read_version(&name, *v) {
                    findings.note(
                        dir.join(format!("version-{v}")).join(META),
                        format!("model version unreadable: {e}"),
                        None,
                    );
                }
            }
            self.check_aliases(&name, &dir, findings)?;
        }
        Ok(())
    }

    /// `doctor` on the aliases of registered model `name` (folder `dir`): each must name a live version.
    fn check_aliases(&self, name: &str, dir: &Path, findings: &mut Findings) -> Result<()> {
        for alias in list_names(&dir.join("aliases"))? {
            let path = dir.join("aliases").join(&alias);
            let target = fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok());
            let ok = target.is_some_and(|v| self.live_version(name, v).is_ok());
            if !ok {
                let p = path.clone();
                findings.note(
                    path,
                    format!(
                        "alias '{alias}' of '{name}' points at {} which does not exist or is deleted",
                        target
                            .map(|v| format!("version {v}"))
                            .unwrap_or_else(|| "no valid version".into())
                    ),
                    Some(("remove the alias", Box::new(move || fs::remove_file(&p)))),
                );
            }
        }
        Ok(())
    }

    /// Permanently remove deleted runs and deleted experiments, as `mlflow gc`: those deleted before
    /// `older_than_ms` ago (all when None). With `dry_run`, only report.
    pub fn gc(&self, older_than_ms: Option<i64>, dry_run: bool) -> Result<Vec<Removed>> {
        let cutoff = older_than_ms.map(|age| super::super::now_ms() - age);
        let old_enough = |t: Option<i64>| cutoff.is_none_or(|c| t.is_some_and(|t| t <= c));
        let mut removed = Vec::new();
        let trash = self.root.join(TRASH);
        for exp_dir in self.experiment_dirs()? {
            let in_trash = exp_dir.parent() == Some(trash.as_path());
            if in_trash {
                let exp = self.read_experiment(&exp_dir)?;
                if old_enough(exp.last_update_time) {
                    removed.push(Removed {
                        kind: "experiment",
                        id: exp.experiment_id,
                        path: exp_dir.clone(),
                    });
                }
                continue;
            }
            for run_dir in self.run_dirs(&exp_dir)? {
                let Ok(m) = meta::read(&run_dir.join(META)) else {
                    continue;
                };
                let info = run_info_from_meta(&run_dir, &run_dir.join(META), &m)?;
                let deleted_time = m.get("deleted_time").and_then(|v| v.as_i64());
                if info.lifecycle_stage == Lifecycle::Deleted && old_enough(deleted_time) {
                    removed.push(Removed {
                        kind: "run",
                        id: info.run_id,
                        path: run_dir,
                    });
                }
            }
        }
        if !dry_run {
            for r in &removed {
                // Move aside then delete, so a crash never leaves half a run that still parses.
                let scratch = self.scratch_dir()?;
                let doomed = scratch.join("gc");
                fs::rename(&r.path, &doomed).map_err(|e| StoreError::io(&r.path, e))?;
                fs::remove_dir_all(&scratch).map_err(|e| StoreError::io(&scratch, e))?;
            }
        }
        Ok(removed)
    }
}

fn remove_any(p: &Path) -> std::io::Result<()> {
    if p.is_dir() {
        fs::remove_dir_all(p)
    } else {
        fs::remove_file(p)
    }
}

/// Every `.mlx-tmp-*` file or folder under `dir` (not looking inside them).
fn find_temp(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with(".mlx-tmp-") {
            out.push(p);
        } else if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(find_temp(&p));
        }
    }
    out
}
