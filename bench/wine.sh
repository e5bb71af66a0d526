#!/usr/bin/env bash
# A sanity figure, not a Windows benchmark: a 1 GiB upload and download with s3blob.exe under
# Wine against the bundled server, next to the Linux binary of the same build profile on the
# same machine and server. Wine adds its own costs (its start, its file and socket layers).
# Runs alternate (Linux, Wine, Linux, ...); prints the median wall time of each, in seconds,
# every download compared byte for byte.
#
#   bench/wine.sh [RUNS]           (default 3)
#
# EXE (default target/cross/x86_64-pc-windows-gnu/debug/s3blob.exe: scripts/windows.sh --build
# makes it, with the stub DLL and exitcode.exe beside), LINUX (default target/debug/s3blob),
# SERVER (default target/debug/s3blob-testserver), in memory on loopback. The test file goes
# to ${BENCH_TMP:-/tmp}/s3blob-wine (a disk, not tmpfs), removed at the end.
set -euo pipefail

RUNS=${1:-3}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
CROSS=$TARGET/cross
EXE=${EXE:-$CROSS/x86_64-pc-windows-gnu/debug/s3blob.exe}
LINUX=${LINUX:-$TARGET/debug/s3blob}
SERVER=${SERVER:-$TARGET/debug/s3blob-testserver}
WORK=${BENCH_TMP:-/tmp}/s3blob-wine
SIZE_MIB=${SIZE_MIB:-1024}
for b in "$EXE" "$LINUX" "$SERVER" "$CROSS/exitcode.exe"; do
    [[ -x $b || -f $b ]] || { echo "missing $b: scripts/windows.sh --build; cargo build -p s3blob -p s3blob-testserver" >&2; exit 1; }
done
export WINEDEBUG=-all WINEPREFIX=$CROSS/wine WINEDLLOVERRIDES="mscoree,mshtml="
export WINE_EXITCODE_EXE=$CROSS/exitcode.exe

rm -rf "$WORK" && mkdir -p "$WORK/dl"
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$WORK/f"

export AWS_ACCESS_KEY_ID=winebenchkey AWS_SECRET_ACCESS_KEY=winebenchsecret0123456789 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true S3BLOB_BUCKET=wine
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE RUST_LOG
: >"$WORK/cfg"
export AWS_CONFIG_FILE="$WORK/cfg" AWS_SHARED_CREDENTIALS_FILE="$WORK/cfg"
"$SERVER" --memory --bucket wine --prealloc-mib $((SIZE_MIB * 2 + 200)) >"$WORK/endpoint" &
pid=$!
for _ in $(seq 600); do [[ -s $WORK/endpoint ]] && break; sleep 0.05; done
[[ -s $WORK/endpoint ]] || { echo "the server did not start" >&2; exit 1; }
AWS_ENDPOINT_URL=$(head -n1 "$WORK/endpoint")
export AWS_ENDPOINT_URL

since() { echo "$EPOCHREALTIME - $1" | bc; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
run() {
    case $1 in
    linux) "$LINUX" "${@:2}" ;;
    wine) "$REPO/scripts/windows/wine-run" "$EXE" "${@:2}" ;;
    esac
}

cd "$WORK"
# Wine's first start in a prefix sets it up: not timed.
run wine --version >/dev/null
echo "$SIZE_MIB MiB; $RUNS runs each, alternating; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$RUNS"); do
    for who in linux wine; do
        t0=$EPOCHREALTIME
        run "$who" upload -q --suite bench --release "$who-$i" f >/dev/null
        since "$t0" >>"$WORK/$who.up"
        rm -f dl/f
        t0=$EPOCHREALTIME
        run "$who" download -q --suite bench --release "$who-$i" --filename f -o dl/ >/dev/null
        since "$t0" >>"$WORK/$who.down"
        cmp -s f dl/f || { echo "$who run $i: the downloaded bytes differ" >&2; exit 1; }
        "$LINUX" delete -q --suite bench --release "$who-$i" --all --yes >/dev/null
    done
done
printf '%-28s %10s %10s\n' binary upload_s download_s
printf '%-28s %10.2f %10.2f\n' "Linux $(basename "$LINUX")" "$(median <"$WORK/linux.up")" "$(median <"$WORK/linux.down")"
printf '%-28s %10.2f %10.2f\n' "Windows s3blob.exe, Wine" "$(median <"$WORK/wine.up")" "$(median <"$WORK/wine.down")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); $(wine --version)"
