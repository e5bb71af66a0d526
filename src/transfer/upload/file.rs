//! A local file as a [`PartSource`]: cut by the part plan, every part checksummed before the
//! upload starts (on blocking threads, one per core: a pass over a cached file runs at memory
//! speed, and the whole object's CRC64NVME must be known for its metadata), each part then
//! streamed from the file, never held in memory. A small file (up to [`SMALL`]) is instead
//! read once, checksummed and kept in memory for its one PUT: one trip to a blocking thread
//! and one open instead of several, which is what a release of thousands of small files costs.
//! A file that changes while it is uploaded (size or modification time) is refused.

use std::fs::{File, Metadata};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use tokio::task::JoinSet;

use bytes::Bytes;

use super::{Body, Part, PartSource, Shape};
use crate::checksum;
use crate::error::Error;
use crate::plan::{self, UploadPlan};
use crate::platform::read_at;

/// Files up to this size are read into memory whole (a batch holds at most `--max-requests`
/// of them at once: 256 x 128 KiB = 32 MiB at worst).
pub const SMALL: u64 = 128 * 1024;

pub struct FileSource {
    path: Arc<Path>,
    file: Arc<File>,
    /// The file as it was opened, to tell whether it changed during the upload.
    before: Metadata,
    single: bool,
    ranges: Vec<Range<u64>>,
    /// Filled by `prepare`, one per range.
    crcs: Vec<u64>,
    next: usize,
    /// Compute the SHA-256 too (in the same read pass: one thread instead of one per core).
    want_sha256: bool,
    sha256: Option<String>,
    /// A small file's bytes, read by `prepare`.
    bytes: Option<Bytes>,
}

/// What a file must be to be uploaded: present, a regular file (a FIFO or device would be
/// read without end, or not at all), and readable. A batch asks this of every path before its
/// first request, so a typo never leaves a release half-filled.
pub fn check_uploadable(path: &Path) -> Result<(), Error> {
    regular_file(path)?;
    // Readable, asked without opening it: the upload opens it once, when its turn comes.
    crate::platform::check_readable(path).map_err(|e| Error::local_io("read", path, &e))
}

/// The metadata of `path`, refused unless it is a regular file.
fn regular_file(path: &Path) -> Result<std::fs::Metadata, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::local_io("read", path, &e))?;
    if meta.is_dir() {
        return Err(Error::Usage(format!(
            "{} is a directory; give the path of a file to upload",
            path.display()
        )));
    }
    if !meta.is_file() {
        return Err(Error::Usage(format!(
            "{} is not a regular file (a FIFO, socket or device); upload a regular file",
            path.display()
        )));
    }
    Ok(meta)
}

impl FileSource {
    /// Opens `path` and plans its parts, refusing what is not a regular file before opening it
    /// (opening a FIFO would block).
    pub fn open(path: &Path, part_size: u64) -> Result<Self, Error> {
        let meta = regular_file(path)?;
        let file = File::open(path).map_err(|e| Error::local_io("read", path, &e))?;
        let size = meta.len();
        // Files of /proc (and the like) say they hold 0 bytes and have content: what would be
        // stored, and verified, is not what reading the file gives.
        if size == 0 && std::io::Read::read(&mut &file, &mut [0u8; 1]).unwrap_or(0) > 0 {
            return Err(Error::Usage(format!(
                "{} says it holds 0 bytes but has content (a file of /proc or /sys?); copy it to a regular file and upload that",
                path.display()
            )));
        }
        let plan = plan::upload_plan(size, part_size)?;
        let ranges = match plan {
            UploadPlan::Single => std::iter::once(0..size).collect(),
            UploadPlan::Multipart { part_size, parts } => (0..parts)
                .map(|i| plan::chunk_range(size, part_size, i))
                .collect(),
        };
        Ok(Self {
            path: Arc::from(path),
            file: Arc::new(file),
            before: meta,
            single: plan == UploadPlan::Single,
            ranges,
            crcs: Vec::new(),
            next: 0,
            want_sha256: false,
            sha256: None,
            bytes: None,
        })
    }

    /// Also compute the file's SHA-256 while checksumming its parts.
    pub fn with_sha256(mut self) -> Self {
        self.want_sha256 = true;
        self
    }

    fn size(&self) -> u64 {
        self.before.len()
    }

    fn crc64(&self) -> u64 {
        checksum::combine_all(
            self.crcs
                .iter()
                .zip(&self.ranges)
                .map(|(c, r)| (*c, r.end - r.start)),
        )
    }
}

impl PartSource for FileSource {
    async fn prepare(&mut self) -> Result<Shape, Error> {
        if self.held_size().is_some() {
            let (bytes, crc, sha) =
                read_small(self.file.clone(), &self.path, self.size(), self.want_sha256).await?;
            self.crcs = vec![crc];
            self.sha256 = sha;
            self.bytes = Some(bytes);
        } else if self.want_sha256 {
            let (crcs, sha) =
                checksum_in_order(self.file.clone(), &self.path, self.ranges.clone()).await?;
            self.crcs = crcs;
            self.sha256 = Some(sha);
        } else {
            self.crcs = checksum_parts(self.file.clone(), &self.path, self.ranges.clone()).await?;
        }
        tracing::debug!(
            size = self.size(),
            parts = self.ranges.len(),
            crc64 = %checksum::to_base64(self.crc64()),
            "planned upload"
        );
        Ok(Shape {
            single: self.single,
            known: Some((self.size(), self.crc64())),
        })
    }

    async fn next_part(&mut self) -> Result<Option<Part>, Error> {
        let Some(range) = self.ranges.get(self.next).cloned() else {
            return Ok(None);
        };
        let part = Part {
            index: self.next as u64,
            offset: range.start,
            len: range.end - range.start,
            crc: self.crcs[self.next],
            body: match &self.bytes {
                Some(bytes) => Body::Bytes(bytes.clone()),
                None => Body::File(self.path.clone()),
            },
        };
        self.next += 1;
        Ok(Some(part))
    }

    async fn whole(&mut self) -> Result<(u64, u64), Error> {
        Ok((self.size(), self.crc64()))
    }

    fn window(&self) -> usize {
        // Parts stream from the file: only the budget limits them.
        usize::MAX
    }

    fn single_hint(&self) -> Option<bool> {
        Some(self.single)
    }

    fn held_size(&self) -> Option<u64> {
        (self.single && self.size() <= SMALL).then_some(self.size())
    }

    fn md5(&self) -> Option<[u8; 16]> {
        use md5::Digest;
        self.bytes.as_ref().map(|b| md5::Md5::digest(b).into())
    }

    fn planned(&self) -> Option<Vec<(u64, u64)>> {
        let lens = self.ranges.iter().map(|r| r.end - r.start);
        (!self.single && self.crcs.len() == self.ranges.len())
            .then(|| lens.zip(self.crcs.iter().copied()).collect())
    }

    fn check_unchanged(&self) -> Result<(), Error> {
        let path = &self.path;
        let after = std::fs::metadata(path).map_err(|e| Error::local_io("read", path, &e))?;
        let mtime = |m: &Metadata| m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if after.len() != self.before.len() || mtime(&after) != mtime(&self.before) {
            return Err(Error::Integrity(format!(
                "{} changed while it was being uploaded; nothing was stored: upload it again once it is complete",
                path.display()
            )));
        }
        Ok(())
    }

    fn label(&self) -> String {
        self.path.display().to_string()
    }

    fn sha256(&mut self) -> Option<String> {
        self.sha256.clone()
    }
}

/// A small file's bytes, their CRC64NVME and (if asked) SHA-256, in one trip to a blocking
/// thread.
async fn read_small(
    file: Arc<File>,
    path: &Path,
    size: u64,
    sha256: bool,
) -> Result<(Bytes, u64, Option<String>), Error> {
    let task = tokio::task::spawn_blocking(move || {
        let len = usize::try_from(size).unwrap_or(usize::MAX);
        let mut buf = vec![0u8; len];
        let mut pos = 0;
        while pos < len {
            let n = read_at(&file, &mut buf[pos..], pos as u64)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file became shorter while it was being read",
                ));
            }
            pos += n;
        }
        let crc = checksum::crc64(&buf);
        let sha = sha256.then(|| {
            let mut h = checksum::Sha256::default();
            h.update(&buf);
            h.hex()
        });
        Ok((Bytes::from(buf), crc, sha))
    });
    task.await
        .map_err(|e| Error::Other(format!("checksum worker failed: {e}")))?
        .map_err(|e| Error::local_io("read", path, &e))
}

/// Each range's CRC64NVME and the whole file's SHA-256, in one sequential pass on a blocking
/// thread (SHA-256 cannot be computed in pieces and combined).
async fn checksum_in_order(
    file: Arc<File>,
    path: &Path,
    ranges: Vec<Range<u64>>,
) -> Result<(Vec<u64>, String), Error> {
    let task = tokio::task::spawn_blocking(move || {
        let mut sha = checksum::Sha256::default();
        let mut buf = vec![0u8; crate::transfer::READ_BUFFER];
        let mut crcs = Vec::with_capacity(ranges.len());
        for r in &ranges {
            let mut crc = checksum::Crc64::default();
            let mut pos = r.start;
            while pos < r.end {
                let want = usize::try_from(r.end - pos)
                    .unwrap_or(buf.len())
                    .min(buf.len());
                let n = read_at(&file, &mut buf[..want], pos)?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file became shorter while it was being read",
                    ));
                }
                crc.update(&buf[..n]);
                sha.update(&buf[..n]);
                pos += n as u64;
            }
            crcs.push(crc.value());
        }
        Ok((crcs, sha.hex()))
    });
    task.await
        .map_err(|e| Error::Other(format!("checksum worker failed: {e}")))?
        .map_err(|e| Error::local_io("read", path, &e))
}

/// Computes each range's CRC64NVME on blocking threads, one per core.
async fn checksum_parts(
    file: Arc<File>,
    path: &Path,
    ranges: Vec<Range<u64>>,
) -> Result<Vec<u64>, Error> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(ranges.len().max(1));
    let ranges = Arc::new(ranges);
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for _ in 0..workers {
        let (file, ranges, next) = (file.clone(), ranges.clone(), next.clone());
        set.spawn_blocking(move || {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(r) = ranges.get(i) else {
                    return Ok(out);
                };
                out.push((
                    i,
                    crate::transfer::crc_of_file_range(&file, r.start, r.end - r.start)?,
                ));
            }
        });
    }
    let mut crcs = vec![0; ranges.len()];
    while let Some(joined) = set.join_next().await {
        let part_crcs: Vec<(usize, u64)> = joined
            .map_err(|e| Error::Other(format!("checksum worker failed: {e}")))?
            .map_err(|e: std::io::Error| Error::local_io("read", path, &e))?;
        for (i, crc) in part_crcs {
            crcs[i] = crc;
        }
    }
    Ok(crcs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::MIB;

    #[tokio::test]
    async fn parts_cover_the_file_with_their_checksums() {
        let data: Vec<u8> = (0..(11 * MIB as usize)).map(|i| (i % 253) as u8).collect();
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut tmp, &data).unwrap();
        let mut source = FileSource::open(tmp.path(), 5 * MIB).unwrap();
        let shape = source.prepare().await.unwrap();
        assert!(!shape.single);
        assert_eq!(
            shape.known,
            Some((data.len() as u64, checksum::crc64(&data)))
        );
        let mut covered = 0;
        while let Some(part) = source.next_part().await.unwrap() {
            assert_eq!(part.offset, covered);
            let bytes = &data[part.offset as usize..(part.offset + part.len) as usize];
            assert_eq!(part.crc, checksum::crc64(bytes));
            covered += part.len;
        }
        assert_eq!(covered, data.len() as u64);
        source.check_unchanged().unwrap();
        std::io::Write::write_all(&mut tmp, b"more").unwrap();
        assert_eq!(source.check_unchanged().unwrap_err().exit_code(), 5);
    }

    #[tokio::test]
    async fn a_small_file_is_read_once_into_memory() {
        let data: Vec<u8> = (0..(SMALL as usize)).map(|i| (i % 241) as u8).collect();
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), &data).unwrap();
        let mut source = FileSource::open(tmp.path(), 5 * MIB).unwrap().with_sha256();
        let shape = source.prepare().await.unwrap();
        assert!(shape.single);
        assert_eq!(shape.known, Some((SMALL, checksum::crc64(&data))));
        let part = source.next_part().await.unwrap().unwrap();
        match &part.body {
            Body::Bytes(b) => assert_eq!(&b[..], &data[..]),
            Body::File(_) => panic!("a small file must be held in memory"),
        }
        let mut h = checksum::Sha256::default();
        h.update(&data);
        assert_eq!(source.sha256(), Some(h.hex()));
        assert!(source.next_part().await.unwrap().is_none());
        // One byte more and it streams from the file again.
        std::fs::write(tmp.path(), [&data[..], b"x"].concat()).unwrap();
        let mut larger = FileSource::open(tmp.path(), 5 * MIB).unwrap();
        larger.prepare().await.unwrap();
        let part = larger.next_part().await.unwrap().unwrap();
        assert!(matches!(part.body, Body::File(_)));
    }

    #[tokio::test]
    async fn sha256_in_the_same_pass() {
        let data: Vec<u8> = (0..(7 * MIB as usize)).map(|i| (i % 251) as u8).collect();
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), &data).unwrap();
        let mut plain = FileSource::open(tmp.path(), 5 * MIB).unwrap();
        let mut hashed = FileSource::open(tmp.path(), 5 * MIB).unwrap().with_sha256();
        assert_eq!(
            plain.prepare().await.unwrap(),
            hashed.prepare().await.unwrap()
        );
        assert_eq!(plain.crcs, hashed.crcs);
        assert_eq!(plain.sha256(), None);
        assert_eq!(hashed.sha256(), Some(checksum::sha256_hex(&data)));
    }

    #[tokio::test]
    async fn a_small_file_is_one_part() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), b"abc").unwrap();
        let mut source = FileSource::open(tmp.path(), 5 * MIB).unwrap();
        assert!(source.prepare().await.unwrap().single);
        assert_eq!(source.whole().await.unwrap(), (3, checksum::crc64(b"abc")));
    }
}
