//! `presign`'s result: the URL.

use serde_json::{Value, json};

use super::{Report, object_json};
use crate::key::ObjectKey;

pub struct PresignReport {
    pub bucket: String,
    pub key: ObjectKey,
    pub url: String,
    pub expires_in: u64,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

impl Report for PresignReport {
    fn text(&self) -> String {
        self.url.clone()
    }

    fn json(&self) -> Value {
        object_json(
            "presign",
            &self.bucket,
            &self.key,
            json!({ "url": self.url, "expires_in": self.expires_in, "expires_at": self.expires_at }),
        )
    }

    fn summary(&self) -> String {
        format!(
            "presigned s3://{}/{}, valid until {}",
            self.bucket, self.key, self.expires_at
        )
    }
}
