#!/bin/sh
# Installs the Debian packages crumb needs to build, run and test; a no-op when all are present.
set -eu

PKGS="build-essential pkg-config git ca-certificates
libarchive-dev libelf-dev zlib1g-dev libext2fs-dev e2fsprogs libzstd-dev libseccomp-dev
libcurl4-openssl-dev docker-registry openssl
musl-tools
qemu-system-x86
linux-source-6.1 bc flex bison libssl-dev xz-utils kmod cpio
curl python3 dropbear-bin libjansson-dev skopeo busybox-static openssh-client redis-server redis-tools
genext2fs e2tools time attr procps passt clang-format patch
mmdebstrap fakechroot fakeroot zstd"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "crumb: installing Debian packages:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "crumb: need root to install:$missing (no sudo found)" >&2
		exit 1
	}
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
# docker-registry is here for the tests, which start their own on 127.0.0.1; the package also
# starts a system service listening on every address (:5000). When this script installed it,
# that service is stopped and disabled (one that was there before is left alone).
case " $missing " in
*" docker-registry "*)
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
		echo "crumb: stopping and disabling the docker-registry system service (the tests start their own)" >&2
		$SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
	fi
	;;
esac
