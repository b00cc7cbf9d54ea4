//! Peers that move data too slowly are cut off: a request body trickled in,
//! or a response or WebSocket frame the peer will not read.
//!
//! A slow peer costs the relay a connection slot and whatever it has
//! buffered for it, and costs the peer almost nothing, so "slow" must have
//! a bound. The rule ([`Pace`]) is the same both ways: from the moment a
//! transfer starts waiting on the peer, it may take `grace` plus one second
//! for every `min_rate` bytes it has moved since. A body trickled at one byte
//! a second against the default 1,024 B/s is cut after about ten seconds; an
//! honest phone uploading a 4 MiB blob at 100 KiB/s never comes near the
//! bound, because every byte it moves extends it.
//!
//! - Request bodies: [`pace_request_body`] wraps each body in [`PacedBody`]
//!   and answers a cut-off body with `request_timeout` (408) and
//!   `Connection: close`.
//! - Writes: [`PacedIo`] wraps the connection's TLS stream. A write or flush
//!   that the socket cannot take starts the clock; it stops once a flush
//!   gets everything out. A peer that stops reading (a WebSocket subscriber
//!   that never reads, a pipelining HTTP client that never collects its
//!   responses) is disconnected, which frees what the relay had queued for it.
//!
//! Time spent idle between requests is not a transfer: it is bounded by the
//! idle timeout, and the TLS handshake by its own deadline (`server`).

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use safespaces_wire::ErrorCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::api_error::ApiError;
use crate::app::AppState;
use crate::config::Config;
use crate::metrics::Metrics;

/// How fast a peer must move data once it makes the relay wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Time allowed before the rate applies.
    pub grace: Duration,
    /// Average bytes per second required after the grace; 0 turns the
    /// rule off.
    pub min_rate: u64,
}

impl Pace {
    /// When a transfer that started waiting at `since` and has moved
    /// `moved` bytes since must be cut off; `None` if never.
    pub fn deadline(&self, since: Instant, moved: u64) -> Option<Instant> {
        if self.min_rate == 0 {
            return None;
        }
        let earned = Duration::from_secs_f64(moved as f64 / self.min_rate as f64);
        Some(since + self.grace + earned)
    }
}

/// The clock of one transfer: when it started waiting, how much it moved.
struct Clock {
    pace: Pace,
    since: Option<Instant>,
    moved: u64,
    timer: Pin<Box<Sleep>>,
}

impl Clock {
    fn new(pace: Pace) -> Self {
        Self {
            pace,
            since: None,
            moved: 0,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    /// The peer made the transfer wait: `true` if it is now too slow;
    /// otherwise the task is woken at the deadline.
    fn waiting(&mut self, cx: &mut Context<'_>) -> bool {
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        let Some(deadline) = self.pace.deadline(since, self.moved) else {
            return false;
        };
        if now >= deadline {
            return true;
        }
        self.timer.as_mut().reset(deadline);
        // Registers the waker; ready only if the deadline already passed.
        self.timer.as_mut().poll(cx).is_ready()
    }

    fn progressed(&mut self, n: usize) {
        if self.since.is_some() {
            self.moved = self.moved.saturating_add(n as u64);
        }
    }

    fn done(&mut self) {
        self.since = None;
        self.moved = 0;
    }
}

// Here, not in `config.rs`: the configuration names no pacing type, so
// `config.rs` and this file (which reads the app state holding the
// configuration) do not import each other.
impl Config {
    /// The pace every peer must keep ([`Pace`]).
    pub fn pace(&self) -> Pace {
        Pace {
            grace: Duration::from_secs(self.transfer_grace_secs),
            min_rate: self.min_transfer_rate,
        }
    }
}

/// A connection's I/O with paced writes (see the module docs).
pub struct PacedIo<T> {
    inner: T,
    write: Clock,
    app: AppState,
}

impl<T> std::fmt::Debug for PacedIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacedIo").finish_non_exhaustive()
    }
}

impl<T> PacedIo<T> {
    /// Wraps `inner`; cut-offs are counted in `app`'s metrics.
    pub fn new(inner: T, pace: Pace, app: AppState) -> Self {
        Self {
            inner,
            write: Clock::new(pace),
            app,
        }
    }

    fn too_slow<R>(&mut self) -> Poll<io::Result<R>> {
        Metrics::add(&self.app.metrics.slow_peers_cut, 1);
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the peer does not read fast enough",
        )))
    }

    fn on_write<R>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match r {
            Poll::Pending if self.write.waiting(cx) => self.too_slow(),
            other => other,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for PacedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for PacedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            this.write.progressed(*n);
        }
        this.on_write(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r {
            this.write.progressed(*n);
        }
        this.on_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = &r {
            // Everything is out of the relay's buffers: nothing waits on the peer.
            this.write.done();
        }
        this.on_write(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.on_write(cx, r)
    }
}

/// A request body that must arrive at the [`Pace`] (see the module docs).
pub struct PacedBody {
    inner: Body,
    clock: Clock,
    tripped: Arc<AtomicBool>,
}

impl PacedBody {
    /// Wraps `inner`, whose clock starts now (the headers have arrived);
    /// `tripped` is set if it is cut off.
    pub fn new(inner: Body, pace: Pace, tripped: Arc<AtomicBool>) -> Self {
        let mut clock = Clock::new(pace);
        clock.since = Some(Instant::now());
        Self {
            inner,
            clock,
            tripped,
        }
    }
}

impl HttpBody for PacedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.clock.progressed(data.len());
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending if this.clock.waiting(cx) => {
                this.tripped.store(true, Ordering::Release);
                Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request body arrives too slowly",
                )))))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: every request body is paced; one cut off is answered with
/// `request_timeout` and the connection closes (the rest of the body is
/// never read, so the connection cannot carry another request).
pub async fn pace_request_body(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let tripped = Arc::new(AtomicBool::new(false));
    let pace = app.config.pace();
    let flag = tripped.clone();
    let req = req.map(move |body| Body::new(PacedBody::new(body, pace, flag)));
    let resp = next.run(req).await;
    if !tripped.load(Ordering::Acquire) {
        return resp;
    }
    Metrics::add(&app.metrics.slow_peers_cut, 1);
    let mut resp = ApiError::new(
        ErrorCode::RequestTimeout,
        format!(
            "the request body arrived slower than {} bytes per second; nothing was stored",
            pace.min_rate
        ),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_moved_extends_the_deadline() {
        let pace = Pace {
            grace: Duration::from_secs(10),
            min_rate: 1024,
        };
        let t = Instant::now();
        assert_eq!(pace.deadline(t, 0), Some(t + Duration::from_secs(10)));
        assert_eq!(pace.deadline(t, 2048), Some(t + Duration::from_secs(12)));
        let off = Pace {
            grace: Duration::ZERO,
            min_rate: 0,
        };
        assert_eq!(off.deadline(t, 0), None);
    }
}
