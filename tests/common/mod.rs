//! Test harness: a real S3 server (s3s + s3s-fs, or s3s + the in-memory backend) on
//! 127.0.0.1:0 with SigV4 authentication, and the real `s3blob` binary spawned with a scrubbed
//! environment pointed at it.
#![allow(dead_code, unused_imports)]

pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use std::sync::Arc;

pub use s3blob_testserver::faults::{Fault, Faults, Op};
use tempfile::TempDir;

pub const ACCESS_KEY: &str = "AKIAS3BLOBTESTKEY001";
pub const SECRET_KEY: &str = "s3blob+test/SECRET+key/do-not-leak-0123";
pub const BUCKET: &str = "artifacts";
/// The user (and group) a test runs the binary as to drop root: `nobody`.
pub const NOBODY: u32 = 65534;

/// A running server; it stops when dropped (at the end of the test that started it), with
/// every connection and every answer it was still holding back.
pub struct Server {
    /// First, so the server stops before its directory is removed.
    running: s3blob_testserver::Running,
    pub endpoint: String,
    pub root: TempDir,
    /// The fault plan and request log, for servers started with `start_faulty`.
    pub faults: Option<Arc<Faults>>,
    /// The objects, for a server started with `start_memory` (`root` is then unused).
    pub memory: Option<s3blob_testserver::Memory>,
}

impl Server {
    /// Starts a server on its own runtime thread, with the bucket `artifacts` created.
    pub fn start() -> Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let running = s3blob_testserver::spawn(root.path().to_owned(), 0, ACCESS_KEY, SECRET_KEY);
        Server {
            endpoint: format!("http://{}", running.addr),
            running,
            root,
            faults: None,
            memory: None,
        }
    }

    /// Starts the in-memory backend (`s3blob-testserver --memory`, what the demo runs) behind
    /// the fault layer, with the bucket `artifacts` created.
    pub fn start_memory() -> Server {
        let root = tempfile::tempdir().unwrap();
        let memory = s3blob_testserver::Memory::new();
        memory.create_bucket_now(BUCKET);
        let keys = [(ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())];
        let (running, faults) = s3blob_testserver::faults::spawn_memory(memory.clone(), &keys);
        Server {
            endpoint: format!("http://{}", running.addr),
            running,
            root,
            faults: Some(faults),
            memory: Some(memory),
        }
    }

    /// Creates another bucket on this server.
    pub fn create_bucket(&self, name: &str) {
        match &self.memory {
            Some(memory) => memory.create_bucket_now(name),
            None => std::fs::create_dir(self.root.path().join(name)).unwrap(),
        }
    }

    /// The bytes `bucket/key` holds, whatever the backend.
    pub fn object_in(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        match &self.memory {
            Some(memory) => memory.object_bytes(bucket, key),
            None => std::fs::read(self.root.path().join(bucket).join(key)).ok(),
        }
    }

    /// Starts a server behind the fault-injection layer.
    pub fn start_faulty() -> Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let (running, faults) =
            s3blob_testserver::faults::spawn(root.path().to_owned(), ACCESS_KEY, SECRET_KEY);
        Server {
            endpoint: format!("http://{}", running.addr),
            running,
            root,
            faults: Some(faults),
            memory: None,
        }
    }

    /// Starts a server behind the fault layer that accepts `keys` besides the usual test key
    /// and logs which key (and session token) signed each request.
    pub fn start_accepting(keys: &[(&str, &str)]) -> Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let mut all = vec![(ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())];
        all.extend(keys.iter().map(|(a, s)| ((*a).to_owned(), (*s).to_owned())));
        let (running, faults) =
            s3blob_testserver::faults::spawn_with_keys(root.path().to_owned(), &all);
        Server {
            endpoint: format!("http://{}", running.addr),
            running,
            root,
            faults: Some(faults),
            memory: None,
        }
    }

    /// A server behind the fault layer whose every connection carries `bandwidth` bytes per
    /// second in each direction.
    pub fn start_throttled(bandwidth: u64) -> Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let keys = [(ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())];
        let (running, faults) =
            s3blob_testserver::faults::spawn_throttled(root.path().to_owned(), &keys, bandwidth);
        Server {
            endpoint: format!("http://{}", running.addr),
            running,
            root,
            faults: Some(faults),
            memory: None,
        }
    }

    /// Starts a server over HTTPS with a certificate for 127.0.0.1 and localhost signed by
    /// `ca`; the endpoint is `https://{host}:PORT`.
    pub fn start_tls(ca: &s3blob_testserver::tls::TestCa, host: &str) -> Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let running =
            s3blob_testserver::tls::spawn(root.path().to_owned(), ACCESS_KEY, SECRET_KEY, ca);
        Server {
            endpoint: format!("https://{host}:{}", running.addr.port()),
            running,
            root,
            faults: None,
            memory: None,
        }
    }

    pub fn faults(&self) -> &Faults {
        self.faults.as_ref().expect("started with start_faulty")
    }

    /// Where s3s-fs keeps the bytes of an object.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }

    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.object_in(BUCKET, key)
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_uploads(&self) -> usize {
        if let Some(memory) = &self.memory {
            return memory.open_uploads();
        }
        std::fs::read_dir(self.root.path())
            .unwrap()
            .filter(|e| {
                let name = e
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .into_owned();
                name.starts_with(".upload-") && name.ends_with(".json")
            })
            .count()
    }

    /// The binary, with no environment but what points it at this server.
    pub fn cmd(&self, cwd: &Path) -> Command {
        self.command(env!("CARGO_BIN_EXE_s3blob"), cwd)
    }

    /// `program` (a wrapper such as `script`), with the environment of [`Server::cmd`].
    pub fn command(&self, program: &str, cwd: &Path) -> Command {
        // Empty AWS config files: no profile from the machine, and no warning about missing files.
        let (config, credentials) = (cwd.join(".aws-config"), cwd.join(".aws-credentials"));
        for f in [&config, &credentials] {
            if !f.exists() {
                std::fs::write(f, "").unwrap();
            }
        }
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .current_dir(cwd)
            .env("HOME", cwd)
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            // Never probe instance metadata from a test.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("S3BLOB_BUCKET", BUCKET);
        // Windows cannot start its network stack without SystemRoot.
        #[cfg(windows)]
        if let Some(root) = std::env::var_os("SYSTEMROOT") {
            cmd.env("SYSTEMROOT", root);
        }
        cmd
    }

    /// Starts the binary with `args` in the background, stdout and stderr piped, for tests
    /// that act while it runs; `Run::from(child.wait_with_output().unwrap())` collects it.
    pub fn spawn(&self, cwd: &Path, args: &[&str]) -> std::process::Child {
        background(self.cmd(cwd).args(args))
    }

    pub fn run(&self, cwd: &Path, args: &[&str]) -> Run {
        Run::from(self.cmd(cwd).args(args).output().unwrap())
    }

    /// [`Server::run`], as an unprivileged user when the tests run as root (as CI does): root
    /// ignores file modes, so a test of a permission error needs the binary to run without
    /// it. `cwd` is then opened to that user (`nobody`), who must reach what the test gives.
    pub fn run_unprivileged(&self, cwd: &Path, args: &[&str]) -> Run {
        let mut cmd = self.cmd(cwd);
        #[cfg(unix)]
        if rustix::process::geteuid().is_root() {
            use std::os::unix::fs::PermissionsExt;
            use std::os::unix::process::CommandExt;
            std::fs::set_permissions(cwd, std::fs::Permissions::from_mode(0o755)).unwrap();
            // std drops the supplementary groups too when root sets a uid.
            cmd.uid(NOBODY).gid(NOBODY);
        }
        Run::from(cmd.args(args).output().unwrap())
    }

    /// Writes `files` (name, bytes) into `cwd` and uploads them all to `suite/release` with
    /// `extra` flags.
    pub fn upload(
        &self,
        cwd: &Path,
        suite: &str,
        release: &str,
        files: &[(&str, &[u8])],
        extra: &[&str],
    ) -> Run {
        let mut args = vec!["upload", "--suite", suite, "--release", release];
        args.extend_from_slice(extra);
        for (name, bytes) in files {
            std::fs::write(cwd.join(name), bytes).unwrap();
            args.push(name);
        }
        self.run(cwd, &args)
    }

    /// `download` of `suite/release/filename` to `out` (relative to `cwd`).
    pub fn download(
        &self,
        cwd: &Path,
        suite: &str,
        release: &str,
        filename: &str,
        out: &str,
    ) -> Run {
        self.run(
            cwd,
            &[
                "download",
                "--suite",
                suite,
                "--release",
                release,
                "--filename",
                filename,
                "-o",
                out,
            ],
        )
    }

    /// `download --all` of `suite/release` into the directory `out` (relative to `cwd`).
    pub fn download_all(&self, cwd: &Path, suite: &str, release: &str, out: &str) -> Run {
        self.run(
            cwd,
            &[
                "download",
                "--suite",
                suite,
                "--release",
                release,
                "--all",
                "-o",
                out,
            ],
        )
    }

    /// `stat --json` of `suite/release/filename`; it must succeed.
    #[track_caller]
    pub fn stat(
        &self,
        cwd: &Path,
        suite: &str,
        release: &str,
        filename: &str,
    ) -> serde_json::Value {
        self.run(
            cwd,
            &[
                "--json",
                "stat",
                "--suite",
                suite,
                "--release",
                release,
                "--filename",
                filename,
            ],
        )
        .json()
    }

    /// Writes `bytes` to `cwd/name` and uploads it as `suite/release/name` with `extra` flags;
    /// the upload must succeed.
    pub fn put(
        &self,
        cwd: &Path,
        suite: &str,
        release: &str,
        name: &str,
        bytes: &[u8],
        extra: &[&str],
    ) {
        std::fs::write(cwd.join(name), bytes).unwrap();
        let mut args = vec!["upload", "--suite", suite, "--release", release, name];
        args.extend_from_slice(extra);
        self.run(cwd, &args).ok();
    }

    /// Creates an object directly in the server's storage, bypassing s3blob (no metadata).
    pub fn plant(&self, key: &str, bytes: &[u8]) {
        let path = self.object_path(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts success and returns stdout without its newline.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        self.stdout.strip_suffix('\n').unwrap_or(&self.stdout)
    }

    /// Asserts success and parses stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        let out = self.ok();
        serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// Asserts success and parses every line of stdout as a JSON document.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.ok()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect()
    }

    /// Asserts failure with `code`, an empty stdout, and exactly one error line, s3blob's own
    /// (`s3blob: error: ...`), containing every one of `needles`.
    #[track_caller]
    pub fn fails(&self, code: i32, needles: &[&str]) {
        let lines = self.fails_with_lines(code);
        assert_eq!(
            lines.len(),
            1,
            "one error line expected in: {}",
            self.stderr
        );
        for n in needles {
            assert!(lines[0].contains(n), "{:?} should contain {n:?}", lines[0]);
        }
    }

    /// Asserts failure with `code` and an empty stdout; returns s3blob's error lines (a batch
    /// prints one per distinct failure and a summary).
    #[track_caller]
    pub fn fails_with_lines(&self, code: i32) -> Vec<&str> {
        assert_eq!(
            self.code, code,
            "stdout: {} stderr: {}",
            self.stdout, self.stderr
        );
        assert_eq!(self.stdout, "", "stdout must stay empty on failure");
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("s3blob: error: "))
            .collect();
        assert!(!lines.is_empty(), "no error line in: {}", self.stderr);
        lines
    }

    /// Asserts a refusal of the command line itself: exit 2, an empty stdout, and stderr of
    /// one `s3blob: error: ...` line (containing every one of `needles`), optionally followed
    /// by one `usage: ...` line.
    #[track_caller]
    pub fn usage_error(&self, needles: &[&str]) {
        assert_eq!(self.code, 2, "stderr: {}", self.stderr);
        assert_eq!(self.stdout, "", "stdout must stay empty on failure");
        let lines: Vec<&str> = self.stderr.lines().collect();
        let message = lines.first().copied().unwrap_or("");
        assert!(
            message.starts_with("s3blob: error: "),
            "not one error line: {}",
            self.stderr
        );
        match lines.get(1..) {
            Some([]) | None => {}
            Some([usage]) => assert!(
                usage.starts_with("usage: s3blob") || usage.starts_with("more: s3blob"),
                "{}",
                self.stderr
            ),
            Some(_) => panic!("more than an error and a usage line: {}", self.stderr),
        }
        for n in needles {
            assert!(message.contains(n), "{message:?} should contain {n:?}");
        }
    }

    /// Asserts that the one file of an `upload --json` or `download --json` failed with
    /// `code`: stdout is the batch with that file's error as its element, and stderr has that
    /// error once; both contain every one of `needles`.
    #[track_caller]
    pub fn fails_json(&self, code: i32, needles: &[&str]) {
        assert_eq!(self.code, code, "stderr: {}", self.stderr);
        let v: serde_json::Value = serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("{e}: {}", self.stdout));
        assert_eq!(v["failed"], 1, "{v}");
        assert_eq!(v["files"][0]["exit_code"], code, "{v}");
        let error = v["files"][0]["error"].as_str().unwrap_or_default();
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("s3blob: error: "))
            .collect();
        assert_eq!(lines.len(), 1, "{}", self.stderr);
        for n in needles {
            assert!(error.contains(n), "{error:?} should contain {n:?}");
            assert!(lines[0].contains(n), "{:?} should contain {n:?}", lines[0]);
        }
    }

    /// Asserts success and returns the JSON of the one file an `upload` or `download` moved:
    /// the `files` element of `{"command", "files": [one], "failed": 0}`.
    #[track_caller]
    pub fn file_json(&self) -> serde_json::Value {
        let v = self.json();
        assert_eq!(v["failed"], 0, "{v}");
        let files = v["files"]
            .as_array()
            .unwrap_or_else(|| panic!("not a batch: {v}"));
        assert_eq!(files.len(), 1, "one file expected: {v}");
        files[0].clone()
    }
}

/// Writes a settings file (`.env`) as a user's own would be: readable and writable by its
/// owner only, whatever the umask (s3blob refuses one that group or others may write).
pub fn write_dotenv(path: &Path, text: impl AsRef<[u8]>) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// Deterministic, incompressible test data.
/// Starts `cmd` in the background with stdout and stderr piped.
pub fn background(cmd: &mut Command) -> std::process::Child {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Asserts that `dir` holds no temporary file of s3blob's (`*.s3blob-tmp`, the named
/// fallback of downloads).
#[track_caller]
pub fn no_temp_files(dir: &Path) {
    let temps: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("s3blob-tmp"))
        .collect();
    assert!(
        temps.is_empty(),
        "temporary files left in {}: {temps:?}",
        dir.display()
    );
}

pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

pub const MIB: usize = 1024 * 1024;

/// Sends `sig` (e.g. "-INT") to a process.
pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Polls `cond` until it holds, failing the test after 20 s.
pub fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
