//! The variables s3blob and the AWS SDK read, as one view: the real environment, with a
//! `.env` file filling in some of what it lacks, empty values dropped, and each value's origin
//! remembered for messages and for `doctor`.
//!
//! Why s3blob prepares the environment itself instead of leaving it to the SDK: aws-config
//! reads many variables on its own, and some values make it panic (an empty or malformed
//! `AWS_MAX_ATTEMPTS`, for one). `.env.example` lists every variable with an empty value, so
//! "empty means unset" must hold for the SDK too. [`prepare`] is pure: it says which
//! variables to set (from `.env`) and which to remove (empty ones); `main` applies that to the
//! process environment before any thread exists, and then everything, s3blob and SDK alike,
//! reads the same cleaned environment.
//!
//! What `.env` may do is limited, because the working directory is not always the user's: in
//! CI it is a checkout whose content whoever opened a pull request chose. The file may set only
//! the plain settings of [`DOTENV_ALLOWED`] (bucket, region, sizes, counts, timeouts, logging,
//! and keys for a developer's local store); a variable that names a file, a command, an
//! endpoint, a certificate authority or a credential source, or that weakens a check, is
//! ignored with one warning. Under `CI` the file is not read at all unless `--env-file` or
//! `S3BLOB_ENV_FILE` names it ([`choose`]), and a file that someone else owns or may write is
//! refused ([`read`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;

mod dotenv;

use dotenv::{CREDENTIAL_SOURCES, KEYS, refusal};
pub use dotenv::{Choice, DOTENV_ALLOWED, DotEnv, choose, is_ci, read};

/// Where a variable's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Environment,
    DotEnv,
}

/// A message to log once logging is set up (the environment is prepared before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Warn(String),
    Info(String),
    Debug(String),
}

/// The changes to make to the process environment, and the resulting view.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Variables `.env` supplies that the environment lacks.
    pub set: Vec<(String, String)>,
    /// Variables that are set but empty (or only whitespace): unset, for the SDK as for s3blob.
    pub remove: Vec<String>,
    pub env: Environment,
    /// What to tell the user about the file: variables ignored, a file skipped.
    pub notes: Vec<Note>,
}

/// The variables s3blob cares about (names starting `AWS_` or `S3BLOB_`, and `RUST_LOG`),
/// with their origin, and what became of the `.env` file. Built once at start-up; tests build
/// their own.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, (String, Origin)>,
    /// How messages name the file the `DotEnv` values came from (`.env`, or `--env-file`'s).
    dotenv_name: Option<String>,
    /// What happened to the file, for `doctor` and `-v`.
    pub dotenv: DotEnvUse,
}

/// What became of the `.env` file (or the one `--env-file` named).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DotEnvUse {
    /// No `./.env`, and none named.
    #[default]
    None,
    /// Read; `named_by` is `--env-file` or `S3BLOB_ENV_FILE` for a named file.
    Read {
        path: PathBuf,
        named_by: Option<&'static str>,
    },
    /// `./.env` exists but `CI` is set and no file was named.
    SkippedUnderCi,
}

/// Whether s3blob (or the SDK on its behalf) reads the variable.
fn relevant(name: &str) -> bool {
    name.starts_with("AWS_")
        || name.starts_with("S3BLOB_")
        || name == "RUST_LOG"
        || PROXY_VARIABLES.contains(&name)
        || CI_VARIABLES.contains(&name)
}

/// What tells s3blob it runs under a CI system, and where GitHub's job summary goes.
const CI_VARIABLES: [&str; 3] = ["GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITLAB_CI"];

/// The proxy variables, read as curl and the AWS CLI read them (by the S3 adapter).
pub const PROXY_VARIABLES: [&str; 8] = [
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// A URL with the password of its `user:password@` masked (`user:***@`), for messages.
pub fn mask_password(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let star = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}{user}{star}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

fn blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// Merges `dotenv` under `real` (the process environment). A variable set in the environment
/// is never overridden; a blank value from either source counts as unset, so `.env` may fill
/// in a variable exported empty. Only [`DOTENV_ALLOWED`] variables come from the file; keys
/// only when neither the environment nor `--profile` (`profile_flag`) chose the credentials.
pub fn prepare(
    real: impl IntoIterator<Item = (String, String)>,
    dotenv: DotEnv,
    profile_flag: bool,
) -> Prepared {
    let mut out = Prepared::default();
    let mut present = std::collections::HashSet::new();
    for (name, value) in real {
        if !relevant(&name) {
            present.insert(name);
        } else if blank(&value) {
            out.remove.push(name);
        } else {
            present.insert(name.clone());
            out.env.vars.insert(name, (value, Origin::Environment));
        }
    }
    let file = dotenv.name;
    let credentials_chosen = profile_flag
        || KEYS
            .iter()
            .chain(CREDENTIAL_SOURCES.iter())
            .any(|v| present.contains(*v));
    let region_set = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .any(|v| present.contains(*v));
    let mut ignored_keys = Vec::new();
    let mut unrelated = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (name, value) in dotenv.pairs {
        // The first definition in the file wins, as dotenv tools do.
        if !seen.insert(name.clone()) || blank(&value) {
            continue;
        }
        if !DOTENV_ALLOWED.contains(&name.as_str()) {
            match refusal(&name) {
                Some((why, flag)) => out.notes.push(Note::Warn(format!(
                    "{name} in {file} is ignored: {why}; set it in the environment{}",
                    flag.map(|f| format!(" or pass {f}")).unwrap_or_default()
                ))),
                None => unrelated.push(name),
            }
            continue;
        }
        if present.contains(&name) {
            continue;
        }
        if KEYS.contains(&name.as_str()) && credentials_chosen {
            ignored_keys.push(name);
            continue;
        }
        // The region is one setting in two variables: the environment's wins whole.
        if region_set && name.ends_with("REGION") {
            continue;
        }
        out.remove.retain(|n| *n != name);
        out.env
            .vars
            .insert(name.clone(), (value.clone(), Origin::DotEnv));
        out.set.push((name, value));
    }
    if !ignored_keys.is_empty() {
        out.notes.push(Note::Warn(format!(
            "{} in {file} ignored: the environment or --profile already chooses the credentials; set keys in the environment to use them",
            ignored_keys.join(", ")
        )));
    }
    if !unrelated.is_empty() {
        out.notes.push(Note::Debug(format!(
            "not set from {file} (s3blob does not use them): {}",
            unrelated.join(", ")
        )));
    }
    if dotenv.used == DotEnvUse::SkippedUnderCi {
        out.notes.push(Note::Info(
            "./.env not read: CI is set (a checkout's .env is not trusted there); pass --env-file .env to read it".to_owned(),
        ));
    }
    if matches!(dotenv.used, DotEnvUse::Read { .. }) {
        out.env.dotenv_name = Some(file);
    }
    out.env.dotenv = dotenv.used;
    out
}

impl Environment {
    /// A view of exactly these variables, as if from the real environment (for tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let real = pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned()));
        prepare(real, DotEnv::default(), false).env
    }

    /// How messages name the file that `DotEnv` values came from.
    pub fn dotenv_name(&self) -> &str {
        self.dotenv_name.as_deref().unwrap_or(".env")
    }

    /// The value of `name`, if set and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|(v, _)| v.as_str())
    }

    pub fn origin(&self, name: &str) -> Option<Origin> {
        self.vars.get(name).map(|(_, o)| *o)
    }

    /// `NAME="value" (from .env)`: how an error message names a variable's setting. Values of
    /// credential variables are never shown.
    pub fn describe(&self, name: &str) -> String {
        let from = match self.origin(name) {
            Some(Origin::DotEnv) => format!(" (set in {})", self.dotenv_name()),
            Some(Origin::Environment) => " (set in the environment)".to_owned(),
            None => String::new(),
        };
        match self.get(name) {
            Some(_) if is_secret(name) => format!("{name}{from}"),
            // A proxy URL may carry a password.
            Some(v) if PROXY_VARIABLES.contains(&name) => {
                format!("{name}={:?}{from}", mask_password(v))
            }
            Some(v) => format!("{name}={v:?}{from}"),
            None => name.to_owned(),
        }
    }

    /// Refuses values that s3blob does not parse itself but the SDK would misread or panic on,
    /// before the SDK sees them: an exit-2 error naming the variable and where it was set.
    pub fn check_sdk_variables(&self) -> Result<(), Error> {
        for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if let Some(v) = self.get(name)
                && !crate::values::valid_region(v)
            {
                return Err(Error::Usage(format!(
                    "{} is not a region name; use one such as eu-west-1, or unset it",
                    self.describe(name)
                )));
            }
        }
        for name in [
            "AWS_EC2_METADATA_DISABLED",
            "AWS_USE_FIPS_ENDPOINT",
            "AWS_USE_DUALSTACK_ENDPOINT",
        ] {
            if let Some(v) = self.get(name)
                && !matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "false")
            {
                return Err(Error::Usage(format!(
                    "{} must be true or false",
                    self.describe(name)
                )));
            }
        }
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            if let Some(v) = self.get(name)
                && !v.chars().all(|c| c.is_ascii_graphic())
            {
                return Err(Error::Usage(format!(
                    "{} holds spaces, quotes or characters that are not ASCII, which no AWS credential does; check how it was copied",
                    self.describe(name)
                )));
            }
        }
        for name in [
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ] {
            // `/dev/null` is a common way to say "no such file"; a directory never works.
            if let Some(v) = self.get(name)
                && !names_a_file(v)
            {
                return Err(Error::NotFound(format!(
                    "{} names no readable file; fix the path or unset it",
                    self.describe(name)
                )));
            }
        }
        if let Some(v) = self.get("AWS_PROFILE")
            && v.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::Usage(format!(
                "{} is not a profile name (it holds spaces); use --profile NAME",
                self.describe("AWS_PROFILE")
            )));
        }
        Ok(())
    }
}

/// Something that can be read as a file: a file, or `/dev/null`; not a directory.
fn names_a_file(path: &str) -> bool {
    Path::new(path).metadata().is_ok_and(|m| !m.is_dir())
}

fn is_secret(name: &str) -> bool {
    matches!(
        name,
        "AWS_ACCESS_KEY_ID"
            | "AWS_SECRET_ACCESS_KEY"
            | "AWS_SESSION_TOKEN"
            | "AWS_CONTAINER_AUTHORIZATION_TOKEN"
            | "S3BLOB_SIGN_KEY"
            | "S3BLOB_SIGN_KEY_PASSWORD"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn file(p: &[(&str, &str)]) -> DotEnv {
        DotEnv {
            name: ".env".to_owned(),
            pairs: pairs(p),
            used: DotEnvUse::Read {
                path: ".env".into(),
                named_by: None,
            },
        }
    }

    fn warnings(p: &Prepared) -> Vec<&str> {
        p.notes
            .iter()
            .filter_map(|n| match n {
                Note::Warn(w) => Some(w.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn dotenv_fills_in_and_never_overrides() {
        let p = prepare(
            pairs(&[("AWS_DEFAULT_REGION", "eu-west-1"), ("PATH", "/bin")]),
            file(&[
                ("AWS_REGION", "us-east-2"),
                ("S3BLOB_BUCKET", "b"),
                ("S3BLOB_BUCKET", "second"),
                ("OTHER", "x"),
                ("PATH", "/evil"),
            ]),
            false,
        );
        // The environment's region wins whole, even over the variable it did not set.
        assert_eq!(p.env.get("AWS_REGION"), None);
        assert_eq!(p.env.get("AWS_DEFAULT_REGION"), Some("eu-west-1"));
        assert_eq!(
            p.env.origin("AWS_DEFAULT_REGION"),
            Some(Origin::Environment)
        );
        assert_eq!(p.env.get("S3BLOB_BUCKET"), Some("b"));
        assert_eq!(p.env.origin("S3BLOB_BUCKET"), Some(Origin::DotEnv));
        // Nothing that is not s3blob's is set for anyone (a credential_process included).
        assert_eq!(p.set, pairs(&[("S3BLOB_BUCKET", "b")]));
        assert!(p.remove.is_empty());
        assert!(warnings(&p).is_empty(), "{:?}", p.notes);
        assert_eq!(
            p.notes,
            [Note::Debug(
                "not set from .env (s3blob does not use them): OTHER, PATH".to_owned()
            )]
        );
    }

    #[test]
    fn only_plain_settings_come_from_dotenv() {
        let dangerous = [
            ("AWS_CONFIG_FILE", "x", Some("--")),
            ("AWS_SHARED_CREDENTIALS_FILE", "x", None),
            ("AWS_PROFILE", "x", Some("--profile")),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "x", None),
            ("AWS_ROLE_ARN", "x", None),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "x", None),
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "x", None),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "x", None),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "x", None),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "x", None),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "x", None),
            ("AWS_EC2_METADATA_DISABLED", "x", None),
            ("AWS_CA_BUNDLE", "x", Some("--ca-bundle")),
            ("AWS_ENDPOINT_URL", "x", Some("--endpoint-url")),
            ("AWS_ENDPOINT_URL_S3", "x", Some("--endpoint-url")),
            ("AWS_ENDPOINT_URL_STS", "x", None),
            ("AWS_RESPONSE_CHECKSUM_VALIDATION", "x", None),
            (
                "S3BLOB_CONDITIONAL_WRITES",
                "x",
                Some("--conditional-writes"),
            ),
            ("S3BLOB_CHECKSUM_HEADER", "x", Some("--checksum-header")),
            ("S3BLOB_TEST_COPY_MULTIPART_ABOVE", "x", None),
            ("S3BLOB_ENV_FILE", "x", Some("--env-file")),
            ("S3BLOB_FUTURE", "x", None),
            ("SSL_CERT_FILE", "x", None),
            ("SSL_CERT_DIR", "x", None),
            ("HOME", "x", None),
        ];
        let p = prepare(Vec::new(), file(&dangerous.map(|(n, v, _)| (n, v))), false);
        assert!(p.set.is_empty(), "{:?}", p.set);
        let warned = warnings(&p);
        assert_eq!(warned.len(), dangerous.len(), "{warned:?}");
        for ((name, _, flag), line) in dangerous.iter().zip(&warned) {
            assert!(
                line.starts_with(&format!("{name} in .env is ignored: ")),
                "{line}"
            );
            assert!(line.contains("set it in the environment"), "{line}");
            if let Some(flag) = flag.filter(|f| *f != "--") {
                assert!(line.ends_with(&format!("or pass {flag}")), "{line}");
            }
        }
        for name in DOTENV_ALLOWED {
            let p = prepare(Vec::new(), file(&[(name, "v")]), false);
            assert_eq!(p.set, pairs(&[(name, "v")]), "{name}");
        }
    }

    #[test]
    fn dotenv_keys_only_when_nothing_else_chose_the_credentials() {
        let keys = [
            ("AWS_ACCESS_KEY_ID", "AKIADOTENV"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        let p = prepare(Vec::new(), file(&keys), false);
        assert_eq!(p.set, pairs(&keys));
        for real in [
            &[("AWS_PROFILE", "work")][..],
            &[("AWS_ACCESS_KEY_ID", "AKIAREAL")],
            &[("AWS_SESSION_TOKEN", "t")],
            &[("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")],
            &[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c")],
        ] {
            let p = prepare(pairs(real), file(&keys), false);
            assert!(p.set.is_empty(), "{real:?}");
            assert_eq!(warnings(&p).len(), 1, "{real:?}");
            // Each key the environment did not set itself is named.
            assert!(
                warnings(&p)[0].contains("AWS_SECRET_ACCESS_KEY in .env ignored: "),
                "{:?}",
                p.notes
            );
        }
        let p = prepare(Vec::new(), file(&keys), true);
        assert!(p.set.is_empty());
    }

    #[test]
    fn ci_decides_whether_dotenv_is_read() {
        for ci in [
            None,
            Some(""),
            Some(" "),
            Some("false"),
            Some("FALSE"),
            Some("0"),
        ] {
            assert_eq!(choose(None, None, ci), Choice::Default, "{ci:?}");
        }
        for ci in ["true", "1", "yes", "github"] {
            assert_eq!(choose(None, None, Some(ci)), Choice::NoneUnderCi, "{ci}");
            assert_eq!(
                choose(None, Some("ci.env"), Some(ci)),
                Choice::Named("ci.env".into(), "S3BLOB_ENV_FILE")
            );
        }
        assert_eq!(
            choose(Some(Path::new("a.env")), Some("b.env"), Some("true")),
            Choice::Named("a.env".into(), "--env-file")
        );
        assert_eq!(choose(None, Some(" "), None), Choice::Default);
    }

    #[test]
    fn blank_means_unset_from_either_source() {
        let p = prepare(
            pairs(&[("AWS_MAX_ATTEMPTS", ""), ("RUST_LOG", "  "), ("HOME", "")]),
            file(&[("AWS_REGION", ""), ("AWS_MAX_ATTEMPTS", "3")]),
            false,
        );
        // An exported empty variable is unset, and .env may fill it in.
        assert_eq!(p.remove, ["RUST_LOG"]);
        assert_eq!(p.set, pairs(&[("AWS_MAX_ATTEMPTS", "3")]));
        assert_eq!(p.env.get("AWS_MAX_ATTEMPTS"), Some("3"));
        assert_eq!(p.env.origin("AWS_MAX_ATTEMPTS"), Some(Origin::DotEnv));
        assert_eq!(p.env.get("AWS_REGION"), None);
    }

    #[test]
    fn describe_names_the_origin_and_hides_secrets() {
        let mut named = file(&[("AWS_MAX_ATTEMPTS", "many")]);
        named.name = "ci.env".to_owned();
        let p = prepare(pairs(&[("AWS_SECRET_ACCESS_KEY", "s3cr3t")]), named, false);
        assert_eq!(
            p.env.describe("AWS_MAX_ATTEMPTS"),
            "AWS_MAX_ATTEMPTS=\"many\" (set in ci.env)"
        );
        assert_eq!(
            p.env.describe("AWS_SECRET_ACCESS_KEY"),
            "AWS_SECRET_ACCESS_KEY (set in the environment)"
        );
    }

    #[test]
    fn sdk_variables_are_checked() {
        let ok = Environment::from_pairs([
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "garage"),
            ("AWS_EC2_METADATA_DISABLED", "TRUE"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "abc/def+ghi"),
            ("AWS_PROFILE", "ci"),
            ("AWS_CONFIG_FILE", "/dev/null"),
        ]);
        ok.check_sdk_variables().unwrap();
        for (name, value) in [
            ("AWS_REGION", "eu west"),
            ("AWS_DEFAULT_REGION", "région"),
            ("AWS_EC2_METADATA_DISABLED", "yes"),
            ("AWS_USE_FIPS_ENDPOINT", "1"),
            ("AWS_ACCESS_KEY_ID", "AKIA EXAMPLE"),
            ("AWS_SESSION_TOKEN", "tökén"),
            ("AWS_CONFIG_FILE", "/no/such/file"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/"),
            ("AWS_PROFILE", "two words"),
        ] {
            let err = Environment::from_pairs([(name, value)])
                .check_sdk_variables()
                .unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
            assert!(matches!(err.exit_code(), 2 | 3), "{name}: {err}");
            if is_secret(name) {
                assert!(!err.to_string().contains(value), "{err}");
            }
        }
    }
}
