//! `mlx ui`: browse experiments, runs, comparisons and the registry in a web page served by this binary.

use crate::settings::Settings;
use crate::ui::{UiOptions, serve};
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct UiArgs {
    /// Address to bind (loopback unless told otherwise)
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port (0 picks a free one)
    #[arg(long, default_value_t = 5050)]
    port: u16,
    /// Bearer token for setting aliases and rolling back from the page [default: $MLX_SERVE_TOKEN]
    #[arg(long, env = "MLX_SERVE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Allow setting aliases and rolling back without a token
    #[arg(long)]
    allow_unauthenticated_admin: bool,
}

pub fn exec(settings: &Settings, args: UiArgs) -> Result<ExitCode> {
    serve(UiOptions {
        tracking_uri: settings.tracking_uri.value.clone(),
        host: args.host,
        port: args.port,
        token: args.token.filter(|t| !t.is_empty()),
        allow_unauthenticated_admin: args.allow_unauthenticated_admin,
    })?;
    Ok(ExitCode::SUCCESS)
}
