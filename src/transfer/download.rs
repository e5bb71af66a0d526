//! Downloading one object into a local file that appears whole and verified, or not at all.
//!
//! The first ranged GET learns the object's size, ETag and recorded checksum (one round trip
//! for a small object); the remaining ranges are fetched concurrently, pinned to that ETag
//! with If-Match, and written at their offsets in a temporary file beside the destination
//! (see [`writer`](super::writer) for how, and for the early write-back of finished ranges). A
//! body cut short is resumed from where it stopped. The CRC64NVME of every range is combined
//! into the full-object value and compared with the one recorded at upload before the file is
//! fsynced and renamed into place.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::atomic_file::AtomicFile;
use crate::checksum::{self, Crc64};
use crate::config::TransferSettings;
use crate::error::Error;
use crate::inspect::{self, ChecksumSource};
use crate::key::ObjectKey;
use crate::progress::Progress;
use crate::s3::{classify, status};
use crate::shutdown::Shutdown;
use crate::transfer::budget::{Budget, Permit};
use crate::transfer::plan::{self, parse_content_range, range_header};
use crate::transfer::writer::FileWriter;
use crate::transfer::{CRC_METADATA_KEY, backoff};

pub struct DownloadRequest {
    pub bucket: String,
    pub key: ObjectKey,
    /// The final path (already resolved from `-o`).
    pub dest: PathBuf,
    pub no_clobber: bool,
    pub settings: TransferSettings,
    /// Requests in flight, shared with the command's other transfers.
    pub budget: Budget,
}

/// How the downloaded bytes were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Against the CRC64NVME s3blob recorded in the object's metadata at upload.
    Metadata,
    /// Against the server's full-object CRC64NVME (an object not uploaded by s3blob).
    ServerChecksum,
    /// The object carries no CRC64NVME to compare with; only its size was checked.
    SizeOnly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub size: u64,
    pub crc64: u64,
    pub etag: Option<String>,
    pub verified: Verified,
}

/// Where `-o` points: the default `./FILENAME`, `DIR/FILENAME` for an existing directory (or a
/// path ending in `/`), else the path itself.
pub fn destination(output: Option<&Path>, filename: &str) -> PathBuf {
    match output {
        None => PathBuf::from(filename),
        Some(p) if p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/') => p.join(filename),
        Some(p) => p.to_owned(),
    }
}

/// Everything a range fetch needs, shared by the concurrent tasks.
pub(crate) struct Ctx {
    pub(crate) client: Client,
    pub(crate) bucket: String,
    pub(crate) key: String,
    /// Pins every range to the object version the first response came from.
    pub(crate) etag: Option<String>,
    pub(crate) max_attempts: u32,
    pub(crate) progress: Arc<dyn Progress>,
}

impl Ctx {
    pub(crate) fn new(
        client: &Client,
        req: &DownloadRequest,
        etag: Option<String>,
        progress: Arc<dyn Progress>,
    ) -> Arc<Self> {
        Arc::new(Ctx {
            client: client.clone(),
            bucket: req.bucket.clone(),
            key: req.key.to_string(),
            etag,
            max_attempts: req.settings.max_attempts,
            progress,
        })
    }
}

/// Where the bytes of a range go, in order: `(offset, chunk)`.
pub(crate) type Sink<'a> = dyn FnMut(u64, &Bytes) -> Result<(), Error> + Send + 'a;

/// What the first response tells about the object, and the start of its body.
pub(crate) struct First {
    /// The bytes the first response carries.
    pub(crate) range: Range<u64>,
    pub(crate) total: u64,
    pub(crate) etag: Option<String>,
    /// The CRC64NVME s3blob recorded at upload.
    pub(crate) recorded: Option<u64>,
    pub(crate) body: ByteStream,
}

pub async fn download(
    client: &Client,
    req: &DownloadRequest,
    progress: Arc<dyn Progress>,
    shutdown: &Shutdown,
) -> Result<Downloaded, Error> {
    tokio::select! {
        r = download_inner(client, req, progress) => r,
        () = shutdown.cancelled() => Err(shutdown.error()),
    }
}

async fn download_inner(
    client: &Client,
    req: &DownloadRequest,
    progress: Arc<dyn Progress>,
) -> Result<Downloaded, Error> {
    let key = req.key.to_string();
    if req.dest.is_dir() {
        return Err(Error::Usage(format!(
            "{} is a directory; pass -o DIR/ to write {} into it",
            req.dest.display(),
            req.key.filename()
        )));
    }
    if req.no_clobber && req.dest.symlink_metadata().is_ok() {
        return Err(Error::AlreadyExists(format!(
            "{} already exists; remove it or drop --no-clobber",
            req.dest.display()
        )));
    }
    // Before any network traffic, so an unwritable destination fails fast.
    let out = AtomicFile::create(&req.dest)?;
    let chunk = req.settings.part_size;

    let permit = req.budget.acquire().await;
    let First {
        range: first_range,
        total,
        etag,
        recorded,
        body: first_body,
    } = first_response(client, &req.bucket, &key, chunk).await?;
    debug!(%key, total, etag = ?etag, recorded = ?recorded.map(checksum::to_base64), "object found");

    // Sized (and its blocks reserved) before any byte arrives: a full disk fails here.
    let file = out
        .file()
        .try_clone()
        .map(FileWriter::new)
        .and_then(|f| f.set_len(total).map(|()| Arc::new(f)))
        .map_err(|e| Error::local_io("write", out.temp_path(), &e))?;
    progress.start(total);

    let ctx = Ctx::new(client, req, etag.clone(), progress);
    let temp_path: Arc<Path> = Arc::from(out.temp_path());
    // Each range task writes its chunks at their offsets.
    let spawn_range = |set: &mut JoinSet<Result<(usize, u64), Error>>,
                       index: usize,
                       range: Range<u64>,
                       body: Option<ByteStream>,
                       permit: Permit| {
        let (ctx, file, temp_path) = (ctx.clone(), file.clone(), temp_path.clone());
        set.spawn(async move {
            let _permit = permit;
            let mut sink = |pos: u64, bytes: &Bytes| {
                file.write_at(bytes, pos)
                    .map_err(|e| Error::local_io("write", &temp_path, &e))
            };
            let crc = fetch_range(&ctx, range.clone(), body, &mut sink).await?;
            // Hand the finished range to the disk now, so the final fsync has little left.
            file.start_write_back(range);
            Ok((index, crc))
        });
    };

    let mut ranges: Vec<Range<u64>> = vec![first_range.clone()];
    ranges.extend(plan::chunks(first_range.end, total, chunk));
    let mut crcs = vec![0u64; ranges.len()];
    let mut set = JoinSet::new();
    spawn_range(&mut set, 0, first_range.clone(), Some(first_body), permit);
    let mut next = 1;
    loop {
        tokio::select! {
            permit = req.budget.acquire(), if next < ranges.len() => {
                spawn_range(&mut set, next, ranges[next].clone(), None, permit);
                next += 1;
            }
            Some(joined) = set.join_next() => {
                let (index, crc) = joined
                    .map_err(|e| Error::Other(format!("a range download task failed: {e}")))??;
                crcs[index] = crc;
            }
            else => break,
        }
    }

    let crc64 = checksum::combine_all(crcs.iter().zip(&ranges).map(|(c, r)| (*c, r.end - r.start)));
    let verified = verify(client, &req.bucket, &key, recorded, crc64)
        .await?
        .map_err(|mismatch| {
            Error::Integrity(format!(
                "{mismatch}; {} was not written: retry, and if it persists the stored object is corrupt",
                req.dest.display()
            ))
        })?;
    drop(file);
    out.commit(req.no_clobber)?;
    Ok(Downloaded {
        size: total,
        crc64,
        etag,
        verified,
    })
}

/// The first GET: bytes `0..chunk` (the whole object if smaller), which also tell the object's
/// size, ETag and recorded checksum. An empty object answers a ranged GET with 416 and is
/// fetched whole.
pub(crate) async fn first_response(
    client: &Client,
    bucket: &str,
    key: &str,
    chunk: u64,
) -> Result<First, Error> {
    let first = get(client, bucket, key, Some(0..chunk), None).await?;
    let (range, total, resp) = match first {
        Some(resp) => {
            let (range, total) = match resp.content_range() {
                Some(cr) => parse_content_range(cr).ok_or_else(|| {
                    Error::Other(format!(
                        "s3://{bucket}/{key}: the server answered with an unreadable Content-Range {cr:?}"
                    ))
                })?,
                // The server ignored the Range header and is sending the whole object.
                None => {
                    let len = length(&resp);
                    (0..len, len)
                }
            };
            if range.start != 0 || (range.end != total && range.end != chunk) {
                return Err(Error::Other(format!(
                    "s3://{bucket}/{key}: asked for bytes 0-{} but the server sent {}-{} of {total}",
                    chunk - 1,
                    range.start,
                    range.end.saturating_sub(1)
                )));
            }
            (range, total, resp)
        }
        // 416: a ranged GET of an empty object. Fetch it whole.
        None => {
            let resp = get(client, bucket, key, None, None)
                .await?
                .ok_or_else(|| Error::Other(format!("s3://{bucket}/{key}: unexpected 416")))?;
            let len = length(&resp);
            (0..len, len, resp)
        }
    };
    let recorded = resp
        .metadata()
        .and_then(|m| m.get(CRC_METADATA_KEY))
        .map(|v| {
            checksum::from_base64(v).ok_or_else(|| {
                Error::Integrity(format!(
                    "s3://{bucket}/{key}: its {CRC_METADATA_KEY} metadata {v:?} is not a CRC64NVME; the object was not written by s3blob or was altered"
                ))
            })
        })
        .transpose()?;
    Ok(First {
        range,
        total,
        etag: resp.e_tag().map(str::to_owned),
        recorded,
        body: resp.body,
    })
}

/// The body length the server announced.
fn length(resp: &GetObjectOutput) -> u64 {
    resp.content_length()
        .and_then(|l| u64::try_from(l).ok())
        .unwrap_or(0)
}

/// One GET, of `range` if given, pinned to `etag` if given. `Ok(None)` on 416 (a range of an
/// empty object).
async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
    range: Option<Range<u64>>,
    etag: Option<&str>,
) -> Result<Option<GetObjectOutput>, Error> {
    let mut call = client.get_object().bucket(bucket).key(key);
    if let Some(r) = &range {
        call = call.range(range_header(r));
    }
    if let Some(etag) = etag {
        call = call.if_match(etag);
    }
    debug!(%key, range = ?range, "GetObject");
    match call.send().await {
        Ok(out) => Ok(Some(out)),
        Err(e) if status(&e) == Some(416) && range.is_some() && etag.is_none() => Ok(None),
        Err(e) if status(&e) == Some(412) => Err(Error::Integrity(format!(
            "s3://{bucket}/{key} changed on the server during the download; nothing was written: download it again"
        ))),
        Err(e) => Err(classify(&e, "download", bucket, Some(key))),
    }
}

/// Fetches `range` into the file and returns its CRC64NVME. A body that breaks off is resumed
/// from the last byte written, up to `max_attempts` times.
pub(crate) async fn fetch_range(
    ctx: &Ctx,
    range: Range<u64>,
    first: Option<ByteStream>,
    sink: &mut Sink<'_>,
) -> Result<u64, Error> {
    let mut crc = Crc64::default();
    let mut pos = range.start;
    let mut body = first;
    let mut attempt = 1;
    loop {
        let stream = match body.take() {
            Some(b) => b,
            None => {
                let resp = get(
                    &ctx.client,
                    &ctx.bucket,
                    &ctx.key,
                    Some(pos..range.end),
                    ctx.etag.as_deref(),
                )
                .await?
                .ok_or_else(|| {
                    Error::Other(format!("s3://{}/{}: unexpected 416", ctx.bucket, ctx.key))
                })?;
                check_range(ctx, &resp, pos..range.end)?;
                resp.body
            }
        };
        let failure = match write_body(ctx, stream, &mut pos, range.end, &mut crc, sink).await? {
            None if pos == range.end => return Ok(crc.value()),
            None => format!(
                "the body ended after {} of {} bytes",
                pos - range.start,
                range.end - range.start
            ),
            Some(e) => e,
        };
        if attempt >= ctx.max_attempts {
            return Err(Error::Network(format!(
                "cannot download s3://{}/{}: bytes {}-{} failed {attempt} times ({failure}); retry later or raise --max-attempts",
                ctx.bucket,
                ctx.key,
                range.start,
                range.end - 1
            )));
        }
        attempt += 1;
        let wait = backoff(attempt);
        warn!(key = %ctx.key, offset = pos, attempt, "resuming a broken download in {wait:?}: {failure}");
        tokio::time::sleep(wait).await;
    }
}

/// Checks that a ranged response covers exactly the bytes asked for.
fn check_range(ctx: &Ctx, resp: &GetObjectOutput, want: Range<u64>) -> Result<(), Error> {
    let got = resp
        .content_range()
        .and_then(parse_content_range)
        .map(|(r, _)| r);
    if got.as_ref() != Some(&want) {
        return Err(Error::Other(format!(
            "s3://{}/{}: asked for {} but the server answered {:?}; the server does not support ranged GETs properly",
            ctx.bucket,
            ctx.key,
            range_header(&want),
            resp.content_range()
        )));
    }
    Ok(())
}

/// Writes a body at `*pos` onwards, never past `end`. Returns `Ok(Some(reason))` for a network
/// failure worth resuming, `Err` for a local failure or a server sending too much.
async fn write_body(
    ctx: &Ctx,
    mut body: ByteStream,
    pos: &mut u64,
    end: u64,
    crc: &mut Crc64,
    sink: &mut Sink<'_>,
) -> Result<Option<String>, Error> {
    loop {
        match body.next().await {
            None => return Ok(None),
            Some(Err(e)) => return Ok(Some(crate::error::one_line(&e.to_string()))),
            Some(Ok(bytes)) => {
                let len = bytes.len() as u64;
                if *pos + len > end {
                    return Err(Error::Integrity(format!(
                        "s3://{}/{}: the server sent more bytes than the range it was asked for",
                        ctx.bucket, ctx.key
                    )));
                }
                sink(*pos, &bytes)?;
                crc.update(&bytes);
                *pos += len;
                ctx.progress.advance(len);
            }
        }
    }
}

/// Checks `crc64`, the CRC64NVME of the bytes received, against the one recorded at upload,
/// else the server's full-object checksum. The inner `Err` describes a mismatch; the caller
/// says what became of the bytes.
pub(crate) async fn verify(
    client: &Client,
    bucket: &str,
    key: &str,
    recorded: Option<u64>,
    crc64: u64,
) -> Result<Result<Verified, String>, Error> {
    let (expected, verified) = match recorded {
        Some(crc) => (Some(crc), Verified::Metadata),
        None => match server_checksum(client, bucket, key).await? {
            Some(crc) => (Some(crc), Verified::ServerChecksum),
            None => (None, Verified::SizeOnly),
        },
    };
    if let Some(expected) = expected
        && expected != crc64
    {
        return Ok(Err(format!(
            "s3://{bucket}/{key}: the downloaded bytes do not match the stored checksum (CRC64NVME {} expected, {} received)",
            checksum::to_base64(expected),
            checksum::to_base64(crc64),
        )));
    }
    if verified == Verified::SizeOnly {
        warn!(%key, "the object carries no CRC64NVME (uploaded by another tool, or streamed to a server that keeps no multipart checksums); only its size was verified");
    }
    Ok(Ok(verified))
}

/// The server's full-object CRC64NVME, for objects without s3blob's metadata.
async fn server_checksum(client: &Client, bucket: &str, key: &str) -> Result<Option<u64>, Error> {
    let info = inspect::head(client, bucket, key).await?;
    Ok(info
        .checksum
        .filter(|(_, source)| *source == ChecksumSource::Server)
        .map(|(crc, _)| crc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(destination(None, "f.bin"), PathBuf::from("f.bin"));
        assert_eq!(destination(Some(d), "f.bin"), d.join("f.bin"));
        assert_eq!(
            destination(Some(&d.join("x.bin")), "f.bin"),
            d.join("x.bin")
        );
        assert_eq!(
            destination(Some(Path::new("missing/")), "f.bin"),
            PathBuf::from("missing/f.bin")
        );
    }
}
