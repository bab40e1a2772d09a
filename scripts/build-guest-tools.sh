#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-guest-tools.sh ARCH: build the static user-space tools that run inside
# the guests (the crates listed in tools/guest-tools, one per line) for ARCH
# and put them in the cache, where mkinitramfs.sh picks them up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
arch=$1
case $arch in
x86_64) target=x86_64-unknown-linux-musl ;;
arm) target=armv7-unknown-linux-gnueabihf ;;
esac
dest=$RUN/guest-tools/$arch
mkdir -p "$dest"
mapfile -t crates < <(grep -v '^#' "$repo/tools/guest-tools" 2>/dev/null | grep .)
[ ${#crates[@]} -gt 0 ] || exit 0
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export RUSTFLAGS="-C target-feature=+crt-static"
args=()
for c in "${crates[@]}"; do args+=(-p "$c"); done
(cd "$repo/tools" && cargo build --quiet --release --locked --target "$target" "${args[@]}")
for c in "${crates[@]}"; do
	cp "$CARGO_TARGET_DIR/$target/release/$c" "$dest/"
done
