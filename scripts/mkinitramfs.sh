#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh ARCH KBUILD MODDIR OUT: the guest's initramfs: busybox,
# tests/init as /init, the kernel's modules and ours (installed with depmod,
# so 'modprobe' works), the repository's tests/ as /tests, and the static
# guest tools for ARCH as /usr/bin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
arch=$1 kbuild=$2 mo=$3 out=$4

case $arch in
x86_64) busybox=/bin/busybox ;;
arm) busybox=$CACHE/dl/busybox-armhf ;;
esac
[ -x "$busybox" ] || die "no busybox for $arch at $busybox (run 'make setup')"

root=$(mktemp -d "$CACHE/initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
# Interrupted or timed out: exit, so that the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root,host,usr/bin,usr/sbin,lib/modules}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$repo/tests/init" "$root/init"
chmod +x "$root/init"
echo "$arch" >"$root/etc/kt298-machine"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
cp -r "$repo/tests" "$root/tests"

kmake() { make -s -C "$kbuild" ARCH="$arch" LLVM="$LLVM_SUFFIX" INSTALL_MOD_PATH="$root" INSTALL_MOD_STRIP=1 "$@"; }
kmake modules_install >/dev/null
kmake M="$repo" MO="$mo" CLIPPY=1 RUSTFLAGS_MODULE=-Dwarnings modules_install >/dev/null
rm -f "$root"/lib/modules/*/build "$root"/lib/modules/*/source

if [ -d "$RUN/guest-tools/$arch" ]; then
	cp "$RUN/guest-tools/$arch"/* "$root/usr/bin/" 2>/dev/null || true
fi

(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner 0:0 --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
