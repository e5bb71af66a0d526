//! A download's destination that appears whole or not at all.
//!
//! Bytes go to a temporary file beside the destination (same directory, so same file system
//! and the final rename is atomic). `commit` makes the data durable (fsync), renames it into
//! place and makes the rename durable (fsync of the directory). Dropping an uncommitted
//! `AtomicFile`, on any error or interruption, removes the temporary file, and an existing file
//! at the destination is never touched before the rename.

use std::fs::{File, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::Error;

pub struct AtomicFile {
    temp: NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file `.NAME.XXXXXX.s3blob-tmp` in the destination's directory.
    pub fn create(dest: &Path) -> Result<Self, Error> {
        let dir = parent_dir(dest);
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // File names are limited to 255 bytes: keep the temporary name well inside that even
        // when the destination's own name is at the limit.
        let name: String = name
            .char_indices()
            .take_while(|(i, c)| i + c.len_utf8() <= 100)
            .map(|(_, c)| c)
            .collect();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".s3blob-tmp")
            // Like any new file: 0666 less the umask (tempfile's default is 0600).
            .permissions(Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| Error::local_io("create a temporary file in", dir, &e))?;
        Ok(Self {
            temp,
            dest: dest.to_owned(),
        })
    }

    pub fn file(&self) -> &File {
        self.temp.as_file()
    }

    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Makes the file durable and moves it into place, then makes the rename durable too. With
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
        let dest = self.dest;
        self.temp
            .as_file()
            .sync_all()
            .map_err(|e| Error::local_io("write", self.temp.path(), &e))?;
        let persisted = if no_clobber {
            self.temp.persist_noclobber(&dest)
        } else {
            self.temp.persist(&dest)
        };
        if let Err(e) = persisted {
            // `e.file` drops here, removing the temporary file.
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                return Err(Error::AlreadyExists(format!(
                    "{} already exists; remove it or drop --no-clobber",
                    dest.display()
                )));
            }
            return Err(Error::local_io("write", &dest, &e.error));
        }
        Ok(())
    }
}

/// Makes the renames into `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::local_io("sync the directory", dir, &e))
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

    #[test]
    fn commit_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        std::fs::write(&dest, b"old").unwrap();
        let f = AtomicFile::create(&dest).unwrap();
        assert!(f.temp_path().starts_with(dir.path()));
        (&mut f.file()).write_all(b"new bytes").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        f.commit(false).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new bytes");
        assert_eq!(entries(dir.path()), ["out.bin"]);
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
        assert_ne!(
            mode & 0o044,
            0,
            "readable like any new file, not 0600: {mode:o}"
        );
    }

    #[test]
    fn drop_removes_temp_and_keeps_existing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        std::fs::write(&dest, b"old").unwrap();
        {
            let f = AtomicFile::create(&dest).unwrap();
            (&mut f.file()).write_all(b"partial").unwrap();
        }
        assert_eq!(entries(dir.path()), ["out.bin"]);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    }

    #[test]
    fn no_clobber_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let f = AtomicFile::create(&dest).unwrap();
        std::fs::write(&dest, b"appeared meanwhile").unwrap();
        let err = f.commit(true).unwrap_err();
        assert_eq!(err.exit_code(), 6);
        assert_eq!(std::fs::read(&dest).unwrap(), b"appeared meanwhile");
        assert_eq!(entries(dir.path()), ["out.bin"]);
    }

    #[test]
    fn a_name_at_the_length_limit_still_gets_a_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("é".repeat(127));
        let f = AtomicFile::create(&dest).unwrap();
        (&mut f.file()).write_all(b"x").unwrap();
        f.commit(false).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"x");
    }

    #[test]
    fn missing_directory_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let err = AtomicFile::create(&dir.path().join("nope/out.bin"))
            .err()
            .unwrap();
        assert_eq!(err.exit_code(), 3);
    }
}
