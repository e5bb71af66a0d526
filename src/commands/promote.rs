//! `s3blob promote`: copies a release on the server to another suite, release name or bucket,
//! checks every copy there, and seals the destination with a manifest naming its origin (the
//! use case itself is [`crate::release::promote`]).

use std::time::Instant;

use crate::cli::PromoteArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::key::{ReleaseRef, check_part};
use crate::output::Outcome;
use crate::output::promote::PromoteReport;
use crate::release::promote::{self, PromoteRequest};
use crate::release::{self};
use crate::transfer::copy::COPY_OBJECT_MAX;

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
        crate::values::check_bucket(bucket)
            .map_err(|why| Error::Usage(format!("invalid --to-bucket {bucket:?}: {why}")))?;
    }
    if args.to_suite.is_none() && args.to_release.is_none() && args.to_bucket.is_none() {
        return Err(Error::Usage(
            "nothing to promote to: give --to-suite, --to-release or --to-bucket".into(),
        ));
    }
    let trusted = super::key::trusted_keys(cx)?;
    let sign = super::key::signing_key(cx, &args.sign)?;
    if sign.is_none() && !trusted.is_empty() {
        tracing::warn!(
            "promote: the source is checked against trusted keys, but no --sign-key (or S3BLOB_SIGN_KEY) is given: the copy will be unsigned, and consumers who require a signature will refuse it"
        );
    }
    let (settings, client, release) =
        super::connect_to_release(cx, (&args.tuning).into(), &args.key).await?;
    let bucket = settings.bucket.clone();
    let from = release;
    let to_bucket = args.to_bucket.clone().unwrap_or_else(|| bucket.clone());
    let to = ReleaseRef::new(
        &to_suite,
        args.to_release.as_deref().unwrap_or(from.release()),
    )?;
    if (&to_bucket, &to) == (&bucket, &from) {
        return Err(Error::Usage(format!(
            "the destination is the release itself (s3://{bucket}/{}): give another --to-suite, --to-release or --to-bucket",
            from.prefix()
        )));
    }
    let req = PromoteRequest {
        from_bucket: bucket,
        from,
        to_bucket: to_bucket.clone(),
        to,
        allow_open: args.allow_open,
        multipart_above: cx
            .env
            .get(MULTIPART_ABOVE_VAR)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(COPY_OBJECT_MAX),
        settings: settings.transfer,
        trusted,
        sign,
    };
    let promoted = promote::promote(&client, &req, cx.shutdown).await?;
    Ok(Box::new(PromoteReport {
        bucket: to_bucket,
        origin: promoted.origin,
        copies: promoted.copies,
        sealed: promoted.sealed,
        seconds: started.elapsed().as_secs_f64(),
    }))
}
