//! `s3blob stat`: what is stored at one key.

use crate::cli::ObjectArgs;
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::inspect;
use crate::output::Outcome;
use crate::output::stat::StatReport;

pub async fn run(cx: &Context<'_>, args: ObjectArgs) -> Result<Outcome, Error> {
    let (settings, client) = super::connect(cx, Tuning::default()).await?;
    let bucket = settings.bucket;
    let key = super::object_key(
        &client,
        &bucket,
        &args.key.suite,
        &args.key.release,
        &args.filename,
    )
    .await?;
    let info = inspect::head(&client, &bucket, &key.to_string()).await?;
    Ok(Box::new(StatReport { bucket, key, info }))
}
