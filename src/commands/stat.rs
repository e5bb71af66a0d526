//! `s3blob stat`: what is stored at one key, and what its release's signature and manifest
//! say about it.

use crate::cli::ObjectArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::inspect;
use crate::key::ReleaseRef;
use crate::output::Outcome;
use crate::output::stat::StatReport;
use crate::release::signed::{self, Standing};
use crate::signature::Verdict;

pub async fn run(cx: &Context<'_>, args: ObjectArgs) -> Result<Outcome, Error> {
    let keys = super::key::trusted_keys(cx)?;
    let (settings, client, key) = super::connect_to_object(cx, &args, &keys).await?;
    let bucket = settings.bucket;
    // The signature is reported, never required: stat is how one looks at what is there.
    let release = ReleaseRef::listed(key.suite(), key.release());
    let object = key.to_string();
    let (info, checked) = tokio::join!(
        inspect::head(&client, &bucket, &object),
        signed::fetch(&client, &bucket, &release, &keys)
    );
    let info = info?;
    let (signature, standing) = match checked {
        Ok(checked) => {
            let standing = signed::standing(
                checked.manifest.as_ref(),
                key.filename(),
                info.size,
                info.checksum.map(|(crc, _)| crc),
            );
            (checked.verdict, standing)
        }
        // A damaged manifest is something to show, not a reason to show nothing.
        Err(Error::Integrity(why)) => {
            tracing::warn!("{why}");
            let verdict = Verdict::Invalid {
                key: None,
                why: "the manifest it signs fails its own check".to_owned(),
            };
            (verdict, Standing::Damaged)
        }
        Err(e) => return Err(e),
    };
    Ok(Box::new(StatReport {
        bucket,
        key,
        info,
        signature,
        manifest: standing,
    }))
}
