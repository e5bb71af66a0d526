//! The engine in-process against the test server over real HTTP: one object up and down
//! through the same client the commands build, with faults injected into single requests.
//! A failure here names the engine's step (a part, a range, the existing key), not a whole
//! command run.

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use s3blob_testserver::faults::{Fault, Faults, Op};

use super::TransferSettings;
use super::budget::Budget;
use super::download::{self, DownloadRequest, Verified};
use super::upload::{self, ChecksumHeader, FileSource, UploadRequest, Writes};
use crate::attributes::{ObjectAttributes, Requested};
use crate::error::{Error, code};
use crate::key::ObjectKey;
use crate::progress::{Quiet, SharedProgress};
use crate::shutdown::Shutdown;

const BUCKET: &str = "engine";
const MIB: usize = 1024 * 1024;

struct Store {
    _running: s3blob_testserver::Running,
    memory: s3blob_testserver::Memory,
    faults: Arc<Faults>,
    client: Client,
    dir: tempfile::TempDir,
}

async fn store() -> Store {
    let memory = s3blob_testserver::Memory::new();
    memory.create_bucket_now(BUCKET);
    let keys = [("AKIAENGINETEST".to_owned(), "engine-secret".to_owned())];
    let (running, faults) = s3blob_testserver::faults::spawn_memory(memory.clone(), &keys);
    let settings = crate::s3::ClientSettings {
        region: Some("us-east-1".to_owned()),
        profile: None,
        endpoint_url: Some(format!("http://{}", running.addr)),
        path_style: true,
        max_attempts: 3,
        timeout: std::time::Duration::from_secs(10),
        credentials: Default::default(),
        ca_bundle: None,
        proxies: Default::default(),
        local_hosts: Vec::new(),
        limits: Default::default(),
    };
    let credentials = Credentials::new("AKIAENGINETEST", "engine-secret", None, None, "test");
    let client =
        crate::s3::client_with(&settings, Some(SharedCredentialsProvider::new(credentials)))
            .await
            .unwrap();
    Store {
        _running: running,
        memory,
        faults,
        client,
        dir: tempfile::tempdir().unwrap(),
    }
}

fn settings() -> TransferSettings {
    TransferSettings {
        part_size: 5 * MIB as u64,
        concurrency: 4,
        max_requests: 16,
        max_attempts: 3,
        checksum_header: Default::default(),
        trust_conditional_writes: false,
        resumable: false,
    }
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn quiet() -> SharedProgress {
    Arc::new(Quiet)
}

impl Store {
    async fn upload(&self, name: &str, data: &[u8]) -> Result<upload::Uploaded, Error> {
        let path = self.dir.path().join(format!("up-{name}"));
        std::fs::write(&path, data).unwrap();
        let settings = settings();
        let req = UploadRequest {
            bucket: BUCKET.to_owned(),
            key: ObjectKey::new("suite", "1.0", name).unwrap(),
            overwrite: false,
            attributes: ObjectAttributes::new(&Requested::default(), name).unwrap(),
            settings,
            budget: Budget::for_settings(&settings),
            manifest: None,
            listed: None,
            header: ChecksumHeader::new(settings.checksum_header),
            writes: Writes::Untrusted { deferred: false },
        };
        let mut source = FileSource::open(&path, settings.part_size)?;
        upload::upload(
            &self.client,
            &req,
            &mut source,
            &quiet(),
            &Shutdown::default(),
        )
        .await
    }

    async fn download(&self, name: &str) -> Result<(download::Downloaded, Vec<u8>), Error> {
        let dest = self.dir.path().join(format!("down-{name}"));
        let settings = settings();
        let req = DownloadRequest {
            bucket: BUCKET.to_owned(),
            key: ObjectKey::new("suite", "1.0", name).unwrap(),
            dest: dest.clone(),
            no_clobber: false,
            settings,
            budget: Budget::for_settings(&settings),
            manifest: None,
            size_hint: None,
            sync_dir: false,
        };
        let got =
            download::download_to_file(&self.client, &req, quiet(), &Shutdown::default()).await?;
        Ok((got, std::fs::read(&dest).unwrap()))
    }

    fn stored(&self, name: &str) -> Option<Vec<u8>> {
        self.memory
            .object_bytes(BUCKET, &format!("suite/1.0/{name}"))
    }
}

#[tokio::test]
async fn a_multipart_upload_and_a_ranged_download_move_every_byte() {
    let store = store().await;
    let data = bytes(12 * MIB + 3, 1);
    let up = store.upload("big.bin", &data).await.unwrap();
    assert_eq!((up.size, up.parts), (data.len() as u64, 3));
    assert_eq!(up.crc64, crate::checksum::crc64(&data));
    assert!(store.stored("big.bin").unwrap() == data);
    let (down, got) = store.download("big.bin").await.unwrap();
    assert_eq!(down.verified, Verified::Metadata);
    assert_eq!(down.crc64, up.crc64);
    assert!(got == data);
}

#[tokio::test]
async fn a_part_cut_short_is_sent_again() {
    let store = store().await;
    let data = bytes(12 * MIB, 2);
    store
        .faults
        .inject(Op::UploadPart, 1, Fault::CutRequest(64 * 1024));
    let up = store.upload("cut.bin", &data).await.unwrap();
    assert_eq!(up.parts, 3);
    assert_eq!(
        store.faults.count(Op::UploadPart),
        4,
        "three parts, one sent twice"
    );
    assert!(store.stored("cut.bin").unwrap() == data);
    assert_eq!(store.memory.open_uploads(), 0);
}

#[tokio::test]
async fn a_range_cut_short_resumes_and_the_file_is_whole() {
    let store = store().await;
    let data = bytes(12 * MIB, 3);
    store.upload("range.bin", &data).await.unwrap();
    store
        .faults
        .inject(Op::GetObject, 1, Fault::CutResponse(MIB + 17));
    let (down, got) = store.download("range.bin").await.unwrap();
    assert_eq!(down.size, data.len() as u64);
    assert!(got == data);
}

#[tokio::test]
async fn other_bytes_at_a_taken_key_are_refused_and_the_stored_object_kept() {
    let store = store().await;
    let first = bytes(1000, 4);
    store.upload("taken.txt", &first).await.unwrap();
    // The same bytes again: nothing sent, reported unchanged.
    assert!(store.upload("taken.txt", &first).await.unwrap().unchanged);
    let err = store
        .upload("taken.txt", &bytes(1000, 5))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), code::EXISTS, "{err}");
    assert!(store.stored("taken.txt").unwrap() == first);
}

#[tokio::test]
async fn a_corrupted_body_is_never_written_to_the_destination() {
    let store = store().await;
    let data = bytes(3 * MIB, 6);
    store.upload("flip.bin", &data).await.unwrap();
    // Every attempt serves the byte flipped: the download must fail, and leave no file.
    store
        .faults
        .inject(Op::GetObject, 10, Fault::FlipByte(1234));
    let err = store.download("flip.bin").await.unwrap_err();
    assert_eq!(err.exit_code(), code::INTEGRITY, "{err}");
    assert!(!store.dir.path().join("down-flip.bin").exists());
}
