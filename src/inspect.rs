//! What the server says about one stored object (HeadObject), for `stat` and the checksum
//! column of `list`.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{ChecksumMode, ChecksumType};
use aws_smithy_types::date_time::Format;
use tracing::warn;

use crate::checksum;
use crate::error::Error;
use crate::s3::classify;

/// Where an object's CRC64NVME comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumSource {
    /// Recorded by s3blob in the object's metadata at upload.
    Metadata,
    /// The server's own full-object CRC64NVME.
    Server,
    /// The release's manifest (`list` of a sealed release reads no object's own checksum).
    Manifest,
}

impl ChecksumSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumSource::Metadata => "s3blob-metadata",
            ChecksumSource::Server => "server",
            ChecksumSource::Manifest => "manifest",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    /// RFC 3339, UTC.
    pub last_modified: Option<String>,
    pub etag: Option<String>,
    pub checksum: Option<(u64, ChecksumSource)>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub storage_class: Option<String>,
    pub server_side_encryption: Option<String>,
    pub sse_kms_key_id: Option<String>,
    /// User metadata, without the entry s3blob keeps its checksum in.
    pub metadata: BTreeMap<String, String>,
}

/// HEADs `s3://bucket/key`; a missing object is `Error::NotFound`.
pub async fn head(client: &Client, bucket: &str, key: &str) -> Result<ObjectInfo, Error> {
    let out = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(|e| classify(&e, "read", bucket, Some(key)))?;
    Ok(info(key, out))
}

/// What a HeadObject response says (`key` only labels a warning).
pub fn info(key: &str, out: HeadObjectOutput) -> ObjectInfo {
    let mut metadata = out.metadata.clone().unwrap_or_default();
    let recorded = metadata.remove(checksum::METADATA_KEY).and_then(|v| {
        let crc = checksum::from_base64(&v);
        if crc.is_none() {
            warn!(%key, "its {} metadata {v:?} is not a CRC64NVME", checksum::METADATA_KEY);
        }
        crc
    });
    let full_object = matches!(out.checksum_type(), None | Some(ChecksumType::FullObject));
    let server = out
        .checksum_crc64_nvme()
        .filter(|_| full_object)
        .and_then(checksum::from_base64);
    ObjectInfo {
        size: out
            .content_length()
            .and_then(|l| u64::try_from(l).ok())
            .unwrap_or(0),
        last_modified: out.last_modified().and_then(rfc3339),
        etag: out.e_tag().map(str::to_owned),
        checksum: recorded
            .map(|c| (c, ChecksumSource::Metadata))
            .or(server.map(|c| (c, ChecksumSource::Server))),
        content_type: out.content_type().map(str::to_owned),
        cache_control: out.cache_control().map(str::to_owned),
        storage_class: out.storage_class().map(|c| c.as_str().to_owned()),
        server_side_encryption: out.server_side_encryption().map(|s| s.as_str().to_owned()),
        sse_kms_key_id: out.ssekms_key_id().map(str::to_owned),
        metadata: metadata.into_iter().collect(),
    }
}

/// A timestamp as RFC 3339 in UTC, to the second (`2026-11-25T07:15:13Z`): always 20
/// characters, so listings stay aligned whatever precision the server keeps.
pub fn rfc3339(t: &DateTime) -> Option<String> {
    DateTime::from_secs(t.secs()).fmt(Format::DateTime).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_whole_seconds() {
        let t = DateTime::from_fractional_secs(1_764_054_913, 0.5);
        assert_eq!(rfc3339(&t).unwrap(), "2025-11-25T07:15:13Z");
        assert_eq!(
            rfc3339(&DateTime::from_secs(0)).unwrap(),
            "1970-01-01T00:00:00Z"
        );
    }
}
