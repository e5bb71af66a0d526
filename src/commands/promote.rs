//! `s3blob promote`: copies a release on the server to another suite, release name or bucket,
//! checks every copy there, and seals the destination with a manifest naming its origin.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use tracing::warn;

use crate::cli::PromoteArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::inspect;
use crate::key::{ObjectKey, check_part};
use crate::manifest::{Entry, Origin, SHA256SUMS_NAME};
use crate::output::Outcome;
use crate::output::promote::{FileCopy, PromoteReport};
use crate::output::severity;
use crate::release::seal::{self, Known, SealRequest};
use crate::release::{self, remove, state};
use crate::transfer::budget::Budget;
use crate::transfer::copy::{self, COPY_OBJECT_MAX, Copied, CopyRequest};
use crate::transfer::upload::ChecksumHeader;

/// Lowers the multipart-copy threshold (bytes), for tests: a 5 GiB object is too big for one.
const MULTIPART_ABOVE_VAR: &str = "S3BLOB_TEST_COPY_MULTIPART_ABOVE";

pub async fn run(cx: &Context<'_>, args: PromoteArgs) -> Result<Outcome, Error> {
    let started = Instant::now();
    check_part("--suite", &args.key.suite)?;
    check_part("--release", &args.key.release)?;
    let to_suite = args
        .to_suite
        .clone()
        .unwrap_or_else(|| args.key.suite.clone());
    check_part("--to-suite", &to_suite)?;
    if let Some(release) = &args.to_release {
        check_part("--to-release", release)?;
        if release == release::LATEST {
            return Err(Error::Usage(
                "--to-release latest: name the destination release; `latest` is what readers ask for".into(),
            ));
        }
    }
    if let Some(bucket) = &args.to_bucket {
        crate::config::check_bucket(bucket)
            .map_err(|why| Error::Usage(format!("invalid --to-bucket {bucket:?}: {why}")))?;
    }
    if args.to_suite.is_none() && args.to_release.is_none() && args.to_bucket.is_none() {
        return Err(Error::Usage(
            "nothing to promote to: give --to-suite, --to-release or --to-bucket".into(),
        ));
    }
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
    let to_bucket = args.to_bucket.clone().unwrap_or_else(|| bucket.clone());
    let to_release = args.to_release.clone().unwrap_or_else(|| release.clone());
    if (to_bucket.as_str(), to_suite.as_str(), to_release.as_str())
        == (bucket.as_str(), args.key.suite.as_str(), release.as_str())
    {
        return Err(Error::Usage(format!(
            "the destination is the release itself (s3://{bucket}/{}/{release}/): give another --to-suite, --to-release or --to-bucket",
            args.key.suite
        )));
    }
    let origin = Origin {
        bucket: bucket.clone(),
        suite: args.key.suite.clone(),
        release: release.clone(),
    };
    let source_uri = format!("s3://{bucket}/{}/{release}/", args.key.suite);

    // What to copy: the manifest's files, or (--allow-open) what the release holds now.
    let (files, sha256sums) = match state::fetch(&client, &bucket, &args.key.suite, &release)
        .await?
    {
        Some(manifest) => {
            let sha = manifest.has_sha256();
            let mut files = manifest.files;
            if sha {
                // Written again at the destination by its seal, with the same lines.
                files.remove(SHA256SUMS_NAME);
            }
            (files, sha)
        }
        None if args.allow_open => (
            open_files(&client, &bucket, &args.key.suite, &release).await?,
            false,
        ),
        None => {
            return Err(Error::Usage(format!(
                "{source_uri} is not sealed: it may be half-published; seal it first (s3blob seal), or pass --allow-open to promote it as it is"
            )));
        }
    };
    if files.is_empty() {
        return Err(Error::NotFound(format!(
            "{source_uri} holds no files to promote"
        )));
    }
    // A sealed destination with other files cannot take these.
    if let Some(existing) = state::fetch(&client, &to_bucket, &to_suite, &to_release).await?
        && !existing.same_files(&with_sums(&existing, &files))
    {
        return Err(Error::AlreadyExists(format!(
            "s3://{to_bucket}/{to_suite}/{to_release}/ is sealed with other files; promote to another release"
        )));
    }

    let multipart_above = cx
        .env
        .get(MULTIPART_ABOVE_VAR)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(COPY_OBJECT_MAX);
    let header = ChecksumHeader::new(settings.transfer.checksum_header);
    let permits = Arc::new(tokio::sync::Semaphore::new(
        settings.transfer.concurrency.max(1),
    ));
    let mut set = JoinSet::new();
    let mut copies = Vec::new();
    let mut failures: Vec<(String, Error)> = Vec::new();
    // Set when the store turns out not to copy on the server: no copy can work, so none more
    // starts, and the command fails with that one reason.
    let mut unsupported: Option<Error> = None;
    for (name, entry) in &files {
        let src_key = ObjectKey::new(&args.key.suite, &release, name)?.to_string();
        let dst_key = ObjectKey::new(&to_suite, &to_release, name)?.to_string();
        let req = CopyRequest {
            src_bucket: bucket.clone(),
            src_key,
            dst_bucket: to_bucket.clone(),
            dst_key,
            size: entry.size,
            crc64: entry.crc64,
            multipart_above,
            part_size: settings.transfer.part_size,
            concurrency: settings.transfer.concurrency,
            checksum_header: header.send(),
        };
        // A copy starts only when it has a place; finished ones are reaped as they go. After a
        // signal no new copy starts, and the running ones are still joined: each aborts its
        // own multipart copy.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit
                .map_err(|e| Error::Other(format!("a copy could not start: {e}")))?,
            () = cx.shutdown.cancelled() => {
                failures.push((name.clone(), cx.shutdown.error()));
                break;
            }
        };
        while let Some(joined) = set.try_join_next() {
            record(joined, &mut copies, &mut failures, &mut unsupported)?;
        }
        if unsupported.is_some() {
            break;
        }
        let (client, shutdown, name, size) = (
            client.clone(),
            cx.shutdown.clone(),
            name.clone(),
            entry.size,
        );
        set.spawn(async move {
            let result = copy::copy(&client, &req, &shutdown).await;
            drop(permit);
            (name, size, result)
        });
    }
    while let Some(joined) = set.join_next().await {
        record(joined, &mut copies, &mut failures, &mut unsupported)?;
    }
    if let Some(e) = unsupported {
        return Err(e.reworded(|m| {
            format!("{m} (s3://{to_bucket}/{to_suite}/{to_release}/ is not sealed)")
        }));
    }
    if let Some(worst) = failures
        .iter()
        .max_by_key(|(_, e)| severity(e.exit_code()))
        .map(|(_, e)| e.clone())
    {
        for (name, e) in &failures {
            warn!("{name}: {e}");
        }
        return Err(worst.reworded(|m| {
            format!(
                "{m} ({} of {} file(s) not promoted; s3://{to_bucket}/{to_suite}/{to_release}/ is not sealed)",
                failures.len(),
                files.len()
            )
        }));
    }
    copies.sort_by(|a, b| a.filename.cmp(&b.filename));

    // Every copy is checked by the seal (size and CRC64NVME of each object, exactly these
    // files), then the manifest is written create-only and read back.
    let known: BTreeMap<String, Known> = files
        .iter()
        .map(|(name, e)| {
            (
                name.clone(),
                Known {
                    size: e.size,
                    crc64: e.crc64,
                    sha256: e.sha256.clone(),
                },
            )
        })
        .collect();
    let req = SealRequest {
        bucket: to_bucket.clone(),
        suite: to_suite.clone(),
        release: to_release.clone(),
        must_have: files.keys().cloned().collect(),
        expect_files: Some(files.len()),
        sha256sums,
        known,
        promoted_from: Some(origin.clone()),
        settings: settings.transfer,
        budget: Budget::for_settings(&settings.transfer),
        header,
    };
    let sealed = seal::seal(&client, &req, cx.shutdown).await?;
    Ok(Box::new(PromoteReport {
        bucket: to_bucket,
        origin,
        copies,
        sealed,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

type Joined = Result<(String, u64, Result<Copied, copy::Failure>), tokio::task::JoinError>;

/// One finished copy, into the copies made, the failures, or the store's lack of copies.
fn record(
    joined: Joined,
    copies: &mut Vec<FileCopy>,
    failures: &mut Vec<(String, Error)>,
    unsupported: &mut Option<Error>,
) -> Result<(), Error> {
    let (filename, size, result) =
        joined.map_err(|e| Error::Other(format!("a copy task failed: {e}")))?;
    match result {
        Ok(copied) => copies.push(FileCopy {
            filename,
            size,
            copied,
        }),
        Err(copy::Failure::Other(e)) => failures.push((filename, e)),
        Err(copy::Failure::Unsupported(e)) => {
            unsupported.get_or_insert(e);
        }
    }
    Ok(())
}

/// `files` as the destination's manifest would list them (with SHA256SUMS when it has one).
fn with_sums(
    existing: &crate::manifest::Manifest,
    files: &BTreeMap<String, Entry>,
) -> BTreeMap<String, Entry> {
    let mut all = files.clone();
    if let Some(sums) = existing.files.get(SHA256SUMS_NAME) {
        all.entry(SHA256SUMS_NAME.to_owned())
            .or_insert_with(|| sums.clone());
    }
    all
}

/// The files of an open release as they are now: sizes from a listing, checksums from a HEAD
/// each.
async fn open_files(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    suite: &str,
    release: &str,
) -> Result<BTreeMap<String, Entry>, Error> {
    let contents = remove::contents(client, bucket, suite, release).await?;
    let prefix = format!("{suite}/{release}/");
    let mut files = BTreeMap::new();
    for key in &contents.keys {
        let Some(name) = key.strip_prefix(&prefix) else {
            continue;
        };
        if ObjectKey::new(suite, release, name).is_err() {
            continue;
        }
        let info = inspect::head(client, bucket, key).await?;
        let Some((crc64, _)) = info.checksum else {
            return Err(Error::Usage(format!(
                "s3://{bucket}/{key} has no stored CRC64NVME (another tool wrote it): seal the release first (s3blob seal computes it), then promote"
            )));
        };
        files.insert(
            name.to_owned(),
            Entry {
                size: info.size,
                crc64,
                content_type: info.content_type,
                sha256: None,
            },
        );
    }
    Ok(files)
}
