//! `s3blob stat`: what is stored at one key.

use crate::cli::{GlobalArgs, ObjectArgs, TuningArgs};
use crate::error::Error;
use crate::inspect;
use crate::output::Report;

pub async fn run(global: &GlobalArgs, args: ObjectArgs) -> Result<Report, Error> {
    let (settings, client) = super::connect(global, &TuningArgs::default()).await?;
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
    Ok(Report::Stat { bucket, key, info })
}
