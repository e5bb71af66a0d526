//! `s3blob download`: files of a release to local files (or one to stdout).

use std::path::{Path, PathBuf};

use crate::cli::DownloadArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::key::ObjectKey;
use crate::output::download::DownloadReport;
use crate::output::{Batch, Outcome};
use crate::release::fetch::{Destination, Fetch, FileFetched, Files, fetch};
use crate::transfer::budget::Budget;

/// Refuses what cannot work before any request: several files or JSON to stdout, bad key
/// parts.
fn check(args: &DownloadArgs, json: bool) -> Result<(), Error> {
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    if to_stdout && (args.all || args.filename.len() > 1) {
        return Err(Error::Usage(
            "-o - writes one file to stdout; fetch several files into a directory with -o DIR"
                .to_owned(),
        ));
    }
    if to_stdout && args.tuning.resumable {
        return Err(Error::Usage(
            "--resumable keeps a partial file beside the destination; -o - writes to stdout, which cannot be resumed: drop one of them".to_owned(),
        ));
    }
    if to_stdout && json {
        return Err(Error::Usage(
            "--json cannot be combined with -o -: stdout carries the file".to_owned(),
        ));
    }
    crate::key::check_part("--suite", &args.key.suite)?;
    crate::key::check_part("--release", &args.key.release)?;
    for filename in &args.filename {
        ObjectKey::new(&args.key.suite, &args.key.release, filename)?;
    }
    Ok(())
}

pub async fn run(cx: &Context<'_>, args: DownloadArgs) -> Result<Outcome, Error> {
    check(&args, cx.global.json)?;
    let (settings, client, release) =
        super::connect_to_release(cx, (&args.tuning).into(), &args.key).await?;
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    let destination = if to_stdout {
        Destination::Stdout
    } else if args.all || args.filename.len() > 1 {
        Destination::Dir(args.output.clone().unwrap_or_else(|| PathBuf::from(".")))
    } else {
        Destination::File(args.output.clone())
    };
    let budget = Budget::for_settings(&settings.transfer);
    let progress = super::progress_for(cx, &settings, "download", &budget);
    let req = Fetch {
        bucket: settings.bucket.clone(),
        release,
        files: if args.all {
            Files::All
        } else {
            Files::Named(args.filename.clone())
        },
        destination,
        no_clobber: args.no_clobber,
        settings: settings.transfer,
        budget,
        trusted: super::key::trusted_keys(cx)?,
    };
    let single = !matches!(req.destination, Destination::Dir(_));
    let files = fetch(&client, req, &progress, cx.shutdown).await?;
    let report = |file: FileFetched| {
        Box::new(DownloadReport {
            bucket: file.bucket,
            key: file.key,
            path: file.path,
            downloaded: file.downloaded,
            seconds: file.seconds,
        }) as Outcome
    };
    if to_stdout {
        // One file to stdout: its report alone.
        return match files.into_iter().next() {
            Some(Ok(file)) => Ok(report(file)),
            Some(Err(failure)) => Err(failure.error),
            None => Err(Error::Other("download: no file was fetched".to_owned())),
        };
    }
    let batch = Batch::of("download", "downloaded", files, single, report)?;
    Ok(Box::new(batch))
}
