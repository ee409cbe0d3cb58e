//! The model registry (`registered_models`, `model_versions`, tags, aliases; an alias's history in a
//! registered-model tag, never an extra table).

use super::*;
use crate::store::{Which, alias_history_tag, alias_history_text, alias_not_found};
use rusqlite::{OptionalExtension, params};

/// What MLflow writes into a deleted version's source and run id.
const DELETED_STAGE: &str = "Deleted_Internal";

fn model_id_of(source: &str) -> Option<String> {
    source
        .strip_prefix("models:/")
        .filter(|id| id.starts_with("m-") && !id.contains('/'))
        .map(str::to_string)
}

fn read_version(c: &Connection, name: &str, version: u64) -> R<ModelVersion> {
    let row = c
        .query_row(
            "SELECT name, version, creation_time, last_updated_time, description, current_stage, source, \
             run_id, status FROM model_versions WHERE workspace = 'default' AND name = ?1 AND version = ?2",
            params![name, version as i64],
            |r| {
                let source: Option<String> = r.get(6)?;
                Ok(ModelVersion {
                    name: r.get(0)?,
                    version: r.get::<_, i64>(1)? as u64,
                    creation_timestamp: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                    last_updated_timestamp: r.get(3)?,
                    description: r.get(4)?,
                    current_stage: r
                        .get::<_, Option<String>>(5)?
                        .unwrap_or_else(|| "None".into()),
                    model_id: source.as_deref().and_then(model_id_of),
                    source: source.unwrap_or_default(),
                    run_id: r.get(7)?,
                    status: r.get::<_, Option<String>>(8)?.unwrap_or_else(|| "READY".into()),
                    tags: BTreeMap::new(),
                    aliases: Vec::new(),
                })
            },
        )
        .optional()?;
    let mut v =
        row.ok_or_else(|| StoreError::ModelNotFound(format!("version {version} of '{name}'")))?;
    let mut stmt = c.prepare_cached(
        "SELECT key, value FROM model_version_tags WHERE workspace = 'default' AND name = ?1 AND version = ?2",
    )?;
    for kv in stmt.query_map(params![name, version as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })? {
        let (k, value) = kv?;
        v.tags.insert(k, value.unwrap_or_default());
    }
    let mut stmt = c.prepare_cached(
        "SELECT alias FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1 AND version = ?2 \
         ORDER BY alias",
    )?;
    v.aliases = stmt
        .query_map(params![name, version as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

fn live_version(c: &Connection, name: &str, version: u64) -> R<ModelVersion> {
    let v = read_version(c, name, version)?;
    if v.is_deleted() {
        return Err(
            StoreError::ModelNotFound(format!("version {version} of '{name}' (deleted)")).into(),
        );
    }
    Ok(v)
}

fn aliases(c: &Connection, name: &str) -> R<BTreeMap<String, u64>> {
    let mut stmt = c.prepare_cached(
        "SELECT alias, version FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1",
    )?;
    let out = stmt
        .query_map([name], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(out)
}

fn find_model(c: &Connection, name: &str) -> R<RegisteredModel> {
    let row = c
        .query_row(
            "SELECT name, description, creation_time, last_updated_time FROM registered_models \
             WHERE workspace = 'default' AND name = ?1",
            [name],
            |r| {
                Ok(RegisteredModel {
                    name: r.get(0)?,
                    description: r.get(1)?,
                    creation_timestamp: r.get(2)?,
                    last_updated_timestamp: r.get(3)?,
                    tags: BTreeMap::new(),
                    aliases: BTreeMap::new(),
                    latest_version: None,
                })
            },
        )
        .optional()?;
    let mut m =
        row.ok_or_else(|| StoreError::ModelNotFound(format!("registered model '{name}'")))?;
    let mut stmt = c.prepare_cached(
        "SELECT key, value FROM registered_model_tags WHERE workspace = 'default' AND name = ?1",
    )?;
    for kv in stmt.query_map([name], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })? {
        let (k, v) = kv?;
        m.tags.insert(k, v.unwrap_or_default());
    }
    m.aliases = aliases(c, name)?;
    m.latest_version = c
        .query_row(
            "SELECT MAX(version) FROM model_versions WHERE workspace = 'default' AND name = ?1 \
             AND current_stage IS NOT ?2",
            params![name, DELETED_STAGE],
            |r| r.get::<_, Option<i64>>(0),
        )?
        .map(|v| v as u64);
    Ok(m)
}

fn touch_model(c: &Connection, name: &str, now: i64) -> R<()> {
    c.execute(
        "UPDATE registered_models SET last_updated_time = ?1 WHERE workspace = 'default' AND name = ?2",
        params![now, name],
    )?;
    Ok(())
}

fn history(c: &Connection, name: &str, alias: &str) -> R<Vec<AliasMove>> {
    let text: Option<Option<String>> = c
        .query_row(
            "SELECT value FROM registered_model_tags WHERE workspace = 'default' AND name = ?1 AND key = ?2",
            params![name, alias_history_tag(alias)],
            |r| r.get(0),
        )
        .optional()?;
    Ok(text
        .flatten()
        .and_then(|t| crate::store::parse_alias_history(&t).ok())
        .unwrap_or_default())
}

fn append_history(c: &Connection, name: &str, entry: AliasMove) -> R<()> {
    let key = alias_history_tag(&entry.alias);
    let text = alias_history_text(history(c, name, &entry.alias)?, entry);
    c.execute(
        "INSERT OR REPLACE INTO registered_model_tags (key, value, name, workspace) VALUES (?1, ?2, ?3, 'default')",
        params![key, text, name],
    )?;
    Ok(())
}

fn alias_move(alias: &str, from: Option<u64>, to: Option<u64>, kind: &str, now: i64) -> AliasMove {
    AliasMove {
        alias: alias.into(),
        from,
        to,
        user: crate::context::user(),
        timestamp: now,
        kind: kind.into(),
    }
}

impl SqliteStore {
    pub(super) fn resolve_version_impl(&self, spec: &VersionRef) -> Result<ModelVersion> {
        let name = spec.name.as_str();
        self.read(|c| {
            let model = find_model(c, name)?;
            let version = match &spec.which {
                Which::Latest => model.latest_version.ok_or_else(|| {
                    StoreError::ModelNotFound(format!("'{name}' has no versions"))
                })?,
                Which::Number(n) => *n,
                Which::Alias(alias) => *model
                    .aliases
                    .get(alias)
                    .ok_or_else(|| alias_not_found(name, alias, &model.aliases))?,
            };
            live_version(c, name, version)
        })
    }

    pub(super) fn live_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.read(|c| live_version(c, name, version))
    }

    pub(super) fn list_registered_models_impl(&self) -> Result<Vec<RegisteredModel>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT name FROM registered_models WHERE workspace = 'default' ORDER BY name",
            )?;
            let names: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            names.iter().map(|n| find_model(c, n)).collect()
        })
    }

    pub(super) fn get_registered_model_impl(&self, name: &str) -> Result<RegisteredModel> {
        self.read(|c| find_model(c, name))
    }

    pub(super) fn delete_registered_model_impl(&self, name: &str) -> Result<()> {
        self.write(|c| {
            find_model(c, name)?;
            for table in [
                "registered_model_aliases",
                "model_version_tags",
                "model_versions",
                "registered_model_tags",
                "registered_models",
            ] {
                c.execute(
                    &format!("DELETE FROM {table} WHERE workspace = 'default' AND name = ?1"),
                    [name],
                )?;
            }
            Ok(())
        })
    }

    pub(super) fn list_versions_impl(
        &self,
        name: &str,
        include_deleted: bool,
    ) -> Result<Vec<ModelVersion>> {
        self.read(|c| {
            find_model(c, name)?;
            let mut stmt = c.prepare(
                "SELECT version FROM model_versions WHERE workspace = 'default' AND name = ?1 ORDER BY version DESC",
            )?;
            let versions: Vec<i64> = stmt
                .query_map([name], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::new();
            for v in versions {
                let mv = read_version(c, name, v as u64)?;
                if include_deleted || !mv.is_deleted() {
                    out.push(mv);
                }
            }
            Ok(out)
        })
    }

    /// As MLflow: the version is marked deleted and its source redacted; its aliases go (recorded in
    /// their histories).
    pub(super) fn delete_version_impl(&self, name: &str, version: u64) -> Result<()> {
        self.write(|c| {
            let v = live_version(c, name, version)?;
            let now = crate::store::now_ms();
            c.execute(
                "UPDATE model_versions SET current_stage = ?1, last_updated_time = ?2, description = NULL, \
                 user_id = NULL, source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', \
                 run_link = 'REDACTED-RUN-LINK', status_message = NULL \
                 WHERE workspace = 'default' AND name = ?3 AND version = ?4",
                params![DELETED_STAGE, now, name, version as i64],
            )?;
            for alias in &v.aliases {
                c.execute(
                    "DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1 AND alias = ?2",
                    params![name, alias],
                )?;
                append_history(c, name, alias_move(alias, Some(version), None, "delete", now))?;
            }
            touch_model(c, name, now)
        })
    }

    /// MLflow's `delete_registered_model_tag` / `delete_model_version_tag`, but an unknown key is an
    /// `InvalidValue` naming it, as on the other stores (MLflow's SQL store ignores it).
    pub(super) fn delete_model_tag_impl(
        &self,
        name: &str,
        version: Option<u64>,
        key: &str,
    ) -> Result<()> {
        validate::key("tag", key)?;
        self.write(|c| {
            find_model(c, name)?;
            let (removed, what) = match version {
                Some(v) => {
                    live_version(c, name, v)?;
                    let n = c.execute(
                        "DELETE FROM model_version_tags WHERE workspace = 'default' AND name = ?1 \
                         AND version = ?2 AND key = ?3",
                        params![name, v as i64, key],
                    )?;
                    (n, format!("model '{name}' version {v}"))
                }
                None => {
                    let n = c.execute(
                        "DELETE FROM registered_model_tags WHERE workspace = 'default' AND name = ?1 \
                         AND key = ?2",
                        params![name, key],
                    )?;
                    (n, format!("model '{name}'"))
                }
            };
            super::shared::no_tag_unless_removed(removed, key, &what)?;
            touch_model(c, name, crate::store::now_ms())
        })
    }

    pub(super) fn set_model_tag_impl(
        &self,
        name: &str,
        version: Option<u64>,
        key: &str,
        value: &str,
    ) -> Result<()> {
        validate::key("tag", key)?;
        validate::tag_value(key, value)?;
        self.write(|c| {
            find_model(c, name)?;
            match version {
                Some(v) => {
                    live_version(c, name, v)?;
                    c.execute(
                        "INSERT OR REPLACE INTO model_version_tags (key, value, name, version, workspace) \
                         VALUES (?1, ?2, ?3, ?4, 'default')",
                        params![key, value, name, v as i64],
                    )?;
                }
                None => {
                    c.execute(
                        "INSERT OR REPLACE INTO registered_model_tags (key, value, name, workspace) \
                         VALUES (?1, ?2, ?3, 'default')",
                        params![key, value, name],
                    )?;
                }
            }
            touch_model(c, name, crate::store::now_ms())
        })
    }

    pub(super) fn set_description_impl(
        &self,
        name: &str,
        version: Option<u64>,
        description: &str,
    ) -> Result<()> {
        self.write(|c| {
            find_model(c, name)?;
            let now = crate::store::now_ms();
            if let Some(v) = version {
                live_version(c, name, v)?;
                c.execute(
                    "UPDATE model_versions SET description = ?1, last_updated_time = ?2 \
                     WHERE workspace = 'default' AND name = ?3 AND version = ?4",
                    params![description, now, name, v as i64],
                )?;
            } else {
                c.execute(
                    "UPDATE registered_models SET description = ?1 WHERE workspace = 'default' AND name = ?2",
                    params![description, name],
                )?;
            }
            touch_model(c, name, now)
        })
    }

    /// Point the alias, record the move in its history and touch the model: one transaction.
    pub(super) fn set_alias_impl(
        &self,
        name: &str,
        alias: &str,
        version: u64,
        kind: &str,
    ) -> Result<Option<u64>> {
        validate::alias(alias)?;
        self.write(|c| move_alias(c, name, alias, version, kind))
    }

    pub(super) fn delete_alias_impl(&self, name: &str, alias: &str) -> Result<()> {
        validate::alias(alias)?;
        self.write(|c| {
            let model = find_model(c, name)?;
            let Some(&from) = model.aliases.get(alias) else {
                return Err(alias_not_found(name, alias, &model.aliases).into());
            };
            c.execute(
                "DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1 AND alias = ?2",
                params![name, alias],
            )?;
            let now = crate::store::now_ms();
            append_history(c, name, alias_move(alias, Some(from), None, "delete", now))?;
            touch_model(c, name, now)
        })
    }

    pub(super) fn alias_history_impl(&self, name: &str, alias: &str) -> Result<Vec<AliasMove>> {
        validate::alias(alias)?;
        self.read(|c| {
            find_model(c, name)?;
            history(c, name, alias)
        })
    }

    pub(super) fn register_model_impl(&self, new: &NewVersion<'_>) -> Result<ModelVersion> {
        let storage = self.storage_location(new.source)?;
        self.write(|c| insert_version(c, new, &storage))
    }

    /// A new version and its alias move in one transaction: both or neither.
    pub(super) fn register_model_with_alias_impl(
        &self,
        new: &NewVersion<'_>,
        alias: &str,
        kind: &str,
    ) -> Result<ModelVersion> {
        validate::alias(alias)?;
        let storage = self.storage_location(new.source)?;
        self.write(|c| {
            let version = insert_version(c, new, &storage)?;
            move_alias(c, new.name, alias, version.version, kind)?;
            read_version(c, new.name, version.version)
        })
    }

    /// Where the model a version's source names keeps its files (it must exist before it is registered).
    fn storage_location(&self, source: &str) -> Result<String> {
        let model_dir = self.resolve_model(&ModelUri::parse(source)?)?;
        Ok(model_dir.to_string_lossy().into_owned())
    }
}

/// Point the alias at a live version, record the move in its history and touch the model.
fn move_alias(c: &Connection, name: &str, alias: &str, version: u64, kind: &str) -> R<Option<u64>> {
    let model = find_model(c, name)?;
    live_version(c, name, version)?;
    let from = model.aliases.get(alias).copied();
    c.execute(
        "INSERT OR REPLACE INTO registered_model_aliases (alias, version, name, workspace) \
         VALUES (?1, ?2, ?3, 'default')",
        params![alias, version as i64, name],
    )?;
    let now = crate::store::now_ms();
    append_history(c, name, alias_move(alias, from, Some(version), kind, now))?;
    touch_model(c, name, now)?;
    Ok(from)
}

/// The next version of the model (created if missing), `READY`, with its files at `storage`.
fn insert_version(c: &Connection, new: &NewVersion<'_>, storage: &str) -> R<ModelVersion> {
    let now = crate::store::now_ms();
    c.execute(
        "INSERT OR IGNORE INTO registered_models (name, creation_time, last_updated_time, description, \
         workspace) VALUES (?1, ?2, ?2, NULL, 'default')",
        params![new.name, now],
    )?;
    touch_model(c, new.name, now)?;
    let version: i64 = c.query_row(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE workspace = 'default' AND name = ?1",
        [new.name],
        |r| r.get(0),
    )?;
    c.execute(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, \
         user_id, current_stage, source, run_id, status, status_message, run_link, storage_location, \
         workspace) VALUES (?1, ?2, ?3, ?3, ?4, NULL, 'None', ?5, ?6, 'READY', NULL, NULL, ?7, 'default')",
        params![new.name, version, now, new.description, new.source, new.run_id, storage],
    )?;
    read_version(c, new.name, version as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A store with one run that logged one model (an `MLmodel` file is all resolving needs).
    fn store_with_a_model(dir: &Path) -> (SqliteStore, String, String) {
        let store = SqliteStore::new(dir.join("mlflow.db"));
        let id = store
            .create_experiment("e", None, &BTreeMap::new())
            .unwrap();
        let run = store
            .create_run(NewRun {
                run_id: None,
                experiment_id: id,
                run_name: None,
                user_id: "me".into(),
                start_time: 1,
                tags: BTreeMap::new(),
            })
            .unwrap();
        let model = store.create_logged_model(&run.run_id, "model").unwrap();
        let local = dir.join("model");
        fs::create_dir_all(&local).unwrap();
        fs::write(local.join("MLmodel"), "flavors: {}\n").unwrap();
        store.log_model(&model, &local, &[]).unwrap();
        (store, run.run_id, format!("models:/{}", model.model_id))
    }

    #[test]
    fn a_version_and_its_alias_move_are_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let (store, run_id, source) = store_with_a_model(dir.path());
        let new = NewVersion {
            name: "m",
            source: &source,
            run_id: Some(&run_id),
            description: None,
        };
        let v = store
            .register_model_with_alias(&new, "Champion", "set")
            .unwrap();
        assert_eq!(v.version, 1);
        assert_eq!(v.aliases, vec!["Champion".to_string()]);
        assert_eq!(store.alias_history("m", "Champion").unwrap().len(), 1);

        // The alias move fails inside the transaction: the version it was for is not left behind.
        store
            .write(|c| {
                c.execute_batch(
                    "CREATE TRIGGER no_alias BEFORE INSERT ON registered_model_aliases \
                     BEGIN SELECT RAISE(ABORT, 'alias refused'); END;",
                )?;
                Ok(())
            })
            .unwrap();
        let err = store
            .register_model_with_alias(&new, "Challenger", "set")
            .unwrap_err();
        assert!(err.to_string().contains("alias refused"), "{err}");
        let versions: Vec<u64> = store
            .list_model_versions("m", true)
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(versions, vec![1]);
    }
}
