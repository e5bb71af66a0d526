//! Upload and download round trips through the real binary and a real S3 server, checking the
//! bytes stored in the bucket and the bytes written back.

mod common;

use common::{MIB, Op, Server, data};

/// Uploads `len` bytes, checks what the server stored, downloads them and compares.
fn round_trip(server: &Server, len: usize, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("file-{len}.bin");
    let bytes = data(len, len as u64);
    std::fs::write(dir.path().join(&name), &bytes).unwrap();

    let mut args = vec!["upload", "--suite", "rt", "--release", "1.0.0", &name];
    args.extend_from_slice(extra);
    let out = server.run(dir.path(), &args);
    let key = format!("rt/1.0.0/{name}");
    assert_eq!(out.ok(), format!("s3://artifacts/{key}"));
    assert!(
        server.object(&key).unwrap() == bytes,
        "stored bytes differ ({len})"
    );

    let mut args = vec![
        "download",
        "--suite",
        "rt",
        "--release",
        "1.0.0",
        "--filename",
        &name,
        "-o",
        "back.bin",
    ];
    args.extend_from_slice(extra);
    let out = server.run(dir.path(), &args);
    assert_eq!(out.ok(), "back.bin");
    assert!(
        std::fs::read(dir.path().join("back.bin")).unwrap() == bytes,
        "downloaded bytes differ ({len})"
    );
    assert_eq!(server.open_uploads(), 0);
    common::no_temp_files(dir.path());
}

#[test]
fn empty_file() {
    round_trip(&Server::start(), 0, &[]);
}

#[test]
fn one_byte() {
    round_trip(&Server::start(), 1, &[]);
}

#[test]
fn exactly_the_threshold_is_one_put() {
    // 5 MiB with --part-size 5MiB: the largest single PUT.
    let server = Server::start_faulty();
    round_trip(&server, 5 * MIB, &["--part-size", "5MiB"]);
    let f = server.faults();
    assert_eq!(f.count(Op::PutObject), 1);
    assert_eq!(f.count(Op::CreateMultipartUpload), 0);
    assert_eq!(f.count(Op::UploadPart), 0);
    // One byte more is multipart.
    round_trip(&server, 5 * MIB + 1, &["--part-size", "5MiB"]);
    assert_eq!(f.count(Op::PutObject), 1);
    assert_eq!(f.count(Op::CreateMultipartUpload), 1);
    assert_eq!(f.count(Op::UploadPart), 2);
}

#[test]
fn multipart_with_short_last_part() {
    // 3 parts of 5 MiB, the last one 12,345 bytes; 2 in flight at a time: the first two parts
    // are held at the server until both have arrived.
    let server = Server::start_faulty();
    let f = server.faults();
    let gate = f.hold(Op::UploadPart, 2);
    std::thread::scope(|s| {
        let both = s.spawn(|| {
            let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                common::wait_for("two parts at once", || f.count(Op::UploadPart) >= 2)
            }));
            // Let the upload go on either way, so a failure ends the test instead of hanging it.
            gate.release();
            seen
        });
        round_trip(
            &server,
            2 * 5 * MIB + 12_345,
            &["--part-size", "5MiB", "--concurrency", "2"],
        );
        assert!(
            both.join().unwrap().is_ok(),
            "two parts never in flight at once"
        );
    });
    assert_eq!(f.take_max_in_flight(), 2, "--concurrency 2");
    let mut parts: Vec<(String, usize)> = f
        .requests()
        .iter()
        .filter(|r| r.op == Op::UploadPart)
        .map(|r| {
            let number = r
                .query
                .split('&')
                .find_map(|kv| kv.strip_prefix("partNumber="))
                .unwrap()
                .to_owned();
            let len = r.header("content-length").unwrap().parse().unwrap();
            (number, len)
        })
        .collect();
    parts.sort();
    assert_eq!(
        parts,
        [
            ("1".to_owned(), 5 * MIB),
            ("2".to_owned(), 5 * MIB),
            ("3".to_owned(), 12_345)
        ]
    );
    assert_eq!(f.count(Op::CreateMultipartUpload), 1);
    assert_eq!(f.count(Op::CompleteMultipartUpload), 1);
    // The download: three ranges of 5 MiB.
    let ranges: Vec<String> = f
        .requests()
        .iter()
        .filter(|r| r.op == Op::GetObject)
        .filter_map(|r| r.header("range"))
        .collect();
    assert_eq!(ranges.len(), 3, "{ranges:?}");
}

#[test]
fn multipart_default_settings() {
    round_trip(&Server::start(), 20 * MIB + 1, &[]);
}

#[test]
fn json_output() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let bytes = data(6 * MIB, 7);
    std::fs::write(dir.path().join("a.bin"), &bytes).unwrap();
    let out = server.run(
        dir.path(),
        &[
            "upload",
            "--suite",
            "s",
            "--release",
            "r",
            "a.bin",
            "--json",
            "--part-size",
            "5MiB",
        ],
    );
    let up: serde_json::Value = out.file_json();
    assert_eq!(up["uri"], "s3://artifacts/s/r/a.bin");
    assert_eq!(up["key"], "s/r/a.bin");
    assert_eq!(up["bucket"], "artifacts");
    assert_eq!(up["size"], 6 * MIB);
    assert_eq!(up["parts"], 2);
    assert_eq!(up["checksum"]["algorithm"], "CRC64NVME");
    let seconds = up["seconds"].as_f64().unwrap();
    assert!(seconds > 0.0 && seconds < 60.0, "{seconds}");

    // out/ does not exist yet: it is made.
    let out = server.run(
        dir.path(),
        &[
            "download",
            "--suite",
            "s",
            "--release",
            "r",
            "--filename",
            "a.bin",
            "-o",
            "out/",
            "--json",
        ],
    );
    let down: serde_json::Value = out.file_json();
    assert_eq!(down["path"], "out/a.bin");
    assert_eq!(down["size"], 6 * MIB);
    assert_eq!(down["checksum"], up["checksum"]);
    assert_eq!(down["verified"], "checksum");
    assert!(std::fs::read(dir.path().join("out/a.bin")).unwrap() == bytes);
}

#[test]
fn stdout_is_only_the_result_and_quiet_silences_stderr() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("q.txt"), b"hello").unwrap();
    let out = server.run(
        dir.path(),
        &["upload", "--suite", "s", "--release", "r", "q.txt"],
    );
    assert_eq!(out.stdout, "s3://artifacts/s/r/q.txt\n");
    assert!(out.stderr.contains("uploaded"), "{}", out.stderr);
    let out = server.run(
        dir.path(),
        &[
            "-q",
            "download",
            "--suite",
            "s",
            "--release",
            "r",
            "--filename",
            "q.txt",
        ],
    );
    assert_eq!(out.stdout, "q.txt\n");
    assert_eq!(out.stderr, "");
    assert_eq!(std::fs::read(dir.path().join("q.txt")).unwrap(), b"hello");
    // A batch upload, quiet: nothing at all on stderr either.
    std::fs::write(dir.path().join("q2.txt"), b"again").unwrap();
    let out = server.run(
        dir.path(),
        &[
            "-q",
            "upload",
            "--suite",
            "s",
            "--release",
            "r2",
            "q.txt",
            "q2.txt",
        ],
    );
    assert_eq!(
        out.stdout,
        "s3://artifacts/s/r2/q.txt\ns3://artifacts/s/r2/q2.txt\n"
    );
    assert_eq!(out.stderr, "");
    // Quiet keeps the errors: one line, and nothing else.
    let missing = server.run(
        dir.path(),
        &[
            "-q",
            "download",
            "--suite",
            "s",
            "--release",
            "r",
            "--filename",
            "missing.txt",
        ],
    );
    missing.fails(3, &["s3://artifacts/s/r/missing.txt"]);
    assert_eq!(missing.stderr.lines().count(), 1, "{}", missing.stderr);
    // A quiet batch names its failures too.
    let batch = server.run(
        dir.path(),
        &[
            "-q",
            "upload",
            "--suite",
            "s",
            "--release",
            "r3",
            "q.txt",
            "gone.txt",
        ],
    );
    // Every path is checked before the first request: one error line, nothing uploaded.
    assert_eq!(batch.code, 3, "{}", batch.stderr);
    assert_eq!(batch.stdout, "");
    let lines: Vec<&str> = batch.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("s3blob: error: ") && lines[0].contains("gone.txt"));
}
