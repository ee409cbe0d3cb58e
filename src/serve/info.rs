//! The read-only endpoints: `/ping` and `/health` (liveness), `/version`, `/model` (what is served, with its
//! signature) and `/metrics` (Prometheus text).

use super::protocol::python_json;
use super::reply::json_response;
use super::{AppState, Served};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use std::sync::Arc;

pub(super) async fn ping() -> Response {
    json_response(StatusCode::OK, "\n".into())
}

pub(super) async fn version() -> Response {
    json_response(StatusCode::OK, env!("CARGO_PKG_VERSION").into())
}

/// What `/model` (and `/rollback`'s answer) says of a served model: where it came from, its estimator, its
/// signature.
pub(super) fn describe(served: &Served) -> serde_json::Value {
    let (inputs, outputs) = served.model.signature();
    serde_json::json!({
        "uri": served.uri,
        "name": served.name,
        "version": served.version,
        "run_id": served.run_id,
        "estimator": served.model.estimator_name(),
        "model": served.model.describe(),
        "signature": {
            "inputs": serde_json::from_str::<serde_json::Value>(&inputs).unwrap_or_default(),
            "outputs": serde_json::from_str::<serde_json::Value>(&outputs).unwrap_or_default(),
        },
    })
}

pub(super) async fn model_info(State(state): State<Arc<AppState>>) -> Response {
    let mut doc = describe(&state.champion.load());
    if let Some(ch) = &state.challenger {
        doc["challenger"] = describe(&ch.load());
        doc["challenger_split"] = serde_json::json!(state.opts.split);
    }
    json_response(StatusCode::OK, python_json(&doc))
}

pub(super) async fn metrics_endpoint(State(state): State<Arc<AppState>>) -> Response {
    let label = |s: &Served| {
        (
            s.name.clone().unwrap_or_else(|| s.uri.clone()),
            s.version
                .map(|v| v.to_string())
                .unwrap_or_else(|| s.run_id.clone().unwrap_or_default()),
        )
    };
    let mut models = vec![];
    let c = state.champion.load();
    let (n, v) = label(&c);
    models.push(("champion", n, v));
    if let Some(ch) = &state.challenger {
        let (n, v) = label(&ch.load());
        models.push(("challenger", n, v));
    }
    let mut r = Response::new(Body::from(state.metrics.render(&models)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}
