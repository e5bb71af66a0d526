//! The translation of SDK failures into s3blob's error kinds, with messages that say what to
//! do: transport failures first (naming the host tried, from the [`Route`] the client was
//! built with), then one table from S3 error code (or HTTP status) to kind.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_types::body::SdkBody;

use super::Cut;
use super::route::Route;
use crate::credentials::{self, Explanation};
use crate::error::{Error, one_line};

/// The HTTP status of a failed call, when the server answered at all.
pub fn status<E>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response<SdkBody>>,
) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// Translates an SDK failure on `s3://bucket/key` into an error kind with a message that says
/// what to do. `key` is `None` for bucket-level calls.
pub fn classify<E>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response<SdkBody>>,
    action: &str,
    bucket: &str,
    key: Option<&str>,
) -> Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let target = match key {
        Some(key) => format!("s3://{bucket}/{key}"),
        None => format!("s3://{bucket}/"),
    };
    if let Some(failure) = credentials_failure(err) {
        let why = match find_source::<Explanation>(failure) {
            Some(explained) => explained.0.clone(),
            None => credentials::explain(failure, &credentials::Setup::default()),
        };
        return Error::Credentials {
            action: format!("{action} {target}"),
            why,
        };
    }
    let code = err.code().unwrap_or_default();
    let detail = short_detail(err);
    tracing::debug!("{action} {target} failed: {}", credentials::chain_text(err));
    // The SDK's own dump of the error (its Debug form): for `-vv` only, like the SDK's logs.
    tracing::debug!(target: "aws_sdk_error", "{action} {target}: {}", DisplayErrorContext(err));
    let status = status(err);
    if let Some(failure) = find_source::<super::proxy::ProxyFailure>(err) {
        return Error::Proxy(format!("cannot {action} {target}: {failure}"));
    }
    match err {
        SdkError::TimeoutError(_) => {
            return Error::Network(format!(
                "cannot {action} {target}: the request timed out; check the endpoint and network, or retry"
            ));
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            return Error::Network(match find_source::<Cut>(err) {
                Some(cut @ Cut::Stalled(_)) => format!(
                    "cannot {action} {target}: {cut}, on every attempt; check the network and the endpoint, or raise --timeout"
                ),
                Some(cut @ Cut::Silent(_)) => format!(
                    "cannot {action} {target}: {cut}, on every attempt; check the endpoint, or raise --timeout"
                ),
                None => format!(
                    "cannot {action} {target}: {} did not answer in time, on every attempt; check the endpoint and the network, or raise --timeout",
                    super::route::current().tried(bucket)
                ),
            });
        }
        SdkError::DispatchFailure(_) if certificate_refused(err).is_some() => {
            let why = certificate_refused(err).unwrap_or_default();
            return Error::Network(format!(
                "cannot {action} {target}: {}",
                super::untrusted_certificate(&why)
            ));
        }
        SdkError::DispatchFailure(_) => {
            let route = super::route::current();
            let why = unreachable(&route, bucket, transport(err), &detail);
            return with_path_hint(
                &route,
                Error::Network(format!("cannot {action} {target}: {why}")),
            );
        }
        SdkError::ResponseError(_) => {
            return Error::Network(format!(
                "cannot {action} {target}: the connection failed mid-response ({detail}); retry"
            ));
        }
        _ => {}
    }
    let failed = by_code(
        code,
        status,
        &Target {
            action,
            target: &target,
            bucket,
            detail: &detail,
            operation: operation_name::<E>(),
        },
    );
    with_path_hint(&super::route::current(), failed)
}

/// Whether the store answered that it does not implement the operation (501, or the S3 code
/// `NotImplemented`): a request that will never work there, so it is neither retried nor
/// reported as a network failure.
pub fn not_implemented<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response<SdkBody>>,
) -> bool {
    status(err) == Some(501) || err.code() == Some("NotImplemented")
}

/// The S3 operation an SDK error type belongs to (`CopyObjectError` -> `CopyObject`).
fn operation_name<E>() -> &'static str {
    let name = std::any::type_name::<E>();
    let name = name.rsplit("::").next().unwrap_or(name);
    name.strip_suffix("Error").unwrap_or(name)
}

/// Why a request never got an answer, as far as the transport tells.
#[derive(Debug, PartialEq, Eq)]
enum Transport {
    Refused,
    /// The host name did not resolve (the resolver's reason).
    Dns(String),
    /// No route to the network or host (the reason).
    Unreachable(String),
    /// A TLS handshake answered by something that is not TLS: a plain-HTTP server.
    PlainHttp,
    Other,
}

/// What the transport's error chain says (hyper-util and hyper-rustls wrap the causes in
/// `io::Error`s whose `source()` skips their payload, so the payloads are searched too).
fn transport(err: &(dyn StdError + 'static)) -> Transport {
    use std::io::ErrorKind as K;
    let mut pending: Vec<&(dyn StdError + 'static)> = vec![err];
    let mut dns = false;
    while let Some(e) = pending.pop() {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                K::ConnectionRefused => return Transport::Refused,
                K::NetworkUnreachable | K::HostUnreachable => {
                    return Transport::Unreachable(innermost(e));
                }
                _ => {}
            }
            pending.extend(io.get_ref().map(|inner| inner as &(dyn StdError + 'static)));
        }
        if let Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) =
            e.downcast_ref::<rustls::Error>()
        {
            return Transport::PlainHttp;
        }
        let text = e.to_string();
        if text == "dns error" || text.contains("failed to lookup address") {
            dns = true;
        }
        pending.extend(e.source());
    }
    if dns {
        Transport::Dns(innermost(err))
    } else {
        Transport::Other
    }
}

/// The innermost error's words, in one short line.
fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut inner = err;
    while let Some(next) = inner.source() {
        inner = next;
    }
    let text = one_line(&inner.to_string());
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    truncate(text, 160)
}

/// Why a request to `bucket` reached no server, naming the host tried and the likely fix.
fn unreachable(route: &Route, bucket: &str, why: Transport, detail: &str) -> String {
    let tried = route.tried(bucket);
    let (host, in_host) = route.host(bucket);
    let check = "check --endpoint-url (or AWS_ENDPOINT_URL)";
    match (&route.endpoint, why) {
        (Some(_), Transport::Refused) => format!(
            "could not reach the S3 endpoint {tried} (connection refused); {check} and that the store is running"
        ),
        (None, Transport::Refused) => format!(
            "could not reach {tried} (connection refused); check the network, and any proxy or firewall on the way"
        ),
        (Some(_), Transport::PlainHttp) => format!(
            "could not reach the S3 endpoint {tried}: it answers in plain HTTP, not TLS; use {}",
            tried.replacen("https://", "http://", 1)
        ),
        (None, Transport::PlainHttp) => format!(
            "could not reach {tried}: something on the way answered the TLS handshake in plain HTTP (a proxy?); check the network"
        ),
        (Some(_), Transport::Dns(reason)) if in_host => format!(
            "could not resolve {host} ({reason}): virtual-hosted addressing puts the bucket in the host name; pass --addressing-style path (or set S3BLOB_ADDRESSING_STYLE=path) unless the store serves buckets as host names"
        ),
        (Some(_), Transport::Dns(reason)) => format!(
            "could not resolve the host of the S3 endpoint {tried} ({reason}); {check} and the network"
        ),
        (None, Transport::Dns(reason)) => format!(
            "could not resolve {host} ({reason}); check the network connection and DNS, or pass --endpoint-url for another store"
        ),
        (Some(_), Transport::Unreachable(reason)) => format!(
            "could not reach the S3 endpoint {tried} ({reason}); check the network, and {check}"
        ),
        (None, Transport::Unreachable(reason)) => {
            format!("could not reach {tried} ({reason}); check the network connection")
        }
        (Some(_), Transport::Other) => format!(
            "could not reach the S3 endpoint {tried} ({detail}); check the network, and {check}"
        ),
        (None, Transport::Other) => {
            format!("could not reach {tried} ({detail}); check the network connection")
        }
    }
}

/// A failure on an endpoint URL with a path: the most likely mistake is a bucket put there.
fn with_path_hint(route: &Route, err: Error) -> Error {
    match (route.endpoint_path(), &err) {
        (Some(path), e) if !matches!(e, Error::Credentials { .. }) => err.reworded(|m| {
            format!(
                "{m}; note: the endpoint URL has a path ({path}), under which every request goes: a bucket belongs in --bucket (or S3BLOB_BUCKET), not in the endpoint URL"
            )
        }),
        _ => err,
    }
}

/// A failure an answer of 200 reports for one of its keys (a per-key `Error` of
/// DeleteObjects), as the same kind a failed request with that code would be: a key refused
/// with AccessDenied is exit 4, as a refused request is.
pub fn key_failure(
    code: &str,
    message: &str,
    action: &str,
    bucket: &str,
    key: &str,
    operation: &str,
) -> Error {
    let target = format!("s3://{bucket}/{key}");
    let detail = match message {
        "" => code.to_owned(),
        m => format!("{code}: {}", truncate(&one_line(m), 160)),
    };
    by_code(
        code,
        None,
        &Target {
            action,
            target: &target,
            bucket,
            detail: &detail,
            operation,
        },
    )
}

/// How a failed request is named in messages: `cannot {action} {target}: ... ({detail})`.
struct Target<'a> {
    action: &'a str,
    target: &'a str,
    bucket: &'a str,
    /// The server's code and message, or the innermost transport error, in one short line.
    detail: &'a str,
    /// The S3 operation that failed (`CopyObject`).
    operation: &'a str,
}

/// The table from an S3 error code (or, without one, the HTTP status) to an error kind and the
/// advice for it.
fn by_code(code: &str, status: Option<u16>, t: &Target<'_>) -> Error {
    let Target {
        action,
        target,
        bucket,
        detail,
        operation,
    } = *t;
    match (code, status) {
        ("NotImplemented", _) | (_, Some(501)) => Error::Other(format!(
            "cannot {action} {target}: this store does not implement {operation} ({detail}); {}",
            lacking(operation)
        )),
        ("InvalidStorageClass", _) => Error::Other(format!(
            "cannot {action} {target}: the store does not offer this storage class ({detail}); drop --storage-class, or pick one the store lists"
        )),
        ("RequestTimeTooSkewed", _) => Error::AccessDenied(format!(
            "cannot {action} {target}: the server refused the request because this machine's clock is off ({detail}); fix the clock (enable NTP) and retry"
        )),
        ("NoSuchUpload", _) => Error::Other(format!(
            "cannot {action} {target}: the multipart upload is gone ({detail}); retry the upload"
        )),
        ("NoSuchBucket", _) => Error::NotFound(format!(
            "cannot {action} {target}: bucket {bucket:?} does not exist; check --bucket (or S3BLOB_BUCKET) and the region"
        )),
        ("NoSuchKey" | "NotFound", _) | (_, Some(404)) => Error::NotFound(format!(
            "cannot {action} {target}: no such object; check --bucket, --suite, --release and --filename"
        )),
        (
            "AccessDenied"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired"
            | "AllAccessDisabled"
            | "AccountProblem",
            _,
        )
        | (_, Some(401 | 403)) => Error::AccessDenied(format!(
            "cannot {action} {target}: access denied ({detail}); check the credentials, profile and bucket policy"
        )),
        (
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException",
            _,
        )
        | (_, Some(301)) => Error::Other(format!(
            "cannot {action} {target}: the bucket is in another region ({detail}); pass --region or set AWS_REGION"
        )),
        (
            "BadDigest"
            | "InvalidDigest"
            | "XAmzContentSHA256Mismatch"
            | "XAmzContentChecksumMismatch"
            | "IncompleteBody",
            _,
        ) => Error::Integrity(format!(
            "cannot {action} {target}: the server received different bytes than were sent ({detail}); the local file may be changing, or the network corrupts data"
        )),
        ("SlowDown" | "RequestTimeout" | "ServiceUnavailable" | "InternalError", _)
        | (_, Some(429 | 500..=599)) => Error::Network(format!(
            "cannot {action} {target}: the server kept failing after all retries ({detail}); retry later or raise --max-attempts"
        )),
        _ => Error::Other(format!("cannot {action} {target}: {detail}")),
    }
}

/// What still works when the store lacks `operation`, and what to do instead.
fn lacking(operation: &str) -> &'static str {
    match operation {
        "CopyObject" | "UploadPartCopy" => {
            "it cannot copy objects on the server, which promote needs; every other command still works: to promote, download the release (s3blob download --all) and upload it to the destination"
        }
        "ListMultipartUploads" => {
            "it cannot list unfinished multipart uploads, which `s3blob uploads` and resuming an upload need; every other command still works, and a lifecycle rule (AbortIncompleteMultipartUpload) removes what uploads leave behind"
        }
        _ => {
            "the commands that do not need it still work; s3blob doctor shows what this store supports"
        }
    }
}

/// A short, one-line reason: the S3 error code and message when the server sent them, else the
/// HTTP status and the first words of the underlying error. The full chain goes to the debug log.
fn short_detail<E>(err: &SdkError<E, aws_smithy_runtime_api::http::Response<SdkBody>>) -> String
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    const MAX: usize = 160;
    if let Some(code) = err.code() {
        return match err.message() {
            Some(m) => format!("{code}: {}", truncate(&one_line(m), MAX)),
            None => code.to_owned(),
        };
    }
    // The innermost source is the most specific.
    let mut inner: &(dyn StdError + 'static) = err;
    while let Some(next) = inner.source() {
        inner = next;
    }
    let reason = truncate(&one_line(&inner.to_string()), MAX);
    match status(err) {
        Some(code) => format!("HTTP {code}: {reason}"),
        None => reason,
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// The first error of type `T` among `err`'s sources (`err` itself included).
fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        next = e.source();
    }
    None
}

/// rustls's reason for refusing the server's certificate, if that is why the connection
/// failed. hyper-rustls wraps it in `io::Error`s, whose `source()` skips their payload, so the
/// payloads are searched too.
fn certificate_refused(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut pending: Vec<&(dyn StdError + 'static)> = vec![err];
    while let Some(e) = pending.pop() {
        if let Some(tls @ rustls::Error::InvalidCertificate(_)) = e.downcast_ref::<rustls::Error>()
        {
            return Some(tls.to_string());
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            pending.push(inner);
        }
        pending.extend(e.source());
    }
    None
}

/// The credential chain's own failure, if that is why the call failed (rather than a server
/// refusing the request).
fn credentials_failure<E, R>(err: &SdkError<E, R>) -> Option<&CredentialsError>
where
    E: StdError + 'static,
    R: std::fmt::Debug,
{
    let mut source: Option<&(dyn StdError + 'static)> = StdError::source(err);
    while let Some(e) = source {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(c);
        }
        source = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::head_object::HeadObjectError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};

    type Sdk = SdkError<HeadObjectError, Response<SdkBody>>;

    fn response(status: u16) -> Response<SdkBody> {
        Response::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
    }

    /// A service error with an S3 error `code` (empty: none) and an HTTP status.
    fn service(code: &str, status: u16) -> Sdk {
        let mut meta = ErrorMetadata::builder().message("the server's words");
        if !code.is_empty() {
            meta = meta.code(code);
        }
        SdkError::service_error(HeadObjectError::generic(meta.build()), response(status))
    }

    fn exit(err: &Sdk) -> u8 {
        classify(err, "read", "b", Some("s/r/f")).exit_code()
    }

    #[test]
    fn every_s3_error_code_has_its_exit_code() {
        let cases: &[(&str, u16, u8)] = &[
            ("NoSuchUpload", 404, 1),
            ("NoSuchBucket", 404, 3),
            ("NoSuchKey", 404, 3),
            ("NotFound", 404, 3),
            ("", 404, 3),
            ("AccessDenied", 403, 4),
            ("InvalidAccessKeyId", 403, 4),
            ("SignatureDoesNotMatch", 403, 4),
            ("ExpiredToken", 400, 4),
            ("InvalidToken", 400, 4),
            ("TokenRefreshRequired", 400, 4),
            ("AllAccessDisabled", 403, 4),
            ("AccountProblem", 403, 4),
            ("", 401, 4),
            ("", 403, 4),
            ("PermanentRedirect", 301, 1),
            ("AuthorizationHeaderMalformed", 400, 1),
            ("IllegalLocationConstraintException", 400, 1),
            ("", 301, 1),
            ("BadDigest", 400, 5),
            ("InvalidDigest", 400, 5),
            ("XAmzContentSHA256Mismatch", 400, 5),
            ("XAmzContentChecksumMismatch", 400, 5),
            ("IncompleteBody", 400, 5),
            ("SlowDown", 503, 7),
            ("RequestTimeout", 400, 7),
            ("RequestTimeTooSkewed", 403, 4),
            ("ServiceUnavailable", 503, 7),
            ("InternalError", 500, 7),
            ("", 429, 7),
            ("", 500, 7),
            ("", 503, 7),
            ("InvalidArgument", 400, 1),
            ("", 400, 1),
            // A store without the operation: not a network failure, and not retried.
            ("NotImplemented", 501, 1),
            ("", 501, 1),
            ("NotImplemented", 400, 1),
            ("InvalidStorageClass", 400, 1),
        ];
        for &(code, status, want) in cases {
            let err = service(code, status);
            assert_eq!(exit(&err), want, "{code} {status}");
            let msg = classify(&err, "read", "b", Some("s/r/f")).to_string();
            assert!(msg.starts_with("cannot read s3://b/s/r/f: "), "{msg}");
            if code == "RequestTimeTooSkewed" {
                assert!(msg.contains("clock"), "{msg}");
            }
            if code == "NotImplemented" || status == 501 {
                assert!(msg.contains("does not implement HeadObject"), "{msg}");
                assert!(!msg.contains("retry"), "{msg}");
            }
            if code == "InvalidStorageClass" {
                assert!(msg.contains("--storage-class"), "{msg}");
            }
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn transport_failures_are_network_errors() {
        let cases: Vec<(Sdk, &str)> = vec![
            (SdkError::timeout_error("slow"), "timed out"),
            (
                SdkError::dispatch_failure(ConnectorError::timeout("no answer".into())),
                "did not answer in time",
            ),
            (
                SdkError::dispatch_failure(ConnectorError::io("connection refused".into())),
                "could not reach",
            ),
            (
                SdkError::response_error("connection reset", response(200)),
                "mid-response",
            ),
        ];
        for (err, needle) in cases {
            let e = classify(&err, "read", "b", None);
            assert_eq!(e.exit_code(), 7, "{e}");
            assert!(e.to_string().contains(needle), "{e} should say {needle:?}");
            assert!(e.to_string().starts_with("cannot read s3://b/: "), "{e}");
        }
    }

    #[test]
    fn credential_failures_are_access_errors_with_the_explanation() {
        let explained =
            CredentialsError::provider_error(Explanation("the reason, in words".into()));
        let err: Sdk = SdkError::construction_failure(explained);
        let e = classify(&err, "list", "b", None);
        assert_eq!(e.exit_code(), 4);
        assert_eq!(e.to_string(), "cannot list s3://b/: the reason, in words");
        let err: Sdk = SdkError::construction_failure(CredentialsError::not_loaded_no_source());
        let e = classify(&err, "list", "b", None);
        assert_eq!(e.exit_code(), 4);
        assert!(e.to_string().contains("no AWS credentials found"), "{e}");
    }

    #[test]
    fn the_operation_is_named_after_the_error_type() {
        use aws_sdk_s3::operation::copy_object::CopyObjectError;
        use aws_sdk_s3::operation::upload_part_copy::UploadPartCopyError;
        assert_eq!(operation_name::<HeadObjectError>(), "HeadObject");
        assert_eq!(operation_name::<CopyObjectError>(), "CopyObject");
        assert_eq!(operation_name::<UploadPartCopyError>(), "UploadPartCopy");
        // Only server-side copies name promote's fallback.
        assert!(lacking("CopyObject").contains("download the release"));
        assert!(lacking("UploadPartCopy").contains("download the release"));
        assert!(!lacking("GetObject").contains("promote"));
    }

    #[test]
    fn unreachable_names_the_host_and_the_likely_fix() {
        let custom = |url: &str, path_style| Route {
            endpoint: Some(url.into()),
            path_style,
            region: "us-east-1".into(),
        };
        let aws = Route {
            endpoint: None,
            path_style: false,
            region: "us-east-1".into(),
        };
        let dns = || Transport::Dns("Name or service not known".into());
        let cases: Vec<(Route, Transport, &[&str])> = vec![
            (
                custom("http://127.0.0.1:9", true),
                Transport::Refused,
                &[
                    "http://127.0.0.1:9 (connection refused)",
                    "--endpoint-url",
                    "store is running",
                ],
            ),
            (
                custom("https://127.0.0.1:9000", true),
                Transport::PlainHttp,
                &[
                    "https://127.0.0.1:9000",
                    "plain HTTP",
                    "use http://127.0.0.1:9000",
                ],
            ),
            (
                custom("http://localhost:9000", false),
                dns(),
                &["artifacts.localhost", "--addressing-style path"],
            ),
            (
                custom("http://nas.invalid:9000", true),
                dns(),
                &["http://nas.invalid:9000", "--endpoint-url"],
            ),
            (
                aws.clone(),
                dns(),
                &["artifacts.s3.us-east-1.amazonaws.com", "network"],
            ),
            (
                aws.clone(),
                Transport::Refused,
                &["artifacts.s3.us-east-1.amazonaws.com"],
            ),
            (
                aws,
                Transport::Unreachable("Network is unreachable".into()),
                &[
                    "artifacts.s3.us-east-1.amazonaws.com",
                    "Network is unreachable",
                ],
            ),
        ];
        for (route, why, needles) in cases {
            let msg = unreachable(&route, "artifacts", why, "detail");
            for n in needles {
                assert!(msg.contains(n), "{msg:?} should contain {n:?}");
            }
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn transport_failures_are_told_apart() {
        use std::io::{Error as Io, ErrorKind};
        let failure = |e: Io| -> Sdk { SdkError::dispatch_failure(ConnectorError::io(e.into())) };
        let kind = |e: Io| transport(&failure(e));
        assert_eq!(
            kind(Io::from(ErrorKind::ConnectionRefused)),
            Transport::Refused
        );
        assert!(matches!(
            kind(Io::from(ErrorKind::NetworkUnreachable)),
            Transport::Unreachable(_)
        ));
        let tls = Io::other(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert_eq!(kind(tls), Transport::PlainHttp);
        let dns =
            Io::other("failed to lookup address information: Name or service not known".to_owned());
        assert_eq!(
            kind(dns),
            Transport::Dns("Name or service not known".into())
        );
        assert_eq!(
            kind(Io::other("something else".to_owned())),
            Transport::Other
        );
    }

    #[test]
    fn a_path_in_the_endpoint_is_pointed_out() {
        let route = Route {
            endpoint: Some("http://h:9001/demo-bucket".into()),
            path_style: true,
            region: "us-east-1".into(),
        };
        let e = with_path_hint(&route, Error::NotFound("cannot list s3://b: no".into()));
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("(/demo-bucket)"), "{e}");
        assert!(e.to_string().contains("--bucket"), "{e}");
        let root = Route {
            endpoint: Some("http://h:9001/".into()),
            ..route
        };
        let e = with_path_hint(&root, Error::NotFound("x".into()));
        assert_eq!(e.to_string(), "x");
    }

    #[test]
    fn server_messages_are_flattened_and_shortened() {
        let meta = ErrorMetadata::builder()
            .code("Weird")
            .message(format!("line one\nline two {}", "x".repeat(400)))
            .build();
        let err: Sdk = SdkError::service_error(HeadObjectError::generic(meta), response(400));
        let msg = classify(&err, "read", "b", Some("k")).to_string();
        assert!(msg.contains("Weird: line one line two"), "{msg}");
        assert!(msg.len() < 300 && msg.ends_with("..."), "{msg}");
    }
}
