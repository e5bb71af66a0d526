//! Fault injection for the test suite: an HTTP layer in front of the S3 service that, for the
//! next N requests of one S3 operation, answers with an S3 error, delays, cuts the request or
//! the response body after K bytes, stalls mid-body, or flips a byte of the response body. It
//! also records every request it saw (operation, query and headers), so tests can count
//! requests and retries, and tell which credentials signed each one.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::cut::{Breakable, Breaker};
use crate::{Running, Strict};

/// The S3 operations a fault can target, told apart by method and query as S3 does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    PutObject,
    /// `PUT` of a key with `x-amz-copy-source`: a server-side copy.
    CopyObject,
    CreateMultipartUpload,
    UploadPart,
    /// `PUT ?partNumber=10000&uploadId`: the part s3blob stores first in a multipart upload of
    /// a file to describe it, so a later run can resume it (its own bookkeeping, told apart like
    /// the manifest's requests: never part of the object).
    DescribeUpload,
    /// `PUT ?partNumber&uploadId` with `x-amz-copy-source`: a part copied on the server.
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    GetObject,
    HeadObject,
    /// Requests on a release manifest (`.../.s3blob-manifest.json`): s3blob's own bookkeeping,
    /// told apart from the artifacts' data so faults and counts aimed at one do not hit the
    /// other.
    GetManifest,
    HeadManifest,
    PutManifest,
    DeleteManifest,
    /// Any request on a manifest's signature (`.../.s3blob-manifest.json.minisig`), also
    /// bookkeeping.
    Signature,
    ListObjectsV2,
    /// `GET /bucket?uploads`: the bucket's unfinished multipart uploads.
    ListMultipartUploads,
    /// `GET /bucket/key?uploadId=ID`: the parts of one.
    ListParts,
    DeleteObject,
    /// `POST /bucket?delete`: DeleteObjects.
    DeleteObjects,
    Other,
}

/// The file name s3blob gives a release's manifest.
const MANIFEST_NAME: &str = ".s3blob-manifest.json";

impl Op {
    fn of<B>(req: &http::Request<B>) -> Op {
        let query = req.uri().query().unwrap_or("");
        let has = |name: &str| {
            query
                .split('&')
                .any(|kv| kv == name || kv.starts_with(&format!("{name}=")))
        };
        // "/bucket/key...": a key is present when the path has a second segment.
        let has_key = req
            .uri()
            .path()
            .trim_start_matches('/')
            .split_once('/')
            .is_some_and(|(_, k)| !k.is_empty());
        let manifest = req.uri().path().ends_with(&format!("/{MANIFEST_NAME}"));
        let signature = req
            .uri()
            .path()
            .ends_with(&format!("/{MANIFEST_NAME}.minisig"));
        let copy = req.headers().contains_key("x-amz-copy-source");
        match *req.method() {
            _ if signature => Op::Signature,
            http::Method::GET if manifest => Op::GetManifest,
            http::Method::HEAD if manifest => Op::HeadManifest,
            http::Method::PUT if manifest => Op::PutManifest,
            http::Method::DELETE if manifest => Op::DeleteManifest,
            http::Method::PUT if has_key && has("partNumber") && copy => Op::UploadPartCopy,
            http::Method::PUT if has_key && query.split('&').any(|kv| kv == "partNumber=10000") => {
                Op::DescribeUpload
            }
            http::Method::PUT if has_key && has("partNumber") => Op::UploadPart,
            http::Method::PUT if has_key && copy => Op::CopyObject,
            http::Method::PUT if has_key => Op::PutObject,
            http::Method::POST if has("uploads") => Op::CreateMultipartUpload,
            http::Method::POST if has("uploadId") => Op::CompleteMultipartUpload,
            http::Method::DELETE if has("uploadId") => Op::AbortMultipartUpload,
            http::Method::DELETE if has_key => Op::DeleteObject,
            http::Method::POST if has("delete") => Op::DeleteObjects,
            http::Method::GET if has_key && has("uploadId") => Op::ListParts,
            http::Method::GET if has_key => Op::GetObject,
            http::Method::GET if has("uploads") => Op::ListMultipartUploads,
            http::Method::GET if has("list-type") => Op::ListObjectsV2,
            http::Method::HEAD if has_key => Op::HeadObject,
            _ => Op::Other,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and S3 error code (and a proper XML body) instead of serving.
    Error { status: u16, code: &'static str },
    /// Serve normally, but hold the response this long first.
    Delay(Duration),
    /// Hold the request until the test releases the gate ([`Faults::hold`]), then serve it.
    Hold(Gate),
    /// Read K bytes of the request body, then close the connection without an answer.
    CutRequest(usize),
    /// Send the headers (with the full Content-Length) and K bytes of the body, then close the
    /// connection: the client sees a body shorter than announced. The K bytes are on the wire
    /// before the close (see [`crate::cut`]); a body of K bytes or fewer loses its last byte.
    CutResponse(usize),
    /// Send the headers and K bytes of the body, then nothing more until the server stops.
    Stall(usize),
    /// Serve the body with the byte at this offset flipped.
    FlipByte(usize),
}

/// One request as the fault layer received it, before S3 authentication: a request the S3
/// service then refused is logged too.
#[derive(Debug, Clone)]
pub struct Logged {
    pub op: Op,
    /// The path, without the query (`/bucket/key`, still percent-encoded).
    pub path: String,
    /// The raw query, empty when there is none; a presigned request carries its credential here.
    pub query: String,
    pub headers: http::HeaderMap,
}

impl Logged {
    fn of<B>(req: &http::Request<B>, op: Op) -> Self {
        Self {
            op,
            path: req.uri().path().to_owned(),
            query: req.uri().query().unwrap_or("").to_owned(),
            headers: req.headers().clone(),
        }
    }

    /// The value of header `name`, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The decoded value of query parameter `name`.
    fn query_param(&self, name: &str) -> Option<String> {
        crate::credentials::parse_form(&self.query)
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The access key that signed the request: from `Authorization: AWS4-HMAC-SHA256
    /// Credential=AKID/...`, or from `X-Amz-Credential` when the request is presigned.
    pub fn access_key(&self) -> Option<String> {
        match self.header("authorization") {
            Some(auth) => crate::credentials::credential_access_key(&auth).map(str::to_owned),
            None => self
                .query_param("X-Amz-Credential")
                .and_then(|c| crate::credentials::scope_access_key(&c).map(str::to_owned)),
        }
    }

    /// The session token of temporary credentials: the `x-amz-security-token` header, or the
    /// `X-Amz-Security-Token` parameter of a presigned request. `None` for long-term keys.
    pub fn session_token(&self) -> Option<String> {
        self.header("x-amz-security-token")
            .or_else(|| self.query_param("X-Amz-Security-Token"))
    }
}

struct Rule {
    op: Op,
    remaining: usize,
    fault: Fault,
}

/// How the store answers writes carrying `x-amz-checksum-crc64nvme` (or announcing CRC64NVME).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefuseCrc64 {
    /// 400 InvalidRequest "Checksum algorithm CRC64NVME is not supported", as some emulators do.
    BadRequest,
    /// 500 InternalError, as Cloudflare R2 did until 2025.
    InternalError,
}

/// The shared fault plan and request log of one server.
#[derive(Default)]
pub struct Faults {
    /// Stores that depart from S3 (see [`crate::Personality`] for those the backend plays).
    pub personality: Arc<crate::Personality>,
    refuse_crc64: Mutex<Option<RefuseCrc64>>,
    /// Answers carry no `x-amz-checksum-*` headers (a store that keeps no checksums).
    keep_no_checksums: std::sync::atomic::AtomicBool,
    rules: Mutex<VecDeque<Rule>>,
    log: Mutex<Vec<Logged>>,
    /// Data requests (PutObject, UploadPart, GetObject) being answered now, and the most ever.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// Counts a data request as in flight until dropped.
struct InFlight<'a>(&'a Faults);

impl<'a> InFlight<'a> {
    fn new(faults: &'a Faults) -> Self {
        let now = faults.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        faults.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(faults)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A gate the fault layer holds requests at until the test opens it: tests synchronise on
/// events ("the request has arrived and is held") instead of sleeping. Dropping every handle
/// of a gate does not open it; requests still held end when the server is dropped.
#[derive(Debug, Clone)]
pub struct Gate(Arc<tokio::sync::Semaphore>);

impl Gate {
    /// Lets every held request (and every later one) through.
    pub fn release(&self) {
        self.0.add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    }

    pub(crate) async fn wait(&self) {
        // Closed or open, either way the request goes on.
        let _ = self.0.acquire().await;
    }
}

impl Faults {
    /// Refuses every request that carries a CRC64NVME checksum header, the way `how` says.
    pub fn refuse_crc64nvme(&self, how: Option<RefuseCrc64>) {
        *self.refuse_crc64.lock().unwrap() = how;
    }

    /// Ignores `If-None-Match: *` on writes (overwrites), as Garage does.
    pub fn ignore_if_none_match(&self, on: bool) {
        self.personality
            .ignore_if_none_match
            .store(on, Ordering::Relaxed);
    }

    /// Checks `If-None-Match: *` on PutObject and CompleteMultipartUpload when the write
    /// arrives, then writes without holding the key, as s3s-fs and moto do on their own: two
    /// writes that both pass the check both land.
    pub fn check_conditions_apart(&self, on: bool) {
        self.personality
            .check_conditions_apart
            .store(on, Ordering::Relaxed);
    }

    /// On a store that checks apart ([`Faults::check_conditions_apart`]): holds the next
    /// `times` conditional writes that passed their check, before they write, until the
    /// returned gate is released.
    pub fn hold_after_check(&self, times: usize) -> Gate {
        let gate = Gate(Arc::new(tokio::sync::Semaphore::new(0)));
        self.personality
            .after_check_gates
            .lock()
            .unwrap()
            .push_back((times, gate.clone()));
        gate
    }

    /// How many conditional writes have passed their check on a store that checks apart.
    pub fn passed_checks(&self) -> usize {
        self.personality.passed_checks.load(Ordering::SeqCst)
    }

    /// Ignores `If-Match` on GetObject (serves whatever the key holds now).
    pub fn ignore_if_match(&self, on: bool) {
        self.personality
            .ignore_if_match
            .store(on, Ordering::Relaxed);
    }

    /// Lists an object of `size` bytes at `key`, one the file system under s3s-fs cannot hold
    /// (see [`crate::Personality::listed_only`]).
    pub fn list_only(&self, key: &str, size: i64) {
        self.personality
            .listed_only
            .lock()
            .unwrap()
            .insert(key.to_owned(), size);
    }

    /// From now on, DeleteObjects refuses exactly `keys` (each answered as a per-key
    /// AccessDenied `Error` in a 200 answer, and kept) and deletes the rest; `&[]` ends it.
    pub fn refuse_in_delete_objects(&self, keys: &[&str]) {
        *self.personality.refused_deletes.lock().unwrap() =
            keys.iter().map(|k| (*k).to_owned()).collect();
    }

    /// Strips every `x-amz-checksum-*` header from answers, as a store keeping no checksums.
    pub fn keep_no_checksums(&self, on: bool) {
        self.keep_no_checksums.store(on, Ordering::Relaxed);
    }

    /// Holds the next `times` requests of `op` until the returned gate is released.
    pub fn hold(&self, op: Op, times: usize) -> Gate {
        let gate = Gate(Arc::new(tokio::sync::Semaphore::new(0)));
        self.inject(op, times, Fault::Hold(gate.clone()));
        gate
    }

    /// Applies `fault` to the next `times` requests of `op` (after earlier rules for `op`).
    pub fn inject(&self, op: Op, times: usize, fault: Fault) {
        self.rules.lock().unwrap().push_back(Rule {
            op,
            remaining: times,
            fault,
        });
    }

    /// Drops every pending fault.
    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
    }

    /// How many requests of `op` the server has received.
    pub fn count(&self, op: Op) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.op == op)
            .count()
    }

    /// The most data requests (PutObject, UploadPart, GetObject) that were ever being answered at
    /// once (from the request's arrival until its response headers are sent) since the last
    /// call; the count starts again from those in flight now.
    pub fn take_max_in_flight(&self) -> usize {
        let now = self.in_flight.load(Ordering::SeqCst);
        self.max_in_flight.swap(now, Ordering::SeqCst)
    }

    /// Every operation received, in order.
    pub fn log(&self) -> Vec<Op> {
        self.log.lock().unwrap().iter().map(|l| l.op).collect()
    }

    /// Every request received, in order, with its query and headers.
    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    /// Logs `req` and takes the fault, if any, planned for its operation.
    fn take(&self, req: Logged) -> Option<Fault> {
        let op = req.op;
        self.log.lock().unwrap().push(req);
        let mut rules = self.rules.lock().unwrap();
        let i = rules.iter().position(|r| r.op == op && r.remaining > 0)?;
        let rule = &mut rules[i];
        rule.remaining -= 1;
        let fault = rule.fault.clone();
        if rule.remaining == 0 {
            rules.remove(i);
        }
        Some(fault)
    }
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, io::Error>;

/// A request body that fails after `limit` bytes.
struct CutBody {
    inner: Incoming,
    left: usize,
}

impl HttpBody for CutBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.left == 0 {
            return Poll::Ready(Some(Err(io::Error::other("fault: request cut"))));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    if data.len() > self.left {
                        data.truncate(self.left);
                    }
                    self.left -= data.len();
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(io::Error::other(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Whether a request carries a CRC64NVME checksum or announces one.
fn carries_crc64<B>(req: &http::Request<B>) -> bool {
    let h = req.headers();
    h.contains_key("x-amz-checksum-crc64nvme")
        || h.get("x-amz-checksum-algorithm")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"CRC64NVME"))
}

/// An S3 error answer with a proper XML body.
fn error_response(status: u16, code: &str, message: &str) -> http::Response<BoxBody> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
    );
    http::Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(full(Bytes::from(xml)))
        .expect("valid response")
}

/// The whole of a response body (what arrived, if it broke off).
async fn whole(body: BoxBody) -> Bytes {
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default()
}

fn full(data: Bytes) -> BoxBody {
    BodyExt::boxed(http_body_util::Full::new(data).map_err(|e: Infallible| match e {}))
}

fn s3_body(body: s3s::Body) -> BoxBody {
    BodyExt::boxed(body.map_err(io::Error::other))
}

/// The HTTP service: faults first, then the S3 service.
#[derive(Clone)]
pub struct Faulty {
    inner: s3s::service::S3Service,
    faults: Arc<Faults>,
    /// This connection's: see [`crate::cut`].
    breaker: Arc<Breaker>,
}

impl hyper::service::Service<http::Request<Incoming>> for Faulty {
    type Response = http::Response<BoxBody>;
    type Error = s3s::HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let op = Op::of(&req);
        let fault = self.faults.take(Logged::of(&req, op));
        let mut inner = self.inner.clone();
        let faults = self.faults.clone();
        let breaker = self.breaker.clone();
        Box::pin(async move {
            let _in_flight = matches!(op, Op::PutObject | Op::UploadPart | Op::GetObject)
                .then(|| InFlight::new(&faults));
            let serve = |req: http::Request<Incoming>| {
                let mut inner = inner.clone();
                async move {
                    let res = tower::Service::call(&mut inner, req).await?;
                    Ok::<_, s3s::HttpError>(res.map(s3_body))
                }
            };
            let refusal = *faults.refuse_crc64.lock().unwrap();
            if let Some(how) = refusal.filter(|_| carries_crc64(&req)) {
                let _ = req.into_body().collect().await;
                let (status, code, message) = match how {
                    RefuseCrc64::BadRequest => (
                        400,
                        "InvalidRequest",
                        "Checksum algorithm CRC64NVME is not supported",
                    ),
                    RefuseCrc64::InternalError => {
                        (500, "InternalError", "We encountered an internal error")
                    }
                };
                return Ok(error_response(status, code, message));
            }
            let strip = faults.keep_no_checksums.load(Ordering::Relaxed);
            let answer = match fault {
                None => serve(req).await,
                Some(Fault::Error { status, code }) => {
                    // Read the request body first, as S3 does, so the client gets the error
                    // response rather than a broken pipe.
                    let _ = req.into_body().collect().await;
                    let xml = format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected fault</Message><RequestId>fault</RequestId></Error>"
                    );
                    Ok(http::Response::builder()
                        .status(status)
                        .header("content-type", "application/xml")
                        .body(full(Bytes::from(xml)))
                        .expect("valid response"))
                }
                Some(Fault::Delay(d)) => {
                    tokio::time::sleep(d).await;
                    serve(req).await
                }
                Some(Fault::Hold(gate)) => {
                    gate.wait().await;
                    serve(req).await
                }
                Some(Fault::CutRequest(k)) => {
                    // The service sees the body end early; whatever it answers is not sent,
                    // as on a connection that broke: the connection is closed instead (an
                    // answer sent back would race the client's writes, and the client would
                    // see an error response or a reset by luck).
                    let req = req.map(|b| CutBody { inner: b, left: k });
                    let _ = tower::Service::call(&mut inner, req).await;
                    Err(s3s::HttpError::new(Box::new(io::Error::other(
                        "fault: request cut",
                    ))))
                }
                Some(Fault::CutResponse(k) | Fault::Stall(k)) => {
                    let stall = matches!(fault, Some(Fault::Stall(_)));
                    let mut res = serve(req).await?;
                    let announced = res
                        .headers()
                        .get(http::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                        .or_else(|| http_body::Body::size_hint(res.body()).exact());
                    let len = match announced {
                        Some(len) => len,
                        // A body of unknown length: take it whole, so the break can be placed.
                        None => {
                            let (parts, body) = res.into_parts();
                            let data = whole(body).await;
                            res = http::Response::from_parts(parts, full(data.clone()));
                            data.len() as u64
                        }
                    };
                    // The break comes before the body's last byte: a body of K bytes or fewer
                    // loses its last one.
                    if let Some(last) = usize::try_from(len).ok().and_then(|l| l.checked_sub(1)) {
                        breaker.arm(k.min(last), stall);
                    }
                    Ok(res)
                }
                Some(Fault::FlipByte(at)) => {
                    let res = serve(req).await?;
                    let (parts, body) = res.into_parts();
                    let mut v = whole(body).await.to_vec();
                    if let Some(b) = v.get_mut(at) {
                        *b ^= 0x01;
                    }
                    Ok(http::Response::from_parts(parts, full(Bytes::from(v))))
                }
            };
            answer.map(|mut r| {
                if strip {
                    let names: Vec<_> = r
                        .headers()
                        .keys()
                        .filter(|n| n.as_str().starts_with("x-amz-checksum"))
                        .cloned()
                        .collect();
                    for n in names {
                        r.headers_mut().remove(n);
                    }
                }
                r
            })
        })
    }
}

/// Serves s3s-fs over `root` behind the fault layer from a thread of its own; returns the
/// address and the fault plan.
pub fn spawn(root: PathBuf, access_key: &str, secret_key: &str) -> (Running, Arc<Faults>) {
    spawn_with_keys(root, &[(access_key.to_owned(), secret_key.to_owned())])
}

/// [`spawn`], accepting requests signed with any of `keys` (access key, secret key), so a test
/// can serve several credential sources at once and tell them apart in [`Faults::requests`].
pub fn spawn_with_keys(root: PathBuf, keys: &[(String, String)]) -> (Running, Arc<Faults>) {
    spawn_server(root, keys, None)
}

/// Like [`spawn_with_keys`], with every connection held to `bandwidth` bytes per second in
/// each direction: a slow but working link.
pub fn spawn_throttled(
    root: PathBuf,
    keys: &[(String, String)],
    bandwidth: u64,
) -> (Running, Arc<Faults>) {
    spawn_server(root, keys, Some(bandwidth))
}

/// The in-memory backend ([`crate::Memory`]) behind the fault layer, accepting `keys`. The
/// personality switches of [`Faults`] that the s3s-fs backend plays (`ignore_if_none_match`,
/// `ignore_if_match`, `list_only`) do not apply to it; the fault plan and the request log do.
pub fn spawn_memory(memory: crate::Memory, keys: &[(String, String)]) -> (Running, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    spawn_backend(memory, faults, keys, None)
}

fn spawn_server(
    root: PathBuf,
    keys: &[(String, String)],
    bandwidth: Option<u64>,
) -> (Running, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let backend = Strict::with_personality(root, faults.personality.clone())
        .expect("the test server's storage directory");
    spawn_backend(backend, faults, keys, bandwidth)
}

fn spawn_backend<B: s3s::S3>(
    backend: B,
    faults: Arc<Faults>,
    keys: &[(String, String)],
    bandwidth: Option<u64>,
) -> (Running, Arc<Faults>) {
    let mut auth = s3s::auth::SimpleAuth::new();
    for (ak, sk) in keys {
        auth.register(ak.clone(), sk.clone().into());
    }
    let mut builder = s3s::service::S3ServiceBuilder::new(backend);
    builder.set_auth(auth);
    builder.set_host(crate::LoopbackHost);
    let inner = builder.build();
    let plan = faults.clone();
    let running = crate::serve_on_thread(0, move |listener| async move {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        use hyper_util::server::conn::auto::Builder as ConnBuilder;
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            // Each connection gets its own breaker, armed by the fault layer for a cut or a
            // stall of the response it is about to send.
            let breaker = Arc::new(Breaker::default());
            let service = Faulty {
                inner: inner.clone(),
                faults: plan.clone(),
                breaker: breaker.clone(),
            };
            match bandwidth {
                None => {
                    let io = TokioIo::new(Breakable::new(socket, breaker));
                    let conn = http.serve_connection(io, service).into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
                Some(rate) => {
                    let io = crate::throttle::Throttled::new(socket, rate);
                    let io = TokioIo::new(Breakable::new(io, breaker));
                    let conn = http.serve_connection(io, service).into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            }
        }
    });
    (running, faults)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_names_the_signing_key_and_session_token() {
        let signed = http::Request::put("/bkt/a/b?partNumber=1&uploadId=x")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=ASIAKEY/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
            )
            .header("x-amz-security-token", "tok")
            .body(())
            .unwrap();
        let logged = Logged::of(&signed, Op::of(&signed));
        assert_eq!(logged.op, Op::UploadPart);
        assert_eq!(logged.path, "/bkt/a/b");
        assert_eq!(logged.access_key().as_deref(), Some("ASIAKEY"));
        assert_eq!(logged.session_token().as_deref(), Some("tok"));
        assert_eq!(
            logged.header("X-Amz-Security-Token").as_deref(),
            Some("tok")
        );

        let presigned = http::Request::get(
            "/bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDP%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=a%2Bb",
        )
        .body(())
        .unwrap();
        let logged = Logged::of(&presigned, Op::of(&presigned));
        assert_eq!(logged.access_key().as_deref(), Some("AKIDP"));
        assert_eq!(logged.session_token().as_deref(), Some("a+b"));

        let anonymous = http::Request::get("/bkt/k").body(()).unwrap();
        let logged = Logged::of(&anonymous, Op::of(&anonymous));
        assert_eq!((logged.access_key(), logged.session_token()), (None, None));
    }
}
