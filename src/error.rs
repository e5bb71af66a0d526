//! Every way s3blob can fail, each with its own documented exit code.
//!
//! Messages are one line: what failed, on what (bucket, key or path), and what to do about it.
//! They never carry a credential.

use std::path::Path;
use std::process::ExitCode;

use crate::key::KeyError;
use crate::plan::PlanError;

/// Exit codes, documented in the README's table.
pub mod code {
    pub const OK: u8 = 0;
    pub const OTHER: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_FOUND: u8 = 3;
    pub const ACCESS: u8 = 4;
    pub const INTEGRITY: u8 = 5;
    pub const EXISTS: u8 = 6;
    pub const NETWORK: u8 = 7;
    /// `doctor` only: the store works, with reduced guarantees (the report says which).
    pub const REDUCED: u8 = 8;
    /// The proxy from the environment refused the request or could not be reached.
    pub const PROXY: u8 = 9;
    pub const SIGINT: u8 = 130;
    pub const SIGTERM: u8 = 143;
}

/// Clone: one failure may be reported by several files of a command (a release's manifest
/// that could not be read, for one).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A flag, argument or local path the user gave cannot be used as it is.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{0}")]
    Plan(#[from] PlanError),
    /// A bucket, object, local file or directory does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Credentials are missing, wrong, or not allowed to do this; or a local permission error.
    #[error("{0}")]
    AccessDenied(String),
    /// The credential chain gave no credentials. It fails the same way for every request of
    /// the command, so the message names what the user asked for (`action`), not whichever
    /// request happened to meet it first.
    #[error("cannot {action}: {why}")]
    Credentials { action: String, why: String },
    /// The bytes are not the bytes that were stored.
    #[error("{0}")]
    Integrity(String),
    /// The destination exists and s3blob was told not to replace it.
    #[error("{0}")]
    AlreadyExists(String),
    /// The endpoint could not be reached, timed out, or kept failing or throttling after retries.
    #[error("{0}")]
    Network(String),
    /// The proxy (`HTTPS_PROXY` and the like) refused the request or could not be reached:
    /// the endpoint was never tried.
    #[error("{0}")]
    Proxy(String),
    /// A signal stopped the transfer; everything it had started was cleaned up, but for the
    /// uploads kept for resuming (`--resumable`), each named in a line of its own.
    #[error("interrupted by {signal}; {}", left_behind())]
    Interrupted { signal: Signal },
    #[error("{0}")]
    Other(String),
}

/// Whether this process kept an unfinished upload or download for resuming (`--resumable`):
/// then an interruption did leave something behind, on purpose.
static KEPT_UPLOAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static KEPT_DOWNLOAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records that an interrupted upload was kept for resuming.
pub fn note_kept_upload() {
    KEPT_UPLOAD.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Records that an interrupted download's partial file was kept for resuming.
pub fn note_kept_download() {
    KEPT_DOWNLOAD.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn left_behind() -> &'static str {
    use std::sync::atomic::Ordering::Relaxed;
    match (KEPT_UPLOAD.load(Relaxed), KEPT_DOWNLOAD.load(Relaxed)) {
        (true, _) => "the upload kept for resuming is named above; nothing else was left behind",
        (false, true) => {
            "the partial download kept for resuming is named above; nothing else was left behind"
        }
        (false, false) => "nothing was left behind",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        })
    }
}

/// How serious an exit code is, for a command with several failures to exit with the most
/// serious kind among them: a signal first, then corrupted data, refused access, the network, other failures, missing things, existing
/// ones, usage.
pub fn severity(code: u8) -> u8 {
    match code {
        code::SIGINT | code::SIGTERM => 9,
        code::INTEGRITY => 8,
        code::ACCESS => 7,
        code::NETWORK | code::PROXY => 6,
        code::OTHER => 5,
        code::NOT_FOUND => 4,
        code::EXISTS => 3,
        code::USAGE => 2,
        _ => 1,
    }
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Key(_) | Error::Plan(_) => code::USAGE,
            Error::NotFound(_) => code::NOT_FOUND,
            Error::AccessDenied(_) | Error::Credentials { .. } => code::ACCESS,
            Error::Integrity(_) => code::INTEGRITY,
            Error::AlreadyExists(_) => code::EXISTS,
            Error::Network(_) => code::NETWORK,
            Error::Proxy(_) => code::PROXY,
            Error::Interrupted {
                signal: Signal::Interrupt,
            } => code::SIGINT,
            Error::Interrupted {
                signal: Signal::Terminate,
            } => code::SIGTERM,
            Error::Other(_) => code::OTHER,
        }
    }

    /// The same kind of error with its message rewritten by `f` (to name what the user asked
    /// for when the failure was on something else it needed).
    pub fn reworded(self, f: impl FnOnce(&str) -> String) -> Self {
        match self {
            Error::Usage(m) => Error::Usage(f(&m)),
            Error::NotFound(m) => Error::NotFound(f(&m)),
            Error::AccessDenied(m) => Error::AccessDenied(f(&m)),
            e @ Error::Credentials { .. } => Error::AccessDenied(f(&e.to_string())),
            Error::Integrity(m) => Error::Integrity(f(&m)),
            Error::AlreadyExists(m) => Error::AlreadyExists(f(&m)),
            Error::Network(m) => Error::Network(f(&m)),
            Error::Proxy(m) => Error::Proxy(f(&m)),
            Error::Other(m) => Error::Other(f(&m)),
            other => other,
        }
    }

    /// A local I/O failure on `path` while doing `what` ("read", "create a temporary file in", ...).
    pub fn local_io(what: &str, path: &Path, err: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let p = path.display();
        match err.kind() {
            K::NotFound => Error::NotFound(format!("cannot {what} {p}: it does not exist")),
            K::PermissionDenied | K::ReadOnlyFilesystem => Error::AccessDenied(format!(
                "cannot {what} {p}: permission denied (check its owner and mode)"
            )),
            K::StorageFull | K::QuotaExceeded => Error::Other(format!(
                "cannot {what} {p}: no space left on the device (free space and retry)"
            )),
            _ => Error::Other(format!("cannot {what} {p}: {err}")),
        }
    }
}

impl From<Error> for ExitCode {
    fn from(err: Error) -> Self {
        ExitCode::from(err.exit_code())
    }
}

/// Flattens a message to one line: messages from servers may carry newlines.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code() {
        let errors = [
            Error::Other(String::new()),
            Error::Usage(String::new()),
            Error::NotFound(String::new()),
            Error::AccessDenied(String::new()),
            Error::Credentials {
                action: String::new(),
                why: String::new(),
            },
            Error::Integrity(String::new()),
            Error::AlreadyExists(String::new()),
            Error::Network(String::new()),
            Error::Interrupted {
                signal: Signal::Interrupt,
            },
            Error::Interrupted {
                signal: Signal::Terminate,
            },
        ];
        let codes: Vec<u8> = errors.iter().map(Error::exit_code).collect();
        assert_eq!(codes, [1, 2, 3, 4, 4, 5, 6, 7, 130, 143]);
    }

    #[test]
    fn local_io_kinds() {
        let p = Path::new("/x");
        let e = |k| std::io::Error::from(k);
        use std::io::ErrorKind as K;
        assert_eq!(Error::local_io("read", p, &e(K::NotFound)).exit_code(), 3);
        assert_eq!(
            Error::local_io("read", p, &e(K::PermissionDenied)).exit_code(),
            4
        );
        assert_eq!(Error::local_io("read", p, &e(K::Other)).exit_code(), 1);
        assert_eq!(
            Error::local_io("read", p, &e(K::NotFound)).to_string(),
            "cannot read /x: it does not exist"
        );
    }

    #[test]
    fn one_line_flattens() {
        assert_eq!(one_line("a\n b\r\n\tc "), "a b c");
    }
}
