//! `uploads list` and `uploads abort`'s result: one line per unfinished upload (key, upload id,
//! when it started, its age), or per upload aborted (or, with `--dry-run`, that would be).

use std::time::Duration;

use serde_json::{Value, json};

use super::{Failure, Report};
use crate::error::Error;
use crate::listing::Unfinished;

/// An unfinished upload and how old it is (`None`: the store did not say when it started).
#[derive(Debug, Clone)]
pub struct Listed {
    pub upload: Unfinished,
    pub age: Option<Duration>,
}

pub struct UploadsReport {
    bucket: String,
    prefix: String,
    /// `None` for `list`; for `abort`, whether it is a dry run.
    abort: Option<bool>,
    listed: Vec<Listed>,
    aborted: Vec<Listed>,
    failures: Vec<Failure>,
}

impl UploadsReport {
    pub fn new(bucket: String, prefix: String, abort: Option<bool>) -> Self {
        Self {
            bucket,
            prefix,
            abort,
            listed: Vec::new(),
            aborted: Vec::new(),
            failures: Vec::new(),
        }
    }

    pub fn listed(&mut self, l: Listed) {
        self.listed.push(l);
    }

    /// The outcome of aborting `l` (`Ok(false)`: it was gone already).
    pub fn aborted(&mut self, l: Listed, result: Result<bool, Error>) {
        match result {
            Ok(_) => self.aborted.push(l),
            Err(error) => self.failures.push(Failure {
                file: l.upload.key,
                error,
            }),
        }
    }

    fn line(&self, l: &Listed) -> String {
        format!(
            "s3://{}/{}  {}  {}  {}",
            self.bucket,
            l.upload.key,
            l.upload.upload_id,
            started(l),
            age(l)
        )
    }
}

fn started(l: &Listed) -> String {
    l.upload
        .initiated
        .as_ref()
        .and_then(crate::inspect::rfc3339)
        .unwrap_or_else(|| "-".to_owned())
}

fn age(l: &Listed) -> String {
    l.age
        .map_or_else(|| "-".to_owned(), crate::values::human_duration)
}

fn entry(l: &Listed) -> Value {
    json!({
        "key": l.upload.key,
        "upload_id": l.upload.upload_id,
        "initiated": l.upload.initiated.as_ref().and_then(crate::inspect::rfc3339),
        "age_seconds": l.age.map(|a| a.as_secs()),
    })
}

impl Report for UploadsReport {
    fn text(&self) -> String {
        let mut lines: Vec<String> = Vec::new();
        match self.abort {
            None => lines.extend(self.listed.iter().map(|l| self.line(l))),
            Some(true) => {
                lines.extend(
                    self.listed
                        .iter()
                        .map(|l| format!("would abort {}", self.line(l))),
                );
            }
            Some(false) => lines.extend(
                self.aborted
                    .iter()
                    .map(|l| format!("aborted {}", self.line(l))),
            ),
        }
        lines.join("\n")
    }

    fn json(&self) -> Value {
        let command = if self.abort.is_some() {
            "uploads abort"
        } else {
            "uploads list"
        };
        let mut v = json!({
            "command": command,
            "bucket": self.bucket,
            "prefix": self.prefix,
        });
        match self.abort {
            None => v["uploads"] = self.listed.iter().map(entry).collect(),
            Some(true) => {
                v["dry_run"] = json!(true);
                v["would_abort"] = self.listed.iter().map(entry).collect();
            }
            Some(false) => {
                v["dry_run"] = json!(false);
                v["aborted"] = self.aborted.iter().map(entry).collect();
                v["failed"] = self
                    .failures
                    .iter()
                    .map(|f| {
                        json!({
                            "key": f.file,
                            "error": f.error.to_string(),
                            "exit_code": f.error.exit_code(),
                        })
                    })
                    .collect();
            }
        }
        v
    }

    fn summary(&self) -> String {
        let under = format!("s3://{}/{}", self.bucket, self.prefix);
        match self.abort {
            None => format!("{} unfinished upload(s) under {under}", self.listed.len()),
            Some(true) => format!("would abort {} upload(s) under {under}", self.listed.len()),
            Some(false) => format!(
                "aborted {} upload(s) under {under}{}",
                self.aborted.len(),
                super::failed_suffix(self.failures.len())
            ),
        }
    }

    fn exit_code(&self) -> u8 {
        super::worst_exit_code(&self.failures)
    }

    fn failures(&self) -> Vec<&Failure> {
        self.failures.iter().collect()
    }
}
