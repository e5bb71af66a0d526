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
use crate::inspect::ObjectInfo;
use crate::key::{ObjectKey, ReleaseRef};
use crate::manifest::Manifest;
use crate::s3::{classify, status};
use crate::signature::{self, KeyId, SigningKey, TrustedKey, Verdict};
use crate::transfer::TransferSettings;
use crate::transfer::budget::Budget;

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

/// The release `asked` names: itself, or for `latest` the highest sealed release of its suite
/// signed by one of the trusted `keys` (looked for from the top; each sealed release passed
/// over is named in one warning saying why). Without keys this is [`state::resolve`].
pub async fn resolve(
    client: &Client,
    bucket: &str,
    asked: &ReleaseRef,
    concurrency: usize,
    keys: &[TrustedKey],
) -> Result<ReleaseRef, Error> {
    let suite = asked.suite();
    if keys.is_empty() || asked.release() != super::LATEST {
        let release = state::resolve(client, bucket, suite, asked.release(), concurrency).await?;
        // A listed name `latest` stood for is checked like a typed one.
        return Ok(ReleaseRef::new(suite, &release)?);
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
                    return Ok(candidate);
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

/// Whether each of `releases` (of `suite`) is sealed and what its signature is worth to a
/// reader holding `keys`, for `list --suite`; `concurrency` releases at a time. An open
/// release is `(false, Unsigned)`. Each release costs a HEAD of its manifest and a GET of its
/// signature (a few hundred bytes); the manifest itself, which may be megabytes, is read only
/// to verify a signature by one of `keys`. Without keys the verdict is the signature's
/// [`signature::glance`]: the signer's id and the release its comment names.
pub async fn overview(
    client: &Client,
    bucket: &str,
    suite: &str,
    releases: &[String],
    concurrency: usize,
    keys: &[TrustedKey],
) -> Result<Vec<(bool, Verdict)>, Error> {
    crate::tasks::each(releases, concurrency, |release| {
        let (client, bucket, suite) = (client.clone(), bucket.to_owned(), suite.to_owned());
        let keys = keys.to_vec();
        let release = ReleaseRef::listed(&suite, release);
        async move {
            let names = [release.release().to_owned()];
            let sig_key = release.signature_key();
            let (sealed, sig) = tokio::join!(
                state::sealed(&client, &bucket, &suite, &names, 1),
                get(&client, &bucket, &sig_key)
            );
            if !sealed?.first().copied().unwrap_or(false) {
                return Ok((false, Verdict::Unsigned));
            }
            let Some((bytes, _)) = sig? else {
                return Ok((true, Verdict::Unsigned));
            };
            let verdict = match signature::glance(&bytes, &suite, release.release()) {
                Verdict::Unchecked(id) if keys.iter().any(|k| k.id() == id) => {
                    match fetch(&client, &bucket, &release, &keys).await {
                        Ok(checked) => checked.verdict,
                        Err(Error::Integrity(_)) => Verdict::Invalid {
                            key: Some(id),
                            why: "its manifest fails its own check (damaged or altered)".to_owned(),
                        },
                        Err(e) => return Err(e),
                    }
                }
                Verdict::Unchecked(id) if !keys.is_empty() => Verdict::NotTrusted(id),
                other => other,
            };
            Ok((true, verdict))
        }
    })
    .await
}

/// How one stored object stands against the manifest of its release (`stat`, `presign`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The release is not sealed: there is no manifest to compare with.
    NotSealed,
    /// Listed, and the object's size and stored CRC64NVME are the listed ones.
    Matches,
    /// Listed, but the object's size or stored checksum is not the listed one.
    Differs(String),
    /// Listed with this size, but the object carries no checksum to compare (only reading it,
    /// as `download` and `verify --deep` do, can tell).
    Unchecked,
    /// In the release but not in its manifest (put there after sealing).
    NotListed,
    /// The release's manifest fails its own check, so nothing can be compared.
    Damaged,
}

impl Standing {
    /// `matches`, `differs`, ... (JSON).
    pub fn status(&self) -> &'static str {
        match self {
            Standing::NotSealed => "not sealed",
            Standing::Matches => "matches",
            Standing::Differs(_) => "differs",
            Standing::Unchecked => "unchecked",
            Standing::NotListed => "not listed",
            Standing::Damaged => "damaged",
        }
    }

    /// One phrase for people.
    pub fn describe(&self) -> String {
        match self {
            Standing::NotSealed => "none (the release is not sealed)".to_owned(),
            Standing::Matches => "matches (size and stored CRC64NVME as listed)".to_owned(),
            Standing::Differs(why) => format!("differs: {why}"),
            Standing::Unchecked => {
                "listed, but the object has no stored checksum to compare (download checks its bytes)"
                    .to_owned()
            }
            Standing::NotListed => "not listed (put in the release after sealing)".to_owned(),
            Standing::Damaged => {
                "the release's manifest fails its own check (damaged or altered; verify says more)"
                    .to_owned()
            }
        }
    }
}

/// Compares a stored object (`size`, its stored CRC64NVME if any) with the entry for
/// `filename` in `manifest` (pure).
pub fn standing(
    manifest: Option<&Manifest>,
    filename: &str,
    size: u64,
    crc64: Option<u64>,
) -> Standing {
    let Some(manifest) = manifest else {
        return Standing::NotSealed;
    };
    let Some(entry) = manifest.files.get(filename) else {
        return Standing::NotListed;
    };
    if size != entry.size {
        return Standing::Differs(format!(
            "the object has {size} bytes, the manifest lists {}",
            entry.size
        ));
    }
    match crc64 {
        None => Standing::Unchecked,
        Some(c) if c != entry.crc64 => Standing::Differs(format!(
            "the object's CRC64NVME is {}, the manifest lists {}",
            checksum::to_base64(c),
            checksum::to_base64(entry.crc64)
        )),
        Some(_) => Standing::Matches,
    }
}

/// With trusted `keys`, a link to `filename` may be handed out only when its release is signed
/// by one of them ([`require`], exit 5) and the object is what that signed manifest lists
/// ([`Standing::Matches`], else exit 5): whoever follows a link checks nothing. Without keys
/// anything passes.
fn require_presignable(
    checked: &Checked,
    bucket: &str,
    release: &ReleaseRef,
    filename: &str,
    standing: &Standing,
    keys: &[TrustedKey],
) -> Result<(), Error> {
    const NO_LINK: &str = ". Refused: no link was made";
    if keys.is_empty() {
        return Ok(());
    }
    require(checked, bucket, release, keys).map_err(|e| {
        e.reworded(|m| {
            let m = m.strip_suffix(signature::REFUSED).unwrap_or(m);
            format!("{m}{NO_LINK}")
        })
    })?;
    let uri = format!("s3://{bucket}/{}{filename}", release.prefix());
    let why = match standing {
        Standing::Matches => return Ok(()),
        Standing::Differs(why) => {
            format!("{uri} is not what the signed manifest of its release lists: {why}")
        }
        Standing::Unchecked => {
            format!("{uri} could not be compared with the signed manifest of its release")
        }
        Standing::NotListed => format!(
            "{uri} is not in the signed manifest of its release (put there after sealing), so no signature covers it"
        ),
        Standing::NotSealed => format!("{uri}: its release is not sealed, so not signed"),
        Standing::Damaged => format!("{uri}: the manifest of its release fails its own check"),
    };
    Err(Error::Integrity(format!("{why}{NO_LINK}")))
}

/// What `presign` with trusted `keys` requires before it makes a link to `key` (whose HEAD is
/// `info`): its release signed by one of them, and the object's bytes what that signed
/// manifest lists. The HEAD's size and stored checksum are compared first (cheap, and enough
/// to refuse); then the object is read whole (nothing written) and its size, CRC64NVME and,
/// where listed, SHA-256 compared, since a stored checksum is metadata that whoever can
/// write to the bucket can set. Without keys nothing is read and anything passes.
pub async fn check_presign(
    client: &Client,
    bucket: &str,
    key: &ObjectKey,
    info: &ObjectInfo,
    keys: &[TrustedKey],
    settings: TransferSettings,
) -> Result<(), Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let release = ReleaseRef::listed(key.suite(), key.release());
    let checked = fetch(client, bucket, &release, keys).await?;
    let mut standing = standing(
        checked.manifest.as_ref(),
        key.filename(),
        info.size,
        info.checksum.map(|(crc, _)| crc),
    );
    let trusted = matches!(checked.verdict, Verdict::Trusted(_));
    if let (true, Some(manifest), Standing::Matches | Standing::Unchecked) =
        (trusted, &checked.manifest, &standing)
    {
        standing = read_against(client, bucket, key, manifest, settings).await?;
    }
    require_presignable(&checked, bucket, &release, key.filename(), &standing, keys)
}

/// Reads `key` whole through the download engine (nothing written) and compares what arrived
/// with its entry in `manifest`.
async fn read_against(
    client: &Client,
    bucket: &str,
    key: &ObjectKey,
    manifest: &Manifest,
    settings: TransferSettings,
) -> Result<Standing, Error> {
    let Some(entry) = manifest.files.get(key.filename()) else {
        return Ok(Standing::NotListed);
    };
    let budget = Budget::for_settings(&settings);
    let (got, sha256) = match super::read::read_whole(client, bucket, key, settings, &budget).await
    {
        Ok(read) => read,
        // The bytes do not match the object's own stored checksum: not what was sealed.
        Err(Error::Integrity(why)) => return Ok(Standing::Differs(why)),
        Err(e) => return Err(e),
    };
    let listed = standing(Some(manifest), key.filename(), got.size, Some(got.crc64));
    Ok(match (listed, &entry.sha256) {
        (Standing::Matches, Some(want)) if !want.eq_ignore_ascii_case(&sha256) => {
            Standing::Differs(format!(
                "its bytes' SHA-256 is {sha256}, the manifest lists {want}"
            ))
        }
        (Standing::Differs(why), _) => Standing::Differs(format!("its bytes differ: {why}")),
        (other, _) => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Entry;

    #[test]
    fn an_object_stands_against_its_manifest_entry() {
        let mut files = std::collections::BTreeMap::new();
        files.insert(
            "a".to_owned(),
            Entry {
                size: 3,
                crc64: 7,
                content_type: None,
                sha256: None,
            },
        );
        let m = Manifest {
            suite: "s".into(),
            release: "1".into(),
            sealed_at: String::new(),
            sealed_by: String::new(),
            seal_id: "x".into(),
            files,
            promoted_from: None,
        };
        assert_eq!(standing(None, "a", 3, Some(7)), Standing::NotSealed);
        assert_eq!(standing(Some(&m), "a", 3, Some(7)), Standing::Matches);
        assert_eq!(standing(Some(&m), "a", 3, None), Standing::Unchecked);
        assert_eq!(standing(Some(&m), "b", 3, Some(7)), Standing::NotListed);
        for (size, crc) in [(4, Some(7)), (3, Some(8)), (4, None)] {
            assert_eq!(
                standing(Some(&m), "a", size, crc).status(),
                "differs",
                "{size} {crc:?}"
            );
        }
    }
}
