//! The bandwidth cap: `--limit-rate` (and `S3BLOB_LIMIT_RATE`, `--limit-upload`,
//! `--limit-download`) slows a whole command down to the cap. The token bucket's own byte
//! accounting (no one-second window over the cap) is tested on a paused clock beside it
//! (`src/s3/limit.rs`); here only lower bounds on time are asserted, which load cannot break,
//! and the exact timing of a 64 MiB transfer is measured in `bench/limit-rate.sh`.

mod common;

use std::time::Instant;

use common::*;

const SIZE: usize = 6 << 20;

fn timed(
    server: &Server,
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Run, f64) {
    let mut cmd = server.cmd(dir);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = Run::from(cmd.output().unwrap());
    (out, start.elapsed().as_secs_f64())
}

#[test]
fn an_upload_and_a_download_keep_under_the_cap() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let bytes = data(SIZE, 5);
    std::fs::write(dir.path().join("app.bin"), &bytes).unwrap();
    // 6 MiB at 3 MiB/s: at least 2 s (less the bucket's 50 ms burst), in parts of 5 MiB on
    // two connections sharing the one bucket.
    let (up, secs) = timed(
        &server,
        dir.path(),
        &[
            "upload",
            "--suite",
            "s",
            "--release",
            "1",
            "--part-size",
            "5MiB",
            "--limit-rate",
            "3MiB/s",
            "app.bin",
        ],
        &[],
    );
    up.ok();
    assert!(secs >= 1.9, "upload took {secs} s under a 3MiB/s cap");
    assert_eq!(server.object("s/1/app.bin").unwrap(), bytes);

    let (down, secs) = timed(
        &server,
        dir.path(),
        &[
            "download",
            "--suite",
            "s",
            "--release",
            "1",
            "--filename",
            "app.bin",
            "-o",
            "out.bin",
            "--part-size",
            "5MiB",
        ],
        &[("S3BLOB_LIMIT_RATE", "24Mbit/s")],
    );
    down.ok();
    assert!(
        secs >= 1.9,
        "download took {secs} s under a 24Mbit/s (3 MB/s) cap"
    );
    assert_eq!(std::fs::read(dir.path().join("out.bin")).unwrap(), bytes);
}

#[test]
fn a_direction_of_its_own_replaces_the_common_cap() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let bytes = data(SIZE, 6);
    std::fs::write(dir.path().join("app.bin"), &bytes).unwrap();
    // The common cap is generous; the upload's own is what slows it.
    let (up, secs) = timed(
        &server,
        dir.path(),
        &[
            "upload",
            "--suite",
            "s",
            "--release",
            "1",
            "--limit-rate",
            "1GiB/s",
            "--limit-upload",
            "3MiB/s",
            "app.bin",
        ],
        &[],
    );
    up.ok();
    assert!(
        secs >= 1.9,
        "upload took {secs} s under --limit-upload 3MiB/s"
    );
}

#[test]
fn a_bad_rate_names_the_flag_or_the_variable() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.bin"), b"x").unwrap();
    let out = server.run(
        dir.path(),
        &[
            "upload",
            "--suite",
            "s",
            "--release",
            "1",
            "--limit-rate",
            "fast",
            "app.bin",
        ],
    );
    out.usage_error(&["--limit-rate", "fast"]);
    let (out, _) = timed(
        &server,
        dir.path(),
        &["upload", "--suite", "s", "--release", "1", "app.bin"],
        &[("S3BLOB_LIMIT_RATE", "10bit/s")],
    );
    out.fails(2, &["S3BLOB_LIMIT_RATE=\"10bit/s\"", "out of range"]);
}
