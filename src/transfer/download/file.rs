//! Downloading into a local file that appears whole and verified, or not at all: the ranges
//! are written at their offsets into a temporary file beside the destination (see
//! [`writer`](super::writer) for how, and for the early write-back of finished ranges), and the
//! file is fsynced and renamed into place only once the whole object's CRC64NVME matches.
//!
//! A download that may be resumed (`--resumable`, or one an earlier run left a partial file
//! for) writes into the named partial file of [`partial`](super::partial) instead, records
//! each finished range, and on failure keeps it (with `--resumable`) or removes it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::Client;
use bytes::Bytes;
use tracing::{info, warn};

use super::writer::FileWriter;
use super::{DownloadRequest, Downloaded, Opened, Placement, Sink, partial};
use crate::checksum;
use crate::error::Error;
use crate::platform::atomic_file::AtomicFile;
use crate::progress::SharedProgress;
use crate::shutdown::Shutdown;

/// Positioned writes: every range is placed as it arrives, so no range waits for another.
struct FileSink {
    file: Arc<FileWriter>,
    path: Arc<Path>,
    /// Where finished ranges are recorded, for a download that may be resumed.
    log: Option<partial::Log>,
}

impl Sink for FileSink {
    fn placement(&self) -> Placement {
        Placement::At(self.file.clone(), self.path.clone())
    }

    fn window(&self) -> usize {
        usize::MAX
    }

    async fn complete(&mut self, index: usize, crc: u64, _held: Vec<Bytes>) -> Result<(), Error> {
        // The range's bytes are written (by the task that fetched it) before it completes.
        if let Some(log) = &self.log {
            log.done(index, crc);
        }
        Ok(())
    }

    fn delivered(&self) -> usize {
        // Ranges are in place as soon as they arrive: none is ever held back.
        0
    }

    async fn finish(&mut self) -> Result<(), Error> {
        // The fsync comes with the commit, once the bytes are verified.
        Ok(())
    }
}

/// Downloads `req.key` to `req.dest`; a `shutdown` stops it cleanly (the temporary file is
/// removed, an existing destination untouched) with `Error::Interrupted`.
pub async fn download_to_file(
    client: &Client,
    req: &DownloadRequest,
    progress: SharedProgress,
    shutdown: &Shutdown,
) -> Result<Downloaded, Error> {
    shutdown.guard(download(client, req, progress)).await
}

async fn download(
    client: &Client,
    req: &DownloadRequest,
    progress: SharedProgress,
) -> Result<Downloaded, Error> {
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
    let paths = partial::Paths::beside(&req.dest);
    match paths {
        Some(paths) if req.settings.resumable || paths.exist() => {
            return resumable(client, req, progress, paths).await;
        }
        None if req.settings.resumable => warn!(
            "{}: the name is too long to keep a partial file beside it; downloading without resume",
            req.dest.display()
        ),
        _ => {}
    }
    // Before any network traffic, so an unwritable destination fails fast.
    let out = AtomicFile::create(&req.dest)?;
    let opened = super::open(client, req).await?;
    fill(client, req, opened, out, progress, &BTreeMap::new(), None).await
}

/// The download into `out`, verified, then committed to the destination: `done` ranges (kept
/// from an earlier run) are not fetched, and with a `log` each finished range is recorded.
async fn fill(
    client: &Client,
    req: &DownloadRequest,
    opened: Opened,
    out: AtomicFile,
    progress: SharedProgress,
    done: &BTreeMap<usize, u64>,
    log: Option<partial::Log>,
) -> Result<Downloaded, Error> {
    // Sized (and its blocks reserved) before any byte arrives: a full disk fails here.
    let file = out
        .file()
        .try_clone()
        .map(FileWriter::new)
        .and_then(|f| f.set_len(opened.total).map(|()| Arc::new(f)))
        .map_err(|e| Error::local_io("write", out.temp_path(), &e))?;
    let mut sink = FileSink {
        file,
        path: Arc::from(out.temp_path()),
        log,
    };
    let received = super::receive(client, req, opened, progress, &mut sink, done).await?;
    let not_written = |mismatch: String| {
        Error::Integrity(format!(
            "{mismatch}; {} was not written: retry, and if it persists the stored object is corrupt",
            req.dest.display()
        ))
    };
    let downloaded = received.checked.map_err(not_written)?;
    if let Some(want) = received.sha256 {
        let got = sha256_of(&out, downloaded.size).await?;
        if got != want {
            return Err(not_written(format!(
                "s3://{}/{}: the downloaded bytes do not match the SHA-256 in the release's manifest",
                req.bucket, req.key
            )));
        }
    }
    drop(sink);
    // The fsync waits for the disk: on a blocking thread, so many files' syncs overlap instead
    // of holding the runtime's workers one after the other.
    let (no_clobber, sync_dir) = (req.no_clobber, req.sync_dir);
    tokio::task::spawn_blocking(move || {
        if sync_dir {
            out.commit(no_clobber)
        } else {
            out.commit_file(no_clobber)
        }
    })
    .await
    .map_err(|e| Error::Other(format!("a commit task failed: {e}")))??;
    Ok(downloaded)
}

/// A download into the partial file beside the destination, continuing what an earlier run
/// kept when it is of the same object. On success the partial file becomes the destination;
/// on a mismatch it is removed (its bytes are not the object's); on any other failure or an
/// interruption it is kept with `--resumable`, else removed.
async fn resumable(
    client: &Client,
    req: &DownloadRequest,
    progress: SharedProgress,
    paths: partial::Paths,
) -> Result<Downloaded, Error> {
    let uri = format!("s3://{}/{}", req.bucket, req.key);
    let mut kept_for = Keep {
        paths: paths.clone(),
        keep: req.settings.resumable,
        armed: true,
        earlier: paths.exist(),
        ranges: None,
    };
    // Opened as it is (an earlier run's bytes may be reused), before any network traffic, so
    // an unwritable destination fails fast.
    let out = AtomicFile::partial(&req.dest, &paths.data, false)?;
    let opened = super::open(client, req).await?;
    let object = partial::Object {
        bucket: req.bucket.clone(),
        key: req.key.to_string(),
        etag: opened.etag.clone().unwrap_or_default(),
        size: opened.total,
        part_size: req.settings.part_size,
    };
    let ranges = super::ranges_of(opened.first.0.clone(), opened.total, object.part_size);
    let mut kept = BTreeMap::new();
    if paths.exist() {
        // Only an object whose every range can be pinned to its ETag, cut as planned.
        let planned = opened.first.0 == (0..object.part_size.min(object.size));
        match partial::recorded(&paths, &object) {
            Ok(recorded) if planned && !object.etag.is_empty() => {
                let file = out
                    .file()
                    .try_clone()
                    .map_err(|e| Error::local_io("read", &paths.data, &e))?;
                let (data, planned_ranges) = (paths.data.clone(), ranges.clone());
                kept = tokio::task::spawn_blocking(move || {
                    partial::still_there(&file, &data, &planned_ranges, &recorded)
                })
                .await
                .map_err(|e| Error::Other(format!("a checking task failed: {e}")))??;
                let bytes: u64 = kept.keys().map(|&i| ranges[i].end - ranges[i].start).sum();
                if kept.is_empty() {
                    info!(
                        "starting the download of {uri} over: its partial file holds no complete range that still checks on disk"
                    );
                } else {
                    info!(
                        "resuming the download of {uri}: {bytes} of {} bytes kept from an earlier run (checked on disk)",
                        object.size
                    );
                }
            }
            Ok(_) => info!(
                "starting the download of {uri} over: the object cannot be pinned to one version"
            ),
            Err(why) => info!(
                "starting the download of {uri} over: a partial file is kept for it, but {why}"
            ),
        }
    }
    if kept.is_empty() {
        // No stale byte of an earlier run survives into this one.
        out.file()
            .set_len(0)
            .map_err(|e| Error::local_io("write", &paths.data, &e))?;
    }
    let log = partial::Log::start(&paths, &object, &kept)?;
    kept_for.ranges = Some(log.ranges());
    let result = fill(client, req, opened, out, progress, &kept, Some(log)).await;
    match &result {
        Ok(_) => {
            // The partial file is the destination now; its record goes.
            kept_for.armed = false;
            paths.remove();
        }
        Err(Error::Integrity(_)) => {
            kept_for.armed = false;
            paths.remove();
        }
        Err(_) => {}
    }
    result
}

/// Keeps or removes a partial download when its run ends without finishing it, by any path
/// (an error, a signal dropping the download).
struct Keep {
    paths: partial::Paths,
    /// `--resumable`: keep it for the next run.
    keep: bool,
    armed: bool,
    /// An earlier run had left it: until this run's log is started, that run's work stands.
    earlier: bool,
    /// This run's count of complete ranges, once its log is started.
    ranges: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
}

impl Drop for Keep {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let worth_keeping = match &self.ranges {
            Some(ranges) => ranges.load(std::sync::atomic::Ordering::Relaxed) > 0,
            None => self.earlier,
        };
        if self.keep && !worth_keeping {
            info!("no part of the download was complete: no partial file is kept for resuming");
        }
        if self.keep && worth_keeping {
            warn!(
                "kept the partial download {} for resuming: run the same command again to continue, or delete it (and {}) to start over",
                self.paths.data.display(),
                self.paths.state.display()
            );
            crate::error::note_kept_download();
        } else {
            self.paths.remove();
        }
    }
}

/// The SHA-256 of the first `len` bytes of the temporary file (read back from the page cache,
/// on a blocking thread: the ranges arrived out of order, so they could not be hashed as they
/// came).
async fn sha256_of(out: &AtomicFile, len: u64) -> Result<String, Error> {
    let path = out.temp_path().to_owned();
    let file = out
        .file()
        .try_clone()
        .map_err(|e| Error::local_io("read", &path, &e))?;
    tokio::task::spawn_blocking(move || {
        let mut sha = checksum::Sha256::default();
        let mut buf = vec![0u8; crate::transfer::READ_BUFFER];
        let mut pos = 0;
        while pos < len {
            let want = usize::try_from(len - pos)
                .unwrap_or(buf.len())
                .min(buf.len());
            let n = crate::platform::read_at(&file, &mut buf[..want], pos)
                .map_err(|e| Error::local_io("read", &path, &e))?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            pos += n as u64;
        }
        Ok(sha.hex())
    })
    .await
    .map_err(|e| Error::Other(format!("a hashing task failed: {e}")))?
}
