//! The one S3 client, configured the standard AWS way, and the translation of its errors into
//! s3blob's error kinds.

use std::error::Error as StdError;

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use crate::config::ClientSettings;
use crate::credentials::{self, Explained, Explanation};
use crate::error::{Error, one_line};

/// The region signed into requests when none is configured. A custom endpoint rarely cares;
/// AWS answers a wrong one with an error that names the right one.
const FALLBACK_REGION: &str = "us-east-1";

/// A TCP (and TLS) connection that takes longer than this is not going to work.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Builds the client from aws-config's default chain plus the few settings s3blob owns.
pub async fn client(settings: &ClientSettings) -> Client {
    // One TLS stack (rustls on ring) instead of the SDK's default two. The credential
    // providers (instance metadata, STS, SSO) use it too: aws-config has no client of its own
    // in this build, so every provider must be handed this one.
    let http = SharedHttpClient::new(RootsOnFirstUse(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https(),
    ));
    let retry = RetryConfig::standard().with_max_attempts(settings.max_attempts);

    // Given explicitly, aws-config does not parse AWS_MAX_ATTEMPTS / AWS_RETRY_MODE itself (it
    // panics on a malformed value); the inner STS and SSO clients get the same policy.
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(retry.clone());
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    loader = with_region(loader, settings);
    let sdk = loader.load().await;

    let mut config = aws_sdk_s3::config::Builder::from(&sdk);
    if let Some(chain) = sdk.credentials_provider() {
        config = config.credentials_provider(Explained::new(chain, settings.credentials.clone()));
    }
    if sdk.region().is_none() {
        config = config.region(Region::from_static(FALLBACK_REGION));
    }
    if let Some(url) = &settings.endpoint_url {
        // Set here, not on the loader: the S3 config would otherwise prefer an
        // AWS_ENDPOINT_URL_S3 from the environment over an explicit --endpoint-url.
        config = config.endpoint_url(url);
        if url.starts_with("http://") {
            // A plain-http endpoint needs no TLS, nor the system's root certificates (~4 ms
            // to load, half the start-up of a small transfer). Only the S3 calls use this
            // client; the credential providers keep the TLS one.
            config = config.http_client(aws_smithy_http_client::Builder::new().build_http());
        }
    }
    let config = config
        .force_path_style(settings.path_style)
        // s3blob supplies its own CRC64NVME on every write. Left to itself the SDK would add a
        // CRC32 trailer and send the body aws-chunked, which costs CPU and which several
        // S3-compatible servers reject.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(settings.timeout)
                .build(),
        )
        .build();
    tracing::debug!(
        region = config.region().map_or("-", |r| r.as_ref()),
        endpoint = settings.endpoint_url.as_deref().unwrap_or("AWS"),
        path_style = settings.path_style,
        "S3 client"
    );
    Client::from_conf(config)
}

/// Where the region comes from when `--region` is not given (aws-config's own chain when
/// nothing is set on the loader).
fn with_region(mut loader: ConfigLoader, settings: &ClientSettings) -> ConfigLoader {
    match (&settings.region, &settings.endpoint_url) {
        (Some(region), _) => loader = loader.region(Region::new(region.clone())),
        // A custom endpoint never needs the instance-metadata probe (a network round trip
        // with timeouts off EC2) just to learn a region name.
        (None, Some(_)) => {
            let mut profile_region = ProfileFileRegionProvider::builder();
            if let Some(profile) = &settings.profile {
                profile_region = profile_region.profile_name(profile);
            }
            loader = loader.region(
                RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
                    .or_else(profile_region.build()),
            );
        }
        // AWS itself: aws-config's own chain (environment, profile, instance metadata unless
        // AWS_EC2_METADATA_DISABLED), built with the loader's HTTP client.
        (None, None) => {}
    }
    loader
}

/// The TLS client, loading the system's root certificates on its first connection instead of
/// when an SDK client is built: aws-config builds an STS client for the web-identity provider
/// whether or not it is ever used, and the smithy client loads the roots when it is validated,
/// ~4 ms even when every request goes to a plain-http endpoint.
#[derive(Debug)]
struct RootsOnFirstUse(SharedHttpClient);

impl HttpClient for RootsOnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    // `validate_base_client_config` keeps its default (nothing to check): the wrapped client's
    // only builds a connector early, which is what this type is for avoiding.

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

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
        None => format!("s3://{bucket}"),
    };
    if let Some(failure) = credentials_failure(err) {
        let why = match find_source::<Explanation>(failure) {
            Some(explained) => explained.0.clone(),
            None => credentials::explain(failure, &credentials::Setup::default()),
        };
        return Error::AccessDenied(format!("cannot {action} {target}: {why}"));
    }
    let code = err.code().unwrap_or_default();
    let detail = short_detail(err);
    tracing::debug!("{action} {target} failed: {}", credentials::chain_text(err));
    // The SDK's own dump of the error (its Debug form): for `-vv` only, like the SDK's logs.
    tracing::debug!(target: "aws_sdk_error", "{action} {target}: {}", DisplayErrorContext(err));
    let status = status(err);
    match err {
        SdkError::TimeoutError(_) => {
            return Error::Network(format!(
                "cannot {action} {target}: the request timed out; check the endpoint and network, or retry"
            ));
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            return Error::Network(format!(
                "cannot {action} {target}: the server did not answer in time, on every attempt; check the endpoint, or raise --timeout"
            ));
        }
        SdkError::DispatchFailure(_) => {
            return Error::Network(format!(
                "cannot {action} {target}: could not reach the S3 endpoint ({detail}); check the network, and --endpoint-url (or AWS_ENDPOINT_URL) if you use one"
            ));
        }
        SdkError::ResponseError(_) => {
            return Error::Network(format!(
                "cannot {action} {target}: the connection failed mid-response ({detail}); retry"
            ));
        }
        _ => {}
    }
    by_code(
        code,
        status,
        &Target {
            action,
            target: &target,
            bucket,
            detail: &detail,
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
}

/// The table from an S3 error code (or, without one, the HTTP status) to an error kind and the
/// advice for it.
fn by_code(code: &str, status: Option<u16>, t: &Target<'_>) -> Error {
    let Target {
        action,
        target,
        bucket,
        detail,
    } = *t;
    match (code, status) {
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
        ];
        for &(code, status, want) in cases {
            let err = service(code, status);
            assert_eq!(exit(&err), want, "{code} {status}");
            let msg = classify(&err, "read", "b", Some("s/r/f")).to_string();
            assert!(msg.starts_with("cannot read s3://b/s/r/f: "), "{msg}");
            if code == "RequestTimeTooSkewed" {
                assert!(msg.contains("clock"), "{msg}");
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
            assert!(e.to_string().starts_with("cannot read s3://b: "), "{e}");
        }
    }

    #[test]
    fn credential_failures_are_access_errors_with_the_explanation() {
        let explained =
            CredentialsError::provider_error(Explanation("the reason, in words".into()));
        let err: Sdk = SdkError::construction_failure(explained);
        let e = classify(&err, "list", "b", None);
        assert_eq!(e.exit_code(), 4);
        assert_eq!(e.to_string(), "cannot list s3://b: the reason, in words");
        let err: Sdk = SdkError::construction_failure(CredentialsError::not_loaded_no_source());
        let e = classify(&err, "list", "b", None);
        assert_eq!(e.exit_code(), 4);
        assert!(e.to_string().contains("no AWS credentials found"), "{e}");
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
