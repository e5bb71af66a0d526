//! Where requests go: the endpoint (or AWS S3 itself), the addressing style and the region,
//! recorded when the one client is built, so that a failure can name the host it tried and the
//! likely mistake (a bucket in the endpoint's path, a virtual-hosted name that does not resolve).

use std::sync::OnceLock;

/// Where requests go: the custom endpoint (or AWS S3 itself), the addressing style and the
/// region, recorded when the client is built so that messages can name the host tried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// `None`: AWS S3 itself.
    pub endpoint: Option<String>,
    pub path_style: bool,
    pub region: String,
}

static ROUTE: OnceLock<Route> = OnceLock::new();

/// Records where the one client of this process sends its requests.
pub(super) fn set(route: Route) {
    let _ = ROUTE.set(route);
}

/// Where the client sends its requests (AWS S3 in us-east-1 before one is built).
pub(super) fn current() -> Route {
    ROUTE.get().cloned().unwrap_or_default()
}

/// The parts of an endpoint URL that messages name.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Url<'a> {
    pub scheme: &'a str,
    /// Without brackets for IPv6.
    pub host: &'a str,
    pub port: u16,
    /// `""` or `/...`, without a query.
    pub path: &'a str,
}

/// Splits `scheme://host[:port][/path]`, with the scheme's port when none is given.
pub(super) fn split_url(url: &str) -> Url<'_> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path.split('?').next().unwrap_or("").trim_end_matches('/');
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let default_port = if scheme.eq_ignore_ascii_case("http") {
        80
    } else {
        443
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => (v6, None),
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    Url {
        scheme,
        host,
        port: port.and_then(|p| p.parse().ok()).unwrap_or(default_port),
        path,
    }
}

impl Route {
    /// The host a request on `bucket` goes to, and whether the bucket is part of it
    /// (virtual-hosted addressing), as the SDK's endpoint rules choose it.
    pub(super) fn host(&self, bucket: &str) -> (String, bool) {
        match &self.endpoint {
            Some(url) => {
                let u = split_url(url);
                let ip = u.host.parse::<std::net::IpAddr>().is_ok();
                if self.path_style || ip || !dns_compatible(bucket, u.scheme == "https") {
                    (u.host.to_owned(), false)
                } else {
                    (format!("{bucket}.{}", u.host), true)
                }
            }
            None => {
                let suffix = if self.region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                let s3 = format!("s3.{}.{suffix}", self.region);
                if self.path_style || !dns_compatible(bucket, true) {
                    (s3, false)
                } else {
                    (format!("{bucket}.{s3}"), true)
                }
            }
        }
    }

    /// `scheme://host:port` for a custom endpoint, the host name for AWS.
    pub(super) fn tried(&self, bucket: &str) -> String {
        let (host, _) = self.host(bucket);
        match &self.endpoint {
            Some(url) => {
                let u = split_url(url);
                if host.contains(':') {
                    format!("{}://[{host}]:{}", u.scheme, u.port)
                } else {
                    format!("{}://{host}:{}", u.scheme, u.port)
                }
            }
            None => host,
        }
    }

    /// The custom endpoint's path, when it is not the root.
    pub(super) fn endpoint_path(&self) -> Option<&str> {
        let path = split_url(self.endpoint.as_deref()?).path;
        (!path.is_empty()).then_some(path)
    }
}

/// A bucket name that can be a label of a host name (S3's rule for virtual-hosted addressing;
/// over TLS a dot would break the certificate's wildcard).
pub(super) fn dns_compatible(bucket: &str, tls: bool) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (b == b'.' && !tls)
        })
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.'])
}

/// A warning for an endpoint URL whose path looks like a bucket name (one segment), the usual
/// mistake; longer paths are gateways that serve S3 under a prefix.
pub(super) fn endpoint_path_warning(url: &str) -> Option<String> {
    let path = split_url(url).path.trim_start_matches('/');
    if path.is_empty() || path.contains('/') {
        return None;
    }
    Some(format!(
        "the endpoint URL {url} has a path (/{path}): every request goes under it, so the bucket is looked for at /{path}/BUCKET; if {path} is the bucket, drop it from the endpoint URL and pass --bucket {path}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_with_default_ports() {
        let cases = [
            ("http://127.0.0.1:9", ("http", "127.0.0.1", 9, "")),
            (
                "https://s3.example.com",
                ("https", "s3.example.com", 443, ""),
            ),
            ("http://minio", ("http", "minio", 80, "")),
            (
                "http://h:9001/demo-bucket/",
                ("http", "h", 9001, "/demo-bucket"),
            ),
            ("https://[::1]:9000/a/b?x=1", ("https", "::1", 9000, "/a/b")),
        ];
        for (url, (scheme, host, port, path)) in cases {
            let want = Url {
                scheme,
                host,
                port,
                path,
            };
            assert_eq!(split_url(url), want, "{url}");
        }
    }

    #[test]
    fn the_host_tried_follows_the_addressing_style() {
        let route = |endpoint: Option<&str>, path_style: bool| Route {
            endpoint: endpoint.map(str::to_owned),
            path_style,
            region: "eu-west-1".into(),
        };
        let cases = [
            (
                route(Some("http://127.0.0.1:9"), true),
                "bkt",
                "http://127.0.0.1:9",
            ),
            // An IP address cannot carry the bucket: the SDK goes path-style.
            (
                route(Some("http://127.0.0.1:9"), false),
                "bkt",
                "http://127.0.0.1:9",
            ),
            (
                route(Some("http://localhost:9000"), false),
                "demo-bucket",
                "http://demo-bucket.localhost:9000",
            ),
            (
                route(Some("https://s3.example.com"), false),
                "bkt",
                "https://bkt.s3.example.com:443",
            ),
            // A dot in the bucket cannot be a host label under TLS.
            (
                route(Some("https://s3.example.com"), false),
                "a.bkt",
                "https://s3.example.com:443",
            ),
            (
                route(Some("http://[::1]:9000"), true),
                "bkt",
                "http://[::1]:9000",
            ),
            (
                route(None, false),
                "artifacts",
                "artifacts.s3.eu-west-1.amazonaws.com",
            ),
            (route(None, true), "artifacts", "s3.eu-west-1.amazonaws.com"),
            (
                route(None, false),
                "my.bucket",
                "s3.eu-west-1.amazonaws.com",
            ),
        ];
        for (route, bucket, want) in cases {
            assert_eq!(route.tried(bucket), want, "{route:?} {bucket}");
        }
        let china = Route {
            region: "cn-north-1".into(),
            ..route(None, false)
        };
        assert_eq!(china.tried("bkt"), "bkt.s3.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn a_bucket_like_endpoint_path_is_warned_about() {
        assert!(
            endpoint_path_warning("http://h:9001/demo-bucket")
                .is_some_and(|w| w.contains("--bucket demo-bucket"))
        );
        assert_eq!(endpoint_path_warning("http://h:9001"), None);
        assert_eq!(endpoint_path_warning("http://h:9001/"), None);
        // A gateway serving S3 under a longer path is not a mistake.
        assert_eq!(
            endpoint_path_warning("https://x.example/storage/v1/s3"),
            None
        );
    }
}
