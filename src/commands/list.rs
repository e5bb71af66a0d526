//! `s3blob list`: the suites of a bucket, the releases of a suite (version order), or the files
//! of a release with size, date and checksum. Suites and files are printed page by page as
//! ListObjectsV2 returns them; releases are printed once all are known, sorted.

use std::io::Write;

use aws_sdk_s3::Client;

use crate::cli::ListArgs;
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::escape::escape;
use crate::inspect::{ChecksumSource, rfc3339};
use crate::key::{ReleaseRef, check_part};
use crate::listing::Lister;
use crate::output::Outcome;
use crate::output::list::{Entry, FileEntry, Listed};
use crate::release::catalog::Catalog;
use crate::release::files as release_files;

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
        signature: None,
    };
    // `list --concurrency` is the command's own name for --max-requests.
    let concurrency = args.concurrency.unwrap_or(settings.transfer.max_requests);
    let what = match (&args.suite, &args.release) {
        (None, _) => suites(&client, bucket, &mut printer).await?,
        (Some(suite), None) => {
            releases(&client, bucket, suite, concurrency, &keys, &mut printer).await?
        }
        (Some(suite), Some(release)) => {
            let asked = ReleaseRef::new(suite, release)?;
            let release =
                crate::release::signed::resolve(&client, bucket, &asked, concurrency, &keys)
                    .await?;
            files(&client, bucket, &release, concurrency, &keys, &mut printer).await?
        }
    };
    Ok(Box::new(Listed {
        count: printer.count,
        what,
        signature: printer.signature,
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

/// The releases of `suite` in version order, each sealed or open and what its signature is
/// worth (see `signed::overview` for what that reads).
async fn releases(
    client: &Client,
    bucket: &str,
    suite: &str,
    concurrency: usize,
    keys: &[crate::signature::TrustedKey],
    printer: &mut Printer<'_>,
) -> Result<&'static str, Error> {
    let releases = crate::release::state::releases(client, bucket, suite).await?;
    if releases.is_empty() {
        return Err(no_such_suite(bucket, suite));
    }
    let sealed =
        crate::release::signed::overview(client, bucket, suite, &releases, concurrency, keys)
            .await?;
    let width = releases
        .iter()
        .map(|r| r.chars().count())
        .max()
        .unwrap_or(0);
    for (release, (sealed, signature)) in releases.iter().zip(&sealed) {
        let entry = Entry::Release {
            suite,
            release,
            sealed: *sealed,
            signature,
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
    let mut catalog = Catalog::open(client, bucket, release, concurrency, keys).await?;
    let verdict = catalog.verdict().clone();
    printer.signature = Some(verdict.clone());
    'pages: while let Some(page) = catalog.next_page().await? {
        for (file, checksum) in &page {
            let entry = file_entry(bucket, release, file, *checksum, &verdict)?;
            if !printer.print(&Entry::File(&entry))? {
                break 'pages;
            }
        }
    }
    if printer.count == 0 && !printer.closed {
        return Err(Error::NotFound(format!(
            "s3://{bucket}/{} holds no files; check --suite and --release (s3blob list --suite {} shows the releases)",
            release.prefix(),
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
    /// The signature of the release whose files are listed, for the summary.
    signature: Option<crate::signature::Verdict>,
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
    signature: &crate::signature::Verdict,
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
        signature: signature.clone(),
    })
}
