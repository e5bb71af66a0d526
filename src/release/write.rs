//! The two objects sealing writes: `SHA256SUMS` (when asked), and last the manifest,
//! create-only, read back so that only the manifest that is stored counts.

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use tracing::debug;

use super::seal::{GENERATED_METADATA, SealRequest, Sealed};
use super::state;
use crate::attributes::ObjectAttributes;
use crate::checksum;
use crate::error::Error;
use crate::key::ObjectKey;
use crate::manifest::{Entry, Manifest};
use crate::progress::{Quiet, SharedProgress};
use crate::s3::{classify, status};
use crate::shutdown::Shutdown;
use crate::transfer::upload::{self, StdinSource, UploadRequest};

/// Writes a file s3blob makes for the release (`SHA256SUMS`, its signature), replacing one
/// s3blob wrote before, and returns its entry; `what` marks it as s3blob's.
pub(super) async fn generated(
    client: &Client,
    req: &SealRequest,
    name: &str,
    text: &str,
    what: &str,
) -> Result<Entry, Error> {
    let attributes = ObjectAttributes {
        content_type: "text/plain; charset=utf-8".to_owned(),
        metadata: [(GENERATED_METADATA.to_owned(), what.to_owned())].into(),
        ..ObjectAttributes::default()
    };
    let up = UploadRequest {
        bucket: req.bucket.clone(),
        key: ObjectKey::new(&req.suite, &req.release, name)?,
        overwrite: true,
        attributes: attributes.clone(),
        settings: req.settings,
        budget: req.budget.clone(),
        manifest: None,
        listed: None,
        header: req.header.clone(),
        // Rewriting s3blob's own file (overwrite): nothing to race.
        writes: crate::transfer::upload::Writes::Trusted,
    };
    let mut source = StdinSource::new(text.as_bytes(), req.settings.part_size);
    let progress: SharedProgress = Arc::new(Quiet);
    let stored = upload::upload(client, &up, &mut source, &progress, &Shutdown::default()).await?;
    let entry = Entry {
        size: stored.size,
        crc64: stored.crc64,
        content_type: Some(attributes.content_type),
        sha256: Some(checksum::sha256_hex(text.as_bytes())),
    };
    Ok(entry)
}

/// Writes the manifest create-only and reads it back: only the manifest that is stored
/// counts.
pub(super) async fn manifest(
    client: &Client,
    req: &SealRequest,
    manifest: Manifest,
    uri: &str,
) -> Result<Sealed, Error> {
    let key = state::manifest_key(&req.suite, &req.release);
    let body = manifest.to_json();
    let crc = checksum::to_base64(checksum::crc64(body.as_bytes()));
    let put = req
        .header
        .with_fallback(|header| {
            client
                .put_object()
                .bucket(&req.bucket)
                .key(&key)
                .content_type("application/json")
                .set_checksum_crc64_nvme(header.then(|| crc.clone()))
                .metadata(checksum::METADATA_KEY, &crc)
                .if_none_match("*")
                .body(ByteStream::from(body.clone().into_bytes()))
                .send()
        })
        .await;
    match put {
        Ok(_) => {}
        Err(e) if status(&e) == Some(412) => {
            // Another seal finished first: fine if it sealed the very same files.
            let stored = stored_after_race(client, req).await?;
            return match stored {
                Some(stored) if stored.same_files(&manifest.files) => Ok(Sealed {
                    manifest: stored,
                    unchanged: true,
                    signed_by: None,
                }),
                _ => Err(Error::AlreadyExists(format!(
                    "{uri} was sealed by another job at the same moment, with other files; this seal did not take effect"
                ))),
            };
        }
        Err(e) => {
            return Err(classify(
                &e,
                "write the manifest of",
                &req.bucket,
                Some(&key),
            ));
        }
    }
    // A server that ignores If-None-Match lets a concurrent seal overwrite ours: the stored
    // manifest decides.
    match stored_after_race(client, req).await? {
        Some(stored) if stored == manifest => Ok(Sealed {
            manifest,
            unchanged: false,
            signed_by: None,
        }),
        _ => Err(Error::AlreadyExists(format!(
            "{uri} was sealed by another job at the same moment (its manifest replaced this one); this seal did not take effect: check the release"
        ))),
    }
}

/// The manifest stored after a write that may have raced another seal. One that still does
/// not verify after a few reads is another writer's, mid-write or altered: not ours (`None`).
async fn stored_after_race(client: &Client, req: &SealRequest) -> Result<Option<Manifest>, Error> {
    match state::fetch(client, &req.bucket, &req.suite, &req.release).await {
        Err(Error::Integrity(why)) => {
            debug!("the stored manifest does not verify: {why}");
            Ok(None)
        }
        other => other,
    }
}
