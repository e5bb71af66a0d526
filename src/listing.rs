//! Walking the `suite/release/filename` hierarchy with ListObjectsV2: one level at a time
//! (prefix + `/` delimiter), page by page, following continuation tokens.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::Object;
use tracing::debug;

use crate::error::Error;
use crate::release;
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
            .delimiter("/")
            .set_continuation_token(self.token.take())
            .send()
            .await
            .map_err(|e| classify(&e, "list", &self.bucket, Some(&self.prefix)))?;
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
        let children = out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .filter_map(|p| p.strip_prefix(self.prefix.as_str()))
            .filter_map(|p| p.strip_suffix('/'))
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Some(Page {
            children,
            objects: out.contents.unwrap_or_default(),
        }))
    }
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

/// The releases of `suite`, lowest to highest by [`release::compare`].
pub async fn releases(client: &Client, bucket: &str, suite: &str) -> Result<Vec<String>, Error> {
    let mut all = children(client, bucket, format!("{suite}/")).await?;
    all.sort_by(|a, b| release::compare(a, b));
    Ok(all)
}
