//! Whole releases: several files in one command, under one concurrency budget, with the worst
//! failure deciding the exit code and every file accounted for.

mod common;

use common::{MIB, Server, data};
use serde_json::Value;

#[test]
fn uploads_several_files_each_under_its_own_name() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [("a.tar.gz", 1000), ("b.zip", 12 * MIB), ("SHA256SUMS", 0)];
    for (i, (name, len)) in files.iter().enumerate() {
        std::fs::write(d.join(name), data(*len, i as u64)).unwrap();
    }
    let out = server.run(
        d,
        &[
            "upload",
            "--suite",
            "app",
            "--release",
            "2.0",
            "a.tar.gz",
            "b.zip",
            "SHA256SUMS",
            "--part-size",
            "5MiB",
            "--concurrency",
            "2",
        ],
    );
    assert_eq!(
        out.ok(),
        "s3://artifacts/app/2.0/a.tar.gz\ns3://artifacts/app/2.0/b.zip\ns3://artifacts/app/2.0/SHA256SUMS"
    );
    for (i, (name, len)) in files.iter().enumerate() {
        assert!(
            server.object(&format!("app/2.0/{name}")).unwrap() == data(*len, i as u64),
            "{name}"
        );
    }
    assert!(
        out.stderr.contains("uploaded 3 of 3 files"),
        "{}",
        out.stderr
    );
    assert_eq!(server.open_uploads(), 0);

    // Again, as JSON: everything is already there, identical.
    let json = server.run(
        d,
        &[
            "--json",
            "upload",
            "--suite",
            "app",
            "--release",
            "2.0",
            "a.tar.gz",
            "b.zip",
        ],
    );
    let v: Value = serde_json::from_str(json.ok()).unwrap();
    assert_eq!(v["command"], "upload");
    assert_eq!(v["failed"], 0);
    assert_eq!(v["files"][1]["key"], "app/2.0/b.zip");
    assert_eq!(v["files"][1]["unchanged"], true);
}

#[test]
fn a_failed_file_does_not_hide_the_others() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "3.0", "taken.bin", b"old", &[]);
    std::fs::write(d.join("taken.bin"), b"new bytes").unwrap();
    std::fs::write(d.join("fine.bin"), b"fine").unwrap();
    let out = server.run(
        d,
        &[
            "upload",
            "--suite",
            "app",
            "--release",
            "3.0",
            "fine.bin",
            "taken.bin",
            "missing.bin",
        ],
    );
    // The worst failure decides: missing (3) and taken (6) -> 3 is ranked above 6.
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.stdout, "s3://artifacts/app/3.0/fine.bin\n");
    assert!(out.stderr.contains("missing.bin"), "{}", out.stderr);
    assert!(
        out.stderr.contains("s3://artifacts/app/3.0/taken.bin"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("2 of the files failed: taken.bin, missing.bin"),
        "{}",
        out.stderr
    );
    assert_eq!(server.object("app/3.0/fine.bin").unwrap(), b"fine");
    assert_eq!(server.object("app/3.0/taken.bin").unwrap(), b"old");

    let json = server.run(
        d,
        &[
            "--json",
            "upload",
            "--suite",
            "app",
            "--release",
            "3.0",
            "taken.bin",
            "fine.bin",
        ],
    );
    assert_eq!(json.code, 6);
    let v: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(v["failed"], 1);
    assert_eq!(v["files"][0]["file"], "taken.bin");
    assert_eq!(v["files"][0]["exit_code"], 6);
    assert_eq!(v["files"][1]["unchanged"], true);
}

#[test]
fn batch_usage_errors_send_nothing() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("x")).unwrap();
    std::fs::write(d.join("a.bin"), b"a").unwrap();
    std::fs::write(d.join("x/a.bin"), b"b").unwrap();
    server
        .run(
            d,
            &[
                "upload",
                "--suite",
                "s",
                "--release",
                "1",
                "a.bin",
                "x/a.bin",
            ],
        )
        .fails(2, &["\"a.bin\"", "--filename"]);
    server
        .run(
            d,
            &[
                "upload",
                "--suite",
                "s",
                "--release",
                "1",
                "--filename",
                "f",
                "a.bin",
                "x/a.bin",
            ],
        )
        .fails(2, &["--filename"]);
    assert!(server.object("s/1/a.bin").is_none());
}
