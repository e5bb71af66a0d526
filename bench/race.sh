#!/usr/bin/env bash
# Two publishers of one new key at the same moment, against any S3 endpoint: each round
# starts two `s3blob upload`s of different bytes to a new key and counts how they ended.
# With nothing held, what happens is up to the store and the timing: this is the "free" row of
# bench/GUARANTEES.md, for a store the test server cannot play.
#
#   bench/race.sh ENDPOINT BUCKET [ROUNDS] [SIZE_BYTES] [extra upload flags...]
#   bench/race.sh http://127.0.0.1:5000 artifacts 10 12000000 --part-size 5MiB
#
# Credentials and region come from the usual AWS variables. S3BLOB names the binary
# (default: target/release/s3blob, else target/debug/s3blob). Objects go under
# `race-RANDOM/ROUND/f.bin` and are left in place (delete them with `s3blob delete`).
set -euo pipefail
endpoint=${1:?endpoint}
bucket=${2:?bucket}
rounds=${3:-10}
size=${4:-12000000}
shift $(($# < 4 ? $# : 4))
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${S3BLOB:-}
if [ -z "$bin" ]; then
  bin=$here/target/release/s3blob
  [ -x "$bin" ] || bin=$here/target/debug/s3blob
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
suite=race-$RANDOM$RANDOM
both=0 one=0 other=0
for ((r = 0; r < rounds; r++)); do
  for w in a b; do
    mkdir -p "$work/$r/$w"
    head -c "$size" /dev/urandom >"$work/$r/$w/f.bin"
  done
  for w in a b; do
    (cd "$work/$r/$w" && rc=0 && { "$bin" -q --endpoint-url "$endpoint" --bucket "$bucket" \
      upload --suite "$suite" --release "$r" "$@" f.bin >/dev/null 2>err || rc=$?; } &&
      echo "$rc" >code) &
  done
  wait
  codes="$(cat "$work/$r/a/code") $(cat "$work/$r/b/code")"
  case $codes in
  "0 0") both=$((both + 1)) ;;
  "0 6" | "6 0") one=$((one + 1)) ;;
  *)
    other=$((other + 1))
    echo "round $r: exits $codes" >&2
    cat "$work/$r/a/err" "$work/$r/b/err" >&2
    ;;
  esac
done
echo "| endpoint | size | rounds | both exited 0 | one exited 0, the other 6 | other |"
echo "|---|---|---|---|---|---|"
echo "| $endpoint | $size | $rounds | $both | $one | $other |"
