//! What happens when the destination already exists, in either direction.

mod common;

use common::{MIB, Op, Server, data};

fn overwrite_rules(len: usize) {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let first = data(len, 1);
    std::fs::write(dir.path().join("a.bin"), &first).unwrap();
    let up = |extra: &[&str]| {
        let mut args = vec![
            "upload",
            "--suite",
            "s",
            "--release",
            "r",
            "a.bin",
            "--part-size",
            "5MiB",
            "--json",
        ];
        args.extend_from_slice(extra);
        server.run(dir.path(), &args)
    };
    let v: serde_json::Value = up(&[]).file_json();
    assert_eq!(v["unchanged"], false);

    // A retried CI job uploading the very same bytes succeeds, says nothing changed, and sends
    // no data.
    let sent = |s: &Server| s.faults().count(Op::PutObject) + s.faults().count(Op::UploadPart);
    let before = sent(&server);
    let v: serde_json::Value = up(&[]).file_json();
    assert_eq!(v["unchanged"], true);
    assert_eq!(sent(&server), before);
    assert!(server.object("s/r/a.bin").unwrap() == first);

    // Different bytes are refused and the stored object stays.
    let second = data(len, 2);
    std::fs::write(dir.path().join("a.bin"), &second).unwrap();
    up(&[]).fails_json(
        6,
        &["s3://artifacts/s/r/a.bin", "already exists", "--overwrite"],
    );
    assert!(server.object("s/r/a.bin").unwrap() == first);
    assert_eq!(server.open_uploads(), 0);

    // --overwrite replaces it.
    let v: serde_json::Value = up(&["--overwrite"]).file_json();
    assert_eq!(v["unchanged"], false);
    assert!(server.object("s/r/a.bin").unwrap() == second);
}

#[test]
fn upload_single_put() {
    overwrite_rules(1234);
}

#[test]
fn upload_multipart() {
    overwrite_rules(10 * MIB + 1);
}

#[test]
fn download_replaces_unless_no_clobber() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), b"new").unwrap();
    server
        .run(
            dir.path(),
            &["upload", "--suite", "s", "--release", "r", "a.bin"],
        )
        .ok();
    std::fs::write(dir.path().join("dest.bin"), b"old").unwrap();
    let down = |extra: &[&str]| {
        let mut args = vec![
            "download",
            "--suite",
            "s",
            "--release",
            "r",
            "--filename",
            "a.bin",
            "-o",
            "dest.bin",
        ];
        args.extend_from_slice(extra);
        server.run(dir.path(), &args)
    };
    down(&["--no-clobber"]).fails(6, &["dest.bin", "already exists", "--no-clobber"]);
    assert_eq!(std::fs::read(dir.path().join("dest.bin")).unwrap(), b"old");
    assert_eq!(down(&[]).ok(), "dest.bin");
    assert_eq!(std::fs::read(dir.path().join("dest.bin")).unwrap(), b"new");
}

/// Another publisher stores other bytes at the key between our look and our write (our
/// PutObject is held at the server meanwhile): the store refuses our conditional write (412),
/// s3blob finds the other's object there and exits 6, and the stored bytes are the other's.
/// The same race with the same bytes on both sides is a success: the upload already happened.
#[test]
fn a_write_that_loses_the_race_is_refused() {
    for (theirs, code) in [(b"theirs".as_slice(), 6), (b"mine".as_slice(), 0)] {
        let server = Server::start_faulty();
        let faults = server.faults();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.bin"), b"mine").unwrap();
        std::fs::create_dir(d.join("other")).unwrap();
        std::fs::write(d.join("other/a.bin"), theirs).unwrap();
        let ours = faults.hold(Op::PutObject, 1);
        let upload = server.spawn(d, &["upload", "--suite", "s", "--release", "r", "a.bin"]);
        common::wait_for("our write", || faults.count(Op::PutObject) >= 1);
        // Our look found the key free; the other publisher gets there first.
        assert_eq!(faults.count(Op::HeadObject), 1);
        server
            .run(
                d,
                &["upload", "--suite", "s", "--release", "r", "other/a.bin"],
            )
            .ok();
        ours.release();
        let out = common::Run::from(upload.wait_with_output().unwrap());
        if code == 6 {
            out.fails(6, &["s3://artifacts/s/r/a.bin", "already exists"]);
        } else {
            assert_eq!(out.ok(), "s3://artifacts/s/r/a.bin");
        }
        assert_eq!(server.object("s/r/a.bin").unwrap(), theirs);
        // The refusal came from the condition s3blob sent, which the server saw.
        let puts: Vec<_> = faults
            .requests()
            .into_iter()
            .filter(|r| r.op == Op::PutObject)
            .collect();
        assert_eq!(puts.len(), 2);
        for put in puts {
            assert_eq!(put.header("if-none-match").as_deref(), Some("*"));
        }
    }
}
