//! `list`'s lines, printed as they come (suites, releases, files), and its closing summary.

use serde_json::{Value, json};

use super::{Report, checksum_json, key_fields, signature_json};
use crate::checksum;
use crate::inspect::ChecksumSource;
use crate::key::ObjectKey;
use crate::signature::Verdict;
use crate::values::human_bytes;

/// One line of `list` output.
pub enum Entry<'a> {
    Suite(&'a str),
    /// `width`: the longest release name of the listing, so the state column lines up.
    /// `signature`: what the release's signature is worth to this reader (an open release is
    /// unsigned).
    Release {
        suite: &'a str,
        release: &'a str,
        sealed: bool,
        signature: &'a Verdict,
        width: usize,
    },
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
    /// The stored CRC64NVME, which ListObjectsV2 does not return (from the release's manifest
    /// when it is sealed, else read with a HEAD).
    pub checksum: Option<(u64, ChecksumSource)>,
    /// The signature of the release the file belongs to (JSON only: the plain listing says
    /// it once, in its summary).
    pub signature: Verdict,
}

impl Entry<'_> {
    pub fn render(&self, json: bool) -> String {
        match (self, json) {
            (Entry::Suite(name), false) => (*name).to_owned(),
            (Entry::Suite(name), true) => json!({ "suite": name }).to_string(),
            (
                Entry::Release {
                    release,
                    sealed,
                    signature,
                    width,
                    ..
                },
                false,
            ) => {
                if *sealed {
                    format!("{release:<width$}  sealed  {}", signature.describe())
                } else {
                    format!("{release:<width$}  open")
                }
            }
            (
                Entry::Release {
                    suite,
                    release,
                    sealed,
                    signature,
                    ..
                },
                true,
            ) => json!({
                "suite": suite,
                "release": release,
                "sealed": sealed,
                "signature": signature_json(signature),
            })
            .to_string(),
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
                v["signature"] = signature_json(&f.signature);
                v.to_string()
            }
        }
    }
}

/// `list` printed its entries as it went; this is only its summary.
pub struct Listed {
    pub count: u64,
    /// "suites", "releases" or "files".
    pub what: &'static str,
    /// For the files of a release: what its signature is worth to this reader.
    pub signature: Option<Verdict>,
}

impl Report for Listed {
    fn text(&self) -> String {
        String::new()
    }

    fn render(&self, _json: bool) -> Option<String> {
        None
    }

    fn json(&self) -> Value {
        let mut v = json!({ "command": "list", self.what: self.count });
        if let Some(signature) = &self.signature {
            v["signature"] = signature_json(signature);
        }
        v
    }

    fn summary(&self) -> String {
        let noun = self.what.strip_suffix('s').unwrap_or(self.what);
        let listed = format!(
            "listed {}",
            crate::values::count(usize::try_from(self.count).unwrap_or(usize::MAX), noun)
        );
        match &self.signature {
            Some(signature) => format!("{listed}; release signature: {}", signature.describe()),
            None => listed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            signature: Verdict::Unsigned,
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
        assert_eq!(v["signature"]["status"], "unsigned");
        let unsigned = Verdict::Unsigned;
        let r = Entry::Release {
            suite: "s",
            release: "1.0",
            sealed: true,
            signature: &unsigned,
            width: 5,
        };
        assert_eq!(r.render(false), "1.0    sealed  not signed");
        assert_eq!(
            r.render(true),
            r#"{"suite":"s","release":"1.0","sealed":true,"signature":{"status":"unsigned","key":null,"text":"not signed"}}"#
        );
        let open = Entry::Release {
            suite: "s",
            release: "1.10",
            sealed: false,
            signature: &unsigned,
            width: 5,
        };
        assert_eq!(open.render(false), "1.10   open");
    }
}
