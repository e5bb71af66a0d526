//! Ranged GETs: the first one, which also tells the object's size, ETag and recorded
//! checksum (one round trip for a small object); the others, pinned to that ETag with
//! `If-Match` so an object replaced mid-download fails instead of mixing versions; and the
//! resumption of a body that breaks off, from the last byte received.

use std::ops::Range;
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumType;
use bytes::Bytes;
use tracing::{debug, warn};

use super::DownloadRequest;
use crate::checksum::{self, Crc64};
use crate::error::Error;
use crate::plan::{parse_content_range, range_header};
use crate::progress::SharedProgress;
use crate::s3::{classify, status};
use crate::transfer::backoff;

/// Where the bytes of a range go, in order: `(offset, chunk)`.
pub(super) type ChunkSink<'a> = dyn FnMut(u64, &Bytes) -> Result<(), Error> + Send + 'a;

/// Everything a range fetch needs, shared by the concurrent tasks.
pub(super) struct Ctx {
    pub(super) client: Client,
    pub(super) bucket: String,
    pub(super) key: String,
    /// Pins every range to the object version the first response came from.
    pub(super) etag: Option<String>,
    pub(super) max_attempts: u32,
    pub(super) progress: SharedProgress,
}

impl Ctx {
    pub(super) fn new(
        client: &Client,
        req: &DownloadRequest,
        etag: Option<String>,
        progress: SharedProgress,
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

/// What the first response tells about the object, and the start of its body.
pub(super) struct First {
    /// The bytes the first response carries.
    pub(super) range: Range<u64>,
    pub(super) total: u64,
    pub(super) etag: Option<String>,
    /// The CRC64NVME s3blob recorded at upload.
    pub(super) recorded: Option<u64>,
    /// The server's full-object CRC64NVME, when the response covers the whole object and
    /// carries one: `Some(None)` when it was asked for and there is none.
    pub(super) server: Option<Option<u64>>,
    pub(super) body: ByteStream,
}

/// The first GET: bytes `0..chunk` (the whole object if smaller), which also tell the object's
/// size, ETag and recorded checksum. An empty object answers a ranged GET with 416 and is
/// fetched whole. With `whole` (the object is known to fit in one chunk) the GET has no range
/// and asks for the object's checksum too: S3 returns checksums only with whole objects, and
/// this spares a HEAD for objects that carry no s3blob metadata.
pub(super) async fn first_response(
    client: &Client,
    bucket: &str,
    key: &str,
    chunk: u64,
    whole: bool,
) -> Result<First, Error> {
    let first = if whole {
        get(client, bucket, key, None, None).await?
    } else {
        get(client, bucket, key, Some(0..chunk), None).await?
    };
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
        .and_then(|m| m.get(checksum::METADATA_KEY))
        .map(|v| {
            checksum::from_base64(v).ok_or_else(|| {
                Error::Integrity(format!(
                    "s3://{bucket}/{key}: its {} metadata {v:?} is not a CRC64NVME; the object was not written by s3blob or was altered",
                    checksum::METADATA_KEY
                ))
            })
        })
        .transpose()?;
    let full_object = matches!(resp.checksum_type(), None | Some(ChecksumType::FullObject));
    let server_crc = resp
        .checksum_crc64_nvme()
        .filter(|_| full_object && range.end == total)
        .and_then(checksum::from_base64);
    let server = whole.then_some(server_crc).or(server_crc.map(Some));
    Ok(First {
        range,
        total,
        etag: resp.e_tag().map(str::to_owned),
        recorded,
        server,
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
    let sent = if range.is_none() {
        // The header without the SDK's `checksum_mode` field: the SDK would then validate the
        // body itself, a second CRC over every byte; s3blob does its own.
        call.customize()
            .mutate_request(|r| {
                r.headers_mut().insert("x-amz-checksum-mode", "ENABLED");
            })
            .send()
            .await
    } else {
        call.send().await
    };
    match sent {
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
pub(super) async fn fetch(
    ctx: &Ctx,
    range: Range<u64>,
    first: Option<ByteStream>,
    sink: &mut ChunkSink<'_>,
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
    sink: &mut ChunkSink<'_>,
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
