//! Where transfers report bytes moved: a bar on an interactive terminal (or wherever
//! `--progress always` says), nothing otherwise.
//!
//! The engine only sees the trait, so tests and non-terminal runs pass `Quiet`.

use std::io::{self, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

pub trait Progress: Send + Sync {
    /// A transfer of `total` bytes begins (several may share one display: totals add up).
    fn start(&self, total: u64);
    /// `bytes` more have been sent or written.
    fn advance(&self, bytes: u64);
    /// Every transfer is over, whatever the outcome; the display is cleared.
    fn finish(&self);
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
