//! Where each setting came from (flag, variable, `.env`, profile or default), for `doctor`
//! and `-v`: the same layering as [`super::resolve`], told instead of applied.

use super::*;

/// Where one setting came from, for `doctor` and `-v`. Values are what the user gave, never a
/// credential's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingOrigin {
    pub setting: &'static str,
    pub value: String,
    /// `flag`, `environment`, `dotenv`, `profile` or `default`.
    pub source: &'static str,
    /// The flag or variable that set it (empty for a default).
    pub via: String,
    /// How messages name the `.env` file (`.env`, or the file `--env-file` named).
    file: String,
}

impl std::fmt::Display for SettingOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = match self.source {
            "flag" => format!("flag {}", self.via),
            "environment" => format!("{} in the environment", self.via),
            "dotenv" => format!("{} in {}", self.via, self.file),
            "profile" if self.via.is_empty() => "profile".to_owned(),
            "profile" => format!("profile, {}", self.via),
            _ => "default".to_owned(),
        };
        write!(
            f,
            "{:<18} {}  ({})",
            self.setting,
            crate::escape::escape(&self.value),
            crate::escape::escape(&from)
        )
    }
}

/// Where each setting comes from: the flag, the variable (from the environment or `.env`),
/// the profile or the default; the same order as [`resolve`]. Pure, like it; values are shown
/// as given (a bad one is [`resolve`]'s to refuse).
pub fn origins(global: &GlobalArgs, tuning: Tuning, env: &Environment) -> Vec<SettingOrigin> {
    use crate::environment::{DotEnvUse, Origin};
    let file = env.dotenv_name().to_owned();
    let line = |setting, value: String, source, via: &str| SettingOrigin {
        setting,
        value,
        source,
        via: via.to_owned(),
        file: file.clone(),
    };
    // The flag's value, else the first of `vars` set, else the default.
    let layer = |setting, flag: Option<String>, flag_name: &str, vars: &[&str], default: &str| {
        if let Some(v) = flag {
            return line(setting, v, "flag", flag_name);
        }
        for var in vars {
            if let Some(v) = env.get(var) {
                let source = match env.origin(var) {
                    Some(Origin::DotEnv) => "dotenv",
                    _ => "environment",
                };
                return line(setting, v.to_owned(), source, var);
            }
        }
        line(setting, default.to_owned(), "default", "")
    };
    let mut out = Vec::new();
    out.push(match &env.dotenv {
        DotEnvUse::None => line("env file", "none".into(), "default", ""),
        DotEnvUse::SkippedUnderCi => line(
            "env file",
            "none (./.env not read: CI is set)".into(),
            "default",
            "",
        ),
        DotEnvUse::Read {
            path,
            named_by: None,
        } => line("env file", path.display().to_string(), "default", ""),
        DotEnvUse::Read {
            path,
            named_by: Some(by),
        } => {
            let source = if by.starts_with("--") {
                "flag"
            } else {
                "environment"
            };
            line("env file", path.display().to_string(), source, by)
        }
    });
    out.push(layer(
        "bucket",
        global.bucket.clone(),
        "--bucket",
        &["S3BLOB_BUCKET"],
        "none",
    ));
    out.push(layer(
        "endpoint",
        global.endpoint_url.clone(),
        "--endpoint-url",
        &["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"],
        "AWS S3",
    ));
    let mut region = layer(
        "region",
        global.region.clone(),
        "--region",
        &["AWS_REGION", "AWS_DEFAULT_REGION"],
        "",
    );
    if region.source == "default" {
        region.value = "the profile's, else (on AWS) the instance's, else us-east-1".into();
        region.source = "profile";
    }
    out.push(region);
    let profile = layer(
        "profile",
        global.profile.clone(),
        "--profile",
        &["AWS_PROFILE"],
        "default",
    );
    let credentials = if let Some(origin) = env.origin("AWS_ACCESS_KEY_ID") {
        let source = match origin {
            Origin::DotEnv => "dotenv",
            Origin::Environment => "environment",
        };
        line(
            "credentials",
            "static keys".into(),
            source,
            "AWS_ACCESS_KEY_ID",
        )
    } else if profile.source != "default" {
        line(
            "credentials",
            format!("profile {:?}", profile.value),
            "profile",
            "",
        )
    } else if env.get("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
        line(
            "credentials",
            "web identity".into(),
            "environment",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        )
    } else if let Some(var) = [
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ]
    .into_iter()
    .find(|v| env.get(v).is_some())
    {
        line(
            "credentials",
            "container endpoint".into(),
            "environment",
            var,
        )
    } else {
        line(
            "credentials",
            "the AWS chain: profile \"default\", SSO, instance role".into(),
            "default",
            "",
        )
    };
    out.push(profile);
    out.push(credentials);
    out.push(layer(
        "addressing style",
        global
            .addressing_style
            .map(|s| format!("{s:?}").to_lowercase()),
        "--addressing-style",
        &["S3BLOB_ADDRESSING_STYLE"],
        "auto",
    ));
    out.push(layer(
        "max attempts",
        global.max_attempts.map(|v| v.to_string()),
        "--max-attempts",
        &["AWS_MAX_ATTEMPTS"],
        &DEFAULT_MAX_ATTEMPTS.to_string(),
    ));
    out.push(layer(
        "part size",
        tuning.part_size.map(values::human_bytes),
        "--part-size",
        &["S3BLOB_PART_SIZE"],
        &values::human_bytes(DEFAULT_PART_SIZE),
    ));
    out.push(layer(
        "concurrency",
        tuning.concurrency.map(|v| v.to_string()),
        "--concurrency",
        &["S3BLOB_CONCURRENCY"],
        &DEFAULT_CONCURRENCY.to_string(),
    ));
    out.push(layer(
        "max requests",
        global.max_requests.map(|v| v.to_string()),
        "--max-requests",
        &["S3BLOB_MAX_REQUESTS"],
        &DEFAULT_MAX_REQUESTS.to_string(),
    ));
    out.push(layer(
        "timeout",
        global.timeout.map(|v| format!("{v}s")),
        "--timeout",
        &["S3BLOB_TIMEOUT"],
        &format!("{DEFAULT_TIMEOUT_SECS}s"),
    ));
    out.push(layer(
        "progress interval",
        global.progress_interval.map(crate::values::human_duration),
        "--progress-interval",
        &["S3BLOB_PROGRESS_INTERVAL"],
        &crate::values::human_duration(DEFAULT_PROGRESS_INTERVAL),
    ));
    out.push(layer(
        "ci output",
        global.ci_output.map(|v| format!("{v:?}").to_lowercase()),
        "--ci-output",
        &["S3BLOB_CI_OUTPUT"],
        "auto",
    ));
    out.push(layer(
        "checksum header",
        global
            .checksum_header
            .map(|v| format!("{v:?}").to_lowercase()),
        "--checksum-header",
        &["S3BLOB_CHECKSUM_HEADER"],
        "auto",
    ));
    out.push(layer(
        "conditional writes",
        global
            .conditional_writes
            .map(|v| format!("{v:?}").to_lowercase()),
        "--conditional-writes",
        &["S3BLOB_CONDITIONAL_WRITES"],
        "auto",
    ));
    let mut ca = layer(
        "ca bundle",
        global.ca_bundle.as_ref().map(|p| p.display().to_string()),
        "--ca-bundle",
        &["AWS_CA_BUNDLE"],
        "",
    );
    if ca.source == "default" {
        ca.value = "the profile's ca_bundle, else the system's roots".into();
        ca.source = "profile";
    }
    out.push(ca);
    out.push(layer(
        "limit rate",
        global.limit_rate.map(rate_text),
        "--limit-rate",
        &["S3BLOB_LIMIT_RATE"],
        "none",
    ));
    if let Some(r) = global.limit_upload {
        out.push(line("limit upload", rate_text(r), "flag", "--limit-upload"));
    }
    if let Some(r) = global.limit_download {
        out.push(line(
            "limit download",
            rate_text(r),
            "flag",
            "--limit-download",
        ));
    }
    // The proxy URLs are shown masked (a password stays out of reports and logs).
    let proxy_variables: Vec<&str> = crate::environment::PROXY_VARIABLES
        .iter()
        .copied()
        .filter(|v| env.get(v).is_some())
        .collect();
    out.push(
        match crate::s3::proxy::Proxies::from_lookup(|name| env.get(name)) {
            _ if proxy_variables.is_empty() => line("proxy", "none".into(), "default", ""),
            Ok(proxies) => line(
                "proxy",
                proxies.describe(),
                "environment",
                &proxy_variables.join(", "),
            ),
            Err((var, why)) => line(
                "proxy",
                format!("{var}: {why}"),
                "environment",
                &proxy_variables.join(", "),
            ),
        },
    );
    out.push(layer(
        "log filter",
        None,
        "",
        &["RUST_LOG"],
        "from -v and -q",
    ));
    out
}

/// A cap as `doctor` and `-v` show it.
fn rate_text(rate: u64) -> String {
    match rate {
        0 => "none".to_owned(),
        r => format!("{}/s", values::human_bytes(r)),
    }
}
