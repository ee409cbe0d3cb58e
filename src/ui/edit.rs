//! The UI's editing actions, one admin endpoint (`POST /admin/edit`, the rule of the alias actions: a JSON
//! body, the token, and the Host/Origin checks of every request): set or delete a tag on a run, an
//! experiment, a registered model or a model version; edit a description (a run's or an experiment's
//! `mlflow.note.content`, a model's or a version's description); rename, delete and restore a run. Every
//! change goes through the `TrackingStore` trait, so it works on every backend.

use super::{ApiError, Shared, check_admin, with_store};
use crate::store::entities::TagOwner;
use crate::store::{Batch, TrackingStore};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// The tag MLflow keeps a run's and an experiment's description in (its UI's "Description").
const NOTE: &str = "mlflow.note.content";

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct EditBody {
    /// `run`, `experiment`, `model` or `version`.
    target: String,
    /// The run or experiment id, or the model's name.
    id: String,
    /// A model version's number (with `target: "version"`).
    version: Option<u64>,
    /// `set_tag`, `delete_tag`, `describe`, `rename` (runs), `delete` or `restore` (runs).
    action: String,
    key: Option<String>,
    /// The tag's value, the description or the run's new name.
    value: Option<String>,
}

type EditRequest = Result<axum::Json<EditBody>, axum::extract::rejection::JsonRejection>;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

fn field<'a>(v: &'a Option<String>, name: &str, action: &str) -> Result<&'a str, ApiError> {
    v.as_deref()
        .ok_or_else(|| bad(format!("{action}: '{name}' is required")))
}

fn owner(b: &EditBody) -> Result<TagOwner, ApiError> {
    let id = b.id.clone();
    Ok(match b.target.as_str() {
        "run" => TagOwner::Run(id),
        "experiment" => TagOwner::Experiment(id),
        "model" => TagOwner::Model(id),
        "version" => TagOwner::Version(
            id,
            b.version
                .ok_or_else(|| bad("target 'version' needs 'version'"))?,
        ),
        other => {
            return Err(bad(format!(
                "target: '{}' is not one of run, experiment, model, version",
                crate::redact::brief(other)
            )));
        }
    })
}

fn set_tag(
    store: &dyn TrackingStore,
    owner: &TagOwner,
    key: &str,
    value: &str,
) -> Result<(), ApiError> {
    match owner {
        TagOwner::Run(id) => store.log_batch(
            id,
            &Batch {
                tags: vec![(key.to_string(), value.to_string())],
                ..Batch::default()
            },
        )?,
        TagOwner::Experiment(id) => store.set_experiment_tag(id, key, value)?,
        TagOwner::Model(name) => store.set_registered_model_tag(name, key, value)?,
        TagOwner::Version(name, v) => store.set_model_version_tag(name, *v, key, value)?,
    }
    Ok(())
}

/// Do one edit; returns what was done, for the page to show.
fn apply(store: &dyn TrackingStore, b: &EditBody) -> Result<String, ApiError> {
    let owner = owner(b)?;
    let act = b.action.as_str();
    match (act, &owner) {
        ("set_tag", _) => {
            let key = field(&b.key, "key", act)?;
            set_tag(store, &owner, key, field(&b.value, "value", act)?)?;
            Ok(format!("tag '{key}' set"))
        }
        ("delete_tag", _) => {
            let key = field(&b.key, "key", act)?;
            store.delete_tag(&owner, key)?;
            Ok(format!("tag '{key}' deleted"))
        }
        ("describe", TagOwner::Run(_) | TagOwner::Experiment(_)) => {
            set_tag(store, &owner, NOTE, field(&b.value, "value", act)?)?;
            Ok("description saved".into())
        }
        ("describe", TagOwner::Model(name)) => {
            store.set_registered_model_description(name, field(&b.value, "value", act)?)?;
            Ok("description saved".into())
        }
        ("describe", TagOwner::Version(name, v)) => {
            store.set_model_version_description(name, *v, field(&b.value, "value", act)?)?;
            Ok("description saved".into())
        }
        ("rename", TagOwner::Run(_)) => {
            let name = field(&b.value, "value", act)?.trim();
            if name.is_empty() {
                return Err(bad("rename: the new name is empty"));
            }
            set_tag(store, &owner, "mlflow.runName", name)?;
            Ok(format!("renamed to '{name}'"))
        }
        ("delete", TagOwner::Run(id)) => {
            store.delete_run(id)?;
            Ok("run deleted".into())
        }
        ("restore", TagOwner::Run(id)) => {
            store.restore_run(id)?;
            Ok("run restored".into())
        }
        _ => Err(bad(format!(
            "action: '{}' cannot be done on a {} (set_tag, delete_tag, describe; rename, delete, restore on runs)",
            crate::redact::brief(act),
            b.target
        ))),
    }
}

pub(super) async fn edit(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: EditRequest,
) -> Response {
    if let Err(r) = check_admin(&st, &headers) {
        return *r;
    }
    let axum::Json(body) = match body {
        Ok(b) => b,
        Err(e) => return ApiError(e.status(), e.body_text()).into_response(),
    };
    with_store(&st, move |store| {
        let done = apply(store, &body)?;
        Ok(axum::Json(json!({"done": done})))
    })
    .await
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> EditBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn targets_and_actions_are_checked_before_the_store() {
        assert_eq!(
            owner(&body(
                r#"{"target":"version","id":"m","version":2,"action":"set_tag"}"#
            ))
            .ok(),
            Some(TagOwner::Version("m".into(), 2))
        );
        let e = owner(&body(r#"{"target":"version","id":"m","action":"set_tag"}"#))
            .err()
            .unwrap();
        assert_eq!(e.1, "target 'version' needs 'version'");
        let e = owner(&body(r#"{"target":"user","id":"m","action":"set_tag"}"#))
            .err()
            .unwrap();
        assert_eq!(
            e.1,
            "target: 'user' is not one of run, experiment, model, version"
        );
        assert!(
            serde_json::from_str::<EditBody>(
                r#"{"target":"run","id":"r","action":"delete","x":1}"#
            )
            .is_err()
        );
    }
}
