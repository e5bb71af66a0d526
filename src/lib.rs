//! s3blob moves release artifacts between a machine and S3-compatible object storage.
//!
//! How a command flows through the modules:
//!
//! - [`cli`]: the raw flags as clap parses them; [`commands`]: one module per subcommand.
//! - [`environment`]: the process environment with `.env` merged in, empty values unset, and
//!   each value's origin kept for messages; [`values`]: parsing of sizes, durations, counts.
//! - [`config`]: pure resolution of flags, environment and defaults into settings.
//! - [`key`]: the `suite/release/filename` key, built and validated in one place;
//!   [`release`]: how releases sort as versions and what `latest` means.
//! - [`attributes`]: user metadata, content type and the like, checked against S3's rules.
//! - [`s3`]: the one `aws_sdk_s3::Client`, and the translation of its errors;
//!   [`credentials`]: the AWS credential chain, its failures explained in one line.
//! - [`transfer`]: [`transfer::plan`] (pure part and range math), [`transfer::upload`] (single
//!   PUT or concurrent multipart, aborted on failure), [`transfer::download`] (concurrent
//!   ranged GETs into positioned writes through [`transfer::writer`]), [`transfer::stream`]
//!   (stdin and stdout), [`transfer::budget`] (the requests in flight, shared by a command's
//!   files).
//! - [`listing`]: ListObjectsV2 one level at a time; [`inspect`]: HeadObject as `ObjectInfo`.
//! - [`checksum`]: CRC64NVME and the combining of part checksums.
//! - [`atomic_file`]: the temporary file that becomes the download only when it is complete.
//! - [`progress`], [`output`], [`logging`]: what the user sees on stderr and stdout (never a
//!   credential).
//! - [`error`]: every failure kind and its exit code; [`shutdown`]: SIGINT/SIGTERM handling.
//!
//! Side effects (the client, the progress sink, the shutdown signal) are passed in, so each
//! stage can be tested alone.

pub mod atomic_file;
pub mod attributes;
pub mod checksum;
pub mod cli;
pub mod commands;
pub mod config;
pub mod credentials;
pub mod environment;
pub mod error;
pub mod inspect;
pub mod key;
pub mod listing;
pub mod logging;
pub mod output;
pub mod progress;
pub mod release;
pub mod s3;
pub mod shutdown;
pub mod transfer;
pub mod values;

pub use commands::run;
