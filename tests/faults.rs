//! Faults injected between s3blob and a real S3 server: transient ones are retried to success
//! with identical bytes; lasting ones fail with the documented exit code and leave nothing
//! behind (no file at the destination, an existing file untouched, no open multipart upload).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Fault, MIB, Op, Run, Server, data, no_temp_files, signal, wait_for};

const KEY: &str = "s/r/a.bin";

/// Uploads `a.bin` in parts of 5 MiB.
const UPLOAD: [&str; 8] = [
    "upload",
    "--suite",
    "s",
    "--release",
    "r",
    "a.bin",
    "--part-size",
    "5MiB",
];

/// Downloads the test object into `out.bin` in ranges of 5 MiB.
const DOWNLOAD: [&str; 11] = [
    "download",
    "--suite",
    "s",
    "--release",
    "r",
    "--filename",
    "a.bin",
    "-o",
    "out.bin",
    "--part-size",
    "5MiB",
];

/// A file of 3 parts (5 MiB, 5 MiB, 1 MiB + 7) in `dir`.
fn multipart_file(dir: &Path) -> Vec<u8> {
    let bytes = data(11 * MIB + 7, 42);
    std::fs::write(dir.join("a.bin"), &bytes).unwrap();
    bytes
}

fn upload(server: &Server, dir: &Path, extra: &[&str]) -> Run {
    let mut args = UPLOAD.to_vec();
    args.extend_from_slice(extra);
    server.run(dir, &args)
}

fn download(server: &Server, dir: &Path, extra: &[&str]) -> Run {
    let mut args = DOWNLOAD.to_vec();
    args.extend_from_slice(extra);
    server.run(dir, &args)
}

/// Stores the test object through a clean server path, then clears the request log's faults.
fn stored(server: &Server, dir: &Path) -> Vec<u8> {
    let bytes = multipart_file(dir);
    upload(server, dir, &[]).ok();
    bytes
}

// ---- uploads -------------------------------------------------------------------------------

#[test]
fn upload_part_slowdown_is_retried() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let bytes = multipart_file(dir.path());
    server.faults().inject(
        Op::UploadPart,
        2,
        Fault::Error {
            status: 503,
            code: "SlowDown",
        },
    );
    let out = upload(&server, dir.path(), &["-vv"]);
    out.ok();
    assert!(server.object(KEY).unwrap() == bytes);
    assert_eq!(server.faults().count(Op::UploadPart), 3 + 2);
    // The SDK's debug log (-vv) shows each throttled attempt and its backoff.
    assert!(
        out.stderr.contains("ThrottlingError") && out.stderr.contains("retrying after"),
        "retries visible in the debug log: {}",
        out.stderr
    );
}

#[test]
fn put_object_internal_error_is_retried() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), b"small artifact").unwrap();
    server.faults().inject(
        Op::PutObject,
        2,
        Fault::Error {
            status: 500,
            code: "InternalError",
        },
    );
    upload(&server, dir.path(), &[]).ok();
    assert_eq!(server.object(KEY).unwrap(), b"small artifact");
    assert_eq!(server.faults().count(Op::PutObject), 3);
}

#[test]
fn upload_part_connection_cut_is_retried() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let bytes = multipart_file(dir.path());
    server
        .faults()
        .inject(Op::UploadPart, 1, Fault::CutRequest(64 * 1024));
    upload(&server, dir.path(), &[]).ok();
    assert!(server.object(KEY).unwrap() == bytes);
    assert_eq!(server.open_uploads(), 0);
}

#[test]
fn complete_failure_is_retried() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let bytes = multipart_file(dir.path());
    server.faults().inject(
        Op::CompleteMultipartUpload,
        1,
        Fault::Error {
            status: 500,
            code: "InternalError",
        },
    );
    upload(&server, dir.path(), &[]).ok();
    assert!(server.object(KEY).unwrap() == bytes);
    assert_eq!(server.open_uploads(), 0);
}

#[test]
fn upload_part_failing_past_the_budget_aborts_the_upload() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    multipart_file(dir.path());
    server.faults().inject(
        Op::UploadPart,
        100,
        Fault::Error {
            status: 503,
            code: "SlowDown",
        },
    );
    upload(&server, dir.path(), &["--max-attempts", "2"]).fails(
        7,
        &["s3://artifacts/s/r/a.bin", "SlowDown", "--max-attempts"],
    );
    assert!(server.object(KEY).is_none());
    assert_eq!(server.faults().count(Op::AbortMultipartUpload), 1);
    assert_eq!(server.open_uploads(), 0);
}

#[test]
fn put_object_failing_past_the_budget() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), b"small").unwrap();
    server.faults().inject(
        Op::PutObject,
        100,
        Fault::Error {
            status: 500,
            code: "InternalError",
        },
    );
    let forced = ["--max-attempts", "3", "--checksum-header", "crc64nvme"];
    upload(&server, dir.path(), &forced).fails(7, &["InternalError"]);
    assert_eq!(server.faults().count(Op::PutObject), 3);
    // By default a 500 to a write carrying the checksum header is also tried without it (a
    // store refusing the header answers so): 3 attempts more.
    upload(&server, dir.path(), &["--max-attempts", "3"]).fails(7, &["InternalError"]);
    assert_eq!(server.faults().count(Op::PutObject), 3 + 6);
    assert!(server.object(KEY).is_none());
}

/// More bytes than the loopback connection's socket buffers can take (the sender's and the
/// receiver's largest), so a body of this size cannot be sent whole to a server that reads none.
fn more_than_socket_buffers() -> usize {
    let largest = |path: &str| -> usize {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_whitespace().last()?.parse().ok())
            .unwrap_or(64 * MIB)
    };
    largest("/proc/sys/net/ipv4/tcp_wmem") + largest("/proc/sys/net/ipv4/tcp_rmem") + 8 * MIB
}

/// What a stalled upload says depends on how far the request got, and only one message is
/// right for each: a body larger than the socket buffers stops being taken (sending stalled);
/// a small body is sent whole and its answer never starts.
#[test]
fn a_stalled_upload_says_whether_sending_or_the_answer_stalled() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Never answered (until the server stops with the test); a single PUT either way.
    let _held = server.faults().hold(Op::PutObject, 100);
    for (len, says) in [
        (more_than_socket_buffers(), "sending the request stalled"),
        (1000, "did not start its response"),
    ] {
        std::fs::write(d.join("f.bin"), data(len, 3)).unwrap();
        let out = server.run(
            d,
            &[
                "upload",
                "--timeout",
                "1",
                "--max-attempts",
                "1",
                "--part-size",
                "1GiB",
                "--suite",
                "s",
                "--release",
                "r",
                "f.bin",
            ],
        );
        out.fails(7, &["--timeout", says]);
        assert!(server.object("s/r/f.bin").is_none());
    }
}

#[test]
fn stalled_upload_times_out_in_seconds() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    multipart_file(dir.path());
    // Never answered (until the server stops with the test).
    let _held = server.faults().hold(Op::UploadPart, 100);
    let started = Instant::now();
    upload(
        &server,
        dir.path(),
        &["--timeout", "1", "--max-attempts", "2"],
    )
    .fails(7, &["--timeout"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(server.open_uploads(), 0);
    assert!(server.object(KEY).is_none());
}

#[test]
fn a_file_that_changes_during_upload_is_not_stored() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    multipart_file(dir.path());
    // The parts wait at the server until the file has changed: no race with a timer.
    let gate = server.faults().hold(Op::UploadPart, 100);
    let child = server.spawn(dir.path(), &[&UPLOAD[..], &["--concurrency", "1"]].concat());
    wait_for("the first part", || {
        server.faults().count(Op::UploadPart) >= 1
    });
    // The build rewrites its artifact while it is being published.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("a.bin"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"more").unwrap();
    drop(f);
    gate.release();
    let out = Run::from(child.wait_with_output().unwrap());
    out.fails(5, &["a.bin", "changed while it was being uploaded"]);
    assert!(server.object(KEY).is_none());
    assert_eq!(server.open_uploads(), 0);
}

#[test]
fn an_object_replaced_during_download_is_not_mixed() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    stored(&server, dir.path());
    // The first range arrives; the others are held at the server until another publisher
    // has replaced the object (no timer to race).
    server
        .faults()
        .inject(Op::GetObject, 1, Fault::Delay(Duration::ZERO));
    let gate = server.faults().hold(Op::GetObject, 10);
    let child = server.spawn(dir.path(), &DOWNLOAD);
    wait_for("the second range", || {
        server.faults().count(Op::GetObject) >= 2
    });
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("a.bin"), data(11 * MIB + 7, 99)).unwrap();
    upload(&server, &other, &["--overwrite"]).ok();
    gate.release();
    let out = Run::from(child.wait_with_output().unwrap());
    out.fails(5, &["changed on the server during the download"]);
    assert!(!dir.path().join("out.bin").exists());
    no_temp_files(dir.path());
}

// ---- downloads -----------------------------------------------------------------------------

#[test]
fn get_errors_are_retried() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let bytes = stored(&server, dir.path());
    server.faults().inject(
        Op::GetObject,
        2,
        Fault::Error {
            status: 503,
            code: "SlowDown",
        },
    );
    download(&server, dir.path(), &[]).ok();
    assert!(std::fs::read(dir.path().join("out.bin")).unwrap() == bytes);
}

#[test]
fn cut_bodies_are_resumed() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let bytes = stored(&server, dir.path());
    // The first response and the first resume are both cut short of their Content-Length.
    server
        .faults()
        .inject(Op::GetObject, 2, Fault::CutResponse(100_000));
    let before = server.faults().requests().len();
    let out = download(&server, dir.path(), &["--concurrency", "1"]);
    out.ok();
    assert!(std::fs::read(dir.path().join("out.bin")).unwrap() == bytes);
    assert!(out.stderr.contains("resuming"), "{}", out.stderr);
    no_temp_files(dir.path());
    // Each resume asks for the rest of its range from the first byte it did not get; the
    // ranges that were not cut are asked for once.
    let ranges: Vec<String> = server.faults().requests()[before..]
        .iter()
        .filter(|r| r.op == Op::GetObject)
        .map(|r| r.header("range").unwrap_or_default())
        .collect();
    let part = 5 * MIB;
    let end = 11 * MIB + 7 - 1;
    assert_eq!(
        ranges,
        [
            format!("bytes=0-{}", part - 1),
            format!("bytes=100000-{}", part - 1),
            format!("bytes=200000-{}", part - 1),
            format!("bytes={part}-{}", 2 * part - 1),
            format!("bytes={}-{end}", 2 * part),
        ]
    );
}

#[test]
fn cut_bodies_past_the_budget_leave_nothing() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    stored(&server, dir.path());
    std::fs::write(dir.path().join("out.bin"), b"previous").unwrap();
    server
        .faults()
        .inject(Op::GetObject, 100, Fault::CutResponse(1000));
    download(&server, dir.path(), &["--max-attempts", "2"])
        .fails(7, &["s3://artifacts/s/r/a.bin", "failed 2 times"]);
    assert_eq!(
        std::fs::read(dir.path().join("out.bin")).unwrap(),
        b"previous"
    );
    no_temp_files(dir.path());
}

#[test]
fn corrupted_body_is_never_written_into_place() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    stored(&server, dir.path());
    server
        .faults()
        .inject(Op::GetObject, 1, Fault::FlipByte(12_345));
    download(&server, dir.path(), &[]).fails(5, &["do not match"]);
    assert!(!dir.path().join("out.bin").exists());
    no_temp_files(dir.path());
}

#[test]
fn stalled_body_is_abandoned_and_resumed() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let bytes = stored(&server, dir.path());
    server
        .faults()
        .inject(Op::GetObject, 1, Fault::Stall(100_000));
    let before = server.faults().count(Op::GetObject);
    let started = Instant::now();
    download(&server, dir.path(), &[]).ok();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    assert!(std::fs::read(dir.path().join("out.bin")).unwrap() == bytes);
    // Three ranges of 5 MiB, and one more: the stalled first range, resumed from where it
    // stopped (inside its first 100,000 bytes), not from its start.
    let starts: Vec<u64> = server.faults().requests()[..]
        .iter()
        .filter(|r| r.op == Op::GetObject)
        .skip(before)
        .map(|r| {
            let range = r.header("range").unwrap_or_default();
            let from = range
                .trim_start_matches("bytes=")
                .split('-')
                .next()
                .unwrap();
            from.parse().unwrap_or_else(|_| panic!("range {range:?}"))
        })
        .collect();
    assert_eq!(starts.len(), 4, "{starts:?}");
    let resumed: Vec<u64> = starts
        .iter()
        .copied()
        .filter(|s| s % (5 * MIB as u64) != 0)
        .collect();
    assert!(
        matches!(resumed[..], [s] if s > 0 && s <= 100_000),
        "no resume inside the first range: {starts:?}"
    );
}

#[test]
fn server_that_never_answers_times_out_in_seconds() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    stored(&server, dir.path());
    // Never answered (until the server stops with the test).
    let _held = server.faults().hold(Op::GetObject, 100);
    let started = Instant::now();
    download(
        &server,
        dir.path(),
        &["--timeout", "1", "--max-attempts", "2"],
    )
    .fails(7, &["did not start its response within 1 s", "--timeout"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(!dir.path().join("out.bin").exists());
    no_temp_files(dir.path());
}

/// A small download is one round trip: the object's first (and only) GET and the GET of its
/// release's manifest go out together. The object's GET is held at the server until the
/// manifest's has arrived: sent one after the other, the download would never finish.
#[test]
fn a_small_download_is_one_round_trip() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), b"tiny").unwrap();
    upload(&server, dir.path(), &[]).ok();
    let before = server.faults().log().len();
    let gate = server.faults().hold(Op::GetObject, 1);
    let child = server.spawn(dir.path(), &DOWNLOAD);
    wait_for("the manifest's GET while the object's is held", || {
        server.faults().count(Op::GetManifest) >= 1
    });
    gate.release();
    Run::from(child.wait_with_output().unwrap()).ok();
    let mut ops = server.faults().log()[before..].to_vec();
    ops.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(ops, [Op::GetManifest, Op::GetObject]);
}

// ---- signals -------------------------------------------------------------------------------

/// A signal while the upload's parts are held at the server: the multipart upload is aborted,
/// never completed, nothing is stored, and the exit code is the signal's.
fn interrupted_upload(sig: &str, code: i32, says: &str) {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    multipart_file(dir.path());
    // Held until the server stops at the end of the test.
    let _held = server.faults().hold(Op::UploadPart, 100);
    let child = server.spawn(dir.path(), &UPLOAD);
    wait_for("the first part", || {
        server.faults().count(Op::UploadPart) >= 1
    });
    assert_eq!(server.open_uploads(), 1);
    signal(child.id(), sig);
    let out = Run::from(child.wait_with_output().unwrap());
    out.fails(code, &[says]);
    assert_eq!(server.faults().count(Op::AbortMultipartUpload), 1);
    assert_eq!(server.faults().count(Op::CompleteMultipartUpload), 0);
    assert_eq!(server.open_uploads(), 0);
    assert!(server.object(KEY).is_none());
}

#[test]
fn sigint_during_upload_aborts_the_multipart_upload() {
    interrupted_upload("-INT", 130, "interrupted by SIGINT");
}

#[test]
fn sigterm_during_upload_aborts_the_multipart_upload() {
    interrupted_upload("-TERM", 143, "interrupted by SIGTERM");
}

#[test]
fn a_complete_that_fails_after_storing_the_object_counts_as_done() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let bytes = multipart_file(dir.path());
    // The server assembles the object, then its answer is cut: the client sees an error (and
    // any retry finds the upload gone).
    server
        .faults()
        .inject(Op::CompleteMultipartUpload, 10, Fault::CutResponse(0));
    let out = upload(&server, dir.path(), &[]);
    assert_eq!(out.ok(), format!("s3://artifacts/{KEY}"));
    assert!(server.object(KEY).unwrap() == bytes);
    assert!(
        out.stderr.contains("the object is stored intact"),
        "{}",
        out.stderr
    );
    assert_eq!(server.faults().count(Op::AbortMultipartUpload), 0);
}

#[test]
fn a_failed_abort_is_logged_with_the_upload_id() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    multipart_file(dir.path());
    let denied = Fault::Error {
        status: 403,
        code: "AccessDenied",
    };
    let f = server.faults();
    f.inject(Op::UploadPart, 100, denied.clone());
    f.inject(Op::AbortMultipartUpload, 100, denied);
    let out = upload(&server, dir.path(), &[]);
    out.fails(4, &[KEY]);
    let id = f
        .requests()
        .iter()
        .find(|r| r.op == Op::UploadPart)
        .and_then(|r| {
            r.query
                .split('&')
                .find_map(|kv| kv.strip_prefix("uploadId="))
                .map(str::to_owned)
        })
        .unwrap();
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("could not abort the multipart upload"))
        .unwrap_or_else(|| panic!("no warning about the abort: {}", out.stderr));
    assert!(warning.contains(&id), "{warning:?} should name {id}");
    assert!(f.count(Op::AbortMultipartUpload) >= 1);
    // The upload is left on the server, as the warning says.
    assert_eq!(server.open_uploads(), 1);
}

#[test]
fn a_server_ignoring_if_match_is_caught_by_the_checksum() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    stored(&server, dir.path());
    server.faults().ignore_if_match(true);
    // The first range goes through; the others wait until the object has been replaced (same
    // size, other bytes), then get the new object's bytes.
    server
        .faults()
        .inject(Op::GetObject, 1, Fault::Delay(Duration::ZERO));
    let gate = server.faults().hold(Op::GetObject, 10);
    let child = server.spawn(dir.path(), &DOWNLOAD);
    wait_for("a second range, held", || {
        server.faults().count(Op::GetObject) >= 2
    });
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("a.bin"), data(11 * MIB + 7, 99)).unwrap();
    upload(&server, &other, &["--overwrite"]).ok();
    gate.release();
    let out = Run::from(child.wait_with_output().unwrap());
    out.fails(5, &["s3://artifacts/s/r/a.bin"]);
    assert!(
        !out.stderr
            .contains("changed on the server during the download"),
        "If-Match was ignored, so no 412 can have said so: {}",
        out.stderr
    );
    assert!(!dir.path().join("out.bin").exists());
    no_temp_files(dir.path());
}

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Whether process `pid` has a file open in `dir` (the download's file, named or not).
fn holds_a_file_in(pid: u32, dir: &Path) -> bool {
    let dir = dir.canonicalize().unwrap();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .any(|target| target.parent() == Some(dir.as_path()))
}

/// How a download's file is written: without a name until it is complete (Linux `O_TMPFILE`),
/// or as the named `.NAME.XXXXXX.s3blob-tmp` of file systems without it, forced here by the test
/// hook `S3BLOB_TEST_NAMED_TEMP_FILE`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TempFile {
    Unnamed,
    Named,
}

/// The named temporary files in `dir`.
fn named_temps(dir: &Path) -> Vec<String> {
    entries(dir)
        .into_iter()
        .filter(|n| n.starts_with(".out.bin.") && n.ends_with(".s3blob-tmp"))
        .collect()
}

/// A download cut by `sig` while its ranges are under way: the existing file is untouched and
/// nothing else is left in the directory (but the named temporary file after `kill -9`, which
/// no process survives to remove). `code` is the exit code (None: killed outright).
fn interrupted_download(sig: &str, code: Option<i32>, temp: TempFile) {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    stored(&server, dir.path());
    std::fs::write(dir.path().join("out.bin"), b"previous").unwrap();
    let before = entries(dir.path());
    // The first range arrives, the others are held until the server stops.
    server
        .faults()
        .inject(Op::GetObject, 1, Fault::Delay(Duration::ZERO));
    let _held = server.faults().hold(Op::GetObject, 100);
    let mut cmd = server.cmd(dir.path());
    if temp == TempFile::Named {
        cmd.env("S3BLOB_TEST_NAMED_TEMP_FILE", "1");
    }
    let child = common::background(cmd.args(DOWNLOAD));
    wait_for("the second range", || {
        server.faults().count(Op::GetObject) >= 2
    });
    assert!(
        holds_a_file_in(child.id(), dir.path()),
        "the download is under way"
    );
    // The file being written has a name beside the destination only in the fallback.
    assert_eq!(
        named_temps(dir.path()).len(),
        usize::from(temp == TempFile::Named),
        "{:?}",
        entries(dir.path())
    );
    signal(child.id(), sig);
    let out = Run::from(child.wait_with_output().unwrap());
    match code {
        Some(code) => out.fails(code, &["interrupted"]),
        None => assert!(out.stdout.is_empty(), "{}", out.stdout),
    }
    assert_eq!(
        std::fs::read(dir.path().join("out.bin")).unwrap(),
        b"previous"
    );
    let mut after = entries(dir.path());
    if temp == TempFile::Named && code.is_none() {
        // kill -9 ends the process before it can remove anything: the named file stays, and
        // is all that does (the README says so).
        assert_eq!(named_temps(dir.path()).len(), 1, "{after:?}");
        after.retain(|n| !n.ends_with(".s3blob-tmp"));
    }
    assert_eq!(after, before, "nothing may be left behind");
}

#[test]
fn sigint_during_download_removes_the_temporary_file() {
    interrupted_download("-INT", Some(130), TempFile::Unnamed);
}

#[test]
fn sigterm_during_download_removes_the_temporary_file() {
    interrupted_download("-TERM", Some(143), TempFile::Unnamed);
}

/// Not even `kill -9` leaves a partial file: the download's file has no name until it is
/// complete and verified.
#[test]
fn sigkill_during_download_leaves_nothing() {
    interrupted_download("-KILL", None, TempFile::Unnamed);
}

/// Without `O_TMPFILE`, SIGINT removes the named temporary file before exiting.
#[test]
fn sigint_during_download_removes_the_named_temporary_file() {
    interrupted_download("-INT", Some(130), TempFile::Named);
}

#[test]
fn sigterm_during_download_removes_the_named_temporary_file() {
    interrupted_download("-TERM", Some(143), TempFile::Named);
}

/// Without `O_TMPFILE`, `kill -9` cannot be cleaned up after: the destination is untouched and
/// the named temporary file is the only thing left.
#[test]
fn sigkill_during_download_leaves_only_the_named_temporary_file() {
    interrupted_download("-KILL", None, TempFile::Named);
}

// ---- local failures ------------------------------------------------------------------------

#[test]
fn disk_full_mid_download_fails_cleanly() {
    // A 2 MiB file system for an 11 MiB object, mounted in a private mount namespace: as
    // root (as in CI), or elsewhere as root of a new user namespace (`unshare -r`).
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    stored(&server, dir.path());
    std::fs::create_dir(dir.path().join("small")).unwrap();
    let bin = env!("CARGO_BIN_EXE_s3blob");
    let script = format!(
        "mount -t tmpfs -o size=2m tmpfs small && echo previous > small/out.bin && \
         {bin} download --suite s --release r --filename a.bin -o small/out.bin --part-size 5MiB; \
         rc=$?; echo; ls -A small; cat small/out.bin; exit $rc"
    );
    // The scrubbed environment of `cmd`, applied to a shell inside the new namespace.
    let env = server.cmd(dir.path());
    let mut sh = std::process::Command::new("unshare");
    if !root {
        sh.arg("--map-root-user");
    }
    sh.args(["-m", "sh", "-c", &script])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin");
    for (k, v) in env.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    let out = Run::from(sh.output().unwrap());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("no space left"), "{}", out.stderr);
    // After the (empty) stdout of s3blob: the directory listing and the untouched old file.
    assert_eq!(
        out.stdout.trim(),
        "out.bin\nprevious",
        "no temporary file, old file intact"
    );
}
