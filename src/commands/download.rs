//! `s3blob download`: files of a release to local files (or one to stdout).

use std::path::{Path, PathBuf};
use std::time::Instant;

use aws_sdk_s3::Client;
use tracing::{info, warn};

use crate::cli::DownloadArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::key::ObjectKey;
use crate::listing::Lister;
use crate::output::Outcome;
use crate::output::download::DownloadReport;
use crate::progress::SharedProgress;
use crate::release::manifest::MANIFEST_NAME;
use crate::release::state::{self, ManifestCell};
use crate::shutdown::Shutdown;
use crate::transfer::budget::Budget;
use crate::transfer::download::{self, DownloadRequest};

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
    let (settings, client) = super::connect(cx, (&args.tuning).into()).await?;
    let bucket = settings.bucket.clone();
    let release = state::resolve(
        &client,
        &bucket,
        &args.key.suite,
        &args.key.release,
        settings.transfer.concurrency,
    )
    .await?;
    let manifest = ManifestCell::new(&client, &bucket, &args.key.suite, &release);
    let filenames = if args.all {
        whole_release(&client, &bucket, &args.key.suite, &release, &manifest).await?
    } else {
        // The same file named twice is fetched once.
        let mut seen = std::collections::HashSet::new();
        args.filename
            .iter()
            .filter(|f| seen.insert(f.as_str()))
            .cloned()
            .collect()
    };
    let budget = Budget::new(settings.transfer.concurrency);
    let progress = super::progress_for(cx.global, "download");
    let request = |filename: &str, dest: PathBuf| -> Result<DownloadRequest, Error> {
        Ok(DownloadRequest {
            bucket: bucket.clone(),
            key: ObjectKey::new(&args.key.suite, &release, filename)?,
            dest,
            no_clobber: args.no_clobber,
            settings: settings.transfer,
            budget: budget.clone(),
            manifest: Some(manifest.clone()),
        })
    };

    let report = if several {
        let dir = args.output.clone().unwrap_or_else(|| PathBuf::from("."));
        prepare_dir(&dir)?;
        let items = filenames
            .iter()
            .map(|f| Ok((f.clone(), request(f, dir.join(f))?)))
            .collect::<Result<Vec<_>, Error>>()?;
        super::batch(
            "download",
            "downloaded",
            items,
            settings.transfer.concurrency,
            |req| {
                one(
                    client.clone(),
                    req,
                    progress.clone(),
                    cx.shutdown.clone(),
                    false,
                )
            },
        )
        .await
    } else {
        let filename = filenames.first().map_or("", String::as_str);
        let dest = match &args.output {
            Some(p) if to_stdout => p.clone(),
            other => download::destination(other.as_deref(), filename),
        };
        let req = request(filename, dest)?;
        one(
            client,
            req,
            progress.clone(),
            cx.shutdown.clone(),
            to_stdout,
        )
        .await
    };
    progress.finish();
    report
}

/// Downloads one object to its report (to stdout with `to_stdout`).
async fn one(
    client: Client,
    req: DownloadRequest,
    progress: SharedProgress,
    shutdown: Shutdown,
    to_stdout: bool,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let target = if to_stdout {
        "stdout".to_owned()
    } else {
        req.dest.display().to_string()
    };
    info!("downloading s3://{}/{} to {target}", req.bucket, req.key);
    let downloaded = if to_stdout {
        let out = tokio::io::stdout();
        download::download_to_writer(&client, &req, out, progress, &shutdown).await?
    } else {
        download::download_to_file(&client, &req, progress, &shutdown).await?
    };
    Ok(Box::new(DownloadReport {
        bucket: req.bucket,
        key: req.key,
        path: req.dest,
        downloaded,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// The files `--all` fetches: those the manifest lists when the release is sealed (objects it
/// does not list are reported, not fetched), else every file of the release.
async fn whole_release(
    client: &Client,
    bucket: &str,
    suite: &str,
    release: &str,
    manifest: &ManifestCell,
) -> Result<Vec<String>, Error> {
    let (listed, present) = tokio::join!(
        manifest.get(),
        release_files(client, bucket, suite, release)
    );
    let Some(listed) = listed? else {
        return present;
    };
    let present = match present {
        Ok(present) => present,
        // Every object gone, the manifest left: each file will be reported missing.
        Err(Error::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    for name in present.iter().filter(|n| !listed.files.contains_key(*n)) {
        warn!(
            "s3://{bucket}/{suite}/{release}/{name} is in the release but not in its manifest (added after sealing); not downloaded"
        );
    }
    Ok(listed.files.keys().cloned().collect())
}

/// Every file of a release, in key order; none is an error (most likely a typo).
async fn release_files(
    client: &Client,
    bucket: &str,
    suite: &str,
    release: &str,
) -> Result<Vec<String>, Error> {
    let prefix = format!("{suite}/{release}/");
    let mut lister = Lister::new(client, bucket, prefix.clone());
    let mut files = Vec::new();
    while let Some(page) = lister.next_page().await? {
        files.extend(
            page.objects
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| k.strip_prefix(&prefix))
                .filter(|f| *f != MANIFEST_NAME)
                .filter(|f| match ObjectKey::new(suite, release, f) {
                    Ok(_) => true,
                    Err(e) => {
                        warn!("skipping s3://{bucket}/{prefix}{f}: {e}");
                        false
                    }
                })
                .map(str::to_owned),
        );
    }
    if files.is_empty() {
        return Err(Error::NotFound(format!(
            "s3://{bucket}/{prefix} holds no files; check --suite and --release (s3blob list --suite {suite} shows the releases)"
        )));
    }
    Ok(files)
}

/// The directory several files go into: created if missing, refused if it is something else.
fn prepare_dir(dir: &Path) -> Result<(), Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Usage(format!(
            "-o {} is not a directory; several files need -o DIR",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::local_io("create the directory", dir, &e))
}
