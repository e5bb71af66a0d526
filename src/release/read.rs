//! What sealing and verifying share: reading an object whole without writing it anywhere (for
//! its CRC64NVME and SHA-256), and running one job per file of a release, a few at a time.

use std::sync::Arc;

use aws_sdk_s3::Client;

use crate::checksum::Sha256Writer;
use crate::error::Error;
use crate::key::ObjectKey;
use crate::progress::{Quiet, SharedProgress};
use crate::shutdown::Shutdown;
use crate::transfer::TransferSettings;
use crate::transfer::budget::Budget;
use crate::transfer::download::{self, DownloadRequest, Downloaded};

/// Streams `key` through the download engine (ranges in parallel, resumed if cut, checked
/// against the object's own checksum) into nothing but a SHA-256.
pub(super) async fn read_whole(
    client: &Client,
    bucket: &str,
    key: &ObjectKey,
    settings: TransferSettings,
    budget: &Budget,
) -> Result<(Downloaded, String), Error> {
    let req = DownloadRequest {
        bucket: bucket.to_owned(),
        key: key.clone(),
        dest: "-".into(),
        no_clobber: false,
        settings,
        budget: budget.clone(),
        manifest: None,
        size_hint: None,
        sync_dir: false,
    };
    let mut sha = Sha256Writer::default();
    let progress: SharedProgress = Arc::new(Quiet);
    let got = download::download_to_writer(client, &req, &mut sha, progress, &Shutdown::default())
        .await?;
    Ok((got, sha.hex()))
}
