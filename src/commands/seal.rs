//! `s3blob seal`: seals a release assembled by earlier commands or other jobs.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::cli::SealArgs;
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::key::check_part;
use crate::manifest::SHA256SUMS_NAME;
use crate::output::Outcome;
use crate::output::seal::SealReport;
use crate::release;
use crate::release::seal::{self, SealRequest};
use crate::transfer::budget::Budget;
use crate::transfer::upload::ChecksumHeader;

pub async fn run(cx: &Context<'_>, args: SealArgs) -> Result<Outcome, Error> {
    check_part("--suite", &args.key.suite)?;
    check_part("--release", &args.key.release)?;
    if args.key.release == release::LATEST {
        return Err(Error::Usage(format!(
            "--release {}: name the release to seal; `latest` only ever means one that is sealed already",
            release::LATEST
        )));
    }
    for f in &args.files {
        crate::key::ObjectKey::new(&args.key.suite, &args.key.release, f)?;
    }
    if args.sha256sums && args.files.iter().any(|f| f == SHA256SUMS_NAME) {
        return Err(Error::Usage(format!(
            "--file {SHA256SUMS_NAME} and --sha256sums: s3blob writes that file itself with --sha256sums"
        )));
    }
    let sign = super::key::signing_key(cx, &args.sign)?;
    let started = Instant::now();
    let (settings, client) = super::connect(cx, Tuning::default()).await?;
    let req = SealRequest {
        bucket: settings.bucket.clone(),
        suite: args.key.suite,
        release: args.key.release,
        must_have: args.files,
        expect_files: args.expect_files,
        sha256sums: args.sha256sums,
        known: BTreeMap::new(),
        promoted_from: None,
        settings: settings.transfer,
        budget: Budget::for_settings(&settings.transfer),
        header: ChecksumHeader::new(settings.transfer.checksum_header),
        sign,
    };
    let sealed = seal::seal(&client, &req, cx.shutdown).await?;
    Ok(Box::new(SealReport {
        bucket: settings.bucket,
        sealed,
        seconds: started.elapsed().as_secs_f64(),
    }))
}
