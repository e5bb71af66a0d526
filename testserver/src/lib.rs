//! An S3 server for s3blob's tests, demo and benchmarks: s3s with the s3s-fs backend (or the
//! in-memory backend in [`mem`], fast enough for benchmarks), real HTTP and real SigV4, on a loopback port,
//! optionally behind an S3-like network model ([`throttle`]), with connection and request
//! counters for benchmarks ([`stats`]); and loopback fakes of the AWS credential services
//! ([`credentials`]).

pub mod credentials;
pub mod cut;
pub mod faults;
pub mod mem;
pub mod stats;
pub mod throttle;
pub mod tls;
pub mod uploads;

pub use mem::Memory;
pub use throttle::NetModel;

use std::net::SocketAddr;
use std::path::PathBuf;

use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

/// s3s-fs behind a layer that restores AWS semantics where s3s-fs is lenient: writing or
/// reading in a bucket that does not exist is `NoSuchBucket` (s3s-fs would create the bucket,
/// or answer NoSuchKey); `If-Match` on GET and `x-amz-copy-source-if-match` on UploadPartCopy
/// are honoured; a multipart upload's full-object
/// CRC64NVME is kept and returned; listings are URL-encoded when asked; unfinished uploads and
/// their parts are listed as S3 lists them ([`uploads`]).
pub struct Strict {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
    /// How this server departs from S3, for tests of how s3blob copes.
    personality: std::sync::Arc<Personality>,
    /// S3 replaces an object whole: its bytes and its metadata at once. s3s-fs keeps them in
    /// separate files, so a read racing an overwrite could pair one writer's bytes with the
    /// other's metadata. Writes of whole objects take this exclusively, reads shared (a GET
    /// holds an open file, so the bytes stay those it started with).
    objects: tokio::sync::RwLock<()>,
    /// The full-object CRC64NVME a CompleteMultipartUpload carried, by (bucket, key): S3 keeps
    /// it and returns it on a whole GET and on a HEAD that asks; s3s-fs drops it. Kept, not
    /// checked against the parts.
    multipart_crc64: std::sync::Mutex<std::collections::HashMap<(String, String), String>>,
    /// The unfinished uploads and their parts as S3 lists them (s3s-fs cannot).
    on_disk: uploads::OnDisk,
}

/// Ways real S3-compatible stores depart from S3 that a test can switch on.
#[derive(Debug, Default)]
pub struct Personality {
    /// Garage does this: `If-None-Match: *` on PutObject and CompleteMultipartUpload is
    /// accepted and ignored, so an existing key is overwritten.
    pub ignore_if_none_match: std::sync::atomic::AtomicBool,
    /// s3s-fs and some stores do this: `If-Match` on GetObject is ignored, so a ranged GET of
    /// an object replaced since the first range returns the new object's bytes.
    pub ignore_if_match: std::sync::atomic::AtomicBool,
    /// s3s-fs and moto do this on their own: `If-None-Match: *` on PutObject and
    /// CompleteMultipartUpload is checked when the write arrives, and the write then goes on
    /// without holding the key, so two writes that both passed the check both land (the later
    /// one wins). [`Personality::after_check`] holds a write between its check and its write.
    pub check_conditions_apart: std::sync::atomic::AtomicBool,
    /// Conditional writes that passed their check on a store that checks apart.
    pub passed_checks: std::sync::atomic::AtomicUsize,
    /// Gates that hold the next writes that passed their check (how many, and the gate).
    pub after_check_gates: std::sync::Mutex<std::collections::VecDeque<(usize, faults::Gate)>>,
    /// Objects only the listing shows, with their sizes: keys real stores hold but a file
    /// system cannot, so s3s-fs cannot keep them (a directory marker `suite/release/`, which
    /// consoles create for "folders"; a name over 255 bytes). Reading one answers NoSuchKey.
    pub listed_only: std::sync::Mutex<std::collections::BTreeMap<String, i64>>,
    /// Entries per page of ListMultipartUploads and ListParts at most (0: S3's 1,000), so a
    /// test sees a client follow several pages.
    pub page_limit: std::sync::atomic::AtomicUsize,
    /// Keys a DeleteObjects refuses one by one, as S3 does for a key the policy protects: the
    /// request succeeds (200), the other keys go, and the answer lists each of these as an
    /// `Error` (AccessDenied) and keeps it.
    pub refused_deletes: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Personality {
    /// Counts a conditional write that passed its check, then holds it at the next gate set
    /// with [`faults::Faults::hold_after_check`], if any.
    async fn after_check(&self) {
        self.passed_checks
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let gate = {
            let mut gates = self
                .after_check_gates
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let gate = gates.front_mut().map(|(left, gate)| {
                *left -= 1;
                (*left, gate.clone())
            });
            if let Some((0, _)) = gate {
                gates.pop_front();
            }
            gate.map(|(_, gate)| gate)
        };
        if let Some(gate) = gate {
            gate.wait().await;
        }
    }
}

impl Strict {
    /// s3s-fs over `root` (one directory per bucket).
    pub fn new(root: PathBuf) -> std::io::Result<Self> {
        let fs =
            s3s_fs::FileSystem::new(&root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        Ok(Self {
            fs,
            root,
            personality: Default::default(),
            objects: tokio::sync::RwLock::new(()),
            multipart_crc64: Default::default(),
            on_disk: Default::default(),
        })
    }

    /// The same, departing from S3 as `personality` says (shared, so a test may switch it).
    pub fn with_personality(
        root: PathBuf,
        personality: std::sync::Arc<Personality>,
    ) -> std::io::Result<Self> {
        let mut strict = Self::new(root)?;
        strict.personality = personality;
        Ok(strict)
    }

    fn page_limit(&self) -> usize {
        self.personality
            .page_limit
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn ignores_conditions(&self) -> bool {
        self.personality
            .ignore_if_none_match
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// On a store that checks `If-None-Match: *` apart from the write: 412 if the key is taken
    /// now, else the write may go on, unconditionally (`None` then replaces the condition).
    /// Elsewhere the condition is kept for the write itself.
    async fn check_apart(
        &self,
        bucket: &str,
        key: &str,
        condition: Option<ETagCondition>,
    ) -> S3Result<Option<ETagCondition>> {
        let apart = self
            .personality
            .check_conditions_apart
            .load(std::sync::atomic::Ordering::Relaxed);
        if !apart || !matches!(condition, Some(ETagCondition::Any)) {
            return Ok(condition);
        }
        if self.root.join(bucket).join(key).exists() {
            return Err(S3Error::with_message(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ));
        }
        self.personality.after_check().await;
        Ok(None)
    }

    /// The ETag s3s-fs keeps for `bucket/key`, asked with the credentials of `like`.
    async fn etag_of<T>(
        &self,
        like: &S3Request<T>,
        bucket: &str,
        key: &str,
    ) -> S3Result<Option<ETag>> {
        let input = HeadObjectInput::builder()
            .bucket(bucket.to_owned())
            .key(key.to_owned())
            .build()
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
        let head = S3Request {
            input,
            method: http::Method::HEAD,
            uri: like.uri.clone(),
            headers: like.headers.clone(),
            extensions: http::Extensions::default(),
            credentials: like.credentials.clone(),
            region: like.region.clone(),
            service: like.service.clone(),
            trailing_headers: None,
        };
        Ok(self.fs.head_object(head).await?.output.e_tag)
    }

    /// The full-object CRC64NVME kept for `bucket/key`, if a multipart upload gave one.
    fn multipart_crc64_of(&self, bucket: &str, key: &str) -> Option<String> {
        self.multipart_crc64
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
    }

    fn set_multipart_crc64(&self, bucket: &str, key: &str, crc: Option<String>) {
        let mut kept = self
            .multipart_crc64
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = (bucket.to_owned(), key.to_owned());
        match crc {
            Some(crc) => kept.insert(at, crc),
            None => kept.remove(&at),
        };
    }

    fn check_bucket(&self, bucket: &str) -> S3Result<()> {
        if self.root.join(bucket).is_dir() {
            Ok(())
        } else {
            Err(S3Error::with_message(
                S3ErrorCode::NoSuchBucket,
                "The specified bucket does not exist",
            ))
        }
    }
}

#[async_trait::async_trait]
impl S3 for Strict {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.check_bucket(&req.input.bucket)?;
        let mut req = req;
        if self.ignores_conditions() {
            req.input.if_none_match = None;
        }
        req.input.if_none_match = self
            .check_apart(
                &req.input.bucket,
                &req.input.key,
                req.input.if_none_match.take(),
            )
            .await?;
        let _whole = self.objects.write().await;
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let out = self.fs.put_object(req).await?;
        self.set_multipart_crc64(&bucket, &key, None);
        Ok(out)
    }
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.check_bucket(&req.input.bucket)?;
        // s3s-fs ignores If-Match on GET; S3 answers 412 when the object has changed.
        let ignore = self
            .personality
            .ignore_if_match
            .load(std::sync::atomic::Ordering::Relaxed);
        if let Some(cond) = req.input.if_match.clone().filter(|_| !ignore) {
            let current = self
                .etag_of(&req, &req.input.bucket, &req.input.key)
                .await?;
            let matches = match (&cond, &current) {
                (ETagCondition::Any, Some(_)) => true,
                (ETagCondition::ETag(want), Some(have)) => want.value() == have.value(),
                _ => false,
            };
            if !matches {
                return Err(S3Error::with_message(
                    S3ErrorCode::PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold",
                ));
            }
        }
        let _whole = self.objects.read().await;
        let whole = req.input.range.is_none() && req.input.part_number.is_none();
        let kept = self.multipart_crc64_of(&req.input.bucket, &req.input.key);
        let mut out = self.fs.get_object(req).await?;
        if let Some(crc) = kept.filter(|_| whole) {
            out.output.checksum_crc64nvme = Some(crc);
            out.output.checksum_type = Some(ChecksumType::from_static(ChecksumType::FULL_OBJECT));
        }
        Ok(out)
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.check_bucket(&req.input.bucket)?;
        let _whole = self.objects.read().await;
        let asks = req
            .input
            .checksum_mode
            .as_ref()
            .is_some_and(|m| m.as_str() == ChecksumMode::ENABLED);
        let kept = self.multipart_crc64_of(&req.input.bucket, &req.input.key);
        let mut out = self.fs.head_object(req).await?;
        if let Some(crc) = kept.filter(|_| asks) {
            out.output.checksum_crc64nvme = Some(crc);
            out.output.checksum_type = Some(ChecksumType::from_static(ChecksumType::FULL_OBJECT));
        }
        Ok(out)
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.check_bucket(&req.input.bucket)?;
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let out = self.fs.delete_object(req).await?;
        self.set_multipart_crc64(&bucket, &key, None);
        Ok(out)
    }
    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.check_bucket(&req.input.bucket)?;
        // s3s has no If-None-Match for CopyObject (S3 does): read the header itself.
        let create_only = !self.ignores_conditions()
            && req
                .headers
                .get("if-none-match")
                .is_some_and(|v| v.as_bytes() == b"*");
        let _whole = self.objects.write().await;
        if create_only
            && self
                .root
                .join(&req.input.bucket)
                .join(&req.input.key)
                .exists()
        {
            return Err(S3Error::with_message(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ));
        }
        self.fs.copy_object(req).await
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.check_bucket(&req.input.bucket)?;
        // s3s-fs ignores x-amz-copy-source-if-match on UploadPartCopy; S3 answers 412 when the
        // source is no longer that object.
        if let (Some(ETagCondition::ETag(want)), CopySource::Bucket { bucket, key, .. }) =
            (&req.input.copy_source_if_match, &req.input.copy_source)
        {
            let current = self.etag_of(&req, bucket, key).await?;
            if current.as_ref().map(ETag::value) != Some(want.value()) {
                return Err(S3Error::with_message(
                    S3ErrorCode::PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold",
                ));
            }
        }
        let _whole = self.objects.read().await;
        let (id, n) = (req.input.upload_id.clone(), req.input.part_number);
        let mut out = self.fs.upload_part_copy(req).await?;
        // s3s-fs reports no checksum for a copied part; S3 reports its CRC64NVME.
        if let Some(result) = out.output.copy_part_result.as_mut() {
            result.checksum_crc64nvme = uploads::part_crc64nvme(&self.root, &id, n).await;
        }
        Ok(out)
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.check_bucket(&req.input.bucket)?;
        let _whole = self.objects.write().await;
        let refused_keys = self
            .personality
            .refused_deletes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut req = req;
        let (refused, kept): (Vec<ObjectIdentifier>, Vec<ObjectIdentifier>) = req
            .input
            .delete
            .objects
            .drain(..)
            .partition(|o| refused_keys.contains(&o.key));
        req.input.delete.objects = kept;
        let mut out = if req.input.delete.objects.is_empty() {
            S3Response::new(DeleteObjectsOutput::default())
        } else {
            self.fs.delete_objects(req).await?
        };
        let errors = out.output.errors.get_or_insert_with(Vec::new);
        for o in refused {
            errors.push(s3s::dto::Error {
                key: Some(o.key),
                code: Some("AccessDenied".to_owned()),
                message: Some("Access Denied".to_owned()),
                ..Default::default()
            });
        }
        Ok(out)
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.check_bucket(&req.input.bucket)?;
        self.fs.create_multipart_upload(req).await
    }
    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let (id, n) = (req.input.upload_id.clone(), req.input.part_number);
        let out = self.fs.upload_part(req).await?;
        if let Some(etag) = &out.output.e_tag {
            self.on_disk.part_stored(&self.root, &id, n, etag.value());
        }
        Ok(out)
    }
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        self.check_bucket(&req.input.bucket)?;
        let all = uploads::OnDisk::uploads(&self.root, &req.input.bucket)?;
        Ok(S3Response::new(uploads::uploads_page(
            &req.input.bucket,
            all,
            &req.input,
            self.page_limit(),
        )))
    }
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.check_bucket(&req.input.bucket)?;
        let parts = self.on_disk.parts(&self.root, &req.input.upload_id).await?;
        Ok(S3Response::new(uploads::parts_page(
            parts,
            &req.input,
            self.page_limit(),
        )))
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let mut req = req;
        if self.ignores_conditions() {
            req.input.if_none_match = None;
        }
        req.input.if_none_match = self
            .check_apart(
                &req.input.bucket,
                &req.input.key,
                req.input.if_none_match.take(),
            )
            .await?;
        let _whole = self.objects.write().await;
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let crc = req.input.checksum_crc64nvme.clone();
        let id = req.input.upload_id.clone();
        let out = self.fs.complete_multipart_upload(req).await?;
        self.on_disk.forget(&id);
        self.set_multipart_crc64(&bucket, &key, crc);
        Ok(out)
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let id = req.input.upload_id.clone();
        let out = self.fs.abort_multipart_upload(req).await?;
        self.on_disk.forget(&id);
        Ok(out)
    }
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        // s3s-fs lists objects without their ETags; S3 always gives them.
        let bucket = req.input.bucket.clone();
        let like = S3Request {
            input: (),
            method: req.method.clone(),
            uri: req.uri.clone(),
            headers: req.headers.clone(),
            extensions: http::Extensions::default(),
            credentials: req.credentials.clone(),
            region: req.region.clone(),
            service: req.service.clone(),
            trailing_headers: None,
        };
        // Continuation tokens are opaque on S3; s3s-fs uses the last key, which could carry
        // characters XML cannot: they travel hex-encoded.
        let mut req = req;
        let token = req.input.continuation_token.clone();
        if let Some(t) = &token {
            req.input.continuation_token = Some(unhex(t).ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "The continuation token provided is incorrect",
                )
            })?);
        }
        let url = req
            .input
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL);
        let first_page = token.is_none();
        let (prefix, delimiter) = (
            req.input.prefix.clone().unwrap_or_default(),
            req.input.delimiter.clone(),
        );
        let mut out = self.fs.list_objects_v2(req).await?;
        if let Some(contents) = out.output.contents.as_mut() {
            for o in contents.iter_mut().filter(|o| o.e_tag.is_none()) {
                if let Some(key) = o.key.clone() {
                    o.e_tag = self.etag_of(&like, &bucket, &key).await.ok().flatten();
                }
            }
        }
        if first_page {
            self.add_listed_only(&mut out.output, &prefix, delimiter.as_deref());
        }
        let o = &mut out.output;
        o.continuation_token = token;
        o.next_continuation_token = o.next_continuation_token.as_deref().map(hex);
        // S3 encodes these when asked to (encoding-type=url); s3s-fs only echoes the request.
        if url {
            let enc = |v: &mut Option<String>| {
                if let Some(s) = v.as_mut() {
                    *s = url_encode(s);
                }
            };
            for object in o.contents.iter_mut().flatten() {
                enc(&mut object.key);
            }
            for p in o.common_prefixes.iter_mut().flatten() {
                enc(&mut p.prefix);
            }
            enc(&mut o.prefix);
            enc(&mut o.delimiter);
            enc(&mut o.start_after);
        }
        Ok(out)
    }
}

impl Strict {
    /// Merges [`Personality::listed_only`] into the first page of a listing of `prefix`.
    fn add_listed_only(
        &self,
        out: &mut ListObjectsV2Output,
        prefix: &str,
        delimiter: Option<&str>,
    ) {
        let extra = self
            .personality
            .listed_only
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (key, size) in extra {
            let Some(rest) = key.strip_prefix(prefix) else {
                continue;
            };
            match delimiter.and_then(|d| rest.find(d).map(|i| i + d.len())) {
                Some(end) => {
                    let common = format!("{prefix}{}", &rest[..end]);
                    let prefixes = out.common_prefixes.get_or_insert_with(Vec::new);
                    if !prefixes
                        .iter()
                        .any(|p| p.prefix.as_deref() == Some(&common))
                    {
                        prefixes.push(CommonPrefix {
                            prefix: Some(common),
                        });
                        prefixes.sort_by(|a, b| a.prefix.cmp(&b.prefix));
                    }
                }
                None => {
                    let contents = out.contents.get_or_insert_with(Vec::new);
                    contents.push(Object {
                        key: Some(key.clone()),
                        size: Some(size),
                        last_modified: Some(std::time::SystemTime::now().into()),
                        ..Default::default()
                    });
                    contents.sort_by(|a, b| a.key.cmp(&b.key));
                }
            }
        }
        let count = out.contents.as_ref().map_or(0, Vec::len)
            + out.common_prefixes.as_ref().map_or(0, Vec::len);
        out.key_count = i32::try_from(count).ok();
    }
}

/// `s` as S3 encodes keys with `encoding-type=url`: unreserved characters and `/` as they are,
/// a space as `+`, every other byte as `%XX`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let raw = bytes
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(raw).ok()
}

/// How the servers read the `Host` header, as S3 does: `BUCKET.localhost[:PORT]` addresses
/// the bucket by its host name (virtual-hosted style); `localhost` and IP addresses leave the
/// bucket in the path (path style). Names under `.localhost` are loopback (RFC 6761), so a test
/// can reach the server by a bucket's host name.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopbackHost;

impl s3s::host::S3Host for LoopbackHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<s3s::host::VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        Ok(match name.strip_suffix(".localhost") {
            Some(bucket) if !bucket.is_empty() => {
                s3s::host::VirtualHost::new("localhost").with_bucket(bucket)
            }
            _ => s3s::host::VirtualHost::new(name),
        })
    }
}

/// Serves `root` (one directory per bucket) on `listener` until the process ends, accepting
/// only the given credentials.
pub async fn serve(
    listener: tokio::net::TcpListener,
    root: PathBuf,
    access_key: &str,
    secret_key: &str,
) -> std::io::Result<()> {
    let backend = Strict::new(root)?;
    serve_backend(listener, backend, access_key, secret_key, NetModel::NONE).await
}

/// Serves any s3s backend on `listener` until the process ends, accepting only the given
/// credentials, with `model` applied to every connection (a per-connection bandwidth cap in each
/// direction and a delay before each response). `GET /__s3blob/stats` (no authentication, not
/// delayed) answers the connections accepted and requests served so far ([`stats`]).
pub async fn serve_backend<B: S3>(
    listener: tokio::net::TcpListener,
    backend: B,
    access_key: &str,
    secret_key: &str,
    model: NetModel,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder as ConnBuilder;

    let mut builder = s3s::service::S3ServiceBuilder::new(backend);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key, secret_key));
    builder.set_host(LoopbackHost);
    let service = throttle::Delayed::new(builder.build(), model.latency);
    let stats = std::sync::Arc::new(stats::Stats::default());
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        stats.connection_accepted();
        let service = stats.connection_service(service.clone());
        let _ = socket.set_nodelay(true);
        match model.bandwidth {
            None => {
                let conn = http
                    .serve_connection(TokioIo::new(socket), service)
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            Some(rate) => {
                let io = throttle::Throttled::new(socket, rate).counted(stats.clone());
                let conn = http
                    .serve_connection(TokioIo::new(io), service)
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        }
    }
}

/// Binds 127.0.0.1:`port` (0 for any free port) and serves from a thread of its own, so
/// synchronous tests can use it, until the returned [`Running`] is dropped.
pub fn spawn(root: PathBuf, port: u16, access_key: &str, secret_key: &str) -> Running {
    let (ak, sk) = (access_key.to_owned(), secret_key.to_owned());
    serve_on_thread(port, move |listener| async move {
        let _ = serve(listener, root, &ak, &sk).await;
    })
}

/// A server on a thread of its own. Dropping it stops the server: its runtime shuts down,
/// which closes every connection and cancels every answer still in progress (a held, delayed
/// or stalled one included), so nothing a test started outlives the test.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds 127.0.0.1:`port` on a tokio runtime of its own (a thread, 2 workers) and runs `serve`
/// on the listener there until the returned [`Running`] is dropped.
pub fn serve_on_thread<F, Fut>(port: u16, serve: F) -> Running
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel::<std::io::Result<SocketAddr>>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(listener.local_addr());
            tokio::select! {
                () = serve(listener) => {}
                _ = stopped => {}
            }
        });
        // Connections and answers are tasks of this runtime: they end here, not with the
        // process. Blocking file work still running gets a moment to finish.
        rt.shutdown_timeout(std::time::Duration::from_secs(5));
    });
    let addr = rx.recv().expect("server thread").expect("bind 127.0.0.1");
    Running {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    }
}
