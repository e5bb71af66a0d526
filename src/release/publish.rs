//! Publishing files into a release: each file uploaded to `SUITE/RELEASE/NAME` (a batch looks
//! at the release once, with one listing, and reads its writes back together where the store
//! does not enforce conditional writes), then, when asked, the release sealed with what was
//! just uploaded: nothing is sealed if a file failed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use aws_sdk_s3::Client;
use tracing::{info, warn};

use super::seal::{self, Known, SealRequest, Sealed};
use super::state::ManifestCell;
use crate::attributes::{ObjectAttributes, Requested};
use crate::error::Error;
use crate::key::{ObjectKey, ReleaseRef};
use crate::listing::Inventory;
use crate::progress::SharedProgress;
use crate::shutdown::Shutdown;
use crate::signature::SigningKey;
use crate::transfer::TransferSettings;
use crate::transfer::batch::{self, Failure, Outcomes};
use crate::transfer::budget::Budget;
use crate::transfer::upload::{
    self, ChecksumHeader, FileSource, PartSource, StdinSource, UploadRequest, Uploaded, Writes,
    lost as lost_to, read_back_listed,
};

/// What to publish, checked by the caller: every key is valid, every path uploadable.
pub struct Publish {
    pub bucket: String,
    pub release: ReleaseRef,
    /// Each file (`-` for stdin) with its key in the release.
    pub files: Vec<(PathBuf, ObjectKey)>,
    /// Replace an existing object; otherwise only an identical one is accepted.
    pub overwrite: bool,
    /// Metadata, content type and the like, as asked for; each file's are made when its
    /// upload starts.
    pub attributes: Requested,
    pub settings: TransferSettings,
    /// Requests in flight, shared by every file (the progress display counts them).
    pub budget: Budget,
    /// Compute each file's SHA-256 too, and with `seal` store `SHA256SUMS`.
    pub sha256sums: bool,
    /// Seal the release once every file is up.
    pub seal: bool,
    /// Sign the manifest when sealing.
    pub sign: Option<Arc<SigningKey>>,
}

/// One file that is now stored.
pub struct FileStored {
    pub bucket: String,
    pub key: ObjectKey,
    pub uploaded: Uploaded,
    pub seconds: f64,
}

/// What publishing did: each file's outcome in the order given, and the seal when one was
/// asked for and every file made it.
pub struct Published {
    pub files: Outcomes<FileStored>,
    pub sealed: Option<Sealed>,
    pub started: Instant,
}

pub async fn publish(
    client: &Client,
    req: Publish,
    progress: &SharedProgress,
    shutdown: &Shutdown,
) -> Result<Published, Error> {
    let started = Instant::now();
    let budget = req.budget.clone();
    let header = ChecksumHeader::new(req.settings.checksum_header);
    if req.settings.resumable && req.files.iter().any(|(p, _)| p.as_os_str() == "-") {
        warn!(
            "stdin is never resumable (its bytes cannot be read again): an interrupted upload from stdin is aborted"
        );
    }
    let batch = req.files.len() > 1;
    // A batch looks at the release once (one listing) instead of a HEAD per file; a single
    // file is one HEAD either way.
    let listed = batch.then(|| Inventory::start(client, &req.bucket, &req.release.prefix()));
    let manifest = ManifestCell::listed(
        client,
        &req.bucket,
        req.release.suite(),
        req.release.release(),
        listed.clone(),
    );
    let writes = if req.settings.trust_conditional_writes {
        Writes::Trusted
    } else {
        Writes::Untrusted { deferred: batch }
    };
    let shared = Shared::default();
    // A file's request is made when its upload starts: a batch of 10,000 files holds no
    // request per file while it waits, only its path and key.
    let job = |path: PathBuf, key: ObjectKey| -> Result<Job, Error> {
        let attributes = ObjectAttributes::new(&req.attributes, key.filename())?;
        Ok(Job {
            client: client.clone(),
            path,
            req: UploadRequest {
                bucket: req.bucket.clone(),
                key,
                overwrite: req.overwrite,
                attributes,
                settings: req.settings,
                budget: budget.clone(),
                manifest: Some(Arc::new(manifest.clone())),
                listed: listed.clone(),
                header: header.clone(),
                writes,
            },
            progress: progress.clone(),
            shutdown: shutdown.clone(),
            sha256: req.sha256sums,
            shared: shared.clone(),
        })
    };
    // Each file's key and label in the batch's order, to name the files a read-back finds lost.
    let order: Vec<(String, String)> = req
        .files
        .iter()
        .map(|(path, key)| (key.to_string(), label(path)))
        .collect();
    let items: Vec<(String, (PathBuf, ObjectKey))> = req
        .files
        .into_iter()
        .map(|(path, key)| (label(&path), (path, key)))
        .collect();
    let outcomes = match <[_; 1]>::try_from(items) {
        // One file is a batch of one, without the batch's file count.
        Ok([(file, (path, key))]) => {
            let result = match job(path, key) {
                Ok(job) => job.run().await,
                Err(e) => Err(e),
            };
            Ok(vec![result.map_err(|error| Failure { file, error })])
        }
        Err(items) => {
            batch::each_file(items, req.settings.max_requests, progress, |(path, key)| {
                let job = job(path, key);
                async move { job?.run().await }
            })
            .await
        }
    };
    progress.finish();
    let mut files = outcomes.map_err(|e| e.reworded(|m| format!("upload: {m}")))?;
    if writes == (Writes::Untrusted { deferred: true }) {
        let written = std::mem::take(&mut *lock(&shared.written));
        let prefix = req.release.prefix();
        for key in read_back_listed(client, &req.bucket, &prefix, &written).await? {
            let Some(i) = order.iter().position(|(k, _)| *k == key) else {
                continue;
            };
            lock(&shared.uploaded).remove(&order[i].0);
            files[i] = Err(Failure {
                file: order[i].1.clone(),
                error: lost_to(&req.bucket, &key),
            });
        }
    }
    let failed = files.iter().filter(|f| f.is_err()).count();
    if !req.seal {
        return Ok(Published {
            files,
            sealed: None,
            started,
        });
    }
    if failed > 0 {
        warn!(
            "not sealing s3://{}/{}: {failed} of the files failed",
            req.bucket,
            req.release.prefix()
        );
        return Ok(Published {
            files,
            sealed: None,
            started,
        });
    }
    // What each file turned out to be, by its name in the release.
    let known: BTreeMap<String, Known> = std::mem::take(&mut *lock(&shared.uploaded))
        .into_iter()
        .map(|(key, known)| {
            let name = key.rsplit('/').next().unwrap_or(&key).to_owned();
            (name, known)
        })
        .collect();
    let seal_req = SealRequest {
        bucket: req.bucket.clone(),
        suite: req.release.suite().to_owned(),
        release: req.release.release().to_owned(),
        must_have: known.keys().cloned().collect(),
        expect_files: None,
        sha256sums: req.sha256sums,
        known,
        promoted_from: None,
        settings: req.settings,
        budget,
        header,
        sign: req.sign,
    };
    let sealed = seal::seal(client, &seal_req, shutdown).await?;
    Ok(Published {
        files,
        sealed: Some(sealed),
        started,
    })
}

/// A file as reports name it.
fn label(path: &std::path::Path) -> String {
    path.display().to_string()
}

/// What the files of one publish record as they finish.
#[derive(Clone, Default)]
struct Shared {
    /// What each file turned out to be, by key, for the seal.
    uploaded: Arc<Mutex<BTreeMap<String, Known>>>,
    /// The objects this command stored (not those found identical), for a batch's read-back.
    written: Arc<Mutex<Vec<(String, Uploaded)>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One file (or stdin, for `-`) to upload, and where its outcome goes.
struct Job {
    client: Client,
    path: PathBuf,
    req: UploadRequest,
    progress: SharedProgress,
    shutdown: Shutdown,
    /// Compute its SHA-256 too (`--sha256sums`).
    sha256: bool,
    shared: Shared,
}

impl Job {
    async fn run(self) -> Result<FileStored, Error> {
        let Job {
            client,
            path,
            req,
            progress,
            shutdown,
            sha256,
            shared,
        } = self;
        let started = Instant::now();
        let stdin = path.as_os_str() == "-";
        let from = if stdin {
            "stdin".to_owned()
        } else {
            label(&path)
        };
        info!("uploading {from} to s3://{}/{}", req.bucket, req.key);
        let (done, sha) = if stdin {
            let source = StdinSource::new(tokio::io::stdin(), req.settings.part_size);
            let source = if sha256 { source.with_sha256() } else { source };
            send(&client, &req, source, &progress, &shutdown).await?
        } else {
            let source = FileSource::open(&path, req.settings.part_size)?;
            let source = if sha256 { source.with_sha256() } else { source };
            send(&client, &req, source, &progress, &shutdown).await?
        };
        let key = req.key.to_string();
        if !done.unchanged {
            lock(&shared.written).push((key.clone(), done.clone()));
        }
        lock(&shared.uploaded).insert(
            key,
            Known {
                size: done.size,
                crc64: done.crc64,
                sha256: sha,
            },
        );
        Ok(FileStored {
            bucket: req.bucket,
            key: req.key,
            uploaded: done,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// Uploads from `source`; the upload and the source's SHA-256 when it computed one.
async fn send<S: PartSource>(
    client: &Client,
    req: &UploadRequest,
    mut source: S,
    progress: &SharedProgress,
    shutdown: &Shutdown,
) -> Result<(Uploaded, Option<String>), Error> {
    let done = Box::pin(upload::upload(client, req, &mut source, progress, shutdown)).await?;
    Ok((done, source.sha256()))
}
