//! `list`, `stat`, `delete` and `--release latest` against the real server.

mod common;

use common::{Server, data};
use serde_json::Value;

#[test]
fn lists_suites_releases_and_files() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (suite, release) in [
        ("app", "1.9"),
        ("app", "1.10"),
        ("app", "v2.0.0-rc1"),
        ("tool", "0.1"),
    ] {
        server.put(d, suite, release, "a.tar.gz", b"abc", &[]);
    }
    server.put(d, "app", "1.10", "b.bin", &data(5000, 1), &[]);

    assert_eq!(server.run(d, &["list"]).ok(), "app\ntool");
    // Version order, not string order.
    // Version order, not string order; each release sealed or open.
    assert_eq!(
        server.run(d, &["list", "--suite", "app"]).ok(),
        "1.9         open\n1.10        open\nv2.0.0-rc1  open"
    );

    let files = server.run(d, &["list", "--suite", "app", "--release", "1.10"]);
    let lines: Vec<&str> = files.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with("  a.tar.gz"), "{lines:?}");
    assert!(lines[1].starts_with("   4.9 KiB  "), "{lines:?}");
    // Aligned: the names start in the same column.
    assert_eq!(lines[0].find("a.tar.gz"), lines[1].find("b.bin"));

    let json = server.run(
        d,
        &["--json", "list", "--suite", "app", "--release", "1.10"],
    );
    let entries = json.json_lines();
    assert_eq!(entries[1]["key"], "app/1.10/b.bin");
    assert_eq!(entries[1]["size"], 5000);
    assert_eq!(entries[1]["checksum"]["algorithm"], "CRC64NVME");
    assert_eq!(entries[1]["checksum"]["source"], "s3blob-metadata");
    assert!(entries[1]["last_modified"].as_str().unwrap().ends_with('Z'));
    let suites = server.run(d, &["list", "--json"]).json_lines();
    assert_eq!(suites[1]["suite"], "tool");
}

#[test]
fn listing_follows_continuation_tokens() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // More than one page (1,000 entries) at each level.
    for i in 0..1005 {
        server.plant(&format!("many/1.0.{i}/f"), b"x");
        server.plant(&format!("s{i:04}/1/f"), b"x");
        server.plant(&format!("big/1/f{i:04}"), b"xy");
    }
    let releases = server.run(d, &["list", "--suite", "many"]);
    let releases: Vec<&str> = releases
        .ok()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(releases.len(), 1005);
    assert_eq!(releases[999], "1.0.999");
    assert_eq!(releases[1004], "1.0.1004");

    let suites = server.run(d, &["list"]);
    assert_eq!(suites.ok().lines().count(), 1005 + 2);

    let files = server.run(d, &["--json", "list", "--suite", "big", "--release", "1"]);
    let files = files.json_lines();
    assert_eq!(files.len(), 1005);
    assert_eq!(files[1004]["filename"], "f1004");
    assert_eq!(files[1004]["size"], 2);
    // Planted objects carry no checksum.
    assert_eq!(files[0]["checksum"], Value::Null);
    assert!(
        files
            .windows(2)
            .all(|w| w[0]["key"].as_str() < w[1]["key"].as_str())
    );
}

#[test]
fn latest_resolves_to_the_highest_release() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for release in ["1.9.0", "1.10.0", "1.10.0-rc2", "nightly"] {
        server.put(d, "app", release, "app.bin", release.as_bytes(), &[]);
    }
    let out = server.run(
        d,
        &[
            "download",
            "--suite",
            "app",
            "--release",
            "latest",
            "--filename",
            "app.bin",
        ],
    );
    assert_eq!(out.ok(), "app.bin");
    assert_eq!(std::fs::read(d.join("app.bin")).unwrap(), b"1.10.0");
    // None of these releases is sealed: the highest, with a warning.
    assert!(
        out.stderr
            .contains("no release of app is sealed, so the highest, 1.10.0, is used"),
        "{}",
        out.stderr
    );

    let stat = server.run(
        d,
        &[
            "--json",
            "stat",
            "--suite",
            "app",
            "--release",
            "latest",
            "--filename",
            "app.bin",
        ],
    );
    let v: Value = stat.json();
    assert_eq!(v["release"], "1.10.0");
    assert_eq!(v["key"], "app/1.10.0/app.bin");

    let files = server.run(d, &["list", "--suite", "app", "--release", "latest"]);
    assert!(files.ok().ends_with("  app.bin"));

    server
        .run(
            d,
            &[
                "download",
                "--suite",
                "none",
                "--release",
                "latest",
                "--filename",
                "app.bin",
            ],
        )
        .fails(3, &["--release latest", "\"none\" has no releases"]);
    server
        .run(
            d,
            &["upload", "--suite", "app", "--release", "latest", "app.bin"],
        )
        .fails(2, &["--release latest", "reserved"]);
}

#[test]
fn stat_shows_what_is_stored() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(
        d,
        "app",
        "1.0",
        "app.tar.gz",
        &data(3000, 2),
        &["--metadata", "commit=3f2a9c1"],
    );
    let out = server.run(
        d,
        &[
            "stat",
            "--suite",
            "app",
            "--release",
            "1.0",
            "--filename",
            "app.tar.gz",
        ],
    );
    let text = out.ok();
    assert!(
        text.starts_with("uri            s3://artifacts/app/1.0/app.tar.gz\n"),
        "{text}"
    );
    assert!(text.contains("\nsize           3000 (2.9 KiB)\n"), "{text}");
    assert!(
        text.contains("\ncontent-type   application/gzip\n"),
        "{text}"
    );
    assert!(text.contains("\nchecksum       CRC64NVME "), "{text}");
    assert!(text.contains("(s3blob-metadata)"), "{text}");
    assert!(text.ends_with("\nmetadata       commit=3f2a9c1"), "{text}");

    server
        .run(
            d,
            &[
                "stat",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--filename",
                "nope",
            ],
        )
        .fails(3, &["s3://artifacts/app/1.0/nope", "no such object"]);
}

#[test]
fn missing_things_are_errors_not_empty_listings() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // An empty bucket lists no suites, successfully.
    assert_eq!(server.run(d, &["list"]).ok(), "");
    server
        .run(d, &["list", "--suite", "typo"])
        .fails(3, &["\"typo\" has no releases"]);
    server.put(d, "app", "1.0", "f", b"x", &[]);
    server
        .run(d, &["list", "--suite", "app", "--release", "2.0"])
        .fails(3, &["s3://artifacts/app/2.0/", "no files"]);
    server
        .run(d, &["--bucket", "nosuchbucket", "list"])
        .fails(3, &["nosuchbucket", "does not exist"]);
    server
        .run(d, &["list", "--release", "1.0"])
        .usage_error(&["--suite"]);
    server
        .run(d, &["list", "--suite", "a/b"])
        .fails(2, &["--suite"]);
}

#[test]
fn delete_needs_yes_and_an_existing_object() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "1.0", "f.bin", b"bytes", &[]);
    let args = [
        "delete",
        "--suite",
        "app",
        "--release",
        "1.0",
        "--filename",
        "f.bin",
    ];
    server
        .run(d, &args)
        .fails(2, &["--yes", "s3://artifacts/app/1.0/f.bin"]);
    assert!(server.object("app/1.0/f.bin").is_some());

    let mut yes = args.to_vec();
    yes.push("--yes");
    assert_eq!(server.run(d, &yes).ok(), "s3://artifacts/app/1.0/f.bin");
    assert!(server.object("app/1.0/f.bin").is_none());
    server
        .run(d, &yes)
        .fails(3, &["s3://artifacts/app/1.0/f.bin", "no such object"]);

    let mut latest = yes.clone();
    latest[4] = "latest";
    server.run(d, &latest).fails(2, &["--release latest"]);
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Far more output than a pipe buffers (~300 KB of JSON lines).
    for i in 0..1005 {
        server.plant(&format!("big/1/f{i:04}"), b"x");
    }
    let mut child = server.spawn(d, &["--json", "list", "--suite", "big", "--release", "1"]);
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (like `| head -1`).
    let out = child.wait_with_output().unwrap();
    assert!(first.contains("\"filename\":\"f0000\""), "{first}");
    // The status says how it ended (a signal, if the process was killed: stderr is then empty).
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("error"));
}

/// Suites are printed page by page as they arrive: with the second page of the listing held at
/// the server, the first page's 1,000 suites are already on stdout.
#[test]
fn suites_are_printed_page_by_page() {
    use std::io::BufRead;
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..1005 {
        server.plant(&format!("s{i:04}/1/f"), b"x");
    }
    let faults = server.faults();
    faults.inject(
        common::Op::ListObjectsV2,
        1,
        common::Fault::Delay(std::time::Duration::ZERO),
    );
    let second_page = faults.hold(common::Op::ListObjectsV2, 1);
    let mut child = server.spawn(d, &["list"]);
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in stdout.lines() {
            seen.lock().unwrap().push(line.unwrap());
        }
    });
    common::wait_for("the first page's suites on stdout", || {
        lines.lock().unwrap().len() >= 1000
    });
    {
        let first = lines.lock().unwrap();
        assert_eq!(first.len(), 1000, "the second page is still held");
        assert_eq!(first[0], "s0000");
        assert_eq!(first[999], "s0999");
    }
    second_page.release();
    reader.join().unwrap();
    let all = lines.lock().unwrap();
    assert_eq!(all.len(), 1005);
    assert_eq!(all[1004], "s1004");
    assert!(child.wait().unwrap().success());
}
