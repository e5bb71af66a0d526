//! The shutdown signal handed to every transfer: SIGINT or SIGTERM (Windows: Ctrl-C, Ctrl-Break,
//! closing the console; see `platform`), or a test, triggers it, and
//! each transfer then cleans up (aborts its multipart upload, removes its temporary file) and
//! returns `Error::Interrupted`.

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::error::{Error, Signal};

#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    /// The first signal received decides the exit code (130 or 143).
    signal: Arc<OnceLock<Signal>>,
}

impl Shutdown {
    pub fn trigger(&self, signal: Signal) {
        let _ = self.signal.set(signal);
        self.token.cancel();
    }

    /// Whether a shutdown was triggered.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when a shutdown was triggered.
    pub async fn cancelled(&self) {
        self.token.cancelled().await;
    }

    /// The error a transfer returns once it has cleaned up after a shutdown.
    pub fn error(&self) -> Error {
        Error::Interrupted {
            signal: self.signal.get().copied().unwrap_or(Signal::Interrupt),
        }
    }

    /// Runs `work` until it ends or a shutdown is triggered, whichever comes first; in the
    /// second case `work` is dropped (which cancels what it started) and the result is
    /// [`Shutdown::error`]. Cleanup that must happen (an abort, removing a temporary file) is
    /// done by what `work` drops, or by the caller on the error.
    pub async fn guard<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        tokio::select! {
            r = work => r,
            () = self.cancelled() => Err(self.error()),
        }
    }

    /// Triggers on SIGINT or SIGTERM (Windows: Ctrl-C or Ctrl-Break as SIGINT, closing the
    /// console as SIGTERM). Must be called inside the tokio runtime.
    pub fn listen_for_signals(&self) -> std::io::Result<()> {
        let stop = crate::platform::stop_requested()?;
        let this = self.clone();
        tokio::spawn(async move {
            let sig = stop.await;
            tracing::warn!("{sig} received; cleaning up");
            this.trigger(sig);
        });
        Ok(())
    }
}
