//! `s3blob upload`: a local file to `suite/release/filename`.

use std::path::Path;
use std::time::Instant;

use tracing::info;

use crate::attributes::ObjectAttributes;
use crate::cli::{GlobalArgs, UploadArgs};
use crate::error::Error;
use crate::key::ObjectKey;
use crate::output::Report;
use crate::release;
use crate::shutdown::Shutdown;
use crate::transfer::upload::{self, UploadRequest};

pub async fn run(
    global: &GlobalArgs,
    args: UploadArgs,
    shutdown: &Shutdown,
) -> Result<Report, Error> {
    let started = Instant::now();
    if args.key.release == release::LATEST {
        return Err(Error::Usage(format!(
            "--release {}: the name is reserved for the highest release when downloading; upload under the release's own name",
            release::LATEST
        )));
    }
    let filename = match &args.filename {
        Some(f) => f.clone(),
        None => default_filename(&args.path)?,
    };
    let key = ObjectKey::new(&args.key.suite, &args.key.release, &filename)?;
    let attributes = ObjectAttributes::new(&args.attributes, &filename)?;
    let (settings, client) = super::connect(global, &args.tuning).await?;
    let req = UploadRequest {
        bucket: settings.bucket,
        key,
        path: args.path,
        overwrite: args.overwrite,
        attributes,
        settings: settings.transfer,
    };
    info!(
        "uploading {} to s3://{}/{}",
        req.path.display(),
        req.bucket,
        req.key
    );
    let progress = super::progress_for(global, "upload");
    let uploaded = upload::upload(&client, &req, progress.as_ref(), shutdown).await?;
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
