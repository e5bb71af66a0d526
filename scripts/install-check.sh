#!/usr/bin/env bash
# install.sh end to end, the way a user runs it, against a release directory served over HTTP:
#
#   scripts/install-check.sh BINARY
#
# BINARY is a Linux x86_64 s3blob (the static musl one of scripts/musl.sh). The check packages
# it with scripts/package.sh into a release directory, serves that with Python's http.server on
# a free loopback port, and runs install.sh (with /bin/sh, from an empty environment):
#   - the latest release (no --version) into ~/.local/bin, then the installed `s3blob --version`;
#   - --version X --to DIR;
#   - a SHA256SUMS that does not match the archive: exit 3, one clear line, nothing installed;
#   - an operating system and a CPU without a prebuilt binary: exit 2, one clear line each.
# Prints the seconds from a bare shell to a working `s3blob --version`.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:?usage: scripts/install-check.sh BINARY}
BIN=$(realpath "$BIN")

log() { printf '[install-check] %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

work=$(mktemp -d)
server=
trap '[[ -n $server ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

version=$("$BIN" --version | awk '{ print $2 }')
[[ -n $version ]] || fail "$BIN --version printed no version"
target=x86_64-unknown-linux-musl
"$REPO/scripts/package.sh" "$version" "$target" "$BIN" "$work/release" >/dev/null
# A second release whose SHA256SUMS does not match its archive.
mkdir "$work/bad"
cp "$work/release/s3blob-$version-$target.tar.gz" "$work/bad/"
wrong=$(printf 'other bytes' | sha256sum | cut -d' ' -f1)
sed "s/^[0-9a-f]\{64\}/$wrong/" "$work/release/SHA256SUMS" >"$work/bad/SHA256SUMS"
cmp -s "$work/release/SHA256SUMS" "$work/bad/SHA256SUMS" && fail "the bad SHA256SUMS is not different"

python3 -c '
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.func.log_message = lambda *a: None
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()' "$work" >"$work/port" &
server=$!
for _ in $(seq 200); do [[ -s $work/port ]] && break; sleep 0.05; done
[[ -s $work/port ]] || fail "the HTTP server did not start"
url=http://127.0.0.1:$(cat "$work/port")
log "release $version served at $url/release"

# A bare shell: nothing from this environment but the system's PATH.
bare() { env -i PATH=/usr/bin:/bin HOME="$work/home" "$@"; }
mkdir -p "$work/home"

# 1. The latest release, the default place; the time a user waits for a working binary.
t0=$EPOCHREALTIME
bare sh "$REPO/install.sh" --base-url "$url/release" 2>"$work/err" || fail "install.sh: $(cat "$work/err")"
out=$(bare "$work/home/.local/bin/s3blob" --version) || fail "the installed s3blob --version failed"
t1=$EPOCHREALTIME
[[ $out == "s3blob $version" ]] || fail "the installed s3blob says '$out'"
grep -q "installed s3blob $version ($target) to $work/home/.local/bin/s3blob" "$work/err" || fail "install.sh said: $(cat "$work/err")"
cmp -s "$BIN" "$work/home/.local/bin/s3blob" || fail "the installed binary is not the packaged one"
log "ok: latest release into ~/.local/bin; s3blob --version works after $(printf '%.2f' "$(bc <<<"$t1 - $t0")") s"

# 2. A named version into a named directory.
bare sh "$REPO/install.sh" --version "v$version" --to "$work/tools/bin" --base-url "$url/release" 2>"$work/err" ||
    fail "install.sh --version --to: $(cat "$work/err")"
[[ $("$work/tools/bin/s3blob" --version) == "s3blob $version" ]] || fail "--to: the installed binary"
log "ok: --version v$version --to DIR"

# 3. A checksum that does not match: refused, nothing installed.
set +e
bare sh "$REPO/install.sh" --to "$work/refused" --base-url "$url/bad" 2>"$work/err"
code=$?
set -e
[[ $code == 3 ]] || fail "a wrong checksum: exit $code, want 3: $(cat "$work/err")"
grep -q "error: checksum mismatch for s3blob-$version-$target.tar.gz: .*nothing installed" "$work/err" ||
    fail "a wrong checksum: $(cat "$work/err")"
[[ ! -e $work/refused/s3blob ]] || fail "a wrong checksum left $work/refused/s3blob"
[[ -z $(ls -A "$work/refused" 2>/dev/null) ]] || fail "a wrong checksum left files: $(ls -A "$work/refused")"
log "ok: wrong checksum refused (exit 3): $(grep error "$work/err")"

# 4. Platforms without a binary: uname answers what another machine would.
mkdir "$work/fake"
for answer in "FreeBSD x86_64" "Linux riscv64"; do
    read -r os cpu <<<"$answer"
    # shellcheck disable=SC2016 # $1 is the fake uname's own argument
    printf '#!/bin/sh\n[ "$1" = -s ] && echo %s || echo %s\n' "$os" "$cpu" >"$work/fake/uname"
    chmod +x "$work/fake/uname"
    set +e
    env -i PATH="$work/fake:/usr/bin:/bin" HOME="$work/home2" sh "$REPO/install.sh" --base-url "$url/release" 2>"$work/err"
    code=$?
    set -e
    [[ $code == 2 ]] || fail "platform $answer: exit $code, want 2: $(cat "$work/err")"
    grep -q "error: no prebuilt s3blob for the .*cargo install --locked --git " "$work/err" || fail "platform $answer: $(cat "$work/err")"
    [[ ! -e $work/home2 ]] || fail "platform $answer: something was installed"
    log "ok: $answer refused (exit 2): $(cat "$work/err")"
done
log "all install checks passed"
