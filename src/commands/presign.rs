//! `s3blob presign`: a URL that downloads one artifact without credentials until it expires.

use std::time::SystemTime;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::DateTime;

use crate::cli::PresignArgs;
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::inspect;
use crate::output::Outcome;
use crate::output::presign::PresignReport;
use crate::s3::classify;

pub async fn run(cx: &Context<'_>, args: PresignArgs) -> Result<Outcome, Error> {
    let o = &args.object;
    let (settings, client) = super::connect(cx, Tuning::default()).await?;
    let bucket = settings.bucket;
    let key =
        super::object_key(&client, &bucket, &o.key.suite, &o.key.release, &o.filename).await?;
    let k = key.to_string();
    // A URL to nothing would only fail later, in someone else's hands.
    inspect::head(&client, &bucket, &k).await?;
    let now = SystemTime::now();
    let config = PresigningConfig::builder()
        .start_time(now)
        .expires_in(args.expires)
        .build()
        .map_err(|e| Error::Usage(format!("invalid --expires: {e}")))?;
    let request = client
        .get_object()
        .bucket(&bucket)
        .key(&k)
        .presigned(config)
        .await
        .map_err(|e| classify(&e, "presign", &bucket, Some(&k)))?;
    let expires_at =
        crate::inspect::rfc3339(&DateTime::from(now + args.expires)).unwrap_or_default();
    Ok(Box::new(PresignReport {
        bucket,
        key,
        url: request.uri().to_owned(),
        expires_in: args.expires.as_secs(),
        expires_at,
    }))
}
