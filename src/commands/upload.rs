//! `s3blob upload`: local files to `suite/release/FILENAME`, one key per file.

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use aws_sdk_s3::Client;
use tracing::{info, warn};

use crate::attributes::ObjectAttributes;
use crate::cli::UploadArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::key::{ObjectKey, ReleaseRef};
use crate::listing::Inventory;
use crate::manifest::SHA256SUMS_NAME;
use crate::output::seal::{Published, SealReport};
use crate::output::upload::UploadReport;
use crate::output::{Batch, Failure, Outcome};
use crate::progress::SharedProgress;
use crate::release;
use crate::release::seal::{self, Known, SealRequest};
use crate::release::state::ManifestCell;
use crate::shutdown::Shutdown;
use crate::transfer::budget::Budget;
use crate::transfer::upload::{
    self, ChecksumHeader, FileSource, PartSource, StdinSource, UploadRequest, Uploaded, Writes,
    lost as lost_to, read_back_listed,
};

/// Every file to upload with its key. Every key and attribute is checked here, before anything
/// is sent; a file's attributes are built again when its upload starts (in [`run`]).
fn plan(args: &UploadArgs) -> Result<Vec<(PathBuf, ObjectKey)>, Error> {
    if args.key.release == release::LATEST {
        return Err(Error::Usage(format!(
            "--release {}: the name is reserved for the highest release when downloading; upload under the release's own name",
            release::LATEST
        )));
    }
    if args.filename.is_some() && args.paths.len() > 1 {
        return Err(Error::Usage(
            "--filename names one file; with several PATHs each is stored under its own name"
                .to_owned(),
        ));
    }
    let stdin = args.paths.iter().any(|p| p.as_os_str() == "-");
    if stdin {
        if args.paths.len() > 1 {
            return Err(Error::Usage(
                "`-` (stdin) cannot be mixed with other PATHs; upload it in its own command"
                    .to_owned(),
            ));
        }
        if args.filename.is_none() {
            return Err(Error::Usage(
                "uploading stdin (`-`) needs --filename for the key's last part".to_owned(),
            ));
        }
        if std::io::stdin().is_terminal() {
            return Err(Error::Usage(
                "stdin is a terminal; pipe the data in, e.g. `tar cz dist | s3blob upload ... --filename dist.tar.gz -`"
                    .to_owned(),
            ));
        }
    }
    let names_sums = args.filename.as_deref() == Some(SHA256SUMS_NAME)
        || args
            .paths
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == SHA256SUMS_NAME));
    if args.sha256sums && names_sums {
        return Err(Error::Usage(format!(
            "--sha256sums writes {SHA256SUMS_NAME} itself, and one of the PATHs is named so: drop --sha256sums, or upload your own {SHA256SUMS_NAME} without it"
        )));
    }
    // Every key and attribute is checked before anything is sent.
    let mut keys = Vec::with_capacity(args.paths.len());
    let mut seen = HashSet::new();
    let requested = (&args.attributes).into();
    for path in &args.paths {
        let filename = match &args.filename {
            Some(f) => f.clone(),
            None => default_filename(path)?,
        };
        if !seen.insert(filename.clone()) {
            return Err(Error::Usage(format!(
                "two PATHs are named {filename:?}; they would overwrite each other's key: rename one or upload it separately with --filename"
            )));
        }
        let key = ObjectKey::new(&args.key.suite, &args.key.release, &filename)?;
        ObjectAttributes::new(&requested, &filename)?;
        if !stdin {
            upload::check_uploadable(path)?;
        }
        keys.push((path.clone(), key));
    }
    Ok(keys)
}

pub async fn run(cx: &Context<'_>, args: UploadArgs) -> Result<Outcome, Error> {
    let keys = plan(&args)?;
    // A bad signing key is refused before any byte is sent.
    let sign = if args.seal {
        super::key::signing_key(cx, &args.sign)?
    } else if args.sign.sign_key.is_some() {
        return Err(Error::Usage(
            "--sign-key signs the release when it is sealed: add --seal, or sign later with `s3blob seal --sign-key`".to_owned(),
        ));
    } else {
        None
    };
    let started = Instant::now();
    let (settings, client) = super::connect(cx, (&args.tuning).into()).await?;
    let budget = Budget::for_settings(&settings.transfer);
    let header = ChecksumHeader::new(settings.transfer.checksum_header);
    let progress = super::progress_for(cx, &settings, "upload", &budget);
    if settings.transfer.resumable && keys.iter().any(|(p, _)| p.as_os_str() == "-") {
        tracing::warn!(
            "stdin is never resumable (its bytes cannot be read again): an interrupted upload from stdin is aborted"
        );
    }
    // A batch looks at the release once (one listing) instead of a HEAD per file; a single
    // file is one HEAD either way.
    let release = ReleaseRef::new(&args.key.suite, &args.key.release)?;
    let listed =
        (keys.len() > 1).then(|| Inventory::start(&client, &settings.bucket, &release.prefix()));
    let manifest = ManifestCell::listed(
        &client,
        &settings.bucket,
        &args.key.suite,
        &args.key.release,
        listed.clone(),
    );
    let batch = keys.len() > 1;
    let writes = if settings.transfer.trust_conditional_writes {
        Writes::Trusted
    } else {
        Writes::Untrusted { deferred: batch }
    };
    // What each file turned out to be, for --seal; what it stored, for reading a batch back.
    let uploaded: Arc<Mutex<BTreeMap<String, Known>>> = Arc::default();
    let written: Arc<Mutex<Vec<(String, Uploaded)>>> = Arc::default();
    let requested = (&args.attributes).into();
    // A file's request is made when its upload starts: a batch of 10,000 files holds no
    // request per file while it waits, only its path and key.
    let job = |path: PathBuf, key: ObjectKey| -> Result<Job, Error> {
        let attributes = ObjectAttributes::new(&requested, key.filename())?;
        Ok(Job {
            client: client.clone(),
            path,
            req: UploadRequest {
                bucket: settings.bucket.clone(),
                key,
                overwrite: args.overwrite,
                attributes,
                settings: settings.transfer,
                budget: budget.clone(),
                manifest: Some(Arc::new(manifest.clone())),
                listed: listed.clone(),
                header: header.clone(),
                writes,
            },
            progress: progress.clone(),
            shutdown: cx.shutdown.clone(),
            sha256: args.sha256sums,
            uploaded: args.seal.then(|| uploaded.clone()),
            written: written.clone(),
        })
    };
    let report = match <[_; 1]>::try_from(keys) {
        Ok([(path, key)]) => {
            let file = path.display().to_string();
            let result = match job(path, key) {
                Ok(job) => job.run().await,
                Err(e) => Err(e),
            };
            Batch::one("upload", "uploaded", file, result).map(|b| Box::new(b) as Outcome)
        }
        Err(keys) => {
            // Each file's key and label in the batch's order, to name the files a read-back
            // finds lost.
            let order: Vec<(String, String)> = keys
                .iter()
                .map(|(path, key)| (key.to_string(), path.display().to_string()))
                .collect();
            let items = keys
                .into_iter()
                .map(|(path, key)| (path.display().to_string(), (path, key)))
                .collect();
            let limit = settings.transfer.max_requests;
            let batch = super::batch(
                "upload",
                "uploaded",
                items,
                limit,
                &progress,
                |(path, key)| {
                    let job = job(path, key);
                    async move { job?.run().await }
                },
            );
            match batch.await {
                Ok(mut batch) => {
                    if writes == (Writes::Untrusted { deferred: true }) {
                        let written = std::mem::take(&mut *lock(&written));
                        let prefix = release.prefix();
                        let lost =
                            read_back_listed(&client, &settings.bucket, &prefix, &written).await?;
                        for key in lost {
                            let Some(i) = order.iter().position(|(k, _)| *k == key) else {
                                continue;
                            };
                            lock(&uploaded).retain(|name, _| !key.ends_with(&format!("/{name}")));
                            batch.results[i] = Err(Failure {
                                file: order[i].1.clone(),
                                error: lost_to(&settings.bucket, &key),
                            });
                        }
                    }
                    Ok(Box::new(batch) as Outcome)
                }
                Err(e) => Err(e),
            }
        }
    };
    progress.finish();
    let report = report?;
    if !args.seal {
        return Ok(report);
    }
    if report.exit_code() != 0 {
        warn!(
            "not sealing s3://{}/{}/{}/: {} of the files failed",
            settings.bucket,
            args.key.suite,
            args.key.release,
            report.failures().len()
        );
        return Ok(report);
    }
    let known = std::mem::take(&mut *lock(&uploaded));
    let req = SealRequest {
        bucket: settings.bucket.clone(),
        suite: args.key.suite.clone(),
        release: args.key.release.clone(),
        must_have: known.keys().cloned().collect(),
        expect_files: None,
        sha256sums: args.sha256sums,
        known,
        promoted_from: None,
        settings: settings.transfer,
        budget,
        header,
        sign,
    };
    sealed_after(&client, &req, report, started, cx).await
}

/// `--seal` once every file is up: the uploads' report with the seal's.
async fn sealed_after(
    client: &Client,
    req: &SealRequest,
    uploads: Outcome,
    started: Instant,
    cx: &Context<'_>,
) -> Result<Outcome, Error> {
    let sealed = seal::seal(client, req, cx.shutdown).await?;
    Ok(Box::new(Published {
        uploads,
        seal: SealReport {
            bucket: req.bucket.clone(),
            sealed,
            seconds: started.elapsed().as_secs_f64(),
        },
    }))
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
    /// What it turned out to be, when the release is sealed after (`--seal`).
    uploaded: Option<Arc<Mutex<BTreeMap<String, Known>>>>,
    /// The objects this command stored (not those found identical), for a batch's read-back.
    written: Arc<Mutex<Vec<(String, Uploaded)>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Job {
    async fn run(self) -> Result<Outcome, Error> {
        let Job {
            client,
            path,
            req,
            progress,
            shutdown,
            sha256,
            uploaded,
            written,
        } = self;
        let started = Instant::now();
        let stdin = path.as_os_str() == "-";
        let label = if stdin {
            "stdin".to_owned()
        } else {
            path.display().to_string()
        };
        info!("uploading {label} to s3://{}/{}", req.bucket, req.key);
        let (done, sha) = if stdin {
            let source = StdinSource::new(tokio::io::stdin(), req.settings.part_size);
            let source = if sha256 { source.with_sha256() } else { source };
            send(&client, &req, source, &progress, &shutdown).await?
        } else {
            let source = FileSource::open(&path, req.settings.part_size)?;
            let source = if sha256 { source.with_sha256() } else { source };
            send(&client, &req, source, &progress, &shutdown).await?
        };
        if !done.unchanged {
            lock(&written).push((req.key.to_string(), done.clone()));
        }
        if let Some(uploaded) = uploaded {
            lock(&uploaded).insert(
                req.key.filename().to_owned(),
                Known {
                    size: done.size,
                    crc64: done.crc64,
                    sha256: sha,
                },
            );
        }
        Ok(Box::new(UploadReport {
            bucket: req.bucket,
            key: req.key,
            uploaded: done,
            seconds: started.elapsed().as_secs_f64(),
        }))
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

/// The key's last part when `--filename` is not given: the local file's own name.
fn default_filename(path: &Path) -> Result<String, Error> {
    let name = path.file_name().ok_or_else(|| {
        Error::Usage(format!(
            "{} has no file name; pass --filename",
            path.display()
        ))
    })?;
    name.to_str().map(str::to_owned).ok_or_else(|| {
        Error::Usage(format!(
            "the file name of {} is not valid UTF-8 and cannot be a key; pass --filename",
            path.display()
        ))
    })
}
