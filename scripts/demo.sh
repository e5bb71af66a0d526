#!/usr/bin/env bash
# The main job with no AWS account: start the S3-compatible server bundled with the project
# (s3s + s3s-fs, on 127.0.0.1), upload a 64 MiB artifact with s3blob, download it, and show the
# bytes match. Everything lives in a temporary directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> building s3blob and the local test server in release mode"
echo "    (the first build compiles the AWS SDK: 5 to 15 minutes on two cores; cargo shows its progress)"
cargo build --release -p s3blob -p s3blob-testserver
bin="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Throwaway credentials for the local server only; nothing here reaches AWS.
export AWS_ACCESS_KEY_ID=demo-access-key AWS_SECRET_ACCESS_KEY=demo-secret-key
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE
# Empty AWS config files: no profile of this machine takes part.
: >"$work/aws-config"
: >"$work/aws-credentials"
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"

mkdir -p "$work/store/demo-bucket"
"$bin/s3blob-testserver" "$work/store" >"$work/endpoint" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/endpoint" ] && break; sleep 0.05; done
export AWS_ENDPOINT_URL="$(head -n1 "$work/endpoint")"
echo "==> local S3 server at $AWS_ENDPOINT_URL"

head -c $((64 * 1024 * 1024)) /dev/urandom >"$work/myapp-1.0.0.tar.gz"

echo "==> s3blob upload --bucket demo-bucket --suite myapp --release 1.0.0 myapp-1.0.0.tar.gz"
"$bin/s3blob" upload --bucket demo-bucket --suite myapp --release 1.0.0 "$work/myapp-1.0.0.tar.gz"

echo "==> s3blob download --bucket demo-bucket --suite myapp --release 1.0.0 --filename myapp-1.0.0.tar.gz -o downloaded.tar.gz"
"$bin/s3blob" download --bucket demo-bucket --suite myapp --release 1.0.0 \
    --filename myapp-1.0.0.tar.gz -o "$work/downloaded.tar.gz"

cmp "$work/myapp-1.0.0.tar.gz" "$work/downloaded.tar.gz"
echo "==> OK: the downloaded bytes match the uploaded file ($(sha256sum <"$work/downloaded.tar.gz" | cut -c1-16)...)"

# The demo's own files (under a temporary directory) go when it exits; the binaries stay.
cat <<EOF

==> Done; the demo's files are removed. The binaries it built stay in $bin.
    To keep experimenting, install both and follow "A store to try it on" in README.md:
    cargo install --locked --path . && cargo install --locked --path testserver
  or use the built binaries directly: start the bundled server (it prints its URL; Ctrl-C
  stops it; s3blob-testserver --help lists its options) ...
    export AWS_ACCESS_KEY_ID=demo-access-key AWS_SECRET_ACCESS_KEY=demo-secret-key
    $bin/s3blob-testserver --memory --bucket demo-bucket --port 9000
  ... and, in another shell, point s3blob at it:
    export AWS_ENDPOINT_URL=http://127.0.0.1:9000 AWS_REGION=us-east-1
    export AWS_ACCESS_KEY_ID=demo-access-key AWS_SECRET_ACCESS_KEY=demo-secret-key
    export S3BLOB_BUCKET=demo-bucket
    $bin/s3blob upload --suite myapp --release 1.0.0 $bin/s3blob
    $bin/s3blob list --suite myapp --release 1.0.0
EOF
