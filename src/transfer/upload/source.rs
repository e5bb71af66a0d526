//! Where an upload's bytes come from: the [`PartSource`] trait a file and a stream implement,
//! and the parts it yields.

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::*;

/// Where an upload's bytes come from: a source cuts them into parts, in order, and knows each
/// part's CRC64NVME.
pub trait PartSource: Send {
    /// What must be known before anything is sent; runs while the key is examined. A file
    /// checksums every part (the whole object's CRC64NVME goes into its metadata); a stream
    /// reads its first part (whether there is more decides single PUT or multipart).
    fn prepare(&mut self) -> impl Future<Output = Result<Shape, Error>> + Send;
    /// The next part, in order; `None` after the last.
    fn next_part(&mut self) -> impl Future<Output = Result<Option<Part>, Error>> + Send;
    /// The size and CRC64NVME of everything, reading what is left without sending it (to
    /// compare with an object already at the key).
    fn whole(&mut self) -> impl Future<Output = Result<(u64, u64), Error>> + Send;
    /// Parts that may be in flight at once (within the budget): a stream holds each in memory.
    fn window(&self) -> usize;
    /// Whether the source is known, before `prepare`, to fit in one part (a file is; a stream
    /// cannot tell).
    fn single_hint(&self) -> Option<bool>;
    /// The size, when known before `prepare` and small enough that `prepare` holds the bytes
    /// in memory (then [`PartSource::md5`] can answer).
    fn held_size(&self) -> Option<u64> {
        None
    }
    /// The MD5 of the bytes held in memory, after `prepare`.
    fn md5(&self) -> Option<[u8; 16]> {
        None
    }
    /// After `prepare`: each part's length and CRC64NVME, when the whole multipart plan is
    /// known before sending (a file; not a stream, nor a single PUT), so that the parts of an
    /// interrupted upload can be checked against it.
    fn planned(&self) -> Option<Vec<(u64, u64)>> {
        None
    }
    /// After the last part is sent: refuses a source that changed meanwhile (a file).
    fn check_unchanged(&self) -> Result<(), Error>;
    /// How logs name the source.
    fn label(&self) -> String;
    /// The SHA-256 of everything read, when the source was asked to compute it; once every
    /// part has been read (or [`PartSource::whole`]).
    fn sha256(&mut self) -> Option<String>;
}

/// What [`PartSource::prepare`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Everything fits in one part: a single PutObject.
    pub single: bool,
    /// The size and CRC64NVME of the whole, when known before sending (files, not streams).
    pub known: Option<(u64, u64)>,
}

/// One part: its place in the object, its checksum, and its bytes.
pub struct Part {
    /// 0-based; the part number is `index + 1`.
    pub index: u64,
    pub offset: u64,
    pub len: u64,
    pub crc: u64,
    pub body: Body,
}

/// The bytes of a part.
pub enum Body {
    /// `offset..offset + len` of this file, streamed (and reopened by the SDK on a retry).
    File(Arc<Path>),
    /// Held in memory (a stream).
    Bytes(Bytes),
}

impl Part {
    pub(super) async fn stream(&self) -> Result<ByteStream, Error> {
        match &self.body {
            Body::Bytes(bytes) => Ok(ByteStream::from(bytes.clone())),
            Body::File(path) => ByteStream::read_from()
                .path(path)
                .offset(self.offset)
                .length(Length::Exact(self.len))
                .buffer_size(READ_BUFFER)
                .build()
                .await
                .map_err(|e| Error::Other(format!("cannot read {}: {e}", path.display()))),
        }
    }
}
