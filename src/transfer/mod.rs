//! Moving bytes, by direction: [`upload`] (a file or stdin as parts, one send loop) and
//! [`download`] (one range scheduler, into a file or a stream); [`crate::plan`] (pure part and
//! range math) and [`budget`] (the requests in flight) serve both, as does the retry pacing
//! here. [`TransferSettings`] is the engine's own: the face fills it from flags and variables.
//! Neither direction uses the other, and the engine knows nothing of the command line.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::manifest::Manifest;

pub mod batch;
pub mod budget;
pub mod copy;
pub mod download;
pub mod upload;

#[cfg(test)]
mod engine_tests;

/// A future the engine awaits without knowing its type.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether the release a key belongs to is sealed, as the release layer finds out (one
/// manifest fetched per command and shared by its files); the engine asks, and then refuses
/// to change a sealed release and checks what it downloads against the manifest.
pub trait SealedRelease: Send + Sync {
    /// The release's manifest when it is sealed; `None` while it is open.
    fn manifest(&self) -> BoxFuture<'_, Result<Option<Arc<Manifest>>, Error>>;
}

/// The [`SealedRelease`] a command's files share.
pub type Sealing = Arc<dyn SealedRelease>;

/// How big the pieces of a transfer are and how many move at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferSettings {
    pub part_size: u64,
    /// Parts or ranges of `part_size` in flight: with it, the bytes in flight.
    pub concurrency: usize,
    /// Requests in flight at most, small ones and HEADs included (and files at once).
    pub max_requests: usize,
    /// Attempts per part or range, also for failures the SDK does not retry (a body cut short).
    pub max_attempts: u32,
    /// Whether writes carry `x-amz-checksum-crc64nvme`.
    pub checksum_header: crate::values::HeaderMode,
    /// The store enforces `If-None-Match: *`, so a create-only write needs no look before and
    /// no read-back after.
    pub trust_conditional_writes: bool,
    /// Keep an interrupted multipart upload of a file for the next run instead of aborting it
    /// (`--resumable`, `S3BLOB_RESUMABLE`).
    pub resumable: bool,
}

/// Buffer for streaming a file into a request body: 256 KiB keeps syscall overhead low (4 KiB
/// costs several times the CPU) and memory flat.
pub const READ_BUFFER: usize = 256 * 1024;

/// The CRC64NVME of `len` bytes of `file` from `offset`, read with positioned reads so several
/// threads can checksum different parts of one open file (an upload's parts, a kept download's
/// ranges). Fails with `UnexpectedEof` if the file is shorter.
pub(crate) fn crc_of_file_range(
    file: &std::fs::File,
    offset: u64,
    len: u64,
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; READ_BUFFER.min(usize::try_from(len).unwrap_or(READ_BUFFER))];
    let mut crc = crate::checksum::Crc64::default();
    let mut pos = offset;
    let end = offset + len;
    while pos < end {
        let want = usize::try_from(end - pos)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = crate::platform::read_at(file, &mut buf[..want], pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was being read",
            ));
        }
        crc.update(&buf[..n]);
        pos += n as u64;
    }
    Ok(crc.value())
}

/// Delay before retry `attempt` (2 = first retry): exponential from 200 ms, capped at 10 s,
/// with full jitter so parallel parts do not retry in lockstep.
pub fn backoff(attempt: u32) -> Duration {
    let exp = 200u64.saturating_mul(1 << attempt.saturating_sub(2).min(10));
    let cap = exp.min(10_000);
    Duration::from_millis(jitter(cap))
}

/// A value in `cap/2..=cap`.
fn jitter(cap: u64) -> u64 {
    cap / 2 + crate::checksum::random_u64() % (cap / 2 + 1)
}

/// Aborts the unfinished upload `upload_id` of `key` on request (`s3blob uploads abort`): its
/// failure is the caller's to report. One already gone (finished or aborted meanwhile) is no
/// failure: `Ok(false)`.
pub(crate) async fn abort_unfinished(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<bool, crate::error::Error> {
    let sent = client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
    match sent {
        Ok(_) => Ok(true),
        Err(e) if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchUpload") => {
            Ok(false)
        }
        Err(e) => Err(crate::s3::classify(
            &e,
            "abort the upload of",
            bucket,
            Some(key),
        )),
    }
}

/// How long aborting a multipart upload may take before the command gives up on it: the
/// abort runs after a failure or a signal, when the user is waiting for the command to end.
const ABORT_LIMIT: Duration = Duration::from_secs(30);

/// Aborts a multipart upload (an upload's or a copy's) so no parts stay stored and billed. A
/// failure to abort is a warning naming the upload id and the command that removes it; a
/// lifecycle rule for incomplete multipart uploads removes it too.
pub(crate) async fn abort_multipart(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
) {
    let call = client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send();
    let why = match tokio::time::timeout(ABORT_LIMIT, call).await {
        Ok(Ok(_)) => {
            tracing::debug!(%key, %upload_id, "multipart upload aborted");
            return;
        }
        Ok(Err(e)) => crate::s3::classify(&e, "abort the upload of", bucket, Some(key)).to_string(),
        Err(_) => format!("no answer in {} s", ABORT_LIMIT.as_secs()),
    };
    tracing::warn!(
        "could not abort the multipart upload of s3://{bucket}/{key} (upload id {upload_id}): {why}; remove it with `aws s3api abort-multipart-upload --bucket {bucket} --key {key} --upload-id {upload_id}`"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_ranges() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &data).unwrap();
        assert_eq!(
            crc_of_file_range(&f, 0, data.len() as u64).unwrap(),
            crate::checksum::crc64(&data)
        );
        assert_eq!(
            crc_of_file_range(&f, 5, 300_000).unwrap(),
            crate::checksum::crc64(&data[5..300_005])
        );
        assert_eq!(crc_of_file_range(&f, 7, 0).unwrap(), 0);
        assert!(crc_of_file_range(&f, 999_999, 2).is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..100 {
            let b2 = backoff(2).as_millis();
            assert!((100..=200).contains(&b2), "{b2}");
            let b4 = backoff(4).as_millis();
            assert!((400..=800).contains(&b4), "{b4}");
            let b30 = backoff(30).as_millis();
            assert!((5_000..=10_000).contains(&b30), "{b30}");
        }
    }
}
