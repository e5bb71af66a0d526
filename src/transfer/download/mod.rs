//! Downloading one object: into a local file that appears whole and verified or not at all
//! ([`file`]), or in order into a stream such as stdout ([`stdout`]). The two differ only in
//! their [`Sink`]; everything else is shared:
//!
//! - the first ranged GET learns the object's size, ETag and recorded checksum ([`range`]);
//! - one range scheduler ([`fetch_all`]) fetches the remaining ranges concurrently within the
//!   command's budget, each resumed from its last byte if its body breaks off, and combines
//!   their CRC64NVMEs into the whole object's;
//! - [`verify`] compares that value with the one recorded at upload (or the server's).

mod file;
mod partial;
mod range;
mod stdout;
pub mod writer;

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use tokio::task::JoinSet;
use tracing::debug;

use crate::checksum;
use crate::error::Error;
use crate::inspect::{self, ChecksumSource};
use crate::key::ObjectKey;
use crate::manifest::Entry;
use crate::plan;
use crate::progress::SharedProgress;
use crate::transfer::TransferSettings;
use crate::transfer::budget::{Budget, Permit};
use range::Ctx;
use writer::FileWriter;

pub use file::download_to_file;
pub use stdout::download_to_writer;

pub struct DownloadRequest {
    pub bucket: String,
    pub key: ObjectKey,
    /// The final path (already resolved from `-o`); unused for a stream.
    pub dest: PathBuf,
    pub no_clobber: bool,
    pub settings: TransferSettings,
    /// Requests in flight, shared with the command's other transfers.
    pub budget: Budget,
    /// The release's manifest: in a sealed release, the bytes must be what it lists.
    pub manifest: Option<super::Sealing>,
    /// The object's size, when a listing said it: one that fits in a part is fetched whole,
    /// with its checksum.
    pub size_hint: Option<u64>,
    /// Fsync the destination's directory after the rename; a batch into one directory syncs
    /// it once at the end instead.
    pub sync_dir: bool,
}

/// How the downloaded bytes were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Against the release's manifest (size, CRC64NVME, and SHA-256 where it lists one).
    Manifest,
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
        // A trailing separator (`/`; on Windows `\` too) names a directory, existing or not.
        Some(p)
            if p.is_dir()
                || p.as_os_str()
                    .to_string_lossy()
                    .ends_with(std::path::is_separator) =>
        {
            p.join(filename)
        }
        Some(p) => p.to_owned(),
    }
}

/// How a range's bytes are placed as they arrive, by the task that receives them.
#[derive(Clone)]
enum Placement {
    /// Written at their offset in this file (the temporary file of [`file`]).
    At(Arc<FileWriter>, Arc<Path>),
    /// Held in memory until the range can be delivered in order ([`stdout`]).
    Hold,
}

/// Where a download's bytes go.
trait Sink: Send {
    fn placement(&self) -> Placement;
    /// Ranges that may be started ahead of the first one not yet delivered: a sink that holds
    /// ranges in memory bounds them; one that places them at once does not.
    fn window(&self) -> usize;
    /// Range `index` is complete, with this CRC64NVME; `held` is its bytes when the placement
    /// holds them.
    fn complete(
        &mut self,
        index: usize,
        crc: u64,
        held: Vec<Bytes>,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// How many ranges, from the first, are delivered.
    fn delivered(&self) -> usize;
    /// Every range is in: push out what is buffered.
    fn finish(&mut self) -> impl Future<Output = Result<(), Error>> + Send;
}

/// An object whose first ranged GET has answered: what it said, and its body (with the
/// request slot it holds) for the scheduler.
struct Opened {
    total: u64,
    etag: Option<String>,
    /// The CRC64NVME s3blob recorded at upload.
    recorded: Option<u64>,
    /// The server's full-object CRC64NVME as the first response told it (`Some(None)`: asked
    /// for, and there is none); `None` when it could not tell (a ranged response).
    server: Option<Option<u64>>,
    first: (Range<u64>, ByteStream, Permit),
    /// The file's entry in its release's manifest, when the release is sealed.
    listed: Option<Entry>,
}

/// Sends the first ranged GET, within the budget, and at the same time looks the file up in
/// its release's manifest: a small download stays one round trip.
async fn open(client: &Client, req: &DownloadRequest) -> Result<Opened, Error> {
    let key = req.key.to_string();
    let chunk = req.settings.part_size;
    let whole = req.size_hint.is_some_and(|size| size <= chunk);
    let permit = req
        .budget
        .acquire(req.size_hint.unwrap_or(chunk).min(chunk))
        .await;
    // Each boxed: an SDK call's future is several KiB, and a batch keeps hundreds alive.
    let (first, listed) = tokio::join!(
        Box::pin(range::first_response(
            client,
            &req.bucket,
            &key,
            chunk,
            whole
        )),
        Box::pin(listed(req))
    );
    let range::First {
        range,
        total,
        etag,
        recorded,
        server,
        body,
    } = match first {
        Ok(first) => first,
        Err(Error::NotFound(why)) => {
            return Err(match listed {
                Ok(Some(_)) => Error::Integrity(format!(
                    "s3://{}/{key} is listed in the manifest of its sealed release but missing from the store (deleted behind s3blob's back?)",
                    req.bucket
                )),
                _ => Error::NotFound(why),
            });
        }
        Err(e) => return Err(e),
    };
    let listed = listed?;
    debug!(%key, total, etag = ?etag, recorded = ?recorded.map(checksum::to_base64), "object found");
    Ok(Opened {
        total,
        etag,
        recorded,
        server,
        first: (range, body, permit),
        listed,
    })
}

/// What a download received and how it compares.
struct Received {
    /// The inner `Err` describes a mismatch; the caller says what became of the bytes.
    checked: Result<Downloaded, String>,
    /// The SHA-256 the manifest lists for the file, for the sink to check over the bytes.
    sha256: Option<String>,
}

/// Fetches the whole opened object into `sink` and verifies it: against the release's manifest
/// when the release is sealed, else against the checksum recorded at upload or the server's.
async fn receive<S: Sink>(
    client: &Client,
    req: &DownloadRequest,
    opened: Opened,
    progress: SharedProgress,
    sink: &mut S,
    done: &BTreeMap<usize, u64>,
) -> Result<Received, Error> {
    let Opened {
        total,
        etag,
        recorded,
        server,
        first,
        listed,
    } = opened;
    progress.start(total);
    let ctx = Ctx::new(client, req, etag.clone(), progress);
    let crc64 = fetch_all(&ctx, req, first, total, sink, done).await?;
    sink.finish().await?;
    let key = req.key.to_string();
    let verified = match &listed {
        Some(entry) => against_manifest(&req.bucket, &key, entry, total, crc64),
        None => verify(client, req, recorded, server, crc64).await?,
    };
    Ok(Received {
        checked: verified.map(|verified| Downloaded {
            size: total,
            crc64,
            etag,
            verified,
        }),
        sha256: listed.and_then(|e| e.sha256),
    })
}

/// The manifest's entry for the file when its release is sealed. A sealed release that does
/// not list the file is an error: the object was added behind s3blob's back.
async fn listed(req: &DownloadRequest) -> Result<Option<Entry>, Error> {
    let Some(release) = &req.manifest else {
        return Ok(None);
    };
    let Some(manifest) = release.manifest().await? else {
        return Ok(None);
    };
    match manifest.files.get(req.key.filename()) {
        Some(entry) => Ok(Some(entry.clone())),
        None => Err(Error::Integrity(format!(
            "s3://{}/{} is not part of the sealed release {}/{} (its manifest does not list it: it was added after sealing); nothing was written",
            req.bucket,
            req.key,
            req.key.suite(),
            req.key.release()
        ))),
    }
}

/// Size and CRC64NVME against the manifest's entry.
fn against_manifest(
    bucket: &str,
    key: &str,
    entry: &Entry,
    size: u64,
    crc64: u64,
) -> Result<Verified, String> {
    if entry.size != size {
        return Err(format!(
            "s3://{bucket}/{key} holds {size} bytes, its release's manifest {} (the object was replaced)",
            entry.size
        ));
    }
    if entry.crc64 != crc64 {
        return Err(format!(
            "s3://{bucket}/{key}: the downloaded bytes do not match the release's manifest (CRC64NVME {} listed, {} received)",
            checksum::to_base64(entry.crc64),
            checksum::to_base64(crc64)
        ));
    }
    Ok(Verified::Manifest)
}

/// A finished range: its index, its CRC64NVME, and its bytes if the placement holds them.
type Fetched = (usize, u64, Vec<Bytes>);

/// The one range scheduler: fetches the first range from the first response's body (its
/// permit already held) and every other range of the object (`--part-size` each),
/// concurrently within the budget and the sink's window, handing each to `sink`; returns the
/// whole object's CRC64NVME. Ranges in `done` (by index, with their CRC64NVME: kept from an
/// earlier run) are not fetched. The first failure stops the rest (dropping the set cancels
/// them).
async fn fetch_all<S: Sink>(
    ctx: &Arc<Ctx>,
    req: &DownloadRequest,
    first: (Range<u64>, ByteStream, Permit),
    total: u64,
    sink: &mut S,
    done: &BTreeMap<usize, u64>,
) -> Result<u64, Error> {
    let (first_range, first_body, first_permit) = first;
    let ranges = ranges_of(first_range, total, req.settings.part_size);
    let placement = sink.placement();
    let spawn = |set: &mut JoinSet<Result<Fetched, Error>>,
                 index: usize,
                 body: Option<ByteStream>,
                 permit: Permit| {
        let (ctx, placement, range) = (ctx.clone(), placement.clone(), ranges[index].clone());
        let span = tracing::debug_span!("range", bytes = %format_args!("{}-{}", range.start, range.end.saturating_sub(1)));
        set.spawn(tracing::Instrument::instrument(
            async move {
                let _permit = permit;
                let mut held = Vec::new();
                let crc = match &placement {
                    Placement::At(file, path) => {
                        let mut at = |pos: u64, bytes: &Bytes| {
                            file.write_at(bytes, pos)
                                .map_err(|e| Error::local_io("write", path, &e))
                        };
                        let crc = range::fetch(&ctx, range.clone(), body, &mut at).await?;
                        // Hand the finished range to the disk now, so the final fsync has little
                        // left.
                        file.start_write_back(range);
                        crc
                    }
                    Placement::Hold => {
                        let mut hold = |_: u64, bytes: &Bytes| {
                            held.push(bytes.clone());
                            Ok(())
                        };
                        range::fetch(&ctx, range, body, &mut hold).await?
                    }
                };
                Ok((index, crc, held))
            },
            span,
        ));
    };
    let mut crcs = vec![0u64; ranges.len()];
    for (&index, &crc) in done {
        if let Some(range) = ranges.get(index) {
            crcs[index] = crc;
            ctx.progress.advance(range.end - range.start);
        }
    }
    let skip = |i: usize| done.contains_key(&i);
    let mut set = JoinSet::new();
    if skip(0) {
        // Kept from an earlier run: the first response told what the object is, its body is
        // not needed.
        drop((first_body, first_permit));
    } else {
        spawn(&mut set, 0, Some(first_body), first_permit);
    }
    let mut next = (1..ranges.len())
        .find(|&i| !skip(i))
        .unwrap_or(ranges.len());
    loop {
        let may_start = next < ranges.len() && next - sink.delivered() < sink.window();
        let next_len = ranges.get(next).map_or(0, |r| r.end - r.start);
        tokio::select! {
            permit = req.budget.acquire(next_len), if may_start => {
                spawn(&mut set, next, None, permit);
                next = (next + 1..ranges.len()).find(|&i| !skip(i)).unwrap_or(ranges.len());
            }
            Some(joined) = set.join_next() => {
                let (index, crc, held) = joined
                    .map_err(|e| Error::Other(format!("a range download task failed: {e}")))??;
                crcs[index] = crc;
                sink.complete(index, crc, held).await?;
            }
            else => break,
        }
    }
    Ok(checksum::combine_all(
        crcs.iter().zip(&ranges).map(|(c, r)| (*c, r.end - r.start)),
    ))
}

/// The ranges an object of `total` bytes is fetched in: the first response's, then
/// `part_size` each.
fn ranges_of(first: Range<u64>, total: u64, part_size: u64) -> Vec<Range<u64>> {
    let mut ranges = vec![first.clone()];
    ranges.extend(plan::chunks(first.end, total, part_size));
    ranges
}

/// Checks `crc64`, the CRC64NVME of the bytes received, against the one recorded at upload,
/// else the server's full-object checksum (from the first response when it carried one, else
/// from a HEAD). The inner `Err` describes a mismatch; the caller says what became of the
/// bytes.
async fn verify(
    client: &Client,
    req: &DownloadRequest,
    recorded: Option<u64>,
    server: Option<Option<u64>>,
    crc64: u64,
) -> Result<Result<Verified, String>, Error> {
    let (bucket, key) = (&req.bucket, req.key.to_string());
    let (expected, verified) = match (recorded, server) {
        (Some(crc), _) => (Some(crc), Verified::Metadata),
        (None, Some(Some(crc))) => (Some(crc), Verified::ServerChecksum),
        // The whole object came back without one: a HEAD would not find one either.
        (None, Some(None)) => (None, Verified::SizeOnly),
        (None, None) => {
            let _permit = req.budget.acquire(0).await;
            match Box::pin(server_checksum(client, bucket, &key)).await? {
                Some(crc) => (Some(crc), Verified::ServerChecksum),
                None => (None, Verified::SizeOnly),
            }
        }
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
        debug!(%key, "the object carries no CRC64NVME; only its size was verified");
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
