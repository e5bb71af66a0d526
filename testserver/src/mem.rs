//! A fast in-memory S3 backend: for benchmarks, and the server the demo starts.
//!
//! Bodies are copied once into recycled 1 MiB blocks (see `Pool` for why one copy beats keeping
//! hyper's chunks); a multipart upload is completed by moving the parts' block lists into one
//! object, and a GET (ranged or not) answers with `Bytes` slices of those blocks, written by
//! hyper without further copies. A PutObject's ETag is the MD5 of its body, as S3's is (clients
//! compare it: rclone, and s3blob for a release uploaded again), or the client's `Content-MD5`
//! when it sent one (trusted, not checked); parts and multipart objects get a counter that does
//! not look like an MD5 (S3's are not MD5s of the content either). User metadata,
//! `Content-Type` and a client-supplied CRC64NVME (header or aws-chunked trailer, on PutObject
//! or CompleteMultipartUpload) are kept; the CRC64NVME is returned, as AWS does, on a full
//! GetObject or a HeadObject that asks for it with `x-amz-checksum-mode: ENABLED`. Checksums
//! are stored, never verified: this server is for measuring clients, not for testing
//! integrity. `If-None-Match: *` on PutObject and CompleteMultipartUpload answers 412 when the
//! key exists; `If-Match` on GetObject is honoured (the AWS CLI sends it on ranged GETs).
//!
//! Server-side copies follow S3's documentation: CopyObject (up to 5 GiB; metadata, content
//! type and cache control copied or, with `x-amz-metadata-directive: REPLACE`, taken from the
//! request; `If-None-Match: *` on the destination; the `x-amz-copy-source-if-*` conditions on
//! the source; a copy onto itself that changes nothing refused) and UploadPartCopy (a
//! `bytes=first-last` range of the source, the same source conditions). A copy shares the
//! source's blocks: no byte is copied.
//!
//! Not implemented (501): everything else, including versioning, ACLs and `partNumber` reads.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use s3s::dto::*;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, StdError, s3_error};

/// Smallest part S3 accepts, except for the last one.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
const MAX_PART_NUMBER: i32 = 10_000;

/// The object bytes as received: a list of chunks and where each one starts.
#[derive(Default)]
struct Blob {
    chunks: Vec<Bytes>,
    /// `starts[i]` is the offset of `chunks[i]` in the object.
    starts: Vec<u64>,
    len: u64,
}

impl Blob {
    /// The bytes of `range` (within `0..len`) as a blob of their own, sharing the blocks.
    fn sub(&self, range: std::ops::Range<u64>) -> Blob {
        let mut out = Blob::default();
        for chunk in self.slice(range).q {
            out.push(chunk);
        }
        out
    }

    fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.starts.push(self.len);
        self.len += chunk.len() as u64;
        self.chunks.push(chunk);
    }

    fn append(&mut self, other: Blob) {
        self.chunks.reserve(other.chunks.len());
        self.starts.reserve(other.chunks.len());
        for c in other.chunks {
            self.push(c);
        }
    }

    /// The bytes of `range` (within `0..len`) as slices of the stored chunks.
    fn slice(&self, range: std::ops::Range<u64>) -> Chunks {
        let mut q = VecDeque::new();
        if range.start < range.end {
            // The chunk that holds `range.start`.
            let first = self.starts.partition_point(|&s| s <= range.start) - 1;
            for (chunk, &start) in self.chunks[first..].iter().zip(&self.starts[first..]) {
                if start >= range.end {
                    break;
                }
                let from = range.start.saturating_sub(start) as usize;
                let to = (range.end - start).min(chunk.len() as u64) as usize;
                q.push_back(chunk.slice(from..to));
            }
        }
        Chunks {
            q,
            remaining: (range.end - range.start) as usize,
        }
    }
}

/// A response body made of `Bytes` slices, with an exact length.
struct Chunks {
    q: VecDeque<Bytes>,
    remaining: usize,
}

impl Stream for Chunks {
    type Item = Result<Bytes, StdError>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = Pin::into_inner(self);
        Poll::Ready(this.q.pop_front().map(|b| {
            this.remaining -= b.len();
            Ok(b)
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.q.len(), Some(self.q.len()))
    }
}

impl ByteStream for Chunks {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(self.remaining)
    }
}

struct Object {
    data: Blob,
    etag: String,
    last_modified: SystemTime,
    metadata: Option<Metadata>,
    content_type: Option<ContentType>,
    cache_control: Option<CacheControl>,
    crc64nvme: Option<String>,
    checksum_type: Option<ChecksumType>,
}

impl Object {
    fn e_tag(&self) -> ETag {
        ETag::Strong(self.etag.clone())
    }
}

struct Part {
    data: Blob,
    etag: String,
    /// The CRC64NVME UploadPart carried (trusted, like every checksum here), for ListParts.
    crc64nvme: Option<String>,
    stored: SystemTime,
}

struct Upload {
    bucket: String,
    key: String,
    metadata: Option<Metadata>,
    content_type: Option<ContentType>,
    cache_control: Option<CacheControl>,
    checksum_type: Option<ChecksumType>,
    parts: BTreeMap<i32, Part>,
    initiated: SystemTime,
}

#[derive(Default)]
struct State {
    /// Bucket name -> key -> object (a BTreeMap so listings come out sorted).
    buckets: HashMap<String, BTreeMap<String, Arc<Object>>>,
    uploads: HashMap<String, Upload>,
}

/// The in-memory S3 backend. Cheap to share: a clone serves (and shows) the same objects, so
/// a test can look at what the server holds. All state behind one mutex that is never held
/// across an await or while bytes move.
#[derive(Default, Clone)]
pub struct Memory {
    state: Arc<Mutex<State>>,
    counter: Arc<AtomicU64>,
    pool: Arc<Pool>,
}

fn no_such_bucket() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchBucket,
        "The specified bucket does not exist",
    )
}

fn no_such_upload() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchUpload,
        "The specified multipart upload does not exist",
    )
}

/// Size of the blocks request bodies are copied into.
const BLOCK: usize = 1 << 20;

/// Recycled, already-touched memory blocks for object bytes.
///
/// Keeping hyper's own chunks would avoid one copy, but every stored GiB would then sit in
/// freshly allocated pages, and on this kind of VM the kernel's page faults and zeroing cost
/// ~2.4 s of server CPU per GiB uploaded (measured with perf: 61 % in `clear_page_erms`), more
/// than the clients being measured. A memcpy into a block that already has its pages costs
/// ~0.1 s per GiB, and hyper's read buffer, released at once, is reused instead of regrown.
/// A block returns to the pool when the last `Bytes` slice of it (object or response in
/// flight) is dropped.
#[derive(Default)]
struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
}

/// A pooled block seen as the owner of `Bytes`: dropping it gives the memory back.
struct Pooled {
    buf: Vec<u8>,
    pool: Arc<Pool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if buf.capacity() == BLOCK {
            lock(&self.pool.free).push(buf);
        }
    }
}

impl Pool {
    fn take(&self) -> Vec<u8> {
        lock(&self.free)
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BLOCK))
    }

    /// Adds blocks for `bytes` bytes, their pages touched now rather than during a benchmark.
    fn prealloc(&self, bytes: u64) {
        let n = bytes.div_ceil(BLOCK as u64);
        let mut blocks = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let mut b = vec![0u8; BLOCK];
            // calloc may hand back untouched zero pages: write to every page.
            for i in (0..BLOCK).step_by(4096) {
                b[i] = 1;
            }
            b.clear();
            blocks.push(b);
        }
        lock(&self.free).extend(blocks);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads a request body into a blob of pooled blocks (small bodies get an exact-size buffer).
async fn collect(
    pool: &Arc<Pool>,
    body: Option<StreamingBlob>,
    content_length: Option<i64>,
) -> S3Result<Blob> {
    let expected = content_length.and_then(|n| u64::try_from(n).ok());
    let mut blob = Blob::default();
    let mut cur: Vec<u8> = Vec::new();
    let seal = |blob: &mut Blob, cur: &mut Vec<u8>| {
        let buf = std::mem::take(cur);
        if buf.capacity() == BLOCK {
            blob.push(Bytes::from_owner(Pooled {
                buf,
                pool: Arc::clone(pool),
            }));
        } else {
            blob.push(Bytes::from(buf));
        }
    };
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                S3Error::with_message(S3ErrorCode::IncompleteBody, format!("reading body: {e}"))
            })?;
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                if cur.len() == cur.capacity() {
                    if cur.capacity() > 0 {
                        seal(&mut blob, &mut cur);
                    }
                    let stored = blob.len + cur.len() as u64;
                    let left = expected.map_or(u64::MAX, |e| e.saturating_sub(stored));
                    cur = if left < BLOCK as u64 / 2 {
                        Vec::with_capacity((left as usize).max(rest.len()))
                    } else {
                        pool.take()
                    };
                }
                let n = rest.len().min(cur.capacity() - cur.len());
                cur.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
            }
        }
    }
    if !cur.is_empty() {
        seal(&mut blob, &mut cur);
    }
    if let Some(n) = content_length
        && expected != Some(blob.len)
    {
        return Err(s3_error!(
            IncompleteBody,
            "got {} bytes, Content-Length said {n}",
            blob.len
        ));
    }
    Ok(blob)
}

/// The CRC64NVME a request carried: its header, or the aws-chunked trailer.
fn crc64nvme_of<T>(req: &S3Request<T>, header: Option<String>) -> Option<String> {
    header.or_else(|| {
        let trailers = req.trailing_headers.as_ref()?;
        trailers.read(|t| {
            t.get("x-amz-checksum-crc64nvme")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })?
    })
}

/// The hex form of a `Content-MD5` header (base64 of the 16-byte digest), if it is one. The
/// digest is trusted, not checked: clients that compare a single PUT's ETag with their own MD5
/// (rclone) then see the value they expect, without the server hashing anything.
/// The MD5 of a blob, as lowercase hex.
fn md5_hex(blob: &Blob) -> String {
    use md5::Digest;
    let mut h = md5::Md5::new();
    for chunk in &blob.chunks {
        h.update(chunk);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn content_md5_hex(b64: &str) -> Option<String> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let b = b64.trim().as_bytes();
    if b.len() != 24 || &b[22..] != b"==" {
        return None;
    }
    let mut out = Vec::with_capacity(18);
    for quad in b[..24].chunks(4) {
        let mut n = 0u32;
        for &c in quad {
            n = (n << 6) | if c == b'=' { 0 } else { val(c)? };
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out.truncate(16);
    Some(out.iter().map(|x| format!("{x:02x}")).collect())
}

fn quoted_free(s: &str) -> &str {
    s.trim_matches('"')
}

/// The largest source CopyObject copies, and the largest part UploadPartCopy makes.
const MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;

fn precondition_failed() -> S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}

/// The bucket and key of `x-amz-copy-source` (access points and outposts are not served).
fn copy_source(source: &CopySource) -> S3Result<(&str, &str)> {
    match source {
        CopySource::Bucket { bucket, key, .. } => Ok((bucket, key)),
        _ => Err(s3_error!(
            NotImplemented,
            "Copies from access points and outposts are not supported"
        )),
    }
}

/// The `x-amz-copy-source-if-*` conditions on the source, with S3's precedence: a matching
/// `if-match` wins over `if-unmodified-since`, a failing `if-none-match` over
/// `if-modified-since`.
fn check_source(
    obj: &Object,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let is = |cond: &ETagCondition| match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => quoted_free(e.value()) == obj.etag,
    };
    let modified = Timestamp::from(obj.last_modified);
    match (if_match, if_unmodified_since) {
        (Some(cond), _) if !is(cond) => return Err(precondition_failed()),
        (None, Some(since)) if modified > *since => return Err(precondition_failed()),
        _ => {}
    }
    match (if_none_match, if_modified_since) {
        (Some(cond), _) if is(cond) => return Err(precondition_failed()),
        (None, Some(since)) if modified <= *since => return Err(precondition_failed()),
        _ => {}
    }
    Ok(())
}

/// `x-amz-copy-source-range: bytes=first-last` (both required, zero-based, inclusive) within an
/// object of `len` bytes.
fn copy_range(range: &str, len: u64) -> S3Result<std::ops::Range<u64>> {
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (first, last) = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let first: u64 = first.parse().map_err(|_| bad())?;
    let last: u64 = last.parse().map_err(|_| bad())?;
    if first > last || last >= len {
        return Err(s3_error!(
            InvalidRange,
            "The specified copy range is invalid for the source object size"
        ));
    }
    Ok(first..last + 1)
}

impl Memory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates `bucket` if it does not exist yet.
    pub fn create_bucket_now(&self, bucket: &str) {
        self.lock().buckets.entry(bucket.to_owned()).or_default();
    }

    /// The bytes `bucket/key` holds, for tests that look at the store behind the client.
    pub fn object_bytes(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let obj = self.lock().buckets.get(bucket)?.get(key).cloned()?;
        Some(
            obj.data
                .chunks
                .iter()
                .flat_map(|c| c.iter().copied())
                .collect(),
        )
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_uploads(&self) -> usize {
        self.lock().uploads.len()
    }

    /// Touches `bytes` of block memory now, so the first uploads of a benchmark do not pay
    /// for page faults (see `Pool`).
    pub fn prealloc(&self, bytes: u64) {
        self.pool.prealloc(bytes);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A counter shaped like a multipart ETag (`hex-1`), so that clients which take a
    /// 32-hex-digit ETag for the content's MD5 (rclone) do not check bytes against it.
    fn etag(&self) -> String {
        format!("{:032x}-1", self.next())
    }

    fn check_bucket(&self, bucket: &str) -> S3Result<()> {
        if self.lock().buckets.contains_key(bucket) {
            Ok(())
        } else {
            Err(no_such_bucket())
        }
    }

    fn get(&self, bucket: &str, key: &str) -> S3Result<Arc<Object>> {
        let st = self.lock();
        let objects = st.buckets.get(bucket).ok_or_else(no_such_bucket)?;
        objects
            .get(key)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))
    }

    /// Stores `obj`, unless `if_none_match` is `*` and the key exists (412).
    fn store(
        &self,
        bucket: &str,
        key: &str,
        obj: Object,
        if_none_match: Option<&IfNoneMatch>,
    ) -> S3Result<()> {
        let mut st = self.lock();
        let objects = st.buckets.get_mut(bucket).ok_or_else(no_such_bucket)?;
        if matches!(if_none_match, Some(ETagCondition::Any)) && objects.contains_key(key) {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
        objects.insert(key.to_owned(), Arc::new(obj));
        Ok(())
    }

    fn listing(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max_keys: usize,
    ) -> S3Result<(Vec<s3s::dto::Object>, Vec<CommonPrefix>, Option<String>)> {
        let st = self.lock();
        let objects = st.buckets.get(bucket).ok_or_else(no_such_bucket)?;
        let mut contents = Vec::new();
        let mut prefixes: Vec<CommonPrefix> = Vec::new();
        let mut last = None;
        let start = match after {
            Some(a) => std::ops::Bound::Excluded(a.to_owned()),
            None => std::ops::Bound::Unbounded,
        };
        for (key, obj) in objects.range((start, std::ops::Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                if key.as_str() > prefix {
                    break;
                }
                continue;
            }
            if contents.len() + prefixes.len() >= max_keys {
                return Ok((contents, prefixes, last));
            }
            if let Some(d) = delimiter.filter(|d| !d.is_empty())
                && let Some(i) = key[prefix.len()..].find(d)
            {
                let p = &key[..prefix.len() + i + d.len()];
                if prefixes.last().and_then(|c| c.prefix.as_deref()) != Some(p) {
                    prefixes.push(CommonPrefix {
                        prefix: Some(p.to_owned()),
                    });
                }
                last = Some(key.clone());
                continue;
            }
            contents.push(s3s::dto::Object {
                key: Some(key.clone()),
                size: Some(obj.data.len as i64),
                e_tag: Some(obj.e_tag()),
                last_modified: Some(obj.last_modified.into()),
                ..Default::default()
            });
            last = Some(key.clone());
        }
        Ok((contents, prefixes, None))
    }
}

#[async_trait::async_trait]
impl S3 for Memory {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let mut st = self.lock();
        if st.buckets.contains_key(&req.input.bucket) {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ));
        }
        st.buckets.insert(req.input.bucket, BTreeMap::new());
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.check_bucket(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.check_bucket(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let st = self.lock();
        let mut names: Vec<&String> = st.buckets.keys().collect();
        names.sort();
        let buckets = names
            .into_iter()
            .map(|n| Bucket {
                name: Some(n.clone()),
                creation_date: Some(SystemTime::UNIX_EPOCH.into()),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..Default::default()
        }))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.check_bucket(&req.input.bucket)?;
        let mut req = req;
        let body = req.input.body.take();
        let data = collect(&self.pool, body, req.input.content_length).await?;
        let input = &req.input;
        let crc = crc64nvme_of(&req, input.checksum_crc64nvme.clone());
        let etag = input
            .content_md5
            .as_deref()
            .and_then(content_md5_hex)
            .unwrap_or_else(|| md5_hex(&data));
        let obj = Object {
            data,
            etag: etag.clone(),
            last_modified: SystemTime::now(),
            metadata: input.metadata.clone(),
            content_type: input.content_type.clone(),
            cache_control: input.cache_control.clone(),
            checksum_type: crc
                .as_ref()
                .map(|_| ChecksumType::from_static(ChecksumType::FULL_OBJECT)),
            crc64nvme: crc.clone(),
        };
        let size = obj.data.len as i64;
        self.store(&input.bucket, &input.key, obj, input.if_none_match.as_ref())?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            checksum_type: crc
                .as_ref()
                .map(|_| ChecksumType::from_static(ChecksumType::FULL_OBJECT)),
            checksum_crc64nvme: crc,
            size: Some(size),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        if input.part_number.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "partNumber reads are not supported"
            ));
        }
        let obj = self.get(&input.bucket, &input.key)?;
        if let Some(ETagCondition::ETag(want)) = &input.if_match
            && quoted_free(want.value()) != obj.etag
        {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
        let len = obj.data.len;
        let (range, content_range) = match &input.range {
            None => (0..len, None),
            Some(r) => {
                let range = r.check(len)?;
                let cr = format!("bytes {}-{}/{len}", range.start, range.end - 1);
                (range, Some(cr))
            }
        };
        let whole = range.start == 0 && range.end == len;
        let checksum = whole
            && input
                .checksum_mode
                .as_ref()
                .is_some_and(|m| m.as_str() == ChecksumMode::ENABLED);
        let content_length = (range.end - range.start) as i64;
        let body = obj.data.slice(range);
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::new(body)),
            content_length: Some(content_length),
            content_range,
            accept_ranges: Some("bytes".to_owned()),
            e_tag: Some(obj.e_tag()),
            last_modified: Some(obj.last_modified.into()),
            metadata: obj.metadata.clone(),
            content_type: obj.content_type.clone(),
            cache_control: obj.cache_control.clone(),
            checksum_crc64nvme: obj.crc64nvme.clone().filter(|_| checksum),
            checksum_type: obj.checksum_type.clone().filter(|_| checksum),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let obj = self.get(&input.bucket, &input.key)?;
        let checksum = input
            .checksum_mode
            .as_ref()
            .is_some_and(|m| m.as_str() == ChecksumMode::ENABLED);
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(obj.data.len as i64),
            accept_ranges: Some("bytes".to_owned()),
            e_tag: Some(obj.e_tag()),
            last_modified: Some(obj.last_modified.into()),
            metadata: obj.metadata.clone(),
            content_type: obj.content_type.clone(),
            cache_control: obj.cache_control.clone(),
            checksum_crc64nvme: obj.crc64nvme.clone().filter(|_| checksum),
            checksum_type: obj.checksum_type.clone().filter(|_| checksum),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        // Take the object out under the lock, free its memory after.
        let gone = {
            let mut st = self.lock();
            let objects = st
                .buckets
                .get_mut(&input.bucket)
                .ok_or_else(no_such_bucket)?;
            objects.remove(&input.key)
        };
        drop(gone);
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        self.check_bucket(&input.bucket)?;
        let id = format!("{:016x}", self.next());
        let upload = Upload {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            metadata: input.metadata,
            content_type: input.content_type,
            cache_control: input.cache_control,
            checksum_type: input.checksum_type.clone(),
            parts: BTreeMap::new(),
            initiated: SystemTime::now(),
        };
        self.lock().uploads.insert(id.clone(), upload);
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            checksum_algorithm: input.checksum_algorithm,
            checksum_type: input.checksum_type,
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let mut req = req;
        let n = req.input.part_number;
        if !(1..=MAX_PART_NUMBER).contains(&n) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        if !self.lock().uploads.contains_key(&req.input.upload_id) {
            return Err(no_such_upload());
        }
        let body = req.input.body.take();
        let data = collect(&self.pool, body, req.input.content_length).await?;
        let crc = crc64nvme_of(&req, req.input.checksum_crc64nvme.clone());
        let etag = req
            .input
            .content_md5
            .as_deref()
            .and_then(content_md5_hex)
            .unwrap_or_else(|| self.etag());
        {
            let mut st = self.lock();
            let upload = st
                .uploads
                .get_mut(&req.input.upload_id)
                .ok_or_else(no_such_upload)?;
            upload.parts.insert(
                n,
                Part {
                    data,
                    etag: etag.clone(),
                    crc64nvme: crc.clone(),
                    stored: SystemTime::now(),
                },
            );
        }
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            checksum_crc64nvme: crc,
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        self.check_bucket(&input.bucket)?;
        let all = self
            .lock()
            .uploads
            .iter()
            .filter(|(_, u)| u.bucket == input.bucket)
            .map(|(id, u)| crate::uploads::Unfinished {
                key: u.key.clone(),
                upload_id: id.clone(),
                initiated: u.initiated,
            })
            .collect();
        Ok(S3Response::new(crate::uploads::uploads_page(
            &input.bucket,
            all,
            &input,
            0,
        )))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let parts = {
            let st = self.lock();
            let upload = st
                .uploads
                .get(&input.upload_id)
                .filter(|u| u.bucket == input.bucket && u.key == input.key)
                .ok_or_else(no_such_upload)?;
            upload
                .parts
                .iter()
                .map(|(n, p)| s3s::dto::Part {
                    part_number: Some(*n),
                    size: i64::try_from(p.data.len).ok(),
                    e_tag: Some(ETag::Strong(p.etag.clone())),
                    checksum_crc64nvme: p.crc64nvme.clone(),
                    last_modified: Some(Timestamp::from(p.stored)),
                    ..Default::default()
                })
                .collect()
        };
        Ok(S3Response::new(crate::uploads::parts_page(
            parts, &input, 0,
        )))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let crc = crc64nvme_of(&req, req.input.checksum_crc64nvme.clone());
        let input = req.input;
        let listed = input
            .multipart_upload
            .and_then(|m| m.parts)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                s3_error!(
                    MalformedXML,
                    "You must specify at least one part to complete a multipart upload"
                )
            })?;

        let mut st = self.lock();
        let upload = st
            .uploads
            .get(&input.upload_id)
            .ok_or_else(no_such_upload)?;
        if upload.bucket != input.bucket || upload.key != input.key {
            return Err(no_such_upload());
        }
        // Validate everything before taking the upload apart, so a refused Complete leaves it
        // in place (the client can still abort it).
        let mut prev = 0;
        for (i, p) in listed.iter().enumerate() {
            let n = p.part_number.unwrap_or(0);
            if n <= prev {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order"
                ));
            }
            prev = n;
            let part = upload.parts.get(&n).ok_or_else(|| {
                s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found"
                )
            })?;
            if let Some(e) = &p.e_tag
                && quoted_free(e.value()) != part.etag
            {
                return Err(s3_error!(InvalidPart, "Part {n}: the ETag does not match"));
            }
            if i + 1 < listed.len() && part.data.len < MIN_PART_SIZE {
                return Err(s3_error!(
                    EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed object size"
                ));
            }
        }
        let objects = st.buckets.get(&input.bucket).ok_or_else(no_such_bucket)?;
        if matches!(input.if_none_match, Some(ETagCondition::Any))
            && objects.contains_key(&input.key)
        {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
        let mut upload = st
            .uploads
            .remove(&input.upload_id)
            .ok_or_else(no_such_upload)?;
        drop(st);

        // Move the parts' chunks into one object: no byte is copied.
        let mut data = Blob::default();
        for p in &listed {
            let n = p.part_number.unwrap_or(0);
            if let Some(part) = upload.parts.remove(&n) {
                data.append(part.data);
            }
        }
        drop(upload.parts); // parts not listed are discarded, as S3 does
        if let Some(want) = input.mpu_object_size
            && u64::try_from(want).ok() != Some(data.len)
        {
            return Err(s3_error!(
                InvalidRequest,
                "x-amz-mp-object-size {want} does not match the parts' total {}",
                data.len
            ));
        }
        let etag = format!("{:032x}-{}", self.next(), listed.len());
        let checksum_type = input.checksum_type.or(upload.checksum_type).or_else(|| {
            crc.as_ref()
                .map(|_| ChecksumType::from_static(ChecksumType::FULL_OBJECT))
        });
        let obj = Object {
            data,
            etag: etag.clone(),
            last_modified: SystemTime::now(),
            metadata: upload.metadata,
            content_type: upload.content_type,
            cache_control: upload.cache_control,
            crc64nvme: crc.clone(),
            checksum_type: checksum_type.clone().filter(|_| crc.is_some()),
        };
        self.store(&input.bucket, &input.key, obj, input.if_none_match.as_ref())?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(ETag::Strong(etag)),
            checksum_crc64nvme: crc.clone(),
            checksum_type: checksum_type.filter(|_| crc.is_some()),
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        // s3s has no field for If-None-Match on CopyObject (S3 takes it): read the header.
        let create_only = req
            .headers
            .get("if-none-match")
            .is_some_and(|v| v.as_bytes() == b"*");
        let input = req.input;
        let (src_bucket, src_key) = copy_source(&input.copy_source)?;
        let src = self.get(src_bucket, src_key)?;
        self.check_bucket(&input.bucket)?;
        check_source(
            &src,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
        )?;
        if src.data.len > MAX_COPY {
            return Err(s3_error!(
                InvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_COPY}"
            ));
        }
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if (src_bucket, src_key) == (input.bucket.as_str(), input.key.as_str())
            && !replace
            && input.storage_class.is_none()
            && input.server_side_encryption.is_none()
            && input.website_redirect_location.is_none()
        {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let data = src.data.sub(0..src.data.len);
        // One object of the same bytes: S3 gives it the MD5 of its content as its ETag.
        let etag = if src.etag.len() == 32 && !src.etag.contains('-') {
            src.etag.clone()
        } else {
            md5_hex(&data)
        };
        let (metadata, content_type, cache_control) = if replace {
            (input.metadata, input.content_type, input.cache_control)
        } else {
            (
                src.metadata.clone(),
                src.content_type.clone(),
                src.cache_control.clone(),
            )
        };
        let now = SystemTime::now();
        let obj = Object {
            data,
            etag: etag.clone(),
            last_modified: now,
            metadata,
            content_type,
            cache_control,
            crc64nvme: src.crc64nvme.clone(),
            checksum_type: src.checksum_type.clone(),
        };
        let any = ETagCondition::Any;
        self.store(&input.bucket, &input.key, obj, create_only.then_some(&any))?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(now.into()),
                checksum_crc64nvme: src.crc64nvme.clone(),
                checksum_type: src
                    .checksum_type
                    .clone()
                    .filter(|_| src.crc64nvme.is_some()),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        let n = input.part_number;
        if !(1..=MAX_PART_NUMBER).contains(&n) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        {
            let st = self.lock();
            let upload = st
                .uploads
                .get(&input.upload_id)
                .ok_or_else(no_such_upload)?;
            if upload.bucket != input.bucket || upload.key != input.key {
                return Err(no_such_upload());
            }
        }
        let (src_bucket, src_key) = copy_source(&input.copy_source)?;
        let src = self.get(src_bucket, src_key)?;
        check_source(
            &src,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
        )?;
        let range = match &input.copy_source_range {
            Some(r) => copy_range(r, src.data.len)?,
            None => 0..src.data.len,
        };
        if range.end - range.start > MAX_COPY {
            return Err(s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size"
            ));
        }
        let data = src.data.sub(range);
        // As S3 reports it for a copied part: the CRC64NVME of the bytes copied.
        let mut crc = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme);
        for chunk in &data.chunks {
            crc.update(chunk);
        }
        let crc = crate::uploads::crc64nvme_base64(crc.finalize());
        let etag = self.etag();
        {
            let mut st = self.lock();
            let upload = st
                .uploads
                .get_mut(&input.upload_id)
                .ok_or_else(no_such_upload)?;
            upload.parts.insert(
                n,
                Part {
                    data,
                    etag: etag.clone(),
                    crc64nvme: Some(crc.clone()),
                    stored: SystemTime::now(),
                },
            );
        }
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(etag)),
                checksum_crc64nvme: Some(crc),
                last_modified: Some(SystemTime::now().into()),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let gone = self.lock().uploads.remove(&req.input.upload_id);
        match gone {
            Some(_) => Ok(S3Response::new(AbortMultipartUploadOutput::default())),
            None => Err(no_such_upload()),
        }
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let after = input
            .continuation_token
            .as_deref()
            .or(input.start_after.as_deref());
        let (mut contents, mut prefixes, next) = self.listing(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            after,
            max_keys,
        )?;
        // Keys are encoded when the client asks (encoding-type=url), as S3 does.
        if input
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL)
        {
            for key in contents.iter_mut().filter_map(|o| o.key.as_mut()) {
                *key = crate::url_encode(key);
            }
            for p in prefixes.iter_mut().filter_map(|p| p.prefix.as_mut()) {
                *p = crate::url_encode(p);
            }
        }
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            max_keys: Some(max_keys as i32),
            key_count: Some((contents.len() + prefixes.len()) as i32),
            is_truncated: Some(next.is_some()),
            next_continuation_token: next,
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let (contents, prefixes, next) = self.listing(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            input.marker.as_deref(),
            max_keys,
        )?;
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            marker: input.marker,
            max_keys: Some(max_keys as i32),
            is_truncated: Some(next.is_some()),
            next_marker: next,
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(parts: &[&'static [u8]]) -> Blob {
        let mut b = Blob::default();
        for p in parts {
            b.push(Bytes::from_static(p));
        }
        b
    }

    fn read(c: Chunks) -> Vec<u8> {
        assert_eq!(c.q.iter().map(Bytes::len).sum::<usize>(), c.remaining);
        c.q.iter().flat_map(|b| b.iter().copied()).collect()
    }

    #[test]
    fn slices_across_chunks() {
        let b = blob(&[b"abc", b"", b"defg", b"h", b"ijkl"]);
        assert_eq!(b.len, 12);
        let all: Vec<u8> = b"abcdefghijkl".to_vec();
        for start in 0..=12u64 {
            for end in start..=12u64 {
                assert_eq!(
                    read(b.slice(start..end)),
                    all[start as usize..end as usize],
                    "{start}..{end}"
                );
            }
        }
    }

    #[tokio::test]
    async fn collect_fills_and_recycles_blocks() {
        let pool = Arc::new(Pool::default());
        let data: Vec<u8> = (0..(BLOCK * 2 + 12345)).map(|i| (i % 251) as u8).collect();
        let chunks: Vec<Result<Bytes, std::io::Error>> = data
            .chunks(100_000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let body = StreamingBlob::wrap(futures_util::stream::iter(chunks));
        let blob = collect(&pool, Some(body), Some(data.len() as i64))
            .await
            .unwrap();
        assert_eq!(blob.len, data.len() as u64);
        assert_eq!(read(blob.slice(0..blob.len)), data);
        assert_eq!(
            read(blob.slice(BLOCK as u64 - 3..BLOCK as u64 + 5)),
            data[BLOCK - 3..BLOCK + 5]
        );
        assert!(lock(&pool.free).is_empty());
        drop(blob);
        // The two full blocks come back; the 12,345-byte tail had an exact-size buffer.
        assert_eq!(lock(&pool.free).len(), 2);

        let short = StreamingBlob::wrap(futures_util::stream::iter(vec![Ok::<_, std::io::Error>(
            Bytes::from_static(b"abc"),
        )]));
        assert!(collect(&pool, Some(short), Some(4)).await.is_err());
    }

    #[test]
    fn content_md5() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(
            content_md5_hex("1B2M2Y8AsgTpgAmY7PhCfg==").as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(content_md5_hex("nope"), None);
    }

    #[test]
    fn copy_ranges_are_first_last_within_the_object() {
        assert_eq!(copy_range("bytes=0-9", 10).ok(), Some(0..10));
        assert_eq!(copy_range("bytes=5-5", 10).ok(), Some(5..6));
        for (bad, code) in [
            ("bytes=0-10", S3ErrorCode::InvalidRange),
            ("bytes=6-5", S3ErrorCode::InvalidRange),
            ("bytes=0-", S3ErrorCode::InvalidArgument),
            ("bytes=-5", S3ErrorCode::InvalidArgument),
            ("0-5", S3ErrorCode::InvalidArgument),
        ] {
            let err = copy_range(bad, 10).unwrap_err();
            assert_eq!(*err.code(), code, "{bad}");
        }
    }

    #[test]
    fn copy_source_conditions_follow_s3s_precedence() {
        let t0 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        let obj = Object {
            data: Blob::default(),
            etag: "abc".into(),
            last_modified: t0,
            metadata: None,
            content_type: None,
            cache_control: None,
            crc64nvme: None,
            checksum_type: None,
        };
        let same = ETagCondition::ETag(ETag::Strong("abc".into()));
        let other = ETagCondition::ETag(ETag::Strong("xyz".into()));
        let before = Timestamp::from(t0 - std::time::Duration::from_secs(1));
        let after = Timestamp::from(t0 + std::time::Duration::from_secs(1));
        let ok = |m, n, ms, us| check_source(&obj, m, n, ms, us).is_ok();
        assert!(ok(Some(&same), None, None, None));
        assert!(!ok(Some(&other), None, None, None));
        // A matching If-Match wins over a failing If-Unmodified-Since.
        assert!(ok(Some(&same), None, None, Some(&before)));
        assert!(!ok(None, None, None, Some(&before)));
        assert!(!ok(None, Some(&same), None, None));
        assert!(ok(None, Some(&other), None, None));
        // A failing If-None-Match wins over If-Modified-Since.
        assert!(ok(None, Some(&other), Some(&after), None));
        assert!(!ok(None, None, Some(&after), None));
        assert!(ok(None, None, Some(&before), None));
    }

    #[test]
    fn append_keeps_offsets() {
        let mut a = blob(&[b"ab", b"c"]);
        a.append(blob(&[b"de", b"f"]));
        assert_eq!(a.starts, vec![0, 2, 3, 5]);
        assert_eq!(read(a.slice(1..5)), b"bcde");
    }
}
