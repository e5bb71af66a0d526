//! What the key holds before (and, after a refused or uncertain write, after) an upload: the
//! rule is that the same size and CRC64NVME means the upload has already happened (success,
//! nothing sent), and anything else is refused unless overwriting.

use aws_sdk_s3::Client;
use tracing::info;

use super::{UploadRequest, Uploaded, Writes};
use crate::error::Error;
use crate::key::ObjectKey;
use crate::manifest::Manifest;
use crate::s3::{classify, status};

/// An object found at the key.
pub(super) struct Existing {
    size: u64,
    crc64: Option<u64>,
    pub(super) etag: Option<String>,
    /// Seen only in the batch's listing (size and ETag, no checksum): [`settle`] decides,
    /// from the local bytes' MD5 where that can tell, else with a HEAD.
    pub(super) listed_only: bool,
}

impl Existing {
    /// Holds exactly `size` bytes with this CRC64NVME.
    pub(super) fn matches(&self, size: u64, crc64: u64) -> bool {
        self.size == size && self.crc64 == Some(crc64)
    }
}

/// What is stored at the key before an upload, unless it is to be overwritten anyway.
///
/// `local_small` is the local file's size when it is small enough to be held in memory (its
/// MD5 can then be compared with the listing's ETag).
pub(super) async fn precheck(
    client: &Client,
    req: &UploadRequest,
    local_small: Option<u64>,
) -> Result<Option<Existing>, Error> {
    if req.overwrite {
        return Ok(None);
    }
    if let Some(inventory) = &req.listed {
        let Some(listed) = inventory.lookup(&req.key.to_string()).await? else {
            return Ok(None);
        };
        // A small object whose ETag may be its MD5: the local bytes' MD5 may settle it
        // without a HEAD (a release uploaded again sends nothing and asks nothing per file).
        if local_small.is_some_and(|size| size == listed.size)
            && listed.etag.as_deref().and_then(plain_md5).is_some()
        {
            return Ok(Some(Existing {
                size: listed.size,
                crc64: None,
                etag: listed.etag,
                listed_only: true,
            }));
        }
    }
    find(client, req).await
}

/// What is stored at the key, if anything. A 403 counts as "unknown" (HEAD on a missing key
/// answers 403 to callers without ListBucket permission); the conditional write still guards.
pub(super) async fn find(client: &Client, req: &UploadRequest) -> Result<Option<Existing>, Error> {
    let _permit = req.budget.acquire(0).await;
    head(client, &req.bucket, &req.key.to_string()).await
}

async fn head(client: &Client, bucket: &str, key: &str) -> Result<Option<Existing>, Error> {
    let head = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await;
    match head {
        Ok(out) => {
            let info = crate::inspect::info(key, out);
            Ok(Some(Existing {
                size: info.size,
                crc64: info.checksum.map(|(crc, _)| crc),
                etag: info.etag,
                listed_only: false,
            }))
        }
        Err(e) if matches!(status(&e), Some(404 | 403)) => Ok(None),
        Err(e) => Err(classify(&e, "upload to", bucket, Some(key))),
    }
}

/// Completes what the listing alone showed: if the local bytes' MD5 is the object's ETag (and
/// the sizes agree), it holds these bytes, so their CRC64NVME is its own; otherwise a HEAD
/// says what it holds (`None`: gone since the listing). An ETag is compared with an MD5 only
/// to spare that HEAD, never to verify data: a different ETag (multipart, SSE-KMS, a store
/// that does not use MD5s) just means asking.
pub(super) async fn settle(
    client: &Client,
    req: &UploadRequest,
    existing: Existing,
    size: u64,
    crc64: u64,
    md5: Option<[u8; 16]>,
) -> Result<Option<Existing>, Error> {
    if !existing.listed_only {
        return Ok(Some(existing));
    }
    let same = existing.size == size
        && md5.is_some_and(|m| existing.etag.as_deref().and_then(plain_md5) == Some(m));
    if same {
        return Ok(Some(Existing {
            crc64: Some(crc64),
            listed_only: false,
            ..existing
        }));
    }
    find(client, req).await
}

/// The MD5 an ETag spells, if it looks like one (32 hex digits, quoted or not); multipart
/// ETags (`...-N`) do not.
fn plain_md5(etag: &str) -> Option<[u8; 16]> {
    let hex = etag.trim().trim_matches('"');
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Same size and checksum: the upload has already happened. Anything else is refused.
pub(super) fn judge(
    bucket: &str,
    key: &ObjectKey,
    existing: Existing,
    size: u64,
    crc64: u64,
) -> Result<Uploaded, Error> {
    if existing.matches(size, crc64) {
        info!(%key, "an identical object is already stored; nothing to upload");
        return Ok(Uploaded::already_there(size, crc64, existing.etag));
    }
    let what = if existing.crc64.is_none() && existing.size == size {
        "already exists, with no CRC64NVME to compare with"
    } else {
        "already exists with different content"
    };
    Err(Error::AlreadyExists(format!(
        "s3://{bucket}/{key} {what}; pass --overwrite to replace it, or upload under another --release"
    )))
}

/// The key is taken (the conditional write was refused): succeed if it holds these very bytes
/// (a retried CI job), refuse otherwise.
pub(super) async fn after_refusal(
    client: &Client,
    req: &UploadRequest,
    size: u64,
    crc64: u64,
) -> Result<Uploaded, Error> {
    match find(client, req).await? {
        Some(existing) => judge(&req.bucket, &req.key, existing, size, crc64),
        // Refused, yet gone: treat as taken, the safe reading.
        None => Err(Error::AlreadyExists(format!(
            "s3://{}/{} was being written by someone else; check it and retry",
            req.bucket, req.key
        ))),
    }
}

/// An upload into a sealed release: the same bytes under a name the manifest lists are done
/// already (a retried job); anything else would change the release, which a seal forbids.
pub(super) fn in_sealed_release(
    bucket: &str,
    key: &ObjectKey,
    manifest: &Manifest,
    size: u64,
    crc64: u64,
) -> Result<Uploaded, Error> {
    match manifest.files.get(key.filename()) {
        Some(e) if e.size == size && e.crc64 == crc64 => {
            info!(%key, "the sealed release already holds these bytes; nothing to upload");
            Ok(Uploaded::already_there(size, crc64, None))
        }
        listed => Err(Error::AlreadyExists(format!(
            "release {}/{} in s3://{}/ is sealed and cannot change ({}); publish under another --release",
            key.suite(),
            key.release(),
            bucket,
            if listed.is_some() {
                format!("its {} holds other bytes", key.filename())
            } else {
                format!("it has no {}", key.filename())
            }
        ))),
    }
}

/// After a write the store acknowledged: where its conditional writes are not trusted, checks
/// that the key holds this very object (the ETag the write was answered with, else the same
/// size and CRC64NVME); another upload that finished at the same moment is exit 6. Nothing is
/// aborted: the write is complete, and the object there is not ours to remove.
pub(super) async fn read_back(
    client: &Client,
    req: &UploadRequest,
    stored: Uploaded,
) -> Result<Uploaded, Error> {
    if stored.unchanged || req.overwrite || req.writes != (Writes::Untrusted { deferred: false }) {
        return Ok(stored);
    }
    match find(client, req).await? {
        Some(e) if holds(&e, &stored) => Ok(stored),
        _ => Err(lost(&req.bucket, &req.key.to_string())),
    }
}

/// Whether `found` at the key is the object `stored` by this command.
pub(super) fn holds(found: &Existing, stored: &Uploaded) -> bool {
    let same_etag = found.etag.is_some() && found.etag == stored.etag;
    same_etag || found.matches(stored.size, stored.crc64)
}

/// The error for a write that another upload replaced at once (a store ignoring the
/// condition).
pub fn lost(bucket: &str, key: &str) -> Error {
    Error::AlreadyExists(format!(
        "another upload of s3://{bucket}/{key} finished at the same moment, and the key holds its object, not this one (the store does not enforce If-None-Match); check the key and retry if it should be this file"
    ))
}

/// The batch form of [`read_back`]: one listing of `prefix` after every file is written; a
/// key whose listed ETag is not the one its write was answered with is looked at (HEAD) and,
/// unless it holds the same bytes, reported lost. Returns the lost keys.
pub async fn read_back_listed(
    client: &Client,
    bucket: &str,
    prefix: &str,
    written: &[(String, Uploaded)],
) -> Result<Vec<String>, Error> {
    if written.is_empty() {
        return Ok(Vec::new());
    }
    let mut listed = std::collections::HashMap::new();
    let mut lister = crate::listing::Lister::new(client, bucket, prefix.to_owned());
    while let Some(page) = lister.next_page().await? {
        for o in page.objects {
            if let Some(key) = o.key {
                listed.insert(key, o.e_tag);
            }
        }
    }
    let mut lost = Vec::new();
    for (key, stored) in written {
        let etag = listed.get(key).cloned().flatten();
        if etag.is_some() && etag == stored.etag {
            continue;
        }
        match head(client, bucket, key).await? {
            Some(e) if holds(&e, stored) => {}
            _ => lost.push(key.clone()),
        }
    }
    Ok(lost)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::manifest::Entry;

    fn existing(size: u64, crc64: Option<u64>, etag: Option<&str>) -> Existing {
        Existing {
            size,
            crc64,
            etag: etag.map(str::to_owned),
            listed_only: false,
        }
    }

    fn key() -> ObjectKey {
        ObjectKey::new("s", "1.0", "a.bin").unwrap()
    }

    #[test]
    fn judge_takes_only_the_same_size_and_checksum_as_done() {
        // (what is stored, local size, local CRC) -> exit code, or 0 for "already uploaded"
        let table = [
            (existing(10, Some(7), Some("\"e\"")), 10, 7, 0),
            (existing(10, Some(7), None), 10, 8, 6),
            (existing(11, Some(7), None), 10, 7, 6),
            // Another tool's object: no CRC64NVME to compare, never taken as the same.
            (existing(10, None, Some("\"e\"")), 10, 7, 6),
        ];
        for (found, size, crc, want) in table {
            let etag = found.etag.clone();
            let got = judge("b", &key(), found, size, crc);
            match (got, want) {
                (Ok(u), 0) => {
                    assert!(u.unchanged && u.parts == 0 && u.size == size && u.crc64 == crc);
                    assert_eq!(u.etag, etag);
                }
                (Err(e), code) => {
                    assert_eq!(e.exit_code(), code, "{e}");
                    assert!(e.to_string().contains("s3://b/s/1.0/a.bin"), "{e}");
                    assert!(e.to_string().contains("--overwrite"), "{e}");
                }
                (Ok(_), code) => panic!("taken as already uploaded; expected exit {code}"),
            }
        }
        let no_crc = judge("b", &key(), existing(10, None, None), 10, 7).unwrap_err();
        assert!(no_crc.to_string().contains("no CRC64NVME"), "{no_crc}");
    }

    #[test]
    fn a_sealed_release_takes_only_the_bytes_its_manifest_lists() {
        let mut files = BTreeMap::new();
        files.insert(
            "a.bin".to_owned(),
            Entry {
                size: 10,
                crc64: 7,
                content_type: None,
                sha256: None,
            },
        );
        let manifest = Manifest {
            suite: "s".into(),
            release: "1.0".into(),
            sealed_at: "2026-01-01T00:00:00Z".into(),
            sealed_by: "s3blob test".into(),
            seal_id: "0".into(),
            files,
            promoted_from: None,
        };
        assert!(
            in_sealed_release("b", &key(), &manifest, 10, 7)
                .unwrap()
                .unchanged
        );
        for (name, size, crc, says) in [
            ("a.bin", 10, 8, "holds other bytes"),
            ("a.bin", 9, 7, "holds other bytes"),
            ("other.bin", 10, 7, "it has no other.bin"),
        ] {
            let key = ObjectKey::new("s", "1.0", name).unwrap();
            let e = in_sealed_release("b", &key, &manifest, size, crc).unwrap_err();
            assert_eq!(e.exit_code(), 6, "{e}");
            assert!(e.to_string().contains(says), "{e}");
            assert!(e.to_string().contains("is sealed"), "{e}");
        }
    }

    #[test]
    fn a_read_back_holds_on_the_same_etag_or_the_same_bytes() {
        let ours = Uploaded::stored(10, 7, Some("\"ours\"".into()), 1);
        // (found at the key) -> holds
        let table = [
            (existing(10, Some(7), Some("\"ours\"")), true),
            // Same ETag, checksum not returned (a HEAD without checksum mode): ours.
            (existing(10, None, Some("\"ours\"")), true),
            // Another writer's object with the very same bytes: nothing lost.
            (existing(10, Some(7), Some("\"theirs\"")), true),
            (existing(10, Some(8), Some("\"theirs\"")), false),
            (existing(11, Some(7), Some("\"theirs\"")), false),
            (existing(10, None, Some("\"theirs\"")), false),
            (existing(10, None, None), false),
        ];
        for (found, want) in table {
            assert_eq!(
                holds(&found, &ours),
                want,
                "{:?} {:?}",
                found.etag,
                found.crc64
            );
        }
        // No ETag on either side is no evidence.
        let no_etag = Uploaded::stored(10, 7, None, 1);
        assert!(!holds(&existing(10, None, None), &no_etag));
    }
}
