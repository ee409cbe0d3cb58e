//! `mlx doctor` and `mlx gc` on an MLflow database: SQLite's integrity check and aliases pointing at no
//! live version; permanent removal of deleted runs and experiments (rows and artifact folders), as
//! `mlflow gc` does.

use super::*;
use crate::store::file::{Finding, Removed};
use rusqlite::params;

/// The rows of a run in every table that refers to it, children first.
const RUN_TABLES: [&str; 4] = ["metrics", "latest_metrics", "params", "tags"];

/// What gc removes: experiments (id, artifact location) and runs (id, artifact URI).
type Doomed = (Vec<(i64, String)>, Vec<(String, String)>);

impl SqliteStore {
    /// Check the database; with `fix`, remove aliases that point at a missing or deleted version.
    pub fn doctor(&self, fix: bool) -> Result<Vec<Finding>> {
        let mut out = Vec::new();
        let problems: Vec<String> = self.read(|c| {
            let mut stmt = c.prepare("PRAGMA integrity_check")?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows.into_iter().filter(|r| r != "ok").collect())
        })?;
        for p in problems {
            out.push(Finding {
                path: self.path.clone(),
                problem: format!("SQLite integrity check: {p}"),
                fix: None,
                fixed: false,
            });
        }
        let dangling: Vec<(String, String, i64)> = self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT a.name, a.alias, a.version FROM registered_model_aliases a \
                 LEFT JOIN model_versions v ON v.workspace = a.workspace AND v.name = a.name \
                 AND v.version = a.version \
                 WHERE v.version IS NULL OR v.current_stage = 'Deleted_Internal' ORDER BY a.name, a.alias",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })?;
        for (name, alias, version) in dangling {
            let fixed = fix
                && self
                    .write(|c| {
                        c.execute(
                            "DELETE FROM registered_model_aliases WHERE name = ?1 AND alias = ?2",
                            params![name, alias],
                        )?;
                        Ok(())
                    })
                    .is_ok();
            out.push(Finding {
                path: self.path.clone(),
                problem: format!(
                    "alias '{alias}' of registered model '{name}' points at version {version}, which does not exist or is deleted"
                ),
                fix: Some("remove the alias".into()),
                fixed,
            });
        }
        Ok(out)
    }

    /// Permanently remove runs deleted longer than `older_than_ms` ago (all deleted runs when None) and
    /// deleted experiments with all their runs; artifact folders too. `dry_run`: only say what.
    pub fn gc(&self, older_than_ms: Option<i64>, dry_run: bool) -> Result<Vec<Removed>> {
        let cutoff = older_than_ms.map_or(i64::MAX, |age| crate::store::now_ms() - age);
        let (experiments, runs): Doomed = self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT experiment_id, artifact_location FROM experiments \
                 WHERE lifecycle_stage = 'deleted' AND COALESCE(last_update_time, 0) <= ?1 ORDER BY experiment_id",
            )?;
            let exps: Vec<(i64, Option<String>)> = stmt
                .query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut stmt = c.prepare(
                "SELECT r.run_uuid, r.artifact_uri FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id \
                 WHERE (r.lifecycle_stage = 'deleted' AND COALESCE(r.deleted_time, 0) <= ?1) \
                 OR (e.lifecycle_stage = 'deleted' AND COALESCE(e.last_update_time, 0) <= ?1) ORDER BY r.run_uuid",
            )?;
            let runs: Vec<(String, Option<String>)> = stmt
                .query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((
                exps.into_iter().map(|(i, l)| (i, l.unwrap_or_default())).collect(),
                runs.into_iter().map(|(i, u)| (i, u.unwrap_or_default())).collect(),
            ))
        })?;
        let mut removed = Vec::new();
        // Only folders of MLflow's default layout are removed (`.../<exp>/<run>/artifacts` → the run's
        // folder, `.../<exp>`): a custom location may hold what is not the store's.
        for (run_id, uri) in &runs {
            let path = crate::store::uri::file_uri_to_path(uri)
                .filter(|p| p.ends_with(Path::new(run_id).join("artifacts")))
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_default();
            removed.push(Removed {
                kind: "run",
                id: run_id.clone(),
                path,
            });
        }
        for (id, location) in &experiments {
            let path = crate::store::uri::file_uri_to_path(location)
                .filter(|p| p.file_name().is_some_and(|n| n == id.to_string().as_str()))
                .unwrap_or_default();
            removed.push(Removed {
                kind: "experiment",
                id: id.to_string(),
                path,
            });
        }
        if dry_run {
            return Ok(removed);
        }
        for (run_id, _) in &runs {
            self.write(|c| {
                for table in RUN_TABLES {
                    c.execute(
                        &format!("DELETE FROM {table} WHERE run_uuid = ?1"),
                        [run_id],
                    )?;
                }
                c.execute(
                    "DELETE FROM input_tags WHERE input_uuid IN (SELECT input_uuid FROM inputs \
                     WHERE destination_type = 'RUN' AND destination_id = ?1)",
                    [run_id],
                )?;
                c.execute(
                    "DELETE FROM inputs WHERE (destination_type = 'RUN' AND destination_id = ?1) \
                     OR (source_type = 'RUN_OUTPUT' AND source_id = ?1)",
                    [run_id],
                )?;
                c.execute("DELETE FROM runs WHERE run_uuid = ?1", [run_id])?;
                Ok(())
            })?;
        }
        for (id, _) in &experiments {
            self.write(|c| {
                for table in [
                    "logged_model_metrics",
                    "logged_model_params",
                    "logged_model_tags",
                    "logged_models",
                    "datasets",
                    "experiment_tags",
                    "experiments",
                ] {
                    c.execute(
                        &format!("DELETE FROM {table} WHERE experiment_id = ?1"),
                        [id],
                    )?;
                }
                Ok(())
            })?;
        }
        // Rows first, then files: a crash between leaves files nobody refers to, never a row without them.
        for r in &removed {
            if !r.path.as_os_str().is_empty() && r.path.is_dir() {
                std::fs::remove_dir_all(&r.path).map_err(|e| StoreError::io(&r.path, e))?;
            }
        }
        Ok(removed)
    }
}
