//! `s3blob doctor` against the test server as it is and with the personalities of real stores:
//! each finding is reported, the exit code says whether every guarantee holds, and nothing is
//! left behind in the bucket.

mod common;

use common::{Fault, Op, Run, Server};
use s3blob_testserver::faults::RefuseCrc64;
use serde_json::Value;

fn doctor(server: &Server, extra: &[&str]) -> (Run, Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["doctor", "--json"];
    args.extend_from_slice(extra);
    let run = server.run(dir.path(), &args);
    let json = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("doctor --json: {e}: {} / {}", run.stdout, run.stderr));
    (run, json)
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

fn status<'a>(report: &'a Value, id: &str) -> &'a str {
    check(report, id)["status"].as_str().unwrap()
}

/// Nothing of the doctor's under the bucket, and no multipart upload left open.
fn left_nothing(server: &Server) {
    let bucket = server.root.path().join(common::BUCKET);
    let names: Vec<String> = std::fs::read_dir(&bucket)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let leftovers: Vec<_> = walk(&bucket).into_iter().filter(|p| p.is_file()).collect();
    assert!(
        leftovers.is_empty(),
        "left in the bucket: {leftovers:?} ({names:?})"
    );
    assert_eq!(server.open_uploads(), 0, "multipart uploads left open");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn a_store_that_behaves_like_s3_gets_every_guarantee() {
    let server = Server::start_faulty();
    let (run, report) = doctor(&server, &[]);
    assert_eq!(run.code, 0, "{report:#}\n{}", run.stderr);
    assert_eq!(report["verdict"], "full");
    assert_eq!(report["addressing"], "path");
    for id in [
        "reachable",
        "clock",
        "checksum-put",
        "checksum-checked",
        "checksum-multipart",
        "conditional-writes",
        "if-match",
        "copy-object",
        "copy-part",
        "presign",
        "cleanup",
    ] {
        assert_eq!(status(&report, id), "ok", "{id}: {report:#}");
    }
    // The test server keeps a multipart upload's full-object checksum, as S3 does.
    assert_eq!(status(&report, "checksum-kept"), "ok", "{report:#}");
    // It lists unfinished uploads (its own layer: s3s-fs cannot), which resuming needs.
    assert_eq!(status(&report, "list-uploads"), "ok", "{report:#}");
    assert_eq!(status(&report, "checksum-others"), "info", "{report:#}");
    // Enforced, but a custom endpoint is not trusted by default: the report says it could be.
    assert!(
        check(&report, "conditional-writes")["s3blob"]
            .as_str()
            .unwrap()
            .contains("--conditional-writes trusted"),
        "{report:#}"
    );
    // The conditional writes were really sent, and the wrong If-Match too.
    let requests = server.faults().requests();
    assert!(
        requests
            .iter()
            .any(|r| r.header("if-none-match").as_deref() == Some("*"))
    );
    assert!(requests.iter().any(|r| r.header("if-match").is_some()));
    // The copies were sent as promote sends them.
    for op in [Op::CopyObject, Op::UploadPartCopy] {
        let copy = requests.iter().find(|r| r.op == op).expect("a copy probe");
        assert!(
            copy.header("x-amz-copy-source-if-match").is_some(),
            "{copy:?}"
        );
    }
    // The presigned GET went out as curl sends one: no SDK header, nothing signed in headers.
    let presigned = requests
        .iter()
        .find(|r| r.query.contains("X-Amz-Signature="))
        .expect("the presigned GET");
    let mut names: Vec<&str> = presigned.headers.keys().map(|n| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["accept", "host", "user-agent"], "{presigned:?}");
    left_nothing(&server);
}

#[test]
fn a_store_without_server_side_copies_says_promote_will_not_work_there() {
    let server = Server::start_faulty();
    for op in [Op::CopyObject, Op::UploadPartCopy] {
        server.faults().inject(
            op,
            usize::MAX,
            Fault::Error {
                status: 501,
                code: "NotImplemented",
            },
        );
    }
    let (run, report) = doctor(&server, &[]);
    // Not a guarantee: a command that cannot run there.
    assert_eq!(run.code, 0, "{report:#}\n{}", run.stderr);
    for id in ["copy-object", "copy-part"] {
        assert_eq!(status(&report, id), "warn", "{id}: {report:#}");
        assert!(
            check(&report, id)["found"]
                .as_str()
                .unwrap()
                .contains("is not implemented"),
            "{report:#}"
        );
    }
    let s3blob = check(&report, "copy-object")["s3blob"].as_str().unwrap();
    assert!(s3blob.contains("promote cannot work"), "{s3blob}");
    assert!(s3blob.contains("download the release"), "{s3blob}");
    left_nothing(&server);
}

#[test]
fn the_memory_server_the_demo_starts_copies_on_the_server() {
    let server = Server::start_memory();
    let (run, report) = doctor(&server, &[]);
    assert!(run.code == 0 || run.code == 8, "{report:#}\n{}", run.stderr);
    for id in ["copy-object", "copy-part", "presign"] {
        assert_eq!(status(&report, id), "ok", "{id}: {report:#}");
    }
    assert_eq!(server.memory.as_ref().unwrap().open_uploads(), 0);
}

#[test]
fn the_plain_report_has_one_line_per_check_and_a_verdict() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let run = server.run(dir.path(), &["doctor"]);
    let out = run.ok();
    assert!(
        out.starts_with(&format!("store: {} bucket artifacts", server.endpoint)),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok       conditional-writes")),
        "{out}"
    );
    assert_eq!(
        out.lines().last().unwrap(),
        "verdict: s3blob works with this store with every guarantee"
    );
}

#[test]
fn a_store_refusing_the_checksum_header_is_reduced_with_what_s3blob_does() {
    for how in [RefuseCrc64::BadRequest, RefuseCrc64::InternalError] {
        let server = Server::start_faulty();
        server.faults().refuse_crc64nvme(Some(how));
        let (run, report) = doctor(&server, &["--max-attempts", "2"]);
        assert_eq!(run.code, 8, "{how:?}: {report:#}\n{}", run.stderr);
        assert_eq!(status(&report, "checksum-put"), "reduced", "{report:#}");
        let s3blob = check(&report, "checksum-put")["s3blob"].as_str().unwrap();
        assert!(s3blob.contains("--checksum-header"), "{s3blob}");
        assert!(
            report["reduced"]
                .as_array()
                .unwrap()
                .contains(&"checksum-put".into())
        );
        // The other findings still come: conditional writes were probed without the header.
        assert_eq!(status(&report, "conditional-writes"), "ok", "{report:#}");
        left_nothing(&server);
    }
}

#[test]
fn a_store_ignoring_if_none_match_is_reduced() {
    let server = Server::start_faulty();
    server.faults().ignore_if_none_match(true);
    let (run, report) = doctor(&server, &[]);
    assert_eq!(run.code, 8, "{report:#}\n{}", run.stderr);
    assert_eq!(status(&report, "conditional-writes"), "reduced");
    let found = check(&report, "conditional-writes")["found"]
        .as_str()
        .unwrap();
    assert!(
        found.contains("PutObject with If-None-Match: * overwrote"),
        "{found}"
    );
    assert!(
        found.contains("CompleteMultipartUpload with If-None-Match: * overwrote"),
        "{found}"
    );
    // Told to trust it, the doctor says to stop.
    let (run, report) = doctor(&server, &["--conditional-writes", "trusted"]);
    assert_eq!(run.code, 8);
    let s3blob = check(&report, "conditional-writes")["s3blob"]
        .as_str()
        .unwrap();
    assert!(s3blob.contains("unset it"), "{s3blob}");
    left_nothing(&server);
}

#[test]
fn a_store_that_cannot_be_used_fails_with_the_usual_codes() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let run = server.run(dir.path(), &["doctor", "--bucket", "nosuchbucket"]);
    run.fails(3, &["nosuchbucket"]);
    let mut cmd = server.cmd(dir.path());
    cmd.args(["doctor"])
        .env("AWS_SECRET_ACCESS_KEY", "wrong-secret");
    Run::from(cmd.output().unwrap()).fails(4, &[]);
    let mut cmd = server.cmd(dir.path());
    cmd.args(["doctor", "--max-attempts", "1"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    Run::from(cmd.output().unwrap()).fails(7, &["could not reach"]);
}
