//! Pure planning of transfers: single PUT or multipart, part size, byte ranges.
//!
//! S3's limits decide the shape: parts of 5 MiB to 5 GiB (the last may be smaller), at most
//! 10,000 parts, objects up to 5 TiB. The part size grows with the file so even the largest
//! object fits in 10,000 parts.

use std::ops::Range;

pub const MIB: u64 = 1024 * 1024;
pub const MIN_PART_SIZE: u64 = 5 * MIB;
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
pub const MAX_PARTS: u64 = 10_000;
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * MIB;

/// How one upload goes over the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadPlan {
    /// One PutObject: the file is no larger than the part size.
    Single,
    /// A multipart upload of `parts` parts of `part_size` bytes (the last one shorter or equal).
    Multipart { part_size: u64, parts: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the file is {size} bytes; S3 objects can be at most 5 TiB ({MAX_OBJECT_SIZE} bytes)")]
    TooLarge { size: u64 },
    #[error("--part-size must be between 5 MiB and 5 GiB (got {part_size} bytes)")]
    BadPartSize { part_size: u64 },
}

/// Plans an upload of `size` bytes with the preferred `part_size`: files up to one part go in a
/// single PUT; larger ones are split, with the part size raised (to a whole MiB) when
/// `size / part_size` would exceed 10,000 parts.
pub fn upload_plan(size: u64, part_size: u64) -> Result<UploadPlan, PlanError> {
    if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
        return Err(PlanError::BadPartSize { part_size });
    }
    if size > MAX_OBJECT_SIZE {
        return Err(PlanError::TooLarge { size });
    }
    if size <= part_size {
        return Ok(UploadPlan::Single);
    }
    let needed = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    let part_size = part_size.max(needed);
    Ok(UploadPlan::Multipart {
        part_size,
        parts: size.div_ceil(part_size),
    })
}

/// The byte range of chunk `index` (0-based) when `size` bytes are cut into `chunk` byte pieces.
/// Parts of a stream of unknown size (stdin) grow so that the 10,000-part limit comes late:
/// the part size doubles after every `STREAM_PARTS_PER_SIZE` parts (16 MiB parts reach
/// 16 x 2,500 x (1 + 2 + 4 + 8) MiB, about 586 GiB), never beyond S3's 5 GiB.
pub const STREAM_PARTS_PER_SIZE: u64 = 2_500;

/// The size of part `index` (0-based) of a stream uploaded with parts of `base` bytes.
pub fn stream_part_size(base: u64, index: u64) -> u64 {
    let doublings = u32::try_from(index / STREAM_PARTS_PER_SIZE).unwrap_or(u32::MAX);
    base.checked_shl(doublings)
        .filter(|s| s >> doublings == base)
        .unwrap_or(MAX_PART_SIZE)
        .clamp(MIN_PART_SIZE, MAX_PART_SIZE)
}

/// How many bytes a stream can hold within `MAX_PARTS` parts of base size `base`.
pub fn stream_capacity(base: u64) -> u64 {
    (0..MAX_PARTS)
        .step_by(STREAM_PARTS_PER_SIZE as usize)
        .map(|i| stream_part_size(base, i) * STREAM_PARTS_PER_SIZE)
        .sum::<u64>()
        .min(MAX_OBJECT_SIZE)
}

pub fn chunk_range(size: u64, chunk: u64, index: u64) -> Range<u64> {
    let start = index * chunk;
    start..(start + chunk).min(size)
}

/// All chunks of `start..size`, in order, each at most `chunk` bytes.
pub fn chunks(start: u64, size: u64, chunk: u64) -> impl Iterator<Item = Range<u64>> {
    (start..size)
        .step_by(usize::try_from(chunk).unwrap_or(usize::MAX))
        .map(move |s| s..(s + chunk).min(size))
}

/// The HTTP `Range` header value for a half-open byte range.
pub fn range_header(range: &Range<u64>) -> String {
    format!("bytes={}-{}", range.start, range.end - 1)
}

/// Parses `Content-Range: bytes START-END/TOTAL` into (start..end+1, total).
pub fn parse_content_range(value: &str) -> Option<(Range<u64>, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let total: u64 = total.trim().parse().ok()?;
    if start > end || end >= total {
        return None;
    }
    Some((start..end + 1, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_parts_grow() {
        assert_eq!(stream_part_size(16 * MIB, 0), 16 * MIB);
        assert_eq!(stream_part_size(16 * MIB, 2_499), 16 * MIB);
        assert_eq!(stream_part_size(16 * MIB, 2_500), 32 * MIB);
        assert_eq!(stream_part_size(16 * MIB, 9_999), 128 * MIB);
        assert_eq!(stream_part_size(4 * 1024 * MIB, 9_999), MAX_PART_SIZE);
        assert_eq!(stream_part_size(16 * MIB, u64::MAX), MAX_PART_SIZE);
        assert_eq!(stream_capacity(16 * MIB), 600_000 * MIB);
        assert_eq!(stream_capacity(5 * MIB), 187_500 * MIB);
        assert_eq!(stream_capacity(MAX_PART_SIZE), MAX_OBJECT_SIZE);
    }

    const P: u64 = 8 * MIB;

    #[test]
    fn plans() {
        let cases: &[(u64, UploadPlan)] = &[
            (0, UploadPlan::Single),
            (1, UploadPlan::Single),
            (P, UploadPlan::Single),
            (
                P + 1,
                UploadPlan::Multipart {
                    part_size: P,
                    parts: 2,
                },
            ),
            (
                3 * P - 7,
                UploadPlan::Multipart {
                    part_size: P,
                    parts: 3,
                },
            ),
            (
                MAX_PARTS * P,
                UploadPlan::Multipart {
                    part_size: P,
                    parts: MAX_PARTS,
                },
            ),
            (
                MAX_PARTS * P + 1,
                UploadPlan::Multipart {
                    part_size: P + MIB,
                    parts: (MAX_PARTS * P + 1).div_ceil(P + MIB),
                },
            ),
        ];
        for (size, plan) in cases {
            assert_eq!(upload_plan(*size, P).unwrap(), *plan, "size {size}");
        }
    }

    #[test]
    fn five_tib_fits_in_ten_thousand_parts() {
        for size in [
            MAX_OBJECT_SIZE,
            MAX_OBJECT_SIZE - 1,
            1 << 40,
            123_456_789_012,
        ] {
            match upload_plan(size, P).unwrap() {
                UploadPlan::Multipart { part_size, parts } => {
                    assert!(parts <= MAX_PARTS, "{size}: {parts} parts");
                    assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size));
                    assert!(part_size * parts >= size);
                    assert!(part_size * (parts - 1) < size);
                }
                UploadPlan::Single => panic!("{size} should be multipart"),
            }
        }
    }

    #[test]
    fn limits() {
        assert_eq!(
            upload_plan(MAX_OBJECT_SIZE + 1, P),
            Err(PlanError::TooLarge {
                size: MAX_OBJECT_SIZE + 1
            })
        );
        assert!(upload_plan(10, MIN_PART_SIZE - 1).is_err());
        assert!(upload_plan(10, MAX_PART_SIZE + 1).is_err());
        assert!(upload_plan(10, MIN_PART_SIZE).is_ok());
    }

    #[test]
    fn ranges() {
        assert_eq!(chunk_range(10, 4, 0), 0..4);
        assert_eq!(chunk_range(10, 4, 2), 8..10);
        assert_eq!(
            chunks(0, 10, 4).collect::<Vec<_>>(),
            vec![0..4, 4..8, 8..10]
        );
        assert_eq!(chunks(4, 12, 4).collect::<Vec<_>>(), vec![4..8, 8..12]);
        assert_eq!(chunks(0, 0, 4).count(), 0);
        assert_eq!(range_header(&(0..1)), "bytes=0-0");
        assert_eq!(range_header(&(8..16)), "bytes=8-15");
    }

    #[test]
    fn content_range() {
        type Parsed = Option<(Range<u64>, u64)>;
        let cases: &[(&str, Parsed)] = &[
            ("bytes 0-9/10", Some((0..10, 10))),
            ("bytes 8-15/100", Some((8..16, 100))),
            (" bytes 0-0/1 ", Some((0..1, 1))),
            ("bytes 0-9/*", None),
            ("bytes */10", None),
            ("bytes 5-4/10", None),
            ("bytes 0-10/10", None),
            ("items 0-9/10", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(parse_content_range(value), *want, "{value:?}");
        }
    }
}
