#!/usr/bin/env bash
# Resuming an interrupted upload: a 1 GiB upload killed (kill -9) once 70 % of its parts are stored,
# then the same command again, against a fresh upload of the same file. Prints, per network
# model, the medians over RUNS of wall time and of the bytes the resumed run sends (the parts'
# lengths as s3blob logs each UploadPart with -v) next to the fresh run's.
#
#   bench/resume.sh [RUNS]                    (default 5)
#   S3BLOB=path/to/s3blob SERVER=path/to/s3blob-testserver bench/resume.sh
#
# Defaults: target/release/s3blob and target/release/s3blob-testserver (under
# $CARGO_TARGET_DIR when set). The server runs in memory (--memory), on plain loopback, under
# its S3-like model (--s3-model: 90 MB/s per connection, 30 ms before each answer), and under
# that model behind a shared 1 Gbit/s uplink (uplink: s3blob --limit-rate 1Gbit/s).
# Test files go to ${BENCH_TMP:-/tmp}/s3blob-resume (a disk, not tmpfs), removed at the end.
set -euo pipefail

RUNS=${1:-5}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
S3BLOB=${S3BLOB:-$TARGET/release/s3blob}
SERVER=${SERVER:-$TARGET/release/s3blob-testserver}
WORK=${BENCH_TMP:-/tmp}/s3blob-resume
PART=${PART:-16}         # MiB, s3blob's default part size
SIZE_MIB=${SIZE_MIB:-1024} # a smoke test: SIZE_MIB=320 PART=5 (at least 20 parts)
PARTS=$((SIZE_MIB / PART))
for b in "$S3BLOB" "$SERVER"; do
    [[ -x $b ]] || { echo "missing $b: cargo build --release -p s3blob -p s3blob-testserver" >&2; exit 1; }
done

rm -rf "$WORK" && mkdir -p "$WORK"
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$WORK/f"

export AWS_ACCESS_KEY_ID=resumekey AWS_SECRET_ACCESS_KEY=resumesecret0123456789 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true S3BLOB_BUCKET=resume
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE RUST_LOG S3BLOB_RESUMABLE S3BLOB_LIMIT_RATE
: >"$WORK/cfg"
export AWS_CONFIG_FILE="$WORK/cfg" AWS_SHARED_CREDENTIALS_FILE="$WORK/cfg"

# The payload bytes of the UploadParts a run logged (-v), descriptor part included.
sent() { grep -o 'UploadPart part=[0-9]* offset=[0-9]* len=[0-9]*' "$1" | awk -F'len=' '{ s += $2 } END { print s + 0 }'; }
# Seconds since $1 (an $EPOCHREALTIME).
since() { echo "$EPOCHREALTIME - $1" | bc; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# One upload of the file to KEY with -v (the log to $2); prints its wall time.
upload() {
    local t0
    t0=$EPOCHREALTIME
    "$S3BLOB" upload -v --suite bench --release "$1" --filename f --part-size "${PART}MiB" "$WORK/f" >/dev/null 2>"$2"
    since "$t0"
}

# Starts the upload to release $1 and kills it (-9) once 70 % of the parts are stored (as -v
# logs each: "part stored"); a part or two more may land before the kill (the resumed run
# says how many were kept).
killed() {
    local log=$WORK/killed.log want=$((PARTS * 7 / 10)) p n
    "$S3BLOB" upload -v --suite bench --release "$1" --filename f --part-size "${PART}MiB" "$WORK/f" >/dev/null 2>"$log" &
    p=$!
    while kill -0 "$p" 2>/dev/null; do
        n=$(grep -c 'part stored' "$log" 2>/dev/null) || n=0
        ((n >= want)) && break
        sleep 0.005
    done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

echo "$SIZE_MIB MiB, $PART MiB parts, killed at ~70 %; $RUNS runs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %10s %10s %12s %12s %8s %8s %s\n' model fresh_s resumed_s fresh_MiB resumed_MiB time_% bytes_% kept
for model in plain s3 uplink; do
    flags=(--memory --bucket resume --prealloc-mib 2200)
    [[ $model != plain ]] && flags+=(--s3-model)
    # uplink: the S3-like model behind a 1 Gbit/s uplink that all connections share (s3blob's
    # own --limit-rate), where the bytes left to send, not the round trips, set the time.
    if [[ $model == uplink ]]; then export S3BLOB_LIMIT_RATE=1Gbit/s; else unset S3BLOB_LIMIT_RATE; fi
    "$SERVER" "${flags[@]}" >"$WORK/endpoint" &
    pid=$!
    for _ in $(seq 600); do [[ -s $WORK/endpoint ]] && break; sleep 0.05; done
    [[ -s $WORK/endpoint ]] || { echo "the server did not start" >&2; exit 1; }
    export AWS_ENDPOINT_URL=$(head -n1 "$WORK/endpoint")
    : >"$WORK/fresh" && : >"$WORK/resumed"
    for run in $(seq "$RUNS"); do
        t=$(upload "fresh-$run" "$WORK/fresh.log")
        echo "$t $(sent "$WORK/fresh.log")" >>"$WORK/fresh"
        killed "resumed-$run"
        t=$(upload "resumed-$run" "$WORK/resumed.log")
        if ! grep -q "resuming the interrupted upload" "$WORK/resumed.log"; then
            # Seen now and then: the killed run left no log and nothing to resume. Not counted.
            echo "run $run ($model): nothing was resumed; skipped" >&2
            continue
        fi
        kept=$(grep -o '[0-9]* of [0-9]* parts' "$WORK/resumed.log" | head -n1)
        echo "$t $(sent "$WORK/resumed.log") $kept" >>"$WORK/resumed"
        for r in "fresh-$run" "resumed-$run"; do
            "$S3BLOB" delete -q --suite bench --release "$r" --all --yes >/dev/null
        done
    done
    fs=$(cut -d' ' -f1 "$WORK/fresh" | median)
    rs=$(cut -d' ' -f1 "$WORK/resumed" | median)
    fb=$(cut -d' ' -f2 "$WORK/fresh" | median)
    rb=$(cut -d' ' -f2 "$WORK/resumed" | median)
    kept=$(cut -d' ' -f3 "$WORK/resumed" | median)
    printf '%-6s %10.3f %10.3f %12.1f %12.1f %7.0f%% %7.0f%% %s of %s parts kept (median)\n' \
        "$model" "$fs" "$rs" "$(echo "$fb / 1048576" | bc -l)" "$(echo "$rb / 1048576" | bc -l)" \
        "$(echo "100 * $rs / $fs" | bc -l)" "$(echo "100 * $rb / $fb" | bc -l)" "$kept" "$PARTS"
    kill "$pid" && wait "$pid" 2>/dev/null || true
    pid=
done
