//! `promote`'s result: the destination release's URI, or a JSON object with each file's copy.

use serde_json::{Value, json};

use super::ci::JobSummary;
use super::{Report, round3};
use crate::manifest::Origin;
use crate::release::promote::FileCopy;
use crate::release::seal::Sealed;
use crate::transfer::copy::Copied;

pub struct PromoteReport {
    /// The destination bucket.
    pub bucket: String,
    pub origin: Origin,
    pub copies: Vec<FileCopy>,
    pub sealed: Sealed,
    pub seconds: f64,
}

impl PromoteReport {
    fn uri(&self) -> String {
        let m = &self.sealed.manifest;
        format!("s3://{}/{}/{}/", self.bucket, m.suite, m.release)
    }

    fn copied(&self) -> usize {
        self.copies
            .iter()
            .filter(|c| matches!(c.copied, Copied::Copied { .. }))
            .count()
    }
}

impl Report for PromoteReport {
    fn text(&self) -> String {
        self.uri()
    }

    fn json(&self) -> Value {
        let m = &self.sealed.manifest;
        json!({
            "command": "promote",
            "uri": self.uri(),
            "bucket": self.bucket,
            "suite": m.suite,
            "release": m.release,
            "from": {
                "uri": format!("s3://{}/{}/{}/", self.origin.bucket, self.origin.suite, self.origin.release),
                "bucket": self.origin.bucket,
                "suite": self.origin.suite,
                "release": self.origin.release,
                "signed_by": self.origin.signed_by,
            },
            "files": self.copies.iter().map(|c| json!({
                "filename": c.filename,
                "size": c.size,
                "unchanged": c.copied == Copied::Unchanged,
                "parts": match c.copied { Copied::Copied { parts } => parts, Copied::Unchanged => 0 },
            })).collect::<Vec<_>>(),
            "sealed_at": m.sealed_at,
            "unchanged": self.sealed.unchanged,
            "signed_by": self.sealed.signed_by.map(|k| k.to_string()),
            "seconds": round3(self.seconds),
        })
    }

    fn job_summary(&self) -> Option<JobSummary> {
        {
            let mut summary = JobSummary::sealed(&self.bucket, &self.sealed.manifest, |name| {
                match self.copies.iter().find(|c| c.filename == name) {
                    Some(FileCopy {
                        copied: Copied::Unchanged,
                        ..
                    }) => "unchanged",
                    _ => "copied",
                }
                .to_owned()
            });
            summary.signed = self.sealed.signed_by.map(|k| format!("signed by {k}"));
            Some(summary)
        }
    }

    fn summary(&self) -> String {
        let signed = match self.sealed.signed_by {
            Some(k) => format!(", signed by {k}"),
            None => String::new(),
        };
        format!(
            "promoted s3://{}/{}/{}/ to {}: {} file(s), {} copied on the server, {} already there, sealed{signed} in {:.2} s",
            self.origin.bucket,
            self.origin.suite,
            self.origin.release,
            self.uri(),
            self.copies.len(),
            self.copied(),
            self.copies.len() - self.copied(),
            self.seconds
        )
    }
}
