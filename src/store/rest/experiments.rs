//! Experiments on the server: create, get (by id or name), list, rename, delete, restore, tag.

use super::json::*;
use super::{PAGE, RestStore, is_not_found, not_found};
use crate::store::entities::*;
use crate::store::{Result, StoreError, TrackingStore, validate};
use serde_json::json;
use std::collections::BTreeMap;

impl RestStore {
    pub(super) fn create_experiment_impl(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        validate::experiment_name(name)?;
        let mut body = json!({"name": name, "tags": kv_list(tags)});
        if let Some(loc) = artifact_location {
            body["artifact_location"] = json!(loc);
        }
        match self.post("experiments/create", body) {
            Ok(v) => Ok(str_of(&v["experiment_id"])),
            Err(StoreError::Remote { code, .. }) if code == "RESOURCE_ALREADY_EXISTS" => {
                Err(StoreError::ExperimentExists(name.into()))
            }
            Err(e) => Err(e),
        }
    }

    pub(super) fn get_experiment_impl(&self, id: &str) -> Result<Experiment> {
        // MLflow's server numbers its experiments (and answers 400 to anything else).
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::ExperimentNotFound(id.into()));
        }
        let v = self
            .get("experiments/get", &[("experiment_id", id)])
            .map_err(|e| not_found(e, || StoreError::ExperimentNotFound(id.into())))?;
        Ok(parse_experiment(&v["experiment"]))
    }

    pub(super) fn get_experiment_by_name_impl(&self, name: &str) -> Result<Option<Experiment>> {
        match self.get("experiments/get-by-name", &[("experiment_name", name)]) {
            Ok(v) => Ok(Some(parse_experiment(&v["experiment"]))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) fn list_experiments_impl(&self, view: ViewType) -> Result<Vec<Experiment>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"max_results": PAGE, "view_type": view_name(view)});
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = self.post("experiments/search", body)?;
            out.extend(array(&v["experiments"]).iter().map(parse_experiment));
            token = opt_str(&v["next_page_token"]);
            if token.is_none() {
                break;
            }
        }
        out.sort_by_key(|e| {
            (
                e.experiment_id.parse::<u64>().unwrap_or(u64::MAX),
                e.experiment_id.clone(),
            )
        });
        Ok(out)
    }

    pub(super) fn rename_experiment_impl(&self, id: &str, new_name: &str) -> Result<()> {
        validate::experiment_name(new_name)?;
        self.get_experiment(id)?;
        self.post(
            "experiments/update",
            json!({"experiment_id": id, "new_name": new_name}),
        )
        .map_err(|e| match e {
            StoreError::Remote { code, .. } if code == "RESOURCE_ALREADY_EXISTS" => {
                StoreError::ExperimentExists(new_name.into())
            }
            e => e,
        })?;
        Ok(())
    }

    pub(super) fn delete_experiment_impl(&self, id: &str) -> Result<()> {
        self.get_experiment(id)?;
        self.post("experiments/delete", json!({"experiment_id": id}))?;
        Ok(())
    }

    pub(super) fn restore_experiment_impl(&self, id: &str) -> Result<()> {
        self.get_experiment(id)?;
        self.post("experiments/restore", json!({"experiment_id": id}))?;
        Ok(())
    }

    pub(super) fn set_experiment_tag_impl(&self, id: &str, key: &str, value: &str) -> Result<()> {
        validate::key("tag", key)?;
        validate::tag_value(key, value)?;
        self.get_experiment(id)?;
        self.post(
            "experiments/set-experiment-tag",
            json!({"experiment_id": id, "key": key, "value": value}),
        )?;
        Ok(())
    }
}
