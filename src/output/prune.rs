//! `prune`'s result: one line per release removed (or, with `--dry-run`, that would be), and in
//! JSON also the releases kept and why.

use serde_json::{Value, json};

use super::delete::{release_failures, removed_json, removed_line};
use super::{Failure, Report};
use crate::error::Error;
use crate::release::remove::{Contents, Removed};

/// Whether a release goes, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Keep(String),
    Remove,
}

pub struct PruneReport {
    bucket: String,
    suite: String,
    dry_run: bool,
    removed: Vec<Removed>,
    would_remove: Vec<Contents>,
    kept: Vec<(String, String)>,
    failures: Vec<Failure>,
}

impl PruneReport {
    pub fn new(bucket: String, suite: String, dry_run: bool) -> Self {
        Self {
            bucket,
            suite,
            dry_run,
            removed: Vec::new(),
            would_remove: Vec::new(),
            kept: Vec::new(),
            failures: Vec::new(),
        }
    }

    pub fn kept(&mut self, release: String, why: String) {
        self.kept.push((release, why));
    }

    pub fn would_remove(&mut self, contents: Contents) {
        self.would_remove.push(contents);
    }

    pub fn removed(&mut self, contents: Contents, result: Result<Removed, Error>) {
        match result {
            Ok(removed) => {
                // Left open by the failure, the release is as young as its newest object:
                // within --open-grace, prune run again keeps it.
                self.failures
                    .extend(release_failures(&removed).into_iter().map(|f| Failure {
                        error: f.error.reworded(|m| {
                            format!(
                                "{m} (while it is younger than --open-grace, add --open-grace 0s, or delete --all it)"
                            )
                        }),
                        ..f
                    }));
                self.removed.push(removed);
            }
            Err(error) => self.failures.push(Failure {
                file: format!("{}/{}", contents.suite, contents.release),
                error,
            }),
        }
    }
}

impl Report for PruneReport {
    fn text(&self) -> String {
        let mut lines: Vec<String> = self
            .removed
            .iter()
            .map(|r| removed_line(&self.bucket, r))
            .collect();
        lines.extend(self.would_remove.iter().map(|c| {
            format!(
                "would remove s3://{}/{}/{}/ ({}, {} object(s))",
                self.bucket,
                c.suite,
                c.release,
                if c.sealed { "sealed" } else { "open" },
                c.keys.len()
            )
        }));
        lines.join("\n")
    }

    fn json(&self) -> Value {
        json!({
            "command": "prune",
            "bucket": self.bucket,
            "suite": self.suite,
            "dry_run": self.dry_run,
            "removed": self.removed.iter().map(removed_json).collect::<Vec<_>>(),
            "would_remove": self.would_remove.iter().map(|c| json!({
                "suite": c.suite,
                "release": c.release,
                "sealed": c.sealed,
                "objects": c.keys.len(),
            })).collect::<Vec<_>>(),
            "kept": self.kept.iter().map(|(release, why)| json!({
                "release": release,
                "why": why,
            })).collect::<Vec<_>>(),
            "failed": self.failures.iter().map(|f| json!({
                "release": f.file,
                "error": f.error.to_string(),
                "exit_code": f.error.exit_code(),
            })).collect::<Vec<_>>(),
        })
    }

    fn summary(&self) -> String {
        let kept = self.kept.len();
        if self.dry_run {
            format!(
                "would remove {} release(s) of {}, keep {kept}",
                self.would_remove.len(),
                self.suite
            )
        } else {
            format!(
                "removed {} release(s) of {}, kept {kept}{}",
                self.removed.len(),
                self.suite,
                super::failed_suffix(self.failures.len())
            )
        }
    }

    fn exit_code(&self) -> u8 {
        super::worst_exit_code(&self.failures)
    }

    fn failures(&self) -> Vec<&Failure> {
        self.failures.iter().collect()
    }
}
