#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-kernel.sh ARCH [--prepare]: graft, configure and build the guest kernel for ARCH
# (x86_64 or arm) out of tree under the cache. Prints the build directory.
# --prepare stops at 'modules_prepare' (the kernel crate and what external modules are
# compiled against, not vmlinux): enough to compile modules, e.g. to check that they build
# without CONFIG_KUNIT; a later full build of the same flavour continues from there.
# KT_FLAVOUR=release builds the x86_64 kernel without debugging options (for
# benchmarks), in a build directory of its own.
#
# The configuration is tinyconfig plus the fragments in configs/; it is only
# regenerated when a fragment changes, so a second run rebuilds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
kt_lock "$(basename "$(kt_tree "${KSRC:-$CACHE/src/linux}")")"
repo=$(cd "$here/.." && pwd)
arch=${1:?usage: build-kernel.sh x86_64|arm [--prepare]}
prepare=${2:-}

case $arch in
x86_64) karch=x86_64; frags=(x86_64 common debug vng); targets=(bzImage modules) ;;
arm) karch=arm; frags=(arm common); targets=(zImage modules allwinner/sun8i-h3-orangepi-pc.dtb) ;;
*) die "unknown ARCH $arch (x86_64 or arm)" ;;
esac
case $KT_FLAVOUR in
debug) ;;
release)
	[ "$arch" = x86_64 ] || die "KT_FLAVOUR=release is for x86_64 (arm has no debug options to drop)"
	frags=(x86_64 common vng release)
	;;
*) die "unknown KT_FLAVOUR $KT_FLAVOUR (debug or release)" ;;
esac

[ "$prepare" = --prepare ] && targets=(modules_prepare)

# KT_SERIES_TREE: build that tree (a kernel with some prefix of 'make patches' applied, for
# series-check.sh) instead of the graft, in a build directory of its own.
if [ -n "${KT_SERIES_TREE:-}" ]; then
	tree=$KT_SERIES_TREE
	out=$CACHE/build/$(kt_build "$arch")-series
else
	tree=$("$here/graft.sh")
	out=$CACHE/build/$(kt_build "$arch")-$(basename "$tree")
fi
mkdir -p "$out"
kmake() { make -s -C "$tree" O="$out" ARCH="$karch" LLVM="$LLVM_SUFFIX" "$@"; }

fragfiles=()
for f in "${frags[@]}"; do fragfiles+=("$repo/configs/$f.config"); done
stamp=$( (echo "LLVM$LLVM_SUFFIX"; cat "${fragfiles[@]}") | sha256sum | cut -c1-64)
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.kt298-config" 2>/dev/null)" != "$stamp" ]; then
	log "configuring $(kt_build "$arch") kernel: tinyconfig + ${frags[*]}"
	kmake tinyconfig >/dev/null
	(cd "$out" && KCONFIG_CONFIG=.config "$tree/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${fragfiles[@]}" >/dev/null)
	kmake olddefconfig >/dev/null
	# Say which requested options did not survive (dependencies not met).
	bad=0
	while IFS= read -r line; do
		opt=${line%%=*}
		val=${line#*=}
		if [ "$val" = n ]; then
			grep -q "^$opt=" "$out/.config" && { warn "$arch: $opt is set, asked for n"; }
		elif ! grep -qx "$line" "$out/.config"; then
			warn "$arch: asked for $line, got: $(grep "^$opt=\|# $opt is not set" "$out/.config" || echo unset)"
			bad=1
		fi
	done < <(cat "${fragfiles[@]}" | grep -E '^CONFIG_[A-Z0-9_]+=' |
		# A later fragment overrides an earlier one: check the last value asked for.
		awk -F= '!($1 in v) { order[n++] = $1 } { v[$1] = $0 } END { for (i = 0; i < n; i++) print v[order[i]] }')
	grep -q '^CONFIG_RUST=y' "$out/.config" || die "$arch: CONFIG_RUST could not be enabled (is 'make rustavailable' happy?)"
	[ $bad = 0 ] || warn "$arch: some options were not applied (see above)"
	echo "$stamp" >"$out/.kt298-config"
fi
log "building $(kt_build "$arch") kernel in $out ($(kmake -s kernelversion))"
# Overlays need the base tree's symbols (-@); from the environment, so that
# the kernel's own DTC_FLAGS still apply.
# Clippy checks the Rust code along the way; our kernel-crate code must have no
# warnings (they show whenever the crate is rebuilt, as it is after any change).
blog=$out/.kt298-build.log
{ DTC_FLAGS=-@ kmake -j"$(($(nproc) + 1))" CLIPPY=1 "${targets[@]}" 2>&1 >&3 3>&- |
	tee "$blog" >&2; } 3>&2
# Ours: the files we add, the upstream files our patches change (platform.rs, say), and
# the generated doctests.
patched=$(cat "$repo"/rust/patches/*.patch | sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' | sort -u)
ours=$(awk '/^(warning|error)/ { w = $0 } / --> / && w { print $2; w = "" }' "$blog" |
	sed 's/:.*//; s|^'"$tree"'/||' | sort -u |
	while read -r f; do
		if [ -e "$repo/$f" ] || [ "${f#rust/doctests_}" != "$f" ] || grep -qxF "$f" <<<"$patched"; then
			echo "$f"
		fi
	done)
[ -z "$ours" ] || die "$arch: Rust warnings in our code (see above): $(echo $ours)"
if [ "$arch" = arm ] && [ "$prepare" != --prepare ]; then
	dtbo=$out/kt298-orangepi-pc.dtbo
	"$out/scripts/dtc/dtc" -q -@ -I dts -O dtb -o "$dtbo" "$repo/boards/orangepi-pc/kt298.dtso"
	"$out/scripts/dtc/fdtoverlay" -i "$out/arch/arm/boot/dts/allwinner/sun8i-h3-orangepi-pc.dtb" \
		-o "$out/kt298-orangepi-pc.dtb" "$dtbo"
fi
echo "$out"
