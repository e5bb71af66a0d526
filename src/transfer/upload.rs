//! Uploading one file: a single PutObject, or a multipart upload with parts sent concurrently,
//! each streamed from the file (memory does not grow with the file) and carrying its
//! CRC64NVME; the full-object CRC64NVME goes in the object's metadata and, where the server
//! supports it, in S3's own full-object checksum. A failed or interrupted multipart upload is
//! aborted.

use std::fs::{File, Metadata};
use std::future::Future;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::attributes::ObjectAttributes;
use crate::checksum;
use crate::config::TransferSettings;
use crate::error::Error;
use crate::key::ObjectKey;
use crate::progress::Progress;
use crate::s3::{classify, status};
use crate::shutdown::Shutdown;
use crate::transfer::budget::Budget;
use crate::transfer::plan::{self, UploadPlan};
use crate::transfer::{CRC_METADATA_KEY, READ_BUFFER};

/// What to upload, where, and how.
pub struct UploadRequest {
    pub bucket: String,
    pub key: ObjectKey,
    pub path: PathBuf,
    /// Replace an existing object; otherwise only an identical one is accepted.
    pub overwrite: bool,
    /// Metadata, content type and the like, stored with the object.
    pub attributes: ObjectAttributes,
    pub settings: TransferSettings,
    /// Requests in flight, shared with the command's other transfers.
    pub budget: Budget,
}

/// Sets the object's attributes on a PutObject or CreateMultipartUpload call (the two builders
/// share these setters but no trait). Used by [`put_request`] and [`create_request`].
macro_rules! with_attributes {
    ($call:expr, $attrs:expr) => {{
        use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};
        let a: &$crate::attributes::ObjectAttributes = $attrs;
        let mut call = $call.content_type(&a.content_type);
        for (k, v) in &a.metadata {
            call = call.metadata(k, v);
        }
        if let Some(c) = &a.cache_control {
            call = call.cache_control(c);
        }
        if let Some(c) = &a.storage_class {
            call = call.storage_class(StorageClass::from(c.as_str()));
        }
        match a.sse {
            Some($crate::cli::Sse::Aes256) => {
                call = call.server_side_encryption(ServerSideEncryption::Aes256)
            }
            Some($crate::cli::Sse::AwsKms) => {
                call = call
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .set_ssekms_key_id(a.sse_kms_key_id.clone())
            }
            None => {}
        }
        call
    }};
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub size: u64,
    pub crc64: u64,
    pub etag: Option<String>,
    /// 1 for a single PUT.
    pub parts: u64,
    /// An object with the same size and checksum was already at the key; nothing was replaced.
    pub unchanged: bool,
}

impl Uploaded {
    /// A new object was stored from `parts` parts.
    pub(crate) fn stored(size: u64, crc64: u64, etag: Option<String>, parts: u64) -> Self {
        Self {
            size,
            crc64,
            etag,
            parts,
            unchanged: false,
        }
    }
}

/// Uploads `req.path`; a `shutdown` stops it cleanly with `Error::Interrupted`. `progress`
/// is told the size and every byte sent; finishing the display is the caller's (it may be
/// shared by several files).
pub async fn upload(
    client: &Client,
    req: &UploadRequest,
    progress: &dyn Progress,
    shutdown: &Shutdown,
) -> Result<Uploaded, Error> {
    let (file, before) = open_source(&req.path)?;
    let size = before.len();
    let plan = plan::upload_plan(size, req.settings.part_size)?;
    let file = Arc::new(file);

    let ranges: Vec<Range<u64>> = match plan {
        UploadPlan::Single => std::iter::once(0..size).collect(),
        UploadPlan::Multipart { part_size, parts } => (0..parts)
            .map(|i| plan::chunk_range(size, part_size, i))
            .collect(),
    };
    // Look at the key while the file is checksummed: an object already there decides the
    // outcome before any data moves (a retried CI job re-sends nothing), and it guards servers
    // that ignore the conditional write below.
    let (crcs, existing) = tokio::select! {
        r = async {
            tokio::join!(
                checksum_parts(file.clone(), &req.path, ranges.clone()),
                precheck(client, req)
            )
        } => r,
        () = shutdown.cancelled() => return Err(shutdown.error()),
    };
    let crcs = crcs?;
    let crc64 = checksum::combine_all(crcs.iter().zip(&ranges).map(|(c, r)| (*c, r.end - r.start)));
    debug!(size, parts = ranges.len(), crc64 = %checksum::to_base64(crc64), "planned upload");
    if let Some(existing) = existing? {
        return judge_existing(req, existing, size, crc64);
    }
    progress.start(size);

    match plan {
        UploadPlan::Single => {
            tokio::select! {
                r = async {
                    let _permit = req.budget.acquire().await;
                    put_single(client, req, size, crc64, &before).await
                } => r,
                () = shutdown.cancelled() => Err(shutdown.error()),
            }
        }
        UploadPlan::Multipart { .. } => {
            let parts = Parts {
                ranges: &ranges,
                crcs: &crcs,
                crc64,
            };
            upload_multipart(client, req, &parts, &before, progress, shutdown).await
        }
    }
}

/// Opens the file to upload, refusing what is not a regular file before opening it (opening a
/// FIFO would block).
fn open_source(path: &Path) -> Result<(File, Metadata), Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::local_io("read", path, &e))?;
    if meta.is_dir() {
        return Err(Error::Usage(format!(
            "{} is a directory; give the path of a file to upload",
            path.display()
        )));
    }
    if !meta.is_file() {
        return Err(Error::Usage(format!(
            "{} is not a regular file (a FIFO, socket or device); upload a regular file",
            path.display()
        )));
    }
    let file = File::open(path).map_err(|e| Error::local_io("read", path, &e))?;
    Ok((file, meta))
}

/// Computes each range's CRC64NVME on blocking threads, one per core: a pass over a cached
/// file runs at memory speed and the full-object value must be known before the upload starts
/// (it is written into the object's metadata).
async fn checksum_parts(
    file: Arc<File>,
    path: &Path,
    ranges: Vec<Range<u64>>,
) -> Result<Vec<u64>, Error> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(ranges.len().max(1));
    let ranges = Arc::new(ranges);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for _ in 0..workers {
        let (file, ranges, next) = (file.clone(), ranges.clone(), next.clone());
        set.spawn_blocking(move || {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(r) = ranges.get(i) else {
                    return Ok(out);
                };
                out.push((i, checksum::file_range(&file, r.start, r.end - r.start)?));
            }
        });
    }
    let mut crcs = vec![0; ranges.len()];
    while let Some(joined) = set.join_next().await {
        let part_crcs: Vec<(usize, u64)> = joined
            .map_err(|e| Error::Other(format!("checksum worker failed: {e}")))?
            .map_err(|e: std::io::Error| Error::local_io("read", path, &e))?;
        for (i, crc) in part_crcs {
            crcs[i] = crc;
        }
    }
    Ok(crcs)
}

/// A stream of `range` of the file at `path`, reopened on each retry by the SDK.
async fn file_body(path: &Path, range: &Range<u64>) -> Result<ByteStream, Error> {
    ByteStream::read_from()
        .path(path)
        .offset(range.start)
        .length(Length::Exact(range.end - range.start))
        .buffer_size(READ_BUFFER)
        .build()
        .await
        .map_err(|e| Error::Other(format!("cannot read {}: {e}", path.display())))
}

async fn put_single(
    client: &Client,
    req: &UploadRequest,
    size: u64,
    crc64: u64,
    before: &Metadata,
) -> Result<Uploaded, Error> {
    let key = req.key.to_string();
    let body = file_body(&req.path, &(0..size)).await?;
    debug!(bucket = %req.bucket, %key, size, "PutObject");
    match put_request(client, req, size, crc64, body).send().await {
        Ok(out) => {
            if let Err(e) = check_unchanged(&req.path, before) {
                // The server checked the bytes against the checksum computed before sending,
                // but not every server checks: do not leave a possibly torn object behind.
                warn!(%key, "the file changed during the upload; deleting the object");
                let _ = client
                    .delete_object()
                    .bucket(&req.bucket)
                    .key(&key)
                    .send()
                    .await;
                return Err(e);
            }
            Ok(Uploaded::stored(size, crc64, out.e_tag, 1))
        }
        Err(e) if status(&e) == Some(412) => existing_outcome(client, req, size, crc64).await,
        Err(e) => Err(classify(&e, "upload to", &req.bucket, Some(&key))),
    }
}

/// A PutObject of `body` (`size` bytes) with the object's attributes, its CRC64NVME (sent for
/// the server to check, and recorded in the metadata) and, unless overwriting,
/// `If-None-Match: *`.
pub(crate) fn put_request(
    client: &Client,
    req: &UploadRequest,
    size: u64,
    crc64: u64,
    body: ByteStream,
) -> PutObjectFluentBuilder {
    let crc = checksum::to_base64(crc64);
    let put = with_attributes!(client.put_object(), &req.attributes)
        .bucket(&req.bucket)
        .key(req.key.to_string())
        .content_length(i64::try_from(size).unwrap_or(i64::MAX))
        .checksum_crc64_nvme(&crc)
        .metadata(CRC_METADATA_KEY, &crc)
        .body(body);
    if req.overwrite {
        put
    } else {
        put.if_none_match("*")
    }
}

/// A CreateMultipartUpload with the object's attributes, announcing a full-object CRC64NVME.
pub(crate) fn create_request(
    client: &Client,
    req: &UploadRequest,
) -> CreateMultipartUploadFluentBuilder {
    with_attributes!(client.create_multipart_upload(), &req.attributes)
        .bucket(&req.bucket)
        .key(req.key.to_string())
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .checksum_type(ChecksumType::FullObject)
}

/// The key is taken (the conditional write was refused): succeed if it holds these very bytes
/// (a retried CI job), refuse otherwise.
pub(crate) async fn existing_outcome(
    client: &Client,
    req: &UploadRequest,
    size: u64,
    crc64: u64,
) -> Result<Uploaded, Error> {
    match existing_object(client, req).await? {
        Some(existing) => judge_existing(req, existing, size, crc64),
        // Refused, yet gone: treat as taken, the safe reading.
        None => Err(Error::AlreadyExists(format!(
            "s3://{}/{} was being written by someone else; check it and retry",
            req.bucket, req.key
        ))),
    }
}

/// Same size and checksum: the upload has already happened. Anything else is refused.
pub(crate) fn judge_existing(
    req: &UploadRequest,
    existing: Existing,
    size: u64,
    crc64: u64,
) -> Result<Uploaded, Error> {
    if existing.matches(size, crc64) {
        info!(key = %req.key, "an identical object is already stored; nothing to upload");
        return Ok(Uploaded {
            size,
            crc64,
            etag: existing.etag,
            parts: 0,
            unchanged: true,
        });
    }
    let what = if existing.crc64.is_none() && existing.size == size {
        "already exists, with no CRC64NVME to compare with"
    } else {
        "already exists with different content"
    };
    Err(Error::AlreadyExists(format!(
        "s3://{}/{} {what}; pass --overwrite to replace it, or upload under another --release",
        req.bucket, req.key
    )))
}

pub(crate) struct Existing {
    size: u64,
    crc64: Option<u64>,
    pub(crate) etag: Option<String>,
}

impl Existing {
    /// Holds exactly `size` bytes with this CRC64NVME.
    pub(crate) fn matches(&self, size: u64, crc64: u64) -> bool {
        self.size == size && self.crc64 == Some(crc64)
    }
}

/// What is stored at the key before an upload, unless it is to be overwritten anyway.
pub(crate) async fn precheck(
    client: &Client,
    req: &UploadRequest,
) -> Result<Option<Existing>, Error> {
    if req.overwrite {
        Ok(None)
    } else {
        existing_object(client, req).await
    }
}

/// What is stored at the key, if anything. A 403 counts as "unknown" (HEAD on a missing key
/// answers 403 to callers without ListBucket permission); the conditional write still guards.
async fn existing_object(client: &Client, req: &UploadRequest) -> Result<Option<Existing>, Error> {
    let key = req.key.to_string();
    let head = client
        .head_object()
        .bucket(&req.bucket)
        .key(&key)
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await;
    match head {
        Ok(out) => {
            let info = crate::inspect::info(&key, out);
            Ok(Some(Existing {
                size: info.size,
                crc64: info.checksum.map(|(crc, _)| crc),
                etag: info.etag,
            }))
        }
        Err(e) if matches!(status(&e), Some(404 | 403)) => Ok(None),
        Err(e) => Err(classify(&e, "upload to", &req.bucket, Some(&key))),
    }
}

/// Refuses to finish an upload of a file that changed since it was checksummed.
fn check_unchanged(path: &Path, before: &Metadata) -> Result<(), Error> {
    let after = std::fs::metadata(path).map_err(|e| Error::local_io("read", path, &e))?;
    let mtime = |m: &Metadata| m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if after.len() != before.len() || mtime(&after) != mtime(before) {
        return Err(Error::Integrity(format!(
            "{} changed while it was being uploaded; nothing was stored: upload it again once it is complete",
            path.display()
        )));
    }
    Ok(())
}

/// The file cut into parts, with each part's checksum and the whole file's.
struct Parts<'a> {
    ranges: &'a [Range<u64>],
    crcs: &'a [u64],
    crc64: u64,
}

async fn upload_multipart(
    client: &Client,
    req: &UploadRequest,
    parts: &Parts<'_>,
    before: &Metadata,
    progress: &dyn Progress,
    shutdown: &Shutdown,
) -> Result<Uploaded, Error> {
    let Parts {
        ranges,
        crcs,
        crc64,
    } = *parts;
    let upload_id = start_multipart(client, req, Some(crc64)).await?;
    let send = async {
        let parts = send_parts(client, req, &upload_id, ranges, crcs, progress).await?;
        check_unchanged(&req.path, before)?;
        Ok(Assembled {
            parts,
            size: ranges.last().map_or(0, |r| r.end),
            crc64,
        })
    };
    finish_multipart(client, req, &upload_id, send, shutdown).await
}

/// Starts a multipart upload and returns its id. `crc64`, when known before the first part
/// (files; not streams), is recorded in the object's metadata.
pub(crate) async fn start_multipart(
    client: &Client,
    req: &UploadRequest,
    crc64: Option<u64>,
) -> Result<String, Error> {
    let key = req.key.to_string();
    let mut create = create_request(client, req);
    if let Some(crc) = crc64 {
        create = create.metadata(CRC_METADATA_KEY, checksum::to_base64(crc));
    }
    let created = create
        .send()
        .await
        .map_err(|e| classify(&e, "upload to", &req.bucket, Some(&key)))?;
    let upload_id = created.upload_id.ok_or_else(|| {
        Error::Other(format!(
            "the server started no multipart upload for s3://{}/{key}",
            req.bucket
        ))
    })?;
    debug!(%key, %upload_id, "multipart upload created");
    Ok(upload_id)
}

/// Every part of a multipart upload sent, in order, with the whole object's size and CRC64NVME.
pub(crate) struct Assembled {
    pub(crate) parts: Vec<CompletedPart>,
    pub(crate) size: u64,
    pub(crate) crc64: u64,
}

/// How CompleteMultipartUpload ended.
enum Completion {
    /// Stored; the new object's ETag.
    Done(Option<String>),
    /// 412: the conditional write found the key taken.
    Refused,
    /// An error that does not prove the object was not stored.
    Uncertain(Error),
}

/// Runs `send` (the parts) and completes the upload, both stopped by `shutdown`; whatever
/// fails, the upload is aborted, so no parts stay behind. A refused completion (the key was
/// taken meanwhile) succeeds only if the key holds these very bytes.
pub(crate) async fn finish_multipart(
    client: &Client,
    req: &UploadRequest,
    upload_id: &str,
    send: impl Future<Output = Result<Assembled, Error>>,
    shutdown: &Shutdown,
) -> Result<Uploaded, Error> {
    let key = req.key.to_string();
    let work = async {
        let Assembled { parts, size, crc64 } = send.await?;
        let count = parts.len() as u64;
        let mut complete = client
            .complete_multipart_upload()
            .bucket(&req.bucket)
            .key(&key)
            .upload_id(upload_id)
            .checksum_crc64_nvme(checksum::to_base64(crc64))
            .checksum_type(ChecksumType::FullObject)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        if !req.overwrite {
            complete = complete.if_none_match("*");
        }
        let completion = match complete.send().await {
            Ok(out) => Completion::Done(out.e_tag),
            // Refused by the conditional write: someone stored the key meanwhile.
            Err(e) if status(&e) == Some(412) => Completion::Refused,
            Err(e) => Completion::Uncertain(classify(
                &e,
                "complete the upload of",
                &req.bucket,
                Some(&key),
            )),
        };
        Ok::<_, Error>((size, crc64, count, completion))
    };
    let outcome = tokio::select! {
        r = work => r,
        () = shutdown.cancelled() => Err(shutdown.error()),
    };
    let (size, crc64, count, completion) = match outcome {
        Ok(done) => done,
        Err(err) => {
            abort(client, &req.bucket, &key, upload_id).await;
            return Err(err);
        }
    };
    match completion {
        Completion::Done(etag) => Ok(Uploaded::stored(size, crc64, etag, count)),
        Completion::Refused => {
            abort(client, &req.bucket, &key, upload_id).await;
            existing_outcome(client, req, size, crc64).await
        }
        Completion::Uncertain(err) => {
            // The server may have assembled the object and then failed to answer (a dropped
            // connection, a retry that finds the upload gone, an answer the SDK cannot parse).
            // If the key now holds exactly these bytes, the upload succeeded.
            match existing_object(client, req).await {
                Ok(Some(e)) if e.matches(size, crc64) => {
                    warn!(%key, "completing the upload reported an error, but the object is stored intact: {err}");
                    Ok(Uploaded::stored(size, crc64, e.etag, count))
                }
                _ => {
                    abort(client, &req.bucket, &key, upload_id).await;
                    Err(err)
                }
            }
        }
    }
}

/// Sends every part, as many at a time as the budget allows; the first failure stops the rest
/// (dropping the set cancels them).
async fn send_parts(
    client: &Client,
    req: &UploadRequest,
    upload_id: &str,
    ranges: &[Range<u64>],
    crcs: &[u64],
    progress: &dyn Progress,
) -> Result<Vec<CompletedPart>, Error> {
    let key = Arc::new(req.key.to_string());
    let bucket = Arc::new(req.bucket.clone());
    let upload_id: Arc<str> = Arc::from(upload_id);
    let path = Arc::new(req.path.clone());
    let mut done: Vec<Option<CompletedPart>> = vec![None; ranges.len()];
    let mut set = JoinSet::new();
    let mut next = 0;
    loop {
        tokio::select! {
            permit = req.budget.acquire(), if next < ranges.len() => {
                let (client, bucket, key, upload_id, path) = (
                    client.clone(),
                    bucket.clone(),
                    key.clone(),
                    upload_id.clone(),
                    path.clone(),
                );
                let range = ranges[next].clone();
                let crc = checksum::to_base64(crcs[next]);
                let index = next;
                set.spawn(async move {
                    let _permit = permit;
                    let number = i32::try_from(index + 1).unwrap_or(i32::MAX);
                    let body = file_body(&path, &range).await?;
                    debug!(
                        part = number,
                        offset = range.start,
                        len = range.end - range.start,
                        "UploadPart"
                    );
                    let out = client
                        .upload_part()
                        .bucket(bucket.as_str())
                        .key(key.as_str())
                        .upload_id(upload_id.as_ref())
                        .part_number(number)
                        .content_length(i64::try_from(range.end - range.start).unwrap_or(i64::MAX))
                        .checksum_crc64_nvme(&crc)
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| classify(&e, "upload a part of", &bucket, Some(&key)))?;
                    let part = CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag)
                        .checksum_crc64_nvme(crc)
                        .build();
                    Ok::<_, Error>((index, range.end - range.start, part))
                });
                next += 1;
            }
            Some(joined) = set.join_next() => {
                let (index, len, part) = joined
                    .map_err(|e| Error::Other(format!("a part upload task failed: {e}")))??;
                progress.advance(len);
                done[index] = Some(part);
            }
            else => break,
        }
    }
    done.into_iter()
        .enumerate()
        .map(|(i, p)| p.ok_or_else(|| Error::Other(format!("part {} was never sent", i + 1))))
        .collect()
}

/// Aborts a multipart upload so no parts stay stored (and billed); a failure to abort is
/// logged with the upload id so it can be cleaned up by hand or by a lifecycle rule.
async fn abort(client: &Client, bucket: &str, key: &str, upload_id: &str) {
    let call = client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send();
    match tokio::time::timeout(Duration::from_secs(30), call).await {
        Ok(Ok(_)) => debug!(%key, %upload_id, "multipart upload aborted"),
        Ok(Err(e)) => warn!(
            %key, %upload_id,
            "could not abort the multipart upload: {}; remove it with `aws s3api abort-multipart-upload`",
            classify(&e, "abort the upload of", bucket, Some(key))
        ),
        Err(_) => {
            warn!(%key, %upload_id, "aborting the multipart upload timed out; remove it by hand")
        }
    }
}
