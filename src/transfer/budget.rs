//! What one command may have in flight, shared by every file it moves, bounded two ways:
//!
//! - **bytes**: the bodies of the requests in flight (parts sent, ranges received) add up to
//!   at most `--concurrency` x `--part-size`, so memory, sockets' buffers and the link are
//!   shared as before: 16 parts of 16 MiB, or 65,000 objects of 4 KiB, weigh the same;
//! - **requests**: at most `--max-requests` at once whatever their size (HEADs and small
//!   objects included), so connections and file descriptors stay bounded.
//!
//! Small objects thus go hundreds at a time, as s5cmd's worker pool does, while a large file
//! still moves as `--concurrency` parts.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes are counted in units of this many, so a 5 TiB budget fits in a semaphore.
const UNIT: u64 = 1024;

#[derive(Clone, Debug)]
pub struct Budget {
    requests: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    /// The bytes budget in units: the most one request may take.
    units: u32,
    /// `--max-requests`: the requests semaphore's size.
    max_requests: usize,
}

/// The right to have one request in flight, carrying up to the bytes it was acquired for;
/// given back when dropped.
#[derive(Debug)]
pub struct Permit {
    _request: OwnedSemaphorePermit,
    _bytes: Option<OwnedSemaphorePermit>,
}

impl Budget {
    /// The budget the settings ask for: `--max-requests`, and `--concurrency` parts of
    /// `--part-size`.
    pub fn for_settings(settings: &crate::transfer::TransferSettings) -> Self {
        Self::new(
            settings.max_requests,
            settings
                .part_size
                .saturating_mul(settings.concurrency as u64),
        )
    }

    /// At most `requests` requests and `bytes` bytes of bodies in flight.
    pub fn new(requests: usize, bytes: u64) -> Self {
        let units = u32::try_from(bytes.div_ceil(UNIT).max(1)).unwrap_or(u32::MAX);
        Self {
            requests: Arc::new(Semaphore::new(requests.max(1))),
            bytes: Arc::new(Semaphore::new(units as usize)),
            units,
            max_requests: requests.max(1),
        }
    }

    /// The requests in flight now (for a progress line that says what a transfer waits on).
    pub fn in_flight(&self) -> usize {
        self.max_requests
            .saturating_sub(self.requests.available_permits())
    }

    /// Waits until a request carrying `bytes` of body (sent or received; 0 for a HEAD) may go.
    /// A body larger than the whole budget takes all of it. Cancel-safe: dropping the future
    /// gives up the place in line.
    pub async fn acquire(&self, bytes: u64) -> Permit {
        let units = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .min(self.units);
        // Always bytes first, then the request: one order everywhere, no deadlock.
        let bytes = if units == 0 {
            None
        } else {
            Some(
                self.bytes
                    .clone()
                    .acquire_many_owned(units)
                    .await
                    .unwrap_or_else(|_| unreachable!("the budget's semaphores are never closed")),
            )
        };
        let request = self
            .requests
            .clone()
            .acquire_owned()
            .await
            .unwrap_or_else(|_| unreachable!("the budget's semaphores are never closed"));
        Permit {
            _request: request,
            _bytes: bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn blocked(budget: &Budget, bytes: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(20), budget.acquire(bytes))
            .await
            .is_err()
    }

    #[tokio::test]
    async fn requests_are_counted_whatever_their_size() {
        let budget = Budget::new(2, 1 << 30);
        let other = budget.clone();
        let a = budget.acquire(0).await;
        let _b = other.acquire(10).await;
        assert!(blocked(&budget, 0).await, "a third request must wait");
        assert_eq!(budget.in_flight(), 2);
        drop(a);
        assert_eq!(budget.in_flight(), 1);
        let _c = budget.acquire(0).await;
    }

    #[tokio::test]
    async fn bytes_are_shared_between_large_and_small() {
        // Two 8 MiB parts fill a 16 MiB budget; a small object then waits too.
        let budget = Budget::new(100, 16 << 20);
        let p1 = budget.acquire(8 << 20).await;
        let _p2 = budget.acquire(8 << 20).await;
        assert!(blocked(&budget, 4096).await);
        drop(p1);
        // Freed: many small ones fit where one part was.
        let small: Vec<Permit> = take_many(&budget, 99, 4096).await;
        assert_eq!(small.len(), 99);
    }

    async fn take_many(budget: &Budget, n: usize, bytes: u64) -> Vec<Permit> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(budget.acquire(bytes).await);
        }
        v
    }

    #[tokio::test]
    async fn a_body_larger_than_the_budget_takes_all_of_it() {
        let budget = Budget::new(4, 1 << 20);
        let big = budget.acquire(5 << 30).await;
        assert!(blocked(&budget, 1).await);
        drop(big);
        let _ok = budget.acquire(1).await;
    }
}
