//! CRC64NVME, the full-object checksum s3blob records at upload and verifies at download; and
//! SHA-256, which releases may record too (`--sha256sums`) for consumers' own tools.
//!
//! CRC64NVME is the one S3 checksum that is defined for whole multipart objects
//! (`ChecksumType::FullObject`), and CRCs combine: the checksum of a file is computed from the
//! checksums of its parts without a second pass. S3 transmits it as the base64 of the
//! big-endian 8 bytes.

use std::io;

use aws_smithy_types::base64;
use crc_fast::CrcAlgorithm::Crc64Nvme;

/// User metadata key under which s3blob records the object's full CRC64NVME (base64, as S3
/// writes checksums). It travels with the object on every server, including those that do not
/// keep S3 checksums for multipart objects, and comes back on every GET, ranged or not.
pub const METADATA_KEY: &str = "s3blob-crc64nvme";

/// An incremental CRC64NVME over a stream of bytes.
#[derive(Clone)]
pub struct Crc64(crc_fast::Digest);

impl Default for Crc64 {
    fn default() -> Self {
        Self(crc_fast::Digest::new(Crc64Nvme))
    }
}

impl Crc64 {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn value(&self) -> u64 {
        self.0.finalize()
    }
}

/// The CRC64NVME of a byte slice.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(Crc64Nvme, data)
}

/// The CRC of `a ++ b` from the CRCs of `a` and `b` and the length of `b`.
pub fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    crc_fast::checksum_combine(Crc64Nvme, crc_a, crc_b, len_b)
}

/// The CRC of consecutive pieces given in order as (crc, length).
pub fn combine_all(pieces: impl IntoIterator<Item = (u64, u64)>) -> u64 {
    // The first piece is the start: combining costs a few microseconds, which a release of
    // thousands of one-part files would pay for nothing.
    let mut pieces = pieces.into_iter();
    match pieces.next() {
        None => crc64(b""),
        Some((first, _)) => pieces.fold(first, |acc, (crc, len)| combine(acc, crc, len)),
    }
}

/// S3's wire form: base64 of the big-endian bytes.
pub fn to_base64(crc: u64) -> String {
    base64::encode(crc.to_be_bytes())
}

/// Parses S3's wire form; `None` for anything that is not 8 bytes of base64.
pub fn from_base64(value: &str) -> Option<u64> {
    let bytes = base64::decode(value.trim()).ok()?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// An incremental SHA-256 (hardware-accelerated where the CPU has SHA extensions).
#[derive(Clone, Default)]
pub struct Sha256(sha2::Sha256);

impl Sha256 {
    pub fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }

    /// The digest as lower-case hex, as `sha256sum` prints it.
    pub fn hex(self) -> String {
        hex(&sha2::Digest::finalize(self.0))
    }
}

/// The SHA-256 of a byte slice, as lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    let mut h = Sha256::default();
    h.update(data);
    h.hex()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A writer that keeps nothing but the SHA-256 of what went through it (an object read only to
/// be hashed).
#[derive(Default)]
pub struct Sha256Writer(Sha256);

impl Sha256Writer {
    pub fn hex(self) -> String {
        self.0.hex()
    }
}

impl tokio::io::AsyncWrite for Sha256Writer {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        self.0.update(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A cheap random number (not for secrets): the time to the nanosecond and the process id,
/// hashed with a per-process random key. For retry jitter and one-off ids.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // CRC-64/NVME check value (reveng catalogue) and the empty input.
        assert_eq!(crc64(b"123456789"), 0xAE8B_1486_0A79_9888);
        assert_eq!(crc64(b""), 0);
        // S3 documents the empty object's CRC64NVME as AAAAAAAAAAA=.
        assert_eq!(to_base64(crc64(b"")), "AAAAAAAAAAA=");
    }

    #[test]
    fn combining_equals_one_pass() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = crc64(&data);
        for cuts in [
            vec![],
            vec![0],
            vec![1],
            vec![50_000],
            vec![3, 99_999],
            vec![10, 20, 30_000],
        ] {
            let mut pieces = Vec::new();
            let mut start = 0;
            for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
                let piece = &data[start..cut];
                pieces.push((crc64(piece), piece.len() as u64));
                start = cut;
            }
            assert_eq!(combine_all(pieces), whole, "cuts {cuts:?}");
        }
        let mut inc = Crc64::default();
        data.chunks(777).for_each(|c| inc.update(c));
        assert_eq!(inc.value(), whole);
    }

    #[test]
    fn sha256_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut h = Sha256::default();
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(
            h.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn base64_round_trip() {
        for crc in [0, 1, u64::MAX, 0xAE8B_1486_0A79_9888] {
            assert_eq!(from_base64(&to_base64(crc)), Some(crc));
        }
        assert_eq!(from_base64("not base64!"), None);
        assert_eq!(from_base64("AAAA"), None); // 3 bytes
    }
}
