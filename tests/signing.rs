//! Signed releases, end to end: keys made by `s3blob key generate` and by the real `minisign`
//! tool, releases sealed and signed by the real binary against the test server, signatures
//! checked by `minisign -V`, and what consumers with trusted keys refuse (a rewritten
//! manifest, a replayed signature, an unsigned or wrongly signed release, a corrupted
//! signature), with nothing written.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Run, Server};
use s3blob::manifest::{Entry, MANIFEST_NAME, Manifest};

const SIG: &str = ".s3blob-manifest.json.minisig";
const PASSWORD: &str = "correct horse battery staple";

/// The `minisign` tool, or `None` (with the reason printed) where it is not installed; CI
/// installs it.
fn minisign() -> Option<&'static str> {
    match Command::new("minisign").arg("-v").output() {
        Ok(o) if o.status.success() => Some("minisign"),
        _ => {
            println!("skipped: the minisign tool is not installed (apt-get install minisign)");
            None
        }
    }
}

fn run_env(server: &Server, d: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = server.cmd(d);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from(cmd.args(args).output().unwrap())
}

/// `s3blob key generate --out NAME` in `d` (encrypted with [`PASSWORD`] unless `plain`);
/// returns the public key line.
fn generate(server: &Server, d: &Path, name: &str, plain: bool) -> String {
    let mut args = vec!["key", "generate", "--out", name];
    if plain {
        args.push("--no-password");
    }
    let env: &[(&str, &str)] = if plain {
        &[]
    } else {
        &[("S3BLOB_SIGN_KEY_PASSWORD", PASSWORD)]
    };
    let out = run_env(server, d, env, &args);
    let line = out.ok().to_owned();
    assert!(line.starts_with("RW") && line.len() == 56, "{line}");
    let public = std::fs::read_to_string(d.join(format!("{name}.pub"))).unwrap();
    assert!(public.contains(&line));
    line
}

/// The key id `minisign` shows for a public key line (16 upper-case hex digits).
fn key_id(public_line: &str) -> String {
    // Bytes 2..10 of the decoded key, little endian; decoded here by hand (base64).
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut bytes = Vec::new();
    for c in public_line.bytes().take_while(|c| *c != b'=') {
        bits = (bits << 6) | ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push((bits >> n) as u8);
        }
    }
    bytes[2..10]
        .iter()
        .rev()
        .map(|b| format!("{b:02X}"))
        .collect()
}

fn seal_signed(server: &Server, d: &Path, release: &str, env: &[(&str, &str)], extra: &[&str]) {
    std::fs::write(d.join("a.bin"), format!("a of {release}")).unwrap();
    std::fs::write(d.join("b.bin"), format!("b of {release}")).unwrap();
    let mut args = vec![
        "upload",
        "--suite",
        "app",
        "--release",
        release,
        "a.bin",
        "b.bin",
        "--seal",
    ];
    args.extend_from_slice(extra);
    run_env(server, d, env, &args).ok();
}

#[test]
fn a_release_signed_with_a_generated_encrypted_key_round_trips_and_minisign_verifies_it() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let public = generate(&server, d, "release", false);
    let key_text = std::fs::read_to_string(d.join("release.key")).unwrap();
    assert!(key_text.contains("encrypted"), "{key_text}");
    let env = [("S3BLOB_SIGN_KEY_PASSWORD", PASSWORD)];
    seal_signed(
        &server,
        d,
        "1.0",
        &env,
        &["--sign-key", "release.key", "--sha256sums"],
    );
    let sig = server
        .object(&format!("app/1.0/{SIG}"))
        .expect("a signature");
    let id = key_id(&public);
    // The consumer with the key: every file, nothing refused.
    let out = server.run(
        d,
        &[
            "download",
            "--suite",
            "app",
            "--release",
            "1.0",
            "--all",
            "-o",
            "out",
            "--trusted-key",
            "release.pub",
        ],
    );
    out.ok();
    assert_eq!(std::fs::read(d.join("out/a.bin")).unwrap(), b"a of 1.0");
    assert!(d.join("out/SHA256SUMS.minisig").exists());
    assert!(
        !d.join(format!("out/{SIG}")).exists(),
        "the signature is not a file"
    );
    let v = server
        .run(
            d,
            &[
                "--json",
                "verify",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--trusted-key",
                &public,
            ],
        )
        .json();
    assert_eq!(v["signature"]["status"], "trusted", "{v}");
    assert_eq!(v["signature"]["key"], id.as_str(), "{v}");
    // The job summary says so too.
    server
        .run(
            d,
            &[
                "verify",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--trusted-key",
                &public,
                "--summary-file",
                "summary.md",
            ],
        )
        .ok();
    let summary = std::fs::read_to_string(d.join("summary.md")).unwrap();
    assert!(
        summary.contains(&format!("Signed: signed by {id} (trusted).")),
        "{summary}"
    );
    let text = server.run(d, &["verify", "--suite", "app", "--release", "1.0"]);
    assert!(
        text.ok()
            .contains(&format!("signed by {id} (no trusted keys given)")),
        "{}",
        text.stdout
    );
    // The real tool, without s3blob: the manifest, and SHA256SUMS then sha256sum -c.
    let Some(tool) = minisign() else { return };
    let manifest = server.object(&format!("app/1.0/{MANIFEST_NAME}")).unwrap();
    std::fs::write(d.join("m.json"), &manifest).unwrap();
    std::fs::write(d.join("m.json.minisig"), &sig).unwrap();
    let checked = Command::new(tool)
        .current_dir(d)
        .args(["-V", "-m", "m.json", "-P", &public])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{said}");
    assert!(said.contains("s3blob release app/1.0 seal "), "{said}");
    let sums = Command::new("sh")
        .current_dir(d.join("out"))
        .args([
            "-c",
            &format!("{tool} -Vm SHA256SUMS -P {public} && sha256sum -c SHA256SUMS"),
        ])
        .output()
        .unwrap();
    assert!(
        sums.status.success(),
        "{}{}",
        String::from_utf8_lossy(&sums.stdout),
        String::from_utf8_lossy(&sums.stderr)
    );
}

#[test]
fn keys_made_by_minisign_sign_and_are_trusted_as_they_are() {
    let Some(tool) = minisign() else { return };
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let made = Command::new(tool)
        .current_dir(d)
        .args(["-G", "-W", "-p", "mk.pub", "-s", "mk.key"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let key = std::fs::read_to_string(d.join("mk.key")).unwrap();
    let public = std::fs::read_to_string(d.join("mk.pub")).unwrap();
    let line = public.lines().nth(1).unwrap().trim().to_owned();
    // The key's text in the variable, as a CI secret arrives.
    seal_signed(&server, d, "2.0", &[("S3BLOB_SIGN_KEY", &key)], &[]);
    let out = run_env(
        &server,
        d,
        &[("S3BLOB_TRUSTED_KEYS", &line)],
        &[
            "download",
            "--suite",
            "app",
            "--release",
            "latest",
            "--filename",
            "b.bin",
            "-o",
            "b",
        ],
    );
    out.ok();
    assert_eq!(std::fs::read(d.join("b")).unwrap(), b"b of 2.0");
    // And minisign checks what s3blob signed with its key.
    std::fs::write(
        d.join("m.json"),
        server.object(&format!("app/2.0/{MANIFEST_NAME}")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        d.join("m.json.minisig"),
        server.object(&format!("app/2.0/{SIG}")).unwrap(),
    )
    .unwrap();
    let checked = Command::new(tool)
        .current_dir(d)
        .args(["-V", "-m", "m.json", "-p", "mk.pub"])
        .output()
        .unwrap();
    assert!(checked.status.success(), "{checked:?}");
}

/// A bucket writer replaces a file and rewrites the manifest to match (its self-check is
/// valid): without a trusted key the release is taken as it is; with one, download (one file
/// and --all), verify and `latest` refuse it, and nothing is written.
#[test]
fn a_replaced_file_with_a_rewritten_manifest_is_refused_by_consumers_with_the_key() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let public = generate(&server, d, "k", true);
    let sign = ["--sign-key", "k.key"];
    seal_signed(&server, d, "1.0", &[], &sign);
    seal_signed(&server, d, "1.1", &[], &sign);
    let evil = b"evil b".to_vec();
    let stored = server.object(&format!("app/1.1/{MANIFEST_NAME}")).unwrap();
    let mut manifest = Manifest::parse(&stored, "test").unwrap();
    manifest.files.insert(
        "b.bin".into(),
        Entry {
            size: evil.len() as u64,
            crc64: s3blob::checksum::crc64(&evil),
            content_type: None,
            sha256: None,
        },
    );
    server.plant("app/1.1/b.bin", &evil);
    server.plant(
        &format!("app/1.1/{MANIFEST_NAME}"),
        manifest.to_json().as_bytes(),
    );
    // Without trusted keys the forgery passes: what signing is for.
    server.download(d, "app", "1.1", "b.bin", "plain").ok();
    assert_eq!(std::fs::read(d.join("plain")).unwrap(), evil);
    let id = key_id(&public);
    let trusted = ["--trusted-key", public.as_str()];
    let with = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&trusted);
        server.run(d, &all)
    };
    with(&[
        "download",
        "--suite",
        "app",
        "--release",
        "1.1",
        "--filename",
        "b.bin",
        "-o",
        "one",
    ])
    .fails(5, &["app/1.1/", &id, "does not verify"]);
    assert!(!d.join("one").exists());
    with(&[
        "download",
        "--suite",
        "app",
        "--release",
        "1.1",
        "--all",
        "-o",
        "all",
    ])
    .fails(5, &["app/1.1/", &id]);
    assert!(!d.join("all").exists() || std::fs::read_dir(d.join("all")).unwrap().count() == 0);
    with(&["verify", "--suite", "app", "--release", "1.1"]).fails(5, &["app/1.1/", &id]);
    with(&["list", "--suite", "app", "--release", "1.1"]).fails(5, &["app/1.1/"]);
    // `latest` passes over it, with one warning, to the highest release signed by the key.
    let latest = with(&[
        "download",
        "--suite",
        "app",
        "--release",
        "latest",
        "--filename",
        "b.bin",
        "-o",
        "latest",
    ]);
    latest.ok();
    assert_eq!(std::fs::read(d.join("latest")).unwrap(), b"b of 1.0");
    assert_eq!(
        latest.stderr.matches("skipping 1.1").count(),
        1,
        "{}",
        latest.stderr
    );
}

#[test]
fn a_signed_manifest_replayed_under_another_release_is_refused() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let public = generate(&server, d, "k", true);
    seal_signed(&server, d, "1.0", &[], &["--sign-key", "k.key"]);
    // A writer copies release 1.0 (files, manifest and signature) to 9.9.
    for name in ["a.bin", "b.bin", MANIFEST_NAME, SIG] {
        let bytes = server.object(&format!("app/1.0/{name}")).unwrap();
        server.plant(&format!("app/9.9/{name}"), &bytes);
    }
    server
        .run(
            d,
            &[
                "download",
                "--suite",
                "app",
                "--release",
                "9.9",
                "--all",
                "-o",
                "o",
                "--trusted-key",
                &public,
            ],
        )
        .fails(5, &["app/9.9/", "another release"]);
    // Nor is it `latest`: 1.0 is.
    let listed = server.run(
        d,
        &[
            "--json",
            "list",
            "--suite",
            "app",
            "--release",
            "latest",
            "--trusted-key",
            &public,
        ],
    );
    let lines = listed.json_lines();
    assert!(
        lines
            .iter()
            .all(|l| l["key"].as_str().is_none_or(|k| k.starts_with("app/1.0/"))),
        "{}",
        listed.stdout
    );
    assert!(listed.stderr.contains("skipping 9.9"), "{}", listed.stderr);
}

#[test]
fn either_of_two_trusted_keys_is_accepted_and_a_third_is_not() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = generate(&server, d, "old", true);
    let new = generate(&server, d, "new", true);
    let other = generate(&server, d, "other", true);
    seal_signed(&server, d, "1.0", &[], &["--sign-key", "old.key"]);
    seal_signed(&server, d, "2.0", &[], &["--sign-key", "new.key"]);
    seal_signed(&server, d, "3.0", &[], &["--sign-key", "other.key"]);
    let both = format!("{old}, {new}");
    let env = [("S3BLOB_TRUSTED_KEYS", both.as_str())];
    for release in ["1.0", "2.0"] {
        run_env(
            &server,
            d,
            &env,
            &["verify", "--suite", "app", "--release", release],
        )
        .ok();
    }
    run_env(
        &server,
        d,
        &env,
        &["verify", "--suite", "app", "--release", "3.0"],
    )
    .fails(
        5,
        &[
            "app/3.0/",
            &key_id(&other),
            "not trusted",
            &key_id(&old),
            &key_id(&new),
        ],
    );
    let v = run_env(
        &server,
        d,
        &env,
        &["--json", "verify", "--suite", "app", "--release", "latest"],
    )
    .json();
    assert_eq!(v["release"], "2.0", "{v}");
    // Flags win over the variable.
    let v = run_env(
        &server,
        d,
        &env,
        &[
            "--json",
            "verify",
            "--suite",
            "app",
            "--release",
            "latest",
            "--trusted-key",
            "other.pub",
        ],
    )
    .json();
    assert_eq!(v["release"], "3.0", "{v}");
}

#[test]
fn an_encrypted_key_needs_its_password_and_never_prompts() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(&server, d, "enc", false);
    std::fs::write(d.join("a.bin"), b"a").unwrap();
    let upload = |env: &[(&str, &str)]| {
        let mut cmd = server.cmd(d);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(
            cmd.args([
                "upload",
                "--suite",
                "app",
                "--release",
                "1",
                "a.bin",
                "--seal",
                "--sign-key",
                "enc.key",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap(),
        )
    };
    upload(&[]).fails(2, &["S3BLOB_SIGN_KEY_PASSWORD", "enc.key"]);
    upload(&[("S3BLOB_SIGN_KEY_PASSWORD", "wrong")])
        .fails(2, &["wrong password", "S3BLOB_SIGN_KEY_PASSWORD"]);
    // Refused before anything was sent.
    assert!(server.object("app/1/a.bin").is_none());
    // key generate: a password or --no-password; never over an existing key.
    server
        .run(d, &["key", "generate", "--out", "x"])
        .fails(2, &["S3BLOB_SIGN_KEY_PASSWORD", "--no-password"]);
    let before = std::fs::read(d.join("enc.key")).unwrap();
    server
        .run(d, &["key", "generate", "--out", "enc", "--no-password"])
        .fails(6, &["enc.key"]);
    assert_eq!(std::fs::read(d.join("enc.key")).unwrap(), before);
    upload(&[("S3BLOB_SIGN_KEY_PASSWORD", PASSWORD)]).ok();
    assert!(server.object(&format!("app/1/{SIG}")).is_some());
}

#[test]
fn a_corrupted_signature_is_refused_and_a_seal_rerun_replaces_it() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let public = generate(&server, d, "k", true);
    seal_signed(&server, d, "1.0", &[], &["--sign-key", "k.key"]);
    let good = server.object(&format!("app/1.0/{SIG}")).unwrap();
    let mut bad = good.clone();
    let at = bad.len() - 10;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    server.plant(&format!("app/1.0/{SIG}"), &bad);
    let trusted = ["--trusted-key", public.as_str()];
    let mut args = vec!["verify", "--suite", "app", "--release", "1.0"];
    args.extend_from_slice(&trusted);
    server.run(d, &args).fails(5, &["app/1.0/"]);
    server.plant(&format!("app/1.0/{SIG}"), b"garbage");
    server.run(d, &args).fails(5, &["app/1.0/", "corrupted"]);
    // Sealing again finds the release unchanged and writes a good signature.
    server
        .run(
            d,
            &[
                "seal",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--sign-key",
                "k.key",
            ],
        )
        .ok();
    server.run(d, &args).ok();
    // An absent signature is added the same way.
    std::fs::remove_file(server.object_path(&format!("app/1.0/{SIG}"))).unwrap();
    server.run(d, &args).fails(5, &["not signed"]);
    server
        .run(
            d,
            &[
                "seal",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--sign-key",
                "k.key",
            ],
        )
        .ok();
    server.run(d, &args).ok();
}

#[test]
fn an_unsigned_release_passes_without_trusted_keys_and_is_refused_with_them() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let public = generate(&server, d, "k", true);
    seal_signed(&server, d, "1.0", &[], &[]);
    assert!(server.object(&format!("app/1.0/{SIG}")).is_none());
    server.download_all(d, "app", "1.0", "plain").ok();
    let v = server
        .run(
            d,
            &["--json", "verify", "--suite", "app", "--release", "1.0"],
        )
        .json();
    assert_eq!(v["signature"]["status"], "unsigned", "{v}");
    server
        .run(
            d,
            &[
                "download",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--all",
                "-o",
                "signed",
                "--trusted-key",
                &public,
            ],
        )
        .fails(5, &["app/1.0/", "not signed", &key_id(&public)]);
    assert!(!d.join("signed").exists());
    server
        .run(
            d,
            &[
                "download",
                "--suite",
                "app",
                "--release",
                "latest",
                "--all",
                "-o",
                "l",
                "--trusted-key",
                &public,
            ],
        )
        .fails(5, &["no sealed release of app", &key_id(&public)]);
    // Promoting it with the key signs the copy and says so; the promoted copy is trusted.
    let promoted = server.run(
        d,
        &[
            "--json",
            "promote",
            "--suite",
            "app",
            "--release",
            "1.0",
            "--to-suite",
            "stable",
            "--sign-key",
            "k.key",
        ],
    );
    promoted.ok();
    let v = server
        .run(
            d,
            &[
                "--json",
                "verify",
                "--suite",
                "stable",
                "--release",
                "1.0",
                "--trusted-key",
                &public,
            ],
        )
        .json();
    assert_eq!(v["signature"]["status"], "trusted", "{v}");
}

#[test]
fn promote_checks_the_source_re_signs_and_records_the_signer() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ci = generate(&server, d, "ci", true);
    let rel = generate(&server, d, "rel", true);
    seal_signed(
        &server,
        d,
        "1.0",
        &[],
        &["--sign-key", "ci.key", "--sha256sums"],
    );
    // The source must be signed by a trusted key.
    server
        .run(
            d,
            &[
                "promote",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--to-suite",
                "stable",
                "--trusted-key",
                &rel,
                "--sign-key",
                "rel.key",
            ],
        )
        .fails(5, &["app/1.0/", &key_id(&ci)]);
    let out = server.run(
        d,
        &[
            "promote",
            "--suite",
            "app",
            "--release",
            "1.0",
            "--to-suite",
            "stable",
            "--trusted-key",
            &ci,
            "--sign-key",
            "rel.key",
        ],
    );
    out.ok();
    let stored = server
        .object(&format!("stable/1.0/{MANIFEST_NAME}"))
        .unwrap();
    let manifest = Manifest::parse(&stored, "t").unwrap();
    let origin = manifest.promoted_from.unwrap();
    assert_eq!(origin.signed_by.as_deref(), Some(key_id(&ci).as_str()));
    let v = server
        .run(
            d,
            &[
                "--json",
                "verify",
                "--suite",
                "stable",
                "--release",
                "1.0",
                "--trusted-key",
                &rel,
            ],
        )
        .json();
    assert_eq!(v["signature"]["key"], key_id(&rel).as_str(), "{v}");
    assert_eq!(v["signature"]["status"], "trusted", "{v}");
    // Its SHA256SUMS.minisig is the promoter's, for the new release.
    if let Some(tool) = minisign() {
        server.download_all(d, "stable", "1.0", "st").ok();
        let sums = Command::new(tool)
            .current_dir(d.join("st"))
            .args(["-Vm", "SHA256SUMS", "-P", &rel])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&sums.stdout);
        assert!(sums.status.success(), "{said}");
        assert!(said.contains("stable/1.0"), "{said}");
    }
    // An open release cannot be signed: --allow-open does not pass it with trusted keys.
    std::fs::write(d.join("o.bin"), b"open").unwrap();
    server
        .run(
            d,
            &["upload", "--suite", "app", "--release", "9.0", "o.bin"],
        )
        .ok();
    server
        .run(
            d,
            &[
                "promote",
                "--suite",
                "app",
                "--release",
                "9.0",
                "--to-suite",
                "stable",
                "--allow-open",
                "--trusted-key",
                &ci,
                "--sign-key",
                "rel.key",
            ],
        )
        .fails(5, &["app/9.0/", "not sealed"]);
    // Without a signing key, a promote that checks signatures warns that the copy is unsigned.
    let warned = server.run(
        d,
        &[
            "promote",
            "--suite",
            "app",
            "--release",
            "1.0",
            "--to-suite",
            "beta",
            "--trusted-key",
            &ci,
        ],
    );
    warned.ok();
    assert!(warned.stderr.contains("unsigned"), "{}", warned.stderr);
}

#[test]
fn the_secret_key_appears_in_no_output_and_no_stored_object() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(&server, d, "k", false);
    let key = std::fs::read_to_string(d.join("k.key")).unwrap();
    let secret_line = key.lines().nth(1).unwrap().trim().to_owned();
    let env = [
        ("S3BLOB_SIGN_KEY", key.as_str()),
        ("S3BLOB_SIGN_KEY_PASSWORD", PASSWORD),
    ];
    std::fs::write(d.join("a.bin"), b"a").unwrap();
    for args in [
        &[
            "-vv",
            "upload",
            "--suite",
            "app",
            "--release",
            "1",
            "a.bin",
            "--seal",
            "--sha256sums",
        ][..],
        &["-vv", "--json", "seal", "--suite", "app", "--release", "1"][..],
        &[
            "-vv",
            "promote",
            "--suite",
            "app",
            "--release",
            "1",
            "--to-suite",
            "b",
        ][..],
    ] {
        let out = run_env(&server, d, &env, args);
        out.ok();
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(&secret_line), "the key leaked: {text}");
            assert!(!text.contains(PASSWORD), "the password leaked: {text}");
            assert!(!text.contains(&secret_line[..20]), "part of the key leaked");
        }
    }
    // A bad password's message names the variable, not the key.
    let out = run_env(
        &server,
        d,
        &[
            ("S3BLOB_SIGN_KEY", key.as_str()),
            ("S3BLOB_SIGN_KEY_PASSWORD", "nope"),
        ],
        &["-vv", "seal", "--suite", "app", "--release", "1"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!out.stderr.contains(&secret_line[..20]));
    let mut stack = vec![server.root.path().to_owned()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                seen += 1;
                let bytes = std::fs::read(&p).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains(&secret_line[..20]),
                    "{} holds the key",
                    p.display()
                );
                assert!(
                    !text.contains(PASSWORD),
                    "{} holds the password",
                    p.display()
                );
            }
        }
    }
    assert!(seen > 4, "the store was searched");
}

#[test]
fn a_dotenv_file_cannot_set_a_signing_key_or_trusted_keys() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let public = generate(&server, d, "k", true);
    let key = std::fs::read_to_string(d.join("k.key")).unwrap();
    let line = key.lines().nth(1).unwrap();
    common::write_dotenv(
        &d.join(".env"),
        format!("S3BLOB_SIGN_KEY={line}\nS3BLOB_TRUSTED_KEYS={public}\n"),
    );
    let out = server.upload(d, "app", "1", &[("a.bin", b"a")], &["--seal"]);
    out.ok();
    assert!(out.stderr.contains("S3BLOB_SIGN_KEY"), "{}", out.stderr);
    assert!(out.stderr.contains("S3BLOB_TRUSTED_KEYS"), "{}", out.stderr);
    assert!(
        server.object(&format!("app/1/{SIG}")).is_none(),
        "not signed from .env"
    );
    // Not required either: the unsigned release downloads.
    server.download(d, "app", "1", "a.bin", "got").ok();
}

#[test]
fn unusable_keys_are_one_line_naming_where_they_came_from() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seal_signed(&server, d, "1.0", &[], &[]);
    let verify = ["verify", "--suite", "app", "--release", "1.0"];
    // No such file (not a key line either).
    run_env(
        &server,
        d,
        &[("S3BLOB_TRUSTED_KEYS", "RWnot-a-key")],
        &verify,
    )
    .fails(3, &["S3BLOB_TRUSTED_KEYS", "RWnot-a-key"]);
    // A file that holds no public key.
    std::fs::write(d.join("bad.pub"), "untrusted comment: x\nhello\n").unwrap();
    let mut args = verify.to_vec();
    args.extend_from_slice(&["--trusted-key", "bad.pub"]);
    server.run(d, &args).fails(2, &["--trusted-key", "bad.pub"]);
    // A signing key that is not one.
    std::fs::write(d.join("bad.key"), "untrusted comment: x\nhello\n").unwrap();
    server
        .run(
            d,
            &[
                "seal",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--sign-key",
                "bad.key",
            ],
        )
        .fails(
            2,
            &["--sign-key bad.key", "not a valid minisign secret key"],
        );
    server
        .run(
            d,
            &[
                "seal",
                "--suite",
                "app",
                "--release",
                "1.0",
                "--sign-key",
                "missing.key",
            ],
        )
        .fails(3, &["missing.key"]);
    // --sign-key on an upload that does not seal says what to add.
    std::fs::write(d.join("c.bin"), b"c").unwrap();
    server
        .run(
            d,
            &[
                "upload",
                "--suite",
                "app",
                "--release",
                "2.0",
                "c.bin",
                "--sign-key",
                "bad.key",
            ],
        )
        .fails(2, &["--seal"]);
}

/// `args` with `--trusted-key key` appended, run in `d`.
/// Two key pairs (`k`, `other`) and three sealed releases: 1.0 signed by `k`, 1.1 by `other`,
/// 1.2 unsigned. Gives `k`'s public key line and the two key ids.
fn signed_by_two_keys(server: &Server, d: &Path) -> (String, String, String) {
    let public = generate(server, d, "k", true);
    let other = generate(server, d, "other", true);
    let (id, other_id) = (key_id(&public), key_id(&other));
    seal_signed(server, d, "1.0", &[], &["--sign-key", "k.key"]);
    seal_signed(server, d, "1.1", &[], &["--sign-key", "other.key"]);
    seal_signed(server, d, "1.2", &[], &[]);
    (public, id, other_id)
}

fn with_key(server: &Server, d: &Path, key: &str, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--trusted-key", key]);
    server.run(d, &all)
}

fn stat_args<'a>(release: &'a str, filename: &'a str) -> Vec<&'a str> {
    vec![
        "stat",
        "--suite",
        "app",
        "--release",
        release,
        "--filename",
        filename,
    ]
}

/// The `signature` row of `stat`'s plain output.
fn stat_signature_row(out: &str) -> &str {
    out.lines()
        .find_map(|l| l.strip_prefix("signature"))
        .map_or_else(|| panic!("no signature row in {out}"), str::trim)
}

#[test]
fn without_trusted_keys_verify_list_and_stat_say_who_signed_a_release() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let public = generate(&server, d, "k", true);
    let id = key_id(&public);
    seal_signed(&server, d, "1.0", &[], &["--sign-key", "k.key"]);
    seal_signed(&server, d, "1.1", &[], &[]);
    server.put(d, "app", "2.0", "c.bin", b"open", &[]);
    let signed = format!("signed by {id} (no trusted keys given)");

    // verify: the signer, or `not signed`, in text and JSON.
    let verify = |release: &str| server.run(d, &["verify", "--suite", "app", "--release", release]);
    assert!(
        verify("1.0").ok().contains(&signed),
        "{}",
        verify("1.0").stdout
    );
    let unsigned = verify("1.1");
    assert!(
        unsigned.ok().lines().any(|l| l == "signature not signed"),
        "{}",
        unsigned.stdout
    );

    // list of a suite: each sealed release with its signer; JSON as verify's.
    let plain = server.run(d, &["list", "--suite", "app"]);
    assert_eq!(
        plain.ok(),
        format!("1.0  sealed  {signed}\n1.1  sealed  not signed\n2.0  open")
    );
    let lines = server
        .run(d, &["--json", "list", "--suite", "app"])
        .json_lines();
    let statuses: Vec<(&str, Option<&str>)> = lines
        .iter()
        .map(|l| {
            (
                l["signature"]["status"].as_str().unwrap(),
                l["signature"]["key"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("no trusted keys given", Some(id.as_str())),
            ("unsigned", None),
            ("unsigned", None)
        ]
    );

    // list of a release: the files on stdout as before, the signer in the summary on stderr
    // and in every JSON line.
    let files = server.run(d, &["list", "--suite", "app", "--release", "1.0"]);
    assert_eq!(files.ok().lines().count(), 2, "{}", files.stdout);
    assert!(files.stderr.contains(&signed), "{}", files.stderr);
    let files = server.run(d, &["list", "--suite", "app", "--release", "1.1"]);
    files.ok();
    assert!(files.stderr.contains("not signed"), "{}", files.stderr);
    let lines = server
        .run(d, &["--json", "list", "--suite", "app", "--release", "1.0"])
        .json_lines();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["signature"]["key"], id.as_str(), "{l}");
        assert_eq!(l["signature"]["status"], "no trusted keys given", "{l}");
    }

    // stat of a file: its release's signature, in text and JSON.
    let out = server.run(d, &stat_args("1.0", "a.bin"));
    assert_eq!(stat_signature_row(out.ok()), signed);
    let v = server.stat(d, "app", "1.0", "a.bin");
    assert_eq!(v["signature"]["status"], "no trusted keys given", "{v}");
    assert_eq!(v["signature"]["key"], id.as_str(), "{v}");
    assert_eq!(v["manifest"], "matches", "{v}");
    let out = server.run(d, &stat_args("1.1", "a.bin"));
    assert_eq!(stat_signature_row(out.ok()), "not signed");
    let v = server.stat(d, "app", "2.0", "c.bin");
    assert_eq!(v["signature"]["status"], "unsigned", "{v}");
    assert_eq!(v["manifest"], "not sealed", "{v}");
}

#[test]
fn with_trusted_keys_list_requires_a_signature_and_stat_says_whether_it_is_trusted() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (public, id, other_id) = signed_by_two_keys(&server, d);
    let key = public.as_str();

    // list of a release: only one signed by a trusted key.
    let ok = with_key(
        &server,
        d,
        key,
        &["--json", "list", "--suite", "app", "--release", "1.0"],
    );
    let lines = ok.json_lines();
    assert_eq!(lines.len(), 2, "{}", ok.stdout);
    assert!(lines.iter().all(|l| l["signature"]["status"] == "trusted"));
    let plain = with_key(
        &server,
        d,
        key,
        &["list", "--suite", "app", "--release", "1.0"],
    );
    assert!(
        plain.stderr.contains(&format!("signed by {id} (trusted)")),
        "{}",
        plain.stderr
    );
    with_key(
        &server,
        d,
        key,
        &["list", "--suite", "app", "--release", "1.1"],
    )
    .fails(5, &["app/1.1/", &other_id, "not trusted", &id]);
    with_key(
        &server,
        d,
        key,
        &["list", "--suite", "app", "--release", "1.2"],
    )
    .fails(5, &["app/1.2/", "not signed", &id]);
    let latest = with_key(
        &server,
        d,
        key,
        &["--json", "list", "--suite", "app", "--release", "latest"],
    );
    assert!(
        latest.json_lines().iter().all(|l| l["release"] == "1.0"),
        "{}",
        latest.stdout
    );

    // list of the suite: what each release's signature is worth to this reader.
    let releases = with_key(&server, d, key, &["list", "--suite", "app"]);
    assert_eq!(
        releases.ok(),
        format!(
            "1.0  sealed  signed by {id} (trusted)\n\
             1.1  sealed  signed by {other_id} (not trusted)\n\
             1.2  sealed  not signed"
        )
    );

    // stat of a file in a sealed release: trusted or not, never refused.
    let out = with_key(&server, d, key, &stat_args("1.0", "a.bin"));
    assert_eq!(
        stat_signature_row(out.ok()),
        format!("signed by {id} (trusted)")
    );
    let out = with_key(&server, d, key, &stat_args("1.1", "a.bin"));
    assert_eq!(
        stat_signature_row(out.ok()),
        format!("signed by {other_id} (not trusted)")
    );
    let mut json = vec!["--json"];
    json.extend(stat_args("1.1", "a.bin"));
    let v = with_key(&server, d, key, &json).json();
    assert_eq!(v["signature"]["status"], "not trusted", "{v}");
    assert_eq!(v["signature"]["key"], other_id.as_str(), "{v}");
    // A file replaced behind the signature: the release is still signed, the file is not
    // what it signed.
    server.plant("app/1.0/b.bin", b"replaced, longer than before");
    let mut json = vec!["--json"];
    json.extend(stat_args("1.0", "b.bin"));
    let v = with_key(&server, d, key, &json).json();
    assert_eq!(v["signature"]["status"], "trusted", "{v}");
    assert_eq!(v["manifest"], "differs", "{v}");
    let out = with_key(&server, d, key, &stat_args("1.0", "b.bin"));
    assert!(
        out.ok()
            .lines()
            .any(|l| l.starts_with("manifest") && l.contains("differs")),
        "{}",
        out.stdout
    );
}

#[test]
fn presign_with_trusted_keys_refuses_a_file_its_signed_manifest_does_not_vouch_for() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (public, id, other_id) = signed_by_two_keys(&server, d);
    server.put(d, "app", "2.0", "a.bin", b"open", &[]);
    let key = public.as_str();
    let presign = |release: &str, filename: &str| {
        vec![
            "presign",
            "--suite",
            "app",
            "--release",
            release,
            "--filename",
            filename,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };
    let run = |args: Vec<String>, trusted: bool| {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        if trusted {
            args.extend_from_slice(&["--trusted-key", key]);
        }
        server.run(d, &args)
    };
    // Signed by a trusted key: a link, as without keys.
    let url = run(presign("1.0", "a.bin"), true);
    assert!(url.ok().contains("/app/1.0/a.bin?"), "{}", url.stdout);
    // Without trusted keys nothing is required.
    run(presign("1.2", "a.bin"), false).ok();
    run(presign("2.0", "a.bin"), false).ok();
    // With them: as download, exit 5 naming the release, the key found and the ones trusted.
    run(presign("1.1", "a.bin"), true).fails(5, &["app/1.1/", &other_id, "not trusted", &id]);
    run(presign("1.2", "a.bin"), true).fails(5, &["app/1.2/", "not signed", &id]);
    run(presign("2.0", "a.bin"), true).fails(5, &["app/2.0/", "not sealed", &id]);
    // `latest` is the highest release signed by a trusted key.
    let url = run(presign("latest", "a.bin"), true);
    assert!(url.ok().contains("/app/1.0/a.bin?"), "{}", url.stdout);
    // A file replaced behind the signature, or added after sealing, gets no link.
    server.plant("app/1.0/b.bin", b"replaced, longer than before");
    run(presign("1.0", "b.bin"), true).fails(5, &["app/1.0/b.bin", "signed manifest"]);
    server.plant("app/1.0/late.bin", b"late");
    run(presign("1.0", "late.bin"), true).fails(5, &["app/1.0/late.bin", "not in"]);
    // Same size, the stored checksum left as the manifest lists it (as a writer who sets the
    // metadata too would leave it): only the bytes tell, and presign reads them.
    assert_eq!(server.object("app/1.0/a.bin").unwrap(), b"a of 1.0");
    server.plant("app/1.0/a.bin", b"A OF 1.0");
    // stat compares the stored values only, and cannot see it.
    assert_eq!(server.stat(d, "app", "1.0", "a.bin")["manifest"], "matches");
    run(presign("1.0", "a.bin"), true).fails(5, &["app/1.0/a.bin"]);
    run(presign("1.0", "a.bin"), false).ok();
}

#[test]
fn stat_shows_a_damaged_manifest_rather_than_failing() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let public = generate(&server, d, "k", true);
    seal_signed(&server, d, "1.0", &[], &["--sign-key", "k.key"]);
    let key = format!("app/1.0/{MANIFEST_NAME}");
    let stored = String::from_utf8(server.object(&key).unwrap()).unwrap();
    server.plant(&key, stored.replace("a.bin", "x.bin").as_bytes());
    for trusted in [false, true] {
        let mut args = vec!["--json"];
        args.extend(stat_args("1.0", "a.bin"));
        let run = if trusted {
            with_key(&server, d, &public, &args)
        } else {
            server.run(d, &args)
        };
        let v = run.json();
        assert_eq!(v["manifest"], "damaged", "{v}");
        assert_eq!(v["signature"]["status"], "invalid", "{v}");
        assert!(run.stderr.contains(MANIFEST_NAME), "{}", run.stderr);
    }
    // Those who need the release whole still refuse it.
    with_key(
        &server,
        d,
        &public,
        &stat_args("1.0", "a.bin")
            .into_iter()
            .map(|a| if a == "stat" { "presign" } else { a })
            .collect::<Vec<_>>(),
    )
    .fails(5, &[MANIFEST_NAME]);
}
