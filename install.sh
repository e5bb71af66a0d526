#!/bin/sh
# Installs a prebuilt s3blob for this machine (Linux or macOS, x86_64 or aarch64):
#
#   curl -fsSL https://github.com/s3blob/s3blob/releases/latest/download/install.sh | sh
#   sh install.sh [--version X] [--to DIR] [--base-url URL]
#
#   --version X     the release to install (default: the latest)
#   --to DIR        where to put the binary (default: ~/.local/bin); created if missing
#   --base-url URL  where the release's files are (default: the project's GitHub release
#                   download URL for that version); it must serve SHA256SUMS and
#                   s3blob-VERSION-TARGET.tar.gz
#
# Downloads the archive and SHA256SUMS, checks the archive against its SHA256SUMS line and
# installs nothing when they differ. No sudo: DIR must be writable by you.
# Exit codes: 0 installed; 1 a download failed; 2 bad arguments or a platform without a
# prebuilt binary; 3 the checksum did not match (nothing installed).
set -eu

REPO=s3blob/s3blob
version=
to=${HOME:-}/.local/bin
base_url=

say() { printf 's3blob-install: %s\n' "$*" >&2; }
die() { code=$1; shift; say "error: $*"; exit "$code"; }

while [ $# -gt 0 ]; do
    case $1 in
    --version) [ $# -ge 2 ] || die 2 "--version needs a value, such as --version 1.4.1"; version=${2#v}; shift 2 ;;
    --version=*) version=${1#--version=}; version=${version#v}; shift ;;
    --to) [ $# -ge 2 ] || die 2 "--to needs a directory"; to=$2; shift 2 ;;
    --to=*) to=${1#--to=}; shift ;;
    --base-url) [ $# -ge 2 ] || die 2 "--base-url needs a URL"; base_url=$2; shift 2 ;;
    --base-url=*) base_url=${1#--base-url=}; shift ;;
    -h | --help) sed -n '2,16p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die 2 "unknown argument '$1' (options: --version X, --to DIR, --base-url URL)" ;;
    esac
done
[ -n "$to" ] || die 2 "no HOME to install under: pass --to DIR"

os=$(uname -s)
arch=$(uname -m)
case $os in
Linux) os_part=unknown-linux-musl ;;
Darwin) os_part=apple-darwin ;;
MINGW* | MSYS* | CYGWIN* | Windows_NT) die 2 "on Windows, use install.ps1 (PowerShell): irm https://github.com/$REPO/releases/latest/download/install.ps1 | iex" ;;
*) die 2 "no prebuilt s3blob for the operating system '$os' (Linux and macOS have one); build it from source: cargo install --locked --git https://github.com/$REPO s3blob" ;;
esac
case $arch in
x86_64 | amd64) arch_part=x86_64 ;;
aarch64 | arm64) arch_part=aarch64 ;;
*) die 2 "no prebuilt s3blob for the CPU '$arch' on $os (x86_64 and aarch64 have one); build it from source: cargo install --locked --git https://github.com/$REPO s3blob" ;;
esac
target=$arch_part-$os_part

if [ -z "$base_url" ]; then
    if [ -n "$version" ]; then
        base_url=https://github.com/$REPO/releases/download/v$version
    else
        base_url=https://github.com/$REPO/releases/latest/download
    fi
fi
base_url=${base_url%/}

if command -v curl >/dev/null 2>&1; then
    fetch() { curl -fsSL --retry 3 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
    fetch() { wget -q -O "$2" "$1"; }
else
    die 2 "needs curl or wget to download"
fi
if command -v sha256sum >/dev/null 2>&1; then
    sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
    sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
    die 2 "needs sha256sum or shasum to check the download"
fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t s3blob)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

fetch "$base_url/SHA256SUMS" "$tmp/SHA256SUMS" || die 1 "could not download $base_url/SHA256SUMS"
if [ -n "$version" ]; then
    archive=s3blob-$version-$target.tar.gz
else
    # The latest release: its SHA256SUMS names the archive, and so the version.
    archive=$(sed -n "s/^[0-9a-f]\{64\}  \(s3blob-[^ ]*-$target\.tar\.gz\)\$/\1/p" "$tmp/SHA256SUMS" | head -n 1)
    [ -n "$archive" ] || die 1 "$base_url/SHA256SUMS lists no archive for $target"
    version=${archive#s3blob-}
    version=${version%-"$target".tar.gz}
fi
want=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")
[ -n "$want" ] || die 1 "$base_url/SHA256SUMS has no line for $archive (is $version a release with a $target build?)"

say "downloading $base_url/$archive"
fetch "$base_url/$archive" "$tmp/$archive" || die 1 "could not download $base_url/$archive"
got=$(sha256 "$tmp/$archive")
if [ "$got" != "$want" ]; then
    die 3 "checksum mismatch for $archive: SHA256SUMS says $want, the download is $got; nothing installed"
fi

(cd "$tmp" && tar -xzf "$archive") || die 1 "could not unpack $archive"
bin=$tmp/s3blob-$version-$target/s3blob
[ -f "$bin" ] || die 1 "$archive holds no s3blob-$version-$target/s3blob"
mkdir -p "$to" || die 2 "cannot create $to (choose another with --to DIR)"
# Copied next to its place, then renamed: a running s3blob or a half-copied file is never seen.
cp "$bin" "$to/.s3blob.tmp.$$" || die 2 "cannot write to $to (choose another with --to DIR)"
chmod 755 "$to/.s3blob.tmp.$$"
mv -f "$to/.s3blob.tmp.$$" "$to/s3blob" || { rm -f "$to/.s3blob.tmp.$$"; die 2 "cannot write $to/s3blob"; }
say "installed s3blob $version ($target) to $to/s3blob"
case :${PATH:-}: in
*:"$to":*) ;;
*) say "$to is not on PATH; add it: export PATH=\"$to:\$PATH\"" ;;
esac
