//! `mlx serve`: MLflow's scoring protocol (`/ping`, `/health`, `/version`, `/invocations`) and the original
//! app's endpoints (`/predict`, `/update_model`, `/rollback`, `/model`), plus `/metrics`. The served model
//! lives behind an `ArcSwap`: a swap (retrain, rollback, an alias moved elsewhere) is one atomic store, so
//! requests never wait and never fail during it.

mod fast_json;
mod metrics;
pub mod protocol;
mod python;

use crate::ml::loaded::{Answer, LoadedModel};
use crate::ops::retrain;
use crate::store::{ModelUri, TrackingStore};
use crate::web::{access, net};
use arc_swap::ArcSwap;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::{ProtocolError, python_json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What `mlx serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub tracking_uri: String,
    pub model: String,
    pub challenger: Option<String>,
    /// Share of requests answered by the challenger.
    pub split: f64,
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub token: Option<access::Token>,
    pub allow_unauthenticated_admin: bool,
    /// `Host` names besides loopback and the bound address (`--allowed-hosts`).
    pub allowed_hosts: Vec<String>,
    pub limits: net::Limits,
    pub max_body_bytes: usize,
    /// Request bodies being read, parsed and predicted at once, in bytes; more is answered 503.
    pub max_inflight_bytes: usize,
    pub timeout: Duration,
    pub poll_interval: Duration,
    /// Where MLproject.toml is, for /update_model.
    pub project_dir: PathBuf,
    /// Folders besides the project folder that a retrain may read its data from.
    pub data_dirs: Vec<PathBuf>,
    /// URL prefixes a retrain may download its data from (`--data-url`).
    pub data_urls: Vec<String>,
    /// How long /update_model may train.
    pub retrain_timeout: Duration,
    /// Python workers for models mlx cannot read natively (`--python`); `None`: such models are refused.
    pub python: Option<crate::ml::pyworker::PoolOptions>,
}

/// A loaded model and where it came from.
pub struct Served {
    pub model: Arc<LoadedModel>,
    pub uri: String,
    pub name: Option<String>,
    pub version: Option<u64>,
    pub run_id: Option<String>,
}

impl Served {
    fn version_label(&self) -> String {
        match (&self.name, self.version) {
            (Some(n), Some(v)) => format!("{n}/{v}"),
            _ => self.run_id.clone().unwrap_or_else(|| self.uri.clone()),
        }
    }
}

/// Load the model a URI names, with its registry coordinates when it has them.
pub fn load(
    store: &dyn TrackingStore,
    uri: &str,
    python: Option<&crate::ml::pyworker::PoolOptions>,
) -> anyhow::Result<Served> {
    use anyhow::Context;
    let parsed = ModelUri::parse(uri).with_context(|| format!("cannot find model {uri}"))?;
    let dir = store
        .resolve_model(&parsed)
        .with_context(|| format!("cannot find model {uri}"))?;
    let model =
        LoadedModel::load_with(&dir, python).with_context(|| format!("cannot load model {uri}"))?;
    let (name, version, run_id) = match &parsed {
        ModelUri::Version(v) => {
            let v = store.resolve_model_version(v)?;
            (Some(v.name), Some(v.version), v.run_id)
        }
        ModelUri::Run { run_id, .. } => (None, None, Some(run_id.clone())),
        _ => (None, None, None),
    };
    Ok(Served {
        model: Arc::new(model),
        uri: uri.to_string(),
        name,
        version,
        run_id,
    })
}

struct AppState {
    champion: ArcSwap<Served>,
    challenger: Option<ArcSwap<Served>>,
    opts: ServeOptions,
    access: Arc<access::Access>,
    counter: AtomicU64,
    metrics: metrics::Metrics,
    /// One retrain at a time.
    updating: Arc<tokio::sync::Mutex<()>>,
    /// The in-flight body budget, in KiB.
    inflight: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    fn store(&self) -> anyhow::Result<Box<dyn TrackingStore>> {
        Ok(crate::settings::open_store(&self.opts.tracking_uri)?)
    }

    /// Champion or challenger for this request: an exact share of `split`, spread evenly.
    fn pick(&self) -> (&'static str, Arc<Served>) {
        if let Some(ch) = &self.challenger {
            let n = self.counter.fetch_add(1, Ordering::Relaxed) as f64;
            if ((n + 1.0) * self.opts.split).floor() > (n * self.opts.split).floor() {
                return ("challenger", ch.load_full());
            }
        }
        ("champion", self.champion.load_full())
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn protocol_error(e: &ProtocolError) -> Response {
    json_response(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        e.body(),
    )
}

fn text_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn detail(status: StatusCode, text: &str) -> Response {
    json_response(status, format!("{{\"detail\":\"{text}\"}}"))
}

async fn ping() -> Response {
    json_response(StatusCode::OK, "\n".into())
}

async fn version() -> Response {
    json_response(StatusCode::OK, env!("CARGO_PKG_VERSION").into())
}

async fn method_not_allowed() -> Response {
    let mut r = detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

/// A request body read into one buffer of its announced size (no doubling while it grows), with its share
/// of the in-flight budget, which the caller holds until the answer is built.
struct BodyInBudget {
    bytes: Vec<u8>,
    share: Option<tokio::sync::OwnedSemaphorePermit>,
}

async fn read_body(
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
    // Parsing and predicting hold a few times the body; the budget counts bodies (a chunked one as the
    // largest allowed), so many big requests at once get a 503 instead of the machine's memory.
    let kib = announced.unwrap_or(limit).div_ceil(1024) as u32;
    let share = if kib == 0 {
        None
    } else {
        match state.inflight.clone().try_acquire_many_owned(kib) {
            Ok(p) => Some(p),
            Err(_) => {
                let mut r = text_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too much request data in flight; retry later".into(),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return Err(refuse(body, r).await);
            }
        }
    };
    // A body trickled in holds its budget share: it gets the longer of the request timeout and the header
    // timeout to arrive (408 after it). Not the request timeout alone: a sub-second --timeout bounds the
    // prediction, and must not refuse a big body that is still on its way over a fast link.
    let read = async move {
        let mut bytes = Vec::with_capacity(announced.unwrap_or(0));
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| text_response(StatusCode::BAD_REQUEST, e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > limit {
                    return Err(refuse(body, too_large()).await);
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(bytes)
    };
    let arrival = state.opts.timeout.max(state.opts.limits.header_timeout);
    match tokio::time::timeout(arrival, read).await {
        Ok(bytes) => Ok(BodyInBudget {
            bytes: bytes?,
            share,
        }),
        Err(_) => Err(text_response(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive within --timeout (or --header-timeout, if longer)"
                .into(),
        )),
    }
}

/// Predict a table off the async threads, within the request timeout.
async fn run_prediction(
    state: &Arc<AppState>,
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
    match tokio::time::timeout(state.opts.timeout, task).await {
        Err(_) => Err(text_response(
            StatusCode::GATEWAY_TIMEOUT,
            "Request processing time exceeded limit".into(),
        )),
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

/// Predict and answer `{"<key>": [...]}` with the variant headers, counting the rows.
async fn respond(
    state: &Arc<AppState>,
    variant: &'static str,
    served: Arc<Served>,
    table: crate::ml::data::Table,
    body: BodyInBudget,
    key: &str,
    answer: Answer,
) -> Response {
    // The parsed table replaces the body; the budget share stays until the answer is built.
    let share = body.share;
    drop(body.bytes);
    let rows = table.n_rows;
    match run_prediction(state, served.clone(), table, answer).await {
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

fn variant_headers(r: &mut Response, variant: &str, served: &Served) {
    if let Ok(v) = HeaderValue::from_str(variant) {
        r.headers_mut().insert("x-mlx-variant", v);
    }
    if let Ok(v) = HeaderValue::from_str(&served.version_label()) {
        r.headers_mut().insert("x-mlx-model-version", v);
    }
}

async fn invocations(
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
    let body = match read_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (variant, served) = state.pick();
    if matches!(served.model.as_ref(), LoadedModel::Python { .. }) {
        return match python::parse(&body.bytes, mime == "text/csv", &served.model) {
            Ok(req) => python::respond(&state, variant, served, req, body, "predictions").await,
            Err(e) => protocol_error(&e),
        };
    }
    let inputs = served.model.inputs();
    let table = match mime.as_str() {
        "application/json" => {
            protocol::parse_json(&body.bytes).and_then(|c| protocol::to_table(c, inputs))
        }
        _ => protocol::parse_csv(&body.bytes, inputs),
    };
    let table = match table {
        Ok(t) => t,
        Err(e) => return protocol_error(&e),
    };
    // `params: {"predict_proba": true}` (the params schema of mlx's models) asks for probabilities; a model
    // logged with `pyfunc_predict_fn="predict_proba"` gives them by default, as MLflow's server does.
    let answer = if protocol::wants_proba(&body.bytes) {
        Answer::ProbaRecords
    } else if served.model.proba_by_default() {
        Answer::ProbaLists
    } else {
        Answer::Labels
    };
    respond(&state, variant, served, table, body, "predictions", answer).await
}

/// The original app's `/predict`: a list of records, a dict of columns, or one record, parsed once.
async fn predict_app(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(&state, &parts.headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (variant, served) = state.pick();
    if matches!(served.model.as_ref(), LoadedModel::Python { .. }) {
        return match protocol::parse_predict(&body.bytes) {
            Ok(columns) => {
                let (columns, values) = columns.into_iter().unzip();
                let mut req = crate::ml::pyworker::Request {
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
    let table = protocol::parse_predict(&body.bytes)
        .and_then(|c| protocol::to_table(c, served.model.inputs()).map_err(|e| e.message));
    let table = match table {
        Ok(t) => t,
        Err(message) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                python_json(&serde_json::json!({"error": message})),
            );
        }
    };
    respond(
        &state,
        variant,
        served,
        table,
        body,
        "prediction",
        Answer::Labels,
    )
    .await
}

fn describe(served: &Served) -> serde_json::Value {
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

async fn model_info(State(state): State<Arc<AppState>>) -> Response {
    let mut doc = describe(&state.champion.load());
    if let Some(ch) = &state.challenger {
        doc["challenger"] = describe(&ch.load());
        doc["challenger_split"] = serde_json::json!(state.opts.split);
    }
    json_response(StatusCode::OK, python_json(&doc))
}

async fn metrics_endpoint(State(state): State<Arc<AppState>>) -> Response {
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

/// Re-point the champion at a model URI (after a retrain or a rollback).
fn swap_to(state: &AppState, uri: &str) -> anyhow::Result<()> {
    let store = state.store()?;
    let served = load(store.as_ref(), uri, state.opts.python.as_ref())?;
    eprintln!(
        "mlx serve: now serving {} ({})",
        served.uri,
        served.version_label()
    );
    state.champion.store(Arc::new(served));
    Ok(())
}

#[derive(serde::Deserialize, Default)]
struct RollbackBody {
    to: Option<u64>,
    alias: Option<String>,
}

async fn rollback(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
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
async fn update_model(
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
            let status = if e.downcast_ref::<retrain::ParamError>().is_some()
                || matches!(
                    e.downcast_ref::<retrain::RetrainError>(),
                    Some(retrain::RetrainError::Param(_))
                ) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else if matches!(
                e.downcast_ref::<retrain::RetrainError>(),
                Some(retrain::RetrainError::Timeout(_))
            ) {
                StatusCode::GATEWAY_TIMEOUT
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            eprintln!("mlx serve: retrain failed: {e:#}");
            admin_error(status, format!("{e:#}"))
        }
        Err(e) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn retrain(
    state: &AppState,
    busy: tokio::sync::OwnedMutexGuard<()>,
    data: Option<String>,
) -> anyhow::Result<serde_json::Value> {
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

/// Follow aliases (and `latest`) moved by other processes: reload and swap when they point elsewhere.
async fn follow_aliases(state: Arc<AppState>) {
    // Versions that failed to load, not tried again (a Python model would start its workers each poll).
    let failed = Arc::new(std::sync::Mutex::new(std::collections::HashSet::<(
        String,
        u64,
    )>::new()));
    loop {
        tokio::time::sleep(state.opts.poll_interval).await;
        let st = state.clone();
        let failed = failed.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let Ok(store) = st.store() else { return };
            let variants = std::iter::once(&st.champion).chain(st.challenger.iter());
            for slot in variants {
                let current = slot.load_full();
                // Aliases and `latest` move; a version number or a run does not.
                let Ok(ModelUri::Version(moving)) = ModelUri::parse(&current.uri) else {
                    continue;
                };
                if matches!(moving.which, crate::store::Which::Number(_)) {
                    continue;
                }
                let Ok(v) = store.resolve_model_version(&moving) else {
                    continue;
                };
                if Some(v.version) == current.version {
                    continue;
                }
                let key = (current.uri.clone(), v.version);
                if failed.lock().expect("failed lock").contains(&key) {
                    continue;
                }
                match load(store.as_ref(), &current.uri, st.opts.python.as_ref()) {
                    Ok(served) => {
                        eprintln!(
                            "mlx serve: {} moved from v{} to v{}; swapped",
                            current.uri,
                            current.version.unwrap_or(0),
                            v.version
                        );
                        slot.store(Arc::new(served));
                    }
                    Err(e) => {
                        eprintln!(
                            "mlx serve: {} moved to v{} but it cannot be loaded (still serving v{}): {e:#}",
                            current.uri,
                            v.version,
                            current.version.unwrap_or(0)
                        );
                        failed.lock().expect("failed lock").insert(key);
                    }
                }
            }
        })
        .await;
    }
}

async fn record_metrics(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    const KNOWN: [&str; 9] = [
        "/ping",
        "/health",
        "/version",
        "/invocations",
        "/predict",
        "/update_model",
        "/rollback",
        "/model",
        "/metrics",
    ];
    let label: &'static str = KNOWN
        .iter()
        .find(|k| **k == request.uri().path())
        .copied()
        .unwrap_or("other");
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe(
        label,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Serve until SIGINT/SIGTERM. Prints `listening on http://HOST:PORT` on stderr once ready.
pub fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    let store = crate::settings::open_store(&opts.tracking_uri)?;
    let champion = load(store.as_ref(), &opts.model, opts.python.as_ref())?;
    let challenger = match &opts.challenger {
        Some(uri) => Some(ArcSwap::from_pointee(load(
            store.as_ref(),
            uri,
            opts.python.as_ref(),
        )?)),
        None => None,
    };
    eprintln!(
        "mlx serve: serving {} ({})",
        champion.uri,
        champion.version_label()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.workers.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((opts.host.as_str(), opts.port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", opts.host, opts.port))?;
        let addr = listener.local_addr()?;
        let access = Arc::new(access::Access {
            token: opts.token.clone(),
            allow_unauthenticated_admin: opts.allow_unauthenticated_admin,
            hosts: access::AllowedHosts::new(&opts.host, addr.ip(), &opts.allowed_hosts),
            disabled: "admin endpoints are disabled: start mlx serve with --token, --token-file (or MLX_SERVE_TOKEN), or --allow-unauthenticated-admin",
        });
        let state = Arc::new(AppState {
            champion: ArcSwap::from_pointee(champion),
            challenger,
            counter: AtomicU64::new(0),
            metrics: metrics::Metrics::default(),
            updating: Arc::new(tokio::sync::Mutex::new(())),
            inflight: Arc::new(tokio::sync::Semaphore::new(
                opts.max_inflight_bytes.max(opts.max_body_bytes).div_ceil(1024),
            )),
            access: access.clone(),
            opts: opts.clone(),
        });
        let app = Router::new()
            .route("/ping", get(ping))
            .route("/health", get(ping))
            .route("/version", get(version))
            .route(
                "/invocations",
                post(invocations).fallback(method_not_allowed),
            )
            .route("/predict", post(predict_app).fallback(method_not_allowed))
            .route(
                "/update_model",
                post(update_model).fallback(method_not_allowed),
            )
            .route("/rollback", post(rollback).fallback(method_not_allowed))
            .route("/model", get(model_info))
            .route("/metrics", get(metrics_endpoint))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                record_metrics,
            ))
            .layer(DefaultBodyLimit::max(opts.max_body_bytes))
            .with_state(state.clone())
            .layer(axum::middleware::from_fn_with_state(
                access,
                access::check_request,
            ));
        eprintln!("mlx serve: listening on http://{addr}");
        tokio::spawn(follow_aliases(state.clone()));
        crate::web::net::serve(listener, app, opts.limits, crate::web::shutdown_signal("mlx serve")).await?;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}

/// What to serve without `--model`: the project's registered model at Champion, else the latest finished run
/// with a model (the original app's behaviour).
pub fn default_model(
    store: &dyn TrackingStore,
    project_dir: &std::path::Path,
    experiment: Option<&str>,
) -> anyhow::Result<String> {
    use anyhow::Context;
    let project = crate::project::Project::load(project_dir).ok();
    if let Some(name) = project.as_ref().and_then(|p| p.name.clone())
        && let Ok(m) = store.get_registered_model(&name)
        && m.aliases.contains_key("Champion")
    {
        return Ok(format!("models:/{name}@Champion"));
    }
    // The alias commands' rule: when the store holds exactly one registered model, it is the one meant; its
    // Champion (the model the team promoted) wins over whatever run happens to be newest.
    if let [only] = store.list_registered_models()?.as_slice()
        && let Ok(m) = store.get_registered_model(&only.name)
        && m.aliases.contains_key("Champion")
    {
        return Ok(format!("models:/{}@Champion", m.name));
    }
    let ids: Vec<String> = match experiment
        .map(str::to_string)
        .or_else(|| project.and_then(|p| p.name))
    {
        Some(e) => match crate::store::resolve_experiment(store, &e) {
            Ok(exp) => vec![exp.experiment_id],
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    let ids = if ids.is_empty() {
        store
            .list_experiments(crate::store::entities::ViewType::ActiveOnly)?
            .into_iter()
            .map(|e| e.experiment_id)
            .collect()
    } else {
        ids
    };
    use crate::store::entities::{Run, RunStatus, ViewType};
    let with_model = |r: &Run| r.info.status == RunStatus::Finished && !r.outputs.is_empty();
    let finished = crate::search::Query::parse(Some("attributes.status = 'FINISHED'"), &[])
        .expect("a valid filter");
    // A tracking server: its finished runs newest first, a page at a time, until one has a model
    // (not every run of a 100,000-run experiment).
    let found = if let Some(pages) = finished.pages(store, &ids, ViewType::ActiveOnly, 50)? {
        let mut found = None;
        for page in pages {
            if let Some(run) = page?.into_iter().find(with_model) {
                found = Some(run);
                break;
            }
        }
        found
    } else {
        let projection = crate::store::Projection {
            metrics: crate::store::Fields::Nothing,
            params: crate::store::Fields::Nothing,
            tags: crate::store::Fields::Nothing,
            io: true,
        };
        let runs = store.list_runs(&ids, ViewType::ActiveOnly, &projection)?;
        runs.into_iter().find(with_model)
    };
    found
        .map(|r| format!("runs:/{}/model", r.info.run_id))
        .context("nothing to serve: no --model, no registered project model with a Champion alias, and no finished run with a model")
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<AppState>();
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        protocol_error(&self)
    }
}
