//! `s3blob presign`: a URL that downloads one artifact without credentials until it expires.

use std::time::SystemTime;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::DateTime;

use crate::cli::PresignArgs;
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::inspect;
use crate::output::ci::JobSummary;
use crate::output::presign::PresignReport;
use crate::output::{Failure, Outcome, Report};
use crate::release::signed;
use crate::s3::classify;

/// `report` with a presigned download link for each file of its job summary, working for
/// `expires` (`--summary-links`). Signing is local: no request is made.
pub(super) async fn summary_links(
    cx: &Context<'_>,
    report: Outcome,
    expires: std::time::Duration,
) -> Result<Outcome, Error> {
    let Some(mut summary) = report.job_summary() else {
        return Ok(report);
    };
    let Some(release) = summary.release.clone() else {
        return Ok(report);
    };
    let (_, client) = super::connect(cx, Tuning::default()).await?;
    let now = SystemTime::now();
    let config = PresigningConfig::builder()
        .start_time(now)
        .expires_in(expires)
        .build()
        .map_err(|e| Error::Usage(format!("invalid --summary-links: {e}")))?;
    summary.links_until = crate::inspect::rfc3339(&DateTime::from(now + expires));
    for file in &mut summary.files {
        let key = format!("{}{}", release.prefix(), file.name);
        let request = client
            .get_object()
            .bucket(&summary.bucket)
            .key(&key)
            .presigned(config.clone())
            .await
            .map_err(|e| classify(&e, "presign", &summary.bucket, Some(&key)))?;
        file.link = Some(request.uri().to_owned());
    }
    Ok(Box::new(Linked { report, summary }))
}

/// A result whose job summary carries download links; everything else is the result's own.
struct Linked {
    report: Outcome,
    summary: JobSummary,
}

impl Report for Linked {
    fn text(&self) -> String {
        self.report.text()
    }
    fn json(&self) -> serde_json::Value {
        self.report.json()
    }
    fn render(&self, json: bool) -> Option<String> {
        self.report.render(json)
    }
    fn summary(&self) -> String {
        self.report.summary()
    }
    fn bytes(&self) -> u64 {
        self.report.bytes()
    }
    fn unchanged(&self) -> bool {
        self.report.unchanged()
    }
    fn exit_code(&self) -> u8 {
        self.report.exit_code()
    }
    fn failures(&self) -> Vec<&Failure> {
        self.report.failures()
    }
    fn failure_lines(&self) -> Vec<String> {
        self.report.failure_lines()
    }
    fn job_summary(&self) -> Option<JobSummary> {
        Some(self.summary.clone())
    }
}

pub async fn run(cx: &Context<'_>, args: PresignArgs) -> Result<Outcome, Error> {
    let o = &args.object;
    let keys = super::key::trusted_keys(cx)?;
    let (settings, client, key) = super::connect_to_object(cx, o, &keys).await?;
    let bucket = settings.bucket;
    let k = key.to_string();
    // A URL to nothing would only fail later, in someone else's hands.
    let info = inspect::head(&client, &bucket, &k).await?;
    // Whoever follows the link checks nothing: with trusted keys, the object's bytes must be
    // what a manifest signed by one of them lists.
    signed::check_presign(&client, &bucket, &key, &info, &keys, settings.transfer).await?;
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
