//! Doctor: what the store does with checksums: the CRC64NVME header on PutObject (taken,
//! checked), the other algorithms, and a multipart upload's full-object CRC64NVME.

use super::*;

impl Probe {
    /// PutObject with `x-amz-checksum-crc64nvme`; without it if refused (which must work).
    /// Returns whether the store takes the header.
    pub(super) async fn put_checksum(&mut self) -> Result<bool, Error> {
        let key = self.key("put");
        let crc = checksum::crc64(&self.body);
        let with = self.put(&key, self.body.clone(), Some(crc), false).await;
        let Err(refusal) = with else {
            self.push(
                "checksum-put",
                Status::Ok,
                "PutObject with x-amz-checksum-crc64nvme accepted".to_owned(),
                "sends the header on every write, for the store to check the bytes on arrival",
            );
            return Ok(true);
        };
        let why = detail(&refusal);
        if let Err(e) = self.put(&key, self.body.clone(), None, false).await {
            // Refused either way: not a checksum matter.
            return Err(classify(
                &e,
                "upload a test object to",
                &self.bucket,
                Some(&key),
            ));
        }
        self.push(
            "checksum-put",
            Status::Reduced,
            format!("PutObject with x-amz-checksum-crc64nvme refused ({why}), accepted without it"),
            "resends without the header and leaves it off for the command (--checksum-header auto), or set --checksum-header off; the bytes are checked end to end by the CRC64NVME in the metadata at download, not by the store on arrival",
        );
        Ok(false)
    }

    /// A wrong CRC64NVME must be refused: otherwise the store does not check it.
    pub(super) async fn put_wrong_checksum(&mut self, header: bool) {
        if !header {
            return;
        }
        let key = self.key("wrong-checksum");
        let crc = checksum::crc64(&self.body) ^ 1;
        match self.put(&key, self.body.clone(), Some(crc), false).await {
            Err(e) if matches!(status(&e), Some(400)) => self.push(
                "checksum-checked",
                Status::Ok,
                format!("a body with a wrong CRC64NVME was refused ({})", detail(&e)),
                "",
            ),
            Err(e) => self.push(
                "checksum-checked",
                Status::Warn,
                format!("a body with a wrong CRC64NVME got {}", detail(&e)),
                "expected 400 BadDigest; the CRC64NVME in the metadata still checks every download",
            ),
            Ok(()) => self.push(
                "checksum-checked",
                Status::Reduced,
                "a body with a wrong CRC64NVME was stored: the header is accepted but not checked".to_owned(),
                "a body damaged on the way in is caught at download (exit 5), not at upload; s3blob verify --deep finds it earlier",
            ),
        }
    }

    /// Which other checksum headers PutObject takes (for other tools; s3blob uses CRC64NVME).
    pub(super) async fn other_algorithms(&mut self) {
        let mut taken = Vec::new();
        let mut refused = Vec::new();
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32C,
            ChecksumAlgorithm::Sha256,
        ] {
            let key = self.key(&format!("put-{}", alg.as_str().to_ascii_lowercase()));
            let mut call = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .body(ByteStream::from(self.body.clone()));
            call = match alg {
                ChecksumAlgorithm::Crc32 => call.checksum_crc32(be32(crc_fast::checksum(
                    crc_fast::CrcAlgorithm::Crc32IsoHdlc,
                    &self.body,
                ))),
                ChecksumAlgorithm::Crc32C => call.checksum_crc32_c(be32(crc_fast::checksum(
                    crc_fast::CrcAlgorithm::Crc32Iscsi,
                    &self.body,
                ))),
                _ => call.checksum_sha256(aws_smithy_types::base64::encode(
                    <sha2::Sha256 as sha2::Digest>::digest(&self.body),
                )),
            };
            match call.send().await {
                Ok(_) => taken.push(alg.as_str().to_owned()),
                Err(e) => refused.push(format!("{} ({})", alg.as_str(), detail(&e))),
            }
        }
        let found = match (taken.is_empty(), refused.is_empty()) {
            (_, true) => format!("PutObject also takes {}", taken.join(", ")),
            (true, _) => format!("PutObject refuses {}", refused.join(", ")),
            _ => format!(
                "PutObject takes {}; refuses {}",
                taken.join(", "),
                refused.join(", ")
            ),
        };
        self.push(
            "checksum-others",
            Status::Info,
            found,
            "not used by s3blob (CRC64NVME only)",
        );
    }

    /// A multipart upload announcing a full-object CRC64NVME, one part with its CRC, completed
    /// with it; then whether HEAD returns that CRC.
    pub(super) async fn multipart(&mut self, header: bool) {
        let key = self.key("multipart");
        let body = test_body(2);
        let crc = checksum::crc64(&body);
        let result = self.multipart_upload(&key, body, header, true).await;
        match result {
            Ok(()) if header => self.push(
                "checksum-multipart",
                Status::Ok,
                "CreateMultipartUpload (CRC64NVME, FULL_OBJECT), UploadPart with its CRC64NVME and CompleteMultipartUpload with the object's accepted".to_owned(),
                "",
            ),
            Ok(()) => self.push(
                "checksum-multipart",
                Status::Info,
                "multipart upload works without checksum headers (PutObject refused them)".to_owned(),
                "sends parts without the header; the CRC64NVME in the metadata checks every download",
            ),
            Err(why) => {
                // Again without the checksum headers, to tell what was refused.
                let plain = self.multipart_upload(&key, test_body(2), false, true).await;
                let (status, found, s3blob) = match plain {
                    Ok(()) => (
                        Status::Reduced,
                        format!("multipart upload with CRC64NVME refused ({why}); works without it"),
                        "set --checksum-header off for this store (auto falls back only when the first request of an upload is refused); the CRC64NVME in the metadata checks every download",
                    ),
                    Err(plain) => (
                        Status::Reduced,
                        format!("multipart upload fails ({plain})"),
                        "files larger than --part-size cannot be uploaded: raise --part-size up to 5GiB",
                    ),
                };
                self.push("checksum-multipart", status, found, s3blob);
                return;
            }
        }
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let kept = match &head {
            Ok(out) => out.checksum_crc64_nvme().and_then(checksum::from_base64) == Some(crc),
            Err(_) => false,
        };
        if kept {
            self.push(
                "checksum-kept",
                Status::Ok,
                "HEAD returns the full-object CRC64NVME of a multipart object".to_owned(),
                "stat shows it as the server's checksum",
            );
        } else {
            let (status, found, s3blob) = match &head {
                Ok(out) => match out.checksum_crc64_nvme() {
                    Some(other) => (
                        Status::Warn,
                        format!(
                            "HEAD returns a CRC64NVME ({other}) that is not the multipart object's"
                        ),
                        "checks its own objects against the CRC64NVME in their metadata; an object another tool wrote (no such metadata) is checked against the store's value, and would fail (exit 5, nothing left behind)",
                    ),
                    None => (
                        Status::Info,
                        "HEAD returns no CRC64NVME for a multipart object".to_owned(),
                        "checks downloads against the CRC64NVME in the object's metadata instead",
                    ),
                },
                Err(e) => (
                    Status::Info,
                    format!("HEAD of the multipart object failed ({})", detail(e)),
                    "checks downloads against the CRC64NVME in the object's metadata instead",
                ),
            };
            self.push("checksum-kept", status, found, s3blob);
        }
    }
}
