//! Uploading one object from a [`PartSource`]: a file ([`file`]) or a stream such as stdin
//! ([`stdin`]). Both cut their bytes into parts and checksum them; everything after that is
//! shared: the key is examined first ([`existing`]: identical bytes already there are success,
//! other bytes are refused), a source that fits in one part is a single PutObject, and a larger
//! one is a multipart upload ([`multipart`]) whose parts go through one send loop
//! ([`send_parts`]), concurrently within the command's budget, each carrying its CRC64NVME.
//! Every request is conditional (`If-None-Match: *`) unless overwriting.

mod existing;
pub mod file;
mod header;
mod multipart;
mod parts;
mod resume;
mod source;
pub mod stdin;

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumType, CompletedPart};
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::attributes::ObjectAttributes;
use crate::checksum;
use crate::error::Error;
use crate::key::ObjectKey;
use crate::listing::Inventory;
use crate::manifest::{MANIFEST_NAME, Manifest};
use crate::progress::SharedProgress;
use crate::s3::{classify, status};
use crate::shutdown::Shutdown;
use crate::transfer::READ_BUFFER;
use crate::transfer::TransferSettings;
use crate::transfer::budget::{Budget, Permit};

pub use existing::{lost, read_back_listed};
pub use file::{FileSource, check_uploadable};
pub use header::ChecksumHeader;
use parts::send_parts;
pub use source::{Body, Part, PartSource, Shape};
pub use stdin::StdinSource;

/// What to upload where, and how; the bytes come from a [`PartSource`].
pub struct UploadRequest {
    pub bucket: String,
    pub key: ObjectKey,
    /// Replace an existing object; otherwise only an identical one is accepted.
    pub overwrite: bool,
    /// Metadata, content type and the like, stored with the object.
    pub attributes: ObjectAttributes,
    pub settings: TransferSettings,
    /// Requests in flight, shared with the command's other transfers.
    pub budget: Budget,
    /// The release's manifest: a sealed release takes nothing but what it already holds.
    /// `None` writes without looking (s3blob's own `SHA256SUMS` while sealing).
    pub manifest: Option<super::Sealing>,
    /// One listing of the release, shared by a batch: a key it shows absent is not HEADed
    /// first (the conditional write still guards it).
    pub listed: Option<Inventory>,
    /// Whether writes carry `x-amz-checksum-crc64nvme`, shared by the command's files.
    pub header: ChecksumHeader,
    /// What the store's conditional writes are worth, and so what is checked around a write.
    pub writes: Writes,
}

/// How far the store can be trusted with `If-None-Match: *` (`--conditional-writes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// It refuses to overwrite, atomically (AWS S3): a new small object is one conditional PUT,
    /// and only a refusal leads to a look at what is there.
    Trusted,
    /// It may ignore the condition (Garage does): the key is looked at before writing, and
    /// after the write is acknowledged it is read back: another upload that landed at the same
    /// moment is exit 6, not a silent replacement. `deferred`: a batch reads back all its keys
    /// at once, with one listing, instead of one HEAD per file.
    Untrusted { deferred: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub size: u64,
    pub crc64: u64,
    pub etag: Option<String>,
    /// 1 for a single PUT.
    pub parts: u64,
    /// An object with the same size and checksum was already at the key; nothing was replaced.
    pub unchanged: bool,
}

impl Uploaded {
    /// A new object was stored from `parts` parts.
    pub(crate) fn stored(size: u64, crc64: u64, etag: Option<String>, parts: u64) -> Self {
        Self {
            size,
            crc64,
            etag,
            parts,
            unchanged: false,
        }
    }

    /// The key already holds these bytes; nothing was sent or replaced.
    pub(crate) fn already_there(size: u64, crc64: u64, etag: Option<String>) -> Self {
        Self {
            unchanged: true,
            ..Self::stored(size, crc64, etag, 0)
        }
    }
}

/// Uploads what `source` yields to `req.key`; a `shutdown` stops it cleanly with
/// `Error::Interrupted`. `progress` is told the sizes and every byte sent; finishing the
/// display is the caller's (it may be shared by several files).
pub async fn upload<S: PartSource>(
    client: &Client,
    req: &UploadRequest,
    source: &mut S,
    progress: &SharedProgress,
    shutdown: &Shutdown,
) -> Result<Uploaded, Error> {
    // Look at the key while the source is checksummed: an object already there decides the
    // outcome before any data moves (a retried CI job re-sends nothing), and it guards servers
    // that ignore the conditional write.
    // Where conditional writes are trusted, a new small object is one conditional PUT: the
    // key is looked at only if the write is refused.
    let look_first = !(req.writes == Writes::Trusted && source.single_hint() == Some(true));
    let held = source.held_size();
    // Each request's future is boxed where it is awaited: an SDK call's future is several KiB,
    // and a batch keeps hundreds of uploads alive at once; inline, every upload's state would
    // be the sum of all the requests it might make (about 47 KiB each).
    // A file that will go in parts may continue an interrupted upload: its unfinished
    // uploads are looked up meanwhile too (see [`resume`]).
    let look_for_leftovers = source.single_hint() == Some(false);
    let (shape, existing, sealed, leftovers) = shutdown
        .guard(async {
            Ok(tokio::join!(
                source.prepare(),
                Box::pin(async {
                    if look_first {
                        existing::precheck(client, req, held).await
                    } else {
                        Ok(None)
                    }
                }),
                Box::pin(sealed_manifest(req)),
                Box::pin(async {
                    if look_for_leftovers {
                        Some(resume::leftovers(client, req).await)
                    } else {
                        None
                    }
                })
            ))
        })
        .await?;
    // The file's own request first: its error names the file.
    let (shape, existing) = (shape?, existing?);
    let sealed = sealed.map_err(|e| match e {
        // Not about the manifest: no request of this upload could have been signed.
        Error::Credentials { why, .. } => Error::Credentials {
            action: format!("upload to s3://{}/{}", req.bucket, req.key),
            why,
        },
        // A missing bucket, a refusal or an unreachable store: the upload's own failure, said
        // as such (the manifest was only the first thing it asked for).
        e @ (Error::NotFound(_) | Error::AccessDenied(_) | Error::Network(_) | Error::Proxy(_)) => {
            let manifest = format!(
                "cannot read the manifest s3://{}/{}/{}/{MANIFEST_NAME}: ",
                req.bucket,
                req.key.suite(),
                req.key.release()
            );
            e.reworded(|m| {
                let why = m.strip_prefix(&manifest).unwrap_or(m);
                format!("cannot upload to s3://{}/{}: {why}", req.bucket, req.key)
            })
        }
        e => e.reworded(|m| {
            format!(
                "cannot upload to s3://{}/{}: the release's manifest could not be read ({m})",
                req.bucket, req.key
            )
        }),
    })?;
    if let Some(manifest) = sealed {
        let (size, crc64) = shutdown.guard(source.whole()).await?;
        return existing::in_sealed_release(&req.bucket, &req.key, &manifest, size, crc64);
    }
    if let Some(existing) = existing {
        let (size, crc64) = shutdown.guard(source.whole()).await?;
        let md5 = source.md5();
        let settled = shutdown
            .guard(Box::pin(existing::settle(
                client, req, existing, size, crc64, md5,
            )))
            .await?;
        // Gone since the listing: upload it after all.
        if let Some(existing) = settled {
            return existing::judge(&req.bucket, &req.key, existing, size, crc64);
        }
    }
    let stored = if shape.single {
        shutdown
            .guard(Box::pin(put_single(client, req, source, progress)))
            .await?
    } else {
        Box::pin(upload_parts(
            client, req, source, shape, leftovers, progress, shutdown,
        ))
        .await?
    };
    Box::pin(existing::read_back(client, req, stored)).await
}

/// A multipart upload of `source`: created, every part sent, completed (or aborted).
async fn upload_parts<S: PartSource>(
    client: &Client,
    req: &UploadRequest,
    source: &mut S,
    shape: Shape,
    leftovers: Option<Result<resume::Leftovers, Error>>,
    progress: &SharedProgress,
    shutdown: &Shutdown,
) -> Result<Uploaded, Error> {
    if let Some((size, _)) = shape.known {
        progress.start(size);
    }
    let (started, kept, keep) =
        Box::pin(begin(client, req, source, shape, leftovers, shutdown)).await?;
    let send = async {
        let assembled = send_parts(
            client,
            req,
            &started,
            source,
            shape.known.is_none(),
            &kept,
            progress,
        )
        .await?;
        source.check_unchanged()?;
        Ok(assembled)
    };
    multipart::finish(client, req, &started, send, shutdown, keep, shape.known).await
}

/// The multipart upload the parts go to: an interrupted one of this very file, adopted with the
/// parts it kept (see [`resume`]; `leftovers`: the key's unfinished uploads, looked up while
/// the file was checksummed), or a new one, described so that a later run can adopt it.
/// Also whether it may be kept on failure (`--resumable`, and the upload can be identified).
async fn begin<S: PartSource>(
    client: &Client,
    req: &UploadRequest,
    source: &S,
    shape: Shape,
    leftovers: Option<Result<resume::Leftovers, Error>>,
    shutdown: &Shutdown,
) -> Result<(multipart::Started, HashMap<u64, CompletedPart>, bool), Error> {
    let wanted = req.settings.resumable;
    let planned = source
        .planned()
        .filter(|p| p.len() < resume::DESCRIPTOR_PART as usize);
    let (Some(planned), Some((size, crc64)), Some(leftovers)) = (planned, shape.known, leftovers)
    else {
        let started = multipart::start(client, req, shape.known.map(|(_, crc)| crc)).await?;
        return Ok((started, HashMap::new(), false));
    };
    let descriptor = resume::descriptor(req, size, crc64, &planned);
    let found = shutdown
        .guard(async {
            Ok(Box::pin(resume::find(client, req, leftovers?, &planned, &descriptor)).await)
        })
        .await;
    let found = match found {
        Ok(found) => found,
        Err(e @ Error::Interrupted { .. }) => return Err(e),
        Err(e) => {
            if wanted {
                warn!("{e}; this upload cannot be resumed and is aborted if interrupted");
            } else {
                debug!("not looking for an interrupted upload to resume: {e}");
            }
            let started = multipart::start(client, req, Some(crc64)).await?;
            return Ok((started, HashMap::new(), false));
        }
    };
    if let Some(adopted) = found {
        tracing::info!(
            "resuming the interrupted upload of s3://{}/{} (id {}): {} of {} parts ({}) already stored and checked, sending the rest",
            req.bucket,
            req.key,
            adopted.started.id,
            adopted.kept.len(),
            planned.len(),
            crate::values::human_bytes(adopted.kept_bytes)
        );
        return Ok((adopted.started, adopted.kept, wanted));
    }
    let started = multipart::start(client, req, Some(crc64)).await?;
    if !started.checksums {
        if wanted {
            warn!(
                "the store takes no CRC64NVME checksums here, so a resumed upload could not be checked: s3://{}/{} is aborted if interrupted",
                req.bucket, req.key
            );
        }
        return Ok((started, HashMap::new(), false));
    }
    let described = shutdown
        .guard(Box::pin(resume::describe(
            client, req, &started, descriptor,
        )))
        .await;
    match described {
        Ok(()) => Ok((started, HashMap::new(), wanted)),
        Err(e) => {
            if matches!(e, Error::Interrupted { .. }) {
                crate::transfer::abort_multipart(
                    client,
                    &req.bucket,
                    &req.key.to_string(),
                    &started.id,
                )
                .await;
                return Err(e);
            }
            if wanted {
                warn!("{e}; this upload cannot be resumed and is aborted if interrupted");
            } else {
                debug!("the upload is not resumable: {e}");
            }
            Ok((started, HashMap::new(), false))
        }
    }
}

/// The release's manifest, if the release is sealed (and the request looks).
async fn sealed_manifest(req: &UploadRequest) -> Result<Option<Arc<Manifest>>, Error> {
    match &req.manifest {
        Some(release) => release.manifest().await,
        None => Ok(None),
    }
}

/// The whole source as one PutObject.
async fn put_single<S: PartSource>(
    client: &Client,
    req: &UploadRequest,
    source: &mut S,
    progress: &SharedProgress,
) -> Result<Uploaded, Error> {
    let key = req.key.to_string();
    let part = source
        .next_part()
        .await?
        .ok_or_else(|| Error::Other(format!("{}: nothing to read", source.label())))?;
    let (size, crc64) = (part.len, part.crc);
    let _permit = req.budget.acquire(size).await;
    progress.start(size);
    debug!(bucket = %req.bucket, %key, size, source = %source.label(), "PutObject");
    let send = |header: bool, body| {
        put_request(client, req, size, crc64, body, header)
            .customize()
            .disable_payload_signing()
            .send()
    };
    let header = req.header.send();
    let mut sent = send(header, part.stream().await?).await;
    if let Err(e) = &sent
        && req.header.retry_without(header, e)
    {
        let again = send(false, part.stream().await?).await;
        req.header.settle(e, again.is_ok());
        sent = again;
    }
    match sent {
        Ok(out) => {
            if let Err(e) = source.check_unchanged() {
                // The server checked the bytes against the checksum computed before sending,
                // but not every server checks: do not leave a possibly torn object behind.
                warn!(%key, "the file changed during the upload; deleting the object");
                let _ = client
                    .delete_object()
                    .bucket(&req.bucket)
                    .key(&key)
                    .send()
                    .await;
                return Err(e);
            }
            progress.advance(size);
            Ok(Uploaded::stored(size, crc64, out.e_tag, 1))
        }
        Err(e) if status(&e) == Some(412) => {
            existing::after_refusal(client, req, size, crc64).await
        }
        Err(e) => Err(classify(&e, "upload to", &req.bucket, Some(&key))),
    }
}

/// Every part of a multipart upload, sent in order, with the whole object's size and CRC64NVME.
pub(crate) struct Assembled {
    pub(crate) parts: Vec<CompletedPart>,
    pub(crate) size: u64,
    pub(crate) crc64: u64,
}

/// Sets the object's attributes on a PutObject or CreateMultipartUpload call (the two builders
/// share these setters but no trait).
macro_rules! with_attributes {
    ($call:expr, $attrs:expr) => {{
        use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};
        let a: &$crate::attributes::ObjectAttributes = $attrs;
        let mut call = $call.content_type(&a.content_type);
        for (k, v) in &a.metadata {
            call = call.metadata(k, v);
        }
        if let Some(c) = &a.cache_control {
            call = call.cache_control(c);
        }
        if let Some(c) = &a.storage_class {
            call = call.storage_class(StorageClass::from(c.as_str()));
        }
        match a.sse {
            Some($crate::attributes::Sse::Aes256) => {
                call = call.server_side_encryption(ServerSideEncryption::Aes256)
            }
            Some($crate::attributes::Sse::AwsKms) => {
                call = call
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .set_ssekms_key_id(a.sse_kms_key_id.clone())
            }
            None => {}
        }
        call
    }};
}

/// A PutObject of `body` (`size` bytes) with the object's attributes, its CRC64NVME (recorded
/// in the metadata, and with `header` sent for the server to check) and, unless overwriting,
/// `If-None-Match: *`.
fn put_request(
    client: &Client,
    req: &UploadRequest,
    size: u64,
    crc64: u64,
    body: ByteStream,
    header: bool,
) -> PutObjectFluentBuilder {
    let crc = checksum::to_base64(crc64);
    let put = with_attributes!(client.put_object(), &req.attributes)
        .bucket(&req.bucket)
        .key(req.key.to_string())
        .content_length(i64::try_from(size).unwrap_or(i64::MAX))
        .set_checksum_crc64_nvme(header.then(|| crc.clone()))
        .metadata(checksum::METADATA_KEY, &crc)
        .body(body);
    if req.overwrite {
        put
    } else {
        put.if_none_match("*")
    }
}

/// A CreateMultipartUpload with the object's attributes, announcing a full-object CRC64NVME
/// with `header`.
fn create_request(
    client: &Client,
    req: &UploadRequest,
    header: bool,
) -> CreateMultipartUploadFluentBuilder {
    let create = with_attributes!(client.create_multipart_upload(), &req.attributes)
        .bucket(&req.bucket)
        .key(req.key.to_string());
    if header {
        create
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .checksum_type(ChecksumType::FullObject)
    } else {
        create
    }
}
