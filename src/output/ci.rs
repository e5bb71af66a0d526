//! What a CI system shows besides the log, for the commands that publish or fetch a release.
//!
//! - GitHub Actions (`GITHUB_ACTIONS=true`): an error is also an `::error` annotation (one per
//!   failed file of a batch), a warning also a `::warning` one (the logger writes those), and
//!   the result is appended to the job summary (`$GITHUB_STEP_SUMMARY`) as Markdown.
//! - GitLab CI (`GITLAB_CI=true`): the command's log is one collapsible section, closed before
//!   the result and any error, so they stay in sight.
//! - `--summary-file FILE`, anywhere: the same Markdown appended to FILE (an artifact, a merge
//!   request note).
//!
//! `--ci-output` (or `S3BLOB_CI_OUTPUT`) chooses: `auto` (the default) reads the two
//! variables, `github`/`gitlab` force one, `none` turns it off. What goes out carries names,
//! sizes and checksums, never a secret.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Outcome;
use crate::checksum;
use crate::cli::{Cli, Command};
use crate::environment::Environment;
use crate::error::Error;
use crate::key::ReleaseRef;
use crate::manifest::Manifest;
use crate::values::{CiChoice, human_bytes};

/// The CI system s3blob writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    None,
    Github,
    Gitlab,
}

impl Ci {
    /// `--ci-output`, else `S3BLOB_CI_OUTPUT`, else what the environment says the job runs on.
    pub fn resolve(flag: Option<CiChoice>, env: &Environment) -> Result<Ci, Error> {
        let choice = match flag {
            Some(c) => c,
            None => match env.get("S3BLOB_CI_OUTPUT") {
                Some(v) => crate::values::parse_ci_choice(v).map_err(|why| {
                    Error::Usage(format!("{}: {why}", env.describe("S3BLOB_CI_OUTPUT")))
                })?,
                None => CiChoice::Auto,
            },
        };
        Ok(match choice {
            CiChoice::None => Ci::None,
            CiChoice::Github => Ci::Github,
            CiChoice::Gitlab => Ci::Gitlab,
            CiChoice::Auto if env.get("GITHUB_ACTIONS") == Some("true") => Ci::Github,
            CiChoice::Auto if env.get("GITLAB_CI") == Some("true") => Ci::Gitlab,
            CiChoice::Auto => Ci::None,
        })
    }
}

/// What s3blob writes for the CI system around one command.
pub struct CiOutput {
    pub ci: Ci,
    /// The subcommand's name (`upload`).
    pub command: &'static str,
    /// Whether this command's result goes into a job summary.
    pub summarise: bool,
    /// `--summary-file`.
    pub summary_file: Option<PathBuf>,
    pub started: Instant,
}

impl CiOutput {
    /// For `cli`'s command, run under `ci`.
    pub fn new(ci: Ci, cli: &Cli) -> CiOutput {
        CiOutput {
            ci,
            command: cli.command.name(),
            summarise: summarises(&cli.command),
            summary_file: cli.global.summary_file.clone(),
            started: Instant::now(),
        }
    }

    /// After a command's own error line: its annotation.
    pub fn error(&self, message: &str) {
        if self.ci == Ci::Github {
            eprintln!("{}", error_annotation(self.command, None, message));
        }
    }

    /// After the result and its error lines: an annotation per failed file, and the job
    /// summary (`$GITHUB_STEP_SUMMARY` under GitHub Actions, `--summary-file` anywhere). A
    /// summary that cannot be written is a warning: what the command did stands.
    pub fn finish(&self, report: &Outcome, env: &Environment) {
        if self.ci == Ci::Github {
            for failure in report.failures() {
                let file = Some(failure.file.as_str());
                let message = failure.error.to_string();
                eprintln!("{}", error_annotation(self.command, file, &message));
            }
        }
        if !self.summarise {
            return;
        }
        let github = match (self.ci, env.get("GITHUB_STEP_SUMMARY")) {
            (Ci::Github, Some(path)) => Some(PathBuf::from(path)),
            _ => None,
        };
        let targets: Vec<PathBuf> = github
            .into_iter()
            .chain(self.summary_file.clone())
            .collect();
        if targets.is_empty() {
            return;
        }
        let Some(summary) = report.job_summary() else {
            return;
        };
        let failed: Vec<(String, String)> = report
            .failures()
            .iter()
            .map(|f| (f.file.clone(), f.error.to_string()))
            .collect();
        let markdown =
            summary.markdown(self.command, &failed, self.started.elapsed().as_secs_f64());
        for path in targets {
            if let Err(e) = append(&path, &markdown) {
                tracing::warn!(
                    "cannot write the job summary to {}: {e}",
                    crate::escape::escape(&path.display().to_string())
                );
            }
        }
    }
}

/// The commands whose result a job summary shows: those that publish, fetch a whole release
/// or check one.
fn summarises(command: &Command) -> bool {
    match command {
        Command::Upload(_) | Command::Seal(_) | Command::Promote(_) | Command::Verify(_) => true,
        Command::Download(a) => a.all,
        _ => false,
    }
}

/// The annotation for an error of `command` (`file`: the file of a batch it belongs to).
pub fn error_annotation(command: &str, file: Option<&str>, message: &str) -> String {
    let title = match file {
        Some(file) => format!("s3blob {command}: {file}"),
        None => format!("s3blob {command}"),
    };
    crate::escape::workflow_command("error", &title, message)
}

/// The command's log as one GitLab section: the start line when made, the end line when
/// dropped (whatever way the command ends: a result, an error, a signal).
pub struct Section {
    name: String,
}

impl Section {
    pub fn start(command: &str) -> Section {
        let name = format!("s3blob_{command}_{}", std::process::id());
        eprint!(
            "\u{1b}[0Ksection_start:{}:{name}\r\u{1b}[0Ks3blob {command}\n",
            unix_seconds()
        );
        Section { name }
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        eprint!(
            "\u{1b}[0Ksection_end:{}:{}\r\u{1b}[0K\n",
            unix_seconds(),
            self.name
        );
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One file as a job summary lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryFile {
    pub name: String,
    pub size: u64,
    pub crc64: Option<u64>,
    pub sha256: Option<String>,
    /// A presigned download URL (`--summary-links`).
    pub link: Option<String>,
    /// What this command did with it or found: `sent`, `unchanged`, `copied`, `downloaded`,
    /// `ok`, `missing`, `mismatch`.
    pub state: String,
}

/// A command's result as a job summary shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    pub bucket: String,
    /// `None` when no file got as far as naming one (every file of a batch failed).
    pub release: Option<ReleaseRef>,
    /// Sealed (by this command or before), open, or not known to this command.
    pub sealed: Option<bool>,
    pub files: Vec<SummaryFile>,
    /// When the files' download links stop working (RFC 3339), if there are links.
    pub links_until: Option<String>,
    /// `signed by KEYID` (and what it is worth to this command), for a signed release.
    pub signed: Option<String>,
}

impl JobSummary {
    /// A sealed release: every file its manifest lists, `state` saying what this command did
    /// with each.
    pub fn sealed(bucket: &str, manifest: &Manifest, state: impl Fn(&str) -> String) -> Self {
        JobSummary {
            signed: None,
            bucket: bucket.to_owned(),
            release: Some(ReleaseRef::listed(&manifest.suite, &manifest.release)),
            sealed: Some(true),
            links_until: None,
            files: manifest
                .files
                .iter()
                .map(|(name, entry)| SummaryFile {
                    name: name.clone(),
                    size: entry.size,
                    crc64: Some(entry.crc64),
                    sha256: entry.sha256.clone(),
                    link: None,
                    state: state(name),
                })
                .collect(),
        }
    }

    /// The Markdown section for `command`: a heading with the release, whether it is sealed,
    /// a table of files, totals and time, then the failures (file and reason).
    pub fn markdown(&self, command: &str, failed: &[(String, String)], seconds: f64) -> String {
        let mut md = String::new();
        match &self.release {
            None => {
                let _ = writeln!(md, "### s3blob {command}\n");
            }
            Some(release) => {
                let uri = code(&format!("s3://{}/{}", self.bucket, release.prefix()));
                let _ = writeln!(md, "### s3blob {command}: {uri}\n");
                let sealed = match self.sealed {
                    Some(true) => "sealed: complete and immutable",
                    Some(false) => "not sealed",
                    None => "not sealed by this command",
                };
                let _ = writeln!(md, "Release {uri}, {sealed}.\n");
                if let Some(signed) = &self.signed {
                    let _ = writeln!(md, "Signed: {signed}.\n");
                }
            }
        }
        let sha = self.files.iter().any(|f| f.sha256.is_some());
        let links = self.files.iter().any(|f| f.link.is_some());
        if !self.files.is_empty() {
            md.push_str("| File | Size | CRC64NVME |");
            let mut rule = String::from("|---|---:|---|");
            if sha {
                md.push_str(" SHA-256 |");
                rule.push_str("---|");
            }
            if links {
                md.push_str(" Link |");
                rule.push_str("---|");
            }
            let _ = writeln!(md, " |\n{rule}---|");
            for f in &self.files {
                let crc = f
                    .crc64
                    .map_or(String::new(), |c| code(&checksum::to_base64(c)));
                let _ = write!(
                    md,
                    "| {} | {} | {crc} |",
                    code(&f.name),
                    human_bytes(f.size)
                );
                if sha {
                    let _ = write!(md, " {} |", f.sha256.as_deref().map_or(String::new(), code));
                }
                if links {
                    let link = f
                        .link
                        .as_deref()
                        .map_or(String::new(), |url| format!("[download](<{url}>)"));
                    let _ = write!(md, " {link} |");
                }
                let _ = writeln!(md, " {} |", cell(&f.state));
            }
            md.push('\n');
        }
        if let Some(until) = &self.links_until {
            let _ = writeln!(md, "The links work until {until}.\n");
        }
        let total: u64 = self.files.iter().map(|f| f.size).sum();
        let _ = write!(
            md,
            "{}, {}",
            crate::values::count(self.files.len(), "file"),
            human_bytes(total)
        );
        // How many files each state has, in the order the table first shows them.
        let mut states: Vec<(&str, usize)> = Vec::new();
        for f in &self.files {
            match states.iter_mut().find(|(s, _)| *s == f.state) {
                Some((_, n)) => *n += 1,
                None => states.push((&f.state, 1)),
            }
        }
        if states.len() > 1 {
            let counts: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
            let _ = write!(md, " ({})", counts.join(", "));
        }
        if !failed.is_empty() {
            let _ = write!(md, "; {} failed", failed.len());
        }
        let _ = writeln!(md, "; {seconds:.1} s.\n");
        if !failed.is_empty() {
            md.push_str("**Failed:**\n\n");
            for (file, why) in failed {
                let _ = writeln!(md, "- {}: {}", code(file), cell(why));
            }
            md.push('\n');
        }
        md
    }
}

/// Appends `markdown` to `path` (created if missing), as GitHub reads `$GITHUB_STEP_SUMMARY`.
pub fn append(path: &Path, markdown: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(markdown.as_bytes())
}

/// `s` as inline code in a table cell: control characters shown visibly, `|` escaped for the
/// table, and delimited by enough backticks for any it holds.
fn code(s: &str) -> String {
    let text = cell(s);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// `s` as table cell text: one line, `|` escaped.
fn cell(s: &str) -> String {
    crate::escape::escape(s).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(vars.iter().copied())
    }

    #[test]
    fn the_ci_is_chosen_by_flag_then_variable_then_environment() {
        type Case<'a> = (Option<CiChoice>, &'a [(&'a str, &'a str)], Ci);
        let cases: [Case; 7] = [
            (None, &[], Ci::None),
            (None, &[("GITHUB_ACTIONS", "true")], Ci::Github),
            (None, &[("GITLAB_CI", "true")], Ci::Gitlab),
            (None, &[("GITHUB_ACTIONS", "false")], Ci::None),
            (
                Some(CiChoice::None),
                &[("GITHUB_ACTIONS", "true")],
                Ci::None,
            ),
            (
                None,
                &[("GITHUB_ACTIONS", "true"), ("S3BLOB_CI_OUTPUT", "none")],
                Ci::None,
            ),
            (Some(CiChoice::Gitlab), &[], Ci::Gitlab),
        ];
        for (flag, vars, want) in cases {
            assert_eq!(Ci::resolve(flag, &env(vars)).unwrap(), want, "{vars:?}");
        }
        let err = Ci::resolve(None, &env(&[("S3BLOB_CI_OUTPUT", "jenkins")])).unwrap_err();
        assert!(err.to_string().contains("S3BLOB_CI_OUTPUT"), "{err}");
    }

    #[test]
    fn a_summary_is_a_table_of_files_with_totals_and_failures() {
        let summary = JobSummary {
            bucket: "b".into(),
            release: Some(ReleaseRef::listed("app", "1.0")),
            sealed: Some(true),
            links_until: None,
            signed: Some("signed by 0123456789ABCDEF (trusted)".into()),
            files: vec![
                SummaryFile {
                    name: "a|b.tgz".into(),
                    size: 2048,
                    crc64: Some(0),
                    sha256: Some("ab".into()),
                    link: None,
                    state: "sent".into(),
                },
                SummaryFile {
                    name: "c`d".into(),
                    size: 0,
                    crc64: None,
                    sha256: None,
                    link: None,
                    state: "unchanged".into(),
                },
            ],
        };
        let failed = [("e\nf".to_owned(), "HTTP 403 | denied".to_owned())];
        assert_eq!(
            summary.markdown("upload", &failed, 1.25),
            "### s3blob upload: `s3://b/app/1.0/`\n\n\
             Release `s3://b/app/1.0/`, sealed: complete and immutable.\n\n\
             Signed: signed by 0123456789ABCDEF (trusted).\n\n\
             | File | Size | CRC64NVME | SHA-256 | |\n|---|---:|---|---|---|\n\
             | `a\\|b.tgz` | 2.0 KiB | `AAAAAAAAAAA=` | `ab` | sent |\n\
             | ``c`d`` | 0 B |  |  | unchanged |\n\n\
             2 files, 2.0 KiB (1 sent, 1 unchanged); 1 failed; 1.2 s.\n\n\
             **Failed:**\n\n- `e\\nf`: HTTP 403 \\| denied\n\n"
        );
    }
}
