//! `s3blob prune`: removes whole old releases of a suite, each manifest first. Never the
//! highest sealed release (what `latest` names), never an open release younger than the grace
//! period (a job may still be publishing it).

use std::time::{Duration, SystemTime};

use tracing::info;

use crate::cli::PruneArgs;
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::key::check_part;
use crate::output::Outcome;
use crate::output::prune::{Decision, PruneReport};
use crate::release::remove::{self, Contents};

/// Releases listed (and removed) at once.
const LISTINGS: usize = 16;

pub async fn run(cx: &Context<'_>, args: PruneArgs) -> Result<Outcome, Error> {
    check_part("--suite", &args.suite)?;
    let (settings, client) = super::connect(cx, Tuning::default()).await?;
    let bucket = settings.bucket;
    if !args.yes && !args.dry_run {
        return Err(Error::Usage(format!(
            "refusing to prune s3://{bucket}/{}/ without --yes (or --dry-run to see what would go; s3blob never prompts)",
            args.suite
        )));
    }
    let releases = crate::release::state::releases(&client, &bucket, &args.suite).await?;
    if releases.is_empty() {
        return Err(Error::NotFound(format!(
            "suite {:?} has no releases in s3://{bucket}; check --suite",
            args.suite
        )));
    }
    let contents = all_contents(&client, &bucket, &args.suite, &releases).await?;
    let decisions = decide(&args, &contents, SystemTime::now());
    let mut report = PruneReport::new(bucket.clone(), args.suite.clone(), args.dry_run);
    let mut doomed = Vec::new();
    for (contents, decision) in contents.into_iter().zip(decisions) {
        match decision {
            Decision::Keep(why) => report.kept(contents.release, why),
            Decision::Remove if args.dry_run => report.would_remove(contents),
            Decision::Remove => doomed.push(contents),
        }
    }
    // Releases go several at once (each one manifest first), reported in release order.
    let removals = cx
        .shutdown
        .guard(crate::tasks::each(&doomed, LISTINGS, |contents| {
            let (client, bucket, contents) = (client.clone(), bucket.clone(), contents.clone());
            async move {
                let removed = remove::remove(&client, &bucket, &contents).await;
                if let Ok(r) = &removed {
                    info!(
                        "removed s3://{bucket}/{}/{}/ ({} object(s))",
                        r.suite, r.release, r.objects
                    );
                }
                Ok::<_, Error>(removed)
            }
        }))
        .await?;
    for (contents, removed) in doomed.into_iter().zip(removals) {
        report.removed(contents, removed);
    }
    Ok(Box::new(report))
}

/// What each release holds, in the order given, `LISTINGS` at a time.
async fn all_contents(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    suite: &str,
    releases: &[String],
) -> Result<Vec<Contents>, Error> {
    crate::tasks::each(releases, LISTINGS, |release| {
        let (client, bucket, suite, release) = (
            client.clone(),
            bucket.to_owned(),
            suite.to_owned(),
            release.clone(),
        );
        async move { remove::contents(&client, &bucket, &suite, &release).await }
    })
    .await
}

/// For each release (lowest to highest), whether it goes. Pure, for the tests.
fn decide(args: &PruneArgs, releases: &[Contents], now: SystemTime) -> Vec<Decision> {
    let age = |c: &Contents| {
        c.newest
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or(Duration::ZERO)
    };
    let highest_sealed = releases.iter().rposition(|c| c.sealed);
    let keep_from = args
        .keep
        .map_or(0, |n| releases.len().saturating_sub(n as usize));
    releases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if args.keep.is_some() && i >= keep_from {
                Decision::Keep(format!("among the newest {}", args.keep.unwrap_or(0)))
            } else if Some(i) == highest_sealed {
                Decision::Keep("the highest sealed release (what latest names)".to_owned())
            } else if args.older_than.is_some_and(|limit| age(c) < limit) {
                Decision::Keep(format!(
                    "younger than --older-than ({})",
                    crate::values::human_duration(age(c))
                ))
            } else if !c.sealed && age(c) < args.open_grace {
                Decision::Keep(format!(
                    "open and younger than --open-grace ({} old): a job may still be publishing it",
                    crate::values::human_duration(age(c))
                ))
            } else {
                Decision::Remove
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn release(name: &str, sealed: bool, days_old: u64, now: SystemTime) -> Contents {
        Contents {
            suite: "s".into(),
            release: name.into(),
            keys: vec![format!("s/{name}/a")],
            sealed,
            newest: Some(now - DAY * days_old as u32),
        }
    }

    fn args(keep: Option<u64>, older_than_days: Option<u64>) -> PruneArgs {
        PruneArgs {
            suite: "s".into(),
            keep,
            older_than: older_than_days.map(|d| DAY * d as u32),
            open_grace: DAY,
            dry_run: true,
            yes: false,
        }
    }

    fn gone(d: &[Decision]) -> Vec<usize> {
        d.iter()
            .enumerate()
            .filter(|(_, d)| matches!(d, Decision::Remove))
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn keep_n_in_release_order() {
        let now = SystemTime::now();
        let r: Vec<_> = (1..=5)
            .map(|i| release(&format!("1.{i}"), true, 10, now))
            .collect();
        assert_eq!(gone(&decide(&args(Some(2), None), &r, now)), [0, 1, 2]);
        assert_eq!(
            gone(&decide(&args(Some(9), None), &r, now)),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn the_highest_sealed_release_and_young_open_ones_stay() {
        let now = SystemTime::now();
        let r = vec![
            release("1.0", false, 30, now),
            release("1.1", true, 20, now),
            release("1.2", false, 10, now),
            // Being published right now.
            release("1.3", false, 0, now),
        ];
        // keep 1 keeps 1.3; 1.1 is the highest sealed; 1.0 and 1.2 are old open releases.
        assert_eq!(gone(&decide(&args(Some(1), None), &r, now)), [0, 2]);
        // Age alone: only what is older than 15 days, never 1.1.
        assert_eq!(gone(&decide(&args(None, Some(15)), &r, now)), [0]);
        // Both: beyond the newest 1 and older than 25 days.
        assert_eq!(gone(&decide(&args(Some(1), Some(25)), &r, now)), [0]);
    }
}
