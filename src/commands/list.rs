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
use crate::escape::escape;
use crate::inspect::{self, ChecksumSource, rfc3339};
use crate::key::{ObjectKey, check_part};
use crate::listing::Lister;
use crate::manifest::MANIFEST_NAME;
use crate::output::Outcome;
use crate::output::list::{Entry, FileEntry, Listed};
use crate::release::state;

pub async fn run(cx: &Context<'_>, args: ListArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    if let Some(suite) = &args.suite {
        check_part("--suite", suite)?;
    }
    if let Some(release) = &args.release {
        check_part("--release", release)?;
    }
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
            let release = state::resolve(&client, bucket, suite, release, concurrency).await?;
            files(&client, bucket, suite, &release, concurrency, &mut printer).await?
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
    suite: &str,
    release: &str,
    concurrency: usize,
    printer: &mut Printer<'_>,
) -> Result<&'static str, Error> {
    let prefix = format!("{suite}/{release}/");
    let mut lister = Lister::new(client, bucket, prefix.clone());
    let (manifest, mut page) = tokio::join!(
        state::fetch(client, bucket, suite, release),
        lister.next_page()
    );
    let manifest = manifest?;
    let heads = Arc::new(Semaphore::new(concurrency));
    'pages: while let Some(current) = page? {
        let objects: Vec<&Object> = current
            .objects
            .iter()
            .filter(|o| o.key().and_then(|k| k.strip_prefix(&prefix)) != Some(MANIFEST_NAME))
            .collect();
        let checksums = match &manifest {
            Some(m) => objects
                .iter()
                .map(|o| {
                    let name = o.key().and_then(|k| k.strip_prefix(&prefix)).unwrap_or("");
                    let listed = m.files.get(name).map(|e| (e.crc64, ChecksumSource::Manifest));
                    if listed.is_none() {
                        warn!("s3://{bucket}/{prefix}{name} is in the release but not in its manifest (added after sealing)");
                    }
                    listed
                })
                .collect(),
            None => checksums(client, bucket, &objects, &heads).await?,
        };
        for (object, checksum) in objects.iter().zip(checksums) {
            let Some(file) = file_entry(bucket, suite, release, object, checksum) else {
                continue;
            };
            if !printer.print(&Entry::File(&file))? {
                break 'pages;
            }
        }
        page = lister.next_page().await;
    }
    if printer.count == 0 && !printer.closed {
        return Err(Error::NotFound(format!(
            "s3://{bucket}/{prefix} holds no files; check --suite and --release (s3blob list --suite {suite} shows the releases)"
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
    if let Some(problem) = crate::key::listed_name_problem(filename) {
        warn!("skipping s3://{bucket}/{}: {problem}", escape(full));
        return None;
    }
    let key = match ObjectKey::new(suite, release, filename) {
        Ok(key) => key,
        Err(e) => {
            warn!("skipping s3://{bucket}/{}: {}", escape(full), e.reason);
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
    objects: &[&Object],
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
