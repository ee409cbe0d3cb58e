//! What `mlx serve` and `mlx ui` share as HTTP servers: who may talk to them (`access`), the accept loop
//! with its limits (`net`), the read deadline of request bodies (`body`) and the graceful shutdown. Below both servers, so neither imports the other.

pub mod access;
pub mod body;
pub mod net;

/// Resolves on SIGINT or SIGTERM (for a graceful shutdown that finishes in-flight requests).
pub async fn shutdown_signal(who: &'static str) {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    eprintln!("{who}: shutting down after in-flight requests");
}
