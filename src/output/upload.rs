//! `upload`'s result: the URI, or its JSON object.

use serde_json::{Value, json};

use super::ci::{JobSummary, SummaryFile};
use super::{Report, crc_json, object_json, round3, transfer_summary};
use crate::key::{ObjectKey, ReleaseRef};
use crate::transfer::upload::Uploaded;

pub struct UploadReport {
    pub bucket: String,
    pub key: ObjectKey,
    pub uploaded: Uploaded,
    pub seconds: f64,
}

impl Report for UploadReport {
    fn text(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    fn json(&self) -> Value {
        let u = &self.uploaded;
        object_json(
            "upload",
            &self.bucket,
            &self.key,
            json!({
                "size": u.size,
                "checksum": crc_json(u.crc64),
                "etag": u.etag,
                "parts": u.parts,
                "unchanged": u.unchanged,
                "seconds": round3(self.seconds),
            }),
        )
    }

    fn summary(&self) -> String {
        let u = &self.uploaded;
        if u.unchanged {
            transfer_summary(
                "already stored (identical)",
                u.size,
                self.seconds,
                false,
                "",
            )
        } else {
            let parts = format!(", {} part(s)", u.parts);
            transfer_summary("uploaded", u.size, self.seconds, true, &parts)
        }
    }

    fn bytes(&self) -> u64 {
        if self.uploaded.unchanged {
            0
        } else {
            self.uploaded.size
        }
    }

    fn unchanged(&self) -> bool {
        self.uploaded.unchanged
    }

    fn job_summary(&self) -> Option<JobSummary> {
        let u = &self.uploaded;
        Some(JobSummary {
            signed: None,
            bucket: self.bucket.clone(),
            release: Some(ReleaseRef::listed(self.key.suite(), self.key.release())),
            sealed: None,
            links_until: None,
            files: vec![SummaryFile {
                name: self.key.filename().to_owned(),
                size: u.size,
                crc64: Some(u.crc64),
                sha256: None,
                link: None,
                state: if u.unchanged { "unchanged" } else { "sent" }.to_owned(),
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn report() -> UploadReport {
        UploadReport {
            bucket: "b".into(),
            key: ObjectKey::new("s", "r", "f").unwrap(),
            uploaded: Uploaded {
                size: 3,
                crc64: 0,
                etag: Some("\"e\"".into()),
                parts: 1,
                unchanged: false,
            },
            seconds: 0.12345,
        }
    }

    #[test]
    fn plain_output_is_the_uri() {
        assert_eq!(report().render(false).unwrap(), "s3://b/s/r/f");
    }

    #[test]
    fn json_schema() {
        let v: Value = serde_json::from_str(&report().render(true).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "command": "upload", "uri": "s3://b/s/r/f", "bucket": "b", "key": "s/r/f",
                "suite": "s", "release": "r", "filename": "f",
                "size": 3, "checksum": {"algorithm": "CRC64NVME", "value": "AAAAAAAAAAA="},
                "etag": "\"e\"", "parts": 1, "unchanged": false, "seconds": 0.123
            })
        );
    }

    #[test]
    fn summaries() {
        let mut r = report();
        r.uploaded.size = 2 << 20;
        r.seconds = 1.0;
        assert_eq!(
            r.summary(),
            "uploaded 2.0 MiB in 1.00 s, 2.0 MiB/s, 1 part(s)"
        );
        r.uploaded.unchanged = true;
        assert_eq!(r.summary(), "already stored (identical) 2.0 MiB in 1.00 s");
    }
}
