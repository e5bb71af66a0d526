//! Logs on stderr, with credentials kept out of them at every verbosity.
//!
//! `-q` keeps errors only, the default shows s3blob's own start and end lines, `-v` adds
//! s3blob's debug detail, `-vv` the AWS SDK's too; RUST_LOG overrides all. Below `-vv` nothing
//! from the SDK is shown: its warnings carry debug dumps of its errors, and s3blob reports
//! every failure itself, in one line. Credentials are kept
//! out three ways: the AWS SDK's trace level (request signatures) is never shown; the SDK's own
//! `access_key_id: "..."` fields (it already redacts secrets) and `Credential=...` scopes are
//! masked; and any credential value found in the environment is masked wherever it appears.

use std::io::{self, IsTerminal, Write};
use std::sync::{PoisonError, RwLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::environment::Environment;
use crate::error::Error;

const MASK: &str = "** redacted **";

/// Installs the stderr logger. A `RUST_LOG` that is not a valid filter is a usage error.
/// `annotate`: s3blob's warnings are also written as GitHub Actions `::warning` annotations,
/// whatever the verbosity (`-q` included).
pub fn init(verbose: u8, quiet: bool, annotate: bool, env: &Environment) -> Result<(), Error> {
    let default = match (quiet, verbose) {
        (true, _) => "s3blob=error",
        (false, 0) => "s3blob=info",
        (false, 1) => "s3blob=debug",
        (false, _) => "debug",
    };
    let filter = match env.get("RUST_LOG") {
        Some(spec) => EnvFilter::builder().parse(spec).map_err(|e| {
            Error::Usage(format!(
                "{} is not a log filter ({e}); use e.g. RUST_LOG=s3blob=debug, or -v",
                env.describe("RUST_LOG")
            ))
        })?,
        None => EnvFilter::new(default),
    };
    let guard = filter_fn(|meta| {
        !(meta.target().starts_with("aws") && *meta.level() == tracing::Level::TRACE)
    });
    let secrets: Vec<String> = [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ACCESS_KEY_ID",
    ]
    .iter()
    .filter_map(|v| std::env::var(v).ok())
    .filter(|v| v.len() >= 4)
    .collect();
    let ansi = io::stderr().is_terminal();
    let annotations = annotate.then(|| Annotations {
        writer: Redacting {
            secrets: secrets.clone(),
            ansi: false,
        },
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(Redacting { secrets, ansi })
        .with_ansi(ansi)
        .with_target(verbose > 0)
        .without_time()
        .with_filter(filter.and(guard));
    tracing_subscriber::registry()
        .with(layer)
        .with(annotations)
        .init();
    Ok(())
}

/// s3blob's warnings as GitHub Actions annotations (`::warning title=s3blob::…`), on stderr
/// where the runner reads them too, masked like every other line.
struct Annotations {
    writer: Redacting,
}

impl<S: tracing::Subscriber> Layer<S> for Annotations {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        if *meta.level() != tracing::Level::WARN || !meta.target().starts_with("s3blob") {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let line = crate::escape::workflow_command("warning", "s3blob", &message.0);
        let _ = self
            .writer
            .make_writer()
            .write_all(format!("{line}\n").as_bytes());
    }
}

/// An event's message field.
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_owned();
        }
    }
}

/// Where the SDK's Debug output puts credential values: after `open`, up to `close`.
const FIELDS: [(&str, char); 3] = [
    ("access_key_id: \"", '"'),
    ("session_token: \"", '"'),
    ("Credential=", '/'),
];

/// Masks every value that follows `open` up to the next `close`.
fn mask_between(text: &str, open: &str, close: char) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(open) {
        let start = i + open.len();
        out.push_str(&rest[..start]);
        match rest[start..].find(close) {
            Some(len) => {
                out.push_str(MASK);
                rest = &rest[start + len..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Stderr, with every occurrence of a known credential masked and every control character
/// escaped (log lines carry keys and messages from the server: a newline in a key must not
/// forge a second line). The fmt layer writes each event in one call, so a value is never split
/// across writes.
struct Redacting {
    secrets: Vec<String>,
    /// The formatter colours its output: its escape sequences are kept (it has already escaped
    /// those in the messages themselves).
    ansi: bool,
}

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = RedactingWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            secrets: &self.secrets,
            ansi: self.ansi,
        }
    }
}

struct RedactingWriter<'a> {
    secrets: &'a [String],
    ansi: bool,
}

/// Credentials learned after start-up (temporary ones fetched from instance metadata, STS or
/// SSO), masked like those found in the environment.
static LEARNED: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Masks `secret` in every later log line.
pub fn remember_secret(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut learned = LEARNED.write().unwrap_or_else(PoisonError::into_inner);
    if !learned.iter().any(|s| s == secret) {
        learned.push(secret.to_owned());
    }
}

impl Write for RedactingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = String::from_utf8_lossy(buf).into_owned();
        for (open, close) in FIELDS {
            out = mask_between(&out, open, close);
        }
        let learned = LEARNED.read().unwrap_or_else(PoisonError::into_inner);
        for s in self.secrets.iter().chain(learned.iter()) {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        let out = one_log_line(&out, self.ansi);
        io::stderr().write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// One event as one line: everything but the final newline (and, when colouring, the
/// formatter's escape sequences) shown visibly.
fn one_log_line(event: &str, ansi: bool) -> String {
    let (body, end) = match event.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (event, ""),
    };
    if !ansi {
        return format!("{}{end}", crate::escape::escape(body));
    }
    let parts: Vec<_> = body.split('\u{1b}').map(crate::escape::escape).collect();
    format!("{}{end}", parts.join("\u{1b}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_stays_one_line() {
        assert_eq!(
            one_log_line(" WARN skipping a\nb\u{202e}c\n", false),
            " WARN skipping a\\nb\\u{202e}c\n"
        );
        assert_eq!(one_log_line("x\u{1b}[2m y", false), "x\\u{1b}[2m y");
        assert_eq!(
            one_log_line("\u{1b}[33m WARN\u{1b}[0m a\rb\n", true),
            "\u{1b}[33m WARN\u{1b}[0m a\\rb\n"
        );
    }

    #[test]
    fn masks_credential_fields() {
        let cases = [
            (
                r#"Credentials { access_key_id: "AKIA123", secret_access_key: "** redacted **" }"#,
                r#"Credentials { access_key_id: "** redacted **", secret_access_key: "** redacted **" }"#,
            ),
            (
                "Credential=AKIA123/20260101/us-east-1/s3/aws4_request",
                "Credential=** redacted **/20260101/us-east-1/s3/aws4_request",
            ),
            ("nothing here", "nothing here"),
            (
                r#"access_key_id: "unterminated"#,
                r#"access_key_id: "unterminated"#,
            ),
        ];
        for (input, want) in cases {
            let mut out = input.to_owned();
            for (open, close) in FIELDS {
                out = mask_between(&out, open, close);
            }
            assert_eq!(out, want);
        }
    }
}
