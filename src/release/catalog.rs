//! The files of a release with their checksums, page by page as the store lists them (what
//! `list` of a release shows): a sealed release's checksums come from its manifest (one GET
//! in all), an open release's from one HEAD per file. With trusted keys, nothing is listed
//! unless the release carries a valid signature by one of them.

use aws_sdk_s3::Client;
use tracing::{debug, warn};

use super::files::{Listed, Pages};
use crate::error::Error;
use crate::inspect::{self, ChecksumSource};
use crate::key::ReleaseRef;
use crate::manifest::Manifest;
use crate::signature::{TrustedKey, Verdict};

/// A listed file and its stored CRC64NVME with where it was read, when known.
pub type Described = (Listed, Option<(u64, ChecksumSource)>);

pub struct Catalog {
    client: Client,
    bucket: String,
    release: ReleaseRef,
    pages: Pages,
    manifest: Option<Manifest>,
    /// What the release's signature says (read with its manifest).
    verdict: Verdict,
    /// The first page, fetched alongside the manifest.
    first: Option<Result<Option<Vec<Listed>>, Error>>,
    concurrency: usize,
}

impl Catalog {
    /// Starts listing `release`; its manifest is read (and, with `trusted` keys, its signature
    /// checked) before the first page is given.
    pub async fn open(
        client: &Client,
        bucket: &str,
        release: &ReleaseRef,
        concurrency: usize,
        trusted: &[TrustedKey],
    ) -> Result<Self, Error> {
        let mut pages = Pages::new(client, bucket, release);
        let (checked, first) = if trusted.is_empty() {
            tokio::join!(
                super::signed::fetch(client, bucket, release, trusted),
                pages.next_page()
            )
        } else {
            let checked = super::signed::fetch_required(client, bucket, release, trusted).await?;
            (Ok(checked), pages.next_page().await)
        };
        let super::signed::Checked { manifest, verdict } = checked?;
        Ok(Self {
            client: client.clone(),
            bucket: bucket.to_owned(),
            release: release.clone(),
            pages,
            manifest,
            verdict,
            first: Some(first),
            concurrency,
        })
    }

    /// What the release's signature says: who signed it, whether a trusted key did.
    pub fn verdict(&self) -> &Verdict {
        &self.verdict
    }

    /// The next page's files with their checksums, or `None` when the listing is complete.
    /// A file the manifest of a sealed release does not list (added after sealing) is named
    /// in a warning and has no checksum.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Described>>, Error> {
        let page = match self.first.take() {
            Some(first) => first?,
            None => self.pages.next_page().await?,
        };
        let Some(page) = page else { return Ok(None) };
        let checksums = match &self.manifest {
            Some(m) => page
                .iter()
                .map(|f| {
                    let listed = m
                        .files
                        .get(&f.name)
                        .map(|e| (e.crc64, ChecksumSource::Manifest));
                    if listed.is_none() {
                        warn!(
                            "s3://{}/{}{} is in the release but not in its manifest (added after sealing)",
                            self.bucket,
                            self.release.prefix(),
                            f.name
                        );
                    }
                    listed
                })
                .collect(),
            None => heads(&self.client, &self.bucket, &page, self.concurrency).await?,
        };
        Ok(Some(page.into_iter().zip(checksums).collect()))
    }
}

/// The stored checksum of each object (ListObjectsV2 does not return checksum values), by
/// `concurrency` HEADs at a time; an object deleted since the listing simply has none.
async fn heads(
    client: &Client,
    bucket: &str,
    files: &[Listed],
    concurrency: usize,
) -> Result<Vec<Option<(u64, ChecksumSource)>>, Error> {
    crate::tasks::each(files, concurrency, |file| {
        let (client, bucket) = (client.clone(), bucket.to_owned());
        let key = file.object.key().map(str::to_owned);
        async move {
            let Some(key) = key else { return Ok(None) };
            match inspect::head(&client, &bucket, &key).await {
                Ok(info) => Ok(info.checksum),
                Err(Error::NotFound(m)) => {
                    debug!("gone since the listing: {m}");
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
    })
    .await
}
