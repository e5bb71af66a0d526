//! Many jobs a few at a time: the one runner every batch, release listing, copy and removal
//! uses.
//!
//! A job starts only when it has one of `limit` places, so a batch of 10,000 files never holds
//! 10,000 futures, and finished jobs are reaped as the batch goes (a finished task keeps its
//! memory until it is joined). The first failure stops new jobs from starting, but the running
//! ones are always joined, never dropped: each may own something to clean up (a multipart
//! upload to abort, a temporary file to remove), and dropping it mid-request would skip that.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};
use tracing::Instrument;

use crate::error::Error;

/// A job that panicked or was cancelled: a bug, reported as a failure of the command.
#[derive(Debug)]
pub struct TaskFailed(pub JoinError);

impl From<TaskFailed> for Error {
    fn from(e: TaskFailed) -> Error {
        Error::Other(format!("a task failed: {}", e.0))
    }
}

/// Runs `job` on every item, at most `limit` at once, and returns the outputs in the order of
/// the items. Items start in order. On the first `Err`, no further item starts; the running
/// jobs are joined, and that first error is returned.
///
/// A job whose failure should not stop the others returns `Ok` of its own outcome (a
/// `Result` inside), and the caller sorts the outcomes out.
pub async fn each<I, T, E, F, Fut>(items: I, limit: usize, mut job: F) -> Result<Vec<T>, E>
where
    I: IntoIterator,
    T: Send + 'static,
    E: Send + 'static + From<TaskFailed>,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    let places = Arc::new(Semaphore::new(limit.max(1)));
    let mut set: JoinSet<(usize, Result<T, E>)> = JoinSet::new();
    let mut out: Vec<Option<T>> = Vec::new();
    let mut first: Option<E> = None;
    let keep = |joined: Result<(usize, Result<T, E>), JoinError>,
                out: &mut Vec<Option<T>>,
                first: &mut Option<E>| {
        match joined {
            Ok((i, Ok(value))) => out[i] = Some(value),
            Ok((_, Err(e))) => {
                first.get_or_insert(e);
            }
            Err(e) => {
                first.get_or_insert(E::from(TaskFailed(e)));
            }
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        out.push(None);
        // Never fails: the semaphore is not closed while this function holds it.
        let Ok(place) = places.clone().acquire_owned().await else {
            break;
        };
        while let Some(joined) = set.try_join_next() {
            keep(joined, &mut out, &mut first);
        }
        if first.is_some() {
            break;
        }
        // A spawned task starts outside every span: it carries the caller's (the command's, a
        // file's) so its log lines say whose they are.
        let work = job(item).instrument(tracing::Span::current());
        set.spawn(async move {
            let result = work.await;
            drop(place);
            (i, result)
        });
    }
    while let Some(joined) = set.join_next().await {
        keep(joined, &mut out, &mut first);
    }
    match first {
        Some(e) => Err(e),
        None => Ok(out.into_iter().flatten().collect()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn outputs_come_back_in_item_order_and_no_more_than_limit_run() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let out: Vec<usize> = each(0..50usize, 3, |i| {
            let (running, most) = (running.clone(), most.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Later items finish first, so order comes from the index, not from timing.
                for _ in 0..(50 - i) {
                    tokio::task::yield_now().await;
                }
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, Error>(i * 2)
            }
        })
        .await
        .unwrap();
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 3);
    }

    #[tokio::test]
    async fn a_failure_stops_new_jobs_but_the_running_ones_finish() {
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let (gate, _) = tokio::sync::watch::channel(false);
        let gate = Arc::new(gate);
        let result = each(0..100usize, 4, |i| {
            let (started, finished, mut open) =
                (started.clone(), finished.clone(), gate.subscribe());
            let gate = gate.clone();
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                if i == 3 {
                    // The others are running by now; let them go once this one has failed.
                    gate.send_replace(true);
                    return Err(Error::Other(format!("job {i} failed")));
                }
                let _ = open.wait_for(|open| *open).await;
                finished.fetch_add(1, Ordering::SeqCst);
                Ok(i)
            }
        })
        .await;
        assert_eq!(result.unwrap_err().to_string(), "job 3 failed");
        let started = started.load(Ordering::SeqCst);
        assert!(started < 100, "{started} jobs started after a failure");
        assert_eq!(finished.load(Ordering::SeqCst), started - 1);
    }
}
