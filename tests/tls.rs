//! HTTPS with a private certificate authority: the test server behind TLS with a certificate
//! from a CA made for the test, trusted through `--ca-bundle`, `AWS_CA_BUNDLE` or the
//! profile's `ca_bundle`, and refused without them (or with another CA's bundle).

mod common;

use common::*;
use s3blob_testserver::tls::TestCa;

struct Setup {
    ca: TestCa,
    server: Server,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(host: &str) -> Setup {
        let ca = TestCa::new();
        let server = Server::start_tls(&ca, host);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), &ca.ca_pem).unwrap();
        std::fs::write(dir.path().join("other-ca.pem"), TestCa::new().ca_pem).unwrap();
        std::fs::write(dir.path().join("app.bin"), data(100_000, 7)).unwrap();
        Setup { ca, server, dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Uploads app.bin under release `release` with `extra` args and `env` variables.
    fn upload(&self, release: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.server.cmd(self.dir.path());
        cmd.args(["upload", "--suite", "s", "--release", release, "app.bin"])
            .args(extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().unwrap())
    }

    fn stored(&self, release: &str) -> Option<Vec<u8>> {
        self.server.object(&format!("s/{release}/app.bin"))
    }
}

#[test]
fn the_system_roots_refuse_a_private_ca_with_a_message_that_says_what_to_set() {
    let t = Setup::new("127.0.0.1");
    let out = t.upload("1", &[], &[]);
    let port = t.server.endpoint.rsplit(':').next().unwrap();
    out.fails(
        7,
        &[
            "s3://artifacts/s/1/app.bin",
            &format!("certificate of 127.0.0.1:{port} is not trusted"),
            "UnknownIssuer",
            "the system's root certificates",
            "--ca-bundle",
            "AWS_CA_BUNDLE",
        ],
    );
    let errors = out.stderr.lines().filter(|l| l.contains("error")).count();
    assert_eq!(errors, 1, "{}", out.stderr);
    assert_eq!(t.stored("1"), None);
}

#[test]
fn ca_bundle_flag_round_trip() {
    let t = Setup::new("127.0.0.1");
    let ca = t.path("ca.pem");
    assert_eq!(
        t.upload("1", &["--ca-bundle", &ca], &[]).ok(),
        "s3://artifacts/s/1/app.bin"
    );
    assert_eq!(t.stored("1").unwrap(), data(100_000, 7));
    let out = t.server.run(
        t.dir.path(),
        &[
            "download",
            "--suite",
            "s",
            "--release",
            "1",
            "--filename",
            "app.bin",
            "-o",
            "back.bin",
            "--ca-bundle",
            &ca,
        ],
    );
    out.ok();
    assert_eq!(
        std::fs::read(t.dir.path().join("back.bin")).unwrap(),
        data(100_000, 7)
    );
}

#[test]
fn aws_ca_bundle_is_honoured_and_the_flag_wins_over_it() {
    let t = Setup::new("localhost");
    t.upload("1", &[], &[("AWS_CA_BUNDLE", &t.path("ca.pem"))])
        .ok();
    assert_eq!(t.stored("1").unwrap(), data(100_000, 7));
    // The variable names another CA; the flag the right one.
    t.upload(
        "2",
        &["--ca-bundle", &t.path("ca.pem")],
        &[("AWS_CA_BUNDLE", &t.path("other-ca.pem"))],
    )
    .ok();
    assert_eq!(t.stored("2").unwrap(), data(100_000, 7));
}

#[test]
fn the_profile_ca_bundle_is_honoured() {
    let t = Setup::new("127.0.0.1");
    // The default profile, and a named one (with `~` for the home directory: HOME is the
    // test's directory).
    std::fs::write(
        t.dir.path().join(".aws-config"),
        format!(
            "[default]\nca_bundle = {}\n\n[profile ci]\nca_bundle = ~/ca.pem\n",
            t.path("ca.pem")
        ),
    )
    .unwrap();
    t.upload("1", &[], &[]).ok();
    t.upload("2", &["--profile", "ci"], &[]).ok();
    assert_eq!(t.stored("2").unwrap(), data(100_000, 7));
    // AWS_CA_BUNDLE wins over the profile.
    let out = t.upload("3", &[], &[("AWS_CA_BUNDLE", &t.path("other-ca.pem"))]);
    out.fails(
        7,
        &["not trusted", "only the certificates in", "other-ca.pem"],
    );
}

#[test]
fn a_bundle_of_another_ca_replaces_the_system_roots_and_is_refused() {
    let t = Setup::new("127.0.0.1");
    let out = t.upload("1", &["--ca-bundle", &t.path("other-ca.pem")], &[]);
    out.fails(
        7,
        &[
            "not trusted",
            "only the certificates in",
            "other-ca.pem",
            "--ca-bundle",
        ],
    );
    assert_eq!(t.stored("1"), None);
}

#[test]
fn unusable_bundles_are_clear_errors_never_a_panic() {
    let t = Setup::new("127.0.0.1");
    std::fs::write(t.dir.path().join("empty.pem"), "").unwrap();
    std::fs::write(t.dir.path().join("key.pem"), &t.ca.key_pem).unwrap();
    std::fs::write(
        t.dir.path().join("broken.pem"),
        "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::write(
        t.dir.path().join("notacert.pem"),
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let missing = t.path("missing.pem");
    t.upload("1", &["--ca-bundle", &missing], &[])
        .fails(3, &["missing.pem", "does not exist", "--ca-bundle"]);
    t.upload("1", &[], &[("AWS_CA_BUNDLE", &missing)])
        .fails(3, &["missing.pem", "AWS_CA_BUNDLE"]);
    for (file, needle) in [
        ("empty.pem", "holds no certificate"),
        ("key.pem", "holds no certificate"),
        ("broken.pem", "is not a PEM file"),
        ("notacert.pem", "none usable"),
    ] {
        let out = t.upload("1", &["--ca-bundle", &t.path(file)], &[]);
        out.fails(2, &["--ca-bundle", file, needle]);
        assert_eq!(out.stderr.lines().count(), 1, "{file}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("s3blob: error: "),
            "{file}: {}",
            out.stderr
        );
    }
    assert_eq!(t.stored("1"), None);
}

#[test]
fn a_bundle_replaces_the_system_roots_rather_than_adding_to_them() {
    // SSL_CERT_FILE stands in for the system's roots: it holds the test CA, so without a
    // bundle the server is trusted; a bundle of another CA then replaces them, and it is not.
    let t = Setup::new("127.0.0.1");
    let roots = t.path("ca.pem");
    t.upload("1", &[], &[("SSL_CERT_FILE", &roots)]).ok();
    let out = t.upload(
        "2",
        &["--ca-bundle", &t.path("other-ca.pem")],
        &[("SSL_CERT_FILE", &roots)],
    );
    out.fails(
        7,
        &["not trusted", "only the certificates in", "other-ca.pem"],
    );
    assert_eq!(t.stored("2"), None);
}
