//! Models on the server: logged models (create, log, resolve a model URI to its artifacts) and the
//! registry (registered models, versions, their tags and descriptions, aliases and alias history).

use super::json::*;
use super::{MAX_METRICS_PER_BATCH, PAGE, RestStore, is_not_found, not_found};
use crate::store::entities::*;
use crate::store::{ModelUri, Result, StoreError, TrackingStore, VersionRef, Which, validate};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use ureq::http::Method;

impl RestStore {
    pub(super) fn logged_model_json(&self, model_id: &str) -> Result<Value> {
        validate::id("model", model_id)
            .map_err(|_| StoreError::ModelNotFound(format!("models:/{model_id}")))?;
        let v = self
            .get(&format!("logged-models/{model_id}"), &[])
            .map_err(|e| {
                not_found(e, || {
                    StoreError::ModelNotFound(format!("models:/{model_id}"))
                })
            })?;
        Ok(v["model"].clone())
    }

    /// The artifact URI of the model a URI names (see [`TrackingStore::resolve_model`]).
    pub(super) fn model_artifact_uri(&self, uri: &ModelUri) -> Result<String> {
        match crate::store::follow_versions(self, uri)? {
            ModelUri::Run { run_id, path } => {
                let run = self.get_run_json(&run_id)?;
                // MLflow 3: a logged model of that name produced by the run.
                for out in array(&run["outputs"]["model_outputs"]) {
                    if let Some(id) = out["model_id"].as_str() {
                        let m = self.logged_model_json(id)?;
                        if m["info"]["name"].as_str() == Some(path.as_str()) {
                            return Ok(str_of(&m["info"]["artifact_uri"]));
                        }
                    }
                }
                // MLflow 2: the model inside the run's artifacts.
                let listing = self.list_artifacts(&run_id, Some(&path))?;
                if listing.iter().any(|e| e.path.ends_with("/MLmodel")) {
                    return Ok(format!(
                        "{}/{path}",
                        str_of(&run["info"]["artifact_uri"]).trim_end_matches('/')
                    ));
                }
                Err(StoreError::ModelNotFound(format!(
                    "{uri}: run {run_id} has no model at '{path}'"
                )))
            }
            ModelUri::Logged(id) => Ok(str_of(
                &self.logged_model_json(&id)?["info"]["artifact_uri"],
            )),
            ModelUri::Proxied(p) => Ok(p),
            ModelUri::Folder(_) | ModelUri::Version(_) => {
                Err(StoreError::ModelNotFound(uri.to_string()))
            }
        }
    }

    pub(super) fn registered_model_json(&self, name: &str) -> Result<Value> {
        validate::model_name(name)?;
        let v = self
            .get("registered-models/get", &[("name", name)])
            .map_err(|e| {
                not_found(e, || {
                    StoreError::ModelNotFound(format!("registered model '{name}'"))
                })
            })?;
        Ok(v["registered_model"].clone())
    }

    pub(super) fn current_alias(&self, name: &str, alias: &str) -> Result<Option<u64>> {
        match self.get(
            "registered-models/alias",
            &[("name", name), ("alias", alias)],
        ) {
            Ok(v) => Ok(number(&v["model_version"]["version"]).map(|n| n as u64)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) fn append_alias_history(&self, name: &str, entry: AliasMove) -> Result<()> {
        let key = crate::store::alias_history_tag(&entry.alias);
        let history = self.alias_history(name, &entry.alias).unwrap_or_default();
        let text = crate::store::alias_history_text(history, entry);
        self.set_registered_model_tag(name, &key, &text)
    }

    pub(super) fn get_logged_model_impl(&self, model_id: &str) -> Result<LoggedModel> {
        let m = self.logged_model_json(model_id)?;
        let info = &m["info"];
        Ok(LoggedModel {
            model_id: model_id.into(),
            name: str_of(&info["name"]),
            experiment_id: str_of(&info["experiment_id"]),
            source_run_id: str_of(&info["source_run_id"]),
            artifact_location: str_of(&info["artifact_uri"]),
        })
    }

    pub(super) fn create_logged_model_impl(&self, run_id: &str, name: &str) -> Result<LoggedModel> {
        validate::key("model name", name)?;
        let run = self.get_run(run_id)?;
        let tags: BTreeMap<&String, &String> = run
            .data
            .tags
            .iter()
            .filter(|(k, _)| k.starts_with("mlflow.source.") || k.as_str() == "mlflow.user")
            .collect();
        let v = self.post(
            "logged-models",
            json!({
                "experiment_id": run.info.experiment_id,
                "name": name,
                "source_run_id": run_id,
                "params": kv_list(&run.data.params),
                "tags": kv_list(tags),
            }),
        )?;
        let info = &v["model"]["info"];
        Ok(LoggedModel {
            model_id: str_of(&info["model_id"]),
            name: name.into(),
            experiment_id: run.info.experiment_id,
            source_run_id: run_id.into(),
            artifact_location: str_of(&info["artifact_uri"]),
        })
    }

    pub(super) fn log_model_impl(
        &self,
        model: &LoggedModel,
        local: &Path,
        metrics: &[(String, MetricPoint)],
    ) -> Result<()> {
        let target = self.proxy_path(&model.artifact_location)?;
        self.upload_dir(local, &target)?;
        if !metrics.is_empty() {
            for chunk in metrics.chunks(MAX_METRICS_PER_BATCH) {
                let points: Vec<Value> = chunk
                    .iter()
                    .map(|(k, p)| {
                        json!({"key": k, "value": float_json(p.value), "timestamp": p.timestamp,
                               "step": p.step, "model_id": model.model_id})
                    })
                    .collect();
                self.post(
                    "runs/log-batch",
                    json!({"run_id": model.source_run_id, "metrics": points}),
                )?;
            }
        }
        self.client.send(
            Method::PATCH,
            &format!("logged-models/{}", model.model_id),
            &json!({"model_id": model.model_id, "status": "LOGGED_MODEL_READY"}),
        )?;
        self.post(
            "runs/outputs",
            json!({"run_id": model.source_run_id, "models": [{"model_id": model.model_id, "step": 0}]}),
        )?;
        Ok(())
    }

    pub(super) fn resolve_model_version_impl(&self, version: &VersionRef) -> Result<ModelVersion> {
        let name = version.name.as_str();
        match &version.which {
            Which::Latest => {
                // One small request (a replica following `latest` polls this): the newest version only.
                let filter = format!("name = '{}'", name.replace('\'', "\\'"));
                let v = self.get(
                    "model-versions/search",
                    &[
                        ("filter", filter.as_str()),
                        ("order_by", "version_number DESC"),
                        ("max_results", "1"),
                    ],
                )?;
                match array(&v["model_versions"]).first().map(parse_version) {
                    Some(version) if version.name == name => Ok(version),
                    // No such model (its own error) or a model without versions.
                    _ => self
                        .list_model_versions(name, false)?
                        .into_iter()
                        .next()
                        .ok_or_else(|| {
                            StoreError::ModelNotFound(format!("'{name}' has no versions"))
                        }),
                }
            }
            Which::Number(n) => self.get_model_version(name, *n),
            Which::Alias(alias) => {
                let v = self
                    .get(
                        "registered-models/alias",
                        &[("name", name), ("alias", alias)],
                    )
                    .map_err(|e| {
                        not_found(e, || {
                            let known = self
                                .get_registered_model(name)
                                .map(|m| m.aliases)
                                .unwrap_or_default();
                            crate::store::alias_not_found(name, alias, &known)
                        })
                    })?;
                Ok(parse_version(&v["model_version"]))
            }
        }
    }

    pub(super) fn list_registered_models_impl(&self) -> Result<Vec<RegisteredModel>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = PAGE.to_string();
            let mut query = vec![("max_results", page.as_str())];
            if let Some(t) = &token {
                query.push(("page_token", t));
            }
            let v = self.get("registered-models/search", &query)?;
            out.extend(
                array(&v["registered_models"])
                    .iter()
                    .map(parse_registered_model),
            );
            token = opt_str(&v["next_page_token"]);
            if token.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(super) fn delete_registered_model_impl(&self, name: &str) -> Result<()> {
        self.registered_model_json(name)?;
        self.client.send(
            Method::DELETE,
            "registered-models/delete",
            &json!({"name": name}),
        )?;
        Ok(())
    }

    pub(super) fn list_model_versions_impl(
        &self,
        name: &str,
        _include_deleted: bool,
    ) -> Result<Vec<ModelVersion>> {
        // The server deletes versions outright: there are no deleted ones to include.
        self.registered_model_json(name)?;
        let quoted = format!("'{}'", name.replace('\'', "\\'"));
        let filter = format!("name = {quoted}");
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("filter", filter.as_str()), ("max_results", "200000")];
            if let Some(t) = &token {
                query.push(("page_token", t));
            }
            let v = self.get("model-versions/search", &query)?;
            out.extend(array(&v["model_versions"]).iter().map(parse_version));
            token = opt_str(&v["next_page_token"]);
            if token.is_none() {
                break;
            }
        }
        out.retain(|v| v.name == name);
        out.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(out)
    }

    pub(super) fn get_model_version_impl(&self, name: &str, version: u64) -> Result<ModelVersion> {
        validate::model_name(name)?;
        let n = version.to_string();
        let v = self
            .get("model-versions/get", &[("name", name), ("version", &n)])
            .map_err(|e| {
                not_found(e, || {
                    StoreError::ModelNotFound(format!(
                        "version {version} of registered model '{name}'"
                    ))
                })
            })?;
        Ok(parse_version(&v["model_version"]))
    }

    pub(super) fn delete_model_version_impl(&self, name: &str, version: u64) -> Result<()> {
        self.get_model_version(name, version)?;
        self.client.send(
            Method::DELETE,
            "model-versions/delete",
            &json!({"name": name, "version": version.to_string()}),
        )?;
        Ok(())
    }

    pub(super) fn set_registered_model_tag_impl(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        validate::model_name(name)?;
        validate::key("tag", key)?;
        validate::tag_value(key, value)?;
        self.post(
            "registered-models/set-tag",
            json!({"name": name, "key": key, "value": value}),
        )
        .map_err(|e| {
            not_found(e, || {
                StoreError::ModelNotFound(format!("registered model '{name}'"))
            })
        })?;
        Ok(())
    }

    pub(super) fn set_model_version_tag_impl(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        validate::key("tag", key)?;
        validate::tag_value(key, value)?;
        self.get_model_version(name, version)?;
        self.post(
            "model-versions/set-tag",
            json!({"name": name, "version": version.to_string(), "key": key, "value": value}),
        )?;
        Ok(())
    }

    pub(super) fn set_registered_model_description_impl(
        &self,
        name: &str,
        description: &str,
    ) -> Result<()> {
        self.registered_model_json(name)?;
        self.client.send(
            Method::PATCH,
            "registered-models/update",
            &json!({"name": name, "description": description}),
        )?;
        Ok(())
    }

    pub(super) fn set_model_version_description_impl(
        &self,
        name: &str,
        version: u64,
        description: &str,
    ) -> Result<()> {
        self.get_model_version(name, version)?;
        self.client.send(
            Method::PATCH,
            "model-versions/update",
            &json!({"name": name, "version": version.to_string(), "description": description}),
        )?;
        Ok(())
    }

    pub(super) fn set_alias_impl(
        &self,
        name: &str,
        alias: &str,
        version: u64,
        kind: &str,
    ) -> Result<Option<u64>> {
        validate::alias(alias)?;
        self.get_model_version(name, version)?;
        let from = self.current_alias(name, alias)?;
        self.post(
            "registered-models/alias",
            json!({"name": name, "alias": alias, "version": version.to_string()}),
        )?;
        self.append_alias_history(
            name,
            AliasMove {
                alias: alias.into(),
                from,
                to: Some(version),
                user: crate::context::user(),
                timestamp: crate::store::now_ms(),
                kind: kind.into(),
            },
        )?;
        Ok(from)
    }

    pub(super) fn delete_alias_impl(&self, name: &str, alias: &str) -> Result<()> {
        validate::alias(alias)?;
        self.registered_model_json(name)?;
        let Some(from) = self.current_alias(name, alias)? else {
            let known = self
                .get_registered_model(name)
                .map(|m| m.aliases)
                .unwrap_or_default();
            return Err(crate::store::alias_not_found(name, alias, &known));
        };
        self.client.send(
            Method::DELETE,
            "registered-models/alias",
            &json!({"name": name, "alias": alias}),
        )?;
        self.append_alias_history(
            name,
            AliasMove {
                alias: alias.into(),
                from: Some(from),
                to: None,
                user: crate::context::user(),
                timestamp: crate::store::now_ms(),
                kind: "delete".into(),
            },
        )
    }

    pub(super) fn alias_history_impl(&self, name: &str, alias: &str) -> Result<Vec<AliasMove>> {
        validate::alias(alias)?;
        let model = self.get_registered_model(name)?;
        match model.tags.get(&crate::store::alias_history_tag(alias)) {
            Some(text) => crate::store::parse_alias_history(text).map_err(|e| {
                StoreError::InvalidState(format!(
                    "registered model '{name}': tag {} is not an alias history: {e}",
                    crate::store::alias_history_tag(alias)
                ))
            }),
            None => Ok(Vec::new()),
        }
    }

    pub(super) fn register_model_impl(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        validate::model_name(name)?;
        // The model must exist before it is registered.
        let source_uri = ModelUri::parse(source)?;
        let artifact_uri = self.model_artifact_uri(&source_uri)?;
        match self.post("registered-models/create", json!({"name": name})) {
            Ok(_) => {}
            Err(StoreError::Remote { code, .. }) if code == "RESOURCE_ALREADY_EXISTS" => {}
            Err(e) => return Err(e),
        }
        let model_id = match &source_uri {
            ModelUri::Logged(id) => Some(id.clone()),
            _ => None,
        };
        // MLflow's server wants a models:/m-ID or run/artifact source it can check.
        let mut body = json!({"name": name, "source": source});
        if matches!(source_uri, ModelUri::Run { .. }) {
            body["source"] = json!(artifact_uri);
        }
        if let Some(r) = run_id {
            body["run_id"] = json!(r);
        }
        if let Some(d) = description {
            body["description"] = json!(d);
        }
        if let Some(m) = &model_id {
            body["model_id"] = json!(m);
        }
        let v = self.post("model-versions/create", body)?;
        Ok(parse_version(&v["model_version"]))
    }
}
