//! `s3blob delete`: removes one artifact, only with `--yes` (s3blob never prompts).

use tracing::info;

use crate::cli::DeleteArgs;
use crate::commands::Context;
use crate::config::Tuning;
use crate::error::Error;
use crate::inspect;
use crate::key::ObjectKey;
use crate::output::Outcome;
use crate::output::delete::DeleteReport;
use crate::release::{self, state};
use crate::s3::classify;

pub async fn run(cx: &Context<'_>, args: DeleteArgs) -> Result<Outcome, Error> {
    let o = &args.object;
    let key = ObjectKey::new(&o.key.suite, &o.key.release, &o.filename)?;
    if o.key.release == release::LATEST {
        return Err(Error::Usage(format!(
            "--release {}: name the release to delete from explicitly; deleting from whichever release is highest is too easy to get wrong",
            release::LATEST
        )));
    }
    let (settings, client) = super::connect(cx, Tuning::default()).await?;
    let bucket = settings.bucket;
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
            "release {}/{} in s3://{bucket} is sealed: its files cannot be deleted one by one (a sealed release is immutable)",
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
    info!("deleted s3://{bucket}/{k}");
    Ok(Box::new(DeleteReport { bucket, key }))
}
