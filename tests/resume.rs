//! Resuming an interrupted upload across runs, through the real binary against the test
//! server over HTTP: what a second run sends (the server's request counts), what it keeps, and
//! the bytes that land. Every interruption is placed with gates: the first parts pass, the
//! rest are held at the server, and the process is stopped while they wait.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const KEY: &str = "s/1/big.bin";
/// 13 parts of 5 MiB, the last one short.
const SIZE: usize = 12 * 5 * MIB + 4321;
const PARTS: usize = 13;
/// Parts stored before the interruption.
const STORED: usize = 4;

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "upload",
        "--suite",
        "s",
        "--release",
        "1",
        "--part-size",
        "5MiB",
    ];
    a.extend_from_slice(extra);
    a.push("big.bin");
    a
}

/// The data parts s3s-fs holds for unfinished uploads (not s3blob's descriptor part).
fn stored_parts(server: &Server) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(server.root.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(".upload_id-") && !name.ends_with(".part-10000")
        })
        .collect()
}

/// Starts `args` in `d`, lets [`STORED`] parts through and holds the rest, and once they are
/// stored and more are held, stops the process with `sig`; returns what it printed. The
/// server's faults are cleared afterwards (the held requests of the dead process stay held).
fn interrupted(server: &Server, d: &Path, args: &[&str], sig: &str) -> Run {
    let f = server.faults();
    // Counted from here: earlier runs may have left parts and sent requests.
    let (stored, sent) = (stored_parts(server).len(), f.count(Op::UploadPart));
    f.inject(Op::UploadPart, STORED, Fault::Delay(Duration::ZERO));
    let _held = f.hold(Op::UploadPart, usize::MAX);
    let child = server.spawn(d, args);
    wait_for("some parts stored and more held", || {
        stored_parts(server).len() == stored + STORED && f.count(Op::UploadPart) > sent + STORED
    });
    signal(child.id(), sig);
    let out = Run::from(child.wait_with_output().unwrap());
    f.clear();
    out
}

/// UploadPart requests the server receives while `f` runs.
fn parts_sent(server: &Server, f: impl FnOnce() -> Run) -> (usize, Run) {
    let before = server.faults().count(Op::UploadPart);
    let run = f();
    (server.faults().count(Op::UploadPart) - before, run)
}

#[test]
fn a_killed_upload_is_resumed_sending_only_the_missing_parts() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(SIZE, 30);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();
    interrupted(&server, d, &args(&[]), "-KILL");
    assert_eq!(server.open_uploads(), 1, "kill -9 leaves the upload");
    assert!(server.object(KEY).is_none());

    let (sent, run) = parts_sent(&server, || server.run(d, &args(&[])));
    assert_eq!(run.ok(), format!("s3://{BUCKET}/{KEY}"));
    assert_eq!(
        sent,
        PARTS - STORED,
        "only the missing parts: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "resuming the interrupted upload of s3://{BUCKET}/{KEY}"
        )) && run.stderr.contains(&format!("{STORED} of {PARTS} parts")),
        "{}",
        run.stderr
    );
    assert!(server.object(KEY).unwrap() == bytes);
    assert_eq!(server.open_uploads(), 0);
    // And the object reads back as s3blob's: its recorded checksum matches.
    server
        .run(
            d,
            &[
                "download",
                "--suite",
                "s",
                "--release",
                "1",
                "--filename",
                "big.bin",
                "-o",
                "back",
            ],
        )
        .ok();
    assert!(std::fs::read(d.join("back")).unwrap() == bytes);
}

#[test]
fn sigint_keeps_the_upload_only_with_resumable() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(SIZE, 31);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();

    // Without --resumable: aborted, as always.
    let out = interrupted(&server, d, &args(&[]), "-INT");
    out.fails(130, &["interrupted by SIGINT; nothing was left behind"]);
    assert_eq!(server.open_uploads(), 0);

    // With it: kept, said so, and the same command finishes it (flag or not).
    let out = interrupted(&server, d, &args(&["--resumable"]), "-INT");
    assert_eq!(out.code, 130, "{}", out.stderr);
    let kept = format!(
        "kept s3://{BUCKET}/{KEY} upload for resuming: run the same command again, or s3blob uploads abort --suite s --release 1 --yes"
    );
    assert!(out.stderr.contains(&kept), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("interrupted by SIGINT; the upload kept for resuming is named above"),
        "{}",
        out.stderr
    );
    assert_eq!(server.open_uploads(), 1);
    let (sent, run) = parts_sent(&server, || server.run(d, &args(&[])));
    run.ok();
    assert_eq!(sent, PARTS - STORED, "{}", run.stderr);
    assert!(server.object(KEY).unwrap() == bytes);
    assert_eq!(server.open_uploads(), 0);
}

#[test]
fn sigterm_and_the_variable_keep_it_too() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(SIZE, 32);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();
    let f = server.faults();
    f.inject(Op::UploadPart, STORED, Fault::Delay(Duration::ZERO));
    let _held = f.hold(Op::UploadPart, usize::MAX);
    let child = background(server.cmd(d).env("S3BLOB_RESUMABLE", "1").args(args(&[])));
    wait_for("some parts stored and more held", || {
        stored_parts(&server).len() == STORED && f.count(Op::UploadPart) > STORED
    });
    signal(child.id(), "-TERM");
    let out = Run::from(child.wait_with_output().unwrap());
    f.clear();
    assert_eq!(out.code, 143, "{}", out.stderr);
    assert!(out.stderr.contains("kept s3://"), "{}", out.stderr);
    let (sent, run) = parts_sent(&server, || server.run(d, &args(&[])));
    run.ok();
    assert_eq!(sent, PARTS - STORED);
    assert!(server.object(KEY).unwrap() == bytes);
}

#[test]
fn a_stored_part_corrupted_on_the_server_is_sent_again() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(SIZE, 33);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();
    interrupted(&server, d, &args(&[]), "-KILL");
    let parts = stored_parts(&server);
    assert_eq!(parts.len(), STORED);
    let mut corrupt = std::fs::read(&parts[0]).unwrap();
    corrupt[1000] ^= 0x20;
    std::fs::write(&parts[0], corrupt).unwrap();

    let (sent, run) = parts_sent(&server, || server.run(d, &args(&[])));
    run.ok();
    assert_eq!(sent, PARTS - STORED + 1, "{}", run.stderr);
    assert!(server.object(KEY).unwrap() == bytes);
    assert_eq!(server.open_uploads(), 0);
}

#[test]
fn a_file_changed_between_runs_is_never_mixed_in() {
    type Change = fn(&mut Vec<u8>);
    let changes: [(&str, Change); 3] = [
        ("one byte of a stored part", |b| b[5 * MIB + 7] ^= 1),
        ("appended", |b| b.extend_from_slice(b"more bytes")),
        ("truncated", |b| b.truncate(SIZE - 4321 - MIB)),
    ];
    for (what, change) in changes {
        let server = Server::start_faulty();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut bytes = data(SIZE, 34);
        std::fs::write(d.join("big.bin"), &bytes).unwrap();
        interrupted(&server, d, &args(&[]), "-KILL");
        assert_eq!(server.open_uploads(), 1);
        change(&mut bytes);
        std::fs::write(d.join("big.bin"), &bytes).unwrap();
        let parts = bytes.len().div_ceil(5 * MIB);

        let (sent, run) = parts_sent(&server, || server.run(d, &args(&[])));
        run.ok();
        assert_eq!(
            sent, parts,
            "{what}: every part sent afresh: {}",
            run.stderr
        );
        assert!(server.object(KEY).unwrap() == bytes, "{what}");
        assert!(
            run.stderr.contains("that s3blob started for other bytes")
                && run
                    .stderr
                    .contains("remove it with `s3blob uploads abort --suite s --release 1 --yes`"),
            "{what}: {}",
            run.stderr
        );
        // The old upload is left alone (it could be another run still sending), and named.
        assert_eq!(server.open_uploads(), 1, "{what}");
        // Removing it as the line says leaves nothing.
        server
            .run(
                d,
                &[
                    "uploads",
                    "abort",
                    "--suite",
                    "s",
                    "--release",
                    "1",
                    "--yes",
                ],
            )
            .ok();
        assert_eq!(server.open_uploads(), 0, "{what}");
    }
}

/// Two runs resume the same upload, and the second completes it while the first's parts are
/// on their way: the first run's missing parts are held at the server until the second run has
/// finished, then fail (S3 answers NoSuchUpload; the test server, AccessDenied). The first run finds the key holding exactly its bytes and
/// succeeds too (the unfinished uploads are looked up while the file is checksummed, so this
/// window is as long as that pass).
#[test]
fn a_run_whose_adopted_upload_another_run_completed_succeeds() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(SIZE, 44);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();
    interrupted(&server, d, &args(&[]), "-KILL");
    let f = server.faults();
    let sent = f.count(Op::UploadPart);
    let gate = f.hold(Op::UploadPart, PARTS - STORED);
    let first = server.spawn(d, &args(&[]));
    wait_for("the first run's missing parts held", || {
        f.count(Op::UploadPart) == sent + PARTS - STORED
    });
    let second = server.run(d, &args(&[]));
    assert_eq!(second.ok(), format!("s3://{BUCKET}/{KEY}"));
    assert!(
        second.stderr.contains("resuming the interrupted upload"),
        "{}",
        second.stderr
    );
    gate.release();
    let first = Run::from(first.wait_with_output().unwrap());
    assert_eq!(first.ok(), format!("s3://{BUCKET}/{KEY}"));
    assert!(
        first.stderr.contains("resuming the interrupted upload")
            && first
                .stderr
                .contains("another run finished the upload this one was resuming"),
        "{}",
        first.stderr
    );
    assert!(server.object(KEY).unwrap() == bytes);
    assert_eq!(server.open_uploads(), 0);
}

/// Four leftovers of one key: the first run's, then three of other bytes (the file changed
/// each time). Back to the first bytes, the run adopts the oldest, whose parts are listed last
/// (after the newest few, listed while the file is checksummed), and sends only what it lacks.
#[test]
fn the_oldest_of_several_leftovers_is_found() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let first = data(SIZE, 35);
    std::fs::write(d.join("big.bin"), &first).unwrap();
    interrupted(&server, d, &args(&[]), "-KILL");
    for seed in 36..39 {
        std::fs::write(d.join("big.bin"), data(SIZE, seed)).unwrap();
        interrupted(&server, d, &args(&[]), "-KILL");
    }
    assert_eq!(server.open_uploads(), 4);
    std::fs::write(d.join("big.bin"), &first).unwrap();

    let (sent, run) = parts_sent(&server, || server.run(d, &args(&[])));
    assert_eq!(run.ok(), format!("s3://{BUCKET}/{KEY}"));
    assert_eq!(sent, PARTS - STORED, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("{STORED} of {PARTS} parts")),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr
            .matches("that s3blob started for other bytes")
            .count(),
        3,
        "one line for each of the newer leftovers: {}",
        run.stderr
    );
    assert!(server.object(KEY).unwrap() == first);
    assert_eq!(server.open_uploads(), 3, "the others are left alone");
}

/// Runs curl signed with the test key against the server; returns stdout.
fn curl(server: &Server, extra: &[&str], url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
        ])
        .arg(format!("{ACCESS_KEY}:{SECRET_KEY}"))
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
        .args(extra)
        .arg(format!("{}/{BUCKET}/{url}", server.endpoint))
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn another_tools_leftover_upload_is_left_alone() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(SIZE, 35);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();
    // Another client started an upload of the same key, with the file's own first part even.
    let id = foreign_upload(&server, KEY);
    std::fs::write(d.join("part1"), &bytes[..5 * MIB]).unwrap();
    curl(
        &server,
        &["-T", d.join("part1").to_str().unwrap()],
        &format!("{KEY}?partNumber=1&uploadId={id}"),
    );

    let (sent, run) = parts_sent(&server, || server.run(d, &args(&[])));
    run.ok();
    assert_eq!(sent, PARTS, "nothing of another upload is taken");
    assert!(
        run.stderr.contains(&format!(
            "s3://{BUCKET}/{KEY} has an unfinished upload (id {id}"
        )) && run.stderr.contains("left alone")
            && run
                .stderr
                .contains("s3blob uploads abort --suite s --release 1 --yes"),
        "{}",
        run.stderr
    );
    assert!(server.object(KEY).unwrap() == bytes);
    // Still there, for its owner to finish or remove.
    assert_eq!(server.open_uploads(), 1);
    let listed = curl(&server, &[], &format!("{KEY}?uploadId={id}"));
    assert!(listed.contains("<PartNumber>1</PartNumber>"), "{listed}");
}

#[test]
fn parts_listed_over_several_pages_are_all_checked() {
    let server = Server::start_faulty();
    server
        .faults()
        .personality
        .page_limit
        .store(2, std::sync::atomic::Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(SIZE, 36);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();
    interrupted(&server, d, &args(&[]), "-KILL");
    let (sent, run) = parts_sent(&server, || server.run(d, &args(&[])));
    run.ok();
    assert_eq!(sent, PARTS - STORED, "{}", run.stderr);
    assert!(server.object(KEY).unwrap() == bytes);
    // Three pages of parts: 1-2, 3-4, then the descriptor.
    assert_eq!(server.faults().count(Op::ListParts), 3);
}

#[test]
fn stdin_is_never_resumable() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut child = server
        .cmd(d)
        .args([
            "upload",
            "--suite",
            "s",
            "--release",
            "1",
            "--filename",
            "f",
            "--resumable",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"small").unwrap();
    }
    let run = Run::from(child.wait_with_output().unwrap());
    run.ok();
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("stdin is never resumable"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
}

/// Starts an upload of `key` with curl (another client), with no parts; returns its id.
fn foreign_upload(server: &Server, key: &str) -> String {
    let created = curl(server, &["-X", "POST"], &format!("{key}?uploads="));
    created
        .split("<UploadId>")
        .nth(1)
        .and_then(|r| r.split("</UploadId>").next())
        .unwrap_or_else(|| panic!("no upload id in {created}"))
        .to_owned()
}

#[test]
fn uploads_are_listed_and_aborted_by_prefix_and_age() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("big.bin"), data(SIZE, 37)).unwrap();
    interrupted(&server, d, &args(&["--resumable"]), "-INT");
    let old = foreign_upload(&server, "s/2/other.bin");
    let elsewhere = foreign_upload(&server, "t/1/x.bin");
    // The store says the second one started two days ago.
    let info = server.root.path().join(format!(".upload-{old}.json"));
    let touched = std::process::Command::new("touch")
        .args(["-d", "2 days ago"])
        .arg(&info)
        .status()
        .unwrap();
    assert!(touched.success());
    assert_eq!(server.open_uploads(), 3);

    let keys = |run: &Run| -> Vec<String> {
        run.ok()
            .lines()
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect()
    };
    let all = server.run(d, &["uploads", "list"]);
    assert_eq!(
        keys(&all),
        [
            "s3://artifacts/s/1/big.bin",
            "s3://artifacts/s/2/other.bin",
            "s3://artifacts/t/1/x.bin"
        ]
    );
    assert!(all.ok().contains(&old), "{}", all.ok());
    let suite = server.run(d, &["uploads", "list", "--suite", "s"]);
    assert_eq!(keys(&suite).len(), 2);
    let release = server.run(d, &["uploads", "list", "--suite", "s", "--release", "2"]);
    assert_eq!(keys(&release), ["s3://artifacts/s/2/other.bin"]);
    let aged = server.run(d, &["uploads", "list", "--older-than", "1d", "--json"]);
    let v = aged.json();
    let listed = v["uploads"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{v}");
    assert_eq!(listed[0]["key"], "s/2/other.bin");
    assert_eq!(listed[0]["upload_id"], old.as_str());
    assert!(
        listed[0]["age_seconds"].as_u64().unwrap() >= 2 * 86_400 - 60,
        "{v}"
    );
    assert!(
        listed[0]["initiated"].as_str().unwrap().ends_with('Z'),
        "{v}"
    );

    // Never prompts: --yes or --dry-run.
    server
        .run(d, &["uploads", "abort", "--suite", "s"])
        .usage_error(&["--dry-run", "--yes"]);
    let dry = server.run(d, &["uploads", "abort", "--older-than", "1d", "--dry-run"]);
    assert_eq!(
        dry.ok(),
        format!(
            "would abort {}",
            server
                .run(d, &["uploads", "list", "--older-than", "1d"])
                .ok()
        )
    );
    assert_eq!(server.open_uploads(), 3, "a dry run aborts nothing");

    let before = server.faults().count(Op::AbortMultipartUpload);
    let done = server.run(d, &["uploads", "abort", "--suite", "s", "--yes"]);
    let lines: Vec<&str> = done.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{}", done.stdout);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("aborted s3://artifacts/s/"))
    );
    assert_eq!(server.faults().count(Op::AbortMultipartUpload) - before, 2);
    assert_eq!(server.open_uploads(), 1);
    assert_eq!(
        keys(&server.run(d, &["uploads", "list"])),
        ["s3://artifacts/t/1/x.bin"]
    );
    assert!(
        server
            .run(d, &["uploads", "list"])
            .ok()
            .contains(&elsewhere)
    );
}

#[test]
fn a_store_without_listmultipartuploads() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.faults().inject(
        Op::ListMultipartUploads,
        usize::MAX,
        Fault::Error {
            status: 501,
            code: "NotImplemented",
        },
    );
    server.run(d, &["uploads", "list"]).fails(
        1,
        &["does not implement ListMultipartUploads", "lifecycle rule"],
    );
    // Uploading still works; resuming is said to be off.
    let bytes = data(SIZE, 38);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();
    let run = server.run(d, &args(&["--resumable"]));
    run.ok();
    assert!(
        run.stderr.contains("this upload cannot be resumed"),
        "{}",
        run.stderr
    );
    assert!(server.object(KEY).unwrap() == bytes);
}

/// `uploads abort` aborts an upload that is still running: its parts are held at the server
/// while the abort runs, and once they go on, the upload fails (it cannot complete an upload
/// that is gone) and nothing is stored.
#[test]
fn uploads_abort_fails_an_upload_still_running() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("big.bin"), data(SIZE, 41)).unwrap();
    let f = server.faults();
    let parts = f.hold(Op::UploadPart, PARTS);
    let upload = server.spawn(d, &args(&[]));
    wait_for("a part held", || f.count(Op::UploadPart) >= 1);
    let abort = server.run(d, &["uploads", "abort", "--suite", "s", "--yes"]);
    assert!(
        abort.ok().contains("s3://artifacts/s/1/big.bin"),
        "{}",
        abort.stdout
    );
    assert_eq!(server.open_uploads(), 0);
    parts.release();
    let out = Run::from(upload.wait_with_output().unwrap());
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("s3://artifacts/s/1/big.bin"),
        "{}",
        out.stderr
    );
    assert!(server.object(KEY).is_none());
    assert_eq!(server.open_uploads(), 0);
}

/// Two runs at once of the same upload both adopt the unfinished upload an earlier run left:
/// their completions are held until both have arrived (so each has adopted it and sent the
/// missing parts), then let go together. One completes it; the other finds the key holding
/// exactly its bytes. Both exit 0, the object is whole, no upload is left and none was started.
#[test]
fn two_runs_at_once_adopt_the_same_upload_and_both_succeed() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(SIZE, 43);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();
    interrupted(&server, d, &args(&[]), "-KILL");
    assert_eq!(server.open_uploads(), 1);
    let f = server.faults();
    let creates = f.count(Op::CreateMultipartUpload);
    let completes = f.count(Op::CompleteMultipartUpload);
    let gate = f.hold(Op::CompleteMultipartUpload, 2);
    let (a, b) = (server.spawn(d, &args(&[])), server.spawn(d, &args(&[])));
    wait_for("both completions", || {
        f.count(Op::CompleteMultipartUpload) >= completes + 2
    });
    assert_eq!(
        f.count(Op::CreateMultipartUpload),
        creates,
        "both adopted the upload left, neither started one"
    );
    gate.release();
    for run in [a, b].map(|c| Run::from(c.wait_with_output().unwrap())) {
        assert_eq!(run.ok(), format!("s3://{BUCKET}/{KEY}"));
        assert!(
            run.stderr.contains("resuming the interrupted upload"),
            "{}",
            run.stderr
        );
    }
    assert!(server.object(KEY).unwrap() == bytes);
    assert_eq!(server.open_uploads(), 0);
}
