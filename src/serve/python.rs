//! Scoring requests for a model run by Python workers ([`crate::ml::PyRequest`]): the request is parsed by
//! mlx (MLflow's shapes, CSV) into columns of JSON values, queued to the model's pool (which merges
//! requests arriving together into one `predict`), and the model's own JSON answer comes back as
//! `{"predictions": ...}`. Nothing in the request chooses what runs: the pool was started by the operator.

use super::budget::BodyInBudget;
use super::protocol::{self, ProtocolError, python_json};
use super::reply::{json_response, protocol_error, text_response, variant_headers};
use super::{AppState, Served};
use crate::ml::{LoadedModel, PyError, PyRequest, python_request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// The request as columns for the workers, with its `params`.
pub(super) fn parse(
    body: &[u8],
    csv: bool,
    model: &LoadedModel,
) -> Result<PyRequest, ProtocolError> {
    if csv {
        let table = protocol::parse_csv(body, model.inputs())?;
        let mut req = python_request(&table, None);
        typed(&mut req, model);
        return Ok(req);
    }
    let columns = protocol::parse_json(body)?;
    let rows = columns.first().map_or(0, |(_, v)| v.len());
    if columns.iter().any(|(_, v)| v.len() != rows) {
        return Err(ProtocolError::bad_request(
            "Invalid input. All columns must have the same length.",
        ));
    }
    let (names, values) = columns.into_iter().unzip();
    let mut req = PyRequest {
        columns: names,
        values,
        params: params(body),
    };
    typed(&mut req, model);
    Ok(req)
}

/// Numbers written as the signature's column types (`1` for a double column goes as `1.0`, `2.0` for a
/// long one as `2`), so pandas builds the dtypes MLflow's schema enforcement expects, as MLflow's server
/// does when it parses a request with the model's schema.
pub(super) fn typed(req: &mut PyRequest, model: &LoadedModel) {
    for input in model.inputs() {
        let Some(j) = req.columns.iter().position(|c| *c == input.name) else {
            continue;
        };
        let float = matches!(input.kind.as_str(), "double" | "float");
        let int = matches!(input.kind.as_str(), "long" | "integer");
        for v in &mut req.values[j] {
            if let Value::Number(n) = v {
                if float && !n.is_f64() {
                    *v = n.as_f64().map_or(Value::Null, Value::from);
                } else if int && let Some(x) = n.as_f64().filter(|x| n.is_f64() && x.fract() == 0.0)
                {
                    *v = Value::from(x as i64);
                }
            }
        }
    }
}

/// The body's `params` object, when it has one (only bodies mentioning the key are parsed again).
fn params(body: &[u8]) -> Option<Value> {
    const KEY: &[u8] = b"\"params\"";
    if !body.windows(KEY.len()).any(|w| w == KEY) {
        return None;
    }
    serde_json::from_slice::<Value>(body)
        .ok()?
        .get_mut("params")
        .map(Value::take)
        .filter(|p| !p.is_null())
}

/// The answer for a failed Python prediction.
fn failure(e: PyError) -> Response {
    match e {
        PyError::Model(message) => protocol_error(&ProtocolError {
            status: 500,
            error_code: "INTERNAL_ERROR",
            message,
            sqlstate: "XX000",
            error_class: "INTERNAL_ERROR",
        }),
        PyError::Timeout(_) => text_response(
            StatusCode::GATEWAY_TIMEOUT,
            "Request processing time exceeded limit".into(),
        ),
        PyError::Full | PyError::Closed => {
            let mut r = text_response(StatusCode::SERVICE_UNAVAILABLE, format!("{e}; retry later"));
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        other => protocol_error(&ProtocolError {
            status: 500,
            error_code: "INTERNAL_ERROR",
            message: other.to_string(),
            sqlstate: "XX000",
            error_class: "INTERNAL_ERROR",
        }),
    }
}

/// Queue the request to the served model's workers and answer `{"<key>": predictions}`.
pub(super) async fn respond(
    state: &Arc<AppState>,
    variant: &'static str,
    served: Arc<Served>,
    req: PyRequest,
    body: BodyInBudget,
    key: &str,
) -> Response {
    let LoadedModel::Python { pool, .. } = served.model.as_ref() else {
        unreachable!("called for Python models only")
    };
    let share = body.share;
    drop(body.bytes);
    let rows = req.rows();
    let (tx, rx) = tokio::sync::oneshot::channel();
    if let Err(e) = pool.submit(
        req,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    ) {
        return failure(e);
    }
    let answer = rx.await.unwrap_or(Err(PyError::Closed));
    drop(share);
    match answer {
        Ok(predictions) => {
            state.metrics.predicted(variant, rows);
            let mut doc = serde_json::Map::new();
            doc.insert(key.to_string(), predictions);
            let mut r = json_response(StatusCode::OK, python_json(&doc));
            variant_headers(&mut r, variant, &served);
            r
        }
        Err(e) => failure(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_taken_from_the_body() {
        assert_eq!(params(br#"{"inputs": [1]}"#), None);
        assert_eq!(
            params(br#"{"inputs": [1], "params": {"k": 2}}"#),
            Some(serde_json::json!({"k": 2}))
        );
        assert_eq!(params(br#"{"inputs": [1], "params": null}"#), None);
    }
}
