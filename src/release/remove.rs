//! Removing whole releases, for `delete --all` and `prune`: the manifest first (the release
//! stops being sealed, so no reader ever takes it for complete while its files go), then every
//! object under its prefix with DeleteObjects, up to 1,000 keys per request. A store that does
//! not implement DeleteObjects gets one DeleteObject per key.

use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use tracing::{debug, info};

use crate::error::Error;
use crate::key::ReleaseRef;
use crate::listing::Lister;
use crate::s3::{classify, key_failure, status};

/// Keys per DeleteObjects request: S3's limit.
const BATCH: usize = 1000;

/// Deletes at once when falling back to one DeleteObject per key.
const SINGLE_DELETES: usize = 16;

/// What a release holds, from one listing of its prefix.
#[derive(Debug, Clone)]
pub struct Contents {
    pub suite: String,
    pub release: String,
    /// Every key under `suite/release/`, the manifest included.
    pub keys: Vec<String>,
    pub sealed: bool,
    /// The newest object's last-modified time.
    pub newest: Option<SystemTime>,
}

/// Lists everything under `suite/release/` (every level).
pub async fn contents(
    client: &Client,
    bucket: &str,
    suite: &str,
    release: &str,
) -> Result<Contents, Error> {
    let release_ref = ReleaseRef::listed(suite, release);
    let manifest = release_ref.manifest_key();
    let mut keys = Vec::new();
    let mut newest: Option<SystemTime> = None;
    let mut lister = Lister::every_level(client, bucket, release_ref.prefix());
    while let Some(page) = lister.next_page().await? {
        for object in page.objects {
            if let Some(t) = object
                .last_modified()
                .and_then(|t| SystemTime::try_from(*t).ok())
            {
                newest = Some(newest.map_or(t, |n| n.max(t)));
            }
            // Directory markers (`suite/release/`) go too: the release would still be listed.
            if let Some(key) = object.key {
                keys.push(key);
            }
        }
    }
    let sealed = keys.contains(&manifest);
    Ok(Contents {
        suite: suite.to_owned(),
        release: release.to_owned(),
        keys,
        sealed,
        newest,
    })
}

/// What removing a release did.
#[derive(Debug, Clone)]
pub struct Removed {
    pub suite: String,
    pub release: String,
    pub sealed: bool,
    /// Objects deleted, the manifest included.
    pub objects: usize,
    /// Keys that could not be deleted, with the first failure's error.
    pub failed: Vec<String>,
    pub error: Option<Error>,
}

/// Removes every object of `contents`: the manifest first (if it cannot go, nothing else
/// does), then the rest.
pub async fn remove(client: &Client, bucket: &str, contents: &Contents) -> Result<Removed, Error> {
    let manifest = ReleaseRef::listed(&contents.suite, &contents.release).manifest_key();
    let mut deleted = 0;
    if contents.sealed {
        client
            .delete_object()
            .bucket(bucket)
            .key(&manifest)
            .send()
            .await
            .map_err(|e| classify(&e, "delete the manifest", bucket, Some(&manifest)))?;
        info!("unsealed s3://{bucket}/{manifest}");
        deleted += 1;
    }
    let rest: Vec<&String> = contents.keys.iter().filter(|k| **k != manifest).collect();
    let mut failed = Vec::new();
    let mut error = None;
    let mut one_by_one = false;
    for chunk in rest.chunks(BATCH) {
        if !one_by_one {
            match delete_many(client, bucket, chunk).await {
                Ok((n, refused)) => {
                    deleted += n;
                    for (key, why) in refused {
                        error.get_or_insert(why);
                        failed.push(key);
                    }
                    continue;
                }
                // Not implemented here: one request per key from now on.
                Err(Unsupported) => one_by_one = true,
            }
        }
        let (n, refused) = delete_each(client, bucket, chunk).await;
        deleted += n;
        for (key, why) in refused {
            error.get_or_insert(why);
            failed.push(key);
        }
    }
    Ok(Removed {
        suite: contents.suite.clone(),
        release: contents.release.clone(),
        sealed: contents.sealed,
        objects: deleted,
        failed,
        error,
    })
}

/// DeleteObjects is not implemented by the store.
struct Unsupported;

/// One DeleteObjects of `keys`: how many went, and the keys the store refused with why.
async fn delete_many(
    client: &Client,
    bucket: &str,
    keys: &[&String],
) -> Result<(usize, Vec<(String, Error)>), Unsupported> {
    let ids: Vec<ObjectIdentifier> = keys
        .iter()
        .filter_map(|k| ObjectIdentifier::builder().key(k.as_str()).build().ok())
        .collect();
    let delete = Delete::builder()
        .set_objects(Some(ids))
        .quiet(true)
        .build()
        .map_err(|_| Unsupported)?;
    debug!(keys = keys.len(), "DeleteObjects");
    match client
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
    {
        Ok(out) => {
            let refused: Vec<(String, Error)> = out
                .errors()
                .iter()
                .map(|e| {
                    let key = e.key().unwrap_or_default().to_owned();
                    let why = key_failure(
                        e.code().unwrap_or("error"),
                        e.message().unwrap_or_default(),
                        "delete",
                        bucket,
                        &key,
                        "DeleteObjects",
                    );
                    (key, why)
                })
                .collect();
            Ok((keys.len() - refused.len(), refused))
        }
        Err(e) if matches!(status(&e), Some(501 | 405)) || e.code() == Some("NotImplemented") => {
            debug!("DeleteObjects not implemented; deleting one key at a time");
            Err(Unsupported)
        }
        Err(e) => {
            let why = classify(&e, "delete objects in", bucket, None);
            Ok((
                0,
                keys.iter().map(|k| ((*k).clone(), why.clone())).collect(),
            ))
        }
    }
}

/// One DeleteObject per key, a few at once.
async fn delete_each(
    client: &Client,
    bucket: &str,
    keys: &[&String],
) -> (usize, Vec<(String, Error)>) {
    let results = crate::tasks::each(keys, SINGLE_DELETES, |key| {
        let (client, bucket, key) = (client.clone(), bucket.to_owned(), (*key).clone());
        async move {
            let result = client
                .delete_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| classify(&e, "delete", &bucket, Some(&key)));
            Ok::<_, Error>((key, result))
        }
    })
    .await;
    let (mut deleted, mut refused) = (0, Vec::new());
    match results {
        Ok(results) => {
            for (key, result) in results {
                match result {
                    Ok(_) => deleted += 1,
                    Err(why) => refused.push((key, why)),
                }
            }
        }
        Err(e) => refused.push((String::new(), e)),
    }
    (deleted, refused)
}
