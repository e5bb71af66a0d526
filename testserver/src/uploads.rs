//! The unfinished multipart uploads of a bucket and the parts of one, as S3 lists them
//! (ListMultipartUploads, ListParts), for the s3s-fs backend: s3s-fs 0.14.1 has no
//! ListMultipartUploads at all, and its ListParts gives each part's size but no ETag and no
//! checksum, in directory order, on one page. What s3s-fs keeps on disk is read here instead:
//! an upload is `.upload-ID.json` (it exists until the upload is completed or aborted) with its
//! bucket and key in the name of its attributes file
//! (`.bucket-B64.object-B64.upload-ID.metadata.json`), a part is `.upload_id-ID.part-N`. Each
//! part's CRC64NVME is computed from the stored bytes when listed (a part changed on disk
//! answers its new checksum, as a store describes what it holds); its ETag is the one
//! UploadPart answered, recomputed (MD5) if the part changed since.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Result};

/// One unfinished upload.
#[derive(Debug, Clone)]
pub struct Unfinished {
    pub key: String,
    pub upload_id: String,
    pub initiated: SystemTime,
}

/// The answer S3 gives when an upload is unknown.
pub fn no_such_upload() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchUpload,
        "The specified multipart upload does not exist",
    )
}

/// The page size a listing answers with: the request's, capped at 1,000 as S3 does, and at
/// `cap` when a test set one (so a test sees several pages).
pub fn page_size(asked: Option<i32>, cap: usize) -> usize {
    let asked = asked.and_then(|n| usize::try_from(n).ok()).unwrap_or(1000);
    let mut size = asked.clamp(1, 1000);
    if cap > 0 {
        size = size.min(cap);
    }
    size
}

/// One page of `uploads` (any order) under `prefix`, after the markers, sorted as S3 sorts
/// them: by key, then by upload id here (the markers need a total order).
pub fn uploads_page(
    bucket: &str,
    mut uploads: Vec<Unfinished>,
    input: &ListMultipartUploadsInput,
    cap: usize,
) -> ListMultipartUploadsOutput {
    let prefix = input.prefix.clone().unwrap_or_default();
    uploads.retain(|u| u.key.starts_with(&prefix));
    uploads.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
    if let Some(km) = &input.key_marker {
        let im = input.upload_id_marker.clone();
        uploads.retain(|u| match &im {
            Some(im) => (&u.key, &u.upload_id) > (km, im),
            None => &u.key > km,
        });
    }
    let size = page_size(input.max_uploads, cap);
    let truncated = uploads.len() > size;
    uploads.truncate(size);
    let last = uploads.last().cloned().filter(|_| truncated);
    ListMultipartUploadsOutput {
        bucket: Some(bucket.to_owned()),
        prefix: Some(prefix),
        key_marker: input.key_marker.clone(),
        upload_id_marker: input.upload_id_marker.clone(),
        max_uploads: i32::try_from(size).ok(),
        is_truncated: Some(truncated),
        next_key_marker: last.as_ref().map(|u| u.key.clone()),
        next_upload_id_marker: last.map(|u| u.upload_id),
        uploads: Some(
            uploads
                .into_iter()
                .map(|u| MultipartUpload {
                    key: Some(u.key),
                    upload_id: Some(u.upload_id),
                    initiated: Some(Timestamp::from(u.initiated)),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}

/// One page of `parts` (any order) after `input.part_number_marker`.
pub fn parts_page(mut parts: Vec<Part>, input: &ListPartsInput, cap: usize) -> ListPartsOutput {
    parts.sort_by_key(|p| p.part_number);
    let marker = input.part_number_marker.unwrap_or(0);
    parts.retain(|p| p.part_number.unwrap_or(0) > marker);
    let size = page_size(input.max_parts, cap);
    let truncated = parts.len() > size;
    parts.truncate(size);
    ListPartsOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        upload_id: Some(input.upload_id.clone()),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: parts.last().and_then(|p| p.part_number),
        max_parts: i32::try_from(size).ok(),
        is_truncated: Some(truncated),
        parts: Some(parts),
        ..Default::default()
    }
}

/// The CRC64NVME of `data` as S3 writes it: base64 of the big-endian value.
pub fn crc64nvme_base64(crc: u64) -> String {
    base64_simd::STANDARD.encode_to_string(crc.to_be_bytes())
}

/// The ETag UploadPart answered for a part, with the stored file's size and modification time
/// then: valid while the file is unchanged.
struct Answered {
    len: u64,
    mtime: SystemTime,
    etag: String,
}

/// What s3s-fs keeps of multipart uploads under its root, read as S3 lists it.
#[derive(Default)]
pub struct OnDisk {
    /// By (upload id, part number).
    etags: Mutex<HashMap<(String, i32), Answered>>,
}

/// An upload id s3s-fs could have made (a UUID): anything else names no file of its.
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

fn internal(e: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, e.to_string())
}

impl OnDisk {
    /// Records the ETag UploadPart answered for part `n` of `upload_id`, stored in `root`.
    pub fn part_stored(&self, root: &Path, upload_id: &str, n: i32, etag: &str) {
        let path = part_path(root, upload_id, n);
        if let Ok(meta) = std::fs::metadata(&path) {
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            self.etags
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(
                    (upload_id.to_owned(), n),
                    Answered {
                        len: meta.len(),
                        mtime,
                        etag: etag.to_owned(),
                    },
                );
        }
    }

    /// Forgets an upload that was completed or aborted.
    pub fn forget(&self, upload_id: &str) {
        self.etags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(id, _), _| id != upload_id);
    }

    /// The unfinished uploads of `bucket`.
    pub fn uploads(root: &Path, bucket: &str) -> S3Result<Vec<Unfinished>> {
        let b64 = |s: &str| base64_simd::URL_SAFE_NO_PAD.encode_to_string(s);
        let head = format!(".bucket-{}.object-", b64(bucket));
        let mut out = Vec::new();
        for entry in std::fs::read_dir(root).map_err(internal)? {
            let name = entry.map_err(internal)?.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name
                .strip_prefix(&head)
                .and_then(|r| r.strip_suffix(".metadata.json"))
            else {
                continue;
            };
            let Some((key, id)) = rest.split_once(".upload-") else {
                continue;
            };
            let Ok(key) = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(key) else {
                continue;
            };
            let Ok(key) = String::from_utf8(key) else {
                continue;
            };
            // Still open: s3s-fs removes this file when the upload is completed or aborted.
            let Ok(info) = std::fs::metadata(root.join(format!(".upload-{id}.json"))) else {
                continue;
            };
            out.push(Unfinished {
                key,
                upload_id: id.to_owned(),
                initiated: info.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
        Ok(out)
    }

    /// Every stored part of `upload_id`, with its size, ETag and CRC64NVME.
    pub async fn parts(&self, root: &Path, upload_id: &str) -> S3Result<Vec<Part>> {
        if !plausible_id(upload_id) || !root.join(format!(".upload-{upload_id}.json")).exists() {
            return Err(no_such_upload());
        }
        let head = format!(".upload_id-{upload_id}.part-");
        let mut numbered = Vec::new();
        for entry in std::fs::read_dir(root).map_err(internal)? {
            let name = entry.map_err(internal)?.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_prefix(&head))
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            numbered.push(n);
        }
        let mut parts = Vec::with_capacity(numbered.len());
        for n in numbered {
            let path = part_path(root, upload_id, n);
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let known = self.etag_of(upload_id, n, meta.len(), mtime);
            let need_md5 = known.is_none();
            let (crc, md5) = tokio::task::spawn_blocking(move || digest(&path, need_md5))
                .await
                .map_err(internal)?
                .map_err(internal)?;
            let etag = known.or(md5).unwrap_or_default();
            parts.push(Part {
                part_number: Some(n),
                size: i64::try_from(meta.len()).ok(),
                last_modified: Some(Timestamp::from(mtime)),
                e_tag: Some(ETag::Strong(etag)),
                checksum_crc64nvme: Some(crc64nvme_base64(crc)),
                ..Default::default()
            });
        }
        Ok(parts)
    }

    fn etag_of(&self, upload_id: &str, n: i32, len: u64, mtime: SystemTime) -> Option<String> {
        self.etags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(upload_id.to_owned(), n))
            .filter(|a| a.len == len && a.mtime == mtime)
            .map(|a| a.etag.clone())
    }
}

/// The CRC64NVME of stored part `n` (base64, as S3 reports a copied part's), if it is there.
pub async fn part_crc64nvme(root: &Path, upload_id: &str, n: i32) -> Option<String> {
    let path = part_path(root, upload_id, n);
    let (crc, _) = tokio::task::spawn_blocking(move || digest(&path, false))
        .await
        .ok()?
        .ok()?;
    Some(crc64nvme_base64(crc))
}

fn part_path(root: &Path, upload_id: &str, n: i32) -> PathBuf {
    root.join(format!(".upload_id-{upload_id}.part-{n}"))
}

/// The CRC64NVME of a stored part, and its MD5 (hex) when `md5` is asked.
fn digest(path: &Path, md5: bool) -> std::io::Result<(u64, Option<String>)> {
    use md5::Digest as _;
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut crc = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme);
    let mut sum = md5.then(md5::Md5::new);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
        if let Some(s) = sum.as_mut() {
            s.update(&buf[..n]);
        }
    }
    let hex = sum.map(|s| {
        s.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    });
    Ok((crc.finalize(), hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_markers() {
        let at = SystemTime::UNIX_EPOCH;
        let u = |k: &str, id: &str| Unfinished {
            key: k.into(),
            upload_id: id.into(),
            initiated: at,
        };
        let all = vec![u("a/2", "x"), u("a/1", "y"), u("a/1", "b"), u("b/1", "c")];
        let mut input = ListMultipartUploadsInput::builder()
            .bucket("bk".to_owned())
            .prefix(Some("a/".to_owned()))
            .build()
            .unwrap();
        let mut seen = Vec::new();
        loop {
            let page = uploads_page("bk", all.clone(), &input, 2);
            for up in page.uploads.unwrap() {
                seen.push((up.key.unwrap(), up.upload_id.unwrap()));
            }
            if page.is_truncated != Some(true) {
                break;
            }
            input.key_marker = page.next_key_marker;
            input.upload_id_marker = page.next_upload_id_marker;
        }
        let want: Vec<(String, String)> = [("a/1", "b"), ("a/1", "y"), ("a/2", "x")]
            .iter()
            .map(|(k, i)| ((*k).to_owned(), (*i).to_owned()))
            .collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn checksums_are_big_endian_base64() {
        // The CRC64NVME of "" is 0; of "123456789" it is 0xAE8B14860A799888.
        assert_eq!(crc64nvme_base64(0), "AAAAAAAAAAA=");
        assert_eq!(crc64nvme_base64(0xAE8B_1486_0A79_9888), "rosUhgp5mIg=");
    }
}
