//! A hostile working directory: what a `.env` (or any other file a checkout can hold) may
//! change, and what it may not. Each attack is tried as an attacker would, with the real
//! environment leaving the variable unset, and a marker proves it had no effect: no file
//! touched by a `credential_process`, no connection on a listener the `.env` named, no trust in
//! a CA it named, the same requests as without it. Under `CI` the file is not read at all
//! unless `--env-file` (or `S3BLOB_ENV_FILE`) names it; a file others can write is refused.
// Unix only: most cases set file modes, owners or FIFOs (the owner and mode check is Unix only).
#![cfg(unix)]

mod common;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ACCESS_KEY, BUCKET, Op, Run, SECRET_KEY, Server};

/// A loopback port that answers nothing: a connection to it is counted, never served.
struct Listener(TcpListener);

impl Listener {
    fn new() -> Listener {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        Listener(l)
    }

    fn url(&self) -> String {
        format!("http://{}", self.0.local_addr().unwrap())
    }

    /// Connections made so far. Called after the binary exited: a connection it opened is in
    /// the backlog (the kernel completed the handshake) whether or not it is still open.
    fn connections(&self) -> usize {
        let mut n = 0;
        loop {
            match self.0.accept() {
                Ok(_) => n += 1,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return n,
                Err(e) => panic!("accept: {e}"),
            }
        }
    }
}

/// Writes `text` as `dir/name`, readable and writable by its owner only.
fn write_private(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    common::write_dotenv(&path, text);
    path
}

/// An executable that touches `marker` and prints the test server's keys as a
/// `credential_process` would: if it ever runs, the marker says so.
fn evil_script(dir: &Path, marker: &Path) -> PathBuf {
    let script = dir.join("evil.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch '{}'\necho '{{\"Version\":1,\"AccessKeyId\":\"{ACCESS_KEY}\",\"SecretAccessKey\":\"{SECRET_KEY}\"}}'\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The lines of stderr that say `name` was ignored.
fn warnings<'a>(run: &'a Run, name: &str) -> Vec<&'a str> {
    run.stderr
        .lines()
        .filter(|l| l.contains(name) && l.contains("ignored"))
        .collect()
}

/// Asserts exactly one warning line about `name`, saying where to set it instead.
#[track_caller]
fn warned_once(run: &Run, name: &str, file: &str) {
    let lines = warnings(run, name);
    assert_eq!(
        lines.len(),
        1,
        "one warning about {name} in: {}",
        run.stderr
    );
    assert!(lines[0].contains(file), "{:?} should name {file}", lines[0]);
    assert!(
        lines[0].contains("environment"),
        "{:?} should say to set it in the environment",
        lines[0]
    );
}

fn upload_args(release: &str) -> Vec<String> {
    [
        "--max-attempts",
        "1",
        "--timeout",
        "2",
        "upload",
        "--suite",
        "s",
        "--release",
        release,
        "f.txt",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Runs `cmd` (already configured) with the upload of `f.txt` as release `release`.
fn upload(cmd: &mut Command, dir: &Path, release: &str) -> Run {
    std::fs::write(dir.join("f.txt"), b"payload").unwrap();
    Run::from(cmd.args(upload_args(release)).output().unwrap())
}

/// The harness's environment without static keys: the chain must look elsewhere.
fn keyless(server: &Server, dir: &Path) -> Command {
    let mut cmd = server.cmd(dir);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd
}

#[test]
fn dotenv_cannot_make_s3blob_run_a_program() {
    let server = Server::start();
    // (variable, .env line, what else the real environment leaves unset)
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let script = evil_script(dir.path(), &marker);
    let process = format!("credential_process = {}\n", script.display());
    write_private(
        dir.path(),
        "evil.config",
        &format!("[default]\n{process}[profile tools]\n{process}"),
    );
    write_private(
        dir.path(),
        "evil.credentials",
        &format!("[default]\n{process}"),
    );
    std::fs::create_dir_all(dir.path().join("home/.aws")).unwrap();
    write_private(
        &dir.path().join("home/.aws"),
        "config",
        &format!("[default]\n{process}"),
    );
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "AWS_CONFIG_FILE",
            "AWS_CONFIG_FILE=evil.config\n",
            &["AWS_CONFIG_FILE"],
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_SHARED_CREDENTIALS_FILE=evil.credentials\n",
            &["AWS_SHARED_CREDENTIALS_FILE"],
        ),
        // A profile of the user's own config (here: the real AWS_CONFIG_FILE) that runs a
        // program, chosen by the directory.
        ("AWS_PROFILE", "AWS_PROFILE=tools\n", &[]),
        // A home directory whose ~/.aws/config the directory wrote.
        (
            "HOME",
            &format!("HOME={}\n", dir.path().join("home").display()),
            &["HOME", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"],
        ),
    ];
    for (i, (name, line, unset)) in cases.into_iter().enumerate() {
        write_private(dir.path(), ".env", line);
        let mut cmd = keyless(&server, dir.path());
        for v in unset {
            cmd.env_remove(v);
        }
        if name == "AWS_PROFILE" {
            // The default profile of that config runs it too: only `tools` is under test.
            write_private(
                dir.path(),
                "user.config",
                &format!("[default]\n[profile tools]\n{process}"),
            );
            cmd.env("AWS_CONFIG_FILE", dir.path().join("user.config"));
        }
        let out = upload(&mut cmd, dir.path(), &i.to_string());
        assert!(
            !marker.exists(),
            "{name} from .env ran a credential_process: {}",
            out.stderr
        );
        out.fails(4, &["no AWS credentials"]);
        warned_once(&out, name, ".env");
    }
}

#[test]
fn dotenv_cannot_send_requests_to_a_host_it_names() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();

    // The S3 endpoint: the upload goes to the one the environment names.
    let listener = Listener::new();
    write_private(
        dir.path(),
        ".env",
        &format!("AWS_ENDPOINT_URL_S3={}\n", listener.url()),
    );
    let out = upload(&mut server.cmd(dir.path()), dir.path(), "s3");
    assert_eq!(listener.connections(), 0, "{}", out.stderr);
    assert_eq!(out.ok(), "s3://artifacts/s/s3/f.txt");
    assert!(server.object("s/s3/f.txt").is_some());
    warned_once(&out, "AWS_ENDPOINT_URL_S3", ".env");

    // Credential endpoints: container credentials, instance metadata, STS for a web identity
    // whose token and role the .env names too. No credentials anywhere else: exit 4.
    std::fs::write(dir.path().join("token"), "eyTOKEN").unwrap();
    type Case = (&'static str, fn(&str) -> String, &'static [&'static str]);
    let cases: [Case; 3] = [
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            |url| {
                format!(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI={url}/creds\nAWS_CONTAINER_AUTHORIZATION_TOKEN=t0ken\n"
                )
            },
            &["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
        ),
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            |url| format!("AWS_EC2_METADATA_SERVICE_ENDPOINT={url}\n"),
            &[],
        ),
        (
            "AWS_ENDPOINT_URL_STS",
            |url| {
                format!(
                    "AWS_ENDPOINT_URL_STS={url}\nAWS_WEB_IDENTITY_TOKEN_FILE=token\nAWS_ROLE_ARN=arn:aws:iam::123456789012:role/x\n"
                )
            },
            &["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"],
        ),
    ];
    for (name, dotenv, also) in cases {
        let listener = Listener::new();
        write_private(dir.path(), ".env", &dotenv(&listener.url()));
        let mut cmd = keyless(&server, dir.path());
        if name == "AWS_EC2_METADATA_SERVICE_ENDPOINT" {
            // Instance metadata on: only where it is would differ.
            cmd.env_remove("AWS_EC2_METADATA_DISABLED");
        }
        let out = upload(&mut cmd, dir.path(), name);
        assert_eq!(
            listener.connections(),
            0,
            "{name} from .env was used: {}",
            out.stderr
        );
        out.fails(4, &["no AWS credentials"]);
        for v in std::iter::once(&name).chain(also) {
            warned_once(&out, v, ".env");
        }
    }

    // The generic endpoint, with none in the environment: the request goes to AWS itself
    // (which this sandbox may or may not reach), never to the listener.
    let listener = Listener::new();
    write_private(
        dir.path(),
        ".env",
        &format!("AWS_ENDPOINT_URL={}\n", listener.url()),
    );
    let out = upload(
        server.cmd(dir.path()).env_remove("AWS_ENDPOINT_URL"),
        dir.path(),
        "generic",
    );
    assert_eq!(listener.connections(), 0, "{}", out.stderr);
    assert!(
        matches!(out.code, 4 | 7),
        "exit {}: {}",
        out.code,
        out.stderr
    );
    warned_once(&out, "AWS_ENDPOINT_URL", ".env");
}

#[test]
fn dotenv_cannot_choose_which_certificate_authorities_are_trusted() {
    let ca = s3blob_testserver::tls::TestCa::new();
    let server = Server::start_tls(&ca, "127.0.0.1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca.ca_pem).unwrap();
    for name in ["AWS_CA_BUNDLE", "SSL_CERT_FILE"] {
        write_private(dir.path(), ".env", &format!("{name}=ca.pem\n"));
        let out = upload(&mut server.cmd(dir.path()), dir.path(), name);
        out.fails(7, &["is not trusted", "the system's root certificates"]);
        warned_once(&out, name, ".env");
    }
    // The same bundle from the environment is trusted: the refusal above is the .env's.
    let out = upload(
        server
            .cmd(dir.path())
            .env("AWS_CA_BUNDLE", dir.path().join("ca.pem")),
        dir.path(),
        "env",
    );
    assert_eq!(out.ok(), "s3://artifacts/s/env/f.txt");
}

#[test]
fn dotenv_cannot_weaken_checks() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    write_private(
        dir.path(),
        ".env",
        "S3BLOB_CONDITIONAL_WRITES=trusted\nS3BLOB_CHECKSUM_HEADER=off\n",
    );
    let out = upload(&mut server.cmd(dir.path()), dir.path(), "1");
    assert_eq!(out.ok(), "s3://artifacts/s/1/f.txt");
    // A custom endpoint is not trusted to enforce If-None-Match: the key is looked at before
    // and read back after; and the PUT carries its checksum for the store to check.
    let requests = server.faults().requests();
    let heads = requests.iter().filter(|r| r.op == Op::HeadObject).count();
    assert_eq!(heads, 2, "{:?}", server.faults().log());
    let put = requests.iter().find(|r| r.op == Op::PutObject).unwrap();
    assert!(
        put.header("x-amz-checksum-crc64nvme").is_some(),
        "the checksum header was dropped"
    );
    warned_once(&out, "S3BLOB_CONDITIONAL_WRITES", ".env");
    warned_once(&out, "S3BLOB_CHECKSUM_HEADER", ".env");

    // The flags still weaken them, as the user's own choice.
    let out = upload(
        server
            .cmd(dir.path())
            .args(["--conditional-writes", "trusted"]),
        dir.path(),
        "2",
    );
    out.ok();
    let heads = server
        .faults()
        .requests()
        .iter()
        .filter(|r| r.op == Op::HeadObject)
        .count();
    assert_eq!(heads, 2, "trusted: one conditional PUT, no HEAD");
}

/// Every variable that names a file, a command, an endpoint, a CA, a credential source or a
/// check, set harmlessly in one `.env`: each is ignored with exactly one line, and the upload
/// works with what the environment says.
#[test]
fn every_refused_variable_is_named_once() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let refused = [
        "AWS_CONFIG_FILE=nope",
        "AWS_SHARED_CREDENTIALS_FILE=nope",
        "AWS_PROFILE=nope",
        "AWS_WEB_IDENTITY_TOKEN_FILE=nope",
        "AWS_ROLE_ARN=arn:aws:iam::1:role/x",
        "AWS_ROLE_SESSION_NAME=x",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN=x",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=nope",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1/",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6",
        "AWS_EC2_METADATA_DISABLED=false",
        "AWS_CA_BUNDLE=nope",
        "AWS_ENDPOINT_URL=http://127.0.0.1:1",
        "AWS_ENDPOINT_URL_S3=http://127.0.0.1:1",
        "AWS_ENDPOINT_URL_SSO=http://127.0.0.1:1",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true",
        "AWS_RESPONSE_CHECKSUM_VALIDATION=when_required",
        "AWS_USE_FIPS_ENDPOINT=true",
        "S3BLOB_CONDITIONAL_WRITES=trusted",
        "S3BLOB_CHECKSUM_HEADER=off",
        "S3BLOB_TEST_COPY_MULTIPART_ABOVE=1",
        "S3BLOB_ENV_FILE=other.env",
        "S3BLOB_SOMETHING_NEW=1",
        "SSL_CERT_FILE=nope",
        "SSL_CERT_DIR=nope",
    ];
    let mut text: String = refused.iter().map(|l| format!("{l}\n")).collect();
    // Not s3blob's: not set for anyone, and not worth a line.
    text.push_str("DATABASE_URL=postgres://x\nLD_PRELOAD=/nope.so\n");
    write_private(dir.path(), ".env", &text);
    let mut cmd = server.cmd(dir.path());
    for line in refused {
        let name = line.split('=').next().unwrap();
        if name != "AWS_ENDPOINT_URL" {
            cmd.env_remove(name);
        }
    }
    let out = upload(&mut cmd, dir.path(), "1");
    assert_eq!(out.ok(), "s3://artifacts/s/1/f.txt");
    for line in refused {
        let name = line.split('=').next().unwrap();
        let lines: Vec<_> = out
            .stderr
            .lines()
            .filter(|l| l.contains("ignored") && l.contains(&format!("{name} ")))
            .collect();
        assert_eq!(lines.len(), 1, "{name}: {}", out.stderr);
    }
    assert!(!out.stderr.contains("DATABASE_URL"), "{}", out.stderr);
    assert!(!out.stderr.contains("LD_PRELOAD"), "{}", out.stderr);
    assert_eq!(
        out.stderr.lines().filter(|l| l.contains("ignored")).count(),
        refused.len(),
        "{}",
        out.stderr
    );
}

#[test]
fn under_ci_dotenv_is_not_read_at_all() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let script = evil_script(dir.path(), &marker);
    write_private(
        dir.path(),
        "evil.config",
        &format!("[default]\ncredential_process = {}\n", script.display()),
    );
    write_private(
        dir.path(),
        ".env",
        &format!("S3BLOB_BUCKET={BUCKET}\nAWS_CONFIG_FILE=evil.config\n"),
    );
    for ci in ["true", "1", "yes"] {
        let out = upload(
            keyless(&server, dir.path())
                .env_remove("S3BLOB_BUCKET")
                .env_remove("AWS_CONFIG_FILE")
                .env("CI", ci),
            dir.path(),
            "ci",
        );
        // Not even the bucket: the file was not read.
        out.fails(2, &["no bucket given"]);
        assert!(!marker.exists());
        assert!(
            warnings(&out, "AWS_CONFIG_FILE").is_empty(),
            "{}",
            out.stderr
        );
        // One line says why, for whoever expected the file to count.
        let notes: Vec<_> = out
            .stderr
            .lines()
            .filter(|l| l.contains(".env") && l.contains("CI"))
            .collect();
        assert_eq!(notes.len(), 1, "{}", out.stderr);
        assert!(notes[0].contains("--env-file"), "{}", notes[0]);
    }
    // CI set to false, 0 or empty is no CI: the file is read (and its bucket used).
    for ci in ["false", "0", ""] {
        let out = upload(
            server
                .cmd(dir.path())
                .env_remove("S3BLOB_BUCKET")
                .env("CI", ci),
            dir.path(),
            &format!("local{ci}"),
        );
        assert_eq!(out.ok(), format!("s3://artifacts/s/local{ci}/f.txt"));
        warned_once(&out, "AWS_CONFIG_FILE", ".env");
    }
    assert!(!marker.exists());
}

#[test]
fn env_file_is_read_under_ci_with_the_same_rules() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let listener = Listener::new();
    write_private(
        dir.path(),
        "ci.env",
        &format!(
            "S3BLOB_BUCKET={BUCKET}\nAWS_ENDPOINT_URL_S3={}\n",
            listener.url()
        ),
    );
    let named_by_flag = || {
        let mut cmd = server.cmd(dir.path());
        cmd.env_remove("S3BLOB_BUCKET")
            .env("CI", "true")
            .args(["--env-file", "ci.env"]);
        cmd
    };
    let out = upload(&mut named_by_flag(), dir.path(), "flag");
    assert_eq!(out.ok(), "s3://artifacts/s/flag/f.txt");
    warned_once(&out, "AWS_ENDPOINT_URL_S3", "ci.env");

    let out = upload(
        server
            .cmd(dir.path())
            .env_remove("S3BLOB_BUCKET")
            .env("CI", "true")
            .env("S3BLOB_ENV_FILE", "ci.env"),
        dir.path(),
        "var",
    );
    assert_eq!(out.ok(), "s3://artifacts/s/var/f.txt");
    warned_once(&out, "AWS_ENDPOINT_URL_S3", "ci.env");
    assert_eq!(listener.connections(), 0);

    // A named file must exist: exit 3, naming it.
    let out = upload(
        server.cmd(dir.path()).args(["--env-file", "missing.env"]),
        dir.path(),
        "missing",
    );
    out.fails(3, &["missing.env", "--env-file"]);
    let out = upload(
        server.cmd(dir.path()).env("S3BLOB_ENV_FILE", "missing.env"),
        dir.path(),
        "missing",
    );
    out.fails(3, &["missing.env", "S3BLOB_ENV_FILE"]);
}

#[test]
fn a_dotenv_others_can_write_or_own_is_refused() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let dotenv = write_private(dir.path(), ".env", &format!("S3BLOB_BUCKET={BUCKET}\n"));
    for mode in [0o664, 0o646, 0o666] {
        std::fs::set_permissions(&dotenv, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = upload(&mut server.cmd(dir.path()), dir.path(), "w");
        out.fails(2, &[".env", "writable", "chmod go-w .env"]);
    }
    std::fs::set_permissions(&dotenv, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Owned by someone else (the tests run as root, which may own what it reads).
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&dotenv, Some(common::NOBODY), Some(common::NOBODY)).unwrap();
        let out = upload(&mut server.cmd(dir.path()), dir.path(), "o");
        out.fails(2, &[".env", "owned by"]);
    }
    // The same for a file named with --env-file.
    let named = write_private(
        dir.path(),
        "shared.env",
        &format!("S3BLOB_BUCKET={BUCKET}\n"),
    );
    std::fs::set_permissions(&named, std::fs::Permissions::from_mode(0o620)).unwrap();
    let out = upload(
        server.cmd(dir.path()).args(["--env-file", "shared.env"]),
        dir.path(),
        "n",
    );
    out.fails(2, &["shared.env", "chmod go-w shared.env"]);
}

#[test]
fn plain_settings_still_work_from_dotenv() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    write_private(
        dir.path(),
        ".env",
        &format!(
            "S3BLOB_BUCKET={BUCKET}\nAWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\nAWS_REGION=eu-west-1\nS3BLOB_PART_SIZE=5MiB\nS3BLOB_CONCURRENCY=2\nAWS_MAX_ATTEMPTS=3\nS3BLOB_TIMEOUT=20\nS3BLOB_ADDRESSING_STYLE=path\nRUST_LOG=s3blob=info\n"
        ),
    );
    std::fs::write(dir.path().join("big.bin"), common::data(6 * common::MIB, 3)).unwrap();
    let mut cmd = server.cmd(dir.path());
    for v in [
        "S3BLOB_BUCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
    ] {
        cmd.env_remove(v);
    }
    let out = Run::from(
        cmd.args(["upload", "--suite", "s", "--release", "1", "big.bin"])
            .output()
            .unwrap(),
    );
    assert_eq!(out.ok(), "s3://artifacts/s/1/big.bin");
    // 5 MiB parts from .env: two of them.
    assert_eq!(server.faults().count(Op::UploadPart), 2);
    assert!(!out.stderr.contains("ignored"), "{}", out.stderr);
    let requests = server.faults().requests();
    assert!(
        requests
            .iter()
            .all(|r| r.access_key().as_deref() == Some(ACCESS_KEY))
    );
}

/// Keys in `.env` are a developer's local store; they never replace a credential source that
/// the environment or a flag chose.
#[test]
fn dotenv_keys_never_replace_credentials_the_user_chose() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    write_private(
        dir.path(),
        "user.config",
        &format!(
            "[profile app]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        ),
    );
    write_private(
        dir.path(),
        ".env",
        "AWS_ACCESS_KEY_ID=AKIAATTACKER00000000\nAWS_SECRET_ACCESS_KEY=attacker/secret/0000000000000000000000\n",
    );
    let by_variable = upload(
        keyless(&server, dir.path())
            .env("AWS_CONFIG_FILE", dir.path().join("user.config"))
            .env("AWS_PROFILE", "app"),
        dir.path(),
        "var",
    );
    assert_eq!(by_variable.ok(), "s3://artifacts/s/var/f.txt");
    warned_once(&by_variable, "AWS_ACCESS_KEY_ID", ".env");
    let by_flag = upload(
        keyless(&server, dir.path())
            .env("AWS_CONFIG_FILE", dir.path().join("user.config"))
            .args(["--profile", "app"]),
        dir.path(),
        "flag",
    );
    assert_eq!(by_flag.ok(), "s3://artifacts/s/flag/f.txt");
    warned_once(&by_flag, "AWS_SECRET_ACCESS_KEY", ".env");
}

/// `-v` and `doctor` show where each setting came from, and never a credential.
#[test]
fn verbose_and_doctor_say_where_each_setting_came_from() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    write_private(
        dir.path(),
        ".env",
        &format!(
            "S3BLOB_BUCKET={BUCKET}\nS3BLOB_PART_SIZE=8MiB\nAWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\n"
        ),
    );
    let mut cmd = server.cmd(dir.path());
    for v in [
        "S3BLOB_BUCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        cmd.env_remove(v);
    }
    let out = upload(cmd.arg("-v"), dir.path(), "v");
    out.ok();
    let line = |needles: &[&str]| {
        out.stderr
            .lines()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no line with {needles:?} in {}", out.stderr))
            .to_owned()
    };
    line(&["bucket", BUCKET, ".env"]);
    line(&["part size", "8", ".env"]);
    line(&[
        "endpoint",
        &server.endpoint,
        "AWS_ENDPOINT_URL",
        "environment",
    ]);
    line(&["timeout", "2s", "flag --timeout"]);
    line(&["concurrency", "16", "default"]);
    line(&["credentials", "AWS_ACCESS_KEY_ID", ".env"]);
    line(&["conditional writes", "default"]);
    for secret in [ACCESS_KEY, SECRET_KEY] {
        assert!(!out.stderr.contains(secret), "{}", out.stderr);
    }

    let mut cmd = server.cmd(dir.path());
    for v in [
        "S3BLOB_BUCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        cmd.env_remove(v);
    }
    let doctor = Run::from(cmd.arg("doctor").output().unwrap());
    assert!(matches!(doctor.code, 0 | 8), "{}", doctor.stderr);
    for needles in [
        &["bucket", BUCKET, ".env"][..],
        &["endpoint", &server.endpoint, "environment"],
        &["credentials", ".env"],
        &["region", "us-east-1", "environment"],
    ] {
        assert!(
            doctor
                .stdout
                .lines()
                .any(|l| needles.iter().all(|n| l.contains(n))),
            "no line with {needles:?} in {}",
            doctor.stdout
        );
    }
    for secret in [ACCESS_KEY, SECRET_KEY] {
        assert!(!doctor.stdout.contains(secret) && !doctor.stderr.contains(secret));
    }
}

/// Other things a directory can hold: a link to a file of /proc (which says it holds 0 bytes)
/// is refused rather than stored empty; a FIFO or a device is refused before it is opened; a
/// download onto a symbolic link replaces the link and never writes through it.
#[test]
fn files_a_directory_can_plant() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", dir.path().join("app.tar.gz")).unwrap();
    let out = server.run(
        dir.path(),
        &["upload", "--suite", "s", "--release", "1", "app.tar.gz"],
    );
    out.fails(2, &["app.tar.gz", "0 bytes but has content"]);
    assert!(server.object("s/1/app.tar.gz").is_none());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.bin")).unwrap();
    let out = server.run(
        dir.path(),
        &["upload", "--suite", "s", "--release", "1", "zero.bin"],
    );
    out.fails(2, &["zero.bin", "not a regular file"]);

    server.put(dir.path(), "s", "2", "f.txt", b"from the store", &[]);
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("victim"), b"keep").unwrap();
    std::os::unix::fs::symlink(victim.path().join("victim"), dir.path().join("link")).unwrap();
    let out = server.download(dir.path(), "s", "2", "f.txt", "link");
    assert_eq!(out.ok(), "link");
    assert_eq!(
        std::fs::read(victim.path().join("victim")).unwrap(),
        b"keep"
    );
    assert_eq!(
        std::fs::read(dir.path().join("link")).unwrap(),
        b"from the store"
    );
    assert!(
        !std::fs::symlink_metadata(dir.path().join("link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}
