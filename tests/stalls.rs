//! A request is cut when it stops making progress, never because it is slow. At default
//! settings (no `--timeout`), a server that stops answering fails any command in under a
//! minute, retries included, saying what stalled; a slow link that keeps moving finishes, with
//! no part sent twice.

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::{MIB, Op, Run, Server, data};

/// Taken by each test of this file: the stalled commands are timed against a minute and the
/// slow link against its bandwidth, so they do not share the machine's cores with each other.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every request of `op` from now on is held at the server and never answered.
fn stall(server: &Server, op: Op) {
    // The gate is never released: held requests wait until the server stops with the test.
    let _ = server.faults().hold(op, 10_000);
}

/// More bytes than the loopback connection's socket buffers can take (the sender's and the
/// receiver's largest), in whole MiB.
fn more_than_socket_buffers() -> usize {
    let largest = |path: &str| -> usize {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_whitespace().last()?.parse().ok())
            .unwrap_or(64 * MIB)
    };
    let bytes = largest("/proc/sys/net/ipv4/tcp_wmem") + largest("/proc/sys/net/ipv4/tcp_rmem");
    (bytes / MIB + 8) * MIB
}

/// Every kind of request stalled, each against its own server, all at once (each takes most
/// of a minute): each command fails with exit 7 in under 60 s, its one error line saying
/// whether the request stalled while being sent or waited in vain for the answer.
#[test]
fn a_stalled_server_fails_every_command_within_a_minute() {
    let _alone = alone();
    struct Case {
        name: &'static str,
        op: Op,
        args: Vec<&'static str>,
        says: &'static str,
        server: Server,
        dir: tempfile::TempDir,
    }
    let mut cases = Vec::new();
    let setup = |name, op, args: Vec<&'static str>, says| {
        let server = Server::start_faulty();
        let dir = tempfile::tempdir().unwrap();
        // 20 MiB: a 16 MiB part (the default) cannot hide in socket buffers.
        std::fs::write(dir.path().join("big.bin"), data(20 * MIB, 1)).unwrap();
        std::fs::write(dir.path().join("small.txt"), b"small").unwrap();
        Case {
            name,
            op,
            args,
            says,
            server,
            dir,
        }
    };
    let up = |f| vec!["upload", "--suite", "s", "--release", "1", f];
    cases.push(setup(
        "GET",
        Op::GetObject,
        vec![
            "download",
            "--suite",
            "s",
            "--release",
            "0",
            "--filename",
            "small.txt",
        ],
        "did not start its response",
    ));
    cases.push(setup(
        "HEAD",
        Op::HeadObject,
        up("small.txt"),
        "did not start its response",
    ));
    // Loopback's socket buffers can take a whole part that is small enough (then the request
    // was, as far as the client can tell, sent and unanswered): two parts each larger than
    // the buffers can ever hold stall while being sent.
    let part = more_than_socket_buffers();
    let part_size: &'static str = Box::leak(format!("{}MiB", part / MIB).into_boxed_str());
    let mut args = up("huge.bin");
    args.extend(["--part-size", part_size]);
    let huge = setup(
        "UploadPart",
        Op::UploadPart,
        args,
        "sending the request stalled",
    );
    std::fs::write(huge.dir.path().join("huge.bin"), data(2 * part, 2)).unwrap();
    cases.push(huge);
    cases.push(setup(
        "CompleteMultipartUpload",
        Op::CompleteMultipartUpload,
        up("big.bin"),
        "did not start its response",
    ));
    cases.push(setup(
        "ListObjectsV2",
        Op::ListObjectsV2,
        vec!["list", "--suite", "s", "--release", "0"],
        "did not start its response",
    ));
    // What the download and the listing read must exist before their server stalls.
    for case in &cases {
        if case.args[0] != "upload" {
            case.server
                .put(case.dir.path(), "s", "0", "small.txt", b"small", &[]);
        }
        stall(&case.server, case.op);
    }
    let started = Instant::now();
    let children: Vec<Child> = cases
        .iter()
        .map(|c| c.server.spawn(c.dir.path(), &c.args))
        .collect();
    for (case, child) in cases.iter().zip(children) {
        let out = Run::from(child.wait_with_output().unwrap());
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(60),
            "{}: took {took:?}",
            case.name
        );
        out.fails(7, &["--timeout"]);
        let line = out.stderr.lines().last().unwrap_or("");
        assert!(
            line.contains(case.says),
            "{}: {line:?} should say {:?}",
            case.name,
            case.says
        );
        assert!(
            case.server.faults().count(case.op) >= 2,
            "{}: the stalled request was retried",
            case.name
        );
    }
    // A stalled upload leaves no multipart upload behind (the abort is not stalled).
    for case in &cases {
        assert_eq!(case.server.open_uploads(), 0, "{}", case.name);
    }
}

/// A link that carries 1.5 MB/s per connection: the 16 MiB part needs 11 s, longer than the
/// default limit, and is still never cut, because it keeps moving.
#[test]
fn a_slow_link_finishes_with_no_part_sent_twice() {
    let _alone = alone();
    let server = Server::start_throttled(1_500_000);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(20 * MIB, 7);
    std::fs::write(d.join("big.bin"), &bytes).unwrap();
    server
        .run(d, &["upload", "--suite", "s", "--release", "1", "big.bin"])
        .ok();
    assert_eq!(
        server.faults().count(Op::UploadPart),
        2,
        "16 MiB + 4 MiB, once each"
    );
    assert!(server.object("s/1/big.bin").unwrap() == bytes);
    server.download(d, "s", "1", "big.bin", "back.bin").ok();
    assert_eq!(
        server.faults().count(Op::GetObject),
        2,
        "two ranges, once each"
    );
    assert!(std::fs::read(d.join("back.bin")).unwrap() == bytes);
}

/// A link of `rate` bytes per second per connection, at the default stall limit (10 s):
/// `file` bytes go up in parts of `part` bytes and come back in ranges of that size, each
/// part and range sent once, the bytes intact.
///
/// Smaller than the 32 MiB the promise is about (at 0.05 MB/s that takes minutes), and still
/// both ways a link can be misjudged: a body far larger than the socket buffers, which a
/// socket takes megabytes at a time and then drains for many seconds, and a body small enough
/// to fit in them whole, which looks sent long before the server can have it.
fn slow_link_round_trip(rate: u64, file: usize, part: usize) {
    let _alone = alone();
    let server = Server::start_throttled(rate);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bytes = data(file, 9);
    std::fs::write(d.join("f.bin"), &bytes).unwrap();
    let part_size = format!("{}MiB", part / MIB);
    let slow = ["--part-size", part_size.as_str()];
    let mut args = vec!["upload", "--suite", "s", "--release", "1", "f.bin"];
    args.extend(slow);
    server.run(d, &args).ok();
    let parts = file.div_ceil(part);
    let sent = if parts > 1 {
        server.faults().count(Op::UploadPart)
    } else {
        server.faults().count(Op::PutObject)
    };
    assert_eq!(sent, parts, "each part sent once");
    assert!(server.object("s/1/f.bin").unwrap() == bytes);
    let mut args = vec![
        "download",
        "--suite",
        "s",
        "--release",
        "1",
        "--filename",
        "f.bin",
        "-o",
        "back.bin",
    ];
    args.extend(slow);
    server.run(d, &args).ok();
    assert_eq!(
        server.faults().count(Op::GetObject),
        parts,
        "each range read once"
    );
    assert!(std::fs::read(d.join("back.bin")).unwrap() == bytes);
}

/// 0.2 MB/s per connection: a 5 MiB part takes 26 s, and the 3 MiB one fits in the socket
/// buffers whole (16 s on its way).
#[test]
fn a_link_of_0_2_mb_per_connection_finishes_with_no_part_sent_twice() {
    slow_link_round_trip(200_000, 8 * MIB, 5 * MIB);
}

/// 0.05 MB/s per connection: 1.5 MiB in one request, 31 s each way.
#[test]
fn a_link_of_0_05_mb_per_connection_finishes_with_no_part_sent_twice() {
    slow_link_round_trip(50_000, 3 * MIB / 2, 5 * MIB);
}
