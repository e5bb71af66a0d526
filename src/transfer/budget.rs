//! The requests one command may have in flight, shared by every file it moves: three files
//! uploaded at once with `--concurrency 16` still send at most 16 parts at a time, so memory
//! and connections stay bounded by the setting, not by the number of files.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Clone, Debug)]
pub struct Budget(Arc<Semaphore>);

/// The right to have one request in flight; given back when dropped.
pub type Permit = OwnedSemaphorePermit;

impl Budget {
    pub fn new(requests: usize) -> Self {
        Self(Arc::new(Semaphore::new(requests.max(1))))
    }

    /// Waits for a free slot. Cancel-safe: dropping the future gives up the place in line.
    pub async fn acquire(&self) -> Permit {
        // The semaphore is never closed.
        self.0
            .clone()
            .acquire_owned()
            .await
            .unwrap_or_else(|_| unreachable!("the budget's semaphore is never closed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn permits_are_shared_and_returned() {
        let budget = Budget::new(2);
        let other = budget.clone();
        let a = budget.acquire().await;
        let _b = other.acquire().await;
        let third = tokio::time::timeout(std::time::Duration::from_millis(20), budget.acquire());
        assert!(third.await.is_err(), "a third permit must wait");
        drop(a);
        let _c = budget.acquire().await;
    }
}
