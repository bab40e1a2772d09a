#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-modules.sh ARCH [make args...]: build the suite's modules (the
# top-level Kbuild) against the guest kernel for ARCH, or against the user's
# built tree in $KDIR. Objects go under the cache (Kbuild's MO=), not into
# the checkout. Prints the module output directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
# Our own kernel's tree is locked while we build against it (a build of it may be under
# way); a KDIR of the user's is not ours to lock.
[ -n "${KDIR:-}" ] || kt_lock "$(basename "$(kt_tree "${KSRC:-$CACHE/src/linux}")")"
repo=$(cd "$here/.." && pwd)
arch=${1:?usage: build-modules.sh x86_64|arm [make args]}
shift
case $arch in x86_64 | arm) ;; *) die "unknown ARCH $arch" ;; esac

if [ -n "${KDIR:-}" ]; then
	kdir=$KDIR
else
	kdir=$(ls -d "$CACHE/build/$(kt_build "$arch")-$(basename "$("$here/graft.sh")")" 2>/dev/null) ||
		die "no $arch kernel built yet: run 'make kernel ARCH=$arch' (or pass KDIR=)"
fi
mo=$CACHE/mod/$arch-$(printf '%s\n%s' "$kdir" "$repo" | sha256sum | cut -c1-12)
mkdir -p "$mo"
# Clippy always, and warnings are errors: a warning fails every build until
# it is fixed, not just the build that first printed it.
make -s -C "$kdir" M="$repo" MO="$mo" ARCH="$arch" LLVM="$LLVM_SUFFIX" CLIPPY=1 RUSTFLAGS_MODULE=-Dwarnings \
	-j"$(($(nproc) + 1))" "$@" modules >&2
echo "$mo"
