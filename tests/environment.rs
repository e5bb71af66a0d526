//! Every variable `.env.example` lists, empty or set to garbage, from `.env` or from the
//! environment: never a panic, never an abort; empty means unset, a bad value is a one-line
//! error naming the variable and where it was set, and a variable `.env` may not set is
//! ignored with one warning.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{ACCESS_KEY, BUCKET, Run, SECRET_KEY, Server};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The variables `.env.example` names (each on a commented-out `# NAME=value` line).
fn example_variables() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(".env.example")).unwrap();
    let mut names = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        assert!(
            line.is_empty() || line.starts_with('#'),
            ".env.example must be safe to copy as it is: {line:?} is not a comment"
        );
        let body = line.trim_start_matches('#').trim();
        if let Some((name, _)) = body.split_once('=')
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            names.push(name.to_owned());
        }
    }
    assert!(names.len() >= 15, "{names:?}");
    names
}

/// The variables in the README's configuration table (its `environment` column).
fn readme_table_variables() -> BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let table = text
        .split("| flag | environment | from `.env` | default | meaning |")
        .nth(1)
        .expect("the README has the configuration table");
    let mut names = BTreeSet::new();
    for row in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let env_column = row.split('|').nth(2).unwrap_or("");
        for word in env_column.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.len() > 3
                && word.contains('_')
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                names.insert(word.to_owned());
            }
        }
    }
    assert!(names.contains("S3BLOB_TIMEOUT"), "{names:?}");
    names
}

#[test]
fn env_example_and_readme_agree() {
    let example: BTreeSet<String> = example_variables().into_iter().collect();
    let readme_text = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    for name in readme_table_variables() {
        assert!(example.contains(&name), ".env.example lacks {name}");
    }
    for name in &example {
        assert!(
            readme_text.contains(name.as_str()),
            "the README never mentions {name}"
        );
    }
}

/// The environment of [`Server::cmd`], moved into a `.env` file: the process itself gets every
/// `.env.example` variable set to the empty string.
#[test]
fn every_variable_empty_in_the_environment_with_dotenv_filling_in() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), b"payload").unwrap();
    common::write_dotenv(
        &dir.path().join(".env"),
        format!(
            "AWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\nS3BLOB_BUCKET={BUCKET}\n",
        ),
    );
    let mut cmd = server.cmd(dir.path());
    for name in example_variables() {
        cmd.env(&name, "");
    }
    // The endpoint never comes from .env: a flag here.
    let out = Run::from(
        cmd.args(["--endpoint-url", &server.endpoint])
            .args(["upload", "--suite", "s", "--release", "1", "f.txt"])
            .output()
            .unwrap(),
    );
    assert_eq!(out.ok(), "s3://artifacts/s/1/f.txt");
    // An empty RUST_LOG does not hide the info lines.
    assert!(out.stderr.contains("uploading f.txt"), "{}", out.stderr);
    assert_eq!(server.object("s/1/f.txt").unwrap(), b"payload");
}

#[test]
fn env_example_copied_as_it_is_changes_nothing() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    common::write_dotenv(
        &dir.path().join(".env"),
        std::fs::read(Path::new(ROOT).join(".env.example")).unwrap(),
    );
    std::fs::write(dir.path().join("f.txt"), b"x").unwrap();
    let out = server.run(
        dir.path(),
        &["upload", "--suite", "s", "--release", "1", "f.txt"],
    );
    assert_eq!(out.ok(), "s3://artifacts/s/1/f.txt");
}

#[test]
fn every_variable_empty_in_dotenv() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let dotenv: String = example_variables()
        .iter()
        .map(|name| format!("{name}=\n"))
        .collect();
    common::write_dotenv(&dir.path().join(".env"), dotenv);
    std::fs::write(dir.path().join("f.txt"), b"x").unwrap();
    let out = server.run(
        dir.path(),
        &["upload", "--suite", "s", "--release", "1", "f.txt"],
    );
    assert_eq!(out.ok(), "s3://artifacts/s/1/f.txt");
    assert!(out.stderr.contains("uploading f.txt"), "{}", out.stderr);
}

/// What a garbage value of each variable must lead to: the exit code, and whether the error
/// names the variable itself (the ones s3blob checks before any request).
fn expectation(name: &str) -> (&'static [i32], bool) {
    match name {
        // Checked by s3blob before anything else happens.
        "S3BLOB_BUCKET"
        | "AWS_ENDPOINT_URL"
        | "AWS_ENDPOINT_URL_S3"
        | "AWS_REGION"
        | "AWS_DEFAULT_REGION"
        | "S3BLOB_ADDRESSING_STYLE"
        | "AWS_ACCESS_KEY_ID"
        | "AWS_SECRET_ACCESS_KEY"
        | "AWS_SESSION_TOKEN"
        | "AWS_EC2_METADATA_DISABLED"
        | "AWS_MAX_ATTEMPTS"
        | "S3BLOB_PART_SIZE"
        | "S3BLOB_CONCURRENCY"
        | "S3BLOB_TIMEOUT"
        | "S3BLOB_PROGRESS_INTERVAL"
        | "S3BLOB_CI_OUTPUT"
        | "S3BLOB_MAX_REQUESTS"
        | "S3BLOB_CHECKSUM_HEADER"
        | "S3BLOB_CONDITIONAL_WRITES"
        | "S3BLOB_RESUMABLE"
        | "RUST_LOG"
        | "AWS_PROFILE"
        | "S3BLOB_LIMIT_RATE"
        | "HTTPS_PROXY"
        | "https_proxy"
        | "HTTP_PROXY"
        | "http_proxy"
        | "ALL_PROXY"
        | "all_proxy" => (&[2], true),
        // Entries that match no host: nothing bypasses a proxy, and none is set.
        "NO_PROXY" | "no_proxy" => (&[0], false),
        // A file that does not exist.
        "S3BLOB_ENV_FILE"
        | "AWS_CONFIG_FILE"
        | "AWS_SHARED_CREDENTIALS_FILE"
        | "AWS_WEB_IDENTITY_TOKEN_FILE"
        | "AWS_CA_BUNDLE" => (&[3], true),
        // Meaningful only with a token file, which the test does not give: harmless.
        "AWS_ROLE_ARN" => (&[0], false),
        // Read only by the commands that sign (with --seal) or check signatures, not by a
        // plain upload; tests/signing.rs gives them bad values where they are read.
        "S3BLOB_SIGN_KEY" | "S3BLOB_SIGN_KEY_PASSWORD" | "S3BLOB_TRUSTED_KEYS" => (&[0], false),
        other => panic!("no expectation for {other}: add one"),
    }
}

const GARBAGE: &str = "!!garbage value \u{2603}";

fn check_garbage(out: &Run, name: &str, origin: &str) {
    let (codes, named) = expectation(name);
    assert!(
        codes.contains(&out.code),
        "{name}={GARBAGE:?} from {origin}: exit {} (want {codes:?}); stderr: {}",
        out.code,
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    if out.code != 0 {
        out.fails(out.code, &[]);
        let line = out.stderr.lines().last().unwrap_or("");
        if named {
            assert!(line.contains(name), "{name} from {origin}: {line}");
            assert!(line.contains(origin), "{name} from {origin}: {line}");
        }
        assert_eq!(
            out.stderr.lines().filter(|l| l.contains("error")).count(),
            1,
            "{}",
            out.stderr
        );
    }
}

#[test]
fn every_variable_set_to_garbage_in_the_environment() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), b"x").unwrap();
    for name in example_variables() {
        let out = Run::from(
            server
                .cmd(dir.path())
                .env(&name, GARBAGE)
                .args(["upload", "--suite", "s", "--release", "g", "f.txt"])
                .output()
                .unwrap(),
        );
        check_garbage(&out, &name, "set in the environment");
    }
}

/// Garbage from `.env`: a plain setting is checked as from the environment (the error says
/// `.env`); any other variable is ignored with one warning and the command works.
#[test]
fn every_variable_set_to_garbage_in_dotenv() {
    const KEYS: [&str; 3] = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ];
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), b"x").unwrap();
    for name in example_variables() {
        let mut dotenv = format!("{name}=\"{GARBAGE}\"\n");
        let mut cmd = server.cmd(dir.path());
        cmd.env_remove(&name);
        if KEYS.contains(&name.as_str()) {
            // Keys come from .env only as a whole, when the environment sets none.
            for key in KEYS {
                cmd.env_remove(key);
            }
            dotenv.push_str(&format!(
                "AWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\n"
            ));
        }
        if name.ends_with("_REGION") {
            // One setting in two variables: the environment's would win whole.
            cmd.env_remove("AWS_REGION")
                .env_remove("AWS_DEFAULT_REGION");
        }
        if name == "AWS_ENDPOINT_URL" {
            cmd.env("AWS_ENDPOINT_URL_S3", &server.endpoint);
        }
        common::write_dotenv(&dir.path().join(".env"), dotenv);
        let out = Run::from(
            cmd.args(["upload", "--suite", "s", "--release", "g", "f.txt"])
                .output()
                .unwrap(),
        );
        if s3blob::environment::DOTENV_ALLOWED.contains(&name.as_str()) {
            check_garbage(&out, &name, "set in .env");
        } else {
            assert_eq!(out.code, 0, "{name} from .env: {}", out.stderr);
            let warned: Vec<_> = out
                .stderr
                .lines()
                .filter(|l| l.contains("ignored"))
                .collect();
            assert_eq!(warned.len(), 1, "{name}: {}", out.stderr);
            assert!(warned[0].contains(&format!("{name} in .env is ignored")));
            assert!(!warned[0].contains(GARBAGE), "{}", warned[0]);
        }
    }
}

#[test]
fn a_dotenv_in_a_parent_directory_is_not_read() {
    let server = Server::start();
    let parent = tempfile::tempdir().unwrap();
    common::write_dotenv(&parent.path().join(".env"), "S3BLOB_BUCKET=from-parent\n");
    let dir = parent.path().join("work");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("f.txt"), b"x").unwrap();
    let out = Run::from(
        server
            .cmd(&dir)
            .env_remove("S3BLOB_BUCKET")
            .args(["upload", "--suite", "s", "--release", "1", "f.txt"])
            .output()
            .unwrap(),
    );
    out.fails(2, &["--bucket", "S3BLOB_BUCKET"]);
}

#[test]
fn an_unreadable_dotenv_line_is_a_usage_error() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    common::write_dotenv(&dir.path().join(".env"), "S3BLOB_BUCKET='unterminated\n");
    let out = server.run(dir.path(), &["list"]);
    out.fails(2, &[".env"]);
}
