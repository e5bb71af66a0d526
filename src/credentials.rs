//! The credentials s3blob signs with: aws-config's default chain (environment, profiles with
//! SSO, `credential_process` or assumed roles, web identity, ECS and EC2 roles), wrapped so
//! that
//!
//! - a failure becomes one line that says which source failed and what to do about it, never
//!   the SDK's debug dump of the provider chain ([`explain`]);
//! - temporary credentials the chain fetched (from instance metadata, STS, SSO) are masked in
//!   the logs like the ones in the environment ([`crate::logging::remember_secret`]).

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

use crate::environment::Environment;
use crate::error::one_line;

/// What the explanation of a failure needs to know about how the chain was set up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Setup {
    /// The profile in effect: `--profile`, else `AWS_PROFILE`, else `default`.
    pub profile: String,
    /// The profile was asked for, by flag or variable (not the implicit `default`).
    pub profile_chosen: bool,
    /// `AWS_ROLE_ARN`, set for web identity (GitHub Actions, GitLab, EKS).
    pub web_identity_role: Option<String>,
    /// `AWS_EC2_METADATA_DISABLED=true`.
    pub imds_disabled: bool,
}

impl Setup {
    pub fn new(profile_flag: Option<&str>, env: &Environment) -> Self {
        let chosen = profile_flag.or_else(|| env.get("AWS_PROFILE"));
        Self {
            profile: chosen.unwrap_or("default").to_owned(),
            profile_chosen: chosen.is_some(),
            web_identity_role: env
                .get("AWS_WEB_IDENTITY_TOKEN_FILE")
                .and(env.get("AWS_ROLE_ARN"))
                .map(str::to_owned),
            imds_disabled: env
                .get("AWS_EC2_METADATA_DISABLED")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        }
    }
}

/// The default chain, explained on failure and remembered for redaction on success.
#[derive(Debug)]
pub struct Explained {
    inner: SharedCredentialsProvider,
    setup: Setup,
}

impl Explained {
    pub fn new(inner: SharedCredentialsProvider, setup: Setup) -> Self {
        Self { inner, setup }
    }
}

/// A credentials failure already put in words for the user; `s3::classify` prints it as is.
#[derive(Debug)]
pub struct Explanation(pub String);

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Explanation {}

impl ProvideCredentials for Explained {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            match self.inner.provide_credentials().await {
                Ok(creds) => {
                    crate::logging::remember_secret(creds.access_key_id());
                    crate::logging::remember_secret(creds.secret_access_key());
                    if let Some(token) = creds.session_token() {
                        crate::logging::remember_secret(token);
                    }
                    Ok(creds)
                }
                Err(err) => {
                    tracing::debug!("credentials chain failed: {}", chain_text(&err));
                    Err(CredentialsError::provider_error(Explanation(explain(
                        &err,
                        &self.setup,
                    ))))
                }
            }
        })
    }

    fn fallback_on_interrupt(&self) -> Option<aws_credential_types::Credentials> {
        self.inner.fallback_on_interrupt()
    }
}

/// The messages of an error and its sources, each once, joined with ": " (the plain `Display`
/// texts: never the `Debug` dumps the SDK's own reporting appends).
pub fn chain_text(err: &(dyn StdError + 'static)) -> String {
    one_line(&raw_chain_text(err))
}

/// [`chain_text`] with the line breaks of the messages kept (a process's stderr, for one).
fn raw_chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e.to_string().trim().to_owned();
        // Some errors repeat their source's text in their own; keep it once.
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// One line on why no credentials could be loaded, with the hint that fits the case.
pub fn explain(err: &CredentialsError, setup: &Setup) -> String {
    let text = chain_text(err);
    let profile = &setup.profile;
    let none_found = "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile NAME (or set AWS_PROFILE), or run where an instance or container role is available";
    if let CredentialsError::CredentialsNotLoaded(_) = err {
        if setup.profile_chosen {
            return format!(
                "profile {profile:?} gives no AWS credentials: it is not in ~/.aws/config or ~/.aws/credentials (or AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE), or it sets no keys, sso_session, role_arn or credential_process; check --profile or AWS_PROFILE"
            );
        }
        return none_found.to_owned();
    }
    if let CredentialsError::ProviderTimedOut(_) = err {
        return format!(
            "loading AWS credentials timed out ({text}); if this is not an EC2 instance, set AWS_EC2_METADATA_DISABLED=true, and check the profile {profile:?}"
        );
    }
    let lower = text.to_ascii_lowercase();
    // Web identity comes before the container and instance roles in the chain: with it set
    // up, a failure is STS refusing the token (or the token file).
    if let Some(role) = &setup.web_identity_role {
        return format!(
            "STS refused the web identity token for role {role} ({}); check the role's trust policy (audience and subject of the token) and AWS_WEB_IDENTITY_TOKEN_FILE",
            short(service_reason(&text))
        );
    }
    if lower.contains("sso") && (lower.contains("expired") || lower.contains("token")) {
        return format!(
            "the SSO session of profile {profile:?} has expired or was never started ({}); run `aws sso login --profile {profile}`",
            short(&text)
        );
    }
    if let Some(process) = credential_process_failure(&raw_chain_text(err)) {
        return format!(
            "the credential_process of profile {profile:?} failed ({process}); run the command by hand to see why"
        );
    }
    if lower.contains("credentials from external process") {
        return format!(
            "the credential_process of profile {profile:?} failed ({}); run the command by hand to see why",
            short(&text)
        );
    }
    if lower.contains("profile") && (lower.contains("not defined") || lower.contains("not found")) {
        return format!(
            "profile {profile:?} is not in the AWS config or credentials files (~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE); check --profile or AWS_PROFILE"
        );
    }
    if lower.contains("assumerole") || lower.contains("assume role") || lower.contains("role_arn") {
        return format!(
            "could not assume the role of profile {profile:?} ({}); check role_arn, source_profile and the role's trust policy",
            short(service_reason(&text))
        );
    }
    if lower.contains("imds") || lower.contains("instance metadata") {
        if setup.imds_disabled {
            return none_found.to_owned();
        }
        return format!(
            "no AWS credentials found (none in the environment or profile {profile:?}, and the EC2 instance metadata service failed: {}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or pass --profile NAME, and off EC2 set AWS_EC2_METADATA_DISABLED=true",
            short(imds_reason(&text))
        );
    }
    if lower.contains("container") || lower.contains("ecs") {
        return format!(
            "the container credentials endpoint failed ({}); check AWS_CONTAINER_CREDENTIALS_FULL_URI or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and the task role",
            short(&text)
        );
    }
    format!(
        "could not load AWS credentials ({}); check the profile {profile:?} and the AWS_* variables",
        short(&text)
    )
}

/// `exit status: 3, stderr: first line` from aws-config's credential_process error text.
fn credential_process_failure(text: &str) -> Option<String> {
    let rest = &text[text.find("exited with code ")? + "exited with code ".len()..];
    let (status, stderr) = rest.split_once(". Stderr:").unwrap_or((rest, ""));
    let status = one_line(status);
    let first = stderr.trim().lines().next().unwrap_or("").trim();
    Some(if first.is_empty() {
        format!("{status}, nothing on stderr")
    } else {
        format!("{status}, stderr: {}", short(first))
    })
}

/// The part of a chain after the last "service error": what STS itself said.
fn service_reason(text: &str) -> &str {
    match text.rfind("service error: ") {
        Some(i) => &text[i + "service error: ".len()..],
        None => text,
    }
}

/// What went wrong with instance metadata, without the provider's preamble.
fn imds_reason(text: &str) -> &str {
    let text = text
        .strip_prefix("an error occurred while loading credentials: ")
        .unwrap_or(text);
    service_reason(text)
}

fn short(s: &str) -> String {
    const MAX: usize = 200;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Msg(&'static str, Option<Box<Msg>>);
    impl std::fmt::Display for Msg {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Msg {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|m| m as _)
        }
    }

    fn provider(parts: &[&'static str]) -> CredentialsError {
        let mut err: Option<Box<Msg>> = None;
        for p in parts.iter().rev() {
            err = Some(Box::new(Msg(p, err)));
        }
        CredentialsError::provider_error(*err.unwrap())
    }

    fn setup() -> Setup {
        Setup {
            profile: "ci".into(),
            ..Setup::default()
        }
    }

    #[test]
    fn chain_text_is_plain_and_deduplicated() {
        let err = provider(&[
            "failed to load IMDS session token",
            "service error",
            "forbidden",
        ]);
        assert_eq!(
            chain_text(&err),
            "an error occurred while loading credentials: failed to load IMDS session token: service error: forbidden"
        );
        let err = provider(&["outer: inner", "inner"]);
        assert_eq!(
            chain_text(&err),
            "an error occurred while loading credentials: outer: inner"
        );
    }

    #[test]
    fn each_case_gets_its_hint() {
        let cases: &[(CredentialsError, Setup, &[&str])] = &[
            (
                CredentialsError::not_loaded_no_source(),
                Setup::default(),
                &["no AWS credentials found", "AWS_ACCESS_KEY_ID", "--profile"],
            ),
            (
                CredentialsError::not_loaded_no_source(),
                Setup {
                    profile_chosen: true,
                    ..setup()
                },
                &["profile \"ci\" gives no AWS credentials", "AWS_PROFILE"],
            ),
            (
                provider(&[
                    "failed to load IMDS session token",
                    "service error",
                    "request forbidden: IMDS is disabled",
                ]),
                setup(),
                &[
                    "no AWS credentials found",
                    "instance metadata service failed: request forbidden",
                    "AWS_EC2_METADATA_DISABLED=true",
                ],
            ),
            (
                provider(&["the SSO token has expired and cannot be refreshed"]),
                setup(),
                &[
                    "SSO session of profile \"ci\"",
                    "aws sso login --profile ci",
                ],
            ),
            (
                provider(&[
                    "Error retrieving credentials: external process exited with code exit status: 3. Stderr: vault: permission denied\nmore",
                ]),
                setup(),
                &[
                    "credential_process of profile \"ci\" failed",
                    "exit status: 3",
                    "stderr: vault: permission denied",
                ],
            ),
            (
                provider(&[
                    "failed to load credentials from web identity token",
                    "service error",
                    "InvalidIdentityToken: Couldn't retrieve verification key",
                ]),
                Setup {
                    web_identity_role: Some("arn:aws:iam::1:role/ci".into()),
                    ..setup()
                },
                &[
                    "STS refused the web identity token for role arn:aws:iam::1:role/ci",
                    "(InvalidIdentityToken: Couldn't retrieve verification key)",
                    "trust policy",
                ],
            ),
        ];
        for (err, setup, needles) in cases {
            let msg = explain(err, setup);
            for n in *needles {
                assert!(msg.contains(n), "{msg:?} should contain {n:?}");
            }
            assert!(
                !msg.contains('\n') && !msg.contains("ProviderError {"),
                "{msg}"
            );
        }
    }

    #[test]
    fn setup_from_the_environment() {
        let env = Environment::from_pairs([
            ("AWS_PROFILE", "p"),
            ("AWS_ROLE_ARN", "arn:r"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ("AWS_EC2_METADATA_DISABLED", "TRUE"),
        ]);
        let s = Setup::new(None, &env);
        assert_eq!(s.profile, "p");
        assert!(s.profile_chosen);
        assert_eq!(s.web_identity_role.as_deref(), Some("arn:r"));
        assert!(s.imds_disabled);
        assert_eq!(Setup::new(Some("flag"), &env).profile, "flag");
        let implicit = Setup::new(None, &Environment::default());
        assert_eq!(implicit.profile, "default");
        assert!(!implicit.profile_chosen);
    }
}
