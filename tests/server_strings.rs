//! Keys and messages chosen by whoever can write to the bucket: a listing holding keys XML
//! cannot carry still works, nothing from the server reaches the terminal raw, directory
//! markers are skipped quietly, and names the local file system cannot hold fail on their own.

mod common;

use common::{Fault, Op, Server, data};

/// Characters that must never reach a terminal as they are.
const RAW: [char; 4] = ['\u{1b}', '\u{202e}', '\u{7}', '\u{9b}'];

#[track_caller]
fn assert_no_raw(what: &str, text: &str) {
    for c in RAW {
        assert!(!text.contains(c), "{what} carries a raw {c:?}: {text:?}");
    }
}

/// Every line of stderr is one log line or one error line: nothing a key carried starts a line.
#[track_caller]
fn assert_lines_are_ours(stderr: &str) {
    for line in stderr.lines() {
        let log = ["INFO ", "WARN ", "DEBUG ", "ERROR "]
            .iter()
            .any(|l| line.trim_start().starts_with(l));
        assert!(
            log || line.starts_with("s3blob: error: "),
            "a line not written by s3blob: {line:?} in {stderr:?}"
        );
    }
}

const ESC_KEY: &str = "s/1/esc\u{1b}[31mred";
const NL_KEY: &str = "s/1/line\ns3blob: error: forged";
const RTL_NAME: &str = "evil\u{202e}gpj.exe";
const ODD_NAME: &str = "with space+plus%25 & ü.bin";

fn hostile_release(server: &Server, d: &std::path::Path) {
    server.put(d, "s", "1", "app.tar.gz", &data(3000, 1), &[]);
    server.plant(ESC_KEY, b"esc");
    server.plant(NL_KEY, b"nl");
    server.plant(&format!("s/1/{RTL_NAME}"), b"rtl");
    server.plant(&format!("s/1/{ODD_NAME}"), b"odd");
    server.plant("odd\u{202e}suite/2/f", b"x");
    server.plant("s/rel\u{1b}]0;title\u{7}/f", b"x");
}

#[test]
fn a_key_xml_cannot_carry_does_not_stop_the_listing() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    hostile_release(&server, d);

    let files = server.run(d, &["list", "--suite", "s", "--release", "1"]);
    let out = files.ok();
    assert_no_raw("list's stdout", out);
    assert_no_raw("list's stderr", &files.stderr);
    let names: Vec<&str> = out
        .lines()
        .map(|l| l.rsplit("  ").next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["app.tar.gz", "evil\\u{202e}gpj.exe", ODD_NAME],
        "{out}"
    );
    // The two keys that cannot be file names are named, escaped, on one line each, and the
    // warning speaks of the name, not of a flag nobody typed.
    assert!(
        files.stderr.contains("esc\\u{1b}[31mred"),
        "{}",
        files.stderr
    );
    assert!(
        files.stderr.contains("line\\ns3blob: error: forged"),
        "{}",
        files.stderr
    );
    assert!(!files.stderr.contains("--filename"), "{}", files.stderr);
    assert_eq!(
        files.stderr.matches("skipping").count(),
        2,
        "{}",
        files.stderr
    );
    assert_lines_are_ours(&files.stderr);

    // JSON carries the real names (serde_json escapes control characters).
    let json = server.run(d, &["--json", "list", "--suite", "s", "--release", "1"]);
    let keys: Vec<String> = json
        .json_lines()
        .iter()
        .map(|v| v["filename"].to_string())
        .collect();
    assert!(keys.contains(&format!("\"{RTL_NAME}\"")), "{keys:?}");

    let suites = server.run(d, &["list"]);
    assert_eq!(suites.ok(), "odd\\u{202e}suite\ns", "{}", suites.stderr);
    let releases = server.run(d, &["list", "--suite", "s"]);
    let out = releases.ok();
    assert_no_raw("the releases", out);
    assert!(out.contains("rel\\u{1b}]0;title\\u{7}"), "{out}");
}

#[test]
fn download_all_fetches_the_odd_names_and_skips_the_impossible_ones() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    hostile_release(&server, d);

    let run = server.download_all(d, "s", "1", "out");
    let out = run.ok();
    assert_no_raw("download's stdout", out);
    assert_no_raw("download's stderr", &run.stderr);
    assert_lines_are_ours(&run.stderr);
    assert!(out.contains("out/evil\\u{202e}gpj.exe"), "{out}");
    assert!(!run.stderr.contains("--filename"), "{}", run.stderr);
    // The decoded names are the stored keys: their bytes came back.
    let o = d.join("out");
    assert_eq!(std::fs::read(o.join(RTL_NAME)).unwrap(), b"rtl");
    assert_eq!(std::fs::read(o.join(ODD_NAME)).unwrap(), b"odd");
    assert_eq!(std::fs::read(o.join("app.tar.gz")).unwrap(), data(3000, 1));
    let mut written: Vec<String> = std::fs::read_dir(&o)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["app.tar.gz", RTL_NAME, ODD_NAME]);
}

#[test]
fn directory_markers_are_skipped_quietly_and_long_names_fail_alone() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "s", "1", "app.tar.gz", &data(3000, 2), &[]);
    // A console's "folder", and a name real stores hold but this file system cannot.
    server.faults().list_only("s/1/", 0);
    server.faults().list_only("s/", 0);
    let long = "x".repeat(300);
    server.faults().list_only(&format!("s/1/{long}"), 5);

    let list = server.run(d, &["list", "--suite", "s", "--release", "1"]);
    let lines: Vec<&str> = list.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with("  app.tar.gz"), "{lines:?}");
    assert!(!list.stderr.contains("WARN"), "{}", list.stderr);
    assert_eq!(server.run(d, &["list", "--suite", "s"]).ok(), "1  open");

    let before = server.faults().requests().len();
    let run = server.download_all(d, "s", "1", "out");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "out/app.tar.gz\n");
    assert_eq!(
        std::fs::read(d.join("out/app.tar.gz")).unwrap(),
        data(3000, 2)
    );
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("s3blob: error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", run.stderr);
    assert!(
        errors[0].contains(&format!("s3://artifacts/s/1/{long}"))
            && errors[0].contains("300 bytes")
            && errors[0].contains("at most 255"),
        "{}",
        errors[0]
    );
    assert!(errors[1].contains("1 of the files failed"), "{}", errors[1]);
    // The marker is no file and no warning; the long name was refused before any request.
    assert!(!run.stderr.contains("WARN"), "{}", run.stderr);
    assert!(!run.stderr.contains("invalid"), "{}", run.stderr);
    let asked_for_long = server
        .faults()
        .requests()
        .iter()
        .skip(before)
        .any(|r| r.op != Op::ListObjectsV2 && r.path.contains(&long));
    assert!(!asked_for_long, "a request was sent for the long name");

    // The marker is in the debug log.
    let all = server.run(d, &["-v", "list", "--suite", "s", "--release", "1"]);
    all.ok();
    assert!(
        all.stderr.contains("skipping a directory marker"),
        "{}",
        all.stderr
    );
}

#[test]
fn server_messages_naming_odd_keys_are_escaped() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.plant(&format!("s/1/{RTL_NAME}"), b"rtl");
    server.faults().inject(
        Op::GetObject,
        100,
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    let run = server.download_all(d, "s", "1", "out");
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_no_raw("stderr", &run.stderr);
    assert_lines_are_ours(&run.stderr);
    assert!(
        run.stderr.contains("evil\\u{202e}gpj.exe"),
        "{}",
        run.stderr
    );

    let stat = server.run(
        d,
        &[
            "stat",
            "--suite",
            "s",
            "--release",
            "1",
            "--filename",
            RTL_NAME,
        ],
    );
    assert_no_raw("stat", &stat.stdout);
    assert!(
        stat.ok().contains("evil\\u{202e}gpj.exe"),
        "{}",
        stat.stdout
    );
}
