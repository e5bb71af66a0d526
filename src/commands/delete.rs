//! `s3blob delete`: removes one artifact of an open release, or with `--all` a whole release
//! (manifest first); only with `--yes` (s3blob never prompts).

use crate::cli::DeleteArgs;
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::inspect;
use crate::key::{ObjectKey, check_part};
use crate::output::Outcome;
use crate::output::delete::{DeleteReport, ReleaseRemoved};
use crate::release::{self, remove, state};
use crate::s3::classify;

pub async fn run(cx: &Context<'_>, args: DeleteArgs) -> Result<Outcome, Error> {
    let (suite, release) = (&args.key.suite, &args.key.release);
    if release == release::LATEST {
        return Err(Error::Usage(format!(
            "--release {}: name the release to delete from explicitly; deleting from whichever release is highest is too easy to get wrong",
            release::LATEST
        )));
    }
    let key = match &args.filename {
        Some(filename) => Some(ObjectKey::new(suite, release, filename)?),
        None => {
            check_part("--suite", suite)?;
            check_part("--release", release)?;
            None
        }
    };
    let (settings, client) = super::connect(cx, Tuning::default()).await?;
    let bucket = settings.bucket;
    let Some(key) = key else {
        return delete_release(&client, bucket, suite, release, args.yes).await;
    };
    if !args.yes {
        return Err(Error::Usage(format!(
            "refusing to delete s3://{bucket}/{key} without --yes (s3blob never prompts)"
        )));
    }
    let k = key.to_string();
    // S3 answers a delete of a missing key with success: look first, so a typo is an error.
    // A sealed release is immutable: no file of it goes alone.
    let (head, manifest) = tokio::join!(
        inspect::head(&client, &bucket, &k),
        state::fetch(&client, &bucket, key.suite(), key.release())
    );
    head?;
    if manifest?.is_some() {
        return Err(Error::AlreadyExists(format!(
            "release {}/{} in s3://{bucket}/ is sealed: its files cannot be deleted one by one (a sealed release is immutable; delete --all removes the whole release)",
            key.suite(),
            key.release()
        )));
    }
    client
        .delete_object()
        .bucket(&bucket)
        .key(&k)
        .send()
        .await
        .map_err(|e| classify(&e, "delete", &bucket, Some(&k)))?;
    Ok(Box::new(DeleteReport { bucket, key }))
}

/// `delete --all`: the whole release, manifest first.
async fn delete_release(
    client: &aws_sdk_s3::Client,
    bucket: String,
    suite: &str,
    release: &str,
    yes: bool,
) -> Result<Outcome, Error> {
    if !yes {
        return Err(Error::Usage(format!(
            "refusing to delete the release s3://{bucket}/{suite}/{release}/ without --yes (s3blob never prompts)"
        )));
    }
    let contents = remove::contents(client, &bucket, suite, release).await?;
    if contents.keys.is_empty() {
        return Err(Error::NotFound(format!(
            "there is no release {suite}/{release} in s3://{bucket}/ (nothing under s3://{bucket}/{suite}/{release}/); check --suite and --release"
        )));
    }
    let removed = remove::remove(client, &bucket, &contents).await?;
    Ok(Box::new(ReleaseRemoved::new(bucket, removed)))
}
