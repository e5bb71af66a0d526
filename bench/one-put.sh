#!/usr/bin/env bash
# A new 1 KiB file to a fresh key under the S3-like network model (30 ms per response):
# s3blob as on a custom endpoint (untrusted: HEAD, PUT, HEAD to read back), s3blob with
# --conditional-writes trusted (one conditional PUT, as on AWS S3 by default), and s5cmd (one
# PUT, no condition). Runs interleaved, reports medians; writes bench/results/one-put.txt.
#
#   bench/one-put.sh [RUNS]        (default 21; needs target/release/{s3blob,s3blob-testserver}
#                                   from `cargo build --release --workspace`, and s5cmd)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${1:-21}
S3BLOB=$REPO/target/release/s3blob
SERVER=$REPO/target/release/s3blob-testserver
S5CMD=${S5CMD:-$(command -v s5cmd)}
OUT=${BENCH_RESULTS:-$REPO/bench/results}/one-put.txt
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

export AWS_ACCESS_KEY_ID=benchaccesskey AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true HOME=$WORK
unset AWS_CA_BUNDLE AWS_PROFILE
"$SERVER" --memory --bucket bench --s3-model >"$WORK/ep" 2>"$WORK/server.err" &
PID=$!
for _ in $(seq 100); do grep -q http "$WORK/ep" 2>/dev/null && break; sleep 0.1; done
EP=$(head -n1 "$WORK/ep")
export AWS_ENDPOINT_URL=$EP
head -c 1024 /dev/urandom >"$WORK/f1k"

declare -A TIMES
run() { # NAME CMD...: appends the wall time in seconds
    local name=$1 start end
    shift
    start=$(date +%s.%N)
    "$@" >/dev/null 2>"$WORK/err" || { echo "$name failed: $(cat "$WORK/err")" >&2; exit 1; }
    end=$(date +%s.%N)
    TIMES[$name]+="$(echo "$end - $start" | bc) "
}
for i in $(seq "$RUNS"); do
    run s3blob-untrusted "$S3BLOB" -q --bucket bench upload --suite one --release "u$i" "$WORK/f1k"
    run s3blob-trusted "$S3BLOB" -q --bucket bench --conditional-writes trusted upload --suite one --release "t$i" "$WORK/f1k"
    run s5cmd "$S5CMD" --endpoint-url "$EP" cp "$WORK/f1k" "s3://bench/one/s$i/f1k"
done
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); git: $(git -C "$REPO" rev-parse --short HEAD); runs: $RUNS; nproc: $(nproc)"
    echo "server: s3blob-testserver --memory --s3-model (30 ms per response, 90 MB/s per connection)"
    for name in s3blob-untrusted s3blob-trusted s5cmd; do
        python3 -c 'import sys, statistics as s; v = sorted(map(float, sys.argv[2].split())); print(f"{sys.argv[1]:18s} median {s.median(v)*1000:7.1f} ms   min {v[0]*1000:7.1f} ms")' "$name" "${TIMES[$name]}"
    done
    python3 -c 'import sys, statistics as s; t = s.median(map(float, sys.argv[1].split())); f = s.median(map(float, sys.argv[2].split())); print(f"trusted / s5cmd: {t / f:.2f}x (goal <= 1.0x)")' "${TIMES[s3blob-trusted]}" "${TIMES[s5cmd]}"
} | tee "$OUT"
