//! Whole releases going away: `delete --all` and `prune`, manifest first, DeleteObjects in
//! batches of 1,000, never the highest sealed release or a young open one.

mod common;

use std::path::Path;

use common::{Fault, Op, Run, Server};
use serde_json::Value;

fn seal(server: &Server, dir: &Path, release: &str, files: &[&str]) {
    for f in files {
        std::fs::write(dir.join(f), format!("{release}/{f}")).unwrap();
    }
    let mut args = vec!["upload", "--seal", "--suite", "s", "--release", release];
    args.extend_from_slice(files);
    server.run(dir, &args).ok();
}

/// Keys under `s/RELEASE/` in the server's storage.
fn stored(server: &Server, release: &str) -> Vec<String> {
    let dir = server.object_path(&format!("s/{release}"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn delete_all_removes_a_sealed_release_manifest_first() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seal(&server, d, "1.0", &["a.txt"]);
    seal(&server, d, "1.1", &["a.txt", "b.txt", "c.txt"]);
    server
        .run(d, &["delete", "--suite", "s", "--release", "1.1", "--all"])
        .fails(2, &["--yes", "s3://artifacts/s/1.1/"]);
    assert_eq!(stored(&server, "1.1").len(), 4);
    let before = server.faults().requests().len();
    let out = server.run(
        d,
        &[
            "delete",
            "--suite",
            "s",
            "--release",
            "1.1",
            "--all",
            "--yes",
        ],
    );
    assert_eq!(
        out.ok(),
        "s3://artifacts/s/1.1/ (sealed, 4 object(s) deleted)"
    );
    assert!(stored(&server, "1.1").is_empty());
    // The manifest went first, alone; then the files in one DeleteObjects.
    let ops: Vec<Op> = server.faults().requests()[before..]
        .iter()
        .map(|r| r.op)
        .filter(|op| {
            matches!(
                op,
                Op::DeleteManifest | Op::DeleteObjects | Op::DeleteObject
            )
        })
        .collect();
    assert_eq!(ops, [Op::DeleteManifest, Op::DeleteObjects]);
    // latest is the release before.
    let latest = server.download(d, "s", "latest", "a.txt", "-");
    assert_eq!(latest.ok(), "1.0/a.txt");
    // Nothing left: exit 3.
    server
        .run(
            d,
            &[
                "delete",
                "--suite",
                "s",
                "--release",
                "1.1",
                "--all",
                "--yes",
            ],
        )
        .fails(3, &["s/1.1"]);
    // --all and --filename together: a usage error.
    let both = server.run(
        d,
        &[
            "delete",
            "--suite",
            "s",
            "--release",
            "1.0",
            "--filename",
            "a.txt",
            "--all",
            "--yes",
        ],
    );
    assert_eq!(both.code, 2, "{}", both.stderr);
    assert_eq!(stored(&server, "1.0").len(), 2);
}

#[test]
fn a_manifest_that_cannot_be_deleted_leaves_the_release_whole() {
    let server = Server::start_faulty();
    let dir = tempfile::tempdir().unwrap();
    seal(&server, dir.path(), "1.0", &["a.txt", "b.txt"]);
    server.faults().inject(
        Op::DeleteManifest,
        usize::MAX,
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    server
        .run(
            dir.path(),
            &[
                "delete",
                "--suite",
                "s",
                "--release",
                "1.0",
                "--all",
                "--yes",
            ],
        )
        .fails(4, &["manifest"]);
    assert_eq!(
        stored(&server, "1.0").len(),
        3,
        "nothing may go before the manifest"
    );
}

#[test]
fn thousands_of_objects_go_a_thousand_per_request_and_one_by_one_where_unsupported() {
    let server = Server::start_faulty();
    for i in 0..1500 {
        server.plant(&format!("s/big/f{i:04}"), b"x");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = server.run(
        dir.path(),
        &[
            "delete",
            "--suite",
            "s",
            "--release",
            "big",
            "--all",
            "--yes",
            "--json",
        ],
    );
    let v: Value = out.json();
    assert_eq!(v["deleted_objects"], 1500);
    assert_eq!(v["sealed"], false);
    assert!(stored(&server, "big").is_empty());
    let batches = server
        .faults()
        .requests()
        .iter()
        .filter(|r| r.op == Op::DeleteObjects)
        .count();
    assert_eq!(batches, 2);

    // A store without DeleteObjects (501): one DeleteObject per key.
    for i in 0..30 {
        server.plant(&format!("s/small/f{i:02}"), b"x");
    }
    server.faults().inject(
        Op::DeleteObjects,
        usize::MAX,
        Fault::Error {
            status: 501,
            code: "NotImplemented",
        },
    );
    let out = server.run(
        dir.path(),
        &[
            "delete",
            "--suite",
            "s",
            "--release",
            "small",
            "--all",
            "--yes",
        ],
    );
    assert_eq!(
        out.ok(),
        "s3://artifacts/s/small/ (open, 30 object(s) deleted)"
    );
    assert!(stored(&server, "small").is_empty());
}

fn prune(server: &Server, dir: &Path, extra: &[&str]) -> (Run, Value) {
    let mut args = vec!["prune", "--suite", "s", "--json"];
    args.extend_from_slice(extra);
    let run = server.run(dir, &args);
    let v = serde_json::from_str(run.stdout.trim()).unwrap_or(Value::Null);
    (run, v)
}

fn names(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["release"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn prune_keeps_the_newest_n_the_highest_sealed_and_young_open_releases() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for r in ["1.0", "1.2", "1.10", "1.3"] {
        seal(&server, d, r, &["a.txt"]);
    }
    // An open release being published, higher than every sealed one.
    std::fs::write(d.join("wip.txt"), "wip").unwrap();
    server
        .run(
            d,
            &["upload", "--suite", "s", "--release", "2.0", "wip.txt"],
        )
        .ok();

    // Without --yes or --dry-run: refused, nothing goes.
    server
        .run(d, &["prune", "--suite", "s", "--keep", "1"])
        .fails(2, &["--yes", "--dry-run"]);

    // Version order: 1.0 1.2 1.3 1.10 2.0. Keep 1 keeps 2.0; 1.10 is the highest sealed.
    let (run, v) = prune(&server, d, &["--keep", "1", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(names(&v, "would_remove"), ["1.0", "1.2", "1.3"]);
    assert_eq!(stored(&server, "1.0").len(), 2, "a dry run removes nothing");

    let (run, v) = prune(&server, d, &["--keep", "1", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(names(&v, "removed"), ["1.0", "1.2", "1.3"]);
    for r in ["1.0", "1.2", "1.3"] {
        assert!(stored(&server, r).is_empty(), "{r}");
    }
    assert_eq!(stored(&server, "1.10").len(), 2);
    let kept = v["kept"].as_array().unwrap();
    assert!(
        kept.iter().any(
            |k| k["release"] == "1.10" && k["why"].as_str().unwrap().contains("highest sealed")
        ),
        "{v:#}"
    );

    // 2.0 is open and young: even "keep 0 of age" leaves it (and 1.10, the highest sealed).
    let (run, v) = prune(&server, d, &["--older-than", "0s", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(names(&v, "removed"), Vec::<String>::new());
    assert!(kept_why(&v, "2.0").contains("--open-grace"), "{v:#}");
    // With no grace, the open release goes; the highest sealed one still stays.
    let (run, v) = prune(
        &server,
        d,
        &["--older-than", "0s", "--open-grace", "0s", "--yes"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(names(&v, "removed"), ["2.0"]);
    assert_eq!(stored(&server, "1.10").len(), 2);

    // Plain output: one line per release.
    seal(&server, d, "0.9", &["a.txt"]);
    let out = server.run(d, &["prune", "--suite", "s", "--keep", "1", "--yes"]);
    assert_eq!(
        out.ok(),
        "s3://artifacts/s/0.9/ (sealed, 2 object(s) deleted)"
    );
}

fn kept_why<'a>(v: &'a Value, release: &str) -> &'a str {
    v["kept"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["release"] == release)
        .and_then(|k| k["why"].as_str())
        .unwrap_or_else(|| panic!("{release} not kept: {v:#}"))
}

/// A prune removes a release manifest first: held at the server between the manifest delete
/// and the object deletes (and just before the manifest delete), the release it removes reads
/// as whole at every moment, sealed and then open, never sealed with files missing, and
/// `latest` stays whole throughout.
#[test]
fn a_prune_never_shows_a_sealed_release_with_files_missing() {
    let server = Server::start_faulty();
    let faults = server.faults();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = ["a.txt", "b.txt", "c.txt"];
    for r in ["1.0", "1.1"] {
        seal(&server, d, r, &files);
    }
    // Downloads all of `release` into `out`, checks every file, and returns how each was
    // verified ("manifest" for a sealed release).
    let whole = |release: &str, out: &str| -> Vec<String> {
        let run = server.run(
            d,
            &[
                "--json",
                "download",
                "--suite",
                "s",
                "--release",
                release,
                "--all",
                "-o",
                out,
            ],
        );
        let v = run.json();
        assert_eq!(v["failed"], 0, "{v}");
        for f in files {
            let expect = format!("{}/{f}", if release == "latest" { "1.1" } else { release });
            assert_eq!(
                std::fs::read_to_string(d.join(out).join(f)).unwrap(),
                expect,
                "{release} in {out}"
            );
        }
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["verified"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let manifest_delete = faults.hold(Op::DeleteManifest, 1);
    let object_deletes = faults.hold(Op::DeleteObjects, 1);
    let pruning = server.spawn(d, &["prune", "--suite", "s", "--keep", "1", "--yes"]);
    common::wait_for("the manifest delete", || {
        faults.count(Op::DeleteManifest) >= 1
    });
    // Nothing is deleted yet: 1.0 is sealed and whole.
    assert_eq!(whole("1.0", "before"), ["manifest"; 3]);
    whole("latest", "latest-before");
    manifest_delete.release();
    common::wait_for("the object deletes", || {
        faults.count(Op::DeleteObjects) >= 1
    });
    // The manifest is gone, the objects are all there: 1.0 is open and whole.
    assert_eq!(stored(&server, "1.0"), files);
    assert_eq!(whole("1.0", "between"), ["checksum"; 3]);
    whole("latest", "latest-between");
    object_deletes.release();
    Run::from(pruning.wait_with_output().unwrap()).ok();
    assert!(stored(&server, "1.0").is_empty());
    assert_eq!(stored(&server, "1.1").len(), 4);
}

/// A DeleteObjects that answers 200 but refuses some of its keys (a per-key AccessDenied, as a
/// bucket policy protecting them gives): `delete --all` deletes the rest, names the keys left
/// and exits with their error's code (4); the manifest went first, so the release is open and
/// `latest` names the one before. Running the command again, once the keys may go, finishes.
#[test]
fn delete_all_with_keys_refused_in_the_batch_then_a_rerun_finishes() {
    let server = Server::start_faulty();
    let faults = server.faults();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seal(&server, d, "1.0", &["a.txt"]);
    seal(&server, d, "1.1", &["a.txt", "b.txt", "c.txt", "d.txt"]);
    faults.refuse_in_delete_objects(&["s/1.1/b.txt", "s/1.1/d.txt"]);
    let delete = [
        "delete",
        "--suite",
        "s",
        "--release",
        "1.1",
        "--all",
        "--yes",
    ];
    let out = server.run(d, &delete);
    assert_eq!(out.code, 4, "{}", out.stderr);
    // What went is reported; the first key left is named with its error and how many are left.
    assert_eq!(
        out.stdout,
        "s3://artifacts/s/1.1/ (sealed, 3 object(s) deleted, 2 left)\n"
    );
    let lines = errors(&out);
    assert!(
        lines[0].contains("s3://artifacts/s/1.1/b.txt")
            && lines[0].contains("access denied (AccessDenied")
            && lines[0].contains("2 object(s) of the release left")
            && lines[0].contains("run the command again"),
        "{}",
        out.stderr
    );
    assert_eq!(stored(&server, "1.1"), ["b.txt", "d.txt"]);
    assert_eq!(
        server.download(d, "s", "latest", "a.txt", "-").ok(),
        "1.0/a.txt"
    );

    // The same with --json: every key left is listed.
    seal(&server, d, "1.2", &["a.txt", "b.txt"]);
    faults.refuse_in_delete_objects(&["s/1.2/b.txt"]);
    let out = server.run(
        d,
        &[
            "--json",
            "delete",
            "--suite",
            "s",
            "--release",
            "1.2",
            "--all",
            "--yes",
        ],
    );
    assert_eq!(out.code, 4, "{}", out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["failed_keys"], serde_json::json!(["s/1.2/b.txt"]), "{v}");
    assert_eq!(v["deleted_objects"], 2, "the manifest and a.txt: {v}");

    faults.refuse_in_delete_objects(&[]);
    let out = server.run(d, &delete);
    assert_eq!(
        out.ok(),
        "s3://artifacts/s/1.1/ (open, 2 object(s) deleted)"
    );
    assert!(stored(&server, "1.1").is_empty());
    assert_eq!(stored(&server, "1.0").len(), 2, "{}", out.stderr);
}

/// The same for `prune`: each release it removes keeps the keys refused and the exit code is
/// theirs (4). Left open, a release is as young as its newest object: `prune` run again keeps
/// one younger than `--open-grace` (as the error says), and with `--open-grace 0s` finishes.
#[test]
fn prune_with_keys_refused_in_the_batch_then_a_rerun_finishes() {
    let server = Server::start_faulty();
    let faults = server.faults();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for r in ["1.0", "1.1", "1.2"] {
        seal(&server, d, r, &["a.txt", "b.txt"]);
    }
    faults.refuse_in_delete_objects(&["s/1.0/b.txt", "s/1.1/a.txt"]);
    let (run, v) = prune(&server, d, &["--keep", "1", "--yes"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let errors = errors(&run);
    assert!(
        errors
            .iter()
            .any(|l| l.contains("s3://artifacts/s/1.0/b.txt")),
        "{}",
        run.stderr
    );
    assert!(
        errors
            .iter()
            .any(|l| l.contains("s3://artifacts/s/1.1/a.txt")),
        "{}",
        run.stderr
    );
    assert_eq!(stored(&server, "1.0"), ["b.txt"]);
    assert_eq!(stored(&server, "1.1"), ["a.txt"]);
    assert_eq!(stored(&server, "1.2").len(), 3);
    assert_eq!(names(&v, "removed"), ["1.0", "1.1"], "{v:#}");

    assert!(
        errors[0].contains("add --open-grace 0s, or delete --all it"),
        "{}",
        run.stderr
    );

    // Open now, and young: prune run again keeps them, as it keeps any young open release.
    faults.refuse_in_delete_objects(&[]);
    let (run, v) = prune(&server, d, &["--keep", "1", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(names(&v, "removed"), Vec::<String>::new(), "{v:#}");
    assert!(kept_why(&v, "1.0").contains("--open-grace"), "{v:#}");
    assert_eq!(stored(&server, "1.0"), ["b.txt"]);
    // As the error said: without the grace, the rerun finishes.
    let (run, v) = prune(&server, d, &["--keep", "1", "--open-grace", "0s", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(names(&v, "removed"), ["1.0", "1.1"], "{v:#}");
    assert!(stored(&server, "1.0").is_empty());
    assert!(stored(&server, "1.1").is_empty());
    assert_eq!(stored(&server, "1.2").len(), 3);
}

/// s3blob's error lines on stderr.
fn errors(run: &Run) -> Vec<&str> {
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("s3blob: error: "))
        .collect();
    assert!(!lines.is_empty(), "no error line: {}", run.stderr);
    lines
}
