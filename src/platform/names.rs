//! File names as this system counts and compares them.

use std::ffi::OsStr;
use std::path::Path;

/// Whether a download refuses the names Windows cannot hold (device names such as `CON`, `:`
/// and the like, a trailing dot or space): Windows builds. Elsewhere those names are valid
/// and s3blob stays silent about them.
pub(crate) const WINDOWS_NAMES: bool = cfg!(windows);

/// Whether two names that differ only in case are one file here: Windows and macOS, whose
/// usual file systems (NTFS, APFS) fold case.
pub(crate) const CASE_INSENSITIVE: bool = cfg!(any(windows, target_os = "macos"));

/// What [`name_len`] counts.
#[cfg(unix)]
pub(crate) const NAME_UNIT: &str = "bytes";
#[cfg(windows)]
pub(crate) const NAME_UNIT: &str = "UTF-16 units";

/// The length of a file name as the file system limits it: bytes on Unix, UTF-16 code units on
/// Windows.
#[cfg(unix)]
pub(crate) fn name_len(name: &OsStr) -> usize {
    name.len()
}

#[cfg(windows)]
pub(crate) fn name_len(name: &OsStr) -> usize {
    use std::os::windows::ffi::OsStrExt;
    name.encode_wide().count()
}

/// The longest file name `dir`'s file system holds, in [`NAME_UNIT`]: `statvfs`'s `f_namemax`
/// on Unix (255 if it cannot be asked); 255 on Windows (NTFS, exFAT and ReFS alike).
#[cfg(unix)]
pub(crate) fn name_max(dir: &Path) -> usize {
    rustix::fs::statvfs(dir)
        .ok()
        .and_then(|s| usize::try_from(s.f_namemax).ok())
        .filter(|&n| n > 0)
        .unwrap_or(255)
}

#[cfg(windows)]
pub(crate) fn name_max(_dir: &Path) -> usize {
    255
}
