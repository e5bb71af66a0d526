#!/usr/bin/env bash
# What `--sha256sums` costs: `upload --seal` of one 1 GiB file with and without it, on the
# plain-loopback in-memory server, interleaved; client wall and CPU seconds (user+sys) and
# peak RSS from /usr/bin/time. Writes bench/results/sha256sums.txt.
#
#   bench/sha256sums.sh [RUNS] [MIB]   (defaults 5 and 1024; needs
#                                       target/release/{s3blob,s3blob-testserver})
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${1:-5}
MIB=${2:-1024}
S3BLOB=$REPO/target/release/s3blob
SERVER=$REPO/target/release/s3blob-testserver
OUT=${BENCH_RESULTS:-$REPO/bench/results}/sha256sums.txt
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/s3blob-sha.XXXXXX")
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

export AWS_ACCESS_KEY_ID=benchaccesskey AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true HOME=$WORK
unset AWS_CA_BUNDLE AWS_PROFILE
"$SERVER" --memory --bucket bench >"$WORK/ep" 2>"$WORK/server.err" &
PID=$!
for _ in $(seq 100); do grep -q http "$WORK/ep" 2>/dev/null && break; sleep 0.1; done
export AWS_ENDPOINT_URL=$(head -n1 "$WORK/ep")
head -c "$((MIB << 20))" /dev/urandom >"$WORK/big.bin"
cat "$WORK/big.bin" >/dev/null # into the page cache

declare -A WALL CPU RSS
run() { # NAME RELEASE [FLAGS...]: one timed upload --seal
    local name=$1 release=$2 start end
    shift 2
    start=$EPOCHREALTIME
    /usr/bin/time -f '%U %S %M' -o "$WORK/time" "$S3BLOB" -q --bucket bench upload \
        --suite sha --release "$release" --seal "$@" "$WORK/big.bin" >/dev/null 2>"$WORK/err" ||
        { echo "$name failed: $(cat "$WORK/err")" >&2; exit 1; }
    end=$EPOCHREALTIME
    read -r user sys rss <"$WORK/time"
    WALL[$name]+="$(echo "$end - $start" | bc) "
    CPU[$name]+="$(echo "$user + $sys" | bc) "
    RSS[$name]+="$rss "
}
for i in $(seq "$RUNS"); do
    run crc64-only "c$i"
    run with-sha256 "s$i" --sha256sums
done
med() { python3 -c 'import sys, statistics as s; print(f"{s.median(map(float, sys.argv[1].split())):.2f}")' "$1"; }
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); git: $(git -C "$REPO" rev-parse --short HEAD); runs: $RUNS; nproc: $(nproc)"
    echo "server: s3blob-testserver --memory (plain loopback); upload --seal of one $MIB MiB file, medians"
    for name in crc64-only with-sha256; do
        printf '%-12s wall %6s s   CPU %6s s   peak RSS %6s MiB\n' "$name" "$(med "${WALL[$name]}")" \
            "$(med "${CPU[$name]}")" "$(python3 -c 'import sys, statistics as s; print(f"{s.median(map(int, sys.argv[1].split()))/1024:.1f}")' "${RSS[$name]}")"
    done
} | tee "$OUT"
