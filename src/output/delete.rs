//! `delete`'s result: the URI of what was removed; for `delete --all`, the release, how many
//! objects went, and what could not.

use serde_json::{Value, json};

use super::{Failure, Report, object_json};
use crate::key::ObjectKey;
use crate::release::remove::Removed;

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

/// `delete --all`: the release removed, and the keys that could not be.
pub struct ReleaseRemoved {
    pub bucket: String,
    pub removed: Removed,
    failures: Vec<Failure>,
}

impl ReleaseRemoved {
    pub fn new(bucket: String, removed: Removed) -> Self {
        let failures = release_failures(&removed);
        Self {
            bucket,
            removed,
            failures,
        }
    }
}

/// One failure per release whose objects could not all be deleted, naming how many.
pub(crate) fn release_failures(removed: &Removed) -> Vec<Failure> {
    match &removed.error {
        Some(error) if !removed.failed.is_empty() => vec![Failure {
            file: format!("{}/{}", removed.suite, removed.release),
            error: error.clone().reworded(|m| {
                format!(
                    "{m} ({} object(s) of the release left; the manifest is gone, so it is open: run the command again)",
                    removed.failed.len()
                )
            }),
        }],
        _ => Vec::new(),
    }
}

/// `s3://B/S/R/ (sealed, 12 objects)`.
pub(crate) fn removed_line(bucket: &str, r: &Removed) -> String {
    format!(
        "s3://{bucket}/{}/{}/ ({}, {} object(s) deleted{})",
        r.suite,
        r.release,
        if r.sealed { "sealed" } else { "open" },
        r.objects,
        if r.failed.is_empty() {
            String::new()
        } else {
            format!(", {} left", r.failed.len())
        }
    )
}

pub(crate) fn removed_json(r: &Removed) -> Value {
    json!({
        "suite": r.suite,
        "release": r.release,
        "sealed": r.sealed,
        "deleted_objects": r.objects,
        "failed_keys": r.failed,
    })
}

impl Report for ReleaseRemoved {
    fn text(&self) -> String {
        removed_line(&self.bucket, &self.removed)
    }

    fn json(&self) -> Value {
        let mut v = removed_json(&self.removed);
        v["command"] = json!("delete");
        v["bucket"] = json!(self.bucket);
        v
    }

    fn summary(&self) -> String {
        format!("deleted {}", removed_line(&self.bucket, &self.removed))
    }

    fn exit_code(&self) -> u8 {
        self.failures
            .first()
            .map_or(crate::error::code::OK, |f| f.error.exit_code())
    }

    fn failures(&self) -> Vec<&Failure> {
        self.failures.iter().collect()
    }
}
