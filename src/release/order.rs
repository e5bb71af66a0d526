//! How release names sort, as versions. The rule (README, "Release order"):
//!
//! 1. A leading `v` or `V` before a digit is ignored (`v1.2` sorts as `1.2`).
//! 2. Names that then start with a digit are versions and sort above names that do not
//!    (`nightly`, `main`), so `latest` is always the highest version when there is one.
//! 3. A version is `CORE[-PRE][+BUILD]`. COREs compare naturally: runs of digits as numbers,
//!    everything else as text, piece by piece (`1.9` < `1.10` < `1.10.1`).
//! 4. Same CORE: a pre-release sorts before the release (`2.0.0-rc1` < `2.0.0`), and
//!    pre-releases compare naturally among themselves (`rc2` < `rc10`, `alpha` < `beta`).
//! 5. Then BUILD naturally, then the raw names byte by byte, so the order is total.

use std::cmp::Ordering;

/// Compares two release names by the rule in the module documentation.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (pa, pb) = (Parsed::new(a), Parsed::new(b));
    pa.is_version
        .cmp(&pb.is_version)
        .then_with(|| natural(pa.core, pb.core))
        .then_with(|| match (pa.pre, pb.pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => natural(x, y),
        })
        .then_with(|| natural(pa.build, pb.build))
        .then_with(|| a.cmp(b))
}

struct Parsed<'a> {
    is_version: bool,
    core: &'a str,
    pre: Option<&'a str>,
    build: &'a str,
}

impl<'a> Parsed<'a> {
    fn new(name: &'a str) -> Self {
        let bare = match name.strip_prefix(['v', 'V']) {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
            _ => name,
        };
        if !bare.starts_with(|c: char| c.is_ascii_digit()) {
            return Parsed {
                is_version: false,
                core: bare,
                pre: None,
                build: "",
            };
        }
        let (rest, build) = bare.split_once('+').unwrap_or((bare, ""));
        let (core, pre) = match rest.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (rest, None),
        };
        Parsed {
            is_version: true,
            core,
            pre,
            build,
        }
    }
}

/// Natural order: digit runs compare as numbers (of any length), other runs as text; a
/// number sorts before text at the same place; a prefix sorts first.
fn natural(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (Tokens(a), Tokens(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let ord = match (is_number(p), is_number(q)) {
                    (true, true) => compare_numbers(p, q),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => p.cmp(q),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

fn is_number(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_digit())
}

/// Compares digit strings as numbers without parsing them (no overflow): leading zeros aside,
/// the longer is larger, then digit by digit.
fn compare_numbers(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Splits a string into maximal runs of ASCII digits and of everything else.
struct Tokens<'a>(&'a str);

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let first = self.0.chars().next()?;
        let digit = first.is_ascii_digit();
        let end = self
            .0
            .find(|c: char| c.is_ascii_digit() != digit)
            .unwrap_or(self.0.len());
        let (token, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<&str> = names.to_vec();
        v.sort_by(|a, b| compare(a, b));
        v.into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn versions_sort_as_versions() {
        assert_eq!(
            sorted(&["1.10", "1.9", "1.2.1", "1.2", "10.0", "2.0"]),
            ["1.2", "1.2.1", "1.9", "1.10", "2.0", "10.0"]
        );
        assert_eq!(
            sorted(&[
                "v2.0.0",
                "v2.0.0-rc1",
                "v2.0.0-rc10",
                "v2.0.0-rc2",
                "v2.0.0-beta",
                "v1.99"
            ]),
            [
                "v1.99",
                "v2.0.0-beta",
                "v2.0.0-rc1",
                "v2.0.0-rc2",
                "v2.0.0-rc10",
                "v2.0.0"
            ]
        );
    }

    #[test]
    fn names_sort_below_versions() {
        assert_eq!(
            sorted(&["nightly", "0.1", "main", "v3"]),
            ["main", "nightly", "0.1", "v3"]
        );
        assert_eq!(sorted(&["nightly", "main"]).last().unwrap(), "nightly");
    }

    #[test]
    fn the_order_is_total() {
        // Equal as versions, still ordered (and never Equal for different names).
        assert_eq!(compare("1.01", "1.1"), Ordering::Less);
        assert_eq!(compare("v1.0", "1.0"), Ordering::Greater);
        assert_eq!(compare("1.0+b2", "1.0+b10"), Ordering::Less);
        assert_eq!(compare("1.0", "1.0"), Ordering::Equal);
        // Numbers longer than any integer type.
        assert_eq!(
            compare("1.99999999999999999999999", "1.100000000000000000000000"),
            Ordering::Less
        );
    }

    #[test]
    fn dates_sort_by_date() {
        assert_eq!(
            sorted(&["2024-06-01", "2024-05-30", "2023-12-31"]),
            ["2023-12-31", "2024-05-30", "2024-06-01"]
        );
    }
}
