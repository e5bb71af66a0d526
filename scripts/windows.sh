#!/usr/bin/env bash
# s3blob for Windows, built and run on Linux (Debian 12): cross-compiled with Debian's Rust
# (rustc-web/cargo-web, whose rust-web-src builds the standard library for the target) and
# mingw-w64, run under Wine.
#
#   scripts/windows.sh            build s3blob.exe (debug), then run under Wine
#                                 (a) the scenario of scripts/compat.sh against the bundled
#                                     server and (b) the integration tests listed in TESTS
#   scripts/windows.sh --build    only build (s3blob.exe and the stub DLL beside it)
#   scripts/windows.sh --release  build the release exe too (fat LTO: about 16 min cold)
#
# Installs what is missing (apt: rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 wine wine64).
# Builds under $CARGO_TARGET_DIR/cross (default target/cross), apart from the native build
# (another compiler), so the exe is target/cross/x86_64-pc-windows-gnu/debug/s3blob.exe. Wine
# keeps its prefix in target/cross/wine. Exit 0 when every step passed.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

TARGET=x86_64-pc-windows-gnu
CROSS=${CARGO_TARGET_DIR:-$REPO/target}/cross
RELEASE=
BUILD_ONLY=
for arg in "$@"; do
    case $arg in
    --release) RELEASE=1 ;;
    --build) BUILD_ONLY=1 ;;
    *)
        sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
    esac
done

# The integration tests that mean something on Windows, run under Wine. The other test files
# exercise Unix-only behaviour (signals, FIFOs, modes, uid drops, credential scripts, a
# pseudo-terminal, /proc) or the README's bash blocks; their Windows-only gaps are marked in
# the files themselves.
# browse is left out: under Wine, `list` into a reader that closes early and a listing of many
# pages (its requests timing out on a loaded machine) failed; not yet understood.
TESTS=(roundtrip integrity overwrite releases batch metadata presign windows_names)

log() { printf '[windows %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

# --- packages -------------------------------------------------------------------------------
# Debian's rustc-web must be new enough for the dependency tree (1.96 in bookworm-security; the
# plain bookworm one, 1.85, is too old), so the package lists are refreshed when it is not.
rustc_ok() { [[ -x /usr/bin/rustc ]] && /usr/bin/rustc --version | awk '{split($2, v, "."); exit !(v[1] > 1 || v[2] >= 94)}'; }
need=()
rustc_ok || need+=(rustc-web cargo-web rust-web-src)
[[ -d /usr/lib/rustlib/src/rust/library ]] || need+=(rust-web-src)
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
# wine64 only recommends wine, which holds the `wine` command.
command -v wine >/dev/null || need+=(wine wine64)
if ((${#need[@]})); then
    log "installing ${need[*]}"
    # Another job may hold apt's lock for a while: retry.
    for attempt in $(seq 30); do
        if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; then
            break
        fi
        ((attempt < 30)) || fail "apt-get install ${need[*]}"
        sleep 10
    done
fi
rustc_ok || fail "/usr/bin/rustc is $(/usr/bin/rustc --version); the build needs 1.94 or newer (rustc-web from bookworm-security)"

# --- build ----------------------------------------------------------------------------------
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# Every Windows program started from Linux goes through scripts/windows/wine-run, which keeps
# its exit code when Wine's server kills the Unix side after the program exited (it does so
# when that side is still alive a second later, as on a loaded machine: the parent then saw
# 137). Programs the test programs start are Windows children and get their codes from Wine.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$REPO/scripts/windows/wine-run
export WINE_EXITCODE_EXE=$CROSS/exitcode.exe
export WINEDEBUG=-all WINEPREFIX=$CROSS/wine WINEDLLOVERRIDES="mscoree,mshtml="
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
# Debian's compiler for the cross build only (the native build stays with the usual one).
xcargo() {
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$CROSS \
        /usr/bin/cargo "$@" -Zbuild-std=std,panic_abort --target $TARGET
}

# Wine 8.0 lacks bcryptprimitives.dll (ProcessPrng), which Rust's std imports: the stub from
# scripts/windows/ goes beside every exe the build makes (the binary and the test programs).
stub=$CROSS/bcryptprimitives.dll
mkdir -p "$CROSS"
if [[ ! -s $stub || scripts/windows/bcryptprimitives.c -nt $stub ]]; then
    x86_64-w64-mingw32-gcc -shared -O2 -s -o "$stub" scripts/windows/bcryptprimitives.c -ladvapi32
fi
if [[ ! -s $WINE_EXITCODE_EXE || scripts/windows/exitcode.c -nt $WINE_EXITCODE_EXE ]]; then
    x86_64-w64-mingw32-gcc -O2 -s -o "$WINE_EXITCODE_EXE" scripts/windows/exitcode.c
fi
place_stub() { mkdir -p "$1" "$1/deps" && cp "$stub" "$1/" && cp "$stub" "$1/deps/"; }

args=()
for t in "${TESTS[@]}"; do args+=(--test "$t"); done
started=$(date +%s)
# One build for the exe and the test programs: building the binary alone would resolve the
# dependencies' features without the dev-dependencies and compile the tree a second time.
log "building s3blob.exe and the test programs (debug)"
xcargo test --locked --no-run "${args[@]}"
place_stub "$CROSS/$TARGET/debug"
exe=$CROSS/$TARGET/debug/s3blob.exe
if [[ -n $RELEASE ]]; then
    log "building s3blob.exe (release)"
    xcargo build --locked --release --bin s3blob
    place_stub "$CROSS/$TARGET/release"
fi
log "built in $(($(date +%s) - started)) s: $exe"
[[ -n $BUILD_ONLY ]] && exit 0

# The first Wine start makes its prefix (some seconds); the version is worth a log line.
scripts/windows/wine-run "$exe" --version >/dev/null || fail "s3blob.exe does not start under Wine ($(wine --version))"
log "$(scripts/windows/wine-run "$exe" --version) under $(wine --version)"

# --- (a) the compatibility scenario against the bundled server ------------------------------
cargo build --locked --quiet -p s3blob-testserver
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
(
    export AWS_ACCESS_KEY_ID=windows-access-key AWS_SECRET_ACCESS_KEY=windows-secret-key
    exec "${CARGO_TARGET_DIR:-$REPO/target}/debug/s3blob-testserver" --memory --bucket compat >"$WORK/endpoint"
) &
SERVER_PID=$!
for _ in $(seq 100); do [[ -s $WORK/endpoint ]] && break; sleep 0.05; done
endpoint=$(head -n1 "$WORK/endpoint")
[[ $endpoint == http://* ]] || fail "the bundled server did not start"

# What compat.sh runs as "the binary": the exe under Wine.
cat >"$WORK/s3blob" <<EOF
#!/bin/sh
exec "$REPO/scripts/windows/wine-run" "$exe" "\$@"
EOF
chmod +x "$WORK/s3blob"
log "scenario: scripts/compat.sh $endpoint compat, s3blob.exe under Wine"
(
    # Nothing from this machine's AWS setup takes part.
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE
    : >"$WORK/aws-config"
    export AWS_CONFIG_FILE=$WORK/aws-config AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-config
    export AWS_ACCESS_KEY_ID=windows-access-key AWS_SECRET_ACCESS_KEY=windows-secret-key
    export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
    S3BLOB=$WORK/s3blob scripts/compat.sh "$endpoint" compat
) || fail "the compatibility scenario under Wine"

# --- (b) the integration tests --------------------------------------------------------------
log "integration tests under Wine: ${TESTS[*]}"
testlog="$WORK/tests.log"
cargo_ok=1
xcargo test --locked --no-fail-fast "${args[@]}" 2>&1 | tee "$testlog" || cargo_ok=
# One result line per test program: a program that died without one counts as failed.
awk -v want=${#TESTS[@]} '/^test result:/ { n++; p += $4; f += $6; i += $8 }
    END { printf "windows tests under Wine: %d passed, %d failed, %d ignored (%d of %d test programs reported)\n", p, f, i, n, want; exit f > 0 || n != want }' "$testlog" >&2 ||
    fail "integration tests under Wine"
[[ -n $cargo_ok ]] || fail "integration tests under Wine: cargo test failed (see above)"
log "all steps passed in $(($(date +%s) - started)) s"
