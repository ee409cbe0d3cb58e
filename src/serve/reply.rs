//! The answers `mlx serve`'s handlers build: JSON or plain text with a status, MLflow's `{"detail": ...}`,
//! and a [`ProtocolError`] as MLflow's server answers it.

use super::Served;
use super::protocol::ProtocolError;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub(super) fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(super) fn protocol_error(e: &ProtocolError) -> Response {
    json_response(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        e.body(),
    )
}

pub(super) fn text_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub(super) fn detail(status: StatusCode, text: &str) -> Response {
    json_response(status, format!("{{\"detail\":\"{text}\"}}"))
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        protocol_error(&self)
    }
}

/// The headers saying which variant and which model version answered (`x-mlx-variant`,
/// `x-mlx-model-version`).
pub(super) fn variant_headers(r: &mut Response, variant: &str, served: &Served) {
    if let Ok(v) = HeaderValue::from_str(variant) {
        r.headers_mut().insert("x-mlx-variant", v);
    }
    if let Ok(v) = HeaderValue::from_str(&served.version_label()) {
        r.headers_mut().insert("x-mlx-model-version", v);
    }
}
