//! Runs, params, metrics (with `latest_metrics` kept as MLflow keeps it), tags and dataset inputs in
//! MLflow's tables.

use super::experiments::find_experiment;
use super::shared::{no_tag_unless_removed, now, stage, view_sql};
use super::*;
use crate::store::{Fields, most_common};
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use std::collections::HashMap;

pub(super) const RUN_COLUMNS: &str = "run_uuid, name, experiment_id, user_id, status, start_time, \
     end_time, artifact_uri, lifecycle_stage";

pub(super) fn run_info_row(r: &Row) -> rusqlite::Result<RunInfo> {
    Ok(RunInfo {
        run_id: r.get(0)?,
        run_name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        experiment_id: r.get::<_, Option<i64>>(2)?.unwrap_or(0).to_string(),
        user_id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        status: r
            .get::<_, Option<String>>(4)?
            .as_deref()
            .and_then(RunStatus::parse)
            .unwrap_or(RunStatus::Running),
        start_time: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
        end_time: r.get(6)?,
        artifact_uri: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        lifecycle_stage: stage(r.get(8)?),
    })
}

fn experiment_keys(ids: &[String]) -> Result<Vec<i64>> {
    ids.iter().map(|id| experiment_key(id)).collect()
}

pub(super) fn find_run_info(c: &Connection, run_id: &str) -> R<RunInfo> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid = ?1");
    Ok(c.query_row(&sql, [run_id], run_info_row)
        .optional()?
        .ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))?)
}

/// A run that may be written: it exists and is active (MLflow's `_check_run_is_active`).
pub(super) fn active_run(c: &Connection, run_id: &str) -> R<RunInfo> {
    let info = find_run_info(c, run_id)?;
    if info.lifecycle_stage != Lifecycle::Active {
        return Err(StoreError::InvalidState(format!(
            "run {run_id} is deleted; restore it to change it"
        ))
        .into());
    }
    Ok(info)
}

impl SqliteStore {
    /// MLflow's `delete_tag` (of an active run): the row gone, or an `InvalidValue` naming the key.
    pub(super) fn delete_run_tag_impl(&self, run_id: &str, key: &str) -> Result<()> {
        validate::key("tag", key)?;
        self.write(|c| {
            active_run(c, run_id)?;
            let n = c.execute(
                "DELETE FROM tags WHERE run_uuid = ?1 AND key = ?2",
                params![run_id, key],
            )?;
            no_tag_unless_removed(n, key, &format!("run {run_id}"))
        })
    }

    pub(super) fn create_run_impl(&self, new: NewRun) -> Result<RunInfo> {
        for (k, v) in &new.tags {
            validate::key("tag", k)?;
            validate::tag_value(k, v)?;
        }
        if let Some(id) = &new.run_id {
            validate::id("run", id)?;
        }
        let run_id = new
            .run_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let run_name = new
            .run_name
            .clone()
            .unwrap_or_else(crate::store::file::random_run_name);
        validate::tag_value("mlflow.runName", &run_name)?;
        self.write(|c| {
            let exp = find_experiment(c, &new.experiment_id)?;
            if exp.lifecycle_stage != Lifecycle::Active {
                return Err(StoreError::InvalidState(format!(
                    "experiment '{}' is deleted; restore it to add runs",
                    exp.name
                ))
                .into());
            }
            let exists: Option<i64> = c
                .query_row("SELECT 1 FROM runs WHERE run_uuid = ?1", [&run_id], |r| r.get(0))
                .optional()?;
            if exists.is_some() {
                return Err(StoreError::InvalidState(format!("run {run_id} already exists")).into());
            }
            let info = RunInfo {
                run_id: run_id.clone(),
                run_name: run_name.clone(),
                experiment_id: exp.experiment_id.clone(),
                user_id: new.user_id.clone(),
                status: RunStatus::Running,
                start_time: new.start_time,
                end_time: None,
                artifact_uri: format!(
                    "{}/{run_id}/artifacts",
                    exp.artifact_location.trim_end_matches('/')
                ),
                lifecycle_stage: Lifecycle::Active,
            };
            c.execute(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, \
                 status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, \
                 experiment_id, deleted_time) VALUES (?1, ?2, 'UNKNOWN', '', '', ?3, 'RUNNING', ?4, NULL, '', \
                 'active', ?5, ?6, NULL)",
                params![
                    run_id,
                    run_name,
                    new.user_id,
                    new.start_time,
                    info.artifact_uri,
                    experiment_key(&exp.experiment_id)?
                ],
            )?;
            let mut tags = new.tags.clone();
            tags.insert("mlflow.runName".into(), run_name.clone());
            for (k, v) in &tags {
                c.execute(
                    "INSERT OR REPLACE INTO tags (key, value, run_uuid) VALUES (?1, ?2, ?3)",
                    params![k, v, run_id],
                )?;
            }
            Ok(info)
        })
    }

    pub(super) fn get_run_impl(&self, run_id: &str) -> Result<Run> {
        self.read(|c| {
            let info = find_run_info(c, run_id)?;
            let mut runs = vec![empty_run(info)];
            fill(c, &mut runs, &Projection::everything())?;
            Ok(runs.pop().expect("one run"))
        })
    }

    pub(super) fn list_runs_impl(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        projection: &Projection,
    ) -> Result<Vec<Run>> {
        let keys = experiment_keys(experiment_ids)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|c| {
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE experiment_id IN ({}) AND {} \
                 ORDER BY start_time DESC, run_uuid",
                placeholders(keys.len()),
                view_sql(view)
            );
            let mut stmt = c.prepare(&sql)?;
            let mut runs: Vec<Run> = stmt
                .query_map(params_from_iter(&keys), run_info_row)?
                .map(|r| r.map(empty_run))
                .collect::<rusqlite::Result<_>>()?;
            let mut projection = projection.clone();
            if let Fields::MostCommon(n) = projection.metrics {
                let lists = key_lists(c, &keys, view)?;
                projection.metrics = Fields::Only(most_common(lists, n).into_iter().collect());
            }
            fill(c, &mut runs, &projection)?;
            Ok(runs)
        })
    }

    pub(super) fn count_runs_impl(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<usize> {
        let keys = experiment_keys(experiment_ids)?;
        if keys.is_empty() {
            return Ok(0);
        }
        self.read(|c| {
            let sql = format!(
                "SELECT count(*) FROM runs WHERE experiment_id IN ({}) AND {}",
                placeholders(keys.len()),
                view_sql(view)
            );
            let n: i64 = c.query_row(&sql, params_from_iter(&keys), |r| r.get(0))?;
            Ok(n as usize)
        })
    }

    pub(super) fn metric_keys_impl(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<std::collections::BTreeSet<String>> {
        let keys = experiment_keys(experiment_ids)?;
        if keys.is_empty() {
            return Ok(Default::default());
        }
        self.read(|c| Ok(key_lists(c, &keys, view)?.into_iter().flatten().collect()))
    }

    pub(super) fn log_batch_impl(&self, run_id: &str, batch: &Batch) -> Result<()> {
        validate::batch(batch)?;
        self.write(|c| {
            active_run(c, run_id)?;
            for (k, v) in &batch.params {
                let old: Option<String> = c
                    .query_row(
                        "SELECT value FROM params WHERE run_uuid = ?1 AND key = ?2",
                        params![run_id, k],
                        |r| r.get(0),
                    )
                    .optional()?;
                match old {
                    Some(old) if old != *v => {
                        return Err(StoreError::ParamChanged {
                            run_id: run_id.into(),
                            key: k.clone(),
                            old,
                            new: v.clone(),
                        }
                        .into());
                    }
                    Some(_) => {}
                    None => {
                        c.execute(
                            "INSERT INTO params (key, value, run_uuid) VALUES (?1, ?2, ?3)",
                            params![k, v, run_id],
                        )?;
                    }
                }
            }
            insert_metrics(c, run_id, &batch.metrics)?;
            for (k, v) in &batch.tags {
                c.execute(
                    "INSERT OR REPLACE INTO tags (key, value, run_uuid) VALUES (?1, ?2, ?3)",
                    params![k, v, run_id],
                )?;
                if k == "mlflow.runName" {
                    c.execute(
                        "UPDATE runs SET name = ?1 WHERE run_uuid = ?2",
                        params![v, run_id],
                    )?;
                }
            }
            Ok(())
        })
    }

    pub(super) fn update_run_impl(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<()> {
        self.write(|c| {
            active_run(c, run_id)?;
            c.execute(
                "UPDATE runs SET status = ?1, end_time = ?2 WHERE run_uuid = ?3",
                params![status.as_str(), end_time, run_id],
            )?;
            Ok(())
        })
    }

    pub(super) fn set_run_stage(&self, run_id: &str, to: Lifecycle) -> Result<()> {
        self.write(|c| {
            let info = find_run_info(c, run_id)?;
            if to == Lifecycle::Active {
                let exp = find_experiment(c, &info.experiment_id)?;
                if exp.lifecycle_stage == Lifecycle::Deleted {
                    return Err(StoreError::InvalidState(format!(
                        "run {run_id} is in a deleted experiment; restore the experiment instead"
                    ))
                    .into());
                }
                c.execute(
                    "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = ?1",
                    [run_id],
                )?;
            } else {
                c.execute(
                    "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ?1 WHERE run_uuid = ?2",
                    params![now(), run_id],
                )?;
            }
            Ok(())
        })
    }

    pub(super) fn metric_history_impl(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        validate::key("metric", key)?;
        self.read(|c| {
            find_run_info(c, run_id)?;
            let mut stmt = c.prepare(
                "SELECT timestamp, value, step, is_nan FROM metrics WHERE run_uuid = ?1 AND key = ?2 \
                 ORDER BY rowid",
            )?;
            let points = stmt
                .query_map(params![run_id, key], |r| {
                    Ok(MetricPoint {
                        timestamp: r.get(0)?,
                        value: read_value(r.get(1)?, r.get(3)?),
                        step: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(points)
        })
    }

    pub(super) fn log_input_impl(&self, run_id: &str, ds: &Dataset, context: &str) -> Result<()> {
        self.write(|c| {
            let info = active_run(c, run_id)?;
            let exp = experiment_key(&info.experiment_id)?;
            let dataset_uuid = match c
                .query_row(
                    "SELECT dataset_uuid FROM datasets WHERE experiment_id = ?1 AND name = ?2 AND digest = ?3",
                    params![exp, ds.name, ds.digest],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
            {
                Some(id) => id,
                None => {
                    let id = uuid::Uuid::new_v4().simple().to_string();
                    c.execute(
                        "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, \
                         dataset_source, dataset_schema, dataset_profile) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![id, exp, ds.name, ds.digest, ds.source_type, ds.source, ds.schema, ds.profile],
                    )?;
                    id
                }
            };
            let input_uuid = match c
                .query_row(
                    "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' AND source_id = ?1 \
                     AND destination_type = 'RUN' AND destination_id = ?2",
                    params![dataset_uuid, run_id],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
            {
                Some(id) => id,
                None => {
                    let id = uuid::Uuid::new_v4().simple().to_string();
                    c.execute(
                        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
                         destination_id, step) VALUES (?1, 'DATASET', ?2, 'RUN', ?3, 0)",
                        params![id, dataset_uuid, run_id],
                    )?;
                    id
                }
            };
            c.execute(
                "INSERT OR REPLACE INTO input_tags (input_uuid, name, value) VALUES (?1, 'mlflow.data.context', ?2)",
                params![input_uuid, context],
            )?;
            Ok(())
        })
    }
}

/// Insert metric points (exact duplicates dropped by the primary key, as MLflow) and keep
/// `latest_metrics` as `_update_latest_metrics_if_necessary`: a point replaces the stored one only when
/// its `(step, timestamp, value)` is greater as a tuple. In the caller's transaction.
pub(super) fn insert_metrics(
    c: &Connection,
    run_id: &str,
    metrics: &[(String, MetricPoint)],
) -> R<()> {
    let mut insert = c.prepare_cached(
        "INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut latest = c.prepare_cached(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value, \
         timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan \
         WHERE (excluded.step, excluded.timestamp, excluded.value) > \
         (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
    )?;
    for (k, p) in metrics {
        let (value, is_nan) = stored_value(p.value);
        insert.execute(params![k, value, p.timestamp, run_id, p.step, is_nan])?;
        latest.execute(params![k, value, p.timestamp, p.step, is_nan, run_id])?;
    }
    Ok(())
}

fn empty_run(info: RunInfo) -> Run {
    Run {
        info,
        data: RunData::default(),
        inputs: Vec::new(),
        outputs: Vec::new(),
    }
}

/// The metric keys of each run of the experiments (for the most common columns).
fn key_lists(c: &Connection, keys: &[i64], view: ViewType) -> R<Vec<Vec<String>>> {
    let sql = format!(
        "SELECT m.run_uuid, m.key FROM latest_metrics m JOIN runs r ON r.run_uuid = m.run_uuid \
         WHERE r.experiment_id IN ({}) AND r.{}",
        placeholders(keys.len()),
        view_sql(view)
    );
    let mut stmt = c.prepare(&sql)?;
    let mut by_run: HashMap<String, Vec<String>> = HashMap::new();
    for row in stmt.query_map(params_from_iter(keys), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (run, key) = row?;
        by_run.entry(run).or_default().push(key);
    }
    Ok(by_run.into_values().collect())
}

/// Load the parts of `runs` the projection asks for: a query per table over the runs' ids (in chunks,
/// within SQLite's parameter limit).
pub(super) fn fill(c: &Connection, runs: &mut [Run], projection: &Projection) -> R<()> {
    let index: HashMap<String, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.info.run_id.clone(), i))
        .collect();
    let ids: Vec<String> = runs.iter().map(|r| r.info.run_id.clone()).collect();
    for chunk in ids.chunks(500) {
        let marks = placeholders(chunk.len());
        if projection.metrics != Fields::Nothing {
            let sql = format!(
                "SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid IN ({marks})"
            );
            let mut stmt = c.prepare(&sql)?;
            let mut rows = stmt.query(params_from_iter(chunk))?;
            while let Some(r) = rows.next()? {
                let key: String = r.get(1)?;
                if !projection.metrics.wants(&key) {
                    continue;
                }
                let point = MetricPoint {
                    timestamp: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                    value: read_value(r.get(2)?, r.get(5)?),
                    step: r.get(4)?,
                };
                runs[index[&r.get::<_, String>(0)?]]
                    .data
                    .metrics
                    .insert(key, point);
            }
        }
        for (table, fields, is_params) in [
            ("params", &projection.params, true),
            ("tags", &projection.tags, false),
        ] {
            if *fields == Fields::Nothing {
                continue;
            }
            let sql =
                format!("SELECT run_uuid, key, value FROM {table} WHERE run_uuid IN ({marks})");
            let mut stmt = c.prepare(&sql)?;
            let mut rows = stmt.query(params_from_iter(chunk))?;
            while let Some(r) = rows.next()? {
                let key: String = r.get(1)?;
                if !fields.wants(&key) {
                    continue;
                }
                let value: Option<String> = r.get(2)?;
                let data = &mut runs[index[&r.get::<_, String>(0)?]].data;
                let map = if is_params {
                    &mut data.params
                } else {
                    &mut data.tags
                };
                map.insert(key, value.unwrap_or_default());
            }
        }
        if projection.io {
            fill_io(c, runs, &index, chunk)?;
        }
    }
    Ok(())
}

/// Dataset inputs (with their context) and model outputs of the runs in `chunk`.
fn fill_io(
    c: &Connection,
    runs: &mut [Run],
    index: &HashMap<String, usize>,
    chunk: &[String],
) -> R<()> {
    let marks = placeholders(chunk.len());
    let sql = format!(
        "SELECT i.destination_id, d.name, d.digest, d.dataset_source_type, d.dataset_source, \
         d.dataset_schema, d.dataset_profile, \
         (SELECT t.value FROM input_tags t WHERE t.input_uuid = i.input_uuid AND t.name = 'mlflow.data.context') \
         FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id \
         WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id IN ({marks}) \
         ORDER BY i.rowid"
    );
    let mut stmt = c.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(chunk))?;
    while let Some(r) = rows.next()? {
        let input = DatasetInput {
            name: r.get(1)?,
            digest: r.get(2)?,
            source_type: r.get(3)?,
            source: r.get(4)?,
            schema: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            profile: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            context: r.get(7)?,
        };
        runs[index[&r.get::<_, String>(0)?]].inputs.push(input);
    }
    let sql = format!(
        "SELECT source_id, destination_id FROM inputs WHERE source_type = 'RUN_OUTPUT' \
         AND destination_type = 'MODEL_OUTPUT' AND source_id IN ({marks}) ORDER BY rowid"
    );
    let mut stmt = c.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(chunk))?;
    while let Some(r) = rows.next()? {
        runs[index[&r.get::<_, String>(0)?]].outputs.push(r.get(1)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path().join("mlflow.db"));
        (dir, store)
    }

    fn new_run(store: &SqliteStore) -> String {
        store
            .create_run(NewRun {
                run_id: None,
                experiment_id: "0".into(),
                run_name: Some("r".into()),
                user_id: "me".into(),
                start_time: 1,
                tags: BTreeMap::new(),
            })
            .unwrap()
            .run_id
    }

    fn point(step: i64, timestamp: i64, value: f64) -> MetricPoint {
        MetricPoint {
            timestamp,
            value,
            step,
        }
    }

    fn log(store: &SqliteStore, run: &str, points: &[MetricPoint]) -> Result<()> {
        let batch = Batch {
            metrics: points.iter().map(|p| ("m".to_string(), *p)).collect(),
            ..Batch::default()
        };
        store.log_batch(run, &batch)
    }

    fn stored(store: &SqliteStore, sql: &str, run: &str) -> Vec<(f64, i64, i64, bool)> {
        store
            .read(|c| {
                let mut stmt = c.prepare(sql)?;
                let rows = stmt
                    .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(rows)
            })
            .unwrap()
    }

    #[test]
    fn latest_metrics_keeps_the_greatest_step_timestamp_value_as_mlflow() {
        let (_dir, store) = store();
        let run = new_run(&store);
        log(&store, &run, &[point(5, 100, 1.0)]).unwrap();
        // An earlier step logged later does not replace it; a greater value at the same step and time does.
        log(&store, &run, &[point(5, 100, 2.0), point(3, 200, 9.0)]).unwrap();
        let latest =
            "SELECT value, step, timestamp, is_nan FROM latest_metrics WHERE run_uuid = ?1";
        assert_eq!(stored(&store, latest, &run), vec![(2.0, 5, 100, false)]);
        // NaN is stored as 0 with is_nan, infinities as the largest finite floats; an exact duplicate is
        // dropped by the primary key.
        log(
            &store,
            &run,
            &[point(6, 1, f64::NAN), point(7, 1, f64::INFINITY)],
        )
        .unwrap();
        log(
            &store,
            &run,
            &[
                point(8, 1, f64::NEG_INFINITY),
                point(8, 1, f64::NEG_INFINITY),
            ],
        )
        .unwrap();
        let all =
            "SELECT value, step, timestamp, is_nan FROM metrics WHERE run_uuid = ?1 ORDER BY rowid";
        assert_eq!(
            stored(&store, all, &run),
            vec![
                (1.0, 5, 100, false),
                (2.0, 5, 100, false),
                (9.0, 3, 200, false),
                (0.0, 6, 1, true),
                (f64::MAX, 7, 1, false),
                (f64::MIN, 8, 1, false),
            ]
        );
        assert_eq!(stored(&store, latest, &run), vec![(f64::MIN, 8, 1, false)]);
        let history = store.metric_history(&run, "m").unwrap();
        assert!(history[3].value.is_nan());
        assert_eq!(
            store.get_run(&run).unwrap().data.metrics["m"].value,
            f64::MIN
        );
    }

    #[test]
    fn a_batch_is_one_transaction_a_changed_param_leaves_the_run_untouched() {
        let (_dir, store) = store();
        let run = new_run(&store);
        let batch = |value: &str| Batch {
            params: vec![
                (format!("new{value}"), value.into()),
                ("lr".into(), value.into()),
            ],
            metrics: vec![("m".into(), point(0, 1, 1.0))],
            tags: vec![("t".into(), value.into())],
        };
        store.log_batch(&run, &batch("0.1")).unwrap();
        let err = store.log_batch(&run, &batch("0.2")).unwrap_err();
        assert!(matches!(err, StoreError::ParamChanged { .. }), "{err}");
        let r = store.get_run(&run).unwrap();
        assert_eq!(r.data.tags["t"], "0.1");
        assert_eq!(r.data.params.keys().collect::<Vec<_>>(), ["lr", "new0.1"]);
        assert_eq!(store.metric_history(&run, "m").unwrap().len(), 1);
    }
}
