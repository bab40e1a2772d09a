# SPDX-License-Identifier: GPL-2.0
# Shared settings for the suite's scripts. Sourced, not run.

CACHE=${KT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kt298}
BINDGEN_VERSION=0.72.1
KSRC_PKG=linux-source-7.2
# clang 22: the LLVM major of rustc 1.95, so that Rust code can inline the kernel's C helpers
# (CONFIG_RUST_INLINE_HELPERS). KT_LLVM=-19 (or another suffix) builds with another clang,
# e.g. to build modules against a kernel you built with it.
LLVM_SUFFIX=${KT_LLVM:--22}
export LIBCLANG_PATH=/usr/lib/llvm${LLVM_SUFFIX}/lib
export PATH="$HOME/.cargo/bin:$PATH"

# The kernel flavour: debug (the test kernel, with KASAN, lockdep and kmemleak on x86_64) or
# release (x86_64 only, no debugging options: for benchmarks closer to real hardware).
KT_FLAVOUR=${KT_FLAVOUR:-debug}
# kt_build ARCH: the name of ARCH's kernel build in this flavour (under $CACHE/build).
kt_build() {
	if [ "$KT_FLAVOUR" = release ]; then echo "$1-release"; else echo "$1"; fi
}

log() { printf '[kt298] %s\n' "$*" >&2; }
warn() { printf '[kt298] warning: %s\n' "$*" >&2; }
die() { printf '[kt298] error: %s\n' "$*" >&2; exit 1; }

# Per-checkout directory for initramfs images and guest logs, so that several
# checkouts (git worktrees) can run side by side.
KT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$CACHE/run/$(printf '%s' "$KT_REPO" | sha256sum | cut -c1-12)

# Cargo's build directory for tools/. Clones share one (CI's fresh clones build
# incrementally); linked git worktrees get their own, because cargo tracks a
# package's sources by absolute path and would take another worktree's build of
# the same package for up to date.
# KT_CARGO_TARGET= from the environment picks another (a clone whose tools differ from
# the others', so that its kt298-report does not replace theirs).
if [ -z "${KT_CARGO_TARGET:-}" ]; then
	KT_CARGO_TARGET=$CACHE/cargo-target
	[ -f "$KT_REPO/.git" ] && KT_CARGO_TARGET=$CACHE/cargo-target-${RUN##*/}
fi
export CARGO_TARGET_DIR=$KT_CARGO_TARGET

# The host tools (tools/), built once into the cache.
REPORT=$KT_CARGO_TARGET/release/kt298-report
build_host_tools() {
	(cd "$KT_REPO/tools" && cargo build --quiet --release --locked -p kt298-report) ||
		die "building the host tools failed"
}

# kt_tree KSRC: the grafted tree for KSRC and this checkout. Clones share one
# tree per source (so CI's fresh clones build incrementally); linked git
# worktrees get their own, so they can build side by side. A tree that is a
# symbolic link is resolved: the kernel's build records real paths.
kt_tree() {
	local key
	key=$(cd "$1" 2>/dev/null && pwd || echo "$1")
	[ -f "$KT_REPO/.git" ] && key="$key
$KT_REPO"
	local tree=$CACHE/tree/$(printf '%s' "$key" | sha256sum | cut -c1-12)
	mkdir -p "$CACHE/tree"
	[ -L "$tree" ] && tree=$(readlink -f "$tree")
	echo "$tree"
}

# kt_lock NAME: hold an exclusive lock on NAME (in the cache) until the
# script exits, so two checkouts sharing a tree don't build it at once.
kt_lock() {
	mkdir -p "$CACHE/locks"
	exec 9>"$CACHE/locks/$1"
	flock 9
}

# kt_prepare ARCH INITRD: build what a boot of ARCH needs, in this flavour: the kernel, our
# modules, the static guest tools and the initramfs INITRD (with both sets of modules and
# tests/). Sets KB (the kernel's build directory) and MO (our modules' output directory).
# Returns non-zero at the first step that fails, whose messages are on stderr; each step is
# checked here, as set -e does not apply in a function called as a condition
# ('if ! kt_prepare ...').
kt_prepare() {
	local arch=$1 initrd=$2 s
	s=$(dirname "${BASH_SOURCE[0]}")
	KB=$("$s/build-kernel.sh" "$arch") || return
	MO=$("$s/build-modules.sh" "$arch") || return
	"$s/build-guest-tools.sh" "$arch" || return
	mkdir -p "$(dirname "$initrd")" || return
	"$s/mkinitramfs.sh" "$arch" "$KB" "$MO" "$initrd"
}

# section NAME CMD...: run CMD and frame its output as the report's section NAME, with its
# exit status. A failing CMD is reported in the section and does not end the caller (set -e
# does not apply to a command whose status is tested).
section() {
	local name=$1 rc=0
	shift
	echo "@@kt298 begin $name"
	"$@" || rc=$?
	echo "@@kt298 end rc=$rc"
}
