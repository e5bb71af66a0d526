//! A stream of unknown size (stdin) as a [`PartSource`]: parts are read into memory, at most
//! [`STREAM_PARTS_IN_FLIGHT`] sent at a time plus the one being read, so memory stays bounded
//! whatever the stream's length; part sizes grow ([`plan::stream_part_size`]) so the
//! 10,000-part limit is reached only after hundreds of GiB.
//!
//! What cannot be as with a file: the whole object's CRC64NVME is known only at the end, after
//! CreateMultipartUpload has fixed the metadata. A stream that fits in one part is a single
//! PutObject carrying the checksum in its metadata as usual; a longer one sends the combined
//! CRC64NVME with CompleteMultipartUpload (S3 checks it against the parts and keeps it), so
//! downloads verify it as the server's checksum where the server keeps one.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Body, Part, PartSource, Shape};
use crate::checksum::{self, Crc64, Sha256};
use crate::error::Error;
use crate::plan::{self, MAX_PARTS};
use crate::values::human_bytes;

/// Parts held in memory while they are sent; with 16 MiB parts, at most 80 MiB in all (with
/// the one being read).
pub const STREAM_PARTS_IN_FLIGHT: usize = 4;

pub struct StdinSource<R> {
    input: R,
    /// `--part-size`: the size of the first parts, before they grow.
    base_part_size: u64,
    /// Read by `prepare`, handed out first.
    first: Option<Bytes>,
    ended: bool,
    /// The index of the next part to hand out.
    index: u64,
    offset: u64,
    /// Hashing everything read, when asked.
    sha: Option<Sha256>,
}

impl<R: AsyncRead + Unpin + Send> StdinSource<R> {
    pub fn new(input: R, base_part_size: u64) -> Self {
        Self {
            input,
            base_part_size,
            first: None,
            ended: false,
            index: 0,
            offset: 0,
            sha: None,
        }
    }

    /// Also compute the SHA-256 of everything read.
    pub fn with_sha256(mut self) -> Self {
        self.sha = Some(Sha256::default());
        self
    }

    /// Reads until `len` bytes or the end of input.
    async fn read(&mut self, len: u64) -> Result<Bytes, Error> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let mut buf = BytesMut::with_capacity(len);
        while buf.len() < len {
            let want = (len - buf.len()) as u64;
            if (&mut self.input)
                .take(want)
                .read_buf(&mut buf)
                .await
                .map_err(stdin_error)?
                == 0
            {
                self.ended = true;
                break;
            }
        }
        if let Some(sha) = &mut self.sha {
            sha.update(&buf);
        }
        Ok(buf.freeze())
    }
}

fn stdin_error(e: std::io::Error) -> Error {
    Error::Other(format!("cannot read stdin: {e}"))
}

impl<R: AsyncRead + Unpin + Send> PartSource for StdinSource<R> {
    async fn prepare(&mut self) -> Result<Shape, Error> {
        let first = self.read(self.base_part_size).await?;
        self.first = Some(first);
        Ok(Shape {
            single: self.ended,
            known: None,
        })
    }

    async fn next_part(&mut self) -> Result<Option<Part>, Error> {
        let bytes = match self.first.take() {
            Some(first) => first,
            None if self.ended => return Ok(None),
            None => {
                let len = plan::stream_part_size(self.base_part_size, self.index);
                let bytes = self.read(len).await?;
                if bytes.is_empty() {
                    return Ok(None);
                }
                bytes
            }
        };
        if self.index >= MAX_PARTS {
            return Err(Error::Usage(format!(
                "stdin holds more than {} (10,000 parts); pass a larger --part-size",
                human_bytes(plan::stream_capacity(self.base_part_size))
            )));
        }
        let len = bytes.len() as u64;
        let part = Part {
            index: self.index,
            offset: self.offset,
            len,
            crc: checksum::crc64(&bytes),
            body: Body::Bytes(bytes),
        };
        self.index += 1;
        self.offset += len;
        Ok(Some(part))
    }

    async fn whole(&mut self) -> Result<(u64, u64), Error> {
        let mut crc = Crc64::default();
        let mut size = 0u64;
        if let Some(first) = self.first.take() {
            crc.update(&first);
            size += first.len() as u64;
        }
        let mut buf = vec![0u8; 1 << 20];
        while !self.ended {
            let n = self.input.read(&mut buf).await.map_err(stdin_error)?;
            if n == 0 {
                self.ended = true;
            }
            crc.update(&buf[..n]);
            if let Some(sha) = &mut self.sha {
                sha.update(&buf[..n]);
            }
            size += n as u64;
        }
        Ok((size, crc.value()))
    }

    fn window(&self) -> usize {
        STREAM_PARTS_IN_FLIGHT
    }

    fn single_hint(&self) -> Option<bool> {
        None
    }

    fn check_unchanged(&self) -> Result<(), Error> {
        Ok(())
    }

    fn label(&self) -> String {
        "stdin".to_owned()
    }

    fn sha256(&mut self) -> Option<String> {
        self.sha.take().map(Sha256::hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::MIB;

    #[tokio::test]
    async fn a_short_stream_is_one_part() {
        let mut source = StdinSource::new(&b"hello"[..], 5 * MIB);
        assert!(source.prepare().await.unwrap().single);
        let part = source.next_part().await.unwrap().unwrap();
        assert_eq!((part.index, part.offset, part.len), (0, 0, 5));
        assert_eq!(part.crc, checksum::crc64(b"hello"));
        assert!(source.next_part().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_long_stream_is_cut_into_parts_in_order() {
        let data: Vec<u8> = (0..(12 * MIB as usize)).map(|i| (i % 241) as u8).collect();
        let mut source = StdinSource::new(&data[..], 5 * MIB);
        assert!(!source.prepare().await.unwrap().single);
        let mut lens = Vec::new();
        let mut crc = checksum::crc64(b"");
        while let Some(part) = source.next_part().await.unwrap() {
            assert_eq!(part.offset, lens.iter().sum::<u64>());
            crc = checksum::combine(crc, part.crc, part.len);
            lens.push(part.len);
        }
        assert_eq!(lens, [5 * MIB, 5 * MIB, 2 * MIB]);
        assert_eq!(crc, checksum::crc64(&data));
    }

    /// The 10,000th part is sent; a stream with more is refused as a usage error (exit 2)
    /// naming the flag that reaches further. (Reading hundreds of GiB to get there is not a
    /// unit test: the source starts as if 9,999 parts had gone by.)
    #[tokio::test]
    async fn a_stream_past_ten_thousand_parts_is_refused() {
        let base = 5 * MIB;
        for (extra, refused) in [(0u64, false), (1, true)] {
            let data = vec![1u8; usize::try_from(base + extra).unwrap()];
            let mut source = StdinSource::new(&data[..], base);
            source.prepare().await.unwrap();
            source.index = MAX_PARTS - 1;
            let last = source.next_part().await.unwrap().unwrap();
            assert_eq!((last.index, last.len), (MAX_PARTS - 1, base));
            match source.next_part().await {
                Ok(None) => assert!(!refused),
                Ok(Some(p)) => panic!("part {} was handed out", p.index),
                Err(e) => {
                    assert!(refused, "{e}");
                    assert_eq!(e.exit_code(), crate::error::code::USAGE);
                    let message = e.to_string();
                    assert!(
                        message.contains("10,000 parts") && message.contains("--part-size"),
                        "{message}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn whole_reads_the_rest_without_parts() {
        let data = vec![7u8; 6 * MIB as usize];
        let mut source = StdinSource::new(&data[..], 5 * MIB);
        source.prepare().await.unwrap();
        assert_eq!(
            source.whole().await.unwrap(),
            (data.len() as u64, checksum::crc64(&data))
        );
    }
}
