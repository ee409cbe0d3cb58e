//! The scoring endpoints: MLflow's `/invocations` (JSON or CSV) and the original app's `/predict`. A body is
//! read within its budget (`budget`), parsed (off the runtime when large) and predicted (off the runtime when
//! large) within `--timeout`, and answered with the variant that answered it (champion or challenger).

use super::budget::{BodyInBudget, read_body};
use super::protocol::{self, ProtocolError, python_json};
use super::reply::{json_response, protocol_error, text_response, variant_headers};
use super::{AppState, Served, python};
use crate::ml::{Answer, LoadedModel};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use std::sync::Arc;

fn over_time() -> Response {
    text_response(
        StatusCode::GATEWAY_TIMEOUT,
        "Request processing time exceeded limit".into(),
    )
}

/// Bodies up to this size are parsed in place (well under a millisecond); larger ones on the blocking pool.
const PARSE_IN_PLACE: usize = 64 * 1024;

/// Parse a body off the async threads (so a big one never stalls `/ping`, other requests or the shutdown
/// signal), within the request's deadline: 504 after it.
async fn parse_within<T: Send + 'static>(
    bytes: Vec<u8>,
    deadline: tokio::time::Instant,
    parse: impl FnOnce(&[u8]) -> T + Send + 'static,
) -> Result<T, Response> {
    if bytes.len() <= PARSE_IN_PLACE {
        return Ok(parse(&bytes));
    }
    let task = tokio::task::spawn_blocking(move || parse(&bytes));
    match tokio::time::timeout_at(deadline, task).await {
        Err(_) => Err(over_time()),
        Ok(Err(_)) => Err(protocol_error(&ProtocolError::bad_request(
            "Encountered an unexpected error while parsing the request.",
        ))),
        Ok(Ok(parsed)) => Ok(parsed),
    }
}

/// Predict a table off the async threads, within the request's deadline.
async fn run_prediction(
    deadline: tokio::time::Instant,
    served: Arc<Served>,
    table: crate::ml::data::Table,
    answer: Answer,
) -> Result<Vec<serde_json::Value>, Response> {
    // Batches up to a few thousand rows predict in well under a millisecond (1,000 rows: ~45 µs); in place
    // beats a hop to the blocking pool. Larger ones go there, under the request timeout.
    if table.n_rows <= 4096 {
        return served.model.predict_answer(&table, answer).map_err(|e| {
            protocol_error(&ProtocolError::bad_request(format!(
                "Encountered an unexpected error while evaluating the model. Verify that the serialized input \
                 Dataframe is compatible with the model for inference. Error: '{e}'"
            )))
        });
    }
    let task = tokio::task::spawn_blocking(move || served.model.predict_answer(&table, answer));
    match tokio::time::timeout_at(deadline, task).await {
        Err(_) => Err(over_time()),
        Ok(Err(_)) => Err(protocol_error(&ProtocolError::bad_request(
            "Encountered an unexpected error while evaluating the model.",
        ))),
        Ok(Ok(Err(e))) => Err(protocol_error(&ProtocolError::bad_request(format!(
            "Encountered an unexpected error while evaluating the model. Verify that the serialized input \
             Dataframe is compatible with the model for inference. Error: '{e}'"
        )))),
        Ok(Ok(Ok(values))) => Ok(values),
    }
}

/// What one request predicts: the model, the parsed table and the request's deadline.
struct Job {
    variant: &'static str,
    served: Arc<Served>,
    table: crate::ml::data::Table,
    deadline: tokio::time::Instant,
}

/// Predict and answer `{"<key>": [...]}` with the variant headers, counting the rows. The body's budget
/// share (the parsed table replaced the body) stays until the answer is built.
async fn respond(
    state: &Arc<AppState>,
    job: Job,
    share: Option<tokio::sync::OwnedSemaphorePermit>,
    key: &str,
    answer: Answer,
) -> Response {
    let Job {
        variant,
        served,
        table,
        deadline,
    } = job;
    let rows = table.n_rows;
    match run_prediction(deadline, served.clone(), table, answer).await {
        Ok(values) => {
            state.metrics.predicted(variant, rows);
            let mut body = serde_json::Map::new();
            body.insert(key.to_string(), serde_json::Value::Array(values));
            let mut r = json_response(StatusCode::OK, python_json(&body));
            variant_headers(&mut r, variant, &served);
            drop(share);
            r
        }
        Err(r) => r,
    }
}

pub(super) async fn invocations(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut parts = content_type.split(';');
    let mime = parts.next().unwrap_or("").trim().to_string();
    for p in parts {
        let p = p.trim();
        if let Some(cs) = p.strip_prefix("charset=")
            && !cs.eq_ignore_ascii_case("utf-8")
        {
            return text_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The scoring server only supports UTF-8".into(),
            );
        }
    }
    if mime != "application/json" && mime != "text/csv" {
        return text_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "This predictor only supports the following content types: Types: ['text/csv', 'application/json', 'application/vnd.apache.parquet']. Got '{mime}'."
            ),
        );
    }
    let BodyInBudget { bytes, share } = match read_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let deadline = tokio::time::Instant::now() + state.opts.timeout;
    let (variant, served) = state.pick();
    if matches!(served.model.as_ref(), LoadedModel::Python { .. }) {
        let body = BodyInBudget { bytes, share };
        return match python::parse(&body.bytes, mime == "text/csv", &served.model) {
            Ok(req) => python::respond(&state, variant, served, req, body, "predictions").await,
            Err(e) => protocol_error(&e),
        };
    }
    let model = served.clone();
    let parsed = parse_within(bytes, deadline, move |bytes| {
        let inputs = model.model.inputs();
        let table = match mime.as_str() {
            "application/json" => {
                protocol::parse_json(bytes).and_then(|c| protocol::to_table(c, inputs))
            }
            _ => protocol::parse_csv(bytes, inputs),
        };
        (table, protocol::wants_proba(bytes))
    });
    let (table, proba) = match parsed.await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let table = match table {
        Ok(t) => t,
        Err(e) => return protocol_error(&e),
    };
    // `params: {"predict_proba": true}` (the params schema of mlx's models) asks for probabilities; a model
    // logged with `pyfunc_predict_fn="predict_proba"` gives them by default, as MLflow's server does.
    let answer = if proba {
        Answer::ProbaRecords
    } else if served.model.proba_by_default() {
        Answer::ProbaLists
    } else {
        Answer::Labels
    };
    let job = Job {
        variant,
        served,
        table,
        deadline,
    };
    respond(&state, job, share, "predictions", answer).await
}

/// The original app's `/predict`: a list of records, a dict of columns, or one record, parsed once.
pub(super) async fn predict_app(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let BodyInBudget { bytes, share } = match read_body(&state, &parts.headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let deadline = tokio::time::Instant::now() + state.opts.timeout;
    let (variant, served) = state.pick();
    if matches!(served.model.as_ref(), LoadedModel::Python { .. }) {
        let body = BodyInBudget { bytes, share };
        return match protocol::parse_predict(&body.bytes) {
            Ok(columns) => {
                let (columns, values) = columns.into_iter().unzip();
                let mut req = crate::ml::PyRequest {
                    columns,
                    values,
                    params: None,
                };
                python::typed(&mut req, &served.model);
                python::respond(&state, variant, served, req, body, "prediction").await
            }
            Err(message) => json_response(
                StatusCode::BAD_REQUEST,
                python_json(&serde_json::json!({"error": message})),
            ),
        };
    }
    let model = served.clone();
    let table = match parse_within(bytes, deadline, move |bytes| {
        protocol::parse_predict(bytes)
            .and_then(|c| protocol::to_table(c, model.model.inputs()).map_err(|e| e.message))
    })
    .await
    {
        Ok(t) => t,
        Err(r) => return r,
    };
    let table = match table {
        Ok(t) => t,
        Err(message) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                python_json(&serde_json::json!({"error": message})),
            );
        }
    };
    let job = Job {
        variant,
        served,
        table,
        deadline,
    };
    respond(&state, job, share, "prediction", Answer::Labels).await
}
