//! Moving bytes, by direction: [`upload`] (a file or stdin as parts, one send loop) and
//! [`download`] (one range scheduler, into a file or a stream); [`plan`] (pure part and range
//! math) and [`budget`] (the requests in flight) serve both, as does the retry pacing here.
//! Neither direction uses the other, and the engine knows nothing of the command line.

pub mod budget;
pub mod copy;
pub mod download;
pub mod plan;
pub mod upload;

use std::time::Duration;

/// Buffer for streaming a file into a request body: 256 KiB keeps syscall overhead low (4 KiB
/// costs several times the CPU) and memory flat.
pub const READ_BUFFER: usize = 256 * 1024;

/// Delay before retry `attempt` (2 = first retry): exponential from 200 ms, capped at 10 s,
/// with full jitter so parallel parts do not retry in lockstep.
pub fn backoff(attempt: u32) -> Duration {
    let exp = 200u64.saturating_mul(1 << attempt.saturating_sub(2).min(10));
    let cap = exp.min(10_000);
    Duration::from_millis(jitter(cap))
}

/// A value in `cap/2..=cap` from a cheap per-call random source.
fn jitter(cap: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    cap / 2 + h.finish() % (cap / 2 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..100 {
            let b2 = backoff(2).as_millis();
            assert!((100..=200).contains(&b2), "{b2}");
            let b4 = backoff(4).as_millis();
            assert!((400..=800).contains(&b4), "{b4}");
            let b30 = backoff(30).as_millis();
            assert!((5_000..=10_000).contains(&b30), "{b30}");
        }
    }
}
