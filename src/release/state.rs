//! A release's state on the server: sealed (its manifest is there) or open; and which release
//! `--release latest` names.

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use tokio::sync::OnceCell;
use tracing::{debug, info, warn};

use super::LATEST;
use crate::error::Error;
use crate::listing::{self, Inventory};
use crate::manifest::Manifest;
use crate::s3::{classify, status};

/// The key of the manifest of `suite/release` (names already checked by the caller).
pub fn manifest_key(suite: &str, release: &str) -> String {
    crate::key::manifest_key(suite, release)
}

/// The manifest of `suite/release`, or `None` for an open release. A manifest that does not
/// match its own checksum, or does not parse, is an integrity error.
///
/// A 403 counts as open: a role that may write but not read (no `s3:GetObject`) gets 403 for
/// a missing key too, and such a role cannot have sealed the release through s3blob anyway.
pub async fn fetch(
    client: &Client,
    bucket: &str,
    suite: &str,
    release: &str,
) -> Result<Option<Manifest>, Error> {
    Ok(fetch_raw(client, bucket, suite, release)
        .await?
        .map(|(m, _)| m))
}

/// Like [`fetch`], with the manifest's bytes as stored (what a signature signs).
pub async fn fetch_raw(
    client: &Client,
    bucket: &str,
    suite: &str,
    release: &str,
) -> Result<Option<(Manifest, Vec<u8>)>, Error> {
    // A manifest being replaced right now (two seals racing on a server that lets both
    // through) can be read half old, half new where the server does not replace an object's
    // bytes and metadata together: read it again before calling it altered.
    let mut attempt = 1;
    loop {
        match fetch_once(client, bucket, suite, release).await {
            Err(Error::Integrity(_)) if attempt < 3 => {
                attempt += 1;
                tokio::time::sleep(crate::transfer::backoff(attempt)).await;
            }
            other => return other,
        }
    }
}

async fn fetch_once(
    client: &Client,
    bucket: &str,
    suite: &str,
    release: &str,
) -> Result<Option<(Manifest, Vec<u8>)>, Error> {
    let key = manifest_key(suite, release);
    let out = match client.get_object().bucket(bucket).key(&key).send().await {
        Ok(out) => out,
        Err(e) if status(&e) == Some(404) && e.code() != Some("NoSuchBucket") => return Ok(None),
        Err(e) if status(&e) == Some(403) => {
            debug!(%key, "the manifest cannot be read (403); taking the release as open");
            return Ok(None);
        }
        Err(e) => return Err(classify(&e, "read the manifest", bucket, Some(&key))),
    };
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| {
            Error::Network(format!(
                "cannot read the manifest s3://{bucket}/{key}: {}",
                crate::error::one_line(&e.to_string())
            ))
        })?
        .into_bytes();
    // The manifest carries its own checksum (its metadata may come from another writer on
    // servers that do not replace an object atomically).
    let manifest = Manifest::parse(&bytes, &format!("s3://{bucket}/{key}"))?;
    Ok(Some((manifest, bytes.to_vec())))
}

/// Whether each of `releases` of `suite` is sealed: one HEAD of each manifest, `concurrency`
/// at a time.
pub async fn sealed(
    client: &Client,
    bucket: &str,
    suite: &str,
    releases: &[String],
    concurrency: usize,
) -> Result<Vec<bool>, Error> {
    crate::tasks::each(releases, concurrency, |release| {
        let (client, bucket) = (client.clone(), bucket.to_owned());
        let key = manifest_key(suite, release);
        async move {
            match client.head_object().bucket(&bucket).key(&key).send().await {
                Ok(_) => Ok(true),
                Err(e) if matches!(status(&e), Some(404 | 403)) => Ok(false),
                Err(e) => Err(classify(&e, "look for the manifest", &bucket, Some(&key))),
            }
        }
    })
    .await
}

/// `release` itself, or for `latest` the highest sealed release of `suite` (looked for from
/// the top, `concurrency` releases at a time). A suite with no sealed release at all (published
/// by other tools or earlier versions) gets its highest release, with a warning.
pub async fn resolve(
    client: &Client,
    bucket: &str,
    suite: &str,
    release: &str,
    concurrency: usize,
) -> Result<String, Error> {
    if release != LATEST {
        return Ok(release.to_owned());
    }
    let all = releases(client, bucket, suite).await?;
    let Some(highest) = all.last() else {
        return Err(Error::NotFound(format!(
            "--release latest: suite {suite:?} has no releases in s3://{bucket}; check --suite and --bucket"
        )));
    };
    for chunk in all.rchunks(concurrency.max(1)) {
        let flags = sealed(client, bucket, suite, chunk, concurrency).await?;
        if let Some(i) = flags.iter().rposition(|s| *s) {
            let chosen = &chunk[i];
            if chosen != highest {
                info!(
                    "--release latest is {chosen}, the highest sealed of {} releases of {suite} (higher ones are not sealed: still being published, or incomplete)",
                    all.len()
                );
            } else {
                info!(
                    "--release latest is {chosen} (highest of {} releases of {suite}, sealed)",
                    all.len()
                );
            }
            return Ok(chosen.clone());
        }
    }
    warn!(
        "--release latest: no release of {suite} is sealed, so the highest, {highest}, is used; it may be incomplete (seal releases with `s3blob seal` or `upload --seal`)"
    );
    Ok(highest.clone())
}

/// The releases of `suite` (the names under `SUITE/`), lowest to highest by
/// [`super::compare`].
pub async fn releases(client: &Client, bucket: &str, suite: &str) -> Result<Vec<String>, Error> {
    let mut all = listing::children(client, bucket, format!("{suite}/")).await?;
    all.sort_by(|a, b| super::compare(a, b));
    Ok(all)
}

/// The manifest of one release, fetched at most once and shared by every file of a command
/// (uploads refuse to change a sealed release; downloads check what they fetch against it).
#[derive(Clone)]
pub struct ManifestCell(Arc<Inner>);

struct Inner {
    client: Option<Client>,
    /// A listing of the release already under way: no GET when it shows no manifest.
    listed: Option<Inventory>,
    bucket: String,
    suite: String,
    release: String,
    cell: OnceCell<Result<Option<Arc<Manifest>>, Error>>,
}

impl ManifestCell {
    /// Fetched from the server on first use.
    pub fn new(client: &Client, bucket: &str, suite: &str, release: &str) -> Self {
        Self::listed(client, bucket, suite, release, None)
    }

    /// Like [`ManifestCell::new`], asking `listed` first whether there is a manifest at all.
    pub fn listed(
        client: &Client,
        bucket: &str,
        suite: &str,
        release: &str,
        listed: Option<Inventory>,
    ) -> Self {
        Self(Arc::new(Inner {
            client: Some(client.clone()),
            listed,
            bucket: bucket.to_owned(),
            suite: suite.to_owned(),
            release: release.to_owned(),
            cell: OnceCell::new(),
        }))
    }

    /// Already known (`None`: the release is open).
    pub fn known(manifest: Option<Manifest>) -> Self {
        Self(Arc::new(Inner {
            client: None,
            listed: None,
            bucket: String::new(),
            suite: String::new(),
            release: String::new(),
            cell: OnceCell::new_with(Some(Ok(manifest.map(Arc::new)))),
        }))
    }

    /// The manifest, or `None` for an open release.
    pub async fn get(&self) -> Result<Option<Arc<Manifest>>, Error> {
        let inner = &self.0;
        inner
            .cell
            .get_or_init(|| async {
                let Some(client) = &inner.client else {
                    return Ok(None);
                };
                if let Some(listed) = &inner.listed
                    && listed
                        .lookup(&manifest_key(&inner.suite, &inner.release))
                        .await?
                        .is_none()
                {
                    return Ok(None);
                }
                fetch(client, &inner.bucket, &inner.suite, &inner.release)
                    .await
                    .map(|m| m.map(Arc::new))
            })
            .await
            .clone()
    }
}

/// The engine asks the cell whether a key's release is sealed.
impl crate::transfer::SealedRelease for ManifestCell {
    fn manifest(&self) -> crate::transfer::BoxFuture<'_, Result<Option<Arc<Manifest>>, Error>> {
        Box::pin(self.get())
    }
}
