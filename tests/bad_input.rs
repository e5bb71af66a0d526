//! Every bad input gets a one-line error naming what is wrong, its own exit code, and changes
//! nothing: no object stored, no file written.

mod common;

use common::{BUCKET, Server};

fn setup() -> (Server, tempfile::TempDir) {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.bin"), b"payload").unwrap();
    (server, dir)
}

fn stored_keys(server: &Server) -> Vec<String> {
    fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut v = Vec::new();
    walk(
        &server.root.path().join(BUCKET),
        &server.root.path().join(BUCKET),
        &mut v,
    );
    v
}

#[test]
fn bad_key_parts_are_usage_errors_naming_the_flag() {
    let (server, dir) = setup();
    let long = "x".repeat(1100);
    let cases: &[(&[&str], &[&str])] = &[
        (&["--suite", "", "--release", "r"], &["--suite", "empty"]),
        (&["--suite", "a/b", "--release", "r"], &["--suite", "'/'"]),
        (&["--suite", "s", "--release", "."], &["--release", "'.'"]),
        (&["--suite", "s", "--release", ".."], &["--release"]),
        (
            &["--suite", "s", "--release", "r\u{7}"],
            &["--release", "control"],
        ),
        (
            &["--suite", "s", "--release", "r", "--filename", "a/b"],
            &["--filename"],
        ),
        (
            &["--suite", "s", "--release", "r", "--filename", ""],
            &["--filename", "empty"],
        ),
        (&["--suite", "s", "--release", &long], &["key", "1024"]),
    ];
    for (args, needles) in cases {
        let mut up = vec!["upload"];
        up.extend_from_slice(args);
        up.push("f.bin");
        server.run(dir.path(), &up).fails(2, needles);

        let mut down = vec!["download"];
        down.extend_from_slice(args);
        if !args.contains(&"--filename") {
            down.extend_from_slice(&["--filename", "f.bin"]);
        }
        down.extend_from_slice(&["-o", "out.bin"]);
        server.run(dir.path(), &down).fails(2, needles);
        assert!(!dir.path().join("out.bin").exists());
    }
    assert!(
        stored_keys(&server).is_empty(),
        "{:?}",
        stored_keys(&server)
    );
}

// Unix only: a FIFO (mkfifo) and file modes.
#[cfg(unix)]
#[test]
fn local_path_problems() {
    let (server, dir) = setup();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    let up = |path: &str| {
        server.run(
            dir.path(),
            &["upload", "--suite", "s", "--release", "r", path],
        )
    };
    up("missing.bin").fails(3, &["missing.bin", "does not exist"]);
    up("adir").fails(2, &["adir", "directory"]);
    up("/dev/null").fails(2, &["/dev/null", "not a regular file"]);
    // A FIFO is refused before it is opened (opening it would block until a writer comes).
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    up("pipe").fails(2, &["pipe", "not a regular file"]);

    // Unreadable: run as a user the mode applies to (root ignores modes).
    use std::os::unix::fs::PermissionsExt;
    let locked = dir.path().join("locked.bin");
    std::fs::write(&locked, b"secret").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    server
        .run_unprivileged(
            dir.path(),
            &["upload", "--suite", "s", "--release", "r", "locked.bin"],
        )
        .fails(4, &["locked.bin", "permission denied"]);
    assert!(stored_keys(&server).is_empty());
}

// Unix only: a file name that is not UTF-8 bytes (Windows names are UTF-16).
#[cfg(unix)]
#[test]
fn non_utf8_file_name_needs_filename() {
    use std::os::unix::ffi::OsStrExt;
    let (server, dir) = setup();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff.bin");
    std::fs::write(dir.path().join(name), b"x").unwrap();
    let out = server
        .cmd(dir.path())
        .args(["upload", "--suite", "s", "--release", "r"])
        .arg(name)
        .output()
        .unwrap();
    common::Run::from(out).fails(2, &["UTF-8", "--filename"]);
    let out = server
        .cmd(dir.path())
        .args([
            "upload",
            "--suite",
            "s",
            "--release",
            "r",
            "--filename",
            "good.bin",
        ])
        .arg(name)
        .output()
        .unwrap();
    assert_eq!(common::Run::from(out).ok(), "s3://artifacts/s/r/good.bin");
}

#[test]
fn credentials_missing_or_wrong() {
    let (server, dir) = setup();
    let out = server
        .cmd(dir.path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["upload", "--suite", "s", "--release", "r", "f.bin"])
        .output()
        .unwrap();
    common::Run::from(out).fails(4, &["no AWS credentials", "AWS_ACCESS_KEY_ID"]);

    let out = server
        .cmd(dir.path())
        .env("AWS_SECRET_ACCESS_KEY", "wrong-secret")
        .args(["upload", "--suite", "s", "--release", "r", "f.bin"])
        .output()
        .unwrap();
    let run = common::Run::from(out);
    run.fails(4, &["access denied", "s3://artifacts/s/r/f.bin"]);
    assert!(!run.stderr.contains("wrong-secret"));

    let out = server
        .cmd(dir.path())
        .env("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN")
        .args([
            "download",
            "--suite",
            "s",
            "--release",
            "r",
            "--filename",
            "f.bin",
            "-o",
            "o.bin",
        ])
        .output()
        .unwrap();
    common::Run::from(out).fails(4, &["access denied"]);
    assert!(!dir.path().join("o.bin").exists());
    assert!(stored_keys(&server).is_empty());
}

#[test]
fn missing_bucket_and_key() {
    let (server, dir) = setup();
    // The upload's failure, said as the upload's: not the manifest it looked at first.
    let up = server.run(
        dir.path(),
        &[
            "upload",
            "--bucket",
            "nope-bucket",
            "--suite",
            "s",
            "--release",
            "r",
            "f.bin",
        ],
    );
    up.fails(
        3,
        &[
            "cannot upload to s3://nope-bucket/s/r/f.bin",
            "nope-bucket",
            "does not exist",
            "--bucket",
        ],
    );
    assert!(!up.stderr.contains("manifest"), "{}", up.stderr);
    server
        .run(
            dir.path(),
            &[
                "download",
                "--bucket",
                "nope-bucket",
                "--suite",
                "s",
                "--release",
                "r",
                "--filename",
                "f.bin",
                "-o",
                "o.bin",
            ],
        )
        .fails(3, &["nope-bucket"]);
    server
        .download(dir.path(), "s", "r", "none.bin", "o.bin")
        .fails(3, &["s3://artifacts/s/r/none.bin", "no such object"]);
    assert!(!dir.path().join("o.bin").exists());
    assert!(!server.root.path().join("nope-bucket").exists());
}

#[test]
fn no_bucket_at_all() {
    let (server, dir) = setup();
    let out = server
        .cmd(dir.path())
        .env_remove("S3BLOB_BUCKET")
        .args(["upload", "--suite", "s", "--release", "r", "f.bin"])
        .output()
        .unwrap();
    common::Run::from(out).fails(2, &["--bucket", "S3BLOB_BUCKET"]);
}

// Unix only: a directory made unwritable by its mode.
#[cfg(unix)]
#[test]
fn output_directory_missing_or_unwritable() {
    let (server, dir) = setup();
    server
        .run(
            dir.path(),
            &["upload", "--suite", "s", "--release", "r", "f.bin"],
        )
        .ok();
    // A directory that does not exist is made, for one file as for many (`-o DIR/` or
    // `-o DIR/NAME`), and removed again when the download fails.
    server
        .download(dir.path(), "s", "r", "f.bin", "nodir/deeper/x.bin")
        .ok();
    assert_eq!(
        std::fs::read(dir.path().join("nodir/deeper/x.bin")).unwrap(),
        std::fs::read(dir.path().join("f.bin")).unwrap()
    );
    let out = server.download(dir.path(), "s", "r", "f.bin", "fresh/");
    assert_eq!(out.ok(), "fresh/f.bin");
    assert!(dir.path().join("fresh/f.bin").is_file());
    server
        .download(dir.path(), "s", "r", "none.bin", "gone/deeper/")
        .fails(3, &["none.bin"]);
    assert!(
        !dir.path().join("gone").exists(),
        "a failed download leaves no directory"
    );
    server
        .download(dir.path(), "s", "r", "none.bin", "nodir/other/x.bin")
        .fails(3, &["none.bin"]);
    assert!(!dir.path().join("nodir/other").exists());
    assert!(
        dir.path().join("nodir/deeper/x.bin").exists(),
        "what was there stays"
    );

    use std::os::unix::fs::PermissionsExt;
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores directory modes: run as a user they apply to.
    server
        .run_unprivileged(
            dir.path(),
            &[
                "download",
                "--suite",
                "s",
                "--release",
                "r",
                "--filename",
                "f.bin",
                "-o",
                "ro/",
            ],
        )
        .fails(4, &["ro", "permission denied"]);
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
    // sysfs refuses new files even to root, so this case runs whoever runs the test.
    if std::path::Path::new("/sys/fs").is_dir() {
        server
            .download(dir.path(), "s", "r", "f.bin", "/sys/fs/")
            .fails(4, &["/sys/fs", "permission denied"]);
    }
}

#[test]
fn bad_flag_values() {
    let (server, dir) = setup();
    let up = |extra: &[&str]| {
        let mut args = vec!["upload", "--suite", "s", "--release", "r", "f.bin"];
        args.extend_from_slice(extra);
        server.run(dir.path(), &args)
    };
    // Values clap's parsers refuse, with the flag and what was typed.
    up(&["--part-size", "1MiB"]).usage_error(&["'1MiB'", "--part-size"]);
    // The error echoes what was typed, not the number it parsed to.
    up(&["--part-size", "1KiB"]).usage_error(&["--part-size", "1KiB", "5MiB to 5GiB"]);
    assert!(!up(&["--part-size", "1KiB"]).stderr.contains("1024"));
    up(&["--timeout", "0"]).usage_error(&["'0'", "--timeout"]);
    up(&["--concurrency", "0"]).usage_error(&["'0'", "--concurrency"]);
    up(&["--max-attempts", "0"]).usage_error(&["'0'", "--max-attempts"]);
    up(&["--region", "eu west"]).usage_error(&["'eu west'", "--region"]);
    // Values s3blob itself refuses.
    up(&["--endpoint-url", "localhost:9"]).fails(2, &["--endpoint-url"]);
    up(&["--bucket", "s3://artifacts"]).fails(2, &["--bucket"]);
    // clap's own usage errors keep exit code 2.
    up(&["--part-size", "lots"]).usage_error(&["'lots'", "--part-size"]);
    server
        .run(dir.path(), &["upload", "f.bin"])
        .usage_error(&["--suite"]);
    assert!(stored_keys(&server).is_empty());
}

/// clap's refusals read like s3blob's: one `s3blob: error:` line with the value as typed,
/// then the usage; numbers and durations say what would be accepted.
#[test]
fn argument_errors_are_one_line() {
    let (server, dir) = setup();
    let run = |args: &[&str]| server.run(dir.path(), args);
    run(&["prune", "--suite", "x", "--keep", "0"]).usage_error(&[
        "'0'",
        "--keep",
        "keep at least 1 release",
    ]);
    run(&["prune", "--suite", "x", "--dry-run"]).usage_error(&["--keep", "--older-than"]);
    run(&["prune", "--suite", "x", "--older-than", "1y", "--dry-run"])
        .usage_error(&["'1y'", "365d"]);
    run(&[
        "presign",
        "--suite",
        "s",
        "--release",
        "r",
        "--filename",
        "f",
        "--expires",
        "8d",
    ])
    .usage_error(&["'8d'", "--expires", "7d"]);
    let typo = run(&["seal", "--suite", "s", "--release", "r", "--filname", "a"]);
    typo.usage_error(&["'--filname'", "'--filename'"]);
    assert!(
        typo.stderr.contains("usage: s3blob seal"),
        "{}",
        typo.stderr
    );
    // Weeks are a unit; prune with --older-than alone is complete.
    let prune = run(&["prune", "--suite", "x", "--older-than", "3w", "--dry-run"]);
    assert_ne!(prune.code, 2, "{}", prune.stderr);
    // Help still goes to stdout, exit 0.
    let help = run(&["prune", "--help"]);
    assert!(help.ok().contains("--older-than"));
}

/// A batch checks every path before its first request: a missing file, a directory or a
/// duplicate name among them leaves the release untouched.
#[test]
fn a_batch_checks_every_path_first() {
    let (server, dir) = setup();
    for name in ["a.bin", "b.bin"] {
        std::fs::write(dir.path().join(name), name).unwrap();
    }
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let up = |paths: &[&str]| {
        let mut args = vec!["upload", "--suite", "s", "--release", "r"];
        args.extend_from_slice(paths);
        server.run(dir.path(), &args)
    };
    up(&["a.bin", "b.bin", "sub"]).fails(2, &["sub is a directory"]);
    up(&["a.bin", "b.bin", "missing.bin"]).fails(3, &["missing.bin", "does not exist"]);
    up(&["a.bin", "./a.bin"]).fails(2, &["two PATHs are named \"a.bin\""]);
    assert!(
        stored_keys(&server).is_empty(),
        "{:?}",
        stored_keys(&server)
    );
}

#[test]
fn unreachable_endpoint_is_a_network_error() {
    let (server, dir) = setup();
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    server
        .run(
            dir.path(),
            &[
                "upload",
                "--endpoint-url",
                &url,
                "--max-attempts",
                "2",
                "--suite",
                "s",
                "--release",
                "r",
                "f.bin",
            ],
        )
        .fails(
            7,
            &[
                "cannot upload to s3://",
                "could not reach",
                "--endpoint-url",
            ],
        );
}
