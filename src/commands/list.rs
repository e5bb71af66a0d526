//! `s3blob list`: the suites of a bucket, the releases of a suite (version order), or the files
//! of a release with size, date and checksum. Suites and files are printed page by page as
//! ListObjectsV2 returns them; releases are printed once all are known, sorted.

use std::io::Write;

use aws_sdk_s3::Client;
use tracing::{debug, warn};

use crate::cli::ListArgs;
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::escape::escape;
use crate::inspect::{self, ChecksumSource, rfc3339};
use crate::key::{ReleaseRef, check_part};
use crate::listing::Lister;
use crate::output::Outcome;
use crate::output::list::{Entry, FileEntry, Listed};
use crate::release::files as release_files;
use crate::release::state;

pub async fn run(cx: &Context<'_>, args: ListArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    if let Some(suite) = &args.suite {
        check_part("--suite", suite)?;
    }
    if let Some(release) = &args.release {
        check_part("--release", release)?;
    }
    let keys = super::key::trusted_keys(cx)?;
    let (settings, client) = super::connect(cx, Tuning::default()).await?;
    let bucket = settings.bucket.as_str();
    let mut printer = Printer {
        out,
        json: cx.global.json,
        count: 0,
        closed: false,
    };
    // `list --concurrency` is the command's own name for --max-requests.
    let concurrency = args.concurrency.unwrap_or(settings.transfer.max_requests);
    let what = match (&args.suite, &args.release) {
        (None, _) => suites(&client, bucket, &mut printer).await?,
        (Some(suite), None) => releases(&client, bucket, suite, concurrency, &mut printer).await?,
        (Some(suite), Some(release)) => {
            let release = crate::release::signed::resolve(
                &client,
                bucket,
                suite,
                release,
                concurrency,
                &keys,
            )
            .await?;
            files(
                &client,
                bucket,
                &ReleaseRef::new(suite, &release)?,
                concurrency,
                &keys,
                &mut printer,
            )
            .await?
        }
    };
    Ok(Box::new(Listed {
        count: printer.count,
        what,
    }))
}

async fn suites(
    client: &Client,
    bucket: &str,
    printer: &mut Printer<'_>,
) -> Result<&'static str, Error> {
    let mut lister = Lister::new(client, bucket, String::new());
    'suites: while let Some(page) = lister.next_page().await? {
        for suite in &page.children {
            if !printer.print(&Entry::Suite(suite))? {
                break 'suites;
            }
        }
    }
    Ok("suites")
}

/// The releases of `suite` in version order, each sealed or open (one HEAD per release).
async fn releases(
    client: &Client,
    bucket: &str,
    suite: &str,
    concurrency: usize,
    printer: &mut Printer<'_>,
) -> Result<&'static str, Error> {
    let releases = crate::release::state::releases(client, bucket, suite).await?;
    if releases.is_empty() {
        return Err(no_such_suite(bucket, suite));
    }
    let sealed = state::sealed(client, bucket, suite, &releases, concurrency).await?;
    let width = releases
        .iter()
        .map(|r| r.chars().count())
        .max()
        .unwrap_or(0);
    for (release, sealed) in releases.iter().zip(sealed) {
        let entry = Entry::Release {
            suite,
            release,
            sealed,
            width,
        };
        if !printer.print(&entry)? {
            break;
        }
    }
    Ok("releases")
}

/// The files of a release: sizes and dates from the listing; checksums from the manifest of a
/// sealed release (one GET in all), else from one HEAD per file.
async fn files(
    client: &Client,
    bucket: &str,
    release: &ReleaseRef,
    concurrency: usize,
    keys: &[crate::signature::TrustedKey],
    printer: &mut Printer<'_>,
) -> Result<&'static str, Error> {
    let prefix = release.prefix();
    let mut pages = release_files::Pages::new(client, bucket, release);
    // With trusted keys, nothing is listed unless the release is signed by one of them.
    let (manifest, mut page) = if keys.is_empty() {
        tokio::join!(
            state::fetch(client, bucket, release.suite(), release.release()),
            pages.next_page()
        )
    } else {
        let checked = crate::release::signed::fetch_required(client, bucket, release, keys).await?;
        (Ok(checked.manifest), pages.next_page().await)
    };
    let manifest = manifest?;
    'pages: while let Some(current) = page? {
        let checksums = match &manifest {
            Some(m) => current
                .iter()
                .map(|f| {
                    let listed = m.files.get(&f.name).map(|e| (e.crc64, ChecksumSource::Manifest));
                    if listed.is_none() {
                        warn!(
                            "s3://{bucket}/{prefix}{} is in the release but not in its manifest (added after sealing)",
                            f.name
                        );
                    }
                    listed
                })
                .collect(),
            None => checksums(client, bucket, &current, concurrency).await?,
        };
        for (file, checksum) in current.iter().zip(checksums) {
            let entry = file_entry(bucket, release, file, checksum)?;
            if !printer.print(&Entry::File(&entry))? {
                break 'pages;
            }
        }
        page = pages.next_page().await;
    }
    if printer.count == 0 && !printer.closed {
        return Err(Error::NotFound(format!(
            "s3://{bucket}/{prefix} holds no files; check --suite and --release (s3blob list --suite {} shows the releases)",
            release.suite()
        )));
    }
    Ok("files")
}

fn no_such_suite(bucket: &str, suite: &str) -> Error {
    Error::NotFound(format!(
        "suite {suite:?} has no releases in s3://{bucket}; check --suite and --bucket (s3blob list shows the suites)"
    ))
}

/// Writes entries to stdout as they come.
struct Printer<'a> {
    out: &'a mut dyn Write,
    json: bool,
    count: u64,
    /// The reader has gone.
    closed: bool,
}

impl Printer<'_> {
    /// Prints one entry; `false` when the reader has gone (`| head`): stop quietly.
    fn print(&mut self, entry: &Entry<'_>) -> Result<bool, Error> {
        let line = entry.render(self.json);
        // Names come from whoever wrote to the bucket: shown, never obeyed by the terminal.
        let line = if self.json {
            line
        } else {
            escape(&line).into_owned()
        };
        match writeln!(self.out, "{line}").and_then(|()| self.out.flush()) {
            Ok(()) => {
                self.count += 1;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(false)
            }
            Err(e) => Err(Error::Other(format!("cannot write to stdout: {e}"))),
        }
    }
}

/// A listed file of the release as `list` shows it.
fn file_entry(
    bucket: &str,
    release: &ReleaseRef,
    file: &release_files::Listed,
    checksum: Option<(u64, ChecksumSource)>,
) -> Result<FileEntry, Error> {
    let object = &file.object;
    Ok(FileEntry {
        bucket: bucket.to_owned(),
        key: release.key(&file.name)?,
        size: file.size().unwrap_or(0),
        last_modified: object.last_modified().and_then(rfc3339),
        etag: object.e_tag().map(str::to_owned),
        storage_class: object.storage_class().map(|c| c.as_str().to_owned()),
        checksum,
    })
}

/// The stored checksum of each object (ListObjectsV2 does not return checksum values), by
/// `concurrency` HEADs at a time; an object deleted since the listing simply has none.
async fn checksums(
    client: &Client,
    bucket: &str,
    files: &[release_files::Listed],
    concurrency: usize,
) -> Result<Vec<Option<(u64, ChecksumSource)>>, Error> {
    crate::tasks::each(files, concurrency, |file| {
        let (client, bucket) = (client.clone(), bucket.to_owned());
        let key = file.object.key().map(str::to_owned);
        async move {
            let Some(key) = key else { return Ok(None) };
            match inspect::head(&client, &bucket, &key).await {
                Ok(info) => Ok(info.checksum),
                Err(Error::NotFound(m)) => {
                    debug!("gone since the listing: {m}");
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
    })
    .await
}
