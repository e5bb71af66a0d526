//! Names a platform cannot hold as files: on Windows, a download refuses a name Windows cannot
//! hold (a device name, `:` and the like, a trailing dot or space) and `--all` skips it with a
//! warning; on Windows and macOS, a batch holding two names that differ only in case is
//! refused before anything is written. Elsewhere (Linux) the same names are ordinary files.
//! The objects are stored through stdin under `--filename`, since no such local file can exist
//! on Windows, on the in-memory server (s3s-fs would keep them as files too).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{Server, data};

const WINDOWS: bool = cfg!(windows);
const FOLDS_CASE: bool = cfg!(any(windows, target_os = "macos"));

/// Stores `bytes` as `suite/release/name`, read from stdin.
fn store(server: &Server, dir: &Path, release: &str, name: &str, bytes: &[u8]) {
    let args = [
        "upload",
        "--suite",
        "names",
        "--release",
        release,
        "--filename",
        name,
        "-",
    ];
    let mut child = server
        .cmd(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = common::Run::from(child.wait_with_output().unwrap());
    assert_eq!(out.ok(), format!("s3://artifacts/names/{release}/{name}"));
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_name_windows_cannot_hold_is_refused_there_for_one_download() {
    let server = Server::start_memory();
    let dir = tempfile::tempdir().unwrap();
    let bytes = data(1000, 7);
    for name in ["CON.txt", "a:b.txt", "trailing.", "nul"] {
        store(&server, dir.path(), "1.0", name, &bytes);
        let out = server.download(dir.path(), "names", "1.0", name, "dl/");
        if WINDOWS {
            out.fails(1, &[name, "the name", "-o NEWNAME"]);
            assert_eq!(entries(&dir.path().join("dl")), Vec::<String>::new());
        } else {
            out.ok();
            assert!(std::fs::read(dir.path().join("dl").join(name)).unwrap() == bytes);
        }
    }
    // Under another name it comes down everywhere.
    let out = server.download(dir.path(), "names", "1.0", "CON.txt", "console.txt");
    assert_eq!(out.ok(), "console.txt");
    assert!(std::fs::read(dir.path().join("console.txt")).unwrap() == bytes);
}

#[test]
fn all_skips_a_name_windows_cannot_hold_there_with_a_warning() {
    let server = Server::start_memory();
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in ["ok.bin", "AUX.log", "what?.bin"].iter().enumerate() {
        store(&server, dir.path(), "2.0", name, &data(100, i as u64));
    }
    let out = server.download_all(dir.path(), "names", "2.0", "all");
    out.ok();
    let got = entries(&dir.path().join("all"));
    if WINDOWS {
        assert_eq!(got, ["ok.bin"]);
        for name in ["AUX.log", "what?.bin"] {
            assert!(
                out.stderr
                    .lines()
                    .any(|l| l.contains("skipping") && l.contains(name)),
                "no warning for {name}: {}",
                out.stderr
            );
        }
    } else {
        assert_eq!(got, ["AUX.log", "ok.bin", "what?.bin"]);
        assert!(!out.stderr.contains("skipping"), "{}", out.stderr);
    }
}

#[test]
fn names_differing_only_in_case_are_refused_before_anything_is_written_where_case_folds() {
    let server = Server::start_memory();
    let dir = tempfile::tempdir().unwrap();
    store(&server, dir.path(), "3.0", "README", b"upper");
    store(&server, dir.path(), "3.0", "readme", b"lower");
    store(&server, dir.path(), "3.0", "other.bin", b"other");
    let out = server.download_all(dir.path(), "names", "3.0", "all");
    if FOLDS_CASE {
        out.fails(1, &["README", "readme", "differ only in case"]);
        assert!(!dir.path().join("all").exists(), "nothing is written");
    } else {
        out.ok();
        assert_eq!(
            entries(&dir.path().join("all")),
            ["README", "other.bin", "readme"]
        );
        assert_eq!(
            std::fs::read(dir.path().join("all/README")).unwrap(),
            b"upper"
        );
        assert_eq!(
            std::fs::read(dir.path().join("all/readme")).unwrap(),
            b"lower"
        );
    }
}
