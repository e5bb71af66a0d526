//! Pipes: `upload -` reads stdin, `download -o -` writes stdout; same keys, same checks.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{Fault, MIB, Op, Run, Server, data, signal, wait_for};

/// Runs the binary with `input` on stdin.
fn with_stdin(server: &Server, dir: &std::path::Path, args: &[&str], input: &[u8]) -> Run {
    let mut child = server
        .cmd(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Write from another thread so a full stdout pipe cannot deadlock the test.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run::from(out)
}

#[test]
fn stdin_upload_small_and_multipart() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, len) in [
        ("empty", 0),
        ("small.bin", 1000),
        ("big.tar.gz", 12 * MIB + 3),
    ] {
        let bytes = data(len, len as u64);
        let args = [
            "upload",
            "--suite",
            "pipe",
            "--release",
            "1",
            "--filename",
            name,
            "--part-size",
            "5MiB",
            "-",
        ];
        let out = with_stdin(&server, d, &args, &bytes);
        assert_eq!(out.ok(), format!("s3://artifacts/pipe/1/{name}"));
        assert!(out.stderr.contains("uploading stdin to"), "{}", out.stderr);
        assert!(
            server.object(&format!("pipe/1/{name}")).unwrap() == bytes,
            "{name}"
        );
        assert_eq!(server.open_uploads(), 0);
        let back = server.run(
            d,
            &[
                "download",
                "--suite",
                "pipe",
                "--release",
                "1",
                "--filename",
                name,
                "-o",
                "back",
                "--json",
            ],
        );
        let report: serde_json::Value = back.file_json();
        assert!(std::fs::read(d.join("back")).unwrap() == bytes, "{name}");
        // One part carries s3blob's CRC64NVME in its metadata; a multipart stream's checksum
        // goes to CompleteMultipartUpload, where the server keeps it, as S3 does.
        let verified = if len > 5 * MIB {
            "server-checksum"
        } else {
            "checksum"
        };
        assert_eq!(report["verified"], verified, "{name}");
        assert!(!back.stderr.contains("only its size"), "{}", back.stderr);
    }
    let stat = server.run(
        d,
        &[
            "--json",
            "stat",
            "--suite",
            "pipe",
            "--release",
            "1",
            "--filename",
            "big.tar.gz",
        ],
    );
    let v: serde_json::Value = stat.json();
    assert_eq!(v["content_type"], "application/gzip");
    // stat names where the checksum comes from: the server's full-object CRC64NVME, the same
    // value the stream's data has.
    assert_eq!(v["checksum"]["source"], "server");
    let big = data(12 * MIB + 3, (12 * MIB + 3) as u64);
    let expected = s3blob::checksum::to_base64(s3blob::checksum::crc64(&big));
    assert_eq!(v["checksum"]["value"], expected.as_str());
}

#[test]
fn stdin_upload_keeps_the_overwrite_rules() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "upload",
        "--suite",
        "pipe",
        "--release",
        "1",
        "--filename",
        "f",
        "-",
    ];
    with_stdin(&server, d, &args, b"first").ok();
    // The same bytes again: success, nothing replaced.
    let again = with_stdin(
        &server,
        d,
        &[
            "--json",
            "upload",
            "--suite",
            "pipe",
            "--release",
            "1",
            "--filename",
            "f",
            "-",
        ],
        b"first",
    );
    assert!(
        again.ok().contains("\"unchanged\":true"),
        "{}",
        again.stdout
    );
    with_stdin(&server, d, &args, b"other").fails(6, &["s3://artifacts/pipe/1/f", "--overwrite"]);
    assert_eq!(server.object("pipe/1/f").unwrap(), b"first");
    let mut overwrite = args.to_vec();
    overwrite.insert(1, "--overwrite");
    with_stdin(&server, d, &overwrite, b"other").ok();
    assert_eq!(server.object("pipe/1/f").unwrap(), b"other");
}

#[test]
fn stdin_usage_errors() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a"), b"a").unwrap();
    with_stdin(
        &server,
        d,
        &["upload", "--suite", "p", "--release", "1", "-"],
        b"x",
    )
    .fails(2, &["--filename"]);
    with_stdin(
        &server,
        d,
        &["upload", "--suite", "p", "--release", "1", "a", "-"],
        b"x",
    )
    .fails(2, &["stdin"]);
    assert!(server.object("p/1/a").is_none());
}

#[test]
fn sigint_during_a_stdin_upload_aborts_it() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut child = server
        .cmd(d)
        .args([
            "upload",
            "--suite",
            "pipe",
            "--release",
            "1",
            "--filename",
            "f",
            "--part-size",
            "5MiB",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // More than a part, and the pipe stays open: the upload is under way, not finished.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&data(6 * MIB, 1)).unwrap();
    stdin.flush().unwrap();
    wait_for("the first part", || {
        server.faults().count(Op::UploadPart) >= 1
    });
    assert_eq!(server.open_uploads(), 1);
    signal(child.id(), "-INT");
    let out = Run::from(child.wait_with_output().unwrap());
    drop(stdin);
    out.fails(130, &["interrupted by SIGINT"]);
    assert_eq!(server.open_uploads(), 0);
    assert!(server.object("pipe/1/f").is_none());
}

/// `download -o -` of `name`: the bytes on stdout.
fn to_stdout(
    server: &Server,
    dir: &std::path::Path,
    name: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "download",
        "--suite",
        "pipe",
        "--release",
        "1",
        "--filename",
        name,
        "-o",
        "-",
    ];
    args.extend_from_slice(extra);
    server.cmd(dir).args(&args).output().unwrap()
}

#[test]
fn stdout_download_small_and_multipart() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, len) in [("empty", 0), ("small", 1000), ("big", 12 * MIB + 5)] {
        let bytes = data(len, 40 + len as u64);
        server.put(d, "pipe", "1", name, &bytes, &[]);
        let out = to_stdout(
            &server,
            d,
            name,
            &["--part-size", "5MiB", "--concurrency", "2"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == bytes, "{name}: stdout differs");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("downloading s3://artifacts/pipe/1/")
        );
    }
    // No temporary file was made: nothing is written locally.
    common::no_temp_files(d);
}

#[test]
fn stdout_download_reports_corruption_after_the_fact() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "pipe", "1", "f", &data(100_000, 3), &[]);
    server
        .faults()
        .inject(Op::GetObject, 1, Fault::FlipByte(500));
    let out = Run::from(to_stdout(&server, d, "f", &[]));
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("written to stdout are not the stored object"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("discard"), "{}", out.stderr);
}

#[test]
fn stdout_download_refuses_json() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "pipe", "1", "f", b"x", &[]);
    Run::from(to_stdout(&server, d, "f", &["--json"])).fails(2, &["--json", "-o -"]);
}

#[test]
fn a_reader_that_closes_stdout_early_stops_the_download_with_exit_1() {
    use std::io::Read;
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "pipe", "1", "big", &data(12 * MIB, 8), &[]);
    let mut child = server.spawn(
        d,
        &[
            "download",
            "--suite",
            "pipe",
            "--release",
            "1",
            "--filename",
            "big",
            "--part-size",
            "5MiB",
            "-o",
            "-",
        ],
    );
    // Read a little, as `head -c` would, then close the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = vec![0u8; 4096];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(first, data(12 * MIB, 8)[..4096]);
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("s3blob: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("stdout was closed by its reader"),
        "{}",
        errors[0]
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn stdin_upload_refuses_a_terminal() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // `script` gives the command a pseudo-terminal as stdin and copies its output.
    let line = format!(
        "{} upload --suite p --release 1 --filename f -",
        env!("CARGO_BIN_EXE_s3blob")
    );
    let out = Run::from(
        server
            .command("script", d)
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 2, "{} {}", out.stdout, out.stderr);
    let errors: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("s3blob: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", out.stdout);
    assert!(errors[0].contains("stdin is a terminal"), "{}", errors[0]);
    assert!(server.object("p/1/f").is_none());
}

#[test]
fn a_stream_keeps_at_most_four_parts_in_flight() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gate = server.faults().hold(Op::UploadPart, 100);
    let mut child = server
        .cmd(d)
        .args([
            "upload",
            "--suite",
            "pipe",
            "--release",
            "1",
            "--filename",
            "f",
            "--part-size",
            "5MiB",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = data(8 * 5 * MIB + 1, 4);
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    server.faults().take_max_in_flight();
    wait_for("four parts, held", || {
        server.faults().count(Op::UploadPart) >= 4
    });
    // Four are in flight at once (held); a fifth must wait for one of them, however long they
    // take: the server never sees more than four at once, from here to the end.
    gate.release();
    let out = Run::from(child.wait_with_output().unwrap());
    writer.join().unwrap();
    out.ok();
    assert_eq!(server.faults().take_max_in_flight(), 4);
    assert_eq!(server.faults().count(Op::UploadPart), 9);
    assert!(server.object("pipe/1/f").unwrap() == bytes);
}
