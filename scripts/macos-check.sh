#!/usr/bin/env bash
# s3blob for macOS, checked on Linux (Debian 12): `cargo check --workspace --all-targets --locked`
# for x86_64-apple-darwin and aarch64-apple-darwin with Debian's Rust (rustc-web/cargo-web, whose
# rust-web-src builds the standard library for the target) and clang for ring's C and assembly.
# It proves the code (the binary, the test server and every test) type-checks and ring's
# C compiles for macOS; it neither links nor runs anything (that needs Apple's SDK).
#
#   scripts/macos-check.sh                  check both targets
#   scripts/macos-check.sh TARGET...        check only these (x86_64-apple-darwin,
#                                           aarch64-apple-darwin)
#
# Installs what is missing (apt: rustc-web cargo-web rust-web-src clang-22). Checks under
# $CARGO_TARGET_DIR/cross (default target/cross), beside scripts/windows.sh's build, apart from
# the native build (another compiler). Exit 0 when every target passed.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

CROSS=${CARGO_TARGET_DIR:-$REPO/target}/cross
TARGETS=()
for arg in "$@"; do
    case $arg in
    x86_64-apple-darwin | aarch64-apple-darwin) TARGETS+=("$arg") ;;
    *)
        sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
    esac
done
((${#TARGETS[@]})) || TARGETS=(x86_64-apple-darwin aarch64-apple-darwin)

log() { printf '[macos %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

# --- packages -------------------------------------------------------------------------------
# Debian's rustc-web must be new enough for the dependency tree (1.96 in bookworm-security; the
# plain bookworm one, 1.85, is too old), as for scripts/windows.sh. clang-22 (with llvm-ar-22
# from llvm-22) compiles ring's C for Darwin; gcc cannot target it. No linker is needed.
rustc_ok() { [[ -x /usr/bin/rustc ]] && /usr/bin/rustc --version | awk '{split($2, v, "."); exit !(v[1] > 1 || v[2] >= 94)}'; }
need=()
rustc_ok || need+=(rustc-web cargo-web rust-web-src)
[[ -d /usr/lib/rustlib/src/rust/library ]] || need+=(rust-web-src)
command -v clang-22 >/dev/null && command -v llvm-ar-22 >/dev/null || need+=(clang-22)
if ((${#need[@]})); then
    log "installing ${need[*]}"
    # Another job may hold apt's lock for a while: wait for it, and retry a failed download.
    for attempt in $(seq 30); do
        if apt-get -o DPkg::Lock::Timeout=600 update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null; then
            break
        fi
        ((attempt < 30)) || fail "apt-get install ${need[*]}"
        sleep 10
    done
fi
rustc_ok || fail "/usr/bin/rustc is $(/usr/bin/rustc --version); the check needs 1.94 or newer (rustc-web from bookworm-security)"

# --- ring's C without Apple's SDK -----------------------------------------------------------
# ring's C needs no C library when RING_CORE_NOSTDLIBINC is set (its own memcpy/memset, no
# assert.h): clang's own headers (stddef.h, stdint.h) are enough, bar the one Apple header
# ring's base.h includes on __APPLE__, which is written here with what a macOS SDK defines.
STUB=$CROSS/macos-include
mkdir -p "$STUB"
cat >"$STUB/TargetConditionals.h.new" <<'EOF'
/* Written by scripts/macos-check.sh: the macOS values of the SDK's TargetConditionals.h. */
#pragma once
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
EOF
if cmp -s "$STUB/TargetConditionals.h.new" "$STUB/TargetConditionals.h"; then
    rm "$STUB/TargetConditionals.h.new"
else
    mv "$STUB/TargetConditionals.h.new" "$STUB/TargetConditionals.h"
fi

export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
started=$(date +%s)
for target in "${TARGETS[@]}"; do
    t=${target//-/_}
    log "cargo check --workspace --all-targets --locked --target $target"
    began=$(date +%s)
    # Debian's compiler for the cross check only (the native build stays with the usual one).
    env RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$CROSS" \
        "CC_$t=clang-22" "AR_$t=llvm-ar-22" \
        "CFLAGS_$t=-ffreestanding -nostdlibinc -isystem $STUB -DRING_CORE_NOSTDLIBINC=1" \
        /usr/bin/cargo check --workspace --all-targets --locked \
        -Zbuild-std=std,panic_abort --target "$target" ||
        fail "cargo check for $target"
    log "$target checked in $(($(date +%s) - began)) s"
done
log "all targets passed in $(($(date +%s) - started)) s: ${TARGETS[*]}"
