//! Signed releases on the store: reading a release's manifest with its signature and judging
//! them together, and making sure a sealed release carries a signature by the publisher's key.
//!
//! The manifest is written first (create-only, as unsigned releases always were), then its
//! signature `SUITE/RELEASE/.s3blob-manifest.json.minisig`, create-only. A reader counts a
//! release as signed only when that signature verifies against the manifest's stored bytes
//! and names the release asked for, so a manifest left without its signature (a seal stopped
//! between the two writes) is simply unsigned, and re-running the seal adds the signature.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use tracing::{info, warn};

use super::state;
use crate::checksum;
use crate::error::Error;
use crate::key::ReleaseRef;
use crate::manifest::Manifest;
use crate::s3::{classify, status};
use crate::signature::{self, KeyId, SigningKey, TrustedKey, Verdict};

/// A release's manifest (if sealed) and what its signature is worth.
#[derive(Debug, Clone)]
pub struct Checked {
    pub manifest: Option<Manifest>,
    pub verdict: Verdict,
}

/// A stored object's bytes and ETag, or `None` when there is none (404, or 403 for a role
/// that may not read).
async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Vec<u8>, Option<String>)>, Error> {
    let out = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if matches!(status(&e), Some(404 | 403)) => return Ok(None),
        Err(e) => return Err(classify(&e, "read the signature", bucket, Some(key))),
    };
    let etag = out.e_tag().map(str::to_owned);
    let bytes = out.body.collect().await.map_err(|e| {
        Error::Network(format!(
            "cannot read the signature s3://{bucket}/{key}: {}",
            crate::error::one_line(&e.to_string())
        ))
    })?;
    Ok(Some((bytes.to_vec(), etag)))
}

/// The manifest of `release` and the verdict on its signature against `keys` (an open
/// release is [`Verdict::Unsigned`]). Both objects are read at once.
pub async fn fetch(
    client: &Client,
    bucket: &str,
    release: &ReleaseRef,
    keys: &[TrustedKey],
) -> Result<Checked, Error> {
    let sig_key = release.signature_key();
    let (manifest, sig) = tokio::join!(
        state::fetch_raw(client, bucket, release.suite(), release.release()),
        get(client, bucket, &sig_key)
    );
    let Some((manifest, bytes)) = manifest? else {
        return Ok(Checked {
            manifest: None,
            verdict: Verdict::Unsigned,
        });
    };
    let sig = sig?;
    let expected =
        signature::release_comment(release.suite(), release.release(), &manifest.seal_id);
    let verdict = signature::check(
        sig.as_ref().map(|(b, _)| b.as_slice()),
        &bytes,
        &expected,
        keys,
    );
    Ok(Checked {
        manifest: Some(manifest),
        verdict,
    })
}

/// With trusted `keys`: the release must be sealed and signed by one of them (exit 5 naming
/// the release, the key id found and the ones trusted). Without keys, anything passes.
pub fn require(
    checked: &Checked,
    bucket: &str,
    release: &ReleaseRef,
    keys: &[TrustedKey],
) -> Result<(), Error> {
    let what = format!("s3://{bucket}/{}", release.prefix());
    if !keys.is_empty() && checked.manifest.is_none() {
        return Err(Error::Integrity(format!(
            "{what}: it is not sealed, so not signed; trusted keys: {}{}",
            signature::ids(keys),
            signature::REFUSED
        )));
    }
    signature::require(&checked.verdict, &what, keys)
}

/// [`fetch`] then [`require`]: the manifest of a release a consumer may use.
pub async fn fetch_required(
    client: &Client,
    bucket: &str,
    release: &ReleaseRef,
    keys: &[TrustedKey],
) -> Result<Checked, Error> {
    let checked = fetch(client, bucket, release, keys).await?;
    require(&checked, bucket, release, keys)?;
    Ok(checked)
}

/// Makes sure the sealed `release` carries a valid signature by `key` of its stored manifest:
/// absent, it is written (create-only); present and valid by this key, it is kept; otherwise
/// (corrupted, for another release, another key's) it is replaced, pinned to the ETag read.
pub async fn ensure(
    client: &Client,
    bucket: &str,
    release: &ReleaseRef,
    key: &SigningKey,
) -> Result<KeyId, Error> {
    let sig_key = release.signature_key();
    let uri = format!("s3://{bucket}/{sig_key}");
    let (manifest, sig) = tokio::join!(
        state::fetch_raw(client, bucket, release.suite(), release.release()),
        get(client, bucket, &sig_key)
    );
    let Some((manifest, bytes)) = manifest? else {
        return Err(Error::Other(format!(
            "s3://{bucket}/{}: the manifest vanished before it could be signed; seal again",
            release.prefix()
        )));
    };
    let expected =
        signature::release_comment(release.suite(), release.release(), &manifest.seal_id);
    let own = [key.trusted()];
    let sig = sig?;
    let etag = match &sig {
        Some((stored, etag)) => match signature::check(Some(stored), &bytes, &expected, &own) {
            Verdict::Trusted(id) => {
                info!("{uri} already signed by {id}; kept");
                return Ok(id);
            }
            other => {
                warn!("{uri}: replacing a {}", other.describe());
                etag.clone()
            }
        },
        None => None,
    };
    let text = key.sign(&bytes, &expected)?;
    let crc = checksum::to_base64(checksum::crc64(text.as_bytes()));
    let mut put = client
        .put_object()
        .bucket(bucket)
        .key(&sig_key)
        .content_type("text/plain; charset=utf-8")
        .metadata(checksum::METADATA_KEY, &crc)
        .body(ByteStream::from(text.clone().into_bytes()));
    put = match (&sig, etag) {
        (None, _) => put.if_none_match("*"),
        (Some(_), Some(etag)) => put.if_match(etag),
        (Some(_), None) => put,
    };
    match put.send().await {
        Ok(_) => {}
        Err(e) if status(&e) == Some(412) => {
            return Err(Error::AlreadyExists(format!(
                "{uri} was written by another job at the same moment; run the command again to check it"
            )));
        }
        Err(e) => return Err(classify(&e, "write the signature", bucket, Some(&sig_key))),
    }
    // Read back: on a store that ignores conditions a racing writer may have replaced it.
    match get(client, bucket, &sig_key).await? {
        Some((stored, _)) if stored == text.as_bytes() => {
            info!("signed {uri} with key {}", key.id());
            Ok(key.id())
        }
        _ => Err(Error::AlreadyExists(format!(
            "{uri} was replaced by another job at the same moment; run the command again to check it"
        ))),
    }
}

/// `release` itself, or for `latest` the highest sealed release of `suite` signed by one of
/// the trusted `keys` (looked for from the top; each sealed release passed over is named in
/// one warning saying why). Without keys this is [`state::resolve`].
pub async fn resolve(
    client: &Client,
    bucket: &str,
    suite: &str,
    release: &str,
    concurrency: usize,
    keys: &[TrustedKey],
) -> Result<String, Error> {
    if keys.is_empty() || release != super::LATEST {
        return state::resolve(client, bucket, suite, release, concurrency).await;
    }
    let all = state::releases(client, bucket, suite).await?;
    for chunk in all.rchunks(concurrency.max(1)) {
        let flags = state::sealed(client, bucket, suite, chunk, concurrency).await?;
        for (name, _) in chunk.iter().zip(flags).rev().filter(|(_, sealed)| *sealed) {
            let candidate = ReleaseRef::listed(suite, name);
            match fetch_required(client, bucket, &candidate, keys).await {
                Ok(_) => {
                    info!(
                        "--release latest is {name}, the highest sealed release of {suite} signed by a trusted key"
                    );
                    return Ok(name.clone());
                }
                Err(Error::Integrity(why)) => {
                    let why = why.strip_suffix(signature::REFUSED).unwrap_or(&why);
                    warn!("--release latest: skipping {name}: {why}");
                }
                Err(e) => return Err(e),
            }
        }
    }
    Err(Error::Integrity(format!(
        "--release latest: no sealed release of {suite} in s3://{bucket} is signed by a trusted key ({}); nothing was written",
        signature::ids(keys)
    )))
}
