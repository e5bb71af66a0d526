//! Test harness: a real S3 server (s3s + s3s-fs) on 127.0.0.1:0 with SigV4 authentication, and
//! the real `s3blob` binary spawned with a scrubbed environment pointed at it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use tempfile::TempDir;

pub const ACCESS_KEY: &str = "AKIAS3BLOBTESTKEY001";
pub const SECRET_KEY: &str = "s3blob+test/SECRET+key/do-not-leak-0123";
pub const BUCKET: &str = "artifacts";

/// s3s-fs behind a layer that restores AWS semantics where s3s-fs is lenient: writing or
/// reading in a bucket that does not exist is `NoSuchBucket` (s3s-fs would create the bucket,
/// or answer NoSuchKey).
struct Strict {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
}

impl Strict {
    fn check_bucket(&self, bucket: &str) -> S3Result<()> {
        if self.root.join(bucket).is_dir() {
            Ok(())
        } else {
            Err(S3Error::with_message(
                S3ErrorCode::NoSuchBucket,
                "The specified bucket does not exist",
            ))
        }
    }
}

#[async_trait::async_trait]
impl S3 for Strict {
    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        self.check_bucket(&req.input.bucket)?;
        self.fs.put_object(req).await
    }
    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        self.check_bucket(&req.input.bucket)?;
        self.fs.get_object(req).await
    }
    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        self.check_bucket(&req.input.bucket)?;
        self.fs.head_object(req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.check_bucket(&req.input.bucket)?;
        self.fs.delete_object(req).await
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.check_bucket(&req.input.bucket)?;
        self.fs.create_multipart_upload(req).await
    }
    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        self.fs.upload_part(req).await
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.fs.complete_multipart_upload(req).await
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.fs.abort_multipart_upload(req).await
    }
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }
    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.fs.list_objects_v2(req).await
    }
}

/// A running server; it stops when the test process exits.
pub struct Server {
    pub endpoint: String,
    pub root: TempDir,
}

impl Server {
    /// Starts a server on its own runtime thread, with the bucket `artifacts` created.
    pub fn start() -> Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let path = root.path().to_owned();
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(path, tx));
        });
        let addr = rx.recv().unwrap();
        Server {
            endpoint: format!("http://{addr}"),
            root,
        }
    }

    /// Where s3s-fs keeps the bytes of an object.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }

    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.object_path(key)).ok()
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_uploads(&self) -> usize {
        std::fs::read_dir(self.root.path())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name().to_string_lossy().into_owned();
                name.starts_with(".upload-") && name.ends_with(".json")
            })
            .count()
    }

    /// The binary, with no environment but what points it at this server.
    pub fn cmd(&self, cwd: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3blob"));
        cmd.env_clear()
            .current_dir(cwd)
            .env("HOME", cwd)
            .env("AWS_CONFIG_FILE", cwd.join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", cwd.join("no-aws-credentials"))
            // Never probe instance metadata from a test.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("S3BLOB_BUCKET", BUCKET);
        cmd
    }

    pub fn run(&self, cwd: &Path, args: &[&str]) -> Run {
        Run::from(self.cmd(cwd).args(args).output().unwrap())
    }
}

async fn serve(root: PathBuf, ready: std::sync::mpsc::Sender<SocketAddr>) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder as ConnBuilder;

    let fs = s3s_fs::FileSystem::new(&root).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(Strict { fs, root });
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ready.send(listener.local_addr().unwrap()).unwrap();
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let conn = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
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

    /// Asserts failure with `code`, an empty stdout, and a one-line error containing every
    /// one of `needles`.
    #[track_caller]
    pub fn fails(&self, code: i32, needles: &[&str]) {
        assert_eq!(self.code, code, "stdout: {} stderr: {}", self.stdout, self.stderr);
        assert_eq!(self.stdout, "", "stdout must stay empty on failure");
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("s3blob: error: ") || l.starts_with("error:"))
            .unwrap_or_else(|| panic!("no error line in: {}", self.stderr));
        for n in needles {
            assert!(line.contains(n), "{line:?} should contain {n:?}");
        }
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
    }
}

/// Deterministic, incompressible test data.
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
