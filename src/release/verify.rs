//! Checking a stored release without downloading it: every file of the manifest must exist
//! with the listed size and a stored checksum (s3blob's metadata, or the server's full-object
//! CRC64NVME) equal to the listed one; `deep` also reads every object (nothing is written) and
//! recomputes its CRC64NVME, and its SHA-256 where the manifest has one. Without a manifest,
//! each object is checked against its own stored checksum, and the release is reported open.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;

use super::{read, signed};
use crate::error::Error;
use crate::inspect;
use crate::key::{ObjectKey, ReleaseRef};
use crate::manifest::Entry;
use crate::shutdown::Shutdown;
use crate::signature::{TrustedKey, Verdict};
use crate::transfer::TransferSettings;
use crate::transfer::budget::Budget;

pub struct VerifyRequest {
    pub bucket: String,
    pub suite: String,
    pub release: String,
    pub deep: bool,
    pub settings: TransferSettings,
    pub budget: Budget,
    /// The release must be signed by one of these (none: its signature is only reported).
    pub trusted: Vec<TrustedKey>,
}

/// What was found for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Listed in the manifest, not in the store.
    Missing,
    /// Present but not what the manifest (or its own checksum) says; the reason.
    Mismatch(String),
    /// Present, but nothing to check it against without reading it (no stored checksum).
    Unchecked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    pub filename: String,
    pub status: Status,
    pub size: Option<u64>,
    pub crc64: Option<u64>,
}

pub struct Verification {
    pub sealed: bool,
    /// In name order.
    pub files: Vec<FileCheck>,
    /// Objects of a sealed release that its manifest does not list.
    pub unlisted: Vec<String>,
    /// What the manifest's signature is worth.
    pub signature: Verdict,
}

pub async fn verify(
    client: &Client,
    req: &VerifyRequest,
    shutdown: &Shutdown,
) -> Result<Verification, Error> {
    shutdown.guard(verify_inner(client, req)).await
}

async fn verify_inner(client: &Client, req: &VerifyRequest) -> Result<Verification, Error> {
    let release = ReleaseRef::new(&req.suite, &req.release)?;
    let prefix = release.prefix();
    let (checked, present) = tokio::join!(
        signed::fetch(client, &req.bucket, &release, &req.trusted),
        super::files::list(client, &req.bucket, &release)
    );
    let (checked, present) = (checked?, present?);
    signed::require(&checked, &req.bucket, &release, &req.trusted)?;
    let (manifest, signature) = (checked.manifest, checked.verdict);
    let present: Vec<String> = present.files.into_keys().collect();
    if present.is_empty() && manifest.is_none() {
        return Err(Error::NotFound(format!(
            "s3://{}/{prefix} holds no files; check --suite and --release",
            req.bucket
        )));
    }
    let (expected, unlisted): (BTreeMap<String, Option<Entry>>, Vec<String>) = match &manifest {
        Some(m) => (
            m.files
                .iter()
                .map(|(n, e)| (n.clone(), Some(e.clone())))
                .collect(),
            present
                .iter()
                .filter(|n| !m.files.contains_key(*n))
                .cloned()
                .collect(),
        ),
        None => (
            present.iter().map(|n| (n.clone(), None)).collect(),
            Vec::new(),
        ),
    };
    let jobs = expected
        .into_iter()
        .map(|(name, entry)| {
            Ok(Check {
                bucket: req.bucket.clone(),
                key: ObjectKey::new(&req.suite, &req.release, &name)?,
                entry,
                deep: req.deep,
                settings: req.settings,
                budget: req.budget.clone(),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let mut checks = crate::tasks::each(jobs, req.settings.max_requests, |job| {
        let client = client.clone();
        async move { job.run(&client).await }
    })
    .await?;
    checks.sort_by(|a, b| a.filename.cmp(&b.filename));
    Ok(Verification {
        sealed: manifest.is_some(),
        files: checks,
        unlisted,
        signature,
    })
}

/// Checking one file.
struct Check {
    bucket: String,
    key: ObjectKey,
    /// What the manifest lists; `None` for an open release.
    entry: Option<Entry>,
    deep: bool,
    settings: TransferSettings,
    budget: Budget,
}

impl Check {
    async fn run(self, client: &Client) -> Result<FileCheck, Error> {
        let filename = self.key.filename().to_owned();
        let head = {
            let _permit = self.budget.acquire(0).await;
            inspect::head(client, &self.bucket, &self.key.to_string()).await
        };
        let info = match head {
            Ok(info) => info,
            Err(Error::NotFound(_)) => {
                return Ok(FileCheck {
                    filename,
                    status: Status::Missing,
                    size: None,
                    crc64: None,
                });
            }
            Err(e) => return Err(e),
        };
        let stored = info.checksum.map(|(crc, _)| crc);
        let mut check = FileCheck {
            filename,
            status: Status::Ok,
            size: Some(info.size),
            crc64: stored,
        };
        check.status = match (&self.entry, stored) {
            (Some(e), _) if e.size != info.size => Status::Mismatch(format!(
                "{} bytes stored, {} in the manifest",
                info.size, e.size
            )),
            (Some(e), Some(crc)) if e.crc64 != crc => Status::Mismatch(
                "its stored CRC64NVME is not the manifest's (the object was replaced)".to_owned(),
            ),
            (_, None) if !self.deep => Status::Unchecked,
            _ => Status::Ok,
        };
        if self.deep && matches!(check.status, Status::Ok | Status::Unchecked) {
            check.status = self.read(client, stored).await?;
        }
        Ok(check)
    }

    /// Reads the object and compares what it holds with the manifest (or its own checksum).
    async fn read(&self, client: &Client, stored: Option<u64>) -> Result<Status, Error> {
        let read =
            read::read_whole(client, &self.bucket, &self.key, self.settings, &self.budget).await;
        let (got, sha) = match read {
            Ok(read) => read,
            // The object's own checksum did not match what it holds. (The engine's message
            // speaks of a download; nothing was downloaded here.)
            Err(Error::Integrity(_)) => {
                return Ok(Status::Mismatch(
                    "the bytes stored do not match the object's own stored checksum".to_owned(),
                ));
            }
            Err(e) => return Err(e),
        };
        let Some(entry) = &self.entry else {
            return Ok(if stored.is_some() {
                Status::Ok
            } else {
                Status::Unchecked
            });
        };
        if got.crc64 != entry.crc64 {
            return Ok(Status::Mismatch(
                "the bytes stored do not match the manifest's CRC64NVME".to_owned(),
            ));
        }
        if let Some(want) = &entry.sha256
            && *want != sha
        {
            return Ok(Status::Mismatch(
                "the bytes stored do not match the manifest's SHA-256".to_owned(),
            ));
        }
        Ok(Status::Ok)
    }
}
