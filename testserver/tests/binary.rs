//! The `s3blob-testserver` binary as README.md starts it: it announces its URL once it listens,
//! creates the buckets it is given, and answers. (Having this test also makes
//! `cargo test --workspace` build the binary, which the README test runs.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

#[test]
fn announces_its_url_and_serves() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_s3blob-testserver"))
        .args(["--memory", "--bucket", "artifacts", "--port", "0"])
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "demo-access-key")
        .env("AWS_SECRET_ACCESS_KEY", "demo-secret-key")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let addr = url
        .trim()
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not a URL: {url:?}"))
        .to_owned();
    // The unauthenticated counters answer; an unsigned S3 request is refused (403).
    let get = |path: &str| {
        let mut stream = TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let stats = get("/__s3blob/stats");
    assert!(stats.starts_with("HTTP/1.1 200"), "{stats}");
    assert!(stats.contains("\"connections\""), "{stats}");
    let unsigned = get("/artifacts/");
    assert!(unsigned.starts_with("HTTP/1.1 403"), "{unsigned}");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn refuses_to_start_without_credentials() {
    let out = Command::new(env!("CARGO_BIN_EXE_s3blob-testserver"))
        .args(["--memory", "--port", "0"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AWS_ACCESS_KEY_ID"),
        "{out:?}"
    );
}
