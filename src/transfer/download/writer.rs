//! Positioned writes into a download's temporary file, one at a time, with early write-back.
//!
//! Buffered writes to one file take the inode's lock in the kernel, one writer at a time; a
//! writer that finds it taken spins while the holder copies its chunk (`rwsem_spin_on_owner` was
//! the top symbol of the download profile, ~11-16 % of the client's CPU). Taking our own lock
//! first makes the waiting thread sleep instead, leaving the core to the network. Each chunk is
//! written by the thread that just received it, while it is still in that core's cache (handing
//! chunks to a writer thread made the copy into the page cache twice as expensive, and kept
//! more buffers alive).
//!
//! The file's blocks are reserved before the download ([`FileWriter::set_len`]), and a finished
//! range is handed to the disk at once ([`FileWriter::start_write_back`]), so the fsync before
//! the rename finds little left to do.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::sync::Mutex;

/// Files at least this large get their blocks reserved up front. For a small file the
/// reservation costs more than it saves (+0.5 ms for 1 KiB, measured).
const RESERVE_FROM: u64 = 1024 * 1024;

pub struct FileWriter {
    file: File,
    /// Held for the length of one write: writers queue here, asleep, not in the kernel.
    turn: Mutex<()>,
}

impl FileWriter {
    pub fn new(file: File) -> Self {
        Self {
            file,
            turn: Mutex::new(()),
        }
    }

    /// Sizes the file to `len` bytes and, from `RESERVE_FROM` (1 MiB) on and where the file
    /// system can, reserves its blocks (Linux `fallocate`). Writes then fill blocks that exist
    /// instead of ext4 reserving and accounting every 4 KiB page as it arrives (delayed
    /// allocation: ~15 % of the client's CPU for 1 GiB), and a full disk is reported before
    /// anything is downloaded.
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        if len >= RESERVE_FROM {
            crate::platform::reserve(&self.file, len)?;
        }
        Ok(())
    }

    /// Writes all of `buf` at `offset`.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        // Nothing is guarded but the turn itself, so a poisoned lock is still usable.
        let _turn = self.turn.lock().unwrap_or_else(|p| p.into_inner());
        crate::platform::write_all_at(&self.file, buf, offset)
    }

    /// Starts writing `range` to disk without waiting for it (Linux `sync_file_range` with
    /// `SYNC_FILE_RANGE_WRITE`; nothing elsewhere). Only a head start: the fsync before the
    /// rename still makes the file durable and reports any I/O error, so a failure here is only
    /// logged.
    pub fn start_write_back(&self, range: Range<u64>) {
        if let Err(e) = crate::platform::start_write_back(&self.file, range) {
            tracing::debug!("sync_file_range: {e}; the fsync before the rename will do it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_at_offsets_and_starts_write_back() {
        let file = tempfile::tempfile().unwrap();
        file.set_len(10).unwrap();
        let writer = FileWriter::new(file.try_clone().unwrap());
        writer.write_at(b"fghij", 5).unwrap();
        writer.write_at(b"abcde", 0).unwrap();
        writer.start_write_back(0..10);
        let mut got = vec![0; 10];
        let mut file = file;
        std::io::Seek::rewind(&mut file).unwrap();
        std::io::Read::read_exact(&mut file, &mut got).unwrap();
        assert_eq!(got, b"abcdefghij");
    }

    #[test]
    fn set_len_sizes_small_and_large_files() {
        for len in [0, 10, RESERVE_FROM, RESERVE_FROM + 1] {
            let file = tempfile::tempfile().unwrap();
            FileWriter::new(file.try_clone().unwrap())
                .set_len(len)
                .unwrap();
            assert_eq!(file.metadata().unwrap().len(), len);
        }
    }

    #[test]
    fn a_failed_write_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        // Opened read-only: the system refuses the write (EBADF; Windows: access denied).
        let writer = FileWriter::new(File::open(&path).unwrap());
        let err = writer.write_at(b"abc", 0).unwrap_err();
        assert!(err.raw_os_error().is_some(), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
        writer.start_write_back(0..3);
    }
}
