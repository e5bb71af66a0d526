//! Time limits that tell a stalled request from a slow one.
//!
//! The SDK's own read timeout runs from the start of a request to the start of its response,
//! sending the body included: a part that a slow link needs more than that to carry is cut and
//! sent again, forever. Instead, every request here gets two limits, both `--timeout`:
//!
//! - **stalled**: while the body is being sent, it must keep moving (the connection must keep
//!   taking bytes), however slowly; `limit` without a single byte taken is a stall;
//! - **silent**: once the body is sent (at once, for a request without one), the response must
//!   start within `limit`. Real S3 starts a response in tens of milliseconds.
//!
//! A response body that stops flowing is the SDK's stalled-stream protection's, and s3blob
//! resumes the range. Either cut is an ordinary timeout to the SDK, so it is retried.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Bodies are handed to the connection in pieces this big at most, so that progress shows at
/// a useful grain even on a slow link (a 256 KiB read would take 5 s at 50 KB/s).
const PIECE: usize = 64 * 1024;

/// Which limit cut a request; the error the SDK sees (as a timeout) carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The request body stopped moving.
    Stalled(Duration),
    /// The request was sent and no response started.
    Silent(Duration),
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cut::Stalled(d) => write!(
                f,
                "sending the request stalled: no byte was taken for {} s",
                d.as_secs()
            ),
            Cut::Silent(d) => write!(
                f,
                "the server did not start its response within {} s of the request being sent",
                d.as_secs()
            ),
        }
    }
}

impl std::error::Error for Cut {}

/// An HTTP client whose connectors all get the watchdog.
#[derive(Debug)]
pub struct Guarded {
    inner: SharedHttpClient,
    limit: Duration,
}

impl Guarded {
    pub fn new(inner: SharedHttpClient, limit: Duration) -> Self {
        Self { inner, limit }
    }
}

impl HttpClient for Guarded {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Watchdog {
            inner: self.inner.http_connector(settings, components),
            limit: self.limit,
        })
    }

    fn validate_base_client_config(
        &self,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
        cfg: &aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner.validate_base_client_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct Watchdog {
    inner: SharedHttpConnector,
    limit: Duration,
}

impl HttpConnector for Watchdog {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let clock = Arc::new(Clock::new());
        let body = std::mem::replace(request.body_mut(), SdkBody::taken());
        if body.content_length() == Some(0) {
            clock.sent();
        }
        *request.body_mut() = SdkBody::from_body_1_x(Tracked::new(body, clock.clone()));
        let response = self.inner.call(request);
        let limit = self.limit;
        HttpConnectorFuture::new(async move {
            tokio::select! {
                r = response => r,
                cut = watch(&clock, limit) => Err(ConnectorError::timeout(Box::new(cut))),
            }
        })
    }
}

/// Resolves when one of the limits is passed.
async fn watch(clock: &Clock, limit: Duration) -> Cut {
    let tick = (limit / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        match clock.since_sent() {
            Some(waited) if waited >= limit => return Cut::Silent(limit),
            Some(_) => {}
            None if clock.since_progress() >= limit => return Cut::Stalled(limit),
            None => {}
        }
    }
}

/// When the body last moved, and when it was all sent, in milliseconds since the request began.
struct Clock {
    start: Instant,
    progress: AtomicU64,
    sent: AtomicU64,
}

const NOT_YET: u64 = u64::MAX;

impl Clock {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            progress: AtomicU64::new(0),
            sent: AtomicU64::new(NOT_YET),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NOT_YET - 1)
    }

    fn moved(&self) {
        self.progress.store(self.now(), Ordering::Relaxed);
    }

    fn sent(&self) {
        let now = self.now();
        let _ = self
            .sent
            .compare_exchange(NOT_YET, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn since_progress(&self) -> Duration {
        Duration::from_millis(
            self.now()
                .saturating_sub(self.progress.load(Ordering::Relaxed)),
        )
    }

    fn since_sent(&self) -> Option<Duration> {
        match self.sent.load(Ordering::Relaxed) {
            NOT_YET => None,
            at => Some(Duration::from_millis(self.now().saturating_sub(at))),
        }
    }
}

/// The request body, handed out in pieces of at most [`PIECE`] bytes, telling the clock each
/// time the connection takes one and when the last has gone.
struct Tracked {
    inner: SdkBody,
    pending: Bytes,
    /// Bytes still to hand out, when the length is known: hyper stops polling a body once its
    /// Content-Length has gone, so the end must be seen here, not only as the body's `None`.
    remaining: Option<u64>,
    clock: Arc<Clock>,
}

impl Tracked {
    fn new(inner: SdkBody, clock: Arc<Clock>) -> Self {
        let remaining = http_body::Body::size_hint(&inner).exact();
        Self {
            inner,
            pending: Bytes::new(),
            remaining,
            clock,
        }
    }

    /// One frame of `n` bytes goes to the connection.
    fn handed(&mut self, n: usize) {
        self.clock.moved();
        if let Some(left) = &mut self.remaining {
            *left = left.saturating_sub(n as u64);
            if *left == 0 {
                self.clock.sent();
            }
        }
    }
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if !this.pending.is_empty() {
            let n = this.pending.len().min(PIECE);
            this.handed(n);
            return Poll::Ready(Some(Ok(Frame::data(this.pending.split_to(n)))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    if data.len() > PIECE {
                        this.pending = data.split_off(PIECE);
                    }
                    this.handed(data.len());
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => {
                    this.clock.moved();
                    Poll::Ready(Some(Ok(frame)))
                }
            },
            Poll::Ready(None) => {
                this.clock.sent();
                Poll::Ready(None)
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        let pending = self.pending.len() as u64;
        hint.set_lower(hint.lower() + pending);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + pending);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn bodies_are_handed_out_in_pieces_and_the_end_is_seen() {
        let clock = Arc::new(Clock::new());
        let data = Bytes::from(vec![7u8; 3 * PIECE + 5]);
        let mut body = Tracked::new(SdkBody::from(data.clone()), clock.clone());
        assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
        let mut pieces = Vec::new();
        // Up to the last byte, not the end of the stream: hyper stops there.
        while pieces.iter().map(Bytes::len).sum::<usize>() < data.len() {
            assert!(clock.since_sent().is_none());
            pieces.push(body.frame().await.unwrap().unwrap().into_data().unwrap());
        }
        assert_eq!(pieces.len(), 4);
        assert!(pieces.iter().all(|p| p.len() <= PIECE));
        assert_eq!(pieces.concat(), data.to_vec());
        assert!(clock.since_sent().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_server_and_a_stalled_body_are_cut() {
        let limit = Duration::from_secs(10);
        // Sent, then nothing: cut after the limit.
        let clock = Clock::new();
        clock.sent();
        assert_eq!(watch(&clock, limit).await, Cut::Silent(limit));
        // Never sent, never moving: a stall.
        let clock = Clock::new();
        assert_eq!(watch(&clock, limit).await, Cut::Stalled(limit));
    }

    #[test]
    fn the_messages_say_which() {
        let d = Duration::from_secs(10);
        assert!(Cut::Stalled(d).to_string().contains("stalled"));
        assert!(
            Cut::Silent(d)
                .to_string()
                .contains("did not start its response")
        );
    }
}
