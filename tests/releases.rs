//! Releases as a unit: sealed manifests, `latest` only ever complete, immutability, downloads
//! and `verify` checked against the manifest, SHA256SUMS, and concurrent seals.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{MIB, Op, Run, Server, data, wait_for};
use serde_json::Value;

const MANIFEST: &str = ".s3blob-manifest.json";

/// The stored manifest of `s/RELEASE`, straight from the server's storage.
fn stored_manifest(server: &Server, release: &str) -> Option<Value> {
    let bytes = server.object(&format!("s/{release}/{MANIFEST}"))?;
    Some(serde_json::from_slice(&bytes).unwrap())
}

fn manifest_files(server: &Server, release: &str) -> Vec<String> {
    let m = stored_manifest(server, release).expect("sealed");
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_owned())
        .collect()
}

/// Everything in `dir`, temporary files included.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_half_published_release_is_never_latest() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server
        .upload(d, "s", "1.0", &[("a", b"a1"), ("b", b"b1")], &["--seal"])
        .ok();
    // A job half-way through publishing 2.0.
    server.upload(d, "s", "2.0", &[("a", b"a2")], &[]).ok();
    let out = d.join("out");
    let run = server.download_all(d, "s", "latest", "out");
    run.ok();
    assert_eq!(std::fs::read(out.join("a")).unwrap(), b"a1");
    assert_eq!(std::fs::read(out.join("b")).unwrap(), b"b1");
    assert!(run.stderr.contains("latest is 1.0"), "{}", run.stderr);
    assert!(run.stderr.contains("not sealed"), "{}", run.stderr);
    // `list` says which is which, plain and JSON.
    let plain = server.run(d, &["list", "--suite", "s"]);
    assert_eq!(plain.ok(), "1.0  sealed  not signed\n2.0  open");
    let lines = server.run(d, &["--json", "list", "--suite", "s"]);
    let sealed: Vec<bool> = lines
        .json_lines()
        .iter()
        .map(|v| v["sealed"].as_bool().unwrap())
        .collect();
    assert_eq!(sealed, [true, false]);
    // Once 2.0 is sealed, it is latest.
    server
        .run(d, &["seal", "--suite", "s", "--release", "2.0"])
        .ok();
    let run = server.download(d, "s", "latest", "a", "latest-a");
    run.ok();
    assert_eq!(std::fs::read(d.join("latest-a")).unwrap(), b"a2");
}

#[test]
fn a_sealed_release_is_immutable() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sealed = server.upload(d, "s", "1.0", &[("a", b"aaa")], &["--seal", "--json"]);
    let v = sealed.json();
    assert_eq!(v["seal"]["files"], 1);
    assert_eq!(v["seal"]["unchanged"], false);
    assert_eq!(v["seal"]["uri"], "s3://artifacts/s/1.0/");
    // A new file: refused, naming the release.
    server
        .upload(d, "s", "1.0", &[("new", b"n")], &[])
        .fails(6, &["release s/1.0", "sealed"]);
    assert!(server.object("s/1.0/new").is_none());
    // Other bytes under a listed name: refused.
    server
        .upload(d, "s", "1.0", &[("a", b"other")], &[])
        .fails(6, &["sealed"]);
    assert_eq!(server.object("s/1.0/a").unwrap(), b"aaa");
    // The very same bytes: done already (a retried job).
    let same = server.upload(d, "s", "1.0", &[("a", b"aaa")], &["--json"]);
    assert_eq!(same.file_json()["unchanged"], true);
    // Nor does a file go alone.
    server
        .run(
            d,
            &[
                "delete",
                "--suite",
                "s",
                "--release",
                "1.0",
                "--filename",
                "a",
                "--yes",
            ],
        )
        .fails(6, &["sealed", "s/1.0"]);
    assert!(server.object("s/1.0/a").is_some());
    // Sealing again with the same files succeeds, unchanged; a retried `upload --seal` too.
    let again = server.run(d, &["--json", "seal", "--suite", "s", "--release", "1.0"]);
    assert_eq!(again.json()["unchanged"], true);
    let retried = server.upload(d, "s", "1.0", &[("a", b"aaa")], &["--seal", "--json"]);
    assert_eq!(retried.json()["seal"]["unchanged"], true);
    // The manifest's name is reserved.
    std::fs::write(d.join("m"), b"x").unwrap();
    server
        .run(
            d,
            &[
                "upload",
                "--suite",
                "s",
                "--release",
                "2.0",
                "--filename",
                MANIFEST,
                "m",
            ],
        )
        .fails(2, &["--filename", "reserved"]);
    // And never shows as a file.
    let files = server.run(d, &["list", "--suite", "s", "--release", "1.0"]);
    assert!(!files.ok().contains(MANIFEST), "{}", files.stdout);
    assert_eq!(files.ok().lines().count(), 1);
}

#[test]
fn seal_refuses_an_incomplete_release() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.upload(d, "s", "1.0", &[("a", b"a")], &[]).ok();
    let seal = |extra: &[&str]| {
        let mut args = vec!["seal", "--suite", "s", "--release", "1.0"];
        args.extend_from_slice(extra);
        server.run(d, &args)
    };
    seal(&["--expect-files", "2"]).fails(3, &["holds 1 file", "--expect-files 2"]);
    seal(&["--file", "a", "--file", "b"]).fails(3, &["lacks 1", "b"]);
    assert!(stored_manifest(&server, "1.0").is_none());
    server.upload(d, "s", "1.0", &[("b", b"b")], &[]).ok();
    seal(&["--expect-files", "1"]).fails(6, &["more than --expect-files 1"]);
    assert!(stored_manifest(&server, "1.0").is_none());
    let v = seal(&["--expect-files", "2", "--json"]).json();
    for field in [
        "command",
        "uri",
        "bucket",
        "suite",
        "release",
        "manifest",
        "files",
        "sha256sums",
        "sealed_at",
        "unchanged",
        "seconds",
    ] {
        assert!(v.get(field).is_some(), "seal JSON lacks {field}: {v}");
    }
    assert_eq!(manifest_files(&server, "1.0"), ["a", "b"]);
    // `latest` is never a release to seal; an empty release has nothing to seal.
    server
        .run(d, &["seal", "--suite", "s", "--release", "latest"])
        .fails(2, &["--release latest"]);
    server
        .run(d, &["seal", "--suite", "s", "--release", "9.9"])
        .fails(3, &["holds no files"]);
}

/// Takes the manifest of `s/RELEASE` out of the server's storage (the release looks open),
/// and returns where it went.
fn hide_manifest(server: &Server, release: &str) -> (PathBuf, PathBuf) {
    let from = server.object_path(&format!("s/{release}/{MANIFEST}"));
    let to = server.root.path().join("hidden-manifest");
    std::fs::rename(&from, &to).unwrap();
    (to, from)
}

#[test]
fn an_object_replaced_behind_s3blobs_back_is_caught() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big = data(6 * MIB, 3);
    server
        .upload(
            d,
            "s",
            "1.0",
            &[("a", b"keep"), ("b", &big)],
            &["--seal", "--part-size", "5MiB"],
        )
        .ok();
    // Another tool (or a server that ignored a conditional write) replaces b, with a
    // checksum of its own.
    let (hidden, back) = hide_manifest(&server, "1.0");
    server
        .upload(d, "s", "1.0", &[("b", &data(6 * MIB, 4))], &["--overwrite"])
        .ok();
    std::fs::rename(hidden, back).unwrap();

    let run = server.download_all(d, "s", "1.0", "out");
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("manifest"), "{}", run.stderr);
    assert_eq!(
        entries(&d.join("out")),
        ["a"],
        "nothing of b is left in place"
    );
    assert_eq!(std::fs::read(d.join("out/a")).unwrap(), b"keep");
    // A single-file download checks the manifest too.
    server
        .download(d, "s", "1.0", "b", "one")
        .fails(5, &["manifest"]);
    assert!(!d.join("one").exists());
    // verify sees it without downloading (the stored checksum is not the manifest's).
    let v = server.run(d, &["verify", "--suite", "s", "--release", "1.0"]);
    assert_eq!(v.code, 5, "{}", v.stderr);
    assert!(v.stdout.contains("ok        a"), "{}", v.stdout);
    assert!(v.stdout.contains("mismatch  b"), "{}", v.stdout);
    assert!(v.stderr.contains("1 of the files failed"), "{}", v.stderr);
}

#[test]
fn verify_and_verify_deep_catch_a_corrupted_object() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = data(6 * MIB, 5);
    server
        .upload(
            d,
            "s",
            "1.0",
            &[("a", &a), ("b", b"bbbb")],
            &["--seal", "--part-size", "5MiB"],
        )
        .ok();
    let v = server
        .run(d, &["--json", "verify", "--suite", "s", "--release", "1.0"])
        .json();
    assert_eq!(v["sealed"], true);
    assert_eq!(v["failed"], 0);
    assert_eq!(v["files"][0]["status"], "ok");
    for field in [
        "command", "uri", "bucket", "suite", "release", "sealed", "deep", "files", "unlisted",
        "failed",
    ] {
        assert!(v.get(field).is_some(), "verify JSON lacks {field}: {v}");
    }
    server
        .run(d, &["verify", "--suite", "s", "--release", "1.0", "--deep"])
        .ok();
    // Bit rot: same size, other bytes, the object's metadata untouched.
    let mut rotten = a.clone();
    rotten[123_456] ^= 0x40;
    server.plant("s/1.0/a", &rotten);
    // The stored checksum still matches the manifest: only reading the bytes tells.
    server
        .run(d, &["verify", "--suite", "s", "--release", "1.0"])
        .ok();
    let deep = server.run(d, &["verify", "--suite", "s", "--release", "1.0", "--deep"]);
    assert_eq!(deep.code, 5, "{}", deep.stderr);
    assert!(deep.stdout.contains("mismatch  a"), "{}", deep.stdout);
    // The stored object is named once, as corrupt, with what can fix it; verify wrote
    // nothing to stdout but its report, and a retry would read the same bytes.
    let line = deep
        .stderr
        .lines()
        .find(|l| l.contains("s3://artifacts/s/1.0/a"))
        .unwrap_or_else(|| panic!("{}", deep.stderr));
    assert_eq!(line.matches("s3://").count(), 1, "{line}");
    assert!(line.contains("is corrupt or was replaced"), "{line}");
    assert!(line.contains("upload it again from its source"), "{line}");
    for wrong in ["stdout", "retry", "downloaded"] {
        assert!(!line.contains(wrong), "{line}");
    }
    // A file gone from the store.
    std::fs::remove_file(server.object_path("s/1.0/b")).unwrap();
    let gone = server.run(d, &["verify", "--suite", "s", "--release", "1.0"]);
    assert_eq!(gone.code, 3, "{}", gone.stderr);
    assert!(gone.stdout.contains("missing   b"), "{}", gone.stdout);
    // And a download of it is exit 5: it is listed but not there.
    server
        .run(
            d,
            &[
                "download",
                "--suite",
                "s",
                "--release",
                "1.0",
                "--filename",
                "b",
            ],
        )
        .fails(5, &["missing"]);
}

#[test]
#[cfg_attr(windows, ignore = "runs sha256sum, a Unix tool")]
fn sha256sums_that_sha256sum_accepts() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big = data(6 * MIB, 7);
    let run = server.upload(
        d,
        "s",
        "1.0",
        &[("app.tar.gz", &big), ("notes.txt", b"hello")],
        &["--seal", "--sha256sums", "--part-size", "5MiB", "--json"],
    );
    assert_eq!(run.json()["seal"]["sha256sums"], true);
    let m = stored_manifest(&server, "1.0").unwrap();
    for f in m["files"].as_array().unwrap() {
        assert_eq!(f["sha256"].as_str().unwrap().len(), 64, "{f}");
    }
    server.download_all(d, "s", "1.0", "out").ok();
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(d.join("out"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("app.tar.gz: OK"));
    // `seal --sha256sums` of stored objects reads each once.
    server
        .upload(d, "s", "2.0", &[("x", b"xx"), ("y", &big)], &[])
        .ok();
    server
        .run(
            d,
            &["seal", "--suite", "s", "--release", "2.0", "--sha256sums"],
        )
        .ok();
    let sums = String::from_utf8(server.object("s/2.0/SHA256SUMS").unwrap()).unwrap();
    assert_eq!(sums.lines().count(), 2, "{sums}");
    assert!(
        sums.starts_with(&format!("{}  x\n", sha256_hex(b"xx"))),
        "{sums}"
    );
    // The user's own SHA256SUMS and --sha256sums do not mix.
    server
        .upload(d, "s", "3.0", &[("SHA256SUMS", b"mine")], &[])
        .ok();
    server
        .run(
            d,
            &["seal", "--suite", "s", "--release", "3.0", "--sha256sums"],
        )
        .fails(2, &["SHA256SUMS"]);
    server
        .upload(
            d,
            "s",
            "4.0",
            &[("SHA256SUMS", b"mine")],
            &["--seal", "--sha256sums"],
        )
        .fails(2, &["SHA256SUMS"]);
}

fn sha256_hex(data: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(data)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

#[test]
fn releases_without_a_manifest_behave_as_before_with_a_warning() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.upload(d, "s", "1.0", &[("a", b"one")], &[]).ok();
    server.upload(d, "s", "2.0", &[("a", b"two")], &[]).ok();
    let run = server.run(
        d,
        &[
            "download",
            "--suite",
            "s",
            "--release",
            "latest",
            "--filename",
            "a",
        ],
    );
    run.ok();
    assert_eq!(std::fs::read(d.join("a")).unwrap(), b"two");
    assert!(
        run.stderr.contains("no release of s is sealed"),
        "{}",
        run.stderr
    );
    let v = server
        .run(
            d,
            &[
                "--json",
                "download",
                "--suite",
                "s",
                "--release",
                "2.0",
                "--filename",
                "a",
                "-o",
                "x",
            ],
        )
        .file_json();
    assert_eq!(v["verified"], "checksum");
    let open = server.run(d, &["verify", "--suite", "s", "--release", "2.0"]);
    open.ok();
    assert!(open.stderr.contains("not sealed"), "{}", open.stderr);
}

#[test]
fn listing_a_sealed_release_reads_one_manifest_not_one_head_per_file() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| (format!("f{i}"), vec![b'x'; i + 1]))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    server.upload(d, "s", "1.0", &refs, &["--seal"]).ok();
    let before = server.faults().log().len();
    let run = server.run(d, &["--json", "list", "--suite", "s", "--release", "1.0"]);
    let ops: Vec<Op> = server.faults().log()[before..].to_vec();
    assert_eq!(
        ops.iter().filter(|o| **o == Op::HeadObject).count(),
        0,
        "{ops:?}"
    );
    assert_eq!(
        ops.iter().filter(|o| **o == Op::GetObject).count(),
        0,
        "{ops:?}"
    );
    assert_eq!(
        ops.iter().filter(|o| **o == Op::GetManifest).count(),
        1,
        "{ops:?}"
    );
    // And one GET of its signature (absent here), so that the listing says who signed it.
    assert_eq!(
        ops.iter().filter(|o| **o == Op::Signature).count(),
        1,
        "{ops:?}"
    );
    assert_eq!(
        ops.len(),
        3,
        "one listing, one GET of the manifest and one of its signature: {ops:?}"
    );
    let lines = run.json_lines();
    assert_eq!(lines.len(), 5);
    assert!(
        lines.iter().all(|l| l["checksum"]["source"] == "manifest"),
        "{lines:?}"
    );
}

/// Two seals of one complete release at the same moment (both manifest writes held at the
/// server until both have arrived, then let through one after the other): the first writes the
/// manifest, the second is refused by the store, finds the same files sealed and succeeds
/// without writing. (Seals of different files racing: `tests/guarantees.rs`.)
#[test]
fn two_seals_of_the_same_files_have_one_outcome() {
    let server = Server::start_faulty();
    let faults = server.faults();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server
        .upload(d, "s", "same", &[("a", b"a"), ("b", b"b")], &[])
        .ok();
    let first = faults.hold(Op::PutManifest, 1);
    let second = faults.hold(Op::PutManifest, 1);
    let seal = || server.spawn(d, &["--json", "seal", "--suite", "s", "--release", "same"]);
    let x = seal();
    wait_for("x's manifest write", || faults.count(Op::PutManifest) >= 1);
    let y = seal();
    wait_for("y's manifest write", || faults.count(Op::PutManifest) >= 2);
    first.release();
    let x = Run::from(x.wait_with_output().unwrap()).json();
    assert_eq!(x["unchanged"], false, "{x}");
    let stored = server.object(&format!("s/same/{MANIFEST}")).unwrap();
    second.release();
    let y = Run::from(y.wait_with_output().unwrap()).json();
    assert_eq!(y["unchanged"], true, "{y}");
    assert_eq!(
        y["sealed_at"], x["sealed_at"],
        "y reports the stored manifest"
    );
    assert_eq!(
        server.object(&format!("s/same/{MANIFEST}")).unwrap(),
        stored
    );
    assert_eq!(manifest_files(&server, "same"), ["a", "b"]);
}

#[test]
fn streaming_a_file_of_a_sealed_release_checks_the_manifest() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big = data(6 * MIB, 9);
    server
        .upload(
            d,
            "s",
            "1.0",
            &[("a", &big)],
            &["--seal", "--sha256sums", "--part-size", "5MiB"],
        )
        .ok();
    let args = [
        "download",
        "--suite",
        "s",
        "--release",
        "1.0",
        "--filename",
        "a",
        "-o",
        "-",
        "--part-size",
        "5MiB",
    ];
    let out = server.cmd(d).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == big);
    // Bit rot the object's own checksum does not know about: caught, after the bytes went out.
    let mut rotten = big.clone();
    rotten[5 * MIB + 3] ^= 1;
    server.plant("s/1.0/a", &rotten);
    let out = server.cmd(d).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("manifest") && stderr.contains("discard"),
        "{stderr}"
    );
}
