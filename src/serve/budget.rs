//! Reading a request body for scoring: refused over `--max-body-bytes` (413), charged to the in-flight budget
//! as it arrives (503 when the budget is spent), and a refused body drained so the client gets the answer.

use super::AppState;
use super::reply::text_response;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

/// A request body read into one buffer of its announced size (no doubling while it grows), with its share
/// of the in-flight budget, which the caller holds until the answer is built.
pub(super) struct BodyInBudget {
    pub(super) bytes: Vec<u8>,
    pub(super) share: Option<tokio::sync::OwnedSemaphorePermit>,
}

pub(super) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<BodyInBudget, Response> {
    use http_body_util::BodyExt;
    let limit = state.opts.max_body_bytes;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        text_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "length limit exceeded".into(),
        )
    };
    // A refused body is read and thrown away (up to the limit, costing no memory), so the client gets the
    // answer rather than a reset connection.
    let refuse = |body: Body, answer: Response| async move {
        let mut body = body;
        let mut seen = 0usize;
        while seen <= limit
            && let Some(Ok(frame)) = body.frame().await
        {
            seen += frame.data_ref().map_or(0, |d| d.len());
        }
        answer
    };
    if announced.is_some_and(|n| n > limit) {
        return Err(refuse(body, too_large()).await);
    }
    // Parsing and predicting hold a few times the body; the budget counts bodies, so many big requests at
    // once get a 503 instead of the machine's memory. An announced body takes its whole share at once; a
    // chunked one takes its share as its bytes arrive, so a few trickled ones cannot take the whole budget
    // (and every body is cut off at its read deadline, see `web::body`).
    let busy = || {
        let mut r = text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "too much request data in flight; retry later".into(),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    };
    let mut share: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let mut grow = |kib: usize| -> bool {
        let held = share.as_ref().map_or(0, |p| p.num_permits());
        if kib <= held {
            return true;
        }
        match state
            .inflight
            .clone()
            .try_acquire_many_owned((kib - held) as u32)
        {
            Ok(more) => {
                match share.as_mut() {
                    Some(p) => p.merge(more),
                    None => share = Some(more),
                }
                true
            }
            Err(_) => false,
        }
    };
    if let Some(n) = announced
        && !grow(n.div_ceil(1024))
    {
        return Err(refuse(body, busy()).await);
    }
    let mut bytes = Vec::with_capacity(announced.unwrap_or(0));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| text_response(StatusCode::BAD_REQUEST, e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(refuse(body, too_large()).await);
            }
            if !grow((bytes.len() + data.len()).div_ceil(1024)) {
                return Err(refuse(body, busy()).await);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(BodyInBudget { bytes, share })
}
