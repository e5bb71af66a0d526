//! Resuming an interrupted multipart upload of a file, across runs.
//!
//! S3 keeps nothing listable about an unfinished upload but its key, its id and when it
//! started: ListMultipartUploads and ListParts return no metadata. So s3blob marks its own
//! uploads with content the store does list: right after CreateMultipartUpload, part
//! [`DESCRIPTOR_PART`] (10,000, never part of a completed object: S3 drops parts that
//! CompleteMultipartUpload does not name) carries a short text ([`descriptor`]) naming the whole
//! file (size, CRC64NVME, part size) and the object's attributes, sent with its CRC64NVME.
//! ListParts gives that part's size and CRC64NVME back, which is enough to tell whether a
//! leftover upload was started for exactly these bytes and these attributes: its
//! CreateMultipartUpload already fixed the metadata (including the whole object's CRC64NVME
//! that downloads check), and that cannot be read back or changed, so an upload started for
//! other bytes cannot be finished with these.
//!
//! A leftover of this key whose descriptor matches is adopted (the newest, if several): each
//! stored part whose size and CRC64NVME equal the file's part at the same number is kept, every
//! other part is sent again (a part number sent again replaces the stored one), and the upload
//! is completed with the whole object's CRC64NVME as always. Any other leftover (s3blob's for
//! other bytes: the file changed between runs; another tool's; one interrupted before its
//! descriptor was stored) is left alone, with one line saying how to remove it: it may belong
//! to another run that is still sending, and a stale upload cannot be told from a live one.

use std::collections::HashMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{CompletedPart, Part as StoredPart};
use tracing::{debug, warn};

use super::UploadRequest;
use super::multipart::Started;
use crate::checksum;
use crate::error::Error;
use crate::listing;
use crate::s3::classify;

/// The part number of an upload's descriptor: the last S3 allows, so any plan of fewer parts
/// leaves it free (a file cut into exactly 10,000 parts gets none, and is not resumable).
pub(super) const DESCRIPTOR_PART: i32 = 10_000;

/// What an interrupted upload kept, to be finished by this run.
pub(super) struct Adopted {
    pub(super) started: Started,
    /// The stored parts that equal the file's, by 0-based index.
    pub(super) kept: HashMap<u64, CompletedPart>,
    pub(super) kept_bytes: u64,
}

/// The text that identifies an upload of these bytes with these attributes: the whole file's
/// size and CRC64NVME, how it is cut, and everything CreateMultipartUpload stored with it.
pub(super) fn descriptor(
    req: &UploadRequest,
    size: u64,
    crc64: u64,
    parts: &[(u64, u64)],
) -> Vec<u8> {
    let part_size = parts.first().map_or(0, |p| p.0);
    format!(
        "s3blob resumable upload 1\nkey {}\nsize {size}\ncrc64nvme {}\npart-size {part_size}\nparts {}\nattributes {:?}\n",
        req.key,
        checksum::to_base64(crc64),
        parts.len(),
        req.attributes
    )
    .into_bytes()
}

/// The command that removes the unfinished uploads of `req`'s release.
pub(crate) fn abort_hint(req: &UploadRequest) -> String {
    format!(
        "s3blob uploads abort --suite {} --release {} --yes",
        req.key.suite(),
        req.key.release()
    )
}

/// The unfinished uploads of one key, newest first, looked up while the file is checksummed
/// (see [`leftovers`]); [`find`] then picks the one to adopt.
pub(super) struct Leftovers(Vec<Leftover>);

struct Leftover {
    upload: listing::Unfinished,
    /// Its stored parts, listed ahead; `None`: listed when [`find`] comes to it.
    parts: Option<Result<HashMap<i32, StoredPart>, Error>>,
}

/// How many of a key's unfinished uploads (the newest) have their parts listed ahead. A key
/// usually has one: the run that was interrupted.
const LISTED_AHEAD: usize = 2;

/// The unfinished uploads of `req.key`, the newest with their stored parts. This needs only
/// the key, so it runs while the file is checksummed, and a resumed upload's first part goes
/// out as soon as the checksums are known. An error means the store could not list the key's
/// uploads (nothing is resumed then).
pub(super) async fn leftovers(client: &Client, req: &UploadRequest) -> Result<Leftovers, Error> {
    let key = req.key.to_string();
    let mut uploads: Vec<listing::Unfinished> =
        listing::unfinished_uploads(client, &req.bucket, &key)
            .await?
            .into_iter()
            .filter(|u| u.key == key)
            .collect();
    // Newest first.
    uploads.sort_by_key(|u| std::cmp::Reverse(u.initiated));
    let mut out = Vec::with_capacity(uploads.len());
    for (i, upload) in uploads.into_iter().enumerate() {
        let parts = if i < LISTED_AHEAD {
            Some(list_parts(client, &req.bucket, &key, &upload.upload_id).await)
        } else {
            None
        };
        out.push(Leftover { upload, parts });
    }
    Ok(Leftovers(out))
}

/// Picks, among `leftovers`, the unfinished upload started for exactly this file
/// (`planned`: each part's length and CRC64NVME; `descriptor`: see [`descriptor`]). Every
/// other upload of the key is left alone, with one line each.
///
/// Parts listed ahead may have been joined since by another run resuming the same upload:
/// those are sent again (the same bytes under the same number). If that run completed the
/// upload meanwhile, this one's parts fail and the key is then found holding these bytes
/// (success, see `multipart::finish`); if it was aborted, they fail as the upload's would.
pub(super) async fn find(
    client: &Client,
    req: &UploadRequest,
    leftovers: Leftovers,
    planned: &[(u64, u64)],
    descriptor: &[u8],
) -> Option<Adopted> {
    let key = req.key.to_string();
    let want = (
        descriptor.len() as u64,
        checksum::to_base64(checksum::crc64(descriptor)),
    );
    let mut unverifiable = false;
    for Leftover { upload, parts } in leftovers.0 {
        let id = upload.upload_id.as_str();
        let parts = match parts {
            Some(parts) => parts,
            None => list_parts(client, &req.bucket, &key, id).await,
        };
        let parts = match parts {
            Ok(parts) => parts,
            Err(e) => {
                // Gone meanwhile (finished or aborted by another run), or not readable.
                debug!(%key, upload_id = %id, "cannot list the parts of a leftover upload: {e}");
                continue;
            }
        };
        let described = parts.get(&DESCRIPTOR_PART);
        match described.map(|p| (part_size(p), p.checksum_crc64_nvme())) {
            Some((size, Some(crc))) if (size, crc) == (Some(want.0), want.1.as_str()) => {
                return Some(adopt(id, &parts, planned));
            }
            Some((_, Some(_))) => {
                // Not aborted: it may be another run, still sending (a stale one cannot be told
                // from a live one), and aborting it would fail that run.
                warn!(
                    "s3://{}/{key} has an unfinished upload (id {id}) that s3blob started for other bytes or other attributes than these: not resumed, left alone; if no other upload of this key is running, remove it with `{}`",
                    req.bucket,
                    abort_hint(req)
                );
            }
            Some((_, None)) => {
                if !unverifiable {
                    warn!(
                        "s3://{}/{key} has an unfinished upload (id {id}), but the store lists its parts without CRC64NVME checksums, so they cannot be checked against the file: not resumed, left alone; remove it with `{}`",
                        req.bucket,
                        abort_hint(req)
                    );
                }
                unverifiable = true;
            }
            None => {
                let started = upload
                    .initiated
                    .as_ref()
                    .and_then(crate::inspect::rfc3339)
                    .map(|t| format!(", started {t}"))
                    .unwrap_or_default();
                warn!(
                    "s3://{}/{key} has an unfinished upload (id {id}{started}) that is not s3blob's resumable upload of this file: left alone; remove it with `{}`",
                    req.bucket,
                    abort_hint(req)
                );
            }
        }
    }
    None
}

/// The upload `id` with the stored parts that equal the file's.
fn adopt(id: &str, parts: &HashMap<i32, StoredPart>, planned: &[(u64, u64)]) -> Adopted {
    let mut kept = HashMap::new();
    let mut kept_bytes = 0;
    for (index, &(len, crc)) in planned.iter().enumerate() {
        let Ok(number) = i32::try_from(index + 1) else {
            break;
        };
        let Some(stored) = parts.get(&number) else {
            continue;
        };
        let crc = checksum::to_base64(crc);
        if part_size(stored) != Some(len)
            || stored.checksum_crc64_nvme() != Some(crc.as_str())
            || stored.e_tag().is_none()
        {
            debug!(
                part = number,
                "stored part differs from the file; sending it again"
            );
            continue;
        }
        kept.insert(
            index as u64,
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(stored.e_tag.clone())
                .checksum_crc64_nvme(crc)
                .build(),
        );
        kept_bytes += len;
    }
    Adopted {
        started: Started {
            id: id.to_owned(),
            checksums: true,
            adopted: true,
        },
        kept,
        kept_bytes,
    }
}

fn part_size(p: &StoredPart) -> Option<u64> {
    p.size().and_then(|s| u64::try_from(s).ok())
}

/// Every stored part of upload `id`, across all pages (ListParts), by part number.
async fn list_parts(
    client: &Client,
    bucket: &str,
    key: &str,
    id: &str,
) -> Result<HashMap<i32, StoredPart>, Error> {
    let mut parts = HashMap::new();
    let mut marker: Option<String> = None;
    loop {
        debug!(%key, upload_id = %id, ?marker, "ListParts");
        let page = client
            .list_parts()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .set_part_number_marker(marker.take())
            .send()
            .await
            .map_err(|e| classify(&e, "list the stored parts of", bucket, Some(key)))?;
        for p in page.parts() {
            if let Some(n) = p.part_number() {
                parts.insert(n, p.clone());
            }
        }
        match (page.is_truncated(), page.next_part_number_marker()) {
            (Some(true), Some(m)) if !m.is_empty() && m != "0" => marker = Some(m.to_owned()),
            (Some(true), _) => {
                return Err(Error::Other(format!(
                    "cannot list the stored parts of s3://{bucket}/{key}: the server said the listing continues but gave no marker"
                )));
            }
            _ => return Ok(parts),
        }
    }
}

/// Stores `descriptor` as part [`DESCRIPTOR_PART`] of the new upload `started`, before any of
/// the file's parts, so every upload holding data of s3blob's can be identified.
pub(super) async fn describe(
    client: &Client,
    req: &UploadRequest,
    started: &Started,
    descriptor: Vec<u8>,
) -> Result<(), Error> {
    let key = req.key.to_string();
    let crc = checksum::to_base64(checksum::crc64(&descriptor));
    client
        .upload_part()
        .bucket(&req.bucket)
        .key(&key)
        .upload_id(&started.id)
        .part_number(DESCRIPTOR_PART)
        .content_length(descriptor.len() as i64)
        .checksum_crc64_nvme(crc)
        .body(descriptor.into())
        .customize()
        .disable_payload_signing()
        .send()
        .await
        .map_err(|e| classify(&e, "describe the upload of", &req.bucket, Some(&key)))?;
    Ok(())
}
