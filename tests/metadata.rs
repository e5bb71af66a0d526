//! What is stored with an object besides its bytes: `--metadata`, content type, cache control,
//! storage class, encryption; read back with `stat --json` and checked on the server.

mod common;

use common::{MIB, Op, Server, data};

#[test]
fn metadata_round_trip_single_and_multipart() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (release, len) in [("single", 1000), ("multi", 12 * MIB)] {
        server.put(
            d,
            "m",
            release,
            "app.tar.gz",
            &data(len, 3),
            &[
                "--metadata",
                "Commit=3f2a9c1",
                "--metadata",
                "built-by=ci job 42",
                "--cache-control",
                "max-age=3600",
                "--storage-class",
                "standard",
                "--sse",
                "AES256",
                "--part-size",
                "5MiB",
            ],
        );
        let v = server.stat(d, "m", release, "app.tar.gz");
        assert_eq!(v["command"], "stat");
        assert_eq!(v["size"], len);
        assert_eq!(
            v["metadata"],
            serde_json::json!({"commit": "3f2a9c1", "built-by": "ci job 42"}),
            "{release}"
        );
        assert_eq!(v["content_type"], "application/gzip", "{release}");
        assert_eq!(v["cache_control"], "max-age=3600", "{release}");
        assert_eq!(v["checksum"]["source"], "s3blob-metadata");
        assert_eq!(v["uri"], format!("s3://artifacts/m/{release}/app.tar.gz"));
        // The server here keeps neither, so what was asked for is checked where it was sent:
        // on the request that creates the object.
        let creates = if release == "single" {
            Op::PutObject
        } else {
            Op::CreateMultipartUpload
        };
        let sent: Vec<_> = server
            .faults()
            .requests()
            .into_iter()
            .filter(|r| r.op == creates && r.path.ends_with(&format!("/m/{release}/app.tar.gz")))
            .collect();
        assert_eq!(sent.len(), 1, "{release}");
        let h = |name: &str| sent[0].header(name);
        assert_eq!(
            h("x-amz-storage-class").as_deref(),
            Some("STANDARD"),
            "{release}"
        );
        assert_eq!(
            h("x-amz-server-side-encryption").as_deref(),
            Some("AES256"),
            "{release}"
        );
        assert_eq!(
            h("x-amz-meta-commit").as_deref(),
            Some("3f2a9c1"),
            "{release}"
        );
    }
}

#[test]
fn content_type_is_guessed_or_given() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "m", "1", "notes.txt", b"hi", &[]);
    server.put(d, "m", "1", "blob", b"hi", &[]);
    server.put(
        d,
        "m",
        "1",
        "x.zip",
        b"hi",
        &["--content-type", "application/x-custom"],
    );
    assert_eq!(
        server.stat(d, "m", "1", "notes.txt")["content_type"],
        "text/plain"
    );
    assert_eq!(
        server.stat(d, "m", "1", "blob")["content_type"],
        "application/octet-stream"
    );
    assert_eq!(
        server.stat(d, "m", "1", "x.zip")["content_type"],
        "application/x-custom"
    );
}

#[test]
fn bad_attributes_are_usage_errors_and_upload_nothing() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"x").unwrap();
    let long = format!("k={}", "v".repeat(2100));
    let cases: &[(&[&str], &str)] = &[
        (&["--metadata", "novalue"], "--metadata \"novalue\""),
        (&["--metadata", "a b=c"], "letters, digits"),
        (&["--metadata", "k=caf\u{e9}"], "printable ASCII"),
        (&["--metadata", "k=1", "--metadata", "K=2"], "twice"),
        (
            &["--metadata", "s3blob-crc64nvme=x"],
            "records the checksum",
        ),
        (&["--metadata", &long], "2048"),
        (&["--storage-class", "no such"], "--storage-class"),
        (&["--content-type", "bad\ttype"], "--content-type"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["upload", "--suite", "m", "--release", "1", "f"];
        args.extend_from_slice(extra);
        server.run(d, &args).fails(2, &[needle]);
    }
    let kms = server.run(
        d,
        &[
            "upload",
            "--suite",
            "m",
            "--release",
            "1",
            "f",
            "--sse-kms-key-id",
            "k",
        ],
    );
    kms.usage_error(&["required", "--sse <ALGORITHM>"]);
    assert!(server.object("m/1/f").is_none());
}
