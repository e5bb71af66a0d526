//! The files of a release as the store lists them: one listing loop and one filter, for every
//! command that asks (download `--all`, seal, verify, list, promote `--allow-open`).
//!
//! A file is an object directly at the release's level (`suite/release/NAME`) whose name can
//! be a key part. The manifest is not a file (its presence is reported as `sealed`); directory
//! markers and deeper keys are not files; a name that cannot be a key part (`..`, a control
//! character) is skipped with a warning naming it, escaped, since anyone who can write to the
//! bucket chooses it.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::Object;
use tracing::warn;

use crate::error::Error;
use crate::escape::escape;
use crate::key::{MANIFEST_NAME, MANIFEST_SIGNATURE_NAME, ReleaseRef, listed_name_problem};
use crate::listing::Lister;
use crate::release::state::ManifestCell;

/// One file of a release, as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub object: Object,
}

impl Listed {
    /// The listed size, when the store gave one.
    pub fn size(&self) -> Option<u64> {
        self.object.size().and_then(|s| u64::try_from(s).ok())
    }
}

/// The files of a release, page by page (up to 1,000 entries each), for those that act as the
/// listing goes.
pub struct Pages {
    lister: Lister,
    bucket: String,
    release: ReleaseRef,
    sealed: bool,
}

impl Pages {
    pub fn new(client: &Client, bucket: &str, release: &ReleaseRef) -> Self {
        Self {
            lister: Lister::new(client, bucket, release.prefix()),
            bucket: bucket.to_owned(),
            release: release.clone(),
            sealed: false,
        }
    }

    /// The next page's files, or `None` when the listing is complete.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Listed>>, Error> {
        let Some(page) = self.lister.next_page().await? else {
            return Ok(None);
        };
        let mut files = Vec::with_capacity(page.objects.len());
        for object in page.objects {
            let Some(key) = object.key() else { continue };
            match what_is(&self.release, key) {
                Kind::Manifest => self.sealed = true,
                Kind::NotAFile => {}
                Kind::Refused(problem) => {
                    warn!("skipping s3://{}/{}: {problem}", self.bucket, escape(key))
                }
                Kind::File(name) => files.push(Listed {
                    name: name.to_owned(),
                    object,
                }),
            }
        }
        Ok(Some(files))
    }

    /// Whether the manifest was among the pages listed so far.
    pub fn saw_manifest(&self) -> bool {
        self.sealed
    }
}

/// What a listed key is to the release.
#[derive(Debug, PartialEq, Eq)]
enum Kind<'a> {
    File(&'a str),
    Manifest,
    /// Outside the release's level (a directory marker, a deeper key, another prefix).
    NotAFile,
    /// A name that cannot be a key part, and why.
    Refused(String),
}

fn what_is<'a>(release: &ReleaseRef, key: &'a str) -> Kind<'a> {
    let Some(name) = release.name_of(key).filter(|n| !n.is_empty()) else {
        return Kind::NotAFile;
    };
    if name == MANIFEST_NAME {
        return Kind::Manifest;
    }
    // The manifest's signature belongs to the manifest, not to the files.
    if name == MANIFEST_SIGNATURE_NAME {
        return Kind::NotAFile;
    }
    if let Some(problem) = listed_name_problem(name) {
        return Kind::Refused(problem);
    }
    match release.key(name) {
        Ok(_) => Kind::File(name),
        Err(e) => Kind::Refused(e.reason),
    }
}

/// Every file of a release, by name.
#[derive(Debug, Default)]
pub struct ReleaseFiles {
    pub files: BTreeMap<String, Listed>,
    /// The manifest was listed.
    pub sealed: bool,
}

impl ReleaseFiles {
    /// Each file's listed size (0 when the store left it out), by name.
    pub fn sizes(&self) -> BTreeMap<String, u64> {
        self.files
            .iter()
            .map(|(name, f)| (name.clone(), f.size().unwrap_or(0)))
            .collect()
    }
}

/// Lists every file of `release` (all pages).
pub async fn list(
    client: &Client,
    bucket: &str,
    release: &ReleaseRef,
) -> Result<ReleaseFiles, Error> {
    let mut pages = Pages::new(client, bucket, release);
    let mut files = BTreeMap::new();
    while let Some(page) = pages.next_page().await? {
        files.extend(page.into_iter().map(|f| (f.name.clone(), f)));
    }
    Ok(ReleaseFiles {
        files,
        sealed: pages.saw_manifest(),
    })
}

/// The files `download --all` fetches, with their sizes when known: those the manifest lists
/// when the release is sealed (files it does not list are named in a warning, not fetched),
/// else every file of the release. A release with neither is an error (most likely a typo).
pub async fn to_fetch(
    client: &Client,
    bucket: &str,
    release: &ReleaseRef,
    manifest: &ManifestCell,
) -> Result<Vec<(String, Option<u64>)>, Error> {
    let (listed, present) = tokio::join!(manifest.get(), list(client, bucket, release));
    let present = present?;
    let Some(listed) = listed? else {
        if present.files.is_empty() {
            return Err(Error::NotFound(format!(
                "s3://{bucket}/{} holds no files; check --suite and --release (s3blob list --suite {} shows the releases)",
                release.prefix(),
                release.suite()
            )));
        }
        return Ok(present
            .files
            .values()
            .map(|f| (f.name.clone(), f.size()))
            .collect());
    };
    // Every object gone and the manifest left: each file will be reported missing.
    for name in present
        .files
        .keys()
        .filter(|n| !listed.files.contains_key(*n))
    {
        warn!(
            "s3://{bucket}/{}{} is in the release but not in its manifest (added after sealing); not downloaded",
            release.prefix(),
            escape(name)
        );
    }
    Ok(listed
        .files
        .iter()
        .map(|(name, e)| (name.clone(), Some(e.size)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_at_the_release_level_count() {
        let r = ReleaseRef::new("s", "1").unwrap();
        assert_eq!(what_is(&r, "s/1/a.tar.gz"), Kind::File("a.tar.gz"));
        assert_eq!(what_is(&r, "s/1/.s3blob-manifest.json"), Kind::Manifest);
        assert_eq!(
            what_is(&r, "s/1/.s3blob-manifest.json.minisig"),
            Kind::NotAFile
        );
        assert_eq!(what_is(&r, "s/1/"), Kind::NotAFile);
        assert_eq!(what_is(&r, "s/1/sub/a"), Kind::NotAFile);
        assert_eq!(what_is(&r, "other/1/a"), Kind::NotAFile);
        assert!(matches!(what_is(&r, "s/1/bad\u{1b}name"), Kind::Refused(_)));
        assert!(matches!(what_is(&r, "s/1/.."), Kind::Refused(_)));
        let long = format!("s/1/{}", "x".repeat(1100));
        assert!(matches!(what_is(&r, &long), Kind::Refused(_)));
    }
}
