//! `mlx ui`: browse experiments, runs, comparisons and the registry in a web page served by this binary.

use crate::settings::Settings;
use crate::ui::{UiOptions, serve};
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct UiArgs {
    /// Address to bind (loopback unless told otherwise)
    #[arg(long, short = 'H', default_value = "127.0.0.1")]
    host: String,
    /// Port (0 picks a free one)
    #[arg(long, short = 'p', default_value_t = 5050)]
    port: u16,
    #[command(flatten)]
    server: super::serve::ServerArgs,
}

pub fn exec(settings: &Settings, args: UiArgs) -> Result<ExitCode> {
    let server = args.server.resolve()?;
    serve(UiOptions {
        tracking_uri: settings.tracking_uri.value.clone(),
        host: args.host,
        port: args.port,
        token: server.token,
        allow_unauthenticated_admin: server.allow_unauthenticated_admin,
        allowed_hosts: server.allowed_hosts,
        limits: server.limits,
    })?;
    Ok(ExitCode::SUCCESS)
}
