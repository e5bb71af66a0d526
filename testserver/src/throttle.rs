//! An S3-like network model for benchmarks: a bandwidth cap per TCP connection and direction
//! (a token bucket on the accepted socket) and a fixed delay before every response's headers
//! (a wrapper around the HTTP service).
//!
//! On loopback every connection is otherwise unlimited, so a client's concurrency never shows;
//! AWS S3 serves roughly 85-90 MB/s per request and each request costs tens of milliseconds.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The network model applied to every connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetModel {
    /// Bytes per second, per connection and per direction; `None` for no cap.
    pub bandwidth: Option<u64>,
    /// Delay before the headers of every response.
    pub latency: Duration,
}

impl NetModel {
    /// No cap, no delay: plain loopback.
    pub const NONE: NetModel = NetModel {
        bandwidth: None,
        latency: Duration::ZERO,
    };

    /// Roughly what one request to AWS S3 gets: 90 MB/s (90 * 10^6 bytes/s) per connection in
    /// each direction, and 30 ms before each response.
    pub const S3: NetModel = NetModel {
        bandwidth: Some(90_000_000),
        latency: Duration::from_millis(30),
    };
}

/// Largest burst a bucket holds. Tokio's timer ticks in milliseconds, so the burst must cover
/// at least a millisecond at the target rate (90 KB at 90 MB/s), or the timer would cap it.
const BURST: f64 = 256.0 * 1024.0;
/// A waiting side sleeps until at least this much can be moved, to keep wake-ups few.
const MIN_GRANT: f64 = 32.0 * 1024.0;

/// A token bucket: `rate` bytes per second, at most `burst` at once.
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl TokenBucket {
    fn new(rate: u64) -> Self {
        let rate = rate.max(1) as f64;
        let burst = BURST.min(rate);
        Self {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
            sleep: None,
        }
    }

    /// Waits until some bytes may move; returns how many.
    fn poll_grant(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        let min = MIN_GRANT.min(self.burst);
        loop {
            let now = Instant::now();
            let earned = now.duration_since(self.last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + earned).min(self.burst);
            self.last = now;
            if self.tokens >= min {
                self.sleep = None;
                return Poll::Ready(self.tokens as usize);
            }
            let deadline = now + Duration::from_secs_f64((min - self.tokens) / self.rate);
            let sleep = match &mut self.sleep {
                Some(s) => {
                    s.as_mut().reset(deadline);
                    s
                }
                None => self
                    .sleep
                    .insert(Box::pin(tokio::time::sleep_until(deadline))),
            };
            ready!(sleep.as_mut().poll(cx));
        }
    }

    fn spend(&mut self, n: usize) {
        self.tokens -= n as f64;
    }
}

/// A stream whose reads and writes are each held to a byte rate.
pub struct Throttled<S> {
    inner: S,
    read: TokenBucket,
    write: TokenBucket,
    /// Where the bytes read are counted, if anywhere.
    stats: Option<std::sync::Arc<crate::stats::Stats>>,
}

impl<S> Throttled<S> {
    /// Caps `inner` at `rate` bytes per second in each direction.
    pub fn new(inner: S, rate: u64) -> Self {
        Self {
            inner,
            read: TokenBucket::new(rate),
            write: TokenBucket::new(rate),
            stats: None,
        }
    }

    /// Counts the bytes read in `stats`.
    pub fn counted(mut self, stats: std::sync::Arc<crate::stats::Stats>) -> Self {
        self.stats = Some(stats);
        self
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Throttled<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let this = &mut *self;
        let grant = ready!(this.read.poll_grant(cx)).min(buf.remaining());
        // Read into at most `grant` bytes of the caller's buffer (safe code only: the slice is
        // initialised first, which costs a memset of memory hyper is about to fill anyway).
        let dst = buf.initialize_unfilled_to(grant);
        let mut sub = ReadBuf::new(dst);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut sub))?;
        let n = sub.filled().len();
        buf.advance(n);
        this.read.spend(n);
        if let Some(stats) = &this.stats {
            stats.received(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Throttled<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Pin::new(&mut self.inner).poll_write(cx, data);
        }
        let this = &mut *self;
        let grant = ready!(this.write.poll_grant(cx)).min(data.len());
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &data[..grant]))?;
        this.write.spend(n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        }
        let this = &mut *self;
        let mut left = ready!(this.write.poll_grant(cx)).min(total);
        let mut limited = Vec::with_capacity(bufs.len());
        for b in bufs {
            if left == 0 {
                break;
            }
            let n = b.len().min(left);
            if n > 0 {
                limited.push(IoSlice::new(&b[..n]));
                left -= n;
            }
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, &limited))?;
        this.write.spend(n);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An HTTP service that holds every response for `delay` before its headers go out.
#[derive(Clone)]
pub struct Delayed<S> {
    inner: S,
    delay: Duration,
}

impl<S> Delayed<S> {
    pub fn new(inner: S, delay: Duration) -> Self {
        Self { inner, delay }
    }
}

impl<S, R> hyper::service::Service<R> for Delayed<S>
where
    S: hyper::service::Service<R>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, req: R) -> Self::Future {
        let fut = self.inner.call(req);
        let delay = self.delay;
        Box::pin(async move {
            let res = fut.await;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            res
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// 2 MB through a 10 MB/s cap takes about 0.2 s (less the initial burst), each way.
    #[tokio::test]
    async fn caps_both_directions() {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let mut a = Throttled::new(a, 10_000_000);
        let mut b = b;
        let data = vec![7u8; 2_000_000];
        let start = Instant::now();
        let writer = {
            let data = data.clone();
            tokio::spawn(async move {
                a.write_all(&data).await.unwrap();
                a.shutdown().await.unwrap();
                a
            })
        };
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        let mut a = writer.await.unwrap();
        let write_time = start.elapsed();
        assert_eq!(got, data);
        assert!(write_time >= Duration::from_millis(150), "{write_time:?}");

        let start = Instant::now();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            a.read_to_end(&mut got).await.unwrap();
            got
        });
        b.write_all(&data).await.unwrap();
        b.shutdown().await.unwrap();
        let got = reader.await.unwrap();
        let read_time = start.elapsed();
        assert_eq!(got.len(), data.len());
        assert!(read_time >= Duration::from_millis(150), "{read_time:?}");
    }
}
