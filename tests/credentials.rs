//! Every credential source CI users rely on, end to end on loopback: the test server plays
//! instance metadata (IMDSv2), the ECS/EKS container endpoint, STS (web identity and assumed
//! roles) and the SSO portal; s3blob uploads and downloads with what each hands out, and the S3
//! server's log proves which credentials (session token included) signed every request. No
//! credential appears in any output, at `-vv` included. Failures are one line with the hint for
//! the case.
// Unix only: credential processes and SSO helpers are `#!/bin/sh` scripts with an executable mode.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{Run, Server, data};
use s3blob_testserver::credentials::{self as fake, Issued};

/// Credentials a `credential_process` script prints.
const PROCESS: Issued = Issued {
    access_key_id: "ASIAFAKEPROCESS00007",
    secret_access_key: "fakeProcessSecretKey000000000000000007",
    session_token: "FwoFAKE-credential-process-session-token-s3blob-000000000007",
};

fn accepted() -> Vec<(&'static str, &'static str)> {
    fake::all_issued()
        .iter()
        .chain([&PROCESS])
        .map(|i| (i.access_key_id, i.secret_access_key))
        .chain([(fake::SOURCE_ACCESS_KEY, fake::SOURCE_SECRET_KEY)])
        .collect()
}

/// The test environment without its static keys: the chain must find credentials elsewhere.
fn without_keys(server: &Server, cwd: &Path) -> Command {
    let mut cmd = server.cmd(cwd);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd
}

/// Uploads a multipart file and a small one and downloads both with `-vv`, all configured by
/// `configure`; then checks the bytes, that every S3 request was signed with `issued`, and that
/// no credential reached stdout or stderr.
fn round_trip(server: &Server, cwd: &Path, issued: Issued, configure: impl Fn(&mut Command)) {
    let big = data(6 * common::MIB, 11);
    std::fs::write(cwd.join("big.bin"), &big).unwrap();
    std::fs::write(cwd.join("small.txt"), b"small").unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "upload",
            "--suite",
            "s",
            "--release",
            "1",
            "--part-size",
            "5MiB",
            "big.bin",
            "small.txt",
        ],
        &[
            "download",
            "--suite",
            "s",
            "--release",
            "1",
            "--filename",
            "big.bin",
            "-o",
            "got.bin",
        ],
        &[
            "download",
            "--suite",
            "s",
            "--release",
            "1",
            "--filename",
            "small.txt",
            "-o",
            "got.txt",
        ],
    ];
    for args in steps {
        let mut cmd = without_keys(server, cwd);
        configure(&mut cmd);
        let out = Run::from(cmd.arg("-vv").args(args).output().unwrap());
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        for secret in [
            issued.access_key_id,
            issued.secret_access_key,
            issued.session_token,
        ] {
            assert!(
                !out.stderr.contains(secret) && !out.stdout.contains(secret),
                "{args:?} printed a credential ({secret}):\n{}",
                out.stderr
            );
        }
    }
    assert_eq!(std::fs::read(cwd.join("got.bin")).unwrap(), big);
    assert_eq!(std::fs::read(cwd.join("got.txt")).unwrap(), b"small");
    let requests = server.faults().requests();
    assert!(requests.len() >= 6, "{} requests", requests.len());
    for r in &requests {
        assert_eq!(
            r.access_key().as_deref(),
            Some(issued.access_key_id),
            "{:?} {} was not signed with the issued key",
            r.op,
            r.path
        );
        assert_eq!(
            r.session_token().as_deref(),
            Some(issued.session_token),
            "{:?} {} did not carry the issued session token",
            r.op,
            r.path
        );
    }
}

#[test]
fn instance_metadata_role() {
    let server = Server::start_accepting(&accepted());
    let creds = fake::start();
    let dir = tempfile::tempdir().unwrap();
    round_trip(&server, dir.path(), fake::IMDS, |cmd| {
        cmd.env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &creds.endpoint);
    });
    // IMDSv2: a session token first, then the role and its credentials.
    assert!(creds.count("/latest/api/token") >= 1);
    assert!(creds.count("/latest/meta-data/iam/security-credentials/s3blob-test-role") >= 1);
    assert!(
        creds
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/latest/meta-data"))
            .all(|r| r.header("x-aws-ec2-metadata-token") == Some(fake::IMDS_TOKEN))
    );
}

#[test]
fn container_credentials_endpoint() {
    let server = Server::start_accepting(&accepted());
    let creds = fake::start();
    let dir = tempfile::tempdir().unwrap();
    round_trip(&server, dir.path(), fake::ECS, |cmd| {
        cmd.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", creds.ecs_uri())
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", fake::ECS_AUTH_TOKEN);
    });
    assert!(creds.count(fake::ECS_PATH) >= 1);
    assert!(
        creds
            .requests()
            .iter()
            .all(|r| r.header("authorization") == Some(fake::ECS_AUTH_TOKEN))
    );
}

#[test]
fn web_identity_from_a_ci_oidc_token() {
    let server = Server::start_accepting(&accepted());
    let creds = fake::start();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("oidc-token");
    std::fs::write(&token, fake::WEB_IDENTITY_TOKEN).unwrap();
    round_trip(&server, dir.path(), fake::WEB_IDENTITY, |cmd| {
        cmd.env("AWS_ROLE_ARN", fake::ROLE_ARN)
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
            .env("AWS_ENDPOINT_URL_STS", &creds.endpoint);
    });
    assert!(creds.count_action("AssumeRoleWithWebIdentity") >= 1);
}

#[test]
fn profile_with_source_profile_and_role_arn() {
    let server = Server::start_accepting(&accepted());
    let creds = fake::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("assume-config");
    std::fs::write(
        &config,
        format!(
            "[profile app]\nrole_arn = {}\nsource_profile = src\n\n[profile src]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            fake::ROLE_ARN,
            fake::SOURCE_ACCESS_KEY,
            fake::SOURCE_SECRET_KEY
        ),
    )
    .unwrap();
    round_trip(&server, dir.path(), fake::ASSUME_ROLE, |cmd| {
        cmd.env("AWS_CONFIG_FILE", &config)
            .env("AWS_ENDPOINT_URL_STS", &creds.endpoint)
            .args(["--profile", "app"]);
    });
    // The role was assumed with the source profile's long-term key.
    let assumed: Vec<_> = creds
        .requests()
        .into_iter()
        .filter(|r| r.form_value("Action").as_deref() == Some("AssumeRole"))
        .collect();
    assert!(!assumed.is_empty());
    assert!(
        assumed
            .iter()
            .all(|r| r.access_key().as_deref() == Some(fake::SOURCE_ACCESS_KEY))
    );
}

/// A `credential_process` script printing `PROCESS`, or failing with `exit` and a message.
fn process_script(dir: &Path, fail: Option<(i32, &str)>) -> std::path::PathBuf {
    let script = dir.join("creds.sh");
    let body = match fail {
        None => format!(
            "#!/bin/sh\necho '{{\"Version\":1,\"AccessKeyId\":\"{}\",\"SecretAccessKey\":\"{}\",\"SessionToken\":\"{}\",\"Expiration\":\"2099-01-01T00:00:00Z\"}}'\n",
            PROCESS.access_key_id, PROCESS.secret_access_key, PROCESS.session_token
        ),
        Some((code, message)) => {
            format!("#!/bin/sh\necho '{message}' >&2\necho second line >&2\nexit {code}\n")
        }
    };
    std::fs::write(&script, body).unwrap();
    let mut perm = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).unwrap();
    script
}

#[test]
fn profile_with_credential_process() {
    let server = Server::start_accepting(&accepted());
    let dir = tempfile::tempdir().unwrap();
    let script = process_script(dir.path(), None);
    let config = dir.path().join("process-config");
    std::fs::write(
        &config,
        format!("[profile app]\ncredential_process = {}\n", script.display()),
    )
    .unwrap();
    round_trip(&server, dir.path(), PROCESS, |cmd| {
        cmd.env("AWS_CONFIG_FILE", &config)
            .env("AWS_PROFILE", "app");
    });
}

/// An SSO profile whose cached token `write` puts in place.
fn sso_profile(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("sso-config");
    std::fs::write(
        &config,
        format!(
            "[profile app]\nsso_session = s3blob\nsso_account_id = {}\nsso_role_name = s3blob-test-role\n\n[sso-session s3blob]\nsso_start_url = {}\nsso_region = {}\n",
            fake::ACCOUNT_ID,
            fake::SSO_START_URL,
            fake::REGION
        ),
    )
    .unwrap();
    config
}

#[test]
fn profile_with_sso_session() {
    let server = Server::start_accepting(&accepted());
    let creds = fake::start();
    let dir = tempfile::tempdir().unwrap();
    let config = sso_profile(dir.path());
    fake::write_sso_token_cache(dir.path(), "s3blob").unwrap();
    round_trip(&server, dir.path(), fake::SSO, |cmd| {
        cmd.env("AWS_CONFIG_FILE", &config)
            .env("AWS_ENDPOINT_URL_SSO", &creds.endpoint)
            .env("AWS_PROFILE", "app");
    });
    assert!(creds.count("/federation/credentials") >= 1);
}

/// Runs `s3blob list` configured by `configure`, without static keys.
fn list_with(server: &Server, dir: &Path, configure: impl Fn(&mut Command)) -> Run {
    let mut cmd = without_keys(server, dir);
    configure(&mut cmd);
    Run::from(cmd.args(["--max-attempts", "1", "list"]).output().unwrap())
}

fn assert_plain(run: &Run) {
    let line = run.stderr.lines().last().unwrap_or("");
    for dump in [
        "ProviderError",
        "{ source",
        "Some(",
        "Response {",
        "SdkBody",
    ] {
        assert!(!line.contains(dump), "debug output in {line:?}");
    }
    assert!(line.len() < 420, "{} characters: {line}", line.len());
}

#[test]
fn no_credentials_anywhere() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let run = list_with(&server, dir.path(), |_| {});
    run.fails(
        4,
        &["no AWS credentials found", "AWS_ACCESS_KEY_ID", "--profile"],
    );
    assert_plain(&run);
    // Instance metadata that refuses (as off EC2 behind some proxies): still the same advice,
    // plus how to skip the probe.
    let creds = fake::start();
    let run = list_with(&server, dir.path(), |cmd| {
        cmd.env_remove("AWS_EC2_METADATA_DISABLED").env(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("{}/refuse", creds.endpoint),
        );
    });
    run.fails(
        4,
        &["no AWS credentials found", "AWS_EC2_METADATA_DISABLED=true"],
    );
    assert_plain(&run);
    // Nor at -v: the SDK's debug dumps are for -vv only.
    let run = list_with(&server, dir.path(), |cmd| {
        cmd.arg("-v").env_remove("AWS_EC2_METADATA_DISABLED").env(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("{}/refuse", creds.endpoint),
        );
    });
    assert_eq!(run.code, 4, "{}", run.stderr);
    for dump in ["ProviderError(", "{ source", "SdkBody", " WARN "] {
        assert!(
            !run.stderr.contains(dump),
            "{dump:?} at -v:\n{}",
            run.stderr
        );
    }
}

/// A new user's first upload to AWS itself (no endpoint) without credentials: the error is
/// about credentials and names the upload, not the release manifest it happens to read first.
#[test]
fn first_upload_to_aws_without_credentials() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), b"x").unwrap();
    let mut cmd = without_keys(&server, dir.path());
    cmd.env_remove("AWS_ENDPOINT_URL")
        .args(["--region", "eu-west-1", "--max-attempts", "1", "upload"])
        .args([
            "--bucket",
            "artifacts",
            "--suite",
            "s",
            "--release",
            "1",
            "f.txt",
        ]);
    let run = Run::from(cmd.output().unwrap());
    let lines = run.fails_with_lines(4);
    assert_eq!(
        lines,
        [
            "s3blob: error: cannot upload to s3://artifacts/s/1/f.txt: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile NAME (or set AWS_PROFILE), or run where an instance or container role is available"
        ]
    );
    assert_plain(&run);
}

#[test]
fn a_profile_that_does_not_exist() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let run = list_with(&server, dir.path(), |cmd| {
        cmd.args(["--profile", "nosuch"]);
    });
    run.fails(
        4,
        &["profile \"nosuch\" gives no AWS credentials", "--profile"],
    );
    assert_plain(&run);
}

#[test]
fn an_expired_sso_session() {
    let server = Server::start();
    let creds = fake::start();
    let dir = tempfile::tempdir().unwrap();
    let config = sso_profile(dir.path());
    let cache = fake::write_sso_token_cache(dir.path(), "s3blob").unwrap();
    let text = std::fs::read_to_string(&cache).unwrap();
    std::fs::write(&cache, text.replace("2099-", "2020-")).unwrap();
    let run = list_with(&server, dir.path(), |cmd| {
        cmd.env("AWS_CONFIG_FILE", &config)
            .env("AWS_ENDPOINT_URL_SSO", &creds.endpoint)
            .env("AWS_ENDPOINT_URL_SSO_OIDC", &creds.endpoint)
            .env("AWS_PROFILE", "app");
    });
    run.fails(
        4,
        &[
            "SSO session of profile \"app\"",
            "aws sso login --profile app",
        ],
    );
    assert_plain(&run);
}

#[test]
fn a_failing_credential_process() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let script = process_script(dir.path(), Some((3, "vault: permission denied")));
    let config = dir.path().join("process-config");
    std::fs::write(
        &config,
        format!("[profile app]\ncredential_process = {}\n", script.display()),
    )
    .unwrap();
    let run = list_with(&server, dir.path(), |cmd| {
        cmd.env("AWS_CONFIG_FILE", &config)
            .env("AWS_PROFILE", "app");
    });
    run.fails(
        4,
        &[
            "credential_process of profile \"app\" failed",
            "3",
            "vault: permission denied",
        ],
    );
    assert!(!run.stderr.contains("second line"), "{}", run.stderr);
    assert_plain(&run);
}

#[test]
fn sts_refusing_the_web_identity() {
    let server = Server::start();
    let creds = fake::start();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("oidc-token");
    std::fs::write(&token, "eyWRONG.token").unwrap();
    let run = list_with(&server, dir.path(), |cmd| {
        cmd.env("AWS_ROLE_ARN", fake::ROLE_ARN)
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
            .env("AWS_ENDPOINT_URL_STS", &creds.endpoint);
    });
    run.fails(
        4,
        &[
            "STS refused the web identity token for role arn:aws:iam::123456789012:role/s3blob-test-role",
            "InvalidIdentityToken",
        ],
    );
    assert_plain(&run);
}

/// `upload` to AWS itself (no custom endpoint, no region set), configured by `configure`.
/// No request leaves the machine: the command runs in a mount namespace of its own whose
/// `/etc/hosts` sends the S3 host of every region these tests choose to 127.0.0.1, where
/// nothing listens on 443; so the outcome is always exit 7 (connection refused), in one line,
/// never a panic or a warning. Returns the run (with `-v`, so stderr names the region the
/// client chose).
fn upload_to_aws(server: &Server, dir: &Path, configure: impl Fn(&mut Command)) -> Run {
    std::fs::write(dir.join("f.txt"), b"x").unwrap();
    let hosts: String = [
        "us-east-1",
        fake::REGION,
        "ap-south-2",
        "eu-north-1",
        "sa-east-1",
    ]
    .iter()
    .map(|region| format!("127.0.0.1 artifacts.s3.{region}.amazonaws.com\n"))
    .collect();
    let hosts_file = dir.join("hosts");
    std::fs::write(&hosts_file, hosts).unwrap();
    let mut cmd = server.command("unshare", dir);
    cmd.env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_REGION")
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .args([
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
        ])
        .arg(&hosts_file)
        .arg(env!("CARGO_BIN_EXE_s3blob"));
    configure(&mut cmd);
    let args = [
        "-v",
        "--max-attempts",
        "1",
        "upload",
        "--suite",
        "s",
        "--release",
        "1",
        "f.txt",
    ];
    let run = Run::from(cmd.args(args).output().unwrap());
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run.fails(
        7,
        &[
            "s3://artifacts/s/1/f.txt",
            "artifacts.s3.",
            "connection refused",
        ],
    );
    assert!(!run.stderr.contains(" WARN "), "{}", run.stderr);
    run
}

/// The client's region, from its debug line.
fn region_of(run: &Run) -> &str {
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("S3 client"))
        .unwrap_or_else(|| panic!("no client line in {}", run.stderr));
    let start = line.find("region=\"").map(|i| i + 8).unwrap();
    let end = start + line[start..].find('"').unwrap();
    &line[start..end]
}

/// The path a user of AWS itself takes. The region comes from instance metadata, fetched with
/// s3blob's own HTTP client (an SDK without one used to panic here).
#[test]
fn aws_itself_region_from_instance_metadata() {
    let server = Server::start();
    let creds = fake::start();
    let dir = tempfile::tempdir().unwrap();
    let run = upload_to_aws(&server, dir.path(), |cmd| {
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &creds.endpoint);
    });
    assert_eq!(region_of(&run), fake::REGION);
    assert!(creds.count("/latest/meta-data/placement/region") >= 1);
}

#[test]
fn aws_itself_region_from_profile_else_us_east_1() {
    let server = Server::start();
    let creds = fake::start();
    let dir = tempfile::tempdir().unwrap();
    // AWS_EC2_METADATA_DISABLED=true (the harness sets it) skips the probe.
    let run = upload_to_aws(&server, dir.path(), |cmd| {
        cmd.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &creds.endpoint);
    });
    assert_eq!(region_of(&run), "us-east-1");
    assert_eq!(creds.requests().len(), 0, "the probe must be skipped");
    let config = dir.path().join("region-config");
    std::fs::write(&config, "[default]\nregion = ap-south-2\n").unwrap();
    let run = upload_to_aws(&server, dir.path(), |cmd| {
        cmd.env("AWS_CONFIG_FILE", &config);
    });
    assert_eq!(region_of(&run), "ap-south-2");
    let run = upload_to_aws(&server, dir.path(), |cmd| {
        cmd.env("AWS_CONFIG_FILE", &config)
            .env("AWS_DEFAULT_REGION", "eu-north-1");
    });
    assert_eq!(region_of(&run), "eu-north-1");
    let run = upload_to_aws(&server, dir.path(), |cmd| {
        cmd.env("AWS_DEFAULT_REGION", "eu-north-1")
            .args(["--region", "sa-east-1"]);
    });
    assert_eq!(region_of(&run), "sa-east-1");
}
