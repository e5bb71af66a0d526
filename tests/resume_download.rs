//! Resuming an interrupted download across runs, through the real binary against the test
//! server over HTTP: which ranges a second run fetches (the server's GET counts), what stays
//! beside the destination, and the bytes that land. Every interruption is placed with gates or
//! injected faults: the first ranges pass, the rest are held or refused.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// 13 ranges of 5 MiB, the last one short.
const SIZE: usize = 12 * 5 * MIB + 4321;
const RANGES: usize = 13;
/// Ranges fetched before the interruption.
const FETCHED: usize = 4;

const PARTIAL: &str = ".big.bin.s3blob-partial";
const STATE: &str = ".big.bin.s3blob-partial.state";

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "download",
        "--suite",
        "s",
        "--release",
        "1",
        "--filename",
        "big.bin",
        "--part-size",
        "5MiB",
        // One range at a time: the first FETCHED ranges are exactly ranges 0..FETCHED.
        "--concurrency",
        "1",
        "-o",
        "out/big.bin",
    ];
    a.extend_from_slice(extra);
    a
}

/// A server holding `bytes` at `s/1/big.bin`, and a working directory with `out/`.
fn stored(bytes: &[u8]) -> (Server, tempfile::TempDir) {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    server
        .upload(
            dir.path(),
            "s",
            "1",
            &[("big.bin", bytes)],
            &["--part-size", "5MiB"],
        )
        .ok();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    (server, dir)
}

/// Range lines recorded in the partial download's log.
fn recorded(d: &Path) -> usize {
    std::fs::read_to_string(d.join("out").join(STATE))
        .map(|t| t.lines().skip(1).filter(|l| l.contains(' ')).count())
        .unwrap_or(0)
}

/// Starts `args`, lets [`FETCHED`] GETs through and holds the rest; once they are recorded and
/// one more is held, stops the process with `sig`. Faults are cleared afterwards.
fn interrupted(server: &Server, d: &Path, args: &[&str], sig: &str) -> Run {
    let f = server.faults();
    f.inject(Op::GetObject, FETCHED, Fault::Delay(Duration::ZERO));
    let _held = f.hold(Op::GetObject, usize::MAX);
    let child = server.spawn(d, args);
    // Without --resumable nothing is recorded: the GETs tell how far it went.
    let recording = args.contains(&"--resumable");
    wait_for("some ranges fetched and one more held", || {
        (!recording || recorded(d) == FETCHED) && f.count(Op::GetObject) > FETCHED
    });
    signal(child.id(), sig);
    let out = Run::from(child.wait_with_output().unwrap());
    f.clear();
    out
}

/// Nothing in `out/`: no destination, no partial file, no record.
#[track_caller]
fn nothing_left(d: &Path, case: &str) {
    let left: Vec<_> = std::fs::read_dir(d.join("out")).unwrap().collect();
    assert!(left.is_empty(), "{case}: {left:?}");
}

/// GETs the server receives while `f` runs.
fn gets(server: &Server, f: impl FnOnce() -> Run) -> (usize, Run) {
    let before = server.faults().count(Op::GetObject);
    let run = f();
    (server.faults().count(Op::GetObject) - before, run)
}

#[track_caller]
fn finished(d: &Path, bytes: &[u8]) {
    let out = d.join("out");
    assert!(
        std::fs::read(out.join("big.bin")).unwrap() == bytes,
        "the bytes"
    );
    assert!(!out.join(PARTIAL).exists(), "the partial file is gone");
    assert!(!out.join(STATE).exists(), "its record is gone");
}

/// Runs the download again (with `extra`): it succeeds having fetched only what the
/// interruption left (the first GET, which tells what the object is while its range is kept,
/// then the missing ranges), and the destination is whole with nothing beside it.
#[track_caller]
fn resumed(server: &Server, d: &Path, bytes: &[u8], extra: &[&str]) -> Run {
    let (sent, out) = gets(server, || server.run(d, &args(extra)));
    assert_eq!(out.ok(), "out/big.bin");
    assert_eq!(sent, 1 + RANGES - FETCHED, "{}", out.stderr);
    finished(d, bytes);
    out
}

#[test]
fn a_download_cut_past_the_retries_is_kept_and_the_next_run_fetches_only_the_rest() {
    let bytes = data(SIZE, 41);
    let (server, dir) = stored(&bytes);
    let d = dir.path();
    let f = server.faults();
    f.inject(Op::GetObject, FETCHED, Fault::Delay(Duration::ZERO));
    f.inject(
        Op::GetObject,
        1000,
        Fault::Error {
            status: 500,
            code: "InternalError",
        },
    );
    let out = server.run(d, &args(&["--resumable", "--max-attempts", "2"]));
    out.fails(7, &["big.bin"]);
    assert!(
        out.stderr.contains("kept the partial download") && out.stderr.contains(PARTIAL),
        "{}",
        out.stderr
    );
    assert!(!d.join("out/big.bin").exists(), "no destination yet");
    assert_eq!(recorded(d), FETCHED);
    f.clear();
    let out = resumed(&server, d, &bytes, &[]);
    assert!(
        out.stderr.contains("resuming the download"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_killed_download_is_continued_by_the_same_command() {
    let bytes = data(SIZE, 42);
    let (server, dir) = stored(&bytes);
    let d = dir.path();
    interrupted(&server, d, &args(&["--resumable"]), "-KILL");
    assert!(
        d.join("out").join(PARTIAL).exists(),
        "kill -9 leaves the partial file"
    );
    resumed(&server, d, &bytes, &["--resumable"]);
}

#[test]
fn sigint_with_resumable_keeps_the_partial_file_and_says_so() {
    let bytes = data(SIZE, 43);
    let (server, dir) = stored(&bytes);
    let d = dir.path();
    let out = interrupted(&server, d, &args(&["--resumable"]), "-INT");
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "interrupted by SIGINT; the partial download kept for resuming is named above"
        ),
        "{}",
        out.stderr
    );
    assert!(d.join("out").join(PARTIAL).exists());
    resumed(&server, d, &bytes, &[]);
}

#[test]
fn sigint_without_resumable_leaves_nothing() {
    let bytes = data(SIZE, 44);
    let (server, dir) = stored(&bytes);
    let d = dir.path();
    let out = interrupted(&server, d, &args(&[]), "-INT");
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert!(
        out.stderr.contains("nothing was left behind"),
        "{}",
        out.stderr
    );
    nothing_left(d, "");
}

#[test]
fn an_object_replaced_between_runs_is_fetched_over() {
    let bytes = data(SIZE, 45);
    let (server, dir) = stored(&bytes);
    let d = dir.path();
    interrupted(&server, d, &args(&["--resumable"]), "-KILL");
    let newer = data(SIZE, 46);
    server
        .upload(
            d,
            "s",
            "1",
            &[("big.bin", &newer)],
            &["--part-size", "5MiB", "--overwrite"],
        )
        .ok();
    let (sent, out) = gets(&server, || server.run(d, &args(&["--resumable"])));
    out.ok();
    assert!(
        out.stderr.contains("starting the download of") && out.stderr.contains("replaced"),
        "{}",
        out.stderr
    );
    assert_eq!(sent, RANGES, "every range fetched again");
    finished(d, &newer);
}

#[test]
fn a_kept_range_whose_bytes_changed_on_disk_is_fetched_again() {
    let bytes = data(SIZE, 47);
    let (server, dir) = stored(&bytes);
    let d = dir.path();
    interrupted(&server, d, &args(&["--resumable"]), "-KILL");
    // One byte of range 1 (kept) changes on disk behind s3blob's back.
    let partial = d.join("out").join(PARTIAL);
    let mut on_disk = std::fs::read(&partial).unwrap();
    on_disk[5 * MIB + 10] ^= 0xff;
    std::fs::write(&partial, &on_disk).unwrap();
    let (sent, out) = gets(&server, || server.run(d, &args(&["--resumable"])));
    out.ok();
    assert_eq!(sent, 1 + RANGES - FETCHED + 1, "range 1 fetched again");
    finished(d, &bytes);
}

#[test]
fn resumable_to_stdout_is_refused() {
    let (server, dir) = stored(&data(1000, 48));
    let out = server.run(
        dir.path(),
        &[
            "download",
            "--suite",
            "s",
            "--release",
            "1",
            "--filename",
            "big.bin",
            "--resumable",
            "-o",
            "-",
        ],
    );
    out.usage_error(&["--resumable", "-o -"]);
}

/// Interrupted before any range was complete, `--resumable` has nothing worth keeping: no
/// partial file is left, and the run says so instead of naming one. Both before the first
/// answer (the first GET held) and after it (its body stalled once the record was started).
#[test]
fn an_interruption_before_any_range_is_complete_keeps_nothing() {
    for stall_body in [false, true] {
        let bytes = data(SIZE, 46);
        let (server, dir) = stored(&bytes);
        let d = dir.path();
        let f = server.faults();
        let before = f.count(Op::GetObject);
        let held = if stall_body {
            f.inject(Op::GetObject, usize::MAX, Fault::Stall(1000));
            None
        } else {
            Some(f.hold(Op::GetObject, usize::MAX))
        };
        let child = server.spawn(d, &args(&["--resumable"]));
        wait_for("the first range held or stalled", || {
            f.count(Op::GetObject) > before && (!stall_body || d.join("out").join(STATE).exists())
        });
        signal(child.id(), "-INT");
        let out = Run::from(child.wait_with_output().unwrap());
        if let Some(gate) = held {
            gate.release();
        }
        f.clear();
        assert_eq!(out.code, 130, "{}", out.stderr);
        assert!(
            out.stderr.contains("no partial file is kept for resuming")
                && out.stderr.contains("nothing was left behind")
                && !out.stderr.contains("kept the partial download"),
            "stall_body {stall_body}: {}",
            out.stderr
        );
        nothing_left(d, &format!("stall_body {stall_body}"));
    }
}

/// A download whose bytes turn out not to be the object's (a body corrupted on the way)
/// removes the partial file and its record, even with `--resumable`: they cannot be trusted.
#[test]
fn a_download_whose_bytes_are_not_the_objects_keeps_nothing() {
    let bytes = data(SIZE, 47);
    let (server, dir) = stored(&bytes);
    let d = dir.path();
    let f = server.faults();
    f.inject(Op::GetObject, FETCHED, Fault::Delay(Duration::ZERO));
    f.inject(Op::GetObject, 1, Fault::FlipByte(1000));
    let out = server.run(d, &args(&["--resumable"]));
    f.clear();
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        !out.stderr.contains("kept the partial download"),
        "{}",
        out.stderr
    );
    nothing_left(d, "");
}

/// A destination whose name leaves no room for `.NAME.s3blob-partial.state` beside it is
/// downloaded without resume, with one line saying so, and arrives whole.
#[test]
fn a_name_too_long_for_the_partial_file_is_downloaded_without_resume() {
    // In memory: s3s-fs keeps an object's metadata under a longer name than the object's.
    let server = Server::start_memory();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 240 bytes fit a file name (255); the record's name would take 267.
    let name = format!("{}.bin", "n".repeat(236));
    server
        .upload(d, "s", "1", &[(name.as_str(), b"long name")], &[])
        .ok();
    std::fs::create_dir(d.join("out")).unwrap();
    let out = server.run(
        d,
        &[
            "download",
            "--suite",
            "s",
            "--release",
            "1",
            "--filename",
            &name,
            "-o",
            "out/",
            "--resumable",
        ],
    );
    out.ok();
    assert!(
        out.stderr.contains(
            "the name is too long to keep a partial file beside it; downloading without resume"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read(d.join("out").join(&name)).unwrap(),
        b"long name"
    );
    let left: Vec<_> = std::fs::read_dir(d.join("out")).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
}
