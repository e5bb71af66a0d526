//! What s3blob prints on stdout: only the result. The URI (upload), the local path
//! (download), one line per entry (list), a block of fields (stat), a URL (presign); or with
//! `--json` one JSON object (one per line for `list`). The schema is in the README. Rendering
//! is pure so it is tested here.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::checksum;
use crate::error::{Error, code};
use crate::inspect::{ChecksumSource, ObjectInfo};
use crate::key::ObjectKey;
use crate::transfer::download::{Downloaded, Verified};
use crate::transfer::upload::Uploaded;

pub enum Report {
    Upload {
        bucket: String,
        key: ObjectKey,
        uploaded: Uploaded,
        seconds: f64,
    },
    Download {
        bucket: String,
        key: ObjectKey,
        path: PathBuf,
        downloaded: Downloaded,
        seconds: f64,
    },
    /// `list` printed its entries as it went; this is only its summary.
    Listed {
        count: u64,
        what: &'static str,
    },
    Stat {
        bucket: String,
        key: ObjectKey,
        info: ObjectInfo,
    },
    Deleted {
        bucket: String,
        key: ObjectKey,
    },
    Presigned {
        bucket: String,
        key: ObjectKey,
        url: String,
        expires_in: u64,
        /// RFC 3339, UTC.
        expires_at: String,
    },
    /// Printed as it is, whatever `--json` says (completion scripts, the man page).
    Text(String),
    /// Several files moved by one command, in the order given; failures are named by file.
    Batch {
        command: &'static str,
        results: Vec<Result<Report, Failure>>,
    },
}

/// One file of a batch that failed.
#[derive(Debug)]
pub struct Failure {
    /// The file as the user named it (a local path for upload, a filename for download).
    pub file: String,
    pub error: Error,
}

/// The exit code of a batch with failures: the most serious kind among them. A signal first,
/// then corrupted data, refused access, the network, other failures, missing things, existing
/// ones, usage.
fn severity(code: u8) -> u8 {
    match code {
        code::SIGINT | code::SIGTERM => 9,
        code::INTEGRITY => 8,
        code::ACCESS => 7,
        code::NETWORK => 6,
        code::OTHER => 5,
        code::NOT_FOUND => 4,
        code::EXISTS => 3,
        code::USAGE => 2,
        _ => 1,
    }
}

/// One line of `list` output.
pub enum Entry<'a> {
    Suite(&'a str),
    Release { suite: &'a str, release: &'a str },
    File(&'a FileEntry),
}

/// A file of a release, as `list` shows it.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub bucket: String,
    pub key: ObjectKey,
    pub size: u64,
    pub last_modified: Option<String>,
    pub etag: Option<String>,
    pub storage_class: Option<String>,
    /// The stored CRC64NVME, which ListObjectsV2 does not return (read with a HEAD).
    pub checksum: Option<(u64, ChecksumSource)>,
}

impl Entry<'_> {
    pub fn render(&self, json: bool) -> String {
        match (self, json) {
            (Entry::Suite(name), false) => (*name).to_owned(),
            (Entry::Suite(name), true) => json!({ "suite": name }).to_string(),
            (Entry::Release { release, .. }, false) => (*release).to_owned(),
            (Entry::Release { suite, release }, true) => {
                json!({ "suite": suite, "release": release }).to_string()
            }
            (Entry::File(f), false) => format!(
                "{:>10}  {:<20}  {:<12}  {}",
                human_bytes(f.size),
                f.last_modified.as_deref().unwrap_or("-"),
                f.checksum
                    .map_or_else(|| "-".to_owned(), |(c, _)| checksum::to_base64(c)),
                f.key.filename()
            ),
            (Entry::File(f), true) => {
                let mut v = key_fields(&f.bucket, &f.key);
                v["size"] = json!(f.size);
                v["last_modified"] = json!(f.last_modified);
                v["etag"] = json!(f.etag);
                v["storage_class"] = json!(f.storage_class);
                v["checksum"] = checksum_json(f.checksum);
                v.to_string()
            }
        }
    }
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

impl Report {
    /// What is printed on stdout (without the final newline); `None` when the command has
    /// printed its result already (`list`).
    pub fn render(&self, json: bool) -> Option<String> {
        match self {
            Report::Listed { .. } => None,
            // Written to stdout: the bytes are the result.
            Report::Download { path, .. } if path.as_os_str() == "-" => None,
            Report::Text(text) => Some(text.trim_end().to_owned()),
            _ if json => Some(self.to_json().to_string()),
            Report::Batch { results, .. } => {
                let lines: Vec<String> = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .filter_map(|r| r.render(false))
                    .collect();
                (!lines.is_empty()).then(|| lines.join("\n"))
            }
            Report::Upload { bucket, key, .. } | Report::Deleted { bucket, key } => {
                Some(format!("s3://{bucket}/{key}"))
            }
            Report::Download { path, .. } => Some(path.display().to_string()),
            Report::Stat { bucket, key, info } => Some(stat_text(bucket, key, info)),
            Report::Presigned { url, .. } => Some(url.clone()),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Report::Upload {
                bucket,
                key,
                uploaded: u,
                seconds,
            } => object_json(
                "upload",
                bucket,
                key,
                json!({
                    "size": u.size,
                    "checksum": crc_json(u.crc64),
                    "etag": u.etag,
                    "parts": u.parts,
                    "unchanged": u.unchanged,
                    "seconds": round3(*seconds),
                }),
            ),
            Report::Download {
                bucket,
                key,
                path,
                downloaded: d,
                seconds,
            } => object_json(
                "download",
                bucket,
                key,
                json!({
                    "path": path.display().to_string(),
                    "size": d.size,
                    "checksum": crc_json(d.crc64),
                    "etag": d.etag,
                    "verified": match d.verified {
                        Verified::Metadata => "checksum",
                        Verified::ServerChecksum => "server-checksum",
                        Verified::SizeOnly => "size-only",
                    },
                    "seconds": round3(*seconds),
                }),
            ),
            Report::Stat { bucket, key, info } => object_json(
                "stat",
                bucket,
                key,
                json!({
                    "size": info.size,
                    "last_modified": info.last_modified,
                    "etag": info.etag,
                    "checksum": checksum_json(info.checksum),
                    "content_type": info.content_type,
                    "cache_control": info.cache_control,
                    "storage_class": info.storage_class,
                    "server_side_encryption": info.server_side_encryption,
                    "sse_kms_key_id": info.sse_kms_key_id,
                    "metadata": info.metadata,
                }),
            ),
            Report::Deleted { bucket, key } => object_json("delete", bucket, key, json!({})),
            Report::Presigned {
                bucket,
                key,
                url,
                expires_in,
                expires_at,
            } => object_json(
                "presign",
                bucket,
                key,
                json!({ "url": url, "expires_in": expires_in, "expires_at": expires_at }),
            ),
            Report::Listed { count, what } => json!({ "command": "list", *what: count }),
            Report::Text(text) => json!({ "text": text }),
            Report::Batch { command, results } => {
                let files: Vec<Value> = results
                    .iter()
                    .map(|r| match r {
                        Ok(report) => report.to_json(),
                        Err(f) => json!({
                            "file": f.file,
                            "error": f.error.to_string(),
                            "exit_code": f.error.exit_code(),
                        }),
                    })
                    .collect();
                let failed = results.iter().filter(|r| r.is_err()).count();
                json!({ "command": command, "files": files, "failed": failed })
            }
        }
    }

    /// 0, or for a batch with failures the most serious failure's code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Report::Batch { results, .. } => results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .map(|f| f.error.exit_code())
                .max_by_key(|c| severity(*c))
                .unwrap_or(code::OK),
            _ => code::OK,
        }
    }

    /// The files of a batch that failed.
    pub fn failures(&self) -> Vec<&Failure> {
        match self {
            Report::Batch { results, .. } => {
                results.iter().filter_map(|r| r.as_ref().err()).collect()
            }
            _ => Vec::new(),
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
            Report::Listed { count, what } => return format!("listed {count} {what}"),
            Report::Stat { bucket, key, .. } => return format!("read s3://{bucket}/{key}"),
            Report::Deleted { bucket, key } => return format!("deleted s3://{bucket}/{key}"),
            Report::Presigned {
                bucket,
                key,
                expires_at,
                ..
            } => return format!("presigned s3://{bucket}/{key}, valid until {expires_at}"),
            Report::Text(_) => return String::new(),
            Report::Batch { command, results } => {
                let (mut size, mut failed) = (0, 0);
                for r in results {
                    match r {
                        Ok(Report::Upload { uploaded, .. }) => size += uploaded.size,
                        Ok(Report::Download { downloaded, .. }) => size += downloaded.size,
                        Ok(_) => {}
                        Err(_) => failed += 1,
                    }
                }
                let done = results.len() - failed;
                let verb = if *command == "upload" {
                    "uploaded"
                } else {
                    "downloaded"
                };
                return format!(
                    "{verb} {done} of {} files, {}{}",
                    results.len(),
                    human_bytes(size),
                    if failed > 0 {
                        format!("; {failed} failed")
                    } else {
                        String::new()
                    }
                );
            }
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

/// `stat` for people: aligned `field  value` lines.
fn stat_text(bucket: &str, key: &ObjectKey, info: &ObjectInfo) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("uri", format!("s3://{bucket}/{key}")),
        (
            "size",
            format!("{} ({})", info.size, human_bytes(info.size)),
        ),
    ];
    let mut opt = |name, value: &Option<String>| {
        if let Some(v) = value {
            rows.push((name, v.clone()));
        }
    };
    opt("last-modified", &info.last_modified);
    opt("etag", &info.etag);
    opt("content-type", &info.content_type);
    opt("cache-control", &info.cache_control);
    opt("storage-class", &info.storage_class);
    opt("encryption", &info.server_side_encryption);
    opt("kms-key-id", &info.sse_kms_key_id);
    rows.push((
        "checksum",
        match info.checksum {
            Some((crc, source)) => format!(
                "CRC64NVME {} ({})",
                checksum::to_base64(crc),
                source.as_str()
            ),
            None => "none (only the size can be verified)".to_owned(),
        },
    ));
    for (i, (k, v)) in info.metadata.iter().enumerate() {
        rows.push((if i == 0 { "metadata" } else { "" }, format!("{k}={v}")));
    }
    rows.iter()
        .map(|(name, value)| format!("{name:<14} {value}"))
        .collect::<Vec<_>>()
        .join("\n")
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
    fn plain_output_is_the_result_only() {
        assert_eq!(upload().render(false).unwrap(), "s3://b/s/r/f");
        let d = Report::Download {
            bucket: "b".into(),
            key: ObjectKey::new("s", "r", "f").unwrap(),
            path: "out/f".into(),
            downloaded: Downloaded {
                size: 3,
                crc64: 1,
                etag: None,
                verified: Verified::Metadata,
            },
            seconds: 1.0,
        };
        assert_eq!(d.render(false).unwrap(), "out/f");
        let v: Value = serde_json::from_str(&d.render(true).unwrap()).unwrap();
        assert_eq!(v["verified"], "checksum");
        assert_eq!(v["path"], "out/f");
    }

    #[test]
    fn json_schema() {
        let v: Value = serde_json::from_str(&upload().render(true).unwrap()).unwrap();
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
    fn list_lines_are_aligned() {
        let file = |size| FileEntry {
            bucket: "b".into(),
            key: ObjectKey::new("s", "r", "app.tar.gz").unwrap(),
            size,
            last_modified: Some("2026-11-25T07:15:13Z".into()),
            etag: None,
            storage_class: None,
            checksum: Some((0, ChecksumSource::Metadata)),
        };
        let (small, big) = (file(3), file(5 << 30));
        let (a, b) = (
            Entry::File(&small).render(false),
            Entry::File(&big).render(false),
        );
        assert_eq!(a.find("2026"), b.find("2026"));
        assert_eq!(a.find("app.tar.gz"), b.find("app.tar.gz"));
        assert!(
            b.starts_with("   5.0 GiB  2026-11-25T07:15:13Z  AAAAAAAAAAA="),
            "{b}"
        );
        let v: Value = serde_json::from_str(&Entry::File(&small).render(true)).unwrap();
        assert_eq!(v["filename"], "app.tar.gz");
        assert_eq!(v["checksum"]["source"], "s3blob-metadata");
        let r = Entry::Release {
            suite: "s",
            release: "1.0",
        };
        assert_eq!(r.render(false), "1.0");
        assert_eq!(r.render(true), r#"{"release":"1.0","suite":"s"}"#);
    }

    #[test]
    fn stat_is_a_block_of_fields() {
        let key = ObjectKey::new("s", "r", "f").unwrap();
        let info = ObjectInfo {
            size: 2048,
            content_type: Some("application/gzip".into()),
            metadata: [("a".into(), "1".into()), ("b".into(), "2".into())].into(),
            ..ObjectInfo::default()
        };
        let text = Report::Stat {
            bucket: "b".into(),
            key,
            info,
        }
        .render(false)
        .unwrap();
        assert_eq!(
            text,
            "uri            s3://b/s/r/f\n\
             size           2048 (2.0 KiB)\n\
             content-type   application/gzip\n\
             checksum       none (only the size can be verified)\n\
             metadata       a=1\n\
             \x20              b=2"
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
