//! Promoting a release: copying it on the server to another suite, release name or bucket,
//! checking every copy there, and sealing the destination with a manifest naming its origin.
//!
//! What is copied is what the source's manifest lists (or, for an open release the caller
//! allows, what it holds now). Each copy is pinned to the source object's ETag, so a source
//! replaced mid-promote fails its copy instead of being half taken. Nothing is sealed unless
//! every file was copied; the seal then checks each copy's size and CRC64NVME against the
//! source's, writes the manifest create-only and reads it back.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use tracing::warn;

use super::seal::{self, Known, SealRequest, Sealed};
use super::{files, signed, state};
use crate::error::{Error, severity};
use crate::inspect;
use crate::key::ReleaseRef;
use crate::key::SHA256SUMS_SIGNATURE_NAME;
use crate::manifest::{Entry, Manifest, Origin, SHA256SUMS_NAME};
use crate::shutdown::Shutdown;
use crate::signature::{SigningKey, TrustedKey, Verdict};
use crate::transfer::TransferSettings;
use crate::transfer::budget::Budget;
use crate::transfer::copy::{self, Copied, CopyRequest};
use crate::transfer::upload::ChecksumHeader;
use std::sync::Arc;

pub struct PromoteRequest {
    pub from_bucket: String,
    /// The source release (`latest` already resolved).
    pub from: ReleaseRef,
    pub to_bucket: String,
    pub to: ReleaseRef,
    /// Promote an open release as it is now (its files' stored checksums taken as they are).
    pub allow_open: bool,
    /// Objects above this many bytes are copied in parts (UploadPartCopy).
    pub multipart_above: u64,
    pub settings: TransferSettings,
    /// The source must be signed by one of these (none: anything goes).
    pub trusted: Vec<TrustedKey>,
    /// The promoter's key: the copy is signed with it.
    pub sign: Option<Arc<SigningKey>>,
}

/// One file of a promoted release.
pub struct FileCopy {
    pub filename: String,
    pub size: u64,
    pub copied: Copied,
}

/// What a promotion did: each file's copy, and the destination's manifest.
pub struct Promoted {
    pub origin: Origin,
    pub copies: Vec<FileCopy>,
    pub sealed: Sealed,
}

pub async fn promote(
    client: &Client,
    req: &PromoteRequest,
    shutdown: &Shutdown,
) -> Result<Promoted, Error> {
    let (from, to) = (&req.from, &req.to);
    let source_uri = format!("s3://{}/{}", req.from_bucket, from.prefix());
    let dest_uri = format!("s3://{}/{}", req.to_bucket, to.prefix());
    // The source, with its signature judged (and required, with trusted keys).
    // (With trusted keys an open release is refused even with --allow-open: it cannot be
    // signed.)
    let checked = signed::fetch(client, &req.from_bucket, from, &req.trusted).await?;
    signed::require(&checked, &req.from_bucket, from, &req.trusted)?;
    let origin = Origin {
        bucket: req.from_bucket.clone(),
        suite: from.suite().to_owned(),
        release: from.release().to_owned(),
        signed_by: match checked.verdict {
            Verdict::Trusted(k) => Some(k.to_string()),
            _ => None,
        },
    };

    // What to copy: the manifest's files, or (allowed open) what the release holds now.
    let (files, sha256sums) = match checked.manifest {
        Some(manifest) => {
            let sha = manifest.has_sha256();
            let mut files = manifest.files;
            if sha {
                // Written again at the destination by its seal, with the same lines (and
                // signed again there, by the promoter's key, for the new release's name).
                files.remove(SHA256SUMS_NAME);
                files.remove(SHA256SUMS_SIGNATURE_NAME);
            }
            (files, sha)
        }
        None if req.allow_open => (open_files(client, &req.from_bucket, from).await?, false),
        None => {
            return Err(Error::Usage(format!(
                "{source_uri} is not sealed: it may be half-published; seal it first (s3blob seal), or pass --allow-open to promote it as it is"
            )));
        }
    };
    if files.is_empty() {
        return Err(Error::NotFound(format!(
            "{source_uri} holds no files to promote"
        )));
    }
    // A sealed destination with other files cannot take these.
    if let Some(existing) = state::fetch(client, &req.to_bucket, to.suite(), to.release()).await?
        && !existing.same_files(&with_sums(&existing, &files))
    {
        return Err(Error::AlreadyExists(format!(
            "{dest_uri} is sealed with other files; promote to another release"
        )));
    }

    let header = ChecksumHeader::new(req.settings.checksum_header);
    let copies = copy_all(client, req, &files, &header, shutdown).await?;
    let failures: Vec<(&String, &Error)> = copies
        .iter()
        .filter_map(|(name, c)| c.as_ref().err().map(|e| (name, e)))
        .collect();
    if let Some(worst) = failures
        .iter()
        .max_by_key(|(_, e)| severity(e.exit_code()))
        .map(|(_, e)| (*e).clone())
    {
        for (name, e) in &failures {
            warn!("{name}: {e}");
        }
        return Err(worst.reworded(|m| {
            format!(
                "{m} ({} of {} file(s) not promoted; {dest_uri} is not sealed)",
                failures.len(),
                files.len()
            )
        }));
    }
    let copies: Vec<FileCopy> = copies
        .into_iter()
        .filter_map(|(filename, c)| c.ok().map(|c| (filename, c)))
        .map(|(filename, copied)| FileCopy {
            size: files.get(&filename).map_or(0, |e| e.size),
            filename,
            copied,
        })
        .collect();

    // Every copy is checked by the seal (size and CRC64NVME of each object, exactly these
    // files), then the manifest is written create-only and read back.
    let known: BTreeMap<String, Known> = files
        .iter()
        .map(|(name, e)| {
            (
                name.clone(),
                Known {
                    size: e.size,
                    crc64: e.crc64,
                    sha256: e.sha256.clone(),
                },
            )
        })
        .collect();
    let seal_req = SealRequest {
        bucket: req.to_bucket.clone(),
        suite: to.suite().to_owned(),
        release: to.release().to_owned(),
        must_have: files.keys().cloned().collect(),
        expect_files: Some(files.len()),
        sha256sums,
        known,
        promoted_from: Some(origin.clone()),
        settings: req.settings,
        budget: Budget::for_settings(&req.settings),
        header,
        sign: req.sign.clone(),
    };
    let sealed = seal::seal(client, &seal_req, shutdown).await?;
    Ok(Promoted {
        origin,
        copies,
        sealed,
    })
}

/// Every file copied, `concurrency` at a time, in name order; each file's own failure is kept
/// with it. A store that cannot copy on the server, or a signal, stops the copies that have not
/// started (the running ones still finish or abort their own multipart copy) and is the
/// error.
async fn copy_all(
    client: &Client,
    req: &PromoteRequest,
    files: &BTreeMap<String, Entry>,
    header: &ChecksumHeader,
    shutdown: &Shutdown,
) -> Result<Vec<(String, Result<Copied, Error>)>, Error> {
    let dest_uri = format!("s3://{}/{}", req.to_bucket, req.to.prefix());
    let jobs = files
        .iter()
        .map(|(name, entry)| {
            let copy = CopyRequest {
                src_bucket: req.from_bucket.clone(),
                src_key: req.from.key(name)?.to_string(),
                dst_bucket: req.to_bucket.clone(),
                dst_key: req.to.key(name)?.to_string(),
                size: entry.size,
                crc64: entry.crc64,
                multipart_above: req.multipart_above,
                part_size: req.settings.part_size,
                concurrency: req.settings.concurrency,
                checksum_header: header.send(),
            };
            Ok((name.clone(), copy))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    crate::tasks::each(jobs, req.settings.concurrency, |(name, copy)| {
        let (client, shutdown) = (client.clone(), shutdown.clone());
        async move {
            if shutdown.is_triggered() {
                return Err(shutdown.error());
            }
            match copy::copy(&client, &copy, &shutdown).await {
                Ok(copied) => Ok((name, Ok(copied))),
                Err(copy::Failure::Other(e)) if shutdown.is_triggered() => Err(e),
                Err(copy::Failure::Other(e)) => Ok((name, Err(e))),
                Err(copy::Failure::Unsupported(e)) => Err(e),
            }
        }
    })
    .await
    .map_err(|e| match e {
        // Whatever a copy cut short by a signal said, the signal decides the exit code.
        _ if shutdown.is_triggered() => shutdown.error(),
        e => e.reworded(|m| format!("{m} ({dest_uri} is not sealed)")),
    })
}

/// `files` as the destination's manifest would list them (with SHA256SUMS when it has one).
fn with_sums(existing: &Manifest, files: &BTreeMap<String, Entry>) -> BTreeMap<String, Entry> {
    let mut all = files.clone();
    if let Some(sums) = existing.files.get(SHA256SUMS_NAME) {
        all.entry(SHA256SUMS_NAME.to_owned())
            .or_insert_with(|| sums.clone());
    }
    all
}

/// The files of an open release as they are now: sizes from a listing, checksums from a HEAD
/// each.
async fn open_files(
    client: &Client,
    bucket: &str,
    release: &ReleaseRef,
) -> Result<BTreeMap<String, Entry>, Error> {
    let listed = files::list(client, bucket, release).await?;
    let mut out = BTreeMap::new();
    for name in listed.files.keys() {
        let key = release.key(name)?.to_string();
        let info = inspect::head(client, bucket, &key).await?;
        let Some((crc64, _)) = info.checksum else {
            return Err(Error::Usage(format!(
                "s3://{bucket}/{key} has no stored CRC64NVME (another tool wrote it): seal the release first (s3blob seal computes it), then promote"
            )));
        };
        out.insert(
            name.clone(),
            Entry {
                size: info.size,
                crc64,
                content_type: info.content_type,
                sha256: None,
            },
        );
    }
    Ok(out)
}
