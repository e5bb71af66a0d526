#!/usr/bin/env bash
# A fully static Linux s3blob (musl libc), built on a Debian machine without rustup targets, then
# checked: `file`/`ldd` must call it static, and the compatibility scenario (scripts/compat.sh)
# runs with it against the bundled server (s3blob-testserver, built for the host).
#
#   scripts/musl.sh [--target TARGET] [--profile PROFILE] [--no-scenario]
#
#   --target    x86_64-unknown-linux-musl (default) or aarch64-unknown-linux-musl
#   --profile   cargo profile (default release: fat LTO, stripped, as released)
#   --no-scenario   build and check only (the default for a target this machine cannot run)
#
# The standard library is built from source: Debian's rustc-web/cargo-web (1.96, installed as
# /usr/bin/rustc and /usr/bin/cargo) with rust-web-src, `-Zbuild-std` under RUSTC_BOOTSTRAP=1.
# musl-tools gives the C side (musl-gcc: ring's and mimalloc's C code, the final link). Rust's
# std wants a static libunwind for musl: gcc's (libgcc_eh.a), with scripts/musl/dl_find_object.c.
# Missing Debian packages are installed with apt-get (root needed then). The binary's path is
# printed on the last line of stdout: target/TARGET/PROFILE/s3blob. CARGO_TARGET_DIR is honoured;
# S3BLOB_TESTSERVER names a server binary to use instead of building it (debug, for the host).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

target=x86_64-unknown-linux-musl
profile=release
scenario=1
while [[ $# -gt 0 ]]; do
    case $1 in
    --target) target=${2:?--target needs a value}; shift 2 ;;
    --profile) profile=${2:?--profile needs a value}; shift 2 ;;
    --no-scenario) scenario=; shift ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scripts/musl.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[musl %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

case $target in
x86_64-unknown-linux-musl) cc=musl-gcc; pkgs=(rustc-web cargo-web rust-web-src musl-tools) ;;
aarch64-unknown-linux-musl)
    # musl-gcc is a wrapper for the host's gcc; aarch64 needs a musl cross toolchain, which
    # Debian does not package (see the README, "Install": the release workflow builds it).
    command -v aarch64-linux-musl-gcc >/dev/null || {
        echo "scripts/musl.sh: aarch64-unknown-linux-musl needs aarch64-linux-musl-gcc on PATH (a musl cross toolchain, e.g. musl.cc's aarch64-linux-musl-cross); Debian has none" >&2
        exit 2
    }
    cc=aarch64-linux-musl-gcc; pkgs=(rustc-web cargo-web rust-web-src) ;;
*) echo "scripts/musl.sh: --target must be x86_64-unknown-linux-musl or aarch64-unknown-linux-musl, not $target" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing ${missing[*]}"
    # Another apt may hold the lock for a while: wait for it.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi

TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
# Rust's std links `-lunwind` statically for musl; gcc's unwinder (libgcc_eh.a) provides the
# same _Unwind_* API, with scripts/musl/dl_find_object.c added: glibc's _dl_find_object (gcc 12
# looks up unwind tables with it only), answered from musl's dl_iterate_phdr, and strong
# references to the pthread functions libgcc_eh calls through weak ones. With a stub answering
# "not found" instead, the first backtrace aborts the process (exit 134; anyhow takes one for an
# error that ends a command, under RUST_BACKTRACE=1); without the strong references it jumps to
# address 0 (SIGSEGV, 139). The tables it points the unwinder at are the PT_GNU_EH_FRAME
# segment, which rustc asks the linker for (--eh-frame-hdr); the check after the build makes
# sure it is there. Cargo does not track this archive: after changing the C file, touch
# src/main.rs to relink.
linkdir=$TARGET_DIR/musl-link/$target
mkdir -p "$linkdir"
"$cc" -O2 -c scripts/musl/dl_find_object.c -o "$linkdir/dl_find_object.o"
rm -f "$linkdir/libunwind.a"
cp "$("$cc" -print-libgcc-file-name | xargs dirname)/libgcc_eh.a" "$linkdir/libunwind.a"
ar rcs "$linkdir/libunwind.a" "$linkdir/dl_find_object.o"

triple=${target//-/_}
TRIPLE=${triple^^}
export "CC_$triple=$cc" "AR_$triple=ar"
export "CARGO_TARGET_${TRIPLE}_LINKER=$cc"
# link-self-contained=no: Debian's rustc ships no musl crt objects, musl-gcc brings its own.
# relocation-model=static: a plain -static link (musl-gcc's specs turn -static-pie into a PIE
# that asks for /lib/ld-musl-x86_64.so.1).
# -lgcc: the C side's compiler helpers. mimalloc (the musl build's allocator) calls
# __popcountdi2, which rustup's standard library provides (its compiler-builtins are built
# with LLVM's C builtins) and a -Zbuild-std one does not; gcc's libgcc.a has it.
export "CARGO_TARGET_${TRIPLE}_RUSTFLAGS=-C target-feature=+crt-static -C link-self-contained=no -C relocation-model=static -L native=$linkdir -C link-arg=-lgcc"

log "building s3blob for $target (profile $profile; the standard library too)"
start=$SECONDS
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build --locked -p s3blob --bin s3blob \
    -Zbuild-std=std,panic_abort --target "$target" --profile "$profile"
dir=$profile
[[ $profile == dev ]] && dir=debug
bin=$TARGET_DIR/$target/$dir/s3blob
log "built in $((SECONDS - start)) s: $bin ($(stat -c %s "$bin") bytes)"

# Static: `file` says "statically linked" (or "static-pie linked"), ldd finds no loader.
desc=$(file -b "$bin")
log "file: $desc"
[[ $desc == *"statically linked"* && $desc != *interpreter* ]] || { log "FAILED: $bin is not statically linked"; exit 1; }
if ldd "$bin" >/dev/null 2>&1 && ! ldd "$bin" 2>&1 | grep -q 'statically linked'; then
    log "FAILED: ldd lists libraries: $(ldd "$bin" 2>&1 | tr '\n' ' ')"
    exit 1
fi
log "ldd: $(ldd "$bin" 2>&1 | head -1 | sed 's/^[[:space:]]*//')"
# The allocator is mimalloc (src/platform/process.rs): asked to, it lists its options.
verbose=$(MIMALLOC_VERBOSE=1 "$bin" --version 2>&1)
grep -q "option 'purge_delay'" <<<"$verbose" || { log "FAILED: $bin does not allocate with mimalloc"; exit 1; }
log "allocator: mimalloc"
# The unwinder's tables (see libunwind.a above): without them every backtrace aborts.
readelf -lW "$bin" | grep -q GNU_EH_FRAME || { log "FAILED: $bin has no PT_GNU_EH_FRAME segment"; exit 1; }

if [[ -n $scenario && $target == x86_64-* ]]; then
    "$bin" --version
    log "the compatibility scenario with the static binary against s3blob-testserver"
    server_bin=${S3BLOB_TESTSERVER:-$TARGET_DIR/debug/s3blob-testserver}
    [[ -n ${S3BLOB_TESTSERVER:-} ]] || cargo build --locked -q -p s3blob-testserver
    work=$(mktemp -d)
    server=
    trap '[[ -n $server ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
    export AWS_ACCESS_KEY_ID=musl AWS_SECRET_ACCESS_KEY=musl-secret-0123456789 AWS_REGION=us-east-1
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CA_BUNDLE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
    # An error that ends a command then takes a backtrace (anyhow): the unwinder runs in the
    # static binary whatever the caller's environment says.
    export RUST_BACKTRACE=1
    "$server_bin" "$work/store" --bucket compat >"$work/endpoint" &
    server=$!
    for _ in $(seq 200); do [[ -s $work/endpoint ]] && break; sleep 0.05; done
    [[ -s $work/endpoint ]] || { log "FAILED: s3blob-testserver did not start"; exit 1; }
    S3BLOB=$bin scripts/compat.sh "$(head -n1 "$work/endpoint")" compat
fi
echo "$bin"
