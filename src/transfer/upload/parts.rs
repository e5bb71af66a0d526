//! The one send loop of a multipart upload: parts taken from the source in order, sent as
//! many at a time as the budget and the source's window allow, each with its CRC64NVME.

use super::*;

/// The bucket, key and upload id every part task needs.
struct Target {
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    /// The upload was created announcing CRC64NVME: every part carries its own.
    checksums: bool,
}

/// The one send loop: takes the source's parts in order and sends them, as many at a time as
/// the budget and the source's window allow, while collecting the finished ones; the first
/// failure stops the rest (dropping the set cancels them). With `announce`, each part's size is
/// added to the progress total as it is read (the source's size is not known up front).
pub(super) async fn send_parts<S: PartSource>(
    client: &Client,
    req: &UploadRequest,
    started: &multipart::Started,
    source: &mut S,
    announce: bool,
    kept: &std::collections::HashMap<u64, CompletedPart>,
    progress: &SharedProgress,
) -> Result<Assembled, Error> {
    let target = Arc::new(Target {
        client: client.clone(),
        bucket: req.bucket.clone(),
        key: req.key.to_string(),
        upload_id: started.id.clone(),
        checksums: started.checksums,
    });
    if announce {
        progress.size_unknown();
    }
    let mut done: Vec<Option<CompletedPart>> = Vec::new();
    let (mut size, mut crc64) = (0u64, checksum::crc64(b""));
    let mut set = JoinSet::new();
    // One part read ahead, so a stream is read while the parts before it are sent.
    let mut ready = source.next_part().await?;
    loop {
        // A part an interrupted upload already stored, checked against this one: not sent.
        if let Some(part) = ready.take_if(|p| kept.contains_key(&p.index)) {
            size += part.len;
            crc64 = checksum::combine(crc64, part.crc, part.len);
            progress.advance(part.len);
            place(&mut done, part.index, kept[&part.index].clone());
            ready = source.next_part().await?;
            continue;
        }
        let next_len = ready.as_ref().map_or(0, |p| p.len);
        tokio::select! {
            permit = req.budget.acquire(next_len), if ready.is_some() && set.len() < source.window() => {
                let Some(part) = ready.take() else { continue };
                size += part.len;
                crc64 = checksum::combine(crc64, part.crc, part.len);
                if announce {
                    progress.start(part.len);
                }
                let span = tracing::debug_span!("part", n = part.index + 1);
                set.spawn(tracing::Instrument::instrument(
                    upload_part(target.clone(), part, permit),
                    span,
                ));
                ready = source.next_part().await?;
            }
            Some(joined) = set.join_next() => {
                let (index, len, part) = joined
                    .map_err(|e| Error::Other(format!("a part upload task failed: {e}")))??;
                progress.advance(len);
                place(&mut done, index, part);
            }
            else => break,
        }
    }
    let parts = done
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.ok_or_else(|| Error::Other(format!("part {} was never sent", i + 1))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Assembled { parts, size, crc64 })
}

/// Puts part `index` (0-based) in its place among the finished ones.
fn place(done: &mut Vec<Option<CompletedPart>>, index: u64, part: CompletedPart) {
    let i = usize::try_from(index).unwrap_or(usize::MAX);
    if done.len() <= i {
        done.resize(i + 1, None);
    }
    done[i] = Some(part);
}

/// Sends one part (holding `permit` until it is done); returns its index, length and the
/// entry CompleteMultipartUpload needs.
async fn upload_part(
    target: Arc<Target>,
    part: Part,
    permit: Permit,
) -> Result<(u64, u64, CompletedPart), Error> {
    let _permit = permit;
    let number = i32::try_from(part.index + 1).unwrap_or(i32::MAX);
    let crc = checksum::to_base64(part.crc);
    let body = part.stream().await?;
    debug!(
        part = number,
        offset = part.offset,
        len = part.len,
        "UploadPart"
    );
    let out = target
        .client
        .upload_part()
        .bucket(&target.bucket)
        .key(&target.key)
        .upload_id(&target.upload_id)
        .part_number(number)
        .content_length(i64::try_from(part.len).unwrap_or(i64::MAX))
        .set_checksum_crc64_nvme(target.checksums.then(|| crc.clone()))
        .body(body)
        // The CRC64NVME protects the body; signing it too would hash it once more.
        .customize()
        .disable_payload_signing()
        .send()
        .await
        .map_err(|e| classify(&e, "upload a part of", &target.bucket, Some(&target.key)))?;
    debug!(part = number, "part stored");
    let completed = CompletedPart::builder()
        .part_number(number)
        .set_e_tag(out.e_tag)
        .set_checksum_crc64_nvme(target.checksums.then_some(crc))
        .build();
    Ok((part.index, part.len, completed))
}
