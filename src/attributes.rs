//! What is stored with an object besides its bytes: user metadata, content type, cache control,
//! storage class and server-side encryption. Validated here, before any byte moves, against
//! S3's rules, so a bad `--metadata` fails as a usage error rather than as a server refusal.

use std::collections::BTreeMap;

use crate::checksum::METADATA_KEY as CRC_METADATA_KEY;
use crate::error::Error;

/// S3 limits user metadata to 2 KiB: the UTF-8 bytes of every key and value added up.
pub const MAX_METADATA_BYTES: usize = 2048;

/// The part of the budget s3blob uses itself: its checksum key and a base64 CRC64NVME.
const OWN_METADATA_BYTES: usize = CRC_METADATA_KEY.len() + 12;

/// Server-side encryption of a new object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sse {
    Aes256,
    AwsKms,
}

/// The attributes as the user asked for them (flags), before they are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requested {
    /// `KEY=VALUE` pairs.
    pub metadata: Vec<String>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub storage_class: Option<String>,
    pub sse: Option<Sse>,
    pub sse_kms_key_id: Option<String>,
}

/// Validated attributes for a new object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectAttributes {
    /// User metadata, keys lowercased (S3 lowercases them too).
    pub metadata: BTreeMap<String, String>,
    pub content_type: String,
    pub cache_control: Option<String>,
    pub storage_class: Option<String>,
    pub sse: Option<Sse>,
    pub sse_kms_key_id: Option<String>,
}

impl ObjectAttributes {
    /// Checks the flags; the content type defaults to a guess from `filename`.
    pub fn new(args: &Requested, filename: &str) -> Result<Self, Error> {
        let metadata = parse_metadata(&args.metadata)?;
        let content_type = match &args.content_type {
            Some(t) => {
                check_header_value("--content-type", t)?;
                t.clone()
            }
            None => guess_content_type(filename).to_owned(),
        };
        if let Some(c) = &args.cache_control {
            check_header_value("--cache-control", c)?;
        }
        let storage_class = args
            .storage_class
            .as_deref()
            .map(|c| {
                let c = c.trim().to_ascii_uppercase();
                if c.is_empty() || !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                    return Err(Error::Usage(format!(
                        "invalid --storage-class {c:?}: use a class name such as STANDARD or STANDARD_IA"
                    )));
                }
                Ok(c)
            })
            .transpose()?;
        if args.sse_kms_key_id.is_some() && args.sse != Some(Sse::AwsKms) {
            return Err(Error::Usage(
                "--sse-kms-key-id needs --sse aws:kms".to_owned(),
            ));
        }
        Ok(Self {
            metadata,
            content_type,
            cache_control: args.cache_control.clone(),
            storage_class,
            sse: args.sse,
            sse_kms_key_id: args.sse_kms_key_id.clone(),
        })
    }
}

/// The MIME type for a file name, or `application/octet-stream`.
pub fn guess_content_type(filename: &str) -> &'static str {
    mime_guess::from_path(filename)
        .first_raw()
        .unwrap_or("application/octet-stream")
}

/// Parses `KEY=VALUE` pairs into user metadata, with S3's rules: keys are header-safe
/// (letters, digits, `-`, `_`, `.`; lowercased), values printable ASCII, no key twice, no
/// key s3blob reserves, and 2 KiB in total including s3blob's own checksum entry.
pub fn parse_metadata(pairs: &[String]) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    let mut total = OWN_METADATA_BYTES;
    for pair in pairs {
        let bad = |why: &str| Error::Usage(format!("invalid --metadata {pair:?}: {why}"));
        let (key, value) = pair.split_once('=').ok_or_else(|| bad("use KEY=VALUE"))?;
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(bad("the key is empty"));
        }
        if !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad(
                "keys may only contain letters, digits, '-', '_' and '.'",
            ));
        }
        if key == CRC_METADATA_KEY {
            return Err(bad(
                "this key is where s3blob records the checksum; choose another",
            ));
        }
        if !value.chars().all(|c| (' '..='~').contains(&c)) {
            return Err(bad(
                "values may only contain printable ASCII (S3 sends metadata as HTTP headers)",
            ));
        }
        total += key.len() + value.len();
        if out.insert(key.clone(), value.to_owned()).is_some() {
            return Err(bad(&format!("the key {key:?} is given twice")));
        }
    }
    if total > MAX_METADATA_BYTES {
        return Err(Error::Usage(format!(
            "--metadata totals {total} bytes with s3blob's checksum entry; S3 allows {MAX_METADATA_BYTES}: shorten keys or values"
        )));
    }
    Ok(out)
}

/// Header values must be visible ASCII or spaces.
fn check_header_value(flag: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() || !value.chars().all(|c| (' '..='~').contains(&c)) {
        return Err(Error::Usage(format!(
            "invalid {flag} {value:?}: use a non-empty value of printable ASCII"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn metadata_is_parsed_and_lowercased() {
        let m = parse_metadata(&pairs(&["Commit=3f2a", "built-by=ci job 7", "empty="])).unwrap();
        assert_eq!(m["commit"], "3f2a");
        assert_eq!(m["built-by"], "ci job 7");
        assert_eq!(m["empty"], "");
    }

    #[test]
    fn bad_metadata_is_refused() {
        for bad in [
            "novalue",
            "=v",
            "a b=c",
            "k/x=v",
            "k=caf\u{e9}",
            "k=line\nbreak",
            "s3blob-crc64nvme=x",
        ] {
            let err = parse_metadata(&pairs(&[bad])).unwrap_err();
            assert!(err.to_string().contains("--metadata"), "{bad}: {err}");
        }
        assert!(parse_metadata(&pairs(&["k=1", "K=2"])).is_err());
        let big = format!("k={}", "x".repeat(MAX_METADATA_BYTES));
        assert!(
            parse_metadata(&[big])
                .unwrap_err()
                .to_string()
                .contains("2048")
        );
        let fits = format!(
            "k={}",
            "x".repeat(MAX_METADATA_BYTES - OWN_METADATA_BYTES - 1)
        );
        assert!(parse_metadata(&[fits]).is_ok());
    }

    #[test]
    fn content_types() {
        assert_eq!(guess_content_type("app.tar.gz"), "application/gzip");
        assert_eq!(guess_content_type("notes.txt"), "text/plain");
        assert_eq!(guess_content_type("app.zip"), "application/zip");
        assert_eq!(guess_content_type("myapp"), "application/octet-stream");
    }

    #[test]
    fn attributes() {
        let args = Requested {
            storage_class: Some("standard_ia".into()),
            sse_kms_key_id: Some("k".into()),
            ..Requested::default()
        };
        assert!(ObjectAttributes::new(&args, "f").is_err());
        let args = Requested {
            storage_class: Some("standard_ia".into()),
            sse: Some(Sse::AwsKms),
            sse_kms_key_id: Some("k".into()),
            content_type: Some("text/x-custom".into()),
            ..Requested::default()
        };
        let a = ObjectAttributes::new(&args, "f.zip").unwrap();
        assert_eq!(a.storage_class.as_deref(), Some("STANDARD_IA"));
        assert_eq!(a.content_type, "text/x-custom");
        let bad = Requested {
            storage_class: Some("no such".into()),
            ..Requested::default()
        };
        assert!(ObjectAttributes::new(&bad, "f").is_err());
    }
}
