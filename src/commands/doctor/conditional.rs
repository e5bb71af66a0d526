//! Doctor: conditional writes (`If-None-Match: *` one at a time and racing, `If-Match` on
//! GET) and listing the multipart uploads in progress.

use super::*;

impl Probe {
    /// `If-None-Match: *` on PutObject and CompleteMultipartUpload, one at a time and two at
    /// once.
    pub(super) async fn conditional(&mut self, header: bool, trusted: bool) {
        let put = self.key("put");
        let crc = header.then(|| checksum::crc64(&test_body(3)));
        let single_put = match self.put(&put, test_body(3), crc, true).await {
            Err(e) if refused_by_condition(&e) => Ok(()),
            Err(e) => Err(format!("answered {}", detail(&e))),
            Ok(()) => Err("overwrote the existing object".to_owned()),
        };
        let single_complete = match self
            .multipart_upload(&put, test_body(4), header, true)
            .await
        {
            Err(why) if why.contains("HTTP 412") || why.contains("HTTP 409") => Ok(()),
            Err(why) => Err(format!("answered {why}")),
            Ok(()) => Err("overwrote the existing object".to_owned()),
        };
        let race = self.race(header).await;
        let problems: Vec<String> = [
            single_put
                .err()
                .map(|w| format!("PutObject with If-None-Match: * {w}")),
            single_complete
                .err()
                .map(|w| format!("CompleteMultipartUpload with If-None-Match: * {w}")),
            race.err(),
        ]
        .into_iter()
        .flatten()
        .collect();
        match (problems.is_empty(), trusted) {
            (true, true) => self.push(
                "conditional-writes",
                Status::Ok,
                "If-None-Match: * is enforced on PutObject and CompleteMultipartUpload, also for two writes at once".to_owned(),
                "trusts it (--conditional-writes trusted): a new small file is one conditional PUT",
            ),
            (true, false) => self.push(
                "conditional-writes",
                Status::Ok,
                "If-None-Match: * is enforced on PutObject and CompleteMultipartUpload, also for two writes at once".to_owned(),
                "looks before writing and reads back after (untrusted, the default for a custom endpoint); --conditional-writes trusted (S3BLOB_CONDITIONAL_WRITES=trusted) would be safe here and saves a request per file",
            ),
            (false, true) => self.push(
                "conditional-writes",
                Status::Reduced,
                problems.join("; "),
                "--conditional-writes trusted is set, but this store does not enforce them: unset it (or set untrusted), or an upload may silently replace another's object",
            ),
            (false, false) => self.push(
                "conditional-writes",
                Status::Reduced,
                problems.join("; "),
                "looks before writing and reads back after (--conditional-writes untrusted): an upload that loses a race is caught (exit 6), but two uploads finishing at the same instant can both succeed",
            ),
        }
    }

    /// Two conditional PutObjects, then two conditional CompleteMultipartUploads, of new keys
    /// at the same moment: exactly one of each pair may succeed.
    pub(super) async fn race(&mut self, header: bool) -> Result<(), String> {
        // A race is won or lost by timing: a few rounds catch a store that does not serialise.
        for round in 0..RACE_ROUNDS {
            self.race_once(header, round).await?;
        }
        Ok(())
    }

    pub(super) async fn race_once(&mut self, header: bool, round: u32) -> Result<(), String> {
        let (a, b) = (test_body(5), test_body(6));
        let key = self.key(&format!("race-put-{round}"));
        let (crc_a, crc_b) = (
            header.then(|| checksum::crc64(&a)),
            header.then(|| checksum::crc64(&b)),
        );
        let (one, two) = tokio::join!(
            self.put(&key, a.clone(), crc_a, true),
            self.put(&key, b.clone(), crc_b, true)
        );
        let mut problems = Vec::new();
        if one.is_ok() && two.is_ok() {
            problems
                .push("two PutObjects with If-None-Match: * of one new key at once both succeeded");
        }
        let key = self.key(&format!("race-multipart-{round}"));
        let started_a = self.start(&key, header).await;
        let started_b = self.start(&key, header).await;
        if let (Ok(id_a), Ok(id_b)) = (started_a, started_b) {
            let parts = tokio::join!(
                self.part(&key, &id_a, a.clone(), header),
                self.part(&key, &id_b, b.clone(), header)
            );
            if let (Ok(part_a), Ok(part_b)) = parts {
                let (one, two) = tokio::join!(
                    self.complete(&key, &id_a, part_a, crc_a, true),
                    self.complete(&key, &id_b, part_b, crc_b, true)
                );
                for (done, id) in [(one.is_ok(), &id_a), (two.is_ok(), &id_b)] {
                    if done {
                        self.finished(id);
                    }
                }
                if one.is_ok() && two.is_ok() {
                    problems.push("two CompleteMultipartUploads with If-None-Match: * of one new key at once both succeeded");
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// `If-Match` on GET: a wrong ETag must be refused.
    pub(super) async fn if_match(&mut self) {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key("put"))
            .if_match("\"00000000000000000000000000000000\"")
            .send()
            .await;
        match got {
            Err(e) if status(&e) == Some(412) => self.push(
                "if-match",
                Status::Ok,
                "GET with a wrong If-Match is refused (412)".to_owned(),
                "pins every range of a download to the object it started with",
            ),
            Err(e) => self.push(
                "if-match",
                Status::Warn,
                format!("GET with a wrong If-Match answered {}", detail(&e)),
                "expected 412; a download racing an overwrite is caught by its checksum instead (exit 5)",
            ),
            Ok(_) => self.push(
                "if-match",
                Status::Warn,
                "GET with a wrong If-Match was answered with the object: If-Match is ignored".to_owned(),
                "a download racing an overwrite may fetch ranges of two objects: its checksum catches the mix (exit 5, nothing left behind) instead of a clean \"changed during download\"",
            ),
        }
    }

    /// ListMultipartUploads shows an upload in progress.
    pub(super) async fn list_uploads(&mut self) {
        let key = self.key("listed");
        let Ok(id) = self.start(&key, false).await else {
            self.push(
                "list-uploads",
                Status::Info,
                "could not start a multipart upload to list".to_owned(),
                "",
            );
            return;
        };
        let listed = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .send()
            .await;
        match listed {
            Ok(out) if out.uploads().iter().any(|u| u.upload_id() == Some(id.as_str())) => self
                .push(
                    "list-uploads",
                    Status::Ok,
                    "ListMultipartUploads shows uploads in progress".to_owned(),
                    "resumes an interrupted upload of a file (upload --resumable); s3blob uploads lists and aborts unfinished uploads, other tools' included",
                ),
            Ok(_) => self.push(
                "list-uploads",
                Status::Info,
                "ListMultipartUploads does not show an upload in progress".to_owned(),
                "aborts its own unfinished uploads but cannot resume one, and s3blob uploads cannot list them: give the bucket a lifecycle rule (AbortIncompleteMultipartUpload)",
            ),
            Err(e) => self.push(
                "list-uploads",
                Status::Info,
                format!("ListMultipartUploads failed ({})", detail(&e)),
                "aborts its own unfinished uploads but cannot resume one, and s3blob uploads cannot list them: give the bucket a lifecycle rule (AbortIncompleteMultipartUpload)",
            ),
        }
    }
}
