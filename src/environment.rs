//! The variables s3blob and the AWS SDK read, as one view: the real environment, with `.env`
//! filling in what it lacks, empty values dropped, and each value's origin remembered for
//! error messages.
//!
//! Why s3blob prepares the environment itself instead of leaving it to the SDK: aws-config
//! reads many variables on its own, and some values make it panic (an empty or malformed
//! `AWS_MAX_ATTEMPTS`, for one). `.env.example` lists every variable with an empty value, so
//! "empty means unset" must hold for the SDK too. [`prepare`] is pure: it says which
//! variables to set (from `.env`) and which to remove (empty ones); `main` applies that to the
//! process environment before any thread exists, and then everything, s3blob and SDK alike,
//! reads the same cleaned environment.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Error;

/// Where a variable's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Environment,
    DotEnv,
}

/// The changes to make to the process environment, and the resulting view.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Variables `.env` supplies that the environment lacks.
    pub set: Vec<(String, String)>,
    /// Variables that are set but empty (or only whitespace): unset, for the SDK as for s3blob.
    pub remove: Vec<String>,
    pub env: Environment,
}

/// The variables s3blob cares about (names starting `AWS_` or `S3BLOB_`, and `RUST_LOG`),
/// with their origin. Built once at start-up; tests build their own.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, (String, Origin)>,
}

/// Whether s3blob (or the SDK on its behalf) reads the variable.
fn relevant(name: &str) -> bool {
    name.starts_with("AWS_") || name.starts_with("S3BLOB_") || name == "RUST_LOG"
}

fn blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// Merges `dotenv` (the pairs of `.env`, in file order) under `real` (the process
/// environment). A variable set in the environment is never overridden; a blank value from
/// either source counts as unset, so `.env` may fill in a variable exported empty.
pub fn prepare(
    real: impl IntoIterator<Item = (String, String)>,
    dotenv: impl IntoIterator<Item = (String, String)>,
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
    for (name, value) in dotenv {
        // The first definition in the file wins, as dotenv tools do.
        if present.contains(&name) || out.set.iter().any(|(n, _)| *n == name) {
            continue;
        }
        if blank(&value) {
            continue;
        }
        if relevant(&name) {
            out.remove.retain(|n| *n != name);
            out.env
                .vars
                .insert(name.clone(), (value.clone(), Origin::DotEnv));
        }
        out.set.push((name, value));
    }
    out
}

/// The pairs of `./.env` (the working directory only, never a parent), or none without one.
pub fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, Error> {
    let bad = |e: &dyn std::fmt::Display| {
        Error::Usage(format!(
            "cannot read {}: {e}; fix the line or remove the file",
            path.display()
        ))
    };
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) if e.not_found() => return Ok(Vec::new()),
        Err(e) => return Err(bad(&e)),
    };
    iter.map(|item| item.map_err(|e| bad(&e))).collect()
}

impl Environment {
    /// A view of exactly these variables, as if from the real environment (for tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let real = pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned()));
        prepare(real, Vec::new()).env
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
            Some(Origin::DotEnv) => " (set in .env)",
            Some(Origin::Environment) => " (set in the environment)",
            None => "",
        };
        match self.get(name) {
            Some(_) if is_secret(name) => format!("{name}{from}"),
            Some(v) => format!("{name}={v:?}{from}"),
            None => name.to_owned(),
        }
    }

    /// Refuses values that s3blob does not parse itself but the SDK would misread or panic on,
    /// before the SDK sees them: an exit-2 error naming the variable and where it was set.
    pub fn check_sdk_variables(&self) -> Result<(), Error> {
        for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if let Some(v) = self.get(name)
                && !valid_region(v)
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
    )
}

/// Loose, so S3-compatible stores with their own region names (`garage`, `default`) pass:
/// what goes into a SigV4 scope and a host name.
pub fn valid_region(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn dotenv_fills_in_and_never_overrides() {
        let p = prepare(
            pairs(&[("AWS_REGION", "eu-west-1"), ("PATH", "/bin")]),
            pairs(&[
                ("AWS_REGION", "us-east-2"),
                ("S3BLOB_BUCKET", "b"),
                ("S3BLOB_BUCKET", "second"),
                ("OTHER", "x"),
            ]),
        );
        assert_eq!(p.env.get("AWS_REGION"), Some("eu-west-1"));
        assert_eq!(p.env.origin("AWS_REGION"), Some(Origin::Environment));
        assert_eq!(p.env.get("S3BLOB_BUCKET"), Some("b"));
        assert_eq!(p.env.origin("S3BLOB_BUCKET"), Some(Origin::DotEnv));
        assert_eq!(p.set, pairs(&[("S3BLOB_BUCKET", "b"), ("OTHER", "x")]));
        assert!(p.remove.is_empty());
    }

    #[test]
    fn blank_means_unset_from_either_source() {
        let p = prepare(
            pairs(&[("AWS_MAX_ATTEMPTS", ""), ("RUST_LOG", "  "), ("HOME", "")]),
            pairs(&[
                ("AWS_REGION", ""),
                ("AWS_MAX_ATTEMPTS", "3"),
                ("HOME", "/h"),
            ]),
        );
        // An exported empty variable is unset, and .env may fill it in; HOME is none of ours.
        assert_eq!(p.remove, ["RUST_LOG"]);
        assert_eq!(p.set, pairs(&[("AWS_MAX_ATTEMPTS", "3")]));
        assert_eq!(p.env.get("AWS_MAX_ATTEMPTS"), Some("3"));
        assert_eq!(p.env.origin("AWS_MAX_ATTEMPTS"), Some(Origin::DotEnv));
        assert_eq!(p.env.get("AWS_REGION"), None);
    }

    #[test]
    fn describe_names_the_origin_and_hides_secrets() {
        let p = prepare(
            pairs(&[("AWS_SECRET_ACCESS_KEY", "s3cr3t")]),
            pairs(&[("AWS_MAX_ATTEMPTS", "many")]),
        );
        assert_eq!(
            p.env.describe("AWS_MAX_ATTEMPTS"),
            "AWS_MAX_ATTEMPTS=\"many\" (set in .env)"
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

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "garage",
            "default",
            "cn-north-1",
            "eu_central.x",
        ] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in ["", "us east", "eu/west", "ré"] {
            assert!(!valid_region(bad), "{bad}");
        }
    }
}
