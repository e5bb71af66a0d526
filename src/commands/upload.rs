//! `s3blob upload`: local files to `suite/release/FILENAME`, one key per file.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aws_sdk_s3::Client;
use tracing::info;

use crate::attributes::ObjectAttributes;
use crate::cli::UploadArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::key::ObjectKey;
use crate::output::Outcome;
use crate::output::upload::UploadReport;
use crate::progress::SharedProgress;
use crate::release;
use crate::shutdown::Shutdown;
use crate::transfer::budget::Budget;
use crate::transfer::upload::{self, FileSource, StdinSource, UploadRequest};

/// Every file to upload with its key and attributes, all checked before anything is sent.
fn plan(args: &UploadArgs) -> Result<Vec<(PathBuf, ObjectKey, ObjectAttributes)>, Error> {
    if args.key.release == release::LATEST {
        return Err(Error::Usage(format!(
            "--release {}: the name is reserved for the highest release when downloading; upload under the release's own name",
            release::LATEST
        )));
    }
    if args.filename.is_some() && args.paths.len() > 1 {
        return Err(Error::Usage(
            "--filename names one file; with several PATHs each is stored under its own name"
                .to_owned(),
        ));
    }
    let stdin = args.paths.iter().any(|p| p.as_os_str() == "-");
    if stdin {
        if args.paths.len() > 1 {
            return Err(Error::Usage(
                "`-` (stdin) cannot be mixed with other PATHs; upload it in its own command"
                    .to_owned(),
            ));
        }
        if args.filename.is_none() {
            return Err(Error::Usage(
                "uploading stdin (`-`) needs --filename for the key's last part".to_owned(),
            ));
        }
        if std::io::stdin().is_terminal() {
            return Err(Error::Usage(
                "stdin is a terminal; pipe the data in, e.g. `tar cz dist | s3blob upload ... --filename dist.tar.gz -`"
                    .to_owned(),
            ));
        }
    }
    // Every key and attribute is checked before anything is sent.
    let mut keys = Vec::with_capacity(args.paths.len());
    let mut seen = HashSet::new();
    for path in &args.paths {
        let filename = match &args.filename {
            Some(f) => f.clone(),
            None => default_filename(path)?,
        };
        if !seen.insert(filename.clone()) {
            return Err(Error::Usage(format!(
                "two PATHs are named {filename:?}; they would overwrite each other's key: rename one or upload it separately with --filename"
            )));
        }
        let key = ObjectKey::new(&args.key.suite, &args.key.release, &filename)?;
        let attributes = ObjectAttributes::new(&(&args.attributes).into(), &filename)?;
        keys.push((path.clone(), key, attributes));
    }
    Ok(keys)
}

pub async fn run(cx: &Context<'_>, args: UploadArgs) -> Result<Outcome, Error> {
    let keys = plan(&args)?;
    let (settings, client) = super::connect(cx, (&args.tuning).into()).await?;
    let budget = Budget::new(settings.transfer.concurrency);
    let progress = super::progress_for(cx.global, "upload");
    let items: Vec<(String, (PathBuf, UploadRequest))> = keys
        .into_iter()
        .map(|(path, key, attributes)| {
            let req = UploadRequest {
                bucket: settings.bucket.clone(),
                key,
                overwrite: args.overwrite,
                attributes,
                settings: settings.transfer,
                budget: budget.clone(),
            };
            (path.display().to_string(), (path, req))
        })
        .collect();

    let report = match <[_; 1]>::try_from(items) {
        Ok([(_, (path, req))]) => {
            one(client, path, req, progress.clone(), cx.shutdown.clone()).await
        }
        Err(items) => {
            super::batch(
                "upload",
                "uploaded",
                items,
                settings.transfer.concurrency,
                |(path, req)| {
                    one(
                        client.clone(),
                        path,
                        req,
                        progress.clone(),
                        cx.shutdown.clone(),
                    )
                },
            )
            .await
        }
    };
    progress.finish();
    report
}

/// Uploads one file (or stdin, for `-`) to its report.
async fn one(
    client: Client,
    path: PathBuf,
    req: UploadRequest,
    progress: SharedProgress,
    shutdown: Shutdown,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let stdin = path.as_os_str() == "-";
    let label = if stdin {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    };
    info!("uploading {label} to s3://{}/{}", req.bucket, req.key);
    let uploaded = if stdin {
        let mut source = StdinSource::new(tokio::io::stdin(), req.settings.part_size);
        upload::upload(&client, &req, &mut source, &progress, &shutdown).await?
    } else {
        let mut source = FileSource::open(&path, req.settings.part_size)?;
        upload::upload(&client, &req, &mut source, &progress, &shutdown).await?
    };
    Ok(Box::new(UploadReport {
        bucket: req.bucket,
        key: req.key,
        uploaded,
        seconds: started.elapsed().as_secs_f64(),
    }))
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
