//! `s3blob verify`: checks a stored release against its manifest without downloading it.

use crate::cli::VerifyArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::key::check_part;
use crate::output::Outcome;
use crate::output::verify::VerifyReport;
use crate::release::verify::{self, VerifyRequest};
use crate::transfer::budget::Budget;

pub async fn run(cx: &Context<'_>, args: VerifyArgs) -> Result<Outcome, Error> {
    check_part("--suite", &args.key.suite)?;
    check_part("--release", &args.key.release)?;
    let trusted = super::key::trusted_keys(cx)?;
    let (settings, client, release) =
        super::connect_to_release(cx, (&args.tuning).into(), &args.key).await?;
    let release = release.release().to_owned();
    let bucket = settings.bucket.clone();
    let req = VerifyRequest {
        bucket: bucket.clone(),
        suite: args.key.suite.clone(),
        release: release.clone(),
        deep: args.deep,
        settings: settings.transfer,
        budget: Budget::for_settings(&settings.transfer),
        trusted,
    };
    let verification = verify::verify(&client, &req, cx.shutdown).await?;
    if !verification.sealed {
        tracing::warn!(
            "s3://{bucket}/{}/{release}/ is not sealed: there is no manifest to check it against, so each file was checked against its own stored checksum only",
            args.key.suite
        );
    }
    for name in &verification.unlisted {
        tracing::warn!(
            "s3://{bucket}/{}/{release}/{name} is in the release but not in its manifest (added after sealing)",
            args.key.suite
        );
    }
    Ok(Box::new(VerifyReport::new(
        bucket,
        args.key.suite,
        release,
        args.deep,
        verification,
    )))
}
