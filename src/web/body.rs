//! A read deadline on every request body (issue 30, point 2): a body must arrive within `--body-timeout`
//! plus one second per [`MIN_RATE`] bytes it has delivered, so a body trickled a byte at a time is cut off
//! after the timeout while a big one arriving at a healthy rate is not. A body past its deadline ends in an
//! error for whoever reads it, and the request is answered 408 with its connection closed — on every
//! endpoint, admin ones included, whatever extractor reads the body.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The slowest rate, in bytes per second, that earns a body more time than `--body-timeout`.
pub const MIN_RATE: u64 = 256 * 1024;

/// The error a body past its deadline ends in.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

/// A request body with a read deadline.
struct Deadlined {
    inner: Body,
    started: Instant,
    grace: Duration,
    received: u64,
    sleep: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

impl Deadlined {
    fn new(inner: Body, grace: Duration, expired: Arc<AtomicBool>) -> Deadlined {
        let started = Instant::now();
        Deadlined {
            inner,
            started,
            grace,
            received: 0,
            sleep: Box::pin(tokio::time::sleep_until(started + grace)),
            expired,
        }
    }

    fn deadline(&self) -> Instant {
        self.started + self.grace + Duration::from_secs_f64(self.received as f64 / MIN_RATE as f64)
    }
}

impl HttpBody for Deadlined {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.expired.load(Ordering::Relaxed) {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let deadline = this.deadline();
                    this.sleep.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.expired.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware for every request: its body gets the read deadline, and a request whose body missed it is
/// answered 408 (whatever the handler made of the failed read) and its connection closed.
pub async fn with_deadline(
    State(grace): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let expired = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let body = Body::new(Deadlined::new(body, grace, expired.clone()));
    let response = next.run(Request::from_parts(parts, body)).await;
    if !expired.load(Ordering::Relaxed) {
        return response;
    }
    let mut r = Response::new(Body::from(format!(
        "the request body did not arrive within --body-timeout ({} s), plus a second per {} KiB received",
        grace.as_secs_f64(),
        MIN_RATE / 1024
    )));
    *r.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}
