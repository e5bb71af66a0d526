//! `s3blob upload`: local files to `suite/release/FILENAME`, one key per file.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::Client;
use tracing::info;

use crate::attributes::ObjectAttributes;
use crate::cli::UploadArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::key::ObjectKey;
use crate::output::Report;
use crate::progress::Progress;
use crate::release;
use crate::shutdown::Shutdown;
use crate::transfer::budget::Budget;
use crate::transfer::stream;
use crate::transfer::upload::{self, UploadRequest};

pub async fn run(cx: &Context<'_>, args: UploadArgs) -> Result<Report, Error> {
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
        let attributes = ObjectAttributes::new(&args.attributes, &filename)?;
        keys.push((path.clone(), key, attributes));
    }
    let (settings, client) = super::connect(cx, (&args.tuning).into()).await?;
    let budget = Budget::new(settings.transfer.concurrency);
    let progress = super::progress_for(cx.global, "upload");
    let requests: Vec<UploadRequest> = keys
        .into_iter()
        .map(|(path, key, attributes)| UploadRequest {
            bucket: settings.bucket.clone(),
            key,
            path,
            overwrite: args.overwrite,
            attributes,
            settings: settings.transfer,
            budget: budget.clone(),
        })
        .collect();

    let report = match <[UploadRequest; 1]>::try_from(requests) {
        Ok([req]) => one(client, req, progress.clone(), cx.shutdown.clone()).await,
        Err(requests) => {
            let items = requests
                .into_iter()
                .map(|req| (req.path.display().to_string(), req))
                .collect();
            super::batch("upload", items, settings.transfer.concurrency, |req| {
                one(client.clone(), req, progress.clone(), cx.shutdown.clone())
            })
            .await
        }
    };
    progress.finish();
    report
}

/// Uploads one file to its report.
async fn one(
    client: Client,
    req: UploadRequest,
    progress: Arc<dyn Progress>,
    shutdown: Shutdown,
) -> Result<Report, Error> {
    let started = Instant::now();
    info!(
        "uploading {} to s3://{}/{}",
        if req.path.as_os_str() == "-" {
            "stdin".into()
        } else {
            req.path.display().to_string()
        },
        req.bucket,
        req.key
    );
    let uploaded = if req.path.as_os_str() == "-" {
        stream::upload_stream(
            &client,
            &req,
            tokio::io::stdin(),
            progress.as_ref(),
            &shutdown,
        )
        .await?
    } else {
        upload::upload(&client, &req, progress.as_ref(), &shutdown).await?
    };
    Ok(Report::Upload {
        bucket: req.bucket,
        key: req.key,
        uploaded,
        seconds: started.elapsed().as_secs_f64(),
    })
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
