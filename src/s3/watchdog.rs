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

use aws_smithy_runtime_api::client::connection::CaptureSmithyConnection;
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

use super::limit::{Gate, Limited, TokenBucket};
use super::socket;

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

/// The command's bandwidth caps, one bucket per direction (see [`super::limit`]).
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    pub upload: Option<Arc<TokenBucket>>,
    pub download: Option<Arc<TokenBucket>>,
}

/// An HTTP client whose connectors all get the watchdog (and the bandwidth caps).
#[derive(Debug)]
pub struct Guarded {
    inner: SharedHttpClient,
    limit: Duration,
    buckets: Buckets,
    /// Requests may go through a proxy: see [`watch`].
    behind_proxy: bool,
}

impl Guarded {
    pub fn new(inner: SharedHttpClient, limit: Duration, buckets: Buckets) -> Self {
        Self {
            inner,
            limit,
            buckets,
            behind_proxy: false,
        }
    }

    /// Requests may go through a proxy (one is configured).
    pub fn behind_proxy(mut self, behind_proxy: bool) -> Self {
        self.behind_proxy = behind_proxy;
        self
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
            buckets: self.buckets.clone(),
            behind_proxy: self.behind_proxy,
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
    buckets: Buckets,
    behind_proxy: bool,
}

impl HttpConnector for Watchdog {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let clock = Arc::new(Clock::new());
        let body = std::mem::replace(request.body_mut(), SdkBody::taken());
        if body.content_length() == Some(0) {
            clock.sent();
        }
        let connection = request.extension::<CaptureSmithyConnection>().cloned();
        *request.body_mut() = SdkBody::from_body_1_x(
            Tracked::new(body, clock.clone(), self.buckets.upload.clone()).on(connection),
        );
        // A server-side copy is work the server does before it answers: wait for that too.
        let limit = self.limit
            + request
                .extension::<ServerWork>()
                .map_or(Duration::ZERO, |w| w.0);
        let response = self.inner.call(request);
        let download = self.buckets.download.clone();
        let behind_proxy = self.behind_proxy;
        HttpConnectorFuture::new(async move {
            let response = tokio::select! {
                r = response => r,
                cut = watch(&clock, limit, behind_proxy) => {
                    tracing::debug!("attempt cut: {cut}");
                    Err(ConnectorError::timeout(Box::new(cut)))
                }
            };
            match download {
                Some(bucket) => response.map(|r| {
                    r.map(|body| SdkBody::from_body_1_x(Limited::new(body, bucket.clone())))
                }),
                None => response,
            }
        })
    }
}

/// How long the server may work on a request before its response starts, on top of
/// `--timeout`: a server-side copy (CopyObject, UploadPartCopy) is answered on many stores only
/// once the bytes are copied. Set on a request by the [`ExpectServerWork`] interceptor.
#[derive(Debug, Clone, Copy)]
pub struct ServerWork(pub Duration);

/// The slowest copy rate allowed for before a copy counts as silent: 512 KiB/s per request
/// (s3s-fs, copying 16 MiB parts 16 at a time on 2 cores, managed about 1 MiB/s per request).
const COPY_BYTES_PER_SEC: u64 = 512 * 1024;

/// At most this on top of `--timeout`, however large the copy.
const MAX_SERVER_WORK: Duration = Duration::from_secs(15 * 60);

impl ServerWork {
    /// The allowance for the server copying `bytes`.
    pub fn copying(bytes: u64) -> Self {
        ServerWork(Duration::from_secs(bytes / COPY_BYTES_PER_SEC).min(MAX_SERVER_WORK))
    }
}

/// Tags each attempt of a request with its [`ServerWork`].
#[derive(Debug)]
pub struct ExpectServerWork(pub ServerWork);

impl aws_smithy_runtime_api::client::interceptors::Intercept for ExpectServerWork {
    fn name(&self) -> &'static str {
        "s3blob: server work"
    }

    fn modify_before_transmit(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        context.request_mut().add_extension(self.0);
        Ok(())
    }
}

/// Resolves when one of the limits is passed.
///
/// Behind a proxy the socket's peer is the proxy, which may have taken the whole body and still
/// be passing it on over a slow link: there an answer is also awaited for as long as it would
/// be without the socket's word.
async fn watch(clock: &Clock, limit: Duration, behind_proxy: bool) -> Cut {
    let tick = (limit / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut acked = None;
    loop {
        tokio::time::sleep(tick).await;
        if clock.since_sent().is_none() {
            if clock.since_progress() >= limit {
                return Cut::Stalled(limit);
            }
            continue;
        }
        // The whole body is handed over; the server cannot answer before it has it.
        match clock
            .connection
            .get()
            .and_then(socket::Connection::delivery)
        {
            Some(now) => {
                if acked != Some(now.acked) {
                    acked = Some(now.acked);
                    clock.moved();
                }
                // Still delivering, or delivered and waiting for the answer: either way the
                // clock runs from the last byte the server acknowledged.
                if clock.since_progress() >= limit {
                    if now.waiting {
                        return Cut::Stalled(limit);
                    }
                    if !behind_proxy
                        || clock
                            .since_sent()
                            .is_some_and(|w| w >= limit + clock.drain())
                    {
                        return Cut::Silent(limit);
                    }
                }
            }
            // Where the connection cannot be asked: the time the buffers may take to drain
            // at the rate the body went.
            None => {
                if clock
                    .since_sent()
                    .is_some_and(|w| w >= limit + clock.drain())
                {
                    return Cut::Silent(limit);
                }
            }
        }
    }
}

/// What the kernel's socket buffers can hold between the client and the server (Linux's
/// defaults allow 4 MiB of send and 6 MiB of receive buffer), with some room.
const BUFFERED_AT_MOST: u64 = 16 * 1024 * 1024;

/// When the body last moved, and when it was all sent, in milliseconds since the request began.
struct Clock {
    start: Instant,
    progress: AtomicU64,
    sent: AtomicU64,
    /// Body bytes handed to the connection.
    bytes: AtomicU64,
    /// The socket the body goes out on, when it could be found: once the body is handed
    /// over, what it has delivered tells a slow link from a silent server.
    connection: std::sync::OnceLock<socket::Connection>,
}

const NOT_YET: u64 = u64::MAX;

impl Clock {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            progress: AtomicU64::new(0),
            sent: AtomicU64::new(NOT_YET),
            bytes: AtomicU64::new(0),
            connection: std::sync::OnceLock::new(),
        }
    }

    /// How long the bytes still in the socket buffers may take to reach the server once the
    /// whole body is handed over, at the rate the body went: on a slow link several MiB sit in
    /// the kernel's buffers when the last byte is handed, and the server cannot answer before
    /// it has read them. Zero for a request without a body or on a fast link.
    fn drain(&self) -> Duration {
        let sent_ms = match self.sent.load(Ordering::Relaxed) {
            NOT_YET => return Duration::ZERO,
            at => at.max(1),
        };
        let bytes = self.bytes.load(Ordering::Relaxed);
        let buffered = bytes.min(BUFFERED_AT_MOST);
        // buffered / (bytes / sent_ms), in milliseconds, with room for the rate measured
        // early being higher (the buffers filled at once).
        Duration::from_millis(buffered.saturating_mul(sent_ms).saturating_mul(2) / bytes.max(1))
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NOT_YET - 1)
    }

    fn moved(&self) {
        self.progress.store(self.now(), Ordering::Relaxed);
    }

    fn took(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.moved();
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

/// The request body, handed out in pieces of at most [`PIECE`] bytes (smaller under a
/// bandwidth cap), telling the clock each time the connection takes one and when the last has
/// gone.
struct Tracked {
    inner: SdkBody,
    pending: Bytes,
    /// Bytes still to hand out, when the length is known: hyper stops polling a body once its
    /// Content-Length has gone, so the end must be seen here, not only as the body's `None`.
    remaining: Option<u64>,
    clock: Arc<Clock>,
    /// The upload cap, if any; waiting for it is not a stall.
    bucket: Option<Arc<TokenBucket>>,
    gate: Gate,
    /// The connection the request goes out on, until its socket's unsent bytes are capped
    /// (before the first byte of the body): then "taken" means sent, not buffered.
    connection: Option<CaptureSmithyConnection>,
}

impl Tracked {
    fn new(inner: SdkBody, clock: Arc<Clock>, bucket: Option<Arc<TokenBucket>>) -> Self {
        let remaining = http_body::Body::size_hint(&inner).exact();
        Self {
            inner,
            pending: Bytes::new(),
            remaining,
            clock,
            bucket,
            gate: Gate::default(),
            connection: None,
        }
    }

    /// Caps the unsent bytes of the connection the body goes out on (see [`socket`]).
    fn on(mut self, connection: Option<CaptureSmithyConnection>) -> Self {
        self.connection = connection;
        self
    }

    /// Once, when the body first moves: hyper polls the body only once the connection is up.
    fn cap_unsent(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        let Some(metadata) = connection.get() else {
            tracing::debug!("no connection to cap the unsent bytes of");
            return;
        };
        let (Some(local), Some(peer)) = (metadata.local_addr(), metadata.remote_addr()) else {
            return;
        };
        match socket::cap_unsent(local, peer, socket::UNSENT_AT_MOST) {
            Ok(Some(socket)) => {
                tracing::trace!(%local, %peer, "unsent bytes capped");
                let _ = self.clock.connection.set(socket);
            }
            Ok(None) => tracing::trace!(%local, %peer, "unsent bytes not capped: no such socket"),
            Err(e) => tracing::debug!(%local, %peer, "unsent bytes not capped: {e}"),
        }
    }

    fn piece(&self) -> usize {
        self.bucket.as_ref().map_or(PIECE, |b| b.piece().min(PIECE))
    }

    /// One frame of `n` bytes goes to the connection.
    fn handed(&mut self, n: usize) {
        if let Some(bucket) = &self.bucket {
            bucket.spend(n);
        }
        self.clock.took(n);
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
        this.cap_unsent();
        if let Some(bucket) = &this.bucket
            && this.gate.poll_open(bucket, cx).is_pending()
        {
            // Held back by the cap, not by the connection.
            this.clock.moved();
            return Poll::Pending;
        }
        let piece = this.piece();
        if !this.pending.is_empty() {
            let n = this.pending.len().min(piece);
            this.handed(n);
            return Poll::Ready(Some(Ok(Frame::data(this.pending.split_to(n)))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    if data.len() > piece {
                        this.pending = data.split_off(piece);
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
        let mut body = Tracked::new(SdkBody::from(data.clone()), clock.clone(), None);
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
        assert_eq!(watch(&clock, limit, false).await, Cut::Silent(limit));
        // Never sent, never moving: a stall.
        let clock = Clock::new();
        assert_eq!(watch(&clock, limit, false).await, Cut::Stalled(limit));
    }

    #[test]
    fn a_slow_body_gets_time_to_drain_from_the_buffers() {
        let clock = Clock::new();
        assert_eq!(clock.drain(), Duration::ZERO);
        // 40 MiB handed in 200 s (200 KiB/s): 16 MiB may still be buffered, 80 s at that
        // rate, doubled.
        clock.bytes.store(40 << 20, Ordering::Relaxed);
        clock.sent.store(200_000, Ordering::Relaxed);
        assert_eq!(clock.drain(), Duration::from_secs(160));
        // 1 GiB in 2 s: nothing to speak of.
        clock.bytes.store(1 << 30, Ordering::Relaxed);
        clock.sent.store(2_000, Ordering::Relaxed);
        assert!(clock.drain() < Duration::from_millis(100));
    }

    #[test]
    fn copies_get_time_for_the_server_to_copy() {
        assert_eq!(
            ServerWork::copying(16 * 1024 * 1024).0,
            Duration::from_secs(32)
        );
        assert_eq!(ServerWork::copying(5 << 40).0, MAX_SERVER_WORK);
        assert_eq!(ServerWork::copying(1000).0, Duration::ZERO);
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
