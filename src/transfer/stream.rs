//! Streams instead of files: `upload -` (stdin) and `download -o -` (stdout).
//!
//! Downloading to a stream: ranges are fetched concurrently, at most `STREAM_PARTS_IN_FLIGHT`
//! ahead, held in memory and written out in order. The checksum can only be compared at the
//! end, after the bytes have gone out; a mismatch is then reported (exit 5) with a plea to
//! discard what was written.
//!
//! Uploading from a stream of unknown size (stdin): parts are read into memory,
//! at most `STREAM_PARTS_IN_FLIGHT` at a time (plus the one being filled), so memory stays
//! bounded whatever the stream's length; part sizes grow (see
//! [`plan::stream_part_size`]) so the 10,000-part limit is reached only after hundreds of GiB.
//!
//! What cannot be as with a file: the full-object CRC64NVME is known only at the end, after
//! CreateMultipartUpload has fixed the object's metadata. A stream that fits in one part is a
//! single PutObject carrying the checksum in its metadata as usual; a longer one sends the
//! combined CRC64NVME with CompleteMultipartUpload (S3 checks it against the parts and keeps
//! it), so downloads verify it as the server's checksum where the server keeps one.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::CompletedPart;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::{JoinHandle, JoinSet};
use tracing::debug;

use crate::checksum::{self, Crc64};
use crate::error::Error;
use crate::progress::Progress;
use crate::s3::{classify, status};
use crate::shutdown::Shutdown;
use crate::transfer::download::{self, Ctx, DownloadRequest, Downloaded, First};
use crate::transfer::plan::{self, MAX_PARTS};
use crate::transfer::upload::{
    Assembled, UploadRequest, Uploaded, existing_outcome, finish_multipart, judge_existing,
    precheck, put_request, start_multipart,
};

/// Parts held in memory while they are sent; with 16 MiB parts, at most 80 MiB in all.
pub const STREAM_PARTS_IN_FLIGHT: usize = 4;

/// Uploads everything `input` yields (stdin in the CLI) to `req.key`. `req.path` is only a
/// label.
pub async fn upload_stream<R: AsyncRead + Unpin>(
    client: &Client,
    req: &UploadRequest,
    mut input: R,
    progress: &dyn Progress,
    shutdown: &Shutdown,
) -> Result<Uploaded, Error> {
    let cancelled = || shutdown.error();
    let start = async {
        tokio::join!(
            read_part(&mut input, req.settings.part_size),
            precheck(client, req)
        )
    };
    let (first, existing) = tokio::select! {
        r = start => r,
        () = shutdown.cancelled() => return Err(cancelled()),
    };
    let (first, ended) = first?;
    if let Some(existing) = existing? {
        // Taken: only identical bytes are success. Read the rest to know, sending nothing.
        let (size, crc64) = tokio::select! {
            r = drain(first, &mut input) => r?,
            () = shutdown.cancelled() => return Err(cancelled()),
        };
        return judge_existing(req, existing, size, crc64);
    }
    if ended {
        return tokio::select! {
            r = async {
                let _permit = req.budget.acquire().await;
                put_bytes(client, req, first, progress).await
            } => r,
            () = shutdown.cancelled() => Err(cancelled()),
        };
    }
    multipart(client, req, first, input, progress, shutdown).await
}

/// Size and CRC64NVME of `first` and the rest of the input.
async fn drain<R: AsyncRead + Unpin>(first: Bytes, input: &mut R) -> Result<(u64, u64), Error> {
    let mut crc = Crc64::default();
    crc.update(&first);
    let mut size = first.len() as u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf).await.map_err(stdin_error)?;
        if n == 0 {
            return Ok((size, crc.value()));
        }
        crc.update(&buf[..n]);
        size += n as u64;
    }
}

/// Reads until `len` bytes or the end of input; `true` when the input ended.
async fn read_part<R: AsyncRead + Unpin>(input: &mut R, len: u64) -> Result<(Bytes, bool), Error> {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let mut buf = BytesMut::with_capacity(len);
    while buf.len() < len {
        let want = (len - buf.len()) as u64;
        if (&mut *input)
            .take(want)
            .read_buf(&mut buf)
            .await
            .map_err(stdin_error)?
            == 0
        {
            return Ok((buf.freeze(), true));
        }
    }
    Ok((buf.freeze(), false))
}

fn stdin_error(e: std::io::Error) -> Error {
    Error::Other(format!("cannot read stdin: {e}"))
}

/// A stream that fit in one part: one PutObject, checksum in the metadata as for files.
async fn put_bytes(
    client: &Client,
    req: &UploadRequest,
    bytes: Bytes,
    progress: &dyn Progress,
) -> Result<Uploaded, Error> {
    let key = req.key.to_string();
    let size = bytes.len() as u64;
    let crc64 = checksum::crc64(&bytes);
    let put = put_request(client, req, size, crc64, ByteStream::from(bytes));
    progress.start(size);
    debug!(bucket = %req.bucket, %key, size, "PutObject from stdin");
    match put.customize().disable_payload_signing().send().await {
        Ok(out) => {
            progress.advance(size);
            Ok(Uploaded::stored(size, crc64, out.e_tag, 1))
        }
        Err(e) if status(&e) == Some(412) => existing_outcome(client, req, size, crc64).await,
        Err(e) => Err(classify(&e, "upload to", &req.bucket, Some(&key))),
    }
}

/// A stream longer than one part: its CRC64NVME is only known at the end, so it goes with
/// CompleteMultipartUpload, not into the metadata.
async fn multipart<R: AsyncRead + Unpin>(
    client: &Client,
    req: &UploadRequest,
    first: Bytes,
    mut input: R,
    progress: &dyn Progress,
    shutdown: &Shutdown,
) -> Result<Uploaded, Error> {
    let upload_id = start_multipart(client, req, None).await?;
    let send = async {
        let (parts, size, crc64) =
            send_stream(client, req, &upload_id, first, &mut input, progress).await?;
        Ok(Assembled { parts, size, crc64 })
    };
    finish_multipart(client, req, &upload_id, send, shutdown).await
}

/// Reads parts and sends them, `STREAM_PARTS_IN_FLIGHT` at a time within the budget. Returns
/// the completed parts in order, the total size and the combined CRC64NVME.
async fn send_stream<R: AsyncRead + Unpin>(
    client: &Client,
    req: &UploadRequest,
    upload_id: &str,
    first: Bytes,
    input: &mut R,
    progress: &dyn Progress,
) -> Result<(Vec<CompletedPart>, u64, u64), Error> {
    let key = req.key.to_string();
    let mut done: Vec<Option<CompletedPart>> = Vec::new();
    let mut set = JoinSet::new();
    let (mut size, mut crc64) = (0u64, 0u64);
    let (mut next, mut ended) = (Some(first), false);
    let mut index: u64 = 0;
    while let Some(bytes) = next.take() {
        // At most STREAM_PARTS_IN_FLIGHT parts in memory, plus the one being read.
        while set.len() >= STREAM_PARTS_IN_FLIGHT {
            collect(&mut set, &mut done, progress).await?;
        }
        if index >= MAX_PARTS {
            return Err(Error::Usage(format!(
                "stdin holds more than {} (10,000 parts); pass a larger --part-size",
                crate::output::human_bytes(plan::stream_capacity(req.settings.part_size))
            )));
        }
        let len = bytes.len() as u64;
        let part_crc = checksum::crc64(&bytes);
        crc64 = checksum::combine(crc64, part_crc, len);
        size += len;
        progress.start(len);
        let permit = req.budget.acquire().await;
        let number = i32::try_from(index + 1).unwrap_or(i32::MAX);
        let (client, bucket, key, upload_id) = (
            client.clone(),
            req.bucket.clone(),
            key.clone(),
            upload_id.to_owned(),
        );
        let crc = checksum::to_base64(part_crc);
        set.spawn(async move {
            let _permit = permit;
            debug!(part = number, len, "UploadPart from stdin");
            let out = client
                .upload_part()
                .bucket(&bucket)
                .key(&key)
                .upload_id(&upload_id)
                .part_number(number)
                .content_length(i64::try_from(len).unwrap_or(i64::MAX))
                .checksum_crc64_nvme(&crc)
                .body(ByteStream::from(bytes))
                // In-memory bodies would be SHA-256 hashed for the signature; the CRC64NVME
                // already protects them (files stream unsigned for the same reason).
                .customize()
                .disable_payload_signing()
                .send()
                .await
                .map_err(|e| classify(&e, "upload a part of", &bucket, Some(&key)))?;
            let part = CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag)
                .checksum_crc64_nvme(crc)
                .build();
            Ok::<_, Error>((number, len, part))
        });
        index += 1;
        if !ended {
            let part_size = plan::stream_part_size(req.settings.part_size, index);
            let (bytes, end) = read_part(input, part_size).await?;
            ended = end;
            next = (!bytes.is_empty()).then_some(bytes);
        }
    }
    while !set.is_empty() {
        collect(&mut set, &mut done, progress).await?;
    }
    let parts = done
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.ok_or_else(|| Error::Other(format!("part {} was never sent", i + 1))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((parts, size, crc64))
}

type PartResult = Result<(i32, u64, CompletedPart), Error>;

/// Waits for one part to finish and files it under its number.
async fn collect(
    set: &mut JoinSet<PartResult>,
    done: &mut Vec<Option<CompletedPart>>,
    progress: &dyn Progress,
) -> Result<(), Error> {
    let Some(joined) = set.join_next().await else {
        return Ok(());
    };
    let (number, len, part) =
        joined.map_err(|e| Error::Other(format!("a part upload task failed: {e}")))??;
    let i = usize::try_from(number - 1).unwrap_or(0);
    if done.len() <= i {
        done.resize(i + 1, None);
    }
    done[i] = Some(part);
    progress.advance(len);
    Ok(())
}

/// Downloads `req.key` into `out` (stdout in the CLI), in order. `req.dest` is not used.
pub async fn download_stream<W: AsyncWrite + Unpin>(
    client: &Client,
    req: &DownloadRequest,
    out: W,
    progress: Arc<dyn Progress>,
    shutdown: &Shutdown,
) -> Result<Downloaded, Error> {
    tokio::select! {
        r = download_stream_inner(client, req, out, progress) => r,
        () = shutdown.cancelled() => Err(shutdown.error()),
    }
}

/// A range fetch that is cancelled when dropped (an early return stops the others).
struct Fetch(JoinHandle<Result<(Vec<Bytes>, u64), Error>>);

impl Drop for Fetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn download_stream_inner<W: AsyncWrite + Unpin>(
    client: &Client,
    req: &DownloadRequest,
    mut out: W,
    progress: Arc<dyn Progress>,
) -> Result<Downloaded, Error> {
    let key = req.key.to_string();
    let chunk = req.settings.part_size;
    let permit = req.budget.acquire().await;
    let First {
        range: first_range,
        total,
        etag,
        recorded,
        body,
    } = download::first_response(client, &req.bucket, &key, chunk).await?;
    progress.start(total);
    let ctx = Ctx::new(client, req, etag.clone(), progress);
    let fetch = |range: std::ops::Range<u64>, body, permit| {
        let ctx = ctx.clone();
        Fetch(tokio::spawn(async move {
            let _permit = permit;
            let mut chunks = Vec::new();
            let mut sink = |_: u64, bytes: &Bytes| {
                chunks.push(bytes.clone());
                Ok(())
            };
            let crc = download::fetch_range(&ctx, range, body, &mut sink).await?;
            Ok((chunks, crc))
        }))
    };
    let mut ranges = vec![first_range.clone()];
    ranges.extend(plan::chunks(first_range.end, total, chunk));
    let mut pending = VecDeque::from([fetch(first_range, Some(body), permit)]);
    let mut next = 1;
    let (mut crc64, mut written) = (0u64, 0u64);
    while let Some(mut ahead) = pending.pop_front() {
        // Keep fetching ahead while this range is awaited, up to the in-memory limit.
        while next < ranges.len() && pending.len() < STREAM_PARTS_IN_FLIGHT - 1 {
            let permit = req.budget.acquire().await;
            pending.push_back(fetch(ranges[next].clone(), None, permit));
            next += 1;
        }
        let (chunks, crc) = (&mut ahead.0)
            .await
            .map_err(|e| Error::Other(format!("a range download task failed: {e}")))??;
        let len: u64 = chunks.iter().map(|c| c.len() as u64).sum();
        for bytes in chunks {
            out.write_all(&bytes)
                .await
                .map_err(|e| stdout_error(&e, written))?;
            written += bytes.len() as u64;
        }
        crc64 = checksum::combine(crc64, crc, len);
    }
    out.flush().await.map_err(|e| stdout_error(&e, written))?;
    let verified = download::verify(client, &req.bucket, &key, recorded, crc64)
        .await?
        .map_err(|mismatch| {
            Error::Integrity(format!(
                "{mismatch}; the {written} bytes written to stdout are not the stored object: discard them, and retry"
            ))
        })?;
    Ok(Downloaded {
        size: total,
        crc64,
        etag,
        verified,
    })
}

fn stdout_error(e: &std::io::Error, written: u64) -> Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Error::Other(format!(
            "stdout was closed by its reader after {written} bytes; the download stopped unfinished"
        ))
    } else {
        Error::Other(format!("cannot write to stdout after {written} bytes: {e}"))
    }
}
