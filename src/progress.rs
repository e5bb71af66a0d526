//! Where transfers report bytes moved: a bar on an interactive terminal (or wherever
//! `--progress always` says); in a log (CI), one line at a steady pace ([`LogLines`]);
//! nothing with `--progress never` or `-q`.
//!
//! The engine only sees the trait, so tests pass `Quiet`.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::values::{human_bytes, human_duration};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

pub trait Progress: Send + Sync {
    /// A transfer of `total` bytes begins (several may share one display: totals add up).
    fn start(&self, total: u64);
    /// `bytes` more have been sent or written.
    fn advance(&self, bytes: u64);
    /// Every transfer is over, whatever the outcome; the display is cleared.
    fn finish(&self);
    /// A transfer's size is not known up front (a stream): totals grow as it is read.
    fn size_unknown(&self) {}
    /// A batch of `total` files begins.
    fn files(&self, _total: usize) {}
    /// One file of the batch is over, whatever its outcome.
    fn file_done(&self) {}
}

/// The progress display as every transfer takes it, in both directions: shared by the files of
/// a command and by the tasks of each transfer.
pub type SharedProgress = std::sync::Arc<dyn Progress>;

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// A bar with bytes, rate and ETA on stderr.
pub struct Bar {
    bar: ProgressBar,
    /// Draw even when stderr is not a terminal.
    force: bool,
    started: OnceLock<Instant>,
    shown: AtomicBool,
}

/// A transfer shorter than this never shows a bar (no flicker for a 1 KiB file).
const SHOW_AFTER: Duration = Duration::from_millis(500);

impl Bar {
    /// A bar on stderr, drawn once the transfer has run for a moment; indicatif draws nothing
    /// when stderr is not a terminal, unless `force`.
    pub fn new(label: &str, force: bool) -> Self {
        let bar = ProgressBar::hidden();
        bar.set_length(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(label.to_owned());
        Self {
            bar,
            force,
            started: OnceLock::new(),
            shown: AtomicBool::new(false),
        }
    }

    fn show(&self) {
        let target = if self.force {
            ProgressDrawTarget::term_like_with_hz(Box::new(ForcedStderr), 10)
        } else {
            ProgressDrawTarget::stderr_with_hz(10)
        };
        self.bar.set_draw_target(target);
        self.bar.enable_steady_tick(Duration::from_millis(200));
    }
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.bar.inc_length(total);
        let _ = self.started.set(Instant::now());
    }
    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
        if !self.shown.load(Ordering::Relaxed)
            && self
                .started
                .get()
                .is_some_and(|t| t.elapsed() >= SHOW_AFTER)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.show();
        }
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Stderr driven with ANSI escapes whether or not it is a terminal (`--progress always`).
#[derive(Debug)]
struct ForcedStderr;

impl ForcedStderr {
    fn put(s: &str) -> io::Result<()> {
        io::stderr().lock().write_all(s.as_bytes())
    }
}

impl TermLike for ForcedStderr {
    fn width(&self) -> u16 {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100)
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            Self::put(&format!("\x1b[{n}A"))
        }
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            Self::put(&format!("\x1b[{n}B"))
        }
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            Self::put(&format!("\x1b[{n}C"))
        }
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            Self::put(&format!("\x1b[{n}D"))
        }
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        Self::put(&format!("{s}\n"))
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        Self::put(s)
    }
    fn clear_line(&self) -> io::Result<()> {
        Self::put("\r\x1b[2K")
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// Progress as log lines, for a log rather than a terminal (CI): one line every `interval`
/// while the command moves data, at info level (so `-q` silences it): bytes done of the total,
/// percent, rate, ETA, files done of a batch; or, when nothing finished since the last line,
/// that. Uploads count a part when the store has acknowledged it, downloads count bytes as
/// they arrive. A transfer shorter than `interval` logs nothing. Never a `\r`.
pub struct LogLines {
    state: Arc<LineState>,
}

struct LineState {
    label: String,
    total: AtomicU64,
    done: AtomicU64,
    unknown_size: AtomicBool,
    files: AtomicUsize,
    files_done: AtomicUsize,
    finished: AtomicBool,
    /// How many requests are in flight, when the command says how to tell.
    in_flight: std::sync::OnceLock<Box<dyn Fn() -> usize + Send + Sync>>,
}

impl LogLines {
    /// Starts the ticker; must be called inside the tokio runtime.
    pub fn new(label: &str, interval: Duration) -> Self {
        let state = Arc::new(LineState {
            label: label.to_owned(),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            unknown_size: AtomicBool::new(false),
            files: AtomicUsize::new(0),
            files_done: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            in_flight: std::sync::OnceLock::new(),
        });
        let weak = Arc::downgrade(&state);
        tokio::spawn(async move {
            let started = Instant::now();
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut last_done, mut last_at) = (0, started);
            loop {
                ticks.tick().await;
                let Some(state) = weak.upgrade() else { return };
                if state.finished.load(Ordering::Relaxed) {
                    return;
                }
                let now = Instant::now();
                let snapshot = Snapshot {
                    done: state.done.load(Ordering::Relaxed),
                    total: (!state.unknown_size.load(Ordering::Relaxed))
                        .then(|| state.total.load(Ordering::Relaxed)),
                    files: state.files.load(Ordering::Relaxed),
                    files_done: state.files_done.load(Ordering::Relaxed),
                    elapsed: now - started,
                };
                let moved = snapshot.done.saturating_sub(last_done);
                let in_flight = state.in_flight.get().map(|count| count());
                let text = line(&state.label, &snapshot, moved, now - last_at, in_flight);
                tracing::info!("{text}");
                (last_done, last_at) = (snapshot.done, now);
            }
        });
        Self { state }
    }

    /// With `count` telling how many requests are in flight, a line of a transfer that is not
    /// moving says what it waits on: the store, or local work.
    pub fn counting_requests(self, count: impl Fn() -> usize + Send + Sync + 'static) -> Self {
        let _ = self.state.in_flight.set(Box::new(count));
        self
    }
}

impl Progress for LogLines {
    fn start(&self, total: u64) {
        self.state.total.fetch_add(total, Ordering::Relaxed);
    }
    fn advance(&self, bytes: u64) {
        self.state.done.fetch_add(bytes, Ordering::Relaxed);
    }
    fn finish(&self) {
        self.state.finished.store(true, Ordering::Relaxed);
    }
    fn size_unknown(&self) {
        self.state.unknown_size.store(true, Ordering::Relaxed);
    }
    fn files(&self, total: usize) {
        self.state.files.fetch_add(total, Ordering::Relaxed);
    }
    fn file_done(&self) {
        self.state.files_done.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a progress line reports.
struct Snapshot {
    done: u64,
    /// `None` when a stream's size is not known.
    total: Option<u64>,
    /// The files of a batch (0 for a single file).
    files: usize,
    files_done: usize,
    elapsed: Duration,
}

/// One progress line: `upload: 1.2 GiB of 20.0 GiB (6%), 48.3 MiB/s, ETA 6m; 3 of 12 files
/// done`, or when nothing finished in `since` (the time since the last line) the totals and
/// that.
fn line(
    label: &str,
    s: &Snapshot,
    moved: u64,
    since: Duration,
    in_flight: Option<usize>,
) -> String {
    let amount = match s.total {
        Some(total) if total > 0 => format!(
            "{} of {} ({}%)",
            human_bytes(s.done),
            human_bytes(total),
            s.done.saturating_mul(100) / total
        ),
        _ => human_bytes(s.done),
    };
    let files = if s.files > 1 {
        format!("; {} of {} files done", s.files_done, s.files)
    } else {
        String::new()
    };
    if moved == 0 {
        // Ticks come a hair early or late: 0.999 s is "the last 1s".
        let since = Duration::from_secs_f64(since.as_secs_f64().round());
        let waiting = match in_flight {
            None => String::new(),
            Some(0) => {
                "; no request in flight (local work: reading, checksumming or writing)".to_owned()
            }
            Some(1) => "; waiting on 1 request to the store".to_owned(),
            Some(n) => format!("; waiting on {n} requests to the store"),
        };
        return format!(
            "{label}: {amount} done; nothing finished in the last {}{waiting}{files}",
            human_duration(since)
        );
    }
    let rate = s.done as f64 / s.elapsed.as_secs_f64().max(0.001);
    let eta = match s.total {
        Some(total) if total > s.done && rate > 0.0 => format!(
            ", ETA {}",
            human_duration(Duration::from_secs_f64((total - s.done) as f64 / rate))
        ),
        _ => String::new(),
    };
    format!(
        "{label}: {amount}, {}/s{eta}{files}",
        human_bytes(rate as u64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(done: u64, total: Option<u64>, files: usize, files_done: usize, secs: u64) -> Snapshot {
        Snapshot {
            done,
            total,
            files,
            files_done,
            elapsed: Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_line_gives_bytes_percent_rate_eta_and_files() {
        let mib = 1024 * 1024;
        let s = snap(100 * mib, Some(1000 * mib), 12, 3, 10);
        assert_eq!(
            line("upload", &s, 50 * mib, Duration::from_secs(10), Some(4)),
            "upload: 100.0 MiB of 1000.0 MiB (10%), 10.0 MiB/s, ETA 1m; 3 of 12 files done"
        );
        // A stream: no total to speak of, so no percent and no ETA; one file, no file count.
        let s = snap(100 * mib, None, 1, 0, 10);
        assert_eq!(
            line("upload", &s, mib, Duration::from_secs(10), None),
            "upload: 100.0 MiB, 10.0 MiB/s"
        );
    }

    #[test]
    fn a_line_says_when_nothing_finished() {
        let s = snap(5, Some(10), 0, 0, 40);
        assert_eq!(
            line("download", &s, 0, Duration::from_secs(20), None),
            "download: 5 B of 10 B (50%) done; nothing finished in the last 20s"
        );
        // What it waits on, when the command counts its requests.
        assert_eq!(
            line("download", &s, 0, Duration::from_secs(20), Some(3)),
            "download: 5 B of 10 B (50%) done; nothing finished in the last 20s; waiting on 3 requests to the store"
        );
        assert_eq!(
            line("upload", &s, 0, Duration::from_secs(20), Some(0)),
            "upload: 5 B of 10 B (50%) done; nothing finished in the last 20s; no request in flight (local work: reading, checksumming or writing)"
        );
    }
}
