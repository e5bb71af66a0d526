#!/usr/bin/env bash
# Round trips through a real proxy, tinyproxy (Debian package `tinyproxy`), when it is
# installed: the bundled S3 server on 127.0.0.1, an upload and a download through each of
# HTTP_PROXY, http_proxy and ALL_PROXY (checked in tinyproxy's own log), NO_PROXY bypassing it,
# and a proxy that demands credentials (407 without them, success with them in the URL).
# Skips (exit 0) when tinyproxy is missing. Uses the debug build: `cargo build` first, or let
# this script build it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tinyproxy >/dev/null; then
    echo "proxy-check: tinyproxy not installed; skipped (apt-get install tinyproxy)"
    exit 0
fi
cargo build -q -p s3blob -p s3blob-testserver
bin="$(cd "${CARGO_TARGET_DIR:-target}/debug" && pwd)"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=proxy-check-key AWS_SECRET_ACCESS_KEY=proxy-check-secret
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true S3BLOB_BUCKET=artifacts
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE HTTPS_PROXY https_proxy \
    HTTP_PROXY http_proxy ALL_PROXY all_proxy NO_PROXY no_proxy
: >"$work/aws-config"
: >"$work/aws-credentials"
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"

"$bin/s3blob-testserver" --memory --bucket artifacts >"$work/endpoint" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/endpoint" ] && break; sleep 0.05; done
export AWS_ENDPOINT_URL="$(head -n1 "$work/endpoint")"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_tinyproxy NAME [EXTRA CONFIG LINE]: prints the proxy's port; its log is $work/NAME.log.
start_tinyproxy() {
    local name="$1" port
    port="$(free_port)"
    {
        echo "Port $port"
        echo "Listen 127.0.0.1"
        echo "Timeout 60"
        echo "LogLevel Connect"
        echo "LogFile \"$work/$name.log\""
        echo "MaxClients 100"
        echo "Allow 127.0.0.1"
        [ -n "${2:-}" ] && echo "$2"
    } >"$work/$name.conf"
    tinyproxy -d -c "$work/$name.conf" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
    echo "$port"
}

head -c $((12 * 1024 * 1024)) /dev/urandom >"$work/app.bin"
round_trip() { # RELEASE: upload and download app.bin, compare
    "$bin/s3blob" -q upload --suite proxied --release "$1" --part-size 5MiB "$work/app.bin" >/dev/null
    "$bin/s3blob" -q download --suite proxied --release "$1" --filename app.bin -o "$work/back.bin" >/dev/null
    cmp "$work/app.bin" "$work/back.bin"
    rm -f "$work/back.bin"
}

port="$(start_tinyproxy open)"
proxy="http://127.0.0.1:$port"
n=0
for var in HTTP_PROXY http_proxy ALL_PROXY; do
    n=$((n + 1))
    before="$(grep -c 'Request (file descriptor' "$work/open.log" || true)"
    env "$var=$proxy" bash -c "$(declare -f round_trip); bin='$bin' work='$work' round_trip $n"
    after="$(grep -c 'Request (file descriptor' "$work/open.log" || true)"
    echo "proxy-check: $var: $((after - before)) requests through tinyproxy"
    [ "$after" -gt "$before" ] || { echo "proxy-check: $var was not honoured"; exit 1; }
done
grep -m3 'Request (file descriptor' "$work/open.log" | sed 's/^/    tinyproxy log: /' || true

before="$(grep -c 'Request (file descriptor' "$work/open.log" || true)"
HTTP_PROXY="$proxy" NO_PROXY=127.0.0.1 bash -c "$(declare -f round_trip); bin='$bin' work='$work' round_trip bypass"
after="$(grep -c 'Request (file descriptor' "$work/open.log" || true)"
[ "$after" -eq "$before" ] || { echo "proxy-check: NO_PROXY was not honoured"; exit 1; }
echo "proxy-check: NO_PROXY=127.0.0.1: 0 requests through tinyproxy"

port="$(start_tinyproxy auth 'BasicAuth builder s3cret')"
set +e
HTTP_PROXY="http://127.0.0.1:$port" "$bin/s3blob" -q upload --suite proxied --release auth "$work/app.bin" 2>"$work/err"
code=$?
set -e
echo "proxy-check: without credentials: exit $code: $(cat "$work/err")"
[ "$code" -eq 9 ] || exit 1
HTTP_PROXY="http://builder:s3cret@127.0.0.1:$port" bash -c "$(declare -f round_trip); bin='$bin' work='$work' round_trip auth"
echo "proxy-check: with credentials in HTTP_PROXY: ok"
echo "proxy-check: ok"
