//! Messages for a store that cannot be reached, or cannot do what was asked: each one line
//! naming the host tried (or the operation the store lacks) and the likely fix, with the
//! documented exit code, as the real binary prints it.
//!
//! Host names that must not resolve are under `.invalid` (RFC 6761: they never do) with a
//! label of 64 bytes, which the resolver refuses before sending any query: no test sends a
//! packet beyond loopback, whatever network the machine has.

mod common;

use std::path::Path;

use common::{Fault, Op, Run, Server};

/// A host name that never resolves, refused by the resolver without a query.
fn nowhere() -> String {
    format!("{}.invalid", "x".repeat(64))
}

/// The binary pointed at `endpoint` instead of the server, with `args`.
fn at(server: &Server, dir: &Path, endpoint: &str, args: &[&str]) -> Run {
    let mut cmd = server.cmd(dir);
    cmd.env("AWS_ENDPOINT_URL", endpoint).args(args);
    Run::from(cmd.output().unwrap())
}

/// A loopback port nothing listens on (bound by the system, then closed).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_closed_port_names_the_endpoint_and_says_to_start_the_store() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    at(&server, dir.path(), &endpoint, &["list", "--suite", "app"]).fails(
        7,
        &[
            &format!("could not reach the S3 endpoint {endpoint} (connection refused)"),
            "--endpoint-url",
            "store is running",
        ],
    );
}

#[test]
fn https_against_a_plain_http_store_says_to_use_http() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = server.endpoint.replacen("http://", "https://", 1);
    at(&server, dir.path(), &endpoint, &["list", "--suite", "app"]).fails(
        7,
        &[&endpoint, "plain HTTP", &format!("use {}", server.endpoint)],
    );
}

#[test]
fn a_bucket_in_the_endpoint_path_is_pointed_out() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("{}/artifacts", server.endpoint);
    let run = at(&server, dir.path(), &endpoint, &["list", "--suite", "app"]);
    run.fails(
        3,
        &[
            "the endpoint URL has a path (/artifacts)",
            "belongs in --bucket",
        ],
    );
    // Said once before any request, too.
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("has a path"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].contains("pass --bucket artifacts"),
        "{}",
        warnings[0]
    );
    // A gateway's longer path is not warned about before the requests.
    let gateway = format!("{}/storage/v1/s3", server.endpoint);
    let run = at(&server, dir.path(), &gateway, &["list", "--suite", "app"]);
    assert_ne!(run.code, 0);
    assert!(!run.stderr.contains("WARN"), "{}", run.stderr);
}

#[test]
fn a_virtual_hosted_name_that_does_not_resolve_suggests_path_style() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let host = nowhere();
    let endpoint = format!("http://{host}:9000");
    at(
        &server,
        dir.path(),
        &endpoint,
        &[
            "list",
            "--suite",
            "app",
            "--addressing-style",
            "virtual",
            "--max-attempts",
            "1",
        ],
    )
    .fails(
        7,
        &[
            &format!("could not resolve artifacts.{host}"),
            "--addressing-style path",
        ],
    );
    // Path-style: the endpoint's own host is what did not resolve.
    at(
        &server,
        dir.path(),
        &endpoint,
        &["list", "--suite", "app", "--max-attempts", "1"],
    )
    .fails(
        7,
        &[
            &format!("could not resolve the host of the S3 endpoint {endpoint}"),
            "--endpoint-url",
        ],
    );
}

#[test]
fn aws_without_a_network_names_the_host() {
    // A network namespace of its own has no route anywhere (not even loopback is up), so the
    // resolver fails at once, as on a machine without a network; where one cannot be made
    // (not root), the pure naming is covered by the unit tests of `s3::classify`.
    let isolated = std::process::Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !isolated {
        eprintln!("skipped: `unshare -n` is not available here");
        return;
    }
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = server.command("unshare", dir.path());
    cmd.env_remove("AWS_ENDPOINT_URL").args([
        "-n",
        env!("CARGO_BIN_EXE_s3blob"),
        "list",
        "--suite",
        "app",
        "--max-attempts",
        "1",
    ]);
    Run::from(cmd.output().unwrap()).fails(
        7,
        &[
            "could not resolve artifacts.s3.us-east-1.amazonaws.com",
            "network",
        ],
    );
}

#[test]
fn an_operation_the_store_lacks_is_one_line_tried_once_and_not_a_network_error() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "1.0", "a.bin", b"alpha", &[]);
    server.faults().inject(
        Op::GetObject,
        usize::MAX,
        Fault::Error {
            status: 501,
            code: "NotImplemented",
        },
    );
    let before = server.faults().count(Op::GetObject);
    let run = server.download(d, "app", "1.0", "a.bin", "out.bin");
    run.fails(1, &["does not implement GetObject", "s3blob doctor"]);
    assert!(!run.stderr.contains("retry"), "{}", run.stderr);
    assert_eq!(server.faults().count(Op::GetObject) - before, 1, "retried");
    assert!(!d.join("out.bin").exists());
}

#[test]
fn a_storage_class_the_store_lacks_says_to_drop_or_change_it() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.faults().inject(
        Op::PutObject,
        1,
        Fault::Error {
            status: 400,
            code: "InvalidStorageClass",
        },
    );
    std::fs::write(d.join("a.bin"), b"alpha").unwrap();
    server
        .run(
            d,
            &[
                "upload",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--storage-class",
                "STANDARD_IA",
                "a.bin",
            ],
        )
        .fails(1, &["InvalidStorageClass", "drop --storage-class"]);
}

#[test]
fn sse_that_the_store_does_not_keep_is_one_warning() {
    // s3s-fs accepts x-amz-server-side-encryption and answers without it, as stores that do
    // not encrypt do.
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = server.upload(
        d,
        "app",
        "1.0",
        &[("a.bin", b"alpha"), ("b.bin", b"beta")],
        &["--sse", "aws:kms"],
    );
    run.ok();
    let warnings: Vec<&str> = run.stderr.lines().filter(|l| l.contains("--sse")).collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].contains("--sse aws:kms")
            && warnings[0].contains("kept no server-side encryption"),
        "{}",
        warnings[0]
    );
    // Without --sse, nothing to say.
    let run = server.upload(d, "app", "1.1", &[("c.bin", b"gamma")], &[]);
    run.ok();
    assert!(!run.stderr.contains("--sse"), "{}", run.stderr);
}
