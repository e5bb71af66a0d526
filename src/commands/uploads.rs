//! `s3blob uploads list|abort`: the unfinished multipart uploads under the bucket, a suite or a
//! release (kept by `upload --resumable`, left by a crash, or another client's), optionally
//! only those older than an age. Aborting never prompts: `--yes` or `--dry-run`.

use std::time::{Duration, SystemTime};

use tracing::info;

use crate::cli::{UploadsAction, UploadsArgs, UploadsFilterArgs};
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::key::check_part;
use crate::listing::{self, Unfinished};
use crate::output::Outcome;
use crate::output::uploads::{Listed, UploadsReport};

/// Uploads aborted at once.
const ABORTS: usize = 16;

pub async fn run(cx: &Context<'_>, args: UploadsArgs) -> Result<Outcome, Error> {
    let (filter, abort) = match &args.action {
        UploadsAction::List(a) => (&a.filter, None),
        UploadsAction::Abort(a) => (&a.filter, Some(a.dry_run)),
    };
    let prefix = prefix(filter)?;
    let (settings, client) = super::connect(cx, Tuning::default()).await?;
    let bucket = settings.bucket;
    let found = cx
        .shutdown
        .guard(listing::unfinished_uploads(&client, &bucket, &prefix))
        .await?;
    let now = SystemTime::now();
    let listed = select(found, filter.older_than, now);
    let mut report = UploadsReport::new(bucket.clone(), prefix, abort);
    match abort {
        None | Some(true) => {
            for u in listed {
                report.listed(u);
            }
        }
        Some(false) => {
            let results = cx
                .shutdown
                .guard(crate::tasks::each(&listed, ABORTS, |l| {
                    let (client, bucket, up) = (client.clone(), bucket.clone(), l.upload.clone());
                    async move {
                        let done = crate::transfer::abort_unfinished(
                            &client,
                            &bucket,
                            &up.key,
                            &up.upload_id,
                        )
                        .await;
                        if let Ok(true) = done {
                            info!(
                                "aborted s3://{bucket}/{} (upload id {})",
                                up.key, up.upload_id
                            );
                        }
                        Ok::<_, Error>(done)
                    }
                }))
                .await?;
            for (l, result) in listed.into_iter().zip(results) {
                report.aborted(l, result);
            }
        }
    }
    Ok(Box::new(report))
}

/// The key prefix the flags name: the bucket, a suite or a release.
fn prefix(filter: &UploadsFilterArgs) -> Result<String, Error> {
    let mut prefix = String::new();
    if let Some(suite) = &filter.suite {
        check_part("--suite", suite)?;
        prefix = format!("{suite}/");
        if let Some(release) = &filter.release {
            check_part("--release", release)?;
            prefix = format!("{suite}/{release}/");
        }
    }
    Ok(prefix)
}

/// The uploads older than `older_than` (all without it), each with its age; an upload whose
/// start the store did not give has no age and is never taken as older than anything.
fn select(found: Vec<Unfinished>, older_than: Option<Duration>, now: SystemTime) -> Vec<Listed> {
    found
        .into_iter()
        .map(|upload| {
            let age = upload
                .initiated
                .and_then(|t| SystemTime::try_from(t).ok())
                .map(|t| now.duration_since(t).unwrap_or(Duration::ZERO));
            Listed { upload, age }
        })
        .filter(|l| older_than.is_none_or(|limit| l.age.is_some_and(|age| age > limit)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_than_keeps_only_older_uploads_with_a_known_start() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let up = |key: &str, secs_ago: Option<u64>| Unfinished {
            key: key.into(),
            upload_id: "id".into(),
            initiated: secs_ago
                .map(|s| aws_smithy_types::DateTime::from_secs((1_000_000 - s) as i64)),
        };
        let found = vec![up("a", Some(10)), up("b", Some(7200)), up("c", None)];
        let keys = |v: Vec<Listed>| v.into_iter().map(|l| l.upload.key).collect::<Vec<_>>();
        assert_eq!(keys(select(found.clone(), None, now)), ["a", "b", "c"]);
        assert_eq!(
            keys(select(found, Some(Duration::from_secs(3600)), now)),
            ["b"]
        );
    }
}
