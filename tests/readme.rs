//! Every command README.md shows, run as written and in the order given, by bash, with the real
//! binaries, against the bundled server started the way the README starts it. The README is
//! the script: change an example and this test runs the new one.
//!
//! What the test changes, and why:
//! - the server's `--port 9000` becomes a free port (tests run side by side), and the test waits
//!   for the server to announce its URL before going on (a person types slower than bash);
//! - commands listed in [`NOT_RUN`] are left out, each with its reason; each must still be in
//!   the README, so the list cannot go stale;
//! - CI snippets (YAML) contribute their `run:` commands, with `VERSION` set as a CI would set
//!   it, and `make` (the user's own build step) is a stub that records its arguments.
// Unix only: the README's blocks are bash, run with Unix tools.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Commands the test does not run.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "scripts/demo.sh",
        "builds release binaries for minutes; CI runs it on its own",
    ),
    ("cargo test --workspace", "the command that runs this test"),
    (
        "scripts/musl.sh",
        "builds the standard library and the whole tree for musl, 14 minutes cold; run by hand",
    ),
    (
        "curl -fsSL https://github.com/s3blob/s3blob/releases/latest/download/install.sh | sh",
        "downloads from GitHub; scripts/install-check.sh runs install.sh against a local release",
    ),
    (
        "docker build -t s3blob .",
        "needs a container engine and its base images; scripts/lint-release.sh lints the Dockerfile",
    ),
    (
        "docker run --rm -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_REGION -v \"$PWD/dist:/dist\" s3blob upload --bucket artifacts --suite myapp --release 1.4.1 /dist/myapp.tar.gz",
        "the same: runs the image built above",
    ),
    (
        "cargo binstall --git https://github.com/s3blob/s3blob s3blob",
        "downloads the release archives from GitHub",
    ),
    (
        "cargo install --locked --path .",
        "compiles for minutes; the test uses the binary cargo built from the same source",
    ),
    (
        "cargo install --locked --path testserver",
        "the same, for the bundled server",
    ),
];

/// How the README starts the server, and what the test starts instead.
const SERVER_PORT: &str = "--port 9000 &";
const SERVER_ADDR: &str = "127.0.0.1:9000";

struct Block {
    lang: String,
    text: String,
}

/// The fenced code blocks of a Markdown document, in order.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for line in markdown.lines() {
        if let Some(fence) = line.strip_prefix("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => {
                    current = Some(Block {
                        lang: fence.trim().to_owned(),
                        text: String::new(),
                    });
                }
            }
        } else if let Some(block) = &mut current {
            block.text.push_str(line);
            block.text.push('\n');
        }
    }
    assert!(current.is_none(), "README.md has an unclosed code block");
    out
}

/// The commands of a CI snippet: `run: CMD`, and the body of `run: |`.
fn yaml_runs(yaml: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut lines = yaml.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((indent, rest)) = line.split_once("run: ") else {
            continue;
        };
        let indent = indent.len();
        if rest.trim() != "|" {
            runs.push(rest.trim().to_owned());
            continue;
        }
        let mut body = String::new();
        while let Some(next) = lines.peek() {
            let deeper = next.len() - next.trim_start().len() > indent;
            if !deeper || next.trim().is_empty() {
                break;
            }
            body.push_str(next.trim());
            body.push('\n');
            lines.next();
        }
        runs.push(body);
    }
    runs
}

/// The bash script the README makes.
fn script(readme: &str, url_file: &Path) -> String {
    let mut left_out = vec![false; NOT_RUN.len()];
    let mut server_started = false;
    let mut script = String::new();
    let mut yaml = Vec::new();
    for block in blocks(readme) {
        match block.lang.as_str() {
            "sh" => {
                for line in block.text.lines() {
                    if let Some(i) = NOT_RUN.iter().position(|(cmd, _)| line.trim() == *cmd) {
                        left_out[i] = true;
                        continue;
                    }
                    if line.starts_with("s3blob-testserver ") && line.ends_with(SERVER_PORT) {
                        let start = line.trim_end_matches(SERVER_PORT);
                        script.push_str(&format!(
                            "{start}--port 0 > {url} &\n\
                             for _ in $(seq 400); do [ -s {url} ] && break; sleep 0.05; done\n\
                             addr=$(sed 's|^http://||' {url})\n",
                            url = url_file.display()
                        ));
                        server_started = true;
                        continue;
                    }
                    script.push_str(&line.replace(SERVER_ADDR, "$addr"));
                    script.push('\n');
                }
            }
            "yaml" => yaml.extend(yaml_runs(&block.text)),
            _ => {}
        }
    }
    for (i, (cmd, why)) in NOT_RUN.iter().enumerate() {
        assert!(
            left_out[i],
            "README.md no longer shows `{cmd}` (left out because: {why}); update NOT_RUN"
        );
    }
    assert!(
        server_started,
        "README.md no longer starts s3blob-testserver with `{SERVER_PORT}`"
    );
    assert!(!yaml.is_empty(), "README.md has no CI snippet");
    script.push_str("# CI snippets\nexport VERSION=2.0.0\n");
    for run in yaml {
        script.push_str(&run);
        script.push('\n');
    }
    script
}

fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_s3blob"))
        .parent()
        .unwrap()
        .to_owned();
    assert!(
        dir.join("s3blob-testserver").exists(),
        "{} has no s3blob-testserver: run the whole suite (cargo test --workspace), which builds it",
        dir.display()
    );
    dir
}

#[test]
fn readme_examples_run_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let root = tempfile::tempdir().unwrap();
    let (work, home, stubs) = (
        root.path().join("work"),
        root.path().join("home"),
        root.path().join("stubs"),
    );
    for d in [&work, &home, &stubs] {
        std::fs::create_dir(d).unwrap();
    }
    // The user's own build step in the CI snippet.
    let make = stubs.join("make");
    std::fs::write(&make, "#!/bin/sh\necho \"$@\" >> \"$HOME/make-calls\"\n").unwrap();
    std::fs::set_permissions(&make, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let body = script(&readme, &root.path().join("server-url"));
    let full = format!(
        "set -euo pipefail\nset -x\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{body}"
    );
    let path = format!(
        "{}:{}:/usr/local/bin:/usr/bin:/bin",
        bin_dir().display(),
        stubs.display()
    );
    // Nothing from this machine's environment: no AWS_* variable, no profile, no .env.
    let out = Command::new("bash")
        .arg("-c")
        .arg(&full)
        .current_dir(&work)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "a README command failed ({}); the trace ends with it:\n{}\n--- stdout:\n{}",
        out.status,
        tail(&stderr, 60),
        tail(&String::from_utf8_lossy(&out.stdout), 20)
    );

    // What the commands promised, on disk.
    let same = |a: &str, b: &str| {
        let (x, y) = (std::fs::read(work.join(a)), std::fs::read(work.join(b)));
        assert!(
            x.as_ref().ok() == y.as_ref().ok() && x.is_ok(),
            "{a} and {b} differ"
        );
    };
    same("downloads/myapp.tar.gz", "dist/myapp.tar.gz");
    same("downloads/myapp-linux.tar.gz", "dist/myapp.tar.gz");
    same("release/myapp-macos.tar.gz", "dist/myapp-macos.tar.gz");
    same("unpacked/dist/myapp.tar.gz", "dist/myapp.tar.gz");
    assert!(work.join("release/SHA256SUMS").exists());
    let share = home.join(".local/share");
    for page in [
        "s3blob.1",
        "s3blob-upload.1",
        "s3blob-download.1",
        "s3blob-seal.1",
    ] {
        assert!(share.join("man/man1").join(page).exists(), "{page}");
    }
    let completions = std::fs::read_to_string(share.join("bash-completion/completions/s3blob"))
        .expect("completion script");
    assert!(completions.contains("s3blob"));
    let make_calls = std::fs::read_to_string(home.join("make-calls")).unwrap_or_default();
    assert_eq!(make_calls.trim(), "e2e", "the CI snippet's test step ran");
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn ci_snippets_are_read_like_a_runner() {
    let yaml = "- run: |\n    a=1\n    echo $a\n  env:\n    X: y\n- run: s3blob list\n";
    assert_eq!(yaml_runs(yaml), ["a=1\necho $a\n", "s3blob list"]);
}
