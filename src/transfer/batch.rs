//! A batch: many files moved by one command, a few at a time, each failure kept with the file
//! it belongs to. One file is a batch of one.

use std::future::Future;

use tracing::Instrument;

use crate::error::Error;
use crate::progress::SharedProgress;

/// One file of a batch that failed.
#[derive(Debug)]
pub struct Failure {
    /// The file as the user named it (a local path for upload, a filename for download).
    pub file: String,
    pub error: Error,
}

/// What a batch gives back: each file's outcome, in the order given.
pub type Outcomes<R> = Vec<Result<R, Failure>>;

/// Runs `transfer` on every item, `limit` files at a time (their requests share the command's
/// budget), and returns the outcomes in the order given, every failure kept and named by the
/// item's label. Each file's work runs in a `file` span, so `-v` lines of files moving at once
/// can be told apart. `Err` only when the batch itself could not run (a task panicked).
pub async fn each_file<T, R, F, Fut>(
    items: Vec<(String, T)>,
    limit: usize,
    progress: &SharedProgress,
    transfer: F,
) -> Result<Outcomes<R>, Error>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
{
    progress.files(items.len());
    crate::tasks::each(items, limit, |(label, item)| {
        let span = tracing::debug_span!("file", file = %label);
        let work = transfer(item).instrument(span);
        let progress = progress.clone();
        async move {
            let outcome = work.await;
            progress.file_done();
            Ok::<_, Error>(outcome.map_err(|error| Failure { file: label, error }))
        }
    })
    .await
}
