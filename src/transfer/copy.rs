//! Server-side copies, for `promote`: no byte of the object passes through this machine.
//! Up to `multipart_above` (S3's CopyObject limit, 5 GiB) one CopyObject that keeps the
//! metadata; above it, a multipart upload of UploadPartCopy ranges in parallel, with the
//! source's metadata and attributes set on the new upload and its full-object CRC64NVME given
//! at completion (so the store checks the assembled bytes). Both are create-only at the
//! destination and pinned to the source's ETag; identical content already at the destination
//! is success, different content is exit 6. A failed or interrupted multipart copy is aborted.
//! A store that does not implement the copy (501 or NotImplemented on CopyObject or
//! UploadPartCopy) is told apart ([`Failure::Unsupported`]): no other copy can work there.
//! Many stores answer a copy only once the bytes are copied: each copy request may wait for its
//! response `--timeout` plus two seconds per MiB it copies (at most 15 minutes more), and at
//! most [`PART_COPIES`] parts of one object are copied at once (the work is the store's: more
//! requests only share its copy throughput, and each then takes longer to answer).

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, MetadataDirective,
};
use tracing::debug;

use crate::checksum;
use crate::error::Error;
use crate::inspect::{self, ObjectInfo};
use crate::plan;
use crate::s3::{ExpectServerWork, ServerWork, classify, not_implemented, status};
use crate::shutdown::Shutdown;

/// Part copies of one object in flight at most (fewer with a lower `--concurrency`).
pub const PART_COPIES: usize = 4;

/// The largest object one CopyObject may copy.
pub const COPY_OBJECT_MAX: u64 = 5 * 1024 * plan::MIB;

pub struct CopyRequest {
    pub src_bucket: String,
    pub src_key: String,
    pub dst_bucket: String,
    pub dst_key: String,
    pub size: u64,
    pub crc64: u64,
    /// Above this size, a multipart copy ([`COPY_OBJECT_MAX`] unless tests lower it).
    pub multipart_above: u64,
    pub part_size: u64,
    /// Part copies in flight (at most [`PART_COPIES`]).
    pub concurrency: usize,
    /// Whether the destination store takes the CRC64NVME header (multipart copies).
    pub checksum_header: bool,
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// Copied, in this many parts (1: one CopyObject).
    Copied { parts: usize },
    /// The destination held exactly this object already.
    Unchanged,
}

/// Why a copy failed.
#[derive(Debug)]
pub enum Failure {
    /// The store does not implement server-side copies: the command cannot work there.
    Unsupported(Error),
    Other(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Other(e)
    }
}

/// Copies one object; see the module documentation.
pub async fn copy(
    client: &Client,
    req: &CopyRequest,
    shutdown: &Shutdown,
) -> Result<Copied, Failure> {
    let dst = format!("s3://{}/{}", req.dst_bucket, req.dst_key);
    if let Some(existing) = existing(client, req).await? {
        return Ok(same_or_taken(req, &existing, &dst)?);
    }
    let source = inspect::head(client, &req.src_bucket, &req.src_key).await?;
    if source.size != req.size {
        return Err(Error::Integrity(format!(
            "s3://{}/{} holds {} bytes, not the {} its release lists; verify the source release",
            req.src_bucket, req.src_key, source.size, req.size
        ))
        .into());
    }
    let outcome: Result<usize, CopyError> = if req.size <= req.multipart_above {
        match shutdown
            .guard(async { Ok(copy_object(client, req, &source).await) })
            .await
        {
            Ok(result) => result,
            Err(interrupted) => Err(Failed(interrupted)),
        }
    } else {
        multipart_copy(client, req, &source, shutdown).await
    };
    match outcome {
        Ok(parts) => Ok(Copied::Copied { parts }),
        // Refused by a condition: another copy or upload got to the destination first, or
        // (CopyObject carries both conditions) the source is no longer the object looked at.
        Err(Taken) => match existing(client, req).await? {
            Some(existing) => Ok(same_or_taken(req, &existing, &dst)?),
            None => {
                let now = inspect::head(client, &req.src_bucket, &req.src_key).await?;
                if now.etag != source.etag {
                    return Err(source_changed(req).into());
                }
                Err(Error::Other(format!(
                    "cannot copy to {dst}: the store refused the create-only copy, yet the key is empty; retry"
                ))
                .into())
            }
        },
        Err(SourceChanged) => Err(source_changed(req).into()),
        Err(Failed(e)) => Err(Failure::Other(e)),
        Err(Unsupported(e)) => Err(Failure::Unsupported(e)),
    }
}

/// Why a copy did not happen.
enum CopyError {
    /// 412: the destination key was taken (or, for CopyObject, the source changed).
    Taken,
    /// 412 on a part copy: the source is no longer the object whose ETag pins the copy.
    SourceChanged,
    /// 501 or NotImplemented: the store does not copy on the server.
    Unsupported(Error),
    Failed(Error),
}
use CopyError::{Failed, SourceChanged, Taken, Unsupported};

/// The source was replaced since promote looked at it: its copy was refused, and copying it
/// again would copy other bytes than its release lists.
fn source_changed(req: &CopyRequest) -> Error {
    Error::Integrity(format!(
        "s3://{}/{} changed while it was being copied (it is no longer the object promote looked at); nothing copied: verify the source release",
        req.src_bucket, req.src_key
    ))
}

/// A failed copy request, classified; told apart when the store does not implement it.
fn copy_failed<E>(
    e: &aws_sdk_s3::error::SdkError<
        E,
        aws_smithy_runtime_api::http::Response<aws_smithy_types::body::SdkBody>,
    >,
    action: &str,
    bucket: &str,
    key: &str,
) -> CopyError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let error = classify(e, action, bucket, Some(key));
    if not_implemented(e) {
        Unsupported(error)
    } else {
        Failed(error)
    }
}

impl From<Error> for CopyError {
    fn from(e: Error) -> Self {
        Failed(e)
    }
}

impl From<crate::tasks::TaskFailed> for CopyError {
    fn from(e: crate::tasks::TaskFailed) -> Self {
        Failed(e.into())
    }
}

/// The destination's object, if any.
async fn existing(client: &Client, req: &CopyRequest) -> Result<Option<ObjectInfo>, Error> {
    match inspect::head(client, &req.dst_bucket, &req.dst_key).await {
        Ok(info) => Ok(Some(info)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn same_or_taken(req: &CopyRequest, existing: &ObjectInfo, dst: &str) -> Result<Copied, Error> {
    let crc = existing.checksum.map(|(crc, _)| crc);
    if existing.size == req.size && crc == Some(req.crc64) {
        debug!(%dst, "already holds this object");
        return Ok(Copied::Unchanged);
    }
    Err(Error::AlreadyExists(format!(
        "{dst} already holds a different object ({} bytes, CRC64NVME {}); promote never replaces one: remove it, or promote to another release",
        existing.size,
        crc.map_or_else(|| "unknown".to_owned(), checksum::to_base64)
    )))
}

/// `bucket/key` for `x-amz-copy-source`, the key percent-encoded (`/` kept).
pub fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn copy_object(
    client: &Client,
    req: &CopyRequest,
    source: &ObjectInfo,
) -> Result<usize, CopyError> {
    let mut call = client
        .copy_object()
        .bucket(&req.dst_bucket)
        .key(&req.dst_key)
        .copy_source(copy_source(&req.src_bucket, &req.src_key))
        .metadata_directive(MetadataDirective::Copy)
        .if_none_match("*");
    if let Some(etag) = &source.etag {
        call = call.copy_source_if_match(etag);
    }
    debug!(src = %req.src_key, dst = %req.dst_key, "CopyObject");
    match call
        .customize()
        .interceptor(ExpectServerWork(ServerWork::copying(req.size)))
        .send()
        .await
    {
        Ok(_) => Ok(1),
        Err(e) if status(&e) == Some(412) && source.etag.is_some() => {
            // The destination is taken, or the source changed since the HEAD: tell which.
            Err(Taken)
        }
        Err(e) => Err(copy_failed(&e, "copy to", &req.dst_bucket, &req.dst_key)),
    }
}

async fn multipart_copy(
    client: &Client,
    req: &CopyRequest,
    source: &ObjectInfo,
    shutdown: &Shutdown,
) -> Result<usize, CopyError> {
    let part_size = match plan::upload_plan(req.size, req.part_size) {
        Ok(plan::UploadPlan::Multipart { part_size, .. }) => part_size,
        Ok(plan::UploadPlan::Single) => req.part_size,
        Err(e) => return Err(Failed(e.into())),
    };
    // A multipart upload starts with no metadata: the source's is set here, s3blob's CRC64NVME
    // included.
    let mut metadata: std::collections::HashMap<String, String> =
        source.metadata.clone().into_iter().collect();
    metadata.insert(
        checksum::METADATA_KEY.to_owned(),
        checksum::to_base64(req.crc64),
    );
    let mut create = client
        .create_multipart_upload()
        .bucket(&req.dst_bucket)
        .key(&req.dst_key)
        .set_content_type(source.content_type.clone())
        .set_cache_control(source.cache_control.clone())
        .set_metadata(Some(metadata));
    if let Some(class) = &source.storage_class {
        create = create.storage_class(class.as_str().into());
    }
    if req.checksum_header {
        create = create
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .checksum_type(ChecksumType::FullObject);
    }
    let id = create
        .send()
        .await
        .map_err(|e| copy_failed(&e, "start the copy to", &req.dst_bucket, &req.dst_key))?
        .upload_id
        .ok_or_else(|| {
            Failed(Error::Other(
                "CreateMultipartUpload gave no upload id".into(),
            ))
        })?;
    let parts = shutdown
        .guard(async { Ok(copy_parts(client, req, source, &id, part_size).await) })
        .await;
    let result = match parts {
        Ok(Ok(parts)) => match parts_hold_the_source(req, &parts, part_size) {
            Ok(()) => complete(client, req, &id, parts).await,
            Err(e) => Err(Failed(e)),
        },
        Ok(Err(e)) => Err(e),
        Err(interrupted) => Err(Failed(interrupted)),
    };
    if result.is_err() {
        super::abort_multipart(client, &req.dst_bucket, &req.dst_key, &id).await;
    }
    result
}

/// The copied parts' CRC64NVMEs, as the store reported them, combined and compared with the
/// one the release lists, before the copy is completed: a part copied from the wrong bytes or
/// range is caught here even on a store that does not check the full-object checksum given at
/// completion. A store that reports no part checksums leaves that check to the completion.
fn parts_hold_the_source(
    req: &CopyRequest,
    parts: &[CompletedPart],
    part_size: u64,
) -> Result<(), Error> {
    let lens = plan::chunks(0, req.size, part_size).map(|r| r.end - r.start);
    let crcs: Option<Vec<u64>> = parts
        .iter()
        .map(|p| p.checksum_crc64_nvme().and_then(checksum::from_base64))
        .collect();
    let Some(crcs) = crcs else {
        debug!(dst = %req.dst_key, "the store reported no CRC64NVME for some copied parts");
        return Ok(());
    };
    let copied = checksum::combine_all(crcs.into_iter().zip(lens));
    if copied == req.crc64 {
        return Ok(());
    }
    Err(Error::Integrity(format!(
        "the copy of s3://{}/{} to s3://{}/{} holds other bytes than its release lists (its parts' CRC64NVME combine to {}, the release lists {}); nothing copied: verify the source release",
        req.src_bucket,
        req.src_key,
        req.dst_bucket,
        req.dst_key,
        checksum::to_base64(copied),
        checksum::to_base64(req.crc64)
    )))
}

/// Every range as an UploadPartCopy, `concurrency` at a time, in part order.
async fn copy_parts(
    client: &Client,
    req: &CopyRequest,
    source: &ObjectInfo,
    id: &str,
    part_size: u64,
) -> Result<Vec<CompletedPart>, CopyError> {
    let ranges: Vec<_> = plan::chunks(0, req.size, part_size).collect();
    crate::tasks::each(
        ranges.into_iter().enumerate(),
        req.concurrency.clamp(1, PART_COPIES),
        |(i, range)| {
            let number = i as i32 + 1;
            let len = range.end - range.start;
            let call = client
                .upload_part_copy()
                .bucket(&req.dst_bucket)
                .key(&req.dst_key)
                .upload_id(id)
                .part_number(number)
                .copy_source(copy_source(&req.src_bucket, &req.src_key))
                .copy_source_range(format!("bytes={}-{}", range.start, range.end - 1))
                .set_copy_source_if_match(source.etag.clone());
            let (bucket, key) = (req.dst_bucket.clone(), req.dst_key.clone());
            async move {
                let out = call
                    .customize()
                    .interceptor(ExpectServerWork(ServerWork::copying(len)))
                    .send()
                    .await
                    .map_err(|e| match status(&e) {
                        // A part copy's one condition is the source's ETag.
                        Some(412) => SourceChanged,
                        _ => copy_failed(&e, "copy a part to", &bucket, &key),
                    })?;
                let result = out.copy_part_result;
                Ok::<_, CopyError>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(result.as_ref().and_then(|r| r.e_tag.clone()))
                        .set_checksum_crc64_nvme(
                            result.as_ref().and_then(|r| r.checksum_crc64_nvme.clone()),
                        )
                        .build(),
                )
            }
        },
    )
    .await
}

async fn complete(
    client: &Client,
    req: &CopyRequest,
    id: &str,
    parts: Vec<CompletedPart>,
) -> Result<usize, CopyError> {
    let n = parts.len();
    let mut call = client
        .complete_multipart_upload()
        .bucket(&req.dst_bucket)
        .key(&req.dst_key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .if_none_match("*");
    if req.checksum_header {
        call = call
            .checksum_crc64_nvme(checksum::to_base64(req.crc64))
            .checksum_type(ChecksumType::FullObject);
    }
    match call.send().await {
        Ok(_) => Ok(n),
        Err(e) if status(&e) == Some(412) => Err(Taken),
        Err(e) => Err(Failed(classify(
            &e,
            "complete the copy to",
            &req.dst_bucket,
            Some(&req.dst_key),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copied_parts_are_checked_against_the_listed_crc_before_completion() {
        let bytes: Vec<u8> = (0..25u32).map(|i| (i * 7) as u8).collect();
        let part = |crc: Option<u64>| {
            CompletedPart::builder()
                .set_checksum_crc64_nvme(crc.map(checksum::to_base64))
                .build()
        };
        let req = CopyRequest {
            src_bucket: "a".into(),
            src_key: "s/1/f".into(),
            dst_bucket: "b".into(),
            dst_key: "s/1/f".into(),
            size: 25,
            crc64: checksum::crc64(&bytes),
            multipart_above: 0,
            part_size: 10,
            concurrency: 1,
            checksum_header: true,
        };
        let good: Vec<_> = bytes
            .chunks(10)
            .map(|c| part(Some(checksum::crc64(c))))
            .collect();
        assert!(parts_hold_the_source(&req, &good, 10).is_ok());
        // The second part copied from bytes one further on.
        let mut shifted = good.clone();
        shifted[1] = part(Some(checksum::crc64(&bytes[11..21])));
        let err = parts_hold_the_source(&req, &shifted, 10).unwrap_err();
        assert!(matches!(err, Error::Integrity(_)), "{err}");
        assert!(err.to_string().contains("holds other bytes"), "{err}");
        // A store that reports no part checksum leaves the check to the completion.
        let mut unreported = shifted;
        unreported[2] = part(None);
        assert!(parts_hold_the_source(&req, &unreported, 10).is_ok());
    }

    #[test]
    fn multipart_copies_fit_s3s_limits_up_to_5_tib() {
        let tib = 1024 * 1024 * plan::MIB;
        for size in [COPY_OBJECT_MAX + 1, tib, 5 * tib] {
            let Ok(plan::UploadPlan::Multipart { part_size, parts }) =
                plan::upload_plan(size, 16 * plan::MIB)
            else {
                panic!("{size} bytes: not a multipart plan");
            };
            assert!(parts <= plan::MAX_PARTS, "{size}: {parts} parts");
            assert!((plan::MIN_PART_SIZE..=plan::MAX_PART_SIZE).contains(&part_size));
            let ranges: Vec<_> = plan::chunks(0, size, part_size).collect();
            assert_eq!(ranges.len() as u64, parts);
            assert_eq!(ranges.first().map(|r| r.start), Some(0));
            assert_eq!(ranges.last().map(|r| r.end), Some(size));
            assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
            // Every part but the last is at least S3's minimum.
            assert!(
                ranges[..ranges.len() - 1]
                    .iter()
                    .all(|r| r.end - r.start >= plan::MIN_PART_SIZE)
            );
        }
        assert!(plan::upload_plan(5 * tib + 1, 16 * plan::MIB).is_err());
    }

    #[test]
    fn copy_source_encodes_the_key_but_not_its_slashes() {
        assert_eq!(
            copy_source("b", "s/1.0/a b+c.tar.gz"),
            "b/s/1.0/a%20b%2Bc.tar.gz"
        );
        assert_eq!(copy_source("b", "s/r/é"), "b/s/r/%C3%A9");
    }
}
