//! Runs on the server: create, get, search (every page, one page, by id), log batches and inputs,
//! update, delete, restore, and metric histories.

use super::json::*;
use super::{
    MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, MAX_TAGS_PER_BATCH, PAGE, RestStore, not_found,
};
use crate::store::entities::*;
use crate::store::{
    Batch, Fields, NewRun, Projection, Result, ServerPage, StoreError, TrackingStore, most_common,
    sort_newest_first, validate,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// How many of the newest runs the UI's list of metric keys is taken from.
const METRIC_KEY_RUNS: usize = 200;

impl RestStore {
    /// One page of `runs/search` and the token of the next, if any.
    pub(super) fn runs_search(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        filter: Option<&str>,
        order_by: &[String],
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<(Vec<Run>, Option<String>)> {
        let mut body = json!({
            "experiment_ids": experiment_ids,
            "run_view_type": view_name(view),
            "max_results": max_results,
        });
        if let Some(f) = filter {
            body["filter"] = json!(f);
        }
        if !order_by.is_empty() {
            body["order_by"] = json!(order_by);
        }
        if let Some(t) = page_token {
            body["page_token"] = json!(t);
        }
        let v = self.post("runs/search", body)?;
        let runs = array(&v["runs"]).iter().map(parse_run).collect();
        Ok((runs, opt_str(&v["next_page_token"])))
    }

    /// Every run of the experiments that passes the server-side `filter`, in the server's default order.
    pub(super) fn search_all(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        filter: Option<&str>,
    ) -> Result<Vec<Run>> {
        if experiment_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) =
                self.runs_search(experiment_ids, view, filter, &[], PAGE, token.as_deref())?;
            runs.extend(page);
            token = next;
            if token.is_none() {
                return Ok(runs);
            }
        }
    }

    pub(super) fn get_run_json(&self, run_id: &str) -> Result<Value> {
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        let v = self
            .get("runs/get", &[("run_id", run_id)])
            .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
        Ok(v["run"].clone())
    }

    pub(super) fn create_run_impl(&self, new: NewRun) -> Result<RunInfo> {
        for (k, v) in &new.tags {
            validate::key("tag", k)?;
            validate::tag_value(k, v)?;
        }
        let mut body = json!({
            "experiment_id": new.experiment_id,
            "user_id": new.user_id,
            "start_time": new.start_time,
            "tags": kv_list(&new.tags),
        });
        if let Some(name) = &new.run_name {
            body["run_name"] = json!(name);
        }
        let v = self.post("runs/create", body).map_err(|e| {
            not_found(e, || {
                StoreError::ExperimentNotFound(new.experiment_id.clone())
            })
        })?;
        Ok(parse_run_info(&v["run"]["info"]))
    }

    pub(super) fn list_runs_impl(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        projection: &Projection,
    ) -> Result<Vec<Run>> {
        let mut runs = self.search_all(experiment_ids, view, None)?;
        sort_newest_first(&mut runs);
        self.read_ahead().listed(&runs);
        project(&mut runs, projection);
        Ok(runs)
    }

    /// The metric keys of the newest runs only (one request): the server has no listing of keys, and
    /// reading every run of a 50,000-run experiment for the UI's column picker would take a minute.
    pub(super) fn metric_keys_impl(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<std::collections::BTreeSet<String>> {
        if experiment_ids.is_empty() {
            return Ok(Default::default());
        }
        let (runs, _) = self.runs_search(experiment_ids, view, None, &[], METRIC_KEY_RUNS, None)?;
        Ok(runs
            .into_iter()
            .flat_map(|r| r.data.metrics.into_keys())
            .collect())
    }

    pub(super) fn search_page_impl(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        page: &ServerPage<'_>,
    ) -> Result<Option<(Vec<Run>, Option<String>)>> {
        if experiment_ids.is_empty() {
            return Ok(Some((Vec::new(), None)));
        }
        self.runs_search(
            experiment_ids,
            view,
            page.filter,
            page.order_by,
            page.max_results,
            page.page_token,
        )
        .map(Some)
    }

    /// One `runs/search` per 100 ids instead of a `runs/get` per run.
    pub(super) fn get_runs_impl(
        &self,
        experiment_ids: &[String],
        run_ids: &[String],
    ) -> Result<Vec<Run>> {
        let mut found: BTreeMap<String, Run> = BTreeMap::new();
        for chunk in run_ids.chunks(100) {
            for id in chunk {
                validate::id("run", id).map_err(|_| StoreError::RunNotFound(id.clone()))?;
            }
            let list: Vec<String> = chunk.iter().map(|id| format!("'{id}'")).collect();
            let v = self.post(
                "runs/search",
                json!({
                    "experiment_ids": experiment_ids,
                    "filter": format!("attributes.run_id IN ({})", list.join(", ")),
                    "run_view_type": "ALL",
                    "max_results": chunk.len(),
                }),
            )?;
            for run in array(&v["runs"]).iter().map(parse_run) {
                found.insert(run.info.run_id.clone(), run);
            }
        }
        run_ids
            .iter()
            .map(|id| found.remove(id).map_or_else(|| self.get_run(id), Ok))
            .collect()
    }

    pub(super) fn log_batch_impl(&self, run_id: &str, batch: &Batch) -> Result<()> {
        validate::batch(batch)?;
        self.read_ahead().written(run_id);
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        let metric = |(k, p): &(String, MetricPoint)| json!({"key": k, "value": float_json(p.value), "timestamp": p.timestamp, "step": p.step});
        let kv = |(k, v): &(String, String)| json!({"key": k, "value": v});
        // Params and tags first (small), then metrics, each request within MLflow's limits.
        let mut bodies = Vec::new();
        let mut params = batch.params.chunks(MAX_PARAMS_PER_BATCH);
        let mut tags = batch.tags.chunks(MAX_TAGS_PER_BATCH);
        loop {
            let (p, t) = (params.next(), tags.next());
            if p.is_none() && t.is_none() {
                break;
            }
            bodies.push(json!({
                "run_id": run_id,
                "params": p.unwrap_or_default().iter().map(kv).collect::<Vec<_>>(),
                "tags": t.unwrap_or_default().iter().map(kv).collect::<Vec<_>>(),
            }));
        }
        for chunk in batch.metrics.chunks(MAX_METRICS_PER_BATCH) {
            bodies.push(json!({
                "run_id": run_id,
                "metrics": chunk.iter().map(metric).collect::<Vec<_>>(),
            }));
        }
        for body in bodies {
            self.post("runs/log-batch", body)
                .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
        }
        Ok(())
    }

    pub(super) fn update_run_impl(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<()> {
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        let mut body = json!({"run_id": run_id, "status": status.as_str()});
        if let Some(t) = end_time {
            body["end_time"] = json!(t);
        }
        self.post("runs/update", body)
            .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
        Ok(())
    }

    pub(super) fn delete_run_impl(&self, run_id: &str) -> Result<()> {
        self.get_run_json(run_id)?;
        self.post("runs/delete", json!({"run_id": run_id}))?;
        Ok(())
    }

    pub(super) fn restore_run_impl(&self, run_id: &str) -> Result<()> {
        self.get_run_json(run_id)?;
        self.post("runs/restore", json!({"run_id": run_id}))?;
        Ok(())
    }

    pub(super) fn metric_history_impl(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        validate::key("metric", key)?;
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        if let Some(points) = self.history_read_ahead(run_id, key)? {
            return Ok(points);
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", "25000"),
            ];
            if let Some(t) = &token {
                query.push(("page_token", t));
            }
            let v = self
                .get("metrics/get-history", &query)
                .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
            out.extend(array(&v["metrics"]).iter().map(parse_metric));
            token = opt_str(&v["next_page_token"]);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    pub(super) fn log_input_impl(
        &self,
        run_id: &str,
        dataset: &Dataset,
        context: &str,
    ) -> Result<()> {
        self.post(
            "runs/log-inputs",
            json!({
                "run_id": run_id,
                "datasets": [{
                    "tags": [{"key": "mlflow.data.context", "value": context}],
                    "dataset": {
                        "name": dataset.name,
                        "digest": dataset.digest,
                        "source_type": dataset.source_type,
                        "source": dataset.source,
                        "schema": dataset.schema,
                        "profile": dataset.profile,
                    },
                }],
            }),
        )
        .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
        Ok(())
    }
}

/// Keep only what the projection asks for, as the file store would have loaded it.
fn project(runs: &mut [Run], projection: &Projection) {
    let metrics = match &projection.metrics {
        Fields::MostCommon(n) => Fields::Only(
            most_common(
                runs.iter()
                    .map(|r| r.data.metrics.keys().cloned().collect())
                    .collect(),
                *n,
            )
            .into_iter()
            .collect(),
        ),
        other => other.clone(),
    };
    for run in runs {
        run.data.metrics.retain(|k, _| metrics.wants(k));
        run.data.params.retain(|k, _| projection.params.wants(k));
        run.data.tags.retain(|k, _| projection.tags.wants(k));
        if !projection.io {
            run.inputs.clear();
            run.outputs.clear();
        }
    }
}
