//! Fetching files of a release: which files (all that a sealed release's manifest lists, or
//! those named), where each goes (a directory, a file, stdout), the local checks made before
//! any request (names the file system cannot hold), then each file downloaded and verified.
//! With trusted keys, nothing is fetched unless the release carries a valid signature by one
//! of them, and every file is then checked against that signed manifest.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aws_sdk_s3::Client;
use tracing::{info, warn};

use super::state::ManifestCell;
use crate::error::Error;
use crate::escape::escape;
use crate::key::{ObjectKey, ReleaseRef, case_collision, windows_name_problem};
use crate::progress::SharedProgress;
use crate::shutdown::Shutdown;
use crate::signature::TrustedKey;
use crate::transfer::TransferSettings;
use crate::transfer::batch::{self, Failure, Outcomes};
use crate::transfer::budget::Budget;
use crate::transfer::download::{self, DownloadRequest, Downloaded, Verified};

/// Which files of the release.
pub enum Files {
    /// Every file (`--all`).
    All,
    /// These, each once.
    Named(Vec<String>),
}

/// Where the files go.
pub enum Destination {
    /// Several files into a directory (made, with its parents, when missing).
    Dir(PathBuf),
    /// One file: `-o PATH` (a directory, or a path ending in a separator, takes the file's
    /// name), or the file's name in the working directory.
    File(Option<PathBuf>),
    /// One file to stdout.
    Stdout,
}

pub struct Fetch {
    pub bucket: String,
    pub release: ReleaseRef,
    pub files: Files,
    pub destination: Destination,
    /// Never replace an existing local file.
    pub no_clobber: bool,
    pub settings: TransferSettings,
    /// Requests in flight, shared by every file (the progress display counts them).
    pub budget: Budget,
    /// Keys one of which must have signed the release (none: no signature needed).
    pub trusted: Vec<TrustedKey>,
}

/// One file fetched.
pub struct FileFetched {
    pub bucket: String,
    pub key: ObjectKey,
    /// `-` for stdout.
    pub path: PathBuf,
    pub downloaded: Downloaded,
    pub seconds: f64,
}

pub async fn fetch(
    client: &Client,
    req: Fetch,
    progress: &SharedProgress,
    shutdown: &Shutdown,
) -> Result<Outcomes<FileFetched>, Error> {
    let bucket = req.bucket.as_str();
    let release = &req.release;
    let manifest = if req.trusted.is_empty() {
        ManifestCell::new(client, bucket, release.suite(), release.release())
    } else {
        let checked = super::signed::fetch_required(client, bucket, release, &req.trusted).await?;
        ManifestCell::known(checked.manifest)
    };
    let files: Vec<(String, Option<u64>)> = match &req.files {
        Files::All => super::files::to_fetch(client, bucket, release, &manifest)
            .await?
            .into_iter()
            .filter(|(name, _)| match windows_name_problem(name) {
                Some(problem) if crate::platform::WINDOWS_NAMES => {
                    warn!(
                        "skipping s3://{bucket}/{}{}: the name {problem}",
                        release.prefix(),
                        escape(name)
                    );
                    false
                }
                _ => true,
            })
            .collect(),
        Files::Named(names) => {
            // The same file named twice is fetched once.
            let mut seen = std::collections::HashSet::new();
            names
                .iter()
                .filter(|f| seen.insert(f.as_str()))
                .map(|f| (f.clone(), None))
                .collect()
        }
    };
    let several = matches!(req.destination, Destination::Dir(_));
    if several && crate::platform::CASE_INSENSITIVE {
        one_file_per_name(bucket, release, &files)?;
    }
    let size_only = Arc::new(AtomicUsize::new(0));
    let manifest = Arc::new(manifest);
    // `named`: the local file takes the key's name (not one the user chose with -o).
    let request = |(filename, size_hint): &(String, Option<u64>), dest: PathBuf, named: bool| {
        let key = release.key(filename)?;
        // The name checked is the key's own when the file takes it, else the one chosen.
        let local = match dest.file_name() {
            _ if named => Some(filename.as_str()),
            Some(chosen) => chosen.to_str(),
            None => None,
        };
        if let Some(name) = local {
            windows_can_hold(bucket, &key, name)?;
        }
        name_fits(bucket, &key, &dest)?;
        Ok::<_, Error>(DownloadRequest {
            bucket: bucket.to_owned(),
            key,
            dest,
            no_clobber: req.no_clobber,
            settings: req.settings,
            budget: req.budget.clone(),
            manifest: Some(manifest.clone()),
            size_hint: *size_hint,
            sync_dir: !several,
        })
    };
    let job = |req, to_stdout| Job {
        client: client.clone(),
        req,
        progress: progress.clone(),
        shutdown: shutdown.clone(),
        to_stdout,
        size_only: size_only.clone(),
    };
    let mut created = None;
    let outcomes = match &req.destination {
        Destination::Dir(dir) => {
            created = prepare_dir(dir)?;
            // A file that cannot be fetched (a name the local file system cannot hold, or one
            // a rewritten manifest lists that is no file name at all) fails on its own, before
            // any request; the others go on.
            let items: Vec<_> = files
                .iter()
                .map(|f| {
                    let req = match release.key(&f.0) {
                        Err(e) => Err(Error::Integrity(format!(
                            "the manifest of s3://{bucket}/{} lists {:?}, which cannot be a file name ({}); not fetched: the manifest was not written by s3blob",
                            release.prefix(), f.0, e.reason
                        ))),
                        Ok(_) => request(f, dir.join(&f.0), true),
                    };
                    (f.0.clone(), req)
                })
                .collect();
            let limit = req.settings.max_requests;
            let outcomes = batch::each_file(items, limit, progress, |req| {
                let job = req.map(|req| job(req, false));
                async move { job?.run().await }
            })
            .await
            .map_err(|e| e.reworded(|m| format!("download: {m}")));
            // One directory sync for every rename into it.
            crate::platform::atomic_file::sync_dir(dir)?;
            outcomes
        }
        Destination::File(output) => {
            let file = files.first().cloned().unwrap_or_default();
            let named = output.as_deref().is_none_or(names_a_directory);
            let dest = download::destination(output.as_deref(), &file.0);
            if let Some(parent) = missing_parent(&dest) {
                created = prepare_dir(parent)?;
            }
            let result = match request(&file, dest, named) {
                Ok(req) => job(req, false).run().await,
                Err(e) => Err(e),
            };
            Ok(vec![result.map_err(|error| Failure {
                file: file.0,
                error,
            })])
        }
        Destination::Stdout => {
            let file = files.first().cloned().unwrap_or_default();
            let result = match request(&file, PathBuf::from("-"), false) {
                Ok(req) => job(req, true).run().await,
                Err(e) => Err(e),
            };
            Ok(vec![result.map_err(|error| Failure {
                file: file.0,
                error,
            })])
        }
    };
    progress.finish();
    // A directory made for this download goes again if nothing came of it.
    let failed = !outcomes
        .as_ref()
        .is_ok_and(|files| files.iter().all(Result::is_ok));
    if let (true, Some(top)) = (failed, &created) {
        let deepest = match &req.destination {
            Destination::Dir(dir) => Some(dir.as_path()),
            Destination::File(Some(path)) if path.is_dir() => Some(path.as_path()),
            Destination::File(Some(path)) => path.parent(),
            _ => None,
        };
        if let Some(deepest) = deepest {
            remove_empty_dirs(deepest, top);
        }
    }
    warn_size_only(size_only.load(Ordering::Relaxed));
    outcomes
}

/// Whether `-o PATH` names a directory the file goes into under its own name.
fn names_a_directory(path: &Path) -> bool {
    path.is_dir()
        || path
            .as_os_str()
            .to_string_lossy()
            .ends_with(std::path::is_separator)
}

/// One warning for every object only its size could verify.
fn warn_size_only(n: usize) {
    match n {
        0 => {}
        1 => warn!(
            "the object carries no CRC64NVME (uploaded by another tool, or streamed to a server that keeps no multipart checksums); only its size was verified"
        ),
        n => warn!(
            "{n} objects carry no CRC64NVME (uploaded by another tool, or streamed to a server that keeps no multipart checksums); only their sizes were verified"
        ),
    }
}

/// One object to download, to a file or stdout.
struct Job {
    client: Client,
    req: DownloadRequest,
    progress: SharedProgress,
    shutdown: Shutdown,
    to_stdout: bool,
    /// Counts the objects only their size could verify, for one warning per command.
    size_only: Arc<AtomicUsize>,
}

impl Job {
    async fn run(self) -> Result<FileFetched, Error> {
        let Job {
            client,
            req,
            progress,
            shutdown,
            to_stdout,
            size_only,
        } = self;
        let started = Instant::now();
        let target = if to_stdout {
            "stdout".to_owned()
        } else {
            req.dest.display().to_string()
        };
        info!("downloading s3://{}/{} to {target}", req.bucket, req.key);
        let downloaded = if to_stdout {
            let out = tokio::io::stdout();
            // Boxed: a batch keeps hundreds of downloads alive; see transfer::upload::upload.
            Box::pin(download::download_to_writer(
                &client, &req, out, progress, &shutdown,
            ))
            .await?
        } else {
            Box::pin(download::download_to_file(
                &client, &req, progress, &shutdown,
            ))
            .await?
        };
        if downloaded.verified == Verified::SizeOnly {
            size_only.fetch_add(1, Ordering::Relaxed);
        }
        Ok(FileFetched {
            bucket: req.bucket,
            key: req.key,
            path: req.dest,
            downloaded,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// On Windows, refuses before any request a local file name Windows cannot hold (a device
/// name, `:`, a trailing dot, ...): Windows would write something else (`a:b.txt` joined to a
/// directory is a drive-relative path there), or nothing. The name is checked before it is
/// joined to a directory. Elsewhere such names are ordinary and pass.
fn windows_can_hold(bucket: &str, key: &ObjectKey, name: &str) -> Result<(), Error> {
    match windows_name_problem(name) {
        Some(problem) if crate::platform::WINDOWS_NAMES => Err(Error::Other(format!(
            "cannot download s3://{bucket}/{key} to {}: the name {problem}; fetch it under another name with -o NEWNAME (or -o - > NEWNAME)",
            escape(name)
        ))),
        _ => Ok(()),
    }
}

/// On a file system that folds case (Windows, macOS), refuses a batch holding two names that
/// differ only in case, before anything is written: the second would silently replace the
/// first.
fn one_file_per_name(
    bucket: &str,
    release: &ReleaseRef,
    files: &[(String, Option<u64>)],
) -> Result<(), Error> {
    match case_collision(files.iter().map(|(name, _)| name.as_str())) {
        Some((a, b)) => Err(Error::Other(format!(
            "s3://{bucket}/{}: the files {} and {} differ only in case, and this file system takes them for one file; nothing was downloaded: fetch them one at a time with --filename NAME -o NEWNAME",
            release.prefix(),
            escape(a),
            escape(b)
        ))),
        None => Ok(()),
    }
}

/// Refuses, before any request, a destination whose name is longer than its directory's file
/// system allows (255 bytes on most): a name anyone who can write to the bucket may choose.
fn name_fits(bucket: &str, key: &ObjectKey, dest: &Path) -> Result<(), Error> {
    if dest.as_os_str() == "-" {
        return Ok(());
    }
    let Some(name) = dest.file_name() else {
        return Ok(());
    };
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let max = crate::platform::name_max(dir);
    let len = crate::platform::name_len(name);
    if len <= max {
        return Ok(());
    }
    let unit = crate::platform::NAME_UNIT;
    Err(Error::Other(format!(
        "cannot download s3://{bucket}/{key} into {}: the file name is {len} {unit} and the file system there holds at most {max}; fetch it under a shorter name with --filename NAME -o - > SHORTER-NAME",
        dir.display()
    )))
}

/// The directory files go into: created if missing (with its missing parents), refused if it
/// is something else. Returns the topmost directory it created, to remove again if the
/// download fails.
fn prepare_dir(dir: &Path) -> Result<Option<PathBuf>, Error> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "-o {} is not a directory; several files need -o DIR",
                dir.display()
            )));
        }
        return Ok(None);
    }
    let top = dir
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
        .last()
        .map(Path::to_path_buf);
    std::fs::create_dir_all(dir).map_err(|e| Error::local_io("create the directory", dir, &e))?;
    Ok(top)
}

/// The directory `dest` would be written into, when it does not exist yet.
fn missing_parent(dest: &Path) -> Option<&Path> {
    dest.parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.exists())
}

/// Removes the directories [`prepare_dir`] made, from `deepest` up to `top`, as long as they
/// are empty (nothing was downloaded into them).
fn remove_empty_dirs(deepest: &Path, top: &Path) {
    for dir in deepest.ancestors() {
        if std::fs::remove_dir(dir).is_err() || dir == top {
            break;
        }
    }
}
