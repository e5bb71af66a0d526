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

    /// Reachable, credentials accepted, bucket there; and the server's clock.
    async fn reach(&mut self) -> Result<(), Error> {
        let date = Arc::new(Mutex::new(None));
        let started = Instant::now();
        self.client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .max_keys(1)
            // Keys may hold characters XML cannot carry; encoded, they cannot break the answer.
            .encoding_type(aws_sdk_s3::types::EncodingType::Url)
            .customize()
            .interceptor(ServerDate(date.clone()))
            .send()
            .await
            .map_err(|e| classify(&e, "list", &self.bucket, None))?;
        let took = started.elapsed();
        self.push(
            "reachable",
            Status::Ok,
            format!(
                "a listing of the bucket answered in {} ms; credentials accepted",
                took.as_millis()
            ),
            "",
        );
        let server = date.lock().ok().and_then(|d| *d);
        match server.map(|(server, local)| skew(server, local)) {
            None => self.push(
                "clock",
                Status::Info,
                "the server sent no Date header".to_owned(),
                "cannot tell the clock skew",
            ),
            Some(secs) if secs.abs() < 60.0 => self.push(
                "clock",
                Status::Ok,
                format!("within {:.0} s of the server's", secs.abs().ceil()),
                "",
            ),
            Some(secs) => self.push(
                "clock",
                Status::Warn,
                format!(
                    "this machine's clock is {:.0} s {} the server's",
                    secs.abs(),
                    if secs > 0.0 { "behind" } else { "ahead of" }
                ),
                "requests are signed with this clock (AWS refuses more than 15 minutes of skew); presigned URLs and seal times are off by as much: fix the clock (NTP)",
            ),
        }
        Ok(())
    }

    /// PutObject with `x-amz-checksum-crc64nvme`; without it if refused (which must work).
    /// Returns whether the store takes the header.
    async fn put_checksum(&mut self) -> Result<bool, Error> {
        let key = self.key("put");
        let crc = checksum::crc64(&self.body);
        let with = self.put(&key, self.body.clone(), Some(crc), false).await;
        let Err(refusal) = with else {
            self.push(
                "checksum-put",
                Status::Ok,
                "PutObject with x-amz-checksum-crc64nvme accepted".to_owned(),
                "sends the header on every write, for the store to check the bytes on arrival",
            );
            return Ok(true);
        };
        let why = detail(&refusal);
        if let Err(e) = self.put(&key, self.body.clone(), None, false).await {
            // Refused either way: not a checksum matter.
            return Err(classify(
                &e,
                "upload a test object to",
                &self.bucket,
                Some(&key),
            ));
        }
        self.push(
            "checksum-put",
            Status::Reduced,
            format!("PutObject with x-amz-checksum-crc64nvme refused ({why}), accepted without it"),
            "resends without the header and leaves it off for the command (--checksum-header auto), or set --checksum-header off; the bytes are checked end to end by the CRC64NVME in the metadata at download, not by the store on arrival",
        );
        Ok(false)
    }

    /// A wrong CRC64NVME must be refused: otherwise the store does not check it.
    async fn put_wrong_checksum(&mut self, header: bool) {
        if !header {
            return;
        }
        let key = self.key("wrong-checksum");
        let crc = checksum::crc64(&self.body) ^ 1;
        match self.put(&key, self.body.clone(), Some(crc), false).await {
            Err(e) if matches!(status(&e), Some(400)) => self.push(
                "checksum-checked",
                Status::Ok,
                format!("a body with a wrong CRC64NVME was refused ({})", detail(&e)),
                "",
            ),
            Err(e) => self.push(
                "checksum-checked",
                Status::Warn,
                format!("a body with a wrong CRC64NVME got {}", detail(&e)),
                "expected 400 BadDigest; the CRC64NVME in the metadata still checks every download",
            ),
            Ok(()) => self.push(
                "checksum-checked",
                Status::Reduced,
                "a body with a wrong CRC64NVME was stored: the header is accepted but not checked".to_owned(),
                "a body damaged on the way in is caught at download (exit 5), not at upload; s3blob verify --deep finds it earlier",
            ),
        }
    }

    /// Which other checksum headers PutObject takes (for other tools; s3blob uses CRC64NVME).
    async fn other_algorithms(&mut self) {
        let mut taken = Vec::new();
        let mut refused = Vec::new();
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32C,
            ChecksumAlgorithm::Sha256,
        ] {
            let key = self.key(&format!("put-{}", alg.as_str().to_ascii_lowercase()));
            let mut call = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .body(ByteStream::from(self.body.clone()));
            call = match alg {
                ChecksumAlgorithm::Crc32 => call.checksum_crc32(be32(crc_fast::checksum(
                    crc_fast::CrcAlgorithm::Crc32IsoHdlc,
                    &self.body,
                ))),
                ChecksumAlgorithm::Crc32C => call.checksum_crc32_c(be32(crc_fast::checksum(
                    crc_fast::CrcAlgorithm::Crc32Iscsi,
                    &self.body,
                ))),
                _ => call.checksum_sha256(aws_smithy_types::base64::encode(
                    <sha2::Sha256 as sha2::Digest>::digest(&self.body),
                )),
            };
            match call.send().await {
                Ok(_) => taken.push(alg.as_str().to_owned()),
                Err(e) => refused.push(format!("{} ({})", alg.as_str(), detail(&e))),
            }
        }
        let found = match (taken.is_empty(), refused.is_empty()) {
            (_, true) => format!("PutObject also takes {}", taken.join(", ")),
            (true, _) => format!("PutObject refuses {}", refused.join(", ")),
            _ => format!(
                "PutObject takes {}; refuses {}",
                taken.join(", "),
                refused.join(", ")
            ),
        };
        self.push(
            "checksum-others",
            Status::Info,
            found,
            "not used by s3blob (CRC64NVME only)",
        );
    }

    /// A multipart upload announcing a full-object CRC64NVME, one part with its CRC, completed
    /// with it; then whether HEAD returns that CRC.
    async fn multipart(&mut self, header: bool) {
        let key = self.key("multipart");
        let body = test_body(2);
        let crc = checksum::crc64(&body);
        let result = self.multipart_upload(&key, body, header, true).await;
        match result {
            Ok(()) if header => self.push(
                "checksum-multipart",
                Status::Ok,
                "CreateMultipartUpload (CRC64NVME, FULL_OBJECT), UploadPart with its CRC64NVME and CompleteMultipartUpload with the object's accepted".to_owned(),
                "",
            ),
            Ok(()) => self.push(
                "checksum-multipart",
                Status::Info,
                "multipart upload works without checksum headers (PutObject refused them)".to_owned(),
                "sends parts without the header; the CRC64NVME in the metadata checks every download",
            ),
            Err(why) => {
                // Again without the checksum headers, to tell what was refused.
                let plain = self.multipart_upload(&key, test_body(2), false, true).await;
                let (status, found, s3blob) = match plain {
                    Ok(()) => (
                        Status::Reduced,
                        format!("multipart upload with CRC64NVME refused ({why}); works without it"),
                        "set --checksum-header off for this store (auto falls back only when the first request of an upload is refused); the CRC64NVME in the metadata checks every download",
                    ),
                    Err(plain) => (
                        Status::Reduced,
                        format!("multipart upload fails ({plain})"),
                        "files larger than --part-size cannot be uploaded: raise --part-size up to 5GiB",
                    ),
                };
                self.push("checksum-multipart", status, found, s3blob);
                return;
            }
        }
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let kept = match &head {
            Ok(out) => out.checksum_crc64_nvme().and_then(checksum::from_base64) == Some(crc),
            Err(_) => false,
        };
        if kept {
            self.push(
                "checksum-kept",
                Status::Ok,
                "HEAD returns the full-object CRC64NVME of a multipart object".to_owned(),
                "stat shows it as the server's checksum",
            );
        } else {
            let (status, found, s3blob) = match &head {
                Ok(out) => match out.checksum_crc64_nvme() {
                    Some(other) => (
                        Status::Warn,
                        format!(
                            "HEAD returns a CRC64NVME ({other}) that is not the multipart object's"
                        ),
                        "checks its own objects against the CRC64NVME in their metadata; an object another tool wrote (no such metadata) is checked against the store's value, and would fail (exit 5, nothing left behind)",
                    ),
                    None => (
                        Status::Info,
                        "HEAD returns no CRC64NVME for a multipart object".to_owned(),
                        "checks downloads against the CRC64NVME in the object's metadata instead",
                    ),
                },
                Err(e) => (
                    Status::Info,
                    format!("HEAD of the multipart object failed ({})", detail(e)),
                    "checks downloads against the CRC64NVME in the object's metadata instead",
                ),
            };
            self.push("checksum-kept", status, found, s3blob);
        }
    }

    /// `If-None-Match: *` on PutObject and CompleteMultipartUpload, one at a time and two at
    /// once.
    async fn conditional(&mut self, header: bool, trusted: bool) {
        let put = self.key("put");
        let crc = header.then(|| checksum::crc64(&test_body(3)));
        let single_put = match self.put(&put, test_body(3), crc, true).await {
            Err(e) if refused_by_condition(&e) => Ok(()),
            Err(e) => Err(format!("answered {}", detail(&e))),
            Ok(()) => Err("overwrote the existing object".to_owned()),
        };
        let single_complete = match self
            .multipart_upload(&put, test_body(4), header, true)
            .await
        {
            Err(why) if why.contains("HTTP 412") || why.contains("HTTP 409") => Ok(()),
            Err(why) => Err(format!("answered {why}")),
            Ok(()) => Err("overwrote the existing object".to_owned()),
        };
        let race = self.race(header).await;
        let problems: Vec<String> = [
            single_put
                .err()
                .map(|w| format!("PutObject with If-None-Match: * {w}")),
            single_complete
                .err()
                .map(|w| format!("CompleteMultipartUpload with If-None-Match: * {w}")),
            race.err(),
        ]
        .into_iter()
        .flatten()
        .collect();
        match (problems.is_empty(), trusted) {
            (true, true) => self.push(
                "conditional-writes",
                Status::Ok,
                "If-None-Match: * is enforced on PutObject and CompleteMultipartUpload, also for two writes at once".to_owned(),
                "trusts it (--conditional-writes trusted): a new small file is one conditional PUT",
            ),
            (true, false) => self.push(
                "conditional-writes",
                Status::Ok,
                "If-None-Match: * is enforced on PutObject and CompleteMultipartUpload, also for two writes at once".to_owned(),
                "looks before writing and reads back after (untrusted, the default for a custom endpoint); --conditional-writes trusted (S3BLOB_CONDITIONAL_WRITES=trusted) would be safe here and saves a request per file",
            ),
            (false, true) => self.push(
                "conditional-writes",
                Status::Reduced,
                problems.join("; "),
                "--conditional-writes trusted is set, but this store does not enforce them: unset it (or set untrusted), or an upload may silently replace another's object",
            ),
            (false, false) => self.push(
                "conditional-writes",
                Status::Reduced,
                problems.join("; "),
                "looks before writing and reads back after (--conditional-writes untrusted): an upload that loses a race is caught (exit 6), but two uploads finishing at the same instant can both succeed",
            ),
        }
    }

    /// Two conditional PutObjects, then two conditional CompleteMultipartUploads, of new keys
    /// at the same moment: exactly one of each pair may succeed.
    async fn race(&mut self, header: bool) -> Result<(), String> {
        // A race is won or lost by timing: a few rounds catch a store that does not serialise.
        for round in 0..RACE_ROUNDS {
            self.race_once(header, round).await?;
        }
        Ok(())
    }

    async fn race_once(&mut self, header: bool, round: u32) -> Result<(), String> {
        let (a, b) = (test_body(5), test_body(6));
        let key = self.key(&format!("race-put-{round}"));
        let (crc_a, crc_b) = (
            header.then(|| checksum::crc64(&a)),
            header.then(|| checksum::crc64(&b)),
        );
        let (one, two) = tokio::join!(
            self.put(&key, a.clone(), crc_a, true),
            self.put(&key, b.clone(), crc_b, true)
        );
        let mut problems = Vec::new();
        if one.is_ok() && two.is_ok() {
            problems
                .push("two PutObjects with If-None-Match: * of one new key at once both succeeded");
        }
        let key = self.key(&format!("race-multipart-{round}"));
        let started_a = self.start(&key, header).await;
        let started_b = self.start(&key, header).await;
        if let (Ok(id_a), Ok(id_b)) = (started_a, started_b) {
            let parts = tokio::join!(
                self.part(&key, &id_a, a.clone(), header),
                self.part(&key, &id_b, b.clone(), header)
            );
            if let (Ok(part_a), Ok(part_b)) = parts {
                let (one, two) = tokio::join!(
                    self.complete(&key, &id_a, part_a, crc_a, true),
                    self.complete(&key, &id_b, part_b, crc_b, true)
                );
                for (done, id) in [(one.is_ok(), &id_a), (two.is_ok(), &id_b)] {
                    if done {
                        self.finished(id);
                    }
                }
                if one.is_ok() && two.is_ok() {
                    problems.push("two CompleteMultipartUploads with If-None-Match: * of one new key at once both succeeded");
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// `If-Match` on GET: a wrong ETag must be refused.
    async fn if_match(&mut self) {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key("put"))
            .if_match("\"00000000000000000000000000000000\"")
            .send()
            .await;
        match got {
            Err(e) if status(&e) == Some(412) => self.push(
                "if-match",
                Status::Ok,
                "GET with a wrong If-Match is refused (412)".to_owned(),
                "pins every range of a download to the object it started with",
            ),
            Err(e) => self.push(
                "if-match",
                Status::Warn,
                format!("GET with a wrong If-Match answered {}", detail(&e)),
                "expected 412; a download racing an overwrite is caught by its checksum instead (exit 5)",
            ),
            Ok(_) => self.push(
                "if-match",
                Status::Warn,
                "GET with a wrong If-Match was answered with the object: If-Match is ignored".to_owned(),
                "a download racing an overwrite may fetch ranges of two objects: its checksum catches the mix (exit 5, nothing left behind) instead of a clean \"changed during download\"",
            ),
        }
    }

    /// ListMultipartUploads shows an upload in progress.
    async fn list_uploads(&mut self) {
        let key = self.key("listed");
        let Ok(id) = self.start(&key, false).await else {
            self.push(
                "list-uploads",
                Status::Info,
                "could not start a multipart upload to list".to_owned(),
                "",
            );
            return;
        };
        let listed = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .send()
            .await;
        match listed {
            Ok(out) if out.uploads().iter().any(|u| u.upload_id() == Some(id.as_str())) => self
                .push(
                    "list-uploads",
                    Status::Ok,
                    "ListMultipartUploads shows uploads in progress".to_owned(),
                    "aborts its own unfinished uploads; other tools' can be listed and aborted with the store's tools",
                ),
            Ok(_) => self.push(
                "list-uploads",
                Status::Info,
                "ListMultipartUploads does not show an upload in progress".to_owned(),
                "aborts its own unfinished uploads; uploads abandoned by other tools cannot be found by listing",
            ),
            Err(e) => self.push(
                "list-uploads",
                Status::Info,
                format!("ListMultipartUploads failed ({})", detail(&e)),
                "aborts its own unfinished uploads; uploads abandoned by other tools cannot be found by listing",
            ),
        }
    }

    /// A presigned GET, fetched as a plain HTTP client does (no credentials, none of the SDK's
    /// headers), returns the object: what a consumer of `s3blob presign` does.
    async fn presigned(&mut self, client_settings: &crate::config::ClientSettings) {
        let key = self.key("put");
        let config = match PresigningConfig::expires_in(Duration::from_secs(300)) {
            Ok(c) => c,
            Err(e) => {
                self.push("presign", Status::Info, format!("cannot presign: {e}"), "");
                return;
            }
        };
        let url = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .presigned(config)
            .await
        {
            Ok(req) => req.uri().to_owned(),
            Err(e) => {
                self.push(
                    "presign",
                    Status::Warn,
                    format!("cannot presign: {}", detail(&e)),
                    "",
                );
                return;
            }
        };
        // The object `put` holds now (the conditional-write probes may have replaced it on a
        // store that ignores If-None-Match).
        let expected = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(out) => out.body.collect().await.ok().map(|b| b.into_bytes()),
            Err(_) => None,
        };
        let found = match crate::s3::plain_get(client_settings, &url).await {
            Ok(answer) if (200..300).contains(&answer.status) => match &expected {
                Some(bytes) if answer.body == bytes[..] => Ok(()),
                Some(_) => Err("returned other bytes".to_owned()),
                None => Err("returned bytes that could not be compared".to_owned()),
            },
            Ok(answer) => Err(format!(
                "was refused (HTTP {}{})",
                answer.status,
                s3_error_of(&answer.body)
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default()
            )),
            Err(e) => Err(format!("failed ({e})")),
        };
        match found {
            Ok(()) => self.push(
                "presign",
                Status::Ok,
                "a presigned GET, sent as a plain HTTP client sends it, returns the object"
                    .to_owned(),
                "",
            ),
            Err(why) => self.push(
                "presign",
                Status::Warn,
                format!("a presigned GET sent as a plain HTTP client sends it {why}"),
                "URLs from s3blob presign will not work with this store",
            ),
        }
    }

    /// CopyObject and UploadPartCopy as `promote` sends them (create-only, pinned to the
    /// source's ETag), from the probe's object to keys of their own.
    async fn copies(&mut self) {
        let source = self.key("put");
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&source)
            .send()
            .await;
        let (etag, size) = match head {
            Ok(out) => (
                out.e_tag().map(str::to_owned),
                out.content_length().unwrap_or(0),
            ),
            Err(e) => {
                self.push(
                    "copy-object",
                    Status::Info,
                    format!("HEAD of the probe's object failed ({})", detail(&e)),
                    "cannot tell whether promote works here",
                );
                return;
            }
        };
        let copy_source = crate::transfer::copy::copy_source(&self.bucket, &source);
        let key = self.key("copy");
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(&key)
            .copy_source(&copy_source)
            .metadata_directive(MetadataDirective::Copy)
            .if_none_match("*")
            .set_copy_source_if_match(etag.clone())
            .send()
            .await;
        let copied = match copied {
            Ok(_) => self.same_size(&key, size).await,
            Err(e) if crate::s3::not_implemented(&e) => Err(Lacks(detail(&e))),
            Err(e) => Err(Failed(detail(&e))),
        };
        let promote_fallback = "promote cannot work with this store (every other command does): download the release (s3blob download --all) and upload it to the destination instead";
        match copied {
            Ok(()) => self.push(
                "copy-object",
                Status::Ok,
                "CopyObject (create-only, pinned to the source's ETag) copied an object".to_owned(),
                "promote copies releases on the server here",
            ),
            Err(Lacks(why)) => self.push(
                "copy-object",
                Status::Warn,
                format!("CopyObject is not implemented ({why})"),
                promote_fallback,
            ),
            Err(Failed(why)) => self.push(
                "copy-object",
                Status::Warn,
                format!("CopyObject failed ({why})"),
                "promote may fail with this store; download and upload the release instead",
            ),
        }

        let key = self.key("copy-part");
        let copied = match self.start(&key, false).await {
            Err(why) => Err(Failed(why)),
            Ok(id) => {
                let part = self
                    .client
                    .upload_part_copy()
                    .bucket(&self.bucket)
                    .key(&key)
                    .upload_id(&id)
                    .part_number(1)
                    .copy_source(&copy_source)
                    .copy_source_range(format!("bytes=0-{}", size.max(1) - 1))
                    .set_copy_source_if_match(etag)
                    .send()
                    .await;
                match part {
                    Ok(out) => {
                        let part = CompletedPart::builder()
                            .part_number(1)
                            .set_e_tag(out.copy_part_result.and_then(|r| r.e_tag))
                            .build();
                        match self.complete(&key, &id, part, None, true).await {
                            Ok(()) => {
                                self.finished(&id);
                                self.same_size(&key, size).await
                            }
                            Err(why) => Err(Failed(why)),
                        }
                    }
                    Err(e) if crate::s3::not_implemented(&e) => Err(Lacks(detail(&e))),
                    Err(e) => Err(Failed(format!("UploadPartCopy: {}", detail(&e)))),
                }
            }
        };
        match copied {
            Ok(()) => self.push(
                "copy-part",
                Status::Ok,
                "UploadPartCopy of a byte range, pinned to the source's ETag, completed into an object".to_owned(),
                "promote copies objects over 5 GiB in parts here",
            ),
            Err(Lacks(why)) => self.push(
                "copy-part",
                Status::Warn,
                format!("UploadPartCopy is not implemented ({why})"),
                "promote cannot copy objects over 5 GiB with this store: download and upload those releases instead",
            ),
            Err(Failed(why)) => self.push(
                "copy-part",
                Status::Warn,
                format!("a multipart copy failed ({why})"),
                "promote may fail for objects over 5 GiB with this store",
            ),
        }
    }

    /// The object at `key` has `size` bytes (a copy arrived whole).
    async fn same_size(&self, key: &str, size: i64) -> Result<(), CopyProbe> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) if out.content_length() == Some(size) => Ok(()),
            Ok(out) => Err(Failed(format!(
                "the copy holds {} bytes, not {size}",
                out.content_length().unwrap_or(0)
            ))),
            Err(e) => Err(Failed(format!("HEAD of the copy: {}", detail(&e)))),
        }
    }

    /// Removes every object under the scratch prefix and aborts the uploads still open.
    async fn cleanup(&mut self) -> Check {
        let mut failed = Vec::new();
        let mut aborted = 0;
        for (key, id) in std::mem::take(&mut self.uploads) {
            let abort = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&key)
                .upload_id(&id)
                .send()
                .await;
            match abort {
                Ok(_) => aborted += 1,
                // Completed, or already aborted.
                Err(e) if status(&e) == Some(404) => {}
                Err(e) => failed.push(format!("upload {id} of {key} ({})", detail(&e))),
            }
        }
        let mut removed = 0;
        let listed = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .encoding_type(aws_sdk_s3::types::EncodingType::Url)
            .send()
            .await;
        match listed {
            Ok(out) => {
                let encoded = out.encoding_type() == Some(&aws_sdk_s3::types::EncodingType::Url);
                for raw in out.contents().iter().filter_map(|o| o.key()) {
                    let key = if encoded {
                        match crate::listing::url_decode(raw) {
                            Some(key) => key,
                            None => {
                                failed.push(format!("{raw:?} (not valid URL encoding)"));
                                continue;
                            }
                        }
                    } else {
                        raw.to_owned()
                    };
                    let key = key.as_str();
                    match self
                        .client
                        .delete_object()
                        .bucket(&self.bucket)
                        .key(key)
                        .send()
                        .await
                    {
                        Ok(_) => removed += 1,
                        Err(e) => failed.push(format!("{key} ({})", detail(&e))),
                    }
                }
            }
            Err(e) => failed.push(format!("listing {} ({})", self.prefix, detail(&e))),
        }
        let found = format!(
            "removed {removed} test object(s) under s3://{}/{}, aborted {aborted} upload(s)",
            self.bucket, self.prefix
        );
        if failed.is_empty() {
            Check {
                id: "cleanup",
                status: Status::Ok,
                found,
                s3blob: String::new(),
            }
        } else {
            Check {
                id: "cleanup",
                status: Status::Warn,
                found: format!("{found}; could not remove {}", failed.join(", ")),
                s3blob: "remove them by hand".to_owned(),
            }
        }
    }

    // --- requests ---------------------------------------------------------------------------

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        crc: Option<u64>,
        create_only: bool,
    ) -> Result<(), SdkErr<aws_sdk_s3::operation::put_object::PutObjectError>> {
        let mut call = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .set_checksum_crc64_nvme(crc.map(checksum::to_base64));
        if create_only {
            call = call.if_none_match("*");
        }
        call.send().await.map(|_| ())
    }

    /// CreateMultipartUpload (announcing CRC64NVME when `header`); the upload is remembered for
    /// the cleanup.
    async fn start(&mut self, key: &str, header: bool) -> Result<String, String> {
        let mut call = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key);
        if header {
            call = call
                .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
                .checksum_type(ChecksumType::FullObject);
        }
        let out = call
            .send()
            .await
            .map_err(|e| format!("CreateMultipartUpload: {}", detail(&e)))?;
        let id = out
            .upload_id()
            .ok_or("CreateMultipartUpload: no upload id")?
            .to_owned();
        self.uploads.push((key.to_owned(), id.clone()));
        Ok(id)
    }

    async fn part(
        &self,
        key: &str,
        id: &str,
        body: Vec<u8>,
        header: bool,
    ) -> Result<CompletedPart, String> {
        let crc = checksum::to_base64(checksum::crc64(&body));
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from(body))
            .set_checksum_crc64_nvme(header.then(|| crc.clone()))
            .send()
            .await
            .map_err(|e| format!("UploadPart: {}", detail(&e)))?;
        Ok(CompletedPart::builder()
            .part_number(1)
            .set_e_tag(out.e_tag)
            .set_checksum_crc64_nvme(header.then_some(crc))
            .build())
    }

    async fn complete(
        &self,
        key: &str,
        id: &str,
        part: CompletedPart,
        crc: Option<u64>,
        create_only: bool,
    ) -> Result<(), String> {
        let mut call = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(id)
            .multipart_upload(CompletedMultipartUpload::builder().parts(part).build());
        if let Some(crc) = crc {
            call = call
                .checksum_crc64_nvme(checksum::to_base64(crc))
                .checksum_type(ChecksumType::FullObject);
        }
        if create_only {
            call = call.if_none_match("*");
        }
        call.send()
            .await
            .map(|_| ())
            .map_err(|e| format!("CompleteMultipartUpload: {}", detail(&e)))
    }

    /// A one-part multipart upload of `body` to `key`, start to finish.
    async fn multipart_upload(
        &mut self,
        key: &str,
        body: Vec<u8>,
        header: bool,
        create_only: bool,
    ) -> Result<(), String> {
        let crc = header.then(|| checksum::crc64(&body));
        let id = self.start(key, header).await?;
        let part = self.part(key, &id, body, header).await?;
        self.complete(key, &id, part, crc, create_only).await?;
        self.finished(&id);
        Ok(())
    }

    /// A multipart upload that was completed: nothing to abort.
    fn finished(&mut self, id: &str) {
        self.uploads.retain(|(_, open)| open != id);
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
