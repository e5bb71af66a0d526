//! The bandwidth cap (`--limit-rate`, `--limit-upload`, `--limit-download`): one token bucket
//! per direction, shared by every request of the command, applied where bodies meet the
//! connection (request bodies in the watchdog's [`super::watchdog`] wrapper, response bodies in
//! [`Limited`]), so single PUTs, parts, ranges and listings all count against it.
//!
//! The bucket lets a body run into debt by one piece and then waits the debt off: pieces are
//! small (at most a quarter second of the rate), and the bucket holds at most 50 ms of the rate,
//! so no one-second window carries much more than the cap.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// Bytes per second each way; `None` = no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub upload: Option<u64>,
    pub download: Option<u64>,
}

/// What the bucket may hold: this fraction of a second of the rate (at least [`MIN_BURST`]).
const BURST_SECONDS: f64 = 0.05;
const MIN_BURST: f64 = 16.0 * 1024.0;

/// A token bucket in bytes.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    /// Tokens (negative: debt) and when they were last counted.
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(rate: u64) -> TokenBucket {
        let rate = rate.max(1) as f64;
        let burst = (rate * BURST_SECONDS).max(MIN_BURST);
        TokenBucket {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// The largest piece to move at once: a quarter second of the rate, 1 KiB to 64 KiB.
    pub fn piece(&self) -> usize {
        ((self.rate / 4.0) as usize).clamp(1024, 64 * 1024)
    }

    fn refilled(&self) -> std::sync::MutexGuard<'_, (f64, Instant)> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(state.1).as_secs_f64();
        state.0 = (state.0 + elapsed * self.rate).min(self.burst);
        state.1 = now;
        state
    }

    /// How long until bytes may move again (zero: now).
    pub fn wait(&self) -> Duration {
        let state = self.refilled();
        if state.0 >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.0 / self.rate)
        }
    }

    /// `n` bytes moved.
    pub fn spend(&self, n: usize) {
        self.refilled().0 -= n as f64;
    }
}

/// Waiting for a bucket inside a body's `poll_frame`.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Gate {
    /// Ready when the bucket allows bytes to move; registers the waker otherwise.
    pub(crate) fn poll_open(&mut self, bucket: &TokenBucket, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(sleep) = &mut self.sleep {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
            }
            let wait = bucket.wait();
            if wait.is_zero() {
                return Poll::Ready(());
            }
            self.sleep = Some(Box::pin(tokio::time::sleep(wait)));
        }
    }
}

/// A response body read no faster than its bucket allows.
pub(crate) struct Limited<B> {
    inner: B,
    bucket: Arc<TokenBucket>,
    gate: Gate,
}

impl<B> Limited<B> {
    pub(crate) fn new(inner: B, bucket: Arc<TokenBucket>) -> Self {
        Limited {
            inner,
            bucket,
            gate: Gate::default(),
        }
    }
}

impl<B> Body for Limited<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.gate.poll_open(&this.bucket, cx).is_pending() {
            return Poll::Pending;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.bucket.spend(data.len());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// 64 MiB through an 8 MiB/s bucket in pieces: 8 s of (paused, exact) time, and no
    /// one-second window carries more than the cap plus 10 %.
    #[tokio::test(start_paused = true)]
    async fn a_transfer_takes_its_size_over_the_rate_and_no_second_exceeds_it() {
        let rate = 8u64 << 20;
        let bucket = Arc::new(TokenBucket::new(rate));
        let total = 64usize << 20;
        let start = Instant::now();
        let mut moved = 0usize;
        // Bytes moved by the end of each 100 ms slice.
        let mut marks: Vec<(Duration, usize)> = vec![(Duration::ZERO, 0)];
        let mut gate = Gate::default();
        while moved < total {
            std::future::poll_fn(|cx| gate.poll_open(&bucket, cx)).await;
            let n = bucket.piece().min(total - moved);
            bucket.spend(n);
            moved += n;
            marks.push((start.elapsed(), moved));
        }
        let took = start.elapsed().as_secs_f64();
        assert!((7.6..=8.4).contains(&took), "{took} s");
        for (i, (t0, m0)) in marks.iter().enumerate() {
            let window_end = *t0 + Duration::from_secs(1);
            let m1 = marks[i..]
                .iter()
                .take_while(|(t, _)| *t < window_end)
                .last()
                .map_or(*m0, |(_, m)| *m);
            let in_window = (m1 - m0) as f64;
            assert!(
                in_window <= rate as f64 * 1.1,
                "{in_window} bytes in the second from {t0:?}"
            );
        }
    }

    /// A body of `n` frames of 64 KiB, each ready at once.
    struct Frames(usize);

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.0 == 0 {
                return Poll::Ready(None);
            }
            self.0 -= 1;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![1u8; 64 * 1024])))))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_limited_body_is_read_at_the_rate() {
        let bucket = Arc::new(TokenBucket::new(1 << 20));
        let start = Instant::now();
        let all = Limited::new(Frames(64), bucket)
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(all.len(), 4 << 20);
        let took = start.elapsed().as_secs_f64();
        assert!((3.8..=4.2).contains(&took), "{took} s");
    }

    #[test]
    fn pieces_are_a_quarter_second_within_bounds() {
        assert_eq!(TokenBucket::new(8 << 20).piece(), 64 * 1024);
        assert_eq!(TokenBucket::new(16 * 1024).piece(), 4096);
        assert_eq!(TokenBucket::new(100).piece(), 1024);
    }
}
