//! What asks s3blob to stop, as the two kinds the exit codes know: an interrupt (130) and a
//! termination (143).

use std::future::Future;
use std::io;

use crate::error::Signal;

/// Starts listening and returns a future that completes with the first request to stop. Unix:
/// SIGINT is an interrupt, SIGTERM a termination. Must be called inside the tokio runtime.
#[cfg(unix)]
pub(crate) fn stop_requested() -> io::Result<impl Future<Output = Signal> + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => Signal::Interrupt,
            _ = term.recv() => Signal::Terminate,
        }
    })
}

/// Windows: Ctrl-C and Ctrl-Break are an interrupt (exit 130), closing the console window a
/// termination (exit 143; Windows ends the process a few seconds after that event, so cleanup
/// gets only that long).
#[cfg(windows)]
pub(crate) fn stop_requested() -> io::Result<impl Future<Output = Signal> + Send> {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
    let mut c = ctrl_c()?;
    let mut brk = ctrl_break()?;
    let mut close = ctrl_close()?;
    Ok(async move {
        tokio::select! {
            _ = c.recv() => Signal::Interrupt,
            _ = brk.recv() => Signal::Interrupt,
            _ = close.recv() => Signal::Terminate,
        }
    })
}
