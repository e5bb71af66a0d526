//! `stat`'s result: aligned `field  value` lines, or one JSON object.

use serde_json::{Value, json};

use super::{Report, checksum_json, object_json, signature_json};
use crate::checksum;
use crate::inspect::ObjectInfo;
use crate::key::ObjectKey;
use crate::release::signed::Standing;
use crate::signature::Verdict;
use crate::values::human_bytes;

pub struct StatReport {
    pub bucket: String,
    pub key: ObjectKey,
    pub info: ObjectInfo,
    /// What the signature of the object's release is worth to this reader.
    pub signature: Verdict,
    /// How the object stands against its release's manifest.
    pub manifest: Standing,
}

impl Report for StatReport {
    fn text(&self) -> String {
        let release = [
            ("manifest", self.manifest.describe()),
            ("signature", self.signature.describe()),
        ];
        stat_text(&self.bucket, &self.key, &self.info, &release)
    }

    fn json(&self) -> Value {
        let info = &self.info;
        object_json(
            "stat",
            &self.bucket,
            &self.key,
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
                "manifest": self.manifest.status(),
                "manifest_detail": match &self.manifest {
                    Standing::Differs(why) => Some(why.as_str()),
                    _ => None,
                },
                "signature": signature_json(&self.signature),
            }),
        )
    }

    fn summary(&self) -> String {
        format!("read s3://{}/{}", self.bucket, self.key)
    }
}

/// `stat` for people: aligned `field  value` lines; `release`'s rows (what the release says
/// about the object) come before the metadata, which may take several lines.
fn stat_text(
    bucket: &str,
    key: &ObjectKey,
    info: &ObjectInfo,
    release: &[(&'static str, String)],
) -> String {
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
    rows.extend(release.iter().cloned());
    for (i, (k, v)) in info.metadata.iter().enumerate() {
        rows.push((if i == 0 { "metadata" } else { "" }, format!("{k}={v}")));
    }
    rows.iter()
        .map(|(name, value)| format!("{name:<14} {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_a_block_of_fields() {
        let key = ObjectKey::new("s", "r", "f").unwrap();
        let info = ObjectInfo {
            size: 2048,
            content_type: Some("application/gzip".into()),
            metadata: [("a".into(), "1".into()), ("b".into(), "2".into())].into(),
            ..ObjectInfo::default()
        };
        let text = StatReport {
            bucket: "b".into(),
            key,
            info,
            signature: Verdict::Unsigned,
            manifest: Standing::NotSealed,
        }
        .render(false)
        .unwrap();
        assert_eq!(
            text,
            "uri            s3://b/s/r/f\n\
             size           2048 (2.0 KiB)\n\
             content-type   application/gzip\n\
             checksum       none (only the size can be verified)\n\
             manifest       none (the release is not sealed)\n\
             signature      not signed\n\
             metadata       a=1\n\
             \x20              b=2"
        );
    }
}
