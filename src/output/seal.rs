//! `seal`'s result: the release's URI, or its JSON object.

use serde_json::{Value, json};

use super::ci::JobSummary;
use super::{Report, round3};
use crate::manifest::{MANIFEST_NAME, SHA256SUMS_NAME};
use crate::release::seal::Sealed;

pub struct SealReport {
    pub bucket: String,
    pub sealed: Sealed,
    pub seconds: f64,
}

impl SealReport {
    fn uri(&self) -> String {
        let m = &self.sealed.manifest;
        format!("s3://{}/{}/{}/", self.bucket, m.suite, m.release)
    }
}

impl Report for SealReport {
    fn text(&self) -> String {
        self.uri()
    }

    fn job_summary(&self) -> Option<JobSummary> {
        {
            let mut summary =
                JobSummary::sealed(&self.bucket, &self.sealed.manifest, |_| "sealed".to_owned());
            summary.signed = self.sealed.signed_by.map(|k| format!("signed by {k}"));
            Some(summary)
        }
    }

    fn json(&self) -> Value {
        let m = &self.sealed.manifest;
        json!({
            "command": "seal",
            "uri": self.uri(),
            "bucket": self.bucket,
            "suite": m.suite,
            "release": m.release,
            "manifest": format!("{}{MANIFEST_NAME}", self.uri()),
            "files": m.files.len(),
            "sha256sums": m.files.contains_key(SHA256SUMS_NAME) && m.has_sha256(),
            "sealed_at": m.sealed_at,
            "unchanged": self.sealed.unchanged,
            "signed_by": self.sealed.signed_by.map(|k| k.to_string()),
            "seconds": round3(self.seconds),
        })
    }

    fn summary(&self) -> String {
        let n = self.sealed.manifest.files.len();
        let signed = match self.sealed.signed_by {
            Some(k) => format!(", signed by {k}"),
            None => String::new(),
        };
        if self.sealed.unchanged {
            format!(
                "{} was already sealed with these {}{signed}",
                self.uri(),
                crate::values::count(n, "file")
            )
        } else {
            let sums = if self.sealed.manifest.files.contains_key(SHA256SUMS_NAME) {
                format!(", {SHA256SUMS_NAME} included")
            } else {
                String::new()
            };
            let files = crate::values::count(n, "file");
            format!(
                "sealed {} ({files}{sums}){signed} in {:.2} s",
                self.uri(),
                self.seconds
            )
        }
    }
}

/// An upload with `--seal`: the uploads' result, then the release's URI (plain), or the
/// uploads' JSON with a `seal` object.
pub struct Published {
    pub uploads: super::Outcome,
    pub seal: SealReport,
}

impl Report for Published {
    fn text(&self) -> String {
        format!("{}\n{}", self.uploads.text(), self.seal.text())
    }

    fn json(&self) -> Value {
        let mut v = self.uploads.json();
        v["seal"] = self.seal.json();
        v
    }

    fn summary(&self) -> String {
        format!("{}; {}", self.uploads.summary(), self.seal.summary())
    }

    fn bytes(&self) -> u64 {
        self.uploads.bytes()
    }

    /// Every file of the sealed release, those this upload sent or found unchanged marked so.
    fn job_summary(&self) -> Option<JobSummary> {
        let uploads = self.uploads.job_summary();
        let state_of = |name: &str| {
            uploads
                .iter()
                .flat_map(|u| &u.files)
                .find(|f| f.name == name)
                .map_or_else(|| "sealed".to_owned(), |f| f.state.clone())
        };
        {
            let mut summary =
                JobSummary::sealed(&self.seal.bucket, &self.seal.sealed.manifest, state_of);
            summary.signed = self.seal.sealed.signed_by.map(|k| format!("signed by {k}"));
            Some(summary)
        }
    }
}
