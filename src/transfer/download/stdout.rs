//! Downloading into a stream (stdout in the CLI), in order: ranges are fetched concurrently, at
//! most [`STREAM_PARTS_IN_FLIGHT`] ahead of the first one not yet written, held in memory and
//! written out as soon as all before them are. The checksum can only be compared at the end,
//! after the bytes have gone out; a mismatch is then reported (exit 5) with a plea to discard
//! what was written.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{DownloadRequest, Downloaded, Placement, Sink};
use crate::checksum::Sha256;
use crate::error::Error;
use crate::progress::SharedProgress;
use crate::shutdown::Shutdown;

/// Ranges held in memory at most (with 16 MiB ranges, 64 MiB of buffers).
pub const STREAM_PARTS_IN_FLIGHT: usize = 4;

/// Ordered writes: a range completed out of order waits in memory for those before it.
struct Ordered<W> {
    out: W,
    waiting: BTreeMap<usize, Vec<Bytes>>,
    /// The next range to write out.
    next: usize,
    written: u64,
    /// Hashing what is written, when the release's manifest lists a SHA-256 for the file.
    sha: Option<Sha256>,
}

impl<W: AsyncWrite + Unpin + Send> Sink for Ordered<W> {
    fn placement(&self) -> Placement {
        Placement::Hold
    }

    fn window(&self) -> usize {
        STREAM_PARTS_IN_FLIGHT
    }

    async fn complete(&mut self, index: usize, _crc: u64, held: Vec<Bytes>) -> Result<(), Error> {
        self.waiting.insert(index, held);
        while let Some(chunks) = self.waiting.remove(&self.next) {
            for bytes in chunks {
                if let Some(sha) = &mut self.sha {
                    sha.update(&bytes);
                }
                self.out
                    .write_all(&bytes)
                    .await
                    .map_err(|e| stdout_error(&e, self.written))?;
                self.written += bytes.len() as u64;
            }
            self.next += 1;
        }
        Ok(())
    }

    fn delivered(&self) -> usize {
        self.next
    }

    async fn finish(&mut self) -> Result<(), Error> {
        let written = self.written;
        self.out
            .flush()
            .await
            .map_err(|e| stdout_error(&e, written))
    }
}

/// Downloads `req.key` into `out`, in order. `req.dest` is not used.
pub async fn download_to_writer<W: AsyncWrite + Unpin + Send>(
    client: &Client,
    req: &DownloadRequest,
    out: W,
    progress: SharedProgress,
    shutdown: &Shutdown,
) -> Result<Downloaded, Error> {
    shutdown.guard(download(client, req, out, progress)).await
}

async fn download<W: AsyncWrite + Unpin + Send>(
    client: &Client,
    req: &DownloadRequest,
    out: W,
    progress: SharedProgress,
) -> Result<Downloaded, Error> {
    let opened = super::open(client, req).await?;
    // Known before any byte goes out, so the bytes can be hashed as they are written.
    let sha = opened.listed.as_ref().and_then(|e| e.sha256.as_ref());
    let mut sink = Ordered {
        out,
        waiting: BTreeMap::new(),
        next: 0,
        written: 0,
        sha: sha.map(|_| Sha256::default()),
    };
    let received = super::receive(
        client,
        req,
        opened,
        progress,
        &mut sink,
        &Default::default(),
    )
    .await?;
    let written = sink.written;
    let discard = |mismatch: String| {
        Error::Integrity(format!(
            "{mismatch}; the {written} bytes written to stdout are not the stored object: discard them, and retry"
        ))
    };
    let downloaded = received.checked.map_err(discard)?;
    if let (Some(want), Some(sha)) = (received.sha256, sink.sha)
        && sha.hex() != want
    {
        return Err(discard(format!(
            "s3://{}/{}: the bytes do not match the SHA-256 in the release's manifest",
            req.bucket, req.key
        )));
    }
    Ok(downloaded)
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
