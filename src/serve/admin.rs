//! The admin endpoints, behind a JSON body and the admin token: `/update_model` (retrain what is served
//! through `ops::retrain`, then swap the new model in) and `/rollback` (move the alias back and swap). A
//! failed retrain is a typed [`RetrainError`], answered with its status by one `match` ([`retrain_status`]).

use super::follow::swap_to;
use super::info::describe;
use super::protocol::python_json;
use super::reply::json_response;
use super::{AppState, access};
use crate::ml::data::fetch::FetchError;
use crate::ops::retrain::{self, RetrainError};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;

/// Admin endpoints: a JSON body, and the bearer token or explicit permission to run without one.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    access::require_json(headers)?;
    state.access.check_admin(headers)
}

fn admin_error(status: StatusCode, message: String) -> Response {
    json_response(
        status,
        python_json(&serde_json::json!({"error_code": "INVALID_STATE", "message": message})),
    )
}

#[derive(serde::Deserialize, Default)]
struct RollbackBody {
    to: Option<u64>,
    alias: Option<String>,
}

pub(super) async fn rollback(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return *r;
    }
    let req: RollbackBody = if body.is_empty() {
        RollbackBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return admin_error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")),
        }
    };
    let current = state.champion.load_full();
    let Some(name) = current.name.clone() else {
        return admin_error(
            StatusCode::CONFLICT,
            format!("the served model {} is not a registered model", current.uri),
        );
    };
    let alias = req
        .alias
        .or_else(|| current.uri.split_once('@').map(|(_, a)| a.to_string()))
        .unwrap_or_else(|| "Champion".into());
    let st = state.clone();
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<(Option<u64>, u64)> {
        let store = st.store()?;
        let (from, to) = crate::ops::registry::rollback(store.as_ref(), &name, &alias, req.to)?;
        let uri = if current.uri.contains('@') {
            current.uri.clone()
        } else {
            format!("models:/{name}/{to}")
        };
        swap_to(&st, &uri)?;
        Ok((from, to))
    })
    .await;
    match result {
        Ok(Ok((from, to))) => {
            let served = state.champion.load();
            json_response(
                StatusCode::OK,
                python_json(&serde_json::json!({
                "from_version": from, "to_version": to, "model": describe(&served)})),
            )
        }
        Ok(Err(e)) => admin_error(StatusCode::CONFLICT, format!("{e:#}")),
        Err(e) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Retrain with the project's `main` entry point (or from the served run's recorded params, see `retrain`),
/// register the new model, point the alias (if serving by one) at it, and swap it in.
pub(super) async fn update_model(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return *r;
    }
    // An empty body, `{}`, or `{"data": "<path or URL>"}` to retrain on other data.
    #[derive(serde::Deserialize, Default)]
    struct Options {
        data: Option<String>,
    }
    let options: Options = if body.iter().all(u8::is_ascii_whitespace) {
        Options::default()
    } else {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(o)) => match o.get("data") {
                None => Options::default(),
                Some(serde_json::Value::String(d)) => Options {
                    data: Some(d.clone()),
                },
                Some(other) => {
                    return admin_error(
                        StatusCode::BAD_REQUEST,
                        format!("\"data\" must be a path or URL string, not {other}"),
                    );
                }
            },
            Ok(_) => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    "the body must be a JSON object such as {\"data\": \"new.csv\"}".into(),
                );
            }
            Err(e) => return admin_error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")),
        }
    };
    let Ok(busy) = state.updating.clone().try_lock_owned() else {
        return admin_error(StatusCode::CONFLICT, "a retrain is already running".into());
    };
    let st = state.clone();
    let result = tokio::task::spawn_blocking(move || retrain(&st, busy, options.data)).await;
    match result {
        Ok(Ok(doc)) => json_response(StatusCode::OK, python_json(&doc)),
        Ok(Err(e)) => {
            eprintln!("mlx serve: retrain failed: {e:#}");
            // A failed training's reason may quote the data: logged above, not sent.
            admin_error(retrain_status(&e), e.answer())
        }
        Err(e) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The status a failed retrain is answered with: 422 for what the request or the served run's params
/// cannot do (nothing ran, or the download was refused), 504 after `--retrain-timeout`, else 500.
fn retrain_status(e: &RetrainError) -> StatusCode {
    match e {
        RetrainError::Param(_) | RetrainError::Download(FetchError::Refused { .. }) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        RetrainError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        RetrainError::Download(_) | RetrainError::Training(_) | RetrainError::Other(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn retrain(
    state: &AppState,
    busy: tokio::sync::OwnedMutexGuard<()>,
    data: Option<String>,
) -> Result<serde_json::Value, RetrainError> {
    let current = state.champion.load_full();
    let store = state.store()?;
    let served = retrain::Served {
        uri: &current.uri,
        name: current.name.as_deref(),
        run_id: current.run_id.as_deref(),
        model: current.model.as_mlx(),
    };
    let setup = retrain::Setup {
        project_dir: &state.opts.project_dir,
        data_dirs: &state.opts.data_dirs,
        data_urls: &state.opts.data_urls,
        tracking_uri: &state.opts.tracking_uri,
        timeout: state.opts.retrain_timeout,
    };
    let notes = |n: &str| eprintln!("mlx serve: {n}");
    // The lock is held until the new model is swapped in (or, after a timeout, until training ends).
    let (report, _busy) = retrain::retrain(store.as_ref(), &served, &setup, data, busy, &notes)?;
    swap_to(state, &report.model_uri)?;
    Ok(serde_json::json!({
        "run_id": report.run_id, "version": report.version, "model_uri": report.model_uri,
        "metrics": report.metrics,
    }))
}
