//! Settings resolved from flags, then the environment (which includes `.env`), then defaults.
//!
//! `resolve` is pure: it takes the parsed flags and a lookup function for variables, so tests
//! hand in a table instead of touching the process environment. `load_dotenv` is the one place
//! that reads `.env`.

use std::time::Duration;

use crate::cli::{AddressingStyle, GlobalArgs, TuningArgs};
use crate::error::Error;
use crate::transfer::plan::{MAX_PART_SIZE, MIB, MIN_PART_SIZE};

pub const DEFAULT_PART_SIZE: u64 = 16 * MIB;
pub const DEFAULT_CONCURRENCY: usize = 16;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// More parts in flight than this buys nothing and risks the server's connection limits.
pub const MAX_CONCURRENCY: usize = 256;

/// How to reach the store; everything else about the client comes from aws-config's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// A custom endpoint (MinIO, Ceph, Garage, R2, ...); `None` means AWS itself.
    pub endpoint_url: Option<String>,
    pub path_style: bool,
    pub max_attempts: u32,
    /// Per attempt: how long until the response must start (sending the body included).
    pub timeout: Duration,
}

/// How big the pieces of a transfer are and how many move at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferSettings {
    pub part_size: u64,
    pub concurrency: usize,
    /// Attempts per part or range, also for failures the SDK does not retry (a body cut short).
    pub max_attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub bucket: String,
    pub client: ClientSettings,
    pub transfer: TransferSettings,
}

/// Reads `.env` from the working directory into the process environment without overriding
/// variables that are already set. Must run before any thread starts.
pub fn load_dotenv() -> Result<(), Error> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(Error::Usage(format!(
            "cannot read .env in the working directory: {e}; fix or remove it"
        ))),
    }
}

/// Resolves settings: flags first, then variables from `env`, then defaults.
pub fn resolve(
    global: &GlobalArgs,
    tuning: &TuningArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings, Error> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());

    let bucket = global
        .bucket
        .clone()
        .or_else(|| env("S3BLOB_BUCKET"))
        .ok_or_else(|| {
            Error::Usage("no bucket given: pass --bucket BUCKET or set S3BLOB_BUCKET".into())
        })?;
    check_bucket(&bucket)?;

    let (endpoint_url, endpoint_source) = match &global.endpoint_url {
        Some(url) => (Some(url.clone()), "--endpoint-url"),
        None => match env("AWS_ENDPOINT_URL_S3") {
            Some(url) => (Some(url), "AWS_ENDPOINT_URL_S3"),
            None => (env("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"),
        },
    };
    if let Some(url) = &endpoint_url {
        check_endpoint(endpoint_source, url)?;
    }

    let style = match global.addressing_style {
        Some(style) => style,
        None => match env("S3BLOB_ADDRESSING_STYLE") {
            Some(v) => parse_style(&v)?,
            None => AddressingStyle::Auto,
        },
    };
    let path_style = match style {
        AddressingStyle::Path => true,
        AddressingStyle::Virtual => false,
        AddressingStyle::Auto => endpoint_url.is_some(),
    };

    let max_attempts = match global.max_attempts {
        Some(n) => n,
        None => match env("AWS_MAX_ATTEMPTS") {
            Some(v) => v.trim().parse().map_err(|_| {
                Error::Usage(format!(
                    "AWS_MAX_ATTEMPTS={v:?} is not a whole number; set it to e.g. 5"
                ))
            })?,
            None => DEFAULT_MAX_ATTEMPTS,
        },
    };
    if max_attempts == 0 {
        return Err(Error::Usage(
            "--max-attempts (or AWS_MAX_ATTEMPTS) must be at least 1".into(),
        ));
    }

    let part_size = match tuning.part_size {
        Some(n) => n,
        None => match env("S3BLOB_PART_SIZE") {
            Some(v) => crate::cli::parse_size(&v)
                .map_err(|e| Error::Usage(format!("S3BLOB_PART_SIZE: {e}")))?,
            None => DEFAULT_PART_SIZE,
        },
    };
    if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
        return Err(Error::Usage(format!(
            "--part-size {part_size} is out of range: use 5MiB to 5GiB"
        )));
    }

    let concurrency = match tuning.concurrency {
        Some(n) => n,
        None => match env("S3BLOB_CONCURRENCY") {
            Some(v) => v.trim().parse().map_err(|_| {
                Error::Usage(format!(
                    "S3BLOB_CONCURRENCY={v:?} is not a whole number; set it to e.g. 16"
                ))
            })?,
            None => DEFAULT_CONCURRENCY,
        },
    };
    if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
        return Err(Error::Usage(format!(
            "--concurrency {concurrency} is out of range: use 1 to {MAX_CONCURRENCY}"
        )));
    }

    let timeout = match global.timeout {
        Some(secs) => secs,
        None => match env("S3BLOB_TIMEOUT") {
            Some(v) => v.trim().parse().map_err(|_| {
                Error::Usage(format!(
                    "S3BLOB_TIMEOUT={v:?} is not a whole number of seconds; set it to e.g. 60"
                ))
            })?,
            // Room for a part to go up at 1 MiB/s on a slow link.
            None => 60 + part_size / MIB,
        },
    };
    if timeout == 0 {
        return Err(Error::Usage(
            "--timeout (or S3BLOB_TIMEOUT) must be at least 1 second".into(),
        ));
    }

    Ok(Settings {
        bucket,
        client: ClientSettings {
            region: global.region.clone(),
            profile: global.profile.clone(),
            endpoint_url,
            path_style,
            max_attempts,
            timeout: Duration::from_secs(timeout),
        },
        transfer: TransferSettings {
            part_size,
            concurrency,
            max_attempts,
        },
    })
}

/// Loose bucket checks: S3-compatible servers differ in naming rules, so only refuse what no
/// server accepts and what would change the meaning of the request.
fn check_bucket(bucket: &str) -> Result<(), Error> {
    if bucket.contains('/') || bucket.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Usage(format!(
            "invalid --bucket {bucket:?}: a bucket name has no '/', spaces or control characters (give the bare name, not s3://...)"
        )));
    }
    Ok(())
}

fn check_endpoint(source: &str, url: &str) -> Result<(), Error> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(Error::Usage(format!(
            "invalid {source} {url:?}: use a URL such as http://localhost:9000 or https://s3.example.com"
        ))),
    }
}

fn parse_style(v: &str) -> Result<AddressingStyle, Error> {
    match v.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(AddressingStyle::Auto),
        "path" => Ok(AddressingStyle::Path),
        "virtual" => Ok(AddressingStyle::Virtual),
        _ => Err(Error::Usage(format!(
            "S3BLOB_ADDRESSING_STYLE={v:?} is not one of auto, path, virtual"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global() -> GlobalArgs {
        GlobalArgs::default()
    }

    fn tuning() -> TuningArgs {
        TuningArgs::default()
    }

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults() {
        let s = resolve(&global(), &tuning(), env_of(&[("S3BLOB_BUCKET", "b")])).unwrap();
        assert_eq!(s.bucket, "b");
        assert_eq!(s.client.endpoint_url, None);
        assert!(!s.client.path_style);
        assert_eq!(s.client.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(s.transfer.part_size, DEFAULT_PART_SIZE);
        assert_eq!(s.transfer.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(s.client.timeout, Duration::from_secs(76));
    }

    #[test]
    fn flags_beat_env() {
        let mut g = global();
        g.bucket = Some("flag".into());
        g.endpoint_url = Some("http://flag:1".into());
        g.max_attempts = Some(2);
        let t = TuningArgs {
            part_size: Some(16 * MIB),
            concurrency: Some(3),
        };
        let env = env_of(&[
            ("S3BLOB_BUCKET", "env"),
            ("AWS_ENDPOINT_URL", "http://env:2"),
            ("AWS_MAX_ATTEMPTS", "9"),
            ("S3BLOB_PART_SIZE", "32MiB"),
            ("S3BLOB_CONCURRENCY", "7"),
        ]);
        let s = resolve(&g, &t, env).unwrap();
        assert_eq!(s.bucket, "flag");
        assert_eq!(s.client.endpoint_url.as_deref(), Some("http://flag:1"));
        assert_eq!(s.client.max_attempts, 2);
        assert_eq!(s.transfer.part_size, 16 * MIB);
        assert_eq!(s.transfer.concurrency, 3);
    }

    #[test]
    fn env_fills_in() {
        let env = env_of(&[
            ("S3BLOB_BUCKET", "env"),
            ("AWS_ENDPOINT_URL", "http://generic:2"),
            ("AWS_ENDPOINT_URL_S3", "http://s3only:3"),
            ("AWS_MAX_ATTEMPTS", "9"),
            ("S3BLOB_PART_SIZE", "32MiB"),
            ("S3BLOB_CONCURRENCY", "7"),
        ]);
        let s = resolve(&global(), &tuning(), env).unwrap();
        assert_eq!(s.client.endpoint_url.as_deref(), Some("http://s3only:3"));
        assert!(
            s.client.path_style,
            "custom endpoint defaults to path-style"
        );
        assert_eq!(s.client.max_attempts, 9);
        assert_eq!(s.transfer.part_size, 32 * MIB);
        assert_eq!(s.transfer.concurrency, 7);
    }

    #[test]
    fn addressing_style() {
        let mut g = global();
        g.bucket = Some("b".into());
        g.endpoint_url = Some("http://h:1".into());
        g.addressing_style = Some(AddressingStyle::Virtual);
        assert!(
            !resolve(&g, &tuning(), env_of(&[]))
                .unwrap()
                .client
                .path_style
        );
        g.endpoint_url = None;
        g.addressing_style = None;
        let env = env_of(&[("S3BLOB_ADDRESSING_STYLE", "path")]);
        assert!(resolve(&g, &tuning(), env).unwrap().client.path_style);
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let env = env_of(&[("S3BLOB_BUCKET", "b"), ("AWS_ENDPOINT_URL", "")]);
        let s = resolve(&global(), &tuning(), env).unwrap();
        assert_eq!(s.client.endpoint_url, None);
    }

    #[test]
    fn bad_values_name_their_source() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "--bucket"),
            (&[("S3BLOB_BUCKET", "s3://b")], "--bucket"),
            (
                &[
                    ("S3BLOB_BUCKET", "b"),
                    ("AWS_ENDPOINT_URL", "localhost:9000"),
                ],
                "AWS_ENDPOINT_URL",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("AWS_MAX_ATTEMPTS", "many")],
                "AWS_MAX_ATTEMPTS",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("AWS_MAX_ATTEMPTS", "0")],
                "--max-attempts",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("S3BLOB_PART_SIZE", "1MiB")],
                "--part-size",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("S3BLOB_PART_SIZE", "huge")],
                "S3BLOB_PART_SIZE",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("S3BLOB_CONCURRENCY", "0")],
                "--concurrency",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("S3BLOB_ADDRESSING_STYLE", "x")],
                "S3BLOB_ADDRESSING_STYLE",
            ),
        ];
        for (vars, names) in cases {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let env = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let err = resolve(&global(), &tuning(), env).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(names), "{err} should name {names}");
        }
    }
}
