//! A download's destination that appears whole or not at all.
//!
//! Bytes go to a file without a name in the destination's directory (`O_TMPFILE`: same file
//! system, invisible, and gone with the process whatever ends it, `kill -9` and power loss
//! included). `commit` makes the data durable (fsync), gives it the destination's name in one
//! step (`linkat`, which also refuses to replace a file that appeared meanwhile, for
//! `--no-clobber`), and makes that durable (fsync of the directory). Replacing an existing file
//! takes a temporary name and a rename, so the old file is replaced atomically. Where the file
//! system or kernel has no `O_TMPFILE` (or `/proc` is not mounted), the temporary file is a
//! named `.NAME.XXXXXX.s3blob-tmp` beside the destination, renamed at the end and removed on
//! any failure. Either way an existing file at the destination is never touched before the
//! final step, and an uncommitted `AtomicFile` leaves nothing when dropped.
//!
//! Other systems take the named temporary file. macOS: durability is `F_FULLFSYNC` (Apple's
//! `fsync` does not flush the drive's cache). Windows: `FlushFileBuffers`, then `MoveFileExW`
//! (with `MOVEFILE_REPLACE_EXISTING` unless `--no-clobber`); a directory cannot be opened to
//! be synced there, and NTFS journals the rename itself, so there is no directory sync.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tempfile::NamedTempFile;

use crate::error::Error;

pub struct AtomicFile {
    temp: Temp,
    dest: PathBuf,
}

enum Temp {
    /// `O_TMPFILE`: no name until the commit.
    Unnamed(File),
    /// The fallback: a named temporary file, removed on drop.
    Named(NamedTempFile),
    /// A partial file kept across runs for resuming: left in place on drop (its owner removes
    /// it when it is not to be kept).
    Partial(File, PathBuf),
}

impl AtomicFile {
    /// Creates the file that will become `dest`, in `dest`'s directory.
    pub fn create(dest: &Path) -> Result<Self, Error> {
        Self::create_as(dest, unnamed_supported())
    }

    /// [`AtomicFile::create`], trying `O_TMPFILE` only if `unnamed`.
    fn create_as(dest: &Path, unnamed: bool) -> Result<Self, Error> {
        let dir = parent_dir(dest);
        let created = |temp| {
            Ok(Self {
                temp,
                dest: dest.to_owned(),
            })
        };
        if unnamed {
            match unnamed::open(dir) {
                Ok(Some(file)) => return created(Temp::Unnamed(file)),
                // No O_TMPFILE on this file system (or kernel): a named temporary file.
                Ok(None) => {}
                Err(e) => return Err(Error::local_io("create a temporary file in", dir, &e)),
            }
        }
        created(Temp::Named(named_temp(dir, dest)?))
    }

    /// The file that will become `dest`, named `partial` and kept whatever ends the process,
    /// for a download that can be resumed: opened as it is when `fresh` is false (its bytes
    /// are reused), else emptied.
    pub fn partial(dest: &Path, partial: &Path, fresh: bool) -> Result<Self, Error> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(fresh);
        let file = options
            .open(partial)
            .map_err(|e| Error::local_io("create the partial file", partial, &e))?;
        Ok(Self {
            temp: Temp::Partial(file, partial.to_owned()),
            dest: dest.to_owned(),
        })
    }

    pub fn file(&self) -> &File {
        match &self.temp {
            Temp::Unnamed(f) | Temp::Partial(f, _) => f,
            Temp::Named(t) => t.as_file(),
        }
    }

    /// The path to name in messages about the file being written: the temporary file's, or
    /// the destination's while it has no name.
    pub fn temp_path(&self) -> &Path {
        match &self.temp {
            Temp::Unnamed(_) => &self.dest,
            Temp::Named(t) => t.path(),
            Temp::Partial(_, path) => path,
        }
    }

    /// Makes the file durable and moves it into place, then makes that durable too. With
    /// `no_clobber`, an existing destination (even one created during the download) is left
    /// alone and the call fails.
    pub fn commit(self, no_clobber: bool) -> Result<(), Error> {
        let dest = self.dest.clone();
        self.commit_file(no_clobber)?;
        sync_dir(parent_dir(&dest))
    }

    /// [`AtomicFile::commit`] without the directory's fsync: for many files into one
    /// directory, which is then synced once ([`sync_dir`]).
    pub fn commit_file(self, no_clobber: bool) -> Result<(), Error> {
        let Self { temp, dest } = self;
        let written = |e: &std::io::Error| Error::local_io("write", &dest, e);
        match temp {
            Temp::Named(t) => {
                durable(t.as_file()).map_err(|e| Error::local_io("write", t.path(), &e))?;
                persist(t, &dest, no_clobber)
            }
            Temp::Partial(file, path) => {
                durable(&file).map_err(|e| Error::local_io("write", &path, &e))?;
                let named = tempfile::TempPath::try_from_path(&path)
                    .map_err(|e| Error::local_io("write", &path, &e))?;
                persist(NamedTempFile::from_parts(file, named), &dest, no_clobber)
            }
            Temp::Unnamed(file) => {
                durable(&file).map_err(|e| written(&e))?;
                match unnamed::link(&file, &dest) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && no_clobber => {
                        Err(exists(&dest))
                    }
                    // Replacing a file: a temporary name, then an atomic rename over it.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let dir = parent_dir(&dest);
                        let named = link_temp(&file, dir, &dest)?;
                        persist(named, &dest, false)
                    }
                    Err(e) => Err(written(&e)),
                }
            }
        }
    }
}

/// A hook for the test suite only, not a setting: set to `1`, downloads take the named
/// temporary file as on a file system without `O_TMPFILE`, so the tests can drive that fallback
/// through the binary (signals included) on any machine. Refused in a `.env` file like every
/// `S3BLOB_TEST_*` hook.
const NAMED_TEMP_VAR: &str = "S3BLOB_TEST_NAMED_TEMP_FILE";

/// Whether unnamed temporary files can be given a name later: that needs Linux and
/// `/proc/self/fd` (linking an open file by its descriptor without privileges).
fn unnamed_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        std::env::var_os(NAMED_TEMP_VAR).is_none_or(|v| v != "1") && unnamed::supported()
    })
}

/// Linux's unnamed temporary files.
#[cfg(target_os = "linux")]
mod unnamed {
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;
    use std::path::Path;

    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    use rustix::io::Errno;

    pub(super) fn supported() -> bool {
        Path::new("/proc/self/fd").is_dir()
    }

    /// A file without a name in `dir`, mode 0666 less the umask like any new file; `None` if
    /// the file system (or kernel) has no `O_TMPFILE`.
    pub(super) fn open(dir: &Path) -> io::Result<Option<File>> {
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        match rustix::fs::openat(CWD, dir, flags, Mode::from_raw_mode(0o666)) {
            Ok(fd) => Ok(Some(File::from(fd))),
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOSYS) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the open, unnamed `file` the name `dest`; fails with `AlreadyExists` if `dest`
    /// exists.
    pub(super) fn link(file: &File, dest: &Path) -> io::Result<()> {
        let fd = format!("/proc/self/fd/{}", file.as_raw_fd());
        rustix::fs::linkat(CWD, fd.as_str(), CWD, dest, AtFlags::SYMLINK_FOLLOW)
            .map_err(io::Error::from)
    }
}

/// Elsewhere there are no unnamed files: every temporary file is a named one.
#[cfg(not(target_os = "linux"))]
mod unnamed {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    pub(super) fn supported() -> bool {
        false
    }

    pub(super) fn open(_dir: &Path) -> io::Result<Option<File>> {
        Ok(None)
    }

    pub(super) fn link(_file: &File, _dest: &Path) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Makes `file`'s data durable. macOS: `F_FULLFSYNC`, since Apple's `fsync` leaves the data in
/// the drive's cache (a file system that cannot do it falls back to `fsync`).
#[cfg(target_vendor = "apple")]
fn durable(file: &File) -> io::Result<()> {
    rustix::fs::fcntl_fullfsync(file).or_else(|_| file.sync_all())
}

/// `fsync` on Unix; `FlushFileBuffers` on Windows.
#[cfg(not(target_vendor = "apple"))]
fn durable(file: &File) -> io::Result<()> {
    file.sync_all()
}

/// Gives `file` a fresh temporary name beside `dest`, as a `NamedTempFile` (removed on drop).
fn link_temp(file: &File, dir: &Path, dest: &Path) -> Result<NamedTempFile, Error> {
    for _ in 0..16 {
        let path = dir.join(temp_name(dest, &random_suffix()));
        match unnamed::link(file, &path) {
            Ok(()) => {
                let failed = |e: std::io::Error| Error::local_io("write", &path, &e);
                let reopened = file.try_clone().map_err(failed)?;
                let named = tempfile::TempPath::try_from_path(&path).map_err(failed)?;
                return Ok(NamedTempFile::from_parts(reopened, named));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::local_io("write", &path, &e)),
        }
    }
    Err(Error::Other(format!(
        "cannot find a free temporary name in {}",
        dir.display()
    )))
}

fn persist(temp: NamedTempFile, dest: &Path, no_clobber: bool) -> Result<(), Error> {
    let persisted = if no_clobber {
        temp.persist_noclobber(dest)
    } else {
        temp.persist(dest)
    };
    match persisted {
        Ok(_) => Ok(()),
        // `e.file` drops here, removing the temporary file.
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Err(exists(dest)),
        Err(e) => Err(Error::local_io("write", dest, &e.error)),
    }
}

fn exists(dest: &Path) -> Error {
    Error::AlreadyExists(format!(
        "{} already exists; remove it or drop --no-clobber",
        dest.display()
    ))
}

/// A named temporary file `.NAME.XXXXXX.s3blob-tmp` in `dir`.
fn named_temp(dir: &Path, dest: &Path) -> Result<NamedTempFile, Error> {
    let prefix = format!(".{}.", short_name(dest));
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".s3blob-tmp");
    // Like any new file: 0666 less the umask on Unix (tempfile's default is 0600).
    if let Some(permissions) = super::new_file_permissions() {
        builder.permissions(permissions);
    }
    builder
        .tempfile_in(dir)
        .map_err(|e| Error::local_io("create a temporary file in", dir, &e))
}

fn temp_name(dest: &Path, suffix: &str) -> String {
    format!(".{}.{suffix}.s3blob-tmp", short_name(dest))
}

/// The destination's name, cut so a temporary name stays well inside the 255-byte limit.
fn short_name(dest: &Path) -> String {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.char_indices()
        .take_while(|(i, c)| i + c.len_utf8() <= 100)
        .map(|(_, c)| c)
        .collect()
}

fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:06x}", h.finish() & 0xff_ffff)
}

/// Makes the renames into `dir` durable.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::local_io("sync the directory", dir, &e))
}

/// Windows refuses to open a directory as a file (and NTFS journals renames): nothing to sync.
#[cfg(windows)]
pub fn sync_dir(_dir: &Path) -> Result<(), Error> {
    Ok(())
}

/// The directory holding `path`; `.` for a bare file name.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn commit_replaces_atomically(unnamed: bool) {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        std::fs::write(&dest, b"old").unwrap();
        let f = AtomicFile::create_as(&dest, unnamed).unwrap();
        assert!(f.temp_path().starts_with(dir.path()));
        (&mut f.file()).write_all(b"new bytes").unwrap();
        if unnamed {
            // Nothing visible beside the old file until the commit.
            assert_eq!(entries(dir.path()), ["out.bin"]);
        }
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        f.commit(false).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new bytes");
        assert_eq!(entries(dir.path()), ["out.bin"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
            assert_ne!(
                mode & 0o044,
                0,
                "readable like any new file, not 0600: {mode:o}"
            );
        }
    }

    fn drop_removes_temp_and_keeps_existing(unnamed: bool) {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        std::fs::write(&dest, b"old").unwrap();
        {
            let f = AtomicFile::create_as(&dest, unnamed).unwrap();
            (&mut f.file()).write_all(b"partial").unwrap();
        }
        assert_eq!(entries(dir.path()), ["out.bin"]);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    }

    fn no_clobber_refuses(unnamed: bool) {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let f = AtomicFile::create_as(&dest, unnamed).unwrap();
        std::fs::write(&dest, b"appeared meanwhile").unwrap();
        let err = f.commit(true).unwrap_err();
        assert_eq!(err.exit_code(), 6);
        assert_eq!(std::fs::read(&dest).unwrap(), b"appeared meanwhile");
        assert_eq!(entries(dir.path()), ["out.bin"]);
    }

    fn a_name_at_the_length_limit_still_gets_a_temporary_file(unnamed: bool) {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("é".repeat(127));
        let f = AtomicFile::create_as(&dest, unnamed).unwrap();
        (&mut f.file()).write_all(b"x").unwrap();
        f.commit(false).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"x");
    }

    fn missing_directory_is_not_found(unnamed: bool) {
        let dir = tempfile::tempdir().unwrap();
        let err = AtomicFile::create_as(&dir.path().join("nope/out.bin"), unnamed)
            .err()
            .unwrap();
        assert_eq!(err.exit_code(), 3);
    }

    fn a_new_file_appears_only_at_the_commit(unnamed: bool) {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("new.bin");
        let f = AtomicFile::create_as(&dest, unnamed).unwrap();
        (&mut f.file()).write_all(b"fresh").unwrap();
        assert!(!dest.exists());
        f.commit(true).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"fresh");
        assert_eq!(entries(dir.path()), ["new.bin"]);
    }

    /// Every case, with the unnamed temporary file and with the named fallback.
    #[test]
    fn every_case_both_ways() {
        for unnamed in [true, false] {
            commit_replaces_atomically(unnamed);
            drop_removes_temp_and_keeps_existing(unnamed);
            no_clobber_refuses(unnamed);
            a_name_at_the_length_limit_still_gets_a_temporary_file(unnamed);
            missing_directory_is_not_found(unnamed);
            a_new_file_appears_only_at_the_commit(unnamed);
        }
    }
}
