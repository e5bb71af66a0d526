//! Doctor: what `presign` and `promote` rely on: a presigned GET fetched as a plain client
//! does, and server-side copies (CopyObject, UploadPartCopy) as promote sends them.

use super::*;

impl Probe {
    /// A presigned GET, fetched as a plain HTTP client does (no credentials, none of the SDK's
    /// headers), returns the object: what a consumer of `s3blob presign` does.
    pub(super) async fn presigned(&mut self, client_settings: &crate::config::ClientSettings) {
        let key = self.key("put");
        let config = match PresigningConfig::expires_in(Duration::from_secs(300)) {
            Ok(c) => c,
            Err(e) => {
                self.push("presign", Status::Info, format!("cannot presign: {e}"), "");
                return;
            }
        };
        let url = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .presigned(config)
            .await
        {
            Ok(req) => req.uri().to_owned(),
            Err(e) => {
                self.push(
                    "presign",
                    Status::Warn,
                    format!("cannot presign: {}", detail(&e)),
                    "",
                );
                return;
            }
        };
        // The object `put` holds now (the conditional-write probes may have replaced it on a
        // store that ignores If-None-Match).
        let expected = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(out) => out.body.collect().await.ok().map(|b| b.into_bytes()),
            Err(_) => None,
        };
        let found = match crate::s3::plain_get(client_settings, &url).await {
            Ok(answer) if (200..300).contains(&answer.status) => match &expected {
                Some(bytes) if answer.body == bytes[..] => Ok(()),
                Some(_) => Err("returned other bytes".to_owned()),
                None => Err("returned bytes that could not be compared".to_owned()),
            },
            Ok(answer) => Err(format!(
                "was refused (HTTP {}{})",
                answer.status,
                s3_error_of(&answer.body)
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default()
            )),
            Err(e) => Err(format!("failed ({e})")),
        };
        match found {
            Ok(()) => self.push(
                "presign",
                Status::Ok,
                "a presigned GET, sent as a plain HTTP client sends it, returns the object"
                    .to_owned(),
                "",
            ),
            Err(why) => self.push(
                "presign",
                Status::Warn,
                format!("a presigned GET sent as a plain HTTP client sends it {why}"),
                "URLs from s3blob presign will not work with this store",
            ),
        }
    }

    /// CopyObject and UploadPartCopy as `promote` sends them (create-only, pinned to the
    /// source's ETag), from the probe's object to keys of their own.
    pub(super) async fn copies(&mut self) {
        let source = self.key("put");
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&source)
            .send()
            .await;
        let (etag, size) = match head {
            Ok(out) => (
                out.e_tag().map(str::to_owned),
                out.content_length().unwrap_or(0),
            ),
            Err(e) => {
                self.push(
                    "copy-object",
                    Status::Info,
                    format!("HEAD of the probe's object failed ({})", detail(&e)),
                    "cannot tell whether promote works here",
                );
                return;
            }
        };
        let copy_source = crate::transfer::copy::copy_source(&self.bucket, &source);
        let key = self.key("copy");
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(&key)
            .copy_source(&copy_source)
            .metadata_directive(MetadataDirective::Copy)
            .if_none_match("*")
            .set_copy_source_if_match(etag.clone())
            .send()
            .await;
        let copied = match copied {
            Ok(_) => self.same_size(&key, size).await,
            Err(e) if crate::s3::not_implemented(&e) => Err(Lacks(detail(&e))),
            Err(e) => Err(Failed(detail(&e))),
        };
        let promote_fallback = "promote cannot work with this store (every other command does): download the release (s3blob download --all) and upload it to the destination instead";
        match copied {
            Ok(()) => self.push(
                "copy-object",
                Status::Ok,
                "CopyObject (create-only, pinned to the source's ETag) copied an object".to_owned(),
                "promote copies releases on the server here",
            ),
            Err(Lacks(why)) => self.push(
                "copy-object",
                Status::Warn,
                format!("CopyObject is not implemented ({why})"),
                promote_fallback,
            ),
            Err(Failed(why)) => self.push(
                "copy-object",
                Status::Warn,
                format!("CopyObject failed ({why})"),
                "promote may fail with this store; download and upload the release instead",
            ),
        }

        let key = self.key("copy-part");
        let copied = match self.start(&key, false).await {
            Err(why) => Err(Failed(why)),
            Ok(id) => {
                let part = self
                    .client
                    .upload_part_copy()
                    .bucket(&self.bucket)
                    .key(&key)
                    .upload_id(&id)
                    .part_number(1)
                    .copy_source(&copy_source)
                    .copy_source_range(format!("bytes=0-{}", size.max(1) - 1))
                    .set_copy_source_if_match(etag)
                    .send()
                    .await;
                match part {
                    Ok(out) => {
                        let part = CompletedPart::builder()
                            .part_number(1)
                            .set_e_tag(out.copy_part_result.and_then(|r| r.e_tag))
                            .build();
                        match self.complete(&key, &id, part, None, true).await {
                            Ok(()) => {
                                self.finished(&id);
                                self.same_size(&key, size).await
                            }
                            Err(why) => Err(Failed(why)),
                        }
                    }
                    Err(e) if crate::s3::not_implemented(&e) => Err(Lacks(detail(&e))),
                    Err(e) => Err(Failed(format!("UploadPartCopy: {}", detail(&e)))),
                }
            }
        };
        match copied {
            Ok(()) => self.push(
                "copy-part",
                Status::Ok,
                "UploadPartCopy of a byte range, pinned to the source's ETag, completed into an object".to_owned(),
                "promote copies objects over 5 GiB in parts here",
            ),
            Err(Lacks(why)) => self.push(
                "copy-part",
                Status::Warn,
                format!("UploadPartCopy is not implemented ({why})"),
                "promote cannot copy objects over 5 GiB with this store: download and upload those releases instead",
            ),
            Err(Failed(why)) => self.push(
                "copy-part",
                Status::Warn,
                format!("a multipart copy failed ({why})"),
                "promote may fail for objects over 5 GiB with this store",
            ),
        }
    }

    /// The object at `key` has `size` bytes (a copy arrived whole).
    pub(super) async fn same_size(&self, key: &str, size: i64) -> Result<(), CopyProbe> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) if out.content_length() == Some(size) => Ok(()),
            Ok(out) => Err(Failed(format!(
                "the copy holds {} bytes, not {size}",
                out.content_length().unwrap_or(0)
            ))),
            Err(e) => Err(Failed(format!("HEAD of the copy: {}", detail(&e)))),
        }
    }
}
