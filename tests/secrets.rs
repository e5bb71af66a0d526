//! Credentials never appear in output, whatever the verbosity and whatever happens.

mod common;

use common::{ACCESS_KEY, MIB, Run, SECRET_KEY, Server, data};

#[test]
fn credentials_never_appear_in_output() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), data(6 * MIB, 5)).unwrap();
    std::fs::write(dir.path().join("b.bin"), b"small").unwrap();
    // The arguments, an extra variable, and the exit code the run must end with: a run that
    // dies at start-up would leak nothing and prove nothing.
    type Case<'a> = (Vec<&'a str>, Option<(&'a str, &'a str)>, i32);
    let runs: Vec<Case> = vec![
        (
            vec![
                "upload",
                "--suite",
                "s",
                "--release",
                "r",
                "a.bin",
                "--part-size",
                "5MiB",
            ],
            None,
            0,
        ),
        (
            vec![
                "upload",
                "--suite",
                "s",
                "--release",
                "r",
                "b.bin",
                "--json",
            ],
            None,
            0,
        ),
        (
            vec!["upload", "--suite", "s", "--release", "r", "b.bin"],
            None,
            0,
        ),
        (
            vec![
                "download",
                "--suite",
                "s",
                "--release",
                "r",
                "--filename",
                "a.bin",
                "-o",
                "x",
                "--part-size",
                "5MiB",
            ],
            None,
            0,
        ),
        (
            vec![
                "download",
                "--suite",
                "s",
                "--release",
                "r",
                "--filename",
                "b.bin",
                "-o",
                "y",
                "--json",
            ],
            None,
            0,
        ),
        (
            vec![
                "download",
                "--suite",
                "s",
                "--release",
                "r",
                "--filename",
                "none",
                "-o",
                "z",
            ],
            None,
            3,
        ),
        (vec!["list"], None, 0),
        (vec!["list", "--suite", "s", "--json"], None, 0),
        (vec!["list", "--suite", "s", "--release", "latest"], None, 0),
        (
            vec![
                "stat",
                "--suite",
                "s",
                "--release",
                "r",
                "--filename",
                "a.bin",
            ],
            None,
            0,
        ),
        (
            vec![
                "delete",
                "--suite",
                "s",
                "--release",
                "r",
                "--filename",
                "gone.bin",
                "--yes",
            ],
            None,
            3,
        ),
        // Wrong secret: the server refuses, the error is reported.
        (
            vec!["upload", "--suite", "s", "--release", "q", "b.bin"],
            Some(("AWS_SECRET_ACCESS_KEY", "wrong/Secret+Value0123")),
            4,
        ),
        // A session token is a credential too.
        (
            vec![
                "download",
                "--suite",
                "s",
                "--release",
                "r",
                "--filename",
                "b.bin",
                "-o",
                "w",
            ],
            Some(("AWS_SESSION_TOKEN", "SESSIONtoken/abc+123==")),
            0,
        ),
    ];
    for (args, extra_env, code) in runs {
        for verbosity in [&[][..], &["-v"][..], &["-vv"][..], &["-vvv"][..]] {
            let mut cmd = server.cmd(dir.path());
            cmd.args(verbosity).args(&args);
            if let Some((k, v)) = extra_env {
                cmd.env(k, v);
            }
            let mut traced = server.cmd(dir.path());
            traced.env("RUST_LOG", "trace").args(&args);
            if let Some((k, v)) = extra_env {
                traced.env(k, v);
            }
            for c in [&mut cmd, &mut traced] {
                let out = Run::from(c.output().unwrap());
                assert_eq!(out.code, code, "{args:?} {verbosity:?}: {}", out.stderr);
                let all = format!("{}{}", out.stdout, out.stderr);
                let mut secrets = vec![SECRET_KEY, ACCESS_KEY];
                if let Some((_, v)) = extra_env {
                    secrets.push(v);
                }
                for s in secrets {
                    assert!(
                        !all.contains(s),
                        "{s:?} leaked by {args:?} {verbosity:?}:\n{all}"
                    );
                }
            }
        }
    }
}

#[test]
fn credentials_from_a_profile_never_appear_either() {
    // Not in the environment, so only the log filters (not the masking of environment values)
    // keep them out.
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".aws-credentials"),
        format!(
            "[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("b.bin"), b"small").unwrap();
    for (args, log) in [
        (
            &["-vv", "upload", "--suite", "s", "--release", "r", "b.bin"][..],
            None,
        ),
        (
            &[
                "download",
                "--suite",
                "s",
                "--release",
                "r",
                "--filename",
                "b.bin",
                "-o",
                "y",
            ][..],
            Some("trace"),
        ),
    ] {
        let mut cmd = server.cmd(dir.path());
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .args(args);
        if let Some(l) = log {
            cmd.env("RUST_LOG", l);
        }
        let out = Run::from(cmd.output().unwrap());
        out.ok();
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("DEBUG"), "the SDK's debug log is on");
        for s in [SECRET_KEY, ACCESS_KEY] {
            assert!(!all.contains(s), "{s:?} leaked by {args:?}:\n{all}");
        }
    }
}

#[test]
fn a_presigned_url_carries_the_key_id_but_no_secret() {
    // Every SigV4 presigned URL names the access key id (X-Amz-Credential) and, for temporary
    // credentials, the session token: that is how the server checks it. The secret never.
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.bin"), b"small").unwrap();
    server
        .run(
            dir.path(),
            &["upload", "--suite", "s", "--release", "r", "b.bin"],
        )
        .ok();
    for verbosity in [&[][..], &["-vvv"][..]] {
        let mut cmd = server.cmd(dir.path());
        cmd.args(verbosity).args([
            "presign",
            "--suite",
            "s",
            "--release",
            "r",
            "--filename",
            "b.bin",
        ]);
        let out = Run::from(cmd.output().unwrap());
        assert!(out.ok().contains("X-Amz-Credential="));
        assert!(!out.stdout.contains(SECRET_KEY));
        for s in [SECRET_KEY, ACCESS_KEY] {
            assert!(
                !out.stderr.contains(s),
                "{s:?} leaked in the log:\n{}",
                out.stderr
            );
        }
    }
}
