//! The command-line surface itself: help examples, completions, the man page, and the progress
//! display (off without a terminal, on under a pseudo-terminal or with `--progress always`).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Fault, MIB, Op, Run, Server, data};

#[test]
fn every_command_shows_an_example() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    for cmd in [
        "upload",
        "download",
        "list",
        "stat",
        "delete",
        "presign",
        "completions",
        "man",
    ] {
        let help = server.run(dir.path(), &[cmd, "--help"]);
        assert!(help.ok().contains("Example"), "{cmd}: {}", help.stdout);
    }
    let top = server.run(dir.path(), &["--help"]);
    for cmd in [
        "upload",
        "download",
        "list",
        "stat",
        "delete",
        "presign",
        "completions",
    ] {
        assert!(top.ok().contains(cmd), "{cmd} missing from --help");
    }
}

/// Each command's help speaks of that command: upload's `--release` does not offer `latest`,
/// its `--part-size` does not speak of downloads, and no example is wrapped mid-command.
#[test]
fn help_is_about_the_command() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let flag_help = |cmd: &str, flag: &str| -> String {
        let help = server.run(dir.path(), &[cmd, "--help"]).ok().to_owned();
        let start = help
            .find(&format!("  {flag} "))
            .unwrap_or_else(|| panic!("{cmd} --help has no {flag}"));
        // The flag's line and its continuation lines, up to the next flag or heading.
        let mut lines = help[start..].lines();
        let mut text = lines.next().unwrap_or("").to_owned();
        for line in lines {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('-') || !line.starts_with("  ") {
                break;
            }
            text.push(' ');
            text.push_str(t);
        }
        text
    };
    let release = flag_help("upload", "--release");
    assert!(
        !release.contains("latest`:") && !release.contains("except"),
        "{release}"
    );
    assert!(release.contains("not `latest`"), "{release}");
    let part = flag_help("upload", "--part-size");
    assert!(
        !part.contains("download") && !part.contains("range"),
        "{part}"
    );
    let part = flag_help("download", "--part-size");
    assert!(
        part.contains("ranged GET") && !part.contains("upload"),
        "{part}"
    );
    assert!(flag_help("download", "--release").contains("`latest` is the suite's highest"));
    for cmd in ["upload", "download", "list", "stat", "delete", "presign"] {
        let help = server.run(dir.path(), &[cmd, "--help"]).ok().to_owned();
        let examples = help.split("Example").nth(1).unwrap();
        let mut continued = false;
        for line in examples
            .lines()
            .take_while(|l| !l.starts_with("Exit codes"))
        {
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            assert!(
                continued
                    || t.starts_with("s3blob ")
                    || t.starts_with("tar ")
                    || t.starts_with("curl ")
                    || t.starts_with("url=")
                    || t.starts_with(':')
                    || t.ends_with(':'),
                "{cmd}: an example line that is neither a command nor continued with \\: {line:?}"
            );
            continued = t.ends_with('\\');
        }
    }
}

#[test]
fn completions_and_man_page() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef s3blob"),
        ("fish", "complete -c s3blob"),
    ] {
        let out = server.run(dir.path(), &["completions", shell]);
        let script = out.ok();
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("presign") && script.contains("release"),
            "{shell}"
        );
    }
    let man = server.run(dir.path(), &["man"]);
    assert!(
        man.ok().starts_with(".ie"),
        "{}",
        &man.stdout[..80.min(man.stdout.len())]
    );
    assert!(man.stdout.contains(".TH s3blob"), "no title");
    server
        .run(dir.path(), &["completions", "tcsh"])
        .usage_error(&["'tcsh'"]);
    // Every page s3blob(1) refers to can be written; the directory is created.
    let pages = dir.path().join("share/man/man1");
    let out = server.run(dir.path(), &["man", "--dir", pages.to_str().unwrap()]);
    let written: Vec<&str> = out.ok().lines().collect();
    for sub in [
        "upload", "download", "seal", "verify", "promote", "prune", "doctor",
    ] {
        let page = pages.join(format!("s3blob-{sub}.1"));
        assert!(written.contains(&page.to_str().unwrap()), "{written:?}");
        let text = std::fs::read_to_string(&page).unwrap();
        assert!(text.contains(".TH s3blob-"), "{sub}");
    }
    let upload = std::fs::read_to_string(pages.join("s3blob-upload.1")).unwrap();
    assert!(upload.contains("seal") && upload.contains("sha256sums"));
    assert!(pages.join("s3blob.1").exists());
}

/// One name per concept: `--filename` everywhere (seal's old `--file` still works), and
/// `-h` shows a command's own options first and only the common global ones.
#[test]
fn one_name_per_concept_and_short_help() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "n", "1", "a.bin", b"a", &[]);
    let new = server.run(
        d,
        &[
            "seal",
            "--suite",
            "n",
            "--release",
            "1",
            "--filename",
            "a.bin",
        ],
    );
    assert_eq!(new.ok(), "s3://artifacts/n/1/");
    let old = server.run(
        d,
        &["seal", "--suite", "n", "--release", "1", "--file", "a.bin"],
    );
    assert_eq!(
        old.ok(),
        "s3://artifacts/n/1/",
        "the old spelling seals the same"
    );
    let short = server.run(d, &["upload", "-h"]);
    let long = server.run(d, &["upload", "--help"]);
    let (short, long) = (short.ok(), long.ok());
    assert!(short.find("--seal").unwrap() < short.find("--bucket").unwrap());
    for rare in ["--max-attempts", "--conditional-writes", "--ca-bundle"] {
        assert!(!short.contains(rare), "{rare} in -h");
        assert!(long.contains(rare), "{rare} not in --help");
    }
    assert!(
        short.lines().count() + 30 < long.lines().count(),
        "-h is not shorter: {} vs {} lines",
        short.lines().count(),
        long.lines().count()
    );
    // list's --concurrency is no longer shown (it was --max-requests under another name).
    let list = server.run(d, &["list", "--help"]);
    assert!(
        !list
            .ok()
            .lines()
            .any(|l| l.trim_start().starts_with("--concurrency")),
        "{}",
        list.stdout
    );
    // delete's --release does not offer `latest`; the readers' help says "sealed".
    let delete = server.run(d, &["delete", "--help"]);
    assert!(delete.ok().contains("not `latest`"));
    let download = server.run(d, &["download", "--help"]);
    assert!(download.ok().contains("highest sealed"));
}

/// Downloads a 12 MiB object in 5 MiB ranges, the second held back 0.8 s by the server: long
/// enough for a progress bar to appear. `run` executes the argument list.
fn slow_download(
    server: &Server,
    dir: &Path,
    extra: &[&str],
    run: impl FnOnce(Vec<String>) -> Run,
) -> Run {
    server.put(dir, "p", "1", "f.bin", &data(12 * MIB, 7), &[]);
    let faults = server.faults();
    faults.inject(Op::GetObject, 1, Fault::Delay(Duration::ZERO));
    faults.inject(Op::GetObject, 1, Fault::Delay(Duration::from_millis(800)));
    let mut args: Vec<String> = [
        "download",
        "--suite",
        "p",
        "--release",
        "1",
        "--filename",
        "f.bin",
        "--part-size",
        "5MiB",
        "-o",
        "out.bin",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    run(args)
}

#[test]
fn no_progress_bar_without_a_terminal() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let direct = |args: Vec<String>| Run::from(server.cmd(d).args(&args).output().unwrap());
    let run = slow_download(&server, d, &[], direct);
    assert_eq!(run.ok(), "out.bin");
    assert!(
        !run.stderr.contains('\r') && !run.stderr.contains("download ["),
        "{}",
        run.stderr
    );
    // Only a start and an end line at info level.
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("downloading s3://artifacts/p/1/f.bin to out.bin"),
        "{lines:?}"
    );
    assert!(lines[1].contains("downloaded 12.0 MiB in"), "{lines:?}");

    let forced = slow_download(&server, d, &["--progress", "always"], direct);
    assert_eq!(forced.ok(), "out.bin");
    assert!(forced.stderr.contains("download ["), "{}", forced.stderr);
}

#[test]
fn progress_bar_on_a_terminal() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // `script` runs the command on a pseudo-terminal and copies what it draws to its stdout.
    let on_pty = |args: Vec<String>| {
        let line = std::iter::once(env!("CARGO_BIN_EXE_s3blob").to_owned())
            .chain(args)
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = server.command("script", d);
        cmd.env("TERM", "xterm").args(["-qec", &line, "/dev/null"]);
        Run::from(cmd.output().unwrap())
    };
    let run = slow_download(&server, d, &[], on_pty);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("download ["), "{}", run.stdout);
    assert!(run.stdout.contains("12.00 MiB"), "{}", run.stdout);
    assert_eq!(std::fs::read(d.join("out.bin")).unwrap(), data(12 * MIB, 7));

    let never = slow_download(&server, d, &["--progress", "never"], on_pty);
    assert_eq!(never.code, 0, "{}", never.stdout);
    assert!(!never.stdout.contains("download ["), "{}", never.stdout);
}
