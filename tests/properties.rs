//! Property tests (proptest) over the pure parts that take untrusted input: key building and
//! validation, part planning, range math and Content-Range parsing. Bounded: a fixed number of
//! cases per property, so CI time is fixed.

use proptest::prelude::*;

use s3blob::key::{MAX_KEY_BYTES, ObjectKey};
use s3blob::plan::{self, MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, UploadPlan};

/// What `bytes A-B/T` means, A <= B < T: bytes A to B of an object of T bytes.
fn reference_content_range(value: &str) -> Option<(std::ops::Range<u64>, u64)> {
    let (range, total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b, t): (u64, u64, u64) = (a.parse().ok()?, b.parse().ok()?, total.parse().ok()?);
    (a <= b && b < t).then(|| (a..b + 1, t))
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any input either is refused, for a reason the rules give, or gives a key whose three
    /// parts read back unchanged, with no way to reach outside `suite/release/` and within S3's
    /// length limit.
    #[test]
    fn keys_are_exactly_three_safe_parts(
        suite in "\\PC{0,12}|[./a]{0,3}|.{0,5}",
        release in "\\PC{0,12}|[./a]{0,3}|.{0,5}",
        filename in "\\PC{0,400}|[./a]{0,3}|.{0,5}",
    ) {
        match ObjectKey::new(&suite, &release, &filename) {
            Ok(key) => {
                let s = key.to_string();
                prop_assert!(s.len() <= MAX_KEY_BYTES);
                let parts: Vec<&str> = s.split('/').collect();
                prop_assert_eq!(parts, vec![suite.as_str(), release.as_str(), filename.as_str()]);
                for p in [&suite, &release, &filename] {
                    prop_assert!(!p.is_empty() && p != "." && p != "..");
                    prop_assert!(!p.chars().any(char::is_control));
                }
            }
            Err(e) => {
                prop_assert!(["--suite", "--release", "--filename", "key"].contains(&e.flag));
                // Refused only for a reason: a part that breaks a rule, or a key too long.
                let reserved = filename == ".s3blob-manifest.json";
                let bad = |p: &str| {
                    p.is_empty() || p == "." || p == ".." || p.contains('/')
                        || p.chars().any(char::is_control)
                };
                let len = suite.len() + release.len() + filename.len() + 2;
                prop_assert!(
                    bad(&suite) || bad(&release) || bad(&filename) || reserved || len > MAX_KEY_BYTES,
                    "refused a valid key: {}", e
                );
            }
        }
    }

    /// Every plan covers the file exactly, in at most 10,000 parts within S3's part limits.
    #[test]
    fn plans_cover_the_file_within_s3_limits(
        size in prop_oneof![0..64u64 << 20, 0..=MAX_OBJECT_SIZE],
        part in MIN_PART_SIZE..=MAX_PART_SIZE,
    ) {
        match plan::upload_plan(size, part).unwrap() {
            UploadPlan::Single => prop_assert!(size <= part),
            UploadPlan::Multipart { part_size, parts } => {
                prop_assert!(size > part);
                prop_assert!(parts <= MAX_PARTS);
                prop_assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size));
                let mut next = 0;
                for i in 0..parts.min(50) {
                    let r = plan::chunk_range(size, part_size, i);
                    prop_assert_eq!(r.start, next);
                    prop_assert!(r.end > r.start);
                    next = r.end;
                }
                let last = plan::chunk_range(size, part_size, parts - 1);
                prop_assert_eq!(last.end, size);
                prop_assert!(last.end > last.start);
            }
        }
    }

    /// Download ranges tile `start..size` with no gap or overlap; each header parses back.
    #[test]
    fn ranges_tile_and_round_trip(start in 0..10_000u64, len in 0..100_000u64, chunk in 1..20_000u64) {
        let size = start + len;
        let mut next = start;
        for r in plan::chunks(start, size, chunk) {
            prop_assert_eq!(r.start, next);
            prop_assert!(r.end - r.start <= chunk && r.end > r.start);
            let header = plan::range_header(&r);
            let content_range = format!("bytes {}/{size}", header.trim_start_matches("bytes="));
            prop_assert_eq!(plan::parse_content_range(&content_range), Some((r.clone(), size)));
            next = r.end;
        }
        prop_assert_eq!(next, size);
    }

    /// Whatever a server sends as Content-Range, parsing never panics and never yields a range
    /// outside the object.
    #[test]
    fn content_range_parsing_is_total(value in "\\PC{0,40}|bytes [0-9]{1,20}-[0-9]{1,20}/[0-9*]{1,20}") {
        let parsed = plan::parse_content_range(&value);
        if let Some((r, total)) = &parsed {
            prop_assert!(r.start < r.end && r.end <= *total);
        }
        // A well-formed value parses to exactly what it says: a parser that refuses
        // everything does not pass.
        let well_formed = value
            .strip_prefix("bytes ")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || "-/*".contains(c)));
        if well_formed {
            prop_assert_eq!(parsed, reference_content_range(&value), "{}", value);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Release order is a total order (antisymmetric, transitive, Equal only for equal names),
    /// so sorting and `latest` are well defined whatever the names.
    #[test]
    fn release_order_is_total(
        a in "[vV]?[0-9a-z.+-]{0,10}",
        b in "[vV]?[0-9a-z.+-]{0,10}",
        c in "[vV]?[0-9a-z.+-]{0,10}",
    ) {
        use std::cmp::Ordering::*;
        use s3blob::release::compare;
        prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
        prop_assert_eq!(compare(&a, &b) == Equal, a == b);
        if compare(&a, &b) != Greater && compare(&b, &c) != Greater {
            prop_assert_ne!(compare(&a, &c), Greater, "{} <= {} <= {}", a, b, c);
        }
    }

    /// A number's successor sorts after it in any position.
    #[test]
    fn release_numbers_compare_as_numbers(major in 0u64..1000, minor in 0u64..100_000) {
        let lo = format!("{major}.{minor}");
        let hi = format!("{major}.{}", minor + 1);
        prop_assert_eq!(s3blob::release::compare(&lo, &hi), std::cmp::Ordering::Less);
    }
}
