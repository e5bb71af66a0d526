//! The flags of each subcommand, as clap parses them: what the user typed, nothing resolved.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::attributes::{Requested, Sse};
use crate::values;

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// First part of the key: the product or suite
    #[arg(long, value_name = "SUITE")]
    pub suite: String,

    /// Second part of the key: the release or version; `latest` is the suite's highest sealed
    /// release
    #[arg(long, value_name = "RELEASE")]
    pub release: String,
}

/// The key parts of a command that changes a release (upload, seal, delete): like
/// [`KeyArgs`], but `latest` names no release one may change.
#[derive(Debug, Args)]
pub struct PublishKeyArgs {
    /// First part of the key: the product or suite
    #[arg(long, value_name = "SUITE")]
    pub suite: String,

    /// Second part of the key: the release's own name, e.g. 1.4.2 (not `latest`, which only
    /// readers use, for the highest sealed release)
    #[arg(long, value_name = "RELEASE")]
    pub release: String,
}

/// One artifact: `--suite`, `--release` and `--filename`.
#[derive(Debug, Args)]
pub struct ObjectArgs {
    #[command(flatten)]
    pub key: KeyArgs,

    /// Last part of the key
    #[arg(long, value_name = "FILENAME")]
    pub filename: String,
}

/// The transfer flags a command takes (each command documents them in its own words), as
/// `config` receives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tuning {
    pub part_size: Option<u64>,
    pub concurrency: Option<usize>,
    /// `Some` for a command that can resume (upload, download): whether `--resumable` was
    /// given.
    pub resumable: Option<bool>,
}

/// How an upload is cut up and sent.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Transfer")]
pub struct UploadTuningArgs {
    /// Size of each part of a multipart upload (files larger than this are sent in parts), e.g.
    /// 8MiB; raised automatically to keep a file within 10,000 parts
    /// [env: S3BLOB_PART_SIZE; default: 16MiB]
    #[arg(long, value_name = "SIZE", value_parser = values::parse_part_size)]
    pub part_size: Option<u64>,

    /// Parts of --part-size in flight at once, shared by all the files of the command: with
    /// --part-size, the bytes in flight (small files go many at a time within them, up to
    /// --max-requests) [env: S3BLOB_CONCURRENCY; default: 16]
    #[arg(long, value_name = "N", value_parser = values::parse_concurrency)]
    pub concurrency: Option<usize>,

    /// Keep an interrupted multipart upload (SIGINT, SIGTERM, the network failing past the
    /// retries) instead of aborting it, so that the same command run again sends only the parts
    /// still missing. Without it an interrupted upload is aborted, but one left by a crash is
    /// still resumed. Stored parts are checked against the file (size and CRC64NVME) before
    /// they are used; stdin is never resumable. `s3blob uploads` lists and removes what is kept
    /// [env: S3BLOB_RESUMABLE=1]
    #[arg(long)]
    pub resumable: bool,
}

/// How an object is cut into ranges and fetched (download, verify --deep).
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Transfer")]
pub struct RangeTuningArgs {
    /// Size of each ranged GET, e.g. 8MiB [env: S3BLOB_PART_SIZE; default: 16MiB]
    #[arg(long, value_name = "SIZE", value_parser = values::parse_part_size)]
    pub part_size: Option<u64>,

    /// Ranges of --part-size in flight at once, shared by all the files of the command: with
    /// --part-size, the bytes in flight (small files go many at a time within them, up to
    /// --max-requests) [env: S3BLOB_CONCURRENCY; default: 16]
    #[arg(long, value_name = "N", value_parser = values::parse_concurrency)]
    pub concurrency: Option<usize>,
}

/// How a download is fetched, and whether it may be resumed.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Transfer")]
pub struct DownloadTuningArgs {
    #[command(flatten)]
    pub ranges: RangeTuningArgs,

    /// Keep an interrupted download (SIGINT, SIGTERM, the network failing past the retries) as
    /// `.NAME.s3blob-partial` beside the destination, with a record of the ranges done, so
    /// that the same command run again fetches only what is missing, if the object is
    /// unchanged (same ETag). The ranges kept are read back and checked before they are used,
    /// and the whole file is verified as always; the destination appears only complete.
    /// Without it an interrupted download leaves nothing, but a partial file kept earlier is
    /// still continued. Not for -o - [env: S3BLOB_RESUMABLE=1]
    #[arg(long)]
    pub resumable: bool,
}

impl From<&UploadTuningArgs> for Tuning {
    fn from(t: &UploadTuningArgs) -> Self {
        Tuning {
            part_size: t.part_size,
            concurrency: t.concurrency,
            resumable: Some(t.resumable),
        }
    }
}

impl From<&RangeTuningArgs> for Tuning {
    fn from(t: &RangeTuningArgs) -> Self {
        Tuning {
            part_size: t.part_size,
            concurrency: t.concurrency,
            resumable: None,
        }
    }
}

impl From<&DownloadTuningArgs> for Tuning {
    fn from(t: &DownloadTuningArgs) -> Self {
        Tuning {
            resumable: Some(t.resumable),
            ..(&t.ranges).into()
        }
    }
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    #[command(flatten)]
    pub key: PublishKeyArgs,

    /// The local files to upload, each under its own file name, several at a time within one
    /// --concurrency budget; `-` reads stdin (alone, with --filename)
    #[arg(value_name = "PATH", required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,

    /// Last part of the key, for a single PATH [default: PATH's file name]
    #[arg(long, value_name = "FILENAME")]
    pub filename: Option<String>,

    /// Replace an existing object at the key (otherwise an existing object with different
    /// content is refused with exit code 6)
    #[arg(long, conflicts_with = "seal")]
    pub overwrite: bool,

    /// Seal the release once every file is uploaded: check them all and write the release's
    /// manifest (nothing is sealed if any file fails)
    #[arg(long)]
    pub seal: bool,

    /// With --seal: compute the SHA-256 of every file (in the same pass as its checksum), list
    /// it in the manifest and store a SHA256SUMS file in the release
    #[arg(long, requires = "seal")]
    pub sha256sums: bool,

    #[command(flatten)]
    pub sign: SignArgs,

    #[command(flatten)]
    pub attributes: AttributeArgs,

    #[command(flatten)]
    pub tuning: UploadTuningArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["filename", "all"]))]
pub struct DownloadArgs {
    #[command(flatten)]
    pub key: KeyArgs,

    /// Last part of the key; repeat it to fetch several files of the release
    #[arg(long, value_name = "FILENAME")]
    pub filename: Vec<String>,

    /// Fetch every file of the release (into -o DIR, default the current directory)
    #[arg(long, conflicts_with = "filename")]
    pub all: bool,

    /// Where to write: a file path, `-` for stdout (one file), or a directory to write FILENAME
    /// into (created if missing when several files are fetched) [default: ./FILENAME]
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Refuse (exit code 6) instead of replacing an existing local file
    #[arg(long)]
    pub no_clobber: bool,

    #[command(flatten)]
    pub tuning: DownloadTuningArgs,
}

/// What is stored with an uploaded object besides its bytes.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Object attributes")]
pub struct AttributeArgs {
    /// User metadata stored with the object (repeatable); keys are lowercased, letters, digits,
    /// '-', '_' and '.'; values printable ASCII; 2 KiB in total
    #[arg(long = "metadata", value_name = "KEY=VALUE")]
    pub metadata: Vec<String>,

    /// Content-Type of the object [default: guessed from FILENAME, else application/octet-stream]
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,

    /// Cache-Control of the object, e.g. "max-age=3600"
    #[arg(long, value_name = "VALUE")]
    pub cache_control: Option<String>,

    /// Storage class, e.g. STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR [default: the bucket's]
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,

    /// Server-side encryption
    #[arg(long, value_enum, value_name = "ALGORITHM")]
    pub sse: Option<SseArg>,

    /// KMS key for --sse aws:kms [default: the account's aws/s3 key]
    #[arg(long, value_name = "KEY_ID", requires = "sse")]
    pub sse_kms_key_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SseArg {
    #[value(name = "AES256")]
    Aes256,
    #[value(name = "aws:kms")]
    AwsKms,
}

impl From<&AttributeArgs> for Requested {
    fn from(a: &AttributeArgs) -> Self {
        Requested {
            metadata: a.metadata.clone(),
            content_type: a.content_type.clone(),
            cache_control: a.cache_control.clone(),
            storage_class: a.storage_class.clone(),
            sse: a.sse.map(|s| match s {
                SseArg::Aes256 => Sse::Aes256,
                SseArg::AwsKms => Sse::AwsKms,
            }),
            sse_kms_key_id: a.sse_kms_key_id.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List the releases of this suite [default: list the suites]
    #[arg(long, value_name = "SUITE")]
    pub suite: Option<String>,

    /// List the files of this release of --suite (`latest`: the highest sealed release)
    #[arg(long, value_name = "RELEASE", requires = "suite")]
    pub release: Option<String>,

    /// The global --max-requests under its old name here (every other --concurrency counts
    /// parts of --part-size); kept so scripts that used it still work
    #[arg(long, hide = true, value_name = "N", value_parser = values::parse_max_requests)]
    pub concurrency: Option<usize>,
}

#[derive(Debug, Args)]
pub struct SealArgs {
    #[command(flatten)]
    pub key: PublishKeyArgs,

    /// A file the release must hold before it is sealed (repeatable)
    #[arg(long = "filename", alias = "file", value_name = "FILENAME")]
    pub files: Vec<String>,

    /// How many files the release must hold, exactly (fewer: exit 3, more: exit 6)
    #[arg(long, value_name = "N")]
    pub expect_files: Option<usize>,

    /// Compute the SHA-256 of every file (reading each once), list it in the manifest and
    /// store a SHA256SUMS file in the release
    #[arg(long)]
    pub sha256sums: bool,

    #[command(flatten)]
    pub sign: SignArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub key: KeyArgs,

    /// Also read every object (nothing is written to disk) and recompute its CRC64NVME, and
    /// its SHA-256 where the manifest lists one
    #[arg(long)]
    pub deep: bool,

    #[command(flatten)]
    pub tuning: RangeTuningArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub key: PublishKeyArgs,

    /// Last part of the key: the artifact to delete (not in a sealed release)
    #[arg(
        long,
        value_name = "FILENAME",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub filename: Option<String>,

    /// Delete the whole release, sealed or open: its manifest first (so no one sees a sealed
    /// release with files missing), then every object under SUITE/RELEASE/
    #[arg(long)]
    pub all: bool,

    /// Confirm the deletion (required: s3blob never prompts)
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The release to promote (`latest`: the suite's highest sealed release)
    #[command(flatten)]
    pub key: KeyArgs,

    /// The suite to copy it to [default: the same suite]
    #[arg(long, value_name = "SUITE")]
    pub to_suite: Option<String>,

    /// The release name at the destination [default: the same name]
    #[arg(long, value_name = "RELEASE")]
    pub to_release: Option<String>,

    /// The bucket to copy it to, on the same endpoint [default: --bucket]. Across regions the
    /// copy is sent to the destination with --region, which must be the destination's
    #[arg(long, value_name = "BUCKET")]
    pub to_bucket: Option<String>,

    /// Promote a release that is not sealed, as it is now. Without this, an open release is
    /// refused: it may be half-published, and a promoted release is sealed
    #[arg(long)]
    pub allow_open: bool,

    #[command(flatten)]
    pub sign: SignArgs,

    #[command(flatten)]
    pub tuning: CopyTuningArgs,
}

/// How a server-side copy of an object above 5 GiB is cut up.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Transfer")]
pub struct CopyTuningArgs {
    /// Size of each UploadPartCopy part when an object is above 5 GiB (smaller objects are one
    /// CopyObject); raised automatically to keep an object within 10,000 parts
    /// [env: S3BLOB_PART_SIZE; default: 16MiB]
    #[arg(long, value_name = "SIZE", value_parser = values::parse_part_size)]
    pub part_size: Option<u64>,

    /// Part copies of --part-size in flight at once, for the whole release (at most 4 for one
    /// object) [env: S3BLOB_CONCURRENCY; default: 16]
    #[arg(long, value_name = "N", value_parser = values::parse_concurrency)]
    pub concurrency: Option<usize>,
}

impl From<&CopyTuningArgs> for Tuning {
    fn from(t: &CopyTuningArgs) -> Self {
        Tuning {
            part_size: t.part_size,
            concurrency: t.concurrency,
            resumable: None,
        }
    }
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("rule").required(true).multiple(true).args(["keep", "older_than"]))]
pub struct PruneArgs {
    /// The suite whose old releases go
    #[arg(long, value_name = "SUITE")]
    pub suite: String,

    /// Keep the newest N releases in version order; older ones go (with --older-than, only
    /// those that are also older than that)
    #[arg(long, value_name = "N", value_parser = values::parse_keep)]
    pub keep: Option<u64>,

    /// Remove releases older than this, e.g. 30d or 6w: the age of a release is that of its newest
    /// object (for a sealed release, its manifest: when it was sealed)
    #[arg(long, value_name = "AGE", value_parser = values::parse_duration)]
    pub older_than: Option<std::time::Duration>,

    /// An open (unsealed) release younger than this is never removed: a job may still be
    /// publishing it
    #[arg(long, value_name = "AGE", value_parser = values::parse_duration, default_value = "24h")]
    pub open_grace: std::time::Duration,

    /// Print what would be removed, remove nothing
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,

    /// Confirm the removal (required unless --dry-run: s3blob never prompts)
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct PresignArgs {
    #[command(flatten)]
    pub object: ObjectArgs,

    /// How long the URL works: seconds, or a number with s, m, h, d or w (at most 7d)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = values::parse_expiry)]
    pub expires: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write s3blob.1 and a page per subcommand (s3blob-upload.1, ...) into DIR, created if
    /// missing, and print the paths written; without it, print the s3blob(1) page
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Signing a release when it is sealed.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Signing")]
pub struct SignArgs {
    /// Sign the release's manifest (and SHA256SUMS) with this minisign secret key file; an
    /// encrypted key's password comes from S3BLOB_SIGN_KEY_PASSWORD (never prompted)
    /// [env: S3BLOB_SIGN_KEY, holding the key's text itself]
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeyCommandArgs {
    #[command(subcommand)]
    pub action: KeyAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeyAction {
    /// Write NAME.key (the secret key, encrypted with S3BLOB_SIGN_KEY_PASSWORD unless
    /// --no-password) and NAME.pub, and print the public key line; never overwrites a file
    Generate(KeyGenerateArgs),
}

#[derive(Debug, Args)]
pub struct KeyGenerateArgs {
    /// Write NAME.key and NAME.pub
    #[arg(long, value_name = "NAME")]
    pub out: PathBuf,

    /// Leave the secret key unencrypted (keep it in a CI secret, not in a file others can read)
    #[arg(long)]
    pub no_password: bool,
}

/// `s3blob uploads`: the unfinished multipart uploads of the bucket.
#[derive(Debug, Args)]
pub struct UploadsArgs {
    #[command(subcommand)]
    pub action: UploadsAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum UploadsAction {
    /// List unfinished multipart uploads (s3blob's and any other client's): key, upload id,
    /// when it started and its age
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob uploads list\n",
        "  s3blob uploads list --suite myapp --older-than 1d --json\n"
    ))]
    List(UploadsListArgs),
    /// Abort unfinished multipart uploads, so their stored parts stop being billed (an upload
    /// still running then fails)
    #[command(after_help = concat!(
        "Examples:\n",
        "  s3blob uploads abort --suite myapp --release 1.4.2 --dry-run\n",
        "  s3blob uploads abort --older-than 7d --yes\n"
    ))]
    Abort(UploadsAbortArgs),
}

/// Which unfinished uploads: under a suite, a release, older than an age.
#[derive(Debug, Args)]
pub struct UploadsFilterArgs {
    /// Only uploads of this suite's keys [default: the whole bucket]
    #[arg(long, value_name = "SUITE")]
    pub suite: Option<String>,

    /// Only uploads of this release of --suite
    #[arg(long, value_name = "RELEASE", requires = "suite")]
    pub release: Option<String>,

    /// Only uploads started longer ago than this, e.g. 12h or 7d
    #[arg(long, value_name = "AGE", value_parser = values::parse_duration)]
    pub older_than: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct UploadsListArgs {
    #[command(flatten)]
    pub filter: UploadsFilterArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("confirm").required(true).args(["dry_run", "yes"]))]
pub struct UploadsAbortArgs {
    #[command(flatten)]
    pub filter: UploadsFilterArgs,

    /// Print what would be aborted, abort nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Confirm the aborts (required unless --dry-run: s3blob never prompts)
    #[arg(long)]
    pub yes: bool,
}
