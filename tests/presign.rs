//! `presign`: the URL works with a plain HTTP client and no credentials, and only as signed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{Server, data};
use serde_json::Value;

/// GET with nothing but the URL: HTTP/1.0 over a raw socket (no SDK, no credentials).
fn http_get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut conn = TcpStream::connect(host).unwrap();
    write!(conn, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response[split + 4..].to_vec())
}

#[test]
fn presigned_url_downloads_without_credentials() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(100_000, 9);
    server.put(d, "app", "1.0", "app.bin", &bytes, &[]);
    let args = [
        "presign",
        "--suite",
        "app",
        "--release",
        "1.0",
        "--filename",
        "app.bin",
    ];
    let url = server.run(d, &args).ok().to_owned();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    let (status, body) = http_get(&url);
    assert_eq!(status, 200);
    assert!(body == bytes, "the presigned URL returned other bytes");

    // The signature covers the key: another key with the same signature is refused.
    let (status, _) = http_get(&url.replace("app.bin", "app.bio"));
    assert_eq!(status, 403);

    let mut json = vec!["--json"];
    json.extend_from_slice(&args);
    json.extend_from_slice(&["--expires", "2h"]);
    let v: Value = server.run(d, &json).json();
    assert_eq!(v["expires_in"], 7200);
    assert!(v["url"].as_str().unwrap().contains("X-Amz-Expires=7200"));
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn presign_checks_its_input() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "1.0", "app.bin", b"x", &[]);
    let args = [
        "presign",
        "--suite",
        "app",
        "--release",
        "1.0",
        "--filename",
    ];
    let run = |name: &str, extra: &[&str]| {
        let mut a = args.to_vec();
        a.push(name);
        a.extend_from_slice(extra);
        server.run(d, &a)
    };
    run("missing.bin", &[]).fails(3, &["s3://artifacts/app/1.0/missing.bin", "no such object"]);
    run("app.bin", &["--expires", "8d"]).fails(2, &["--expires", "7d"]);
    run("app.bin", &["--expires", "0"]).fails(2, &["--expires"]);
    run("app.bin", &["--expires", "soon"]).usage_error(&["'soon'", "--expires"]);
    // latest works here too.
    let latest = server.run(
        d,
        &[
            "presign",
            "--suite",
            "app",
            "--release",
            "latest",
            "--filename",
            "app.bin",
        ],
    );
    assert!(latest.ok().contains("/app/1.0/app.bin?"));
}

/// `--summary-links`: the job summary's table links each file with a presigned URL that a
/// plain HTTP client downloads without credentials, and says until when.
#[test]
fn summary_links_download_each_file() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [("a.bin", data(5000, 3)), ("b.txt", b"notes".to_vec())];
    for (name, bytes) in &files {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    server
        .run(
            d,
            &[
                "upload",
                "--seal",
                "--summary-file",
                "summary.md",
                "--summary-links",
                "10m",
                "--suite",
                "app",
                "--release",
                "1.0",
                "a.bin",
                "b.txt",
            ],
        )
        .ok();
    let md = std::fs::read_to_string(d.join("summary.md")).unwrap();
    assert!(md.contains("| File | Size | CRC64NVME | Link | |"), "{md}");
    assert!(md.contains("The links work until 20"), "{md}");
    for (name, bytes) in &files {
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{md}"));
        let url = row
            .split("[download](<")
            .nth(1)
            .and_then(|rest| rest.split_once(">)"))
            .map(|(url, _)| url)
            .unwrap_or_else(|| panic!("no link in {row}"));
        assert!(url.contains("X-Amz-Expires=600"), "{url}");
        let (status, body) = http_get(url);
        assert_eq!(status, 200, "{url}");
        assert_eq!(&body, bytes);
    }
}
