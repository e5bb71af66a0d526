//! The release manifest: one object, `SUITE/RELEASE/.s3blob-manifest.json`, listing every file
//! of a release with its size, CRC64NVME, content type and (optionally) SHA-256. Its presence
//! is what makes a release *sealed*: complete and immutable. It is written last, create-only,
//! after every listed object was checked, and read back to prove it is the one written.
//!
//! This module is pure: the document, its JSON form, the comparisons, and the `SHA256SUMS`
//! text derived from it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::checksum;
use crate::error::Error;

pub use crate::key::{MANIFEST_NAME, SHA256SUMS_NAME};

/// The manifest format this version writes and reads.
const FORMAT: &str = "s3blob-release-manifest/1";

/// The field holding the manifest's own CRC64NVME: of the document as stored, with this
/// field's value empty. The manifest verifies itself, whatever the server does with metadata
/// (a server that replaces an object's bytes and metadata separately can pair one writer's
/// bytes with another's metadata).
const SELF_CHECK: &str = "manifest_crc64nvme";

/// One file of a sealed release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub size: u64,
    pub crc64: u64,
    pub content_type: Option<String>,
    /// Lower-case hex, when computed (`--sha256sums`).
    pub sha256: Option<String>,
}

/// Where a promoted release was copied from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub bucket: String,
    pub suite: String,
    pub release: String,
    /// The key id whose signature of the source was verified when it was promoted (written
    /// only when there was one; manifests without it read as before).
    pub signed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub suite: String,
    pub release: String,
    /// RFC 3339, UTC.
    pub sealed_at: String,
    /// `s3blob VERSION`.
    pub sealed_by: String,
    /// Unique per seal, so two seals of the same files at the same second still differ and a
    /// read-back tells whose manifest is stored.
    pub seal_id: String,
    /// By file name, so the JSON is in a stable order.
    pub files: BTreeMap<String, Entry>,
    pub promoted_from: Option<Origin>,
}

impl Manifest {
    /// The manifest as stored: compact JSON, files in name order.
    pub fn to_json(&self) -> String {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|(name, e)| {
                let mut v = json!({
                    "filename": name,
                    "size": e.size,
                    "crc64nvme": checksum::to_base64(e.crc64),
                    "content_type": e.content_type,
                });
                if let Some(sha) = &e.sha256 {
                    v["sha256"] = json!(sha);
                }
                v
            })
            .collect();
        let mut v = json!({
            "format": FORMAT,
            "suite": self.suite,
            "release": self.release,
            "sealed_at": self.sealed_at,
            "sealed_by": self.sealed_by,
            "seal_id": self.seal_id,
            "files": files,
        });
        if let Some(o) = &self.promoted_from {
            v["promoted_from"] =
                json!({ "bucket": o.bucket, "suite": o.suite, "release": o.release });
            if let Some(k) = &o.signed_by {
                v["promoted_from"]["signed_by"] = json!(k);
            }
        }
        v[SELF_CHECK] = json!("");
        let blank = v.to_string();
        v[SELF_CHECK] = json!(checksum::to_base64(checksum::crc64(blank.as_bytes())));
        v.to_string()
    }

    /// Reads a stored manifest; anything malformed is an integrity error naming `key`.
    pub fn parse(bytes: &[u8], key: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::Integrity(format!(
                "{key} is not a valid s3blob release manifest ({why}); it was altered or written by something else"
            ))
        };
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
        check_itself(bytes, &v).map_err(bad)?;
        let text = |field: &str| -> Result<String, Error> {
            v[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad(&format!("no {field}")))
        };
        if text("format")? != FORMAT {
            return Err(bad(&format!(
                "format {:?}; this s3blob reads {FORMAT}: upgrade s3blob",
                v["format"]
            )));
        }
        let mut files = BTreeMap::new();
        for f in v["files"].as_array().ok_or_else(|| bad("no files"))? {
            let name = f["filename"]
                .as_str()
                .ok_or_else(|| bad("a file without a name"))?;
            let size = f["size"]
                .as_u64()
                .ok_or_else(|| bad("a file without a size"))?;
            let crc64 = f["crc64nvme"]
                .as_str()
                .and_then(checksum::from_base64)
                .ok_or_else(|| bad("a file without a CRC64NVME"))?;
            let sha256 = match f.get("sha256").and_then(Value::as_str) {
                Some(s) if is_sha256_hex(s) => Some(s.to_owned()),
                Some(_) => return Err(bad("a malformed sha256")),
                None => None,
            };
            let entry = Entry {
                size,
                crc64,
                content_type: f["content_type"].as_str().map(str::to_owned),
                sha256,
            };
            if files.insert(name.to_owned(), entry).is_some() {
                return Err(bad(&format!("{name:?} listed twice")));
            }
        }
        let promoted_from = match v.get("promoted_from") {
            Some(o) if o.is_object() => Some(Origin {
                bucket: o["bucket"].as_str().unwrap_or_default().to_owned(),
                suite: o["suite"].as_str().unwrap_or_default().to_owned(),
                release: o["release"].as_str().unwrap_or_default().to_owned(),
                signed_by: o
                    .get("signed_by")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }),
            _ => None,
        };
        Ok(Manifest {
            suite: text("suite")?,
            release: text("release")?,
            sealed_at: text("sealed_at")?,
            sealed_by: text("sealed_by")?,
            seal_id: text("seal_id")?,
            files,
            promoted_from,
        })
    }

    /// The same files, each with the same size and CRC64NVME (what sealing again, or a retried
    /// job, must find to count as done; SHA-256s and dates do not matter).
    pub fn same_files(&self, files: &BTreeMap<String, Entry>) -> bool {
        self.files.len() == files.len()
            && self.files.iter().all(|(name, e)| {
                files
                    .get(name)
                    .is_some_and(|o| o.size == e.size && o.crc64 == e.crc64)
            })
    }

    /// Every file has a SHA-256.
    pub fn has_sha256(&self) -> bool {
        !self.files.is_empty() && self.files.values().all(|e| e.sha256.is_some())
    }
}

/// `SHA256SUMS` for `files` (those with a SHA-256; `SHA256SUMS` itself left out): one
/// `HEX  NAME` line per file, in name order, as `sha256sum` writes them.
pub fn sha256sums(files: &BTreeMap<String, Entry>) -> String {
    files
        .iter()
        .filter(|(name, _)| name.as_str() != SHA256SUMS_NAME)
        .filter_map(|(name, e)| e.sha256.as_ref().map(|sha| format!("{sha}  {name}\n")))
        .collect()
}

/// Compares the manifest's own CRC64NVME with that of its bytes, the value blanked.
fn check_itself(bytes: &[u8], v: &Value) -> Result<(), &'static str> {
    let claimed = v[SELF_CHECK]
        .as_str()
        .and_then(checksum::from_base64)
        .ok_or("no manifest_crc64nvme")?;
    // The writer's own spelling: compact JSON, the value a base64 string (no escapes). File
    // names are JSON strings, so a name holding this text has its quotes escaped.
    let field = format!("\"{SELF_CHECK}\":\"{}\"", checksum::to_base64(claimed));
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8")?;
    if text.matches(&field).count() != 1 {
        return Err("its manifest_crc64nvme is not where s3blob writes it");
    }
    let blank = text.replacen(&field, &format!("\"{SELF_CHECK}\":\"\""), 1);
    if checksum::crc64(blank.as_bytes()) != claimed {
        return Err("its content does not match its manifest_crc64nvme");
    }
    Ok(())
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A value unique to one seal (see [`checksum::random_u64`]).
pub fn new_seal_id() -> String {
    format!("{:016x}", checksum::random_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(size: u64, crc: u64, sha: Option<&str>) -> Entry {
        Entry {
            size,
            crc64: crc,
            content_type: Some("application/gzip".into()),
            sha256: sha.map(str::to_owned),
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            suite: "app".into(),
            release: "1.0".into(),
            sealed_at: "2026-12-01T10:00:00Z".into(),
            sealed_by: "s3blob 0.1.0".into(),
            seal_id: "00000000000000aa".into(),
            files: [
                ("b.tar.gz".to_owned(), entry(3, 7, Some(&"ab".repeat(32)))),
                ("a.txt".to_owned(), entry(0, 0, None)),
            ]
            .into(),
            promoted_from: None,
        }
    }

    #[test]
    fn round_trip_in_name_order() {
        let m = manifest();
        let text = m.to_json();
        assert!(text.find("a.txt").unwrap() < text.find("b.tar.gz").unwrap());
        assert_eq!(Manifest::parse(text.as_bytes(), "k").unwrap(), m);
        let mut promoted = m.clone();
        promoted.promoted_from = Some(Origin {
            bucket: "staging".into(),
            suite: "app".into(),
            release: "1.0-rc1".into(),
            signed_by: None,
        });
        let back = Manifest::parse(promoted.to_json().as_bytes(), "k").unwrap();
        assert_eq!(back, promoted);
        assert!(!promoted.to_json().contains("signed_by"));
        promoted.promoted_from.as_mut().unwrap().signed_by = Some("0123456789ABCDEF".into());
        let back = Manifest::parse(promoted.to_json().as_bytes(), "k").unwrap();
        assert_eq!(back, promoted);
    }

    #[test]
    fn malformed_manifests_are_integrity_errors() {
        let good = manifest().to_json();
        for bad in [
            "not json".to_owned(),
            "{}".to_owned(),
            good.replace(FORMAT, "s3blob-release-manifest/9"),
            good.replace("\"crc64nvme\":\"AAAAAAAAAAc=\"", "\"crc64nvme\":\"zz\""),
            good.replace(&"ab".repeat(32), "ABC"),
            good.replace("\"a.txt\"", "\"b.tar.gz\""),
        ] {
            let err = Manifest::parse(bad.as_bytes(), "s/r/.s3blob-manifest.json").unwrap_err();
            assert_eq!(err.exit_code(), 5, "{bad}: {err}");
            assert!(err.to_string().contains(".s3blob-manifest.json"), "{err}");
        }
    }

    #[test]
    fn a_manifest_checks_itself() {
        let good = manifest().to_json();
        assert!(good.contains("\"manifest_crc64nvme\":\""), "{good}");
        // One byte changed anywhere (a size, a name) is caught.
        for tampered in [
            good.replace("\"size\":3", "\"size\":4"),
            good.replace("a.txt", "a.txu"),
        ] {
            let err = Manifest::parse(tampered.as_bytes(), "k").unwrap_err();
            assert!(err.to_string().contains("manifest_crc64nvme"), "{err}");
        }
        // A file whose name spells the field does not confuse the check.
        let mut m = manifest();
        m.files
            .insert("\"manifest_crc64nvme\":\"x\"".into(), entry(1, 1, None));
        assert_eq!(Manifest::parse(m.to_json().as_bytes(), "k").unwrap(), m);
    }

    #[test]
    fn same_files_ignores_dates_and_digests() {
        let m = manifest();
        let mut files = m.files.clone();
        files.get_mut("b.tar.gz").unwrap().sha256 = None;
        assert!(m.same_files(&files));
        files.get_mut("b.tar.gz").unwrap().crc64 = 8;
        assert!(!m.same_files(&files));
        let mut fewer = m.files.clone();
        fewer.remove("a.txt");
        assert!(!m.same_files(&fewer));
    }

    #[test]
    fn sha256sums_is_what_sha256sum_writes() {
        let mut files = manifest().files;
        files.insert(SHA256SUMS_NAME.into(), entry(1, 1, Some(&"cd".repeat(32))));
        assert_eq!(
            sha256sums(&files),
            format!("{}  b.tar.gz\n", "ab".repeat(32))
        );
    }

    #[test]
    fn seal_ids_differ() {
        assert_ne!(new_seal_id(), new_seal_id());
        assert_eq!(new_seal_id().len(), 16);
    }
}
