//! `mlx ui`: a small web app served from the binary (assets embedded at build time, nothing fetched from a
//! CDN) over a read-only JSON API under `/api/`, plus two token-guarded admin actions (set an alias, roll
//! back) under `/admin/` with the same rule as `mlx serve`'s admin endpoints.

mod edit;

use crate::search::Query;
use crate::store::TrackingStore;
use crate::store::entities::{float_json as float, *};
use crate::web::access::{Access, AllowedHosts, check_request, require_json};
use axum::Router;
use axum::extract::{Path as UrlPath, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const PARALLEL_JS: &str = include_str!("assets/parallel.js");
const CHARTS_JS: &str = include_str!("assets/charts.js");
const THEME_CSS: &str = include_str!("assets/theme.css");
/// Editing (tags, descriptions rendered from Markdown, run name and state), the runs list's extra filters,
/// and the artifact tree.
const EDIT_JS: &str = include_str!("assets/edit.js");
const ARTIFACTS_JS: &str = include_str!("assets/artifacts.js");
const EDIT_CSS: &str = include_str!("assets/edit.css");
/// uPlot (MIT, <https://github.com/leeoniya/uPlot>), vendored minified with its licence: the charts.
const UPLOT_JS: &str = include_str!("assets/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("assets/vendor/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("assets/vendor/uPlot.LICENSE");

/// The most runs one page of the runs table holds.
const MAX_PAGE: usize = 500;

pub struct UiOptions {
    pub tracking_uri: String,
    pub host: String,
    pub port: u16,
    pub token: Option<crate::web::access::Token>,
    pub allow_unauthenticated_admin: bool,
    /// `Host` names besides loopback and the bound address (`--allowed-hosts`).
    pub allowed_hosts: Vec<String>,
    pub limits: crate::web::net::Limits,
}

struct AppState {
    opts: UiOptions,
    access: Arc<Access>,
}

type Shared = Arc<AppState>;

/// An API answer: JSON, or an error with a status and a one-line message.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({"error": self.1}))).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError::*;
        let status = match &e {
            ExperimentNotFound(_) | RunNotFound(_) | ModelNotFound(_) => StatusCode::NOT_FOUND,
            InvalidKey { .. } | InvalidId { .. } | InvalidName { .. } | InvalidValue { .. } => {
                StatusCode::BAD_REQUEST
            }
            Refused { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let msg = match e {
            // The store's text already names what is missing ("registered model 'x'"): not quoted again.
            ModelNotFound(what) if what.contains('\'') => format!("{what} not found"),
            e => e.to_string(),
        };
        ApiError(status, msg)
    }
}

type ApiResult = Result<axum::Json<Value>, ApiError>;

/// Run store work off the async threads (the store does blocking file or HTTP I/O).
async fn with_store<T: Send + 'static>(
    st: &Shared,
    f: impl FnOnce(&dyn TrackingStore) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let uri = st.opts.tracking_uri.clone();
    tokio::task::spawn_blocking(move || {
        let store = crate::settings::open_store(&uri)
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        f(store.as_ref())
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The app for a server bound to `ip`.
pub fn router(opts: UiOptions, ip: std::net::IpAddr) -> Router {
    let access = Arc::new(Access {
        token: opts.token.clone(),
        allow_unauthenticated_admin: opts.allow_unauthenticated_admin,
        hosts: AllowedHosts::new(&opts.host, ip, &opts.allowed_hosts),
        disabled: "admin actions are disabled: start mlx ui with --token, --token-file (or MLX_SERVE_TOKEN), or --allow-unauthenticated-admin",
    });
    let state = Arc::new(AppState {
        opts,
        access: access.clone(),
    });
    // The page and its assets, all embedded in the binary.
    let assets: [(&str, &'static str, &'static str); 12] = [
        ("/edit.css", "text/css; charset=utf-8", EDIT_CSS),
        ("/edit.js", "text/javascript; charset=utf-8", EDIT_JS),
        (
            "/artifacts.js",
            "text/javascript; charset=utf-8",
            ARTIFACTS_JS,
        ),
        ("/", "text/html; charset=utf-8", INDEX_HTML),
        ("/app.js", "text/javascript; charset=utf-8", APP_JS),
        ("/app.css", "text/css; charset=utf-8", APP_CSS),
        (
            "/parallel.js",
            "text/javascript; charset=utf-8",
            PARALLEL_JS,
        ),
        ("/charts.js", "text/javascript; charset=utf-8", CHARTS_JS),
        ("/theme.css", "text/css; charset=utf-8", THEME_CSS),
        (
            "/vendor/uPlot.iife.min.js",
            "text/javascript; charset=utf-8",
            UPLOT_JS,
        ),
        (
            "/vendor/uPlot.min.css",
            "text/css; charset=utf-8",
            UPLOT_CSS,
        ),
        (
            "/vendor/uPlot.LICENSE",
            "text/plain; charset=utf-8",
            UPLOT_LICENSE,
        ),
    ];
    let mut router = Router::new();
    for (path, content_type, body) in assets {
        router = router.route(path, get(move || async move { asset(content_type, body) }));
    }
    router
        .route("/api/experiments", get(experiments))
        .route("/api/experiments/{id}/runs", get(runs))
        .route("/api/runs/{id}", get(run))
        .route("/api/runs/{id}/metrics/{key}", get(metric_history))
        .route("/api/runs/{id}/artifact", get(artifact))
        .route("/api/compare", get(compare))
        .route("/api/models", get(models))
        .route("/api/models/{name}", get(model))
        .route("/admin/models/{name}/alias", post(set_alias))
        .route("/admin/models/{name}/rollback", post(rollback))
        .route("/admin/edit", post(edit::edit))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such page".into()) })
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(access, check_request))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Serve until SIGINT/SIGTERM.
pub fn serve(opts: UiOptions) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        let addr = format!("{}:{}", opts.host, opts.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr()?;
        eprintln!("mlx ui: store {}", crate::redact::uris(&opts.tracking_uri));
        eprintln!("mlx ui: listening on http://{local}");
        let limits = opts.limits;
        crate::web::net::serve(
            listener,
            router(opts, local.ip()),
            limits,
            crate::web::shutdown_signal("mlx ui"),
        )
        .await?;
        Ok(())
    });
    // Store work still running on the blocking pool after the graceful shutdown does not hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

async fn experiments(State(st): State<Shared>) -> ApiResult {
    with_store(&st, |store| {
        let exps = store.list_experiments(ViewType::ActiveOnly)?;
        Ok(axum::Json(serde_json::to_value(exps).unwrap_or_default()))
    })
    .await
}

#[derive(Deserialize)]
struct RunsQuery {
    filter: Option<String>,
    order_by: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
    /// `active` (the default), `deleted` or `all`: the runs `mlx runs list`, `--deleted`, `--all` list.
    view: Option<String>,
}

fn view_type(view: Option<&str>) -> Result<ViewType, ApiError> {
    match view.unwrap_or("active") {
        "" | "active" => Ok(ViewType::ActiveOnly),
        "deleted" => Ok(ViewType::DeletedOnly),
        "all" => Ok(ViewType::All),
        other => Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "view: '{}' is not one of active, deleted, all",
                crate::redact::brief(other)
            ),
        )),
    }
}

fn run_row(r: &Run) -> Value {
    json!({
        "run_id": r.info.run_id,
        "run_name": r.info.run_name,
        "status": r.info.status,
        "lifecycle_stage": r.info.lifecycle_stage,
        "start_time": r.info.start_time,
        "duration_ms": r.info.duration_ms(),
        "metrics": r.data.metrics.iter().map(|(k, p)| (k.clone(), float(p.value))).collect::<serde_json::Map<_, _>>(),
        "params": r.data.params,
        "tags": r.data.tags.iter().filter(|(k, _)| !k.starts_with("mlflow.") || k.as_str() == "mlflow.parentRunId").collect::<BTreeMap<_, _>>(),
    })
}

async fn runs(
    State(st): State<Shared>,
    UrlPath(id): UrlPath<String>,
    UrlQuery(q): UrlQuery<RunsQuery>,
) -> ApiResult {
    let filter = q.filter.filter(|f| !f.trim().is_empty());
    let order: Vec<String> = q
        .order_by
        .into_iter()
        .filter(|o| !o.trim().is_empty())
        .collect();
    let query = Query::parse(filter.as_deref(), &order)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    let view = view_type(q.view.as_deref())?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let offset = q.offset;
    with_store(&st, move |store| {
        let exp = store.get_experiment(&id)?;
        let ids = [exp.experiment_id.clone()];
        // A tracking server sends the first offset + limit (+ 1, to know whether there are more) runs
        // of the answer; the total is known only once the last page is reached.
        let want = offset.saturating_add(limit);
        let (total, more, page) = match query.run_on_server(
            store,
            &ids,
            view,
            Some(want.saturating_add(1)),
        )? {
            Some(mut runs) => {
                let more = runs.len() > want;
                runs.truncate(want);
                let total = (!more).then_some(runs.len());
                (
                    total,
                    more,
                    runs.into_iter().skip(offset).collect::<Vec<_>>(),
                )
            }
            None => {
                let (total, page) =
                    query.run_page(store, &ids, view, offset, limit)?;
                (Some(total), want < total, page)
            }
        };
        let mut param_keys = BTreeSet::new();
        // Every metric key of the experiment, for the column picker (names only: cheap to list).
        let mut metric_keys = store.metric_keys(&ids, view)?;
        for r in &page {
            metric_keys.extend(r.data.metrics.keys().cloned());
            param_keys.extend(r.data.params.keys().cloned());
        }
        let on_page: BTreeSet<&str> = page.iter().map(|r| r.info.run_id.as_str()).collect();
        let model_versions = versions_of(store, &on_page)?;
        Ok(axum::Json(json!({
            "experiment": exp,
            "model_versions": model_versions,
            "total": total,
            "more": more,
            "offset": offset,
            "limit": limit,
            "runs": page.iter().map(run_row).collect::<Vec<_>>(),
            "metric_keys": metric_keys,
            "param_keys": param_keys,
            // Which way is better for each metric (as `mlx compare`), for a group's best value.
            "lower_is_better": metric_keys.iter().map(|k| (k.clone(), Value::Bool(crate::search::lower_is_better(k)))).collect::<serde_json::Map<_, _>>(),
        })))
    })
    .await
}

/// The registered model versions made from the given runs, by run id (`{name, version, aliases}` each).
fn versions_of(
    store: &dyn TrackingStore,
    run_ids: &BTreeSet<&str>,
) -> Result<BTreeMap<String, Vec<Value>>, ApiError> {
    let mut by_run: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for model in store.list_registered_models()? {
        for v in store.list_model_versions(&model.name, false)? {
            if let Some(run) = v.run_id.as_deref().filter(|r| run_ids.contains(r)) {
                by_run
                    .entry(run.to_string())
                    .or_default()
                    .push(json!({"name": v.name, "version": v.version, "aliases": v.aliases}));
            }
        }
    }
    Ok(by_run)
}

/// The signature in the run's model's MLmodel file, if it has a model.
fn signature(store: &dyn TrackingStore, run_id: &str) -> Option<Value> {
    let dir = store
        .resolve_model(&crate::store::ModelUri::Run {
            run_id: run_id.to_string(),
            path: "model".into(),
        })
        .ok()?;
    let text = std::fs::read_to_string(dir.join("MLmodel")).ok()?;
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).ok()?;
    let sig = yaml.get("signature")?;
    let field = |k: &str| -> Value {
        sig.get(k)
            .and_then(|v| v.as_str())
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null)
    };
    Some(json!({"inputs": field("inputs"), "outputs": field("outputs")}))
}

async fn run(State(st): State<Shared>, UrlPath(id): UrlPath<String>) -> ApiResult {
    with_store(&st, move |store| {
        let run = store.get_run(&id)?;
        let experiment_name = store
            .get_experiment(&run.info.experiment_id)
            .map(|e| e.name)
            .ok();
        let artifacts = crate::store::list_artifact_files(store, &id)?;
        let metrics: BTreeMap<&String, Value> = run
            .data
            .metrics
            .iter()
            .map(|(k, p)| {
                (
                    k,
                    json!({"value": float(p.value), "step": p.step, "timestamp": p.timestamp}),
                )
            })
            .collect();
        Ok(axum::Json(json!({
            "info": run.info,
            "experiment_name": experiment_name,
            "model_versions": versions_of(store, &BTreeSet::from([id.as_str()]))?.remove(&id).unwrap_or_default(),
            "params": run.data.params,
            "metrics": metrics,
            "tags": run.data.tags,
            "inputs": run.inputs,
            "outputs": run.outputs,
            "artifacts": artifacts,
            "signature": signature(store, &id),
        })))
    })
    .await
}

fn history_json(points: &[MetricPoint]) -> Value {
    Value::Array(
        points
            .iter()
            .map(|p| json!({"step": p.step, "value": float(p.value), "timestamp": p.timestamp}))
            .collect(),
    )
}

async fn metric_history(
    State(st): State<Shared>,
    UrlPath((id, key)): UrlPath<(String, String)>,
) -> ApiResult {
    with_store(&st, move |store| {
        Ok(axum::Json(history_json(&store.metric_history(&id, &key)?)))
    })
    .await
}

#[derive(Deserialize)]
struct ArtifactQuery {
    path: String,
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        // Served as text: an SVG could carry script.
        "svg" | "txt" | "log" | "md" | "yaml" | "yml" | "csv" | "json" | "py" | "toml" => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

async fn artifact(
    State(st): State<Shared>,
    UrlPath(id): UrlPath<String>,
    UrlQuery(q): UrlQuery<ArtifactQuery>,
) -> Result<Response, ApiError> {
    let path = q.path.clone();
    let file = with_store(&st, move |store| Ok(store.open_artifact(&id, &path)?)).await?;
    let len = file
        .metadata()
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .len();
    // Streamed in chunks: a 512 MB artifact never sits in memory.
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(
        tokio::fs::File::from_std(file),
    ));
    Ok((
        [
            (header::CONTENT_TYPE, content_type(&q.path)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_LENGTH, &len.to_string()),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
struct CompareQuery {
    runs: String,
}

async fn compare(State(st): State<Shared>, UrlQuery(q): UrlQuery<CompareQuery>) -> ApiResult {
    let ids: Vec<String> = q
        .runs
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() || ids.len() > 20 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "runs: give 1 to 20 run ids, comma-separated".into(),
        ));
    }
    with_store(&st, move |store| {
        // Up to 20 runs and their histories: a few requests at a time to a server.
        let runs: Vec<Run> = crate::store::parallel(&ids, 8, |id| store.get_run(id))?;
        let param_keys: BTreeSet<&String> =
            runs.iter().flat_map(|r| r.data.params.keys()).collect();
        let differ: Vec<&String> = param_keys
            .iter()
            .copied()
            .filter(|k| {
                let first = runs[0].data.params.get(*k);
                runs.iter().any(|r| r.data.params.get(*k) != first)
            })
            .collect();
        let metric_keys: BTreeSet<&String> =
            runs.iter().flat_map(|r| r.data.metrics.keys()).collect();
        let wanted: Vec<(&String, &String)> = metric_keys
            .iter()
            .flat_map(|k| {
                runs.iter()
                    .filter(|r| r.data.metrics.contains_key(*k))
                    .map(move |r| (*k, &r.info.run_id))
            })
            .collect();
        let fetched = crate::store::parallel(&wanted, 8, |(k, id)| store.metric_history(id, k))?;
        let mut histories = serde_json::Map::new();
        for key in &metric_keys {
            histories.insert((*key).clone(), Value::Object(Default::default()));
        }
        for ((key, id), hist) in wanted.iter().zip(fetched) {
            if let Some(Value::Object(per_run)) = histories.get_mut(key.as_str()) {
                per_run.insert((*id).clone(), history_json(&hist));
            }
        }
        Ok(axum::Json(json!({
            "runs": runs.iter().map(run_row).collect::<Vec<_>>(),
            "params_differ": differ,
            "histories": histories,
            // As `mlx compare`: which way is better for each metric, so the page marks the best value.
            "lower_is_better": metric_keys.iter().map(|k| ((*k).clone(), Value::Bool(crate::search::lower_is_better(k)))).collect::<serde_json::Map<_, _>>(),
        })))
    })
    .await
}

async fn models(State(st): State<Shared>) -> ApiResult {
    with_store(&st, |store| {
        Ok(axum::Json(
            serde_json::to_value(store.list_registered_models()?).unwrap_or_default(),
        ))
    })
    .await
}

async fn model(State(st): State<Shared>, UrlPath(name): UrlPath<String>) -> ApiResult {
    with_store(&st, move |store| {
        let model = store.get_registered_model(&name)?;
        let versions = store.list_model_versions(&name, false)?;
        let mut aliases: BTreeSet<String> = model.aliases.keys().cloned().collect();
        aliases.extend(
            model
                .tags
                .keys()
                .filter_map(|k| k.strip_prefix("mlx.alias_history."))
                .map(str::to_string),
        );
        let mut history = serde_json::Map::new();
        for alias in aliases {
            let moves = store.alias_history(&name, &alias).unwrap_or_default();
            history.insert(alias, serde_json::to_value(moves).unwrap_or_default());
        }
        Ok(axum::Json(json!({
            "model": model,
            "versions": versions,
            "alias_history": history,
        })))
    })
    .await
}

/// The admin rule of `mlx serve`'s admin endpoints (a JSON body, the token), in the UI's error shape.
fn check_admin(st: &AppState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    require_json(headers).and_then(|()| st.access.check_admin(headers))
}

#[derive(Deserialize)]
struct AliasBody {
    alias: String,
    version: Option<u64>,
}

type AliasRequest = Result<axum::Json<AliasBody>, axum::extract::rejection::JsonRejection>;

/// An admin action on a model's alias: check the token and the body, then move the alias with `act`, which
/// returns (from, to).
async fn alias_action(
    st: Shared,
    name: String,
    headers: HeaderMap,
    body: AliasRequest,
    act: impl FnOnce(&dyn TrackingStore, &str, &AliasBody) -> Result<(Option<u64>, u64), ApiError>
    + Send
    + 'static,
) -> Response {
    if let Err(r) = check_admin(&st, &headers) {
        return *r;
    }
    let axum::Json(body) = match body {
        Ok(b) => b,
        Err(e) => return ApiError(e.status(), e.body_text()).into_response(),
    };
    with_store(&st, move |store| {
        let (from, to) = act(store, &name, &body)?;
        Ok(axum::Json(
            json!({"alias": body.alias, "from": from, "to": to}),
        ))
    })
    .await
    .into_response()
}

fn refused(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, e.to_string())
}

async fn set_alias(
    State(st): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: AliasRequest,
) -> Response {
    alias_action(st, name, headers, body, |store, name, body| {
        let version = body.version.ok_or_else(|| refused("version is required"))?;
        use crate::ops::registry::{RegistryError, set_alias};
        let from = set_alias(store, name, &body.alias, version, true).map_err(|e| match e {
            RegistryError::Store(e) => ApiError::from(e),
            refusal => refused(refusal),
        })?;
        Ok((from, version))
    })
    .await
}

async fn rollback(
    State(st): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: AliasRequest,
) -> Response {
    alias_action(st, name, headers, body, |store, name, body| {
        crate::ops::registry::rollback(store, name, &body.alias, body.version).map_err(refused)
    })
    .await
}
