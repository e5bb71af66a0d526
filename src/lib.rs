//! s3blob moves release artifacts between a machine and S3-compatible object storage.
//!
//! How a command flows through the modules:
//!
//! - [`cli`]: the raw flags as clap parses them; [`commands`]: one module per subcommand.
//! - [`environment`]: the process environment with `.env` merged in, empty values unset, and
//!   each value's origin kept for messages; [`values`]: parsing of sizes, durations, counts.
//! - [`config`]: pure resolution of flags, environment and defaults into settings.
//! - [`key`]: the `suite/release/filename` key, built and validated in one place;
//!   [`release`]: releases as a unit: version order, what `latest` means, sealing with a
//!   manifest, verifying, and removing whole releases (manifest first).
//! - [`attributes`]: user metadata, content type and the like, checked against S3's rules.
//! - [`s3`]: the one `aws_sdk_s3::Client` (and the CA bundle it trusts), and the translation
//!   of its errors;
//!   [`credentials`]: the AWS credential chain, its failures explained in one line.
//! - [`transfer`]: the engine, by direction. [`transfer::upload`]: a [`PartSource`] (a file or
//!   stdin) cut into parts, one send loop, single PUT or multipart, the existing key judged
//!   first and a failed multipart upload aborted. [`transfer::download`]: the first ranged GET,
//!   one range scheduler, and a sink (a temporary file that appears only verified, or ordered
//!   writes to stdout). [`plan`] (pure part and range math) and [`transfer::budget`]
//!   (the requests in flight, shared by a command's files) serve both.
//! - [`listing`]: ListObjectsV2 one level at a time; [`inspect`]: HeadObject as `ObjectInfo`.
//! - [`checksum`]: CRC64NVME and the combining of part checksums.
//! - [`atomic_file`]: the temporary file that becomes the download only when it is complete.
//! - [`progress`], [`output`] (one report per command, as text or JSON), [`logging`]: what the
//!   user sees on stderr and stdout (never a credential).
//! - [`escape`]: server-provided strings (keys, messages, metadata) made safe for a terminal.
//! - [`error`]: every failure kind and its exit code; [`shutdown`]: SIGINT/SIGTERM handling.
//!
//! Side effects (the client, the environment, the progress sink, the shutdown signal) are
//! passed in, so each stage can be tested alone. The engine ([`transfer`]) never uses the face
//! ([`cli`], [`commands`], [`output`]).
//!
//! [`PartSource`]: transfer::upload::PartSource

pub mod atomic_file;
pub mod attributes;
pub mod checksum;
pub mod cli;
pub mod commands;
pub mod config;
pub mod credentials;
pub mod environment;
pub mod error;
pub mod escape;
pub mod inspect;
pub mod key;
pub mod listing;
pub mod logging;
pub mod manifest;
pub mod output;
pub mod plan;
pub mod progress;
pub mod release;
pub mod s3;
pub mod shutdown;
pub mod transfer;
pub mod values;

pub use commands::run;
