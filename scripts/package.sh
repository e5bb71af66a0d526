#!/bin/sh
# Packages one built binary for a release:
#
#   scripts/package.sh VERSION TARGET BINARY OUTDIR
#
# writes OUTDIR/s3blob-VERSION-TARGET.tar.gz (.zip when TARGET is a Windows one) holding the
# directory s3blob-VERSION-TARGET/ with the binary (named s3blob, or s3blob.exe), README.md and
# LICENSE, and appends the archive's line to OUTDIR/SHA256SUMS (the format `sha256sum -c`
# reads). Run once per target into the same OUTDIR; packaging a target again replaces its line.
# The archive's bytes depend only on the inputs (sorted names, fixed owner and times).
# Prints the archive's path. Needs tar and gzip (zip, or python3, for Windows targets), and
# sha256sum or shasum.
set -eu

usage="usage: scripts/package.sh VERSION TARGET BINARY OUTDIR"
[ $# -eq 4 ] || { echo "$usage" >&2; exit 2; }
version=$1 target=$2 binary=$3 outdir=$4
case $version in
'' | v* | */* | *' '*) echo "scripts/package.sh: VERSION must be a bare version such as 1.4.1 (no leading v), not '$version'" >&2; exit 2 ;;
esac
case $target in
*-*-*) ;;
*) echo "scripts/package.sh: TARGET must be a target triple such as x86_64-unknown-linux-musl, not '$target'" >&2; exit 2 ;;
esac
[ -f "$binary" ] || { echo "scripts/package.sh: BINARY $binary: no such file" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
name=s3blob-$version-$target
case $target in
*windows*) ext=zip exe=s3blob.exe ;;
*) ext=tar.gz exe=s3blob ;;
esac
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
archive=$name.$ext

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "$binary" "$stage/$name/$exe"
chmod 755 "$stage/$name/$exe"
cp "$repo/README.md" "$repo/LICENSE" "$stage/$name/"
rm -f "$outdir/$archive"
if [ "$ext" = zip ]; then
    if command -v zip >/dev/null; then
        (cd "$stage" && find "$name" -exec touch -t 198001010000 {} + && zip -qrX "$outdir/$archive" "$name")
    else
        (cd "$stage" && python3 - "$outdir/$archive" "$name" <<'PY'
import os, sys, zipfile
out, top = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for f in sorted(os.listdir(top)):
        info = zipfile.ZipInfo(f"{top}/{f}", (1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(os.path.join(top, f), "rb") as fh:
            z.writestr(info, fh.read())
PY
        )
    fi
else
    # GNU tar: reproducible entries; another tar (macOS's bsdtar) writes a plain archive.
    if tar --version 2>/dev/null | grep -q 'GNU tar'; then
        (cd "$stage" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='1980-01-01 00:00Z' \
            -cf - "$name") | gzip -n >"$outdir/$archive"
    else
        (cd "$stage" && tar -cf - "$name") | gzip -n >"$outdir/$archive"
    fi
fi

if command -v sha256sum >/dev/null; then
    sum=$(cd "$outdir" && sha256sum "$archive")
else
    sum=$(cd "$outdir" && shasum -a 256 "$archive")
fi
sums=$outdir/SHA256SUMS
if [ -f "$sums" ]; then
    grep -v "  $archive\$" "$sums" >"$stage/sums" || true
    cat "$stage/sums" >"$sums"
fi
echo "$sum" >>"$sums"
echo "$outdir/$archive"
