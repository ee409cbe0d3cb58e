//! The accept loop of `mlx serve` and `mlx ui` (issue 13, point 4): at most `max_connections` connections
//! at once (more are answered 503 and closed at once, so idle sockets cannot use up the file descriptors;
//! a few more may ask `/ping` or `/health` only, so health checks are answered while slow clients hold the
//! rest),
//! a deadline on reading each request head — which is also the idle keep-alive timeout, since waiting for
//! the next request on a kept-alive connection is waiting for its head — and a graceful shutdown.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// Longest wait for a request's head, a first one or the next on a kept-alive connection.
    pub header_timeout: Duration,
    /// Longest a request body may take to arrive, plus a second per `body::MIN_RATE` bytes received.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
        }
    }
}

const SHED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 49\r\n\r\n{\"error\":\"too many connections; try again later\"}";

/// Descriptors kept free of connections for the store, the model and the runtime.
const FD_RESERVE: u64 = 64;

/// Connections beyond `max_connections` that may only ask `/ping` or `/health` (and are closed after one
/// answer): a server whose connections are all held by slow clients still answers its health checks.
const HEALTH_RESERVE: usize = 8;

/// On a reserve connection: `/ping` and `/health` answered, anything else 503; the connection then closes.
async fn health_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    let mut response = if matches!(request.uri().path(), "/ping" | "/health") {
        next.run(request).await
    } else {
        let mut r = axum::response::Response::new(axum::body::Body::from(
            "{\"error\":\"too many connections; try again later\"}",
        ));
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `wanted`, lowered to what the open-file limit leaves room for: a cap above it would let idle sockets use
/// up the descriptors before the cap sheds anything.
fn connection_cap(wanted: usize) -> usize {
    let room = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map_or(usize::MAX, |n| n.saturating_sub(FD_RESERVE) as usize);
    if room < wanted {
        eprintln!("note: at most {room} connections at once (the open-file limit)");
    }
    wanted.min(room).max(1)
}

/// Serve `app` on `listener` until `shutdown` resolves, then let in-flight requests finish. Every request
/// body gets the read deadline of `limits.body_timeout` (408 after it).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let app = app.layer(axum::middleware::from_fn_with_state(
        limits.body_timeout,
        super::body::with_deadline,
    ));
    let health = app.clone().layer(axum::middleware::from_fn(health_only));
    let slots = Arc::new(Semaphore::new(connection_cap(limits.max_connections)));
    let reserve = Arc::new(Semaphore::new(HEALTH_RESERVE));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors or a connection reset before accept: back off briefly, go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (slot, app) = match slots.clone().try_acquire_owned() {
            Ok(slot) => (slot, app.clone()),
            Err(_) => match reserve.clone().try_acquire_owned() {
                Ok(slot) => (slot, health.clone()),
                Err(_) => {
                    tokio::spawn(async move {
                        let mut stream = stream;
                        let _ =
                            tokio::time::timeout(Duration::from_secs(1), stream.write_all(SHED))
                                .await;
                    });
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(app);
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    // In-flight requests get a while to finish; idle connections close at once.
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
    Ok(())
}
