//! What sealing and verifying share: reading an object whole without writing it anywhere (for
//! its CRC64NVME and SHA-256), and running one job per file of a release, a few at a time.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_s3::Client;
use tokio::task::JoinSet;

use crate::checksum::Sha256Writer;
use crate::error::Error;
use crate::key::ObjectKey;
use crate::progress::{Quiet, SharedProgress};
use crate::shutdown::Shutdown;
use crate::transfer::TransferSettings;
use crate::transfer::budget::Budget;
use crate::transfer::download::{self, DownloadRequest, Downloaded};

/// Streams `key` through the download engine (ranges in parallel, resumed if cut, checked
/// against the object's own checksum) into nothing but a SHA-256.
pub(super) async fn read_whole(
    client: &Client,
    bucket: &str,
    key: &ObjectKey,
    settings: TransferSettings,
    budget: &Budget,
) -> Result<(Downloaded, String), Error> {
    let req = DownloadRequest {
        bucket: bucket.to_owned(),
        key: key.clone(),
        dest: "-".into(),
        no_clobber: false,
        settings,
        budget: budget.clone(),
        manifest: None,
        size_hint: None,
        sync_dir: false,
    };
    let mut sha = Sha256Writer::default();
    let progress: SharedProgress = Arc::new(Quiet);
    let got = download::download_to_writer(client, &req, &mut sha, progress, &Shutdown::default())
        .await?;
    Ok((got, sha.hex()))
}

/// Runs `job` on every item, at most `limit` at a time; the results come back in any order.
/// The first failure is returned (the other jobs are dropped with the set).
pub(super) async fn concurrently<I, T, F, Fut>(
    items: I,
    limit: usize,
    job: F,
) -> Result<Vec<T>, Error>
where
    I: IntoIterator,
    T: Send + 'static,
    F: Fn(I::Item) -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    let places = Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut set = JoinSet::new();
    let mut out = Vec::new();
    let failed = |e: tokio::task::JoinError| Error::Other(format!("a release task failed: {e}"));
    for item in items {
        // A job starts (and its request future exists) only when it has a place, and finished
        // ones are reaped as they go: a release of 10,000 files never holds 10,000 futures.
        let place = places
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Other(format!("a release task could not start: {e}")))?;
        while let Some(joined) = set.try_join_next() {
            out.push(joined.map_err(failed)??);
        }
        let work = job(item);
        set.spawn(async move {
            let result = work.await;
            drop(place);
            result
        });
    }
    while let Some(joined) = set.join_next().await {
        out.push(joined.map_err(failed)??);
    }
    Ok(out)
}
