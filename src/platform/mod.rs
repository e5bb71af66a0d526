//! What differs between operating systems, in one place: the rest of the crate calls these
//! functions and never asks which system it runs on (`cfg` appears here and nowhere else).
//!
//! - [`atomic_file`]: a download's destination that appears whole or not at all (Linux: an
//!   unnamed `O_TMPFILE` linked into place; elsewhere a named temporary file renamed over the
//!   destination; the durability step each system needs).
//! - `files`: positioned reads and writes (Unix `pread`/`pwrite`, Windows `seek_read`/
//!   `seek_write`), reserving a file's blocks, early write-back, the readable check, the modes
//!   of new files and the owner check of `.env`.
//! - `names`: how long a file name may be, counted the way the system counts it, and which
//!   names the system refuses or folds together (Windows' reserved names, case-insensitive
//!   file systems).
//! - `process`: the open-file limit and the allocator (glibc's malloc arenas; mimalloc in the
//!   static musl binary), set before any thread starts.
//! - `signals`: what asks s3blob to stop (Unix: SIGINT, SIGTERM; Windows: Ctrl-C, Ctrl-Break,
//!   closing the console).

pub(crate) mod atomic_file;
mod files;
mod names;
mod process;
mod signals;

pub(crate) use files::{
    check_readable, creation_mode, file_owner, my_uid, new_file_permissions, open_nonblocking,
    read_at, reserve, start_write_back, write_all_at,
};
pub(crate) use names::{CASE_INSENSITIVE, NAME_UNIT, WINDOWS_NAMES, name_len, name_max};
pub use process::{init_allocator, limit_malloc_arenas, raise_open_file_limit};
pub(crate) use signals::stop_requested;
