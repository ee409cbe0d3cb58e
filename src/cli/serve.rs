//! `mlx serve`: the scoring server.

use crate::serve::{ServeOptions, default_model, serve};
use crate::settings::Settings;
use crate::web::access::Token;
use crate::web::net::Limits;
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// Model URI [default: models:/<project>@Champion if registered, else the latest finished run's model]
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// A second model to send a share of traffic to (see --split)
    #[arg(long)]
    challenger: Option<String>,
    /// Share of requests the challenger answers
    #[arg(long, default_value_t = 0.1)]
    split: f64,
    #[arg(long, short = 'H', default_value = "127.0.0.1")]
    host: String,
    #[arg(long, short = 'p', default_value_t = 5000)]
    port: u16,
    /// Worker threads, and Python worker processes with --python [default: all cores]
    #[arg(long, short = 'w')]
    workers: Option<usize>,
    #[command(flatten)]
    server: ServerArgs,
    /// Largest request body in MiB
    #[arg(long, default_value_t = 64)]
    max_body_mb: usize,
    /// Request bodies being handled at once, in MiB (each costs a few times its size while parsed and
    /// predicted); a request that does not fit is answered 503
    #[arg(long, default_value_t = 256)]
    max_inflight_mb: usize,
    /// Request timeout in seconds, fractions allowed (504 after it)
    #[arg(long, short = 't', default_value = "60", value_parser = parse_timeout)]
    timeout: Duration,
    /// How often to check whether a served alias moved, in milliseconds
    #[arg(long, default_value_t = 1000, hide = true)]
    poll_ms: u64,
    /// Folder with MLproject.toml (for /update_model and the default model)
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// A folder /update_model may read training data from, besides --project (repeatable)
    #[arg(long = "data-dir", value_name = "DIR")]
    data_dirs: Vec<PathBuf>,
    /// A URL prefix /update_model may download training data from (repeatable), e.g. https://host/data/
    #[arg(long = "data-url", value_name = "PREFIX")]
    data_urls: Vec<String>,
    /// Longest a retrain (/update_model) may take, in seconds
    #[arg(long, default_value_t = 1800)]
    retrain_timeout: u64,
    /// Experiment whose latest run to serve when there is no --model
    #[arg(long, short = 'e')]
    experiment: Option<String>,
    #[command(flatten)]
    python: PythonArgs,
}

/// Running models mlx cannot read natively with Python (`mlflow.pyfunc.load_model` in worker processes).
#[derive(Args)]
pub struct PythonArgs {
    /// Python (with mlflow) to run models mlx cannot read natively, in --workers processes [env: MLX_PYTHON];
    /// without it such models are refused
    #[arg(long, value_name = "PATH")]
    python: Option<String>,
    /// Most rows merged into one Python predict call
    #[arg(long, default_value_t = crate::ml::DEFAULT_MAX_BATCH_ROWS)]
    max_batch_rows: usize,
    /// Longest a free Python worker waits for more rows while another is busy, in milliseconds
    #[arg(long, default_value_t = 0)]
    max_batch_wait_ms: u64,
    /// Longest one Python predict call may take, in seconds (504 after it; the worker is replaced)
    #[arg(long, default_value = "60", value_parser = parse_timeout)]
    predict_timeout: Duration,
    /// Most rows waiting for a Python worker; more are answered 503 with Retry-After
    #[arg(long, default_value_t = 100_000)]
    max_queue_rows: usize,
}

impl PythonArgs {
    /// The pool options, when the operator named a Python (`--python`, else `MLX_PYTHON`).
    pub fn resolve(self, workers: usize) -> Option<crate::ml::PoolOptions> {
        let python = self
            .python
            .or_else(|| crate::settings::env::get("MLX_PYTHON"))?;
        let mut opts = crate::ml::PoolOptions::new(python, workers);
        opts.max_batch_rows = self.max_batch_rows.max(1);
        opts.max_batch_wait = Duration::from_millis(self.max_batch_wait_ms);
        opts.predict_timeout = self.predict_timeout;
        opts.max_queue_rows = self.max_queue_rows.max(1);
        Some(opts)
    }
}

/// What `mlx serve` and `mlx ui` share: who may use them and how many connections they hold.
#[derive(Args)]
pub struct ServerArgs {
    /// Bearer token for the admin actions (visible in `ps`: prefer --token-file) [env: MLX_SERVE_TOKEN]
    #[arg(long, conflicts_with = "token_file")]
    token: Option<String>,
    /// File holding the bearer token (its trailing newline is not part of it)
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Allow the admin actions without a token (only on a trusted network)
    #[arg(long)]
    allow_unauthenticated_admin: bool,
    /// Host names clients may use besides loopback names and the bound address, comma-separated (* for any)
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    allowed_hosts: Vec<String>,
    /// Most connections open at once; more are answered 503 and closed
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Seconds a connection may take to send a request's head, and may stay idle between requests
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// Seconds a request body may take to arrive, plus one per 256 KiB received (408 after it)
    #[arg(long, default_value = "10", value_parser = parse_timeout)]
    body_timeout: Duration,
}

/// The resolved [`ServerArgs`].
pub struct ServerSettings {
    pub token: Option<Token>,
    pub allow_unauthenticated_admin: bool,
    pub allowed_hosts: Vec<String>,
    pub limits: Limits,
}

impl ServerArgs {
    /// Read the token (an empty one is an error) and settle the limits.
    pub fn resolve(self) -> Result<ServerSettings> {
        Ok(ServerSettings {
            token: Token::resolve(
                self.token,
                self.token_file.as_deref(),
                crate::settings::env::get_even_empty("MLX_SERVE_TOKEN"),
            )?,
            allow_unauthenticated_admin: self.allow_unauthenticated_admin,
            allowed_hosts: self.allowed_hosts,
            limits: Limits {
                max_connections: self.max_connections.max(1),
                header_timeout: Duration::from_secs(self.header_timeout.max(1)),
                body_timeout: self.body_timeout,
            },
        })
    }
}

pub fn exec(settings: &Settings, args: ServeArgs) -> Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.split) {
        bail!("--split must be between 0 and 1, not {}", args.split);
    }
    let server = args.server.resolve()?;
    // A prefix that is not an http(s) URL is refused now, not at the first retrain.
    crate::ml::data::fetch::UrlPrefixes::new(&args.data_urls).map_err(anyhow::Error::msg)?;
    let model = match args.model {
        Some(m) => m,
        None => {
            let store = settings.open_store()?;
            let chosen = default_model(store.as_ref(), &args.project, args.experiment.as_deref())?;
            eprintln!("mlx serve: no --model given; chose {chosen}");
            chosen
        }
    };
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    serve(ServeOptions {
        python: args.python.resolve(workers),
        tracking_uri: settings.tracking_uri.value.clone(),
        model,
        challenger: args.challenger,
        split: args.split,
        host: args.host,
        port: args.port,
        workers,
        token: server.token,
        allow_unauthenticated_admin: server.allow_unauthenticated_admin,
        allowed_hosts: server.allowed_hosts,
        limits: server.limits,
        max_body_bytes: args.max_body_mb * 1024 * 1024,
        max_inflight_bytes: args.max_inflight_mb * 1024 * 1024,
        timeout: args.timeout,
        poll_interval: Duration::from_millis(args.poll_ms.max(50)),
        project_dir: std::path::absolute(&args.project).unwrap_or(args.project),
        data_dirs: args.data_dirs,
        data_urls: args.data_urls,
        retrain_timeout: Duration::from_secs(args.retrain_timeout.max(1)),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A positive number of seconds, fractions allowed (`0.5`).
fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() && secs < 1e9 => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(format!("'{s}' is not a positive number of seconds")),
    }
}
