#!/bin/sh
# tests/registry/debian-base.sh DIR: makes DIR, an OCI image layout holding debian:bookworm
# (tag bookworm) built from Debian's archive by mmdebstrap, rootless (fakechroot mode, no user
# namespaces), variant apt: what Debian's official image holds. Kept between test runs: when
# DIR/index.json exists this does nothing. Takes about a minute on 2 cores.
set -eu
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$dir/index.json" ] && exit 0
mkdir -p "$(dirname "$dir")"
tmp=$(mktemp -d "$(dirname "$dir")/.debian-base.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} mmdebstrap --quiet --mode=fakechroot \
	--variant=apt bookworm "$tmp/rootfs.tar" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >&2
python3 "$here/tar2layout.py" "$tmp/layout" bookworm "$tmp/rootfs.tar" >/dev/null
rm -f "$tmp/rootfs.tar"
rm -rf "$dir"
mv "$tmp/layout" "$dir"
