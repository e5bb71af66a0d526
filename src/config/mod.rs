//! Settings resolved from flags, then the environment (which includes `.env`), then defaults.
//!
//! `resolve` is pure: it takes the parsed flags and an [`Environment`], so tests hand in a
//! table instead of touching the process environment. Every setting goes through one
//! [`layered`] lookup, so a flag and its variable are parsed (and refused) alike.

use std::time::Duration;

use crate::cli::{AddressingStyle, GlobalArgs};
use crate::environment::Environment;
use crate::error::Error;
use crate::plan::MIB;
use crate::values;
use crate::values::{Trust, check_bucket, check_endpoint, parse_header_mode, parse_trust};

mod origins;

pub use origins::{SettingOrigin, origins};

pub const DEFAULT_PART_SIZE: u64 = 16 * MIB;
pub const DEFAULT_CONCURRENCY: usize = 16;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// A stall or a silent server is given this long per attempt: 5 attempts and their backoff fail
/// a stalled server within a minute, while real S3 answers in tens of milliseconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// Requests in flight at most, whatever their size (s5cmd runs 256 workers by default).
pub const DEFAULT_MAX_REQUESTS: usize = 256;
/// A progress line in a log every this often.
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(10);
pub use crate::values::MAX_CONCURRENCY;

pub use crate::s3::ClientSettings;
pub use crate::transfer::TransferSettings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub bucket: String,
    pub client: ClientSettings,
    pub transfer: TransferSettings,
    /// Without a terminal, a progress line this often.
    pub progress_interval: Duration,
}

pub use crate::cli::Tuning;

/// A setting from its flag when given (clap has parsed and checked it), else from `var`
/// parsed by `parse`, whose refusal names the variable and where it was set.
fn layered<T>(
    flag: Option<T>,
    env: &Environment,
    var: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, Error> {
    if flag.is_some() {
        return Ok(flag);
    }
    env.get(var)
        .map(|v| parse(v).map_err(|why| Error::Usage(format!("{}: {why}", env.describe(var)))))
        .transpose()
}

/// Resolves settings: flags first, then variables from `env`, then defaults.
pub fn resolve(global: &GlobalArgs, tuning: Tuning, env: &Environment) -> Result<Settings, Error> {
    env.check_sdk_variables()?;
    if let Some(bucket) = &global.bucket {
        check_bucket(bucket)
            .map_err(|why| Error::Usage(format!("invalid --bucket {bucket:?}: {why}")))?;
    }
    let bucket =
        layered(global.bucket.clone(), env, "S3BLOB_BUCKET", check_bucket)?.ok_or_else(|| {
            Error::Usage("no bucket given: pass --bucket BUCKET or set S3BLOB_BUCKET".into())
        })?;

    let endpoint_url = match &global.endpoint_url {
        Some(url) => Some(
            check_endpoint(url)
                .map_err(|why| Error::Usage(format!("invalid --endpoint-url {url:?}: {why}")))?,
        ),
        None => match layered(None, env, "AWS_ENDPOINT_URL_S3", check_endpoint)? {
            Some(url) => Some(url),
            None => layered(None, env, "AWS_ENDPOINT_URL", check_endpoint)?,
        },
    };

    let style = layered(
        global.addressing_style,
        env,
        "S3BLOB_ADDRESSING_STYLE",
        parse_style,
    )?
    .unwrap_or(AddressingStyle::Auto);
    let path_style = match style {
        AddressingStyle::Path => true,
        AddressingStyle::Virtual => false,
        AddressingStyle::Auto => endpoint_url.is_some(),
    };

    let max_attempts = layered(
        global.max_attempts,
        env,
        "AWS_MAX_ATTEMPTS",
        values::parse_attempts,
    )?
    .unwrap_or(DEFAULT_MAX_ATTEMPTS);
    let part_size = layered(
        tuning.part_size,
        env,
        "S3BLOB_PART_SIZE",
        values::parse_part_size,
    )?
    .unwrap_or(DEFAULT_PART_SIZE);
    let concurrency = layered(
        tuning.concurrency,
        env,
        "S3BLOB_CONCURRENCY",
        values::parse_concurrency,
    )?
    .unwrap_or(DEFAULT_CONCURRENCY);
    let max_requests = layered(
        global.max_requests,
        env,
        "S3BLOB_MAX_REQUESTS",
        values::parse_max_requests,
    )?
    .unwrap_or(DEFAULT_MAX_REQUESTS);
    let checksum_header = layered(
        global.checksum_header,
        env,
        "S3BLOB_CHECKSUM_HEADER",
        parse_header_mode,
    )?
    .unwrap_or_default();
    let trust_conditional_writes = layered(
        global.conditional_writes,
        env,
        "S3BLOB_CONDITIONAL_WRITES",
        parse_trust,
    )?
    .unwrap_or(Trust::Auto)
    .resolve(endpoint_url.is_none());
    // Only a command that can resume (upload, download) reads the variable.
    let resumable = match tuning.resumable {
        None => false,
        Some(true) => true,
        Some(false) => {
            layered(None, env, "S3BLOB_RESUMABLE", values::parse_switch)?.unwrap_or(false)
        }
    };
    let timeout = layered(global.timeout, env, "S3BLOB_TIMEOUT", values::parse_seconds)?
        .unwrap_or(DEFAULT_TIMEOUT_SECS);
    let ca_bundle = match (&global.ca_bundle, env.get("AWS_CA_BUNDLE")) {
        (Some(path), _) => Some(crate::s3::CaBundle {
            path: path.clone(),
            origin: "--ca-bundle".to_owned(),
        }),
        (None, Some(path)) => Some(crate::s3::CaBundle {
            path: path.trim().into(),
            origin: env.describe("AWS_CA_BUNDLE"),
        }),
        (None, None) => None,
    };

    let progress_interval = layered(
        global.progress_interval,
        env,
        "S3BLOB_PROGRESS_INTERVAL",
        values::parse_duration,
    )?
    .unwrap_or(DEFAULT_PROGRESS_INTERVAL);
    let rate = layered(
        global.limit_rate,
        env,
        "S3BLOB_LIMIT_RATE",
        values::parse_rate,
    )?;
    let limits = crate::s3::limit::RateLimits {
        upload: global.limit_upload.or(rate).filter(|r| *r > 0),
        download: global.limit_download.or(rate).filter(|r| *r > 0),
    };
    let proxies = crate::s3::proxy::Proxies::from_lookup(|name| env.get(name))
        .map_err(|(var, why)| Error::Usage(format!("{}: {why}", env.describe(var))))?;
    let local_hosts = [
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    ]
    .iter()
    .filter_map(|v| env.get(v).and_then(crate::s3::proxy::host_of))
    .collect();

    Ok(Settings {
        progress_interval,
        bucket,
        client: ClientSettings {
            region: global.region.clone(),
            profile: global.profile.clone(),
            endpoint_url,
            path_style,
            max_attempts,
            timeout: Duration::from_secs(timeout),
            credentials: crate::credentials::Setup::new(global.profile.as_deref(), env),
            ca_bundle,
            proxies,
            local_hosts,
            limits,
        },
        transfer: TransferSettings {
            part_size,
            concurrency,
            max_requests,
            max_attempts,
            checksum_header,
            trust_conditional_writes,
            resumable,
        },
    })
}

fn parse_style(v: &str) -> Result<AddressingStyle, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(AddressingStyle::Auto),
        "path" => Ok(AddressingStyle::Path),
        "virtual" => Ok(AddressingStyle::Virtual),
        _ => Err("not one of auto, path, virtual".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global() -> GlobalArgs {
        GlobalArgs::default()
    }

    fn env_of(vars: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(vars.iter().copied())
    }

    #[test]
    fn defaults() {
        let s = resolve(
            &global(),
            Tuning::default(),
            &env_of(&[("S3BLOB_BUCKET", "b")]),
        )
        .unwrap();
        assert_eq!(s.bucket, "b");
        assert_eq!(s.client.endpoint_url, None);
        assert!(!s.client.path_style);
        // The numbers the README's settings table and `--help` document, not the constants.
        assert_eq!(s.client.max_attempts, 5);
        assert_eq!(s.transfer.part_size, 16 * 1024 * 1024);
        assert_eq!(s.transfer.concurrency, 16);
        assert_eq!(s.transfer.max_requests, 256);
        assert_eq!(s.client.timeout, Duration::from_secs(10));
        assert_eq!(s.progress_interval, Duration::from_secs(10));
        assert_eq!(s.client.limits.upload, None);
        assert_eq!(s.client.limits.download, None);
    }

    #[test]
    fn flags_beat_env() {
        let mut g = global();
        g.bucket = Some("flag".into());
        g.endpoint_url = Some("http://flag:1".into());
        g.max_attempts = Some(2);
        g.timeout = Some(9);
        g.max_requests = Some(40);
        let t = Tuning {
            part_size: Some(16 * MIB),
            concurrency: Some(3),
            resumable: None,
        };
        // Even garbage in a variable is ignored when the flag decides.
        let env = env_of(&[
            ("S3BLOB_BUCKET", "env"),
            ("AWS_ENDPOINT_URL", "not a url"),
            ("AWS_MAX_ATTEMPTS", "many"),
            ("S3BLOB_PART_SIZE", "32MiB"),
            ("S3BLOB_CONCURRENCY", "7"),
            ("S3BLOB_TIMEOUT", "x"),
        ]);
        let s = resolve(&g, t, &env).unwrap();
        assert_eq!(s.bucket, "flag");
        assert_eq!(s.client.endpoint_url.as_deref(), Some("http://flag:1"));
        assert_eq!(s.client.max_attempts, 2);
        assert_eq!(s.client.timeout, Duration::from_secs(9));
        assert_eq!(s.transfer.part_size, 16 * MIB);
        assert_eq!(s.transfer.concurrency, 3);
        assert_eq!(s.transfer.max_requests, 40);
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
            ("S3BLOB_TIMEOUT", "30"),
            ("S3BLOB_MAX_REQUESTS", "64"),
        ]);
        let s = resolve(&global(), Tuning::default(), &env).unwrap();
        assert_eq!(s.transfer.max_requests, 64);
        assert_eq!(s.client.endpoint_url.as_deref(), Some("http://s3only:3"));
        assert!(
            s.client.path_style,
            "custom endpoint defaults to path-style"
        );
        assert_eq!(s.client.max_attempts, 9);
        assert_eq!(s.client.timeout, Duration::from_secs(30));
        assert_eq!(s.transfer.part_size, 32 * MIB);
        assert_eq!(s.transfer.concurrency, 7);
    }

    #[test]
    fn addressing_style() {
        let mut g = global();
        g.bucket = Some("b".into());
        g.endpoint_url = Some("http://h:1".into());
        g.addressing_style = Some(AddressingStyle::Virtual);
        let t = Tuning::default();
        assert!(!resolve(&g, t, &env_of(&[])).unwrap().client.path_style);
        g.endpoint_url = None;
        g.addressing_style = None;
        let env = env_of(&[("S3BLOB_ADDRESSING_STYLE", "path")]);
        assert!(resolve(&g, t, &env).unwrap().client.path_style);
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let env = env_of(&[
            ("S3BLOB_BUCKET", "b"),
            ("AWS_ENDPOINT_URL", ""),
            ("AWS_MAX_ATTEMPTS", " "),
            ("S3BLOB_TIMEOUT", ""),
        ]);
        let s = resolve(&global(), Tuning::default(), &env).unwrap();
        assert_eq!(s.client.endpoint_url, None);
        assert_eq!(s.client.max_attempts, DEFAULT_MAX_ATTEMPTS);
    }

    #[test]
    fn bad_values_name_their_source() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "--bucket"),
            (&[("S3BLOB_BUCKET", "s3://b")], "S3BLOB_BUCKET=\"s3://b\""),
            (
                &[
                    ("S3BLOB_BUCKET", "b"),
                    ("AWS_ENDPOINT_URL", "localhost:9000"),
                ],
                "AWS_ENDPOINT_URL=\"localhost:9000\" (set in the environment)",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("AWS_MAX_ATTEMPTS", "many")],
                "AWS_MAX_ATTEMPTS",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("AWS_MAX_ATTEMPTS", "0")],
                "AWS_MAX_ATTEMPTS",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("S3BLOB_PART_SIZE", "1MiB")],
                "S3BLOB_PART_SIZE=\"1MiB\"",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("S3BLOB_PART_SIZE", "huge")],
                "S3BLOB_PART_SIZE",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("S3BLOB_CONCURRENCY", "0")],
                "S3BLOB_CONCURRENCY",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("S3BLOB_TIMEOUT", "soon")],
                "S3BLOB_TIMEOUT",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("S3BLOB_ADDRESSING_STYLE", "x")],
                "S3BLOB_ADDRESSING_STYLE",
            ),
            (
                &[("S3BLOB_BUCKET", "b"), ("AWS_REGION", "eu west")],
                "AWS_REGION",
            ),
        ];
        for (vars, names) in cases {
            let err = resolve(&global(), Tuning::default(), &env_of(vars)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err}");
            assert!(err.to_string().contains(names), "{err} should name {names}");
        }
    }
}
