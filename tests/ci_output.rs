//! Output for a CI log rather than a terminal: a long transfer keeps the log alive with a
//! progress line at a steady pace, one line each and never a carriage return; a transfer
//! that is not moving says so.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;

use common::{MIB, Op, Run, Server, data};

/// The progress lines of `label` (`upload`, `download`), without the level.
fn progress_lines<'a>(stderr: &'a str, label: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("INFO "))
        .filter(|l| l.starts_with(&format!("{label}: ")))
        .collect()
}

/// Throttled to 1 MiB/s per connection, 12 MiB in three parts take about four seconds each
/// way: with a line every second, the log shows bytes of the total and percent as they go, up
/// and down, and the rate once bytes have arrived.
#[test]
fn a_long_transfer_logs_progress_lines_in_a_log() {
    let server = Server::start_throttled(MIB as u64);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("big.bin"), data(12 * MIB, 7)).unwrap();
    let key = ["--suite", "app", "--release", "1.0", "--part-size", "5MiB"];
    let up = server.run(
        d,
        &[
            &["--progress-interval", "1s", "upload"],
            &key[..],
            &["big.bin"],
        ]
        .concat(),
    );
    up.ok();
    let lines = progress_lines(&up.stderr, "upload");
    assert!(lines.len() >= 2, "too few progress lines:\n{}", up.stderr);
    assert!(
        lines.iter().all(|l| l.contains(" of 12.0 MiB (")),
        "{lines:?}"
    );
    assert!(!up.stderr.contains('\r'), "{:?}", up.stderr);

    let down = server.run(
        d,
        &[
            &["download"],
            &key[..],
            &["--filename", "big.bin", "-o", "back.bin"],
        ]
        .concat(),
    );
    down.ok();
    // The default interval is 10 s: a download of a few seconds logs none.
    assert!(
        progress_lines(&down.stderr, "download").is_empty(),
        "{}",
        down.stderr
    );
    let down = Run::from(
        server
            .cmd(d)
            .env("S3BLOB_PROGRESS_INTERVAL", "1")
            .args(
                [
                    &["download"],
                    &key[..],
                    &["--filename", "big.bin", "-o", "again.bin"],
                ]
                .concat(),
            )
            .output()
            .unwrap(),
    );
    down.ok();
    let lines = progress_lines(&down.stderr, "download");
    assert!(lines.len() >= 2, "too few progress lines:\n{}", down.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" of 12.0 MiB (") && l.contains("/s")),
        "{lines:?}"
    );
    assert!(std::fs::read(d.join("again.bin")).unwrap() == data(12 * MIB, 7));

    // -q silences them, and --progress never.
    for quiet in ["-q", "--progress=never"] {
        let run = server.run(
            d,
            &[
                &["--progress-interval", "1s", quiet, "download"],
                &key[..],
                &["--filename", "big.bin", "-o", "-"],
            ]
            .concat(),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            progress_lines(&run.stderr, "download").is_empty(),
            "{quiet}: {}",
            run.stderr
        );
    }
}

/// A request held at the server: the log says nothing has finished instead of going silent or
/// repeating a rate; released, the upload completes.
#[test]
fn a_transfer_that_is_not_moving_says_it_is_waiting() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.bin"), b"held at the server").unwrap();
    let gate = server.faults().hold(Op::PutObject, 1);
    let mut child = server.spawn(
        d,
        &[
            "--progress-interval",
            "1s",
            "upload",
            "--suite",
            "app",
            "--release",
            "1.0",
            "a.bin",
        ],
    );
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains("nothing finished") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("no line saying nothing finished while the request was held");
    gate.release();
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert!(status.success(), "{stderr}");
    let waiting = progress_lines(&stderr, "upload")[0];
    assert_eq!(
        waiting,
        "upload: 0 B of 18 B (0%) done; nothing finished in the last 1s"
    );
    assert_eq!(
        server.object("app/1.0/a.bin").unwrap(),
        b"held at the server"
    );
}
