//! The object key `suite/release/filename`, a release's prefix `suite/release/`, and what makes
//! a part valid.
//!
//! The key is the contract between publishers and consumers of an artifact, so keys, prefixes
//! and the manifest's key are built only here ([`ObjectKey`], [`ReleaseRef`]), from validated
//! parts; the rest of the code asks these types instead of formatting strings.

use std::fmt;

/// The manifest's file name inside a release; reserved: no upload may use it, and listings
/// never show it as a file.
pub const MANIFEST_NAME: &str = ".s3blob-manifest.json";

/// The manifest's signature inside a release (minisign format); reserved like the manifest:
/// no upload may use it, listings never show it as a file, and it goes with the release.
pub const MANIFEST_SIGNATURE_NAME: &str = ".s3blob-manifest.json.minisig";

/// The signature of `SHA256SUMS` that a signed `--sha256sums` seal writes beside it (a file of
/// the release, listed in its manifest), for `minisign -Vm SHA256SUMS`.
pub const SHA256SUMS_SIGNATURE_NAME: &str = "SHA256SUMS.minisig";

/// The file `--sha256sums` writes into a release, in the format `sha256sum -c` reads.
pub const SHA256SUMS_NAME: &str = "SHA256SUMS";

/// S3 refuses keys longer than this many bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// Why a key part (or the whole key) was refused; `flag` names what the user typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {flag} {value:?}: {reason}")]
pub struct KeyError {
    pub flag: &'static str,
    pub value: String,
    pub reason: String,
}

/// A validated `suite/release/filename` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey {
    suite: String,
    release: String,
    filename: String,
}

impl ObjectKey {
    pub fn new(suite: &str, release: &str, filename: &str) -> Result<Self, KeyError> {
        check_part("--suite", suite)?;
        check_part("--release", release)?;
        check_part("--filename", filename)?;
        if filename == MANIFEST_NAME || filename == MANIFEST_SIGNATURE_NAME {
            return Err(KeyError {
                flag: "--filename",
                value: filename.to_owned(),
                reason: "the name is reserved for the release's manifest and its signature; choose another"
                    .to_owned(),
            });
        }
        let key = Self {
            suite: suite.to_owned(),
            release: release.to_owned(),
            filename: filename.to_owned(),
        };
        let len = key.to_string().len();
        if len > MAX_KEY_BYTES {
            return Err(KeyError {
                flag: "key",
                value: key.to_string(),
                reason: format!(
                    "the key is {len} bytes; S3 allows at most {MAX_KEY_BYTES}: shorten --suite, --release or --filename"
                ),
            });
        }
        Ok(key)
    }

    pub fn suite(&self) -> &str {
        &self.suite
    }

    pub fn release(&self) -> &str {
        &self.release
    }

    /// The last part; safe to use as a local file name (no `/`, not `.` or `..`).
    pub fn filename(&self) -> &str {
        &self.filename
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.suite, self.release, self.filename)
    }
}

/// A validated `suite/release`: the one place a release's prefix, its manifest's key and its
/// files' keys are built.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReleaseRef {
    suite: String,
    release: String,
}

impl ReleaseRef {
    pub fn new(suite: &str, release: &str) -> Result<Self, KeyError> {
        check_part("--suite", suite)?;
        check_part("--release", release)?;
        Ok(Self {
            suite: suite.to_owned(),
            release: release.to_owned(),
        })
    }

    /// A release the server listed (under a suite already checked): used to address its keys
    /// (prune and `delete --all` remove releases whatever their names), never as a local
    /// path, so its name is taken as listed.
    pub fn listed(suite: &str, release: &str) -> Self {
        Self {
            suite: suite.to_owned(),
            release: release.to_owned(),
        }
    }

    pub fn suite(&self) -> &str {
        &self.suite
    }

    pub fn release(&self) -> &str {
        &self.release
    }

    /// `suite/release/`: what every key of the release starts with.
    pub fn prefix(&self) -> String {
        format!("{self}/")
    }

    /// The key of the release's manifest.
    pub fn manifest_key(&self) -> String {
        manifest_key(&self.suite, &self.release)
    }

    /// The key of the release's manifest signature.
    pub fn signature_key(&self) -> String {
        format!("{}/{}/{MANIFEST_SIGNATURE_NAME}", self.suite, self.release)
    }

    /// The key of file `filename` of the release.
    pub fn key(&self, filename: &str) -> Result<ObjectKey, KeyError> {
        ObjectKey::new(&self.suite, &self.release, filename)
    }

    /// The file name a listed key of this release stands for: `None` for a key outside it or
    /// below a further `/`.
    pub fn name_of<'a>(&self, key: &'a str) -> Option<&'a str> {
        key.strip_prefix(&self.suite)?
            .strip_prefix('/')?
            .strip_prefix(&self.release)?
            .strip_prefix('/')
            .filter(|name| !name.contains('/'))
    }
}

/// The key of the manifest of `suite/release`, for callers holding names already checked.
pub fn manifest_key(suite: &str, release: &str) -> String {
    format!("{suite}/{release}/{MANIFEST_NAME}")
}

impl fmt::Display for ReleaseRef {
    /// `suite/release`, as messages name a release.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.suite, self.release)
    }
}

/// Why `name`, found in a listing of a release, cannot be one of its files, in words about the
/// name (it never was a flag); `None` when it can be.
pub fn listed_name_problem(name: &str) -> Option<String> {
    check_part("--filename", name)
        .err()
        .map(|e| format!("the name {}; s3blob does not download it", e.reason))
}

/// Why Windows cannot hold `name` as a file name, in words about the name; `None` when it can.
/// Pure, so the rules are tested everywhere; `platform` says where they apply. Windows refuses
/// `\ / : * ? " < > |`, a name ending in a dot or a space, the device names (`CON`, `PRN`,
/// `AUX`, `NUL`, `COM1`-`COM9`, `LPT1`-`LPT9`, also with an extension: `nul.txt`), and names
/// over 255 UTF-16 units.
pub fn windows_name_problem(name: &str) -> Option<String> {
    if let Some(c) = name.chars().find(|c| WINDOWS_FORBIDDEN.contains(c)) {
        return Some(format!(
            "contains {c:?}, which Windows does not allow in a file name"
        ));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("ends with a dot or a space, which Windows drops from a file name".to_owned());
    }
    // The device name is what comes before the first dot, trailing spaces ignored.
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    if is_windows_device(stem) {
        return Some(format!(
            "is the device name {} on Windows, not a file",
            stem.to_ascii_uppercase()
        ));
    }
    let units = name.encode_utf16().count();
    (units > 255)
        .then(|| format!("is {units} UTF-16 units long; Windows holds at most 255 in a file name"))
}

/// The characters Windows refuses in a file name (control characters are refused everywhere).
const WINDOWS_FORBIDDEN: [char; 9] = ['\\', '/', ':', '*', '?', '"', '<', '>', '|'];

fn is_windows_device(stem: &str) -> bool {
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => match upper
            .strip_prefix("COM")
            .or_else(|| upper.strip_prefix("LPT"))
        {
            Some(n) => matches!(n.as_bytes(), [b'1'..=b'9']),
            None => false,
        },
    }
}

/// The first pair of `names` that one file system folding case (Windows, macOS) would take for
/// the same file, in the order given; `None` when every name is distinct there.
pub fn case_collision<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<(&'a str, &'a str)> {
    let mut seen = std::collections::HashMap::new();
    for name in names {
        if let Some(first) = seen.insert(name.to_lowercase(), name)
            && first != name
        {
            return Some((first, name));
        }
    }
    None
}

/// Checks one part; the rules keep keys unambiguous (`/` is the hierarchy separator) and keep the
/// filename safe to write locally (no `..`, no path separators, no control characters).
pub fn check_part(flag: &'static str, value: &str) -> Result<(), KeyError> {
    let reason = if value.is_empty() {
        Some("must not be empty".to_owned())
    } else if value.contains('/') {
        Some("must not contain '/': the key is always suite/release/filename".to_owned())
    } else if value == "." || value == ".." {
        Some("must not be '.' or '..'".to_owned())
    } else {
        value.chars().find(|c| c.is_control()).map(|c| {
            format!(
                "must not contain control characters (found U+{:04X})",
                u32::from(c)
            )
        })
    };
    match reason {
        Some(reason) => Err(KeyError {
            flag,
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_builds_its_prefix_manifest_key_and_file_keys() {
        let r = ReleaseRef::new("app", "1.2").unwrap();
        assert_eq!(r.prefix(), "app/1.2/");
        assert_eq!(r.manifest_key(), "app/1.2/.s3blob-manifest.json");
        assert_eq!(r.key("a.tgz").unwrap().to_string(), "app/1.2/a.tgz");
        assert_eq!(r.name_of("app/1.2/a.tgz"), Some("a.tgz"));
        assert_eq!(r.name_of("app/1.2/sub/a.tgz"), None);
        assert_eq!(r.name_of("app/1.20/a.tgz"), None);
        assert_eq!(r.name_of("other/1.2/a.tgz"), None);
        assert_eq!(r.to_string(), "app/1.2");
        assert_eq!(ReleaseRef::new("app", "a/b").unwrap_err().flag, "--release");
        assert!(r.key(MANIFEST_NAME).is_err());
    }

    #[test]
    fn builds_the_three_part_key() {
        let key = ObjectKey::new("suite", "1.2.3", "app.tar.gz").unwrap();
        assert_eq!(key.to_string(), "suite/1.2.3/app.tar.gz");
        assert_eq!(key.filename(), "app.tar.gz");
    }

    #[test]
    fn part_rules() {
        let cases: &[(&str, bool)] = &[
            ("ok", true),
            ("v1.0.0-rc1+build.5", true),
            ("with space", true),
            ("ünïcödé", true),
            ("...", true),
            (".hidden", true),
            ("", false),
            ("a/b", false),
            ("/", false),
            (".", false),
            ("..", false),
            ("tab\there", false),
            ("nl\n", false),
            ("del\u{7f}", false),
            ("c1\u{85}", false),
        ];
        for (value, ok) in cases {
            assert_eq!(check_part("--suite", value).is_ok(), *ok, "{value:?}");
        }
    }

    #[test]
    fn error_names_the_flag() {
        let err = ObjectKey::new("s", "", "f").unwrap_err();
        assert_eq!(err.flag, "--release");
        assert!(err.to_string().starts_with("invalid --release \"\""));
        assert_eq!(listed_name_problem("app.tar.gz"), None);
        let problem = listed_name_problem("a\nb").unwrap();
        assert_eq!(
            problem,
            "the name must not contain control characters (found U+000A); s3blob does not download it"
        );
        assert!(!listed_name_problem("..").unwrap().contains("--"));
        let err = ObjectKey::new("s", "r", "a/b").unwrap_err();
        assert_eq!(err.flag, "--filename");
    }

    #[test]
    fn names_windows_cannot_hold() {
        let refused = [
            "a:b",
            "a\\b",
            "a*b",
            "what?",
            "q\"uote",
            "<x>",
            "a|b",
            "dot.",
            "space ",
            "CON",
            "con",
            "Con.txt",
            "nul.tar.gz",
            "PRN",
            "aux",
            "COM1",
            "com9.log",
            "LPT1",
            "lpt9",
            "NUL .txt",
        ];
        for name in refused {
            assert!(windows_name_problem(name).is_some(), "{name:?} passed");
        }
        let held = [
            "app.tar.gz",
            "CONSOLE",
            "con_log",
            "COM0",
            "COM10",
            "LPT",
            "lpt0.txt",
            ".hidden",
            "a b",
            "ünïcödé",
            "x.CON",
            "a;b=c,d[e]{f}",
            "NULL",
        ];
        for name in held {
            assert_eq!(windows_name_problem(name), None, "{name:?} refused");
        }
        // Length counts UTF-16 units: 255 of them fit whatever their UTF-8 length.
        assert_eq!(windows_name_problem(&"é".repeat(255)), None);
        assert_eq!(windows_name_problem(&"😀".repeat(127)), None, "254 units");
        let long = windows_name_problem(&"😀".repeat(128)).unwrap();
        assert!(long.contains("256 UTF-16 units"), "{long}");
        assert_eq!(
            windows_name_problem("CON.txt").unwrap(),
            "is the device name CON on Windows, not a file"
        );
        assert_eq!(
            windows_name_problem("a:b").unwrap(),
            "contains ':', which Windows does not allow in a file name"
        );
    }

    #[test]
    fn names_differing_only_in_case() {
        assert_eq!(case_collision(["a.txt", "b.txt", "c.txt"]), None);
        assert_eq!(
            case_collision(["README", "app.tgz", "readme"]),
            Some(("README", "readme"))
        );
        assert_eq!(case_collision(["Ünï", "ünÏ"]), Some(("Ünï", "ünÏ")));
        // The same name twice is one file, not a collision.
        assert_eq!(case_collision(["a", "a"]), None);
    }

    #[test]
    fn the_manifest_name_is_reserved() {
        assert!(ObjectKey::new("s", "r", MANIFEST_SIGNATURE_NAME).is_err());
        let err = ObjectKey::new("s", "r", MANIFEST_NAME).unwrap_err();
        assert_eq!(err.flag, "--filename");
        assert!(err.reason.contains("reserved"), "{err}");
        assert!(ObjectKey::new("s", "r", "SHA256SUMS").is_ok());
    }

    #[test]
    fn key_length_limit_is_in_bytes() {
        // 2 separators + 3 parts; "é" is two bytes.
        let ok = "é".repeat((MAX_KEY_BYTES - 4) / 2);
        assert!(ObjectKey::new("s", "r", &ok).is_ok());
        let too_long = format!("{ok}xyz");
        let err = ObjectKey::new("s", "r", &too_long).unwrap_err();
        assert_eq!(err.flag, "key");
        assert!(err.reason.contains("1024"));
    }
}
