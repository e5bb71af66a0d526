//! The values users type, for flags and environment variables alike: sizes, durations and
//! counts, each parsed together with its allowed range so a flag and its variable refuse the
//! same things with the same words; and sizes as s3blob shows them ([`human_bytes`]).
//!
//! Errors do not repeat the value: clap prefixes `invalid value '1KiB' for '--part-size'`, and
//! [`crate::config`] prefixes `S3BLOB_PART_SIZE="1KiB" (set in .env)`.

use std::time::Duration;

use crate::plan::{MAX_PART_SIZE, MIN_PART_SIZE};

/// More parts in flight than this buys nothing and risks the server's connection limits.
pub const MAX_CONCURRENCY: usize = 256;

/// More requests in flight than this exhausts file descriptors and the server's patience.
pub const MAX_REQUESTS: usize = 4096;

/// Parses a byte size: a plain number of bytes, or a number with a unit
/// (K/KB/KiB, M/MB/MiB, G/GB/GiB; all binary multiples, case-insensitive).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (num, unit) = number_and_unit(s).ok_or("not a size; use e.g. 8MiB or 16777216")?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err("unknown unit; use B, KiB, MiB or GiB".to_owned()),
    };
    num.checked_mul(mult).ok_or_else(|| "too large".to_owned())
}

/// A part size within S3's limits.
pub fn parse_part_size(s: &str) -> Result<u64, String> {
    let size = parse_size(s)?;
    if (MIN_PART_SIZE..=MAX_PART_SIZE).contains(&size) {
        Ok(size)
    } else {
        Err("out of range: S3 parts are 5MiB to 5GiB".to_owned())
    }
}

/// Parses an on/off setting given by a variable: 1, true, yes or on; 0, false, no or off.
pub fn parse_switch(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("not an on/off value; use 1 or 0 (also true/false, yes/no, on/off)".to_owned()),
    }
}

/// Parses a duration: seconds, or a number followed by s, m, h, d or w.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) =
        number_and_unit(s).ok_or("not a duration; use e.g. 3600, 90m, 12h, 7d or 3w")?;
    let mult: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        // A month or a year has no fixed length; say which days are meant.
        "mo" | "y" => {
            return Err(format!(
                "months and years have no fixed length; use days or weeks, e.g. {}d",
                if unit == "y" {
                    num.saturating_mul(365)
                } else {
                    num.saturating_mul(30)
                }
            ));
        }
        _ => return Err("unknown unit; use s, m, h, d or w".to_owned()),
    };
    num.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| "too long".to_owned())
}

/// `"16 MiB"` as `(16, "MiB")`: leading digits, then the rest trimmed; `None` without digits.
fn number_and_unit(s: &str) -> Option<(u64, &str)> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    Some((num.parse().ok()?, unit.trim()))
}

/// The lowest bandwidth cap: below it the bodies would move in pieces too small to be sane.
pub const MIN_RATE: u64 = 1024;

/// Parses a bandwidth cap in bytes per second: a number (decimals allowed) with a byte unit
/// (B, KiB, MiB, GiB, binary multiples as in sizes; `K`/`KB` alike) or a bit unit (bit, kbit,
/// Mbit, Gbit, decimal multiples, as links are sold), `/s` optional. `0` means no cap.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t).trim_end();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| "not a rate; use e.g. 5MiB/s, 512KiB/s or 40Mbit/s (0: no cap)".to_owned())?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "bit" => 1.0 / 8.0,
        "kbit" => 1e3 / 8.0,
        "mbit" => 1e6 / 8.0,
        "gbit" => 1e9 / 8.0,
        _ => {
            return Err(
                "unknown unit; use B, KiB, MiB, GiB (bytes) or bit, kbit, Mbit, Gbit".to_owned(),
            );
        }
    };
    let rate = (num * mult).round();
    if rate == 0.0 {
        return Ok(0);
    }
    if !(MIN_RATE as f64..=1e15).contains(&rate) {
        return Err("out of range: use at least 1KiB/s, or 0 for no cap".to_owned());
    }
    Ok(rate as u64)
}

/// A whole number in `min..=max`.
fn parse_count(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a whole number; use {min} to {max}"))?;
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("out of range: use {min} to {max}"))
    }
}

/// Attempts per request: at least 1 (no retries).
pub fn parse_attempts(s: &str) -> Result<u32, String> {
    parse_count(s, 1, 100).map(|n| u32::try_from(n).unwrap_or(100))
}

/// Requests in flight.
pub fn parse_concurrency(s: &str) -> Result<usize, String> {
    parse_count(s, 1, MAX_CONCURRENCY as u64).map(|n| usize::try_from(n).unwrap_or(1))
}

/// Requests in flight at most.
pub fn parse_max_requests(s: &str) -> Result<usize, String> {
    parse_count(s, 1, MAX_REQUESTS as u64).map(|n| usize::try_from(n).unwrap_or(1))
}

/// SigV4 presigned URLs are valid for at most seven days.
pub const MAX_EXPIRY: Duration = Duration::from_secs(7 * 86_400);

/// How long a presigned URL works: a duration from one second to [`MAX_EXPIRY`].
pub fn parse_expiry(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() || d > MAX_EXPIRY {
        return Err(
            "out of range: a presigned URL works for 1s to 7d (the SigV4 limit)".to_owned(),
        );
    }
    Ok(d)
}

/// How many releases `prune --keep` keeps: at least one (the highest sealed release is never
/// removed anyway; removing every release is `delete --all`, one release at a time).
pub fn parse_keep(s: &str) -> Result<u64, String> {
    parse_count(s, 1, u64::from(u32::MAX))
        .map_err(|_| "keep at least 1 release, e.g. --keep 10".to_owned())
}

/// A timeout in whole seconds, at least one.
pub fn parse_seconds(s: &str) -> Result<u64, String> {
    parse_count(s, 1, 86_400)
}

/// A region name: loose, so S3-compatible stores with their own names (`garage`) pass.
pub fn parse_region(s: &str) -> Result<String, String> {
    if valid_region(s) {
        Ok(s.to_owned())
    } else {
        Err("not a region name; use one such as eu-west-1".to_owned())
    }
}

/// `--checksum-header`: whether writes carry `x-amz-checksum-crc64nvme`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeaderMode {
    /// Send it, and fall back when the store refuses it.
    #[default]
    Auto,
    /// Always send it; a refusal is an error.
    Always,
    /// Never send it (the metadata CRC still protects the object).
    Off,
}

/// `--conditional-writes`: whether the store enforces `If-None-Match: *`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Trusted on AWS S3 itself, not on a custom endpoint (some ignore the condition).
    Auto,
    Trusted,
    Untrusted,
}

impl Trust {
    /// Whether the store is trusted, `aws` telling whether it is AWS S3 itself.
    pub fn resolve(self, aws: bool) -> bool {
        match self {
            Trust::Auto => aws,
            Trust::Trusted => true,
            Trust::Untrusted => false,
        }
    }
}

/// Which CI system's output to add (`--ci-output`, `S3BLOB_CI_OUTPUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiChoice {
    /// GitHub Actions or GitLab CI when the environment says the job runs there.
    Auto,
    Github,
    Gitlab,
    None,
}

/// `auto`, `github`, `gitlab` or `none`.
pub fn parse_ci_choice(v: &str) -> Result<CiChoice, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(CiChoice::Auto),
        "github" => Ok(CiChoice::Github),
        "gitlab" => Ok(CiChoice::Gitlab),
        "none" | "off" => Ok(CiChoice::None),
        _ => Err("not one of auto, github, gitlab, none".to_owned()),
    }
}

pub fn parse_trust(v: &str) -> Result<Trust, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(Trust::Auto),
        "trusted" | "yes" | "true" => Ok(Trust::Trusted),
        "untrusted" | "no" | "false" => Ok(Trust::Untrusted),
        _ => Err("not one of auto, trusted, untrusted".to_owned()),
    }
}

/// `auto`, `crc64nvme` (always) or `off`.
pub fn parse_header_mode(v: &str) -> Result<HeaderMode, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(HeaderMode::Auto),
        "crc64nvme" | "always" | "on" => Ok(HeaderMode::Always),
        "off" | "none" => Ok(HeaderMode::Off),
        _ => Err("not one of auto, crc64nvme, off".to_owned()),
    }
}

/// Loose, so S3-compatible stores with their own region names (`garage`, `default`) pass:
/// what goes into a SigV4 scope and a host name.
pub fn valid_region(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Bytes in binary units with one decimal: `1.5 MiB`.
/// A duration as people read it: `3d 4h`, `5h 12m`, `42m`, `30s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// `1 file`, `2 files`: a count and its noun, plural with an `s` when the count is not one.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Loose bucket checks: S3-compatible servers differ in naming rules, so only refuse what no
/// server accepts and what would change the meaning of the request.
pub fn check_bucket(bucket: &str) -> Result<String, String> {
    if bucket.contains('/') || bucket.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(
            "a bucket name has no '/', spaces or control characters (give the bare name, not s3://...)"
                .to_owned(),
        );
    }
    Ok(bucket.to_owned())
}

/// An endpoint URL: `http://` or `https://` and a host.
pub fn check_endpoint(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(url.to_owned()),
        _ => Err("use a URL such as http://localhost:9000 or https://s3.example.com".to_owned()),
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn rates_in_bytes_and_bits() {
        let cases = [
            ("0", 0),
            ("5MiB/s", 5 << 20),
            ("5MiB", 5 << 20),
            ("5 MiB/s", 5 << 20),
            ("512KiB/s", 512 << 10),
            ("1.5MiB/s", 3 << 19),
            ("40Mbit/s", 5_000_000),
            ("1Gbit", 125_000_000),
            ("800kbit/s", 100_000),
            ("2048", 2048),
            ("1k", 1024),
        ];
        for (given, want) in cases {
            assert_eq!(parse_rate(given), Ok(want), "{given}");
        }
        for bad in ["", "fast", "5MiB/m", "-1MiB", "100", "8bit", "1..2MiB"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::MIB;

    #[test]
    fn sizes() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("5242880", Some(5 << 20)),
            ("8MiB", Some(8 << 20)),
            ("8m", Some(8 << 20)),
            ("16 MB", Some(16 << 20)),
            ("1GiB", Some(1 << 30)),
            ("64k", Some(64 << 10)),
            ("", None),
            ("MiB", None),
            ("8TiB", None),
            ("-1", None),
            ("99999999999999999999G", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_size(s).ok(), *want, "{s:?}");
        }
    }

    #[test]
    fn part_sizes() {
        assert_eq!(parse_part_size("5MiB"), Ok(5 * MIB));
        assert_eq!(parse_part_size("5GiB"), Ok(5 * 1024 * MIB));
        for bad in ["1KiB", "4MiB", "6GiB"] {
            assert!(parse_part_size(bad).unwrap_err().contains("5MiB to 5GiB"));
        }
    }

    #[test]
    fn durations() {
        let cases: &[(&str, Option<u64>)] = &[
            ("3600", Some(3600)),
            ("90m", Some(5400)),
            ("12h", Some(43_200)),
            ("7d", Some(604_800)),
            ("3w", Some(1_814_400)),
            ("", None),
            ("1y", None),
            ("2mo", None),
            ("-1h", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_duration(s).ok().map(|d| d.as_secs()), *want, "{s:?}");
        }
    }

    #[test]
    fn shown_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(1 << 30), "1.0 GiB");
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(0, "file"), "0 files");
        assert_eq!(count(2, "suite"), "2 suites");
    }

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "garage",
            "default",
            "cn-north-1",
            "eu_central.x",
        ] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in ["", "us east", "eu/west", "ré"] {
            assert!(!valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_attempts("5"), Ok(5));
        assert!(parse_attempts("0").is_err());
        assert!(parse_attempts("many").is_err());
        assert_eq!(parse_concurrency(" 16 "), Ok(16));
        assert!(parse_concurrency("257").unwrap_err().contains("1 to 256"));
        assert_eq!(parse_seconds("60"), Ok(60));
        assert_eq!(parse_keep("10"), Ok(10));
        assert!(parse_keep("0").unwrap_err().contains("at least 1"));
        assert!(parse_duration("1y").unwrap_err().contains("365d"));
        assert_eq!(parse_expiry("7d").map(|d| d.as_secs()), Ok(604_800));
        assert!(parse_expiry("8d").unwrap_err().contains("1s to 7d"));
        assert!(parse_expiry("0").is_err());
        assert!(parse_seconds("0").is_err());
    }
}
