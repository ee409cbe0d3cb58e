//! `mlx serve`: MLflow's scoring protocol (`/ping`, `/health`, `/version`, `/invocations`) and the original
//! app's endpoints (`/predict`, `/update_model`, `/rollback`, `/model`), plus `/metrics`. The served model
//! lives behind an `ArcSwap`: a swap (retrain, rollback, an alias moved elsewhere) is one atomic store, so
//! requests never wait and never fail during it.
//!
//! This file holds what `mlx serve` was asked to do ([`ServeOptions`]), the state every handler shares, the
//! router and the startup ([`serve`]). The rest, one job a file:
//! - `served`: what is served (a model URI loaded with its registry coordinates; the default without `--model`)
//! - `budget`: reading a scoring body within the size limit and the in-flight budget
//! - `scoring`: `/invocations` and `/predict` (parse, predict off the runtime within `--timeout`, answer)
//! - `python`: the same for a model served by Python workers
//! - `admin`: `/update_model` and `/rollback`, behind the admin token
//! - `follow`: following aliases moved by other processes, and swapping the served model
//! - `info`: `/ping`, `/health`, `/version`, `/model`, `/metrics`
//! - `reply`: the JSON and text answers every handler builds
//! - `protocol`, `fast_json`: MLflow's request formats; `metrics`: the Prometheus counters

mod admin;
mod budget;
mod fast_json;
mod follow;
mod info;
mod limits;
mod metrics;
pub mod protocol;
mod python;
mod reply;
mod scoring;
mod served;

pub use served::{Served, default_model, load};

use crate::store::TrackingStore;
use crate::web::{access, net};
use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use reply::detail;
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
    pub python: Option<crate::ml::PoolOptions>,
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

async fn method_not_allowed() -> Response {
    let mut r = detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
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

/// Every endpoint, behind the access rules (`Host`, a POST's `Origin`; the admin handlers check the token),
/// the body limit and the metrics.
fn router(state: Arc<AppState>, access: Arc<access::Access>) -> Router {
    Router::new()
        .route("/ping", get(info::ping))
        .route("/health", get(info::ping))
        .route("/version", get(info::version))
        .route(
            "/invocations",
            post(scoring::invocations).fallback(method_not_allowed),
        )
        .route(
            "/predict",
            post(scoring::predict_app).fallback(method_not_allowed),
        )
        .route(
            "/update_model",
            post(admin::update_model).fallback(method_not_allowed),
        )
        .route(
            "/rollback",
            post(admin::rollback).fallback(method_not_allowed),
        )
        .route("/model", get(info::model_info))
        .route("/metrics", get(info::metrics_endpoint))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(DefaultBodyLimit::max(state.opts.max_body_bytes))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            access,
            access::check_request,
        ))
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
    let result = runtime.block_on(async move {
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
        let app = router(state.clone(), access);
        eprintln!("mlx serve: listening on http://{addr}");
        tokio::spawn(follow::follow_aliases(state.clone()));
        crate::web::net::serve(listener, app, opts.limits, crate::web::shutdown_signal("mlx serve")).await?;
        Ok::<(), anyhow::Error>(())
    });
    // A parse or prediction still running on the blocking pool after the graceful shutdown's grace does not
    // hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<AppState>();
}
