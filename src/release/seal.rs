//! Sealing a release: list it, check that it holds what the caller expects, read every file's
//! size and CRC64NVME from the server (streaming the object when it has no stored checksum, or
//! when SHA-256 is wanted and not known), optionally write `SHA256SUMS`, then write the manifest
//! create-only and read it back.
//!
//! What a sealed release guarantees depends on the server. Where conditional writes are
//! honoured, two seals cannot both write a manifest: the loser's write is refused and it finds
//! the winner's. Where they are not (Garage, for one), both writes succeed and the later
//! replaces the earlier; the read-back then tells each sealer whose manifest is stored, so at
//! most one reports success with a manifest other than the stored one.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use tracing::{debug, info, warn};

use super::{read, state, write};
use crate::error::Error;
use crate::inspect::{self, ChecksumSource};
use crate::key::SHA256SUMS_SIGNATURE_NAME;
use crate::key::{ObjectKey, ReleaseRef};
use crate::manifest::{self, Entry, Manifest, Origin, SHA256SUMS_NAME};
use crate::shutdown::Shutdown;
use crate::signature::{KeyId, SigningKey};
use crate::transfer::TransferSettings;
use crate::transfer::budget::Budget;
use crate::transfer::upload::ChecksumHeader;

/// User metadata on a `SHA256SUMS` that s3blob wrote (so a later seal may rewrite it, while
/// one the user uploaded is theirs).
pub const GENERATED_METADATA: &str = "s3blob-generated";

/// What a file is known to be (it was just uploaded by this command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub size: u64,
    pub crc64: u64,
    pub sha256: Option<String>,
}

pub struct SealRequest {
    pub bucket: String,
    pub suite: String,
    pub release: String,
    /// `--file`: names the release must hold.
    pub must_have: Vec<String>,
    /// `--expect-files`: how many files exactly.
    pub expect_files: Option<usize>,
    /// `--sha256sums`: compute SHA-256 of every file and store `SHA256SUMS`.
    pub sha256sums: bool,
    /// Files this command uploaded: their stored object must still be this.
    pub known: BTreeMap<String, Known>,
    /// For a promoted release: where it came from.
    pub promoted_from: Option<Origin>,
    pub settings: TransferSettings,
    pub budget: Budget,
    /// Whether writes carry the checksum header (shared with the command's uploads).
    pub header: ChecksumHeader,
    /// `--sign-key` / `S3BLOB_SIGN_KEY`: sign the manifest (and `SHA256SUMS`).
    pub sign: Option<std::sync::Arc<SigningKey>>,
}

/// The outcome: the manifest that is stored.
pub struct Sealed {
    pub manifest: Manifest,
    /// The release was already sealed with exactly these files (a retried job): nothing
    /// written (but a signature, when one was missing).
    pub unchanged: bool,
    /// The key whose valid signature the release now carries.
    pub signed_by: Option<KeyId>,
}

pub async fn seal(
    client: &Client,
    req: &SealRequest,
    shutdown: &Shutdown,
) -> Result<Sealed, Error> {
    shutdown
        .guard(async {
            let mut sealed = seal_inner(client, req).await?;
            if let Some(key) = &req.sign {
                let release = ReleaseRef::new(&req.suite, &req.release)?;
                sealed.signed_by =
                    Some(super::signed::ensure(client, &req.bucket, &release, key).await?);
            }
            Ok(sealed)
        })
        .await
}

async fn seal_inner(client: &Client, req: &SealRequest) -> Result<Sealed, Error> {
    let release = ReleaseRef::new(&req.suite, &req.release)?;
    let prefix = release.prefix();
    let uri = format!("s3://{}/{prefix}", req.bucket);
    let listed = super::files::list(client, &req.bucket, &release).await?;
    let (mut sizes, sealed) = (listed.sizes(), listed.sealed);
    if sealed {
        return already_sealed(client, req, &sizes, &uri).await;
    }
    check_expectations(req, &sizes, &uri)?;
    if req.sha256sums {
        // A SHA256SUMS of our own (from an earlier, interrupted seal) is written again.
        if sizes.contains_key(SHA256SUMS_NAME) {
            let key = format!("{prefix}{SHA256SUMS_NAME}");
            let info = inspect::head(client, &req.bucket, &key).await?;
            if !info.metadata.contains_key(GENERATED_METADATA) {
                return Err(Error::Usage(format!(
                    "{uri} holds a {SHA256SUMS_NAME} of its own; drop --sha256sums, or remove that file"
                )));
            }
            sizes.remove(SHA256SUMS_NAME);
        }
    }
    // Its signature, from an earlier, interrupted signed seal: written again when signing.
    if sizes.contains_key(SHA256SUMS_SIGNATURE_NAME) {
        let key = format!("{prefix}{SHA256SUMS_SIGNATURE_NAME}");
        let info = inspect::head(client, &req.bucket, &key).await?;
        if info.metadata.contains_key(GENERATED_METADATA) {
            sizes.remove(SHA256SUMS_SIGNATURE_NAME);
            if !(req.sha256sums && req.sign.is_some()) {
                warn!(
                    "{uri}{SHA256SUMS_SIGNATURE_NAME} is left from an earlier signed seal; it is not part of this release"
                );
            }
        }
    }
    if sizes.is_empty() {
        return Err(Error::NotFound(format!(
            "{uri} holds no files; nothing to seal (check --suite and --release)"
        )));
    }
    let mut files = describe_all(client, req, &sizes).await?;
    let seal_id = manifest::new_seal_id();
    if req.sha256sums {
        let text = manifest::sha256sums(&files);
        let entry = write::generated(client, req, SHA256SUMS_NAME, &text, "sha256sums").await?;
        files.insert(SHA256SUMS_NAME.to_owned(), entry);
        if let Some(key) = &req.sign {
            let comment =
                crate::signature::file_comment(&req.suite, &req.release, &seal_id, SHA256SUMS_NAME);
            let sig = key.sign(text.as_bytes(), &comment)?;
            let entry =
                write::generated(client, req, SHA256SUMS_SIGNATURE_NAME, &sig, "signature").await?;
            files.insert(SHA256SUMS_SIGNATURE_NAME.to_owned(), entry);
        }
    }
    let manifest = Manifest {
        suite: req.suite.clone(),
        release: req.release.clone(),
        sealed_at: crate::inspect::rfc3339(&aws_sdk_s3::primitives::DateTime::from(
            std::time::SystemTime::now(),
        ))
        .unwrap_or_default(),
        sealed_by: format!("s3blob {}", env!("CARGO_PKG_VERSION")),
        seal_id,
        files,
        promoted_from: req.promoted_from.clone(),
    };
    write::manifest(client, req, manifest, &uri).await
}

/// The release has a manifest: success only if it lists exactly what is there (and what this
/// command uploaded), else the release cannot change.
async fn already_sealed(
    client: &Client,
    req: &SealRequest,
    sizes: &BTreeMap<String, u64>,
    uri: &str,
) -> Result<Sealed, Error> {
    let manifest = state::fetch(client, &req.bucket, &req.suite, &req.release)
        .await?
        .ok_or_else(|| Error::Other(format!("{uri}: the manifest vanished while it was read")))?;
    let listed: BTreeMap<&str, u64> = manifest
        .files
        .iter()
        .map(|(n, e)| (n.as_str(), e.size))
        .collect();
    let present: BTreeMap<&str, u64> = sizes.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let known_match = req.known.iter().all(|(name, k)| {
        manifest
            .files
            .get(name)
            .is_some_and(|e| e.size == k.size && e.crc64 == k.crc64)
    });
    if listed == present && known_match {
        info!("{uri} is already sealed with exactly these files; nothing to do");
        return Ok(Sealed {
            manifest,
            unchanged: true,
            signed_by: None,
        });
    }
    Err(Error::AlreadyExists(format!(
        "{uri} is already sealed, with other files ({} in its manifest); a sealed release cannot change: publish under another --release",
        manifest.files.len()
    )))
}

/// `--file` names must all be there; `--expect-files` is the exact count.
fn check_expectations(
    req: &SealRequest,
    sizes: &BTreeMap<String, u64>,
    uri: &str,
) -> Result<(), Error> {
    let missing: Vec<&str> = req
        .must_have
        .iter()
        .filter(|n| !sizes.contains_key(n.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Error::NotFound(format!(
            "{uri} lacks {} named by --file: {}; not sealed (is a job still uploading?)",
            missing.len(),
            missing.join(", ")
        )));
    }
    match req.expect_files {
        Some(n) if sizes.len() < n => Err(Error::NotFound(format!(
            "{uri} holds {} file(s), --expect-files {n}; not sealed (is a job still uploading?)",
            sizes.len()
        ))),
        Some(n) if sizes.len() > n => Err(Error::AlreadyExists(format!(
            "{uri} holds {} files, more than --expect-files {n}: not sealed; check what was uploaded there",
            sizes.len()
        ))),
        _ => Ok(()),
    }
}

/// Every file's manifest entry, `--concurrency` at a time: a HEAD for its stored checksum and
/// content type, and a full read when there is no stored checksum or a SHA-256 is needed.
async fn describe_all(
    client: &Client,
    req: &SealRequest,
    sizes: &BTreeMap<String, u64>,
) -> Result<BTreeMap<String, Entry>, Error> {
    let jobs = sizes
        .iter()
        .map(|(name, size)| {
            Ok(Describe {
                bucket: req.bucket.clone(),
                key: ObjectKey::new(&req.suite, &req.release, name)?,
                listed_size: *size,
                known: req.known.get(name).cloned(),
                sha256: req.sha256sums,
                settings: req.settings,
                budget: req.budget.clone(),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let entries = crate::tasks::each(jobs, req.settings.max_requests, |job| {
        let client = client.clone();
        async move { job.run(&client).await }
    })
    .await?;
    Ok(entries.into_iter().collect())
}

/// Finding out one file's manifest entry.
struct Describe {
    bucket: String,
    key: ObjectKey,
    listed_size: u64,
    known: Option<Known>,
    sha256: bool,
    settings: TransferSettings,
    budget: Budget,
}

impl Describe {
    async fn run(self, client: &Client) -> Result<(String, Entry), Error> {
        let key = self.key.to_string();
        let uri = format!("s3://{}/{key}", self.bucket);
        let info = {
            let _permit = self.budget.acquire(0).await;
            inspect::head(client, &self.bucket, &key).await?
        };
        if info.size != self.listed_size {
            return Err(Error::Integrity(format!(
                "{uri} changed while the release was being sealed ({} bytes listed, {} now); not sealed: retry",
                self.listed_size, info.size
            )));
        }
        let stored = info.checksum.map(|(crc, _)| crc);
        let known_sha = self.known.as_ref().and_then(|k| k.sha256.clone());
        let (crc64, sha256) = if stored.is_none() || (self.sha256 && known_sha.is_none()) {
            debug!(%key, "reading the object to checksum it");
            let (crc, sha) = self.digest(client).await?;
            (crc, self.sha256.then_some(sha))
        } else {
            (
                stored.unwrap_or_default(),
                known_sha.filter(|_| self.sha256),
            )
        };
        if let Some(stored) = stored
            && stored != crc64
        {
            return Err(Error::Integrity(format!(
                "{uri} does not hold what its checksum says; not sealed"
            )));
        }
        if let Some(k) = &self.known
            && (k.size != info.size || k.crc64 != crc64)
        {
            return Err(Error::AlreadyExists(format!(
                "{uri} is no longer what this command uploaded (another upload replaced it); not sealed"
            )));
        }
        if info
            .checksum
            .is_some_and(|(_, s)| s == ChecksumSource::Server)
        {
            debug!(%key, "sealed with the server's full-object checksum");
        }
        let entry = Entry {
            size: info.size,
            crc64,
            content_type: info.content_type,
            sha256,
        };
        Ok((self.key.filename().to_owned(), entry))
    }

    /// Streams the whole object (nothing written to disk) for its CRC64NVME and SHA-256.
    async fn digest(&self, client: &Client) -> Result<(u64, String), Error> {
        let (got, sha) =
            read::read_whole(client, &self.bucket, &self.key, self.settings, &self.budget).await?;
        Ok((got.crc64, sha))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_CONCURRENCY, DEFAULT_MAX_ATTEMPTS, DEFAULT_PART_SIZE};

    fn request(must_have: &[&str], expect: Option<usize>) -> SealRequest {
        SealRequest {
            bucket: "b".into(),
            suite: "s".into(),
            release: "1".into(),
            must_have: must_have.iter().map(|s| (*s).to_owned()).collect(),
            expect_files: expect,
            sha256sums: false,
            known: BTreeMap::new(),
            promoted_from: None,
            settings: TransferSettings {
                part_size: DEFAULT_PART_SIZE,
                concurrency: DEFAULT_CONCURRENCY,
                max_requests: 16,
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                checksum_header: Default::default(),
                trust_conditional_writes: false,
                resumable: false,
            },
            budget: Budget::new(1, 1),
            header: ChecksumHeader::default(),
            sign: None,
        }
    }

    #[test]
    fn expectations() {
        let sizes: BTreeMap<String, u64> = [("a".into(), 1), ("b".into(), 2)].into();
        let check = |must: &[&str], n| check_expectations(&request(must, n), &sizes, "s3://b/s/1/");
        assert!(check(&["a", "b"], Some(2)).is_ok());
        assert!(check(&[], None).is_ok());
        let missing = check(&["a", "c"], None).unwrap_err();
        assert_eq!(missing.exit_code(), 3);
        assert!(missing.to_string().contains("c"), "{missing}");
        assert_eq!(check(&[], Some(3)).unwrap_err().exit_code(), 3);
        assert_eq!(check(&[], Some(1)).unwrap_err().exit_code(), 6);
    }
}
