//! Proxies from the environment: uploads and downloads through each variable (forwarding for
//! an `http://` store, CONNECT for an `https://` one with a private CA), `NO_PROXY`, proxy
//! credentials, and the errors for a proxy that refuses or cannot be reached. The proxy is
//! the harness's own (`common::proxy`); `scripts/proxy-check.sh` repeats the round trip
//! through tinyproxy where it is installed.

mod common;

use common::proxy::{Mode, TestProxy, dead_proxy_url};
use common::*;
use s3blob_testserver::tls::TestCa;

/// Uploads `bytes` as `s/REL/app.bin` and downloads it back to `out.bin`, with `env`.
fn round_trip(
    server: &Server,
    dir: &std::path::Path,
    rel: &str,
    bytes: &[u8],
    env: &[(&str, &str)],
    extra: &[&str],
) -> (Run, Run) {
    std::fs::write(dir.join("app.bin"), bytes).unwrap();
    let mut up = server.cmd(dir);
    up.args(["upload", "--suite", "s", "--release", rel, "app.bin"])
        .args(extra);
    let mut down = server.cmd(dir);
    down.args([
        "download",
        "--suite",
        "s",
        "--release",
        rel,
        "--filename",
        "app.bin",
        "-o",
        "out.bin",
    ])
    .args(extra);
    for (k, v) in env {
        up.env(k, v);
        down.env(k, v);
    }
    let up = Run::from(up.output().unwrap());
    if up.code != 0 {
        let skipped = Run {
            code: -1,
            stdout: String::new(),
            stderr: "not run: the upload failed".into(),
        };
        return (up, skipped);
    }
    (up, Run::from(down.output().unwrap()))
}

fn store_host(server: &Server) -> String {
    server.endpoint.split_once("://").unwrap().1.to_owned()
}

#[test]
fn an_http_store_is_reached_through_each_http_proxy_variable_by_forwarding() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let host = store_host(&server);
    for (i, var) in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .enumerate()
    {
        let proxy = TestProxy::start(Mode::Open);
        let bytes = data(200_000 + i, i as u64);
        let rel = format!("{}", i + 1);
        let (up, down) = round_trip(
            &server,
            dir.path(),
            &rel,
            &bytes,
            &[(var, &proxy.url())],
            &[],
        );
        up.ok();
        down.ok();
        assert_eq!(
            std::fs::read(dir.path().join("out.bin")).unwrap(),
            bytes,
            "{var}"
        );
        let seen = proxy.requests();
        let key = format!("http://{host}/artifacts/s/{rel}/app.bin");
        assert!(
            seen.iter().any(|l| l.starts_with(&format!("PUT {key}"))),
            "{var}: {seen:?}"
        );
        assert!(
            seen.iter().any(|l| l.starts_with(&format!("GET {key}"))),
            "{var}: {seen:?}"
        );
        assert!(seen.iter().all(|l| !l.starts_with("CONNECT")), "{seen:?}");
    }
}

#[test]
fn a_multipart_upload_and_ranged_download_go_through_the_proxy() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let proxy = TestProxy::start(Mode::Open);
    let bytes = data(12 << 20, 3);
    let (up, down) = round_trip(
        &server,
        dir.path(),
        "1",
        &bytes,
        &[("HTTP_PROXY", &proxy.url())],
        &["--part-size", "5MiB"],
    );
    up.ok();
    down.ok();
    assert_eq!(std::fs::read(dir.path().join("out.bin")).unwrap(), bytes);
    let seen = proxy.requests();
    assert!(
        seen.iter()
            .filter(|l| l.starts_with("PUT ") && l.contains("partNumber="))
            .count()
            >= 3,
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("POST ") && l.contains("uploadId=")),
        "{seen:?}"
    );
}

#[test]
fn an_https_store_is_reached_through_connect_with_a_private_ca() {
    let ca = TestCa::new();
    let server = Server::start_tls(&ca, "127.0.0.1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca.ca_pem).unwrap();
    let ca_path = dir.path().join("ca.pem").display().to_string();
    let host = store_host(&server);
    for (i, var) in ["https_proxy", "HTTPS_PROXY", "ALL_PROXY"]
        .iter()
        .enumerate()
    {
        let proxy = TestProxy::start(Mode::Open);
        let bytes = data(150_000, 10 + i as u64);
        let rel = format!("{}", i + 1);
        let (up, down) = round_trip(
            &server,
            dir.path(),
            &rel,
            &bytes,
            &[(var, &proxy.url())],
            &["--ca-bundle", &ca_path],
        );
        up.ok();
        down.ok();
        assert_eq!(
            std::fs::read(dir.path().join("out.bin")).unwrap(),
            bytes,
            "{var}"
        );
        let seen = proxy.requests();
        assert!(!seen.is_empty(), "{var}: nothing went through the proxy");
        assert!(
            seen.iter().all(|l| *l == format!("CONNECT {host}")),
            "{var}: {seen:?}"
        );
    }
}

#[test]
fn a_proxy_for_the_other_scheme_is_not_used() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    // The store is http://: an HTTPS_PROXY (even a dead one) does not apply.
    let (up, down) = round_trip(
        &server,
        dir.path(),
        "1",
        b"direct",
        &[("HTTPS_PROXY", &dead_proxy_url())],
        &[],
    );
    up.ok();
    down.ok();
}

#[test]
fn no_proxy_sends_matching_hosts_direct() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let port = server.endpoint.rsplit(':').next().unwrap().to_owned();
    let rules = [
        ("NO_PROXY", "127.0.0.1".to_owned()),
        ("no_proxy", "example.com, 127.0.0.0/8".to_owned()),
        ("NO_PROXY", "*".to_owned()),
        ("NO_PROXY", format!("127.0.0.1:{port}")),
    ];
    for (i, (var, rule)) in rules.iter().enumerate() {
        let proxy = TestProxy::start(Mode::Open);
        let rel = format!("{}", i + 1);
        let (up, down) = round_trip(
            &server,
            dir.path(),
            &rel,
            b"bypassed",
            &[("HTTP_PROXY", &proxy.url()), (var, rule)],
            &[],
        );
        up.ok();
        down.ok();
        assert_eq!(proxy.requests(), Vec::<String>::new(), "{var}={rule}");
    }
    // A rule for another host or port leaves the proxy in use.
    let proxy = TestProxy::start(Mode::Open);
    let (up, _) = round_trip(
        &server,
        dir.path(),
        "9",
        b"proxied",
        &[
            ("HTTP_PROXY", &proxy.url()),
            ("NO_PROXY", "example.com,127.0.0.1:1"),
        ],
        &[],
    );
    up.ok();
    assert!(!proxy.requests().is_empty());
}

#[test]
fn proxy_credentials_are_decoded_sent_and_never_shown() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let password = "p@ss w:rd";
    let proxy = TestProxy::start(Mode::Auth {
        user: "builder".into(),
        password: password.into(),
    });
    let url = proxy.url_with("builder:p%40ss%20w%3Ard");
    let (up, down) = round_trip(
        &server,
        dir.path(),
        "1",
        b"authenticated",
        &[("HTTP_PROXY", &url)],
        &["-vv"],
    );
    up.ok();
    down.ok();
    assert!(
        proxy.requests().iter().all(|l| !l.starts_with("407")),
        "{:?}",
        proxy.requests()
    );
    for run in [&up, &down] {
        assert!(!run.stderr.contains("p%40ss"), "{}", run.stderr);
        assert!(!run.stderr.contains(password), "{}", run.stderr);
    }

    // The wrong password: a 407 from the proxy, its own error and exit code.
    let wrong = proxy.url_with("builder:nope");
    let (up, _) = round_trip(
        &server,
        dir.path(),
        "2",
        b"x",
        &[("HTTP_PROXY", &wrong)],
        &[],
    );
    up.fails(
        9,
        &[
            "the proxy http://builder:***@127.0.0.1",
            "(from HTTP_PROXY) refused its credentials (407",
            "check the user name and password in HTTP_PROXY",
        ],
    );
    assert!(!up.stderr.contains("nope"), "{}", up.stderr);
    // None at all: it asks for them.
    let (up, _) = round_trip(
        &server,
        dir.path(),
        "3",
        b"x",
        &[("http_proxy", &proxy.url())],
        &[],
    );
    up.fails(9, &["(from http_proxy) asks for credentials (407"]);
}

#[test]
fn proxy_credentials_work_through_connect_too() {
    let ca = TestCa::new();
    let server = Server::start_tls(&ca, "127.0.0.1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca.ca_pem).unwrap();
    let ca_path = dir.path().join("ca.pem").display().to_string();
    let proxy = TestProxy::start(Mode::Auth {
        user: "builder".into(),
        password: "s3cret".into(),
    });
    let good = proxy.url_with("builder:s3cret");
    let (up, down) = round_trip(
        &server,
        dir.path(),
        "1",
        b"tunnelled",
        &[("HTTPS_PROXY", &good)],
        &["--ca-bundle", &ca_path],
    );
    up.ok();
    down.ok();
    let bad = proxy.url_with("builder:wrong");
    let (up, _) = round_trip(
        &server,
        dir.path(),
        "2",
        b"x",
        &[("HTTPS_PROXY", &bad)],
        &["--ca-bundle", &ca_path],
    );
    up.fails(
        9,
        &[
            "the proxy http://builder:***@127.0.0.1",
            "(from HTTPS_PROXY) refused its credentials",
        ],
    );
    assert!(!up.stderr.contains("wrong"), "{}", up.stderr);
}

#[test]
fn a_refusing_proxy_is_named_with_its_variable() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let proxy = TestProxy::start(Mode::Refuse);
    let (up, _) = round_trip(
        &server,
        dir.path(),
        "1",
        b"x",
        &[("ALL_PROXY", &proxy.url())],
        &[],
    );
    up.fails(
        9,
        &[
            "cannot upload to s3://artifacts/s/1/app.bin: the proxy",
            &format!("{} (from ALL_PROXY) answered 403", proxy.url()),
            "NO_PROXY",
        ],
    );
    assert!(!proxy.requests().is_empty());

    // Through CONNECT the refusal carries no status.
    let ca = TestCa::new();
    let tls = Server::start_tls(&ca, "127.0.0.1");
    std::fs::write(dir.path().join("ca.pem"), &ca.ca_pem).unwrap();
    let ca_path = dir.path().join("ca.pem").display().to_string();
    let (up, _) = round_trip(
        &tls,
        dir.path(),
        "2",
        b"x",
        &[("HTTPS_PROXY", &proxy.url())],
        &["--ca-bundle", &ca_path],
    );
    up.fails(
        9,
        &[&format!(
            "{} (from HTTPS_PROXY) refused the connection",
            proxy.url()
        )],
    );
}

#[test]
fn a_dead_proxy_is_named_with_its_variable() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let dead = dead_proxy_url();
    for extra in [&[][..], &["--max-attempts", "1"][..]] {
        let (up, _) = round_trip(
            &server,
            dir.path(),
            "1",
            b"x",
            &[("HTTP_PROXY", &dead)],
            extra,
        );
        up.fails(
            9,
            &[
                &format!("cannot connect to the proxy {dead} (from HTTP_PROXY)"),
                "check HTTP_PROXY, or unset it",
            ],
        );
        assert!(!up.stderr.contains(&server.endpoint), "{}", up.stderr);
    }
}

#[test]
fn a_bad_proxy_url_is_a_usage_error_naming_the_variable() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = round_trip(
        &server,
        dir.path(),
        "1",
        b"x",
        &[("HTTPS_PROXY", "socks5://u:hidden@p:1080")],
        &[],
    );
    up.fails(
        2,
        &[
            "HTTPS_PROXY=\"socks5://u:***@p:1080\" (set in the environment): socks5:// proxies are not supported",
        ],
    );
    assert!(!up.stderr.contains("hidden"), "{}", up.stderr);
}

#[test]
fn verbose_logs_the_proxy_once_and_doctor_reports_it() {
    let server = Server::start_memory();
    let dir = tempfile::tempdir().unwrap();
    let proxy = TestProxy::start(Mode::Open);
    let url = proxy.url_with("ci:topsecret");
    let (up, _) = round_trip(
        &server,
        dir.path(),
        "1",
        b"logged",
        &[("HTTP_PROXY", &url), ("NO_PROXY", "internal.example")],
        &["-v"],
    );
    up.ok();
    let lines: Vec<&str> = up
        .stderr
        .lines()
        .filter(|l| l.contains("through the proxy"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", up.stderr);
    assert!(
        lines[0].contains(&format!(
            "requests to {} go through the proxy http://ci:***@{} (from HTTP_PROXY)",
            server.endpoint, proxy.addr
        )),
        "{}",
        lines[0]
    );
    assert!(!up.stderr.contains("topsecret"), "{}", up.stderr);

    let out = Run::from(
        server
            .cmd(dir.path())
            .env("HTTP_PROXY", &url)
            .env("NO_PROXY", "internal.example")
            .args(["doctor"])
            .output()
            .unwrap(),
    );
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("proxy"))
        .unwrap_or_else(|| panic!("no proxy line in: {}", out.stdout));
    assert!(
        line.contains(&format!("http://ci:***@{} (from HTTP_PROXY)", proxy.addr)),
        "{line}"
    );
    assert!(
        line.contains("bypassed for internal.example (NO_PROXY)"),
        "{line}"
    );
    assert!(!out.stdout.contains("topsecret") && !out.stderr.contains("topsecret"));
}

#[test]
fn a_dotenv_file_cannot_set_a_proxy() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    write_dotenv(
        &dir.path().join(".env"),
        format!("HTTP_PROXY={}\n", dead_proxy_url()),
    );
    let (up, _) = round_trip(&server, dir.path(), "1", b"direct", &[], &[]);
    up.ok();
    assert!(
        up.stderr
            .contains("HTTP_PROXY in .env is ignored: it chooses where requests go"),
        "{}",
        up.stderr
    );
}
