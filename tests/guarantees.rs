//! The release promises the README makes that only a fault or a race exercises: each test
//! forces the situation (a refused request, a request held at a gate while something else
//! happens, an object or manifest planted behind s3blob's back) and checks what the promise
//! says must hold.

mod common;

use common::{Fault, Op, Run, Server, wait_for};

const MANIFEST: &str = ".s3blob-manifest.json";

fn sealed(server: &Server, release: &str) -> bool {
    server.object(&format!("s/{release}/{MANIFEST}")).is_some()
}

/// `upload --seal` with one file refused: nothing is sealed, and `latest` still names the
/// release before.
#[test]
fn a_failed_file_seals_nothing_and_latest_stays() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server
        .upload(d, "s", "1.0", &[("a.bin", b"one")], &["--seal"])
        .ok();
    std::fs::write(d.join("a.bin"), b"two-a").unwrap();
    std::fs::write(d.join("b.bin"), b"two-b").unwrap();
    // One file at a time, in order: a.bin's PUT is refused, b.bin's goes through.
    server.faults().inject(
        Op::PutObject,
        1,
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    let out = server.run(
        d,
        &[
            "upload",
            "--seal",
            "--max-requests",
            "1",
            "--suite",
            "s",
            "--release",
            "2.0",
            "a.bin",
            "b.bin",
        ],
    );
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("not sealing"), "{}", out.stderr);
    assert_eq!(server.object("s/2.0/b.bin").unwrap(), b"two-b");
    assert!(
        !sealed(&server, "2.0"),
        "a release with a failed file was sealed"
    );
    assert_eq!(server.faults().count(Op::PutManifest), 1, "only 1.0's");
    let latest = server.run(
        d,
        &[
            "download",
            "--suite",
            "s",
            "--release",
            "latest",
            "--filename",
            "a.bin",
            "-o",
            "-",
        ],
    );
    assert_eq!(latest.ok(), "one", "latest is still 1.0");
}

/// `upload --seal` checks that each of its files is still what it uploaded: another writer
/// replacing one between the upload and the seal's look at the release stops the seal.
#[test]
fn a_file_replaced_before_the_seal_is_not_sealed() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.bin"), b"ours").unwrap();
    std::fs::create_dir(d.join("other")).unwrap();
    std::fs::write(d.join("other/a.bin"), b"theirs, longer").unwrap();
    // The seal starts by listing the release: hold it there.
    let gate = server.faults().hold(Op::ListObjectsV2, 1);
    let sealer = server.spawn(
        d,
        &[
            "upload",
            "--seal",
            "--suite",
            "s",
            "--release",
            "1.0",
            "a.bin",
        ],
    );
    let faults = server.faults();
    wait_for("the seal's listing", || {
        faults.count(Op::ListObjectsV2) >= 1
    });
    // Our bytes are stored; another job replaces them.
    assert_eq!(server.object("s/1.0/a.bin").unwrap(), b"ours");
    server
        .run(
            d,
            &[
                "upload",
                "--overwrite",
                "--suite",
                "s",
                "--release",
                "1.0",
                "other/a.bin",
            ],
        )
        .ok();
    gate.release();
    let out = Run::from(sealer.wait_with_output().unwrap());
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("is no longer what this command uploaded"),
        "{}",
        out.stderr
    );
    assert!(!sealed(&server, "1.0"));
}

/// An object added to a sealed release afterwards is not part of it: `download --all` leaves
/// it out and says so, fetching it by name is refused, and `verify` names it.
#[test]
fn an_object_planted_after_sealing_is_not_part_of_the_release() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server
        .upload(d, "s", "1.0", &[("a.bin", b"aaa")], &["--seal"])
        .ok();
    server.plant("s/1.0/late.bin", b"planted");
    let all = server.download_all(d, "s", "1.0", "out");
    all.ok();
    assert!(
        all.stderr
            .contains("late.bin is in the release but not in its manifest"),
        "{}",
        all.stderr
    );
    assert!(d.join("out/a.bin").exists());
    assert!(!d.join("out/late.bin").exists());
    server
        .download(d, "s", "1.0", "late.bin", "late.bin")
        .fails(5, &["late.bin"]);
    assert!(!d.join("late.bin").exists());
    let verify = server.run(d, &["--json", "verify", "--suite", "s", "--release", "1.0"]);
    let v = verify.json();
    assert_eq!(v["unlisted"], serde_json::json!(["late.bin"]), "{v}");
}

/// A manifest rewritten with hostile names (and a valid self-check, as anyone who can write
/// to the bucket can make): `download --all` writes nothing outside `-o` and names each
/// refused file.
#[test]
fn hostile_names_in_a_manifest_stay_inside_the_output_directory() {
    use s3blob::manifest::{Entry, Manifest};
    let server = Server::start();
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("cwd");
    std::fs::create_dir(&d).unwrap();
    server
        .upload(&d, "s", "1.0", &[("ok.bin", b"fine")], &["--seal"])
        .ok();
    let stored = server.object(&format!("s/1.0/{MANIFEST}")).unwrap();
    let mut manifest = Manifest::parse(&stored, "test").unwrap();
    let ok = manifest.files["ok.bin"].clone();
    let long = "x".repeat(300);
    let hostile = [
        "..",
        "../escaped.bin",
        "a/b",
        "bell\u{7}.bin",
        long.as_str(),
    ];
    for name in hostile {
        manifest.files.insert(
            name.to_owned(),
            Entry {
                size: 4,
                ..ok.clone()
            },
        );
    }
    server.plant(&format!("s/1.0/{MANIFEST}"), manifest.to_json().as_bytes());
    // Objects at those keys holding the very bytes the manifest lists: were a name used as a
    // path, a file would land there, checks passing.
    for name in ["../escaped.bin", "a/b", "bell\u{7}.bin"] {
        server.plant(&format!("s/1.0/{name}"), b"fine");
    }
    let out = server.download_all(&d, "s", "1.0", "out");
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    // What was fetched is inside out/, and it is only the file with a usable name.
    let inside: Vec<String> = std::fs::read_dir(d.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(inside, ["ok.bin"]);
    let outside: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        outside,
        ["cwd"],
        "nothing written beside the working directory"
    );
    // (The harness keeps the scrubbed AWS config files in the working directory.)
    let mut cwd: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".aws-"))
        .collect();
    cwd.sort();
    assert_eq!(cwd, ["ok.bin", "out"]);
    // Each refused name is reported; none as a path to write.
    for name in ["../escaped.bin", "a/b"] {
        assert!(out.stderr.contains(name), "{name}: {}", out.stderr);
    }
    assert!(out.stderr.contains("\\u{7}"), "escaped: {}", out.stderr);
    assert_eq!(
        out.code, 5,
        "a manifest that lists no file name is an integrity failure"
    );
    assert!(
        out.stderr
            .contains("the manifest of s3://artifacts/s/1.0/ lists \"../escaped.bin\""),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("--filename \""), "{}", out.stderr);
}

/// A file rewritten in place while it is uploaded, same size, only its modification time
/// telling: exit 5, nothing stored, no multipart upload left.
#[test]
fn a_file_rewritten_during_its_upload_is_not_stored() {
    for (op, len, label) in [
        (Op::PutObject, 1000, "single PUT"),
        (Op::UploadPart, 11 * common::MIB, "multipart"),
    ] {
        let server = Server::start_faulty();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let path = d.join("f.bin");
        std::fs::write(&path, common::data(len, 7)).unwrap();
        let gate = server.faults().hold(op, 1);
        let upload = server.spawn(
            d,
            &[
                "upload",
                "--part-size",
                "5MiB",
                "--suite",
                "s",
                "--release",
                "1",
                "f.bin",
            ],
        );
        let faults = server.faults();
        wait_for("the held request", || faults.count(op) >= 1);
        // The same bytes written again: only the modification time changes.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let later = std::fs::metadata(&path).unwrap().modified().unwrap()
            + std::time::Duration::from_secs(5);
        file.set_modified(later).unwrap();
        drop(file);
        gate.release();
        let out = Run::from(upload.wait_with_output().unwrap());
        assert_eq!(out.code, 5, "{label}: {}", out.stderr);
        assert!(
            out.stderr.contains("changed while it was being uploaded"),
            "{label}: {}",
            out.stderr
        );
        assert_eq!(server.object("s/1/f.bin"), None, "{label}: stored");
        assert_eq!(server.open_uploads(), 0, "{label}: upload left open");
    }
}

/// Removing the latest sealed release goes manifest first: a download of `latest` made while
/// the objects are being deleted (held at a gate just then) gets the release before, whole.
#[test]
fn removing_latest_never_shows_a_sealed_release_with_files_missing() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (release, body) in [("1.0", b"one".as_slice()), ("2.0", b"two".as_slice())] {
        server
            .upload(
                d,
                "s",
                release,
                &[("a.bin", body), ("b.bin", body)],
                &["--seal"],
            )
            .ok();
    }
    let gate = server.faults().hold(Op::DeleteObjects, 1);
    let delete = server.spawn(
        d,
        &[
            "delete",
            "--suite",
            "s",
            "--release",
            "2.0",
            "--all",
            "--yes",
        ],
    );
    let faults = server.faults();
    wait_for("the object deletes", || {
        faults.count(Op::DeleteObjects) >= 1
    });
    // In the window: 2.0's objects are all there, its manifest is not.
    assert!(server.object("s/2.0/a.bin").is_some());
    let during = server.download_all(d, "s", "latest", "during");
    during.ok();
    for name in ["a.bin", "b.bin"] {
        assert_eq!(
            std::fs::read(d.join("during").join(name)).unwrap(),
            b"one",
            "latest while 2.0 goes is 1.0, whole"
        );
    }
    gate.release();
    let out = Run::from(delete.wait_with_output().unwrap());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(server.object("s/2.0/a.bin"), None);
}

/// On a store that ignores `If-None-Match`, two uploads of different bytes to one new key
/// whose writes both land before either reads back: the read-back finds the other's object,
/// and the upload whose object was replaced exits 6. Forced with gates: both look first (the
/// key is free), both writes are held, released one after the other, and the read-backs are
/// held until both writes have landed.
#[test]
fn the_read_back_catches_a_write_replaced_before_it() {
    use std::time::Duration;
    let server = Server::start_faulty();
    let faults = server.faults();
    faults.ignore_if_none_match(true);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("a")).unwrap();
    std::fs::create_dir(d.join("b")).unwrap();
    std::fs::write(d.join("a/f.bin"), b"from a").unwrap();
    std::fs::write(d.join("b/f.bin"), b"from b, longer").unwrap();
    // HEADs: the two looks before writing pass; the two read-backs wait.
    faults.inject(Op::HeadObject, 2, Fault::Delay(Duration::ZERO));
    let read_backs = faults.hold(Op::HeadObject, 2);
    let write_a = faults.hold(Op::PutObject, 1);
    let write_b = faults.hold(Op::PutObject, 1);
    let upload = |path: &str| server.spawn(d, &["upload", "--suite", "s", "--release", "1", path]);
    let a = upload("a/f.bin");
    wait_for("a's write", || faults.count(Op::PutObject) >= 1);
    let b = upload("b/f.bin");
    wait_for("b's write", || faults.count(Op::PutObject) >= 2);
    write_a.release();
    wait_for("a's read-back", || faults.count(Op::HeadObject) >= 3);
    write_b.release();
    wait_for("b's read-back", || faults.count(Op::HeadObject) >= 4);
    read_backs.release();
    let (a, b) = (
        Run::from(a.wait_with_output().unwrap()),
        Run::from(b.wait_with_output().unwrap()),
    );
    a.fails(6, &["s3://artifacts/s/1/f.bin", "another upload"]);
    assert_eq!(b.ok(), "s3://artifacts/s/1/f.bin");
    assert_eq!(server.object("s/1/f.bin").unwrap(), b"from b, longer");
}

/// The batch form: an upload of several files reads them all back with one listing after the
/// last write. On a store that ignores `If-None-Match`, another upload that looked while the
/// key was free replaces one of the batch's files after the batch wrote it and before its
/// listing: that file is exit 6 (the other's bytes stay), the rest of the batch is stored.
/// Forced with gates: the other upload's write is held until the batch's read-back listing has
/// arrived, and that listing is held until the other upload has finished.
#[test]
fn a_batch_read_back_catches_a_file_replaced_before_its_listing() {
    use std::time::Duration;
    let server = Server::start_faulty();
    let faults = server.faults();
    faults.ignore_if_none_match(true);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("other")).unwrap();
    std::fs::write(d.join("x.bin"), b"ours: x").unwrap();
    std::fs::write(d.join("y.bin"), b"ours: y").unwrap();
    std::fs::write(d.join("other/y.bin"), b"theirs: y, longer").unwrap();
    // The other upload looks (the key is free) and its write is held.
    let their_write = faults.hold(Op::PutObject, 1);
    let theirs = server.spawn(
        d,
        &["upload", "--suite", "s", "--release", "1", "other/y.bin"],
    );
    wait_for("their write", || faults.count(Op::PutObject) >= 1);
    // The batch: its first listing passes, its writes land, its read-back listing is held.
    let lists = faults.count(Op::ListObjectsV2);
    faults.inject(Op::ListObjectsV2, 1, Fault::Delay(Duration::ZERO));
    let read_back = faults.hold(Op::ListObjectsV2, 1);
    let ours = server.spawn(
        d,
        &["upload", "--suite", "s", "--release", "1", "x.bin", "y.bin"],
    );
    wait_for("the batch's read-back", || {
        faults.count(Op::ListObjectsV2) >= lists + 2
    });
    assert_eq!(server.object("s/1/y.bin").unwrap(), b"ours: y");
    // Their write lands over ours; then the batch reads back.
    their_write.release();
    assert_eq!(
        Run::from(theirs.wait_with_output().unwrap()).ok(),
        "s3://artifacts/s/1/y.bin"
    );
    read_back.release();
    let out = Run::from(ours.wait_with_output().unwrap());
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        out.stderr.contains("s3://artifacts/s/1/y.bin") && out.stderr.contains("another upload"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("x.bin"), "{}", out.stdout);
    assert_eq!(server.object("s/1/y.bin").unwrap(), b"theirs: y, longer");
    assert_eq!(server.object("s/1/x.bin").unwrap(), b"ours: x");
}

/// Every write of an artifact is create-only unless `--overwrite`: `If-None-Match: *` on the
/// single PUT and on CompleteMultipartUpload, as the server received them.
#[test]
fn every_write_carries_if_none_match_unless_overwriting() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let faults = server.faults();
    let conditions = |op: Op| -> Vec<Option<String>> {
        faults
            .requests()
            .iter()
            .filter(|r| r.op == op)
            .map(|r| r.header("if-none-match"))
            .collect()
    };
    for (len, op) in [
        (1000, Op::PutObject),
        (11 * common::MIB, Op::CompleteMultipartUpload),
    ] {
        let name = format!("{len}.bin");
        std::fs::write(d.join(&name), common::data(len, 3)).unwrap();
        for mode in ["trusted", "untrusted"] {
            let before = faults.count(op);
            let release = format!("{mode}-{len}");
            server
                .run(
                    d,
                    &[
                        "upload",
                        "--conditional-writes",
                        mode,
                        "--part-size",
                        "5MiB",
                        "--suite",
                        "s",
                        "--release",
                        &release,
                        &name,
                    ],
                )
                .ok();
            assert_eq!(
                conditions(op)[before..],
                [Some("*".to_owned())],
                "{op:?}, {mode}"
            );
        }
        let before = faults.count(op);
        std::fs::write(d.join(&name), common::data(len, 4)).unwrap();
        server
            .run(
                d,
                &[
                    "upload",
                    "--overwrite",
                    "--part-size",
                    "5MiB",
                    "--suite",
                    "s",
                    "--release",
                    &format!("trusted-{len}"),
                    &name,
                ],
            )
            .ok();
        assert_eq!(conditions(op)[before..], [None], "{op:?}, --overwrite");
    }
}

/// Two multipart uploads of different bytes to one new key, on a store that enforces
/// conditional writes and is trusted to (`--conditional-writes trusted`: no look before, no
/// read-back): both completions are held until both have arrived, then let through one after
/// the other. The first stores its object; the second is refused by the store, finds other
/// bytes at the key and exits 6; no upload stays open.
#[test]
fn a_multipart_race_under_trusted_conditional_writes_has_one_winner() {
    let server = Server::start_faulty();
    let faults = server.faults();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (who, seed) in [("a", 1), ("b", 2)] {
        std::fs::create_dir(d.join(who)).unwrap();
        std::fs::write(
            d.join(who).join("f.bin"),
            common::data(11 * common::MIB, seed),
        )
        .unwrap();
    }
    let first = faults.hold(Op::CompleteMultipartUpload, 1);
    let second = faults.hold(Op::CompleteMultipartUpload, 1);
    let upload = |path: &str| {
        server.spawn(
            d,
            &[
                "upload",
                "--conditional-writes",
                "trusted",
                "--part-size",
                "5MiB",
                "--suite",
                "s",
                "--release",
                "1",
                path,
            ],
        )
    };
    let a = upload("a/f.bin");
    wait_for("a's completion", || {
        faults.count(Op::CompleteMultipartUpload) >= 1
    });
    let b = upload("b/f.bin");
    wait_for("b's completion", || {
        faults.count(Op::CompleteMultipartUpload) >= 2
    });
    first.release();
    let a = Run::from(a.wait_with_output().unwrap());
    assert_eq!(a.ok(), "s3://artifacts/s/1/f.bin");
    second.release();
    let b = Run::from(b.wait_with_output().unwrap());
    b.fails(6, &["s3://artifacts/s/1/f.bin"]);
    assert!(
        server.object("s/1/f.bin").unwrap() == common::data(11 * common::MIB, 1),
        "the stored bytes are not the winner's"
    );
    assert_eq!(
        server.open_uploads(),
        0,
        "the loser's upload was not aborted"
    );
    assert_eq!(faults.count(Op::AbortMultipartUpload), 1);
}

/// The file names in the stored manifest of `s/RELEASE`.
fn manifest_files(server: &Server, release: &str) -> Vec<String> {
    let stored = server
        .object(&format!("s/{release}/{MANIFEST}"))
        .expect("a manifest");
    let v: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_owned())
        .collect()
}

/// Two seals of one release that see different files (a file is uploaded between the first
/// seal's listing and the second's) race on the manifest: both writes are held until both have
/// arrived, then let through one after the other, and both read-backs wait until both writes
/// are done. Where the store enforces `If-None-Match`, the second write is refused and that
/// seal exits 6; where it ignores it, the second write replaces the first manifest and the
/// first seal, reading back, exits 6. Either way exactly one seal succeeds and the stored
/// manifest is its own.
#[test]
fn two_seals_with_different_files_have_one_outcome() {
    for ignores in [false, true] {
        let server = Server::start_faulty();
        let faults = server.faults();
        faults.ignore_if_none_match(ignores);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        server.upload(d, "s", "1", &[("a.bin", b"aaa")], &[]).ok();
        let first_write = faults.hold(Op::PutManifest, 1);
        let second_write = faults.hold(Op::PutManifest, 1);
        let seal = || server.spawn(d, &["seal", "--suite", "s", "--release", "1"]);
        let x = seal();
        wait_for("x's manifest write", || faults.count(Op::PutManifest) >= 1);
        server.upload(d, "s", "1", &[("b.bin", b"bbb")], &[]).ok();
        let y = seal();
        wait_for("y's manifest write", || faults.count(Op::PutManifest) >= 2);
        let reads = faults.count(Op::GetManifest);
        let read_backs = faults.hold(Op::GetManifest, 2);
        first_write.release();
        wait_for("x's read-back", || faults.count(Op::GetManifest) > reads);
        second_write.release();
        wait_for("y's read-back", || {
            faults.count(Op::GetManifest) > reads + 1
        });
        read_backs.release();
        let (x, y) = (
            Run::from(x.wait_with_output().unwrap()),
            Run::from(y.wait_with_output().unwrap()),
        );
        let label = if ignores { "ignored" } else { "enforced" };
        if ignores {
            x.fails(6, &["s3://artifacts/s/1/", "replaced this one"]);
            assert_eq!(y.ok(), "s3://artifacts/s/1/", "{label}");
            assert_eq!(manifest_files(&server, "1"), ["a.bin", "b.bin"], "{label}");
        } else {
            assert_eq!(x.ok(), "s3://artifacts/s/1/", "{label}");
            y.fails(6, &["s3://artifacts/s/1/", "with other files"]);
            assert_eq!(manifest_files(&server, "1"), ["a.bin"], "{label}");
        }
    }
}

/// `seal` of a release that is sealed already and now holds another file too (planted behind
/// s3blob's back): exit 6, and the stored manifest is untouched.
#[test]
fn sealing_a_sealed_release_with_other_files_is_exit_6() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server
        .upload(d, "s", "1", &[("a.bin", b"aaa")], &["--seal"])
        .ok();
    let manifest = server.object(&format!("s/1/{MANIFEST}")).unwrap();
    server.plant("s/1/late.bin", b"late");
    server
        .run(d, &["seal", "--suite", "s", "--release", "1"])
        .fails(
            6,
            &["s3://artifacts/s/1/", "already sealed, with other files"],
        );
    assert_eq!(server.object(&format!("s/1/{MANIFEST}")).unwrap(), manifest);
    assert_eq!(
        server.faults().count(Op::PutManifest),
        1,
        "only the first seal's"
    );
}
