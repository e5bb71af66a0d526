//! A download kept across runs (`download --resumable`): the bytes go to a named partial file
//! beside the destination (`.NAME.s3blob-partial`) and each finished range is recorded in a
//! small log beside it (`.NAME.s3blob-partial.state`: one header line naming the object, its
//! ETag, size and range size, then one line per finished range with its CRC64NVME). A later
//! download of the same key to the same place continues from them when the object is the
//! same (same ETag and size, every later range pinned to that ETag), after reading every
//! recorded range back from disk and checking its CRC64NVME: a range whose bytes on disk do
//! not match is fetched again. The whole object's CRC64NVME is checked at the end as always,
//! and the destination appears only then.
//!
//! The log is appended to (never rewritten), so recording a range costs one small write
//! whatever the object's size; a line torn by a crash is ignored.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tracing::{debug, warn};

use crate::checksum;
use crate::error::Error;

/// The partial file and its log, beside a destination.
#[derive(Debug, Clone)]
pub(super) struct Paths {
    pub(super) data: PathBuf,
    pub(super) state: PathBuf,
}

impl Paths {
    /// The partial file's paths for `dest`; `None` when its name would be too long for the
    /// directory (the download then goes without resume).
    pub(super) fn beside(dest: &Path) -> Option<Self> {
        let name = dest.file_name()?.to_str()?;
        let dir = crate::platform::atomic_file::parent_dir(dest);
        let state = format!(".{name}.s3blob-partial.state");
        let max = crate::platform::name_max(dir);
        if crate::platform::name_len(std::ffi::OsStr::new(&state)) > max {
            return None;
        }
        Some(Self {
            data: dir.join(format!(".{name}.s3blob-partial")),
            state: dir.join(state),
        })
    }

    /// Whether an earlier run left a partial download here.
    pub(super) fn exist(&self) -> bool {
        self.state.exists()
    }

    /// Removes both files (what is missing is fine).
    pub(super) fn remove(&self) {
        for path in [&self.data, &self.state] {
            if let Err(e) = std::fs::remove_file(path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                warn!("cannot remove {}: {e}", path.display());
            }
        }
    }
}

/// What a partial download is of: it is continued only for the very same object, cut the
/// same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Object {
    pub(super) bucket: String,
    pub(super) key: String,
    pub(super) etag: String,
    pub(super) size: u64,
    pub(super) part_size: u64,
}

impl Object {
    fn header(&self) -> String {
        serde_json::json!({
            "s3blob_partial": 1,
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "size": self.size,
            "part_size": self.part_size,
        })
        .to_string()
    }

    fn from_header(line: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        (v["s3blob_partial"].as_u64() == Some(1)).then_some(())?;
        Some(Self {
            bucket: v["bucket"].as_str()?.to_owned(),
            key: v["key"].as_str()?.to_owned(),
            etag: v["etag"].as_str()?.to_owned(),
            size: v["size"].as_u64()?,
            part_size: v["part_size"].as_u64()?,
        })
    }
}

/// The ranges an earlier run finished, by index, with their CRC64NVME, if its log is of
/// `object` and its partial file has the object's size; `Err` says why not (for the line that
/// says the download starts over).
pub(super) fn recorded(paths: &Paths, object: &Object) -> Result<BTreeMap<usize, u64>, String> {
    let file = File::open(&paths.state).map_err(|e| format!("its record is unreadable: {e}"))?;
    let mut lines = BufReader::new(file).lines();
    let header = lines.next().and_then(Result::ok).unwrap_or_default();
    let Some(was) = Object::from_header(&header) else {
        return Err("its record is not one s3blob can read".to_owned());
    };
    if was.bucket != object.bucket || was.key != object.key {
        return Err(format!("it is of s3://{}/{}", was.bucket, was.key));
    }
    if was.etag != object.etag || was.size != object.size {
        return Err("the object was replaced since".to_owned());
    }
    if was.part_size != object.part_size {
        return Err(format!(
            "it was fetched in ranges of {} bytes, this download uses {}",
            was.part_size, object.part_size
        ));
    }
    let len = std::fs::metadata(&paths.data).map_or(None, |m| Some(m.len()));
    if len != Some(object.size) {
        return Err("its partial file is missing or of another size".to_owned());
    }
    let mut done = BTreeMap::new();
    // A torn last line (a crash mid-write) is no record.
    for line in lines.map_while(Result::ok) {
        let mut fields = line.split(' ');
        let (Some(index), Some(crc), None) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let (Ok(index), Some(crc)) = (index.parse::<usize>(), checksum::from_base64(crc)) {
            done.insert(index, crc);
        }
    }
    Ok(done)
}

/// Of the `recorded` ranges, those whose bytes in `file` still have their CRC64NVME (read
/// back from disk), with it.
pub(super) fn still_there(
    file: &File,
    path: &Path,
    ranges: &[Range<u64>],
    recorded: &BTreeMap<usize, u64>,
) -> Result<BTreeMap<usize, u64>, Error> {
    let mut kept = BTreeMap::new();
    for (&index, &crc) in recorded {
        let Some(range) = ranges.get(index) else {
            continue;
        };
        match crate::transfer::crc_of_file_range(file, range.start, range.end - range.start) {
            Ok(now) if now == crc => {
                kept.insert(index, crc);
            }
            Ok(_) => debug!(
                index,
                "a recorded range does not match its bytes on disk: fetched again"
            ),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                debug!(
                    index,
                    "a recorded range is past the partial file's end: fetched again"
                );
            }
            Err(e) => return Err(Error::local_io("read", path, &e)),
        }
    }
    Ok(kept)
}

/// The log a download appends each finished range to.
pub(super) struct Log {
    file: Mutex<File>,
    path: PathBuf,
    /// A failed write is said once; the download goes on (it only resumes less).
    failed: std::sync::atomic::AtomicBool,
    /// Ranges recorded, kept ones included: a log of none is not worth keeping.
    ranges: Arc<AtomicUsize>,
}

impl Log {
    /// A new log for `object` holding `kept` (the ranges reused from an earlier run).
    pub(super) fn start(
        paths: &Paths,
        object: &Object,
        kept: &BTreeMap<usize, u64>,
    ) -> Result<Self, Error> {
        let path = paths.state.clone();
        let mut text = object.header();
        text.push('\n');
        for (index, crc) in kept {
            text.push_str(&format!("{index} {}\n", checksum::to_base64(*crc)));
        }
        // Written whole under a temporary name and renamed: a crash leaves the old or the new.
        let temp = path.with_extension("state-new");
        std::fs::write(&temp, text)
            .and_then(|()| std::fs::rename(&temp, &path))
            .map_err(|e| Error::local_io("write", &path, &e))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::local_io("write", &path, &e))?;
        Ok(Self {
            file: Mutex::new(file),
            path,
            failed: Default::default(),
            ranges: Arc::new(AtomicUsize::new(kept.len())),
        })
    }

    /// How many ranges the log holds, as it grows.
    pub(super) fn ranges(&self) -> Arc<AtomicUsize> {
        self.ranges.clone()
    }

    /// Records range `index`, whose bytes are written, with its CRC64NVME.
    pub(super) fn done(&self, index: usize, crc: u64) {
        let line = format!("{index} {}\n", checksum::to_base64(crc));
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = file.write_all(line.as_bytes());
        if written.is_ok() {
            self.ranges.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = written
            && !self.failed.swap(true, Ordering::Relaxed)
        {
            warn!(
                "cannot record progress in {}: {e}; an interrupted download will resume from less",
                self.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object() -> Object {
        Object {
            bucket: "b".into(),
            key: "s/1/f.bin".into(),
            etag: "\"abc\"".into(),
            size: 10,
            part_size: 4,
        }
    }

    #[test]
    fn a_log_is_read_back_and_a_torn_line_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::beside(&dir.path().join("f.bin")).unwrap();
        std::fs::write(&paths.data, [0u8; 10]).unwrap();
        let kept = BTreeMap::from([(2, 7)]);
        let log = Log::start(&paths, &object(), &kept).unwrap();
        log.done(0, 5);
        drop(log);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&paths.state)
            .unwrap();
        f.write_all(b"1 AAA").unwrap();
        let done = recorded(&paths, &object()).unwrap();
        assert_eq!(done, BTreeMap::from([(0, 5), (2, 7)]));
    }

    #[test]
    fn another_object_or_cut_is_not_continued() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::beside(&dir.path().join("f.bin")).unwrap();
        std::fs::write(&paths.data, [0u8; 10]).unwrap();
        Log::start(&paths, &object(), &BTreeMap::new()).unwrap();
        let replaced = Object {
            etag: "\"def\"".into(),
            ..object()
        };
        assert!(
            recorded(&paths, &replaced)
                .unwrap_err()
                .contains("replaced")
        );
        let recut = Object {
            part_size: 8,
            ..object()
        };
        assert!(
            recorded(&paths, &recut)
                .unwrap_err()
                .contains("ranges of 4")
        );
        std::fs::write(&paths.data, [0u8; 9]).unwrap();
        assert!(recorded(&paths, &object()).unwrap_err().contains("size"));
    }

    #[test]
    fn a_range_whose_bytes_changed_on_disk_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let bytes: Vec<u8> = (0..10).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let ranges = [0..4, 4..8, 8..10];
        let recorded = BTreeMap::from([
            (0, checksum::crc64(&bytes[0..4])),
            (1, checksum::crc64(b"XXXX")),
            (2, checksum::crc64(&bytes[8..10])),
        ]);
        let kept = still_there(&file, &path, &ranges, &recorded).unwrap();
        assert_eq!(kept.keys().copied().collect::<Vec<_>>(), [0, 2]);
    }
}
