//! Releases of hundreds of files: one listing instead of a request per file, every byte
//! compared, and no extra round trip for objects other tools wrote.

mod common;

use std::path::Path;

use common::{MIB, Op, Run, Server, data};
use serde_json::Value;

/// 300 small files of assorted sizes (empty included) and two multipart ones.
fn release(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| (format!("f{i:03}.bin"), data((i * 37) % 20_000, i as u64)))
        .collect();
    files.push(("big-a.bin".into(), data(11 * MIB, 1000)));
    files.push(("big-b.bin".into(), data(6 * MIB, 1001)));
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    files
}

fn count(ops: &[Op], op: Op) -> usize {
    ops.iter().filter(|o| **o == op).count()
}

fn upload_all(server: &Server, dir: &Path, files: &[(String, Vec<u8>)], extra: &[&str]) -> Run {
    let mut args = vec![
        "upload",
        "--suite",
        "many",
        "--release",
        "1",
        "--part-size",
        "5MiB",
    ];
    args.extend_from_slice(extra);
    args.extend(files.iter().map(|(n, _)| n.as_str()));
    server.run(dir, &args)
}

#[test]
fn a_release_of_hundreds_of_files_looks_once_and_moves_every_byte() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = release(d);
    let faults = server.faults();

    // Upload into a new release: one listing says every key is free, so no HEAD per file and
    // no GET of a manifest the listing shows is not there. A custom endpoint is not trusted to
    // enforce If-None-Match, so one more listing afterwards reads every key back (its ETag must
    // be the one this upload stored), still no HEAD.
    let up = upload_all(&server, d, &files, &[]);
    assert_eq!(up.ok().lines().count(), files.len());
    let ops = faults.log();
    assert_eq!(count(&ops, Op::ListObjectsV2), 2, "{ops:?}");
    assert_eq!(count(&ops, Op::HeadObject), 0, "{ops:?}");
    assert_eq!(count(&ops, Op::GetManifest), 0, "{ops:?}");
    assert_eq!(count(&ops, Op::PutObject), 300, "{ops:?}");
    assert_eq!(count(&ops, Op::CompleteMultipartUpload), 2, "{ops:?}");
    for (name, bytes) in &files {
        assert!(
            server.object(&format!("many/1/{name}")).unwrap() == *bytes,
            "{name}"
        );
    }

    // The same release again: nothing to send, and nothing asked per small file: the listing
    // gives each key's size and ETag, and a small file's MD5 matches its ETag. Only the two
    // multipart objects (whose ETags are not MD5s) cost a HEAD for their checksum.
    let before = faults.log().len();
    let again = upload_all(&server, d, &files, &["--json"]);
    let v: Value = again.json();
    let results = v["files"].as_array().unwrap();
    assert_eq!(results.len(), files.len());
    assert!(results.iter().all(|r| r["unchanged"] == true), "{v}");
    let ops = &faults.log()[before..];
    assert_eq!(count(ops, Op::ListObjectsV2), 1, "{ops:?}");
    assert_eq!(count(ops, Op::HeadObject), 2, "{ops:?}");
    assert_eq!(count(ops, Op::PutObject), 0, "{ops:?}");
    assert_eq!(count(ops, Op::UploadPart), 0, "{ops:?}");

    // One small file changed, same size: its MD5 no longer matches, so it is looked at (HEAD)
    // and refused; the others are still settled by the listing alone.
    let changed = &files[7];
    let mut other = changed.1.clone();
    other[0] ^= 0xff;
    std::fs::write(d.join(&changed.0), &other).unwrap();
    let before = faults.log().len();
    let refused = upload_all(&server, d, &files, &[]);
    assert_eq!(refused.code, 6, "{}", refused.stderr);
    assert!(refused.stderr.contains(&changed.0), "{}", refused.stderr);
    let ops = &faults.log()[before..];
    assert_eq!(count(ops, Op::HeadObject), 3, "{ops:?}");
    assert_eq!(count(ops, Op::PutObject), 0, "{ops:?}");
    std::fs::write(d.join(&changed.0), &changed.1).unwrap();

    // Everything back, every byte compared; no HEAD: sizes come from the listing, checksums
    // from the objects' own metadata in their first response.
    let before = faults.log().len();
    let down = server.run(
        d,
        &[
            "download",
            "--suite",
            "many",
            "--release",
            "1",
            "--all",
            "-o",
            "back",
            "--part-size",
            "5MiB",
        ],
    );
    assert_eq!(down.ok().lines().count(), files.len());
    let ops = &faults.log()[before..];
    assert_eq!(count(ops, Op::HeadObject), 0, "{ops:?}");
    assert_eq!(count(ops, Op::ListObjectsV2), 1, "{ops:?}");
    for (name, bytes) in &files {
        assert!(
            std::fs::read(d.join("back").join(name)).unwrap() == *bytes,
            "{name}"
        );
    }
    common::no_temp_files(&d.join("back"));

    // Told the store enforces conditional writes, the read-back listing goes: one listing in all.
    let before = faults.log().len();
    let mut args = vec!["upload", "--suite", "many", "--release", "2"];
    args.extend(["--part-size", "5MiB", "--conditional-writes", "trusted"]);
    args.extend(files.iter().map(|(n, _)| n.as_str()));
    let trusted = server.run(d, &args);
    assert_eq!(trusted.ok().lines().count(), files.len());
    let ops = &faults.log()[before..];
    assert_eq!(count(ops, Op::ListObjectsV2), 1, "{ops:?}");
    assert_eq!(count(ops, Op::HeadObject), 0, "{ops:?}");
}

/// Objects written by another tool carry no s3blob metadata: each is fetched whole in one GET
/// that also asks for the server's checksum, so none costs a HEAD; one warning says how many
/// could be checked by size only.
#[test]
fn objects_from_other_tools_cost_no_extra_round_trip() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..50 {
        server.plant(&format!("other/1/o{i:02}"), &data(100 + i, i as u64));
    }
    let faults = server.faults();
    let down = server.download_all(d, "other", "1", "back");
    assert_eq!(down.ok().lines().count(), 50);
    let ops = faults.log();
    assert_eq!(count(&ops, Op::HeadObject), 0, "{ops:?}");
    assert_eq!(count(&ops, Op::GetObject), 50, "{ops:?}");
    for i in 0..50 {
        assert!(std::fs::read(d.join(format!("back/o{i:02}"))).unwrap() == data(100 + i, i as u64));
    }
    let warnings: Vec<&str> = down.stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{}", down.stderr);
    assert!(
        warnings[0].contains("50 objects carry no CRC64NVME"),
        "{warnings:?}"
    );
}

/// The listing's answer for each key is right across pages: keys before, between and after
/// the 1,000-entry pages of an existing release.
#[test]
fn keys_are_judged_right_across_listing_pages() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..1200 {
        server.plant(&format!("paged/1/k{i:04}"), b"planted");
    }
    // Exists on the first page, exists on the second, new on the first, new after the last.
    for name in ["k0005", "k1100", "k0500x", "zzz"] {
        std::fs::write(d.join(name), format!("new {name}")).unwrap();
    }
    let run = server.run(
        d,
        &[
            "--json",
            "upload",
            "--suite",
            "paged",
            "--release",
            "1",
            "k0005",
            "k1100",
            "k0500x",
            "zzz",
        ],
    );
    assert_eq!(run.code, 6, "{}", run.stderr);
    let v: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let files = v["files"].as_array().unwrap();
    assert_eq!(files[0]["exit_code"], 6, "{v}");
    assert_eq!(files[1]["exit_code"], 6, "{v}");
    assert_eq!(files[2]["key"], "paged/1/k0500x", "{v}");
    assert_eq!(files[3]["key"], "paged/1/zzz", "{v}");
    assert_eq!(server.object("paged/1/k0005").unwrap(), b"planted");
    assert_eq!(server.object("paged/1/zzz").unwrap(), b"new zzz");
    let ops = server.faults().log();
    // Two pages before the upload, two after it to read the written keys back.
    assert_eq!(count(&ops, Op::ListObjectsV2), 4, "{ops:?}");
    // Only the two keys the listing found are looked at.
    assert_eq!(count(&ops, Op::HeadObject), 2, "{ops:?}");
}
