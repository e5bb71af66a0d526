/* What gcc's unwinder (libgcc_eh.a, linked as libunwind for Rust's std) needs from the C
 * library and a static musl binary does not give it. Built and archived by scripts/musl.sh.
 *
 * 1. glibc's _dl_find_object. gcc 12's _Unwind_Find_FDE asks it for the object holding a PC
 *    and, when it says "not found", gives up (no fallback to dl_iterate_phdr): every unwind,
 *    and so every backtrace (anyhow's, for an error that ends a command under
 *    RUST_BACKTRACE=1), would abort the process. This one answers from musl's
 *    dl_iterate_phdr: the object whose PT_LOAD segments hold the PC, and its PT_GNU_EH_FRAME
 *    segment (the .eh_frame_hdr the unwinder searches; rustc links with --eh-frame-hdr, a
 *    plain `gcc -static` link has none). The layout is glibc's x86_64 one (<dlfcn.h>,
 *    DLFO_STRUCT_HAS_EH_DBASE 0).
 * 2. pthread_once and friends. libgcc_eh calls them through weak references once it sees
 *    threads linked in (__pthread_key_create, which Rust's std pulls in), and a weak reference
 *    does not pull a member out of musl's libc.a: the call would jump to address 0 (SIGSEGV).
 *    The strong references below link them. */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct dl_find_object {
    unsigned long long dlfo_flags;
    void *dlfo_map_start;
    void *dlfo_map_end;
    void *dlfo_link_map;
    void *dlfo_eh_frame;
    unsigned long long dlfo_reserved[7];
};

struct query {
    uintptr_t pc;
    struct dl_find_object *result;
};

static int visit(struct dl_phdr_info *info, size_t size, void *data) {
    struct query *q = data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    int holds = 0;
    void *eh = NULL;
    (void)size;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD) {
            uintptr_t end = start + ph->p_memsz;
            if (start < lo) lo = start;
            if (end > hi) hi = end;
            if (q->pc >= start && q->pc < end) holds = 1;
        } else if (ph->p_type == PT_GNU_EH_FRAME) {
            eh = (void *)start;
        }
    }
    if (!holds) return 0;
    q->result->dlfo_flags = 0;
    q->result->dlfo_map_start = (void *)lo;
    q->result->dlfo_map_end = (void *)hi;
    q->result->dlfo_link_map = NULL;
    q->result->dlfo_eh_frame = eh;
    return 1;
}

int _dl_find_object(void *pc, struct dl_find_object *result) {
    struct query q = {(uintptr_t)pc, result};
    return dl_iterate_phdr(visit, &q) ? 0 : -1;
}

__attribute__((used)) static void *const keep_pthread[] = {
    (void *)pthread_once,       (void *)pthread_mutex_lock,  (void *)pthread_mutex_unlock,
    (void *)pthread_key_create, (void *)pthread_getspecific, (void *)pthread_setspecific,
};
