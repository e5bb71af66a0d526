//! `delete`'s result: the URI of what was removed.

use serde_json::{Value, json};

use super::{Report, object_json};
use crate::key::ObjectKey;

pub struct DeleteReport {
    pub bucket: String,
    pub key: ObjectKey,
}

impl Report for DeleteReport {
    fn text(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    fn json(&self) -> Value {
        object_json("delete", &self.bucket, &self.key, json!({}))
    }

    fn summary(&self) -> String {
        format!("deleted s3://{}/{}", self.bucket, self.key)
    }
}
