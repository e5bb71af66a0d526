#!/usr/bin/env bash
# A/B comparison of two s3blob binaries (e.g. before and after a refactor) on one in-memory
# server, runs interleaved A, B, A, B, ... so machine noise lands on both alike.
#
#   bench/ab.sh BIN_A BIN_B [RUNS]          (default 10 runs per case and binary)
#
# Cases: 1 KiB and 1 GiB, upload and download, on plain loopback and under the S3-like model.
# Prints one line per case: wall / user / sys medians and minimums and peak RSS (MiB) median
# and maximum, for A and B. Needs s3blob-testserver built (target/release) and /usr/bin/time.
# Test files go to ${BENCH_TMP:-/tmp}/s3blob-ab (a disk, not tmpfs), removed at the end.
set -euo pipefail

A=${1:?usage: bench/ab.sh BIN_A BIN_B [RUNS]}
B=${2:?usage: bench/ab.sh BIN_A BIN_B [RUNS]}
RUNS=${3:-10}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER=${CARGO_TARGET_DIR:-$REPO/target}/release/s3blob-testserver
WORK=${BENCH_TMP:-/tmp}/s3blob-ab
[[ -x $SERVER ]] || { echo "build the server first: cargo build --release -p s3blob-testserver" >&2; exit 1; }

rm -rf "$WORK" && mkdir -p "$WORK"
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
head -c 1024 /dev/urandom >"$WORK/f-1k"
head -c $((1024 * 1024 * 1024)) /dev/urandom >"$WORK/f-1g"

export AWS_ACCESS_KEY_ID=abkey AWS_SECRET_ACCESS_KEY=absecret0123456789 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true S3BLOB_BUCKET=abtest
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE RUST_LOG
: >"$WORK/cfg"
export AWS_CONFIG_FILE="$WORK/cfg" AWS_SHARED_CREDENTIALS_FILE="$WORK/cfg"

# One measured command: prints "wall user sys rss_kib".
measure() {
    local t0 t1
    sync
    t0=$EPOCHREALTIME
    /usr/bin/time -o "$WORK/time" -f '%U %S %M' "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }
    t1=$EPOCHREALTIME
    printf '%s %s\n' "$(echo "$t1 - $t0" | bc)" "$(cat "$WORK/time")"
}

# Median and minimum (or, with `max` as $3, maximum) of column $1 of the lines on stdin,
# divided by $2 (default 1: seconds, three decimals; otherwise one decimal).
stats() {
    cut -d' ' -f"$1" | sort -g | awk -v div="${2:-1}" -v pick="${3:-min}" '{ v[NR] = $1 / div } END {
        n = NR; fmt = div == 1 ? "%.3f/%.3f" : "%.1f/%.1f"
        printf fmt, (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2), (pick == "max" ? v[n] : v[1]) }'
}
# Peak RSS (column 4, KiB) in MiB: median and maximum.
rss() { stats 4 1024 max; }

for model in plain s3; do
    flags=(--memory --bucket abtest --prealloc-mib 2200)
    [[ $model == s3 ]] && flags+=(--s3-model)
    "$SERVER" "${flags[@]}" >"$WORK/endpoint" &
    pid=$!
    for _ in $(seq 100); do [[ -s $WORK/endpoint ]] && break; sleep 0.05; done
    export AWS_ENDPOINT_URL=$(head -n1 "$WORK/endpoint")
    for size in 1k 1g; do
        "$A" upload --suite ab --release src --overwrite -q "$WORK/f-$size"
        cat "$WORK/f-$size" >/dev/null
        for dir in up down; do
            : >"$WORK/a.txt"; : >"$WORK/b.txt"
            for run in $(seq "$RUNS"); do
                for which in a b; do
                    bin=$A; [[ $which == b ]] && bin=$B
                    if [[ $dir == up ]]; then
                        measure "$bin" upload --suite ab --release "up-$which-$run" -q "$WORK/f-$size" >>"$WORK/$which.txt"
                        # Untimed: the in-memory server must not hold every upload.
                        "$A" delete --suite ab --release "up-$which-$run" --filename "f-$size" --yes -q >/dev/null
                    else
                        measure "$bin" download --suite ab --release src --filename "f-$size" -o "$WORK/out-$which" -q >>"$WORK/$which.txt"
                        rm -f "$WORK/out-$which"
                    fi
                done
            done
            printf '%-6s %-3s %-4s  A wall %s user %s sys %s rss %s   B wall %s user %s sys %s rss %s  (s median/min, MiB median/max)\n' \
                "$model" "$size" "$dir" \
                "$(stats 1 <"$WORK/a.txt")" "$(stats 2 <"$WORK/a.txt")" "$(stats 3 <"$WORK/a.txt")" "$(rss <"$WORK/a.txt")" \
                "$(stats 1 <"$WORK/b.txt")" "$(stats 2 <"$WORK/b.txt")" "$(stats 3 <"$WORK/b.txt")" "$(rss <"$WORK/b.txt")"
        done
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
