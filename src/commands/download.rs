//! `s3blob download`: files of a release to local files (or one to stdout).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aws_sdk_s3::Client;
use tracing::{info, warn};

use crate::cli::DownloadArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::escape::escape;
use crate::key::{ObjectKey, ReleaseRef, case_collision, windows_name_problem};
use crate::output::download::DownloadReport;
use crate::output::{Batch, Outcome};
use crate::progress::SharedProgress;
use crate::release::files;
use crate::release::state::ManifestCell;
use crate::shutdown::Shutdown;
use crate::transfer::budget::Budget;
use crate::transfer::download::{self, DownloadRequest, Verified};

/// Refuses what cannot work before any request: several files or JSON to stdout, bad key
/// parts.
fn check(args: &DownloadArgs, json: bool) -> Result<(), Error> {
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    if to_stdout && (args.all || args.filename.len() > 1) {
        return Err(Error::Usage(
            "-o - writes one file to stdout; fetch several files into a directory with -o DIR"
                .to_owned(),
        ));
    }
    if to_stdout && json {
        return Err(Error::Usage(
            "--json cannot be combined with -o -: stdout carries the file".to_owned(),
        ));
    }
    crate::key::check_part("--suite", &args.key.suite)?;
    crate::key::check_part("--release", &args.key.release)?;
    for filename in &args.filename {
        ObjectKey::new(&args.key.suite, &args.key.release, filename)?;
    }
    Ok(())
}

pub async fn run(cx: &Context<'_>, args: DownloadArgs) -> Result<Outcome, Error> {
    check(&args, cx.global.json)?;
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    let several = args.all || args.filename.len() > 1;
    let (settings, client, release) =
        super::connect_to_release(cx, (&args.tuning).into(), &args.key).await?;
    let bucket = settings.bucket.clone();
    // With trusted keys the release must carry a valid signature by one of them before any
    // byte is fetched, and every file is then checked against that signed manifest.
    let keys = super::key::trusted_keys(cx)?;
    let manifest = if keys.is_empty() {
        ManifestCell::new(&client, &bucket, &args.key.suite, &release)
    } else {
        let release_ref = ReleaseRef::new(&args.key.suite, &release)?;
        let checked =
            crate::release::signed::fetch_required(&client, &bucket, &release_ref, &keys).await?;
        ManifestCell::known(checked.manifest)
    };
    let files: Vec<(String, Option<u64>)> = if args.all {
        files::to_fetch(
            &client,
            &bucket,
            &ReleaseRef::new(&args.key.suite, &release)?,
            &manifest,
        )
        .await?
        .into_iter()
        .filter(|(name, _)| match windows_name_problem(name) {
            Some(problem) if crate::platform::WINDOWS_NAMES => {
                warn!(
                    "skipping s3://{bucket}/{}/{release}/{}: the name {problem}",
                    args.key.suite,
                    escape(name)
                );
                false
            }
            _ => true,
        })
        .collect()
    } else {
        // The same file named twice is fetched once.
        let mut seen = std::collections::HashSet::new();
        args.filename
            .iter()
            .filter(|f| seen.insert(f.as_str()))
            .map(|f| (f.clone(), None))
            .collect()
    };
    if several && crate::platform::CASE_INSENSITIVE {
        one_file_per_name(&bucket, &args.key.suite, &release, &files)?;
    }
    let budget = Budget::for_settings(&settings.transfer);
    let progress = super::progress_for(cx, &settings, "download", &budget);
    let size_only = Arc::new(AtomicUsize::new(0));
    let request = |(filename, size_hint): &(String, Option<u64>), dest: PathBuf| {
        let key = ObjectKey::new(&args.key.suite, &release, filename)?;
        if !to_stdout {
            windows_can_hold(&bucket, &key, &dest)?;
            name_fits(&bucket, &key, &dest)?;
        }
        Ok::<_, Error>(DownloadRequest {
            bucket: bucket.clone(),
            key,
            dest,
            no_clobber: args.no_clobber,
            settings: settings.transfer,
            budget: budget.clone(),
            manifest: Some(Arc::new(manifest.clone())),
            size_hint: *size_hint,
            sync_dir: !several,
        })
    };
    let job = |req, to_stdout| Job {
        client: client.clone(),
        req,
        progress: progress.clone(),
        shutdown: cx.shutdown.clone(),
        to_stdout,
        size_only: size_only.clone(),
    };

    let mut created = None;
    let report = if several {
        let dir = args.output.clone().unwrap_or_else(|| PathBuf::from("."));
        created = prepare_dir(&dir)?;
        // A file that cannot be fetched (a name the local file system cannot hold, or one a
        // rewritten manifest lists that is no file name at all) fails on its own, before any
        // request; the others go on.
        let items: Vec<_> = files
            .iter()
            .map(|f| {
                let req = match ObjectKey::new(&args.key.suite, &release, &f.0) {
                    Err(e) => Err(Error::Integrity(format!(
                        "the manifest of s3://{bucket}/{}/{release}/ lists {:?}, which cannot be a file name ({}); not fetched: the manifest was not written by s3blob",
                        args.key.suite, f.0, e.reason
                    ))),
                    Ok(_) => request(f, dir.join(&f.0)),
                };
                (f.0.clone(), req)
            })
            .collect();
        let limit = settings.transfer.max_requests;
        let report = super::batch("download", "downloaded", items, limit, &progress, |req| {
            let job = req.map(|req| job(req, false));
            async move { job?.run().await }
        })
        .await
        .map(|b| Box::new(b) as Outcome);
        // One directory sync for every rename into it.
        crate::platform::atomic_file::sync_dir(&dir)?;
        report
    } else {
        let file = files.first().cloned().unwrap_or_default();
        let dest = match &args.output {
            Some(p) if to_stdout => p.clone(),
            other => download::destination(other.as_deref(), &file.0),
        };
        if let Some(parent) = missing_parent(&dest).filter(|_| !to_stdout) {
            created = prepare_dir(parent)?;
        }
        let result = match request(&file, dest) {
            Ok(req) => job(req, to_stdout).run().await,
            Err(e) => Err(e),
        };
        if to_stdout {
            result
        } else {
            Batch::one("download", "downloaded", file.0, result).map(|b| Box::new(b) as Outcome)
        }
    };
    progress.finish();
    // A directory made for this download goes again if nothing came of it.
    let failed = !report.as_ref().is_ok_and(|r| r.exit_code() == 0);
    if let (true, Some(top), Some(dir)) = (failed, &created, args.output.as_deref()) {
        remove_empty_dirs(dir, top);
    }
    warn_size_only(size_only.load(Ordering::Relaxed));
    report
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
    async fn run(self) -> Result<Outcome, Error> {
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
        Ok(Box::new(DownloadReport {
            bucket: req.bucket,
            key: req.key,
            path: req.dest,
            downloaded,
            seconds: started.elapsed().as_secs_f64(),
        }))
    }
}

/// On Windows, refuses before any request a destination whose name Windows cannot hold (a
/// device name, `:`, a trailing dot, ...): Windows would write something else, or nothing.
/// Elsewhere such names are ordinary and pass.
fn windows_can_hold(bucket: &str, key: &ObjectKey, dest: &Path) -> Result<(), Error> {
    let Some(name) = dest.file_name().and_then(|n| n.to_str()) else {
        return Ok(());
    };
    match windows_name_problem(name) {
        Some(problem) if crate::platform::WINDOWS_NAMES => Err(Error::Other(format!(
            "cannot download s3://{bucket}/{key} to {}: the name {problem}; fetch it under another name with -o NEWNAME (or -o - > NEWNAME)",
            escape(&dest.display().to_string())
        ))),
        _ => Ok(()),
    }
}

/// On a file system that folds case (Windows, macOS), refuses a batch holding two names that
/// differ only in case, before anything is written: the second would silently replace the
/// first.
fn one_file_per_name(
    bucket: &str,
    suite: &str,
    release: &str,
    files: &[(String, Option<u64>)],
) -> Result<(), Error> {
    match case_collision(files.iter().map(|(name, _)| name.as_str())) {
        Some((a, b)) => Err(Error::Other(format!(
            "s3://{bucket}/{suite}/{release}/: the files {} and {} differ only in case, and this file system takes them for one file; nothing was downloaded: fetch them one at a time with --filename NAME -o NEWNAME",
            escape(a),
            escape(b)
        ))),
        None => Ok(()),
    }
}

/// Refuses, before any request, a destination whose name is longer than its directory's file
/// system allows (255 bytes on most): a name anyone who can write to the bucket may choose.
fn name_fits(bucket: &str, key: &ObjectKey, dest: &Path) -> Result<(), Error> {
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

/// Removes the directories [`prepare_dir`] made, from the deepest up to `top`, as long as they
/// are empty (nothing was downloaded into them).
fn remove_empty_dirs(output: &Path, top: &Path) {
    // `-o DIR/` names the directory; `-o DIR/file` names a file in it.
    let deepest = if output.is_dir() {
        output
    } else {
        output.parent().unwrap_or(output)
    };
    for dir in deepest.ancestors() {
        if std::fs::remove_dir(dir).is_err() || dir == top {
            break;
        }
    }
}
