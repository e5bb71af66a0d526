//! Counters for benchmarks: TCP connections accepted and S3 requests served, answered as JSON
//! on `GET /__s3blob/stats` (no authentication) before the request reaches the S3 service.
//!
//! `__s3blob` cannot be an S3 bucket name (bucket names start with a letter or digit), so the
//! path never shadows a real request. The counts leave out the connections that asked for the
//! stats and those requests themselves, so a reader that opens a fresh connection before and
//! after a command (e.g. `curl`) gets exactly the command's connections and requests as the
//! difference.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The path answered with the counters.
pub const STATS_PATH: &str = "/__s3blob/stats";

/// Counters shared by every connection of one server.
#[derive(Debug, Default)]
pub struct Stats {
    accepted: AtomicU64,
    stats_connections: AtomicU64,
    requests: AtomicU64,
    received: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// TCP connections accepted, not counting the ones that asked for the stats.
    pub connections: u64,
    /// HTTP requests passed to the S3 service (every request but the stats requests).
    pub requests: u64,
    /// Every TCP connection accepted, stats readers included.
    pub accepted: u64,
    /// Bytes read from connections under a bandwidth cap (`--bandwidth`), headers and bodies,
    /// stats requests included (a few hundred bytes each): what the clients sent over the
    /// capped link, a body sent twice counted twice. 0 without a cap.
    pub received: u64,
}

impl Snapshot {
    /// The JSON body of the stats response.
    pub fn to_json(self) -> String {
        format!(
            "{{\"connections\": {}, \"requests\": {}, \"accepted\": {}, \"received\": {}}}\n",
            self.connections, self.requests, self.accepted, self.received
        )
    }
}

impl Stats {
    /// Counts one accepted TCP connection.
    pub fn connection_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// The current counts.
    pub fn snapshot(&self) -> Snapshot {
        let accepted = self.accepted.load(Ordering::Relaxed);
        let readers = self.stats_connections.load(Ordering::Relaxed);
        Snapshot {
            connections: accepted.saturating_sub(readers),
            requests: self.requests.load(Ordering::Relaxed),
            accepted,
            received: self.received.load(Ordering::Relaxed),
        }
    }

    /// Counts `n` bytes read from a capped connection.
    pub fn received(&self, n: usize) {
        self.received.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The service for one accepted connection: answers the stats path, counts and passes on
    /// everything else.
    pub fn connection_service<S>(self: &Arc<Self>, inner: S) -> Counted<S> {
        Counted {
            inner,
            stats: Arc::clone(self),
            asked: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// An HTTP service (one per connection) in front of the S3 service: see [`Stats`].
#[derive(Clone)]
pub struct Counted<S> {
    inner: S,
    stats: Arc<Stats>,
    /// Whether this connection has asked for the stats (then it is not counted).
    asked: Arc<AtomicBool>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> hyper::service::Service<http::Request<B>> for Counted<S>
where
    S: hyper::service::Service<
            http::Request<B>,
            Response = http::Response<s3s::Body>,
            Error = s3s::HttpError,
        >,
    S::Future: Send + 'static,
{
    type Response = http::Response<s3s::Body>;
    type Error = s3s::HttpError;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() == STATS_PATH {
            if !self.asked.swap(true, Ordering::Relaxed) {
                self.stats.stats_connections.fetch_add(1, Ordering::Relaxed);
            }
            let res = if req.method() == http::Method::GET || req.method() == http::Method::HEAD {
                http::Response::builder()
                    .status(http::StatusCode::OK)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header(http::header::CACHE_CONTROL, "no-store")
                    .body(s3s::Body::from(self.stats.snapshot().to_json()))
            } else {
                http::Response::builder()
                    .status(http::StatusCode::METHOD_NOT_ALLOWED)
                    .header(http::header::ALLOW, "GET, HEAD")
                    .body(s3s::Body::empty())
            };
            let res = res.map_err(|e| s3s::HttpError::new(Box::new(e)));
            return Box::pin(async move { res });
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        Box::pin(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    /// Stats readers see only the other connections and requests.
    #[tokio::test]
    async fn counts_connections_and_requests() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let mem = crate::Memory::new();
        mem.create_bucket_now("b");
        tokio::spawn(crate::serve_backend(
            listener,
            mem,
            "ak",
            "sk",
            crate::NetModel::NONE,
        ));

        let first = get(addr, STATS_PATH).await;
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(
            first.contains(
                "{\"connections\": 0, \"requests\": 0, \"accepted\": 1, \"received\": 0}"
            ),
            "{first}"
        );
        // Two S3 requests (unsigned, so refused by s3s) on two connections.
        for _ in 0..2 {
            let r = get(addr, "/b/key").await;
            assert!(r.starts_with("HTTP/1.1 4"), "{r}");
        }
        let after = get(addr, STATS_PATH).await;
        assert!(
            after.contains(
                "{\"connections\": 2, \"requests\": 2, \"accepted\": 4, \"received\": 0}"
            ),
            "{after}"
        );
    }
}
