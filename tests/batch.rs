//! Whole releases: several files in one command, under one concurrency budget, with the worst
//! failure deciding the exit code and every file accounted for.

mod common;

use common::{Fault, MIB, Op, Server, data};
use serde_json::Value;

#[test]
fn uploads_several_files_each_under_its_own_name() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [("a.tar.gz", 1000), ("b.zip", 12 * MIB), ("SHA256SUMS", 0)];
    for (i, (name, len)) in files.iter().enumerate() {
        std::fs::write(d.join(name), data(*len, i as u64)).unwrap();
    }
    let out = server.run(
        d,
        &[
            "upload",
            "--suite",
            "app",
            "--release",
            "2.0",
            "a.tar.gz",
            "b.zip",
            "SHA256SUMS",
            "--part-size",
            "5MiB",
            "--concurrency",
            "2",
        ],
    );
    assert_eq!(
        out.ok(),
        "s3://artifacts/app/2.0/a.tar.gz\ns3://artifacts/app/2.0/b.zip\ns3://artifacts/app/2.0/SHA256SUMS"
    );
    for (i, (name, len)) in files.iter().enumerate() {
        assert!(
            server.object(&format!("app/2.0/{name}")).unwrap() == data(*len, i as u64),
            "{name}"
        );
    }
    assert!(
        out.stderr.contains("uploaded 3 of 3 files"),
        "{}",
        out.stderr
    );
    assert_eq!(server.open_uploads(), 0);

    // Again, as JSON: everything is already there, identical.
    let json = server.run(
        d,
        &[
            "--json",
            "upload",
            "--suite",
            "app",
            "--release",
            "2.0",
            "a.tar.gz",
            "b.zip",
        ],
    );
    let v: Value = json.json();
    assert_eq!(v["command"], "upload");
    assert_eq!(v["failed"], 0);
    assert_eq!(v["files"][1]["key"], "app/2.0/b.zip");
    assert_eq!(v["files"][1]["unchanged"], true);
}

#[test]
fn a_failed_file_does_not_hide_the_others() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "3.0", "taken.bin", b"old", &[]);
    std::fs::write(d.join("taken.bin"), b"new bytes").unwrap();
    std::fs::write(d.join("fine.bin"), b"fine").unwrap();
    std::fs::write(d.join("denied.bin"), b"denied").unwrap();
    // One file at a time, in order: the first PUT (denied.bin's) is refused.
    server.faults().inject(
        Op::PutObject,
        1,
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    let out = server.run(
        d,
        &[
            "upload",
            "--max-requests",
            "1",
            "--suite",
            "app",
            "--release",
            "3.0",
            "denied.bin",
            "fine.bin",
            "taken.bin",
        ],
    );
    // The worst failure decides: denied (4) and taken (6) -> 4 is ranked above 6.
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(out.stdout, "s3://artifacts/app/3.0/fine.bin\n");
    assert!(out.stderr.contains("denied.bin"), "{}", out.stderr);
    assert!(
        out.stderr.contains("s3://artifacts/app/3.0/taken.bin"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("2 of the files failed: denied.bin, taken.bin"),
        "{}",
        out.stderr
    );
    assert_eq!(server.object("app/3.0/denied.bin"), None);
    assert_eq!(server.object("app/3.0/fine.bin").unwrap(), b"fine");
    assert_eq!(server.object("app/3.0/taken.bin").unwrap(), b"old");

    let json = server.run(
        d,
        &[
            "--json",
            "upload",
            "--suite",
            "app",
            "--release",
            "3.0",
            "taken.bin",
            "fine.bin",
        ],
    );
    assert_eq!(json.code, 6);
    let v: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(v["failed"], 1);
    assert_eq!(v["files"][0]["file"], "taken.bin");
    assert_eq!(v["files"][0]["exit_code"], 6);
    assert_eq!(v["files"][1]["unchanged"], true);
}

#[test]
fn batch_usage_errors_send_nothing() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("x")).unwrap();
    std::fs::write(d.join("a.bin"), b"a").unwrap();
    std::fs::write(d.join("x/a.bin"), b"b").unwrap();
    server
        .run(
            d,
            &[
                "upload",
                "--suite",
                "s",
                "--release",
                "1",
                "a.bin",
                "x/a.bin",
            ],
        )
        .fails(2, &["\"a.bin\"", "--filename"]);
    server
        .run(
            d,
            &[
                "upload",
                "--suite",
                "s",
                "--release",
                "1",
                "--filename",
                "f",
                "a.bin",
                "x/a.bin",
            ],
        )
        .fails(2, &["--filename"]);
    assert!(server.object("s/1/a.bin").is_none());
}

#[test]
fn downloads_a_whole_release_into_a_directory() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [("a.tar.gz", 1000), ("b.zip", 12 * MIB), ("SHA256SUMS", 0)];
    for (i, (name, len)) in files.iter().enumerate() {
        server.put(d, "app", "2.0", name, &data(*len, i as u64), &[]);
    }
    server.put(d, "app", "1.0", "old.bin", b"old", &[]);
    let out = server.run(
        d,
        &[
            "download",
            "--suite",
            "app",
            "--release",
            "latest",
            "--all",
            "-o",
            "dist/new",
            "--part-size",
            "5MiB",
            "--concurrency",
            "3",
        ],
    );
    // Key order, one path per file (joined with the platform's separator: `\` on Windows).
    let sep = std::path::MAIN_SEPARATOR;
    assert_eq!(
        out.ok(),
        format!("dist/new{sep}SHA256SUMS\ndist/new{sep}a.tar.gz\ndist/new{sep}b.zip")
    );
    for (i, (name, len)) in files.iter().enumerate() {
        assert!(
            std::fs::read(d.join("dist/new").join(name)).unwrap() == data(*len, i as u64),
            "{name}"
        );
    }
    assert!(!d.join("dist/new/old.bin").exists());

    let json = server.run(
        d,
        &[
            "--json",
            "download",
            "--suite",
            "app",
            "--release",
            "2.0",
            "--filename",
            "a.tar.gz",
            "--filename",
            "b.zip",
            "--filename",
            "a.tar.gz",
            "-o",
            "two",
        ],
    );
    let v: Value = json.json();
    assert_eq!(v["failed"], 0);
    // Named twice, fetched once.
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    let path = format!("two{}b.zip", std::path::MAIN_SEPARATOR);
    assert_eq!(v["files"][1]["path"], path.as_str());
    assert_eq!(v["files"][1]["verified"], "checksum");
}

#[test]
fn a_failed_download_does_not_hide_the_others() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "2.0", "a.bin", b"aaa", &[]);
    std::fs::create_dir(d.join("out")).unwrap();
    std::fs::write(d.join("out/kept.bin"), b"local").unwrap();
    server.put(d, "app", "2.0", "kept.bin", b"remote", &[]);
    let out = server.run(
        d,
        &[
            "download",
            "--suite",
            "app",
            "--release",
            "2.0",
            "--filename",
            "a.bin",
            "--filename",
            "nope.bin",
            "--filename",
            "kept.bin",
            "--no-clobber",
            "-o",
            "out",
        ],
    );
    // Missing (3) ranks above already exists (6).
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("out{}a.bin\n", std::path::MAIN_SEPARATOR)
    );
    assert!(
        out.stderr
            .contains("2 of the files failed: nope.bin, kept.bin"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(d.join("out/a.bin")).unwrap(), b"aaa");
    assert_eq!(std::fs::read(d.join("out/kept.bin")).unwrap(), b"local");
}

#[test]
fn download_batch_usage_errors() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "app", "2.0", "a.bin", b"aaa", &[]);
    std::fs::write(d.join("file"), b"x").unwrap();
    let base = ["download", "--suite", "app", "--release", "2.0"];
    let run = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        server.run(d, &a)
    };
    run(&["--all", "-o", "file"]).fails(2, &["-o file", "directory"]);
    run(&["--all", "-o", "-"]).fails(2, &["-o -"]);
    run(&["--filename", "a.bin", "--filename", "b", "-o", "-"]).fails(2, &["-o -"]);
    run(&[]).usage_error(&["required", "--filename", "--all"]);
    server
        .run(
            d,
            &["download", "--suite", "app", "--release", "9.9", "--all"],
        )
        .fails(3, &["s3://artifacts/app/9.9/", "no files"]);
}

#[test]
fn files_of_a_batch_share_one_concurrency_budget() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = ["a.bin", "b.bin", "c.bin"];
    // Two whole parts each: the budget of 2 x 5 MiB holds exactly 2 of them.
    for (i, name) in names.iter().enumerate() {
        std::fs::write(d.join(name), data(10 * MIB, i as u64)).unwrap();
    }
    // Every part is held at the server until two are: the budget is then full, so two are in
    // flight at once; without a shared budget, 3 files x 2 would be 6 at once, and the parts
    // beyond two would arrive while those are held.
    let faults = server.faults();
    let gate = faults.hold(Op::UploadPart, 6);
    let mut args = vec![
        "upload",
        "--suite",
        "b",
        "--release",
        "1",
        "--part-size",
        "5MiB",
        "--concurrency",
        "2",
    ];
    args.extend_from_slice(&names);
    let child = server.spawn(d, &args);
    common::wait_for("two parts held", || faults.count(Op::UploadPart) >= 2);
    gate.release();
    common::Run::from(child.wait_with_output().unwrap()).ok();
    assert_eq!(faults.count(Op::UploadPart), 6);
    assert_eq!(
        faults.take_max_in_flight(),
        2,
        "parts in flight across files"
    );

    let gate = faults.hold(Op::GetObject, 6);
    let before = faults.count(Op::GetObject);
    let child = server.spawn(
        d,
        &[
            "download",
            "--suite",
            "b",
            "--release",
            "1",
            "--all",
            "-o",
            "back",
            "--part-size",
            "5MiB",
            "--concurrency",
            "2",
        ],
    );
    common::wait_for("two ranges held", || {
        faults.count(Op::GetObject) >= before + 2
    });
    gate.release();
    common::Run::from(child.wait_with_output().unwrap()).ok();
    assert_eq!(
        faults.take_max_in_flight(),
        2,
        "ranges in flight across files"
    );
    for (i, name) in names.iter().enumerate() {
        assert!(std::fs::read(d.join("back").join(name)).unwrap() == data(10 * MIB, i as u64));
    }
}

/// Small objects are bounded by bytes, not by --concurrency: 40 files of 1 KiB with
/// `--concurrency 1` are all in flight at once (held at the server until all have arrived),
/// and `--max-requests` caps them.
#[test]
fn small_files_go_many_at_a_time_up_to_max_requests() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names: Vec<String> = (0..40).map(|i| format!("f{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        std::fs::write(d.join(name), data(1024, i as u64)).unwrap();
    }
    let upload = |release: &str, extra: &[&str]| {
        let mut args = vec![
            "upload",
            "--suite",
            "small",
            "--release",
            release,
            "--concurrency",
            "1",
        ];
        args.extend_from_slice(extra);
        args.extend(names.iter().map(String::as_str));
        server.spawn(d, &args)
    };
    let faults = server.faults();
    let gate = faults.hold(Op::PutObject, 40);
    let child = upload("1", &[]);
    common::wait_for("all 40 PUTs held at once", || {
        faults.count(Op::PutObject) >= 40
    });
    gate.release();
    common::Run::from(child.wait_with_output().unwrap()).ok();
    faults.clear();

    // With --max-requests 8, the 9th waits for one of the 8 held to finish.
    let before = faults.count(Op::PutObject);
    let gate = faults.hold(Op::PutObject, 40);
    faults.take_max_in_flight();
    let child = upload("2", &["--max-requests", "8"]);
    common::wait_for("8 PUTs held", || faults.count(Op::PutObject) >= before + 8);
    // Eight at once (held); a ninth waits for one of them: the server never sees more than
    // eight at once, from here to the end.
    gate.release();
    common::Run::from(child.wait_with_output().unwrap()).ok();
    assert_eq!(faults.take_max_in_flight(), 8);
    for name in &names {
        assert!(
            server.object(&format!("small/2/{name}")).is_some(),
            "{name}"
        );
    }
}

/// A listing that fails fails every file of the batch the same way: the error is printed once,
/// with how many files it hit, and the summary names the first files, not thousands.
#[test]
fn a_failed_listing_is_one_error_not_one_per_file() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names: Vec<String> = (0..30).map(|i| format!("f{i:02}")).collect();
    for n in &names {
        std::fs::write(d.join(n), n.as_bytes()).unwrap();
    }
    server.faults().inject(
        Op::ListObjectsV2,
        100,
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    let mut args = vec!["upload", "--suite", "app", "--release", "1"];
    args.extend(names.iter().map(String::as_str));
    let out = server.run(d, &args);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("s3blob: error:"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].contains("AccessDenied") || lines[0].contains("access"),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with("(30 files)"), "{}", lines[0]);
    assert!(
        lines[1].ends_with("30 of the files failed: f00, f01, f02, f03, f04, f05, f06, f07, f08, f09, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19 and 10 more (--json names them all)"),
        "{}",
        lines[1]
    );
    assert_eq!(server.faults().count(Op::PutObject), 0);
}

/// `--json` has one shape whatever a glob matched: one file is a batch of one, and a file that
/// failed is an element with its error, never an empty stdout.
#[test]
fn one_json_shape_for_one_file_or_many() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("one.bin"), b"one").unwrap();
    let one = server.run(
        d,
        &[
            "--json",
            "upload",
            "--suite",
            "j",
            "--release",
            "1",
            "one.bin",
        ],
    );
    let v: Value = one.json();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["command", "files", "failed"], "{v}");
    assert_eq!(v["command"], "upload");
    assert_eq!(v["files"][0]["uri"], "s3://artifacts/j/1/one.bin");
    assert_eq!(v["files"][0]["command"], "upload");
    let down = server.run(
        d,
        &[
            "--json",
            "download",
            "--suite",
            "j",
            "--release",
            "1",
            "--filename",
            "one.bin",
            "-o",
            "got/",
        ],
    );
    assert_eq!(down.file_json()["path"], "got/one.bin");
    // A failed single file: exit 3, its error on stderr once, and on stdout as an element.
    let missing = server.run(
        d,
        &[
            "--json",
            "download",
            "--suite",
            "j",
            "--release",
            "1",
            "--filename",
            "nope.bin",
        ],
    );
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    let v: Value = serde_json::from_str(missing.stdout.trim()).unwrap();
    assert_eq!(v["failed"], 1);
    assert_eq!(v["files"][0]["file"], "nope.bin");
    assert_eq!(v["files"][0]["exit_code"], 3);
    assert!(
        v["files"][0]["error"]
            .as_str()
            .unwrap()
            .contains("nope.bin")
    );
    let errors: Vec<&str> = missing
        .stderr
        .lines()
        .filter(|l| l.starts_with("s3blob: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", missing.stderr);
    // Without --json, a failed single file still prints nothing on stdout.
    let plain = server.run(
        d,
        &[
            "download",
            "--suite",
            "j",
            "--release",
            "1",
            "--filename",
            "nope.bin",
        ],
    );
    plain.fails(3, &["nope.bin"]);
}

/// The summary counts what moved: an identical file already stored is not "uploaded".
#[test]
fn the_summary_counts_unchanged_files_apart() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    server.put(d, "u", "1", "same.bin", b"same bytes", &[]);
    std::fs::write(d.join("new.bin"), b"new").unwrap();
    let out = server.run(
        d,
        &[
            "upload",
            "--suite",
            "u",
            "--release",
            "1",
            "same.bin",
            "new.bin",
        ],
    );
    out.ok();
    assert!(
        out.stderr
            .contains("uploaded 1 of 2 files, 3 B; 1 already stored (identical)"),
        "{}",
        out.stderr
    );
}

/// With `-v`, each line of a batch says whose it is: the command, the file, and the part (up)
/// or byte range (down), so the lines of files moving at once can be told apart.
#[test]
fn verbose_lines_name_the_command_the_file_and_the_part() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("big.bin"), data(11 * MIB, 1)).unwrap();
    std::fs::write(d.join("small.txt"), b"small").unwrap();
    let args = ["--suite", "app", "--release", "1.0", "--part-size", "5MiB"];
    let up = server.run(
        d,
        &[&["-v", "upload"], &args[..], &["big.bin", "small.txt"]].concat(),
    );
    up.ok();
    let line = |stderr: &str, needles: &[&str]| {
        assert!(
            stderr
                .lines()
                .any(|l| needles.iter().all(|n| l.contains(n))),
            "no line with all of {needles:?}:\n{stderr}"
        );
    };
    line(
        &up.stderr,
        &[
            "command=\"upload\"",
            "file{file=big.bin}",
            "part{n=3}",
            "UploadPart",
        ],
    );
    line(
        &up.stderr,
        &["command=\"upload\"", "file{file=small.txt}", "PutObject"],
    );
    let down = server.run(
        d,
        &[&["-v", "download"], &args[..], &["--all", "-o", "out/"]].concat(),
    );
    down.ok();
    line(
        &down.stderr,
        &[
            "command=\"download\"",
            "file{file=big.bin}",
            "range{bytes=10485760-11534335}",
            "GetObject",
        ],
    );
    assert!(std::fs::read(d.join("out/big.bin")).unwrap() == data(11 * MIB, 1));
    // At the default level the lines stay bare.
    let quiet = server.run(
        d,
        &[&["download"], &args[..], &["--all", "-o", "again/"]].concat(),
    );
    quiet.ok();
    assert!(!quiet.stderr.contains("command="), "{}", quiet.stderr);
}
