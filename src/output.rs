//! What s3blob prints on stdout: only the result. The URI (upload) or local path (download),
//! or with `--json` one JSON object. Rendering is pure so it is tested here.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::checksum;
use crate::transfer::download::{Downloaded, Verified};
use crate::transfer::upload::Uploaded;

pub enum Report {
    Upload {
        bucket: String,
        key: String,
        uploaded: Uploaded,
        seconds: f64,
    },
    Download {
        bucket: String,
        key: String,
        path: PathBuf,
        downloaded: Downloaded,
        seconds: f64,
    },
}

impl Report {
    /// The line printed on stdout (without the newline).
    pub fn render(&self, json: bool) -> String {
        if json {
            self.to_json().to_string()
        } else {
            match self {
                Report::Upload { bucket, key, .. } => format!("s3://{bucket}/{key}"),
                Report::Download { path, .. } => path.display().to_string(),
            }
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Report::Upload {
                bucket,
                key,
                uploaded: u,
                seconds,
            } => json!({
                "command": "upload",
                "uri": format!("s3://{bucket}/{key}"),
                "bucket": bucket,
                "key": key,
                "size": u.size,
                "checksum": { "algorithm": "CRC64NVME", "value": checksum::to_base64(u.crc64) },
                "etag": u.etag,
                "parts": u.parts,
                "unchanged": u.unchanged,
                "seconds": round3(*seconds),
            }),
            Report::Download {
                bucket,
                key,
                path,
                downloaded: d,
                seconds,
            } => json!({
                "command": "download",
                "uri": format!("s3://{bucket}/{key}"),
                "bucket": bucket,
                "key": key,
                "path": path.display().to_string(),
                "size": d.size,
                "checksum": { "algorithm": "CRC64NVME", "value": checksum::to_base64(d.crc64) },
                "etag": d.etag,
                "verified": match d.verified {
                    Verified::Metadata => "checksum",
                    Verified::ServerChecksum => "server-checksum",
                    Verified::SizeOnly => "size-only",
                },
                "seconds": round3(*seconds),
            }),
        }
    }

    /// A human summary for the log on stderr.
    pub fn summary(&self) -> String {
        let (verb, size, seconds, extra) = match self {
            Report::Upload {
                uploaded, seconds, ..
            } if uploaded.unchanged => (
                "already stored (identical)",
                uploaded.size,
                *seconds,
                String::new(),
            ),
            Report::Upload {
                uploaded, seconds, ..
            } => (
                "uploaded",
                uploaded.size,
                *seconds,
                format!(", {} part(s)", uploaded.parts),
            ),
            Report::Download {
                downloaded,
                seconds,
                ..
            } => ("downloaded", downloaded.size, *seconds, String::new()),
        };
        let moved = !matches!(self, Report::Upload { uploaded, .. } if uploaded.unchanged);
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
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Bytes in binary units with one decimal: `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload() -> Report {
        Report::Upload {
            bucket: "b".into(),
            key: "s/r/f".into(),
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
    fn plain_output_is_the_result_only() {
        assert_eq!(upload().render(false), "s3://b/s/r/f");
        let d = Report::Download {
            bucket: "b".into(),
            key: "s/r/f".into(),
            path: "out/f".into(),
            downloaded: Downloaded {
                size: 3,
                crc64: 1,
                etag: None,
                verified: Verified::Metadata,
            },
            seconds: 1.0,
        };
        assert_eq!(d.render(false), "out/f");
        let v: Value = serde_json::from_str(&d.render(true)).unwrap();
        assert_eq!(v["verified"], "checksum");
        assert_eq!(v["path"], "out/f");
    }

    #[test]
    fn json_schema() {
        let v: Value = serde_json::from_str(&upload().render(true)).unwrap();
        assert_eq!(
            v,
            json!({
                "command": "upload", "uri": "s3://b/s/r/f", "bucket": "b", "key": "s/r/f",
                "size": 3, "checksum": {"algorithm": "CRC64NVME", "value": "AAAAAAAAAAA="},
                "etag": "\"e\"", "parts": 1, "unchanged": false, "seconds": 0.123
            })
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(1 << 30), "1.0 GiB");
    }
}
