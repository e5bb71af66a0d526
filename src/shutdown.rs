//! The shutdown signal handed to every transfer: SIGINT or SIGTERM (or a test) triggers it, and
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

    /// Triggers on SIGINT or SIGTERM. Must be called inside the tokio runtime.
    pub fn listen_for_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let this = self.clone();
        tokio::spawn(async move {
            let sig = tokio::select! {
                _ = int.recv() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            };
            tracing::warn!("{sig} received; cleaning up");
            this.trigger(sig);
        });
        Ok(())
    }
}
