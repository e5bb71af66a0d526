//! `s3blob download`: `suite/release/filename` to a local file.

use std::time::Instant;

use tracing::info;

use crate::cli::{DownloadArgs, GlobalArgs};
use crate::error::Error;
use crate::output::Report;
use crate::shutdown::Shutdown;
use crate::transfer::download::{self, DownloadRequest};

pub async fn run(
    global: &GlobalArgs,
    args: DownloadArgs,
    shutdown: &Shutdown,
) -> Result<Report, Error> {
    let started = Instant::now();
    let (settings, client) = super::connect(global, &args.tuning).await?;
    let key = super::object_key(
        &client,
        &settings.bucket,
        &args.key.suite,
        &args.key.release,
        &args.filename,
    )
    .await?;
    let dest = download::destination(args.output.as_deref(), key.filename());
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
    let progress = super::progress_for(global, "download");
    let downloaded = download::download(&client, &req, progress, shutdown).await?;
    Ok(Report::Download {
        bucket: req.bucket,
        key: req.key,
        path: req.dest,
        downloaded,
        seconds: started.elapsed().as_secs_f64(),
    })
}
