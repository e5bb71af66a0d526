//! Stores as they really behave: one that refuses the CRC64NVME checksum header (400 or 500),
//! one that ignores conditional writes, one that keeps no checksums. s3blob finds out, says
//! what it does about it, and keeps its guarantees.

mod common;

use std::path::Path;

use common::{MIB, Op, Run, Server, data};
use s3blob_testserver::faults::RefuseCrc64;
use serde_json::Value;

fn write_release(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let small = b"small file".to_vec();
    let big = data(11 * MIB, 42);
    std::fs::write(dir.join("small.txt"), &small).unwrap();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    (small, big)
}

fn upload(server: &Server, dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "upload",
        "--suite",
        "s",
        "--release",
        "1",
        "--part-size",
        "5MiB",
    ];
    args.extend_from_slice(extra);
    args.extend(["small.txt", "big.bin"]);
    server.run(dir, &args)
}

/// Requests that carried the header, by operation.
fn carrying_header(server: &Server) -> Vec<Op> {
    server
        .faults()
        .requests()
        .into_iter()
        .filter(|r| {
            r.header("x-amz-checksum-crc64nvme").is_some()
                || r.header("x-amz-checksum-algorithm").is_some()
        })
        .map(|r| r.op)
        .collect()
}

fn refused_then_fell_back(how: RefuseCrc64) {
    let server = Server::start_faulty();
    server.faults().refuse_crc64nvme(Some(how));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (small, big) = write_release(d);
    let run = upload(&server, d, &[]);
    assert_eq!(run.ok().lines().count(), 2, "{}", run.stderr);
    let warnings: Vec<&str> = run.stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "one warning: {}", run.stderr);
    assert!(
        warnings[0].contains("refused the x-amz-checksum-crc64nvme header"),
        "{warnings:?}"
    );
    assert!(server.object("s/1/small.txt").unwrap() == small);
    assert!(server.object("s/1/big.bin").unwrap() == big);
    // Once refused, the header stays off: only each file's first write (the two start
    // together) carried it, the SDK retrying it on a 500; never a part or a completion.
    let carried = carrying_header(&server);
    let attempts = if how == RefuseCrc64::InternalError {
        5
    } else {
        1
    };
    assert!(
        !carried.is_empty() && carried.len() <= 2 * attempts,
        "{carried:?}"
    );
    assert!(
        carried
            .iter()
            .all(|op| matches!(op, Op::PutObject | Op::CreateMultipartUpload)),
        "{carried:?}"
    );
    // End to end, the metadata's CRC64NVME still verifies both.
    for (name, bytes) in [("small.txt", &small), ("big.bin", &big)] {
        let out = server.run(
            d,
            &[
                "--json",
                "download",
                "--suite",
                "s",
                "--release",
                "1",
                "--filename",
                name,
                "-o",
                "back",
            ],
        );
        let v: Value = out.file_json();
        assert_eq!(v["verified"], "checksum", "{v}");
        assert!(std::fs::read(d.join("back")).unwrap() == *bytes);
    }
}

#[test]
fn a_store_refusing_the_header_with_400_gets_it_no_more() {
    refused_then_fell_back(RefuseCrc64::BadRequest);
}

#[test]
fn a_store_refusing_the_header_with_500_gets_it_no_more() {
    refused_then_fell_back(RefuseCrc64::InternalError);
}

#[test]
fn the_header_setting_forces_the_choice() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_release(d);
    // Off: not one request carries it, and the objects are still verified end to end.
    upload(&server, d, &["--checksum-header", "off"]).ok();
    assert!(
        carrying_header(&server).is_empty(),
        "{:?}",
        carrying_header(&server)
    );
    server.download_all(d, "s", "1", "back").ok();
    // Forced on a store that refuses it: the refusal is the error, nothing falls back.
    server
        .faults()
        .refuse_crc64nvme(Some(RefuseCrc64::BadRequest));
    std::fs::write(d.join("other.txt"), b"x").unwrap();
    let env_forced = Run::from(
        server
            .cmd(d)
            .env("S3BLOB_CHECKSUM_HEADER", "crc64nvme")
            .args(["upload", "--suite", "s", "--release", "2", "other.txt"])
            .output()
            .unwrap(),
    );
    env_forced.fails(1, &["Checksum algorithm CRC64NVME is not supported"]);
    assert!(server.object("s/2/other.txt").is_none());
    server
        .run(
            d,
            &[
                "upload",
                "--suite",
                "s",
                "--release",
                "2",
                "--checksum-header",
                "sometimes",
                "other.txt",
            ],
        )
        .usage_error(&["'sometimes'", "--checksum-header"]);
}

fn ops_of(server: &Server, from: usize) -> Vec<Op> {
    server.faults().log()[from..].to_vec()
}

/// Where conditional writes are trusted, a new small object is one conditional PUT; a second
/// upload of it is refused by the store (412) and only then looked at: the same bytes, done.
/// Where they are not, the key is looked at before and read back after.
#[test]
fn one_round_trip_where_conditional_writes_are_trusted() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f.txt"), b"one").unwrap();
    let up = |extra: &[&str]| {
        let mut args = vec!["upload", "--suite", "t", "--release", "1", "f.txt"];
        args.extend_from_slice(extra);
        server.run(d, &args)
    };
    let before = server.faults().log().len();
    up(&["--conditional-writes", "trusted"]).ok();
    let ops = ops_of(&server, before);
    assert_eq!(
        ops.iter().filter(|o| **o == Op::PutObject).count(),
        1,
        "{ops:?}"
    );
    assert_eq!(
        ops.iter().filter(|o| **o == Op::HeadObject).count(),
        0,
        "{ops:?}"
    );
    let put = server
        .faults()
        .requests()
        .into_iter()
        .find(|r| r.op == Op::PutObject)
        .unwrap();
    assert_eq!(put.header("if-none-match").as_deref(), Some("*"));

    let before = server.faults().log().len();
    let again = up(&["--conditional-writes", "trusted", "--json"]);
    let v: Value = again.file_json();
    assert_eq!(v["unchanged"], true);
    let ops = ops_of(&server, before);
    assert_eq!(
        ops.iter().filter(|o| **o == Op::PutObject).count(),
        1,
        "{ops:?}"
    );
    assert_eq!(
        ops.iter().filter(|o| **o == Op::HeadObject).count(),
        1,
        "{ops:?}"
    );

    // Untrusted (a custom endpoint's default): HEAD, PUT, then HEAD to read it back.
    std::fs::write(d.join("g.txt"), b"two").unwrap();
    let before = server.faults().log().len();
    server
        .run(d, &["upload", "--suite", "t", "--release", "1", "g.txt"])
        .ok();
    let ops: Vec<Op> = ops_of(&server, before)
        .into_iter()
        .filter(|o| matches!(o, Op::HeadObject | Op::PutObject))
        .collect();
    assert_eq!(ops, [Op::HeadObject, Op::PutObject, Op::HeadObject]);
}
