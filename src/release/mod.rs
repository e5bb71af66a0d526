//! Releases as a unit. A release (`SUITE/RELEASE/`) is several files published together; its
//! [`crate::manifest`] makes it *sealed*: complete, checked, and immutable from then on.
//!
//! - [`catalog`]: the files of a release with their checksums, page by page, as `list` shows
//!   them;
//! - [`fetch`]: downloading files of a release (all, or those named), checked locally first;
//! - [`files`]: the files of a release as the store lists them (one listing loop, one filter);
//! - [`order`]: how release names sort as versions;
//! - the manifest document itself is [`crate::manifest`] (pure, core);
//! - [`state`]: reading a release's manifest, sealed or open, and which release `latest` means
//!   (the highest sealed one);
//! - [`publish`]: uploading files into a release, and sealing it when every file made it;
//! - [`seal`]: checking every file of a release and writing its manifest, create-only;
//! - [`signed`]: a release's manifest with its signature, judged together; signing a sealed
//!   release;
//! - [`verify`]: checking a stored release against its manifest without downloading it;
//! - [`promote`]: copying a release on the server elsewhere and sealing the copy;
//! - [`remove`]: removing a whole release, manifest first.
//!
//! `latest` is reserved: it names the highest sealed release of a suite (the highest release,
//! with a warning, when none is sealed) and cannot be uploaded to or deleted from.

pub mod catalog;
pub mod fetch;
pub mod files;
pub mod order;
pub mod promote;
pub mod publish;
mod read;
pub mod remove;
pub mod seal;
pub mod signed;
pub mod state;
pub mod verify;
mod write;

pub use order::compare;

/// The word that `--release` resolves to the highest sealed release.
pub const LATEST: &str = "latest";
