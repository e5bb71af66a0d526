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

/// Other allocators (musl, macOS, Windows) have no glibc arenas to limit.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_malloc_arenas(_arenas: i32) {}
