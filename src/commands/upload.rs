//! `s3blob upload`: local files to `suite/release/FILENAME`, one key per file.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::attributes::ObjectAttributes;
use crate::cli::UploadArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::key::{ObjectKey, ReleaseRef};
use crate::manifest::SHA256SUMS_NAME;
use crate::output::seal::{Published, SealReport};
use crate::output::upload::UploadReport;
use crate::output::{Batch, Outcome};
use crate::release;
use crate::release::publish::{Publish, publish};
use crate::transfer::budget::Budget;
use crate::transfer::upload;

/// Every file to upload with its key. Every key and attribute is checked here, before anything
/// is sent; a file's attributes are built again when its upload starts (in [`run`]).
fn plan(args: &UploadArgs) -> Result<Vec<(PathBuf, ObjectKey)>, Error> {
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
    let names_sums = args.filename.as_deref() == Some(SHA256SUMS_NAME)
        || args
            .paths
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == SHA256SUMS_NAME));
    if args.sha256sums && names_sums {
        return Err(Error::Usage(format!(
            "--sha256sums writes {SHA256SUMS_NAME} itself, and one of the PATHs is named so: drop --sha256sums, or upload your own {SHA256SUMS_NAME} without it"
        )));
    }
    // Every key and attribute is checked before anything is sent.
    let mut keys = Vec::with_capacity(args.paths.len());
    let mut seen = HashSet::new();
    let requested = (&args.attributes).into();
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
        ObjectAttributes::new(&requested, &filename)?;
        if !stdin {
            upload::check_uploadable(path)?;
        }
        keys.push((path.clone(), key));
    }
    Ok(keys)
}

pub async fn run(cx: &Context<'_>, args: UploadArgs) -> Result<Outcome, Error> {
    let files = plan(&args)?;
    // A bad signing key is refused before any byte is sent.
    let sign = if args.seal {
        super::key::signing_key(cx, &args.sign)?
    } else if args.sign.sign_key.is_some() {
        return Err(Error::Usage(
            "--sign-key signs the release when it is sealed: add --seal, or sign later with `s3blob seal --sign-key`".to_owned(),
        ));
    } else {
        None
    };
    let (settings, client) = super::connect(cx, (&args.tuning).into()).await?;
    let budget = Budget::for_settings(&settings.transfer);
    let progress = super::progress_for(cx, &settings, "upload", &budget);
    let one = files.len() == 1;
    let req = Publish {
        bucket: settings.bucket.clone(),
        release: ReleaseRef::new(&args.key.suite, &args.key.release)?,
        files,
        overwrite: args.overwrite,
        attributes: (&args.attributes).into(),
        settings: settings.transfer,
        budget,
        sha256sums: args.sha256sums,
        seal: args.seal,
        sign,
    };
    let published = publish(&client, req, &progress, cx.shutdown).await?;
    let uploads = Batch::of("upload", "uploaded", published.files, one, |stored| {
        Box::new(UploadReport {
            bucket: stored.bucket,
            key: stored.key,
            uploaded: stored.uploaded,
            seconds: stored.seconds,
        }) as Outcome
    })?;
    let uploads: Outcome = Box::new(uploads);
    Ok(match published.sealed {
        None => uploads,
        Some(sealed) => Box::new(Published {
            uploads,
            seal: SealReport {
                bucket: settings.bucket,
                sealed,
                seconds: published.started.elapsed().as_secs_f64(),
            },
        }),
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
