//! `verify`'s result: one line per file (`ok`, `missing`, `mismatch`, `unchecked`), or one
//! JSON object; failed files are also named on stderr.

use serde_json::{Value, json};

use super::ci::{JobSummary, SummaryFile};
use super::{Failure, Report, crc_json, signature_json};
use crate::error::{Error, code};
use crate::key::ReleaseRef;
use crate::release::verify::{Status, Verification};
use crate::signature::Verdict;

pub struct VerifyReport {
    pub bucket: String,
    pub suite: String,
    pub release: String,
    pub deep: bool,
    pub verification: Verification,
    /// One per missing or mismatched file, for stderr and the exit code.
    failures: Vec<Failure>,
}

impl VerifyReport {
    pub fn new(
        bucket: String,
        suite: String,
        release: String,
        deep: bool,
        verification: Verification,
    ) -> Self {
        let uri = |f: &str| format!("s3://{bucket}/{suite}/{release}/{f}");
        let failures = verification
            .files
            .iter()
            .filter_map(|f| {
                let error = match &f.status {
                    Status::Missing => Error::NotFound(format!(
                        "{} is listed in the manifest but missing from the store",
                        uri(&f.filename)
                    )),
                    Status::Mismatch(why) => Error::Integrity(format!(
                        "{} is corrupt or was replaced: {why}; upload it again from its source (a sealed release: delete --all and publish it again) or restore it from a bucket version",
                        uri(&f.filename)
                    )),
                    Status::Ok | Status::Unchecked => return None,
                };
                Some(Failure {
                    file: f.filename.clone(),
                    error,
                })
            })
            .collect();
        Self {
            bucket,
            suite,
            release,
            deep,
            verification,
            failures,
        }
    }
}

fn word(status: &Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Missing => "missing",
        Status::Mismatch(_) => "mismatch",
        Status::Unchecked => "unchecked",
    }
}

impl Report for VerifyReport {
    fn text(&self) -> String {
        // Whether the release is signed, and by whom, whatever the reader trusts.
        let signature = std::iter::once(format!(
            "{:<10}{}",
            "signature",
            self.verification.signature.describe()
        ));
        self.verification
            .files
            .iter()
            .map(|f| match &f.status {
                Status::Mismatch(why) => format!("{:<10}{}: {why}", word(&f.status), f.filename),
                Status::Unchecked => format!(
                    "{:<10}{} (no stored checksum; --deep reads it)",
                    word(&f.status),
                    f.filename
                ),
                status => format!("{:<10}{}", word(status), f.filename),
            })
            .chain(signature)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn json(&self) -> Value {
        let files: Vec<Value> = self
            .verification
            .files
            .iter()
            .map(|f| {
                json!({
                    "filename": f.filename,
                    "status": word(&f.status),
                    "size": f.size,
                    "checksum": f.crc64.map(crc_json),
                    "detail": match &f.status {
                        Status::Mismatch(why) => Some(why.as_str()),
                        _ => None,
                    },
                })
            })
            .collect();
        json!({
            "command": "verify",
            "uri": format!("s3://{}/{}/{}/", self.bucket, self.suite, self.release),
            "bucket": self.bucket,
            "suite": self.suite,
            "release": self.release,
            "sealed": self.verification.sealed,
            "signature": signature_json(&self.verification.signature),
            "deep": self.deep,
            "files": files,
            "unlisted": self.verification.unlisted,
            "failed": self.failures.len(),
        })
    }

    fn summary(&self) -> String {
        let n = crate::values::count(self.verification.files.len(), "file");
        let how = if self.deep {
            "read and checked"
        } else {
            "checked"
        };
        if self.verification.sealed {
            format!(
                "{how} {n} of sealed release {}/{}: {} failed",
                self.suite,
                self.release,
                self.failures.len()
            )
        } else {
            format!(
                "release {}/{} is not sealed: {how} each of its {n} against its own checksum only; {} failed",
                self.suite,
                self.release,
                self.failures.len()
            )
        }
    }

    fn exit_code(&self) -> u8 {
        let codes = self.failures.iter().map(|f| f.error.exit_code());
        if codes.clone().any(|c| c == code::INTEGRITY) {
            code::INTEGRITY
        } else if codes.clone().any(|c| c == code::NOT_FOUND) {
            code::NOT_FOUND
        } else {
            code::OK
        }
    }

    fn job_summary(&self) -> Option<JobSummary> {
        Some(JobSummary {
            signed: (self.verification.signature != Verdict::Unsigned)
                .then(|| self.verification.signature.describe()),
            bucket: self.bucket.clone(),
            release: Some(ReleaseRef::listed(&self.suite, &self.release)),
            sealed: Some(self.verification.sealed),
            links_until: None,
            files: self
                .verification
                .files
                .iter()
                .map(|f| SummaryFile {
                    name: f.filename.clone(),
                    size: f.size.unwrap_or(0),
                    crc64: f.crc64,
                    sha256: None,
                    link: None,
                    state: word(&f.status).to_owned(),
                })
                .collect(),
        })
    }

    fn failures(&self) -> Vec<&Failure> {
        self.failures.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::verify::FileCheck;

    fn check(name: &str, status: Status) -> FileCheck {
        FileCheck {
            filename: name.into(),
            status,
            size: Some(3),
            crc64: Some(0),
        }
    }

    fn report(files: Vec<FileCheck>) -> VerifyReport {
        VerifyReport::new(
            "b".into(),
            "s".into(),
            "1".into(),
            false,
            Verification {
                sealed: true,
                files,
                unlisted: vec!["extra".into()],
                signature: crate::signature::Verdict::Unsigned,
            },
        )
    }

    #[test]
    fn exit_codes_and_lines() {
        let ok = report(vec![check("a", Status::Ok), check("b", Status::Unchecked)]);
        assert_eq!(ok.exit_code(), 0);
        assert_eq!(
            ok.text(),
            "ok        a\nunchecked b (no stored checksum; --deep reads it)\nsignature not signed"
        );
        let missing = report(vec![check("a", Status::Ok), check("b", Status::Missing)]);
        assert_eq!(missing.exit_code(), 3);
        assert_eq!(missing.failures().len(), 1);
        let bad = report(vec![
            check("a", Status::Mismatch("replaced".into())),
            check("b", Status::Missing),
        ]);
        assert_eq!(bad.exit_code(), 5);
        assert!(
            bad.text().starts_with("mismatch  a: replaced"),
            "{}",
            bad.text()
        );
        let v = bad.json();
        assert_eq!(v["failed"], 2);
        assert_eq!(v["files"][0]["status"], "mismatch");
        assert_eq!(v["unlisted"][0], "extra");
    }
}
