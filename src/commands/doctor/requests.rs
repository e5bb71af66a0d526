//! Doctor: the probes' own requests (a small PutObject and multipart client of their own, so
//! each probe sees the store's answer as it is) and the cleanup of the scratch prefix.

use super::*;

impl Probe {
    /// Removes every object under the scratch prefix and aborts the uploads still open.
    pub(super) async fn cleanup(&mut self) -> Check {
        let mut failed = Vec::new();
        let mut aborted = 0;
        for (key, id) in std::mem::take(&mut self.uploads) {
            let abort = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&key)
                .upload_id(&id)
                .send()
                .await;
            match abort {
                Ok(_) => aborted += 1,
                // Completed, or already aborted.
                Err(e) if status(&e) == Some(404) => {}
                Err(e) => failed.push(format!("upload {id} of {key} ({})", detail(&e))),
            }
        }
        let mut removed = 0;
        let listed = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .encoding_type(aws_sdk_s3::types::EncodingType::Url)
            .send()
            .await;
        match listed {
            Ok(out) => {
                let encoded = out.encoding_type() == Some(&aws_sdk_s3::types::EncodingType::Url);
                for raw in out.contents().iter().filter_map(|o| o.key()) {
                    let key = if encoded {
                        match crate::listing::url_decode(raw) {
                            Some(key) => key,
                            None => {
                                failed.push(format!("{raw:?} (not valid URL encoding)"));
                                continue;
                            }
                        }
                    } else {
                        raw.to_owned()
                    };
                    let key = key.as_str();
                    match self
                        .client
                        .delete_object()
                        .bucket(&self.bucket)
                        .key(key)
                        .send()
                        .await
                    {
                        Ok(_) => removed += 1,
                        Err(e) => failed.push(format!("{key} ({})", detail(&e))),
                    }
                }
            }
            Err(e) => failed.push(format!("listing {} ({})", self.prefix, detail(&e))),
        }
        let found = format!(
            "removed {removed} test object(s) under s3://{}/{}, aborted {aborted} upload(s)",
            self.bucket, self.prefix
        );
        if failed.is_empty() {
            Check {
                id: "cleanup",
                status: Status::Ok,
                found,
                s3blob: String::new(),
            }
        } else {
            Check {
                id: "cleanup",
                status: Status::Warn,
                found: format!("{found}; could not remove {}", failed.join(", ")),
                s3blob: "remove them by hand".to_owned(),
            }
        }
    }

    pub(super) async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        crc: Option<u64>,
        create_only: bool,
    ) -> Result<(), SdkErr<aws_sdk_s3::operation::put_object::PutObjectError>> {
        let mut call = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .set_checksum_crc64_nvme(crc.map(checksum::to_base64));
        if create_only {
            call = call.if_none_match("*");
        }
        call.send().await.map(|_| ())
    }

    /// CreateMultipartUpload (announcing CRC64NVME when `header`); the upload is remembered for
    /// the cleanup.
    pub(super) async fn start(&mut self, key: &str, header: bool) -> Result<String, String> {
        let mut call = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key);
        if header {
            call = call
                .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
                .checksum_type(ChecksumType::FullObject);
        }
        let out = call
            .send()
            .await
            .map_err(|e| format!("CreateMultipartUpload: {}", detail(&e)))?;
        let id = out
            .upload_id()
            .ok_or("CreateMultipartUpload: no upload id")?
            .to_owned();
        self.uploads.push((key.to_owned(), id.clone()));
        Ok(id)
    }

    pub(super) async fn part(
        &self,
        key: &str,
        id: &str,
        body: Vec<u8>,
        header: bool,
    ) -> Result<CompletedPart, String> {
        let crc = checksum::to_base64(checksum::crc64(&body));
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from(body))
            .set_checksum_crc64_nvme(header.then(|| crc.clone()))
            .send()
            .await
            .map_err(|e| format!("UploadPart: {}", detail(&e)))?;
        Ok(CompletedPart::builder()
            .part_number(1)
            .set_e_tag(out.e_tag)
            .set_checksum_crc64_nvme(header.then_some(crc))
            .build())
    }

    pub(super) async fn complete(
        &self,
        key: &str,
        id: &str,
        part: CompletedPart,
        crc: Option<u64>,
        create_only: bool,
    ) -> Result<(), String> {
        let mut call = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(id)
            .multipart_upload(CompletedMultipartUpload::builder().parts(part).build());
        if let Some(crc) = crc {
            call = call
                .checksum_crc64_nvme(checksum::to_base64(crc))
                .checksum_type(ChecksumType::FullObject);
        }
        if create_only {
            call = call.if_none_match("*");
        }
        call.send()
            .await
            .map(|_| ())
            .map_err(|e| format!("CompleteMultipartUpload: {}", detail(&e)))
    }

    /// A one-part multipart upload of `body` to `key`, start to finish.
    pub(super) async fn multipart_upload(
        &mut self,
        key: &str,
        body: Vec<u8>,
        header: bool,
        create_only: bool,
    ) -> Result<(), String> {
        let crc = header.then(|| checksum::crc64(&body));
        let id = self.start(key, header).await?;
        let part = self.part(key, &id, body, header).await?;
        self.complete(key, &id, part, crc, create_only).await?;
        self.finished(&id);
        Ok(())
    }

    /// A multipart upload that was completed: nothing to abort.
    pub(super) fn finished(&mut self, id: &str) {
        self.uploads.retain(|(_, open)| open != id);
    }
}
