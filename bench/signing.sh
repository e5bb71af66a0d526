#!/usr/bin/env bash
# What signing costs: a release of FILES files of 1 KiB (default 10,000) and a release of one
# 1 KiB file, each sealed without and with a signing key (`seal` alone: the files are uploaded
# beforehand, untimed), then fetched with `download --all` without and with a trusted key (the
# same signed release both times, so only the check differs). Runs interleaved, RUNS per case
# (default 5); prints wall-clock medians and minimums, and the manifest's and signature's size.
#
#   bench/signing.sh [RUNS]
#
# Needs target/release/s3blob and target/release/s3blob-testserver
# (cargo build --release --workspace). The store is the bundled server on its file-system
# backend under ${BENCH_TMP:-/tmp} (the manifest's size is read from there).
set -euo pipefail
RUNS=${1:-5}
FILES=${FILES:-10000}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}/release
BIN=$TARGET/s3blob
SERVER=$TARGET/s3blob-testserver
for b in "$BIN" "$SERVER"; do
    [[ -x $b ]] || { echo "build first: cargo build --release --workspace ($b missing)" >&2; exit 1; }
done
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/s3blob-sign.XXXXXX")
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/many" "$WORK/one" "$WORK/store"
for i in $(seq -w 1 "$FILES"); do head -c 1024 /dev/urandom >"$WORK/many/f$i"; done
head -c 1024 /dev/urandom >"$WORK/one/f"

export AWS_ACCESS_KEY_ID=signkey AWS_SECRET_ACCESS_KEY=signsecret0123456789 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true HOME=$WORK
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE RUST_LOG S3BLOB_SIGN_KEY \
    S3BLOB_SIGN_KEY_PASSWORD S3BLOB_TRUSTED_KEYS
"$SERVER" "$WORK/store" --bucket sign >"$WORK/ep" 2>"$WORK/server.err" &
pid=$!
for _ in $(seq 100); do grep -q http "$WORK/ep" 2>/dev/null && break; sleep 0.1; done
export AWS_ENDPOINT_URL=$(head -n1 "$WORK/ep")
"$BIN" -q key generate --out "$WORK/k" --no-password >/dev/null

s3() { (cd "$WORK/$1" && "$BIN" -q --bucket sign "${@:2}" >/dev/null 2>"$WORK/err") ||
    { echo "failed: ${*:2}: $(cat "$WORK/err")" >&2; exit 1; }; }
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
declare -A T
timed() { # LABEL DIR ARGS...
    local label=$1 start end
    shift
    sync
    start=$EPOCHREALTIME
    s3 "$@"
    end=$EPOCHREALTIME
    T[$label]+="$(echo "$end - $start" | bc);"
}
for r in $(seq "$RUNS"); do
    for set in many one; do
        names=$(cd "$WORK/$set" && ls)
        # shellcheck disable=SC2086
        s3 "$set" upload --suite "$set" --release "u$r" $names
        # shellcheck disable=SC2086
        s3 "$set" upload --suite "$set" --release "s$r" $names
        timed "$set seal unsigned" "$set" seal --suite "$set" --release "u$r"
        timed "$set seal signed" "$set" seal --suite "$set" --release "s$r" --sign-key "$WORK/k.key"
        rm -rf "$WORK/down"
        timed "$set download unsigned, no key" "$set" download --suite "$set" --release "u$r" --all -o "$WORK/down"
        rm -rf "$WORK/down"
        timed "$set download signed, no key" "$set" download --suite "$set" --release "s$r" --all -o "$WORK/down"
        rm -rf "$WORK/down"
        timed "$set download signed, trusted key" "$set" download --suite "$set" --release "s$r" --all -o "$WORK/down" --trusted-key "$WORK/k.pub"
    done
done
echo "load average (1, 5, 15 min): $LOAD_BEFORE before the runs, $(cut -d" " -f1-3 /proc/loadavg) after"
for set in many one; do
    n=$FILES; [[ $set == one ]] && n=1
    m=$(stat -c %s "$WORK/store/sign/$set/s1/.s3blob-manifest.json")
    g=$(stat -c %s "$WORK/store/sign/$set/s1/.s3blob-manifest.json.minisig")
    echo "$set: $n x 1 KiB; manifest $m bytes, signature $g bytes; $RUNS runs each (seconds, median / min)"
    for case in "seal unsigned" "seal signed" "download unsigned, no key" "download signed, no key" "download signed, trusted key"; do
        python3 - "$case" "${T[$set $case]}" <<'PY'
import sys, statistics as st
v = [float(x) for x in sys.argv[2].split(';') if x.strip()]
print(f"  {sys.argv[1]:32s} {st.median(v):8.3f} / {min(v):8.3f}")
PY
    done
done
