//! The transfer flags of the commands that move bytes (part size, concurrency, resuming), each
//! command's set as clap parses it, and `Tuning`, what `config` receives from any of them.

use clap::Args;

use crate::values;

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
