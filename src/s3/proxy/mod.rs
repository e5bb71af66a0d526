//! HTTP proxies from the environment, as curl and the AWS CLI read them, and the HTTP client
//! that sends each request through its proxy or directly.
//!
//! The AWS SDK applies `HTTPS_PROXY` and friends only in its default HTTP client; s3blob builds
//! its own (one TLS stack), so it reads them here. Which variable wins, and what `NO_PROXY`
//! matches, is pure ([`Proxies::from_lookup`], [`NoProxy`]) and table-tested below. The
//! connections themselves (CONNECT for `https://`, absolute-form forwarding for `http://`,
//! `Proxy-Authorization` from the URL's percent-decoded credentials) are the smithy HTTP
//! client's; [`Routed`] picks, per request, the client that goes through the right proxy, and
//! turns a proxy that refuses or cannot be reached into a [`ProxyFailure`] that names the proxy
//! and the variable, never the endpoint.

mod routed;

use std::fmt;
use std::net::IpAddr;

use aws_smithy_http_client::proxy::ProxyConfig;

pub use routed::{ProxyFailure, Routed};

/// A proxy URL as given in a variable, with what may be shown of it.
#[derive(Clone)]
pub struct ProxyUrl {
    /// The URL for the connector, credentials included (still percent-encoded: the connector
    /// decodes them). Never shown.
    url: String,
    /// `http://user:***@host:port`: what messages and logs show.
    masked: String,
    /// The connector's form of it, checked when parsed.
    config: ProxyConfig,
}

impl PartialEq for ProxyUrl {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
    }
}

impl Eq for ProxyUrl {}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl ProxyUrl {
    /// Parses `[http://|https://][user[:password]@]host[:port][/]`; no scheme means `http://`,
    /// as in curl. The port defaults to 80 (443 for `https://`), as in the AWS CLI.
    pub fn parse(value: &str) -> Result<ProxyUrl, String> {
        let value = value.trim();
        let (scheme, rest) = match value.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_owned(), value),
        };
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "{scheme}:// proxies are not supported; use an http:// (or https://) proxy"
            ));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err("a proxy URL has no path: use http://[user:password@]host:port".to_owned());
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport);
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err("no proxy host: use http://[user:password@]host:port".to_owned());
        }
        if let Some(port) = port
            && port.parse::<u16>().map_or(true, |p| p == 0)
        {
            return Err(format!("{port:?} is not a port number"));
        }
        let masked = match userinfo {
            None => format!("{scheme}://{hostport}"),
            Some(u) => {
                if u.contains(['@', '/', ' ']) {
                    return Err(
                        "percent-encode special characters in the proxy's user name and password (@ as %40)"
                            .to_owned(),
                    );
                }
                crate::environment::mask_password(&format!("{scheme}://{u}@{hostport}"))
            }
        };
        let url = format!("{scheme}://{authority}");
        let config = ProxyConfig::all(url.as_str()).map_err(|_| {
            format!("{masked} is not a URL the HTTP client takes: percent-encode special characters in the user name and password (@ as %40)")
        })?;
        Ok(ProxyUrl {
            url,
            masked,
            config,
        })
    }

    /// The URL with its password masked, for messages and logs.
    pub fn masked(&self) -> &str {
        &self.masked
    }

    /// The URL to connect with; never to be shown.
    #[cfg(test)]
    fn secret_url(&self) -> &str {
        &self.url
    }

    /// The connector's configuration: every request through this proxy.
    pub fn config(&self) -> ProxyConfig {
        self.config.clone()
    }
}

/// `host[:port]` (`[v6]:port` too); the host without brackets.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => (s, None),
        };
    }
    match s.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address.
        Some((host, _)) if host.contains(':') => (s, None),
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    }
}

/// A proxy and the variable it came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub url: ProxyUrl,
    pub variable: &'static str,
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.url.masked(), self.variable)
    }
}

/// The proxies for `http://` and `https://` URLs and the hosts that bypass them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    pub http: Option<Proxy>,
    pub https: Option<Proxy>,
    pub no_proxy: NoProxy,
}

/// Where each scheme's proxy is looked for, first set wins: the lowercase name before the
/// uppercase one (curl; Python's urllib, which the AWS CLI uses, lets lowercase win too), then
/// `ALL_PROXY` for either.
const HTTPS_VARIABLES: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
const HTTP_VARIABLES: [&str; 4] = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];
const NO_PROXY_VARIABLES: [&str; 2] = ["no_proxy", "NO_PROXY"];

impl Proxies {
    /// Reads the variables through `get` (blank values already count as unset). A value that
    /// is not a usable proxy URL is an error: the variable and why.
    pub fn from_lookup<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Proxies, (&'static str, String)> {
        let pick = |names: &[&'static str]| -> Result<Option<Proxy>, (&'static str, String)> {
            let Some((variable, value)) = names.iter().find_map(|n| get(n).map(|v| (*n, v))) else {
                return Ok(None);
            };
            let url = ProxyUrl::parse(value).map_err(|why| (variable, why))?;
            Ok(Some(Proxy { url, variable }))
        };
        let no_proxy = NO_PROXY_VARIABLES
            .iter()
            .find_map(|n| get(n).map(|v| NoProxy::parse(v, n)))
            .unwrap_or_default();
        Ok(Proxies {
            http: pick(&HTTP_VARIABLES)?,
            https: pick(&HTTPS_VARIABLES)?,
            no_proxy,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// The proxy a request to `url` goes through, if any.
    pub fn for_url(&self, url: &str) -> Option<&Proxy> {
        let (https, host, port) = target(url)?;
        let proxy = if https { &self.https } else { &self.http };
        let proxy = proxy.as_ref()?;
        (!self.no_proxy.matches(&host, port)).then_some(proxy)
    }

    /// One line for `-v` and `doctor`: which proxy each scheme uses and what bypasses them.
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "none".to_owned();
        }
        let one = |p: &Option<Proxy>| p.as_ref().map_or("direct".to_owned(), Proxy::to_string);
        let mut out = if self.http == self.https {
            format!("{} for http and https", one(&self.https))
        } else {
            format!("https: {}; http: {}", one(&self.https), one(&self.http))
        };
        if let Some(variable) = self.no_proxy.variable {
            out.push_str(&format!(
                "; bypassed for {} ({variable})",
                self.no_proxy.text
            ));
        }
        out
    }
}

/// `(is https, host, port)` of an `http(s)://` URL; `None` for anything else.
fn target(url: &str) -> Option<(bool, String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = split_host_port(authority);
    let port = match port {
        Some(p) => p.parse().ok()?,
        None if https => 443,
        None => 80,
    };
    Some((https, host.to_ascii_lowercase(), port))
}

/// `NO_PROXY`: comma- (or space-) separated host names (each matching itself and its
/// subdomains; a leading `.` or `*.` is ignored, as in curl), IP addresses, CIDR ranges, each
/// with an optional `:port`, or `*` for everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<(Bypass, Option<u16>)>,
    /// The value as given and its variable, for `-v` and `doctor`.
    text: String,
    variable: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Bypass {
    All,
    Domain(String),
    Ip(IpAddr),
    Cidr(IpAddr, u8),
}

impl NoProxy {
    pub fn parse(value: &str, variable: &'static str) -> NoProxy {
        let entries = value
            .split([',', ' ', '\t'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(parse_bypass)
            .collect();
        NoProxy {
            entries,
            text: value.trim().to_owned(),
            variable: Some(variable),
        }
    }

    /// Whether a request to `host:port` (host lowercase, IPv6 without brackets) goes direct.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let ip: Option<IpAddr> = host.parse().ok();
        self.entries.iter().any(|(bypass, only)| {
            only.is_none_or(|p| p == port)
                && match bypass {
                    Bypass::All => true,
                    Bypass::Ip(a) => ip == Some(*a),
                    Bypass::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
                    Bypass::Domain(d) => {
                        host == d
                            || host
                                .strip_suffix(d.as_str())
                                .is_some_and(|head| head.ends_with('.'))
                    }
                }
        })
    }
}

fn parse_bypass(entry: &str) -> Option<(Bypass, Option<u16>)> {
    if entry == "*" {
        return Some((Bypass::All, None));
    }
    if let Some((net, bits)) = entry.split_once('/') {
        let net: IpAddr = net.trim_matches(['[', ']']).parse().ok()?;
        let bits: u8 = bits.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        return (bits <= max).then_some((Bypass::Cidr(net, bits), None));
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some((Bypass::Ip(ip), None));
    }
    let (host, port) = split_host_port(entry);
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some((Bypass::Ip(ip), port));
    }
    let host = host.trim_start_matches("*.").trim_start_matches('.');
    (!host.is_empty()).then(|| (Bypass::Domain(host.to_ascii_lowercase()), port))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Hosts whose requests never go through a proxy whatever `NO_PROXY` says: instance metadata
/// and container credentials are local to the machine (the AWS SDKs never proxy them).
pub fn metadata_hosts(extra: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut hosts: Vec<String> = [
        "169.254.169.254",
        "fd00:ec2::254",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::23",
    ]
    .map(str::to_owned)
    .to_vec();
    hosts.extend(extra);
    hosts
}

/// The host of a URL given in a variable (`AWS_CONTAINER_CREDENTIALS_FULL_URI`,
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT`), to keep it direct.
pub fn host_of(url: &str) -> Option<String> {
    target(url).map(|(_, host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::routed::ProxyFailureKind;
    use super::*;

    fn proxies(vars: &[(&str, &str)]) -> Result<Proxies, (&'static str, String)> {
        Proxies::from_lookup(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| *v))
    }

    #[test]
    fn urls_are_parsed_and_masked() {
        let cases = [
            ("http://proxy:3128", "http://proxy:3128"),
            ("proxy:3128", "http://proxy:3128"),
            ("http://proxy:3128/", "http://proxy:3128"),
            ("HTTP://proxy", "http://proxy"),
            (
                "http://user:s%40cret@proxy:3128",
                "http://user:***@proxy:3128",
            ),
            ("http://user@proxy:3128", "http://user@proxy:3128"),
            ("https://u:p@[::1]:8443", "https://u:***@[::1]:8443"),
        ];
        for (given, shown) in cases {
            let url = ProxyUrl::parse(given).unwrap();
            assert_eq!(url.masked(), shown, "{given}");
            assert_eq!(format!("{url:?}"), shown);
        }
        assert_eq!(
            ProxyUrl::parse("user:pw@proxy:1").unwrap().secret_url(),
            "http://user:pw@proxy:1"
        );
        for bad in [
            "socks5://proxy:1080",
            "http://",
            "http://proxy:http",
            "http://proxy:0",
            "http://proxy:3128/path",
            "http://us@er:pw@proxy:1",
        ] {
            assert!(ProxyUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn variables_take_precedence_as_in_curl_and_the_aws_cli() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:1"),
            ("ALL_PROXY", "http://all:1"),
        ])
        .unwrap();
        let https = p.https.unwrap();
        assert_eq!(
            (https.url.masked(), https.variable),
            ("http://lower:1", "https_proxy")
        );
        let http = p.http.unwrap();
        assert_eq!(
            (http.url.masked(), http.variable),
            ("http://all:1", "ALL_PROXY")
        );

        let p = proxies(&[
            ("HTTP_PROXY", "h:1"),
            ("all_proxy", "a:1"),
            ("ALL_PROXY", "b:1"),
        ])
        .unwrap();
        assert_eq!(p.http.unwrap().variable, "HTTP_PROXY");
        assert_eq!(p.https.unwrap().variable, "all_proxy");

        assert!(proxies(&[]).unwrap().is_empty());
        let (variable, why) = proxies(&[("HTTPS_PROXY", "socks5://x:1")]).unwrap_err();
        assert_eq!(variable, "HTTPS_PROXY");
        assert!(
            why.starts_with("socks5:// proxies are not supported"),
            "{why}"
        );
    }

    #[test]
    fn each_url_gets_its_schemes_proxy_unless_no_proxy_matches() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://p:1"),
            (
                "NO_PROXY",
                "internal.example, .corp.example,10.0.0.0/8 ,s3.local:9000",
            ),
        ])
        .unwrap();
        assert!(p.for_url("https://s3.amazonaws.com/b/k").is_some());
        assert!(
            p.for_url("http://s3.amazonaws.com/b/k").is_none(),
            "no http proxy"
        );
        assert!(p.for_url("https://internal.example/").is_none());
        assert!(p.for_url("https://a.corp.example/").is_none());
        assert!(p.for_url("https://corp.example/").is_none());
        assert!(p.for_url("https://10.1.2.3:9000/").is_none());
        assert!(p.for_url("https://s3.local:9000/").is_none());
        assert!(p.for_url("https://s3.local:9001/").is_some());
        assert!(p.for_url("https://xinternal.example/").is_some());
    }

    #[test]
    fn no_proxy_matches_hosts_domains_ips_cidrs_and_everything() {
        let cases: &[(&str, &str, u16, bool)] = &[
            ("example.com", "example.com", 443, true),
            ("example.com", "s3.example.com", 443, true),
            ("example.com", "badexample.com", 443, false),
            (".example.com", "example.com", 443, true),
            (".example.com", "a.b.example.com", 443, true),
            ("*.example.com", "a.example.com", 443, true),
            ("EXAMPLE.com", "example.com", 443, true),
            ("127.0.0.1", "127.0.0.1", 9000, true),
            ("127.0.0.1", "127.0.0.2", 9000, false),
            ("127.0.0.0/8", "127.9.9.9", 1, true),
            ("192.168.0.0/16", "192.169.0.1", 1, false),
            ("0.0.0.0/0", "8.8.8.8", 1, true),
            ("::1", "::1", 1, true),
            ("[::1]", "::1", 1, true),
            ("fd00::/8", "fd00:ec2::254", 80, true),
            ("fd00::/8", "fe80::1", 80, false),
            ("host:9000", "host", 9000, true),
            ("host:9000", "host", 9001, false),
            ("*", "anything.at.all", 1, true),
            ("", "example.com", 1, false),
            ("a, b ,,c", "c", 1, true),
            ("garbage/99", "1.2.3.4", 1, false),
        ];
        for (rule, host, port, expect) in cases {
            let np = NoProxy::parse(rule, "NO_PROXY");
            assert_eq!(
                np.matches(host, *port),
                *expect,
                "{rule:?} vs {host}:{port}"
            );
        }
    }

    #[test]
    fn the_description_masks_and_names_the_variables() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://me:secret@p:1"),
            ("no_proxy", "localhost"),
        ])
        .unwrap();
        let d = p.describe();
        assert!(!d.contains("secret"), "{d}");
        assert_eq!(
            d,
            "https: http://me:***@p:1 (from HTTPS_PROXY); http: direct; bypassed for localhost (no_proxy)"
        );
        let p = proxies(&[("ALL_PROXY", "p:1")]).unwrap();
        assert_eq!(
            p.describe(),
            "http://p:1 (from ALL_PROXY) for http and https"
        );
        assert_eq!(proxies(&[]).unwrap().describe(), "none");
    }

    #[test]
    fn failures_name_the_proxy_masked_and_its_variable() {
        let proxy = Proxy {
            url: ProxyUrl::parse("http://me:secret@p:1").unwrap(),
            variable: "HTTPS_PROXY",
        };
        for kind in [
            ProxyFailureKind::AuthRequired {
                had_credentials: true,
            },
            ProxyFailureKind::AuthRequired {
                had_credentials: false,
            },
            ProxyFailureKind::Refused(Some(403)),
            ProxyFailureKind::Unreachable("Connection refused".into()),
        ] {
            let text = ProxyFailure {
                proxy: proxy.clone(),
                kind,
            }
            .to_string();
            assert!(
                text.contains("http://me:***@p:1 (from HTTPS_PROXY)"),
                "{text}"
            );
            assert!(!text.contains("secret"), "{text}");
        }
    }
}
