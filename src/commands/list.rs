//! `s3blob list`: the suites of a bucket, the releases of a suite (version order), or the files
//! of a release with size, date and checksum. Suites and files are printed page by page as
//! ListObjectsV2 returns them; releases are printed once all are known, sorted.

use std::io::Write;
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::Object;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::cli::ListArgs;
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::inspect::{self, ChecksumSource, rfc3339};
use crate::key::{ObjectKey, check_part};
use crate::listing::{self, Lister};
use crate::output::Outcome;
use crate::output::list::{Entry, FileEntry, Listed};

pub async fn run(cx: &Context<'_>, args: ListArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    if let Some(suite) = &args.suite {
        check_part("--suite", suite)?;
    }
    if let Some(release) = &args.release {
        check_part("--release", release)?;
    }
    let tuning = Tuning {
        concurrency: args.concurrency,
        ..Tuning::default()
    };
    let (settings, client) = super::connect(cx, tuning).await?;
    let bucket = settings.bucket.as_str();
    let mut printer = Printer {
        out,
        json: cx.global.json,
        count: 0,
        closed: false,
    };
    let what = match (&args.suite, &args.release) {
        (None, _) => {
            let mut lister = Lister::new(&client, bucket, String::new());
            'suites: while let Some(page) = lister.next_page().await? {
                for suite in &page.children {
                    if !printer.print(&Entry::Suite(suite))? {
                        break 'suites;
                    }
                }
            }
            "suites"
        }
        (Some(suite), None) => {
            let releases = listing::releases(&client, bucket, suite).await?;
            if releases.is_empty() {
                return Err(no_such_suite(bucket, suite));
            }
            for release in &releases {
                if !printer.print(&Entry::Release { suite, release })? {
                    break;
                }
            }
            "releases"
        }
        (Some(suite), Some(release)) => {
            let release = listing::resolve_release(&client, bucket, suite, release).await?;
            let prefix = format!("{suite}/{release}/");
            let mut lister = Lister::new(&client, bucket, prefix);
            let heads = Arc::new(Semaphore::new(settings.transfer.concurrency));
            'pages: while let Some(page) = lister.next_page().await? {
                let checksums = checksums(&client, bucket, &page.objects, &heads).await?;
                for (object, checksum) in page.objects.iter().zip(checksums) {
                    let Some(file) = file_entry(bucket, suite, &release, object, checksum) else {
                        continue;
                    };
                    if !printer.print(&Entry::File(&file))? {
                        break 'pages;
                    }
                }
            }
            if printer.count == 0 && !printer.closed {
                return Err(Error::NotFound(format!(
                    "s3://{bucket}/{suite}/{release}/ holds no files; check --suite and --release (s3blob list --suite {suite} shows the releases)"
                )));
            }
            "files"
        }
    };
    Ok(Box::new(Listed {
        count: printer.count,
        what,
    }))
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

/// A listed object as a file of the release, or `None` (logged) for a name that cannot be a
/// key part.
fn file_entry(
    bucket: &str,
    suite: &str,
    release: &str,
    object: &Object,
    checksum: Option<(u64, ChecksumSource)>,
) -> Option<FileEntry> {
    let full = object.key()?;
    let filename = full.strip_prefix(&format!("{suite}/{release}/"))?;
    let key = match ObjectKey::new(suite, release, filename) {
        Ok(key) => key,
        Err(e) => {
            warn!("skipping s3://{bucket}/{full}: {e}");
            return None;
        }
    };
    Some(FileEntry {
        bucket: bucket.to_owned(),
        key,
        size: object
            .size()
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0),
        last_modified: object.last_modified().and_then(rfc3339),
        etag: object.e_tag().map(str::to_owned),
        storage_class: object.storage_class().map(|c| c.as_str().to_owned()),
        checksum,
    })
}

/// The stored checksum of each object (ListObjectsV2 does not return checksum values), by
/// concurrent HEADs; an object deleted since the listing simply has none.
async fn checksums(
    client: &Client,
    bucket: &str,
    objects: &[Object],
    permits: &Arc<Semaphore>,
) -> Result<Vec<Option<(u64, ChecksumSource)>>, Error> {
    let mut set = JoinSet::new();
    for (i, object) in objects.iter().enumerate() {
        let Some(key) = object.key().map(str::to_owned) else {
            continue;
        };
        let (client, bucket, permits) = (client.clone(), bucket.to_owned(), permits.clone());
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, inspect::head(&client, &bucket, &key).await)
        });
    }
    let mut out = vec![None; objects.len()];
    while let Some(joined) = set.join_next().await {
        let (i, head) = joined.map_err(|e| Error::Other(format!("a HEAD task failed: {e}")))?;
        match head {
            Ok(info) => out[i] = info.checksum,
            Err(Error::NotFound(m)) => debug!("gone since the listing: {m}"),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
