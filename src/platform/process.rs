//! Process-wide settings made before any thread starts.

/// Raises the soft limit on open files to the hard one (at most 65,536): a batch keeps
/// `--max-requests` connections and as many files open, and the usual soft limit of 1,024 is
/// not enough for 512 of each. A failure leaves the limit as it was; opening then fails with a
/// clear error naming the file. Windows has no such limit on handles: nothing to do there.
#[cfg(unix)]
pub fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let want = limit.maximum.map_or(65_536, |max| max.min(65_536));
    if limit.current.is_some_and(|cur| cur < want) {
        let _ = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(want),
                maximum: limit.maximum,
            },
        );
    }
}

#[cfg(not(unix))]
pub fn raise_open_file_limit() {}

/// Sets glibc's `M_ARENA_MAX` to `arenas`. A `GLIBC_TUNABLES` that sets
/// `glibc.malloc.arena_max` is left to decide (for measuring). Called before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn limit_malloc_arenas(arenas: i32) {
    if std::env::var_os("GLIBC_TUNABLES")
        .is_some_and(|t| t.to_string_lossy().contains("glibc.malloc.arena_max"))
    {
        return;
    }
    // SAFETY: mallopt takes two integers and touches only malloc's own state, under malloc's
    // lock; it is called before this process starts any thread. A failure (return value 0)
    // leaves glibc's default in place, which is only a memory cost.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

/// The static musl binary allocates with mimalloc. musl's own malloc serves every block of
/// 128 KiB or more with a fresh mapping and unmaps it on free; a transfer's 256 KiB read
/// buffers made that a mmap and a munmap per buffer (4,589 and 4,480 for a 1 GiB upload), and
/// the page faults of each new mapping doubled the system time. mimalloc keeps freed memory
/// for reuse, as glibc's malloc does.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option numbers (`mi_option_e` in mimalloc.h, version 3; the Rust bindings name
/// neither of these two). Check both against that enum when libmimalloc-sys is updated.
#[cfg(target_env = "musl")]
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
#[cfg(target_env = "musl")]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc as a transfer needs it: memory committed as it is used, not an arena's worth at a
/// time, and freed pages returned at once rather than after a second. With mimalloc's defaults
/// a 1 GiB upload peaked at 105 MiB (against 26 MiB with glibc): the read buffers are taken on
/// the blocking threads that read the file and freed on the threads that send them, so every
/// reading thread's heap kept pages. The first line of `main`, before anything allocates: an
/// arena made before it would keep the eager default (so no `MIMALLOC_*` variable is looked at
/// here; mimalloc reads its own variables, and these two settings override theirs).
#[cfg(target_env = "musl")]
#[allow(unsafe_code)]
pub fn init_allocator() {
    // SAFETY: sets two of mimalloc's integer options; called before this process starts any
    // thread (mi_option_set is not thread safe).
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// Other allocators need no setting before the first allocation.
#[cfg(not(target_env = "musl"))]
pub fn init_allocator() {}

/// Other allocators (mimalloc under musl, macOS, Windows) have no glibc arenas to limit.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_malloc_arenas(_arenas: i32) {}
