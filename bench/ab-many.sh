#!/usr/bin/env bash
# A/B comparison of two s3blob binaries on a whole release: FILES x 4 KiB uploaded to a fresh
# release and downloaded with `download --all`, on one in-memory server (plain loopback, or
# the S3-like model with --s3-model as 4th argument), runs interleaved A, B, A, B, ...
#
#   bench/ab-many.sh BIN_A BIN_B [RUNS] [--s3-model]   (default 8 runs; FILES=1000)
#
# Prints wall / user / sys medians (and minimums) per case and binary. Needs
# target/release/s3blob-testserver and /usr/bin/time.
set -euo pipefail
A=${1:?usage: bench/ab-many.sh BIN_A BIN_B [RUNS] [--s3-model]}
B=${2:?usage: bench/ab-many.sh BIN_A BIN_B [RUNS] [--s3-model]}
RUNS=${3:-8}
MODEL=${4:-}
FILES=${FILES:-1000}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER=${CARGO_TARGET_DIR:-$REPO/target}/release/s3blob-testserver
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/s3blob-abm.XXXXXX")
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src"
for i in $(seq -w 1 "$FILES"); do head -c 4096 /dev/urandom >"$WORK/src/f$i"; done

NAMES=()
while IFS= read -r n; do NAMES+=("$n"); done < <(ls "$WORK/src")

export AWS_ACCESS_KEY_ID=abkey AWS_SECRET_ACCESS_KEY=absecret0123456789 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true HOME=$WORK
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE RUST_LOG
"$SERVER" --memory --bucket abtest $MODEL >"$WORK/ep" 2>"$WORK/server.err" &
pid=$!
for _ in $(seq 100); do grep -q http "$WORK/ep" 2>/dev/null && break; sleep 0.1; done
export AWS_ENDPOINT_URL=$(head -n1 "$WORK/ep")

declare -A T
one() { # LABEL BIN ARGS...: one timed run from inside the source directory
    local label=$1 bin=$2 start end
    shift 2
    sync
    start=$EPOCHREALTIME
    (cd "$WORK/src" && /usr/bin/time -f '%U %S' -o "$WORK/time" "$bin" -q --bucket abtest "$@" >/dev/null 2>"$WORK/err") ||
        { echo "$label failed: $(cat "$WORK/err")" >&2; exit 1; }
    end=$EPOCHREALTIME
    read -r u s <"$WORK/time"
    T[$label]+="$(echo "$end - $start" | bc) $u $s;"
}
for r in $(seq "$RUNS"); do
    for side in A B; do
        bin=$A; [[ $side == B ]] && bin=$B
        one "up $side" "$bin" upload --suite ab --release "$side$r" "${NAMES[@]}"
        rm -rf "$WORK/down"
        one "down $side" "$bin" download --suite ab --release "$side$r" --all -o "$WORK/down"
    done
done
echo "$FILES x 4 KiB, $RUNS runs each, ${MODEL:-plain loopback}; A=$A B=$B"
for case in up down; do
    for side in A B; do
        python3 - "$case $side" "${T[$case $side]}" <<'PY'
import sys, statistics as st
rows = [list(map(float, r.split())) for r in sys.argv[2].split(';') if r.strip()]
cols = list(zip(*rows))
print(f"{sys.argv[1]:8s} " + "   ".join(f"{n} {st.median(c):.3f}/{min(c):.3f}" for n, c in zip(("wall", "user", "sys"), cols)) + "  (median/min, s)")
PY
    done
done
