//! Configuration reaches the binary the documented ways: flags, environment, `.env`.

mod common;

use common::{ACCESS_KEY, SECRET_KEY, Server};

#[test]
fn dotenv_supplies_what_the_environment_lacks_and_never_overrides_it() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), b"x").unwrap();
    common::write_dotenv(
        &dir.path().join(".env"),
        format!(
            "S3BLOB_BUCKET=artifacts\nAWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\n"
        ),
    );
    let run = |cmd: &mut std::process::Command| common::Run::from(cmd.output().unwrap());

    // Everything but the endpoint from .env.
    let out = run(server
        .cmd(dir.path())
        .env_remove("S3BLOB_BUCKET")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["upload", "--suite", "s", "--release", "r", "f.txt"]));
    assert_eq!(out.ok(), "s3://artifacts/s/r/f.txt");

    // The real environment wins over .env: a bucket that does not exist proves it was used.
    let out = run(server
        .cmd(dir.path())
        .env("S3BLOB_BUCKET", "from-env")
        .args(["upload", "--suite", "s", "--release", "r2", "f.txt"]));
    out.fails(3, &["from-env"]);

    // And a flag wins over both.
    let out = run(server
        .cmd(dir.path())
        .env("S3BLOB_BUCKET", "from-env")
        .args([
            "upload",
            "--bucket",
            "artifacts",
            "--suite",
            "s",
            "--release",
            "r3",
            "f.txt",
        ]));
    assert_eq!(out.ok(), "s3://artifacts/s/r3/f.txt");
}

#[test]
fn endpoint_from_flag_and_aws_endpoint_url_s3() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), b"x").unwrap();
    let run = |cmd: &mut std::process::Command| common::Run::from(cmd.output().unwrap());
    let out = run(server.cmd(dir.path()).env_remove("AWS_ENDPOINT_URL").args([
        "upload",
        "--endpoint-url",
        &server.endpoint,
        "--suite",
        "s",
        "--release",
        "a",
        "f.txt",
    ]));
    assert_eq!(out.ok(), "s3://artifacts/s/a/f.txt");
    let out = run(server
        .cmd(dir.path())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_ENDPOINT_URL_S3", &server.endpoint)
        .args(["upload", "--suite", "s", "--release", "b", "f.txt"]));
    assert_eq!(out.ok(), "s3://artifacts/s/b/f.txt");
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let out = server.run(dir.path(), &["upload", "--help"]);
    assert!(out.ok().contains("Examples:"));
    assert!(out.stdout.contains("Exit codes"));
    let out = server.run(dir.path(), &["--version"]);
    assert!(out.ok().starts_with("s3blob "));
}
