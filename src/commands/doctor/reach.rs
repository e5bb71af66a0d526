//! Doctor: whether the store can be reached at all (the one probe whose failure fails the
//! command), and how far this machine's clock is from the server's.

use super::*;

impl Probe {
    /// Reachable, credentials accepted, bucket there; and the server's clock.
    pub(super) async fn reach(&mut self) -> Result<(), Error> {
        let date = Arc::new(Mutex::new(None));
        let started = Instant::now();
        self.client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .max_keys(1)
            // Keys may hold characters XML cannot carry; encoded, they cannot break the answer.
            .encoding_type(aws_sdk_s3::types::EncodingType::Url)
            .customize()
            .interceptor(ServerDate(date.clone()))
            .send()
            .await
            .map_err(|e| classify(&e, "list", &self.bucket, None))?;
        let took = started.elapsed();
        self.push(
            "reachable",
            Status::Ok,
            format!(
                "a listing of the bucket answered in {} ms; credentials accepted",
                took.as_millis()
            ),
            "",
        );
        let server = date.lock().ok().and_then(|d| *d);
        match server.map(|(server, local)| skew(server, local)) {
            None => self.push(
                "clock",
                Status::Info,
                "the server sent no Date header".to_owned(),
                "cannot tell the clock skew",
            ),
            Some(secs) if secs.abs() < 60.0 => self.push(
                "clock",
                Status::Ok,
                format!("within {:.0} s of the server's", secs.abs().ceil()),
                "",
            ),
            Some(secs) => self.push(
                "clock",
                Status::Warn,
                format!(
                    "this machine's clock is {:.0} s {} the server's",
                    secs.abs(),
                    if secs > 0.0 { "behind" } else { "ahead of" }
                ),
                "requests are signed with this clock (AWS refuses more than 15 minutes of skew); presigned URLs and seal times are off by as much: fix the clock (NTP)",
            ),
        }
        Ok(())
    }
}
