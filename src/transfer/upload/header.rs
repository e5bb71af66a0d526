//! Whether writes carry `x-amz-checksum-crc64nvme` (and announce CRC64NVME on multipart
//! uploads). S3 checks it on arrival and keeps it; but some stores refuse the header outright:
//! Cloudflare R2 answered it with InternalError until 2025, some emulators answer
//! InvalidRequest or NotImplemented. With `auto` (the default), a write refused that way is
//! resent once without the header, and the header stays off for the rest of the command, with
//! one warning. End-to-end verification does not depend on it: the CRC64NVME in s3blob's
//! metadata is still written and checked on every download.
//!
//! The first write request of an upload (PutObject, or CreateMultipartUpload) is where a store
//! shows it: one that refuses the header refuses it there.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;
use tracing::warn;

use crate::s3::status;

use crate::values::HeaderMode;

/// The policy of one command, shared by its files.
#[derive(Debug, Clone, Default)]
pub struct ChecksumHeader(Arc<State>);

#[derive(Debug, Default)]
struct State {
    mode: HeaderMode,
    /// Turned off by a refusal (auto mode).
    refused: AtomicBool,
}

impl ChecksumHeader {
    pub fn new(mode: HeaderMode) -> Self {
        Self(Arc::new(State {
            mode,
            refused: AtomicBool::new(false),
        }))
    }

    /// Whether the next write carries the header.
    pub fn send(&self) -> bool {
        match self.0.mode {
            HeaderMode::Always => true,
            HeaderMode::Off => false,
            HeaderMode::Auto => !self.0.refused.load(Ordering::Relaxed),
        }
    }

    /// Sends `op` with the header when the policy says so; if the store refuses the header,
    /// sends it once more without, and (when that works, or the refusal was explicit) leaves
    /// the header off from then on.
    pub async fn with_fallback<T, E, F, Fut>(
        &self,
        mut op: F,
    ) -> Result<T, SdkError<E, Response<SdkBody>>>
    where
        E: ProvideErrorMetadata,
        F: FnMut(bool) -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, Response<SdkBody>>>>,
    {
        let header = self.send();
        let first = op(header).await;
        let Err(err) = &first else { return first };
        if !self.retry_without(header, err) {
            return first;
        }
        let second = op(false).await;
        self.settle(err, second.is_ok());
        second
    }

    /// After a write `sent` with the header failed with `err`: whether to send it again
    /// without. Then call [`ChecksumHeader::settle`] with how that went.
    pub fn retry_without<E: ProvideErrorMetadata>(
        &self,
        sent: bool,
        err: &SdkError<E, Response<SdkBody>>,
    ) -> bool {
        sent && self.0.mode == HeaderMode::Auto && refusal(err) != Refusal::No
    }

    /// The write resent without the header `worked` (or not): the header stays off when that
    /// confirms the refusal, or when the refusal was explicit.
    pub fn settle<E: ProvideErrorMetadata>(
        &self,
        err: &SdkError<E, Response<SdkBody>>,
        worked: bool,
    ) {
        if worked || refusal(err) == Refusal::Explicit {
            self.turn_off(err);
        }
    }

    fn turn_off<E: ProvideErrorMetadata>(&self, err: &SdkError<E, Response<SdkBody>>) {
        if !self.0.refused.swap(true, Ordering::Relaxed) {
            warn!(
                "the store refused the x-amz-checksum-crc64nvme header ({}); sending without it from now on (each object's CRC64NVME is still recorded in its metadata and checked on download; --checksum-header off skips the first try)",
                describe(err)
            );
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    No,
    /// The store said so (400 naming a checksum, 501).
    Explicit,
    /// A 500: maybe the header, maybe not; a retry without it tells.
    Maybe,
}

fn refusal<E: ProvideErrorMetadata>(err: &SdkError<E, Response<SdkBody>>) -> Refusal {
    let code = err.code().unwrap_or_default();
    let message = err.message().unwrap_or_default().to_ascii_lowercase();
    let names_checksum = message.contains("checksum") || message.contains("crc64");
    match status(err) {
        Some(400)
            if names_checksum
                && matches!(
                    code,
                    "InvalidRequest" | "InvalidArgument" | "NotImplemented"
                ) =>
        {
            Refusal::Explicit
        }
        Some(501) => Refusal::Explicit,
        Some(500) => Refusal::Maybe,
        _ => Refusal::No,
    }
}

fn describe<E: ProvideErrorMetadata>(err: &SdkError<E, Response<SdkBody>>) -> String {
    let status = status(err).map_or_else(String::new, |s| format!("HTTP {s} "));
    format!(
        "{status}{}",
        crate::error::one_line(err.code().unwrap_or("no error code"))
    )
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // the SDK's own error type, as the code under test gets it
mod tests {
    use super::*;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::put_object::PutObjectError;
    use aws_smithy_runtime_api::http::StatusCode;
    use std::cell::RefCell;

    type Err = SdkError<PutObjectError, Response<SdkBody>>;

    fn error(status: u16, code: &str, message: &str) -> Err {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(
            PutObjectError::generic(meta),
            Response::new(StatusCode::try_from(status).unwrap(), SdkBody::empty()),
        )
    }

    /// Runs one write through the policy against a store that answers `with_header` to a
    /// request carrying the header and `without` to one that does not; returns which headers
    /// were tried and the outcome.
    async fn write(
        policy: &ChecksumHeader,
        with_header: fn() -> Result<(), Err>,
        without: fn() -> Result<(), Err>,
    ) -> (Vec<bool>, bool) {
        let tried = RefCell::new(Vec::new());
        let r = policy
            .with_fallback(|h| {
                tried.borrow_mut().push(h);
                async move { if h { with_header() } else { without() } }
            })
            .await;
        (tried.into_inner(), r.is_ok())
    }

    fn ok() -> Result<(), Err> {
        Ok(())
    }

    #[tokio::test]
    async fn an_explicit_refusal_turns_the_header_off() {
        let policy = ChecksumHeader::new(HeaderMode::Auto);
        let refuse = || {
            Err(error(
                400,
                "InvalidRequest",
                "Checksum algorithm CRC64NVME is not supported",
            ))
        };
        assert_eq!(write(&policy, refuse, ok).await, (vec![true, false], true));
        assert!(!policy.send());
        // From then on, without the header at once.
        assert_eq!(write(&policy, refuse, ok).await, (vec![false], true));
    }

    #[tokio::test]
    async fn a_500_is_confirmed_by_one_retry_without() {
        let policy = ChecksumHeader::new(HeaderMode::Auto);
        let broken = || {
            Err(error(
                500,
                "InternalError",
                "We encountered an internal error",
            ))
        };
        // The retry without the header fails too: not the header's fault, keep sending it.
        assert_eq!(
            write(&policy, broken, broken).await,
            (vec![true, false], false)
        );
        assert!(policy.send());
        // It works without: the header was the trouble.
        assert_eq!(write(&policy, broken, ok).await, (vec![true, false], true));
        assert!(!policy.send());
    }

    #[tokio::test]
    async fn other_errors_and_other_modes_do_not_fall_back() {
        let denied = || Err(error(403, "AccessDenied", "checksum? no: denied"));
        let auto = ChecksumHeader::new(HeaderMode::Auto);
        assert_eq!(write(&auto, denied, ok).await, (vec![true], false));
        let unrelated = || Err(error(400, "InvalidArgument", "bad storage class"));
        assert_eq!(write(&auto, unrelated, ok).await, (vec![true], false));
        let refuse = || Err(error(501, "NotImplemented", "nope"));
        let always = ChecksumHeader::new(HeaderMode::Always);
        assert_eq!(write(&always, refuse, ok).await, (vec![true], false));
        let off = ChecksumHeader::new(HeaderMode::Off);
        assert_eq!(write(&off, refuse, ok).await, (vec![false], true));
    }
}
