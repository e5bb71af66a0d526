//! Promises of the README that no other file exercises through the binary: how a download was
//! checked (`verified`), what `verify` says of a file without a stored checksum and of a
//! corrupted object in an open release, a SHA-256-only mismatch, a store that keeps no
//! checksums, what each UploadPart carries, which credentials win, no instance-metadata probe
//! for a custom endpoint, and presigned URLs with temporary credentials.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{MIB, Op, Run, Server, data};
use s3blob::checksum;
use s3blob::manifest::Manifest;

/// `download --suite app --release RELEASE --filename NAME` with `extra` flags.
fn download(
    server: &Server,
    d: &std::path::Path,
    release: &str,
    name: &str,
    extra: &[&str],
) -> Run {
    let mut args = vec![
        "download",
        "--suite",
        "app",
        "--release",
        release,
        "--filename",
        name,
    ];
    args.extend_from_slice(extra);
    server.run(d, &args)
}

/// A download from a sealed release is checked against the manifest; from an open one, against
/// the CRC64NVME in the object's metadata.
#[test]
fn a_download_says_what_it_was_checked_against() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "1.0", "a.bin", b"sealed bytes", &["--seal"]);
    server.put(d, "app", "2.0", "a.bin", b"open bytes", &[]);
    for (release, want) in [("1.0", "manifest"), ("2.0", "checksum")] {
        let v = download(&server, d, release, "a.bin", &["--json", "-o", release]).file_json();
        assert_eq!(v["verified"], want, "{release}: {v}");
    }
}

/// A file planted in a release by another tool has no stored checksum: `seal` reads it to
/// list its CRC64NVME, `verify` without `--deep` says `unchecked` (it cannot tell without
/// reading), and `--deep` reads it and says `ok`.
#[test]
fn verify_says_unchecked_for_a_file_with_no_stored_checksum() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "1.0", "mine.bin", b"uploaded by s3blob", &[]);
    server.plant("app/1.0/theirs.bin", b"planted by another tool");
    server
        .run(d, &["seal", "--suite", "app", "--release", "1.0"])
        .ok();
    let status = |deep: bool| -> Vec<(String, String)> {
        let mut args = vec!["--json", "verify", "--suite", "app", "--release", "1.0"];
        if deep {
            args.push("--deep");
        }
        let v = server.run(d, &args).json();
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["filename"].as_str().unwrap().to_owned(),
                    f["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        status(false),
        [
            ("mine.bin".to_owned(), "ok".to_owned()),
            ("theirs.bin".to_owned(), "unchecked".to_owned())
        ]
    );
    assert_eq!(
        status(true),
        [
            ("mine.bin".to_owned(), "ok".to_owned()),
            ("theirs.bin".to_owned(), "ok".to_owned())
        ]
    );
}

/// An object of an open release corrupted in place (same size, one byte flipped): `verify
/// --deep` reads it, finds its CRC64NVME wrong and exits 5 naming it; the other file is ok.
#[test]
fn verify_deep_catches_a_corrupted_object_in_an_open_release() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "1.0", "good.bin", &data(3000, 1), &[]);
    server.put(d, "app", "1.0", "bad.bin", &data(3000, 2), &[]);
    let path = server.object_path("app/1.0/bad.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1234] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let out = server.run(
        d,
        &["verify", "--deep", "--suite", "app", "--release", "1.0"],
    );
    assert_eq!(out.code, 5, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("mismatch  bad.bin"), "{}", out.stdout);
    assert!(out.stdout.contains("ok        good.bin"), "{}", out.stdout);
    assert!(out.stderr.contains("bad.bin"), "{}", out.stderr);
}

/// The manifest rewritten (its self-check valid) with another SHA-256 for one file while the
/// CRC64NVME still matches: a download computes the SHA-256 the manifest lists and refuses the
/// file (exit 5, nothing written), and `verify --deep` reports the mismatch.
#[test]
fn a_sha256_only_mismatch_is_caught() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(
        d,
        "app",
        "1.0",
        "a.bin",
        &data(5000, 3),
        &["--seal", "--sha256sums"],
    );
    let key = "app/1.0/.s3blob-manifest.json";
    let mut manifest = Manifest::parse(&server.object(key).unwrap(), key).unwrap();
    let entry = manifest.files.get_mut("a.bin").unwrap();
    assert!(entry.sha256.is_some());
    entry.sha256 = Some("0".repeat(64));
    std::fs::write(server.object_path(key), manifest.to_json()).unwrap();

    let out = download(&server, d, "1.0", "a.bin", &["-o", "got.bin"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.contains("SHA-256"), "{}", out.stderr);
    assert!(!d.join("got.bin").exists());
    common::no_temp_files(d);

    let out = server.run(
        d,
        &["verify", "--deep", "--suite", "app", "--release", "1.0"],
    );
    assert_eq!(out.code, 5, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("mismatch  a.bin"), "{}", out.stdout);
}

/// A store that keeps no checksums: a multipart upload from stdin has its CRC64NVME nowhere
/// but at CompleteMultipartUpload, which this store drops; the download can only check the
/// size, and says so (`size-only`, and a warning).
#[test]
fn a_stream_on_a_store_that_keeps_no_checksums_is_checked_by_size_only() {
    let server = Server::start_faulty();
    server.faults().keep_no_checksums(true);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(11 * MIB, 4);
    let mut child = server
        .cmd(d)
        .args([
            "upload",
            "--suite",
            "app",
            "--release",
            "1.0",
            "--filename",
            "stream.bin",
            "--part-size",
            "5MiB",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    Run::from(child.wait_with_output().unwrap()).ok();
    let down = download(
        &server,
        d,
        "1.0",
        "stream.bin",
        &["--json", "-o", "back.bin"],
    );
    let v = down.file_json();
    assert_eq!(v["verified"], "size-only", "{v}");
    assert!(down.stderr.contains("only its size"), "{}", down.stderr);
    assert!(std::fs::read(d.join("back.bin")).unwrap() == bytes);
}

/// Every UploadPart is sent `UNSIGNED-PAYLOAD` (no aws-chunked encoding) with the CRC64NVME of
/// exactly its own bytes in `x-amz-checksum-crc64nvme`.
#[test]
fn every_part_carries_its_own_crc64nvme_unsigned() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(12 * MIB, 5);
    server.put(d, "app", "1.0", "big.bin", &bytes, &["--part-size", "5MiB"]);
    let parts: Vec<_> = server
        .faults()
        .requests()
        .into_iter()
        .filter(|r| r.op == Op::UploadPart)
        .collect();
    assert_eq!(parts.len(), 3);
    for part in parts {
        let n: usize = part
            .query
            .split('&')
            .find_map(|kv| kv.strip_prefix("partNumber="))
            .unwrap()
            .parse()
            .unwrap();
        let start = (n - 1) * 5 * MIB;
        let end = (start + 5 * MIB).min(bytes.len());
        let want = checksum::to_base64(checksum::crc64(&bytes[start..end]));
        assert_eq!(
            part.header("x-amz-content-sha256").as_deref(),
            Some("UNSIGNED-PAYLOAD"),
            "part {n}"
        );
        assert_eq!(
            part.header("x-amz-checksum-crc64nvme").as_deref(),
            Some(want.as_str()),
            "part {n}"
        );
        assert_eq!(part.header("content-encoding"), None, "part {n}");
    }
}

/// Keys in the environment come before the profile's, as the AWS chain orders them: with
/// different keys in the default profile, requests are signed with the environment's.
#[test]
fn environment_keys_come_before_the_profiles() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join(".aws-credentials"),
        "[default]\naws_access_key_id = AKIAPROFILEKEY000000\naws_secret_access_key = profile-secret\n",
    )
    .unwrap();
    server.put(d, "app", "1.0", "a.bin", b"bytes", &[]);
    let keys: Vec<_> = server
        .faults()
        .requests()
        .iter()
        .filter_map(|r| r.access_key())
        .collect();
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k == common::ACCESS_KEY),
        "signed with {keys:?}"
    );
}

/// With a custom endpoint and no region configured, s3blob asks no instance-metadata service
/// for one (a laptop or a CI runner outside EC2 would wait on it): a listener standing in for
/// the service sees no connection, and the command works.
#[test]
fn a_custom_endpoint_without_a_region_does_not_ask_instance_metadata() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.bin"), b"bytes").unwrap();
    let imds = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = imds.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    imds.set_nonblocking(false).unwrap();
    std::thread::spawn(move || {
        for conn in imds.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            // Answer nothing useful: a probe would get a 404 and move on.
            if let Ok(mut c) = conn {
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf);
                let _ = c.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
            }
        }
    });
    let out = Run::from(
        server
            .cmd(d)
            .env_remove("AWS_REGION")
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env(
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                format!("http://{addr}"),
            )
            .args(["upload", "--suite", "app", "--release", "1.0", "a.bin"])
            .output()
            .unwrap(),
    );
    out.ok();
    assert_eq!(connections.load(Ordering::SeqCst), 0, "{}", out.stderr);
}

/// A presigned URL made with temporary credentials carries their session token (without it
/// S3 refuses the URL).
#[test]
fn a_presigned_url_with_temporary_credentials_carries_the_session_token() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "1.0", "a.bin", b"bytes", &[]);
    let out = Run::from(
        server
            .cmd(d)
            .env("AWS_SESSION_TOKEN", "FwoTEMPORARY-session-token-0001")
            .args([
                "presign",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--filename",
                "a.bin",
            ])
            .output()
            .unwrap(),
    );
    let url = out.ok().to_owned();
    assert!(
        url.contains("X-Amz-Security-Token=FwoTEMPORARY-session-token-0001"),
        "{url}"
    );
}

/// A store that answers a losing CompleteMultipartUpload with an error s3blob cannot read as
/// a refusal (moto answers 200 with an error body): the key holds another writer's object, so
/// this upload lost the race to it: exit 6, as a refusal would have said, its upload aborted
/// and the other object left as it is.
#[test]
fn a_completion_lost_to_another_writer_is_exit_6_whatever_the_answer() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("big.bin"), data(11 * MIB, 6)).unwrap();
    // The other writer's object lands unseen: the look before writing finds the key free.
    server.plant("app/1.0/big.bin", b"the other writer's bytes");
    let faults = server.faults();
    faults.inject(
        Op::HeadObject,
        1,
        common::Fault::Error {
            status: 404,
            code: "NoSuchKey",
        },
    );
    faults.inject(
        Op::CompleteMultipartUpload,
        1,
        common::Fault::Error {
            status: 200,
            code: "PreconditionFailed",
        },
    );
    let out = server.run(
        d,
        &[
            "upload",
            "--part-size",
            "5MiB",
            "--suite",
            "app",
            "--release",
            "1.0",
            "big.bin",
        ],
    );
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        out.stderr.contains("s3://artifacts/app/1.0/big.bin"),
        "{}",
        out.stderr
    );
    assert_eq!(
        server.object("app/1.0/big.bin").unwrap(),
        b"the other writer's bytes"
    );
    assert_eq!(server.open_uploads(), 0);
}

/// `--addressing-style virtual` puts the bucket in the host name (`artifacts.localhost:PORT`),
/// not in the path, for every request: a multipart upload, a listing, a ranged download and a
/// delete all work that way, and `path` puts it back in the path. This machine's resolver need
/// not know `*.localhost`: the requests go through the test proxy, which sends those names to
/// the loopback address, as RFC 6761 has them.
#[test]
fn virtual_addressing_names_the_bucket_in_the_host() {
    let server = Server::start_faulty();
    let proxy = common::proxy::TestProxy::start(common::proxy::Mode::Open);
    let port = server.endpoint.rsplit(':').next().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(11 * MIB, 7);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();
    let run = |style: &str, args: &[&str]| {
        Run::from(
            server
                .cmd(d)
                .env("AWS_ENDPOINT_URL", format!("http://localhost:{port}"))
                .env("HTTP_PROXY", proxy.url())
                .args(["--addressing-style", style])
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let faults = server.faults();
    run(
        "virtual",
        &[
            "upload",
            "--part-size",
            "5MiB",
            "--suite",
            "app",
            "--release",
            "1.0",
            "big.bin",
        ],
    )
    .ok();
    assert!(server.object("app/1.0/big.bin").unwrap() == bytes);
    let listed = run("virtual", &["list", "--suite", "app", "--release", "1.0"]);
    assert!(listed.ok().contains("big.bin"), "{}", listed.stdout);
    run(
        "virtual",
        &[
            "download",
            "--part-size",
            "5MiB",
            "--suite",
            "app",
            "--release",
            "1.0",
            "--filename",
            "big.bin",
            "-o",
            "back.bin",
        ],
    )
    .ok();
    assert!(std::fs::read(d.join("back.bin")).unwrap() == bytes);
    run(
        "virtual",
        &[
            "delete",
            "--suite",
            "app",
            "--release",
            "1.0",
            "--filename",
            "big.bin",
            "--yes",
        ],
    )
    .ok();
    assert!(server.object("app/1.0/big.bin").is_none());

    let requests = faults.requests();
    let ops: Vec<Op> = requests.iter().map(|r| r.op).collect();
    for op in [
        Op::CreateMultipartUpload,
        Op::UploadPart,
        Op::CompleteMultipartUpload,
        Op::ListObjectsV2,
        Op::GetObject,
        Op::DeleteObject,
    ] {
        assert!(ops.contains(&op), "no {op:?} in {ops:?}");
    }
    let virtual_host = format!("artifacts.localhost:{port}");
    for r in &requests {
        assert_eq!(
            r.header("host").as_deref(),
            Some(virtual_host.as_str()),
            "{r:?}"
        );
        assert!(!r.path.starts_with("/artifacts"), "{r:?}");
    }

    // Path style on the same endpoint: the bucket is back in the path.
    let before = faults.requests().len();
    run("path", &["list"]).ok();
    let path_style = &faults.requests()[before..];
    assert!(!path_style.is_empty());
    for r in path_style {
        assert_eq!(r.header("host"), Some(format!("localhost:{port}")), "{r:?}");
        assert!(r.path.starts_with("/artifacts"), "{r:?}");
    }
}
