//! Walking the `suite/release/filename` hierarchy with ListObjectsV2: one level at a time
//! (prefix + `/` delimiter), page by page, following continuation tokens.
//!
//! Keys are asked for URL-encoded (`encoding-type=url`) and decoded here: a key may hold
//! characters XML 1.0 cannot carry (an escape character, for one), and one such key would
//! otherwise make the whole listing unparseable. Directory markers (`suite/release/`, which
//! consoles create for "folders") are not files and are left out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{EncodingType, Object};
use tracing::debug;

use crate::error::Error;
use crate::s3::classify;

/// One page of a listing: the child "folders" (common prefixes, without the parent prefix and
/// trailing `/`) and the objects directly at this level.
#[derive(Debug, Default)]
pub struct Page {
    pub children: Vec<String>,
    pub objects: Vec<Object>,
}

/// A listing of one level under `prefix`, fetched a page (up to 1,000 entries) at a time.
pub struct Lister {
    client: Client,
    bucket: String,
    prefix: String,
    token: Option<String>,
    done: bool,
    /// Every key under the prefix, at every level, directory markers included.
    deep: bool,
}

impl Lister {
    /// `prefix` is `""` for the bucket's top level, else ends with `/`.
    pub fn new(client: &Client, bucket: &str, prefix: String) -> Self {
        Self {
            client: client.clone(),
            bucket: bucket.to_owned(),
            prefix,
            token: None,
            done: false,
            deep: false,
        }
    }

    /// Every key under `prefix` (no delimiter, so no children), directory markers included:
    /// what removing everything under a prefix must see.
    pub fn every_level(client: &Client, bucket: &str, prefix: String) -> Self {
        Self {
            deep: true,
            ..Self::new(client, bucket, prefix)
        }
    }

    /// The next page, or `None` when the listing is complete.
    pub async fn next_page(&mut self) -> Result<Option<Page>, Error> {
        if self.done {
            return Ok(None);
        }
        debug!(prefix = %self.prefix, token = ?self.token, "ListObjectsV2");
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .set_delimiter((!self.deep).then(|| "/".to_owned()))
            .encoding_type(EncodingType::Url)
            .set_continuation_token(self.token.take())
            .send()
            .await
            .map_err(|e| classify(&e, "list", &self.bucket, Some(&self.prefix)))?;
        // A server that does not encode says so by not echoing the encoding type.
        let encoded = out.encoding_type() == Some(&EncodingType::Url);
        let decode = |raw: &str| -> Result<String, Error> {
            if !encoded {
                return Ok(raw.to_owned());
            }
            url_decode(raw).ok_or_else(|| {
                Error::Other(format!(
                    "cannot list s3://{}/{}: the server sent the key {:?}, which is not valid URL encoding (asked for with encoding-type=url); report it to the store's operator",
                    self.bucket,
                    self.prefix,
                    crate::escape::escape(raw)
                ))
            })
        };
        match (out.is_truncated(), out.next_continuation_token()) {
            (Some(true), Some(token)) => self.token = Some(token.to_owned()),
            (Some(true), None) => {
                return Err(Error::Other(format!(
                    "cannot list s3://{}/{}: the server said the listing continues but gave no continuation token",
                    self.bucket, self.prefix
                )));
            }
            _ => self.done = true,
        }
        let mut children = Vec::new();
        for raw in out.common_prefixes().iter().filter_map(|p| p.prefix()) {
            let prefix = decode(raw)?;
            if let Some(name) = prefix
                .strip_prefix(self.prefix.as_str())
                .and_then(|p| p.strip_suffix('/'))
                .filter(|name| !name.is_empty())
            {
                children.push(name.to_owned());
            }
        }
        let mut objects = Vec::new();
        for mut object in out.contents.unwrap_or_default() {
            if let Some(raw) = object.key.take() {
                let key = decode(&raw)?;
                if key.ends_with('/') && !self.deep {
                    debug!(key = %crate::escape::escape(&key), "skipping a directory marker");
                    continue;
                }
                object.key = Some(key);
            }
            objects.push(object);
        }
        Ok(Some(Page { children, objects }))
    }
}

/// An unfinished multipart upload, as ListMultipartUploads shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub key: String,
    pub upload_id: String,
    /// When it was created; `None` if the store did not say.
    pub initiated: Option<aws_smithy_types::DateTime>,
}

/// Every unfinished multipart upload whose key starts with `prefix`, across all pages
/// (ListMultipartUploads), in the store's order (by key). A store without the operation
/// answers with the error `classify` gives it (naming ListMultipartUploads).
pub async fn unfinished_uploads(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<Unfinished>, Error> {
    let mut out = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        debug!(%prefix, ?key_marker, "ListMultipartUploads");
        let page = client
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .encoding_type(EncodingType::Url)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(id_marker.take())
            .send()
            .await
            .map_err(|e| {
                classify(
                    &e,
                    "list the unfinished uploads under",
                    bucket,
                    Some(prefix),
                )
            })?;
        let encoded = page.encoding_type() == Some(&EncodingType::Url);
        for up in page.uploads() {
            let (Some(raw), Some(id)) = (up.key(), up.upload_id()) else {
                continue;
            };
            let key = if encoded {
                url_decode(raw).unwrap_or_else(|| raw.to_owned())
            } else {
                raw.to_owned()
            };
            out.push(Unfinished {
                key,
                upload_id: id.to_owned(),
                initiated: up.initiated().copied(),
            });
        }
        match (
            page.is_truncated(),
            page.next_key_marker(),
            page.next_upload_id_marker(),
        ) {
            (Some(true), Some(k), id) if !k.is_empty() => {
                key_marker = Some(if encoded {
                    url_decode(k).unwrap_or_else(|| k.to_owned())
                } else {
                    k.to_owned()
                });
                id_marker = id.map(str::to_owned);
            }
            (Some(true), _, _) => {
                return Err(Error::Other(format!(
                    "cannot list the unfinished uploads under s3://{bucket}/{prefix}: the server said the listing continues but gave no marker"
                )));
            }
            _ => return Ok(out),
        }
    }
}

/// A key as ListObjectsV2 sends it with `encoding-type=url`: percent-encoded UTF-8, with `+`
/// for a space (as S3 writes it). `None` for a malformed escape or bytes that are not UTF-8.
pub fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Every child name one level under `prefix`, across all pages.
pub async fn children(client: &Client, bucket: &str, prefix: String) -> Result<Vec<String>, Error> {
    let mut lister = Lister::new(client, bucket, prefix);
    let mut all = Vec::new();
    while let Some(page) = lister.next_page().await? {
        all.extend(page.children);
    }
    Ok(all)
}

/// What one listing of a prefix found, learned page by page while the listing runs in the
/// background: a key is decided (present, with its size, or absent) as soon as the listing
/// has passed it in key order (S3 lists in UTF-8 binary order), so work on the first keys
/// starts after the first page. A batch upload asks this instead of sending a HEAD per file.
#[derive(Clone)]
pub struct Inventory(Arc<Handle>);

/// The inventory's owner: dropping the last clone stops the listing.
struct Handle {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    state: Mutex<Seen>,
    /// Bumped on every page; lookups wait on it.
    changed: tokio::sync::watch::Sender<u64>,
}

/// An object as the listing showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub size: u64,
    pub etag: Option<String>,
}

#[derive(Default)]
struct Seen {
    objects: HashMap<String, Listed>,
    /// The greatest key (or common prefix) listed so far: every key up to it is decided.
    watermark: Option<String>,
    done: bool,
    failed: Option<Error>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Inventory {
    /// Starts listing `prefix` (its own level, `/` as delimiter) in the background.
    pub fn start(client: &Client, bucket: &str, prefix: &str) -> Self {
        let (changed, _) = tokio::sync::watch::channel(0u64);
        // The task shares the state, complete before it starts: however soon the listing
        // answers, there is someone to tell.
        let shared = Arc::new(Shared {
            state: Mutex::new(Seen::default()),
            changed,
        });
        let mut lister = Lister::new(client, bucket, prefix.to_owned());
        let task = tokio::spawn(tracing::Instrument::in_current_span({
            let shared = shared.clone();
            async move {
                loop {
                    let page = lister.next_page().await;
                    let mut seen = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
                    match page {
                        Ok(Some(page)) => seen.record(&page, &lister.prefix),
                        Ok(None) => seen.done = true,
                        Err(e) => seen.failed = Some(e),
                    }
                    let finished = seen.done || seen.failed.is_some();
                    drop(seen);
                    shared.changed.send_modify(|n| *n += 1);
                    if finished {
                        return;
                    }
                }
            }
        }));
        Self(Arc::new(Handle { shared, task }))
    }

    /// The object at `key` (its size and ETag), or `None` if the listing found none; waits
    /// until the listing has got that far. A failed listing fails every lookup not yet decided.
    pub async fn lookup(&self, key: &str) -> Result<Option<Listed>, Error> {
        let shared = &self.0.shared;
        let mut changes = shared.changed.subscribe();
        loop {
            {
                let seen = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(listed) = seen.objects.get(key) {
                    return Ok(Some(listed.clone()));
                }
                let passed = seen.watermark.as_deref().is_some_and(|w| key <= w);
                if seen.done || passed {
                    return Ok(None);
                }
                if let Some(e) = &seen.failed {
                    return Err(e.clone());
                }
            }
            if changes.changed().await.is_err() {
                return Err(Error::Other("the listing stopped".to_owned()));
            }
        }
    }
}

impl Seen {
    /// Takes in one page of the listing of `prefix`.
    fn record(&mut self, page: &Page, prefix: &str) {
        for o in &page.objects {
            let (Some(key), size) = (o.key(), o.size()) else {
                continue;
            };
            let size = size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
            let etag = o.e_tag().map(str::to_owned);
            self.objects.insert(key.to_owned(), Listed { size, etag });
        }
        let last = page
            .objects
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .chain(page.children.iter().map(|c| format!("{prefix}{c}/")))
            .max();
        if let Some(last) = last
            && self.watermark.as_ref().is_none_or(|w| last > *w)
        {
            self.watermark = Some(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_decoded() {
        let cases = [
            ("plain/key.tar.gz", Some("plain/key.tar.gz")),
            ("a+b%2Bc", Some("a b+c")),
            ("s/1/%1B%5B31mred", Some("s/1/\u{1b}[31mred")),
            ("s/1/line%0Abreak", Some("s/1/line\nbreak")),
            ("evil%E2%80%AEgpj.exe", Some("evil\u{202e}gpj.exe")),
            ("%c3%a9t%C3%A9", Some("été")),
            ("", Some("")),
            ("bad%", None),
            ("bad%4", None),
            ("bad%zz", None),
            ("bad%+1", None),
            ("not-utf8-%FF", None),
        ];
        for (raw, want) in cases {
            assert_eq!(url_decode(raw).as_deref(), want, "{raw:?}");
        }
    }
}
