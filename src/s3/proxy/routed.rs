//! The HTTP client that sends each request through the proxy for its URL, or directly, and
//! the one error that names a proxy that refused or could not be reached.

use std::fmt;
use std::sync::Arc;

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use super::{NoProxy, Proxies, Proxy, target};

/// What went wrong with a proxy: the one error that names it instead of the endpoint.
#[derive(Debug)]
pub struct ProxyFailure {
    pub proxy: Proxy,
    pub kind: ProxyFailureKind,
}

#[derive(Debug)]
pub enum ProxyFailureKind {
    /// 407: the proxy wants credentials, or refused the ones given.
    AuthRequired { had_credentials: bool },
    /// The proxy answered with this status (or refused the tunnel) instead of passing the
    /// request on.
    Refused(Option<u16>),
    /// The proxy could not be connected to (the reason).
    Unreachable(String),
}

impl fmt::Display for ProxyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.proxy;
        match &self.kind {
            ProxyFailureKind::AuthRequired {
                had_credentials: true,
            } => write!(
                f,
                "the proxy {p} refused its credentials (407 Proxy Authentication Required); check the user name and password in {}",
                p.variable
            ),
            ProxyFailureKind::AuthRequired {
                had_credentials: false,
            } => write!(
                f,
                "the proxy {p} asks for credentials (407 Proxy Authentication Required); put them in {} as http://USER:PASSWORD@host:port",
                p.variable
            ),
            ProxyFailureKind::Refused(status) => {
                let status = status.map_or("refused the connection".to_owned(), |s| {
                    format!("answered {s}")
                });
                write!(
                    f,
                    "the proxy {p} {status} instead of passing the request on; ask its administrator to allow the endpoint, or exempt it with NO_PROXY"
                )
            }
            ProxyFailureKind::Unreachable(why) => write!(
                f,
                "cannot connect to the proxy {p} ({why}); check {}, or unset it to connect directly",
                p.variable
            ),
        }
    }
}

impl std::error::Error for ProxyFailure {}

/// An HTTP client that sends each request through the proxy for its URL, or directly.
#[derive(Debug)]
pub struct Routed {
    direct: SharedHttpClient,
    /// The proxy for `http://` and for `https://` URLs, each with the client that uses it.
    http: Option<(Proxy, SharedHttpClient)>,
    https: Option<(Proxy, SharedHttpClient)>,
    no_proxy: NoProxy,
    /// Hosts never proxied (see [`metadata_hosts`]).
    direct_hosts: Arc<Vec<String>>,
}

impl Routed {
    /// `through(proxy)` builds the client for one proxy.
    pub fn new(
        direct: SharedHttpClient,
        proxies: &Proxies,
        direct_hosts: Vec<String>,
        through: impl Fn(&Proxy) -> SharedHttpClient,
    ) -> Routed {
        let https = proxies.https.clone().map(|p| {
            let client = through(&p);
            (p, client)
        });
        let http = proxies.http.clone().map(|p| {
            // One client (one pool) when both schemes use the same proxy.
            let client = match &https {
                Some((q, c)) if *q == p => c.clone(),
                _ => through(&p),
            };
            (p, client)
        });
        Routed {
            direct,
            http,
            https,
            no_proxy: proxies.no_proxy.clone(),
            direct_hosts: Arc::new(direct_hosts),
        }
    }
}

impl HttpClient for Routed {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let via = |slot: &Option<(Proxy, SharedHttpClient)>| {
            slot.as_ref()
                .map(|(p, c)| (p.clone(), c.http_connector(settings, components)))
        };
        SharedHttpConnector::new(RoutedConnector {
            direct: self.direct.http_connector(settings, components),
            http: via(&self.http),
            https: via(&self.https),
            no_proxy: self.no_proxy.clone(),
            direct_hosts: self.direct_hosts.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
        cfg: &aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.direct.validate_base_client_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.direct.connector_metadata()
    }
}

#[derive(Debug)]
struct RoutedConnector {
    direct: SharedHttpConnector,
    http: Option<(Proxy, SharedHttpConnector)>,
    https: Option<(Proxy, SharedHttpConnector)>,
    no_proxy: NoProxy,
    direct_hosts: Arc<Vec<String>>,
}

impl HttpConnector for RoutedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Some((https, host, port)) = target(request.uri()) else {
            return self.direct.call(request);
        };
        let slot = if https { &self.https } else { &self.http };
        let Some((proxy, connector)) = slot
            .as_ref()
            .filter(|_| !self.direct_hosts.contains(&host) && !self.no_proxy.matches(&host, port))
        else {
            return self.direct.call(request);
        };
        let proxy = proxy.clone();
        let had_credentials = proxy.url.masked().contains('@');
        let response = connector.call(request);
        HttpConnectorFuture::new(async move {
            let failure = |kind| ProxyFailure {
                proxy: proxy.clone(),
                kind,
            };
            match response.await {
                // Forwarded (http://) requests: the proxy's own refusal comes back as a
                // response. A 407 is always the proxy's; a 403 is the proxy's when it is not
                // an S3 error document (those are XML).
                Ok(r) if r.status().as_u16() == 407 => Err(ConnectorError::other(
                    Box::new(failure(ProxyFailureKind::AuthRequired { had_credentials })),
                    None,
                )),
                Ok(r) if !https && r.status().as_u16() == 403 && !is_xml(&r) => {
                    Err(ConnectorError::other(
                        Box::new(failure(ProxyFailureKind::Refused(Some(403)))),
                        None,
                    ))
                }
                Ok(r) => Ok(r),
                Err(e) => Err(match proxy_fault(&e) {
                    // The proxy's answer will not change: not retried.
                    Some(Fault::Auth) => ConnectorError::other(
                        Box::new(failure(ProxyFailureKind::AuthRequired { had_credentials })),
                        None,
                    ),
                    Some(Fault::Refused) => ConnectorError::other(
                        Box::new(failure(ProxyFailureKind::Refused(None))),
                        None,
                    ),
                    // Retried like an unreachable endpoint.
                    Some(Fault::Unreachable(why)) => {
                        ConnectorError::io(Box::new(failure(ProxyFailureKind::Unreachable(why))))
                    }
                    None => e,
                }),
            }
        })
    }
}

fn is_xml(response: &aws_smithy_runtime_api::http::Response) -> bool {
    response
        .headers()
        .get("content-type")
        .is_some_and(|t| t.contains("xml"))
}

enum Fault {
    Auth,
    Refused,
    Unreachable(String),
}

/// What a failed connection through a proxy says about the proxy. hyper-util reports a
/// tunnel the proxy refused only in words (`tunnel error: ...`), so they are matched; a TLS
/// failure (the endpoint's certificate, reached through the tunnel) is not the proxy's.
fn proxy_fault(err: &ConnectorError) -> Option<Fault> {
    use std::io::ErrorKind as K;
    let mut connect = false;
    let mut pending: Vec<&(dyn std::error::Error + 'static)> = vec![err];
    let mut unreachable = None;
    while let Some(e) = pending.pop() {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return None;
        }
        if let Some(h) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            connect |= h.is_connect();
        }
        let text = e.to_string();
        if text.contains("tunnel error: proxy authorization required") {
            return Some(Fault::Auth);
        }
        if text.contains("tunnel error: unsuccessful") {
            return Some(Fault::Refused);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                K::ConnectionRefused | K::NetworkUnreachable | K::HostUnreachable | K::TimedOut
            ) {
                unreachable.get_or_insert_with(|| crate::error::one_line(&io.to_string()));
            }
            pending.extend(
                io.get_ref()
                    .map(|i| i as &(dyn std::error::Error + 'static)),
            );
        }
        if text == "dns error" || text.contains("failed to lookup address") {
            unreachable.get_or_insert_with(|| "its name does not resolve".to_owned());
        }
        pending.extend(e.source());
    }
    if err.is_timeout() && unreachable.is_none() {
        unreachable = Some("no connection within the connect timeout".to_owned());
    }
    match unreachable {
        Some(why) if connect || err.is_timeout() || err.is_io() => Some(Fault::Unreachable(why)),
        _ => None,
    }
}
