//! What s3blob prints on stdout: only the result. Each command's report knows how to show
//! itself ([`Report`]): the URI (upload), the local path (download), one line per entry (list),
//! a block of fields (stat), a URL (presign); or with `--json` one JSON object (one per line
//! for `list`). The schema is in the README. Rendering is pure, so it is tested here, one module
//! per command.

pub mod ci;
pub mod delete;
pub mod doctor;
pub mod download;
pub mod list;
pub mod presign;
pub mod promote;
pub mod prune;
pub mod seal;
pub mod stat;
pub mod upload;
pub mod uploads;
pub mod verify;

use serde_json::{Value, json};

use crate::checksum;
use crate::error::{Error, code, severity};
use crate::inspect::ChecksumSource;
use crate::key::ObjectKey;
use crate::values::human_bytes;

/// A command's result, as the user sees it.
pub trait Report: Send {
    /// The plain result on stdout (without the final newline).
    fn text(&self) -> String;
    /// The result as one JSON object.
    fn json(&self) -> Value;
    /// What stdout shows: `None` when the command has written its result already (`list`, or
    /// `download -o -` whose bytes are the result) or when there is no text (never an empty
    /// line). Text carries names from the server, so its control characters are shown escaped
    /// ([`crate::escape`]).
    fn render(&self, json: bool) -> Option<String> {
        if json {
            return Some(self.json().to_string());
        }
        let text = self.text();
        (!text.is_empty()).then(|| crate::escape::escape_lines(&text).into_owned())
    }
    /// A human summary for the log on stderr ("uploaded 1.0 MiB in 0.20 s").
    fn summary(&self) -> String;
    /// Bytes moved, for a batch's summary.
    fn bytes(&self) -> u64 {
        0
    }
    /// Nothing had to move: the store already held these bytes (an upload).
    fn unchanged(&self) -> bool {
        false
    }
    /// 0, or for a batch with failures the most serious failure's code.
    fn exit_code(&self) -> u8 {
        code::OK
    }
    /// The files of a batch that failed.
    fn failures(&self) -> Vec<&Failure> {
        Vec::new()
    }
    /// What stderr says about the failures, after the result ([`failure_lines`]).
    fn failure_lines(&self) -> Vec<String> {
        failure_lines(&self.failures())
    }
    /// What a CI job summary shows ([`ci::JobSummary`]): the release and its files; `None` for
    /// a result that publishes or fetches nothing.
    fn job_summary(&self) -> Option<ci::JobSummary> {
        None
    }
}

/// What a command returns.
pub type Outcome = Box<dyn Report>;

/// Printed as it is, whatever `--json` says (completion scripts, the man page).
pub struct Text(pub String);

impl Report for Text {
    fn text(&self) -> String {
        self.0.trim_end().to_owned()
    }
    fn json(&self) -> Value {
        json!({ "text": self.0 })
    }
    fn render(&self, _json: bool) -> Option<String> {
        Some(self.text())
    }
    fn summary(&self) -> String {
        String::new()
    }
}

pub use crate::transfer::batch::Failure;

/// The error lines for a batch's failures: each distinct error once (with how many files it
/// hit, when more than one: a listing that fails fails every file the same way), then one line
/// naming the failed files (the first [`NAMED`]; `--json` has them all).
pub fn failure_lines(failures: &[&Failure]) -> Vec<String> {
    if failures.is_empty() {
        return Vec::new();
    }
    // (what the files share, the first file's whole message, how many files). Missing
    // credentials fail every file alike, whatever its key: they group by the reason alone.
    let mut distinct: Vec<(String, String, usize)> = Vec::new();
    for f in failures {
        let message = f.error.to_string();
        let shared = match &f.error {
            Error::Credentials { why, .. } => why.clone(),
            _ => message.clone(),
        };
        match distinct.iter_mut().find(|(s, _, _)| *s == shared) {
            Some((_, _, n)) => *n += 1,
            None => distinct.push((shared, message, 1)),
        }
    }
    let mut lines: Vec<String> = distinct
        .into_iter()
        .map(|(shared, first, n)| match n {
            1 => first,
            n => format!("{shared} ({n} files)"),
        })
        .collect();
    let names: Vec<&str> = failures
        .iter()
        .take(NAMED)
        .map(|f| f.file.as_str())
        .collect();
    let more = failures.len().saturating_sub(NAMED);
    let more = if more > 0 {
        format!(" and {more} more (--json names them all)")
    } else {
        String::new()
    };
    lines.push(format!(
        "{} of the files failed: {}{more}",
        failures.len(),
        names.join(", ")
    ));
    lines
}

/// How many failed files the summary line names.
pub const NAMED: usize = 20;

/// The files moved by one command (`upload`, `download`), in the order given; failures are
/// named by file. One file is a batch of one, so `--json` has one shape whatever a glob
/// matched: `{"command", "files": [...], "failed"}`.
pub struct Batch {
    pub command: &'static str,
    /// What the summary says was done to a file ("uploaded").
    pub verb: &'static str,
    pub results: Vec<Result<Outcome, Failure>>,
}

impl Report for Batch {
    fn text(&self) -> String {
        self.results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter_map(|r| r.render(false))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn json(&self) -> Value {
        let files: Vec<Value> = self
            .results
            .iter()
            .map(|r| match r {
                Ok(report) => report.json(),
                Err(f) => json!({
                    "file": f.file,
                    "error": f.error.to_string(),
                    "exit_code": f.error.exit_code(),
                }),
            })
            .collect();
        let failed = self.results.iter().filter(|r| r.is_err()).count();
        json!({ "command": self.command, "files": files, "failed": failed })
    }

    fn summary(&self) -> String {
        if let [one] = self.results.as_slice() {
            return one.as_ref().map(|r| r.summary()).unwrap_or_default();
        }
        let failed = self.failures().len();
        let done: Vec<&Outcome> = self
            .results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .collect();
        let unchanged = done.iter().filter(|r| r.unchanged()).count();
        let size: u64 = done.iter().map(|r| r.bytes()).sum();
        let mut summary = format!(
            "{} {} of {} files, {}",
            self.verb,
            done.len() - unchanged,
            self.results.len(),
            human_bytes(size),
        );
        if unchanged > 0 {
            summary.push_str(&format!("; {unchanged} already stored (identical)"));
        }
        if failed > 0 {
            summary.push_str(&format!("; {failed} failed"));
        }
        summary
    }

    fn exit_code(&self) -> u8 {
        worst_exit_code(self.failures())
    }

    fn failures(&self) -> Vec<&Failure> {
        self.results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .collect()
    }

    fn job_summary(&self) -> Option<ci::JobSummary> {
        let mut parts = self
            .results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter_map(|r| r.job_summary());
        let mut summary = match parts.next() {
            Some(first) => first,
            // Every file failed: the summary names them, with no release to show.
            None if !self.failures().is_empty() => ci::JobSummary {
                bucket: String::new(),
                release: None,
                sealed: None,
                links_until: None,
                signed: None,
                files: Vec::new(),
            },
            None => return None,
        };
        for part in parts {
            summary.sealed = summary.sealed.or(part.sealed);
            summary.files.extend(part.files);
        }
        Some(summary)
    }

    fn failure_lines(&self) -> Vec<String> {
        match self.results.as_slice() {
            // One file: its error is the whole story.
            [Err(f)] => vec![f.error.to_string()],
            _ => failure_lines(&self.failures()),
        }
    }
}

impl Batch {
    /// The report of the files a command moved, each made by `report`. When the user asked
    /// for one file (`single`), its usage error (a flag that cannot work for it) is the
    /// command's error, not a failed file.
    pub fn of<R>(
        command: &'static str,
        verb: &'static str,
        files: crate::transfer::batch::Outcomes<R>,
        single: bool,
        report: impl Fn(R) -> Outcome,
    ) -> Result<Batch, Error> {
        let mut results = Vec::with_capacity(files.len());
        for file in files {
            match file {
                Err(Failure {
                    error: error @ Error::Usage(_),
                    ..
                }) if single => return Err(error),
                Err(failure) => results.push(Err(failure)),
                Ok(done) => results.push(Ok(report(done))),
            }
        }
        Ok(Batch {
            command,
            verb,
            results,
        })
    }
}

/// `; N failed` after a summary, or nothing when none failed.
fn failed_suffix(failed: usize) -> String {
    if failed == 0 {
        String::new()
    } else {
        format!("; {failed} failed")
    }
}

/// The most serious exit code among `failures` ([`severity`]), 0 for none.
pub(crate) fn worst_exit_code<'a>(failures: impl IntoIterator<Item = &'a Failure>) -> u8 {
    failures
        .into_iter()
        .map(|f| f.error.exit_code())
        .max_by_key(|c| severity(*c))
        .unwrap_or(code::OK)
}

/// The fields every JSON result about one object starts with.
fn key_fields(bucket: &str, key: &ObjectKey) -> Value {
    json!({
        "uri": format!("s3://{bucket}/{key}"),
        "bucket": bucket,
        "key": key.to_string(),
        "suite": key.suite(),
        "release": key.release(),
        "filename": key.filename(),
    })
}

/// A release's signature as `verify`, `list` and `stat` show it in JSON: `status`
/// (`trusted`, `not trusted`, `no trusted keys given`, `invalid`, `unsigned`), the signer's
/// `key` id, and the `text` the plain output shows.
fn signature_json(verdict: &crate::signature::Verdict) -> Value {
    json!({
        "status": verdict.status(),
        "key": verdict.key().map(|k| k.to_string()),
        "text": verdict.describe(),
    })
}

/// A CRC64NVME the transfer itself computed and checked.
fn crc_json(crc: u64) -> Value {
    json!({ "algorithm": "CRC64NVME", "value": checksum::to_base64(crc) })
}

/// A stored CRC64NVME and where it was found, or `null`.
fn checksum_json(c: Option<(u64, ChecksumSource)>) -> Value {
    match c {
        Some((crc, source)) => {
            let mut v = crc_json(crc);
            v["source"] = json!(source.as_str());
            v
        }
        None => Value::Null,
    }
}

/// `{"command": ...}` followed by the key fields and `extra`.
fn object_json(command: &str, bucket: &str, key: &ObjectKey, extra: Value) -> Value {
    let mut v = json!({ "command": command });
    for src in [key_fields(bucket, key), extra] {
        if let (Value::Object(dst), Value::Object(src)) = (&mut v, src) {
            dst.extend(src);
        }
    }
    v
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `"uploaded 1.0 GiB in 0.41 s, 2.4 GiB/s, 64 part(s)"`: the rate only for what moved and is
/// large enough to mean something.
fn transfer_summary(verb: &str, size: u64, seconds: f64, moved: bool, extra: &str) -> String {
    let rate = if moved && size >= 1 << 20 && seconds > 0.0 {
        format!(", {}/s", human_bytes((size as f64 / seconds) as u64))
    } else {
        String::new()
    };
    format!(
        "{verb} {} in {seconds:.2} s{rate}{extra}",
        human_bytes(size)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(u64);
    impl Report for Fake {
        fn text(&self) -> String {
            format!("f{}", self.0)
        }
        fn json(&self) -> Value {
            json!({ "n": self.0 })
        }
        fn summary(&self) -> String {
            String::new()
        }
        fn bytes(&self) -> u64 {
            self.0
        }
    }

    fn failure(file: &str, error: Error) -> Result<Outcome, Failure> {
        Err(Failure {
            file: file.into(),
            error,
        })
    }

    #[test]
    fn the_same_error_is_printed_once_and_long_lists_are_cut() {
        let failures: Vec<Failure> = (0..25)
            .map(|i| Failure {
                file: format!("f{i}"),
                error: Error::Other("cannot list s3://b/s/1/: InvalidBucketName".into()),
            })
            .chain(std::iter::once(Failure {
                file: "odd".into(),
                error: Error::NotFound("odd: no such file".into()),
            }))
            .collect();
        let refs: Vec<&Failure> = failures.iter().collect();
        let lines = failure_lines(&refs);
        assert_eq!(
            lines[..2],
            [
                "cannot list s3://b/s/1/: InvalidBucketName (25 files)".to_owned(),
                "odd: no such file".to_owned()
            ]
        );
        assert!(
            lines[2].starts_with("26 of the files failed: f0, f1, "),
            "{}",
            lines[2]
        );
        assert!(
            lines[2].ends_with("f19 and 6 more (--json names them all)"),
            "{}",
            lines[2]
        );
        assert_eq!(lines.len(), 3);
        assert!(failure_lines(&[]).is_empty());
    }

    #[test]
    fn missing_credentials_are_one_line_for_all_files() {
        let failures: Vec<Failure> = ["a", "b", "c"]
            .iter()
            .map(|f| Failure {
                file: (*f).into(),
                error: Error::Credentials {
                    action: format!("upload to s3://b/s/1/{f}"),
                    why: "no AWS credentials found".into(),
                },
            })
            .collect();
        let refs: Vec<&Failure> = failures.iter().collect();
        assert_eq!(
            failure_lines(&refs),
            [
                "no AWS credentials found (3 files)",
                "3 of the files failed: a, b, c"
            ]
        );
        assert_eq!(
            failure_lines(&refs[..1]),
            [
                "cannot upload to s3://b/s/1/a: no AWS credentials found",
                "1 of the files failed: a"
            ]
        );
    }

    #[test]
    fn a_batch_lists_successes_and_names_failures() {
        let batch = Batch {
            command: "upload",
            verb: "uploaded",
            results: vec![
                Ok(Box::new(Fake(1024))),
                failure("b", Error::NotFound("gone".into())),
                Ok(Box::new(Fake(1024))),
            ],
        };
        assert_eq!(batch.render(false).unwrap(), "f1024\nf1024");
        assert_eq!(batch.summary(), "uploaded 2 of 3 files, 2.0 KiB; 1 failed");
        assert_eq!(batch.exit_code(), 3);
        let v: Value = serde_json::from_str(&batch.render(true).unwrap()).unwrap();
        assert_eq!(v["failed"], 1);
        assert_eq!(v["files"][1]["exit_code"], 3);
        assert_eq!(v["files"][2]["n"], 1024);
    }

    /// Error kinds from the most serious to the least (the README's order).
    fn kind(rank: usize) -> Error {
        let m = String::new;
        match rank {
            0 => Error::Interrupted {
                signal: crate::error::Signal::Interrupt,
            },
            1 => Error::Integrity(m()),
            2 => Error::AccessDenied(m()),
            3 => Error::Network(m()),
            4 => Error::Other(m()),
            5 => Error::NotFound(m()),
            6 => Error::AlreadyExists(m()),
            _ => Error::Usage(m()),
        }
    }

    #[test]
    fn the_most_serious_failure_decides_the_exit_code() {
        let codes: Vec<u8> = (0..8).map(|r| kind(r).exit_code()).collect();
        assert_eq!(codes, [130, 5, 4, 7, 1, 3, 6, 2]);
        // Every pair, in both orders: the more serious one wins.
        for (worse, &code) in codes.iter().enumerate() {
            for better in worse + 1..8 {
                for flip in [false, true] {
                    let mut results = vec![failure("w", kind(worse)), failure("b", kind(better))];
                    if flip {
                        results.reverse();
                    }
                    results.push(Ok(Box::new(Fake(1))));
                    let batch = Batch {
                        command: "download",
                        verb: "downloaded",
                        results,
                    };
                    assert_eq!(batch.exit_code(), code, "{worse} vs {better}");
                }
            }
        }
        let sigterm = Error::Interrupted {
            signal: crate::error::Signal::Terminate,
        };
        let batch = Batch {
            command: "upload",
            verb: "uploaded",
            results: vec![failure("a", kind(1)), failure("b", sigterm)],
        };
        assert_eq!(batch.exit_code(), 143);
        let none = Batch {
            command: "upload",
            verb: "uploaded",
            results: vec![Ok(Box::new(Fake(1)))],
        };
        assert_eq!(none.exit_code(), 0);
    }

    #[test]
    fn text_is_printed_as_it_is() {
        let t = Text("script\n\n".into());
        assert_eq!(t.render(true).unwrap(), "script");
        assert_eq!(t.render(false).unwrap(), "script");
    }
}
