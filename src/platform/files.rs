//! Files: positioned I/O, reserving blocks, write-back, modes and owners.

use std::fs::{File, Permissions};
use std::io;
use std::ops::Range;
use std::path::Path;

/// Reads into `buf` from `offset` without moving a shared cursor, so several threads can read
/// one open file. May read less than asked, like `read`.
#[cfg(unix)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// Windows has no `pread`: `seek_read` reads at `offset` (it moves the handle's cursor, which
/// no caller uses). Parallel reads through one handle are serialised by the system.
#[cfg(windows)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Writes all of `buf` at `offset`.
#[cfg(unix)]
pub(crate) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_write(buf, offset) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reserves the blocks of the first `len` bytes of `file`, already sized to `len`. Only running
/// out of space is an error: a file system without `fallocate` (some network and FUSE ones)
/// just keeps the sparse file. Linux `fallocate`; macOS `F_PREALLOCATE` (rustix's
/// `fallocate`).
#[cfg(unix)]
pub(crate) fn reserve(file: &File, len: u64) -> io::Result<()> {
    use rustix::fs::{FallocateFlags, fallocate};
    use rustix::io::Errno;
    match fallocate(file, FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::NOSPC || e == Errno::DQUOT || e == Errno::FBIG => Err(e.into()),
        Err(e) => {
            tracing::debug!("fallocate: {e}; writing into a sparse file");
            Ok(())
        }
    }
}

/// On NTFS, setting a file's length (which the caller has done) allocates its clusters, so a
/// full disk has already been reported; nothing more to do.
#[cfg(windows)]
pub(crate) fn reserve(_file: &File, _len: u64) -> io::Result<()> {
    Ok(())
}

/// Starts writing `range` of `file` to disk without waiting for it (Linux `sync_file_range`
/// with `SYNC_FILE_RANGE_WRITE`; nothing elsewhere). Only a head start: the fsync before the
/// rename still makes the file durable and reports any I/O error.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn start_write_back(file: &File, range: Range<u64>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let offset = libc::off64_t::try_from(range.start).map_err(io::Error::other)?;
    let len = libc::off64_t::try_from(range.end - range.start).map_err(io::Error::other)?;
    // SAFETY: sync_file_range takes only integers and reads no memory of ours; the descriptor
    // stays open while `file` is borrowed.
    let rc = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn start_write_back(_file: &File, _range: Range<u64>) -> io::Result<()> {
    Ok(())
}

/// Whether `path` can be read, asked without keeping it open (Unix `access(R_OK)`; Windows has
/// no such call that answers for the process's token, so the file is opened and closed).
#[cfg(unix)]
pub(crate) fn check_readable(path: &Path) -> io::Result<()> {
    rustix::fs::access(path, rustix::fs::Access::READ_OK).map_err(io::Error::from)
}

#[cfg(windows)]
pub(crate) fn check_readable(path: &Path) -> io::Result<()> {
    File::open(path).map(drop)
}

/// The permissions a downloaded file gets, like any new file: 0666 less the umask on Unix
/// (a temporary file's default is 0600); Windows files take their directory's ACL (`None`).
#[cfg(unix)]
pub(crate) fn new_file_permissions() -> Option<Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(Permissions::from_mode(0o666))
}

#[cfg(windows)]
pub(crate) fn new_file_permissions() -> Option<Permissions> {
    None
}

/// Makes a file `options` will create private to its owner (0600) when `private`, else
/// readable by all (0644) on Unix; Windows files take their directory's ACL either way.
#[cfg(unix)]
pub(crate) fn creation_mode(options: &mut std::fs::OpenOptions, private: bool) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(if private { 0o600 } else { 0o644 });
}

#[cfg(windows)]
pub(crate) fn creation_mode(_options: &mut std::fs::OpenOptions, _private: bool) {}

/// Opens `path` for reading without blocking on a FIFO (Unix `O_NONBLOCK`; Windows has no
/// FIFOs in the file system).
#[cfg(unix)]
pub(crate) fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(windows)]
pub(crate) fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// A file's owner (uid) and mode bits, where the system has them (Unix); `None` on Windows,
/// whose ACLs are not judged.
#[cfg(unix)]
pub(crate) fn file_owner(meta: &std::fs::Metadata) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.uid(), meta.mode()))
}

#[cfg(windows)]
pub(crate) fn file_owner(_meta: &std::fs::Metadata) -> Option<(u32, u32)> {
    None
}

/// The process's effective uid (Unix); `None` on Windows.
#[cfg(unix)]
pub(crate) fn my_uid() -> Option<u32> {
    Some(rustix::process::geteuid().as_raw())
}

#[cfg(windows)]
pub(crate) fn my_uid() -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positioned_reads_and_writes() {
        let file = tempfile::tempfile().unwrap();
        write_all_at(&file, b"world", 6).unwrap();
        write_all_at(&file, b"hello ", 0).unwrap();
        let mut buf = [0u8; 11];
        let mut pos = 0;
        while pos < buf.len() {
            let n = read_at(&file, &mut buf[pos..], pos as u64).unwrap();
            assert_ne!(n, 0);
            pos += n;
        }
        assert_eq!(&buf, b"hello world");
        assert_eq!(read_at(&file, &mut buf, 11).unwrap(), 0, "end of file");
    }
}
