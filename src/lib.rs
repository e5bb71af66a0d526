//! s3blob moves release artifacts between a machine and S3-compatible object storage.
//!
//! How a command flows through the modules:
//!
//! - [`cli`]: the raw flags as clap parses them.
//! - [`config`]: pure resolution of flags, environment (and `.env`) and defaults into settings.
//! - [`key`]: the `suite/release/filename` key, built and validated in one place.
//! - [`s3`]: the one `aws_sdk_s3::Client`, and the translation of its errors.
//! - [`transfer`]: [`transfer::plan`] (pure part and range math), [`transfer::upload`] (single
//!   PUT or concurrent multipart, aborted on failure), [`transfer::download`] (concurrent
//!   ranged GETs into positioned writes).
//! - [`checksum`]: CRC64NVME and the combining of part checksums.
//! - [`atomic_file`]: the temporary file that becomes the download only when it is complete.
//! - [`progress`], [`output`], [`logging`]: what the user sees on stderr and stdout (never a
//!   credential).
//! - [`error`]: every failure kind and its exit code; [`shutdown`]: SIGINT/SIGTERM handling.
//!
//! Side effects (the client, the progress sink, the shutdown signal) are passed in, so each
//! stage can be tested alone.

pub mod atomic_file;
pub mod checksum;
pub mod cli;
pub mod config;
pub mod error;
pub mod key;
pub mod logging;
pub mod output;
pub mod progress;
pub mod s3;
pub mod shutdown;
pub mod transfer;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tracing::info;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::key::ObjectKey;
use crate::output::Report;
use crate::progress::{Bar, Progress, Quiet};
use crate::shutdown::Shutdown;
use crate::transfer::download::{self, DownloadRequest};
use crate::transfer::upload::{self, UploadRequest};

/// Runs one command to its report; the caller prints it and maps errors to exit codes.
pub async fn run(cli: Cli, shutdown: Shutdown) -> Result<Report, Error> {
    let env = |name: &str| std::env::var(name).ok();
    let started = Instant::now();
    match cli.command {
        Command::Upload(args) => {
            let filename = match &args.filename {
                Some(f) => f.clone(),
                None => default_filename(&args.path)?,
            };
            let key = ObjectKey::new(&args.key.suite, &args.key.release, &filename)?;
            let settings = config::resolve(&cli.global, &args.tuning, env)?;
            let client = s3::client(&settings.client).await;
            let req = UploadRequest {
                bucket: settings.bucket,
                key,
                path: args.path,
                overwrite: args.overwrite,
                settings: settings.transfer,
            };
            info!(
                "uploading {} to s3://{}/{}",
                req.path.display(),
                req.bucket,
                req.key
            );
            let progress = progress_for(&cli.global, "upload");
            let uploaded = upload::upload(&client, &req, progress.as_ref(), &shutdown).await?;
            Ok(Report::Upload {
                bucket: req.bucket,
                key: req.key.to_string(),
                uploaded,
                seconds: started.elapsed().as_secs_f64(),
            })
        }
        Command::Download(args) => {
            let key = ObjectKey::new(&args.key.suite, &args.key.release, &args.filename)?;
            let settings = config::resolve(&cli.global, &args.tuning, env)?;
            let dest = download::destination(args.output.as_deref(), key.filename());
            let client = s3::client(&settings.client).await;
            let req = DownloadRequest {
                bucket: settings.bucket,
                key,
                dest,
                no_clobber: args.no_clobber,
                settings: settings.transfer,
            };
            info!(
                "downloading s3://{}/{} to {}",
                req.bucket,
                req.key,
                req.dest.display()
            );
            let progress = progress_for(&cli.global, "download");
            let downloaded = download::download(&client, &req, progress, &shutdown).await?;
            Ok(Report::Download {
                bucket: req.bucket,
                key: req.key.to_string(),
                path: req.dest,
                downloaded,
                seconds: started.elapsed().as_secs_f64(),
            })
        }
    }
}

/// The key's last part when `--filename` is not given: the local file's own name.
fn default_filename(path: &Path) -> Result<String, Error> {
    let name = path.file_name().ok_or_else(|| {
        Error::Usage(format!(
            "{} has no file name; pass --filename",
            path.display()
        ))
    })?;
    name.to_str().map(str::to_owned).ok_or_else(|| {
        Error::Usage(format!(
            "the file name of {} is not valid UTF-8 and cannot be a key; pass --filename",
            path.display()
        ))
    })
}

/// A bar when a person is watching stderr, nothing otherwise (CI logs stay clean).
fn progress_for(global: &cli::GlobalArgs, label: &str) -> Arc<dyn Progress> {
    if !global.quiet && std::io::stderr().is_terminal() {
        Arc::new(Bar::new(label))
    } else {
        Arc::new(Quiet)
    }
}
