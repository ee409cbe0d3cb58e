//! Experiments in MLflow's tables: create (integer ids, artifact folders beside the database), get by
//! id or name, list, rename, delete and restore with all their runs, and their tags.

use super::shared::{no_tag_unless_removed, now, stage, view_sql};
use super::*;
use rusqlite::{OptionalExtension, Row, params};

const EXPERIMENT_COLUMNS: &str =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";

fn experiment_row(r: &Row) -> rusqlite::Result<Experiment> {
    Ok(Experiment {
        experiment_id: r.get::<_, i64>(0)?.to_string(),
        name: r.get(1)?,
        artifact_location: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        lifecycle_stage: stage(r.get(3)?),
        creation_time: r.get(4)?,
        last_update_time: r.get(5)?,
        tags: BTreeMap::new(),
    })
}

pub(super) fn find_experiment(c: &Connection, id: &str) -> R<Experiment> {
    let key = experiment_key(id)?;
    let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = ?1");
    let mut e = c
        .query_row(&sql, [key], experiment_row)
        .optional()?
        .ok_or_else(|| StoreError::ExperimentNotFound(id.to_string()))?;
    let mut stmt = c.prepare("SELECT key, value FROM experiment_tags WHERE experiment_id = ?1")?;
    for kv in stmt.query_map([key], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })? {
        let (k, v) = kv?;
        e.tags.insert(k, v.unwrap_or_default());
    }
    Ok(e)
}

impl SqliteStore {
    pub(super) fn create_experiment_impl(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        validate::experiment_name(name)?;
        for (k, v) in tags {
            validate::key("tag", k)?;
            validate::tag_value(k, v)?;
        }
        let location = artifact_location.map(|l| match crate::store::uri::file_uri_to_path(l) {
            // A relative local path is made absolute, as MLflow's `resolve_uri_if_local`.
            Some(p) if !l.contains(':') => std::path::absolute(&p)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned(),
            _ => l.to_string(),
        });
        self.write(|c| {
            let taken: Option<String> = c
                .query_row(
                    "SELECT lifecycle_stage FROM experiments WHERE workspace = 'default' AND name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
            if taken.is_some() {
                return Err(StoreError::ExperimentExists(name.to_string()).into());
            }
            let id: i64 = c.query_row(
                "SELECT COALESCE(MAX(experiment_id), -1) + 1 FROM experiments",
                [],
                |r| r.get(0),
            )?;
            let location = location.clone().unwrap_or_else(|| {
                self.artifact_root
                    .join(id.to_string())
                    .to_string_lossy()
                    .into_owned()
            });
            let t = now();
            c.execute(
                "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, \
                 creation_time, last_update_time, workspace) VALUES (?1, ?2, ?3, 'active', ?4, ?4, 'default')",
                params![id, name, location, t],
            )?;
            for (k, v) in tags {
                c.execute(
                    "INSERT OR REPLACE INTO experiment_tags (key, value, experiment_id) VALUES (?1, ?2, ?3)",
                    params![k, v, id],
                )?;
            }
            Ok(id.to_string())
        })
    }

    pub(super) fn get_experiment_impl(&self, id: &str) -> Result<Experiment> {
        self.read(|c| find_experiment(c, id))
    }

    pub(super) fn experiment_by_name_impl(&self, name: &str) -> Result<Option<Experiment>> {
        self.read(|c| {
            let id: Option<i64> = c
                .query_row(
                    "SELECT experiment_id FROM experiments WHERE workspace = 'default' AND name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
            id.map(|id| find_experiment(c, &id.to_string()))
                .transpose()
        })
    }

    pub(super) fn list_experiments_impl(&self, view: ViewType) -> Result<Vec<Experiment>> {
        let ids: Vec<i64> = self.read(|c| {
            let sql = format!(
                "SELECT experiment_id FROM experiments WHERE workspace = 'default' AND {} \
                 ORDER BY creation_time DESC, experiment_id",
                view_sql(view)
            );
            let mut stmt = c.prepare(&sql)?;
            let ids = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(ids)
        })?;
        self.read(|c| {
            ids.iter()
                .map(|id| find_experiment(c, &id.to_string()))
                .collect()
        })
    }

    pub(super) fn rename_experiment_impl(&self, id: &str, new_name: &str) -> Result<()> {
        validate::experiment_name(new_name)?;
        self.write(|c| {
            let e = find_experiment(c, id)?;
            if e.lifecycle_stage == Lifecycle::Deleted {
                return Err(StoreError::InvalidState(format!(
                    "experiment {id} is deleted; restore it before renaming"
                ))
                .into());
            }
            match c.execute(
                "UPDATE experiments SET name = ?1, last_update_time = ?2 WHERE experiment_id = ?3",
                params![new_name, now(), experiment_key(id)?],
            ) {
                Err(e) if is_conflict(&e) => {
                    Err(StoreError::ExperimentExists(new_name.to_string()).into())
                }
                other => other.map(|_| ()).map_err(Fail::from),
            }
        })
    }

    /// Delete or restore an experiment with all its runs, as MLflow does (rows are marked, not removed).
    pub(super) fn set_experiment_stage(&self, id: &str, to: Lifecycle) -> Result<()> {
        if id == "0" && to == Lifecycle::Deleted {
            return Err(StoreError::InvalidState(
                "the Default experiment (id 0) cannot be deleted".into(),
            ));
        }
        self.write(|c| {
            let e = find_experiment(c, id)?;
            if e.lifecycle_stage == to {
                let state = if to == Lifecycle::Deleted {
                    "already deleted"
                } else {
                    "not deleted"
                };
                return Err(StoreError::InvalidState(format!("experiment {id} is {state}")).into());
            }
            let key = experiment_key(id)?;
            let t = now();
            c.execute(
                "UPDATE experiments SET lifecycle_stage = ?1, last_update_time = ?2 WHERE experiment_id = ?3",
                params![to.as_str(), t, key],
            )?;
            // As MLflow's `delete_experiment`/`restore_experiment`: every run of the experiment is marked
            // with it (`_mark_run_deleted` / `_mark_run_active`).
            if to == Lifecycle::Deleted {
                c.execute(
                    "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ?1 WHERE experiment_id = ?2",
                    params![t, key],
                )?;
            } else {
                c.execute(
                    "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE experiment_id = ?1",
                    params![key],
                )?;
            }
            Ok(())
        })
    }

    pub(super) fn set_experiment_tag_impl(&self, id: &str, key: &str, value: &str) -> Result<()> {
        validate::key("tag", key)?;
        validate::tag_value(key, value)?;
        self.write(|c| {
            find_experiment(c, id)?;
            c.execute(
                "INSERT OR REPLACE INTO experiment_tags (key, value, experiment_id) VALUES (?1, ?2, ?3)",
                params![key, value, experiment_key(id)?],
            )?;
            Ok(())
        })
    }

    /// MLflow's `delete_experiment_tag`, with an unknown key an `InvalidValue` naming it.
    pub(super) fn delete_experiment_tag_impl(&self, id: &str, key: &str) -> Result<()> {
        validate::key("tag", key)?;
        self.write(|c| {
            find_experiment(c, id)?;
            let n = c.execute(
                "DELETE FROM experiment_tags WHERE experiment_id = ?1 AND key = ?2",
                params![experiment_key(id)?, key],
            )?;
            no_tag_unless_removed(n, key, &format!("experiment {id}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path().join("mlflow.db"));
        (dir, store)
    }

    #[test]
    fn deleting_and_restoring_an_experiment_marks_all_its_runs_as_mlflow_does() {
        let (_dir, store) = store();
        let id = store
            .create_experiment("e", None, &BTreeMap::new())
            .unwrap();
        let run = |name: &str| {
            store
                .create_run(NewRun {
                    run_id: None,
                    experiment_id: id.clone(),
                    run_name: Some(name.into()),
                    user_id: "me".into(),
                    start_time: 1,
                    tags: BTreeMap::new(),
                })
                .unwrap()
                .run_id
        };
        let (a, b) = (run("a"), run("b"));
        store.delete_run(&a).unwrap();
        store.delete_experiment(&id).unwrap();
        let stage = |r: &str| store.get_run(r).unwrap().info.lifecycle_stage;
        assert_eq!(
            (stage(&a), stage(&b)),
            (Lifecycle::Deleted, Lifecycle::Deleted)
        );
        assert!(matches!(
            store.restore_run(&b),
            Err(StoreError::InvalidState(_))
        ));
        store.restore_experiment(&id).unwrap();
        assert_eq!(
            (stage(&a), stage(&b)),
            (Lifecycle::Active, Lifecycle::Active)
        );
    }

    #[test]
    fn experiments_get_integer_ids_and_artifact_folders_beside_the_database() {
        let (dir, store) = store();
        let id = store
            .create_experiment("e", None, &BTreeMap::new())
            .unwrap();
        assert_eq!(id, "1");
        let e = store.get_experiment(&id).unwrap();
        let root = std::path::absolute(dir.path()).unwrap();
        assert_eq!(
            e.artifact_location,
            root.join("mlruns/1").display().to_string()
        );
        assert!(matches!(
            store.create_experiment("e", None, &BTreeMap::new()),
            Err(StoreError::ExperimentExists(_))
        ));
        store.delete_experiment(&id).unwrap();
        assert!(matches!(
            store.create_experiment("e", None, &BTreeMap::new()),
            Err(StoreError::ExperimentExists(_))
        ));
        assert_eq!(
            store
                .create_experiment("f", None, &BTreeMap::new())
                .unwrap(),
            "2"
        );
    }
}
