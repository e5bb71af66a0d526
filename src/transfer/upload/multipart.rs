//! The life of a multipart upload: started with the object's attributes, finished with the
//! full-object CRC64NVME, and aborted whatever goes wrong in between, so no parts stay stored
//! (and billed). How a completion can end: stored; refused because the key was taken meanwhile
//! (then judged like an existing object); or uncertain (the object may be stored though the
//! answer was an error: then the key is looked at).

use std::future::Future;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{ChecksumType, CompletedMultipartUpload};
use tracing::{debug, warn};

use super::{Assembled, UploadRequest, Uploaded, existing};
use crate::checksum;
use crate::error::Error;
use crate::s3::{classify, status};
use crate::shutdown::Shutdown;

/// A multipart upload under way.
pub(super) struct Started {
    pub(super) id: String,
    /// Created announcing CRC64NVME: its parts and its completion carry checksums.
    pub(super) checksums: bool,
    /// Started by an earlier run and adopted by this one (see [`super::resume`]).
    pub(super) adopted: bool,
}

/// Starts a multipart upload. `crc64`, when known before the first part (files; not streams),
/// is recorded in the object's metadata. Whether it announces CRC64NVME is the checksum-header
/// policy's call (a store that refuses the header refuses it here).
pub(super) async fn start(
    client: &Client,
    req: &UploadRequest,
    crc64: Option<u64>,
) -> Result<Started, Error> {
    let key = req.key.to_string();
    let mut announced = false;
    let created = req
        .header
        .with_fallback(|header| {
            announced = header;
            let mut create = super::create_request(client, req, header);
            if let Some(crc) = crc64 {
                create = create.metadata(checksum::METADATA_KEY, checksum::to_base64(crc));
            }
            create.send()
        })
        .await
        .map_err(|e| classify(&e, "upload to", &req.bucket, Some(&key)))?;
    let upload_id = created.upload_id.ok_or_else(|| {
        Error::Other(format!(
            "the server started no multipart upload for s3://{}/{key}",
            req.bucket
        ))
    })?;
    debug!(%key, %upload_id, checksums = announced, "multipart upload created");
    Ok(Started {
        id: upload_id,
        checksums: announced,
        adopted: false,
    })
}

/// How CompleteMultipartUpload ended.
enum Completion {
    /// Stored; the new object's ETag.
    Done(Option<String>),
    /// 412: the conditional write found the key taken.
    Refused,
    /// An error that does not prove the object was not stored.
    Uncertain(Error),
}

/// Runs `send` (the parts) and completes the upload, both stopped by `shutdown`; whatever
/// fails, the upload is aborted, unless `keep` (`--resumable`, for an upload the next run can
/// identify) and the failure is one a later run may get past: a signal, or the network or the
/// store failing past the retries. A refused completion (the key was taken meanwhile) succeeds
/// only if the key holds these very bytes.
///
/// `whole`: the size and CRC64NVME of the file, when known before sending. If `started` was
/// adopted (see [`super::resume`]), another run resuming the same upload may complete it
/// first, and this run's parts then fail (NoSuchUpload on S3; other stores answer otherwise):
/// a failure that leaves the key holding exactly these bytes is that run's success, and this
/// one's.
pub(super) async fn finish(
    client: &Client,
    req: &UploadRequest,
    started: &Started,
    send: impl Future<Output = Result<Assembled, Error>>,
    shutdown: &Shutdown,
    keep: bool,
    whole: Option<(u64, u64)>,
) -> Result<Uploaded, Error> {
    let key = req.key.to_string();
    let upload_id = started.id.as_str();
    let work = async {
        let Assembled { parts, size, crc64 } = send.await?;
        let count = parts.len() as u64;
        let completion = complete(client, req, started, parts, crc64).await;
        Ok((size, crc64, count, completion))
    };
    let (size, crc64, count, completion) = match shutdown.guard(work).await {
        Ok(done) => done,
        Err(err) => {
            if let Some((size, crc64)) = whole
                && started.adopted
                && !matches!(err, Error::Interrupted { .. })
                && let Ok(Some(e)) = existing::find(client, req).await
                && e.matches(size, crc64)
            {
                warn!(%key, "another run finished the upload this one was resuming; the object is stored intact ({err})");
                return Ok(Uploaded::already_there(size, crc64, e.etag));
            }
            return Box::pin(give_up(client, req, started, err, keep)).await;
        }
    };
    match completion {
        Completion::Done(etag) => Ok(Uploaded::stored(size, crc64, etag, count)),
        Completion::Refused => {
            crate::transfer::abort_multipart(client, &req.bucket, &key, upload_id).await;
            existing::after_refusal(client, req, size, crc64).await
        }
        Completion::Uncertain(err) => {
            // The server may have assembled the object and then failed to answer (a dropped
            // connection, a retry that finds the upload gone, an answer the SDK cannot parse).
            // If the key now holds exactly these bytes, the upload succeeded.
            match existing::find(client, req).await {
                Ok(Some(e)) if e.matches(size, crc64) => {
                    warn!(%key, "completing the upload reported an error, but the object is stored intact: {err}");
                    Ok(Uploaded::stored(size, crc64, e.etag, count))
                }
                // Other bytes hold the key, and this upload was not to replace them: another
                // writer got there first, as a refusal would have said (some stores answer a
                // losing completion with a 200 whose body is an error).
                Ok(Some(e)) if !req.overwrite => {
                    debug!(%key, "completing the upload failed ({err}) and the key holds another object");
                    crate::transfer::abort_multipart(client, &req.bucket, &key, upload_id).await;
                    existing::judge(&req.bucket, &req.key, e, size, crc64)
                }
                _ => {
                    crate::transfer::abort_multipart(client, &req.bucket, &key, upload_id).await;
                    Err(err)
                }
            }
        }
    }
}

/// An upload that failed with `err` before it was completed: kept for the next run (`keep`,
/// and a failure a later run may get past), else aborted.
async fn give_up(
    client: &Client,
    req: &UploadRequest,
    started: &Started,
    err: Error,
    keep: bool,
) -> Result<Uploaded, Error> {
    let key = req.key.to_string();
    if keep && resumable_after(&err) {
        warn!(
            "kept s3://{}/{key} upload for resuming: run the same command again, or {}",
            req.bucket,
            super::resume::abort_hint(req)
        );
        crate::error::note_kept_upload();
    } else {
        crate::transfer::abort_multipart(client, &req.bucket, &key, &started.id).await;
    }
    Err(err)
}

/// Whether an upload that failed this way is worth keeping for the next run: it was stopped
/// (a signal) or could not get through (the network, the proxy, the store failing past the
/// retries); not a file that changed, a refusal or a missing bucket, which another run meets
/// again.
fn resumable_after(err: &Error) -> bool {
    matches!(
        err,
        Error::Interrupted { .. } | Error::Network(_) | Error::Proxy(_) | Error::Other(_)
    )
}

/// One CompleteMultipartUpload with the full-object CRC64NVME, conditional unless overwriting.
async fn complete(
    client: &Client,
    req: &UploadRequest,
    started: &Started,
    parts: Vec<aws_sdk_s3::types::CompletedPart>,
    crc64: u64,
) -> Completion {
    let key = req.key.to_string();
    let mut call = client
        .complete_multipart_upload()
        .bucket(&req.bucket)
        .key(&key)
        .upload_id(&started.id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        );
    if started.checksums {
        call = call
            .checksum_crc64_nvme(checksum::to_base64(crc64))
            .checksum_type(ChecksumType::FullObject);
    }
    if !req.overwrite {
        call = call.if_none_match("*");
    }
    match call.send().await {
        Ok(out) => Completion::Done(out.e_tag),
        // Refused by the conditional write: someone stored the key meanwhile.
        Err(e) if status(&e) == Some(412) => Completion::Refused,
        Err(e) => Completion::Uncertain(classify(
            &e,
            "complete the upload of",
            &req.bucket,
            Some(&key),
        )),
    }
}
