//! `promote`: a release copied on the server (no artifact byte through the client), checked
//! there and sealed with its origin; create-only at the destination; multipart copies for
//! large objects; nothing sealed and no upload left open when it fails. Every scenario runs
//! against each bundled backend (s3s-fs and the in-memory one the demo starts); a store without
//! server-side copies is one clear line, not a network error.

mod common;

use std::path::Path;

use common::{Fault, MIB, Op, Run, Server, data};
use serde_json::Value;

fn seal(server: &Server, dir: &Path, suite: &str, release: &str, files: &[(&str, Vec<u8>)]) {
    for (f, bytes) in files {
        std::fs::write(dir.join(f), bytes).unwrap();
    }
    let mut args = vec![
        "upload",
        "--seal",
        "--suite",
        suite,
        "--release",
        release,
        "--part-size",
        "5MiB",
        "--metadata",
        "commit=3f2a9c1",
        "--cache-control",
        "max-age=60",
    ];
    args.extend(files.iter().map(|(f, _)| *f));
    server.run(dir, &args).ok();
}

/// Runs `test` against each bundled backend: s3s-fs and the in-memory one.
fn on_every_backend(test: impl Fn(&Server)) {
    type Start = fn() -> Server;
    let backends: [(&str, Start); 2] = [
        ("s3s-fs", Server::start_faulty),
        ("memory", Server::start_memory),
    ];
    for (name, start) in backends {
        // Shown with the failure, if there is one.
        eprintln!("backend: {name}");
        test(&start());
    }
}

fn promote(server: &Server, dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["promote"];
    all.extend_from_slice(args);
    server.run(dir, &all)
}

#[test]
fn a_sealed_release_is_copied_on_the_server_checked_and_sealed_with_its_origin() {
    on_every_backend(copied_checked_and_sealed);
}

fn copied_checked_and_sealed(server: &Server) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [("a.tar.gz", data(70_000, 1)), ("b.txt", b"bee".to_vec())];
    seal(server, d, "staging", "1.0", &files);

    let before = server.faults().requests().len();
    let out = promote(
        server,
        d,
        &[
            "--suite",
            "staging",
            "--release",
            "1.0",
            "--to-suite",
            "stable",
        ],
    );
    assert_eq!(out.ok(), "s3://artifacts/stable/1.0/");
    for (f, bytes) in &files {
        assert_eq!(
            server.object(&format!("stable/1.0/{f}")).as_ref(),
            Some(bytes),
            "{f}"
        );
    }
    // No artifact byte came through the client: every write was a server-side copy, and
    // nothing read an artifact's body.
    let during = &server.faults().requests()[before..];
    for r in during {
        match r.op {
            Op::PutObject | Op::GetObject | Op::UploadPart => panic!("{r:?}"),
            _ => {}
        }
    }
    let copies = during.iter().filter(|r| r.op == Op::CopyObject).count();
    assert_eq!(copies, files.len());
    // Metadata and attributes came along; the copy is sealed and says where it came from.
    let stat = server.run(
        d,
        &[
            "stat",
            "--suite",
            "stable",
            "--release",
            "1.0",
            "--filename",
            "a.tar.gz",
            "--json",
        ],
    );
    let v: Value = stat.json();
    assert_eq!(v["metadata"]["commit"], "3f2a9c1", "{v:#}");
    assert_eq!(v["cache_control"], "max-age=60", "{v:#}");
    assert_eq!(v["content_type"], "application/gzip", "{v:#}");
    let manifest =
        String::from_utf8(server.object("stable/1.0/.s3blob-manifest.json").unwrap()).unwrap();
    assert!(manifest.contains("\"promoted_from\""), "{manifest}");
    assert!(manifest.contains("\"staging\""), "{manifest}");
    server
        .run(
            d,
            &["verify", "--suite", "stable", "--release", "1.0", "--deep"],
        )
        .ok();

    // Again: nothing to copy, success.
    let again = promote(
        server,
        d,
        &[
            "--suite",
            "staging",
            "--release",
            "1.0",
            "--to-suite",
            "stable",
            "--json",
        ],
    );
    let v: Value = again.json();
    assert_eq!(v["unchanged"], true, "{v:#}");
    assert!(
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["unchanged"] == true)
    );
}

#[test]
fn different_content_at_the_destination_is_exit_6_and_nothing_is_sealed() {
    on_every_backend(different_content_is_exit_6);
}

fn different_content_is_exit_6(server: &Server) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seal(
        server,
        d,
        "staging",
        "2.0",
        &[("a.txt", b"new".to_vec()), ("b.txt", b"b".to_vec())],
    );
    std::fs::create_dir(d.join("old")).unwrap();
    std::fs::write(d.join("old/a.txt"), b"old").unwrap();
    server
        .run(
            d,
            &[
                "upload",
                "--suite",
                "stable",
                "--release",
                "2.0",
                "old/a.txt",
            ],
        )
        .ok();
    promote(
        server,
        d,
        &[
            "--suite",
            "staging",
            "--release",
            "2.0",
            "--to-suite",
            "stable",
        ],
    )
    .fails(
        6,
        &["s3://artifacts/stable/2.0/a.txt", "different", "not sealed"],
    );
    assert_eq!(server.object("stable/2.0/a.txt").unwrap(), b"old");
    assert!(server.object("stable/2.0/.s3blob-manifest.json").is_none());
}

#[test]
fn an_open_release_needs_allow_open() {
    on_every_backend(open_release_needs_allow_open);
}

fn open_release_needs_allow_open(server: &Server) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.txt"), b"a").unwrap();
    server
        .run(
            d,
            &["upload", "--suite", "nightly", "--release", "5", "a.txt"],
        )
        .ok();
    promote(
        server,
        d,
        &[
            "--suite",
            "nightly",
            "--release",
            "5",
            "--to-release",
            "5-kept",
        ],
    )
    .fails(2, &["not sealed", "--allow-open"]);
    assert!(server.object("nightly/5-kept/a.txt").is_none());
    let out = promote(
        server,
        d,
        &[
            "--suite",
            "nightly",
            "--release",
            "5",
            "--to-release",
            "5-kept",
            "--allow-open",
        ],
    );
    assert_eq!(out.ok(), "s3://artifacts/nightly/5-kept/");
    assert_eq!(server.object("nightly/5-kept/a.txt").unwrap(), b"a");
    assert!(
        server
            .object("nightly/5-kept/.s3blob-manifest.json")
            .is_some()
    );
    // Usage errors: no destination, or the release itself.
    promote(server, d, &["--suite", "nightly", "--release", "5"]).fails(2, &["--to-suite"]);
    promote(
        server,
        d,
        &[
            "--suite",
            "nightly",
            "--release",
            "5",
            "--to-suite",
            "nightly",
        ],
    )
    .fails(2, &["the release itself"]);
}

#[test]
fn large_objects_are_copied_in_parts_and_to_another_bucket() {
    on_every_backend(copied_in_parts_and_to_another_bucket);
}

fn copied_in_parts_and_to_another_bucket(server: &Server) {
    server.create_bucket("public");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big = data(12 * MIB + 3, 9);
    seal(
        server,
        d,
        "app",
        "3.0",
        &[("big.bin", big.clone()), ("small.txt", b"s".to_vec())],
    );
    let before = server.faults().requests().len();
    let mut cmd = server.cmd(d);
    cmd.args([
        "promote",
        "--suite",
        "app",
        "--release",
        "3.0",
        "--to-bucket",
        "public",
        "--part-size",
        "5MiB",
        "--json",
    ])
    // Multipart copies above 1 MiB instead of S3's 5 GiB, so a test can have one.
    .env("S3BLOB_TEST_COPY_MULTIPART_ABOVE", (MIB).to_string());
    let out = Run::from(cmd.output().unwrap());
    let v: Value = out.json();
    let parts: Vec<u64> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["parts"].as_u64().unwrap())
        .collect();
    assert_eq!(parts, [3, 1], "{v:#}");
    let stored = server.object_in("public", "app/3.0/big.bin").unwrap();
    assert!(stored == big, "the copied bytes differ");
    let copies = server.faults().requests()[before..]
        .iter()
        .filter(|r| r.op == Op::UploadPartCopy)
        .inspect(|r| assert!(r.header("x-amz-copy-source-range").is_some(), "{r:?}"))
        .count();
    assert_eq!(copies, 3);
    assert!(
        server.faults().requests()[before..]
            .iter()
            .all(|r| r.op != Op::UploadPart),
        "a part with a body"
    );
    assert_eq!(server.open_uploads(), 0);
    assert!(
        server
            .object_in("public", "app/3.0/.s3blob-manifest.json")
            .is_some()
    );
    // A multipart upload starts with no metadata: the source's was set on it, s3blob's
    // CRC64NVME included, and reading every byte back agrees with the manifest.
    let stat = server.run(
        d,
        &[
            "--json",
            "stat",
            "--bucket",
            "public",
            "--suite",
            "app",
            "--release",
            "3.0",
            "--filename",
            "big.bin",
        ],
    );
    let v: Value = stat.json();
    assert_eq!(v["metadata"]["commit"], "3f2a9c1", "{v:#}");
    assert_eq!(v["cache_control"], "max-age=60", "{v:#}");
    assert_eq!(v["checksum"]["source"], "s3blob-metadata", "{v:#}");
    let deep = server.run(
        d,
        &[
            "verify",
            "--bucket",
            "public",
            "--suite",
            "app",
            "--release",
            "3.0",
            "--deep",
        ],
    );
    let lines: Vec<&str> = deep.ok().lines().collect();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("ok ")).count(),
        2,
        "{}",
        deep.stdout
    );
    assert_eq!(
        lines.len(),
        3,
        "two files and the signature: {}",
        deep.stdout
    );
}

#[test]
fn a_failed_part_copy_leaves_no_upload_open_and_nothing_sealed() {
    on_every_backend(failed_part_copy_is_aborted);
}

fn failed_part_copy_is_aborted(server: &Server) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seal(server, d, "app", "4.0", &[("big.bin", data(11 * MIB, 4))]);
    server.faults().inject(
        Op::UploadPartCopy,
        usize::MAX,
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    let mut cmd = server.cmd(d);
    cmd.args([
        "promote",
        "--suite",
        "app",
        "--release",
        "4.0",
        "--to-suite",
        "prod",
        "--part-size",
        "5MiB",
    ])
    .env("S3BLOB_TEST_COPY_MULTIPART_ABOVE", MIB.to_string());
    Run::from(cmd.output().unwrap()).fails(4, &["prod/4.0/big.bin", "not sealed"]);
    assert_eq!(
        server.open_uploads(),
        0,
        "the multipart copy was not aborted"
    );
    assert!(server.object("prod/4.0/big.bin").is_none());
    assert!(server.object("prod/4.0/.s3blob-manifest.json").is_none());
}

#[test]
fn sigint_during_a_multipart_copy_aborts_it_and_seals_nothing() {
    on_every_backend(sigint_aborts_the_multipart_copy);
}

fn sigint_aborts_the_multipart_copy(server: &Server) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seal(server, d, "app", "5.0", &[("big.bin", data(11 * MIB, 5))]);
    let parts_before = server.faults().count(Op::UploadPartCopy);
    let gate = server.faults().hold(Op::UploadPartCopy, usize::MAX);
    let mut cmd = server.cmd(d);
    cmd.args([
        "promote",
        "--suite",
        "app",
        "--release",
        "5.0",
        "--to-suite",
        "prod",
        "--part-size",
        "5MiB",
    ])
    .env("S3BLOB_TEST_COPY_MULTIPART_ABOVE", MIB.to_string());
    let child = common::background(&mut cmd);
    common::wait_for("a part copy held", || {
        server.faults().count(Op::UploadPartCopy) > parts_before
    });
    assert_eq!(server.open_uploads(), 1);
    common::signal(child.id(), "-INT");
    let out = Run::from(child.wait_with_output().unwrap());
    gate.release();
    out.fails(130, &["interrupted by SIGINT"]);
    assert_eq!(
        server.open_uploads(),
        0,
        "the multipart copy was not aborted"
    );
    assert!(server.object("prod/5.0/.s3blob-manifest.json").is_none());
}

#[test]
fn a_release_with_sha256sums_is_promoted_with_them() {
    on_every_backend(promoted_with_sha256sums);
}

fn promoted_with_sha256sums(server: &Server) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.txt"), b"alpha").unwrap();
    std::fs::write(d.join("b.txt"), b"beta").unwrap();
    server
        .run(
            d,
            &[
                "upload",
                "--seal",
                "--sha256sums",
                "--suite",
                "rc",
                "--release",
                "7",
                "a.txt",
                "b.txt",
            ],
        )
        .ok();
    let out = promote(
        server,
        d,
        &["--suite", "rc", "--release", "7", "--to-suite", "final"],
    );
    assert_eq!(out.ok(), "s3://artifacts/final/7/");
    assert_eq!(
        server.object("final/7/SHA256SUMS"),
        server.object("rc/7/SHA256SUMS"),
        "the same SHA256SUMS lines"
    );
    server
        .run(
            d,
            &["verify", "--suite", "final", "--release", "7", "--deep"],
        )
        .ok();
    // Again: unchanged.
    let again = promote(
        server,
        d,
        &[
            "--suite",
            "rc",
            "--release",
            "7",
            "--to-suite",
            "final",
            "--json",
        ],
    );
    let v: Value = again.json();
    assert_eq!(v["unchanged"], true, "{v:#}");
}

#[test]
fn a_store_without_server_side_copies_is_one_line_tried_once_per_file_and_not_a_network_error() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [("a.txt", b"a".to_vec()), ("b.txt", b"b".to_vec())];
    seal(&server, d, "app", "6.0", &files);
    server.faults().inject(
        Op::CopyObject,
        usize::MAX,
        Fault::Error {
            status: 501,
            code: "NotImplemented",
        },
    );
    let before = server.faults().requests().len();
    let run = promote(
        &server,
        d,
        &["--suite", "app", "--release", "6.0", "--to-suite", "prod"],
    );
    run.fails(
        1,
        &[
            "does not implement CopyObject",
            "cannot copy objects on the server",
            "every other command still works",
            "s3blob download --all",
            "s3://artifacts/prod/6.0/ is not sealed",
        ],
    );
    assert!(!run.stderr.contains("retry"), "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("does not implement").count(),
        1,
        "one line, not one per file: {}",
        run.stderr
    );
    // Once per key at most: a 501 is not retried (copies already started may each meet it).
    let mut copied: Vec<String> = server.faults().requests()[before..]
        .iter()
        .filter(|r| r.op == Op::CopyObject)
        .map(|r| r.path.clone())
        .collect();
    let tried = copied.len();
    copied.dedup();
    assert_eq!(copied.len(), tried, "a copy was retried: {copied:?}");
    assert!((1..=files.len()).contains(&tried));
    assert!(server.object("prod/6.0/.s3blob-manifest.json").is_none());
}

#[test]
fn a_store_without_part_copies_aborts_the_multipart_copy_and_says_so() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seal(&server, d, "app", "7.0", &[("big.bin", data(11 * MIB, 7))]);
    server.faults().inject(
        Op::UploadPartCopy,
        usize::MAX,
        Fault::Error {
            status: 501,
            code: "NotImplemented",
        },
    );
    let mut cmd = server.cmd(d);
    cmd.args([
        "promote",
        "--suite",
        "app",
        "--release",
        "7.0",
        "--to-suite",
        "prod",
        "--part-size",
        "5MiB",
    ])
    .env("S3BLOB_TEST_COPY_MULTIPART_ABOVE", MIB.to_string());
    Run::from(cmd.output().unwrap()).fails(
        1,
        &[
            "does not implement UploadPartCopy",
            "s3blob download --all",
            "not sealed",
        ],
    );
    assert_eq!(
        server.open_uploads(),
        0,
        "the multipart copy was not aborted"
    );
    assert!(server.object("prod/7.0/big.bin").is_none());
}

/// Takes the manifest of `suite/release` out of the server's storage while `change` runs (the
/// release looks open, so s3blob lets `change` replace its objects), then puts it back.
fn with_manifest_hidden(server: &Server, suite: &str, release: &str, change: impl FnOnce()) {
    let manifest = server.object_path(&format!("{suite}/{release}/.s3blob-manifest.json"));
    let aside = server.root.path().join("manifest-aside");
    std::fs::rename(&manifest, &aside).unwrap();
    change();
    std::fs::rename(&aside, &manifest).unwrap();
}

/// Each copy is pinned to the ETag the source had when promote looked at it: a source object
/// replaced (same size, other bytes) while its copy is held at the server makes the copy fail
/// (exit 5, naming the source), and nothing is left at the destination: no object with the
/// wrong bytes, no open upload, no manifest. For one CopyObject and for a multipart copy.
#[test]
fn a_source_replaced_during_promote_is_not_copied_and_nothing_is_sealed() {
    for (label, len, op) in [
        ("CopyObject", 70_000, Op::CopyObject),
        ("UploadPartCopy", 11 * MIB, Op::UploadPartCopy),
    ] {
        let server = Server::start_faulty();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        seal(&server, d, "app", "1.0", &[("f.bin", data(len, 1))]);
        let faults = server.faults();
        let gate = faults.hold(op, 3);
        let mut cmd = server.cmd(d);
        cmd.args([
            "promote",
            "--suite",
            "app",
            "--release",
            "1.0",
            "--to-suite",
            "prod",
            "--part-size",
            "5MiB",
        ])
        .env("S3BLOB_TEST_COPY_MULTIPART_ABOVE", MIB.to_string());
        let promote = common::background(&mut cmd);
        common::wait_for("the held copy", || faults.count(op) >= 1);
        with_manifest_hidden(&server, "app", "1.0", || {
            std::fs::write(d.join("f.bin"), data(len, 2)).unwrap();
            server
                .run(
                    d,
                    &[
                        "upload",
                        "--overwrite",
                        "--part-size",
                        "5MiB",
                        "--suite",
                        "app",
                        "--release",
                        "1.0",
                        "f.bin",
                    ],
                )
                .ok();
        });
        gate.release();
        let out = Run::from(promote.wait_with_output().unwrap());
        out.fails(
            5,
            &["s3://artifacts/app/1.0/f.bin", "changed", "not sealed"],
        );
        assert_eq!(server.object("prod/1.0/f.bin"), None, "{label}: copied");
        assert_eq!(
            server.object("prod/1.0/.s3blob-manifest.json"),
            None,
            "{label}: sealed"
        );
        assert_eq!(server.open_uploads(), 0, "{label}: upload left open");
    }
}

/// A promote that fails for one file copies the others and seals nothing; run again, it
/// counts the copies already made as done (they are not copied twice), copies the rest and
/// seals.
#[test]
fn a_promote_that_failed_for_one_file_succeeds_when_run_again() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [
        ("a.bin", data(1000, 1)),
        ("b.bin", data(2000, 2)),
        ("c.bin", data(3000, 3)),
    ];
    seal(&server, d, "app", "1.0", &files);
    let args = [
        "--json",
        "--suite",
        "app",
        "--release",
        "1.0",
        "--to-suite",
        "prod",
        "--concurrency",
        "1",
    ];
    // One copy at a time, in name order: a.bin's is refused.
    server.faults().inject(
        Op::CopyObject,
        1,
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    let failed = promote(&server, d, &args);
    assert_eq!(failed.code, 4, "{}", failed.stderr);
    assert!(failed.stderr.contains("not sealed"), "{}", failed.stderr);
    assert_eq!(server.object("prod/1.0/a.bin"), None);
    assert_eq!(server.object("prod/1.0/b.bin").as_ref(), Some(&files[1].1));
    assert_eq!(server.object("prod/1.0/.s3blob-manifest.json"), None);

    let copies = server.faults().count(Op::CopyObject);
    let v: Value = promote(&server, d, &args).json();
    let unchanged: Vec<(String, bool)> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["filename"].as_str().unwrap().to_owned(),
                f["unchanged"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        unchanged,
        [
            ("a.bin".to_owned(), false),
            ("b.bin".to_owned(), true),
            ("c.bin".to_owned(), true)
        ],
        "{v:#}"
    );
    assert_eq!(
        server.faults().count(Op::CopyObject) - copies,
        1,
        "only a.bin copied"
    );
    for (f, bytes) in &files {
        assert_eq!(
            server.object(&format!("prod/1.0/{f}")).as_ref(),
            Some(bytes)
        );
    }
    server
        .run(
            d,
            &["verify", "--suite", "prod", "--release", "1.0", "--deep"],
        )
        .ok();
}
