//! Downloading into a local file that appears whole and verified, or not at all: the ranges
//! are written at their offsets into a temporary file beside the destination (see
//! [`writer`](super::writer) for how, and for the early write-back of finished ranges), and the
//! file is fsynced and renamed into place only once the whole object's CRC64NVME matches.

use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::Client;
use bytes::Bytes;

use super::writer::FileWriter;
use super::{DownloadRequest, Downloaded, Placement, Sink};
use crate::checksum;
use crate::error::Error;
use crate::platform::atomic_file::AtomicFile;
use crate::progress::SharedProgress;
use crate::shutdown::Shutdown;

/// Positioned writes: every range is placed as it arrives, so no range waits for another.
struct FileSink {
    file: Arc<FileWriter>,
    path: Arc<Path>,
}

impl Sink for FileSink {
    fn placement(&self) -> Placement {
        Placement::At(self.file.clone(), self.path.clone())
    }

    fn window(&self) -> usize {
        usize::MAX
    }

    async fn complete(&mut self, _index: usize, _held: Vec<Bytes>) -> Result<(), Error> {
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
    // Before any network traffic, so an unwritable destination fails fast.
    let out = AtomicFile::create(&req.dest)?;
    let opened = super::open(client, req).await?;
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
    };
    let received = super::receive(client, req, opened, progress, &mut sink).await?;
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
