//! Output for a CI log rather than a terminal: a long transfer keeps the log alive with a
//! progress line at a steady pace, one line each and never a carriage return; a transfer
//! that is not moving says so. Under GitHub Actions, errors and warnings are also annotations
//! and what was published goes into the job summary; under GitLab CI the command's log is one
//! collapsible section; with neither, nothing CI-specific appears.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;

use common::{Fault, MIB, Op, Run, Server, data, signal};
use s3blob::checksum;

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
        "upload: 0 B of 18 B (0%) done; nothing finished in the last 1s; waiting on 1 request to the store"
    );
    assert_eq!(
        server.object("app/1.0/a.bin").unwrap(),
        b"held at the server"
    );
}

/// The workflow-command lines of `stderr` (`::error …`, `::warning …`).
fn annotations<'a>(stderr: &'a str, kind: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.starts_with(&format!("::{kind} ")))
        .collect()
}

/// `upload --seal` of three files under GitHub Actions: the job summary gets the release,
/// sealed, and a table with each file, its size and its CRC64NVME; stdout keeps only the result
/// and a clean run prints no annotation.
#[test]
fn a_sealed_upload_writes_the_job_summary() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [
        ("app.tar.gz", data(3000, 1)),
        ("app.zip", data(70_000, 2)),
        ("notes.txt", b"release notes".to_vec()),
    ];
    for (name, bytes) in &files {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    let summary = d.join("summary.md");
    std::fs::write(&summary, "# Earlier step\n\n").unwrap();
    let run = Run::from(
        server
            .cmd(d)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args([
                "upload",
                "--seal",
                "--suite",
                "app",
                "--release",
                "1.0",
                "app.tar.gz",
                "app.zip",
                "notes.txt",
            ])
            .output()
            .unwrap(),
    );
    let stdout = run.ok();
    assert_eq!(
        stdout.lines().last(),
        Some("s3://artifacts/app/1.0/"),
        "{stdout}"
    );
    assert!(!stdout.contains('|'), "{stdout}");
    assert!(
        annotations(&run.stderr, "error").is_empty(),
        "{}",
        run.stderr
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("# Earlier step\n\n### s3blob upload: `s3://artifacts/app/1.0/`\n"),
        "appended:\n{md}"
    );
    assert!(md.contains("sealed: complete and immutable"), "{md}");
    assert!(md.contains("| File | Size | CRC64NVME | |"), "{md}");
    for (name, bytes) in &files {
        let crc = checksum::to_base64(checksum::crc64(bytes));
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{md}"));
        assert!(row.contains(&format!("`{crc}`")), "{row}");
        assert!(row.ends_with(" sent |"), "{row}");
    }
    assert!(md.contains("3 files, "), "{md}");
}

/// A batch with one refused file under GitHub Actions: exactly one `::error` annotation, for
/// that file, its title and message escaped as GitHub documents (`%` and `:` in the name);
/// `-q` does not silence it; the summary lists the failure.
#[test]
fn a_failed_file_is_one_error_annotation() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("50%:a.bin"), b"refused").unwrap();
    std::fs::write(d.join("ok.bin"), b"stored").unwrap();
    server.faults().inject(
        Op::PutObject,
        1,
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    let summary = d.join("summary.md");
    let run = Run::from(
        server
            .cmd(d)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args([
                "-q",
                "upload",
                "--max-requests",
                "1",
                "--suite",
                "app",
                "--release",
                "1.0",
                "50%:a.bin",
                "ok.bin",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
    let errors = annotations(&run.stderr, "error");
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        errors[0].starts_with("::error title=s3blob upload%3A 50%25%3Aa.bin::"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("s3://artifacts/app/1.0/50%25:a.bin"),
        "{}",
        errors[0]
    );
    assert_eq!(server.object("app/1.0/ok.bin").unwrap(), b"stored");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("| `ok.bin` |"), "{md}");
    assert!(md.contains("**Failed:**\n\n- `50%:a.bin`: "), "{md}");
}

/// A warning under GitHub Actions is also a `::warning` annotation, `-q` or not: here the
/// store refuses the CRC64NVME header and s3blob says it goes on without it.
#[test]
fn a_warning_is_a_warning_annotation() {
    let server = Server::start_faulty();
    server
        .faults()
        .refuse_crc64nvme(Some(s3blob_testserver::faults::RefuseCrc64::BadRequest));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.bin"), b"bytes").unwrap();
    let run = Run::from(
        server
            .cmd(d)
            .env("GITHUB_ACTIONS", "true")
            .args([
                "-q",
                "upload",
                "--suite",
                "app",
                "--release",
                "1.0",
                "a.bin",
            ])
            .output()
            .unwrap(),
    );
    run.ok();
    let warnings = annotations(&run.stderr, "warning");
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].starts_with("::warning title=s3blob::"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("CRC64NVME"), "{}", warnings[0]);
}

/// Without a CI system's variables, or with `--ci-output none`, nothing CI-specific appears:
/// no annotation, no section, no summary written.
#[test]
fn nothing_ci_specific_outside_ci() {
    let server = Server::start_faulty();
    server
        .faults()
        .refuse_crc64nvme(Some(s3blob_testserver::faults::RefuseCrc64::BadRequest));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.bin"), b"bytes").unwrap();
    let summary = d.join("summary.md");
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 3] = [
        (&[], &[]),
        (&[("GITHUB_ACTIONS", "true")], &["--ci-output", "none"]),
        (&[("GITLAB_CI", "true"), ("S3BLOB_CI_OUTPUT", "none")], &[]),
    ];
    for (i, (vars, flags)) in cases.iter().enumerate() {
        let mut cmd = server.cmd(d);
        cmd.env("GITHUB_STEP_SUMMARY", &summary);
        for (k, v) in *vars {
            cmd.env(k, v);
        }
        let release = format!("{i}.0");
        let run = Run::from(
            cmd.args(*flags)
                .args(["upload", "--suite", "app", "--release", &release, "a.bin"])
                .output()
                .unwrap(),
        );
        run.ok();
        assert!(run.stderr.contains("WARN"), "{}", run.stderr);
        assert!(!run.stderr.contains("::"), "{vars:?}: {}", run.stderr);
        assert!(!run.stderr.contains("section_"), "{vars:?}: {}", run.stderr);
        assert!(!summary.exists(), "{vars:?} wrote a summary");
    }
}

/// Under GitLab CI the command's log is one section, started and ended under one name, also
/// when SIGINT cuts the command short; the error line comes after the section ends.
#[test]
fn a_gitlab_section_is_balanced_even_on_sigint() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.bin"), b"held at the server").unwrap();
    let gate = server.faults().hold(Op::PutObject, 1);
    let child = common::background(server.cmd(d).env("GITLAB_CI", "true").args([
        "upload",
        "--suite",
        "app",
        "--release",
        "1.0",
        "a.bin",
    ]));
    while server.faults().count(Op::PutObject) == 0 {
        std::thread::yield_now();
    }
    signal(child.id(), "-INT");
    let run = Run::from(child.wait_with_output().unwrap());
    gate.release();
    assert_eq!(run.code, 130, "{}", run.stderr);
    let name_after = |marker: &str| -> Vec<String> {
        run.stderr
            .split(marker)
            .skip(1)
            .map(|rest| {
                let rest = rest.split_once(':').unwrap().1;
                rest.split(['\r', '[']).next().unwrap().to_owned()
            })
            .collect()
    };
    let started = name_after("section_start:");
    let ended = name_after("section_end:");
    assert_eq!(started.len(), 1, "{:?}", run.stderr);
    assert_eq!(started, ended, "{:?}", run.stderr);
    assert!(started[0].starts_with("s3blob_upload_"), "{started:?}");
    let end = run.stderr.find("section_end:").unwrap();
    let interrupted = run.stderr.find("interrupted").expect("no error line");
    assert!(
        end < interrupted,
        "the error is inside the section: {:?}",
        run.stderr
    );
}

/// At the default interval, a throttled download of about 40 seconds keeps the log alive: a
/// progress line arrives at least every 10 seconds (measured by the test as lines arrive, with
/// slack for a loaded machine), never with a carriage return.
#[test]
fn a_forty_second_download_logs_a_line_at_least_every_ten_seconds() {
    let server = Server::start_throttled(256 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.plant("app/1.0/big.bin", &data(10 * MIB, 9));
    let mut child = server.spawn(
        d,
        &[
            "download",
            "--suite",
            "app",
            "--release",
            "1.0",
            "--filename",
            "big.bin",
            "-o",
            "big.bin",
        ],
    );
    let stderr = child.stderr.take().unwrap();
    let started = std::time::Instant::now();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut raw = Vec::new();
        let mut reader = BufReader::new(stderr);
        loop {
            raw.clear();
            if reader.read_until(b'\n', &mut raw).unwrap() == 0 {
                break;
            }
            lines.push((
                started.elapsed(),
                String::from_utf8_lossy(&raw).into_owned(),
            ));
        }
        lines
    });
    let status = child.wait().unwrap();
    let lines = reader.join().unwrap();
    let all: String = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(status.success(), "{all}");
    assert!(!all.contains('\r'), "{all:?}");
    let progress: Vec<std::time::Duration> = lines
        .iter()
        .filter(|(_, l)| l.trim_start().starts_with("INFO download: "))
        .map(|(t, _)| *t)
        .collect();
    assert!(progress.len() >= 3, "{all}");
    let mut last = std::time::Duration::ZERO;
    for t in &progress {
        assert!(
            *t - last <= std::time::Duration::from_secs(15),
            "a gap of {:?} before the line at {t:?}:\n{all}",
            *t - last
        );
        last = *t;
    }
    assert!(std::fs::read(d.join("big.bin")).unwrap() == data(10 * MIB, 9));
}

/// A summary that cannot be written (its directory does not exist) is a warning: the command
/// still succeeds with its usual result.
#[test]
fn a_summary_that_cannot_be_written_is_a_warning() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.bin"), b"bytes").unwrap();
    let missing = d.join("no-such-dir").join("summary.md");
    let run = server.run(
        d,
        &[
            "upload",
            "--summary-file",
            missing.to_str().unwrap(),
            "--suite",
            "app",
            "--release",
            "1.0",
            "a.bin",
        ],
    );
    assert_eq!(run.ok(), "s3://artifacts/app/1.0/a.bin");
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("summary.md"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("s3blob: error:"), "{}", run.stderr);
    assert!(!missing.exists());
    assert_eq!(server.object("app/1.0/a.bin").unwrap(), b"bytes");
}
