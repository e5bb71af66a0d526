//! `s3blob doctor`: what the store does, learned from a few small requests under a scratch
//! prefix that is removed afterwards, and what s3blob does about each finding.
//!
//! Every probe is a request s3blob itself makes in normal use (or a presigned GET), with a body
//! of 1 KiB. A probe that finds the store departing from S3 is not a failure of the command:
//! it is the finding. The command fails (with the usual exit codes) only when the store cannot
//! be used at all: unreachable, credentials refused, no bucket, or no write allowed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
    MetadataDirective,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

use crate::checksum;
use crate::commands::Context;
use crate::config::{Settings, Tuning};
use crate::error::{Error, one_line};
use crate::output::Outcome;
use crate::output::doctor::{Check, DoctorReport, Status};
use crate::s3::{classify, status};

mod checksums;
mod conditional;
mod copies;
mod reach;
mod requests;

/// The probes' objects live under this prefix plus a per-run id; no release can be named so
/// (suites and releases do not start with a dot).
const SCRATCH: &str = ".s3blob-doctor";

/// Size of each probe's body.
const BODY_LEN: usize = 1024;

/// Rounds of two conditional writes racing to one new key.
const RACE_ROUNDS: u32 = 3;

pub async fn run(cx: &Context<'_>) -> Result<Outcome, Error> {
    let (settings, client) = super::connect(cx, Tuning::default()).await?;
    let id = format!(
        "{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let mut probe = Probe {
        client,
        bucket: settings.bucket.clone(),
        prefix: format!("{SCRATCH}/{id}/"),
        body: test_body(1),
        uploads: Vec::new(),
        checks: Vec::new(),
    };
    let result = probe.all(&settings).await;
    let cleanup = probe.cleanup().await;
    result?;
    probe.checks.push(cleanup);
    Ok(Box::new(DoctorReport {
        endpoint: settings
            .client
            .endpoint_url
            .clone()
            .unwrap_or_else(|| "AWS S3".to_owned()),
        bucket: settings.bucket,
        path_style: settings.client.path_style,
        settings: crate::config::origins(cx.global, Tuning::default(), cx.env),
        checks: probe.checks,
    }))
}

/// 1 KiB that differs by `seed`.
fn test_body(seed: u8) -> Vec<u8> {
    (0..BODY_LEN)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

type SdkErr<E> = SdkError<E, Response<SdkBody>>;

/// `HTTP 400 InvalidRequest: message`, for findings.
fn detail<E: ProvideErrorMetadata>(err: &SdkErr<E>) -> String {
    let status = status(err).map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}"));
    let text = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{status} {code}: {message}"),
        (Some(code), None) => format!("{status} {code}"),
        _ => status,
    };
    let text = one_line(&text);
    if text.len() > 160 {
        format!("{}...", &text[..text.floor_char_boundary(157)])
    } else {
        text
    }
}

/// A 412 (or 409, the conflict AWS answers to two conditional writes at once): a condition
/// was enforced.
fn refused_by_condition<E>(err: &SdkErr<E>) -> bool {
    matches!(status(err), Some(412 | 409))
}

/// Why a copy probe did not copy.
enum CopyProbe {
    /// 501 or NotImplemented.
    Lacks(String),
    Failed(String),
}
use CopyProbe::{Failed, Lacks};

/// `Code: Message` of an S3 error body, if it is one.
fn s3_error_of(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let field = |name: &str| {
        let start = text.find(&format!("<{name}>"))? + name.len() + 2;
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(one_line(&text[start..end]))
    };
    let code = field("Code")?;
    Some(match field("Message") {
        Some(message) => format!("{code}: {message}"),
        None => code,
    })
}

struct Probe {
    client: Client,
    bucket: String,
    prefix: String,
    /// The body of `{prefix}put`, the object most probes read or overwrite.
    body: Vec<u8>,
    /// Multipart uploads started and not known to be finished: aborted at the end.
    uploads: Vec<(String, String)>,
    checks: Vec<Check>,
}

impl Probe {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn push(&mut self, id: &'static str, status: Status, found: String, s3blob: impl Into<String>) {
        self.checks.push(Check {
            id,
            status,
            found,
            s3blob: s3blob.into(),
        });
    }

    async fn all(&mut self, settings: &Settings) -> Result<(), Error> {
        self.reach().await?;
        let header = self.put_checksum().await?;
        self.put_wrong_checksum(header).await;
        self.other_algorithms().await;
        self.multipart(header).await;
        self.conditional(header, settings.transfer.trust_conditional_writes)
            .await;
        self.if_match().await;
        self.copies().await;
        self.list_uploads().await;
        self.presigned(&settings.client).await;
        Ok(())
    }
}

/// A 4-byte checksum as its header value.
fn be32(v: u64) -> String {
    aws_smithy_types::base64::encode((v as u32).to_be_bytes())
}

/// Seconds this machine's clock is behind the server's (negative: ahead), from the server's
/// `Date` header and the local time it arrived.
fn skew(server: SystemTime, local: SystemTime) -> f64 {
    match server.duration_since(local) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Records the response's `Date` header and the local time it arrived.
#[derive(Debug)]
struct ServerDate(Arc<Mutex<Option<(SystemTime, SystemTime)>>>);

impl Intercept for ServerDate {
    fn name(&self) -> &'static str {
        "s3blob doctor: server date"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let local = SystemTime::now();
        let server = context
            .response()
            .headers()
            .get("date")
            .and_then(|d| {
                aws_smithy_types::DateTime::from_str(
                    d,
                    aws_smithy_types::date_time::Format::HttpDate,
                )
                .ok()
            })
            .and_then(|d| SystemTime::try_from(d).ok());
        if let (Some(server), Ok(mut slot)) = (server, self.0.lock()) {
            *slot = Some((server, local));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_sign() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(skew(t + Duration::from_secs(5), t), 5.0);
        assert_eq!(skew(t, t + Duration::from_secs(5)), -5.0);
    }

    #[test]
    fn bodies_differ_by_seed() {
        assert_eq!(test_body(1).len(), BODY_LEN);
        assert_ne!(test_body(1), test_body(2));
    }
}
