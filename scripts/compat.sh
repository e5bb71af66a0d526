#!/usr/bin/env bash
# Compatibility scenario: the s3blob binary against any S3-compatible endpoint, the way a user
# runs it. Round trips (one PUT, multipart, stdin/stdout), the overwrite rules, list, latest,
# stat, presign, seal, verify, promote, delete (one file, and whole releases), prune, doctor.
# Every download is compared byte for byte.
#
#   scripts/compat.sh --moto                      install moto's server (a Python venv under
#                                                 target/), start it, run against it, stop it
#   scripts/compat.sh ENDPOINT BUCKET             any store: credentials from the standard AWS
#                                                 chain (environment, profile, ...)
#
# Examples:
#   scripts/compat.sh http://127.0.0.1:9000 artifacts            # MinIO: AWS_ACCESS_KEY_ID=minioadmin ...
#   scripts/compat.sh http://127.0.0.1:3900 artifacts            # Garage (AWS_REGION=garage)
#   scripts/compat.sh aws my-bucket                              # AWS S3 itself (no custom endpoint)
#
# The bucket must exist; everything is written under the suite `s3blob-compat-RUN` and deleted
# at the end. S3BLOB (default target/debug/s3blob, built if missing) picks the binary.
# Exit 0 when every step passed; the first failure stops the run with the step named.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
S3BLOB=${S3BLOB:-$REPO/target/debug/s3blob}

log() { printf '[compat %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

MOTO_PID=
cleanup() {
    if [[ -n ${SUITE:-} && -n ${ENDPOINT_SET:-} ]]; then
        for r in 1.0 1.1 1.1-stable 2.0; do
            s3 delete --suite "$SUITE" --release "$r" --all --yes >/dev/null 2>&1 || true
        done
    fi
    [[ -n $MOTO_PID ]] && kill "$MOTO_PID" 2>/dev/null || true
    [[ -n ${WORK:-} ]] && rm -rf "$WORK"
}
trap cleanup EXIT

start_moto() {
    local venv=$REPO/target/moto-venv port=${MOTO_PORT:-5055}
    if [[ ! -x $venv/bin/moto_server ]]; then
        log "installing moto's server into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q 'moto[server]'
    fi
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
    MOTO_PID=$!
    for _ in $(seq 100); do
        kill -0 "$MOTO_PID" 2>/dev/null || fail "moto's server did not start (port $port taken? MOTO_PORT picks another): $(tail -3 "$WORK/moto.log")"
        curl_ok "http://127.0.0.1:$port/" && break
        sleep 0.1
    done
    # moto checks no signature: any key works. The bucket is made with moto's own boto3.
    export AWS_ACCESS_KEY_ID=compat AWS_SECRET_ACCESS_KEY=compat-secret AWS_REGION=us-east-1
    "$venv/bin/python" - "$port" <<'EOF'
import sys, boto3
boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}").create_bucket(Bucket="compat")
EOF
    ENDPOINT=http://127.0.0.1:$port
    BUCKET=compat
    log "moto $("$venv/bin/pip" show moto 2>/dev/null | awk '/^Version/ {print $2}') on $ENDPOINT"
}

curl_ok() { python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" >/dev/null 2>&1; }

WORK=$(mktemp -d)
case ${1:-} in
--moto) start_moto ;;
"" | -h | --help)
    sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
*)
    ENDPOINT=$1
    BUCKET=${2:?usage: scripts/compat.sh ENDPOINT BUCKET}
    ;;
esac
[[ -x $S3BLOB ]] || (cd "$REPO" && cargo build --locked --quiet --bin s3blob)
S3BLOB=$(realpath "$S3BLOB")
SUITE=s3blob-compat-$$
ENDPOINT_SET=1
EP_ARGS=()
[[ $ENDPOINT != aws ]] && EP_ARGS=(--endpoint-url "$ENDPOINT")

s3() { "$S3BLOB" --bucket "$BUCKET" "${EP_ARGS[@]}" "$@"; }

# step NAME EXPECTED_EXIT CMD...: runs CMD, checks its exit code, keeps its stdout in $OUT.
step() {
    local name=$1 want=$2
    shift 2
    set +e
    OUT=$("$@" 2>"$WORK/stderr")
    local code=$?
    set -e
    if [[ $code != "$want" ]]; then
        fail "$name: exit $code, want $want; stderr: $(tail -3 "$WORK/stderr")"
    fi
    log "ok: $name"
}

same() { cmp -s "$1" "$2" || fail "$3: the bytes differ"; }

cd "$WORK"
head -c 1000 /dev/urandom >small.txt
head -c $((12 * 1024 * 1024 + 17)) /dev/urandom >big.bin
head -c $((11 * 1024 * 1024)) /dev/urandom >stream.bin

step "upload one small file (one PUT)" 0 s3 upload --suite "$SUITE" --release 1.0 small.txt
[[ $OUT == "s3://$BUCKET/$SUITE/1.0/small.txt" ]] || fail "upload printed $OUT"
step "upload a multipart file (5 MiB parts)" 0 s3 upload --suite "$SUITE" --release 1.0 --part-size 5MiB big.bin
upload_stdin() { s3 upload --suite "$SUITE" --release 1.0 --part-size 5MiB --filename stream.bin - <stream.bin; }
step "upload from stdin (multipart)" 0 upload_stdin

mkdir -p dl
step "download the small file" 0 s3 download --suite "$SUITE" --release 1.0 --filename small.txt -o dl/
same small.txt dl/small.txt "small round trip"
step "download the multipart file (ranged GETs)" 0 s3 download --suite "$SUITE" --release 1.0 --filename big.bin -o dl/ --part-size 5MiB
same big.bin dl/big.bin "multipart round trip"
download_stdout() { s3 download --suite "$SUITE" --release 1.0 --filename stream.bin -o - >dl/stream.out; }
step "download to stdout" 0 download_stdout
same stream.bin dl/stream.out "stdin/stdout round trip"

step "identical re-upload is success" 0 s3 upload --suite "$SUITE" --release 1.0 small.txt
mkdir -p other && head -c 1000 /dev/urandom >other/small.txt
step "different bytes to a taken key: exit 6" 6 s3 upload --suite "$SUITE" --release 1.0 other/small.txt
step "--overwrite replaces it" 0 s3 upload --suite "$SUITE" --release 1.0 --overwrite other/small.txt
step "download the replacement" 0 s3 download --suite "$SUITE" --release 1.0 --filename small.txt -o dl/replaced.txt
same other/small.txt dl/replaced.txt "overwrite"

step "upload and seal release 1.1" 0 s3 upload --seal --suite "$SUITE" --release 1.1 small.txt big.bin --part-size 5MiB
step "upload into a sealed release: exit 6" 6 s3 upload --suite "$SUITE" --release 1.1 stream.bin
step "an open release 2.0" 0 s3 upload --suite "$SUITE" --release 2.0 small.txt
step "list releases" 0 s3 list --suite "$SUITE"
grep -q '1.1' <<<"$OUT" && grep -q '2.0' <<<"$OUT" || fail "list --suite: $OUT"
step "list files" 0 s3 list --suite "$SUITE" --release 1.1
[[ $(wc -l <<<"$OUT") == 2 ]] || fail "list --release 1.1: $OUT"
step "latest is the highest sealed release" 0 s3 download --suite "$SUITE" --release latest --all -o dl/latest
same big.bin dl/latest/big.bin "latest"
[[ ! -e dl/latest/stream.bin ]] || fail "latest fetched a file of an open release"
step "verify the sealed release" 0 s3 verify --suite "$SUITE" --release 1.1 --deep
step "promote the sealed release on the server" 0 s3 promote --suite "$SUITE" --release 1.1 --to-release 1.1-stable --part-size 5MiB
step "download the promoted release" 0 s3 download --suite "$SUITE" --release 1.1-stable --all -o dl/promoted
same big.bin dl/promoted/big.bin "promote"
step "delete the promoted release" 0 s3 delete --suite "$SUITE" --release 1.1-stable --all --yes
step "stat" 0 s3 stat --suite "$SUITE" --release 1.1 --filename big.bin --json
grep -q '"size":12582929' <<<"$OUT" || fail "stat: $OUT"
step "presign" 0 s3 presign --suite "$SUITE" --release 1.0 --filename big.bin --expires 5m
python3 -c 'import sys,urllib.request; open(sys.argv[2],"wb").write(urllib.request.urlopen(sys.argv[1]).read())' "$OUT" dl/presigned.bin ||
    fail "fetching the presigned URL"
same big.bin dl/presigned.bin "presigned GET"
step "delete a file of an open release" 0 s3 delete --suite "$SUITE" --release 2.0 --filename small.txt --yes
step "stat of a deleted file: exit 3" 3 s3 stat --suite "$SUITE" --release 2.0 --filename small.txt
step "prune --dry-run names the old release, keeps the newest" 0 s3 prune --suite "$SUITE" --keep 1 --open-grace 0s --dry-run --json
grep -q '"would_remove":\[{[^]]*"release":"1.0"' <<<"$OUT" || fail "prune --dry-run: $OUT"
grep -q '"release":"1.1","why":"among the newest 1' <<<"$OUT" || fail "prune --dry-run: $OUT"
step "prune removes the old release" 0 s3 prune --suite "$SUITE" --keep 1 --open-grace 0s --yes
[[ $OUT == "s3://$BUCKET/$SUITE/1.0/ (open, 3 object(s) deleted)" ]] || fail "prune: $OUT"
step "delete a sealed release whole (manifest first)" 0 s3 delete --suite "$SUITE" --release 1.1 --all --yes
[[ $OUT == "s3://$BUCKET/$SUITE/1.1/ (sealed, 3 object(s) deleted)" ]] || fail "delete --all: $OUT"
step "no release is left: list is exit 3" 3 s3 list --suite "$SUITE"

set +e
"$S3BLOB" --bucket "$BUCKET" "${EP_ARGS[@]}" doctor >"$WORK/doctor.txt" 2>"$WORK/stderr"
code=$?
set -e
cat "$WORK/doctor.txt"
[[ $code == 0 || $code == 8 ]] || fail "doctor: exit $code: $(tail -3 "$WORK/stderr")"
log "ok: doctor (exit $code)"
log "all steps passed against $ENDPOINT"
