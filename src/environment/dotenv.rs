//! The `.env` policy: which file is read (none under CI unless one is named), whether it may
//! be trusted (a regular file the user or root owns, writable by no one else), and which of
//! its variables may take effect ([`DOTENV_ALLOWED`]; everything that chooses where requests
//! go, whom s3blob trusts or what it runs is refused, with the reason).

use std::path::{Path, PathBuf};

use super::{DotEnvUse, blank};
use crate::error::Error;

/// The variables a `.env` file may set: settings that choose nothing about where requests go,
/// whom s3blob trusts or what it runs, plus static keys (a developer's local store). Keys
/// cannot be sent anywhere the user did not choose, since the endpoint never comes from `.env`.
pub const DOTENV_ALLOWED: &[&str] = &[
    "S3BLOB_BUCKET",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "S3BLOB_ADDRESSING_STYLE",
    "S3BLOB_PART_SIZE",
    "S3BLOB_CONCURRENCY",
    "S3BLOB_MAX_REQUESTS",
    "S3BLOB_TIMEOUT",
    "S3BLOB_LIMIT_RATE",
    "S3BLOB_PROGRESS_INTERVAL",
    "S3BLOB_CI_OUTPUT",
    "S3BLOB_RESUMABLE",
    "AWS_MAX_ATTEMPTS",
    "RUST_LOG",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Static keys: taken from `.env` only as a whole, and only when nothing else chose the
/// credentials.
pub(super) const KEYS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Variables of the real environment (besides [`KEYS`]) that choose a credential source.
pub(super) const CREDENTIAL_SOURCES: [&str; 4] = [
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
];

/// Why `.env` may not set `name`, and the flag that sets it instead, for a variable s3blob, the
/// AWS SDK or the TLS layer reads; `None` for one none of them reads (a project's own
/// `DATABASE_URL`): such variables are not set either, but not worth a line.
pub(super) fn refusal(name: &str) -> Option<(&'static str, Option<&'static str>)> {
    let why = match name {
        "AWS_ENDPOINT_URL" | "AWS_ENDPOINT_URL_S3" => {
            return Some(("it chooses where requests go", Some("--endpoint-url")));
        }
        "AWS_CA_BUNDLE" => {
            return Some((
                "it chooses which certificate authorities are trusted",
                Some("--ca-bundle"),
            ));
        }
        "AWS_PROFILE" => return Some(("it chooses the credentials", Some("--profile"))),
        "S3BLOB_CONDITIONAL_WRITES" => {
            return Some(("it weakens a check", Some("--conditional-writes")));
        }
        "S3BLOB_CHECKSUM_HEADER" => {
            return Some(("it weakens a check", Some("--checksum-header")));
        }
        "S3BLOB_ENV_FILE" => return Some(("it names a file", Some("--env-file"))),
        "S3BLOB_SIGN_KEY" | "S3BLOB_SIGN_KEY_PASSWORD" => {
            return Some(("it is a signing secret", Some("--sign-key")));
        }
        "S3BLOB_TRUSTED_KEYS" => {
            return Some((
                "it chooses whose signatures are trusted",
                Some("--trusted-key"),
            ));
        }
        "SSL_CERT_FILE" | "SSL_CERT_DIR" => "it chooses which certificate authorities are trusted",
        n if super::PROXY_VARIABLES.contains(&n) => "it chooses where requests go",
        "HOME" | "USERPROFILE" => "it chooses which AWS config files are read",
        n if n.starts_with("AWS_ENDPOINT_URL_")
            || n.starts_with("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            || n.starts_with("AWS_CONTAINER_CREDENTIALS_")
            || n == "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" =>
        {
            "it chooses where requests go"
        }
        "AWS_CONFIG_FILE" | "AWS_SHARED_CREDENTIALS_FILE" | "AWS_WEB_IDENTITY_TOKEN_FILE" => {
            "it names a file s3blob would read"
        }
        n if n.starts_with("AWS_ROLE_")
            || n.starts_with("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            || n.starts_with("AWS_EC2_METADATA")
            || n.starts_with("AWS_SSO") =>
        {
            "it chooses the credentials"
        }
        n if n.starts_with("AWS_REQUEST_CHECKSUM") || n.starts_with("AWS_RESPONSE_CHECKSUM") => {
            "it weakens a check"
        }
        n if n.starts_with("S3BLOB_TEST_") => "it is a test hook",
        n if n.starts_with("AWS_") || n.starts_with("S3BLOB_") => {
            "a .env file may set only plain settings"
        }
        _ => return None,
    };
    Some((why, None))
}

/// `CI` as CI systems set it: any value but empty, `false` or `0`.
pub fn is_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim();
        !(v.is_empty() || v.eq_ignore_ascii_case("false") || v == "0")
    })
}

/// Which file to read, decided from `--env-file`, `S3BLOB_ENV_FILE` and `CI` (real
/// environment only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `./.env`, if it exists.
    Default,
    /// A file the user named: it must exist.
    Named(PathBuf, &'static str),
    /// Under CI with nothing named: no file at all.
    NoneUnderCi,
}

pub fn choose(flag: Option<&Path>, variable: Option<&str>, ci: Option<&str>) -> Choice {
    if let Some(path) = flag {
        return Choice::Named(path.to_owned(), "--env-file");
    }
    if let Some(v) = variable.filter(|v| !blank(v)) {
        return Choice::Named(PathBuf::from(v.trim()), "S3BLOB_ENV_FILE");
    }
    if is_ci(ci) {
        Choice::NoneUnderCi
    } else {
        Choice::Default
    }
}

/// A `.env` file's pairs, in file order, and how messages name the file.
#[derive(Debug, Clone, Default)]
pub struct DotEnv {
    pub name: String,
    pub pairs: Vec<(String, String)>,
    pub used: DotEnvUse,
}

/// Reads the file `choice` names: `./.env` if present (none is fine), or the named file (which
/// must exist). The file is opened once and checked through that handle: a regular file, and
/// (on Unix) owned by the current user or root and writable by no one else, as ssh and direnv
/// demand of what decides their behaviour.
pub fn read(choice: &Choice) -> Result<DotEnv, Error> {
    let (path, named_by) = match choice {
        Choice::NoneUnderCi => {
            let used = if Path::new(".env").exists() {
                DotEnvUse::SkippedUnderCi
            } else {
                DotEnvUse::None
            };
            return Ok(DotEnv {
                used,
                ..DotEnv::default()
            });
        }
        Choice::Default => (PathBuf::from(".env"), None),
        Choice::Named(path, by) => (path.clone(), Some(*by)),
    };
    let shown = path.display().to_string();
    let file = match open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && named_by.is_none() => {
            return Ok(DotEnv::default());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound(match named_by {
                Some("S3BLOB_ENV_FILE") => format!(
                    "S3BLOB_ENV_FILE={shown:?} (set in the environment) names no file; fix the path or unset it"
                ),
                _ => format!(
                    "--env-file {shown}: no such file; fix the path, or leave it out to read ./.env"
                ),
            }));
        }
        Err(e) => {
            return Err(Error::local_io("read", &path, &e)
                .reworded(|m| format!("{m}; fix its permissions or remove it")));
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::local_io("read", &path, &e))?;
    if !meta.is_file() {
        return Err(Error::Usage(format!(
            "refusing to read {shown}: not a regular file; remove it or name a file with --env-file"
        )));
    }
    check_owner(&shown, &meta)?;
    let bad = |e: &dyn std::fmt::Display| {
        Error::Usage(format!(
            "cannot read {shown}: {e}; fix the line or remove the file"
        ))
    };
    let pairs = dotenvy::from_read_iter(file)
        .map(|item| item.map_err(|e| bad(&e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DotEnv {
        name: shown,
        pairs,
        used: DotEnvUse::Read { path, named_by },
    })
}

/// Opens without blocking on a FIFO (one named `.env` would otherwise hang the command).
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    crate::platform::open_nonblocking(path)
}

/// Refuses a file someone else owns or others can write (where the system has owners and
/// modes: not on Windows).
fn check_owner(shown: &str, meta: &std::fs::Metadata) -> Result<(), Error> {
    let (Some((uid, mode)), Some(me)) =
        (crate::platform::file_owner(meta), crate::platform::my_uid())
    else {
        return Ok(());
    };
    if uid != me && uid != 0 {
        return Err(Error::Usage(format!(
            "refusing to read {shown}: it is owned by uid {uid}, not by you (uid {me}); check where it came from, then chown it or remove it"
        )));
    }
    if mode & 0o022 != 0 {
        return Err(Error::Usage(format!(
            "refusing to read {shown}: it is writable by group or others (mode {:o}); run chmod go-w {shown}",
            mode & 0o7777
        )));
    }
    Ok(())
}
