//! `download`'s result: the local path, or its JSON object; nothing for `-o -`, whose bytes
//! are the result.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::ci::{JobSummary, SummaryFile};
use super::{Report, crc_json, object_json, round3, transfer_summary};
use crate::key::{ObjectKey, ReleaseRef};
use crate::transfer::download::{Downloaded, Verified};

pub struct DownloadReport {
    pub bucket: String,
    pub key: ObjectKey,
    /// `-` for stdout.
    pub path: PathBuf,
    pub downloaded: Downloaded,
    pub seconds: f64,
}

impl Report for DownloadReport {
    fn text(&self) -> String {
        self.path.display().to_string()
    }

    fn render(&self, json: bool) -> Option<String> {
        if self.path.as_os_str() == "-" {
            return None;
        }
        Some(if json {
            self.json().to_string()
        } else {
            crate::escape::escape_lines(&self.text()).into_owned()
        })
    }

    fn json(&self) -> Value {
        let d = &self.downloaded;
        object_json(
            "download",
            &self.bucket,
            &self.key,
            json!({
                "path": self.path.display().to_string(),
                "size": d.size,
                "checksum": crc_json(d.crc64),
                "etag": d.etag,
                "verified": match d.verified {
                    Verified::Manifest => "manifest",
                    Verified::Metadata => "checksum",
                    Verified::ServerChecksum => "server-checksum",
                    Verified::SizeOnly => "size-only",
                },
                "seconds": round3(self.seconds),
            }),
        )
    }

    fn job_summary(&self) -> Option<JobSummary> {
        let d = &self.downloaded;
        let how = match d.verified {
            Verified::Manifest => "downloaded, checked against the manifest",
            Verified::Metadata => "downloaded, checked against its CRC64NVME",
            Verified::ServerChecksum => "downloaded, checked against the store's CRC64NVME",
            Verified::SizeOnly => "downloaded, size checked only",
        };
        Some(JobSummary {
            signed: None,
            bucket: self.bucket.clone(),
            release: Some(ReleaseRef::listed(self.key.suite(), self.key.release())),
            sealed: (d.verified == Verified::Manifest).then_some(true),
            links_until: None,
            files: vec![SummaryFile {
                name: self.key.filename().to_owned(),
                size: d.size,
                crc64: Some(d.crc64),
                sha256: None,
                link: None,
                state: how.to_owned(),
            }],
        })
    }

    fn summary(&self) -> String {
        transfer_summary("downloaded", self.downloaded.size, self.seconds, true, "")
    }

    fn bytes(&self) -> u64 {
        self.downloaded.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(path: &str) -> DownloadReport {
        DownloadReport {
            bucket: "b".into(),
            key: ObjectKey::new("s", "r", "f").unwrap(),
            path: path.into(),
            downloaded: Downloaded {
                size: 3,
                crc64: 1,
                etag: None,
                verified: Verified::Metadata,
            },
            seconds: 1.0,
        }
    }

    #[test]
    fn plain_output_is_the_path() {
        let d = report("out/f");
        assert_eq!(d.render(false).unwrap(), "out/f");
        let v: Value = serde_json::from_str(&d.render(true).unwrap()).unwrap();
        assert_eq!(v["verified"], "checksum");
        assert_eq!(v["path"], "out/f");
    }

    #[test]
    fn stdout_carries_the_bytes_only() {
        assert_eq!(report("-").render(false), None);
        assert_eq!(report("-").render(true), None);
    }
}
