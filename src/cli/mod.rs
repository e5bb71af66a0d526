//! The command line as the user types it: raw flags only. `config` turns them into settings.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::values;

mod args;

pub use args::{
    AttributeArgs, CompletionsArgs, CopyTuningArgs, DeleteArgs, DownloadArgs, DownloadTuningArgs,
    KeyAction, KeyArgs, KeyCommandArgs, KeyGenerateArgs, ListArgs, ManArgs, ObjectArgs,
    PresignArgs, PromoteArgs, PruneArgs, PublishKeyArgs, RangeTuningArgs, SealArgs, SignArgs,
    SseArg, Tuning, UploadArgs, UploadTuningArgs, UploadsAbortArgs, UploadsAction, UploadsArgs,
    UploadsFilterArgs, UploadsListArgs, VerifyArgs,
};

/// Shown after every `--help`: scripts need the exit codes more than anything else.
macro_rules! after_help {
    () => {
        "\
Exit codes: 0 ok, 1 other failure, 2 usage, 3 not found, 4 access denied or no credentials,
5 integrity (checksum or size mismatch), 6 already exists, 7 network or throttling after retries,
8 reduced guarantees (doctor only), 9 the proxy refused or could not be reached,
130 interrupted (SIGINT), 143 terminated (SIGTERM).

Credentials and region come from the standard AWS chain (environment, profiles, SSO, web
identity, instance roles). HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY (or lowercase)
choose a proxy as in curl. A .env file in the working directory (not under CI) may fill in
plain settings the environment lacks, never endpoints, files, profiles or checks.
-h shows the common options, --help every option."
    };
}
const AFTER_HELP: &str = after_help!();

#[derive(Debug, Parser)]
#[command(
    name = "s3blob",
    version,
    about = "Upload and download release artifacts to S3-compatible storage, streamed and verified",
    long_about = None,
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Bucket to use [env: S3BLOB_BUCKET]
    #[arg(long, global = true, value_name = "BUCKET")]
    pub bucket: Option<String>,

    /// AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile's, else (on AWS)
    /// the instance's, else us-east-1]
    #[arg(hide_short_help = true, long, global = true, value_name = "REGION", value_parser = values::parse_region)]
    pub region: Option<String>,

    /// Named profile from ~/.aws/config and ~/.aws/credentials [env: AWS_PROFILE]
    #[arg(hide_short_help = true, long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// S3-compatible endpoint, e.g. http://localhost:9000 [env: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// PEM file of the certificate authorities HTTPS trusts, for S3 and the credential
    /// providers, instead of the system's roots (as in the AWS CLI): for a store whose
    /// certificate a private CA signed [env: AWS_CA_BUNDLE; default: the profile's ca_bundle,
    /// else the system's roots]
    #[arg(hide_short_help = true, long, global = true, value_name = "FILE")]
    pub ca_bundle: Option<std::path::PathBuf>,

    /// Bucket addressing: path-style (http://host/bucket/key) or virtual-hosted (http://bucket.host/key);
    /// auto uses path-style with a custom endpoint [env: S3BLOB_ADDRESSING_STYLE]
    #[arg(
        hide_short_help = true,
        long,
        global = true,
        value_enum,
        value_name = "STYLE"
    )]
    pub addressing_style: Option<AddressingStyle>,

    /// Attempts per request (and per part or range) before giving up, 1 = no retries
    /// [env: AWS_MAX_ATTEMPTS; default: 5]
    #[arg(hide_short_help = true, long, global = true, value_name = "N", value_parser = values::parse_attempts)]
    pub max_attempts: Option<u32>,

    /// Seconds a request may stall (its body stops moving, either way) or wait for its response
    /// to start once sent, before the attempt is cut and retried; a slow link that keeps moving
    /// is never cut [env: S3BLOB_TIMEOUT; default: 10]
    #[arg(hide_short_help = true, long, global = true, value_name = "SECS", value_parser = values::parse_seconds)]
    pub timeout: Option<u64>,

    /// Bandwidth cap for the whole command, all connections together, each way (e.g. 5MiB/s,
    /// 40Mbit/s; 0 = none) [env: S3BLOB_LIMIT_RATE; default: none]
    #[arg(long, global = true, value_name = "RATE", value_parser = values::parse_rate)]
    pub limit_rate: Option<u64>,

    /// Bandwidth cap for uploads only, instead of --limit-rate's [default: --limit-rate]
    #[arg(hide_short_help = true, long, global = true, value_name = "RATE", value_parser = values::parse_rate)]
    pub limit_upload: Option<u64>,

    /// Bandwidth cap for downloads only, instead of --limit-rate's [default: --limit-rate]
    #[arg(hide_short_help = true, long, global = true, value_name = "RATE", value_parser = values::parse_rate)]
    pub limit_download: Option<u64>,

    /// Requests in flight at most, of any size (HEADs and small objects included), and files
    /// moved at once; large files are bounded by --concurrency parts as well
    /// [env: S3BLOB_MAX_REQUESTS; default: 256]
    #[arg(hide_short_help = true, long, global = true, value_name = "N", value_parser = values::parse_max_requests)]
    pub max_requests: Option<usize>,

    /// Send each object's CRC64NVME as the x-amz-checksum-crc64nvme header for the store to
    /// check: auto sends it and, if the store refuses it (Cloudflare R2 did until 2025), sends
    /// without it from then on; crc64nvme always; off never. Objects are verified end to end
    /// either way (the CRC64NVME is in their metadata) [env: S3BLOB_CHECKSUM_HEADER;
    /// default: auto]
    #[arg(hide_short_help = true, long, global = true, value_name = "WHEN", value_parser = values::parse_header_mode)]
    pub checksum_header: Option<values::HeaderMode>,

    /// Whether the store enforces If-None-Match: * (refuses to overwrite): trusted makes a new
    /// small object one conditional PUT; untrusted looks at the key before writing and reads
    /// it back after, so an upload racing this one is caught (exit 6); auto trusts AWS S3, not
    /// a custom endpoint [env: S3BLOB_CONDITIONAL_WRITES; default: auto]
    #[arg(hide_short_help = true, long, global = true, value_name = "TRUST", value_parser = values::parse_trust)]
    pub conditional_writes: Option<values::Trust>,

    /// Read settings from this file instead of ./.env, also under CI (where ./.env is not
    /// read); the same rules: plain settings only, never overriding the environment
    /// [env: S3BLOB_ENV_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Option<PathBuf>,

    /// Print JSON on stdout instead of the plain result: one object, or one object per line
    /// for `list`
    #[arg(long, global = true)]
    pub json: bool,

    /// Progress bar on stderr: auto shows it when stderr is a terminal
    #[arg(hide_short_help = true, long, global = true, value_enum, value_name = "WHEN", default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,

    /// Without a terminal (a CI log), log a progress line this often during a transfer
    /// [env: S3BLOB_PROGRESS_INTERVAL] [default: 10s]
    #[arg(hide_short_help = true, long, global = true, value_name = "DURATION", value_parser = values::parse_duration)]
    pub progress_interval: Option<std::time::Duration>,

    /// CI output besides the log: github adds error and warning annotations and a job summary
    /// ($GITHUB_STEP_SUMMARY), gitlab puts the command's log in a collapsible section; auto
    /// picks by GITHUB_ACTIONS / GITLAB_CI [env: S3BLOB_CI_OUTPUT; default: auto]
    #[arg(hide_short_help = true, long, global = true, value_name = "WHICH", value_parser = values::parse_ci_choice)]
    pub ci_output: Option<values::CiChoice>,

    /// Append a Markdown summary of what was published, fetched or verified (the release, each
    /// file's size and checksums) to FILE, as GitHub's job summary shows it
    #[arg(hide_short_help = true, long, global = true, value_name = "FILE")]
    pub summary_file: Option<PathBuf>,

    /// In the job summary, a presigned download link for each file, working for DURATION (at
    /// most 7d): anyone with the summary can then fetch the files until it expires
    #[arg(hide_short_help = true, long, global = true, value_name = "DURATION", value_parser = values::parse_expiry)]
    pub summary_links: Option<std::time::Duration>,

    /// A minisign public key (the `RW...` line, or a .pub file) whose signature a release must
    /// carry to be downloaded, verified, listed, promoted, presigned or taken as latest (stat
    /// and list --suite report it); repeat it for key rotation [env: S3BLOB_TRUSTED_KEYS, comma
    /// separated; default: none, nothing required, signers only reported]
    #[arg(long = "trusted-key", global = true, value_name = "KEY")]
    pub trusted_keys: Vec<String>,

    /// More logging on stderr (-v: debug, -vv: debug including the AWS SDK); RUST_LOG also works
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print nothing on stderr but errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AddressingStyle {
    Auto,
    Path,
    Virtual,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store local files (or stdin) at s3://BUCKET/SUITE/RELEASE/FILENAME and print each URI
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob upload --bucket artifacts --suite myapp --release 1.4.2 target/myapp.tar.gz\n",
        "  s3blob upload --suite myapp --release 1.4.2 dist/*.tar.gz dist/SHA256SUMS\n",
        "  tar cz dist | s3blob upload --suite myapp --release 1.4.2 --filename dist.tar.gz -\n",
        "  s3blob upload --suite myapp --release 1.4.2 --metadata commit=3f2a9c1 \\\n",
        "      --cache-control 'max-age=3600' dist/app.zip\n\n",
        after_help!()
    ))]
    Upload(UploadArgs),
    /// Fetch s3://BUCKET/SUITE/RELEASE/FILENAME to local files (or stdout) and print each path
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob download --bucket artifacts --suite myapp --release 1.4.2 --filename myapp.tar.gz -o dist/\n",
        "  s3blob download --suite myapp --release latest --filename myapp.tar.gz\n",
        "  s3blob download --suite myapp --release 1.4.2 --all -o dist/\n",
        "  s3blob download --suite myapp --release 1.4.2 --filename dist.tar.gz -o - | tar xz\n\n",
        after_help!()
    ))]
    Download(DownloadArgs),
    /// List suites, the releases of a suite (in version order), or the files of a release
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob list                                   # suites\n",
        "  s3blob list --suite myapp                     # releases, lowest to highest version; who signed\n",
        "  s3blob list --suite myapp --release latest    # files: size, last modified, checksum, name\n\n",
        after_help!()
    ))]
    List(ListArgs),
    /// Show an artifact's size, content type, dates, checksum and metadata, whether it is what
    /// its release's manifest lists, and who signed that release
    #[command(after_help = concat!(
        "Example:\n  s3blob stat --suite myapp --release 1.4.2 --filename myapp.tar.gz\n\n",
        after_help!()
    ))]
    Stat(ObjectArgs),
    /// Delete one artifact of an open release, or a whole release with --all (requires --yes;
    /// never prompts)
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob delete --suite myapp --release 1.4.2-rc1 --filename myapp.tar.gz --yes\n",
        "  s3blob delete --suite myapp --release 1.4.2-rc1 --all --yes\n\n",
        after_help!()
    ))]
    Delete(DeleteArgs),
    /// Copy a release on the server to another suite, release name or bucket (no artifact byte
    /// passes through this machine), check every copy there, and seal the copy with a manifest
    /// that records where it came from
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob promote --suite myapp-staging --release 1.4.2 --to-suite myapp\n",
        "  s3blob promote --suite myapp --release 1.4.2-rc3 --to-release 1.4.2\n",
        "  s3blob promote --suite myapp --release latest --to-bucket artifacts-public\n\n",
        "Each copy is create-only: identical content already at the destination is success,\n",
        "different content exit 6. Up to 5 GiB an object is one CopyObject (metadata kept);\n",
        "above, UploadPartCopy parts of --part-size, --concurrency at a time. Nothing is sealed\n",
        "at the destination unless every copy is there and checked.\n\n",
        after_help!()
    ))]
    Promote(PromoteArgs),
    /// Remove whole old releases of a suite: beyond the newest --keep N, or older than
    /// --older-than; never the highest sealed release (latest), never an open release younger
    /// than --open-grace
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob prune --suite myapp --keep 10 --dry-run\n",
        "  s3blob prune --suite myapp --keep 10 --older-than 90d --yes\n\n",
        "Each release goes manifest first, then its objects (DeleteObjects, 1,000 keys per\n",
        "request), so no command ever sees a sealed release with files missing.\n\n",
        after_help!()
    ))]
    Prune(PruneArgs),
    /// List or abort unfinished multipart uploads: those kept by `upload --resumable`, left by a
    /// crash, or any other client's
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob uploads list --suite myapp\n",
        "  s3blob uploads abort --suite myapp --release 1.4.2 --yes\n",
        "  s3blob uploads abort --older-than 7d --dry-run\n\n",
        "Parts of an unfinished upload are stored, and billed, until it is completed or aborted;\n",
        "a bucket lifecycle rule (AbortIncompleteMultipartUpload) aborts them after some days.\n\n",
        after_help!()
    ))]
    Uploads(UploadsArgs),
    /// Seal a release: check every file and write its manifest, so the release is complete,
    /// immutable, and what `--release latest` may name
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob seal --suite myapp --release 1.4.2 --expect-files 3\n",
        "  s3blob seal --suite myapp --release 1.4.2 --filename myapp-linux.tar.gz \\\n",
        "      --filename myapp-macos.tar.gz --sha256sums\n\n",
        after_help!()
    ))]
    Seal(SealArgs),
    /// Check a stored release against its manifest without downloading it (--deep reads every
    /// object and recomputes its checksum)
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob verify --suite myapp --release 1.4.2\n",
        "  s3blob verify --suite myapp --release latest --deep --json\n\n",
        after_help!()
    ))]
    Verify(VerifyArgs),
    /// Find out what the store does (checksum headers, conditional writes, If-Match, listing
    /// uploads, presigned URLs, clock skew) with a few 1 KiB requests under a scratch prefix it
    /// removes, and what s3blob does about each finding
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob doctor --bucket artifacts --endpoint-url https://minio.example.com:9000\n",
        "  s3blob doctor --json | jq -r '.checks[] | select(.status != \"ok\") | .id'\n\n",
        "Exit 0: every guarantee holds on this store; 8: s3blob works with reduced guarantees\n",
        "(the lines marked `reduced` say which and what s3blob does); otherwise the usual codes\n",
        "(3 no such bucket, 4 access denied, 7 unreachable).\n\n",
        after_help!()
    ))]
    Doctor,
    /// Make a minisign key pair for signing releases (see `--sign-key`, `--trusted-key`)
    #[command(after_help = concat!(
        "Examples:\n",
        "  S3BLOB_SIGN_KEY_PASSWORD=... s3blob key generate --out release-signing\n",
        "  s3blob key generate --out ci-signing --no-password\n\n",
        after_help!()
    ))]
    Key(KeyCommandArgs),
    /// Print a presigned URL that downloads an artifact without credentials until it expires
    /// (with --trusted-key, only for an artifact whose bytes, read once, a signature by a
    /// trusted key covers: exit 5 otherwise)
    #[command(after_help = concat!(
        "Example:\n  url=$(s3blob presign --suite myapp --release 1.4.2 --filename myapp.tar.gz --expires 2h)\n",
        "  curl -fo myapp.tar.gz \"$url\"\n\n",
        after_help!()
    ))]
    Presign(PresignArgs),
    /// Print a shell completion script
    #[command(after_help = concat!(
        "Example:\n",
        "  mkdir -p ~/.local/share/bash-completion/completions\n",
        "  s3blob completions bash > ~/.local/share/bash-completion/completions/s3blob"
    ))]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per subcommand into a directory
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob man --dir ~/.local/share/man/man1     # s3blob.1, s3blob-upload.1, ...\n",
        "  s3blob man | man -l -"
    ))]
    Man(ManArgs),
}

impl Command {
    /// The subcommand as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Upload(_) => "upload",
            Command::Download(_) => "download",
            Command::List(_) => "list",
            Command::Stat(_) => "stat",
            Command::Delete(_) => "delete",
            Command::Promote(_) => "promote",
            Command::Prune(_) => "prune",
            Command::Uploads(_) => "uploads",
            Command::Seal(_) => "seal",
            Command::Verify(_) => "verify",
            Command::Doctor => "doctor",
            Command::Key(_) => "key",
            Command::Presign(_) => "presign",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        }
    }
}

/// clap's error, several lines, as s3blob's: one line saying what is wrong (the values as
/// typed, clap's tip folded in), and a second with the usage (when clap gives one) and where
/// to read more; `subcommand` is the one typed, if any.
pub fn argument_error(rendered: &str, subcommand: Option<&str>) -> (String, Option<String>) {
    let mut message = String::new();
    let mut tips = Vec::new();
    let mut usage: Option<&str> = None;
    for line in rendered.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("For more information") {
            continue;
        }
        if let Some(rest) = t.strip_prefix("error: ") {
            message.push_str(rest);
        } else if let Some(rest) = t.strip_prefix("tip: ") {
            tips.push(rest);
        } else if let Some(rest) = t.strip_prefix("Usage: ") {
            usage.get_or_insert(rest);
        } else if usage.is_none() && line.starts_with(' ') {
            // The arguments listed under "the following required arguments were not provided:".
            message.push_str(if message.ends_with(':') { " " } else { ", " });
            message.push_str(t);
        }
    }
    for tip in tips {
        message.push_str(&format!(" ({tip})"));
    }
    let more = match subcommand {
        Some(sub) => format!("s3blob {sub} --help"),
        None => "s3blob --help".to_owned(),
    };
    let usage = match usage {
        Some(u) => Some(format!("usage: {u}; more: {more}")),
        None => Some(format!("more: {more}")),
    };
    (message, usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    fn parse_error(args: &[&str]) -> (String, Option<String>) {
        let err = Cli::try_parse_from(args).unwrap_err();
        argument_error(&err.render().to_string(), args.get(1).copied())
    }

    #[test]
    fn argument_errors_are_one_line_with_the_value_as_typed() {
        let cases: &[(&[&str], &str, &str)] = &[
            (
                &["s3blob", "prune", "--suite", "x", "--keep", "0"],
                "invalid value '0' for '--keep <N>': keep at least 1 release",
                "more: s3blob prune --help",
            ),
            (
                &[
                    "s3blob",
                    "presign",
                    "--suite",
                    "s",
                    "--release",
                    "1",
                    "--filename",
                    "f",
                    "--expires",
                    "8d",
                ],
                "invalid value '8d' for '--expires <DURATION>': out of range",
                "more: s3blob presign --help",
            ),
            (
                &["s3blob", "prune", "--suite", "x", "--dry-run"],
                "the following required arguments were not provided: <--keep <N>|--older-than <AGE>>",
                "more: s3blob prune --help",
            ),
            (
                &[
                    "s3blob",
                    "upload",
                    "--suite",
                    "s",
                    "--release",
                    "1",
                    "--sael",
                    "f",
                ],
                "unexpected argument '--sael' found (a similar argument exists: '--seal')",
                "usage: s3blob upload",
            ),
        ];
        for (args, message, usage) in cases {
            let (m, u) = parse_error(args);
            assert!(
                m.starts_with(message),
                "{m:?} should start with {message:?}"
            );
            assert!(!m.contains('\n'), "{m:?}");
            let u = u.unwrap_or_default();
            assert!(u.contains(usage), "{u:?} should contain {usage:?}");
        }
        let (m, _) = parse_error(&[
            "s3blob",
            "prune",
            "--suite",
            "x",
            "--older-than",
            "3w",
            "--keep",
            "1",
            "--yes",
            "--dry-run",
        ]);
        assert!(
            m.contains("'--dry-run' cannot be used with '--yes'")
                || m.contains("cannot be used with"),
            "{m}"
        );
    }

    #[test]
    fn old_spellings_still_parse() {
        let cli = Cli::try_parse_from([
            "s3blob",
            "seal",
            "--suite",
            "s",
            "--release",
            "1",
            "--file",
            "a",
        ])
        .unwrap();
        let Command::Seal(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.files, ["a"]);
        let cli =
            Cli::try_parse_from(["s3blob", "prune", "--suite", "s", "--older-than", "3w"]).unwrap();
        let Command::Prune(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.older_than.map(|d| d.as_secs()), Some(3 * 7 * 86_400));
    }
}
