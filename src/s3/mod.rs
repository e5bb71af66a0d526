//! The one S3 client, configured the standard AWS way ([`client`]), and the translation of its
//! errors into s3blob's error kinds ([`classify`]).

mod classify;
pub mod limit;
pub mod proxy;
mod route;
mod socket;
mod trust;
mod watchdog;

pub use classify::{classify, key_failure, not_implemented, status};
pub use trust::CaBundle;
use watchdog::{Buckets, Guarded};
pub use watchdog::{Cut, ExpectServerWork, ServerWork};

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    RequestChecksumCalculation, ResponseChecksumValidation, StalledStreamProtectionConfig,
};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::sync::OnceLock;

use crate::credentials::Explained;
use crate::error::Error;

/// How to reach the store; everything else about the client comes from aws-config's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// A custom endpoint (MinIO, Ceph, Garage, R2, ...); `None` means AWS itself.
    pub endpoint_url: Option<String>,
    pub path_style: bool,
    pub max_attempts: u32,
    /// How long a request body may stop moving, and how long a sent request may wait for its
    /// response to start, before the attempt is cut and retried.
    pub timeout: std::time::Duration,
    /// How the credentials chain is set up, to explain its failures.
    pub credentials: crate::credentials::Setup,
    /// The CA bundle from `--ca-bundle` or `AWS_CA_BUNDLE` (the profile's is read with the
    /// profile, when the client is built).
    pub ca_bundle: Option<CaBundle>,
    /// `HTTPS_PROXY` and the like: for S3 and the credential providers that go over the
    /// network (STS, SSO).
    pub proxies: proxy::Proxies,
    /// Hosts of instance metadata and container credentials besides the well-known ones
    /// (from the variables that move them): never proxied.
    pub local_hosts: Vec<String>,
    /// `--limit-rate` and the like: bytes per second each way for the whole command.
    pub limits: limit::RateLimits,
}

/// The region signed into requests when none is configured. A custom endpoint rarely cares;
/// AWS answers a wrong one with an error that names the right one.
const FALLBACK_REGION: &str = "us-east-1";

/// A TCP (and TLS) connection that takes longer than this is not going to work.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a certificate error names: the endpoint's host, and what the client trusted.
struct TlsNote {
    host: String,
    trusted: String,
}

static TLS_NOTE: OnceLock<TlsNote> = OnceLock::new();

/// Builds the client from aws-config's default chain plus the few settings s3blob owns. Fails
/// only on a CA bundle that cannot be used.
pub async fn client(settings: &ClientSettings) -> Result<Client, Error> {
    client_with(settings, None).await
}

/// [`client`], with `credentials` in place of the AWS chain when given: for the engine's
/// in-process tests, which must not depend on the environment they run in.
pub(crate) async fn client_with(
    settings: &ClientSettings,
    credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
) -> Result<Client, Error> {
    let trust = trust::load(settings.ca_bundle.as_ref(), settings.profile.as_deref()).await?;
    let host = match &settings.endpoint_url {
        Some(url) => endpoint_host(url).to_owned(),
        None => "the AWS S3 endpoint".to_owned(),
    };
    let _ = TLS_NOTE.set(TlsNote {
        host,
        trusted: trust.described,
    });
    // One TLS stack (rustls on ring) instead of the SDK's default two. The credential
    // providers (instance metadata, STS, SSO) use it too: aws-config has no client of its own
    // in this build, so every provider must be handed this one, and trusts what it trusts.
    let mut https =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    if let Some(context) = trust.context.clone() {
        https = https.tls_context(context);
    }
    let direct = SharedHttpClient::new(RootsOnFirstUse(https.build_https()));
    let proxies = &settings.proxies;
    if !proxies.is_empty() {
        // Once per command, for -v: where the requests go.
        match settings.endpoint_url.as_deref() {
            Some(url) => match proxies.for_url(url) {
                Some(proxy) => tracing::debug!("requests to {url} go through the proxy {proxy}"),
                None => tracing::debug!("requests to {url} go direct (no proxy for it)"),
            },
            None => tracing::debug!(
                "requests to AWS go through the proxy: {}",
                proxies.describe()
            ),
        }
    }
    let routed = |direct: SharedHttpClient| {
        if proxies.is_empty() {
            return direct;
        }
        let context = trust.context.clone();
        SharedHttpClient::new(proxy::Routed::new(
            direct,
            proxies,
            proxy::metadata_hosts(settings.local_hosts.iter().cloned()),
            |p| through(p, context.clone()),
        ))
    };
    // One bucket per direction for every request of the command.
    let buckets = Buckets {
        upload: settings
            .limits
            .upload
            .map(|r| std::sync::Arc::new(limit::TokenBucket::new(r))),
        download: settings
            .limits
            .download
            .map(|r| std::sync::Arc::new(limit::TokenBucket::new(r))),
    };
    let behind_proxy = !proxies.is_empty();
    let http = SharedHttpClient::new(
        Guarded::new(routed(direct), settings.timeout, buckets.clone()).behind_proxy(behind_proxy),
    );
    // Backoff from 200 ms (the SDK's default starts at 1 s): a stalled server then fails the
    // command within a minute, 5 cut attempts included.
    let retry = RetryConfig::standard()
        .with_max_attempts(settings.max_attempts)
        .with_initial_backoff(std::time::Duration::from_millis(200));

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
    if let Some(given) = credentials {
        config = config.credentials_provider(given);
    } else if let Some(chain) = sdk.credentials_provider() {
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
            config = config.http_client(
                Guarded::new(
                    routed(aws_smithy_http_client::Builder::new().build_http()),
                    settings.timeout,
                    buckets,
                )
                .behind_proxy(behind_proxy),
            );
        }
    }
    if let Some(warning) = settings
        .endpoint_url
        .as_deref()
        .and_then(route::endpoint_path_warning)
    {
        tracing::warn!("{warning}");
    }
    let config = config
        .interceptor(SseKept)
        .force_path_style(settings.path_style)
        // s3blob supplies its own CRC64NVME on every write. Left to itself the SDK would add a
        // CRC32 trailer and send the body aws-chunked, which costs CPU and which several
        // S3-compatible servers reject.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .retry_config(retry)
        // No limit on a whole request: the watchdog cuts stalls and silent servers instead,
        // and never a slow link.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .disable_read_timeout()
                .disable_operation_attempt_timeout()
                .disable_operation_timeout()
                .build(),
        )
        // A response body that stops flowing (the request side is the watchdog's).
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .upload_enabled(false)
                .grace_period(settings.timeout)
                .build(),
        )
        .build();
    route::set(route::Route {
        endpoint: settings.endpoint_url.clone(),
        path_style: settings.path_style,
        region: config
            .region()
            .map_or(FALLBACK_REGION, |r| r.as_ref())
            .to_owned(),
    });
    tracing::debug!(
        region = config.region().map_or("-", |r| r.as_ref()),
        endpoint = settings.endpoint_url.as_deref().unwrap_or("AWS"),
        path_style = settings.path_style,
        "S3 client"
    );
    Ok(Client::from_conf(config))
}

/// What a plain HTTP client got for a URL.
#[derive(Debug)]
pub struct PlainAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// GETs `url` the way a plain HTTP client (curl, a browser, a package manager) does: the
/// request carries `Host`, `Accept` and `User-Agent` only, none of the SDK's own headers
/// (`x-amz-user-agent`, `amz-sdk-*`), which a store may refuse on a presigned URL because they
/// are not signed. HTTPS trusts what the S3 client trusts (`--ca-bundle` and the like).
pub async fn plain_get(settings: &ClientSettings, url: &str) -> Result<PlainAnswer, String> {
    use aws_smithy_runtime_api::client::http::HttpConnector;
    let trust = trust::load(settings.ca_bundle.as_ref(), settings.profile.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let mut connector = aws_smithy_http_client::Connector::builder();
    if let Some(proxy) = settings.proxies.for_url(url) {
        connector = connector.proxy_config(proxy.url.config());
    }
    let mut connector = connector.tls_provider(Provider::Rustls(CryptoMode::Ring));
    if let Some(context) = trust.context {
        connector = connector.tls_context(context);
    }
    let connector = connector.build();
    let mut request = aws_smithy_runtime_api::http::Request::get(url).map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    headers.insert("accept", "*/*");
    headers.insert(
        "user-agent",
        concat!("s3blob/", env!("CARGO_PKG_VERSION"), " (doctor)"),
    );
    let exchange = async {
        let response = connector.call(request).await.map_err(|e| {
            let mut inner: &(dyn std::error::Error + 'static) = &e;
            while let Some(next) = inner.source() {
                inner = next;
            }
            crate::error::one_line(&inner.to_string())
        })?;
        let status = response.status().as_u16();
        let body = aws_smithy_types::byte_stream::ByteStream::new(response.into_body())
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_vec();
        Ok(PlainAnswer { status, body })
    };
    tokio::time::timeout(CONNECT_TIMEOUT + settings.timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {:?}", CONNECT_TIMEOUT + settings.timeout))?
}

/// A client whose every request goes through `proxy`: CONNECT for `https://` URLs, forwarding
/// for `http://` ones, with the proxy's credentials; TLS trusts what the direct client trusts.
/// (The smithy builder takes a proxy only per connector, hence the connector function.)
fn through(
    proxy: &proxy::Proxy,
    context: Option<aws_smithy_http_client::tls::TlsContext>,
) -> SharedHttpClient {
    let config = proxy.url.config();
    aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
        let mut builder = aws_smithy_http_client::Connector::builder();
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        let mut builder = builder
            .proxy_config(config.clone())
            .tls_provider(Provider::Rustls(CryptoMode::Ring));
        if let Some(context) = &context {
            builder = builder.tls_context(context.clone());
        }
        builder.build()
    })
}

/// `host[:port]` of an endpoint URL.
fn endpoint_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// The message for a certificate the client refused, naming the host, what was trusted and
/// what to set; `None` before a client exists.
pub(crate) fn untrusted_certificate(detail: &str) -> String {
    let (host, trusted) = TLS_NOTE
        .get()
        .map_or(("the endpoint", "the system's root certificates"), |n| {
            (n.host.as_str(), n.trusted.as_str())
        });
    format!(
        "the TLS certificate of {host} is not trusted ({detail}; trusted: {trusted}); if it is signed by a private certificate authority, pass --ca-bundle FILE (or set AWS_CA_BUNDLE, or ca_bundle in the profile) with that CA's PEM certificate"
    )
}

/// Where the region comes from when `--region` is not given (aws-config's own chain when
/// nothing is set on the loader).
fn with_region(mut loader: ConfigLoader, settings: &ClientSettings) -> ConfigLoader {
    match (&settings.region, &settings.endpoint_url) {
        (Some(region), _) => loader = loader.region(Region::new(region.clone())),
        // A custom endpoint never needs the instance-metadata probe (a network round trip
        // with timeouts off EC2) just to learn a region name. The chain always ends in a
        // region: given none, aws-config's credential chain would resolve one itself, and its
        // resolver asks instance metadata.
        (None, Some(_)) => {
            let mut profile_region = ProfileFileRegionProvider::builder();
            if let Some(profile) = &settings.profile {
                profile_region = profile_region.profile_name(profile);
            }
            loader = loader.region(
                RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
                    .or_else(profile_region.build())
                    .or_else(Region::from_static(FALLBACK_REGION)),
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

/// Warns once when a write that asked for server-side encryption (`--sse`) is answered without
/// `x-amz-server-side-encryption`: AWS names the encryption it applied in every such answer, so
/// a store that leaves the header out kept none (some accept the header and ignore it).
#[derive(Debug)]
struct SseKept;

static SSE_WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

const SSE_HEADER: &str = "x-amz-server-side-encryption";

/// The encryption a request asked for, kept from its sending to its answer.
#[derive(Debug, Clone)]
struct AskedSse(String);

impl aws_smithy_types::config_bag::Storable for AskedSse {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for SseKept {
    fn name(&self) -> &'static str {
        "s3blob: server-side encryption kept"
    }

    fn read_before_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(asked) = context.request().headers().get(SSE_HEADER) {
            cfg.interceptor_state()
                .store_put(AskedSse(asked.to_owned()));
        }
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let Some(AskedSse(asked)) = cfg.load::<AskedSse>() else {
            return Ok(());
        };
        let response = context.response();
        let warning = sse_not_kept(
            Some(asked),
            response.status().as_u16(),
            response.headers().get(SSE_HEADER),
        );
        if let Some(warning) = warning
            && !SSE_WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!("{warning}");
        }
        Ok(())
    }
}

/// The warning for a request that asked for server-side encryption `asked` and got a success
/// answer with `answered` as its encryption header.
fn sse_not_kept(asked: Option<&str>, status: u16, answered: Option<&str>) -> Option<String> {
    let asked = asked?;
    if !(200..300).contains(&status) || answered.is_some_and(|a| !a.trim().is_empty()) {
        return None;
    }
    Some(format!(
        "--sse {asked}: the store stored the object but kept no server-side encryption (its answer has no {SSE_HEADER} header); drop --sse for this store, or use one that encrypts at rest"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_without_the_encryption_header_is_a_warning() {
        assert!(
            sse_not_kept(Some("aws:kms"), 200, None).is_some_and(|w| w.contains("--sse aws:kms"))
        );
        assert!(sse_not_kept(Some("AES256"), 200, Some("")).is_some());
        assert_eq!(sse_not_kept(Some("AES256"), 200, Some("AES256")), None);
        // AWS may answer with another algorithm (its default); the store encrypted.
        assert_eq!(sse_not_kept(Some("aws:kms"), 200, Some("AES256")), None);
        assert_eq!(sse_not_kept(None, 200, None), None);
        assert_eq!(sse_not_kept(Some("AES256"), 400, None), None);
    }
}
