//! End-to-end verification: bytes altered in the server's storage are caught, the download
//! fails with the integrity exit code, and nothing is written where the user asked.

mod common;

use common::{MIB, Server, data};

fn flip_byte(path: &std::path::Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

fn corrupted_object_is_caught(len: usize, extra: &[&str]) {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let bytes = data(len, 3);
    std::fs::write(dir.path().join("a.bin"), &bytes).unwrap();
    let mut up = vec!["upload", "--suite", "s", "--release", "r", "a.bin"];
    up.extend_from_slice(extra);
    server.run(dir.path(), &up).ok();

    flip_byte(&server.object_path("s/r/a.bin"), len - 1);

    let mut down = vec![
        "download",
        "--suite",
        "s",
        "--release",
        "r",
        "--filename",
        "a.bin",
        "-o",
        "out.bin",
    ];
    down.extend_from_slice(extra);
    // Nothing at the destination before: nothing after.
    server
        .run(dir.path(), &down)
        .fails(5, &["s3://artifacts/s/r/a.bin", "do not match", "out.bin"]);
    assert!(!dir.path().join("out.bin").exists());

    // An existing destination is left exactly as it was.
    std::fs::write(dir.path().join("out.bin"), b"previous release").unwrap();
    server.run(dir.path(), &down).fails(5, &["do not match"]);
    assert_eq!(
        std::fs::read(dir.path().join("out.bin")).unwrap(),
        b"previous release"
    );

    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".aws"))
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(
        names,
        ["a.bin", "out.bin"],
        "no temporary file is left behind"
    );
}

#[test]
fn corrupted_single_put_object() {
    corrupted_object_is_caught(1000, &[]);
}

#[test]
fn corrupted_multipart_object() {
    // s3s-fs keeps no checksum for multipart objects: the metadata s3blob wrote catches it.
    corrupted_object_is_caught(11 * MIB, &["--part-size", "5MiB"]);
}

#[test]
fn object_without_s3blob_checksum_is_checked_by_size_and_says_so() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    // Placed by another tool: no s3blob metadata, no stored checksum.
    let path = server.object_path("other/1.0/tool.bin");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let bytes = data(9 * MIB, 11);
    std::fs::write(&path, &bytes).unwrap();
    let out = server.run(
        dir.path(),
        &[
            "download",
            "--suite",
            "other",
            "--release",
            "1.0",
            "--filename",
            "tool.bin",
            "--json",
        ],
    );
    let v: serde_json::Value = out.file_json();
    assert_eq!(v["verified"], "size-only");
    assert!(
        out.stderr.contains("only its size was verified"),
        "{}",
        out.stderr
    );
    assert!(std::fs::read(dir.path().join("tool.bin")).unwrap() == bytes);
}

/// A body damaged on the way in: the store checks it against the CRC64NVME header and answers
/// BadDigest. That is exit 5, not a retryable failure, and nothing is stored.
#[test]
fn a_body_the_store_finds_corrupted_is_exit_5() {
    let server = common::Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.bin"), common::data(5000, 3)).unwrap();
    server.faults().inject(
        common::Op::PutObject,
        usize::MAX,
        common::Fault::Error {
            status: 400,
            code: "BadDigest",
        },
    );
    server
        .run(
            dir.path(),
            &["upload", "--suite", "s", "--release", "1", "f.bin"],
        )
        .fails(5, &["s3://artifacts/s/1/f.bin"]);
    // Not retried: one PUT.
    assert_eq!(server.faults().count(common::Op::PutObject), 1);
    assert!(server.object("s/1/f.bin").is_none());
}
