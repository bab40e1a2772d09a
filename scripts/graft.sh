#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Graft the suite's kernel-crate additions (rust/) into a Linux 7.2 tree.
#
# The pristine source ($KSRC, Debian's linux-source-7.2 by default) is never
# modified: the grafted tree is a hard-link farm of it under the cache, with
# our new files (rust/, include/) copied in and our patches (rust/patches/*.patch)
# applied to private copies of the files they touch: the same content as the
# series 'make patches' writes. Prints the grafted tree's path.
#
# Only files whose content changed are copied, so an unchanged graft leaves
# every timestamp alone and the following kernel build does nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)

ksrc=${KSRC:-$CACHE/src/linux}
[ -f "$ksrc/Makefile" ] || die "no kernel source at $ksrc (run 'make setup', or pass KSRC=<tree>)"
ksrc=$(cd "$ksrc" && pwd)
[ -f "$ksrc/.config" ] && die "$ksrc has a .config: builds here are out of tree (O=), so run 'make mrproper' there first"

tree=$(kt_tree "$ksrc")

# Files we add (everything under rust/ except the patches) and the patches.
mapfile -t files < <(cd "$repo" && find rust include -type f ! -path 'rust/patches/*' | LC_ALL=C sort)
mapfile -t patches < <(cd "$repo" && find rust/patches -name '*.patch' 2>/dev/null | LC_ALL=C sort)

stamp=$( { echo "$ksrc"; printf '%s\n' "${files[@]}"; (cd "$repo" && cat "${patches[@]}" /dev/null); } | sha256sum | cut -c1-64)
if [ "$(cat "$tree/.kt298-graft" 2>/dev/null)" != "$stamp" ]; then
	log "grafting rust/ into a link farm of $ksrc"
	rm -rf "$tree"
	cp -al "$ksrc" "$tree" 2>/dev/null || { rm -rf "$tree"; cp -a "$ksrc" "$tree"; }
	for p in "${patches[@]}"; do
		# Break the hard links of the files a patch touches before patching.
		for f in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$repo/$p"); do
			[ -f "$tree/$f" ] && cp --remove-destination "$tree/$f" "$tree/$f.kt298" && mv "$tree/$f.kt298" "$tree/$f"
		done
		if ! out=$(patch -d "$tree" -p1 --forward --batch --no-backup-if-mismatch <"$repo/$p" 2>&1); then
			printf '%s\n' "$out" >&2
			rm -rf "$tree"
			die "$p does not apply to $ksrc ($(make -s -C "$ksrc" kernelversion 2>/dev/null)): refresh it for this tree"
		fi
	done
fi
for f in "${files[@]}"; do
	if ! cmp -s "$repo/$f" "$tree/$f"; then
		mkdir -p "$(dirname "$tree/$f")"
		cp --remove-destination "$repo/$f" "$tree/$f"
	fi
done
echo "$stamp" >"$tree/.kt298-graft"
echo "$tree"
