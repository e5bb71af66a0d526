//! s3blob moves release artifacts between a machine and S3-compatible object storage.
//!
//! The modules, in five layers; each imports only its own layer and those below it
//! (`scripts/layers.py` checks it):
//!
//! - **face**: [`cli`] (the raw flags as clap parses them), [`config`] (flags and environment
//!   resolved into settings), [`commands`] (one module per subcommand), [`output`] (one report
//!   per command, as text or JSON).
//! - **use cases**: [`release`]: releases as a unit: the files of a release, version order,
//!   what `latest` means, the once-fetched manifest; publishing files into a release,
//!   fetching them, listing them, sealing, verifying, promoting, removing whole releases
//!   (manifest first).
//! - **engine**: [`transfer`]: one object up ([`transfer::upload`]: a [`PartSource`] cut into
//!   parts, one send loop, single PUT or multipart, the existing key judged first, a failed
//!   multipart upload aborted or, with `--resumable`, kept, and an interrupted one of the same
//!   file resumed after its stored parts are checked) or down ([`transfer::download`]: the first ranged GET, one range
//!   scheduler, a sink that appears only verified), server-side copies, batches of files, the
//!   budget of requests in flight. It asks the release layer through [`transfer::SealedRelease`].
//! - **adapters**: [`s3`] (the one client, the translation of its errors, where requests go),
//!   [`listing`] (ListObjectsV2, ListMultipartUploads), [`inspect`] (HeadObject), [`credentials`] (the AWS chain, its
//!   failures in one line), [`environment`] (the process environment with `.env`'s plain
//!   settings), [`platform`] (what differs between operating systems: positioned I/O, the atomic
//!   file, name rules, limits, signals), [`progress`], [`logging`] (stderr, credentials
//!   masked), [`shutdown`] (SIGINT/SIGTERM; Ctrl-C, Ctrl-Break and console close on Windows).
//! - **core**: [`key`] (the `suite/release/filename` key and the reserved names), [`manifest`]
//!   (the manifest format), [`signature`] (minisign keys, signing and checking a
//!   release's manifest), [`plan`] (part and range math), [`checksum`] (CRC64NVME),
//!   [`values`] (what users type), [`attributes`] (metadata and the like), [`escape`] (server
//!   strings made safe for a terminal), [`tasks`] (many jobs a few at a time), [`error`] (every
//!   failure kind and its exit code).
//!
//! Side effects (the client, the environment, the progress sink, the shutdown signal) are
//! passed in, so each stage can be tested alone.
//!
//! [`PartSource`]: transfer::upload::PartSource

// The map above names the crate's insides; `cargo doc --document-private-items` renders them.
// The public surface is what the binary and the integration tests use: the command line
// (`cli`), its resolution (`config`, `environment`), the core formats and `run`.
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod attributes;
pub mod checksum;
pub mod cli;
pub(crate) mod commands;
pub mod config;
pub(crate) mod credentials;
pub mod environment;
pub mod error;
pub mod escape;
pub(crate) mod inspect;
pub mod key;
pub(crate) mod listing;
pub mod logging;
pub mod manifest;
pub(crate) mod output;
pub mod plan;
pub mod platform;
pub(crate) mod progress;
pub mod release;
pub(crate) mod s3;
pub mod shutdown;
pub(crate) mod signature;
pub(crate) mod tasks;
pub(crate) mod transfer;
pub(crate) mod values;

pub use commands::run;
pub use output::ci::{Ci, CiOutput, Section};
